//! A client of an RFC 3161 timestamp authority over HTTP(S): a licensed TSA (the national one)
//! instead of the instance's own. Used from the blocking signing threads.

use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A remote TSA.
pub struct RemoteTsa {
    url: String,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
}

impl RemoteTsa {
    /// A client for `url` (http:// or https://, the system's CA certificates), driven by the
    /// current Tokio runtime.
    pub fn new(url: &str) -> Result<RemoteTsa, String> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config).https_or_http().enable_http1().build();
        Ok(RemoteTsa {
            url: url.to_owned(),
            client: Client::builder(TokioExecutor::new()).build(https),
            runtime: tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?,
        })
    }

    async fn post(&self, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let req = hyper::Request::post(&self.url)
            .header("content-type", "application/timestamp-query")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = tokio::time::timeout(Duration::from_secs(20), self.client.request(req))
            .await
            .map_err(|_| format!("{} did not answer in 20 s", self.url))?
            .map_err(|e| format!("{}: {e}", self.url))?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        if !status.is_success() {
            return Err(format!("{} answered HTTP {status}", self.url));
        }
        Ok(bytes.to_vec())
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
