//! roster's fault tests: the real `roster` binary, killed, starved of its database or its disk, stopped under load,
//! or run twice on one PostgreSQL, and a soak under a steady load; each scenario prints one line with its counts and
//! fails on the first write lost (the soak: on the first error, a p99 that strays or drifts, or a growing heap).
//!
//! ```sh
//! cargo build --release --workspace
//! target/release/roster-faults                       # every scenario, SQLite and (with the URL) PostgreSQL
//! target/release/roster-faults --postgres-url postgres://postgres@127.0.0.1:5432/test --rounds 20
//! target/release/roster-faults kill-serve full-disk  # some of them
//! ```

mod full_disk;
mod harness;
mod kill_ingest;
mod kill_serve;
mod outage;
mod shutdown;
mod soak;
mod two_servers;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use roster::store::Backend;

use crate::harness::Roster;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    KillServe,
    KillIngest,
    Shutdown,
    FullDisk,
    PostgresOutage,
    TwoServers,
    Soak,
}

impl Scenario {
    /// Why the scenario does not apply to `backend`, when it does not.
    fn not_for(self, backend: Backend) -> Option<&'static str> {
        match (self, backend) {
            (Scenario::FullDisk, Backend::Postgres) => Some("PostgreSQL's disk is the PostgreSQL server's"),
            (Scenario::PostgresOutage, Backend::Sqlite) => Some("SQLite is inside the process"),
            (Scenario::TwoServers, Backend::Sqlite) => Some("one SQLite file has one server"),
            _ => None,
        }
    }
}

#[derive(Debug, Parser)]
struct Args {
    /// Scenarios to run (default: all)
    scenarios: Vec<Scenario>,
    /// PostgreSQL server for the PostgreSQL half (fresh databases are created on it and dropped); without it only
    /// SQLite runs, and the PostgreSQL scenarios say SKIPPED
    #[arg(long, env = "ROSTER_TEST_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Kill points per kill scenario
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Seed of the random kill points and writes
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Bug records in the export the ingest scenario kills (test cycles: a thirtieth of them)
    #[arg(long, default_value_t = 60_000)]
    bugs: usize,
    /// Run on this backend only (default: both)
    #[arg(long, value_parser = ["sqlite", "postgres"])]
    backend: Option<String>,
    /// Length of the soak, in seconds
    #[arg(long, default_value_t = 600)]
    soak_seconds: u64,
    /// Each scenario on each backend fails after this many seconds
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// The roster binary (default: beside this one; roster-bench, which writes the exports, too)
    #[arg(long)]
    roster: Option<PathBuf>,
}

const ALL: [Scenario; 7] = [
    Scenario::KillServe,
    Scenario::KillIngest,
    Scenario::Shutdown,
    Scenario::FullDisk,
    Scenario::PostgresOutage,
    Scenario::TwoServers,
    Scenario::Soak,
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = match &args.roster {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("roster"),
    };
    let roster = Roster::new(binary)?;
    if let Some(url) = &args.postgres_url {
        std::env::set_var(roster::testing::POSTGRES_URL_VAR, url);
    }
    let mut exports = None;
    let scenarios = if args.scenarios.is_empty() { ALL.to_vec() } else { args.scenarios.clone() };
    let mut failed = 0;
    for scenario in scenarios {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            if args.backend.as_deref().is_some_and(|only| only != backend.name()) {
                continue;
            }
            let name = scenario.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default();
            if let Some(why) = scenario.not_for(backend) {
                println!("{name:<18} {:<9} n/a   {why}", backend.name());
                continue;
            }
            if backend == Backend::Postgres && args.postgres_url.is_none() {
                println!("{name:<18} {:<9} SKIPPED (no --postgres-url / ROSTER_TEST_POSTGRES_URL)", backend.name());
                continue;
            }
            let started = Instant::now();
            let timeout = if scenario == Scenario::Soak { args.timeout + args.soak_seconds } else { args.timeout };
            let limit = std::time::Duration::from_secs(timeout);
            let outcome = tokio::time::timeout(limit, async {
                match scenario {
                    Scenario::KillServe => kill_serve::run(&roster, backend, args.rounds, args.seed).await,
                    Scenario::KillIngest => {
                        if exports.is_none() {
                            let bench = roster.sibling("roster-bench");
                            exports = Some(kill_ingest::Exports::generate(&bench, args.bugs)?);
                        }
                        let exports = exports.as_ref().expect("generated above");
                        kill_ingest::run(&roster, backend, exports, args.rounds, args.seed).await
                    }
                    Scenario::Shutdown => shutdown::run(&roster, backend).await,
                    Scenario::FullDisk => full_disk::run(&roster).await,
                    Scenario::PostgresOutage => outage::run(&roster, backend).await,
                    Scenario::TwoServers => two_servers::run(&roster, backend).await,
                    Scenario::Soak => soak::run(&roster, backend, args.soak_seconds, args.seed).await,
                }
            })
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("did not finish within {timeout} s")));
            let seconds = started.elapsed().as_secs_f64();
            match outcome.with_context(|| format!("{name} on {}", backend.name())) {
                Ok(line) => println!("{name:<18} {:<9} PASS  {line} ({seconds:.1} s)", backend.name()),
                Err(e) => {
                    failed += 1;
                    println!("{name:<18} {:<9} FAIL  {e:#} ({seconds:.1} s)", backend.name());
                }
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} scenario(s) failed");
    }
    Ok(())
}
