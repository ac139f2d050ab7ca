//! One layered configuration: built-in defaults, then a TOML file, then `VANBAN_*`
//! environment variables, then command-line flags — each layer overriding the one before.
//! Environment and flags are read by clap (a flag wins over its variable); the file is read
//! here; [`Settings::resolve`] merges them and refuses anything it cannot use.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Deserialize;

/// Options common to every command that opens the data directory.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// TOML configuration file.
    #[arg(long, env = "VANBAN_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database, blobs and the default config file.
    #[arg(long, env = "VANBAN_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database: sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data directory).
    #[arg(long, env = "VANBAN_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Address to listen on, HOST:PORT.
    #[arg(long, env = "VANBAN_LISTEN", global = true)]
    pub listen: Option<String>,
}

/// The configuration file. Unknown keys are an error, not a silent typo.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
    /// Mark cookies Secure (when served behind HTTPS).
    pub secure_cookies: Option<bool>,
    pub session_hours: Option<i64>,
    pub max_body_bytes: Option<usize>,
    pub login_lock_after: Option<i32>,
    pub login_lock_minutes: Option<i64>,
    /// A layout template replacing the shipped Decree 30 layout (an agency's adjusted copy).
    pub template_file: Option<PathBuf>,
    /// Seals the keys of the instance's certification authority (also `VANBAN_PKI_PASSPHRASE`).
    /// Without it, a random one is kept in `<data_dir>/pki-passphrase` (one machine only: every
    /// node of a cluster must be given the same passphrase).
    pub pki_passphrase: Option<String>,
    /// The public address of this instance, written into certificates (CRL, OCSP, CA URLs).
    pub public_url: Option<String>,
    /// Extra trust anchors for validation (PEM files: the national root CA, public CAs).
    #[serde(default)]
    pub trust_anchors: Vec<PathBuf>,
    /// The name the instance's certification authority carries (e.g. "Tỉnh Bình An").
    pub instance_name: Option<String>,
    /// An RFC 3161 timestamp authority (http:// or https://) to use instead of the instance's
    /// own, e.g. a licensed national TSA.
    pub tsa_url: Option<String>,
    /// The SMTP server for e-mail notifications (the `[smtp]` table); the password may come
    /// from `VANBAN_SMTP_PASSWORD` instead.
    pub smtp: Option<vanban_server::mail::SmtpConfig>,
    /// The axis to exchange edXML packages with (the `[exchange]` table); the secret may come
    /// from `VANBAN_EXCHANGE_SECRET` instead.
    pub exchange: Option<vanban_server::exchange::ExchangeConfig>,
}

/// The `[smtp]` table as the server takes it, checked: `password` (from the environment)
/// replaces the file's.
fn smtp_settings(
    mut cfg: vanban_server::mail::SmtpConfig,
    password: Option<String>,
) -> anyhow::Result<vanban_server::mail::SmtpConfig> {
    if let Some(ca) = &cfg.ca_file
        && !ca.is_file()
    {
        bail!("smtp.ca_file {} does not exist", ca.display());
    }
    if cfg.timeout_secs == 0 {
        bail!("smtp.timeout_secs must be at least 1");
    }
    cfg.password = password.or(cfg.password);
    if cfg.username.is_some() != cfg.password.is_some() {
        bail!("smtp.username and smtp.password (or VANBAN_SMTP_PASSWORD) go together");
    }
    Ok(cfg)
}

/// The resolved settings every command works from.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    pub server: vanban_server::ServerConfig,
}

impl Settings {
    pub fn resolve(args: &CommonArgs, default_data_dir: &str) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = args.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from(default_data_dir));
        let database_url = args.database_url.clone().or(file.database_url);
        if let Some(url) = &database_url
            && !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            bail!("unsupported database URL {url:?}: expected sqlite://PATH or postgres://…");
        }
        let listen_text = args.listen.clone().or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let listen: SocketAddr = listen_text.parse().with_context(|| {
            format!("invalid listen address {listen_text:?}: expected HOST:PORT, e.g. 127.0.0.1:8080")
        })?;
        let mut server = vanban_server::ServerConfig::default();
        if let Some(v) = file.secure_cookies {
            server.secure_cookies = v;
        }
        if let Some(h) = file.session_hours {
            if !(1..=24 * 30).contains(&h) {
                bail!("session_hours must be between 1 and 720");
            }
            server.session_ttl = chrono::Duration::hours(h);
        }
        if let Some(b) = file.max_body_bytes {
            if b < 1024 {
                bail!("max_body_bytes must be at least 1024");
            }
            server.max_body_bytes = b;
        }
        if let Some(n) = file.login_lock_after {
            if n < 1 {
                bail!("login_lock_after must be at least 1");
            }
            server.login_lock_after = n;
        }
        if let Some(t) = file.template_file {
            if !t.is_file() {
                bail!("template_file {} does not exist", t.display());
            }
            server.template_file = Some(t);
        }
        if let Some(m) = file.login_lock_minutes {
            server.login_lock_for = chrono::Duration::minutes(m.max(1));
        }
        for t in &file.trust_anchors {
            if !t.is_file() {
                bail!("trust anchor {} does not exist", t.display());
            }
        }
        server.trust_anchor_files = file.trust_anchors;
        server.public_url = file.public_url.map(|u| u.trim_end_matches('/').to_owned());
        if let Some(n) = file.instance_name {
            server.instance_name = n;
        }
        if let Some(u) = file.tsa_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                bail!("tsa_url must be an http:// or https:// address, not {u:?}");
            }
            server.tsa_url = Some(u);
        }
        server.pki_passphrase =
            std::env::var("VANBAN_PKI_PASSPHRASE").ok().filter(|p| !p.is_empty()).or(file.pki_passphrase);
        if server.pki_passphrase.as_ref().is_some_and(|p| p.len() < 16) {
            bail!("pki_passphrase must be at least 16 characters");
        }
        if let Some(smtp) = file.smtp {
            let password = std::env::var("VANBAN_SMTP_PASSWORD").ok().filter(|p| !p.is_empty());
            server.smtp = Some(smtp_settings(smtp, password)?);
        }
        if let Some(mut ex) = file.exchange {
            if let Some(secret) = std::env::var("VANBAN_EXCHANGE_SECRET").ok().filter(|p| !p.is_empty()) {
                ex.secret = secret;
            }
            if !(ex.endpoint.starts_with("http://") || ex.endpoint.starts_with("https://")) {
                bail!("exchange.endpoint must be an http:// or https:// address, not {:?}", ex.endpoint);
            }
            if ex.system_id.trim().is_empty() || ex.secret.len() < 16 {
                bail!(
                    "exchange.system_id is required and exchange.secret (or VANBAN_EXCHANGE_SECRET) needs 16 characters or more"
                );
            }
            if let Some(ca) = &ex.ca_file
                && !ca.is_file()
            {
                bail!("exchange.ca_file {} does not exist", ca.display());
            }
            server.exchange = Some(ex);
        }
        Ok(Settings { data_dir, database_url, listen, server })
    }

    /// The CA passphrase: configured, or kept in the data directory for a single machine.
    pub fn ensure_pki_passphrase(&mut self) -> anyhow::Result<()> {
        if self.server.pki_passphrase.is_some() {
            return Ok(());
        }
        let path = self.data_dir.join("pki-passphrase");
        let pass = match std::fs::read_to_string(&path) {
            Ok(p) => p.trim().to_owned(),
            Err(_) => {
                std::fs::create_dir_all(&self.data_dir)
                    .with_context(|| format!("cannot create {}", self.data_dir.display()))?;
                let mut bytes = [0u8; 24];
                rand::fill(&mut bytes);
                let p: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                write_private(&path, &p).with_context(|| format!("cannot write {}", path.display()))?;
                p
            }
        };
        self.server.pki_passphrase = Some(pass);
        Ok(())
    }

    pub async fn open_store(&self) -> anyhow::Result<std::sync::Arc<dyn vanban_store::Store>> {
        vanban_store::open(self.database_url.as_deref(), &self.data_dir).await.with_context(|| {
            match &self.database_url {
                Some(u) => format!("cannot open database {}", redact(u)),
                None => format!("cannot open database in {}", self.data_dir.display()),
            }
        })
    }

    pub fn blobs(&self) -> anyhow::Result<vanban_store::BlobStore> {
        vanban_store::BlobStore::local(&self.data_dir.join("blobs")).context("cannot open the blob directory")
    }
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(text.as_bytes())
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<PathBuf>) -> CommonArgs {
        CommonArgs { config, data_dir: None, database_url: None, listen: None }
    }

    #[test]
    fn the_example_file_is_valid_and_complete() {
        let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../vanban.example.toml"));
        let s = Settings::resolve(&args(Some(path)), "data").unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/var/lib/vanban"));
        assert!(s.server.secure_cookies);
        assert_eq!(s.server.login_lock_after, 5);
        assert_eq!(s.database_url, None);
    }

    #[test]
    fn flags_and_environment_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\ndata_dir = \"from-file\"\n").unwrap();
        let mut a = args(Some(file));
        assert_eq!(Settings::resolve(&a, "d").unwrap().listen.port(), 9000);
        a.listen = Some("127.0.0.1:9100".into());
        a.data_dir = Some("from-flag".into());
        let s = Settings::resolve(&a, "d").unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.data_dir, PathBuf::from("from-flag"));
    }

    #[test]
    fn the_smtp_table_and_its_password_from_the_environment() {
        let text = "[smtp]\nhost = \"smtp.binhan.gov.vn\"\nport = 587\nsecurity = \"starttls\"\n\
                    username = \"vanban\"\npassword = \"trong-tep\"\nfrom = \"vanban@binhan.gov.vn\"\n";
        let file: FileConfig = toml::from_str(text).unwrap();
        let smtp = file.smtp.unwrap();
        assert!(!format!("{smtp:?}").contains("trong-tep"), "Debug must not show the password");
        let cfg = smtp_settings(smtp, Some("tu-moi-truong".into())).unwrap();
        assert_eq!(cfg.password.as_deref(), Some("tu-moi-truong"), "the environment wins");
        assert_eq!((cfg.port, cfg.security), (587, vanban_server::mail::SmtpSecurity::Starttls));
        assert_eq!(cfg.timeout_secs, 20);
        // A typo is an error, not a silently ignored key; so is an unknown security mode.
        assert!(toml::from_str::<FileConfig>(&text.replace("password =", "pasword =")).is_err());
        assert!(toml::from_str::<FileConfig>(&text.replace("\"starttls\"", "\"ssl\"")).is_err());
        // A user name needs a password.
        let text = text.replace("password = \"trong-tep\"\n", "");
        let smtp = toml::from_str::<FileConfig>(&text).unwrap().smtp.unwrap();
        assert!(smtp_settings(smtp, None).is_err());
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redact("postgres://vanban:hunter2@db/vanban"), "postgres://vanban:***@db/vanban");
        assert_eq!(redact("sqlite://data/vanban.db"), "sqlite://data/vanban.db");
    }
}
