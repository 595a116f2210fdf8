//! PATCH (RFC 7644 §3.5.2): operations `add`, `replace` and `remove` applied to a resource held as JSON. The route
//! then stores the patched resource as a whole, so a PATCH checks and writes exactly what a PUT of its result would.
//!
//! Accepted the way providers send it: `op` in any case (Microsoft Entra ID sends `Replace`); attribute names in any
//! case; without a path, a value whose keys are paths (`name.givenName`, `urn:…:enterprise:2.0:User:department`) or
//! whole extensions; `remove` of a multi-valued attribute with a `value` that lists the elements to take out (Entra's
//! way of removing group members); `remove` of something already absent changes nothing (a retried request succeeds);
//! `replace`/`add` through a filter that selects nothing (`emails[type eq "work"].value`) adds the element the filter
//! describes when the filter is made of `eq` comparisons, as Entra expects.

use scim_v2::filter::{AttrExp, CompValue, CompareOp, PatchPath, ValFilter};
use serde_json::{Map, Value};

use super::attrs::{self, Path};
use super::filter::value_matches;
use super::{ScimError, PATCH_OP_SCHEMA};

/// Operations a PATCH may carry at most.
pub const MAX_OPERATIONS: usize = 1_000;

/// Multi-valued attributes of the User and Group schemas: a single value added to one is one more element.
const MULTI_VALUED: [&str; 10] = [
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "members",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

/// Where an operation applies.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// An attribute, a sub-attribute, or a whole extension (`name` is its URN).
    Attr(Path),
    /// The elements of a multi-valued attribute that a filter selects, or a sub-attribute of them.
    Elements { path: Path, filter: ValFilter, sub_attr: Option<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub target: Option<Target>,
    pub value: Option<Value>,
}

/// Read a `PatchOp` message. `core` is the resource's schema, `extensions` the extension URNs it may carry.
pub fn parse(body: &Value, core: &str, extensions: &[&str]) -> Result<Vec<Operation>, ScimError> {
    let fields = body.as_object().ok_or_else(|| ScimError::invalid_syntax("the body must be a PatchOp object"))?;
    let schemas = attrs::get(fields, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_SCHEMA)))) {
        return Err(ScimError::invalid_syntax(format!("schemas must hold {PATCH_OP_SCHEMA}")));
    }
    let operations = attrs::get(fields, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array of operations"))?;
    if operations.is_empty() || operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!("Operations must hold 1 to {MAX_OPERATIONS} operations")));
    }
    operations
        .iter()
        .enumerate()
        .map(|(i, operation)| {
            let fields = operation
                .as_object()
                .ok_or_else(|| ScimError::invalid_syntax(format!("Operations[{i}] must be an object")))?;
            let op = match attrs::get(fields, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
                Some("add") => Op::Add,
                Some("replace") => Op::Replace,
                Some("remove") => Op::Remove,
                _ => {
                    return Err(ScimError::invalid_syntax(format!("Operations[{i}].op must be add, replace or remove")))
                }
            };
            let target = match attrs::get(fields, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(path)) => Some(target(path, core, extensions)?),
                Some(_) => return Err(ScimError::invalid_path(format!("Operations[{i}].path must be a string"))),
            };
            let value = attrs::get(fields, "value").filter(|v| !v.is_null()).cloned();
            if op != Op::Remove && value.is_none() {
                return Err(ScimError::invalid_value(format!("Operations[{i}] ({op:?}) needs a value")));
            }
            if op == Op::Remove && target.is_none() {
                return Err(ScimError::no_target(format!("Operations[{i}]: remove needs a path")));
            }
            Ok(Operation { op, target, value })
        })
        .collect()
}

/// A path of an operation: a whole extension by its URN, else what the filter crate reads.
pub fn target(text: &str, core: &str, extensions: &[&str]) -> Result<Target, ScimError> {
    let text = text.trim();
    if let Some(urn) = extensions.iter().find(|urn| urn.eq_ignore_ascii_case(text)) {
        return Ok(Target::Attr(Path { extension: None, name: (*urn).to_owned(), sub_attr: None }));
    }
    let parsed: PatchPath = text.parse().map_err(|e| ScimError::invalid_path(format!("path {text:?}: {e}")))?;
    Ok(match parsed {
        PatchPath::Attr(path) => Target::Attr(resolve(&path, core, extensions)),
        PatchPath::Value(vp) => {
            Target::Elements { path: resolve(&vp.attr, core, extensions), filter: vp.filter, sub_attr: vp.sub_attr }
        }
    })
}

/// The filter crate's path, with an extension's URN spelt as the schema spells it.
fn resolve(path: &scim_v2::filter::AttrPath, core: &str, extensions: &[&str]) -> Path {
    let mut resolved = Path::resolve(path, core);
    if let Some(urn) = &resolved.extension {
        if let Some(known) = extensions.iter().find(|e| e.eq_ignore_ascii_case(urn)) {
            resolved.extension = Some((*known).to_owned());
        }
    }
    resolved
}

/// Apply the operations in order. `read_only` attributes (`id`, `meta`, a user's `groups`) cannot be targeted.
pub fn apply(
    resource: &mut Map<String, Value>,
    operations: &[Operation],
    core: &str,
    extensions: &[&str],
    read_only: &[&str],
) -> Result<(), ScimError> {
    for operation in operations {
        match &operation.target {
            Some(target) => apply_at(resource, operation.op, target, operation.value.clone(), read_only)?,
            None => {
                let Some(Value::Object(values)) = &operation.value else {
                    return Err(ScimError::invalid_value("an operation without a path needs an object value"));
                };
                for (key, value) in values {
                    if key.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    let target = if let Some(urn) = extensions.iter().find(|u| u.eq_ignore_ascii_case(key)) {
                        // a whole extension: each of its attributes in turn
                        let Value::Object(inner) = value else {
                            return Err(ScimError::invalid_value(format!("{urn} must be an object")));
                        };
                        for (name, value) in inner {
                            let path = Path { extension: Some((*urn).to_owned()), name: name.clone(), sub_attr: None };
                            apply_at(resource, operation.op, &Target::Attr(path), Some(value.clone()), read_only)?;
                        }
                        continue;
                    } else if key.contains('.') || key.contains(':') {
                        target(key, core, extensions)?
                    } else {
                        Target::Attr(Path { extension: None, name: key.clone(), sub_attr: None })
                    };
                    apply_at(resource, operation.op, &target, Some(value.clone()), read_only)?;
                }
            }
        }
    }
    Ok(())
}

fn is_multi_valued(name: &str) -> bool {
    MULTI_VALUED.iter().any(|m| m.eq_ignore_ascii_case(name))
}

fn apply_at(
    resource: &mut Map<String, Value>,
    op: Op,
    target: &Target,
    value: Option<Value>,
    read_only: &[&str],
) -> Result<(), ScimError> {
    let path = match target {
        Target::Attr(path) | Target::Elements { path, .. } => path,
    };
    if path.extension.is_none() && read_only.iter().any(|r| r.eq_ignore_ascii_case(&path.name)) {
        return Err(ScimError::mutability(format!("{} cannot be changed", path.name)));
    }
    let Some(container) = path.container_mut(resource) else {
        return Err(ScimError::invalid_path(format!("{} is not an object", path.extension.as_deref().unwrap_or(""))));
    };
    match target {
        Target::Attr(Path { name, sub_attr: None, .. }) => attribute(container, op, name, value),
        Target::Attr(Path { name, sub_attr: Some(sub), .. }) => sub_attribute(container, op, name, sub, value),
        Target::Elements { path, filter, sub_attr } => {
            elements(container, op, &path.name, filter, sub_attr.as_deref(), value)
        }
    }
}

/// A whole attribute.
fn attribute(container: &mut Map<String, Value>, op: Op, name: &str, value: Option<Value>) -> Result<(), ScimError> {
    let existing = attrs::get_mut(container, name);
    match (op, existing, value) {
        (Op::Remove, Some(Value::Array(items)), Some(value)) => {
            // the elements named by the value, matched on their `value`
            let gone: Vec<Value> = match value {
                Value::Array(list) => list,
                one => vec![one],
            };
            items.retain(|item| !gone.iter().any(|g| same_element(item, g)));
            Ok(())
        }
        (Op::Remove, _, _) => {
            attrs::remove(container, name);
            Ok(())
        }
        (Op::Add, Some(Value::Array(items)), Some(value)) => {
            let added = match value {
                Value::Array(list) => list,
                one => vec![one],
            };
            for element in added {
                if !items.iter().any(|item| same_element(item, &element)) {
                    items.push(element);
                }
            }
            Ok(())
        }
        (Op::Add | Op::Replace, Some(Value::Object(fields)), Some(Value::Object(values))) => {
            // a complex attribute: the sub-attributes given change, the others stay (RFC 7644 §3.5.2.1, §3.5.2.3)
            for (key, value) in values {
                attrs::set(fields, &key, value);
            }
            Ok(())
        }
        (_, _, Some(value)) => {
            let value = match value {
                Value::Object(_) if is_multi_valued(name) => Value::Array(vec![value]),
                other => other,
            };
            attrs::set(container, name, value);
            Ok(())
        }
        (_, _, None) => Err(ScimError::invalid_value(format!("{name}: the operation needs a value"))),
    }
}

/// Whether two elements of a multi-valued attribute are the same one: equal, or with the same `value`.
fn same_element(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    let value = |v: &Value| v.as_object().and_then(|o| attrs::get(o, "value")).cloned();
    match (value(a), value(b)) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.eq_ignore_ascii_case(&y),
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// `name.sub`: of the complex attribute, or of every element of a multi-valued one.
fn sub_attribute(
    container: &mut Map<String, Value>,
    op: Op,
    name: &str,
    sub: &str,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if attrs::get(container, name).is_none() {
        if op == Op::Remove {
            return Ok(());
        }
        let fresh = Value::Object(Map::new());
        attrs::set(container, name, if is_multi_valued(name) { Value::Array(vec![fresh]) } else { fresh });
    }
    let Some(existing) = attrs::get_mut(container, name) else { return Ok(()) };
    let targets: Vec<&mut Map<String, Value>> = match existing {
        Value::Object(fields) => vec![fields],
        Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        _ => return Err(ScimError::invalid_path(format!("{name} has no sub-attributes"))),
    };
    for fields in targets {
        match (&op, &value) {
            (Op::Remove, _) => {
                attrs::remove(fields, sub);
            }
            (_, Some(value)) => attrs::set(fields, sub, value.clone()),
            (_, None) => return Err(ScimError::invalid_value(format!("{name}.{sub}: the operation needs a value"))),
        }
    }
    Ok(())
}

/// The elements of `name` the filter selects (or their `sub`).
fn elements(
    container: &mut Map<String, Value>,
    op: Op,
    name: &str,
    filter: &ValFilter,
    sub: Option<&str>,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if attrs::get(container, name).is_none() {
        attrs::set(container, name, Value::Array(Vec::new()));
    }
    let Some(Value::Array(items)) = attrs::get_mut(container, name) else {
        return Err(ScimError::invalid_path(format!("{name} is not multi-valued")));
    };
    let selected: Vec<usize> = (0..items.len())
        .filter(|i| items[*i].as_object().is_some_and(|element| value_matches(filter, element)))
        .collect();
    if selected.is_empty() {
        if op == Op::Remove {
            return Ok(());
        }
        // add the element the filter describes, when it is made of equalities
        let mut element = described(filter).ok_or_else(|| {
            ScimError::no_target(format!("{name}[{filter}] selects nothing, and the filter does not describe one"))
        })?;
        match (sub, value) {
            (Some(sub), Some(value)) => attrs::set(&mut element, sub, value),
            (None, Some(Value::Object(values))) => element.extend(values),
            _ => return Err(ScimError::invalid_value(format!("{name}[{filter}]: the operation needs a value"))),
        }
        items.push(Value::Object(element));
        return Ok(());
    }
    if op == Op::Remove && sub.is_none() {
        let mut index = 0;
        items.retain(|_| {
            let keep = !selected.contains(&index);
            index += 1;
            keep
        });
        return Ok(());
    }
    for i in selected {
        let Some(element) = items[i].as_object_mut() else { continue };
        match (op, sub, &value) {
            (Op::Remove, Some(sub), _) => {
                attrs::remove(element, sub);
            }
            (_, Some(sub), Some(value)) => attrs::set(element, sub, value.clone()),
            (Op::Replace, None, Some(Value::Object(values))) => *element = values.clone(),
            (Op::Add, None, Some(Value::Object(values))) => {
                for (key, value) in values {
                    attrs::set(element, key, value.clone());
                }
            }
            _ => return Err(ScimError::invalid_value(format!("{name}[{filter}]: the value must be an object"))),
        }
    }
    Ok(())
}

/// The element a filter of `eq` comparisons joined by `and` describes (`type eq "work"` → `{"type": "work"}`).
fn described(filter: &ValFilter) -> Option<Map<String, Value>> {
    let mut element = Map::new();
    let mut add = |f: &ValFilter| -> Option<()> {
        let ValFilter::Attr(AttrExp::Comparison(path, CompareOp::Eq, value)) = f else { return None };
        if path.sub_attr.is_some() {
            return None;
        }
        let value = match value {
            CompValue::Str(s) => Value::String(s.clone()),
            CompValue::True => Value::Bool(true),
            CompValue::False => Value::Bool(false),
            CompValue::Number(n) => Value::Number(n.clone()),
            CompValue::Null => return None,
        };
        element.insert(path.name.clone(), value);
        Some(())
    };
    match filter {
        ValFilter::And(items) => {
            for item in items.iter() {
                add(item)?;
            }
        }
        other => add(other)?,
    }
    Some(element)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn patched(resource: Value, operations: Value) -> Result<Value, ScimError> {
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations});
        let operations = parse(&body, USER, &[ENTERPRISE])?;
        let Value::Object(mut fields) = resource else { panic!() };
        apply(&mut fields, &operations, USER, &[ENTERPRISE], &["id", "meta", "groups"])?;
        Ok(Value::Object(fields))
    }

    fn user() -> Value {
        json!({"id": "1", "userName": "ana", "active": true, "name": {"givenName": "Ana", "familyName": "Lima"},
            "emails": [{"value": "ana@work.com", "type": "work", "primary": true},
                       {"value": "ana@home.org", "type": "home"}]})
    }

    #[test]
    fn replace_add_and_remove_simple_and_complex_attributes() {
        let out = patched(
            user(),
            json!([
                {"op": "Replace", "path": "active", "value": false},
                {"op": "add", "path": "nickName", "value": "Aninha"},
                {"op": "replace", "path": "name", "value": {"familyName": "Souza"}},
                {"op": "remove", "path": "NAME.givenName"},
                {"op": "remove", "path": "title"}
            ]),
        )
        .unwrap();
        assert_eq!(out["active"], false);
        assert_eq!(out["nickName"], "Aninha");
        assert_eq!(out["name"], json!({"familyName": "Souza"}), "replace of a complex attribute keeps the others");
    }

    #[test]
    fn multi_valued_attributes_take_filtered_paths() {
        let out = patched(
            user(),
            json!([
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ana@new.com"},
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "add", "path": "emails", "value": [{"value": "a@third.net", "type": "other"}]},
                {"op": "add", "path": "emails", "value": {"value": "ANA@NEW.COM"}}
            ]),
        )
        .unwrap();
        assert_eq!(
            out["emails"],
            json!([{"value": "ana@new.com", "type": "work", "primary": true}, {"value": "a@third.net", "type": "other"}])
        );
        // a filter that selects nothing adds the element it describes (Entra ID); one that describes none fails
        let out = patched(
            user(),
            json!([{"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+55 11 5555"}]),
        )
        .unwrap();
        assert_eq!(out["phoneNumbers"], json!([{"type": "mobile", "value": "+55 11 5555"}]));
        let err = patched(user(), json!([{"op": "replace", "path": "emails[value co \"x\"].type", "value": "a"}]));
        assert_eq!(err.unwrap_err().scim_type, Some("noTarget"));
    }

    #[test]
    fn a_value_without_path_may_name_paths_and_extensions() {
        let out = patched(
            user(),
            json!([{"op": "Replace", "value": {
                "name.givenName": "Anna", "displayName": "Anna Lima",
                ENTERPRISE: {"department": "Sales"},
                format!("{ENTERPRISE}:manager"): {"value": "9"}
            }}]),
        )
        .unwrap();
        assert_eq!(out["name"]["givenName"], "Anna");
        assert_eq!(out["displayName"], "Anna Lima");
        assert_eq!(out[ENTERPRISE], json!({"department": "Sales", "manager": {"value": "9"}}));
        let out = patched(out, json!([{"op": "remove", "path": format!("{ENTERPRISE}:department")}])).unwrap();
        assert_eq!(out[ENTERPRISE], json!({"manager": {"value": "9"}}));
    }

    #[test]
    fn members_are_removed_by_value_as_entra_sends_it() {
        let group =
            json!({"id": "g", "displayName": "Sales", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]});
        let out = patched(
            group,
            json!([
                {"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "c"}]},
                {"op": "Add", "path": "members", "value": [{"value": "d"}, {"value": "b"}]},
                {"op": "remove", "path": "members[value eq \"zzz\"]"}
            ]),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "b"}, {"value": "d"}]));
    }

    #[test]
    fn bad_operations_are_refused_with_their_scim_type() {
        let cases = [
            (json!([{"op": "move", "path": "x"}]), "invalidSyntax"),
            (json!([{"op": "remove"}]), "noTarget"),
            (json!([{"op": "add", "path": "x"}]), "invalidValue"),
            (json!([{"op": "add", "path": "emails[type eq]", "value": 1}]), "invalidPath"),
            (json!([{"op": "replace", "path": "id", "value": "2"}]), "mutability"),
            (json!([{"op": "replace", "path": "meta.version", "value": "2"}]), "mutability"),
            (json!([]), "invalidSyntax"),
        ];
        for (operations, kind) in cases {
            let err = patched(user(), operations.clone()).unwrap_err();
            assert_eq!(err.scim_type, Some(kind), "{operations}");
        }
        let body = json!({"Operations": [{"op": "add", "path": "x", "value": 1}]});
        assert_eq!(parse(&body, USER, &[]).unwrap_err().scim_type, Some("invalidSyntax"), "no schemas");
    }
}
