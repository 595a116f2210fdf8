//! The admin console's session cookie and its CSRF token.
//!
//! A browser signed in to the console carries its session token in an `HttpOnly`, `SameSite=Strict` cookie (`Secure`
//! and `__Host-` prefixed when the server is reached over TLS). The cookie authenticates `/v1/…` and `/console/…`
//! requests only, never SCIM, and only when the request has no `Authorization` header. Every request that can change
//! something (any method but GET, HEAD and OPTIONS) must also send `X-CSRF-Token`: a value derived from the session
//! token, which only the console's own script can read (from `GET /console/session`), and must not come from
//! another site (`Sec-Fetch-Site`). The cookie is never the whole credential for a write.

use axum::http::header::{self, HeaderMap};
use axum::http::{HeaderValue, Method};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::Problem;

/// The cookie's name over plain HTTP.
pub const PLAIN_NAME: &str = "roster_console";
/// The cookie's name over TLS: the `__Host-` prefix makes the browser refuse it unless it is `Secure`, set by this
/// host (no `Domain`) for the whole site (`Path=/`).
pub const SECURE_NAME: &str = "__Host-roster_console";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether cookies are marked `Secure`: the server is reached at an `https://` public URL.
pub fn secure(public_url: Option<&str>) -> bool {
    public_url.is_some_and(|url| url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")))
}

fn name(secure: bool) -> &'static str {
    if secure {
        SECURE_NAME
    } else {
        PLAIN_NAME
    }
}

/// The CSRF token of a session token: a one-way function of it, so it is known to whoever holds the session (the
/// console, which reads it from `GET /console/session`) and to nobody else, and it never reveals the session token.
pub fn csrf_token(session_token: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"roster console csrf\0");
    hash.update(session_token.as_bytes());
    URL_SAFE_NO_PAD.encode(hash.finalize())
}

/// The `Set-Cookie` value that carries a new session to the browser. No `Max-Age`: the cookie ends with the browser
/// session, and the server ends the session itself when it expires or is revoked.
pub fn set(session_token: &str, secure: bool) -> HeaderValue {
    let cookie = cookie::Cookie::build((name(secure), session_token.to_owned()))
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a session token is URL-safe text")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear(secure: bool) -> HeaderValue {
    let cookie = cookie::Cookie::build((name(secure), ""))
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("an empty cookie is valid header text")
}

/// The session token in the request's console cookie, if it has one.
pub fn session_token(headers: &HeaderMap, secure: bool) -> Option<String> {
    let wanted = name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == wanted && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

/// Whether the cookie may authenticate a request to this path: the JSON API and the console's own routes.
pub fn authenticates(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/console/")
}

/// For a request authenticated by the cookie: refuse a state-changing one that lacks the session's CSRF token or
/// comes from another site.
pub fn check_csrf(method: &Method, headers: &HeaderMap, session_token: &str) -> Result<(), Problem> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).unwrap_or("same-origin");
    if !matches!(site, "same-origin" | "none") {
        return Err(Problem::forbidden("the console session does not accept requests from other sites"));
    }
    let expected = Sha256::digest(csrf_token(session_token).as_bytes());
    let sent = headers.get(CSRF_HEADER).map(|v| Sha256::digest(v.as_bytes()));
    // the comparison is of hashes, so its time tells nothing about the token
    if sent.is_none_or(|sent| sent != expected) {
        return Err(Problem::forbidden(
            "a request signed in by the console cookie must send the session's X-CSRF-Token header",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_tls() {
        let plain = set("tok", false).to_str().unwrap().to_owned();
        assert!(plain.starts_with("roster_console=tok"), "{plain}");
        for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(plain.contains(part), "{plain} lacks {part}");
        }
        assert!(!plain.contains("Secure"), "{plain}");
        let tls = set("tok", true).to_str().unwrap().to_owned();
        assert!(tls.starts_with("__Host-roster_console=tok") && tls.contains("Secure"), "{tls}");
        assert!(!tls.contains("Domain"), "a __Host- cookie has no Domain: {tls}");
        assert!(clear(false).to_str().unwrap().contains("Max-Age=0"));
        assert!(secure(Some("HTTPS://id.example.com")) && !secure(Some("http://id.example.com")) && !secure(None));
    }

    #[test]
    fn the_token_is_read_from_its_own_cookie_only() {
        let h = headers(&[("cookie", "a=1; roster_console=tok; b=2")]);
        assert_eq!(session_token(&h, false).as_deref(), Some("tok"));
        assert_eq!(session_token(&h, true), None, "over TLS only the __Host- cookie counts");
        let h = headers(&[("cookie", "x=1"), ("cookie", "__Host-roster_console=t2")]);
        assert_eq!(session_token(&h, true).as_deref(), Some("t2"));
        assert_eq!(session_token(&headers(&[("cookie", "roster_console=")]), false), None);
        assert_eq!(session_token(&headers(&[("cookie", "garbage;;;=")]), false), None);
    }

    #[test]
    fn writes_need_the_csrf_token_of_the_same_session_from_the_same_site() {
        let token = "session-token";
        let csrf = csrf_token(token);
        assert_ne!(csrf, csrf_token("another-session"));
        assert!(!csrf.contains(token));
        assert!(check_csrf(&Method::GET, &headers(&[]), token).is_ok(), "reads need none");
        assert_eq!(check_csrf(&Method::POST, &headers(&[]), token).unwrap_err().status, 403);
        let wrong = headers(&[(CSRF_HEADER, &csrf_token("another-session"))]);
        assert_eq!(check_csrf(&Method::DELETE, &wrong, token).unwrap_err().status, 403);
        assert!(check_csrf(&Method::PATCH, &headers(&[(CSRF_HEADER, &csrf)]), token).is_ok());
        let cross = headers(&[(CSRF_HEADER, &csrf), ("sec-fetch-site", "cross-site")]);
        assert_eq!(check_csrf(&Method::POST, &cross, token).unwrap_err().status, 403);
        let sibling = headers(&[(CSRF_HEADER, &csrf), ("sec-fetch-site", "same-site")]);
        assert_eq!(check_csrf(&Method::POST, &sibling, token).unwrap_err().status, 403);
        assert!(check_csrf(&Method::PUT, &headers(&[(CSRF_HEADER, &csrf), ("sec-fetch-site", "same-origin")]), token)
            .is_ok());
    }

    #[test]
    fn only_the_api_and_the_console_take_the_cookie() {
        assert!(authenticates("/v1/tenants/acme/users") && authenticates("/console/session"));
        assert!(!authenticates("/scim/v2/tenants/acme/Users") && !authenticates("/metrics"));
    }
}
