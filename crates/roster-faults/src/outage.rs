//! PostgreSQL stopped under load, then started again: requests answer 503 within a bounded time (none hangs past
//! 2 s), `/readyz` fails, and once PostgreSQL is back the same server process serves again, with no acknowledged write
//! lost.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use roster::store::Backend;
use serde_json::json;

use crate::harness::{check, users_path, Api, Database, Roster};

const WORKERS: usize = 8;
/// No request may take longer than this while the database is away.
const BOUND: Duration = Duration::from_secs(2);

/// The local PostgreSQL cluster, controlled with `pg_ctlcluster`; started again when dropped, whatever happened.
struct Cluster {
    version: String,
}

impl Cluster {
    fn find() -> anyhow::Result<Cluster> {
        let version = std::fs::read_dir("/etc/postgresql")
            .context("no /etc/postgresql: this scenario stops and starts the local PostgreSQL cluster")?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .max()
            .context("no cluster under /etc/postgresql")?;
        Ok(Cluster { version })
    }

    fn control(&self, action: &str, extra: &[&str]) -> anyhow::Result<()> {
        let output = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &self.version, "main", action])
            .args(extra)
            .output()
            .with_context(|| format!("pg_ctlcluster {action}"))?;
        if !output.status.success() {
            bail!("pg_ctlcluster {action}: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(())
    }

    fn stop(&self) -> anyhow::Result<()> {
        // fast: open sessions are ended, as when the server is shut down or fails over under a running service
        self.control("stop", &["-m", "fast"])
    }

    fn start(&self) -> anyhow::Result<()> {
        self.control("start", &[])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.start();
    }
}

#[derive(Clone, Copy)]
struct Answer {
    at: Instant,
    took: Duration,
    status: Option<u16>,
}

pub async fn run(roster: &Roster, backend: Backend) -> anyhow::Result<String> {
    if backend != Backend::Postgres {
        bail!("the outage scenario is for PostgreSQL");
    }
    let cluster = Cluster::find()?;
    let db = Database::fresh(roster, backend).await?;
    let server = roster.serve(&db.url, &[]).await?;
    let api = Api::new(&server.base, &db.key, Duration::from_secs(10));
    let seed = api.post(&users_path(), &json!({"email": "seed@faults.example"})).await?;
    check(seed.status == 201, || format!("seed user: {} {}", seed.status, seed.body))?;
    let seed_id = seed.body["id"].as_str().unwrap_or_default().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let (api, stop, seed_id) = (api.clone(), stop.clone(), seed_id.clone());
        tasks.push(tokio::spawn(async move {
            let (mut answers, mut created) = (Vec::new(), Vec::new());
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let at = Instant::now();
                let reply = if n % 2 == 0 {
                    api.post(&users_path(), &json!({"email": format!("w{w}-{n}@faults.example")})).await
                } else {
                    api.get(&format!("{}/{seed_id}", users_path())).await
                };
                let took = at.elapsed();
                if let Ok(r) = &reply {
                    if r.status == 201 {
                        created.push(r.body["id"].as_str().unwrap_or_default().to_owned());
                    }
                }
                answers.push(Answer { at, took, status: reply.ok().map(|r| r.status) });
                // a client that is told 503 waits a little before it asks again
                if answers.last().and_then(|a| a.status) == Some(503) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            (answers, created)
        }));
    }
    let readiness = {
        let (api, stop) = (api.clone(), stop.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let at = Instant::now();
                let reply = api.get("/readyz").await;
                seen.push(Answer { at, took: at.elapsed(), status: reply.ok().map(|r| r.status) });
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        })
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopping = Instant::now();
    cluster.stop()?;
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let starting = Instant::now();
    cluster.start()?;
    // the same process serves again, by itself
    let recovered = loop {
        let reply = api
            .post(&users_path(), &json!({"email": format!("probe{}@faults.example", starting.elapsed().as_millis())}))
            .await;
        if reply.as_ref().is_ok_and(|r| r.status == 201) {
            break Instant::now();
        }
        if starting.elapsed() > Duration::from_secs(30) {
            bail!("no write succeeded within 30 s of PostgreSQL's return");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut answers, mut created) = (Vec::new(), Vec::new());
    for task in tasks {
        let (a, c) = task.await?;
        answers.extend(a);
        created.extend(c);
    }
    let ready = readiness.await?;

    let unanswered = answers.iter().filter(|a| a.status.is_none()).count();
    check(unanswered == 0, || format!("{unanswered} requests got no answer"))?;
    let slowest = answers.iter().map(|a| a.took).max().unwrap_or_default();
    check(slowest <= BOUND, || format!("a request took {slowest:?} (bound {BOUND:?})"))?;
    let during: Vec<&Answer> = answers.iter().filter(|a| a.at >= stopped && a.at + a.took <= starting).collect();
    let unavailable = during.iter().filter(|a| a.status == Some(503)).count();
    let other: Vec<u16> = answers.iter().filter_map(|a| a.status).filter(|s| !matches!(s, 200 | 201 | 503)).collect();
    check(other.is_empty(), || format!("answers other than 200, 201 and 503: {other:?}"))?;
    check(unavailable == during.len() && !during.is_empty(), || {
        format!("{} requests while PostgreSQL was down, {unavailable} answered 503", during.len())
    })?;
    let ready_down: Vec<&Answer> = ready.iter().filter(|a| a.at >= stopped && a.at + a.took <= starting).collect();
    check(!ready_down.is_empty() && ready_down.iter().all(|a| a.status == Some(503)), || {
        "/readyz did not fail while PostgreSQL was down".to_owned()
    })?;
    let ready_slowest = ready.iter().map(|a| a.took).max().unwrap_or_default();
    check(ready_slowest <= Duration::from_millis(2500), || format!("/readyz took {ready_slowest:?}"))?;
    let after = api.get("/readyz").await?;
    check(after.status == 200, || format!("/readyz after PostgreSQL returned: {}", after.status))?;

    for id in &created {
        let reply = api.get(&format!("{}/{id}", users_path())).await?;
        check(reply.status == 200, || format!("acknowledged user {id} is gone: {}", reply.status))?;
    }
    db.verify_audit(roster)?;
    let p99 = {
        let mut during: Vec<Duration> = during.iter().map(|a| a.took).collect();
        during.sort_unstable();
        during.get(during.len().saturating_sub(1) * 99 / 100).copied().unwrap_or_default()
    };
    Ok(format!(
        "{} requests; PostgreSQL stopped in {:.2} s and down {:.1} s: {} requests meanwhile, all 503 (p99 {:.1} ms, slowest of the run {:.0} ms, bound 2 s), /readyz 503 ×{}; served again {:.2} s after PostgreSQL started, same process; {} creates acknowledged, 0 lost",
        answers.len(),
        (stopped - stopping).as_secs_f64(),
        (starting - stopped).as_secs_f64(),
        during.len(),
        p99.as_secs_f64() * 1000.0,
        slowest.as_secs_f64() * 1000.0,
        ready_down.len(),
        (recovered - starting).as_secs_f64(),
        created.len()
    ))
}
