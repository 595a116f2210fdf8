//! The audit log: every change writes one entry in the same transaction as the change.
//!
//! Entries are append-only (database triggers refuse UPDATE and DELETE) and hash-chained per tenant: each entry's hash
//! covers its content and the previous entry's hash, and `audit_heads` holds the newest, so [`verify`] finds an altered,
//! removed or reordered entry.

mod repo;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::migrate::Migration;
use crate::principal::{Actor, TenantId, TenantScope};
use crate::store::{to_micros, Store, StoreError, Tx};

pub use repo::AuditEntry;

pub const MIGRATIONS: &[Migration] = &[crate::migration!(2, "0002_audit_log", "audit_log")];

/// What kind of change an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
    Restore,
    Login,
    LoginFailed,
    Logout,
    PermissionChange,
    StatusChange,
    Ingest,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Restore => "restore",
            Action::Login => "login",
            Action::LoginFailed => "login_failed",
            Action::Logout => "logout",
            Action::PermissionChange => "permission_change",
            Action::StatusChange => "status_change",
            Action::Ingest => "ingest",
        }
    }
}

/// One change to record. `old_values` / `new_values` hold only the fields that changed, never secrets.
#[derive(Debug, Clone)]
pub struct Change {
    pub action: Action,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub old_values: Option<serde_json::Value>,
    pub new_values: Option<serde_json::Value>,
}

impl Change {
    pub fn new(action: Action, resource_type: &'static str, resource_id: impl ToString) -> Self {
        Self { action, resource_type, resource_id: resource_id.to_string(), old_values: None, new_values: None }
    }

    pub fn values(mut self, old: Option<serde_json::Value>, new: Option<serde_json::Value>) -> Self {
        self.old_values = old;
        self.new_values = new;
        self
    }
}

/// The fields whose values differ between two JSON objects, as (old, new) objects. Bookkeeping fields that change on
/// every write are left out.
pub fn diff(old: &serde_json::Value, new: &serde_json::Value) -> (serde_json::Value, serde_json::Value) {
    const IGNORED: [&str; 2] = ["updated_at", "version"];
    let empty = serde_json::Map::new();
    let old_map = old.as_object().unwrap_or(&empty);
    let new_map = new.as_object().unwrap_or(&empty);
    let mut before = serde_json::Map::new();
    let mut after = serde_json::Map::new();
    for key in old_map.keys().chain(new_map.keys()) {
        if IGNORED.contains(&key.as_str()) || before.contains_key(key) {
            continue;
        }
        // an absent field and a null one are the same value
        let o = old_map.get(key).unwrap_or(&serde_json::Value::Null);
        let n = new_map.get(key).unwrap_or(&serde_json::Value::Null);
        if o != n {
            before.insert(key.clone(), o.clone());
            after.insert(key.clone(), n.clone());
        }
    }
    (serde_json::Value::Object(before), serde_json::Value::Object(after))
}

/// A time as audit values hold it: RFC 3339, as the API shows it.
pub fn timestamp(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Start a tenant's chain; called in the transaction that creates the tenant.
pub async fn start_chain(tx: &mut Tx, scope: &TenantScope) -> Result<(), StoreError> {
    repo::insert_head(tx, scope.tenant_id()).await
}

/// Record a change in the scope's tenant, inside the caller's transaction.
///
/// Call it as the last statement before commit: on PostgreSQL it takes the tenant's chain head, which other writers of
/// that tenant then wait for until this transaction ends.
pub async fn record(tx: &mut Tx, scope: &TenantScope, at: OffsetDateTime, change: Change) -> Result<(), StoreError> {
    record_in(tx, scope.tenant_id(), scope.actor(), at, vec![change]).await
}

/// Record changes in `tenant_id` as `actor`: for a signed-in caller acting on its own session (sign-out), where the
/// credential's tenant is known without a scope.
pub async fn record_in(
    tx: &mut Tx,
    tenant_id: TenantId,
    actor: &Actor,
    at: OffsetDateTime,
    changes: Vec<Change>,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let (first_seq, mut prev_hash) = repo::advance_head(tx, tenant_id, changes.len() as i64).await?;
    for (i, change) in changes.into_iter().enumerate() {
        let mut entry = AuditEntry {
            tenant_id: tenant_id.uuid(),
            seq: first_seq + i as i64,
            id: Uuid::now_v7(),
            occurred_at: at,
            actor_kind: actor.kind().as_str().to_owned(),
            actor_user_id: actor.user_id,
            actor_api_key_id: actor.api_key_id,
            action: change.action.as_str().to_owned(),
            resource_type: change.resource_type.to_owned(),
            resource_id: change.resource_id,
            old_values: change.old_values,
            new_values: change.new_values,
            ip_address: actor.ip_address.clone(),
            user_agent: actor.user_agent.clone(),
            session_id: actor.session_id.clone(),
            request_id: actor.request_id.clone(),
            prev_hash: prev_hash.clone(),
            hash: Vec::new(),
        };
        entry.hash = entry_hash(&entry);
        prev_hash = entry.hash.clone();
        repo::insert_entry(tx, &entry).await?;
    }
    repo::set_head_hash(tx, tenant_id, &prev_hash).await
}

/// SHA-256 over the previous hash and a canonical JSON rendering of the entry's content.
fn entry_hash(e: &AuditEntry) -> Vec<u8> {
    let canonical = serde_json::json!([
        e.tenant_id,
        e.seq,
        e.id,
        to_micros(e.occurred_at),
        e.actor_kind,
        e.actor_user_id,
        e.actor_api_key_id,
        e.action,
        e.resource_type,
        e.resource_id,
        e.old_values,
        e.new_values,
        e.ip_address,
        e.user_agent,
        e.session_id,
        e.request_id,
    ]);
    let mut hasher = Sha256::new();
    hasher.update(&e.prev_hash);
    hasher.update(canonical.to_string().as_bytes());
    hasher.finalize().to_vec()
}

/// The outcome of checking a tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    pub entries_checked: i64,
    pub ok: bool,
    /// The first entry that does not fit the chain, and why.
    pub first_bad_seq: Option<i64>,
    pub first_bad_id: Option<Uuid>,
    pub reason: Option<String>,
}

/// Walk the scope's tenant's chain from the start and report the first entry that does not fit.
pub async fn verify(store: &Store, scope: &TenantScope) -> Result<VerifyReport, StoreError> {
    let tenant_id = scope.tenant_id();
    let mut report =
        VerifyReport { entries_checked: 0, ok: true, first_bad_seq: None, first_bad_id: None, reason: None };
    let mut expected_prev = vec![0u8; 32];
    let mut expected_seq = 1i64;
    let mut after = 0i64;
    loop {
        let batch = repo::entries_after(store, tenant_id, after, 1000).await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for entry in batch {
            report.entries_checked += 1;
            let problem = if entry.seq != expected_seq {
                Some(format!("expected entry {expected_seq}, found {}: entries are missing", entry.seq))
            } else if entry.prev_hash != expected_prev {
                Some("does not follow the previous entry (removed or reordered entries)".to_owned())
            } else if entry_hash(&entry) != entry.hash {
                Some("content does not match its hash (altered entry)".to_owned())
            } else {
                None
            };
            if let Some(reason) = problem {
                report.ok = false;
                report.first_bad_seq = Some(entry.seq);
                report.first_bad_id = Some(entry.id);
                report.reason = Some(reason);
                return Ok(report);
            }
            expected_prev = entry.hash;
            expected_seq += 1;
        }
    }
    if let Some((seq, hash)) = repo::head(store, tenant_id).await? {
        if seq != expected_seq - 1 || hash != expected_prev {
            report.ok = false;
            report.first_bad_seq = Some(expected_seq);
            report.reason = Some(format!(
                "the chain ends at entry {} but {seq} were written: entries are missing",
                expected_seq - 1
            ));
        }
    }
    Ok(report)
}

/// Entries about one resource, oldest first.
pub async fn entries_for(
    store: &Store,
    scope: &TenantScope,
    resource_type: &str,
    resource_id: &str,
) -> Result<Vec<AuditEntry>, StoreError> {
    repo::entries_for(store, scope.tenant_id(), resource_type, resource_id).await
}

/// Number of entries in a tenant's log.
pub async fn count(store: &Store, scope: &TenantScope) -> Result<i64, StoreError> {
    repo::count(store, scope.tenant_id()).await
}

#[cfg(test)]
mod tests;
