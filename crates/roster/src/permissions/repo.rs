//! SQL of agents and grants.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{Agent, Grant, AGENT_COLUMNS, GRANT_COLUMNS};
use crate::principal::TenantId;
use crate::store::{Query, Store, StoreError, Tx};

pub(super) async fn insert_agent(
    tx: &mut Tx,
    tenant_id: TenantId,
    name: &str,
    description: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO agents (tenant_id, name, description, created_at) VALUES ($1, $2, $3, $4)",
        vec![tenant_id.into(), name.into(), description.into(), now.into()],
    )
    .await
    .map(drop)
}

/// An agent of the catalogue, live or retired; in a transaction it is read to be changed.
pub(super) async fn agent(mut db: impl Query, tenant_id: TenantId, name: &str) -> Result<Option<Agent>, StoreError> {
    let lock = db.row_lock();
    db.query_opt(
        format!("SELECT {AGENT_COLUMNS} FROM agents WHERE tenant_id = $1 AND name = $2{lock}"),
        vec![tenant_id.into(), name.into()],
    )
    .await
}

pub(super) async fn agents(store: &Store, tenant_id: TenantId, retired: bool) -> Result<Vec<Agent>, StoreError> {
    let filter = if retired { "" } else { " AND retired_at IS NULL" };
    store
        .query(
            format!("SELECT {AGENT_COLUMNS} FROM agents WHERE tenant_id = $1{filter} ORDER BY name"),
            vec![tenant_id.into()],
        )
        .await
}

/// Retire (`Some(now)`) or reinstate (`None`) an agent; its description is replaced when one is given.
pub(super) async fn set_retired(
    tx: &mut Tx,
    tenant_id: TenantId,
    name: &str,
    retired_at: Option<OffsetDateTime>,
    description: Option<&str>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE agents SET retired_at = $3, description = COALESCE($4, description) WHERE tenant_id = $1 AND name = $2",
        vec![tenant_id.into(), name.into(), retired_at.into(), description.into()],
    )
    .await
    .map(drop)
}

/// A user's grant on an agent, whatever its state; in a transaction it is read to be changed.
pub(super) async fn grant(
    mut db: impl Query,
    tenant_id: TenantId,
    user_id: Uuid,
    agent: &str,
) -> Result<Option<Grant>, StoreError> {
    let lock = db.row_lock();
    db.query_opt(
        format!(
            "SELECT {GRANT_COLUMNS} FROM agent_permissions WHERE tenant_id = $1 AND user_id = $2 AND agent_name = $3{lock}"
        ),
        vec![tenant_id.into(), user_id.into(), agent.into()],
    )
    .await
}

/// The catalogue entry and the user's grant on it, in one read: what a check needs. `None` when the agent is not in
/// the catalogue (never added, or retired).
pub(super) async fn agent_and_grant(
    mut db: impl Query,
    tenant_id: TenantId,
    user_id: Uuid,
    agent: &str,
) -> Result<Option<Option<Grant>>, StoreError> {
    let rows: Vec<AgentAndGrant> = db
        .query(
            "SELECT p.tenant_id, p.user_id, p.agent_name, p.can_create, p.can_read, p.can_update, p.can_delete, \
             p.granted_by, p.expires_at, p.revoked_at, p.created_at, p.updated_at, p.version \
             FROM agents a LEFT JOIN agent_permissions p \
               ON p.tenant_id = a.tenant_id AND p.user_id = $2 AND p.agent_name = a.name \
             WHERE a.tenant_id = $1 AND a.name = $3 AND a.retired_at IS NULL"
                .into(),
            vec![tenant_id.into(), user_id.into(), agent.into()],
        )
        .await?;
    Ok(rows.into_iter().next().map(|row| row.0))
}

/// A row of [`agent_and_grant`]: the grant's columns, all NULL when there is none.
struct AgentAndGrant(Option<Grant>);

impl crate::store::FromRow for AgentAndGrant {
    fn from_row(row: &crate::store::Row<'_, '_>) -> Result<Self, StoreError> {
        let agent: Option<String> = row.get(2)?;
        Ok(AgentAndGrant(match agent {
            Some(_) => Some(Grant::from_row(row)?),
            None => None,
        }))
    }
}

/// The user's grants on agents of the catalogue, by agent name; revoked ones only when asked.
pub(super) async fn grants_of(
    store: &Store,
    tenant_id: TenantId,
    user_id: Uuid,
    revoked: bool,
) -> Result<Vec<Grant>, StoreError> {
    let filter = if revoked { "" } else { " AND p.revoked_at IS NULL" };
    let columns = GRANT_COLUMNS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ");
    store
        .query(
            format!(
                "SELECT {columns} FROM agent_permissions p JOIN agents a \
                   ON a.tenant_id = p.tenant_id AND a.name = p.agent_name AND a.retired_at IS NULL \
                 WHERE p.tenant_id = $1 AND p.user_id = $2{filter} ORDER BY p.agent_name"
            ),
            vec![tenant_id.into(), user_id.into()],
        )
        .await
}

/// Insert or replace a grant (all of it).
pub(super) async fn upsert_grant(tx: &mut Tx, g: &Grant) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO agent_permissions (tenant_id, user_id, agent_name, can_create, can_read, can_update, can_delete, \
         granted_by, expires_at, revoked_at, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (tenant_id, user_id, agent_name) DO UPDATE SET can_create = excluded.can_create, \
         can_read = excluded.can_read, can_update = excluded.can_update, can_delete = excluded.can_delete, \
         granted_by = excluded.granted_by, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at, \
         updated_at = excluded.updated_at, version = excluded.version",
        vec![
            g.tenant_id.into(),
            g.user_id.into(),
            g.agent.clone().into(),
            g.can_create.into(),
            g.can_read.into(),
            g.can_update.into(),
            g.can_delete.into(),
            g.granted_by.into(),
            g.expires_at.into(),
            g.revoked_at.into(),
            g.created_at.into(),
            g.updated_at.into(),
            g.version.into(),
        ],
    )
    .await
    .map(drop)
}
