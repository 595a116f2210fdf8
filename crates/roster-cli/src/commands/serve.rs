//! `roster serve`.

use std::sync::Arc;
use std::time::Duration;

use roster::migrate::Migrator;
use roster::App;

use crate::{failure, Context, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [env: ROSTER_LISTEN; default 127.0.0.1:8080]
    #[arg(long)]
    listen: Option<String>,
    /// Do not apply pending migrations (the server still refuses drift or a newer database)
    #[arg(long)]
    no_migrate: bool,
}

/// The log filter of `text`. The PostgreSQL driver logs every statement's parameters at debug — password hashes among
/// them — so it stays at info at most unless the filter names it explicitly (a quieter filter keeps it quieter).
fn log_filter(text: &str) -> Result<tracing_subscriber::EnvFilter, Failure> {
    let invalid = |e: &dyn std::fmt::Display| Failure::Usage(format!("log: invalid filter {text:?}: {e}"));
    let filter = tracing_subscriber::EnvFilter::try_new(text).map_err(|e| invalid(&e))?;
    let verbose = filter.max_level_hint().is_none_or(|level| level > tracing_subscriber::filter::LevelFilter::INFO);
    if text.contains("tokio_postgres") || !verbose {
        return Ok(filter);
    }
    Ok(filter.add_directive("tokio_postgres=info".parse().map_err(|e| invalid(&e))?))
}

fn init_logging(config: &roster::config::Config) -> Result<(), Failure> {
    let filter = log_filter(&config.log)?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match config.log_format {
        roster::config::LogFormat::Json => builder.json().try_init(),
        roster::config::LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| Failure::Runtime(format!("cannot start logging: {e}")))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return interrupt.await.unwrap_or(()),
        };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
}

pub async fn run(context: &Context, args: Args) -> Result<(), Failure> {
    let config = context.config(args.listen)?;
    init_logging(&config)?;
    match roster::secrets::load_or_create(&config).map_err(Failure::Runtime)? {
        Some(_) => {}
        None => {
            tracing::warn!("ROSTER_SECRET_KEY is not set: features that encrypt secrets at rest will refuse to work, and audit entries are not keyed")
        }
    }
    let store = super::connect(&config).await?;
    let migrations = roster::migrations();
    let migrator = Migrator::new(&store, &migrations);
    if args.no_migrate {
        migrator.verify().await?;
        if !migrator.is_current().await? {
            tracing::warn!("pending migrations are not applied (--no-migrate): /readyz answers 503 until they are");
        }
    } else {
        let applied = migrator.up(None).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied migrations");
        }
    }
    if migrator.is_current().await? {
        // a process with another key (or none) would seal entries the chains' own key cannot verify: refuse to start
        super::check_key(&store).await?;
    }
    if let Some(boot) = roster::auth::bootstrap(&store, &config, super::now()).await.map_err(failure)? {
        tracing::info!(tenant = %boot.tenant, email = %boot.admin_email, "created the default tenant and the sysadmin");
        if let Some(password) = boot.generated_password {
            eprintln!("roster: sysadmin {} created with password {password} (shown once; change it)", boot.admin_email);
        }
    }
    let listener = tokio::net::TcpListener::bind(config.listen_addr())
        .await
        .map_err(|e| Failure::Runtime(format!("cannot listen on {}: {e}", config.listen)))?;
    tracing::info!(address = %config.listen, database = %store.backend().name(), "roster is listening");
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let reports = match &config.reports_database_url {
        Some(url) => {
            let replica = roster::store::Store::connect(url, &config.store_options())
                .await
                .map_err(|e| Failure::Runtime(format!("cannot reach the reports replica: {e}")))?;
            tracing::info!("report queries go to the read replica (reports_database_url)");
            Some(replica)
        }
        None => None,
    };
    let mut app = App::new(store.clone(), config, Arc::new(roster::clock::SystemClock));
    if let Some(replica) = reports.clone() {
        app = app.with_reports(replica);
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(Failure::Runtime(format!("server error: {e}"))),
        Ok(Err(e)) => return Err(Failure::Runtime(format!("server task failed: {e}"))),
        Err(_) => tracing::warn!("requests still running after {grace:?}; stopping anyway"),
    }
    store.close().await;
    if let Some(replica) = reports {
        replica.close().await;
    }
    tracing::info!("stopped");
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// The server's address [env: ROSTER_LISTEN; default 127.0.0.1:8080]; an unspecified address (0.0.0.0) is asked
    /// on loopback
    #[arg(long)]
    listen: Option<String>,
}

/// `roster healthcheck`: ask the local server's `/readyz` (for a container's or a supervisor's health check, where
/// there may be no curl): exit 0 when it answers 200, 1 otherwise.
pub fn healthcheck(context: &Context, args: HealthArgs) -> Result<(), Failure> {
    use std::io::{Read, Write};
    let config = context.config(args.listen)?;
    let mut address = config.listen_addr();
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let unready = |why: String| Failure::Runtime(format!("not ready: {why}"));
    let timeout = Duration::from_secs(3);
    let mut stream =
        std::net::TcpStream::connect_timeout(&address, timeout).map_err(|e| unready(format!("{address}: {e}")))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| unready(e.to_string()))?;
    stream
        .write_all(format!("GET /readyz HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| unready(e.to_string()))?;
    let mut head = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut head).map_err(|e| unready(e.to_string()))?;
    let text = String::from_utf8_lossy(&head);
    let status = text.split_whitespace().nth(1).unwrap_or("no answer");
    if status == "200" {
        println!("ready");
        Ok(())
    } else {
        let detail = text.split("\r\n\r\n").nth(1).unwrap_or_default().trim();
        Err(unready(format!("/readyz answered {status} {detail}")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::log_filter;

    /// What a subscriber with the filter of `text` writes for one driver event and one of roster's.
    fn logged(text: &str) -> String {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(log_filter(text).unwrap())
            .with_writer(move || Writer(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "tokio_postgres::query", "executing statement s1 with parameters: [\"$argon2id$…\"]");
            tracing::debug!(target: "roster::store", "a debug line of roster");
            tracing::info!(target: "tokio_postgres::connection", "NOTICE: a notice of the server");
        });
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        text
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn debug_logging_leaves_out_the_drivers_statement_parameters_unless_asked_for() {
        let debug = logged("debug");
        assert!(debug.contains("a debug line of roster"), "{debug}");
        assert!(!debug.contains("parameters"), "{debug}");
        assert!(debug.contains("NOTICE"), "{debug}");
        let quiet = logged("warn");
        assert!(quiet.is_empty(), "a warn filter keeps the driver at warn too: {quiet}");
        let asked = logged("debug,tokio_postgres=debug");
        assert!(asked.contains("parameters"), "named explicitly, the driver logs them: {asked}");
    }
}
