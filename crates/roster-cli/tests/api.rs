//! The HTTP API end to end: a real server on a socket, a real database, HTTP requests.

mod common;

use reqwest::{Method, StatusCode};
use roster::principal::Role;
use serde_json::json;

e2e_test!(a_user_lives_its_whole_life_over_http, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let users = "/v1/tenants/acme/users";
    let created = server
        .post(
            users,
            &key,
            json!({"email": "Ana@Example.com", "username": "ana", "display_name": "Ana", "password": "correct horse"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert!(created.body.get("password_hash").is_none() && created.body.get("password").is_none());
    let id = created.body["id"].as_str().unwrap().to_owned();

    let by_id = server.get(&format!("{users}/{id}"), &key).await;
    assert_eq!((by_id.status, &by_id.body), (StatusCode::OK, &created.body));
    let by_email = server.get(&format!("{users}/by-email/ana@EXAMPLE.com"), &key).await;
    assert_eq!(by_email.body["id"], id.as_str());
    let by_username = server.get(&format!("{users}/by-username/ana"), &key).await;
    assert_eq!(by_username.body["id"], id.as_str());

    let patched =
        server.patch(&format!("{users}/{id}"), &key, json!({"timezone": "America/Sao_Paulo"}), Some("\"1\"")).await;
    assert_eq!((patched.status, patched.header("etag")), (StatusCode::OK, Some("\"2\"")));
    assert_eq!(patched.body["timezone"], "America/Sao_Paulo");
    let stale = server.patch(&format!("{users}/{id}"), &key, json!({"display_name": "Late"}), Some("\"1\"")).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.header("content-type"), Some("application/problem+json"));

    let deleted = server.delete(&format!("{users}/{id}"), &key).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.body["deleted_at"].is_string());
    assert_eq!(server.get(&format!("{users}/{id}"), &key).await.status, StatusCode::NOT_FOUND);
    assert_eq!(server.get(&format!("{users}/by-email/ana@example.com"), &key).await.status, StatusCode::NOT_FOUND);
    assert_eq!(server.get(&format!("{users}/{id}?include_deleted=true"), &key).await.status, StatusCode::OK);
    let listed = server.get(users, &key).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0);

    let restored = server.post(&format!("{users}/{id}/restore"), &key, json!(null)).await;
    assert_eq!(restored.status, StatusCode::OK, "{:?}", restored.body);
    assert!(restored.body["deleted_at"].is_null());
    assert_eq!(server.get(&format!("{users}/by-email/ana@example.com"), &key).await.status, StatusCode::OK);

    // delete again, let someone take the email, and restore must refuse
    server.delete(&format!("{users}/{id}"), &key).await;
    let taker = server.post(users, &key, json!({"email": "ana@example.com"})).await;
    assert_eq!(taker.status, StatusCode::CREATED);
    let refused = server.post(&format!("{users}/{id}/restore"), &key, json!(null)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.body["errors"][0]["field"], "email");
    assert_eq!(refused.body["type"], "urn:roster:problem:conflict");
});

e2e_test!(lists_filter_and_paginate, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    for i in 0..7 {
        let user_type = if i < 3 { "tester" } else { "customer" };
        let reply = server
            .post("/v1/tenants/acme/users", &key, json!({"username": format!("person {i}"), "user_type": user_type}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let first = server.get("/v1/tenants/acme/users?limit=4", &key).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 4);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = server.get(&format!("/v1/tenants/acme/users?limit=4&cursor={cursor}"), &key).await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 3);
    assert!(second.body["next_cursor"].is_null());
    let testers = server.get("/v1/tenants/acme/users?user_type=tester", &key).await;
    assert_eq!(testers.body["items"].as_array().unwrap().len(), 3);
    let q = server.get("/v1/tenants/acme/users?q=PERSON%205", &key).await;
    assert_eq!(q.body["items"].as_array().unwrap().len(), 1);
    let bad = server.get("/v1/tenants/acme/users?user_type=robot", &key).await;
    assert_eq!((bad.status, &bad.body["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("user_type")));
    assert_eq!(bad.header("content-type"), Some("application/problem+json"));
    let bad = server.get("/v1/tenants/acme/users?colour=blue", &key).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body["detail"].as_str().unwrap().contains("colour"), "{:?}", bad.body);
    let bad = server.get("/v1/tenants/acme/users?limit=lots", &key).await;
    assert_eq!((bad.status, &bad.body["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("limit")));
    let bad = server.get("/v1/tenants/acme/users?limit=0", &key).await;
    assert_eq!((bad.status, &bad.body["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("limit")));
});

e2e_test!(no_route_lets_one_tenant_reach_another, |server| async move {
    let key_a = server.tenant_with_key("tenant-a", Role::Admin).await;
    let key_b = server.tenant_with_key("tenant-b", Role::Admin).await;
    let bob =
        server.post("/v1/tenants/tenant-b/users", &key_b, json!({"email": "bob@example.com", "username": "bob"})).await;
    let bob_id = bob.body["id"].as_str().unwrap().to_owned();
    let before = server.get(&format!("/v1/tenants/tenant-b/users/{bob_id}"), &key_b).await.body;

    let paths = [
        (Method::GET, format!("/v1/tenants/tenant-b/users/{bob_id}")),
        (Method::PATCH, format!("/v1/tenants/tenant-b/users/{bob_id}")),
        (Method::DELETE, format!("/v1/tenants/tenant-b/users/{bob_id}")),
        (Method::POST, format!("/v1/tenants/tenant-b/users/{bob_id}/restore")),
        (Method::GET, "/v1/tenants/tenant-b/users".to_owned()),
        (Method::POST, "/v1/tenants/tenant-b/users".to_owned()),
        (Method::GET, "/v1/tenants/tenant-b/users/by-email/bob@example.com".to_owned()),
        (Method::GET, "/v1/tenants/tenant-b/users/by-username/bob".to_owned()),
        // the other tenant's id under one's own tenant
        (Method::GET, format!("/v1/tenants/tenant-a/users/{bob_id}")),
        (Method::PATCH, format!("/v1/tenants/tenant-a/users/{bob_id}")),
        (Method::DELETE, format!("/v1/tenants/tenant-a/users/{bob_id}")),
        (Method::POST, format!("/v1/tenants/tenant-a/users/{bob_id}/restore")),
        (Method::GET, "/v1/tenants/tenant-a/users/by-email/bob@example.com".to_owned()),
        (Method::GET, "/v1/tenants/tenant-a/users/by-username/bob".to_owned()),
        // and a tenant that does not exist answers the same
        (Method::GET, "/v1/tenants/nowhere/users".to_owned()),
    ];
    let body = json!({"display_name": "hijacked", "email": "x@example.com"});
    let mut answers = Vec::new();
    for (method, path) in paths {
        let reply = server.send(method.clone(), &path, Some(&key_a), Some(&body), &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {:?}", reply.body);
        answers.push(reply.body);
    }
    // a missing tenant and a foreign one are indistinguishable
    assert_eq!(answers[4], answers[14]);
    for path in ["/v1/tenants", "/v1/tenants/tenant-b"] {
        assert_eq!(server.get(path, &key_a).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let after = server.get(&format!("/v1/tenants/tenant-b/users/{bob_id}"), &key_b).await.body;
    assert_eq!(before, after, "tenant B's user is untouched");
    assert_eq!(server.get("/v1/tenants/tenant-b/users", &key_b).await.body["items"].as_array().unwrap().len(), 1);
});

e2e_test!(bad_input_gets_a_clear_error_and_writes_nothing, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let users = "/v1/tenants/acme/users";
    let (users_before, audit_before) = (server.count("users").await, server.count("audit_log").await);

    let reply = server.post(users, &key, json!({"email": "ana@example.com", "favourite_colour": "blue"})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["errors"][0]["field"], "favourite_colour");

    let reply =
        server.post(users, &key, json!({"email": "ana@example.com", "metadata": {"x": "y".repeat(4000)}})).await;
    assert_eq!(
        (reply.status, &reply.body["errors"][0]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("metadata"))
    );

    let reply = server.post(users, &key, json!({"email": 42})).await;
    assert_eq!((reply.status, &reply.body["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("email")));

    let reply = server.post(users, &key, json!({"email": "ana@example.com", "role": "emperor"})).await;
    assert_eq!((reply.status, &reply.body["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("role")));

    let raw = |body: &'static str, content_type: &'static str| {
        let server = &server;
        let key = key.clone();
        async move {
            let client = reqwest::Client::new();
            let response = client
                .post(format!("{}{users}", server.base))
                .bearer_auth(key)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
            (status, content_type, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, content_type, body) = raw("{\"email\": ", "application/json").await;
    assert_eq!((status, content_type.as_str()), (StatusCode::BAD_REQUEST, "application/problem+json"));
    assert!(body["detail"].as_str().unwrap().contains("line 1"), "{body}");
    let (status, _, _) = raw("{\"email\": \"a@b.c\"}", "text/plain").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _, _) = raw("[1, 2]", "application/json").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let status = server.post_oversized(users, &key, 2 * 1024 * 1024).await;
    assert_eq!(status, 413);

    let reply = server.get(&format!("{users}/not-a-uuid"), &key).await;
    assert_eq!((reply.status, &reply.body["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("id")));

    assert_eq!(server.count("users").await, users_before, "no user was written");
    assert_eq!(server.count("audit_log").await, audit_before, "no audit entry was written");

    // a rejected PATCH leaves the user as it was
    let ana = server.post(users, &key, json!({"email": "ana@example.com"})).await;
    let id = ana.body["id"].as_str().unwrap();
    let reply = server
        .patch(&format!("{users}/{id}"), &key, json!({"display_name": "Ana", "timezone": "Nowhere/Land"}), None)
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut before = ana.body.clone();
    before.as_object_mut().unwrap().remove("invitation_token");
    assert_eq!(server.get(&format!("{users}/{id}"), &key).await.body, before);
});

e2e_test!(only_live_tokens_get_in, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let reply = server.send(Method::GET, "/v1/tenants/acme/users", None, None, &[]).await;
    assert_eq!(
        (reply.status, &reply.body["type"]),
        (StatusCode::UNAUTHORIZED, &json!("urn:roster:problem:unauthenticated"))
    );
    let reply = server.get("/v1/tenants/acme/users", "rk_not-a-real-key").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = server.get("/v1/tenants/acme/users", &key).await;
    assert_eq!(reply.status, StatusCode::OK);

    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let scope = roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
    let keys = roster::auth::list_api_keys(&server.db.store, &scope).await.unwrap();
    roster::auth::revoke_api_key(
        &server.db.store,
        &scope,
        roster::clock::Clock::now(&roster::clock::SystemClock),
        keys[0].id,
    )
    .await
    .unwrap();
    assert_eq!(server.get("/v1/tenants/acme/users", &key).await.status, StatusCode::UNAUTHORIZED);

    let user_key = server.tenant_with_key("plain", Role::User).await;
    let reply = server.post("/v1/tenants/plain/users", &user_key, json!({"email": "x@example.com"})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
});

e2e_test!(tenants_are_managed_by_sysadmins, |server| async move {
    let root = &server.root_key;
    let created =
        server.post("/v1/tenants", root, json!({"slug": "acme", "name": "Acme", "external_id": "cust-9"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let dup = server.post("/v1/tenants", root, json!({"slug": "acme", "name": "Again"})).await;
    assert_eq!((dup.status, &dup.body["errors"][0]["field"]), (StatusCode::CONFLICT, &json!("slug")));
    let (tenants_before, audit_before) = (server.count("tenants").await, server.count("audit_log").await);
    let bad = server.post("/v1/tenants", root, json!({"slug": "Not Valid", "name": ""})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"].as_array().unwrap().len(), 2);
    let bad = server.patch("/v1/tenants/acme", root, json!({"name": " ", "status": "active"}), None).await;
    assert_eq!((bad.status, &bad.body["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("name")));
    let bad = server.patch("/v1/tenants/acme", root, json!({"status": "closed"}), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(server.get("/v1/tenants/acme", root).await.body, created.body, "rejected patches change nothing");
    assert_eq!(server.count("tenants").await, tenants_before);
    assert_eq!(server.count("audit_log").await, audit_before);
    let suspended = server.patch("/v1/tenants/acme", root, json!({"status": "suspended"}), Some("\"1\"")).await;
    assert_eq!((suspended.status, &suspended.body["status"]), (StatusCode::OK, &json!("suspended")));
    let listed = server.get("/v1/tenants", root).await;
    let slugs: Vec<&str> =
        listed.body["items"].as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["default", "acme"]);
    assert_eq!(server.get("/v1/tenants/acme", root).await.header("etag"), Some("\"2\""));
});

e2e_test!(concurrent_writes_all_succeed_and_one_patch_wins, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let server = std::sync::Arc::new(server);
    let mut tasks = Vec::new();
    for i in 0..48 {
        let (server, key) = (server.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            server.post("/v1/tenants/acme/users", &key, json!({"username": format!("user {i}")})).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::CREATED);
    }
    assert_eq!(server.get("/v1/tenants/acme/users?limit=500", &key).await.body["items"].as_array().unwrap().len(), 48);

    let id =
        server.get("/v1/tenants/acme/users/by-username/user%200", &key).await.body["id"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (server, key, id) = (server.clone(), key.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let path = format!("/v1/tenants/acme/users/{id}");
            server.patch(&path, &key, json!({"display_name": format!("writer {i}")}), Some("\"1\"")).await.status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [StatusCode::OK, StatusCode::PRECONDITION_FAILED].contains(s)),
        "the losers' If-Match failed, on both backends: {statuses:?}"
    );
});

e2e_test!(operations_endpoints_answer, |server| async move {
    let reply = server.send(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = server.send(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("x-request-id").is_some(), "a request id is generated");
    // what an acknowledged write survives, stated
    assert_eq!(reply.body["status"], "ready", "{:?}", reply.body);
    assert!(reply.body["durability"].as_str().is_some_and(|d| d.contains("synchronous")), "{:?}", reply.body);
    let reply = server.send(Method::GET, "/healthz", None, None, &[("x-request-id", "caller-chosen-id")]).await;
    assert_eq!(reply.header("x-request-id"), Some("caller-chosen-id"));

    let openapi = server.send(Method::GET, "/openapi.json", None, None, &[]).await;
    assert!(openapi.body["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/v1/tenants", "/v1/tenants/{tenant}/users", "/v1/tenants/{tenant}/users/{id}/restore"] {
        assert!(openapi.body["paths"].get(path).is_some(), "{path} is documented");
    }
    let docs = server.send(Method::GET, "/docs", None, None, &[]).await;
    assert_eq!(docs.status, StatusCode::OK);

    server.get("/v1/tenants", &server.root_key).await;
    let metrics = server.send(Method::GET, "/metrics", None, None, &[]).await;
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains("roster_http_requests_total"), "{text}");
    assert!(text.contains("roster_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("roster_db_pool_connections"));

    let wrong_method = server.send(Method::PUT, "/v1/tenants", Some(&server.root_key), None, &[]).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.body["type"], "urn:roster:problem:method-not-allowed");
    let missing = server.send(Method::GET, "/v1/nothing-here", None, None, &[]).await;
    assert_eq!(
        (missing.status, missing.header("content-type")),
        (StatusCode::NOT_FOUND, Some("application/problem+json"))
    );
});

e2e_test!(every_change_is_audited_with_its_request, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let created = server
        .send(
            Method::POST,
            "/v1/tenants/acme/users",
            Some(&key),
            Some(&json!({"email": "ana@example.com", "password": "correct horse"})),
            &[("x-request-id", "req-42"), ("user-agent", "e2e-test/1.0")],
        )
        .await;
    let id = created.body["id"].as_str().unwrap();
    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let scope = roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
    let entries = roster::audit::entries_for(&server.db.store, &scope, "user", id).await.unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!((entry.action.as_str(), entry.actor_kind.as_str()), ("create", "api_key"));
    assert_eq!(entry.request_id.as_deref(), Some("req-42"));
    assert_eq!(entry.user_agent.as_deref(), Some("e2e-test/1.0"));
    assert_eq!(entry.ip_address.as_deref(), Some("127.0.0.1"));
    let logged = serde_json::to_string(entry).unwrap();
    assert!(!logged.contains("correct horse") && !logged.contains("argon2"), "no secret in the audit log");
    assert!(
        roster::audit::verify(
            &server.db.store,
            &roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli()),
            None
        )
        .await
        .unwrap()
        .ok
    );
});

e2e_test!(readiness_is_a_plain_read_that_answers_while_the_writer_is_held, |server| async move {
    // what an ingest batch or a migration holds: the SQLite writer, the PostgreSQL migration lock
    let mut held = server.db.store.begin().await.unwrap();
    if held.backend() == roster::store::Backend::Postgres {
        let lock: Vec<(String,)> =
            held.query("SELECT pg_advisory_xact_lock(125823003944306)::text", vec![]).await.unwrap();
        assert_eq!(lock.len(), 1);
    }
    let started = std::time::Instant::now();
    let reply = server.send(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "took {:?}", started.elapsed());
    held.rollback().await.unwrap();
});

e2e_test!(users_are_filtered_by_target_role_and_experience_level_over_http, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    for (name, role, level) in [("ana", "Support Analyst", "junior"), ("bo", "Support Analyst", "senior")] {
        let body = json!({"username": name, "target_role": role, "experience_level": level});
        assert_eq!(server.post("/v1/tenants/acme/users", &key, body).await.status, StatusCode::CREATED);
    }
    let reply = server.get("/v1/tenants/acme/users?target_role=Support%20Analyst&experience_level=senior", &key).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let names: Vec<&str> =
        reply.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["bo"]);
    let bad = server.get("/v1/tenants/acme/users?experience_level=wizard", &key).await;
    assert_eq!(
        (bad.status, &bad.body["errors"][0]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("experience_level"))
    );
});

e2e_test!(suspending_a_tenant_stops_its_sessions_and_api_keys_at_once, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let body = json!({"email": "ana@example.com", "password": "correct horse battery"});
    assert_eq!(server.post("/v1/tenants/acme/users", &key, body.clone()).await.status, StatusCode::CREATED);
    let login = server.send(Method::POST, "/v1/tenants/acme/auth/login", None, Some(&body), &[]).await;
    let session = login.body["token"].as_str().unwrap().to_owned();
    let other = server.tenant_with_key("other", Role::Admin).await;
    assert_eq!(server.get("/v1/me", &session).await.status, StatusCode::OK);

    let suspended = server.patch("/v1/tenants/acme", &server.root_key, json!({"status": "suspended"}), None).await;
    assert_eq!(suspended.status, StatusCode::OK);
    // the very next requests, with no wait: not after a cache expires
    assert_eq!(server.get("/v1/me", &session).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.get("/v1/tenants/acme/users", &key).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.get("/v1/tenants/acme/users", &session).await.status, StatusCode::UNAUTHORIZED);
    // other tenants carry on, and a sysadmin may still enter to set things right
    assert_eq!(server.get("/v1/tenants/other/users", &other).await.status, StatusCode::OK);
    assert_eq!(server.get("/v1/tenants/acme/users", &server.root_key).await.status, StatusCode::OK);

    let active = server.patch("/v1/tenants/acme", &server.root_key, json!({"status": "active"}), None).await;
    assert_eq!(active.status, StatusCode::OK);
    assert_eq!(server.get("/v1/me", &session).await.status, StatusCode::OK, "the session was suspended, not ended");
    assert_eq!(server.get("/v1/tenants/acme/users", &key).await.status, StatusCode::OK);
});

// A verified API key is remembered for a second (auth::VERIFIED_KEY_TTL); these hold it to its promises: an expiry, a
// revocation by another process, and a revocation or suspension through this one (above) each stop the key.

async fn a_remembered_key_still_expires_on_time(backend: roster::store::Backend) {
    let clock = std::sync::Arc::new(roster::clock::ManualClock::new(time::macros::datetime!(2026-11-22 12:00 UTC)));
    let Some(server) = common::Server::start_with(backend, roster::config::Config::default(), clock.clone()).await
    else {
        return;
    };
    server.tenant_with_key("acme", Role::Admin).await;
    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let scope = roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
    let now = roster::clock::Clock::now(&*clock);
    let expires = now + time::Duration::seconds(30);
    let (_, key) =
        roster::auth::create_api_key(&server.db.store, &scope, now, "short", Role::Admin, Some(expires)).await.unwrap();
    // verified, and so remembered
    assert_eq!(server.get("/v1/tenants/acme/users", &key).await.status, StatusCode::OK);
    assert_eq!(server.get("/v1/tenants/acme/users", &key).await.status, StatusCode::OK);
    clock.advance(time::Duration::seconds(31));
    // well within the second a key is remembered: the expiry is checked at every use
    assert_eq!(server.get("/v1/tenants/acme/users", &key).await.status, StatusCode::UNAUTHORIZED);
}
roster::backend_test!(a_remembered_key_still_expires_on_time_over_http, a_remembered_key_still_expires_on_time);

e2e_test!(a_key_revoked_by_another_process_stops_within_a_second, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    assert_eq!(server.get("/v1/tenants/acme/users", &key).await.status, StatusCode::OK);
    // another process, with the server's secret key (the database is sealed under it)
    let list = ["apikey", "list", "--tenant", "acme", "--format", "json", "--database-url", &server.db.url];
    let keys = common::json_of(&common::roster_with(&list, &[("ROSTER_SECRET_KEY", common::TEST_SECRET_KEY)]));
    let id = keys[0]["id"].as_str().unwrap().to_owned();
    let revoked_at = std::time::Instant::now();
    // another process, with the server's secret key (it seals the revocation's audit entry)
    let revoke = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["apikey", "revoke", "--tenant", "acme", &id, "--database-url", &server.db.url])
        .env_remove("ROSTER_DATABASE_URL")
        .env("ROSTER_SECRET_KEY", common::TEST_SECRET_KEY)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(revoke.status.success(), "{}", String::from_utf8_lossy(&revoke.stderr));
    // the CLI's revocation does not reach this server's memory: the key stops when its second is up
    loop {
        let status = server.get("/v1/tenants/acme/users", &key).await.status;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(revoked_at.elapsed() < std::time::Duration::from_secs(3), "the revoked key still works");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(revoked_at.elapsed() <= roster::auth::VERIFIED_KEY_TTL + std::time::Duration::from_millis(500));
});

e2e_test!(the_bearer_scheme_is_read_in_any_case, |server| async move {
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let header = format!("{scheme} {}", server.root_key);
        let reply = server.send(Method::GET, "/v1/tenants", None, None, &[("authorization", &header)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{scheme}: {:?}", reply.body);
    }
    let basic = format!("Basic {}", server.root_key);
    let reply = server.send(Method::GET, "/v1/tenants", None, None, &[("authorization", &basic)]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
});
