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

/// The principal a bearer token stands for: a live API key or a live session.
pub async fn authenticate(store: &Store, token: &str, now: OffsetDateTime) -> Result<Option<Principal>, StoreError> {
    if token.len() > 200 {
        return Ok(None);
    }
    if token.starts_with(SESSION_PREFIX) {
        return login::authenticate_session(store, token, now).await;
    }
    if !token.starts_with(API_KEY_PREFIX) {
        return Ok(None);
    }
    let Some((tenant_id, key_id, role)) = repo::active_by_hash(store, model::token_hash(token), now).await? else {
        return Ok(None);
    };
    // a role this binary does not know is an error, never a default
    let role = <Role as crate::store::TextEnum>::from_text(&role)
        .ok_or_else(|| StoreError::Decode(format!("Role {role:?}: not a value this roster knows")))?;
    Ok(Some(Principal {
        kind: ActorKind::ApiKey,
        user_id: None,
        api_key_id: Some(key_id),
        session_id: None,
        // the key's own tenant, found by its token
        tenant_id: TenantId::authenticated(tenant_id),
        role,
    }))
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
