use super::*;
use crate::testing::TestDb;

/// Everything that makes up the schema, as sortable text.
async fn schema(store: &Store) -> Vec<String> {
    let mut out: Vec<String> = match store.backend() {
        Backend::Sqlite => store
            .query::<(String, String, String)>(
                "SELECT type, name, COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                vec![],
            )
            .await
            .unwrap()
            .into_iter()
            .map(|(t, n, s)| format!("{t} {n} {s}"))
            .collect(),
        Backend::Postgres => {
            let mut rows: Vec<(String,)> = store
                .query(
                    "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || \
                     COALESCE(column_default, '') FROM information_schema.columns WHERE table_schema = 'public'",
                    vec![],
                )
                .await
                .unwrap();
            rows.extend(
                store
                    .query::<(String,)>("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'", vec![])
                    .await
                    .unwrap(),
            );
            rows.extend(
                store
                    .query::<(String,)>(
                        "SELECT c.conname || ' ' || pg_get_constraintdef(c.oid) FROM pg_constraint c \
                         JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'",
                        vec![],
                    )
                    .await
                    .unwrap(),
            );
            rows.extend(
                store
                    .query::<(String,)>(
                        "SELECT trigger_name || ' ' || event_manipulation || ' ' || action_statement \
                         FROM information_schema.triggers WHERE trigger_schema = 'public'",
                        vec![],
                    )
                    .await
                    .unwrap(),
            );
            rows.extend(
                store
                    .query::<(String,)>(
                        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                         WHERE n.nspname = 'public'",
                        vec![],
                    )
                    .await
                    .unwrap(),
            );
            rows.into_iter().map(|(s,)| s).collect()
        }
    };
    out.sort();
    out
}

async fn up_down_up(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else {
        return;
    };
    let migrations = crate::migrations();
    let migrator = Migrator::new(&db.store, &migrations);
    let all: Vec<i64> = migrations.iter().map(|m| m.version).collect();
    assert_eq!(migrator.up(None).await.unwrap(), all);
    let fresh = schema(&db.store).await;
    assert!(migrator.is_current().await.unwrap());

    let mut reverted = migrator.down_to(0).await.unwrap();
    reverted.reverse();
    assert_eq!(reverted, all);
    let bare = schema(&db.store).await;
    assert!(bare.iter().all(|s| s.contains("schema_migrations")), "left behind after down: {bare:?}");

    assert_eq!(migrator.up(None).await.unwrap(), all);
    assert_eq!(schema(&db.store).await, fresh);
    assert!(migrator.up(None).await.unwrap().is_empty(), "a second up has nothing to do");
}
crate::backend_test!(up_then_down_to_zero_then_up_equals_a_fresh_schema, up_down_up);

async fn stepwise(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else {
        return;
    };
    let migrations = crate::migrations();
    let migrator = Migrator::new(&db.store, &migrations);
    let first = migrations[0].version;
    let second = migrations[1].version;
    assert_eq!(migrator.up(Some(second)).await.unwrap(), vec![first, second]);
    let status = migrator.status().await.unwrap();
    assert_eq!(status.iter().filter(|s| s.state == "applied").count(), 2);
    assert_eq!(status.iter().filter(|s| s.state == "pending").count(), migrations.len() - 2);
    assert_eq!(migrator.down_steps(1).await.unwrap(), vec![second]);
    assert!(matches!(migrator.up(Some(9999)).await, Err(MigrateError::UnknownTarget(9999))));
}
crate::backend_test!(up_to_and_down_by_steps, stepwise);

async fn drift(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else {
        return;
    };
    let mut migrations = crate::migrations();
    Migrator::new(&db.store, &migrations).up(None).await.unwrap();
    migrations[1].sqlite_up = "-- edited after release";
    migrations[1].postgres_up = "-- edited after release";
    let err = Migrator::new(&db.store, &migrations).verify().await.unwrap_err();
    assert!(matches!(err, MigrateError::Drift { version, .. } if version == migrations[1].version), "{err}");
    assert!(err.to_string().contains(migrations[1].name));
    assert!(Migrator::new(&db.store, &migrations).up(None).await.is_err(), "up refuses drift");
}
crate::backend_test!(an_edited_migration_is_drift, drift);

async fn newer(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else {
        return;
    };
    let migrations = crate::migrations();
    Migrator::new(&db.store, &migrations).up(None).await.unwrap();
    let older_binary = &migrations[..migrations.len() - 1];
    let err = Migrator::new(&db.store, older_binary).verify().await.unwrap_err();
    let newest = migrations.last().unwrap();
    assert!(matches!(err, MigrateError::Unknown { version, .. } if version == newest.version), "{err}");
    assert!(err.to_string().contains("newer than the binary"));
}
crate::backend_test!(a_database_newer_than_the_binary_is_refused, newer);

async fn concurrent(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else {
        return;
    };
    let migrations = crate::migrations();
    let (first, second) = (Migrator::new(&db.store, &migrations), Migrator::new(&db.store, &migrations));
    let (a, b) = tokio::join!(first.up(None), second.up(None));
    let (mut a, mut b) = (a.unwrap(), b.unwrap());
    a.append(&mut b);
    a.sort();
    assert_eq!(a, migrations.iter().map(|m| m.version).collect::<Vec<_>>(), "each migration applied exactly once");
}
crate::backend_test!(two_migrators_at_once_apply_each_migration_once, concurrent);

#[test]
fn every_migration_exists_for_both_backends_in_order() {
    let migrations = crate::migrations();
    for pair in migrations.windows(2) {
        assert!(pair[0].version < pair[1].version, "versions must be unique and ordered");
    }
    for m in &migrations {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            assert!(!m.up(backend).trim().is_empty(), "{} has no {} up", m.name, backend.name());
            assert!(!m.down(backend).trim().is_empty(), "{} has no {} down", m.name, backend.name());
        }
    }
}
