//! The real `roster` binary: commands, exit codes, and `serve` on a socket until SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{json_of as stdout_json, roster};
use roster::store::{Backend, Value};
use roster::testing::TestDb;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn commands_manage_tenants_users_and_keys(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else {
        return;
    };
    let status = stdout_json(&roster(&db, &["migrate", "status", "--format", "json"]));
    assert!(status.as_array().unwrap().iter().all(|m| m["state"] == "pending"));
    let up = stdout_json(&roster(&db, &["migrate", "up", "--format", "json"]));
    assert_eq!(up["applied"].as_array().unwrap().len(), roster::migrations().len());
    assert!(roster(&db, &["migrate", "verify"]).status.success());

    let tenant = stdout_json(&roster(&db, &["tenant", "create", "acme", "--name", "Acme", "--format", "json"]));
    assert_eq!(tenant["slug"], "acme");
    let table = roster(&db, &["tenant", "list"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().next().unwrap().starts_with("SLUG"), "{text}");
    assert!(text.contains("acme"));

    let user = stdout_json(&roster(
        &db,
        &["user", "create", "--tenant", "acme", "--email", "ana@example.com", "--username", "ana", "--format", "json"],
    ));
    let id = user["id"].as_str().unwrap();
    let shown = stdout_json(&roster(
        &db,
        &["user", "show", "--tenant", "acme", "--email", "ANA@example.com", "--format", "json"],
    ));
    assert_eq!(shown["id"], id);
    let updated = stdout_json(&roster(
        &db,
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            id,
            "--display-name",
            "Ana Lima",
            "--metadata",
            "{\"team\":\"qa\"}",
            "--format",
            "json",
        ],
    ));
    assert_eq!((&updated["display_name"], &updated["metadata"]["team"]), (&"Ana Lima".into(), &"qa".into()));
    let deleted = stdout_json(&roster(&db, &["user", "delete", "--tenant", "acme", id, "--format", "json"]));
    assert!(deleted["deleted_at"].is_string());
    let listed = stdout_json(&roster(&db, &["user", "list", "--tenant", "acme", "--format", "json"]));
    assert!(listed.as_array().unwrap().is_empty());
    let restored = stdout_json(&roster(&db, &["user", "restore", "--tenant", "acme", id, "--format", "json"]));
    assert!(restored["deleted_at"].is_null());

    let suspended = stdout_json(&roster(&db, &["user", "suspend", "--tenant", "acme", id, "--format", "json"]));
    assert_eq!(suspended["status"], "suspended");
    let active = stdout_json(&roster(&db, &["user", "activate", "--tenant", "acme", id, "--format", "json"]));
    assert_eq!(active["status"], "active");
    let ended = stdout_json(&roster(&db, &["user", "revoke-sessions", "--tenant", "acme", id, "--format", "json"]));
    assert_eq!(ended["sessions_ended"], 0);
    let reset =
        stdout_json(&roster(&db, &["user", "force-password-reset", "--tenant", "acme", id, "--format", "json"]));
    assert!(reset["reset_token"].as_str().is_some_and(|t| t.starts_with("rt_")));
    let not_locked = roster(&db, &["user", "unlock", "--tenant", "acme", id]);
    assert_eq!(not_locked.status.code(), Some(2), "unlocking an unlocked user is the caller's mistake");

    let key = stdout_json(&roster(
        &db,
        &["apikey", "create", "--tenant", "acme", "--role", "admin", "--name", "ci", "--format", "json"],
    ));
    assert!(key["key"].as_str().unwrap().starts_with("rk_"));
    let keys = stdout_json(&roster(&db, &["apikey", "list", "--tenant", "acme", "--format", "json"]));
    assert!(!keys.to_string().contains(key["key"].as_str().unwrap()), "the key is shown only once");
    assert!(roster(&db, &["apikey", "revoke", "--tenant", "acme", key["id"].as_str().unwrap()]).status.success());

    // the entries are keyed (the CLI made roster.key beside the database, or PostgreSQL has none and they are not):
    // going below migration 13 would hand keyed entries to a binary that cannot read them, and is refused
    let newest = roster::migrations().last().unwrap().version;
    let down = roster(&db, &["migrate", "down", "--steps", "1", "--format", "json"]);
    if newest == 13 && backend == Backend::Sqlite {
        assert_eq!(down.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&down.stderr).contains("keyed entries"));
    } else {
        assert_eq!(stdout_json(&down)["reverted"].as_array().unwrap().len(), 1);
    }
}
roster::backend_test!(commands_manage_tenants_users_and_keys_end_to_end, commands_manage_tenants_users_and_keys);

async fn usage_errors(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else {
        return;
    };
    for args in [
        vec!["user", "create", "--tenant", "nowhere", "--email", "a@example.com"],
        vec!["tenant", "create", "Bad Slug", "--name", "x"],
        vec!["user", "list"],
        vec!["migrate", "down"],
        vec!["user", "create", "--tenant", "default", "--email", "not-an-address"],
    ] {
        let output = roster(&db, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error"), "{args:?}: {stderr}");
    }
    let output = roster(&db, &["tenant", "create", "Bad Slug", "--name", "x"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("slug"), "names the field: {stderr}");
}
roster::backend_test!(usage_errors_exit_2_with_one_line_naming_the_field, usage_errors);

async fn wait_until_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("roster serve did not become healthy");
}

async fn serve_until_sigterm(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else {
        return;
    };
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", &db.url])
        .env("ROSTER_ADMIN_PASSWORD", "a long admin password")
        .env("ROSTER_LOG_FORMAT", "json")
        .env("ROSTER_LOG", "debug")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the log while the server runs: a full pipe would block the server's logging.
    let mut pipe = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut text).unwrap();
        text
    });
    wait_until_healthy(&base).await;
    assert_eq!(reqwest::get(format!("{base}/readyz")).await.unwrap().status(), 200);
    // the container's health check: the binary asks /readyz itself
    let healthcheck = |listen: String| {
        Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["healthcheck", "--listen", &listen])
            .env_remove("ROSTER_DATABASE_URL")
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap()
    };
    let ready = healthcheck(format!("0.0.0.0:{port}"));
    assert!(ready.status.success(), "{}", String::from_utf8_lossy(&ready.stderr));

    let key = stdout_json(&roster(
        &db,
        &["apikey", "create", "--tenant", "default", "--role", "sysadmin", "--name", "t", "--format", "json"],
    ));
    let client = reqwest::Client::new();
    let tenants: serde_json::Value = client
        .get(format!("{base}/v1/tenants"))
        .bearer_auth(key["key"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tenants["items"][0]["slug"], "default", "first start created the default tenant");

    // sign in as the sysadmin, use the session, ask for a reset token: none of these secrets may reach the log
    let login: serde_json::Value = client
        .post(format!("{base}/v1/tenants/default/auth/login"))
        .json(&serde_json::json!({"email": "admin@localhost", "password": "a long admin password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = login["token"].as_str().expect("signed in").to_owned();
    let me = client.get(format!("{base}/v1/me")).bearer_auth(&session).send().await.unwrap();
    assert_eq!(me.status(), 200);
    let reset: serde_json::Value = client
        .post(format!("{base}/v1/tenants/default/auth/password-reset/request"))
        .bearer_auth(key["key"].as_str().unwrap())
        .json(&serde_json::json!({"email": "admin@localhost"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reset_token = reset["reset_token"].as_str().unwrap().to_owned();
    // register a client, find it by CPF, register it again (409) and with a bad check digit (422): no whole CPF in
    // the log either
    let clients = format!("{base}/v1/tenants/default/clients");
    let client_body = serde_json::json!({"name": "Ana Souza", "cpf": "529.982.247-25", "birth_date": "1987-04-23"});
    for expected in [201, 409] {
        let reply = client.post(&clients).bearer_auth(&session).json(&client_body).send().await.unwrap();
        assert_eq!(reply.status(), expected);
    }
    let found = client.get(format!("{clients}?cpf=52998224725")).bearer_auth(&session).send().await.unwrap();
    assert_eq!(found.status(), 200);
    let bad = serde_json::json!({"name": "Ana Souza", "cpf": "52998224726", "birth_date": "1987-04-23"});
    assert_eq!(client.post(&clients).bearer_auth(&session).json(&bad).send().await.unwrap().status(), 422);

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
    let gone = healthcheck(format!("127.0.0.1:{port}"));
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).starts_with("error: not ready"), "{gone:?}");
    let stderr = log.join().unwrap();
    assert!(stderr.contains("\"stopped\""), "json logs, ending with the stop: {stderr}");
    assert!(stderr.contains("/v1/me"), "debug logs name the requests: {stderr}");
    assert!(stderr.contains("/clients"), "debug logs name the client requests: {stderr}");
    for secret in [
        "a long admin password",
        session.as_str(),
        key["key"].as_str().unwrap(),
        reset_token.as_str(),
        "52998224725",
        "529.982.247-25",
        "52998224726",
        "982.247",
        "982247",
    ] {
        assert!(!stderr.contains(secret), "a secret reached the log: {secret}");
    }
}
roster::backend_test!(serve_answers_over_http_and_stops_cleanly_on_sigterm, serve_until_sigterm);

/// `sqlite_synchronous`: `full` is taken and stated by `/readyz`; a value that is neither is refused in one line that
/// names the setting.
#[tokio::test]
async fn sqlite_synchronous_is_a_setting_readyz_states() {
    let db = TestDb::sqlite().await;
    let output = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--database-url", &db.url, "--listen", "127.0.0.1:0"])
        .env("ROSTER_SQLITE_SYNCHRONOUS", "sometimes")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.to_lowercase().contains("sqlite_synchronous"), "names the setting: {stderr}");

    for (setting, promise) in [("normal", "synchronous=normal"), ("full", "synchronous=full")] {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", &db.url])
            .env("ROSTER_SQLITE_SYNCHRONOUS", setting)
            .env("ROSTER_ADMIN_PASSWORD", "a long admin password")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until_healthy(&base).await;
        let ready: serde_json::Value = reqwest::get(format!("{base}/readyz")).await.unwrap().json().await.unwrap();
        assert_eq!(ready["status"], "ready");
        assert_eq!(ready["database"], "sqlite");
        assert!(ready["durability"].as_str().unwrap().contains(promise), "{setting}: {ready}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

async fn serve_refuses_drift_and_newer_databases(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else {
        return;
    };
    assert!(roster(&db, &["migrate", "up"]).status.success());
    let mut tx = db.store.begin().await.unwrap();
    tx.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 3", vec![]).await.unwrap();
    tx.commit().await.unwrap();
    let port = free_port().to_string();
    let output = roster(&db, &["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("migration 3 (users)") && stderr.contains("drift"), "{stderr}");

    let mut tx = db.store.begin().await.unwrap();
    let checksum = roster::migrations()[2].checksum(backend);
    tx.execute("UPDATE schema_migrations SET checksum = $1 WHERE version = 3", vec![Value::Text(checksum)])
        .await
        .unwrap();
    tx.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'from_the_future', 'x', $1)",
        vec![Value::Timestamp(time::OffsetDateTime::now_utc())],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let output = roster(&db, &["serve", "--listen", &format!("127.0.0.1:{port}"), "--no-migrate"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("9999") && stderr.contains("newer than the binary"), "{stderr}");
}
roster::backend_test!(serve_refuses_drift_and_a_newer_database, serve_refuses_drift_and_newer_databases);

async fn seed_is_idempotent(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else {
        return;
    };
    let first = stdout_json(&roster(&db, &["seed", "--format", "json"]));
    assert_eq!((&first["created"], &first["tenant"]), (&true.into(), &"default".into()));
    assert!(first["generated_password"].as_str().is_some_and(|p| p.len() >= 32));
    let second = stdout_json(&roster(&db, &["seed", "--format", "json"]));
    assert_eq!(second["created"], false);
    let users = stdout_json(&roster(&db, &["user", "list", "--tenant", "default", "--format", "json"]));
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!((&users[0]["role"], &users[0]["email"]), (&"sysadmin".into(), &"admin@localhost".into()));
}
roster::backend_test!(seed_creates_the_sysadmin_once, seed_is_idempotent);

async fn permission_commands(backend: Backend) {
    let Some(db) = TestDb::of(backend).await else {
        return;
    };
    let ok = |args: &[&str]| stdout_json(&roster(&db, args));
    ok(&["tenant", "create", "acme", "--name", "Acme", "--format", "json"]);
    let ana = ok(&["user", "create", "--tenant", "acme", "--username", "ana", "--format", "json"]);
    // an invited account (no password yet) is allowed nothing: activated, its grants count
    assert_eq!(ana["status"], "invited");
    ok(&["user", "activate", "--tenant", "acme", ana["id"].as_str().unwrap(), "--format", "json"]);
    let agents = ok(&["agent", "list", "--tenant", "acme", "--format", "json"]);
    assert_eq!(agents.as_array().unwrap().len(), 4);
    let added = ok(&["agent", "add", "--tenant", "acme", "voice_bot", "--description", "Calls", "--format", "json"]);
    assert_eq!(added["name"], "voice_bot");

    let grant = ok(&[
        "permission",
        "grant",
        "--tenant",
        "acme",
        "--user",
        "ana",
        "--agent",
        "voice_bot",
        "--actions",
        "read,update",
        "--expires-at",
        "2999-01-01T00:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(
        (&grant["can_read"], &grant["can_update"], &grant["can_delete"]),
        (&true.into(), &true.into(), &false.into())
    );
    let check = |action: &str| {
        ok(&[
            "permission",
            "check",
            "--tenant",
            "acme",
            "--user",
            "ana",
            "--agent",
            "voice_bot",
            "--action",
            action,
            "--format",
            "json",
        ])
    };
    assert_eq!(check("update"), serde_json::json!({"allowed": true, "reason": "granted"}));
    assert_eq!(check("delete")["reason"], "not_granted");
    let table = roster(&db, &["permission", "list", "--tenant", "acme", "--user", "ana"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("voice_bot") && text.contains("-ru-") && text.contains("active"), "{text}");
    ok(&["permission", "revoke", "--tenant", "acme", "--user", "ana", "--agent", "voice_bot", "--format", "json"]);
    assert_eq!(check("read")["reason"], "revoked");
    ok(&["agent", "retire", "--tenant", "acme", "voice_bot", "--format", "json"]);

    // mistakes exit 2 with one line naming what was wrong
    for (args, needle) in [
        (
            &[
                "permission",
                "check",
                "--tenant",
                "acme",
                "--user",
                "ana",
                "--agent",
                "pdf_processing",
                "--action",
                "fly",
            ][..],
            "action",
        ),
        (
            &[
                "permission",
                "grant",
                "--tenant",
                "acme",
                "--user",
                "nobody",
                "--agent",
                "pdf_processing",
                "--actions",
                "read",
            ][..],
            "--user",
        ),
        (
            &["permission", "grant", "--tenant", "acme", "--user", "ana", "--agent", "voice_bot", "--actions", "read"]
                [..],
            "voice_bot",
        ),
        (
            &[
                "permission",
                "grant",
                "--tenant",
                "acme",
                "--user",
                "ana",
                "--agent",
                "pdf_processing",
                "--actions",
                "read",
                "--expires-at",
                "2001-01-01T00:00:00Z",
            ][..],
            "expires_at",
        ),
        (&["agent", "add", "--tenant", "acme", "Bad-Name"][..], "name"),
    ] {
        let output = roster(&db, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
roster::backend_test!(permission_and_agent_commands_grant_check_and_revoke, permission_commands);

async fn audit_commands(backend: Backend) {
    let Some(db) = TestDb::of(backend).await else {
        return;
    };
    let ok = |args: &[&str]| {
        let output = roster(&db, args);
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ok(&["tenant", "create", "acme", "--name", "Acme"]);
    for name in ["ana", "bo", "cy"] {
        ok(&["user", "create", "--tenant", "acme", "--username", name]);
    }
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&["audit", "list", "--tenant", "acme", "--format", "json"])).unwrap();
    let seqs: Vec<i64> = listed.as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [4, 3, 2, 1]);
    let csv = ok(&[
        "audit",
        "list",
        "--tenant",
        "acme",
        "--action",
        "create",
        "--resource-type",
        "user",
        "--limit",
        "2",
        "--format",
        "csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("seq,occurred_at,actor,action,resource"), "{csv}");
    let table = ok(&["audit", "list", "--tenant", "acme", "--actor", "cli"]);
    assert!(table.lines().next().unwrap().starts_with("SEQ"), "{table}");

    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("audit.ndjson");
    ok(&["audit", "export", "--tenant", "acme", "--out", export.to_str().unwrap()]);
    let exported: Vec<serde_json::Value> =
        std::fs::read_to_string(&export).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(exported.iter().map(|e| e["seq"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2, 3, 4]);

    let checkpoints = dir.path().join("checkpoints.ndjson");
    std::fs::write(&checkpoints, ok(&["audit", "checkpoint"])).unwrap();
    let verified = ok(&["audit", "verify", "--checkpoint", checkpoints.to_str().unwrap()]);
    assert!(verified.contains("acme") && !verified.contains("BROKEN"), "{verified}");

    // the newest entry goes and the head is put back: only the checkpoint shows it
    let tenant_id = serde_json::from_str::<serde_json::Value>(&ok(&["tenant", "list", "--format", "json"]))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == "acme")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    let mut tx = db.store.begin().await.unwrap();
    match backend {
        Backend::Sqlite => tx.execute_batch("DROP TRIGGER audit_log_no_delete").await.unwrap(),
        Backend::Postgres => tx.execute_batch("ALTER TABLE audit_log DISABLE TRIGGER USER").await.unwrap(),
    }
    tx.execute("DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 4", vec![Value::Uuid(tenant_id)]).await.unwrap();
    tx.execute(
        "UPDATE audit_heads SET seq = 3, hash = (SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = 3) \
         WHERE tenant_id = $1",
        vec![Value::Uuid(tenant_id)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // keyed (SQLite's key file beside the database), the head's seal no longer holds: the cut shows without a
    // checkpoint; without a key (PostgreSQL with no ROSTER_SECRET_KEY) nothing is sealed and only the checkpoint shows
    let alone = roster(&db, &["audit", "verify", "--tenant", "acme"]);
    if backend == Backend::Sqlite {
        assert_eq!(alone.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&alone.stdout);
        assert!(stdout.contains("BROKEN") && stdout.contains("does not match its seal"), "{stdout}");
    } else {
        assert!(alone.status.success(), "a keyless chain cut cleanly looks whole");
    }
    let caught = roster(&db, &["audit", "verify", "--tenant", "acme", "--checkpoint", checkpoints.to_str().unwrap()]);
    assert_eq!(caught.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&caught.stdout).contains("BROKEN"));

    let bad = roster(&db, &["audit", "list", "--tenant", "acme", "--action", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("action"));
}
roster::backend_test!(audit_commands_list_export_checkpoint_and_verify, audit_commands);

async fn archive_commands(backend: Backend) {
    let Some(db) = TestDb::of(backend).await else {
        return;
    };
    let run = |args: &[&str]| roster(&db, args);
    assert!(run(&["tenant", "create", "acme", "--name", "Acme"]).status.success());
    assert!(run(&["user", "create", "--tenant", "acme", "--username", "ana"]).status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme-2026.ndjson");
    let out = run(&[
        "audit",
        "archive",
        "--tenant",
        "acme",
        "--before",
        "2999-01-01T00:00:00Z",
        "--out",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report = stdout_json(&out);
    assert_eq!((report["from_seq"].as_i64(), report["to_seq"].as_i64()), (Some(1), Some(2)));
    let checked = stdout_json(&run(&["audit", "verify-archive", file.to_str().unwrap(), "--format", "json"]));
    assert_eq!((&checked["ok"], &checked["anchored"], &checked["entries"]), (&true.into(), &true.into(), &2.into()));
    let verified = run(&["audit", "verify", "--tenant", "acme"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
    // the file is never overwritten, and an edited copy does not verify
    let again = run(&[
        "audit",
        "archive",
        "--tenant",
        "acme",
        "--before",
        "2999-01-01T00:00:00Z",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2), "{}", String::from_utf8_lossy(&again.stderr));
    let edited = dir.path().join("edited.ndjson");
    std::fs::write(&edited, std::fs::read_to_string(&file).unwrap().replace("\"ana\"", "\"eve\"")).unwrap();
    let broken = run(&["audit", "verify-archive", edited.to_str().unwrap()]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&broken.stdout).contains("BROKEN at entry 2"),
        "{}",
        String::from_utf8_lossy(&broken.stdout)
    );
}
roster::backend_test!(audit_archive_moves_old_entries_into_a_file_that_verifies, archive_commands);

/// Separate `roster` processes writing into one tenant at once (as several servers on one PostgreSQL would): the
/// chain comes out whole, one entry per write.
async fn concurrent_processes(backend: Backend) {
    let Some(db) = TestDb::of(backend).await else {
        return;
    };
    // every process with the same secret key, as servers of one deployment have
    let keyed = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .args(args)
            .arg("--database-url")
            .arg(&db.url)
            .env("ROSTER_SECRET_KEY", "dGVzdCBzZWNyZXQga2V5IG9mIHRoaXJ0eS10d28gYnk=")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null());
        command
    };
    assert!(keyed(&["tenant", "create", "acme", "--name", "Acme"]).output().unwrap().status.success());
    for round in 0..5 {
        let children: Vec<_> = (0..8)
            .map(|p| {
                let name = format!("p{p}r{round}");
                keyed(&["user", "create", "--tenant", "acme", "--username", &name])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("run roster")
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        }
    }
    let reports = stdout_json(&keyed(&["audit", "verify", "--tenant", "acme", "--format", "json"]).output().unwrap());
    let report = &reports[0]["report"];
    assert_eq!((&report["ok"], &report["entries_checked"]), (&true.into(), &41.into()), "{report}");
}
roster::backend_test!(the_chain_stays_whole_when_separate_processes_write_at_once, concurrent_processes);

/// `roster --version`: the release, the commit it was built from, and the migration level it expects.
#[test]
fn the_version_names_the_commit_and_the_migration_level() {
    let output = Command::new(env!("CARGO_BIN_EXE_roster")).arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let level = roster::migrations().iter().map(|m| m.version).max().unwrap();
    assert!(output.status.success());
    assert!(text.starts_with(&format!("roster {} (commit ", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(text.trim_end().ends_with(&format!(", migration level {level})")), "{text}");
    if std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.git").exists() {
        assert!(!text.contains("commit unknown"), "built in a checkout, the commit is known: {text}");
    }
}

/// The database keeps its key's fingerprint: a process with another key (or none) refuses in one line, before
/// writing anything — `serve` included.
async fn another_key_refused(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else { return };
    let key = "a2V5IG9mIHRoZSBkYXRhYmFzZSwgdGhpcnR5LXR3byBieXQ=";
    let other = "b3RoZXIgc2VjcmV0IGtleSBvZiB0aGlydHktdHdvIGJ5dGU=";
    let with = |key: Option<&str>, args: &[&str]| {
        let env: Vec<(&str, &str)> = key.map(|k| ("ROSTER_SECRET_KEY", k)).into_iter().collect();
        common::roster_with(&[args, &["--database-url", &db.url]].concat(), &env)
    };
    let seeded = with(Some(key), &["seed"]);
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let entries = || async { db.store.query_one::<(i64,)>("SELECT COUNT(*) FROM audit_log", vec![]).await.unwrap().0 };
    let before = entries().await;
    for args in [&["tenant", "create", "acme", "--name", "Acme"][..], &["user", "list", "--tenant", "default"][..]] {
        let refused = with(Some(other), args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("sealed under another secret key") && stderr.trim().lines().count() == 1, "{stderr}");
    }
    // SQLite finds the key file beside the database when none is configured: a PostgreSQL process has none
    if backend == Backend::Postgres {
        let keyless = with(None, &["user", "list", "--tenant", "default"]);
        assert_eq!(keyless.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&keyless.stderr).contains("this process has none"));
    }
    let port = free_port();
    let served = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", &db.url])
        .env("ROSTER_SECRET_KEY", other)
        .env_remove("ROSTER_DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(served.status.code(), Some(2), "serve refuses to start");
    assert!(String::from_utf8_lossy(&served.stderr).contains("sealed under another secret key"));
    assert_eq!(entries().await, before, "nothing was written");
    assert!(with(Some(key), &["user", "list", "--tenant", "default"]).status.success(), "the right key still opens it");
}
roster::backend_test!(a_process_with_another_key_refuses_in_one_line, another_key_refused);
