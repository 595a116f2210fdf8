//! Shared HTTP machinery: the problem type, extractors, pagination and middleware. It never imports a module.

pub mod cookie;
pub mod document;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod pagination;
pub mod ratelimit;
pub mod server;
pub mod state;

pub use error::{Class, Classify, FieldError, Problem};
pub use extract::{
    etag, parse_json, versioned, Authenticated, Home, IfMatch, JsonBody, JsonOrEmpty, Own, PathId, QueryParams, Scoped,
};
pub use pagination::{Page, PageParams};
pub use state::{AppState, Directory};

/// The result type of handlers.
pub type ApiResult<T> = Result<T, Problem>;
