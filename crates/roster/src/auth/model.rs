//! API keys: random bearer tokens, shown once, stored as SHA-256.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::{FromRow, Row, StoreError};

/// Every API key starts with this, so a leaked one is easy to recognise.
pub const API_KEY_PREFIX: &str = "rk_";
/// Every session token starts with this.
pub const SESSION_PREFIX: &str = "rs_";

/// A stored API key (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub role: crate::principal::Role,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

pub(super) const COLUMNS: &str = "id, tenant_id, name, role, prefix, created_at, expires_at, revoked_at";

impl FromRow for ApiKey {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(ApiKey {
            id: row.get(0)?,
            tenant_id: row.get(1)?,
            name: row.get(2)?,
            role: row.get_enum(3)?,
            prefix: row.get(4)?,
            created_at: row.get(5)?,
            expires_at: row.get(6)?,
            revoked_at: row.get(7)?,
        })
    }
}

/// A fresh API key.
pub fn generate_key() -> String {
    crate::tokens::generate(API_KEY_PREFIX)
}

/// A fresh token with a prefix that says what it is.
pub fn generate_token(prefix: &str) -> String {
    crate::tokens::generate(prefix)
}

/// What is stored and looked up: SHA-256 of the whole token.
pub fn token_hash(token: &str) -> Vec<u8> {
    crate::tokens::hash(token)
}
