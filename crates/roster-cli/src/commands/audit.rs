//! `roster audit list | export | verify | checkpoint`.

use std::io::Write;
use std::path::PathBuf;

use futures_util::TryStreamExt;
use roster::audit::{AuditEntry, AuditQuery, Checkpoint, VerifyReport};
use roster::principal::{Actor, Sysadmin, TenantScope};
use roster::store::Store;
use time::OffsetDateTime;

use crate::output::{self, Format};
use crate::{failure, Context, Failure};

/// The filters of `list` and `export`.
#[derive(Debug, clap::Args)]
pub struct Filters {
    #[arg(long)]
    tenant: String,
    /// A user or API key id, or a kind of actor (user, api_key, system, cli)
    #[arg(long)]
    actor: Option<String>,
    /// create, read, update, delete, restore, login, login_failed, logout, permission_change, status_change, ingest
    #[arg(long)]
    action: Option<String>,
    /// e.g. user, tenant, agent, api_key
    #[arg(long)]
    resource_type: Option<String>,
    #[arg(long)]
    resource_id: Option<String>,
    /// Entries at or after this time (RFC 3339)
    #[arg(long, value_parser = parse_time)]
    since: Option<OffsetDateTime>,
    /// Entries before this time (RFC 3339)
    #[arg(long, value_parser = parse_time)]
    until: Option<OffsetDateTime>,
}

impl Filters {
    fn query(&self) -> AuditQuery {
        AuditQuery {
            actor: self.actor.clone(),
            action: self.action.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            since: self.since,
            until: self.until,
            ..AuditQuery::default()
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// A tenant's entries, newest first
    List {
        #[command(flatten)]
        filters: Filters,
        /// At most this many entries
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// A tenant's entries in chain order as NDJSON (one entry per line), for a SIEM
    Export {
        #[command(flatten)]
        filters: Filters,
        /// Write to this file instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check each tenant's chain (or one tenant's) and name the first entry that does not fit; exit 1 if any
    /// does not
    Verify {
        #[arg(long)]
        tenant: Option<String>,
        /// Checkpoints taken earlier (the lines `roster audit checkpoint` prints): a chain cut off since shows
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Move a tenant's entries older than --before into a new file that verifies on its own; the chain left
    /// continues from a sealed anchor
    Archive {
        #[arg(long)]
        tenant: String,
        /// Entries that occurred before this time (RFC 3339)
        #[arg(long, value_parser = parse_time)]
        before: OffsetDateTime,
        /// The archive file to create (never overwritten)
        #[arg(long)]
        out: PathBuf,
    },
    /// Check an archive file on its own, and that the database's anchor names it; exit 1 if it does not verify
    VerifyArchive { file: PathBuf },
    /// Print each tenant's checkpoint (entry count and head seal) as NDJSON, to keep outside the database
    Checkpoint {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Seal a database whose audit log was written without a secret key under this process's key (once: its chains
    /// are trusted as they are now, and from then on only this key opens it)
    AdoptKey,
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("must be an RFC 3339 time such as 2026-12-01T00:00:00Z ({e})"))
}

pub async fn run(context: &Context, command: Command) -> Result<(), Failure> {
    let config = context.config(None)?;
    let store = super::open_unchecked(&config).await?;
    if !matches!(command, Command::AdoptKey) {
        super::check_key(&store).await?;
    }
    let result = match command {
        Command::List { filters, limit } => list(context, &store, &filters, limit).await,
        Command::Export { filters, out } => export(&store, &filters, out).await,
        Command::Verify { tenant, checkpoint } => verify(context, &store, tenant, checkpoint).await,
        Command::Checkpoint { tenant } => checkpoint(&store, tenant).await,
        Command::AdoptKey => adopt_key(context, &store).await,
        Command::Archive { tenant, before, out } => {
            let scope = super::scope(&store, &tenant).await?;
            let operator = Sysadmin::operator_unchecked(Actor::cli());
            let report = roster::audit::archive::archive(&store, &operator, &scope, before, super::now(), &out)
                .await
                .map_err(failure)?;
            match context.format {
                Format::Json => output::json(&report),
                Format::Table => println!(
                    "archived entries {} to {} ({}) into {} ({} bytes, sha256 {})",
                    report.from_seq,
                    report.to_seq,
                    report.entries,
                    out.display(),
                    report.bytes,
                    report.file_sha256
                ),
            }
            Ok(())
        }
        Command::VerifyArchive { file } => {
            let operator = Sysadmin::operator_unchecked(Actor::cli());
            let check = roster::audit::archive::verify_file(&operator, &file, store.chain_key(), Some(&store))
                .await
                .map_err(failure)?;
            match context.format {
                Format::Json => output::json(&check),
                Format::Table => println!(
                    "{}: entries {} to {} ({}), {}{}",
                    file.display(),
                    output::cell(&check.from_seq),
                    output::cell(&check.to_seq),
                    check.entries,
                    if check.ok {
                        "ok".to_owned()
                    } else {
                        format!(
                            "BROKEN at entry {}: {}",
                            output::cell(&check.first_bad_seq),
                            output::cell(&check.reason)
                        )
                    },
                    match check.anchored {
                        Some(true) => "; the database's anchor names this file",
                        Some(false) => "; NO anchor in this database names this file",
                        None => "",
                    }
                ),
            }
            if check.ok {
                Ok(())
            } else {
                Err(Failure::Runtime(format!("{}: the archive does not verify", file.display())))
            }
        }
    };
    store.close().await;
    result
}

async fn list(context: &Context, store: &Store, filters: &Filters, limit: usize) -> Result<(), Failure> {
    let scope = super::scope(store, &filters.tenant).await?;
    let mut query = filters.query();
    let mut entries = Vec::new();
    while entries.len() < limit {
        query.limit = Some((limit - entries.len()).min(500) as i64);
        let page = roster::audit::list(store, super::admin(&scope)?, &query).await.map_err(failure)?;
        entries.extend(page.items);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    let rows: Vec<Vec<String>> = entries.iter().map(row).collect();
    if context.csv {
        let headers = ["seq", "occurred_at", "actor", "action", "resource", "changes"];
        return output::csv(&headers, &rows).map_err(Failure::from);
    }
    let headers = ["SEQ", "OCCURRED AT", "ACTOR", "ACTION", "RESOURCE", "CHANGES"];
    match context.format {
        Format::Json => output::json(&entries),
        Format::Table => output::table(&headers, &rows),
    }
    Ok(())
}

fn row(e: &AuditEntry) -> Vec<String> {
    let actor = match (e.actor_user_id, e.actor_api_key_id) {
        (Some(user), _) => format!("{}:{user}", e.actor_kind),
        (None, Some(key)) => format!("{}:{key}", e.actor_kind),
        (None, None) => e.actor_kind.clone(),
    };
    let changes = match (&e.old_values, &e.new_values) {
        (None, None) => String::new(),
        (old, new) => format!(
            "{} -> {}",
            old.as_ref().map_or("-".into(), |v| v.to_string()),
            new.as_ref().map_or("-".into(), |v| v.to_string())
        ),
    };
    vec![
        e.seq.to_string(),
        super::rfc3339(&Some(e.occurred_at)),
        actor,
        e.action.clone(),
        format!("{}:{}", e.resource_type, e.resource_id),
        changes,
    ]
}

async fn export(store: &Store, filters: &Filters, out: Option<PathBuf>) -> Result<(), Failure> {
    let scope = super::scope(store, &filters.tenant).await?;
    let lines = roster::audit::export(store, super::admin(&scope)?, &filters.query()).map_err(failure)?;
    let mut writer: Box<dyn Write> = match &out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| Failure::Usage(format!("--out {}: {e}", path.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut lines = std::pin::pin!(lines);
    let mut written = 0u64;
    while let Some(chunk) = lines.try_next().await? {
        written += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        if let Err(e) = writer.write_all(&chunk) {
            // a reader that went away (`| head`) ends the export, not as an error
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(Failure::Runtime(format!("export: {e}")));
        }
    }
    writer.flush().map_err(|e| Failure::Runtime(format!("export: {e}")))?;
    if let Some(path) = out {
        eprintln!("{written} entries written to {}", path.display());
    }
    Ok(())
}

/// The scopes of the tenants to look at: one by slug, or every tenant.
async fn scopes(store: &Store, tenant: Option<String>) -> Result<Vec<TenantScope>, Failure> {
    if let Some(slug) = tenant {
        return Ok(vec![super::scope(store, &slug).await?]);
    }
    let operator = Sysadmin::operator_unchecked(Actor::cli());
    let mut scopes = Vec::new();
    let mut after = None;
    loop {
        let page = roster::tenants::list(store, &operator, after, 500).await?;
        let more = page.len() > 500;
        for tenant in page.into_iter().take(500) {
            after = Some(tenant.id);
            scopes.push(operator.scope(tenant.as_ref()));
        }
        if !more {
            return Ok(scopes);
        }
    }
}

/// The newest checkpoint of each tenant in a file of checkpoint lines.
fn read_checkpoints(path: &PathBuf) -> Result<Vec<Checkpoint>, Failure> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Failure::Usage(format!("--checkpoint {}: {e}", path.display())))?;
    let mut newest: std::collections::HashMap<uuid::Uuid, Checkpoint> = Default::default();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let checkpoint: Checkpoint = serde_json::from_str(line).map_err(|e| {
            Failure::Usage(format!("--checkpoint {} line {}: not a checkpoint ({e})", path.display(), i + 1))
        })?;
        if newest.get(&checkpoint.tenant_id).is_none_or(|c| c.entries <= checkpoint.entries) {
            newest.insert(checkpoint.tenant_id, checkpoint);
        }
    }
    Ok(newest.into_values().collect())
}

async fn verify(
    context: &Context,
    store: &Store,
    tenant: Option<String>,
    checkpoint: Option<PathBuf>,
) -> Result<(), Failure> {
    let checkpoints = checkpoint.as_ref().map(read_checkpoints).transpose()?.unwrap_or_default();
    let mut reports: Vec<(String, VerifyReport)> = Vec::new();
    for scope in scopes(store, tenant).await? {
        let checkpoint = checkpoints.iter().find(|c| c.tenant_id == scope.tenant_id().uuid());
        let report = roster::audit::verify(store, &scope, checkpoint).await?;
        reports.push((scope.tenant().slug.clone(), report));
    }
    match context.format {
        Format::Json => output::json(
            &reports.iter().map(|(slug, r)| serde_json::json!({"tenant": slug, "report": r})).collect::<Vec<_>>(),
        ),
        Format::Table => output::table(
            &["TENANT", "ENTRIES", "UNKEYED", "OK", "FIRST BAD", "REASON"],
            &reports
                .iter()
                .map(|(slug, r)| {
                    vec![
                        slug.clone(),
                        r.entries_checked.to_string(),
                        r.unkeyed_entries.to_string(),
                        if r.ok { "ok".into() } else { "BROKEN".into() },
                        output::cell(&r.first_bad_seq),
                        output::cell(&r.reason),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
    }
    let broken: Vec<String> = reports
        .iter()
        .filter(|(_, r)| !r.ok)
        .map(|(slug, r)| format!("{slug} at entry {}", r.first_bad_seq.unwrap_or_default()))
        .collect();
    if broken.is_empty() {
        Ok(())
    } else {
        Err(Failure::Runtime(format!("audit chain broken: {}", broken.join(", "))))
    }
}

async fn checkpoint(store: &Store, tenant: Option<String>) -> Result<(), Failure> {
    let operator = Sysadmin::operator_unchecked(Actor::cli());
    let wanted = match tenant {
        Some(slug) => Some(super::scope(store, &slug).await?.tenant_id().uuid()),
        None => None,
    };
    let all = roster::audit::checkpoints(store, &operator, super::now()).await?;
    for checkpoint in all.iter().filter(|c| wanted.is_none_or(|id| id == c.tenant_id)) {
        output::line(&serde_json::to_string(checkpoint).unwrap_or_default());
    }
    Ok(())
}

/// `roster audit adopt-key`.
async fn adopt_key(context: &Context, store: &Store) -> Result<(), Failure> {
    let operator = Sysadmin::operator_unchecked(Actor::cli());
    let adopted = roster::audit::key::adopt(store, &operator, super::now()).await.map_err(|e| match e {
        roster::audit::KeyErrorOrStore::Key(e) => Failure::Usage(e.to_string()),
        roster::audit::KeyErrorOrStore::Store(e) => Failure::Usage(e.to_string()),
    })?;
    match context.format {
        Format::Json => output::json(&adopted),
        Format::Table => println!(
            "sealed {} audit chains under the key with fingerprint {} ({} entries written without a key are trusted \
             as they are now)",
            adopted.chains, adopted.fingerprint, adopted.unkeyed_entries
        ),
    }
    Ok(())
}
