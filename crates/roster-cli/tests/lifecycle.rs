//! Registration, email verification, invitations and password resets, end to end.

mod common;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster::clock::ManualClock;
use roster::config::Config;
use roster::principal::Role;
use serde_json::{json, Value};
use time::macros::datetime;

async fn public(server: &common::Server, path: &str, body: Value) -> common::Reply {
    server.send(Method::POST, &format!("/v1/tenants/acme{path}"), None, Some(&body), &[]).await
}

async fn start(backend: roster::store::Backend) -> Option<(common::Server, Arc<ManualClock>, String)> {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-22 12:00 UTC)));
    let server = common::Server::start_with(backend, Config::default(), clock.clone()).await?;
    let key = server.tenant_with_key("acme", Role::Admin).await;
    Some((server, clock, key))
}

/// Registration as the application calls it: with its API key, which receives the token to deliver.
async fn application(server: &common::Server, key: &str, path: &str, body: Value) -> common::Reply {
    server.send(Method::POST, &format!("/v1/tenants/acme{path}"), Some(key), Some(&body), &[]).await
}

async fn registration(backend: roster::store::Backend) {
    let Some((server, clock, key)) = start(backend).await else { return };
    let registered =
        application(&server, &key, "/auth/register", json!({"email": "new@example.com", "password": "a new password"}))
            .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
    assert_eq!(registered.body["user"]["status"], "pending_verification");
    let token = registered.body["verification_token"].as_str().unwrap().to_owned();
    let login = json!({"email": "new@example.com", "password": "a new password"});
    assert_eq!(
        public(&server, "/auth/login", login.clone()).await.status,
        StatusCode::UNAUTHORIZED,
        "not yet verified"
    );

    let again = application(
        &server,
        &key,
        "/auth/register",
        json!({"email": "NEW@example.com", "password": "another password"}),
    )
    .await;
    assert_eq!((again.status, &again.body["errors"][0]["field"]), (StatusCode::CONFLICT, &json!("email")));
    let sneaky = public(
        &server,
        "/auth/register",
        json!({"email": "x@example.com", "password": "pw pw pw pw", "role": "admin"}),
    )
    .await;
    assert_eq!(sneaky.status, StatusCode::UNPROCESSABLE_ENTITY, "no role on registration");

    clock.advance(time::Duration::hours(1));
    let verified = public(&server, "/auth/verify-email", json!({"token": token})).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(
        (&verified.body["status"], &verified.body["email_verified_at"]),
        (&json!("active"), &json!("2026-11-22T13:00:00Z"))
    );
    let reused = public(&server, "/auth/verify-email", json!({"token": token})).await;
    assert_eq!(
        (reused.status, &reused.body["errors"][0]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("token"))
    );
    assert_eq!(public(&server, "/auth/login", login).await.status, StatusCode::OK);

    // a token expires
    let late = application(
        &server,
        &key,
        "/auth/register",
        json!({"email": "late@example.com", "password": "a late password"}),
    )
    .await;
    clock.advance(time::Duration::hours(49));
    let expired = public(&server, "/auth/verify-email", json!({"token": late.body["verification_token"]})).await;
    assert_eq!(expired.status, StatusCode::UNPROCESSABLE_ENTITY);
}
roster::backend_test!(registration_needs_a_verified_email, registration);

async fn anonymous_registration(backend: roster::store::Backend) {
    let Some((server, _, _)) = start(backend).await else { return };
    let taken = json!({"email": "taken@example.com", "username": "taken", "password": "a new password"});
    let first = public(&server, "/auth/register", taken.clone()).await;
    // a stranger hears the same for a new address, a taken email and a taken username: never the user or a token
    let mut answers = vec![first];
    answers.push(public(&server, "/auth/register", taken).await);
    answers.push(
        public(&server, "/auth/register", json!({"email": "TAKEN@example.com", "password": "pw pw pw pw"})).await,
    );
    answers.push(
        public(
            &server,
            "/auth/register",
            json!({"email": "other@example.com", "username": "taken", "password": "pw pw pw pw"}),
        )
        .await,
    );
    answers.push(
        public(&server, "/auth/register", json!({"email": "fresh@example.com", "password": "pw pw pw pw"})).await,
    );
    for answer in &answers {
        assert_eq!((answer.status, &answer.body), (StatusCode::ACCEPTED, &json!({"accepted": true})));
    }
    // the new addresses were registered, pending verification
    let (pending,): (i64,) = server
        .db
        .store
        .query_one("SELECT COUNT(*) FROM users WHERE status = 'pending_verification'", vec![])
        .await
        .unwrap();
    assert_eq!(pending, 2);
    // validation errors still name the field: they say nothing about who has an account
    let bad = public(&server, "/auth/register", json!({"email": "not an address", "password": "pw pw pw pw"})).await;
    assert_eq!((bad.status, &bad.body["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("email")));
}
roster::backend_test!(
    anonymous_registration_answers_the_same_whether_or_not_the_address_is_taken,
    anonymous_registration
);

async fn invitation(backend: roster::store::Backend) {
    let Some((server, _, key)) = start(backend).await else { return };
    let invited = server.post("/v1/tenants/acme/users", &key, json!({"email": "invited@example.com"})).await;
    assert_eq!(invited.body["status"], "invited");
    let token = invited.body["invitation_token"].as_str().unwrap().to_owned();
    let id = invited.body["id"].as_str().unwrap().to_owned();
    assert!(
        server.get(&format!("/v1/tenants/acme/users/{id}"), &key).await.body.get("invitation_token").is_none(),
        "shown once"
    );
    let short = public(&server, "/auth/password-reset/confirm", json!({"token": token, "password": "short"})).await;
    assert_eq!(
        (short.status, &short.body["errors"][0]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("password"))
    );
    let accepted =
        public(&server, "/auth/password-reset/confirm", json!({"token": token, "password": "my own password"})).await;
    assert_eq!(accepted.status, StatusCode::OK, "{:?}", accepted.body);
    assert_eq!(accepted.body["status"], "active");
    assert!(accepted.body["email_verified_at"].is_string());
    let login =
        public(&server, "/auth/login", json!({"email": "invited@example.com", "password": "my own password"})).await;
    assert_eq!(login.status, StatusCode::OK);
}
roster::backend_test!(an_invited_user_sets_a_password_with_the_invitation, invitation);

async fn reset(backend: roster::store::Backend) {
    let Some((server, _, key)) = start(backend).await else { return };
    server
        .post("/v1/tenants/acme/users", &key, json!({"email": "ana@example.com", "password": "the old password"}))
        .await;
    let session = public(&server, "/auth/login", json!({"email": "ana@example.com", "password": "the old password"}))
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // anyone may ask, and hears the same; only the application gets a token
    let known = public(&server, "/auth/password-reset/request", json!({"email": "ana@example.com"})).await;
    let unknown = public(&server, "/auth/password-reset/request", json!({"email": "nobody@example.com"})).await;
    assert_eq!((known.status, &known.body), (StatusCode::ACCEPTED, &json!({"accepted": true})));
    assert_eq!((unknown.status, &unknown.body), (known.status, &known.body));
    let app = |email: &str| {
        let body = json!({"email": email});
        let (server, key) = (&server, key.clone());
        async move {
            server
                .send(Method::POST, "/v1/tenants/acme/auth/password-reset/request", Some(&key), Some(&body), &[])
                .await
        }
    };
    let real = app("ana@example.com").await;
    let decoy = app("nobody@example.com").await;
    assert_eq!((real.status, decoy.status), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    let token = real.body["reset_token"].as_str().unwrap().to_owned();
    let fake = decoy.body["reset_token"].as_str().unwrap().to_owned();
    assert_eq!((token.len(), &token[..3]), (fake.len(), &fake[..3]), "the decoy looks like a token");
    assert_eq!(
        public(&server, "/auth/password-reset/confirm", json!({"token": fake, "password": "whatever pw"})).await.status,
        422
    );

    let done =
        public(&server, "/auth/password-reset/confirm", json!({"token": token, "password": "the new password"})).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(server.get("/v1/me", &session).await.status, StatusCode::UNAUTHORIZED, "a reset ends every session");
    let old = public(&server, "/auth/login", json!({"email": "ana@example.com", "password": "the old password"})).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = public(&server, "/auth/login", json!({"email": "ana@example.com", "password": "the new password"})).await;
    assert_eq!(new.status, StatusCode::OK);
    let again =
        public(&server, "/auth/password-reset/confirm", json!({"token": token, "password": "third password"})).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "single use");

    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let log: Vec<roster::audit::AuditEntry> = {
        let scope =
            roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
        let id = done.body["id"].as_str().unwrap();
        roster::audit::entries_for(&server.db.store, &scope, "user", id).await.unwrap()
    };
    let text = serde_json::to_string(&log).unwrap();
    assert!(text.contains("\"password\":\"changed\""), "the reset is audited");
    assert!(!text.contains(&token) && !text.contains("the new password") && !text.contains("argon2"), "no secrets");
}
roster::backend_test!(a_password_reset_is_single_use_and_ends_sessions, reset);

/// Every outstanding reset token of a user is retired when its password changes, by whatever way: using one token,
/// changing it oneself, an admin's force-reset, a provider setting it.
async fn reset_tokens_retire(backend: roster::store::Backend) {
    let Some((server, _, key)) = start(backend).await else { return };
    let created = server
        .post("/v1/tenants/acme/users", &key, json!({"email": "ana@example.com", "password": "the first password"}))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let request = || async {
        let body = json!({"email": "ana@example.com"});
        let reply = server
            .send(Method::POST, "/v1/tenants/acme/auth/password-reset/request", Some(&key), Some(&body), &[])
            .await;
        reply.body["reset_token"].as_str().unwrap().to_owned()
    };
    let confirm = |token: String, password: &'static str| {
        let server = &server;
        async move {
            public(server, "/auth/password-reset/confirm", json!({"token": token, "password": password})).await.status
        }
    };

    // one token used: the others it was issued beside are spent with it
    let (first, second, third) = (request().await, request().await, request().await);
    assert_eq!(confirm(second, "the second password").await, StatusCode::OK);
    assert_eq!(confirm(first, "a stale first token").await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(confirm(third, "a stale third token").await, StatusCode::UNPROCESSABLE_ENTITY);

    // the user changes it: a token asked for before no longer works
    let before_change = request().await;
    let session =
        public(&server, "/auth/login", json!({"email": "ana@example.com", "password": "the second password"}))
            .await
            .body["token"]
            .as_str()
            .unwrap()
            .to_owned();
    let body = json!({"current_password": "the second password", "new_password": "the third password"});
    let changed = server.send(Method::POST, "/v1/me/password", Some(&session), Some(&body), &[]).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(confirm(before_change, "after a change").await, StatusCode::UNPROCESSABLE_ENTITY);

    // an admin forces a reset: only the token it hands out works
    let before_force = request().await;
    let forced = server.post(&format!("/v1/tenants/acme/users/{id}/force-password-reset"), &key, json!({})).await;
    assert_eq!(forced.status, StatusCode::OK, "{:?}", forced.body);
    assert_eq!(confirm(before_force, "after a force-reset").await, StatusCode::UNPROCESSABLE_ENTITY);
    let handed_out = forced.body["reset_token"].as_str().unwrap().to_owned();
    assert_eq!(confirm(handed_out, "the fourth password").await, StatusCode::OK);

    // the audit entry of the change says how many it retired
    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let scope = roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
    let log = roster::audit::entries_for(&server.db.store, &scope, "user", &id).await.unwrap();
    let retired: Vec<i64> =
        log.iter().filter_map(|e| e.new_values.as_ref()?["password_tokens_retired"].as_i64()).collect();
    assert_eq!(retired, vec![2, 1, 1], "two beside the one used, one at the change, one at the force-reset");
}
roster::backend_test!(every_reset_token_retires_when_the_password_changes, reset_tokens_retire);

/// A stranger cannot tell a tenant that exists from one that does not (or is suspended) by registering or asking for
/// a reset: the same status and body, and the same refusal of a malformed request.
async fn unknown_tenants(backend: roster::store::Backend) {
    let Some((server, _, _)) = start(backend).await else { return };
    let ask = |tenant: &'static str, path: &'static str, body: Value| {
        let server = &server;
        async move { server.send(Method::POST, &format!("/v1/tenants/{tenant}{path}"), None, Some(&body), &[]).await }
    };
    let registration = json!({"email": "new@example.com", "password": "a long password"});
    let real = ask("acme", "/auth/register", registration.clone()).await;
    let unknown = ask("nowhere", "/auth/register", registration.clone()).await;
    assert_eq!((real.status, &real.body), (StatusCode::ACCEPTED, &json!({"accepted": true})));
    assert_eq!((unknown.status, &unknown.body), (real.status, &real.body));
    let malformed = json!({"email": "not an address", "password": "a long password"});
    let (real, unknown) =
        (ask("acme", "/auth/register", malformed.clone()).await, ask("nowhere", "/auth/register", malformed).await);
    assert_eq!(real.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!((unknown.status, &unknown.body["errors"]), (real.status, &real.body["errors"]));
    let reset = json!({"email": "new@example.com"});
    let real = ask("acme", "/auth/password-reset/request", reset.clone()).await;
    let unknown = ask("nowhere", "/auth/password-reset/request", reset).await;
    assert_eq!((real.status, &real.body), (StatusCode::ACCEPTED, &json!({"accepted": true})));
    assert_eq!((unknown.status, &unknown.body), (real.status, &real.body));
    // nothing was written for the tenant that is not there
    assert_eq!(server.count("users").await, 2, "the bootstrap sysadmin and the one registration in acme");
}
roster::backend_test!(a_stranger_cannot_tell_which_tenants_exist, unknown_tenants);
