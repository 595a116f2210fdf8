use time::macros::datetime;

use super::*;
use crate::principal::{Actor, TenantScope};
use crate::store::Backend;
use crate::store_test;
use crate::tenants::{self, NewTenant};

async fn tenant(store: &Store, slug: &str) -> TenantScope {
    let t = tenants::create(
        store,
        &crate::principal::Sysadmin::operator_unchecked(Actor::cli()),
        datetime!(2026-11-01 0:00 UTC),
        NewTenant { slug: slug.into(), name: slug.into(), external_id: None },
    )
    .await
    .unwrap();
    let actor = Actor { request_id: Some("req-1".into()), ip_address: Some("10.0.0.1".into()), ..Actor::cli() };
    TenantScope::operator_unchecked(t.as_ref(), actor)
}

async fn write(store: &Store, scope: &TenantScope, n: usize) {
    for i in 0..n {
        let mut tx = store.begin().await.unwrap();
        let change = Change::new(Action::Update, "thing", i)
            .values(Some(serde_json::json!({"n": i})), Some(serde_json::json!({"n": i + 1, "f": 0.5})));
        record(&mut tx, scope, datetime!(2026-11-02 0:00 UTC), change).await.unwrap();
        tx.commit().await.unwrap();
    }
}

/// What an attacker with database access would do: switch off the append-only triggers, then run `sql`.
async fn tamper(store: &Store, sql: &str) {
    let mut tx = store.begin().await.unwrap();
    match store.backend() {
        Backend::Sqlite => {
            tx.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").await.unwrap()
        }
        Backend::Postgres => tx.execute_batch("ALTER TABLE audit_log DISABLE TRIGGER USER").await.unwrap(),
    }
    tx.execute_batch(sql.to_owned()).await.unwrap();
    tx.commit().await.unwrap();
}

store_test!(an_untouched_chain_verifies, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    write(store, &scope, 5).await;
    let report = verify(store, &scope).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.entries_checked, 6, "tenant creation plus five changes");
    let entries = entries_for(store, &scope, "thing", "3").await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].request_id.as_deref(), Some("req-1"));
    assert_eq!(entries[0].ip_address.as_deref(), Some("10.0.0.1"));
    assert_eq!(entries[0].actor_kind, "cli");
});

store_test!(the_database_refuses_to_change_or_remove_entries, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    write(store, &scope, 1).await;
    let mut tx = store.begin().await.unwrap();
    let err = tx.execute("UPDATE audit_log SET action = 'read'", vec![]).await.unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let err = tx.execute("DELETE FROM audit_log", vec![]).await.unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    drop(tx);
    assert_eq!(count(store, &scope).await.unwrap(), 2);
});

store_test!(an_altered_entry_is_found, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    write(store, &scope, 5).await;
    tamper(store, "UPDATE audit_log SET resource_id = 'other' WHERE seq = 4").await;
    let report = verify(store, &scope).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad_seq, Some(4));
    assert!(report.reason.unwrap().contains("altered"));
});

store_test!(a_removed_entry_is_found, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    write(store, &scope, 5).await;
    tamper(store, "DELETE FROM audit_log WHERE seq = 3").await;
    let report = verify(store, &scope).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad_seq, Some(4), "the entry after the gap is the first that does not fit");
});

store_test!(a_removed_last_entry_is_found, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    write(store, &scope, 3).await;
    tamper(store, "DELETE FROM audit_log WHERE seq = 4").await;
    let report = verify(store, &scope).await.unwrap();
    assert!(!report.ok, "{report:?}");
    assert_eq!(report.first_bad_seq, Some(4));
});

store_test!(reordered_entries_are_found, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    write(store, &scope, 4).await;
    // swap the contents of entries 2 and 3, hashes and all
    tamper(
        store,
        "UPDATE audit_log SET seq = 100 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; \
         UPDATE audit_log SET seq = 3 WHERE seq = 100;",
    )
    .await;
    let report = verify(store, &scope).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad_seq, Some(2));
});

store_test!(chains_are_per_tenant, |db| async move {
    let store = &db.store;
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    write(store, &a, 3).await;
    write(store, &b, 2).await;
    tamper(
        store,
        "UPDATE audit_log SET action = 'read' WHERE seq = 2 \
         AND tenant_id IN (SELECT id FROM tenants WHERE slug = 'tenant-b')",
    )
    .await;
    assert!(verify(store, &a).await.unwrap().ok);
    assert!(!verify(store, &b).await.unwrap().ok);
});

#[test]
fn diff_names_only_changed_fields() {
    let (old, new) = diff(
        &serde_json::json!({"a": 1, "b": 2, "version": 1, "updated_at": "x"}),
        &serde_json::json!({"a": 1, "b": 3, "c": null, "version": 2, "updated_at": "y"}),
    );
    assert_eq!(old, serde_json::json!({"b": 2}));
    assert_eq!(new, serde_json::json!({"b": 3}));
}
