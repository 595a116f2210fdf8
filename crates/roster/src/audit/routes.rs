//! `…/audit`, `…/audit/export`, `…/audit/verify` and `/v1/me/audit`.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AuditEntry, AuditQuery, OwnAuditQuery, VerifyReport};
use crate::http::{ApiResult, AppState, Own, Page, Problem, QueryParams, Scoped};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(export)).routes(routes!(verify)).routes(routes!(about_me))
}

/// The tenant's audit log (admin), newest first, in keyset pages; every filter narrows it.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/audit", tag = "audit",
    params(("tenant" = String, Path), AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(query): QueryParams<AuditQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    Ok(Json(super::list(&state.store, scope.admin()?, &query).await?))
}

/// The tenant's audit log (admin) in chain order as NDJSON (one entry per line), streamed: for a SIEM. The same
/// filters as the list, without paging.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/audit/export", tag = "audit",
    params(("tenant" = String, Path), AuditQuery),
    responses((status = 200, content_type = "application/x-ndjson", body = AuditEntry), (status = 403, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn export(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(query): QueryParams<AuditQuery>,
) -> ApiResult<Response> {
    let lines = super::export(&state.store, scope.admin()?, &query)?;
    let lines = futures_util::TryStreamExt::inspect_err(lines, |e| {
        tracing::warn!(error = %e, "audit export stopped: the reader gets a cut-off body");
    });
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines)).into_response())
}

/// `?entries=&head_mac=&at=`: a checkpoint taken earlier (from the log or `roster audit checkpoint`).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct VerifyParams {
    /// The checkpoint's entry count.
    entries: Option<i64>,
    /// The checkpoint's head seal (hex).
    head_mac: Option<String>,
    /// When the checkpoint was taken (RFC 3339), for the report.
    #[serde(default, with = "time::serde::rfc3339::option")]
    at: Option<time::OffsetDateTime>,
}

/// Check the tenant's chain (admin) from its start and name the first entry that does not fit; given a checkpoint,
/// also that nothing was cut off the end since.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/audit/verify", tag = "audit",
    params(("tenant" = String, Path), VerifyParams),
    responses((status = 200, body = VerifyReport), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn verify(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(params): QueryParams<VerifyParams>,
) -> ApiResult<Json<VerifyReport>> {
    let admin = scope.admin()?;
    let checkpoint = match (params.entries, params.head_mac) {
        (None, None) => None,
        (Some(entries), Some(head_mac)) if entries >= 0 && head_mac.len() == 64 => Some(super::Checkpoint {
            tenant_id: admin.tenant_id().uuid(),
            entries,
            head_mac: head_mac.to_ascii_lowercase(),
            at: params.at.unwrap_or_else(|| state.clock.now()),
        }),
        _ => return Err(Problem::invalid("head_mac", "give entries (≥ 0) and head_mac (64 hex digits) together")),
    };
    Ok(Json(super::verify(&state.store, &admin, checkpoint.as_ref()).await?))
}

/// The entries about the signed-in user itself, newest first.
#[utoipa::path(get, path = "/v1/me/audit", tag = "me", params(OwnAuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn about_me(
    State(state): State<AppState>,
    own: Own,
    QueryParams(query): QueryParams<OwnAuditQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    Ok(Json(super::about_self(&state.store, &own.scope, query).await?))
}
