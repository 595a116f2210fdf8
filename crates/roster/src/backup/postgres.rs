//! PostgreSQL: `pg_dump --format=custom` from a snapshot this module exports and reads the counts in, so the manifest
//! counts exactly what the archive holds; `pg_restore` in one transaction, then the same checks as on SQLite. The
//! password never goes on a command line (other local users can read those): the tools get it in `PGPASSWORD`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::str::FromStr;
use std::time::Instant;

use super::{
    check, manifest_for, newer, open_backup, partial_path, reference_schema, refuse_existing, repo, restore_problems,
    schema_differences, sync_file, sync_parent, unknown_versions, write_manifest, BackupError, BackupReport,
    RestoreReport, TABLES,
};
use crate::migrate::Migrator;
use crate::store::{Backend, ChainKey, Store, StoreOptions};

/// A PostgreSQL client tool with the connection of `url`: host, port, user and database as arguments, the password
/// in the environment.
fn tool(program: &str, url: &str) -> Result<Command, BackupError> {
    let config =
        tokio_postgres::Config::from_str(url).map_err(|e| BackupError::Refused(format!("database url: {e}")))?;
    let mut command = Command::new(program);
    if let Some(host) = config.get_hosts().first() {
        match host {
            tokio_postgres::config::Host::Tcp(name) => command.arg(format!("--host={name}")),
            tokio_postgres::config::Host::Unix(path) => command.arg(format!("--host={}", path.display())),
        };
    }
    if let Some(port) = config.get_ports().first() {
        command.arg(format!("--port={port}"));
    }
    if let Some(user) = config.get_user() {
        command.arg(format!("--username={user}"));
    }
    command.arg("--no-password");
    if let Some(password) = config.get_password() {
        command.env("PGPASSWORD", String::from_utf8_lossy(password).into_owned());
    }
    if let Some(db) = config.get_dbname() {
        command.arg(format!("--dbname={db}"));
    }
    Ok(command)
}

/// Run a tool to its end; its standard output, or its standard error as the failure.
async fn run(mut command: Command) -> Result<Vec<u8>, BackupError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|e| BackupError::Io(format!("{program}: {e}")))?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BackupError::Failed(format!(
                "{program} not found: install PostgreSQL's client tools (Debian: postgresql-client), of the server's \
                 major version or newer"
            )),
            _ => BackupError::Io(format!("{program}: {e}")),
        })?;
    if !output.status.success() {
        return Err(BackupError::Failed(format!(
            "{program} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

/// The versions in an archive's `schema_migrations`, read from the archive alone (no database needed).
async fn archive_versions(file: &Path) -> Result<Vec<i64>, BackupError> {
    let mut command = Command::new("pg_restore");
    command.args(["--data-only", "--table=schema_migrations", "--file=-"]).arg(file);
    let text = String::from_utf8_lossy(&run(command).await?).into_owned();
    let mut versions = Vec::new();
    let mut in_copy = false;
    for line in text.lines() {
        if line.starts_with("COPY ") && line.contains("schema_migrations") {
            in_copy = true;
        } else if line == "\\." {
            in_copy = false;
        } else if in_copy {
            let first = line.split('\t').next().unwrap_or_default();
            versions.push(first.parse::<i64>().map_err(|_| {
                BackupError::Failed(format!("{}: unreadable schema_migrations row {line:?}", file.display()))
            })?);
        }
    }
    Ok(versions)
}

/// Take a restore back out of a database that held no data: every table and the functions it brought, in one
/// transaction; then the empty schema it had (at `level`), if any.
async fn undo(store: &Store, functions_before: &[String], level: i64) -> Result<(), BackupError> {
    let tables = repo::tables(store).await?;
    let brought: Vec<String> =
        repo::functions(store).await?.into_iter().filter(|f| !functions_before.contains(f)).collect();
    repo::drop_all(store, &tables, &brought).await?;
    if level > 0 {
        Migrator::new(store, &crate::migrations()).up(Some(level)).await?;
    }
    Ok(())
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, BackupError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| BackupError::Failed(format!("cannot connect to the database: {e}")))?;
    tokio::spawn(connection);
    Ok(client)
}

fn pg(e: tokio_postgres::Error) -> BackupError {
    BackupError::Failed(format!("postgres: {e}"))
}

/// Back up the database at `url` into `out` (which must not exist) with `pg_dump`, counting the rows of the same
/// snapshot; the archive is read back with `pg_restore --list` before it is renamed into place.
pub async fn backup(url: &str, out: &Path, chain_key: Option<ChainKey>) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    refuse_existing(out)?;
    let partial = partial_path(out);
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(|e| BackupError::io(&partial, e))?;
    }
    let client = connect(url).await?;
    client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(pg)?;
    let snapshot: String = client.query_one("SELECT pg_export_snapshot()", &[]).await.map_err(pg)?.get(0);
    let present: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !present.iter().any(|t| t == "schema_migrations") {
        return Err(BackupError::Refused("the database has no roster schema: nothing to back up".into()));
    }
    let versions: Vec<i64> = client
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let level = versions.iter().copied().max().unwrap_or(0);
    let unknown = unknown_versions(&versions);
    if !unknown.is_empty() {
        return Err(newer(level, &unknown));
    }
    let mut counts = BTreeMap::new();
    for table in TABLES.iter().filter(|t| present.iter().any(|p| p == *t)) {
        let n: i64 = client.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[]).await.map_err(pg)?.get(0);
        counts.insert((*table).to_owned(), n);
    }
    // pg_dump writes into the file as it finds it: one only the owner reads
    drop(super::create_private(&partial)?);
    let mut dump = tool("pg_dump", url)?;
    dump.args(["--format=custom", &format!("--snapshot={snapshot}")]).arg("--file").arg(&partial);
    let dumped = run(dump).await;
    client.batch_execute("COMMIT").await.map_err(pg)?;
    if let Err(e) = dumped {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let mut list = Command::new("pg_restore");
    list.arg("--list").arg(&partial);
    if let Err(e) = run(list).await {
        let _ = std::fs::remove_file(&partial);
        return Err(BackupError::Failed(format!("the archive does not read back: {e}")));
    }
    sync_file(&partial)?;
    std::fs::rename(&partial, out).map_err(|e| BackupError::io(out, e))?;
    sync_parent(out)?;
    let manifest = manifest_for(Backend::Postgres, out, level, counts, chain_key.as_ref())?;
    let manifest_file = write_manifest(out, &manifest)?;
    Ok(BackupReport {
        file: out.to_owned(),
        manifest: manifest_file,
        bytes: manifest.bytes,
        level,
        check: None,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Restore the archive `file` into the database at `url`: refuse a SQLite file, an archive that does not match its
/// manifest or is newer than this binary, and — without `force` — a database that holds data; then `pg_restore` in
/// one transaction, bring the schema to this binary's level, and check it.
pub async fn restore(
    file: &Path,
    url: &str,
    force: bool,
    chain_key: Option<ChainKey>,
    options: &StoreOptions,
) -> Result<RestoreReport, BackupError> {
    let started = Instant::now();
    let manifest = open_backup(file, Backend::Postgres, chain_key.as_ref())?;
    let versions = archive_versions(file).await?;
    let from_level = versions.iter().copied().max().unwrap_or(0);
    let unknown = unknown_versions(&versions);
    if !unknown.is_empty() {
        return Err(newer(from_level, &unknown));
    }
    if versions.is_empty() {
        return Err(BackupError::Failed(format!("{}: the archive holds no roster schema", file.display())));
    }

    let store = Store::connect(url, options).await?;
    // what the archive defines runs as the restoring role (a CHECK constraint calling a planted function, while the
    // rows load): a role that can run programs or touch the server's files must not be the one
    if let Some(role) = repo::role_reaching_the_system(&store).await? {
        store.close().await;
        return Err(BackupError::Refused(format!(
            "the database url connects as {role}, a role that can reach the operating system (a superuser, or a \
             member of pg_execute_server_program or pg_read/write_server_files): what an archive defines would run \
             with its rights. Restore as a role without them that owns the database (docs/operations.md, \
             \"Restoring PostgreSQL\")"
        )));
    }
    let present = repo::tables(&store).await?;
    let replaced = super::holds_data(&store).await?;
    let (target_level, _) = super::level_of(&store).await?;
    let functions_before = repo::functions(&store).await?;
    store.close().await;
    if target_level > from_level {
        // `--clean` drops only what the archive names: the newer tables would stay, and block the migrations
        return Err(BackupError::Refused(format!(
            "the database is at migration level {target_level}, the archive at {from_level}: restore an older archive              into an empty database"
        )));
    }
    if replaced && !force {
        return Err(BackupError::Refused(
            "the database holds data, which a restore would replace: stop every `roster serve` using it, then run \
             again with --force"
                .into(),
        ));
    }
    let mut restore = tool("pg_restore", url)?;
    restore.args(["--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges"]);
    if !present.is_empty() {
        // the tables exist (empty, or replaced with --force): the archive's own definitions take their place
        restore.args(["--clean", "--if-exists"]);
    }
    restore.arg(file);
    run(restore).await?;

    let store = Store::connect(url, options).await?.with_chain_key(chain_key);
    let outcome = async {
        Migrator::new(&store, &crate::migrations()).up(None).await?;
        let checked = check(&store).await?;
        let mut problems = restore_problems(&checked, &manifest);
        // nothing the migrations do not make: a planted function, trigger or constraint, or a dropped one
        let expected = reference_schema(Backend::Postgres, url, options).await?;
        problems.extend(schema_differences(&expected, &repo::schema_objects(&store).await?));
        Ok::<_, BackupError>((checked, problems))
    }
    .await;
    let failure = match &outcome {
        Ok((_, problems)) if problems.is_empty() => None,
        Ok((_, problems)) => Some(problems.join("; ")),
        Err(e) => Some(e.to_string()),
    };
    if let Some(failure) = failure {
        // a database that held nothing goes back to holding nothing; one that held data was replaced in
        // pg_restore's transaction, which has committed
        let undone = !replaced && undo(&store, &functions_before, target_level).await.is_ok();
        store.close().await;
        return Err(BackupError::Failed(if undone {
            format!("the restored database does not check out, and was emptied again (nothing was restored): {failure}")
        } else {
            format!("the restored database does not check out (it holds the archive as restored): {failure}")
        }));
    }
    store.close().await;
    let (checked, _) = outcome?;
    Ok(RestoreReport {
        from_level,
        level: checked.level,
        replaced,
        manifest_checked: true,
        check: checked,
        seconds: started.elapsed().as_secs_f64(),
    })
}
