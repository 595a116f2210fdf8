//! Authentication: API keys, the bootstrap sysadmin, and turning a bearer token into a [`Principal`].

mod error;
pub mod external;
pub mod lifecycle;
pub mod login;
mod model;
mod repo;
pub mod routes;
pub mod sessions;

use time::OffsetDateTime;
use uuid::Uuid;

pub use error::AuthError;
pub use model::{ApiKey, API_KEY_PREFIX, SESSION_PREFIX};

use crate::audit::{self, Action, Change};
use crate::config::Config;
use crate::migrate::Migration;
use crate::principal::{ActorKind, Principal, Role, Sysadmin, TenantId, TenantScope};
use crate::store::{Store, StoreError};
use crate::tenants::{self, NewTenant};
use crate::users::{self, NewUser, Passwords};

pub const MIGRATIONS: &[Migration] =
    &[crate::migration!(4, "0004_api_keys", "api_keys"), crate::migration!(5, "0005_sessions", "sessions")];

/// The principal a bearer token stands for: a live API key or a live session. API keys verified within the last
/// [`VERIFIED_KEY_TTL`] are answered from `keys` (see [`VerifiedKeys`]).
pub async fn authenticate(
    store: &Store,
    keys: &VerifiedKeys,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<Principal>, StoreError> {
    if token.len() > 200 {
        return Ok(None);
    }
    if token.starts_with(SESSION_PREFIX) {
        return login::authenticate_session(store, token, now).await;
    }
    if !token.starts_with(API_KEY_PREFIX) {
        return Ok(None);
    }
    let hash = model::token_hash(token);
    // read before the key is: a revocation committed after the read moves it, and the answer is not remembered
    let epoch = crate::principal::authority_epoch();
    if let Some(key) = keys.get(&hash, epoch, now) {
        return Ok(Some(key.principal()));
    }
    let Some((tenant_id, key_id, role, expires_at)) = repo::active_by_hash(store, hash.clone(), now).await? else {
        return Ok(None);
    };
    // a role this binary does not know is an error, never a default
    let role = <Role as crate::store::TextEnum>::from_text(&role)
        .ok_or_else(|| StoreError::Decode(format!("Role {role:?}: not a value this roster knows")))?;
    let key = VerifiedKey { verified: std::time::Instant::now(), epoch, tenant_id, key_id, role, expires_at };
    let principal = key.principal();
    keys.remember(hash, key);
    Ok(Some(principal))
}

/// How long a verified API key is answered without reading it again. A revocation, or a change of a tenant, made in
/// this process takes effect at once (it moves [`crate::principal::authority_epoch`]); one made by another process
/// (`roster apikey revoke`, another server on the same PostgreSQL) within this time, as tenant changes do.
pub const VERIFIED_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// API keys this process verified lately, by the hash of their token (never the token itself). Every request with an
/// API key needs its key: remembering it for [`VERIFIED_KEY_TTL`] saves a database read per request. Unknown,
/// revoked and expired keys are never remembered, and a remembered key is checked against its expiry at every use.
#[derive(Default)]
pub struct VerifiedKeys {
    keys: std::sync::Mutex<std::collections::HashMap<Vec<u8>, VerifiedKey>>,
}

/// At most this many keys are remembered; past it the stale ones are dropped, and then all.
const VERIFIED_KEYS_KEPT: usize = 10_000;

#[derive(Clone)]
struct VerifiedKey {
    verified: std::time::Instant,
    /// [`crate::principal::authority_epoch`] read before the key was.
    epoch: u64,
    tenant_id: Uuid,
    key_id: Uuid,
    role: Role,
    expires_at: Option<OffsetDateTime>,
}

impl VerifiedKey {
    fn principal(&self) -> Principal {
        Principal {
            kind: ActorKind::ApiKey,
            user_id: None,
            api_key_id: Some(self.key_id),
            session_id: None,
            // the key's own tenant, found by its token
            tenant_id: TenantId::authenticated(self.tenant_id),
            role: self.role,
        }
    }

    fn usable(&self, epoch: u64, now: OffsetDateTime) -> bool {
        self.epoch == epoch
            && self.verified.elapsed() < VERIFIED_KEY_TTL
            && self.expires_at.is_none_or(|expires| expires > now)
    }
}

impl VerifiedKeys {
    fn get(&self, hash: &[u8], epoch: u64, now: OffsetDateTime) -> Option<VerifiedKey> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(hash).filter(|key| key.usable(epoch, now)).cloned()
    }

    fn remember(&self, hash: Vec<u8>, key: VerifiedKey) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= VERIFIED_KEYS_KEPT {
            keys.retain(|_, kept| kept.verified.elapsed() < VERIFIED_KEY_TTL);
            if keys.len() >= VERIFIED_KEYS_KEPT {
                keys.clear();
            }
        }
        keys.insert(hash, key);
    }
}

/// A new API key and the token to hand out; the token is never stored and cannot be shown again.
pub async fn create_api_key(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    name: &str,
    role: Role,
    expires_at: Option<OffsetDateTime>,
) -> Result<(ApiKey, String), AuthError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AuthError::invalid("name", "must be 1 to 100 characters, without control characters"));
    }
    if role > scope.role() {
        return Err(AuthError::Forbidden(format!("a {} cannot create a {role} key", scope.role())));
    }
    let token = model::generate_key();
    let key = ApiKey {
        id: Uuid::now_v7(),
        tenant_id: scope.tenant_id().uuid(),
        name: name.to_owned(),
        role,
        prefix: token.chars().take(API_KEY_PREFIX.len() + 6).collect(),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    let mut tx = store.begin().await?;
    repo::insert(&mut tx, &key, model::token_hash(&token)).await?;
    let view = serde_json::to_value(&key).unwrap_or_default();
    audit::record(&mut tx, scope, now, Change::new(Action::Create, "api_key", key.id).values(None, Some(view))).await?;
    tx.commit().await?;
    Ok((key, token))
}

pub async fn list_api_keys(store: &Store, scope: &TenantScope) -> Result<Vec<ApiKey>, StoreError> {
    repo::list(store, scope.tenant_id()).await
}

/// Revoke a key; it stops working at once.
pub async fn revoke_api_key(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    id: Uuid,
) -> Result<(), AuthError> {
    let mut tx = store.begin().await?;
    if !repo::revoke(&mut tx, scope.tenant_id(), id, now).await? {
        return Err(AuthError::NotFound("active API key"));
    }
    let change = Change::new(Action::Delete, "api_key", id).values(
        None,
        Some(serde_json::json!({ "revoked_at": now.format(&time::format_description::well_known::Rfc3339).ok() })),
    );
    audit::record(&mut tx, scope, now, change).await?;
    tx.commit().await?;
    // a key this process remembers as verified is read again
    crate::principal::authority_narrowed();
    Ok(())
}

/// What the first start created.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub tenant: String,
    pub admin_email: String,
    /// Set when roster generated the password: print it once.
    pub generated_password: Option<String>,
}

/// On an empty database, create the `default` tenant and the sysadmin. Does nothing once any tenant exists.
pub async fn bootstrap(store: &Store, config: &Config, now: OffsetDateTime) -> Result<Option<Bootstrap>, AuthError> {
    let actor = crate::principal::Actor::system();
    let sysadmin = Sysadmin::operator_unchecked(actor.clone());
    if !tenants::list(store, &sysadmin, None, 1).await?.is_empty() {
        return Ok(None);
    }
    let tenant = match tenants::create(
        store,
        &sysadmin,
        now,
        NewTenant { slug: "default".into(), name: "Default".into(), external_id: None },
    )
    .await
    {
        Ok(tenant) => tenant,
        // Another process bootstrapped at the same moment.
        Err(tenants::TenantError::SlugTaken(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let generated = config.admin_password.is_none().then(|| model::generate_key()[API_KEY_PREFIX.len()..].to_owned());
    let password = config.admin_password.clone().or_else(|| generated.clone());
    let scope = TenantScope::operator_unchecked(tenant.as_ref(), actor);
    users::create(
        store,
        scope.admin()?,
        &Passwords::from_config(config),
        now,
        NewUser {
            email: Some(config.admin_email.clone()),
            display_name: Some("Administrator".into()),
            role: Some(Role::Sysadmin),
            password,
            ..NewUser::default()
        },
    )
    .await?;
    Ok(Some(Bootstrap { tenant: tenant.slug, admin_email: config.admin_email.clone(), generated_password: generated }))
}
