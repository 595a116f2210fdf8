//! Upgrades with data in them: a database made at each earlier migration level — the migrations run up to that level,
//! each level's new tables filled with representative rows as that level's code wrote them — is upgraded by this
//! binary, and every row must come through with every value it had, its audit chain verifying and the current code
//! able to write beside it. Then each level down and back up again, the rows of the tables that level has intact.

use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Migrator;
use crate::audit::{AuditEntry, MacKind};
use crate::principal::{Actor, Sysadmin};
use crate::store::{Backend, Store, Value};
use crate::testing::TestDb;

/// A row as a level's code wrote it: its table and every column it set.
struct Row {
    version: i64,
    table: &'static str,
    values: Vec<(&'static str, Value)>,
}

fn at(micros: i64) -> Value {
    Value::Timestamp(crate::store::from_micros(1_780_000_000_000_000 + micros).expect("in range"))
}

/// Two audit entries of the tenant, sealed unkeyed as level 2 sealed them, and its chain head; and the first entry's
/// seal (what an archive anchor of it holds).
fn audit_rows(tenant: Uuid, user: Uuid) -> (Vec<Row>, Vec<u8>) {
    let mut prev = vec![0u8; 32];
    let mut rows = Vec::new();
    let mut first = Vec::new();
    for seq in 1..=2 {
        let mut entry = AuditEntry {
            tenant_id: tenant,
            seq,
            id: Uuid::from_u128(0xa0 + seq as u128),
            occurred_at: crate::store::from_micros(1_780_000_000_000_000 + seq).expect("in range"),
            actor_kind: "cli".into(),
            actor_user_id: None,
            actor_api_key_id: None,
            action: if seq == 1 { "create".into() } else { "update".into() },
            resource_type: "user".into(),
            resource_id: user.to_string(),
            old_values: (seq == 2).then(|| json!({"display_name": "Ana"})),
            new_values: Some(json!({"display_name": if seq == 1 { "Ana" } else { "Ana Lima" }})),
            ip_address: Some("192.0.2.7".into()),
            user_agent: None,
            session_id: None,
            request_id: Some(format!("req-{seq}")),
            mac_kind: MacKind::Sha256,
            prev_hash: prev.clone(),
            hash: Vec::new(),
        };
        entry.hash = crate::audit::seal(&entry, None).expect("an unkeyed seal needs no key");
        prev = entry.hash.clone();
        if seq == 1 {
            first = entry.hash.clone();
        }
        rows.push(Row {
            version: 2,
            table: "audit_log",
            values: vec![
                ("tenant_id", tenant.into()),
                ("seq", seq.into()),
                ("id", entry.id.into()),
                ("occurred_at", entry.occurred_at.into()),
                ("actor_kind", entry.actor_kind.clone().into()),
                ("action", entry.action.clone().into()),
                ("resource_type", entry.resource_type.clone().into()),
                ("resource_id", entry.resource_id.clone().into()),
                ("old_values", entry.old_values.clone().into()),
                ("new_values", entry.new_values.clone().into()),
                ("ip_address", entry.ip_address.clone().into()),
                ("request_id", entry.request_id.clone().into()),
                ("prev_hash", entry.prev_hash.clone().into()),
                ("hash", entry.hash.clone().into()),
            ],
        });
    }
    rows.push(Row {
        version: 2,
        table: "audit_heads",
        values: vec![("tenant_id", tenant.into()), ("seq", 2i64.into()), ("hash", prev.into())],
    });
    (rows, first)
}

/// The representative rows of every level, in the order they are written.
fn rows() -> Vec<Row> {
    let tenant = Uuid::from_u128(0x7e);
    let ana = Uuid::from_u128(0xa1);
    let bruno = Uuid::from_u128(0xb2);
    let scenario = Uuid::from_u128(0x5c);
    let session = Uuid::from_u128(0x5e);
    let achievement = Uuid::from_u128(0xac);
    let group = Uuid::from_u128(0x96);
    let t = || Value::Uuid(tenant);
    let mut rows = vec![Row {
        version: 1,
        table: "tenants",
        values: vec![
            ("id", t()),
            ("slug", "acme".into()),
            ("name", "Acme Ltda.".into()),
            ("external_id", "crm-17".into()),
            ("status", "active".into()),
            ("created_at", at(0)),
            ("updated_at", at(1)),
            ("version", 2i64.into()),
        ],
    }];
    let (audit, first_seal) = audit_rows(tenant, ana);
    rows.extend(audit);
    rows.extend([
        Row {
            version: 3,
            table: "users",
            values: vec![
                ("tenant_id", t()),
                ("id", ana.into()),
                ("email", "Ana.Lima@Example.com".into()),
                ("email_key", "ana.lima@example.com".into()),
                ("username", "ana.lima".into()),
                ("display_name", "Ana Lima".into()),
                ("first_name", "Ana".into()),
                ("user_type", "tester".into()),
                ("role", "admin".into()),
                ("status", "active".into()),
                ("password_hash", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into()),
                ("totp_secret", vec![9u8, 8, 7, 6, 5].into()),
                ("totp_enabled_at", at(5)),
                ("failed_login_attempts", 2i64.into()),
                ("login_count", 41i64.into()),
                ("last_login_at", at(40)),
                ("target_role", "qa_lead".into()),
                ("experience_level", "senior".into()),
                ("timezone", "America/Sao_Paulo".into()),
                ("preferences", json!({"theme": "dark", "digest": ["weekly"]}).into()),
                ("metadata", json!({"source": "import", "rank": 3}).into()),
                ("level", 3i64.into()),
                ("xp", 310i64.into()),
                ("first_seen", at(2)),
                ("last_seen", at(60)),
                ("created_at", at(2)),
                ("updated_at", at(60)),
                ("version", 7i64.into()),
            ],
        },
        Row {
            version: 3,
            table: "users",
            values: vec![
                ("tenant_id", t()),
                ("id", bruno.into()),
                ("username", "bruno".into()),
                ("display_name", "Bruno".into()),
                ("identity_provider", "okta".into()),
                ("identity_provider_id", "00u1".into()),
                ("status", "suspended".into()),
                ("created_at", at(3)),
                ("updated_at", at(4)),
                ("deleted_at", at(9)),
            ],
        },
        Row {
            version: 4,
            table: "api_keys",
            values: vec![
                ("tenant_id", t()),
                ("id", Uuid::from_u128(0x4e).into()),
                ("name", "ci".into()),
                ("role", "admin".into()),
                ("key_hash", vec![0x11u8; 32].into()),
                ("prefix", "rk_ab12".into()),
                ("created_at", at(6)),
                ("expires_at", at(9_000_000)),
            ],
        },
        Row {
            version: 5,
            table: "sessions",
            values: vec![
                ("tenant_id", t()),
                ("id", Uuid::from_u128(0x55).into()),
                ("user_id", ana.into()),
                ("token_hash", vec![0x22u8; 32].into()),
                ("created_at", at(7)),
                ("expires_at", at(8_000_000)),
                ("last_active_at", at(70)),
                ("usage_seconds", 125i64.into()),
                ("ip_address", "198.51.100.4".into()),
                ("user_agent", "Mozilla/5.0".into()),
            ],
        },
        Row {
            version: 6,
            table: "user_tokens",
            values: vec![
                ("tenant_id", t()),
                ("id", Uuid::from_u128(0x66).into()),
                ("user_id", ana.into()),
                ("purpose", "password_reset".into()),
                ("token_hash", vec![0x33u8; 32].into()),
                ("created_at", at(8)),
                ("expires_at", at(3_600_000_000)),
            ],
        },
        Row {
            version: 7,
            table: "totp_recovery_codes",
            values: vec![
                ("tenant_id", t()),
                ("user_id", ana.into()),
                ("code_hash", vec![0x44u8; 32].into()),
                ("created_at", at(9)),
            ],
        },
        Row {
            version: 8,
            table: "tests",
            values: vec![
                ("tenant_id", t()),
                ("id", 500i64.into()),
                ("product_id", 7i64.into()),
                ("title", "Checkout, rapid".into()),
                ("testing_type", "rapid".into()),
                ("created_by", "Bruno".into()),
                ("created_by_user_id", bruno.into()),
                ("raw_data", Value::JsonText(r#"{"id": 500, "title": "Checkout, rapid"}"#.into())),
                ("record_at", at(10)),
                ("synced_at", at(11)),
            ],
        },
        Row {
            version: 8,
            table: "bugs",
            values: vec![
                ("tenant_id", t()),
                ("id", 9001i64.into()),
                ("test_id", 500i64.into()),
                ("title", "Pay button does nothing".into()),
                ("severity", "critical".into()),
                ("status", "accepted".into()),
                ("reported_at", at(12)),
                ("known", false.into()),
                ("raw_data", Value::JsonText(r#"{"id": 9001, "author": {"name": "Ana Lima"}}"#.into())),
                ("reported_by_user_id", ana.into()),
                ("record_at", at(12)),
                ("synced_at", at(13)),
            ],
        },
        Row {
            version: 8,
            table: "contribution_days",
            values: vec![
                ("tenant_id", t()),
                ("kind", "reported".into()),
                ("day", 20_602i64.into()),
                ("user_id", ana.into()),
                ("records", 1i64.into()),
            ],
        },
        Row {
            version: 8,
            table: "contribution_totals",
            values: vec![
                ("tenant_id", t()),
                ("kind", "reported".into()),
                ("user_id", ana.into()),
                ("records", 1i64.into()),
            ],
        },
        Row {
            version: 12,
            table: "agents",
            values: vec![
                ("tenant_id", t()),
                ("name", "billing_export".into()),
                ("description", "Billing exports".into()),
                ("created_at", at(14)),
            ],
        },
        Row {
            version: 12,
            table: "agent_permissions",
            values: vec![
                ("tenant_id", t()),
                ("user_id", ana.into()),
                ("agent_name", "billing_export".into()),
                ("can_create", false.into()),
                ("can_read", true.into()),
                ("can_update", true.into()),
                ("can_delete", false.into()),
                ("expires_at", at(86_400_000_000)),
                ("created_at", at(15)),
                ("updated_at", at(15)),
                ("version", 1i64.into()),
            ],
        },
        Row {
            version: 14,
            table: "audit_anchors",
            values: vec![
                ("tenant_id", t()),
                ("seq", 1i64.into()),
                ("hash", first_seal.into()),
                ("mac_kind", 0i64.into()),
                ("archived_at", at(16)),
                ("file_sha256", "ab".repeat(32).into()),
            ],
        },
        Row {
            version: 15,
            table: "clients",
            values: vec![
                ("tenant_id", t()),
                ("id", Uuid::from_u128(0xc1).into()),
                ("name", "João da Silva".into()),
                ("name_key", "joao da silva".into()),
                ("cpf", "12345678909".into()),
                ("birth_date", Value::Date(time::macros::date!(1987 - 04 - 23))),
                ("created_by", ana.into()),
                ("created_at", at(17)),
                ("updated_at", at(17)),
                ("is_active", true.into()),
            ],
        },
        Row {
            version: 16,
            table: "scenarios",
            values: vec![
                ("tenant_id", t()),
                ("id", scenario.into()),
                ("title", "Refund a double charge".into()),
                ("difficulty", "intermediate".into()),
                ("estimated_time", 20i64.into()),
                ("xp_reward", 150i64.into()),
                ("customer_persona", json!({"name": "Rita", "mood": "upset"}).into()),
                ("assessment_criteria", json!({"weights": {"technical": 2}}).into()),
                ("prerequisites", json!([]).into()),
                ("created_at", at(18)),
                ("updated_at", at(18)),
            ],
        },
        Row {
            version: 17,
            table: "training_sessions",
            values: vec![
                ("tenant_id", t()),
                ("id", session.into()),
                ("user_id", ana.into()),
                ("scenario_id", scenario.into()),
                ("status", "completed".into()),
                ("started_at", at(19)),
                ("completed_at", at(20)),
                ("resolution_data", json!({"refund": "issued"}).into()),
                ("message_count", 1i64.into()),
            ],
        },
        Row {
            version: 17,
            table: "chat_messages",
            values: vec![
                ("tenant_id", t()),
                ("session_id", session.into()),
                ("seq", 1i64.into()),
                ("id", Uuid::from_u128(0xce).into()),
                ("sender_type", "user".into()),
                ("message_type", "text".into()),
                ("content", "Olá! Como posso ajudar?".into()),
                ("created_at", at(19)),
            ],
        },
        Row {
            version: 17,
            table: "performance_metrics",
            values: vec![
                ("tenant_id", t()),
                ("id", Uuid::from_u128(0x9e).into()),
                ("user_id", ana.into()),
                ("session_id", session.into()),
                ("scenario_id", scenario.into()),
                ("difficulty", "intermediate".into()),
                ("verification_score", 90i64.into()),
                ("communication_score", 80i64.into()),
                ("technical_score", 70i64.into()),
                ("documentation_score", 85i64.into()),
                ("response_time_score", 95i64.into()),
                ("overall_score", 81.67f64.into()),
                ("xp_earned", 123i64.into()),
                ("created_at", at(20)),
            ],
        },
        Row {
            version: 17,
            table: "training_totals",
            values: vec![
                ("tenant_id", t()),
                ("user_id", ana.into()),
                ("difficulty", "intermediate".into()),
                ("sessions", 1i64.into()),
                ("verification", 9000i64.into()),
                ("communication", 8000i64.into()),
                ("technical", 7000i64.into()),
                ("documentation", 8500i64.into()),
                ("response_time", 9500i64.into()),
                ("overall", 8167i64.into()),
            ],
        },
        Row {
            version: 18,
            table: "achievements",
            values: vec![
                ("tenant_id", t()),
                ("id", achievement.into()),
                ("code", "first-steps".into()),
                ("name", "First steps".into()),
                ("tier", "bronze".into()),
                ("criteria", json!({"kind": "sessions_completed", "count": 1}).into()),
                ("xp_bonus", 25i64.into()),
                ("created_at", at(21)),
            ],
        },
        Row {
            version: 18,
            table: "user_achievements",
            values: vec![
                ("tenant_id", t()),
                ("user_id", ana.into()),
                ("achievement_id", achievement.into()),
                ("earned_at", at(20)),
                ("session_id", session.into()),
            ],
        },
        Row {
            version: 19,
            table: "user_groups",
            values: vec![
                ("tenant_id", t()),
                ("id", group.into()),
                ("display_name", "QA Leads".into()),
                ("name_key", "qa leads".into()),
                ("external_id", "grp-9".into()),
                ("created_at", at(22)),
                ("updated_at", at(22)),
            ],
        },
        Row {
            version: 19,
            table: "group_members",
            values: vec![("tenant_id", t()), ("group_id", group.into()), ("user_id", ana.into()), ("added_at", at(22))],
        },
    ]);
    rows
}

/// The rows, with or without the archive anchor (a database whose log was archived cannot go below level 14).
fn rows_of(anchored: bool) -> impl Iterator<Item = Row> {
    rows().into_iter().filter(move |r| anchored || r.table != "audit_anchors")
}

/// Write the rows of one level, as that level's code would have, in one transaction.
async fn fill(store: &Store, version: i64, anchored: bool) {
    let mut tx = store.begin().await.unwrap();
    for row in rows_of(anchored).filter(|r| r.version == version) {
        let columns: Vec<&str> = row.values.iter().map(|(c, _)| *c).collect();
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let sql = format!("INSERT INTO {} ({}) VALUES ({})", row.table, columns.join(", "), marks.join(", "));
        let values: Vec<Value> = row.values.into_iter().map(|(_, v)| v).collect();
        tx.execute(sql, values).await.unwrap_or_else(|e| panic!("level {version}, {}: {e}", row.table));
    }
    tx.commit().await.unwrap();
}

/// Every row of the levels up to `level` is there with every value it was written with.
async fn assert_rows(store: &Store, level: i64, anchored: bool, when: &str) {
    let same = match store.backend() {
        Backend::Sqlite => "IS",
        Backend::Postgres => "IS NOT DISTINCT FROM",
    };
    for row in rows_of(anchored).filter(|r| r.version <= level) {
        let conditions: Vec<String> =
            row.values.iter().enumerate().map(|(i, (c, _))| format!("{c} {same} ${}", i + 1)).collect();
        let sql = format!("SELECT COUNT(*) FROM {} WHERE {}", row.table, conditions.join(" AND "));
        let described = format!("{:?}", row.values.iter().map(|(c, _)| *c).collect::<Vec<_>>());
        let values: Vec<Value> = row.values.into_iter().map(|(_, v)| v).collect();
        let (n,): (i64,) = store.query_one(sql, values).await.unwrap();
        assert_eq!(n, 1, "{when}: a {} row of level {} lost or changed one of {described}", row.table, row.version);
    }
}

/// The tenant's chain verifies (under the store's key, if any).
async fn assert_chain(store: &Store, when: &str) {
    let tenant = crate::tenants::find(store, "acme").await.unwrap().expect("the tenant");
    let scope = Sysadmin::operator_unchecked(Actor::cli()).scope(tenant.as_ref());
    let report = crate::audit::verify(store, &scope, None).await.unwrap();
    assert!(report.ok && report.last_seq >= 2, "{when}: {report:?}");
}

fn levels() -> Vec<i64> {
    crate::migrations().iter().map(|m| m.version).collect()
}

async fn each_level_upgrades(backend: Backend) {
    let all = levels();
    let newest = *all.last().unwrap();
    for &level in all.iter().filter(|v| **v < newest) {
        let Some(db) = TestDb::of_empty(backend).await else { return };
        let migrations = crate::migrations();
        let migrator = Migrator::new(&db.store, &migrations);
        for &version in all.iter().filter(|v| **v <= level) {
            migrator.up(Some(version)).await.unwrap();
            fill(&db.store, version, true).await;
        }
        // this binary's upgrade
        let applied = migrator.up(None).await.unwrap();
        assert_eq!(applied, all.iter().copied().filter(|v| *v > level).collect::<Vec<_>>());
        let when = format!("{} upgraded from level {level}", backend.name());
        assert_rows(&db.store, level, true, &when).await;
        if level >= 2 {
            assert_chain(&db.store, &when).await;
        }
        // an archived log keeps the database at level 14 or above: the way down stops there, refused, and back up
        // every row is as it was (at level 14, where the tables above it hold nothing yet)
        if level == 14 {
            let refused = migrator.down_to(13).await.unwrap_err().to_string();
            assert!(refused.contains("stay at migration 14"), "{when}: {refused}");
            let status = migrator.status().await.unwrap();
            let newest_applied = status.iter().filter(|s| s.state == "applied").map(|s| s.version).max();
            assert_eq!(newest_applied, Some(14), "{when}");
            migrator.up(None).await.unwrap();
            assert_rows(&db.store, level, true, &when).await;
        }
        // the default agents came with level 12 for the tenants there were
        if (1..12).contains(&level) {
            let (agents,): (i64,) = db.store.query_one("SELECT COUNT(*) FROM agents", vec![]).await.unwrap();
            assert_eq!(agents, 4, "{when}");
        }
        // the current code writes beside the old rows, and the chain goes on from theirs
        if level >= 3 {
            let tenant = crate::tenants::find(&db.store, "acme").await.unwrap().unwrap();
            let scope = crate::principal::TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli());
            let patch = crate::users::UserPatch { display_name: Some("Ana L.".into()), ..Default::default() };
            let now = OffsetDateTime::now_utc();
            crate::users::update(&db.store, scope.admin().unwrap(), now, Uuid::from_u128(0xa1), None, patch)
                .await
                .unwrap_or_else(|e| panic!("{when}: {e}"));
            assert_chain(&db.store, &when).await;
        }
        db.store.clone().close().await;
    }
}
crate::backend_test!(a_database_of_each_earlier_level_upgrades_with_its_rows_intact, each_level_upgrades);

async fn down_and_back(backend: Backend) {
    let Some(db) = TestDb::of_empty(backend).await else { return };
    let migrations = crate::migrations();
    let migrator = Migrator::new(&db.store, &migrations);
    let all = levels();
    for &version in &all {
        migrator.up(Some(version)).await.unwrap();
        fill(&db.store, version, false).await;
    }
    let newest = *all.last().unwrap();
    assert_rows(&db.store, newest, false, "filled").await;
    for &level in all.iter().rev().skip(1) {
        migrator.down_to(level).await.unwrap();
        let when = format!("{} down to level {level}", backend.name());
        assert_rows(&db.store, level, false, &when).await;
        migrator.up(None).await.unwrap();
        assert_rows(&db.store, level, false, &format!("{when} and back up")).await;
        assert!(migrator.is_current().await.unwrap());
        if level >= 2 {
            assert_chain(&db.store, &when).await;
        }
    }
}
crate::backend_test!(each_level_down_and_back_keeps_the_rows_it_has, down_and_back);
