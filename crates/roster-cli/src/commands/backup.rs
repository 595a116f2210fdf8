//! `roster backup --out FILE` and `roster restore FILE [--force]`.

use std::path::PathBuf;

use roster::backup::{BackupError, Check};
use roster::store::Backend;

use crate::output::{self, Format};
use crate::{Context, Failure};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (it must not exist); its manifest goes beside it as FILE.manifest.json
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A backup made by `roster backup`
    file: PathBuf,
    /// Replace a database that holds data (stop every `roster serve` using it first)
    #[arg(long)]
    force: bool,
}

fn failure(e: BackupError) -> Failure {
    match e {
        BackupError::Refused(message) => Failure::Usage(message),
        other => Failure::Runtime(other.to_string()),
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

fn print_check(check: &Check) {
    if check.integrity != "not applicable" {
        output::line(&format!("integrity: {}", check.integrity));
    }
    if check.audit.is_empty() {
        output::line("audit chain: not checked (the database is older than this binary: checked when restored)");
    } else {
        let entries: i64 = check.audit.iter().map(|c| c.entries).sum();
        let broken = check.audit.iter().filter(|c| !c.ok).count();
        output::line(&format!(
            "audit chain: {} ({} tenants, {entries} entries)",
            if broken == 0 { "intact".to_owned() } else { format!("BROKEN in {broken} tenants") },
            check.audit.len()
        ));
    }
    output::table(
        &["TABLE", "ROWS"],
        &check.counts.iter().map(|(table, n)| vec![table.clone(), n.to_string()]).collect::<Vec<_>>(),
    );
}

pub async fn backup(context: &Context, args: BackupArgs) -> Result<(), Failure> {
    let config = context.config(None)?;
    let report = match config.sqlite_path() {
        Some(path) => {
            let secret = roster::secrets::load_existing(&config).map_err(Failure::Runtime)?;
            roster::backup::backup_sqlite(&path, &args.out, secret.as_ref().map(roster::audit::chain_key))
                .await
                .map_err(failure)?
        }
        None => roster::backup::backup_postgres(&config.database_url, &args.out).await.map_err(failure)?,
    };
    if context.format == Format::Json {
        output::json(&report);
        return Ok(());
    }
    output::line(&format!(
        "backup {}: {} at migration level {} in {:.2} s; manifest {}",
        report.file.display(),
        megabytes(report.bytes),
        report.level,
        report.seconds,
        report.manifest.display()
    ));
    match &report.check {
        Some(check) => print_check(check),
        None => {
            let manifest = roster::backup::read_manifest(&report.file).map_err(failure)?;
            output::line("pg_dump custom format; read back with pg_restore --list; checked in full when restored");
            if let Some(manifest) = manifest {
                output::table(
                    &["TABLE", "ROWS"],
                    &manifest.counts.iter().map(|(t, n)| vec![t.clone(), n.to_string()]).collect::<Vec<_>>(),
                );
            }
        }
    }
    output::line(match config.sqlite_path() {
        Some(_) => "the secret key is not in the backup: keep roster.key (or ROSTER_SECRET_KEY) with it",
        None => "the secret key is not in the backup: keep ROSTER_SECRET_KEY with it",
    });
    Ok(())
}

pub async fn restore(context: &Context, args: RestoreArgs) -> Result<(), Failure> {
    let config = context.config(None)?;
    let secret = roster::secrets::load_existing(&config).map_err(Failure::Runtime)?;
    let key = secret.as_ref().map(roster::audit::chain_key);
    let backend = if config.sqlite_path().is_some() { Backend::Sqlite } else { Backend::Postgres };
    let result = match config.sqlite_path() {
        Some(path) => roster::backup::restore_sqlite(&args.file, &path, args.force, key).await,
        None => {
            roster::backup::restore_postgres(&args.file, &config.database_url, args.force, key, &config.store_options())
                .await
        }
    };
    let report = result.map_err(|e| match (&e, &secret) {
        (BackupError::Failed(message), _) if message.contains("audit chain") => Failure::Runtime(format!(
            "{message} (a chain sealed under another secret key does not verify: restore with the key of the server \
             that made the backup{})",
            if backend == Backend::Sqlite {
                ", its roster.key beside the database or ROSTER_SECRET_KEY"
            } else {
                ", ROSTER_SECRET_KEY"
            }
        )),
        _ => failure(e),
    })?;
    if context.format == Format::Json {
        output::json(&report);
        return Ok(());
    }
    output::line(&format!(
        "restored {} into {}{} in {:.2} s: migration level {}{}; {}",
        args.file.display(),
        backend.name(),
        if report.replaced { " (replacing what it held)" } else { "" },
        report.seconds,
        report.level,
        if report.from_level == report.level { String::new() } else { format!(" (from {})", report.from_level) },
        if report.manifest_checked { "file and rows match the manifest" } else { "no manifest beside it to compare" },
    ));
    print_check(&report.check);
    Ok(())
}
