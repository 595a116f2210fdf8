//! `/v1/tenants/{tenant}/scenarios`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{NewScenario, Scenario, ScenarioFilter, ScenarioPatch};
use crate::http::{versioned, ApiResult, AppState, IfMatch, JsonBody, Page, PathId, Problem, QueryParams, Scoped};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_scenario, list_scenarios)).routes(routes!(get_scenario, patch_scenario))
}

/// Create a scenario (admin); its prerequisites must be scenarios of the tenant and form no cycle.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/scenarios", tag = "training", params(("tenant" = String, Path)),
    request_body = NewScenario,
    responses((status = 201, body = Scenario), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_scenario(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    JsonBody(input): JsonBody<NewScenario>,
) -> ApiResult<Response> {
    let scenario = super::create_scenario(&state.store, scope.admin()?, state.clock.now(), input).await?;
    Ok(versioned(StatusCode::CREATED, scenario.version, &scenario))
}

/// The tenant's scenarios by id: active ones for everyone of the tenant, retired ones too for admins.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/scenarios", tag = "training",
    params(("tenant" = String, Path), ScenarioFilter),
    responses((status = 200, body = Page<Scenario>), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn list_scenarios(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(filter): QueryParams<ScenarioFilter>,
) -> ApiResult<Json<Page<Scenario>>> {
    Ok(Json(super::scenarios(&state.store, &scope, &filter).await?))
}

/// A scenario: active ones for everyone of the tenant, retired ones for admins.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/scenarios/{id}", tag = "training",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Scenario), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_scenario(State(state): State<AppState>, Scoped(scope): Scoped, PathId(id): PathId) -> ApiResult<Response> {
    let scenario = super::scenario(&state.store, &scope, id).await?;
    Ok(versioned(StatusCode::OK, scenario.version, &scenario))
}

/// Change a scenario (admin); honours `If-Match`. `is_active: false` retires it.
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/scenarios/{id}", tag = "training",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = ScenarioPatch,
    responses((status = 200, body = Scenario), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn patch_scenario(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    IfMatch(if_match): IfMatch,
    JsonBody(patch): JsonBody<ScenarioPatch>,
) -> ApiResult<Response> {
    let scenario = super::update_scenario(&state.store, scope.admin()?, state.clock.now(), id, if_match, patch).await?;
    Ok(versioned(StatusCode::OK, scenario.version, &scenario))
}
