//! What an audit entry is, and how a reader narrows the log down.

use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Action;
use crate::http::FieldError;
use crate::principal::ActorKind;
use crate::store::{FromRow, Row, StoreError};

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub tenant_id: Uuid,
    pub seq: i64,
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub actor_kind: String,
    pub actor_user_id: Option<Uuid>,
    pub actor_api_key_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    /// The fields that changed, as they were (never secrets).
    #[schema(value_type = Option<Object>)]
    pub old_values: Option<serde_json::Value>,
    /// The fields that changed, as they became.
    #[schema(value_type = Option<Object>)]
    pub new_values: Option<serde_json::Value>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub session_id: Option<String>,
    pub request_id: Option<String>,
    /// How the entry is sealed: [`MacKind`].
    #[serde(skip)]
    pub mac_kind: MacKind,
    #[serde(skip)]
    pub prev_hash: Vec<u8>,
    #[serde(skip)]
    pub hash: Vec<u8>,
}

pub(super) const COLUMNS: &str = "tenant_id, seq, id, occurred_at, actor_kind, actor_user_id, actor_api_key_id, action, \
    resource_type, resource_id, old_values, new_values, ip_address, user_agent, session_id, request_id, prev_hash, hash, mac_kind";

impl FromRow for AuditEntry {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            tenant_id: row.get(0)?,
            seq: row.get(1)?,
            id: row.get(2)?,
            occurred_at: row.get(3)?,
            actor_kind: row.get(4)?,
            actor_user_id: row.get(5)?,
            actor_api_key_id: row.get(6)?,
            action: row.get(7)?,
            resource_type: row.get(8)?,
            resource_id: row.get(9)?,
            old_values: row.get(10)?,
            new_values: row.get(11)?,
            ip_address: row.get(12)?,
            user_agent: row.get(13)?,
            session_id: row.get(14)?,
            request_id: row.get(15)?,
            prev_hash: row.get(16)?,
            hash: row.get(17)?,
            mac_kind: MacKind::from_stored(row.get(18)?)?,
        })
    }
}

/// How an entry is sealed to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MacKind {
    /// SHA-256 over the previous hash and the content: what entries before migration 13 (or of a server without a
    /// secret key) have. Anyone who can edit the table can recompute it, so it is trusted only at a chain's start.
    #[default]
    Sha256,
    /// HMAC-SHA256 under the chain key, which only the server holds.
    Keyed,
}

impl MacKind {
    pub fn stored(self) -> i64 {
        match self {
            MacKind::Sha256 => 0,
            MacKind::Keyed => 1,
        }
    }

    pub fn from_stored(value: i64) -> Result<MacKind, StoreError> {
        match value {
            0 => Ok(MacKind::Sha256),
            1 => Ok(MacKind::Keyed),
            other => Err(StoreError::Decode(format!("mac_kind {other}: not a kind this roster knows"))),
        }
    }
}

/// `?actor=&action=&resource_type=&resource_id=&since=&until=&limit=&cursor=` of an audit list or export.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The id of the user or API key that acted, or a kind of actor: `user`, `api_key`, `system`, `cli`.
    pub actor: Option<String>,
    /// One action: create, read, update, delete, restore, login, login_failed, logout, permission_change,
    /// status_change, ingest.
    pub action: Option<String>,
    /// e.g. `user`, `tenant`, `agent`, `api_key`.
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// Entries at or after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// Entries before this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    /// Page size, 1 to 500 (default 50); not for an export.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `?action=&since=&until=&limit=&cursor=` of `/v1/me/audit`: the resource is always the caller.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OwnAuditQuery {
    pub action: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl From<OwnAuditQuery> for AuditQuery {
    fn from(q: OwnAuditQuery) -> Self {
        AuditQuery {
            action: q.action,
            since: q.since,
            until: q.until,
            limit: q.limit,
            cursor: q.cursor,
            ..Default::default()
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorFilter {
    /// A user or an API key, by id.
    Id(Uuid),
    Kind(ActorKind),
}

/// A validated audit query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub actor: Option<ActorFilter>,
    pub action: Option<Action>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

fn bounded(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, FieldError> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > max => {
            Err(FieldError::new(field, format!("must be 1 to {max} characters")))
        }
        other => Ok(other),
    }
}

impl Filter {
    /// Check every field of a query, naming each that is wrong.
    pub fn parse(q: &AuditQuery) -> Result<Filter, Vec<FieldError>> {
        let mut errors = Vec::new();
        let actor = q.actor.as_deref().and_then(|a| {
            let parsed =
                Uuid::parse_str(a).map(ActorFilter::Id).ok().or_else(|| ActorKind::parse(a).map(ActorFilter::Kind));
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "actor",
                    "must be a user or API key id, or one of user, api_key, system, cli",
                ));
            }
            parsed
        });
        let action = q.action.as_deref().and_then(|a| {
            let parsed = Action::parse(a);
            if parsed.is_none() {
                errors.push(FieldError::new("action", "is not an audited action (create, read, update, delete, restore, login, login_failed, logout, permission_change, status_change, ingest)"));
            }
            parsed
        });
        let resource_type =
            bounded("resource_type", q.resource_type.clone(), 64).map_err(|e| errors.push(e)).ok().flatten();
        let resource_id = bounded("resource_id", q.resource_id.clone(), 256).map_err(|e| errors.push(e)).ok().flatten();
        if let (Some(since), Some(until)) = (q.since, q.until) {
            if since > until {
                errors.push(FieldError::new("until", "must not be before since"));
            }
        }
        if errors.is_empty() {
            Ok(Filter { actor, action, resource_type, resource_id, since: q.since, until: q.until })
        } else {
            Err(errors)
        }
    }
}
