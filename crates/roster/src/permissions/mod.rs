//! Agent permissions: each tenant's catalogue of agents, and per-user grants of create/read/update/delete on them,
//! optionally expiring.
//!
//! Who may do what is decided by the users gate ([`crate::users::access`]): reading a user's grants or checking them
//! needs [`Intent::Read`] on that user (the user itself, or an admin of the tenant); granting and revoking need
//! [`Intent::Administer`] (an admin, never on a user above its own role). The catalogue is the admins'.
//!
//! A check answers, in this order: the caller may not see the user → 404; the agent is not in the catalogue → 404;
//! the account is not live and active → denied, naming its status (`suspended`, `locked`, `invited`,
//! `pending_verification`: such an account is allowed nothing, whatever its role or grants); the user's role is admin
//! or sysadmin → allowed (`role`); else the grant decides (`granted`, `expired`,
//! `not_granted`, `revoked`). Expiry is read against the clock at the time of the check: a grant counts until the
//! instant of its expiry, not at it.

mod error;
pub mod model;
mod repo;
pub mod routes;

use time::OffsetDateTime;
use uuid::Uuid;

pub use error::PermissionError;
pub use model::{
    Agent, AgentAction, AgentName, CheckAnswer, CheckReason, Grant, GrantInput, GrantStatus, GrantView, NewAgent,
    BUILT_IN_AGENTS,
};

use crate::audit::{self, Action, Change};
use crate::migrate::Migration;
use crate::principal::{AdminScope, Role, TenantScope};
use crate::store::{Query, Store, StoreError, Tx};
use crate::users::{self, Deleted, Intent};

pub const MIGRATIONS: &[Migration] = &[crate::migration!(12, "0012_permissions", "permissions")];

/// Give a new tenant the built-in catalogue; called in the transaction that creates the tenant.
pub async fn start_catalogue(tx: &mut Tx, scope: &TenantScope, now: OffsetDateTime) -> Result<(), StoreError> {
    for (name, description) in BUILT_IN_AGENTS {
        repo::insert_agent(tx, scope.tenant_id(), name, Some(description), now).await?;
    }
    Ok(())
}

/// The tenant's catalogue (admin), by name; retired agents too when asked.
pub async fn agents(
    store: &Store,
    scope: AdminScope<'_>,
    include_retired: bool,
) -> Result<Vec<Agent>, PermissionError> {
    Ok(repo::agents(store, scope.tenant_id(), include_retired).await?)
}

/// Add an agent to the catalogue (admin), with its `create` audit entry. Adding a retired agent's name reinstates
/// it (a `restore` entry; its grants count again). The answer says whether the agent is new.
pub async fn add_agent(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    input: NewAgent,
) -> Result<(Agent, bool), PermissionError> {
    let name = AgentName::parse("name", &input.name);
    let description = input.description.as_deref().map(model::description).transpose();
    let (name, description) = match (name, description) {
        (Ok(name), Ok(description)) => (name, description.flatten()),
        (name, description) => {
            return Err(PermissionError::Invalid(name.err().into_iter().chain(description.err()).collect()))
        }
    };
    let tenant_id = scope.tenant_id();
    let mut tx = store.begin().await?;
    let existing = repo::agent(&mut tx, tenant_id, name.as_str()).await?;
    let (agent, created) = match existing {
        Some(agent) if agent.retired_at.is_none() => return Err(PermissionError::AgentTaken(agent.name)),
        Some(retired) => {
            repo::set_retired(&mut tx, tenant_id, name.as_str(), None, description.as_deref()).await?;
            let agent =
                Agent { retired_at: None, description: description.or(retired.description.clone()), ..retired.clone() };
            let (old, new) = audit::diff(&agent_view(&retired), &agent_view(&agent));
            let change = Change::new(Action::Restore, "agent", name.as_str()).values(Some(old), Some(new));
            audit::record(&mut tx, &scope, now, change).await?;
            (agent, false)
        }
        None => {
            repo::insert_agent(&mut tx, tenant_id, name.as_str(), description.as_deref(), now)
                .await
                .map_err(|e| PermissionError::on_agent_insert(e, name.as_str()))?;
            let agent = Agent { name: name.as_str().to_owned(), description, created_at: now, retired_at: None };
            let change = Change::new(Action::Create, "agent", name.as_str()).values(None, Some(agent_view(&agent)));
            audit::record(&mut tx, &scope, now, change).await?;
            (agent, true)
        }
    };
    tx.commit().await.map_err(|e| PermissionError::on_agent_insert(e, name.as_str()))?;
    Ok((agent, created))
}

fn agent_view(agent: &Agent) -> serde_json::Value {
    serde_json::to_value(agent).unwrap_or_default()
}

/// Retire an agent (admin): it leaves the catalogue, checks on it answer 404 and its grants stop counting (they are
/// kept, and count again if the agent is added back). A `delete` audit entry.
pub async fn retire_agent(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    name: &str,
) -> Result<Agent, PermissionError> {
    let tenant_id = scope.tenant_id();
    let mut tx = store.begin().await?;
    let agent = repo::agent(&mut tx, tenant_id, name)
        .await?
        .filter(|a| a.retired_at.is_none())
        .ok_or_else(|| PermissionError::UnknownAgent(name.to_owned()))?;
    repo::set_retired(&mut tx, tenant_id, name, Some(now), None).await?;
    let retired = Agent { retired_at: Some(now), ..agent.clone() };
    let (old, new) = audit::diff(&agent_view(&agent), &agent_view(&retired));
    audit::record(&mut tx, &scope, now, Change::new(Action::Delete, "agent", name).values(Some(old), Some(new)))
        .await?;
    tx.commit().await?;
    Ok(retired)
}

/// A user's grants on the catalogue's agents, expired ones included (their status says so); revoked ones only when
/// asked. The caller must be able to see the user.
pub async fn grants(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    user_id: Uuid,
    include_revoked: bool,
) -> Result<Vec<GrantView>, PermissionError> {
    users::get(store, scope, user_id, false).await?;
    let grants = repo::grants_of(store, scope.tenant_id(), user_id, include_revoked).await?;
    Ok(grants.iter().map(|g| g.view(now)).collect())
}

/// Grant a user actions on an agent, replacing any earlier grant (admin, through the gate). `if_match` is the version
/// of the grant the caller saw. Writes one `permission_change` entry with the old and new flags; a grant that would not
/// change is left as it is, with no entry. The answer says whether the grant is new.
pub async fn put_grant(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    user_id: Uuid,
    agent: &str,
    if_match: Option<i64>,
    input: GrantInput,
) -> Result<(GrantView, bool), PermissionError> {
    let mut tx = store.begin().await?;
    let target = users::authorize(&mut tx, scope, user_id, Intent::Administer, Deleted::Excluded).await?;
    let tenant_id = target.tenant_id();
    repo::agent(&mut tx, tenant_id, agent)
        .await?
        .filter(|a| a.retired_at.is_none())
        .ok_or_else(|| PermissionError::UnknownAgent(agent.to_owned()))?;
    let expires_at = input.validate(now).map_err(PermissionError::Invalid)?;
    let existing = repo::grant(&mut tx, tenant_id, user_id, agent).await?;
    at_version(existing.as_ref(), if_match)?;
    let next = Grant {
        tenant_id: tenant_id.uuid(),
        user_id,
        agent: agent.to_owned(),
        can_create: input.can_create,
        can_read: input.can_read,
        can_update: input.can_update,
        can_delete: input.can_delete,
        granted_by: scope.user_id(),
        expires_at,
        revoked_at: None,
        created_at: existing.as_ref().map_or(now, |g| g.created_at),
        updated_at: now,
        version: existing.as_ref().map_or(1, |g| g.version + 1),
    };
    if let Some(current) = existing.as_ref().filter(|g| g.audited() == next.audited()) {
        return Ok((current.view(now), false));
    }
    repo::upsert_grant(&mut tx, &next).await?;
    let (old, new) = match &existing {
        Some(current) => {
            let (old, new) = audit::diff(&current.audited(), &next.audited());
            (Some(with_agent(old, agent)), with_agent(new, agent))
        }
        None => (None, with_agent(next.audited(), agent)),
    };
    let change = Change::new(Action::PermissionChange, "user", user_id).values(old, Some(new));
    audit::record(&mut tx, scope, now, change).await?;
    tx.commit().await?;
    Ok((next.view(now), existing.is_none()))
}

/// Revoke a user's grant on an agent (admin, through the gate): its flags are cleared and it is kept as revoked, so a
/// check answers `revoked`. One `permission_change` entry.
pub async fn revoke(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    user_id: Uuid,
    agent: &str,
    if_match: Option<i64>,
) -> Result<GrantView, PermissionError> {
    let mut tx = store.begin().await?;
    let target = users::authorize(&mut tx, scope, user_id, Intent::Administer, Deleted::Excluded).await?;
    let current = repo::grant(&mut tx, target.tenant_id(), user_id, agent)
        .await?
        .filter(|g| g.revoked_at.is_none())
        .ok_or_else(|| PermissionError::NoGrant(agent.to_owned()))?;
    at_version(Some(&current), if_match)?;
    let next = Grant {
        can_create: false,
        can_read: false,
        can_update: false,
        can_delete: false,
        granted_by: scope.user_id(),
        revoked_at: Some(now),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    repo::upsert_grant(&mut tx, &next).await?;
    let (old, new) = audit::diff(&current.audited(), &next.audited());
    let change = Change::new(Action::PermissionChange, "user", user_id)
        .values(Some(with_agent(old, agent)), Some(with_agent(new, agent)));
    audit::record(&mut tx, scope, now, change).await?;
    tx.commit().await?;
    Ok(next.view(now))
}

/// May user `user_id` do `action` through `agent` at `now`? The caller must be able to see the user (itself, or an
/// admin of the tenant). An unknown action is a 422 naming `action`; an agent outside the catalogue a 404.
pub async fn check(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    user_id: Uuid,
    agent: &str,
    action: Option<&str>,
) -> Result<CheckAnswer, PermissionError> {
    let action = parse_action(action)?;
    let (role, stopped) = users::access::visible_standing(store, scope, user_id, now).await?;
    let grant = repo::agent_and_grant(store, scope.tenant_id(), user_id, agent)
        .await?
        .ok_or_else(|| PermissionError::UnknownAgent(agent.to_owned()))?;
    if let Some(status) = stopped {
        return Ok(CheckAnswer { allowed: false, reason: CheckReason::stopped_by(status) });
    }
    if role >= Role::Admin {
        return Ok(CheckAnswer { allowed: true, reason: CheckReason::Role });
    }
    Ok(match grant {
        Some(grant) => grant.check(action, now),
        None => CheckAnswer { allowed: false, reason: CheckReason::NotGranted },
    })
}

/// Proof that the scope's caller may do an action through an agent at the time it was asked: what the functions of an
/// agent-governed resource (the client registry, governed by `client_management`) take. Only [`require`] makes one.
#[derive(Debug)]
pub struct Permitted<'s> {
    scope: &'s TenantScope,
}

impl<'s> Permitted<'s> {
    pub fn scope(&self) -> &'s TenantScope {
        self.scope
    }

    /// The scope's tenant: the only one the permitted action reaches.
    pub fn tenant_id(&self) -> crate::principal::TenantId {
        self.scope.tenant_id()
    }
}

/// The one gate of the resources an agent governs: may the scope's caller do `action` through `agent` at `now`?
/// Admins and sysadmins (signed in, or by API key) may do everything in their tenant; a signed-in user needs a live
/// grant that includes the action (an expired, revoked or missing grant denies, and so does a retired agent); an API
/// key of role `user` holds no grants and may do nothing. Denials are 403s that say which grant is missing. With a
/// transaction, the grant is read in it: a write is decided on what its transaction sees.
pub async fn require<'s>(
    db: impl Query,
    scope: &'s TenantScope,
    now: OffsetDateTime,
    agent: &str,
    action: AgentAction,
) -> Result<Permitted<'s>, PermissionError> {
    let denied = |reason| PermissionError::Denied { agent: agent.to_owned(), action, reason };
    if scope.role() >= Role::Admin {
        return Ok(Permitted { scope });
    }
    let Some(user_id) = scope.user_id() else { return Err(denied(CheckReason::NotGranted)) };
    let answer = match repo::agent_and_grant(db, scope.tenant_id(), user_id, agent).await? {
        Some(Some(grant)) => grant.check(action, now),
        Some(None) | None => CheckAnswer { allowed: false, reason: CheckReason::NotGranted },
    };
    if answer.allowed {
        Ok(Permitted { scope })
    } else {
        Err(denied(answer.reason))
    }
}

/// `?action=`: one of the four, named in the error otherwise.
pub fn parse_action(action: Option<&str>) -> Result<AgentAction, PermissionError> {
    let text = action.ok_or_else(|| PermissionError::invalid("action", "give create, read, update or delete"))?;
    AgentAction::parse(text).ok_or_else(|| PermissionError::invalid("action", "must be create, read, update or delete"))
}

/// 412 unless the grant is at the version the caller saw (when it said); a grant that does not exist has none.
fn at_version(grant: Option<&Grant>, if_match: Option<i64>) -> Result<(), PermissionError> {
    let current = grant.map_or(0, |g| g.version);
    match if_match {
        Some(expected) if expected != current => Err(PermissionError::VersionMismatch { current, expected }),
        _ => Ok(()),
    }
}

/// The changed fields of a grant, with the agent they are about.
fn with_agent(mut values: serde_json::Value, agent: &str) -> serde_json::Value {
    if let Some(map) = values.as_object_mut() {
        map.insert("agent".into(), agent.into());
    }
    values
}

#[cfg(test)]
mod tests;
