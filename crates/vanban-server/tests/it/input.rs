//! Bad input gets a clear error with a stable code and a Vietnamese message, and nothing is
//! half-written.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::harness::TestApp;

fn agency(code: &str, abbr: &str, parent: &str) -> serde_json::Value {
    json!({ "parent_id": parent, "code": code, "name": "Chi cục Thuế khu vực", "abbreviation": abbr, "level": "provincial", "place": "Bình An" })
}

#[tokio::test]
async fn malformed_and_duplicate_agency_codes() {
    let app = TestApp::new().await;
    let admin = app.login("a.admin").await;
    let before = admin.get("/api/v1/agencies").await.json().as_array().unwrap().len();
    let a = app.a.to_string();
    for bad in ["000.00.0.H58", "000-00-01-H58", "0000.00.01.H58", "000.01.01.H5", "A..B", "Ủ.01", &"A".repeat(36), ""]
    {
        let r = admin.post("/api/v1/agencies", agency(bad, "CCT", &a)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {}", r.body);
        assert_eq!(r.error_code(), "invalid_agency_code", "{bad:?}");
        assert!(r.json()["error"]["message_vi"].as_str().unwrap().contains("Mã định danh"), "{}", r.body);
    }
    // A code that is valid but not under the parent's.
    let r = admin.post("/api/v1/agencies", agency("000.01.02.H58", "CCT", &a)).await;
    assert_eq!(r.error_code(), "code_not_under_parent", "{}", r.body);
    // Lower case is accepted and stored upper case.
    let r = admin.post("/api/v1/agencies", agency("000.01.01.h58", "CCT", &a)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["code"], "000.01.01.H58");
    // The same code again: 409, and only one agency more than before.
    let r = admin.post("/api/v1/agencies", agency("000.01.01.H58", "CCT", &a)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "duplicate_agency_code");
    assert_eq!(r.json()["error"]["message_vi"], "Mã định danh cơ quan đã tồn tại.");
    assert_eq!(admin.get("/api/v1/agencies").await.json().as_array().unwrap().len(), before + 1);
}

#[tokio::test]
async fn unknown_roles_and_bad_users_write_nothing() {
    let app = TestApp::new().await;
    let admin = app.login("a.admin").await;
    let count = || async { admin.get("/api/v1/users").await.json().as_array().unwrap().len() };
    let before = count().await;
    let r = admin.post("/api/v1/users", json!({ "username": "le.thi.b", "full_name": "Lê Thị B", "password": "mat-khau-dai-du", "roles": ["clerk", "president"] })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), "unknown_role");
    assert!(r.json()["error"]["message_vi"].as_str().unwrap().contains("president"));
    let r = admin
        .post(
            "/api/v1/users",
            json!({ "username": "le.thi.b", "full_name": "Lê Thị B", "password": "ngan", "roles": ["clerk"] }),
        )
        .await;
    assert_eq!(r.error_code(), "invalid_value", "short password: {}", r.body);
    let r = admin
        .post(
            "/api/v1/users",
            json!({ "username": "Lê Thị B", "full_name": "Lê Thị B", "password": "mat-khau-dai-du" }),
        )
        .await;
    assert_eq!(r.error_code(), "invalid_value", "username with spaces and diacritics: {}", r.body);
    let r = admin
        .post(
            "/api/v1/users",
            json!({ "username": "a.clerk", "full_name": "Trùng Tên", "password": "mat-khau-dai-du" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "duplicate_username");
    assert_eq!(count().await, before, "nothing was half-written");
    // Vietnamese roles by their names are accepted.
    let r = admin.post("/api/v1/users", json!({ "username": "le.thi.b", "full_name": "Lê Thị B", "password": "mat-khau-dai-du", "roles": ["Văn thư"] })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["roles"], json!(["clerk"]));
}

#[tokio::test]
async fn oversized_and_malformed_bodies() {
    let app = TestApp::new().await;
    let c = app.login("a.specialist").await;
    let big = "x".repeat(2 * 1024 * 1024);
    let r = c.post("/api/v1/documents", json!({ "doc_type": "cong_van", "subject": big })).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error_code(), "payload_too_large");
    assert_eq!(r.json()["error"]["message_vi"], "Dữ liệu gửi lên vượt quá dung lượng cho phép.");
    // A page form over the limit gets an HTML page in Vietnamese.
    let req = Request::post("/documents")
        .header(header::COOKIE, &c.cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={}&subject={big}", c.csrf)))
        .unwrap();
    let r = app.request(req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body.contains("vượt quá dung lượng"), "{}", &r.body[..r.body.len().min(300)]);
    // Malformed JSON.
    let req = Request::post("/api/v1/documents")
        .header(header::COOKIE, &c.cookie)
        .header("x-csrf-token", &c.csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"doc_type\": "))
        .unwrap();
    let r = app.request(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "bad_request");
    // Over-long fields name the Appendix VI field.
    let r = c.post("/api/v1/documents", json!({ "doc_type": "cong_van", "subject": "ạ".repeat(501) })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), "field_too_long");
    assert!(r.body.contains("Subject"), "{}", r.body);
    let r = c.post("/api/v1/documents", json!({ "doc_type": "nghi_dinh_tu_che", "subject": "Loại không có" })).await;
    assert_eq!(r.error_code(), "unknown_document_type");
    assert!(c.get("/api/v1/documents").await.json().as_array().unwrap().is_empty(), "nothing was written");
}

#[tokio::test]
async fn administrators_rename_agencies_within_reach() {
    let app = TestApp::new().await;
    let admin = app.login("a.admin").await;
    let (a, b) = (app.a, app.b);
    let body = json!({ "name": "Sở Tài chính tỉnh Bình An", "parent_name": "Ủy ban nhân dân tỉnh Bình An", "abbreviation": "STC", "place": "Bình An" });
    let r = admin.send(axum::http::Method::PUT, &format!("/api/v1/agencies/{a}"), Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["parent_name"], "Ủy ban nhân dân tỉnh Bình An");
    assert_eq!(r.json()["code"], "000.00.01.H58", "the code stays");
    assert_eq!(
        admin.send(axum::http::Method::PUT, &format!("/api/v1/agencies/{b}"), Some(body.clone())).await.status,
        StatusCode::NOT_FOUND
    );
    let clerk = app.login("a.clerk").await;
    assert_eq!(
        clerk.send(axum::http::Method::PUT, &format!("/api/v1/agencies/{a}"), Some(body)).await.status,
        StatusCode::FORBIDDEN
    );
    let bad = json!({ "name": "Sở Tài chính", "abbreviation": "stc-ns", "place": "Bình An" });
    let r = admin.send(axum::http::Method::PUT, &format!("/api/v1/agencies/{a}"), Some(bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(admin.get(&format!("/api/v1/agencies/{a}")).await.json()["abbreviation"], "STC", "nothing half-written");
    let events = admin.get("/api/v1/audit").await.json();
    assert!(events.as_array().unwrap().iter().any(|e| e["action"] == "agency.update"));
}
