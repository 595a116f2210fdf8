//! `kill -9` of `roster serve` during a stream of acknowledged writes (creates, updates, grants, sign-ins), at random
//! points: after each restart every acknowledged write is there, a write that was in flight is there whole or not at
//! all, the SQLite file passes `PRAGMA integrity_check`, and the audit chain verifies.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use roster::store::Backend;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::harness::{check, users_path, Api, Database, Roster, TENANT};

const AGENTS: [&str; 3] = ["pdf_processing", "audio_recording", "reports_analysis"];
const PASSWORD: &str = "fault password 1";
const WORKERS: usize = 8;

/// What the caller was told about one account.
#[derive(Debug, Clone, Default)]
struct Account {
    id: String,
    email: String,
    version: i64,
    display_name: String,
    has_password: bool,
    /// (can_read, can_update) per agent, as last acknowledged
    grants: BTreeMap<&'static str, (bool, bool)>,
    /// Acknowledged changes of its grants.
    grant_writes: i64,
    /// A session token from an acknowledged sign-in, and how many sign-ins were acknowledged.
    token: Option<String>,
    logins: i64,
}

/// The write a worker had sent when the server died.
#[derive(Debug, Clone)]
enum InFlight {
    Create { email: String, has_password: bool },
    Patch { account: usize, display_name: String },
    Grant { account: usize, agent: &'static str, flags: (bool, bool) },
    SignIn { account: usize },
}

#[derive(Default)]
struct Worker {
    accounts: Vec<Account>,
    in_flight: Option<InFlight>,
    created: usize,
}

#[derive(Default, Debug)]
pub struct Counts {
    pub rounds: usize,
    pub acknowledged: usize,
    pub in_flight: usize,
    pub landed: usize,
    pub lost: usize,
}

pub async fn run(roster: &Roster, backend: Backend, rounds: usize, seed: u64) -> anyhow::Result<String> {
    let db = Database::fresh(roster, backend).await?;
    let workers: Vec<Arc<Mutex<Worker>>> = (0..WORKERS).map(|_| Default::default()).collect();
    let mut counts = Counts::default();
    let mut rng = StdRng::seed_from_u64(seed);
    for round in 0..rounds {
        let mut server = roster.serve(&db.url, &[]).await?;
        let api = Api::new(&server.base, &db.key, Duration::from_secs(10));
        // the previous round's in-flight writes: each is there whole, or not at all
        for worker in &workers {
            settle(&api, &db, &mut *worker.lock().await, &mut counts)
                .await
                .with_context(|| format!("round {round}"))?;
        }
        db.verify_audit(roster).with_context(|| format!("round {round}"))?;

        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (w, worker) in workers.iter().enumerate() {
            let (api, worker, stop) = (api.clone(), worker.clone(), stop.clone());
            let seed = rng.random::<u64>();
            tasks.push(tokio::spawn(async move {
                write_until_killed(&api, w, &mut *worker.lock().await, &stop, seed).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..1200))).await;
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for task in tasks {
            counts.acknowledged += task.await??;
        }
        counts.rounds += 1;
        if backend == Backend::Sqlite {
            integrity_check(&db.url)?;
        }
    }
    let server = roster.serve(&db.url, &[]).await?;
    let api = Api::new(&server.base, &db.key, Duration::from_secs(10));
    for worker in &workers {
        settle(&api, &db, &mut *worker.lock().await, &mut counts).await.context("after the last round")?;
    }
    db.verify_audit(roster)?;
    check(counts.lost == 0, || format!("{} acknowledged writes lost", counts.lost))?;
    let integrity = if backend == Backend::Sqlite { ", integrity_check ok after every kill" } else { "" };
    Ok(format!(
        "{} kills, writes acknowledged {}, in flight at a kill {} (landed whole {}, absent {}), lost 0, half-present 0{integrity}, audit chain verified",
        counts.rounds,
        counts.acknowledged,
        counts.in_flight,
        counts.landed,
        counts.in_flight - counts.landed
    ))
}

/// `PRAGMA integrity_check` on the file the killed server left.
fn integrity_check(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite://");
    let connection = rusqlite::Connection::open(path)?;
    let result: String = connection.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    check(result == "ok", || format!("PRAGMA integrity_check: {result}"))
}

/// Write until the server stops answering; the number of writes acknowledged.
async fn write_until_killed(
    api: &Api,
    w: usize,
    worker: &mut Worker,
    stop: &AtomicBool,
    seed: u64,
) -> anyhow::Result<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut acknowledged = 0;
    while !stop.load(Ordering::SeqCst) {
        let op = next_write(&mut rng, w, worker);
        match apply(api, worker, &op).await {
            Ok(()) => acknowledged += 1,
            Err(Sent::NoAnswer) => {
                worker.in_flight = Some(op);
                break;
            }
            Err(Sent::Refused(what)) => bail!("worker {w}: {op:?}: {what}"),
        }
    }
    Ok(acknowledged)
}

fn next_write(rng: &mut StdRng, w: usize, worker: &mut Worker) -> InFlight {
    if worker.accounts.is_empty() || rng.random_bool(0.25) {
        worker.created += 1;
        // a password costs an Argon2id hash: every fourth account has one, to sign in with
        return InFlight::Create {
            email: format!("w{w}-{}@faults.example", worker.created),
            has_password: worker.created % 4 == 1,
        };
    }
    let account = rng.random_range(0..worker.accounts.len());
    let choice = rng.random_range(0..10);
    if choice < 2 && worker.accounts[account].has_password {
        return InFlight::SignIn { account };
    }
    if choice < 5 {
        let agent = AGENTS[rng.random_range(0..AGENTS.len())];
        let old = worker.accounts[account].grants.get(agent).copied();
        // always a change, so every acknowledged PUT is a write
        let choices: Vec<(bool, bool)> =
            [(true, false), (false, true), (true, true)].into_iter().filter(|f| Some(*f) != old).collect();
        let flags = choices[rng.random_range(0..choices.len())];
        return InFlight::Grant { account, agent, flags };
    }
    InFlight::Patch { account, display_name: format!("Fault {w}-{account} v{}", rng.random::<u32>()) }
}

enum Sent {
    /// No answer: the server died with the request in flight.
    NoAnswer,
    /// An answer the scenario did not expect.
    Refused(String),
}

fn expect(reply: Result<crate::harness::Reply, reqwest::Error>, status: &[u16]) -> Result<crate::harness::Reply, Sent> {
    let reply = reply.map_err(|_| Sent::NoAnswer)?;
    if !status.contains(&reply.status) {
        return Err(Sent::Refused(format!("answered {}: {}", reply.status, reply.body)));
    }
    Ok(reply)
}

async fn apply(api: &Api, worker: &mut Worker, op: &InFlight) -> Result<(), Sent> {
    match op {
        InFlight::Create { email, has_password } => {
            let mut body = json!({"email": email, "display_name": "Fault"});
            if *has_password {
                body["password"] = PASSWORD.into();
            }
            let reply = expect(api.post(&users_path(), &body).await, &[201])?;
            worker.accounts.push(account_of(&reply.body, *has_password));
        }
        InFlight::Patch { account, display_name } => {
            let a = &mut worker.accounts[*account];
            let version = format!("\"{}\"", a.version);
            let body = json!({"display_name": display_name});
            let path = format!("{}/{}", users_path(), a.id);
            let reply = api.send(Method::PATCH, &path, Some(&body), &[("if-match", &version)]).await;
            let reply = expect(reply, &[200])?;
            a.version = reply.body["version"].as_i64().unwrap_or(-1);
            a.display_name = display_name.clone();
        }
        InFlight::Grant { account, agent, flags } => {
            let a = &mut worker.accounts[*account];
            let path = format!("{}/{}/permissions/{agent}", users_path(), a.id);
            let body = json!({"can_read": flags.0, "can_update": flags.1});
            expect(api.send(Method::PUT, &path, Some(&body), &[]).await, &[200, 201])?;
            a.grants.insert(agent, *flags);
            a.grant_writes += 1;
        }
        InFlight::SignIn { account } => {
            let a = &mut worker.accounts[*account];
            let body = json!({"email": a.email, "password": PASSWORD});
            let path = format!("/v1/tenants/{TENANT}/auth/login");
            let reply = expect(api.post(&path, &body).await, &[200])?;
            a.token = reply.body["token"].as_str().map(str::to_owned);
            a.logins += 1;
        }
    }
    Ok(())
}

fn account_of(user: &Value, has_password: bool) -> Account {
    Account {
        id: user["id"].as_str().unwrap_or_default().to_owned(),
        email: user["email"].as_str().unwrap_or_default().to_owned(),
        version: user["version"].as_i64().unwrap_or(-1),
        display_name: user["display_name"].as_str().unwrap_or_default().to_owned(),
        has_password,
        ..Account::default()
    }
}

/// Check each account against what its worker was told, and resolve the write that was in flight: it is there whole
/// (adopted as the new state) or not at all. Also counts each user's audit entries against its history.
async fn settle(api: &Api, db: &Database, worker: &mut Worker, counts: &mut Counts) -> anyhow::Result<()> {
    let in_flight = worker.in_flight.take();
    if let Some(op) = &in_flight {
        counts.in_flight += 1;
        if let InFlight::Create { email, has_password } = op {
            let reply = api.get(&format!("{}/by-email/{email}", users_path())).await?;
            match reply.status {
                404 => {}
                200 => {
                    counts.landed += 1;
                    worker.accounts.push(account_of(&reply.body, *has_password));
                }
                other => bail!("looking up {email} after a kill: {other} {}", reply.body),
            }
        }
    }
    for (i, account) in worker.accounts.iter_mut().enumerate() {
        let pending = in_flight.as_ref().filter(|op| match op {
            InFlight::Patch { account, .. } | InFlight::Grant { account, .. } | InFlight::SignIn { account } => {
                *account == i
            }
            InFlight::Create { .. } => false,
        });
        let reply = api.get(&format!("{}/{}", users_path(), account.id)).await?;
        if reply.status != 200 {
            counts.lost += 1;
            bail!("acknowledged user {} ({}) is gone: {} {}", account.id, account.email, reply.status, reply.body);
        }
        let user = &reply.body;
        let (version, name) = (user["version"].as_i64().unwrap_or(-1), user["display_name"].as_str().unwrap_or(""));
        let logins = user["login_count"].as_i64().unwrap_or(-1);
        match pending {
            Some(InFlight::Patch { display_name, .. }) if version == account.version + 1 && name == display_name => {
                counts.landed += 1;
                account.version = version;
                account.display_name = display_name.clone();
            }
            _ if version == account.version && name == account.display_name => {}
            _ => {
                counts.lost += 1;
                bail!(
                    "user {}: acknowledged version {} {:?}, found version {version} {name:?} (in flight: {pending:?})",
                    account.id,
                    account.version,
                    account.display_name
                );
            }
        }
        match pending {
            Some(InFlight::SignIn { .. }) if logins == account.logins + 1 => {
                counts.landed += 1;
                account.logins = logins;
            }
            _ if logins == account.logins => {}
            _ => {
                counts.lost += 1;
                bail!("user {}: {} sign-ins acknowledged, login_count {logins}", account.id, account.logins);
            }
        }
        if let Some(token) = &account.token {
            let me = Api::new(&api.base, token, Duration::from_secs(10)).get("/v1/me").await?;
            if me.status != 200 {
                counts.lost += 1;
                bail!("user {}: the session of an acknowledged sign-in no longer works: {}", account.id, me.status);
            }
        }
        let grants = api.get(&format!("{}/{}/permissions", users_path(), account.id)).await?;
        let found: BTreeMap<String, (bool, bool)> = grants.body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|g| {
                        let flag = |name: &str| g[name].as_bool().unwrap_or(false);
                        Some((g["agent"].as_str()?.to_owned(), (flag("can_read"), flag("can_update"))))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut expected: BTreeMap<String, (bool, bool)> =
            account.grants.iter().map(|(agent, flags)| ((*agent).to_owned(), *flags)).collect();
        if found != expected {
            if let Some(InFlight::Grant { agent, flags, .. }) = pending {
                expected.insert((*agent).to_owned(), *flags);
            }
            if found != expected {
                counts.lost += 1;
                bail!(
                    "user {}: acknowledged grants {:?}, found {found:?} (in flight: {pending:?})",
                    account.id,
                    account.grants
                );
            }
            counts.landed += 1;
            if let Some(InFlight::Grant { agent, flags, .. }) = pending {
                account.grants.insert(agent, *flags);
                account.grant_writes += 1;
            }
        }
        audited(db, account).await?;
    }
    Ok(())
}

/// The audit log holds exactly one entry per write the user has seen: one create, one update per version after the
/// first, one sign-in per login counted, one grant entry per change of a grant.
async fn audited(db: &Database, account: &Account) -> anyhow::Result<()> {
    let tenant = db.tenant_id().await?;
    let rows: Vec<(String, i64)> = db
        .store
        .query(
            "SELECT action, COUNT(*) FROM audit_log WHERE tenant_id = $1 AND resource_id = $2 GROUP BY action",
            vec![tenant.into(), account.id.clone().into()],
        )
        .await?;
    let of = |action: &str| rows.iter().find(|(a, _)| a == action).map_or(0, |(_, n)| *n);
    check(of("create") == 1, || {
        format!("user {}: {} create entries, expected 1 ({rows:?})", account.id, of("create"))
    })?;
    check(of("update") == account.version - 1, || {
        format!("user {}: {} update entries at version {} ({rows:?})", account.id, of("update"), account.version)
    })?;
    check(of("login") == account.logins, || {
        format!("user {}: {} login entries for {} sign-ins ({rows:?})", account.id, of("login"), account.logins)
    })?;
    check(of("permission_change") == account.grant_writes, || {
        format!(
            "user {}: {} grant entries for {} grant changes ({rows:?})",
            account.id,
            of("permission_change"),
            account.grant_writes
        )
    })
}
