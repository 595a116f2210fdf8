//! What a tenant is, and the values that can only hold valid tenant data.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::FieldError;
use crate::principal::TenantRef;
use crate::store::{FromRow, Row, StoreError};

/// A tenant's slug: `[a-z0-9-]{2,63}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let valid_chars = s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !(2..=63).contains(&s.len()) || !valid_chars {
            return Err(FieldError::new("slug", "must be 2 to 63 characters of a-z, 0-9 and -"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub use crate::principal::TenantStatus;

/// A tenant: everything else belongs to one.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub external_id: Option<String>,
    pub status: TenantStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    pub version: i64,
}

impl Tenant {
    pub fn as_ref(&self) -> TenantRef {
        TenantRef { id: self.id, slug: self.slug.clone(), status: self.status }
    }
}

pub(super) const COLUMNS: &str = "id, slug, name, external_id, status, created_at, updated_at, deleted_at, version";

impl FromRow for Tenant {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(Tenant {
            id: row.get(0)?,
            slug: row.get(1)?,
            name: row.get(2)?,
            external_id: row.get(3)?,
            status: row.get_enum(4)?,
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
            deleted_at: row.get(7)?,
            version: row.get(8)?,
        })
    }
}

/// `POST /v1/tenants`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// `[a-z0-9-]{2,63}`, unique.
    pub slug: String,
    pub name: String,
    /// The testing platform's customer id, or any id of the caller's.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// `PATCH /v1/tenants/{tenant}`: only the fields sent change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    pub external_id: Option<Option<String>>,
    #[serde(default)]
    pub status: Option<TenantStatus>,
}

pub(super) fn validate_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(FieldError::new("name", "must be 1 to 200 characters, without control characters"));
    }
    Ok(name.to_owned())
}

pub(super) fn validate_external_id(id: &str) -> Result<String, FieldError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
        return Err(FieldError::new("external_id", "must be 1 to 200 bytes, without control characters"));
    }
    Ok(id.to_owned())
}
