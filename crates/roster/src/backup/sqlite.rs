//! SQLite: `VACUUM INTO` from a read-only connection takes a consistent copy of the last committed state while the
//! server keeps writing (readers never block the writer in WAL mode); the copy is checked as roster opens it, left as
//! one self-contained file (rollback journal, no WAL beside it) and renamed into place. A restore checks the copy in
//! a staging file beside the target, brings it to this binary's level, and only then renames it over the target.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::{
    check, level_of, manifest_for, newer, open_backup, partial_path, reference_schema, refuse_existing,
    restore_problems, schema_differences, sync_file, sync_parent, write_manifest, BackupError, BackupReport,
    RestoreReport, TABLES,
};
use crate::migrate::Migrator;
use crate::store::{Backend, ChainKey, Store, StoreOptions};

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn sqlite_error(path: &Path, e: rusqlite::Error) -> BackupError {
    BackupError::Io(format!("{}: {e}", path.display()))
}

/// `PATH-wal` and `PATH-shm`: what SQLite keeps beside a database in WAL mode.
fn companions(path: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

fn remove_if_present(path: &Path) -> Result<(), BackupError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BackupError::io(path, e)),
        _ => Ok(()),
    }
}

fn remove_with_companions(path: &Path) -> Result<(), BackupError> {
    remove_if_present(path)?;
    for companion in companions(path) {
        remove_if_present(&companion)?;
    }
    Ok(())
}

/// A consistent copy of `source` in `out` (which must not exist, or be empty).
fn vacuum_into(source: &Path, out: &Path) -> Result<(), BackupError> {
    let connection =
        Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| sqlite_error(source, e))?;
    connection.busy_timeout(Duration::from_secs(60)).map_err(|e| sqlite_error(source, e))?;
    let target = out.to_str().ok_or_else(|| BackupError::Refused(format!("--out: {} is not UTF-8", out.display())))?;
    connection.execute("VACUUM INTO ?1", [target]).map_err(|e| sqlite_error(source, e))?;
    Ok(())
}

/// Leave a database as one file: its WAL folded in and gone.
fn single_file(path: &Path) -> Result<(), BackupError> {
    let connection = Connection::open(path).map_err(|e| sqlite_error(path, e))?;
    let _mode: String =
        connection.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0)).map_err(|e| sqlite_error(path, e))?;
    drop(connection);
    sync_file(path)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BackupError> + Send + 'static,
) -> Result<T, BackupError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| BackupError::Io(format!("backup task: {e}")))?
}

async fn open_checked(path: &Path, chain_key: Option<ChainKey>) -> Result<Store, BackupError> {
    let options = StoreOptions { sqlite_readers: 2, ..StoreOptions::default() };
    Ok(Store::connect(&url(path), &options).await?.with_chain_key(chain_key))
}

/// Back up the database at `source` into `out`: copy, check (the chain under `chain_key`), manifest.
pub async fn backup(source: &Path, out: &Path, chain_key: Option<ChainKey>) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    refuse_existing(out)?;
    if !source.is_file() {
        return Err(BackupError::Refused(format!("no SQLite database at {}", source.display())));
    }
    let partial = partial_path(out);
    remove_with_companions(&partial)?;
    // VACUUM INTO fills an empty file as it finds it: one only the owner reads
    drop(super::create_private(&partial)?);
    let (from, to) = (source.to_owned(), partial.clone());
    blocking(move || vacuum_into(&from, &to)).await?;

    let store = open_checked(&partial, chain_key.clone()).await?;
    let checked = check(&store).await;
    store.close().await;
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            remove_with_companions(&partial)?;
            return Err(e);
        }
    };
    let problems = checked.problems();
    if !problems.is_empty() {
        remove_with_companions(&partial)?;
        return Err(BackupError::Failed(format!("the copy does not check out: {}", problems.join("; "))));
    }
    let single = partial.clone();
    blocking(move || single_file(&single)).await?;
    std::fs::rename(&partial, out).map_err(|e| BackupError::io(out, e))?;
    sync_parent(out)?;
    let manifest = manifest_for(Backend::Sqlite, out, checked.level, checked.counts.clone(), chain_key.as_ref())?;
    let manifest_file = write_manifest(out, &manifest)?;
    Ok(BackupReport {
        file: out.to_owned(),
        manifest: manifest_file,
        bytes: manifest.bytes,
        level: checked.level,
        check: Some(checked),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Whether the database at `path` holds rows in any of roster's tables (a file that is no database counts as data:
/// it is not ours to replace silently).
fn holds_data(path: &Path) -> Result<bool, BackupError> {
    if !path.exists() || std::fs::metadata(path).map(|m| m.len() == 0).unwrap_or(false) {
        return Ok(false);
    }
    let connection =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| sqlite_error(path, e))?;
    connection.busy_timeout(Duration::from_secs(10)).map_err(|e| sqlite_error(path, e))?;
    let tables: Vec<String> = match connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
    {
        Ok(tables) => tables,
        Err(_) => return Ok(true),
    };
    for table in TABLES.iter().filter(|t| **t != super::KEY_TABLE && tables.iter().any(|n| n == *t)) {
        let any: bool = connection
            .query_row(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), [], |r| r.get(0))
            .map_err(|e| sqlite_error(path, e))?;
        if any {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Restore the backup `file` as the database at `target`: refuse a PostgreSQL archive, a file that does not match its
/// manifest, one newer than this binary or failing its checks, and — without `force` — a target that holds data.
pub async fn restore(
    file: &Path,
    target: &Path,
    force: bool,
    chain_key: Option<ChainKey>,
) -> Result<RestoreReport, BackupError> {
    let started = Instant::now();
    let manifest = open_backup(file, Backend::Sqlite, chain_key.as_ref())?;
    let probe = target.to_owned();
    let replaced = blocking(move || holds_data(&probe)).await?;
    if replaced && !force {
        return Err(BackupError::Refused(format!(
            "{} holds data, which a restore would replace: stop every `roster serve` using it, then run again with \
             --force",
            target.display()
        )));
    }
    let mut staging = target.as_os_str().to_owned();
    staging.push(".restoring");
    let staging = PathBuf::from(staging);
    remove_with_companions(&staging)?;
    std::fs::copy(file, &staging).map_err(|e| BackupError::io(&staging, e))?;

    let store = open_checked(&staging, chain_key).await?;
    let outcome = async {
        let (from_level, unknown) = level_of(&store).await?;
        if !unknown.is_empty() {
            return Err(newer(from_level, &unknown));
        }
        Migrator::new(&store, &crate::migrations()).up(None).await?;
        // nothing the migrations do not make: a planted trigger, or the append-only triggers dropped
        let expected = reference_schema(Backend::Sqlite, &target.display().to_string(), &Default::default()).await?;
        if let Some(difference) = schema_differences(&expected, &super::repo::schema_objects(&store).await?) {
            return Err(BackupError::Failed(format!("{difference}: nothing was restored")));
        }
        Ok((from_level, check(&store).await?))
    }
    .await;
    store.close().await;
    let (from_level, checked) = match outcome {
        Ok(done) => done,
        Err(e) => {
            remove_with_companions(&staging)?;
            return Err(e);
        }
    };
    let problems = restore_problems(&checked, &manifest);
    if !problems.is_empty() {
        remove_with_companions(&staging)?;
        return Err(BackupError::Failed(format!(
            "the backup does not check out, nothing was restored: {}",
            problems.join("; ")
        )));
    }
    let single = staging.clone();
    blocking(move || single_file(&single)).await?;
    // an old WAL beside the new file would be read into it
    for companion in companions(target) {
        remove_if_present(&companion)?;
    }
    std::fs::rename(&staging, target).map_err(|e| BackupError::io(target, e))?;
    sync_parent(target)?;
    Ok(RestoreReport {
        from_level,
        level: checked.level,
        replaced,
        manifest_checked: true,
        check: checked,
        seconds: started.elapsed().as_secs_f64(),
    })
}
