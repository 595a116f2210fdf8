//! Load held: a steady mix of lookups, creates, sign-ins and ingests at fixed rates for a long run, with the server's
//! resident memory sampled every second. Passes when no request failed, no window's p99 strayed far from the
//! run's typical p99, the server's heap stopped growing once warm, and — in a run long enough to tell a trend from
//! noise — the late windows' p99 did not drift above the early ones' by more than the run's own spread explains.
//!
//! The load is open: each kind of request is sent on its own clock, whether or not earlier ones have been answered,
//! and a latency runs from the moment a request was due, so a stall shows in the figures instead of slowing the
//! load down.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roster::store::Backend;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::harness::{check, users_path, Api, Database, Roster, TENANT};

/// Requests per second of each kind, and what one ingest carries.
const LOOKUPS_PER_SECOND: f64 = 400.0;
const CREATES_PER_SECOND: f64 = 100.0;
const SIGNINS_PER_SECOND: f64 = 10.0;
const INGESTS_PER_SECOND: f64 = 1.0;
const BUGS_PER_INGEST: usize = 100;
/// Reporters the ingests draw from: early ingests create their people, later ones mostly find them.
const REPORTERS: usize = 3_000;
const SIGNIN_ACCOUNTS: usize = 16;
const PASSWORD: &str = "soak password 1";
/// Requests of one kind in flight at once; a server slower than the load makes the clock wait, and the wait counts.
const IN_FLIGHT: usize = 256;
/// Windows a run is cut into for its table (and its checks, which compare windows 2–4 with the last three).
const WINDOWS: u64 = 10;
/// The shortest run whose drift is judged. In a 30-second run a window is 3 s: a quiet machine's p99 moved from 44.6
/// to 59.6 ms between windows 2–4 and the last three with nothing growing, so a short run checks only what is exact
/// (errors, stalled windows, the heap bound, the chain) and leaves drift to the long soak.
const DRIFT_JUDGED_FROM: Duration = Duration::from_secs(300);

/// The heap (anonymous resident memory) may grow by this much from the end of the first window to the end of the
/// run: room for caches to fill (SQLite's page caches, 32 MB per connection at most; the key and session caches), and
/// far below what a leak of a few hundred bytes per request would add over a full run (some 300,000 requests).
const HEAP_GROWTH_MIB: f64 = 64.0;
/// and by this much over the second half of the run, when the caches are warm.
const LATE_HEAP_GROWTH_MIB: f64 = 24.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Lookup,
    Create,
    SignIn,
    Ingest,
}

const KINDS: [(Kind, f64); 4] = [
    (Kind::Lookup, LOOKUPS_PER_SECOND),
    (Kind::Create, CREATES_PER_SECOND),
    (Kind::SignIn, SIGNINS_PER_SECOND),
    (Kind::Ingest, INGESTS_PER_SECOND),
];

/// One request: when it was due (since the start), how long until its answer, whether the answer was the expected one.
struct Sample {
    kind: Kind,
    due: Duration,
    latency: Duration,
    ok: bool,
}

/// What the server held in memory at one moment, in KiB (`/proc/PID/status`).
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    at: Duration,
    rss: u64,
    anon: u64,
}

struct Load {
    api: Api,
    /// (id, email) of the users created so far, to look up
    users: RwLock<Vec<(String, String)>>,
    next_bug: AtomicUsize,
    samples: Mutex<Vec<Sample>>,
    errors: Mutex<Vec<String>>,
}

pub async fn run(roster: &Roster, backend: Backend, seconds: u64, seed: u64) -> anyhow::Result<String> {
    let db = Database::fresh(roster, backend).await?;
    let server = roster.serve(&db.url, &[]).await?;
    let pid = server.pid();
    let api = Api::new(&server.base, &db.key, Duration::from_secs(30));
    let mut users = Vec::new();
    for i in 0..SIGNIN_ACCOUNTS {
        let email = format!("signin{i}@soak.example");
        let reply = api.post(&users_path(), &json!({"email": email, "password": PASSWORD})).await?;
        check(reply.status == 201, || format!("creating a user to sign in as: {} {}", reply.status, reply.body))?;
        users.push((reply.body["id"].as_str().unwrap_or_default().to_owned(), email));
    }
    let load = Arc::new(Load {
        api,
        users: RwLock::new(users),
        next_bug: AtomicUsize::new(1),
        samples: Mutex::new(Vec::new()),
        errors: Mutex::new(Vec::new()),
    });

    let vacuum = stand_in_for_autovacuum(&db).await?;
    let started = Instant::now();
    let length = Duration::from_secs(seconds);
    let mut clocks = Vec::new();
    for (n, (kind, rate)) in KINDS.into_iter().enumerate() {
        let load = load.clone();
        clocks.push(tokio::spawn(clock(load, kind, rate, started, length, seed.wrapping_add(n as u64))));
    }
    let mut memory = vec![];
    while started.elapsed() < length {
        memory.push(sample_memory(pid, started.elapsed())?);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for clock in clocks {
        clock.await?;
    }
    let vacuumed = if vacuum.is_some() { ", VACUUM every 30 s (the server's autovacuum is off)" } else { "" };
    drop(vacuum);
    memory.push(sample_memory(pid, started.elapsed())?);
    db.verify_audit(roster)?;

    let samples = std::mem::take(&mut *load.samples.lock().expect("samples"));
    let errors = std::mem::take(&mut *load.errors.lock().expect("errors"));
    let report = Report::of(&samples, &memory, length);
    println!("{}", report.table(backend));
    let total = samples.len();
    let failed = samples.iter().filter(|s| !s.ok).count();
    check(failed == 0, || format!("{failed} of {total} requests failed; the first: {}", errors.join("; ")))?;
    report.check()?;
    let count = |kind| samples.iter().filter(|s| s.kind == kind).count();
    Ok(format!(
        "{seconds} s, {total} requests ({} lookups, {} creates, {} sign-ins, {} ingests of {BUGS_PER_INGEST} bugs), \
         errors 0, p99 per window {:.1}–{:.1} ms (median {:.1}), heap {:.1} → {:.1} MiB after the first window \
         (bound +{HEAP_GROWTH_MIB}), resident {:.1} MiB at the end, audit chain verified{vacuumed}",
        count(Kind::Lookup),
        count(Kind::Create),
        count(Kind::SignIn),
        count(Kind::Ingest),
        report.p99_min(),
        report.p99_max(),
        report.p99_median(),
        mib(report.windows[0].memory.anon),
        mib(report.last_memory().anon),
        mib(report.last_memory().rss),
    ))
}

/// A PostgreSQL server with autovacuum off (test servers often run so; a production one never should) reclaims no dead
/// row during the run: each sign-in rewrites a user row (its activity columns are indexed) and each ingest its
/// reporters' totals, so index scans wade through ever more dead versions and latency climbs steadily (measured: p99
/// from 22 to 51 ms over ten minutes, lookups' from 7 to 23 ms). On such a server the soak vacuums its database every
/// 30 s, as autovacuum would, and says so.
async fn stand_in_for_autovacuum(db: &Database) -> anyhow::Result<Option<Vacuuming>> {
    if db.store.backend() != Backend::Postgres {
        return Ok(None);
    }
    let (setting,): (String,) = db.store.query_one("SELECT current_setting('autovacuum')", vec![]).await?;
    if setting == "on" {
        return Ok(None);
    }
    let store = db.store.clone();
    Ok(Some(Vacuuming(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(30));
        every.tick().await;
        loop {
            every.tick().await;
            if let Err(e) = store.query::<(i64,)>("VACUUM (ANALYZE)", vec![]).await {
                eprintln!("soak: VACUUM failed: {e}");
            }
        }
    }))))
}

/// The vacuuming task, stopped when the soak ends however it ends.
struct Vacuuming(tokio::task::JoinHandle<()>);

impl Drop for Vacuuming {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Send `kind` at `rate` per second until `length` has passed, then wait for the answers.
async fn clock(load: Arc<Load>, kind: Kind, rate: f64, started: Instant, length: Duration, seed: u64) {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    // behind schedule, send what was due at once: the load does not bend to the server
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut rng = StdRng::seed_from_u64(seed);
    loop {
        let due = ticks.tick().await.into_std();
        if due.duration_since(started) >= length {
            break;
        }
        let slot = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        let (load, pick) = (load.clone(), rng.random::<u64>());
        tokio::spawn(async move {
            let outcome = send(&load, kind, pick).await;
            let latency = due.elapsed();
            if let Err(e) = &outcome {
                let mut errors = load.errors.lock().expect("errors");
                if errors.len() < 5 {
                    errors.push(format!("{kind:?}: {e:#}"));
                }
            }
            let sample = Sample { kind, due: due.duration_since(started), latency, ok: outcome.is_ok() };
            load.samples.lock().expect("samples").push(sample);
            drop(slot);
        });
    }
    let _ = slots.acquire_many(IN_FLIGHT as u32).await;
}

async fn send(load: &Load, kind: Kind, pick: u64) -> anyhow::Result<()> {
    let api = &load.api;
    match kind {
        Kind::Lookup => {
            let (id, email) = {
                let users = load.users.read().expect("users");
                users[(pick as usize) % users.len()].clone()
            };
            // three by id for one by email
            let path = if pick % 4 == 0 {
                format!("{}/by-email/{email}", users_path())
            } else {
                format!("{}/{id}", users_path())
            };
            let reply = api.get(&path).await?;
            check(reply.status == 200, || format!("GET {path}: {} {}", reply.status, reply.body))
        }
        Kind::Create => {
            let email = format!("soak-{pick:016x}@soak.example");
            let reply = api.post(&users_path(), &json!({"email": email, "display_name": "Soak"})).await?;
            check(reply.status == 201, || format!("creating {email}: {} {}", reply.status, reply.body))?;
            let id = reply.body["id"].as_str().context("a created user without an id")?.to_owned();
            load.users.write().expect("users").push((id, email));
            Ok(())
        }
        Kind::SignIn => {
            let email = format!("signin{}@soak.example", pick as usize % SIGNIN_ACCOUNTS);
            let reply = api
                .post(&format!("/v1/tenants/{TENANT}/auth/login"), &json!({"email": email, "password": PASSWORD}))
                .await?;
            check(reply.status == 200, || format!("signing in as {email}: {} {}", reply.status, reply.body))
        }
        Kind::Ingest => {
            let first = load.next_bug.fetch_add(BUGS_PER_INGEST, Ordering::SeqCst);
            let mut rng = StdRng::seed_from_u64(pick);
            let body: String = (first..first + BUGS_PER_INGEST)
                .map(|id| {
                    let reporter = rng.random_range(0..REPORTERS);
                    let record = json!({
                        "id": id, "title": format!("Soak bug {id}"), "severity": "low",
                        "author": {"name": format!("Soak Reporter {reporter}")},
                    });
                    format!("{record}\n")
                })
                .collect();
            let reply = api.ingest_bugs(body).await?;
            check(reply.status == 200, || format!("an ingest: {} {}", reply.status, reply.body))?;
            check(reply.body["rejected"].as_array().is_none_or(Vec::is_empty), || format!("rejected: {}", reply.body))
        }
    }
}

fn sample_memory(pid: u32, at: Duration) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("the server's /proc status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Memory { at, rss: field("VmRSS:"), anon: field("RssAnon:") })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

struct Window {
    end: Duration,
    requests: usize,
    errors: usize,
    p50: f64,
    p99: f64,
    lookup_p99: f64,
    max: f64,
    memory: Memory,
}

struct Report {
    windows: Vec<Window>,
    length: Duration,
}

/// The `q`-quantile of sorted milliseconds.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

impl Report {
    fn of(samples: &[Sample], memory: &[Memory], length: Duration) -> Report {
        let width = length / WINDOWS as u32;
        let windows = (0..WINDOWS as u32)
            .map(|w| {
                let (start, end) = (width * w, width * (w + 1));
                let inside: Vec<&Sample> = samples.iter().filter(|s| s.due >= start && s.due < end).collect();
                let sorted = |of: &dyn Fn(&Sample) -> bool| {
                    let mut ms: Vec<f64> =
                        inside.iter().filter(|s| of(s)).map(|s| s.latency.as_secs_f64() * 1000.0).collect();
                    ms.sort_by(f64::total_cmp);
                    ms
                };
                let all = sorted(&|_| true);
                let lookups = sorted(&|s| s.kind == Kind::Lookup);
                // the last sample taken inside the window
                let memory = memory.iter().rev().find(|m| m.at <= end).copied().unwrap_or_default();
                Window {
                    end,
                    requests: inside.len(),
                    errors: inside.iter().filter(|s| !s.ok).count(),
                    p50: quantile(&all, 0.5),
                    p99: quantile(&all, 0.99),
                    lookup_p99: quantile(&lookups, 0.99),
                    max: all.last().copied().unwrap_or(0.0),
                    memory,
                }
            })
            .collect();
        Report { windows, length }
    }

    fn table(&self, backend: Backend) -> String {
        let mut out = format!(
            "soak on {}:\n| until | requests | errors | p50 ms | p99 ms | lookup p99 ms | max ms | heap MiB | resident MiB |\n\
             | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            backend.name()
        );
        for w in &self.windows {
            out += &format!(
                "| {} s | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} |\n",
                w.end.as_secs(),
                w.requests,
                w.errors,
                w.p50,
                w.p99,
                w.lookup_p99,
                w.max,
                mib(w.memory.anon),
                mib(w.memory.rss)
            );
        }
        out
    }

    /// The windows' p99s, sorted.
    fn p99s(windows: &[Window]) -> Vec<f64> {
        let mut p99s: Vec<f64> = windows.iter().map(|w| w.p99).collect();
        p99s.sort_by(f64::total_cmp);
        p99s
    }

    /// The median p99 of some windows.
    fn median_p99(windows: &[Window]) -> f64 {
        quantile(&Self::p99s(windows), 0.5)
    }

    fn p99_median(&self) -> f64 {
        Self::median_p99(&self.windows)
    }

    fn p99_min(&self) -> f64 {
        Self::p99s(&self.windows).first().copied().unwrap_or(0.0)
    }

    fn p99_max(&self) -> f64 {
        Self::p99s(&self.windows).last().copied().unwrap_or(0.0)
    }

    fn last_memory(&self) -> Memory {
        self.windows.last().map(|w| w.memory).unwrap_or_default()
    }

    /// The run's own noise: the median change of p99 from one window to the next, after the warm-up window.
    fn spread(&self) -> f64 {
        let mut steps: Vec<f64> = self.windows[1..].windows(2).map(|pair| (pair[1].p99 - pair[0].p99).abs()).collect();
        steps.sort_by(f64::total_cmp);
        quantile(&steps, 0.5)
    }

    /// p99 stable: no window above three times the median window's p99 plus 10 ms (the machines are shared; one
    /// noisy window should not fail a run). No drift, judged in runs of [`DRIFT_JUDGED_FROM`] or longer: the last
    /// three windows' median p99 may exceed that of windows 2 to 4 (after the warm-up) by a quarter plus 3 ms, or by
    /// four times the run's window-to-window spread when that is larger — a server that slows as it fills climbs by
    /// more than its noise, a noisy machine moves by about its noise. Heap bounded: see the constants.
    fn check(&self) -> anyhow::Result<()> {
        let (median, worst) = (self.p99_median(), self.p99_max());
        check(worst <= 3.0 * median + 10.0, || {
            format!("p99 not stable: a window's p99 was {worst:.1} ms, the median window's {median:.1} ms")
        })?;
        if self.length >= DRIFT_JUDGED_FROM {
            let n = self.windows.len();
            let (early, late) = (Self::median_p99(&self.windows[1..4]), Self::median_p99(&self.windows[n - 3..]));
            let spread = self.spread();
            let allowed = (0.25 * early + 3.0).max(4.0 * spread);
            check(late <= early + allowed, || {
                format!(
                    "p99 drifted: {early:.1} ms early in the run (windows 2–4), {late:.1} ms at its end (last 3); \
                     allowed +{allowed:.1} ms (window-to-window spread {spread:.1} ms)"
                )
            })?;
        }
        let first = mib(self.windows[0].memory.anon);
        let half = mib(self.windows[self.windows.len() / 2 - 1].memory.anon);
        let last = mib(self.last_memory().anon);
        check(last - first <= HEAP_GROWTH_MIB, || {
            format!("the heap grew from {first:.1} to {last:.1} MiB after the first window (bound +{HEAP_GROWTH_MIB})")
        })?;
        check(last - half <= LATE_HEAP_GROWTH_MIB, || {
            format!(
                "the heap grew from {half:.1} to {last:.1} MiB over the second half (bound +{LATE_HEAP_GROWTH_MIB})"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(p99s: &[f64], heap_mib: &[f64]) -> Report {
        report_of(p99s, heap_mib, Duration::from_secs(600))
    }

    fn report_of(p99s: &[f64], heap_mib: &[f64], length: Duration) -> Report {
        let windows = p99s
            .iter()
            .zip(heap_mib)
            .enumerate()
            .map(|(i, (&p99, &heap))| Window {
                end: Duration::from_secs(60 * (i as u64 + 1)),
                requests: 100,
                errors: 0,
                p50: 1.0,
                p99,
                lookup_p99: p99 / 2.0,
                max: p99 * 2.0,
                memory: Memory { at: Duration::ZERO, rss: 0, anon: (heap * 1024.0) as u64 },
            })
            .collect();
        Report { windows, length }
    }

    const FLAT_HEAP: [f64; 10] = [50.0, 68.0, 68.5, 69.0, 69.0, 69.5, 69.5, 70.0, 70.0, 70.5];

    #[test]
    fn a_steady_run_passes() {
        let p99s = [17.8, 18.5, 18.6, 18.4, 18.8, 19.5, 19.5, 19.2, 19.1, 19.4];
        report(&p99s, &FLAT_HEAP).check().unwrap();
    }

    #[test]
    fn a_p99_climbing_with_the_data_fails() {
        // the PostgreSQL run without vacuum
        let p99s = [22.5, 25.1, 28.5, 30.0, 33.3, 38.3, 41.7, 42.2, 47.2, 50.6];
        let e = report(&p99s, &FLAT_HEAP).check().unwrap_err().to_string();
        assert!(e.contains("drifted"), "{e}");
    }

    #[test]
    fn a_short_run_leaves_drift_alone_but_not_a_stall() {
        // the 30-second CI soak that failed on a quiet machine: 44.6 ms in windows 2–4, 59.6 ms in the last three
        let p99s = [52.0, 44.6, 43.9, 45.0, 47.5, 50.2, 55.1, 59.6, 58.8, 61.0];
        report_of(&p99s, &FLAT_HEAP, Duration::from_secs(30)).check().unwrap();
        let e = report(&p99s, &FLAT_HEAP).check().unwrap_err().to_string();
        assert!(e.contains("drifted"), "the same figures over ten minutes are a drift: {e}");
        let stalled = [17.8, 18.5, 18.6, 18.4, 95.0, 19.5, 19.5, 19.2, 19.1, 19.4];
        let e = report_of(&stalled, &FLAT_HEAP, Duration::from_secs(30)).check().unwrap_err().to_string();
        assert!(e.contains("not stable"), "{e}");
    }

    #[test]
    fn a_noisy_long_run_without_a_trend_passes() {
        // a shared machine: windows swing by about 10 ms each way, the last three no higher than that noise explains
        let p99s = [40.0, 44.0, 52.0, 38.0, 47.0, 55.0, 41.0, 58.0, 49.0, 60.0];
        report(&p99s, &FLAT_HEAP).check().unwrap();
    }

    #[test]
    fn one_stalled_window_fails() {
        let p99s = [17.8, 18.5, 18.6, 18.4, 95.0, 19.5, 19.5, 19.2, 19.1, 19.4];
        let e = report(&p99s, &FLAT_HEAP).check().unwrap_err().to_string();
        assert!(e.contains("not stable"), "{e}");
    }

    #[test]
    fn a_heap_that_keeps_growing_fails() {
        let p99s = [18.0; 10];
        let leaking: Vec<f64> = (0..10).map(|w| 50.0 + 5.0 * w as f64).collect();
        let e = report(&p99s, &leaking).check().unwrap_err().to_string();
        assert!(e.contains("second half"), "{e}");
        let filling: Vec<f64> = (0..10).map(|w| if w == 0 { 50.0 } else { 130.0 }).collect();
        let e = report(&p99s, &filling).check().unwrap_err().to_string();
        assert!(e.contains("after the first window"), "{e}");
    }
}
