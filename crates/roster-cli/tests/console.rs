//! The admin console's server side over real HTTP: its page and policy, signing a browser in and out, and what the
//! session cookie may and may not do. The console itself is driven in a real browser by `scripts/console-tests`.

mod common;

use reqwest::{Method, StatusCode};
use roster::principal::Role;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

/// A tenant with an admin and a plain user, both with the password; the admin API key.
async fn tenant(server: &common::Server) -> String {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    for (name, role) in [("ada", "admin"), ("uma", "user")] {
        let body =
            json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD, "role": role});
        let created = server.post("/v1/tenants/acme/users", &key, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    }
    key
}

async fn console_sign_in(server: &common::Server, body: Value) -> common::Reply {
    server.send(Method::POST, "/console/session", None, Some(&body), &[]).await
}

/// The session cookie (`name=value`) of a sign-in's answer.
fn cookie_of(reply: &common::Reply) -> String {
    reply.header("set-cookie").expect("a session cookie").split(';').next().unwrap().to_owned()
}

e2e_test!(the_page_and_its_files_carry_a_strict_policy, |server| async move {
    for path in ["/console", "/console/", "/console/assets/app.js", "/console/session"] {
        let reply = server.send(Method::GET, path, None, None, &[]).await;
        let policy = reply.header("content-security-policy").unwrap_or_default();
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe"), "{path}: {policy}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{path}");
    }
    let page = server.send(Method::GET, "/console", None, None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.body.as_str().unwrap().contains("/console/assets/app.js"));
    let script = server.send(Method::GET, "/console/assets/app.js", None, None, &[]).await;
    assert!(script.header("content-type").unwrap().starts_with("text/javascript"));
    let tag = script.header("etag").unwrap().to_owned();
    let again = server.send(Method::GET, "/console/assets/app.js", None, None, &[("if-none-match", &tag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    for path in ["/console/assets/nothing.js", "/console/assets/..%2F..%2FCargo.toml", "/console/other"] {
        let reply = server.send(Method::GET, path, None, None, &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.header("content-type"), Some("application/problem+json"), "{path}");
    }
    // no session yet: 401, which the page answers with its sign-in form
    assert_eq!(server.send(Method::GET, "/console/session", None, None, &[]).await.status, StatusCode::UNAUTHORIZED);
});

e2e_test!(an_admin_signs_in_and_the_cookie_works_only_with_its_csrf_token, |server| async move {
    let _key = tenant(&server).await;
    let signed_in =
        console_sign_in(&server, json!({"tenant": "acme", "email": "ada@example.com", "password": PASSWORD})).await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{:?}", signed_in.body);
    let set_cookie = signed_in.header("set-cookie").unwrap();
    for part in ["roster_console=rs_", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(part), "{set_cookie} lacks {part}");
    }
    assert!(!set_cookie.contains("Secure"), "plain HTTP: a Secure cookie would never come back");
    assert!(signed_in.body.get("token").is_none(), "the token stays in the cookie, out of the script's reach");
    assert_eq!(signed_in.body["tenant"], "acme");
    assert_eq!(signed_in.body["user"]["username"], "ada");
    assert!(signed_in.body["user"].get("password_hash").is_none());
    let csrf = signed_in.body["csrf_token"].as_str().unwrap().to_owned();
    let cookie = cookie_of(&signed_in);

    // reads need only the cookie
    let me = server.send(Method::GET, "/v1/tenants/acme/users", None, None, &[("cookie", &cookie)]).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    let current = server.send(Method::GET, "/console/session", None, None, &[("cookie", &cookie)]).await;
    assert_eq!((current.status, current.body["csrf_token"].as_str()), (StatusCode::OK, Some(csrf.as_str())));

    // a write needs the session's CSRF token, from this site
    let uma =
        server.send(Method::GET, "/v1/tenants/acme/users/by-username/uma", None, None, &[("cookie", &cookie)]).await;
    let suspend = format!("/v1/tenants/acme/users/{}/suspend", uma.body["id"].as_str().unwrap());
    let refused = server.send(Method::POST, &suspend, None, None, &[("cookie", &cookie)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert!(refused.body["detail"].as_str().unwrap().contains("X-CSRF-Token"));
    let wrong =
        server.send(Method::POST, &suspend, None, None, &[("cookie", &cookie), ("x-csrf-token", "guess")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let headers = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str()), ("sec-fetch-site", "cross-site")];
    assert_eq!(server.send(Method::POST, &suspend, None, None, &headers).await.status, StatusCode::FORBIDDEN);
    let uma_now =
        server.send(Method::GET, "/v1/tenants/acme/users/by-username/uma", None, None, &[("cookie", &cookie)]).await;
    assert_eq!(uma_now.body["status"], "active", "no refused write changed anything");
    let headers = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str()), ("sec-fetch-site", "same-origin")];
    let done = server.send(Method::POST, &suspend, None, None, &headers).await;
    assert_eq!((done.status, done.body["status"].as_str()), (StatusCode::OK, Some("suspended")), "{:?}", done.body);

    // the audit entry names the admin and the console session
    let key = server.root_key.clone();
    let entries = server.get("/v1/tenants/acme/audit?action=status_change", &key).await;
    let entry = &entries.body["items"][0];
    assert_eq!(entry["actor_user_id"], signed_in.body["user"]["id"], "{entry}");
    assert!(entry["session_id"].is_string(), "{entry}");

    // the cookie is not a credential anywhere else
    let scim = server.send(Method::GET, "/scim/v2/tenants/acme/Users", None, None, &[("cookie", &cookie)]).await;
    assert_eq!(scim.status, StatusCode::UNAUTHORIZED);
    // a bearer credential, when sent, is the one that counts
    let bearer = server.send(Method::GET, "/v1/me", Some("rs_not_a_token"), None, &[("cookie", &cookie)]).await;
    assert_eq!(bearer.status, StatusCode::UNAUTHORIZED);

    // signing out ends the session and removes the cookie
    let out = server.send(Method::DELETE, "/console/session", None, None, &[("cookie", &cookie)]).await;
    assert_eq!(out.status, StatusCode::FORBIDDEN, "signing out is a write: it needs the CSRF token too");
    let headers = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let out = server.send(Method::DELETE, "/console/session", None, None, &headers).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = server.send(Method::GET, "/v1/tenants/acme/users", None, None, &[("cookie", &cookie)]).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
});

e2e_test!(only_admins_get_a_console_session, |server| async move {
    let key = tenant(&server).await;
    let user = console_sign_in(&server, json!({"tenant": "acme", "username": "uma", "password": PASSWORD})).await;
    assert_eq!(user.status, StatusCode::FORBIDDEN, "{:?}", user.body);
    assert!(user.header("set-cookie").is_none());
    // the session the sign-in opened was ended at once
    let uma = server.get("/v1/tenants/acme/users/by-username/uma", &key).await;
    let sessions =
        server.get(&format!("/v1/tenants/acme/users/{}/sessions", uma.body["id"].as_str().unwrap()), &key).await;
    assert_eq!(sessions.body, json!([]));

    // a wrong password, an unknown account and an unknown tenant are the API's one sign-in failure
    let mut answers = Vec::new();
    for body in [
        json!({"tenant": "acme", "username": "ada", "password": "wrong password"}),
        json!({"tenant": "acme", "username": "nobody", "password": PASSWORD}),
        json!({"tenant": "nowhere", "username": "ada", "password": PASSWORD}),
        json!({"tenant": "", "username": "ada", "password": PASSWORD}),
    ] {
        let reply = console_sign_in(&server, body).await;
        assert!(reply.header("set-cookie").is_none());
        answers.push((reply.status, reply.body));
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);

    // bad bodies are named problems
    let unknown =
        console_sign_in(&server, json!({"tenant": "acme", "username": "ada", "password": "x", "role": "admin"})).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let nul = console_sign_in(&server, json!({"tenant": "ac\u{0}me", "username": "ada", "password": PASSWORD})).await;
    assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", nul.body);
    let text = server.send(Method::POST, "/console/session", None, None, &[("content-type", "text/plain")]).await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
});

e2e_test!(a_console_session_reaches_no_further_than_the_api_session, |server| async move {
    let _key = tenant(&server).await;
    let other = server.tenant_with_key("other", Role::Admin).await;
    let signed_in = console_sign_in(&server, json!({"tenant": "acme", "username": "ada", "password": PASSWORD})).await;
    let cookie = cookie_of(&signed_in);
    let csrf = signed_in.body["csrf_token"].as_str().unwrap().to_owned();
    // another tenant is not found, as for the bearer token of the same session
    let elsewhere = server.send(Method::GET, "/v1/tenants/other/users", None, None, &[("cookie", &cookie)]).await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    // an admin is not a sysadmin: no tenant list, no new tenant
    assert_eq!(
        server.send(Method::GET, "/v1/tenants", None, None, &[("cookie", &cookie)]).await.status,
        StatusCode::FORBIDDEN
    );
    let headers = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let body = json!({"slug": "mine", "name": "Mine"});
    let create = server.send(Method::POST, "/v1/tenants", None, Some(&body), &headers).await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    // the CSRF token of one session is worthless with another's cookie
    let second = console_sign_in(&server, json!({"tenant": "acme", "username": "ada", "password": PASSWORD})).await;
    let second_cookie = cookie_of(&second);
    let headers = [("cookie", second_cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let mixed = server.send(Method::POST, "/v1/me/activity", None, None, &headers).await;
    assert_eq!(mixed.status, StatusCode::FORBIDDEN);
    assert!(!other.is_empty());
});
