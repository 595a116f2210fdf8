//! `/v1/tenants/{tenant}/clients`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Client, ClientFilter, ClientPatch, NewClient};
use crate::http::{versioned, ApiResult, AppState, IfMatch, JsonBody, Page, PathId, Problem, QueryParams, Scoped};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_client, list_clients))
        .routes(routes!(get_client, patch_client, deactivate_client))
        .routes(routes!(restore_client))
}

/// Register a client (admins, or users granted `create` on `client_management`); 409 when another active client of
/// the tenant has the CPF.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/clients", tag = "clients", params(("tenant" = String, Path)),
    request_body = NewClient,
    responses((status = 201, body = Client), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_client(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    JsonBody(input): JsonBody<NewClient>,
) -> ApiResult<Response> {
    let client = super::create(&state.store, &scope, state.clock.now(), input).await?;
    Ok(versioned(StatusCode::CREATED, client.version, &client))
}

/// Search clients in name order (admins, or users granted `read`): by exact CPF in either format, by part of the
/// name ignoring case and accents, active ones only unless asked. Every client answered is an audited read.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/clients", tag = "clients",
    params(("tenant" = String, Path), ClientFilter),
    responses((status = 200, body = Page<Client>), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn list_clients(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(filter): QueryParams<ClientFilter>,
) -> ApiResult<Json<Page<Client>>> {
    Ok(Json(super::list(&state.store, &scope, state.clock.now(), &filter).await?))
}

/// Read a client, active or deactivated (admins, or users granted `read`); the read is audited.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/clients/{id}", tag = "clients",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Client), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn get_client(State(state): State<AppState>, Scoped(scope): Scoped, PathId(id): PathId) -> ApiResult<Response> {
    let client = super::get(&state.store, &scope, state.clock.now(), id).await?;
    Ok(versioned(StatusCode::OK, client.version, &client))
}

/// Change an active client's name, CPF or birth date (admins, or users granted `update`); honours `If-Match`.
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/clients/{id}", tag = "clients",
    params(("tenant" = String, Path), ("id" = Uuid, Path)), request_body = ClientPatch,
    responses((status = 200, body = Client), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn patch_client(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    IfMatch(if_match): IfMatch,
    JsonBody(patch): JsonBody<ClientPatch>,
) -> ApiResult<Response> {
    let client = super::update(&state.store, &scope, state.clock.now(), id, if_match, patch).await?;
    Ok(versioned(StatusCode::OK, client.version, &client))
}

/// Deactivate a client, a soft delete (admins, or users granted `delete`); honours `If-Match`.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/clients/{id}", tag = "clients",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Client), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem)),
    security(("bearer" = [])))]
async fn deactivate_client(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    IfMatch(if_match): IfMatch,
) -> ApiResult<Response> {
    let client = super::deactivate(&state.store, &scope, state.clock.now(), id, if_match).await?;
    Ok(versioned(StatusCode::OK, client.version, &client))
}

/// Restore a deactivated client (admins, or users granted `delete`); 409 when another active client has its CPF now.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/clients/{id}/restore", tag = "clients",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Client), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem)),
    security(("bearer" = [])))]
async fn restore_client(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    IfMatch(if_match): IfMatch,
) -> ApiResult<Response> {
    let client = super::restore(&state.store, &scope, state.clock.now(), id, if_match).await?;
    Ok(versioned(StatusCode::OK, client.version, &client))
}
