//! What a group is: a named set of a tenant's users.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::http::FieldError;
use crate::store::{FromRow, Row, StoreError};

/// Members a group may have; a change naming more is refused.
pub const MAX_MEMBERS: usize = 100_000;

/// A group as stored; its members are read apart ([`super::members`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub display_name: String,
    pub external_id: Option<String>,
    /// Attributes kept for the identity provider that roster does not use (at most 4000 bytes serialised).
    pub metadata: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: i64,
}

impl Group {
    /// The group as audit entries show it.
    pub fn view(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub(super) const COLUMNS: &str =
    "id, tenant_id, display_name, name_key, external_id, metadata, created_at, updated_at, version";

impl FromRow for Group {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(Group {
            id: row.get(0)?,
            tenant_id: row.get(1)?,
            display_name: row.get(2)?,
            // 3: name_key, derived from the display name
            external_id: row.get(4)?,
            metadata: row.get(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
            version: row.get(8)?,
        })
    }
}

/// What a group is made of, whole: what creating it gives and what replacing it sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    pub metadata: serde_json::Value,
    /// Users of the tenant, each once.
    pub members: Vec<Uuid>,
}

/// The key display names are unique and found by: trimmed, lower case.
pub fn name_key(display_name: &str) -> String {
    display_name.trim().to_lowercase()
}

/// A display name: trimmed, 1 to 200 characters, no control characters.
pub(super) fn display_name(value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    let length = value.chars().count();
    if length == 0 || length > 200 {
        return Err(FieldError::new("displayName", "must be 1 to 200 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new("displayName", "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// An external id: 1 to 255 characters, no control characters.
pub(super) fn external_id(value: &str) -> Result<String, FieldError> {
    let length = value.chars().count();
    if length == 0 || length > 255 {
        return Err(FieldError::new("externalId", "must be 1 to 255 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new("externalId", "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// Metadata: an object of at most 4000 bytes serialised.
pub(super) fn metadata(value: serde_json::Value) -> Result<serde_json::Value, FieldError> {
    if !value.is_object() {
        return Err(FieldError::new("metadata", "must be an object"));
    }
    if value.to_string().len() > 4000 {
        return Err(FieldError::new("metadata", "must be at most 4000 bytes serialised"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_bounded_and_printable() {
        assert_eq!(display_name("  Sales  ").unwrap(), "Sales");
        assert!(display_name("   ").is_err());
        assert!(display_name(&"x".repeat(201)).is_err());
        assert!(display_name("a\u{7}b").is_err());
        assert_eq!(name_key(" Sales Team "), "sales team");
    }

    #[test]
    fn metadata_is_a_small_object() {
        assert!(metadata(serde_json::json!({"a": 1})).is_ok());
        assert!(metadata(serde_json::json!([1])).is_err());
        assert!(metadata(serde_json::json!({"a": "x".repeat(4000)})).is_err());
    }
}
