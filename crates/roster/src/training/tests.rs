use time::macros::datetime;

use super::*;
use crate::http::Problem;
use crate::store_test;
use crate::testing::operator_in_new_tenant;

const NOW: OffsetDateTime = datetime!(2026-12-02 12:00 UTC);

fn new(title: &str, difficulty: Difficulty, prerequisites: Vec<Uuid>) -> NewScenario {
    NewScenario { prerequisites: Some(prerequisites), ..NewScenario::titled(title, difficulty) }
}

fn status(e: TrainingError) -> u16 {
    Problem::from(e).status
}

fn messages(e: TrainingError) -> Vec<(String, String)> {
    match e {
        TrainingError::Invalid(errors) => errors.into_iter().map(|e| (e.field, e.message)).collect(),
        other => panic!("not a validation error: {other:?}"),
    }
}

store_test!(prerequisites_exist_in_the_tenant_and_never_form_a_cycle, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let admin = op.admin().unwrap();
    let basics = create_scenario(store, admin, NOW, new("Basics", Difficulty::Starter, vec![])).await.unwrap();
    let refunds =
        create_scenario(store, admin, NOW, new("Refunds", Difficulty::Intermediate, vec![basics.id])).await.unwrap();
    let outage =
        create_scenario(store, admin, NOW, new("Outage", Difficulty::Advanced, vec![refunds.id])).await.unwrap();
    assert_eq!(outage.prerequisites, [refunds.id]);
    let both = create_scenario(store, admin, NOW, new("Both", Difficulty::Advanced, vec![refunds.id, basics.id]))
        .await
        .unwrap();
    assert_eq!(both.prerequisites, [refunds.id, basics.id], "kept in the order given");

    // unknown, another tenant's, repeated: refused and named
    let other = operator_in_new_tenant(store, "globex", NOW).await;
    let theirs =
        create_scenario(store, other.admin().unwrap(), NOW, new("Theirs", Difficulty::Starter, vec![])).await.unwrap();
    for prerequisites in [vec![Uuid::now_v7()], vec![theirs.id], vec![basics.id, basics.id]] {
        let refused =
            create_scenario(store, admin, NOW, new("Bad", Difficulty::Starter, prerequisites)).await.unwrap_err();
        assert_eq!(messages(refused)[0].0, "prerequisites");
    }

    // basics ← refunds ← outage; making basics need outage closes a cycle, named in order
    let patch = ScenarioPatch { prerequisites: Some(vec![outage.id]), ..ScenarioPatch::default() };
    let cycle = messages(update_scenario(store, admin, NOW, basics.id, None, patch).await.unwrap_err());
    let expected = format!("would form a cycle: {} → {} → {} → {}", basics.id, outage.id, refunds.id, basics.id);
    assert_eq!(cycle, [("prerequisites".to_owned(), expected)]);
    let own = ScenarioPatch { prerequisites: Some(vec![basics.id]), ..ScenarioPatch::default() };
    assert_eq!(status(update_scenario(store, admin, NOW, basics.id, None, own).await.unwrap_err()), 422);
    // an allowed change, then the audit trail has it
    let fine =
        ScenarioPatch { prerequisites: Some(vec![]), title: Some("Outage drill".into()), ..ScenarioPatch::default() };
    let changed = update_scenario(store, admin, NOW, outage.id, Some(1), fine).await.unwrap();
    assert_eq!((changed.version, changed.prerequisites.len()), (2, 0));
    let entries = audit::entries_for(store, &op, "scenario", &outage.id.to_string()).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["create", "update"]);
    assert_eq!(entries[1].old_values.as_ref().unwrap()["title"], "Outage");
    assert_eq!(
        status(update_scenario(store, admin, NOW, outage.id, Some(1), ScenarioPatch::default()).await.unwrap_err()),
        412
    );
});

store_test!(fields_are_checked_together_and_json_fields_have_their_kind, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let input = NewScenario {
        estimated_time: Some(0),
        xp_reward: Some(-1),
        ticket_template: Some(serde_json::json!([])),
        knowledge_base_entries: Some(serde_json::json!({})),
        assessment_criteria: Some(serde_json::json!({"weights": {"charm": 1}})),
        ..NewScenario::titled(" ", Difficulty::Starter)
    };
    let fields: Vec<String> = messages(create_scenario(store, op.admin().unwrap(), NOW, input).await.unwrap_err())
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(
        fields,
        [
            "title",
            "estimated_time",
            "xp_reward",
            "ticket_template",
            "knowledge_base_entries",
            "assessment_criteria.weights"
        ]
    );
    let huge = NewScenario {
        customer_persona: Some(serde_json::json!({"bio": "x".repeat(model::JSON_MAX_BYTES)})),
        ..new("Big", Difficulty::Starter, vec![])
    };
    assert_eq!(
        messages(create_scenario(store, op.admin().unwrap(), NOW, huge).await.unwrap_err())[0].0,
        "customer_persona"
    );
});

store_test!(the_performance_view_reads_indexes_even_before_analyze, |db| async move {
    // a trainee's view must cost the same with a history of ten sessions or ten thousand, whatever the planner knows
    let (tenant, user) = (crate::principal::TenantId::authenticated(Uuid::now_v7()), Uuid::now_v7());
    let params = |third: &Option<crate::store::Value>| {
        let mut p: Vec<crate::store::Value> = vec![tenant.into(), user.into()];
        p.extend(third.clone());
        p
    };
    let (limit, score) = (Some(10i64.into()), Some(crate::store::Value::F64(90.0)));
    let statements = [
        (repo::OPEN_AND_ABANDONED.to_owned(), None),
        (repo::TOTALS.to_owned(), None),
        (repo::best_sql(), None),
        (repo::recent_sql(), limit),
        // and what a resolution and a start read of the user's history
        (repo::AT_LEAST.to_owned(), score),
        (repo::COMPLETED_SCENARIOS.to_owned(), None),
    ];
    for (sql, third) in statements {
        if db.store.backend() == crate::store::Backend::Postgres {
            let mut tx = db.store.begin().await.unwrap();
            tx.execute("SET LOCAL plan_cache_mode = force_generic_plan", vec![]).await.unwrap();
            let plan: Vec<(String,)> = tx.query(format!("EXPLAIN {sql}"), params(&third)).await.unwrap();
            let plan: Vec<String> = plan.into_iter().map(|p| p.0).collect();
            assert!(!plan.iter().any(|l| l.contains("Seq Scan")), "{sql}: {plan:#?}");
            if sql.contains("ORDER BY") {
                assert!(
                    !plan.iter().any(|l| l.trim_start().starts_with("->  Sort") || l.starts_with("Sort")),
                    "{sql}: {plan:#?}"
                );
            }
        } else {
            let plan: Vec<(i64, i64, i64, String)> =
                db.store.query(format!("EXPLAIN QUERY PLAN {sql}"), params(&third)).await.unwrap();
            let steps: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
            assert!(steps.iter().all(|s| !s.starts_with("SCAN") && !s.contains("TEMP B-TREE")), "{sql}: {steps:?}");
            assert!(steps.iter().any(|s| s.contains("user_id=?")), "{sql}: {steps:?}");
        }
    }
});
