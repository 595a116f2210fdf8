//! What can go wrong with users, in the users module's words; `http/` turns each into an answer ([`Classify`]).

use crate::http::{Class, Classify, FieldError};
use crate::principal::Role;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldError>),
    #[error("user not found")]
    NotFound,
    /// An email, username or identity provider account another live user has.
    #[error("{detail}")]
    Taken { field: &'static str, detail: &'static str },
    #[error("the user is at version {current}, not {expected}")]
    VersionMismatch { current: i64, expected: i64 },
    #[error("the user was changed meanwhile; fetch it again")]
    Stale,
    #[error("this operation needs the {0} role")]
    NeedsRole(Role),
    #[error("a {actor} cannot act on a {target}")]
    RoleAbove { actor: Role, target: Role },
    #[error("a {granter} cannot give the {role} role")]
    CannotGrant { granter: Role, role: Role },
    #[error("the user is not deleted")]
    NotDeleted,
    #[error("the user is not locked")]
    NotLocked,
    #[error("{0}")]
    TwoFactor(&'static str),
    #[error("two-factor sign-in needs the server's secret key (ROSTER_SECRET_KEY)")]
    NoSecretKey,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Store(StoreError),
}

fn describe(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

impl UserError {
    /// One invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        UserError::Invalid(vec![FieldError::new(field, message)])
    }
}

/// The unique indexes of users, as each backend names them (PostgreSQL: the index; SQLite: its columns), and the
/// field each protects.
const UNIQUE: [(&str, &[&str], &str); 3] = [
    ("email", &["users_email_key", "users.tenant_id, users.email_key"], "this email is already in use in the tenant"),
    (
        "username",
        &["users_username_key", "users.tenant_id, users.username"],
        "this username is already in use in the tenant",
    ),
    (
        "identity_provider_id",
        // per tenant since migration 20; the columns before it, for a database still below it
        &[
            "users_identity_key",
            "users.tenant_id, users.identity_provider, users.identity_provider_id",
            "users.identity_provider, users.identity_provider_id",
        ],
        "this identity provider account is already linked to a user in the tenant",
    ),
];

/// A database error in the users module: a unique violation of users is the field that is taken.
impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        match UNIQUE.iter().find(|(_, names, _)| e.violates(names)) {
            Some((field, _, detail)) => UserError::Taken { field, detail },
            None => UserError::Store(e),
        }
    }
}

impl From<FieldError> for UserError {
    fn from(e: FieldError) -> Self {
        UserError::Invalid(vec![e])
    }
}

impl Classify for UserError {
    fn class(&self) -> Class<'_> {
        match self {
            UserError::Invalid(errors) => Class::Invalid(errors.clone()),
            UserError::NotFound => Class::NotFound("user"),
            UserError::Taken { field, .. } => Class::Taken(field),
            UserError::VersionMismatch { .. } => Class::VersionMismatch,
            UserError::Stale => Class::Stale,
            UserError::NeedsRole(_) | UserError::RoleAbove { .. } | UserError::CannotGrant { .. } => Class::Forbidden,
            UserError::NotDeleted => Class::Conflict("id"),
            UserError::NotLocked => Class::Conflict("status"),
            UserError::TwoFactor(_) => Class::Conflict("totp"),
            UserError::NoSecretKey => Class::Unavailable,
            UserError::Hashing(_) => Class::Internal,
            UserError::Store(e) => Class::Store(e),
        }
    }
}
