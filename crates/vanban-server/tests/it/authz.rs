//! For each role in agency A and for users of agency B, each API route answers as the role
//! allows (2xx) or refuses (403/404) — and nothing of the other agency leaks into any answer.
//! The expectations are written out by hand from the role descriptions of Decree 30, not
//! computed from the permission matrix they test.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Client, TestApp, draft, draft_with_content};

const ROLES: [&str; 6] = ["admin", "clerk", "specialist", "unithead", "leader", "archivist"];

/// Ids and words of agency B that no response to an agency-A user may contain.
struct Secrets {
    words: Vec<String>,
}

impl Secrets {
    fn check(&self, who: &str, what: &str, body: &str) {
        for w in &self.words {
            assert!(!body.contains(w.as_str()), "{who} {what}: response leaks {w:?} of the other agency: {body}");
        }
    }
}

fn ok(status: StatusCode) -> bool {
    status.is_success()
}

#[tokio::test]
async fn every_route_answers_as_each_role_allows() {
    let app = TestApp::new().await;
    let a = app.a;
    let b = app.b;

    // Objects of agency B, made by B's own users.
    let b_spec = app.login("b.specialist").await;
    let b_doc = draft(&b_spec, "Bí mật của Sở Nội vụ về biên chế").await;
    let b_admin = app.login("b.admin").await;
    let b_users = b_admin.get("/api/v1/users").await.json();
    let b_user_id = b_users.as_array().unwrap().iter().find(|u| u["username"] == "b.clerk").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_units = b_admin.get(&format!("/api/v1/agencies/{b}/units")).await.json();
    let b_unit_id = b_units[0]["id"].as_str().unwrap().to_owned();
    // A delegation inside B.
    let b_delegation = {
        crate::harness::user_in_b_leader(&app).await;
        let b_leader = app.login("b.leader").await;
        let r = b_leader
            .post(
                "/api/v1/delegations",
                json!({ "to_user": b_user_id, "authority": "by_authorisation", "valid_from": "2026-01-01T00:00:00Z",
                        "valid_until": "2030-01-01T00:00:00Z", "basis": "Giấy ủy quyền số 03/GUQ-SNV" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_owned()
    };
    let secrets = Secrets {
        words: vec![
            b_delegation.clone(),
            "03/GUQ-SNV".into(),
            b_doc.clone(),
            "Bí mật của Sở Nội vụ".into(),
            b_user_id.clone(),
            "b.clerk".into(),
            "b.specialist".into(),
            b_unit_id.clone(),
            "TCBM".into(),
        ],
    };

    // Objects of agency A.
    let a_spec = app.login("a.specialist").await;
    let a_doc = draft(&a_spec, "Công văn về việc lập dự toán ngân sách năm 2027").await;
    let a_users = a_spec.get("/api/v1/users").await.json();
    let a_clerk_id = a_users.as_array().unwrap().iter().find(|u| u["username"] == "a.clerk").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for (i, name) in ROLES.iter().enumerate() {
        let who = format!("a.{name}");
        let c: Client = app.login(&who).await;
        let is = |roles: &[&str]| roles.contains(name);
        let check = |what: &str, r: crate::harness::Response, allowed: bool| {
            if allowed {
                assert!(ok(r.status), "{who} {what}: expected success, got {} {}", r.status, r.body);
            } else {
                assert!(
                    matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                    "{who} {what}: expected 403/404, got {} {}",
                    r.status,
                    r.body
                );
                assert!(!r.error_code().is_empty(), "{who} {what}: refusal without an error code");
            }
            secrets.check(&who, what, &r.body);
        };

        // Reading one's own agency: every role.
        check("GET /me", c.get("/api/v1/me").await, true);
        check("GET /agencies", c.get("/api/v1/agencies").await, true);
        check("GET /agencies/A", c.get(&format!("/api/v1/agencies/{a}")).await, true);
        check("GET /agencies/A/units", c.get(&format!("/api/v1/agencies/{a}/units")).await, true);
        check("GET /users", c.get("/api/v1/users").await, true);
        check("GET /users/A-clerk", c.get(&format!("/api/v1/users/{a_clerk_id}")).await, true);
        check("GET /documents", c.get("/api/v1/documents").await, true);
        check("GET /documents/A", c.get(&format!("/api/v1/documents/{a_doc}")).await, true);

        // Agency B's insides: nobody in A, not even A's administrator.
        for (what, path) in [
            ("GET /agencies/B/units", format!("/api/v1/agencies/{b}/units")),
            ("GET /users?agency_id=B", format!("/api/v1/users?agency_id={b}")),
            ("GET /users/B-clerk", format!("/api/v1/users/{b_user_id}")),
            ("GET /documents/B", format!("/api/v1/documents/{b_doc}")),
        ] {
            let r = c.get(&path).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{who} {what}: {}", r.body);
            secrets.check(&who, what, &r.body);
        }
        let r =
            c.post(&format!("/api/v1/documents/{b_doc}/transitions"), json!({ "action": "submit_for_review" })).await;
        assert!(
            matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{who} transition B doc: {}",
            r.body
        );
        let r =
            c.post(&format!("/api/v1/agencies/{b}/units"), json!({ "name": "Phòng X", "abbreviation": "PX" })).await;
        assert!(matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN), "{who} unit in B: {}", r.body);

        // Administration: admin only.
        let admin = is(&["admin"]);
        let r = c.post("/api/v1/agencies", json!({ "parent_id": a.to_string(), "code": format!("000.0{}.01.H58", i + 1), "name": format!("Chi cục số {i}"), "abbreviation": format!("CC{i}"), "level": "provincial", "place": "Bình An" })).await;
        check("POST /agencies", r, admin);
        let r = c
            .post(
                &format!("/api/v1/agencies/{a}/units"),
                json!({ "name": format!("Phòng số {i}"), "abbreviation": format!("P{i}") }),
            )
            .await;
        check("POST /agencies/A/units", r, admin);
        let r = c.post("/api/v1/users", json!({ "username": format!("new.{name}"), "full_name": "Trần Thị Mới", "password": "mat-khau-moi-123", "roles": ["specialist"] })).await;
        check("POST /users", r, admin);
        let r = c
            .send(Method::PUT, &format!("/api/v1/users/{a_clerk_id}/roles"), Some(json!({ "roles": ["clerk"] })))
            .await;
        check("PUT /users/A-clerk/roles", r, admin);
        let r = c
            .post(&format!("/api/v1/users/{a_clerk_id}/password"), json!({ "password": crate::harness::PASSWORD }))
            .await;
        check("POST /users/A-clerk/password", r, admin);
        let r =
            c.send(Method::PUT, &format!("/api/v1/users/{a_clerk_id}/active"), Some(json!({ "active": true }))).await;
        check("PUT /users/A-clerk/active", r, admin);
        check("GET /audit", c.get("/api/v1/audit").await, admin);
        // The chain spans the whole instance: only the top-level agency's administrator.
        check("GET /audit/verify", c.get("/api/v1/audit/verify").await, false);

        // Drafting: specialists and unit heads draft; unit heads and leaders review; leaders approve.
        let r = c
            .post("/api/v1/documents", json!({ "doc_type": "quyet_dinh", "subject": format!("Dự thảo của {who}") }))
            .await;
        check("POST /documents", r, is(&["specialist", "unithead"]));
        let fresh = draft_with_content(&a_spec, &format!("Văn bản thử quyền trình của {who}")).await;
        let r =
            c.post(&format!("/api/v1/documents/{fresh}/transitions"), json!({ "action": "submit_for_review" })).await;
        check("submit_for_review", r, is(&["specialist", "unithead"]));
        let fresh = draft_with_content(&a_spec, &format!("Văn bản thử quyền duyệt của {who}")).await;
        assert!(ok(a_spec
            .post(&format!("/api/v1/documents/{fresh}/transitions"), json!({ "action": "submit_for_review" }))
            .await
            .status));
        let r = c
            .post(
                &format!("/api/v1/documents/{fresh}/transitions"),
                json!({ "action": "return_to_drafter", "reason": "Cần bổ sung căn cứ pháp lý" }),
            )
            .await;
        check("return_to_drafter", r, is(&["unithead", "leader"]));
        let fresh = draft_with_content(&a_spec, &format!("Văn bản thử quyền phê duyệt của {who}")).await;
        assert!(ok(a_spec
            .post(&format!("/api/v1/documents/{fresh}/transitions"), json!({ "action": "submit_for_review" }))
            .await
            .status));
        let r = c.post(&format!("/api/v1/documents/{fresh}/transitions"), json!({ "action": "approve" })).await;
        check("approve", r, is(&["leader"]));

        // Delegations: everyone sees the agency's; only a holder of signing power grants.
        check("GET /delegations", c.get("/api/v1/delegations").await, true);
        let r = c
            .post(
                "/api/v1/delegations",
                json!({ "to_user": a_clerk_id, "authority": "TL.", "valid_from": "2026-01-01T00:00:00Z",
                        "valid_until": "2030-01-01T00:00:00Z", "basis": format!("Quyết định giao quyền của {who}") }),
            )
            .await;
        check("POST /delegations", r, is(&["leader"]));
        let r = c.post(&format!("/api/v1/delegations/{b_delegation}/revoke"), json!({})).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{who} revoke B's delegation: {}", r.body);

        // Lists never contain B's things (checked by `secrets` above), and do contain A's.
        let docs = c.get("/api/v1/documents").await.body;
        assert!(docs.contains(&a_doc), "{who}: own agency's document missing from the list");
    }

    // The top-level administrator may verify the chain; it is intact after all of the above.
    let root = app.login("root.admin").await;
    let r = root.get("/api/v1/audit/verify").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["first_broken_seq"], serde_json::Value::Null);

    // The audit view of A's administrator holds A's events and none of B's.
    let a_admin = app.login("a.admin").await;
    let events = a_admin.get("/api/v1/audit?limit=1000").await.json();
    let events = events.as_array().unwrap();
    assert!(events.iter().any(|e| e["action"] == "document.create_draft"));
    assert!(events.iter().all(|e| e["agency_id"] != b.to_string()), "A's audit view shows B's events");
    secrets.check("a.admin", "GET /audit", &serde_json::to_string(events).unwrap());
    let _ = app.root;
}

#[tokio::test]
async fn signing_and_issuing_are_not_shortcuts() {
    let app = TestApp::new().await;
    let spec = app.login("a.specialist").await;
    let leader = app.login("a.leader").await;
    let empty = draft(&spec, "Dự thảo chưa có nội dung").await;
    // A draft with no content goes neither to review nor to approval.
    for (body, path) in [
        (json!({ "action": "submit_for_review" }), format!("/api/v1/documents/{empty}/transitions")),
        (json!({ "reviewers": [] }), format!("/api/v1/documents/{empty}/submit")),
    ] {
        let r = spec.post(&path, body).await;
        assert_eq!(
            (r.status, r.error_code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "empty_draft".to_owned()),
            "{}",
            r.body
        );
        assert!(r.body.contains("Dự thảo chưa có nội dung"), "{}", r.body);
    }
    let r = spec
        .form(&format!("/documents/{empty}/transition"), &[("csrf", &spec.csrf), ("action", "submit_for_review")])
        .await;
    assert!(r.body.contains("Dự thảo chưa có nội dung"), "{}", r.body);
    assert_eq!(spec.get(&format!("/api/v1/documents/{empty}")).await.json()["state"], "draft");
    let doc = draft_with_content(&spec, "Quyết định về việc phân bổ kinh phí").await;
    // Nothing unapproved reaches signing: a draft cannot be signed.
    let r = leader.post(&format!("/api/v1/documents/{doc}/transitions"), json!({ "action": "sign" })).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // And even an approved one is signed only by the signing flow, which produces the signature.
    assert!(
        spec.post(&format!("/api/v1/documents/{doc}/transitions"), json!({ "action": "submit_for_review" }))
            .await
            .status
            .is_success()
    );
    assert!(
        leader
            .post(&format!("/api/v1/documents/{doc}/transitions"), json!({ "action": "approve" }))
            .await
            .status
            .is_success()
    );
    let r = leader.post(&format!("/api/v1/documents/{doc}/transitions"), json!({ "action": "sign" })).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "action_not_available");
    let state = spec.get(&format!("/api/v1/documents/{doc}")).await.json()["state"].clone();
    assert_eq!(state, "approved");
}

#[tokio::test]
async fn delegations_follow_decree_30() {
    let app = TestApp::new().await;
    let leader = app.login("a.leader").await;
    let users = leader.get("/api/v1/users").await.json();
    let id_of = |name: &str| {
        users.as_array().unwrap().iter().find(|u| u["username"] == name).unwrap()["id"].as_str().unwrap().to_owned()
    };
    let (unithead, specialist, leader_id) = (id_of("a.unithead"), id_of("a.specialist"), id_of("a.leader"));
    let grant = |to: &str, authority: &str, basis: &str| {
        json!({ "to_user": to, "authority": authority, "valid_from": "2026-01-01T00:00:00Z",
                "valid_until": "2030-01-01T00:00:00Z", "basis": basis })
    };
    // The leader authorises the unit head (TUQ.), with the written basis.
    let r = leader.post("/api/v1/delegations", grant(&unithead, "TUQ.", "Giấy ủy quyền số 12/GUQ-STC")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let tuq = r.json();
    assert_eq!(tuq["authority"], "by_authorisation");
    // Authorisation cannot be passed on (Art. 13.3).
    let head = app.login("a.unithead").await;
    let r = head.post("/api/v1/delegations", grant(&specialist, "TL.", "Chuyển tiếp ủy quyền")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_code(), "invalid_delegation");
    // Nobody delegates to themselves, a period must not be empty, and a basis is required.
    let r = leader.post("/api/v1/delegations", grant(&leader_id, "KT.", "Tự giao")).await;
    assert_eq!(r.error_code(), "invalid_delegation");
    let mut empty = grant(&specialist, "TL.", "Quyết định số 5/QĐ-STC");
    empty["valid_until"] = json!("2026-01-01T00:00:00Z");
    assert_eq!(leader.post("/api/v1/delegations", empty).await.error_code(), "invalid_delegation");
    assert_eq!(
        leader.post("/api/v1/delegations", grant(&specialist, "TL.", "  ")).await.error_code(),
        "field_required"
    );
    // Direct signing is nobody's to delegate.
    assert_eq!(
        leader.post("/api/v1/delegations", grant(&specialist, "direct", "x")).await.error_code(),
        "invalid_delegation"
    );
    // Only the grantor or an administrator revokes.
    let id = tuq["id"].as_str().unwrap();
    let spec = app.login("a.specialist").await;
    assert_eq!(spec.post(&format!("/api/v1/delegations/{id}/revoke"), json!({})).await.status, StatusCode::FORBIDDEN);
    let r = leader.post(&format!("/api/v1/delegations/{id}/revoke"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json()["revoked_at"].is_string());
    let r = leader.post(&format!("/api/v1/delegations/{id}/revoke"), json!({})).await;
    assert_eq!(r.error_code(), "invalid_delegation", "revoking twice");
    // The page lists it, in Vietnamese.
    let page = leader.get("/delegations").await;
    assert!(page.body.contains("Đã thu hồi") && page.body.contains("12/GUQ-STC"), "{}", page.body);
}

/// The exchange belongs to the instance: only the top-level agency's administrators see the
/// packages and retry them; a department's administrator or clerk does not.
#[tokio::test]
async fn only_the_instance_operators_see_the_exchange() {
    let app = TestApp::new().await;
    let root = app.login("root.admin").await;
    let r = root.get("/api/v1/exchange").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["stats"]["queued"], 0);
    let page = root.get("/exchange").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Liên thông văn bản") && page.body.contains("chưa cấu hình"), "{}", page.body);
    for who in ["b.admin", "a.clerk", "b.specialist"] {
        let c = app.login(who).await;
        assert_eq!(c.get("/api/v1/exchange").await.status, StatusCode::FORBIDDEN, "{who}");
        assert_eq!(c.get("/exchange").await.status, StatusCode::FORBIDDEN, "{who}");
        let r = c.post(&format!("/api/v1/exchange/outbox/{}/retry", uuid::Uuid::now_v7()), serde_json::json!({})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}");
    }
    // A row that is not failed cannot be retried.
    let r = root.post(&format!("/api/v1/exchange/outbox/{}/retry", uuid::Uuid::now_v7()), serde_json::json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.error_code(), "outbox_not_failed");
}
