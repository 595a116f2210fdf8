//! A real server on a real socket over a fresh database, and a small HTTP client for it.
#![allow(dead_code)]

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster::clock::{Clock, SystemClock};
use roster::config::Config;
use roster::principal::{Actor, Role, TenantScope};
use roster::store::Backend;
use roster::testing::TestDb;
use roster::App;
use serde_json::Value;

/// The secret key of test servers (base64 of 32 bytes).
pub const TEST_SECRET_KEY: &str = "dGVzdCBzZWNyZXQga2V5IG9mIHRoaXJ0eS10d28gYnk=";

pub struct Server {
    pub base: String,
    pub db: TestDb,
    /// A sysadmin API key of the `default` tenant.
    pub root_key: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Server {
    pub async fn start(backend: Backend) -> Option<Server> {
        // Generous sign-in limits: tests that are about something else sign in many times from one address.
        let config = Config {
            signin_per_address_per_minute: 10_000,
            signin_per_account_per_minute: 10_000,
            // a secret key on both backends (SQLite would make one beside the database), so audit entries are keyed
            secret_key: Some(TEST_SECRET_KEY.into()),
            ..Config::default()
        };
        Self::start_with(backend, config, Arc::new(SystemClock)).await
    }

    /// A server with its own configuration and clock (tests of time, such as lockout expiry, move the clock).
    pub async fn start_with(backend: Backend, config: Config, clock: Arc<dyn Clock>) -> Option<Server> {
        let db = TestDb::of(backend).await?;
        Some(Self::start_on(db, config, clock).await)
    }

    /// A server on a database made elsewhere (migrated; moved or restored into, say).
    pub async fn start_on(mut db: TestDb, config: Config, clock: Arc<dyn Clock>) -> Server {
        let now = clock.now();
        let mut app = App::new(db.store.clone(), config.clone(), clock);
        if let Some(url) = &config.reports_database_url {
            let replica = roster::store::Store::connect(url, &Default::default()).await.expect("connect the replica");
            app = app.with_reports(replica);
        }
        // the test's own writes seal their audit entries with the server's key, as a second server process would
        db.store = app.state.store.clone();
        // as `roster serve` does before it writes: the database is sealed under the server's key
        roster::audit::check_key(&db.store, now).await.expect("the database is sealed under the server's key");
        roster::auth::bootstrap(&db.store, &config, now).await.expect("bootstrap");
        let tenant = roster::tenants::find(&db.store, "default").await.unwrap().unwrap();
        let scope = TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli());
        let (_, root_key) =
            roster::auth::create_api_key(&db.store, &scope, now, "tests", Role::Sysadmin, None).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.serve(listener, async move {
            let _ = stopped.await;
        }));
        Server { base, db, root_key, client: reqwest::Client::new(), stop: Some(stop) }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.send(Method::GET, path, Some(key), None, &[]).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(key), Some(&body), &[]).await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value, if_match: Option<&str>) -> Reply {
        let headers: Vec<(&str, &str)> = if_match.map(|v| vec![("if-match", v)]).unwrap_or_default();
        self.send(Method::PATCH, path, Some(key), Some(&body), &headers).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.send(Method::DELETE, path, Some(key), None, &[]).await
    }

    /// POST a JSON body of `size` bytes over a raw socket and return the status line's code. The server may answer and
    /// close before the body is sent (413), so the body is written on the side and write errors are ignored.
    pub async fn post_oversized(&self, path: &str, key: &str, size: usize) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let stream = tokio::net::TcpStream::connect(self.base.trim_start_matches("http://")).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\n\
             content-length: {size}\r\n\r\n"
        );
        let sender = tokio::spawn(async move {
            let _ = writer.write_all(head.as_bytes()).await;
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < size {
                if writer.write_all(&chunk[..chunk.len().min(size - sent)]).await.is_err() {
                    break;
                }
                sent += chunk.len();
            }
        });
        let mut response = Vec::new();
        let mut buffer = [0u8; 1024];
        while !response.windows(2).any(|w| w == b"\r\n") {
            let n = reader.read(&mut buffer).await.unwrap();
            assert!(n > 0, "connection closed without an answer");
            response.extend_from_slice(&buffer[..n]);
        }
        sender.abort();
        let line = String::from_utf8_lossy(&response);
        line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).expect("a status line")
    }

    /// Create a tenant and an API key of `role` in it.
    pub async fn tenant_with_key(&self, slug: &str, role: Role) -> String {
        let reply = self.post("/v1/tenants", &self.root_key, serde_json::json!({"slug": slug, "name": slug})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        let tenant = roster::tenants::find(&self.db.store, slug).await.unwrap().unwrap();
        let scope = TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli());
        roster::auth::create_api_key(&self.db.store, &scope, SystemClock.now(), "tests", role, None).await.unwrap().1
    }

    /// Sign `username` in to tenant `slug` with `password`: the session token.
    pub async fn sign_in(&self, slug: &str, username: &str, password: &str) -> String {
        let body = serde_json::json!({"username": username, "password": password});
        let reply = self.send(Method::POST, &format!("/v1/tenants/{slug}/auth/login"), None, Some(&body), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body["token"].as_str().unwrap().to_owned()
    }

    /// Rows of a table, straight from the database.
    pub async fn count(&self, table: &str) -> i64 {
        self.db.store.query_one::<(i64,)>(format!("SELECT COUNT(*) FROM {table}"), vec![]).await.unwrap().0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Run the real `roster` binary with exactly the `ROSTER_*` settings of `env` (none of the environment's database,
/// replica or secret key).
pub fn roster_with(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .args(args)
        .env_remove("ROSTER_DATABASE_URL")
        .env_remove("ROSTER_REPORTS_DATABASE_URL")
        .env_remove("ROSTER_SECRET_KEY")
        .current_dir(std::env::temp_dir())
        .stdin(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run roster")
}

/// Run the real `roster` binary against the test database (with the environment's secret key, or the key file
/// beside a SQLite database: that of a `roster serve` started on it).
pub fn roster(db: &TestDb, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .arg("--database-url")
        .arg(&db.url)
        .env_remove("ROSTER_DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run roster")
}

/// The JSON a successful command printed.
pub fn json_of(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json on stdout")
}

/// RFC 6238 / RFC 4226, written out: the code of a time step.
pub fn code_at(secret: &[u8], step: u64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    format!("{:06}", value % 1_000_000)
}

/// Run an end-to-end test against a server on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! e2e_test {
    ($name:ident, |$server:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $server = common::Server::start(roster::store::Backend::Sqlite).await.unwrap();
                $body.await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($server) = common::Server::start(roster::store::Backend::Postgres).await else {
                    return;
                };
                $body.await
            }
        }
    };
}
