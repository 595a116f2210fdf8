//! What every operation of the OpenAPI document answers besides what its handler declares: the problems the shared
//! layers give (authentication, body limits, media type, validation, the database being away or full), each as
//! `application/problem+json`. Handlers declare their own outcomes; this adds the ones no handler decides, so the
//! document matches every answer the server can give.

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};

/// The media type of every error answer (RFC 9457), but SCIM's.
pub const PROBLEM: &str = "application/problem+json";
/// SCIM's media type: its routes (`/scim/…`) answer their errors as SCIM errors (RFC 7644 §3.12), and a value
/// refused is `400 invalidValue` there, never 422.
pub const SCIM: &str = "application/scim+json";

/// Which shared outcomes apply to an operation.
struct Shape {
    secured: bool,
    has_body: bool,
    has_parameters: bool,
}

/// A shared outcome: its status, its description, and whether it applies to an operation.
type Outcome = (&'static str, &'static str, fn(&Shape) -> bool);

const SHARED: [Outcome; 12] = [
    ("400", "The request cannot be read (a malformed header, path or JSON syntax)", |_| true),
    ("401", "No valid API key or session token", |s| s.secured),
    ("403", "The caller may not do this", |s| s.secured),
    ("404", "No such tenant or resource, or one the caller may not see (on /v1/me: a key that is no account)", |s| {
        s.has_parameters || s.secured
    }),
    ("408", "The body did not arrive in time", |s| s.has_body),
    ("413", "The body is larger than the route's limit", |s| s.has_body),
    ("415", "The body is not JSON (or, for ingests, not JSON or NDJSON)", |s| s.has_body),
    ("422", "A field, parameter or header is invalid; `errors` names each", |_| true),
    ("429", "Too many requests from this caller; `Retry-After` says when to try again", |_| true),
    ("500", "A failure of the server (logged with the request id)", |_| true),
    ("503", "The database is unavailable (or the server lacks a key it needs); retry shortly", |_| true),
    ("507", "The database's disk is full: nothing was written; retry once space is freed", |_| true),
];

/// Complete the document: error answers as problem+json, and the shared outcomes on every operation.
pub fn complete(document: &mut OpenApi) {
    for (path, item) in document.paths.paths.iter_mut() {
        let scim = path.starts_with("/scim/");
        let path_parameters = item.parameters.as_ref().is_some_and(|p| !p.is_empty());
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            complete_operation(operation, path_parameters, scim);
        }
    }
}

fn complete_operation(operation: &mut Operation, path_parameters: bool, scim: bool) {
    let shape = Shape {
        secured: operation.security.as_ref().is_some_and(|s| !s.is_empty()),
        has_body: operation.request_body.is_some(),
        has_parameters: path_parameters || operation.parameters.as_ref().is_some_and(|p| !p.is_empty()),
    };
    let responses = &mut operation.responses.responses;
    for response in responses.iter_mut().filter(|(status, _)| is_error(status)).map(|(_, r)| r) {
        if let RefOr::T(response) = response {
            as_problem(response);
        }
    }
    for (status, description, applies) in SHARED {
        if scim && status == "422" {
            continue;
        }
        if applies(&shape) && !responses.contains_key(status) {
            let answer = if scim { scim_error(description) } else { problem(description) };
            responses.insert(status.to_owned(), RefOr::T(answer));
        }
    }
}

fn scim_error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(SCIM, Content::new(Some(Ref::from_schema_name("ScimErrorBody"))))
        .build()
}

fn is_error(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

/// An error answer declared as JSON is problem+json.
fn as_problem(response: &mut Response) {
    if let Some(content) = response.content.shift_remove("application/json") {
        response.content.insert(PROBLEM.to_owned(), content);
    }
    if response.content.is_empty() {
        response.content.insert(PROBLEM.to_owned(), Content::new(Some(Ref::from_schema_name("Problem"))));
    }
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM, Content::new(Some(Ref::from_schema_name("Problem"))))
        .build()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_of_the_document_resolves() {
        let document = serde_json::to_value(crate::App::openapi()).unwrap();
        let mut found = Vec::new();
        refs(&document, &mut found);
        let missing: Vec<&str> = found
            .into_iter()
            .filter(|target| {
                let name = target.trim_start_matches("#/components/schemas/");
                document["components"]["schemas"].get(name).is_none()
            })
            .collect();
        assert!(missing.is_empty(), "register these in ApiDoc's components: {missing:?}");
    }

    #[test]
    fn every_error_answer_is_a_problem_and_the_shared_ones_are_there() {
        let document = serde_json::to_value(crate::App::openapi()).unwrap();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let content = response["content"].as_object().unwrap();
                        let kind = if path.starts_with("/scim/") { super::SCIM } else { super::PROBLEM };
                        assert!(content.contains_key(kind), "{method} {path} {status}: {content:?}");
                        assert!(!content.contains_key("application/json"), "{method} {path} {status}");
                    }
                }
                let shared: &[&str] = if path.starts_with("/scim/") {
                    &["400", "500", "503", "507"]
                } else {
                    &["400", "422", "500", "503", "507"]
                };
                for status in shared {
                    assert!(responses.contains_key(*status), "{method} {path} lacks {status}");
                }
                if path.starts_with("/scim/") {
                    assert!(!responses.contains_key("422"), "{method} {path}: SCIM refuses values with 400");
                }
            }
        }
        let login = &document["paths"]["/v1/tenants/{tenant}/auth/login"]["post"]["responses"];
        assert!(login.get("413").is_some() && login.get("415").is_some(), "a route with a body: {login}");
    }

    #[test]
    fn parameters_are_where_the_routes_read_them() {
        let document = serde_json::to_value(crate::App::openapi()).unwrap();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    let (name, place) = (parameter["name"].as_str().unwrap(), parameter["in"].as_str().unwrap());
                    let in_path = path.contains(&format!("{{{name}}}"));
                    assert_eq!(place == "path", in_path, "{method} {path}: `{name}` is documented in {place}");
                }
            }
        }
    }

    #[test]
    fn text_enums_are_documented_by_their_text() {
        let document = serde_json::to_value(crate::App::openapi()).unwrap();
        let status = &document["components"]["schemas"]["UserStatus"];
        assert_eq!(
            status["enum"],
            serde_json::json!(["pending_verification", "invited", "active", "suspended", "locked"])
        );
        assert_eq!(status["description"], "Where the account is in its lifecycle.");
    }
}
