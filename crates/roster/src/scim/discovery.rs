//! What the service provider says of itself (RFC 7644 §4): its configuration, its resource types and their schemas
//! (RFC 7643 §7), built from one table of attributes so the schemas and what the code keeps cannot drift apart.

use serde_json::{json, Value};

use super::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA};

/// Results a list answers at most per page.
pub const MAX_RESULTS: usize = 1_000;
/// Operations one bulk request may carry.
pub const MAX_BULK_OPERATIONS: usize = 1_000;

pub fn service_provider_config(base: &str, max_payload: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": MAX_BULK_OPERATIONS, "maxPayloadSize": max_payload},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": true},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer API key",
            "description": "An API key of role admin of the tenant (or a sysadmin's), sent as `Authorization: Bearer …`",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "A person of the tenant",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "A named set of the tenant's users",
            "schema": GROUP_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
}

/// One attribute's definition. `flags`: `m` multi-valued, `r` required, `x` case-exact; `mutability`/`returned` as
/// RFC 7643 §7 names them.
fn attr(name: &str, kind: &str, flags: &str, mutability: &str, returned: &str, subs: Vec<Value>) -> Value {
    let mut a = json!({
        "name": name, "type": kind, "multiValued": flags.contains('m'), "description": name,
        "required": flags.contains('r'), "caseExact": flags.contains('x'), "mutability": mutability,
        "returned": returned, "uniqueness": if name == "userName" || name == "id" { "server" } else { "none" },
    });
    if !subs.is_empty() {
        a["subAttributes"] = Value::Array(subs);
    }
    if kind == "reference" {
        a["referenceTypes"] = json!(["external"]);
    }
    a
}

/// An attribute whose usual values are these.
fn canonical(mut a: Value, values: &[&str]) -> Value {
    a["canonicalValues"] = json!(values);
    a
}

/// A reference to resources of these types (a member's `$ref` names a User).
fn reference(name: &str, mutability: &str, types: &[&str]) -> Value {
    let mut a = attr(name, "reference", "", mutability, "default", vec![]);
    a["referenceTypes"] = json!(types);
    a
}

fn s(name: &str) -> Value {
    attr(name, "string", "", "readWrite", "default", vec![])
}

/// `value`, `display`, `type`, `primary`: the sub-attributes of emails, phone numbers and their kind.
fn multi(name: &str, value_kind: &str) -> Value {
    attr(
        name,
        "complex",
        "m",
        "readWrite",
        "default",
        vec![
            attr("value", value_kind, "", "readWrite", "default", vec![]),
            s("display"),
            s("type"),
            attr("primary", "boolean", "", "readWrite", "default", vec![]),
        ],
    )
}

pub fn schemas(base: &str) -> Vec<Value> {
    let user = vec![
        attr("userName", "string", "r", "readWrite", "always", vec![]),
        attr(
            "name",
            "complex",
            "",
            "readWrite",
            "default",
            ["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"]
                .iter()
                .map(|n| s(n))
                .collect(),
        ),
        s("displayName"),
        s("nickName"),
        attr("profileUrl", "reference", "", "readWrite", "default", vec![]),
        s("title"),
        s("userType"),
        s("preferredLanguage"),
        s("locale"),
        s("timezone"),
        attr("active", "boolean", "", "readWrite", "default", vec![]),
        attr("password", "string", "", "writeOnly", "never", vec![]),
        multi("emails", "string"),
        multi("phoneNumbers", "string"),
        multi("ims", "string"),
        multi("photos", "reference"),
        attr(
            "addresses",
            "complex",
            "m",
            "readWrite",
            "default",
            ["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type"]
                .iter()
                .map(|n| s(n))
                .chain([attr("primary", "boolean", "", "readWrite", "default", vec![])])
                .collect(),
        ),
        attr(
            "groups",
            "complex",
            "m",
            "readOnly",
            "default",
            vec![
                attr("value", "string", "", "readOnly", "default", vec![]),
                reference("$ref", "readOnly", &["Group"]),
                attr("display", "string", "", "readOnly", "default", vec![]),
                attr("type", "string", "", "readOnly", "default", vec![]),
            ],
        ),
        multi("entitlements", "string"),
        multi("roles", "string"),
        multi("x509Certificates", "binary"),
    ];
    let group = vec![
        attr("displayName", "string", "r", "readWrite", "default", vec![]),
        attr(
            "members",
            "complex",
            "m",
            "readWrite",
            "default",
            vec![
                attr("value", "string", "", "immutable", "default", vec![]),
                // users only: a group is not a member of a group here
                reference("$ref", "immutable", &["User"]),
                canonical(attr("type", "string", "", "immutable", "default", vec![]), &["User"]),
            ],
        ),
    ];
    let enterprise = vec![
        s("employeeNumber"),
        s("costCenter"),
        s("organization"),
        s("division"),
        s("department"),
        attr(
            "manager",
            "complex",
            "",
            "readWrite",
            "default",
            vec![
                s("value"),
                reference("$ref", "readWrite", &["User"]),
                attr("displayName", "string", "", "readOnly", "default", vec![]),
            ],
        ),
    ];
    [(USER_SCHEMA, "User", user), (GROUP_SCHEMA, "Group", group), (ENTERPRISE_SCHEMA, "EnterpriseUser", enterprise)]
        .into_iter()
        .map(|(id, name, attributes)| {
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
                "id": id, "name": name, "description": name, "attributes": attributes,
                "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}
            })
        })
        .collect()
}

/// A list response of everything at once (discovery lists are short).
pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA], "totalResults": resources.len(), "startIndex": 1,
        "itemsPerPage": resources.len(), "Resources": resources
    })
}
