//! What a user is, and values that can only hold valid user data ("parse, don't validate").

use std::str::FromStr;

use email_address::{EmailAddress, Options};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::FieldError;
use crate::principal::Role;
use crate::store::{FromRow, Row, StoreError};

/// An email address (RFC 5321 limits: 254 in all, 64 before the `@`), kept as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, FieldError> {
        let s = s.trim();
        let invalid = |why: &str| FieldError::new("email", why);
        if s.len() > 254 {
            return Err(invalid("must be at most 254 characters"));
        }
        let options = Options::default().without_display_text().without_domain_literal();
        let address = EmailAddress::parse_with_options(s, options)
            .map_err(|e| invalid(&format!("is not a valid address: {e}")))?;
        if address.local_part().len() > 64 {
            return Err(invalid("the part before @ must be at most 64 characters"));
        }
        Ok(Email(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness and lookups use.
    pub fn key(&self) -> String {
        email_key(&self.0)
    }
}

/// The case-folded form of an address.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A username: trimmed, NFC-normalised, 1 to 100 characters of letters, digits, spaces and `. _ - ' @ +`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, FieldError> {
        let normalized = normalize_username(s);
        let length = normalized.chars().count();
        if length == 0 || length > 100 {
            return Err(FieldError::new("username", "must be 1 to 100 characters"));
        }
        if let Some(bad) = normalized.chars().find(|c| !(c.is_alphanumeric() || " ._-'@+".contains(*c))) {
            return Err(FieldError::new(
                "username",
                format!("may contain letters, digits, spaces and . _ - ' @ + only, not {bad:?}"),
            ));
        }
        Ok(Username(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trim and NFC-normalise a name: the key under which people are deduplicated.
pub fn normalize_username(s: &str) -> String {
    s.trim().nfc().collect()
}

fn plain_text(field: &str, value: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(value.nfc().collect())
}

pub fn display_name(value: &str) -> Result<String, FieldError> {
    plain_text("display_name", value, 200, true)
}

pub fn person_name(field: &str, value: &str) -> Result<String, FieldError> {
    plain_text(field, value, 100, true)
}

pub fn target_role(value: &str) -> Result<String, FieldError> {
    plain_text("target_role", value, 100, true)
}

/// An IANA time zone name such as `Europe/Lisbon`.
pub fn timezone(value: &str) -> Result<String, FieldError> {
    chrono_tz::Tz::from_str(value)
        .map(|tz| tz.name().to_owned())
        .map_err(|_| FieldError::new("timezone", format!("{value:?} is not an IANA time zone (e.g. Europe/Lisbon)")))
}

pub const METADATA_MAX_BYTES: usize = 4000;
pub const PREFERENCES_MAX_BYTES: usize = 16 * 1024;

fn json_object(field: &str, value: serde_json::Value, max: usize) -> Result<serde_json::Value, FieldError> {
    if !value.is_object() {
        return Err(FieldError::new(field, "must be a JSON object"));
    }
    let size = value.to_string().len();
    if size > max {
        return Err(FieldError::new(field, format!("must be at most {max} bytes serialised, is {size}")));
    }
    Ok(value)
}

pub fn metadata(value: serde_json::Value) -> Result<serde_json::Value, FieldError> {
    json_object("metadata", value, METADATA_MAX_BYTES)
}

pub fn preferences(value: serde_json::Value) -> Result<serde_json::Value, FieldError> {
    json_object("preferences", value, PREFERENCES_MAX_BYTES)
}

/// An identity provider's name: `[a-z][a-z0-9_]{1,63}`, e.g. `entra_id`, `google`.
pub fn identity_provider(value: &str) -> Result<String, FieldError> {
    let ok = value.len() >= 2
        && value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new("identity_provider", "must match [a-z][a-z0-9_]{1,63}"))
    }
}

pub fn identity_provider_id(value: &str) -> Result<String, FieldError> {
    plain_text("identity_provider_id", value, 255, true)
}

crate::text_enum!(
    /// What a tenant knows the person as.
    UserType { Member = "member", Tester = "tester", Customer = "customer" }
);
crate::text_enum!(
    /// Where the account is in its lifecycle.
    UserStatus {
        PendingVerification = "pending_verification",
        Invited = "invited",
        Active = "active",
        Suspended = "suspended",
        Locked = "locked",
    }
);
impl UserStatus {
    /// What an account of this status may do at `now`, given its lock: `None` when it is live and active (a lock that
    /// has run out counts as active), else the status that stops it. Only a live, active account is allowed anything:
    /// its grants, its role and its sessions count for nothing otherwise.
    pub fn stops(self, locked_until: Option<OffsetDateTime>, now: OffsetDateTime) -> Option<UserStatus> {
        match self {
            UserStatus::Active => None,
            UserStatus::Locked if locked_until.is_some_and(|until| until <= now) => None,
            other => Some(other),
        }
    }
}

crate::text_enum!(
    /// Seniority, for training.
    ExperienceLevel {
        Entry = "entry",
        Junior = "junior",
        Mid = "mid",
        Senior = "senior",
        Lead = "lead",
        Principal = "principal",
    }
);

/// A person a tenant knows. Secrets (`password_hash`, `totp_secret`) never leave the server.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: Option<String>,
    #[serde(skip)]
    pub email_key: Option<String>,
    pub username: Option<String>,
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub user_type: UserType,
    pub role: Role,
    pub status: UserStatus,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub identity_provider: Option<String>,
    pub identity_provider_id: Option<String>,
    #[serde(skip)]
    pub totp_secret: Option<Vec<u8>>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub totp_enabled_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub email_verified_at: Option<OffsetDateTime>,
    pub failed_login_attempts: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    pub login_count: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_session_start: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_active_at: Option<OffsetDateTime>,
    pub total_usage_minutes: i64,
    pub target_role: Option<String>,
    pub experience_level: Option<ExperienceLevel>,
    pub timezone: String,
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub level: i64,
    pub xp: i64,
    #[schema(value_type = Option<Object>)]
    pub raw_data: Option<serde_json::Value>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_seen: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    pub version: i64,
}

impl User {
    /// The public view of the user as JSON: what responses and audit entries show.
    pub fn view(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub(super) const COLUMNS: &str = "id, tenant_id, email, email_key, username, display_name, first_name, last_name, \
    user_type, role, status, password_hash, identity_provider, identity_provider_id, totp_secret, totp_enabled_at, \
    email_verified_at, failed_login_attempts, locked_until, last_login_at, login_count, last_session_start, \
    last_active_at, total_usage_minutes, target_role, experience_level, timezone, preferences, metadata, level, xp, \
    raw_data, first_seen, last_seen, created_at, updated_at, deleted_at, version";

impl FromRow for User {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(User {
            id: row.get(0)?,
            tenant_id: row.get(1)?,
            email: row.get(2)?,
            email_key: row.get(3)?,
            username: row.get(4)?,
            display_name: row.get(5)?,
            first_name: row.get(6)?,
            last_name: row.get(7)?,
            user_type: row.get_enum(8)?,
            role: row.get_enum(9)?,
            status: row.get_enum(10)?,
            password_hash: row.get(11)?,
            identity_provider: row.get(12)?,
            identity_provider_id: row.get(13)?,
            totp_secret: row.get(14)?,
            totp_enabled_at: row.get(15)?,
            email_verified_at: row.get(16)?,
            failed_login_attempts: row.get(17)?,
            locked_until: row.get(18)?,
            last_login_at: row.get(19)?,
            login_count: row.get(20)?,
            last_session_start: row.get(21)?,
            last_active_at: row.get(22)?,
            total_usage_minutes: row.get(23)?,
            target_role: row.get(24)?,
            experience_level: row.get_enum_opt(25)?,
            timezone: row.get(26)?,
            preferences: row.get(27)?,
            metadata: row.get(28)?,
            level: row.get(29)?,
            xp: row.get(30)?,
            raw_data: row.get(31)?,
            first_seen: row.get(32)?,
            last_seen: row.get(33)?,
            created_at: row.get(34)?,
            updated_at: row.get(35)?,
            deleted_at: row.get(36)?,
            version: row.get(37)?,
        })
    }
}

/// `POST …/users`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: Option<String>,
    pub username: Option<String>,
    /// Defaults to the username, else the part of the email before `@`.
    pub display_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub user_type: Option<UserType>,
    pub role: Option<Role>,
    /// Defaults to `active` when a password, password hash or identity is given, else `invited`.
    pub status: Option<UserStatus>,
    /// A plain password, hashed with Argon2id by roster.
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<String>,
    /// An existing bcrypt or Argon2 PHC string, for importing accounts.
    pub password_hash: Option<String>,
    pub identity_provider: Option<String>,
    pub identity_provider_id: Option<String>,
    pub target_role: Option<String>,
    pub experience_level: Option<ExperienceLevel>,
    /// IANA time zone, default `UTC`.
    pub timezone: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
    /// At most 4000 bytes serialised.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// `PATCH …/users/{id}`: fields sent change; `null` clears an optional field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    pub username: Option<Option<String>>,
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    pub last_name: Option<Option<String>>,
    pub user_type: Option<UserType>,
    pub role: Option<Role>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    pub target_role: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    pub experience_level: Option<Option<ExperienceLevel>>,
    pub timezone: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// `PATCH /v1/me`: what a user may change of its own profile. Anything else (role, status, email, counters, XP) is an
/// unknown field, answered 422.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnProfilePatch {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    pub last_name: Option<Option<String>>,
    pub timezone: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Filters of `GET …/users`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserFilter {
    pub status: Option<UserStatus>,
    pub role: Option<Role>,
    pub user_type: Option<UserType>,
    /// The exact target role (as stored, after trimming).
    pub target_role: Option<String>,
    pub experience_level: Option<ExperienceLevel>,
    /// Matches email, username or display name (case-insensitive substring).
    pub q: Option<String>,
    #[serde(default)]
    pub include_deleted: bool,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn emails_follow_rfc_5321_limits() {
        assert!(Email::parse("ana@example.com").is_ok());
        assert!(Email::parse("admin@localhost").is_ok());
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(Email::parse(&format!("a@{}.com", "b".repeat(250))).is_err());
        assert!(Email::parse("Ana <ana@example.com>").is_err(), "no display text");
        assert!(Email::parse("ana@[127.0.0.1]").is_err(), "no domain literals");
        assert_eq!(Email::parse(" Ana@Example.COM ").unwrap().key(), "ana@example.com");
    }

    #[test]
    fn usernames_are_trimmed_and_nfc_normalised() {
        let decomposed = "Ju\u{0301}lia S.";
        assert_eq!(Username::parse(&format!("  {decomposed} ")).unwrap().as_str(), "J\u{fa}lia S.");
        assert!(Username::parse("   ").is_err());
        assert!(Username::parse("a/b").is_err());
        assert!(Username::parse("tab\there").is_err());
        assert!(Username::parse(&"x".repeat(101)).is_err());
        assert!(Username::parse("tester12_Müller").is_ok());
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(timezone("Europe/Lisbon").unwrap(), "Europe/Lisbon");
        assert!(timezone("Mars/Olympus").is_err());
        assert!(timezone("").is_err());
    }

    #[test]
    fn metadata_is_an_object_of_at_most_4000_bytes() {
        assert!(metadata(serde_json::json!({"a": "x".repeat(3980)})).is_ok());
        assert!(metadata(serde_json::json!({"a": "x".repeat(4000)})).is_err());
        assert!(metadata(serde_json::json!("text")).is_err());
    }

    proptest! {
        #[test]
        fn validators_never_panic(s in any::<String>()) {
            let _ = Email::parse(&s);
            let _ = Username::parse(&s);
            let _ = display_name(&s);
            let _ = timezone(&s);
            let _ = identity_provider(&s);
            let _ = crate::users::password::imported_hash(&s);
        }

        #[test]
        fn request_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = crate::http::parse_json::<NewUser>(&bytes);
            let _ = crate::http::parse_json::<UserPatch>(&bytes);
        }

        #[test]
        fn json_shaped_bodies_never_panic(
            key in "[a-z_]{1,20}",
            value in prop_oneof![Just("null".to_owned()), "-?[0-9]{1,25}", "\"[^\"\\\\]{0,40}\"", Just("[]".to_owned()), Just("{}".to_owned())],
        ) {
            let body = format!("{{\"{key}\": {value}}}");
            let _ = crate::http::parse_json::<NewUser>(body.as_bytes());
            let _ = crate::http::parse_json::<UserPatch>(body.as_bytes());
        }
    }
}
