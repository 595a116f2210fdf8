//! `roster tenant create | list`.

use roster::principal::{Actor, Sysadmin};
use roster::tenants::{NewTenant, Tenant};

use crate::output::{self, Format};
use crate::{failure, Context, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a tenant
    Create {
        /// [a-z0-9-]{2,63}
        slug: String,
        #[arg(long)]
        name: String,
        /// An id of the tenant in another system (e.g. the testing platform's customer id)
        #[arg(long)]
        external_id: Option<String>,
    },
    /// List tenants
    List,
}

pub async fn run(context: &Context, command: Command) -> Result<(), Failure> {
    let config = context.config(None)?;
    let store = super::open(&config).await?;
    // the operator holds the database: it acts as a sysadmin
    let operator = Sysadmin::operator_unchecked(Actor::cli());
    match command {
        Command::Create { slug, name, external_id } => {
            let tenant =
                roster::tenants::create(&store, &operator, super::now(), NewTenant { slug, name, external_id })
                    .await
                    .map_err(failure)?;
            print(context, &[tenant], true);
        }
        Command::List => {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = roster::tenants::list(&store, &operator, after, 500).await?;
                let more = page.len() > 500;
                all.extend(page.into_iter().take(500));
                if !more {
                    break;
                }
                after = all.last().map(|t: &Tenant| t.id);
            }
            print(context, &all, false);
        }
    }
    store.close().await;
    Ok(())
}

fn print(context: &Context, tenants: &[Tenant], single: bool) {
    match context.format {
        Format::Json if single => output::json(&tenants[0]),
        Format::Json => output::json(&tenants),
        Format::Table => output::table(
            &["SLUG", "NAME", "STATUS", "EXTERNAL ID", "ID"],
            &tenants
                .iter()
                .map(|t| {
                    vec![
                        t.slug.clone(),
                        t.name.clone(),
                        t.status.to_string(),
                        output::cell(&t.external_id),
                        t.id.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
    }
}
