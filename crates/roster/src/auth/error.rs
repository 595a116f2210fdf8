//! What can go wrong in authentication and the account lifecycle, in the auth module's words.

use crate::http::{Class, Classify, FieldError};
use crate::principal::Forbidden;
use crate::store::StoreError;
use crate::tenants::TenantError;
use crate::users::UserError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The one answer to every failed sign-in, whatever the reason.
    #[error("the login or the password is wrong, or the account cannot sign in now")]
    InvalidCredentials,
    /// The right password for an account with two-factor sign-in, but no code.
    #[error("this account signs in with a code from an authenticator app: send it as totp_code")]
    TotpRequired,
    #[error("the session has ended")]
    SessionEnded,
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Forbidden(String),
    #[error("{detail}")]
    Conflict { field: &'static str, detail: &'static str },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A request that only a signed-in user's session can make, made with an API key.
    #[error("{0}")]
    NeedsSession(&'static str),
    #[error("the session's activity changed too often; retry")]
    Busy,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Tenant(#[from] TenantError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AuthError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<Forbidden> for AuthError {
    fn from(forbidden: Forbidden) -> Self {
        AuthError::Forbidden(format!("this operation needs the {} role", forbidden.needs))
    }
}

impl Classify for AuthError {
    fn class(&self) -> Class<'_> {
        match self {
            AuthError::InvalidCredentials => Class::Unauthenticated("invalid-credentials", "Invalid credentials"),
            AuthError::TotpRequired => Class::Unauthenticated("totp-required", "Code required"),
            AuthError::SessionEnded => Class::Unauthenticated("unauthenticated", "Authentication required"),
            AuthError::Invalid(errors) => Class::Invalid(errors.clone()),
            AuthError::Forbidden(_) => Class::Forbidden,
            AuthError::Conflict { field, .. } => Class::Conflict(field),
            AuthError::NotFound(what) => Class::NotFound(what),
            AuthError::NeedsSession(_) => Class::Malformed,
            AuthError::Busy => Class::Stale,
            AuthError::Hashing(_) => Class::Internal,
            AuthError::User(e) => e.class(),
            AuthError::Tenant(e) => e.class(),
            AuthError::Store(e) => Class::Store(e),
        }
    }
}
