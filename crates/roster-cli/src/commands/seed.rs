//! `roster seed`: idempotent first-start set-up without serving.

use crate::output::{self, Format};
use crate::{failure, Context, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(context: &Context, _args: Args) -> Result<(), Failure> {
    let config = context.config(None)?;
    let store = super::open(&config).await?;
    let boot = roster::auth::bootstrap(&store, &config, super::now()).await.map_err(failure)?;
    match (context.format, boot) {
        (Format::Json, boot) => output::json(&serde_json::json!({
            "created": boot.is_some(),
            "tenant": boot.as_ref().map(|b| b.tenant.clone()),
            "admin_email": boot.as_ref().map(|b| b.admin_email.clone()),
            "generated_password": boot.and_then(|b| b.generated_password),
        })),
        (Format::Table, Some(boot)) => {
            println!("created tenant {} and sysadmin {}", boot.tenant, boot.admin_email);
            if let Some(password) = boot.generated_password {
                eprintln!("sysadmin password: {password} (shown once; change it)");
            }
        }
        (Format::Table, None) => println!("nothing to do: the database already has tenants"),
    }
    store.close().await;
    Ok(())
}
