//! What can go wrong with clients, in the client registry's words.

use crate::http::{Class, Classify, FieldError};
use crate::permissions::PermissionError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No such client in the caller's tenant (or not active, where an active one is needed).
    #[error("client not found")]
    NotFound,
    /// Another active client of the tenant has the CPF; which one is not said.
    #[error("another active client of this tenant has this CPF")]
    CpfTaken,
    #[error("the client is deactivated; restore it first")]
    Inactive,
    #[error("the client is active; only a deactivated client can be restored")]
    NotInactive,
    /// Someone else changed the client between this request's read and its write.
    #[error("the client was changed by someone else meanwhile; read it again")]
    Stale,
    #[error("the client is at version {current}, not {expected}")]
    VersionMismatch { current: i64, expected: i64 },
    /// The caller's role or grants do not allow it.
    #[error(transparent)]
    Permission(#[from] PermissionError),
    #[error(transparent)]
    Store(StoreError),
}

impl ClientError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ClientError::Invalid(vec![FieldError::new(field, message)])
    }
}

/// The unique key of active CPFs, as each backend names it.
const CPF_KEY: [&str; 2] = ["clients_cpf_key", "clients.tenant_id, clients.cpf"];

impl From<StoreError> for ClientError {
    fn from(e: StoreError) -> Self {
        if e.violates(&CPF_KEY) {
            ClientError::CpfTaken
        } else {
            ClientError::Store(e)
        }
    }
}

impl From<FieldError> for ClientError {
    fn from(e: FieldError) -> Self {
        ClientError::Invalid(vec![e])
    }
}

impl Classify for ClientError {
    fn class(&self) -> Class<'_> {
        match self {
            ClientError::Invalid(errors) => Class::Invalid(errors.clone()),
            ClientError::NotFound => Class::NotFound("client"),
            ClientError::CpfTaken => Class::Taken("cpf"),
            ClientError::Inactive | ClientError::NotInactive => Class::Conflict("is_active"),
            ClientError::Stale => Class::Stale,
            ClientError::VersionMismatch { .. } => Class::VersionMismatch,
            ClientError::Permission(e) => e.class(),
            ClientError::Store(e) => Class::Store(e),
        }
    }
}
