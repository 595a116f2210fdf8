//! Registration, email verification, invitations and password resets: single-use tokens (random, stored as SHA-256,
//! expiring) that roster hands to the calling application to deliver; roster sends no mail.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::access::{self, Authorized};
use super::UserError;
use super::{model, repo, NewUser, Passwords, User, UserStatus};
use crate::audit::{self, Action, Change};
use crate::principal::{AdminScope, Role, TenantId, TenantScope};
use crate::store::{StoreError, Tx};

/// Every user token starts with this.
pub const TOKEN_PREFIX: &str = "rt_";

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    Invitation,
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::Invitation => "invitation",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

/// Issue a token for `user_id` in the caller's transaction; the token is returned once and stored hashed.
pub async fn issue(
    tx: &mut Tx,
    tenant_id: TenantId,
    user_id: Uuid,
    purpose: Purpose,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<String, StoreError> {
    let token = crate::tokens::generate(TOKEN_PREFIX);
    repo::insert_token(tx, tenant_id, user_id, purpose.as_str(), crate::tokens::hash(&token), now, now + lifetime)
        .await?;
    Ok(token)
}

fn invalid_token() -> UserError {
    UserError::invalid("token", "is unknown, already used or expired")
}

/// Redeem a token for one of `purposes`: the live user it belongs to, and the purpose it had.
async fn redeem(
    tx: &mut Tx,
    tenant_id: TenantId,
    token: &str,
    now: OffsetDateTime,
    purposes: &[Purpose],
) -> Result<(User, Purpose), UserError> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
        return Err(invalid_token());
    }
    let Some((user_id, purpose)) = repo::redeem_token(tx, tenant_id, crate::tokens::hash(token), now).await? else {
        return Err(invalid_token());
    };
    let purpose = purposes.iter().copied().find(|p| p.as_str() == purpose).ok_or_else(invalid_token)?;
    let user =
        repo::get(&mut *tx, tenant_id, user_id).await?.filter(|u| u.deleted_at.is_none()).ok_or_else(invalid_token)?;
    Ok((user, purpose))
}

/// Self-registration: a `pending_verification` user with a password, and its email verification token.
pub async fn register(
    tx: &mut Tx,
    scope: &TenantScope,
    passwords: &Passwords,
    now: OffsetDateTime,
    lifetime: Duration,
    input: NewUser,
) -> Result<(User, String), UserError> {
    let user = registrant(scope.tenant_id(), passwords, now, input).await?;
    repo::insert(tx, &user).await?;
    let token = issue(tx, scope.tenant_id(), user.id, Purpose::VerifyEmail, now, lifetime).await?;
    let change = Change::new(Action::Create, "user", user.id).values(None, Some(user.view()));
    audit::record(tx, scope, now, change).await?;
    Ok((user, token))
}

/// The user a registration makes, checked (and its password hashed) as every registration is.
async fn registrant(
    tenant_id: TenantId,
    passwords: &Passwords,
    now: OffsetDateTime,
    mut input: NewUser,
) -> Result<User, UserError> {
    if input.email.is_none() {
        return Err(UserError::invalid("email", "is required to register"));
    }
    if input.password.is_none() {
        return Err(UserError::invalid("password", "is required to register"));
    }
    // Whoever registers gets an ordinary account; roles and status are for admins to give.
    input.role = None;
    input.status = Some(UserStatus::PendingVerification);
    input.password_hash = None;
    input.identity_provider = None;
    input.identity_provider_id = None;
    super::build_user(tenant_id, Role::User, passwords, now, input).await
}

/// Everything a registration checks of its input, and the hashing it does, for a tenant that is not there (or not
/// active): a stranger's answer must not tell a tenant that exists from one that does not, by status or by time.
pub async fn check_registration(passwords: &Passwords, now: OffsetDateTime, input: NewUser) -> Result<(), UserError> {
    registrant(TenantId::authenticated(Uuid::nil()), passwords, now, input).await.map(drop)
}

/// Verify an email address: the pending user becomes active.
pub async fn verify_email(
    tx: &mut Tx,
    scope: &TenantScope,
    now: OffsetDateTime,
    token: &str,
) -> Result<User, UserError> {
    let (current, _) = redeem(tx, scope.tenant_id(), token, now, &[Purpose::VerifyEmail]).await?;
    let target = access::token_holder(scope, current);
    let mut next = target.user().clone();
    next.email_verified_at = Some(now);
    if target.user().status == UserStatus::PendingVerification {
        next.status = UserStatus::Active;
    }
    save(tx, &target, now, next).await
}

/// Set a new password with a reset or invitation token. An invited user becomes active (its address is proven by
/// the token); a locked one is unlocked. The caller ends the user's sessions in the same transaction.
pub async fn set_password_with_token<'s>(
    tx: &mut Tx,
    scope: &'s TenantScope,
    passwords: &Passwords,
    now: OffsetDateTime,
    token: &str,
    password: String,
) -> Result<(User, Authorized<'s>), UserError> {
    passwords.check(&password)?;
    let (current, purpose) =
        redeem(tx, scope.tenant_id(), token, now, &[Purpose::PasswordReset, Purpose::Invitation]).await?;
    let target = access::token_holder(scope, current.clone());
    let mut next = current.clone();
    next.password_hash = Some(passwords.hash(password).await.map_err(UserError::Hashing)?);
    if purpose == Purpose::Invitation || current.status == UserStatus::Locked {
        next.status = UserStatus::Active;
    }
    if purpose == Purpose::Invitation && next.email_verified_at.is_none() {
        next.email_verified_at = Some(now);
    }
    let user = save(tx, &target, now, next).await?;
    Ok((user, target))
}

/// A password reset token for the live user with this email, if there is one that may sign in.
pub async fn request_password_reset(
    tx: &mut Tx,
    scope: &TenantScope,
    store: &crate::store::Store,
    now: OffsetDateTime,
    lifetime: Duration,
    email: &str,
) -> Result<Option<(Uuid, String)>, UserError> {
    let Some(user) = repo::by_email(store, scope.tenant_id(), &model::email_key(email)).await? else { return Ok(None) };
    if user.status == UserStatus::Suspended {
        return Ok(None);
    }
    let token = issue(tx, scope.tenant_id(), user.id, Purpose::PasswordReset, now, lifetime).await?;
    // who asked, from where: the token itself never appears
    let change = Change::new(Action::Update, "user", user.id)
        .values(None, Some(serde_json::json!({"password_reset": "requested"})));
    audit::record(tx, scope, now, change).await?;
    Ok(Some((user.id, token)))
}

/// An invitation token for an invited user (admin), e.g. to send a new invitation.
pub async fn invite(
    tx: &mut Tx,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    lifetime: Duration,
    user: &User,
) -> Result<String, StoreError> {
    issue(tx, scope.tenant_id(), user.id, Purpose::Invitation, now, lifetime).await
}

/// Write new credentials of an authorized user, with the audit entry (the password hash never appears in it; the
/// fact that it changed does).
async fn save(tx: &mut Tx, target: &Authorized<'_>, now: OffsetDateTime, mut next: User) -> Result<User, UserError> {
    let current = target.user();
    next.updated_at = now;
    next.failed_login_attempts = 0;
    next.locked_until = None;
    if !repo::set_credentials(tx, target, &next).await? {
        return Err(UserError::Stale);
    }
    next.version = current.version + 1;
    let (old, new) = audit::diff(&current.view(), &next.view());
    let action = if current.status != next.status { Action::StatusChange } else { Action::Update };
    let mut change = Change::new(action, "user", next.id).values(Some(old), Some(new));
    if current.password_hash != next.password_hash {
        let retired = repo::retire_password_tokens(tx, target, now).await?;
        if let Some(serde_json::Value::Object(values)) = change.new_values.as_mut() {
            values.insert("password".into(), "changed".into());
            if retired > 0 {
                values.insert("password_tokens_retired".into(), retired.into());
            }
        }
    }
    audit::record(tx, target.scope(), now, change).await?;
    Ok(next)
}

/// Clear a user's password and issue a reset token (admin), in the caller's transaction.
pub async fn force_reset(
    tx: &mut Tx,
    target: &Authorized<'_>,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<String, UserError> {
    let mut next = target.user().clone();
    next.password_hash = None;
    let user = save(tx, target, now, next).await?;
    Ok(issue(tx, target.tenant_id(), user.id, Purpose::PasswordReset, now, lifetime).await?)
}

/// Change one's own password, proving the current one; in the caller's transaction.
pub async fn change_password(
    tx: &mut Tx,
    target: &Authorized<'_>,
    passwords: &Passwords,
    now: OffsetDateTime,
    current_password: String,
    new_password: String,
) -> Result<User, UserError> {
    passwords.check(&new_password)?;
    if !passwords.verify(target.user().password_hash.clone(), current_password).await.matches {
        return Err(UserError::invalid("current_password", "is not the current password"));
    }
    let mut next = target.user().clone();
    next.password_hash = Some(passwords.hash(new_password).await.map_err(UserError::Hashing)?);
    save(tx, target, now, next).await
}
