//! `roster seed`: idempotent first-start set-up without serving; `--demo` adds a populated training tenant.

use roster::principal::{Actor, Sysadmin};
use roster::tenants::NewTenant;
use roster::users::Passwords;

use crate::output::{self, Format};
use crate::{failure, Context, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also make a demo tenant with training scenarios, achievements, users and their practice sessions (only what
    /// is missing, so running it again changes nothing)
    #[arg(long)]
    demo: bool,
    /// The demo tenant's slug
    #[arg(long, default_value = "demo", requires = "demo")]
    tenant: String,
}

pub async fn run(context: &Context, args: Args) -> Result<(), Failure> {
    let config = context.config(None)?;
    let store = super::open(&config).await?;
    let now = super::now();
    let boot = roster::auth::bootstrap(&store, &config, now).await.map_err(failure)?;
    let demo = if args.demo {
        let created = match roster::tenants::find(&store, &args.tenant).await? {
            Some(_) => false,
            None => {
                let sysadmin = Sysadmin::operator_unchecked(Actor::cli());
                let input = NewTenant { slug: args.tenant.clone(), name: "Demo".into(), external_id: None };
                roster::tenants::create(&store, &sysadmin, now, input).await.map_err(failure)?;
                true
            }
        };
        let scope = super::scope(&store, &args.tenant).await?;
        let summary = roster::training::demo::seed(&store, &scope, &Passwords::from_config(&config), now)
            .await
            .map_err(failure)?;
        Some((created, summary))
    } else {
        None
    };
    match context.format {
        Format::Json => output::json(&serde_json::json!({
            "created": boot.is_some(),
            "tenant": boot.as_ref().map(|b| b.tenant.clone()),
            "admin_email": boot.as_ref().map(|b| b.admin_email.clone()),
            "generated_password": boot.as_ref().and_then(|b| b.generated_password.clone()),
            "demo": demo.as_ref().map(|(created, summary)| serde_json::json!({
                "tenant": args.tenant, "tenant_created": created, "summary": summary,
            })),
        })),
        Format::Table => {
            match &boot {
                Some(boot) => {
                    println!("created tenant {} and sysadmin {}", boot.tenant, boot.admin_email);
                    if let Some(password) = &boot.generated_password {
                        eprintln!("sysadmin password: {password} (shown once; change it)");
                    }
                }
                None if demo.is_none() => println!("nothing to do: the database already has tenants"),
                None => {}
            }
            if let Some((created, s)) = &demo {
                let made = s.scenarios_created + s.achievements_created + s.users_created.len();
                if !created && made == 0 {
                    println!("demo tenant {}: nothing to do, it is all there", args.tenant);
                } else {
                    println!(
                        "demo tenant {}{}: {} scenarios, {} achievements, {} users ({}), {} sessions completed, {} \
                         abandoned, {} in progress, {} achievements awarded",
                        args.tenant,
                        if *created { " created" } else { "" },
                        s.scenarios_created,
                        s.achievements_created,
                        s.users_created.len(),
                        s.users_created.join(", "),
                        s.sessions_completed,
                        s.sessions_abandoned,
                        s.sessions_active,
                        s.achievements_awarded,
                    );
                }
                if let Some(password) = &s.password {
                    eprintln!("demo users' password: {password} (shown once)");
                }
            }
        }
    }
    store.close().await;
    Ok(())
}
