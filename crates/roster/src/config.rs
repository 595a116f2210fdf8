//! One configuration struct: flags > `ROSTER_*` environment > `roster.toml` > defaults, validated once at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The most a password hash may cost to verify, imported or configured. One anonymous sign-in runs one verification,
/// so these bound what a stranger can make the server spend: Argon2 at most 64 MiB, 10 passes and 8 lanes (about a
/// second of one core at the worst), bcrypt at most cost 14 (2^14 rounds).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 65_536;
pub const MAX_ARGON2_ITERATIONS: u32 = 10;
pub const MAX_ARGON2_PARALLELISM: u32 = 8;
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=14;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything roster can be told at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    pub database_url: String,
    /// A read replica of the PostgreSQL database (`postgres://…`) that report queries go to: top contributors, active
    /// users, activity timelines, the training leaderboard. They may then lag the primary by the replica's delay.
    /// Unset: the primary answers them.
    pub reports_database_url: Option<String>,
    /// Address the HTTP API listens on.
    pub listen: String,
    /// Key that encrypts TOTP secrets at rest; generated into a key file beside the SQLite database when unset.
    #[serde(skip_serializing)]
    pub secret_key: Option<String>,
    /// Log filter (tracing's env-filter syntax).
    pub log: String,
    pub log_format: LogFormat,
    /// Email of the sysadmin created on first start.
    pub admin_email: String,
    /// Password of the sysadmin created on first start; generated and printed once when unset.
    #[serde(skip_serializing)]
    pub admin_password: Option<String>,
    /// Largest accepted request body, except ingest.
    pub body_limit_bytes: usize,
    /// Largest accepted ingest request body.
    pub ingest_body_limit_bytes: usize,
    /// Seconds a client has to send a request's headers; an idle kept-alive connection is closed after as long.
    pub header_read_timeout_seconds: u64,
    /// Seconds a client has to send a request's whole body (for a streamed ingest: the longest pause between parts).
    pub body_read_timeout_seconds: u64,
    /// Open connections at most; a client past it is answered 503 at once (a few more are kept for `/healthz` and
    /// `/readyz`). Keep it below the process's open-file limit (`ulimit -n`).
    pub max_connections: usize,
    /// Open connections from one client address at most (an IPv6 client by its /64); past it a new connection is
    /// answered 429 at once, so one client cannot hold every slot. Behind a proxy every client shares the proxy's
    /// address: raise it to `max_connections` there.
    pub max_connections_per_address: usize,
    /// SQLite reader threads (0: one per core, at least 2).
    pub sqlite_readers: usize,
    /// When a SQLite commit is acknowledged: `normal` (the WAL is written; a killed process loses nothing, a power
    /// cut may lose the last commits) or `full` (the WAL is also synced: nothing acknowledged is lost to a power cut).
    pub sqlite_synchronous: crate::store::Synchronous,
    /// PostgreSQL connections (0: four per core, 8 to 32).
    pub postgres_pool_size: usize,
    /// The shortest password accepted (8 to 128; no other composition rules).
    pub password_min_length: usize,
    /// Argon2id memory in KiB (OWASP: 19456).
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (OWASP: 2).
    pub argon2_iterations: u32,
    /// Argon2id parallelism (OWASP: 1).
    pub argon2_parallelism: u32,
    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT.
    pub shutdown_grace_seconds: u64,
    /// Minutes between audit checkpoints written to the log (each tenant's entry count and head seal); 0: none.
    pub audit_checkpoint_minutes: u64,
    /// Failed sign-ins in a row that lock an account.
    pub lock_after_failures: i64,
    /// How long a locked account stays locked, in minutes.
    pub lock_minutes: i64,
    /// How long a session lasts from sign-in, in hours (fixed, not sliding).
    pub session_hours: i64,
    /// Activity marks of a session at most this many minutes apart count as continuous use.
    pub activity_gap_minutes: i64,
    /// Sign-in attempts one client address may make per minute (token bucket; the burst is the same number).
    pub signin_per_address_per_minute: u32,
    /// Sign-in attempts one account (tenant and login name) may receive per minute.
    pub signin_per_account_per_minute: u32,
    /// How long an email verification token is valid, in hours.
    pub verification_token_hours: i64,
    /// How long an invitation token is valid, in hours.
    pub invitation_token_hours: i64,
    /// How long a password reset token is valid, in minutes.
    pub reset_token_minutes: i64,
    /// Behind a trusted proxy, the header that carries the client address (e.g. `x-forwarded-for`, first entry);
    /// unset: the socket's peer address. Never set it without a proxy that overwrites the header.
    pub client_ip_header: Option<String>,
    /// The address clients reach this server at (`https://id.example.com`), for the absolute links answers carry
    /// (SCIM's `meta.location`); unset: `http://` and the request's `Host`.
    pub public_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://roster.db".into(),
            reports_database_url: None,
            listen: "127.0.0.1:8080".into(),
            secret_key: None,
            log: "info".into(),
            log_format: LogFormat::Text,
            admin_email: "admin@localhost".into(),
            admin_password: None,
            body_limit_bytes: 1024 * 1024,
            ingest_body_limit_bytes: 10 * 1024 * 1024,
            header_read_timeout_seconds: 5,
            body_read_timeout_seconds: 10,
            max_connections: 4096,
            max_connections_per_address: 256,
            sqlite_readers: 0,
            sqlite_synchronous: crate::store::Synchronous::Normal,
            postgres_pool_size: 0,
            password_min_length: 8,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            shutdown_grace_seconds: 30,
            audit_checkpoint_minutes: 60,
            lock_after_failures: 5,
            lock_minutes: 15,
            session_hours: 12,
            activity_gap_minutes: 5,
            signin_per_address_per_minute: 60,
            signin_per_account_per_minute: 20,
            client_ip_header: None,
            public_url: None,
            verification_token_hours: 48,
            invitation_token_hours: 168,
            reset_token_minutes: 60,
        }
    }
}

/// A configuration that cannot be used, with the setting named.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration: {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl Config {
    /// Layer the sources: `overrides` (flags) > `ROSTER_*` environment > the TOML file > defaults.
    ///
    /// `file` is the TOML file to read; a missing file is fine unless it was named explicitly (`required`).
    pub fn load(file: &Path, required: bool, overrides: impl Serialize) -> Result<Config, ConfigError> {
        if required && !file.exists() {
            return Err(ConfigError::Load(format!("config file {} does not exist", file.display())));
        }
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            // the variables of a command's own arguments (`roster migrate-data`'s URLs) are not settings
            .merge(Env::prefixed("ROSTER_").ignore(&["config", "test_postgres_url", "migrate_from", "migrate_to"]))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| Err(ConfigError::Invalid { field, reason: reason.to_owned() });
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return invalid("database_url", "must start with sqlite:// or postgres://");
        }
        if let Some(url) = &self.reports_database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return invalid("reports_database_url", "must be a PostgreSQL read replica (postgres://…)");
            }
            if self.sqlite_path().is_some() {
                return invalid("reports_database_url", "is for a PostgreSQL database's read replica; SQLite has none");
            }
        }
        if self.listen.parse::<SocketAddr>().is_err() {
            return invalid("listen", "must be an address such as 127.0.0.1:8080");
        }
        if self.body_limit_bytes < 1024 || self.ingest_body_limit_bytes < 1024 {
            return invalid("body_limit_bytes", "must be at least 1024");
        }
        if self.argon2_memory_kib < 19_456 || self.argon2_iterations < 2 || self.argon2_parallelism < 1 {
            return invalid("argon2_memory_kib", "Argon2id must be at least m=19456 KiB, t=2, p=1 (OWASP)");
        }
        {
            if self.argon2_memory_kib > MAX_ARGON2_MEMORY_KIB
                || self.argon2_iterations > MAX_ARGON2_ITERATIONS
                || self.argon2_parallelism > MAX_ARGON2_PARALLELISM
            {
                return invalid(
                    "argon2_memory_kib",
                    "Argon2id may be at most m=65536 KiB, t=10, p=8 (what one sign-in may cost)",
                );
            }
        }
        if let Some(url) = &self.public_url {
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
                return invalid("public_url", "must be an http:// or https:// address, such as https://id.example.com");
            }
        }
        if !(8..=128).contains(&self.password_min_length) {
            return invalid("password_min_length", "must be between 8 and 128");
        }
        if self.lock_after_failures < 1
            || self.lock_minutes < 1
            || self.session_hours < 1
            || self.activity_gap_minutes < 1
        {
            return invalid(
                "lock_after_failures",
                "lock_after_failures, lock_minutes, session_hours and activity_gap_minutes must be at least 1",
            );
        }
        if !(1..=3600).contains(&self.header_read_timeout_seconds)
            || !(1..=3600).contains(&self.body_read_timeout_seconds)
        {
            return invalid("header_read_timeout_seconds", "read timeouts must be 1 to 3600 seconds");
        }
        if self.max_connections < 1 {
            return invalid("max_connections", "must be at least 1");
        }
        if !(1..=self.max_connections).contains(&self.max_connections_per_address) {
            return invalid("max_connections_per_address", "must be 1 to max_connections");
        }
        if self.verification_token_hours < 1 || self.invitation_token_hours < 1 || self.reset_token_minutes < 1 {
            return invalid("reset_token_minutes", "token lifetimes must be at least 1");
        }
        if self.signin_per_address_per_minute < 1 || self.signin_per_account_per_minute < 1 {
            return invalid("signin_per_address_per_minute", "sign-in rate limits must be at least 1 per minute");
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen.parse().expect("validated at load")
    }

    /// The SQLite database file, when the database is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let path = self.database_url.strip_prefix("sqlite://").or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        Some(PathBuf::from(path))
    }

    pub fn store_options(&self) -> crate::store::StoreOptions {
        let mut options = crate::store::StoreOptions::default();
        if self.sqlite_readers > 0 {
            options.sqlite_readers = self.sqlite_readers;
        }
        if self.postgres_pool_size > 0 {
            options.postgres_pool_size = self.postgres_pool_size;
        }
        options.sqlite_synchronous = self.sqlite_synchronous;
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        listen: Option<String>,
    }

    #[test]
    fn defaults_start_on_sqlite_in_the_working_directory() {
        let config = Config::load(Path::new("/nonexistent/roster.toml"), false, Flags::default()).unwrap();
        assert_eq!(config.database_url, "sqlite://roster.db");
        assert_eq!(config.sqlite_path().unwrap(), PathBuf::from("roster.db"));
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nlog = \"debug\"\n").unwrap();
        let from_file = Config::load(&file, true, Flags::default()).unwrap();
        assert_eq!(from_file.listen, "127.0.0.1:9000");
        assert_eq!(from_file.log, "debug");
        let flagged = Config::load(&file, true, Flags { listen: Some("127.0.0.1:9001".into()) }).unwrap();
        assert_eq!(flagged.listen, "127.0.0.1:9001");
    }

    #[test]
    fn a_bad_setting_is_named() {
        let err = Config::load(Path::new("/nonexistent"), false, Flags { listen: Some("nowhere".into()) }).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
    }

    #[test]
    fn a_named_file_must_exist() {
        assert!(Config::load(Path::new("/nonexistent/roster.toml"), true, Flags::default()).is_err());
    }
}
