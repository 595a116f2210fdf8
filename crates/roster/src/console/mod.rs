//! The admin console at `/console`: a page and its scripts, embedded in the binary, and the routes that sign a
//! browser in and out.
//!
//! The console is a client of the JSON API and nothing more: every page reads and writes through `/v1/…`, so what an
//! admin can see and do in the browser is exactly what the API lets the same session do, decided where the API
//! decides it. The browser holds its session in a cookie ([`crate::http::cookie`]): `HttpOnly`, `SameSite=Strict`,
//! `Secure` over TLS, and never enough for a write without the session's CSRF token. Every answer under `/console`
//! carries a Content-Security-Policy that lets the page load its own scripts, styles and API answers and nothing
//! else: no inline script, no other origin, no framing.

mod assets;

use axum::extract::{Path, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::login::{self, LoginRequest};
use crate::http::cookie;
use crate::http::extract::request_actor;
use crate::http::{ApiResult, AppState, Authenticated, JsonBody, Problem};
use crate::principal::Role;
use crate::users::User;

/// The page's policy: its own scripts, styles, images and API, nothing inline, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(page))
        .route("/console/", get(page))
        .route("/console/assets/{file}", get(asset))
        .route("/console/session", get(current).post(sign_in).delete(sign_out))
        .layer(axum::middleware::map_response(protect))
}

/// Headers every console answer carries.
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn page(headers: HeaderMap) -> Response {
    assets::answer("index.html", &headers)
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    assets::answer(&file, &headers)
}

/// `POST /console/session`: the tenant, an email or username, the password and, when enrolled, the TOTP code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    tenant: String,
    email: Option<String>,
    username: Option<String>,
    password: String,
    totp_code: Option<String>,
}

/// The signed-in console: who, where, and the token its writes must carry.
#[derive(Debug, Serialize)]
struct ConsoleSession {
    csrf_token: String,
    /// The slug of the user's own tenant.
    tenant: String,
    user: User,
}

fn may_use_console(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Sysadmin)
}

fn not_for_users() -> Problem {
    Problem::forbidden("the console is for the admins and sysadmins of a tenant")
}

/// Sign a browser in: the sign-in of `/v1/tenants/{tenant}/auth/login`, with its rate limits and audit entries, for
/// admins and sysadmins only; the session goes into the cookie, and the answer carries the CSRF token.
async fn sign_in(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    JsonBody(request): JsonBody<SignIn>,
) -> ApiResult<Response> {
    let actor = request_actor(&parts, &state);
    let slug = request.tenant.trim().to_owned();
    let login_name = request.email.as_deref().or(request.username.as_deref()).unwrap_or_default();
    state.signin_limits.check(actor.ip_address.as_deref(), &format!("{slug}/{}", login_name.trim().to_lowercase()))?;
    let tenant = if slug.is_empty() || slug.contains('\0') { None } else { state.directory.tenant(&slug).await? };
    let login = LoginRequest {
        email: request.email,
        username: request.username,
        password: request.password,
        totp_code: request.totp_code,
    };
    let key = state.secret_key.as_ref();
    let signed_in =
        login::login(&state.store, &state.config, key, state.clock.now(), tenant, actor.clone(), login).await?;
    if !may_use_console(signed_in.user.role) {
        // the password was right, but a user's session has no business in the console: end it at once
        if let Some(principal) = state.directory.authenticate(&signed_in.token).await? {
            login::logout(&state.store, &principal, &actor, state.clock.now()).await?;
        }
        return Err(not_for_users());
    }
    let secure = cookie::secure(state.config.public_url.as_deref());
    let body = ConsoleSession { csrf_token: cookie::csrf_token(&signed_in.token), tenant: slug, user: signed_in.user };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie::set(&signed_in.token, secure));
    Ok(response)
}

/// The signed-in console session, for a page that was reloaded: 401 when there is none.
async fn current(State(state): State<AppState>, auth: Authenticated, headers: HeaderMap) -> ApiResult<Response> {
    if !may_use_console(auth.principal.role) {
        return Err(not_for_users());
    }
    let user_id = auth.principal.user_id.ok_or_else(not_for_users)?;
    let secure = cookie::secure(state.config.public_url.as_deref());
    let token = cookie::session_token(&headers, secure)
        .ok_or_else(|| Problem::unauthenticated("sign in to the console first"))?;
    let user = crate::users::find_live(&state.store, auth.principal.tenant_id, user_id)
        .await?
        .ok_or_else(|| Problem::unauthenticated("the session's user is gone"))?;
    let tenant = state
        .directory
        .tenant_by_id(auth.principal.tenant_id.uuid())
        .await?
        .ok_or_else(|| Problem::unauthenticated("the session's tenant is gone"))?;
    Ok(Json(ConsoleSession { csrf_token: cookie::csrf_token(&token), tenant: tenant.slug, user }).into_response())
}

/// Sign the browser out: the session ends and the cookie is removed.
async fn sign_out(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    login::logout(&state.store, &auth.principal, &auth.actor, state.clock.now()).await?;
    let secure = cookie::secure(state.config.public_url.as_deref());
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie::clear(secure));
    Ok(response)
}
