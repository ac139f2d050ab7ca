//! E-mail notifications over SMTP (lettre, rustls with ring).
//!
//! A [`Mailer`] is built once from an [`SmtpConfig`] (checked: plaintext SMTP only to a
//! loopback relay) and sends [`Mail`]s, one SMTP connection per message. Vietnamese survives
//! the trip: subject, text and names are NFC-normalised, the subject and names are RFC 2047
//! encoded (UTF-8) and the body is sent as UTF-8 in quoted-printable or base64. Addresses are
//! validated before any connection, so CR/LF cannot inject headers or SMTP commands.
//!
//! Every [`MailError`] has a stable [`code`](MailError::code), a Vietnamese
//! [`message_vi`](MailError::message_vi) and tells whether a retry may help
//! ([`is_transient`](MailError::is_transient)): connection failures and 4xx replies are
//! transient, 5xx replies and configuration problems permanent.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use unicode_normalization::UnicodeNormalization as _;

/// The display name of the sender when the configuration gives none.
pub const DEFAULT_FROM_NAME: &str = "Hệ thống văn bản vanban";

/// Longest address accepted (RFC 5321's path limit less the angle brackets).
const MAX_ADDRESS_LEN: usize = 254;

fn default_timeout_secs() -> u64 {
    20
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plaintext, allowed only to a relay on a loopback address.
    None,
    /// Plaintext first, then STARTTLS (required, never opportunistic); usually port 587.
    Starttls,
    /// Implicit TLS from the first byte; usually port 465.
    Tls,
}

/// Where and how to send e-mail (the `[smtp]` section of the configuration).
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// "none" (plain, allowed only to loopback addresses), "starttls", or "tls" (implicit TLS, 465).
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// From address, e.g. "vanban@binhan.gov.vn"; display name [`DEFAULT_FROM_NAME`] by default.
    pub from: String,
    #[serde(default)]
    pub from_name: Option<String>,
    /// The longest one message may take, in seconds: connecting, TLS, login and transfer
    /// together (lettre's own timeout covers only the TCP connect).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Extra trust anchors (PEM) besides the system's, e.g. the agency's private CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The name vanban gives in EHLO (this host's DNS name); `[127.0.0.1]` when unset.
    #[serde(default)]
    pub helo_name: Option<String>,
}

impl SmtpConfig {
    /// A configuration without credentials, extra CA, or sender name; 20 s timeout.
    pub fn new(host: impl Into<String>, port: u16, security: SmtpSecurity, from: impl Into<String>) -> SmtpConfig {
        SmtpConfig {
            host: host.into(),
            port,
            security,
            username: None,
            password: None,
            from: from.into(),
            from_name: None,
            timeout_secs: default_timeout_secs(),
            ca_file: None,
            helo_name: None,
        }
    }
}

/// Never prints the password.
impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("from_name", &self.from_name)
            .field("timeout_secs", &self.timeout_secs)
            .field("ca_file", &self.ca_file)
            .field("helo_name", &self.helo_name)
            .finish()
    }
}

/// One message to send.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// Recipients: address and optional display name.
    pub to: Vec<(String, Option<String>)>,
    pub subject: String,
    /// The plain-text body (always sent).
    pub text: String,
    /// An HTML alternative of the same content.
    pub html: Option<String>,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("plaintext SMTP (security = \"none\") is allowed only to a loopback address, not {host:?}")]
    PlaintextRemote { host: String },
    #[error("invalid SMTP configuration: {0}")]
    Config(String),
    #[error("invalid e-mail address {address:?}: {reason}")]
    InvalidAddress { address: String, reason: String },
    #[error("the message has no recipient")]
    NoRecipients,
    #[error("could not build the message: {0}")]
    Build(String),
    #[error("could not connect to the SMTP server: {0}")]
    Connect(String),
    #[error("the SMTP server did not answer in time: {0}")]
    Timeout(String),
    #[error("TLS with the SMTP server failed: {0}")]
    Tls(String),
    #[error("SMTP authentication failed: {detail}")]
    Auth { code: Option<u16>, detail: String },
    #[error("the SMTP server rejected the message ({code}): {detail}")]
    Rejected { code: u16, detail: String },
    #[error("the SMTP server deferred the message ({code}): {detail}")]
    Deferred { code: u16, detail: String },
    #[error("SMTP protocol error: {0}")]
    Protocol(String),
}

impl MailError {
    /// A stable identifier for logs, metrics and the API.
    pub fn code(&self) -> &'static str {
        match self {
            MailError::PlaintextRemote { .. } => "smtp_plaintext_remote",
            MailError::Config(_) => "smtp_config",
            MailError::InvalidAddress { .. } => "mail_invalid_address",
            MailError::NoRecipients => "mail_no_recipients",
            MailError::Build(_) => "mail_build",
            MailError::Connect(_) => "smtp_connect",
            MailError::Timeout(_) => "smtp_timeout",
            MailError::Tls(_) => "smtp_tls",
            MailError::Auth { .. } => "smtp_auth",
            MailError::Rejected { .. } => "smtp_rejected",
            MailError::Deferred { .. } => "smtp_deferred",
            MailError::Protocol(_) => "smtp_protocol",
        }
    }

    /// What to tell a person (an administrator reading the notification log).
    pub fn message_vi(&self) -> &'static str {
        match self {
            MailError::PlaintextRemote { .. } => {
                "Chỉ được gửi thư không mã hóa tới máy chủ thư trên chính máy này; hãy dùng STARTTLS hoặc TLS."
            }
            MailError::Config(_) => "Cấu hình máy chủ thư (SMTP) không hợp lệ.",
            MailError::InvalidAddress { .. } => "Địa chỉ thư điện tử không hợp lệ.",
            MailError::NoRecipients => "Thư không có người nhận.",
            MailError::Build(_) => "Không tạo được thư.",
            MailError::Connect(_) => "Không kết nối được tới máy chủ thư.",
            MailError::Timeout(_) => "Máy chủ thư không trả lời kịp thời.",
            MailError::Tls(_) => "Không thiết lập được kết nối bảo mật (TLS) với máy chủ thư.",
            MailError::Auth { .. } => "Máy chủ thư từ chối đăng nhập: hãy kiểm tra tên đăng nhập và mật khẩu.",
            MailError::Rejected { .. } => "Máy chủ thư từ chối nhận thư.",
            MailError::Deferred { .. } => "Máy chủ thư tạm thời chưa nhận thư; thư sẽ được gửi lại sau.",
            MailError::Protocol(_) => "Máy chủ thư trả lời không đúng giao thức SMTP.",
        }
    }

    /// Whether sending the same message later may succeed (connection problems, 4xx replies).
    pub fn is_transient(&self) -> bool {
        match self {
            MailError::Connect(_) | MailError::Timeout(_) | MailError::Deferred { .. } | MailError::Protocol(_) => true,
            MailError::Auth { code, .. } => code.is_some_and(|c| (400..500).contains(&c)),
            MailError::PlaintextRemote { .. }
            | MailError::Config(_)
            | MailError::InvalidAddress { .. }
            | MailError::NoRecipients
            | MailError::Build(_)
            | MailError::Tls(_)
            | MailError::Rejected { .. } => false,
        }
    }

    /// The SMTP reply code, when the server answered with an error.
    pub fn smtp_code(&self) -> Option<u16> {
        match self {
            MailError::Auth { code, .. } => *code,
            MailError::Rejected { code, .. } | MailError::Deferred { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn from_smtp(e: lettre::transport::smtp::Error) -> MailError {
        let detail = e.to_string();
        if let Some(code) = e.status() {
            let code = u16::from(code);
            return match code {
                // Authentication required / too weak / credentials invalid / encryption required.
                530 | 534 | 535 | 538 => MailError::Auth { code: Some(code), detail },
                400..=499 => MailError::Deferred { code, detail },
                _ => MailError::Rejected { code, detail },
            };
        }
        if e.is_timeout() {
            return MailError::Timeout(detail);
        }
        if e.is_tls() || caused_by_rustls(&e) {
            return MailError::Tls(detail);
        }
        if e.is_client() {
            // lettre's client-side refusals; their only mark is the message.
            return if detail.contains("authentication mechanism") {
                MailError::Auth { code: None, detail }
            } else if detail.contains("STARTTLS") || detail.contains("not encrypted") {
                MailError::Tls(detail)
            } else {
                MailError::Protocol(detail)
            };
        }
        if e.is_response() {
            return MailError::Protocol(detail);
        }
        MailError::Connect(detail)
    }
}

/// A certificate or handshake refused by rustls (lettre reports those as connection errors,
/// with the rustls error inside an `io::Error`).
fn caused_by_rustls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Sends e-mail through one SMTP server. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The right-hand side of generated Message-IDs: the sender's domain.
    message_id_domain: String,
    host: String,
    port: u16,
    security: SmtpSecurity,
    timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.inner.host)
            .field("port", &self.inner.port)
            .field("security", &self.inner.security)
            .field("from", &self.inner.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// Checks the configuration and prepares the transport (TLS trust roots: the system's plus
    /// `ca_file`). Connects to nothing.
    pub fn new(cfg: SmtpConfig) -> Result<Mailer, MailError> {
        let host = cfg.host.trim();
        if host.is_empty() || host.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(MailError::Config(format!("invalid SMTP host {:?}", cfg.host)));
        }
        // "[::1]" is how an IPv6 address is written next to a port; connect without brackets.
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).to_owned();
        if cfg.security == SmtpSecurity::None && !is_loopback(&host) {
            return Err(MailError::PlaintextRemote { host });
        }
        if cfg.port == 0 {
            return Err(MailError::Config("SMTP port 0".to_owned()));
        }
        if cfg.timeout_secs == 0 {
            return Err(MailError::Config("timeout_secs must be at least 1".to_owned()));
        }
        let from_name = cfg.from_name.as_deref().unwrap_or(DEFAULT_FROM_NAME);
        let from = mailbox(&cfg.from, Some(from_name)).map_err(|e| MailError::Config(format!("from: {e}")))?;
        let message_id_domain = from.email.domain().to_owned();

        let timeout = Duration::from_secs(cfg.timeout_secs);
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone()).port(cfg.port).timeout(Some(timeout));
        if let Some(name) = &cfg.helo_name {
            if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(MailError::Config(format!("invalid helo_name {name:?}")));
            }
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        match (cfg.username, cfg.password) {
            (Some(user), Some(password)) => builder = builder.credentials(Credentials::new(user, password)),
            (None, None) => {}
            _ => return Err(MailError::Config("username and password go together".to_owned())),
        }
        let tls = match cfg.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::Starttls => Tls::Required(tls_parameters(&host, cfg.ca_file.as_deref())?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(&host, cfg.ca_file.as_deref())?),
        };
        let transport = builder.tls(tls).build();
        Ok(Mailer {
            inner: Arc::new(Inner {
                transport,
                from,
                message_id_domain,
                host,
                port: cfg.port,
                security: cfg.security,
                timeout,
            }),
        })
    }

    /// Sends one message to all its recipients (one SMTP transaction). Addresses are checked
    /// before connecting; if the server refuses any recipient, nobody receives it. Gives up
    /// after `timeout_secs` (a server that accepts and then stays silent).
    pub async fn send(&self, msg: &Mail) -> Result<(), MailError> {
        let message = self.build(msg)?;
        let limit = self.inner.timeout;
        tokio::time::timeout(limit, self.inner.transport.send(message))
            .await
            .map_err(|_| MailError::Timeout(format!("no reply within {} s", limit.as_secs())))?
            .map_err(MailError::from_smtp)?;
        tracing::debug!(recipients = msg.to.len(), host = %self.inner.host, "mail sent");
        Ok(())
    }

    fn build(&self, msg: &Mail) -> Result<Message, MailError> {
        if msg.to.is_empty() {
            return Err(MailError::NoRecipients);
        }
        let message_id = format!("<{}@{}>", uuid::Uuid::now_v7().simple(), self.inner.message_id_domain);
        let mut builder = Message::builder()
            .from(self.inner.from.clone())
            .subject(clean_subject(&msg.subject))
            .message_id(Some(message_id));
        for (address, name) in &msg.to {
            builder = builder.to(mailbox(address, name.as_deref())?);
        }
        let text: String = msg.text.nfc().collect();
        let built = match &msg.html {
            None => builder.singlepart(SinglePart::plain(text)),
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(text, html.nfc().collect::<String>())),
        };
        built.map_err(|e| MailError::Build(e.to_string()))
    }
}

/// TLS settings for `host`: the system's roots plus those in `ca_file`.
fn tls_parameters(host: &str, ca_file: Option<&std::path::Path>) -> Result<TlsParameters, MailError> {
    let mut builder = TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::Default);
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| MailError::Config(format!("ca_file {}: {e}", path.display())))?;
        let mut found = 0;
        for der in CertificateDer::pem_slice_iter(&pem) {
            let der = der.map_err(|e| MailError::Config(format!("ca_file {}: {e}", path.display())))?;
            let cert = Certificate::from_der(der.to_vec())
                .map_err(|e| MailError::Config(format!("ca_file {}: {e}", path.display())))?;
            builder = builder.add_root_certificate(cert);
            found += 1;
        }
        if found == 0 {
            return Err(MailError::Config(format!("ca_file {}: no PEM certificate", path.display())));
        }
    }
    builder.build_rustls().map_err(|e| MailError::Config(format!("TLS: {e}")))
}

/// `localhost` or an address in 127.0.0.0/8 or ::1 (also IPv4-mapped).
fn is_loopback(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// A checked mailbox: no control characters or spaces in the address (CR/LF would inject
/// headers or SMTP commands), a valid address, and a name without control characters (NFC).
fn mailbox(address: &str, name: Option<&str>) -> Result<Mailbox, MailError> {
    let invalid = |reason: &str| MailError::InvalidAddress { address: address.to_owned(), reason: reason.to_owned() };
    if address.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("control character or space"));
    }
    if address.len() > MAX_ADDRESS_LEN {
        return Err(invalid("too long"));
    }
    let email: Address = address.parse().map_err(|e: lettre::address::AddressError| invalid(&e.to_string()))?;
    let name = match name {
        Some(n) if n.chars().any(char::is_control) => return Err(invalid("control character in the name")),
        Some(n) if !n.trim().is_empty() => Some(n.trim().nfc().collect::<String>()),
        _ => None,
    };
    Ok(Mailbox::new(name, email))
}

/// The subject in NFC on one line: line breaks and other control characters become spaces.
fn clean_subject(subject: &str) -> String {
    let one_line: String = subject.nfc().map(|c| if c.is_control() { ' ' } else { c }).collect();
    one_line.trim().to_owned()
}
