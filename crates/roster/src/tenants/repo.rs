//! SQL of tenants.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{Tenant, COLUMNS};
use crate::store::{Query, Store, StoreError, Tx};

pub(super) async fn insert(tx: &mut Tx, t: &Tenant) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO tenants (id, slug, name, external_id, status, created_at, updated_at, deleted_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            t.id.into(),
            t.slug.clone().into(),
            t.name.clone().into(),
            t.external_id.clone().into(),
            t.status.into(),
            t.created_at.into(),
            t.updated_at.into(),
            t.deleted_at.into(),
            t.version.into(),
        ],
    )
    .await
    .map(drop)
}

/// The live tenant with this slug; read in a transaction, it is read to be changed (locked until the end on PostgreSQL).
pub(super) async fn by_slug(mut db: impl Query, slug: &str) -> Result<Option<Tenant>, StoreError> {
    let lock = db.row_lock();
    db.query_opt(
        format!("SELECT {COLUMNS} FROM tenants WHERE slug = $1 AND deleted_at IS NULL{lock}"),
        vec![slug.into()],
    )
    .await
}

pub(super) async fn list(store: &Store, after: Option<Uuid>, limit: i64) -> Result<Vec<Tenant>, StoreError> {
    store
        .query(
            format!("SELECT {COLUMNS} FROM tenants WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2"),
            vec![after.unwrap_or(Uuid::nil()).into(), (limit + 1).into()],
        )
        .await
}

/// Write the new state if the stored version is still `expected`; false when someone else wrote first.
pub(super) async fn update(tx: &mut Tx, t: &Tenant, expected: i64, now: OffsetDateTime) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE tenants SET name = $3, external_id = $4, status = $5, updated_at = $6, version = version + 1 \
             WHERE id = $1 AND version = $2",
            vec![
                t.id.into(),
                expected.into(),
                t.name.clone().into(),
                t.external_id.clone().into(),
                t.status.into(),
                now.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

pub(super) async fn by_id(store: &Store, id: Uuid) -> Result<Option<Tenant>, StoreError> {
    store
        .query_opt(format!("SELECT {COLUMNS} FROM tenants WHERE id = $1 AND deleted_at IS NULL"), vec![id.into()])
        .await
}
