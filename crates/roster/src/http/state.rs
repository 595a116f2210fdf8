//! What every handler can reach.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::principal::{Principal, TenantRef};
use crate::store::{Store, StoreError};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the HTTP layer learns who a token belongs to and which tenant a slug names, without importing the modules that
/// know (the app wires them in).
pub trait Directory: Send + Sync + 'static {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<Principal>, StoreError>>;
    fn tenant<'a>(&'a self, slug: &'a str) -> BoxFuture<'a, Result<Option<TenantRef>, StoreError>>;
    /// The live tenant with this id (the home tenant of a credential).
    fn tenant_by_id(&self, id: uuid::Uuid) -> BoxFuture<'_, Result<Option<TenantRef>, StoreError>>;
}

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Where report queries go: a read replica when `reports_database_url` is set, else the same store.
    pub reports: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub directory: Arc<dyn Directory>,
    /// The header that carries the client address behind a trusted proxy; `None`: use the socket's address.
    pub client_ip_header: Option<String>,
    /// The key that seals TOTP secrets; `None` when none is configured (two-factor enrolment is then refused).
    pub secret_key: Option<crate::secrets::SecretKey>,
    /// Rate limits of sign-in.
    pub signin_limits: Arc<super::ratelimit::SignInLimits>,
}
