//! `…/scenarios`, `…/scenarios/{id}/start`, `/v1/sessions/{id}…`, `…/achievements`, `/v1/me/performance`,
//! `/v1/me/achievements`, `…/users/{id}/performance` and `…/training/leaderboard`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::MessagePage;
use super::performance::{Leader, LeaderboardFilter};
use super::{
    Achievement, ChatMessage, Earned, NewAchievement, NewMessage, NewScenario, Performance, Resolution, Resolved,
    Scenario, ScenarioFilter, ScenarioPatch, Session, StartSession,
};
use crate::http::{
    versioned, ApiResult, AppState, Home, IfMatch, JsonBody, JsonOrEmpty, Own, Page, PageParams, PathId, Problem,
    QueryParams, Scoped,
};
use crate::users::{self, Deleted};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_scenario, list_scenarios))
        .routes(routes!(get_scenario, patch_scenario))
        .routes(routes!(start_session))
        .routes(routes!(get_session))
        .routes(routes!(post_message, list_messages))
        .routes(routes!(abandon_session))
        .routes(routes!(resolve_session))
        .routes(routes!(create_achievement, list_achievements))
        .routes(routes!(my_performance))
        .routes(routes!(my_achievements))
        .routes(routes!(user_performance))
        .routes(routes!(leaderboard))
}

#[derive(Serialize, ToSchema)]
struct Items<T> {
    items: Vec<T>,
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

/// Start a practice session of an active scenario: for the signed-in caller, or (an admin or admin API key) for the
/// user named by `user_id`. The user must have completed the scenario's prerequisites and have no active session of
/// it (409 otherwise).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/scenarios/{id}/start", tag = "training",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = StartSession,
    responses((status = 201, body = Session), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn start_session(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    JsonOrEmpty(input): JsonOrEmpty<StartSession>,
) -> ApiResult<Response> {
    let session = super::sessions::start(&state.store, &scope, state.clock.now(), id, input).await?;
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

/// A practice session: its user's, or any of the tenant's for an admin or admin API key.
#[utoipa::path(get, path = "/v1/sessions/{id}", tag = "training", params(("id" = Uuid, Path)),
    responses((status = 200, body = Session), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_session(State(state): State<AppState>, Home(scope): Home, PathId(id): PathId) -> ApiResult<Json<Session>> {
    Ok(Json(super::sessions::get(&state.store, &scope, id).await?))
}

/// Append a message to an active session's transcript. The session's user writes `user` messages; the simulated
/// customer's and the system's come from an admin or admin API key (the training application).
#[utoipa::path(post, path = "/v1/sessions/{id}/messages", tag = "training", params(("id" = Uuid, Path)),
    request_body = NewMessage,
    responses((status = 201, body = ChatMessage), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn post_message(
    State(state): State<AppState>,
    Home(scope): Home,
    PathId(id): PathId,
    JsonBody(input): JsonBody<NewMessage>,
) -> ApiResult<Response> {
    let message = super::sessions::post_message(&state.store, &scope, state.clock.now(), id, input).await?;
    Ok((StatusCode::CREATED, Json(message)).into_response())
}

/// A session's transcript in order, a page at a time.
#[utoipa::path(get, path = "/v1/sessions/{id}/messages", tag = "training", params(("id" = Uuid, Path), MessagePage),
    responses((status = 200, body = Page<ChatMessage>), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn list_messages(
    State(state): State<AppState>,
    Home(scope): Home,
    PathId(id): PathId,
    QueryParams(page): QueryParams<MessagePage>,
) -> ApiResult<Json<Page<ChatMessage>>> {
    Ok(Json(super::sessions::messages(&state.store, &scope, id, &page).await?))
}

/// Give up an active session.
#[utoipa::path(post, path = "/v1/sessions/{id}/abandon", tag = "training", params(("id" = Uuid, Path)),
    responses((status = 200, body = Session), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
async fn abandon_session(
    State(state): State<AppState>,
    Home(scope): Home,
    PathId(id): PathId,
) -> ApiResult<Json<Session>> {
    Ok(Json(super::sessions::abandon(&state.store, &scope, state.clock.now(), id).await?))
}

/// Resolve an active session with its five scores (an admin or admin API key): the metric, the user's new XP and
/// level, and the achievements it earned, in one transaction. A session already resolved or abandoned is a 409.
#[utoipa::path(post, path = "/v1/sessions/{id}/resolve", tag = "training", params(("id" = Uuid, Path)),
    request_body = Resolution,
    responses((status = 200, body = Resolved), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn resolve_session(
    State(state): State<AppState>,
    Home(scope): Home,
    PathId(id): PathId,
    JsonBody(input): JsonBody<Resolution>,
) -> ApiResult<Json<Resolved>> {
    Ok(Json(super::sessions::resolve(&state.store, &scope, state.clock.now(), id, input).await?))
}

/// Add an achievement to the tenant's catalogue (admin).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/achievements", tag = "training", params(("tenant" = String, Path)),
    request_body = NewAchievement,
    responses((status = 201, body = Achievement), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_achievement(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    JsonBody(input): JsonBody<NewAchievement>,
) -> ApiResult<Response> {
    let achievement = super::achievements::create(&state.store, scope.admin()?, state.clock.now(), input).await?;
    Ok((StatusCode::CREATED, Json(achievement)).into_response())
}

/// The tenant's achievement catalogue (anyone of the tenant).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/achievements", tag = "training",
    params(("tenant" = String, Path), PageParams),
    responses((status = 200, body = Page<Achievement>), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn list_achievements(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<Page<Achievement>>> {
    Ok(Json(super::achievements::list(&state.store, &scope, &page).await?))
}

/// The signed-in user's training performance.
#[utoipa::path(get, path = "/v1/me/performance", tag = "me",
    responses((status = 200, body = Performance), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn my_performance(State(state): State<AppState>, own: Own) -> ApiResult<Json<Performance>> {
    let user = users::access::visible(&state.store, &own.scope, own.user_id, Deleted::Excluded).await?;
    Ok(Json(super::performance::of_user(&state.store, own.scope.tenant_id(), user.id, user.xp).await?))
}

/// The achievements the signed-in user earned, in the order earned.
#[utoipa::path(get, path = "/v1/me/achievements", tag = "me",
    responses((status = 200, body = Items<Earned>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn my_achievements(State(state): State<AppState>, own: Own) -> ApiResult<Json<Items<Earned>>> {
    let user = users::access::visible(&state.store, &own.scope, own.user_id, Deleted::Excluded).await?;
    let items = super::achievements::earned(&state.store, own.scope.tenant_id(), user.id).await?;
    Ok(Json(Items { items }))
}

/// A user's training performance: the user itself, or an admin of the tenant.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/{id}/performance", tag = "training",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Performance), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn user_performance(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
) -> ApiResult<Json<Performance>> {
    let user = users::access::visible(&state.store, &scope, id, Deleted::Excluded).await?;
    Ok(Json(super::performance::of_user(&state.store, scope.tenant_id(), user.id, user.xp).await?))
}

/// The training leaderboard (admin): live users with XP, most first (ties by id), with their level, completed
/// sessions and average overall score.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/training/leaderboard", tag = "training",
    params(("tenant" = String, Path), LeaderboardFilter),
    responses((status = 200, body = Items<Leader>), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn leaderboard(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(filter): QueryParams<LeaderboardFilter>,
) -> ApiResult<Json<Items<Leader>>> {
    let admin = scope.admin()?;
    let items = super::performance::leaderboard(&state.reports, admin, filter.limit()?).await?;
    Ok(Json(Items { items }))
}
