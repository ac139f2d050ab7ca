//! The HTTP edge of vanban: Vietnamese pages, the JSON API, sessions and CSRF, health and
//! metrics. It knows nothing of SQL: it holds an `Arc<dyn Store>` and maps errors to HTTP in
//! one place ([`error`]).

#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod bulk;
mod cpu;
pub mod drafting;
pub mod error;
pub mod exchange;
pub mod fetch;
pub mod history;
pub mod incoming;
pub mod issuing;
pub mod mail;
pub mod notify;
pub mod pages;
pub mod scan;
pub mod signing;
mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use vanban_store::{BlobStore, Store};

use crate::error::{ApiError, AppError, PageError};

/// Settings of the HTTP server (the CLI fills them from its layered configuration).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    pub session_ttl: chrono::Duration,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest uploaded file (drafts in DOCX/ODT), in bytes.
    pub max_upload_bytes: usize,
    /// A layout template to use instead of the shipped one (an agency's adjusted copy of
    /// crates/vanban-render/templates/decree30.typ), read at the first render.
    pub template_file: Option<std::path::PathBuf>,
    /// Failed logins in a row that lock an account.
    pub login_lock_after: i32,
    pub login_lock_for: chrono::Duration,
    /// Wait after a failed login, multiplied by the failures in a row (up to 5).
    pub login_failure_delay: Duration,
    /// Seals the keys of the instance's certification authority at rest (configure it; without
    /// one a development passphrase is used and a warning logged).
    pub pki_passphrase: Option<String>,
    /// The address relying parties reach this instance at (for CRL, OCSP and CA URLs in
    /// certificates), e.g. `https://vanban.binhan.gov.vn`.
    pub public_url: Option<String>,
    /// Extra trust anchors (PEM files): the national root CA, public CAs.
    pub trust_anchor_files: Vec<std::path::PathBuf>,
    /// The name the instance's CA carries.
    pub instance_name: String,
    /// An RFC 3161 timestamp authority to use instead of the instance's own (a licensed TSA).
    pub tsa_url: Option<String>,
    /// The SMTP server notification e-mails go through; without one, no e-mail is sent.
    pub smtp: Option<crate::mail::SmtpConfig>,
    /// The axis this instance exchanges edXML packages with; without one, documents for
    /// agencies outside the instance wait in the outbox.
    pub exchange: Option<crate::exchange::ExchangeConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            secure_cookies: false,
            session_ttl: chrono::Duration::hours(10),
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 25 * 1024 * 1024,
            template_file: None,
            login_lock_after: 5,
            login_lock_for: chrono::Duration::minutes(15),
            login_failure_delay: Duration::from_millis(300),
            pki_passphrase: None,
            public_url: None,
            trust_anchor_files: Vec::new(),
            instance_name: "vanban".to_owned(),
            tsa_url: None,
            smtp: None,
            exchange: None,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub blobs: BlobStore,
    pub config: Arc<ServerConfig>,
    /// The document renderer, loaded (fonts, template) on first use and kept.
    renderer: Arc<std::sync::OnceLock<Result<Arc<vanban_render::Renderer>, String>>>,
    /// The instance's certification authority, loaded (or created) on first use.
    pki: Arc<tokio::sync::OnceCell<Arc<signing::Pki>>>,
    /// Agency keys unlocked by a clerk's PIN, and decoded seal images.
    keys: Arc<issuing::KeyCache>,
    /// CPU-bound work (signing, validating): one thread per core, at a lower priority.
    cpu: Arc<cpu::CpuPool>,
    /// Wakes the exchange worker's send loop when a change wrote outbox rows.
    exchange_kick: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, blobs: BlobStore, config: ServerConfig) -> Self {
        AppState {
            store,
            blobs,
            config: Arc::new(config),
            renderer: Arc::default(),
            pki: Arc::default(),
            keys: Arc::default(),
            // One thread per core, and one more: a job may start by reading a blob, which
            // leaves its core idle when the file is not cached, unless another job runs.
            // (Results are stored, with their fsyncs, from the blocking pool.)
            cpu: Arc::new(cpu::CpuPool::new(std::thread::available_parallelism().map_or(2, |n| n.get()) + 1)),
            exchange_kick: Arc::default(),
        }
    }

    /// The exchange worker's wake-up: notified after writes that queue packages.
    pub fn exchange_kick(&self) -> Arc<tokio::sync::Notify> {
        self.exchange_kick.clone()
    }

    /// Runs CPU-bound work off the async threads, on the CPU pool (see [`cpu`]).
    pub async fn cpu<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
        self.cpu.run(f).await.map_err(AppError::Internal)
    }

    /// The shared renderer, or the reason it cannot load (fonts missing).
    pub fn renderer(&self) -> Result<Arc<vanban_render::Renderer>, AppError> {
        let load = || -> Result<Arc<vanban_render::Renderer>, String> {
            let fonts: Vec<std::path::PathBuf> =
                vanban_render::DEFAULT_FONT_DIRS.iter().map(std::path::PathBuf::from).collect();
            let template = match &self.config.template_file {
                Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
                None => vanban_render::DEFAULT_TEMPLATE.to_owned(),
            };
            vanban_render::Renderer::with(&fonts, &template).map(Arc::new).map_err(|e| e.to_string())
        };
        self.renderer.get_or_init(load).clone().map_err(|e| AppError::Render(vanban_render::RenderError::Layout(e)))
    }
}

/// The whole application as one router.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let upload_limit = state.config.max_upload_bytes;
    // Uploads get their own, larger limit; everything else the small one.
    let uploads = Router::new()
        .route("/documents/{id}/upload", axum::routing::post(pages::document_upload))
        .route("/api/v1/documents/{id}/upload", axum::routing::post(api::upload_document))
        .merge(signing::upload_routes())
        .route("/incoming/scan", axum::routing::post(incoming::scan_post))
        .route("/api/v1/incoming/scan", axum::routing::post(incoming::api_scan))
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(RequestBodyLimitLayer::new(upload_limit));
    Router::new()
        .merge(pages::routes())
        .merge(signing::routes())
        .merge(incoming::routes())
        .merge(exchange::routes())
        .nest("/api/v1", api::routes())
        .route("/api/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/metrics", get(telemetry::render))
        .route("/static/{file}", get(static_file))
        .route("/favicon.ico", get(|| async { Redirect::permanent("/static/favicon.svg") }))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .merge(uploads)
        .layer(middleware::from_fn(uniform_errors))
        .layer(middleware::from_fn(telemetry::track))
        .layer(TraceLayer::new_for_http())
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN")))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'self'; form-action 'self'",
            ),
        ))
        .with_state(state)
}

/// Serves the router until the shutdown signal (Ctrl-C or SIGTERM).
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    tokio::spawn(purge_expired_sessions(state.store.clone()));
    tokio::spawn(notify::run_workers(state.clone(), configured_mailer(&state.config)));
    tokio::spawn(exchange::run(state.clone()));
    let backlog = state.clone();
    tokio::spawn(async move {
        if let Err(e) = issuing::report_numbered_backlog(&backlog).await {
            tracing::warn!(error = %e, "could not read the documents left numbered");
        }
    });
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await
}

/// The mailer of the `[smtp]` configuration, or `None` (not configured, or unusable: logged,
/// and the server serves without e-mail).
fn configured_mailer(config: &ServerConfig) -> Option<mail::Mailer> {
    let smtp = config.smtp.clone()?;
    match mail::Mailer::new(smtp) {
        Ok(mailer) => {
            tracing::info!(?mailer, "e-mail notifications are on");
            Some(mailer)
        }
        Err(e) => {
            tracing::error!(code = e.code(), error = %e, "e-mail notifications are off: the SMTP configuration is unusable");
            None
        }
    }
}

/// Deletes expired sessions once an hour (any node may do it; the delete is idempotent).
async fn purge_expired_sessions(store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match store.purge_sessions(chrono::Utc::now()).await {
            Ok(n) if n > 0 => tracing::info!(sessions = n, "purged expired sessions"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Errors produced by layers (a body over the limit) answer in vanban's format too.
async fn uniform_errors(req: Request, next: Next) -> Response {
    use futures::FutureExt as _;
    let is_api = req.uri().path().starts_with("/api/");
    // A handler that panics (a bug) answers 500 with the stable code and the Vietnamese
    // message like any internal error, instead of a connection closed without an answer.
    let resp = match std::panic::AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(resp) => resp,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let e = AppError::Internal(format!("a request handler panicked: {what}"));
            return if is_api { ApiError(e).into_response() } else { PageError(e).into_response() };
        }
    };
    let is_ours = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("application/json") || v.starts_with("text/html")));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_ours {
        return if is_api {
            ApiError(AppError::PayloadTooLarge).into_response()
        } else {
            PageError(AppError::PayloadTooLarge).into_response()
        };
    }
    // An address opened with the wrong method (a form's address typed in): the error page or
    // JSON, with axum's Allow header kept.
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED && !is_ours {
        let allow = resp.headers().get(header::ALLOW).cloned();
        let e = AppError::MethodNotAllowed;
        let mut out = if is_api { ApiError(e).into_response() } else { PageError(e).into_response() };
        if let Some(allow) = allow {
            out.headers_mut().insert(header::ALLOW, allow);
        }
        return out;
    }
    // An extractor's rejection (a query string, a path or a form that does not parse) is
    // axum's plain English text: it becomes `bad_request` with the Vietnamese message, and
    // the page or JSON every other error has. Its text is kept as the technical message.
    let rejected = [StatusCode::BAD_REQUEST, StatusCode::UNSUPPORTED_MEDIA_TYPE, StatusCode::UNPROCESSABLE_ENTITY];
    if rejected.contains(&resp.status()) && !is_ours {
        let body = axum::body::to_bytes(resp.into_body(), 16 * 1024).await.unwrap_or_default();
        let e = AppError::BadRequest(String::from_utf8_lossy(&body).into_owned());
        return if is_api { ApiError(e).into_response() } else { PageError(e).into_response() };
    }
    resp
}

async fn not_found(req: Request) -> Response {
    let e = AppError::Store(vanban_store::StoreError::NotFound);
    if req.uri().path().starts_with("/api/") { ApiError(e).into_response() } else { PageError(e).into_response() }
}

const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// The OpenAPI document, for tests.
pub fn openapi_document() -> &'static str {
    OPENAPI
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => axum::Json(serde_json::json!({ "status": "ok", "backend": state.store.backend() })).into_response(),
        Err(e) => ApiError(e.into()).into_response(),
    }
}

/// Static files are compiled into the binary: one file to deploy.
const STATIC_FILES: &[(&str, &str, &[u8])] = &[
    ("htmx.min.2.0.8.js", "text/javascript", include_bytes!("../static/htmx.min.2.0.8.js")),
    ("vanban.css", "text/css", include_bytes!("../static/vanban.css")),
    ("vanban.js", "text/javascript", include_bytes!("../static/vanban.js")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../static/favicon.svg")),
];

async fn static_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match STATIC_FILES.iter().find(|(name, _, _)| *name == file) {
        Some((name, mime, bytes)) => {
            // A file whose name carries its version is kept a day; vanban's own files change
            // with an upgrade under the same name, so browsers check them again after 5 minutes.
            let cache = if name.contains(char::is_numeric) { "public, max-age=86400" } else { "public, max-age=300" };
            ([(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, cache)], *bytes).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    async fn boom() -> Response {
        panic!("boom: a bug in a handler")
    }

    /// A handler that panics answers 500 with the stable code and the Vietnamese message (JSON
    /// under /api/, an HTML page elsewhere), never the panic's text, and the router goes on.
    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_the_stable_code() {
        let app = Router::new()
            .route("/api/test/boom", get(boom))
            .route("/boom", get(boom))
            .route("/ok", get(|| async { "ok" }))
            .layer(middleware::from_fn(uniform_errors));
        let call = |path: &'static str| {
            let app = app.clone();
            async move {
                let r =
                    app.oneshot(Request::builder().uri(path).body(axum::body::Body::empty()).unwrap()).await.unwrap();
                let status = r.status();
                let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
                (status, String::from_utf8(body.to_vec()).unwrap())
            }
        };
        let (status, body) = call("/api/test/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "internal_error", "{v}");
        assert_eq!(v["error"]["message"], "internal error", "{v}");
        assert_eq!(v["error"]["message_vi"], "Hệ thống gặp lỗi. Vui lòng thử lại sau.", "{v}");
        let (status, html) = call("/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(html.contains("Hệ thống gặp lỗi") && !html.contains("boom"), "{html}");
        assert_eq!(call("/ok").await, (StatusCode::OK, "ok".to_owned()));
    }
}
