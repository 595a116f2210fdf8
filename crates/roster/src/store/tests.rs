use time::macros::datetime;
use uuid::Uuid;

use super::*;

type Nullable = (Option<i64>, Option<f64>, Option<bool>, Option<String>, Option<Vec<u8>>);
use crate::store_test;

async fn scratch_table(store: &Store) {
    let ddl = match store.backend() {
        Backend::Sqlite => {
            "CREATE TABLE scratch (id INTEGER PRIMARY KEY, i INTEGER, f REAL, b INTEGER, t TEXT, bin BLOB, u BLOB, \
             ts INTEGER, j TEXT)"
        }
        Backend::Postgres => {
            "CREATE TABLE scratch (id BIGINT PRIMARY KEY, i BIGINT, f DOUBLE PRECISION, b BOOLEAN, t TEXT, bin BYTEA, \
             u UUID, ts TIMESTAMPTZ, j JSONB)"
        }
    };
    let mut tx = store.begin().await.unwrap();
    tx.execute_batch(ddl).await.unwrap();
    tx.commit().await.unwrap();
}

async fn count_tenants(store: &Store) -> i64 {
    store.query_one::<(i64,)>("SELECT COUNT(*) FROM tenants", vec![]).await.unwrap().0
}

async fn insert_tenant(tx: &mut Tx, slug: &str) -> Result<u64, StoreError> {
    let now = datetime!(2026-01-01 0:00 UTC);
    tx.execute(
        "INSERT INTO tenants (id, slug, name, status, created_at, updated_at, version) VALUES ($1, $2, $3, 'active', $4, $4, 1)",
        vec![Uuid::now_v7().into(), slug.into(), "Tenant".into(), now.into()],
    )
    .await
}

store_test!(every_value_type_round_trips, |db| async move {
    let store = &db.store;
    scratch_table(store).await;
    let u = Uuid::now_v7();
    let ts = datetime!(2026-11-22 10:11:12.123456 UTC);
    let j = serde_json::json!({"a": [1, 2, {"b": null}], "ç": "ünïcode"});
    let mut tx = store.begin().await.unwrap();
    tx.execute(
        "INSERT INTO scratch (id, i, f, b, t, bin, u, ts, j) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            1i64.into(),
            (-42i64).into(),
            1.5f64.into(),
            true.into(),
            "tëxt".into(),
            vec![0u8, 1, 255].into(),
            u.into(),
            ts.into(),
            j.clone().into(),
        ],
    )
    .await
    .unwrap();
    let nulls = vec![Value::Null; 8];
    let mut params = vec![Value::I64(2)];
    params.extend(nulls);
    tx.execute(
        "INSERT INTO scratch (id, i, f, b, t, bin, u, ts, j) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let (i, f, b, t, bin): (i64, f64, bool, String, Vec<u8>) =
        store.query_one("SELECT i, f, b, t, bin FROM scratch WHERE id = $1", vec![1i64.into()]).await.unwrap();
    assert_eq!((i, f, b, t.as_str(), bin), (-42, 1.5, true, "tëxt", vec![0, 1, 255]));
    let (got_u, got_ts, got_j): (Uuid, time::OffsetDateTime, serde_json::Value) =
        store.query_one("SELECT u, ts, j FROM scratch WHERE id = $1", vec![1i64.into()]).await.unwrap();
    assert_eq!((got_u, got_ts, got_j), (u, ts, j));
    let nulls: Nullable =
        store.query_one("SELECT i, f, b, t, bin FROM scratch WHERE id = $1", vec![2i64.into()]).await.unwrap();
    assert_eq!(nulls, (None, None, None, None, None));
    let nulls: (Option<Uuid>, Option<time::OffsetDateTime>, Option<serde_json::Value>) =
        store.query_one("SELECT u, ts, j FROM scratch WHERE id = $1", vec![2i64.into()]).await.unwrap();
    assert_eq!(nulls, (None, None, None));
});

store_test!(parameters_bind_by_number_not_by_position, |db| async move {
    let row: (String, String, String) = db
        .store
        .query_one("SELECT CAST($2 AS TEXT), CAST($1 AS TEXT), CAST($2 AS TEXT)", vec!["first".into(), "second".into()])
        .await
        .unwrap();
    assert_eq!(row, ("second".into(), "first".into(), "second".into()));
});

store_test!(a_dropped_transaction_rolls_back, |db| async move {
    let store = &db.store;
    let mut tx = store.begin().await.unwrap();
    insert_tenant(&mut tx, "gone").await.unwrap();
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    insert_tenant(&mut tx, "kept").await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    insert_tenant(&mut tx, "rolled-back").await.unwrap();
    tx.rollback().await.unwrap();
    let slugs: Vec<(String,)> = store.query("SELECT slug FROM tenants ORDER BY slug", vec![]).await.unwrap();
    assert_eq!(slugs, vec![("kept".to_owned(),)]);
});

store_test!(unique_violations_are_reported_as_such, |db| async move {
    let store = &db.store;
    let mut tx = store.begin().await.unwrap();
    insert_tenant(&mut tx, "twice").await.unwrap();
    let err = insert_tenant(&mut tx, "twice").await.unwrap_err();
    assert!(err.unique_violation().is_some_and(|what| what.contains("slug")), "{err:?}");
});

store_test!(concurrent_writers_never_see_busy_errors, |db| async move {
    let store = db.store.clone();
    let mut tasks = Vec::new();
    for writer in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..25 {
                let mut tx = store.begin().await?;
                insert_tenant(&mut tx, &format!("w{writer}-{n}")).await?;
                // a read inside the transaction, to hold it across an await
                tx.query::<(i64,)>("SELECT COUNT(*) FROM tenants", vec![]).await?;
                tx.commit().await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(count_tenants(&store).await, 400);
});

#[tokio::test]
async fn unsupported_urls_are_refused_with_the_url_named() {
    let err = Store::connect("mysql://localhost/db", &StoreOptions::default()).await.err().unwrap();
    assert!(err.to_string().contains("mysql://localhost/db"), "{err}");
}

store_test!(a_failed_deferred_write_fails_the_commit_and_writes_nothing, |db| async move {
    let store = &db.store;
    let mut tx = store.begin().await.unwrap();
    insert_tenant(&mut tx, "first").await.unwrap();
    let now = datetime!(2026-01-01 0:00 UTC);
    let duplicate = "INSERT INTO tenants (id, slug, name, status, created_at, updated_at, version) \
                     VALUES ($1, 'first', 'Again', 'active', $2, $2, 1)";
    let deferred = tx.execute_deferred(duplicate, vec![Uuid::now_v7().into(), now.into()]).await;
    let err = match deferred {
        // PostgreSQL runs it at once
        Err(e) => e,
        Ok(()) => tx.commit().await.unwrap_err(),
    };
    assert!(err.unique_violation().is_some(), "{err:?}");
    assert_eq!(count_tenants(store).await, 0, "the whole transaction rolled back");
});

store_test!(arrays_bind_on_postgres_and_are_refused_on_sqlite, |db| async move {
    let store = &db.store;
    scratch_table(store).await;
    let a = Uuid::now_v7();
    let ids = Value::Array(vec![3i64.into(), 4i64.into()]);
    let uuids = Value::Array(vec![a.into(), Value::Null]);
    let texts = Value::Array(vec!["x".into(), Value::Null]);
    let mut tx = store.begin().await.unwrap();
    let sql = "INSERT INTO scratch (id, u, t) SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[])";
    match store.backend() {
        Backend::Postgres => {
            assert_eq!(tx.execute(sql, vec![ids, uuids, texts]).await.unwrap(), 2);
            tx.commit().await.unwrap();
            let rows: Vec<(i64, Option<Uuid>, Option<String>)> =
                store.query("SELECT id, u, t FROM scratch ORDER BY id", vec![]).await.unwrap();
            assert_eq!(rows, vec![(3, Some(a), Some("x".into())), (4, None, None)]);
        }
        Backend::Sqlite => {
            let refused = tx.execute("INSERT INTO scratch (id, u) VALUES ($1, $2)", vec![1i64.into(), uuids]).await;
            assert!(refused.is_err(), "SQLite has no arrays: {refused:?}");
        }
    }
});

store_test!(a_nul_character_that_reaches_postgres_is_invalid_text_not_an_internal_error, |db| async move {
    let store = &db.store;
    scratch_table(store).await;
    let mut tx = store.begin().await.unwrap();
    let result = tx.execute("INSERT INTO scratch (id, t) VALUES (1, $1)", vec!["a\0b".into()]).await;
    match store.backend() {
        // SQLite keeps the bytes; inputs are refused before they get here
        Backend::Sqlite => assert!(result.is_ok(), "{result:?}"),
        Backend::Postgres => {
            let error = result.unwrap_err();
            assert!(matches!(error, StoreError::InvalidText(_)), "{error:?}");
            assert_eq!(crate::http::Problem::from(error).status, 422);
        }
    }
});

struct StoredRole(Option<crate::principal::Role>);

impl FromRow for StoredRole {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        row.get_enum_opt(0).map(StoredRole)
    }
}

store_test!(an_unknown_stored_enum_value_is_an_error_not_a_default, |db| async move {
    let store = &db.store;
    let known: StoredRole = store.query_one("SELECT 'admin'", vec![]).await.unwrap();
    assert_eq!(known.0, Some(crate::principal::Role::Admin));
    let absent: StoredRole = store.query_one("SELECT CAST(NULL AS TEXT)", vec![]).await.unwrap();
    assert_eq!(absent.0, None);
    let unknown = store.query_one::<StoredRole>("SELECT 'superuser'", vec![]).await.err().expect("an error");
    assert!(unknown.to_string().contains("Role \"superuser\""), "{unknown}");
    // it binds as its text
    let echoed: (String,) =
        store.query_one("SELECT CAST($1 AS TEXT)", vec![crate::principal::Role::Sysadmin.into()]).await.unwrap();
    assert_eq!(echoed.0, "sysadmin");
});

// Group commit (SQLite): transactions that queue behind one another share a commit, and each is still alone in its
// outcome.

/// A tenant insert queued without waiting: its failure surfaces at commit.
fn insert_tenant_deferred(tx: &mut Tx, slug: &str) {
    let now = datetime!(2026-01-01 0:00 UTC);
    let sql = "INSERT INTO tenants (id, slug, name, status, created_at, updated_at, version) \
               VALUES ($1, $2, $3, 'active', $4, $4, 1)";
    let params = vec![Uuid::now_v7().into(), slug.into(), "Tenant".into(), now.into()];
    match &mut tx.inner {
        TxInner::Sqlite(inner) => inner.execute_deferred(sql.into(), params).unwrap(),
        TxInner::Postgres(_) => unreachable!("a SQLite test"),
    }
}

async fn slugs(store: &Store) -> Vec<String> {
    let rows: Vec<(String,)> = store.query("SELECT slug FROM tenants ORDER BY slug", vec![]).await.unwrap();
    rows.into_iter().map(|(slug,)| slug).collect()
}

#[tokio::test]
async fn a_failing_transaction_in_a_group_takes_no_other_down() {
    let db = crate::testing::TestDb::sqlite().await;
    let store = db.store.clone();
    // the first transaction holds the writer (its insert was answered) while the others queue behind it: when it
    // commits, the writer takes them into the same group
    let mut first = store.begin().await.unwrap();
    insert_tenant(&mut first, "first").await.unwrap();
    let (groups_before, committed_before) = store.group_commits().unwrap();
    let mut second = store.begin().await.unwrap();
    insert_tenant_deferred(&mut second, "second");
    let mut duplicate = store.begin().await.unwrap();
    insert_tenant_deferred(&mut duplicate, "first");
    let mut dropped = store.begin().await.unwrap();
    insert_tenant_deferred(&mut dropped, "dropped");
    let mut rolled_back = store.begin().await.unwrap();
    insert_tenant_deferred(&mut rolled_back, "rolled-back");
    let mut third = store.begin().await.unwrap();
    insert_tenant_deferred(&mut third, "third");
    let second = tokio::spawn(second.commit());
    let duplicate = tokio::spawn(duplicate.commit());
    drop(dropped);
    let rolled_back = tokio::spawn(rolled_back.rollback());
    let third = tokio::spawn(third.commit());
    first.commit().await.unwrap();

    second.await.unwrap().unwrap();
    let refused = duplicate.await.unwrap().unwrap_err();
    assert!(refused.unique_violation().is_some_and(|what| what.contains("slug")), "{refused:?}");
    rolled_back.await.unwrap().unwrap();
    third.await.unwrap().unwrap();
    assert_eq!(slugs(&store).await, ["first", "second", "third"]);
    let (groups, committed) = store.group_commits().unwrap();
    assert_eq!((groups - groups_before, committed - committed_before), (1, 3), "one commit for the three");
}

#[tokio::test]
async fn the_first_member_of_a_group_fails_rolls_back_or_drops_alone() {
    // the group's first member runs without a savepoint: undoing it must undo only it, and the members queued behind
    // it must still commit, whichever way it ends
    for ending in ["fails", "rolls back", "is dropped"] {
        let db = crate::testing::TestDb::sqlite().await;
        let store = db.store.clone();
        let mut seed = store.begin().await.unwrap();
        insert_tenant(&mut seed, "taken").await.unwrap();
        seed.commit().await.unwrap();

        let mut first = store.begin().await.unwrap();
        insert_tenant(&mut first, "first").await.unwrap();
        // queued while the first holds the writer: they run after it, in its group or the next
        let mut second = store.begin().await.unwrap();
        insert_tenant_deferred(&mut second, "second");
        let mut third = store.begin_large().await.unwrap();
        insert_tenant_deferred(&mut third, "third");
        let second = tokio::spawn(second.commit());
        let third = tokio::spawn(third.commit());
        match ending {
            "fails" => {
                insert_tenant_deferred(&mut first, "taken");
                let refused = first.commit().await.unwrap_err();
                assert!(refused.unique_violation().is_some(), "{refused:?}");
            }
            "rolls back" => first.rollback().await.unwrap(),
            _ => drop(first),
        }
        second.await.unwrap().unwrap();
        third.await.unwrap().unwrap();
        assert_eq!(slugs(&store).await, ["second", "taken", "third"], "the first member {ending}");
        let (check,): (String,) = store.query_one("PRAGMA integrity_check", vec![]).await.unwrap();
        assert_eq!(check, "ok");
    }
}

#[tokio::test]
async fn a_large_transaction_starts_a_group_of_its_own() {
    let db = crate::testing::TestDb::sqlite().await;
    let store = db.store.clone();
    let mut first = store.begin().await.unwrap();
    insert_tenant(&mut first, "first").await.unwrap();
    let (groups_before, committed_before) = store.group_commits().unwrap();
    let mut small = store.begin().await.unwrap();
    insert_tenant_deferred(&mut small, "small");
    let mut large = store.begin_large().await.unwrap();
    insert_tenant_deferred(&mut large, "large");
    let mut after = store.begin().await.unwrap();
    insert_tenant_deferred(&mut after, "after");
    let small = tokio::spawn(small.commit());
    let large = tokio::spawn(large.commit());
    let after = tokio::spawn(after.commit());
    first.commit().await.unwrap();
    small.await.unwrap().unwrap();
    large.await.unwrap().unwrap();
    after.await.unwrap().unwrap();
    assert_eq!(slugs(&store).await, ["after", "first", "large", "small"]);
    let (groups, committed) = store.group_commits().unwrap();
    // first and small may share a commit (when they come within the group's few milliseconds), but large never
    // joins an open group
    assert_eq!(committed - committed_before, 4);
    assert!(groups - groups_before >= 2, "the large transaction started a group: {} commits", groups - groups_before);
}

#[tokio::test]
async fn many_transactions_share_a_commit_and_each_is_acknowledged_after_it() {
    let db = crate::testing::TestDb::sqlite().await;
    let store = db.store.clone();
    let (groups_before, committed_before) = store.group_commits().unwrap();
    let mut tasks = Vec::new();
    for writer in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..20 {
                let mut tx = store.begin().await?;
                insert_tenant_deferred(&mut tx, &format!("w{writer}-{n}"));
                tx.commit().await?;
                // acknowledged means committed: a reader (another connection) sees it at once
                let seen: Option<(i64,)> = store
                    .query_opt("SELECT 1 FROM tenants WHERE slug = $1", vec![format!("w{writer}-{n}").into()])
                    .await?;
                assert!(seen.is_some(), "w{writer}-{n} acknowledged but not visible");
            }
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(count_tenants(&store).await, 640);
    let (groups, committed) = store.group_commits().unwrap();
    assert_eq!(committed - committed_before, 640);
    assert!(groups - groups_before < 640, "some transactions shared a commit: {} commits", groups - groups_before);
}

#[tokio::test]
async fn a_full_disk_in_a_group_fails_only_what_it_did_not_store() {
    let db = crate::testing::TestDb::sqlite().await;
    let store = db.store.clone();
    let mut first = store.begin().await.unwrap();
    let (pages,): (i64,) = first.query_one("PRAGMA page_count", vec![]).await.unwrap();
    // the writer's file may grow by a few pages only
    first.execute_batch(format!("PRAGMA max_page_count = {}", pages + 4)).await.unwrap();
    insert_tenant(&mut first, "first").await.unwrap();
    let mut big = store.begin().await.unwrap();
    match &mut big.inner {
        TxInner::Sqlite(inner) => inner
            .execute_deferred(
                "INSERT INTO tenants (id, slug, name, status, created_at, updated_at, version) \
                 VALUES ($1, 'big', $2, 'active', 0, 0, 1)"
                    .into(),
                vec![Uuid::now_v7().into(), "x".repeat(200_000).into()],
            )
            .unwrap(),
        TxInner::Postgres(_) => unreachable!("a SQLite test"),
    }
    let mut after = store.begin().await.unwrap();
    insert_tenant_deferred(&mut after, "after");
    let big = tokio::spawn(big.commit());
    let after = tokio::spawn(after.commit());
    let first = first.commit().await;
    let big = big.await.unwrap();
    let after = after.await.unwrap();
    assert!(matches!(big, Err(StoreError::Full(_))), "{big:?}");
    // SQLite may undo the one statement or the whole shared transaction: either way what was acknowledged is
    // stored, and what was refused is not
    let stored = slugs(&store).await;
    for (slug, outcome) in [("first", first.is_ok()), ("big", false), ("after", after.is_ok())] {
        assert_eq!(stored.contains(&slug.to_owned()), outcome, "{slug}: {stored:?}, {first:?} {after:?}");
    }
    let (check,): (String,) = store.query_one("PRAGMA integrity_check", vec![]).await.unwrap();
    assert_eq!(check, "ok");
}

store_test!(deferred_writes_run_in_order_and_their_failure_reaches_the_next_awaited_step, |db| async move {
    let store = &db.store;
    let now = datetime!(2026-01-01 0:00 UTC);
    let insert = "INSERT INTO tenants (id, slug, name, status, created_at, updated_at, version) \
                  VALUES ($1, $2, 'Tenant', 'active', $3, $3, 1)";
    // queued writes are seen by the next statement of their transaction, in order
    let mut tx = store.begin().await.unwrap();
    for slug in ["one", "two"] {
        tx.execute_deferred(insert, vec![Uuid::now_v7().into(), slug.into(), now.into()]).await.unwrap();
    }
    let seen: Vec<(String,)> = tx.query("SELECT slug FROM tenants ORDER BY slug", vec![]).await.unwrap();
    assert_eq!(seen, vec![("one".to_owned(),), ("two".to_owned(),)]);
    tx.commit().await.unwrap();
    // a queued write that fails: the next awaited statement reports it, and nothing of the transaction stays
    let mut tx = store.begin().await.unwrap();
    tx.execute_deferred(insert, vec![Uuid::now_v7().into(), "three".into(), now.into()]).await.unwrap();
    tx.execute_deferred(insert, vec![Uuid::now_v7().into(), "one".into(), now.into()]).await.unwrap();
    let error = tx.query::<(i64,)>("SELECT COUNT(*) FROM tenants", vec![]).await.unwrap_err();
    assert!(error.unique_violation().is_some(), "{error:?}");
    // a caller that goes on to commit is told it failed (PostgreSQL would answer the COMMIT with a silent rollback)
    assert!(tx.commit().await.is_err(), "the commit of a failed transaction fails");
    // and one that fails just before the commit fails the commit
    let mut tx = store.begin().await.unwrap();
    tx.execute_deferred(insert, vec![Uuid::now_v7().into(), "two".into(), now.into()]).await.unwrap();
    let error = tx.commit().await.unwrap_err();
    assert!(error.unique_violation().is_some(), "{error:?}");
    assert_eq!(count_tenants(store).await, 2);
});
