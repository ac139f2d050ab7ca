//! The `vanban` binary as an operator meets it: configuration errors, admin commands, the demo.

#[path = "cli/exchange.rs"]
mod exchange;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn vanban(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args(args)
        .env("VANBAN_DATA_DIR", dir)
        .env_remove("VANBAN_DATABASE_URL")
        .env_remove("VANBAN_CONFIG")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

async fn store(dir: &Path) -> std::sync::Arc<dyn vanban_store::Store> {
    vanban_store::open(None, dir).await.unwrap()
}

#[test]
fn bad_configuration_stops_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vanban.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nlisen_typo = 1\n").unwrap();
    let o = vanban(dir.path(), &["--config", cfg.to_str().unwrap(), "serve"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("lisen_typo"), "{}", text(&o));

    let o = vanban(dir.path(), &["serve", "--listen", "localhost-8080"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("invalid listen address"), "{}", text(&o));

    let o = vanban(dir.path(), &["serve", "--database-url", "mysql://x@y/z"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unsupported database URL"), "{}", text(&o));

    let o = vanban(dir.path(), &["--config", "/nonexistent/vanban.toml", "serve"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("cannot read config file"), "{}", text(&o));

    // A server that cannot reach its database says so, without printing the password.
    let o = vanban(dir.path(), &["serve", "--database-url", "postgres://vanban:hunter2@127.0.0.1:1/vanban"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("cannot open database") && !text(&o).contains("hunter2"), "{}", text(&o));
}

#[tokio::test]
async fn import_is_all_or_nothing_and_users_get_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("agencies.csv");
    std::fs::write(
        &csv,
        "code,parent_code,name,parent_name,abbreviation,level,place\n\
         000.00.00.H58,,Ủy ban nhân dân tỉnh Bình An,,UBND,provincial,Bình An\n\
         000.00.01.H58,000.00.00.H58,Sở Tài chính,,STC,provincial,Bình An\n\
         000.00.41.H58,000.00.00.H58,Ủy ban nhân dân huyện An Hòa,,UBND,district,An Hòa\n\
         001.00.41.H58,000.00.41.H58,Ủy ban nhân dân xã An Phú,,UBND,commune,An Phú\n\
         002.00.41.H58,000.00.01.H58,Ủy ban nhân dân xã Sai Cha,,UBND,commune,An Phú\n",
    )
    .unwrap();
    // The last row's parent is not the agency its code sits under: nothing is imported.
    let o = vanban(dir.path(), &["admin", "import-agencies", csv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nothing was written"), "{}", text(&o));
    assert!(store(dir.path()).await.list_agencies().await.unwrap().is_empty());

    let content = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, content.lines().take(5).collect::<Vec<_>>().join("\n")).unwrap();
    let o = vanban(dir.path(), &["admin", "import-agencies", csv.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("imported 4 agencies"));

    // A malformed code is reported with its line.
    std::fs::write(
        &csv,
        "code,parent_code,name,parent_name,abbreviation,level,place\n00.00.00.H58,,X,,X,provincial,X\n",
    )
    .unwrap();
    let o = vanban(dir.path(), &["admin", "import-agencies", csv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("line 2") && text(&o).contains("invalid_agency_code"), "{}", text(&o));

    let o = vanban(
        dir.path(),
        &[
            "admin",
            "create-user",
            "--agency-code",
            "000.00.01.H58",
            "--username",
            "tran.thi.d",
            "--full-name",
            "Trần Thị D",
            "--role",
            "clerk",
            "--role",
            "lãnh đạo",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    let password = out.lines().find_map(|l| l.strip_prefix("password: ")).unwrap().to_owned();
    assert_eq!(password.len(), 16);
    let s = store(dir.path()).await;
    let login = s.find_login("tran.thi.d").await.unwrap().unwrap();
    assert!(login.password_hash.starts_with("$argon2id$"));
    let caller = s.caller_for(login.user_id).await.unwrap();
    assert_eq!(caller.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(), ["clerk", "leader"]);

    let o = vanban(
        dir.path(),
        &[
            "admin",
            "create-user",
            "--agency-code",
            "000.00.01.H58",
            "--username",
            "x.y",
            "--full-name",
            "X",
            "--role",
            "chairman",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("chairman"), "{}", text(&o));

    let o = vanban(dir.path(), &["admin", "reset-password", "--username", "tran.thi.d"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_ne!(s.find_login("tran.thi.d").await.unwrap().unwrap().password_hash, login.password_hash);

    let o = vanban(dir.path(), &["admin", "verify-audit"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("audit chain intact"), "{}", text(&o));
}

#[tokio::test]
async fn demo_seeds_once_and_prints_the_logins() {
    let dir = tempfile::tempdir().unwrap();
    let o = vanban(dir.path(), &["demo", "--no-serve"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("vanban@2026") && out.contains("vanthu") && out.contains("lanhdao"), "{out}");
    assert!(out.contains("mã PIN 123456"), "{out}");
    let s = store(dir.path()).await;
    // The demo leaders can sign right away: a certificate (sealed key) and a signature image each.
    let leader = s.find_user_id("lanhdao").await.unwrap().unwrap();
    let scope = vanban_store::Scope::of(&s.caller_for(leader).await.unwrap());
    let certs = s.list_certificates(&scope, vanban_store::Owner::User(leader)).await.unwrap();
    assert_eq!(certs.len(), 1);
    assert!(s.get_signing_image(&scope, vanban_store::Owner::User(leader)).await.unwrap().is_some());
    assert_eq!(s.list_certificates(&scope, vanban_store::Owner::Agency).await.unwrap().len(), 1);
    // So does Sở Tài chính: its Director, and its clerk with the department's seal (for the
    // paper it digitises).
    let stc = s.find_user_id("stc.lanhdao").await.unwrap().unwrap();
    let stc_scope = vanban_store::Scope::of(&s.caller_for(stc).await.unwrap());
    assert_ne!(stc_scope.agency_id(), scope.agency_id());
    assert_eq!(s.list_certificates(&stc_scope, vanban_store::Owner::User(stc)).await.unwrap().len(), 1);
    assert_eq!(s.list_certificates(&stc_scope, vanban_store::Owner::Agency).await.unwrap().len(), 1);
    assert!(s.get_signing_image(&stc_scope, vanban_store::Owner::Agency).await.unwrap().is_some());
    let agencies = s.list_agencies().await.unwrap().len();
    let users = s.count_users().await.unwrap();
    assert!(agencies >= 10 && users >= 30, "{agencies} agencies, {users} users");
    // Again: the same data, nothing added.
    let o = vanban(dir.path(), &["demo", "--no-serve"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(s.list_agencies().await.unwrap().len(), agencies);
    assert_eq!(s.count_users().await.unwrap(), users);
    assert_eq!(s.list_certificates(&scope, vanban_store::Owner::User(leader)).await.unwrap().len(), 1);
    assert!(s.verify_audit_chain().await.unwrap().is_intact());
}

/// The binary against PostgreSQL: the demo province seeded into a fresh database, served
/// data read back through the store. Needs `VANBAN_TEST_PG_URL` (CI always sets it).
#[tokio::test]
async fn demo_on_postgresql() {
    use sqlx::Connection;
    let Ok(base) = std::env::var("VANBAN_TEST_PG_URL") else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "VANBAN_TEST_PG_URL is not set; CI must test PostgreSQL");
        eprintln!("skipped: VANBAN_TEST_PG_URL is not set");
        return;
    };
    let name = format!("vanban_cli_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let dir = tempfile::tempdir().unwrap();
    let o = vanban(dir.path(), &["demo", "--no-serve", "--database-url", &url]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!dir.path().join("vanban.db").exists(), "no SQLite file when PostgreSQL is configured");
    let s = vanban_store::open(Some(&url), dir.path()).await.unwrap();
    assert_eq!(s.backend(), "postgres");
    assert_eq!(s.list_agencies().await.unwrap().len(), 15);
    assert!(s.find_login("vanthu").await.unwrap().is_some());
    assert!(s.verify_audit_chain().await.unwrap().is_intact());
    drop(s);
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&mut admin).await.unwrap();
}

/// `vanban render` with the shipped layout and with an agency's adjusted copy of it.
#[test]
fn render_uses_the_shipped_or_an_adjusted_template() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = root.join("examples/documents/quyet_dinh.json");
    let out = dir.path().join("qd.pdf");
    let o = vanban(dir.path(), &["render", example.to_str().unwrap(), "-o", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report["pages"].as_u64().unwrap() >= 1);
    assert!(report["slots"]["signer"]["width_mm"].as_f64().unwrap() > 50.0);
    assert!(std::fs::read(&out).unwrap().starts_with(b"%PDF-"));
    // An adjusted layout (here: one line added) is used without a rebuild.
    let template = dir.path().join("mau-rieng.typ");
    let shipped = std::fs::read_to_string(root.join("crates/vanban-render/templates/decree30.typ")).unwrap();
    std::fs::write(&template, format!("{shipped}\n#align(center)[MẪU CỦA SỞ TÀI CHÍNH]\n")).unwrap();
    let o = vanban(
        dir.path(),
        &["render", example.to_str().unwrap(), "-o", out.to_str().unwrap(), "--template", template.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    if let Ok(t) = Command::new("pdftotext").args([out.to_str().unwrap(), "-"]).output() {
        assert!(String::from_utf8_lossy(&t.stdout).contains("MẪU CỦA SỞ TÀI CHÍNH"));
    }
    // A broken document is refused with its reason and a non-zero exit.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"doc_type": "nghi_dinh_gia", "agency": "X", "agency_abbreviation": "X", "place": "X", "subject": "X", "body": ["x"]}"#).unwrap();
    let o = vanban(dir.path(), &["render", bad.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown_document_type"), "{}", text(&o));
}

#[test]
fn verify_reports_with_exit_codes_and_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../vanban-pades/tests/fixtures/cong_van.pdf");
    // Not a PDF: exit 2 and a clear message (English and Vietnamese).
    let junk = dir.path().join("junk.pdf");
    std::fs::write(&junk, b"hello").unwrap();
    let out = vanban(dir.path(), &["verify", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not_pdf") && err.contains("Tệp không phải là tệp PDF"), "{err}");
    // A PDF without signatures: indeterminate (4), said so.
    let out = vanban(dir.path(), &["verify", fixture, "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reason"], "no_signatures");
    // A signed PDF: valid with its root (0), indeterminate without it (4), invalid when tampered (3).
    let now = chrono::Utc::now();
    let pki = vanban_pki::TestPki::generate("Bình An", vanban_pki::KeyAlgorithm::EcdsaP256, now, None).unwrap();
    let (cert, key) = pki.person(vanban_pki::SubjectInfo::new("Nguyễn Văn An")).unwrap();
    let chain = vec![pki.issuing.cert.clone(), pki.root.cert.clone()];
    let opts = vanban_pades::SignOptions::new("vb_signature_signer", vanban_pades::Visual::Invisible, now);
    let id = vanban_pades::Identity { key: &key, cert: &cert, chain: &chain };
    let signed = vanban_pades::sign(&std::fs::read(fixture).unwrap(), &opts, &id, None).unwrap();
    let file = dir.path().join("signed.pdf");
    std::fs::write(&file, &signed).unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, pki.root.cert.to_pem()).unwrap();
    let out = vanban(dir.path(), &["verify", file.to_str().unwrap(), "--trust", root.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("VALID") && text.contains("Nguyễn Văn An") && text.contains("Hợp lệ"), "{text}");
    assert_eq!(vanban(dir.path(), &["verify", file.to_str().unwrap()]).status.code(), Some(4));
    let mut tampered = signed.clone();
    tampered[500] ^= 1;
    std::fs::write(&file, &tampered).unwrap();
    let out = vanban(dir.path(), &["verify", file.to_str().unwrap(), "--trust", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stdout));
}

/// A minimal HTTP/1.1 client over a socket (the test talks to a real `vanban serve`).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: &str,
    ctype: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    try_http(addr, method, path, cookie, csrf, ctype, body).unwrap_or_else(|e| panic!("{method} {path} at {addr}: {e}"))
}

/// [`http`], with a transport failure (refused, reset) returned instead of a panic.
fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: &str,
    ctype: &str,
    body: &[u8],
) -> std::io::Result<(u16, String, Vec<u8>)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    // A server killed while it answered leaves a truncated answer: a transport failure too.
    let truncated = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "truncated answer");
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(truncated)?;
    let headers = String::from_utf8_lossy(&out[..split]).into_owned();
    let status: u16 = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(truncated)?;
    let mut body = out[split + 4..].to_vec();
    if headers.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut plain = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(truncated)?;
            let size = std::str::from_utf8(&rest[..nl]).ok().map(str::trim);
            let n = size.and_then(|h| usize::from_str_radix(h, 16).ok()).ok_or_else(truncated)?;
            if n == 0 {
                break;
            }
            plain.extend_from_slice(rest.get(nl + 2..nl + 2 + n).ok_or_else(truncated)?);
            rest = rest.get(nl + 2 + n + 2..).ok_or_else(truncated)?;
        }
        body = plain;
    }
    Ok((status, headers, body))
}

struct Served(std::process::Child);
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn login(addr: &str, user: &str) -> (String, String) {
    let body = serde_json::json!({ "username": user, "password": "vanban@2026" }).to_string();
    let (st, headers, body) = http(addr, "POST", "/api/v1/session", "", "", "application/json", body.as_bytes());
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let cookie = headers
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .filter(|c| c.starts_with("vanban_session="))
        .or_else(|| {
            headers.lines().filter_map(|l| l.split_once(": ").map(|x| x.1)).find(|c| c.starts_with("vanban_session="))
        })
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["csrf_token"].as_str().unwrap().to_owned();
    (cookie, csrf)
}

fn api(
    addr: &str,
    who: &(String, String),
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let (st, _, b) = http(addr, method, path, &who.0, &who.1, "application/json", body.to_string().as_bytes());
    (st, serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null))
}

/// The signer's key lives on a token (SoftHSM2): the server prepares, `vanban sign-agent` signs
/// on "the signer's PC" (another process), the server embeds; all over loopback.
#[test]
fn sign_agent_signs_with_a_pkcs11_token_through_the_server() {
    const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !Path::new(MODULE).exists() || Command::new("softhsm2-util").arg("--version").output().is_err() {
        assert!(!ci, "CI=true but SoftHSM2 is missing: install the softhsm2 package");
        eprintln!("skipping: SoftHSM2 is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A CA outside the instance (as a Vietnamese CA would be), trusted by configuration.
    let now = chrono::Utc::now();
    let pki =
        vanban_pki::TestPki::generate("VNPT-CA thử nghiệm", vanban_pki::KeyAlgorithm::Rsa2048, now, None).unwrap();
    let mut subject = vanban_pki::SubjectInfo::new("Lê Văn Lãnh Đạo");
    subject.uid = Some("CCCD:001090099999".into());
    let (cert, key) = pki.person(subject).unwrap();
    std::fs::write(d.join("root.pem"), pki.root.cert.to_pem()).unwrap();
    std::fs::write(
        d.join("vanban.toml"),
        format!(
            "trust_anchors = [\"{}\"]\npki_passphrase = \"a-test-passphrase-long-enough\"\n",
            d.join("root.pem").display()
        ),
    )
    .unwrap();
    // The token.
    std::fs::create_dir(d.join("tokens")).unwrap();
    let conf = d.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\n", d.join("tokens").display()),
    )
    .unwrap();
    let hsm = |args: &[&str]| {
        let o = Command::new("softhsm2-util").args(args).env("SOFTHSM2_CONF", &conf).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    hsm(&["--init-token", "--free", "--label", "usb", "--pin", "123456", "--so-pin", "12345678"]);
    let pem = vanban_pki::pem_block("PRIVATE KEY", &key.to_pkcs8_der());
    std::fs::write(d.join("key.pem"), pem).unwrap();
    hsm(&[
        "--import",
        d.join("key.pem").to_str().unwrap(),
        "--label",
        "ky-so",
        "--id",
        "01",
        "--pin",
        "123456",
        "--token",
        "usb",
    ]);
    {
        unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
        let token = vanban_pki::Pkcs11Token::open(Path::new(MODULE), Some("usb"), "123456").unwrap();
        token.import_certificate(&[1], "ky-so", &cert).unwrap();
    }

    // The server: the demo province, served on a free port.
    let data = d.join("data");
    let config = d.join("vanban.toml");
    let out =
        vanban(d, &["demo", "--no-serve", "--data-dir", data.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut child = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args(["serve", "--data-dir", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--config"])
        .arg(d.join("vanban.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _served = Served(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let addr = line.trim().trim_start_matches("vanban: http://").trim_end_matches('/').to_owned();

    // The leader registers the token's certificate (exported by the agent) and a signature image.
    let agent = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vanban"))
            .arg("sign-agent")
            .args(["--module", MODULE, "--token", "usb"])
            .args(args)
            .env("SOFTHSM2_CONF", &conf)
            .env("VANBAN_TOKEN_PIN", "123456")
            .env("VANBAN_PASSWORD", "vanban@2026")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = agent(&["--export-certificate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported = String::from_utf8(out.stdout).unwrap();
    assert!(exported.contains("BEGIN CERTIFICATE"));
    let leader = login(&addr, "lanhdao");
    let chain_pem = format!("{exported}{}{}", pki.issuing.cert.to_pem(), pki.root.cert.to_pem());
    let (st, c) = api(&addr, &leader, "POST", "/api/v1/certificates/token", serde_json::json!({ "pem": chain_pem }));
    assert_eq!(st, 201, "{c}");
    let cert_id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(c["provider"], "pkcs11");
    let (st, _, b) = http(
        &addr,
        "POST",
        "/api/v1/me/signature-image",
        &leader.0,
        &leader.1,
        "image/png",
        &vanban_pades::samples::signature_png(0),
    );
    assert_eq!(st, 204, "{}", String::from_utf8_lossy(&b));

    // A draft naming the leader as its signer goes up and is approved.
    let (_, me) = api(&addr, &leader, "GET", "/api/v1/me", serde_json::Value::Null);
    let leader_name = me["user"]["full_name"].as_str().unwrap().to_owned();
    let spec = login(&addr, "chuyenvien");
    let (st, doc) = api(
        &addr,
        &spec,
        "POST",
        "/api/v1/documents",
        serde_json::json!({ "doc_type": "cong_van", "subject": "Ký bằng USB token" }),
    );
    assert_eq!(st, 201, "{doc}");
    let id = doc["id"].as_str().unwrap().to_owned();
    let content = serde_json::json!({ "content": {
        "subject": "V/v ký số bằng thiết bị", "unit_abbreviation": "VP", "addressees": ["Các sở, ban, ngành"],
        "body": ["Ủy ban nhân dân tỉnh đề nghị các cơ quan ký số văn bản bằng thiết bị ký số."],
        "recipients": ["Như trên;"], "archive_units": ["VP"],
        "signer": { "authority": "TM.", "head_title": "Ủy ban nhân dân", "position": "Chủ tịch", "full_name": leader_name } } });
    let (st, v) = api(&addr, &spec, "POST", &format!("/api/v1/documents/{id}/versions"), content);
    assert_eq!(st, 201, "{v}");
    let (st, v) = api(
        &addr,
        &spec,
        "POST",
        &format!("/api/v1/documents/{id}/submit"),
        serde_json::json!({ "reviewers": [], "mode": "sequential" }),
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = api(
        &addr,
        &leader,
        "POST",
        &format!("/api/v1/documents/{id}/transitions"),
        serde_json::json!({ "action": "approve" }),
    );
    assert_eq!(st, 200, "{v}");

    // A wrong token PIN fails on the token, and nothing is signed.
    let bad = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args([
            "sign-agent",
            "--module",
            MODULE,
            "--token",
            "usb",
            "--server",
            &format!("http://{addr}"),
            "--username",
            "lanhdao",
        ])
        .args(["--document", &id, "--certificate", &cert_id])
        .env("SOFTHSM2_CONF", &conf)
        .env("VANBAN_TOKEN_PIN", "000000")
        .env("VANBAN_PASSWORD", "vanban@2026")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    // A server elsewhere is reached over TLS: here a TLS-terminating proxy (socat) in front of
    // the server, with a certificate from a private CA the agent is told to trust.
    assert!(Command::new("socat").arg("-V").output().is_ok(), "socat is needed (Debian package socat)");
    let run = |args: &[&str]| {
        let o = Command::new("openssl").args(args).current_dir(d).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-days", "1", "-subj", "/CN=Private CA", "-keyout", "ca.key", "-out", "ca.pem"],
    ]
    .concat());
    run(&[&["req"][..], &ec, &["-subj", "/CN=vanban.local", "-keyout", "tls.key", "-out", "tls.csr"]].concat());
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "tls.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "tls.pem",
    ]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let proxy = Command::new("socat")
        .arg(format!("OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert=tls.pem,key=tls.key,verify=0"))
        .arg(format!("TCP:{addr}"))
        .current_dir(d)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _proxy = Served(proxy);
    let https = format!("https://127.0.0.1:{port}");
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Plain HTTP to a server elsewhere is refused before any password is sent.
    let out = agent(&[
        "--server",
        "http://vanban.example",
        "--username",
        "lanhdao",
        "--document",
        &id,
        "--certificate",
        &cert_id,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("https://"), "{}", String::from_utf8_lossy(&out.stderr));
    // Without the private CA, the server's certificate is not trusted.
    let out = agent(&["--server", &https, "--username", "lanhdao", "--document", &id, "--certificate", &cert_id]);
    assert!(!out.status.success(), "an untrusted TLS certificate must be refused");
    // The agent signs on the token; the server embeds.
    let ca = d.join("ca.pem");
    let out = agent(&[
        "--server",
        &https,
        "--ca-file",
        ca.to_str().unwrap(),
        "--username",
        "lanhdao",
        "--document",
        &id,
        "--certificate",
        &cert_id,
    ]);
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let (_, v) = api(&addr, &leader, "GET", &format!("/api/v1/documents/{id}"), serde_json::Value::Null);
    assert_eq!(v["state"], "signed");

    // The signed PDF validates with the external CA's root, from the command line.
    let (st, _, pdf) = http(&addr, "GET", &format!("/documents/{id}/signed.pdf"), &leader.0, &leader.1, "", b"");
    assert_eq!(st, 200);
    std::fs::write(d.join("signed.pdf"), &pdf).unwrap();
    let out =
        vanban(d, &["verify", d.join("signed.pdf").to_str().unwrap(), "--trust", d.join("root.pem").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Lê Văn Lãnh Đạo") && text.contains("CCCD:001090099999"), "{text}");
}

/// `vanban verify --fetch` takes revocation from the CRL the signer's CA publishes (a plain
/// HTTP server here): a certificate revoked before the signature makes it invalid.
#[test]
fn verify_fetches_the_crl_of_the_signers_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let now = chrono::Utc::now();
    let pki = vanban_pki::TestPki::generate(
        "CA thử nghiệm",
        vanban_pki::KeyAlgorithm::EcdsaP256,
        now - chrono::Duration::days(2),
        Some(format!("http://127.0.0.1:{port}")),
    )
    .unwrap();
    let (cert, key) = pki.person(vanban_pki::SubjectInfo::new("Nguyễn Văn An")).unwrap();
    assert!(!cert.crl_urls().is_empty(), "the certificate names its CRL");
    let chain = vec![pki.issuing.cert.clone(), pki.root.cert.clone()];
    let opts = vanban_pades::SignOptions::new("vb_signature_signer", vanban_pades::Visual::Invisible, now);
    let id = vanban_pades::Identity { key: &key, cert: &cert, chain: &chain };
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../vanban-pades/tests/fixtures/cong_van.pdf");
    let signed = vanban_pades::sign(&std::fs::read(fixture).unwrap(), &opts, &id, None).unwrap();
    std::fs::write(d.join("signed.pdf"), &signed).unwrap();
    std::fs::write(d.join("root.pem"), pki.root.cert.to_pem()).unwrap();
    // The CA publishes a CRL revoking the signer an hour before signing.
    let crl_dir = d.join("www/pki/crl");
    std::fs::create_dir_all(&crl_dir).unwrap();
    let entry = vanban_pki::RevokedEntry {
        serial: cert.serial(),
        revoked_at: now - chrono::Duration::hours(1),
        reason: vanban_pki::RevocationReason::KeyCompromise,
    };
    let crl = pki.issuing.crl(&[entry], now, now + chrono::Duration::days(1), 7).unwrap();
    let url = cert.crl_urls().remove(0);
    let file = url.rsplit('/').next().unwrap();
    std::fs::write(crl_dir.join(file), crl).unwrap();
    let mut server = Command::new("python3")
        .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
        .arg(d.join("www"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (pdf, root) = (d.join("signed.pdf"), d.join("root.pem"));
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", pdf.to_str().unwrap(), "--trust", root.to_str().unwrap()];
        args.extend_from_slice(extra);
        vanban(d, &args)
    };
    let without = verify(&[]);
    let with = verify(&["--fetch"]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(without.status.code(), Some(0), "{}", String::from_utf8_lossy(&without.stdout));
    let text = String::from_utf8_lossy(&with.stdout);
    assert_eq!(with.status.code(), Some(3), "{text}{}", String::from_utf8_lossy(&with.stderr));
    assert!(text.contains("[revoked]"), "{text}");
}

/// [`api`] that reports a dead server instead of panicking (the crash test kills it).
fn try_api(
    addr: &str,
    who: &(String, String),
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> Option<(u16, serde_json::Value)> {
    let (st, _, b) =
        try_http(addr, method, path, &who.0, &who.1, "application/json", body.to_string().as_bytes()).ok()?;
    Some((st, serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null)))
}

fn serve(data: &Path) -> (Served, String) {
    serve_with(data, None)
}

/// `vanban serve` on a free port, with a configuration file if given: the process and its
/// address.
fn serve_with(data: &Path, config: Option<&Path>) -> (Served, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vanban"));
    cmd.args(["serve", "--data-dir", data.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    if let Some(c) = config {
        cmd.args(["--config", c.to_str().unwrap()]);
    }
    let (served, line) = spawn_announced(cmd.env_remove("VANBAN_DATABASE_URL").env_remove("VANBAN_CONFIG"));
    (served, line.trim().trim_start_matches("vanban: http://").trim_end_matches('/').to_owned())
}

/// Starts a process that announces itself with one line on stdout; returns it and the line.
fn spawn_announced(cmd: &mut Command) -> (Served, String) {
    // VANBAN_TEST_LOG=info (or debug) shows the processes' logs, for debugging a failure.
    let log = std::env::var("VANBAN_TEST_LOG").ok();
    let stderr = if log.is_some() { Stdio::inherit() } else { Stdio::null() };
    let mut child =
        cmd.env("RUST_LOG", log.as_deref().unwrap_or("error")).stdout(Stdio::piped()).stderr(stderr).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let served = Served(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    (served, line)
}

/// The server is killed (SIGKILL) at random points while clerks issue; after each restart the
/// clerks issue what is left (a document left numbered keeps its number). In the end every
/// document is issued exactly once with its own number, the register has no gap and no
/// repeat, and every recipient has each document exactly once.
#[test]
fn issuing_survives_sigkill_at_random_points() {
    const DOCS: usize = 60;
    const CLERKS: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = vanban(dir.path(), &["demo", "--no-serve", "--no-history", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out =
        vanban(dir.path(), &["seed-signed", "--count", &(DOCS - 1).to_string(), "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let ids: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), DOCS);

    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    println!("random seed {seed}");
    let mut rand = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let (served, addr) = serve(&data);
    let clerk = login(&addr, "vanthu");
    let (_, agencies) = api(&addr, &clerk, "GET", "/api/v1/agencies", serde_json::Value::Null);
    let code_of = |name: &str| {
        agencies.as_array().unwrap().iter().find(|a| a["name"] == name).unwrap()["code"].as_str().unwrap().to_owned()
    };
    let recipients = vec![code_of("Sở Tài chính"), code_of("Sở Nội vụ")];
    drop(served);

    let mut kills = 0;
    let mut interrupted = 0;
    let mut killed_mid_run = 0;
    for round in 0.. {
        assert!(round < 60, "the documents were not all issued after 60 rounds");
        let (served, addr) = serve(&data);
        let clerk = login(&addr, "vanthu");
        let left: Vec<String> = ids
            .iter()
            .filter(|id| {
                let (_, d) = api(&addr, &clerk, "GET", &format!("/api/v1/documents/{id}"), serde_json::Value::Null);
                d["state"] != "delivered"
            })
            .cloned()
            .collect();
        if left.is_empty() {
            break;
        }
        // Documents a kill left between the two transactions (numbered, not issued).
        let (_, queue_now) = api(&addr, &clerk, "GET", "/api/v1/issuing-queue", serde_json::Value::Null);
        let numbered = queue_now.as_array().unwrap().iter().filter(|d| d["state"] == "numbered").count();
        interrupted += numbered;
        println!("round {round}: {} to issue, {numbered} left numbered by the last kill", left.len());
        let queue = std::sync::Arc::new(std::sync::Mutex::new(left));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let workers: Vec<_> = (0..CLERKS)
            .map(|_| {
                let (queue, addr, clerk, recipients, done) =
                    (queue.clone(), addr.clone(), clerk.clone(), recipients.clone(), done.clone());
                std::thread::spawn(move || {
                    let body = serde_json::json!({ "pin": "123456", "recipients": recipients });
                    while let Some(id) = queue.lock().unwrap().pop() {
                        match try_api(&addr, &clerk, "POST", &format!("/api/v1/documents/{id}/issue"), &body) {
                            Some((201, _)) => {
                                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Some((st, b)) => panic!("issue {id}: {st} {b}"),
                            None => return, // the server died
                        }
                    }
                })
            })
            .collect();
        // Kill at a random point of the run, in most rounds; let the last rounds finish.
        if round < 8 {
            // Once issuing is under way (the first issue unlocks the keys), at a random moment.
            let started = std::time::Instant::now();
            while done.load(std::sync::atomic::Ordering::SeqCst) == 0 && started.elapsed().as_secs() < 60 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            std::thread::sleep(std::time::Duration::from_millis(rand(200)));
            kills += 1;
            drop(served); // SIGKILL
            if !queue.lock().unwrap().is_empty() {
                killed_mid_run += 1;
            }
            for w in workers {
                w.join().unwrap();
            }
        } else {
            for w in workers {
                w.join().unwrap();
            }
            drop(served);
        }
    }
    println!(
        "{kills} kills, {killed_mid_run} with documents still queued, {interrupted} documents found numbered after a kill"
    );
    assert!(killed_mid_run > 0, "no kill landed while clerks were issuing");

    // The outcome, read through a fresh server.
    let (_served, addr) = serve(&data);
    let clerk = login(&addr, "vanthu");
    let (st, report) =
        api(&addr, &clerk, "GET", "/api/v1/registers/outgoing/report?format=json", serde_json::Value::Null);
    assert_eq!(st, 200, "{report}");
    let rows = report["rows"].as_array().unwrap();
    let mut numbers: Vec<u32> =
        rows.iter().map(|r| r[0].as_str().unwrap().split('/').next().unwrap().parse().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=DOCS as u32).collect::<Vec<_>>(), "numbers are 1..{DOCS}: none lost, none twice");
    let mut symbols = std::collections::BTreeSet::new();
    for id in &ids {
        let (_, t) = api(&addr, &clerk, "GET", &format!("/api/v1/documents/{id}/deliveries"), serde_json::Value::Null);
        assert_eq!(t["entry"]["state"], "issued", "{id}: {t}");
        assert_eq!(t["deliveries"].as_array().unwrap().len(), 2, "{t}");
        assert!(symbols.insert(t["entry"]["symbol"].as_str().unwrap().to_owned()));
    }
    for clerk_name in ["stc.vanthu", "snv.vanthu"] {
        let who = login(&addr, clerk_name);
        let (_, list) = api(&addr, &who, "GET", "/api/v1/incoming?limit=1000", serde_json::Value::Null);
        let got: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["symbol"].as_str().unwrap()).collect();
        let distinct: std::collections::BTreeSet<&str> = got.iter().copied().collect();
        assert_eq!(got.len(), DOCS, "{clerk_name} received each document once");
        assert_eq!(distinct.len(), DOCS);
    }
    let out = vanban(dir.path(), &["admin", "verify-audit", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}
