//! What can go wrong with tenants, in the tenants module's words.

use crate::http::{Class, Classify, FieldError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("the tenant is not valid")]
    Invalid(Vec<FieldError>),
    #[error("tenant not found")]
    NotFound,
    #[error("a tenant with slug {0} already exists")]
    SlugTaken(String),
    #[error("the tenant is at version {current}, not {expected}")]
    VersionMismatch { current: i64, expected: i64 },
    #[error("the tenant was changed meanwhile; fetch it again")]
    Stale,
    #[error(transparent)]
    Store(StoreError),
}

/// The unique index on slugs, as each backend names it.
pub(super) const SLUG_UNIQUE: [&str; 2] = ["tenants_slug_key", "tenants.slug"];

impl From<StoreError> for TenantError {
    fn from(e: StoreError) -> Self {
        TenantError::Store(e)
    }
}

impl Classify for TenantError {
    fn class(&self) -> Class<'_> {
        match self {
            TenantError::Invalid(errors) => Class::Invalid(errors.clone()),
            TenantError::NotFound => Class::NotFound("tenant"),
            TenantError::SlugTaken(_) => Class::Taken("slug"),
            TenantError::VersionMismatch { .. } => Class::VersionMismatch,
            TenantError::Stale => Class::Stale,
            TenantError::Store(e) => Class::Store(e),
        }
    }
}
