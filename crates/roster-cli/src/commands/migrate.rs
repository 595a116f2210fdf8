//! `roster migrate status | up | down | verify`.

use roster::migrate::Migrator;

use crate::output::{self, Format};
use crate::{Context, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List applied and pending migrations, and any drift
    Status,
    /// Apply pending migrations
    Up {
        /// Stop after this version
        #[arg(long)]
        to: Option<i64>,
    },
    /// Revert migrations
    Down {
        /// Revert this many of the newest migrations
        #[arg(long, conflicts_with = "to", required_unless_present = "to")]
        steps: Option<usize>,
        /// Revert every migration newer than this version (0: all)
        #[arg(long)]
        to: Option<i64>,
    },
    /// Fail if an applied migration changed or the database is newer than this binary
    Verify,
}

pub async fn run(context: &Context, command: Command) -> Result<(), Failure> {
    let config = context.config(None)?;
    let store = super::connect(&config).await?;
    let migrations = roster::migrations();
    let migrator = Migrator::new(&store, &migrations);
    match command {
        Command::Status => {
            let status = migrator.status().await?;
            match context.format {
                Format::Json => output::json(&status),
                Format::Table => output::table(
                    &["VERSION", "NAME", "STATE", "APPLIED AT"],
                    &status
                        .iter()
                        .map(|s| {
                            vec![
                                s.version.to_string(),
                                s.name.clone(),
                                s.state.to_owned(),
                                super::rfc3339(&s.applied_at),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
        Command::Up { to } => report(context, "applied", migrator.up(to).await?),
        Command::Down { steps: Some(steps), .. } => report(context, "reverted", migrator.down_steps(steps).await?),
        Command::Down { to: Some(to), .. } => report(context, "reverted", migrator.down_to(to).await?),
        Command::Down { .. } => return Err(Failure::Usage("migrate down: give --steps N or --to VERSION".into())),
        Command::Verify => {
            migrator.verify().await?;
            if context.format == Format::Json {
                output::json(&serde_json::json!({ "ok": true }));
            } else {
                println!("ok: every applied migration matches this binary");
            }
        }
    }
    store.close().await;
    Ok(())
}

fn report(context: &Context, verb: &str, versions: Vec<i64>) {
    match context.format {
        Format::Json => output::json(&serde_json::json!({ verb: versions })),
        Format::Table if versions.is_empty() => println!("nothing to do"),
        Format::Table => println!("{verb}: {}", versions.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
    }
}
