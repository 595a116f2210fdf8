use serde_json::json;
use time::macros::datetime;
use time::Duration;

use super::*;
use crate::http::Problem;
use crate::principal::{Actor, ActorKind, Principal, TenantId};
use crate::store_test;
use crate::testing::operator_in_new_tenant;
use crate::users::{NewUser, Passwords};

const NOW: OffsetDateTime = datetime!(2026-12-02 12:00 UTC);

async fn person(store: &Store, operator: &TenantScope, name: &str, role: Role) -> Uuid {
    // active: an invited account (no password) would be allowed nothing
    let status = Some(crate::users::UserStatus::Active);
    let input = NewUser { username: Some(name.into()), role: Some(role), status, ..NewUser::default() };
    let passwords = Passwords::from_config(&crate::config::Config::default());
    users::create(store, operator.admin().unwrap(), &passwords, NOW, input).await.unwrap().id
}

/// The scope of a signed-in user of the operator's tenant.
fn signed_in(operator: &TenantScope, user_id: Uuid, role: Role) -> TenantScope {
    let principal = Principal {
        kind: ActorKind::User,
        user_id: Some(user_id),
        api_key_id: None,
        session_id: None,
        tenant_id: TenantId::authenticated(operator.tenant_id().uuid()),
        role,
    };
    TenantScope::for_principal(&principal, operator.tenant().clone(), Actor::default()).unwrap()
}

fn status(e: PermissionError) -> u16 {
    Problem::from(e).status
}

fn read_only(expires_at: Option<OffsetDateTime>) -> GrantInput {
    GrantInput { can_read: true, expires_at, ..GrantInput::default() }
}

async fn permission_entries(store: &Store, scope: &TenantScope, user: Uuid) -> Vec<crate::audit::AuditEntry> {
    let entries = crate::audit::entries_for(store, scope, "user", &user.to_string()).await.unwrap();
    entries.into_iter().filter(|e| e.action == "permission_change").collect()
}

store_test!(a_new_tenant_starts_with_the_built_in_catalogue_which_admins_extend_and_retire, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let names = |agents: Vec<Agent>| agents.into_iter().map(|a| a.name).collect::<Vec<_>>();
    let listed = names(agents(store, op.admin().unwrap(), false).await.unwrap());
    assert_eq!(listed, ["audio_recording", "client_management", "pdf_processing", "reports_analysis"]);

    let new = NewAgent { name: "voice_bot".into(), description: Some("  Answers calls ".into()) };
    let (agent, created) = add_agent(store, op.admin().unwrap(), NOW, new.clone()).await.unwrap();
    assert!(created);
    assert_eq!(agent.description.as_deref(), Some("Answers calls"));
    assert_eq!(status(add_agent(store, op.admin().unwrap(), NOW, new.clone()).await.unwrap_err()), 409);
    let bad = NewAgent { name: "Voice-Bot".into(), description: Some("x".repeat(501)) };
    match add_agent(store, op.admin().unwrap(), NOW, bad).await.unwrap_err() {
        PermissionError::Invalid(errors) => {
            assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["name", "description"])
        }
        other => panic!("{other:?}"),
    }

    let retired = retire_agent(store, op.admin().unwrap(), NOW, "voice_bot").await.unwrap();
    assert_eq!(retired.retired_at, Some(NOW));
    assert!(!names(agents(store, op.admin().unwrap(), false).await.unwrap()).contains(&"voice_bot".to_owned()));
    assert!(names(agents(store, op.admin().unwrap(), true).await.unwrap()).contains(&"voice_bot".to_owned()));
    assert_eq!(status(retire_agent(store, op.admin().unwrap(), NOW, "voice_bot").await.unwrap_err()), 404);
    let (back, created) = add_agent(store, op.admin().unwrap(), NOW, new).await.unwrap();
    assert!(!created, "a retired name is reinstated");
    assert_eq!(back.retired_at, None);
    let actions: Vec<String> = crate::audit::entries_for(store, &op, "agent", "voice_bot")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["create", "delete", "restore"]);
    // another tenant has its own catalogue
    let other = operator_in_new_tenant(store, "globex", NOW).await;
    assert_eq!(names(agents(store, other.admin().unwrap(), true).await.unwrap()).len(), 4);
});

store_test!(a_grant_is_put_replaced_and_revoked_with_one_permission_change_entry_each, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let ana = person(store, &op, "ana", Role::User).await;
    let check_now = |action: &'static str| check(store, &op, NOW, ana, "pdf_processing", Some(action));

    assert_eq!(check_now("read").await.unwrap(), CheckAnswer { allowed: false, reason: CheckReason::NotGranted });
    let (grant, created) = put_grant(store, &op, NOW, ana, "pdf_processing", None, read_only(None)).await.unwrap();
    assert!(created);
    assert_eq!((grant.version, grant.status, grant.can_read, grant.can_update), (1, GrantStatus::Active, true, false));
    assert_eq!(check_now("read").await.unwrap(), CheckAnswer { allowed: true, reason: CheckReason::Granted });
    assert_eq!(check_now("update").await.unwrap().reason, CheckReason::NotGranted);

    // the same grant again changes nothing and writes nothing
    let (same, created) = put_grant(store, &op, NOW, ana, "pdf_processing", None, read_only(None)).await.unwrap();
    assert!(!created);
    assert_eq!(same.version, 1);
    assert_eq!(permission_entries(store, &op, ana).await.len(), 1);

    let both = GrantInput { can_read: true, can_update: true, ..GrantInput::default() };
    let (grant, _) = put_grant(store, &op, NOW, ana, "pdf_processing", Some(1), both.clone()).await.unwrap();
    assert_eq!(grant.version, 2);
    assert_eq!(check_now("update").await.unwrap().reason, CheckReason::Granted);
    assert_eq!(status(put_grant(store, &op, NOW, ana, "pdf_processing", Some(1), both).await.unwrap_err()), 412);

    let revoked = revoke(store, &op, NOW, ana, "pdf_processing", None).await.unwrap();
    assert_eq!((revoked.status, revoked.can_read, revoked.version), (GrantStatus::Revoked, false, 3));
    assert_eq!(check_now("read").await.unwrap(), CheckAnswer { allowed: false, reason: CheckReason::Revoked });
    assert_eq!(status(revoke(store, &op, NOW, ana, "pdf_processing", None).await.unwrap_err()), 404);
    assert!(grants(store, &op, NOW, ana, false).await.unwrap().is_empty());
    assert_eq!(grants(store, &op, NOW, ana, true).await.unwrap()[0].status, GrantStatus::Revoked);

    let entries = permission_entries(store, &op, ana).await;
    let values: Vec<_> = entries.iter().map(|e| (e.old_values.clone(), e.new_values.clone())).collect();
    assert_eq!(
        values,
        [
            (
                None,
                Some(json!({"agent": "pdf_processing", "can_create": false, "can_read": true, "can_update": false,
                    "can_delete": false, "expires_at": null, "revoked_at": null}))
            ),
            (
                Some(json!({"agent": "pdf_processing", "can_update": false})),
                Some(json!({"agent": "pdf_processing", "can_update": true}))
            ),
            (
                Some(json!({"agent": "pdf_processing", "can_read": true, "can_update": true, "revoked_at": null})),
                Some(json!({"agent": "pdf_processing", "can_read": false, "can_update": false,
                    "revoked_at": "2026-12-02T12:00:00Z"}))
            ),
        ]
    );
    // granting again after a revocation brings it back
    let (again, created) = put_grant(store, &op, NOW, ana, "pdf_processing", None, read_only(None)).await.unwrap();
    assert_eq!((created, again.status, again.version), (false, GrantStatus::Active, 4));
    assert_eq!(check_now("read").await.unwrap().reason, CheckReason::Granted);
});

store_test!(an_expiring_grant_counts_until_the_instant_of_its_expiry, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let ana = person(store, &op, "ana", Role::User).await;
    let expiry = NOW + Duration::hours(1);
    put_grant(store, &op, NOW, ana, "audio_recording", None, read_only(Some(expiry))).await.unwrap();
    let at = |t: OffsetDateTime| check(store, &op, t, ana, "audio_recording", Some("read"));
    assert_eq!(at(expiry - Duration::seconds(1)).await.unwrap().reason, CheckReason::Granted);
    assert_eq!(at(expiry).await.unwrap(), CheckAnswer { allowed: false, reason: CheckReason::Expired });
    assert_eq!(grants(store, &op, expiry, ana, false).await.unwrap()[0].status, GrantStatus::Expired);
    for past in [NOW, NOW - Duration::days(1)] {
        let error = put_grant(store, &op, NOW, ana, "audio_recording", None, read_only(Some(past))).await.unwrap_err();
        assert_eq!(status(error), 422);
    }
});

store_test!(checks_and_grants_go_through_the_users_gate, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let ana = person(store, &op, "ana", Role::User).await;
    let bo = person(store, &op, "bo", Role::User).await;
    let admin = person(store, &op, "ada", Role::Admin).await;
    let root = person(store, &op, "root", Role::Sysadmin).await;
    let as_ana = signed_in(&op, ana, Role::User);
    let as_admin = signed_in(&op, admin, Role::Admin);
    put_grant(store, &op, NOW, bo, "pdf_processing", None, read_only(None)).await.unwrap();

    // a user checks and lists itself only; another user does not exist for it
    assert_eq!(
        check(store, &as_ana, NOW, ana, "pdf_processing", Some("read")).await.unwrap().reason,
        CheckReason::NotGranted
    );
    assert_eq!(status(check(store, &as_ana, NOW, bo, "pdf_processing", Some("read")).await.unwrap_err()), 404);
    assert_eq!(status(grants(store, &as_ana, NOW, bo, false).await.unwrap_err()), 404);
    // a user grants nothing, not even to itself
    let error = put_grant(store, &as_ana, NOW, ana, "pdf_processing", None, read_only(None)).await.unwrap_err();
    assert_eq!(status(error), 403);
    assert_eq!(status(revoke(store, &as_ana, NOW, bo, "pdf_processing", None).await.unwrap_err()), 403);
    // an admin may not change a sysadmin's grants
    let error = put_grant(store, &as_admin, NOW, root, "pdf_processing", None, read_only(None)).await.unwrap_err();
    assert_eq!(status(error), 403);
    let (grant, _) = put_grant(store, &as_admin, NOW, ana, "pdf_processing", None, read_only(None)).await.unwrap();
    assert_eq!(grant.granted_by, Some(admin), "the granting user is recorded");
    // admins and sysadmins are allowed by role, on any agent of the catalogue
    for who in [admin, root] {
        let answer = check(store, &op, NOW, who, "reports_analysis", Some("delete")).await.unwrap();
        assert_eq!(answer, CheckAnswer { allowed: true, reason: CheckReason::Role });
    }
    // unknown agents are 404 (for admins too), bad actions 422, another tenant's user 404
    assert_eq!(status(check(store, &op, NOW, admin, "no_such_agent", Some("read")).await.unwrap_err()), 404);
    for action in [None, Some("write"), Some("READ"), Some("")] {
        assert_eq!(status(check(store, &op, NOW, ana, "pdf_processing", action).await.unwrap_err()), 422, "{action:?}");
    }
    let other = operator_in_new_tenant(store, "globex", NOW).await;
    assert_eq!(status(check(store, &other, NOW, ana, "pdf_processing", Some("read")).await.unwrap_err()), 404);
    let error = put_grant(store, &other, NOW, ana, "pdf_processing", None, read_only(None)).await.unwrap_err();
    assert_eq!(status(error), 404);
    // a retired agent is out of the catalogue: checks and grants answer 404, the grant is kept
    retire_agent(store, op.admin().unwrap(), NOW, "pdf_processing").await.unwrap();
    assert_eq!(status(check(store, &op, NOW, ana, "pdf_processing", Some("read")).await.unwrap_err()), 404);
    assert!(grants(store, &op, NOW, ana, false).await.unwrap().is_empty());
    add_agent(store, op.admin().unwrap(), NOW, NewAgent { name: "pdf_processing".into(), description: None })
        .await
        .unwrap();
    assert_eq!(check(store, &op, NOW, ana, "pdf_processing", Some("read")).await.unwrap().reason, CheckReason::Granted);
});
