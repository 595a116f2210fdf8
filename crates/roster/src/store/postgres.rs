//! PostgreSQL: tokio-postgres connections from a deadpool pool, statements prepared once per connection.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;

use super::row::{FromRow, Row};
use super::value::Value;
use super::{Sql, StoreError, StoreOptions};

#[derive(Clone)]
pub(super) struct PgPool {
    pool: Pool,
}

pub(super) fn map_error(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let what = db.constraint().map_or_else(|| db.message().to_owned(), str::to_owned);
        match *db.code() {
            SqlState::UNIQUE_VIOLATION => return StoreError::Unique(what),
            SqlState::FOREIGN_KEY_VIOLATION => return StoreError::ForeignKey(what),
            SqlState::CHECK_VIOLATION => return StoreError::Check(what),
            SqlState::DISK_FULL => return StoreError::Full(db.message().to_owned()),
            // the server is shutting down, restarting or out of connection slots, or the connection broke (class
            // 08): the database is away, not the statement wrong
            SqlState::ADMIN_SHUTDOWN
            | SqlState::CRASH_SHUTDOWN
            | SqlState::CANNOT_CONNECT_NOW
            | SqlState::TOO_MANY_CONNECTIONS => return StoreError::Unavailable(postgres_words(db)),
            ref code if code.code().starts_with("08") => return StoreError::Unavailable(postgres_words(db)),
            // a NUL character in text or JSON: every input is checked for one, so this is the last line of defence
            SqlState::CHARACTER_NOT_IN_REPERTOIRE | SqlState::UNTRANSLATABLE_CHARACTER => {
                return StoreError::InvalidText(db.message().to_owned())
            }
            _ => {}
        }
    }
    if e.is_closed() {
        return StoreError::Unavailable(e.to_string());
    }
    StoreError::Postgres(e)
}

fn postgres_words(db: &tokio_postgres::error::DbError) -> String {
    format!("{} ({})", db.message(), db.code().code())
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => match map_error(e) {
            StoreError::Postgres(e) => StoreError::Unavailable(e.to_string()),
            other => other,
        },
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

async fn query_on<R: FromRow>(client: &Object, sql: &str, values: &[Value]) -> Result<Vec<R>, StoreError> {
    let stmt = client.prepare_cached(sql).await.map_err(map_error)?;
    let rows = client.query(&stmt, &params(values)).await.map_err(map_error)?;
    rows.iter().map(|row| R::from_row(&Row::Postgres(row))).collect()
}

impl PgPool {
    pub(super) async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let config =
            tokio_postgres::Config::from_str(url).map_err(|e| StoreError::UnsupportedUrl(format!("{url}: {e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.postgres_pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.postgres_connect_timeout))
            .create_timeout(Some(options.postgres_connect_timeout))
            .recycle_timeout(Some(options.postgres_connect_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // Fail at start, with the server's own words, rather than on the first request.
        drop(pool.get().await.map_err(pool_error)?);
        Ok(Self { pool })
    }

    pub(super) fn status(&self) -> (usize, usize) {
        let status = self.pool.status();
        (status.size, status.available)
    }

    pub(super) fn close(&self) {
        self.pool.close();
    }

    pub(super) async fn query<R: FromRow>(&self, sql: &str, values: &[Value]) -> Result<Vec<R>, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        query_on(&client, sql, values).await
    }

    /// A transaction on a pooled connection. `BEGIN` is not sent yet: it goes with the first statement.
    pub(super) async fn begin(&self) -> Result<PgTx, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        Ok(PgTx { client: Some(client), begun: false, pending: Vec::new(), failed: AtomicBool::new(false) })
    }
}

/// A transaction whose statements are pipelined: `BEGIN` and the writes whose answer nobody waits for are sent
/// together with the next statement that is awaited (or the commit), in order, so they cost one round trip between
/// them instead of one each.
pub(super) struct PgTx {
    client: Option<Object>,
    /// Whether `BEGIN` was sent.
    begun: bool,
    /// Writes to send with the next awaited statement.
    pending: Vec<(Sql, Vec<Value>)>,
    /// A statement failed: PostgreSQL answers a later `COMMIT` of the aborted transaction with a rollback and no
    /// error, so the commit must refuse itself.
    failed: AtomicBool,
}

impl PgTx {
    fn client(&self) -> &Object {
        self.client.as_ref().expect("transaction used after it ended")
    }

    /// Send what is pending, then `last`, without waiting in between; the first failure in that order wins (a failed
    /// statement aborts the transaction, so those after it fail too).
    async fn pipelined<'s, T, F>(&'s mut self, last: impl FnOnce(&'s Object) -> F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        let pending = std::mem::take(&mut self.pending);
        let begin = !self.begun;
        self.begun = true;
        let this: &'s Self = self;
        let result = this.send(pending, begin, last).await;
        if result.is_err() {
            this.failed.store(true, Ordering::Relaxed);
        }
        result
    }

    async fn send<'s, T, F>(
        &'s self,
        pending: Vec<(Sql, Vec<Value>)>,
        begin: bool,
        last: impl FnOnce(&'s Object) -> F,
    ) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        let client = self.client();
        // prepared first (once per connection, then cached), so that the writes go out in their order
        let mut statements = Vec::with_capacity(pending.len());
        for (sql, _) in &pending {
            statements.push(client.prepare_cached(sql).await.map_err(map_error)?);
        }
        let began = async {
            if begin {
                client.batch_execute("BEGIN").await.map_err(map_error)
            } else {
                Ok(())
            }
        };
        let writes =
            futures_util::future::join_all(statements.iter().zip(&pending).map(|(stmt, (_, values))| async move {
                client.execute(stmt, &params(values)).await.map_err(map_error)
            }));
        let (began, written, result) = tokio::join!(began, writes, last(client));
        began?;
        for write in written {
            write?;
        }
        result
    }

    pub(super) async fn query<R: FromRow>(&mut self, sql: &str, values: &[Value]) -> Result<Vec<R>, StoreError> {
        self.pipelined(|client| query_on(client, sql, values)).await
    }

    pub(super) async fn execute(&mut self, sql: &str, values: &[Value]) -> Result<u64, StoreError> {
        self.pipelined(|client| async move {
            let stmt = client.prepare_cached(sql).await.map_err(map_error)?;
            client.execute(&stmt, &params(values)).await.map_err(map_error)
        })
        .await
    }

    /// Queue a write to go with the next awaited statement or the commit; its failure is reported there.
    pub(super) fn execute_deferred(&mut self, sql: Sql, values: Vec<Value>) {
        self.pending.push((sql, values));
    }

    pub(super) async fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.pipelined(|client| async move { client.batch_execute(sql).await.map_err(map_error) }).await
    }

    pub(super) async fn commit(mut self) -> Result<(), StoreError> {
        if self.failed.load(Ordering::Relaxed) {
            // dropping the transaction rolls it back
            return Err(StoreError::Aborted("an earlier statement of this transaction failed".into()));
        }
        if !self.begun && self.pending.is_empty() {
            // nothing was sent: there is nothing to commit
            return Ok(());
        }
        let result =
            self.pipelined(|client| async move { client.batch_execute("COMMIT").await.map_err(map_error) }).await;
        let client = self.client.take().expect("transaction used after it ended");
        if result.is_err() {
            // The connection's state is unknown: don't hand it to the next caller.
            let _ = Object::take(client);
        }
        result
    }

    pub(super) async fn rollback(mut self) -> Result<(), StoreError> {
        let client = self.client.take().expect("transaction used after it ended");
        if !self.begun {
            return Ok(());
        }
        client.batch_execute("ROLLBACK").await.map_err(map_error)
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if let Some(client) = self.client.take().filter(|_| self.begun) {
            // Abandoned (an error, a cancelled request): roll back before the connection returns to the pool.
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(async move {
                        if client.batch_execute("ROLLBACK").await.is_err() {
                            let _ = Object::take(client);
                        }
                    });
                }
                Err(_) => {
                    let _ = Object::take(client);
                }
            }
        }
    }
}
