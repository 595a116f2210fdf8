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

/// A user of acme signed in: its id and session token.
async fn trainee(server: &common::Server, admin: &str, username: &str) -> (String, String) {
    let body = json!({"username": username, "password": "a password 123"});
    let reply = server.post(&format!("{T}/users"), admin, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    (id, server.sign_in("acme", username, "a password 123").await)
}

async fn start(server: &common::Server, token: &str, scenario: &str) -> common::Reply {
    server.send(reqwest::Method::POST, &format!("{T}/scenarios/{scenario}/start"), Some(token), None, &[]).await
}

fn scores(values: [i64; 5]) -> Value {
    json!({
        "verification_score": values[0], "communication_score": values[1], "technical_score": values[2],
        "documentation_score": values[3], "response_time_score": values[4],
    })
}

/// Start a session of `scenario` for `user` and resolve it with `values`: the resolve answer.
async fn practise(server: &common::Server, admin: &str, user: &str, scenario: &str, values: [i64; 5]) -> Value {
    let started = server.post(&format!("{T}/scenarios/{scenario}/start"), admin, json!({"user_id": user})).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let session = started.body["id"].as_str().unwrap();
    let resolved = server.post(&format!("/v1/sessions/{session}/resolve"), admin, scores(values)).await;
    assert_eq!(resolved.status, StatusCode::OK, "{:?}", resolved.body);
    resolved.body
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
}

e2e_test!(a_session_runs_from_start_through_its_transcript_to_its_resolution, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let a = scenario(&server, &admin, json!({"title": "Greet", "difficulty": "starter"})).await;
    let b = scenario(&server, &admin, json!({"title": "Escalate", "difficulty": "intermediate", "prerequisites": [a]}))
        .await;
    let (_, ana) = trainee(&server, &admin, "ana").await;

    // B needs A first
    let refused = start(&server, &ana, &b).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert!(refused.body["detail"].as_str().unwrap().contains(&a), "{:?}", refused.body);
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(ids(&server.get(&format!("{T}/scenarios?completion=not_completed"), &ana).await.body), both);
    assert_eq!(ids(&server.get(&format!("{T}/scenarios?completion=completed"), &ana).await.body), Vec::<String>::new());
    // an API key has no user to be relative to
    assert_eq!(server.get(&format!("{T}/scenarios?completion=completed"), &admin).await.status, 422);

    let started = start(&server, &ana, &a).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    assert_eq!(started.body["status"], "active");
    let session = started.body["id"].as_str().unwrap().to_owned();
    let again = start(&server, &ana, &a).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body["detail"].as_str().unwrap().contains(&session), "{:?}", again.body);

    // the transcript: the trainee speaks for itself; the customer and the system come from the application
    let messages = format!("/v1/sessions/{session}/messages");
    let said = server.post(&messages, &ana, json!({"sender_type": "user", "content": "Hello, how can I help?"})).await;
    assert_eq!((said.status, &said.body["seq"]), (StatusCode::CREATED, &json!(1)), "{:?}", said.body);
    let posing = server.post(&messages, &ana, json!({"sender_type": "customer", "content": "I am happy now"})).await;
    assert_eq!(posing.status, StatusCode::FORBIDDEN);
    for (sender, kind, content) in [("customer", "text", "I was charged twice!"), ("system", "action", "refund issued")]
    {
        let body = json!({"sender_type": sender, "message_type": kind, "content": content, "metadata": {"mood": 3}});
        assert_eq!(server.post(&messages, &admin, body).await.status, StatusCode::CREATED);
    }
    for (body, field) in [
        (json!({"sender_type": "user", "content": "  "}), "content"),
        (json!({"sender_type": "user", "content": "x".repeat(10_001)}), "content"),
        (json!({"sender_type": "user", "content": "bell\u{7}"}), "content"),
        (json!({"sender_type": "user", "content": "hi", "metadata": [1]}), "metadata"),
        (json!({"sender_type": "user", "content": "hi", "metadata": {"notes": "n".repeat(16 * 1024)}}), "metadata"),
        (json!({"sender_type": "robot", "content": "hi"}), "sender_type"),
        (json!({"sender_type": "user", "content": "nul\u{0}"}), "content"),
    ] {
        let reply = server.post(&messages, &ana, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", reply.body);
        assert_eq!(reply.body["errors"][0]["field"], field, "{body}: {:?}", reply.body);
    }
    assert_eq!(server.count("chat_messages").await, 3);
    // in order, a page at a time
    let first = server.get(&format!("{messages}?limit=2"), &ana).await.body;
    let contents: Vec<&str> =
        first["items"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["Hello, how can I help?", "I was charged twice!"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = server.get(&format!("{messages}?limit=2&cursor={cursor}"), &ana).await.body;
    assert_eq!((rest["items"][0]["seq"].clone(), rest["next_cursor"].clone()), (json!(3), Value::Null));
    assert_eq!(server.get(&format!("{messages}?cursor=nonsense"), &ana).await.status, 422);

    // the trainee cannot score itself; the application can, once
    let resolve = format!("/v1/sessions/{session}/resolve");
    assert_eq!(server.post(&resolve, &ana, scores([100; 5])).await.status, StatusCode::FORBIDDEN);
    let mut body = scores([80, 90, 70, 60, 100]);
    body["resolution_data"] = json!({"refund": "issued"});
    body["verification_status"] = json!("verified");
    let resolved = server.post(&resolve, &admin, body).await;
    assert_eq!(resolved.status, StatusCode::OK, "{:?}", resolved.body);
    assert_eq!(resolved.body["metric"]["overall_score"], json!(80.0));
    assert_eq!(resolved.body["metric"]["xp_earned"], json!(80));
    assert_eq!((&resolved.body["user"]["xp"], &resolved.body["user"]["level"]), (&json!(80), &json!(1)));
    assert_eq!(resolved.body["session"]["status"], "completed");
    assert_eq!(resolved.body["session"]["resolution_data"], json!({"refund": "issued"}));
    let twice = server.post(&resolve, &admin, scores([100; 5])).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let late = server.post(&messages, &ana, json!({"sender_type": "user", "content": "one more thing"})).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(server.count("performance_metrics").await, 1);
    assert_eq!(ids(&server.get(&format!("{T}/scenarios?completion=completed"), &ana).await.body), vec![a.clone()]);

    // B is open now; abandoned, it can be neither abandoned again nor resolved, and a new one can start
    let b_session = start(&server, &ana, &b).await;
    assert_eq!(b_session.status, StatusCode::CREATED, "{:?}", b_session.body);
    let b_id = b_session.body["id"].as_str().unwrap().to_owned();
    let abandon = format!("/v1/sessions/{b_id}/abandon");
    let abandoned = server.send(reqwest::Method::POST, &abandon, Some(&ana), None, &[]).await;
    assert_eq!((abandoned.status, &abandoned.body["status"]), (StatusCode::OK, &json!("abandoned")));
    assert_eq!(server.send(reqwest::Method::POST, &abandon, Some(&ana), None, &[]).await.status, 409);
    assert_eq!(server.post(&format!("/v1/sessions/{b_id}/resolve"), &admin, scores([50; 5])).await.status, 409);
    assert_eq!(start(&server, &ana, &b).await.status, StatusCode::CREATED);

    // a retired scenario starts no session
    let retire = server.patch(&format!("{T}/scenarios/{a}"), &admin, json!({"is_active": false}), None).await;
    assert_eq!(retire.status, StatusCode::OK);
    assert_eq!(start(&server, &ana, &a).await.status, StatusCode::NOT_FOUND);
    let (ben, _) = trainee(&server, &admin, "ben").await;
    let for_ben = server.post(&format!("{T}/scenarios/{a}/start"), &admin, json!({"user_id": ben})).await;
    assert_eq!(for_ben.status, StatusCode::CONFLICT);
});

e2e_test!(parallel_starts_of_one_scenario_make_exactly_one_session, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let a = scenario(&server, &admin, json!({"title": "Greet", "difficulty": "starter"})).await;
    let (ana_id, ana) = trainee(&server, &admin, "ana").await;
    for round in 0..5 {
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (base, path) = (server.base.clone(), format!("{T}/scenarios/{a}/start"));
            // half of them the trainee itself, half the application on its behalf
            let (token, body) =
                if i % 2 == 0 { (ana.clone(), json!({})) } else { (admin.clone(), json!({"user_id": ana_id})) };
            tasks.push(tokio::spawn(async move {
                let reply =
                    reqwest::Client::new().post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await;
                let reply = reply.unwrap();
                (reply.status().as_u16(), reply.json::<Value>().await.unwrap())
            }));
        }
        let mut created = Vec::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status {
                201 => created.push(body["id"].as_str().unwrap().to_owned()),
                409 => {}
                other => panic!("round {round}: {other} {body}"),
            }
        }
        assert_eq!(created.len(), 1, "round {round}: {created:?}");
        let abandon = format!("/v1/sessions/{}/abandon", created[0]);
        assert_eq!(server.send(reqwest::Method::POST, &abandon, Some(&ana), None, &[]).await.status, StatusCode::OK);
    }
    assert_eq!(server.count("training_sessions").await, 5);
});

e2e_test!(scores_xp_and_levels_are_right_at_their_edges, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let plain = scenario(&server, &admin, json!({"title": "Plain", "difficulty": "starter", "xp_reward": 100})).await;
    let weighted = scenario(
        &server,
        &admin,
        json!({"title": "Talk", "difficulty": "advanced", "xp_reward": 150,
            "assessment_criteria": {"weights": {"technical": 0, "documentation": 0}}}),
    )
    .await;
    let small = scenario(&server, &admin, json!({"title": "Small", "difficulty": "starter", "xp_reward": 10})).await;
    let (ana_id, ana) = trainee(&server, &admin, "ana").await;

    let zero = practise(&server, &admin, &ana_id, &plain, [0; 5]).await;
    assert_eq!((&zero["metric"]["overall_score"], &zero["metric"]["xp_earned"]), (&json!(0.0), &json!(0)));
    assert_eq!((&zero["user"]["xp"], &zero["user"]["level"]), (&json!(0), &json!(1)));
    // exactly 100 XP is level 2
    let full = practise(&server, &admin, &ana_id, &plain, [100; 5]).await;
    assert_eq!((&full["metric"]["overall_score"], &full["metric"]["xp_earned"]), (&json!(100.0), &json!(100)));
    assert_eq!(
        (&full["user"]["xp"], &full["user"]["level"], &full["user"]["xp_to_next_level"]),
        (&json!(100), &json!(2), &json!(200))
    );
    // weights leave technical and documentation out: 200 / 3 = 66.67; 150 × 66.67 / 100 = 100.005 → 100
    let thirds = practise(&server, &admin, &ana_id, &weighted, [100, 100, 0, 0, 0]).await;
    assert_eq!((&thirds["metric"]["overall_score"], &thirds["metric"]["xp_earned"]), (&json!(66.67), &json!(100)));
    assert_eq!((&thirds["user"]["xp"], &thirds["user"]["level"]), (&json!(200), &json!(2)));
    // 10 × 85 / 100 = 8.5 rounds to 9; 10 × 84.8 / 100 = 8.48 to 8
    let half = practise(&server, &admin, &ana_id, &small, [85; 5]).await;
    assert_eq!(half["metric"]["xp_earned"], json!(9));
    let below = practise(&server, &admin, &ana_id, &small, [85, 85, 85, 85, 84]).await;
    assert_eq!((&below["metric"]["overall_score"], &below["metric"]["xp_earned"]), (&json!(84.8), &json!(8)));
    // 217 + 83 = 300: level 3 at its threshold
    let mut to_three = practise(&server, &admin, &ana_id, &plain, [83; 5]).await;
    assert_eq!((&to_three["user"]["xp"], &to_three["user"]["level"]), (&json!(300), &json!(3)));
    let me = server.get("/v1/me", &ana).await.body;
    assert_eq!((&me["xp"], &me["level"]), (&json!(300), &json!(3)));

    // bad scores are refused naming the score, and change nothing
    let started = server.post(&format!("{T}/scenarios/{plain}/start"), &admin, json!({"user_id": ana_id})).await;
    let session = started.body["id"].as_str().unwrap().to_owned();
    let resolve = format!("/v1/sessions/{session}/resolve");
    for (body, field) in [
        (scores([101, 0, 0, 0, 0]), "verification_score"),
        (scores([0, 0, 0, 0, -1]), "response_time_score"),
        (
            json!({"verification_score": 50.5, "communication_score": 1, "technical_score": 1,
            "documentation_score": 1, "response_time_score": 1}),
            "verification_score",
        ),
        (json!({"verification_score": 50}), "communication_score"),
        (
            {
                let mut b = scores([1; 5]);
                b["resolution_data"] = json!("done");
                b
            },
            "resolution_data",
        ),
        (
            {
                let mut b = scores([1; 5]);
                b["verification_status"] = json!("Not OK!");
                b
            },
            "verification_status",
        ),
    ] {
        let reply = server.post(&resolve, &admin, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", reply.body);
        assert!(reply.body.to_string().contains(field), "{body}: {:?}", reply.body);
    }
    assert_eq!(server.get(&format!("/v1/sessions/{session}"), &ana).await.body["status"], "active");
    assert_eq!(server.count("performance_metrics").await, 6);

    // the performance view adds it up
    let performance = server.get("/v1/me/performance", &ana).await;
    assert_eq!(performance.status, StatusCode::OK, "{:?}", performance.body);
    let p = performance.body;
    assert_eq!(
        (&p["sessions_completed"], &p["sessions_abandoned"], &p["sessions_active"]),
        (&json!(6), &json!(0), &json!(1))
    );
    assert_eq!((&p["xp"], &p["level"], &p["xp_to_next_level"]), (&json!(300), &json!(3), &json!(300)));
    // verification: (0 + 100 + 100 + 85 + 85 + 83) / 6 = 75.5
    assert_eq!(p["average_scores"]["verification"], json!(75.5));
    assert_eq!(p["by_difficulty"]["advanced"]["sessions_completed"], json!(1));
    assert_eq!(p["by_difficulty"]["advanced"]["average_scores"]["overall"], json!(66.67));
    assert_eq!(p["by_difficulty"]["intermediate"]["sessions_completed"], json!(0));
    assert_eq!(p["by_difficulty"]["intermediate"]["average_scores"]["overall"], Value::Null);
    assert_eq!(p["best_session"]["overall_score"], json!(100.0));
    let recent = p["recent_sessions"].as_array().unwrap();
    assert_eq!(recent.len(), 6);
    assert_eq!(recent[0]["id"], to_three["metric"]["id"].take());
    // the admin view of the same user, and nobody else's
    let user_view = server.get(&format!("{T}/users/{ana_id}/performance"), &admin).await;
    assert_eq!((user_view.status, &user_view.body["xp"]), (StatusCode::OK, &json!(300)));
    let (ben_id, ben) = trainee(&server, &admin, "ben").await;
    assert_eq!(server.get(&format!("{T}/users/{ana_id}/performance"), &ben).await.status, 404);
    let empty = server.get(&format!("{T}/users/{ben_id}/performance"), &ben).await.body;
    assert_eq!((&empty["sessions_completed"], &empty["best_session"]), (&json!(0), &Value::Null));
});

e2e_test!(each_kind_of_achievement_is_awarded_once_with_its_bonus, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let (ana_id, ana) = trainee(&server, &admin, "ana").await;
    for (code, tier, criteria, bonus) in [
        ("first-session", "bronze", json!({"kind": "sessions_completed", "count": 1}), 10),
        ("three-sessions", "silver", json!({"kind": "sessions_completed", "count": 3}), 0),
        ("sharp", "gold", json!({"kind": "score_at_least", "score": 90, "sessions": 2}), 0),
        ("advanced", "gold", json!({"kind": "difficulty_completed", "difficulty": "advanced"}), 0),
        ("level-2", "platinum", json!({"kind": "level_reached", "level": 2}), 5),
    ] {
        let body = json!({"code": code, "name": code, "tier": tier, "criteria": criteria, "xp_bonus": bonus});
        let reply = server.post(&format!("{T}/achievements"), &admin, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let taken = json!({"code": "sharp", "name": "Again", "tier": "gold",
        "criteria": {"kind": "sessions_completed", "count": 9}});
    assert_eq!(server.post(&format!("{T}/achievements"), &admin, taken.clone()).await.status, StatusCode::CONFLICT);
    assert_eq!(server.post(&format!("{T}/achievements"), &ana, taken).await.status, StatusCode::FORBIDDEN);
    for criteria in [json!({"kind": "charm"}), json!({"kind": "level_reached", "level": 0}), json!("x")] {
        let body = json!({"code": "bad", "name": "Bad", "tier": "gold", "criteria": criteria});
        let reply = server.post(&format!("{T}/achievements"), &admin, body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
        assert_eq!(reply.body["errors"][0]["field"], "criteria");
    }
    assert_eq!(server.get(&format!("{T}/achievements"), &ana).await.body["items"].as_array().unwrap().len(), 5);

    let starter = scenario(&server, &admin, json!({"title": "S", "difficulty": "starter", "xp_reward": 90})).await;
    let advanced = scenario(&server, &admin, json!({"title": "A", "difficulty": "advanced", "xp_reward": 10})).await;
    let codes = |resolved: &Value| -> Vec<String> {
        let awarded = resolved["achievements_awarded"].as_array().unwrap();
        awarded.iter().map(|a| a["code"].as_str().unwrap().to_owned()).collect()
    };
    // 90 XP + 10 (first-session) = 100 reaches level 2, whose +5 counts too: both in one resolution
    let first = practise(&server, &admin, &ana_id, &starter, [100; 5]).await;
    assert_eq!(codes(&first), ["first-session", "level-2"]);
    assert_eq!((&first["user"]["xp"], &first["user"]["level"]), (&json!(105), &json!(2)));
    // a second score of at least 90, on an advanced scenario: two more
    let second = practise(&server, &admin, &ana_id, &advanced, [90; 5]).await;
    assert_eq!(codes(&second), ["sharp", "advanced"]);
    // the third session, at a low score
    let third = practise(&server, &admin, &ana_id, &starter, [10; 5]).await;
    assert_eq!(codes(&third), ["three-sessions"]);
    // nothing is awarded twice
    let fourth = practise(&server, &admin, &ana_id, &advanced, [100; 5]).await;
    assert_eq!(codes(&fourth), Vec::<String>::new());
    assert_eq!(server.count("user_achievements").await, 5);
    let mine = server.get("/v1/me/achievements", &ana).await.body;
    let earned: Vec<&str> = mine["items"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert_eq!(earned.len(), 5);
    assert!(earned.contains(&"sharp") && earned.contains(&"three-sessions"), "{earned:?}");
    // 105 + 9 (advanced at 90) + 9 (starter at 10) + 10 (advanced at 100) = 133
    assert_eq!(server.get("/v1/me", &ana).await.body["xp"], json!(133));
});

e2e_test!(a_session_is_its_users_and_the_applications_and_nobody_elses, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let a = scenario(&server, &admin, json!({"title": "Greet", "difficulty": "starter"})).await;
    let (ana_id, ana) = trainee(&server, &admin, "ana").await;
    let (ben_id, ben) = trainee(&server, &admin, "ben").await;
    let user_key = {
        let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
        let scope =
            roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
        let now = roster::clock::Clock::now(&roster::clock::SystemClock);
        roster::auth::create_api_key(&server.db.store, &scope, now, "app", Role::User, None).await.unwrap().1
    };
    let other_admin = server.tenant_with_key("globex", Role::Admin).await;
    let session = start(&server, &ana, &a).await.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/sessions/{session}");
    let say = json!({"sender_type": "user", "content": "hi"});
    for (who, token) in [("another user", &ben), ("a user-role key", &user_key), ("another tenant", &other_admin)] {
        assert_eq!(server.get(&path, token).await.status, 404, "{who}");
        assert_eq!(server.get(&format!("{path}/messages"), token).await.status, 404, "{who}");
        assert_eq!(server.post(&format!("{path}/messages"), token, say.clone()).await.status, 404, "{who}");
        assert_eq!(server.post(&format!("{path}/resolve"), token, scores([100; 5])).await.status, 404, "{who}");
        let abandon = server.send(reqwest::Method::POST, &format!("{path}/abandon"), Some(token), None, &[]).await;
        assert_eq!(abandon.status, 404, "{who}");
    }
    // a user starts sessions for itself only; a user-role key for nobody
    let for_ana = json!({"user_id": ana_id});
    assert_eq!(server.post(&format!("{T}/scenarios/{a}/start"), &ben, for_ana.clone()).await.status, 404);
    assert_eq!(server.post(&format!("{T}/scenarios/{a}/start"), &user_key, for_ana).await.status, 404);
    assert_eq!(server.post(&format!("{T}/scenarios/{a}/start"), &user_key, json!({})).await.status, 422);
    let ben_start = server.post(&format!("{T}/scenarios/{a}/start"), &ben, json!({"user_id": ben_id})).await;
    assert_eq!(ben_start.status, StatusCode::CREATED);
    assert_eq!(server.get(&path, &ana).await.status, StatusCode::OK);
    assert_eq!(server.get(&path, &admin).await.status, StatusCode::OK);
    // nothing of it was changed by the refused callers
    assert_eq!(server.count("chat_messages").await, 0);
    assert_eq!(server.get(&path, &ana).await.body["status"], "active");
    // a session id that is not a UUID names the parameter
    assert_eq!(server.get("/v1/sessions/nope", &ana).await.status, 422);
});

e2e_test!(concurrent_resolutions_count_once_and_see_each_other, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let (ana_id, ana) = trainee(&server, &admin, "ana").await;
    let body = json!({"code": "three", "name": "Three", "tier": "silver", "xp_bonus": 7,
        "criteria": {"kind": "sessions_completed", "count": 3}});
    assert_eq!(server.post(&format!("{T}/achievements"), &admin, body).await.status, StatusCode::CREATED);
    let resolve = |session: String, values: [i64; 5]| {
        let (base, admin) = (server.base.clone(), admin.clone());
        tokio::spawn(async move {
            let reply = reqwest::Client::new()
                .post(format!("{base}/v1/sessions/{session}/resolve"))
                .bearer_auth(admin)
                .json(&scores(values))
                .send()
                .await
                .unwrap();
            reply.status().as_u16()
        })
    };
    // one session resolved five times at once: one resolution, four 409s
    let a = scenario(&server, &admin, json!({"title": "A", "difficulty": "starter", "xp_reward": 100})).await;
    let session = start(&server, &ana, &a).await.body["id"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..5).map(|_| resolve(session.clone(), [50; 5])).collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409, 409]);
    assert_eq!(server.count("performance_metrics").await, 1);
    assert_eq!(server.get("/v1/me", &ana).await.body["xp"], json!(50));
    // two sessions of one user resolved at once, the second and third: the later one counts the earlier, so the
    // third-session award is made
    let b = scenario(&server, &admin, json!({"title": "B", "difficulty": "starter", "xp_reward": 100})).await;
    let c = scenario(&server, &admin, json!({"title": "C", "difficulty": "starter", "xp_reward": 100})).await;
    let mut sessions = Vec::new();
    for s in [&b, &c] {
        let started = server.post(&format!("{T}/scenarios/{s}/start"), &admin, json!({"user_id": ana_id})).await;
        sessions.push(started.body["id"].as_str().unwrap().to_owned());
    }
    let (one, other) = (resolve(sessions[0].clone(), [10; 5]), resolve(sessions[1].clone(), [20; 5]));
    assert_eq!((one.await.unwrap(), other.await.unwrap()), (200, 200));
    assert_eq!(server.count("user_achievements").await, 1);
    // 50 + 10 + 20 + 7
    assert_eq!(server.get("/v1/me", &ana).await.body["xp"], json!(87));
});

/// `roster seed --demo` populates a training tenant through the real code (XP, levels, achievements computed),
/// changes nothing when run again, and `roster report training` ranks its users.
async fn demo_seed_and_leaderboard(backend: roster::store::Backend) {
    let Some(db) = roster::testing::TestDb::of_empty(backend).await else { return };
    let first = common::json_of(&common::roster(&db, &["seed", "--demo", "--format", "json"]));
    let summary = &first["demo"]["summary"];
    assert_eq!(first["demo"]["tenant_created"], true, "{first}");
    assert_eq!((&summary["scenarios_created"], &summary["achievements_created"]), (&json!(6), &json!(6)), "{first}");
    assert_eq!(summary["users_created"], json!(["ana.lima", "bruno.costa", "carla.mendes", "diego.rocha"]));
    assert_eq!(
        (&summary["sessions_completed"], &summary["sessions_abandoned"], &summary["sessions_active"]),
        (&json!(10), &json!(1), &json!(2))
    );
    assert!(summary["password"].as_str().is_some_and(|p| p.len() == 20), "{first}");
    let count = |table: &'static str| {
        let store = db.store.clone();
        async move { store.query_one::<(i64,)>(format!("SELECT COUNT(*) FROM {table}"), vec![]).await.unwrap().0 }
    };
    let before = [count("scenarios").await, count("training_sessions").await, count("chat_messages").await];
    assert_eq!(before, [6, 13, 52]);
    let awarded = count("user_achievements").await;
    assert_eq!(summary["achievements_awarded"], json!(awarded));
    // difficulties: two scenarios of each, and the advanced ones need the intermediate ones
    let tiers: Vec<(String, i64)> = db
        .store
        .query("SELECT difficulty, COUNT(*) FROM scenarios GROUP BY difficulty ORDER BY difficulty", vec![])
        .await
        .unwrap();
    assert_eq!(tiers, [("advanced".into(), 2), ("intermediate".into(), 2), ("starter".into(), 2)]);

    let again = common::json_of(&common::roster(&db, &["seed", "--demo", "--format", "json"]));
    let nothing = &again["demo"]["summary"];
    assert_eq!(again["demo"]["tenant_created"], false);
    assert_eq!(
        (&nothing["scenarios_created"], &nothing["users_created"], &nothing["password"]),
        (&json!(0), &json!([]), &Value::Null)
    );
    let after = [count("scenarios").await, count("training_sessions").await, count("chat_messages").await];
    assert_eq!(after, before);
    let table = common::roster(&db, &["seed", "--demo"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("nothing to do"), "{table:?}");

    let board = common::json_of(&common::roster(&db, &["report", "training", "--tenant", "demo", "--format", "json"]));
    let items = board["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["username"].as_str().unwrap()).collect();
    // Diego has completed nothing yet, so no XP and no place
    assert_eq!(names, ["ana.lima", "bruno.costa", "carla.mendes"]);
    assert_eq!((&items[0]["rank"], &items[0]["sessions_completed"]), (&json!(1), &json!(6)));
    assert!(items[0]["level"].as_i64().unwrap() >= 5, "{board}");
    // the average the running totals give is the mean of the user's metrics
    let ana = uuid::Uuid::parse_str(items[0]["user_id"].as_str().unwrap()).unwrap();
    let (mean,): (f64,) = db
        .store
        .query_one("SELECT AVG(overall_score) FROM performance_metrics WHERE user_id = $1", vec![ana.into()])
        .await
        .unwrap();
    assert_eq!(items[0]["average_overall"], json!((mean * 100.0).round() / 100.0), "{board}");
    let xp: Vec<i64> = items.iter().map(|i| i["xp"].as_i64().unwrap()).collect();
    assert!(xp.windows(2).all(|w| w[0] >= w[1]), "{xp:?}");
    let top = common::roster(&db, &["report", "training", "--tenant", "demo", "--limit", "1"]);
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(text.contains("ana.lima") && !text.contains("bruno.costa"), "{text}");
    let missing = common::roster(&db, &["report", "training", "--tenant", "nowhere"]);
    assert_eq!(missing.status.code(), Some(2));
}
roster::backend_test!(the_demo_seed_populates_a_training_tenant_once, demo_seed_and_leaderboard);

// `GET …/training/leaderboard`: admins only, live users with XP by XP, ties by id, with their sessions and average;
// the limit is bounded, and another tenant's trainees never show.
e2e_test!(the_leaderboard_ranks_live_trainees_by_xp_for_admins, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let other = server.tenant_with_key("globex", Role::Admin).await;
    let greet = scenario(&server, &admin, json!({"title": "Greet", "difficulty": "starter", "xp_reward": 100})).await;
    let (ana, ana_token) = trainee(&server, &admin, "ana").await;
    let (bruno, _) = trainee(&server, &admin, "bruno").await;
    let (carla, _) = trainee(&server, &admin, "carla").await;
    let (_diego, _) = trainee(&server, &admin, "diego").await;
    practise(&server, &admin, &ana, &greet, [90; 5]).await;
    practise(&server, &admin, &ana, &greet, [70; 5]).await;
    practise(&server, &admin, &bruno, &greet, [50; 5]).await;
    practise(&server, &admin, &carla, &greet, [100; 5]).await;
    // someone of another tenant with more XP than anyone here
    let elsewhere = server
        .post("/v1/tenants/globex/scenarios", &other, json!({"title": "G", "difficulty": "starter", "xp_reward": 1000}))
        .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED, "{:?}", elsewhere.body);
    let user = server.post("/v1/tenants/globex/users", &other, json!({"username": "zed"})).await;
    let started = server
        .post(
            &format!("/v1/tenants/globex/scenarios/{}/start", elsewhere.body["id"].as_str().unwrap()),
            &other,
            json!({"user_id": user.body["id"]}),
        )
        .await;
    let session = started.body["id"].as_str().unwrap();
    assert_eq!(server.post(&format!("/v1/sessions/{session}/resolve"), &other, scores([100; 5])).await.status, 200);

    let board = server.get(&format!("{T}/training/leaderboard"), &admin).await;
    assert_eq!(board.status, StatusCode::OK, "{:?}", board.body);
    let items = board.body["items"].as_array().unwrap();
    let row = |i: usize| {
        let r = &items[i];
        (r["rank"].as_i64().unwrap(), r["username"].as_str().unwrap(), r["xp"].as_i64().unwrap())
    };
    // ana 90 + 70, carla 100, bruno 50; diego has no XP and no place
    assert_eq!(items.len(), 3, "{:?}", board.body);
    assert_eq!([row(0), row(1), row(2)], [(1, "ana", 160), (2, "carla", 100), (3, "bruno", 50)]);
    assert_eq!((&items[0]["sessions_completed"], &items[0]["average_overall"]), (&json!(2), &json!(80.0)));
    assert_eq!(items[0]["user_id"], json!(ana));
    assert_eq!(items[0]["level"], json!(2));

    let one = server.get(&format!("{T}/training/leaderboard?limit=1"), &admin).await;
    assert_eq!(one.body["items"].as_array().unwrap().len(), 1);
    for bad in ["0", "501", "-1", "x"] {
        let refused = server.get(&format!("{T}/training/leaderboard?limit={bad}"), &admin).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "limit={bad}: {:?}", refused.body);
        assert_eq!(refused.body["errors"][0]["field"], "limit", "{:?}", refused.body);
    }
    let unknown = server.get(&format!("{T}/training/leaderboard?days=3"), &admin).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    // a trainee may see its own performance, not the others'
    assert_eq!(server.get(&format!("{T}/training/leaderboard"), &ana_token).await.status, StatusCode::FORBIDDEN);
    // a deleted user leaves the board
    assert_eq!(server.delete(&format!("{T}/users/{carla}"), &admin).await.status, StatusCode::OK);
    let after = server.get(&format!("{T}/training/leaderboard"), &admin).await;
    let names: Vec<&str> =
        after.body["items"].as_array().unwrap().iter().map(|r| r["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["ana", "bruno"]);
    // another tenant's admin cannot read this one's
    assert_eq!(server.get(&format!("{T}/training/leaderboard"), &other).await.status, StatusCode::NOT_FOUND);
});

e2e_test!(the_users_gate_decides_whose_progress_a_coach_may_change, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let a = scenario(&server, &admin, json!({"title": "Greet", "difficulty": "starter"})).await;
    // a sysadmin account in the tenant, made by the sysadmin key, and an admin who practises too
    let body = json!({"username": "root", "password": "a password 123", "role": "sysadmin"});
    let root = server.post(&format!("{T}/users"), &server.root_key, body).await;
    assert_eq!(root.status, StatusCode::CREATED, "{:?}", root.body);
    let root_id = root.body["id"].as_str().unwrap().to_owned();
    let body = json!({"username": "boss", "password": "a password 123", "role": "admin"});
    assert_eq!(server.post(&format!("{T}/users"), &admin, body).await.status, StatusCode::CREATED);
    let boss = server.sign_in("acme", "boss", "a password 123").await;

    // an admin may not start or score a sysadmin's practice: the sysadmin's key may
    let for_root = json!({"user_id": root_id});
    let refused = server.post(&format!("{T}/scenarios/{a}/start"), &admin, for_root.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let sysadmin_key = {
        let tenant = roster::tenants::find(&server.db.store, "acme").await.unwrap().unwrap();
        let scope =
            roster::principal::TenantScope::operator_unchecked(tenant.as_ref(), roster::principal::Actor::cli());
        let now = roster::clock::Clock::now(&roster::clock::SystemClock);
        roster::auth::create_api_key(&server.db.store, &scope, now, "app", Role::Sysadmin, None).await.unwrap().1
    };
    let started = server.post(&format!("{T}/scenarios/{a}/start"), &sysadmin_key, for_root).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let session = started.body["id"].as_str().unwrap().to_owned();
    let resolve = format!("/v1/sessions/{session}/resolve");
    assert_eq!(server.post(&resolve, &admin, scores([90; 5])).await.status, StatusCode::FORBIDDEN);
    assert_eq!(server.post(&resolve, &sysadmin_key, scores([90; 5])).await.status, StatusCode::OK);

    // an admin practises, and does not score its own session; another admin does
    let own = start(&server, &boss, &a).await;
    assert_eq!(own.status, StatusCode::CREATED, "{:?}", own.body);
    let own_resolve = format!("/v1/sessions/{}/resolve", own.body["id"].as_str().unwrap());
    let scored = server.post(&own_resolve, &boss, scores([100; 5])).await;
    assert_eq!(scored.status, StatusCode::FORBIDDEN, "{:?}", scored.body);
    assert_eq!(server.post(&own_resolve, &admin, scores([70; 5])).await.status, StatusCode::OK);
    let me = server.get("/v1/me/performance", &boss).await;
    assert_eq!(me.body["sessions_completed"], 1, "{:?}", me.body);
});
