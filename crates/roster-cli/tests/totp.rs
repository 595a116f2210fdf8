//! Two-factor sign-in end to end, with codes computed here from RFC 6238 (HMAC-SHA1, 30 s, 6 digits).

mod common;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster::clock::{Clock, ManualClock};
use roster::config::Config;
use roster::principal::Role;
use serde_json::{json, Value};
use time::macros::datetime;

fn step(clock: &ManualClock) -> u64 {
    clock.now().unix_timestamp() as u64 / 30
}

async fn two_factor(backend: roster::store::Backend) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-22 12:00:10 UTC)));
    let config =
        Config { secret_key: Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()), ..Config::default() };
    let Some(server) = common::Server::start_with(backend, config, clock.clone()).await else { return };
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let created = server
        .post("/v1/tenants/acme/users", &key, json!({"email": "ana@example.com", "password": "correct horse"}))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let login = |body: Value| {
        let server = &server;
        async move { server.send(Method::POST, "/v1/tenants/acme/auth/login", None, Some(&body), &[]).await }
    };
    let password = json!({"email": "ana@example.com", "password": "correct horse"});
    let session = login(password.clone()).await.body["token"].as_str().unwrap().to_owned();

    let enrolment = server.send(Method::POST, "/v1/me/totp/enroll", Some(&session), None, &[]).await;
    assert_eq!(enrolment.status, StatusCode::OK, "{:?}", enrolment.body);
    let secret_b32 = enrolment.body["secret"].as_str().unwrap();
    let secret = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret_b32).unwrap();
    assert!(enrolment.body["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    let recovery: Vec<String> =
        enrolment.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(recovery.len(), 10);
    let stored: (Vec<u8>,) = server
        .db
        .store
        .query_one("SELECT totp_secret FROM users WHERE id = $1", vec![uuid::Uuid::parse_str(&id).unwrap().into()])
        .await
        .unwrap();
    assert!(!stored.0.windows(secret.len()).any(|w| w == secret.as_slice()), "the secret is encrypted at rest");

    // not on until confirmed; a wrong code does not confirm
    assert_eq!(login(password.clone()).await.status, StatusCode::OK);
    let confirm = |code: String| {
        let (server, session) = (&server, session.clone());
        async move {
            server.send(Method::POST, "/v1/me/totp/confirm", Some(&session), Some(&json!({"code": code})), &[]).await
        }
    };
    assert_eq!(confirm("000000".into()).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(confirm(common::code_at(&secret, step(&clock))).await.status, StatusCode::NO_CONTENT);

    // now the password alone asks for a code, with its own problem type — only when the password is right
    let asked = login(password.clone()).await;
    assert_eq!(
        (asked.status, &asked.body["type"]),
        (StatusCode::UNAUTHORIZED, &json!("urn:roster:problem:totp-required"))
    );
    let wrong_password = login(json!({"email": "ana@example.com", "password": "nope"})).await;
    assert_eq!(wrong_password.body["type"], "urn:roster:problem:invalid-credentials");

    let with = |code: String| {
        let mut body = password.clone();
        body["totp_code"] = json!(code);
        body
    };
    // the confirming code was spent; the next step's code works once
    clock.advance(time::Duration::seconds(30));
    let current = common::code_at(&secret, step(&clock));
    assert_eq!(login(with(current.clone())).await.status, StatusCode::OK);
    assert_eq!(login(with(current)).await.status, StatusCode::UNAUTHORIZED, "a code works once");
    // one step late is accepted, two are not
    clock.advance(time::Duration::seconds(60));
    let late = common::code_at(&secret, step(&clock) - 1);
    assert_eq!(login(with(late)).await.status, StatusCode::OK, "±1 step");
    clock.advance(time::Duration::seconds(90));
    let too_late = common::code_at(&secret, step(&clock) - 2);
    assert_eq!(login(with(too_late)).await.status, StatusCode::UNAUTHORIZED, "2 steps late");
    let early = common::code_at(&secret, step(&clock) + 2);
    assert_eq!(login(with(early)).await.status, StatusCode::UNAUTHORIZED, "2 steps early");

    // a recovery code works once
    assert_eq!(login(with(recovery[0].clone())).await.status, StatusCode::OK);
    assert_eq!(login(with(recovery[0].clone())).await.status, StatusCode::UNAUTHORIZED);

    // turning it off needs a code; an admin can do it without one
    let session = login(with(recovery[1].clone())).await.body["token"].as_str().unwrap().to_owned();
    let off = server.send(Method::DELETE, "/v1/me/totp", Some(&session), Some(&json!({"code": "123456"})), &[]).await;
    assert_eq!(off.status, StatusCode::UNPROCESSABLE_ENTITY);
    let by_admin = server.delete(&format!("/v1/tenants/acme/users/{id}/totp"), &key).await;
    assert_eq!(by_admin.status, StatusCode::NO_CONTENT);
    assert_eq!(login(password).await.status, StatusCode::OK, "the password alone again");

    // the audit log knows what happened, but never the secret or a code
    let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
    let scope = roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
    let log = serde_json::to_string(&roster::audit::entries_for(&server.db.store, &scope, "user", &id).await.unwrap())
        .unwrap();
    assert!(log.contains("enrolment started") && log.contains("\"enabled\"") && log.contains("\"disabled\""));
    assert!(!log.contains(secret_b32) && !log.contains(&recovery[2]), "no secret in the audit log");
}
roster::backend_test!(two_factor_sign_in_with_codes_computed_independently, two_factor);
