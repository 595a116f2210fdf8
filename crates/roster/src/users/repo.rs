//! SQL of users. Every function takes the tenant it works in.

use time::OffsetDateTime;
use uuid::Uuid;

use super::access::Authorized;
use super::model::{User, UserFilter, UserStatus, COLUMNS};
use crate::principal::{Role, TenantId};
use crate::store::{Query, Store, StoreError, Tx, Value};

/// Deferred: a unique violation surfaces at the next awaited statement or at commit.
pub(super) async fn insert(tx: &mut Tx, u: &User) -> Result<(), StoreError> {
    tx.execute_deferred(
        format!(
            "INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
             $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, \
             $37, $38)"
        ),
        vec![
            u.id.into(),
            u.tenant_id.into(),
            u.email.clone().into(),
            u.email_key.clone().into(),
            u.username.clone().into(),
            u.display_name.clone().into(),
            u.first_name.clone().into(),
            u.last_name.clone().into(),
            u.user_type.into(),
            u.role.into(),
            u.status.into(),
            u.password_hash.clone().into(),
            u.identity_provider.clone().into(),
            u.identity_provider_id.clone().into(),
            u.totp_secret.clone().into(),
            u.totp_enabled_at.into(),
            u.email_verified_at.into(),
            u.failed_login_attempts.into(),
            u.locked_until.into(),
            u.last_login_at.into(),
            u.login_count.into(),
            u.last_session_start.into(),
            u.last_active_at.into(),
            u.total_usage_minutes.into(),
            u.target_role.clone().into(),
            u.experience_level.into(),
            u.timezone.clone().into(),
            u.preferences.clone().into(),
            u.metadata.clone().into(),
            u.level.into(),
            u.xp.into(),
            u.raw_data.clone().into(),
            u.first_seen.into(),
            u.last_seen.into(),
            u.created_at.into(),
            u.updated_at.into(),
            u.deleted_at.into(),
            u.version.into(),
        ],
    )
    .await
}

/// A user by id. Read in a transaction, it is read to be changed: on PostgreSQL the row stays locked until the
/// transaction ends, so a concurrent change waits and then reads the new version — as on SQLite, whose one writer
/// already takes turns. Both backends then answer a lost race the same way (the version the caller saw is gone: 412).
pub(super) async fn get(mut db: impl Query, tenant_id: TenantId, id: Uuid) -> Result<Option<User>, StoreError> {
    let lock = db.row_lock();
    db.query_opt(
        format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2{lock}"),
        vec![tenant_id.into(), id.into()],
    )
    .await
}

/// The role of a live user, and nothing else: what a permission check needs, read without decoding the whole row.
/// The role and standing (status and lock) of a live user.
pub(super) async fn live_standing(
    store: &Store,
    tenant_id: TenantId,
    id: Uuid,
) -> Result<Option<(Role, UserStatus, Option<OffsetDateTime>)>, StoreError> {
    let row: Option<StandingRow> = store
        .query_opt(
            "SELECT role, status, locked_until FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
            vec![tenant_id.into(), id.into()],
        )
        .await?;
    Ok(row.map(|r| (r.0, r.1, r.2)))
}

struct StandingRow(Role, UserStatus, Option<OffsetDateTime>);

impl crate::store::FromRow for StandingRow {
    fn from_row(row: &crate::store::Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(StandingRow(row.get_enum(0)?, row.get_enum(1)?, row.get(2)?))
    }
}

pub(super) async fn by_email(store: &Store, tenant_id: TenantId, email_key: &str) -> Result<Option<User>, StoreError> {
    store
        .query_opt(
            format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND email_key = $2 AND deleted_at IS NULL"),
            vec![tenant_id.into(), email_key.into()],
        )
        .await
}

pub(super) async fn by_username(
    store: &Store,
    tenant_id: TenantId,
    username: &str,
) -> Result<Option<User>, StoreError> {
    store
        .query_opt(
            format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND username = $2 AND deleted_at IS NULL"),
            vec![tenant_id.into(), username.into()],
        )
        .await
}

/// One page (plus one row, to tell whether more follow) in id order.
pub(super) async fn list(
    store: &Store,
    tenant_id: TenantId,
    filter: &UserFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND id > $2");
    let mut params = crate::store::Params::new(vec![tenant_id.into(), after.unwrap_or(Uuid::nil()).into()]);
    let mut bind = |value: Value| params.bind(value);
    if let Some(status) = filter.status {
        sql += &format!(" AND status = {}", bind(status.as_str().into()));
    }
    if let Some(role) = filter.role {
        sql += &format!(" AND role = {}", bind(role.as_str().into()));
    }
    if let Some(user_type) = filter.user_type {
        sql += &format!(" AND user_type = {}", bind(user_type.as_str().into()));
    }
    if let Some(target_role) = filter.target_role.as_deref() {
        sql += &format!(" AND target_role = {}", bind(target_role.into()));
    }
    if let Some(level) = filter.experience_level {
        sql += &format!(" AND experience_level = {}", bind(level.as_str().into()));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let escaped = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let p = bind(format!("%{escaped}%").into());
        sql += &format!(
            " AND (email_key LIKE {p} ESCAPE '\\' OR lower(username) LIKE {p} ESCAPE '\\' \
             OR lower(display_name) LIKE {p} ESCAPE '\\')"
        );
    }
    if !filter.include_deleted {
        sql += " AND deleted_at IS NULL";
    }
    let limit_param = bind((limit + 1).into());
    sql += &format!(" ORDER BY id LIMIT {limit_param}");
    store.query(sql, params.into_values()).await
}

/// Write the profile fields of `next` if the user is still at the version it was authorized at; false when someone
/// else wrote first.
pub(super) async fn update_profile(tx: &mut Tx, target: &Authorized<'_>, u: &User) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE users SET email = $4, email_key = $5, username = $6, display_name = $7, first_name = $8, \
             last_name = $9, user_type = $10, role = $11, target_role = $12, experience_level = $13, timezone = $14, \
             preferences = $15, metadata = $16, updated_at = $17, version = version + 1 \
             WHERE tenant_id = $1 AND id = $2 AND version = $3",
            vec![
                target.tenant_id().into(),
                target.id().into(),
                target.version().into(),
                u.email.clone().into(),
                u.email_key.clone().into(),
                u.username.clone().into(),
                u.display_name.clone().into(),
                u.first_name.clone().into(),
                u.last_name.clone().into(),
                u.user_type.into(),
                u.role.into(),
                u.target_role.clone().into(),
                u.experience_level.into(),
                u.timezone.clone().into(),
                u.preferences.clone().into(),
                u.metadata.clone().into(),
                u.updated_at.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Set or clear `deleted_at` if the user is still at the version it was authorized at.
pub(super) async fn set_deleted(
    tx: &mut Tx,
    target: &Authorized<'_>,
    deleted_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE users SET deleted_at = $4, updated_at = $5, version = version + 1 \
             WHERE tenant_id = $1 AND id = $2 AND version = $3",
            vec![target.tenant_id().into(), target.id().into(), target.version().into(), deleted_at.into(), now.into()],
        )
        .await?;
    Ok(n == 1)
}

/// Count a sign-in attempt before checking the password, in one statement so parallel attempts each get their own
/// number. An expired lock is lifted first. Returns the attempt's number, the status and the lock end.
pub(super) async fn reserve_login_attempt(
    tx: &mut Tx,
    tenant_id: TenantId,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Option<(i64, String, Option<OffsetDateTime>)>, StoreError> {
    tx.query_opt(
        "UPDATE users SET \
           failed_login_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= $3 THEN 1 \
                                        ELSE failed_login_attempts + 1 END, \
           status = CASE WHEN status = 'locked' AND locked_until <= $3 THEN 'active' ELSE status END, \
           locked_until = CASE WHEN locked_until <= $3 THEN NULL ELSE locked_until END \
         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL \
         RETURNING failed_login_attempts, status, locked_until",
        vec![tenant_id.into(), id.into(), now.into()],
    )
    .await
}

/// Lock an active account until `until`; false when it was not active (already locked by a parallel attempt).
pub(super) async fn lock(
    tx: &mut Tx,
    tenant_id: TenantId,
    id: Uuid,
    until: OffsetDateTime,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE users SET status = 'locked', locked_until = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'active'",
            vec![tenant_id.into(), id.into(), until.into()],
        )
        .await?;
    Ok(n == 1)
}

/// Record a successful sign-in, and store a new password hash when one is given.
pub(super) async fn record_login(
    tx: &mut Tx,
    tenant_id: TenantId,
    id: Uuid,
    now: OffsetDateTime,
    new_hash: Option<String>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET failed_login_attempts = 0, login_count = login_count + 1, last_login_at = $3, \
         last_session_start = $3, last_active_at = $3, password_hash = COALESCE($4, password_hash), \
         status = CASE WHEN status = 'locked' AND locked_until <= $3 THEN 'active' ELSE status END, \
         locked_until = CASE WHEN locked_until <= $3 THEN NULL ELSE locked_until END \
         WHERE tenant_id = $1 AND id = $2",
        vec![tenant_id.into(), id.into(), now.into(), new_hash.into()],
    )
    .await
    .map(drop)
}

/// Set the status (admin actions); clears the lock and the failure count when the account becomes active.
pub(super) async fn set_status(tx: &mut Tx, target: &Authorized<'_>, u: &User) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE users SET status = $4, failed_login_attempts = $5, locked_until = $6, updated_at = $7, \
             version = version + 1 WHERE tenant_id = $1 AND id = $2 AND version = $3",
            vec![
                target.tenant_id().into(),
                target.id().into(),
                target.version().into(),
                u.status.into(),
                u.failed_login_attempts.into(),
                u.locked_until.into(),
                u.updated_at.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// An activity mark: the user was active at `at`, and `minutes` more of use were counted.
/// Mark a user active at `at` with `minutes` more use; its activity before, when the user is there.
pub(super) async fn record_activity(
    tx: &mut Tx,
    tenant_id: TenantId,
    id: Uuid,
    at: OffsetDateTime,
    minutes: i64,
) -> Result<Option<(Option<OffsetDateTime>, i64)>, StoreError> {
    let lock = Query::row_lock(&tx);
    let before: Option<(Option<OffsetDateTime>, i64)> = tx
        .query_opt(
            format!("SELECT last_active_at, total_usage_minutes FROM users WHERE tenant_id = $1 AND id = $2{lock}"),
            vec![tenant_id.into(), id.into()],
        )
        .await?;
    tx.execute(
        "UPDATE users SET last_active_at = $3, total_usage_minutes = total_usage_minutes + $4 \
         WHERE tenant_id = $1 AND id = $2",
        vec![tenant_id.into(), id.into(), at.into(), minutes.into()],
    )
    .await?;
    Ok(before)
}

/// A live user's training progress (XP, level), read to be changed: locked on PostgreSQL until the transaction ends.
pub(super) async fn progress(tx: &mut Tx, tenant_id: TenantId, id: Uuid) -> Result<Option<(i64, i64)>, StoreError> {
    let lock = Query::row_lock(&tx);
    tx.query_opt(
        format!("SELECT xp, level FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL{lock}"),
        vec![tenant_id.into(), id.into()],
    )
    .await
}

pub(super) async fn set_progress(
    tx: &mut Tx,
    tenant_id: TenantId,
    id: Uuid,
    xp: i64,
    level: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET xp = $3, level = $4 WHERE tenant_id = $1 AND id = $2",
        vec![tenant_id.into(), id.into(), xp.into(), level.into()],
    )
    .await
    .map(drop)
}

pub(super) async fn insert_token(
    tx: &mut Tx,
    tenant_id: TenantId,
    user_id: Uuid,
    purpose: &str,
    hash: Vec<u8>,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO user_tokens (tenant_id, id, user_id, purpose, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![
            tenant_id.into(),
            Uuid::now_v7().into(),
            user_id.into(),
            purpose.into(),
            hash.into(),
            now.into(),
            expires_at.into(),
        ],
    )
    .await
    .map(drop)
}

/// Use a live token once: the user it belongs to and its purpose, or nothing if it is unknown, used or expired.
pub(super) async fn redeem_token(
    tx: &mut Tx,
    tenant_id: TenantId,
    hash: Vec<u8>,
    now: OffsetDateTime,
) -> Result<Option<(Uuid, String)>, StoreError> {
    tx.query_opt(
        "UPDATE user_tokens SET used_at = $3 \
         WHERE tenant_id = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > $3 \
         RETURNING user_id, purpose",
        vec![tenant_id.into(), hash.into(), now.into()],
    )
    .await
}

/// Retire every outstanding token of an authorized user that sets a password (resets and invitations): a password
/// that changed, by any way, leaves no older token able to change it again. The number retired.
pub(super) async fn retire_password_tokens(
    tx: &mut Tx,
    target: &Authorized<'_>,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    tx.execute(
        "UPDATE user_tokens SET used_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL \
         AND purpose IN ('password_reset', 'invitation')",
        vec![target.tenant_id().into(), target.id().into(), now.into()],
    )
    .await
}

/// Write the credential and status fields after a verification, reset or accepted invitation.
/// Write the password hash, status and email verification of `u`; false when the user moved on from the version it
/// was authorized at.
pub(super) async fn set_credentials(tx: &mut Tx, target: &Authorized<'_>, u: &User) -> Result<bool, StoreError> {
    tx.execute(
        "UPDATE users SET password_hash = $3, status = $4, email_verified_at = $5, failed_login_attempts = 0, \
         locked_until = NULL, updated_at = $6, version = version + 1 WHERE tenant_id = $1 AND id = $2 AND version = $7",
        vec![
            target.tenant_id().into(),
            target.id().into(),
            u.password_hash.clone().into(),
            u.status.into(),
            u.email_verified_at.into(),
            u.updated_at.into(),
            target.version().into(),
        ],
    )
    .await
    .map(|n| n == 1)
}

pub(super) async fn by_identity(
    store: &Store,
    tenant_id: TenantId,
    provider: &str,
    provider_id: &str,
) -> Result<Option<User>, StoreError> {
    store
        .query_opt(
            format!(
                "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND identity_provider = $2 \
                 AND identity_provider_id = $3 AND deleted_at IS NULL"
            ),
            vec![tenant_id.into(), provider.into(), provider_id.into()],
        )
        .await
}

/// Only if the user is still at `expected`; false when it moved on.
pub(super) async fn set_identity(tx: &mut Tx, target: &Authorized<'_>, u: &User) -> Result<bool, StoreError> {
    tx.execute(
        "UPDATE users SET identity_provider = $3, identity_provider_id = $4, email = $5, email_key = $6, \
         display_name = $7, email_verified_at = $8, updated_at = $9, version = version + 1 \
         WHERE tenant_id = $1 AND id = $2 AND version = $10",
        vec![
            target.tenant_id().into(),
            target.id().into(),
            u.identity_provider.clone().into(),
            u.identity_provider_id.clone().into(),
            u.email.clone().into(),
            u.email_key.clone().into(),
            u.display_name.clone().into(),
            u.email_verified_at.into(),
            u.updated_at.into(),
            target.version().into(),
        ],
    )
    .await
    .map(|n| n == 1)
}

/// The stored TOTP secret (sealed), when it was enabled, and the newest step used.
pub(super) async fn totp_state(
    tx: &mut Tx,
    tenant_id: TenantId,
    id: Uuid,
) -> Result<Option<(Option<Vec<u8>>, Option<OffsetDateTime>, Option<i64>)>, StoreError> {
    tx.query_opt(
        "SELECT totp_secret, totp_enabled_at, totp_last_step FROM users \
         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        vec![tenant_id.into(), id.into()],
    )
    .await
}

pub(super) async fn set_totp(
    tx: &mut Tx,
    target: &Authorized<'_>,
    sealed: Option<Vec<u8>>,
    enabled_at: Option<OffsetDateTime>,
    last_step: Option<i64>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET totp_secret = $3, totp_enabled_at = $4, totp_last_step = $5, updated_at = $6, \
         version = version + 1 WHERE tenant_id = $1 AND id = $2",
        vec![
            target.tenant_id().into(),
            target.id().into(),
            sealed.into(),
            enabled_at.into(),
            last_step.into(),
            now.into(),
        ],
    )
    .await
    .map(drop)
}

/// Spend a TOTP step: only a step newer than every step used before, so each code works once.
pub(super) async fn use_totp_step(tx: &mut Tx, tenant_id: TenantId, id: Uuid, step: i64) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE users SET totp_last_step = $3 WHERE tenant_id = $1 AND id = $2 \
             AND (totp_last_step IS NULL OR totp_last_step < $3)",
            vec![tenant_id.into(), id.into(), step.into()],
        )
        .await?;
    Ok(n == 1)
}

pub(super) async fn replace_recovery_codes(
    tx: &mut Tx,
    target: &Authorized<'_>,
    hashes: Vec<Vec<u8>>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let (tenant_id, user_id) = (target.tenant_id(), target.id());
    tx.execute(
        "DELETE FROM totp_recovery_codes WHERE tenant_id = $1 AND user_id = $2",
        vec![tenant_id.into(), user_id.into()],
    )
    .await?;
    for hash in hashes {
        tx.execute_deferred(
            "INSERT INTO totp_recovery_codes (tenant_id, user_id, code_hash, created_at) VALUES ($1, $2, $3, $4)",
            vec![tenant_id.into(), user_id.into(), hash.into(), now.into()],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn use_recovery_code(
    tx: &mut Tx,
    tenant_id: TenantId,
    user_id: Uuid,
    hash: Vec<u8>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE totp_recovery_codes SET used_at = $4 \
             WHERE tenant_id = $1 AND user_id = $2 AND code_hash = $3 AND used_at IS NULL",
            vec![tenant_id.into(), user_id.into(), hash.into(), now.into()],
        )
        .await?;
    Ok(n == 1)
}

/// Upsert people seen in records, keyed by live username: a new one is inserted with `user_type`; an existing one keeps
/// its type and only widens `first_seen`/`last_seen` (and takes `raw_data` from its newest record). A person whose row
/// would not change is not written and not returned. Returns `(username, id, version)`: version 1 is a new user.
pub(super) async fn upsert_seen(
    tx: &mut Tx,
    tenant_id: TenantId,
    user_type: &str,
    people: &[&super::SeenPerson],
    now: OffsetDateTime,
) -> Result<Vec<(String, Uuid, i64)>, StoreError> {
    if tx.backend() == crate::store::Backend::Postgres {
        return upsert_seen_unnested(tx, tenant_id, user_type, people, now).await;
    }
    let mut out = Vec::with_capacity(people.len());
    for chunk in crate::store::statement_chunks(people) {
        let sql = crate::store::statement_text("upsert_seen", chunk.len(), || upsert_seen_sql(chunk.len()));
        let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 8);
        for person in chunk {
            params.extend([
                tenant_id.into(),
                Uuid::now_v7().into(),
                person.name.clone().into(),
                user_type.into(),
                person.raw_data.clone().into(),
                person.first_seen.into(),
                person.last_seen.into(),
                now.into(),
            ]);
        }
        out.extend(tx.query::<(String, Uuid, i64)>(sql, params).await?);
    }
    Ok(out)
}

fn upsert_seen_sql(rows: usize) -> String {
    let mut sql = String::from(SEEN_INSERT);
    sql.push_str(" VALUES ");
    for i in 0..rows {
        let n = i * 8;
        if i > 0 {
            sql.push_str(", ");
        }
        sql += &format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            n + 1,
            n + 2,
            n + 3,
            n + 3,
            n + 4,
            n + 5,
            n + 6,
            n + 7,
            n + 8,
            n + 8
        );
    }
    sql.push(' ');
    sql.push_str(SEEN_UPSERT);
    sql
}

/// The columns a person seen in records is inserted with.
const SEEN_INSERT: &str = "INSERT INTO users (tenant_id, id, username, display_name, user_type, raw_data, first_seen, \
     last_seen, created_at, updated_at)";

/// What makes inserting a person seen in records an upsert (see [`upsert_seen`]).
const SEEN_UPSERT: &str = "ON CONFLICT (tenant_id, username) WHERE deleted_at IS NULL DO UPDATE SET \
     first_seen = CASE WHEN users.first_seen IS NULL OR excluded.first_seen < users.first_seen \
         THEN excluded.first_seen ELSE users.first_seen END, \
     last_seen = CASE WHEN users.last_seen IS NULL OR excluded.last_seen > users.last_seen \
         THEN excluded.last_seen ELSE users.last_seen END, \
     raw_data = CASE WHEN excluded.raw_data IS NOT NULL \
         AND (users.last_seen IS NULL OR excluded.last_seen >= users.last_seen) \
         THEN excluded.raw_data ELSE users.raw_data END, \
     updated_at = excluded.updated_at, version = users.version + 1 \
     WHERE users.role = 'user' AND users.email IS NULL AND users.password_hash IS NULL \
         AND users.identity_provider IS NULL \
         AND (users.first_seen IS NULL OR users.last_seen IS NULL \
         OR excluded.first_seen < users.first_seen OR excluded.last_seen > users.last_seen \
         OR (excluded.raw_data IS NOT NULL AND excluded.last_seen >= users.last_seen \
             AND users.raw_data IS DISTINCT FROM excluded.raw_data)) \
     RETURNING username, id, version";

/// An account of its own — one that signs in (an email, a password, an identity provider) or holds a role above
/// `user` — as opposed to a person known from records alone: an ingest links records to it but never changes it.
const OWN_ACCOUNT: &str = "(role <> 'user' OR email IS NOT NULL OR password_hash IS NOT NULL \
     OR identity_provider IS NOT NULL)";

/// [`upsert_seen`] on PostgreSQL: the people travel as arrays in one statement, not one per 500 people (with the
/// contributions' read of stored records done the same way, a 1M-bug ingest took 79.3 s instead of 81.9–85.3 s).
async fn upsert_seen_unnested(
    tx: &mut Tx,
    tenant_id: TenantId,
    user_type: &str,
    people: &[&super::SeenPerson],
    now: OffsetDateTime,
) -> Result<Vec<(String, Uuid, i64)>, StoreError> {
    let column = |f: &dyn Fn(&super::SeenPerson) -> Value| Value::Array(people.iter().map(|p| f(p)).collect());
    let params = vec![
        tenant_id.into(),
        user_type.into(),
        now.into(),
        column(&|_| Uuid::now_v7().into()),
        column(&|p| p.name.clone().into()),
        column(&|p| p.raw_data.clone().into()),
        column(&|p| p.first_seen.into()),
        column(&|p| p.last_seen.into()),
    ];
    tx.query(
        format!(
            "{SEEN_INSERT} SELECT $1, p.id, p.username, p.username, $2, p.raw_data, p.first_seen, p.last_seen, $3, $3 \
             FROM unnest($4::uuid[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::timestamptz[]) WITH ORDINALITY \
             AS p (id, username, raw_data, first_seen, last_seen, n) ORDER BY p.n {SEEN_UPSERT}"
        ),
        params,
    )
    .await
}

/// The ids of the live users with these usernames.
/// The live users with these usernames: (username, id, whether it is an account of its own, and then its role).
pub(super) async fn ids_by_username(
    tx: &mut Tx,
    tenant_id: TenantId,
    usernames: &[&str],
) -> Result<Vec<(String, Uuid, Option<String>)>, StoreError> {
    let mut out = Vec::with_capacity(usernames.len());
    for chunk in crate::store::statement_chunks(usernames) {
        let mut params: Vec<Value> = vec![tenant_id.into()];
        params.extend(chunk.iter().map(|&name| Value::from(name)));
        let sql = crate::store::statement_text("ids_by_username", chunk.len(), || {
            format!(
                "SELECT username, id, CASE WHEN {OWN_ACCOUNT} THEN role END FROM users \
                 WHERE tenant_id = $1 AND deleted_at IS NULL AND username IN ({})",
                crate::store::placeholder_list(2, chunk.len())
            )
        });
        out.extend(tx.query::<(String, Uuid, Option<String>)>(sql, params).await?);
    }
    Ok(out)
}

/// Live users seen since `since`, newest first, after the keyset `(last_seen, id)`.
pub(super) async fn seen_since(
    store: &Store,
    tenant_id: TenantId,
    user_type: Option<&str>,
    since: OffsetDateTime,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    let mut sql = format!(
        "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND last_seen IS NOT NULL \
         AND last_seen >= $2"
    );
    let mut params: Vec<Value> = vec![tenant_id.into(), since.into()];
    if let Some((last_seen, id)) = after {
        sql += " AND (last_seen < $3 OR (last_seen = $3 AND id > $4))";
        params.extend([last_seen.into(), id.into()]);
    }
    if let Some(user_type) = user_type {
        params.push(user_type.into());
        sql += &format!(" AND user_type = ${}", params.len());
    }
    params.push((limit + 1).into());
    sql += &format!(" ORDER BY last_seen DESC, id LIMIT ${}", params.len());
    store.query(sql, params).await
}

/// The live users among `ids`, in no particular order.
pub(super) async fn live_by_ids(store: &Store, tenant_id: TenantId, ids: &[Uuid]) -> Result<Vec<User>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in crate::store::statement_chunks(ids) {
        let mut params: Vec<Value> = vec![tenant_id.into()];
        params.extend(chunk.iter().map(Value::from));
        let sql = crate::store::statement_text("live_by_ids", chunk.len(), || {
            format!(
                "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND id IN ({})",
                crate::store::placeholder_list(2, chunk.len())
            )
        });
        out.extend(store.query::<User>(sql, params).await?);
    }
    Ok(out)
}

/// The live users of the tenant among `ids`, with their display names, in id order.
pub(super) async fn live_names(
    mut db: impl Query,
    tenant_id: TenantId,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, StoreError> {
    let mut found = Vec::new();
    for chunk in crate::store::statement_chunks(ids) {
        let sql = crate::store::statement_text("users_live_names", chunk.len(), || {
            format!(
                "SELECT id, display_name FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND id IN ({})",
                crate::store::placeholder_list(2, chunk.len())
            )
        });
        let mut params = vec![tenant_id.into()];
        params.extend(chunk.iter().map(|id| id.into()));
        found.extend(db.query::<(Uuid, String)>(sql.into(), params).await?);
    }
    found.sort();
    Ok(found)
}

/// Write what a provider sets (profile, status, identity, password) if the user is still at the version it was
/// authorized at; false when someone else wrote first.
pub(super) async fn update_provisioned(tx: &mut Tx, target: &Authorized<'_>, u: &User) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE users SET email = $4, email_key = $5, username = $6, display_name = $7, first_name = $8, \
             last_name = $9, metadata = $10, status = $11, failed_login_attempts = $12, locked_until = $13, \
             identity_provider = $14, identity_provider_id = $15, password_hash = $16, updated_at = $17, \
             version = version + 1 WHERE tenant_id = $1 AND id = $2 AND version = $3",
            vec![
                target.tenant_id().into(),
                target.id().into(),
                target.version().into(),
                u.email.clone().into(),
                u.email_key.clone().into(),
                u.username.clone().into(),
                u.display_name.clone().into(),
                u.first_name.clone().into(),
                u.last_name.clone().into(),
                u.metadata.clone().into(),
                u.status.into(),
                u.failed_login_attempts.into(),
                u.locked_until.into(),
                u.identity_provider.clone().into(),
                u.identity_provider_id.clone().into(),
                u.password_hash.clone().into(),
                u.updated_at.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

pub(super) async fn count_live(store: &Store, tenant_id: TenantId) -> Result<i64, StoreError> {
    let (n,): (i64,) = store
        .query_one("SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND deleted_at IS NULL", vec![tenant_id.into()])
        .await?;
    Ok(n)
}

pub(super) async fn live_at(
    store: &Store,
    tenant_id: TenantId,
    offset: i64,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    store
        .query(
            format!(
                "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY id \
                 LIMIT $2 OFFSET $3"
            ),
            vec![tenant_id.into(), limit.into(), offset.into()],
        )
        .await
}

/// Live users whose username is `username` in any case (ASCII letters on SQLite, every letter on PostgreSQL).
pub(super) async fn by_username_any_case(
    store: &Store,
    tenant_id: TenantId,
    username: &str,
) -> Result<Vec<User>, StoreError> {
    // no ORDER BY: with one, PostgreSQL's generic plan may walk the tenant in id order instead of the index
    let mut found: Vec<User> = store
        .query(
            format!(
                "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND lower(username) = lower($2) \
                 AND deleted_at IS NULL"
            ),
            vec![tenant_id.into(), username.into()],
        )
        .await?;
    found.sort_by_key(|u| u.id);
    Ok(found)
}
