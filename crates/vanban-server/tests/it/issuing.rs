//! Part 4 end to end through the HTTP API: a leader signs, the clerk issues to two agencies,
//! one registers and assigns, the handler finishes, the sender sees "Hoàn thành"; then the
//! sender revokes. On SQLite and on PostgreSQL.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::harness::{Client, TestApp, user_in_b_leader};

const PIN: &str = "123456";

async fn bytes(c: &Client<'_>, path: &str) -> (StatusCode, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = Request::get(path).header(header::COOKIE, &c.cookie).body(Body::empty()).unwrap();
    let resp = c.app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    (status, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}

/// A draft of agency A naming a.leader, approved and signed by him (certificates and images
/// from the demo seeding: the leader's personal certificate, the agency's seal certificate).
async fn signed(app: &TestApp, subject: &str, priority: u8) -> String {
    signed_with(app, subject, priority, false).await
}

async fn signed_with(app: &TestApp, subject: &str, priority: u8, with_appendix: bool) -> String {
    signed_naming(app, subject, priority, with_appendix, json!([])).await
}

/// [`signed_with`], the draft naming `recipients` (names, as the API takes them).
async fn signed_naming(
    app: &TestApp,
    subject: &str,
    priority: u8,
    with_appendix: bool,
    recipients: serde_json::Value,
) -> String {
    let spec = app.login("a.specialist").await;
    let leader = app.login("a.leader").await;
    let r = spec
        .post(
            "/api/v1/documents",
            json!({ "doc_type": "cong_van", "subject": subject, "priority": priority, "recipients": recipients }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let content = json!({
        "subject": subject,
        "unit_abbreviation": "VP",
        "addressees": ["Sở Nội vụ"],
        "body": ["Sở Tài chính đề nghị Sở Nội vụ phối hợp kiểm tra công tác văn thư năm 2026."],
        "recipients": ["Như trên;"],
        "archive_units": ["VP"],
        "signer": { "position": "Giám đốc", "full_name": "Nguyễn Văn a.leader" }
    });
    let r = spec.post(&format!("/api/v1/documents/{id}/versions"), json!({ "content": content })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    if with_appendix {
        // An appendix in a separate file: a PDF attachment of the draft.
        let appendix = vanban_server::scan::images_to_pdf(&[vanban_pades::samples::seal_png()], 200).unwrap();
        let boundary = "vanban-appendix";
        let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Phụ lục I.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").into_bytes();
        body.extend(&appendix);
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        let req = Request::post(format!("/api/v1/documents/{id}/upload"))
            .header(header::COOKIE, &spec.cookie)
            .header("x-csrf-token", &spec.csrf)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        let r = app.request(req).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r =
        spec.post(&format!("/api/v1/documents/{id}/submit"), json!({ "reviewers": [], "mode": "sequential" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = leader.post(&format!("/api/v1/documents/{id}/transitions"), json!({ "action": "approve" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let certs = leader.get("/api/v1/certificates").await.json();
    let cert =
        certs.as_array().unwrap().iter().find(|c| c["kind"] == "person").unwrap()["id"].as_str().unwrap().to_owned();
    let r = leader.post(&format!("/api/v1/documents/{id}/sign"), json!({ "certificate_id": cert, "pin": PIN })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    id
}

async fn user_id(app: &TestApp, username: &str) -> String {
    app.store.find_user_id(username).await.unwrap().unwrap().to_string()
}

async fn full_path(app: TestApp) {
    user_in_b_leader(&app).await;
    let seeded = vanban_server::signing::seed_demo_signing(&app.state, &["a.leader"], PIN).await.unwrap();
    assert_eq!(seeded, 1);
    let id = signed_with(&app, "V/v kiểm tra công tác văn thư năm 2026", 3, true).await;
    let clerk = app.login("a.clerk").await;
    let b_code = app.store.get_agency(app.b).await.unwrap().agency.code.as_str().to_owned();
    let root_code = app.store.get_agency(app.root).await.unwrap().agency.code.as_str().to_owned();

    // The issuing desk lists it (Hỏa tốc first).
    let queue = clerk.get("/api/v1/issuing-queue").await.json();
    assert_eq!(queue[0]["id"], id.as_str());
    // A specialist cannot issue; a wrong PIN takes no number.
    let spec = app.login("a.specialist").await;
    let r = spec.post(&format!("/api/v1/documents/{id}/issue"), json!({ "pin": PIN })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r =
        clerk.post(&format!("/api/v1/documents/{id}/issue"), json!({ "pin": "000000", "recipients": [b_code] })).await;
    assert_eq!(r.error_code(), "wrong_pin", "{}", r.body);
    assert_eq!(clerk.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "signed");
    let r =
        clerk.post(&format!("/api/v1/documents/{id}/issue"), json!({ "pin": PIN, "recipients": ["not a code"] })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    let r = clerk
        .post(&format!("/api/v1/documents/{id}/issue"), json!({ "pin": PIN, "recipients": [b_code, root_code] }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let out = r.json();
    let symbol = out["entry"]["symbol"].as_str().unwrap().to_owned();
    assert_eq!(symbol, "01/STC-VP");
    assert_eq!(out["deliveries"].as_array().unwrap().len(), 2);
    assert!(out["deliveries"].as_array().unwrap().iter().all(|d| d["status"] == "01" && d["channel"] == "internal"));
    assert_eq!(clerk.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "delivered");
    let r = clerk.post(&format!("/api/v1/documents/{id}/issue"), json!({ "pin": PIN })).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "issued once: {}", r.body);

    // The issued PDF: the leader's signature intact, the number filled, the agency's signature.
    let (st, pdf) = bytes(&clerk, &format!("/documents/{id}/signed.pdf")).await;
    assert_eq!(st, StatusCode::OK);
    let report = vanban_server::signing::verify_bytes(&app.state, pdf.clone().into()).await.unwrap();
    assert_eq!(report.signatures.len(), 2, "{report:?}");
    assert!(report.signatures.iter().all(|s| s.verdict == vanban_pades::verify::Verdict::Valid), "{report:?}");
    // The appendix in its own file carries the agency's stamp.
    let appendices = out["entry"]["appendices"].as_array().unwrap().clone();
    assert_eq!(appendices.len(), 1, "{out}");
    assert_eq!(appendices[0]["name"], "Phụ lục I.pdf");
    let sha = appendices[0]["sha256"].as_str().unwrap().to_owned();
    let (st, stamped) = bytes(&clerk, &format!("/api/v1/documents/{id}/appendices/{sha}")).await;
    assert_eq!(st, StatusCode::OK);
    let r = vanban_server::signing::verify_bytes(&app.state, stamped.clone().into()).await.unwrap();
    assert_eq!(r.signatures.len(), 1);
    assert_eq!(r.signatures[0].verdict, vanban_pades::verify::Verdict::Valid, "{r:?}");
    let revs = clerk.get(&format!("/api/v1/documents/{id}/revisions")).await.json();
    let kinds: Vec<&str> = revs.as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["render", "signer", "agency"]);

    // Agency B receives it; A's other users and the province's admin see nothing of B's copy.
    let b_clerk = app.login("b.clerk").await;
    let list = b_clerk.get("/api/v1/incoming").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let inc = list[0]["document"]["id"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["symbol"], symbol.as_str());
    assert_eq!(list[0]["priority"], "flash");
    let r = spec.get(&format!("/api/v1/incoming/{inc}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another agency: {}", r.body);
    let (st, incoming_pdf) = bytes(&b_clerk, &format!("/api/v1/incoming/{inc}/pdf")).await;
    assert_eq!((st, incoming_pdf == pdf), (StatusCode::OK, true), "the recipient gets the issued file");
    let (st, theirs) = bytes(&b_clerk, &format!("/api/v1/incoming/{inc}/appendices/{sha}")).await;
    assert_eq!((st, theirs == stamped), (StatusCode::OK, true), "the recipient gets the stamped appendix");
    assert_eq!(bytes(&spec, &format!("/api/v1/incoming/{inc}/appendices/{sha}")).await.0, StatusCode::NOT_FOUND);
    let notes = b_clerk.get("/api/v1/notifications?unread=true").await.json();
    assert!(notes.as_array().unwrap().iter().any(|n| n["kind"] == "arrived"), "{notes}");

    // What waits on each person is on their home page: here the arrival, for B's clerk.
    let todo =
        |body: &str| body.split("data-testid=\"todo\"").nth(1).unwrap().split("</section>").next().unwrap().to_owned();
    let home = todo(&b_clerk.get("/").await.body);
    assert!(home.contains("/incoming?f=arrived\">Văn bản đến chờ vào sổ</a>: <strong>1</strong>"), "{home}");
    // Register (03); a handler not yet assigned sees nothing.
    let r = b_clerk.post(&format!("/api/v1/incoming/{inc}/register"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["arrival_number"], 1);
    let handler = app.login("b.specialist").await;
    assert!(handler.get("/api/v1/incoming").await.json().as_array().unwrap().is_empty());
    assert_eq!(handler.get(&format!("/api/v1/incoming/{inc}")).await.status, StatusCode::NOT_FOUND);

    // The leader assigns (04) with a deadline; the clerk cannot.
    let b_leader = app.login("b.leader").await;
    let home = todo(&b_leader.get("/").await.body);
    assert!(home.contains("Văn bản đến chờ phân công</a>: <strong>1</strong>"), "{home}");
    let lead = user_id(&app, "b.specialist").await;
    let deadline = (chrono::Utc::now() + chrono::Duration::days(10)).date_naive();
    let r =
        b_clerk.post(&format!("/api/v1/incoming/{inc}/assign"), json!({ "lead": lead, "deadline": deadline })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // On the page, a deadline in the past is refused and the form comes back as the leader
    // filled it: the lead picked, the co-handler ticked, the date and the note kept. The
    // pickers name each person with their position.
    let co = user_id(&app, "b.clerk").await;
    let form = [
        ("csrf", b_leader.csrf.as_str()),
        ("lead", lead.as_str()),
        ("co", co.as_str()),
        ("deadline", "2020-01-31"),
        ("note", "Khẩn trương tham mưu"),
    ];
    let r = b_leader.form(&format!("/incoming/{inc}/assign"), &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains(&format!("<option value=\"{lead}\" selected>")), "the lead: {}", r.body);
    assert!(r.body.contains(&format!("name=\"co\" value=\"{co}\" checked")), "the co-handler: {}", r.body);
    assert!(r.body.contains("value=\"2020-01-31\"") && r.body.contains("value=\"Khẩn trương tham mưu\""));
    assert!(r.body.contains("Nguyễn Văn b.specialist — Chuyên viên"), "positions in the pickers: {}", r.body);
    let r = b_leader
        .post(
            &format!("/api/v1/incoming/{inc}/assign"),
            json!({ "lead": lead, "deadline": deadline, "note": "Đề nghị tham mưu" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The handler reads the leader's instruction; the sender does not (it stays in the agency).
    let page = handler.get(&format!("/incoming/{inc}")).await;
    assert!(page.body.contains("data-testid=\"instruction\">Đề nghị tham mưu<"), "{}", page.body);
    let sent = clerk.get(&format!("/api/v1/documents/{id}/deliveries")).await.body;
    assert!(sent.contains("\"04\"") && !sent.contains("Đề nghị tham mưu"), "{sent}");
    assert!(!clerk.get(&format!("/documents/{id}/tracking")).await.body.contains("Đề nghị tham mưu"));

    let home = todo(&handler.get("/").await.body);
    assert!(home.contains("Văn bản đến đang xử lý</a>: <strong>1</strong>"), "{home}");
    assert!(!home.contains("quá hạn"), "not overdue: {home}");
    // The handler works (05) and finishes (06).
    assert_eq!(handler.get("/api/v1/incoming").await.json().as_array().unwrap().len(), 1);
    let r = handler.post(&format!("/api/v1/incoming/{inc}/start"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = handler.post(&format!("/api/v1/incoming/{inc}/finish"), json!({ "note": "  " })).await;
    assert_eq!(r.error_code(), "field_required", "a result is required: {}", r.body);
    assert!(r.body.contains("Kết quả xử lý"), "{}", r.body);
    let r = handler.post(&format!("/api/v1/incoming/{inc}/finish"), json!({ "note": "Đã phối hợp kiểm tra" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "done");

    // The sender sees each recipient's status: B "Hoàn thành", the province "Đã đến".
    let t = clerk.get(&format!("/api/v1/documents/{id}/deliveries")).await.json();
    let by_code =
        |c: &str| t["deliveries"].as_array().unwrap().iter().find(|d| d["recipient_code"] == c).unwrap().clone();
    assert_eq!(by_code(&b_code)["status_label"], "Hoàn thành");
    // The clerk who issued it hears which recipient finished it.
    let b_name = app.store.get_agency(app.b).await.unwrap().agency.name.as_str().to_owned();
    let notes = clerk.get("/api/v1/notifications").await.json();
    let done =
        notes.as_array().unwrap().iter().find(|n| n["kind"] == "status_06").expect("a status_06 notification").clone();
    assert!(done["title"].as_str().unwrap().ends_with(&format!("{b_name} — Hoàn thành")), "{done}");
    assert_eq!(by_code(&root_code)["status_label"], "Đã đến");
    let b_row = by_code(&b_code);
    let codes: Vec<&str> = b_row["events"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["01", "03", "04", "05", "06"]);
    let page = clerk.get(&format!("/documents/{id}/tracking")).await;
    assert!(page.body.contains("Hoàn thành") && page.body.contains(&symbol), "{}", page.body);

    // Registers as reports.
    let (st, xlsx) = bytes(&clerk, "/api/v1/registers/outgoing/report?format=xlsx").await;
    assert_eq!((st, &xlsx[..2]), (StatusCode::OK, &b"PK"[..]));
    let (st, report_pdf) = bytes(&clerk, "/api/v1/registers/outgoing/report?format=pdf").await;
    assert_eq!((st, &report_pdf[..5]), (StatusCode::OK, &b"%PDF-"[..]));
    // Its line: the leader who signed, and the agencies it was delivered to.
    let out_rows = clerk.get("/api/v1/registers/outgoing/report?format=json").await.json();
    let line = out_rows["rows"].as_array().unwrap().iter().find(|r| r[0] == symbol.as_str()).unwrap().clone();
    let root_name = app.store.get_agency(app.root).await.unwrap().agency.name.as_str().to_owned();
    assert!(!line[3].as_str().unwrap().trim().is_empty(), "Người ký: {line}");
    assert_eq!(line[4], format!("{b_name}; {root_name}"), "Nơi nhận: {line}");
    let rows = b_clerk.get("/api/v1/registers/tracking/report?format=json").await.json();
    assert_eq!(rows["rows"].as_array().unwrap().len(), 1, "{rows}");
    assert!(rows["rows"][0][4].as_str().unwrap().starts_with("Hoàn thành"), "{rows}");
    assert_eq!(handler.get("/api/v1/registers/outgoing/report?format=json").await.status, StatusCode::FORBIDDEN);

    // The sender corrects the subject and the reply deadline from its tracking page (an
    // update); B's copy changes only when B's clerk agrees (15), and its handling stays.
    assert!(page.body.contains("Trích yếu mới") && page.body.contains("Hỏa tốc"), "{}", page.body);
    let new_subject = "Về việc kiểm tra công tác văn thư, lưu trữ năm 2026 (sửa đổi)";
    let form = [
        ("csrf", clerk.csrf.as_str()),
        ("kind", "update"),
        ("reason", "Sửa trích yếu"),
        ("replacement_id", ""),
        ("new_subject", new_subject),
        ("new_priority", ""),
        ("new_due_date", "2026-12-31"),
    ];
    let r = clerk.form(&format!("/documents/{id}/change"), &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(clerk.get(&format!("/api/v1/documents/{id}")).await.json()["subject"], new_subject);
    let item = b_clerk.get(&format!("/api/v1/incoming/{inc}")).await.json();
    assert_eq!((&item["change_kind"], &item["change_state"]), (&json!("update"), &json!("pending")), "{item}");
    assert_eq!(item["change_update"], json!({ "subject": new_subject, "due_date": "2026-12-31" }), "{item}");
    assert_ne!(item["document"]["subject"], new_subject);
    let page = b_clerk.get(&format!("/incoming/{inc}")).await;
    assert!(page.body.contains("hạn trả lời: 31/12/2026"), "{}", page.body);
    let r = b_clerk.post(&format!("/api/v1/incoming/{inc}/answer"), json!({ "accept": true })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let item = r.json();
    assert_eq!((&item["document"]["subject"], &item["state"]), (&json!(new_subject), &json!("done")), "{item}");
    assert_eq!(handler.get(&format!("/api/v1/incoming/{inc}")).await.status, StatusCode::OK, "still the handler's");
    assert_eq!(by_code_now(&clerk, id.as_str(), &b_code).await["status"], "15");

    // The sender revokes; the province's copy is withdrawn, its clerk acknowledges (15).
    let r = clerk
        .post(
            &format!("/api/v1/documents/{id}/change"),
            json!({ "kind": "revoke", "reason": "Ban hành sai thẩm quyền" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Until they answer, the sender sees that the recipients have not confirmed it.
    let tracking = clerk.get(&format!("/documents/{id}/tracking")).await.body;
    assert_eq!(tracking.matches("data-testid=\"tracking-awaiting\"").count(), 2, "{tracking}");
    let root_admin = app.login("root.admin").await;
    assert!(root_admin.get("/api/v1/incoming").await.json().as_array().unwrap().is_empty(), "an admin handles nothing");
    crate::harness::user(app.store.as_ref(), app.root, "root.clerk", &[vanban_domain::Role::Clerk]).await;
    let root_clerk = app.login("root.clerk").await;
    let rl = root_clerk.get("/api/v1/incoming").await.json();
    let rinc = rl[0]["document"]["id"].as_str().unwrap().to_owned();
    assert_eq!(rl[0]["state"], "withdrawn");
    assert_eq!(bytes(&root_clerk, &format!("/api/v1/incoming/{rinc}/pdf")).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let r = root_clerk.post(&format!("/api/v1/incoming/{rinc}/answer"), json!({ "accept": true })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let t = clerk.get(&format!("/api/v1/documents/{id}/deliveries")).await.json();
    let root =
        t["deliveries"].as_array().unwrap().iter().find(|d| d["recipient_code"] == root_code.as_str()).unwrap().clone();
    assert_eq!(root["status"], "15");
    let tracking = clerk.get(&format!("/documents/{id}/tracking")).await.body;
    assert_eq!(tracking.matches("data-testid=\"tracking-awaiting\"").count(), 1, "the province answered: {tracking}");
    assert_eq!(clerk.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "revoked");
    assert!(app.store.verify_audit_chain().await.unwrap().is_intact());

    // Every action of the whole path reads in Vietnamese on the audit page, and the
    // document's id lists its history: drafted, signed, issued, revoked.
    let events = root_admin.get("/api/v1/audit?limit=1000").await.json();
    let events = events.as_array().unwrap();
    assert!(events.len() > 20, "{}", events.len());
    for e in events {
        let code = e["action"].as_str().unwrap();
        assert!(vanban_domain::audit::action_label_vi(code).is_some(), "no label for {code}");
    }
    let history = root_admin.get(&format!("/audit?object={id}")).await;
    assert_eq!(history.status, StatusCode::OK);
    for label in ["Tạo dự thảo", "Ký số", "Cấp số", "Ban hành", "Thu hồi văn bản", "Lý do: Ban hành sai thẩm quyền"]
    {
        assert!(history.body.contains(label), "{label}: {}", history.body);
    }
    let codes: Vec<&str> = history.body.split("data-code=\"").skip(1).filter_map(|c| c.split('"').next()).collect();
    assert!(codes.iter().all(|c| c.starts_with("document.")), "{codes:?}");
    // Handling events are about an incoming copy, which the incoming desk opens.
    let handling = root_admin.get("/audit?action=incoming.").await;
    assert!(handling.body.contains("Văn bản đến · <a href=\"/incoming/"), "{}", handling.body);
    assert!(!handling.body.contains("<a href=\"/documents/"), "{}", handling.body);
    let api = root_admin.get(&format!("/api/v1/audit?object={id}&action=document.revoke")).await.json();
    assert_eq!(api.as_array().unwrap().len(), 1, "{api}");
}

/// The sender's view of one recipient's delivery.
async fn by_code_now(clerk: &crate::harness::Client<'_>, id: &str, code: &str) -> serde_json::Value {
    let t = clerk.get(&format!("/api/v1/documents/{id}/deliveries")).await.json();
    t["deliveries"].as_array().unwrap().iter().find(|d| d["recipient_code"] == code).unwrap().clone()
}

#[tokio::test]
async fn full_path_on_sqlite() {
    full_path(TestApp::new().await).await;
}

#[tokio::test]
async fn full_path_on_postgres() {
    if let Some(app) = TestApp::postgres().await {
        full_path(app).await;
    }
}

/// Concurrent clerks through the server (signing included): numbers without gaps or repeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clerks_issue_without_gaps() {
    let app = TestApp::new().await;
    vanban_server::signing::seed_demo_signing(&app.state, &["a.leader"], PIN).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(signed(&app, &format!("Văn bản thử số {i}"), 0).await);
    }
    let clerk = app.login("a.clerk").await;
    let b_code = app.store.get_agency(app.b).await.unwrap().agency.code.as_str().to_owned();
    let results =
        futures::future::join_all(ids.iter().map(|id| {
            let c = &clerk;
            let code = b_code.clone();
            async move {
                c.post(&format!("/api/v1/documents/{id}/issue"), json!({ "pin": PIN, "recipients": [code] })).await
            }
        }))
        .await;
    let mut numbers: Vec<i64> = results
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.json()["entry"]["number"].as_i64().unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=12).collect::<Vec<_>>());
    let b_clerk = app.login("b.clerk").await;
    assert_eq!(b_clerk.get("/api/v1/incoming").await.json().as_array().unwrap().len(), 12);
}

/// Scanned paper: kept byte for byte, read in Vietnamese, signed with the agency's stamp, and
/// recognised when uploaded twice.
#[tokio::test]
async fn a_scanned_paper_document_is_kept_read_and_signed() {
    if !(crate::scan::poppler() && crate::scan::tesseract()) {
        return;
    }
    let app = TestApp::new().await;
    vanban_server::signing::seed_demo_signing(&app.state, &["a.leader"], PIN).await.unwrap();
    let scan = vanban_server::scan::images_to_pdf(&[crate::scan::colour_png().to_vec()], 200).unwrap();
    let clerk = app.login("a.clerk").await;
    let upload_to = |path: &'static str, pin: &'static str| {
        let boundary = "vanban-test-boundary";
        let mut body = Vec::new();
        for (k, v) in [
            ("csrf", clerk.csrf.as_str()),
            ("sender_name", "Ủy ban nhân dân huyện Đông Sơn"),
            ("symbol", "125/UBND-VP"),
            ("issued_on", "2026-11-20"),
            ("subject", "Về việc tổ chức hội nghị tổng kết"),
            ("doc_type", "cong_van"),
            ("priority", "urgent"),
            ("pin", pin),
        ] {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").into_bytes(),
            );
        }
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").into_bytes());
        body.extend(&scan);
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        Request::post(path)
            .header(header::COOKIE, &clerk.cookie)
            .header("x-csrf-token", &clerk.csrf)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap()
    };
    let upload = |pin| upload_to("/api/v1/incoming/scan", pin);
    let r = app.request(upload("999999")).await;
    assert_eq!(r.error_code(), "wrong_pin", "{}", r.body);
    // From the page, the error comes back on the list with what the clerk typed.
    let r = app.request(upload_to("/incoming/scan", "999999")).await;
    assert!(r.status.is_client_error(), "{}: {}", r.status, r.body);
    assert!(r.body.contains("Mã PIN không đúng"), "{}", r.body);
    for kept in [
        "value=\"125/UBND-VP\"",
        "value=\"Ủy ban nhân dân huyện Đông Sơn\"",
        "value=\"2026-11-20\"",
        "<option value=\"cong_van\" selected>",
        "<option value=\"urgent\" selected>",
        "Chọn lại tệp PDF quét",
    ] {
        assert!(r.body.contains(kept), "{kept}: {}", r.body);
    }
    let r = app.request(upload(PIN)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let rec = r.json();
    assert_eq!((rec["scanned"].as_bool(), rec["state"].as_str()), (Some(true), Some("arrived")));
    // The signed copy starts with the scan's bytes, unchanged, and its stamp validates.
    let id = rec["document"]["id"].as_str().unwrap().to_owned();
    let (st, copy) = bytes(&clerk, &format!("/api/v1/incoming/{id}/pdf")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(copy.len() > scan.len() && copy[..scan.len()] == scan[..], "the scan is kept byte for byte");
    let report = vanban_server::signing::verify_bytes(&app.state, copy.into()).await.unwrap();
    assert_eq!(report.signatures.len(), 1);
    assert_eq!(report.signatures[0].verdict, vanban_pades::verify::Verdict::Valid, "{report:?}");
    // The OCR text is a separate blob, in NFC Vietnamese.
    let ocr = rec["ocr_sha256"].as_str().unwrap().to_owned();
    let text = String::from_utf8(app.state.blobs.get(&ocr).await.unwrap().to_vec()).unwrap();
    assert!(text.contains("hội nghị"), "{text}");
    // The same scan again is the same document; no second arrival.
    let again = app.request(upload(PIN)).await;
    assert_eq!(again.json()["document"]["id"], id.as_str());
    assert_eq!(clerk.get("/api/v1/incoming").await.json().as_array().unwrap().len(), 1);
}

/// Wrong PINs sent in parallel are counted one by one: after five the agency key locks, and
/// even the right PIN is refused for the lock's duration. Nothing is numbered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_pins_lock_the_agency_key() {
    let app = TestApp::new().await;
    vanban_server::signing::seed_demo_signing(&app.state, &["a.leader"], PIN).await.unwrap();
    let id = signed(&app, "Văn bản thử khóa PIN", 0).await;
    let clerk = app.login("a.clerk").await;
    let results = futures::future::join_all((0..10).map(|i| {
        let c = &clerk;
        let id = id.clone();
        async move { c.post(&format!("/api/v1/documents/{id}/issue"), json!({ "pin": format!("00000{i}") })).await }
    }))
    .await;
    let codes: Vec<String> = results.iter().map(|r| r.error_code()).collect();
    assert_eq!(codes.iter().filter(|c| *c == "wrong_pin").count(), 5, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "pin_locked").count(), 5, "{codes:?}");
    let r = clerk.post(&format!("/api/v1/documents/{id}/issue"), json!({ "pin": PIN })).await;
    assert_eq!(r.error_code(), "pin_locked", "{}", r.body);
    assert_eq!(clerk.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "signed");
}

/// The overdue list counts the documents per unit of their lead handler; a handler sees only
/// their own.
#[tokio::test]
async fn the_overdue_list_counts_per_unit() {
    use vanban_store::{Actor, AssignRequest, IncomingDraft, NewIncoming, NewRegister, Scope};
    let app = TestApp::new().await;
    user_in_b_leader(&app).await;
    let clerk_id = app.store.find_user_id("b.clerk").await.unwrap().unwrap();
    let clerk = app.store.caller_for(clerk_id).await.unwrap();
    let (by, scope) = (Actor::user(&clerk, None), Scope::of(&clerk));
    let register = NewRegister {
        direction: vanban_domain::RegisterDirection::Incoming,
        name: "Sổ văn bản đến".into(),
        doc_types: vec![],
        secret: false,
        suffix: String::new(),
    };
    let register = app.store.create_register(&by, &scope, register).await.unwrap().id;
    let handler = app.store.find_user_id("b.specialist").await.unwrap().unwrap();
    for i in 0..2 {
        let new = NewIncoming {
            source_key: format!("scan:{i}"),
            sender_code: String::new(),
            sender_name: "Ủy ban nhân dân huyện Đông Sơn".into(),
            symbol: format!("{i}/UBND-VP"),
            issued_on: None,
            draft: IncomingDraft {
                doc_type: vanban_domain::DocumentType::CongVan,
                subject: format!("Văn bản quá hạn {i}"),
                priority: vanban_domain::Priority::Normal,
                metadata: json!({}),
            },
            pdf_sha256: None,
            ocr_sha256: None,
            scanned: true,
        };
        let inc = app.store.receive_incoming(&by, &scope, new).await.unwrap().document.id;
        let today = chrono::Utc::now().date_naive();
        app.store.register_incoming(&by, &scope, inc, register, today).await.unwrap();
        let past = today - chrono::Duration::days(3);
        let req = AssignRequest { lead: handler, co: vec![], info: vec![], deadline: Some(past), note: None };
        app.store.assign_incoming(&by, &scope, inc, req).await.unwrap();
    }
    let leader = app.login("b.leader").await;
    let page = leader.get("/incoming?f=overdue").await;
    assert!(page.body.contains("data-testid=\"overdue-by-unit\""), "{}", page.body);
    assert!(page.body.contains("<td>Chưa xác định đơn vị</td><td>2</td>"), "{}", page.body);
    assert_eq!(page.body.matches("badge overdue").count(), 2);
    let overdue = leader.get("/api/v1/incoming?overdue=true").await.json();
    assert_eq!(overdue.as_array().unwrap().len(), 2);
    // Pages: one at a time, in the list's order; past the end, nothing.
    let first = leader.get("/api/v1/incoming?overdue=true&limit=1").await.json();
    let second = leader.get("/api/v1/incoming?overdue=true&limit=1&offset=1").await.json();
    assert_eq!(first.as_array().unwrap()[..], overdue.as_array().unwrap()[..1]);
    assert_eq!(second.as_array().unwrap()[..], overdue.as_array().unwrap()[1..]);
    assert!(leader.get("/api/v1/incoming?overdue=true&offset=2").await.json().as_array().unwrap().is_empty());
    // The handler sees their own overdue documents, the clerk all of the agency's.
    let handler = app.login("b.specialist").await;
    assert_eq!(handler.get("/api/v1/incoming?overdue=true").await.json().as_array().unwrap().len(), 2);
    let clerk = app.login("b.clerk").await;
    assert_eq!(clerk.get("/api/v1/incoming?overdue=true").await.json().as_array().unwrap().len(), 2);
    let a_clerk = app.login("a.clerk").await;
    assert!(a_clerk.get("/api/v1/incoming?overdue=true").await.json().as_array().unwrap().is_empty(), "another agency");
}

/// The issuing form ticks the agencies the document names (here by name, as a draft lists
/// them); issuing to nobody is refused and takes no number; a failed attempt keeps what the
/// clerk ticked and typed; an issued document shows its number instead of the form.
#[tokio::test]
async fn the_issuing_form_ticks_the_named_recipients_and_refuses_none() {
    let app = TestApp::new().await;
    vanban_server::signing::seed_demo_signing(&app.state, &["a.leader"], PIN).await.unwrap();
    let b = app.store.get_agency(app.b).await.unwrap().agency;
    let (b_code, b_name) = (b.code.as_str().to_owned(), b.name.as_str().to_owned());
    let named = json!([format!("- {};", b_name.to_uppercase())]);
    let id = signed_naming(&app, "V/v gửi đúng nơi nhận", 0, false, named).await;
    let clerk = app.login("a.clerk").await;
    let path = format!("/documents/{id}/issue");

    let page = clerk.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(&format!("value=\"{b_code}\" checked")), "B is ticked: {}", page.body);
    assert_eq!(page.body.matches("\" checked").count(), 1, "only B is ticked");
    // A công văn that names B only in "Kính gửi" ("Nơi nhận: Như trên") has B ticked too.
    let addressed = signed_naming(&app, "V/v kính gửi Sở Nội vụ", 0, false, json!([])).await;
    let page = clerk.get(&format!("/documents/{addressed}/issue")).await;
    assert!(page.body.contains(&format!("value=\"{b_code}\" checked")), "B is ticked: {}", page.body);
    assert_eq!(page.body.matches("\" checked").count(), 1, "only B is ticked");

    // Nobody to send to: refused before the number is taken, by the API and by the form.
    let r = clerk.post(&format!("/api/v1/documents/{id}/issue"), json!({ "pin": PIN })).await;
    assert_eq!(r.error_code(), "no_recipients", "{}", r.body);
    let r = clerk.form(&path, &[("csrf", clerk.csrf.as_str()), ("pin", PIN)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Chưa có nơi nhận"), "{}", r.body);
    assert_eq!(clerk.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "signed");

    // A wrong PIN: the page comes back with the clerk's choices, not the defaults.
    let other = "000.00.00.G01";
    let r = clerk.form(&path, &[("csrf", clerk.csrf.as_str()), ("pin", "000000"), ("other_codes", other)]).await;
    assert!(r.body.contains("data-testid=\"notice\">Mã PIN không đúng"), "the wrong PIN is said: {}", r.body);
    assert_eq!(r.body.matches("\" checked").count(), 0, "B was not ticked this time: {}", r.body);
    assert!(r.body.contains(&format!("value=\"{other}\"")), "the typed codes are kept: {}", r.body);

    let r = clerk.form(&path, &[("csrf", clerk.csrf.as_str()), ("pin", PIN), ("recipient", b_code.as_str())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = clerk.get(&path).await;
    assert!(page.body.contains("đã được ban hành với số 01/STC-VP"), "{}", page.body);
    assert!(!page.body.contains("data-testid=\"issue-form\""), "no form for an issued document");
    // The document's own page shows its number and date, and leads to its recipients.
    let page = clerk.get(&format!("/documents/{id}")).await;
    assert!(page.body.contains("data-testid=\"document-number\">01/STC-VP<"), "{}", page.body);
    let today = chrono::Utc::now().with_timezone(&vanban_server::pages::vn_offset()).format("%d/%m/%Y").to_string();
    assert!(page.body.contains(&format!("<dt>Ngày ban hành</dt><dd>{today}</dd>")), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/documents/{id}/tracking\"")), "{}", page.body);
    assert!(!page.body.contains("Gửi ý kiến"), "no comments on an issued document: {}", page.body);
    let list = clerk.get("/documents").await;
    assert!(list.body.contains(&format!("data-testid=\"document-number\">01/STC-VP, {today}<")), "{}", list.body);
    // Its signature panel names the two signatures in words and dates them day first.
    let panel = clerk.get(&format!("/documents/{id}/signing")).await;
    for said in ["Chữ ký của người có thẩm quyền", "Chữ ký số của cơ quan (con dấu)", &format!("{today} ")]
    {
        assert!(panel.body.contains(said), "{said}: {}", panel.body);
    }
    assert!(!panel.body.contains("vb_signature") && !panel.body.contains("+07:00"), "{}", panel.body);
}

/// A register asked for with a date field left empty gets the default period; a query that
/// does not parse is `bad_request` with the Vietnamese message, as a page or as JSON (not
/// axum's English plain text).
#[tokio::test]
async fn a_report_query_that_does_not_parse_is_a_clear_error() {
    let app = TestApp::new().await;
    let clerk = app.login("a.clerk").await;
    let r = clerk.get("/registers/outgoing/report?from=&to=&format=json").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = clerk.get("/registers/outgoing/report?from=32%2F13%2F2026&format=pdf").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("Yêu cầu không hợp lệ") && r.body.contains("bad_request"), "{}", r.body);
    assert!(r.body.contains("<html"), "the error page: {}", r.body);
    let r = clerk.get("/api/v1/registers/outgoing/report?to=hôm-nay").await;
    assert_eq!((r.status, r.error_code()), (StatusCode::BAD_REQUEST, "bad_request".to_owned()), "{}", r.body);
    assert_eq!(r.json()["error"]["message_vi"], "Yêu cầu không hợp lệ.", "{}", r.body);
}
