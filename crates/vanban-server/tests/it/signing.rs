//! Certificates, signature images, the leader's signature on an approved draft, validation,
//! and the public PKI endpoints, through the real router.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::harness::{Client, TestApp, draft};

/// A blue handwritten signature, or (not blue) a red seal, both PNG with transparency.
fn blue_signature() -> Vec<u8> {
    vanban_pades::samples::signature_png(0)
}

fn red_seal() -> Vec<u8> {
    vanban_pades::samples::seal_png()
}

async fn raw_post(c: &Client<'_>, path: &str, content_type: &str, body: Vec<u8>) -> crate::harness::Response {
    let req = Request::post(path)
        .header(header::COOKIE, &c.cookie)
        .header("x-csrf-token", &c.csrf)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    c.app.request(req).await
}

async fn bytes_of(app: &TestApp, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    (status, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}

/// A draft of agency A naming a.leader as its signer, saved, submitted straight to the leader
/// and approved.
async fn approved(app: &TestApp) -> String {
    approved_naming(app, "Nguyễn Văn a.leader").await
}

async fn approved_naming(app: &TestApp, signer: &str) -> String {
    let spec = app.login("a.specialist").await;
    let leader = app.login("a.leader").await;
    let id = draft(&spec, "Kế hoạch ký số").await;
    let content = json!({
        "subject": "V/v triển khai ký số văn bản",
        "unit_abbreviation": "VP",
        "addressees": ["Các phòng, ban thuộc Sở"],
        "body": ["Sở Tài chính đề nghị các phòng, ban triển khai ký số toàn bộ văn bản đi."],
        "recipients": ["Như trên;"],
        "archive_units": ["VP"],
        "signer": { "authority": "KT.", "head_title": "Giám đốc", "position": "Phó Giám đốc", "full_name": signer }
    });
    let r = spec.post(&format!("/api/v1/documents/{id}/versions"), json!({ "content": content })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r =
        spec.post(&format!("/api/v1/documents/{id}/submit"), json!({ "reviewers": [], "mode": "sequential" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = leader.post(&format!("/api/v1/documents/{id}/transitions"), json!({ "action": "approve" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    id
}

#[tokio::test]
async fn a_leader_signs_an_approved_draft_and_anyone_can_validate_it() {
    let app = TestApp::new().await;
    let leader = app.login("a.leader").await;
    let id = approved(&app).await;

    // No certificate, no image yet: signing is refused with a reason.
    let r = leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": uuid::Uuid::nil(), "pin": "123456" }))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // A weak PIN is refused; a good one gets a certificate from the instance CA.
    let r = leader.post("/api/v1/certificates", json!({ "pin": "12" })).await;
    assert_eq!(r.error_code(), "weak_pin", "{}", r.body);
    let r = leader.post("/api/v1/certificates", json!({ "pin": "246810", "uid": "001090012345" })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let cert_id = r.json()["id"].as_str().unwrap().to_owned();
    assert!(r.json()["subject"].as_str().unwrap().contains("CCCD:001090012345"), "{}", r.body);

    // The signature image must be blue on a transparent background.
    let r = raw_post(&leader, "/api/v1/me/signature-image", "image/png", red_seal()).await;
    assert_eq!(r.error_code(), "bad_image", "{}", r.body);
    let r = raw_post(&leader, "/api/v1/me/signature-image", "image/png", b"not a png".to_vec()).await;
    assert_eq!(r.error_code(), "bad_image", "{}", r.body);
    let r = raw_post(&leader, "/api/v1/me/signature-image", "image/png", blue_signature()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);

    // A wrong PIN signs nothing.
    let r = leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert_id, "pin": "999999" }))
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::FORBIDDEN, "wrong_pin"), "{}", r.body);
    assert_eq!(leader.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "approved");

    // Only the person the document names signs it.
    let other = approved_naming(&app, "Trần Văn Khác").await;
    let r = leader
        .post(&format!("/api/v1/documents/{other}/sign"), json!({ "certificate_id": cert_id, "pin": "246810" }))
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::FORBIDDEN, "not_the_named_signer"), "{}", r.body);
    assert!(r.json()["error"]["message_vi"].as_str().unwrap().contains("Trần Văn Khác"), "{}", r.body);
    // Its page names the signer and offers the others no form; the named one gets it.
    let panel = leader.get(&format!("/documents/{other}/signing")).await;
    assert!(panel.body.contains("data-testid=\"named-signer\">Trần Văn Khác"), "{}", panel.body);
    assert!(panel.body.contains("data-testid=\"not-named-signer\""), "{}", panel.body);
    assert!(!panel.body.contains("data-testid=\"sign-form\""), "{}", panel.body);
    let panel = leader.get(&format!("/documents/{id}/signing")).await;
    assert!(panel.body.contains("data-testid=\"sign-form\"") && !panel.body.contains("not-named-signer"));
    // The certificate is offered by its holder's name and validity, not its raw subject.
    let offered =
        panel.body.split(&format!("<option value=\"{cert_id}\"")).nth(1).unwrap().split("</option>").next().unwrap();
    assert!(offered.contains("— hiệu lực đến ") && offered.contains("— số hiệu "), "{offered}");
    assert!(!offered.contains("CN=") && !offered.contains("O="), "{offered}");

    // A specialist cannot sign.
    let spec = app.login("a.specialist").await;
    let r =
        spec.post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert_id, "pin": "246810" })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    let r = leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert_id, "pin": "246810" }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(leader.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "signed");
    let revs = leader.get(&format!("/api/v1/documents/{id}/revisions")).await.json();
    let kinds: Vec<&str> = revs.as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["render", "signer"]);

    // Signing again is refused: the document is no longer approved.
    let r = leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert_id, "pin": "246810" }))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // The signed PDF validates against the instance root with independent code paths.
    let get = |path: String| Request::get(path).header(header::COOKIE, &leader.cookie).body(Body::empty()).unwrap();
    let (st, pdf) = bytes_of(&app, get(format!("/documents/{id}/signed.pdf"))).await;
    assert_eq!(st, StatusCode::OK);
    let (st, root_pem) = bytes_of(&app, Request::get("/pki/ca/root.pem").body(Body::empty()).unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    let root = vanban_pki::Cert::from_pem(std::str::from_utf8(&root_pem).unwrap()).unwrap();
    if let Ok(dir) = std::env::var("VANBAN_SIGNED_DUMP") {
        std::fs::write(format!("{dir}/server-signed.pdf"), &pdf).unwrap();
        std::fs::write(format!("{dir}/server-root.pem"), &root_pem).unwrap();
    }
    // B-LT: the file carries its own revocation data, so a strict validator needs nothing else.
    let policy = vanban_pades::verify::Policy {
        trust: vanban_pki::TrustStore::new(root),
        require_revocation: true,
        ..Default::default()
    };
    let report = vanban_pades::verify::verify_pdf(&pdf, &policy).unwrap();
    assert_eq!(report.verdict, vanban_pades::verify::Verdict::Valid, "{report:#?}");
    assert_eq!(report.signatures[0].docmdp, Some(2));
    assert!(report.signatures[0].timestamp.is_some(), "B-T");
    assert!(report.signatures[0].revocation.starts_with("good"), "B-LT: {}", report.signatures[0].revocation);

    // The document page's panel says so in Vietnamese; the API validates any upload.
    let panel = leader.get(&format!("/documents/{id}/signing")).await;
    assert!(panel.body.contains("Hợp lệ"), "{}", panel.body);
    let r = raw_post(&leader, "/api/v1/verify", "application/pdf", pdf.clone()).await;
    assert_eq!(r.json()["verdict"], "valid", "{}", r.body);
    let mut tampered = pdf.clone();
    let at = tampered.len() / 3;
    tampered[at] ^= 0x20;
    let r = raw_post(&leader, "/api/v1/verify", "application/pdf", tampered).await;
    assert_ne!(r.json()["verdict"], "valid", "{}", r.body);
    let r = raw_post(&leader, "/api/v1/verify", "application/pdf", b"%PDF-1.7 truncated".to_vec()).await;
    assert_eq!(r.error_code(), "malformed_pdf", "{}", r.body);

    // Another agency sees neither the file nor its revisions.
    let other = app.login("b.clerk").await;
    let (st, _) = bytes_of(
        &app,
        Request::get(format!("/documents/{id}/signed.pdf"))
            .header(header::COOKIE, &other.cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(other.get(&format!("/api/v1/documents/{id}/revisions")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn crl_ocsp_and_timestamps_are_served_and_follow_revocation() {
    let app = TestApp::new().await;
    let leader = app.login("a.leader").await;
    let r = leader.post("/api/v1/certificates", json!({ "pin": "246810" })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let cert_id = r.json()["id"].as_str().unwrap().to_owned();
    let serial = r.json()["serial_hex"].as_str().unwrap().to_owned();

    let (_, root_pem) = bytes_of(&app, Request::get("/pki/ca/root.pem").body(Body::empty()).unwrap()).await;
    let root = vanban_pki::Cert::from_pem(std::str::from_utf8(&root_pem).unwrap()).unwrap().remove(0);

    // Timestamps.
    let req = vanban_pki::timestamp_request(&[7u8; 32], Some(42), true).unwrap();
    let (st, resp) = bytes_of(
        &app,
        Request::post("/pki/tsa")
            .header(header::CONTENT_TYPE, "application/timestamp-query")
            .body(Body::from(req))
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let token = vanban_pki::token_from_response(&resp).unwrap();
    let t = vanban_pki::parse_and_verify_token(&token).unwrap();
    assert_eq!(t.imprint, vec![7u8; 32]);
    let (_, garbage) = bytes_of(&app, Request::post("/pki/tsa").body(Body::from("garbage")).unwrap()).await;
    assert!(vanban_pki::token_from_response(&garbage).is_err(), "a malformed query gets a rejection");

    // The holder's certificate through the issuing CA.
    let mine = leader.get("/api/v1/certificates").await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let fetch_crl = || async {
        let (st, der) = bytes_of(&app, Request::get("/pki/crl/current.crl").body(Body::empty()).unwrap()).await;
        assert_eq!(st, StatusCode::OK);
        vanban_pki::Crl::from_der(&der).unwrap()
    };
    let crl = fetch_crl().await;
    let serial_bytes = hex::decode(&serial).unwrap();
    assert!(crl.revocation_of(&serial_bytes).is_none());
    // OCSP for the holder's certificate: good now.
    let rec = app.store.find_certificate_by_serial(&serial).await.unwrap().unwrap();
    let holder = vanban_pki::Cert::from_der(&rec.cert_der).unwrap();
    let issuer = vanban_pki::Cert::from_der(&rec.chain_der[0]).unwrap();
    let ocsp = |req: Vec<u8>| {
        let app = &app;
        async move {
            let (st, der) = bytes_of(
                app,
                Request::post("/pki/ocsp")
                    .header(header::CONTENT_TYPE, "application/ocsp-request")
                    .body(Body::from(req))
                    .unwrap(),
            )
            .await;
            assert_eq!(st, StatusCode::OK);
            vanban_pki::OcspResponse::from_der(&der).unwrap()
        }
    };
    let resp = ocsp(vanban_pki::ocsp_request(&holder, &issuer).unwrap()).await;
    resp.verify(&issuer).unwrap();
    assert!(matches!(resp.status_for(&holder, &issuer).unwrap().status, vanban_pki::CertStatus::Good));
    let garbage = ocsp(b"garbage".to_vec()).await;
    assert_ne!(garbage.response_status(), "successful");
    // Fetching and validating again does not mint a new CRL.
    let again = fetch_crl().await;
    assert_eq!(again.crl_number(), crl.crl_number());

    // Its PEM (with the chain) for relying parties; another agency cannot download it.
    let pem = leader.get(&format!("/certificates/{cert_id}/pem")).await;
    assert_eq!(pem.status, StatusCode::OK);
    assert_eq!(pem.body.matches("BEGIN CERTIFICATE").count(), 3, "{}", pem.body);
    assert_eq!(
        app.login("b.clerk").await.get(&format!("/certificates/{cert_id}/pem")).await.status,
        StatusCode::NOT_FOUND
    );
    // Revoke it through the page: the CRL lists it.
    let page = leader.get("/certificates").await;
    assert!(page.body.contains("Đang hiệu lực"), "{}", page.body);
    let r = leader
        .form(&format!("/certificates/{cert_id}/revoke"), &[("csrf", &leader.csrf), ("reason", "key_compromise")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let revoked = fetch_crl().await;
    let (_, reason) = revoked.revocation_of(&serial_bytes).expect("revoked serial on the CRL");
    assert_eq!(reason, vanban_pki::RevocationReason::KeyCompromise);
    let number = |c: &vanban_pki::Crl| c.crl_number().map(|n| n.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)));
    assert!(number(&revoked) > number(&crl), "a new CRL number after a revocation");
    let resp = ocsp(vanban_pki::ocsp_request(&holder, &issuer).unwrap()).await;
    assert!(matches!(resp.status_for(&holder, &issuer).unwrap().status, vanban_pki::CertStatus::Revoked { .. }));
    let _ = root;
    // A revoked certificate cannot sign.
    let id = approved(&app).await;
    let r = raw_post(&leader, "/api/v1/me/signature-image", "image/png", blue_signature()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert_id, "pin": "246810" }))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test]
async fn certificates_documents_and_sessions_stay_in_their_agency() {
    let app = TestApp::new().await;
    let leader = app.login("a.leader").await;
    let r = leader.post("/api/v1/certificates", json!({ "pin": "246810" })).await;
    let cert_id = r.json()["id"].as_str().unwrap().to_owned();
    let r = raw_post(&leader, "/api/v1/me/signature-image", "image/png", blue_signature()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let id = approved(&app).await;
    let r =
        leader.post(&format!("/api/v1/documents/{id}/signing-sessions"), json!({ "certificate_id": cert_id })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let session = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["algorithm"], "rsa2048");

    // Agency B sees none of it and can change none of it.
    let b_leader = {
        crate::harness::user_in_b_leader(&app).await;
        app.login("b.leader").await
    };
    let r = b_leader.post("/api/v1/certificates", json!({ "pin": "135790" })).await;
    let b_cert = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(b_leader.get(&format!("/api/v1/signing-sessions/{session}")).await.status, StatusCode::NOT_FOUND);
    let r =
        b_leader.post(&format!("/api/v1/signing-sessions/{session}/signature"), json!({ "signature_hex": "00" })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = b_leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": b_cert, "pin": "135790" }))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r =
        b_leader.post(&format!("/api/v1/documents/{id}/signing-sessions"), json!({ "certificate_id": b_cert })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = b_leader.form(&format!("/certificates/{cert_id}/revoke"), &[("csrf", &b_leader.csrf)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // Within A, a colleague cannot use or revoke the leader's certificate.
    let head = app.login("a.unithead").await;
    let r = head.form(&format!("/certificates/{cert_id}/revoke"), &[("csrf", &head.csrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // A signature value that does not verify is refused and nothing is signed.
    let r =
        leader.post(&format!("/api/v1/signing-sessions/{session}/signature"), json!({ "signature_hex": "00ff" })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(leader.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "approved");
    // Forms without the CSRF token are refused.
    let r = leader.form(&format!("/certificates/{cert_id}/revoke"), &[("csrf", "wrong")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Imports a PKCS#12 file through the certificates page, as a person's certificate.
async fn import_p12(c: &Client<'_>, p12: &[u8], password: &str, pin: &str) -> crate::harness::Response {
    let (ct, body) =
        multipart(&[("csrf", &c.csrf), ("kind", "person"), ("password", password), ("pin", pin), ("pin2", pin)], p12);
    raw_post(c, "/certificates/import", &ct, body).await
}

fn multipart(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "vanbanboundaryPKCS12x";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"chu-ky.p12\"\r\nContent-Type: application/x-pkcs12\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A PKCS#12 file from a CA outside the instance (made by OpenSSL, as a CA's tool would).
fn p12_from(pki: &vanban_pki::TestPki, name: &str, password: &str, dir: &std::path::Path) -> Vec<u8> {
    let (cert, key) = pki.person(vanban_pki::SubjectInfo::new(name)).unwrap();
    std::fs::write(dir.join("key.der"), key.to_pkcs8_der()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.to_pem()).unwrap();
    std::fs::write(dir.join("chain.pem"), format!("{}{}", pki.issuing.cert.to_pem(), pki.root.cert.to_pem())).unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["pkey", "-inform", "DER", "-in", "key.der", "-out", "key.pem"]);
    run(&[
        "pkcs12",
        "-export",
        "-inkey",
        "key.pem",
        "-in",
        "cert.pem",
        "-certfile",
        "chain.pem",
        "-passout",
        &format!("pass:{password}"),
        "-out",
        "id.p12",
    ]);
    std::fs::read(dir.join("id.p12")).unwrap()
}

#[tokio::test]
async fn a_pkcs12_from_a_trusted_ca_is_imported_under_a_new_pin_and_signs() {
    let tmp = tempfile::tempdir().unwrap();
    let external = vanban_pki::TestPki::generate(
        "VNPT-CA thử nghiệm",
        vanban_pki::KeyAlgorithm::Rsa2048,
        chrono::Utc::now(),
        None,
    )
    .unwrap();
    let stranger =
        vanban_pki::TestPki::generate("CA lạ", vanban_pki::KeyAlgorithm::EcdsaP256, chrono::Utc::now(), None).unwrap();
    std::fs::write(tmp.path().join("anchor.pem"), external.root.cert.to_pem()).unwrap();
    let anchor = tmp.path().join("anchor.pem");
    let app = TestApp::with_config(|c| c.trust_anchor_files = vec![anchor]).await;
    let leader = app.login("a.leader").await;
    let leader = &leader;
    let import = |p12: Vec<u8>, password: &'static str, pin: &'static str| async move {
        import_p12(leader, &p12, password, pin).await
    };
    // A wrong password, an untrusted CA, garbage: refused with a message, nothing stored.
    let good = p12_from(&external, "Trần Thị Ký", "mat-khau-p12", tmp.path());
    let r = import(good.clone(), "sai", "246810").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = import(p12_from(&stranger, "Người Lạ", "x", tmp.path()), "x", "246810").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = import(b"not a pkcs12".to_vec(), "x", "246810").await;
    assert!(r.status.is_client_error(), "{}", r.body);
    assert!(leader.get("/api/v1/certificates").await.json().as_array().unwrap().is_empty());
    // The good one: stored, then it signs a document.
    let r = import(good, "mat-khau-p12", "246810").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let certs = leader.get("/api/v1/certificates").await.json();
    assert_eq!(certs.as_array().unwrap().len(), 1);
    assert!(certs[0]["issuer"].as_str().unwrap().contains("VNPT-CA"), "{certs}");
    let cert_id = certs[0]["id"].as_str().unwrap().to_owned();
    let r = raw_post(leader, "/api/v1/me/signature-image", "image/png", blue_signature()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let id = approved(&app).await;
    let r = leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert_id, "pin": "246810" }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = leader.get(&format!("/documents/{id}/signing")).await;
    assert!(r.body.contains("Hợp lệ"), "{}", r.body);
}

/// A licensed TSA elsewhere (here: another vanban instance's /pki/tsa, a real HTTP server on
/// loopback) stamps the signatures when `tsa_url` is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_can_be_timestamped_by_a_remote_tsa() {
    let tsa_app = TestApp::with_config(|c| c.instance_name = "Dịch vụ cấp dấu thời gian".to_owned()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = tsa_app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let (_, root_pem) = bytes_of(&tsa_app, Request::get("/pki/ca/root.pem").body(Body::empty()).unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let anchor = dir.path().join("tsa-root.pem");
    std::fs::write(&anchor, &root_pem).unwrap();

    let app = TestApp::with_config(|c| {
        c.tsa_url = Some(format!("http://{addr}/pki/tsa"));
        c.trust_anchor_files = vec![anchor];
    })
    .await;
    let leader = app.login("a.leader").await;
    let r = leader.post("/api/v1/certificates", json!({ "pin": "246810" })).await;
    let cert_id = r.json()["id"].as_str().unwrap().to_owned();
    let r = raw_post(&leader, "/api/v1/me/signature-image", "image/png", blue_signature()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let id = approved(&app).await;
    let r = leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert_id, "pin": "246810" }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let (_, pdf) = bytes_of(
        &app,
        Request::get(format!("/documents/{id}/signed.pdf"))
            .header(header::COOKIE, &leader.cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let r = raw_post(&leader, "/api/v1/verify", "application/pdf", pdf).await;
    assert_eq!(r.json()["verdict"], "valid", "{}", r.body);
    let ts = &r.json()["signatures"][0]["timestamp"];
    assert_eq!(ts["trusted"], true, "{}", r.body);
    assert!(ts["tsa"].as_str().unwrap().contains("Dịch vụ cấp dấu thời gian"), "stamped by the remote TSA: {ts}");

    // A TSA that does not answer: signing fails with a clear error and nothing is signed.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = TestApp::with_config(|c| c.tsa_url = Some(format!("http://{dead}/pki/tsa"))).await;
    let leader = app.login("a.leader").await;
    let r = leader.post("/api/v1/certificates", json!({ "pin": "246810" })).await;
    let cert_id = r.json()["id"].as_str().unwrap().to_owned();
    raw_post(&leader, "/api/v1/me/signature-image", "image/png", blue_signature()).await;
    let id = approved(&app).await;
    let r = leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert_id, "pin": "246810" }))
        .await;
    assert_eq!(r.error_code(), "timestamp_rejected", "{}", r.body);
    assert_eq!(leader.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "approved");
}

/// Another CA publishes its CRL at the address its certificates give: vanban fetches it, puts
/// it in the signed file (B-LT) and refuses to sign with a certificate that CA revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crls_of_other_cas_are_fetched_embedded_and_obeyed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let now = chrono::Utc::now();
    let external = vanban_pki::TestPki::generate(
        "VNPT-CA thử nghiệm",
        vanban_pki::KeyAlgorithm::Rsa2048,
        now,
        Some(format!("http://{addr}")),
    )
    .unwrap();
    let served: std::sync::Arc<std::sync::Mutex<Vec<u8>>> = Default::default();
    let crl = served.clone();
    let router = axum::Router::new().route(
        "/pki/crl/{name}",
        axum::routing::get(move || {
            let crl = crl.clone();
            async move { crl.lock().unwrap().clone() }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let publish = |revoked: Vec<vanban_pki::RevokedEntry>, n: u64| {
        *served.lock().unwrap() = external
            .issuing
            .crl(&revoked, chrono::Utc::now(), chrono::Utc::now() + chrono::Duration::hours(1), n)
            .unwrap();
    };
    publish(Vec::new(), 1);

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("anchor.pem"), external.root.cert.to_pem()).unwrap();
    let anchor = tmp.path().join("anchor.pem");
    let app = TestApp::with_config(|c| c.trust_anchor_files = vec![anchor]).await;
    let leader = app.login("a.leader").await;
    let leader = &leader;
    let import = |p12: Vec<u8>| async move {
        let r = import_p12(leader, &p12, "pw", "246810").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let list = leader.get("/api/v1/certificates").await.json();
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].as_str().unwrap().to_owned(), c["serial_hex"].as_str().unwrap().to_owned()))
            .collect::<Vec<_>>()
    };
    let dir_a = tmp.path().join("a");
    std::fs::create_dir(&dir_a).unwrap();
    let certs = import(p12_from(&external, "Nguyễn Văn a.leader", "pw", &dir_a)).await;
    let (good_id, _) = certs[0].clone();
    raw_post(leader, "/api/v1/me/signature-image", "image/png", blue_signature()).await;

    // Signed with the external certificate: its CA's CRL is in the file, so a strict
    // validator needs nothing else.
    let id = approved(&app).await;
    let r = leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": good_id, "pin": "246810" }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let (_, pdf) = bytes_of(
        &app,
        Request::get(format!("/documents/{id}/signed.pdf"))
            .header(header::COOKIE, &leader.cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let mut anchors = vec![external.root.cert.clone()];
    let (_, own_root) = bytes_of(&app, Request::get("/pki/ca/root.pem").body(Body::empty()).unwrap()).await;
    anchors.extend(vanban_pki::Cert::from_pem(std::str::from_utf8(&own_root).unwrap()).unwrap());
    let strict = vanban_pades::verify::Policy {
        trust: vanban_pki::TrustStore::new(anchors),
        require_revocation: true,
        ..Default::default()
    };
    let report = vanban_pades::verify::verify_pdf(&pdf, &strict).unwrap();
    assert_eq!(report.signatures[0].revocation, "good (crl)", "{report:#?}");

    // The CA revokes a second certificate of the leader: vanban refuses to sign with it.
    let dir_b = tmp.path().join("b");
    std::fs::create_dir(&dir_b).unwrap();
    let certs = import(p12_from(&external, "Nguyễn Văn a.leader", "pw", &dir_b)).await;
    let (_, bad_serial) = certs.iter().find(|(i, _)| *i != good_id).unwrap().clone();
    publish(
        vec![vanban_pki::RevokedEntry {
            serial: hex::decode(&bad_serial).unwrap(),
            revoked_at: chrono::Utc::now() - chrono::Duration::minutes(1),
            reason: vanban_pki::RevocationReason::KeyCompromise,
        }],
        2,
    );
    // A CRL is kept until its next update (an hour here), as relying parties do; a fresh
    // instance fetches the new one.
    let app2 = TestApp::with_config(|c| c.trust_anchor_files = vec![tmp.path().join("anchor.pem")]).await;
    let leader2 = app2.login("a.leader").await;
    let p12 = std::fs::read(dir_b.join("id.p12")).unwrap();
    assert_eq!(import_p12(&leader2, &p12, "pw", "246810").await.status, StatusCode::SEE_OTHER);
    let bad2 = leader2.get("/api/v1/certificates").await.json()[0]["id"].as_str().unwrap().to_owned();
    raw_post(&leader2, "/api/v1/me/signature-image", "image/png", blue_signature()).await;
    let doc = approved(&app2).await;
    let r = leader2
        .post(&format!("/api/v1/documents/{doc}/sign"), json!({ "certificate_id": bad2, "pin": "246810" }))
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::CONFLICT, "certificate_revoked"), "{}", r.body);
    assert_eq!(leader2.get(&format!("/api/v1/documents/{doc}")).await.json()["state"], "approved");
}

#[tokio::test]
async fn five_wrong_pins_lock_the_certificate() {
    let app = TestApp::new().await;
    let leader = app.login("a.leader").await;
    let r = leader.post("/api/v1/certificates", json!({ "pin": "246810" })).await;
    let cert_id = r.json()["id"].as_str().unwrap().to_owned();
    raw_post(&leader, "/api/v1/me/signature-image", "image/png", blue_signature()).await;
    let id = approved(&app).await;
    for _ in 0..5 {
        let r = leader
            .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert_id, "pin": "000000" }))
            .await;
        assert_eq!(r.error_code(), "wrong_pin", "{}", r.body);
    }
    // Even the right PIN is refused while locked, with a message that says why.
    let r = leader
        .post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert_id, "pin": "246810" }))
        .await;
    assert_eq!(r.error_code(), "pin_locked", "{}", r.body);
    assert!(r.json()["error"]["message_vi"].as_str().unwrap().contains("mã PIN"), "{}", r.body);
    assert_eq!(leader.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "approved");
}
