//! Training: a tenant of trainees with sessions to resolve (scores, XP, level and achievements in one transaction per
//! resolution), and one trainee with a long history whose performance view is read over and over.

use std::sync::Arc;

use roster::clock::{Clock, SystemClock};
use roster::principal::{Actor, Role, Sysadmin, TenantScope};
use roster::store::Store;
use roster::training::{self, Difficulty, NewAchievement, NewScenario, Resolution, StartSession, Tier};
use roster::users::{NewUser, Passwords};
use uuid::Uuid;

/// The tenant of the training benchmarks.
pub const TENANT: &str = "bench-training";
/// The password of the trainee with the long history.
pub const PASSWORD: &str = "bench password";

/// What the benchmarks run against.
pub struct Setup {
    /// An admin API key of the tenant (the training application).
    pub key: String,
    /// Active sessions of the tenant's trainees, one per resolution to come.
    pub sessions: Vec<Uuid>,
    /// The email of the trainee with the long history.
    pub veteran: String,
}

fn failed(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Make the tenant: three scenarios of each difficulty, the six kinds of achievement, `users` trainees (through
/// the library, like the bench's other users) with `sessions` active sessions among them, and a trainee with
/// `history` resolved sessions.
pub async fn setup(store: &Store, users: usize, sessions: usize, history: usize) -> anyhow::Result<Setup> {
    let now = SystemClock.now();
    let sysadmin = Sysadmin::operator_unchecked(Actor::cli());
    let input = roster::tenants::NewTenant { slug: TENANT.into(), name: "Training".into(), external_id: None };
    let tenant = roster::tenants::create(store, &sysadmin, now, input).await.map_err(failed)?;
    let scope = TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli());
    let admin = scope.admin().map_err(|_| anyhow::anyhow!("the operator scope is an admin"))?;
    let mut scenarios = Vec::new();
    for (i, difficulty) in
        [Difficulty::Starter, Difficulty::Intermediate, Difficulty::Advanced].repeat(3).into_iter().enumerate()
    {
        let input = NewScenario {
            xp_reward: Some(100 + 50 * i as i64),
            assessment_criteria: Some(serde_json::json!({"weights": {"technical": 2, "verification": 1.5}})),
            ..NewScenario::titled(&format!("Scenario {i}"), difficulty)
        };
        scenarios.push(training::create_scenario(store, admin, now, input).await.map_err(failed)?.id);
    }
    for (code, criteria) in [
        ("first", serde_json::json!({"kind": "sessions_completed", "count": 1})),
        ("ten", serde_json::json!({"kind": "sessions_completed", "count": 10})),
        ("sharp", serde_json::json!({"kind": "score_at_least", "score": 90, "sessions": 3})),
        ("steady", serde_json::json!({"kind": "score_at_least", "score": 70, "sessions": 20})),
        ("advanced", serde_json::json!({"kind": "difficulty_completed", "difficulty": "advanced"})),
        ("level-5", serde_json::json!({"kind": "level_reached", "level": 5})),
    ] {
        let input = NewAchievement {
            code: code.into(),
            name: code.into(),
            description: None,
            tier: Tier::Silver,
            criteria,
            xp_bonus: Some(20),
        };
        training::achievements::create(store, admin, now, input).await.map_err(failed)?;
    }
    let trainees = super::seed(store, std::slice::from_ref(&scope), users).await?;
    let trainees: Arc<Vec<Uuid>> = Arc::new(trainees.into_iter().map(|(_, id, _)| id).collect());

    // one session per resolution to come: trainee i practises scenario i / users, so no trainee holds two active
    // sessions of one scenario
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let scenarios = Arc::new(scenarios);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, scope, next, trainees, scenarios) =
            (store.clone(), scope.clone(), next.clone(), trainees.clone(), scenarios.clone());
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= sessions {
                    return Ok::<_, anyhow::Error>(made);
                }
                let user = trainees[i % trainees.len()];
                let scenario = scenarios[(i / trainees.len()) % scenarios.len()];
                let input = StartSession { user_id: Some(user) };
                let session = training::sessions::start(&store, &scope, SystemClock.now(), scenario, input)
                    .await
                    .map_err(failed)?;
                made.push(session.id);
            }
        }));
    }
    let mut active = Vec::with_capacity(sessions);
    for task in tasks {
        active.extend(task.await??);
    }

    // the veteran: a password to sign in with, and a long history across the scenarios
    let veteran = "veteran@bench.example".to_owned();
    let input = NewUser { email: Some(veteran.clone()), password: Some(PASSWORD.into()), ..NewUser::default() };
    let passwords = Passwords::from_config(&roster::config::Config::default());
    let user = roster::users::create(store, admin, &passwords, now, input).await.map_err(failed)?;
    for i in 0..history {
        let scenario = scenarios[i % scenarios.len()];
        let input = StartSession { user_id: Some(user.id) };
        let session = training::sessions::start(store, &scope, now, scenario, input).await.map_err(failed)?;
        let score = 50 + (i * 37 % 51) as i64;
        training::sessions::resolve(store, &scope, now, session.id, resolution(score)).await.map_err(failed)?;
    }
    let (_, key) =
        roster::auth::create_api_key(store, &scope, now, "training", Role::Admin, None).await.map_err(failed)?;
    Ok(Setup { key, sessions: active, veteran })
}

/// Scores around `score`, different per dimension.
pub fn resolution(score: i64) -> Resolution {
    Resolution::scored([0, 7, -5, 3, -9].map(|d: i64| (score + d).clamp(0, 100)))
}

/// The body of a resolution request.
pub fn resolution_body(i: usize) -> String {
    let r = resolution(40 + (i * 13 % 61) as i64);
    serde_json::json!({
        "verification_score": r.verification_score, "communication_score": r.communication_score,
        "technical_score": r.technical_score, "documentation_score": r.documentation_score,
        "response_time_score": r.response_time_score, "resolution_data": {"resolved_by": "bench"},
    })
    .to_string()
}
