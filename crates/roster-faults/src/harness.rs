//! The pieces every scenario shares: the real `roster` binary as a child process, a fresh database, and an HTTP
//! client that tells a server's answer from a request that got none.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use roster::migrate::Migrator;
use roster::store::{Backend, Store};
use roster::testing::TestDb;
use serde_json::Value;

/// The key every server and command of one run shares, so audit entries are keyed and verify across restarts.
pub const SECRET_KEY: &str = "cm9zdGVyIGZhdWx0IHRlc3RzOiBhIGZpeGVkIGtleS4=";

/// The tenant the scenarios write into.
pub const TENANT: &str = "faults";

/// The `roster` binary.
#[derive(Clone)]
pub struct Roster {
    binary: PathBuf,
}

impl Roster {
    pub fn new(binary: PathBuf) -> anyhow::Result<Roster> {
        if !binary.exists() {
            bail!("{} not found: build it with `cargo build --release --workspace`", binary.display());
        }
        Ok(Roster { binary })
    }

    /// Another binary of the workspace, beside this one.
    pub fn sibling(&self, name: &str) -> PathBuf {
        self.binary.with_file_name(name)
    }

    pub fn command(&self, url: &str) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .env("ROSTER_DATABASE_URL", url)
            .env("ROSTER_SECRET_KEY", SECRET_KEY)
            .env("ROSTER_LOG", "warn")
            .stdin(Stdio::null());
        command
    }

    /// Run a command to its end; its standard output, or an error with what it wrote to standard error.
    pub fn run(&self, url: &str, args: &[&str]) -> anyhow::Result<String> {
        let output = self.command(url).args(args).output().with_context(|| format!("roster {args:?}"))?;
        if !output.status.success() {
            bail!("roster {args:?}: {}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// `roster serve` on a free loopback port, once `/readyz` answers 200.
    pub async fn serve(&self, url: &str, env: &[(&str, &str)]) -> anyhow::Result<Served> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = self.command(url);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            // the scenarios sign in from one address far more often than a person would
            .env("ROSTER_SIGNIN_PER_ADDRESS_PER_MINUTE", "100000000")
            .env("ROSTER_SIGNIN_PER_ACCOUNT_PER_MINUTE", "100000000")
            .stdout(Stdio::null())
            // FAULTS_SERVER_LOG=1 shows what the servers log (warnings and errors)
            .stderr(if std::env::var_os("FAULTS_SERVER_LOG").is_some() { Stdio::inherit() } else { Stdio::null() });
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().context("starting roster serve")?;
        let mut served = Served { child, base: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        loop {
            if let Ok(answer) = client.get(format!("{}/readyz", served.base)).send().await {
                if answer.status().is_success() {
                    return Ok(served);
                }
            }
            if let Some(status) = served.child.try_wait()? {
                bail!("roster serve exited before it was ready: {status}");
            }
            if Instant::now() > deadline {
                bail!("roster serve was not ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A running `roster serve`; killed when dropped.
pub struct Served {
    child: Child,
    pub base: String,
}

impl Served {
    /// The server's process id, to read its memory from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: the process ends at once, mid-request.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM: the graceful stop.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        if !status.success() {
            bail!("kill -TERM failed: {status}");
        }
        Ok(())
    }

    /// Wait up to `limit` for the process to end.
    pub async fn wait(&mut self, limit: Duration) -> anyhow::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh, migrated database with the scenarios' tenant and an admin API key of it.
pub struct Database {
    pub url: String,
    pub store: Store,
    pub key: String,
    _db: Option<TestDb>,
}

impl Database {
    /// A fresh database of `backend` (PostgreSQL: a new database on the server of `ROSTER_TEST_POSTGRES_URL`,
    /// dropped afterwards).
    pub async fn fresh(roster: &Roster, backend: Backend) -> anyhow::Result<Database> {
        let db = TestDb::of_empty(backend).await.context("PostgreSQL is not configured")?;
        let (url, store) = (db.url.clone(), db.store.clone());
        Self::prepare(roster, url, store, Some(db)).await
    }

    /// A fresh SQLite database at `path`.
    pub async fn sqlite_at(roster: &Roster, path: &Path) -> anyhow::Result<Database> {
        let url = format!("sqlite://{}", path.display());
        let store = Store::connect(&url, &roster::store::StoreOptions::default()).await?;
        Self::prepare(roster, url, store, None).await
    }

    async fn prepare(roster: &Roster, url: String, store: Store, db: Option<TestDb>) -> anyhow::Result<Database> {
        Migrator::new(&store, &roster::migrations()).up(None).await?;
        roster.run(&url, &["tenant", "create", TENANT, "--name", "Fault tests"])?;
        let key = roster.run(&url, &["apikey", "create", "--tenant", TENANT, "--role", "admin", "--name", "faults"])?;
        Ok(Database { url, store, key, _db: db })
    }

    /// `roster audit verify` of the scenarios' tenant.
    pub fn verify_audit(&self, roster: &Roster) -> anyhow::Result<()> {
        roster.run(&self.url, &["audit", "verify", "--tenant", TENANT]).map(|_| ()).context("the audit chain")
    }

    /// The tenant's id.
    pub async fn tenant_id(&self) -> anyhow::Result<uuid::Uuid> {
        let (id,): (uuid::Uuid,) =
            self.store.query_one("SELECT id FROM tenants WHERE slug = $1", vec![TENANT.into()]).await?;
        Ok(id)
    }
}

/// What a server answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub content_type: Option<String>,
}

/// A client of one server, with a key.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Api {
    pub fn new(base: &str, key: &str, timeout: Duration) -> Api {
        let http = reqwest::Client::builder().timeout(timeout).build().expect("an HTTP client");
        Api { http, base: base.to_owned(), key: key.to_owned() }
    }

    /// Send a request; `Err` when no answer came (refused, reset, timed out).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        reply(request.send().await?).await
    }

    pub async fn get(&self, path: &str) -> Result<Reply, reqwest::Error> {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }

    /// `POST …/ingest/bugs` of the scenarios' tenant with an NDJSON body.
    pub async fn ingest_bugs(&self, ndjson: String) -> Result<Reply, reqwest::Error> {
        let response = self
            .http
            .post(format!("{}/v1/tenants/{TENANT}/ingest/bugs", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/x-ndjson")
            .body(ndjson)
            .send()
            .await?;
        reply(response).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Reply, reqwest::Error> {
        self.send(reqwest::Method::POST, path, Some(body), &[]).await
    }
}

/// A response read whole: its status, its body (JSON, or the text as a JSON string), its content type.
async fn reply(response: reqwest::Response) -> Result<Reply, reqwest::Error> {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = response.bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Ok(Reply { status, body, content_type })
}

/// Users of the scenarios' tenant, by path.
pub fn users_path() -> String {
    format!("/v1/tenants/{TENANT}/users")
}

/// A failed check: what was expected, in words.
pub fn check(condition: bool, what: impl FnOnce() -> String) -> anyhow::Result<()> {
    if !condition {
        bail!("{}", what());
    }
    Ok(())
}
