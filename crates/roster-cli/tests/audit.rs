//! The audit log over HTTP: reading it with filters and pages, exporting it, verifying it, and a user's own entries.

mod common;

use reqwest::{Method, StatusCode};
use roster::principal::Role;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const T: &str = "/v1/tenants/acme";

async fn user(server: &common::Server, key: &str, name: &str) -> String {
    let body = json!({"username": name, "password": "a password 123"});
    let reply = server.post(&format!("{T}/users"), key, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Every entry a list answers, page by page.
async fn all_pages(server: &common::Server, key: &str, path: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if path.contains('?') { '&' } else { '?' };
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = server.get(&url, key).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let got = page.body["items"].as_array().unwrap().clone();
        assert!(got.len() <= limit);
        items.extend(got);
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

fn seqs(items: &[Value]) -> Vec<i64> {
    items.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

e2e_test!(the_log_is_listed_newest_first_filtered_and_paged, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let ana = user(&server, &admin, "ana").await;
    let bo = user(&server, &admin, "bo").await;
    for name in ["Ana A.", "Ana B.", "Ana C."] {
        let reply = server.patch(&format!("{T}/users/{ana}"), &admin, json!({"display_name": name}), None).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    server.post(&format!("{T}/users/{bo}/suspend"), &admin, json!({})).await;

    let everything = all_pages(&server, &admin, &format!("{T}/audit"), 2).await;
    let all_seqs = seqs(&everything);
    let mut sorted = all_seqs.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(all_seqs, sorted, "newest first, each entry once across pages");
    assert_eq!(all_seqs.len() as i64, all_seqs[0], "every entry of the tenant, from 1");
    assert!(everything.iter().all(|e| e.get("hash").is_none() && e.get("prev_hash").is_none()));

    let about_ana = all_pages(&server, &admin, &format!("{T}/audit?resource_type=user&resource_id={ana}"), 2).await;
    let actions: Vec<&str> = about_ana.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["update", "update", "update", "create"]);
    assert_eq!(about_ana[0]["new_values"], json!({"display_name": "Ana C."}));
    assert_eq!(about_ana[0]["old_values"], json!({"display_name": "Ana B."}));
    let status_changes = server.get(&format!("{T}/audit?action=status_change"), &admin).await.body;
    assert_eq!(status_changes["items"].as_array().unwrap().len(), 1);
    assert_eq!(status_changes["items"][0]["resource_id"], bo);

    // by actor: the API key's id, or a kind of actor
    let key_id = about_ana[0]["actor_api_key_id"].as_str().unwrap().to_owned();
    let by_key = all_pages(&server, &admin, &format!("{T}/audit?actor={key_id}"), 50).await;
    assert_eq!(by_key.len(), 6, "two creates, three updates, one suspension");
    let by_kind = all_pages(&server, &admin, &format!("{T}/audit?actor=api_key"), 50).await;
    let mut keys = seqs(&by_key);
    keys.push(1); // the tenant, created with the test's sysadmin key
    assert_eq!(seqs(&by_kind), keys);

    // by time: since is inclusive, until exclusive
    let newest = &everything[0];
    let at = newest["occurred_at"].as_str().unwrap();
    let since = all_pages(&server, &admin, &format!("{T}/audit?since={at}"), 50).await;
    assert!(since.iter().any(|e| e["seq"] == newest["seq"]));
    let until = all_pages(&server, &admin, &format!("{T}/audit?until={at}"), 50).await;
    // compared as instants: RFC 3339 text drops trailing zeros, so "…:07Z" sorts after "…:07.5Z"
    let instant = |text: &str| OffsetDateTime::parse(text, &Rfc3339).unwrap();
    assert!(!until.is_empty() && until.iter().all(|e| instant(e["occurred_at"].as_str().unwrap()) < instant(at)));

    for (query, field) in [
        ("action=nope", "action"),
        ("actor=somebody", "actor"),
        ("since=yesterday", "since"),
        ("since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z", "until"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=!!", "cursor"),
        ("colour=red", ""),
        ("resource_type=", "resource_type"),
    ] {
        let reply = server.get(&format!("{T}/audit?{query}"), &admin).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {:?}", reply.body);
        if !field.is_empty() {
            assert_eq!(reply.body["errors"][0]["field"], field, "{query}: {:?}", reply.body);
        }
    }
    // another tenant's log is out of reach, even for its admin
    let other = server.tenant_with_key("globex", Role::Admin).await;
    assert_eq!(server.get(&format!("{T}/audit"), &other).await.status, StatusCode::NOT_FOUND);
    let theirs = all_pages(&server, &other, "/v1/tenants/globex/audit", 50).await;
    assert!(theirs.iter().all(|e| e["resource_id"] != ana.as_str()));
});

e2e_test!(a_user_reads_the_entries_about_itself_only, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let ana = user(&server, &admin, "ana").await;
    let bo = user(&server, &admin, "bo").await;
    let grant = json!({"can_read": true});
    let path = format!("{T}/users/{ana}/permissions/pdf_processing");
    let put = server.send(Method::PUT, &path, Some(&admin), Some(&grant), &[]).await;
    assert_eq!(put.status, StatusCode::CREATED);
    server.patch(&format!("{T}/users/{bo}"), &admin, json!({"display_name": "Bo"}), None).await;
    let login = json!({"username": "ana", "password": "a password 123"});
    let token = server.send(Method::POST, &format!("{T}/auth/login"), None, Some(&login), &[]).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let mine = all_pages(&server, &token, "/v1/me/audit", 1).await;
    let actions: Vec<&str> = mine.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["login", "permission_change", "create"]);
    assert!(mine.iter().all(|e| e["resource_id"] == ana.as_str()));
    // its own sign-in shows where it came from; what the admin's key did does not show the admin's address
    assert_eq!(mine[0]["ip_address"], "127.0.0.1");
    assert!(mine[1]["ip_address"].is_null() && mine[1]["user_agent"].is_null() && mine[1]["request_id"].is_null());
    let full = server.get(&format!("{T}/audit?action=permission_change"), &admin).await.body;
    assert_eq!(full["items"][0]["ip_address"], "127.0.0.1", "the tenant's admins see it");
    let only = server.get("/v1/me/audit?action=permission_change", &token).await.body;
    assert_eq!(only["items"].as_array().unwrap().len(), 1);
    assert_eq!(only["items"][0]["new_values"]["agent"], "pdf_processing");
    // it cannot widen its view to another resource, nor read the tenant's log
    let widened = server.get(&format!("/v1/me/audit?resource_id={bo}"), &token).await;
    assert_eq!(widened.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(server.get(&format!("{T}/audit"), &token).await.status, StatusCode::FORBIDDEN);
    assert_eq!(server.get("/v1/me/audit", &admin).await.status, StatusCode::NOT_FOUND, "an API key has no user");
});

e2e_test!(the_export_streams_ndjson_in_chain_order_and_verify_names_the_first_bad_entry, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    for i in 0..30 {
        user(&server, &admin, &format!("user{i}")).await;
    }
    let response = reqwest::Client::new()
        .get(format!("{}{T}/audit/export?action=create", server.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 32, "the tenant's, its API key's and thirty users'");
    let order = seqs(&lines);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "chain order: {order:?}");
    assert!(lines.iter().all(|e| e["action"] == "create"));
    let paged = server.get(&format!("{T}/audit/export?limit=10"), &admin).await;
    assert_eq!((paged.status, &paged.body["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("limit")));

    let report = server.get(&format!("{T}/audit/verify"), &admin).await.body;
    assert_eq!((report["ok"].as_bool(), report["entries_checked"].as_i64()), (Some(true), Some(32)));
    assert_eq!(report["unkeyed_entries"], 0, "a server with a secret key seals every entry with it");
    let mac = report["last_mac"].as_str().unwrap().to_owned();
    let with_checkpoint = server.get(&format!("{T}/audit/verify?entries=32&head_mac={mac}"), &admin).await.body;
    assert_eq!(with_checkpoint["ok"], true);
    let ahead = server.get(&format!("{T}/audit/verify?entries=40&head_mac={mac}"), &admin).await.body;
    assert_eq!(
        (&ahead["ok"], &ahead["first_bad_seq"]),
        (&json!(false), &json!(33)),
        "the first entry the checkpoint saw that is not there"
    );
    let half = server.get(&format!("{T}/audit/verify?entries=32"), &admin).await;
    assert_eq!(half.status, StatusCode::UNPROCESSABLE_ENTITY);

    // someone with the database edits an entry: verify names it
    let mut tx = server.db.store.begin().await.unwrap();
    match server.db.store.backend() {
        roster::store::Backend::Sqlite => tx.execute_batch("DROP TRIGGER audit_log_no_update").await.unwrap(),
        roster::store::Backend::Postgres => {
            tx.execute_batch("ALTER TABLE audit_log DISABLE TRIGGER USER").await.unwrap()
        }
    }
    tx.execute("UPDATE audit_log SET resource_id = 'someone else' WHERE seq = 7 AND resource_type = 'user'", vec![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let report = server.get(&format!("{T}/audit/verify"), &admin).await.body;
    assert_eq!((&report["ok"], &report["first_bad_seq"]), (&json!(false), &json!(7)), "{report}");
    assert!(report["reason"].as_str().unwrap().contains("altered"));
});
