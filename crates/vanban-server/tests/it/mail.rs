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

// ---------------------------------------------------------------------------------------------
// Notification e-mails (notify.rs) through the real flow: a registered incoming document
// notifies the agency's leader, who has an e-mail address.
// ---------------------------------------------------------------------------------------------

const PUBLIC_URL: &str = "https://vanban.binhan.gov.vn";
const LEADER_EMAIL: &str = "handler@example.vn";

/// Agency B's leader, with an e-mail address, and B's clerk (as the store sees them).
struct Desk {
    clerk: vanban_domain::Caller,
    leader: vanban_domain::Caller,
    register: vanban_domain::RegisterId,
}

/// A leader of agency B with an e-mail address.
async fn leader_of_b(
    app: &crate::harness::TestApp,
    username: &str,
    full_name: &str,
    email: &str,
) -> vanban_domain::Caller {
    use vanban_domain::{Email, FullName, Position, Role, Username};
    use vanban_store::{Actor, AdminScope, NewUser};
    let new = NewUser {
        agency_id: app.b,
        unit_id: None,
        username: Username::parse(username).unwrap(),
        full_name: FullName::parse(full_name).unwrap(),
        email: Some(Email::parse(email).unwrap()),
        position: Some(Position::parse("Giám đốc").unwrap()),
        // Never signs in.
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$unused$unused".to_owned(),
        roles: [Role::Leader].into_iter().collect(),
    };
    let user = app.store.create_user(&Actor::system("test"), &AdminScope::whole_instance(), new).await.unwrap();
    app.store.caller_for(user.user.id).await.unwrap()
}

async fn desk(app: &crate::harness::TestApp) -> Desk {
    use vanban_domain::RegisterDirection;
    use vanban_store::{Actor, NewRegister, Scope};
    let leader = leader_of_b(app, "b.giamdoc", "Trần Thị Hằng", LEADER_EMAIL).await;
    let clerk_id = app.store.find_user_id("b.clerk").await.unwrap().unwrap();
    let clerk = app.store.caller_for(clerk_id).await.unwrap();
    let register = NewRegister {
        direction: RegisterDirection::Incoming,
        name: "Sổ văn bản đến".into(),
        doc_types: vec![],
        secret: false,
        suffix: String::new(),
    };
    let register =
        app.store.create_register(&Actor::user(&clerk, None), &Scope::of(&clerk), register).await.unwrap().id;
    Desk { clerk, leader, register }
}

/// A paper document arrives at B and the clerk registers it: B's leader is notified.
async fn arrive_and_register(app: &crate::harness::TestApp, desk: &Desk, key: &str) -> vanban_domain::DocumentId {
    use vanban_domain::{DocumentType, Priority};
    use vanban_store::{Actor, IncomingDraft, NewIncoming, Scope};
    let actor = Actor::user(&desk.clerk, None);
    let scope = Scope::of(&desk.clerk);
    let new = NewIncoming {
        source_key: format!("scan:{key}"),
        sender_code: "000.00.00.G01".into(),
        sender_name: "Văn phòng Chính phủ".into(),
        symbol: format!("{key}/VPCP-TTĐT"),
        issued_on: None,
        draft: IncomingDraft {
            doc_type: DocumentType::CongVan,
            subject: "Về việc kiểm tra công tác văn thư, lưu trữ năm 2026".into(),
            priority: Priority::default(),
            metadata: serde_json::json!({}),
        },
        pdf_sha256: None,
        ocr_sha256: None,
        scanned: true,
    };
    let item = app.store.receive_incoming(&actor, &scope, new).await.unwrap();
    let id = item.document.id;
    let today = vanban_server::drafting::today_vn();
    app.store.register_incoming(&actor, &scope, id, desk.register, today).await.unwrap();
    id
}

/// The e-mail state of a user's notification about `doc`.
async fn email_state(
    app: &crate::harness::TestApp,
    user: &vanban_domain::Caller,
    doc: vanban_domain::DocumentId,
) -> String {
    let scope = vanban_store::Scope::of(user);
    let list = app.store.list_notifications(&scope, false, 50).await.unwrap();
    let n = list.iter().find(|n| n.document_id == Some(doc)).expect("the leader was notified");
    n.email_state.clone()
}

#[tokio::test]
async fn a_registered_document_reaches_the_leader_by_email_once() {
    use vanban_server::notify::send_pending_emails;
    let Some(python) = sink_python() else { return };
    let sink = Sink::start(&python, None);
    let app = crate::harness::TestApp::new().await;
    let desk = desk(&app).await;
    let doc = arrive_and_register(&app, &desk, "101").await;

    let pending = app.store.pending_emails(100).await.unwrap();
    assert_eq!(pending.len(), 1, "only the leader has an address: {pending:?}");
    assert_eq!(pending[0].email, LEADER_EMAIL);

    let mailer = Mailer::new(plain_config(sink.port)).unwrap();
    assert_eq!(send_pending_emails(&app.state, &mailer, Some(PUBLIC_URL)).await.unwrap(), (1, 0));
    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let m = &received[0];
    assert_eq!(m["rcpt_tos"], serde_json::json!([LEADER_EMAIL]));
    assert_eq!(m["to"][0], serde_json::json!([LEADER_EMAIL, "Trần Thị Hằng"]));
    let subject = m["subject"].as_str().unwrap();
    assert!(subject.starts_with("[vanban] Văn bản đến số 01"), "{subject}");
    assert!(subject.contains("101/VPCP-TTĐT"), "{subject}");
    let text = m["text"].as_str().unwrap().replace("\r\n", "\n");
    assert!(text.starts_with("Kính gửi Trần Thị Hằng,\n"), "{text}");
    assert!(text.contains(&format!("{PUBLIC_URL}/incoming/{doc}")), "{text}");
    assert!(text.contains(vanban_server::notify::FOOTER), "{text}");
    assert_eq!(m["raw_is_ascii"], true);

    assert!(app.store.pending_emails(100).await.unwrap().is_empty());
    assert_eq!(email_state(&app, &desk.leader, doc).await, "sent");
    // Nothing is sent twice.
    assert_eq!(send_pending_emails(&app.state, &mailer, Some(PUBLIC_URL)).await.unwrap(), (0, 0));
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_given_up() {
    use vanban_server::notify::{MAX_ATTEMPTS, send_pending_emails};
    let app = crate::harness::TestApp::new().await;
    let desk = desk(&app).await;
    let doc = arrive_and_register(&app, &desk, "102").await;
    let mailer = Mailer::new(plain_config(closed_port())).unwrap();

    for attempt in 1..MAX_ATTEMPTS {
        assert_eq!(send_pending_emails(&app.state, &mailer, Some(PUBLIC_URL)).await.unwrap(), (0, 1));
        let pending = app.store.pending_emails(100).await.unwrap();
        assert_eq!(pending.len(), 1, "a transient failure keeps it pending");
        assert_eq!(pending[0].attempts, attempt);
        assert_eq!(email_state(&app, &desk.leader, doc).await, "pending");
    }
    // The last attempt gives it up.
    assert_eq!(send_pending_emails(&app.state, &mailer, Some(PUBLIC_URL)).await.unwrap(), (0, 1));
    assert!(app.store.pending_emails(100).await.unwrap().is_empty());
    assert_eq!(email_state(&app, &desk.leader, doc).await, "failed");
    assert_eq!(send_pending_emails(&app.state, &mailer, Some(PUBLIC_URL)).await.unwrap(), (0, 0));
}

#[tokio::test]
async fn a_refused_address_is_given_up_at_once_and_an_outage_spares_the_rest() {
    use vanban_server::notify::send_pending_emails;
    let Some(python) = sink_python() else { return };
    let app = crate::harness::TestApp::new().await;
    let desk = desk(&app).await;
    // Two documents: two notifications for the leader.
    let first = arrive_and_register(&app, &desk, "103").await;
    let second = arrive_and_register(&app, &desk, "104").await;

    // The server unreachable: the round stops at the first message; the second keeps its
    // attempts for when the server is back.
    let down = Mailer::new(plain_config(closed_port())).unwrap();
    assert_eq!(send_pending_emails(&app.state, &down, None).await.unwrap(), (0, 1));
    let attempts: Vec<i32> = app.store.pending_emails(100).await.unwrap().iter().map(|p| p.attempts).collect();
    assert_eq!(attempts, [1, 0]);

    // Back up, without public_url: both go, without a link.
    let sink = Sink::start(&python, None);
    let mailer = Mailer::new(plain_config(sink.port)).unwrap();
    assert_eq!(send_pending_emails(&app.state, &mailer, None).await.unwrap(), (2, 0));
    let received = sink.received();
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|m| !m["text"].as_str().unwrap().contains("/incoming/")));
    assert_eq!(email_state(&app, &desk.leader, first).await, "sent");
    assert_eq!(email_state(&app, &desk.leader, second).await, "sent");

    // A second leader whose address the server refuses (550): given up after one attempt,
    // while the first leader's message goes.
    let deputy = leader_of_b(&app, "b.phogiamdoc", "Lê Văn Đức", "reject@example.vn").await;
    let third = arrive_and_register(&app, &desk, "105").await;
    assert_eq!(send_pending_emails(&app.state, &mailer, Some(PUBLIC_URL)).await.unwrap(), (1, 1));
    assert_eq!(email_state(&app, &deputy, third).await, "failed");
    assert_eq!(email_state(&app, &desk.leader, third).await, "sent");
    assert!(app.store.pending_emails(100).await.unwrap().is_empty());
    assert_eq!(sink.received().len(), 3);
}
