//! Retention: old entries move out of the database into a file that can be verified on its own, and the chain that
//! stays continues from an anchor — the last archived entry's seal, itself sealed under the chain key.
//!
//! The file is NDJSON: a header line (`{"roster_audit_archive": 1, tenant_id, from_seq, to_seq, prev_mac, …}`), then
//! one line per entry with its seals (`prev_hash`, `hash`, hex) and `mac_kind`. It is written and synced before any
//! entry leaves the database; the database then records the anchor, removes the archived entries (its trigger lets
//! only anchored entries go) and writes an entry saying so, in one transaction.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{hex, repo, timestamp, Action, AuditEntry, AuditError, Change, MacKind, Walker};
use crate::principal::{Sysadmin, TenantId, TenantScope};
use crate::store::{ChainKey, FromRow, Row, Store, StoreError};

/// Where a chain continues after an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub tenant_id: Uuid,
    /// The last archived entry, and its seal.
    pub seq: i64,
    pub hash: Vec<u8>,
    pub mac_kind: MacKind,
    pub archived_at: OffsetDateTime,
    pub file_sha256: String,
    pub anchor_mac: Option<Vec<u8>>,
}

impl FromRow for Anchor {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(Anchor {
            tenant_id: row.get(0)?,
            seq: row.get(1)?,
            hash: row.get(2)?,
            mac_kind: MacKind::from_stored(row.get(3)?)?,
            archived_at: row.get(4)?,
            file_sha256: row.get(5)?,
            anchor_mac: row.get(6)?,
        })
    }
}

impl Anchor {
    fn mac(&self, key: &ChainKey) -> Vec<u8> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes any key length");
        mac.update(b"roster audit anchor v1\0");
        mac.update(self.tenant_id.as_bytes());
        mac.update(&self.seq.to_be_bytes());
        mac.update(&self.hash);
        mac.update(&crate::store::to_micros(self.archived_at).to_be_bytes());
        mac.update(self.file_sha256.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Whether the anchor is one roster made: sealed under the key when the chain it ends was keyed.
    pub(crate) fn check(&self, key: Option<&ChainKey>) -> Result<(), String> {
        match (&self.anchor_mac, key) {
            // a process with the key seals every anchor it makes: an unsealed one is someone else's
            (None, Some(_)) => Err("the archive anchor is not sealed with the server's key (forged anchor)".into()),
            (None, None) if self.mac_kind == MacKind::Keyed => {
                Err("the archive anchor of a keyed chain is not sealed (forged anchor)".into())
            }
            (None, None) => Ok(()),
            (Some(_), None) => {
                Err("the archive anchor is sealed with the server's secret key, which this process does not have"
                    .into())
            }
            (Some(mac), Some(key)) if *mac != self.mac(key) => {
                Err("the archive anchor does not match its seal (forged or altered anchor)".into())
            }
            (Some(_), Some(_)) => Ok(()),
        }
    }
}

/// The first line of an archive file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The format's version: 1.
    pub roster_audit_archive: u32,
    pub tenant_id: Uuid,
    /// The entries it holds, first and last.
    pub from_seq: i64,
    pub to_seq: i64,
    /// The seal the first entry follows (hex): the previous archive's last, or zeros.
    pub prev_mac: String,
    /// How that seal was made (0 SHA-256, 1 keyed): after a keyed one, no unkeyed entry may follow.
    pub prev_mac_kind: i64,
    /// Entries that occurred before this time were archived.
    #[serde(with = "time::serde::rfc3339")]
    pub before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub archived_at: OffsetDateTime,
}

/// An entry line of an archive file: the entry with its seals.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Line {
    #[serde(flatten)]
    entry: AuditEntry,
    prev_hash: String,
    hash: String,
    mac_kind: i64,
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (text.len() % 2 == 0)
        .then(|| (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect())
        .flatten()
}

/// What an archive moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveReport {
    pub tenant_id: Uuid,
    pub entries: i64,
    pub from_seq: i64,
    pub to_seq: i64,
    pub bytes: u64,
    pub file_sha256: String,
}

/// A file being written and hashed as it goes.
struct HashingFile {
    file: std::io::BufWriter<std::fs::File>,
    hasher: Sha256,
    bytes: u64,
}

impl HashingFile {
    fn line(&mut self, value: &impl Serialize) -> std::io::Result<()> {
        let mut text = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        text.push(b'\n');
        self.hasher.update(&text);
        self.bytes += text.len() as u64;
        self.file.write_all(&text)
    }
}

/// Move the entries of the scope's tenant that occurred before `before` (the operator's: the longest run from the
/// chain's current start that is all older) into a new file at `path`, then out of the database, leaving an anchor
/// and one `delete` entry about the archived range. The run is verified on its way out: a broken chain is not
/// archived. Refuses a file that exists.
pub async fn archive(
    store: &Store,
    _operator: &Sysadmin,
    scope: &TenantScope,
    before: OffsetDateTime,
    now: OffsetDateTime,
    path: &Path,
) -> Result<ArchiveReport, AuditError> {
    let tenant_id = scope.tenant_id();
    let key = store.chain_key();
    let anchor = repo::newest_anchor(store, tenant_id).await?;
    let (start, prev, keyed_seen) = match &anchor {
        Some(a) => {
            a.check(key).map_err(|reason| AuditError::Broken { seq: a.seq, reason })?;
            (a.seq, a.hash.clone(), a.mac_kind == MacKind::Keyed)
        }
        None => (0, vec![0u8; 32], false),
    };
    let end = match repo::first_at_or_after(store, tenant_id, start, before).await? {
        Some(first_kept) => first_kept - 1,
        None => repo::head(store, tenant_id).await?.map_or(start, |head| head.seq),
    };
    if end <= start {
        return Err(AuditError::invalid("before", format!("no entries before {} to archive", timestamp(before))));
    }

    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| AuditError::File { path: path.display().to_string(), reason: e.to_string() })?;
    let written =
        write_archive(store, tenant_id, key, (start, prev.clone(), keyed_seen), end, (before, now), (path, file)).await;
    let (mut out, last) = match written {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
    };
    let write_error = |e: std::io::Error| {
        let _ = std::fs::remove_file(path);
        AuditError::Write { path: path.display().to_string(), reason: e.to_string() }
    };
    out.file.flush().map_err(write_error)?;
    out.file.get_ref().sync_all().map_err(write_error)?;
    let file_sha256 = hex(&out.hasher.finalize());

    let mut anchor = Anchor {
        tenant_id: tenant_id.uuid(),
        seq: end,
        hash: last.hash.clone(),
        mac_kind: last.mac_kind,
        archived_at: now,
        file_sha256: file_sha256.clone(),
        anchor_mac: None,
    };
    anchor.anchor_mac = key.map(|k| anchor.mac(k));
    // it deletes every archived entry: a large transaction
    let mut tx = store.begin_large().await?;
    // another archive of this tenant that ran meanwhile moved the start: this file would overlap it
    let current = repo::newest_anchor(&mut tx, tenant_id).await?.map_or(0, |a| a.seq);
    if current != start {
        let _ = std::fs::remove_file(path);
        return Err(AuditError::Broken {
            seq: current,
            reason: "another archive of this tenant ran meanwhile; run this one again".into(),
        });
    }
    repo::insert_anchor(&mut tx, &anchor).await?;
    repo::delete_through(&mut tx, tenant_id, end).await?;
    let change = Change::new(Action::Delete, "audit_log", format!("{}-{end}", start + 1)).values(
        None,
        Some(serde_json::json!({
            "archived_from_seq": start + 1,
            "archived_to_seq": end,
            "before": timestamp(before),
            "file_sha256": file_sha256,
        })),
    );
    super::record(&mut tx, scope, now, change).await?;
    tx.commit().await?;
    Ok(ArchiveReport {
        tenant_id: tenant_id.uuid(),
        entries: end - start,
        from_seq: start + 1,
        to_seq: end,
        bytes: out.bytes,
        file_sha256,
    })
}

/// Write the header and the entries after `start` up to `end`, checking each on the way: the file, and the last entry.
async fn write_archive(
    store: &Store,
    tenant_id: TenantId,
    key: Option<&ChainKey>,
    (start, prev, keyed_seen): (i64, Vec<u8>, bool),
    end: i64,
    (before, now): (OffsetDateTime, OffsetDateTime),
    (path, file): (&Path, std::fs::File),
) -> Result<(HashingFile, AuditEntry), AuditError> {
    let mut out = HashingFile { file: std::io::BufWriter::new(file), hasher: Sha256::new(), bytes: 0 };
    let file_error = |e: std::io::Error| AuditError::Write { path: path.display().to_string(), reason: e.to_string() };
    let header = Header {
        roster_audit_archive: 1,
        tenant_id: tenant_id.uuid(),
        from_seq: start + 1,
        to_seq: end,
        prev_mac: hex(&prev),
        prev_mac_kind: if keyed_seen { MacKind::Keyed.stored() } else { MacKind::Sha256.stored() },
        before,
        archived_at: now,
    };
    out.line(&header).map_err(file_error)?;
    let mut walker = Walker::new(key, start, prev, keyed_seen);
    let mut after = start;
    let mut last = None;
    while after < end {
        let batch = repo::entries_after(store, tenant_id, after, 1000).await?;
        if batch.is_empty() {
            break;
        }
        for entry in batch.into_iter().take_while(|e| e.seq <= end) {
            walker.step(&entry).map_err(|reason| AuditError::Broken { seq: entry.seq, reason })?;
            let line = Line {
                prev_hash: hex(&entry.prev_hash),
                hash: hex(&entry.hash),
                mac_kind: entry.mac_kind.stored(),
                entry,
            };
            out.line(&line).map_err(file_error)?;
            after = line.entry.seq;
            last = Some(line.entry);
        }
    }
    let last = last.filter(|e| e.seq == end).ok_or(AuditError::Broken {
        seq: after + 1,
        reason: format!("the chain ends at entry {after}, before entry {end}: entries are missing"),
    })?;
    Ok((out, last))
}

/// The outcome of checking an archive file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveCheck {
    pub ok: bool,
    pub tenant_id: Option<Uuid>,
    pub entries: i64,
    pub from_seq: Option<i64>,
    pub to_seq: Option<i64>,
    pub first_bad_seq: Option<i64>,
    pub reason: Option<String>,
    pub file_sha256: String,
    /// Whether the database holds the anchor this file ends at, with the same file checksum (`None`: not asked).
    pub anchored: Option<bool>,
}

/// Check an archive file on its own: its entries follow one another from the header's seal to its last entry, each
/// matching its seal (keyed ones under the key). With a store, also that the database's anchor at its end names this
/// very file.
pub async fn verify_file(
    _operator: &Sysadmin,
    path: &Path,
    key: Option<&ChainKey>,
    store: Option<&Store>,
) -> Result<ArchiveCheck, AuditError> {
    let file_error = |e: std::io::Error| AuditError::File { path: path.display().to_string(), reason: e.to_string() };
    let file = std::fs::File::open(path).map_err(file_error)?;
    let mut hasher = Sha256::new();
    let mut check = ArchiveCheck {
        ok: true,
        tenant_id: None,
        entries: 0,
        from_seq: None,
        to_seq: None,
        first_bad_seq: None,
        reason: None,
        file_sha256: String::new(),
        anchored: None,
    };
    let mut header: Option<Header> = None;
    let mut walker: Option<Walker> = None;
    let mut problem: Option<(i64, String)> = None;
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(file_error)?;
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
        if problem.is_some() {
            continue;
        }
        let Some(h) = &header else {
            match serde_json::from_str::<Header>(&line) {
                Ok(h) if h.roster_audit_archive == 1 => {
                    let Some(prev) = unhex(&h.prev_mac) else {
                        problem = Some((h.from_seq, "the header's prev_mac is not hex".into()));
                        continue;
                    };
                    let keyed = h.prev_mac_kind == MacKind::Keyed.stored();
                    walker = Some(Walker::new(key, h.from_seq - 1, prev, keyed));
                    header = Some(h);
                }
                _ => problem = Some((0, format!("line {}: not the header of a roster audit archive", number + 1))),
            }
            continue;
        };
        let entry = serde_json::from_str::<Line>(&line).ok().and_then(|l| {
            let mut entry = l.entry;
            entry.prev_hash = unhex(&l.prev_hash)?;
            entry.hash = unhex(&l.hash)?;
            entry.mac_kind = MacKind::from_stored(l.mac_kind).ok()?;
            Some(entry)
        });
        let Some(entry) = entry else {
            problem = Some((h.from_seq + check.entries, format!("line {}: not an archived entry", number + 1)));
            continue;
        };
        if entry.tenant_id != h.tenant_id {
            problem = Some((entry.seq, "an entry of another tenant".into()));
            continue;
        }
        if let Err(reason) = walker.as_mut().map_or(Ok(()), |w| w.step(&entry)) {
            problem = Some((entry.seq, reason));
            continue;
        }
        check.entries += 1;
    }
    check.file_sha256 = hex(&hasher.finalize());
    match (&header, &walker) {
        (Some(h), Some(w)) => {
            check.tenant_id = Some(h.tenant_id);
            check.from_seq = Some(h.from_seq);
            check.to_seq = Some(h.to_seq);
            if problem.is_none() && w.end() != h.to_seq {
                problem =
                    Some((w.end() + 1, format!("the file ends at entry {}, its header says {}", w.end(), h.to_seq)));
            }
            if let Some(store) = store {
                let anchor = repo::anchor_at(store, h.tenant_id, h.to_seq).await?;
                check.anchored = Some(anchor.is_some_and(|a| {
                    a.file_sha256 == check.file_sha256 && hex(&a.hash) == hex(w.last_mac()) && a.check(key).is_ok()
                }));
            }
        }
        _ if problem.is_none() => problem = Some((0, "the file is empty".into())),
        _ => {}
    }
    if let Some((seq, reason)) = problem {
        check.ok = false;
        check.first_bad_seq = Some(seq);
        check.reason = Some(reason);
    }
    Ok(check)
}
