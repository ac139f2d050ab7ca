//! `vanban hub`: a document exchange axis with the API shape of the national axis
//! (standards.md §3.1), for several vanban instances (a province and its districts, several
//! provinces) and any other system that speaks that API.
//!
//! - Each connected system is configured with an id and a secret; every request carries the
//!   axis's HMAC-signed headers (`vanban_axis::auth`).
//! - `/sendEdoc` streams the package to a file (never whole in memory), reads only its routing
//!   header (`vanban_edxml::read_routing`), checks that the sender holds the `From` agency and
//!   that every addressee is in the directory, syncs the file, then commits its row. A resend
//!   with the same idempotency key (or the same bytes) answers with the first `DocID`.
//! - Addressees list (`/getReceivedEdocList`, long-polled with `wait`), fetch (`/getEdoc`) and
//!   acknowledge (`/updateStatus` processing/done/fail) what is theirs; a package's body is
//!   removed once every addressee has said done or fail; its row stays as the record.
//! - The directory: each system registers the agencies it receives for.
//! - Several nodes: hub processes on one PostgreSQL database, with one bodies directory
//!   that each mounts (`bodies_dir`), serve the same systems interchangeably. A signed
//!   request is accepted once across all of them, and an arrival through one node wakes long
//!   polls on every node (see `store`).

#![forbid(unsafe_code)]

pub mod store;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::Digest;
use tokio::io::AsyncWriteExt;
use vanban_axis::{Agency, Answer, ListAnswer, Pickup, auth};

pub use store::{HubStore, PgHubStore, SqliteHubStore};

/// A connected system.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemConfig {
    pub id: String,
    pub secret: String,
    /// The agency codes it may register (receive for, send as): exact codes, or `*.H58` for
    /// every code ending so (a province's). Empty: any code no other system holds.
    #[serde(default)]
    pub agencies: Vec<String>,
}

impl SystemConfig {
    /// Whether this system may hold agency `code`.
    pub fn may_hold(&self, code: &str) -> bool {
        self.agencies.is_empty()
            || self.agencies.iter().any(|p| match p.strip_prefix('*') {
                Some(suffix) => code.ends_with(suffix),
                None => p == code,
            })
    }
}

/// The hub's settings.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Where the SQLite database (by default) and, without `bodies_dir`, the package bodies
    /// live.
    pub data_dir: PathBuf,
    /// Where package bodies live, when not in `data_dir/packages`: for several hub nodes, a
    /// directory every node mounts (uploads are written beside it, in `.uploads/`, so that
    /// moving one into place is a rename).
    pub bodies_dir: Option<PathBuf>,
    pub systems: Vec<SystemConfig>,
    /// Largest package accepted.
    pub max_package_bytes: u64,
    /// How far a request's timestamp may be from the hub's clock.
    pub window_secs: i64,
    /// Longest long-poll of `/getReceivedEdocList`.
    pub max_wait: Duration,
    /// Require every request to sign its path and, when it has one, its body (vanban's client
    /// does). Off for SDK clients that sign only the national axis's headers.
    pub strict_signing: bool,
}

/// How long an upload may take before a starting node takes its temporary file, in a bodies
/// directory other nodes share, for a crash's leftover.
const STALE_UPLOAD: Duration = Duration::from_secs(3600);

/// How often a long poll on a shared hub looks again even without a wake-up (one missed while
/// a node's LISTEN connection was down).
const RECHECK: Duration = Duration::from_secs(2);

impl HubConfig {
    fn bodies(&self) -> PathBuf {
        self.bodies_dir.clone().unwrap_or_else(|| self.data_dir.join("packages"))
    }

    fn uploads(&self) -> PathBuf {
        match &self.bodies_dir {
            Some(dir) => dir.join(".uploads"),
            None => self.data_dir.join("tmp"),
        }
    }

    pub fn new(data_dir: PathBuf, systems: Vec<SystemConfig>) -> Self {
        HubConfig {
            data_dir,
            bodies_dir: None,
            systems,
            max_package_bytes: 64 * 1024 * 1024,
            window_secs: auth::DEFAULT_WINDOW_SECS,
            max_wait: Duration::from_secs(30),
            strict_signing: true,
        }
    }
}

#[derive(Clone)]
pub struct HubState {
    store: Arc<dyn HubStore>,
    config: Arc<HubConfig>,
    secrets: Arc<HashMap<String, String>>,
    systems: Arc<HashMap<String, SystemConfig>>,
    /// Signatures seen within the timestamp window: a captured request is not accepted twice.
    seen: Arc<std::sync::Mutex<HashMap<String, i64>>>,
    /// Wakes a system's long-polls when something arrives for it.
    waiters: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Notify>>>>,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct Metrics {
    received: std::sync::atomic::AtomicU64,
    duplicates: std::sync::atomic::AtomicU64,
    refused: std::sync::atomic::AtomicU64,
    fetched: std::sync::atomic::AtomicU64,
    acked: std::sync::atomic::AtomicU64,
    bytes_in: std::sync::atomic::AtomicU64,
}

impl HubState {
    pub async fn open(config: HubConfig, database_url: Option<&str>) -> Result<HubState, String> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(config.bodies()).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(config.uploads()).map_err(|e| e.to_string())?;
        let store: Arc<dyn HubStore> = match database_url {
            Some(url) if url.starts_with("postgres") => {
                Arc::new(PgHubStore::connect(url).await.map_err(|e| e.to_string())?)
            }
            Some(url) => {
                let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
                Arc::new(SqliteHubStore::open(Path::new(path)).await.map_err(|e| e.to_string())?)
            }
            None => Arc::new(SqliteHubStore::open(&config.data_dir.join("hub.db")).await.map_err(|e| e.to_string())?),
        };
        // Uploads a crash left half-written are of no one. In a bodies directory other nodes
        // share, they may be writing theirs: only those older than any upload takes go then.
        let shared = config.bodies_dir.is_some();
        if let Ok(dir) = std::fs::read_dir(config.uploads()) {
            for e in dir.flatten() {
                let age = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
                if !shared || age.is_some_and(|a| a > STALE_UPLOAD) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let secrets = config.systems.iter().map(|s| (s.id.clone(), s.secret.clone())).collect();
        let systems = config.systems.iter().map(|s| (s.id.clone(), s.clone())).collect();
        let state = HubState {
            store,
            config: Arc::new(config),
            secrets: Arc::new(secrets),
            systems: Arc::new(systems),
            seen: Arc::default(),
            waiters: Arc::default(),
            metrics: Arc::default(),
        };
        // Arrivals announced by other nodes wake this node's long polls.
        let waiters = state.waiters.clone();
        let wake: store::Wake = Arc::new(move |system: &str| {
            let m = waiters.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = m.get(system) {
                n.notify_waiters();
            }
        });
        state.store.watch(wake).await.map_err(|e| e.to_string())?;
        Ok(state)
    }

    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    fn waiter(&self, system: &str) -> Arc<tokio::sync::Notify> {
        let mut m = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(system.to_owned()).or_default().clone()
    }

    fn body_path(&self, id: &str) -> PathBuf {
        self.config.bodies().join(&id[id.len() - 2..]).join(format!("{id}.edxml"))
    }
}

pub fn router(state: HubState) -> Router {
    let limit = state.config.max_package_bytes as usize + 64 * 1024;
    Router::new()
        .route("/sendEdoc", post(send_edoc))
        .route("/getReceivedEdocList", post(received_list))
        .route("/getEdoc", post(get_edoc).get(get_edoc))
        .route("/downloadEdoc", post(get_edoc).get(get_edoc))
        .route("/updateStatus", post(update_status))
        .route("/getSentEdocList", post(sent_list))
        .route("/getAgenciesList", post(agencies_list))
        .route("/getAgenciesListQD20", post(agencies_list))
        .route("/registerAgency", post(register_agency).layer(DefaultBodyLimit::max(64 * 1024)))
        .route("/deleteAgency", post(delete_agency).layer(DefaultBodyLimit::max(64 * 1024)))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: HubState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// A refusal in the axis's answer format.
struct Fail(StatusCode, &'static str, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (self.0, axum::Json(Answer::fail(self.1, self.2))).into_response()
    }
}

impl From<store::HubStoreError> for Fail {
    fn from(e: store::HubStoreError) -> Self {
        match e {
            store::HubStoreError::Conflict(code) => Fail(StatusCode::CONFLICT, code, code.to_owned()),
            store::HubStoreError::Db(e) => {
                tracing::error!(error = %e, "hub database error");
                Fail(StatusCode::SERVICE_UNAVAILABLE, "hub_storage", "the hub cannot reach its database".to_owned())
            }
        }
    }
}

fn internal(e: impl std::fmt::Display) -> Fail {
    tracing::error!(error = %e, "hub error");
    Fail(StatusCode::INTERNAL_SERVER_ERROR, "hub_internal", e.to_string())
}

/// Verifies a request's signature, that it is not a replay, and (strict signing) that it
/// signed this route's path and, given `body`, the body's SHA-256.
async fn authenticate(
    state: &HubState,
    headers: &HeaderMap,
    path: &str,
    body: Option<&[u8]>,
) -> Result<auth::Verified, Fail> {
    let unauthorized = |code: &'static str, m: String| Fail(StatusCode::UNAUTHORIZED, code, m);
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let now = chrono::Utc::now();
    let v = auth::verify(get, |s| state.secrets.get(s).cloned(), now, state.config.window_secs)
        .map_err(|e| unauthorized(e.code(), e.to_string()))?;
    match v.get("path") {
        Some(p) if p != path => return Err(unauthorized("axis_wrong_path", format!("signed for {p}, sent to {path}"))),
        None if state.config.strict_signing => {
            return Err(unauthorized("axis_path_unsigned", "the request does not sign its path".to_owned()));
        }
        _ => {}
    }
    if let Some(body) = body {
        let sha = hex::encode(sha2::Sha256::digest(body));
        match v.get("bodysha256") {
            Some(claimed) if !claimed.eq_ignore_ascii_case(&sha) => {
                return Err(unauthorized("body_mismatch", "the body's SHA-256 differs from the signed one".to_owned()));
            }
            None if state.config.strict_signing && !body.is_empty() => {
                return Err(unauthorized("axis_body_unsigned", "the request does not sign its body".to_owned()));
            }
            _ => {}
        }
    }
    // A signature is accepted once within the window (across the nodes of a shared hub).
    let mac = headers.get(auth::HASH_HEADER).and_then(|h| h.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let t = now.timestamp();
    let expires = t + 2 * state.config.window_secs;
    let first = if state.store.shared() {
        state.store.first_use(&mac, expires * 1000, t * 1000).await?
    } else {
        let mut seen = state.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, exp| *exp > t);
        }
        let live = seen.get(&mac).is_some_and(|exp| *exp > t);
        if !live {
            seen.insert(mac, expires);
        }
        !live
    };
    if !first {
        return Err(unauthorized("axis_replay", "this signed request was already received".to_owned()));
    }
    Ok(v)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A 24-hex id like the national axis's (time first, so ids sort by arrival).
fn new_package_id() -> String {
    let secs = chrono::Utc::now().timestamp() as u32;
    let r: [u8; 8] = rand::random();
    format!("{secs:08x}{}", hex::encode(r))
}

async fn send_edoc(State(state): State<HubState>, headers: HeaderMap, mut multipart: Multipart) -> Response {
    match send_edoc_inner(&state, &headers, &mut multipart).await {
        Ok(a) => axum::Json(a).into_response(),
        Err(f) => {
            state.metrics.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            f.into_response()
        }
    }
}

async fn send_edoc_inner(state: &HubState, headers: &HeaderMap, multipart: &mut Multipart) -> Result<Answer, Fail> {
    let v = authenticate(state, headers, "/sendEdoc", None).await?;
    let strict_body = state.config.strict_signing;
    let bad = |code: &'static str, m: String| Fail(StatusCode::BAD_REQUEST, code, m);
    // Stream the file part to a temporary file, hashing as it goes.
    let tmp = state.config.uploads().join(format!("{}.part", new_package_id()));
    let mut guard = TempFile(Some(tmp.clone()));
    let mut hasher = sha2::Sha256::new();
    let mut size: u64 = 0;
    let mut found = false;
    while let Some(mut field) =
        multipart.next_field().await.map_err(|e| bad("malformed_request", format!("multipart: {e}")))?
    {
        if field.name() != Some("file_doc") {
            continue;
        }
        found = true;
        let mut file = tokio::fs::File::create(&tmp).await.map_err(internal)?;
        while let Some(chunk) = field.chunk().await.map_err(|e| bad("malformed_request", format!("multipart: {e}")))? {
            size += chunk.len() as u64;
            if size > state.config.max_package_bytes {
                return Err(Fail(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "package_too_large",
                    format!("the package is larger than {} bytes", state.config.max_package_bytes),
                ));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(internal)?;
        }
        file.sync_all().await.map_err(internal)?;
        break;
    }
    if !found {
        return Err(bad("missing_file", "the multipart field file_doc is missing".to_owned()));
    }
    let sha = hex::encode(hasher.finalize());
    match v.get("bodysha256") {
        Some(claimed) if !claimed.eq_ignore_ascii_case(&sha) => {
            return Err(bad("body_mismatch", "the package's SHA-256 differs from the signed one".to_owned()));
        }
        None if strict_body => {
            return Err(Fail(
                StatusCode::UNAUTHORIZED,
                "axis_body_unsigned",
                "the package's SHA-256 is not signed".to_owned(),
            ));
        }
        _ => {}
    }
    let key = v.get("idempotencykey").filter(|k| !k.is_empty()).map_or_else(|| format!("sha256:{sha}"), str::to_owned);
    if let Some(id) = state.store.find_by_key(&v.system_id, &key).await? {
        state.metrics.duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Ok(Answer { doc_id: id, duplicate: true, ..Answer::ok() });
    }
    // Only the routing header is read: the attachments stay on disk.
    let path = tmp.clone();
    let routing = tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&path)?;
        Ok::<_, std::io::Error>(vanban_edxml::read_routing(std::io::BufReader::new(f)))
    })
    .await
    .map_err(internal)?
    .map_err(internal)?
    .map_err(|e| Fail(StatusCode::BAD_REQUEST, e.code(), e.to_string()))?;
    let kind = match routing.kind {
        vanban_edxml::PackageKind::Edoc => "edoc",
        vanban_edxml::PackageKind::Status => "status",
    };
    if let Some(t) = v.get("messagetype")
        && t != kind
    {
        return Err(bad("message_type_mismatch", format!("messagetype {t} but the package is {kind}")));
    }
    // The sender must hold the agency it writes in From.
    match state.store.agency_system(&routing.from).await? {
        Some(s) if s == v.system_id => {}
        _ => {
            return Err(Fail(
                StatusCode::FORBIDDEN,
                "sender_not_registered",
                format!("agency {} is not registered by system {}", routing.from, v.system_id),
            ));
        }
    }
    let mut by_system: Vec<(String, Vec<String>)> = Vec::new();
    let mut unknown = Vec::new();
    for code in &routing.to {
        match state.store.agency_system(code).await? {
            Some(s) => match by_system.iter_mut().find(|(x, _)| *x == s) {
                Some((_, codes)) => {
                    if !codes.contains(code) {
                        codes.push(code.clone())
                    }
                }
                None => by_system.push((s, vec![code.clone()])),
            },
            None => unknown.push(code.clone()),
        }
    }
    if !unknown.is_empty() {
        return Err(Fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_recipient",
            format!("not in the directory: {}", unknown.join(", ")),
        ));
    }
    if by_system.is_empty() {
        return Err(bad("no_recipient", "the package names no recipient".to_owned()));
    }
    let id = new_package_id();
    let dest = state.body_path(&id);
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(internal)?;
    }
    tokio::fs::rename(&tmp, &dest).await.map_err(internal)?;
    guard.0 = None;
    sync_dir(dest.parent()).await;
    let new = store::NewPackage {
        id: id.clone(),
        sender_system: v.system_id.clone(),
        from_code: routing.from.clone(),
        kind: kind.to_owned(),
        document_id: routing.document_id.clone(),
        business: routing.business.map(|b| (b as u8).to_string()),
        status_code: routing.status_code.clone(),
        sha256: sha,
        size: size as i64,
        idem_key: key.clone(),
        addressees: by_system.clone(),
        created_at: now_ms(),
    };
    let (stored, fresh) = match state.store.insert_package(&new).await {
        Ok(r) => r,
        // A concurrent resend won the unique key: answer with its id.
        Err(store::HubStoreError::Db(e)) if is_unique_violation(&e) => {
            match state.store.find_by_key(&v.system_id, &key).await? {
                Some(first) => (first, false),
                None => return Err(store::HubStoreError::Db(e).into()),
            }
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&dest).await;
            return Err(e.into());
        }
    };
    if !fresh {
        let _ = tokio::fs::remove_file(&dest).await;
        state.metrics.duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Ok(Answer { doc_id: stored, duplicate: true, ..Answer::ok() });
    }
    state.metrics.received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    state.metrics.bytes_in.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
    for (system, _) in &by_system {
        state.waiter(system).notify_waiters();
    }
    tracing::debug!(id = %stored, from = %routing.from, kind, "package stored");
    Ok(Answer { doc_id: stored, ..Answer::ok() })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

/// Removes a temporary upload unless it was moved into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Makes a rename durable (the directory entry), best effort.
async fn sync_dir(dir: Option<&Path>) {
    if let Some(d) = dir {
        let d = d.to_owned();
        let _ = tokio::task::spawn_blocking(move || std::fs::File::open(d).and_then(|f| f.sync_all())).await;
    }
}

async fn received_list(State(state): State<HubState>, headers: HeaderMap) -> Response {
    let inner = async {
        let v = authenticate(&state, &headers, "/getReceivedEdocList", None).await?;
        let kind = v.get("messagetype").unwrap_or("edoc").to_owned();
        if kind != "edoc" && kind != "status" {
            return Err(Fail(StatusCode::BAD_REQUEST, "bad_message_type", format!("unknown messagetype {kind}")));
        }
        let limit = v.get("limit").and_then(|l| l.parse::<i64>().ok()).unwrap_or(100).clamp(1, 1000);
        let wait = v
            .get("wait")
            .and_then(|w| w.parse::<u64>().ok())
            .map(|ms| Duration::from_millis(ms).min(state.config.max_wait))
            .unwrap_or_default();
        let deadline = tokio::time::Instant::now() + wait;
        let notify = state.waiter(&v.system_id);
        loop {
            // Register interest before looking, so an arrival in between is not missed.
            let notified = notify.notified();
            let items = state.store.received(&v.system_id, &kind, limit).await?;
            let now = tokio::time::Instant::now();
            if !items.is_empty() || now >= deadline {
                return Ok(ListAnswer::ok(items));
            }
            let until = if state.store.shared() { deadline.min(now + RECHECK) } else { deadline };
            let _ = tokio::time::timeout_at(until, notified).await;
        }
    };
    match inner.await {
        Ok(a) => axum::Json(a).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn get_edoc(State(state): State<HubState>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let inner = async {
        let v = authenticate(&state, &headers, uri.path(), None).await?;
        let id = v.get("docId").unwrap_or_default().to_owned();
        let meta = match id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            true => state.store.package_for(&v.system_id, &id).await?,
            false => None,
        };
        let Some(meta) = meta else {
            return Err(Fail(StatusCode::NOT_FOUND, "package_not_found", format!("no package {id} for this system")));
        };
        if meta.purged {
            return Err(Fail(
                StatusCode::GONE,
                "package_purged",
                "every addressee acknowledged it; the body is gone".into(),
            ));
        }
        let file = tokio::fs::File::open(state.body_path(&meta.id)).await.map_err(internal)?;
        if meta.sender_system != v.system_id {
            state.store.mark_fetched(&v.system_id, &meta.id, now_ms()).await?;
        }
        state.metrics.fetched.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024));
        Response::builder()
            .header(header::CONTENT_TYPE, "application/xml")
            .header(header::CONTENT_LENGTH, meta.size)
            .body(body)
            .map_err(internal)
    };
    match inner.await {
        Ok(r) => r,
        Err(f) => f.into_response(),
    }
}

async fn update_status(State(state): State<HubState>, headers: HeaderMap) -> Response {
    let inner = async {
        let v = authenticate(&state, &headers, "/updateStatus", None).await?;
        let id = v.get("docId").unwrap_or_default().to_owned();
        let pickup = v.get("status").and_then(Pickup::parse).ok_or_else(|| {
            Fail(StatusCode::BAD_REQUEST, "bad_status", "status must be processing, done or fail".to_owned())
        })?;
        match state.store.ack(&v.system_id, &id, pickup.as_str(), now_ms()).await? {
            None => Err(Fail(StatusCode::NOT_FOUND, "package_not_found", format!("no package {id} for this system"))),
            Some(all_done) => {
                state.metrics.acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if all_done {
                    let _ = tokio::fs::remove_file(state.body_path(&id)).await;
                    state.store.mark_purged(&id, now_ms()).await?;
                }
                Ok(Answer::ok())
            }
        }
    };
    match inner.await {
        Ok(a) => axum::Json(a).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn sent_list(State(state): State<HubState>, headers: HeaderMap) -> Response {
    let inner = async {
        let v = authenticate(&state, &headers, "/getSentEdocList", None).await?;
        let limit = v.get("limit").and_then(|l| l.parse::<i64>().ok()).unwrap_or(100).clamp(1, 1000);
        Ok::<_, Fail>(ListAnswer::ok(state.store.sent(&v.system_id, v.get("docId"), limit).await?))
    };
    match inner.await {
        Ok(a) => axum::Json(a).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn agencies_list(State(state): State<HubState>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let inner = async {
        authenticate(&state, &headers, uri.path(), None).await?;
        Ok::<_, Fail>(ListAnswer::ok(state.store.agencies().await?))
    };
    match inner.await {
        Ok(a) => axum::Json(a).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn register_agency(State(state): State<HubState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let inner = async {
        let v = authenticate(&state, &headers, "/registerAgency", Some(&body)).await?;
        let a: Agency = serde_json::from_slice(&body)
            .map_err(|e| Fail(StatusCode::BAD_REQUEST, "malformed_request", format!("agency JSON: {e}")))?;
        let code_ok = !a.code.is_empty()
            && a.code.len() <= 35
            && a.code
                .split('.')
                .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        if !code_ok || a.name.trim().is_empty() || a.name.chars().count() > 200 {
            return Err(Fail(
                StatusCode::BAD_REQUEST,
                "bad_agency",
                format!("unusable agency code or name: {}", a.code),
            ));
        }
        if !state.systems.get(&v.system_id).is_some_and(|s| s.may_hold(&a.code)) {
            return Err(Fail(
                StatusCode::FORBIDDEN,
                "agency_not_allowed",
                format!("system {} may not hold {}", v.system_id, a.code),
            ));
        }
        state.store.upsert_agency(&v.system_id, &a, now_ms()).await?;
        Ok::<_, Fail>(Answer::ok())
    };
    match inner.await {
        Ok(a) => axum::Json(a).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn delete_agency(State(state): State<HubState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let inner = async {
        let v = authenticate(&state, &headers, "/deleteAgency", Some(&body)).await?;
        let j: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Fail(StatusCode::BAD_REQUEST, "malformed_request", format!("JSON: {e}")))?;
        let code = j.get("AgencyCode").and_then(|c| c.as_str()).unwrap_or_default();
        if !state.store.delete_agency(&v.system_id, code).await? {
            return Err(Fail(StatusCode::NOT_FOUND, "agency_not_found", format!("{code} is not this system's")));
        }
        Ok::<_, Fail>(Answer::ok())
    };
    match inner.await {
        Ok(a) => axum::Json(a).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn healthz(State(state): State<HubState>) -> Response {
    match state.store.stats().await {
        Ok(_) => axum::Json(serde_json::json!({ "status": "ok", "backend": state.store.backend() })).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

async fn metrics(State(state): State<HubState>) -> Response {
    use std::fmt::Write as _;
    use std::sync::atomic::Ordering::Relaxed;
    let m = &state.metrics;
    let mut out = String::new();
    for (name, help, v) in [
        ("vanban_hub_packages_received_total", "packages stored", m.received.load(Relaxed)),
        ("vanban_hub_packages_duplicate_total", "resends recognised", m.duplicates.load(Relaxed)),
        ("vanban_hub_packages_refused_total", "sends refused", m.refused.load(Relaxed)),
        ("vanban_hub_packages_fetched_total", "package downloads", m.fetched.load(Relaxed)),
        ("vanban_hub_acks_total", "pickup acknowledgements", m.acked.load(Relaxed)),
        ("vanban_hub_bytes_received_total", "package bytes stored", m.bytes_in.load(Relaxed)),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    }
    if let Ok(s) = state.store.stats().await {
        let _ = writeln!(out, "# TYPE vanban_hub_packages gauge\nvanban_hub_packages {}", s.packages);
        let _ = writeln!(out, "# TYPE vanban_hub_agencies gauge\nvanban_hub_agencies {}", s.agencies);
        let _ = writeln!(
            out,
            "# HELP vanban_hub_queue_depth packages an addressee has not acknowledged\n# TYPE vanban_hub_queue_depth gauge"
        );
        for (system, n) in s.pending {
            let _ =
                writeln!(out, "vanban_hub_queue_depth{{system=\"{}\"}} {n}", system.replace(['"', '\\', '\n'], "_"));
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
