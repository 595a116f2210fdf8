//! `/v1/tenants/{tenant}/ingest/…`, `…/contributors/top`, `…/users/active` and a user's records.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::TryStreamExt;
use http_body_util::{BodyDataStream, Limited};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ingest::{self, IngestError, IngestOptions, IngestSummary};
use super::{Activity, ActivityParams, Contributor, Kind, RecordsParams, StoredBug, StoredTest, TopFilter};
use crate::http::{ApiResult, AppState, Page, PathId, Problem, QueryParams, Scoped};
use crate::users::{ActiveFilter, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest_bugs))
        .routes(routes!(ingest_tests))
        .routes(routes!(top_contributors))
        .routes(routes!(active_users))
        .routes(routes!(user_bugs))
        .routes(routes!(user_tests))
        .routes(routes!(user_activity))
}

/// `?strict=&batch_size=` of an ingest.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct IngestParams {
    /// Write nothing if any record is rejected.
    #[serde(default)]
    strict: bool,
    /// Records per transaction at most, 1 to 1,000,000 (default 100,000); a body that stalls commits what arrived.
    #[param(minimum = 1, maximum = 1_000_000)]
    batch_size: Option<usize>,
}

/// `{"top": [...]}` → `{"items": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Contributors {
    items: Vec<Contributor>,
}

/// Ingest bug reports (admin): any export shape, streamed; `{records, bugs, users, rejected}`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/ingest/bugs", tag = "contributions",
    params(("tenant" = String, Path), IngestParams), request_body(description = "An export in any shape of the platform (`{\"bugs\": [...]}`, a list, one record), or NDJSON; an empty body is zero records",
        content((Option<serde_json::Value> = "application/json"), (Option<String> = "application/x-ndjson"))),
    responses((status = 200, body = IngestSummary), (status = 400, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn ingest_bugs(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(params): QueryParams<IngestParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    run_ingest(state, scope, Kind::Bugs, params, headers, body).await
}

/// Ingest test cycles (admin): any export shape, streamed; `{records, tests, users, rejected}`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/ingest/tests", tag = "contributions",
    params(("tenant" = String, Path), IngestParams), request_body(description = "An export in any shape of the platform (`{\"bugs\": [...]}`, a list, one record), or NDJSON; an empty body is zero records",
        content((Option<serde_json::Value> = "application/json"), (Option<String> = "application/x-ndjson"))),
    responses((status = 200, body = IngestSummary), (status = 400, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn ingest_tests(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(params): QueryParams<IngestParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    run_ingest(state, scope, Kind::Tests, params, headers, body).await
}

async fn run_ingest(
    state: AppState,
    scope: crate::principal::TenantScope,
    kind: Kind,
    params: IngestParams,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let admin = scope.admin()?;
    let batch_size = match params.batch_size {
        None => ingest::DEFAULT_BATCH_SIZE,
        Some(n) if (1..=ingest::MAX_BATCH_SIZE).contains(&n) => n,
        Some(_) => {
            return Err(Problem::invalid("batch_size", format!("must be between 1 and {}", ingest::MAX_BATCH_SIZE)))
        }
    };
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let essence = content_type.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim();
        if !matches!(essence, "application/json" | "application/x-ndjson" | "application/jsonl" | "text/plain" | "") {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send application/json or application/x-ndjson",
            ));
        }
    }
    let limit = state.config.ingest_body_limit_bytes;
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("an ingest body may be at most {limit} bytes; send larger exports in parts or use `roster ingest`"),
        )
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }

    // The body goes to a blocking reader thread as it arrives; the limit stops a body without a length mid-stream.
    let over_limit = Arc::new(AtomicBool::new(false));
    let timed_out = Arc::new(AtomicBool::new(false));
    let (flag, late) = (over_limit.clone(), timed_out.clone());
    let stream = BodyDataStream::new(Limited::new(body, limit)).map_err(move |e| {
        if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            flag.store(true, Ordering::Relaxed);
        }
        if crate::http::middleware::BodyTimedOut::caused(e.as_ref()) {
            late.store(true, Ordering::Relaxed);
        }
        std::io::Error::other(e)
    });
    let input = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let (sender, receiver, chunk) = ingest::channel(batch_size);
    let reading = tokio::task::spawn_blocking(move || {
        ingest::read_into(std::io::BufReader::new(input), kind, chunk, None, sender)
    });
    let options = IngestOptions { kind, strict: params.strict, batch_size };
    let result = ingest::ingest(&state.store, admin, state.clock.now(), options, receiver, |_| {}).await;
    let _ = reading.await;
    match result {
        Ok(report) if report.rolled_back => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "records-rejected",
            "Records rejected",
            format!("strict: nothing was written because {} record(s) were rejected", report.rejected.len()),
        )
        .with_extension("report", serde_json::to_value(&report).unwrap_or_default())),
        Ok(report) => Ok((StatusCode::OK, Json(report)).into_response()),
        Err(failure) => {
            let landed = if failure.report.rolled_back {
                "nothing was written".to_owned()
            } else {
                format!("{} records before it were written", failure.report.counts.total())
            };
            let problem = match failure.error {
                IngestError::Read(_) if over_limit.load(Ordering::Relaxed) => {
                    // a body without a length is only found too large as it arrives: say what landed before
                    let mut problem = too_large();
                    problem.detail = format!("{}; {landed}", problem.detail);
                    problem
                }
                IngestError::Read(_) if timed_out.load(Ordering::Relaxed) => {
                    let mut problem = Problem::request_timeout();
                    problem.detail = format!("the body paused for too long; {landed}");
                    problem
                }
                IngestError::Read(e) => Problem::bad_request(format!("{e}; {landed}")),
                IngestError::Store(e) => return Err(e.into()),
            };
            Err(problem.with_extension("report", serde_json::to_value(&failure.report).unwrap_or_default()))
        }
    }
}

/// Top contributors (admin): testers by bugs reported, customers by test cycles created; ties by username.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/contributors/top", tag = "contributions",
    params(("tenant" = String, Path), TopFilter),
    responses((status = 200, body = Contributors), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn top_contributors(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(filter): QueryParams<TopFilter>,
) -> ApiResult<Json<Contributors>> {
    let items = super::top_contributors(&state.reports, scope.admin()?, state.clock.now(), &filter).await?;
    Ok(Json(Contributors { items }))
}

/// Users seen within the last `days` (default 30), newest first (admin).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/active", tag = "contributions",
    params(("tenant" = String, Path), ActiveFilter),
    responses((status = 200, body = Page<User>), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn active_users(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    QueryParams(filter): QueryParams<ActiveFilter>,
) -> ApiResult<Json<Page<User>>> {
    Ok(Json(super::active_users(&state.reports, scope.admin()?, state.clock.now(), &filter).await?))
}

/// The bugs a user reported, newest first (admin).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/{id}/bugs", tag = "contributions",
    params(("tenant" = String, Path), ("id" = Uuid, Path), RecordsParams),
    responses((status = 200, body = Page<StoredBug>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn user_bugs(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    QueryParams(params): QueryParams<RecordsParams>,
) -> ApiResult<Json<Page<StoredBug>>> {
    Ok(Json(super::bugs_of(&state.store, scope.admin()?, id, &params).await?))
}

/// The test cycles a user created (`?role=created`, default) or submitted, newest first (admin).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/{id}/tests", tag = "contributions",
    params(("tenant" = String, Path), ("id" = Uuid, Path), RecordsParams),
    responses((status = 200, body = Page<StoredTest>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn user_tests(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    QueryParams(params): QueryParams<RecordsParams>,
) -> ApiResult<Json<Page<StoredTest>>> {
    Ok(Json(super::tests_of(&state.store, scope.admin()?, id, &params).await?))
}

/// A user's bugs and test cycles per day or week of the last `days` (admin).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users/{id}/activity", tag = "contributions",
    params(("tenant" = String, Path), ("id" = Uuid, Path), ActivityParams),
    responses((status = 200, body = Activity), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn user_activity(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    PathId(id): PathId,
    QueryParams(params): QueryParams<ActivityParams>,
) -> ApiResult<Json<Activity>> {
    Ok(Json(super::activity(&state.reports, scope.admin()?, state.clock.now(), id, &params).await?))
}
