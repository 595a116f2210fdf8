//! `roster-bench --production`: the production path at scale, with the real binary. A SQLite database of `--users`
//! users (each created through the library, with its audit entry, under a secret key) is backed up and restored, moved
//! to PostgreSQL with `roster migrate-data`, backed up and restored there with `pg_dump`/`pg_restore`, and moved back;
//! each step timed, with its file size or rows.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context as _};
use roster::store::{Store, StoreOptions};
use roster::testing::TestDb;

use crate::Args;

/// Base64 of 32 bytes: the key the bench's database is sealed under, given to every command.
const SECRET_KEY: &str = "cHJvZHVjdGlvbiBwYXRoIGJlbmNoIGtleSAzMiBieXRlcw==";

struct Step {
    name: String,
    seconds: f64,
    detail: String,
}

/// Run `roster ARGS` with the bench's key; its standard output as JSON, and how long it took.
fn timed(binary: &Path, args: &[&str]) -> anyhow::Result<(serde_json::Value, f64)> {
    let started = Instant::now();
    let output = Command::new(binary)
        .args(args)
        .args(["--format", "json"])
        .env("ROSTER_SECRET_KEY", SECRET_KEY)
        .env_remove("ROSTER_DATABASE_URL")
        .output()
        .with_context(|| format!("run {}", binary.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("roster {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok((serde_json::from_slice(&output.stdout).context("JSON on stdout")?, seconds))
}

fn megabytes(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

pub async fn run(args: &Args, binary: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let source = dir.path().join("roster.db");
    let url = format!("sqlite://{}", source.display());
    let secret = roster::secrets::SecretKey::parse(SECRET_KEY).map_err(anyhow::Error::msg)?;
    let store =
        Store::connect(&url, &StoreOptions::default()).await?.with_chain_key(Some(roster::audit::chain_key(&secret)));
    roster::migrate::Migrator::new(&store, &roster::migrations()).up(None).await?;
    let scopes = crate::bench_tenants(&store, args.tenants).await?;
    let started = Instant::now();
    let users = crate::seed(&store, &scopes, args.users).await?.len();
    println!(
        "{:<34} {:>8.1} s  ({users} users with their audit entries)",
        "create users (library)",
        started.elapsed().as_secs_f64()
    );
    store.close().await;

    let mut steps = Vec::new();
    let sqlite_size = std::fs::metadata(&source)?.len();
    let backup = dir.path().join("nightly.db");
    let (made, seconds) = timed(binary, &["--database-url", &url, "backup", "--out", backup.to_str().unwrap()])?;
    steps.push(Step {
        name: "backup (SQLite, VACUUM INTO + checks)".into(),
        seconds,
        detail: format!(
            "{} file from a {} database",
            megabytes(made["bytes"].as_u64().unwrap_or(0)),
            megabytes(sqlite_size)
        ),
    });
    let restored = format!("sqlite://{}", dir.path().join("restored.db").display());
    let (_, seconds) = timed(binary, &["--database-url", &restored, "restore", backup.to_str().unwrap()])?;
    steps.push(Step { name: "restore (SQLite, checks)".into(), seconds, detail: String::new() });

    let Some(postgres) = &args.postgres_url else {
        println!("(no --postgres-url: the PostgreSQL steps are skipped)");
        return print(&steps);
    };
    std::env::set_var(roster::testing::POSTGRES_URL_VAR, postgres);
    let target = TestDb::postgres_empty().await.context("a PostgreSQL database")?;
    let (moved, seconds) = timed(binary, &["migrate-data", "--from", &url, "--to", &target.url])?;
    let rows: u64 = moved["tables"].as_array().map_or(0, |t| t.iter().filter_map(|t| t["rows"].as_u64()).sum());
    steps.push(Step {
        name: "migrate-data SQLite → PostgreSQL".into(),
        seconds,
        detail: format!("{rows} rows ({:.0} rows/s), counted and checksummed both sides", rows as f64 / seconds),
    });
    let archive = dir.path().join("nightly.pgdump");
    let (made, seconds) =
        timed(binary, &["--database-url", &target.url, "backup", "--out", archive.to_str().unwrap()])?;
    steps.push(Step {
        name: "backup (PostgreSQL, pg_dump)".into(),
        seconds,
        detail: format!("{} archive", megabytes(made["bytes"].as_u64().unwrap_or(0))),
    });
    let again = TestDb::postgres_empty().await.context("a PostgreSQL database")?;
    // restored as a role without superuser rights that owns the database, as docs/operations.md has it
    let restorer = again.restore_url().await;
    let (_, seconds) = timed(binary, &["--database-url", &restorer, "restore", archive.to_str().unwrap()])?;
    steps.push(Step { name: "restore (PostgreSQL, pg_restore + checks)".into(), seconds, detail: String::new() });
    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    let (_, seconds) = timed(binary, &["migrate-data", "--from", &again.url, "--to", &back])?;
    steps.push(Step {
        name: "migrate-data PostgreSQL → SQLite".into(),
        seconds,
        detail: format!("{rows} rows ({:.0} rows/s)", rows as f64 / seconds),
    });
    print(&steps)
}

fn print(steps: &[Step]) -> anyhow::Result<()> {
    for step in steps {
        println!("{:<42} {:>8.1} s  {}", step.name, step.seconds, step.detail);
    }
    Ok(())
}
