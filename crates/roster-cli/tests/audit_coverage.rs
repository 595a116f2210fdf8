//! Every route that changes something, taken from `/openapi.json`, done once successfully: it writes exactly the
//! audit entries of its kind of change (one, but for an external sign-in that creates the user it signs in), about
//! the resource it changed, with old and new values that hold no password, hash, token or TOTP secret. A mutating
//! route missing from [`case`] fails the test, so a new route without its entry cannot land.

mod common;

use reqwest::{Method, StatusCode};
use roster::clock::{Clock, SystemClock};
use roster::principal::Role;
use roster::store::Backend;
use serde_json::{json, Value};

const T: &str = "/v1/tenants/acme";
const PASSWORD: &str = "a password 123";

struct World {
    server: common::Server,
    admin: String,
    count: std::sync::atomic::AtomicUsize,
    /// The CPFs the cases used: no entry may hold one whole.
    cpfs: std::sync::Mutex<Vec<String>>,
}

/// A user with a live session.
struct Person {
    id: String,
    name: String,
    token: String,
}

impl World {
    fn unique(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    async fn person(&self) -> Person {
        let name = self.unique("person");
        let body = json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
        let created = self.server.post(&format!("{T}/users"), &self.admin, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let login = json!({"username": name, "password": PASSWORD});
        let reply = self.server.send(Method::POST, &format!("{T}/auth/login"), None, Some(&login), &[]).await;
        let token = reply.body["token"].as_str().unwrap().to_owned();
        Person { id, name, token }
    }

    async fn ok(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> Value {
        let reply = self.server.send(method.clone(), path, Some(key), body.as_ref(), &[]).await;
        assert!(reply.status.is_success(), "{method} {path} {body:?}: {} {:?}", reply.status, reply.body);
        reply.body
    }

    /// A valid CPF not used before in this run, in its 11 digits (kept, so no entry may show it).
    fn cpf(&self) -> String {
        let n = 200_000_000 + self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u32;
        let cpf = roster::clients::Cpf::from_number(n).expect("a CPF").digits().to_owned();
        self.cpfs.lock().unwrap().push(cpf.clone());
        cpf
    }

    /// A client registered over HTTP; its path.
    async fn client(&self) -> String {
        let body = json!({"name": "Audit Client", "cpf": self.cpf(), "birth_date": "1990-01-01"});
        let created = self.ok(Method::POST, &format!("{T}/clients"), &self.admin, Some(body)).await;
        format!("{T}/clients/{}", created["id"].as_str().unwrap())
    }

    /// A fresh active scenario of acme; its id.
    async fn scenario(&self) -> String {
        let body = json!({"title": "Audit Scenario", "difficulty": "starter"});
        let made = self.ok(Method::POST, &format!("{T}/scenarios"), &self.admin, Some(body)).await;
        made["id"].as_str().unwrap().to_owned()
    }

    /// A fresh active session of `person`; its id.
    async fn session(&self, person: &Person) -> String {
        let scenario = self.scenario().await;
        let path = format!("{T}/scenarios/{scenario}/start");
        let started = self.ok(Method::POST, &path, &self.admin, Some(json!({"user_id": person.id}))).await;
        started["id"].as_str().unwrap().to_owned()
    }

    /// Enrol `person` in two-factor sign-in and turn it on; the secret.
    async fn two_factor(&self, person: &Person) -> Vec<u8> {
        let enrolment = self.ok(Method::POST, "/v1/me/totp/enroll", &person.token, None).await;
        let secret =
            base32::decode(base32::Alphabet::Rfc4648 { padding: false }, enrolment["secret"].as_str().unwrap())
                .unwrap();
        self.ok(Method::POST, "/v1/me/totp/confirm", &person.token, Some(json!({"code": code(&secret)}))).await;
        secret
    }
}

fn code(secret: &[u8]) -> String {
    common::code_at(secret, SystemClock.now().unix_timestamp() as u64 / 30)
}

/// One successful call of a route: the request, and the actions it must write, in order.
struct Call {
    method: Method,
    path: String,
    key: Option<String>,
    body: Option<Value>,
    actions: Vec<&'static str>,
}

fn call(method: Method, path: String, key: &str, body: Option<Value>, actions: &[&'static str]) -> Call {
    Call { method, path, key: Some(key.to_owned()), body, actions: actions.to_vec() }
}

/// Set up what the route needs, and say how to call it.
async fn case(world: &World, method: &str, path: &str) -> Option<Call> {
    let admin = world.admin.as_str();
    let p = world.person().await;
    let user = format!("{T}/users/{}", p.id);
    Some(match (method, path) {
        ("POST", "/v1/auth/logout") => call(Method::POST, path.into(), &p.token, None, &["logout"]),
        ("POST", "/v1/me/activity") => call(Method::POST, path.into(), &p.token, None, &["update"]),
        ("PATCH", "/v1/me") => {
            call(Method::PATCH, path.into(), &p.token, Some(json!({"display_name": "Me"})), &["update"])
        }
        ("POST", "/v1/me/password") => {
            let body = json!({"current_password": PASSWORD, "new_password": "another password 1"});
            call(Method::POST, path.into(), &p.token, Some(body), &["update"])
        }
        ("POST", "/v1/me/totp/enroll") => call(Method::POST, path.into(), &p.token, None, &["update"]),
        ("POST", "/v1/me/totp/confirm") => {
            let enrolment = world.ok(Method::POST, "/v1/me/totp/enroll", &p.token, None).await;
            let secret =
                base32::decode(base32::Alphabet::Rfc4648 { padding: false }, enrolment["secret"].as_str().unwrap())
                    .unwrap();
            call(Method::POST, path.into(), &p.token, Some(json!({"code": code(&secret)})), &["update"])
        }
        ("DELETE", "/v1/me/totp") => {
            let secret = world.two_factor(&p).await;
            // the next step's code: the current one was spent confirming
            let next = common::code_at(&secret, SystemClock.now().unix_timestamp() as u64 / 30 + 1);
            call(Method::DELETE, path.into(), &p.token, Some(json!({"code": next})), &["update"])
        }
        ("DELETE", "/v1/me/sessions/{session}") => {
            let sessions = world.ok(Method::GET, "/v1/me/sessions", &p.token, None).await;
            let session = sessions[0]["id"].as_str().unwrap();
            call(Method::DELETE, format!("/v1/me/sessions/{session}"), &p.token, None, &["logout"])
        }
        ("POST", "/v1/tenants") => {
            let slug = world.unique("tenant-");
            call(
                Method::POST,
                path.into(),
                &world.server.root_key,
                Some(json!({"slug": slug, "name": slug})),
                &["create"],
            )
        }
        ("PATCH", "/v1/tenants/{tenant}") => call(
            Method::PATCH,
            T.into(),
            &world.server.root_key,
            Some(json!({"name": world.unique("Acme ")})),
            &["update"],
        ),
        ("POST", "/v1/tenants/{tenant}/agents") => {
            let name = world.unique("agent_");
            call(Method::POST, format!("{T}/agents"), admin, Some(json!({"name": name})), &["create"])
        }
        ("DELETE", "/v1/tenants/{tenant}/agents/{agent}") => {
            let name = world.unique("agent_");
            world.ok(Method::POST, &format!("{T}/agents"), admin, Some(json!({"name": name}))).await;
            call(Method::DELETE, format!("{T}/agents/{name}"), admin, None, &["delete"])
        }
        ("PUT", "/v1/tenants/{tenant}/users/{id}/permissions/{agent}") => {
            let body = json!({"can_read": true});
            call(Method::PUT, format!("{user}/permissions/pdf_processing"), admin, Some(body), &["permission_change"])
        }
        ("DELETE", "/v1/tenants/{tenant}/users/{id}/permissions/{agent}") => {
            let grant = format!("{user}/permissions/pdf_processing");
            world.ok(Method::PUT, &grant, admin, Some(json!({"can_read": true}))).await;
            call(Method::DELETE, grant, admin, None, &["permission_change"])
        }
        ("POST", "/v1/tenants/{tenant}/auth/external") => {
            // the first sign-in of an identity creates its user (create, login); the next one is one sign-in
            let body = json!({"identity_provider": "google", "identity_provider_id": p.name});
            world.ok(Method::POST, &format!("{T}/auth/external"), admin, Some(body.clone())).await;
            call(Method::POST, format!("{T}/auth/external"), admin, Some(body), &["login"])
        }
        ("POST", "/v1/tenants/{tenant}/auth/login") => {
            let body = json!({"username": p.name, "password": PASSWORD});
            Call {
                method: Method::POST,
                path: format!("{T}/auth/login"),
                key: None,
                body: Some(body),
                actions: vec!["login"],
            }
        }
        ("POST", "/v1/tenants/{tenant}/auth/register") => {
            let body = json!({"email": format!("{}@example.com", world.unique("new")), "password": PASSWORD});
            call(Method::POST, format!("{T}/auth/register"), admin, Some(body), &["create"])
        }
        ("POST", "/v1/tenants/{tenant}/auth/verify-email") => {
            let body = json!({"email": format!("{}@example.com", world.unique("new")), "password": PASSWORD});
            let registered = world.ok(Method::POST, &format!("{T}/auth/register"), admin, Some(body)).await;
            let token = registered["verification_token"].as_str().unwrap();
            let body = json!({"token": token});
            Call {
                method: Method::POST,
                path: format!("{T}/auth/verify-email"),
                key: None,
                body: Some(body),
                actions: vec!["status_change"],
            }
        }
        ("POST", "/v1/tenants/{tenant}/auth/password-reset/request") => {
            let body = json!({"email": format!("{}@example.com", p.name)});
            call(Method::POST, format!("{T}/auth/password-reset/request"), admin, Some(body), &["update"])
        }
        ("POST", "/v1/tenants/{tenant}/auth/password-reset/confirm") => {
            let body = json!({"email": format!("{}@example.com", p.name)});
            let requested =
                world.ok(Method::POST, &format!("{T}/auth/password-reset/request"), admin, Some(body)).await;
            let body = json!({"token": requested["reset_token"], "password": "a new password 1"});
            Call {
                method: Method::POST,
                path: format!("{T}/auth/password-reset/confirm"),
                key: None,
                body: Some(body),
                actions: vec!["update"],
            }
        }
        ("POST", "/v1/tenants/{tenant}/ingest/bugs") => {
            let id = world.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let body = json!({"bugs": [{"id": id, "title": "Crash", "severity": "high", "author": {"name": world.unique("Tess ")}}]});
            call(Method::POST, format!("{T}/ingest/bugs"), admin, Some(body), &["ingest"])
        }
        ("POST", "/v1/tenants/{tenant}/ingest/tests") => {
            let id = world.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let body = json!({"exploratory_tests": [{"id": id, "title": "Checkout", "testing_type": "exploratory", "created_by": world.unique("Cleo ")}]});
            call(Method::POST, format!("{T}/ingest/tests"), admin, Some(body), &["ingest"])
        }
        ("POST", "/v1/tenants/{tenant}/users") => {
            let body = json!({"username": world.unique("made"), "password": PASSWORD});
            call(Method::POST, format!("{T}/users"), admin, Some(body), &["create"])
        }
        ("PATCH", "/v1/tenants/{tenant}/users/{id}") => {
            call(Method::PATCH, user, admin, Some(json!({"display_name": "Renamed"})), &["update"])
        }
        ("DELETE", "/v1/tenants/{tenant}/users/{id}") => call(Method::DELETE, user, admin, None, &["delete"]),
        ("POST", "/v1/tenants/{tenant}/users/{id}/restore") => {
            world.ok(Method::DELETE, &user, admin, None).await;
            call(Method::POST, format!("{user}/restore"), admin, None, &["restore"])
        }
        ("POST", "/v1/tenants/{tenant}/users/{id}/suspend") => {
            call(Method::POST, format!("{user}/suspend"), admin, None, &["status_change"])
        }
        ("POST", "/v1/tenants/{tenant}/users/{id}/activate") => {
            world.ok(Method::POST, &format!("{user}/suspend"), admin, None).await;
            call(Method::POST, format!("{user}/activate"), admin, None, &["status_change"])
        }
        ("POST", "/v1/tenants/{tenant}/users/{id}/unlock") => {
            for _ in 0..5 {
                let body = json!({"username": p.name, "password": "not the password"});
                world.server.send(Method::POST, &format!("{T}/auth/login"), None, Some(&body), &[]).await;
            }
            call(Method::POST, format!("{user}/unlock"), admin, None, &["status_change"])
        }
        ("POST", "/v1/tenants/{tenant}/users/{id}/force-password-reset") => {
            call(Method::POST, format!("{user}/force-password-reset"), admin, None, &["update"])
        }
        ("POST", "/v1/tenants/{tenant}/users/{id}/revoke-sessions") => {
            call(Method::POST, format!("{user}/revoke-sessions"), admin, None, &["logout"])
        }
        ("POST", "/v1/tenants/{tenant}/clients") => {
            let body = json!({"name": "Audit Client", "cpf": world.cpf(), "birth_date": "1990-01-01"});
            call(Method::POST, format!("{T}/clients"), admin, Some(body), &["create"])
        }
        ("PATCH", "/v1/tenants/{tenant}/clients/{id}") => {
            let body = json!({"name": "Renamed Client", "cpf": world.cpf()});
            call(Method::PATCH, world.client().await, admin, Some(body), &["update"])
        }
        ("DELETE", "/v1/tenants/{tenant}/clients/{id}") => {
            call(Method::DELETE, world.client().await, admin, None, &["delete"])
        }
        ("POST", "/v1/tenants/{tenant}/clients/{id}/restore") => {
            let client = world.client().await;
            world.ok(Method::DELETE, &client, admin, None).await;
            call(Method::POST, format!("{client}/restore"), admin, None, &["restore"])
        }
        ("POST", "/v1/tenants/{tenant}/scenarios") => {
            let body = json!({"title": "Audit Scenario", "difficulty": "starter"});
            call(Method::POST, format!("{T}/scenarios"), admin, Some(body), &["create"])
        }
        ("PATCH", "/v1/tenants/{tenant}/scenarios/{id}") => {
            let body = json!({"title": "Audit Scenario", "difficulty": "starter"});
            let made = world.ok(Method::POST, &format!("{T}/scenarios"), admin, Some(body)).await;
            let path = format!("{T}/scenarios/{}", made["id"].as_str().unwrap());
            call(
                Method::PATCH,
                path,
                admin,
                Some(json!({"title": "Renamed Scenario", "is_active": false})),
                &["update"],
            )
        }
        ("POST", "/v1/tenants/{tenant}/scenarios/{id}/start") => {
            let scenario = world.scenario().await;
            call(Method::POST, format!("{T}/scenarios/{scenario}/start"), &p.token, None, &["create"])
        }
        ("POST", "/v1/sessions/{id}/messages") => {
            let session = world.session(&p).await;
            let body = json!({"sender_type": "user", "content": "Hello, how can I help?"});
            call(Method::POST, format!("/v1/sessions/{session}/messages"), &p.token, Some(body), &["create"])
        }
        ("POST", "/v1/sessions/{id}/abandon") => {
            let session = world.session(&p).await;
            call(Method::POST, format!("/v1/sessions/{session}/abandon"), &p.token, None, &["status_change"])
        }
        ("POST", "/v1/sessions/{id}/resolve") => {
            // an achievement the resolution earns, so its award is audited too
            let code = world.unique("first-");
            let body = json!({"code": code, "name": "First", "tier": "bronze",
                "criteria": {"kind": "sessions_completed", "count": 1}});
            world.ok(Method::POST, &format!("{T}/achievements"), admin, Some(body)).await;
            let session = world.session(&p).await;
            let scores = json!({"verification_score": 90, "communication_score": 90, "technical_score": 90,
                "documentation_score": 90, "response_time_score": 90});
            let actions = ["status_change", "create", "update", "create"];
            call(Method::POST, format!("/v1/sessions/{session}/resolve"), admin, Some(scores), &actions)
        }
        ("POST", "/v1/tenants/{tenant}/achievements") => {
            // a criteria nobody here meets, so no other case's resolution earns it
            let body = json!({"code": world.unique("never-"), "name": "Never", "tier": "platinum",
                "criteria": {"kind": "level_reached", "level": 10_000}});
            call(Method::POST, format!("{T}/achievements"), admin, Some(body), &["create"])
        }
        ("DELETE", "/v1/tenants/{tenant}/users/{id}/totp") => {
            world.two_factor(&p).await;
            call(Method::DELETE, format!("{user}/totp"), admin, None, &["update"])
        }
        (_, path) if path.starts_with("/scim/") => return scim_case(world, method, path, &p).await,
        _ => return None,
    })
}

/// The SCIM routes: a provider's changes, each audited as the same change through `/v1` would be.
async fn scim_case(world: &World, method: &str, path: &str, p: &Person) -> Option<Call> {
    const S: &str = "/scim/v2/tenants/acme";
    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    let admin = world.admin.as_str();
    let new_user =
        |name: String| json!({"schemas": [USER], "userName": name, "password": PASSWORD, "externalId": name});
    let scim_user = || async {
        let made = world.ok(Method::POST, &format!("{S}/Users"), admin, Some(new_user(world.unique("scim")))).await;
        format!("{S}/Users/{}", made["id"].as_str().unwrap())
    };
    let group = |name: String| json!({"schemas": [GROUP], "displayName": name, "members": [{"value": p.id}]});
    let scim_group = || async {
        let made = world.ok(Method::POST, &format!("{S}/Groups"), admin, Some(group(world.unique("group")))).await;
        format!("{S}/Groups/{}", made["id"].as_str().unwrap())
    };
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "id pr"});
    Some(match (method, path.trim_start_matches("/scim/v2/tenants/{tenant}")) {
        ("POST", "/Users") => {
            call(Method::POST, format!("{S}/Users"), admin, Some(new_user(world.unique("scim"))), &["create"])
        }
        ("PUT", "/Users/{id}") => {
            let mut body = new_user(world.unique("scim"));
            body["password"] = json!("another password 1");
            call(Method::PUT, scim_user().await, admin, Some(body), &["update"])
        }
        ("PATCH", "/Users/{id}") => {
            let body =
                json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "X"}]});
            call(Method::PATCH, scim_user().await, admin, Some(body), &["update"])
        }
        ("DELETE", "/Users/{id}") => call(Method::DELETE, scim_user().await, admin, None, &["delete"]),
        ("POST", "/Users/.search") => call(Method::POST, format!("{S}/Users/.search"), admin, Some(search), &[]),
        ("POST", "/Groups") => {
            call(Method::POST, format!("{S}/Groups"), admin, Some(group(world.unique("group"))), &["create"])
        }
        ("PUT", "/Groups/{id}") => {
            let body = json!({"schemas": [GROUP], "displayName": world.unique("renamed"), "members": []});
            call(Method::PUT, scim_group().await, admin, Some(body), &["update"])
        }
        ("PATCH", "/Groups/{id}") => {
            let body = json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members"}]});
            call(Method::PATCH, scim_group().await, admin, Some(body), &["update"])
        }
        ("DELETE", "/Groups/{id}") => call(Method::DELETE, scim_group().await, admin, None, &["delete"]),
        ("POST", "/Groups/.search") => call(Method::POST, format!("{S}/Groups/.search"), admin, Some(search), &[]),
        ("POST", "/Bulk") => {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b", "data": new_user(world.unique("bulk"))}]});
            call(Method::POST, format!("{S}/Bulk"), admin, Some(body), &["create"])
        }
        _ => return None,
    })
}

/// `123.456.789-09`.
fn formatted(cpf: &str) -> String {
    format!("{}.{}.{}-{}", &cpf[..3], &cpf[3..6], &cpf[6..9], &cpf[9..])
}

/// What must never be in an audit entry: passwords, password hashes, tokens and keys, TOTP secrets.
fn secrets_in(text: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    for (needle, what) in [
        (PASSWORD, "a password"),
        ("another password", "a password"),
        ("a new password", "a password"),
        ("$argon2", "a password hash"),
        ("$2b$", "a password hash"),
        ("password_hash", "a password hash"),
        ("totp_secret", "a TOTP secret"),
        ("\"rt_", "a token"),
        ("\"rk_", "an API key"),
        ("\"rs_", "a session token"),
        ("token_hash", "a token hash"),
        ("code_hash", "a recovery code hash"),
    ] {
        if text.contains(needle) {
            found.push(what);
        }
    }
    found
}

async fn coverage(backend: Backend) {
    let config = roster::config::Config {
        argon2_memory_kib: 19_456,
        signin_per_address_per_minute: 100_000,
        signin_per_account_per_minute: 100_000,
        secret_key: Some(common::TEST_SECRET_KEY.into()),
        ..roster::config::Config::default()
    };
    let Some(server) = common::Server::start_with(backend, config, std::sync::Arc::new(SystemClock)).await else {
        return;
    };
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let world = World { server, admin, count: Default::default(), cpfs: Default::default() };

    let openapi = world.server.send(Method::GET, "/openapi.json", None, None, &[]).await.body;
    let mut routes = Vec::new();
    for (path, operations) in openapi["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            if ["post", "put", "patch", "delete"].contains(&method.as_str()) {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(routes.len() >= 32, "{} mutating routes", routes.len());
    let mut failures = Vec::new();
    for (method, path) in &routes {
        let Some(call) = case(&world, method, path).await else {
            failures.push(format!("{method} {path}: no case in this test; add one with the entry it must write"));
            continue;
        };
        let all_before = world.server.count("audit_log").await;
        let reply =
            world.server.send(call.method.clone(), &call.path, call.key.as_deref(), call.body.as_ref(), &[]).await;
        if !reply.status.is_success() {
            failures.push(format!("{method} {path}: answered {} {}", reply.status, reply.body));
            continue;
        }
        let written = world.server.count("audit_log").await - all_before;
        let entries: Vec<(String, Option<Value>, Option<Value>)> = newest_entries(&world, written).await;
        let actions: Vec<&str> = entries.iter().map(|(a, _, _)| a.as_str()).collect();
        if actions != call.actions {
            failures.push(format!("{method} {path}: wrote {actions:?}, expected {:?}", call.actions));
        }
        for (action, old, new) in &entries {
            let text = format!("{} {}", old.clone().unwrap_or_default(), new.clone().unwrap_or_default());
            // only what changed: a field in both old and new values differs (the agent a grant is about names it)
            if let (Some(Value::Object(old)), Some(Value::Object(new))) = (old, new) {
                let same: Vec<&String> = old.keys().filter(|k| *k != "agent" && old.get(*k) == new.get(*k)).collect();
                if !same.is_empty() {
                    failures.push(format!("{method} {path}: its {action} entry repeats unchanged {same:?}: {text}"));
                }
            }
            let mut secrets = secrets_in(&text);
            if world
                .cpfs
                .lock()
                .unwrap()
                .iter()
                .any(|cpf| text.contains(cpf.as_str()) || text.contains(&formatted(cpf)))
            {
                secrets.push("a whole CPF");
            }
            if !secrets.is_empty() {
                failures.push(format!("{method} {path}: its {action} entry holds {secrets:?}: {text}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} mutating routes wrong:\n{}",
        failures.len(),
        routes.len(),
        failures.join("\n")
    );
    eprintln!("audit coverage: {} mutating routes, each wrote its entries", routes.len());
}

/// The `n` newest entries of every tenant, oldest first: (action, old values, new values).
async fn newest_entries(world: &World, n: i64) -> Vec<(String, Option<Value>, Option<Value>)> {
    let rows: Vec<(String, Option<Value>, Option<Value>)> = world
        .server
        .db
        .store
        .query(
            "SELECT action, old_values, new_values FROM audit_log ORDER BY occurred_at DESC, seq DESC LIMIT $1",
            vec![n.into()],
        )
        .await
        .unwrap();
    rows.into_iter().rev().collect()
}
roster::backend_test!(every_mutating_route_writes_its_audit_entries_and_no_secret, coverage);
