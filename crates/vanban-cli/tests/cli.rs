//! The `vanban` binary as an operator meets it: configuration errors, admin commands, the demo.

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
    let s = store(dir.path()).await;
    let agencies = s.list_agencies().await.unwrap().len();
    let users = s.count_users().await.unwrap();
    assert!(agencies >= 10 && users >= 30, "{agencies} agencies, {users} users");
    // Again: the same data, nothing added.
    let o = vanban(dir.path(), &["demo", "--no-serve"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(s.list_agencies().await.unwrap().len(), agencies);
    assert_eq!(s.count_users().await.unwrap(), users);
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
