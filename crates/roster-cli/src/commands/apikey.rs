//! `roster apikey create | list | revoke`.

use roster::principal::Role;

use crate::output::{self, Format};
use crate::{failure, Context, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an API key; the key is printed once and cannot be shown again
    Create {
        #[arg(long)]
        tenant: String,
        /// sysadmin, admin or user
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        name: String,
    },
    /// List a tenant's API keys (never the keys themselves)
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke an API key; it stops working at once
    Revoke {
        #[arg(long)]
        tenant: String,
        /// The key's id (see `roster apikey list`)
        id: uuid::Uuid,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "must be sysadmin, admin or user".to_owned())
}

pub async fn run(context: &Context, command: Command) -> Result<(), Failure> {
    let config = context.config(None)?;
    let store = super::open(&config).await?;
    match command {
        Command::Create { tenant, role, name } => {
            let scope = super::scope(&store, &tenant).await?;
            let (key, token) =
                roster::auth::create_api_key(&store, &scope, super::now(), &name, role, None).await.map_err(failure)?;
            match context.format {
                Format::Json => output::json(&serde_json::json!({
                    "id": key.id, "name": key.name, "role": key.role, "key": token,
                })),
                Format::Table => {
                    println!("{token}");
                    eprintln!(
                        "API key {} ({}, {}) created; the key above is shown only once.",
                        key.id, key.name, key.role
                    );
                }
            }
        }
        Command::List { tenant } => {
            let scope = super::scope(&store, &tenant).await?;
            let keys = roster::auth::list_api_keys(&store, &scope).await?;
            match context.format {
                Format::Json => output::json(&keys),
                Format::Table => output::table(
                    &["ID", "NAME", "ROLE", "PREFIX", "CREATED", "REVOKED"],
                    &keys
                        .iter()
                        .map(|k| {
                            vec![
                                k.id.to_string(),
                                k.name.clone(),
                                k.role.to_string(),
                                k.prefix.clone(),
                                super::rfc3339(&Some(k.created_at)),
                                super::rfc3339(&k.revoked_at),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
        Command::Revoke { tenant, id } => {
            let scope = super::scope(&store, &tenant).await?;
            roster::auth::revoke_api_key(&store, &scope, super::now(), id).await.map_err(failure)?;
            match context.format {
                Format::Json => output::json(&serde_json::json!({ "id": id, "revoked": true })),
                Format::Table => println!("revoked {id}"),
            }
        }
    }
    store.close().await;
    Ok(())
}
