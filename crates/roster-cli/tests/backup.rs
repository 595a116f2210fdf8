//! `roster backup` and `roster restore` with the real binary, on SQLite and PostgreSQL: a round trip of the demo data
//! with every table's rows and the audit chain intact, the refusals (an existing file, a live target, a damaged or
//! newer copy, the other backend's file, the wrong secret key), and a backup taken under a write load that holds every
//! write acknowledged before it began.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use roster::principal::Role;
use roster::store::Backend;
use roster::testing::TestDb;
use serde_json::{json, Value};

/// The binary against `url`, with the secret key `key` (none: the environment has none).
fn roster_at(url: &str, key: Option<&str>, args: &[&str]) -> Output {
    let env: Vec<(&str, &str)> = key.map(|k| ("ROSTER_SECRET_KEY", k)).into_iter().collect();
    common::roster_with(&[args, &["--database-url", url]].concat(), &env)
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json on stdout")
}

fn refused(output: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "expected a refusal saying {says:?}");
    assert!(stderr.contains(says), "expected {says:?} in: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

async fn rows(store: &roster::store::Store) -> Vec<(String, i64)> {
    roster::backup::counts(store).await.unwrap().into_iter().collect()
}

fn sqlite_file(db: &TestDb) -> Option<PathBuf> {
    db.url.strip_prefix("sqlite://").map(PathBuf::from)
}

async fn round_trip(backend: Backend) {
    let Some(source) = TestDb::of_empty(backend).await else { return };
    let key = Some(common::TEST_SECRET_KEY);
    json_of(&roster_at(&source.url, key, &["seed", "--demo", "--format", "json"]));
    let dir = tempfile::tempdir().unwrap();
    let bugs = dir.path().join("bugs.json");
    let records: Vec<Value> = (1..=40)
        .map(|i| {
            let author = ["Ana", "Bruno", "Carla"][i % 3];
            json!({"id": i, "title": format!("bug {i}"), "severity": "low", "status": "accepted",
                "author": {"name": author}, "test": {"id": 7}})
        })
        .collect();
    std::fs::write(&bugs, json!({"bugs": records}).to_string()).unwrap();
    let ingested = roster_at(&source.url, key, &["ingest", "bugs", bugs.to_str().unwrap(), "--tenant", "demo"]);
    assert!(ingested.status.success(), "{}", String::from_utf8_lossy(&ingested.stderr));
    let before = rows(&source.store).await;

    let file = dir.path().join("roster.backup");
    let made = json_of(&roster_at(&source.url, key, &["backup", "--out", file.to_str().unwrap(), "--format", "json"]));
    assert_eq!(made["level"], json!(roster::backup::binary_level()), "{made}");
    assert!(file.is_file() && roster::backup::manifest_path(&file).is_file());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a backup holds password hashes: its owner alone reads it");
    }
    let manifest = roster::backup::read_manifest(&file).unwrap().unwrap();
    assert_eq!(manifest.counts.into_iter().collect::<Vec<_>>(), before, "the manifest counts what the copy holds");
    assert_eq!(manifest.backend, backend.name());
    if backend == Backend::Sqlite {
        let chains = made["check"]["audit"].as_array().unwrap();
        assert!(chains.len() >= 2 && chains.iter().all(|c| c["ok"] == json!(true)), "{made}");
        assert_eq!(made["check"]["integrity"], "ok");
    }
    // a second backup never replaces the first
    refused(&roster_at(&source.url, key, &["backup", "--out", file.to_str().unwrap()]), "exists");
    let nowhere = dir.path().join("no such folder").join("b.db");
    refused(&roster_at(&source.url, key, &["backup", "--out", nowhere.to_str().unwrap()]), "there is no folder");

    // into an empty database of the same backend
    let Some(target) = TestDb::of_empty(backend).await else { return };
    if backend == Backend::Postgres {
        // not as a superuser: what an archive defines would run with its rights
        let superuser = roster_at(&target.url, key, &["restore", file.to_str().unwrap()]);
        refused(&superuser, "a role that can reach the operating system");
    }
    let target_url = target.restore_url().await;
    let restored = json_of(&roster_at(&target_url, key, &["restore", file.to_str().unwrap(), "--format", "json"]));
    assert_eq!((&restored["replaced"], &restored["manifest_checked"]), (&json!(false), &json!(true)), "{restored}");
    let chains = restored["check"]["audit"].as_array().unwrap();
    assert!(chains.iter().any(|c| c["tenant"] == "demo" && c["entries"].as_i64().unwrap() > 50), "{restored}");
    let reopened = roster::store::Store::connect(&target.url, &Default::default()).await.unwrap();
    assert_eq!(rows(&reopened).await, before, "every table's rows came back");
    // the same users, hashes and sealed secrets included
    let users = "SELECT id, email_key, password_hash, totp_secret, xp, created_at FROM users ORDER BY id";
    type UserRow = (uuid::Uuid, Option<String>, Option<String>, Option<Vec<u8>>, i64, time::OffsetDateTime);
    let (a, b): (Vec<UserRow>, Vec<UserRow>) =
        (source.store.query(users, vec![]).await.unwrap(), reopened.query(users, vec![]).await.unwrap());
    assert_eq!(a, b);
    reopened.close().await;
    let verified = roster_at(&target.url, key, &["audit", "verify"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));

    // the target now holds data: not without --force
    refused(&roster_at(&target_url, key, &["restore", file.to_str().unwrap()]), "--force");
    let again =
        json_of(&roster_at(&target_url, key, &["restore", file.to_str().unwrap(), "--force", "--format", "json"]));
    assert_eq!(again["replaced"], json!(true));

    // under another secret key the chain does not verify, and nothing is restored (PostgreSQL's restore has
    // committed when the chain is checked: it is taken out again)
    let Some(elsewhere) = TestDb::of_empty(backend).await else { return };
    let elsewhere_url = elsewhere.restore_url().await;
    let other_key = "b3RoZXIgc2VjcmV0IGtleSBvZiB0aGlydHktdHdvIGJ5dGU=";
    let wrong_key = roster_at(&elsewhere_url, Some(other_key), &["restore", file.to_str().unwrap()]);
    refused(&wrong_key, "restore with the key it was made with");
    let said = String::from_utf8_lossy(&wrong_key.stderr).into_owned();
    let needed = manifest.key_fingerprint.clone().unwrap();
    assert!(said.contains(&format!("made under the key with fingerprint {needed}")), "names the key: {said}");
    assert!(rows(&elsewhere.store).await.is_empty(), "nothing was restored: {:?}", rows(&elsewhere.store).await);
    if backend == Backend::Postgres {
        let (functions,): (i64,) = elsewhere
            .store
            .query_one(
                "SELECT COUNT(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = current_schema()",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(functions, 0, "the restore's trigger functions went too");
    }

    // a damaged file is told by its manifest
    let damaged = dir.path().join("damaged.backup");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&damaged, &bytes).unwrap();
    std::fs::copy(roster::backup::manifest_path(&file), roster::backup::manifest_path(&damaged)).unwrap();
    refused(&roster_at(&elsewhere_url, key, &["restore", damaged.to_str().unwrap()]), "does not match its manifest");

    // the other backend's file
    let other = dir.path().join("other.backup");
    match backend {
        Backend::Sqlite => std::fs::write(&other, b"PGDMP\x01\x0e\x00").unwrap(),
        Backend::Postgres => {
            rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x INTEGER);").unwrap();
        }
    }
    let said = roster_at(&elsewhere_url, key, &["restore", other.to_str().unwrap()]);
    assert_eq!(said.status.code(), Some(2));
    refused(&said, if backend == Backend::Sqlite { "PostgreSQL archive" } else { "is a SQLite database" });
    let missing = roster_at(&elsewhere_url, key, &["restore", dir.path().join("missing").to_str().unwrap()]);
    refused(&missing, "missing: no such file");
    assert_eq!(missing.status.code(), Some(2), "the caller's mistake");
}
roster::backend_test!(a_backup_restores_every_row_and_the_audit_chain, round_trip);

/// A database one migration newer than this binary: its backup is refused (PostgreSQL) or, as a file, its restore.
async fn newer_copies(backend: Backend) {
    let Some(source) = TestDb::of(backend).await else { return };
    let mut tx = source.store.begin().await.unwrap();
    tx.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'future', 'x', $1)",
        vec![time::OffsetDateTime::now_utc().into()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("future.backup");
    match backend {
        Backend::Sqlite => {
            // a copy made by a newer roster: the file itself, without a manifest
            let live = rusqlite::Connection::open(sqlite_file(&source).unwrap()).unwrap();
            live.execute("VACUUM INTO ?1", [file.to_str().unwrap()]).unwrap();
            refused(
                &roster_at(&source.url, None, &["backup", "--out", dir.path().join("b").to_str().unwrap()]),
                "newer",
            );
        }
        Backend::Postgres => {
            refused(
                &roster_at(&source.url, None, &["backup", "--out", file.to_str().unwrap()]),
                "newer than this binary",
            );
            let dumped = std::process::Command::new("pg_dump")
                .args(["--format=custom", "--file"])
                .arg(&file)
                .arg(format!("--dbname={}", source.url))
                .output()
                .unwrap();
            assert!(dumped.status.success(), "{}", String::from_utf8_lossy(&dumped.stderr));
        }
    }
    // with a manifest that vouches for it (made without a key, as the restoring process has none)
    let counts = std::collections::BTreeMap::new();
    let manifest = roster::backup::manifest_for(backend, &file, 9999, counts, None).unwrap();
    roster::backup::write_manifest(&file, &manifest).unwrap();
    let Some(target) = TestDb::of_empty(backend).await else { return };
    let target_url = target.restore_url().await;
    refused(&roster_at(&target_url, None, &["restore", file.to_str().unwrap()]), "newer than this binary");
    assert!(rows(&target.store).await.is_empty(), "nothing was restored");
}
roster::backend_test!(a_copy_newer_than_the_binary_is_refused, newer_copies);

// Writers create users without pause; once some are acknowledged, a backup starts; the writes go on through it.
// The restored copy holds every user acknowledged before the backup began.
e2e_test!(a_backup_under_write_load_holds_every_write_acknowledged_before_it, |server| async move {
    let admin = server.tenant_with_key("acme", Role::Admin).await;
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = Arc::new(server);
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (server, admin, acknowledged, stop) = (server.clone(), admin.clone(), acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let body = json!({"username": format!("w{writer}-{n}")});
                let reply = server.post("/v1/tenants/acme/users", &admin, body).await;
                assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
                acknowledged.lock().unwrap().push(reply.body["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    while acknowledged.lock().unwrap().len() < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("under-load.backup");
    let (url, out) = (server.db.url.clone(), file.clone());
    let made = tokio::task::spawn_blocking(move || {
        roster_at(&url, Some(common::TEST_SECRET_KEY), &["backup", "--out", out.to_str().unwrap(), "--format", "json"])
    })
    .await
    .unwrap();
    let during = acknowledged.lock().unwrap().len() - before.len();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let made = json_of(&made);
    assert!(during > 0, "the writes went on during the backup");
    eprintln!("{} users acknowledged before the backup began, {during} while it ran", before.len());

    let Some(target) = TestDb::of_empty(server.db.store.backend()).await else { return };
    json_of(&roster_at(
        &target.restore_url().await,
        Some(common::TEST_SECRET_KEY),
        &["restore", file.to_str().unwrap(), "--format", "json"],
    ));
    let restored = roster::store::Store::connect(&target.url, &Default::default()).await.unwrap();
    let ids: std::collections::HashSet<String> = restored
        .query::<(uuid::Uuid,)>("SELECT id FROM users", vec![])
        .await
        .unwrap()
        .into_iter()
        .map(|(id,)| id.to_string())
        .collect();
    let missing: Vec<&String> = before.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(missing.is_empty(), "{} acknowledged users missing from the backup: {missing:?}", missing.len());
    assert!(made["bytes"].as_u64().unwrap() > 0, "{made}");
    restored.close().await;
});

/// A backup made of `source` (keyed with the tests' key) into `dir`, under `name`.
fn backup_of(source: &TestDb, dir: &std::path::Path, name: &str) -> PathBuf {
    let file = dir.join(name);
    let made = roster_at(&source.url, Some(common::TEST_SECRET_KEY), &["backup", "--out", file.to_str().unwrap()]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    file
}

/// What someone with the source database can do before the backup is taken: run `sql` there as its owner.
async fn plant(source: &TestDb, sql: &str) {
    let mut tx = source.store.begin().await.unwrap();
    tx.execute_batch(sql.to_owned()).await.unwrap();
    tx.commit().await.unwrap();
}

async fn distrust(backend: Backend) {
    let key = Some(common::TEST_SECRET_KEY);
    let Some(source) = TestDb::of_empty(backend).await else { return };
    json_of(&roster_at(&source.url, key, &["seed", "--demo", "--format", "json"]));
    let dir = tempfile::tempdir().unwrap();
    let file = backup_of(&source, dir.path(), "clean.backup");
    let Some(target) = TestDb::of_empty(backend).await else { return };
    let target_url = target.restore_url().await;
    let restore = |file: &std::path::Path| roster_at(&target_url, key, &["restore", file.to_str().unwrap()]);
    let nothing_restored = || async { assert!(rows(&target.store).await.iter().all(|(_, n)| *n == 0)) };

    // the manifest is required, and sealed: dropped, or rewritten to match an edited file, it vouches for nothing
    let bare = dir.path().join("bare.backup");
    std::fs::copy(&file, &bare).unwrap();
    refused(&restore(&bare), "no manifest beside it");
    let edited = dir.path().join("edited.backup");
    std::fs::copy(&file, &edited).unwrap();
    if backend == Backend::Sqlite {
        let copy = rusqlite::Connection::open(&edited).unwrap();
        copy.execute_batch("UPDATE users SET role = 'sysadmin' WHERE role = 'user'").unwrap();
    }
    let manifest = roster::backup::read_manifest(&file).unwrap().unwrap();
    let remade = roster::backup::manifest_for(backend, &edited, manifest.level, manifest.counts.clone(), None).unwrap();
    roster::backup::write_manifest(&edited, &remade).unwrap();
    refused(&restore(&edited), "not sealed under this server's key");
    let forger = roster::store::ChainKey::new([7; 32]);
    let forged =
        roster::backup::manifest_for(backend, &edited, manifest.level, manifest.counts.clone(), Some(&forger)).unwrap();
    std::fs::remove_file(roster::backup::manifest_path(&edited)).unwrap();
    roster::backup::write_manifest(&edited, &forged).unwrap();
    refused(&restore(&edited), "made under the key with fingerprint");
    nothing_restored().await;

    // a trigger planted in the source (it would make a user sysadmin when they change their password), and the
    // audit log's append-only triggers dropped: the schema is compared with what the migrations make
    let (planted, dropped) = match backend {
        Backend::Sqlite => (
            "CREATE TRIGGER promote AFTER UPDATE OF password_hash ON users \
             BEGIN UPDATE users SET role = 'sysadmin' WHERE id = NEW.id; END;",
            "DROP TRIGGER audit_log_no_update;",
        ),
        Backend::Postgres => (
            "CREATE FUNCTION promote() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN UPDATE users SET role = 'sysadmin' WHERE id = NEW.id; RETURN NEW; END $$; \
             CREATE TRIGGER promote AFTER UPDATE OF password_hash ON users FOR EACH ROW EXECUTE FUNCTION promote();",
            "DROP TRIGGER promote ON users; DROP FUNCTION promote(); DROP TRIGGER audit_log_no_update ON audit_log;",
        ),
    };
    plant(&source, planted).await;
    let with_trigger = backup_of(&source, dir.path(), "planted.backup");
    let said = restore(&with_trigger);
    refused(&said, "not made by this binary's migrations");
    let stderr = String::from_utf8_lossy(&said.stderr);
    assert!(stderr.contains("trigger promote") || stderr.contains("trigger users.promote"), "{stderr}");
    nothing_restored().await;
    plant(&source, dropped).await;
    let without_guard = backup_of(&source, dir.path(), "unguarded.backup");
    let said = restore(&without_guard);
    refused(&said, "missing: ");
    assert!(String::from_utf8_lossy(&said.stderr).contains("audit_log_no_update"));
    nothing_restored().await;

    // the clean copy still restores; on PostgreSQL, a reference schema a killed restore left behind goes with it
    if backend == Backend::Postgres {
        plant(
            &target,
            "CREATE SCHEMA roster_reference_left; ALTER SCHEMA roster_reference_left OWNER TO roster_restorer",
        )
        .await;
    }
    assert!(restore(&file).status.success());
    if backend == Backend::Postgres {
        let (left,): (i64,) = target
            .store
            .query_one("SELECT COUNT(*) FROM pg_namespace WHERE nspname LIKE 'roster_reference%'", vec![])
            .await
            .unwrap();
        assert_eq!(left, 0, "no scratch schema is left");
    }
}
roster::backend_test!(a_restore_trusts_nothing_in_the_file, distrust);

/// PostgreSQL: a function and a CHECK constraint planted in the source that run an operating-system command when
/// rows are loaded. Restored as a role without superuser rights, the command cannot run and nothing is restored;
/// a superuser connection is refused before anything runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_archive_cannot_reach_the_operating_system() {
    let Some(source) = TestDb::of_empty(Backend::Postgres).await else { return };
    let key = Some(common::TEST_SECRET_KEY);
    json_of(&roster_at(&source.url, key, &["seed", "--format", "json"]));
    let dir = tempfile::tempdir().unwrap();
    let marker = std::env::temp_dir().join(format!("roster-planted-{}", uuid::Uuid::now_v7()));
    // harmless while it is added (the constraint is checked against the rows there), then given its payload
    plant(
        &source,
        &format!(
            "CREATE FUNCTION planted() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN true; END $$; \
             ALTER TABLE tenants ADD CONSTRAINT planted CHECK (planted()); \
             CREATE OR REPLACE FUNCTION planted() RETURNS boolean LANGUAGE plpgsql AS \
             $$ BEGIN COPY (SELECT 1) TO PROGRAM 'touch {}'; RETURN true; END $$;",
            marker.display()
        ),
    )
    .await;
    let file = backup_of(&source, dir.path(), "payload.backup");
    let Some(target) = TestDb::of_empty(Backend::Postgres).await else { return };
    refused(&roster_at(&target.url, key, &["restore", file.to_str().unwrap()]), "reach the operating system");
    let said = roster_at(&target.restore_url().await, key, &["restore", file.to_str().unwrap()]);
    assert!(!said.status.success());
    let stderr = String::from_utf8_lossy(&said.stderr);
    assert!(stderr.contains("pg_restore failed") && stderr.contains("COPY to or from an external program"), "{stderr}");
    assert!(!marker.exists(), "the planted command ran");
    assert!(rows(&target.store).await.iter().all(|(_, n)| *n == 0), "nothing was restored");
}
