//! roster's benchmark harness: builds a data set with the library, starts the real `roster` binary on a loopback
//! socket, drives it with a keep-alive HTTP/1.1 load generator and reports throughput and latency per operation.
//!
//! ```sh
//! cargo build --release --workspace
//! target/release/roster-bench --users 100000
//! target/release/roster-bench --users 100000 --postgres-url postgres://postgres@127.0.0.1:5432/test
//! ```

mod clients;
mod contributions;
mod floors;
mod load;
mod permissions;
mod production;
mod scim;
mod summary;
mod training;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use roster::clock::{Clock, SystemClock};
use roster::config::Config;
use roster::migrate::Migrator;
use roster::principal::{Actor, Role, TenantScope};
use roster::store::{Backend, Store};
use roster::testing::TestDb;
use roster::users::{NewUser, Passwords};
use uuid::Uuid;

#[derive(Debug, Parser)]
struct Args {
    /// Users to create before measuring, spread over --tenants tenants
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    #[arg(long, default_value_t = 10)]
    tenants: usize,
    /// Benchmark PostgreSQL (a fresh database is created on this server and dropped afterwards) instead of SQLite
    #[arg(long)]
    postgres_url: Option<String>,
    /// Concurrent keep-alive connections of the load generator
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds each read operation is driven for
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Users created over HTTP for the create benchmark
    #[arg(long, default_value_t = 20_000)]
    creates: usize,
    /// The roster binary (default: beside this one)
    #[arg(long)]
    roster: Option<PathBuf>,
    /// Seconds of the sign-in benchmarks (0 skips them)
    #[arg(long, default_value_t = 10)]
    login_seconds: u64,
    /// Bug records generated and ingested for the contributions benchmark (0 skips it)
    #[arg(long, default_value_t = 1_000_000)]
    bugs: usize,
    /// Distinct testers reporting them
    #[arg(long, default_value_t = 50_000)]
    testers: usize,
    /// Test cycles generated and ingested
    #[arg(long, default_value_t = 20_000)]
    tests: usize,
    /// Distinct customers creating them
    #[arg(long, default_value_t = 1_000)]
    customers: usize,
    /// Write the generated exports here and keep them (default: a temporary directory)
    #[arg(long)]
    exports_dir: Option<PathBuf>,
    /// Only generate the exports, then stop
    #[arg(long)]
    generate_only: bool,
    /// Agent grants given before measuring the permission check (ten agents per tenant, one grant per user and agent)
    #[arg(long, default_value_t = 1_000_000)]
    grants: usize,
    /// Audit entries written into one tenant's chain and then verified (0 skips it)
    #[arg(long, default_value_t = 1_000_000)]
    audit_entries: usize,
    /// Clients imported into one tenant (with the CLI, from a generated CSV) before the client benchmarks (0 skips
    /// them)
    #[arg(long, default_value_t = 1_000_000)]
    clients: usize,
    /// Clients created over HTTP for the client create benchmark
    #[arg(long, default_value_t = 20_000)]
    client_creates: usize,
    /// Sessions resolved over HTTP for the training benchmark (0 skips the training benchmarks)
    #[arg(long, default_value_t = 20_000)]
    resolves: usize,
    /// Trainees of the training tenant, among whom those sessions are spread
    #[arg(long, default_value_t = 10_000)]
    trainees: usize,
    /// Resolved sessions of the trainee whose performance view is read
    #[arg(long, default_value_t = 1_000)]
    history: usize,
    /// Users provisioned through SCIM's Bulk endpoint, then looked up by userName (0 skips the SCIM benchmarks)
    #[arg(long, default_value_t = 100_000)]
    scim_users: usize,
    /// Print the results as JSON too
    #[arg(long)]
    json: bool,
    /// Write the results, with the summary table, as JSON to this file
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// A run of about a minute: small data (10,000 users, 100,000 bugs, …) and 3 s per load; it sets every size and
    /// duration flag
    #[arg(long)]
    quick: bool,
    /// Only the production path: create --users users on SQLite, then time backup and restore, the move to
    /// PostgreSQL (with --postgres-url), backup and restore there, and the move back
    #[arg(long)]
    production: bool,
    /// Serve a bare axum hello-world on this address and nothing else (the HTTP floor the harness starts)
    #[arg(long, hide = true)]
    serve_hello: Option<String>,
}

impl Args {
    /// The sizes of a `--quick` run.
    fn quicken(&mut self) {
        self.users = 10_000;
        self.seconds = 2;
        self.creates = 5_000;
        self.login_seconds = 3;
        self.bugs = 100_000;
        self.testers = 5_000;
        self.tests = 2_000;
        self.customers = 200;
        self.grants = 100_000; // one per user and agent: the in-process check expects every grant
        self.audit_entries = 20_000;
        self.clients = 20_000;
        self.client_creates = 2_000;
        self.resolves = 2_000;
        self.trainees = 1_000;
        self.history = 100;
        self.scim_users = 10_000;
    }
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// Resident and anonymous memory of a process, in KiB, from /proc.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

async fn fresh_database(args: &Args) -> anyhow::Result<TestDb> {
    let db = match &args.postgres_url {
        None => TestDb::sqlite_empty().await,
        Some(url) => {
            std::env::set_var(roster::testing::POSTGRES_URL_VAR, url);
            TestDb::postgres_empty().await.context("PostgreSQL")?
        }
    };
    Ok(db)
}

/// Tenants `bench-0` … `bench-{n-1}`, and the operator's scope in each.
async fn bench_tenants(store: &Store, n: usize) -> anyhow::Result<Vec<TenantScope>> {
    let mut scopes = Vec::new();
    for t in 0..n {
        let tenant = roster::tenants::create(
            store,
            &roster::principal::Sysadmin::operator_unchecked(Actor::cli()),
            SystemClock.now(),
            roster::tenants::NewTenant { slug: format!("bench-{t}"), name: format!("Bench {t}"), external_id: None },
        )
        .await
        .map_err(|p| anyhow::anyhow!("{p}"))?;
        scopes.push(TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli()));
    }
    Ok(scopes)
}

/// Create users through the library, `concurrency` at a time; their ids and emails.
async fn seed(store: &Store, scopes: &[TenantScope], users: usize) -> anyhow::Result<Vec<(String, Uuid, String)>> {
    let passwords = Passwords::from_config(&Config::default());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (store, scopes, passwords, next) = (store.clone(), scopes.to_vec(), passwords.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= users {
                    return Ok::<_, anyhow::Error>(made);
                }
                let scope = &scopes[i % scopes.len()];
                let email = format!("user{i}@bench.example");
                let input = NewUser {
                    email: Some(email.clone()),
                    username: Some(format!("user{i}")),
                    display_name: Some(format!("Bench User {i}")),
                    ..NewUser::default()
                };
                let admin = scope.admin().map_err(|_| anyhow::anyhow!("operator scope is admin"))?;
                let user = roster::users::create(&store, admin, &passwords, SystemClock.now(), input)
                    .await
                    .map_err(|p| anyhow::anyhow!("{p}"))?;
                made.push((scope.tenant().slug.clone(), user.id, email));
            }
        }));
    }
    let mut all = Vec::with_capacity(users);
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

fn roster_binary(args: &Args) -> anyhow::Result<PathBuf> {
    let binary = match &args.roster {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("roster"),
    };
    if !binary.exists() {
        bail!("{} not found: build it with `cargo build --release --workspace`", binary.display());
    }
    Ok(binary)
}

/// Run `roster audit export` of a tenant into a temporary file, watching the process: (lines, seconds, the highest
/// anonymous memory seen, KiB).
fn export_peak(args: &Args, url: &str, slug: &str) -> anyhow::Result<(usize, f64, u64)> {
    let out = tempfile::NamedTempFile::new()?;
    let started = Instant::now();
    let mut child = Command::new(roster_binary(args)?)
        .args(["--database-url", url, "audit", "export", "--tenant", slug, "--out"])
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut peak = 0;
    while child.try_wait()?.is_none() {
        peak = peak.max(memory_kib(child.id()).1);
        std::thread::sleep(Duration::from_millis(10));
    }
    let seconds = started.elapsed().as_secs_f64();
    let lines = std::io::BufRead::lines(std::io::BufReader::new(std::fs::File::open(out.path())?)).count();
    Ok((lines, seconds, peak))
}

/// Generate the exports and ingest them with the real binary: test cycles, then bug reports.
async fn ingest(
    args: &Args,
    store: &Store,
    url: &str,
    report: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let binary = roster_binary(args)?;
    let temporary = tempfile::tempdir()?;
    let dir = args.exports_dir.as_deref().unwrap_or(temporary.path());
    std::fs::create_dir_all(dir)?;
    let started = Instant::now();
    let (bugs, tests) = contributions::generate(dir, args.bugs, args.tests, args.testers, args.customers)?;
    let size = std::fs::metadata(&bugs)?.len();
    println!(
        "{:<28} {:>10.1} s  ({} bugs, {:.0} MB; {} tests)",
        "generate exports",
        started.elapsed().as_secs_f64(),
        args.bugs,
        size as f64 / 1e6,
        args.tests
    );
    if args.generate_only {
        return Ok(());
    }
    for (what, file) in [("tests", &tests), ("bugs", &bugs)] {
        let run = contributions::ingest(&binary, url, "bench-0", what, file)?;
        println!(
            "{:<28} {:>10.0} records/s  ({} records in {:.1} s, peak RSS {:.1} MB of which anonymous {:.1} MB, users \
             created {})",
            format!("ingest {what} (CLI)"),
            run.rate(),
            run.records,
            run.seconds,
            run.peak_rss_kib as f64 / 1024.0,
            run.peak_anon_kib as f64 / 1024.0,
            run.report["users"]["created"]
        );
        report.insert(
            format!("ingest_{what}"),
            serde_json::json!({"records_per_s": run.rate(), "records": run.records, "seconds": run.seconds,
                "peak_rss_kib": run.peak_rss_kib, "peak_anon_kib": run.peak_anon_kib, "summary": run.report}),
        );
        if what == "bugs" {
            let (rows, seconds) = storage_floor(store).await.context("the storage floor")?;
            let floor = rows as f64 / seconds;
            println!(
                "{:<28} {floor:>10.0} records/s  ({rows} bugs copied in {seconds:.1} s; the ingest took {:.2}× as long)",
                "storage floor (bugs copied)",
                run.seconds / seconds
            );
            report.insert(
                "storage_floor_bugs".into(),
                serde_json::json!({"records_per_s": floor, "records": rows, "seconds": seconds,
                    "ingest_over_floor": run.seconds / seconds}),
            );
            // what any ingest of this file does at the least, outside the database and inside it
            let (parsed, parse_s) = floors::parse_export(file).context("the reading floor")?;
            println!(
                "{:<28} {:>10.0} records/s  ({parsed} records parsed into JSON values in {parse_s:.2} s, one thread)",
                "reading floor (parse only)",
                parsed as f64 / parse_s
            );
            report.insert(
                "reading_floor_bugs".into(),
                serde_json::json!({"records_per_s": parsed as f64 / parse_s, "records": parsed, "seconds": parse_s}),
            );
            if let Some(path) = url.strip_prefix("sqlite://") {
                let (bound, bound_s) =
                    floors::sqlite_bound_bugs(std::path::Path::new(path), 100_000).context("the bound-insert floor")?;
                let one_thread = parse_s + bound_s;
                println!(
                    "{:<28} {:>10.0} records/s  ({bound} bugs inserted from bound parameters in {bound_s:.2} s; \
                     parse + insert {one_thread:.2} s, the ingest took {:.2}× as long)",
                    "bound-insert floor",
                    bound as f64 / bound_s,
                    run.seconds / one_thread
                );
                report.insert(
                    "bound_insert_floor_bugs".into(),
                    serde_json::json!({"records_per_s": bound as f64 / bound_s, "records": bound,
                        "seconds": bound_s, "ingest_over_parse_and_insert": run.seconds / one_thread}),
                );
            }
        }
    }
    Ok(())
}

/// What the database alone takes to store the ingested bugs: the same rows copied inside it into a twin of their
/// table (same columns, keys, indexes and foreign keys), 100,000 per transaction like the ingest's batches, with no
/// reading, parsing, people or ranking counts. The ingest is reported as a multiple of it, both measured in one run
/// on one machine. The twin is dropped afterwards.
async fn storage_floor(store: &Store) -> anyhow::Result<(u64, f64)> {
    const BATCH: i64 = 100_000;
    let twin = match store.backend() {
        Backend::Sqlite => {
            let ddl: Vec<(String,)> = store
                .query("SELECT sql FROM sqlite_master WHERE tbl_name = 'bugs' AND sql IS NOT NULL", vec![])
                .await?;
            ddl.iter().map(|(sql,)| sql.replace("bugs", "floor_bugs") + ";").collect::<Vec<_>>().join("\n")
        }
        Backend::Postgres => {
            // LIKE copies no foreign key, and checking the tenant of every row is a third of what the copy costs
            // (0.50 s without, 0.84 s with, for 100,000 bugs): the twin gets the ones bugs has, as SQLite's does
            let keys: Vec<(String,)> = store
                .query(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
                     WHERE conrelid = 'bugs'::regclass AND contype = 'f'",
                    vec![],
                )
                .await?;
            let mut ddl = "CREATE TABLE floor_bugs (LIKE bugs INCLUDING ALL);".to_owned();
            for (key,) in keys {
                ddl += &format!("ALTER TABLE floor_bugs ADD {key};");
            }
            ddl
        }
    };
    let mut tx = store.begin().await?;
    tx.execute_batch(twin).await?;
    tx.commit().await?;
    let (tenant, low, high): (Uuid, i64, i64) =
        store.query_one("SELECT tenant_id, MIN(id), MAX(id) FROM bugs GROUP BY tenant_id LIMIT 1", vec![]).await?;
    let started = Instant::now();
    let mut rows = 0;
    let mut from = low;
    while from <= high {
        // as the ingest's batches begin
        let mut tx = store.begin_large().await?;
        rows += tx
            .execute(
                "INSERT INTO floor_bugs SELECT * FROM bugs WHERE tenant_id = $1 AND id >= $2 AND id < $3",
                vec![tenant.into(), from.into(), (from + BATCH).into()],
            )
            .await?;
        tx.commit().await?;
        from += BATCH;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut tx = store.begin().await?;
    tx.execute_batch("DROP TABLE floor_bugs").await?;
    tx.commit().await?;
    Ok((rows, seconds))
}

/// Top contributors and active users over the ingested records, one connection at a time (latency) .
async fn reports(
    args: &Args,
    server: &Server,
    auth: &str,
    report: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let seconds = Duration::from_secs(args.seconds.clamp(1, 5));
    for (name, path) in [
        ("top testers, all time", "/v1/tenants/bench-0/contributors/top?user_type=tester&limit=10"),
        ("top testers, 30 days", "/v1/tenants/bench-0/contributors/top?user_type=tester&days=30&limit=10"),
        ("top customers, all time", "/v1/tenants/bench-0/contributors/top?user_type=customer&limit=10"),
        ("top contributors, 7 days", "/v1/tenants/bench-0/contributors/top?days=7&limit=10"),
        ("active users, 30 days", "/v1/tenants/bench-0/users/active?days=30&limit=50"),
    ] {
        let outcome =
            load::run(&server.base, auth, 1, load::Budget::Time(seconds), move |_| load::Call::get(path.to_owned()))
                .await?;
        outcome.print(name);
        report.insert(name.to_owned(), outcome.json());
    }
    Ok(())
}

fn start_server(args: &Args, url: &str) -> anyhow::Result<Server> {
    start_server_with(args, url, &[])
}

fn start_server_with(args: &Args, url: &str, settings: &[(&str, &str)]) -> anyhow::Result<Server> {
    let binary = roster_binary(args)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(binary)
        .args(["serve", "--no-migrate", "--database-url", url, "--listen", &format!("127.0.0.1:{port}")])
        .envs(settings.iter().copied())
        .env("ROSTER_LOG", "warn")
        // the sign-in benchmarks come from one address at a rate no client should reach
        .env("ROSTER_SIGNIN_PER_ADDRESS_PER_MINUTE", "100000000")
        .env("ROSTER_SIGNIN_PER_ACCOUNT_PER_MINUTE", "100000000")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    Ok(Server { child, base: format!("127.0.0.1:{port}") })
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if let Some(listen) = &args.serve_hello {
        return floors::serve_hello(listen);
    }
    if args.quick {
        args.quicken();
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(args))
}

/// Start the HTTP floor: a bare axum hello-world, in its own process like the server.
fn start_hello() -> anyhow::Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(std::env::current_exe()?)
        .args(["--serve-hello", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    Ok(Server { child, base: listen })
}

async fn wait_listening(base: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(base).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("nothing listens on {base}")
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.production {
        return production::run(&args, &roster_binary(&args)?).await;
    }
    if args.generate_only {
        let dir = args.exports_dir.clone().context("--generate-only needs --exports-dir")?;
        std::fs::create_dir_all(&dir)?;
        contributions::generate(&dir, args.bugs, args.tests, args.testers, args.customers)?;
        println!("exports written to {}", dir.display());
        return Ok(());
    }
    let db = fresh_database(&args).await?;
    let backend = db.store.backend();
    let mut report = serde_json::Map::new();
    let mut summary = summary::Summary::default();
    report.insert("backend".into(), backend.name().into());
    report.insert("users".into(), args.users.into());

    let migrations = roster::migrations();
    let started = Instant::now();
    Migrator::new(&db.store, &migrations).up(None).await?;
    let migrate_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!("{:<28} {migrate_ms:>10.1} ms", "migrations from empty");
    report.insert("migrations_ms".into(), migrate_ms.into());
    let target = if backend == Backend::Sqlite { "≤ 50 ms" } else { "≤ 1 s" };
    summary.add("migrations from empty", format!("{migrate_ms:.1} ms"), target);

    let scopes = bench_tenants(&db.store, args.tenants).await?;
    let started = Instant::now();
    let users = seed(&db.store, &scopes, args.users).await?;
    let seed_rate = users.len() as f64 / started.elapsed().as_secs_f64();
    println!("{:<28} {seed_rate:>10.0} users/s  (in process, {} users)", "user create (library)", users.len());
    report.insert("seed_users_per_s".into(), seed_rate.into());
    if args.grants > 0 {
        let started = Instant::now();
        let made = permissions::seed_grants(&db.store, &scopes, args.grants, users.len()).await?;
        println!("{:<28} {made:>10} grants in {:.1} s", "grants (bulk SQL)", started.elapsed().as_secs_f64());
        report.insert("grants".into(), made.into());
    }
    // Fresh statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) would keep them in production.
    let mut tx = db.store.begin().await?;
    tx.execute_batch("ANALYZE").await?;
    tx.commit().await?;
    let (_, key) =
        roster::auth::create_api_key(&db.store, &scopes[0], SystemClock.now(), "bench", Role::Sysadmin, None)
            .await
            .map_err(|p| anyhow::anyhow!("{p}"))?;

    if args.bugs > 0 {
        ingest(&args, &db.store, &db.url, &mut report).await?;
        let mut tx = db.store.begin().await?;
        tx.execute_batch("ANALYZE").await?;
        tx.commit().await?;
    }

    if args.clients > 0 {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("clients.csv");
        clients::generate(&file, args.clients)?;
        let (rows, seconds, summary) = clients::import(&roster_binary(&args)?, &db.url, "bench-0", &file)?;
        println!(
            "{:<28} {:>10.0} rows/s  ({rows} rows in {seconds:.1} s, created {})",
            "client import (CLI)",
            rows as f64 / seconds,
            summary["clients"]["created"]
        );
        report.insert("client_import_rows_per_s".into(), (rows as f64 / seconds).into());
        let mut tx = db.store.begin().await?;
        tx.execute_batch("ANALYZE").await?;
        tx.commit().await?;
    }

    let training = if args.resolves > 0 {
        let started = Instant::now();
        let setup = training::setup(&db.store, args.trainees, args.resolves, args.history).await?;
        println!(
            "{:<28} {:>10.1} s  ({} trainees, {} sessions to resolve, a trainee with {} resolved)",
            "training set-up (library)",
            started.elapsed().as_secs_f64(),
            args.trainees,
            setup.sessions.len(),
            args.history
        );
        let mut tx = db.store.begin().await?;
        tx.execute_batch("ANALYZE").await?;
        tx.commit().await?;
        Some(setup)
    } else {
        None
    };

    let server = start_server(&args, &db.url)?;
    load::wait_healthy(&server.base).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss, anon) = memory_kib(server.child.id());
    println!(
        "{:<28} {:>10.1} MB RSS, {:.1} MB anonymous",
        "idle server memory",
        rss as f64 / 1024.0,
        anon as f64 / 1024.0
    );
    report.insert("idle_rss_kib".into(), rss.into());
    report.insert("idle_anon_kib".into(), anon.into());
    summary.add("RSS, idle", format!("{:.1} MB", rss as f64 / 1024.0), "≤ 15 MB");

    // the HTTP floor: a bare hello-world on the same machine, driven the same way
    let hello = {
        let floor = start_hello()?;
        wait_listening(&floor.base).await?;
        let duration = Duration::from_secs(args.seconds);
        load::run(&floor.base, "-", args.connections, load::Budget::Time(duration), |_| load::Call::get("/".into()))
            .await?
    };
    hello.print("hello-world (bare axum)");
    report.insert("hello_world".into(), hello.json());
    let http_floor = Some((hello.rate(), "hello-world"));

    let auth = format!("Bearer {key}");
    let duration = Duration::from_secs(args.seconds);
    let users = Arc::new(users);
    let (u1, u2) = (users.clone(), users.clone());
    let by_id = load::run(&server.base, &auth, args.connections, load::Budget::Time(duration), move |i| {
        let users = &u1;
        let (slug, id, _) = &users[(i * 7919) % users.len()];
        load::Call::get(format!("/v1/tenants/{slug}/users/{id}"))
    })
    .await?;
    by_id.print("lookup by id (HTTP)");
    report.insert("lookup_by_id".into(), by_id.json());
    summary.add_load("lookup by id", &by_id, "≥ 30,000 req/s, p50 ≤ 1 ms, p99 ≤ 3 ms", http_floor);

    let by_email = load::run(&server.base, &auth, args.connections, load::Budget::Time(duration), move |i| {
        let users = &u2;
        let (slug, _, email) = &users[(i * 7919) % users.len()];
        load::Call::get(format!("/v1/tenants/{slug}/users/by-email/{email}"))
    })
    .await?;
    by_email.print("lookup by email (HTTP)");
    report.insert("lookup_by_email".into(), by_email.json());
    summary.add_load("lookup by email", &by_email, "≥ 30,000 req/s, p50 ≤ 1 ms, p99 ≤ 3 ms", http_floor);

    // a lookup that finds its user against one that finds nobody, through the same key, tenant and route, alternated
    // so that drift of a shared machine falls on both
    let (mut found_rates, mut missing_rates) = (vec![by_id.rate()], Vec::new());
    for round in 0..2 {
        let slugs: Vec<String> = scopes.iter().map(|s| s.tenant().slug.clone()).collect();
        let missing = load::run(&server.base, &auth, args.connections, load::Budget::Time(duration), move |i| {
            let slug = &slugs[i % slugs.len()];
            load::Call::get(format!("/v1/tenants/{slug}/users/{}", Uuid::now_v7()))
        })
        .await?;
        missing.print(&format!("lookup of nobody, 404 ({})", round + 1));
        report.insert(format!("lookup_missing_{}", round + 1), missing.json());
        missing_rates.push(missing.rate());
        if round == 0 {
            let users = users.clone();
            let found = load::run(&server.base, &auth, args.connections, load::Budget::Time(duration), move |i| {
                let (slug, id, _) = &users[(i * 7919) % users.len()];
                load::Call::get(format!("/v1/tenants/{slug}/users/{id}"))
            })
            .await?;
            found.print("lookup by id (2)");
            found_rates.push(found.rate());
        }
    }
    let (found, missing) = (found_rates.iter().sum::<f64>() / 2.0, missing_rates.iter().sum::<f64>() / 2.0);
    println!(
        "{:<28} {:>10.2}× ({found:.0} vs {missing:.0} req/s, means of two rounds)",
        "found / 404",
        found / missing
    );
    report.insert("lookup_found_over_missing".into(), (found / missing).into());
    summary.add_ratio(
        "lookup by id vs a 404 on the same path",
        format!("{found:.0} vs {missing:.0} req/s"),
        "≥ 0.8×",
        found / missing,
        "the 404",
    );

    if args.grants > 0 {
        let (u3, agents) = (users.clone(), Arc::new(permissions::agent_names()));
        let check = load::run(&server.base, &auth, args.connections, load::Budget::Time(duration), move |i| {
            let (slug, id, _) = &u3[(i * 7919) % u3.len()];
            let agent = &agents[i % agents.len()];
            load::Call::get(format!("/v1/tenants/{slug}/users/{id}/permissions/{agent}/check?action=read"))
        })
        .await?;
        check.print("permission check (HTTP)");
        report.insert("permission_check".into(), check.json());
        summary.add_load("permission check", &check, "≥ 30,000 req/s, p99 ≤ 3 ms", http_floor);
        let (rate, total) =
            permissions::checks_in_process(&db.store, &scopes, users.clone(), args.connections, args.seconds.min(5))
                .await?;
        println!("{:<28} {rate:>10.0} checks/s  (in process, {total} checks)", "permission check (library)");
        report.insert("permission_check_in_process_per_s".into(), rate.into());
    }

    let (rss, anon) = memory_kib(server.child.id());
    println!(
        "{:<28} {:>10.1} MB RSS, {:.1} MB anonymous",
        "loaded server memory",
        rss as f64 / 1024.0,
        anon as f64 / 1024.0
    );
    report.insert("loaded_rss_kib".into(), rss.into());
    report.insert("loaded_anon_kib".into(), anon.into());
    summary.add(
        "memory under load",
        format!("{:.1} MB anonymous ({:.1} MB RSS, {} users)", anon as f64 / 1024.0, rss as f64 / 1024.0, users.len()),
        "≤ 64 MB anonymous with 1M users",
    );

    let mut commit_floors = None;
    let commit_floor = match backend {
        Backend::Sqlite => {
            let dir = std::path::Path::new(db.url.trim_start_matches("sqlite://")).parent().context("database dir")?;
            let seconds = args.seconds as f64;
            let normal = floors::sqlite_commits(dir, "NORMAL", seconds)?;
            let full = floors::sqlite_commits(dir, "FULL", seconds)?;
            println!("{:<28} {normal:>10.0} commits/s NORMAL, {full:.0} FULL (rusqlite, WAL)", "one-row commits");
            let python_normal = floors::python_sqlite_commits(dir, "NORMAL", seconds)?;
            let python_full = floors::python_sqlite_commits(dir, "FULL", seconds)?;
            println!(
                "{:<28} {python_normal:>10.0} commits/s NORMAL, {python_full:.0} FULL (Python sqlite3, WAL)",
                "one-row commits"
            );
            report.insert(
                "commit_floor".into(),
                serde_json::json!({"normal_per_s": normal, "full_per_s": full,
                    "python_normal_per_s": python_normal, "python_full_per_s": python_full}),
            );
            commit_floors = Some((python_normal, python_full));
            (python_normal, "one-row commits (Python sqlite3, WAL, NORMAL)")
        }
        Backend::Postgres => {
            let url = args.postgres_url.as_deref().context("PostgreSQL url")?;
            let rate = floors::postgres_commits(url, args.connections, args.seconds as f64).await?;
            println!("{:<28} {rate:>10.0} commits/s ({} connections)", "one-row commits", args.connections);
            report.insert("commit_floor".into(), serde_json::json!({"per_s": rate}));
            (rate, "one-row commits (tokio-postgres, 32 connections)")
        }
    };
    let creates_call = |offset: usize, slugs: Vec<String>| {
        move |i: usize| {
            let i = i + offset;
            let slug = &slugs[i % slugs.len()];
            let body =
                serde_json::json!({"email": format!("new{i}@bench.example"), "display_name": format!("New {i}")});
            load::Call::post(format!("/v1/tenants/{slug}/users"), body.to_string())
        }
    };
    let slugs: Vec<String> = scopes.iter().map(|s| s.tenant().slug.clone()).collect();
    let alone = args.creates / 4;
    let create_alone =
        load::run(&server.base, &auth, 1, load::Budget::Requests(alone), creates_call(0, slugs.clone())).await?;
    create_alone.print("user create, one client");
    report.insert("user_create_one_connection".into(), create_alone.json());
    summary.add_load("user create, one client", &create_alone, "p99 ≤ 20 ms", None);
    let create = load::run(
        &server.base,
        &auth,
        args.connections,
        load::Budget::Requests(args.creates),
        creates_call(alone, slugs.clone()),
    )
    .await?;
    create.print("user create (HTTP)");
    report.insert("user_create".into(), create.json());
    let target = if backend == Backend::Sqlite {
        "≥ 4,000/s, p99 ≤ 20 ms; ≥ 0.25× the commit floor"
    } else {
        "≥ 2,500/s"
    };
    summary.add_load("user create, 32 clients", &create, target, Some(commit_floor));
    if let Some((_, python_full)) = commit_floors {
        // the same creates from a second server on the same file, acknowledging only synced commits
        let mut full = start_server_with(&args, &db.url, &[("ROSTER_SQLITE_SYNCHRONOUS", "full")])?;
        std::thread::sleep(Duration::from_millis(300));
        if full.child.try_wait()?.is_some() {
            println!("{:<28} {:>10}", "user create, synchronous=full", "not a setting of this binary");
            summary.add("user create, 32 clients, synchronous=full", "not a setting of this binary", "≥ 2,500/s");
        } else {
            load::wait_healthy(&full.base).await?;
            let offset = alone + args.creates;
            let outcome = load::run(
                &full.base,
                &auth,
                args.connections,
                load::Budget::Requests(args.creates),
                creates_call(offset, slugs.clone()),
            )
            .await?;
            outcome.print("user create, sync=full");
            report.insert("user_create_full".into(), outcome.json());
            summary.add_load(
                "user create, 32 clients, synchronous=full",
                &outcome,
                "≥ 2,500/s",
                Some((python_full, "one-row commits (Python sqlite3, WAL, FULL)")),
            );
        }
    }

    if args.clients > 0 {
        client_benchmarks(&args, &server, &auth, &mut report).await?;
    }

    if let Some(setup) = training {
        training_benchmarks(&args, &server, setup, &mut report).await?;
    }

    let chain_key = roster::store::ChainKey::new([42; 32]);
    let (keyed, unkeyed) =
        permissions::creates_keyed_vs_unkeyed(&db.store, &scopes[0], chain_key.clone(), 4, 1000).await?;
    println!(
        "{:<28} {keyed:>10.0} users/s keyed, {unkeyed:.0} unkeyed ({:.2}×; library, one after another)",
        "user create, audit chain",
        keyed / unkeyed
    );
    report.insert("create_keyed_per_s".into(), keyed.into());
    report.insert("create_unkeyed_per_s".into(), unkeyed.into());
    if args.audit_entries > 0 {
        let keyed_store = db.store.clone().with_chain_key(Some(chain_key));
        let tenant = roster::tenants::create(
            &keyed_store,
            &roster::principal::Sysadmin::operator_unchecked(Actor::cli()),
            SystemClock.now(),
            roster::tenants::NewTenant { slug: "bench-audit".into(), name: "Audit".into(), external_id: None },
        )
        .await
        .map_err(|p| anyhow::anyhow!("{p}"))?;
        let scope = TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli());
        let (write_rate, verify_s, checked) = permissions::long_chain(&keyed_store, &scope, args.audit_entries).await?;
        println!(
            "{:<28} {verify_s:>10.2} s for {checked} keyed entries ({:.0}/s; written at {write_rate:.0}/s)",
            "audit verify",
            checked as f64 / verify_s
        );
        report.insert("audit_verify_s".into(), verify_s.into());
        report.insert("audit_verify_entries".into(), checked.into());
        // the export streams: its peak memory for the long chain should be that of a short one
        for slug in ["bench-0-keyed", "bench-audit"] {
            let (lines, seconds, peak_anon) = export_peak(&args, &db.url, slug)?;
            println!(
                "{:<28} {lines:>10} lines in {seconds:.2} s, peak {:.1} MB anonymous ({slug})",
                "audit export (roster CLI)",
                peak_anon as f64 / 1024.0
            );
            report.insert(format!("audit_export_{slug}_peak_anon_kib"), peak_anon.into());
        }
    }

    if args.bugs > 0 {
        reports(&args, &server, &auth, &mut report).await?;
        let ingest = &report["ingest_bugs"];
        let target = if backend == Backend::Sqlite {
            "≥ 100,000 records/s; ≤ 1.5× the floor's time"
        } else {
            "≥ 30,000 records/s; ≤ 2× the floor's time"
        };
        summary.add_ratio(
            "bug ingest",
            format!(
                "{:.0} records/s, peak {:.1} MB anonymous",
                ingest["records_per_s"].as_f64().unwrap_or(0.0),
                ingest["peak_anon_kib"].as_f64().unwrap_or(0.0) / 1024.0
            ),
            target,
            report["storage_floor_bugs"]["ingest_over_floor"].as_f64().unwrap_or(0.0),
            "the time of copying the same rows inside the database",
        );
        if let Some(ratio) =
            report.get("bound_insert_floor_bugs").and_then(|f| f["ingest_over_parse_and_insert"].as_f64())
        {
            summary.add_ratio(
                "bug ingest vs parse + insert",
                format!(
                    "parse {:.2} s + bound inserts {:.2} s, one thread",
                    report["reading_floor_bugs"]["seconds"].as_f64().unwrap_or(0.0),
                    report["bound_insert_floor_bugs"]["seconds"].as_f64().unwrap_or(0.0)
                ),
                "",
                ratio,
                "the time of parsing the file and inserting its rows, one after the other",
            );
        }
        let worst =
            ["top testers, all time", "top testers, 30 days", "top customers, all time", "top contributors, 7 days"]
                .iter()
                .map(|name| report[*name]["p99_ms"].as_f64().unwrap_or(f64::NAN))
                .fold(0.0, f64::max);
        summary.add("top contributors, worst window", format!("p99 {worst:.2} ms ({} bugs)", args.bugs), "≤ 50 ms");
    }

    if args.scim_users > 0 {
        scim::run(&server.base, &auth, args.scim_users, 4, args.connections, args.seconds, &mut report).await?;
        let bulk = &report["scim_bulk"];
        summary.add(
            "SCIM Bulk provisioning",
            format!(
                "{:.0} users/s ({} users, 4 connections)",
                bulk["users_per_s"].as_f64().unwrap_or(0.0),
                bulk["users"]
            ),
            "",
        );
        let lookup = &report["scim_username_lookup"];
        summary.add(
            "SCIM userName eq lookup",
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                lookup["req_per_s"].as_f64().unwrap_or(0.0),
                lookup["p50_ms"].as_f64().unwrap_or(0.0),
                lookup["p99_ms"].as_f64().unwrap_or(0.0)
            ),
            "",
        );
    }

    if args.login_seconds > 0 {
        signin(&args, &scopes[0], &server, &auth, &mut report).await?;
        let login = &report["login"];
        let raw = report["raw_verify_per_s"].as_f64().unwrap_or(f64::NAN);
        summary.add_ratio(
            "sign-in",
            format!(
                "{:.1}/s, p99 {:.1} ms",
                login["req_per_s"].as_f64().unwrap_or(0.0),
                login["p99_ms"].as_f64().unwrap_or(0.0)
            ),
            "≥ 75/s",
            login["req_per_s"].as_f64().unwrap_or(0.0) / raw,
            format!("raw Argon2id verifies, every core, {raw:.1}/s"),
        );
        let alone = report["me_alone"]["req_per_s"].as_f64().unwrap_or(f64::NAN);
        let me = &report["me_during_login_flood"];
        summary.add_ratio(
            "GET /v1/me alone (16 connections)",
            format!("{alone:.0} req/s, p99 {:.2} ms", report["me_alone"]["p99_ms"].as_f64().unwrap_or(0.0)),
            "",
            alone / hello.rate(),
            format!("hello-world {:.0}/s", hello.rate()),
        );
        summary.add_ratio(
            "GET /v1/me during a sign-in flood",
            format!(
                "{:.0} req/s, p99 {:.2} ms",
                me["req_per_s"].as_f64().unwrap_or(0.0),
                me["p99_ms"].as_f64().unwrap_or(0.0)
            ),
            "≥ 25,000 req/s, p99 ≤ 10 ms",
            me["req_per_s"].as_f64().unwrap_or(0.0) / alone,
            format!("the same reads without the flood, {alone:.0}/s"),
        );
    }

    drop(server);
    summary.print(backend.name());
    report.insert("summary".into(), summary.json());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if let Some(path) = &args.json_out {
        std::fs::write(path, serde_json::to_string_pretty(&report)?).with_context(|| path.display().to_string())?;
    }
    if backend == Backend::Postgres {
        db.store.clone().close().await;
    }
    Ok(())
}

/// Client creates over HTTP, then lookups by CPF that find their client (and write its `read` entry) against
/// lookups of CPFs nobody has (same route and query, no entry), in one run.
async fn client_benchmarks(
    args: &Args,
    server: &Server,
    auth: &str,
    report: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let creates = args.client_creates;
    let create = load::run(&server.base, auth, args.connections, load::Budget::Requests(creates), move |i| {
        let body = serde_json::json!({"name": format!("New Client {i}"), "cpf": clients::created_cpf(i),
            "birth_date": "1990-01-01"});
        load::Call::post("/v1/tenants/bench-0/clients".into(), body.to_string())
    })
    .await?;
    create.print("client create (HTTP)");
    report.insert("client_create".into(), create.json());

    let duration = Duration::from_secs(args.seconds);
    let registered = args.clients;
    let mut rates = Vec::new();
    // alternated, twice each, so drift of a shared machine falls on both
    for round in 0..2 {
        for (name, found) in [("lookup by CPF, found", true), ("lookup by CPF, none", false)] {
            let outcome = load::run(&server.base, auth, args.connections, load::Budget::Time(duration), move |i| {
                let n = (i * 7919) % registered;
                let cpf = if found { clients::registered_cpf(n) } else { clients::absent_cpf(n) };
                load::Call::get(format!("/v1/tenants/bench-0/clients?cpf={cpf}"))
            })
            .await?;
            outcome.print(&format!("{name} ({})", round + 1));
            report.insert(
                format!("client_lookup_{}_{}", if found { "found" } else { "none" }, round + 1),
                outcome.json(),
            );
            rates.push(outcome.rate());
        }
    }
    let found = (rates[0] + rates[2]) / 2.0;
    let none = (rates[1] + rates[3]) / 2.0;
    println!(
        "{:<28} {:>10.2}× the rate of a lookup that reads no one ({found:.0} vs {none:.0} req/s, means of two rounds)",
        "read entry's cost",
        found / none
    );
    report.insert("client_lookup_found_over_none".into(), (found / none).into());
    Ok(())
}

/// Session resolutions over HTTP (each: the metric, XP, level and achievements in one transaction), then the
/// performance view of a trainee with a long history.
async fn training_benchmarks(
    args: &Args,
    server: &Server,
    setup: training::Setup,
    report: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let auth = format!("Bearer {}", setup.key);
    let sessions = Arc::new(setup.sessions);
    let count = sessions.len();
    let resolve = load::run(&server.base, &auth, args.connections, load::Budget::Requests(count), move |i| {
        load::Call::post(format!("/v1/sessions/{}/resolve", sessions[i]), training::resolution_body(i))
    })
    .await?;
    resolve.print("session resolve (HTTP)");
    report.insert("session_resolve".into(), resolve.json());

    let login = serde_json::json!({"email": setup.veteran, "password": training::PASSWORD}).to_string();
    let path = format!("/v1/tenants/{}/auth/login", training::TENANT);
    let signed_in: serde_json::Value = serde_json::from_str(&load::last_body(&server.base, &path, &login).await?)?;
    let token = signed_in["token"].as_str().context("the veteran signs in")?;
    let duration = Duration::from_secs(args.seconds);
    let performance =
        load::run(&server.base, &format!("Bearer {token}"), args.connections, load::Budget::Time(duration), |_| {
            load::Call::get("/v1/me/performance".into())
        })
        .await?;
    performance.print(&format!("GET /v1/me/performance ({})", args.history));
    report.insert("me_performance".into(), performance.json());
    // one connection: the latency of the view itself, without queueing behind 31 others on two cores
    let alone = load::run(&server.base, &format!("Bearer {token}"), 1, load::Budget::Time(duration), |_| {
        load::Call::get("/v1/me/performance".into())
    })
    .await?;
    alone.print("  the same, one connection");
    report.insert("me_performance_one_connection".into(), alone.json());
    Ok(())
}

/// Argon2id verifications per second with every core busy: the ceiling of sign-in throughput.
fn raw_verify_rate(config: &Config, seconds: f64) -> f64 {
    use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
    let params =
        argon2::Params::new(config.argon2_memory_kib, config.argon2_iterations, config.argon2_parallelism, None)
            .expect("valid parameters");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(&[7u8; 16]).expect("salt");
    let hash = argon.hash_password(b"bench password", &salt).expect("hash").to_string();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (argon, hash) = (argon.clone(), hash.clone());
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&hash).expect("parse");
                let mut n = 0u64;
                while started.elapsed().as_secs_f64() < seconds {
                    argon.verify_password(b"bench password", &parsed).expect("verifies");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// Sign-in throughput against the raw verify rate, and how lookups fare during a sign-in flood.
async fn signin(
    args: &Args,
    scope: &TenantScope,
    server: &Server,
    auth: &str,
    report: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let config = Config::default();
    let raw = raw_verify_rate(&config, (args.seconds as f64).min(5.0));
    println!("{:<28} {raw:>10.1} verifies/s (Argon2id m=19456 t=2 p=1, every core)", "raw password verify");
    report.insert("raw_verify_per_s".into(), raw.into());

    // over HTTP: the server seals the tenant's audit chain with its key, which this process does not have
    let slug = scope.tenant().slug.clone();
    let people: Vec<String> = (0..64).map(|i| format!("signin{i}@bench.example")).collect();
    let made = load::run(&server.base, auth, 4, load::Budget::Requests(people.len()), {
        let (people, slug) = (people.clone(), slug.clone());
        move |i| {
            let body = serde_json::json!({"email": people[i], "password": "bench password"});
            load::Call::post(format!("/v1/tenants/{slug}/users"), body.to_string())
        }
    })
    .await?;
    anyhow::ensure!(made.errors == 0, "{} of the sign-in users were not created", made.errors);

    // Failed sign-ins must take as long whatever the reason: unknown account or wrong password, one at a time.
    let path = format!("/v1/tenants/{slug}/auth/login");
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    for i in 0..40 {
        let body = serde_json::json!({"email": format!("nobody{i}@bench.example"), "password": "bench password"});
        let started = Instant::now();
        load::last_body(&server.base, &path, &body.to_string()).await?;
        unknown.push(started.elapsed().as_secs_f64() * 1000.0);
        let body = serde_json::json!({"email": people[i % people.len()], "password": "wrong password"});
        let started = Instant::now();
        load::last_body(&server.base, &path, &body.to_string()).await?;
        wrong.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "{:<28} {:>10.1} ms unknown account, {:.1} ms wrong password (mean of 40 each)",
        "failed sign-in timing",
        mean(&unknown),
        mean(&wrong)
    );
    report.insert(
        "failed_login_ms".into(),
        serde_json::json!({"unknown": mean(&unknown), "wrong_password": mean(&wrong)}),
    );
    let people = Arc::new(people);
    let login_call = {
        let (people, slug) = (people.clone(), slug.clone());
        move |i: usize| {
            let body = serde_json::json!({"email": people[i % people.len()], "password": "bench password"});
            load::Call::post(format!("/v1/tenants/{slug}/auth/login"), body.to_string())
        }
    };
    let duration = Duration::from_secs(args.login_seconds);
    let logins = load::run(&server.base, auth, 16, load::Budget::Time(duration), login_call.clone()).await?;
    logins.print("sign-in (HTTP)");
    println!("{:<28} {:>10.1} % of the raw verify rate", "sign-in / raw verify", 100.0 * logins.rate() / raw);
    report.insert("login".into(), logins.json());

    // a sign-in flood and user lookups at the same time
    let body = serde_json::json!({"email": people[0], "password": "bench password"}).to_string();
    let token = load::last_body(&server.base, &format!("/v1/tenants/{slug}/auth/login"), &body).await?;
    let token: serde_json::Value = serde_json::from_str(&token)?;
    let session = format!("Bearer {}", token["token"].as_str().unwrap_or_default());
    // the same reads without the flood: what the flood costs them
    let alone =
        load::run(&server.base, &session, 16, load::Budget::Time(duration), |_| load::Call::get("/v1/me".into()))
            .await?;
    alone.print("GET /v1/me alone");
    report.insert("me_alone".into(), alone.json());
    let flood = tokio::spawn({
        let (base, auth) = (server.base.clone(), auth.to_owned());
        async move { load::run(&base, &auth, 16, load::Budget::Time(duration), login_call).await }
    });
    let me = load::run(&server.base, &session, 16, load::Budget::Time(duration), |_| load::Call::get("/v1/me".into()))
        .await?;
    let flood = flood.await??;
    me.print("GET /v1/me during sign-ins");
    flood.print("sign-in during /v1/me load");
    report.insert("me_during_login_flood".into(), me.json());
    Ok(())
}
