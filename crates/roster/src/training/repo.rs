//! SQL of scenarios.

use uuid::Uuid;

use super::model::{Scenario, ScenarioFilter, SCENARIO_COLUMNS};
use crate::principal::{AdminScope, TenantId};
use crate::store::{Backend, Params, Query, Store, StoreError, Tx, Value};

fn prerequisites_json(s: &Scenario) -> Value {
    Value::Json(serde_json::to_value(&s.prerequisites).unwrap_or_default())
}

pub(super) async fn insert(tx: &mut Tx, scope: AdminScope<'_>, s: &Scenario) -> Result<(), StoreError> {
    tx.execute(
        format!(
            "INSERT INTO scenarios ({SCENARIO_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ),
        vec![
            s.id.into(),
            scope.tenant_id().into(),
            s.title.clone().into(),
            s.description.clone().into(),
            s.difficulty.into(),
            s.estimated_time.into(),
            s.xp_reward.into(),
            s.ticket_template.clone().into(),
            s.customer_persona.clone().into(),
            s.knowledge_base_entries.clone().into(),
            s.assessment_criteria.clone().into(),
            prerequisites_json(s),
            s.is_active.into(),
            s.created_at.into(),
            s.updated_at.into(),
            s.version.into(),
        ],
    )
    .await
    .map(drop)
}

/// Write `next` over the scenario if it is still at `version`; false when someone else wrote first.
pub(super) async fn update(
    tx: &mut Tx,
    scope: AdminScope<'_>,
    next: &Scenario,
    version: i64,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE scenarios SET title = $3, description = $4, difficulty = $5, estimated_time = $6, xp_reward = $7, \
             ticket_template = $8, customer_persona = $9, knowledge_base_entries = $10, assessment_criteria = $11, \
             prerequisites = $12, is_active = $13, updated_at = $14, version = version + 1 \
             WHERE tenant_id = $1 AND id = $2 AND version = $15",
            vec![
                scope.tenant_id().into(),
                next.id.into(),
                next.title.clone().into(),
                next.description.clone().into(),
                next.difficulty.into(),
                next.estimated_time.into(),
                next.xp_reward.into(),
                next.ticket_template.clone().into(),
                next.customer_persona.clone().into(),
                next.knowledge_base_entries.clone().into(),
                next.assessment_criteria.clone().into(),
                prerequisites_json(next),
                next.is_active.into(),
                next.updated_at.into(),
                version.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// A scenario of the tenant; in a transaction it is read to be changed.
pub(super) async fn get(mut db: impl Query, tenant_id: TenantId, id: Uuid) -> Result<Option<Scenario>, StoreError> {
    let lock = db.row_lock();
    db.query_opt(
        format!("SELECT {SCENARIO_COLUMNS} FROM scenarios WHERE tenant_id = $1 AND id = $2{lock}"),
        vec![tenant_id.into(), id.into()],
    )
    .await
}

/// Every scenario of the tenant with its prerequisites: the graph a change of prerequisites is checked against.
pub(super) async fn prerequisite_graph(tx: &mut Tx, tenant_id: TenantId) -> Result<Vec<(Uuid, Vec<Uuid>)>, StoreError> {
    let rows: Vec<(Uuid, serde_json::Value)> =
        tx.query("SELECT id, prerequisites FROM scenarios WHERE tenant_id = $1", vec![tenant_id.into()]).await?;
    rows.into_iter()
        .map(|(id, list)| {
            serde_json::from_value(list)
                .map(|list| (id, list))
                .map_err(|e| StoreError::Decode(format!("scenarios.prerequisites: {e}")))
        })
        .collect()
}

/// Changes of a tenant's prerequisites take turns on PostgreSQL until their transaction ends, so two of them cannot
/// each pass the cycle check and together make a cycle. SQLite has one writer already.
pub(super) async fn lock_prerequisites(tx: &mut Tx, tenant_id: TenantId) -> Result<(), StoreError> {
    if tx.backend() == Backend::Postgres {
        let (high, _) = tenant_id.uuid().as_u64_pair();
        // a key of its own: the migrator's and the ingests' locks use other constants
        let key = (high ^ 0x7363_656e_6172_696f) as i64;
        tx.execute("SELECT pg_advisory_xact_lock($1)", vec![key.into()]).await?;
    }
    Ok(())
}

/// A page of the tenant's scenarios by id, filtered (active ones only when `only_active`). `limit + 1` rows, so the caller can tell there is more.
pub(super) async fn list(
    store: &Store,
    tenant_id: TenantId,
    filter: &ScenarioFilter,
    only_active: bool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Scenario>, StoreError> {
    let mut sql = format!("SELECT {SCENARIO_COLUMNS} FROM scenarios WHERE tenant_id = $1 AND id > $2");
    let mut params = Params::new(vec![tenant_id.into(), after.unwrap_or(Uuid::nil()).into()]);
    let mut bind = |value: Value| params.bind(value);
    if let Some(difficulty) = filter.difficulty {
        sql += &format!(" AND difficulty = {}", bind(difficulty.into()));
    }
    if let Some(active) = filter.active {
        sql += &format!(" AND is_active = {}", bind(active.into()));
    }
    if only_active {
        sql += " AND is_active = TRUE";
    }
    let limit = bind((limit + 1).into());
    sql += &format!(" ORDER BY id LIMIT {limit}");
    store.query(sql, params.into_values()).await
}
