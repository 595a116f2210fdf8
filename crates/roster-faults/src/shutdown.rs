//! SIGTERM during load: every request the server had received is answered, the process exits 0 within its grace
//! period, and every write it acknowledged is there after a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use roster::store::Backend;
use serde_json::json;

use crate::harness::{check, users_path, Api, Database, Roster, TENANT};

const WORKERS: usize = 12;
const PASSWORD: &str = "shutdown password 1";
/// A request sent this long before SIGTERM has reached the server: it must be answered. One sent closer to the
/// signal may still sit unread in the socket when the server stops reading (then the client sees a closed
/// connection, as with any server), and is counted apart.
const RECEIVED: Duration = Duration::from_millis(50);

struct Sent {
    at: Instant,
    done: Instant,
    answered: Option<u16>,
    created: Option<String>,
}

pub async fn run(roster: &Roster, backend: Backend) -> anyhow::Result<String> {
    let db = Database::fresh(roster, backend).await?;
    let grace = Duration::from_secs(20);
    let mut server = roster.serve(&db.url, &[("ROSTER_SHUTDOWN_GRACE_SECONDS", "20")]).await?;
    let api = Api::new(&server.base, &db.key, Duration::from_secs(30));
    for i in 0..WORKERS {
        let body = json!({"email": format!("signin{i}@faults.example"), "password": PASSWORD});
        let reply = api.post(&users_path(), &body).await?;
        check(reply.status == 201, || format!("creating a user: {} {}", reply.status, reply.body))?;
    }

    let stopped = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let (api, stopped) = (api.clone(), stopped.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for n in 0.. {
                let at = Instant::now();
                // sign-ins are slow (an Argon2id hash each), so many are mid-way when the signal comes
                let reply = if n % 2 == 0 {
                    let body = json!({"email": format!("signin{w}@faults.example"), "password": PASSWORD});
                    api.post(&format!("/v1/tenants/{TENANT}/auth/login"), &body).await
                } else {
                    api.post(&users_path(), &json!({"email": format!("w{w}-{n}@faults.example")})).await
                };
                let done = Instant::now();
                let created = reply
                    .as_ref()
                    .ok()
                    .filter(|r| r.status == 201)
                    .and_then(|r| r.body["id"].as_str().map(str::to_owned));
                let answered = reply.as_ref().ok().map(|r| r.status);
                sent.push(Sent { at, done, answered, created });
                if answered.is_none() && stopped.load(Ordering::SeqCst) {
                    break;
                }
            }
            sent
        }));
    }
    // uploads still sending their bodies when the signal comes: each must be read to its end and answered
    let uploads: Vec<_> = (0..4)
        .map(|u| tokio::spawn(slow_ingest(api.base.clone(), db.key.clone(), u, Duration::from_millis(2000))))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let signalled = Instant::now();
    stopped.store(true, Ordering::SeqCst);
    server.terminate()?;
    let exit = server.wait(grace + Duration::from_secs(5)).await?;
    let stopped_after = signalled.elapsed();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    let mut uploaded = 0;
    for upload in uploads {
        let (status, records) = upload.await??;
        check(status == 200, || format!("an ingest uploading across SIGTERM was answered {status}"))?;
        uploaded += records;
    }
    let Some(exit) = exit else { bail!("roster serve still running {stopped_after:?} after SIGTERM") };
    check(exit.success(), || format!("roster serve exited with {exit} after SIGTERM"))?;

    let before = |s: &&Sent| s.at + RECEIVED <= signalled;
    let in_flight: Vec<&Sent> = all.iter().filter(before).filter(|s| s.done > signalled).collect();
    let cut = all.iter().filter(before).filter(|s| s.answered.is_none()).count();
    let errors: Vec<u16> =
        all.iter().filter_map(|s| s.answered).filter(|&status| !(200..300).contains(&status)).collect();
    check(cut == 0, || format!("{cut} requests received before SIGTERM got no answer"))?;
    check(errors.is_empty(), || format!("answers other than 2xx during shutdown: {errors:?}"))?;
    let close = all.iter().filter(|s| !before(s) && s.at <= signalled).collect::<Vec<_>>();
    let close_answered = close.iter().filter(|s| s.answered.is_some()).count();
    let after = all.iter().filter(|s| s.at > signalled).count();

    // what was acknowledged is there
    let server = roster.serve(&db.url, &[]).await?;
    let api = Api::new(&server.base, &db.key, Duration::from_secs(10));
    let created: Vec<&String> = all.iter().filter_map(|s| s.created.as_ref()).collect();
    for id in &created {
        let reply = api.get(&format!("{}/{id}", users_path())).await?;
        check(reply.status == 200, || format!("user {id}, acknowledged during shutdown, is gone: {}", reply.status))?;
    }
    let (bugs,): (i64,) = db.store.query_one("SELECT COUNT(*) FROM bugs", vec![]).await?;
    check(bugs == uploaded as i64, || {
        format!("{uploaded} bugs uploaded across SIGTERM and acknowledged, {bugs} stored")
    })?;
    db.verify_audit(roster)?;
    let last = in_flight.iter().map(|s| s.done).max().unwrap_or(signalled);
    Ok(format!(
        "{} requests and 4 ingests uploading across the signal ({uploaded} records, all answered 200 and stored); in flight at SIGTERM {} (answered {}, cut 0, the last {:.0} ms after it); sent < 50 ms before it {} (answered {close_answered}); refused after it {after}; exit 0 in {:.2} s; {} creates acknowledged, 0 lost",
        all.len(),
        in_flight.len(),
        in_flight.len(),
        (last - signalled).as_secs_f64() * 1000.0,
        close.len(),
        stopped_after.as_secs_f64(),
        created.len()
    ))
}

/// `POST …/ingest/bugs` over a raw socket, its body sent in pieces over `over`; the answer's status and the records
/// sent.
async fn slow_ingest(base: String, key: String, upload: usize, over: Duration) -> anyhow::Result<(u16, usize)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const PIECES: usize = 20;
    const PER_PIECE: usize = 50;
    let pieces: Vec<String> = (0..PIECES)
        .map(|p| {
            (0..PER_PIECE)
                .map(|r| {
                    let id = 9_000_000 + upload * 100_000 + p * PER_PIECE + r;
                    format!("{{\"id\": {id}, \"title\": \"slow upload\", \"severity\": \"low\", \"author\": {{\"name\": \"Uploader {upload}\"}}}}\n")
                })
                .collect()
        })
        .collect();
    let length: usize = pieces.iter().map(String::len).sum();
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let head = format!(
        "POST /v1/tenants/{TENANT}/ingest/bugs HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {key}\r\n\
         content-type: application/x-ndjson\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    for piece in &pieces {
        stream.write_all(piece.as_bytes()).await?;
        tokio::time::sleep(over / PIECES as u32).await;
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let report: serde_json::Value =
        text.split_once("\r\n\r\n").and_then(|(_, body)| serde_json::from_str(body).ok()).unwrap_or_default();
    let inserted = report["bugs"]["inserted"].as_u64().unwrap_or(0) as usize;
    if status == 200 && inserted != PIECES * PER_PIECE {
        anyhow::bail!("the ingest wrote {inserted} of {} records: {report}", PIECES * PER_PIECE);
    }
    Ok((status, inserted))
}
