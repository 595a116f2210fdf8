//! Sign-in end to end: sessions, lockout, identical failures, imported bcrypt hashes, admin status actions.

mod common;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster::clock::ManualClock;
use roster::config::Config;
use roster::principal::Role;
use serde_json::{json, Value};
use time::macros::datetime;

const PASSWORD: &str = "correct horse battery";

async fn with_user(server: &common::Server) -> (String, String) {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let created = server
        .post(
            "/v1/tenants/acme/users",
            &key,
            json!({"email": "ana@example.com", "username": "ana", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    (key, created.body["id"].as_str().unwrap().to_owned())
}

async fn login(server: &common::Server, login: Value) -> common::Reply {
    server.send(Method::POST, "/v1/tenants/acme/auth/login", None, Some(&login), &[]).await
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-11-22 12:00 UTC)))
}

e2e_test!(a_session_opens_at_sign_in_and_ends_at_logout, |server| async move {
    let (_, id) = with_user(&server).await;
    let reply = login(&server, json!({"email": "ANA@example.com", "password": PASSWORD})).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rs_") && token.len() >= 40);
    assert!(reply.body["expires_at"].is_string());
    assert_eq!(reply.body["user"]["login_count"], 1);
    assert!(reply.body["user"]["last_login_at"].is_string());
    assert_eq!(reply.body["user"]["last_login_at"], reply.body["user"]["last_session_start"]);

    let me = server.get("/v1/me", &token).await;
    assert_eq!((me.status, me.body["id"].as_str()), (StatusCode::OK, Some(id.as_str())));
    // a plain user sees itself, not the others
    assert_eq!(server.get(&format!("/v1/tenants/acme/users/{id}"), &token).await.status, StatusCode::OK);
    assert_eq!(server.get("/v1/tenants/acme/users", &token).await.status, StatusCode::FORBIDDEN);

    let by_username = login(&server, json!({"username": "ana", "password": PASSWORD})).await;
    assert_eq!(by_username.body["user"]["login_count"], 2);

    let out = server.send(Method::POST, "/v1/auth/logout", Some(&token), None, &[]).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(server.get("/v1/me", &token).await.status, StatusCode::UNAUTHORIZED);

    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let scope = roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
    let entries = roster::audit::entries_for(&server.db.store, &scope, "user", &id).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["create", "login", "login", "logout"]);
    assert!(entries[1].session_id.is_some() && entries[1].ip_address.is_some());
    let everything = serde_json::to_string(&entries).unwrap();
    assert!(!everything.contains(&token) && !everything.contains(PASSWORD), "no secret in the audit log");
});

async fn lockout(backend: roster::store::Backend) {
    let clock = manual_clock();
    let Some(server) = common::Server::start_with(backend, Config::default(), clock.clone()).await else { return };
    let (key, id) = with_user(&server).await;
    let wrong = json!({"email": "ana@example.com", "password": "wrong password"});
    let right = json!({"email": "ana@example.com", "password": PASSWORD});

    // four failures, then the right password still gets in and clears the count
    for _ in 0..4 {
        assert_eq!(login(&server, wrong.clone()).await.status, StatusCode::UNAUTHORIZED);
    }
    let user = server.get(&format!("/v1/tenants/acme/users/{id}"), &key).await.body;
    assert_eq!((&user["failed_login_attempts"], &user["status"]), (&json!(4), &json!("active")));
    assert_eq!(login(&server, right.clone()).await.status, StatusCode::OK);
    let user = server.get(&format!("/v1/tenants/acme/users/{id}"), &key).await.body;
    assert_eq!(user["failed_login_attempts"], 0);

    // the fifth failure in a row locks, for 15 minutes
    for _ in 0..5 {
        assert_eq!(login(&server, wrong.clone()).await.status, StatusCode::UNAUTHORIZED);
    }
    let user = server.get(&format!("/v1/tenants/acme/users/{id}"), &key).await.body;
    assert_eq!(user["status"], "locked");
    assert_eq!(user["locked_until"], "2026-11-22T12:15:00Z");
    assert_eq!(login(&server, right.clone()).await.status, StatusCode::UNAUTHORIZED, "locked: even the right password");

    clock.advance(time::Duration::minutes(14));
    assert_eq!(login(&server, right.clone()).await.status, StatusCode::UNAUTHORIZED, "still locked at 14 minutes");
    clock.advance(time::Duration::minutes(1));
    let reply = login(&server, right.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "unlocked by time: {:?}", reply.body);
    assert_eq!(
        (&reply.body["user"]["status"], &reply.body["user"]["failed_login_attempts"]),
        (&json!("active"), &json!(0))
    );
}
roster::backend_test!(an_account_locks_at_exactly_the_threshold_and_unlocks_by_time, lockout);

e2e_test!(parallel_wrong_passwords_lock_exactly_once, |server| async move {
    let (key, id) = with_user(&server).await;
    let server = Arc::new(server);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            login(&server, json!({"email": "ana@example.com", "password": "wrong password"})).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    let user = server.get(&format!("/v1/tenants/acme/users/{id}"), &key).await.body;
    assert_eq!(user["status"], "locked");
    assert_eq!(user["failed_login_attempts"], 32, "every attempt was counted");
    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let scope = roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
    let entries = roster::audit::entries_for(&server.db.store, &scope, "user", &id).await.unwrap();
    assert_eq!(entries.iter().filter(|e| e.action == "status_change").count(), 1, "locked exactly once");
    assert_eq!(entries.iter().filter(|e| e.action == "login_failed").count(), 32);
    let right = login(&server, json!({"email": "ana@example.com", "password": PASSWORD})).await;
    assert_eq!(right.status, StatusCode::UNAUTHORIZED, "the right password cannot get in after the threshold");
});

e2e_test!(every_failed_sign_in_answers_the_same, |server| async move {
    let (key, _) = with_user(&server).await;
    let make = |email: &str| json!({"email": email, "password": PASSWORD});
    for email in ["suspended@example.com", "deleted@example.com", "locked@example.com"] {
        let reply = server.post("/v1/tenants/acme/users", &key, make(email)).await;
        let id = reply.body["id"].as_str().unwrap().to_owned();
        match email {
            "suspended@example.com" => {
                server.post(&format!("/v1/tenants/acme/users/{id}/suspend"), &key, json!(null)).await;
            }
            "deleted@example.com" => {
                server.delete(&format!("/v1/tenants/acme/users/{id}"), &key).await;
            }
            _ => {
                for _ in 0..5 {
                    login(&server, json!({"email": email, "password": "wrong password"})).await;
                }
            }
        }
    }
    let baseline = login(&server, json!({"email": "ana@example.com", "password": "wrong password"})).await;
    assert_eq!(baseline.status, StatusCode::UNAUTHORIZED);
    assert_eq!(baseline.body["type"], "urn:roster:problem:invalid-credentials");
    for attempt in [
        json!({"email": "nobody@example.com", "password": PASSWORD}),
        json!({"username": "nobody", "password": PASSWORD}),
        make("suspended@example.com"),
        make("deleted@example.com"),
        make("locked@example.com"),
    ] {
        let reply = login(&server, attempt.clone()).await;
        assert_eq!((reply.status, &reply.body), (baseline.status, &baseline.body), "{attempt}");
    }
    // a suspended tenant, and one that does not exist
    server.patch("/v1/tenants/acme", &server.root_key, json!({"status": "suspended"}), None).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the tenant cache lives 1 s
    let reply = login(&server, make("ana@example.com")).await;
    assert_eq!((reply.status, &reply.body), (baseline.status, &baseline.body));
    let reply =
        server.send(Method::POST, "/v1/tenants/nowhere/auth/login", None, Some(&make("ana@example.com")), &[]).await;
    assert_eq!((reply.status, &reply.body), (baseline.status, &baseline.body));
});

e2e_test!(an_imported_bcrypt_hash_signs_in_and_is_rehashed, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    // as exported by an older system
    let hash = bcrypt::hash("imported secret", 4).unwrap();
    let created =
        server.post("/v1/tenants/acme/users", &key, json!({"email": "old@example.com", "password_hash": hash})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let stored = |server: &common::Server| {
        let store = server.db.store.clone();
        let id = uuid::Uuid::parse_str(id).unwrap();
        async move {
            store
                .query_one::<(String,)>("SELECT password_hash FROM users WHERE id = $1", vec![id.into()])
                .await
                .unwrap()
                .0
        }
    };
    assert!(stored(&server).await.starts_with("$2b$"));
    let reply = login(&server, json!({"email": "old@example.com", "password": "imported secret"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert!(stored(&server).await.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "rehashed to Argon2id");
    let again = login(&server, json!({"email": "old@example.com", "password": "imported secret"})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        login(&server, json!({"email": "old@example.com", "password": "wrong"})).await.status,
        StatusCode::UNAUTHORIZED
    );
});

e2e_test!(admins_suspend_activate_and_unlock, |server| async move {
    let (key, id) = with_user(&server).await;
    let session = login(&server, json!({"email": "ana@example.com", "password": PASSWORD})).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let suspended = server.post(&format!("/v1/tenants/acme/users/{id}/suspend"), &key, json!(null)).await;
    assert_eq!((suspended.status, &suspended.body["status"]), (StatusCode::OK, &json!("suspended")));
    assert_eq!(server.get("/v1/me", &session).await.status, StatusCode::UNAUTHORIZED, "suspension ends sessions");
    let activated = server.post(&format!("/v1/tenants/acme/users/{id}/activate"), &key, json!(null)).await;
    assert_eq!(activated.body["status"], "active");
    for _ in 0..5 {
        login(&server, json!({"email": "ana@example.com", "password": "wrong password"})).await;
    }
    let unlocked = server.post(&format!("/v1/tenants/acme/users/{id}/unlock"), &key, json!(null)).await;
    assert_eq!((unlocked.status, &unlocked.body["status"]), (StatusCode::OK, &json!("active")));
    assert_eq!(unlocked.body["failed_login_attempts"], 0);
    let again = server.post(&format!("/v1/tenants/acme/users/{id}/unlock"), &key, json!(null)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(login(&server, json!({"email": "ana@example.com", "password": PASSWORD})).await.status, StatusCode::OK);
    let user_key = server.tenant_with_key("other", Role::User).await;
    let denied = server.post(&format!("/v1/tenants/other/users/{id}/suspend"), &user_key, json!(null)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
});

async fn usage_minutes(backend: roster::store::Backend) {
    let clock = manual_clock();
    let Some(server) = common::Server::start_with(backend, Config::default(), clock.clone()).await else { return };
    with_user(&server).await;
    let token = login(&server, json!({"email": "ana@example.com", "password": PASSWORD})).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mark = |seconds: i64| {
        let (server, clock, token) = (&server, clock.clone(), token.clone());
        async move {
            clock.advance(time::Duration::seconds(seconds));
            let reply = server.send(Method::POST, "/v1/me/activity", Some(&token), None, &[]).await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            reply.body
        }
    };
    // every 30 s for 3 minutes: 3 minutes of use, and last_active_at follows
    let mut user = json!(null);
    for _ in 0..6 {
        user = mark(30).await;
    }
    assert_eq!(user["total_usage_minutes"], 3);
    assert_eq!(user["last_active_at"], "2026-11-22T12:03:00Z");
    // exactly at the gap limit still counts; past it, a new stretch starts
    assert_eq!(mark(5 * 60).await["total_usage_minutes"], 8);
    assert_eq!(mark(5 * 60 + 1).await["total_usage_minutes"], 8, "a gap over 5 minutes is not use");
    assert_eq!(mark(60).await["total_usage_minutes"], 9);
    // an API key has no session to be active in
    let key = server.tenant_with_key("keys", Role::Admin).await;
    assert_eq!(
        server.send(Method::POST, "/v1/me/activity", Some(&key), None, &[]).await.status,
        StatusCode::BAD_REQUEST
    );
}
roster::backend_test!(activity_marks_count_usage_minutes_within_the_gap, usage_minutes);

async fn rate_limits(backend: roster::store::Backend) {
    let config = Config { signin_per_account_per_minute: 3, signin_per_address_per_minute: 5, ..Config::default() };
    let Some(server) = common::Server::start_with(backend, config, Arc::new(roster::clock::SystemClock)).await else {
        return;
    };
    with_user(&server).await;
    for _ in 0..3 {
        assert_eq!(login(&server, json!({"email": "ana@example.com", "password": "nope"})).await.status, 401);
    }
    let limited = login(&server, json!({"email": "Ana@Example.com", "password": PASSWORD})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "the account's bucket is empty, whatever the case");
    assert_eq!(limited.body["type"], "urn:roster:problem:rate-limited");
    assert!(limited.header("retry-after").and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s >= 1));
    // other accounts from the same address, until the address's bucket is empty too
    assert_eq!(login(&server, json!({"email": "bob@example.com", "password": "x"})).await.status, 401);
    let by_address = login(&server, json!({"email": "carol@example.com", "password": "x"})).await;
    assert_eq!(by_address.status, StatusCode::TOO_MANY_REQUESTS);
}
roster::backend_test!(sign_in_is_rate_limited_per_account_and_per_address, rate_limits);

async fn trusted_proxy_header(backend: roster::store::Backend) {
    let config = Config {
        signin_per_address_per_minute: 2,
        client_ip_header: Some("x-forwarded-for".into()),
        ..Config::default()
    };
    let Some(server) = common::Server::start_with(backend, config, Arc::new(roster::clock::SystemClock)).await else {
        return;
    };
    let attempt = |address: &'static str, n: usize| {
        let server = &server;
        async move {
            let body = json!({"email": format!("user{n}@example.com"), "password": "x"});
            let headers = [("x-forwarded-for", address)];
            server.send(Method::POST, "/v1/tenants/default/auth/login", None, Some(&body), &headers).await.status
        }
    };
    assert_eq!(attempt("203.0.113.7, 10.0.0.1", 1).await, 401);
    assert_eq!(attempt("203.0.113.7", 2).await, 401);
    assert_eq!(attempt("203.0.113.7", 3).await, 429, "the first address of the header is the client");
    assert_eq!(attempt("198.51.100.9", 4).await, 401, "another client has its own bucket");
}
roster::backend_test!(behind_a_proxy_the_client_address_comes_from_the_trusted_header, trusted_proxy_header);

e2e_test!(external_identities_sign_in_through_the_application, |server| async move {
    let (admin_key, ana_id) = with_user(&server).await;
    let external = |body: Value, key: Option<String>| {
        let server = &server;
        async move { server.send(Method::POST, "/v1/tenants/acme/auth/external", key.as_deref(), Some(&body), &[]).await }
    };
    let first = json!({"identity_provider": "entra_id", "identity_provider_id": "oid-1", "email": "bo@example.com", "display_name": "Bo"});
    let created = external(first.clone(), Some(admin_key.clone())).await;
    assert_eq!(created.status, StatusCode::OK, "{:?}", created.body);
    assert_eq!(
        (&created.body["user"]["identity_provider"], &created.body["user"]["login_count"]),
        (&json!("entra_id"), &json!(1))
    );
    let me = server.get("/v1/me", created.body["token"].as_str().unwrap()).await;
    assert_eq!(me.body["email"], "bo@example.com");
    // the same identity again: the same user, its name updated from the provider
    let again = external(
        json!({"identity_provider": "entra_id", "identity_provider_id": "oid-1", "display_name": "Bo Silva"}),
        Some(admin_key.clone()),
    )
    .await;
    assert_eq!(again.body["user"]["id"], created.body["user"]["id"]);
    assert_eq!(
        (&again.body["user"]["display_name"], &again.body["user"]["login_count"]),
        (&json!("Bo Silva"), &json!(2))
    );

    // an existing email is linked only when the application says so
    let clash = json!({"identity_provider": "google", "identity_provider_id": "g-9", "email": "ana@example.com"});
    let refused = external(clash.clone(), Some(admin_key.clone())).await;
    assert_eq!((refused.status, &refused.body["errors"][0]["field"]), (StatusCode::CONFLICT, &json!("email")));
    let mut link = clash.clone();
    link["link_by_email"] = json!(true);
    // and only to an address its owner verified
    assert_eq!(external(link.clone(), Some(admin_key.clone())).await.status, StatusCode::CONFLICT);
    let mut tx = server.db.store.begin().await.unwrap();
    tx.execute("UPDATE users SET email_verified_at = created_at WHERE email = 'ana@example.com'", vec![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let linked = external(link, Some(admin_key.clone())).await;
    assert_eq!((linked.status, linked.body["user"]["id"].as_str()), (StatusCode::OK, Some(ana_id.as_str())));

    // only API keys may call it
    let session = created.body["token"].as_str().unwrap().to_owned();
    assert_eq!(external(first.clone(), Some(session)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(external(first, None).await.status, StatusCode::UNAUTHORIZED);
    let bad =
        external(json!({"identity_provider": "Not Valid!", "identity_provider_id": "x"}), Some(admin_key.clone()))
            .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body["errors"].as_array().unwrap().iter().any(|e| e["field"] == "identity_provider"), "{:?}", bad.body);
    // no email: the user is still created, named after the provider account
    let bare =
        external(json!({"identity_provider": "auth0", "identity_provider_id": "auth0|12345"}), Some(admin_key)).await;
    assert_eq!((bare.status, &bare.body["user"]["username"]), (StatusCode::OK, &json!("auth0-auth0-12345")));
});

e2e_test!(sessions_are_listed_and_ended_by_their_user_and_by_admins, |server| async move {
    let (key, id) = with_user(&server).await;
    let sign_in = || login(&server, json!({"email": "ana@example.com", "password": PASSWORD}));
    let phone = sign_in().await.body["token"].as_str().unwrap().to_owned();
    let laptop = sign_in().await.body["token"].as_str().unwrap().to_owned();
    let mine = server.get("/v1/me/sessions", &laptop).await;
    let sessions = mine.body.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(!mine.body.to_string().contains(&phone), "tokens are never listed");
    let phone_id = sessions[0]["id"].as_str().unwrap().to_owned();
    let ended = server.send(Method::DELETE, &format!("/v1/me/sessions/{phone_id}"), Some(&laptop), None, &[]).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_eq!(server.get("/v1/me", &phone).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.get("/v1/me", &laptop).await.status, StatusCode::OK);
    let again = server.send(Method::DELETE, &format!("/v1/me/sessions/{phone_id}"), Some(&laptop), None, &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // admins see and end them too
    let listed = server.get(&format!("/v1/tenants/acme/users/{id}/sessions"), &key).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let revoked = server.post(&format!("/v1/tenants/acme/users/{id}/revoke-sessions"), &key, json!(null)).await;
    assert_eq!(revoked.body["sessions_ended"], 1);
    assert_eq!(server.get("/v1/me", &laptop).await.status, StatusCode::UNAUTHORIZED);

    // a forced reset: the old password stops working until the token sets a new one
    let fresh = sign_in().await.body["token"].as_str().unwrap().to_owned();
    let forced = server.post(&format!("/v1/tenants/acme/users/{id}/force-password-reset"), &key, json!(null)).await;
    let token = forced.body["reset_token"].as_str().unwrap().to_owned();
    assert_eq!(server.get("/v1/me", &fresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in().await.status, StatusCode::UNAUTHORIZED);
    let body = json!({"token": token, "password": "a brand new password"});
    let confirmed =
        server.send(Method::POST, "/v1/tenants/acme/auth/password-reset/confirm", None, Some(&body), &[]).await;
    assert_eq!(confirmed.status, StatusCode::OK);
    let new = login(&server, json!({"email": "ana@example.com", "password": "a brand new password"})).await;
    assert_eq!(new.status, StatusCode::OK);
    // a plain user cannot do it to others
    let ana = new.body["token"].as_str().unwrap();
    let denied = server.post(&format!("/v1/tenants/acme/users/{id}/revoke-sessions"), ana, json!(null)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
});

e2e_test!(a_user_changes_its_password_and_other_sessions_end, |server| async move {
    with_user(&server).await;
    let sign_in = |password: &'static str| login(&server, json!({"email": "ana@example.com", "password": password}));
    let here = sign_in(PASSWORD).await.body["token"].as_str().unwrap().to_owned();
    let elsewhere = sign_in(PASSWORD).await.body["token"].as_str().unwrap().to_owned();
    let change = |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        let (server, here) = (&server, here.clone());
        async move { server.send(Method::POST, "/v1/me/password", Some(&here), Some(&body), &[]).await }
    };
    let wrong = change("not it", "a fresh password").await;
    assert_eq!(
        (wrong.status, &wrong.body["errors"][0]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("current_password"))
    );
    let short = change(PASSWORD, "short").await;
    assert_eq!(
        (short.status, &short.body["errors"][0]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("password"))
    );
    assert!(short.body["errors"][0]["message"].as_str().unwrap().contains("at least 8"), "the error names the rule");
    assert_eq!(change(PASSWORD, "a fresh password").await.status, StatusCode::OK);
    assert_eq!(server.get("/v1/me", &here).await.status, StatusCode::OK, "this session stays");
    assert_eq!(server.get("/v1/me", &elsewhere).await.status, StatusCode::UNAUTHORIZED, "the others end");
    assert_eq!(sign_in(PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in("a fresh password").await.status, StatusCode::OK);
});

e2e_test!(imported_hashes_beyond_the_cost_bounds_are_refused_and_nothing_is_written, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let users = server.count("users").await;
    let costly =
        "$argon2id$v=19$m=4194304,t=100,p=1$c29tZXNhbHRzb21lc2FsdA$ZaS5Yq3J3kJx0cQ6Qz2kq3XbYd0lJwR2y1o3pY8m2cQ";
    let bcrypt = "$2b$31$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    for (hash, bound) in [(costly, "memory"), (bcrypt, "bcrypt cost")] {
        let reply = server
            .post("/v1/tenants/acme/users", &key, json!({"email": "imp@example.com", "password_hash": hash}))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
        assert_eq!(reply.body["errors"][0]["field"], "password_hash");
        assert!(reply.body["errors"][0]["message"].as_str().unwrap().contains(bound), "{:?}", reply.body);
    }
    assert_eq!(server.count("users").await, users);
});

async fn typed_logins(backend: roster::store::Backend) {
    let config =
        Config { secret_key: Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()), ..Config::default() };
    let Some(server) = common::Server::start_with(backend, config, manual_clock()).await else { return };
    with_user(&server).await;
    // a password typed into the login field, twice, and an unknown address
    for typed in ["My Secret Pa55word", "my secret pa55word", "nobody@example.com"] {
        let reply = login(&server, json!({"username": typed, "password": "whatever it is"})).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let rows: Vec<(Value,)> = server
        .db
        .store
        .query("SELECT new_values FROM audit_log WHERE action = 'login_failed' ORDER BY seq", vec![])
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let hashes: Vec<String> = rows
        .iter()
        .map(|(value,)| {
            let text = value.to_string();
            assert!(!text.to_lowercase().contains("secret") && !text.contains("nobody"), "kept verbatim: {text}");
            value["login_hash"].as_str().expect("a keyed hash").to_owned()
        })
        .collect();
    assert_eq!(hashes[0], hashes[1], "the same login (any case) gives the same hash, so attempts can be matched up");
    assert_ne!(hashes[0], hashes[2]);
    assert_eq!(hashes[0].len(), 64);
}
roster::backend_test!(a_failed_sign_in_of_an_unknown_login_keeps_only_a_keyed_hash_of_it, typed_logins);

e2e_test!(an_admin_cannot_end_the_sessions_or_two_factor_of_a_sysadmin, |server| async move {
    let admin_key = server.tenant_with_key("acme", Role::Admin).await;
    let created = server
        .post(
            "/v1/tenants/acme/users",
            &server.root_key,
            json!({"email": "boss@example.com", "password": PASSWORD, "role": "sysadmin"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let boss = created.body["id"].as_str().unwrap().to_owned();
    let session = login(&server, json!({"email": "boss@example.com", "password": PASSWORD})).await;
    let token = session.body["token"].as_str().unwrap().to_owned();
    let audit = server.count("audit_log").await;
    for (method, path) in [
        (Method::POST, format!("/v1/tenants/acme/users/{boss}/revoke-sessions")),
        (Method::DELETE, format!("/v1/tenants/acme/users/{boss}/totp")),
        (Method::POST, format!("/v1/tenants/acme/users/{boss}/force-password-reset")),
        (Method::POST, format!("/v1/tenants/acme/users/{boss}/suspend")),
        (Method::DELETE, format!("/v1/tenants/acme/users/{boss}")),
    ] {
        let reply = server.send(method.clone(), &path, Some(&admin_key), None, &[]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}: {:?}", reply.body);
    }
    assert_eq!(server.get("/v1/me", &token).await.status, StatusCode::OK, "the sysadmin's session lives on");
    assert_eq!(server.count("audit_log").await, audit, "nothing was done, so nothing was audited");
    // the sysadmin key may
    let ended =
        server.post(&format!("/v1/tenants/acme/users/{boss}/revoke-sessions"), &server.root_key, json!(null)).await;
    assert_eq!((ended.status, &ended.body["sessions_ended"]), (StatusCode::OK, &json!(1)));
});

e2e_test!(a_signed_in_user_edits_its_own_profile_and_nothing_more, |server| async move {
    let (key, id) = with_user(&server).await;
    let token = login(&server, json!({"email": "ana@example.com", "password": PASSWORD})).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = server.get("/v1/me", &token).await;
    let etag = me.header("etag").unwrap().to_owned();
    let patch = json!({"display_name": "Ana L.", "first_name": "Ana", "timezone": "America/Sao_Paulo",
                       "preferences": {"theme": "dark"}, "metadata": {"team": "qa"}});
    let changed = server.patch("/v1/me", &token, patch.clone(), Some(&etag)).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(
        (&changed.body["display_name"], &changed.body["timezone"], &changed.body["preferences"]["theme"]),
        (&json!("Ana L."), &json!("America/Sao_Paulo"), &json!("dark"))
    );
    assert_eq!(changed.header("etag"), Some(format!("\"{}\"", me.body["version"].as_i64().unwrap() + 1).as_str()));
    // the version it saw is gone now
    let stale = server.patch("/v1/me", &token, json!({"display_name": "Other"}), Some(&etag)).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    // never its role, status, email, counters or progress
    for (field, value) in [
        ("role", json!("admin")),
        ("status", json!("active")),
        ("email", json!("x@example.com")),
        ("login_count", json!(0)),
        ("xp", json!(10_000)),
        ("level", json!(99)),
        ("tenant_id", json!(id)),
        ("failed_login_attempts", json!(0)),
    ] {
        let reply = server.patch("/v1/me", &token, json!({ field: value }), None).await;
        assert_eq!(
            (reply.status, &reply.body["errors"][0]["field"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!(field))
        );
    }
    let bad = server.patch("/v1/me", &token, json!({"timezone": "Mars/Base"}), None).await;
    assert_eq!((bad.status, &bad.body["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("timezone")));
    let after = server.get(&format!("/v1/tenants/acme/users/{id}"), &key).await;
    assert_eq!((&after.body["role"], &after.body["display_name"]), (&json!("user"), &json!("Ana L.")));
    // audited as the user itself
    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let scope = roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
    let entries = roster::audit::entries_for(&server.db.store, &scope, "user", &id).await.unwrap();
    let update = entries.iter().rfind(|e| e.action == "update").expect("an update entry");
    assert_eq!(update.actor_user_id.map(|u| u.to_string()), Some(id.clone()));
    assert_eq!(update.new_values.as_ref().unwrap()["display_name"], "Ana L.");
    // an API key has no profile of its own
    assert_eq!(server.patch("/v1/me", &key, json!({"display_name": "Key"}), None).await.status, StatusCode::NOT_FOUND);
});

e2e_test!(a_session_acts_with_its_user_as_it_is_now, |server| async move {
    // one read finds the session with its user's role and status: a change of either counts from the next request
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let body = json!({"email": "ana@example.com", "password": PASSWORD, "role": "admin"});
    let created = server.post("/v1/tenants/acme/users", &server.root_key, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let session = login(&server, json!({"email": "ana@example.com", "password": PASSWORD})).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(server.get("/v1/tenants/acme/users", &session).await.status, StatusCode::OK, "an admin lists users");

    let path = format!("/v1/tenants/acme/users/{id}");
    let demoted = server.patch(&path, &server.root_key, json!({"role": "user"}), None).await;
    assert_eq!(demoted.status, StatusCode::OK, "{:?}", demoted.body);
    assert_eq!(server.get("/v1/tenants/acme/users", &session).await.status, StatusCode::FORBIDDEN, "now a user");
    assert_eq!(server.get("/v1/me", &session).await.body["role"], "user");

    // only a live, active account is allowed anything: while a lock holds, its sessions open nothing; unlocked,
    // they work again
    for _ in 0..5 {
        login(&server, json!({"email": "ana@example.com", "password": "wrong password"})).await;
    }
    let locked = server.get(&format!("/v1/tenants/acme/users/{id}"), &key).await;
    assert_eq!(locked.body["status"], "locked");
    assert_eq!(server.get("/v1/me", &session).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.post(&format!("{path}/unlock"), &key, json!({})).await.status, StatusCode::OK);
    assert_eq!(server.get("/v1/me", &session).await.status, StatusCode::OK);

    // a deleted user's session opens nothing
    assert_eq!(server.delete(&path, &key).await.status, StatusCode::OK);
    assert_eq!(server.get("/v1/me", &session).await.status, StatusCode::UNAUTHORIZED);
});
