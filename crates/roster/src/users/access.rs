//! The one gate between a caller and a user: whether a scope may see a user, administer it, or act on it as its own
//! account. Every change to a user goes through [`authorize`], and the repository's writes take the [`Authorized`] it
//! returns — a value nothing else can make — so a new route cannot forget to ask.
//!
//! The rules, in one place:
//! - **tenant**: a user is found only in the scope's tenant; in another it does not exist (404);
//! - **read**: the user itself, or an admin or sysadmin of the tenant (anyone else: 404, as for a missing user);
//! - **own account** (password, two-factor, own sessions, own profile): the signed-in user itself only (404 otherwise);
//! - **administer** (profile, role, status, deletion, credentials, sessions): an admin or sysadmin (403 otherwise),
//!   and never a user whose role is above the caller's (403).

use uuid::Uuid;

use super::{repo, User, UserError};
use crate::principal::{Role, TenantId, TenantScope};
use crate::store::{Store, Tx};

/// What a caller wants to do with a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Read,
    OwnAccount,
    Administer,
}

/// Whether a soft-deleted user may be found (to restore it, or to read it when asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Excluded,
    Included,
}

/// What the caller's role and identity allow before the user is even read.
fn admits(scope: &TenantScope, intent: Intent, id: Uuid) -> Result<(), UserError> {
    let is_self = scope.user_id() == Some(id);
    match intent {
        Intent::Administer if scope.role() < Role::Admin => Err(UserError::NeedsRole(Role::Admin)),
        Intent::OwnAccount if !is_self => Err(UserError::NotFound),
        Intent::Read if !is_self && scope.role() < Role::Admin => Err(UserError::NotFound),
        _ => Ok(()),
    }
}

/// The whole decision for a user that was found: may the scope's caller act on it with `intent`?
pub fn check(scope: &TenantScope, intent: Intent, user: &User) -> Result<(), UserError> {
    admits(scope, intent, user.id)?;
    if scope.tenant_id() != user.tenant_id {
        return Err(UserError::NotFound);
    }
    if intent == Intent::Administer && user.role > scope.role() {
        return Err(UserError::RoleAbove { actor: scope.role(), target: user.role });
    }
    Ok(())
}

/// Proof that the scope's caller may act on this user, which was read in the caller's transaction (and, on
/// PostgreSQL, locked until it ends). Only this module makes one.
#[derive(Debug)]
pub struct Authorized<'s> {
    scope: &'s TenantScope,
    user: User,
}

impl<'s> Authorized<'s> {
    pub fn scope(&self) -> &'s TenantScope {
        self.scope
    }

    /// The user as it was read in the transaction.
    pub fn user(&self) -> &User {
        &self.user
    }

    pub fn id(&self) -> Uuid {
        self.user.id
    }

    /// The scope's tenant, which the gate checked is the user's.
    pub fn tenant_id(&self) -> TenantId {
        self.scope.tenant_id()
    }

    /// The version the user was read at: version-checked writes change it only from this one.
    pub fn version(&self) -> i64 {
        self.user.version
    }

    /// 412 unless the user is at the version the caller saw (when it said).
    pub fn at_version(&self, if_match: Option<i64>) -> Result<(), UserError> {
        match if_match {
            Some(v) if v != self.user.version => {
                Err(UserError::VersionMismatch { current: self.user.version, expected: v })
            }
            _ => Ok(()),
        }
    }
}

/// Read user `id` in the caller's transaction and decide whether the scope may act on it with `intent`.
pub async fn authorize<'s>(
    tx: &mut Tx,
    scope: &'s TenantScope,
    id: Uuid,
    intent: Intent,
    deleted: Deleted,
) -> Result<Authorized<'s>, UserError> {
    admits(scope, intent, id)?;
    let user = repo::get(&mut *tx, scope.tenant_id(), id)
        .await?
        .filter(|u| deleted == Deleted::Included || u.deleted_at.is_none())
        .ok_or(UserError::NotFound)?;
    check(scope, intent, &user)?;
    Ok(Authorized { scope, user })
}

/// The holder of a single-use token sent to a user (email verification, invitation, password reset) acts as that
/// user: `user` is the live user the token was redeemed for, read in the same transaction.
pub(super) fn token_holder(scope: &TenantScope, user: User) -> Authorized<'_> {
    Authorized { scope, user }
}

/// A user the scope may see.
pub async fn visible(store: &Store, scope: &TenantScope, id: Uuid, deleted: Deleted) -> Result<User, UserError> {
    admits(scope, Intent::Read, id)?;
    let user = repo::get(store, scope.tenant_id(), id)
        .await?
        .filter(|u| deleted == Deleted::Included || u.deleted_at.is_none())
        .ok_or(UserError::NotFound)?;
    check(scope, Intent::Read, &user)?;
    Ok(user)
}

/// The role of a live user the scope may see, and the status that stops it at `now` if it is not active (the same
/// decision as [`visible`], for a caller that needs only these, such as a permission check on the hot path).
pub async fn visible_standing(
    store: &Store,
    scope: &TenantScope,
    id: Uuid,
    now: time::OffsetDateTime,
) -> Result<(Role, Option<super::UserStatus>), UserError> {
    admits(scope, Intent::Read, id)?;
    // the read is by the scope's tenant: a user of another tenant is not found
    let (role, status, locked_until) =
        repo::live_standing(store, scope.tenant_id(), id).await?.ok_or(UserError::NotFound)?;
    Ok((role, status.stops(locked_until, now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::{Actor, ActorKind, Principal, TenantRef};

    fn scope(role: Role, user_id: Option<Uuid>, tenant: Uuid) -> TenantScope {
        let principal = Principal {
            kind: if user_id.is_some() { ActorKind::User } else { ActorKind::ApiKey },
            user_id,
            api_key_id: user_id.is_none().then(Uuid::now_v7),
            session_id: None,
            tenant_id: TenantId::authenticated(tenant),
            role,
        };
        let tenant = TenantRef { id: tenant, slug: "acme".into(), status: crate::principal::TenantStatus::Active };
        TenantScope::for_principal(&principal, tenant, Actor::default()).unwrap()
    }

    fn user(role: Role, tenant: Uuid) -> User {
        let mut user = crate::users::tests::sample_user(tenant);
        user.role = role;
        user
    }

    #[test]
    fn the_gate_decides_by_role_order_self_and_tenant() {
        let tenant = Uuid::now_v7();
        let status = |result: Result<(), UserError>| result.err().map_or(200, |e| crate::http::Problem::from(e).status);
        for (caller, target, intent, expected) in [
            (Role::User, Role::User, Intent::Read, 404),
            (Role::User, Role::User, Intent::OwnAccount, 404),
            (Role::User, Role::User, Intent::Administer, 403),
            (Role::Admin, Role::User, Intent::Read, 200),
            (Role::Admin, Role::User, Intent::Administer, 200),
            (Role::Admin, Role::Admin, Intent::Administer, 200),
            (Role::Admin, Role::Sysadmin, Intent::Read, 200),
            (Role::Admin, Role::Sysadmin, Intent::Administer, 403),
            (Role::Admin, Role::User, Intent::OwnAccount, 404),
            (Role::Sysadmin, Role::Sysadmin, Intent::Administer, 200),
        ] {
            let target = user(target, tenant);
            for caller_scope in [scope(caller, Some(Uuid::now_v7()), tenant), scope(caller, None, tenant)] {
                let got = status(check(&caller_scope, intent, &target));
                assert_eq!(got, expected, "{caller:?} {intent:?} on a {:?}", target.role);
            }
        }
        // oneself: read and own account, but administering oneself still follows the role
        let me = user(Role::User, tenant);
        let own = scope(Role::User, Some(me.id), tenant);
        assert_eq!(status(check(&own, Intent::Read, &me)), 200);
        assert_eq!(status(check(&own, Intent::OwnAccount, &me)), 200);
        assert_eq!(status(check(&own, Intent::Administer, &me)), 403);
        // another tenant's user does not exist, even for a sysadmin scope of this tenant
        let elsewhere = user(Role::User, Uuid::now_v7());
        assert_eq!(status(check(&scope(Role::Sysadmin, None, tenant), Intent::Read, &elsewhere)), 404);
    }
}
