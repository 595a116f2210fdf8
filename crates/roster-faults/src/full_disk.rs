//! The SQLite database on a small file system that fills up: writes fail with a clear 507 problem, reads keep
//! working, nothing is corrupt, and writes resume when space returns.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde_json::json;

use crate::harness::{check, users_path, Api, Database, Reply, Roster};

/// The file system's size: room for the schema and a few thousand users.
const SIZE: &str = "12m";

/// A tmpfs mounted for the scenario, unmounted when dropped.
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    fn new() -> anyhow::Result<Mount> {
        let dir = tempfile::tempdir()?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={SIZE}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .context("running mount")?;
        if !output.status.success() {
            bail!(
                "cannot mount a {SIZE} tmpfs (this scenario needs root): {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(Mount { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Fill the file system with one file until it refuses another byte.
fn fill(path: &Path) -> anyhow::Result<u64> {
    let mut file = std::fs::File::create(path)?;
    let block = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => return Err(e.into()),
        }
    }
    // the last partial block, byte by byte
    while let Ok(1) = file.write(&[0]) {
        written += 1;
    }
    let _ = file.sync_all();
    Ok(written)
}

fn is_problem(reply: &Reply) -> bool {
    reply.content_type.as_deref() == Some("application/problem+json")
        && reply.body["detail"].as_str().is_some_and(|d| !d.is_empty())
}

pub async fn run(roster: &Roster) -> anyhow::Result<String> {
    let mount = Mount::new()?;
    let db = Database::sqlite_at(roster, &mount.path().join("roster.db")).await?;
    let server = roster.serve(&db.url, &[]).await?;
    let api = Api::new(&server.base, &db.key, Duration::from_secs(10));
    let create = |n: usize| {
        let api = api.clone();
        async move { api.post(&users_path(), &json!({"email": format!("disk{n}@faults.example")})).await }
    };
    let mut acknowledged: Vec<String> = Vec::new();
    for n in 0..50 {
        let reply = create(n).await?;
        check(reply.status == 201, || format!("create before the disk filled: {} {}", reply.status, reply.body))?;
        acknowledged.push(reply.body["id"].as_str().unwrap_or_default().to_owned());
    }

    let filler: PathBuf = mount.path().join("filler");
    let filled = fill(&filler)?;
    // SQLite may still have room in pages it holds; write until the first refusal
    let mut n = 50;
    let (refusal, before_refusal) = loop {
        let reply = create(n).await?;
        n += 1;
        match reply.status {
            201 => acknowledged.push(reply.body["id"].as_str().unwrap_or_default().to_owned()),
            _ => break (reply, n - 51),
        }
        if n > 20_000 {
            bail!("20,000 writes succeeded on a full file system");
        }
    };
    check(refusal.status == 507 && is_problem(&refusal), || {
        format!("a write on a full disk: expected a 507 problem, got {} {}", refusal.status, refusal.body)
    })?;
    let refused_from = n - 1;
    let mut refused = 1;
    for _ in 0..20 {
        let reply = create(n).await?;
        n += 1;
        check(reply.status == 507 && is_problem(&reply), || {
            format!("a write on a full disk: {} {}", reply.status, reply.body)
        })?;
        refused += 1;
    }
    // an ingest is refused whole
    let records: String = (0..500)
        .map(|i| {
            format!(
                "{{\"id\": {i}, \"title\": \"t\", \"severity\": \"low\", \"author\": {{\"name\": \"Disk {i}\"}}}}\n"
            )
        })
        .collect();
    let ingest = api.ingest_bugs(records).await?;
    check(ingest.status == 507 && is_problem(&ingest), || {
        format!("an ingest on a full disk: {} {}", ingest.status, ingest.body)
    })?;
    let (bugs,): (i64,) = db.store.query_one("SELECT COUNT(*) FROM bugs", vec![]).await?;
    check(bugs == 0, || format!("a refused ingest left {bugs} bugs"))?;
    // reads keep working
    let mut reads = 0;
    for id in acknowledged.iter().step_by(7) {
        let reply = api.get(&format!("{}/{id}", users_path())).await?;
        check(reply.status == 200, || format!("a read on a full disk: {} {}", reply.status, reply.body))?;
        reads += 1;
    }
    let list = api.get(&format!("{}?limit=100", users_path())).await?;
    check(list.status == 200, || format!("a list on a full disk: {} {}", list.status, list.body))?;
    let ready = api.get("/healthz").await?;
    check(ready.status == 200, || format!("/healthz on a full disk: {}", ready.status))?;

    // space returns: writes resume, and nothing refused was half-written
    std::fs::remove_file(&filler)?;
    let mut resumed = 0;
    for _ in 0..20 {
        let reply = create(n).await?;
        n += 1;
        check(reply.status == 201, || format!("a write once space returned: {} {}", reply.status, reply.body))?;
        acknowledged.push(reply.body["id"].as_str().unwrap_or_default().to_owned());
        resumed += 1;
    }
    for m in refused_from..refused_from + refused {
        let reply = api.get(&format!("{}/by-email/disk{m}@faults.example", users_path())).await?;
        check(reply.status == 404, || format!("refused write disk{m} is there: {}", reply.status))?;
    }
    for id in &acknowledged {
        let reply = api.get(&format!("{}/{id}", users_path())).await?;
        check(reply.status == 200, || format!("acknowledged user {id} is gone: {}", reply.status))?;
    }
    drop(server);
    let connection = rusqlite::Connection::open(mount.path().join("roster.db"))?;
    let integrity: String = connection.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    check(integrity == "ok", || format!("PRAGMA integrity_check: {integrity}"))?;
    db.verify_audit(roster)?;
    Ok(format!(
        "{SIZE} tmpfs filled ({} KiB of filler); {before_refusal} more writes fit, then {refused} creates and an ingest refused with 507 problems (no record written); {reads} reads and a list answered 200 meanwhile; {resumed} writes accepted once space returned; {} acknowledged, 0 lost, 0 refused writes present, integrity_check ok, audit chain verified",
        filled / 1024,
        acknowledged.len()
    ))
}
