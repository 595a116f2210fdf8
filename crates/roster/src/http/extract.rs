//! Extractors: JSON bodies with field-named errors, `If-Match`, the authenticated principal and the tenant scope.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{self, HeaderMap};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{FieldError, Problem};
use super::state::AppState;
use crate::principal::{Actor, Principal, TenantScope};

/// A JSON request body. Malformed JSON is a 400 naming the position; a well-formed body with a wrong or unknown field
/// is a 422 naming the field.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

/// The path (`a.b[2].c`) of the first string or key in `value` that holds a NUL character. No database stores one
/// (PostgreSQL refuses it, SQLite cuts text at it), so every input with one is refused, naming where it was.
pub fn nul_path(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &mut String) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(map) => map.iter().any(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.replace('\0', "\\u0000"));
                let found = key.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then_some(path)
}

/// Whether JSON text may hold a NUL character: only the escape `\u0000` can put one there.
pub fn may_hold_nul(json: &[u8]) -> bool {
    json.windows(6).any(|w| w == b"\\u0000")
}

fn refuse_nul(bytes: &[u8]) -> Result<(), Problem> {
    if !may_hold_nul(bytes) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else { return Ok(()) };
    match nul_path(&value) {
        Some(path) => Err(Problem::validation(vec![FieldError::new(path, "must not contain a NUL character")])),
        None => Ok(()),
    }
}

/// Parse a JSON document into `T`, naming the offending field on failure. Every body of the API is an object: a
/// list is refused though serde would read one into a struct field by field (`[null, null]` as a patch).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    refuse_nul(bytes)?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&b| b != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(Problem::invalid("", "the body must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                // An unknown field at the top level, and a missing one anywhere, is named only in the message;
                // the path is then that of the object holding it ("." at the top level).
                let named = ["unknown field `", "missing field `"]
                    .iter()
                    .find_map(|prefix| message.strip_prefix(prefix))
                    .and_then(|rest| rest.split('`').next());
                let field = match (path.as_str(), named) {
                    (".", named) => named.unwrap_or_default().to_owned(),
                    (_, Some(name)) if message.starts_with("missing") => format!("{path}.{name}"),
                    _ => path,
                };
                Problem::validation(vec![FieldError::new(field, message)])
            }
            _ => Problem::bad_request(format!(
                "malformed JSON at line {} column {}: {inner}",
                inner.line(),
                inner.column()
            )),
        }
    })?;
    deserializer.end().map_err(|e| Problem::bad_request(format!("malformed JSON: {e}")))?;
    Ok(value)
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !is_json(req.headers()) {
            return Err(unsupported_media_type());
        }
        parse_json(&body_bytes(req, state).await?).map(JsonBody)
    }
}

/// A JSON request body that may be left out: no body at all is `T::default()`; a body is read as [`JsonBody`] reads
/// it.
#[derive(Debug, Clone)]
pub struct JsonOrEmpty<T>(pub T);

impl<S, T> FromRequest<S> for JsonOrEmpty<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let is_json = is_json(req.headers());
        let bytes = body_bytes(req, state).await?;
        if bytes.is_empty() {
            return Ok(JsonOrEmpty(T::default()));
        }
        if !is_json {
            return Err(unsupported_media_type());
        }
        parse_json(&bytes).map(JsonOrEmpty)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().is_some_and(|m| {
            // SCIM's own media type is JSON too
            m.trim().eq_ignore_ascii_case("application/json") || m.trim().eq_ignore_ascii_case("application/scim+json")
        })
    })
}

fn unsupported_media_type() -> Problem {
    Problem::new(
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
        "send the body as application/json",
    )
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Problem> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if super::middleware::BodyTimedOut::caused(&e) {
            Problem::request_timeout()
        } else if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(e.status(), "too-large", "Request body too large", e.body_text())
        } else {
            Problem::bad_request(e.body_text())
        }
    })
}

/// The version named by `If-Match` (`"3"`, `W/"3"` or `3`), when the caller sent one. `*` asks for no version. A
/// well-formed entity tag that roster did not issue (`W/"stale-version"`) names no version there is, so the
/// precondition fails (412, RFC 9110 §13.1.1): it stands as [`IfMatch::NO_VERSION`]. A header that is no entity tag
/// at all is malformed (400).
#[derive(Debug, Clone, Copy, Default)]
pub struct IfMatch(pub Option<i64>);

impl IfMatch {
    /// A version no resource has (versions start at 1): what a tag of someone else's stands for.
    pub const NO_VERSION: i64 = 0;

    /// Read an `If-Match` value: a comma-separated list of entity tags, or `*`.
    pub fn parse(text: &str) -> Result<IfMatch, Problem> {
        let malformed = || Problem::bad_request("If-Match must be the resource's ETag, e.g. \"3\"");
        let text = text.trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        let mut ours = Vec::new();
        for tag in text.split(',').map(str::trim) {
            let opaque = tag.strip_prefix("W/").unwrap_or(tag);
            let version = match opaque.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                // etagc (RFC 9110 §8.8.3): visible characters but the double quote, and obs-text
                Some(inner) if inner.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80) => {
                    inner.parse::<i64>().ok().filter(|v| *v > Self::NO_VERSION).unwrap_or(Self::NO_VERSION)
                }
                Some(_) => return Err(malformed()),
                // a bare number, as some clients send the version
                None => opaque.parse::<i64>().map_err(|_| malformed())?,
            };
            ours.push(version);
        }
        ours.sort_unstable();
        ours.dedup();
        match ours.as_slice() {
            [] => Err(malformed()),
            [version] => Ok(IfMatch(Some(*version))),
            // several tags: one of them may be ours (the others cannot match); more than one of ours is ambiguous
            [Self::NO_VERSION, version] => Ok(IfMatch(Some(*version))),
            _ => Err(Problem::bad_request("If-Match names several versions: give the one the change is for")),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        IfMatch::parse(value.to_str().map_err(|_| Problem::bad_request("If-Match must be visible ASCII text"))?)
    }
}

/// The credentials of an `Authorization` value of the Bearer scheme, whose name is case-insensitive (RFC 9110
/// §11.1: `Bearer`, `bearer` and `BEARER` are one scheme); the scheme and token are separated by spaces.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim_start())
}

/// The `ETag` header value of a version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(512).collect())
}

/// The request's audit facts, before authentication.
pub fn request_actor(parts: &Parts, state: &AppState) -> Actor {
    let ip = state
        .client_ip_header
        .as_deref()
        .and_then(|name| header_text(&parts.headers, name))
        .and_then(|v| v.split(',').next().map(|s| s.trim().to_owned()))
        .or_else(|| {
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip().to_string())
        });
    Actor {
        kind: None,
        user_id: None,
        api_key_id: None,
        session_id: None,
        request_id: header_text(&parts.headers, "x-request-id"),
        ip_address: ip,
        user_agent: header_text(&parts.headers, "user-agent"),
    }
}

/// An authenticated caller, with the audit facts of its request.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub actor: Actor,
}

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        if let Some(auth) = parts.extensions.get::<Authenticated>() {
            return Ok(auth.clone());
        }
        let state = AppState::from_ref(state);
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let token = match bearer {
            Some(token) => token,
            // the console's cookie, where it counts, and never for a write without the session's CSRF token
            None if parts.headers.get(header::AUTHORIZATION).is_none()
                && super::cookie::authenticates(parts.uri.path()) =>
            {
                let secure = super::cookie::secure(state.config.public_url.as_deref());
                let token = super::cookie::session_token(&parts.headers, secure)
                    .ok_or_else(|| Problem::unauthenticated("send Authorization: Bearer <token>"))?;
                super::cookie::check_csrf(&parts.method, &parts.headers, &token)?;
                token
            }
            None => return Err(Problem::unauthenticated("send Authorization: Bearer <token>")),
        };
        let principal = state
            .directory
            .authenticate(&token)
            .await?
            .ok_or_else(|| Problem::unauthenticated("the token is unknown, expired or revoked"))?;
        let mut actor = request_actor(parts, &state);
        actor.kind = Some(principal.kind);
        actor.user_id = principal.user_id;
        actor.api_key_id = principal.api_key_id;
        actor.session_id = principal.session_id.map(|id| id.to_string());
        let auth = Authenticated { principal, actor };
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

/// The caller's scope in the tenant named by the `{tenant}` path segment. A tenant the caller may not enter is
/// answered exactly like one that does not exist.
#[derive(Debug, Clone)]
pub struct Scoped(pub TenantScope);

impl<S> FromRequestParts<S> for Scoped
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| Problem::bad_request(e.body_text()))?;
        let slug = params.get("tenant").ok_or_else(|| Problem::not_found("tenant"))?;
        let state = AppState::from_ref(state);
        let tenant = state.directory.tenant(slug).await?.ok_or_else(|| Problem::not_found("tenant"))?;
        Ok(Scoped(TenantScope::for_principal(&auth.principal, tenant, auth.actor)?))
    }
}

/// The signed-in user's scope in its own tenant (the `/v1/me` routes). An API key has no user: 404.
#[derive(Debug, Clone)]
pub struct Own {
    pub scope: TenantScope,
    pub user_id: uuid::Uuid,
}

impl<S> FromRequestParts<S> for Own
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        own_scope(&AppState::from_ref(state), &auth).await
    }
}

/// The scope of an authenticated user in its own tenant, and its id; 404 for an API key (it has no user).
pub async fn own_scope(state: &AppState, auth: &Authenticated) -> Result<Own, Problem> {
    let user_id = auth.principal.user_id.ok_or_else(|| Problem::not_found("signed-in user (an API key has none)"))?;
    Ok(Own { scope: home_scope(state, auth).await?, user_id })
}

/// The caller's scope in the tenant of its credential, user or API key: for routes that name a resource by id alone
/// (`/v1/sessions/{id}`). A sysadmin is in its own tenant there too; a resource of another tenant is not found.
#[derive(Debug, Clone)]
pub struct Home(pub TenantScope);

impl<S> FromRequestParts<S> for Home
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        home_scope(&AppState::from_ref(state), &auth).await.map(Home)
    }
}

async fn home_scope(state: &AppState, auth: &Authenticated) -> Result<TenantScope, Problem> {
    let tenant = state
        .directory
        .tenant_by_id(auth.principal.tenant_id.uuid())
        .await?
        .ok_or_else(|| Problem::not_found("tenant"))?;
    Ok(TenantScope::for_principal(&auth.principal, tenant, auth.actor.clone())?)
}

/// A JSON answer carrying the resource's version as its `ETag`.
pub fn versioned<T: serde::Serialize>(
    status: axum::http::StatusCode,
    version: i64,
    body: &T,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = header::HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Query parameters, with a problem+json answer naming the parameter when they do not parse.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri).map(|q| QueryParams(q.0)).map_err(|e| {
            let text = e.body_text();
            let text = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text).to_owned();
            // serde names the parameter at the start ("user_type: unknown variant …") when it can
            let field = text.split(':').next().filter(|f| !f.contains(' ')).unwrap_or_default().to_owned();
            Problem::validation(vec![FieldError::new(field, text)])
        })
    }
}

/// The one UUID in a route's path besides `{tenant}` (`{id}`, `{session}`, …); a segment that is not a UUID is a 422
/// naming the parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathId(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| Problem::bad_request(e.body_text()))?;
        let (name, text) = params
            .iter()
            .find(|(name, _)| *name != "tenant")
            .ok_or_else(|| Problem::bad_request("this route names no resource by id"))?;
        uuid::Uuid::parse_str(text).map(PathId).map_err(|_| Problem::invalid(name, "must be a UUID"))
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_json, IfMatch};

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        use super::bearer_token;
        for value in ["Bearer rk_x", "bearer rk_x", "BEARER rk_x", "BeArEr  rk_x"] {
            assert_eq!(bearer_token(value), Some("rk_x"), "{value}");
        }
        for value in ["Basic rk_x", "Bearerrk_x", "rk_x", ""] {
            assert_eq!(bearer_token(value), None, "{value}");
        }
    }

    #[test]
    fn if_match_reads_our_tags_and_fails_others_as_a_precondition() {
        let version = |text: &str| IfMatch::parse(text).map(|m| m.0).map_err(|p| p.status);
        assert_eq!(version("\"3\""), Ok(Some(3)));
        assert_eq!(version("W/\"3\""), Ok(Some(3)));
        assert_eq!(version(" 3 "), Ok(Some(3)));
        assert_eq!(version("*"), Ok(None));
        // well-formed tags roster never issued: a precondition that fails (412), not a malformed request
        for foreign in ["W/\"stale-version\"", "\"abc\"", "\"\"", "\"0\"", "\"-4\""] {
            assert_eq!(version(foreign), Ok(Some(IfMatch::NO_VERSION)), "{foreign}");
        }
        assert_eq!(version("\"xyz\", W/\"7\""), Ok(Some(7)), "a list with one of ours");
        for malformed in ["stale", "\"unclosed", "W/", "\"a\"b\"", ""] {
            assert_eq!(version(malformed), Err(400), "{malformed}");
        }
        assert_eq!(version("\"1\", \"2\""), Err(400), "two of ours is ambiguous");
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Patch {
        name: Option<String>,
        external_id: Option<String>,
    }

    #[test]
    fn a_body_is_an_object_and_nothing_else() {
        // found by schemathesis: serde reads a list into a struct field by field
        for body in ["[null, null]", " [\"x\"]", "42", "\"text\"", "null", "true"] {
            let problem = parse_json::<Patch>(body.as_bytes()).unwrap_err();
            assert_eq!((problem.status, problem.detail.as_str()), (422, "the body must be a JSON object"), "{body}");
        }
        assert_eq!(parse_json::<Patch>(b"[null").unwrap_err().status, 400, "malformed JSON stays a 400");
        assert!(parse_json::<Patch>(b" \n{\"name\": \"Acme\"}").is_ok());
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Needs {
        title: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        weight: u8,
    }

    #[test]
    fn a_refusal_names_the_field_missing_or_unknown() {
        let field = |body: &str| {
            let problem = parse_json::<Needs>(body.as_bytes()).unwrap_err();
            assert_eq!(problem.status, 422, "{body}");
            problem.errors[0].field.clone()
        };
        assert_eq!(field("{}"), "title");
        assert_eq!(field(r#"{"title": "x", "inner": {}}"#), "inner.weight");
        assert_eq!(field(r#"{"title": "x", "inner": {"weight": 1, "extra": 2}}"#), "inner.extra");
        assert_eq!(field(r#"{"title": "x", "inner": {"weight": 300}}"#), "inner.weight");
        assert_eq!(field(r#"{"title": 4}"#), "title");
        assert_eq!(parse_json::<Patch>(br#"{"nope": 1}"#).unwrap_err().errors[0].field, "nope");
    }
}
