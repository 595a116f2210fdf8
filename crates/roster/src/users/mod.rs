//! Users: every person a tenant knows, with their profile, status and soft delete.

pub mod access;
mod error;
pub mod lifecycle;
pub mod model;
pub mod password;
mod repo;
pub mod routes;
pub mod totp;
pub mod two_factor;

use time::OffsetDateTime;
use uuid::Uuid;

pub use access::{authorize, Authorized, Deleted, Intent};
pub use error::UserError;
pub use model::{Email, NewUser, OwnProfilePatch, User, UserFilter, UserPatch, UserStatus, UserType, Username};
pub use password::Passwords;

use crate::audit::{self, Action, Change};
use crate::http::pagination::{self, Page};
use crate::http::FieldError;
use crate::migrate::Migration;
use crate::principal::{AdminScope, Role, TenantId, TenantScope};
use crate::store::{Store, StoreError};

pub const MIGRATIONS: &[Migration] = &[
    crate::migration!(3, "0003_users", "users"),
    crate::migration!(6, "0006_user_tokens", "user_tokens"),
    crate::migration!(7, "0007_totp", "totp"),
    crate::migration!(9, "0009_users_seen", "users_seen"),
    crate::migration!(11, "0011_users_filters", "users_filters"),
    crate::migration!(20, "0020_users_provisioning", "users_provisioning"),
];

/// Collects field errors so a request hears about all of them at once.
#[derive(Default)]
struct Checks(Vec<FieldError>);

impl Checks {
    fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    fn finish(self) -> Result<(), UserError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(UserError::Invalid(self.0))
        }
    }
}

fn can_grant(granter: Role, role: Role) -> Result<(), UserError> {
    if role > granter {
        return Err(UserError::CannotGrant { granter, role });
    }
    Ok(())
}

/// Create a user with its `create` audit entry.
pub async fn create(
    store: &Store,
    scope: AdminScope<'_>,
    passwords: &Passwords,
    now: OffsetDateTime,
    input: NewUser,
) -> Result<User, UserError> {
    Ok(create_with_invitation(store, scope, passwords, now, input, None).await?.0)
}

/// Create a user; when it is `invited` and `invitation` gives a lifetime, also issue its invitation token (in the same
/// transaction), with which the user sets a password.
pub async fn create_with_invitation(
    store: &Store,
    scope: AdminScope<'_>,
    passwords: &Passwords,
    now: OffsetDateTime,
    input: NewUser,
    invitation: Option<time::Duration>,
) -> Result<(User, Option<String>), UserError> {
    let user = build_user(scope.tenant_id(), scope.role(), passwords, now, input).await?;
    let mut tx = store.begin().await?;
    // The insert is deferred, so its unique violation may surface at any of the next steps.
    repo::insert(&mut tx, &user).await?;
    let token = match invitation {
        Some(lifetime) if user.status == UserStatus::Invited => {
            Some(lifecycle::invite(&mut tx, scope, now, lifetime, &user).await?)
        }
        _ => None,
    };
    let change = Change::new(Action::Create, "user", user.id).values(None, Some(user.view()));
    audit::record(&mut tx, &scope, now, change).await?;
    tx.commit().await?;
    Ok((user, token))
}

/// Validate a new user and hash its password: the row to insert. `granter` is the role of whoever creates it.
pub(crate) async fn build_user(
    tenant_id: TenantId,
    granter: Role,
    passwords: &Passwords,
    now: OffsetDateTime,
    input: NewUser,
) -> Result<User, UserError> {
    let mut checks = Checks::default();
    let email = input.email.as_deref().and_then(|e| checks.take(Email::parse(e)));
    let username = input.username.as_deref().and_then(|u| checks.take(Username::parse(u)));
    if input.email.is_none() && input.username.is_none() {
        checks.0.push(FieldError::new("email", "give an email, a username, or both"));
    }
    let display_name = match (&input.display_name, &username, &email) {
        (Some(name), _, _) => checks.take(model::display_name(name)),
        (None, Some(username), _) => Some(username.as_str().to_owned()),
        (None, None, Some(email)) => Some(email.as_str().split('@').next().unwrap_or_default().to_owned()),
        (None, None, None) => None,
    };
    let first_name = input.first_name.as_deref().and_then(|v| checks.take(model::person_name("first_name", v)));
    let last_name = input.last_name.as_deref().and_then(|v| checks.take(model::person_name("last_name", v)));
    let target_role = input.target_role.as_deref().and_then(|v| checks.take(model::target_role(v)));
    let timezone = checks.take(model::timezone(input.timezone.as_deref().unwrap_or("UTC")));
    let preferences = checks.take(model::preferences(input.preferences.unwrap_or_else(|| serde_json::json!({}))));
    let metadata = checks.take(model::metadata(input.metadata.unwrap_or_else(|| serde_json::json!({}))));
    let identity_provider = input.identity_provider.as_deref().and_then(|v| checks.take(model::identity_provider(v)));
    let identity_provider_id =
        input.identity_provider_id.as_deref().and_then(|v| checks.take(model::identity_provider_id(v)));
    if input.identity_provider.is_some() != input.identity_provider_id.is_some() {
        checks
            .0
            .push(FieldError::new("identity_provider_id", "give identity_provider and identity_provider_id together"));
    }
    if input.password.is_some() && input.password_hash.is_some() {
        checks.0.push(FieldError::new("password_hash", "give password or password_hash, not both"));
    }
    if let Some(password) = &input.password {
        checks.take(passwords.check(password));
    }
    let imported_hash = input.password_hash.as_deref().and_then(|h| checks.take(password::imported_hash(h)));
    let role = input.role.unwrap_or(Role::User);
    checks.finish()?;
    can_grant(granter, role)?;

    let has_credential = input.password.is_some() || imported_hash.is_some() || identity_provider.is_some();
    let status = input.status.unwrap_or(if has_credential { UserStatus::Active } else { UserStatus::Invited });
    let password_hash = match input.password {
        Some(password) => Some(passwords.hash(password).await.map_err(UserError::Hashing)?),
        None => imported_hash,
    };
    Ok(User {
        id: Uuid::now_v7(),
        tenant_id: tenant_id.uuid(),
        email_key: email.as_ref().map(Email::key),
        email: email.map(|e| e.as_str().to_owned()),
        username: username.map(|u| u.as_str().to_owned()),
        display_name: display_name.unwrap_or_default(),
        first_name,
        last_name,
        user_type: input.user_type.unwrap_or(UserType::Member),
        role,
        status,
        password_hash,
        identity_provider,
        identity_provider_id,
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
        target_role,
        experience_level: input.experience_level,
        timezone: timezone.unwrap_or_else(|| "UTC".into()),
        preferences: preferences.unwrap_or_default(),
        metadata: metadata.unwrap_or_default(),
        level: 1,
        xp: 0,
        raw_data: None,
        first_seen: None,
        last_seen: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        version: 1,
    })
}

/// A user the caller may see: admins see everyone in the tenant, others only themselves. Soft-deleted users are only
/// found with `include_deleted`.
pub async fn get(store: &Store, scope: &TenantScope, id: Uuid, include_deleted: bool) -> Result<User, UserError> {
    let deleted = if include_deleted { Deleted::Included } else { Deleted::Excluded };
    access::visible(store, scope, id, deleted).await
}

/// The live user with this email (case-insensitive).
pub async fn find_by_email(store: &Store, scope: AdminScope<'_>, email: &str) -> Result<User, UserError> {
    repo::by_email(store, scope.tenant_id(), &model::email_key(email)).await?.ok_or(UserError::NotFound)
}

/// The live user with this username (after trimming and NFC normalisation).
pub async fn find_by_username(store: &Store, scope: AdminScope<'_>, username: &str) -> Result<User, UserError> {
    repo::by_username(store, scope.tenant_id(), &model::normalize_username(username)).await?.ok_or(UserError::NotFound)
}

/// The live users whose username is this one in any case (for protocols whose user names are not case-exact, such as
/// SCIM's); usernames themselves stay unique as written.
pub async fn find_by_username_any_case(
    store: &Store,
    scope: AdminScope<'_>,
    username: &str,
) -> Result<Vec<User>, UserError> {
    Ok(repo::by_username_any_case(store, scope.tenant_id(), &model::normalize_username(username)).await?)
}

/// A page of users matching the filter.
pub async fn list(store: &Store, scope: AdminScope<'_>, filter: &UserFilter) -> Result<Page<User>, UserError> {
    let limit = pagination::limit(filter.limit)?;
    let after = pagination::decode_cursor(filter.cursor.as_deref())?;
    if filter.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(UserError::invalid("q", "must be at most 200 characters"));
    }
    // the target role is matched as it is stored: trimmed and NFC-normalised
    let normalized;
    let filter = match &filter.target_role {
        Some(target_role) => {
            let target_role = model::target_role(target_role)?;
            normalized = UserFilter { target_role: Some(target_role), ..filter.clone() };
            &normalized
        }
        None => filter,
    };
    let rows = repo::list(store, scope.tenant_id(), filter, after, limit).await?;
    Ok(pagination::page(rows, limit, |u| u.id))
}

/// The live user an admin is about to change, at the version the caller saw (if it said): through the gate.
async fn load_for_change<'s>(
    tx: &mut crate::store::Tx,
    scope: &'s TenantScope,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<Authorized<'s>, UserError> {
    let target = authorize(tx, scope, id, Intent::Administer, Deleted::Excluded).await?;
    target.at_version(if_match)?;
    Ok(target)
}

/// Apply a patch (admin); with `if_match`, only if the user is still at that version.
pub async fn update(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
    patch: UserPatch,
) -> Result<User, UserError> {
    change_profile(store, &scope, Intent::Administer, now, id, if_match, patch).await
}

/// `PATCH /v1/me`: the signed-in user edits its own profile (names, time zone, preferences, metadata); never its
/// role, status, counters or progress, which [`OwnProfilePatch`] cannot carry.
pub async fn update_own(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
    patch: OwnProfilePatch,
) -> Result<User, UserError> {
    let patch = UserPatch {
        display_name: patch.display_name,
        first_name: patch.first_name,
        last_name: patch.last_name,
        timezone: patch.timezone,
        preferences: patch.preferences,
        metadata: patch.metadata,
        ..UserPatch::default()
    };
    change_profile(store, scope, Intent::OwnAccount, now, id, if_match, patch).await
}

async fn change_profile(
    store: &Store,
    scope: &TenantScope,
    intent: Intent,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
    patch: UserPatch,
) -> Result<User, UserError> {
    let mut tx = store.begin().await?;
    let target = authorize(&mut tx, scope, id, intent, Deleted::Excluded).await?;
    target.at_version(if_match)?;
    let current = target.user().clone();
    let mut next = patched(scope, &current, &patch)?;
    if next == current {
        return Ok(current);
    }
    next.updated_at = now;
    if !repo::update_profile(&mut tx, &target, &next).await? {
        return Err(UserError::Stale);
    }
    next.version = current.version + 1;
    let (old, new) = audit::diff(&current.view(), &next.view());
    audit::record(&mut tx, scope, now, Change::new(Action::Update, "user", id).values(Some(old), Some(new))).await?;
    tx.commit().await?;
    Ok(next)
}

/// `current` with the patch applied and checked (every field error at once).
fn patched(scope: &TenantScope, current: &User, patch: &UserPatch) -> Result<User, UserError> {
    let mut next = current.clone();
    let mut checks = Checks::default();
    if let Some(email) = &patch.email {
        if let Some(email) = email.as_deref().map(|e| checks.take(Email::parse(e))) {
            next.email_key = email.as_ref().map(Email::key);
            next.email = email.map(|e| e.as_str().to_owned());
        } else {
            next.email = None;
            next.email_key = None;
        }
    }
    if let Some(username) = &patch.username {
        next.username = match username.as_deref() {
            Some(u) => checks.take(Username::parse(u)).map(|u| u.as_str().to_owned()),
            None => None,
        };
    }
    if next.email.is_none() && next.username.is_none() && checks.0.is_empty() {
        checks.0.push(FieldError::new("email", "a user needs an email, a username, or both"));
    }
    if let Some(name) = &patch.display_name {
        if let Some(name) = checks.take(model::display_name(name)) {
            next.display_name = name;
        }
    }
    for (field, value, slot) in
        [("first_name", &patch.first_name, &mut next.first_name), ("last_name", &patch.last_name, &mut next.last_name)]
    {
        if let Some(value) = value {
            *slot = value.as_deref().and_then(|v| checks.take(model::person_name(field, v)));
        }
    }
    if let Some(target_role) = &patch.target_role {
        next.target_role = target_role.as_deref().and_then(|v| checks.take(model::target_role(v)));
    }
    if let Some(level) = patch.experience_level {
        next.experience_level = level;
    }
    if let Some(tz) = &patch.timezone {
        if let Some(tz) = checks.take(model::timezone(tz)) {
            next.timezone = tz;
        }
    }
    if let Some(preferences) = &patch.preferences {
        if let Some(p) = checks.take(model::preferences(preferences.clone())) {
            next.preferences = p;
        }
    }
    if let Some(metadata) = &patch.metadata {
        if let Some(m) = checks.take(model::metadata(metadata.clone())) {
            next.metadata = m;
        }
    }
    if let Some(user_type) = patch.user_type {
        next.user_type = user_type;
    }
    if let Some(role) = patch.role {
        can_grant(scope.role(), role)?;
        next.role = role;
    }
    checks.finish()?;
    Ok(next)
}

/// What an identity provider sets on a user it provisions (SCIM `PUT` and `PATCH`), written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Provisioned {
    pub patch: UserPatch,
    /// `Some(false)` suspends the account; `Some(true)` makes a suspended one active again (a locked account stays
    /// locked until its lock ends, an invited one stays invited).
    pub active: Option<bool>,
    /// `Some(Some((provider, id)))` links the account at the provider, `Some(None)` unlinks it.
    pub identity: Option<Option<(String, String)>>,
    /// A new password, hashed with Argon2id.
    pub password: Option<String>,
}

/// Apply what a provider sets (admin), at the version the caller saw if it said: profile, status, identity and
/// password in one transaction and one audit entry (which never holds the password).
pub async fn provision(
    store: &Store,
    scope: AdminScope<'_>,
    passwords: &Passwords,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
    change: Provisioned,
) -> Result<User, UserError> {
    let mut checks = Checks::default();
    let identity = match &change.identity {
        Some(Some((provider, provider_id))) => {
            let provider = checks.take(model::identity_provider(provider));
            let provider_id = checks.take(model::identity_provider_id(provider_id));
            Some(provider.zip(provider_id))
        }
        Some(None) => Some(None),
        None => None,
    };
    if let Some(password) = &change.password {
        checks.take(passwords.check(password));
    }
    checks.finish()?;
    // hashed before the transaction begins, so no writer waits for it
    let password_hash = match change.password {
        Some(password) => Some(passwords.hash(password).await.map_err(UserError::Hashing)?),
        None => None,
    };
    let mut tx = store.begin().await?;
    let target = load_for_change(&mut tx, &scope, id, if_match).await?;
    let current = target.user().clone();
    let mut next = patched(&scope, &current, &change.patch)?;
    match change.active {
        Some(false) => next.status = UserStatus::Suspended,
        Some(true) if current.status == UserStatus::Suspended => {
            next.status = UserStatus::Active;
            next.failed_login_attempts = 0;
            next.locked_until = None;
        }
        _ => {}
    }
    if let Some(identity) = identity {
        (next.identity_provider, next.identity_provider_id) = identity.unzip();
    }
    if password_hash.is_some() {
        next.password_hash = password_hash;
    }
    if next == current {
        return Ok(current);
    }
    next.updated_at = now;
    if !repo::update_provisioned(&mut tx, &target, &next).await? {
        return Err(UserError::Stale);
    }
    next.version = current.version + 1;
    let (old, mut new) = audit::diff(&current.view(), &next.view());
    if next.password_hash != current.password_hash {
        let retired = repo::retire_password_tokens(&mut tx, &target, now).await?;
        if let Some(new) = new.as_object_mut() {
            new.insert("password".into(), "changed".into());
            if retired > 0 {
                new.insert("password_tokens_retired".into(), retired.into());
            }
        }
    }
    audit::record(&mut tx, &scope, now, Change::new(Action::Update, "user", id).values(Some(old), Some(new))).await?;
    tx.commit().await?;
    Ok(next)
}

/// The number of live users of the tenant.
pub async fn count_live(store: &Store, scope: AdminScope<'_>) -> Result<i64, UserError> {
    Ok(repo::count_live(store, scope.tenant_id()).await?)
}

/// Live users of the tenant in creation (id) order, `offset` of them skipped: for protocols that page by position
/// (SCIM's `startIndex`), where a keyset cursor cannot be given.
pub async fn live_at(store: &Store, scope: AdminScope<'_>, offset: i64, limit: i64) -> Result<Vec<User>, UserError> {
    Ok(repo::live_at(store, scope.tenant_id(), offset.max(0), limit.clamp(0, 1000)).await?)
}

/// Soft delete: the user leaves lists and lookups and its email and username become free.
pub async fn delete(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<User, UserError> {
    set_deleted(store, scope, now, id, if_match, true).await
}

/// Undo a soft delete; 409 if the email or username has been taken since.
pub async fn restore(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<User, UserError> {
    set_deleted(store, scope, now, id, if_match, false).await
}

async fn set_deleted(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
    delete: bool,
) -> Result<User, UserError> {
    let mut tx = store.begin().await?;
    let target = authorize(&mut tx, &scope, id, Intent::Administer, Deleted::Included).await?;
    let current = target.user().clone();
    if delete && current.deleted_at.is_some() {
        return Err(UserError::NotFound);
    }
    if !delete && current.deleted_at.is_none() {
        return Err(UserError::NotDeleted);
    }
    target.at_version(if_match)?;
    let deleted_at = delete.then_some(now);
    if !repo::set_deleted(&mut tx, &target, deleted_at, now).await? {
        return Err(UserError::Stale);
    }
    let mut next = current.clone();
    next.deleted_at = deleted_at;
    next.updated_at = now;
    next.version += 1;
    let (old, new) = audit::diff(&current.view(), &next.view());
    let action = if delete { Action::Delete } else { Action::Restore };
    audit::record(&mut tx, &scope, now, Change::new(action, "user", id).values(Some(old), Some(new))).await?;
    tx.commit().await?;
    Ok(next)
}

#[cfg(test)]
mod tests;

/// What a sign-in attempt may do, after it was counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The password may be checked; `number` is this attempt's place among consecutive failures.
    Allowed { number: i64 },
    /// Locked, suspended, not yet active, or past the threshold: refuse without looking at the password.
    Refused,
}

/// Sign-in support for the auth module: the live user with this email or username.
pub async fn find_for_login(store: &Store, tenant_id: TenantId, login: &str) -> Result<Option<User>, StoreError> {
    if login.contains('@') {
        if let Some(user) = repo::by_email(store, tenant_id, &model::email_key(login)).await? {
            return Ok(Some(user));
        }
    }
    repo::by_username(store, tenant_id, &model::normalize_username(login)).await
}

/// The live users of the tenant among `ids`, with their display names, in id order: for another module that holds
/// user ids (a group's members) and must know which still stand. Works in or out of a transaction.
pub async fn live_names(
    db: impl crate::store::Query,
    tenant_id: TenantId,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, StoreError> {
    repo::live_names(db, tenant_id, ids).await
}

/// The live user behind a session, in its tenant.
pub async fn find_live(store: &Store, tenant_id: TenantId, id: Uuid) -> Result<Option<User>, StoreError> {
    Ok(repo::get(store, tenant_id, id).await?.filter(|u| u.deleted_at.is_none()))
}

/// Count an attempt on `user` (its own committed transaction, so parallel attempts see each other) and say whether
/// the password may be checked: only attempts up to `threshold` on an active account may.
pub async fn begin_login_attempt(
    store: &Store,
    scope: &TenantScope,
    user: &User,
    now: OffsetDateTime,
    threshold: i64,
) -> Result<Attempt, StoreError> {
    let mut tx = store.begin().await?;
    let reserved = repo::reserve_login_attempt(&mut tx, scope.tenant_id(), user.id, now).await?;
    tx.commit().await?;
    let Some((number, status, _)) = reserved else { return Ok(Attempt::Refused) };
    let status = <UserStatus as crate::store::TextEnum>::from_text(&status)
        .ok_or_else(|| StoreError::Decode(format!("UserStatus {status:?}: not a value this roster knows")))?;
    Ok(if status == UserStatus::Active && number <= threshold { Attempt::Allowed { number } } else { Attempt::Refused })
}

/// A failed attempt: audited with `facts` (what was tried, never a secret), and the attempt that reached the threshold
/// locks the account until `lock_until`.
pub async fn record_login_failure(
    store: &Store,
    scope: &TenantScope,
    user: Option<&User>,
    facts: serde_json::Value,
    now: OffsetDateTime,
    lock_until: Option<OffsetDateTime>,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let mut changes = Vec::new();
    if let (Some(user), Some(until)) = (user, lock_until) {
        if repo::lock(&mut tx, scope.tenant_id(), user.id, until).await? {
            let until = until.format(&time::format_description::well_known::Rfc3339).ok();
            changes.push(Change::new(Action::StatusChange, "user", user.id).values(
                Some(serde_json::json!({"status": "active"})),
                Some(serde_json::json!({"status": "locked", "locked_until": until, "reason": "failed sign-ins"})),
            ));
        }
    }
    let resource = user.map_or_else(|| "unknown".to_owned(), |u| u.id.to_string());
    changes.insert(0, Change::new(Action::LoginFailed, "user", resource).values(None, Some(facts)));
    audit::record_in(&mut tx, scope.tenant_id(), scope.actor(), now, changes).await?;
    tx.commit().await
}

/// A successful sign-in, inside the caller's transaction (which also creates the session and audits the login):
/// failures reset, login count and times updated, a better hash stored if given.
pub async fn record_login_success(
    tx: &mut crate::store::Tx,
    scope: &TenantScope,
    user: &User,
    now: OffsetDateTime,
    new_hash: Option<String>,
) -> Result<(), StoreError> {
    repo::record_login(tx, scope.tenant_id(), user.id, now, new_hash).await
}

/// Admin actions on the status of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    Suspend,
    Activate,
    Unlock,
}

/// Suspend, activate or unlock a user (admin), audited as a status change.
pub async fn change_status(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
    action: StatusAction,
) -> Result<User, UserError> {
    let mut tx = store.begin().await?;
    let target = load_for_change(&mut tx, &scope, id, if_match).await?;
    let current = target.user().clone();
    let mut next = current.clone();
    match action {
        StatusAction::Suspend => next.status = UserStatus::Suspended,
        StatusAction::Activate => {
            next.status = UserStatus::Active;
            next.failed_login_attempts = 0;
            next.locked_until = None;
        }
        StatusAction::Unlock => {
            if current.status != UserStatus::Locked && current.failed_login_attempts == 0 {
                return Err(UserError::NotLocked);
            }
            if current.status == UserStatus::Locked {
                next.status = UserStatus::Active;
            }
            next.failed_login_attempts = 0;
            next.locked_until = None;
        }
    }
    if next == current {
        return Ok(current);
    }
    next.updated_at = now;
    if !repo::set_status(&mut tx, &target, &next).await? {
        return Err(UserError::Stale);
    }
    next.version = current.version + 1;
    let (old, new) = audit::diff(&current.view(), &next.view());
    audit::record(&mut tx, &scope, now, Change::new(Action::StatusChange, "user", id).values(Some(old), Some(new)))
        .await?;
    tx.commit().await?;
    Ok(next)
}

/// Record an activity mark in the caller's transaction (the session's bookkeeping is the auth module's).
pub async fn record_activity(
    tx: &mut crate::store::Tx,
    tenant_id: TenantId,
    actor: &crate::principal::Actor,
    user_id: Uuid,
    at: OffsetDateTime,
    minutes: i64,
) -> Result<(), StoreError> {
    let Some((last_active_at, total)) = repo::record_activity(tx, tenant_id, user_id, at, minutes).await? else {
        return Ok(());
    };
    let mut old = serde_json::Map::new();
    let mut new = serde_json::Map::new();
    if last_active_at != Some(at) {
        old.insert("last_active_at".into(), last_active_at.map(audit::timestamp).into());
        new.insert("last_active_at".into(), audit::timestamp(at).into());
    }
    if minutes != 0 {
        old.insert("total_usage_minutes".into(), total.into());
        new.insert("total_usage_minutes".into(), (total + minutes).into());
    }
    let change = Change::new(Action::Update, "user", user_id).values(Some(old.into()), Some(new.into()));
    audit::record_in(tx, tenant_id, actor, at, vec![change]).await
}

/// A live user's training progress (XP, level), read in the caller's transaction to be changed (on PostgreSQL the
/// user stays locked until it ends, so two resolved sessions of one user take turns). The training module computes
/// the new progress and writes it with [`set_progress`], with its audit entry.
pub async fn progress(
    tx: &mut crate::store::Tx,
    tenant_id: TenantId,
    id: Uuid,
) -> Result<Option<(i64, i64)>, StoreError> {
    repo::progress(tx, tenant_id, id).await
}

/// Write a user's training progress, read with [`progress`] in the same transaction.
pub async fn set_progress(
    tx: &mut crate::store::Tx,
    tenant_id: TenantId,
    id: Uuid,
    xp: i64,
    level: i64,
) -> Result<(), StoreError> {
    repo::set_progress(tx, tenant_id, id, xp, level).await
}

/// The live user signed in through this identity provider account.
pub async fn find_by_identity(
    store: &Store,
    tenant_id: TenantId,
    provider: &str,
    provider_id: &str,
) -> Result<Option<User>, StoreError> {
    repo::by_identity(store, tenant_id, provider, provider_id).await
}

/// The live user with this email, for linking an external identity.
pub async fn find_by_email_in(store: &Store, tenant_id: TenantId, email: &str) -> Result<Option<User>, StoreError> {
    repo::by_email(store, tenant_id, &model::email_key(email)).await
}

/// May this account sign in now? Active, or locked with a lock that has run out; never deleted.
pub fn may_sign_in(user: &User, now: OffsetDateTime) -> bool {
    if user.deleted_at.is_some() {
        return false;
    }
    match Some(user.status) {
        Some(UserStatus::Active) => true,
        Some(UserStatus::Locked) => user.locked_until.is_some_and(|until| until <= now),
        _ => false,
    }
}

/// Create a user that an identity provider vouches for (external sign-in) inside the caller's transaction, with its
/// audit entry. It gets the role `user` and an unverified email.
pub async fn insert_external(
    tx: &mut crate::store::Tx,
    scope: &TenantScope,
    passwords: &Passwords,
    now: OffsetDateTime,
    input: NewUser,
) -> Result<User, UserError> {
    let user = build_user(scope.tenant_id(), Role::User, passwords, now, input).await?;
    repo::insert(tx, &user).await?;
    let change = Change::new(Action::Create, "user", user.id).values(None, Some(user.view()));
    audit::record(tx, scope, now, change).await?;
    Ok(user)
}

/// What an identity provider says about the person signing in.
#[derive(Debug, Clone, Copy)]
pub struct ExternalIdentity<'a> {
    pub provider: &'a str,
    pub provider_id: &'a str,
    pub email: Option<&'a str>,
    pub display_name: Option<&'a str>,
}

impl ExternalIdentity<'_> {
    /// Every field checked at once, before anything is read or written.
    pub fn check(&self) -> Result<(), UserError> {
        let mut checks = Checks::default();
        checks.take(model::identity_provider(self.provider));
        checks.take(model::identity_provider_id(self.provider_id));
        if let Some(email) = self.email {
            checks.take(Email::parse(email));
        }
        if let Some(name) = self.display_name {
            checks.take(model::display_name(name));
        }
        checks.finish()
    }
}

/// Link an identity provider account to the user `seen` (read before the caller's transaction began; the scope must
/// be allowed to administer it) and take the provider's email and display name when given. The user is read again
/// through the gate inside the transaction (locked there on PostgreSQL) and the change is computed from that read and
/// written only at its version, so a concurrent change is never lost. A new email is not verified. Returns the user as
/// it now stands in the transaction.
pub async fn link_identity(
    tx: &mut crate::store::Tx,
    scope: &TenantScope,
    now: OffsetDateTime,
    seen: &User,
    identity: ExternalIdentity<'_>,
) -> Result<User, UserError> {
    identity.check()?;
    let target = authorize(tx, scope, seen.id, Intent::Administer, Deleted::Excluded).await?;
    let current = target.user().clone();
    let ExternalIdentity { provider, provider_id, email, display_name } = identity;
    let mut next = current.clone();
    next.identity_provider = Some(provider.to_owned());
    next.identity_provider_id = Some(provider_id.to_owned());
    if let Some(email) = email.and_then(|e| Email::parse(e).ok()) {
        if next.email_key.as_deref() != Some(email.key().as_str()) {
            next.email_verified_at = None;
        }
        next.email_key = Some(email.key());
        next.email = Some(email.as_str().to_owned());
    }
    if let Some(name) = display_name.and_then(|n| model::display_name(n).ok()) {
        next.display_name = name;
    }
    if next == current {
        return Ok(current);
    }
    next.updated_at = now;
    if !repo::set_identity(tx, &target, &next).await? {
        return Err(UserError::Stale);
    }
    next.version = current.version + 1;
    let (old, new) = audit::diff(&current.view(), &next.view());
    audit::record(tx, scope, now, Change::new(Action::Update, "user", next.id).values(Some(old), Some(new))).await?;
    Ok(next)
}

/// A person seen in records of another system (a crowd-testing export): who, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenPerson {
    /// Trimmed and NFC-normalised: the username the person is kept under.
    pub name: String,
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    /// How the record described the person, kept from the newest record.
    pub raw_data: Option<serde_json::Value>,
}

/// What an upsert of seen people did to one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Created,
    Updated,
    Unchanged,
    /// An account of its own (it signs in, or holds a role above `user`) has the name: records are linked to it,
    /// but the ingest leaves it as it is.
    Account(Role),
}

/// Upsert people seen in records inside the caller's transaction, one multi-row statement per 500 people. A new person
/// becomes a user of `user_type`; a known one keeps its type (first wins) and its `first_seen`/`last_seen` widen. An
/// account of its own with the name (one that signs in, or an admin) is found, never changed: [`Seen::Account`].
/// Returns each person's user id and what happened, in the order given. Concurrent upserts of the same names (two
/// ingests on PostgreSQL) wait for each other on the username index and never fail; names are written in sorted order
/// so two of them cannot deadlock.
pub async fn upsert_seen(
    tx: &mut crate::store::Tx,
    scope: AdminScope<'_>,
    user_type: UserType,
    people: &[SeenPerson],
    now: OffsetDateTime,
) -> Result<Vec<(Uuid, Seen)>, StoreError> {
    let mut sorted: Vec<&SeenPerson> = people.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    sorted.dedup_by(|a, b| a.name == b.name);
    let written = repo::upsert_seen(tx, scope.tenant_id(), user_type.as_str(), &sorted, now).await?;
    let mut found: std::collections::HashMap<String, (Uuid, Seen)> = written
        .into_iter()
        .map(|(name, id, version)| (name, (id, if version == 1 { Seen::Created } else { Seen::Updated })))
        .collect();
    let missing: Vec<&str> = sorted.iter().map(|p| p.name.as_str()).filter(|name| !found.contains_key(*name)).collect();
    if !missing.is_empty() {
        for (name, id, account) in repo::ids_by_username(tx, scope.tenant_id(), &missing).await? {
            let seen = match account.as_deref() {
                Some(role) => Seen::Account(
                    <Role as crate::store::TextEnum>::from_text(role)
                        .ok_or_else(|| StoreError::Decode(format!("Role {role:?}: not a value this roster knows")))?,
                ),
                None => Seen::Unchanged,
            };
            found.insert(name, (id, seen));
        }
    }
    people
        .iter()
        .map(|p| {
            found
                .get(&p.name)
                .copied()
                .ok_or_else(|| StoreError::Decode(format!("the user {:?} was neither written nor found", p.name)))
        })
        .collect()
}

/// `?user_type=&days=&limit=&cursor=` of active users.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActiveFilter {
    pub user_type: Option<UserType>,
    /// Seen within this many days (default 30).
    #[param(minimum = 1, maximum = 36500)]
    pub days: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The window of `?days=`: 1 to 36,500 days, 30 by default.
pub fn window_days(days: Option<i64>, default: i64) -> Result<i64, UserError> {
    match days {
        None => Ok(default),
        Some(d) if (1..=36_500).contains(&d) => Ok(d),
        Some(_) => Err(UserError::invalid("days", "must be between 1 and 36500")),
    }
}

/// Live users last seen within the window, newest first, in keyset pages.
pub async fn active(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    filter: &ActiveFilter,
) -> Result<Page<User>, UserError> {
    let limit = pagination::limit(filter.limit)?;
    let since = now - time::Duration::days(window_days(filter.days, 30)?);
    let after = pagination::decode_timed_cursor(filter.cursor.as_deref())?;
    let user_type = filter.user_type.map(UserType::as_str);
    let rows = repo::seen_since(store, scope.tenant_id(), user_type, since, after, limit).await?;
    Ok(pagination::timed_page(rows, limit, |u| u.last_seen.map(|seen| (seen, u.id))))
}

/// The live users among `ids` (any order; missing and deleted ones left out).
pub async fn live_by_ids(store: &Store, scope: AdminScope<'_>, ids: &[Uuid]) -> Result<Vec<User>, StoreError> {
    repo::live_by_ids(store, scope.tenant_id(), ids).await
}
