//! SQL of API keys.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{ApiKey, COLUMNS};
use crate::store::{Store, StoreError, Tx};

pub(super) async fn insert(tx: &mut Tx, key: &ApiKey, hash: Vec<u8>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO api_keys (id, tenant_id, name, role, key_hash, prefix, created_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            key.id.into(),
            key.tenant_id.into(),
            key.name.clone().into(),
            key.role.clone().into(),
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

/// The live key with this hash, in a live tenant: (tenant id, key id, role).
pub(super) async fn active_by_hash(
    store: &Store,
    hash: Vec<u8>,
    now: OffsetDateTime,
) -> Result<Option<(Uuid, Uuid, String)>, StoreError> {
    store
        .query_opt(
            "SELECT k.tenant_id, k.id, k.role FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2) \
             AND t.deleted_at IS NULL",
            vec![hash.into(), now.into()],
        )
        .await
}

pub(super) async fn list(store: &Store, tenant_id: Uuid) -> Result<Vec<ApiKey>, StoreError> {
    store
        .query(
            format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY id"),
            vec![tenant_id.into()],
        )
        .await
}

pub(super) async fn revoke(
    tx: &mut Tx,
    tenant_id: Uuid,
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
