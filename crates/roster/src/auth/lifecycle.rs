//! Registration, email verification and password resets over HTTP: the users module keeps the tokens, this module
//! decides who may ask for them and ends sessions when a password is reset.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use super::repo;
use super::AuthError;
use crate::config::Config;
use crate::principal::{Actor, ActorKind, TenantRef, TenantScope};
use crate::store::Store;
use crate::users::{self, lifecycle, NewUser, Passwords, User};

/// `POST …/auth/register`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    #[schema(format = Password)]
    pub password: String,
    pub timezone: Option<String>,
}

/// A registered user and the token that verifies its email; the calling application delivers the token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegisterResponse {
    pub user: User,
    pub verification_token: String,
}

/// What an anonymous caller hears from registration, whether or not the address was free.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegisterAccepted {
    pub accepted: bool,
}

/// `POST …/auth/verify-email`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub token: String,
}

/// `POST …/auth/password-reset/request`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// The same answer whether or not the email belongs to someone. Only the application (an API key) receives a token
/// to deliver — a real one, or for an unknown address one that was never stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResetAccepted {
    pub accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_token: Option<String>,
}

/// `POST …/auth/password-reset/confirm`: a reset or invitation token and the new password.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub token: String,
    #[schema(format = Password)]
    pub password: String,
}

fn public_scope(tenant: Option<TenantRef>, actor: Actor) -> Result<TenantScope, AuthError> {
    let tenant =
        tenant.filter(|t| t.status == crate::principal::TenantStatus::Active).ok_or(AuthError::NotFound("tenant"))?;
    Ok(TenantScope::anonymous(tenant, Actor { kind: Some(ActorKind::User), ..actor }))
}

pub async fn register(
    store: &Store,
    config: &Config,
    now: OffsetDateTime,
    tenant: Option<TenantRef>,
    actor: Actor,
    request: RegisterRequest,
) -> Result<RegisterResponse, AuthError> {
    let scope = public_scope(tenant, actor)?;
    let input = request.into_new_user();
    let lifetime = Duration::hours(config.verification_token_hours);
    let mut tx = store.begin().await?;
    let (user, token) =
        lifecycle::register(&mut tx, &scope, &Passwords::from_config(config), now, lifetime, input).await?;
    tx.commit().await.map_err(users::UserError::from)?;
    Ok(RegisterResponse { user, verification_token: token })
}

/// A stranger's registration to a tenant that is not there, or not active: checked as a real one (its password
/// hashed, so it takes as long) and then answered as a stranger's registration is, so the answer does not say
/// which tenants exist.
pub async fn register_nowhere(config: &Config, now: OffsetDateTime, request: RegisterRequest) -> Result<(), AuthError> {
    let input = request.into_new_user();
    Ok(lifecycle::check_registration(&Passwords::from_config(config), now, input).await?)
}

impl RegisterRequest {
    /// The user a registration asks for, as the users module takes it.
    fn into_new_user(self) -> NewUser {
        NewUser {
            email: Some(self.email),
            username: self.username,
            display_name: self.display_name,
            password: Some(self.password),
            timezone: self.timezone,
            ..NewUser::default()
        }
    }
}

/// Whether a tenant takes public requests (registration, resets): it is there and active.
pub fn open_to_public(tenant: Option<&TenantRef>) -> bool {
    tenant.is_some_and(|t| t.status == crate::principal::TenantStatus::Active)
}

pub async fn verify_email(
    store: &Store,
    now: OffsetDateTime,
    tenant: Option<TenantRef>,
    actor: Actor,
    request: TokenRequest,
) -> Result<User, AuthError> {
    let scope = public_scope(tenant, actor)?;
    let mut tx = store.begin().await?;
    let user = lifecycle::verify_email(&mut tx, &scope, now, &request.token).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn request_reset(
    store: &Store,
    config: &Config,
    now: OffsetDateTime,
    tenant: Option<TenantRef>,
    actor: Actor,
    for_application: bool,
    request: ResetRequest,
) -> Result<ResetAccepted, AuthError> {
    let scope = public_scope(tenant, actor)?;
    let lifetime = Duration::minutes(config.reset_token_minutes);
    let mut tx = store.begin().await?;
    let issued = lifecycle::request_password_reset(&mut tx, &scope, store, now, lifetime, &request.email).await?;
    tx.commit().await?;
    let token = issued.map(|(_, token)| token).unwrap_or_else(|| crate::tokens::generate(lifecycle::TOKEN_PREFIX));
    Ok(ResetAccepted { accepted: true, reset_token: for_application.then_some(token) })
}

/// Set the password with a reset or invitation token, and end every session of the user.
pub async fn confirm_reset(
    store: &Store,
    config: &Config,
    now: OffsetDateTime,
    tenant: Option<TenantRef>,
    actor: Actor,
    request: ConfirmRequest,
) -> Result<User, AuthError> {
    let scope = public_scope(tenant, actor)?;
    let passwords = Passwords::from_config(config);
    let mut tx = store.begin().await?;
    let (user, holder) =
        lifecycle::set_password_with_token(&mut tx, &scope, &passwords, now, &request.token, request.password).await?;
    repo::revoke_user_sessions(&mut tx, &holder, now).await?;
    tx.commit().await?;
    Ok(user)
}
