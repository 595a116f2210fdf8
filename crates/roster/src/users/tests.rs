use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::config::Config;
use crate::principal::{Actor, ActorKind, Principal, TenantScope};
use crate::store_test;

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

async fn tenant(store: &Store, slug: &str) -> TenantScope {
    crate::testing::operator_in_new_tenant(store, slug, NOW).await
}

fn passwords() -> Passwords {
    Passwords::from_config(&Config::default())
}

fn new_user(email: &str, username: &str) -> NewUser {
    NewUser { email: Some(email.into()), username: Some(username.into()), ..NewUser::default() }
}

async fn user_count(store: &Store) -> i64 {
    store.query_one::<(i64,)>("SELECT COUNT(*) FROM users", vec![]).await.unwrap().0
}

store_test!(a_created_user_reads_back_with_every_default, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    let input = NewUser { password: Some("correct horse".into()), ..new_user("Ana@Example.COM", "  ana  ") };
    let user = create(store, scope.admin().unwrap(), &passwords(), NOW, input).await.unwrap();
    assert_eq!(user.email.as_deref(), Some("Ana@Example.COM"));
    assert_eq!(user.username.as_deref(), Some("ana"));
    assert_eq!(user.display_name, "ana");
    assert_eq!((user.role.as_str(), user.user_type.as_str(), user.status.as_str()), ("user", "member", "active"));
    assert!(user.password_hash.as_deref().unwrap().starts_with("$argon2id$"));
    let read = get(store, &scope, user.id, false).await.unwrap();
    assert_eq!(read, user, "what was written is what is read, to the microsecond");
    assert!(!read.view().to_string().contains("argon2"), "the hash never leaves");
    assert_eq!(find_by_email(store, scope.admin().unwrap(), "ana@example.com").await.unwrap().id, user.id);
    assert_eq!(find_by_username(store, scope.admin().unwrap(), "ana ").await.unwrap().id, user.id);
    let entries = crate::audit::entries_for(store, &scope, "user", &user.id.to_string()).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].action, "create");
});

store_test!(emails_are_unique_per_tenant_case_insensitively, |db| async move {
    let store = &db.store;
    let acme = tenant(store, "acme").await;
    let other = tenant(store, "other").await;
    create(store, acme.admin().unwrap(), &passwords(), NOW, new_user("ana@example.com", "ana")).await.unwrap();
    let err = create(store, acme.admin().unwrap(), &passwords(), NOW, new_user("ANA@example.com", "ana2"))
        .await
        .unwrap_err()
        .answer();
    assert_eq!((err.status, err.errors[0].field.as_str()), (409, "email"));
    let err = create(store, acme.admin().unwrap(), &passwords(), NOW, new_user("b@example.com", "ana"))
        .await
        .unwrap_err()
        .answer();
    assert_eq!((err.status, err.errors[0].field.as_str()), (409, "username"));
    // another tenant may use both
    create(store, other.admin().unwrap(), &passwords(), NOW, new_user("ana@example.com", "ana")).await.unwrap();
    assert_eq!(user_count(store).await, 2);
});

store_test!(invalid_input_writes_nothing_and_names_every_field, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    let audit_before = crate::audit::count(store, &scope).await.unwrap();
    let input = NewUser {
        email: Some("not-an-address".into()),
        username: Some("bad/name".into()),
        timezone: Some("Mars/Olympus".into()),
        metadata: Some(serde_json::json!({"blob": "x".repeat(4001)})),
        preferences: Some(serde_json::json!([1, 2])),
        password: Some("short".into()),
        ..NewUser::default()
    };
    let err = create(store, scope.admin().unwrap(), &passwords(), NOW, input).await.unwrap_err().answer();
    assert_eq!(err.status, 422);
    let mut fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort();
    assert_eq!(fields, ["email", "metadata", "password", "preferences", "timezone", "username"]);
    let err = create(store, scope.admin().unwrap(), &passwords(), NOW, NewUser::default()).await.unwrap_err().answer();
    assert_eq!(err.errors[0].field, "email");
    assert_eq!(user_count(store).await, 0);
    assert_eq!(crate::audit::count(store, &scope).await.unwrap(), audit_before);
});

store_test!(soft_delete_frees_the_email_and_restore_checks_it, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    let admin = scope.admin().unwrap();
    let ana = create(store, admin, &passwords(), NOW, new_user("ana@example.com", "ana")).await.unwrap();
    let deleted = delete(store, admin, NOW, ana.id, Some(1)).await.unwrap();
    assert_eq!((deleted.deleted_at, deleted.version), (Some(NOW), 2));
    assert_eq!(get(store, &scope, ana.id, false).await.unwrap_err().answer().status, 404);
    assert_eq!(get(store, &scope, ana.id, true).await.unwrap().id, ana.id);
    assert_eq!(find_by_email(store, admin, "ana@example.com").await.unwrap_err().answer().status, 404);
    let page = list(store, admin, &UserFilter::default()).await.unwrap();
    assert!(page.items.is_empty());
    let page = list(store, admin, &UserFilter { include_deleted: true, ..UserFilter::default() }).await.unwrap();
    assert_eq!(page.items.len(), 1);

    let second = create(store, admin, &passwords(), NOW, new_user("ANA@example.com", "ana-two")).await.unwrap();
    let err = restore(store, admin, NOW, ana.id, None).await.unwrap_err().answer();
    assert_eq!((err.status, err.errors[0].field.as_str()), (409, "email"));
    assert!(get(store, &scope, ana.id, true).await.unwrap().deleted_at.is_some(), "a refused restore changes nothing");

    delete(store, admin, NOW, second.id, None).await.unwrap();
    let restored = restore(store, admin, NOW, ana.id, None).await.unwrap();
    assert_eq!(restored.deleted_at, None);
    let actions: Vec<String> = crate::audit::entries_for(store, &scope, "user", &ana.id.to_string())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["create", "delete", "restore"]);
});

store_test!(a_patch_changes_only_what_it_names_and_audits_the_difference, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    let admin = scope.admin().unwrap();
    let ana = create(store, admin, &passwords(), NOW, new_user("ana@example.com", "ana")).await.unwrap();
    let patch: UserPatch = serde_json::from_value(
        serde_json::json!({"display_name": "Ana Lima", "first_name": "Ana", "metadata": {"team": "qa"}}),
    )
    .unwrap();
    let later = NOW + time::Duration::minutes(5);
    let updated = update(store, admin, later, ana.id, Some(1), patch).await.unwrap();
    assert_eq!(
        (updated.display_name.as_str(), updated.first_name.as_deref(), updated.version),
        ("Ana Lima", Some("Ana"), 2)
    );
    assert_eq!(updated.email, ana.email);
    assert_eq!(get(store, &scope, ana.id, false).await.unwrap(), updated);

    let clear: UserPatch = serde_json::from_value(serde_json::json!({"first_name": null})).unwrap();
    assert_eq!(update(store, admin, later, ana.id, None, clear).await.unwrap().first_name, None);

    let entries = crate::audit::entries_for(store, &scope, "user", &ana.id.to_string()).await.unwrap();
    let change = &entries[1];
    assert_eq!(change.action, "update");
    assert_eq!(
        change.new_values,
        Some(serde_json::json!({"display_name": "Ana Lima", "first_name": "Ana", "metadata": {"team": "qa"}}))
    );
    assert_eq!(change.old_values, Some(serde_json::json!({"display_name": "ana", "first_name": null, "metadata": {}})));
});

store_test!(a_stale_version_is_refused, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    let admin = scope.admin().unwrap();
    let ana = create(store, admin, &passwords(), NOW, new_user("ana@example.com", "ana")).await.unwrap();
    let rename = |name: &str| UserPatch { display_name: Some(name.into()), ..UserPatch::default() };
    update(store, admin, NOW, ana.id, Some(1), rename("first")).await.unwrap();
    let err = update(store, admin, NOW, ana.id, Some(1), rename("second")).await.unwrap_err().answer();
    assert_eq!(err.status, 412);
    assert_eq!(get(store, &scope, ana.id, false).await.unwrap().display_name, "first");
});

store_test!(concurrent_patches_with_one_version_have_one_winner, |db| async move {
    let store = db.store.clone();
    let scope = tenant(&store, "acme").await;
    let ana =
        create(&store, scope.admin().unwrap(), &passwords(), NOW, new_user("ana@example.com", "ana")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, scope) = (store.clone(), scope.clone());
        tasks.push(tokio::spawn(async move {
            let patch = UserPatch { display_name: Some(format!("writer {i}")), ..UserPatch::default() };
            update(&store, scope.admin().unwrap(), NOW, ana.id, Some(1), patch)
                .await
                .map(|_| ())
                .map_err(|p| p.answer().status)
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(o, Ok(()) | Err(412))), "one answer on both backends: {outcomes:?}");
    assert_eq!(get(&store, &scope, ana.id, false).await.unwrap().version, 2);
});

store_test!(a_tenant_scope_never_reaches_another_tenant, |db| async move {
    let store = &db.store;
    let acme = tenant(store, "acme").await;
    let other = tenant(store, "other").await;
    let bob =
        create(store, other.admin().unwrap(), &passwords(), NOW, new_user("bob@example.com", "bob")).await.unwrap();
    let admin = acme.admin().unwrap();
    assert_eq!(get(store, &acme, bob.id, true).await.unwrap_err().answer().status, 404);
    assert_eq!(find_by_email(store, admin, "bob@example.com").await.unwrap_err().answer().status, 404);
    assert_eq!(find_by_username(store, admin, "bob").await.unwrap_err().answer().status, 404);
    assert!(list(store, admin, &UserFilter { include_deleted: true, ..UserFilter::default() })
        .await
        .unwrap()
        .items
        .is_empty());
    let patch = UserPatch { display_name: Some("hijacked".into()), ..UserPatch::default() };
    assert_eq!(update(store, admin, NOW, bob.id, None, patch).await.unwrap_err().answer().status, 404);
    assert_eq!(delete(store, admin, NOW, bob.id, None).await.unwrap_err().answer().status, 404);
    assert_eq!(get(store, &other, bob.id, false).await.unwrap(), bob, "untouched");
});

store_test!(a_plain_user_sees_only_itself, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    let admin = scope.admin().unwrap();
    let ana = create(store, admin, &passwords(), NOW, new_user("ana@example.com", "ana")).await.unwrap();
    let bob = create(store, admin, &passwords(), NOW, new_user("bob@example.com", "bob")).await.unwrap();
    let principal = Principal {
        kind: ActorKind::User,
        user_id: Some(ana.id),
        api_key_id: None,
        session_id: None,
        tenant_id: scope.tenant_id(),
        role: Role::User,
    };
    let ana_scope = TenantScope::for_principal(&principal, scope.tenant().clone(), Actor::default()).unwrap();
    assert!(ana_scope.admin().is_err());
    assert_eq!(get(store, &ana_scope, ana.id, false).await.unwrap().id, ana.id);
    assert_eq!(get(store, &ana_scope, bob.id, false).await.unwrap_err().answer().status, 404);
});

store_test!(lists_filter_and_page_without_gaps_or_repeats, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    let admin = scope.admin().unwrap();
    for i in 0..23 {
        let input = NewUser {
            user_type: Some(if i % 3 == 0 { UserType::Tester } else { UserType::Member }),
            display_name: Some(format!("Person {i}")),
            ..new_user(&format!("p{i}@example.com"), &format!("person_{i}"))
        };
        create(store, admin, &passwords(), NOW, input).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut filter = UserFilter { limit: Some(5), ..UserFilter::default() };
    loop {
        let page = list(store, admin, &filter).await.unwrap();
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next_cursor {
            Some(c) => filter.cursor = Some(c),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((seen.len(), sorted.len()), (23, 23));
    let testers = list(
        store,
        admin,
        &UserFilter { user_type: Some(UserType::Tester), limit: Some(500), ..UserFilter::default() },
    )
    .await
    .unwrap();
    assert_eq!(testers.items.len(), 8);
    let q = list(store, admin, &UserFilter { q: Some("PERSON_1".into()), ..UserFilter::default() }).await.unwrap();
    // person_1 and person_10..person_19
    assert_eq!(q.items.len(), 11);
    let literal = list(store, admin, &UserFilter { q: Some("%".into()), ..UserFilter::default() }).await.unwrap();
    assert!(literal.items.is_empty(), "% is matched literally");
    assert_eq!(
        list(store, admin, &UserFilter { limit: Some(501), ..UserFilter::default() })
            .await
            .unwrap_err()
            .answer()
            .status,
        422
    );
    assert_eq!(
        list(store, admin, &UserFilter { cursor: Some("nope".into()), ..UserFilter::default() })
            .await
            .unwrap_err()
            .answer()
            .status,
        422
    );
});

store_test!(imported_hashes_and_identities_are_kept, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    let admin = scope.admin().unwrap();
    let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    let input = NewUser {
        password_hash: Some(bcrypt.into()),
        identity_provider: Some("entra_id".into()),
        identity_provider_id: Some("abc-123".into()),
        ..new_user("ana@example.com", "ana")
    };
    let ana = create(store, admin, &passwords(), NOW, input.clone()).await.unwrap();
    assert_eq!(ana.password_hash.as_deref(), Some(bcrypt));
    assert_eq!(ana.status, UserStatus::Active);
    let err = create(
        store,
        admin,
        &passwords(),
        NOW,
        NewUser {
            email: Some("other@example.com".into()),
            username: Some("other".into()),
            password_hash: None,
            ..input
        },
    )
    .await
    .unwrap_err()
    .answer();
    assert_eq!((err.status, err.errors[0].field.as_str()), (409, "identity_provider_id"));
    let invited = create(store, admin, &passwords(), NOW, new_user("new@example.com", "new")).await.unwrap();
    assert_eq!(invited.status, UserStatus::Invited, "no credential: the user is invited");
});

store_test!(an_admin_cannot_make_a_sysadmin, |db| async move {
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    let principal = Principal {
        kind: ActorKind::ApiKey,
        user_id: None,
        api_key_id: None,
        session_id: None,
        tenant_id: scope.tenant_id(),
        role: Role::Admin,
    };
    let admin_scope = TenantScope::for_principal(&principal, scope.tenant().clone(), Actor::default()).unwrap();
    let input = NewUser { role: Some(Role::Sysadmin), ..new_user("root@example.com", "root") };
    let err = create(store, admin_scope.admin().unwrap(), &passwords(), NOW, input).await.unwrap_err().answer();
    assert_eq!(err.status, 403);
    assert_eq!(user_count(store).await, 0);
});

/// A user of `tenant` built by hand (role user, active), for decisions that need no database.
pub(super) fn sample_user(tenant: uuid::Uuid) -> User {
    User {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant,
        email: Some("sample@example.com".into()),
        email_key: Some("sample@example.com".into()),
        username: None,
        display_name: "Sample".into(),
        first_name: None,
        last_name: None,
        user_type: UserType::Member,
        role: Role::User,
        status: UserStatus::Active,
        password_hash: None,
        identity_provider: None,
        identity_provider_id: None,
        totp_secret: None,
        totp_enabled_at: None,
        email_verified_at: None,
        failed_login_attempts: 0,
        locked_until: None,
        last_login_at: None,
        login_count: 0,
        last_session_start: None,
        last_active_at: None,
        total_usage_minutes: 0,
        target_role: None,
        experience_level: None,
        timezone: "UTC".into(),
        preferences: serde_json::json!({}),
        metadata: serde_json::json!({}),
        level: 1,
        xp: 0,
        raw_data: None,
        first_seen: None,
        last_seen: None,
        created_at: NOW,
        updated_at: NOW,
        deleted_at: None,
        version: 1,
    }
}

store_test!(users_are_listed_by_target_role_and_experience_level, |db| async move {
    use model::ExperienceLevel;
    let store = &db.store;
    let scope = tenant(store, "acme").await;
    let admin = scope.admin().unwrap();
    for (i, (target_role, level)) in [
        (Some("Support Analyst"), Some(ExperienceLevel::Junior)),
        (Some("Support Analyst"), Some(ExperienceLevel::Senior)),
        (Some("QA Engineer"), Some(ExperienceLevel::Junior)),
        (None, None),
    ]
    .into_iter()
    .enumerate()
    {
        let input = NewUser {
            target_role: target_role.map(str::to_owned),
            experience_level: level,
            ..new_user(&format!("u{i}@example.com"), &format!("u{i}"))
        };
        create(store, admin, &passwords(), NOW, input).await.unwrap();
    }
    let names = |filter: UserFilter| async move {
        let page = list(store, admin, &filter).await.unwrap();
        page.items.into_iter().map(|u| u.username.unwrap()).collect::<Vec<_>>()
    };
    let by_role = UserFilter { target_role: Some("  Support Analyst ".into()), ..UserFilter::default() };
    assert_eq!(names(by_role).await, ["u0", "u1"]);
    let by_level = UserFilter { experience_level: Some(ExperienceLevel::Junior), ..UserFilter::default() };
    assert_eq!(names(by_level).await, ["u0", "u2"]);
    let both = UserFilter {
        target_role: Some("Support Analyst".into()),
        experience_level: Some(ExperienceLevel::Junior),
        ..UserFilter::default()
    };
    assert_eq!(names(both).await, ["u0"]);
    let too_long = UserFilter { target_role: Some("x".repeat(101)), ..UserFilter::default() };
    assert_eq!(list(store, admin, &too_long).await.unwrap_err().answer().errors[0].field, "target_role");
    if store.backend() == crate::store::Backend::Sqlite {
        for (column, index) in [("target_role", "users_target_role"), ("experience_level", "users_experience_level")] {
            let sql = format!("EXPLAIN QUERY PLAN SELECT id FROM users WHERE tenant_id = x'00' AND {column} = 'x' AND id > x'00' ORDER BY id LIMIT 51");
            let plan: Vec<(i64, i64, i64, String)> = store.query(sql, vec![]).await.unwrap();
            let plan: Vec<String> = plan.into_iter().map(|r| r.3).collect();
            assert!(plan.iter().any(|step| step.contains(index)), "{column}: {plan:?}");
        }
    }
});

/// The answer an error gets over HTTP, which these tests check.
trait Answer {
    fn answer(self) -> crate::http::Problem;
}

impl Answer for UserError {
    fn answer(self) -> crate::http::Problem {
        self.into()
    }
}

impl Answer for crate::http::Problem {
    fn answer(self) -> crate::http::Problem {
        self
    }
}
