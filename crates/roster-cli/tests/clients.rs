//! The client registry over HTTP: CPF rules, uniqueness among active clients, search, soft delete and restore,
//! audited reads, and who may do what through `client_management` grants.

mod common;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster::clock::ManualClock;
use roster::config::Config;
use roster::principal::Role;
use roster::store::Backend;
use serde_json::{json, Value};
use time::macros::datetime;

const T: &str = "/v1/tenants/acme";

fn client_body(name: &str, cpf: &str) -> Value {
    json!({"name": name, "cpf": cpf, "birth_date": "1987-04-23"})
}

async fn create(server: &common::Server, key: &str, name: &str, cpf: &str) -> Value {
    let reply = server.post(&format!("{T}/clients"), key, client_body(name, cpf)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body
}

/// The field errors of a 422, as (field, message).
fn field_errors(reply: &common::Reply) -> Vec<(String, String)> {
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap().to_owned(), e["message"].as_str().unwrap().to_owned()))
        .collect()
}

async fn user(server: &common::Server, key: &str, name: &str) -> String {
    let body = json!({"username": name, "password": "a password 123"});
    let reply = server.post(&format!("{T}/users"), key, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// A session of `name`, who has the tests' password, in the tests' tenant.
async fn sign_in(server: &common::Server, name: &str) -> String {
    server.sign_in("acme", name, "a password 123").await
}

async fn grant(server: &common::Server, admin: &str, user: &str, body: Value) {
    let path = format!("{T}/users/{user}/permissions/client_management");
    let reply = server.send(Method::PUT, &path, Some(admin), Some(&body), &[]).await;
    assert!(reply.status.is_success(), "{:?}", reply.body);
}

e2e_test!(clients_are_registered_read_changed_deactivated_and_restored, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let created = create(&server, &admin, "  João   da Silva ", "12345678909").await;
    assert_eq!(created["name"], "João da Silva");
    assert_eq!(created["cpf"], "123.456.789-09", "shown formatted");
    assert_eq!(
        (&created["birth_date"], &created["is_active"], &created["version"]),
        (&json!("1987-04-23"), &json!(true), &json!(1))
    );
    assert_eq!(created["created_by"], Value::Null, "an API key is no user");
    let path = format!("{T}/clients/{}", created["id"].as_str().unwrap());

    let read = server.get(&path, &admin).await;
    assert_eq!((read.status, read.header("etag")), (StatusCode::OK, Some("\"1\"")));
    assert_eq!(read.body, created);

    let stale = server.patch(&path, &admin, json!({"name": "João Silva"}), Some("\"7\"")).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let changed =
        server.patch(&path, &admin, json!({"name": "João Silva", "birth_date": "1988-01-31"}), Some("\"1\"")).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(
        (&changed.body["name"], &changed.body["birth_date"], &changed.body["version"]),
        (&json!("João Silva"), &json!("1988-01-31"), &json!(2))
    );
    let unknown = server.patch(&path, &admin, json!({"nickname": "Jo"}), None).await;
    assert!(unknown.status.is_client_error() && unknown.status != StatusCode::NOT_FOUND, "{:?}", unknown.body);

    let gone = server.delete(&path, &admin).await;
    assert_eq!((gone.status, &gone.body["is_active"]), (StatusCode::OK, &json!(false)));
    assert_eq!(server.delete(&path, &admin).await.status, StatusCode::CONFLICT);
    assert_eq!(server.patch(&path, &admin, json!({"name": "Other"}), None).await.status, StatusCode::CONFLICT);
    assert_eq!(server.get(&path, &admin).await.body["is_active"], false, "still readable by id");
    let back = server.post(&format!("{path}/restore"), &admin, json!({})).await;
    assert_eq!((back.status, &back.body["is_active"]), (StatusCode::OK, &json!(true)), "{:?}", back.body);
    assert_eq!(server.post(&format!("{path}/restore"), &admin, json!({})).await.status, StatusCode::CONFLICT);

    // another tenant's admin does not see it; an unknown id is a 404
    let other = server.tenant_with_key("globex", Role::Admin).await;
    assert_eq!(server.get(&path, &other).await.status, StatusCode::NOT_FOUND);
    let foreign = path.replace("/acme/", "/globex/");
    assert_eq!(server.get(&foreign, &other).await.status, StatusCode::NOT_FOUND);
    let missing = format!("{T}/clients/{}", uuid::Uuid::now_v7());
    assert_eq!(server.get(&missing, &admin).await.status, StatusCode::NOT_FOUND);
    assert_eq!(server.get(&format!("{T}/clients/not-an-id"), &admin).await.status.as_u16() / 100, 4);
});

e2e_test!(bad_input_is_refused_naming_the_field_and_the_reason, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let post = |body: Value| {
        let server = &server;
        let admin = admin.clone();
        async move { server.post(&format!("{T}/clients"), &admin, body).await }
    };
    let format = "must be 11 digits, with or without the punctuation of 000.000.000-00";
    for (cpf, message) in [
        ("123.456.789-00", "check digits do not match"),
        ("12345678900", "check digits do not match"),
        ("111.111.111-11", "repeated"),
        ("1234567890", format),
        ("123456789012", format),
        ("123.456.78909", format),
        ("12a45678909", format),
    ] {
        let reply = post(client_body("Ana Souza", cpf)).await;
        let errors = field_errors(&reply);
        assert_eq!(errors.len(), 1, "{cpf}: {errors:?}");
        assert_eq!(errors[0].0, "cpf");
        assert!(errors[0].1.contains(message), "{cpf}: {}", errors[0].1);
        assert!(!reply.body.to_string().contains(cpf), "the CPF is not echoed: {}", reply.body);
    }
    for (name, message) in [
        ("A", "at least 2"),
        ("   ", "at least 2"),
        ("12345", "letter"),
        ("Ana\u{0}", "NUL"),
        ("Ana\tBeatriz", "control"),
    ] {
        let errors = field_errors(&post(client_body(name, "12345678909")).await);
        assert_eq!((errors[0].0.as_str(), errors[0].1.contains(message)), ("name", true), "{name:?}: {errors:?}");
    }
    assert_eq!(field_errors(&post(client_body(&"a".repeat(101), "12345678909")).await)[0].0, "name");
    let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(2)).date().to_string();
    for (date, message) in [
        (tomorrow.as_str(), "future"),
        ("1899-12-31", "1900-01-01"),
        ("23/04/1987", "YYYY-MM-DD"),
        ("1987-02-29", "YYYY-MM-DD"),
    ] {
        let body = json!({"name": "Ana Souza", "cpf": "12345678909", "birth_date": date});
        let errors = field_errors(&post(body).await);
        assert_eq!((errors[0].0.as_str(), errors[0].1.contains(message)), ("birth_date", true), "{date}: {errors:?}");
    }
    // every bad field at once; wrong JSON kinds and unknown fields are refused too
    let all = field_errors(&post(json!({"name": "1", "cpf": "1", "birth_date": "x"})).await);
    assert_eq!(all.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), ["name", "cpf", "birth_date"]);
    for body in [
        json!({"name": "Ana Souza", "cpf": 12345678909u64, "birth_date": "1987-04-23"}),
        json!({"name": "Ana Souza", "cpf": "12345678909", "birth_date": "1987-04-23", "is_active": false}),
        json!({"name": "Ana Souza", "cpf": "12345678909"}),
        json!(["Ana Souza"]),
    ] {
        let reply = post(body.clone()).await;
        assert!([400, 422].contains(&reply.status.as_u16()), "{body}: {} {:?}", reply.status, reply.body);
    }
    // bad search parameters
    for query in ["cpf=123.456.789-00", "cpf=abc", "limit=0", "limit=501", "cursor=%%%", "q=%00", "unknown=1"] {
        let reply = server.get(&format!("{T}/clients?{query}"), &admin).await;
        assert!([400, 422].contains(&reply.status.as_u16()), "{query}: {} {:?}", reply.status, reply.body);
    }
    let long = server.get(&format!("{T}/clients?q={}", "a".repeat(101)), &admin).await;
    assert_eq!(field_errors(&long)[0].0, "q");
    assert_eq!(server.count("clients").await, 0, "nothing was written");
});

e2e_test!(a_cpf_is_one_active_clients_and_a_conflict_tells_nothing_of_the_other, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let ana = create(&server, &admin, "Ana Souza", "529.982.247-25").await;
    let taken = server.post(&format!("{T}/clients"), &admin, client_body("Bia Lima", "52998224725")).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{:?}", taken.body);
    assert_eq!(taken.body["errors"][0]["field"], "cpf");
    let text = taken.body.to_string();
    for leaked in ["Ana", ana["id"].as_str().unwrap(), "1987", "529"] {
        assert!(!text.contains(leaked), "the conflict shows {leaked}: {text}");
    }
    // deactivation frees the CPF; restoring the first while the second holds it is a conflict
    let ana_path = format!("{T}/clients/{}", ana["id"].as_str().unwrap());
    assert_eq!(server.delete(&ana_path, &admin).await.status, StatusCode::OK);
    let bia = create(&server, &admin, "Bia Lima", "52998224725").await;
    assert_eq!(server.post(&format!("{ana_path}/restore"), &admin, json!({})).await.status, StatusCode::CONFLICT);
    let bia_path = format!("{T}/clients/{}", bia["id"].as_str().unwrap());
    assert_eq!(server.delete(&bia_path, &admin).await.status, StatusCode::OK);
    assert_eq!(server.post(&format!("{ana_path}/restore"), &admin, json!({})).await.status, StatusCode::OK);
    // ten concurrent registrations of one CPF: exactly one wins, the others hear 409
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (base, admin) = (server.base.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}{T}/clients"))
                .bearer_auth(admin)
                .json(&client_body(&format!("Racer {i}"), "11144477735"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
});

e2e_test!(search_by_cpf_or_name_ignores_format_case_and_accents_in_pages, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    for (name, cpf) in [
        ("João Pereira", "12345678909"),
        ("JOANA Dark", "52998224725"),
        ("Mário João", "11144477735"),
        ("Zé Ninguém", "98765432100"),
    ] {
        create(&server, &admin, name, cpf).await;
    }
    let names = |body: &Value| {
        body["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let search = |query: &str| format!("{T}/clients?{query}");
    assert_eq!(names(&server.get(&search("q=joao"), &admin).await.body), ["João Pereira", "Mário João"]);
    assert_eq!(names(&server.get(&search("q=Jo%C3%83O%20p"), &admin).await.body), ["João Pereira"]);
    assert_eq!(names(&server.get(&search("q=ninguem"), &admin).await.body), ["Zé Ninguém"]);
    assert_eq!(names(&server.get(&search("q=joana"), &admin).await.body), ["JOANA Dark"]);
    for cpf in ["529.982.247-25", "52998224725", "%20529.982.247-25%20"] {
        assert_eq!(names(&server.get(&search(&format!("cpf={cpf}")), &admin).await.body), ["JOANA Dark"], "{cpf}");
    }
    assert!(names(&server.get(&search("cpf=52998224725&q=mario"), &admin).await.body).is_empty(), "both must match");

    let joana =
        server.get(&search("cpf=52998224725"), &admin).await.body["items"][0]["id"].as_str().unwrap().to_owned();
    server.delete(&format!("{T}/clients/{joana}"), &admin).await;
    assert!(names(&server.get(&search("cpf=52998224725"), &admin).await.body).is_empty(), "active only");
    let inactive = server.get(&search("cpf=52998224725&include_inactive=true"), &admin).await.body;
    assert_eq!((names(&inactive), &inactive["items"][0]["is_active"]), (vec!["JOANA Dark".to_owned()], &json!(false)));

    // pages of one, in name order, inactive included
    let mut seen = Vec::new();
    let mut next = search("limit=1&include_inactive=true");
    loop {
        let page = server.get(&next, &admin).await.body;
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => next = search(&format!("limit=1&include_inactive=true&cursor={cursor}")),
            None => break,
        }
    }
    assert_eq!(seen, ["JOANA Dark", "João Pereira", "Mário João", "Zé Ninguém"]);
});

e2e_test!(every_read_is_audited_with_who_from_where_and_which_request, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let created = create(&server, &admin, "Ana Souza", "52998224725").await;
    let id = created["id"].as_str().unwrap();
    let headers = [("x-request-id", "read-ana-1"), ("user-agent", "registry-app/2.1")];
    let read = server.send(Method::GET, &format!("{T}/clients/{id}"), Some(&admin), None, &headers).await;
    assert_eq!(read.status, StatusCode::OK);
    let headers = [("x-request-id", "search-ana-1")];
    let found = server.send(Method::GET, &format!("{T}/clients?q=ana"), Some(&admin), None, &headers).await;
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
    // a search that finds nothing reads no one
    server.get(&format!("{T}/clients?cpf=11144477735"), &admin).await;

    let trail = server.get(&format!("{T}/audit?resource_type=client&resource_id={id}"), &admin).await.body;
    let entries = trail["items"].as_array().unwrap();
    let mut actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    actions.sort_unstable();
    assert_eq!(actions, ["create", "read", "read"]);
    let by_request =
        |rid: &str| entries.iter().find(|e| e["request_id"] == rid).unwrap_or_else(|| panic!("{rid}: {trail}"));
    let read = by_request("read-ana-1");
    assert_eq!(
        (&read["action"], &read["actor_kind"], &read["ip_address"]),
        (&json!("read"), &json!("api_key"), &json!("127.0.0.1"))
    );
    assert_eq!(read["user_agent"], "registry-app/2.1");
    assert!(read["actor_api_key_id"].is_string());
    assert_eq!(by_request("search-ana-1")["action"], "read");
    let create_entry = entries.iter().find(|e| e["action"] == "create").unwrap();
    assert_eq!(create_entry["new_values"]["cpf"], "***.982.247-**");
    let text = trail.to_string();
    assert!(!text.contains("52998224725") && !text.contains("529.982.247-25"), "a whole CPF in the log: {text}");
    // the chain still verifies
    assert_eq!(server.get(&format!("{T}/audit/verify"), &admin).await.body["ok"], true);
});

e2e_test!(users_act_only_through_client_management_grants, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let existing = create(&server, &admin, "Ana Souza", "52998224725").await;
    let path = format!("{T}/clients/{}", existing["id"].as_str().unwrap());
    let bo = user(&server, &admin, "bo").await;
    let token = sign_in(&server, "bo").await;

    // no grant: every operation is a 403 that says which grant is missing, and nothing is read or written
    let audit_before = server.count("audit_log").await;
    let denied = server.get(&path, &token).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(denied.body["detail"].as_str().unwrap().contains("client_management"), "{:?}", denied.body);
    assert_eq!(server.get(&format!("{T}/clients"), &token).await.status, StatusCode::FORBIDDEN);
    let body = client_body("Bia Lima", "11144477735");
    assert_eq!(server.post(&format!("{T}/clients"), &token, body.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(server.count("audit_log").await, audit_before);

    // each action needs its own flag
    grant(&server, &admin, &bo, json!({"can_read": true})).await;
    assert_eq!(server.get(&path, &token).await.status, StatusCode::OK);
    assert_eq!(server.post(&format!("{T}/clients"), &token, body.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(server.patch(&path, &token, json!({"name": "Ana S."}), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(server.delete(&path, &token).await.status, StatusCode::FORBIDDEN);
    grant(&server, &admin, &bo, json!({"can_read": true, "can_create": true, "can_update": true})).await;
    let made = server.post(&format!("{T}/clients"), &token, body).await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(made.body["created_by"], bo.as_str(), "the user who registered it");
    assert_eq!(server.patch(&path, &token, json!({"name": "Ana S."}), None).await.status, StatusCode::OK);
    assert_eq!(server.delete(&path, &token).await.status, StatusCode::FORBIDDEN);
    grant(&server, &admin, &bo, json!({"can_delete": true})).await;
    assert_eq!(server.delete(&path, &token).await.status, StatusCode::OK);
    assert_eq!(server.post(&format!("{path}/restore"), &token, json!({})).await.status, StatusCode::OK);
    assert_eq!(server.get(&path, &token).await.status, StatusCode::FORBIDDEN, "the last grant replaced the others");

    // a revoked grant denies, and says so
    let revoke = format!("{T}/users/{bo}/permissions/client_management");
    assert_eq!(server.delete(&revoke, &admin).await.status, StatusCode::OK);
    let revoked = server.delete(&path, &token).await;
    assert_eq!(revoked.status, StatusCode::FORBIDDEN);
    assert!(revoked.body["detail"].as_str().unwrap().contains("revoked"), "{:?}", revoked.body);

    // an API key of role user holds no grants; admin keys and signed-in admins manage everything
    let key = server.tenant_with_key("globex", Role::User).await;
    assert_eq!(server.get("/v1/tenants/globex/clients", &key).await.status, StatusCode::FORBIDDEN);
    let other_admin = server.tenant_with_key("initech", Role::Admin).await;
    assert_eq!(server.get(&path, &other_admin).await.status, StatusCode::NOT_FOUND, "another tenant's key");
});

/// A grant that expires denies from the instant of its expiry, on the server's clock.
async fn expired_grants_deny(backend: Backend) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-02 12:00 UTC)));
    let config = Config { signin_per_address_per_minute: 10_000, ..Config::default() };
    let Some(server) = common::Server::start_with(backend, config, clock.clone()).await else { return };
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let client = create(&server, &admin, "Ana Souza", "52998224725").await;
    let path = format!("{T}/clients/{}", client["id"].as_str().unwrap());
    let bo = user(&server, &admin, "bo").await;
    grant(&server, &admin, &bo, json!({"can_read": true, "expires_at": "2026-12-02T13:00:00Z"})).await;
    let token = sign_in(&server, "bo").await;
    clock.advance(time::Duration::minutes(59) + time::Duration::seconds(59));
    assert_eq!(server.get(&path, &token).await.status, StatusCode::OK);
    clock.advance(time::Duration::seconds(1));
    let expired = server.get(&path, &token).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    assert!(expired.body["detail"].as_str().unwrap().contains("expired"), "{:?}", expired.body);
    assert_eq!(server.get(&format!("{T}/clients?q=ana"), &token).await.status, StatusCode::FORBIDDEN);
    // the birth date is bounded by the server's clock too
    let body = json!({"name": "Caio Reis", "cpf": "11144477735", "birth_date": "2026-12-03"});
    let future = server.post(&format!("{T}/clients"), &admin, body).await;
    assert_eq!(future.body["errors"][0]["field"], "birth_date");
    let body = json!({"name": "Caio Reis", "cpf": "11144477735", "birth_date": "2026-12-02"});
    assert_eq!(server.post(&format!("{T}/clients"), &admin, body).await.status, StatusCode::CREATED);
}
roster::backend_test!(an_expired_grant_denies_from_its_instant_on, expired_grants_deny);

use common::{json_of, roster};

/// `roster client …`: the registry from the command line, and imports with per-row errors, --strict and re-runs.
async fn client_commands(backend: Backend) {
    let Some(db) = roster::testing::TestDb::of_empty(backend).await else { return };
    assert!(roster(&db, &["tenant", "create", "acme", "--name", "Acme"]).status.success());
    let t = ["--tenant", "acme", "--format", "json"];
    let made = json_of(&roster(
        &db,
        &[&["client", "create", "--name", "Ana Souza", "--cpf", "52998224725", "--birth-date", "1987-04-23"], &t[..]]
            .concat(),
    ));
    assert_eq!(made["cpf"], "529.982.247-25");
    let id = made["id"].as_str().unwrap();
    let shown = json_of(&roster(&db, &[&["client", "show", id], &t[..]].concat()));
    assert_eq!(shown["name"], "Ana Souza");
    let bad = roster(
        &db,
        &["client", "create", "--tenant", "acme", "--name", "Bia", "--cpf", "123", "--birth-date", "1990-01-01"],
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!((bad.status.code(), stderr.lines().count()), (Some(2), 1), "{stderr}");
    assert!(stderr.contains("cpf: must be 11 digits"), "{stderr}");
    let taken = roster(
        &db,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Bia",
            "--cpf",
            "529.982.247-25",
            "--birth-date",
            "1990-01-01",
        ],
    );
    assert_eq!(taken.status.code(), Some(2), "{}", String::from_utf8_lossy(&taken.stderr));
    let renamed = json_of(&roster(&db, &[&["client", "update", id, "--name", "Ana S. Souza"], &t[..]].concat()));
    assert_eq!(renamed["version"], 2);
    assert_eq!(json_of(&roster(&db, &[&["client", "deactivate", id], &t[..]].concat()))["is_active"], false);
    assert_eq!(json_of(&roster(&db, &[&["client", "restore", id], &t[..]].concat()))["is_active"], true);

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("clients.csv");
    std::fs::write(
        &csv,
        "name,cpf,birth_date\n\
         Ana Souza,529.982.247-25,1987-04-23\n\
         \"Lima, Bia\",11144477735,1990-05-01\n\
         Caio,123.456.789-00,1990-05-01\n\
         Duda Reis,12345678909,2999-01-01\n\
         Eva Melo,98765432100\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap();
    let strict = roster(&db, &["client", "import", csv, "--tenant", "acme", "--strict", "--format", "json"]);
    assert_eq!(strict.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&strict.stdout).unwrap();
    assert_eq!((&report["written"], &report["rejected_count"]), (&json!(false), &json!(3)));
    let rejected: Vec<(u64, Value)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["field"].clone()))
        .collect();
    assert_eq!(rejected, [(4, json!("cpf")), (5, json!("birth_date")), (6, Value::Null)]);
    let listed = json_of(&roster(&db, &[&["client", "list"], &t[..]].concat()));
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "--strict wrote nothing");

    let first = json_of(&roster(&db, &["client", "import", csv, "--tenant", "acme", "--format", "json"]));
    assert_eq!(first["clients"], json!({"created": 1, "updated": 1, "unchanged": 0}), "Ana's name is the file's");
    let again = json_of(&roster(&db, &["client", "import", csv, "--tenant", "acme", "--format", "json"]));
    assert_eq!(again["clients"], json!({"created": 0, "updated": 0, "unchanged": 2}));
    let table = roster(&db, &["client", "import", csv, "--tenant", "acme"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("line 4 cpf") && text.contains("check digits"), "{text}");

    let ndjson = dir.path().join("clients.ndjson");
    std::fs::write(
        &ndjson,
        "{\"name\": \"Fabi Luz\", \"cpf\": \"935.411.347-80\", \"birth_date\": \"1970-01-01\"}\nnot json\n",
    )
    .unwrap();
    let imported =
        json_of(&roster(&db, &["client", "import", ndjson.to_str().unwrap(), "--tenant", "acme", "--format", "json"]));
    assert_eq!((&imported["clients"]["created"], &imported["rejected"][0]["line"]), (&json!(1), &json!(2)));
    let found = json_of(&roster(&db, &[&["client", "list", "--q", "fabi"], &t[..]].concat()));
    assert_eq!(found["items"][0]["cpf"], "935.411.347-80");

    let unknown = roster(&db, &["client", "import", "/no/such/file.csv", "--tenant", "acme"]);
    assert_eq!(unknown.status.code(), Some(2));
    let wrong_kind = roster(&db, &["client", "import", csv.replace(".csv", ".txt").as_str(), "--tenant", "acme"]);
    assert_eq!(wrong_kind.status.code(), Some(2));
}
roster::backend_test!(client_commands_manage_the_registry_and_import_files, client_commands);
