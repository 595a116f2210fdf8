//! Sign-in through an external identity provider, vouched for by the application (an API key of role admin or
//! above): the user is found or created by `(identity_provider, identity_provider_id)`, and the sign-in is recorded
//! like a password sign-in.
//!
//! The rules that keep it from being a way to become someone else:
//! - only an API key of role `admin` or `sysadmin` may call it (a `user` key may not even create users);
//! - it never opens a session for a user whose role is above the key's;
//! - `link_by_email` links only a user whose email was verified and that has no identity yet;
//! - a user who enrolled TOTP must also send a current `totp_code` (or a recovery code), as at password sign-in;
//! - a refused attempt (locked, suspended, role too high, unverified email) writes nothing; a wrong TOTP code counts
//!   toward the lockout like a wrong one at password sign-in.
//!
//! Everything the sign-in changes — the link, a new user, the login record and the session — is one transaction.

use serde::Deserialize;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use super::login::{invalid_credentials, open_session_in, totp_required, LoginResponse};
use super::AuthError;
use crate::config::Config;
use crate::principal::{Actor, ActorKind, Role, TenantScope};
use crate::secrets::SecretKey;
use crate::store::Store;
use crate::users::{self, Attempt, ExternalIdentity, Intent, NewUser, Passwords, User};

/// `POST …/auth/external`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalRequest {
    /// e.g. `entra_id`, `google`
    pub identity_provider: String,
    pub identity_provider_id: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// Link an existing user with the same, verified email that has no identity yet; without it such a user is a
    /// conflict.
    #[serde(default)]
    pub link_by_email: bool,
    /// For a user who enrolled two-factor sign-in: a current code of its authenticator app, or a recovery code.
    pub totp_code: Option<String>,
}

pub async fn sign_in(
    store: &Store,
    config: &Config,
    key: Option<&SecretKey>,
    now: OffsetDateTime,
    scope: &TenantScope,
    request: ExternalRequest,
) -> Result<LoginResponse, AuthError> {
    if scope.actor().api_key_id.is_none() {
        return Err(AuthError::Forbidden("external sign-in is for applications: call it with an API key".into()));
    }
    if scope.role() < Role::Admin {
        return Err(AuthError::Forbidden("external sign-in needs an API key of role admin or sysadmin".into()));
    }
    if scope.tenant().status != crate::principal::TenantStatus::Active {
        return Err(invalid_credentials());
    }
    let identity = ExternalIdentity {
        provider: &request.identity_provider,
        provider_id: &request.identity_provider_id,
        email: request.email.as_deref(),
        display_name: request.display_name.as_deref(),
    };
    identity.check()?;

    let target = find_target(store, scope, &request).await?;
    if let Some(user) = &target {
        // the key acts on the user: the one gate decides, as for any admin action (never a role above the key's)
        users::access::check(scope, Intent::Administer, user)?;
        if !users::may_sign_in(user, now) {
            return Err(invalid_credentials());
        }
        if user.totp_enabled_at.is_some() {
            second_factor(store, config, key, now, scope, user, &request).await?;
        }
    }
    let second_factor_checked = target.as_ref().is_some_and(|u| u.totp_enabled_at.is_some());

    let mut tx = store.begin().await?;
    let user = match target {
        Some(seen) => {
            let user = users::link_identity(&mut tx, scope, now, &seen, identity).await?;
            // read again (through the gate) in the transaction: the account may have changed since it was first read
            if !users::may_sign_in(&user, now) {
                return Err(invalid_credentials());
            }
            if user.totp_enabled_at.is_some() && !second_factor_checked {
                return Err(totp_required());
            }
            user
        }
        None => {
            let input = new_user(&request);
            users::insert_external(&mut tx, scope, &Passwords::from_config(config), now, input).await?
        }
    };
    let signing_in = Actor { kind: Some(ActorKind::ApiKey), user_id: Some(user.id), ..scope.actor().clone() };
    let session_scope = TenantScope::anonymous(scope.tenant().clone(), signing_in);
    let facts = serde_json::json!({"method": "external", "identity_provider": request.identity_provider});
    let opened = open_session_in(&mut tx, config, &session_scope, &user, now, None, facts)
        .await
        .map_err(users::UserError::from)?;
    tx.commit().await.map_err(users::UserError::from)?;
    opened.answer(store, scope.tenant_id(), user.id).await
}

/// The user this identity signs in as, read before anything is written: the one linked to it, else (with
/// `link_by_email`) the one with its verified email, else `None` for a new one.
async fn find_target(store: &Store, scope: &TenantScope, request: &ExternalRequest) -> Result<Option<User>, AuthError> {
    let (provider, provider_id) = (request.identity_provider.as_str(), request.identity_provider_id.as_str());
    if let Some(user) = users::find_by_identity(store, scope.tenant_id(), provider, provider_id).await? {
        return Ok(Some(user));
    }
    let Some(address) = request.email.as_deref() else { return Ok(None) };
    let Some(existing) = users::find_by_email_in(store, scope.tenant_id(), address).await? else {
        return Ok(None);
    };
    if !request.link_by_email {
        return Err(AuthError::Conflict {
            field: "email",
            detail: "a user with this email exists; send link_by_email to link it to this identity",
        });
    }
    if existing.identity_provider.is_some() {
        return Err(AuthError::Conflict {
            field: "email",
            detail: "the user with this email is already linked to another identity",
        });
    }
    if existing.email_verified_at.is_none() {
        return Err(AuthError::Conflict {
            field: "email",
            detail: "the user with this email has not verified it, so it cannot be linked by email",
        });
    }
    Ok(Some(existing))
}

/// The TOTP code of a user who enrolled two-factor sign-in, checked and counted like one at password sign-in.
async fn second_factor(
    store: &Store,
    config: &Config,
    key: Option<&SecretKey>,
    now: OffsetDateTime,
    scope: &TenantScope,
    user: &User,
    request: &ExternalRequest,
) -> Result<(), AuthError> {
    let Some(code) = request.totp_code.as_deref() else { return Err(totp_required()) };
    let threshold = config.lock_after_failures;
    let Attempt::Allowed { number } = users::begin_login_attempt(store, scope, user, now, threshold).await? else {
        return Err(invalid_credentials());
    };
    let mut tx = store.begin().await?;
    let passed = users::two_factor::check(&mut tx, key, scope.tenant_id(), user.id, code, now).await?;
    tx.commit().await?;
    if passed {
        return Ok(());
    }
    let lock_until = (number >= threshold).then(|| now + Duration::minutes(config.lock_minutes));
    let attempt = Actor { kind: Some(ActorKind::ApiKey), user_id: Some(user.id), ..scope.actor().clone() };
    let attempt = TenantScope::anonymous(scope.tenant().clone(), attempt);
    let facts = serde_json::json!({"method": "external", "identity_provider": request.identity_provider});
    users::record_login_failure(store, &attempt, Some(user), facts, now, lock_until).await?;
    Err(invalid_credentials())
}

/// A new user for an identity: without an email it still needs a name to be found by, the provider and its id in
/// username characters.
fn new_user(request: &ExternalRequest) -> NewUser {
    let username = request.email.is_none().then(|| {
        format!("{}-{}", request.identity_provider, request.identity_provider_id)
            .chars()
            .map(|c| if c.is_alphanumeric() || "._-@+".contains(c) { c } else { '-' })
            .take(100)
            .collect::<String>()
    });
    NewUser {
        email: request.email.clone(),
        username,
        display_name: request.display_name.clone(),
        identity_provider: Some(request.identity_provider.clone()),
        identity_provider_id: Some(request.identity_provider_id.clone()),
        ..NewUser::default()
    }
}
