//! `roster permission grant | revoke | list | check` and `roster agent list | add | retire`.

use roster::permissions::{Agent, GrantInput, GrantView, NewAgent};
use roster::principal::TenantScope;
use roster::store::Store;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::output::{self, Format};
use crate::{failure, Context, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Grant a user actions on an agent, replacing its earlier grant
    Grant {
        #[arg(long)]
        tenant: String,
        /// The user: its id, email or username
        #[arg(long)]
        user: String,
        #[arg(long)]
        agent: String,
        /// Comma-separated: create,read,update,delete
        #[arg(long, value_delimiter = ',', required = true)]
        actions: Vec<String>,
        /// When the grant stops counting (RFC 3339, in the future)
        #[arg(long, value_parser = parse_time)]
        expires_at: Option<OffsetDateTime>,
    },
    /// Revoke a user's grant on an agent
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user: String,
        #[arg(long)]
        agent: String,
    },
    /// List a user's grants (expired ones say so)
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user: String,
        /// Also list revoked grants
        #[arg(long)]
        include_revoked: bool,
    },
    /// May the user do ACTION through the agent now? Exit 0 either way; the answer says
    Check {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user: String,
        #[arg(long)]
        agent: String,
        /// create, read, update or delete
        #[arg(long)]
        action: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand {
    /// The tenant's agent catalogue
    List {
        #[arg(long)]
        tenant: String,
        /// Also list retired agents
        #[arg(long)]
        include_retired: bool,
    },
    /// Add an agent to the catalogue (or bring a retired one back)
    Add {
        #[arg(long)]
        tenant: String,
        /// [a-z][a-z0-9_]{1,63}
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Retire an agent: checks on it answer "not found", its grants stop counting
    Retire {
        #[arg(long)]
        tenant: String,
        name: String,
    },
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("must be an RFC 3339 time such as 2027-01-31T18:00:00Z ({e})"))
}

/// A user named by id, email or username.
async fn user_id(store: &Store, scope: &TenantScope, user: &str) -> Result<Uuid, Failure> {
    if let Ok(id) = Uuid::parse_str(user) {
        return Ok(id);
    }
    let admin = super::admin(scope)?;
    let found = if user.contains('@') {
        roster::users::find_by_email(store, admin, user).await
    } else {
        roster::users::find_by_username(store, admin, user).await
    };
    found.map(|u| u.id).map_err(|_| Failure::Usage(format!("--user: no user {user:?} in this tenant")))
}

pub async fn run(context: &Context, command: Command) -> Result<(), Failure> {
    let config = context.config(None)?;
    let store = super::open(&config).await?;
    let now = super::now();
    match command {
        Command::Grant { tenant, user, agent, actions, expires_at } => {
            let scope = super::scope(&store, &tenant).await?;
            let id = user_id(&store, &scope, &user).await?;
            let mut input = GrantInput { expires_at, ..GrantInput::default() };
            for action in &actions {
                match roster::permissions::parse_action(Some(action.trim())).map_err(failure)? {
                    roster::permissions::AgentAction::Create => input.can_create = true,
                    roster::permissions::AgentAction::Read => input.can_read = true,
                    roster::permissions::AgentAction::Update => input.can_update = true,
                    roster::permissions::AgentAction::Delete => input.can_delete = true,
                }
            }
            let (grant, _) =
                roster::permissions::put_grant(&store, &scope, now, id, &agent, None, input).await.map_err(failure)?;
            print_grants(context, &[grant], true);
        }
        Command::Revoke { tenant, user, agent } => {
            let scope = super::scope(&store, &tenant).await?;
            let id = user_id(&store, &scope, &user).await?;
            let grant = roster::permissions::revoke(&store, &scope, now, id, &agent, None).await.map_err(failure)?;
            print_grants(context, &[grant], true);
        }
        Command::List { tenant, user, include_revoked } => {
            let scope = super::scope(&store, &tenant).await?;
            let id = user_id(&store, &scope, &user).await?;
            let grants =
                roster::permissions::grants(&store, &scope, now, id, include_revoked).await.map_err(failure)?;
            print_grants(context, &grants, false);
        }
        Command::Check { tenant, user, agent, action } => {
            let scope = super::scope(&store, &tenant).await?;
            let id = user_id(&store, &scope, &user).await?;
            let answer =
                roster::permissions::check(&store, &scope, now, id, &agent, Some(&action)).await.map_err(failure)?;
            match context.format {
                Format::Json => output::json(&answer),
                Format::Table => {
                    println!("{} ({})", if answer.allowed { "allowed" } else { "denied" }, answer.reason)
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

pub async fn run_agent(context: &Context, command: AgentCommand) -> Result<(), Failure> {
    let config = context.config(None)?;
    let store = super::open(&config).await?;
    let now = super::now();
    match command {
        AgentCommand::List { tenant, include_retired } => {
            let scope = super::scope(&store, &tenant).await?;
            let admin = super::admin(&scope)?;
            let agents = roster::permissions::agents(&store, admin, include_retired).await.map_err(failure)?;
            print_agents(context, &agents, false);
        }
        AgentCommand::Add { tenant, name, description } => {
            let scope = super::scope(&store, &tenant).await?;
            let admin = super::admin(&scope)?;
            let (agent, _) = roster::permissions::add_agent(&store, admin, now, NewAgent { name, description })
                .await
                .map_err(failure)?;
            print_agents(context, &[agent], true);
        }
        AgentCommand::Retire { tenant, name } => {
            let scope = super::scope(&store, &tenant).await?;
            let admin = super::admin(&scope)?;
            let agent = roster::permissions::retire_agent(&store, admin, now, &name).await.map_err(failure)?;
            print_agents(context, &[agent], true);
        }
    }
    store.close().await;
    Ok(())
}

fn print_grants(context: &Context, grants: &[GrantView], single: bool) {
    let flag = |on: bool, letter: &'static str| if on { letter } else { "-" };
    match context.format {
        Format::Json if single => output::json(&grants[0]),
        Format::Json => output::json(&grants),
        Format::Table => output::table(
            &["AGENT", "CRUD", "STATUS", "EXPIRES", "VERSION"],
            &grants
                .iter()
                .map(|g| {
                    vec![
                        g.agent.clone(),
                        [
                            flag(g.can_create, "c"),
                            flag(g.can_read, "r"),
                            flag(g.can_update, "u"),
                            flag(g.can_delete, "d"),
                        ]
                        .concat(),
                        g.status.to_string(),
                        super::rfc3339(&g.expires_at),
                        g.version.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
    }
}

fn print_agents(context: &Context, agents: &[Agent], single: bool) {
    match context.format {
        Format::Json if single => output::json(&agents[0]),
        Format::Json => output::json(&agents),
        Format::Table => output::table(
            &["NAME", "DESCRIPTION", "RETIRED"],
            &agents
                .iter()
                .map(|a| vec![a.name.clone(), output::cell(&a.description), super::rfc3339(&a.retired_at)])
                .collect::<Vec<_>>(),
        ),
    }
}
