//! Who is calling, and in which tenant they may act.
//!
//! A [`TenantScope`] can only be made from a [`Principal`] that may act in the tenant (or, through the escape hatch
//! [`TenantScope::operator_unchecked`], by whoever holds the database). Repository functions take the scope or the
//! [`TenantId`] it hands out — never a bare `Uuid` — so a query cannot be pointed at a tenant nobody was let into.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum!(
    /// Roles in increasing order of power.
    Role { User = "user", Admin = "admin", Sysadmin = "sysadmin" }
);

crate::text_enum!(
    /// `active`, or `suspended` (its users cannot sign in, its keys and sessions stop working).
    TenantStatus { Active = "active", Suspended = "suspended" }
);

static AUTHORITY_EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Say that a credential lost authority in this process (an API key revoked, a tenant suspended or changed): whatever
/// was verified before is verified again. Call it after the change committed.
pub fn authority_narrowed() {
    AUTHORITY_EPOCH.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// The number of [`authority_narrowed`] calls so far. Read it before reading a credential: an answer remembered under
/// an epoch that has since moved is not used again.
pub fn authority_epoch() -> u64 {
    AUTHORITY_EPOCH.load(std::sync::atomic::Ordering::SeqCst)
}

/// How the actor of an audited change authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ApiKey,
    System,
    Cli,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::System => "system",
            ActorKind::Cli => "cli",
        }
    }

    pub fn parse(s: &str) -> Option<ActorKind> {
        match s {
            "user" => Some(ActorKind::User),
            "api_key" => Some(ActorKind::ApiKey),
            "system" => Some(ActorKind::System),
            "cli" => Some(ActorKind::Cli),
            _ => None,
        }
    }
}

/// A tenant the caller was let into: handed out by a [`TenantScope`], or by authentication for the tenant of the
/// credential it found. Repository functions take this instead of a bare `Uuid`, so the tenant they filter by always
/// comes from a decision about the caller. It binds as the tenant's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantId(Uuid);

impl TenantId {
    /// For the sign-in path only: the tenant of a session or API key found by its token, or of the tenant row a
    /// sign-in named. Anything else gets its tenant from a scope.
    pub(crate) fn authenticated(id: Uuid) -> TenantId {
        TenantId(id)
    }

    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl PartialEq<Uuid> for TenantId {
    fn eq(&self, other: &Uuid) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An authenticated caller: a signed-in user or an API key, belonging to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: ActorKind,
    /// The user, for a session; `None` for an API key.
    pub user_id: Option<Uuid>,
    /// The API key, when the caller used one.
    pub api_key_id: Option<Uuid>,
    /// The session, when the caller signed in.
    pub session_id: Option<Uuid>,
    /// The tenant of the credential.
    pub tenant_id: TenantId,
    pub role: Role,
}

impl Principal {
    pub fn is_sysadmin(&self) -> bool {
        self.role == Role::Sysadmin
    }

    /// May this principal act in `tenant`? sysadmins act everywhere; everyone else only at home.
    pub fn may_enter(&self, tenant: &TenantRef) -> bool {
        self.is_sysadmin() || self.tenant_id == tenant.id
    }
}

/// The facts about a tenant that scoping needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRef {
    pub id: Uuid,
    pub slug: String,
    pub status: TenantStatus,
}

/// Who made a change and through what request: the audit fields of every write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub kind: Option<ActorKind>,
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub session_id: Option<String>,
    pub request_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    /// The operator at the command line.
    pub fn cli() -> Actor {
        Actor { kind: Some(ActorKind::Cli), ..Actor::default() }
    }

    /// roster itself (bootstrap, background work).
    pub fn system() -> Actor {
        Actor { kind: Some(ActorKind::System), ..Actor::default() }
    }

    pub fn kind(&self) -> ActorKind {
        self.kind.unwrap_or(ActorKind::System)
    }
}

/// Permission to work inside one tenant, with the role the caller has there and the actor for the audit log.
#[derive(Debug, Clone)]
pub struct TenantScope {
    tenant: TenantRef,
    role: Role,
    user_id: Option<Uuid>,
    actor: Actor,
}

/// Proof that the caller is a sysadmin: what managing tenants takes. Made by [`Principal::sysadmin`] for a request, or
/// by [`Sysadmin::operator_unchecked`] for the operator at the command line and first-start bootstrap.
#[derive(Debug, Clone)]
pub struct Sysadmin {
    actor: Actor,
}

impl Principal {
    /// The sysadmin proof of this caller, if it is one.
    pub fn sysadmin(&self, actor: Actor) -> Result<Sysadmin, Forbidden> {
        if self.is_sysadmin() {
            Ok(Sysadmin { actor })
        } else {
            Err(Forbidden { needs: Role::Sysadmin })
        }
    }
}

impl Sysadmin {
    /// The escape hatch: the operator at the command line (who holds the database already) or roster itself.
    pub fn operator_unchecked(actor: Actor) -> Sysadmin {
        Sysadmin { actor }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The sysadmin's scope in `tenant`: a sysadmin enters every tenant.
    pub fn scope(&self, tenant: TenantRef) -> TenantScope {
        TenantScope { tenant, role: Role::Sysadmin, user_id: self.actor.user_id, actor: self.actor.clone() }
    }
}

/// A caller that may not enter the tenant gets the same answer as for a tenant that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotInTenant;

/// The caller's role is too low for the operation: it needs `needs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forbidden {
    pub needs: Role,
}

impl TenantScope {
    /// The scope of a principal in `tenant`, if it may enter.
    pub fn for_principal(principal: &Principal, tenant: TenantRef, actor: Actor) -> Result<Self, NotInTenant> {
        if !principal.may_enter(&tenant) {
            return Err(NotInTenant);
        }
        Ok(Self { tenant, role: principal.role, user_id: principal.user_id, actor })
    }

    /// The escape hatch: a sysadmin's scope in `tenant` with no caller behind it. For the operator at the command line
    /// (whoever runs it against the database already holds every key to it), first-start bootstrap and tests; never
    /// for a request.
    pub fn operator_unchecked(tenant: TenantRef, actor: Actor) -> Self {
        Self { tenant, role: Role::Sysadmin, user_id: None, actor }
    }

    /// The scope of a caller that has not signed in yet (sign-in itself): it sees nothing and administers nothing.
    pub fn anonymous(tenant: TenantRef, actor: Actor) -> Self {
        Self { tenant, role: Role::User, user_id: None, actor }
    }

    pub fn tenant_id(&self) -> TenantId {
        TenantId(self.tenant.id)
    }

    pub fn tenant(&self) -> &TenantRef {
        &self.tenant
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The signed-in user behind the scope, if any.
    pub fn user_id(&self) -> Option<Uuid> {
        self.user_id
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// An admin-capable scope, if the role allows it.
    pub fn admin(&self) -> Result<AdminScope<'_>, Forbidden> {
        if self.role >= Role::Admin {
            Ok(AdminScope(self))
        } else {
            Err(Forbidden { needs: Role::Admin })
        }
    }
}

/// A scope whose caller is an admin or sysadmin: the type that admin-only repository functions take.
#[derive(Debug, Clone, Copy)]
pub struct AdminScope<'a>(&'a TenantScope);

impl std::ops::Deref for AdminScope<'_> {
    type Target = TenantScope;
    fn deref(&self) -> &TenantScope {
        self.0
    }
}
