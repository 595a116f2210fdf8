//! What the machine itself can do, measured in the same run as roster: the figures roster's are divided by.
//!
//! - HTTP: a bare axum hello-world in its own process, driven by the same load generator.
//! - Commits: one-row write transactions straight to the database, with nothing of roster in between (SQLite: a
//!   file in the same directory as the benchmark's database, WAL, at the same `synchronous` setting; PostgreSQL: the
//!   same server, as many connections as the load generator uses).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Serve `hello, world` on `listen` until killed: the HTTP floor.
pub fn serve_hello(listen: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello, world" }));
        let listener = tokio::net::TcpListener::bind(listen).await?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

/// One-row commits per second on a fresh SQLite file in `dir`, one after another, at `synchronous` (`NORMAL` or
/// `FULL`), for `seconds`.
pub fn sqlite_commits(dir: &Path, synchronous: &str, seconds: f64) -> anyhow::Result<f64> {
    let path = dir.join(format!("floor-{}.db", synchronous.to_lowercase()));
    let conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.execute_batch("CREATE TABLE floor (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")?;
    let body = "x".repeat(400);
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.execute("INSERT INTO floor (body) VALUES (?1)", [&body])?;
        conn.execute_batch("COMMIT")?;
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(rate)
}

/// The same as [`sqlite_commits`], from Python's sqlite3 module (`python3` on the path).
pub fn python_sqlite_commits(dir: &Path, synchronous: &str, seconds: f64) -> anyhow::Result<f64> {
    const SCRIPT: &str = r#"
import sqlite3, sys, time
path, synchronous, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
conn = sqlite3.connect(path, isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA synchronous = " + synchronous)
conn.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
body, n, started = "x" * 400, 0, time.perf_counter()
while time.perf_counter() - started < seconds:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO floor (body) VALUES (?)", (body,))
    conn.execute("COMMIT")
    n += 1
print(n / (time.perf_counter() - started))
"#;
    let path = dir.join(format!("floor-python-{}.db", synchronous.to_lowercase()));
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&path)
        .args([synchronous, &seconds.to_string()])
        .output()?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    anyhow::ensure!(out.status.success(), "python3: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// One-row commits per second on PostgreSQL at `url`, from `connections` connections at once, for `seconds`.
pub async fn postgres_commits(url: &str, connections: usize, seconds: f64) -> anyhow::Result<f64> {
    let table = format!("floor_{}", uuid::Uuid::new_v4().simple());
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute(&format!("CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)")).await?;
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (url, table, done, count) = (url.to_owned(), table.clone(), done.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            let insert = client.prepare(&format!("INSERT INTO {table} (body) VALUES ($1)")).await?;
            let body = "x".repeat(400);
            while !done.load(Ordering::Relaxed) {
                client.execute(&insert, &[&body]).await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    done.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    client.batch_execute(&format!("DROP TABLE {table}")).await?;
    Ok(rate)
}

/// Read a crowd-testing export (`{"bugs": […]}` or `{"tests": […]}`) from `path` and parse each record into a JSON
/// value, one thread, nothing kept: the least reading that any ingest checking its records does. Returns the records
/// parsed and the seconds it took.
pub fn parse_export(path: &Path) -> anyhow::Result<(u64, f64)> {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// Counts the records of the export's one array, parsing each and dropping it.
    struct Records;
    impl<'de> Visitor<'de> for Records {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an export")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
            let mut n = 0;
            while map.next_key::<IgnoredAny>()?.is_some() {
                n += map.next_value::<Each>()?.0;
            }
            Ok(n)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
            let mut n = 0;
            while seq.next_element::<serde_json::Value>()?.is_some() {
                n += 1;
            }
            Ok(n)
        }
    }
    struct Each(u64);
    impl<'de> serde::Deserialize<'de> for Each {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_seq(Records).map(Each)
        }
    }

    let bytes = std::fs::read(path)?;
    let started = Instant::now();
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let records = (&mut de).deserialize_map(Records)?;
    Ok((records, started.elapsed().as_secs_f64()))
}

/// The SQLite database at `path` inserting its own bugs again from bound parameters: the tenant's rows read into
/// memory, then written into an empty twin of `bugs` (same columns, keys and indexes) by one prepared single-row
/// insert, `batch` rows per transaction, on a connection of its own at `synchronous=NORMAL`. What storing the bugs
/// costs a writer that gets them from outside the database. Returns the rows and the seconds the inserts took.
pub fn sqlite_bound_bugs(path: &Path, batch: usize) -> anyhow::Result<(u64, f64)> {
    use rusqlite::types::Value;

    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let ddl: Vec<String> = conn
        .prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'bugs' AND sql IS NOT NULL")?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let tenant: Value = conn.query_row("SELECT tenant_id FROM bugs LIMIT 1", [], |row| row.get(0))?;
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let columns = {
        let mut select = conn.prepare("SELECT * FROM bugs WHERE tenant_id = ?1 ORDER BY id")?;
        let columns = select.column_count();
        let mut found = select.query([&tenant])?;
        while let Some(row) = found.next()? {
            rows.push((0..columns).map(|i| row.get::<_, Value>(i)).collect::<Result<_, _>>()?);
        }
        columns
    };
    let twin = ddl.iter().map(|sql| sql.replace("bugs", "bound_bugs") + ";").collect::<String>();
    conn.execute_batch(&twin)?;
    let placeholders = (1..=columns).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
    let started = Instant::now();
    for chunk in rows.chunks(batch.max(1)) {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut insert = conn.prepare_cached(&format!("INSERT INTO bound_bugs VALUES ({placeholders})"))?;
        for row in chunk {
            insert.execute(rusqlite::params_from_iter(row))?;
        }
        drop(insert);
        conn.execute_batch("COMMIT")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    conn.execute_batch("DROP TABLE bound_bugs")?;
    Ok((rows.len() as u64, seconds))
}
