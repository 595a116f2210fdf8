//! The console's files, compiled into the binary: no file system, no CDN, the same console offline.

use std::sync::LazyLock;

use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::http::Problem;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset { name: $name, content_type: $type, body: include_bytes!(concat!("assets/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("ui.js", JS),
    asset!("charts.js", JS),
    asset!("pages.js", JS),
];

/// Each file's entity tag: a hash of its bytes, so a browser asks again only when a new binary changed the file.
static TAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS.iter().map(|a| format!("\"{}\"", URL_SAFE_NO_PAD.encode(&Sha256::digest(a.body)[..12]))).collect()
});

/// The named file, or 304 when the browser's copy is current, or 404.
pub fn answer(name: &str, request: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return Problem::not_found("console file").into_response();
    };
    let asset = &ASSETS[index];
    let tag = &TAGS[index];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_str(tag).expect("base64 in quotes"));
    // always asked again, answered 304 while unchanged: an upgrade never leaves a stale script in a browser
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_names_is_embedded() {
        let page = std::str::from_utf8(ASSETS[0].body).unwrap();
        for asset in ASSETS {
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
        }
        for script in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = std::str::from_utf8(script.body).unwrap();
            for import in text.split("from \"./").skip(1) {
                let file = import.split('"').next().unwrap();
                assert!(ASSETS.iter().any(|a| a.name == file), "{} imports {file}, which is not embedded", script.name);
            }
            assert!(!text.contains("innerHTML"), "{}: text from the API is never parsed as HTML", script.name);
        }
        assert!(page.contains("/console/assets/app.js") && page.contains("/console/assets/console.css"));
        assert!(!page.contains("<script>") && !page.contains(" style="), "the policy forbids inline script and style");
    }

    #[test]
    fn an_unchanged_file_is_not_sent_again() {
        let first = answer("app.js", &HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers().get(header::ETAG).unwrap().clone();
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(answer("app.js", &request).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(answer("../Cargo.toml", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
    }
}
