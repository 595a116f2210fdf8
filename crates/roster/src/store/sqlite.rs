//! SQLite: one writer thread and a few reader threads, each owning its connection.
//!
//! Work reaches a thread as a closure over a channel and the answer comes back on a oneshot, so the async runtime never
//! blocks on SQLite and writers never meet `SQLITE_BUSY`: there is only one.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, Sender};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::row::{FromRow, Row};
use super::value::Value;
use super::{Sql, StoreError};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

pub(super) struct SqlitePool {
    writer: Option<Sender<Job>>,
    readers: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    size: usize,
}

fn configure(conn: &Connection, writer: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Checkpoint every 40 MB of WAL rather than every 4 MB: a large write (an ingest batch) dirties thousands of
        // pages at once, and checkpointing after each one rewrote the database several times over (measured on a
        // 1M-bug ingest, before the ranking counts existed: 39 s instead of 9 s). The file is cut back to 64 MB
        // after a checkpoint.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    }
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
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
        // Last one out folds the WAL back into the database file.
        let _ = conn.execute_batch("PRAGMA optimize;");
        let _ = conn.close();
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

/// Bind `$1…$n`. SQLite numbers `$N` parameters in order of first appearance, not by N, and its name lookups scan
/// every name, which statements with thousands of parameters (multi-row upserts) cannot afford: the order is read
/// from the SQL text instead, in one pass.
fn bind(stmt: &mut rusqlite::CachedStatement<'_>, sql: &str, params: &[Value]) -> rusqlite::Result<()> {
    let expected = stmt.parameter_count();
    if expected != params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(params.len(), expected));
    }
    match parameter_indexes(sql, params.len()) {
        Some(indexes) => {
            for (value, index) in params.iter().zip(indexes) {
                stmt.raw_bind_parameter(index, value)?;
            }
        }
        None => {
            for (i, value) in params.iter().enumerate() {
                let name = format!("${}", i + 1);
                let index = stmt.parameter_index(&name)?.ok_or_else(|| rusqlite::Error::InvalidParameterName(name))?;
                stmt.raw_bind_parameter(index, value)?;
            }
        }
    }
    Ok(())
}

/// SQLite's index of each of `$1…$count` in `sql`: the rank of its first appearance, outside quotes and comments.
/// `None` when the text does not use exactly `$1…$count` (the caller then asks SQLite by name).
fn parameter_indexes(sql: &str, count: usize) -> Option<Vec<usize>> {
    let bytes = sql.as_bytes();
    let mut indexes = vec![0usize; count];
    let mut next = 1;
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
            b'$' => {
                let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                let n: usize = sql.get(i + 1..i + 1 + digits)?.parse().ok()?;
                if n == 0 || n > count {
                    return None;
                }
                if indexes[n - 1] == 0 {
                    indexes[n - 1] = next;
                    next += 1;
                }
                i += digits;
            }
            _ => {}
        }
        i += 1;
    }
    (next == count + 1).then_some(indexes)
}

pub(super) fn run_query<R: FromRow>(conn: &Connection, sql: &str, params: &[Value]) -> Result<Vec<R>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_error)?;
    bind(&mut stmt, sql, params).map_err(map_error)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        out.push(R::from_row(&Row::Sqlite(row))?);
    }
    Ok(out)
}

fn run_execute(conn: &Connection, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_error)?;
    bind(&mut stmt, sql, params).map_err(map_error)?;
    stmt.raw_execute().map(|n| n as u64).map_err(map_error)
}

fn gone() -> StoreError {
    StoreError::Unavailable("the SQLite worker thread has stopped".into())
}

impl SqlitePool {
    pub(super) fn open(path: &Path, readers: usize) -> Result<Self, StoreError> {
        let open = |flags| Connection::open_with_flags(path, flags).map_err(map_error);
        let writer_conn =
            open(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        configure(&writer_conn, true).map_err(map_error)?;
        let (writer_tx, writer_rx) = unbounded::<Job>();
        let (readers_tx, readers_rx) = unbounded::<Job>();
        let spawn_error = |e: std::io::Error| StoreError::Unavailable(format!("cannot start SQLite thread: {e}"));
        let mut threads =
            vec![spawn_worker("roster-sqlite-writer".into(), writer_conn, writer_rx).map_err(spawn_error)?];
        for i in 0..readers.max(1) {
            let conn = open(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
            configure(&conn, false).map_err(map_error)?;
            conn.pragma_update(None, "query_only", true).map_err(map_error)?;
            threads.push(
                spawn_worker(format!("roster-sqlite-reader-{i}"), conn, readers_rx.clone()).map_err(spawn_error)?,
            );
        }
        Ok(Self { writer: Some(writer_tx), readers: Some(readers_tx), threads, size: readers.max(1) + 1 })
    }

    pub(super) fn size(&self) -> usize {
        self.size
    }

    pub(super) async fn read<R: FromRow>(&self, sql: Sql, params: Vec<Value>) -> Result<Vec<R>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(run_query::<R>(conn, &sql, &params));
        });
        self.readers.as_ref().ok_or_else(gone)?.send(job).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Queue a transaction on the writer. Nothing is awaited here: `BEGIN IMMEDIATE` runs when the writer reaches
    /// it, and a failure is reported to the transaction's first awaited step.
    pub(super) fn begin(&self) -> Result<SqliteTx, StoreError> {
        let (steps_tx, steps_rx) = unbounded::<Step>();
        let job: Job = Box::new(move |conn| run_transaction(conn, &steps_rx));
        self.writer.as_ref().ok_or_else(gone)?.send(job).map_err(|_| gone())?;
        Ok(SqliteTx { steps: steps_tx })
    }

    pub(super) fn shutdown(mut self) {
        self.writer = None;
        self.readers = None;
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
    }
}

type StepJob = Box<dyn FnOnce(Result<&mut Connection, StoreError>) + Send>;
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

/// The writer belongs to one transaction until it commits, rolls back, or its handle is dropped.
fn run_transaction(conn: &mut Connection, steps: &Receiver<Step>) {
    // The first failure of the transaction, not yet reported to the caller.
    let mut failure: Option<StoreError> = conn.execute_batch("BEGIN IMMEDIATE").map_err(map_error).err();
    let began = failure.is_none();
    let mut failed = !began;
    loop {
        match steps.recv() {
            Ok(Step::Run(work)) => {
                if failed {
                    work(Err(failure.take().unwrap_or_else(failed_before)));
                } else {
                    work(Ok(conn));
                }
            }
            Ok(Step::Deferred(work)) => {
                if !failed {
                    if let Err(e) = work(conn) {
                        failure = Some(e);
                        failed = true;
                    }
                }
            }
            Ok(Step::Commit(reply)) => {
                let result = if failed {
                    Err(failure.take().unwrap_or_else(failed_before))
                } else {
                    conn.execute_batch("COMMIT").map_err(map_error)
                };
                if result.is_err() && began {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                let _ = reply.send(result);
                return;
            }
            Ok(Step::Rollback(reply)) => {
                let result = if began { conn.execute_batch("ROLLBACK").map_err(map_error) } else { Ok(()) };
                let _ = reply.send(result);
                return;
            }
            Err(_) => {
                if began {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                return;
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
            let _ = reply.send(conn.and_then(work));
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
    use super::parameter_indexes;

    #[test]
    fn parameters_are_numbered_by_first_appearance() {
        assert_eq!(parameter_indexes("SELECT $1, $2", 2), Some(vec![1, 2]));
        assert_eq!(parameter_indexes("SELECT $2 WHERE a = $1 OR b = $2", 2), Some(vec![2, 1]));
        assert_eq!(parameter_indexes("SELECT '$3', \"$4\" -- $5\n, $1", 1), Some(vec![1]));
        assert_eq!(parameter_indexes("SELECT $1, $3", 3), None, "a gap");
        assert_eq!(parameter_indexes("SELECT $1, $9", 2), None, "beyond the count");
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
