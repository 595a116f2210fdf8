//! Test support: every test gets its own database — a temporary SQLite file, or a freshly created PostgreSQL
//! database with a random name that is dropped afterwards — so tests run in parallel and never see each other's rows.

use std::str::FromStr;

use crate::migrate::Migrator;
use crate::store::{Backend, Store, StoreOptions};

/// Create a tenant and return the operator's scope in it (what the CLI acts as).
pub async fn operator_in_new_tenant(
    store: &Store,
    slug: &str,
    now: time::OffsetDateTime,
) -> crate::principal::TenantScope {
    use crate::principal::{Actor, TenantScope};
    let new = crate::tenants::NewTenant { slug: slug.into(), name: slug.into(), external_id: None };
    let tenant = crate::tenants::create(store, &crate::principal::Sysadmin::operator_unchecked(Actor::cli()), now, new)
        .await
        .expect("create the tenant");
    TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli())
}

/// Where the PostgreSQL server for tests is; without it PostgreSQL tests are skipped, saying so.
pub const POSTGRES_URL_VAR: &str = "ROSTER_TEST_POSTGRES_URL";

/// A database that exists for one test.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Runs even when the test panicked; a thread of its own so it works inside or outside a runtime.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                runtime.block_on(async {
                    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await.ok()?;
                    tokio::spawn(connection);
                    client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.ok()
                })
            })
            .join();
        }
    }
}

impl TestDb {
    /// A fresh, migrated SQLite database in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let db = Self::sqlite_empty().await;
        Migrator::new(&db.store, &crate::migrations()).up(None).await.expect("migrations apply");
        db
    }

    /// A fresh SQLite database without any schema.
    pub async fn sqlite_empty() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let store = Store::connect(&url, &StoreOptions::default()).await.expect("open sqlite");
        TestDb { store, url, _guard: Guard::Sqlite(dir) }
    }

    /// A fresh, migrated PostgreSQL database, or `None` (with a note on stderr) when no server is configured.
    pub async fn postgres() -> Option<TestDb> {
        let db = Self::postgres_empty().await?;
        Migrator::new(&db.store, &crate::migrations()).up(None).await.expect("migrations apply");
        Some(db)
    }

    /// A fresh PostgreSQL database without any schema, or `None` when no server is configured.
    pub async fn postgres_empty() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            eprintln!("SKIPPED: PostgreSQL test ({POSTGRES_URL_VAR} is not set)");
            return None;
        };
        let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
        let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}={admin_url} is set but unreachable: {e}"));
        tokio::spawn(connection);
        client.batch_execute(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
        let mut config = tokio_postgres::Config::from_str(&admin_url).expect("valid postgres url");
        config.dbname(&name);
        let url = postgres_url(&config);
        let options = StoreOptions { postgres_pool_size: 8, ..StoreOptions::default() };
        let store = Store::connect(&url, &options).await.expect("connect to test database");
        Some(TestDb { store, url, _guard: Guard::Postgres { admin_url, name } })
    }

    /// Where a restore connects: on PostgreSQL the URL of `roster_restorer`, a login role without superuser rights
    /// that owns this database (as docs/operations.md has the operator make one); on SQLite the database's own URL.
    pub async fn restore_url(&self) -> String {
        let Guard::Postgres { name, .. } = &self._guard else { return self.url.clone() };
        let mut tx = self.store.begin().await.expect("begin");
        // roles belong to the whole server, and tests run at once: whoever comes second finds it made
        tx.execute_batch(
            "DO $$ BEGIN CREATE ROLE roster_restorer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        )
        .await
        .expect("create the restoring role");
        tx.execute_batch(format!("ALTER DATABASE \"{name}\" OWNER TO roster_restorer")).await.expect("owner");
        tx.commit().await.expect("commit");
        let mut config = tokio_postgres::Config::from_str(&self.url).expect("valid postgres url");
        config.user("roster_restorer");
        postgres_url(&config)
    }

    /// A fresh database of the given backend without any schema.
    pub async fn of_empty(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite_empty().await),
            Backend::Postgres => Self::postgres_empty().await,
        }
    }

    /// A fresh migrated database of the given backend.
    pub async fn of(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres().await,
        }
    }
}

/// Render a connection config back into a URL.
fn postgres_url(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "127.0.0.1".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let password = config.get_password().map(|p| format!(":{}", String::from_utf8_lossy(p))).unwrap_or_default();
    let db = config.get_dbname().unwrap_or("postgres");
    format!("postgres://{user}{password}@{host}:{port}/{db}")
}

/// Run a test body once on SQLite and once on PostgreSQL, each with a fresh migrated database.
///
/// ```ignore
/// store_test!(creates_a_tenant, |db| async move { let store = &db.store; /* … */ });
/// ```
#[macro_export]
macro_rules! store_test {
    ($name:ident, |$db:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = $crate::testing::TestDb::sqlite().await;
                $body.await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($db) = $crate::testing::TestDb::postgres().await else {
                    return;
                };
                $body.await
            }
        }
    };
}

/// Run `async fn body(backend: Backend)` once per backend, as tests `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! backend_test {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::store::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body($crate::store::Backend::Postgres).await
            }
        }
    };
}
