//! Groups: named sets of a tenant's users, provisioned by identity providers over SCIM.
//!
//! Only admins of the tenant manage groups (every function takes an [`AdminScope`]). A group's members are users of
//! its tenant (the foreign key names both); a member that is soft-deleted stays in the group but is not shown until it
//! is restored. Every change, memberships included, writes one audit entry: a membership change names the users added
//! and removed, not the whole list.
//!
//! Groups are built to carry authority later: they have the same `(tenant_id, id)` key as users, so a grant or a role
//! can name a group where it names a user today (docs/decisions.md).

mod error;
pub mod model;
mod repo;

use std::collections::BTreeSet;

use time::OffsetDateTime;
use uuid::Uuid;

pub use error::GroupError;
pub use model::{Group, GroupInput, MAX_MEMBERS};

use crate::audit::{self, Action, Change};
use crate::migrate::Migration;
use crate::principal::AdminScope;
use crate::store::{Store, Tx};

pub const MIGRATIONS: &[Migration] = &[crate::migration!(19, "0019_groups", "groups")];

/// A group with the live users among its members, as `(id, display name)` in id order.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupWithMembers {
    pub group: Group,
    pub members: Vec<(Uuid, String)>,
}

/// The checked parts of an input: display name, external id, metadata, and members each once.
fn check(input: GroupInput) -> Result<GroupInput, GroupError> {
    let mut errors = Vec::new();
    let display_name = model::display_name(&input.display_name).map_err(|e| errors.push(e)).ok();
    let external_id = match input.external_id.as_deref() {
        Some(id) => model::external_id(id).map_err(|e| errors.push(e)).ok(),
        None => None,
    };
    let metadata = model::metadata(input.metadata).map_err(|e| errors.push(e)).ok();
    if input.members.len() > MAX_MEMBERS {
        errors.push(crate::http::FieldError::new("members", format!("at most {MAX_MEMBERS} members")));
    }
    if !errors.is_empty() {
        return Err(GroupError::Invalid(errors));
    }
    let members: BTreeSet<Uuid> = input.members.into_iter().collect();
    Ok(GroupInput {
        display_name: display_name.unwrap_or_default(),
        external_id,
        metadata: metadata.unwrap_or_default(),
        members: members.into_iter().collect(),
    })
}

/// The live users among `wanted`, or which of them are not live users of the tenant.
async fn live_members(tx: &mut Tx, scope: &AdminScope<'_>, wanted: &[Uuid]) -> Result<Vec<(Uuid, String)>, GroupError> {
    let found = crate::users::live_names(&mut *tx, scope.tenant_id(), wanted).await?;
    if found.len() != wanted.len() {
        let known: BTreeSet<Uuid> = found.iter().map(|(id, _)| *id).collect();
        return Err(GroupError::UnknownMembers(wanted.iter().filter(|id| !known.contains(id)).copied().collect()));
    }
    Ok(found)
}

fn audit_view(group: &Group, added: &[Uuid], removed: &[Uuid]) -> serde_json::Value {
    let mut view = group.view();
    if let Some(fields) = view.as_object_mut() {
        if !added.is_empty() {
            fields.insert("members_added".into(), serde_json::json!(added));
        }
        if !removed.is_empty() {
            fields.insert("members_removed".into(), serde_json::json!(removed));
        }
    }
    view
}

/// Create a group with its members (live users of the tenant), audited.
pub async fn create(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    input: GroupInput,
) -> Result<GroupWithMembers, GroupError> {
    let input = check(input)?;
    let group = Group {
        id: Uuid::now_v7(),
        tenant_id: scope.tenant_id().uuid(),
        display_name: input.display_name,
        external_id: input.external_id,
        metadata: input.metadata,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = store.begin().await?;
    let members = live_members(&mut tx, &scope, &input.members).await?;
    repo::insert(&mut tx, scope.tenant_id(), &group).await?;
    repo::add_members(&mut tx, scope.tenant_id(), group.id, &input.members, now).await?;
    let change =
        Change::new(Action::Create, "group", group.id).values(None, Some(audit_view(&group, &input.members, &[])));
    audit::record(&mut tx, &scope, now, change).await?;
    tx.commit().await?;
    Ok(GroupWithMembers { group, members })
}

/// A group of the tenant with its live members.
pub async fn get(store: &Store, scope: AdminScope<'_>, id: Uuid) -> Result<GroupWithMembers, GroupError> {
    let group = repo::get(store, scope.tenant_id(), id).await?.ok_or(GroupError::NotFound)?;
    let ids = repo::member_ids(store, scope.tenant_id(), id).await?;
    let members = crate::users::live_names(store, scope.tenant_id(), &ids).await?;
    Ok(GroupWithMembers { group, members })
}

/// Up to `limit` (at most 1000) groups of the tenant in creation order, after the group `after`; without members.
pub async fn list(
    store: &Store,
    scope: AdminScope<'_>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Group>, GroupError> {
    Ok(repo::list(store, scope.tenant_id(), after, limit.clamp(1, 1000)).await?)
}

/// The group with this display name (in any case).
pub async fn find_by_name(store: &Store, scope: AdminScope<'_>, name: &str) -> Result<Option<Group>, GroupError> {
    Ok(repo::by_name_key(store, scope.tenant_id(), &model::name_key(name)).await?)
}

/// The groups with this external id.
pub async fn find_by_external_id(
    store: &Store,
    scope: AdminScope<'_>,
    external_id: &str,
) -> Result<Vec<Group>, GroupError> {
    Ok(repo::by_external_id(store, scope.tenant_id(), external_id).await?)
}

/// The groups a user of the tenant is a member of.
pub async fn of_user(store: &Store, scope: AdminScope<'_>, user_id: Uuid) -> Result<Vec<Group>, GroupError> {
    Ok(repo::of_user(store, scope.tenant_id(), user_id).await?)
}

/// Replace a group whole (display name, external id, metadata, members), at the version the caller saw if it said;
/// audited with what changed and the members added and removed.
pub async fn replace(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
    input: GroupInput,
) -> Result<GroupWithMembers, GroupError> {
    let input = check(input)?;
    let mut tx = store.begin().await?;
    let current = repo::get(&mut tx, scope.tenant_id(), id).await?.ok_or(GroupError::NotFound)?;
    if let Some(expected) = if_match.filter(|v| *v != current.version) {
        return Err(GroupError::VersionMismatch { current: current.version, expected });
    }
    let stored: BTreeSet<Uuid> = repo::member_ids(&mut tx, scope.tenant_id(), id).await?.into_iter().collect();
    let wanted: BTreeSet<Uuid> = input.members.iter().copied().collect();
    let added: Vec<Uuid> = wanted.difference(&stored).copied().collect();
    let removed: Vec<Uuid> = stored.difference(&wanted).copied().collect();
    // only the members being added must be live: a soft-deleted member may stay
    live_members(&mut tx, &scope, &added).await?;
    let mut next = current.clone();
    next.display_name = input.display_name;
    next.external_id = input.external_id;
    next.metadata = input.metadata;
    if next != current || !added.is_empty() || !removed.is_empty() {
        next.updated_at = now;
        if !repo::update(&mut tx, scope.tenant_id(), &next, current.version).await? {
            return Err(GroupError::Stale);
        }
        next.version = current.version + 1;
        repo::remove_members(&mut tx, scope.tenant_id(), id, &removed).await?;
        repo::add_members(&mut tx, scope.tenant_id(), id, &added, now).await?;
        let (mut old, mut new) = audit::diff(&current.view(), &next.view());
        if let (Some(old), Some(new)) = (old.as_object_mut(), new.as_object_mut()) {
            if !added.is_empty() {
                new.insert("members_added".into(), serde_json::json!(added));
            }
            if !removed.is_empty() {
                old.insert("members_removed".into(), serde_json::json!(removed));
            }
        }
        let change = Change::new(Action::Update, "group", id).values(Some(old), Some(new));
        audit::record(&mut tx, &scope, now, change).await?;
    }
    let ids: Vec<Uuid> = wanted.into_iter().collect();
    let members = crate::users::live_names(&mut tx, scope.tenant_id(), &ids).await?;
    tx.commit().await?;
    Ok(GroupWithMembers { group: next, members })
}

/// Delete a group and its memberships, at the version the caller saw if it said; audited with what it was.
pub async fn delete(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<(), GroupError> {
    let mut tx = store.begin().await?;
    let current = repo::get(&mut tx, scope.tenant_id(), id).await?.ok_or(GroupError::NotFound)?;
    if let Some(expected) = if_match.filter(|v| *v != current.version) {
        return Err(GroupError::VersionMismatch { current: current.version, expected });
    }
    let members = repo::member_ids(&mut tx, scope.tenant_id(), id).await?;
    if !repo::delete(&mut tx, scope.tenant_id(), id, current.version).await? {
        return Err(GroupError::Stale);
    }
    let change = Change::new(Action::Delete, "group", id).values(Some(audit_view(&current, &[], &members)), None);
    audit::record(&mut tx, &scope, now, change).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests;
