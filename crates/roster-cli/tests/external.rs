//! External sign-in as an attacker would try it: with a low key, as a higher role, through an unverified email, past
//! two-factor sign-in, and against locked accounts. Each refused attempt must leave the database as it was.

mod common;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster::clock::{Clock, ManualClock, SystemClock};
use roster::config::Config;
use roster::principal::{Actor, Role, TenantScope};
use serde_json::{json, Value};
use time::macros::datetime;

async fn external(server: &common::Server, key: &str, body: Value) -> common::Reply {
    server.send(Method::POST, "/v1/tenants/acme/auth/external", Some(key), Some(&body), &[]).await
}

/// A key of `role` in the tenant `acme`, which must exist.
async fn key_of(server: &common::Server, role: Role) -> String {
    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let scope = TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli());
    roster::auth::create_api_key(&server.db.store, &scope, SystemClock.now(), "tests", role, None).await.unwrap().1
}

/// Everything a sign-in could write, counted.
async fn footprint(server: &common::Server) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["users", "sessions", "audit_log"] {
        counts.push(server.count(table).await);
    }
    let (versions,): (i64,) =
        server.db.store.query_one("SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM users", vec![]).await.unwrap();
    let (attempts,): (i64,) = server
        .db
        .store
        .query_one("SELECT CAST(COALESCE(SUM(failed_login_attempts), 0) AS BIGINT) FROM users", vec![])
        .await
        .unwrap();
    counts.extend([versions, attempts]);
    counts
}

/// A user registered through the application and verified: its email may be linked.
async fn verified_user(server: &common::Server, key: &str, email: &str) -> String {
    let body = json!({"email": email, "password": "correct horse battery"});
    let registered = server.post("/v1/tenants/acme/auth/register", key, body).await;
    assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
    let token = registered.body["verification_token"].as_str().expect("an application receives the token");
    let verified = server.post("/v1/tenants/acme/auth/verify-email", key, json!({"token": token})).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    verified.body["id"].as_str().unwrap().to_owned()
}

e2e_test!(external_sign_in_needs_an_admin_key_and_never_signs_in_above_it, |server| async move {
    let admin_key = server.tenant_with_key("acme", Role::Admin).await;
    let user_key = key_of(&server, Role::User).await;
    // a sysadmin of the tenant, with a verified email and an identity of its own
    let boss = verified_user(&server, &server.root_key, "boss@example.com").await;
    let promoted = server
        .patch(&format!("/v1/tenants/acme/users/{boss}"), &server.root_key, json!({"role": "sysadmin"}), None)
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{:?}", promoted.body);
    let linked = external(
        &server,
        &server.root_key,
        json!({"identity_provider": "entra_id", "identity_provider_id": "boss", "email": "boss@example.com",
               "link_by_email": true}),
    )
    .await;
    assert_eq!(linked.status, StatusCode::OK, "a sysadmin key may sign in a sysadmin: {:?}", linked.body);
    let before = footprint(&server).await;

    // a key of role user can neither sign anyone in nor create users this way
    for body in [
        json!({"identity_provider": "entra_id", "identity_provider_id": "new-person", "email": "new@example.com"}),
        json!({"identity_provider": "entra_id", "identity_provider_id": "boss"}),
        json!({"identity_provider": "google", "identity_provider_id": "g-1", "email": "boss@example.com",
               "link_by_email": true}),
    ] {
        let refused = external(&server, &user_key, body).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    }
    // an admin key cannot become the sysadmin, by its identity or by its email
    let by_identity =
        external(&server, &admin_key, json!({"identity_provider": "entra_id", "identity_provider_id": "boss"})).await;
    assert_eq!(by_identity.status, StatusCode::FORBIDDEN, "{:?}", by_identity.body);
    assert!(by_identity.body.get("token").is_none());
    assert_eq!(footprint(&server).await, before, "refused attempts write nothing");

    // the bootstrap sysadmin of the default tenant, with an admin key of that tenant
    let default = roster::tenants::find(&server.db.store, "default").await.unwrap().unwrap();
    let scope = TenantScope::operator_unchecked(default.as_ref(), Actor::cli());
    let (_, default_admin) =
        roster::auth::create_api_key(&server.db.store, &scope, SystemClock.now(), "t", Role::Admin, None)
            .await
            .unwrap();
    let mut tx = server.db.store.begin().await.unwrap();
    tx.execute("UPDATE users SET email_verified_at = created_at WHERE email = 'admin@localhost'", vec![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let takeover = server
        .send(
            Method::POST,
            "/v1/tenants/default/auth/external",
            Some(&default_admin),
            Some(&json!({"identity_provider": "google", "identity_provider_id": "x", "email": "admin@localhost",
                         "link_by_email": true})),
            &[],
        )
        .await;
    assert_eq!(takeover.status, StatusCode::FORBIDDEN, "{:?}", takeover.body);

    // an admin key signs in ordinary users, and creates them with the role user
    let fresh = external(
        &server,
        &admin_key,
        json!({"identity_provider": "entra_id", "identity_provider_id": "p-1", "email": "p1@example.com"}),
    )
    .await;
    assert_eq!(fresh.status, StatusCode::OK, "{:?}", fresh.body);
    assert_eq!((&fresh.body["user"]["role"], &fresh.body["user"]["email_verified_at"]), (&json!("user"), &Value::Null));
});

e2e_test!(external_sign_in_links_by_email_only_a_verified_email, |server| async move {
    let admin_key = server.tenant_with_key("acme", Role::Admin).await;
    let created = server
        .post("/v1/tenants/acme/users", &admin_key, json!({"email": "ana@example.com", "password": "correct horse"}))
        .await;
    let ana = created.body["id"].as_str().unwrap().to_owned();
    let before = footprint(&server).await;
    let link = json!({"identity_provider": "google", "identity_provider_id": "g-ana", "email": "ana@example.com",
                      "display_name": "Not Ana", "link_by_email": true});
    let refused = external(&server, &admin_key, link.clone()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.body["errors"][0]["field"], "email");
    assert!(refused.body["detail"].as_str().unwrap().contains("verified"), "{:?}", refused.body);
    assert_eq!(footprint(&server).await, before, "nothing written");
    let ana_now = server.get(&format!("/v1/tenants/acme/users/{ana}"), &admin_key).await;
    assert_eq!((&ana_now.body["display_name"], &ana_now.body["identity_provider"]), (&json!("ana"), &Value::Null));

    // once verified, it links
    let verified = verified_user(&server, &admin_key, "bo@example.com").await;
    let mut link_bo = link.clone();
    link_bo["email"] = json!("bo@example.com");
    link_bo["identity_provider_id"] = json!("g-bo");
    let linked = external(&server, &admin_key, link_bo).await;
    assert_eq!((linked.status, linked.body["user"]["id"].as_str()), (StatusCode::OK, Some(verified.as_str())));
    // the provider changing the email of a linked user leaves the new address unverified
    let moved = external(
        &server,
        &admin_key,
        json!({"identity_provider": "google", "identity_provider_id": "g-bo", "email": "bo.new@example.com"}),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(
        (&moved.body["user"]["email"], &moved.body["user"]["email_verified_at"]),
        (&json!("bo.new@example.com"), &Value::Null)
    );
});

async fn totp_and_locks(backend: roster::store::Backend) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-22 12:00:10 UTC)));
    let config =
        Config { secret_key: Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()), ..Config::default() };
    let Some(server) = common::Server::start_with(backend, config, clock.clone()).await else { return };
    let admin_key = server.tenant_with_key("acme", Role::Admin).await;
    let identity = json!({"identity_provider": "entra_id", "identity_provider_id": "ana", "email": "ana@example.com"});
    let first = external(&server, &admin_key, identity.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let session = first.body["token"].as_str().unwrap().to_owned();
    let enrolment = server.send(Method::POST, "/v1/me/totp/enroll", Some(&session), None, &[]).await;
    let secret =
        base32::decode(base32::Alphabet::Rfc4648 { padding: false }, enrolment.body["secret"].as_str().unwrap())
            .unwrap();
    let step = clock.now().unix_timestamp() as u64 / 30;
    let confirm = json!({"code": common::code_at(&secret, step)});
    let confirmed = server.send(Method::POST, "/v1/me/totp/confirm", Some(&session), Some(&confirm), &[]).await;
    assert_eq!(confirmed.status, StatusCode::NO_CONTENT, "{:?}", confirmed.body);
    clock.advance(time::Duration::seconds(30));
    let step = step + 1;

    // without a code: asked for one, nothing written
    let before = footprint(&server).await;
    let asked = external(&server, &admin_key, identity.clone()).await;
    assert_eq!(
        (asked.status, &asked.body["type"]),
        (StatusCode::UNAUTHORIZED, &json!("urn:roster:problem:totp-required"))
    );
    assert_eq!(footprint(&server).await, before);
    // a wrong code is a failed sign-in
    let mut wrong = identity.clone();
    wrong["totp_code"] = json!(if common::code_at(&secret, step) == "000000" { "111111" } else { "000000" });
    let refused = external(&server, &admin_key, wrong.clone()).await;
    assert_eq!(
        (refused.status, &refused.body["type"]),
        (StatusCode::UNAUTHORIZED, &json!("urn:roster:problem:invalid-credentials"))
    );
    // the right one signs in
    let mut right = identity.clone();
    right["totp_code"] = json!(common::code_at(&secret, step));
    let signed_in = external(&server, &admin_key, right.clone()).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["user"]["failed_login_attempts"], 0);

    // wrong codes lock the account like wrong passwords; a locked account is refused and nothing is saved
    for _ in 0..5 {
        assert_eq!(external(&server, &admin_key, wrong.clone()).await.status, StatusCode::UNAUTHORIZED);
    }
    let user =
        server.get(&format!("/v1/tenants/acme/users/{}", first.body["user"]["id"].as_str().unwrap()), &admin_key).await;
    assert_eq!(user.body["status"], "locked", "{:?}", user.body);
    let before = footprint(&server).await;
    clock.advance(time::Duration::seconds(30));
    let mut renamed = identity.clone();
    renamed["display_name"] = json!("Renamed While Locked");
    renamed["totp_code"] = json!(common::code_at(&secret, step + 1));
    let locked = external(&server, &admin_key, renamed.clone()).await;
    assert_eq!(locked.status, StatusCode::UNAUTHORIZED, "{:?}", locked.body);
    assert_eq!(footprint(&server).await, before, "a refused attempt saves nothing");
    let user =
        server.get(&format!("/v1/tenants/acme/users/{}", first.body["user"]["id"].as_str().unwrap()), &admin_key).await;
    assert_ne!(user.body["display_name"], "Renamed While Locked");

    // when the lock runs out, the identity signs in again (with its code) and the account is active
    clock.advance(time::Duration::minutes(16));
    let mut later = identity.clone();
    later["totp_code"] = json!(common::code_at(&secret, clock.now().unix_timestamp() as u64 / 30));
    let back = external(&server, &admin_key, later).await;
    assert_eq!((back.status, &back.body["user"]["status"]), (StatusCode::OK, &json!("active")), "{:?}", back.body);
}
roster::backend_test!(
    external_sign_in_asks_for_the_totp_code_and_refuses_locked_accounts_without_writing,
    totp_and_locks
);

e2e_test!(external_sign_in_refuses_suspended_users_without_writing, |server| async move {
    let admin_key = server.tenant_with_key("acme", Role::Admin).await;
    let identity = json!({"identity_provider": "entra_id", "identity_provider_id": "cy", "email": "cy@example.com"});
    let first = external(&server, &admin_key, identity.clone()).await;
    let id = first.body["user"]["id"].as_str().unwrap().to_owned();
    let suspended = server.post(&format!("/v1/tenants/acme/users/{id}/suspend"), &admin_key, json!(null)).await;
    assert_eq!(suspended.status, StatusCode::OK, "{:?}", suspended.body);
    let before = footprint(&server).await;
    let mut renamed = identity.clone();
    renamed["display_name"] = json!("Renamed While Suspended");
    let refused = external(&server, &admin_key, renamed).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(footprint(&server).await, before, "a refused attempt saves nothing");
});

e2e_test!(concurrent_external_sign_ins_of_one_identity_all_land_and_lose_nothing, |server| async move {
    let admin_key = server.tenant_with_key("acme", Role::Admin).await;
    let identity = json!({"identity_provider": "entra_id", "identity_provider_id": "dee", "email": "dee@example.com"});
    let first = external(&server, &admin_key, identity.clone()).await;
    let id = first.body["user"]["id"].as_str().unwrap().to_owned();
    let server = Arc::new(server);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (server, key) = (server.clone(), admin_key.clone());
        let mut body = identity.clone();
        body["display_name"] = json!(format!("Dee {i}"));
        tasks.push(tokio::spawn(async move { external(&server, &key, body).await.status }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let user = server.get(&format!("/v1/tenants/acme/users/{id}"), &admin_key).await;
    assert_eq!(user.body["login_count"], 9, "every sign-in counted");
    // each rename was written from what it read: every update's old name is the name the previous one left
    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let scope = TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli());
    let entries = roster::audit::entries_for(&server.db.store, &scope, "user", &id).await.unwrap();
    let mut name = first.body["user"]["display_name"].clone();
    for entry in entries.iter().filter(|e| e.action == "update") {
        assert_eq!(entry.old_values.as_ref().unwrap()["display_name"], name, "{entries:?}");
        name = entry.new_values.as_ref().unwrap()["display_name"].clone();
    }
    assert_eq!(user.body["display_name"], name);
});
