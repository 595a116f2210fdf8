//! Backups: a consistent copy of the database taken while it serves (SQLite: `VACUUM INTO`; PostgreSQL: `pg_dump` in
//! its custom format, from a snapshot the counts are read in too), the checks that say a copy is whole (SQLite's
//! integrity check, the migration level, every tenant's audit chain, row counts), and restoring a copy, refusing one
//! this binary cannot vouch for.
//!
//! A backup is a file and, beside it, `FILE.manifest.json`: what the copy holds (level, counts) and its SHA-256, so a
//! restore can tell a damaged or changed file from the one that was made.

mod postgres;
mod repo;
mod sqlite;
pub mod transfer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::migrate::{MigrateError, Migrator};
use crate::principal::{Actor, Sysadmin};
use crate::store::{Backend, ChainKey, Store, StoreError};

pub use postgres::{backup as backup_postgres, restore as restore_postgres};
pub use repo::tables as tables_present;
pub use sqlite::{backup as backup_sqlite, restore as restore_sqlite};

/// Every table of the schema, parents before the tables that refer to them: the order a copy is written in.
pub const TABLES: &[&str] = &[
    "tenants",
    "audit_log",
    "audit_heads",
    "audit_anchors",
    "secret_key_fingerprint",
    "users",
    "api_keys",
    "sessions",
    "user_tokens",
    "totp_recovery_codes",
    "bugs",
    "tests",
    "contribution_days",
    "contribution_totals",
    "agents",
    "agent_permissions",
    "clients",
    "scenarios",
    "training_sessions",
    "chat_messages",
    "performance_metrics",
    "training_totals",
    "achievements",
    "user_achievements",
    "user_groups",
    "group_members",
];

/// What can stop a backup or a restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The caller's to fix: a file that exists, a live database without `--force`, a file of the other backend.
    #[error("{0}")]
    Refused(String),
    /// The copy is not one this binary can vouch for: damaged, newer, a broken chain.
    #[error("{0}")]
    Failed(String),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
}

impl BackupError {
    fn io(path: &Path, e: std::io::Error) -> Self {
        BackupError::Io(format!("{}: {e}", path.display()))
    }
}

/// One tenant's audit chain, as checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    pub tenant: String,
    pub entries: i64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What the checks found in a database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The newest migration applied.
    pub level: i64,
    /// SQLite's `PRAGMA integrity_check` ("ok"); PostgreSQL keeps its own checksums and answers "not applicable".
    pub integrity: String,
    /// Every tenant's chain; empty when the database is older than this binary (checked after it is migrated).
    pub audit: Vec<Chain>,
    /// The secret key the database records against this process's (fingerprints).
    #[serde(default)]
    pub key: crate::audit::key::KeyMatch,
    pub counts: BTreeMap<String, i64>,
}

impl Check {
    /// What is wrong, if anything: a damaged file, a broken chain.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.integrity != "ok" && self.integrity != "not applicable" {
            problems.push(format!("integrity check: {}", self.integrity));
        }
        problems.extend(self.key.problem());
        for chain in self.audit.iter().filter(|c| !c.ok) {
            problems.push(format!(
                "audit chain of tenant {}: {}",
                chain.tenant,
                chain.problem.as_deref().unwrap_or("does not verify")
            ));
        }
        problems
    }
}

/// Beside each backup: what it holds, to check a restore against, sealed under the server's key so that nobody
/// without the key can edit the file and write a manifest to match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub roster_version: String,
    /// `sqlite` (a database file) or `postgres` (a `pg_dump` custom-format archive).
    pub backend: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub bytes: u64,
    pub sha256: String,
    pub level: i64,
    pub counts: BTreeMap<String, i64>,
    /// The fingerprint of the key the copy is sealed under (see `audit::key`), when the server had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<String>,
    /// HMAC-SHA256 (hex), under a key derived from the chain key, of the manifest without this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

impl Manifest {
    /// The seal of this manifest's content under `key`.
    fn seal_with(&self, key: &ChainKey) -> String {
        use hmac::Mac;
        let content = serde_json::to_vec(&Manifest { seal: None, ..self.clone() }).unwrap_or_default();
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes any key length");
        mac.update(b"roster backup manifest v1\0");
        mac.update(&content);
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Seal the manifest under `key` (a server without a key leaves it unsealed).
    pub fn sealed(mut self, key: Option<&ChainKey>) -> Manifest {
        self.key_fingerprint = key.map(|k| crate::audit::key::show(&crate::audit::key::fingerprint(k)));
        self.seal = key.map(|k| self.seal_with(k));
        self
    }

    /// Whether this process may trust the manifest: sealed under its key, or — for a server that has no key —
    /// made by a server without one.
    fn check_seal(&self, key: Option<&ChainKey>, file: &Path) -> Result<(), BackupError> {
        let which = |fingerprint: &Option<String>| match fingerprint {
            Some(f) => format!("the key with fingerprint {f}"),
            None => "no key".to_owned(),
        };
        let ours = key.map(|k| crate::audit::key::show(&crate::audit::key::fingerprint(k)));
        match (&self.seal, key) {
            (Some(seal), Some(key)) if *seal == self.seal_with(key) => Ok(()),
            (Some(_), Some(_)) if self.key_fingerprint != ours => Err(BackupError::Failed(format!(
                "{}: the backup was made under {}, this process has {}: restore with the key it was made with",
                file.display(),
                which(&self.key_fingerprint),
                which(&ours)
            ))),
            (Some(_), _) | (None, Some(_)) => Err(BackupError::Failed(format!(
                "{}: its manifest is not sealed under this server's key: it was edited, or made without a key; a \
                 restore trusts only what the key vouches for",
                manifest_path(file).display()
            ))),
            (None, None) => Ok(()),
        }
    }
}

/// What `roster backup` reports.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub file: PathBuf,
    pub manifest: PathBuf,
    pub bytes: u64,
    pub level: i64,
    pub check: Option<Check>,
    pub seconds: f64,
}

/// What `roster restore` reports.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The level of the copy, and the level it was brought to.
    pub from_level: i64,
    pub level: i64,
    pub replaced: bool,
    /// Whether the copy had a manifest its file and counts matched.
    pub manifest_checked: bool,
    pub check: Check,
    pub seconds: f64,
}

/// The newest migration a database has, and the versions in it this binary does not know.
async fn level_of(store: &Store) -> Result<(i64, Vec<i64>), BackupError> {
    let migrations = crate::migrations();
    let status = Migrator::new(store, &migrations).status().await?;
    let level = status.iter().filter(|s| s.state != "pending").map(|s| s.version).max().unwrap_or(0);
    let unknown = status.iter().filter(|s| s.state == "unknown").map(|s| s.version).collect();
    Ok((level, unknown))
}

/// This binary's migration level.
pub fn binary_level() -> i64 {
    crate::migrations().iter().map(|m| m.version).max().unwrap_or(0)
}

/// The versions among `versions` this binary does not know.
fn unknown_versions(versions: &[i64]) -> Vec<i64> {
    let known: Vec<i64> = crate::migrations().iter().map(|m| m.version).collect();
    versions.iter().copied().filter(|v| !known.contains(v)).collect()
}

fn newer(level: i64, unknown: &[i64]) -> BackupError {
    BackupError::Failed(format!(
        "the copy is at migration level {level} (with {}), newer than this binary ({}): restore it with the roster \
         version that made it",
        unknown.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
        binary_level()
    ))
}

/// Rows in every table (those the database has: an older level has fewer).
pub async fn counts(store: &Store) -> Result<BTreeMap<String, i64>, StoreError> {
    let present = repo::tables(store).await?;
    let mut counts = BTreeMap::new();
    for table in TABLES.iter().filter(|t| present.iter().any(|p| p == *t)) {
        counts.insert((*table).to_owned(), repo::count(store, table).await?);
    }
    Ok(counts)
}

/// Whether the database holds anything: a table of roster's with a row in it (the key a keyed process recorded when
/// it migrated an empty database is not data).
pub async fn holds_data(store: &Store) -> Result<bool, StoreError> {
    Ok(counts(store).await?.iter().any(|(table, n)| *n > 0 && table != KEY_TABLE))
}

/// The table of the recorded key's fingerprint: one row that says nothing of the data.
const KEY_TABLE: &str = "secret_key_fingerprint";

/// Check a database: its integrity (SQLite), its migration level (refusing one newer than this binary), every
/// tenant's audit chain under the store's chain key (when the database is at this binary's level), and its counts.
pub async fn check(store: &Store) -> Result<Check, BackupError> {
    let integrity = match store.backend() {
        Backend::Sqlite => repo::integrity(store).await?,
        Backend::Postgres => "not applicable".to_owned(),
    };
    let (level, unknown) = level_of(store).await?;
    if !unknown.is_empty() {
        return Err(newer(level, &unknown));
    }
    let mut audit = Vec::new();
    let mut key = crate::audit::key::KeyMatch::default();
    if level == binary_level() {
        key = crate::audit::key::key_match(store).await?;
        let operator = Sysadmin::operator_unchecked(Actor::cli());
        let mut after = None;
        loop {
            let page = crate::tenants::list(store, &operator, after, 500).await?;
            let more = page.len() > 500;
            for tenant in page.into_iter().take(500) {
                after = Some(tenant.id);
                let slug = tenant.slug.clone();
                let report = crate::audit::verify(store, &operator.scope(tenant.as_ref()), None).await?;
                audit.push(Chain {
                    tenant: slug,
                    entries: report.entries_checked,
                    ok: report.ok,
                    problem: report.reason.map(|reason| match report.first_bad_seq {
                        Some(seq) => format!("entry {seq}: {reason}"),
                        None => reason,
                    }),
                });
            }
            if !more {
                break;
            }
        }
    }
    Ok(Check { level, integrity, audit, key, counts: counts(store).await? })
}

/// `FILE.manifest.json`.
pub fn manifest_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

/// The file's size and SHA-256 (hex).
pub fn digest(file: &Path) -> Result<(u64, String), BackupError> {
    use std::io::Read;
    let mut f = std::fs::File::open(file).map_err(|e| BackupError::io(file, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buffer).map_err(|e| BackupError::io(file, e))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((bytes, hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()))
}

/// Write the manifest durably (a temporary file renamed over the name).
pub fn write_manifest(file: &Path, manifest: &Manifest) -> Result<PathBuf, BackupError> {
    let path = manifest_path(file);
    let partial = partial_path(&path);
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Io(e.to_string()))?;
    write_synced(&partial, &text)?;
    std::fs::rename(&partial, &path).map_err(|e| BackupError::io(&path, e))?;
    sync_parent(&path)?;
    Ok(path)
}

/// The manifest beside `file`, if there is one; a manifest that does not parse is refused.
pub fn read_manifest(file: &Path) -> Result<Option<Manifest>, BackupError> {
    let path = manifest_path(file);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| BackupError::Failed(format!("{}: not a backup manifest: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BackupError::io(&path, e)),
    }
}

/// Refuse a file that does not match its manifest (damaged, truncated or changed since the backup).
fn check_against_manifest(file: &Path, manifest: &Manifest, backend: Backend) -> Result<(), BackupError> {
    if manifest.backend != backend.name() {
        return Err(BackupError::Failed(format!(
            "{}: the manifest says it is a {} backup",
            file.display(),
            manifest.backend
        )));
    }
    let (bytes, sha256) = digest(file)?;
    if bytes != manifest.bytes || sha256 != manifest.sha256 {
        return Err(BackupError::Failed(format!(
            "{}: does not match its manifest ({bytes} bytes, SHA-256 {sha256}; the backup was {} bytes, {}): the file \
             was damaged or changed since",
            file.display(),
            manifest.bytes,
            manifest.sha256
        )));
    }
    Ok(())
}

/// A backup about to be restored into `backend` by a process with `key`: refuse the other backend's file, one
/// without its manifest, one whose manifest is not sealed under the key, and one that does not match its manifest.
fn open_backup(file: &Path, backend: Backend, key: Option<&ChainKey>) -> Result<Manifest, BackupError> {
    match (file_kind(file)?, backend) {
        (FileKind::PgDump, Backend::Sqlite) => {
            return Err(BackupError::Refused(format!(
                "{} is a PostgreSQL archive (pg_dump): restore it into a PostgreSQL database (--database-url \
                 postgres://…)",
                file.display()
            )))
        }
        (FileKind::Sqlite, Backend::Postgres) => {
            return Err(BackupError::Refused(format!(
                "{} is a SQLite database: restore it into SQLite (--database-url sqlite://PATH)",
                file.display()
            )))
        }
        _ => {}
    }
    let manifest = read_manifest(file)?.ok_or_else(|| {
        BackupError::Refused(format!(
            "{}: no manifest beside it ({}): a restore trusts only a backup whose sealed manifest vouches for it",
            file.display(),
            manifest_path(file).display()
        ))
    })?;
    manifest.check_seal(key, file)?;
    check_against_manifest(file, &manifest, backend)?;
    Ok(manifest)
}

/// What is wrong with a restored database: what its checks found, and rows that differ from the manifest.
fn restore_problems(checked: &Check, manifest: &Manifest) -> Vec<String> {
    let mut problems = checked.problems();
    let differences = count_differences(&manifest.counts, &checked.counts);
    if !differences.is_empty() {
        problems.push(format!("rows differ from the manifest: {}", differences.join(", ")));
    }
    problems
}

/// Counts that differ between the manifest and the restored database, as "table: expected → found".
fn count_differences(expected: &BTreeMap<String, i64>, found: &BTreeMap<String, i64>) -> Vec<String> {
    expected
        .iter()
        .filter(|(table, n)| found.get(*table) != Some(n))
        .map(|(table, n)| format!("{table}: {n} → {}", found.get(table).map_or("missing".into(), i64::to_string)))
        .collect()
}

/// What kind of file a backup is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Sqlite,
    PgDump,
}

pub fn file_kind(file: &Path) -> Result<FileKind, BackupError> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BackupError::Refused(format!("{}: no such file", file.display())),
        _ => BackupError::io(file, e),
    })?;
    let n = f.read(&mut head).map_err(|e| BackupError::io(file, e))?;
    if head[..n].starts_with(b"SQLite format 3\0") {
        Ok(FileKind::Sqlite)
    } else if head[..n].starts_with(b"PGDMP") {
        Ok(FileKind::PgDump)
    } else {
        Err(BackupError::Refused(format!(
            "{}: neither a SQLite database nor a pg_dump custom-format archive",
            file.display()
        )))
    }
}

/// `PATH.partial`: where a file is written before it is renamed into place, so that a crash never leaves half a file
/// under the final name.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// An empty file only its owner may read: a backup holds password hashes and sealed secrets, whatever the umask.
fn create_private(path: &Path) -> Result<std::fs::File, BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|e| BackupError::io(path, e))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut f = create_private(path)?;
    f.write_all(bytes).map_err(|e| BackupError::io(path, e))?;
    f.sync_all().map_err(|e| BackupError::io(path, e))
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| BackupError::io(path, e))
}

/// Make a rename in the file's folder durable.
fn sync_parent(path: &Path) -> Result<(), BackupError> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    #[cfg(unix)]
    std::fs::File::open(parent).and_then(|f| f.sync_all()).map_err(|e| BackupError::io(parent, e))?;
    Ok(())
}

/// Refuse to write over an existing backup (backups are kept, not replaced by accident), or into a folder that is
/// not there.
fn refuse_existing(out: &Path) -> Result<(), BackupError> {
    let folder = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(BackupError::Refused(format!("--out: there is no folder {}", folder.display())));
    }
    for path in [out.to_path_buf(), manifest_path(out)] {
        if path.exists() {
            return Err(BackupError::Refused(format!(
                "--out: {} exists; choose a new name (a backup never replaces another)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// The manifest of the backup `file`, sealed under `key`.
pub fn manifest_for(
    backend: Backend,
    file: &Path,
    level: i64,
    counts: BTreeMap<String, i64>,
    key: Option<&ChainKey>,
) -> Result<Manifest, BackupError> {
    let (bytes, sha256) = digest(file)?;
    let manifest = Manifest {
        roster_version: env!("CARGO_PKG_VERSION").to_owned(),
        backend: backend.name().to_owned(),
        created_at: crate::clock::truncate(OffsetDateTime::now_utc()),
        bytes,
        sha256,
        level,
        counts,
        key_fingerprint: None,
        seal: None,
    };
    Ok(manifest.sealed(key))
}

#[cfg(test)]
mod tests;

/// What this binary's migrations make, object by object ([`repo::schema_objects`]): built in a scratch database of
/// the restore's backend — a file beside `near` on SQLite, a schema of its own in the target database on PostgreSQL
/// (dropped again either way).
async fn reference_schema(
    backend: Backend,
    near: &str,
    options: &crate::store::StoreOptions,
) -> Result<std::collections::BTreeSet<String>, BackupError> {
    let migrations = crate::migrations();
    match backend {
        Backend::Sqlite => {
            let path = PathBuf::from(format!("{near}.reference"));
            let cleanup = |path: &Path| {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            };
            cleanup(&path);
            let store = Store::connect(&format!("sqlite://{}", path.display()), options).await?;
            let objects = async {
                Migrator::new(&store, &migrations).up(None).await?;
                Ok::<_, BackupError>(repo::schema_objects(&store).await?)
            }
            .await;
            store.close().await;
            cleanup(&path);
            objects
        }
        Backend::Postgres => {
            let schema = format!("roster_reference_{}", uuid::Uuid::now_v7().simple());
            let admin = Store::connect(near, options).await?;
            // a restore killed while it built its reference left the schema behind: it goes now
            for left in repo::reference_schemas(&admin).await? {
                repo::scratch_schema(&admin, &left, false).await?;
            }
            repo::scratch_schema(&admin, &schema, true).await?;
            let separator = if near.contains('?') { '&' } else { '?' };
            let scoped = format!("{near}{separator}options=-csearch_path%3D{schema}");
            let objects = async {
                let store = Store::connect(&scoped, options).await?;
                let objects = async {
                    Migrator::new(&store, &migrations).up(None).await?;
                    Ok::<_, BackupError>(repo::schema_objects(&store).await?)
                }
                .await;
                store.close().await;
                objects
            }
            .await;
            repo::scratch_schema(&admin, &schema, false).await?;
            admin.close().await;
            objects
        }
    }
}

/// What differs between a restored schema and the one this binary's migrations make: objects the copy brought that
/// the migrations do not (a planted trigger or function, a constraint that calls one), and objects it lacks (the
/// audit log's append-only triggers, dropped).
fn schema_differences(
    expected: &std::collections::BTreeSet<String>,
    found: &std::collections::BTreeSet<String>,
) -> Option<String> {
    const SHOWN: usize = 5;
    let name = |line: &String| line.split(':').next().unwrap_or_default().to_owned();
    let extra: Vec<String> = found.difference(expected).map(name).collect();
    let missing: Vec<String> = expected.difference(found).map(name).collect();
    if extra.is_empty() && missing.is_empty() {
        return None;
    }
    let list = |items: &[String]| {
        let more = items.len().saturating_sub(SHOWN);
        let shown = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
        if more > 0 {
            format!("{shown} and {more} more")
        } else {
            shown
        }
    };
    let mut parts = Vec::new();
    if !extra.is_empty() {
        parts.push(format!("not made by this binary's migrations: {}", list(&extra)));
    }
    if !missing.is_empty() {
        parts.push(format!("missing: {}", list(&missing)));
    }
    Some(format!("the copy's schema differs from what this binary's migrations make ({})", parts.join("; ")))
}
