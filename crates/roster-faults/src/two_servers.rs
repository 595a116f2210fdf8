//! Two `roster serve` processes on one PostgreSQL database: concurrent ingests of overlapping names make one user per
//! name with no error to either caller; concurrent PATCHes with the same `If-Match` have exactly one winner;
//! concurrent failed sign-ins spread over both processes lock the account exactly once.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::bail;
use reqwest::Method;
use roster::store::Backend;
use serde_json::{json, Value};

use crate::harness::{check, users_path, Api, Database, Roster, TENANT};

const INGEST_ROUNDS: usize = 5;
const RECORDS: usize = 3_000;
const RACED_PATCHES: usize = 100;
const LOCKED_ACCOUNTS: usize = 10;

pub async fn run(roster: &Roster, backend: Backend) -> anyhow::Result<String> {
    if backend != Backend::Postgres {
        bail!("two servers share a PostgreSQL database");
    }
    let db = Database::fresh(roster, backend).await?;
    let first = roster.serve(&db.url, &[]).await?;
    let second = roster.serve(&db.url, &[]).await?;
    let apis = [
        Api::new(&first.base, &db.key, Duration::from_secs(60)),
        Api::new(&second.base, &db.key, Duration::from_secs(60)),
    ];
    let ingests = ingest_race(&db, &apis).await?;
    let patches = patch_race(&apis).await?;
    let locks = lockout_race(&db, &apis).await?;
    db.verify_audit(roster)?;
    Ok(format!("{ingests}; {patches}; {locks}; audit chain verified"))
}

/// NDJSON bug reports with ids from `first`, reported by `names` in turn.
fn bugs(first: usize, names: &[String]) -> String {
    (0..RECORDS)
        .map(|i| {
            let record = json!({
                "id": first + i, "title": "race", "severity": "low",
                "author": {"name": names[i % names.len()]},
            });
            format!("{record}\n")
        })
        .collect()
}

async fn ingest(api: &Api, body: String) -> anyhow::Result<Value> {
    let reply = api.ingest_bugs(body).await?;
    check(reply.status == 200, || format!("an ingest racing another: {} {}", reply.status, reply.body))?;
    Ok(reply.body)
}

async fn ingest_race(db: &Database, apis: &[Api; 2]) -> anyhow::Result<String> {
    let (mut names_total, mut created_total) = (0, 0);
    for round in 0..INGEST_ROUNDS {
        // 600 names each, 400 of them shared
        let name = |i: usize| format!("Racer {round}-{i}");
        let ours: Vec<String> = (0..600).map(name).collect();
        let theirs: Vec<String> = (200..800).map(name).collect();
        let everyone: BTreeSet<&String> = ours.iter().chain(&theirs).collect();
        let base = 1_000_000 * (round + 1);
        let (a, b) = tokio::join!(ingest(&apis[0], bugs(base, &ours)), ingest(&apis[1], bugs(base + RECORDS, &theirs)));
        let (a, b) = (a?, b?);
        for report in [&a, &b] {
            check(report["rejected"].as_array().is_none_or(Vec::is_empty), || format!("rejected records: {report}"))?;
            check(report["bugs"]["inserted"] == RECORDS, || format!("not every record was written: {report}"))?;
        }
        let created = a["users"]["created"].as_u64().unwrap_or(0) + b["users"]["created"].as_u64().unwrap_or(0);
        let tenant = db.tenant_id().await?;
        let (users, distinct): (i64, i64) = db
            .store
            .query_one(
                "SELECT COUNT(*), COUNT(DISTINCT username) FROM users WHERE tenant_id = $1 AND username LIKE $2",
                vec![tenant.into(), format!("Racer {round}-%").into()],
            )
            .await?;
        check(users == everyone.len() as i64 && distinct == users, || {
            format!("{} names ingested at once by two servers: {users} users, {distinct} distinct", everyone.len())
        })?;
        check(created == everyone.len() as u64, || {
            format!("the two ingests report {created} users created for {} names", everyone.len())
        })?;
        names_total += everyone.len();
        created_total += created;
    }
    Ok(format!(
        "{INGEST_ROUNDS} pairs of concurrent ingests ({} records each, 400 of 800 names shared): {names_total} names → {names_total} users (the pairs' reports: {created_total} created), 0 errors",
        RECORDS
    ))
}

async fn patch_race(apis: &[Api; 2]) -> anyhow::Result<String> {
    let (mut won, mut lost) = (0, 0);
    for i in 0..RACED_PATCHES {
        let created = apis[0].post(&users_path(), &json!({"email": format!("patch{i}@faults.example")})).await?;
        check(created.status == 201, || format!("create: {} {}", created.status, created.body))?;
        let path = format!("{}/{}", users_path(), created.body["id"].as_str().unwrap_or_default());
        let patch = |api: &Api, name: &'static str| {
            let (api, path) = (api.clone(), path.clone());
            async move {
                api.send(Method::PATCH, &path, Some(&json!({"display_name": name})), &[("if-match", "\"1\"")]).await
            }
        };
        let (a, b) = tokio::join!(patch(&apis[0], "first"), patch(&apis[1], "second"));
        let statuses = [a?.status, b?.status];
        let winners = statuses.iter().filter(|&&s| s == 200).count();
        let losers = statuses.iter().filter(|&&s| s == 412 || s == 409).count();
        check(winners == 1 && losers == 1, || format!("two PATCHes with If-Match \"1\": {statuses:?}"))?;
        let now = apis[1].get(&path).await?;
        check(now.body["version"] == 2, || format!("after the race: {}", now.body))?;
        won += winners;
        lost += losers;
    }
    Ok(format!("{RACED_PATCHES} PATCH races across the servers: {won} won, {lost} answered 412, 0 both"))
}

async fn lockout_race(db: &Database, apis: &[Api; 2]) -> anyhow::Result<String> {
    let tenant = db.tenant_id().await?;
    let mut attempts = 0;
    for i in 0..LOCKED_ACCOUNTS {
        let email = format!("lock{i}@faults.example");
        let created = apis[0].post(&users_path(), &json!({"email": email, "password": "the right password"})).await?;
        check(created.status == 201, || format!("create: {} {}", created.status, created.body))?;
        let id = created.body["id"].as_str().unwrap_or_default().to_owned();
        // twelve wrong passwords at once, six to each server (five lock the account)
        let mut tries = Vec::new();
        for n in 0..12 {
            let api = apis[n % 2].clone();
            let body = json!({"email": email, "password": "a wrong password"});
            tries.push(tokio::spawn(async move { api.post(&format!("/v1/tenants/{TENANT}/auth/login"), &body).await }));
        }
        for t in tries {
            let reply = t.await??;
            check(reply.status == 401, || format!("a wrong password: {} {}", reply.status, reply.body))?;
            attempts += 1;
        }
        let (locks,): (i64,) = db
            .store
            .query_one(
                "SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND resource_id = $2 AND action = 'status_change'",
                vec![tenant.into(), id.clone().into()],
            )
            .await?;
        check(locks == 1, || format!("user {id}: locked {locks} times by 12 concurrent failures"))?;
        let user = apis[1].get(&format!("{}/{id}", users_path())).await?;
        check(user.body["locked_until"].is_string(), || format!("user {id} is not locked: {}", user.body))?;
        let right = apis[1]
            .post(
                &format!("/v1/tenants/{TENANT}/auth/login"),
                &json!({"email": email, "password": "the right password"}),
            )
            .await?;
        check(right.status == 401, || format!("a locked account signed in: {}", right.status))?;
    }
    Ok(format!(
        "{LOCKED_ACCOUNTS} accounts each sent 12 concurrent wrong passwords over both servers ({attempts} in all): each locked exactly once"
    ))
}
