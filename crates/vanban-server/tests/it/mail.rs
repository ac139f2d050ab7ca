//! E-mail over SMTP against a real server on loopback: aiosmtpd (Python), started per test by
//! `smtp_sink.py`, which records each message it receives as a JSON line and decodes it with
//! Python's email package (an independent reader of the RFC 2047 subject and the body).
//! Without aiosmtpd the tests skip, except under CI=true, where they fail.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use unicode_normalization::UnicodeNormalization;
use vanban_server::mail::{Mail, MailError, Mailer, SmtpConfig, SmtpSecurity};

const SINK: &str = include_str!("smtp_sink.py");
const SUBJECT: &str = "Văn bản đến: Quyết định 15/QĐ-UBND — Hỏa tốc";
const TEXT: &str = "Kính gửi đồng chí Nguyễn Thị Hằng,\n\
    Sở Tài chính vừa nhận Quyết định số 15/QĐ-UBND của Ủy ban nhân dân tỉnh Bình An.\n\
    Độ khẩn: Hỏa tốc. Đề nghị đồng chí xử lý trước 17 giờ.\n\
    .Dòng này bắt đầu bằng dấu chấm.\n";

/// The python that has aiosmtpd, or `None` (the test then skips, or fails under CI).
fn sink_python() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = std::env::var_os("VANBAN_AIOSMTPD_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([workspace.join("target/bench-venv/bin/python")]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("aiosmtpd not installed (set VANBAN_AIOSMTPD_PYTHON or install it in target/bench-venv)");
    }
    println!("skipped: aiosmtpd not installed");
    None
}

/// A running aiosmtpd, killed when dropped.
struct Sink {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    /// `tls`: (certificate, key) — STARTTLS and AUTH required.
    fn start(python: &Path, tls: Option<(&Path, &Path)>) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("smtp_sink.py");
        std::fs::write(&script, SINK).unwrap();
        let out = dir.path().join("received.jsonl");
        let mut cmd = Command::new(python);
        cmd.arg(&script).arg(&out);
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the sink printed {line:?}, not a port"));
        Sink { child, _stdin: stdin, port, out, _dir: dir }
    }

    fn received(&self) -> Vec<serde_json::Value> {
        match std::fs::read_to_string(&self.out) {
            Ok(s) => s.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn plain_config(port: u16) -> SmtpConfig {
    SmtpConfig::new("127.0.0.1", port, SmtpSecurity::None, "vanban@binhan.gov.vn")
}

fn notification(to: &[&str]) -> Mail {
    Mail {
        to: to.iter().map(|a| (a.to_string(), None)).collect(),
        // Decomposed (NFD) on purpose: what leaves must be NFC.
        subject: SUBJECT.nfd().collect(),
        text: TEXT.nfd().collect(),
        html: None,
    }
}

/// A port on loopback with nothing listening.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn config_refuses_plaintext_to_a_remote_host() {
    let remote = SmtpConfig::new("smtp.binhan.gov.vn", 25, SmtpSecurity::None, "vanban@binhan.gov.vn");
    let err = Mailer::new(remote).unwrap_err();
    assert_eq!(err.code(), "smtp_plaintext_remote");
    assert!(!err.is_transient());
    assert!(err.message_vi().contains("mã hóa"), "{}", err.message_vi());
    for host in ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST.", "::1", "[::1]"] {
        let cfg = SmtpConfig::new(host, 25, SmtpSecurity::None, "vanban@binhan.gov.vn");
        Mailer::new(cfg).unwrap_or_else(|e| panic!("{host}: {e}"));
    }
    for host in ["10.0.0.1", "::ffff:10.0.0.1", "localhost.binhan.gov.vn"] {
        let cfg = SmtpConfig::new(host, 25, SmtpSecurity::None, "vanban@binhan.gov.vn");
        assert_eq!(Mailer::new(cfg).unwrap_err().code(), "smtp_plaintext_remote", "{host}");
    }
    // TLS to a remote host is fine (nothing is contacted yet).
    Mailer::new(SmtpConfig::new("smtp.binhan.gov.vn", 465, SmtpSecurity::Tls, "vanban@binhan.gov.vn")).unwrap();
    // A bad sender is a configuration error.
    let bad_from = SmtpConfig::new("127.0.0.1", 25, SmtpSecurity::None, "vanban@binhan.gov.vn\r\nBcc: x@y.vn");
    assert_eq!(Mailer::new(bad_from).unwrap_err().code(), "smtp_config");
    // The configuration reads from TOML-like data with the documented defaults.
    let cfg: SmtpConfig = serde_json::from_value(serde_json::json!({
        "host": "smtp.binhan.gov.vn", "port": 587, "security": "starttls",
        "username": "vanban", "password": "bí-mật", "from": "vanban@binhan.gov.vn"
    }))
    .unwrap();
    assert_eq!(cfg.timeout_secs, 20);
    assert_eq!(cfg.security, SmtpSecurity::Starttls);
    assert!(!format!("{cfg:?}").contains("bí-mật"), "Debug must not show the password");
}

#[tokio::test]
async fn vietnamese_mail_reaches_two_recipients() {
    let Some(python) = sink_python() else { return };
    let sink = Sink::start(&python, None);
    let mailer = Mailer::new(plain_config(sink.port)).unwrap();
    let mut mail = notification(&["van.thu@binhan.gov.vn", "giam.doc@binhan.gov.vn"]);
    mail.to[1].1 = Some("Trần Văn Đức".nfd().collect());
    mail.html = Some("<p>Quyết định <b>15/QĐ-UBND</b> — Hỏa tốc</p>".nfd().collect());
    mailer.send(&mail).await.unwrap();

    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let m = &received[0];
    assert_eq!(m["mail_from"], "vanban@binhan.gov.vn");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["van.thu@binhan.gov.vn", "giam.doc@binhan.gov.vn"]));
    assert_eq!(m["subject"], SUBJECT, "decoded subject, in NFC");
    assert_eq!(m["from_address"], "vanban@binhan.gov.vn");
    assert_eq!(m["from_name"], "Hệ thống văn bản vanban");
    assert_eq!(m["to"][1], serde_json::json!(["giam.doc@binhan.gov.vn", "Trần Văn Đức"]));
    let text = m["text"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(text, TEXT, "decoded body, in NFC, the leading dot kept");
    assert!(m["html"].as_str().unwrap().contains("Quyết định <b>15/QĐ-UBND</b> — Hỏa tốc"));
    // On the wire everything is 7-bit: an encoded-word subject, an encoded UTF-8 body.
    assert_eq!(m["raw_is_ascii"], true);
    let raw = m["raw"].as_str().unwrap();
    let subject_line = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(subject_line.to_ascii_lowercase().contains("=?utf-8?"), "{subject_line}");
    assert!(raw.to_ascii_lowercase().contains("charset=utf-8"), "{raw}");
    assert!(raw.contains("Message-ID: <") && raw.contains("@binhan.gov.vn>"), "{raw}");
}

#[tokio::test]
async fn header_injection_is_refused_before_connecting() {
    // Nothing listens: reaching the network would give smtp_connect, not an address error.
    let mailer = Mailer::new(plain_config(closed_port())).unwrap();
    for bad in [
        "van.thu@binhan.gov.vn\r\nBcc: ke.gian@example.com",
        "van.thu@binhan.gov.vn\nRCPT TO:<ke.gian@example.com>",
        "van.thu@binhan.gov.vn>\r\nDATA",
        "khong-co-a-con-cho",
        "hai @binhan.gov.vn",
        "",
    ] {
        let err = mailer.send(&notification(&[bad])).await.unwrap_err();
        assert_eq!(err.code(), "mail_invalid_address", "{bad:?}: {err}");
        assert!(!err.is_transient());
        assert_eq!(err.message_vi(), "Địa chỉ thư điện tử không hợp lệ.");
    }
    let mut bad_name = notification(&["van.thu@binhan.gov.vn"]);
    bad_name.to[0].1 = Some("Văn thư\r\nBcc: ke.gian@example.com".to_owned());
    assert_eq!(mailer.send(&bad_name).await.unwrap_err().code(), "mail_invalid_address");
    assert_eq!(mailer.send(&notification(&[])).await.unwrap_err().code(), "mail_no_recipients");
}

#[tokio::test]
async fn subject_line_breaks_and_dots_are_harmless() {
    let Some(python) = sink_python() else { return };
    let sink = Sink::start(&python, None);
    let mailer = Mailer::new(plain_config(sink.port)).unwrap();
    let mut mail = notification(&["van.thu@binhan.gov.vn"]);
    mail.subject = "Công văn\r\nBcc: ke.gian@example.com".to_owned();
    // ASCII goes as 7bit: the lone "." must be dot-stuffed, or it would end DATA early.
    mail.text = "Line one\n.\n..two dots\nQUIT\n".to_owned();
    mailer.send(&mail).await.unwrap();
    let received = sink.received();
    assert_eq!(received[0]["rcpt_tos"], serde_json::json!(["van.thu@binhan.gov.vn"]));
    assert_eq!(received[0]["subject"], "Công văn  Bcc: ke.gian@example.com");
    assert!(!received[0]["raw"].as_str().unwrap().contains("\nBcc:"));
    assert_eq!(received[0]["text"].as_str().unwrap().replace("\r\n", "\n").trim_end(), "Line one\n.\n..two dots\nQUIT");
}

#[tokio::test]
async fn nothing_listening_is_a_transient_connect_error() {
    let mailer = Mailer::new(plain_config(closed_port())).unwrap();
    let err = mailer.send(&notification(&["van.thu@binhan.gov.vn"])).await.unwrap_err();
    assert_eq!(err.code(), "smtp_connect", "{err}");
    assert!(err.is_transient());
    assert_eq!(err.message_vi(), "Không kết nối được tới máy chủ thư.");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Connections are accepted (the kernel's backlog) but nobody ever greets.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = SmtpConfig { timeout_secs: 1, ..plain_config(listener.local_addr().unwrap().port()) };
    let started = std::time::Instant::now();
    let err = Mailer::new(cfg).unwrap().send(&notification(&["van.thu@binhan.gov.vn"])).await.unwrap_err();
    assert_eq!(err.code(), "smtp_timeout", "{err}");
    assert!(err.is_transient());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(listener);
}

#[tokio::test]
async fn rejections_are_permanent_or_transient_by_reply_code() {
    let Some(python) = sink_python() else { return };
    let sink = Sink::start(&python, None);
    let mailer = Mailer::new(plain_config(sink.port)).unwrap();

    let err = mailer.send(&notification(&["van.thu@binhan.gov.vn", "reject@binhan.gov.vn"])).await.unwrap_err();
    assert_eq!(err.code(), "smtp_rejected", "{err}");
    assert_eq!(err.smtp_code(), Some(550));
    assert!(!err.is_transient());
    assert_eq!(err.message_vi(), "Máy chủ thư từ chối nhận thư.");

    let err = mailer.send(&notification(&["defer@binhan.gov.vn"])).await.unwrap_err();
    assert_eq!(err.code(), "smtp_deferred", "{err}");
    assert_eq!(err.smtp_code(), Some(451));
    assert!(err.is_transient());

    assert!(sink.received().is_empty(), "a refused recipient stops the whole message");
}

/// A CA and a server certificate for 127.0.0.1 and localhost. (Two certificates, not one
/// self-signed: `openssl req -x509` marks its certificate CA:TRUE, which rustls refuses as a
/// server's end-entity certificate.)
fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl CLI");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=vanban test CA", "-days", "1"],
    ]
    .concat());
    run(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]].concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "server.ext",
    ]);
    (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"))
}

#[tokio::test]
async fn starttls_with_auth_plain() {
    let Some(python) = sink_python() else { return };
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certificates(certs.path());
    let sink = Sink::start(&python, Some((&cert, &key)));
    let config = |password: &str, ca_file: Option<PathBuf>| SmtpConfig {
        username: Some("vanban".to_owned()),
        password: Some(password.to_owned()),
        ca_file,
        ..SmtpConfig::new("127.0.0.1", sink.port, SmtpSecurity::Starttls, "vanban@binhan.gov.vn")
    };

    let mailer = Mailer::new(config("mật-khẩu", Some(ca.clone()))).unwrap();
    mailer.send(&notification(&["van.thu@binhan.gov.vn"])).await.unwrap();
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["tls"], true);
    assert_eq!(received[0]["authenticated"], true);
    assert_eq!(received[0]["auth_mechanism"], "PLAIN");
    assert_eq!(received[0]["subject"], SUBJECT);

    // A wrong password: permanent smtp_auth.
    let err = Mailer::new(config("sai-mật-khẩu", Some(ca))).unwrap().send(&notification(&["a@binhan.gov.vn"])).await;
    let err = err.unwrap_err();
    assert_eq!(err.code(), "smtp_auth", "{err}");
    assert!(!err.is_transient());

    // Without the CA the server's certificate is not trusted: permanent smtp_tls.
    let err = Mailer::new(config("mật-khẩu", None)).unwrap().send(&notification(&["a@binhan.gov.vn"])).await;
    let err: MailError = err.unwrap_err();
    assert_eq!(err.code(), "smtp_tls", "{err}");
    assert!(!err.is_transient());
    assert_eq!(sink.received().len(), 1);
}
