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

/// Records per transaction by default. Fewer, larger transactions write each randomly placed index page fewer times:
/// measured on 1M bug records (SQLite), 10,000 took 53 s, 25,000 took 39 s and 50,000 took 35 s, with peak anonymous
/// memory of about 90, 119 and 170 MB.
pub const DEFAULT_BATCH_SIZE: usize = 25_000;
pub const MAX_BATCH_SIZE: usize = 50_000;

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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserCounts {
    pub created: u64,
    pub updated: u64,
}

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

/// The channel from the reading thread to [`ingest`] and the chunk size to read in. It holds up to 10,000 records (a
/// whole batch when batches are small), so the next records are read and checked while a batch is written; memory
/// stays bounded by a batch and the channel.
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
    loop {
        match reader.next() {
            Some(Ok((position, value))) => {
                let mut record = model::parse(kind, value);
                if let (Ok(Record::Test(test)), Some(product_id)) = (&mut record, product_id) {
                    test.product_id.get_or_insert(product_id);
                }
                records.push((position, record));
                if records.len() >= chunk_size {
                    let chunk = Chunk { records: std::mem::take(&mut records), bytes: reader.offset() };
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
        scope,
        now,
        kind: options.kind,
        ingest_id: Uuid::now_v7(),
        report: IngestReport::new(options.kind),
        refreshed_at: 0,
        created: HashSet::new(),
        updated: HashSet::new(),
    };
    // strict: one transaction for the whole input, dropped (rolled back) at the first rejected record
    let mut strict_tx: Option<Tx> = None;
    let mut pending: Vec<Record> = Vec::with_capacity(batch_size);
    let mut stopped: Option<IngestError> = None;

    while let Some(chunk) = chunks.recv().await {
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
                        if let Some(tx) = strict_tx.take() {
                            drop(tx);
                        }
                    }
                }
            }
            if pending.len() >= batch_size {
                let batch = std::mem::take(&mut pending);
                let result = if options.strict {
                    run.write_strict(store, &mut strict_tx, batch).await
                } else {
                    run.write_batch(store, batch).await
                };
                if let Err(e) = result {
                    return Err(run.fail(e.into(), options.strict));
                }
                progress(&run.report);
            }
        }
    }
    if let Some(error) = stopped {
        if options.strict {
            return Err(run.fail(error, true));
        }
        // records read before the malformed spot are whole and checked: keep them
        if !pending.is_empty() {
            if let Err(e) = run.write_batch(store, std::mem::take(&mut pending)).await {
                return Err(run.fail(e.into(), false));
            }
        }
        return Err(run.fail(error, false));
    }
    if !pending.is_empty() && !run.report.rolled_back {
        let batch = std::mem::take(&mut pending);
        let result = if options.strict {
            run.write_strict(store, &mut strict_tx, batch).await
        } else {
            run.write_batch(store, batch).await
        };
        if let Err(e) = result {
            return Err(run.fail(e.into(), options.strict));
        }
    }
    if let Some(tx) = strict_tx.take() {
        if let Err(e) = tx.commit().await {
            return Err(run.fail(e.into(), true));
        }
        let created = run.created.len() as u64;
        record_metrics(run.kind, run.report.counts.total(), created, run.report.batches);
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

/// One ingest in progress.
struct Run<'a> {
    scope: AdminScope<'a>,
    now: OffsetDateTime,
    kind: Kind,
    /// Names this ingest in its audit entries.
    ingest_id: Uuid,
    report: IngestReport,
    /// Rows written when the statistics were last refreshed (PostgreSQL): they are refreshed each time that doubles.
    refreshed_at: u64,
    /// Users created / updated so far, so a person met in many batches counts once.
    created: HashSet<Uuid>,
    updated: HashSet<Uuid>,
}

/// What one batch did.
#[derive(Default)]
struct BatchCounts {
    records: RecordCounts,
    users_created: u64,
    users_updated: u64,
}

impl Run<'_> {
    fn fail(mut self, error: IngestError, strict: bool) -> IngestFailure {
        self.finish_counts();
        if strict {
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
    }

    /// A batch in its own transaction.
    async fn write_batch(&mut self, store: &Store, batch: Vec<Record>) -> Result<(), StoreError> {
        let mut tx = store.begin().await?;
        let counts = self.write(&mut tx, &batch).await?;
        tx.commit().await?;
        record_metrics(self.kind, counts.records.total(), counts.users_created, 1);
        self.add(counts);
        self.finish_counts();
        Ok(())
    }

    /// A batch inside the whole-input transaction of a strict ingest.
    async fn write_strict(&mut self, store: &Store, tx: &mut Option<Tx>, batch: Vec<Record>) -> Result<(), StoreError> {
        if tx.is_none() {
            *tx = Some(store.begin().await?);
        }
        let Some(tx) = tx.as_mut() else { return Ok(()) };
        let counts = self.write(tx, &batch).await?;
        self.add(counts);
        self.finish_counts();
        Ok(())
    }

    fn add(&mut self, counts: BatchCounts) {
        self.report.counts.inserted += counts.records.inserted;
        self.report.counts.updated += counts.records.updated;
        self.report.counts.unchanged += counts.records.unchanged;
        self.report.batches += 1;
    }

    /// Write a batch's people, then its records, then its audit entry, in `tx`.
    async fn write(&mut self, tx: &mut Tx, batch: &[Record]) -> Result<BatchCounts, StoreError> {
        let written = self.report.counts.inserted + self.report.counts.updated + self.created.len() as u64;
        if written >= 2 * self.refreshed_at.max(5_000) {
            repo::refresh_statistics(tx).await?;
            self.refreshed_at = written;
        }
        repo::lock_ingest(tx, self.scope.tenant_id()).await?;
        let (user_type, people) = self.people(batch);
        let ids = users::upsert_seen(tx, self.scope, user_type, &people, self.now).await?;
        let mut user_of: HashMap<&str, Uuid> = HashMap::with_capacity(people.len());
        let mut counts = BatchCounts::default();
        for (person, (id, seen)) in people.iter().zip(&ids) {
            user_of.insert(person.name.as_str(), *id);
            match seen {
                Seen::Created => {
                    counts.users_created += 1;
                    self.created.insert(*id);
                }
                Seen::Updated => {
                    counts.users_updated += 1;
                    self.updated.insert(*id);
                }
                Seen::Unchanged => {}
            }
        }
        let user = |name: &Option<String>| name.as_deref().and_then(|n| user_of.get(n).copied());

        // Sorted by id so that two concurrent ingests lock rows in one order; stable, so a record repeated within
        // the batch is written after its earlier copies, as if one at a time.
        let mut order: Vec<&Record> = batch.iter().collect();
        order.sort_by_key(|r| record_id(r));
        let tenant_id = self.scope.tenant_id();
        let ranked = match self.kind {
            Kind::Bugs => repo::Ranked::Reported,
            Kind::Tests => repo::Ranked::Created,
        };
        // what is stored now, to move the rankings' counts with what changes
        let mut ids: Vec<i64> = order.iter().map(|r| record_id(r)).collect();
        ids.dedup();
        let mut tally = Tally::default();
        for (id, person, at) in repo::existing(tx, tenant_id, ranked, &ids).await? {
            tally.current.insert(id, (person, at));
        }
        let mut written = Vec::new();
        match self.kind {
            Kind::Bugs => {
                let rows: Vec<BugRow> = order
                    .iter()
                    .filter_map(|r| match r {
                        Record::Bug(bug) => Some(BugRow {
                            bug,
                            reporter: user(&bug.reporter),
                            record_at: bug.record_time().unwrap_or(self.now),
                        }),
                        Record::Test(_) => None,
                    })
                    .collect();
                for run in distinct_runs(&rows, |r| r.bug.id) {
                    let done = repo::upsert_bugs(tx, tenant_id, run, self.now).await?;
                    let versions: HashMap<i64, i64> = done.iter().copied().collect();
                    for row in run.iter().filter(|row| versions.contains_key(&row.bug.id)) {
                        tally.written(row.bug.id, row.reporter, row.bug.record_time(), self.now);
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
                            creator: user(&test.created_by),
                            submitter: user(&test.submitted_by),
                            record_at: test.record_time().unwrap_or(self.now),
                        }),
                        Record::Bug(_) => None,
                    })
                    .collect();
                for run in distinct_runs(&rows, |r| r.test.id) {
                    let done = repo::upsert_tests(tx, tenant_id, run, self.now).await?;
                    let versions: HashMap<i64, i64> = done.iter().copied().collect();
                    for row in run.iter().filter(|row| versions.contains_key(&row.test.id)) {
                        tally.written(row.test.id, row.creator, row.test.record_time(), self.now);
                    }
                    written.extend(done);
                }
            }
        }
        repo::add_contributions(tx, tenant_id, ranked, &tally.changes()).await?;
        counts.records.inserted = written.iter().filter(|(_, version)| *version == 1).count() as u64;
        counts.records.updated = written.len() as u64 - counts.records.inserted;
        counts.records.unchanged = batch.len() as u64 - written.len() as u64;

        let changed = !written.is_empty() || counts.users_created > 0 || counts.users_updated > 0;
        if changed {
            let summary = serde_json::json!({
                "records": batch.len(),
                "inserted": counts.records.inserted,
                "updated": counts.records.updated,
                "unchanged": counts.records.unchanged,
                "users_created": counts.users_created,
                "users_updated": counts.users_updated,
                "first_id": order.first().map(|r| record_id(r)),
                "last_id": order.last().map(|r| record_id(r)),
            });
            let change = Change::new(Action::Ingest, self.kind.as_str(), self.ingest_id).values(None, Some(summary));
            audit::record(tx, &self.scope, self.now, change).await?;
        }
        Ok(counts)
    }

    /// The batch's people, each with the span of their records' times and the author object of their newest record.
    fn people(&self, batch: &[Record]) -> (UserType, Vec<SeenPerson>) {
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
        let user_type = match self.kind {
            Kind::Bugs => UserType::Tester,
            Kind::Tests => UserType::Customer,
        };
        for record in batch {
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

/// How a batch moves the rankings' counts: each written record leaves its old (person, day) and joins its new one.
#[derive(Default)]
struct Tally {
    /// Person and record time of each record as stored now (before the batch, then as the batch writes it).
    current: HashMap<i64, (Option<Uuid>, OffsetDateTime)>,
    changes: HashMap<(i64, Uuid), i64>,
}

impl Tally {
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
