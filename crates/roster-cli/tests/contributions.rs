//! Contributions end to end: ingest over HTTP and with the real binary (file, stdin, strict, a killed ingest re-run),
//! and the reports.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use roster::principal::Role;
use roster::store::Backend;
use roster::testing::TestDb;
use serde_json::{json, Value};

fn bug(id: i64, author: Option<&str>, day: u32) -> Value {
    let author = author.map_or(json!({}), |name| json!({"name": name}));
    json!({"id": id, "title": format!("bug {id}"), "severity": "low", "status": "accepted",
        "reported_at": format!("2026-11-{day:02}T10:00:00Z"), "known": false, "author": author, "test": {"id": 100},
        "steps": ["Open the page", "Do the thing", "Observe"]})
}

fn bugs_export(bugs: &[Value]) -> String {
    json!({ "bugs": bugs }).to_string()
}

impl common::Server {
    async fn ingest(&self, path: &str, key: &str, body: String) -> common::Reply {
        self.send_raw(Method::POST, path, key, body).await
    }

    async fn send_raw(&self, method: Method, path: &str, key: &str, body: String) -> common::Reply {
        let response = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        common::Reply { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }
}

e2e_test!(ingest_over_http_then_rank_and_list, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let records: Vec<Value> = (0..40)
        .map(|i| {
            bug(
                i,
                if i % 10 == 9 { None } else { Some(["Ana", "Bruno", "Carla"][(i % 3) as usize]) },
                1 + (i % 20) as u32,
            )
        })
        .collect();
    let reply = server.ingest("/v1/tenants/acme/ingest/bugs?batch_size=7", &key, bugs_export(&records)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["records"], 40);
    assert_eq!(reply.body["bugs"], json!({"inserted": 40, "updated": 0, "unchanged": 0}));
    assert_eq!(reply.body["users"], json!({"created": 3, "updated": 0}));
    assert_eq!(reply.body["batches"], 6);
    let again = server.ingest("/v1/tenants/acme/ingest/bugs", &key, bugs_export(&records)).await;
    assert_eq!(again.body["bugs"], json!({"inserted": 0, "updated": 0, "unchanged": 40}));

    let tests = format!(
        "{}\n{}\n",
        json!({"id": 1, "title": "t1", "testing_type": "rapid", "created_by": "Dora", "submitted_by": "Ana",
               "end_at": "2026-11-20T00:00:00Z"}),
        json!({"id": 2, "title": "t2", "testing_type": "rapid", "created_by": "Dora", "start_at": "2026-11-21T00:00:00Z"})
    );
    let reply = server.ingest("/v1/tenants/acme/ingest/tests", &key, tests).await;
    assert_eq!(reply.body["tests"]["inserted"], 2, "{}", reply.body);

    let top = server.get("/v1/tenants/acme/contributors/top?user_type=tester&limit=2", &key).await;
    assert_eq!(top.status, StatusCode::OK, "{}", top.body);
    let ranked: Vec<(String, i64)> = top.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["user"]["username"].as_str().unwrap().to_owned(), c["count"].as_i64().unwrap()))
        .collect();
    // 36 named bugs: Ana 12 (i % 3 == 0), Bruno 12, Carla 12 minus the nameless ones (9, 19, 29, 39)
    let expected: Vec<(String, i64)> = {
        let mut counts = std::collections::BTreeMap::new();
        for i in 0..40 {
            if i % 10 != 9 {
                *counts.entry(["Ana", "Bruno", "Carla"][(i % 3) as usize].to_owned()).or_insert(0) += 1;
            }
        }
        let mut v: Vec<(String, i64)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(2);
        v
    };
    assert_eq!(ranked, expected);
    let customers = server.get("/v1/tenants/acme/contributors/top?user_type=customer", &key).await;
    assert_eq!(customers.body["items"][0]["user"]["username"], "Dora");
    assert_eq!(customers.body["items"][0]["count"], 2);

    let active = server.get("/v1/tenants/acme/users/active?days=3650&limit=500", &key).await;
    assert_eq!(active.status, StatusCode::OK);
    assert_eq!(active.body["items"].as_array().unwrap().len(), 4);

    let ana = server.get("/v1/tenants/acme/users/by-username/Ana", &key).await;
    let id = ana.body["id"].as_str().unwrap().to_owned();
    let bugs = server.get(&format!("/v1/tenants/acme/users/{id}/bugs?limit=5"), &key).await;
    assert_eq!(bugs.body["items"].as_array().unwrap().len(), 5);
    assert!(bugs.body["next_cursor"].is_string());
    let submitted = server.get(&format!("/v1/tenants/acme/users/{id}/tests?role=submitted"), &key).await;
    assert_eq!(submitted.body["items"][0]["id"], 1);
    let activity = server.get(&format!("/v1/tenants/acme/users/{id}/activity?bucket=week&days=3650"), &key).await;
    assert_eq!(activity.status, StatusCode::OK);
    let total: u64 = activity.body["items"].as_array().unwrap().iter().map(|b| b["bugs"].as_u64().unwrap()).sum();
    let start = activity.body["items"][0]["start"].as_str().expect("a date, as the OpenAPI document says");
    assert!(time::Date::parse(start, time::macros::format_description!("[year]-[month]-[day]")).is_ok(), "{start}");
    assert_eq!(total, 12);

    let metrics = server.send(Method::GET, "/metrics", None, None, &[]).await;
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains("roster_ingest_records_total{kind=\"bugs\"}"), "{text}");
    let openapi = server.send(Method::GET, "/openapi.json", None, None, &[]).await;
    for path in [
        "/v1/tenants/{tenant}/ingest/bugs",
        "/v1/tenants/{tenant}/contributors/top",
        "/v1/tenants/{tenant}/users/active",
    ] {
        assert!(openapi.body["paths"].get(path).is_some(), "{path} is documented");
    }

    // bad parameters name themselves
    for path in [
        "/v1/tenants/acme/contributors/top?limit=0",
        "/v1/tenants/acme/contributors/top?user_type=robot",
        "/v1/tenants/acme/users/active?days=-1",
        &format!("/v1/tenants/acme/users/{id}/tests?role=owner"),
        &format!("/v1/tenants/acme/users/{id}/activity?bucket=month"),
        "/v1/tenants/acme/ingest/bugs?batch_size=0",
    ] {
        let method = if path.contains("ingest") { Method::POST } else { Method::GET };
        let reply = server.send_raw(method, path, &key, "[]".into()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", reply.body);
    }
});

e2e_test!(bad_ingests_are_answered_clearly_and_lose_nothing, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    // a rejected record: reported with its index, the rest lands
    let body = json!({"bugs": [bug(1, Some("Ana"), 1), {"id": "x"}, bug(2, Some("Ana"), 2)]}).to_string();
    let reply = server.ingest("/v1/tenants/acme/ingest/bugs", &key, body.clone()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["rejected"], json!([{"index": 1, "reason": "id must be an integer, not a string"}]));
    assert_eq!(server.count("bugs").await, 2);
    // strict: 422 and nothing written
    let strict = json!({"bugs": [bug(3, Some("Ana"), 1), {"id": 4, "known": "yes"}]}).to_string();
    let reply = server.ingest("/v1/tenants/acme/ingest/bugs?strict=true", &key, strict).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    assert_eq!(reply.body["type"], "urn:roster:problem:records-rejected");
    assert_eq!(reply.body["report"]["rejected"][0]["index"], 1);
    assert_eq!(server.count("bugs").await, 2);
    // malformed JSON: 400 naming the byte offset
    let broken = "{\"bugs\": [{\"id\": 5}, {\"id\": 6,,}]}".to_owned();
    let reply = server.ingest("/v1/tenants/acme/ingest/bugs?strict=true", &key, broken.clone()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let offset = broken.find(",,").unwrap() + 1;
    assert!(reply.body["detail"].as_str().unwrap().contains(&format!("at byte {offset}")), "{}", reply.body);
    assert_eq!(server.count("bugs").await, 2, "strict: nothing of it");
    // too large by its length: 413 before anything is read
    let status = server.post_oversized("/v1/tenants/acme/ingest/bugs", &key, 11 * 1024 * 1024).await;
    assert_eq!(status, 413);
    // not a JSON media type
    let reply = reqwest::Client::new()
        .post(format!("{}/v1/tenants/acme/ingest/bugs", server.base))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body("id,title\n1,x\n")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // not JSON at all
    let reply = server.ingest("/v1/tenants/acme/ingest/tests", &key, "hello".into()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // users may not ingest or read the rankings; another tenant's people are not found
    let user_key = server.tenant_with_key("small", Role::User).await;
    let reply = server.ingest("/v1/tenants/small/ingest/bugs", &user_key, "[]".into()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(server.get("/v1/tenants/small/contributors/top", &user_key).await.status, StatusCode::FORBIDDEN);
    let other_key = server.tenant_with_key("other", Role::Admin).await;
    let ana = server.get("/v1/tenants/acme/users/by-username/Ana", &key).await;
    let id = ana.body["id"].as_str().unwrap();
    assert_eq!(
        server.get(&format!("/v1/tenants/other/users/{id}/bugs"), &other_key).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get(&format!("/v1/tenants/acme/users/{id}/bugs"), &other_key).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.count("bugs").await, 2);
});

fn roster(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .arg("--database-url")
        .arg(&db.url)
        .env_remove("ROSTER_DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run roster");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json on stdout")
}

async fn cli_ingest_and_reports(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else { return };
    assert!(roster(&db, &["migrate", "up"], None).status.success());
    assert!(roster(&db, &["tenant", "create", "acme", "--name", "Acme"], None).status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bugs.json");
    let records: Vec<Value> =
        (0..30).map(|i| bug(i, Some(["Ana", "Bruno"][(i % 2) as usize]), 1 + (i % 5) as u32)).collect();
    std::fs::write(&file, bugs_export(&records)).unwrap();

    let out = roster(&db, &["ingest", "bugs", file.to_str().unwrap(), "--tenant", "acme"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("30 inserted, 0 updated, 0 unchanged"), "{table}");
    assert!(table.contains("2 created"), "{table}");

    // from standard input, NDJSON, with a product for cycles that name none
    let tests = format!(
        "{}\n{}\n",
        json!({"id": 1, "title": "t1", "testing_type": "rapid", "created_by": "Dora"}),
        json!({"id": 2, "title": "t2", "testing_type": "rapid", "created_by": "Dora", "product_id": 9})
    );
    let out = roster(
        &db,
        &["ingest", "tests", "-", "--tenant", "acme", "--product-id", "7", "--format", "json"],
        Some(&tests),
    );
    let report = json_of(&out);
    assert_eq!(report["tests"]["inserted"], 2);
    let products: Vec<(i64, Option<i64>)> =
        db.store.query("SELECT id, product_id FROM tests ORDER BY id", vec![]).await.unwrap();
    assert_eq!(products, vec![(1, Some(7)), (2, Some(9))]);

    // strict with a bad record: exit 1, the rejection reported, nothing written
    let bad = json!([bug(100, Some("Eve"), 1), {"id": 101, "title": 5}]).to_string();
    let out = roster(&db, &["ingest", "bugs", "-", "--tenant", "acme", "--strict", "--format", "json"], Some(&bad));
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rejected"][0]["index"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was written"));
    let eve: Vec<(i64,)> = db.store.query("SELECT COUNT(*) FROM users WHERE username = 'Eve'", vec![]).await.unwrap();
    assert_eq!(eve[0].0, 0);

    // malformed JSON: exit 1, one line naming the byte
    let out = roster(&db, &["ingest", "bugs", "-", "--tenant", "acme"], Some("[{\"id\": 1} {\"id\": 2}]"));
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("malformed JSON at byte 11"), "{error}");
    // usage mistakes: exit 2
    assert_eq!(roster(&db, &["ingest", "bugs", "/no/such/file", "--tenant", "acme"], None).status.code(), Some(2));
    assert_eq!(roster(&db, &["ingest", "bugs", "-", "--tenant", "nope"], Some("[]")).status.code(), Some(2));
    assert_eq!(
        roster(&db, &["ingest", "bugs", "-", "--tenant", "acme", "--product-id", "1"], Some("[]")).status.code(),
        Some(2)
    );
    assert_eq!(roster(&db, &["tenant", "list", "--format", "csv"], None).status.code(), Some(2));

    let top = json_of(&roster(
        &db,
        &["report", "contributors", "--tenant", "acme", "--type", "tester", "--format", "json"],
        None,
    ));
    let names: Vec<&str> =
        top["items"].as_array().unwrap().iter().map(|c| c["user"]["username"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Ana", "Bruno"], "15 each: ties by username");
    let csv = roster(&db, &["report", "contributors", "--tenant", "acme", "--format", "csv"], None);
    let text = String::from_utf8_lossy(&csv.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("username,type,first_seen,last_seen,id,count"));
    assert!(lines.next().unwrap().starts_with("Ana,tester,2026-11-01T10:00:00Z,2026-11-05T10:00:00Z,"));
    let active = roster(&db, &["report", "active-users", "--tenant", "acme", "--days", "36500"], None);
    let text = String::from_utf8_lossy(&active.stdout);
    assert_eq!(text.lines().count(), 4, "a header and Ana, Bruno, Dora: {text}");
}

roster::backend_test!(the_cli_ingests_files_and_stdin_and_prints_reports, cli_ingest_and_reports);

/// Kill `roster ingest` mid-way (SIGKILL), run it again, and compare with a clean run into another tenant.
async fn killed_ingest_completes_when_run_again(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else { return };
    assert!(roster(&db, &["migrate", "up"], None).status.success());
    for slug in ["killed", "clean"] {
        assert!(roster(&db, &["tenant", "create", slug, "--name", slug], None).status.success());
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bugs.ndjson");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    for i in 0..60_000 {
        let name = format!("Tester {}", (i * 7919) % 997);
        writeln!(out, "{}", bug(i, (i % 41 != 0).then_some(name.as_str()), 1 + (i % 28) as u32)).unwrap();
    }
    drop(out);
    let ingest = |tenant: &str| {
        Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["ingest", "bugs", file.to_str().unwrap(), "--tenant", tenant, "--batch-size", "500"])
            .args(["--database-url", &db.url, "--format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let landed = || async {
        let n: (i64,) = db
            .store
            .query_one(
                "SELECT COUNT(*) FROM bugs b JOIN tenants t ON t.id = b.tenant_id WHERE t.slug = 'killed'",
                vec![],
            )
            .await
            .unwrap();
        n.0
    };
    let mut child = ingest("killed");
    let started = Instant::now();
    while landed().await < 2_000 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = landed().await;
    assert!(at_kill > 0 && at_kill < 60_000, "killed mid-way: {at_kill}");
    assert_eq!(at_kill % 500, 0, "whole batches only: {at_kill}");

    let rerun = ingest("killed").wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&rerun.stdout).unwrap();
    assert_eq!(report["bugs"]["unchanged"].as_i64().unwrap(), at_kill, "{report}");
    assert!(ingest("clean").wait_with_output().unwrap().status.success());

    let state = |slug: &'static str| {
        let store = db.store.clone();
        async move {
            let rows: Vec<(i64, Option<String>, String)> = store
                .query(
                    "SELECT b.id, u.username, CAST(b.raw_data AS TEXT) FROM bugs b JOIN tenants t ON t.id = b.tenant_id \
                     LEFT JOIN users u ON u.tenant_id = b.tenant_id AND u.id = b.reported_by_user_id \
                     WHERE t.slug = $1 ORDER BY b.id",
                    vec![slug.into()],
                )
                .await
                .unwrap();
            let people: Vec<(String, String, Option<time::OffsetDateTime>, Option<time::OffsetDateTime>)> = store
                .query(
                    "SELECT u.username, u.user_type, u.first_seen, u.last_seen FROM users u \
                     JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = $1 ORDER BY u.username",
                    vec![slug.into()],
                )
                .await
                .unwrap();
            (rows, people)
        }
    };
    let (killed, clean) = (state("killed").await, state("clean").await);
    assert_eq!(killed.0.len(), 60_000);
    assert_eq!(killed.1.len(), 997);
    assert!(killed == clean, "the re-run equals a clean run");
}

roster::backend_test!(
    a_killed_ingest_leaves_whole_batches_and_completes_when_run_again,
    killed_ingest_completes_when_run_again
);

/// A body without a length (chunked) is stopped at the limit as it arrives: 413 with the report of what landed — every
/// whole record read before the limit, in whole transactions — and exactly that in the database.
async fn chunked_body_past_the_limit(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = roster::config::Config { ingest_body_limit_bytes: 64 * 1024, ..roster::config::Config::default() };
    let Some(server) =
        common::Server::start_with(backend, config, std::sync::Arc::new(roster::clock::SystemClock)).await
    else {
        return;
    };
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let lines: String = (0..2_000).map(|i| format!("{}\n", bug(i, Some("Ana"), 1))).collect();
    assert!(lines.len() > 64 * 1024 * 4, "well past the limit");
    let stream = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://")).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /v1/tenants/acme/ingest/bugs?batch_size=50 HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {key}\r\n\
         content-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    let sender = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        for piece in lines.as_bytes().chunks(8 * 1024) {
            let chunk = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n").await;
    });
    let mut response = Vec::new();
    reader.read_to_end(&mut response).await.unwrap();
    sender.abort();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    let body: Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or_default().trim()).unwrap_or_default();
    let landed = body["report"]["bugs"]["inserted"].as_i64().unwrap_or(-1);
    assert!(landed > 0 && landed < 2_000, "{text}");
    assert_eq!(body["report"]["records"].as_i64(), Some(landed), "every record read landed: {text}");
    assert!(body["detail"].as_str().unwrap_or_default().contains(&format!("{landed} records before it were written")));
    assert_eq!(server.count("bugs").await, landed);
}

roster::backend_test!(a_chunked_body_past_the_limit_answers_413_keeping_whole_batches, chunked_body_past_the_limit);

e2e_test!(records_sent_as_the_wrong_kind_are_rejected_not_stored, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let bugs = bugs_export(&[bug(1, Some("Ana"), 1), bug(2, Some("Bo"), 2)]);
    let reply = server.ingest("/v1/tenants/acme/ingest/tests", &key, bugs.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["tests"], json!({"inserted": 0, "updated": 0, "unchanged": 0}));
    let rejected = reply.body["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("this is a bug report, not a test cycle"), "{}", reply.body);
    assert_eq!((server.count("tests").await, server.count("users").await), (0, 1), "only the bootstrap sysadmin");
    // strict says so with 422 and writes nothing; the right route takes them
    let strict = server.ingest("/v1/tenants/acme/ingest/tests?strict=true", &key, bugs.clone()).await;
    assert_eq!(strict.status, StatusCode::UNPROCESSABLE_ENTITY);
    let right = server.ingest("/v1/tenants/acme/ingest/bugs", &key, bugs).await;
    assert_eq!(right.body["bugs"]["inserted"], 2, "{}", right.body);
});

e2e_test!(records_without_their_optional_fields_keep_their_people, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    // the seed system stores severity, title and testing_type as optional: such records and their people land
    let bugs = "{\"id\": 1, \"author\": {\"name\": \"Ana\"}, \"test\": {\"id\": 5}}\n\
                {\"id\": 2, \"title\": \"no severity\", \"author\": {\"name\": \"Bo\"}}\n\
                {\"id\": 3, \"title\": \"neither author nor test\", \"severity\": \"low\"}\n";
    let reply = server.ingest("/v1/tenants/acme/ingest/bugs", &key, bugs.into()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["bugs"]["inserted"], 2, "{}", reply.body);
    assert_eq!(reply.body["users"]["created"], 2, "{}", reply.body);
    let rejected = reply.body["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{}", reply.body);
    assert!(rejected[0]["reason"].as_str().unwrap().contains("author and test are missing"), "{}", reply.body);
    let tests = json!({"exploratory_tests": [
        {"id": 100, "created_by": "Carla", "start_at": "2026-11-01T10:00:00Z"},
        {"id": 101, "title": "no type", "created_by": "Dora", "testing_type": null},
    ]});
    let reply = server.ingest("/v1/tenants/acme/ingest/tests", &key, tests.to_string()).await;
    assert_eq!(reply.body["tests"]["inserted"], 2, "{}", reply.body);
    assert_eq!(reply.body["users"]["created"], 2, "{}", reply.body);
    let names = server.get("/v1/tenants/acme/users?user_type=customer", &key).await;
    let found: Vec<&str> =
        names.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(found.len(), 2, "{found:?}");
});

e2e_test!(an_ingest_links_records_to_accounts_but_never_changes_them_and_says_so, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let body = json!({"username": "Ana", "email": "ana@example.com", "password": "a password 123"});
    let ana = server.post("/v1/tenants/acme/users", &key, body).await;
    assert_eq!(ana.status, StatusCode::CREATED, "{}", ana.body);
    let body = json!({"username": "Boss", "password": "a password 123", "role": "admin"});
    assert_eq!(server.post("/v1/tenants/acme/users", &key, body).await.status, StatusCode::CREATED);
    let ana_id = ana.body["id"].as_str().unwrap().to_owned();
    let before = server.get(&format!("/v1/tenants/acme/users/{ana_id}"), &key).await.body;

    let bugs = bugs_export(&[bug(1, Some("Ana"), 1), bug(2, Some("Boss"), 2), bug(3, Some("Carla"), 3)]);
    let reply = server.ingest("/v1/tenants/acme/ingest/bugs", &key, bugs).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["users"]["created"], 1, "only Carla is new: {}", reply.body);
    assert_eq!(
        reply.body["users"]["linked_accounts"],
        json!([{"username": "Ana", "role": "user"}, {"username": "Boss", "role": "admin"}]),
        "{}",
        reply.body
    );
    // the accounts are as they were (no export data merged into them), and their records are theirs
    let after = server.get(&format!("/v1/tenants/acme/users/{ana_id}"), &key).await.body;
    assert_eq!((&after["raw_data"], &after["version"]), (&before["raw_data"], &before["version"]), "{after}");
    let hers = server.get(&format!("/v1/tenants/acme/users/{ana_id}/bugs"), &key).await;
    assert_eq!(hers.body["items"].as_array().map(Vec::len), Some(1), "{}", hers.body);
});
