//! `roster`: the command line. Argument parsing only; the work is done by the library.

mod commands;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::Serialize;

use output::{Format, FormatArg};

/// mimalloc instead of glibc's malloc: requests allocate and free many small buffers across threads, which glibc's
/// arenas serve slower (measured in the same run: see docs/decisions.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (v2): how long freed memory stays committed before it is
/// given back to the system. At its default (10 ms) the peak anonymous memory of `roster ingest` (100,000 bugs) was
/// 140 MB against glibc's 79 MB; at 0 it was 90 MB. `serve` keeps the default: at 0 its lookups ran about a quarter
/// slower (29,685 against 43,853 req/s by id, in two runs minutes apart) for 8 MB less at idle.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn return_freed_memory_at_once() {
    // SAFETY: mi_option_set only stores the option's value; mimalloc reads it on its next purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

#[derive(Debug, Parser)]
#[command(name = "roster", version, about = "A multi-tenant user directory")]
struct Cli {
    /// Database: sqlite://PATH or postgres://USER@HOST:PORT/DB [env: ROSTER_DATABASE_URL; default sqlite://roster.db]
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Configuration file [default: roster.toml, if present]
    #[arg(long, global = true, env = "ROSTER_CONFIG")]
    config: Option<PathBuf>,
    /// Output for people (table) or machines (json; csv for reports)
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API
    Serve(commands::serve::Args),
    /// Inspect and change the schema version
    #[command(subcommand)]
    Migrate(commands::migrate::Command),
    /// Create the default tenant and the sysadmin on an empty database (idempotent)
    Seed(commands::seed::Args),
    /// Manage tenants
    #[command(subcommand)]
    Tenant(commands::tenant::Command),
    /// Manage users
    #[command(subcommand)]
    User(commands::user::Command),
    /// Manage API keys
    #[command(subcommand)]
    Apikey(commands::apikey::Command),
    /// Grant, revoke, list and check users' permissions on agents
    #[command(subcommand)]
    Permission(commands::permission::Command),
    /// The tenant's agent catalogue
    #[command(subcommand)]
    Agent(commands::permission::AgentCommand),
    /// Read, export and verify the audit log
    #[command(subcommand)]
    Audit(commands::audit::Command),
    /// Ingest bug reports or test cycles from a crowd-testing export, extracting the people in them
    Ingest(commands::ingest::Args),
    /// The client registry: register, search, change, deactivate, restore and import clients
    #[command(subcommand)]
    Client(commands::client::Command),
    /// Reports: top contributors, active users
    #[command(subcommand)]
    Report(commands::report::Command),
    /// Take a consistent, checked copy of the database while it serves (SQLite: VACUUM INTO; PostgreSQL: pg_dump)
    Backup(commands::backup::BackupArgs),
    /// Restore a backup into the configured database, refusing one that is newer or fails its checks
    Restore(commands::backup::RestoreArgs),
    /// Move every row between SQLite and PostgreSQL (either way), checked by counts and checksums
    MigrateData(commands::backup::MoveArgs),
    /// Exit 0 when the local server's /readyz answers 200 (a container's health check)
    Healthcheck(commands::serve::HealthArgs),
}

/// Flags that override configuration.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

/// Why a command failed: the caller's mistake (exit 2) or something at run time (exit 1).
#[derive(Debug)]
pub enum Failure {
    Usage(String),
    Runtime(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Runtime(e.to_string())
    }
}

/// A module error as a CLI failure, by what kind of failure it is: the database failing is a run-time error (exit 1);
/// everything else — invalid input, a name not found or taken, a stale version — is the caller's to fix (exit 2).
pub fn failure(e: impl roster::http::Classify) -> Failure {
    use roster::http::Class;
    let message = match e.class() {
        Class::Invalid(errors) => {
            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
        }
        _ => e.to_string(),
    };
    match e.class() {
        Class::Store(_) | Class::Unavailable | Class::Internal => Failure::Runtime(message),
        Class::Invalid(_)
        | Class::NotFound(_)
        | Class::Taken(_)
        | Class::Conflict(_)
        | Class::Stale
        | Class::VersionMismatch
        | Class::Forbidden
        | Class::Unauthenticated(..)
        | Class::Malformed => Failure::Usage(message),
    }
}

pub struct Context {
    pub config_file: PathBuf,
    pub config_required: bool,
    pub format: Format,
    /// `--format csv` (reports only).
    pub csv: bool,
    pub database_url: Option<String>,
}

impl Context {
    pub fn config(&self, listen: Option<String>) -> Result<roster::config::Config, Failure> {
        let overrides = Overrides { database_url: self.database_url.clone(), listen };
        roster::config::Config::load(&self.config_file, self.config_required, overrides)
            .map_err(|e| Failure::Usage(e.to_string()))
    }
}

/// `roster --version`: the release, the commit it was built from, and the schema it expects.
fn version() -> String {
    format!(
        "{} (commit {}, migration level {})",
        env!("CARGO_PKG_VERSION"),
        env!("BUILD_COMMIT"),
        roster::backup::binary_level()
    )
}

fn main() -> ExitCode {
    // clap takes a `&'static str`: the one string, made once
    let matches = Cli::command().version(&*Box::leak(version().into_boxed_str())).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if !matches!(cli.command, Command::Serve(_)) {
        return_freed_memory_at_once();
    }
    let prints_csv = matches!(cli.command, Command::Report(_) | Command::Audit(commands::audit::Command::List { .. }));
    if cli.format == FormatArg::Csv && !prints_csv {
        eprintln!("error: --format csv: only `roster report` and `roster audit list` print CSV; use table or json");
        return ExitCode::from(2);
    }
    let context = Context {
        config_required: cli.config.is_some(),
        config_file: cli.config.unwrap_or_else(|| PathBuf::from("roster.toml")),
        format: if cli.format == FormatArg::Json { Format::Json } else { Format::Table },
        csv: cli.format == FormatArg::Csv,
        database_url: cli.database_url,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => commands::serve::run(&context, args).await,
            Command::Migrate(command) => commands::migrate::run(&context, command).await,
            Command::Seed(args) => commands::seed::run(&context, args).await,
            Command::Tenant(command) => commands::tenant::run(&context, command).await,
            Command::User(command) => commands::user::run(&context, command).await,
            Command::Apikey(command) => commands::apikey::run(&context, command).await,
            Command::Permission(command) => commands::permission::run(&context, command).await,
            Command::Agent(command) => commands::permission::run_agent(&context, command).await,
            Command::Audit(command) => commands::audit::run(&context, command).await,
            Command::Ingest(args) => commands::ingest::run(&context, args).await,
            Command::Client(command) => commands::client::run(&context, command).await,
            Command::Report(command) => commands::report::run(&context, command).await,
            Command::Backup(args) => commands::backup::backup(&context, args).await,
            Command::Restore(args) => commands::backup::restore(&context, args).await,
            Command::MigrateData(args) => commands::backup::migrate_data(&context, args).await,
            Command::Healthcheck(args) => commands::serve::healthcheck(&context, args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}
