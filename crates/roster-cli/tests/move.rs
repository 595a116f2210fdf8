//! `roster migrate-data`: a SQLite database a server filled (users with passwords and TOTP, sessions, grants,
//! clients, bug reports and test cycles, practice sessions, an audit log of all of it) moves to PostgreSQL, where a
//! server signs its users in with their passwords and authenticator codes and the audit chain verifies; then back
//! to SQLite, with the same checksum for every table both ways. And the refusals: a non-empty target, two databases
//! of one backend, a source behind the binary.

mod common;

use std::process::Output;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster::clock::SystemClock;
use roster::config::Config;
use roster::principal::Role;
use roster::store::Backend;
use roster::testing::TestDb;
use serde_json::{json, Value};

fn roster(args: &[&str]) -> Output {
    common::roster_with(args, &[("ROSTER_SECRET_KEY", common::TEST_SECRET_KEY)])
}

fn moved(from: &str, to: &str) -> Value {
    let output = roster(&["migrate-data", "--from", from, "--to", to, "--batch-size", "7", "--format", "json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn refused(output: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(says), "expected {says:?} in {stderr}");
}

fn step() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 30
}

fn config() -> Config {
    Config { secret_key: Some(common::TEST_SECRET_KEY.into()), ..Config::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filled_database_moves_to_postgresql_and_back_with_every_row() {
    if std::env::var(roster::testing::POSTGRES_URL_VAR).is_err() {
        eprintln!("SKIPPED: moving to PostgreSQL needs {}", roster::testing::POSTGRES_URL_VAR);
        return;
    }
    let source = common::Server::start_with(Backend::Sqlite, config(), Arc::new(SystemClock)).await.unwrap();
    let admin = source.tenant_with_key("acme", Role::Admin).await;
    let ana = source
        .post("/v1/tenants/acme/users", &admin, json!({"email": "ana@example.com", "password": "correct horse 1"}))
        .await;
    assert_eq!(ana.status, StatusCode::CREATED);
    let login = json!({"email": "ana@example.com", "password": "correct horse 1"});
    let session = source.send(Method::POST, "/v1/tenants/acme/auth/login", None, Some(&login), &[]).await;
    let token = session.body["token"].as_str().unwrap().to_owned();
    let enrolment = source.send(Method::POST, "/v1/me/totp/enroll", Some(&token), None, &[]).await;
    let secret =
        base32::decode(base32::Alphabet::Rfc4648 { padding: false }, enrolment.body["secret"].as_str().unwrap())
            .unwrap();
    let confirmed = source
        .send(
            Method::POST,
            "/v1/me/totp/confirm",
            Some(&token),
            Some(&json!({"code": common::code_at(&secret, step())})),
            &[],
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::NO_CONTENT);
    let agent = source.post("/v1/tenants/acme/agents", &admin, json!({"name": "reports"})).await;
    assert_eq!(agent.status, StatusCode::CREATED, "{:?}", agent.body);
    let id = ana.body["id"].as_str().unwrap();
    let grant = source
        .send(
            Method::PUT,
            &format!("/v1/tenants/acme/users/{id}/permissions/reports"),
            Some(&admin),
            Some(&json!({"can_read": true, "expires_at": "2099-01-01T00:00:00Z"})),
            &[],
        )
        .await;
    assert!(grant.status.is_success(), "{:?}", grant.body);
    let client = json!({"name": "João da Silva", "cpf": "123.456.789-09", "birth_date": "1987-04-23"});
    assert_eq!(source.post("/v1/tenants/acme/clients", &admin, client).await.status, StatusCode::CREATED);
    let bugs: Vec<Value> = (1..=25)
        .map(|i| {
            let author = ["Ana", "Bruno"][i % 2];
            json!({"id": i, "title": format!("bug {i}"), "severity": "low", "status": "accepted",
                "reported_at": "2026-11-30T12:00:00Z", "author": {"name": author}, "test": {"id": 3}})
        })
        .collect();
    let ingested = source.post("/v1/tenants/acme/ingest/bugs", &admin, json!({"bugs": bugs})).await;
    assert_eq!(ingested.body["bugs"]["inserted"], json!(25), "{:?}", ingested.body);
    let cycle = json!({"exploratory_test": {"id": 3, "title": "rapid", "testing_type": "rapid", "created_by": "Carla",
        "start_at": "2026-11-29T09:00:00Z"}});
    let ingested = source.post("/v1/tenants/acme/ingest/tests", &admin, cycle).await;
    assert_eq!(ingested.body["tests"]["inserted"], json!(1), "{:?}", ingested.body);
    let demo = roster(&["seed", "--demo", "--database-url", &source.db.url]);
    assert!(demo.status.success(), "{}", String::from_utf8_lossy(&demo.stderr));

    // to PostgreSQL
    let target = TestDb::of_empty(Backend::Postgres).await.unwrap();
    let there = moved(&source.db.url, &target.url);
    let rows = |report: &Value| -> Vec<(String, i64, String)> {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["table"].as_str().unwrap().into(),
                    t["rows"].as_i64().unwrap(),
                    t["checksum"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let counted: Vec<(String, i64)> = roster::backup::counts(&source.db.store).await.unwrap().into_iter().collect();
    let mut reported: Vec<(String, i64)> = rows(&there).into_iter().map(|(t, n, _)| (t, n)).collect();
    reported.sort();
    assert_eq!(reported, counted, "every table, every row");
    let filled = [
        "users",
        "sessions",
        "totp_recovery_codes",
        "agent_permissions",
        "clients",
        "bugs",
        "tests",
        "contribution_totals",
        "training_sessions",
        "chat_messages",
        "user_achievements",
        "audit_log",
        "api_keys",
    ];
    for table in filled {
        assert!(reported.iter().any(|(t, n)| t == table && *n > 0), "{table} has rows to move");
    }
    assert!(there["check"]["audit"].as_array().unwrap().iter().all(|c| c["ok"] == json!(true)), "{there}");

    // a server on PostgreSQL signs Ana in: her password hash and sealed TOTP secret came across
    let moved_server = common::Server::start_on(target, config(), Arc::new(SystemClock)).await;
    let asked = moved_server.send(Method::POST, "/v1/tenants/acme/auth/login", None, Some(&login), &[]).await;
    assert_eq!(asked.body["type"], "urn:roster:problem:totp-required", "{:?}", asked.body);
    let mut with_code = login.clone();
    with_code["totp_code"] = json!(common::code_at(&secret, step() + 1));
    let signed_in = moved_server.send(Method::POST, "/v1/tenants/acme/auth/login", None, Some(&with_code), &[]).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    let check =
        moved_server.get(&format!("/v1/tenants/acme/users/{id}/permissions/reports/check?action=read"), &admin).await;
    assert_eq!(check.body["allowed"], json!(true), "the API key and the grant came across: {:?}", check.body);

    // and back to SQLite (before the server there wrote anything of its own)
    drop(moved_server);
    let copy = TestDb::of_empty(Backend::Postgres).await.unwrap();
    moved(&source.db.url, &copy.url);
    let back = TestDb::of_empty(Backend::Sqlite).await.unwrap();
    // the URLs kept off the command line (a password there is readable by other local users): --from in a file,
    // --to in the environment
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("from.url");
    std::fs::write(&from_file, format!("{}\n", copy.url)).unwrap();
    let output = common::roster_with(
        &["migrate-data", "--from-file", from_file.to_str().unwrap(), "--batch-size", "7", "--format", "json"],
        &[("ROSTER_SECRET_KEY", common::TEST_SECRET_KEY), ("ROSTER_MIGRATE_TO", &back.url)],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let home: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows(&home), rows(&there), "the same rows and checksums both ways");

    // refusals: a target with data, one backend twice, a source behind the binary
    refused(&roster(&["migrate-data", "--from", &copy.url, "--to", &back.url]), "holds data");
    let other = TestDb::of_empty(Backend::Sqlite).await.unwrap();
    refused(&roster(&["migrate-data", "--from", &back.url, "--to", &other.url]), "both databases are sqlite");
    let behind = TestDb::of_empty(Backend::Sqlite).await.unwrap();
    roster::migrate::Migrator::new(&behind.store, &roster::migrations()).up(Some(12)).await.unwrap();
    let empty = TestDb::of_empty(Backend::Postgres).await.unwrap();
    refused(&roster(&["migrate-data", "--from", &behind.url, "--to", &empty.url]), "roster migrate up");
    refused(&roster(&["migrate-data", "--from", "mysql://x", "--to", &empty.url]), "--from");
    refused(&roster(&["migrate-data", "--from-file", "/no/such/file", "--to", &empty.url]), "--from-file");
    // a source sealed under another key: the move names the key it needs, before anything is copied
    let other_key = "b3RoZXIgc2VjcmV0IGtleSBvZiB0aGlydHktdHdvIGJ5dGU=";
    let said = common::roster_with(
        &["migrate-data", "--from", &copy.url, "--to", &other.url],
        &[("ROSTER_SECRET_KEY", other_key)],
    );
    refused(&said, "the copy is sealed under the secret key with fingerprint");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_written_to_during_the_move_fails_the_move() {
    if std::env::var(roster::testing::POSTGRES_URL_VAR).is_err() {
        eprintln!("SKIPPED: moving to PostgreSQL needs {}", roster::testing::POSTGRES_URL_VAR);
        return;
    }
    let source = Arc::new(common::Server::start_with(Backend::Sqlite, config(), Arc::new(SystemClock)).await.unwrap());
    let admin = source.tenant_with_key("acme", Role::Admin).await;
    for i in 0..200 {
        let reply = source.post("/v1/tenants/acme/users", &admin, json!({"username": format!("before-{i}")})).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (source, admin, stop) = (source.clone(), admin.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let body = json!({"username": format!("during-{n}")});
                assert_eq!(source.post("/v1/tenants/acme/users", &admin, body).await.status, StatusCode::CREATED);
            }
            n
        })
    };
    let target = TestDb::of_empty(Backend::Postgres).await.unwrap();
    let (from, to) = (source.db.url.clone(), target.url.clone());
    let output = tokio::task::spawn_blocking(move || {
        roster(&["migrate-data", "--from", &from, "--to", &to, "--batch-size", "1"])
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("during the move"), "{stderr}");
}
