//! `/v1/tenants/{tenant}/users`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{NewUser, Passwords, StatusAction, User, UserFilter, UserPatch};
use crate::http::{versioned, ApiResult, AppState, IfMatch, JsonBody, Page, PathId, Problem, QueryParams, Scoped};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, patch_user, delete_user))
        .routes(routes!(restore_user))
        .routes(routes!(suspend_user))
        .routes(routes!(activate_user))
        .routes(routes!(unlock_user))
        .routes(routes!(disable_totp))
        .routes(routes!(user_by_email))
        .routes(routes!(user_by_username))
}

/// `…/users/by-email/{email}`.
#[derive(Debug, Deserialize)]
struct EmailPath {
    email: String,
}

/// `…/users/by-username/{username}`.
#[derive(Debug, Deserialize)]
struct UsernamePath {
    username: String,
}

/// `?include_deleted=` of a single-user read.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct GetParams {
    #[serde(default)]
    include_deleted: bool,
}

/// Create a user (admin).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/users", tag = "users", params(("tenant" = String, Path)),
    request_body = NewUser,
    responses((status = 201, body = User), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    JsonBody(input): JsonBody<NewUser>,
) -> ApiResult<Response> {
    let passwords = Passwords::from_config(&state.config);
    let invitation = Some(time::Duration::hours(state.config.invitation_token_hours));
    let (user, token) =
        super::create_with_invitation(&state.store, scope.admin()?, &passwords, state.clock.now(), input, invitation)
            .await?;
    let mut body = user.view();
    if let (Some(token), Some(fields)) = (token, body.as_object_mut()) {
        // an invited user's token to set a password, for the application to deliver; shown only here
        fields.insert("invitation_token".into(), token.into());
    }
    Ok(versioned(StatusCode::CREATED, user.version, &body))
}

/// List users (admin), filtered, in keyset pages.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users", tag = "users",
    params(("tenant" = String, Path), UserFilter),
    responses((status = 200, body = Page<User>)), security(("bearer" = [])))]
async fn list_users(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(filter): QueryParams<UserFilter>,
) -> ApiResult<Json<Page<User>>> {
    Ok(Json(super::list(&state.store, scope.admin()?, &filter).await?))
}

/// Get a user: admins any user of the tenant, others only themselves.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/{id}", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path), GetParams),
    responses((status = 200, body = User), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    QueryParams(params): QueryParams<GetParams>,
) -> ApiResult<Response> {
    let user = super::get(&state.store, &scope, id, params.include_deleted).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// Change a user's profile (admin); honours `If-Match`.
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/users/{id}", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = UserPatch,
    responses((status = 200, body = User), (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn patch_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    IfMatch(if_match): IfMatch,
    JsonBody(patch): JsonBody<UserPatch>,
) -> ApiResult<Response> {
    let user = super::update(&state.store, scope.admin()?, state.clock.now(), id, if_match, patch).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// Soft-delete a user (admin).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/users/{id}", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn delete_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    IfMatch(if_match): IfMatch,
) -> ApiResult<Response> {
    let user = super::delete(&state.store, scope.admin()?, state.clock.now(), id, if_match).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// Restore a soft-deleted user (admin); 409 when its email or username was taken meanwhile.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/users/{id}/restore", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
async fn restore_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    IfMatch(if_match): IfMatch,
) -> ApiResult<Response> {
    let user = super::restore(&state.store, scope.admin()?, state.clock.now(), id, if_match).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// Look a user up by email, case-insensitively (admin).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/by-email/{email}", tag = "users",
    params(("tenant" = String, Path), ("email" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn user_by_email(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    Path(EmailPath { email }): Path<EmailPath>,
) -> ApiResult<Response> {
    let user = super::find_by_email(&state.store, scope.admin()?, &email).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// Look a user up by username (admin).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/by-username/{username}", tag = "users",
    params(("tenant" = String, Path), ("username" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn user_by_username(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    Path(UsernamePath { username }): Path<UsernamePath>,
) -> ApiResult<Response> {
    let user = super::find_by_username(&state.store, scope.admin()?, &username).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

async fn status_action(
    state: AppState,
    scope: crate::principal::TenantScope,
    id: uuid::Uuid,
    if_match: Option<i64>,
    action: StatusAction,
) -> ApiResult<Response> {
    let user = super::change_status(&state.store, scope.admin()?, state.clock.now(), id, if_match, action).await?;
    Ok(versioned(StatusCode::OK, user.version, &user))
}

/// Suspend a user (admin): it can no longer sign in, and its sessions stop working.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/users/{id}/suspend", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn suspend_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    IfMatch(if_match): IfMatch,
) -> ApiResult<Response> {
    status_action(state, scope, id, if_match, StatusAction::Suspend).await
}

/// Activate a user (admin): from suspended, invited, pending or locked; clears failed sign-ins.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/users/{id}/activate", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn activate_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    IfMatch(if_match): IfMatch,
) -> ApiResult<Response> {
    status_action(state, scope, id, if_match, StatusAction::Activate).await
}

/// Unlock a user locked by failed sign-ins (admin).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/users/{id}/unlock", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
async fn unlock_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    IfMatch(if_match): IfMatch,
) -> ApiResult<Response> {
    status_action(state, scope, id, if_match, StatusAction::Unlock).await
}

/// Turn off a user's two-factor sign-in (admin), e.g. after a lost phone without recovery codes.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/users/{id}/totp", tag = "users",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
async fn disable_totp(State(state): State<AppState>, Scoped(scope): Scoped, PathId(id): PathId) -> ApiResult<Response> {
    super::two_factor::disable(&state.store, &scope, state.secret_key.as_ref(), state.clock.now(), id, None).await?;
    Ok(axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT))
}
