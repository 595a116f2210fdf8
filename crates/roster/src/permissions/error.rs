//! What can go wrong with agents and grants, in the permissions module's words.

use super::{AgentAction, CheckReason};
use crate::http::{Class, Classify, FieldError};
use crate::store::StoreError;
use crate::users::UserError;

#[derive(Debug, thiserror::Error)]
pub enum PermissionError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// Not in the tenant's catalogue (never added, or retired).
    #[error("agent {0:?} not found in this tenant's catalogue")]
    UnknownAgent(String),
    #[error("agent {0:?} is already in this tenant's catalogue")]
    AgentTaken(String),
    #[error("the user has no grant on agent {0:?}")]
    NoGrant(String),
    /// The caller's role or grants do not allow the action through the agent.
    #[error("{} needs a grant of {action} on agent {agent:?}{}", action_phrase(*.action), reason_phrase(*.reason))]
    Denied { agent: String, action: AgentAction, reason: CheckReason },
    #[error("the grant is at version {current}, not {expected}")]
    VersionMismatch { current: i64, expected: i64 },
    /// The user the grant is about: not found, or not the caller's to see or change.
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Store(StoreError),
}

fn action_phrase(action: AgentAction) -> &'static str {
    match action {
        AgentAction::Create => "creating",
        AgentAction::Read => "reading",
        AgentAction::Update => "changing",
        AgentAction::Delete => "deleting",
    }
}

fn reason_phrase(reason: CheckReason) -> &'static str {
    match reason {
        CheckReason::Expired => ": the caller's grant has expired",
        CheckReason::Revoked => ": the caller's grant was revoked",
        CheckReason::Suspended => ": the caller's account is suspended",
        CheckReason::Locked => ": the caller's account is locked",
        CheckReason::Invited => ": the caller's account has not accepted its invitation",
        CheckReason::PendingVerification => ": the caller's account has not verified its email address",
        CheckReason::NotGranted | CheckReason::Granted | CheckReason::Role => {
            ", which the caller does not hold (ask an admin of the tenant)"
        }
    }
}

impl PermissionError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        PermissionError::Invalid(vec![FieldError::new(field, message)])
    }
}

/// The unique key of the catalogue, as each backend names it.
const AGENT_KEY: [&str; 2] = ["agents_pkey", "agents.tenant_id, agents.name"];

impl From<StoreError> for PermissionError {
    fn from(e: StoreError) -> Self {
        PermissionError::Store(e)
    }
}

impl PermissionError {
    /// A store error of an agent insert: its key taken means the name is.
    pub(super) fn on_agent_insert(e: StoreError, name: &str) -> Self {
        if e.violates(&AGENT_KEY) {
            PermissionError::AgentTaken(name.to_owned())
        } else {
            PermissionError::Store(e)
        }
    }
}

impl From<FieldError> for PermissionError {
    fn from(e: FieldError) -> Self {
        PermissionError::Invalid(vec![e])
    }
}

impl Classify for PermissionError {
    fn class(&self) -> Class<'_> {
        match self {
            PermissionError::Invalid(errors) => Class::Invalid(errors.clone()),
            PermissionError::UnknownAgent(_) => Class::NotFound("agent"),
            PermissionError::AgentTaken(_) => Class::Taken("name"),
            PermissionError::NoGrant(_) => Class::NotFound("grant"),
            PermissionError::Denied { .. } => Class::Forbidden,
            PermissionError::VersionMismatch { .. } => Class::VersionMismatch,
            PermissionError::User(e) => e.class(),
            PermissionError::Store(e) => Class::Store(e),
        }
    }
}
