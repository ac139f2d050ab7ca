//! What vanban fetches from other PKIs over HTTP(S): timestamps from a licensed RFC 3161 TSA
//! (instead of the instance's own), and the CRLs other CAs publish for the certificates in
//! the files vanban validates and signs.

use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// An HTTP client for http:// and https:// (rustls with ring), trusting the system's CA
/// certificates plus `extra_roots` (an agency's private CA).
pub fn https_client(
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>, String> {
    let https = vanban_axis::https_connector(extra_roots.into_iter().map(|c| c.to_vec()).collect())?;
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Largest CRL fetched (a national CA's CRL is a few MB).
const MAX_CRL_BYTES: usize = 32 * 1024 * 1024;

/// A fetched CRL and until when it is used.
type Cached = (std::sync::Arc<Vec<u8>>, chrono::DateTime<chrono::Utc>);

/// CRLs published by other CAs, fetched from the addresses their certificates give and kept
/// until their nextUpdate (at most a day).
pub struct CrlFetcher {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    cache: tokio::sync::Mutex<std::collections::HashMap<String, Cached>>,
}

impl CrlFetcher {
    pub fn new() -> Result<CrlFetcher, String> {
        Ok(CrlFetcher { client: https_client(Vec::new())?, cache: Default::default() })
    }

    /// The CRL at `url` (DER, checked to parse), from the cache while it is current. A CA that
    /// cannot be reached gives `None`: validation then reports "no revocation data", never a
    /// crash.
    pub async fn get(&self, url: &str) -> Option<std::sync::Arc<Vec<u8>>> {
        let now = chrono::Utc::now();
        if let Some((der, until)) = self.cache.lock().await.get(url)
            && now < *until
        {
            return Some(der.clone());
        }
        let req = hyper::Request::get(url).body(Full::new(Bytes::new())).ok()?;
        // One deadline for the whole fetch, body included: a slow server cannot hold a request.
        let fetch = async {
            let resp = self.client.request(req).await.ok().filter(|r| r.status().is_success())?;
            let body = http_body_util::Limited::new(resp.into_body(), MAX_CRL_BYTES);
            Some(body.collect().await.ok()?.to_bytes().to_vec())
        };
        let Ok(Some(bytes)) = tokio::time::timeout(Duration::from_secs(15), fetch).await else {
            tracing::warn!(url, "cannot fetch a CRL");
            return None;
        };
        let crl = vanban_pki::Crl::from_der(&bytes).ok()?;
        let until = crl.next_update().unwrap_or(now + chrono::Duration::hours(1)).min(now + chrono::Duration::days(1));
        let der = std::sync::Arc::new(bytes);
        let mut cache = self.cache.lock().await;
        // A bounded cache: a few hundred CAs at most in practice.
        if cache.len() >= 256 {
            cache.retain(|_, (_, u)| now < *u);
            if cache.len() >= 256 {
                cache.clear();
            }
        }
        cache.insert(url.to_owned(), (der.clone(), until));
        Some(der)
    }
}

/// A remote TSA.
pub struct RemoteTsa {
    url: String,
    /// The TSA's certificate must chain to one of these (a token from anyone else is refused).
    trust: vanban_pki::TrustStore,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
}

impl RemoteTsa {
    /// A client for `url` (http:// or https://, the system's CA certificates), driven by the
    /// current Tokio runtime.
    pub fn new(url: &str, trust: vanban_pki::TrustStore) -> Result<RemoteTsa, String> {
        Ok(RemoteTsa {
            url: url.to_owned(),
            trust,
            client: https_client(Vec::new())?,
            runtime: tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?,
        })
    }

    async fn post(&self, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let req = hyper::Request::post(&self.url)
            .header("content-type", "application/timestamp-query")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let call = async {
            let resp = self.client.request(req).await.map_err(|e| format!("{}: {e}", self.url))?;
            let status = resp.status();
            let body = http_body_util::Limited::new(resp.into_body(), 256 * 1024);
            let bytes = body.collect().await.map_err(|e| format!("{}: {e}", self.url))?.to_bytes();
            if !status.is_success() {
                return Err(format!("{} answered HTTP {status}", self.url));
            }
            Ok(bytes.to_vec())
        };
        tokio::time::timeout(Duration::from_secs(20), call)
            .await
            .map_err(|_| format!("{} did not answer in 20 s", self.url))?
    }
}

impl vanban_pades::Timestamper for RemoteTsa {
    fn stamp(&self, digest: &[u8; 32]) -> vanban_pades::Result<Vec<u8>> {
        let nonce = u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8])) ^ rand::random::<u64>();
        let req = vanban_pki::timestamp_request(digest, Some(nonce), true)?;
        let resp = self
            .runtime
            .block_on(self.post(req))
            .map_err(|e| vanban_pades::PadesError::Pki(vanban_pki::PkiError::TimestampRejected(e)))?;
        let token = vanban_pki::token_from_response(&resp)?;
        let parsed = vanban_pki::parse_and_verify_token(&token)?;
        let same_nonce = parsed.nonce.as_deref().is_some_and(|n| {
            let strip = |b: &[u8]| b.iter().skip_while(|x| **x == 0).copied().collect::<Vec<u8>>();
            strip(n) == strip(&nonce.to_be_bytes())
        });
        let chain = match &parsed.signer {
            Some(signer) => {
                vanban_pki::validate_chain(signer, &parsed.certs, &self.trust, parsed.gen_time, &Default::default())
                    .trusted
            }
            None => false,
        };
        if !chain {
            return Err(vanban_pades::PadesError::Pki(vanban_pki::PkiError::TimestampRejected(
                "the timestamp authority is not under a trust anchor".into(),
            )));
        }
        if parsed.imprint != digest || !same_nonce {
            return Err(vanban_pades::PadesError::Pki(vanban_pki::PkiError::TimestampRejected(
                "the token is not for this request".into(),
            )));
        }
        Ok(token)
    }

    fn token_len_max(&self) -> usize {
        // A token carries the TSA's certificate chain: room for three large certificates.
        12 * 1024
    }
}
