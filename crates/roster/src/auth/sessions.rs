//! Sessions seen and ended by their user or by an admin, and an admin's forced password reset.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::repo;
pub use super::repo::SessionView;
use super::AuthError;
use crate::audit::{self, Action, Change};
use crate::principal::TenantScope;
use crate::store::Store;
use crate::users::{self, Deleted, Intent};

/// The live sessions of a user the scope may see (itself, or anyone for an admin).
pub async fn list(
    store: &Store,
    scope: &TenantScope,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<Vec<SessionView>, AuthError> {
    users::get(store, scope, user_id, false).await?;
    Ok(repo::live_sessions(store, scope.tenant_id(), user_id, now).await?)
}

/// End one of the signed-in user's own sessions; 404 if it is not one of its live sessions.
pub async fn revoke(
    store: &Store,
    scope: &TenantScope,
    user_id: Uuid,
    session_id: Uuid,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    let mut tx = store.begin().await?;
    let user = users::authorize(&mut tx, scope, user_id, Intent::OwnAccount, Deleted::Excluded).await?;
    if !repo::revoke_user_session(&mut tx, &user, session_id, now).await? {
        return Err(AuthError::NotFound("session"));
    }
    let change = Change::new(Action::Logout, "user", user_id)
        .values(None, Some(serde_json::json!({"session_id": session_id, "ended_by": "revocation"})));
    audit::record(&mut tx, scope, now, change).await?;
    tx.commit().await?;
    Ok(())
}

/// End every session of a user (admin, never of a user whose role is above the caller's); the number ended.
pub async fn revoke_all(
    store: &Store,
    scope: &TenantScope,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<u64, AuthError> {
    let mut tx = store.begin().await?;
    let user = users::authorize(&mut tx, scope, user_id, Intent::Administer, Deleted::Excluded).await?;
    let ended = repo::revoke_user_sessions(&mut tx, &user, now).await?;
    let change = Change::new(Action::Logout, "user", user_id)
        .values(None, Some(serde_json::json!({"sessions_ended": ended, "ended_by": "admin"})));
    audit::record(&mut tx, scope, now, change).await?;
    tx.commit().await?;
    Ok(ended)
}

/// Force a password reset (admin): the password stops working, every session ends, and a reset token is returned
/// for the application to deliver.
pub async fn force_password_reset(
    store: &Store,
    scope: &TenantScope,
    user_id: Uuid,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<String, AuthError> {
    let mut tx = store.begin().await?;
    let user = users::authorize(&mut tx, scope, user_id, Intent::Administer, Deleted::Excluded).await?;
    let token = users::lifecycle::force_reset(&mut tx, &user, now, lifetime).await?;
    repo::revoke_user_sessions(&mut tx, &user, now).await?;
    tx.commit().await?;
    Ok(token)
}

/// `POST /v1/me/password`: a new password for the signed-in user, who proves the current one. Every other session
/// of the user ends; the one making the change stays.
pub async fn change_own_password(
    store: &Store,
    config: &crate::config::Config,
    scope: &TenantScope,
    principal: &crate::principal::Principal,
    now: OffsetDateTime,
    current_password: String,
    new_password: String,
) -> Result<users::User, AuthError> {
    let (Some(user_id), Some(session_id)) = (principal.user_id, principal.session_id) else {
        return Err(AuthError::NotFound("signed-in user (an API key has none)"));
    };
    let passwords = users::Passwords::from_config(config);
    let mut tx = store.begin().await?;
    let user = users::authorize(&mut tx, scope, user_id, Intent::OwnAccount, Deleted::Excluded).await?;
    let changed =
        users::lifecycle::change_password(&mut tx, &user, &passwords, now, current_password, new_password).await?;
    repo::revoke_other_sessions(&mut tx, &user, session_id, now).await?;
    tx.commit().await?;
    Ok(changed)
}
