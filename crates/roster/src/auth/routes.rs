//! `/v1/tenants/{tenant}/auth/login`, `/v1/auth/logout`, `/v1/me`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::lifecycle::{
    self, ConfirmRequest, RegisterRequest, RegisterResponse, ResetAccepted, ResetRequest, TokenRequest,
};
use super::login::{self, LoginRequest, LoginResponse};
use crate::http::extract::request_actor;

use crate::http::{versioned, ApiResult, AppState, Authenticated, JsonBody, Problem};
use crate::users::User;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_route))
        .routes(routes!(logout_route))
        .routes(routes!(me, update_me))
        .routes(routes!(activity))
        .routes(routes!(register))
        .routes(routes!(verify_email))
        .routes(routes!(reset_request))
        .routes(routes!(reset_confirm))
        .routes(routes!(external))
        .routes(routes!(totp_enroll))
        .routes(routes!(totp_confirm))
        .routes(routes!(totp_disable))
        .routes(routes!(my_sessions))
        .routes(routes!(change_password))
        .routes(routes!(end_my_session))
        .routes(routes!(user_sessions))
        .routes(routes!(revoke_user_sessions))
        .routes(routes!(force_password_reset))
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
    let key = state.secret_key.as_ref();
    let response = login::login(&state.store, &state.config, key, state.clock.now(), tenant, actor, request).await?;
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

/// Change the signed-in user's own profile (names, time zone, preferences, metadata); honours `If-Match`.
#[utoipa::path(patch, path = "/v1/me", tag = "me", request_body = crate::users::OwnProfilePatch,
    responses((status = 200, body = User), (status = 404, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn update_me(
    State(state): State<AppState>,
    auth: Authenticated,
    crate::http::IfMatch(if_match): crate::http::IfMatch,
    JsonBody(patch): JsonBody<crate::users::OwnProfilePatch>,
) -> ApiResult<Response> {
    let (scope, user_id) = own_scope(&state, &auth).await?;
    let user = crate::users::update_own(&state.store, &scope, state.clock.now(), user_id, if_match, patch).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// Mark the signed-in user active now (counts toward `total_usage_minutes`).
#[utoipa::path(post, path = "/v1/me/activity", tag = "me",
    responses((status = 200, body = User), (status = 400, body = Problem)), security(("bearer" = [])))]
async fn activity(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    let user =
        login::mark_activity(&state.store, &state.config, &auth.principal, &auth.actor, state.clock.now()).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// Register a `pending_verification` user. The application (an API key of the tenant) receives the user and the
/// email verification token to deliver (201), or 409 when the email or username is taken. Anyone else gets the same
/// 202 whether or not the address is taken, so the answer does not tell a stranger who has an account.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/auth/register", tag = "auth", params(("tenant" = String, Path)),
    request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 202, body = lifecycle::RegisterAccepted),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)),
    // a key is optional: with one, the answer is the user and its verification token
    security((), ("bearer" = [])))]
async fn register(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RequestFacts(actor): RequestFacts,
    caller: OptionalCaller,
    JsonBody(request): JsonBody<RegisterRequest>,
) -> ApiResult<Response> {
    state
        .signin_limits
        .check(actor.ip_address.as_deref(), &format!("{slug}/{}", request.email.trim().to_lowercase()))?;
    let tenant = state.directory.tenant(&slug).await?;
    let for_application = caller.for_application(tenant.as_ref());
    if !for_application && !lifecycle::open_to_public(tenant.as_ref()) {
        // a stranger hears of an unknown or suspended tenant what it hears of a real one
        lifecycle::register_nowhere(&state.config, state.clock.now(), request).await?;
        return Ok((StatusCode::ACCEPTED, Json(lifecycle::RegisterAccepted { accepted: true })).into_response());
    }
    let registered = lifecycle::register(&state.store, &state.config, state.clock.now(), tenant, actor, request).await;
    // a stranger is not told that the email or username is taken
    let taken = matches!(registered, Err(super::AuthError::User(crate::users::UserError::Taken { .. })));
    match registered {
        Ok(response) if for_application => Ok((StatusCode::CREATED, Json(response)).into_response()),
        Err(error) if for_application || !taken => Err(error.into()),
        Ok(_) | Err(_) => {
            Ok((StatusCode::ACCEPTED, Json(lifecycle::RegisterAccepted { accepted: true })).into_response())
        }
    }
}

/// Verify an email address with its token: the user becomes active.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/auth/verify-email", tag = "auth", params(("tenant" = String, Path)),
    request_body = TokenRequest, responses((status = 200, body = User), (status = 422, body = Problem)))]
async fn verify_email(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RequestFacts(actor): RequestFacts,
    JsonBody(request): JsonBody<TokenRequest>,
) -> ApiResult<Response> {
    let tenant = state.directory.tenant(&slug).await?;
    let user = lifecycle::verify_email(&state.store, state.clock.now(), tenant, actor, request).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// Ask for a password reset. The answer is the same whether or not the address is known; only the application
/// (calling with an API key) receives the token to deliver.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/auth/password-reset/request", tag = "auth",
    params(("tenant" = String, Path)), request_body = ResetRequest,
    responses((status = 202, body = ResetAccepted), (status = 429, body = Problem)),
    // a key is optional: with one, the answer carries the reset token to deliver
    security((), ("bearer" = [])))]
async fn reset_request(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RequestFacts(actor): RequestFacts,
    caller: OptionalCaller,
    JsonBody(request): JsonBody<ResetRequest>,
) -> ApiResult<Response> {
    state
        .signin_limits
        .check(actor.ip_address.as_deref(), &format!("{slug}/{}", request.email.trim().to_lowercase()))?;
    let tenant = state.directory.tenant(&slug).await?;
    let for_application = caller.for_application(tenant.as_ref());
    if !for_application && !lifecycle::open_to_public(tenant.as_ref()) {
        // a stranger hears of an unknown or suspended tenant what it hears of a real one
        return Ok((StatusCode::ACCEPTED, Json(lifecycle::ResetAccepted { accepted: true, reset_token: None }))
            .into_response());
    }
    let accepted = lifecycle::request_reset(
        &state.store,
        &state.config,
        state.clock.now(),
        tenant,
        actor,
        for_application,
        request,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

/// Set a new password with a reset or invitation token; every session of the user ends.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/auth/password-reset/confirm", tag = "auth",
    params(("tenant" = String, Path)), request_body = ConfirmRequest,
    responses((status = 200, body = User), (status = 422, body = Problem)))]
async fn reset_confirm(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RequestFacts(actor): RequestFacts,
    JsonBody(request): JsonBody<ConfirmRequest>,
) -> ApiResult<Response> {
    let tenant = state.directory.tenant(&slug).await?;
    let user = lifecycle::confirm_reset(&state.store, &state.config, state.clock.now(), tenant, actor, request).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// The caller, when it sent a token (which must then be valid).
struct OptionalCaller(Option<Authenticated>);

impl OptionalCaller {
    /// Whether the caller is an application: an API key that may act in `tenant`. Only it receives tokens to deliver.
    fn for_application(&self, tenant: Option<&crate::principal::TenantRef>) -> bool {
        self.0.as_ref().is_some_and(|auth| {
            auth.principal.api_key_id.is_some() && tenant.is_some_and(|t| auth.principal.may_enter(t))
        })
    }
}

impl axum::extract::FromRequestParts<AppState> for OptionalCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Problem> {
        if !parts.headers.contains_key(axum::http::header::AUTHORIZATION) {
            return Ok(OptionalCaller(None));
        }
        <Authenticated as axum::extract::FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(|auth| OptionalCaller(Some(auth)))
    }
}

/// Sign a user in through an external identity provider (API keys of role admin or sysadmin only): found or created
/// by the provider's id; never a user whose role is above the key's; a user with two-factor sign-in sends its code.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/auth/external", tag = "auth", params(("tenant" = String, Path)),
    request_body = super::external::ExternalRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn external(
    State(state): State<AppState>,
    crate::http::Scoped(scope): crate::http::Scoped,
    JsonBody(request): JsonBody<super::external::ExternalRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let key = state.secret_key.as_ref();
    let response =
        super::external::sign_in(&state.store, &state.config, key, state.clock.now(), &scope, request).await?;
    Ok(Json(response))
}

/// The signed-in user's scope in its own tenant.
async fn own_scope(
    state: &AppState,
    auth: &Authenticated,
) -> Result<(crate::principal::TenantScope, uuid::Uuid), Problem> {
    let own = crate::http::extract::own_scope(state, auth).await?;
    Ok((own.scope, own.user_id))
}

/// `{"code"}`: a code from the authenticator app (or, to turn two-factor off, a recovery code).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    code: String,
}

/// Start two-factor enrolment: the secret for an authenticator app and ten recovery codes, shown once.
#[utoipa::path(post, path = "/v1/me/totp/enroll", tag = "me",
    responses((status = 200, body = crate::users::two_factor::Enrolment), (status = 409, body = Problem)),
    security(("bearer" = [])))]
async fn totp_enroll(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<crate::users::two_factor::Enrolment>> {
    let (scope, user_id) = own_scope(&state, &auth).await?;
    let user = crate::users::find_live(&state.store, scope.tenant_id(), user_id)
        .await?
        .ok_or_else(|| Problem::not_found("user"))?;
    let account = user.email.or(user.username).unwrap_or(user.display_name);
    let enrolment = crate::users::two_factor::enroll(
        &state.store,
        &scope,
        state.secret_key.as_ref(),
        state.clock.now(),
        user_id,
        &account,
    )
    .await?;
    Ok(Json(enrolment))
}

/// Turn two-factor on with a first code from the authenticator app.
#[utoipa::path(post, path = "/v1/me/totp/confirm", tag = "me", request_body = CodeRequest,
    responses((status = 204), (status = 409, description = "no enrolment to confirm, or already on", body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn totp_confirm(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(request): JsonBody<CodeRequest>,
) -> ApiResult<Response> {
    let (scope, user_id) = own_scope(&state, &auth).await?;
    crate::users::two_factor::confirm(
        &state.store,
        &scope,
        state.secret_key.as_ref(),
        state.clock.now(),
        user_id,
        &request.code,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Turn two-factor off with a current code or a recovery code.
#[utoipa::path(delete, path = "/v1/me/totp", tag = "me", request_body = CodeRequest,
    responses((status = 204), (status = 409, description = "two-factor sign-in is not on", body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn totp_disable(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(request): JsonBody<CodeRequest>,
) -> ApiResult<Response> {
    let (scope, user_id) = own_scope(&state, &auth).await?;
    // the user's own scope has the role `user` unless the user is an admin; a code is always asked for here
    let key = state.secret_key.as_ref();
    crate::users::two_factor::disable(&state.store, &scope, key, state.clock.now(), user_id, Some(&request.code))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The signed-in user's live sessions.
#[utoipa::path(get, path = "/v1/me/sessions", tag = "me",
    responses((status = 200, body = Vec<super::sessions::SessionView>)), security(("bearer" = [])))]
async fn my_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Vec<super::sessions::SessionView>>> {
    let (scope, user_id) = own_scope(&state, &auth).await?;
    Ok(Json(super::sessions::list(&state.store, &scope, user_id, state.clock.now()).await?))
}

/// End one of the signed-in user's sessions (e.g. a lost device).
#[utoipa::path(delete, path = "/v1/me/sessions/{session}", tag = "me", params(("session" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn end_my_session(
    State(state): State<AppState>,
    auth: Authenticated,
    crate::http::PathId(session): crate::http::PathId,
) -> ApiResult<Response> {
    let (scope, user_id) = own_scope(&state, &auth).await?;
    super::sessions::revoke(&state.store, &scope, user_id, session, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A user's live sessions (the user itself, or an admin).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/{id}/sessions", tag = "users",
    params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<super::sessions::SessionView>), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn user_sessions(
    State(state): State<AppState>,
    crate::http::Scoped(scope): crate::http::Scoped,
    crate::http::PathId(id): crate::http::PathId,
) -> ApiResult<Json<Vec<super::sessions::SessionView>>> {
    Ok(Json(super::sessions::list(&state.store, &scope, id, state.clock.now()).await?))
}

/// End every session of a user (admin).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/users/{id}/revoke-sessions", tag = "users",
    params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "{\"sessions_ended\": n}"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn revoke_user_sessions(
    State(state): State<AppState>,
    crate::http::Scoped(scope): crate::http::Scoped,
    crate::http::PathId(id): crate::http::PathId,
) -> ApiResult<Json<serde_json::Value>> {
    let ended = super::sessions::revoke_all(&state.store, &scope, id, state.clock.now()).await?;
    Ok(Json(serde_json::json!({ "sessions_ended": ended })))
}

/// Force a password reset (admin): the password stops working, sessions end, and the reset token is returned for
/// the application to deliver.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/users/{id}/force-password-reset", tag = "users",
    params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "{\"reset_token\": \"…\"}"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn force_password_reset(
    State(state): State<AppState>,
    crate::http::Scoped(scope): crate::http::Scoped,
    crate::http::PathId(id): crate::http::PathId,
) -> ApiResult<Json<serde_json::Value>> {
    let lifetime = time::Duration::minutes(state.config.reset_token_minutes);
    let token = super::sessions::force_password_reset(&state.store, &scope, id, state.clock.now(), lifetime).await?;
    Ok(Json(serde_json::json!({ "reset_token": token })))
}

/// `POST /v1/me/password`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    #[schema(format = Password)]
    current_password: String,
    #[schema(format = Password)]
    new_password: String,
}

/// Change the signed-in user's password; the user's other sessions end.
#[utoipa::path(post, path = "/v1/me/password", tag = "me", request_body = PasswordChange,
    responses((status = 200, body = User), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn change_password(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(request): JsonBody<PasswordChange>,
) -> ApiResult<Response> {
    let (scope, _) = own_scope(&state, &auth).await?;
    let user = super::sessions::change_own_password(
        &state.store,
        &state.config,
        &scope,
        &auth.principal,
        state.clock.now(),
        request.current_password,
        request.new_password,
    )
    .await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}
