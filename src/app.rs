//! Builds the application state and the router, and serves it.
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::{middleware, Router};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::search::outbox::Indexer;
use crate::search::Backend;
use crate::web::Templates;

/// Largest form body (a proposal's Markdown is at most 100 KB; forms carry little else).
pub const MAX_FORM_BYTES: usize = 512 * 1024;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub templates: Arc<Templates>,
    pub config: Arc<Config>,
    pub search: Backend,
    pub indexer: Arc<Indexer>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Per-client limit on the write API.
    pub write_limiter: Arc<crate::web::limiter::Limiter>,
    /// Per-address limit on the public's subscription requests.
    pub follow_limiter: Arc<crate::web::limiter::Limiter>,
    /// The home page's archive totals, counted at most once a minute.
    pub home_counts: Arc<crate::web::memo::Memo<crate::home::ArchiveCounts>>,
    /// `/readyz`'s probe write, made at most once a second (one caller at a time).
    pub write_probe: Arc<crate::web::memo::Memo<()>>,
    /// Groups concurrent intake pushes into shared transactions.
    pub intake: Arc<crate::proposals::intake::IntakeBatcher>,
    /// Rendered public pages, valid until public content changes.
    pub pages: Arc<crate::web::page_cache::PageCache>,
    /// Signs and checks device cookies.
    pub device_key: Arc<crate::accounts::device::DeviceKey>,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        config: Config,
        search: Backend,
        device_key: crate::accounts::device::DeviceKey,
    ) -> Self {
        let indexer = Indexer::with_lease(
            db.clone(),
            search.clone(),
            config.search_retry_max_secs,
            Duration::from_secs(config.search_lease_secs),
        );
        let (rate, burst) = config.api_rate;
        let pages = Arc::new(crate::web::page_cache::PageCache::new(config.page_cache));
        Self {
            db,
            templates: Arc::new(Templates::new()),
            config: Arc::new(config),
            search,
            indexer,
            metrics: Arc::default(),
            write_limiter: Arc::new(crate::web::limiter::Limiter::new(rate, burst)),
            // Ten an hour from one client address.
            follow_limiter: Arc::new(crate::web::limiter::Limiter::new(10.0 / 3600.0, 10.0)),
            home_counts: Arc::new(crate::web::memo::Memo::new(crate::home::COUNTS_REFRESH)),
            write_probe: Arc::new(crate::web::memo::Memo::new(Duration::from_secs(1))),
            intake: Arc::default(),
            pages,
            device_key: Arc::new(device_key),
        }
    }

    /// Renders a page template into an HTML response.
    pub fn render<S: Serialize>(&self, template: &str, context: S) -> AppResult<Html<String>> {
        Ok(Html(self.templates.render(template, context)?))
    }

    /// Renders a form page: 200, or 400 when it is shown again with an error message.
    pub fn render_form<S: Serialize>(
        &self,
        template: &str,
        context: S,
        error: Option<&str>,
    ) -> AppResult<Response> {
        let status = if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        Ok((status, self.render(template, context)?).into_response())
    }
}

pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The router with `extra` routes under the same layers (tests add a route that panics).
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .merge(extra)
        .merge(crate::home::routes())
        .merge(crate::accounts::routes())
        .merge(crate::workspace::routes())
        .merge(crate::notifications::routes())
        .merge(crate::accounts::admin_routes())
        .merge(crate::sessions::manage_routes())
        .merge(crate::agencies::manage_routes())
        .merge(crate::followup::calendar_routes())
        .merge(crate::followup::actuals_routes())
        .merge(crate::redaction::routes())
        .merge(crate::proposals::work_routes())
        .merge(crate::sessions::routes())
        .merge(crate::corrections::routes())
        .merge(crate::attachments::routes())
        .merge(crate::proposals::routes())
        .merge(crate::agencies::routes())
        .merge(crate::agencies::scorecard_routes())
        .merge(crate::people::routes())
        .merge(crate::documents::routes())
        .merge(crate::search::routes())
        .merge(crate::statistics::routes())
        // Pages cite source documents by name from a copy kept in memory; it follows the content
        // revision (an import on another instance or by the CLI shows at once).
        .route_layer(middleware::from_fn_with_state(state.clone(), fresh_sources))
        .merge(
            crate::api::write_routes()
                .route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    crate::api::idempotency::replay_or_run,
                ))
                .route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    crate::api::rate_limit::limit_writes,
                )),
        )
        // What other systems read: validators, caching and CORS (`web::conditional`).
        .merge(
            crate::api::read_routes()
                .merge(crate::opendata::public_routes())
                .route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    crate::web::conditional::public_read,
                )),
        )
        .merge(
            crate::search::api_routes()
                .merge(crate::api::log_routes())
                .merge(crate::opendata::search_routes())
                .route_layer(middleware::from_fn(crate::web::conditional::cors)),
        )
        .merge(crate::metrics::routes())
        .merge(crate::opendata::routes())
        .route(
            "/static/{name}",
            axum::routing::get(crate::web::assets::serve),
        )
        .route(
            "/favicon.ico",
            axum::routing::get(crate::web::assets::favicon),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .fallback(|| async { AppError::NotFound })
        // Inside the error renderer: a panicking handler becomes the ordinary 500 page with its
        // request id (and a log line), never a dropped connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        // Inside the error renderer too: a request that runs too long gets the error page (503,
        // see `AppError::Timeout`), not an empty response.
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::web::errors::render_errors,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::web::hardening::add_security_headers,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    AppError::Internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// Connects, migrates, seeds an empty database (when configured) and returns the state with the
/// configured search backend.
pub async fn prepare(config: Config) -> anyhow::Result<AppState> {
    let backend = crate::search::backend_from(&config).await?;
    prepare_with_backend(config, backend).await
}

/// As [`prepare`], with a given search backend (tests wrap one to simulate outages).
pub async fn prepare_with_backend(config: Config, backend: Backend) -> anyhow::Result<AppState> {
    let db = crate::db::connect(&config).await?;
    crate::db::migrate(&db).await?;
    if config.seed_on_empty && crate::seed::is_empty(&db).await? {
        let report = crate::seed::run(&db).await?;
        tracing::info!(%report, "seeded an empty database");
    }
    let device_key = crate::accounts::device::load_or_create_key(&db).await?;
    let state = AppState::new(db, config, backend, device_key);
    state.templates.sources.refresh(&state.db).await?;
    Ok(state)
}

/// Starts the outbox worker; an empty index is first rebuilt from the database.
/// Returns the sender that stops it (send `true`) and the task to await for its final flush.
pub fn start_indexer(
    state: &AppState,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Attachments' text reaches the index through the outbox, after this worker extracted it.
    tokio::spawn(crate::attachments::worker::run(
        state.db.clone(),
        state.config.clone(),
        stopped.clone(),
    ));
    let indexer = state.indexer.clone();
    let task = tokio::spawn(async move {
        if indexer.backend().health().await.documents == 0 {
            match indexer.reindex(&|_, _| {}).await {
                Ok(n) if n > 0 => {
                    tracing::info!(documents = n, "search index rebuilt from the database")
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "initial reindex failed; the outbox will retry")
                }
            }
        }
        indexer.run(stopped).await;
    });
    (stop, task)
}

/// Brings the cited documents' names up to the current content revision before a page renders.
async fn fresh_sources(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> Result<Response, AppError> {
    if request.method() == axum::http::Method::GET {
        state.templates.sources.refresh(&state.db).await?;
    }
    Ok(next.run(request).await)
}

/// Serves until Ctrl-C or SIGTERM: stops accepting, lets in-flight requests finish, then flushes
/// the search outbox.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let addr = state.config.listen_addr;
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(
        "listening on http://{} (search: {})",
        listener.local_addr()?,
        state.search.name()
    );
    let (stop_indexer, indexer) = start_indexer(&state);
    let retention = tokio::spawn(purge_daily(
        state.db.clone(),
        state.config.personal_data_retention_days,
    ));
    let (stop_mail, mail) = start_mail(&state)?;
    let daily_mail = tokio::spawn(crate::notifications::run_daily(
        state.db.clone(),
        state.config.clone(),
        state.search.clone(),
    ));
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    retention.abort();
    daily_mail.abort();
    let _ = stop_mail.send(true);
    if let Some(mail) = mail {
        let _ = mail.await;
    }
    let _ = stop_indexer.send(true);
    let _ = indexer.await;
    Ok(())
}

/// Starts the mail sender when `TINGSHANG_SMTP_URL` is set; says once that mail is off when not.
pub fn start_mail(
    state: &AppState,
) -> anyhow::Result<(
    tokio::sync::watch::Sender<bool>,
    Option<tokio::task::JoinHandle<()>>,
)> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let Some(url) = &state.config.smtp_url else {
        tracing::info!(
            "TINGSHANG_SMTP_URL is not set: no mail is sent; notifications stay in the app"
        );
        return Ok((stop, None));
    };
    let sender = crate::mail::sender::Sender::new(state.db.clone(), url, &state.config.mail_from)?
        .with_lease(Duration::from_secs(state.config.mail_lease_secs));
    tracing::info!(from = %state.config.mail_from, "sending mail through the configured SMTP server");
    let task = tokio::spawn(sender.run(Duration::from_secs(2), stopped));
    Ok((stop, Some(task)))
}

/// Removes personal data past its retention period now and then once a day (`privacy::retention`);
/// a failed run is logged and retried the next day.
async fn purge_daily(db: sea_orm::DatabaseConnection, days: i64) {
    let mut every_day = tokio::time::interval(std::time::Duration::from_secs(24 * 60 * 60));
    loop {
        every_day.tick().await;
        match crate::privacy::retention::purge(&db, chrono::Utc::now(), days).await {
            Ok(purged) => tracing::info!(?purged, days, "personal data past retention removed"),
            Err(err) => tracing::warn!(error = %err, "personal data retention run failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
