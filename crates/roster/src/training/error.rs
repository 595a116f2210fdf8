//! What can go wrong with training, in the training module's words.

use uuid::Uuid;

use super::model::SessionStatus;
use crate::http::{Class, Classify, FieldError};
use crate::principal::Forbidden;
use crate::store::StoreError;
use crate::users::UserError;

#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No such scenario in the caller's tenant (or not one the caller may see).
    #[error("scenario not found")]
    ScenarioNotFound,
    #[error("the scenario is retired: no new session can start on it")]
    ScenarioRetired,
    #[error("the scenario was changed by someone else meanwhile; read it again")]
    Stale,
    #[error("the scenario is at version {current}, not {expected}")]
    VersionMismatch { current: i64, expected: i64 },
    /// No such session in the caller's tenant, or not one the caller may see.
    #[error("training session not found")]
    SessionNotFound,
    #[error("{}", match .0 {
        Some(id) => format!("the user already has an active session of this scenario: {id}"),
        None => "the user already has an active session of this scenario".to_owned(),
    })]
    SessionActive(Option<Uuid>),
    #[error("complete the scenario's prerequisites first: {}", .0.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", "))]
    PrerequisitesIncomplete(Vec<Uuid>),
    #[error("{}", match .0 {
        SessionStatus::Completed => "the session is already resolved",
        SessionStatus::Abandoned => "the session was abandoned",
        SessionStatus::Active => "the session is active",
    })]
    SessionEnded(SessionStatus),
    #[error("the session holds its most messages ({0})")]
    TranscriptFull(i64),
    #[error("an achievement of this tenant already has this code")]
    CodeTaken,
    /// The caller may see the session but not do this to it.
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("this operation needs the {} role", .0.needs)]
    NeedsRole(Forbidden),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Store(StoreError),
}

/// Unique keys, as each backend names them.
const ONE_ACTIVE_SESSION: [&str; 2] = [
    "training_sessions_one_active",
    "training_sessions.tenant_id, training_sessions.user_id, training_sessions.scenario_id",
];
const ACHIEVEMENT_CODE: [&str; 2] = ["achievements_tenant_id_code_key", "achievements.tenant_id, achievements.code"];

impl From<StoreError> for TrainingError {
    fn from(e: StoreError) -> Self {
        if e.violates(&ONE_ACTIVE_SESSION) {
            TrainingError::SessionActive(None)
        } else if e.violates(&ACHIEVEMENT_CODE) {
            TrainingError::CodeTaken
        } else {
            TrainingError::Store(e)
        }
    }
}

impl From<FieldError> for TrainingError {
    fn from(e: FieldError) -> Self {
        TrainingError::Invalid(vec![e])
    }
}

impl From<Forbidden> for TrainingError {
    fn from(e: Forbidden) -> Self {
        TrainingError::NeedsRole(e)
    }
}

impl Classify for TrainingError {
    fn class(&self) -> Class<'_> {
        match self {
            TrainingError::Invalid(errors) => Class::Invalid(errors.clone()),
            TrainingError::ScenarioNotFound => Class::NotFound("scenario"),
            TrainingError::ScenarioRetired => Class::Conflict("scenario_id"),
            TrainingError::Stale => Class::Stale,
            TrainingError::VersionMismatch { .. } => Class::VersionMismatch,
            TrainingError::SessionNotFound => Class::NotFound("training session"),
            TrainingError::SessionActive(_) => Class::Conflict("scenario_id"),
            TrainingError::PrerequisitesIncomplete(_) => Class::Conflict("prerequisites"),
            TrainingError::SessionEnded(_) => Class::Conflict("status"),
            TrainingError::TranscriptFull(_) => Class::Conflict("message_count"),
            TrainingError::CodeTaken => Class::Taken("code"),
            TrainingError::Forbidden(_) | TrainingError::NeedsRole(_) => Class::Forbidden,
            TrainingError::User(e) => e.class(),
            TrainingError::Store(e) => Class::Store(e),
        }
    }
}
