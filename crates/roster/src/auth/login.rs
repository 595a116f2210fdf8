//! Password sign-in and sessions.
//!
//! Every failed sign-in answers the same — status, body and, within noise, time — whether the account does not exist,
//! the password is wrong, or the account is locked, suspended, deleted or in a suspended tenant: exactly one Argon2id
//! verification runs per attempt, against a dummy hash when there is nothing real to check.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AuthError;
use super::{model, repo};
use crate::audit::{self, Action, Change};
use crate::config::Config;
use crate::principal::{Actor, ActorKind, Principal, TenantId, TenantRef, TenantScope};
use crate::store::{Store, StoreError};
use crate::users::{self, Attempt, Passwords, User};

/// `POST …/auth/login`: an email or a username, and the password.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: Option<String>,
    pub username: Option<String>,
    #[schema(format = Password)]
    pub password: String,
    /// The current code of an authenticator app, for accounts with two-factor sign-in.
    pub totp_code: Option<String>,
}

/// A new session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The bearer token of the session; shown only here.
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub user: User,
}

/// The one answer to every failed sign-in.
pub fn invalid_credentials() -> AuthError {
    AuthError::InvalidCredentials
}

fn login_name(request: &LoginRequest) -> Result<String, AuthError> {
    let invalid = |message: &str| AuthError::invalid("email", message);
    let name = match (&request.email, &request.username) {
        (Some(email), None) => email.trim().to_owned(),
        (None, Some(username)) => username.trim().to_owned(),
        _ => return Err(invalid("give either email or username")),
    };
    if name.is_empty() || name.chars().count() > 254 {
        return Err(invalid("must be 1 to 254 characters"));
    }
    if request.password.is_empty() || request.password.chars().count() > crate::users::password::MAX_LENGTH {
        return Err(AuthError::invalid("password", "must be 1 to 128 characters"));
    }
    Ok(name)
}

/// A right password for an account with two-factor sign-in, but no code: ask for one.
pub fn totp_required() -> AuthError {
    AuthError::TotpRequired
}

/// Sign in to `tenant` (`None`: no such tenant) and open a session.
#[allow(clippy::too_many_arguments)]
pub async fn login(
    store: &Store,
    config: &Config,
    key: Option<&crate::secrets::SecretKey>,
    now: OffsetDateTime,
    tenant: Option<TenantRef>,
    actor: Actor,
    request: LoginRequest,
) -> Result<LoginResponse, AuthError> {
    let name = login_name(&request)?;
    let passwords = Passwords::from_config(config);
    let tenant = match tenant {
        Some(t) if t.status == crate::principal::TenantStatus::Active => t,
        _ => {
            passwords.verify(None, request.password).await;
            return Err(invalid_credentials());
        }
    };
    let scope = TenantScope::anonymous(tenant.clone(), Actor { kind: Some(ActorKind::User), ..actor.clone() });
    let Some(user) = users::find_for_login(store, scope.tenant_id(), &name).await? else {
        passwords.verify(None, request.password).await;
        // what was typed may be a password in the wrong field: the append-only log keeps only a keyed hash of it
        let typed = key.map(|k| k.keyed_hash("login", &name.to_lowercase()));
        let facts = serde_json::json!({"login_hash": typed});
        users::record_login_failure(store, &scope, None, facts, now, None).await?;
        return Err(invalid_credentials());
    };
    let scope = TenantScope::anonymous(tenant, Actor { user_id: Some(user.id), ..scope.actor().clone() });
    let threshold = config.lock_after_failures;
    let number = match users::begin_login_attempt(store, &scope, &user, now, threshold).await? {
        Attempt::Allowed { number } => number,
        Attempt::Refused => {
            passwords.verify(None, request.password).await;
            users::record_login_failure(store, &scope, Some(&user), serde_json::json!({"login": name}), now, None)
                .await?;
            return Err(invalid_credentials());
        }
    };
    let verification = passwords.verify(user.password_hash.clone(), request.password.clone()).await;
    if !verification.matches {
        let lock_until = (number >= threshold).then(|| now + Duration::minutes(config.lock_minutes));
        users::record_login_failure(store, &scope, Some(&user), serde_json::json!({"login": name}), now, lock_until)
            .await?;
        return Err(invalid_credentials());
    }
    if user.totp_enabled_at.is_some() {
        let Some(code) = request.totp_code.as_deref() else { return Err(totp_required()) };
        let mut tx = store.begin().await?;
        let passed = users::two_factor::check(&mut tx, key, scope.tenant_id(), user.id, code, now).await?;
        tx.commit().await?;
        if !passed {
            let lock_until = (number >= threshold).then(|| now + Duration::minutes(config.lock_minutes));
            users::record_login_failure(
                store,
                &scope,
                Some(&user),
                serde_json::json!({"login": name}),
                now,
                lock_until,
            )
            .await?;
            return Err(invalid_credentials());
        }
    }
    let new_hash = if verification.needs_rehash {
        Some(passwords.hash(request.password).await.map_err(AuthError::Hashing)?)
    } else {
        None
    };

    let facts = serde_json::json!({"method": "password", "rehashed": verification.needs_rehash});
    open_session(store, config, &scope, &user, now, new_hash, facts).await
}

/// Record a successful sign-in and open a session, in one transaction with its `login` audit entry.
pub(super) async fn open_session(
    store: &Store,
    config: &Config,
    scope: &TenantScope,
    user: &User,
    now: OffsetDateTime,
    new_hash: Option<String>,
    facts: serde_json::Value,
) -> Result<LoginResponse, AuthError> {
    let mut tx = store.begin().await?;
    let opened = open_session_in(&mut tx, config, scope, user, now, new_hash, facts).await?;
    tx.commit().await?;
    opened.answer(store, scope.tenant_id(), user.id).await
}

/// A session opened in a transaction, to be answered once it commits.
pub(super) struct Opened {
    token: String,
    expires_at: OffsetDateTime,
}

impl Opened {
    /// The sign-in's answer, with the user as it stands after the commit.
    pub(super) async fn answer(
        self,
        store: &Store,
        tenant_id: TenantId,
        user_id: Uuid,
    ) -> Result<LoginResponse, AuthError> {
        let user = users::find_live(store, tenant_id, user_id).await?.ok_or_else(invalid_credentials)?;
        Ok(LoginResponse { token: self.token, expires_at: self.expires_at, user })
    }
}

/// Record a successful sign-in and open a session inside the caller's transaction, with its `login` audit entry.
pub(super) async fn open_session_in(
    tx: &mut crate::store::Tx,
    config: &Config,
    scope: &TenantScope,
    user: &User,
    now: OffsetDateTime,
    new_hash: Option<String>,
    facts: serde_json::Value,
) -> Result<Opened, StoreError> {
    let token = model::generate_token(model::SESSION_PREFIX);
    let session = repo::SessionRow {
        tenant_id: scope.tenant_id().uuid(),
        id: Uuid::now_v7(),
        user_id: user.id,
        expires_at: now + Duration::hours(config.session_hours),
    };
    let scope = TenantScope::anonymous(
        scope.tenant().clone(),
        Actor { user_id: Some(user.id), session_id: Some(session.id.to_string()), ..scope.actor().clone() },
    );
    users::record_login_success(tx, &scope, user, now, new_hash).await?;
    let (ip, agent) = (scope.actor().ip_address.clone(), scope.actor().user_agent.clone());
    repo::insert_session(tx, &session, model::token_hash(&token), now, ip, agent).await?;
    audit::record(tx, &scope, now, Change::new(Action::Login, "user", user.id).values(None, Some(facts))).await?;
    Ok(Opened { token, expires_at: session.expires_at })
}

/// The principal behind a session token: a live session of a user who may still act.
pub async fn authenticate_session(
    store: &Store,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<Principal>, StoreError> {
    // the session with its live tenant and live user, in one read
    let Some(session) = repo::active_session(store, model::token_hash(token), now).await? else {
        return Ok(None);
    };
    // Only a live, active account is allowed anything: a suspended one, or a locked one while its lock holds, has
    // sessions that authenticate nothing (a lock that ran out counts as active; docs/decisions.md says why a lock
    // stops sessions too).
    if session.status.stops(session.locked_until, now).is_some() {
        return Ok(None);
    }
    Ok(Some(Principal {
        kind: ActorKind::User,
        user_id: Some(session.user_id),
        api_key_id: None,
        session_id: Some(session.id),
        // the session's own tenant, found by its token
        tenant_id: TenantId::authenticated(session.tenant_id),
        role: session.role,
    }))
}

/// End the caller's session.
pub async fn logout(store: &Store, principal: &Principal, actor: &Actor, now: OffsetDateTime) -> Result<(), AuthError> {
    let (Some(session_id), Some(user_id)) = (principal.session_id, principal.user_id) else {
        return Err(AuthError::NeedsSession("logout ends a session; revoke API keys with `roster apikey revoke`"));
    };
    let mut tx = store.begin().await?;
    if repo::revoke_session(&mut tx, principal.tenant_id, session_id, now).await? {
        let change = Change::new(Action::Logout, "user", user_id);
        audit::record_in(&mut tx, principal.tenant_id, actor, now, vec![change]).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `POST /v1/me/activity`: the signed-in user is active now. The time since the session's previous mark counts toward
/// `total_usage_minutes` when it is at most `activity_gap_minutes`; a longer gap starts a new stretch. Seconds are
/// carried per session, so marks every 30 s add up to whole minutes.
pub async fn mark_activity(
    store: &Store,
    config: &Config,
    principal: &Principal,
    actor: &crate::principal::Actor,
    now: OffsetDateTime,
) -> Result<User, AuthError> {
    let (Some(session_id), Some(user_id)) = (principal.session_id, principal.user_id) else {
        return Err(AuthError::NeedsSession("activity is marked by a signed-in user's session, not an API key"));
    };
    let gap_limit = Duration::minutes(config.activity_gap_minutes);
    // A parallel mark of the same session may move the mark first; then count again from where it left it.
    for _ in 0..5 {
        let mut tx = store.begin().await?;
        let Some((seen, usage)) = repo::session_activity(&mut tx, principal.tenant_id, session_id).await? else {
            return Err(AuthError::SessionEnded);
        };
        let gap = now - seen;
        let counted = if gap > Duration::ZERO && gap <= gap_limit { gap.whole_seconds() } else { 0 };
        let total = usage + counted;
        let minutes = total / 60 - usage / 60;
        let at = now.max(seen);
        if !repo::mark_session_activity(&mut tx, principal.tenant_id, session_id, seen, at, total).await? {
            tx.rollback().await?;
            continue;
        }
        users::record_activity(&mut tx, principal.tenant_id, actor, user_id, at, minutes).await?;
        tx.commit().await?;
        return users::find_live(store, principal.tenant_id, user_id).await?.ok_or(AuthError::NotFound("user"));
    }
    Err(AuthError::Busy)
}
