//! Signing in and out: wrong passwords, the lockout, CSRF on the API and on the login form.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::harness::{PASSWORD, TestApp};

async fn try_login(app: &TestApp, username: &str, password: &str) -> crate::harness::Response {
    let body = json!({ "username": username, "password": password }).to_string();
    app.request(
        Request::post("/api/v1/session")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn wrong_password_and_unknown_user_answer_alike() {
    let app = TestApp::new().await;
    let wrong = try_login(&app, "a.clerk", "not-the-password").await;
    let unknown = try_login(&app, "nobody.here", "not-the-password").await;
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.error_code(), "invalid_credentials");
        assert_eq!(r.json()["error"]["message_vi"], "Tên đăng nhập hoặc mật khẩu không đúng.");
    }
    assert_eq!(try_login(&app, "A.Clerk ", PASSWORD).await.status, StatusCode::OK, "usernames are case-insensitive");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_until_an_admin_resets_it() {
    let app = TestApp::new().await;
    for i in 1..=4 {
        let r = try_login(&app, "a.leader", "sai-mat-khau").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = try_login(&app, "a.leader", "sai-mat-khau").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "fifth failure locks: {}", r.body);
    assert_eq!(r.error_code(), "account_locked");
    assert!(r.json()["error"]["message_vi"].as_str().unwrap().contains("tạm khóa"));
    // Locked: even the right password is refused.
    let r = try_login(&app, "a.leader", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // The failures are in the audit log.
    let admin = app.login("a.admin").await;
    let events = admin.get("/api/v1/audit?limit=500").await.json();
    let failures = events.as_array().unwrap().iter().filter(|e| e["action"] == "auth.login_failed").count();
    assert_eq!(failures, 5);
    // An administrator's reset clears the lock.
    let users = admin.get("/api/v1/users").await.json();
    let id = users.as_array().unwrap().iter().find(|u| u["username"] == "a.leader").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = admin.post(&format!("/api/v1/users/{id}/password"), json!({ "password": PASSWORD })).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(try_login(&app, "a.leader", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn api_changes_need_the_csrf_header_and_a_session() {
    let app = TestApp::new().await;
    let c = app.login("a.specialist").await;
    let body = json!({ "doc_type": "cong_van", "subject": "Không có mã CSRF" }).to_string();
    let req = Request::post("/api/v1/documents")
        .header(header::COOKIE, &c.cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.clone()))
        .unwrap();
    let r = app.request(req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error_code(), "csrf_failed");
    let req = Request::post("/api/v1/documents")
        .header(header::COOKIE, &c.cookie)
        .header("x-csrf-token", "0".repeat(64))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(app.request(req).await.error_code(), "csrf_failed");
    assert!(c.get("/api/v1/documents").await.json().as_array().unwrap().is_empty(), "nothing was written");
    // Without a session: 401.
    let r = app.request(Request::get("/api/v1/me").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), "unauthenticated");
    // After logout the cookie is dead.
    let r = c.send(axum::http::Method::DELETE, "/api/v1/session", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(c.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_form_checks_its_csrf_cookie() {
    let app = TestApp::new().await;
    let page = app.request(Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Đăng nhập"));
    let cookie = page
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("vanban_login_csrf="))
        .unwrap();
    let token = cookie.split(';').next().unwrap().trim_start_matches("vanban_login_csrf=").to_owned();
    let form = |csrf: &str, password: &str| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("csrf", csrf), ("username", "a.clerk"), ("password", password)])
            .finish()
    };

    // A form posted without the matching cookie (a cross-site login) is refused.
    let r = app
        .request(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form(&token, PASSWORD)))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("Phiên làm việc không hợp lệ"));

    let post = |body: String| {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("vanban_login_csrf={token}"))
            .body(Body::from(body))
            .unwrap()
    };
    let r = app.request(post(form(&token, "sai"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Tên đăng nhập hoặc mật khẩu không đúng."), "Vietnamese error on the page");
    let r = app.request(post(form(&token, PASSWORD))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/");
    let session = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("vanban_session="))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
}

#[tokio::test]
async fn a_deactivated_account_loses_its_sessions_and_cannot_sign_in() {
    let app = TestApp::new().await;
    let clerk = app.login("a.clerk").await;
    let admin = app.login("a.admin").await;
    let users = admin.get("/api/v1/users").await.json();
    let id_of = |name: &str| {
        users.as_array().unwrap().iter().find(|u| u["username"] == name).unwrap()["id"].as_str().unwrap().to_owned()
    };
    let (clerk_id, admin_id) = (id_of("a.clerk"), id_of("a.admin"));
    let r = admin
        .send(axum::http::Method::PUT, &format!("/api/v1/users/{clerk_id}/active"), Some(json!({ "active": false })))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(clerk.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "the open session ended");
    let r = try_login(&app, "a.clerk", PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), "invalid_credentials");
    let listed = admin.get(&format!("/api/v1/users/{clerk_id}")).await.json();
    assert_eq!(listed["active"], false);
    // An administrator cannot lock themselves out.
    let r = admin
        .send(axum::http::Method::PUT, &format!("/api/v1/users/{admin_id}/active"), Some(json!({ "active": false })))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Reactivated, the clerk signs in again.
    let r = admin
        .send(axum::http::Method::PUT, &format!("/api/v1/users/{clerk_id}/active"), Some(json!({ "active": true })))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(try_login(&app, "a.clerk", PASSWORD).await.status, StatusCode::OK);
}
