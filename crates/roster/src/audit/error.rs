//! What can go wrong reading the audit log, in the audit module's words.

use crate::http::{Class, Classify, FieldError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// A route about the signed-in user, called by an API key (it has no user).
    #[error("signed-in user (an API key has none)")]
    NoUser,
    /// The chain does not verify at `seq`: nothing is archived from a broken chain.
    #[error("the audit chain does not verify at entry {seq}: {reason}")]
    Broken { seq: i64, reason: String },
    /// A file the caller named cannot be created or read (it exists, its folder does not, …).
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    /// Writing an archive failed part-way (a full disk, say); the file is removed and nothing left the database.
    #[error("{path}: writing failed: {reason}")]
    Write { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuditError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AuditError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<FieldError> for AuditError {
    fn from(e: FieldError) -> Self {
        AuditError::Invalid(vec![e])
    }
}

impl Classify for AuditError {
    fn class(&self) -> Class<'_> {
        match self {
            AuditError::Invalid(errors) => Class::Invalid(errors.clone()),
            AuditError::NoUser => Class::NotFound("signed-in user"),
            AuditError::Broken { .. } => Class::Conflict("seq"),
            AuditError::File { .. } => Class::Malformed,
            AuditError::Write { .. } => Class::Unavailable,
            AuditError::Store(e) => Class::Store(e),
        }
    }
}
