//! RFC 9457 problem+json: the one error type every handler returns, and the one place database errors become answers.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::principal::{Forbidden, NotInTenant};
use crate::store::StoreError;

/// One offending field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// An error answer: `{"type": "urn:roster:problem:<slug>", "title", "status", "detail", "errors"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds to wait before retrying (429).
    #[serde(skip)]
    pub retry_after: Option<u32>,
    /// Members particular to the problem (RFC 9457 extensions), such as the partial report of a stopped ingest.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:roster:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            extensions: None,
        }
    }

    /// Add an extension member.
    pub fn with_extension(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extensions.get_or_insert_default().insert(name.to_owned(), value);
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", "Malformed request", detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("{what} not found"))
    }

    /// A duplicate: the field names what is already taken.
    pub fn conflict(field: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail.clone())
            .with_errors(vec![FieldError::new(field, detail)])
    }

    pub fn stale(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "stale-version", "Stale version", detail)
    }

    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", "Precondition failed", detail)
    }

    /// 422: each offending field with its reason.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        // a problem of the body as a whole names no field
        let said =
            |e: &FieldError| if e.field.is_empty() { e.message.clone() } else { format!("{}: {}", e.field, e.message) };
        let detail = errors.iter().map(said).collect::<Vec<_>>().join("; ");
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", "Validation failed", detail).with_errors(errors)
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// 408: the client did not send its request in time.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            "the request body did not arrive in time; send it again",
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", detail)
    }

    /// The database's disk is full (507): the caller's request was fine and may be sent again once an operator
    /// frees space.
    pub fn storage_full() -> Self {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "storage-full",
            "Insufficient storage",
            "the database's disk is full: nothing was written; reads still work; retry once space is freed",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "an unexpected error occurred; see the server log",
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.status, self.detail)
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// What kind of failure a module's error is. Modules return their own error enums, made of domain words; each says
/// here which kind each variant is ([`Classify`]), and this module alone turns that into an answer.
#[derive(Debug)]
pub enum Class<'a> {
    /// The caller's input: each offending field with its reason (422).
    Invalid(Vec<FieldError>),
    /// Nothing by that name, or nothing the caller may know of (404).
    NotFound(&'static str),
    /// A value that must be unique is taken (409), named by its field.
    Taken(&'static str),
    /// The resource is not in a state that allows the operation (409).
    Conflict(&'static str),
    /// Someone else changed the resource between the caller's read and its write (409).
    Stale,
    /// The version the caller named (`If-Match`) is not the current one (412).
    VersionMismatch,
    /// The caller may not do this (403).
    Forbidden,
    /// The caller did not prove who it is (401), with the problem type's slug and title: sign-in keeps distinct types
    /// for a wrong password and a missing second factor.
    Unauthenticated(&'static str, &'static str),
    /// A request that cannot be made this way at all (400).
    Malformed,
    /// Something the server needs is not there (503), e.g. its secret key.
    Unavailable,
    /// A failure of the server, not the caller's (500); logged here.
    Internal,
    /// The database failed or is unreachable.
    Store(&'a StoreError),
}

/// A module error that knows its [`Class`]; its `Display` is the detail the caller reads.
pub trait Classify: std::fmt::Display {
    fn class(&self) -> Class<'_>;
}

impl<E: Classify> From<E> for Problem {
    fn from(error: E) -> Self {
        let detail = error.to_string();
        match error.class() {
            Class::Invalid(errors) => Problem::validation(errors),
            Class::NotFound(what) => Problem::not_found(what),
            Class::Taken(field) => Problem::conflict(field, detail),
            Class::Conflict(field) => Problem::conflict(field, detail),
            Class::Stale => Problem::stale(detail),
            Class::VersionMismatch => Problem::precondition_failed(detail),
            Class::Forbidden => Problem::forbidden(detail),
            Class::Unauthenticated(slug, title) => Problem::new(StatusCode::UNAUTHORIZED, slug, title, detail),
            Class::Malformed => Problem::bad_request(detail),
            Class::Unavailable => Problem::unavailable(detail),
            Class::Internal => {
                tracing::error!(error = %detail, "internal error");
                Problem::internal()
            }
            Class::Store(e) => Problem::from_store(e),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        Problem::from_store(&e)
    }
}

impl Problem {
    fn from_store(e: &StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            return Problem::unavailable("the database is unavailable; retry shortly");
        }
        match e {
            // A module that expects a particular violation maps it to its field first; this is the fallback.
            StoreError::Unique(what) => Problem::conflict("", format!("already exists ({what})")),
            StoreError::Full(what) => {
                tracing::error!(error = %what, "the database's disk is full: writes fail until space is freed");
                Problem::storage_full()
            }
            StoreError::Refused(what) => {
                tracing::error!(error = %what, "write refused");
                Problem::unavailable(what.clone())
            }
            StoreError::InvalidText(what) => {
                Problem::invalid("", format!("a text holds a character that cannot be stored ({what})"))
            }
            _ => {
                tracing::error!(error = %e, "database error");
                Problem::internal()
            }
        }
    }
}

impl From<FieldError> for Problem {
    fn from(error: FieldError) -> Self {
        Problem::validation(vec![error])
    }
}

impl From<NotInTenant> for Problem {
    fn from(_: NotInTenant) -> Self {
        Problem::not_found("tenant")
    }
}

impl From<Forbidden> for Problem {
    fn from(forbidden: Forbidden) -> Self {
        Problem::forbidden(format!("this operation needs the {} role", forbidden.needs))
    }
}
