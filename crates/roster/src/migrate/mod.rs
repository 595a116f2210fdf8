//! The migrator: versioned, reversible, checksummed migrations per backend, one transaction each.
//!
//! Each module owns its migrations (`src/<module>/migrations/{sqlite,postgres}/NNNN_name.{up,down}.sql`) and lists them
//! in a `MIGRATIONS` constant; [`crate::migrations`] gathers them in version order.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::store::{Backend, Store, StoreError, Tx, Value};

pub mod distribution;

/// One schema change with its inverse, for both backends.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite_up: &'static str,
    pub sqlite_down: &'static str,
    pub postgres_up: &'static str,
    pub postgres_down: &'static str,
    /// Work the SQL cannot do, run in the migration's transaction after its up script: what needs the server's key
    /// (sealing what the upgrade found under it), which the database never holds.
    pub after_up: Option<AfterUp>,
}

/// A migration's step in code: it gets the migration's transaction (and through it the store's chain key).
pub type AfterUp =
    for<'t> fn(&'t mut Tx) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send + 't>>;

/// Declare a migration from the files of a module's `migrations/` folder.
///
/// ```ignore
/// pub const MIGRATIONS: &[Migration] = &[migration!(1, "0001_tenants", "tenants")];
/// // version 1 named "tenants": reads migrations/sqlite/0001_tenants.up.sql and …down.sql, and the same under
/// // migrations/postgres/, from the declaring module's folder
/// ```
///
/// A migration with a step in code names it last: `migration!(21, "0021_x", "x", after_up = module::step)`.
#[macro_export]
macro_rules! migration {
    ($version:literal, $file:literal, $name:literal) => {
        $crate::migration!(@build $version, $file, $name, None)
    };
    ($version:literal, $file:literal, $name:literal, after_up = $step:path) => {
        $crate::migration!(@build $version, $file, $name, Some($step))
    };
    (@build $version:literal, $file:literal, $name:literal, $after_up:expr) => {
        $crate::migrate::Migration {
            version: $version,
            name: $name,
            sqlite_up: include_str!(concat!("migrations/sqlite/", $file, ".up.sql")),
            sqlite_down: include_str!(concat!("migrations/sqlite/", $file, ".down.sql")),
            postgres_up: include_str!(concat!("migrations/postgres/", $file, ".up.sql")),
            postgres_down: include_str!(concat!("migrations/postgres/", $file, ".down.sql")),
            after_up: $after_up,
        }
    };
}

impl Migration {
    pub fn up(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite_up,
            Backend::Postgres => self.postgres_up,
        }
    }

    pub fn down(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite_down,
            Backend::Postgres => self.postgres_down,
        }
    }

    /// SHA-256 of the backend's up and down scripts: editing either after release is drift.
    pub fn checksum(&self, backend: Backend) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.up(backend).as_bytes());
        hasher.update([0u8]);
        hasher.update(self.down(backend).as_bytes());
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("migration {version} ({name}) was changed after it was applied (checksum drift); restore the original files or migrate down past it with the binary that applied it")]
    Drift { version: i64, name: String },
    #[error("the database has migration {version} ({name}) which this binary does not know: the database is newer than the binary; upgrade roster")]
    Unknown { version: i64, name: String },
    #[error("migration {version} ({name}) failed: {source}")]
    Failed { version: i64, name: String, source: StoreError },
    #[error("unknown target version {0}: see `roster migrate status`")]
    UnknownTarget(i64),
}

/// What `roster migrate status` shows for one version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    pub name: String,
    /// `applied`, `pending`, `drift` (applied, but the files changed) or `unknown` (applied, not in this binary).
    pub state: &'static str,
    #[serde(with = "time::serde::rfc3339::option")]
    pub applied_at: Option<OffsetDateTime>,
}

struct Applied {
    version: i64,
    name: String,
    checksum: String,
    applied_at: OffsetDateTime,
}

impl crate::store::FromRow for Applied {
    fn from_row(row: &crate::store::Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(Applied { version: row.get(0)?, name: row.get(1)?, checksum: row.get(2)?, applied_at: row.get(3)? })
    }
}

const CREATE_TABLE_SQLITE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)";
const CREATE_TABLE_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)";
/// Any constant works; it only has to be the same for every roster process.
const ADVISORY_LOCK_KEY: i64 = 0x726f_7374_6572;

/// Runs a fixed, ordered list of migrations against a store.
pub struct Migrator<'a> {
    store: &'a Store,
    migrations: Vec<Migration>,
}

impl<'a> Migrator<'a> {
    pub fn new(store: &'a Store, migrations: &[Migration]) -> Self {
        let mut migrations = migrations.to_vec();
        migrations.sort_by_key(|m| m.version);
        Self { store, migrations }
    }

    /// A transaction holding the migration lock, with the bookkeeping table in place.
    async fn locked(&self) -> Result<Tx, StoreError> {
        let mut tx = self.store.begin().await?;
        match tx.backend() {
            // BEGIN IMMEDIATE already excludes every other writer.
            Backend::Sqlite => tx.execute_batch(CREATE_TABLE_SQLITE).await?,
            Backend::Postgres => {
                tx.query::<(String,)>("SELECT pg_advisory_xact_lock($1)::text", vec![ADVISORY_LOCK_KEY.into()]).await?;
                tx.execute_batch(CREATE_TABLE_POSTGRES).await?;
            }
        }
        Ok(tx)
    }

    /// The applied migrations as a reader sees them; none before the bookkeeping table exists.
    async fn applied_now(&self) -> Result<Vec<Applied>, StoreError> {
        let exists = match self.store.backend() {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
            }
        };
        if self.store.query_one::<(i64,)>(exists, vec![]).await?.0 == 0 {
            return Ok(Vec::new());
        }
        self.store
            .query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version", vec![])
            .await
    }

    async fn applied(tx: &mut Tx) -> Result<Vec<Applied>, StoreError> {
        tx.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version", vec![]).await
    }

    /// Applied and pending migrations, with drift and unknown versions flagged.
    /// Applied, pending, drifted and unknown migrations. A plain read: it takes neither the writer nor the migration
    /// lock, so readiness checks answer while an ingest or a migration holds them.
    pub async fn status(&self) -> Result<Vec<MigrationStatus>, MigrateError> {
        let applied = self.applied_now().await?;
        let backend = self.store.backend();
        let mut out = Vec::new();
        for m in &self.migrations {
            let (state, applied_at) = match applied.iter().find(|a| a.version == m.version) {
                Some(a) if a.checksum == m.checksum(backend) => ("applied", Some(a.applied_at)),
                Some(a) => ("drift", Some(a.applied_at)),
                None => ("pending", None),
            };
            out.push(MigrationStatus { version: m.version, name: m.name.to_owned(), state, applied_at });
        }
        for a in applied.iter().filter(|a| !self.migrations.iter().any(|m| m.version == a.version)) {
            out.push(MigrationStatus {
                version: a.version,
                name: a.name.clone(),
                state: "unknown",
                applied_at: Some(a.applied_at),
            });
        }
        out.sort_by_key(|s| s.version);
        Ok(out)
    }

    /// Fails on drift or on a migration the binary does not know.
    pub async fn verify(&self) -> Result<(), MigrateError> {
        for s in self.status().await? {
            match s.state {
                "drift" => return Err(MigrateError::Drift { version: s.version, name: s.name }),
                "unknown" => return Err(MigrateError::Unknown { version: s.version, name: s.name }),
                _ => {}
            }
        }
        Ok(())
    }

    /// True when every known migration is applied and nothing drifted.
    pub async fn is_current(&self) -> Result<bool, MigrateError> {
        Ok(self.status().await?.iter().all(|s| s.state == "applied"))
    }

    /// Apply pending migrations up to `to` (all when `None`); the versions applied.
    pub async fn up(&self, to: Option<i64>) -> Result<Vec<i64>, MigrateError> {
        if let Some(target) = to {
            if !self.migrations.iter().any(|m| m.version == target) {
                return Err(MigrateError::UnknownTarget(target));
            }
        }
        self.verify().await?;
        let backend = self.store.backend();
        let mut done = Vec::new();
        for m in self.migrations.iter().filter(|m| to.is_none_or(|t| m.version <= t)) {
            let mut tx = self.locked().await?;
            // Another process may have applied it while we waited for the lock.
            if Self::applied(&mut tx).await?.iter().any(|a| a.version == m.version) {
                tx.rollback().await?;
                continue;
            }
            let failed = |source| MigrateError::Failed { version: m.version, name: m.name.to_owned(), source };
            tx.execute_batch(m.up(backend)).await.map_err(failed)?;
            if let Some(step) = m.after_up {
                step(&mut tx).await.map_err(failed)?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                vec![m.version.into(), m.name.into(), m.checksum(backend).into(), Value::Timestamp(now())],
            )
            .await
            .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            done.push(m.version);
        }
        Ok(done)
    }

    /// Revert the newest `steps` applied migrations; the versions reverted.
    pub async fn down_steps(&self, steps: usize) -> Result<Vec<i64>, MigrateError> {
        self.down_while(|index, _| index < steps).await
    }

    /// Revert every applied migration newer than `to` (0 reverts everything); the versions reverted.
    pub async fn down_to(&self, to: i64) -> Result<Vec<i64>, MigrateError> {
        if to != 0 && !self.migrations.iter().any(|m| m.version == to) {
            return Err(MigrateError::UnknownTarget(to));
        }
        self.down_while(|_, version| version > to).await
    }

    async fn down_while(&self, keep_going: impl Fn(usize, i64) -> bool) -> Result<Vec<i64>, MigrateError> {
        self.verify().await?;
        let backend = self.store.backend();
        let mut done = Vec::new();
        loop {
            let mut tx = self.locked().await?;
            let Some(newest) = Self::applied(&mut tx).await?.pop() else {
                break;
            };
            if !keep_going(done.len(), newest.version) {
                break;
            }
            let m = self
                .migrations
                .iter()
                .find(|m| m.version == newest.version)
                .ok_or(MigrateError::Unknown { version: newest.version, name: newest.name.clone() })?;
            let failed = |source| MigrateError::Failed { version: m.version, name: m.name.to_owned(), source };
            tx.execute_batch(m.down(backend)).await.map_err(failed)?;
            tx.execute("DELETE FROM schema_migrations WHERE version = $1", vec![m.version.into()])
                .await
                .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            done.push(m.version);
        }
        Ok(done)
    }
}

fn now() -> OffsetDateTime {
    crate::clock::truncate(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod upgrades;
