use time::macros::datetime;

use super::*;
use crate::http::Problem;
use crate::principal::TenantScope;
use crate::store_test;
use crate::testing::operator_in_new_tenant;
use crate::users::{self, NewUser, Passwords};

const NOW: OffsetDateTime = datetime!(2026-12-05 12:00 UTC);

fn status(e: GroupError) -> u16 {
    Problem::from(e).status
}

async fn user(store: &Store, op: &TenantScope, name: &str) -> Uuid {
    let input = NewUser { username: Some(name.into()), ..NewUser::default() };
    let passwords = Passwords::from_config(&crate::config::Config::default());
    users::create(store, op.admin().unwrap(), &passwords, NOW, input).await.unwrap().id
}

fn input(name: &str, members: Vec<Uuid>) -> GroupInput {
    GroupInput { display_name: name.into(), members, metadata: serde_json::json!({}), ..GroupInput::default() }
}

store_test!(a_group_is_created_replaced_and_deleted_with_its_memberships_audited, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let (ana, bo, cy) = (user(store, &op, "ana").await, user(store, &op, "bo").await, user(store, &op, "cy").await);
    let admin = op.admin().unwrap();
    let made = create(store, admin, NOW, input("  Sales ", vec![bo, ana, ana])).await.unwrap();
    assert_eq!(made.group.display_name, "Sales");
    let mut expected = vec![(ana, "ana".to_owned()), (bo, "bo".to_owned())];
    expected.sort();
    assert_eq!(made.members, expected, "each member once, in id order");
    assert_eq!(get(store, admin, made.group.id).await.unwrap(), made);
    assert_eq!(of_user(store, admin, ana).await.unwrap(), vec![made.group.clone()]);
    assert_eq!(find_by_name(store, admin, "SALES").await.unwrap().map(|g| g.id), Some(made.group.id));

    // a stale version is refused, the current one replaces members: bo out, cy in
    let later = NOW + time::Duration::minutes(1);
    let next = input("Sales", vec![ana, cy]);
    assert_eq!(status(replace(store, admin, later, made.group.id, Some(7), next.clone()).await.unwrap_err()), 412);
    let replaced = replace(store, admin, later, made.group.id, Some(1), next.clone()).await.unwrap();
    assert_eq!(replaced.group.version, 2);
    assert_eq!(replaced.members.iter().map(|(id, _)| *id).collect::<BTreeSet<_>>(), BTreeSet::from([ana, cy]));
    // the same again changes nothing
    assert_eq!(replace(store, admin, later, made.group.id, None, next).await.unwrap().group.version, 2);

    let entries = audit::entries_for(store, &op, "group", &made.group.id.to_string()).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["create", "update"]);
    let update = &entries[1];
    assert_eq!(update.new_values.as_ref().unwrap()["members_added"], serde_json::json!([cy]));
    assert_eq!(update.old_values.as_ref().unwrap()["members_removed"], serde_json::json!([bo]));

    assert_eq!(status(delete(store, admin, later, made.group.id, Some(1)).await.unwrap_err()), 412);
    delete(store, admin, later, made.group.id, Some(2)).await.unwrap();
    assert_eq!(status(get(store, admin, made.group.id).await.unwrap_err()), 404);
    assert!(of_user(store, admin, ana).await.unwrap().is_empty());
    let entries = audit::entries_for(store, &op, "group", &made.group.id.to_string()).await.unwrap();
    assert_eq!(entries.last().unwrap().action, "delete");
});

store_test!(members_are_live_users_of_the_tenant_and_names_are_unique, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let other = operator_in_new_tenant(store, "globex", NOW).await;
    let ana = user(store, &op, "ana").await;
    let stranger = user(store, &other, "zed").await;
    let admin = op.admin().unwrap();

    // a user of another tenant is as unknown as a made-up id, and nothing is written
    for member in [stranger, Uuid::now_v7()] {
        let err = create(store, admin, NOW, input("Sales", vec![ana, member])).await.unwrap_err();
        assert!(matches!(&err, GroupError::UnknownMembers(ids) if ids == &vec![member]), "{err:?}");
        assert_eq!(status(err), 422);
    }
    assert!(list(store, admin, None, 100).await.unwrap().is_empty());

    let sales = create(store, admin, NOW, input("Sales", vec![ana])).await.unwrap();
    assert_eq!(status(create(store, admin, NOW, input("sALES", vec![])).await.unwrap_err()), 409);
    // the other tenant may have its own "Sales", and sees none of acme's groups
    let theirs = create(store, other.admin().unwrap(), NOW, input("Sales", vec![stranger])).await.unwrap();
    assert_eq!(status(get(store, other.admin().unwrap(), sales.group.id).await.unwrap_err()), 404);
    assert_eq!(status(get(store, admin, theirs.group.id).await.unwrap_err()), 404);
    let err = replace(store, other.admin().unwrap(), NOW, sales.group.id, None, input("x", vec![])).await.unwrap_err();
    assert_eq!(status(err), 404);

    // a soft-deleted member stays in the group, unseen, and comes back with the user
    users::delete(store, admin, NOW, ana, None).await.unwrap();
    assert!(get(store, admin, sales.group.id).await.unwrap().members.is_empty());
    users::restore(store, admin, NOW, ana, None).await.unwrap();
    assert_eq!(get(store, admin, sales.group.id).await.unwrap().members.len(), 1);

    for bad in [input("", vec![]), input(&"x".repeat(201), vec![])] {
        assert_eq!(status(create(store, admin, NOW, bad).await.unwrap_err()), 422);
    }
    let big = GroupInput { metadata: serde_json::json!({"a": "x".repeat(5000)}), ..input("Big", vec![]) };
    assert_eq!(status(create(store, admin, NOW, big).await.unwrap_err()), 422);
});

store_test!(a_large_group_is_written_and_read_in_chunks, |db| async move {
    let store = &db.store;
    let op = operator_in_new_tenant(store, "acme", NOW).await;
    let admin = op.admin().unwrap();
    let mut members = Vec::new();
    for i in 0..613 {
        members.push(user(store, &op, &format!("u{i}")).await);
    }
    let made = create(store, admin, NOW, input("Everyone", members.clone())).await.unwrap();
    assert_eq!(made.members.len(), 613);
    let half = members[..300].to_vec();
    let replaced = replace(store, admin, NOW, made.group.id, None, input("Everyone", half)).await.unwrap();
    assert_eq!(get(store, admin, made.group.id).await.unwrap().members.len(), 300);
    assert_eq!(replaced.members.len(), 300);
});
