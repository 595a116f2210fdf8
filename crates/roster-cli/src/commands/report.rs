//! `roster report contributors | active-users | training`.

use roster::contributions::{self, TopFilter};
use roster::users::{ActiveFilter, User, UserType};

use crate::output::{self, Format};
use crate::{failure, Context, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Top contributors: testers by bugs reported, customers by test cycles created (ties by username)
    Contributors {
        #[arg(long)]
        tenant: String,
        /// tester or customer; both when absent
        #[arg(long = "type", value_parser = parse_type)]
        user_type: Option<UserType>,
        /// Only records of the last N days
        #[arg(long)]
        days: Option<i64>,
        /// How many (1 to 500)
        #[arg(long, default_value_t = contributions::DEFAULT_TOP)]
        limit: i64,
    },
    /// Users seen within the last N days, newest first
    ActiveUsers {
        #[arg(long)]
        tenant: String,
        /// member, tester or customer
        #[arg(long = "type", value_parser = parse_type)]
        user_type: Option<UserType>,
        /// The window in days
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    /// The training leaderboard: live users with XP, most first, with their level, completed sessions and average
    /// overall score
    Training {
        #[arg(long)]
        tenant: String,
        /// How many (1 to 10,000)
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
    },
}

const TRAINING_HEADERS: [&str; 7] = ["rank", "user", "level", "xp", "sessions", "average", "id"];

fn parse_type(s: &str) -> Result<UserType, String> {
    UserType::parse(s).ok_or_else(|| "must be member, tester or customer".to_owned())
}

const HEADERS: [&str; 6] = ["username", "type", "first_seen", "last_seen", "id", "count"];

fn row(user: &User, count: Option<i64>) -> Vec<String> {
    let mut row = vec![
        output::cell(&user.username),
        user.user_type.to_string(),
        super::rfc3339(&user.first_seen),
        super::rfc3339(&user.last_seen),
        user.id.to_string(),
    ];
    row.extend(count.map(|n| n.to_string()));
    row
}

pub async fn run(context: &Context, command: Command) -> Result<(), Failure> {
    let config = context.config(None)?;
    let store = super::open(&config).await?;
    // the reports read the replica when one is configured, as the server's report routes do
    let replica = match &config.reports_database_url {
        Some(url) => Some(
            roster::store::Store::connect(url, &config.store_options())
                .await
                .map_err(|e| Failure::Runtime(format!("cannot reach the reports replica: {e}")))?,
        ),
        None => None,
    };
    let reports = replica.as_ref().unwrap_or(&store);
    match command {
        Command::Contributors { tenant, user_type, days, limit } => {
            let scope = super::scope(&store, &tenant).await?;
            let admin = scope.admin().map_err(|_| Failure::Runtime("the operator scope is an admin".into()))?;
            let filter = TopFilter { user_type, days, limit: Some(limit) };
            let top = contributions::top_contributors(reports, admin, super::now(), &filter).await.map_err(failure)?;
            let rows: Vec<Vec<String>> = top.iter().map(|c| row(&c.user, Some(c.count))).collect();
            match (context.csv, context.format) {
                (true, _) => output::csv(&HEADERS, &rows)?,
                (false, Format::Json) => output::json(&serde_json::json!({ "items": top })),
                (false, Format::Table) => output::table(&HEADERS, &rows),
            }
        }
        Command::ActiveUsers { tenant, user_type, days } => {
            let scope = super::scope(&store, &tenant).await?;
            let admin = scope.admin().map_err(|_| Failure::Runtime("the operator scope is an admin".into()))?;
            let mut users = Vec::new();
            let mut filter = ActiveFilter { user_type, days: Some(days), limit: Some(500), cursor: None };
            loop {
                let page = contributions::active_users(reports, admin, super::now(), &filter).await.map_err(failure)?;
                users.extend(page.items);
                match page.next_cursor {
                    Some(cursor) => filter.cursor = Some(cursor),
                    None => break,
                }
            }
            let rows: Vec<Vec<String>> = users.iter().map(|u| row(u, None)).collect();
            match (context.csv, context.format) {
                (true, _) => output::csv(&HEADERS[..5], &rows)?,
                (false, Format::Json) => output::json(&serde_json::json!({ "items": users })),
                (false, Format::Table) => output::table(&HEADERS[..5], &rows),
            }
        }
        Command::Training { tenant, limit } => {
            let scope = super::scope(&store, &tenant).await?;
            let leaders = roster::training::performance::leaderboard(reports, super::admin(&scope)?, limit)
                .await
                .map_err(failure)?;
            let rows: Vec<Vec<String>> = leaders
                .iter()
                .map(|l| {
                    vec![
                        l.rank.to_string(),
                        l.username.clone().unwrap_or_else(|| l.display_name.clone()),
                        l.level.to_string(),
                        l.xp.to_string(),
                        l.sessions_completed.to_string(),
                        l.average_overall.map_or_else(|| "-".into(), |a| format!("{a:.2}")),
                        l.user_id.to_string(),
                    ]
                })
                .collect();
            match (context.csv, context.format) {
                (true, _) => output::csv(&TRAINING_HEADERS, &rows)?,
                (false, Format::Json) => output::json(&serde_json::json!({ "items": leaders })),
                (false, Format::Table) => output::table(&TRAINING_HEADERS, &rows),
            }
        }
    }
    if let Some(replica) = replica {
        replica.close().await;
    }
    store.close().await;
    Ok(())
}
