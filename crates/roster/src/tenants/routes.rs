//! `/v1/tenants`: sysadmin only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{NewTenant, Tenant, TenantPatch};
use crate::http::pagination::{self, Page, PageParams};
use crate::http::{versioned, ApiResult, AppState, Authenticated, IfMatch, JsonBody, Problem, QueryParams};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_tenant, list_tenants)).routes(routes!(get_tenant, patch_tenant))
}

fn sysadmin(auth: &Authenticated) -> Result<crate::principal::Sysadmin, Problem> {
    Ok(auth.principal.sysadmin(auth.actor.clone())?)
}

/// Create a tenant.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = NewTenant,
    responses((status = 201, body = Tenant), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_tenant(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(input): JsonBody<NewTenant>,
) -> ApiResult<Response> {
    let tenant = super::create(&state.store, &sysadmin(&auth)?, state.clock.now(), input).await?;
    Ok(versioned(StatusCode::CREATED, tenant.version, &tenant))
}

/// List tenants.
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(PageParams),
    responses((status = 200, body = Page<Tenant>)), security(("bearer" = [])))]
async fn list_tenants(
    State(state): State<AppState>,
    auth: Authenticated,
    QueryParams(params): QueryParams<PageParams>,
) -> ApiResult<Json<Page<Tenant>>> {
    let sysadmin = sysadmin(&auth)?;
    let limit = pagination::limit(params.limit)?;
    let after = pagination::decode_cursor(params.cursor.as_deref())?;
    let rows = super::list(&state.store, &sysadmin, after, limit).await?;
    Ok(Json(pagination::page(rows, limit, |t| t.id)))
}

/// Get a tenant by slug.
#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants", params(("tenant" = String, Path)),
    responses((status = 200, body = Tenant), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_tenant(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    sysadmin(&auth)?;
    let tenant = super::find(&state.store, &slug).await?.ok_or_else(|| Problem::not_found("tenant"))?;
    Ok(versioned(StatusCode::OK, tenant.version, &tenant))
}

/// Change a tenant's name, external id or status.
#[utoipa::path(patch, path = "/v1/tenants/{tenant}", tag = "tenants", params(("tenant" = String, Path)),
    request_body = TenantPatch,
    responses((status = 200, body = Tenant), (status = 404, body = Problem), (status = 412, body = Problem)),
    security(("bearer" = [])))]
async fn patch_tenant(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(slug): Path<String>,
    IfMatch(if_match): IfMatch,
    JsonBody(patch): JsonBody<TenantPatch>,
) -> ApiResult<Response> {
    let tenant = super::update(&state.store, &sysadmin(&auth)?, state.clock.now(), &slug, if_match, patch).await?;
    Ok(versioned(StatusCode::OK, tenant.version, &tenant))
}
