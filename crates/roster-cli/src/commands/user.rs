//! `roster user create | list | show | update | delete | restore`.

use std::io::Read;

use roster::principal::Role;
use roster::users::model::{ExperienceLevel, UserStatus, UserType};
use roster::users::{NewUser, Passwords, StatusAction, User, UserFilter, UserPatch};
use uuid::Uuid;

use super::admin;
use crate::output::{self, Format};
use crate::{failure, Context, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a user
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        #[arg(long, value_parser = parse_user_type)]
        user_type: Option<UserType>,
        #[arg(long)]
        timezone: Option<String>,
        /// Read the password from standard input (never give it as an argument)
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_parser = parse_status)]
        status: Option<UserStatus>,
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        #[arg(long, value_parser = parse_user_type)]
        user_type: Option<UserType>,
        /// Exactly this target role
        #[arg(long)]
        target_role: Option<String>,
        #[arg(long, value_parser = parse_level)]
        experience_level: Option<ExperienceLevel>,
        /// Search email, username and display name
        #[arg(long)]
        q: Option<String>,
        #[arg(long)]
        include_deleted: bool,
        /// At most this many users
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show one user, by id, --email or --username
    Show {
        #[arg(long)]
        tenant: String,
        #[arg(required_unless_present_any = ["email", "username"])]
        id: Option<Uuid>,
        #[arg(long, conflicts_with = "username")]
        email: Option<String>,
        #[arg(long)]
        username: Option<String>,
    },
    /// Change a user's profile
    Update {
        #[arg(long)]
        tenant: String,
        id: Uuid,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        #[arg(long, value_parser = parse_user_type)]
        user_type: Option<UserType>,
        #[arg(long, value_parser = parse_level)]
        experience_level: Option<ExperienceLevel>,
        #[arg(long)]
        target_role: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
        /// A JSON object (at most 4000 bytes)
        #[arg(long)]
        metadata: Option<String>,
    },
    /// Soft-delete a user
    Delete {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// Restore a soft-deleted user
    Restore {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// Suspend a user: no sign-in, and its sessions stop working
    Suspend {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// Activate a user (from suspended, invited, pending or locked)
    Activate {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// Unlock a user locked by failed sign-ins
    Unlock {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// End every session of a user
    RevokeSessions {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// Clear a user's password, end its sessions, and print a reset token to deliver
    ForcePasswordReset {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "must be sysadmin, admin or user".to_owned())
}
fn parse_user_type(s: &str) -> Result<UserType, String> {
    UserType::parse(s).ok_or_else(|| "must be member, tester or customer".to_owned())
}
fn parse_status(s: &str) -> Result<UserStatus, String> {
    UserStatus::parse(s).ok_or_else(|| "must be pending_verification, invited, active, suspended or locked".to_owned())
}
fn parse_level(s: &str) -> Result<ExperienceLevel, String> {
    ExperienceLevel::parse(s).ok_or_else(|| "must be entry, junior, mid, senior, lead or principal".to_owned())
}

pub async fn run(context: &Context, command: Command) -> Result<(), Failure> {
    let config = context.config(None)?;
    let store = super::open(&config).await?;
    let now = super::now();
    match command {
        Command::Create { tenant, email, username, display_name, role, user_type, timezone, password_stdin } => {
            let scope = super::scope(&store, &tenant).await?;
            let password = if password_stdin {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| Failure::Usage(format!("--password-stdin: {e}")))?;
                Some(text.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let input =
                NewUser { email, username, display_name, role, user_type, timezone, password, ..NewUser::default() };
            let user = roster::users::create(&store, admin(&scope)?, &Passwords::from_config(&config), now, input)
                .await
                .map_err(failure)?;
            print(context, &[user], true);
        }
        Command::List { tenant, status, role, user_type, target_role, experience_level, q, include_deleted, limit } => {
            let scope = super::scope(&store, &tenant).await?;
            let mut filter = UserFilter {
                status,
                role,
                user_type,
                target_role,
                experience_level,
                q,
                include_deleted,
                ..UserFilter::default()
            };
            let mut users = Vec::new();
            while users.len() < limit {
                filter.limit = Some((limit - users.len()).min(500) as i64);
                let page = roster::users::list(&store, admin(&scope)?, &filter).await.map_err(failure)?;
                users.extend(page.items);
                match page.next_cursor {
                    Some(cursor) => filter.cursor = Some(cursor),
                    None => break,
                }
            }
            print(context, &users, false);
        }
        Command::Show { tenant, id, email, username } => {
            let scope = super::scope(&store, &tenant).await?;
            let user = match (id, email, username) {
                (Some(id), _, _) => roster::users::get(&store, &scope, id, true).await,
                (None, Some(email), _) => roster::users::find_by_email(&store, admin(&scope)?, &email).await,
                (None, None, Some(username)) => {
                    roster::users::find_by_username(&store, admin(&scope)?, &username).await
                }
                (None, None, None) => {
                    return Err(Failure::Usage("user show: give an id, --email or --username".into()))
                }
            }
            .map_err(failure)?;
            print(context, &[user], true);
        }
        Command::Update {
            tenant,
            id,
            email,
            username,
            display_name,
            role,
            user_type,
            experience_level,
            target_role,
            timezone,
            metadata,
        } => {
            let scope = super::scope(&store, &tenant).await?;
            let metadata = metadata
                .map(|m| serde_json::from_str(&m).map_err(|e| Failure::Usage(format!("--metadata: not JSON: {e}"))))
                .transpose()?;
            let patch = UserPatch {
                email: email.map(Some),
                username: username.map(Some),
                display_name,
                role,
                user_type,
                experience_level: experience_level.map(Some),
                target_role: target_role.map(Some),
                timezone,
                metadata,
                ..UserPatch::default()
            };
            let user = roster::users::update(&store, admin(&scope)?, now, id, None, patch).await.map_err(failure)?;
            print(context, &[user], true);
        }
        Command::Delete { tenant, id } => {
            let scope = super::scope(&store, &tenant).await?;
            let user = roster::users::delete(&store, admin(&scope)?, now, id, None).await.map_err(failure)?;
            print(context, &[user], true);
        }
        Command::Suspend { tenant, id } => status(context, &store, now, &tenant, id, StatusAction::Suspend).await?,
        Command::Activate { tenant, id } => status(context, &store, now, &tenant, id, StatusAction::Activate).await?,
        Command::Unlock { tenant, id } => status(context, &store, now, &tenant, id, StatusAction::Unlock).await?,
        Command::RevokeSessions { tenant, id } => {
            let scope = super::scope(&store, &tenant).await?;
            let ended = roster::auth::sessions::revoke_all(&store, &scope, id, now).await.map_err(failure)?;
            match context.format {
                Format::Json => output::json(&serde_json::json!({ "sessions_ended": ended })),
                Format::Table => println!("ended {ended} session(s)"),
            }
        }
        Command::ForcePasswordReset { tenant, id } => {
            let scope = super::scope(&store, &tenant).await?;
            let lifetime = time::Duration::minutes(config.reset_token_minutes);
            let token = roster::auth::sessions::force_password_reset(&store, &scope, id, now, lifetime)
                .await
                .map_err(failure)?;
            match context.format {
                Format::Json => output::json(&serde_json::json!({ "reset_token": token })),
                Format::Table => {
                    println!("{token}");
                    eprintln!("password cleared and sessions ended; deliver the reset token above (shown once)");
                }
            }
        }
        Command::Restore { tenant, id } => {
            let scope = super::scope(&store, &tenant).await?;
            let user = roster::users::restore(&store, admin(&scope)?, now, id, None).await.map_err(failure)?;
            print(context, &[user], true);
        }
    }
    store.close().await;
    Ok(())
}

async fn status(
    context: &Context,
    store: &roster::store::Store,
    now: time::OffsetDateTime,
    tenant: &str,
    id: Uuid,
    action: StatusAction,
) -> Result<(), Failure> {
    let scope = super::scope(store, tenant).await?;
    let user = roster::users::change_status(store, admin(&scope)?, now, id, None, action).await.map_err(failure)?;
    print(context, &[user], true);
    Ok(())
}

fn print(context: &Context, users: &[User], single: bool) {
    match context.format {
        Format::Json if single => output::json(&users[0]),
        Format::Json => output::json(&users),
        Format::Table => output::table(
            &["ID", "EMAIL", "USERNAME", "DISPLAY NAME", "ROLE", "TYPE", "STATUS", "DELETED"],
            &users
                .iter()
                .map(|u| {
                    vec![
                        u.id.to_string(),
                        output::cell(&u.email),
                        output::cell(&u.username),
                        u.display_name.clone(),
                        u.role.to_string(),
                        u.user_type.to_string(),
                        u.status.to_string(),
                        super::rfc3339(&u.deleted_at),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
    }
}
