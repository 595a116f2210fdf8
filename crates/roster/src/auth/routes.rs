//! `/v1/tenants/{tenant}/auth/login`, `/v1/auth/logout`, `/v1/me`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::login::{self, LoginRequest, LoginResponse};
use crate::http::extract::request_actor;
use crate::http::{versioned, ApiResult, AppState, Authenticated, JsonBody, Problem};
use crate::users::User;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_route))
        .routes(routes!(logout_route))
        .routes(routes!(me))
        .routes(routes!(activity))
}

/// The caller's address and user agent, for sign-in (which has no principal yet).
struct RequestFacts(crate::principal::Actor);

impl axum::extract::FromRequestParts<AppState> for RequestFacts {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Problem> {
        Ok(RequestFacts(request_actor(parts, state)))
    }
}

/// Sign in with an email or username and a password; answers a session token.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/auth/login", tag = "auth", params(("tenant" = String, Path)),
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn login_route(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RequestFacts(actor): RequestFacts,
    JsonBody(request): JsonBody<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let login = request.email.as_deref().or(request.username.as_deref()).unwrap_or_default().trim().to_lowercase();
    state.signin_limits.check(actor.ip_address.as_deref(), &format!("{slug}/{login}"))?;
    let tenant = state.directory.tenant(&slug).await?;
    let response = login::login(&state.store, &state.config, state.clock.now(), tenant, actor, request).await?;
    Ok(Json(response))
}

/// End the session whose token authenticates this request.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("bearer" = [])))]
async fn logout_route(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    login::logout(&state.store, &auth.principal, &auth.actor, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The signed-in user.
#[utoipa::path(get, path = "/v1/me", tag = "me",
    responses((status = 200, body = User), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn me(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    let Some(user_id) = auth.principal.user_id else {
        return Err(Problem::not_found("signed-in user (an API key has none)"));
    };
    let user = crate::users::find_live(&state.store, auth.principal.tenant_id, user_id)
        .await?
        .ok_or_else(|| Problem::not_found("user"))?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// Mark the signed-in user active now (counts toward `total_usage_minutes`).
#[utoipa::path(post, path = "/v1/me/activity", tag = "me",
    responses((status = 200, body = User), (status = 400, body = Problem)), security(("bearer" = [])))]
async fn activity(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    let user = login::mark_activity(&state.store, &state.config, &auth.principal, state.clock.now()).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}
