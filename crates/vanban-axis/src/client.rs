//! An HTTP(S) client of the axis: every request signed with the system's credentials.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt as _, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::{Agency, Answer, Credentials, ListAnswer, Pickup, ReceivedItem, SentItem, auth};

type Body = BoxBody<Bytes, std::convert::Infallible>;

/// An HTTP connector for http:// and https:// (rustls with ring), trusting the system's CA
/// certificates plus `extra_roots` (DER; an agency's private CA). Shared with the server's
/// other outgoing HTTP (timestamps, CRLs).
pub fn https_connector(extra_roots: Vec<Vec<u8>>) -> Result<HttpsConnector<HttpConnector>, String> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for der in extra_roots {
        roots.add(rustls::pki_types::CertificateDer::from(der)).map_err(|e| format!("unusable CA certificate: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config).https_or_http().enable_http1().build())
}

/// Why a call failed. [`ClientError::is_transient`] tells the worker whether to retry.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The axis could not be reached, or answered 5xx / garbage: try again later.
    #[error("axis unreachable: {0}")]
    Transport(String),
    /// The axis answered FAIL: the request itself is refused.
    #[error("axis refused ({code}): {desc}")]
    Refused { code: String, desc: String, http: u16 },
}

impl ClientError {
    /// The code of [`ClientError::Transport`]: the axis could not be reached at all.
    pub const UNREACHABLE: &'static str = "axis_unreachable";

    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport(_) => true,
            // Throttling and the axis's own trouble pass; everything else is the request's.
            // An addressee (or this system's own agency) may be registered a moment later.
            ClientError::Refused { http, code, .. } => {
                // 401: a clock or secret to fix on one side, not a fault of this request.
                *http == 401
                    || *http == 429
                    || *http >= 500
                    || code == "unknown_recipient"
                    || code == "sender_not_registered"
            }
        }
    }
    pub fn code(&self) -> &str {
        match self {
            ClientError::Transport(_) => Self::UNREACHABLE,
            ClientError::Refused { code, .. } => code,
        }
    }
}

/// A client of one axis endpoint.
#[derive(Clone)]
pub struct AxisClient {
    endpoint: String,
    creds: Credentials,
    http: Client<HttpsConnector<HttpConnector>, Body>,
    timeout: Duration,
}

impl std::fmt::Debug for AxisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxisClient").field("endpoint", &self.endpoint).field("system", &self.creds.system_id).finish()
    }
}

impl AxisClient {
    /// `endpoint` is the axis's base URL (`http://127.0.0.1:7400`, `https://axis.example.vn`);
    /// plain HTTP is for loopback and private networks only, as the operator decides.
    /// `extra_roots` (DER) are CAs trusted besides the system's (a province's private CA).
    pub fn new(endpoint: &str, creds: Credentials, extra_roots: Vec<Vec<u8>>) -> Result<AxisClient, String> {
        let https = https_connector(extra_roots)?;
        let http = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(https);
        Ok(AxisClient {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            creds,
            http,
            timeout: Duration::from_secs(60),
        })
    }

    pub fn system_id(&self) -> &str {
        &self.creds.system_id
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn call(
        &self,
        path: &str,
        logical: &[(&str, &str)],
        body: Body,
        content_type: &str,
        timeout: Duration,
    ) -> Result<(u16, Option<String>, Bytes), ClientError> {
        let mut req = hyper::Request::post(format!("{}{path}", self.endpoint))
            .header(hyper::header::CONTENT_TYPE, content_type)
            .header(hyper::header::USER_AGENT, "vanban-exchange/1.0 XRoad/VPCP");
        // The path is signed too, so a captured request cannot be replayed at another route.
        let mut logical = logical.to_vec();
        logical.push(("path", path));
        for (k, v) in auth::sign(&self.creds, &logical, Utc::now()) {
            req = req.header(k, v);
        }
        let req = req.body(body).map_err(|e| ClientError::Transport(e.to_string()))?;
        let fut = async {
            let resp = self.http.request(req).await.map_err(|e| ClientError::Transport(e.to_string()))?;
            let status = resp.status().as_u16();
            let ct = resp.headers().get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = resp.into_body().collect().await.map_err(|e| ClientError::Transport(e.to_string()))?.to_bytes();
            Ok((status, ct, body))
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| ClientError::Transport("timed out".to_owned()))?
    }

    async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        logical: &[(&str, &str)],
        json: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let body = json.map(|j| Bytes::from(j.to_string())).unwrap_or_default();
        // A body is signed by its SHA-256.
        let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &body).as_ref());
        let mut logical = logical.to_vec();
        if !body.is_empty() {
            logical.push(("bodysha256", sha.as_str()));
        }
        let (status, _, bytes) =
            self.call(path, &logical, Full::new(body).boxed(), "application/json", timeout).await?;
        parse_answer(status, &bytes)
    }

    /// Sends a package (`/sendEdoc`, multipart `file_doc`). `key` identifies it across
    /// resends (the axis answers a resend with the first DocID). The package is not copied.
    pub async fn send(&self, message_type: &str, from: &str, key: &str, package: Bytes) -> Result<Answer, ClientError> {
        let boundary = format!("vanban{:016x}", rand_u64());
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file_doc\"; filename=\"package.edxml\"\r\nContent-Type: application/xml\r\n\r\n"
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &package).as_ref());
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
            vec![Ok(Frame::data(Bytes::from(head))), Ok(Frame::data(package)), Ok(Frame::data(Bytes::from(tail)))];
        let body = StreamBody::new(futures::stream::iter(frames)).boxed();
        let logical = [
            ("from", from),
            ("servicetype", "eDoc"),
            ("messagetype", message_type),
            ("idempotencykey", key),
            ("bodysha256", sha.as_str()),
        ];
        let (status, _, bytes) = self
            .call("/sendEdoc", &logical, body, &format!("multipart/form-data; boundary={boundary}"), self.timeout)
            .await?;
        let a: Answer = parse_answer(status, &bytes)?;
        Ok(a)
    }

    /// Packages waiting for this system. With `wait`, the axis holds the request until one
    /// arrives or the time is up (vanban's hub; other axes answer at once).
    pub async fn received(
        &self,
        message_type: &str,
        limit: usize,
        wait: Option<Duration>,
    ) -> Result<Vec<ReceivedItem>, ClientError> {
        let limit = limit.to_string();
        let wait_ms = wait.map(|w| w.as_millis().to_string()).unwrap_or_default();
        let mut logical = vec![("servicetype", "eDoc"), ("messagetype", message_type), ("limit", limit.as_str())];
        if wait.is_some() {
            logical.push(("wait", wait_ms.as_str()));
        }
        let timeout = self.timeout + wait.unwrap_or_default();
        let a: ListAnswer<ReceivedItem> = self.call_json("/getReceivedEdocList", &logical, None, timeout).await?;
        Ok(a.data)
    }

    /// One package's bytes.
    pub async fn get(&self, doc_id: &str) -> Result<Bytes, ClientError> {
        let (status, ct, bytes) = self
            .call("/getEdoc", &[("docId", doc_id)], Full::new(Bytes::new()).boxed(), "application/json", self.timeout)
            .await?;
        if status == 200 && !ct.as_deref().is_some_and(|c| c.starts_with("application/json")) {
            return Ok(bytes);
        }
        let a: Answer = parse_answer(status, &bytes)?;
        Err(ClientError::Refused { code: a.error_code, desc: a.error_desc, http: status })
    }

    /// Acknowledges the pickup of a received package.
    pub async fn ack(&self, doc_id: &str, pickup: Pickup) -> Result<(), ClientError> {
        let _: Answer = self
            .call_json("/updateStatus", &[("docId", doc_id), ("status", pickup.as_str())], None, self.timeout)
            .await?;
        Ok(())
    }

    /// Packages this system sent, with each addressee's pickup state (one, or the latest).
    pub async fn sent(&self, doc_id: Option<&str>) -> Result<Vec<SentItem>, ClientError> {
        let mut logical = vec![("servicetype", "eDoc")];
        if let Some(d) = doc_id {
            logical.push(("docId", d));
        }
        let a: ListAnswer<SentItem> = self.call_json("/getSentEdocList", &logical, None, self.timeout).await?;
        Ok(a.data)
    }

    /// The axis's agency directory.
    pub async fn agencies(&self) -> Result<Vec<Agency>, ClientError> {
        let a: ListAnswer<Agency> = self.call_json("/getAgenciesList", &[], None, self.timeout).await?;
        Ok(a.data)
    }

    /// Registers (or updates) an agency this system receives for.
    pub async fn register_agency(&self, agency: &Agency) -> Result<(), ClientError> {
        let json = serde_json::to_value(agency).map_err(|e| ClientError::Transport(e.to_string()))?;
        let _: Answer = self.call_json("/registerAgency", &[], Some(&json), self.timeout).await?;
        Ok(())
    }
}

fn parse_answer<T: serde::de::DeserializeOwned>(status: u16, bytes: &[u8]) -> Result<T, ClientError> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| ClientError::Transport(format!("HTTP {status}: not a JSON answer ({} bytes)", bytes.len())))?;
    let ok = v.get("status").and_then(|s| s.as_str()) == Some("OK");
    if !ok || status >= 400 {
        let code = v.get("ErrorCode").and_then(|s| s.as_str()).unwrap_or("axis_fail").to_owned();
        let desc = v.get("ErrorDesc").and_then(|s| s.as_str()).unwrap_or("").to_owned();
        if status >= 500 && code == "axis_fail" {
            return Err(ClientError::Transport(format!("HTTP {status}")));
        }
        return Err(ClientError::Refused { code, desc, http: status });
    }
    serde_json::from_value(v).map_err(|e| ClientError::Transport(format!("unexpected answer: {e}")))
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("the system RNG works");
    u64::from_le_bytes(b)
}
