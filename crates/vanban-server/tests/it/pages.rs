//! The Vietnamese pages, health, metrics and the OpenAPI document.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::harness::TestApp;

#[tokio::test]
async fn pages_need_a_session_and_show_the_agency() {
    let app = TestApp::new().await;
    let r = app.request(Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/login");
    let c = app.login("a.clerk").await;
    let home = c.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Sở Tài chính"));
    assert!(home.body.contains("000.00.01.H58"));
    assert!(home.body.contains("Văn thư"));
    assert!(!home.body.contains("Sở Nội vụ"), "the home page shows only the caller's agency");
    assert!(home.headers.get(header::CONTENT_SECURITY_POLICY).is_some());
    for path in ["/documents", "/agencies", "/users"] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
    }
    // Not an administrator: no audit page, in Vietnamese.
    let r = c.get("/audit").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("Bạn không có quyền thực hiện thao tác này."));
    let r = c.get("/no/such/page").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Không tìm thấy"));
    // A form's address typed in: the error page says what to do, not an empty answer.
    let r = c.get("/incoming/scan").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.body.contains("chỉ nhận dữ liệu gửi từ biểu mẫu") && r.body.contains("Quay lại"), "{}", r.body);
    assert!(r.headers.get(header::ALLOW).is_some());
    let r = c.get("/api/v1/incoming/scan").await;
    assert_eq!((r.status, r.error_code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed".to_owned()));
    // The menu offers only what the user may open: every link of it answers 200.
    for user in ["a.clerk", "a.specialist", "a.leader", "a.admin", "a.archivist", "root.admin"] {
        let c = app.login(user).await;
        let home = c.get("/").await;
        let nav =
            home.body.split("<nav id=\"menu\">").nth(1).and_then(|n| n.split("</nav>").next()).unwrap().to_owned();
        let links: Vec<&str> = nav.split("href=\"").skip(1).filter_map(|l| l.split('"').next()).collect();
        assert!(links.len() >= 6, "{user}: {links:?}");
        for link in &links {
            assert_eq!(c.get(link).await.status, StatusCode::OK, "{user} opens {link} from the menu");
        }
        assert_eq!(links.contains(&"/issuing"), user == "a.clerk", "{user}: {links:?}");
        assert_eq!(links.contains(&"/exchange"), user == "root.admin", "{user}: {links:?}");
    }
}

#[tokio::test]
async fn the_directory_is_searchable_with_or_without_diacritics() {
    let app = TestApp::new().await;
    let c = app.login("a.clerk").await;
    for q in ["Sở Tài chính", "so tai chinh", "SO TAI CHINH", "stc", "000.00.01"] {
        let r =
            c.get(&format!("/agencies?q={}", form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>())).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("Sở Tài chính") && !r.body.contains("Sở Nội vụ"), "{q}: {}", r.body);
        assert!(r.body.contains("1 / 3 cơ quan"), "{q}");
    }
    // A decomposed (NFD) query finds the same.
    let nfd = "So\u{031b}\u{0309} Ta\u{0300}i chi\u{0301}nh";
    let nfd: String = serde_json::from_str(&format!("\"{nfd}\"")).unwrap();
    let r =
        c.get(&format!("/agencies?q={}", form_urlencoded::byte_serialize(nfd.as_bytes()).collect::<String>())).await;
    assert!(r.body.contains("1 / 3 cơ quan"), "{}", r.body);
    // With diacritics or without, the same agency (the page frame names the caller's own).
    let r = c.get_hx("/agencies?q=n%E1%BB%99i%20v%E1%BB%A5").await;
    assert!(r.body.contains("Sở Nội vụ") && !r.body.contains("Sở Tài chính"), "{}", r.body);
    // htmx gets the table alone.
    let r = c.get_hx("/agencies?q=noi+vu").await;
    assert!(r.body.starts_with("<div id=\"agency-table\">"), "{}", r.body);
    assert!(!r.body.contains("<html"));
}

#[tokio::test]
async fn drafting_and_review_through_the_forms() {
    let app = TestApp::new().await;
    let spec = app.login("a.specialist").await;
    let r = spec
        .form(
            "/documents",
            &[
                ("csrf", &spec.csrf),
                ("doc_type", "cong_van"),
                ("priority", "1"),
                ("subject", "V/v góp ý dự thảo Quy chế làm việc"),
                ("due_date", "2026-12-20"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_owned();
    let page = spec.get(&location).await;
    assert!(page.body.contains("V/v góp ý dự thảo Quy chế làm việc"));
    assert!(page.body.contains("data-testid=\"document-due\">20/12/2026<"), "the reply date asked: {}", page.body);
    assert!(page.body.contains("Dự thảo"));
    assert!(page.body.contains("Khẩn"));
    let title = page.body.split("<title>").nth(1).unwrap().split("</title>").next().unwrap();
    assert_eq!(title, "Công văn · vanban", "the page title is the type alone");
    // Without content it cannot go to review; the page says why.
    let r =
        spec.form(&format!("{location}/transition"), &[("csrf", &spec.csrf), ("action", "submit_for_review")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Dự thảo chưa có nội dung"), "{}", r.body);
    let content = crate::harness::draft_content("V/v góp ý dự thảo Quy chế làm việc");
    let r = spec.post(&format!("/api/v1{location}/versions"), serde_json::json!({ "content": content })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A form without its CSRF token is refused and changes nothing.
    let r = spec.form(&format!("{location}/transition"), &[("action", "submit_for_review")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r =
        spec.form(&format!("{location}/transition"), &[("csrf", &spec.csrf), ("action", "submit_for_review")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "post/redirect/get: {}", r.body);
    let r = spec.get(r.headers.get(header::LOCATION).unwrap().to_str().unwrap()).await;
    assert!(r.body.contains("Đang xem xét") && r.body.contains("Đã cập nhật trạng thái văn bản."), "{}", r.body);
    // The leader returns it: the reason is required.
    let leader = app.login("a.leader").await;
    let r = leader
        .form(&format!("{location}/transition"), &[("csrf", &leader.csrf), ("action", "return_to_drafter")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("reason"), "{}", r.body);
    let r = leader
        .form(
            &format!("{location}/transition"),
            &[("csrf", &leader.csrf), ("action", "return_to_drafter"), ("reason", "Bổ sung căn cứ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(leader.get(&location).await.body.contains("Dự thảo"));
    // Bad form input re-renders the page with the Vietnamese error.
    let r = spec.form("/documents", &[("csrf", &spec.csrf), ("doc_type", "cong_van"), ("subject", "")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-testid=\"notice\""), "{}", r.body);
}

#[tokio::test]
async fn admin_pages_create_users_and_agencies() {
    let app = TestApp::new().await;
    let admin = app.login("a.admin").await;
    let r = admin
        .form(
            "/users",
            &[
                ("csrf", &admin.csrf),
                ("agency_id", &app.a.to_string()),
                ("username", "pham.van.c"),
                ("full_name", "Phạm Văn C"),
                ("password", "mat-khau-dai-du"),
                ("roles", "clerk"),
                ("roles", "specialist"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = admin.get(r.headers.get(header::LOCATION).unwrap().to_str().unwrap()).await;
    assert!(page.body.contains("Đã thêm cán bộ.") && page.body.contains("Phạm Văn C"), "{}", page.body);
    let users = admin.get("/api/v1/users").await.json();
    let c = users.as_array().unwrap().iter().find(|u| u["username"] == "pham.van.c").unwrap().clone();
    assert_eq!(c["roles"], serde_json::json!(["clerk", "specialist"]));
    let r = admin
        .form(
            "/agencies",
            &[
                ("csrf", &admin.csrf),
                ("parent_id", &app.a.to_string()),
                ("code", "bad"),
                ("name", "X"),
                ("abbreviation", "X"),
                ("level", "provincial"),
                ("place", "Bình An"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Mã định danh"), "{}", r.body);
    // Roles edited through the page's checkboxes.
    let id = c["id"].as_str().unwrap().to_owned();
    let a_id = app.a.to_string();
    let r = admin
        .form(&format!("/users/{id}/roles"), &[("csrf", &admin.csrf), ("agency", &a_id), ("roles", "leader")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = admin.get(r.headers.get(header::LOCATION).unwrap().to_str().unwrap()).await;
    assert!(page.body.contains("Đã cập nhật vai trò."));
    assert_eq!(admin.get(&format!("/api/v1/users/{id}")).await.json()["roles"], serde_json::json!(["leader"]));
    let r = admin.form(&format!("/users/{id}/active"), &[("csrf", &admin.csrf), ("active", "false")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(admin.get("/users").await.body.contains("Đã khóa"));
    let a = app.a.to_string();
    let r = admin
        .form(
            &format!("/agencies/{a}/units"),
            &[("csrf", &admin.csrf), ("name", "Phòng Ngân sách"), ("abbreviation", "NS")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = admin.get(&format!("/users?agency={a}")).await;
    assert!(page.body.contains("Phòng Ngân sách"), "{}", page.body);
    let r = admin
        .form(
            &format!("/agencies/{a}/units"),
            &[("csrf", &admin.csrf), ("name", "Phòng Trùng"), ("abbreviation", "NS")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Đơn vị với ký hiệu này đã tồn tại"), "{}", r.body);
    // Another agency's units are out of reach of A's administrator.
    let b = app.b.to_string();
    let r = admin
        .form(&format!("/agencies/{b}/units"), &[("csrf", &admin.csrf), ("name", "Phòng X"), ("abbreviation", "PX")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let audit = admin.get("/audit").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit.body.contains("data-code=\"unit.create\">Tạo đơn vị<"), "{}", audit.body);
}

#[tokio::test]
async fn the_audit_page_filters_and_pages_in_vietnamese() {
    let app = TestApp::new().await;
    let admin = app.login("a.admin").await;
    let a = app.a.to_string();
    let seeded = app
        .store
        .search_audit(
            &vanban_store::AdminScope::whole_instance(),
            &vanban_store::AuditQuery { action: Some("unit.".into()), ..vanban_store::AuditQuery::newest(100) },
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.agency_id == Some(app.a))
        .count();
    for (name, abbr) in [("Phòng Một", "P1"), ("Phòng Hai", "P2"), ("Phòng Ba", "P3")] {
        let r = admin
            .form(&format!("/agencies/{a}/units"), &[("csrf", &admin.csrf), ("name", name), ("abbreviation", abbr)])
            .await;
        assert!(r.status.is_success() || r.status.is_redirection(), "{}", r.body);
    }
    let codes = |body: &str| -> Vec<String> {
        body.split("data-code=\"").skip(1).filter_map(|c| c.split('"').next()).map(str::to_owned).collect()
    };
    let seqs = |body: &str| -> Vec<i64> {
        body.split("<tr><td>").skip(1).filter_map(|c| c.split('<').next()?.parse().ok()).collect()
    };

    // A family of actions, in Vietnamese, newest first.
    let units = admin.get("/audit?action=unit.").await;
    assert_eq!(units.status, StatusCode::OK);
    assert_eq!(codes(&units.body), vec!["unit.create"; 3 + seeded]);
    assert!(units.body.contains(">Tạo đơn vị<") && units.body.contains("Tên: Phòng Ba"), "{}", units.body);
    assert!(units.body.contains("<option value=\"unit.\" selected>"), "the filter stays chosen");
    let s = seqs(&units.body);
    assert!(s.len() == 3 + seeded && s.windows(2).all(|w| w[0] > w[1]), "{s:?}");

    // The actor, and the days (an empty date is no filter; a future day finds nothing).
    let mine = admin.get("/audit?actor=a.admin&from=&to=").await;
    assert!(codes(&mine.body).contains(&"auth.login".to_owned()) && codes(&mine.body).len() == 4, "{}", mine.body);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).date_naive();
    let none = admin.get(&format!("/audit?from={tomorrow}")).await;
    assert!(none.body.contains("Không có bản ghi nào khớp"), "{}", none.body);
    let today = admin
        .get(&format!("/audit?action=unit.&to={}", chrono::Utc::now().date_naive() + chrono::Duration::days(1)))
        .await;
    assert_eq!(codes(&today.body).len(), 3 + seeded);
    // A day that does not parse is said on the page, which lists without it; a day typed as
    // people write it is understood; a period backwards is said too.
    let bad = admin.get("/audit?action=unit.&from=31/02/2026").await;
    assert_eq!(bad.status, StatusCode::OK, "{}", bad.body);
    assert!(bad.body.contains("Ngày không hợp lệ") && codes(&bad.body).len() == 3 + seeded, "{}", bad.body);
    let typed = chrono::Utc::now().with_timezone(&vanban_server::pages::vn_offset()).format("%d/%m/%Y").to_string();
    let r = admin.get(&format!("/audit?action=unit.&from={typed}&to={typed}")).await;
    assert_eq!(codes(&r.body).len(), 3 + seeded, "{}", r.body);
    let r = admin.get("/audit?from=2026-12-31&to=2026-01-01").await;
    assert!(r.body.contains("«Từ ngày» đứng sau «Đến ngày»"), "{}", r.body);
    let r = admin.get("/api/v1/audit?from=2026-13-45").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Usernames are matched as they are stored, whatever the case typed.
    assert_eq!(codes(&admin.get("/audit?actor=A.ADMIN").await.body), codes(&mine.body));

    // The next page continues below the last event seen.
    let older = admin.get(&format!("/audit?action=unit.&before={}", s[0])).await;
    assert_eq!(seqs(&older.body), s[1..]);
    assert!(older.body.contains("href=\"/audit?action=unit.\" data-testid=\"audit-newest\""), "{}", older.body);
    assert!(!units.body.contains("audit-newest"), "the newest page has no link to itself");

    // The API filters the same way and caps its limit.
    let api = admin.get("/api/v1/audit?action=unit.&limit=2").await.json();
    let api = api.as_array().unwrap();
    assert_eq!(api.len(), 2);
    assert!(api.iter().all(|e| e["action"] == "unit.create"));
    assert_eq!(api[0]["seq"], s[0]);

    // Another agency's administrator sees none of it.
    let other = app.login("b.admin").await.get("/audit?action=unit.").await;
    assert_eq!(other.status, StatusCode::OK);
    assert!(!other.body.contains("Phòng Một") && !other.body.contains("Phòng Ba"), "{}", other.body);
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let app = TestApp::new().await;
    let r = app.request(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["backend"], "sqlite");
    let r = app.request(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("vanban_http_requests_total"), "{}", r.body);
    let r = app.request(Request::get("/static/htmx.min.2.0.8.js").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.request(Request::get("/static/vanban.js").body(Body::empty()).unwrap()).await;
    assert!(r.status == StatusCode::OK && r.body.contains("data-confirm"), "{}", r.body);
    assert_eq!(r.headers.get(header::CACHE_CONTROL).unwrap(), "public, max-age=300", "checked again after an upgrade");
    let r = app.request(Request::get("/favicon.ico").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/static/favicon.svg");
    let r = app.request(Request::get("/static/favicon.svg").body(Body::empty()).unwrap()).await;
    assert!(r.status == StatusCode::OK && r.body.starts_with("<svg"), "{}", r.body);

    // The Content-Security-Policy (default-src 'self') blocks inline styles, scripts and event
    // handlers: a template that has one does not do what it says (a revocation sent without
    // its confirmation). Pages declare behaviour in data- attributes for static/vanban.js.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let html = std::fs::read_to_string(&path).unwrap();
        for inline in [" style=", "<style", " onclick=", " onsubmit=", " onchange=", " oninput=", " onload="] {
            assert!(!html.contains(inline), "{}: inline {inline:?} (blocked by the CSP)", path.display());
        }
        assert!(!html.contains("<script>") && !html.contains("<script type"), "{}: inline script", path.display());
    }

    // Every API route is documented, and the document names no route that does not exist.
    let spec: serde_json::Value = serde_json::from_str(vanban_server::openapi_document()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    // API routes are declared in api.rs (under /api/v1) and, for uploads with their own body
    // limit, in lib.rs (with the full path).
    let api = include_str!("../../src/api.rs");
    let lib = include_str!("../../src/lib.rs");
    let signing = include_str!("../../src/signing.rs");
    let incoming = include_str!("../../src/incoming.rs");
    let exchange = include_str!("../../src/exchange.rs");
    let mut routed = Vec::new();
    let api_lines = api.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")).map(|l| (l, "/api/v1"));
    let lib_lines = lib
        .lines()
        .chain(signing.lines())
        .chain(incoming.lines())
        .chain(exchange.lines())
        .map(str::trim)
        .filter(|l| l.starts_with(".route(\"/api/v1/"))
        .map(|l| (l, ""));
    for (line, prefix) in api_lines.chain(lib_lines) {
        let path = line.trim_start_matches(".route(\"").split('"').next().unwrap();
        let full = format!("{prefix}{path}");
        for method in ["get", "post", "put", "delete"] {
            if line.contains(&format!("{method}(")) || line.contains(&format!(".{method}(")) {
                routed.push((full.clone(), method));
            }
        }
    }
    assert!(routed.len() >= 18, "found {} routes", routed.len());
    for (path, method) in &routed {
        assert!(paths.get(path).and_then(|p| p.get(*method)).is_some(), "{method} {path} is not in openapi.json");
    }
    for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/api/v1")) {
        for method in item.as_object().unwrap().keys() {
            assert!(
                routed.iter().any(|(p, m)| p == path && m == method),
                "openapi.json documents {method} {path}, which is not routed"
            );
        }
    }
}
