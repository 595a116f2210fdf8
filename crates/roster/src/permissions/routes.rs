//! `…/agents`, `…/users/{id}/permissions` and `/v1/me/permissions`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::CheckParams;
use super::{Agent, CheckAnswer, GrantInput, GrantView, NewAgent};
use crate::http::{versioned, ApiResult, AppState, IfMatch, JsonBody, Own, PathId, Problem, QueryParams, Scoped};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, add_agent))
        .routes(routes!(retire_agent))
        .routes(routes!(list_grants))
        .routes(routes!(put_grant, revoke_grant))
        .routes(routes!(check))
        .routes(routes!(my_grants))
}

/// `{agent}` of a route.
#[derive(Debug, Deserialize)]
struct AgentPath {
    agent: String,
}

/// `?include_retired=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AgentListParams {
    /// Also list retired agents.
    #[serde(default)]
    include_retired: bool,
}

/// `?include_revoked=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct GrantListParams {
    /// Also list revoked grants.
    #[serde(default)]
    include_revoked: bool,
}

/// `{"items": [...]}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct Items<T> {
    items: Vec<T>,
}

/// The tenant's agent catalogue (admin).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/agents", tag = "permissions",
    params(("tenant" = String, Path), AgentListParams),
    responses((status = 200, body = Items<Agent>), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_agents(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(params): QueryParams<AgentListParams>,
) -> ApiResult<Json<Items<Agent>>> {
    Ok(Json(Items { items: super::agents(&state.store, scope.admin()?, params.include_retired).await? }))
}

/// Add an agent to the catalogue (admin); adding a retired agent's name brings it back (200).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/agents", tag = "permissions",
    params(("tenant" = String, Path)), request_body = NewAgent,
    responses((status = 201, body = Agent), (status = 200, body = Agent), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn add_agent(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    JsonBody(input): JsonBody<NewAgent>,
) -> ApiResult<Response> {
    let (agent, created) = super::add_agent(&state.store, scope.admin()?, state.clock.now(), input).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(agent)).into_response())
}

/// Retire an agent (admin): checks on it answer 404 and its grants stop counting until it is added back.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/agents/{agent}", tag = "permissions",
    params(("tenant" = String, Path), ("agent" = String, Path)),
    responses((status = 200, body = Agent), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn retire_agent(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    Path(AgentPath { agent }): Path<AgentPath>,
) -> ApiResult<Json<Agent>> {
    Ok(Json(super::retire_agent(&state.store, scope.admin()?, state.clock.now(), &agent).await?))
}

/// A user's grants (the user itself, or an admin); expired grants are listed with status `expired`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/{id}/permissions", tag = "permissions",
    params(("tenant" = String, Path), ("id" = Uuid, Path), GrantListParams),
    responses((status = 200, body = Items<GrantView>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn list_grants(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    QueryParams(params): QueryParams<GrantListParams>,
) -> ApiResult<Json<Items<GrantView>>> {
    let items = super::grants(&state.store, &scope, state.clock.now(), id, params.include_revoked).await?;
    Ok(Json(Items { items }))
}

/// Grant a user actions on an agent, replacing its earlier grant (admin); honours `If-Match`. 201 for a new grant.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/users/{id}/permissions/{agent}", tag = "permissions",
    params(("tenant" = String, Path), ("id" = Uuid, Path), ("agent" = String, Path)), request_body = GrantInput,
    responses((status = 201, body = GrantView), (status = 200, body = GrantView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn put_grant(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    Path(AgentPath { agent }): Path<AgentPath>,
    IfMatch(if_match): IfMatch,
    JsonBody(input): JsonBody<GrantInput>,
) -> ApiResult<Response> {
    let (grant, created) =
        super::put_grant(&state.store, &scope, state.clock.now(), id, &agent, if_match, input).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(versioned(status, grant.version, &grant))
}

/// Revoke a user's grant on an agent (admin); honours `If-Match`. The grant stays listed as revoked with
/// `?include_revoked=true`, and checks answer `revoked`.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/users/{id}/permissions/{agent}", tag = "permissions",
    params(("tenant" = String, Path), ("id" = Uuid, Path), ("agent" = String, Path)),
    responses((status = 200, body = GrantView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem)),
    security(("bearer" = [])))]
async fn revoke_grant(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    Path(AgentPath { agent }): Path<AgentPath>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<Response> {
    let grant = super::revoke(&state.store, &scope, state.clock.now(), id, &agent, if_match).await?;
    Ok(versioned(StatusCode::OK, grant.version, &grant))
}

/// May the user do `action` through the agent now? `{allowed, reason}`; admins and sysadmins are allowed by role.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/{id}/permissions/{agent}/check", tag = "permissions",
    params(("tenant" = String, Path), ("id" = Uuid, Path), ("agent" = String, Path), CheckParams),
    responses((status = 200, body = CheckAnswer), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn check(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    Path(AgentPath { agent }): Path<AgentPath>,
    QueryParams(params): QueryParams<CheckParams>,
) -> ApiResult<Json<CheckAnswer>> {
    let answer = super::check(&state.store, &scope, state.clock.now(), id, &agent, params.action.as_deref()).await?;
    Ok(Json(answer))
}

/// The signed-in user's own grants.
#[utoipa::path(get, path = "/v1/me/permissions", tag = "me", params(GrantListParams),
    responses((status = 200, body = Items<GrantView>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn my_grants(
    State(state): State<AppState>,
    own: Own,
    QueryParams(params): QueryParams<GrantListParams>,
) -> ApiResult<Json<Items<GrantView>>> {
    let items = super::grants(&state.store, &own.scope, state.clock.now(), own.user_id, params.include_revoked).await?;
    Ok(Json(Items { items }))
}
