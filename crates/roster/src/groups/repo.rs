//! SQL of groups and their memberships. Every statement names the tenant.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{name_key, Group, COLUMNS};
use crate::principal::TenantId;
use crate::store::{placeholder_list, statement_chunks, statement_text, Query, Store, StoreError, Tx};

pub(super) async fn insert(tx: &mut Tx, tenant_id: TenantId, g: &Group) -> Result<(), StoreError> {
    tx.execute_deferred(
        format!("INSERT INTO user_groups ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
        vec![
            g.id.into(),
            tenant_id.into(),
            g.display_name.clone().into(),
            name_key(&g.display_name).into(),
            g.external_id.clone().into(),
            g.metadata.clone().into(),
            g.created_at.into(),
            g.updated_at.into(),
            g.version.into(),
        ],
    )
    .await
}

/// A group of the tenant; in a transaction it is read to be changed.
pub(super) async fn get(mut db: impl Query, tenant_id: TenantId, id: Uuid) -> Result<Option<Group>, StoreError> {
    let lock = db.row_lock();
    db.query_opt(
        format!("SELECT {COLUMNS} FROM user_groups WHERE tenant_id = $1 AND id = $2{lock}"),
        vec![tenant_id.into(), id.into()],
    )
    .await
}

/// Up to `limit` groups of the tenant in id (creation) order, after `after`.
pub(super) async fn list(
    store: &Store,
    tenant_id: TenantId,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Group>, StoreError> {
    store
        .query(
            format!("SELECT {COLUMNS} FROM user_groups WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"),
            vec![tenant_id.into(), after.unwrap_or(Uuid::nil()).into(), limit.into()],
        )
        .await
}

pub(super) async fn by_name_key(store: &Store, tenant_id: TenantId, key: &str) -> Result<Option<Group>, StoreError> {
    store
        .query_opt(
            format!("SELECT {COLUMNS} FROM user_groups WHERE tenant_id = $1 AND name_key = $2"),
            vec![tenant_id.into(), key.into()],
        )
        .await
}

pub(super) async fn by_external_id(
    store: &Store,
    tenant_id: TenantId,
    external_id: &str,
) -> Result<Vec<Group>, StoreError> {
    store
        .query(
            format!("SELECT {COLUMNS} FROM user_groups WHERE tenant_id = $1 AND external_id = $2 ORDER BY id"),
            vec![tenant_id.into(), external_id.into()],
        )
        .await
}

/// The groups `user_id` is a member of, in id order.
pub(super) async fn of_user(store: &Store, tenant_id: TenantId, user_id: Uuid) -> Result<Vec<Group>, StoreError> {
    let columns = COLUMNS.split(", ").map(|c| format!("g.{c}")).collect::<Vec<_>>().join(", ");
    store
        .query(
            format!(
                "SELECT {columns} FROM group_members m JOIN user_groups g \
                 ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
                 WHERE m.tenant_id = $1 AND m.user_id = $2 ORDER BY g.id"
            ),
            vec![tenant_id.into(), user_id.into()],
        )
        .await
}

/// Write `next` over the group if it is still at `version`; false when someone else wrote first.
pub(super) async fn update(tx: &mut Tx, tenant_id: TenantId, next: &Group, version: i64) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE user_groups SET display_name = $3, name_key = $4, external_id = $5, metadata = $6, \
             updated_at = $7, version = version + 1 WHERE tenant_id = $1 AND id = $2 AND version = $8",
            vec![
                tenant_id.into(),
                next.id.into(),
                next.display_name.clone().into(),
                name_key(&next.display_name).into(),
                next.external_id.clone().into(),
                next.metadata.clone().into(),
                next.updated_at.into(),
                version.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Delete the group and its memberships if it is still at `version`.
pub(super) async fn delete(tx: &mut Tx, tenant_id: TenantId, id: Uuid, version: i64) -> Result<bool, StoreError> {
    tx.execute("DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2", vec![tenant_id.into(), id.into()])
        .await?;
    let n = tx
        .execute(
            "DELETE FROM user_groups WHERE tenant_id = $1 AND id = $2 AND version = $3",
            vec![tenant_id.into(), id.into(), version.into()],
        )
        .await?;
    Ok(n == 1)
}

/// The ids of the group's members (live or not), in id order.
pub(super) async fn member_ids(
    mut db: impl Query,
    tenant_id: TenantId,
    group_id: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<(Uuid,)> = db
        .query(
            "SELECT user_id FROM group_members WHERE tenant_id = $1 AND group_id = $2 ORDER BY user_id".into(),
            vec![tenant_id.into(), group_id.into()],
        )
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

pub(super) async fn add_members(
    tx: &mut Tx,
    tenant_id: TenantId,
    group_id: Uuid,
    users: &[Uuid],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    for chunk in statement_chunks(users) {
        let sql = statement_text("group_members_add", chunk.len(), || {
            let rows = (0..chunk.len()).map(|i| format!("($1, $2, ${}, $3)", i + 4)).collect::<Vec<_>>();
            format!("INSERT INTO group_members (tenant_id, group_id, user_id, added_at) VALUES {}", rows.join(", "))
        });
        let mut params = vec![tenant_id.into(), group_id.into(), now.into()];
        params.extend(chunk.iter().map(|id| id.into()));
        tx.execute(sql, params).await?;
    }
    Ok(())
}

pub(super) async fn remove_members(
    tx: &mut Tx,
    tenant_id: TenantId,
    group_id: Uuid,
    users: &[Uuid],
) -> Result<(), StoreError> {
    for chunk in statement_chunks(users) {
        let sql = statement_text("group_members_remove", chunk.len(), || {
            format!(
                "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id IN ({})",
                placeholder_list(3, chunk.len())
            )
        });
        let mut params = vec![tenant_id.into(), group_id.into()];
        params.extend(chunk.iter().map(|id| id.into()));
        tx.execute(sql, params).await?;
    }
    Ok(())
}
