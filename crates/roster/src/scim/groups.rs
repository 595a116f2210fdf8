//! SCIM Groups: the groups module's groups said in SCIM's words. `displayName` ↔ display name, `externalId` ↔
//! external id, `members` ↔ members (users only: a group inside a group is refused), anything else kept in the
//! group's metadata.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::attrs;
use super::users::version_tag;
use super::{ScimError, GROUP_SCHEMA};
use crate::groups::{GroupInput, GroupWithMembers};

const MAPPED: [&str; 6] = ["schemas", "id", "meta", "displayName", "members", "externalId"];

/// The Group resource of a group.
pub fn resource(group: &GroupWithMembers, base: &str) -> Value {
    let g = &group.group;
    let mut r = Map::new();
    r.insert("schemas".into(), json!([GROUP_SCHEMA]));
    r.insert("id".into(), json!(g.id));
    if let Some(external_id) = &g.external_id {
        r.insert("externalId".into(), json!(external_id));
    }
    r.insert("displayName".into(), json!(g.display_name));
    if let Some(kept) = g.metadata.as_object() {
        for (key, value) in kept {
            r.insert(key.clone(), value.clone());
        }
    }
    let members: Vec<Value> = group
        .members
        .iter()
        .map(|(id, _)| json!({"value": id, "$ref": format!("{base}/Users/{id}"), "type": "User"}))
        .collect();
    r.insert("members".into(), Value::Array(members));
    r.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": crate::audit::timestamp(g.created_at),
            "lastModified": crate::audit::timestamp(g.updated_at),
            "location": format!("{base}/Groups/{}", g.id),
            "version": version_tag(g.version),
        }),
    );
    Value::Object(r)
}

/// Read a Group resource (POST, PUT, or the result of a PATCH).
pub fn read(doc: &Value) -> Result<GroupInput, ScimError> {
    let fields = doc.as_object().ok_or_else(|| ScimError::invalid_syntax("a Group must be a JSON object"))?;
    let schemas = attrs::get(fields, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA)))) {
        return Err(ScimError::invalid_syntax(format!("schemas must hold {GROUP_SCHEMA}")));
    }
    let display_name = match attrs::get(fields, "displayName") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        _ => return Err(ScimError::invalid_value("displayName is required")),
    };
    let external_id = match attrs::get(fields, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(ScimError::invalid_value("externalId must be a string")),
    };
    let members = match attrs::get(fields, "members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            items.iter().enumerate().map(|(i, item)| member(i, item)).collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => return Err(ScimError::invalid_value("members must be an array")),
    };
    let kept: Map<String, Value> = fields
        .iter()
        .filter(|(k, v)| !v.is_null() && !MAPPED.iter().any(|m| m.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(GroupInput { display_name, external_id, metadata: Value::Object(kept), members })
}

fn member(i: usize, item: &Value) -> Result<Uuid, ScimError> {
    let fields = item.as_object().ok_or_else(|| ScimError::invalid_value(format!("members[{i}] must be an object")))?;
    if attrs::get(fields, "type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("Group")) {
        return Err(ScimError::invalid_value(format!("members[{i}]: a group cannot be a member of a group here")));
    }
    match attrs::get(fields, "value") {
        Some(Value::String(id)) => Uuid::parse_str(id.trim())
            .map_err(|_| ScimError::invalid_value(format!("members[{i}].value {id:?} is not a user of this tenant"))),
        _ => Err(ScimError::invalid_value(format!("members[{i}].value must be a user id"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_resource_is_read_with_its_members() {
        let a = Uuid::now_v7();
        let input = read(&json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales", "externalId": "g-1",
            "members": [{"value": a.to_string(), "display": "Ana"}], "id": "x", "custom": 1}))
        .unwrap();
        assert_eq!(input.display_name, "Sales");
        assert_eq!(input.external_id.as_deref(), Some("g-1"));
        assert_eq!(input.members, vec![a]);
        assert_eq!(input.metadata, json!({"custom": 1}));
        for bad in [
            json!({"displayName": "x"}),
            json!({"schemas": [GROUP_SCHEMA]}),
            json!({"schemas": [GROUP_SCHEMA], "displayName": "x", "members": [{"value": "nope"}]}),
            json!({"schemas": [GROUP_SCHEMA], "displayName": "x", "members": [{"value": a.to_string(), "type": "Group"}]}),
            json!({"schemas": [GROUP_SCHEMA], "displayName": "x", "members": {"value": a.to_string()}}),
        ] {
            assert!(read(&bad).is_err(), "{bad}");
        }
    }
}
