//! The audit log: every change writes one entry in the same transaction as the change.
//!
//! Entries are append-only (database triggers refuse UPDATE, and DELETE of entries no archive anchor covers) and
//! chained per tenant: each entry's seal is an HMAC-SHA256, under a key derived from the server's secret key and never
//! stored in the database, of its content and the previous entry's seal; `audit_heads` holds the newest. [`verify`]
//! finds an altered, removed, inserted or reordered entry, and, held to a [`Checkpoint`] kept elsewhere, a cut-off
//! tail. Entries from before the chain was keyed keep a SHA-256 seal and count only as a chain's start.

pub mod archive;
mod error;
pub mod key;
pub mod model;
mod repo;
pub mod routes;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::http::pagination::{self, Page};
use crate::migrate::Migration;
use crate::principal::{Actor, AdminScope, TenantId, TenantScope};
use crate::store::{to_micros, Backend, ChainKey, Store, StoreError, Tx};

pub use error::AuditError;
pub use key::{check_key, KeyCheck, KeyError, KeyErrorOrStore};
pub use model::{AuditEntry, AuditQuery, Filter, MacKind, OwnAuditQuery};

pub const MIGRATIONS: &[Migration] = &[
    crate::migration!(2, "0002_audit_log", "audit_log"),
    crate::migration!(13, "0013_audit_keyed", "audit_keyed"),
    crate::migration!(14, "0014_audit_anchors", "audit_anchors"),
    crate::migration!(21, "0021_audit_sealed_heads", "audit_sealed_heads", after_up = key::seal_at_upgrade),
];

crate::text_enum!(
    /// What kind of change an entry records.
    Action {
        Create = "create",
        Read = "read",
        Update = "update",
        Delete = "delete",
        Restore = "restore",
        Login = "login",
        LoginFailed = "login_failed",
        Logout = "logout",
        PermissionChange = "permission_change",
        StatusChange = "status_change",
        Ingest = "ingest",
    }
);

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

/// Start a tenant's chain (its head sealed when there is a key); called in the transaction that creates the tenant.
pub async fn start_chain(tx: &mut Tx, scope: &TenantScope) -> Result<(), StoreError> {
    let head = key::Head::start(scope.tenant_id().uuid(), tx.chain_key());
    repo::insert_head(tx, &head).await
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
    append(tx, tenant_id, changes.into_iter().map(|change| (actor, at, change)).collect()).await
}

/// Append entries, each with its own actor and time, to the tenant's chain in the caller's transaction.
///
/// On SQLite the whole append (take the head, seal, insert, move the head) runs on the writer in turn with the
/// transaction's other statements, so it costs the caller no hand-off; on PostgreSQL it runs statement by statement.
async fn append(
    tx: &mut Tx,
    tenant_id: TenantId,
    entries: Vec<(&Actor, OffsetDateTime, Change)>,
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let key = tx.chain_key().cloned();
    let kind = if key.is_some() { MacKind::Keyed } else { MacKind::Sha256 };
    let drafts: Vec<AuditEntry> =
        entries.into_iter().map(|(actor, at, change)| draft(tenant_id, actor, at, change, kind)).collect();
    let n = drafts.len() as i64;
    match tx.backend() {
        Backend::Sqlite => tx.defer_on_writer(move |writer| {
            let head = repo::advance_head_on(writer, tenant_id, n)?;
            check_head(&head, key.as_ref(), || repo::fingerprint_on(writer))?;
            let (entries, next) = seal_chain(drafts, &head, key.as_ref())?;
            for entry in &entries {
                repo::insert_entry_on(writer, entry)?;
            }
            repo::set_head_on(writer, &next)
        }),
        Backend::Postgres => {
            let head = repo::advance_head(tx, tenant_id, n).await?;
            let recorded = match head.head_mac {
                None if key.is_some() => repo::fingerprint(&mut *tx).await?,
                _ => None,
            };
            check_head(&head, key.as_ref(), || Ok(recorded))?;
            let (entries, next) = seal_chain(drafts, &head, key.as_ref())?;
            for entry in &entries {
                repo::insert_entry(tx, entry).await?;
            }
            repo::set_head(tx, &next).await
        }
    }
}

/// Refuse to extend a head that a process with this key did not write: entries appended to a head moved back over a
/// cut tail would seal the cut. An unsealed head is taken only from a database that records no key (one that never
/// had a key, or a store used without [`check_key`], as tests do); `recorded` reads the fingerprint for that case.
fn check_head(
    head: &key::Head,
    key: Option<&ChainKey>,
    recorded: impl FnOnce() -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<(), StoreError> {
    let keyed_database = match key {
        Some(key) if head.head_mac.is_none() => key.is_bound() || recorded()?.is_some(),
        _ => false,
    };
    head.check(key, keyed_database).map(drop).map_err(|reason| match key {
        None => StoreError::Refused(
            "this tenant's audit log is sealed with the server's secret key, and none is configured: set \
             ROSTER_SECRET_KEY (or keep roster.key beside the database) to change anything"
                .into(),
        ),
        Some(_) => StoreError::Refused(format!(
            "this tenant's audit chain cannot be extended: {reason}; run `roster audit verify` and restore from a \
             backup"
        )),
    })
}

/// An entry before its place in the chain is known (sequence number and seals empty).
fn draft(tenant_id: TenantId, actor: &Actor, at: OffsetDateTime, change: Change, kind: MacKind) -> AuditEntry {
    AuditEntry {
        tenant_id: tenant_id.uuid(),
        seq: 0,
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
        mac_kind: kind,
        prev_hash: Vec::new(),
        hash: Vec::new(),
    }
}

/// Number and seal drafts after the chain's head: the entries and the new head.
fn seal_chain(
    mut drafts: Vec<AuditEntry>,
    head: &key::Head,
    key: Option<&ChainKey>,
) -> Result<(Vec<AuditEntry>, key::Head), StoreError> {
    let (first_seq, mut prev_hash) = (head.seq + 1, head.hash.clone());
    if (head.mac_kind == MacKind::Keyed || head.head_mac.is_some()) && key.is_none() {
        // an unkeyed entry after keyed ones is what a forger would write: verification would report it
        return Err(StoreError::Refused(
            "this tenant's audit log is sealed with the server's secret key, and none is configured: set \
             ROSTER_SECRET_KEY (or keep roster.key beside the database) to change anything"
                .into(),
        ));
    }
    for (i, entry) in drafts.iter_mut().enumerate() {
        entry.seq = first_seq + i as i64;
        entry.prev_hash = std::mem::take(&mut prev_hash);
        entry.hash = seal(entry, key).expect("a keyed entry is sealed with the key it was made with");
        prev_hash = entry.hash.clone();
    }
    let kind = drafts.last().map_or(head.mac_kind, |e| e.mac_kind);
    let next = head.after(first_seq + drafts.len() as i64 - 1, prev_hash, kind, key);
    Ok((drafts, next))
}

/// Record entries that go with no other change (reads of personal data), committed before this returns. Those of
/// concurrent callers share a transaction: one writer takes them as they come, appends each tenant's to its chain
/// in one step, and commits them together, so a busy server pays one commit for many reads. When a shared commit
/// fails, each caller's entries are tried again alone, so one caller's failure is not another's.
pub async fn record_alone(
    store: &Store,
    tenant_id: TenantId,
    actor: &Actor,
    at: OffsetDateTime,
    changes: Vec<Change>,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let writer = store.service(AloneWriter::start);
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = AloneJob { tenant_id, actor: actor.clone(), at, changes, reply };
    writer.jobs.send(job).map_err(|_| StoreError::Refused("the audit writer has stopped".into()))?;
    answer.await.map_err(|_| StoreError::Refused("the audit writer has stopped".into()))?
}

/// The writer of [`record_alone`]: a task draining a queue, one transaction per turn.
struct AloneWriter {
    jobs: tokio::sync::mpsc::UnboundedSender<AloneJob>,
}

struct AloneJob {
    tenant_id: TenantId,
    actor: Actor,
    at: OffsetDateTime,
    changes: Vec<Change>,
    reply: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

/// Entries taken into one transaction at most.
const ALONE_BATCH: usize = 512;

impl AloneWriter {
    fn start(store: Store) -> AloneWriter {
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<AloneJob>();
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut batch = vec![first];
                let mut entries = batch[0].changes.len();
                while entries < ALONE_BATCH {
                    match queue.try_recv() {
                        Ok(job) => {
                            entries += job.changes.len();
                            batch.push(job);
                        }
                        Err(_) => break,
                    }
                }
                if batch.len() > 1 && Self::write(&store, &batch).await.is_ok() {
                    for job in batch {
                        let _ = job.reply.send(Ok(()));
                    }
                    continue;
                }
                for job in batch {
                    let result = Self::write(&store, std::slice::from_ref(&job)).await;
                    let _ = job.reply.send(result);
                }
            }
        });
        AloneWriter { jobs }
    }

    async fn write(store: &Store, batch: &[AloneJob]) -> Result<(), StoreError> {
        let mut tx = store.begin().await?;
        let mut tenants: Vec<TenantId> = batch.iter().map(|j| j.tenant_id).collect();
        tenants.sort_by_key(|t| t.uuid());
        tenants.dedup();
        for tenant_id in tenants {
            let entries = batch
                .iter()
                .filter(|j| j.tenant_id == tenant_id)
                .flat_map(|j| j.changes.iter().map(move |c| (&j.actor, j.at, c.clone())))
                .collect();
            append(&mut tx, tenant_id, entries).await?;
        }
        tx.commit().await
    }
}

/// The chain key of a server's secret key: HMAC-SHA256 under a key derived for the audit chain alone.
pub fn chain_key(secret: &crate::secrets::SecretKey) -> ChainKey {
    ChainKey::new(secret.derive("audit chain v1"))
}

/// The seal of an entry over the previous entry's seal and a canonical JSON rendering of its content: SHA-256 for
/// [`MacKind::Sha256`], HMAC-SHA256 under the chain key for [`MacKind::Keyed`] (`None` without the key).
pub(crate) fn seal(e: &AuditEntry, key: Option<&ChainKey>) -> Option<Vec<u8>> {
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
    ])
    .to_string();
    match e.mac_kind {
        MacKind::Sha256 => {
            let mut hasher = Sha256::new();
            hasher.update(&e.prev_hash);
            hasher.update(canonical.as_bytes());
            Some(hasher.finalize().to_vec())
        }
        MacKind::Keyed => {
            use hmac::Mac;
            let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key?.bytes()).expect("HMAC takes any key length");
            mac.update(b"roster audit entry v1\0");
            mac.update(&e.prev_hash);
            mac.update(canonical.as_bytes());
            Some(mac.finalize().into_bytes().to_vec())
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    /// Entries sealed without the key (SHA-256): those written before the chain was keyed. They are protected by the
    /// first keyed entry after them, and by checkpoints.
    pub unkeyed_entries: i64,
    /// The last entry moved to an archive file, when some were: the chain here starts after it.
    pub archived_through: Option<i64>,
    /// The last entry checked and its seal (hex): a checkpoint of what was verified.
    pub last_seq: i64,
    pub last_mac: Option<String>,
}

/// A tenant's chain at one moment, kept outside the database (the log, a file) so that a later verification can
/// tell that entries were cut off the end, which the chain alone cannot show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Checkpoint {
    pub tenant_id: Uuid,
    /// Entries in the chain then: the sequence number of the newest.
    pub entries: i64,
    /// The newest entry's seal (hex).
    pub head_mac: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Every tenant's checkpoint now (the operator's: for the log and `roster audit checkpoint`).
pub async fn checkpoints(
    store: &Store,
    _operator: &crate::principal::Sysadmin,
    now: OffsetDateTime,
) -> Result<Vec<Checkpoint>, StoreError> {
    let heads = repo::heads(store).await?;
    Ok(heads
        .into_iter()
        .map(|(tenant_id, entries, hash)| Checkpoint { tenant_id, entries, head_mac: hex(&hash), at: now })
        .collect())
}

/// Follows a chain entry by entry: each must come next in sequence, follow its predecessor's seal, and match its own
/// (keyed entries under the key; an unkeyed one only before any keyed one).
pub(crate) struct Walker<'k> {
    key: Option<&'k ChainKey>,
    expected_seq: i64,
    expected_prev: Vec<u8>,
    keyed_seen: bool,
    /// The last entry that may be unkeyed, as the chain's sealed head says; `None` when no sealed head says it.
    unkeyed_through: Option<i64>,
    unkeyed: i64,
    checked: i64,
}

impl<'k> Walker<'k> {
    /// A walk that starts after entry `after_seq`, whose seal was `prev` (the chain's start: 0 and zeros).
    pub(crate) fn new(key: Option<&'k ChainKey>, after_seq: i64, prev: Vec<u8>, keyed_seen: bool) -> Self {
        Walker {
            key,
            expected_seq: after_seq + 1,
            expected_prev: prev,
            keyed_seen,
            unkeyed_through: None,
            unkeyed: 0,
            checked: 0,
        }
    }

    /// Refuse unkeyed entries after `seq`: where the chain's sealed head says its unkeyed prefix ends.
    pub(crate) fn unkeyed_only_through(mut self, seq: i64) -> Self {
        self.unkeyed_through = Some(seq);
        self
    }

    /// Take the next entry, or say why it does not fit.
    pub(crate) fn step(&mut self, entry: &AuditEntry) -> Result<(), String> {
        self.checked += 1;
        if entry.seq != self.expected_seq {
            return Err(format!("expected entry {}, found {}: entries are missing", self.expected_seq, entry.seq));
        }
        if entry.prev_hash != self.expected_prev {
            return Err("does not follow the previous entry (inserted, removed or reordered entries)".to_owned());
        }
        if entry.mac_kind == MacKind::Sha256 && self.keyed_seen {
            return Err("an unkeyed entry after keyed ones (written or rewritten without the server's key)".to_owned());
        }
        if entry.mac_kind == MacKind::Sha256 && self.unkeyed_through.is_some_and(|last| entry.seq > last) {
            return Err(format!(
                "an unkeyed entry where the chain's sealed head says entries after {} are keyed (written or \
                 rewritten without the server's key)",
                self.unkeyed_through.unwrap_or_default()
            ));
        }
        match seal(entry, self.key) {
            None => return Err("sealed with the server's secret key, which this process does not have".to_owned()),
            Some(mac) if mac != entry.hash => return Err("content does not match its seal (altered entry)".to_owned()),
            Some(_) => {}
        }
        self.keyed_seen |= entry.mac_kind == MacKind::Keyed;
        self.unkeyed += i64::from(entry.mac_kind == MacKind::Sha256);
        self.expected_prev = entry.hash.clone();
        self.expected_seq += 1;
        Ok(())
    }

    /// The last entry taken (0 before any).
    pub(crate) fn end(&self) -> i64 {
        self.expected_seq - 1
    }

    /// The last entry's seal.
    pub(crate) fn last_mac(&self) -> &[u8] {
        &self.expected_prev
    }
}

/// Walk the scope's tenant's chain from its start (or from the anchor its last archive left) and report the first
/// entry that does not fit: an altered entry (its seal does not match), a removed one (a gap in the sequence), an
/// inserted or reordered one (it does not follow its predecessor's seal), an unkeyed entry after keyed ones, a forged
/// anchor, and — given a checkpoint taken earlier — a chain cut off before the checkpoint's newest entry, or one whose
/// entry at the checkpoint differs.
pub async fn verify(
    store: &Store,
    scope: &TenantScope,
    checkpoint: Option<&Checkpoint>,
) -> Result<VerifyReport, StoreError> {
    let tenant_id = scope.tenant_id();
    let key = store.chain_key();
    let mut report = VerifyReport {
        entries_checked: 0,
        ok: true,
        first_bad_seq: None,
        first_bad_id: None,
        reason: None,
        unkeyed_entries: 0,
        archived_through: None,
        last_seq: 0,
        last_mac: None,
    };
    let fail = |report: &mut VerifyReport, seq: i64, id: Option<Uuid>, reason: String| {
        report.ok = false;
        report.first_bad_seq = Some(seq);
        report.first_bad_id = id;
        report.reason = Some(reason);
    };
    let checkpoint = checkpoint.filter(|c| c.tenant_id == tenant_id.uuid());
    let Some(head) = repo::head(store, tenant_id).await? else {
        fail(&mut report, 1, None, "the tenant has no audit chain head: its chain was removed".into());
        return Ok(report);
    };
    let recorded = repo::fingerprint(store).await?;
    if recorded.is_none() && key.is_some_and(ChainKey::is_bound) {
        let reason = "the database no longer records the secret key it is sealed under (its fingerprint was removed)";
        fail(&mut report, 1, None, reason.into());
        return Ok(report);
    }
    if let (Some(recorded), Some(key)) = (&recorded, key) {
        if *recorded != key::fingerprint(key) {
            let reason = format!(
                "key mismatch: the database is sealed under another secret key (fingerprint {}) than this process's \
                 (fingerprint {}); verify it with the key it was made with",
                key::show(recorded),
                key::show(&key::fingerprint(key))
            );
            fail(&mut report, 1, None, reason);
            return Ok(report);
        }
    }
    // a head that fails its seal is reported after the walk, so that an entry that does not fit is named first
    let (sealed, head_problem) = match head.check(key, recorded.is_some()) {
        Ok(sealed) => (sealed, None),
        Err(reason) => (false, Some(reason)),
    };
    let anchor = repo::newest_anchor(store, tenant_id).await?;
    let walker = match &anchor {
        Some(anchor) => {
            if let Err(reason) = anchor.check(key) {
                fail(&mut report, anchor.seq, None, reason);
                return Ok(report);
            }
            report.archived_through = Some(anchor.seq);
            report.last_seq = anchor.seq;
            report.last_mac = Some(hex(&anchor.hash));
            Walker::new(key, anchor.seq, anchor.hash.clone(), anchor.mac_kind == MacKind::Keyed)
        }
        None => Walker::new(key, 0, vec![0u8; 32], false),
    };
    let mut walker = if sealed { walker.unkeyed_only_through(head.unkeyed_through) } else { walker };
    let mut after = walker.end();
    loop {
        let batch = repo::entries_after(store, tenant_id, after, 1000).await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for entry in batch {
            if let Err(reason) = walker.step(&entry) {
                report.entries_checked = walker.checked;
                fail(&mut report, entry.seq, Some(entry.id), reason);
                return Ok(report);
            }
            if let Some(c) = checkpoint.filter(|c| c.entries == entry.seq) {
                if c.head_mac != hex(&entry.hash) {
                    let reason = format!("differs from the checkpoint of {} (rewritten since)", timestamp(c.at));
                    report.entries_checked = walker.checked;
                    fail(&mut report, entry.seq, Some(entry.id), reason);
                    return Ok(report);
                }
            }
            report.last_seq = entry.seq;
            report.last_mac = Some(hex(&entry.hash));
        }
    }
    report.entries_checked = walker.checked;
    report.unkeyed_entries = walker.unkeyed;
    let end = walker.end();
    if let Some(reason) = head_problem {
        fail(&mut report, head.seq, None, reason);
        return Ok(report);
    }
    if let Some(c) = checkpoint.filter(|c| c.entries > end) {
        let reason = format!(
            "the chain ends at entry {end}, but the checkpoint of {} saw {}: entries were cut off the end",
            timestamp(c.at),
            c.entries
        );
        fail(&mut report, end + 1, None, reason);
        return Ok(report);
    }
    let mut head = head;
    if head.seq < end {
        // entries appended while the walk went on: the head has moved past where it was read, sealed as before
        head = repo::head(store, tenant_id).await?.unwrap_or(head);
        if let Err(reason) = head.check(key, recorded.is_some()) {
            fail(&mut report, head.seq, None, reason);
            return Ok(report);
        }
    }
    if head.seq != end || head.hash != walker.last_mac() {
        let reason = if head.seq > end {
            format!("the chain ends at entry {end} but {} were written: entries are missing", head.seq)
        } else {
            format!("the chain's sealed head ends at entry {} but entries follow it: entries were added", head.seq)
        };
        fail(&mut report, end.min(head.seq) + 1, None, reason);
    }
    Ok(report)
}

/// A page of the tenant's log (admin), newest first, narrowed by the query.
pub async fn list(store: &Store, scope: AdminScope<'_>, query: &AuditQuery) -> Result<Page<AuditEntry>, AuditError> {
    page(store, scope.tenant_id(), Filter::parse(query).map_err(AuditError::Invalid)?, query).await
}

/// A page of the entries about the signed-in user behind `scope` (its own account), newest first. The request facts
/// (address, client, session, request id) of entries someone else made are left out.
pub async fn about_self(
    store: &Store,
    scope: &TenantScope,
    query: OwnAuditQuery,
) -> Result<Page<AuditEntry>, AuditError> {
    let user_id = scope.user_id().ok_or(AuditError::NoUser)?;
    let query = AuditQuery::from(query);
    let filter = Filter {
        resource_type: Some("user".into()),
        resource_id: Some(user_id.to_string()),
        ..Filter::parse(&query).map_err(AuditError::Invalid)?
    };
    let mut page = page(store, scope.tenant_id(), filter, &query).await?;
    for entry in &mut page.items {
        // what an admin or an application did to the user is shown, but not the address and client it did it from
        if entry.actor_api_key_id.is_some() || entry.actor_user_id.is_some_and(|actor| actor != user_id) {
            entry.ip_address = None;
            entry.user_agent = None;
            entry.session_id = None;
            entry.request_id = None;
        }
    }
    Ok(page)
}

async fn page(
    store: &Store,
    tenant_id: TenantId,
    filter: Filter,
    query: &AuditQuery,
) -> Result<Page<AuditEntry>, AuditError> {
    let limit = pagination::limit(query.limit)?;
    let before = pagination::decode_key_cursor::<i64>(query.cursor.as_deref())?;
    let rows = repo::select(store, tenant_id, &filter, repo::Order::NewestFirst, before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let mut items = rows;
    items.truncate(limit as usize);
    let next_cursor = if more { items.last().map(|e| pagination::encode_key_cursor(&e.seq)) } else { None };
    Ok(Page { items, next_cursor })
}

/// Entries read per round trip of an export: memory stays at one batch whatever the log's size.
const EXPORT_BATCH: i64 = 1000;

/// The tenant's entries that match the query (admin), in chain order, as NDJSON: one line per entry, produced one
/// batch at a time as the reader takes them.
pub fn export(
    store: &Store,
    scope: AdminScope<'_>,
    query: &AuditQuery,
) -> Result<impl futures_util::Stream<Item = Result<bytes::Bytes, StoreError>> + Send + 'static, AuditError> {
    if query.limit.is_some() || query.cursor.is_some() {
        let field = if query.limit.is_some() { "limit" } else { "cursor" };
        return Err(AuditError::Invalid(vec![crate::http::FieldError::new(field, "an export is never paged")]));
    }
    let filter = Filter::parse(query).map_err(AuditError::Invalid)?;
    let (store, tenant_id) = (store.clone(), scope.tenant_id());
    Ok(futures_util::stream::try_unfold(Some(None::<i64>), move |after| {
        let (store, filter) = (store.clone(), filter.clone());
        async move {
            let Some(after) = after else { return Ok(None) };
            let batch = repo::select(&store, tenant_id, &filter, repo::Order::ChainOrder, after, EXPORT_BATCH).await?;
            let Some(last) = batch.last().map(|e| e.seq) else { return Ok(None) };
            let mut lines = Vec::with_capacity(batch.len() * 400);
            for entry in &batch {
                serde_json::to_writer(&mut lines, entry).map_err(|e| StoreError::Decode(e.to_string()))?;
                lines.push(b'\n');
            }
            let next = (batch.len() as i64 == EXPORT_BATCH).then_some(Some(last));
            Ok(Some((bytes::Bytes::from(lines), next)))
        }
    }))
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
