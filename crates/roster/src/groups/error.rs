//! What can go wrong with groups, in the groups module's words.

use uuid::Uuid;

use crate::http::{Class, Classify, FieldError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("group not found")]
    NotFound,
    /// Another group of the tenant has this display name (in any case).
    #[error("another group of this tenant has this display name")]
    NameTaken,
    /// Members that are not live users of the tenant: a user of another tenant is not told apart from a missing one.
    #[error("not a user of this tenant: {}", .0.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", "))]
    UnknownMembers(Vec<Uuid>),
    #[error("the group is at version {current}, not {expected}")]
    VersionMismatch { current: i64, expected: i64 },
    #[error("the group was changed by someone else meanwhile; read it again")]
    Stale,
    #[error(transparent)]
    Store(StoreError),
}

impl GroupError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        GroupError::Invalid(vec![FieldError::new(field, message)])
    }
}

/// The unique key of display names, as each backend names it.
const NAME_KEY: [&str; 2] = ["user_groups_name_key", "user_groups.tenant_id, user_groups.name_key"];

impl From<StoreError> for GroupError {
    fn from(e: StoreError) -> Self {
        if e.violates(&NAME_KEY) {
            GroupError::NameTaken
        } else {
            GroupError::Store(e)
        }
    }
}

impl From<FieldError> for GroupError {
    fn from(e: FieldError) -> Self {
        GroupError::Invalid(vec![e])
    }
}

impl Classify for GroupError {
    fn class(&self) -> Class<'_> {
        match self {
            GroupError::Invalid(errors) => Class::Invalid(errors.clone()),
            GroupError::NotFound => Class::NotFound("group"),
            GroupError::NameTaken => Class::Taken("display_name"),
            GroupError::UnknownMembers(_) => Class::Invalid(vec![FieldError::new("members", self.to_string())]),
            GroupError::VersionMismatch { .. } => Class::VersionMismatch,
            GroupError::Stale => Class::Stale,
            GroupError::Store(e) => Class::Store(e),
        }
    }
}
