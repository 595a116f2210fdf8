//! Request metrics: counts and latency histograms by route and status.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

pub async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("roster_http_requests_total", &labels).increment(1);
    metrics::histogram!("roster_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Routes under `…/ingest/` stream large bodies: they get the ingest limit, and their read timeout is the longest
/// pause between parts rather than the whole body.
fn is_streamed(route: &str) -> bool {
    route.contains("/ingest/")
}

/// What every request must keep to before a handler sees it: a head of bounded size, no NUL character in a path
/// segment or query parameter (422 naming it), and the body limits and read deadline: a declared `Content-Length` over the route's limit is answered 413
/// at once, before anything else reads the request; a body that does not arrive in time fails its read with
/// [`BodyTimedOut`], which extractors answer 408 (and the connection is then closed).
pub async fn limit_requests(
    axum::extract::State(state): axum::extract::State<crate::http::AppState>,
    request: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    if let Some(problem) = oversized_head(&request) {
        let mut response = problem.into_response();
        response.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
        return response;
    }
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    if let Some(field) = nul_in_uri(request.uri(), &route) {
        let problem = super::Problem::invalid(&field, "must not contain a NUL character");
        return problem.into_response();
    }
    let streamed = is_streamed(&route);
    let limit = if streamed { state.config.ingest_body_limit_bytes } else { state.config.body_limit_bytes };
    let headers = request.headers();
    let declared = headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let problem = super::Problem::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("the body may be at most {limit} bytes on this route"),
        );
        let mut response = problem.into_response();
        // the body is not read: the connection cannot carry another request
        response.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
        return response;
    }
    let has_body = declared.is_some_and(|n| n > 0) || headers.contains_key(axum::http::header::TRANSFER_ENCODING);
    let request = if has_body {
        let timeout = std::time::Duration::from_secs(state.config.body_read_timeout_seconds);
        let (parts, body) = request.into_parts();
        Request::from_parts(parts, axum::body::Body::new(DeadlineBody::new(body, timeout, streamed)))
    } else {
        request
    };
    let mut response = next.run(request).await;
    if response.status() == axum::http::StatusCode::REQUEST_TIMEOUT {
        response.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    response
}

/// The longest URI and the most header bytes a request may carry. The HTTP parser itself refuses far larger heads
/// (64 KiB URIs, about 400 KiB of headers) with an empty answer; below that, the caller hears why in problem+json.
pub const MAX_URI_BYTES: usize = 8 * 1024;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

fn oversized_head(request: &Request) -> Option<super::Problem> {
    let uri = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI_BYTES {
        return Some(super::Problem::new(
            axum::http::StatusCode::URI_TOO_LONG,
            "uri-too-long",
            "URI too long",
            format!("the path and query may be at most {MAX_URI_BYTES} bytes"),
        ));
    }
    let headers: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if headers > MAX_HEADER_BYTES {
        return Some(super::Problem::new(
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            "Request header fields too large",
            format!("the headers may be at most {MAX_HEADER_BYTES} bytes in all"),
        ));
    }
    None
}

/// The path parameter (named as the route names it) or query parameter that holds an encoded NUL (`%00`).
fn nul_in_uri(uri: &axum::http::Uri, route: &str) -> Option<String> {
    let has_nul = |text: &str| text.as_bytes().windows(3).any(|w| w == b"%00");
    if has_nul(uri.path()) {
        let template: Vec<&str> = route.split('/').collect();
        let segment = uri.path().split('/').position(has_nul)?;
        let name = template.get(segment).and_then(|t| t.strip_prefix('{')?.strip_suffix('}'));
        return Some(name.unwrap_or("path").to_owned());
    }
    let query = uri.query()?;
    query.split('&').find(|pair| has_nul(pair)).map(|pair| pair.split('=').next().unwrap_or_default().to_owned())
}

/// The client did not send the request body in time.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

impl BodyTimedOut {
    /// Whether `error` (or what caused it) is a body read timeout.
    pub fn caused(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(e) = next {
            if e.is::<BodyTimedOut>() {
                return true;
            }
            next = e.source();
        }
        false
    }
}

/// A request body with a deadline: for the whole body, or (streamed) for each pause between parts. The timer is only
/// armed when the body is not there yet: most bodies arrive with their headers and never need one.
struct DeadlineBody {
    inner: axum::body::Body,
    /// When the wait being timed began: the request's arrival, or (streamed) the last part.
    since: tokio::time::Instant,
    timeout: std::time::Duration,
    streamed: bool,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl DeadlineBody {
    fn new(inner: axum::body::Body, timeout: std::time::Duration, streamed: bool) -> Self {
        Self { inner, since: tokio::time::Instant::now(), timeout, streamed, timer: None }
    }
}

impl hyper::body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future;
        use std::task::Poll;
        let this = &mut *self;
        if let Poll::Ready(frame) = std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            if this.streamed && matches!(frame, Some(Ok(_))) {
                this.since = tokio::time::Instant::now();
                if let Some(timer) = this.timer.as_mut() {
                    timer.as_mut().reset(this.since + this.timeout);
                }
            }
            return Poll::Ready(frame);
        }
        let deadline = this.since + this.timeout;
        let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
