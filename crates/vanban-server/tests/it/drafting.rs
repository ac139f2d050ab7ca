//! Drafting through the API and the pages: versions checked as the renderer checks them,
//! PDFs in the Decree 30 layout, comments, and the freeze once a draft goes to review.

use axum::http::{StatusCode, header};
use serde_json::json;
use tower::ServiceExt;

use crate::harness::{TestApp, draft};

fn content(subject: &str) -> serde_json::Value {
    json!({
        "subject": subject,
        "unit_abbreviation": "VP",
        "addressees": ["Các phòng, ban thuộc Sở"],
        "body": ["Sở Tài chính đề nghị các phòng, ban rà soát dự toán năm 2027.", {"list": ["Báo cáo trước ngày 20/12/2026;", "Gửi qua hệ thống."]}],
        "recipients": ["Như trên;"],
        "archive_units": ["VP"],
        "signer": { "authority": "KT.", "head_title": "Giám đốc", "position": "Phó Giám đốc", "full_name": "Nguyễn Văn Leader" }
    })
}

#[tokio::test]
async fn versions_render_and_freeze() {
    let app = TestApp::new().await;
    let spec = app.login("a.specialist").await;
    let id = draft(&spec, "Rà soát dự toán").await;

    let r = spec
        .post(
            &format!("/api/v1/documents/{id}/versions"),
            json!({ "content": content("V/v rà soát dự toán năm 2027") }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["version"], 1);

    // Bad drafts are refused whole: no signer, an excerpt over 500 characters, an unknown block.
    let mut no_signer = content("V/v thiếu người ký");
    no_signer.as_object_mut().unwrap().remove("signer");
    let r = spec.post(&format!("/api/v1/documents/{id}/versions"), json!({ "content": no_signer })).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "field_required"), "{}", r.body);
    let r =
        spec.post(&format!("/api/v1/documents/{id}/versions"), json!({ "content": content(&"ạ".repeat(501)) })).await;
    assert_eq!(r.error_code(), "field_too_long");
    let mut odd = content("V/v khối lạ");
    odd["body"] = json!([{ "video": "x.mp4" }]);
    let r = spec.post(&format!("/api/v1/documents/{id}/versions"), json!({ "content": odd })).await;
    assert_eq!(r.error_code(), "invalid_body");
    assert!(r.json()["error"]["message_vi"].as_str().unwrap().contains("Nội dung văn bản không hợp lệ"));
    let versions = spec.get(&format!("/api/v1/documents/{id}/versions")).await.json();
    assert_eq!(versions.as_array().unwrap().len(), 1, "the draft is unchanged");
    // A second version; its diff names what changed.
    let mut second = content("V/v rà soát dự toán năm 2027");
    second["body"][0] = json!("Sở Tài chính đề nghị các phòng, ban rà soát và hoàn thiện dự toán năm 2027.");
    assert_eq!(
        spec.post(&format!("/api/v1/documents/{id}/versions"), json!({ "content": second })).await.status,
        StatusCode::CREATED
    );
    let changes = spec.get(&format!("/api/v1/documents/{id}/versions/2/diff")).await.json();
    assert_eq!(
        changes,
        json!([
            { "field": "body", "kind": "removed", "text": "Sở Tài chính đề nghị các phòng, ban rà soát dự toán năm 2027." },
            { "field": "body", "kind": "added", "text": "Sở Tài chính đề nghị các phòng, ban rà soát và hoàn thiện dự toán năm 2027." }
        ])
    );
    assert!(
        spec.get(&format!("/documents/{id}")).await.body.contains("rà soát và hoàn thiện"),
        "the page shows the diff"
    );

    // The PDF is the Decree 30 layout of the agency's document.
    let pdf = spec.get(&format!("/api/v1/documents/{id}/versions/1/pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers.get(header::CONTENT_TYPE).unwrap(), "application/pdf");
    assert!(pdf.body.starts_with("%PDF-"));

    // A colleague comments; a clerk cannot draft; another agency sees nothing.
    let leader = app.login("a.leader").await;
    let r = leader
        .post(&format!("/api/v1/documents/{id}/comments"), json!({ "version": 1, "body": "Ghi rõ thời hạn." }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let clerk = app.login("a.clerk").await;
    let r = clerk.post(&format!("/api/v1/documents/{id}/versions"), json!({ "content": content("V/v x") })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let outsider = app.login("b.specialist").await;
    for path in [
        format!("/api/v1/documents/{id}/versions"),
        format!("/api/v1/documents/{id}/versions/1/pdf"),
        format!("/api/v1/documents/{id}/comments"),
    ] {
        assert_eq!(outsider.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }

    // Sent for review, the content is frozen.
    assert!(
        spec.post(&format!("/api/v1/documents/{id}/transitions"), json!({ "action": "submit_for_review" }))
            .await
            .status
            .is_success()
    );
    let r = spec.post(&format!("/api/v1/documents/{id}/versions"), json!({ "content": content("V/v sửa muộn") })).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "illegal_transition");
}

#[tokio::test]
async fn the_editor_saves_and_previews() {
    let app = TestApp::new().await;
    let spec = app.login("a.specialist").await;
    let id = draft(&spec, "Hướng dẫn quyết toán").await;
    let leader_id = spec
        .get("/api/v1/users")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "a.leader")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fields = |subject: &str| {
        vec![
            ("csrf", spec.csrf.clone()),
            ("subject", subject.to_owned()),
            ("unit_abbreviation", "VP".to_owned()),
            ("body", "Đoạn **một**.\n\n- Ý thứ nhất;\n- Ý thứ hai.".to_owned()),
            ("recipients", "Như trên;\nGiám đốc Sở;".to_owned()),
            (
                "appendices",
                "# Biểu tổng hợp quyết toán\n| STT | Đơn vị | Số tiền |\n| 1 | Văn phòng | 120.000.000 |".to_owned(),
            ),
            ("signer_user", leader_id.clone()),
            ("authority", "direct".to_owned()),
        ]
    };
    let pairs = fields("V/v hướng dẫn quyết toán năm 2026");
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = spec.form(&format!("/documents/{id}/preview"), &borrowed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.starts_with("%PDF-"));
    assert!(
        spec.get(&format!("/api/v1/documents/{id}/versions")).await.json().as_array().unwrap().is_empty(),
        "a preview saves nothing"
    );
    let r = spec.form(&format!("/documents/{id}/versions"), &borrowed).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = spec.get(&format!("/documents/{id}?done=version_saved")).await;
    assert!(page.body.contains("Đã lưu phiên bản mới của dự thảo."));
    assert!(page.body.contains("/versions/1/pdf") && page.body.contains("**một**"), "the editor shows the saved text");
    let v = spec.get(&format!("/api/v1/documents/{id}/versions/1")).await.json();
    assert_eq!(v["content"]["body"][1]["list"][0], "Ý thứ nhất;");
    assert_eq!(v["content"]["appendices"][0]["title"], "Biểu tổng hợp quyết toán");
    assert_eq!(v["content"]["appendices"][0]["body"][0]["table"]["rows"][0][2], "120.000.000");
    let pdf = spec.get(&format!("/api/v1/documents/{id}/versions/1/pdf")).await;
    assert!(pdf.body.starts_with("%PDF-"), "the appendix renders");
    assert_eq!(v["content"]["signer"]["full_name"], "Nguyễn Văn a.leader");
    // An empty subject re-renders the editor with the Vietnamese error, the field named as
    // the form names it, and with what was typed (not the saved version): nothing is lost.
    let mut pairs = fields("");
    pairs.retain(|(k, _)| *k != "body");
    pairs.push(("body", "Đoạn mới, chưa lưu.".to_owned()));
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = spec.form(&format!("/documents/{id}/versions"), &borrowed).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-testid=\"notice\""));
    assert!(r.body.contains("Trường «Trích yếu» là bắt buộc"), "{}", r.body);
    assert!(r.body.contains("Đoạn mới, chưa lưu.") && !r.body.contains("**một**"), "the typed body: {}", r.body);
    assert!(r.body.contains(&format!("value=\"{leader_id}\" selected")), "the picked signer: {}", r.body);
    // A công văn without its unit's abbreviation: the same.
    let mut pairs = fields("V/v hướng dẫn quyết toán năm 2026 (bản 2)");
    pairs.retain(|(k, _)| *k != "unit_abbreviation");
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = spec.form(&format!("/documents/{id}/versions"), &borrowed).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Trường «Ký hiệu đơn vị soạn thảo» là bắt buộc"), "{}", r.body);
    assert!(r.body.contains("(bản 2)"), "the typed subject: {}", r.body);
}

#[tokio::test]
async fn reviewers_in_sequence_gate_the_approval() {
    let app = TestApp::new().await;
    let spec = app.login("a.specialist").await;
    let head = app.login("a.unithead").await;
    let leader = app.login("a.leader").await;
    let users = spec.get("/api/v1/users").await.json();
    let id_of = |name: &str| {
        users.as_array().unwrap().iter().find(|u| u["username"] == name).unwrap()["id"].as_str().unwrap().to_owned()
    };
    let id = draft(&spec, "Kế hoạch kiểm tra").await;
    assert_eq!(
        spec.post(&format!("/api/v1/documents/{id}/versions"), json!({ "content": content("V/v kiểm tra") }))
            .await
            .status,
        StatusCode::CREATED
    );
    let r = spec
        .post(
            &format!("/api/v1/documents/{id}/submit"),
            json!({ "reviewers": [id_of("a.unithead"), id_of("a.leader")], "mode": "sequential" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "in_review");
    // The leader waits for the unit head, and cannot approve before the round is done.
    assert!(leader.get("/api/v1/reviews").await.json().as_array().unwrap().is_empty());
    let r = leader
        .post(&format!("/api/v1/documents/{id}/reviews"), json!({ "decision": "approve", "initials": true }))
        .await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::CONFLICT, "illegal_transition"), "{}", r.body);
    let r = leader.post(&format!("/api/v1/documents/{id}/transitions"), json!({ "action": "approve" })).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Someone not named cannot review.
    let clerk = app.login("a.clerk").await;
    assert_eq!(
        clerk.post(&format!("/api/v1/documents/{id}/reviews"), json!({ "decision": "approve" })).await.status,
        StatusCode::FORBIDDEN
    );
    // The unit head initials it (through the page), then the leader reviews and approves.
    assert_eq!(head.get("/api/v1/reviews").await.json().as_array().unwrap().len(), 1);
    assert!(
        head.get(&format!("/documents/{id}")).await.body.contains("data-testid=\"review-form\""),
        "the head's turn"
    );
    assert!(
        !leader.get(&format!("/documents/{id}")).await.body.contains("data-testid=\"review-form\""),
        "not yet the leader's"
    );
    let inbox = head.get("/reviews").await;
    assert!(inbox.body.contains("V/v kiểm tra"), "{}", inbox.body);
    let r = head
        .form(&format!("/documents/{id}/review"), &[("csrf", &head.csrf), ("decision", "approve"), ("initials", "on")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = leader
        .post(&format!("/api/v1/documents/{id}/reviews"), json!({ "decision": "approve", "initials": true }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = leader.post(&format!("/api/v1/documents/{id}/transitions"), json!({ "action": "approve" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let steps = spec.get(&format!("/api/v1/documents/{id}/reviews")).await.json();
    assert_eq!(steps.as_array().unwrap().iter().filter(|s| s["initialled"] == true).count(), 2);
    let page = spec.get(&format!("/documents/{id}")).await;
    assert!(page.body.contains("Đã duyệt") && page.body.contains("Lần lượt"), "{}", page.body);
}

#[tokio::test]
async fn a_returned_draft_carries_the_reason() {
    let app = TestApp::new().await;
    let spec = app.login("a.specialist").await;
    let head = app.login("a.unithead").await;
    let head_id = spec
        .get("/api/v1/users")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "a.unithead")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = draft(&spec, "Báo cáo quý").await;
    spec.post(&format!("/api/v1/documents/{id}/versions"), json!({ "content": content("V/v báo cáo quý IV") })).await;
    let r = spec
        .form(
            &format!("/documents/{id}/submit"),
            &[("csrf", &spec.csrf), ("reviewers", &head_id), ("mode", "parallel")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = head.post(&format!("/api/v1/documents/{id}/reviews"), json!({ "decision": "return" })).await;
    assert_eq!(r.error_code(), "field_required", "a return needs its reason");
    let r = head
        .post(
            &format!("/api/v1/documents/{id}/reviews"),
            json!({ "decision": "return", "reason": "Số liệu quý IV chưa khớp" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(spec.get(&format!("/api/v1/documents/{id}")).await.json()["state"], "draft");
    let page = spec.get(&format!("/documents/{id}")).await;
    assert!(page.body.contains("Số liệu quý IV chưa khớp") && page.body.contains("Trả lại"));
}

fn multipart(file_name: &str, bytes: &[u8], csrf: Option<&str>) -> (String, Vec<u8>) {
    let boundary = "vanbanboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    if let Some(c) = csrf {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{c}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vanban-render/tests/fixtures").join(name))
        .unwrap()
}

#[tokio::test]
async fn uploaded_drafts_are_converted_or_refused() {
    if !vanban_render::office::converter_available() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI must install LibreOffice");
        eprintln!("skipped: LibreOffice is not installed");
        return;
    }
    let app = TestApp::new().await;
    let spec = app.login("a.specialist").await;
    let id = draft(&spec, "Công văn soạn bằng Word").await;
    let upload = |name: &str, bytes: Vec<u8>, csrf: Option<String>| {
        let (ctype, body) = multipart(name, &bytes, None);
        let mut req = axum::http::Request::post(format!("/api/v1/documents/{id}/upload"))
            .header(header::COOKIE, &spec.cookie)
            .header(header::CONTENT_TYPE, ctype);
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        req.body(axum::body::Body::from(body)).unwrap()
    };
    // Refused with a reason, nothing recorded.
    for (name, code) in [
        ("protected.docx", "document_encrypted"),
        ("damaged.docx", "not_an_office_document"),
        ("plain.docx", "not_an_office_document"),
    ] {
        let r = app.request(upload(name, fixture(name), Some(spec.csrf.clone()))).await;
        assert_eq!((r.status, r.error_code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, code), "{name}: {}", r.body);
    }
    let r = app.request(upload("cong_van.docx", fixture("cong_van.docx"), None)).await;
    assert_eq!(r.error_code(), "csrf_failed");
    assert!(spec.get(&format!("/api/v1/documents/{id}/files")).await.json().as_array().unwrap().is_empty());
    // A real DOCX: kept byte for byte, with its PDF and the layout checks.
    let original = fixture("cong_van.docx");
    let r = app.request(upload("Công văn dự toán.docx", original.clone(), Some(spec.csrf.clone()))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let files = r.json();
    assert_eq!(files[0]["kind"], "original");
    assert_eq!(files[1]["kind"], "rendition");
    assert_eq!(files[1]["checks"]["issues"], json!([]));
    let fid = files[0]["id"].as_str().unwrap();
    let got = app
        .router
        .clone()
        .oneshot(
            axum::http::Request::get(format!("/api/v1/documents/{id}/files/{fid}"))
                .header(header::COOKIE, &spec.cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = http_body_util::BodyExt::collect(got.into_body()).await.unwrap().to_bytes();
    assert_eq!(bytes.as_ref(), original.as_slice(), "the original is kept byte for byte");
    let pdf = spec.get(&format!("/api/v1/documents/{id}/files/{}", files[1]["id"].as_str().unwrap())).await;
    assert!(pdf.body.starts_with("%PDF-"));
    // A PDF is kept as an attachment (a separate-file appendix), its pages counted.
    let attachment = vanban_render::Renderer::new()
        .unwrap()
        .render(
            &serde_json::from_str(
                &std::fs::read_to_string(
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/documents/ke_hoach.json"),
                )
                .unwrap(),
            )
            .unwrap(),
            vanban_render::RenderOptions::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
        )
        .unwrap()
        .pdf;
    let r = app.request(upload("Phụ lục kế hoạch.pdf", attachment, Some(spec.csrf.clone()))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()[0]["kind"], "attachment");
    assert_eq!(r.json()[0]["checks"]["pages"], 4);
    // Another agency sees none of it.
    let outsider = app.login("b.specialist").await;
    assert_eq!(outsider.get(&format!("/api/v1/documents/{id}/files/{fid}")).await.status, StatusCode::NOT_FOUND);
    // The page lists both files.
    let page = spec.get(&format!("/documents/{id}")).await;
    assert!(page.body.contains("Công văn dự toán.docx") && page.body.contains("Công văn dự toán.pdf"), "{}", page.body);
}
