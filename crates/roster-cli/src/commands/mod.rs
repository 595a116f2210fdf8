//! One file per command group.

pub mod apikey;
pub mod audit;
pub mod backup;
pub mod client;
pub mod ingest;
pub mod migrate;
pub mod permission;
pub mod report;
pub mod seed;
pub mod serve;
pub mod tenant;
pub mod user;

use roster::config::Config;
use roster::migrate::Migrator;
use roster::principal::{Actor, TenantScope};
use roster::store::Store;

use crate::Failure;

/// Open the configured database, sealing audit entries with the key derived from the server's secret key (the
/// configured one, or the key file beside a SQLite database, made on first use).
pub async fn connect(config: &Config) -> Result<Store, Failure> {
    let secret = roster::secrets::load_or_create(config).map_err(Failure::Runtime)?;
    let store = Store::connect(&config.database_url, &config.store_options())
        .await
        .map_err(|e| Failure::Runtime(format!("cannot open {}: {e}", config.database_url)))?;
    Ok(store.with_chain_key(secret.as_ref().map(roster::audit::chain_key)))
}

/// Open the database and bring the schema up to this binary's version (refusing drift or a newer database), then
/// check that this process has the secret key the database is sealed under (refusing another key, or none).
pub async fn open(config: &Config) -> Result<Store, Failure> {
    let store = open_unchecked(config).await?;
    check_key(&store).await?;
    Ok(store)
}

/// [`open`] without the key check: for adopting a key.
pub async fn open_unchecked(config: &Config) -> Result<Store, Failure> {
    let store = connect(config).await?;
    let migrations = roster::migrations();
    Migrator::new(&store, &migrations).up(None).await?;
    Ok(store)
}

/// Refuse to go on with a key other than the one the database is sealed under (one line, exit 2).
pub async fn check_key(store: &Store) -> Result<roster::audit::KeyCheck, Failure> {
    roster::audit::check_key(store, now()).await.map_err(|e| match e {
        roster::audit::KeyErrorOrStore::Key(e) => Failure::Usage(e.to_string()),
        roster::audit::KeyErrorOrStore::Store(e) => Failure::Runtime(e.to_string()),
    })
}

/// The operator's scope in a tenant.
pub async fn scope(store: &Store, slug: &str) -> Result<TenantScope, Failure> {
    let tenant = roster::tenants::find(store, slug)
        .await?
        .ok_or_else(|| Failure::Usage(format!("--tenant: no tenant {slug:?} (see `roster tenant list`)")))?;
    Ok(TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli()))
}

/// The admin capability of a scope (the operator's always has it).
pub fn admin(scope: &TenantScope) -> Result<roster::principal::AdminScope<'_>, Failure> {
    scope.admin().map_err(|e| Failure::Usage(format!("this operation needs the {} role", e.needs)))
}

pub fn now() -> time::OffsetDateTime {
    use roster::clock::Clock;
    roster::clock::SystemClock.now()
}

pub fn rfc3339(t: &Option<time::OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()).unwrap_or_else(|| "-".into())
}
