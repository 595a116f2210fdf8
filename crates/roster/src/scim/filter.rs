//! Evaluating SCIM filters (RFC 7644 §3.4.2.2) on resources held as JSON. The filter crate parses (and bounds the
//! size and depth of) the expression; this says whether a resource matches it.
//!
//! Comparison rules: attribute names ignore case; string values ignore case too, except attributes whose schema says
//! `caseExact` (`id`, `externalId`, and `$ref`s); times (`meta.created`, `meta.lastModified`) compare as times;
//! numbers as numbers; booleans and nulls only by `eq`/`ne`. A multi-valued attribute matches when any of its values
//! does. `pr` is a value that is not null, not an empty string, array or object.

use scim_v2::filter::{AttrExp, CompValue, CompareOp, Filter, ValFilter};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::attrs::{self, Path};

/// Attributes whose string values compare case-sensitively.
const CASE_EXACT: [&str; 4] = ["id", "externalId", "$ref", "version"];

/// Parse a filter, as a SCIM error naming what is wrong.
pub fn parse(text: &str) -> Result<Filter, super::ScimError> {
    text.parse::<Filter>().map_err(|e| super::ScimError::invalid_filter(format!("filter {text:?}: {e}")))
}

/// Whether the resource (`core` is its core schema's URN) matches the filter.
pub fn matches(filter: &Filter, resource: &Map<String, Value>, core: &str) -> bool {
    match filter {
        Filter::Attr(exp) => attr_matches(exp, resource, core),
        Filter::ValuePath(vp) => {
            let path = Path::resolve(&vp.attr, core);
            let Some(value) = path.container(resource).and_then(|c| attrs::get(c, &path.name)) else { return false };
            elements(value).any(|element| element.as_object().is_some_and(|e| value_matches(&vp.filter, e)))
        }
        Filter::Not(inner) => !matches(inner, resource, core),
        Filter::And(items) => items.iter().all(|f| matches(f, resource, core)),
        Filter::Or(items) => items.iter().any(|f| matches(f, resource, core)),
    }
}

/// Whether one element of a multi-valued attribute (`emails[type eq "work"]`) matches a value filter: its paths name
/// the element's sub-attributes.
pub fn value_matches(filter: &ValFilter, element: &Map<String, Value>) -> bool {
    match filter {
        ValFilter::Attr(exp) => attr_matches(exp, element, ""),
        ValFilter::Not(inner) => !value_matches(inner, element),
        ValFilter::And(items) => items.iter().all(|f| value_matches(f, element)),
        ValFilter::Or(items) => items.iter().any(|f| value_matches(f, element)),
    }
}

fn elements(value: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match value {
        Value::Array(items) => Box::new(items.iter()),
        other => Box::new(std::iter::once(other)),
    }
}

fn attr_matches(exp: &AttrExp, resource: &Map<String, Value>, core: &str) -> bool {
    match exp {
        AttrExp::Present(path) => Path::resolve(path, core).values(resource).into_iter().any(is_present),
        AttrExp::Comparison(path, op, expected) => {
            let path = Path::resolve(path, core);
            let leaf = path.sub_attr.as_deref().unwrap_or(&path.name);
            let exact = CASE_EXACT.iter().any(|a| a.eq_ignore_ascii_case(leaf));
            let values = path.values(resource);
            match op {
                // not equal: no value is equal (an absent attribute is not equal to anything)
                CompareOp::Ne => !values.iter().any(|v| compare(&CompareOp::Eq, v, expected, exact)),
                _ => values.iter().any(|v| compare(op, v, expected, exact)),
            }
        }
    }
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(fields) => fields.values().any(is_present),
        _ => true,
    }
}

fn compare(op: &CompareOp, actual: &Value, expected: &CompValue, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordered = |ordering: Option<Ordering>| match (op, ordering) {
        (_, None) => false,
        (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
        (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
        (CompareOp::Ge, Some(o)) => o != Ordering::Less,
        (CompareOp::Lt, Some(o)) => o == Ordering::Less,
        (CompareOp::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    };
    match (actual, expected) {
        (Value::String(a), CompValue::Str(e)) => {
            if let (Ok(a), Ok(e)) = (OffsetDateTime::parse(a, &Rfc3339), OffsetDateTime::parse(e, &Rfc3339)) {
                return match op {
                    CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
                    _ => ordered(a.partial_cmp(&e)),
                };
            }
            let (a, e) = if exact { (a.clone(), e.clone()) } else { (a.to_lowercase(), e.to_lowercase()) };
            match op {
                CompareOp::Co => a.contains(&e),
                CompareOp::Sw => a.starts_with(&e),
                CompareOp::Ew => a.ends_with(&e),
                _ => ordered(Some(a.cmp(&e))),
            }
        }
        (Value::Number(a), CompValue::Number(e)) => match op {
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
            _ => ordered(a.as_f64().zip(e.as_f64()).and_then(|(a, e)| a.partial_cmp(&e))),
        },
        (Value::Bool(a), CompValue::True) => matches!(op, CompareOp::Eq) && *a,
        (Value::Bool(a), CompValue::False) => matches!(op, CompareOp::Eq) && !*a,
        // a boolean sent as text by some providers ("True")
        (Value::Bool(a), CompValue::Str(e)) => {
            matches!(op, CompareOp::Eq) && e.parse::<bool>().ok().or_else(|| parse_bool(e)) == Some(*a)
        }
        (Value::Null, CompValue::Null) => matches!(op, CompareOp::Eq),
        _ => false,
    }
}

/// `true` / `false` in any case, as Microsoft Entra ID sends booleans.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The simplest selections a filter makes, which storage can answer from an index: `attribute eq "value"` alone or
/// as one side of a top-level `and`. The whole filter is still applied to what they find.
pub fn equalities(filter: &Filter, core: &str) -> Vec<(Path, String)> {
    let one = |f: &Filter| match f {
        Filter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(value))) => {
            Some((Path::resolve(path, core), value.clone()))
        }
        _ => None,
    };
    match filter {
        Filter::And(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn user() -> Value {
        json!({
            "id": "0190-ABC", "externalId": "Ext-1", "userName": "Bjensen", "displayName": "Babs Jensen",
            "active": true, "title": "", "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                       {"value": "babs@jensen.org", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour Operations",
                "employeeNumber": "701984"},
            "meta": {"created": "2026-01-23T04:56:22Z", "lastModified": "2026-05-13T04:42:34Z"},
            "x": 5
        })
    }

    fn check(text: &str) -> bool {
        matches(&parse(text).unwrap(), user().as_object().unwrap(), USER)
    }

    #[test]
    fn every_operator_compares_as_rfc_7644_says() {
        for (text, expected) in [
            (r#"userName eq "bjensen""#, true),
            (r#"USERNAME Eq "BJENSEN""#, true),
            (r#"userName ne "bjensen""#, false),
            (r#"userName ne "other""#, true),
            (r#"title ne "x""#, true),
            (r#"nickName ne "x""#, true),
            (r#"name.familyName co "ens""#, true),
            (r#"userName sw "BJ""#, true),
            (r#"userName ew "sen""#, true),
            (r#"userName ew "xx""#, false),
            (r#"displayName gt "Babs""#, true),
            (r#"displayName lt "Babs""#, false),
            (r#"displayName ge "babs jensen""#, true),
            (r#"displayName le "babs jensen""#, true),
            (r#"x gt 4"#, true),
            (r#"x le 4.5"#, false),
            (r#"meta.lastModified gt "2026-05-13T04:42:33Z""#, true),
            (r#"meta.lastModified ge "2026-05-13T06:42:34+02:00""#, true),
            (r#"meta.created lt "2026-01-01T00:00:00Z""#, false),
            (r#"title pr"#, false),
            (r#"nickName pr"#, false),
            (r#"name pr"#, true),
            (r#"active eq true"#, true),
            (r#"active eq false"#, false),
            (r#"active gt true"#, false),
        ] {
            assert_eq!(check(text), expected, "{text}");
        }
    }

    #[test]
    fn case_exact_attributes_compare_case_sensitively() {
        assert!(check(r#"externalId eq "Ext-1""#));
        assert!(!check(r#"externalId eq "ext-1""#));
        assert!(!check(r#"id eq "0190-abc""#));
        assert!(check(r#"emails.value eq "BJENSEN@example.com""#));
    }

    #[test]
    fn multi_valued_attributes_match_on_any_value_and_value_paths_on_one_element() {
        assert!(check(r#"emails eq "babs@jensen.org""#));
        assert!(check(r#"emails.type eq "home""#));
        assert!(check(r#"emails[type eq "work" and value co "@example.com"]"#));
        // both conditions must hold for one element, not across elements
        assert!(!check(r#"emails[type eq "home" and value co "@example.com"]"#));
        assert!(check(r#"emails[not (type eq "work")]"#));
        assert!(check(r#"emails[primary eq true]"#));
    }

    #[test]
    fn logic_has_precedence_and_grouping() {
        // and binds tighter than or
        assert!(check(r#"userName eq "x" or userName eq "bjensen" and active eq true"#));
        assert!(!check(r#"(userName eq "x" or userName eq "bjensen") and active eq false"#));
        assert!(check(r#"not (userName eq "x") and not (title pr)"#));
        assert!(!check(r#"not (userName eq "bjensen" or userName eq "x")"#));
    }

    #[test]
    fn extension_attributes_are_named_by_their_urn() {
        assert!(check(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#));
        assert!(check(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen""#));
        assert!(!check(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1""#));
    }

    #[test]
    fn bad_filters_are_invalid_filter_errors() {
        for text in ["userName eq", "userName zz \"x\"", "(userName eq \"x\"", "", "userName eq \"x\" and"] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.scim_type, Some("invalidFilter"), "{text}");
        }
        let deep = format!("{}userName eq \"x\"{}", "not (".repeat(100), ")".repeat(100));
        assert_eq!(parse(&deep).unwrap_err().scim_type, Some("invalidFilter"));
    }

    #[test]
    fn equalities_are_found_alone_or_beside_an_and() {
        let f = parse(r#"userName eq "a" and active eq true and externalId eq "b""#).unwrap();
        let found: Vec<(String, String)> = equalities(&f, USER).into_iter().map(|(p, v)| (p.name, v)).collect();
        assert_eq!(found, [("userName".to_owned(), "a".to_owned()), ("externalId".to_owned(), "b".to_owned())]);
        assert!(equalities(&parse(r#"userName eq "a" or userName eq "b""#).unwrap(), USER).is_empty());
    }
}
