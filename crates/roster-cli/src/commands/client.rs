//! `roster client create | list | show | update | deactivate | restore | import`.

use std::io::{BufReader, IsTerminal};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use roster::clients::import::{self, Format as InputFormat, ImportError, ImportReport};
use roster::clients::{Client, ClientFilter, ClientPatch, NewClient};
use uuid::Uuid;

use crate::output::{self, Format};
use crate::{failure, Context, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register a client
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// 12345678909 or 123.456.789-09
        #[arg(long)]
        cpf: String,
        /// YYYY-MM-DD
        #[arg(long)]
        birth_date: String,
    },
    /// Search clients, in name order (each client listed is an audited read)
    List {
        #[arg(long)]
        tenant: String,
        /// The exact CPF, in either format
        #[arg(long)]
        cpf: Option<String>,
        /// Part of the name, ignoring case and accents
        #[arg(long)]
        q: Option<String>,
        /// Also list deactivated clients
        #[arg(long)]
        include_inactive: bool,
        /// Page size, 1 to 500
        #[arg(long)]
        limit: Option<i64>,
        /// The cursor printed after the previous page
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a client (an audited read)
    Show {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// Change a client's name, CPF or birth date
    Update {
        #[arg(long)]
        tenant: String,
        id: Uuid,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        cpf: Option<String>,
        #[arg(long)]
        birth_date: Option<String>,
    },
    /// Deactivate a client (a soft delete; its CPF becomes free)
    Deactivate {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// Restore a deactivated client
    Restore {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// Import clients from FILE.csv (columns name, cpf, birth_date) or FILE.ndjson, matched on CPF: running the same
    /// import again changes nothing
    Import {
        file: String,
        #[arg(long)]
        tenant: String,
        /// Write nothing if any row is rejected
        #[arg(long)]
        strict: bool,
    },
}

pub async fn run(context: &Context, command: Command) -> Result<(), Failure> {
    if let Command::Import { file, .. } = &command {
        // refuse a file that cannot be read before touching the database
        if InputFormat::of_path(file).is_none() {
            return Err(Failure::Usage(format!("{file}: name a .csv, .ndjson or .jsonl file")));
        }
        std::fs::File::open(file).map_err(|e| Failure::Usage(format!("{file}: {e}")))?;
    }
    let config = context.config(None)?;
    let store = super::open(&config).await?;
    let now = super::now();
    let result = match command {
        Command::Create { tenant, name, cpf, birth_date } => {
            let scope = super::scope(&store, &tenant).await?;
            let client = roster::clients::create(&store, &scope, now, NewClient { name, cpf, birth_date })
                .await
                .map_err(failure)?;
            print_clients(context, &[client], true);
            Ok(())
        }
        Command::List { tenant, cpf, q, include_inactive, limit, cursor } => {
            let scope = super::scope(&store, &tenant).await?;
            let filter = ClientFilter { cpf, q, include_inactive, limit, cursor };
            let page = roster::clients::list(&store, &scope, now, &filter).await.map_err(failure)?;
            match context.format {
                Format::Json => output::json(&page),
                Format::Table => {
                    print_clients(context, &page.items, false);
                    if let Some(cursor) = &page.next_cursor {
                        eprintln!("more: --cursor {cursor}");
                    }
                }
            }
            Ok(())
        }
        Command::Show { tenant, id } => {
            let scope = super::scope(&store, &tenant).await?;
            let client = roster::clients::get(&store, &scope, now, id).await.map_err(failure)?;
            print_clients(context, &[client], true);
            Ok(())
        }
        Command::Update { tenant, id, name, cpf, birth_date } => {
            if name.is_none() && cpf.is_none() && birth_date.is_none() {
                return Err(Failure::Usage("give --name, --cpf or --birth-date to change".into()));
            }
            let scope = super::scope(&store, &tenant).await?;
            let patch = ClientPatch { name, cpf, birth_date };
            let client = roster::clients::update(&store, &scope, now, id, None, patch).await.map_err(failure)?;
            print_clients(context, &[client], true);
            Ok(())
        }
        Command::Deactivate { tenant, id } => {
            let scope = super::scope(&store, &tenant).await?;
            let client = roster::clients::deactivate(&store, &scope, now, id, None).await.map_err(failure)?;
            print_clients(context, &[client], true);
            Ok(())
        }
        Command::Restore { tenant, id } => {
            let scope = super::scope(&store, &tenant).await?;
            let client = roster::clients::restore(&store, &scope, now, id, None).await.map_err(failure)?;
            print_clients(context, &[client], true);
            Ok(())
        }
        Command::Import { file, tenant, strict } => {
            let scope = super::scope(&store, &tenant).await?;
            import_file(context, &store, &scope, now, &file, strict).await
        }
    };
    store.close().await;
    result
}

async fn import_file(
    context: &Context,
    store: &roster::store::Store,
    scope: &roster::principal::TenantScope,
    now: time::OffsetDateTime,
    file: &str,
    strict: bool,
) -> Result<(), Failure> {
    let format = InputFormat::of_path(file).expect("checked before");
    let open = || {
        std::fs::File::open(file).map(|f| BufReader::with_capacity(256 * 1024, f)).map_err(|e| format!("{file}: {e}"))
    };
    let mut progress = Progress::new();
    let result = import::import(store, scope, now, open, format, strict, |report| progress.show(report)).await;
    progress.finish();
    match result {
        Ok(report) => {
            summary(context.format, &report);
            if !report.written {
                return Err(Failure::Runtime(format!(
                    "--strict: nothing was written because {} row(s) were rejected",
                    report.rejected_count
                )));
            }
            Ok(())
        }
        Err((error, report)) => {
            summary(context.format, &report);
            let written = report.clients.created + report.clients.updated + report.clients.unchanged;
            let landed = format!("{written} rows before it were imported; run the same import again to complete it");
            Err(match error {
                ImportError::Read(e) => Failure::Runtime(format!("{e}; {landed}")),
                ImportError::Client(e) => match failure(e) {
                    Failure::Usage(m) | Failure::Runtime(m) => Failure::Runtime(format!("{m}; {landed}")),
                },
            })
        }
    }
}

fn summary(format: Format, report: &ImportReport) {
    match format {
        Format::Json => output::json(report),
        Format::Table => {
            let c = report.clients;
            let mut rows = vec![
                vec!["rows".into(), report.rows.to_string()],
                vec![
                    "clients".into(),
                    format!("{} created, {} updated, {} unchanged", c.created, c.updated, c.unchanged),
                ],
                vec!["rejected".into(), report.rejected_count.to_string()],
            ];
            for r in &report.rejected {
                let field = r.field.as_deref().map(|f| format!(" {f}")).unwrap_or_default();
                rows.push(vec![format!("  line {}{field}", r.line), r.reason.clone()]);
            }
            if report.rejected_count > report.rejected.len() as u64 {
                rows.push(vec!["  …".into(), format!("{} more", report.rejected_count - report.rejected.len() as u64)]);
            }
            output::table(&["", ""], &rows);
        }
    }
}

fn print_clients(context: &Context, clients: &[Client], single: bool) {
    match context.format {
        Format::Json if single => output::json(&clients[0]),
        Format::Json => output::json(&clients),
        Format::Table => output::table(
            &["ID", "NAME", "CPF", "BIRTH DATE", "ACTIVE", "VERSION"],
            &clients
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        c.name.clone(),
                        c.cpf.formatted(),
                        c.birth_date.to_string(),
                        c.is_active.to_string(),
                        c.version.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
    }
}

/// A spinner on a terminal, plain lines every few seconds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message("importing clients");
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar, started: Instant::now(), last_line: Instant::now() }
    }

    fn show(&mut self, report: &ImportReport) {
        let rate = report.rows as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let text = format!("{} rows ({rate:.0}/s), {} rejected", report.rows, report.rejected_count);
        match &self.bar {
            Some(bar) => bar.set_message(format!("importing clients: {text}")),
            None if self.last_line.elapsed() >= Duration::from_secs(5) => {
                self.last_line = Instant::now();
                eprintln!("imported {text}");
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
