//! Attribute names and paths over SCIM resources held as JSON. SCIM attribute names are case-insensitive (RFC 7643
//! §2.1): every lookup here ignores case, and a schema URN prefix (`urn:…:User:userName`) names the attribute of that
//! schema (the core schema's attributes sit at the top level, an extension's under its URN).

use serde_json::{Map, Value};

/// The key of `object` that is `name` in any case.
pub fn key_of(object: &Map<String, Value>, name: &str) -> Option<String> {
    object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The value of `name` in `object`, in any case.
pub fn get<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// The value of `name`, in any case, to change.
pub fn get_mut<'a>(object: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    object.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Remove `name`, in any case.
pub fn remove(object: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = key_of(object, name)?;
    object.remove(&key)
}

/// Set `name` to `value`, keeping the key's existing spelling if it has one.
pub fn set(object: &mut Map<String, Value>, name: &str, value: Value) {
    let key = key_of(object, name).unwrap_or_else(|| name.to_owned());
    object.insert(key, value);
}

/// A path into a resource, resolved: which object holds the attribute (`None`: the top level; `Some(urn)`: an
/// extension's object), the attribute and its sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub extension: Option<String>,
    pub name: String,
    pub sub_attr: Option<String>,
}

impl Path {
    /// From the filter crate's path: a URN that is the resource's core schema is the top level.
    pub fn resolve(path: &scim_v2::filter::AttrPath, core: &str) -> Path {
        let extension = path.uri.clone().filter(|uri| !uri.eq_ignore_ascii_case(core));
        Path { extension, name: path.name.clone(), sub_attr: path.sub_attr.clone() }
    }

    /// A path written out (`name.givenName`, `urn:…:enterprise:2.0:User:manager.value`), for the `attributes` and
    /// `excludedAttributes` parameters, which the filter crate does not parse.
    pub fn parse(text: &str, core: &str, extensions: &[&str]) -> Option<Path> {
        let text = text.trim();
        let (extension, rest) = match [core].iter().chain(extensions).find(|urn| {
            text.len() > urn.len() && text[..urn.len()].eq_ignore_ascii_case(urn) && text.as_bytes()[urn.len()] == b':'
        }) {
            Some(urn) if urn.eq_ignore_ascii_case(core) => (None, &text[urn.len() + 1..]),
            Some(urn) => (Some((*urn).to_owned()), &text[urn.len() + 1..]),
            // a whole extension named alone
            None if extensions.iter().any(|urn| urn.eq_ignore_ascii_case(text)) => {
                return Some(Path { extension: None, name: text.to_owned(), sub_attr: None });
            }
            None => (None, text),
        };
        let (name, sub_attr) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub.to_owned())),
            None => (rest, None),
        };
        let valid = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        (valid(name) && sub_attr.as_deref().is_none_or(valid)).then(|| Path {
            extension,
            name: name.to_owned(),
            sub_attr,
        })
    }

    /// The object holding the attribute, if it is there.
    pub fn container<'a>(&self, resource: &'a Map<String, Value>) -> Option<&'a Map<String, Value>> {
        match &self.extension {
            None => Some(resource),
            Some(urn) => get(resource, urn)?.as_object(),
        }
    }

    /// The object holding the attribute, made if it is an extension's that is not there yet.
    pub fn container_mut<'a>(&self, resource: &'a mut Map<String, Value>) -> Option<&'a mut Map<String, Value>> {
        match &self.extension {
            None => Some(resource),
            Some(urn) => {
                if get(resource, urn).is_none() {
                    resource.insert(urn.clone(), Value::Object(Map::new()));
                }
                get_mut(resource, urn)?.as_object_mut()
            }
        }
    }

    /// Every value the path reaches: a multi-valued attribute's elements one by one, and for a sub-attribute each
    /// element's. A complex multi-valued attribute compared without a sub-attribute compares its `value`s (RFC 7644
    /// §3.4.2.2: `emails eq "x"` is `emails.value eq "x"`).
    pub fn values<'a>(&self, resource: &'a Map<String, Value>) -> Vec<&'a Value> {
        let Some(value) = self.container(resource).and_then(|c| get(c, &self.name)) else { return Vec::new() };
        let elements: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let is_multi = value.is_array();
        elements
            .into_iter()
            .filter_map(|element| match (&self.sub_attr, element) {
                (Some(sub), Value::Object(fields)) => get(fields, sub),
                (Some(_), _) => None,
                (None, Value::Object(fields)) if is_multi => get(fields, "value"),
                (None, other) => Some(other),
            })
            .collect()
    }
}

/// Apply `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) to a resource. `always` are returned whatever is
/// asked (`id`, `schemas`, and the resource's own such as `userName`); `meta` is kept when `attributes` asks for it.
pub fn project(resource: Value, attributes: &[Path], excluded: &[Path], always: &[&str]) -> Value {
    let Value::Object(mut fields) = resource else { return resource };
    if !attributes.is_empty() {
        let mut kept = Map::new();
        for (key, value) in std::mem::take(&mut fields) {
            if always.iter().any(|a| a.eq_ignore_ascii_case(&key)) {
                kept.insert(key, value);
                continue;
            }
            let is_extension = key.starts_with("urn:");
            let wanted: Vec<&Path> = attributes
                .iter()
                .filter(|p| match (&p.extension, is_extension) {
                    (None, false) => p.name.eq_ignore_ascii_case(&key),
                    (None, true) => p.name.eq_ignore_ascii_case(&key),
                    (Some(urn), true) => urn.eq_ignore_ascii_case(&key),
                    (Some(_), false) => false,
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let whole = wanted.iter().any(|p| p.sub_attr.is_none() && (p.extension.is_none() || !is_extension));
            if whole {
                kept.insert(key, value);
            } else if is_extension {
                // attributes of the extension by name (and sub-attribute)
                let Value::Object(inner) = value else { continue };
                let names: Vec<Path> = wanted
                    .iter()
                    .map(|p| Path { extension: None, name: p.name.clone(), sub_attr: p.sub_attr.clone() })
                    .collect();
                let inner = project(Value::Object(inner), &names, &[], &[]);
                kept.insert(key, inner);
            } else {
                let subs: Vec<&str> = wanted.iter().filter_map(|p| p.sub_attr.as_deref()).collect();
                kept.insert(key, keep_subs(value, &subs));
            }
        }
        fields = kept;
    }
    for path in excluded {
        if always.iter().any(|a| a.eq_ignore_ascii_case(&path.name)) && path.extension.is_none() {
            continue;
        }
        let Some(container) = path.container_mut(&mut fields) else { continue };
        match &path.sub_attr {
            None => {
                remove(container, &path.name);
            }
            Some(sub) => match get_mut(container, &path.name) {
                Some(Value::Object(inner)) => {
                    remove(inner, sub);
                }
                Some(Value::Array(items)) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        remove(item, sub);
                    }
                }
                _ => {}
            },
        }
    }
    Value::Object(fields)
}

fn keep_subs(value: Value, subs: &[&str]) -> Value {
    let keep = |fields: Map<String, Value>| -> Map<String, Value> {
        fields.into_iter().filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k))).collect()
    };
    match value {
        Value::Object(fields) => Value::Object(keep(fields)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(fields) => Value::Object(keep(fields)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn paths(list: &[&str]) -> Vec<Path> {
        list.iter().map(|p| Path::parse(p, USER, &[ENTERPRISE]).unwrap()).collect()
    }

    #[test]
    fn paths_name_core_and_extension_attributes_in_any_case() {
        let p = Path::parse("Name.GivenName", USER, &[ENTERPRISE]).unwrap();
        assert_eq!((p.extension, p.name.as_str(), p.sub_attr.as_deref()), (None, "Name", Some("GivenName")));
        let p = Path::parse(&format!("{USER}:userName"), USER, &[ENTERPRISE]).unwrap();
        assert_eq!((p.extension, p.name.as_str()), (None, "userName"));
        let p = Path::parse(&format!("{}:manager.value", ENTERPRISE.to_uppercase()), USER, &[ENTERPRISE]).unwrap();
        assert_eq!((p.extension.as_deref(), p.name.as_str()), (Some(ENTERPRISE), "manager"));
        assert!(Path::parse("a b", USER, &[]).is_none());
        assert!(Path::parse("", USER, &[]).is_none());
    }

    #[test]
    fn values_reach_into_multi_valued_and_complex_attributes() {
        let user = json!({"emails": [{"value": "a@x.com", "type": "work"}, {"value": "b@y.com"}],
            "name": {"givenName": "Ana"}, "userName": "ana"});
        let fields = user.as_object().unwrap();
        let get = |p: &str| Path::parse(p, USER, &[]).unwrap().values(fields).into_iter().cloned().collect::<Vec<_>>();
        assert_eq!(get("emails"), [json!("a@x.com"), json!("b@y.com")]);
        assert_eq!(get("EMAILS.type"), [json!("work")]);
        assert_eq!(get("name.givenname"), [json!("Ana")]);
        assert_eq!(get("username"), [json!("ana")]);
        assert!(get("title").is_empty());
    }

    #[test]
    fn projection_keeps_what_is_asked_and_always_the_identity() {
        let user = json!({"id": "1", "schemas": [USER], "userName": "ana", "name": {"givenName": "Ana", "familyName": "B"},
            "emails": [{"value": "a@x.com", "type": "work"}], ENTERPRISE: {"department": "Sales", "employeeNumber": "7"},
            "meta": {"resourceType": "User"}});
        let always = ["id", "schemas", "userName"];
        let shown =
            project(user.clone(), &paths(&["name.givenName", &format!("{ENTERPRISE}:department")]), &[], &always);
        assert_eq!(
            shown,
            json!({"id": "1", "schemas": [USER], "userName": "ana", "name": {"givenName": "Ana"},
                ENTERPRISE: {"department": "Sales"}})
        );
        let shown = project(user.clone(), &[], &paths(&["emails", "name.familyName", "userName", ENTERPRISE]), &always);
        assert_eq!(
            shown,
            json!({"id": "1", "schemas": [USER], "userName": "ana", "name": {"givenName": "Ana"},
                "meta": {"resourceType": "User"}})
        );
        assert_eq!(project(user.clone(), &paths(&["emails.type"]), &[], &always)["emails"], json!([{"type": "work"}]));
    }
}
