//! SQLite: one writer thread, a few reader threads and a checkpointer, each owning its connection.
//!
//! Work reaches a thread as a closure over a channel and the answer comes back on a oneshot, so the async runtime never
//! blocks on SQLite and writers never meet `SQLITE_BUSY`: there is only one.
//!
//! **Group commit.** The writer runs transactions one after another, each inside a savepoint of one shared database
//! transaction; when no more are waiting (or the group is full, or has been open long enough) it commits them all at
//! once and only then acknowledges each. A transaction that fails or rolls back is undone to its savepoint alone and
//! answered at once; the others of its group are not touched. One commit, and one WAL sync under
//! `synchronous = FULL`, serves many requests. The first member of a group needs no savepoint (undoing it is
//! undoing the whole, still empty, group), and a long transaction is always first: under a savepoint SQLite copies
//! every page the transaction changes into an in-memory journal and walks it at every statement's end (a 100,000-bug
//! ingest batch held 500 MB there and spent a third of its time walking it).
//!
//! **Checkpoints** run off the request path: the writer's automatic checkpoint is off, and a thread of its own copies
//! the WAL back into the database file (PASSIVE, so it never blocks a reader or the writer) after commits. Should the
//! WAL outgrow [`WAL_BOUND`] all the same (readers holding old snapshots), it waits for them and restarts the WAL.

use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::row::{FromRow, Row};
use super::value::Value;
use super::{Sql, StoreError, Synchronous};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Transactions in one group commit at most.
const GROUP_MEMBERS: usize = 256;
/// A group takes no new member after it has been open this long: its first members wait for their acknowledgement.
const GROUP_OPEN: Duration = Duration::from_millis(5);
/// How often the checkpointer copies the WAL back while commits come.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// The WAL size past which the checkpointer waits for readers and restarts it.
const WAL_BOUND: u64 = 256 * 1024 * 1024;

pub(super) struct SqlitePool {
    writer: Option<Sender<Queued>>,
    readers: Option<Sender<Job>>,
    checkpoints: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
    size: usize,
    stats: Arc<GroupStats>,
}

/// How many group commits the writer made, and how many transactions they acknowledged.
#[derive(Debug, Default)]
pub struct GroupStats {
    pub groups: AtomicU64,
    pub committed: AtomicU64,
}

fn configure(conn: &Connection, writer: bool, synchronous: Synchronous) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // The checkpointer thread copies the WAL back; a commit never does. The file is cut back to 64 MB after a
        // checkpoint restarted it.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    }
    conn.pragma_update(None, "synchronous", synchronous.pragma())?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = 268435456;
         PRAGMA cache_size = -32000;",
    )?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
}

fn spawn_worker(name: String, mut conn: Connection, jobs: Receiver<Job>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name).spawn(move || {
        while let Ok(job) = jobs.recv() {
            job(&mut conn);
        }
        close(conn);
    })
}

/// Last one out folds the WAL back into the database file.
fn close(conn: Connection) {
    let _ = conn.execute_batch("PRAGMA optimize;");
    let _ = conn.close();
}

/// The checkpointer: while commits come, a PASSIVE checkpoint every [`CHECKPOINT_EVERY`] (none while nothing is
/// written); a RESTART one, which waits for readers of old snapshots, when the WAL holds more than [`WAL_BOUND`].
fn spawn_checkpointer(conn: Connection, nudges: Receiver<()>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("roster-sqlite-checkpointer".into()).spawn(move || {
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap_or(4096);
        while nudges.recv().is_ok() {
            // the WAL's frames and those of them copied into the database
            let frames = conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
            if let Ok((log, copied)) = frames {
                if log > copied && (log * page_size) as u64 > WAL_BOUND {
                    let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
                }
            }
            std::thread::sleep(CHECKPOINT_EVERY);
            // the commits of that while are all covered by the next checkpoint
            while nudges.try_recv().is_ok() {}
        }
        close(conn);
    })
}

fn map_error(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(err, message) = &e {
        if err.code == rusqlite::ErrorCode::DiskFull {
            return StoreError::Full(message.clone().unwrap_or_else(|| e.to_string()));
        }
    }
    if let rusqlite::Error::SqliteFailure(err, Some(message)) = &e {
        if err.code == rusqlite::ErrorCode::ConstraintViolation {
            return match err.extended_code {
                // SQLite names the columns ("UNIQUE constraint failed: tenants.slug"), not the index: keep those
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    StoreError::Unique(message.trim_start_matches("UNIQUE constraint failed: ").to_owned())
                }
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::ForeignKey(message.clone()),
                rusqlite::ffi::SQLITE_CONSTRAINT_CHECK => StoreError::Check(message.clone()),
                _ => StoreError::Sqlite(e),
            };
        }
    }
    StoreError::Sqlite(e)
}

/// Bind `$1…$n`, which [`numbered`] made `?1…?n` in the text SQLite prepared: the value of `$k` is bound at index k.
fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Value]) -> rusqlite::Result<()> {
    let expected = stmt.parameter_count();
    if expected != params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(params.len(), expected));
    }
    for (i, value) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, value)?;
    }
    Ok(())
}

/// The text SQLite is given for a statement written with PostgreSQL's `$N` parameters: each `$N` outside quotes and
/// comments becomes `?N`, which SQLite numbers by N. SQLite numbers `$N` as names instead, in order of first
/// appearance, and looks each one up among the names before it while preparing: a multi-row statement of 6,000
/// parameters took some 50 ms to prepare, and a tenth of a 100,000-bug ingest's writer time.
fn numbered(sql: &str) -> Cow<'_, str> {
    let bytes = sql.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let text = out.get_or_insert_with(|| String::with_capacity(sql.len()));
                text.push_str(&sql[copied..i]);
                text.push('?');
                copied = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    match out {
        Some(mut text) => {
            text.push_str(&sql[copied..]);
            Cow::Owned(text)
        }
        None => Cow::Borrowed(sql),
    }
}

pub(super) fn run_query<R: FromRow>(conn: &Connection, sql: &str, params: &[Value]) -> Result<Vec<R>, StoreError> {
    let mut stmt = conn.prepare_cached(&numbered(sql)).map_err(map_error)?;
    bind(&mut stmt, params).map_err(map_error)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        out.push(R::from_row(&Row::Sqlite(row))?);
    }
    Ok(out)
}

pub(super) fn run_execute(conn: &Connection, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached(&numbered(sql)).map_err(map_error)?;
    bind(&mut stmt, params).map_err(map_error)?;
    stmt.raw_execute().map(|n| n as u64).map_err(map_error)
}

/// A new database file is made readable by its owner alone (it holds password hashes and sealed secrets, whatever
/// the umask); SQLite gives its WAL and shared-memory files the database file's permissions. An existing file keeps
/// the permissions its operator gave it.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!("cannot create {}: {e}", path.display()))),
    }
}

fn gone() -> StoreError {
    StoreError::Unavailable("the SQLite worker thread has stopped".into())
}

impl SqlitePool {
    pub(super) fn open(path: &Path, readers: usize, synchronous: Synchronous) -> Result<Self, StoreError> {
        create_private(path)?;
        let open = |flags| Connection::open_with_flags(path, flags).map_err(map_error);
        let read_write = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let writer_conn = open(read_write | OpenFlags::SQLITE_OPEN_CREATE)?;
        configure(&writer_conn, true, synchronous).map_err(map_error)?;
        let (writer_tx, writer_rx) = unbounded::<Queued>();
        let (readers_tx, readers_rx) = unbounded::<Job>();
        let (nudge_tx, nudge_rx) = bounded::<()>(1);
        let spawn_error = |e: std::io::Error| StoreError::Unavailable(format!("cannot start SQLite thread: {e}"));
        let stats = Arc::new(GroupStats::default());
        let writer = {
            let (stats, nudge) = (stats.clone(), nudge_tx.clone());
            std::thread::Builder::new()
                .name("roster-sqlite-writer".into())
                .spawn(move || run_writer(writer_conn, &writer_rx, &stats, &nudge))
                .map_err(spawn_error)?
        };
        let mut threads = vec![writer];
        let checkpointer = open(read_write)?;
        configure(&checkpointer, false, synchronous).map_err(map_error)?;
        threads.push(spawn_checkpointer(checkpointer, nudge_rx).map_err(spawn_error)?);
        for i in 0..readers.max(1) {
            let conn = open(read_write)?;
            configure(&conn, false, synchronous).map_err(map_error)?;
            conn.pragma_update(None, "query_only", true).map_err(map_error)?;
            threads.push(
                spawn_worker(format!("roster-sqlite-reader-{i}"), conn, readers_rx.clone()).map_err(spawn_error)?,
            );
        }
        Ok(Self {
            writer: Some(writer_tx),
            readers: Some(readers_tx),
            checkpoints: Some(nudge_tx),
            threads,
            size: readers.max(1) + 1,
            stats,
        })
    }

    pub(super) fn size(&self) -> usize {
        self.size
    }

    pub(super) fn stats(&self) -> &GroupStats {
        &self.stats
    }

    pub(super) async fn read<R: FromRow>(&self, sql: Sql, params: Vec<Value>) -> Result<Vec<R>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(run_query::<R>(conn, &sql, &params));
        });
        self.readers.as_ref().ok_or_else(gone)?.send(job).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Queue a transaction on the writer. Nothing is awaited here: it starts when the writer reaches it, and a
    /// failure is reported to the transaction's first awaited step. A `large` one starts a group of its own.
    pub(super) fn begin(&self, large: bool) -> Result<SqliteTx, StoreError> {
        let (steps_tx, steps_rx) = unbounded::<Step>();
        self.writer.as_ref().ok_or_else(gone)?.send(Queued { steps: steps_rx, large }).map_err(|_| gone())?;
        Ok(SqliteTx { steps: steps_tx })
    }

    pub(super) fn shutdown(mut self) {
        self.writer = None;
        self.readers = None;
        self.checkpoints = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for SqlitePool {
    fn drop(&mut self) {
        // Closing the channels ends the threads once their queued work is done.
        self.writer = None;
        self.readers = None;
        self.checkpoints = None;
    }
}

/// A step's work; it answers its caller itself and hands the writer a copy of its error, if any.
type StepJob = Box<dyn FnOnce(Result<&mut Connection, StoreError>) -> Option<StoreError> + Send>;
type DeferredJob = Box<dyn FnOnce(&mut Connection) -> Result<(), StoreError> + Send>;

enum Step {
    /// Run and answer.
    Run(StepJob),
    /// Run without an answer; a failure is reported to the next awaited step or the commit.
    Deferred(DeferredJob),
    Commit(oneshot::Sender<Result<(), StoreError>>),
    Rollback(oneshot::Sender<Result<(), StoreError>>),
}

fn failed_before() -> StoreError {
    StoreError::Aborted("an earlier statement of this transaction failed".into())
}

/// The same failure again, for another caller: what it means (full, unavailable) is kept.
fn echo(e: &StoreError) -> StoreError {
    match e {
        StoreError::Full(m) => StoreError::Full(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Refused(m) => StoreError::Refused(m.clone()),
        other => StoreError::Aborted(other.to_string()),
    }
}

/// A transaction waiting for the writer: its steps, and whether it writes much (it then starts a group).
struct Queued {
    steps: Receiver<Step>,
    large: bool,
}

/// The writer: group after group, until the pool closes.
fn run_writer(conn: Connection, jobs: &Receiver<Queued>, stats: &GroupStats, nudge: &Sender<()>) {
    let mut conn = conn;
    // a large transaction that closed the group before it, to start the next
    let mut held: Option<Queued> = None;
    loop {
        let Some(first) = held.take().or_else(|| jobs.recv().ok()) else { break };
        let mut group = Group::begin(&conn);
        let mut next = Some(first);
        while let Some(queued) = next.take() {
            if queued.large && group.members > 0 {
                held = Some(queued);
                break;
            }
            group.run(&mut conn, &queued.steps);
            if group.lost.is_some() || group.acks.len() >= GROUP_MEMBERS || group.opened.elapsed() >= GROUP_OPEN {
                break;
            }
            // none waiting (or the pool closing): commit what the group has
            next = jobs.try_recv().ok();
        }
        if group.finish(&conn, stats) {
            let _ = nudge.try_send(());
        }
    }
    close(conn);
}

/// Transactions sharing one database transaction, each in its own savepoint.
struct Group {
    opened: Instant,
    /// Why the shared transaction could not begin, or was lost (SQLite rolls the whole of it back after some
    /// errors: a full disk, an I/O error): no further member may run in it.
    lost: Option<StoreError>,
    /// Members whose work is released into the shared transaction, waiting for its commit.
    acks: Vec<oneshot::Sender<Result<(), StoreError>>>,
    /// Members that ran in the shared transaction (released or not).
    members: usize,
}

impl Group {
    fn begin(conn: &Connection) -> Group {
        let lost = conn.execute_batch("BEGIN IMMEDIATE").map_err(map_error).err();
        Group { opened: Instant::now(), lost, acks: Vec::new(), members: 0 }
    }

    /// Undo the whole shared transaction and begin another: what the group's first member does instead of rolling
    /// back to a savepoint (nothing else is in it yet).
    fn restart(&mut self, conn: &Connection) {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        *self = Group::begin(conn);
    }

    /// Whether the shared transaction is still open; when it is not, record why.
    fn holds(&mut self, conn: &Connection, why: impl FnOnce() -> StoreError) -> bool {
        if self.lost.is_none() && conn.is_autocommit() {
            self.lost = Some(why());
        }
        self.lost.is_none()
    }

    /// Run one transaction to its end: released into the group (acknowledged at the group's commit), or undone to
    /// its savepoint and answered now.
    fn run(&mut self, conn: &mut Connection, steps: &Receiver<Step>) {
        // The first member runs in the shared transaction itself: undoing it is undoing the group, which holds
        // nothing else yet. The others each run in a savepoint.
        let first = self.members == 0;
        self.members += 1;
        // The first failure of the transaction, not yet reported to the caller.
        let mut failure: Option<StoreError> = self.lost.as_ref().map(echo);
        if failure.is_none() && !first {
            failure = conn.execute_batch("SAVEPOINT member").map_err(map_error).err();
        }
        let began = failure.is_none();
        let mut failed = !began;
        let undo = |group: &mut Group, conn: &Connection| {
            if first {
                group.restart(conn);
            } else {
                let _ = conn.execute_batch("ROLLBACK TO member; RELEASE member");
            }
        };
        loop {
            match steps.recv() {
                Ok(Step::Run(work)) => {
                    if failed {
                        work(Err(failure.take().unwrap_or_else(failed_before)));
                    } else if let Some(error) = work(Ok(conn)) {
                        if !self.holds(conn, || echo(&error)) {
                            // the statement took the whole shared transaction with it: nothing more may run
                            failure = Some(echo(&error));
                            failed = true;
                        }
                    }
                }
                Ok(Step::Deferred(work)) => {
                    if !failed {
                        if let Err(e) = work(conn) {
                            self.holds(conn, || echo(&e));
                            failure = Some(e);
                            failed = true;
                        }
                    }
                }
                Ok(Step::Commit(reply)) => {
                    if failed {
                        if self.lost.is_none() && began {
                            undo(self, conn);
                        }
                        let _ = reply.send(Err(failure.take().unwrap_or_else(failed_before)));
                        return;
                    }
                    let released = if first { Ok(()) } else { conn.execute_batch("RELEASE member").map_err(map_error) };
                    match released {
                        Ok(()) => self.acks.push(reply),
                        Err(e) => {
                            self.holds(conn, || echo(&e));
                            if self.lost.is_none() {
                                undo(self, conn);
                            }
                            let _ = reply.send(Err(e));
                        }
                    }
                    return;
                }
                Ok(Step::Rollback(reply)) => {
                    if self.lost.is_none() && began {
                        undo(self, conn);
                    }
                    let _ = reply.send(Ok(()));
                    return;
                }
                Err(_) => {
                    // dropped without commit or rollback
                    if self.lost.is_none() && began {
                        undo(self, conn);
                    }
                    return;
                }
            }
        }
    }

    /// Commit the shared transaction and answer its members; whether anything was committed.
    fn finish(self, conn: &Connection, stats: &GroupStats) -> bool {
        let result = match &self.lost {
            Some(e) => Err(echo(e)),
            None => conn.execute_batch("COMMIT").map_err(map_error),
        };
        match result {
            // a group whose only members were undone: nothing was written
            Ok(()) if self.acks.is_empty() => false,
            Ok(()) => {
                stats.groups.fetch_add(1, Ordering::Relaxed);
                stats.committed.fetch_add(self.acks.len() as u64, Ordering::Relaxed);
                for ack in self.acks {
                    let _ = ack.send(Ok(()));
                }
                true
            }
            Err(e) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                for ack in self.acks {
                    let _ = ack.send(Err(echo(&e)));
                }
                false
            }
        }
    }
}

pub(super) struct SqliteTx {
    steps: Sender<Step>,
}

impl SqliteTx {
    async fn run<T: Send + 'static>(
        &mut self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: StepJob = Box::new(move |conn| {
            let result = conn.and_then(work);
            let error = result.as_ref().err().map(echo);
            let _ = reply.send(result);
            error
        });
        self.steps.send(Step::Run(job)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    pub(super) async fn query<R: FromRow>(&mut self, sql: Sql, params: Vec<Value>) -> Result<Vec<R>, StoreError> {
        self.run(move |conn| run_query::<R>(conn, &sql, &params)).await
    }

    pub(super) async fn execute(&mut self, sql: Sql, params: Vec<Value>) -> Result<u64, StoreError> {
        self.run(move |conn| run_execute(conn, &sql, &params)).await
    }

    pub(super) fn execute_deferred(&mut self, sql: Sql, params: Vec<Value>) -> Result<(), StoreError> {
        let job: DeferredJob = Box::new(move |conn| run_execute(conn, &sql, &params).map(drop));
        self.steps.send(Step::Deferred(job)).map_err(|_| gone())
    }

    pub(super) fn defer(
        &mut self,
        work: impl FnOnce(&mut Connection) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        self.steps.send(Step::Deferred(Box::new(work))).map_err(|_| gone())
    }

    pub(super) async fn execute_batch(&mut self, sql: Sql) -> Result<(), StoreError> {
        self.run(move |conn| conn.execute_batch(&sql).map_err(map_error)).await
    }

    pub(super) async fn commit(self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.steps.send(Step::Commit(reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    pub(super) async fn rollback(self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.steps.send(Step::Rollback(reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

#[cfg(test)]
mod parameter_tests {
    use super::{numbered, run_query};
    use crate::store::Value;

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_database_and_its_wal_are_its_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.db");
        let store =
            crate::store::Store::connect(&format!("sqlite://{}", path.display()), &Default::default()).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        tx.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);").await.unwrap();
        tx.commit().await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
        store.close().await;
    }

    #[test]
    fn parameters_are_numbered_outside_quotes_and_comments() {
        assert_eq!(numbered("SELECT $1, $2"), "SELECT ?1, ?2");
        assert_eq!(numbered("SELECT $2 WHERE a = $1 OR b = $2"), "SELECT ?2 WHERE a = ?1 OR b = ?2");
        assert_eq!(numbered("SELECT '$3', \"$4\" -- $5\n, $12"), "SELECT '$3', \"$4\" -- $5\n, ?12");
        assert_eq!(numbered("SELECT json_extract(x, '$.a') FROM t"), "SELECT json_extract(x, '$.a') FROM t");
        assert!(matches!(numbered("SELECT 1"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn a_value_is_bound_to_its_number_wherever_and_however_often_it_appears() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let rows: Vec<(String, i64, String)> = run_query(
            &conn,
            "SELECT $3, $1 + $1, '$2' || $2",
            &[Value::from(20i64), Value::from("b"), Value::from("c")],
        )
        .unwrap();
        assert_eq!(rows, vec![("c".to_owned(), 40, "$2b".to_owned())]);
        let wrong = run_query::<(i64,)>(&conn, "SELECT $1 + $2", &[Value::from(1i64)]);
        assert!(wrong.is_err(), "a parameter without a value is refused");
    }
}

#[cfg(test)]
mod error_tests {
    use super::map_error;
    use crate::http::Problem;
    use crate::store::StoreError;

    #[test]
    fn a_full_database_is_told_apart_from_a_failure_and_answered_507() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        connection.execute_batch("CREATE TABLE t (x TEXT); PRAGMA max_page_count = 3;").unwrap();
        let full = (0..1000)
            .find_map(|_| connection.execute("INSERT INTO t VALUES (zeroblob(2000))", []).err())
            .expect("three pages fill up");
        let error = map_error(full);
        assert!(matches!(error, StoreError::Full(_)), "{error:?}");
        assert!(!error.is_unavailable());
        let problem = Problem::from(error);
        assert_eq!(problem.status, 507, "{problem:?}");
        assert!(problem.kind.ends_with("storage-full"), "{problem:?}");
        let rows: i64 = connection.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert!(rows > 0, "what fit before is kept");
    }
}
