//! What can go wrong asking about contributions, in this module's words (an ingest has its own `IngestError`).

use crate::http::{Class, Classify, FieldError};
use crate::store::StoreError;
use crate::users::UserError;

#[derive(Debug, thiserror::Error)]
pub enum ContributionsError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FieldError> for ContributionsError {
    fn from(e: FieldError) -> Self {
        ContributionsError::Invalid(vec![e])
    }
}

impl ContributionsError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ContributionsError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl Classify for ContributionsError {
    fn class(&self) -> Class<'_> {
        match self {
            ContributionsError::Invalid(errors) => Class::Invalid(errors.clone()),
            ContributionsError::User(e) => e.class(),
            ContributionsError::Store(e) => Class::Store(e),
        }
    }
}
