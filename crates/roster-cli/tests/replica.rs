//! `reports_database_url`: report queries go to a read replica, everything else to the primary. A second PostgreSQL
//! database plays the replica: a copy of the primary taken with `roster backup` / `roster restore`, which the primary
//! then moves past, so an answer shows which database it came from.

mod common;

use std::sync::Arc;

use reqwest::StatusCode;
use roster::clock::SystemClock;
use roster::config::Config;
use roster::principal::Role;
use roster::store::Backend;
use roster::testing::TestDb;
use serde_json::{json, Value};

fn roster(url: &str, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let env = [env, &[("ROSTER_SECRET_KEY", common::TEST_SECRET_KEY)]].concat();
    common::roster_with(&[args, &["--database-url", url]].concat(), &env)
}

fn bugs(first: i64, count: i64, author: &str) -> Value {
    let at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    let records: Vec<Value> = (first..first + count)
        .map(|id| {
            json!({"id": id, "title": format!("bug {id}"), "severity": "low", "status": "accepted",
            "reported_at": at, "author": {"name": author}, "test": {"id": 1}})
        })
        .collect();
    json!({ "bugs": records })
}

fn names(top: &Value) -> Vec<(String, i64)> {
    top["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["user"]["display_name"].as_str().unwrap().to_owned(), c["count"].as_i64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_queries_read_the_replica_and_everything_else_the_primary() {
    let Some(replica) = TestDb::of_empty(Backend::Postgres).await else { return };
    let config = Config {
        secret_key: Some(common::TEST_SECRET_KEY.into()),
        reports_database_url: Some(replica.url.clone()),
        ..Config::default()
    };
    let server = common::Server::start_with(Backend::Postgres, config, Arc::new(SystemClock)).await.unwrap();
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let ingest = server.post("/v1/tenants/acme/ingest/bugs", &admin, bugs(1, 3, "Ana")).await;
    assert_eq!(ingest.status, StatusCode::OK, "{:?}", ingest.body);

    // the replica catches up with the primary as it is now
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("primary.backup");
    let made = roster(&server.db.url, &[], &["backup", "--out", file.to_str().unwrap()]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let restored = roster(&replica.restore_url().await, &[], &["restore", file.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));

    // then the primary moves on: Bruno's bugs are not on the replica
    let ingest = server.post("/v1/tenants/acme/ingest/bugs", &admin, bugs(100, 5, "Bruno")).await;
    assert_eq!(ingest.status, StatusCode::OK, "{:?}", ingest.body);

    let top = server.get("/v1/tenants/acme/contributors/top", &admin).await;
    assert_eq!(top.status, StatusCode::OK, "{:?}", top.body);
    assert_eq!(names(&top.body), [("Ana".to_owned(), 3)], "the ranking is the replica's");
    let active = server.get("/v1/tenants/acme/users/active?days=3650", &admin).await;
    let seen: Vec<&str> =
        active.body["items"].as_array().unwrap().iter().map(|u| u["display_name"].as_str().unwrap()).collect();
    assert_eq!(seen, ["Ana"], "{:?}", active.body);
    // a plain read is the primary's
    let listed = server.get("/v1/tenants/acme/users?q=bruno", &admin).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "{:?}", listed.body);

    // the command line's reports follow the same setting
    let args = ["report", "contributors", "--tenant", "acme", "--format", "json"];
    let from_replica = roster(&server.db.url, &[("ROSTER_REPORTS_DATABASE_URL", &replica.url)], &args);
    assert!(from_replica.status.success(), "{}", String::from_utf8_lossy(&from_replica.stderr));
    let from_replica: Value = serde_json::from_slice(&from_replica.stdout).unwrap();
    assert_eq!(names(&from_replica), [("Ana".to_owned(), 3)]);
    let from_primary: Value = serde_json::from_slice(&roster(&server.db.url, &[], &args).stdout).unwrap();
    assert_eq!(names(&from_primary), [("Bruno".to_owned(), 5), ("Ana".to_owned(), 3)]);

    // SQLite has no replica to name
    let sqlite = format!("sqlite://{}", dir.path().join("x.db").display());
    let refused = roster(&sqlite, &[("ROSTER_REPORTS_DATABASE_URL", &replica.url)], &args);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("reports_database_url"));
}
