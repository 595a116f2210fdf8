//! SQL of API keys.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{ApiKey, COLUMNS};
use crate::principal::TenantId;
use crate::store::{Store, StoreError, Tx};
use crate::users::Authorized;

pub(super) async fn insert(tx: &mut Tx, key: &ApiKey, hash: Vec<u8>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO api_keys (id, tenant_id, name, role, key_hash, prefix, created_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            key.id.into(),
            key.tenant_id.into(),
            key.name.clone().into(),
            key.role.into(),
            hash.into(),
            key.prefix.clone().into(),
            key.created_at.into(),
            key.expires_at.into(),
            key.revoked_at.into(),
        ],
    )
    .await
    .map(drop)
}

/// The live key with this hash, in an active tenant: (tenant id, key id, role). The tenant is read with the key on
/// every request, so suspending a tenant stops its keys at once, on every server process.
pub(super) async fn active_by_hash(
    store: &Store,
    hash: Vec<u8>,
    now: OffsetDateTime,
) -> Result<Option<(Uuid, Uuid, String, Option<OffsetDateTime>)>, StoreError> {
    store
        .query_opt(
            "SELECT k.tenant_id, k.id, k.role, k.expires_at FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2) \
             AND t.deleted_at IS NULL AND t.status = 'active'",
            vec![hash.into(), now.into()],
        )
        .await
}

pub(super) async fn list(store: &Store, tenant_id: TenantId) -> Result<Vec<ApiKey>, StoreError> {
    store
        .query(format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY id"), vec![tenant_id.into()])
        .await
}

pub(super) async fn revoke(
    tx: &mut Tx,
    tenant_id: TenantId,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
            vec![tenant_id.into(), id.into(), now.into()],
        )
        .await?;
    Ok(n == 1)
}

/// A stored session (never the token).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SessionRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub user_id: Uuid,
    pub expires_at: OffsetDateTime,
}

impl crate::store::FromRow for SessionRow {
    fn from_row(row: &crate::store::Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(SessionRow { tenant_id: row.get(0)?, id: row.get(1)?, user_id: row.get(2)?, expires_at: row.get(3)? })
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_session(
    tx: &mut Tx,
    session: &SessionRow,
    hash: Vec<u8>,
    now: OffsetDateTime,
    ip_address: Option<String>,
    user_agent: Option<String>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sessions (tenant_id, id, user_id, token_hash, created_at, expires_at, ip_address, user_agent, \
         last_active_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $5)",
        vec![
            session.tenant_id.into(),
            session.id.into(),
            session.user_id.into(),
            hash.into(),
            now.into(),
            session.expires_at.into(),
            ip_address.into(),
            user_agent.into(),
        ],
    )
    .await
    .map(drop)
}

/// The live session with this token hash, in an active tenant (read with the session on every request, so suspending
/// a tenant ends its sessions at once).
pub(super) async fn active_session(
    store: &Store,
    hash: Vec<u8>,
    now: OffsetDateTime,
) -> Result<Option<ActiveSession>, StoreError> {
    // one read for what every request signed in with a session needs: the session, its live tenant, and the role and
    // status of its user as they are now
    store
        .query_opt(
            "SELECT s.tenant_id, s.id, s.user_id, u.role, u.status, u.locked_until FROM sessions s \
             JOIN tenants t ON t.id = s.tenant_id \
             JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id AND u.deleted_at IS NULL \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
             AND t.status = 'active' AND t.deleted_at IS NULL",
            vec![hash.into(), now.into()],
        )
        .await
}

/// A live session of a live user, as authentication reads it.
pub(super) struct ActiveSession {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub user_id: Uuid,
    pub role: crate::principal::Role,
    pub status: crate::users::UserStatus,
    pub locked_until: Option<OffsetDateTime>,
}

impl crate::store::FromRow for ActiveSession {
    fn from_row(row: &crate::store::Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(ActiveSession {
            tenant_id: row.get(0)?,
            id: row.get(1)?,
            user_id: row.get(2)?,
            role: row.get_enum(3)?,
            status: row.get_enum(4)?,
            locked_until: row.get(5)?,
        })
    }
}

pub(super) async fn revoke_session(
    tx: &mut Tx,
    tenant_id: TenantId,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
            vec![tenant_id.into(), id.into(), now.into()],
        )
        .await?;
    Ok(n == 1)
}

/// The session's last activity mark and the active seconds counted so far.
pub(super) async fn session_activity(
    tx: &mut Tx,
    tenant_id: TenantId,
    id: Uuid,
) -> Result<Option<(OffsetDateTime, i64)>, StoreError> {
    tx.query_opt(
        "SELECT last_active_at, usage_seconds FROM sessions WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
        vec![tenant_id.into(), id.into()],
    )
    .await
}

/// Move the activity mark from `seen` to `at`, if no one else moved it first.
pub(super) async fn mark_session_activity(
    tx: &mut Tx,
    tenant_id: TenantId,
    id: Uuid,
    seen: OffsetDateTime,
    at: OffsetDateTime,
    usage_seconds: i64,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE sessions SET last_active_at = $4, usage_seconds = $5 \
             WHERE tenant_id = $1 AND id = $2 AND last_active_at = $3",
            vec![tenant_id.into(), id.into(), seen.into(), at.into(), usage_seconds.into()],
        )
        .await?;
    Ok(n == 1)
}

/// End every live session of a user the caller was authorized to act on (password reset, admin revocation).
pub(super) async fn revoke_user_sessions(
    tx: &mut Tx,
    user: &Authorized<'_>,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    tx.execute(
        "UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        vec![user.tenant_id().into(), user.id().into(), now.into()],
    )
    .await
}

/// A session as its owner and admins see it (never the token).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_active_at: OffsetDateTime,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

impl crate::store::FromRow for SessionView {
    fn from_row(row: &crate::store::Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(SessionView {
            id: row.get(0)?,
            created_at: row.get(1)?,
            expires_at: row.get(2)?,
            last_active_at: row.get(3)?,
            ip_address: row.get(4)?,
            user_agent: row.get(5)?,
        })
    }
}

pub(super) async fn live_sessions(
    store: &Store,
    tenant_id: TenantId,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<Vec<SessionView>, StoreError> {
    store
        .query(
            "SELECT id, created_at, expires_at, last_active_at, ip_address, user_agent FROM sessions \
             WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3 ORDER BY id",
            vec![tenant_id.into(), user_id.into(), now.into()],
        )
        .await
}

pub(super) async fn revoke_user_session(
    tx: &mut Tx,
    user: &Authorized<'_>,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE sessions SET revoked_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND id = $3 AND revoked_at IS NULL",
            vec![user.tenant_id().into(), user.id().into(), id.into(), now.into()],
        )
        .await?;
    Ok(n == 1)
}

/// End every live session of a user but one.
pub(super) async fn revoke_other_sessions(
    tx: &mut Tx,
    user: &Authorized<'_>,
    keep: Uuid,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    tx.execute(
        "UPDATE sessions SET revoked_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND id <> $3 AND revoked_at IS NULL",
        vec![user.tenant_id().into(), user.id().into(), keep.into(), now.into()],
    )
    .await
}
