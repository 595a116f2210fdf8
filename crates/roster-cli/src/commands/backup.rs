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
        None => {
            let secret = roster::secrets::load_existing(&config).map_err(Failure::Runtime)?;
            let key = secret.as_ref().map(roster::audit::chain_key);
            roster::backup::backup_postgres(&config.database_url, &args.out, key).await.map_err(failure)?
        }
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

#[derive(Debug, clap::Args)]
pub struct MoveArgs {
    /// The database to copy: sqlite://PATH or postgres://… (at this binary's migration level; stop its servers). A URL
    /// with a password is better given in the environment or a file: other local users can read command lines
    #[arg(long, env = "ROSTER_MIGRATE_FROM", hide_env_values = true, required_unless_present = "from_file")]
    from: Option<String>,
    /// A file whose first line is the --from URL (keep it 0600)
    #[arg(long, conflicts_with = "from")]
    from_file: Option<std::path::PathBuf>,
    /// The database to copy into: the other backend, empty (it is migrated here)
    #[arg(long, env = "ROSTER_MIGRATE_TO", hide_env_values = true, required_unless_present = "to_file")]
    to: Option<String>,
    /// A file whose first line is the --to URL (keep it 0600)
    #[arg(long, conflicts_with = "to")]
    to_file: Option<std::path::PathBuf>,
    /// Rows per transaction
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch_size: u32,
}

/// The move's URLs, wherever they were given.
struct ResolvedMove {
    from: String,
    to: String,
    batch_size: u32,
}

/// A bar per table on a terminal; a line every 5 s and one per table otherwise.
struct MoveProgress {
    bar: Option<indicatif::ProgressBar>,
    table: String,
    table_started: std::time::Instant,
    last_line: std::time::Instant,
    /// When the last batch was written: the next table starts then.
    last_batch: std::time::Instant,
}

impl MoveProgress {
    fn new() -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template("{msg:>22} [{wide_bar}] {pos}/{len} ({per_sec}, ETA {eta})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        let now = std::time::Instant::now();
        Self { bar, table: String::new(), table_started: now, last_line: now, last_batch: now }
    }

    fn show(&mut self, progress: roster::backup::transfer::Progress<'_>) {
        if progress.table != self.table {
            self.table = progress.table.to_owned();
            self.table_started = self.last_batch;
            if let Some(bar) = &self.bar {
                bar.set_message(self.table.clone());
                bar.set_length(progress.total.max(progress.rows));
                bar.reset_eta();
            }
        }
        match &self.bar {
            Some(bar) => bar.set_position(progress.rows),
            None if self.last_line.elapsed() >= std::time::Duration::from_secs(5)
                || progress.rows == progress.total =>
            {
                self.last_line = std::time::Instant::now();
                let rate = progress.rows as f64 / self.table_started.elapsed().as_secs_f64().max(1e-3);
                eprintln!("{}: {} of {} rows ({rate:.0}/s)", progress.table, progress.rows, progress.total);
            }
            None => {}
        }
        self.last_batch = std::time::Instant::now();
    }
}

/// A URL given as a flag (or its environment variable), or as the first line of a file.
fn url_from(flag: &str, given: Option<String>, file: Option<std::path::PathBuf>) -> Result<String, Failure> {
    match (given, file) {
        (Some(url), _) => Ok(url),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| Failure::Usage(format!("{flag}-file: {}: {e}", path.display())))?
            .lines()
            .next()
            .map(|line| line.trim().to_owned())
            .filter(|line| !line.is_empty())
            .ok_or_else(|| Failure::Usage(format!("{flag}-file: {} holds no URL", path.display()))),
        (None, None) => Err(Failure::Usage(format!("{flag}: give the database URL"))),
    }
}

pub async fn migrate_data(context: &Context, args: MoveArgs) -> Result<(), Failure> {
    let args = ResolvedMove {
        from: url_from("--from", args.from, args.from_file)?,
        to: url_from("--to", args.to, args.to_file)?,
        batch_size: args.batch_size,
    };
    let mut config = context.config(None)?;
    let is_sqlite = |url: &str| url.starts_with("sqlite:");
    for (flag, url) in [("--from", &args.from), ("--to", &args.to)] {
        if !(is_sqlite(url) || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Failure::Usage(format!("{flag}: must start with sqlite:// or postgres://")));
        }
    }
    // the secret key: configured, else the key file beside the SQLite database (the one the server there made)
    if let Some(url) = [&args.from, &args.to].into_iter().find(|u| is_sqlite(u)) {
        config.database_url = url.clone();
    }
    if let Some(path) = is_sqlite(&args.from).then(|| config.sqlite_path()).flatten() {
        if !path.is_file() {
            return Err(Failure::Usage(format!("--from: no SQLite database at {}", path.display())));
        }
    }
    let secret = roster::secrets::load_existing(&config).map_err(Failure::Runtime)?;
    let key = secret.as_ref().map(roster::audit::chain_key);
    let options = config.store_options();
    let open = |url: String, flag: &'static str| {
        let (options, key) = (options.clone(), key.clone());
        async move {
            roster::store::Store::connect(&url, &options)
                .await
                .map(|s| s.with_chain_key(key))
                .map_err(|e| Failure::Runtime(format!("{flag}: cannot open {url}: {e}")))
        }
    };
    let from = open(args.from.clone(), "--from").await?;
    let to = open(args.to.clone(), "--to").await?;
    let mut progress = MoveProgress::new();
    let moved = roster::backup::transfer::transfer(&from, &to, args.batch_size as usize, |p| progress.show(p)).await;
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    from.close().await;
    to.close().await;
    let report = moved.map_err(failure)?;
    if context.format == Format::Json {
        output::json(&report);
        return Ok(());
    }
    let rows: u64 = report.tables.iter().map(|t| t.rows).sum();
    output::line(&format!(
        "moved {rows} rows from {} to {} in {:.1} s (migration level {}); every table's rows and checksum match",
        report.from, report.to, report.seconds, report.level
    ));
    output::table(
        &["TABLE", "ROWS", "SECONDS", "CHECKSUM"],
        &report
            .tables
            .iter()
            .map(|t| vec![t.table.clone(), t.rows.to_string(), format!("{:.2}", t.seconds), t.checksum.clone()])
            .collect::<Vec<_>>(),
    );
    let entries: i64 = report.check.audit.iter().map(|c| c.entries).sum();
    output::line(&format!(
        "audit chain: intact on the target ({} tenants, {entries} entries)",
        report.check.audit.len()
    ));
    if report.to == "postgres" && secret.is_some() && config.secret_key.is_none() {
        output::line(
            "the servers on PostgreSQL need the same secret key: set ROSTER_SECRET_KEY to the contents of the roster.key \
             beside the SQLite database",
        );
    }
    Ok(())
}
