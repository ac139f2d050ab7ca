//! `vanban sign-agent`: signs on the signer's own computer with a key on a USB token (PKCS#11).
//!
//! The server prepares the signature revision and hands out the bytes to sign (phase one); the
//! agent signs them on the token and returns the value (phase two); the server checks the value
//! against the registered certificate and embeds it. The key never leaves the token and the
//! document never leaves the server.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use vanban_pki::{Pkcs11Key, Pkcs11Token, RawSigner as _, ToBeSigned};

/// Options of `vanban sign-agent`.
#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    /// The token's PKCS#11 module (the CA's driver, e.g. the Viettel-CA or VNPT-CA library).
    #[arg(long, env = "VANBAN_PKCS11_MODULE", default_value = "/usr/lib/softhsm/libsofthsm2.so")]
    pub module: PathBuf,
    /// The token's label, when several are plugged in.
    #[arg(long)]
    pub token: Option<String>,
    /// The key's label, when the token holds several.
    #[arg(long)]
    pub key_label: Option<String>,
    /// The environment variable holding the token PIN (read from standard input when unset).
    #[arg(long, default_value = "VANBAN_TOKEN_PIN")]
    pub pin_env: String,
    /// Print the token's certificates (PEM, with the chain when stored) and exit: register them
    /// under "Chữ ký số → Thiết bị ký số".
    #[arg(long)]
    pub export_certificate: bool,
    /// The vanban server, e.g. https://vanban.binhan.gov.vn (http:// only on this computer).
    #[arg(long)]
    pub server: Option<String>,
    /// A PEM file of CA certificates to trust for the server's TLS certificate, besides the
    /// system's (an agency's private CA).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    #[arg(long)]
    pub username: Option<String>,
    /// The environment variable holding the password (read from standard input when unset).
    #[arg(long, default_value = "VANBAN_PASSWORD")]
    pub password_env: String,
    /// A signing session the server opened (from the document page).
    #[arg(long)]
    pub session: Option<String>,
    /// Or: open the session here, for this document …
    #[arg(long)]
    pub document: Option<String>,
    /// … with this registered certificate (its id on the server).
    #[arg(long)]
    pub certificate: Option<String>,
}

fn secret(var: &str, what: &str) -> anyhow::Result<String> {
    if let Ok(v) = std::env::var(var) {
        return Ok(v);
    }
    eprint!("{what}: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("cannot read from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn pick(keys: Vec<Pkcs11Key>, label: Option<&str>) -> anyhow::Result<Pkcs11Key> {
    let mut keys: Vec<Pkcs11Key> = keys.into_iter().filter(|k| label.is_none_or(|l| k.label == l)).collect();
    match keys.len() {
        0 => bail!("no matching private key on the token"),
        1 => Ok(keys.remove(0)),
        _ => {
            let labels: Vec<String> = keys.iter().map(|k| k.label.clone()).collect();
            bail!("several keys on the token ({}): choose one with --key-label", labels.join(", "))
        }
    }
}

struct Api {
    base: String,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    cookie: String,
    csrf: String,
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("accept", "application/json");
        if !self.cookie.is_empty() {
            req = req.header("cookie", &self.cookie).header("x-csrf-token", &self.csrf);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Full::new(Bytes::from(b.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let resp = self.client.request(req.body(body)?).await.with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("vanban_session="))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let bytes = resp.into_body().collect().await?.to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        if !status.is_success() {
            let code = json["error"]["code"].as_str().unwrap_or("?");
            let vi = json["error"]["message_vi"].as_str().unwrap_or("");
            bail!("{method} {path}: HTTP {status} [{code}] {vi}");
        }
        if let Some(c) = cookie {
            return Ok(serde_json::json!({ "cookie": c, "body": json }));
        }
        Ok(json)
    }
}

/// HTTPS (and loopback HTTP) with the system's CA certificates plus an optional private CA.
fn connector_client(
    ca_file: Option<&std::path::Path>,
) -> anyhow::Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut extra = Vec::new();
    if let Some(path) = ca_file {
        extra = CertificateDer::pem_file_iter(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is not a PEM file of certificates", path.display()))?;
        anyhow::ensure!(!extra.is_empty(), "{} holds no certificate", path.display());
    }
    vanban_server::fetch::https_client(extra).map_err(|e| anyhow!(e))
}

/// https:// anywhere; plain http:// only to this computer (a password travels to the server).
fn check_server_url(server: &str) -> anyhow::Result<()> {
    let uri: hyper::Uri = server.parse().with_context(|| format!("{server:?} is not a URL"))?;
    let authority = uri.authority().context("the server URL has no host")?;
    if authority.as_str().contains('@') {
        bail!("the server URL must not carry a user name or password");
    }
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if matches!(authority.host(), "127.0.0.1" | "localhost" | "[::1]" | "::1") => Ok(()),
        _ => bail!(
            "the server must be https:// (a password and a signature travel to it); http:// only for this computer"
        ),
    }
}

/// Runs the agent.
pub async fn run(args: &AgentArgs) -> anyhow::Result<()> {
    let pin = secret(&args.pin_env, "Mã PIN của thiết bị ký số")?;
    let module = args.module.clone();
    let token_label = args.token.clone();
    let token = tokio::task::spawn_blocking(move || Pkcs11Token::open(&module, token_label.as_deref(), &pin))
        .await?
        .map_err(|e| anyhow!("{e} ({})", e.message_vi()))?;
    let keys = token.signers().map_err(|e| anyhow!("{e}"))?;
    if args.export_certificate {
        let key = pick(keys, args.key_label.as_deref())?;
        let cert =
            key.certificate.as_ref().ok_or_else(|| anyhow!("the key {} has no certificate on the token", key.label))?;
        print!("{}", cert.to_pem());
        return Ok(());
    }
    let key = pick(keys, args.key_label.as_deref())?;
    let server = args.server.as_deref().context("--server is required to sign")?.trim_end_matches('/').to_owned();
    check_server_url(&server)?;
    let username = args.username.as_deref().context("--username is required to sign")?;
    let password = secret(&args.password_env, "Mật khẩu")?;
    let mut api = Api {
        base: server,
        client: connector_client(args.ca_file.as_deref())?,
        cookie: String::new(),
        csrf: String::new(),
    };
    let login = api
        .call("POST", "/api/v1/session", Some(serde_json::json!({ "username": username, "password": password })))
        .await?;
    api.cookie = login["cookie"].as_str().unwrap_or_default().to_owned();
    api.csrf = login["body"]["csrf_token"].as_str().unwrap_or_default().to_owned();

    let session = match (&args.session, &args.document, &args.certificate) {
        (Some(s), _, _) => api.call("GET", &format!("/api/v1/signing-sessions/{s}"), None).await?,
        (None, Some(d), Some(c)) => {
            api.call(
                "POST",
                &format!("/api/v1/documents/{d}/signing-sessions"),
                Some(serde_json::json!({ "certificate_id": c })),
            )
            .await?
        }
        _ => bail!("give --session, or --document with --certificate"),
    };
    let id = session["id"].as_str().context("no session id")?.to_owned();
    let tbs_hex = session["to_be_signed_hex"].as_str().context("no bytes to sign")?;
    let message = hex::decode(tbs_hex).context("bytes to sign")?;
    let tbs = ToBeSigned::new(message);
    if hex::encode(tbs.digest) != session["digest_hex"].as_str().unwrap_or_default() {
        bail!("the server's digest does not match the bytes to sign");
    }
    eprintln!("ký văn bản {} bằng khóa \"{}\" ({})", session["document_id"], key.label, key.algorithm().as_str());
    let value = tokio::task::spawn_blocking(move || key.sign(&tbs)).await?.map_err(|e| anyhow!("{e}"))?;
    let done = api
        .call(
            "POST",
            &format!("/api/v1/signing-sessions/{id}/signature"),
            Some(serde_json::json!({ "signature_hex": hex::encode(value) })),
        )
        .await?;
    println!("signed: document {} revision {} ({})", done["document_id"], done["seq"], done["pdf_sha256"]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_server_url;

    #[test]
    fn plain_http_only_to_this_computer() {
        for ok in
            ["https://vanban.binhan.gov.vn", "http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"]
        {
            assert!(check_server_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://vanban.binhan.gov.vn",
            "http://localhost.evil.example",
            "http://localhost@evil.example",
            "https://user:pw@vanban.example",
            "ftp://127.0.0.1",
        ] {
            assert!(check_server_url(bad).is_err(), "{bad}");
        }
    }
}
