use time::macros::datetime;

use super::*;
use crate::audit::archive;
use crate::principal::{Actor, TenantScope};
use crate::store::{Backend, StoreOptions};
use crate::store_test;
use crate::tenants::{self, NewTenant};

/// The store of a server with a secret key: its entries are keyed.
fn keyed(store: &Store) -> Store {
    store.clone().with_chain_key(Some(ChainKey::new([9; 32])))
}

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
        Backend::Sqlite => tx
            .execute_batch("DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;")
            .await
            .unwrap(),
        Backend::Postgres => tx.execute_batch("ALTER TABLE audit_log DISABLE TRIGGER USER").await.unwrap(),
    }
    tx.execute_batch(sql.to_owned()).await.unwrap();
    tx.commit().await.unwrap();
}

store_test!(an_untouched_chain_verifies, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    write(store, &scope, 5).await;
    let report = verify(store, &scope, None).await.unwrap();
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
    let store = &keyed(&db.store);
    let scope = tenant(store, "acme").await;
    write(store, &scope, 5).await;
    tamper(store, "UPDATE audit_log SET resource_id = 'other' WHERE seq = 4").await;
    let report = verify(store, &scope, None).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad_seq, Some(4));
    assert!(report.reason.unwrap().contains("altered"));
});

store_test!(a_removed_entry_is_found, |db| async move {
    let store = &keyed(&db.store);
    let scope = tenant(store, "acme").await;
    write(store, &scope, 5).await;
    tamper(store, "DELETE FROM audit_log WHERE seq = 3").await;
    let report = verify(store, &scope, None).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad_seq, Some(4), "the entry after the gap is the first that does not fit");
});

store_test!(a_removed_last_entry_is_found, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    write(store, &scope, 3).await;
    tamper(store, "DELETE FROM audit_log WHERE seq = 4").await;
    let report = verify(store, &scope, None).await.unwrap();
    assert!(!report.ok, "{report:?}");
    assert_eq!(report.first_bad_seq, Some(4));
});

store_test!(reordered_entries_are_found, |db| async move {
    let store = &keyed(&db.store);
    let scope = tenant(store, "acme").await;
    write(store, &scope, 4).await;
    // swap the contents of entries 2 and 3, hashes and all
    tamper(
        store,
        "UPDATE audit_log SET seq = 100 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; \
         UPDATE audit_log SET seq = 3 WHERE seq = 100;",
    )
    .await;
    let report = verify(store, &scope, None).await.unwrap();
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
    assert!(verify(store, &a, None).await.unwrap().ok);
    assert!(!verify(store, &b, None).await.unwrap().ok);
});

/// What someone with the database but not the key can do: rewrite entries and recompute every seal after them (with
/// SHA-256, or with a key of their own), and the head with them.
async fn reseal_from(store: &Store, scope: &TenantScope, from_seq: i64, kind: MacKind, change: &str) {
    tamper(store, change).await;
    let entries = repo::entries_after(store, scope.tenant_id(), 0, 10_000).await.unwrap();
    let forged_key = ChainKey::new([7; 32]);
    let mut prev = entries.iter().find(|e| e.seq == from_seq - 1).map_or(vec![0; 32], |e| e.hash.clone());
    let mut tx = store.begin().await.unwrap();
    for mut entry in entries.into_iter().filter(|e| e.seq >= from_seq) {
        entry.prev_hash = prev.clone();
        entry.mac_kind = kind;
        entry.hash = seal(&entry, Some(&forged_key)).unwrap();
        prev = entry.hash.clone();
        tx.execute(
            "UPDATE audit_log SET prev_hash = $3, hash = $4, mac_kind = $5 WHERE tenant_id = $1 AND seq = $2",
            vec![
                entry.tenant_id.into(),
                entry.seq.into(),
                entry.prev_hash.into(),
                entry.hash.into(),
                kind.stored().into(),
            ],
        )
        .await
        .unwrap();
    }
    // the head follows, as far as one can move it without the key: its seal stays what it was
    let last = repo::head(store, scope.tenant_id()).await.unwrap().unwrap();
    let forged = key::Head { hash: prev, mac_kind: kind, ..last };
    repo::set_head(&mut tx, &forged).await.unwrap();
    tx.commit().await.unwrap();
}

store_test!(a_rewritten_keyed_chain_is_found_even_with_every_seal_recomputed, |db| async move {
    let store = &keyed(&db.store);
    for kind in [MacKind::Sha256, MacKind::Keyed] {
        let scope = tenant(store, &format!("acme-{}", kind.stored())).await;
        write(store, &scope, 5).await;
        let tenant = scope.tenant_id();
        let change = format!(
            "UPDATE audit_log SET resource_id = 'forged' WHERE seq = 3 AND tenant_id = {}",
            sql_id(store, tenant)
        );
        reseal_from(store, &scope, 3, kind, &change).await;
        let report = verify(store, &scope, None).await.unwrap();
        assert!(!report.ok, "{kind:?}: {report:?}");
        assert_eq!(report.first_bad_seq, Some(3), "{kind:?}");
        let reason = report.reason.unwrap();
        let expected = if kind == MacKind::Sha256 { "unkeyed entry after keyed ones" } else { "altered" };
        assert!(reason.contains(expected), "{kind:?}: {reason}");
    }
});

/// A tenant id as an SQL literal of the backend.
fn sql_id(store: &Store, tenant: TenantId) -> String {
    match store.backend() {
        Backend::Sqlite => format!("X'{}'", tenant.uuid().simple()),
        Backend::Postgres => format!("'{}'", tenant.uuid()),
    }
}

store_test!(an_inserted_copy_of_a_genuine_entry_is_found, |db| async move {
    let store = &keyed(&db.store);
    let scope = tenant(store, "acme").await;
    write(store, &scope, 4).await;
    // make room at 3 and replay entry 2 there, seal and all
    let id = sql_id(store, scope.tenant_id());
    tamper(
        store,
        &format!(
            "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3 AND tenant_id = {id}; \
             UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100 AND tenant_id = {id}; \
             INSERT INTO audit_log SELECT tenant_id, 3, id, occurred_at, actor_kind, actor_user_id, actor_api_key_id, \
               action, resource_type, resource_id, old_values, new_values, ip_address, user_agent, session_id, \
               request_id, prev_hash, hash, mac_kind FROM audit_log WHERE seq = 2 AND tenant_id = {id}; \
             UPDATE audit_heads SET seq = seq + 1 WHERE tenant_id = {id};"
        ),
    )
    .await;
    let report = verify(store, &scope, None).await.unwrap();
    assert!(!report.ok, "{report:?}");
    assert_eq!(report.first_bad_seq, Some(3));
    assert!(report.reason.unwrap().contains("does not follow"));
});

store_test!(a_replayed_head_row_is_found_only_against_a_checkpoint, |db| async move {
    let store = &keyed(&db.store);
    let scope = tenant(store, "acme").await;
    write(store, &scope, 5).await;
    let operator = crate::principal::Sysadmin::operator_unchecked(Actor::cli());
    let at = datetime!(2026-11-03 0:00 UTC);
    let checkpoint = checkpoints(store, &operator, at)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.tenant_id == scope.tenant_id().uuid())
        .unwrap();
    assert_eq!(checkpoint.entries, 6);
    let report = verify(store, &scope, Some(&checkpoint)).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.last_seq, report.last_mac.as_deref()), (6, Some(checkpoint.head_mac.as_str())));
    write(store, &scope, 2).await;
    assert!(verify(store, &scope, Some(&checkpoint)).await.unwrap().ok, "a chain that grew since is fine");

    // the last three entries go, and the head is set back to what is left: its seal no longer holds
    let id = sql_id(store, scope.tenant_id());
    let sealed_at_8 = repo::head(store, scope.tenant_id()).await.unwrap().unwrap();
    tamper(store, &format!("DELETE FROM audit_log WHERE seq > 5 AND tenant_id = {id}")).await;
    let fifth = repo::entries_after(store, scope.tenant_id(), 4, 1).await.unwrap().remove(0);
    let moved_back = key::Head { seq: 5, hash: fifth.hash.clone(), mac_kind: MacKind::Keyed, ..sealed_at_8 };
    set_head_row(store, &moved_back).await;
    let report = verify(store, &scope, None).await.unwrap();
    assert!(!report.ok, "a head moved back without the key shows without a checkpoint: {report:?}");
    assert!(report.reason.as_deref().unwrap_or_default().contains("does not match its seal"), "{report:?}");

    // a head row kept from when the chain was at entry 5 and put back whole, seal and all, looks genuine: only a
    // checkpoint taken later than it sees the cut
    let at_5 = key::Head {
        seq: 5,
        hash: fifth.hash.clone(),
        mac_kind: MacKind::Keyed,
        unkeyed_through: 0,
        head_mac: None,
        tenant_id: scope.tenant_id().uuid(),
    };
    let replayed = key::Head { head_mac: Some(at_5.mac(store.chain_key().unwrap())), ..at_5 };
    set_head_row(store, &replayed).await;
    assert!(verify(store, &scope, None).await.unwrap().ok, "a replayed head row needs a checkpoint to show");
    let report = verify(store, &scope, Some(&checkpoint)).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad_seq, Some(6));
    assert!(report.reason.as_deref().unwrap_or_default().contains("cut off"), "{report:?}");
});

/// Put a head row as it is given: what someone with the database can do (and, holding an old row, replay).
async fn set_head_row(store: &Store, head: &key::Head) {
    let mut tx = store.begin().await.unwrap();
    tx.execute("UPDATE audit_heads SET seq = $2 WHERE tenant_id = $1", vec![head.tenant_id.into(), head.seq.into()])
        .await
        .unwrap();
    repo::set_head(&mut tx, head).await.unwrap();
    tx.commit().await.unwrap();
}

store_test!(a_keyed_chain_is_not_written_or_checked_without_the_key, |db| async move {
    let store = &keyed(&db.store);
    let scope = tenant(store, "acme").await;
    write(store, &scope, 1).await;
    let keyless = db.store.clone().with_chain_key(None);
    let mut tx = keyless.begin().await.unwrap();
    // refused when the append runs: at once on PostgreSQL, at commit on SQLite (where it runs on the writer)
    let error =
        match record(&mut tx, &scope, datetime!(2026-11-02 0:00 UTC), Change::new(Action::Update, "thing", 1)).await {
            Err(error) => error,
            Ok(()) => tx.commit().await.unwrap_err(),
        };
    assert!(matches!(error, StoreError::Refused(_)), "{error}");
    let report = verify(&keyless, &scope, None).await.unwrap();
    assert!(!report.ok);
    assert!(report.reason.unwrap().contains("does not have"));
    let wrong = db.store.clone().with_chain_key(Some(ChainKey::new([1; 32])));
    assert_eq!(verify(&wrong, &scope, None).await.unwrap().first_bad_seq, Some(1), "another key sees altered entries");
});

store_test!(an_unkeyed_chain_upgraded_by_migration_13_stays_verifiable_and_turns_keyed, |db| async move {
    let keyless = &db.store;
    let scope = tenant(keyless, "acme").await;
    write(keyless, &scope, 3).await;
    let migrations = crate::migrations();
    let migrator = crate::migrate::Migrator::new(keyless, &migrations);
    let above_12: Vec<i64> = migrations.iter().map(|m| m.version).filter(|v| *v > 12).collect();
    assert_eq!(migrator.down_to(12).await.unwrap(), above_12.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(migrator.up(None).await.unwrap(), above_12, "the entries of migration 2's format, upgraded");
    let store = &keyed(keyless);
    let report = verify(store, &scope, None).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.unkeyed_entries, report.entries_checked), (4, 4));
    write(store, &scope, 2).await;
    let report = verify(store, &scope, None).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.unkeyed_entries, report.entries_checked), (4, 6));
    // the old prefix is held by the first keyed entry: rewriting it, seals and all, shows
    let change = format!(
        "UPDATE audit_log SET resource_id = 'forged' WHERE seq = 2 AND tenant_id = {}",
        sql_id(store, scope.tenant_id())
    );
    tamper(store, &change).await;
    let entries = repo::entries_after(store, scope.tenant_id(), 0, 100).await.unwrap();
    let mut prev = entries[0].hash.clone();
    let mut tx = store.begin().await.unwrap();
    for mut entry in entries.into_iter().filter(|e| (2..=4).contains(&e.seq)) {
        entry.prev_hash = prev;
        entry.hash = seal(&entry, None).unwrap();
        prev = entry.hash.clone();
        tx.execute(
            "UPDATE audit_log SET prev_hash = $3, hash = $4 WHERE tenant_id = $1 AND seq = $2",
            vec![entry.tenant_id.into(), entry.seq.into(), entry.prev_hash.into(), entry.hash.into()],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let report = verify(store, &scope, None).await.unwrap();
    assert_eq!(report.first_bad_seq, Some(5), "{report:?}");
    // and an older binary cannot be given keyed entries: going below 13 is refused
    let error = migrator.down_to(12).await.unwrap_err();
    assert!(error.to_string().contains("keyed entries"), "{error}");
});

/// Two server processes on one database (two pools, as two processes would have), writing to one tenant at once.
async fn two_writers(backend: Backend) {
    let Some(db) = crate::testing::TestDb::of(backend).await else { return };
    let first = keyed(&db.store);
    let second = keyed(&Store::connect(&db.url, &StoreOptions::default()).await.unwrap());
    let scope = tenant(&first, "acme").await;
    let mut writers = Vec::new();
    for store in [first.clone(), second.clone()] {
        for _ in 0..4 {
            let (store, scope) = (store.clone(), scope.clone());
            writers.push(tokio::spawn(async move { write(&store, &scope, 25).await }));
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }
    for store in [&first, &second] {
        let report = verify(store, &scope, None).await.unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.entries_checked, 201);
    }
}
crate::backend_test!(the_chain_stays_whole_under_concurrent_writers_of_two_processes, two_writers);

#[test]
fn diff_names_only_changed_fields() {
    let (old, new) = diff(
        &serde_json::json!({"a": 1, "b": 2, "version": 1, "updated_at": "x"}),
        &serde_json::json!({"a": 1, "b": 3, "c": null, "version": 2, "updated_at": "y"}),
    );
    assert_eq!(old, serde_json::json!({"b": 2}));
    assert_eq!(new, serde_json::json!({"b": 3}));
}

async fn write_at(store: &Store, scope: &TenantScope, n: usize, at: time::OffsetDateTime) {
    for i in 0..n {
        let mut tx = store.begin().await.unwrap();
        let change = Change::new(Action::Update, "thing", i).values(None, Some(serde_json::json!({"n": i})));
        record(&mut tx, scope, at, change).await.unwrap();
        tx.commit().await.unwrap();
    }
}

store_test!(
    archived_entries_leave_a_file_that_verifies_alone_and_a_chain_that_verifies_from_its_anchor,
    |db| async move {
        let store = &keyed(&db.store);
        let scope = tenant(store, "acme").await;
        write(store, &scope, 5).await; // 2026-11-02
        write_at(store, &scope, 3, datetime!(2026-11-10 0:00 UTC)).await;
        let operator = crate::principal::Sysadmin::operator_unchecked(Actor::cli());
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first.ndjson");
        let now = datetime!(2026-12-01 0:00 UTC);
        let report =
            archive::archive(store, &operator, &scope, datetime!(2026-11-05 0:00 UTC), now, &first).await.unwrap();
        assert_eq!((report.from_seq, report.to_seq, report.entries), (1, 6, 6));
        assert_eq!(count(store, &scope).await.unwrap(), 4, "three newer entries and the archive's own");
        let verified = verify(store, &scope, None).await.unwrap();
        assert!(verified.ok, "{verified:?}");
        assert_eq!((verified.archived_through, verified.entries_checked), (Some(6), 4));
        let file = archive::verify_file(&operator, &first, store.chain_key(), Some(store)).await.unwrap();
        assert!(file.ok, "{file:?}");
        assert_eq!(
            (file.entries, file.anchored, file.file_sha256.clone()),
            (6, Some(true), report.file_sha256.clone())
        );

        // nothing older is left; the file is never overwritten
        let again =
            archive::archive(store, &operator, &scope, datetime!(2026-11-05 0:00 UTC), now, &dir.path().join("x"))
                .await;
        assert!(matches!(again, Err(AuditError::Invalid(_))), "{again:?}");
        let existing = archive::archive(store, &operator, &scope, now, now, &first).await;
        assert!(matches!(existing, Err(AuditError::File { .. })), "{existing:?}");
        assert!(archive::verify_file(&operator, &first, store.chain_key(), Some(store)).await.unwrap().ok);

        // a second archive continues from the first's end, and verifies alone too
        let second = dir.path().join("second.ndjson");
        let report = archive::archive(store, &operator, &scope, now, now, &second).await.unwrap();
        assert_eq!((report.from_seq, report.to_seq), (7, 9), "the first archive's own entry is not older than `now`");
        assert!(archive::verify_file(&operator, &second, store.chain_key(), Some(store)).await.unwrap().ok);
        let verified = verify(store, &scope, None).await.unwrap();
        assert!(verified.ok, "{verified:?}");
        assert_eq!((verified.archived_through, verified.entries_checked), (Some(9), 2));
        assert_eq!(
            archive::verify_file(&operator, &first, store.chain_key(), Some(store)).await.unwrap().anchored,
            Some(true)
        );

        // entries the anchor does not cover still cannot be removed
        let mut tx = store.begin().await.unwrap();
        let err = tx.execute("DELETE FROM audit_log WHERE seq > 9", vec![]).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        drop(tx);

        // an edited line and a cut-off file are found
        let text = std::fs::read_to_string(&first).unwrap();
        let edited = dir.path().join("edited.ndjson");
        std::fs::write(&edited, text.replacen("\"resource_id\":\"2\"", "\"resource_id\":\"9\"", 1)).unwrap();
        let check = archive::verify_file(&operator, &edited, store.chain_key(), Some(store)).await.unwrap();
        assert!(!check.ok);
        assert_eq!((check.first_bad_seq, check.anchored), (Some(4), Some(false)), "{check:?}");
        let cut = dir.path().join("cut.ndjson");
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&cut, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
        let check = archive::verify_file(&operator, &cut, store.chain_key(), None).await.unwrap();
        assert!(!check.ok && check.reason.unwrap().contains("header says 6"), "cut off");
    }
);

store_test!(a_forged_anchor_is_found, |db| async move {
    let store = &keyed(&db.store);
    let scope = tenant(store, "acme").await;
    write(store, &scope, 5).await;
    // someone with the database anchors entries 1 to 3 without the key, and removes them
    let id = sql_id(store, scope.tenant_id());
    let third = repo::entries_after(store, scope.tenant_id(), 2, 1).await.unwrap().remove(0);
    let mut tx = store.begin().await.unwrap();
    tx.execute(
        "INSERT INTO audit_anchors (tenant_id, seq, hash, mac_kind, archived_at, file_sha256) VALUES ($1, 3, $2, 0, $3, 'x')",
        vec![scope.tenant_id().into(), third.hash.into(), datetime!(2026-11-03 0:00 UTC).into()],
    )
    .await
    .unwrap();
    tx.execute_batch(format!("DELETE FROM audit_log WHERE seq <= 3 AND tenant_id = {id}")).await.unwrap();
    tx.commit().await.unwrap();
    let report = verify(store, &scope, None).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad_seq, Some(3));
    assert!(report.reason.unwrap().contains("forged anchor"));
});

store_test!(entries_written_alone_share_commits_and_one_callers_failure_is_its_own, |db| async move {
    let store = db.store.clone();
    let sealed = tenant(&keyed(&store), "sealed").await;
    let open = tenant(&store, "open").await;
    let at = datetime!(2026-11-02 0:00 UTC);
    // many callers at once, in both tenants, through a store without the key: the sealed tenant's entries are refused
    // (an unkeyed entry may not follow keyed ones), the open tenant's are all written
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (store, scope) = (store.clone(), if i % 3 == 0 { sealed.clone() } else { open.clone() });
        tasks.push(tokio::spawn(async move {
            let changes = vec![Change::new(Action::Read, "client", i), Change::new(Action::Read, "client", i + 1000)];
            let result = record_alone(&store, scope.tenant_id(), scope.actor(), at, changes).await;
            (scope.tenant().slug.clone(), result.is_ok())
        }));
    }
    let mut outcomes = std::collections::BTreeMap::<(String, bool), usize>::new();
    for task in tasks {
        *outcomes.entry(task.await.unwrap()).or_default() += 1;
    }
    assert_eq!(outcomes, [(("open".to_owned(), true), 40), (("sealed".to_owned(), false), 20)].into_iter().collect());
    assert_eq!(count(&store, &open).await.unwrap(), 1 + 80, "the tenant's creation, then two entries per caller");
    assert_eq!(count(&store, &sealed).await.unwrap(), 1);
    let report = verify(&store, &open, None).await.unwrap();
    assert!(report.ok, "{report:?}");
    // with the key, the sealed tenant takes them; each entry keeps its caller's actor
    record_alone(&keyed(&store), sealed.tenant_id(), sealed.actor(), at, vec![Change::new(Action::Read, "client", 1)])
        .await
        .unwrap();
    let entries = entries_for(&store, &sealed, "client", "1").await.unwrap();
    assert_eq!((entries.len(), entries[0].request_id.as_deref()), (1, Some("req-1")));
    assert!(verify(&keyed(&store), &sealed, None).await.unwrap().ok);
});

/// A keyed store as a server has it: its key checked against the database (recorded on a database never written).
async fn bound(store: &Store) -> Store {
    let store = keyed(store);
    let found = check_key(&store, datetime!(2026-11-01 0:00 UTC)).await.unwrap();
    assert!(matches!(found, KeyCheck::Recorded | KeyCheck::Matches), "{found:?}");
    store
}

/// The whole chain resealed as unkeyed by someone without the key, one entry left out, the head moved to its end:
/// what verification used to accept as a chain from before keys. `head_mac` says what is left in the head's seal.
async fn reseal_all_unkeyed(store: &Store, scope: &TenantScope, left_out: i64, head_mac: Option<Vec<u8>>) {
    let id = sql_id(store, scope.tenant_id());
    tamper(
        store,
        &format!(
            "DELETE FROM audit_log WHERE seq = {left_out} AND tenant_id = {id}; \
             UPDATE audit_log SET seq = seq + 1000 WHERE seq > {left_out} AND tenant_id = {id}; \
             UPDATE audit_log SET seq = seq - 1001 WHERE seq > 1000 AND tenant_id = {id};"
        ),
    )
    .await;
    let entries = repo::entries_after(store, scope.tenant_id(), 0, 10_000).await.unwrap();
    let mut prev = vec![0; 32];
    let mut tx = store.begin().await.unwrap();
    for mut entry in entries {
        entry.prev_hash = prev.clone();
        entry.mac_kind = MacKind::Sha256;
        entry.hash = seal(&entry, None).unwrap();
        prev = entry.hash.clone();
        tx.execute(
            "UPDATE audit_log SET prev_hash = $3, hash = $4, mac_kind = 0 WHERE tenant_id = $1 AND seq = $2",
            vec![entry.tenant_id.into(), entry.seq.into(), entry.prev_hash.into(), entry.hash.into()],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let last = repo::head(store, scope.tenant_id()).await.unwrap().unwrap();
    let seq = last.seq - 1;
    let forged = key::Head { seq, hash: prev, mac_kind: MacKind::Sha256, unkeyed_through: seq, head_mac, ..last };
    set_head_row(store, &forged).await;
}

store_test!(a_keyed_chain_resealed_as_unkeyed_with_its_head_moved_is_found, |db| async move {
    let store = &bound(&db.store).await;
    for (n, left) in ["unsealed", "with its old seal"].into_iter().enumerate() {
        let scope = tenant(store, &format!("acme-{n}")).await;
        write(store, &scope, 10).await;
        let old_seal = repo::head(store, scope.tenant_id()).await.unwrap().unwrap().head_mac;
        reseal_all_unkeyed(store, &scope, 6, if n == 0 { None } else { old_seal }).await;
        // this process, and a new one that opens the database with the key
        let fresh = keyed(&Store::connect(&db.url, &StoreOptions::default()).await.unwrap());
        check_key(&fresh, datetime!(2026-11-02 0:00 UTC)).await.unwrap();
        for verifier in [store, &fresh] {
            let report = verify(verifier, &scope, None).await.unwrap();
            assert!(!report.ok, "{left}: {report:?}");
            assert_eq!(report.first_bad_seq, Some(10), "{left}: the head is what does not fit: {report:?}");
            let reason = report.reason.unwrap();
            assert!(reason.contains("not sealed") || reason.contains("does not match its seal"), "{left}: {reason}");
        }
        // and nothing more is sealed onto it
        let mut tx = store.begin().await.unwrap();
        let error =
            match record(&mut tx, &scope, datetime!(2026-11-02 0:00 UTC), Change::new(Action::Update, "x", 1)).await {
                Err(error) => error,
                Ok(()) => tx.commit().await.unwrap_err(),
            };
        assert!(error.to_string().contains("cannot be extended"), "{left}: {error}");
    }
    // the fingerprint removed as well, so the database looks as if it never had a key: this process knows better,
    // and a new process refuses to open it instead of trusting what it finds
    let scope = tenant(store, "acme-gone").await;
    write(store, &scope, 3).await;
    reseal_all_unkeyed(store, &scope, 2, None).await;
    tamper(store, "DELETE FROM secret_key_fingerprint").await;
    let report = verify(store, &scope, None).await.unwrap();
    assert!(report.reason.unwrap_or_default().contains("fingerprint was removed"));
    let fresh = keyed(&Store::connect(&db.url, &StoreOptions::default()).await.unwrap());
    let error = check_key(&fresh, datetime!(2026-11-02 0:00 UTC)).await.unwrap_err();
    assert!(matches!(error, KeyErrorOrStore::Key(KeyError::NotAdopted { .. })), "{error}");
});

store_test!(a_wiped_chain_and_a_cut_tail_fail_without_a_checkpoint, |db| async move {
    let store = &bound(&db.store).await;
    let wiped = tenant(store, "wiped").await;
    write(store, &wiped, 4).await;
    let id = sql_id(store, wiped.tenant_id());
    tamper(
        store,
        &format!("DELETE FROM audit_log WHERE tenant_id = {id}; DELETE FROM audit_heads WHERE tenant_id = {id}"),
    )
    .await;
    let report = verify(store, &wiped, None).await.unwrap();
    assert!(!report.ok);
    assert!(report.reason.unwrap().contains("no audit chain head"));

    let cut = tenant(store, "cut").await;
    write(store, &cut, 6).await;
    let id = sql_id(store, cut.tenant_id());
    tamper(store, &format!("DELETE FROM audit_log WHERE seq > 4 AND tenant_id = {id}")).await;
    let fourth = repo::entries_after(store, cut.tenant_id(), 3, 1).await.unwrap().remove(0);
    let head = repo::head(store, cut.tenant_id()).await.unwrap().unwrap();
    // moved back with the seal it had, and with no seal at all
    for head_mac in [head.head_mac.clone(), None] {
        set_head_row(store, &key::Head { seq: 4, hash: fourth.hash.clone(), head_mac, ..head.clone() }).await;
        let report = verify(store, &cut, None).await.unwrap();
        assert!(!report.ok, "{report:?}");
        assert_eq!(report.first_bad_seq, Some(4));
    }
});

store_test!(the_database_keeps_its_keys_fingerprint_and_refuses_another_key, |db| async move {
    let at = datetime!(2026-11-01 0:00 UTC);
    let store = &bound(&db.store).await;
    let scope = tenant(store, "acme").await;
    write(store, &scope, 2).await;
    let again = keyed(&Store::connect(&db.url, &StoreOptions::default()).await.unwrap());
    assert_eq!(check_key(&again, at).await.unwrap(), KeyCheck::Matches);
    let other = db.store.clone().with_chain_key(Some(ChainKey::new([1; 32])));
    let error = check_key(&other, at).await.unwrap_err().to_string();
    assert!(
        error.contains("another secret key") && error.contains(&key::show(&key::fingerprint(&ChainKey::new([9; 32])))),
        "{error}"
    );
    assert!(!error.contains(&hex(&[9; 32])), "the key itself never shows");
    let keyless = db.store.clone().with_chain_key(None);
    assert!(check_key(&keyless, at).await.unwrap_err().to_string().contains("this process has none"));
    // verify names the key, instead of reporting altered entries
    let report = verify(&other, &scope, None).await.unwrap();
    assert!(report.reason.unwrap().starts_with("key mismatch"), "another key is named as such");
    // and a store that skipped the check still cannot seal onto the chain
    let mut tx = other.begin().await.unwrap();
    let error = match record(&mut tx, &scope, at, Change::new(Action::Update, "x", 1)).await {
        Err(error) => error,
        Ok(()) => tx.commit().await.unwrap_err(),
    };
    assert!(error.to_string().contains("does not match its seal"), "{error}");
});

store_test!(a_database_written_without_a_key_is_adopted_once, |db| async move {
    let at = datetime!(2026-11-01 0:00 UTC);
    let keyless = &db.store;
    assert_eq!(check_key(keyless, at).await.unwrap(), KeyCheck::Keyless);
    let scope = tenant(keyless, "acme").await;
    write(keyless, &scope, 3).await;
    let store = &keyed(keyless);
    let error = check_key(store, at).await.unwrap_err();
    assert!(matches!(error, KeyErrorOrStore::Key(KeyError::NotAdopted { entries: 4 })), "{error}");
    let operator = crate::principal::Sysadmin::operator_unchecked(Actor::cli());
    let adopted = key::adopt(store, &operator, at).await.unwrap();
    assert_eq!((adopted.chains, adopted.unkeyed_entries), (1, 4));
    assert!(key::adopt(store, &operator, at).await.unwrap_err().to_string().contains("already sealed"));
    assert_eq!(check_key(store, at).await.unwrap(), KeyCheck::Matches);
    write(store, &scope, 2).await;
    let report = verify(store, &scope, None).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.unkeyed_entries, report.entries_checked), (4, 6));
    // the adopted prefix ends where it was: an unkeyed entry after it is refused
    let change = format!(
        "UPDATE audit_log SET resource_id = 'forged' WHERE seq = 6 AND tenant_id = {}",
        sql_id(store, scope.tenant_id())
    );
    reseal_from(store, &scope, 6, MacKind::Sha256, &change).await;
    let report = verify(store, &scope, None).await.unwrap();
    assert_eq!(report.first_bad_seq, Some(6), "{report:?}");
});

store_test!(an_upgrade_by_a_keyed_process_seals_the_heads_it_finds, |db| async move {
    let at = datetime!(2026-11-01 0:00 UTC);
    let store = &keyed(&db.store);
    let scope = tenant(store, "acme").await;
    write(store, &scope, 3).await;
    let migrations = crate::migrations();
    let migrator = crate::migrate::Migrator::new(store, &migrations);
    assert_eq!(migrator.down_to(20).await.unwrap(), vec![21]);
    assert_eq!(migrator.up(None).await.unwrap(), vec![21]);
    let head = repo::head(store, scope.tenant_id()).await.unwrap().unwrap();
    assert_eq!(head.head_mac, Some(head.mac(store.chain_key().unwrap())), "sealed by the upgrade");
    assert_eq!(head.unkeyed_through, 0, "a chain keyed from its start has no unkeyed prefix");
    assert_eq!(check_key(store, at).await.unwrap(), KeyCheck::Matches, "the upgrade recorded the key");
    assert!(verify(store, &scope, None).await.unwrap().ok);
});
