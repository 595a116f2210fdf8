//! The store: one code path over SQLite (rusqlite on a small thread pool) and PostgreSQL (tokio-postgres).
//!
//! Queries are written once, with `$1, $2, …` placeholders, and run on either backend. Reads outside a transaction go
//! to a reader (SQLite) or any pooled connection (PostgreSQL); every write runs in an explicit [`Tx`].

mod postgres;
mod row;
mod sqlite;
mod value;

use std::borrow::Cow;
use std::sync::Arc;

pub use row::{FromRow, Row, TextEnum, Values};
pub use value::{from_micros, to_micros, Decode, Kind, Value};

/// SQL text: usually a `&'static str`, sometimes built at run time (filters).
pub type Sql = Cow<'static, str>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// When a SQLite commit counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// The WAL is written at commit and synced at checkpoints: a killed process loses nothing, a power cut or an
    /// operating system crash may lose the last commits (never the database's integrity).
    #[default]
    Normal,
    /// The WAL is also synced at every (group) commit: nothing acknowledged is lost even to a power cut.
    Full,
}

impl Synchronous {
    pub fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }

    /// What it promises, for `/readyz` and the logs.
    pub fn promise(self) -> &'static str {
        match self {
            Synchronous::Normal => {
                "sqlite synchronous=normal: an acknowledged write survives a killed process; a power cut may lose the                  last ones"
            }
            Synchronous::Full => "sqlite synchronous=full: an acknowledged write survives a killed process and a power cut",
        }
    }
}

/// Tuning knobs for the connection pools.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// SQLite reader threads.
    pub sqlite_readers: usize,
    /// When a SQLite commit counts as done.
    pub sqlite_synchronous: Synchronous,
    /// PostgreSQL pool size.
    pub postgres_pool_size: usize,
    /// How long a request waits for a PostgreSQL connection before answering 503.
    pub postgres_connect_timeout: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            sqlite_readers: cores.clamp(2, 8),
            sqlite_synchronous: Synchronous::default(),
            postgres_pool_size: (cores * 4).clamp(8, 32),
            postgres_connect_timeout: std::time::Duration::from_secs(3),
        }
    }
}

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database url {0:?}: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A statement after an earlier failed one in the same transaction (the earlier failure was reported first).
    #[error("transaction aborted: {0}")]
    Aborted(String),
    #[error("unique constraint violated: {0}")]
    Unique(String),
    #[error("foreign key constraint violated: {0}")]
    ForeignKey(String),
    #[error("check constraint violated: {0}")]
    Check(String),
    #[error("sqlite: {0}")]
    Sqlite(rusqlite::Error),
    #[error("postgres: {}", postgres_message(.0))]
    Postgres(tokio_postgres::Error),
    /// Text the database cannot store (a NUL character).
    #[error("text the database cannot store: {0}")]
    InvalidText(String),
    #[error("cannot decode {0}")]
    Decode(String),
    #[error("expected one row, found none")]
    NoRows,
    /// The database's disk is full: the write was rolled back; reads still work, and writes resume once space is
    /// freed.
    #[error("the database's disk is full: {0}")]
    Full(String),
    /// The write cannot be made safely in this configuration (the message says what to change).
    #[error("{0}")]
    Refused(String),
}

/// The server's own words when it sent any ("db error" alone says nothing).
fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl StoreError {
    /// True when the database could not be reached, as opposed to rejecting the statement.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Postgres(e) => {
                e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            }
            _ => false,
        }
    }

    /// For a unique violation, the name of the constraint (PostgreSQL) or the columns it covers (SQLite:
    /// `table.column, …`).
    pub fn unique_violation(&self) -> Option<&str> {
        match self {
            StoreError::Unique(what) => Some(what),
            _ => None,
        }
    }

    /// Whether this is a violation of the unique constraint `names` names: its PostgreSQL name and its SQLite
    /// columns, matched exactly.
    pub fn violates(&self, names: &[&str]) -> bool {
        self.unique_violation().is_some_and(|what| names.contains(&what))
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(Arc<sqlite::SqlitePool>),
    Postgres(postgres::PgPool),
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    chain_key: Option<ChainKey>,
    services: Services,
}

/// Services of modules that belong to one store and its clones, one of each type, started on first use (the audit
/// module's writer of read entries is one). A store with another chain key has its own.
#[derive(Clone, Default)]
struct Services(Arc<std::sync::Mutex<ServiceMap>>);

type ServiceMap = std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>;

/// The key that seals audit entries (derived from the server's secret key, never stored in the database). The store
/// carries it so that every transaction, whichever module opens it, seals its entries with it.
#[derive(Clone)]
pub struct ChainKey(Arc<KeyState>);

struct KeyState {
    bytes: [u8; 32],
    /// Set once this process found the database sealed under this key (`audit::check_key`): from then on a database
    /// that records no key, or an unsealed chain head, can only have been tampered with.
    bound: std::sync::atomic::AtomicBool,
}

impl ChainKey {
    pub fn new(bytes: [u8; 32]) -> ChainKey {
        ChainKey(Arc::new(KeyState { bytes, bound: std::sync::atomic::AtomicBool::new(false) }))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0.bytes
    }

    /// Whether this process checked that the database is sealed under this key (every clone of the key shares it).
    pub fn is_bound(&self) -> bool {
        self.0.bound.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Record that the database is sealed under this key.
    pub fn bind(&self) {
        self.0.bound.store(true, std::sync::atomic::Ordering::Release);
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(…)")
    }
}

impl Store {
    /// Open `sqlite://PATH` or connect to `postgres://…`.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let pool = if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(StoreError::UnsupportedUrl(url.to_owned()));
            }
            Pool::Sqlite(Arc::new(sqlite::SqlitePool::open(
                path.as_ref(),
                options.sqlite_readers,
                options.sqlite_synchronous,
            )?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(postgres::PgPool::connect(url, options).await?)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        Ok(Store { pool, chain_key: None, services: Services::default() })
    }

    /// This store, sealing the audit entries of its transactions with `key`.
    pub fn with_chain_key(mut self, key: Option<ChainKey>) -> Store {
        self.chain_key = key;
        // services may write audit entries: those of the other key are not this store's
        self.services = Services::default();
        self
    }

    /// The store's service of type `T`, started by `start` on first use. `start` gets a handle to the same database
    /// and key that does not keep the services alive, so a service that holds it ends when the last clone of this
    /// store is dropped (or closed).
    pub fn service<T: Send + Sync + 'static>(&self, start: impl FnOnce(Store) -> T) -> Arc<T> {
        let mut services = self.services.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = services.entry(std::any::TypeId::of::<T>()).or_insert_with(|| {
            let detached =
                Store { pool: self.pool.clone(), chain_key: self.chain_key.clone(), services: Services::default() };
            Arc::new(start(detached))
        });
        entry.clone().downcast::<T>().expect("a service is stored under its own type")
    }

    /// The key audit entries are sealed with, when the server has a secret key.
    pub fn chain_key(&self) -> Option<&ChainKey> {
        self.chain_key.as_ref()
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// All rows of a read.
    pub async fn query<R: FromRow>(&self, sql: impl Into<Sql>, params: Vec<Value>) -> Result<Vec<R>, StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => pool.read(sql.into(), params).await,
            Pool::Postgres(pool) => pool.query(&sql.into(), &params).await,
        }
    }

    /// At most one row of a read.
    pub async fn query_opt<R: FromRow>(
        &self,
        sql: impl Into<Sql>,
        params: Vec<Value>,
    ) -> Result<Option<R>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Exactly one row of a read.
    pub async fn query_one<R: FromRow>(&self, sql: impl Into<Sql>, params: Vec<Value>) -> Result<R, StoreError> {
        self.query_opt(sql, params).await?.ok_or(StoreError::NoRows)
    }

    /// Start a write transaction. On SQLite it holds the single writer until commit or drop.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        self.begin_as(false).await
    }

    /// Start a write transaction that writes much (an ingest batch, an archive): on SQLite it starts a group commit
    /// of its own, where it needs no savepoint (see `store::sqlite`), instead of joining the open one.
    pub async fn begin_large(&self) -> Result<Tx, StoreError> {
        self.begin_as(true).await
    }

    async fn begin_as(&self, large: bool) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            Pool::Sqlite(pool) => TxInner::Sqlite(pool.begin(large)?),
            Pool::Postgres(pool) => TxInner::Postgres(Box::new(pool.begin().await?)),
        };
        Ok(Tx { inner, chain_key: self.chain_key.clone() })
    }

    /// SQLite's group commits so far: (commits, transactions they acknowledged); `None` on PostgreSQL.
    pub fn group_commits(&self) -> Option<(u64, u64)> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                let stats = pool.stats();
                Some((
                    stats.groups.load(std::sync::atomic::Ordering::Relaxed),
                    stats.committed.load(std::sync::atomic::Ordering::Relaxed),
                ))
            }
            Pool::Postgres(_) => None,
        }
    }

    /// Pool figures for `/metrics`: (connections in use or idle, connections idle).
    pub fn pool_status(&self) -> (usize, usize) {
        match &self.pool {
            Pool::Sqlite(pool) => (pool.size(), pool.size()),
            Pool::Postgres(pool) => pool.status(),
        }
    }

    /// Close the pool: SQLite threads finish their queued work, checkpoint and exit.
    pub async fn close(self) {
        let services = std::mem::take(&mut *self.services.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let had_services = !services.is_empty();
        drop(services);
        match self.pool {
            Pool::Sqlite(mut pool) => {
                // the services' handles go once their work is done: give them a moment
                for _ in 0..if had_services { 200 } else { 1 } {
                    match Arc::try_unwrap(pool) {
                        Ok(pool) => {
                            let _ = tokio::task::spawn_blocking(move || pool.shutdown()).await;
                            return;
                        }
                        Err(shared) => pool = shared,
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
            Pool::Postgres(pool) => pool.close(),
        }
    }
}

/// Reads written once that run in or out of a transaction: repository functions take `impl Query` and are called
/// with a `&Store` (any reader) or a `&mut Tx` (inside the caller's transaction).
pub trait Query: Send {
    fn backend(&self) -> Backend;

    /// ` FOR UPDATE` inside a PostgreSQL transaction, where a row is read to be changed: it stays locked until the
    /// transaction ends, so a concurrent change waits and then reads the new row. Empty elsewhere (SQLite's one writer
    /// already takes turns; a read outside a transaction changes nothing).
    fn row_lock(&self) -> &'static str;

    /// All rows of a statement.
    fn query<R: FromRow>(
        &mut self,
        sql: Sql,
        params: Vec<Value>,
    ) -> impl std::future::Future<Output = Result<Vec<R>, StoreError>> + Send;

    /// At most one row.
    fn query_opt<R: FromRow>(
        &mut self,
        sql: impl Into<Sql> + Send,
        params: Vec<Value>,
    ) -> impl std::future::Future<Output = Result<Option<R>, StoreError>> + Send {
        let sql = sql.into();
        async move { Ok(self.query(sql, params).await?.into_iter().next()) }
    }
}

impl Query for &Store {
    fn backend(&self) -> Backend {
        Store::backend(self)
    }

    fn row_lock(&self) -> &'static str {
        ""
    }

    fn query<R: FromRow>(
        &mut self,
        sql: Sql,
        params: Vec<Value>,
    ) -> impl std::future::Future<Output = Result<Vec<R>, StoreError>> + Send {
        Store::query(self, sql, params)
    }
}

impl Query for &mut Tx {
    fn backend(&self) -> Backend {
        Tx::backend(self)
    }

    fn row_lock(&self) -> &'static str {
        match Tx::backend(self) {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    fn query<R: FromRow>(
        &mut self,
        sql: Sql,
        params: Vec<Value>,
    ) -> impl std::future::Future<Output = Result<Vec<R>, StoreError>> + Send {
        Tx::query(self, sql, params)
    }
}

/// The SQLite writer's connection, lent to work queued with [`Tx::defer_on_writer`]: statements run at once, in the
/// transaction.
pub struct Writer<'a>(&'a rusqlite::Connection);

impl Writer<'_> {
    pub fn query<R: FromRow>(&self, sql: &str, params: &[Value]) -> Result<Vec<R>, StoreError> {
        sqlite::run_query(self.0, sql, params)
    }

    pub fn query_one<R: FromRow>(&self, sql: &str, params: &[Value]) -> Result<R, StoreError> {
        self.query(sql, params)?.into_iter().next().ok_or(StoreError::NoRows)
    }

    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        sqlite::run_execute(self.0, sql, params)
    }
}

enum TxInner {
    Sqlite(sqlite::SqliteTx),
    Postgres(Box<postgres::PgTx>),
}

/// An open write transaction. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx {
    inner: TxInner,
    chain_key: Option<ChainKey>,
}

impl Tx {
    /// The key this transaction's audit entries are sealed with (the store's).
    pub fn chain_key(&self) -> Option<&ChainKey> {
        self.chain_key.as_ref()
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            TxInner::Sqlite(_) => Backend::Sqlite,
            TxInner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Rows of a statement (a SELECT, or a write with RETURNING).
    pub async fn query<R: FromRow>(&mut self, sql: impl Into<Sql>, params: Vec<Value>) -> Result<Vec<R>, StoreError> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.query(sql.into(), params).await,
            TxInner::Postgres(tx) => tx.query(&sql.into(), &params).await,
        }
    }

    pub async fn query_opt<R: FromRow>(
        &mut self,
        sql: impl Into<Sql>,
        params: Vec<Value>,
    ) -> Result<Option<R>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    pub async fn query_one<R: FromRow>(&mut self, sql: impl Into<Sql>, params: Vec<Value>) -> Result<R, StoreError> {
        self.query_opt(sql, params).await?.ok_or(StoreError::NoRows)
    }

    /// Run a statement; the number of rows it changed.
    pub async fn execute(&mut self, sql: impl Into<Sql>, params: Vec<Value>) -> Result<u64, StoreError> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.execute(sql.into(), params).await,
            TxInner::Postgres(tx) => tx.execute(&sql.into(), &params).await,
        }
    }

    /// Run a write whose outcome the caller does not need before commit. It is queued without waiting (on PostgreSQL,
    /// sent with the next statement that is awaited, in one round trip), and a failure is reported by that statement
    /// or the commit.
    pub async fn execute_deferred(&mut self, sql: impl Into<Sql>, params: Vec<Value>) -> Result<(), StoreError> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.execute_deferred(sql.into(), params),
            TxInner::Postgres(tx) => {
                tx.execute_deferred(sql.into(), params);
                Ok(())
            }
        }
    }

    /// Queue `work` to run on the SQLite writer in turn with this transaction's other statements, without an answer:
    /// statements that read and write there, with no decision of the caller's in between, cost no hand-off. A failure
    /// is reported to the next awaited step or the commit. On PostgreSQL there is no writer thread: the caller runs
    /// its statements itself (this refuses).
    pub fn defer_on_writer(
        &mut self,
        work: impl FnOnce(&Writer<'_>) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.defer(move |conn| work(&Writer(conn))),
            TxInner::Postgres(_) => Err(StoreError::Refused("work on the writer is SQLite's".into())),
        }
    }

    /// Run several statements without parameters (migrations).
    pub async fn execute_batch(&mut self, sql: impl Into<Sql>) -> Result<(), StoreError> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.execute_batch(sql.into()).await,
            TxInner::Postgres(tx) => tx.execute_batch(&sql.into()).await,
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await,
            TxInner::Postgres(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.rollback().await,
            TxInner::Postgres(tx) => tx.rollback().await,
        }
    }
}

#[cfg(test)]
mod tests;

/// `$first, $first+1, …`: `n` placeholders numbered from `first`, for an `IN (…)` list.
pub fn placeholder_list(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `($1, …, $width), ($width+1, …), …`: `rows` groups of `width` placeholders, numbered in order of appearance, for a
/// multi-row `VALUES`.
pub fn placeholder_rows(rows: usize, width: usize) -> String {
    (0..rows).map(|row| format!("({})", placeholder_list(row * width + 1, width))).collect::<Vec<_>>().join(", ")
}

/// Parameters of a statement built at run time (filters): each bound value gets the next placeholder.
#[derive(Debug, Default)]
pub struct Params(Vec<Value>);

impl Params {
    pub fn new(first: Vec<Value>) -> Self {
        Params(first)
    }

    /// Add a value; its placeholder (`$n`) for the SQL text.
    pub fn bind(&mut self, value: impl Into<Value>) -> String {
        self.0.push(value.into());
        format!("${}", self.0.len())
    }

    pub fn into_values(self) -> Vec<Value> {
        self.0
    }
}

/// Rows per multi-row statement, largest first: 500 × 15 parameters stays far inside both backends' limits (SQLite
/// 32,766, PostgreSQL 65,535).
const STATEMENT_ROWS: [usize; 5] = [500, 100, 25, 5, 1];

/// Split rows into runs of 500, 100, 25, 5 and 1 for multi-row statements. Few sizes mean few distinct statement texts,
/// so prepared statements are reused: preparing one is costly (SQLite resolves parameter names in quadratic time).
pub fn statement_chunks<T>(rows: &[T]) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let mut rest = rows;
    for size in STATEMENT_ROWS {
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            chunks.push(chunk);
            rest = tail;
        }
    }
    chunks
}

/// The text of a multi-row statement named `name` for `rows` rows, built once per process: with
/// [`statement_chunks`] there are five sizes per statement, so the texts stay few.
pub fn statement_text(name: &'static str, rows: usize, build: impl FnOnce() -> String) -> &'static str {
    static TEXTS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<(&'static str, usize), &'static str>>,
    > = std::sync::OnceLock::new();
    let mut texts = TEXTS.get_or_init(Default::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    texts.entry((name, rows)).or_insert_with(|| Box::leak(build().into_boxed_str()))
}

#[cfg(test)]
mod chunk_tests {
    #[test]
    fn placeholders_number_in_order_of_appearance() {
        assert_eq!(super::placeholder_list(2, 3), "$2, $3, $4");
        assert_eq!(super::placeholder_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        let mut params = super::Params::new(vec![1i64.into()]);
        assert_eq!((params.bind("a"), params.bind(2i64)), ("$2".to_owned(), "$3".to_owned()));
        assert_eq!(params.into_values().len(), 3);
    }

    #[test]
    fn rows_split_into_few_statement_sizes() {
        let rows: Vec<usize> = (0..1137).collect();
        let sizes: Vec<usize> = super::statement_chunks(&rows).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![500, 500, 100, 25, 5, 5, 1, 1]);
        let joined: Vec<usize> = super::statement_chunks(&rows).concat();
        assert_eq!(joined, rows, "in order, nothing lost");
        assert!(super::statement_chunks::<u8>(&[]).is_empty());
    }
}
