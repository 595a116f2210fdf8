use time::macros::datetime;

use super::*;
use crate::http::Problem;
use crate::permissions::GrantInput;
use crate::principal::{Actor, ActorKind, Principal, Role, TenantId};
use crate::store_test;
use crate::testing::operator_in_new_tenant;
use crate::users::{self, NewUser, Passwords};

const NOW: OffsetDateTime = datetime!(2026-12-02 12:00 UTC);

fn new_client(name: &str, cpf: &str) -> NewClient {
    NewClient { name: name.into(), cpf: cpf.into(), birth_date: "1987-04-23".into() }
}

fn status(e: ClientError) -> u16 {
    Problem::from(e).status
}

/// A signed-in user of role `user` in the operator's tenant.
async fn member(store: &Store, operator: &TenantScope, name: &str) -> TenantScope {
    let input = NewUser { username: Some(name.into()), ..NewUser::default() };
    let passwords = Passwords::from_config(&crate::config::Config::default());
    let id = users::create(store, operator.admin().unwrap(), &passwords, NOW, input).await.unwrap().id;
    let principal = Principal {
        kind: ActorKind::User,
        user_id: Some(id),
        api_key_id: None,
        session_id: None,
        tenant_id: TenantId::authenticated(operator.tenant_id().uuid()),
        role: Role::User,
    };
    let actor = Actor { kind: Some(ActorKind::User), user_id: Some(id), ..Actor::default() };
    TenantScope::for_principal(&principal, operator.tenant().clone(), actor).unwrap()
}

async fn audit_actions(store: &Store, scope: &TenantScope, id: Uuid) -> Vec<String> {
    let entries = audit::entries_for(store, scope, "client", &id.to_string()).await.unwrap();
    entries.into_iter().map(|e| e.action).collect()
}

store_test!(a_client_is_created_read_changed_deactivated_and_restored_with_its_trail, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let client = create(store, &op, NOW, new_client("  João da Silva ", "123.456.789-09")).await.unwrap();
    assert_eq!((client.name.as_str(), client.cpf.digits()), ("João da Silva", "12345678909"));
    assert_eq!(serde_json::to_value(&client).unwrap()["cpf"], "123.456.789-09");
    assert_eq!(client.created_by, None, "the operator is no user");

    assert_eq!(get(store, &op, NOW, client.id).await.unwrap(), client);
    let later = NOW + time::Duration::minutes(1);
    let patch = ClientPatch { name: Some("João Silva".into()), ..ClientPatch::default() };
    let changed = update(store, &op, later, client.id, Some(1), patch.clone()).await.unwrap();
    assert_eq!((changed.version, changed.name.as_str()), (2, "João Silva"));
    // the same patch again changes nothing and writes nothing
    assert_eq!(update(store, &op, later, client.id, None, patch).await.unwrap().version, 2);
    assert_eq!(status(update(store, &op, later, client.id, Some(1), ClientPatch::default()).await.unwrap_err()), 412);

    let gone = deactivate(store, &op, later, client.id, Some(2)).await.unwrap();
    assert!(!gone.is_active);
    assert_eq!(status(deactivate(store, &op, later, client.id, None).await.unwrap_err()), 409);
    let patch = ClientPatch { name: Some("Other".into()), ..ClientPatch::default() };
    assert_eq!(status(update(store, &op, later, client.id, None, patch).await.unwrap_err()), 409);
    let back = restore(store, &op, later, client.id, None).await.unwrap();
    assert_eq!((back.is_active, back.version), (true, 4));
    assert_eq!(status(restore(store, &op, later, client.id, None).await.unwrap_err()), 409);

    assert_eq!(audit_actions(store, &op, client.id).await, ["create", "read", "update", "delete", "restore"]);
    let entries = audit::entries_for(store, &op, "client", &client.id.to_string()).await.unwrap();
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains("12345678909") && !text.contains("123.456.789-09"), "{text}");
    assert_eq!(entries[0].new_values.as_ref().unwrap()["cpf"], "***.456.789-**");
    assert_eq!(entries[2].old_values, Some(serde_json::json!({"name": "João da Silva"})));
});

store_test!(a_cpf_belongs_to_one_active_client_and_restore_checks_it_again, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let first = create(store, &op, NOW, new_client("Ana Souza", "52998224725")).await.unwrap();
    let taken = create(store, &op, NOW, new_client("Bia Lima", "529.982.247-25")).await.unwrap_err();
    assert!(matches!(taken, ClientError::CpfTaken), "{taken:?}");
    assert!(!taken.to_string().contains("Ana"), "the other client is not named");
    // another tenant has its own registry
    let other = operator_in_new_tenant(store, "globex", NOW).await;
    create(store, &other, NOW, new_client("Ana Souza", "52998224725")).await.unwrap();

    deactivate(store, &op, NOW, first.id, None).await.unwrap();
    let second = create(store, &op, NOW, new_client("Bia Lima", "529.982.247-25")).await.unwrap();
    assert!(matches!(restore(store, &op, NOW, first.id, None).await.unwrap_err(), ClientError::CpfTaken));
    // a change onto a taken CPF is refused too
    let third = create(store, &op, NOW, new_client("Caio Reis", "11144477735")).await.unwrap();
    let patch = ClientPatch { cpf: Some("52998224725".into()), ..ClientPatch::default() };
    assert!(matches!(update(store, &op, NOW, third.id, None, patch).await.unwrap_err(), ClientError::CpfTaken));
    deactivate(store, &op, NOW, second.id, None).await.unwrap();
    assert!(restore(store, &op, NOW, first.id, None).await.unwrap().is_active);
    // the refused attempts left no entries
    assert_eq!(audit_actions(store, &op, third.id).await, ["create"]);
});

store_test!(search_finds_by_cpf_and_by_name_without_accents_in_pages, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let people = [
        ("João Pereira", "12345678909"),
        ("Joana Dark", "52998224725"),
        ("Mário João", "11144477735"),
        ("Ana 100% _real_", "98765432100"),
    ];
    let mut ids = Vec::new();
    for (name, cpf) in people {
        ids.push(create(store, &op, NOW, new_client(name, cpf)).await.unwrap().id);
    }
    let names = |page: &Page<Client>| page.items.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let search = |q: &str| ClientFilter { q: Some(q.into()), ..ClientFilter::default() };
    assert_eq!(names(&list(store, &op, NOW, &search("joao")).await.unwrap()), ["João Pereira", "Mário João"]);
    assert_eq!(names(&list(store, &op, NOW, &search("JOÃO P")).await.unwrap()), ["João Pereira"]);
    assert_eq!(names(&list(store, &op, NOW, &search("jo")).await.unwrap()).len(), 3);
    // LIKE's wildcards are matched as themselves
    assert_eq!(names(&list(store, &op, NOW, &search("100%")).await.unwrap()), ["Ana 100% _real_"]);
    assert!(list(store, &op, NOW, &search("_r_")).await.unwrap().items.is_empty());
    let by_cpf = ClientFilter { cpf: Some("529.982.247-25".into()), ..ClientFilter::default() };
    assert_eq!(names(&list(store, &op, NOW, &by_cpf).await.unwrap()), ["Joana Dark"]);
    let bad = ClientFilter { cpf: Some("529.982.247-26".into()), limit: Some(0), ..ClientFilter::default() };
    match list(store, &op, NOW, &bad).await.unwrap_err() {
        ClientError::Invalid(errors) => {
            let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["limit", "cpf"]);
        }
        other => panic!("{other:?}"),
    }

    // deactivated clients only when asked
    deactivate(store, &op, NOW, ids[1], None).await.unwrap();
    assert!(list(store, &op, NOW, &by_cpf).await.unwrap().items.is_empty());
    let with_inactive = ClientFilter { include_inactive: true, ..by_cpf.clone() };
    assert_eq!(list(store, &op, NOW, &with_inactive).await.unwrap().items.len(), 1);

    // pages of two, in name order, until the cursor runs out
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let filter = ClientFilter { limit: Some(2), cursor, include_inactive: true, ..ClientFilter::default() };
        let page = list(store, &op, NOW, &filter).await.unwrap();
        seen.extend(names(&page));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["Ana 100% _real_", "Joana Dark", "João Pereira", "Mário João"]);
    let broken = ClientFilter { cursor: Some("AAAA".into()), ..ClientFilter::default() };
    assert_eq!(status(list(store, &op, NOW, &broken).await.unwrap_err()), 422);
});

store_test!(users_need_a_live_grant_with_the_action, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let client = create(store, &op, NOW, new_client("Ana Souza", "52998224725")).await.unwrap();
    let ana = member(store, &op, "ana").await;
    let ana_id = ana.user_id().unwrap();
    assert_eq!(status(get(store, &ana, NOW, client.id).await.unwrap_err()), 403);
    assert_eq!(status(create(store, &ana, NOW, new_client("Bia Lima", "11144477735")).await.unwrap_err()), 403);

    let until = NOW + time::Duration::hours(1);
    let grant = GrantInput { can_read: true, expires_at: Some(until), ..GrantInput::default() };
    permissions::put_grant(store, &op, NOW, ana_id, AGENT, None, grant).await.unwrap();
    assert_eq!(get(store, &ana, NOW, client.id).await.unwrap().id, client.id);
    assert_eq!(list(store, &ana, NOW, &ClientFilter::default()).await.unwrap().items.len(), 1);
    // read is not update, nor delete
    let patch = ClientPatch { name: Some("Ana S.".into()), ..ClientPatch::default() };
    assert_eq!(status(update(store, &ana, NOW, client.id, None, patch).await.unwrap_err()), 403);
    assert_eq!(status(deactivate(store, &ana, NOW, client.id, None).await.unwrap_err()), 403);
    // at the instant of expiry the grant no longer counts, and the error says so
    let expired = get(store, &ana, until, client.id).await.unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
    assert_eq!(status(expired), 403);
    // a denied read leaves no read entry; the permitted ones did
    let reads = audit::entries_for(store, &op, "client", &client.id.to_string()).await.unwrap();
    let by_ana = reads.iter().filter(|e| e.action == "read" && e.actor_user_id == Some(ana_id)).count();
    assert_eq!(by_ana, 2);
});

store_test!(an_import_matches_on_cpf_and_changes_nothing_the_second_time, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let rows = || {
        [("Ana Souza", "52998224725"), ("Bia Lima", "111.444.777-35"), ("Ana Souza", "529.982.247-25")]
            .map(|(name, cpf)| validate(&new_client(name, cpf), NOW.date()).unwrap())
            .to_vec()
    };
    let counts = import_batch(store, &op, NOW, rows()).await.unwrap();
    assert_eq!(counts, ImportCounts { created: 2, updated: 0, unchanged: 1 });
    assert_eq!(import_batch(store, &op, NOW, rows()).await.unwrap(), ImportCounts { unchanged: 3, ..counts_zero() });
    let renamed = vec![validate(&new_client("Ana Souza Lima", "52998224725"), NOW.date()).unwrap()];
    assert_eq!(import_batch(store, &op, NOW, renamed).await.unwrap(), ImportCounts { updated: 1, ..counts_zero() });
    let all = list(store, &op, NOW, &ClientFilter::default()).await.unwrap();
    let names: Vec<_> = all.items.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Ana Souza Lima", "Bia Lima"]);
    // an import needs create and update
    let ana = member(store, &op, "ana").await;
    let grant = GrantInput { can_create: true, ..GrantInput::default() };
    permissions::put_grant(store, &op, NOW, ana.user_id().unwrap(), AGENT, None, grant).await.unwrap();
    assert_eq!(status(import_batch(store, &ana, NOW, rows()).await.unwrap_err()), 403);
});

fn counts_zero() -> ImportCounts {
    ImportCounts::default()
}

#[test]
fn a_new_client_hears_of_every_bad_field_at_once() {
    let input = NewClient { name: " 1 ".into(), cpf: "111.111.111-11".into(), birth_date: "3000-01-01".into() };
    let errors = validate(&input, NOW.date()).unwrap_err();
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "cpf", "birth_date"]);
    assert!(errors[1].message.contains("repeated"));
}

store_test!(the_registry_queries_search_an_index_even_before_analyze, |db| async move {
    // SQLite without statistics would rather walk a tenant's clients than an index, and so would PostgreSQL with
    // stale ones (autovacuum off, or behind) for a list of CPFs
    let tenant = TenantId::authenticated(Uuid::now_v7());
    if db.store.backend() == crate::store::Backend::Postgres {
        let (sql, params) = repo::by_cpfs_sql(crate::store::Backend::Postgres, tenant, &["52998224725"; 500], "");
        let mut tx = db.store.begin().await.unwrap();
        tx.execute("SET LOCAL plan_cache_mode = force_generic_plan", vec![]).await.unwrap();
        let plan: Vec<(String,)> = tx.query(format!("EXPLAIN {sql}"), params).await.unwrap();
        let plan: Vec<String> = plan.into_iter().map(|p| p.0).collect();
        assert!(plan.iter().any(|l| l.contains("Index Cond") && l.contains("AND (cpf = v.cpf))")), "{plan:#?}");
        assert!(!plan.iter().any(|l| l.contains("Hash") || l.contains("Seq Scan on clients")), "{plan:#?}");
        return;
    }
    let after = Some(("ana".to_owned(), Uuid::now_v7()));
    // (statement, whether it names a CPF: then it must search by it)
    let mut statements =
        vec![(repo::by_cpfs_sql(crate::store::Backend::Sqlite, tenant, &["52998224725"; 500], ""), true)];
    for cpf in [None, Some("52998224725")] {
        for part in [None, Some("ana")] {
            for include_inactive in [false, true] {
                for after in [None, after.clone()] {
                    statements.push((repo::list_sql(tenant, cpf, part, include_inactive, after, 50), cpf.is_some()));
                }
            }
        }
    }
    for ((sql, params), by_cpf) in statements {
        let plan: Vec<(i64, i64, i64, String)> =
            db.store.query(format!("EXPLAIN QUERY PLAN {sql}"), params).await.unwrap();
        let steps: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
        let walks = steps.iter().any(|s| s.contains("PRIMARY KEY (tenant_id=?)") || s.starts_with("SCAN c"));
        assert!(!walks, "{sql}: {steps:?}");
        if by_cpf {
            assert!(steps.iter().any(|s| s.contains("cpf=?")), "searches by CPF: {sql}: {steps:?}");
        }
    }
});
