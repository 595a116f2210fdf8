//! SQL of the client registry. Writes take the [`Permitted`] proof of the permissions gate.

use uuid::Uuid;

use super::model::{Client, CLIENT_COLUMNS};
use crate::permissions::Permitted;
use crate::principal::TenantId;
use crate::store::{Backend, Params, Query, Store, StoreError, Tx, Value};

/// Where a page of the name-ordered list starts: after this name key and id.
pub(super) type After = Option<(String, Uuid)>;

/// Insert a client; a CPF another active client has fails the transaction's commit (deferred on SQLite).
pub(super) async fn insert(tx: &mut Tx, permitted: &Permitted<'_>, c: &Client) -> Result<(), StoreError> {
    tx.execute_deferred(
        format!("INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
        vec![
            c.id.into(),
            permitted.tenant_id().into(),
            c.name.clone().into(),
            c.name_key.clone().into(),
            c.cpf.digits().into(),
            c.birth_date.into(),
            c.created_by.into(),
            c.created_at.into(),
            c.updated_at.into(),
            c.is_active.into(),
            c.version.into(),
        ],
    )
    .await
}

/// A client of the tenant, active or not; in a transaction it is read to be changed.
pub(super) async fn get(mut db: impl Query, tenant_id: TenantId, id: Uuid) -> Result<Option<Client>, StoreError> {
    let lock = db.row_lock();
    db.query_opt(
        format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE tenant_id = $1 AND id = $2{lock}"),
        vec![tenant_id.into(), id.into()],
    )
    .await
}

/// A page of the tenant's clients in name order: those with this CPF, or whose name key contains `name_part`, or
/// all; deactivated ones only when asked. `limit + 1` rows, so the caller can tell there is more.
pub(super) async fn list(
    store: &Store,
    tenant_id: TenantId,
    cpf: Option<&str>,
    name_part: Option<&str>,
    include_inactive: bool,
    after: After,
    limit: i64,
) -> Result<Vec<Client>, StoreError> {
    let (sql, params) = list_sql(tenant_id, cpf, name_part, include_inactive, after, limit);
    store.query(sql, params).await
}

/// The statement of [`list`]. Every form of it reads an index in the list's order (the tests ask SQLite's planner,
/// before any ANALYZE).
pub(super) fn list_sql(
    tenant_id: TenantId,
    cpf: Option<&str>,
    name_part: Option<&str>,
    include_inactive: bool,
    after: After,
    limit: i64,
) -> (String, Vec<Value>) {
    let mut sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE tenant_id = $1");
    let mut params = Params::new(vec![tenant_id.into()]);
    let mut bind = |value: Value| params.bind(value);
    if let Some(cpf) = cpf {
        sql += &format!(" AND cpf = {}", bind(cpf.into()));
    }
    if let Some(part) = name_part {
        let escaped = part.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        sql += &format!(" AND name_key LIKE {} ESCAPE '\\'", bind(format!("%{escaped}%").into()));
    }
    if !include_inactive {
        // in these words, so SQLite reads an active CPF from its partial unique index
        sql += " AND is_active = TRUE";
    }
    if let Some((name_key, id)) = after {
        let (name_key, id) = (bind(name_key.into()), bind(id.into()));
        sql += &format!(" AND (name_key > {name_key} OR (name_key = {name_key} AND id > {id}))");
    }
    let limit = bind((limit + 1).into());
    sql += &format!(" ORDER BY name_key, id LIMIT {limit}");
    (sql, params.into_values())
}

/// Write `next` over the client if it is still at `version`; false when someone else wrote first.
pub(super) async fn update(
    tx: &mut Tx,
    permitted: &Permitted<'_>,
    next: &Client,
    version: i64,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE clients SET name = $3, name_key = $4, cpf = $5, birth_date = $6, is_active = $7, updated_at = $8, \
             version = version + 1 WHERE tenant_id = $1 AND id = $2 AND version = $9",
            vec![
                permitted.tenant_id().into(),
                next.id.into(),
                next.name.clone().into(),
                next.name_key.clone().into(),
                next.cpf.digits().into(),
                next.birth_date.into(),
                next.is_active.into(),
                next.updated_at.into(),
                version.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// The active clients with these CPFs: what an import matches its rows on, read to be changed.
pub(super) async fn active_by_cpfs(
    mut db: impl Query,
    tenant_id: TenantId,
    cpfs: &[&str],
) -> Result<Vec<Client>, StoreError> {
    if cpfs.is_empty() {
        return Ok(Vec::new());
    }
    let (sql, params) = by_cpfs_sql(db.backend(), tenant_id, cpfs, db.row_lock());
    db.query(sql.into(), params).await
}

/// The statement of [`active_by_cpfs`], one search of the unique index per CPF whatever the planner knows of the
/// table: on SQLite the CPFs are joined as a list of values (an `IN` list of hundreds would have it walk the tenant's
/// clients before its first ANALYZE); on PostgreSQL they are one array (a join with a list of
/// values, or an `= ANY` array, reads all of the tenant's active clients when its statistics are stale; a lateral
/// search per element, at most one row each, cannot).
pub(super) fn by_cpfs_sql(backend: Backend, tenant_id: TenantId, cpfs: &[&str], lock: &str) -> (String, Vec<Value>) {
    match backend {
        Backend::Sqlite => {
            let mut params = Params::new(vec![tenant_id.into()]);
            let values: Vec<String> = cpfs.iter().map(|cpf| format!("({})", params.bind(Value::from(*cpf)))).collect();
            let columns = CLIENT_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT {columns} FROM (VALUES {}) AS v JOIN clients c \
                 ON c.tenant_id = $1 AND c.cpf = v.column1 AND c.is_active = TRUE{lock}",
                values.join(", ")
            );
            (sql, params.into_values())
        }
        Backend::Postgres => {
            let columns = CLIENT_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT {columns} FROM unnest($2::text[]) AS v (cpf), LATERAL (SELECT {CLIENT_COLUMNS} FROM clients \
                 WHERE tenant_id = $1 AND cpf = v.cpf AND is_active = TRUE LIMIT 1{lock}) c"
            );
            let cpfs = Value::Array(cpfs.iter().map(|cpf| Value::from(*cpf)).collect());
            (sql, vec![tenant_id.into(), cpfs])
        }
    }
}
