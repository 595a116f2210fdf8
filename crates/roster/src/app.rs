//! Wire the modules together: the router with every module's routes, the operational endpoints and the middleware.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_scalar::{Scalar, Servable};

use crate::clock::Clock;
use crate::config::Config;
use crate::http::state::BoxFuture;
use crate::http::{AppState, Directory, Problem};
use crate::migrate::{Migration, Migrator};
use crate::principal::{Principal, TenantRef};
use crate::store::{Backend, Store, StoreError};
use crate::{audit, auth, clients, contributions, groups, permissions, tenants, training, users};

/// Every migration of every module, in version order.
pub fn migrations() -> Vec<Migration> {
    let mut all: Vec<Migration> = [
        tenants::MIGRATIONS,
        audit::MIGRATIONS,
        users::MIGRATIONS,
        auth::MIGRATIONS,
        permissions::MIGRATIONS,
        contributions::MIGRATIONS,
        clients::MIGRATIONS,
        training::MIGRATIONS,
        groups::MIGRATIONS,
    ]
    .concat();
    all.sort_by_key(|m| m.version);
    all
}

#[derive(OpenApi)]
#[openapi(
    info(title = "roster", description = "Multi-tenant user directory"),
    modifiers(&BearerAuth),
    // enums that only query parameters name: the routes' own schemas do not bring them in
    components(schemas(Problem, crate::training::model::Completion, crate::contributions::TestRole))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// How long a tenant looked up by slug is reused: a status change reaches other processes within this time.
const TENANT_CACHE_TTL: Duration = Duration::from_secs(1);

/// Tokens and slugs resolved through the auth and tenants modules. Tenants, which change rarely and are read by every
/// request, are kept for [`TENANT_CACHE_TTL`]; verified API keys for [`auth::VERIFIED_KEY_TTL`], unless this process
/// revokes one or changes a tenant's status meanwhile (then at once); sessions are read on every request.
struct ModuleDirectory {
    store: Store,
    clock: Arc<dyn Clock>,
    tenants: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, TenantRef)>>,
    keys: auth::VerifiedKeys,
}

impl ModuleDirectory {
    fn cached(&self, slug: &str) -> Option<TenantRef> {
        let cache = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(slug).filter(|(at, _)| at.elapsed() < TENANT_CACHE_TTL).map(|(_, t)| t.clone())
    }

    fn remember(&self, tenant: &TenantRef) {
        let mut cache = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 10_000 {
            cache.retain(|_, (at, _)| at.elapsed() < TENANT_CACHE_TTL);
        }
        cache.insert(tenant.slug.clone(), (std::time::Instant::now(), tenant.clone()));
    }
}

impl Directory for ModuleDirectory {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<Principal>, StoreError>> {
        Box::pin(auth::authenticate(&self.store, &self.keys, token, self.clock.now()))
    }

    fn tenant<'a>(&'a self, slug: &'a str) -> BoxFuture<'a, Result<Option<TenantRef>, StoreError>> {
        Box::pin(async move {
            if let Some(tenant) = self.cached(slug) {
                return Ok(Some(tenant));
            }
            // Only tenants that exist are remembered: a tenant created a moment ago must be found at once.
            let tenant = tenants::find(&self.store, slug).await?.map(|t| t.as_ref());
            if let Some(tenant) = &tenant {
                self.remember(tenant);
            }
            Ok(tenant)
        })
    }

    fn tenant_by_id(&self, id: uuid::Uuid) -> BoxFuture<'_, Result<Option<TenantRef>, StoreError>> {
        Box::pin(async move { Ok(tenants::find_by_id(&self.store, id).await?.map(|t| t.as_ref())) })
    }
}

fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &buckets)
                .expect("bucket list is not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // A second app in the same process (tests) keeps the first recorder.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The application: state plus router.
pub struct App {
    pub state: AppState,
}

impl App {
    pub fn new(store: Store, config: Config, clock: Arc<dyn Clock>) -> Self {
        let signin_limits = Arc::new(crate::http::ratelimit::SignInLimits::new(
            config.signin_per_address_per_minute,
            config.signin_per_account_per_minute,
        ));
        let client_ip_header = config.client_ip_header.clone();
        let secret_key = crate::secrets::load_or_create(&config).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no secret key: two-factor sign-in is unavailable");
            None
        });
        // every transaction of this server seals its audit entries with the key derived from the secret key (a store
        // already holding that key keeps it, and with it what `audit::check_key` found)
        let key = secret_key.as_ref().map(audit::chain_key);
        let same = matches!((store.chain_key(), &key), (Some(held), Some(key)) if held.bytes() == key.bytes());
        let store = if same { store } else { store.with_chain_key(key) };
        let directory = Arc::new(ModuleDirectory {
            store: store.clone(),
            clock: clock.clone(),
            tenants: Default::default(),
            keys: Default::default(),
        });
        let state = AppState {
            reports: store.clone(),
            store,
            config: Arc::new(config),
            clock,
            directory,
            client_ip_header,
            secret_key,
            signin_limits,
        };
        Self { state }
    }

    /// Send report queries (top contributors, active users, activity timelines, the training leaderboard) to
    /// `reports`, a read replica of the store's database.
    pub fn with_reports(mut self, reports: Store) -> Self {
        self.state.reports = reports;
        self
    }

    /// The module routes with their OpenAPI description.
    fn api() -> OpenApiRouter<AppState> {
        OpenApiRouter::with_openapi(ApiDoc::openapi())
            .merge(tenants::routes::router())
            .merge(users::routes::router())
            .merge(auth::routes::router())
            .merge(permissions::routes::router())
            .merge(audit::routes::router())
            .merge(contributions::routes::router())
            .merge(clients::routes::router())
            .merge(training::routes::router())
            .merge(crate::scim::routes::router())
    }

    /// The OpenAPI document, generated from the route annotations.
    pub fn openapi() -> utoipa::openapi::OpenApi {
        let mut document = Self::api().split_for_parts().1;
        crate::http::document::complete(&mut document);
        document
    }

    /// Every route, with middleware.
    pub fn router(&self) -> Router {
        let (api, mut openapi) = Self::api().split_for_parts();
        crate::http::document::complete(&mut openapi);
        let openapi = Arc::new(openapi);
        let request_id = HeaderName::from_static("x-request-id");
        let served_doc = openapi.clone();
        api.route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics_text))
            .route("/openapi.json", get(move || async move { Json(served_doc.as_ref().clone()) }))
            .merge(Scalar::with_url("/docs", openapi.as_ref().clone()))
            .merge(crate::console::router())
            .fallback(|| async { Problem::not_found("route") })
            .method_not_allowed_fallback(|| async {
                Problem::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method-not-allowed",
                    "Method not allowed",
                    "this route does not answer that method; see /openapi.json",
                )
            })
            .layer(DefaultBodyLimit::max(self.state.config.body_limit_bytes))
            .layer(axum::middleware::from_fn_with_state(self.state.clone(), crate::http::middleware::limit_requests))
            .layer(axum::middleware::from_fn(crate::http::middleware::record_metrics))
            .layer(
                ServiceBuilder::new()
                    .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                    .layer(PropagateRequestIdLayer::new(request_id))
                    .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                    }))
                    .layer(CatchPanicLayer::custom(|_| Problem::internal().into_response())),
            )
            // outermost: whatever answered a SCIM route, it answers in SCIM's words
            .layer(axum::middleware::from_fn(crate::scim::as_scim_errors))
            .with_state(self.state.clone())
    }

    /// What the connections of the health reserve are answered by: the health routes, and 503 for anything else.
    fn health_router(&self) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .fallback(|| async {
                Problem::unavailable("the server is at its connection limit; only health checks answer")
            })
            .with_state(self.state.clone())
    }

    /// Serve on `listener` until `shutdown` resolves, then let in-flight requests finish.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        prometheus();
        let limits = crate::http::server::ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.state.config.header_read_timeout_seconds),
            max_connections: self.state.config.max_connections,
            max_connections_per_address: self.state.config.max_connections_per_address,
        };
        let checkpoints = tokio::spawn(log_checkpoints(self.state.clone()));
        let served = crate::http::server::serve(listener, self.router(), self.health_router(), limits, shutdown).await;
        checkpoints.abort();
        served
    }
}

/// Write every tenant's audit checkpoint to the log on a schedule, when its chain moved: a record outside the
/// database that a later `roster audit verify --checkpoint` holds the chain to (a cut-off tail shows).
async fn log_checkpoints(state: AppState) {
    let minutes = state.config.audit_checkpoint_minutes;
    if minutes == 0 {
        return;
    }
    let operator = crate::principal::Sysadmin::operator_unchecked(crate::principal::Actor::system());
    let mut logged: std::collections::HashMap<uuid::Uuid, i64> = Default::default();
    let mut ticks = tokio::time::interval(Duration::from_secs(minutes * 60));
    loop {
        ticks.tick().await;
        match audit::checkpoints(&state.store, &operator, state.clock.now()).await {
            Ok(all) => {
                let moved: Vec<_> = all.into_iter().filter(|c| logged.get(&c.tenant_id) != Some(&c.entries)).collect();
                for c in moved {
                    tracing::info!(target: "roster::audit::checkpoint", tenant_id = %c.tenant_id, entries = c.entries,
                        head_mac = %c.head_mac, at = %audit::timestamp(c.at), "audit checkpoint");
                    logged.insert(c.tenant_id, c.entries);
                }
            }
            Err(e) => tracing::warn!(error = %e, "audit checkpoint skipped"),
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let check = async {
        let migrations = migrations();
        let migrator = Migrator::new(&state.store, &migrations);
        migrator.is_current().await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(true)) => {
            let durability = match state.store.backend() {
                Backend::Sqlite => state.config.sqlite_synchronous.promise(),
                Backend::Postgres => "postgres: as the server's synchronous_commit and replication settings promise",
            };
            let detail = serde_json::json!({
                "status": "ready", "database": state.store.backend().name(), "durability": durability,
            });
            (StatusCode::OK, axum::Json(detail)).into_response()
        }
        Ok(Ok(false)) => Problem::unavailable("the schema is not at this binary's version").into_response(),
        Ok(Err(e)) => Problem::unavailable(format!("database check failed: {e}")).into_response(),
        Err(_) => Problem::unavailable("the database did not answer within 2 s").into_response(),
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let (size, idle) = state.store.pool_status();
    metrics::gauge!("roster_db_pool_connections").set(size as f64);
    metrics::gauge!("roster_db_pool_idle_connections").set(idle as f64);
    ([("content-type", "text/plain; version=0.0.4")], prometheus().render()).into_response()
}
