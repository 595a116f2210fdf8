//! Enrolling, confirming, using and removing two-factor sign-in for a user.

use time::OffsetDateTime;
use uuid::Uuid;

use super::access::{authorize, Deleted, Intent};
use super::{repo, totp, UserError};
use crate::audit::{self, Action, Change};
use crate::principal::{TenantId, TenantScope};
use crate::secrets::SecretKey;
use crate::store::{Store, StoreError, Tx};

/// What enrolment hands the user once: the secret for the authenticator app, and recovery codes.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    pub otpauth_uri: String,
    /// Ten single-use codes for when the authenticator is lost.
    pub recovery_codes: Vec<String>,
}

fn no_key() -> UserError {
    UserError::NoSecretKey
}

fn audit_change(user_id: Uuid, what: &str) -> Change {
    Change::new(Action::Update, "user", user_id).values(None, Some(serde_json::json!({ "totp": what })))
}

/// Start enrolment: a new secret (not yet active) and new recovery codes. Refused while two-factor is on.
pub async fn enroll(
    store: &Store,
    scope: &TenantScope,
    key: Option<&SecretKey>,
    now: OffsetDateTime,
    user_id: Uuid,
    account: &str,
) -> Result<Enrolment, UserError> {
    let key = key.ok_or_else(no_key)?;
    let mut tx = store.begin().await?;
    let target = authorize(&mut tx, scope, user_id, Intent::OwnAccount, Deleted::Excluded).await?;
    if target.user().totp_enabled_at.is_some() {
        return Err(UserError::TwoFactor("two-factor sign-in is already on; turn it off first"));
    }
    let (secret, encoded, uri) = totp::generate(&format!("roster {}", scope.tenant().slug), account);
    let codes = totp::recovery_codes();
    repo::set_totp(&mut tx, &target, Some(totp::seal(key, &secret)), None, None, now).await?;
    repo::replace_recovery_codes(&mut tx, &target, codes.iter().map(|c| totp::recovery_hash(c)).collect(), now).await?;
    audit::record(&mut tx, scope, now, audit_change(user_id, "enrolment started")).await?;
    tx.commit().await?;
    Ok(Enrolment { secret: encoded, otpauth_uri: uri, recovery_codes: codes })
}

fn unix(now: OffsetDateTime) -> u64 {
    now.unix_timestamp().max(0) as u64
}

/// Turn two-factor on with a first code from the authenticator.
pub async fn confirm(
    store: &Store,
    scope: &TenantScope,
    key: Option<&SecretKey>,
    now: OffsetDateTime,
    user_id: Uuid,
    code: &str,
) -> Result<(), UserError> {
    let key = key.ok_or_else(no_key)?;
    let mut tx = store.begin().await?;
    let target = authorize(&mut tx, scope, user_id, Intent::OwnAccount, Deleted::Excluded).await?;
    let (sealed, enabled) = (target.user().totp_secret.clone(), target.user().totp_enabled_at);
    if enabled.is_some() {
        return Err(UserError::TwoFactor("two-factor sign-in is already on"));
    }
    let sealed = sealed.ok_or_else(|| UserError::TwoFactor("enrol first: POST /v1/me/totp/enroll"))?;
    let secret = totp::open(key, &sealed)
        .ok_or_else(|| UserError::TwoFactor("the pending secret cannot be read; enrol again"))?;
    let step =
        totp::matching_step(&secret, code, unix(now)).ok_or_else(|| UserError::invalid("code", "does not match"))?;
    repo::set_totp(&mut tx, &target, Some(sealed), Some(now), Some(step as i64), now).await?;
    audit::record(&mut tx, scope, now, audit_change(user_id, "enabled")).await?;
    tx.commit().await?;
    Ok(())
}

/// Check a second factor at sign-in, in the caller's transaction: a current code not used before, or an unused
/// recovery code. Either is spent.
pub async fn check(
    tx: &mut Tx,
    key: Option<&SecretKey>,
    tenant_id: TenantId,
    user_id: Uuid,
    code: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let Some((Some(sealed), Some(_), _)) = repo::totp_state(tx, tenant_id, user_id).await? else { return Ok(false) };
    let secret = key.and_then(|k| totp::open(k, &sealed));
    if let Some(step) = secret.as_deref().and_then(|s| totp::matching_step(s, code, unix(now))) {
        return repo::use_totp_step(tx, tenant_id, user_id, step as i64).await;
    }
    repo::use_recovery_code(tx, tenant_id, user_id, totp::recovery_hash(code), now).await
}

/// Turn two-factor off: by the user itself with a current code (or recovery code), or by an admin without one.
pub async fn disable(
    store: &Store,
    scope: &TenantScope,
    key: Option<&SecretKey>,
    now: OffsetDateTime,
    user_id: Uuid,
    code: Option<&str>,
) -> Result<(), UserError> {
    let mut tx = store.begin().await?;
    let intent = if code.is_some() { Intent::OwnAccount } else { Intent::Administer };
    let target = authorize(&mut tx, scope, user_id, intent, Deleted::Excluded).await?;
    if target.user().totp_enabled_at.is_none() {
        return Err(UserError::TwoFactor("two-factor sign-in is not on"));
    }
    if let Some(code) = code {
        if !check(&mut tx, key, target.tenant_id(), user_id, code, now).await? {
            return Err(UserError::invalid("code", "does not match"));
        }
    }
    repo::set_totp(&mut tx, &target, None, None, None, now).await?;
    repo::replace_recovery_codes(&mut tx, &target, Vec::new(), now).await?;
    audit::record(&mut tx, scope, now, audit_change(user_id, "disabled")).await?;
    tx.commit().await?;
    Ok(())
}
