//! SQL of the audit log.

use super::archive::Anchor;
use super::key::{Head, HEAD_COLUMNS};
use super::model::{ActorFilter, AuditEntry, Filter, COLUMNS};
use crate::principal::TenantId;
use crate::store::{Params, Query, Store, StoreError, Tx, Value, Writer};

pub(super) async fn insert_head(tx: &mut Tx, head: &Head) -> Result<(), StoreError> {
    tx.execute(
        format!("INSERT INTO audit_heads ({HEAD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        vec![
            head.tenant_id.into(),
            head.seq.into(),
            head.hash.clone().into(),
            head.mac_kind.stored().into(),
            head.unkeyed_through.into(),
            head.head_mac.clone().into(),
        ],
    )
    .await
    .map(drop)
}

const ADVANCE_HEAD: &str = "UPDATE audit_heads SET seq = seq + $2 WHERE tenant_id = $1 \
     RETURNING tenant_id, seq - $2, hash, mac_kind, unkeyed_through, head_mac";
const SET_HEAD: &str =
    "UPDATE audit_heads SET hash = $2, mac_kind = $3, unkeyed_through = $4, head_mac = $5 WHERE tenant_id = $1";
const FINGERPRINT: &str = "SELECT fingerprint FROM secret_key_fingerprint WHERE id = 1";
const INSERT_ENTRY: &str =
    "INSERT INTO audit_log (tenant_id, seq, id, occurred_at, actor_kind, actor_user_id, actor_api_key_id, action, \
     resource_type, resource_id, old_values, new_values, ip_address, user_agent, session_id, request_id, prev_hash, \
     hash, mac_kind) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";

/// Reserve `n` sequence numbers after the head; the head as it was (its `seq` is the entry they follow).
pub(super) async fn advance_head(tx: &mut Tx, tenant_id: TenantId, n: i64) -> Result<Head, StoreError> {
    tx.query_one(ADVANCE_HEAD, vec![tenant_id.into(), n.into()]).await
}

/// [`advance_head`], on the SQLite writer.
pub(super) fn advance_head_on(writer: &Writer<'_>, tenant_id: TenantId, n: i64) -> Result<Head, StoreError> {
    writer.query_one(ADVANCE_HEAD, &[tenant_id.into(), n.into()])
}

fn head_values(head: &Head) -> Vec<Value> {
    vec![
        head.tenant_id.into(),
        head.hash.clone().into(),
        head.mac_kind.stored().into(),
        head.unkeyed_through.into(),
        head.head_mac.clone().into(),
    ]
}

/// Move the head (its `seq` was moved by [`advance_head`]); sent with the commit (a failure fails the commit).
pub(super) async fn set_head(tx: &mut Tx, head: &Head) -> Result<(), StoreError> {
    tx.execute_deferred(SET_HEAD, head_values(head)).await
}

/// [`set_head`], on the SQLite writer.
pub(super) fn set_head_on(writer: &Writer<'_>, head: &Head) -> Result<(), StoreError> {
    writer.execute(SET_HEAD, &head_values(head)).map(drop)
}

/// The fingerprint of the key the database is sealed under, when it records one.
pub(super) async fn fingerprint(mut db: impl Query) -> Result<Option<Vec<u8>>, StoreError> {
    // an owned statement: a borrowed one makes the future's lifetime general, which callers' futures cannot be
    Ok(db.query_opt::<(Vec<u8>,)>(FINGERPRINT.to_owned(), vec![]).await?.map(|(f,)| f))
}

/// [`fingerprint`], on the SQLite writer.
pub(super) fn fingerprint_on(writer: &Writer<'_>) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(writer.query::<(Vec<u8>,)>(FINGERPRINT, &[])?.into_iter().next().map(|(f,)| f))
}

pub(super) async fn insert_fingerprint(
    tx: &mut Tx,
    fingerprint: &[u8],
    at: time::OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO secret_key_fingerprint (id, fingerprint, recorded_at) VALUES (1, $1, $2)",
        vec![fingerprint.to_vec().into(), at.into()],
    )
    .await
    .map(drop)
}

pub(super) async fn delete_fingerprint(tx: &mut Tx) -> Result<(), StoreError> {
    tx.execute("DELETE FROM secret_key_fingerprint", vec![]).await.map(drop)
}

/// Every chain's head (to seal them all).
pub(super) async fn all_heads(tx: &mut Tx) -> Result<Vec<Head>, StoreError> {
    tx.query(format!("SELECT {HEAD_COLUMNS} FROM audit_heads ORDER BY tenant_id"), vec![]).await
}

pub(super) async fn seal_head(tx: &mut Tx, tenant_id: uuid::Uuid, mac: &[u8]) -> Result<(), StoreError> {
    tx.execute("UPDATE audit_heads SET head_mac = $2 WHERE tenant_id = $1", vec![tenant_id.into(), mac.to_vec().into()])
        .await
        .map(drop)
}

/// Entries in the log and archived ones (by their anchors' reach), over every tenant: whether anything was written.
pub(super) async fn entries_and_anchors(tx: &mut Tx) -> Result<i64, StoreError> {
    let (n,): (i64,) = tx
        .query_one(
            "SELECT CAST((SELECT COUNT(*) FROM audit_log) + \
             (SELECT COALESCE(SUM(last), 0) FROM (SELECT MAX(seq) AS last FROM audit_anchors GROUP BY tenant_id) a) \
             AS BIGINT)",
            vec![],
        )
        .await?;
    Ok(n)
}

fn entry_values(e: &AuditEntry) -> Vec<Value> {
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
        e.mac_kind.stored().into(),
    ]
}

pub(super) async fn insert_entry(tx: &mut Tx, e: &AuditEntry) -> Result<(), StoreError> {
    tx.execute_deferred(INSERT_ENTRY, entry_values(e)).await
}

/// [`insert_entry`], on the SQLite writer.
pub(super) fn insert_entry_on(writer: &Writer<'_>, e: &AuditEntry) -> Result<(), StoreError> {
    writer.execute(INSERT_ENTRY, &entry_values(e)).map(drop)
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

pub(super) async fn head(store: &Store, tenant_id: TenantId) -> Result<Option<Head>, StoreError> {
    store
        .query_opt(format!("SELECT {HEAD_COLUMNS} FROM audit_heads WHERE tenant_id = $1"), vec![tenant_id.into()])
        .await
}

/// Every tenant's chain head: (tenant, entries, newest hash).
pub(super) async fn heads(store: &Store) -> Result<Vec<(uuid::Uuid, i64, Vec<u8>)>, StoreError> {
    store.query("SELECT tenant_id, seq, hash FROM audit_heads ORDER BY tenant_id", vec![]).await
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

/// Which way a read of the log walks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// Newest first (a reader's list), from before `from`.
    NewestFirst,
    /// In chain order (an export), from after `from`.
    ChainOrder,
}

/// Up to `limit` entries of a tenant that match `filter`, walking the log in `order` from the entry `from` (exclusive).
pub(super) async fn select(
    store: &Store,
    tenant_id: TenantId,
    filter: &Filter,
    order: Order,
    from: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut params = Params::new(vec![tenant_id.into()]);
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE tenant_id = $1");
    if let Some(from) = from {
        let op = if order == Order::NewestFirst { "<" } else { ">" };
        sql += &format!(" AND seq {op} {}", params.bind(from));
    }
    match filter.actor {
        Some(ActorFilter::Id(id)) => {
            let p = params.bind(id);
            sql += &format!(" AND (actor_user_id = {p} OR actor_api_key_id = {p})");
        }
        Some(ActorFilter::Kind(kind)) => sql += &format!(" AND actor_kind = {}", params.bind(kind.as_str())),
        None => {}
    }
    if let Some(action) = filter.action {
        sql += &format!(" AND action = {}", params.bind(action));
    }
    if let Some(resource_type) = &filter.resource_type {
        sql += &format!(" AND resource_type = {}", params.bind(resource_type));
    }
    if let Some(resource_id) = &filter.resource_id {
        sql += &format!(" AND resource_id = {}", params.bind(resource_id));
    }
    if let Some(since) = filter.since {
        sql += &format!(" AND occurred_at >= {}", params.bind(since));
    }
    if let Some(until) = filter.until {
        sql += &format!(" AND occurred_at < {}", params.bind(until));
    }
    let direction = if order == Order::NewestFirst { "DESC" } else { "ASC" };
    sql += &format!(" ORDER BY seq {direction} LIMIT {}", params.bind(limit));
    store.query(sql, params.into_values()).await
}

/// The first entry after `after_seq` that occurred at or after `at`.
pub(super) async fn first_at_or_after(
    store: &Store,
    tenant_id: TenantId,
    after_seq: i64,
    at: time::OffsetDateTime,
) -> Result<Option<i64>, StoreError> {
    let (seq,): (Option<i64>,) = store
        .query_one(
            "SELECT MIN(seq) FROM audit_log WHERE tenant_id = $1 AND seq > $2 AND occurred_at >= $3",
            vec![tenant_id.into(), after_seq.into(), at.into()],
        )
        .await?;
    Ok(seq)
}

/// Remove the entries up to `seq` (an anchor must cover them: the database refuses otherwise).
pub(super) async fn delete_through(tx: &mut Tx, tenant_id: TenantId, seq: i64) -> Result<u64, StoreError> {
    tx.execute("DELETE FROM audit_log WHERE tenant_id = $1 AND seq <= $2", vec![tenant_id.into(), seq.into()]).await
}

/// The columns of an archive anchor, in [`Anchor`]'s row order.
const ANCHOR_COLUMNS: &str = "tenant_id, seq, hash, mac_kind, archived_at, file_sha256, anchor_mac";

pub(super) async fn newest_anchor(mut db: impl Query, tenant_id: TenantId) -> Result<Option<Anchor>, StoreError> {
    let lock = db.row_lock();
    db.query_opt(
        format!("SELECT {ANCHOR_COLUMNS} FROM audit_anchors WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1{lock}"),
        vec![tenant_id.into()],
    )
    .await
}

/// The anchor an archive file says it ends at: the file names its tenant (read by the operator only).
pub(super) async fn anchor_at(store: &Store, tenant_id: uuid::Uuid, seq: i64) -> Result<Option<Anchor>, StoreError> {
    store
        .query_opt(
            format!("SELECT {ANCHOR_COLUMNS} FROM audit_anchors WHERE tenant_id = $1 AND seq = $2"),
            vec![tenant_id.into(), seq.into()],
        )
        .await
}

pub(super) async fn insert_anchor(tx: &mut Tx, a: &Anchor) -> Result<(), StoreError> {
    tx.execute(
        format!("INSERT INTO audit_anchors ({ANCHOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        vec![
            a.tenant_id.into(),
            a.seq.into(),
            a.hash.clone().into(),
            a.mac_kind.stored().into(),
            a.archived_at.into(),
            a.file_sha256.clone().into(),
            a.anchor_mac.clone().into(),
        ],
    )
    .await
    .map(drop)
}
