//! Training over HTTP: scenarios, who may see and change them, and prerequisites that exist and form no cycle.

mod common;

use reqwest::StatusCode;
use roster::principal::Role;
use serde_json::{json, Value};

const T: &str = "/v1/tenants/acme";

async fn scenario(server: &common::Server, admin: &str, body: Value) -> String {
    let reply = server.post(&format!("{T}/scenarios"), admin, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

e2e_test!(admins_write_scenarios_and_everyone_of_the_tenant_reads_the_active_ones, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let body = json!({
        "title": "Refund a double charge", "description": "A customer was charged twice.\nCalm them down.",
        "difficulty": "intermediate", "estimated_time": 20, "xp_reward": 150,
        "ticket_template": {"subject": "Charged twice"}, "customer_persona": {"mood": "angry"},
        "knowledge_base_entries": [{"title": "Refund policy"}],
        "assessment_criteria": {"weights": {"technical": 2, "communication": 1}}
    });
    let reply = server.post(&format!("{T}/scenarios"), &admin, body).await;
    assert_eq!((reply.status, reply.header("etag")), (StatusCode::CREATED, Some("\"1\"")), "{:?}", reply.body);
    assert_eq!((&reply.body["difficulty"], &reply.body["xp_reward"]), (&json!("intermediate"), &json!(150)));
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let retired = scenario(&server, &admin, json!({"title": "Old", "difficulty": "starter", "is_active": false})).await;

    let user =
        server.post(&format!("{T}/users"), &admin, json!({"username": "ana", "password": "a password 123"})).await;
    assert_eq!(user.status, StatusCode::CREATED);
    let token = server.sign_in("acme", "ana", "a password 123").await;
    let user_key = server.tenant_with_key("globex", Role::User).await;

    // a user sees the active scenario, not the retired one, and changes nothing
    let listed = server.get(&format!("{T}/scenarios"), &token).await.body;
    let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id.as_str()]);
    assert_eq!(server.get(&format!("{T}/scenarios/{id}"), &token).await.status, StatusCode::OK);
    assert_eq!(server.get(&format!("{T}/scenarios/{retired}"), &token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(server.get(&format!("{T}/scenarios/{retired}"), &admin).await.status, StatusCode::OK);
    let all = server.get(&format!("{T}/scenarios?active=false"), &admin).await.body;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert_eq!(server.get(&format!("{T}/scenarios?difficulty=advanced"), &admin).await.body["items"], json!([]));
    let new = json!({"title": "Mine", "difficulty": "starter"});
    assert_eq!(server.post(&format!("{T}/scenarios"), &token, new).await.status, StatusCode::FORBIDDEN);
    let rename = json!({"title": "Renamed"});
    let path = format!("{T}/scenarios/{id}");
    assert_eq!(server.patch(&path, &token, rename.clone(), None).await.status, StatusCode::FORBIDDEN);
    // another tenant's key does not find it
    assert_eq!(server.get(&path.replace("acme", "globex"), &user_key).await.status, StatusCode::NOT_FOUND);
    assert_eq!(server.get(&path, &user_key).await.status, StatusCode::NOT_FOUND);

    let renamed = server.patch(&path, &admin, rename, Some("\"1\"")).await;
    assert_eq!(
        (renamed.status, &renamed.body["title"], &renamed.body["version"]),
        (StatusCode::OK, &json!("Renamed"), &json!(2))
    );
    assert_eq!(
        server.patch(&path, &admin, json!({"title": "Again"}), Some("\"1\"")).await.status,
        StatusCode::PRECONDITION_FAILED
    );
});

e2e_test!(bad_scenarios_are_refused_naming_the_field, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    for (body, field) in [
        (json!({"title": "", "difficulty": "starter"}), "title"),
        (json!({"title": "X", "difficulty": "starter", "estimated_time": 0}), "estimated_time"),
        (json!({"title": "X", "difficulty": "starter", "xp_reward": 100001}), "xp_reward"),
        (json!({"title": "X", "difficulty": "starter", "ticket_template": "text"}), "ticket_template"),
        (json!({"title": "X", "difficulty": "starter", "knowledge_base_entries": {}}), "knowledge_base_entries"),
        (
            json!({"title": "X", "difficulty": "starter", "assessment_criteria": {"weights": {"luck": 1}}}),
            "assessment_criteria.weights",
        ),
        (json!({"title": "X", "difficulty": "starter", "prerequisites": [uuid::Uuid::now_v7()]}), "prerequisites"),
        (json!({"title": "X\u{0}", "difficulty": "starter"}), "title"),
    ] {
        let reply = server.post(&format!("{T}/scenarios"), &admin, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", reply.body);
        assert!(reply.body.to_string().contains(field), "{body}: {:?}", reply.body);
    }
    for body in [
        json!({"title": "X", "difficulty": "expert"}),
        json!({"title": "X"}),
        json!({"title": "X", "difficulty": "starter", "level": 3}),
    ] {
        let reply = server.post(&format!("{T}/scenarios"), &admin, body.clone()).await;
        assert!([400, 422].contains(&reply.status.as_u16()), "{body}: {:?}", reply.body);
    }
    assert_eq!(server.count("scenarios").await, 0);
});

e2e_test!(prerequisites_never_form_a_cycle_even_when_changed_at_once, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let a = scenario(&server, &admin, json!({"title": "A", "difficulty": "starter"})).await;
    let b = scenario(&server, &admin, json!({"title": "B", "difficulty": "starter", "prerequisites": [a]})).await;
    let cycle = server.patch(&format!("{T}/scenarios/{a}"), &admin, json!({"prerequisites": [b]}), None).await;
    assert_eq!(cycle.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = cycle.body["errors"][0]["message"].as_str().unwrap();
    assert_eq!(message, format!("would form a cycle: {a} → {b} → {a}"));
    // two scenarios, each made the other's prerequisite at the same moment: at most one change wins, every time
    let c = scenario(&server, &admin, json!({"title": "C", "difficulty": "starter"})).await;
    let d = scenario(&server, &admin, json!({"title": "D", "difficulty": "starter"})).await;
    for _ in 0..10 {
        let send = |from: String, to: String| {
            let (base, admin) = (server.base.clone(), admin.clone());
            tokio::spawn(async move {
                reqwest::Client::new()
                    .patch(format!("{base}{T}/scenarios/{from}"))
                    .bearer_auth(admin)
                    .json(&json!({"prerequisites": [to]}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        };
        let (one, other) = (send(c.clone(), d.clone()), send(d.clone(), c.clone()));
        let mut statuses = [one.await.unwrap(), other.await.unwrap()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 422]);
        for id in [&c, &d] {
            let reset = server.patch(&format!("{T}/scenarios/{id}"), &admin, json!({"prerequisites": []}), None).await;
            assert_eq!(reset.status, StatusCode::OK);
        }
    }
});
