//! SCIM error responses (RFC 7644 §3.12): every failure under `/scim/v2` answers
//! `{"schemas": [Error], "status": "400", "scimType": "invalidValue", "detail": "…"}` as `application/scim+json`.
//! Module errors become problems first ([`Problem`]), so roster decides each status in one place; this module only
//! says them in SCIM's words.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ERROR_SCHEMA;
use crate::http::Problem;

/// `application/scim+json`, the media type of every SCIM answer.
pub const SCIM_JSON: &str = "application/scim+json";

/// A SCIM error: status, `scimType` where RFC 7644 defines one, and the detail.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self { status, scim_type, detail: detail.into() }
    }

    /// 400 `invalidFilter`: a filter that cannot be parsed or applied.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }

    /// 400 `invalidSyntax`: a request that is not the SCIM message it should be.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    /// 400 `invalidValue`: an attribute's value is missing or wrong.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    /// 400 `invalidPath`: a PATCH path that is not one.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidPath"), detail)
    }

    /// 400 `noTarget`: a PATCH path that selects nothing where something is needed.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("noTarget"), detail)
    }

    /// 400 `mutability`: an attempt to change what cannot be changed.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("mutability"), detail)
    }

    /// 400 `tooMany`: more results than the server will sort.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("tooMany"), detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, format!("{what} not found"))
    }

    /// The JSON body of the error.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_str(),
            "detail": self.detail,
        });
        if let (Some(kind), Some(fields)) = (self.scim_type, body.as_object_mut()) {
            fields.insert("scimType".into(), kind.into());
        }
        body
    }
}

/// roster's answer in SCIM's words: its validation failures (422) are SCIM's `invalidValue` (400), a taken value is
/// `uniqueness`, a malformed request `invalidSyntax`; other statuses stay as they are.
impl From<Problem> for ScimError {
    fn from(problem: Problem) -> Self {
        let status = problem.status();
        let detail = problem.detail;
        match status {
            StatusCode::UNPROCESSABLE_ENTITY => ScimError::invalid_value(detail),
            StatusCode::CONFLICT if problem.kind.ends_with(":conflict") => {
                ScimError::new(status, Some("uniqueness"), detail)
            }
            StatusCode::BAD_REQUEST => ScimError::invalid_syntax(detail),
            StatusCode::PAYLOAD_TOO_LARGE => ScimError::new(status, Some("tooLarge"), detail),
            _ => ScimError::new(status, None, detail),
        }
    }
}

impl<E: crate::http::Classify> From<E> for ScimError {
    fn from(error: E) -> Self {
        ScimError::from(Problem::from(error))
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        response
    }
}

/// Middleware around the whole server: an answer to a SCIM route (`/scim/…`) made elsewhere as problem+json (no or
/// a bad credential, a body too large or too slow, a NUL in the query, a rate limit, a tenant that does not exist, a
/// panic) is said again as a SCIM error.
pub async fn as_scim_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let scim = request.uri().path().starts_with("/scim/");
    let response = next.run(request).await;
    if !scim {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    // problem bodies are small; a larger one is not one of ours and is passed on as it is
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(problem) = serde_json::from_slice::<ProblemBody>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let slug = problem.kind.rsplit(':').next().unwrap_or_default();
    let mut answer = ScimError::from(Problem::new(parts.status, slug, "", problem.detail)).into_response();
    for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER, header::ALLOW] {
        if let Some(value) = parts.headers.get(&name) {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    if let Some(value) = parts.headers.get("x-request-id") {
        answer.headers_mut().insert("x-request-id", value.clone());
    }
    answer
}

#[derive(serde::Deserialize)]
struct ProblemBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    detail: String,
}
