//! What can go wrong with training, in the training module's words.

use crate::http::{Class, Classify, FieldError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No such scenario in the caller's tenant (or not one the caller may see).
    #[error("scenario not found")]
    ScenarioNotFound,
    #[error("the scenario was changed by someone else meanwhile; read it again")]
    Stale,
    #[error("the scenario is at version {current}, not {expected}")]
    VersionMismatch { current: i64, expected: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FieldError> for TrainingError {
    fn from(e: FieldError) -> Self {
        TrainingError::Invalid(vec![e])
    }
}

impl Classify for TrainingError {
    fn class(&self) -> Class<'_> {
        match self {
            TrainingError::Invalid(errors) => Class::Invalid(errors.clone()),
            TrainingError::ScenarioNotFound => Class::NotFound("scenario"),
            TrainingError::Stale => Class::Stale,
            TrainingError::VersionMismatch { .. } => Class::VersionMismatch,
            TrainingError::Store(e) => Class::Store(e),
        }
    }
}
