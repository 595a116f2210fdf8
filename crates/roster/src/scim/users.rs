//! SCIM Users: roster's users said in SCIM's words, and SCIM's User resources read into roster's.
//!
//! Mapping: `userName` ↔ username; the primary of `emails` ↔ email; `name.givenName` / `name.familyName` ↔ first
//! and last name; `displayName` ↔ display name; `active` ↔ status (`false` is suspended); `externalId` ↔ the user's
//! identity at the provider `scim`; `password` (write-only) ↔ the password, hashed. Every other attribute the provider
//! sends (the enterprise extension's `employeeNumber`, `department`, `manager`, other emails, phone numbers, …) is
//! kept in the user's metadata under `scim` and given back as it came. `groups` is read-only, from the groups module.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::attrs;
use super::filter::parse_bool;
use super::{ScimError, ENTERPRISE_SCHEMA, USER_SCHEMA};
use crate::groups::Group;
use crate::users::{NewUser, Provisioned, User, UserPatch, UserStatus};

/// The identity provider name under which SCIM's `externalId` is kept.
pub const PROVIDER: &str = "scim";
/// The key of the user's metadata that holds the attributes kept for the provider.
const KEPT: &str = "scim";
/// Attributes never kept: roster's own, read-only ones, and the password.
const MAPPED: [&str; 9] =
    ["schemas", "id", "meta", "groups", "userName", "displayName", "active", "externalId", "password"];
/// What the kept attributes may take of the user's metadata (4,000 bytes in all).
const KEPT_MAX_BYTES: usize = 3_500;
/// Among the kept attributes: roster's own attributes the provider left out (`displayName`, `active`), which roster
/// must hold all the same (a display name, a status) but does not show back.
const ABSENT: &str = "roster:absent";

/// The User resource of a user: `base` is the tenant's SCIM address (`https://host/scim/v2/tenants/acme`).
pub fn resource(user: &User, groups: &[Group], base: &str) -> Value {
    let mut kept = user.metadata.get(KEPT).and_then(Value::as_object).cloned().unwrap_or_default();
    let absent: Vec<String> = match kept.remove(ABSENT) {
        Some(Value::Array(names)) => names.into_iter().filter_map(|n| n.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    let shown = |name: &str| !absent.iter().any(|a| a == name);
    let mut r = Map::new();
    let mut schemas = vec![json!(USER_SCHEMA)];
    if attrs::get(&kept, ENTERPRISE_SCHEMA).is_some() {
        schemas.push(json!(ENTERPRISE_SCHEMA));
    }
    r.insert("schemas".into(), Value::Array(schemas));
    r.insert("id".into(), json!(user.id));
    if user.identity_provider.as_deref() == Some(PROVIDER) {
        r.insert("externalId".into(), json!(user.identity_provider_id));
    }
    r.insert("userName".into(), json!(user.username.as_deref().or(user.email.as_deref()).unwrap_or_default()));
    for (key, value) in &kept {
        if !key.eq_ignore_ascii_case("name") && !key.eq_ignore_ascii_case("emails") {
            r.insert(key.clone(), value.clone());
        }
    }
    let mut name = attrs::get(&kept, "name").and_then(Value::as_object).cloned().unwrap_or_default();
    for (sub, value) in [("givenName", &user.first_name), ("familyName", &user.last_name)] {
        match value {
            Some(value) => attrs::set(&mut name, sub, json!(value)),
            None => {
                attrs::remove(&mut name, sub);
            }
        }
    }
    if attrs::get(&name, "formatted").is_none() && (user.first_name.is_some() || user.last_name.is_some()) {
        let formatted = [&user.first_name, &user.last_name].into_iter().flatten().cloned().collect::<Vec<_>>();
        name.insert("formatted".into(), json!(formatted.join(" ")));
    }
    if !name.is_empty() {
        r.insert("name".into(), Value::Object(name));
    }
    if shown("displayName") {
        r.insert("displayName".into(), json!(user.display_name));
    }
    if shown("active") || user.status == UserStatus::Suspended {
        r.insert("active".into(), json!(user.status != UserStatus::Suspended));
    }
    if let Some(email) = &user.email {
        r.insert("emails".into(), emails(attrs::get(&kept, "emails"), email));
    }
    if !groups.is_empty() {
        let groups: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({"value": g.id, "display": g.display_name, "$ref": format!("{base}/Groups/{}", g.id),
                    "type": "direct"})
            })
            .collect();
        r.insert("groups".into(), Value::Array(groups));
    }
    r.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": crate::audit::timestamp(user.created_at),
            "lastModified": crate::audit::timestamp(user.updated_at),
            "location": format!("{base}/Users/{}", user.id),
            "version": version_tag(user.version),
        }),
    );
    Value::Object(r)
}

/// The emails as the provider sent them when they still hold the user's email, else that email alone, as primary.
fn emails(kept: Option<&Value>, email: &str) -> Value {
    if let Some(Value::Array(items)) = kept {
        let value = |item: &Value| {
            item.as_object().and_then(|o| attrs::get(o, "value")).and_then(Value::as_str).map(str::to_owned)
        };
        if let Some(at) = items.iter().position(|item| value(item).is_some_and(|v| v.eq_ignore_ascii_case(email))) {
            let mut items = items.clone();
            if let Some(fields) = items[at].as_object_mut() {
                attrs::set(fields, "value", json!(email));
            }
            return Value::Array(items);
        }
    }
    json!([{"value": email, "type": "work", "primary": true}])
}

/// `W/"3"`: a version as SCIM's `meta.version` and the `ETag` header say it.
pub fn version_tag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// A User resource as a provider sent it, read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserDoc {
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub active: Option<bool>,
    pub external_id: Option<String>,
    pub password: Option<String>,
    /// Every other attribute, kept for the provider.
    pub kept: Map<String, Value>,
}

fn text(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    match attrs::get(fields, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::invalid_value(format!("{name} must be a string"))),
    }
}

/// Read a User resource (POST, PUT, or the result of a PATCH).
pub fn read(doc: &Value) -> Result<UserDoc, ScimError> {
    let fields = doc.as_object().ok_or_else(|| ScimError::invalid_syntax("a User must be a JSON object"))?;
    let schemas = attrs::get(fields, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(USER_SCHEMA)))) {
        return Err(ScimError::invalid_syntax(format!("schemas must hold {USER_SCHEMA}")));
    }
    let user_name = text(fields, "userName")?
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let name = match attrs::get(fields, "name") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(name)) => name.clone(),
        Some(_) => return Err(ScimError::invalid_value("name must be an object")),
    };
    let active = match attrs::get(fields, "active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        // Microsoft Entra ID sends booleans as text
        Some(Value::String(s)) => {
            Some(parse_bool(s).ok_or_else(|| ScimError::invalid_value("active must be true or false"))?)
        }
        Some(_) => return Err(ScimError::invalid_value("active must be true or false")),
    };
    let email = match attrs::get(fields, "emails") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => primary_email(items)?,
        Some(_) => return Err(ScimError::invalid_value("emails must be an array")),
    };
    let mut kept = Map::new();
    for (key, value) in fields {
        if MAPPED.iter().any(|m| m.eq_ignore_ascii_case(key)) || key == ABSENT || value.is_null() {
            continue;
        }
        if key.eq_ignore_ascii_case("name") {
            let rest: Map<String, Value> = name
                .iter()
                .filter(|(k, v)| {
                    !v.is_null() && !k.eq_ignore_ascii_case("givenName") && !k.eq_ignore_ascii_case("familyName")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !rest.is_empty() {
                kept.insert("name".into(), Value::Object(rest));
            }
            continue;
        }
        let key = if key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) { ENTERPRISE_SCHEMA.to_owned() } else { key.clone() };
        kept.insert(key, value.clone());
    }
    let absent: Vec<Value> = ["displayName", "active"]
        .iter()
        .filter(|name| attrs::get(fields, name).is_none_or(Value::is_null))
        .map(|name| json!(name))
        .collect();
    if !absent.is_empty() {
        kept.insert(ABSENT.into(), Value::Array(absent));
    }
    if Value::Object(kept.clone()).to_string().len() > KEPT_MAX_BYTES {
        return Err(ScimError::invalid_value(format!(
            "the attributes kept for the provider (all but userName, name.givenName, name.familyName, displayName, \
             active, externalId and password) are over {KEPT_MAX_BYTES} bytes"
        )));
    }
    Ok(UserDoc {
        user_name,
        email,
        given_name: text(&name, "givenName")?,
        family_name: text(&name, "familyName")?,
        display_name: text(fields, "displayName")?,
        active,
        external_id: text(fields, "externalId")?,
        password: text(fields, "password")?,
        kept,
    })
}

/// The email roster keeps: the one marked primary (at most one may be), else the first.
fn primary_email(items: &[Value]) -> Result<Option<String>, ScimError> {
    let mut first = None;
    let mut primary = None;
    for (i, item) in items.iter().enumerate() {
        let fields =
            item.as_object().ok_or_else(|| ScimError::invalid_value(format!("emails[{i}] must be an object")))?;
        let Some(value) = text(fields, "value")? else { continue };
        let is_primary = match attrs::get(fields, "primary") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => parse_bool(s).unwrap_or(false),
            _ => false,
        };
        if is_primary {
            if primary.is_some() {
                return Err(ScimError::invalid_value("at most one of emails may be primary"));
            }
            primary = Some(value.clone());
        }
        first.get_or_insert(value);
    }
    Ok(primary.or(first))
}

impl UserDoc {
    /// The display name: as given, else the person's name, else the user name.
    fn shown_name(&self) -> String {
        if let Some(name) = self.display_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            return name.to_owned();
        }
        let parts = [&self.given_name, &self.family_name].into_iter().flatten().cloned().collect::<Vec<_>>();
        if parts.is_empty() {
            self.user_name.clone()
        } else {
            parts.join(" ")
        }
    }

    /// The user to create.
    pub fn new_user(self) -> NewUser {
        let display_name = Some(self.shown_name());
        NewUser {
            username: Some(self.user_name),
            email: self.email,
            display_name,
            first_name: self.given_name,
            last_name: self.family_name,
            status: Some(if self.active.unwrap_or(true) { UserStatus::Active } else { UserStatus::Suspended }),
            password: self.password,
            identity_provider: self.external_id.as_ref().map(|_| PROVIDER.to_owned()),
            identity_provider_id: self.external_id,
            metadata: Some(json!({ KEPT: self.kept })),
            ..NewUser::default()
        }
    }

    /// What replacing `current` with this resource sets. An identity at another provider (linked by single sign-on)
    /// is left alone; only the `scim` one follows `externalId`.
    pub fn provisioned(self, current: &User) -> Provisioned {
        let mut metadata = current.metadata.as_object().cloned().unwrap_or_default();
        metadata.insert(KEPT.into(), Value::Object(self.kept.clone()));
        let identity = match (&self.external_id, current.identity_provider.as_deref()) {
            (Some(id), None | Some(PROVIDER)) => Some(Some((PROVIDER.to_owned(), id.clone()))),
            (None, Some(PROVIDER)) => Some(None),
            _ => None,
        };
        Provisioned {
            patch: UserPatch {
                email: Some(self.email.clone()),
                username: Some(Some(self.user_name.clone())),
                display_name: Some(self.shown_name()),
                first_name: Some(self.given_name.clone()),
                last_name: Some(self.family_name.clone()),
                metadata: Some(Value::Object(metadata)),
                ..UserPatch::default()
            },
            active: Some(self.active.unwrap_or(true)),
            identity,
            password: self.password,
        }
    }
}

/// A user id from a path or a filter value; anything else names no user.
pub fn parse_id(text: &str) -> Option<Uuid> {
    Uuid::parse_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(value: Value) -> Result<UserDoc, ScimError> {
        read(&value)
    }

    #[test]
    fn a_user_resource_is_read_with_its_kept_attributes() {
        let d = doc(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], "userName": "bjensen@example.com", "externalId": "00u1",
            "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"},
            "emails": [{"value": "babs@home.org", "type": "home"}, {"value": "bjensen@example.com", "primary": "True"}],
            "active": "False", "title": "Tour Guide", "id": "ignored", "meta": {"x": 1},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"department": "Tours", "employeeNumber": "7"}
        }))
        .unwrap();
        assert_eq!(d.user_name, "bjensen@example.com");
        assert_eq!(d.email.as_deref(), Some("bjensen@example.com"), "the primary, sent as text");
        assert_eq!(d.active, Some(false));
        assert_eq!((d.given_name.as_deref(), d.family_name.as_deref()), (Some("Barbara"), Some("Jensen")));
        assert_eq!(d.kept["name"], json!({"middleName": "Jane"}));
        assert_eq!(d.kept["title"], "Tour Guide");
        assert_eq!(d.kept[ENTERPRISE_SCHEMA]["department"], "Tours", "the extension under its own spelling");
        assert!(d.kept.get("id").is_none() && d.kept.get("meta").is_none());
        assert_eq!(d.shown_name(), "Barbara Jensen");
    }

    #[test]
    fn a_user_resource_without_what_it_needs_is_refused() {
        for (value, kind) in [
            (json!({"userName": "a"}), "invalidSyntax"),
            (json!({"schemas": [USER_SCHEMA]}), "invalidValue"),
            (json!({"schemas": [USER_SCHEMA], "userName": "  "}), "invalidValue"),
            (json!({"schemas": [USER_SCHEMA], "userName": 5}), "invalidValue"),
            (json!({"schemas": [USER_SCHEMA], "userName": "a", "active": "yes"}), "invalidValue"),
            (json!({"schemas": [USER_SCHEMA], "userName": "a", "emails": "a@b.c"}), "invalidValue"),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a",
                    "emails": [{"value": "a@b.c", "primary": true}, {"value": "d@e.f", "primary": true}]}),
                "invalidValue",
            ),
            (json!({"schemas": [USER_SCHEMA], "userName": "a", "title": "x".repeat(4000)}), "invalidValue"),
            (json!([1]), "invalidSyntax"),
        ] {
            assert_eq!(doc(value.clone()).unwrap_err().scim_type, Some(kind), "{value}");
        }
    }
}
