//! Ingest: records read on a blocking thread (framing, JSON, checks), written in batches on the async side — one
//! transaction per batch holding the batch's people, its records and one `ingest` audit entry, so a killed ingest
//! leaves whole batches only and re-running it completes the rest (every write is an idempotent upsert).

use std::collections::{HashMap, HashSet};
use std::io::BufRead;

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::model::{self, Kind, Record};
use super::reader::{Position, ReadError, RecordReader};
use super::repo::{self, BugRow, TestRow};
use crate::audit::{self, Action, Change};
use crate::principal::AdminScope;
use crate::store::{Store, StoreError, Tx};
use crate::users::{self, Seen, SeenPerson, UserType};

/// Records per transaction by default. Fewer, larger transactions write each randomly placed index page fewer times
/// (measured on 1M generated bug records, SQLite: 100,000 took 23.7 s, 250,000 took 21.4 s; 25,000 took 27.7 s when a
/// batch was read whole before writing), but a batch holds SQLite's one writer while it is written (about 2 s at
/// 100,000). Memory does not grow with it.
pub const DEFAULT_BATCH_SIZE: usize = 100_000;
pub const MAX_BATCH_SIZE: usize = 1_000_000;

/// How to ingest.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions {
    pub kind: Kind,
    /// Write nothing if any record is rejected.
    pub strict: bool,
    /// Records per transaction.
    pub batch_size: usize,
}

/// What became of the records of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecordCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl RecordCounts {
    pub fn total(&self) -> u64 {
        self.inserted + self.updated + self.unchanged
    }
}

/// People created or changed by the ingest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserCounts {
    pub created: u64,
    pub updated: u64,
    /// Accounts of their own (that sign in, or hold a role above `user`) whose username a record names: the records
    /// are linked to them, and the ingest changed nothing of them. Up to 100, by username, with their roles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub linked_accounts: Vec<LinkedAccount>,
}

/// An account a record was linked to, unchanged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct LinkedAccount {
    pub username: String,
    pub role: String,
}

/// Linked accounts named in a report at most.
const LINKED_ACCOUNTS_SHOWN: usize = 100;

/// A record that was not ingested: where it stood and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Rejected {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub position: Position,
    pub reason: String,
}

/// The outcome of an ingest as answered: `{records, bugs|tests: {…}, users: {…}, rejected: […], batches}` (the
/// shape of [`IngestReport`]'s JSON, for the API description).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestSummary {
    /// Records read, rejected ones included.
    pub records: u64,
    /// Present for bug ingests.
    pub bugs: Option<RecordCounts>,
    /// Present for test-cycle ingests.
    pub tests: Option<RecordCounts>,
    pub users: UserCounts,
    pub rejected: Vec<Rejected>,
    /// Transactions committed.
    pub batches: u64,
}

/// The outcome of an ingest: `{records, bugs|tests: {…}, users: {…}, rejected: […]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub kind: Kind,
    /// Records read, rejected ones included.
    pub records: u64,
    pub counts: RecordCounts,
    pub users: UserCounts,
    pub rejected: Vec<Rejected>,
    /// Bytes of input read so far.
    pub bytes: u64,
    /// Batches committed.
    pub batches: u64,
    /// In strict mode: nothing was written because a record was rejected.
    pub rolled_back: bool,
}

impl Serialize for IngestReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("records", &self.records)?;
        map.serialize_entry(self.kind.as_str(), &self.counts)?;
        map.serialize_entry("users", &self.users)?;
        map.serialize_entry("rejected", &self.rejected)?;
        map.serialize_entry("batches", &self.batches)?;
        map.end()
    }
}

impl IngestReport {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            records: 0,
            counts: RecordCounts::default(),
            users: UserCounts::default(),
            rejected: Vec::new(),
            bytes: 0,
            batches: 0,
            rolled_back: false,
        }
    }
}

/// Why an ingest stopped before the end of its input. Batches committed before it stay (none in strict mode).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An ingest that stopped, with what it had done.
#[derive(Debug)]
pub struct IngestFailure {
    pub report: IngestReport,
    pub error: IngestError,
}

/// Records as the reading thread hands them over: checked, with their positions, and the input's byte offset after
/// them.
pub struct Chunk {
    pub records: Vec<(Position, Result<Record, String>)>,
    pub bytes: u64,
}

/// The channel from the reading thread to [`ingest`] and the chunk size to read in. It holds up to 10,000 records, so
/// the next records are read and checked while others are written. Records in memory stay bounded by one write
/// ([`WRITE_SIZE`]) and the channel, whatever the batch or file size; besides them an ingest keeps one entry per
/// (person, day) the open batch touched and up to 200,000 people it has written.
#[allow(clippy::type_complexity)]
pub fn channel(
    batch_size: usize,
) -> (mpsc::Sender<Result<Chunk, ReadError>>, mpsc::Receiver<Result<Chunk, ReadError>>, usize) {
    let chunk = batch_size.clamp(1, 1_000);
    let (sender, receiver) = mpsc::channel((batch_size.div_ceil(chunk) + 1).min(10));
    (sender, receiver, chunk)
}

/// Read `input` to its end on the calling (blocking) thread and send its records in chunks of `chunk_size`. A bounded
/// channel makes the reader wait for the writer, so memory stays flat whatever the input's size. Stops early when the
/// receiver is gone. `product_id` is given to test cycles that name none.
pub fn read_into<R: BufRead>(
    input: R,
    kind: Kind,
    chunk_size: usize,
    product_id: Option<i64>,
    sender: mpsc::Sender<Result<Chunk, ReadError>>,
) {
    let mut reader = RecordReader::new(input);
    let mut records = Vec::with_capacity(chunk_size);
    let mut sent = std::time::Instant::now();
    loop {
        match reader.next() {
            Some(Ok((position, value))) => {
                let mut record = model::parse(kind, value);
                if let (Ok(Record::Test(test)), Some(product_id)) = (&mut record, product_id) {
                    test.product_id.get_or_insert(product_id);
                }
                records.push((position, record));
                // a slow input's records are handed over as they trickle in, not when a chunk is full
                if records.len() >= chunk_size || sent.elapsed() >= FLUSH {
                    sent = std::time::Instant::now();
                    // a full-sized vector for the next chunk: growing one from empty reallocated it ten times a chunk
                    let next = Vec::with_capacity(chunk_size);
                    let chunk = Chunk { records: std::mem::replace(&mut records, next), bytes: reader.offset() };
                    if sender.blocking_send(Ok(chunk)).is_err() {
                        return;
                    }
                }
            }
            Some(Err(e)) => {
                if !records.is_empty() {
                    let _ = sender.blocking_send(Ok(Chunk { records, bytes: reader.offset() }));
                }
                let _ = sender.blocking_send(Err(e));
                return;
            }
            None => break,
        }
    }
    if !records.is_empty() {
        let _ = sender.blocking_send(Ok(Chunk { records, bytes: reader.offset() }));
    }
}

/// Ingest the chunks arriving on `chunks` (from [`read_into`]) into the scope's tenant. `progress` hears the running
/// report after every committed batch.
///
/// Records are written into the open batch [`WRITE_SIZE`] at a time as they arrive, so memory does not grow with the
/// batch size. A batch is committed when it holds `batch_size` records, at the end of the input, or when the input
/// has brought nothing for [`STALL`] (a slow upload or pipe): other writers never wait on an idle transaction.
pub async fn ingest(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    options: IngestOptions,
    mut chunks: mpsc::Receiver<Result<Chunk, ReadError>>,
    mut progress: impl FnMut(&IngestReport),
) -> Result<IngestReport, IngestFailure> {
    let batch_size = options.batch_size.clamp(1, MAX_BATCH_SIZE);
    let mut run = Run {
        store,
        scope,
        now,
        kind: options.kind,
        strict: options.strict,
        ingest_id: Uuid::now_v7(),
        report: IngestReport::new(options.kind),
        refreshed_at: 0,
        created: HashSet::new(),
        linked: Default::default(),
        updated: HashSet::new(),
        known: HashMap::new(),
        tx: None,
        batch: None,
    };
    let mut pending: Vec<Record> = Vec::with_capacity(WRITE_SIZE.min(batch_size));
    let mut stopped: Option<IngestError> = None;

    loop {
        let next = if run.batch.is_some() && !options.strict {
            match tokio::time::timeout(STALL, chunks.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    // the input stalled: land what has arrived instead of holding the writer
                    if let Err(e) = run.land(std::mem::take(&mut pending)).await {
                        return Err(run.fail(e.into()));
                    }
                    progress(&run.report);
                    chunks.recv().await
                }
            }
        } else {
            chunks.recv().await
        };
        let Some(chunk) = next else { break };
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                stopped = Some(e.into());
                break;
            }
        };
        run.report.bytes = chunk.bytes;
        for (position, record) in chunk.records {
            run.report.records += 1;
            match record {
                Ok(record) => {
                    if !run.report.rolled_back {
                        pending.push(record);
                    }
                }
                Err(reason) => {
                    run.report.rejected.push(Rejected { position, reason });
                    if options.strict && !run.report.rolled_back {
                        run.report.rolled_back = true;
                        pending.clear();
                        run.batch = None;
                        // dropped: rolled back
                        run.tx = None;
                    }
                }
            }
            let room = batch_size - run.batch.as_ref().map_or(0, |b| b.records);
            if pending.len() >= WRITE_SIZE.min(room) {
                let records = std::mem::take(&mut pending);
                if let Err(e) = run.write(&records).await {
                    return Err(run.fail(e.into()));
                }
                if run.batch.as_ref().is_some_and(|b| b.records >= batch_size) {
                    if let Err(e) = run.close_batch().await {
                        return Err(run.fail(e.into()));
                    }
                    progress(&run.report);
                }
            }
        }
    }
    if let Some(error) = stopped {
        if options.strict {
            return Err(run.fail(error));
        }
        // records read before the malformed spot are whole and checked: keep them
        if let Err(e) = run.land(std::mem::take(&mut pending)).await {
            return Err(run.fail(e.into()));
        }
        return Err(run.fail(error));
    }
    if !run.report.rolled_back {
        if let Err(e) = run.land(std::mem::take(&mut pending)).await {
            return Err(run.fail(e.into()));
        }
        if let Err(e) = run.commit_strict().await {
            return Err(run.fail(e.into()));
        }
    }
    run.finish_counts();
    if run.report.rolled_back {
        run.report.counts = RecordCounts::default();
        run.report.users = UserCounts::default();
        run.report.batches = 0;
    }
    progress(&run.report);
    Ok(run.report)
}

/// Records written to the database at a time, within a batch: a batch's records are not all held in memory.
#[cfg(not(test))]
pub const WRITE_SIZE: usize = 5_000;
/// Small in unit tests, so that their batches span several writes.
#[cfg(test)]
pub const WRITE_SIZE: usize = 5;

/// The longest the reading thread keeps records it has read before handing them over.
const FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

/// How long an open batch waits for more input before it is committed.
pub const STALL: std::time::Duration = std::time::Duration::from_millis(250);

/// People remembered by an ingest (see [`Known`]) before it starts over.
const KNOWN_LIMIT: usize = 200_000;

/// One ingest in progress.
struct Run<'a> {
    store: &'a Store,
    scope: AdminScope<'a>,
    now: OffsetDateTime,
    kind: Kind,
    strict: bool,
    /// Names this ingest in its audit entries.
    ingest_id: Uuid,
    report: IngestReport,
    /// Rows written when the statistics were last refreshed (PostgreSQL): they are refreshed each time that doubles.
    refreshed_at: u64,
    /// Users created / updated so far, so a person met in many batches counts once.
    created: HashSet<Uuid>,
    updated: HashSet<Uuid>,
    /// Accounts of their own that records were linked to, unchanged (reported).
    linked: std::collections::BTreeSet<LinkedAccount>,
    /// The people this ingest has written, by name.
    known: HashMap<String, Known>,
    /// The open transaction: a batch's, or the whole input's when strict.
    tx: Option<Tx>,
    /// The open batch.
    batch: Option<Batch>,
}

/// A person as this ingest last wrote them: their user id and a span of time their stored `first_seen..=last_seen`
/// is known to cover (stored spans only widen). A record inside that span cannot change the person, so it is not
/// sent again.
struct Known {
    id: Uuid,
    first_seen: OffsetDateTime,
    last_seen: OffsetDateTime,
}

/// A batch being written: what it did so far and how it moves the rankings.
#[derive(Default)]
struct Batch {
    records: usize,
    counts: BatchCounts,
    tally: Tally,
    first_id: Option<i64>,
    last_id: Option<i64>,
    /// People met before whose records here fall outside what is known of them, to be widened when the batch ends.
    widen: HashMap<String, SeenPerson>,
}

/// What one batch did.
#[derive(Default)]
struct BatchCounts {
    records: RecordCounts,
    users_created: u64,
    users_updated: u64,
}

impl Run<'_> {
    fn fail(mut self, error: IngestError) -> IngestFailure {
        self.finish_counts();
        if self.strict {
            self.report.counts = RecordCounts::default();
            self.report.users = UserCounts::default();
            self.report.batches = 0;
            self.report.rolled_back = true;
        }
        IngestFailure { report: self.report, error }
    }

    fn finish_counts(&mut self) {
        self.report.users.created = self.created.len() as u64;
        self.report.users.updated = self.updated.difference(&self.created).count() as u64;
        self.report.users.linked_accounts = self.linked.iter().cloned().collect();
    }

    /// The open transaction, begun (and the tenant's ingests locked out) if there is none.
    async fn tx(&mut self) -> Result<&mut Tx, StoreError> {
        if self.tx.is_none() {
            let mut tx = self.store.begin_large().await?;
            repo::lock_ingest(&mut tx, self.scope.tenant_id()).await?;
            self.tx = Some(tx);
        }
        match self.tx.as_mut() {
            Some(tx) => Ok(tx),
            None => Err(StoreError::Aborted("no transaction".into())),
        }
    }

    /// Write records into the open batch (opened if there is none): their people, the records, how they move the
    /// rankings.
    async fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let batch = self.batch.get_or_insert_with(Batch::default);
        let written = self.report.counts.inserted
            + self.report.counts.updated
            + batch.counts.records.inserted
            + batch.counts.records.updated
            + self.created.len() as u64;
        if written >= 2 * self.refreshed_at.max(5_000) {
            repo::refresh_statistics(self.tx().await?).await?;
            self.refreshed_at = written;
        }
        self.write_people(records).await?;
        let (now, kind, tenant_id) = (self.now, self.kind, self.scope.tenant_id());
        let user = |known: &HashMap<String, Known>, name: &Option<String>| {
            name.as_deref().and_then(|n| known.get(n)).map(|k| k.id)
        };

        // Sorted by id so that concurrent writers lock rows in one order; stable, so a record repeated here is
        // written after its earlier copies, as if one at a time.
        let mut order: Vec<&Record> = records.iter().collect();
        order.sort_by_key(|r| record_id(r));
        let ranked = ranked(kind);
        // what is stored now, to move the rankings' counts with what changes
        let mut ids: Vec<i64> = order.iter().map(|r| record_id(r)).collect();
        ids.dedup();
        let tx = self.tx().await?;
        let stored = repo::existing(tx, tenant_id, ranked, &ids).await?;
        let known = &self.known;
        let Some(batch) = self.batch.as_mut() else { return Ok(()) };
        let Some(tx) = self.tx.as_mut() else { return Ok(()) };
        batch.tally.observe(stored);
        let mut written = Vec::new();
        match kind {
            Kind::Bugs => {
                let rows: Vec<BugRow> = order
                    .iter()
                    .filter_map(|r| match r {
                        Record::Bug(bug) => Some(BugRow {
                            bug,
                            reporter: user(known, &bug.reporter),
                            record_at: bug.record_time().unwrap_or(now),
                        }),
                        Record::Test(_) => None,
                    })
                    .collect();
                for run in distinct_runs(&rows, |r| r.bug.id) {
                    // bugs not stored yet are plainly inserted (on SQLite without waiting); the others upserted
                    let (new, stored): (Vec<BugRow>, Vec<BugRow>) =
                        run.iter().partition(|row| !batch.tally.is_stored(row.bug.id));
                    repo::insert_bugs(tx, tenant_id, &new, now).await?;
                    let mut done: Vec<(i64, i64)> = new.iter().map(|row| (row.bug.id, 1)).collect();
                    done.extend(repo::upsert_bugs(tx, tenant_id, &stored, now).await?);
                    let versions: HashSet<i64> = done.iter().map(|(id, _)| *id).collect();
                    for row in run.iter().filter(|row| versions.contains(&row.bug.id)) {
                        batch.tally.written(row.bug.id, row.reporter, row.bug.record_time(), now);
                    }
                    written.extend(done);
                }
            }
            Kind::Tests => {
                let rows: Vec<TestRow> = order
                    .iter()
                    .filter_map(|r| match r {
                        Record::Test(test) => Some(TestRow {
                            test,
                            creator: user(known, &test.created_by),
                            submitter: user(known, &test.submitted_by),
                            record_at: test.record_time().unwrap_or(now),
                        }),
                        Record::Bug(_) => None,
                    })
                    .collect();
                for run in distinct_runs(&rows, |r| r.test.id) {
                    let done = repo::upsert_tests(tx, tenant_id, run, now).await?;
                    let versions: HashSet<i64> = done.iter().map(|(id, _)| *id).collect();
                    for row in run.iter().filter(|row| versions.contains(&row.test.id)) {
                        batch.tally.written(row.test.id, row.creator, row.test.record_time(), now);
                    }
                    written.extend(done);
                }
            }
        }
        let inserted = written.iter().filter(|(_, version)| *version == 1).count() as u64;
        batch.counts.records.inserted += inserted;
        batch.counts.records.updated += written.len() as u64 - inserted;
        batch.counts.records.unchanged += (records.len() - written.len()) as u64;
        batch.records += records.len();
        let (first, last) = (record_id(order[0]), record_id(order[order.len() - 1]));
        batch.first_id = Some(batch.first_id.map_or(first, |id| id.min(first)));
        batch.last_id = Some(batch.last_id.map_or(last, |id| id.max(last)));
        Ok(())
    }

    /// Upsert the people of `records` this ingest does not know to be up to date, and remember them.
    async fn write_people(&mut self, records: &[Record]) -> Result<(), StoreError> {
        if self.known.len() > KNOWN_LIMIT {
            self.known.clear();
        }
        let (user_type, people) = self.people(records);
        let Some(batch) = self.batch.as_mut() else { return Ok(()) };
        // people met before need only widen, once per batch at its end; new ones are needed now, for their ids
        let mut new = Vec::new();
        for person in people {
            match self.known.get(&person.name) {
                None => new.push(person),
                Some(known) if widens(known, &person) => match batch.widen.get_mut(&person.name) {
                    Some(pending) => merge(pending, person),
                    None => {
                        batch.widen.insert(person.name.clone(), person);
                    }
                },
                Some(_) => {}
            }
        }
        self.upsert_people(user_type, new).await
    }

    /// Upsert people, count what became of them and remember them.
    async fn upsert_people(&mut self, user_type: UserType, people: Vec<SeenPerson>) -> Result<(), StoreError> {
        if people.is_empty() {
            return Ok(());
        }
        let scope = self.scope;
        let now = self.now;
        let ids = users::upsert_seen(self.tx().await?, scope, user_type, &people, now).await?;
        let Some(batch) = self.batch.as_mut() else { return Ok(()) };
        for (person, (id, seen)) in people.into_iter().zip(ids) {
            match seen {
                Seen::Created => {
                    batch.counts.users_created += 1;
                    self.created.insert(id);
                }
                Seen::Updated => {
                    batch.counts.users_updated += 1;
                    self.updated.insert(id);
                }
                Seen::Unchanged => {}
                Seen::Account(role) => {
                    if self.linked.len() < LINKED_ACCOUNTS_SHOWN {
                        self.linked.insert(LinkedAccount { username: person.name.clone(), role: role.to_string() });
                    }
                }
            }
            // the stored span now covers what it covered and what was just sent
            let known = self.known.entry(person.name).or_insert(Known {
                id,
                first_seen: person.first_seen,
                last_seen: person.last_seen,
            });
            known.id = id;
            known.first_seen = known.first_seen.min(person.first_seen);
            known.last_seen = known.last_seen.max(person.last_seen);
        }
        Ok(())
    }

    /// Write the last records of the open batch and end it.
    async fn land(&mut self, records: Vec<Record>) -> Result<(), StoreError> {
        self.write(&records).await?;
        self.close_batch().await
    }

    /// End the open batch: its ranking counts and its audit entry, then (unless strict) its commit.
    async fn close_batch(&mut self) -> Result<(), StoreError> {
        let Some(batch) = self.batch.as_mut() else { return Ok(()) };
        let widen: Vec<SeenPerson> = std::mem::take(&mut batch.widen).into_values().collect();
        let user_type = new_person_type(self.kind);
        self.upsert_people(user_type, widen).await?;
        let Some(batch) = self.batch.take() else { return Ok(()) };
        let (scope, now, ingest_id, kind) = (self.scope, self.now, self.ingest_id, self.kind);
        let ranked = ranked(kind);
        let tenant_id = scope.tenant_id();
        let tx = self.tx().await?;
        repo::add_contributions(tx, tenant_id, ranked, &batch.tally.changes()).await?;
        let counts = batch.counts;
        let changed =
            counts.records.inserted + counts.records.updated + counts.users_created + counts.users_updated > 0;
        if changed {
            let summary = serde_json::json!({
                "records": batch.records,
                "inserted": counts.records.inserted,
                "updated": counts.records.updated,
                "unchanged": counts.records.unchanged,
                "users_created": counts.users_created,
                "users_updated": counts.users_updated,
                "first_id": batch.first_id,
                "last_id": batch.last_id,
            });
            let change = Change::new(Action::Ingest, kind.as_str(), ingest_id).values(None, Some(summary));
            audit::record(tx, &scope, now, change).await?;
        }
        if !self.strict {
            if let Some(tx) = self.tx.take() {
                tx.commit().await?;
            }
            record_metrics(kind, counts.records.total(), counts.users_created, 1);
        }
        self.report.counts.inserted += counts.records.inserted;
        self.report.counts.updated += counts.records.updated;
        self.report.counts.unchanged += counts.records.unchanged;
        self.report.batches += 1;
        self.finish_counts();
        Ok(())
    }

    /// Commit a strict ingest's transaction.
    async fn commit_strict(&mut self) -> Result<(), StoreError> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
            let created = self.created.len() as u64;
            record_metrics(self.kind, self.report.counts.total(), created, self.report.batches);
        }
        Ok(())
    }

    /// The people of some records, each with the span of their records' times and the author object of their
    /// newest record.
    fn people(&self, records: &[Record]) -> (UserType, Vec<SeenPerson>) {
        fn see<'a>(
            people: &mut HashMap<&'a str, SeenPerson>,
            name: &'a str,
            at: OffsetDateTime,
            raw: Option<&serde_json::Value>,
        ) {
            let person = people.entry(name).or_insert_with(|| SeenPerson {
                name: name.to_owned(),
                first_seen: at,
                last_seen: at,
                raw_data: None,
            });
            person.first_seen = person.first_seen.min(at);
            if at >= person.last_seen {
                person.last_seen = at;
                if raw.is_some() {
                    person.raw_data = raw.cloned();
                }
            }
        }
        let mut people: HashMap<&str, SeenPerson> = HashMap::new();
        let user_type = new_person_type(self.kind);
        for record in records {
            match record {
                Record::Bug(bug) => {
                    if let Some(name) = &bug.reporter {
                        see(&mut people, name, bug.record_time().unwrap_or(self.now), bug.author.as_ref());
                    }
                }
                Record::Test(test) => {
                    let at = test.record_time().unwrap_or(self.now);
                    for name in [&test.created_by, &test.submitted_by].into_iter().flatten() {
                        see(&mut people, name, at, None);
                    }
                }
            }
        }
        (user_type, people.into_values().collect())
    }
}

/// What the records of a kind count towards in the rankings.
fn ranked(kind: Kind) -> repo::Ranked {
    match kind {
        Kind::Bugs => repo::Ranked::Reported,
        Kind::Tests => repo::Ranked::Created,
    }
}

/// The type a person first met in records of a kind becomes.
fn new_person_type(kind: Kind) -> UserType {
    match kind {
        Kind::Bugs => UserType::Tester,
        Kind::Tests => UserType::Customer,
    }
}

/// True when `person`'s records may change what is stored of them: times outside the known span, or as new as the
/// newest (whose author object is kept).
fn widens(known: &Known, person: &SeenPerson) -> bool {
    person.first_seen < known.first_seen || person.last_seen >= known.last_seen
}

/// Fold `other` into `person`: the wider span, the author object of the newer record.
fn merge(person: &mut SeenPerson, other: SeenPerson) {
    person.first_seen = person.first_seen.min(other.first_seen);
    if other.last_seen >= person.last_seen {
        person.last_seen = other.last_seen;
        if other.raw_data.is_some() {
            person.raw_data = other.raw_data;
        }
    }
}

/// How a batch moves the rankings' counts: each written record leaves its old (person, day) and joins its new one.
#[derive(Default)]
struct Tally {
    /// Person and record time of the records being written as stored now (before the write, then as it goes).
    current: HashMap<i64, (Option<Uuid>, OffsetDateTime)>,
    changes: HashMap<(i64, Uuid), i64>,
}

impl Tally {
    /// Start a write: `stored` is `(id, person, record time)` of its records as they stand.
    fn observe(&mut self, stored: Vec<(i64, Option<Uuid>, OffsetDateTime)>) {
        self.current.clear();
        for (id, person, at) in stored {
            self.current.insert(id, (person, at));
        }
    }

    /// Whether the record `id` is stored: found before this write, or written by it.
    fn is_stored(&self, id: i64) -> bool {
        self.current.contains_key(&id)
    }

    /// A record was written with `person` and `time` (the record's own, else the stored one, else now — as the
    /// upsert does).
    fn written(&mut self, id: i64, person: Option<Uuid>, time: Option<OffsetDateTime>, now: OffsetDateTime) {
        let old = self.current.get(&id).copied();
        let at = time.or(old.map(|(_, at)| at)).unwrap_or(now);
        if let Some((Some(old_person), old_at)) = old {
            *self.changes.entry((day_of(old_at), old_person)).or_default() -= 1;
        }
        if let Some(person) = person {
            *self.changes.entry((day_of(at), person)).or_default() += 1;
        }
        self.current.insert(id, (person, at));
    }

    /// `(day, person, change)` in key order, without the changes that cancelled out.
    fn changes(&self) -> Vec<(i64, Uuid, i64)> {
        let mut changes: Vec<(i64, Uuid, i64)> =
            self.changes.iter().filter(|(_, n)| **n != 0).map(|((day, user), n)| (*day, *user, *n)).collect();
        changes.sort_unstable();
        changes
    }
}

/// Days since 1970-01-01 (UTC): the key of the per-day counts.
pub(super) fn day_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(86_400)
}

/// Count committed work in `/metrics`.
fn record_metrics(kind: Kind, records: u64, users_created: u64, batches: u64) {
    let labels = [("kind", kind.as_str())];
    metrics::counter!("roster_ingest_records_total", &labels).increment(records);
    metrics::counter!("roster_ingest_users_created_total", &labels).increment(users_created);
    metrics::counter!("roster_ingest_batches_total", &labels).increment(batches);
}

fn record_id(record: &Record) -> i64 {
    match record {
        Record::Bug(bug) => bug.id,
        Record::Test(test) => test.id,
    }
}

/// Split rows sorted by id into runs without a repeated id: one multi-row upsert may not touch a row twice.
fn distinct_runs<T>(rows: &[T], id: impl Fn(&T) -> i64) -> Vec<&[T]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..rows.len() {
        if id(&rows[i]) == id(&rows[i - 1]) {
            runs.push(&rows[start..i]);
            start = i;
        }
    }
    if start < rows.len() {
        runs.push(&rows[start..]);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_starts_a_new_run() {
        let rows = [1, 2, 2, 2, 3, 4, 4];
        let runs: Vec<Vec<i64>> = distinct_runs(&rows, |r| *r).into_iter().map(<[i64]>::to_vec).collect();
        assert_eq!(runs, vec![vec![1, 2], vec![2], vec![2, 3, 4], vec![4]]);
        assert!(distinct_runs(&[] as &[i64], |r| *r).is_empty());
    }
}
