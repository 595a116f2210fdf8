//! The permission check and the audit chain: grants in bulk, checks in process, a long chain verified, and creates
//! with and without the chain key, side by side in one run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use roster::audit::{self, Action, Change};
use roster::clock::{Clock, SystemClock};
use roster::config::Config;
use roster::principal::{Actor, TenantScope};
use roster::store::{ChainKey, Store};
use roster::users::{NewUser, Passwords};
use uuid::Uuid;

/// Agents added to each tenant beside the four built-in ones, so every user can hold ten grants.
pub const EXTRA_AGENTS: [&str; 6] =
    ["voice_bot", "chat_assist", "ticket_triage", "knowledge_base", "survey_runner", "billing_helper"];

/// Every agent of a bench tenant.
pub fn agent_names() -> Vec<String> {
    roster::permissions::BUILT_IN_AGENTS
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(EXTRA_AGENTS.iter().map(|n| n.to_string()))
        .collect()
}

/// Give up to `grants` grants: every user of the bench tenants gets one on each agent, in one statement per agent
/// (the library path would cost a transaction and an audit entry each; a data set is what is needed here).
pub async fn seed_grants(store: &Store, scopes: &[TenantScope], grants: usize, users: usize) -> anyhow::Result<usize> {
    let now = SystemClock.now();
    for scope in scopes {
        for name in EXTRA_AGENTS {
            let new = roster::permissions::NewAgent { name: name.into(), description: None };
            let admin = scope.admin().map_err(|_| anyhow::anyhow!("operator scope is admin"))?;
            roster::permissions::add_agent(store, admin, now, new).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let agents = agent_names();
    let per_agent = grants.div_ceil(agents.len()).min(users);
    let far = now + time::Duration::days(3650);
    let mut made = 0;
    for agent in &agents {
        let mut tx = store.begin().await?;
        // each grant expires (far ahead), so every check compares an expiry with the clock
        made += tx
            .execute(
                "INSERT INTO agent_permissions (tenant_id, user_id, agent_name, can_create, can_read, can_update, \
                 can_delete, granted_by, expires_at, revoked_at, created_at, updated_at, version) \
                 SELECT tenant_id, id, $1, $2, $3, $2, $2, NULL, $4, NULL, $5, $5, 1 \
                 FROM (SELECT tenant_id, id FROM users ORDER BY id LIMIT $6) u",
                vec![
                    agent.clone().into(),
                    false.into(),
                    true.into(),
                    far.into(),
                    now.into(),
                    (per_agent as i64).into(),
                ],
            )
            .await? as usize;
        tx.commit().await?;
    }
    Ok(made)
}

/// Checks per second through the library (no HTTP), `workers` at a time for `seconds`.
pub async fn checks_in_process(
    store: &Store,
    scopes: &[TenantScope],
    users: Arc<Vec<(String, Uuid, String)>>,
    workers: usize,
    seconds: u64,
) -> anyhow::Result<(f64, u64)> {
    let agents = Arc::new(agent_names());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (store, scopes, users, agents) = (store.clone(), scopes.to_vec(), users.clone(), agents.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            let mut done = 0u64;
            while Instant::now() < deadline {
                let (slug, id, _) = &users[(i * 7919) % users.len()];
                let scope = scopes.iter().find(|s| &s.tenant().slug == slug).expect("the user's tenant");
                let agent = &agents[i % agents.len()];
                let answer = roster::permissions::check(&store, scope, SystemClock.now(), *id, agent, Some("read"))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                anyhow::ensure!(answer.allowed, "a seeded grant allows reading");
                done += 1;
                i += workers;
            }
            Ok::<_, anyhow::Error>(done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok((total as f64 / started.elapsed().as_secs_f64(), total))
}

/// Write `entries` audit entries into the tenant's chain (1,000 a transaction), then verify the whole chain: the
/// write rate and the verify time.
pub async fn long_chain(store: &Store, scope: &TenantScope, entries: usize) -> anyhow::Result<(f64, f64, i64)> {
    let started = Instant::now();
    let now = SystemClock.now();
    let mut written = 0;
    while written < entries {
        let n = (entries - written).min(1000);
        let changes: Vec<Change> = (written..written + n)
            .map(|i| {
                Change::new(Action::Update, "user", Uuid::now_v7()).values(
                    Some(serde_json::json!({"display_name": format!("Before {i}")})),
                    Some(serde_json::json!({"display_name": format!("After {i}")})),
                )
            })
            .collect();
        let mut tx = store.begin().await?;
        audit::record_in(&mut tx, scope.tenant_id(), scope.actor(), now, changes).await?;
        tx.commit().await?;
        written += n;
    }
    let write_rate = entries as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let report = audit::verify(store, scope, None).await?;
    anyhow::ensure!(report.ok, "the chain verifies: {report:?}");
    Ok((write_rate, started.elapsed().as_secs_f64(), report.entries_checked))
}

/// User creates through the library, one after another in `rounds` alternating rounds of `per_round`, with and
/// without the chain key: (keyed/s, unkeyed/s).
pub async fn creates_keyed_vs_unkeyed(
    store: &Store,
    scope: &TenantScope,
    key: ChainKey,
    rounds: usize,
    per_round: usize,
) -> anyhow::Result<(f64, f64)> {
    let passwords = Passwords::from_config(&Config::default());
    let keyed = store.clone().with_chain_key(Some(key));
    let unkeyed = store.clone().with_chain_key(None);
    let (mut keyed_time, mut unkeyed_time) = (Duration::ZERO, Duration::ZERO);
    // a separate tenant per variant: an unkeyed entry may not follow keyed ones in one chain
    let operator = roster::principal::Sysadmin::operator_unchecked(Actor::cli());
    let mut scopes = Vec::new();
    for variant in ["keyed", "unkeyed"] {
        let slug = format!("{}-{variant}", scope.tenant().slug);
        let tenant = roster::tenants::create(
            if variant == "keyed" { &keyed } else { &unkeyed },
            &operator,
            SystemClock.now(),
            roster::tenants::NewTenant { slug: slug.clone(), name: slug, external_id: None },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        scopes.push(TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli()));
    }
    let mut n = 0;
    for _ in 0..rounds {
        for (variant, store) in [(0, &keyed), (1, &unkeyed)] {
            let started = Instant::now();
            for _ in 0..per_round {
                n += 1;
                let input = NewUser { email: Some(format!("chain{n}@bench.example")), ..NewUser::default() };
                let admin = scopes[variant].admin().map_err(|_| anyhow::anyhow!("operator scope is admin"))?;
                roster::users::create(store, admin, &passwords, SystemClock.now(), input)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            if variant == 0 {
                keyed_time += started.elapsed();
            } else {
                unkeyed_time += started.elapsed();
            }
        }
    }
    let total = (rounds * per_round) as f64;
    Ok((total / keyed_time.as_secs_f64(), total / unkeyed_time.as_secs_f64()))
}
