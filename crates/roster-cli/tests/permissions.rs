//! Agent permissions over HTTP: the catalogue, grants with expiry, the check, and who may do what.

mod common;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster::clock::{Clock, ManualClock};
use roster::config::Config;
use roster::principal::Role;
use roster::store::Backend;
use serde_json::{json, Value};
use time::macros::datetime;

const T: &str = "/v1/tenants/acme";

async fn user(server: &common::Server, key: &str, name: &str, role: &str) -> String {
    let body =
        json!({"username": name, "email": format!("{name}@example.com"), "password": "a password 123", "role": role});
    let reply = server.post(&format!("{T}/users"), key, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// A session of `name`, who has the tests' password, in the tests' tenant.
async fn sign_in(server: &common::Server, name: &str) -> String {
    server.sign_in("acme", name, "a password 123").await
}

async fn put(server: &common::Server, key: &str, path: &str, body: Value, if_match: Option<&str>) -> common::Reply {
    let headers: Vec<(&str, &str)> = if_match.map(|v| vec![("if-match", v)]).unwrap_or_default();
    server.send(Method::PUT, path, Some(key), Some(&body), &headers).await
}

async fn permission_changes(server: &common::Server) -> i64 {
    server
        .db
        .store
        .query_one::<(i64,)>("SELECT COUNT(*) FROM audit_log WHERE action = 'permission_change'", vec![])
        .await
        .unwrap()
        .0
}

e2e_test!(grants_are_put_listed_checked_and_revoked, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let ana = user(&server, &admin, "ana", "user").await;
    let bo = user(&server, &admin, "bo", "user").await;
    let grant = format!("{T}/users/{ana}/permissions/pdf_processing");
    let check = |action: &str| format!("{grant}/check?action={action}");

    let answer = server.get(&check("read"), &admin).await;
    assert_eq!((answer.status, &answer.body), (StatusCode::OK, &json!({"allowed": false, "reason": "not_granted"})));

    let created = put(&server, &admin, &grant, json!({"can_read": true, "can_update": true}), None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!((&created.body["status"], &created.body["can_delete"]), (&json!("active"), &json!(false)));
    assert_eq!(server.get(&check("update"), &admin).await.body, json!({"allowed": true, "reason": "granted"}));
    assert_eq!(server.get(&check("delete"), &admin).await.body["reason"], "not_granted");

    // replace: only what the body says; a stale If-Match is 412 and changes nothing
    let replaced = put(&server, &admin, &grant, json!({"can_delete": true}), Some("\"1\"")).await;
    assert_eq!((replaced.status, replaced.header("etag")), (StatusCode::OK, Some("\"2\"")));
    assert_eq!(server.get(&check("read"), &admin).await.body["reason"], "not_granted");
    let stale = put(&server, &admin, &grant, json!({"can_read": true}), Some("\"1\"")).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(permission_changes(&server).await, 2);

    // the user reads its own grants and checks itself, but not another user
    let token = sign_in(&server, "ana").await;
    let mine = server.get("/v1/me/permissions", &token).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["items"][0]["agent"], "pdf_processing");
    assert_eq!(server.get(&format!("{T}/users/{ana}/permissions"), &token).await.body, mine.body);
    assert_eq!(server.get(&check("delete"), &token).await.body["allowed"], true);
    let others = format!("{T}/users/{bo}/permissions/pdf_processing/check?action=read");
    assert_eq!(server.get(&others, &token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(server.get(&format!("{T}/users/{bo}/permissions"), &token).await.status, StatusCode::NOT_FOUND);
    // and grants itself nothing
    let own = format!("{T}/users/{ana}/permissions/audio_recording");
    assert_eq!(put(&server, &token, &own, json!({"can_read": true}), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(server.delete(&grant, &token).await.status, StatusCode::FORBIDDEN);

    let revoked = server.delete(&grant, &admin).await;
    assert_eq!((revoked.status, &revoked.body["status"]), (StatusCode::OK, &json!("revoked")));
    assert_eq!(server.get(&check("delete"), &admin).await.body, json!({"allowed": false, "reason": "revoked"}));
    assert_eq!(server.delete(&grant, &admin).await.status, StatusCode::NOT_FOUND, "nothing left to revoke");
    assert_eq!(server.get("/v1/me/permissions", &token).await.body["items"], json!([]));
    let listed = server.get("/v1/me/permissions?include_revoked=true", &token).await;
    assert_eq!(listed.body["items"][0]["status"], "revoked");
    assert_eq!(permission_changes(&server).await, 3, "one entry per change, none for refused ones");
    // an API key has no user of its own
    assert_eq!(server.get("/v1/me/permissions", &admin).await.status, StatusCode::NOT_FOUND);
});

e2e_test!(bad_grants_and_checks_are_refused_naming_the_field, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let ana = user(&server, &admin, "ana", "user").await;
    let root = user(&server, &server.root_key, "root", "sysadmin").await;
    let base = format!("{T}/users/{ana}/permissions");
    let refused = |reply: common::Reply, status: StatusCode, field: &str| {
        assert_eq!(reply.status, status, "{:?}", reply.body);
        if !field.is_empty() {
            assert_eq!(reply.body["errors"][0]["field"], field, "{:?}", reply.body);
        }
    };
    refused(
        put(&server, &admin, &format!("{base}/no_such_agent"), json!({"can_read": true}), None).await,
        StatusCode::NOT_FOUND,
        "",
    );
    refused(
        put(&server, &admin, &format!("{base}/pdf_processing"), json!({}), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "can_read",
    );
    let past = json!({"can_read": true, "expires_at": "2020-01-01T00:00:00Z"});
    refused(
        put(&server, &admin, &format!("{base}/pdf_processing"), past, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "expires_at",
    );
    let malformed = json!({"can_read": true, "expires_at": "tomorrow"});
    refused(
        put(&server, &admin, &format!("{base}/pdf_processing"), malformed, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "expires_at",
    );
    let unknown = json!({"can_read": true, "can_fly": true});
    refused(
        put(&server, &admin, &format!("{base}/pdf_processing"), unknown, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "can_fly",
    );
    let nul = json!({"can_read": true});
    refused(
        put(&server, &admin, &format!("{base}/pdf%00processing"), nul, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "agent",
    );
    for action in ["", "write", "READ", "read&extra=1"] {
        let reply = server.get(&format!("{base}/pdf_processing/check?action={action}"), &admin).await;
        refused(reply, StatusCode::UNPROCESSABLE_ENTITY, "");
    }
    refused(
        server.get(&format!("{base}/pdf_processing/check"), &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "action",
    );
    refused(server.get(&format!("{base}/no_such_agent/check?action=read"), &admin).await, StatusCode::NOT_FOUND, "");
    // admins and sysadmins are allowed by their role
    let admin_user = user(&server, &admin, "ada", "admin").await;
    for who in [&admin_user, &root] {
        let reply =
            server.get(&format!("{T}/users/{who}/permissions/reports_analysis/check?action=delete"), &admin).await;
        assert_eq!(reply.body, json!({"allowed": true, "reason": "role"}));
    }
    // an admin key cannot change a sysadmin's grants
    let on_root = format!("{T}/users/{root}/permissions/pdf_processing");
    assert_eq!(put(&server, &admin, &on_root, json!({"can_read": true}), None).await.status, StatusCode::FORBIDDEN);
    // another tenant's admin sees nothing here
    let other = server.tenant_with_key("globex", Role::Admin).await;
    assert_eq!(
        server.get(&format!("{base}/pdf_processing/check?action=read"), &other).await.status,
        StatusCode::NOT_FOUND
    );
    let foreign = format!("/v1/tenants/globex/users/{ana}/permissions/pdf_processing");
    assert_eq!(put(&server, &other, &foreign, json!({"can_read": true}), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(permission_changes(&server).await, 0);
});

e2e_test!(the_catalogue_is_the_admins_to_extend_and_retire, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let user_key = {
        let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
        let scope =
            roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
        let now = roster::clock::SystemClock.now();
        roster::auth::create_api_key(&server.db.store, &scope, now, "app", Role::User, None).await.unwrap().1
    };
    let listed = server.get(&format!("{T}/agents"), &admin).await;
    let names: Vec<&str> =
        listed.body["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["audio_recording", "client_management", "pdf_processing", "reports_analysis"]);
    assert_eq!(server.get(&format!("{T}/agents"), &user_key).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        server.post(&format!("{T}/agents"), &user_key, json!({"name": "voice_bot"})).await.status,
        StatusCode::FORBIDDEN
    );

    let added = server.post(&format!("{T}/agents"), &admin, json!({"name": "voice_bot", "description": "Calls"})).await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    assert_eq!(
        server.post(&format!("{T}/agents"), &admin, json!({"name": "voice_bot"})).await.status,
        StatusCode::CONFLICT
    );
    for bad in ["v", "Voice", "9lives", "voice-bot", &"v".repeat(65)] {
        let reply = server.post(&format!("{T}/agents"), &admin, json!({"name": bad})).await;
        assert_eq!(
            (reply.status, &reply.body["errors"][0]["field"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!("name")),
            "{bad}"
        );
    }

    let ana = user(&server, &admin, "ana", "user").await;
    let grant = format!("{T}/users/{ana}/permissions/voice_bot");
    assert_eq!(put(&server, &admin, &grant, json!({"can_read": true}), None).await.status, StatusCode::CREATED);
    let retired = server.delete(&format!("{T}/agents/voice_bot"), &admin).await;
    assert_eq!(retired.status, StatusCode::OK);
    assert!(retired.body["retired_at"].is_string());
    assert_eq!(server.get(&format!("{grant}/check?action=read"), &admin).await.status, StatusCode::NOT_FOUND);
    assert_eq!(server.delete(&format!("{T}/agents/voice_bot"), &admin).await.status, StatusCode::NOT_FOUND);
    let all = server.get(&format!("{T}/agents?include_retired=true"), &admin).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 5);
    // added back, its grants count again
    assert_eq!(server.post(&format!("{T}/agents"), &admin, json!({"name": "voice_bot"})).await.status, StatusCode::OK);
    assert_eq!(server.get(&format!("{grant}/check?action=read"), &admin).await.body["reason"], "granted");
    // the catalogue is per tenant
    let other = server.tenant_with_key("globex", Role::Admin).await;
    let theirs = server.get("/v1/tenants/globex/agents", &other).await;
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 4);
    assert_eq!(server.delete(&format!("{T}/agents/voice_bot"), &other).await.status, StatusCode::NOT_FOUND);
});

/// Expiry is read against the server's clock at check time: allowed one second before, denied at the instant.
async fn expiry_at_check_time(backend: Backend) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-02 12:00 UTC)));
    let config = Config { signin_per_address_per_minute: 10_000, ..Config::default() };
    let Some(server) = common::Server::start_with(backend, config, clock.clone()).await else { return };
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let ana = user(&server, &admin, "ana", "user").await;
    let grant = format!("{T}/users/{ana}/permissions/client_management");
    let body = json!({"can_read": true, "expires_at": "2026-12-02T13:00:00Z"});
    assert_eq!(put(&server, &admin, &grant, body, None).await.status, StatusCode::CREATED);
    let check = format!("{grant}/check?action=read");

    clock.advance(time::Duration::minutes(59) + time::Duration::seconds(59));
    assert_eq!(server.get(&check, &admin).await.body, json!({"allowed": true, "reason": "granted"}));
    assert_eq!(server.get(&format!("{T}/users/{ana}/permissions"), &admin).await.body["items"][0]["status"], "active");
    clock.advance(time::Duration::seconds(1));
    assert_eq!(clock.now(), datetime!(2026-12-02 13:00 UTC));
    assert_eq!(server.get(&check, &admin).await.body, json!({"allowed": false, "reason": "expired"}));
    assert_eq!(server.get(&format!("{T}/users/{ana}/permissions"), &admin).await.body["items"][0]["status"], "expired");
    // an expiry that is now in the past is refused on write
    let again = json!({"can_read": true, "expires_at": "2026-12-02T13:00:00Z"});
    assert_eq!(put(&server, &admin, &grant, again, None).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let later = json!({"can_read": true, "expires_at": "2026-12-02T13:00:01Z"});
    assert_eq!(put(&server, &admin, &grant, later, None).await.status, StatusCode::OK);
    assert_eq!(server.get(&check, &admin).await.body["reason"], "granted");
}
roster::backend_test!(expiry_is_evaluated_at_check_time_against_the_server_clock, expiry_at_check_time);

e2e_test!(only_a_live_active_account_is_allowed_anything, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let ana = user(&server, &admin, "ana", "user").await;
    let boss = user(&server, &admin, "boss", "admin").await;
    let grant = format!("{T}/users/{ana}/permissions/pdf_processing");
    let created = put(&server, &admin, &grant, json!({"can_read": true}), None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let check = |id: &str| format!("{T}/users/{id}/permissions/pdf_processing/check?action=read");
    assert_eq!(server.get(&check(&ana), &admin).await.body, json!({"allowed": true, "reason": "granted"}));
    assert_eq!(server.get(&check(&boss), &admin).await.body, json!({"allowed": true, "reason": "role"}));
    let ana_session = sign_in(&server, "ana").await;

    // suspended: the grant and the role count for nothing, and the session ends
    for id in [&ana, &boss] {
        let reply = server.post(&format!("{T}/users/{id}/suspend"), &admin, json!({})).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(server.get(&check(id), &admin).await.body, json!({"allowed": false, "reason": "suspended"}));
    }
    assert_eq!(server.get("/v1/me", &ana_session).await.status, StatusCode::UNAUTHORIZED);
    for id in [&ana, &boss] {
        assert_eq!(server.post(&format!("{T}/users/{id}/activate"), &admin, json!({})).await.status, StatusCode::OK);
    }
    assert_eq!(server.get(&check(&ana), &admin).await.body["reason"], "granted");

    // locked by failed sign-ins: nothing while the lock holds, and the sessions it had authenticate nothing
    let ana_session = sign_in(&server, "ana").await;
    for _ in 0..5 {
        let body = json!({"username": "ana", "password": "wrong password"});
        server.send(Method::POST, &format!("{T}/auth/login"), None, Some(&body), &[]).await;
    }
    assert_eq!(server.get(&check(&ana), &admin).await.body, json!({"allowed": false, "reason": "locked"}));
    assert_eq!(server.get("/v1/me", &ana_session).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.post(&format!("{T}/users/{ana}/unlock"), &admin, json!({})).await.status, StatusCode::OK);
    assert_eq!(server.get(&check(&ana), &admin).await.body["reason"], "granted");

    // invited (no password yet) and pending verification (registered, not verified): nothing either
    let invited =
        server.post(&format!("{T}/users"), &admin, json!({"username": "ivo", "email": "ivo@example.com"})).await;
    assert_eq!(invited.body["status"], "invited", "{:?}", invited.body);
    let ivo = invited.body["id"].as_str().unwrap().to_owned();
    put(&server, &admin, &format!("{T}/users/{ivo}/permissions/pdf_processing"), json!({"can_read": true}), None).await;
    assert_eq!(server.get(&check(&ivo), &admin).await.body, json!({"allowed": false, "reason": "invited"}));
    let body = json!({"email": "pia@example.com", "password": "a password 123"});
    let registered = server.send(Method::POST, &format!("{T}/auth/register"), Some(&admin), Some(&body), &[]).await;
    let pia = registered.body["user"]["id"].as_str().unwrap().to_owned();
    put(&server, &admin, &format!("{T}/users/{pia}/permissions/pdf_processing"), json!({"can_read": true}), None).await;
    let answer = server.get(&check(&pia), &admin).await.body;
    assert_eq!(answer, json!({"allowed": false, "reason": "pending_verification"}));
});

async fn a_lock_that_ran_out(backend: Backend) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-22 12:00 UTC)));
    let Some(server) = common::Server::start_with(backend, Config::default(), clock.clone()).await else { return };
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let ana = user(&server, &admin, "ana", "user").await;
    put(&server, &admin, &format!("{T}/users/{ana}/permissions/pdf_processing"), json!({"can_read": true}), None).await;
    let session = sign_in(&server, "ana").await;
    for _ in 0..5 {
        let body = json!({"username": "ana", "password": "wrong password"});
        server.send(Method::POST, &format!("{T}/auth/login"), None, Some(&body), &[]).await;
    }
    let check = format!("{T}/users/{ana}/permissions/pdf_processing/check?action=read");
    assert_eq!(server.get(&check, &admin).await.body["reason"], "locked");
    clock.advance(time::Duration::minutes(16));
    // the lock ran out (its status is still `locked` until the next sign-in): the account is active again
    assert_eq!(server.get(&check, &admin).await.body, json!({"allowed": true, "reason": "granted"}));
    assert_eq!(server.get("/v1/me", &session).await.status, StatusCode::OK);
}
roster::backend_test!(a_lock_that_ran_out_allows_again, a_lock_that_ran_out);
