//! A province with two sibling departments, users in every role, and a client that signs in
//! through the API like any other.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use vanban_domain::{Abbreviation, AgencyCode, AgencyId, AgencyLevel, AgencyName, FullName, Position, Role, Username};
use vanban_server::{AppState, ServerConfig};
use vanban_store::{Actor, AdminScope, NewAgency, NewUnit, NewUser, SqliteStore, Store};

pub const PASSWORD: &str = "mat-khau-thu-nghiem";

pub struct TestApp {
    pub router: Router,
    /// The application state behind the router (for tests that call the server's functions).
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub root: AgencyId,
    /// Sở Tài chính: the agency whose users the tests act as.
    pub a: AgencyId,
    /// Sở Nội vụ: the other agency, whose objects must stay invisible.
    pub b: AgencyId,
    _dir: tempfile::TempDir,
}

enum Backend {
    Sqlite,
    Postgres(String),
}

pub struct Response {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

async fn agency(store: &dyn Store, parent: Option<AgencyId>, code: &str, name: &str, abbr: &str) -> AgencyId {
    let new = NewAgency {
        parent_id: parent,
        code: AgencyCode::parse(code).unwrap(),
        name: AgencyName::parse(name).unwrap(),
        parent_name: None,
        abbreviation: Abbreviation::parse(abbr).unwrap(),
        level: AgencyLevel::Provincial,
        place: "Bình An".into(),
    };
    store.create_agency(&Actor::system("test"), new).await.unwrap().agency.id
}

/// A cheap hash for tests: same format, lower cost than the production parameters.
fn test_hash() -> String {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| vanban_server::auth::hash_password(PASSWORD).unwrap()).clone()
}

pub async fn user(store: &dyn Store, agency: AgencyId, username: &str, roles: &[Role]) {
    let new = NewUser {
        agency_id: agency,
        unit_id: None,
        username: Username::parse(username).unwrap(),
        full_name: FullName::parse(&format!("Nguyễn Văn {username}")).unwrap(),
        email: None,
        position: Some(
            Position::parse(if roles.contains(&Role::Leader) { "Giám đốc" } else { "Chuyên viên" }).unwrap(),
        ),
        password_hash: test_hash(),
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
    };
    store.create_user(&Actor::system("test"), &AdminScope::whole_instance(), new).await.unwrap();
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with_config(|_| {}).await
    }

    /// A test app whose server configuration the test adjusts (trust anchors, limits).
    pub async fn with_config(adjust: impl FnOnce(&mut ServerConfig)) -> TestApp {
        TestApp::build(Backend::Sqlite, adjust).await
    }

    /// A test app on PostgreSQL (a fresh database on `VANBAN_TEST_PG_URL`), or `None` when
    /// no server is configured outside CI. With `CI=true` a missing server fails the test.
    pub async fn postgres() -> Option<TestApp> {
        match std::env::var("VANBAN_TEST_PG_URL") {
            Ok(url) if !url.trim().is_empty() => Some(TestApp::build(Backend::Postgres(url), |_| {}).await),
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "VANBAN_TEST_PG_URL is not set; CI must run this test on PostgreSQL"
                );
                println!("skipped on PostgreSQL: VANBAN_TEST_PG_URL is not set");
                None
            }
        }
    }

    async fn build(backend: Backend, adjust: impl FnOnce(&mut ServerConfig)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = match backend {
            Backend::Sqlite => Arc::new(SqliteStore::open_dir(dir.path()).await.unwrap()),
            Backend::Postgres(base) => {
                use sqlx::Connection as _;
                let db = format!("vanban_it_{}", uuid::Uuid::now_v7().simple());
                let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect to PostgreSQL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&mut admin).await.unwrap();
                let (head, _) = base.rsplit_once('/').expect("a database URL");
                Arc::new(vanban_store::PgStore::connect(&format!("{head}/{db}")).await.unwrap())
            }
        };
        let s = store.as_ref();
        let root = agency(s, None, "000.00.00.H58", "Ủy ban nhân dân tỉnh Bình An", "UBND").await;
        let a = agency(s, Some(root), "000.00.01.H58", "Sở Tài chính", "STC").await;
        let b = agency(s, Some(root), "000.00.02.H58", "Sở Nội vụ", "SNV").await;
        user(s, root, "root.admin", &[Role::Admin]).await;
        for role in Role::ALL {
            user(s, a, &format!("a.{}", role.as_str().replace('_', "")), &[role]).await;
        }
        user(s, b, "b.clerk", &[Role::Clerk]).await;
        user(s, b, "b.admin", &[Role::Admin]).await;
        user(s, b, "b.specialist", &[Role::Specialist]).await;
        for (agency_id, abbr) in [(a, "VP"), (b, "TCBM")] {
            let unit = NewUnit {
                agency_id,
                parent_id: None,
                name: "Văn phòng".into(),
                abbreviation: Abbreviation::parse(abbr).unwrap(),
            };
            store.create_unit(&Actor::system("test"), &AdminScope::whole_instance(), unit).await.unwrap();
        }
        let mut config = ServerConfig { login_failure_delay: Duration::from_millis(1), ..ServerConfig::default() };
        adjust(&mut config);
        let blobs = vanban_store::BlobStore::local(&dir.path().join("blobs")).unwrap();
        let state = AppState::new(store.clone(), blobs, config);
        let router = vanban_server::router(state.clone());
        TestApp { router, state, store, root, a, b, _dir: dir }
    }

    pub async fn request(&self, req: Request<Body>) -> Response {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Response { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// Signs in through the API and returns a client carrying the session.
    pub async fn login(&self, username: &str) -> Client<'_> {
        let body = serde_json::json!({ "username": username, "password": PASSWORD }).to_string();
        let req = Request::post("/api/v1/session")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let resp = self.request(req).await;
        assert_eq!(resp.status, StatusCode::OK, "login of {username} failed: {}", resp.body);
        let cookie = resp
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("vanban_session="))
            .and_then(|v| v.split(';').next())
            .unwrap()
            .to_owned();
        let csrf = resp.json()["csrf_token"].as_str().unwrap().to_owned();
        Client { app: self, cookie, csrf }
    }
}

pub struct Client<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
}

impl Client<'_> {
    pub async fn send(&self, method: Method, path: &str, body: Option<serde_json::Value>) -> Response {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf);
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.app.request(req.body(body).unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None).await
    }

    /// A GET as htmx sends it (it asks for a fragment).
    pub async fn get_hx(&self, path: &str) -> Response {
        let req = Request::get(path).header(header::COOKIE, &self.cookie).header("hx-request", "true");
        self.app.request(req.body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Response {
        self.send(Method::POST, path, Some(body)).await
    }

    /// A urlencoded form POST, as a browser sends it.
    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Response {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        let req = Request::post(path)
            .header(header::COOKIE, &self.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.app.request(req).await
    }
}

/// Creates a draft as a specialist of agency A and returns its id.
pub async fn draft(client: &Client<'_>, subject: &str) -> String {
    let r = client.post("/api/v1/documents", serde_json::json!({ "doc_type": "cong_van", "subject": subject })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_owned()
}

/// A short, valid draft content (a công văn of agency A).
pub fn draft_content(subject: &str) -> serde_json::Value {
    serde_json::json!({
        "subject": subject,
        "unit_abbreviation": "VP",
        "addressees": ["Các phòng, ban thuộc Sở"],
        "body": ["Đề nghị các phòng, ban thực hiện."],
        "recipients": ["Như trên;"],
        "archive_units": ["VP"],
        "signer": { "authority": "KT.", "head_title": "Giám đốc", "position": "Phó Giám đốc", "full_name": "Nguyễn Văn Leader" }
    })
}

/// Creates a draft as [`draft`] does and saves its first version: a draft with content,
/// which can go to review.
pub async fn draft_with_content(client: &Client<'_>, subject: &str) -> String {
    let id = draft(client, subject).await;
    let content = draft_content(subject);
    let r = client.post(&format!("/api/v1/documents/{id}/versions"), serde_json::json!({ "content": content })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    id
}

/// A leader in agency B (created on demand by the tests that need one).
pub async fn user_in_b_leader(app: &TestApp) {
    user(app.store.as_ref(), app.b, "b.leader", &[Role::Leader]).await;
}
