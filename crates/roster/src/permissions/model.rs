//! What an agent and a grant are, and the rules their fields follow.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::FieldError;
use crate::store::{FromRow, Row, StoreError};

/// The agents every tenant's catalogue starts with, and what each is for.
pub const BUILT_IN_AGENTS: [(&str, &str); 4] = [
    ("client_management", "Client registry"),
    ("pdf_processing", "PDF processing"),
    ("reports_analysis", "Reports and analysis"),
    ("audio_recording", "Audio recording"),
];

/// An agent's name: `[a-z][a-z0-9_]{1,63}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentName(String);

impl AgentName {
    pub fn parse(field: &str, text: &str) -> Result<AgentName, FieldError> {
        let mut chars = text.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if first_ok && rest_ok && (2..=64).contains(&text.len()) {
            Ok(AgentName(text.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "must be 2 to 64 characters: a lower-case letter, then lower-case letters, digits or _",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AgentName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An agent of a tenant's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Agent {
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Set when an admin retired it: it is then out of the catalogue (grants on it are kept but do not count).
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
}

pub(super) const AGENT_COLUMNS: &str = "name, description, created_at, retired_at";

impl FromRow for Agent {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(Agent { name: row.get(0)?, description: row.get(1)?, created_at: row.get(2)?, retired_at: row.get(3)? })
    }
}

/// `POST …/agents`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// `[a-z][a-z0-9_]{1,63}`
    pub name: String,
    /// What the agent does, at most 500 characters.
    pub description: Option<String>,
}

pub(super) fn description(text: &str) -> Result<Option<String>, FieldError> {
    let text = text.trim();
    if text.chars().count() > 500 {
        return Err(FieldError::new("description", "must be at most 500 characters"));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new("description", "must not contain control characters"));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

crate::text_enum!(
    /// What a caller wants to do through an agent.
    AgentAction { Create = "create", Read = "read", Update = "update", Delete = "delete" }
);

crate::text_enum!(
    /// Why a check answered as it did.
    CheckReason {
        /// A live grant includes the action.
        Granted = "granted",
        /// The user's role (admin, sysadmin) allows every action on every agent.
        Role = "role",
        /// The grant's expiry has passed.
        Expired = "expired",
        /// No grant, or a grant without this action.
        NotGranted = "not_granted",
        /// The grant was revoked.
        Revoked = "revoked",
        /// The account is suspended: it is allowed nothing, whatever its grants and role.
        Suspended = "suspended",
        /// The account is locked (until its lock runs out or an admin unlocks it).
        Locked = "locked",
        /// The account was invited and has not accepted yet.
        Invited = "invited",
        /// The account has not verified its email address yet.
        PendingVerification = "pending_verification",
    }
);

crate::text_enum!(
    /// Where a grant stands now.
    GrantStatus { Active = "active", Expired = "expired", Revoked = "revoked" }
);

impl CheckReason {
    /// The reason a check gives for an account that its status stops.
    pub fn stopped_by(status: crate::users::UserStatus) -> CheckReason {
        use crate::users::UserStatus;
        match status {
            UserStatus::Suspended => CheckReason::Suspended,
            UserStatus::Locked => CheckReason::Locked,
            UserStatus::Invited => CheckReason::Invited,
            UserStatus::PendingVerification => CheckReason::PendingVerification,
            // an active account is stopped by nothing; were it ever asked, it is refused rather than allowed
            UserStatus::Active => CheckReason::NotGranted,
        }
    }
}

/// The answer of `…/permissions/{agent}/check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct CheckAnswer {
    pub allowed: bool,
    pub reason: CheckReason,
}

/// `?action=` of a check.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CheckParams {
    /// `create`, `read`, `update` or `delete`
    pub action: Option<String>,
}

/// A user's grant on an agent, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub agent: String,
    pub can_create: bool,
    pub can_read: bool,
    pub can_update: bool,
    pub can_delete: bool,
    pub granted_by: Option<Uuid>,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i64,
}

pub(super) const GRANT_COLUMNS: &str = "tenant_id, user_id, agent_name, can_create, can_read, can_update, can_delete, \
    granted_by, expires_at, revoked_at, created_at, updated_at, version";

impl FromRow for Grant {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(Grant {
            tenant_id: row.get(0)?,
            user_id: row.get(1)?,
            agent: row.get(2)?,
            can_create: row.get(3)?,
            can_read: row.get(4)?,
            can_update: row.get(5)?,
            can_delete: row.get(6)?,
            granted_by: row.get(7)?,
            expires_at: row.get(8)?,
            revoked_at: row.get(9)?,
            created_at: row.get(10)?,
            updated_at: row.get(11)?,
            version: row.get(12)?,
        })
    }
}

impl Grant {
    pub fn allows(&self, action: AgentAction) -> bool {
        match action {
            AgentAction::Create => self.can_create,
            AgentAction::Read => self.can_read,
            AgentAction::Update => self.can_update,
            AgentAction::Delete => self.can_delete,
        }
    }

    /// Revoked, expired (the instant of expiry included) or active.
    pub fn status(&self, now: OffsetDateTime) -> GrantStatus {
        if self.revoked_at.is_some() {
            GrantStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            GrantStatus::Expired
        } else {
            GrantStatus::Active
        }
    }

    /// The answer of a check of `action` against this grant at `now`.
    pub fn check(&self, action: AgentAction, now: OffsetDateTime) -> CheckAnswer {
        let reason = match self.status(now) {
            GrantStatus::Revoked => CheckReason::Revoked,
            GrantStatus::Expired => CheckReason::Expired,
            GrantStatus::Active if self.allows(action) => CheckReason::Granted,
            GrantStatus::Active => CheckReason::NotGranted,
        };
        CheckAnswer { allowed: reason == CheckReason::Granted, reason }
    }

    /// The grant as the API shows it, with its status at `now`.
    pub fn view(&self, now: OffsetDateTime) -> GrantView {
        GrantView {
            user_id: self.user_id,
            agent: self.agent.clone(),
            can_create: self.can_create,
            can_read: self.can_read,
            can_update: self.can_update,
            can_delete: self.can_delete,
            granted_by: self.granted_by,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            status: self.status(now),
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }

    /// What the audit log records of a grant: its flags, expiry and revocation (a diff keeps the changed ones).
    pub(super) fn audited(&self) -> serde_json::Value {
        serde_json::json!({
            "can_create": self.can_create,
            "can_read": self.can_read,
            "can_update": self.can_update,
            "can_delete": self.can_delete,
            "expires_at": self.expires_at.map(crate::audit::timestamp),
            "revoked_at": self.revoked_at.map(crate::audit::timestamp),
        })
    }
}

/// A grant as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct GrantView {
    pub user_id: Uuid,
    pub agent: String,
    pub can_create: bool,
    pub can_read: bool,
    pub can_update: bool,
    pub can_delete: bool,
    /// The user who granted it (none when an API key or the command line did).
    pub granted_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    pub status: GrantStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: i64,
}

/// `PUT …/users/{id}/permissions/{agent}`: the whole grant, replacing any earlier one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    #[serde(default)]
    pub can_create: bool,
    #[serde(default)]
    pub can_read: bool,
    #[serde(default)]
    pub can_update: bool,
    #[serde(default)]
    pub can_delete: bool,
    /// When the grant stops counting (RFC 3339, in the future); none: until revoked.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl GrantInput {
    /// At least one action, and an expiry in the future (to the microsecond both backends keep).
    pub(super) fn validate(&self, now: OffsetDateTime) -> Result<Option<OffsetDateTime>, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(self.can_create || self.can_read || self.can_update || self.can_delete) {
            errors.push(FieldError::new(
                "can_read",
                "grant at least one of can_create, can_read, can_update, can_delete (DELETE revokes)",
            ));
        }
        let expires_at = self.expires_at.map(crate::clock::truncate);
        if expires_at.is_some_and(|at| at <= now) {
            errors.push(FieldError::new("expires_at", "must be in the future"));
        }
        if expires_at.is_some_and(|at| at.year() > 9999) {
            errors.push(FieldError::new("expires_at", "must be before the year 10000"));
        }
        if errors.is_empty() {
            Ok(expires_at)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn agent_names_follow_the_pattern() {
        for good in ["ab", "client_management", "a1", "x_2_y", &format!("a{}", "b".repeat(63))] {
            assert!(AgentName::parse("name", good).is_ok(), "{good}");
        }
        for bad in ["", "a", "1ab", "_ab", "Ab", "a-b", "a b", "aé", "a\0b", &format!("a{}", "b".repeat(64))] {
            assert_eq!(AgentName::parse("name", bad).unwrap_err().field, "name", "{bad:?}");
        }
    }

    fn grant(expires_at: Option<OffsetDateTime>) -> Grant {
        let at = datetime!(2026-12-01 00:00 UTC);
        Grant {
            tenant_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            agent: "pdf_processing".into(),
            can_create: false,
            can_read: true,
            can_update: false,
            can_delete: false,
            granted_by: None,
            expires_at,
            revoked_at: None,
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    #[test]
    fn a_grant_counts_until_the_instant_of_its_expiry() {
        let expiry = datetime!(2026-12-02 12:00 UTC);
        let g = grant(Some(expiry));
        let second_before = expiry - time::Duration::seconds(1);
        let micro_before = expiry - time::Duration::microseconds(1);
        assert_eq!(
            g.check(AgentAction::Read, second_before),
            CheckAnswer { allowed: true, reason: CheckReason::Granted }
        );
        assert_eq!(g.check(AgentAction::Read, micro_before).reason, CheckReason::Granted);
        assert_eq!(g.check(AgentAction::Read, expiry), CheckAnswer { allowed: false, reason: CheckReason::Expired });
        assert_eq!(g.check(AgentAction::Update, second_before).reason, CheckReason::NotGranted);
        assert_eq!(g.check(AgentAction::Update, expiry).reason, CheckReason::Expired, "expiry says more");
        let mut revoked = grant(None);
        revoked.revoked_at = Some(expiry);
        assert_eq!(revoked.check(AgentAction::Read, second_before).reason, CheckReason::Revoked);
        assert_eq!(grant(None).status(datetime!(9999-01-01 0:00 UTC)), GrantStatus::Active);
    }

    #[test]
    fn a_grant_needs_an_action_and_a_future_expiry() {
        let now = datetime!(2026-12-02 12:00 UTC);
        let none = GrantInput::default();
        assert_eq!(none.validate(now).unwrap_err()[0].field, "can_read");
        let past = GrantInput { can_read: true, expires_at: Some(now), ..GrantInput::default() };
        assert_eq!(past.validate(now).unwrap_err()[0].field, "expires_at");
        let future = GrantInput { can_read: true, expires_at: Some(now + time::Duration::seconds(1)), ..past };
        assert_eq!(future.validate(now).unwrap(), Some(now + time::Duration::seconds(1)));
    }
}
