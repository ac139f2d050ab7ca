//! The exchange worker: this instance's link to an axis (vanban's own hub, or another axis
//! with the same API). Two loops run on every node:
//!
//! - **send**: claims due outbox rows (written by issuing, by receiving clerks' and handlers'
//!   steps, and by revocations, in the transaction of the change that caused them), builds
//!   each row's edXML package once (signed with the instance's exchange identity, kept as a
//!   blob so a retry resends the very same bytes), sends it with the row's idempotency key and
//!   settles the row: sent with the axis's id, retried with exponential back-off, or failed
//!   (the axis refused the request itself; an operator may retry it). Every attempt is in the
//!   audit log.
//! - **receive**: long-polls the axis for edoc and status packages, verifies each (the
//!   package's XML-DSig, the PDF's signatures with part 3's validator, the sender in the
//!   directory), applies it (an incoming document with status 01 back to the sender, a change
//!   request, a status on a delivery) and only then acknowledges the pickup `done`. A package
//!   it must refuse is answered with status 02 and the reason, and acknowledged `fail`. A
//!   package fetched twice is applied once (`exchange_inbox`, source keys).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt as _;
use vanban_axis::{AxisClient, ClientError, Credentials, Pickup, ReceivedItem};
use vanban_domain::{ChangeKind, DocumentType, Priority, Role};
use vanban_edxml as edxml;
use vanban_pki::{Cert, KeyAlgorithm, SealedKey, SoftKey, SubjectInfo};
use vanban_store::{
    Actor, ExchangeDocument, InboundRecord, IncomingDraft, MetadataChange, NewIncoming, OutboxOutcome, OutboxRecord,
    RemoteChange, RemoteOutcome, RemoteStatus, Scope,
};

use crate::AppState;
use crate::error::AppError;

/// The `[exchange]` settings.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    /// The axis's base URL, e.g. `http://127.0.0.1:7400` (vanban hub) or a provincial axis.
    pub endpoint: String,
    pub system_id: String,
    /// The system's secret (or `VANBAN_EXCHANGE_SECRET`).
    #[serde(default)]
    pub secret: String,
    /// A CA certificate (PEM) trusted for the axis's HTTPS besides the system's.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Refuse packages whose XML-DSig signature is missing or does not verify under the trust
    /// anchors (status 02). The official samples carry placeholder signatures: an agency that
    /// must take such traffic turns this off.
    #[serde(default = "yes")]
    pub require_package_signature: bool,
    /// Refuse documents whose PDF carries no valid signature (status 02).
    #[serde(default = "yes")]
    pub require_signed_pdf: bool,
    /// How long one long-poll of the axis waits for a package, in milliseconds.
    #[serde(default = "default_wait_ms")]
    pub poll_wait_ms: u64,
    /// Rows sent or packages received at once.
    #[serde(default = "default_parallel")]
    pub parallel: usize,
}

fn yes() -> bool {
    true
}
fn default_wait_ms() -> u64 {
    20_000
}
fn default_parallel() -> usize {
    8
}

/// A failure of one step: `transient` ones are tried again, the others settle the row or
/// refuse the package.
#[derive(Debug)]
struct Failure {
    transient: bool,
    code: String,
    message: String,
}

impl Failure {
    fn transient(code: &str, m: impl std::fmt::Display) -> Self {
        Failure { transient: true, code: code.to_owned(), message: m.to_string() }
    }
    fn permanent(code: &str, m: impl std::fmt::Display) -> Self {
        Failure { transient: false, code: code.to_owned(), message: m.to_string() }
    }
    /// "code: message", as an outbox row keeps an attempt's error (`expedite_outbox` matches
    /// rows by that code) and a refusal its reason.
    fn record(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        // Database or storage trouble passes; a refused rule does not.
        let transient = matches!(&e, AppError::Internal(_))
            || matches!(&e, AppError::Store(s) if matches!(s, vanban_store::StoreError::Database(_) | vanban_store::StoreError::Blob(_)));
        Failure { transient, code: e.code().to_owned(), message: e.to_string() }
    }
}

impl From<vanban_store::StoreError> for Failure {
    fn from(e: vanban_store::StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure { transient: e.is_transient(), code: e.code().to_owned(), message: e.to_string() }
    }
}

/// The worker's shared parts.
pub struct Exchange {
    client: AxisClient,
    config: ExchangeConfig,
    /// The package-signing certificate, its key, and its CAs (written into every package).
    identity: Arc<(Cert, SoftKey, Vec<Cert>)>,
    /// Wakes the send loop when a change wrote outbox rows.
    kick: Arc<tokio::sync::Notify>,
    /// The axis's agency directory (codes), refreshed hourly and when a sender is not in it.
    directory: tokio::sync::RwLock<std::collections::HashSet<String>>,
    /// Wakes the directory loop to register this instance's agencies again (the axis said a
    /// sender is not registered: it lost them, or the last registration failed).
    register_kick: tokio::sync::Notify,
    /// Set when a call could not reach the axis, cleared by the first call that does: the
    /// moment the axis is back (see [`Exchange::reached`]).
    axis_down: std::sync::atomic::AtomicBool,
    /// Wakes the receive loops out of their back-off when the axis is back.
    axis_back: tokio::sync::Notify,
}

/// Exponential back-off: 2 s, 4 s, … capped at 10 minutes, with up to 20 % jitter.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let base = 2_i64.saturating_pow(attempts.clamp(0, 20) as u32 + 1).min(600);
    let jitter = rand::random::<u64>() % (base as u64 * 200 + 1);
    chrono::Duration::seconds(base) + chrono::Duration::milliseconds(jitter as i64)
}

/// Starts the worker when `[exchange]` is configured. Runs until the process ends.
pub async fn run(state: AppState) {
    let Some(config) = state.config.exchange.clone() else { return };
    let ex = loop {
        match Exchange::connect(&state, config.clone()).await {
            Ok(ex) => break Arc::new(ex),
            Err(e) => {
                tracing::error!(error = %e, "exchange: cannot start; retrying in 10 s");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    };
    tracing::info!(endpoint = %config.endpoint, system = %config.system_id, "exchange worker started");
    crate::telemetry::install();
    tokio::spawn(directory_loop(state.clone(), ex.clone()));
    tokio::spawn(stats_loop(state.clone()));
    tokio::spawn(receive_loop(state.clone(), ex.clone(), "status"));
    tokio::spawn(receive_loop(state.clone(), ex.clone(), "edoc"));
    send_loop(state, ex).await;
}

impl Exchange {
    /// Builds a package signed with the instance's exchange identity, off the async threads.
    async fn signed(
        &self,
        state: &AppState,
        build: impl FnOnce(&edxml::PackageSigner) -> Result<Vec<u8>, edxml::EdxmlError> + Send + 'static,
    ) -> Result<Bytes, Failure> {
        let id = self.identity.clone();
        let bytes = state
            .cpu(move || build(&edxml::PackageSigner { key: &id.1, certificate: &id.0, chain: &id.2 }))
            .await?
            .map_err(|e| Failure::permanent(e.code(), e))?;
        Ok(Bytes::from(bytes))
    }

    /// Notes a call that failed: one that could not reach the axis marks it down.
    fn failed(&self, code: &str) {
        if code == ClientError::UNREACHABLE {
            self.axis_down.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Notes a call that reached the axis. The first after it was down registers the agencies
    /// (unless `registered` just did), brings forward every outbox row waiting out its
    /// back-off because the axis was unreachable (after a long outage that back-off is up to
    /// ten minutes: an urgent document would wait that long once the axis is back), and wakes
    /// the receive loops.
    async fn reached(&self, state: &AppState, registered: bool) {
        if !self.axis_down.swap(false, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        // Before the rows go: an axis that lost the registrations refuses what they send.
        if !registered && let Err(e) = register_agencies(state, self).await {
            tracing::warn!(error = %e.message, "exchange: could not register the agencies");
            self.register_kick.notify_one();
        }
        match state.store.expedite_outbox(ClientError::UNREACHABLE, Utc::now()).await {
            Ok(n) => tracing::info!(rows = n, "exchange: the axis is reachable again; rows waiting for it are due now"),
            Err(e) => {
                tracing::warn!(error = %e, "exchange: the axis is reachable again; could not bring its rows forward")
            }
        }
        self.kick.notify_one();
        self.axis_back.notify_waiters();
    }

    /// Reads the axis's directory again.
    async fn refresh_directory(&self) -> Result<usize, Failure> {
        let list = self.client.agencies().await?;
        let n = list.len();
        *self.directory.write().await = list.into_iter().map(|a| a.code).collect();
        Ok(n)
    }

    /// Whether the axis's directory lists `code` (read again once when it does not).
    async fn in_directory(&self, code: &str) -> Result<bool, Failure> {
        if self.directory.read().await.contains(code) {
            return Ok(true);
        }
        self.refresh_directory().await?;
        Ok(self.directory.read().await.contains(code))
    }

    async fn connect(state: &AppState, config: ExchangeConfig) -> Result<Exchange, String> {
        let mut roots = Vec::new();
        if let Some(f) = &config.ca_file {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            for c in Cert::from_pem(&text).map_err(|e| e.to_string())? {
                roots.push(c.der().to_vec());
            }
        }
        let creds = Credentials { system_id: config.system_id.clone(), secret: config.secret.clone() };
        let client = AxisClient::new(&config.endpoint, creds, roots)?;
        let (cert, key) = exchange_identity(state).await.map_err(|e| e.to_string())?;
        let pki = state.pki().await.map_err(|e| e.to_string())?;
        let chain = vec![pki.issuing.cert.clone(), pki.root.clone()];
        Ok(Exchange {
            client,
            config,
            identity: Arc::new((cert, key, chain)),
            kick: state.exchange_kick(),
            directory: Default::default(),
            register_kick: tokio::sync::Notify::new(),
            axis_down: Default::default(),
            axis_back: tokio::sync::Notify::new(),
        })
    }
}

/// The instance's package-signing identity: an organisational certificate of the instance CA,
/// made on first use, its key sealed under `pki_passphrase` like the CA's own.
async fn exchange_identity(state: &AppState) -> Result<(Cert, SoftKey), AppError> {
    let pass = state.config.pki_passphrase.clone().unwrap_or_else(|| crate::signing::DEV_PASSPHRASE.to_owned());
    if state.store.exchange_identity().await?.is_none() {
        let pki = state.pki().await?;
        let name = state.config.instance_name.clone();
        let p = pass.clone();
        let (cert, sealed) = state
            .cpu(move || -> Result<(Cert, Vec<u8>), AppError> {
                let key = SoftKey::generate(KeyAlgorithm::Rsa2048)?;
                let now = Utc::now();
                let req = vanban_pki::IssueRequest {
                    subject: SubjectInfo {
                        common_name: format!("{name} — trao đổi văn bản điện tử"),
                        organization: Some(name.clone()),
                        ..SubjectInfo::new("")
                    },
                    profile: vanban_pki::CertProfile::Organisation,
                    public_key_der: key.public_key_der().to_vec(),
                    not_before: now - chrono::Duration::minutes(5),
                    not_after: (now + chrono::Duration::days(3 * 365)).min(pki.issuing.cert.not_after()),
                };
                let cert = pki.issuing.issue(&req)?;
                Ok((cert, SealedKey::seal(&key, &p)?.to_bytes()))
            })
            .await??;
        state.store.put_exchange_identity(cert.der().to_vec(), sealed).await?;
    }
    let (cert_der, sealed) = state.store.exchange_identity().await?.ok_or(vanban_store::StoreError::NotFound)?;
    state
        .cpu(move || -> Result<(Cert, SoftKey), AppError> {
            let cert = Cert::from_der(&cert_der)?;
            let key = SealedKey::from_bytes(&sealed)?.open(&pass)?;
            Ok((cert, key))
        })
        .await?
}

// ---------------------------------------------------------------------------------------------
// Directory
// ---------------------------------------------------------------------------------------------

/// Registers this instance's agencies at the axis: at start, then hourly, and again at once
/// when the axis refuses a package because its sender is not registered. A registration that
/// fails (the axis is down) is retried after 2 s, 4 s, … at most a minute, not an hour: until
/// it succeeds the axis refuses everything this instance sends.
async fn directory_loop(state: AppState, ex: Arc<Exchange>) {
    let mut failures = 0u32;
    loop {
        match register_agencies(&state, &ex).await {
            Ok(n) => {
                failures = 0;
                tracing::info!(agencies = n, "exchange: agencies registered at the axis");
                ex.reached(&state, true).await;
            }
            Err(e) => {
                failures += 1;
                ex.failed(&e.code);
                tracing::warn!(error = %e.message, failures, "exchange: could not register the agencies");
            }
        }
        if let Err(e) = ex.refresh_directory().await {
            tracing::warn!(error = %e.message, "exchange: could not read the axis's directory");
        }
        // After a failure: the outbox's back-off (2 s, 4 s, …), but at most a minute.
        let pause = match failures {
            0 => Duration::from_secs(3600),
            n => backoff(n as i32 - 1).to_std().unwrap_or_default().min(Duration::from_secs(60)),
        };
        let _ = tokio::time::timeout(pause, ex.register_kick.notified()).await;
    }
}

async fn register_agencies(state: &AppState, ex: &Exchange) -> Result<usize, Failure> {
    let agencies = state.store.list_agencies().await?;
    let by_id: std::collections::HashMap<_, _> =
        agencies.iter().map(|a| (a.agency.id, a.agency.code.as_str().to_owned())).collect();
    let list: Vec<vanban_axis::Agency> = agencies
        .iter()
        .map(|a| vanban_axis::Agency {
            code: a.agency.code.as_str().to_owned(),
            pcode: a.agency.parent_id.and_then(|p| by_id.get(&p).cloned()).unwrap_or_default(),
            name: a.agency.name.as_str().to_owned(),
            ..Default::default()
        })
        .collect();
    let n = list.len();
    let results: Vec<Result<(), ClientError>> = futures::stream::iter(list)
        .map(|a| async move { ex.client.register_agency(&a).await })
        .buffer_unordered(8)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(n)
}

/// Queue depth and age for `/metrics`, every five seconds.
async fn stats_loop(state: AppState) {
    loop {
        if let Ok(s) = state.store.outbox_stats().await {
            metrics::gauge!("vanban_exchange_outbox_queued").set(s.queued as f64);
            metrics::gauge!("vanban_exchange_outbox_failed").set(s.failed as f64);
            let age = s.oldest_queued.map_or(0.0, |t| (Utc::now() - t).num_milliseconds() as f64 / 1000.0);
            metrics::gauge!("vanban_exchange_outbox_oldest_seconds").set(age);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

/// How long a claim on outbox rows lasts unless renewed. A node renews the claims of the rows
/// it is still sending every [`CLAIM_RENEW`] (a send may wait up to the client's timeout), so
/// the lease only bounds how long the rows of a node that died (killed, crashed, cut off)
/// wait before another node, or this one restarted, takes them. A row sent twice after all
/// (a node stalled past its lease) is harmless: the axis recognises its key.
const CLAIM_LEASE: Duration = Duration::from_secs(20);
const CLAIM_RENEW: Duration = Duration::from_secs(5);

/// Attempts after which a row that keeps failing (a recipient no axis knows, …) is marked failed
/// for an operator: about two hours with the back-off.
const MAX_ATTEMPTS: i32 = 20;

async fn send_loop(state: AppState, ex: Arc<Exchange>) {
    loop {
        let batch = match state
            .store
            .claim_outbox(ex.config.parallel.max(1) as i64 * 2, Utc::now(), lease(CLAIM_LEASE))
            .await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "exchange: cannot read the outbox");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        metrics::gauge!("vanban_exchange_claimed").set(batch.len() as f64);
        if batch.is_empty() {
            // Woken by a change that wrote rows, or a quarter second for retries coming due.
            let _ = tokio::time::timeout(Duration::from_millis(250), ex.kick.notified()).await;
            continue;
        }
        let ids: Vec<uuid::Uuid> = batch.iter().map(|r| r.id).collect();
        let sending = futures::stream::iter(batch).for_each_concurrent(ex.config.parallel.max(1), |row| {
            let state = state.clone();
            let ex = ex.clone();
            async move { send_one(&state, &ex, row).await }
        });
        tokio::pin!(sending);
        // Renews the batch's claims while it is sent (settled rows are left alone).
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + CLAIM_RENEW, CLAIM_RENEW);
        loop {
            tokio::select! {
                () = &mut sending => break,
                _ = renew.tick() => {
                    if let Err(e) = state.store.extend_outbox_claims(&ids, Utc::now() + lease(CLAIM_LEASE)).await {
                        tracing::warn!(error = %e, "exchange: could not renew the outbox claims");
                    }
                }
            }
        }
    }
}

fn lease(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

async fn send_one(state: &AppState, ex: &Exchange, row: OutboxRecord) {
    let started = std::time::Instant::now();
    let sent = send_row(state, ex, &row).await;
    match &sent {
        Ok(_) => ex.reached(state, false).await,
        Err((f, _)) => ex.failed(&f.code),
    }
    let (outcome, sha) = match sent {
        Ok((remote_id, sha)) => (OutboxOutcome::Sent { remote_id }, Some(sha)),
        Err((f, sha)) if f.transient && row.attempts + 1 < MAX_ATTEMPTS => {
            if f.code == "sender_not_registered" {
                ex.register_kick.notify_one();
            }
            tracing::warn!(row = %row.id, code = %f.code, error = %f.message, attempts = row.attempts + 1, "exchange: send failed, will retry");
            (OutboxOutcome::Retry { error: f.record(), next_attempt_at: Utc::now() + backoff(row.attempts) }, sha)
        }
        Err((f, sha)) => {
            tracing::error!(row = %row.id, code = %f.code, error = %f.message, "exchange: the axis refused the package");
            (OutboxOutcome::Failed { error: f.record() }, sha)
        }
    };
    let sent = matches!(outcome, OutboxOutcome::Sent { .. });
    if let Err(e) = state.store.settle_outbox(row.id, outcome, sha).await {
        // The claim runs out and the row is sent again; the axis recognises the key.
        tracing::warn!(row = %row.id, error = %e, "exchange: could not settle an outbox row");
    }
    if sent {
        metrics::counter!("vanban_exchange_sent_total", "kind" => row.kind.clone()).increment(1);
        metrics::histogram!("vanban_exchange_send_seconds").record(started.elapsed().as_secs_f64());
        let age = (Utc::now() - row.created_at).num_milliseconds() as f64 / 1000.0;
        metrics::histogram!("vanban_exchange_outbox_latency_seconds").record(age);
    } else {
        metrics::counter!("vanban_exchange_send_failures_total", "kind" => row.kind.clone()).increment(1);
    }
}

type SendResult = Result<(String, String), (Failure, Option<String>)>;

async fn send_row(state: &AppState, ex: &Exchange, row: &OutboxRecord) -> SendResult {
    // Build once; a retry sends the bytes built the first time.
    let (bytes, from) = match &row.package_sha256 {
        Some(sha) => {
            let bytes = state.blobs.get(sha).await.map_err(|e| (Failure::transient("blob", e), None))?;
            let from = sender_code(state, row).await.map_err(|f| (f, None))?;
            (bytes, from)
        }
        None => {
            let (bytes, from) = build_package(state, ex, row).await.map_err(|f| (f, None))?;
            (bytes, from)
        }
    };
    let sha = state.blobs.put(bytes.clone()).await.map_err(|e| (Failure::transient("blob", e), None))?.sha256;
    let answer = ex
        .client
        .send(&row.kind, &from, &row.idempotency_key, bytes)
        .await
        .map_err(|e| (e.into(), Some(sha.clone())))?;
    Ok((answer.doc_id, sha))
}

async fn sender_code(state: &AppState, row: &OutboxRecord) -> Result<String, Failure> {
    let agency = payload_agency(state, row).await?;
    Ok(agency.agency.code.as_str().to_owned())
}

async fn payload_agency(state: &AppState, row: &OutboxRecord) -> Result<vanban_store::AgencyRecord, Failure> {
    let id = match row.kind.as_str() {
        "status" => row.payload.get("agency_id").and_then(|v| v.as_str()).map(str::to_owned),
        _ => None,
    };
    match id {
        Some(id) => {
            let uuid = uuid::Uuid::parse_str(&id).map_err(|e| Failure::permanent("bad_payload", e))?;
            Ok(state.store.get_agency(vanban_domain::AgencyId::from_uuid(uuid)).await?)
        }
        None => {
            let doc = document_of(row)?;
            Ok(state.store.exchange_document(doc).await?.agency)
        }
    }
}

fn document_of(row: &OutboxRecord) -> Result<vanban_domain::DocumentId, Failure> {
    let id = row
        .payload
        .get("document_id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| Failure::permanent("bad_payload", "no document_id"))?;
    let uuid = uuid::Uuid::parse_str(id).map_err(|e| Failure::permanent("bad_payload", e))?;
    Ok(vanban_domain::DocumentId::from_uuid(uuid))
}

/// Builds the signed package of an outbox row: (bytes, the sending agency's code).
async fn build_package(state: &AppState, ex: &Exchange, row: &OutboxRecord) -> Result<(Bytes, String), Failure> {
    match row.kind.as_str() {
        "status" => build_status(state, ex, row).await,
        _ => build_edoc(state, ex, row).await,
    }
}

fn organization(a: &vanban_store::AgencyRecord) -> edxml::Organization {
    let name = a.agency.name.as_str().to_owned();
    edxml::Organization {
        organ_id: a.agency.code.as_str().to_owned(),
        organization_in_charge: a.agency.parent_name.as_ref().map_or_else(|| name.clone(), |p| p.as_str().to_owned()),
        organ_name: name,
        organ_add: a.agency.place.clone(),
        ..Default::default()
    }
}

fn vn_now() -> chrono::NaiveDateTime {
    (Utc::now() + chrono::Duration::hours(7)).naive_utc()
}

/// "31/UBND-TH" → ("31", "UBND-TH").
fn split_symbol(symbol: &str) -> (String, String) {
    match symbol.split_once('/') {
        Some((n, s)) => (n.to_owned(), s.to_owned()),
        None => (String::new(), symbol.to_owned()),
    }
}

/// QCVN 102's list B row for the administrative types it was seen to list ([U] how
/// Type/TypeDetail map: standards.md §2.6; TypeName is always filled and is what receivers read).
fn type_detail(t: DocumentType) -> &'static str {
    match t.as_str() {
        "nghi_quyet" => "1",
        "quyet_dinh" => "2",
        "chi_thi" => "3",
        "quy_che" => "4",
        "quy_dinh" => "5",
        "thong_cao" => "6",
        "thong_bao" => "7",
        "huong_dan" => "8",
        "chuong_trinh" => "9",
        "cong_van" => "18",
        "cong_dien" => "19",
        "ban_ghi_nho" => "20",
        "ban_cam_ket" => "21",
        "ban_thoa_thuan" => "22",
        "giay_chung_nhan" => "23",
        "giay_uy_quyen" => "24",
        "giay_moi" => "25",
        "giay_gioi_thieu" => "26",
        _ => "0",
    }
}

fn edoc_header(d: &ExchangeDocument, to: edxml::Organization) -> edxml::EdocHeader {
    let (number, notation) = split_symbol(&d.entry.symbol);
    let content = d.content.as_ref();
    let text = |path: &[&str]| -> String {
        let mut v = content;
        for p in path {
            v = v.and_then(|x| x.get(*p));
        }
        v.and_then(|x| x.as_str()).unwrap_or_default().to_owned()
    };
    let priority =
        d.document.metadata.get("priority").and_then(|p| p.as_str()).and_then(Priority::from_snake).unwrap_or_default();
    let places: Vec<String> = content
        .and_then(|c| c.get("recipients"))
        .and_then(|r| r.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).map(|s| s.chars().take(150).collect()).collect())
        .unwrap_or_default();
    let subject: String = d.document.subject.chars().take(500).collect();
    edxml::EdocHeader {
        from: organization(&d.agency),
        to: vec![to],
        document_id: edxml::document_id(d.agency.agency.code.as_str(), d.entry.issued_on, &number, &notation),
        code: edxml::Code { number, notation },
        place: d.agency.agency.place.chars().take(50).collect(),
        promulgation_date: edxml::EdDate::from_date(d.entry.issued_on),
        document_type: edxml::DocumentTypeInfo {
            r#type: "2".to_owned(),
            type_detail: type_detail(d.document.doc_type).to_owned(),
            type_name: d.document.doc_type.name_vi().to_owned(),
        },
        content: subject.clone(),
        subject,
        signer: edxml::SignerInfo {
            competence: text(&["signer", "authority"]),
            position: text(&["signer", "position"]),
            full_name: d.signer_name.clone().unwrap_or_else(|| text(&["signer", "full_name"])),
        },
        due_date: d
            .document
            .metadata
            .get("due_date")
            .and_then(|v| v.as_str())
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .map(edxml::EdDate::from_date),
        other_info: edxml::OtherInfo {
            priority: priority.code().to_string(),
            promulgation_amount: "1".to_owned(),
            direction: "false".to_owned(),
            ..Default::default()
        },
        response_for: Vec::new(),
        steering_type: None,
        to_places: places,
    }
}

async fn build_edoc(state: &AppState, ex: &Exchange, row: &OutboxRecord) -> Result<(Bytes, String), Failure> {
    let business_kind = row.payload.get("business").and_then(|b| b.as_str()).unwrap_or("new");
    // A replacement carries the new document; ReplacementInfo names the one it replaces (the
    // row's document), as in the official sample.
    let replaced = match business_kind {
        "replace" => Some(state.store.exchange_document(document_of(row)?).await?),
        _ => None,
    };
    let doc_id = match &replaced {
        Some(_) => row
            .payload
            .pointer("/replacement/document_id")
            .and_then(|v| v.as_str())
            .and_then(|r| uuid::Uuid::parse_str(r).ok())
            .map(vanban_domain::DocumentId::from_uuid)
            .ok_or_else(|| Failure::permanent("bad_payload", "a replacement names no document"))?,
        None => document_of(row)?,
    };
    let d = state.store.exchange_document(doc_id).await?;
    let to_name = row.payload.pointer("/recipient/name").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let to = edxml::Organization { organ_id: row.recipient_code.clone(), organ_name: to_name, ..Default::default() };
    let header = edoc_header(&d, to);
    let (doc_type, reason) = match business_kind {
        "revoke" => (
            edxml::BusinessDocType::Revoke,
            row.payload.get("reason").and_then(|r| r.as_str()).unwrap_or("Thu hồi văn bản điện tử"),
        ),
        "update" => (
            edxml::BusinessDocType::Update,
            row.payload.get("reason").and_then(|r| r.as_str()).unwrap_or("Cập nhật văn bản điện tử"),
        ),
        "replace" => (
            edxml::BusinessDocType::Replace,
            row.payload.get("reason").and_then(|r| r.as_str()).unwrap_or("Văn bản thay thế"),
        ),
        _ => (edxml::BusinessDocType::New, "Văn bản điện tử mới"),
    };
    let replacements = match &replaced {
        Some(old) => {
            let (n, s) = split_symbol(&old.entry.symbol);
            vec![edxml::ReplacementInfo {
                document_id: edxml::document_id(old.agency.agency.code.as_str(), old.entry.issued_on, &n, &s),
                organ_ids: vec![row.recipient_code.clone()],
            }]
        }
        None => Vec::new(),
    };
    let mut attachments = Vec::new();
    let pdf_sha = d.entry.pdf_sha256.clone().ok_or_else(|| Failure::permanent("not_issued", "no issued file"))?;
    let pdf = state.blobs.get(&pdf_sha).await.map_err(|e| Failure::transient("blob", e))?;
    let file_name = format!("{}.pdf", d.entry.symbol.replace('/', "_"));
    attachments.push(edxml::Attachment {
        content_id: "cid:1".to_owned(),
        name: file_name.clone(),
        description: file_name,
        content_type: "application/pdf".to_owned(),
        data: pdf.to_vec(),
        zipped: true,
    });
    for (i, a) in d.entry.appendices.iter().enumerate() {
        let bytes = state.blobs.get(&a.sha256).await.map_err(|e| Failure::transient("blob", e))?;
        attachments.push(edxml::Attachment {
            content_id: format!("cid:{}", i + 2),
            name: a.name.clone(),
            description: a.name.clone(),
            content_type: "application/pdf".to_owned(),
            data: bytes.to_vec(),
            zipped: true,
        });
    }
    let from = d.agency.agency.code.as_str().to_owned();
    let edoc = edxml::Edoc {
        trace: edxml::TraceHeaderList {
            traces: vec![edxml::TraceHeader {
                organ_id: from.clone(),
                timestamp: edxml::EdDateTime::from_naive(vn_now()),
            }],
            business: edxml::Business {
                document_id: header.document_id.clone(),
                doc_type,
                reason: reason.chars().take(500).collect(),
                paper: "0".to_owned(),
                staff: edxml::StaffInfo { department: "Văn thư".to_owned(), ..Default::default() },
                // An update says the metadata in the header is the corrected one.
                document_info: (doc_type == edxml::BusinessDocType::Update).then(|| edxml::BusinessDocumentInfo {
                    document_info: "1".to_owned(),
                    document_receiver: "0".to_owned(),
                    receivers: Vec::new(),
                }),
                replacements,
            },
        },
        header,
        attachments,
    };
    let bytes = ex.signed(state, move |signer| edxml::build_edoc(&edoc, Some(signer))).await?;
    Ok((bytes, from))
}

async fn build_status(state: &AppState, ex: &Exchange, row: &OutboxRecord) -> Result<(Bytes, String), Failure> {
    let agency = payload_agency(state, row).await?;
    let p = &row.payload;
    let s = |ptr: &str| p.pointer(ptr).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let issuer = s("/response_for/sender_code");
    let symbol = s("/response_for/symbol");
    let issued_on = p
        .pointer("/response_for/issued_on")
        .and_then(|v| v.as_str())
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let (number, notation) = split_symbol(&symbol);
    let document_id = match issued_on {
        Some(day) => edxml::document_id(&issuer, day, &number, &notation),
        None => format!("{issuer},,{symbol}"),
    };
    let code = s("/status_code");
    let description = match p.get("description").and_then(|v| v.as_str()) {
        Some(d) if !d.is_empty() => d.to_owned(),
        _ => vanban_domain::EdxmlStatus::from_code(&code).map_or_else(String::new, |st| st.label_vi().to_owned()),
    };
    let status = edxml::StatusPackage {
        from: organization(&agency),
        response_for: edxml::ResponseFor {
            organ_id: issuer,
            code: symbol,
            promulgation_date: issued_on.map(edxml::EdDate::from_date).unwrap_or_default(),
            document_id,
        },
        staff: edxml::StaffInfo { staff: s("/staff"), department: "Văn thư".to_owned(), ..Default::default() },
        status_code: code,
        description: description.chars().take(500).collect(),
        timestamp: edxml::EdDateTime::from_naive(vn_now()),
    };
    let bytes = ex.signed(state, move |signer| edxml::build_status(&status, Some(signer))).await?;
    Ok((bytes, agency.agency.code.as_str().to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Receiving
// ---------------------------------------------------------------------------------------------

async fn receive_loop(state: AppState, ex: Arc<Exchange>, kind: &'static str) {
    let wait = Duration::from_millis(ex.config.poll_wait_ms.max(1));
    let mut failures = 0u32;
    loop {
        let items = match ex.client.received(kind, 100, Some(wait)).await {
            Ok(items) => {
                failures = 0;
                ex.reached(&state, false).await;
                items
            }
            Err(e) => {
                failures += 1;
                ex.failed(e.code());
                // At most 4 s: this loop is what notices first that the axis is back.
                let pause = Duration::from_millis(250 * 2u64.pow(failures.min(4)));
                tracing::warn!(error = %e, kind, "exchange: cannot list received packages; retrying in {:?}", pause);
                let _ = tokio::time::timeout(pause, ex.axis_back.notified()).await;
                continue;
            }
        };
        metrics::gauge!("vanban_exchange_axis_waiting", "kind" => kind).set(items.len() as f64);
        let transient = std::sync::atomic::AtomicBool::new(false);
        futures::stream::iter(items)
            .for_each_concurrent(ex.config.parallel.max(1), |item| {
                let (state, ex, transient) = (state.clone(), ex.clone(), &transient);
                async move {
                    if let Err(f) = receive_one(&state, &ex, &item).await {
                        tracing::warn!(package = %item.doc_id, code = %f.code, error = %f.message, "exchange: package not taken yet");
                        transient.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
            .await;
        if transient.load(std::sync::atomic::Ordering::Relaxed) {
            // Something passing (our database, the axis): the packages stay listed; breathe.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Takes one package. An `Err` is transient: the package is not acknowledged and comes back.
async fn receive_one(state: &AppState, ex: &Exchange, item: &ReceivedItem) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    if let Some(outcome) = state.store.inbound_outcome(&item.doc_id).await? {
        // Applied (or refused, its 02 sent) before a crash took the acknowledgement.
        let pickup = if outcome == "rejected" { Pickup::Fail } else { Pickup::Done };
        ex.client.ack(&item.doc_id, pickup).await?;
        return Ok(());
    }
    let bytes = ex.client.get(&item.doc_id).await?;
    match take_package(state, ex, item, bytes.clone()).await {
        Ok(()) => {
            // On disk before the axis may forget the package (its blobs were synced already).
            state.store.make_durable().await?;
            ex.client.ack(&item.doc_id, Pickup::Done).await?;
            metrics::counter!("vanban_exchange_received_total", "kind" => item.message_type.clone()).increment(1);
            metrics::histogram!("vanban_exchange_receive_seconds").record(started.elapsed().as_secs_f64());
            Ok(())
        }
        Err(f) if f.transient => Err(f),
        Err(f) => {
            refuse(state, ex, &item.doc_id, &item.message_type, &bytes, &f).await?;
            state.store.make_durable().await?;
            ex.client.ack(&item.doc_id, Pickup::Fail).await?;
            metrics::counter!("vanban_exchange_refused_total", "kind" => item.message_type.clone()).increment(1);
            Ok(())
        }
    }
}

/// Logs a refused package and tells its sender with status 02 and the reason (edoc packages
/// only: a status package is never answered with a status).
async fn refuse(
    state: &AppState,
    ex: &Exchange,
    remote_id: &str,
    kind: &str,
    bytes: &Bytes,
    f: &Failure,
) -> Result<(), Failure> {
    let routing = edxml::read_routing(std::io::Cursor::new(&bytes[..])).ok();
    let from = routing.as_ref().map(|r| r.from.clone()).unwrap_or_default();
    let document_id = routing.as_ref().map(|r| r.document_id.clone()).unwrap_or_default();
    tracing::warn!(package = remote_id, from = %from, code = %f.code, reason = %f.message, "exchange: package refused");
    // A status package is never answered with a status; an unreadable one has no one to tell.
    if kind != "status"
        && !from.is_empty()
        && let Some(r) = routing
    {
        send_refusal(state, ex, remote_id, &r, &document_id, &from, f).await?;
    }
    // Logged after the 02 went out: a crash before this fetches the package again.
    let kind = if kind == "status" { "status" } else { "edoc" };
    let picked = Picked { remote_id, kind, from: &from, document_id: &document_id };
    let reason = Some(f.record());
    log_package(state, picked, "rejected", reason, serde_json::json!({ "code": f.code })).await
}

/// Status 02 with the reason, from the first addressee that is ours, to the sender. A transient
/// failure keeps the package on the axis (it is refused again later).
async fn send_refusal(
    state: &AppState,
    ex: &Exchange,
    remote_id: &str,
    r: &edxml::Routing,
    document_id: &str,
    from: &str,
    f: &Failure,
) -> Result<(), Failure> {
    let mut ours = None;
    for code in &r.to {
        if let Ok(c) = vanban_domain::AgencyCode::parse(code)
            && let Ok(a) = state.store.get_agency_by_code(&c).await
        {
            ours = Some(a);
            break;
        }
    }
    let Some(agency) = ours else { return Ok(()) };
    let (issuer, date, symbol) =
        edxml::split_document_id(document_id).unwrap_or((from.to_owned(), String::new(), String::new()));
    let status = edxml::StatusPackage {
        from: organization(&agency),
        response_for: edxml::ResponseFor {
            organ_id: issuer,
            code: symbol,
            promulgation_date: edxml::EdDate::parse(&date),
            document_id: document_id.to_owned(),
        },
        staff: edxml::StaffInfo {
            staff: "vanban".to_owned(), department: "Văn thư".to_owned(), ..Default::default()
        },
        // A refused revocation, update or replacement is 16; a refused document 02.
        status_code: if r.business.is_some_and(|b| b != edxml::BusinessDocType::New) { "16" } else { "02" }.to_owned(),
        description: format!("Từ chối tiếp nhận: {}", f.message).chars().take(500).collect(),
        timestamp: edxml::EdDateTime::from_naive(vn_now()),
    };
    let bytes = ex.signed(state, move |signer| edxml::build_status(&status, Some(signer))).await?;
    let key = format!("status:refused:{remote_id}:{}", agency.agency.code.as_str());
    match ex.client.send("status", agency.agency.code.as_str(), &key, bytes).await {
        Ok(_) => Ok(()),
        // The axis will not take it (the sender left its directory …): nothing more to do.
        Err(ClientError::Refused { code, desc, .. }) => {
            tracing::warn!(code, desc, "exchange: the axis refused the status of a refused package");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Verifies and applies one package.
async fn take_package(state: &AppState, ex: &Exchange, item: &ReceivedItem, bytes: Bytes) -> Result<(), Failure> {
    let remote_id = item.doc_id.as_str();
    let b = bytes.clone();
    let parsed = state
        .cpu(move || edxml::parse(&b, &edxml::Limits::default()))
        .await?
        .map_err(|e| Failure::permanent(e.code(), e.message_vi()))?;
    check_package_signature(state, ex, &bytes).await?;
    let from = match &parsed.package {
        edxml::Package::Status(st) => st.from.organ_id.clone(),
        edxml::Package::Edoc(e) => e.header.from.organ_id.clone(),
    };
    if !ex.in_directory(&from).await? {
        return Err(Failure::permanent(
            "edxml_unknown_sender",
            format!("cơ quan gửi {from} không có trong danh bạ của trục"),
        ));
    }
    // How long the package has waited on the axis (a change may wait for its document).
    let age = chrono::DateTime::parse_from_rfc3339(&item.created)
        .map_or(chrono::Duration::zero(), |t| Utc::now() - t.with_timezone(&Utc));
    match parsed.package {
        edxml::Package::Status(st) => take_status(state, remote_id, st, age).await,
        edxml::Package::Edoc(edoc) => take_edoc(state, ex, remote_id, edoc, age).await,
    }
}

/// How long a revocation, update or replacement waits for the document it concerns (the two
/// may come in either order) before it is logged as concerning nothing here.
const CHANGE_WAITS_FOR_DOCUMENT_MINUTES: i64 = 30;

fn parse_ed_date(raw: &str) -> Option<chrono::NaiveDate> {
    edxml::EdDate::parse(raw).date
}

async fn take_status(
    state: &AppState,
    remote_id: &str,
    st: edxml::StatusPackage,
    age: chrono::Duration,
) -> Result<(), Failure> {
    let Some((issuer, date, symbol)) = edxml::split_document_id(&st.response_for.document_id) else {
        return Err(Failure::permanent("edxml_invalid", "ResponseFor/DocumentId không đúng dạng"));
    };
    if st.status_code == "13" {
        // 13 comes from the document's sender: it asks the recipient to take the document back.
        if issuer != st.from.organ_id {
            return Err(Failure::permanent(
                "edxml_not_the_sender",
                "chỉ cơ quan ban hành mới được yêu cầu lấy lại văn bản",
            ));
        }
        let Some(agency) = our_agency(state, &st.response_for.organ_id).await else {
            return Err(Failure::permanent(
                "edxml_not_addressed_here",
                "gói tin không gửi cho cơ quan nào của hệ thống này",
            ));
        };
        let reason =
            if st.description.is_empty() { "Lấy lại văn bản".to_owned() } else { st.description.clone() };
        let outcome = state
            .store
            .apply_remote_change(RemoteChange {
                remote_id: remote_id.to_owned(),
                agency_id: agency.agency.id,
                source_key: format!("edxml:{}", st.response_for.document_id),
                kind: ChangeKind::Revoke,
                reason,
                from_code: st.from.organ_id.clone(),
                update: None,
            })
            .await?;
        return settle_unknown_change(
            state,
            remote_id,
            "status",
            &st.from.organ_id,
            &st.response_for.document_id,
            outcome,
            age,
        )
        .await;
    }
    let outcome = state
        .store
        .apply_remote_status(RemoteStatus {
            remote_id: remote_id.to_owned(),
            reporter_code: st.from.organ_id.clone(),
            issuer_code: issuer,
            symbol,
            issued_on: parse_ed_date(&date),
            code: st.status_code.clone(),
            description: Some(st.description.clone()).filter(|d| !d.is_empty()),
            staff: Some(st.staff.staff.clone()).filter(|d| !d.is_empty()),
            // Vietnam wall-clock time on the wire.
            at: st.timestamp.value.map(|t| (t - chrono::Duration::hours(7)).and_utc()),
        })
        .await?;
    if outcome == RemoteOutcome::Unknown {
        tracing::info!(package = remote_id, from = %st.from.organ_id, "exchange: a status on no document of ours (logged)");
    }
    Ok(())
}

/// A change whose document is not here: waited for (not acknowledged, fetched again later)
/// for a while, then logged as concerning nothing here.
async fn settle_unknown_change(
    state: &AppState,
    remote_id: &str,
    kind: &str,
    from: &str,
    document_id: &str,
    outcome: RemoteOutcome,
    age: chrono::Duration,
) -> Result<(), Failure> {
    if outcome != RemoteOutcome::Unknown {
        return Ok(());
    }
    if age < chrono::Duration::minutes(CHANGE_WAITS_FOR_DOCUMENT_MINUTES) {
        return Err(Failure::transient("document_not_yet_here", format!("the change waits for {document_id}")));
    }
    let picked = Picked { remote_id, kind, from, document_id };
    log_package(state, picked, "ignored", Some("no such document here".to_owned()), serde_json::json!({})).await
}

async fn our_agency(state: &AppState, code: &str) -> Option<vanban_store::AgencyRecord> {
    let c = vanban_domain::AgencyCode::parse(code).ok()?;
    state.store.get_agency_by_code(&c).await.ok()
}

async fn check_package_signature(state: &AppState, ex: &Exchange, bytes: &Bytes) -> Result<(), Failure> {
    let b = bytes.clone();
    let verified = state.cpu(move || edxml::verify_signature(&b)).await?;
    let problem = match verified {
        Ok(v) => {
            let pki = state.pki().await?;
            match Cert::from_der(&v.certificate_der) {
                Ok(cert) => {
                    let pool: Vec<Cert> = v.chain_der.iter().filter_map(|d| Cert::from_der(d).ok()).collect();
                    // The instance's own CRL, and the CRLs the certificates point to.
                    let mut all = vec![cert.clone()];
                    all.extend(pool.iter().cloned());
                    let revocation = pki.revocation(state, &all).await?;
                    let report = vanban_pki::validate_chain(&cert, &pool, &pki.trust, Utc::now(), &revocation);
                    // A transport certificate whose CA publishes no revocation data is judged
                    // by its chain and validity (the legal signatures are in the PDF).
                    let fatal = report.problems.iter().any(|p| p.code() != "no_revocation_data");
                    fatal.then(|| {
                        format!(
                            "chứng thư ký gói tin không hợp lệ: {}",
                            report.problems.first().map_or_else(String::new, |p| p.message_vi())
                        )
                    })
                }
                Err(e) => Some(format!("chứng thư ký gói tin không đọc được: {e}")),
            }
        }
        Err(e) => Some(e.message_vi()),
    };
    match problem {
        Some(p) if ex.config.require_package_signature => Err(Failure::permanent("edxml_bad_signature", p)),
        Some(p) => {
            tracing::warn!(problem = %p, "exchange: package signature not verified (accepted by policy)");
            Ok(())
        }
        None => Ok(()),
    }
}

/// The scope of an agency's clerk: what the worker receives belongs to the agency's clerks.
async fn clerk_scope(state: &AppState, agency: vanban_domain::AgencyId) -> Result<Scope, Failure> {
    let user = match state.store.agency_user_with_role(agency, Role::Clerk).await? {
        Some(u) => u,
        None => state
            .store
            .agency_user_with_role(agency, Role::Admin)
            .await?
            .ok_or_else(|| Failure::permanent("no_clerk", "cơ quan nhận chưa có văn thư"))?,
    };
    let caller = state.store.caller_for(user).await?;
    Ok(Scope::of(&caller))
}

fn doc_type_from_name(name: &str) -> DocumentType {
    let n = vanban_domain::fold_vi(name);
    DocumentType::ALL
        .into_iter()
        .find(|t| vanban_domain::fold_vi(t.name_vi()) == n)
        .unwrap_or_else(|| DocumentType::from_snake("cong_van").expect("công văn is a type"))
}

async fn take_edoc(
    state: &AppState,
    ex: &Exchange,
    remote_id: &str,
    edoc: edxml::Edoc,
    age: chrono::Duration,
) -> Result<(), Failure> {
    let h = &edoc.header;
    let business = &edoc.trace.business;
    // A package speaks for its own documents only: the issuer in the DocumentId is its From.
    let issuer_of = |id: &str| edxml::split_document_id(id).map(|(i, _, _)| i);
    if issuer_of(&h.document_id).as_deref() != Some(h.from.organ_id.as_str()) {
        return Err(Failure::permanent("edxml_not_the_sender", "mã văn bản (DocumentId) không phải của cơ quan gửi"));
    }
    // Which addressees are ours.
    let mut ours = Vec::new();
    for to in &h.to {
        if let Some(a) = our_agency(state, &to.organ_id).await {
            ours.push(a);
        }
    }
    if ours.is_empty() {
        return Err(Failure::permanent(
            "edxml_not_addressed_here",
            "gói tin không gửi cho cơ quan nào của hệ thống này",
        ));
    }
    let to_codes: Vec<&str> = ours.iter().map(|a| a.agency.code.as_str()).collect();
    match business.doc_type {
        edxml::BusinessDocType::Revoke | edxml::BusinessDocType::Update => {
            let kind = if business.doc_type == edxml::BusinessDocType::Revoke {
                ChangeKind::Revoke
            } else {
                ChangeKind::Update
            };
            let target =
                if business.document_id.is_empty() { h.document_id.clone() } else { business.document_id.clone() };
            if issuer_of(&target).as_deref() != Some(h.from.organ_id.as_str()) {
                return Err(Failure::permanent(
                    "edxml_not_the_sender",
                    "chỉ cơ quan ban hành mới được thu hồi, cập nhật văn bản",
                ));
            }
            let reason = if business.reason.is_empty() { kind.label_vi().to_owned() } else { business.reason.clone() };
            let update = (kind == ChangeKind::Update).then(|| update_in(&edoc)).flatten();
            let mut any_unknown = false;
            for a in &ours {
                let outcome =
                    apply_change(state, remote_id, a, &target, kind, &reason, &h.from.organ_id, update.clone()).await?;
                any_unknown |= outcome == RemoteOutcome::Unknown;
            }
            if any_unknown {
                // Waited for (an error, while young) or logged as concerning nothing here.
                return settle_unknown_change(
                    state,
                    remote_id,
                    "edoc",
                    &h.from.organ_id,
                    &target,
                    RemoteOutcome::Unknown,
                    age,
                )
                .await;
            }
            let picked = Picked { remote_id, kind: "edoc", from: &h.from.organ_id, document_id: &target };
            log_package(
                state,
                picked,
                "accepted",
                None,
                serde_json::json!({ "business": kind.as_str(), "to": to_codes }),
            )
            .await
        }
        // A replacement carries the new document; ReplacementInfo names those it replaces.
        edxml::BusinessDocType::Replace | edxml::BusinessDocType::New => {
            let refused = receive_new(state, ex, remote_id, &edoc, &ours).await?;
            if business.doc_type == edxml::BusinessDocType::Replace {
                let reason = if business.reason.is_empty() {
                    "Văn bản thay thế".to_owned()
                } else {
                    business.reason.clone()
                };
                for r in &business.replacements {
                    if issuer_of(&r.document_id).as_deref() != Some(h.from.organ_id.as_str()) {
                        continue;
                    }
                    for a in ours
                        .iter()
                        .filter(|a| r.organ_ids.is_empty() || r.organ_ids.iter().any(|c| c == a.agency.code.as_str()))
                    {
                        let why = format!("{reason} (thay thế bằng văn bản số {}/{})", h.code.number, h.code.notation);
                        apply_change(
                            state,
                            remote_id,
                            a,
                            &r.document_id,
                            ChangeKind::Replace,
                            &why,
                            &h.from.organ_id,
                            None,
                        )
                        .await?;
                    }
                }
            }
            let detail = serde_json::json!({ "to": to_codes, "refused": refused, "symbol": format!("{}/{}", h.code.number, h.code.notation) });
            let picked = Picked { remote_id, kind: "edoc", from: &h.from.organ_id, document_id: &h.document_id };
            if refused.len() == ours.len() {
                let reason = Some("no addressee here can receive it".to_owned());
                return log_package(state, picked, "rejected", reason, detail).await;
            }
            log_package(state, picked, "accepted", None, detail).await?;
            // The status 01 rows receive_incoming wrote go out now.
            state.exchange_kick().notify_one();
            Ok(())
        }
    }
}

/// The package as picked up: its axis id, `edoc` or `status`, From and DocumentId.
struct Picked<'a> {
    remote_id: &'a str,
    kind: &'a str,
    from: &'a str,
    document_id: &'a str,
}

/// Logs what became of a package (`accepted`, `rejected`, `ignored`) in the exchange inbox.
async fn log_package(
    state: &AppState,
    p: Picked<'_>,
    outcome: &str,
    reason: Option<String>,
    detail: serde_json::Value,
) -> Result<(), Failure> {
    let rec = InboundRecord {
        remote_id: p.remote_id.to_owned(),
        kind: p.kind.to_owned(),
        from_code: p.from.to_owned(),
        document_id: p.document_id.to_owned(),
        outcome: outcome.to_owned(),
        reason,
        detail,
        received_at: Utc::now(),
    };
    state.store.record_inbound(rec).await?;
    Ok(())
}

/// The corrected metadata an update package carries: its header's subject, urgency and reply
/// deadline, when `BussinessDocumentInfo/DocumentInfo` is 1 (the metadata changed). Without
/// it (a recipient list change, or a system that sends none) the update is its reason only.
fn update_in(edoc: &edxml::Edoc) -> Option<MetadataChange> {
    let info = edoc.trace.business.document_info.as_ref()?;
    if info.document_info.trim() != "1" {
        return None;
    }
    let h = &edoc.header;
    let change = MetadataChange {
        subject: Some(h.subject.trim().to_owned()).filter(|s| !s.is_empty()),
        priority: h.other_info.priority.trim().parse::<u8>().ok().and_then(Priority::from_code),
        due_date: h.due_date.as_ref().and_then(|d| d.date),
    };
    (!change.is_empty()).then_some(change)
}

/// A change for one of our agencies (one package may address several: applied once for each).
#[allow(clippy::too_many_arguments)]
async fn apply_change(
    state: &AppState,
    remote_id: &str,
    agency: &vanban_store::AgencyRecord,
    target: &str,
    kind: ChangeKind,
    reason: &str,
    from: &str,
    update: Option<MetadataChange>,
) -> Result<RemoteOutcome, Failure> {
    Ok(state
        .store
        .apply_remote_change(RemoteChange {
            remote_id: format!("{remote_id}@{}", agency.agency.code.as_str()),
            agency_id: agency.agency.id,
            source_key: format!("edxml:{target}"),
            kind,
            reason: reason.to_owned(),
            from_code: from.to_owned(),
            update,
        })
        .await?)
}

/// Receives a new document for each of our addressees. An addressee that cannot receive it
/// (no clerk) is answered with its own status 02; the others receive it. Returns the codes
/// refused.
async fn receive_new(
    state: &AppState,
    ex: &Exchange,
    remote_id: &str,
    edoc: &edxml::Edoc,
    ours: &[vanban_store::AgencyRecord],
) -> Result<Vec<String>, Failure> {
    let h = &edoc.header;
    // The document's file: the first PDF attachment.
    let pdf = edoc
        .attachments
        .iter()
        .find(|a| a.data.starts_with(b"%PDF"))
        .ok_or_else(|| Failure::permanent("edxml_no_pdf", "gói tin không có tệp văn bản PDF"))?;
    let pdf_bytes = Bytes::from(pdf.data.clone());
    let report = crate::signing::verify_bytes(state, pdf_bytes.clone()).await.map_err(|e| match e {
        // The file itself: refused. Anything else (the database, the CA): tried again later.
        AppError::Signing(_) => Failure::permanent("pdf_unreadable", e),
        other => Failure::from(other),
    })?;
    let require_signed = state.config.exchange.as_ref().is_some_and(|c| c.require_signed_pdf);
    match (report.signatures.is_empty(), report.verdict) {
        (false, vanban_pades::verify::Verdict::Valid) => {}
        // Missing revocation data (a CA's CRL server down) says nothing against the signature.
        (false, vanban_pades::verify::Verdict::Indeterminate) if report.reason == "no_revocation_data" => {
            tracing::warn!(
                package = remote_id,
                "exchange: PDF signatures valid but their revocation is unknown (accepted)"
            );
        }
        _ if !require_signed => {}
        (true, _) => return Err(Failure::permanent("pdf_unsigned", "văn bản chưa được ký số")),
        _ => {
            return Err(Failure::permanent(
                "pdf_signature_invalid",
                format!("chữ ký số trên văn bản không hợp lệ: {}", report.reason_vi),
            ));
        }
    }
    let pdf_sha = state.blobs.put(pdf_bytes).await.map_err(|e| Failure::transient("blob", e))?.sha256;
    let issued_on = h.promulgation_date.date;
    let priority = h.other_info.priority.parse::<u8>().ok().and_then(Priority::from_code).unwrap_or_default();
    let symbol = if h.code.number.is_empty() {
        h.code.notation.clone()
    } else {
        format!("{}/{}", h.code.number, h.code.notation)
    };
    let metadata = serde_json::json!({
        "priority": priority.as_str(),
        // The reply deadline as the instance's own documents keep it (YYYY-MM-DD).
        "due_date": h.due_date.as_ref().and_then(|d| d.date).map(|d| d.format("%Y-%m-%d").to_string()),
        "edxml": {
            "remote_id": remote_id,
            "document_id": h.document_id,
            "type_name": h.document_type.type_name,
            "signer": h.signer,
            "due_date": h.due_date.as_ref().map(|d| d.raw.clone()),
            "to_places": h.to_places,
            "signature_verdict": report.verdict,
        },
    });
    let mut refused = Vec::new();
    for a in ours {
        let scope = match clerk_scope(state, a.agency.id).await {
            Ok(s) => s,
            Err(f) if f.transient => return Err(f),
            Err(f) => {
                let routing = edxml::Routing {
                    kind: edxml::PackageKind::Edoc,
                    from: h.from.organ_id.clone(),
                    to: vec![a.agency.code.as_str().to_owned()],
                    document_id: h.document_id.clone(),
                    business: Some(edoc.trace.business.doc_type),
                    status_code: None,
                };
                send_refusal(state, ex, remote_id, &routing, &h.document_id, &h.from.organ_id, &f).await?;
                refused.push(a.agency.code.as_str().to_owned());
                continue;
            }
        };
        let new = NewIncoming {
            source_key: format!("edxml:{}", h.document_id),
            sender_code: h.from.organ_id.clone(),
            sender_name: if h.from.organ_name.is_empty() { h.from.organ_id.clone() } else { h.from.organ_name.clone() },
            symbol: symbol.chars().take(100).collect(),
            issued_on,
            draft: IncomingDraft {
                doc_type: doc_type_from_name(&h.document_type.type_name),
                subject: h.subject.clone(),
                priority,
                metadata: metadata.clone(),
            },
            pdf_sha256: Some(pdf_sha.clone()),
            ocr_sha256: None,
            scanned: false,
        };
        state.store.receive_incoming(&Actor::system("exchange"), &scope, new).await?;
    }
    Ok(refused)
}

// ---------------------------------------------------------------------------------------------
// The operators' view
// ---------------------------------------------------------------------------------------------

mod view {
    use askama::Template;
    use axum::Json;
    use axum::extract::{Path, Query, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use vanban_domain::Permission;

    use crate::AppState;
    use crate::auth::{ApiSession, PageSession, Session};
    use crate::error::{ApiError, AppError, PageError};
    use crate::incoming::DoneQ;
    use crate::pages::{FormData, Nav, Notice, format_vn_time, redirect_done, render_page};

    /// The exchange is the instance's, not an agency's: its operators are the administrators
    /// of a top-level agency (the province's).
    fn require_operator(s: &Session) -> Result<(), AppError> {
        s.caller.require(Permission::ManageUsers)?;
        if s.agency.agency.parent_id.is_some() {
            return Err(AppError::Forbidden("exchange operators are the top-level agency's administrators"));
        }
        Ok(())
    }

    pub struct OutRow {
        pub id: String,
        pub recipient: String,
        pub kind: String,
        pub state: String,
        pub attempts: i32,
        pub remote_id: String,
        pub error: String,
        pub created: String,
        pub failed: bool,
    }

    pub struct InRow {
        pub from: String,
        pub kind: String,
        pub document: String,
        pub outcome: String,
        pub reason: String,
        pub at: String,
    }

    #[derive(Template)]
    #[template(path = "exchange.html")]
    struct ExchangePage {
        nav: Nav,
        notice: Option<Notice>,
        endpoint: String,
        queued: i64,
        sent: i64,
        failed: i64,
        oldest: Option<String>,
        outbox: Vec<OutRow>,
        inbox: Vec<InRow>,
    }

    fn state_vi(s: &str) -> &'static str {
        match s {
            "queued" => "Đang chờ gửi",
            "sent" => "Đã gửi lên trục",
            "failed" => "Lỗi (trục từ chối)",
            "accepted" => "Đã tiếp nhận",
            "rejected" => "Từ chối (đã báo 02)",
            "ignored" => "Bỏ qua",
            _ => "—",
        }
    }

    async fn page(
        State(state): State<AppState>,
        PageSession(s): PageSession,
        Query(q): Query<DoneQ>,
    ) -> Result<Response, PageError> {
        require_operator(&s)?;
        let stats = state.store.outbox_stats().await.map_err(AppError::from)?;
        let outbox = state.store.list_outbox(None, 200).await.map_err(AppError::from)?;
        let inbox = state.store.list_inbound(200).await.map_err(AppError::from)?;
        let page = ExchangePage {
            nav: Nav::of(&s),
            notice: Notice::done(q.done.as_deref()),
            endpoint: state.config.exchange.as_ref().map_or_else(|| "chưa cấu hình".to_owned(), |c| c.endpoint.clone()),
            queued: stats.queued,
            sent: stats.sent,
            failed: stats.failed,
            oldest: stats.oldest_queued.map(format_vn_time),
            outbox: outbox
                .iter()
                .rev()
                .map(|o| OutRow {
                    id: o.id.to_string(),
                    recipient: o.recipient_code.clone(),
                    kind: o.kind.clone(),
                    state: state_vi(&o.state).to_owned(),
                    attempts: o.attempts,
                    remote_id: o.remote_id.clone().unwrap_or_default(),
                    error: o.last_error.clone().unwrap_or_default(),
                    created: format_vn_time(o.created_at),
                    failed: o.state == "failed",
                })
                .collect(),
            inbox: inbox
                .iter()
                .map(|i| InRow {
                    from: i.from_code.clone(),
                    kind: i.kind.clone(),
                    document: i.document_id.clone(),
                    outcome: state_vi(&i.outcome).to_owned(),
                    reason: i.reason.clone().unwrap_or_default(),
                    at: format_vn_time(i.received_at),
                })
                .collect(),
        };
        render_page(StatusCode::OK, &page)
    }

    async fn retry_post(
        State(state): State<AppState>,
        PageSession(s): PageSession,
        Path(id): Path<String>,
        form: FormData,
    ) -> Result<Response, PageError> {
        s.check_csrf(form.get("csrf"))?;
        require_operator(&s)?;
        let id = uuid::Uuid::parse_str(&id).map_err(|_| AppError::Store(vanban_store::StoreError::NotFound))?;
        state.store.retry_outbox(&s.actor(), id).await.map_err(AppError::from)?;
        state.exchange_kick().notify_one();
        Ok(redirect_done("/exchange", "outbox_retried"))
    }

    async fn api_get(State(state): State<AppState>, ApiSession(s): ApiSession) -> Result<Response, ApiError> {
        require_operator(&s)?;
        let stats = state.store.outbox_stats().await.map_err(AppError::from)?;
        let outbox = state.store.list_outbox(None, 1000).await.map_err(AppError::from)?;
        let inbox = state.store.list_inbound(1000).await.map_err(AppError::from)?;
        // The transport's state only: no subject or other content of any agency's document.
        let outbox: Vec<_> = outbox
            .iter()
            .map(|o| {
                serde_json::json!({
                    "id": o.id, "kind": o.kind, "recipient_code": o.recipient_code, "state": o.state,
                    "attempts": o.attempts, "next_attempt_at": o.next_attempt_at, "last_error": o.last_error,
                    "created_at": o.created_at, "sent_at": o.sent_at, "remote_id": o.remote_id,
                    "business": o.payload.get("business"), "status_code": o.payload.get("status_code"),
                })
            })
            .collect();
        Ok(Json(serde_json::json!({
            "endpoint": state.config.exchange.as_ref().map(|c| c.endpoint.clone()),
            "stats": stats,
            "outbox": outbox,
            "inbox": inbox,
        }))
        .into_response())
    }

    async fn api_retry(
        State(state): State<AppState>,
        ApiSession(s): ApiSession,
        Path(id): Path<String>,
    ) -> Result<Response, ApiError> {
        require_operator(&s)?;
        let id = uuid::Uuid::parse_str(&id).map_err(|_| AppError::Store(vanban_store::StoreError::NotFound))?;
        state.store.retry_outbox(&s.actor(), id).await.map_err(AppError::from)?;
        state.exchange_kick().notify_one();
        Ok(Json(serde_json::json!({ "retried": id })).into_response())
    }

    pub fn routes() -> axum::Router<AppState> {
        use axum::routing::{get, post};
        axum::Router::new()
            .route("/exchange", get(page))
            .route("/exchange/outbox/{id}/retry", post(retry_post))
            .route("/api/v1/exchange", get(api_get))
            .route("/api/v1/exchange/outbox/{id}/retry", post(api_retry))
    }
}

pub use view::routes;
