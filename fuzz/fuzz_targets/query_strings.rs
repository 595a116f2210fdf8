//! Every query string of every GET route, through the real router on a real SQLite database: the routes come from
//! the OpenAPI document (so a new route is fuzzed without being listed here), the query from the fuzzer. Never a
//! panic, never a 5xx: a parameter that does not parse is the caller's mistake (a 4xx naming it).
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use libfuzzer_sys::fuzz_target;
use roster::clock::{Clock, SystemClock};
use roster::config::Config;
use roster::principal::Role;
use roster::testing::TestDb;
use tower::ServiceExt;

struct World {
    runtime: tokio::runtime::Runtime,
    router: Router,
    key: String,
    paths: Vec<String>,
    _db: TestDb,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (router, key, paths, db) = runtime.block_on(async {
            let db = TestDb::sqlite().await;
            let config = Config { secret_key: Some("cm9zdGVyIGZ1enogdGFyZ2V0czogYSBmaXhlZCBrZXkuLg==".into()), ..Config::default() };
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let app = roster::App::new(db.store.clone(), config.clone(), clock.clone());
            let store = app.state.store.clone();
            // a tenant and a sysadmin key, without the bootstrap's sysadmin: no password is hashed (Argon2 under the
            // fuzzer's instrumentation takes seconds, and the inputs never sign in)
            let scope = roster::testing::operator_in_new_tenant(&store, "default", clock.now()).await;
            let (_, key) =
                roster::auth::create_api_key(&store, &scope, clock.now(), "fuzz", Role::Sysadmin, None).await.unwrap();
            let router = app.router();
            let post = |path: &str, body: serde_json::Value| {
                let request = Request::post(path)
                    .header("authorization", format!("Bearer {key}"))
                    .header("content-type", "application/json")
                    .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))))
                    .body(Body::from(body.to_string()))
                    .unwrap();
                router.clone().oneshot(request)
            };
            post("/v1/tenants", serde_json::json!({"slug": "acme", "name": "Acme"})).await.unwrap();
            let created = post("/v1/tenants/acme/users", serde_json::json!({"email": "ana@example.com", "username": "ana"}))
                .await
                .unwrap();
            let bytes = axum::body::to_bytes(created.into_body(), 1 << 20).await.unwrap();
            let user: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let id = user["id"].as_str().unwrap().to_owned();
            let document = serde_json::to_value(roster::App::openapi()).unwrap();
            let mut paths: Vec<String> = document["paths"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, item)| item.get("get").is_some())
                .map(|(path, _)| {
                    path.replace("{tenant}", "acme")
                        .replace("{agent}", "pdf_processing")
                        .replace("{email}", "ana@example.com")
                        .replace("{username}", "ana")
                        .split('/')
                        .map(|segment| if segment.starts_with('{') { id.as_str() } else { segment })
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .collect();
            paths.sort();
            (router, key, paths, db)
        });
        World { runtime, router, key, paths, _db: db }
    })
}

/// Bytes a query may carry as they are; any other byte is percent-encoded, so the fuzzer still reaches `%`-escapes
/// of its own making.
fn query_of(bytes: &[u8]) -> String {
    let mut query = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) {
            query.push(char::from(b));
        } else {
            query.push_str(&format!("%{b:02X}"));
        }
    }
    query
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let Some((&route, rest)) = data.split_first() else { return };
    let path = &world.paths[usize::from(route) % world.paths.len()];
    let uri = format!("{path}?{}", query_of(rest));
    let Ok(request) = Request::get(&uri)
        .header("authorization", format!("Bearer {}", world.key))
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))))
        .body(Body::empty())
    else {
        return;
    };
    let response = world.runtime.block_on(world.router.clone().oneshot(request)).unwrap();
    let status = response.status();
    assert!(!status.is_server_error(), "GET {uri}: {status}");
});
