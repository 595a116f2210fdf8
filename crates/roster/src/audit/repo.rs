//! SQL of the audit log.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::principal::TenantId;
use crate::store::{FromRow, Row, Store, StoreError, Tx, Value};

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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
    pub old_values: Option<serde_json::Value>,
    pub new_values: Option<serde_json::Value>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub session_id: Option<String>,
    pub request_id: Option<String>,
    #[serde(skip)]
    pub prev_hash: Vec<u8>,
    #[serde(skip)]
    pub hash: Vec<u8>,
}

const COLUMNS: &str = "tenant_id, seq, id, occurred_at, actor_kind, actor_user_id, actor_api_key_id, action, \
    resource_type, resource_id, old_values, new_values, ip_address, user_agent, session_id, request_id, prev_hash, hash";

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
        })
    }
}

pub(super) async fn insert_head(tx: &mut Tx, tenant_id: TenantId) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2)",
        vec![tenant_id.into(), Value::Bytes(vec![0; 32])],
    )
    .await
    .map(drop)
}

/// Reserve `n` sequence numbers; the first of them and the hash they follow.
pub(super) async fn advance_head(tx: &mut Tx, tenant_id: TenantId, n: i64) -> Result<(i64, Vec<u8>), StoreError> {
    let (seq, hash): (i64, Vec<u8>) = tx
        .query_one(
            "UPDATE audit_heads SET seq = seq + $2 WHERE tenant_id = $1 RETURNING seq, hash",
            vec![tenant_id.into(), n.into()],
        )
        .await?;
    Ok((seq - n + 1, hash))
}

pub(super) async fn set_head_hash(tx: &mut Tx, tenant_id: TenantId, hash: &[u8]) -> Result<(), StoreError> {
    tx.execute("UPDATE audit_heads SET hash = $2 WHERE tenant_id = $1", vec![tenant_id.into(), hash.to_vec().into()])
        .await
        .map(drop)
}

pub(super) async fn insert_entry(tx: &mut Tx, e: &AuditEntry) -> Result<(), StoreError> {
    tx.execute_deferred(
        "INSERT INTO audit_log (tenant_id, seq, id, occurred_at, actor_kind, actor_user_id, actor_api_key_id, action, \
         resource_type, resource_id, old_values, new_values, ip_address, user_agent, session_id, request_id, \
         prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        vec![
            e.tenant_id.into(),
            e.seq.into(),
            e.id.into(),
            e.occurred_at.into(),
            e.actor_kind.clone().into(),
            e.actor_user_id.into(),
            e.actor_api_key_id.into(),
            e.action.clone().into(),
            e.resource_type.clone().into(),
            e.resource_id.clone().into(),
            e.old_values.clone().into(),
            e.new_values.clone().into(),
            e.ip_address.clone().into(),
            e.user_agent.clone().into(),
            e.session_id.clone().into(),
            e.request_id.clone().into(),
            e.prev_hash.clone().into(),
            e.hash.clone().into(),
        ],
    )
    .await
}

pub(super) async fn entries_after(
    store: &Store,
    tenant_id: TenantId,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    store
        .query(
            format!("SELECT {COLUMNS} FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"),
            vec![tenant_id.into(), after_seq.into(), limit.into()],
        )
        .await
}

pub(super) async fn head(store: &Store, tenant_id: TenantId) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    store.query_opt("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1", vec![tenant_id.into()]).await
}

pub(super) async fn entries_for(
    store: &Store,
    tenant_id: TenantId,
    resource_type: &str,
    resource_id: &str,
) -> Result<Vec<AuditEntry>, StoreError> {
    store
        .query(
            format!(
                "SELECT {COLUMNS} FROM audit_log WHERE tenant_id = $1 AND resource_type = $2 AND resource_id = $3 \
                 ORDER BY seq"
            ),
            vec![tenant_id.into(), resource_type.into(), resource_id.into()],
        )
        .await
}

pub(super) async fn count(store: &Store, tenant_id: TenantId) -> Result<i64, StoreError> {
    let (n,): (i64,) =
        store.query_one("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1", vec![tenant_id.into()]).await?;
    Ok(n)
}
