//! The Vietnamese pages: server-rendered askama templates, htmx for small swaps. Each form
//! carries the session's CSRF token; each page is built from the caller's scope only.

use std::str::FromStr;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use vanban_domain::{AgencyId, DocumentType, OutgoingAction, OutgoingState, Permission, Priority, Role};

use crate::AppState;
use crate::api::{self, AgencyInput, DraftInput, TransitionBody, UnitInput, UserInput};
use crate::auth::{self, PageSession, Session};
use crate::drafting::DraftContent;
use crate::error::{AppError, PageError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login_submit))
        .route("/logout", post(logout))
        .route("/agencies", get(agencies).post(agencies_create))
        .route("/agencies/{id}/units", post(units_create))
        .route("/agencies/{id}/edit", post(agency_edit))
        .route("/users", get(users).post(users_create))
        .route("/users/{id}/{action}", post(users_manage))
        .route("/documents", get(documents).post(documents_create))
        .route("/documents/{id}", get(document))
        .route("/documents/{id}/transition", post(document_transition))
        .route("/documents/{id}/versions", post(document_save_version))
        .route("/documents/{id}/preview", post(document_preview))
        .route("/documents/{id}/versions/{n}/pdf", get(document_version_pdf))
        .route("/documents/{id}/comments", post(document_comment))
        .route("/documents/{id}/submit", post(document_submit))
        .route("/documents/{id}/review", post(document_review))
        .route("/reviews", get(reviews))
        .route("/documents/{id}/files/{file}", get(document_file))
        .route("/delegations", get(delegations).post(delegations_create))
        .route("/delegations/{id}/revoke", post(delegations_revoke))
        .route("/audit", get(audit))
}

/// Vietnam time (UTC+07:00), the zone of every date shown to people.
pub fn vn_offset() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+07:00 is a valid offset")
}

/// "dd/mm/yyyy HH:MM" in Vietnam time.
pub fn format_vn_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&vn_offset()).format("%d/%m/%Y %H:%M").to_string()
}

/// As [`format_vn_time`], to the second (when a signature was made).
pub fn format_vn_seconds(t: DateTime<Utc>) -> String {
    t.with_timezone(&vn_offset()).format("%d/%m/%Y %H:%M:%S").to_string()
}

/// A page form: urlencoded pairs, repeated keys kept (checkbox lists).
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim().to_owned()).filter(|v| !v.is_empty())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::BadRequest(r.body_text())
            }
        })?;
        let pairs = form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), vanban_domain::nfc(&v))).collect();
        Ok(FormData(pairs))
    }
}

/// What the page frame shows about the signed-in user.
pub struct Nav {
    pub user_name: String,
    pub agency_name: String,
    pub csrf: String,
    pub is_admin: bool,
    /// What the menu offers: only the pages the user may open.
    pub can_issue: bool,
    pub can_registers: bool,
    pub can_audit: bool,
    /// The exchange's operators: the top-level agency's administrators.
    pub is_operator: bool,
}

impl Nav {
    pub(crate) fn of(s: &Session) -> Self {
        let has = |p| s.caller.has(p);
        Nav {
            user_name: s.user.user.full_name.as_str().to_owned(),
            agency_name: s.agency.agency.name.as_str().to_owned(),
            csrf: s.csrf_token.clone(),
            is_admin: has(Permission::ManageUsers),
            can_issue: has(Permission::IssueDocument),
            // As `incoming::register_report` allows.
            can_registers: has(Permission::IssueDocument)
                || has(Permission::RegisterIncoming)
                || has(Permission::ApproveDraft)
                || has(Permission::ManageArchive),
            can_audit: has(Permission::ViewAudit),
            is_operator: has(Permission::ManageUsers) && s.agency.agency.parent_id.is_none(),
        }
    }
}

/// A one-line message above the page content.
pub struct Notice {
    pub kind: &'static str,
    pub text: String,
}

impl Notice {
    /// The confirmation named by `?done=…` after a successful form (post/redirect/get, so a
    /// reload never submits twice).
    pub(crate) fn done(code: Option<&str>) -> Option<Notice> {
        let text = match code? {
            "agency_created" => "Đã thêm cơ quan.",
            "outbox_retried" => "Đã đưa gói tin trở lại hàng đợi gửi.",
            "agency_updated" => "Đã cập nhật thông tin cơ quan; văn bản dựng từ nay dùng thông tin mới.",
            "unit_created" => "Đã thêm đơn vị.",
            "user_created" => "Đã thêm cán bộ.",
            "password_reset" => "Đã đặt lại mật khẩu.",
            "roles_updated" => "Đã cập nhật vai trò.",
            "user_deactivated" => "Đã khóa tài khoản; các phiên đăng nhập của tài khoản đã bị hủy.",
            "user_activated" => "Đã mở khóa tài khoản.",
            "document_updated" => "Đã cập nhật trạng thái văn bản.",
            "delegation_created" => "Đã giao quyền ký.",
            "version_saved" => "Đã lưu phiên bản mới của dự thảo.",
            "comment_added" => "Đã gửi ý kiến.",
            "submitted" => "Đã trình dự thảo.",
            "uploaded" => "Đã tải lên và chuyển đổi dự thảo sang PDF.",
            "review_recorded" => "Đã ghi nhận ý kiến thẩm định.",
            "delegation_revoked" => "Đã thu hồi quyền ký đã giao.",
            "signed" => "Đã ký số văn bản.",
            "issued" => "Đã cấp số, đóng dấu số và ban hành văn bản; văn bản đã được gửi tới nơi nhận.",
            "registered" => "Đã vào sổ văn bản đến; cơ quan gửi đã được báo \"Đã tiếp nhận\".",
            "returned" => "Đã trả lại văn bản; cơ quan gửi đã được báo lý do.",
            "assigned" => "Đã phân công xử lý.",
            "started" => "Đã chuyển sang \"Đang xử lý\".",
            "forwarded" => "Đã chuyển xử lý chính cho cán bộ khác.",
            "finished" => "Đã hoàn thành xử lý; cơ quan gửi đã được báo \"Hoàn thành\".",
            "change_requested" => "Đã gửi yêu cầu tới các nơi nhận.",
            "change_answered" => "Đã trả lời yêu cầu của cơ quan gửi.",
            "scanned" => "Đã lưu bản quét, nhận dạng chữ và ký số bản số hóa.",
            "notifications_read" => "Đã đánh dấu đã đọc.",
            "register_created" => "Đã thêm sổ.",
            _ => return None,
        };
        Some(Notice { kind: "ok", text: text.to_owned() })
    }
    fn error(e: &AppError) -> Option<Notice> {
        Some(Notice { kind: "error", text: e.message_vi() })
    }
}

/// Renders a page template with a status.
pub(crate) fn render_page<T: Template>(status: StatusCode, t: &T) -> Result<Response, PageError> {
    render(status, t)
}

/// [`rerender`] for other modules.
pub(crate) async fn rerender_with<F, Fut>(e: AppError, page: F) -> Result<Response, PageError>
where
    F: FnOnce(Option<Notice>) -> Fut,
    Fut: std::future::Future<Output = Result<Response, PageError>>,
{
    rerender(e, page).await
}

fn render<T: Template>(status: StatusCode, t: &T) -> Result<Response, PageError> {
    let html = t.render().map_err(|e| AppError::Internal(format!("template: {e}")))?;
    Ok((status, Html(html)).into_response())
}

/// Renders a page after a failed form: the same page, the error on top, the error's status.
async fn rerender<F, Fut>(e: AppError, page: F) -> Result<Response, PageError>
where
    F: FnOnce(Option<Notice>) -> Fut,
    Fut: std::future::Future<Output = Result<Response, PageError>>,
{
    if matches!(e, AppError::Csrf | AppError::Unauthenticated) || e.status().is_server_error() {
        return Err(PageError(e));
    }
    let status = e.status();
    let mut resp = page(Notice::error(&e)).await?;
    *resp.status_mut() = status;
    Ok(resp)
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    error: Option<String>,
    username: String,
}

async fn login_form(State(state): State<AppState>) -> Result<Response, PageError> {
    login_page(&state, StatusCode::OK, None, String::new())
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    username: String,
) -> Result<Response, PageError> {
    let csrf = auth::random_token();
    let cookie = auth::set_cookie(state, auth::LOGIN_CSRF_COOKIE, &csrf, 3600);
    let mut resp = render(status, &LoginPage { csrf, error, username })?;
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}

async fn login_submit(
    State(state): State<AppState>,
    auth::ClientIp(ip): auth::ClientIp,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, PageError> {
    // Login CSRF: the form must echo the random value this browser got as a cookie.
    let expected = auth::cookie_value(&headers, auth::LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !auth::constant_time_eq(expected, form.get("csrf")) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some(AppError::Csrf.message_vi()),
            form.get("username").to_owned(),
        );
    }
    match auth::login(&state, form.get("username"), form.get("password"), ip).await {
        Ok((token, _)) => {
            let cookie = auth::set_cookie(&state, auth::SESSION_COOKIE, &token, state.config.session_ttl.num_seconds());
            let clear = auth::set_cookie(&state, auth::LOGIN_CSRF_COOKIE, "", 0);
            let mut resp = Redirect::to("/").into_response();
            resp.headers_mut().append(header::SET_COOKIE, cookie);
            resp.headers_mut().append(header::SET_COOKIE, clear);
            Ok(resp)
        }
        Err(e) if e.status().is_client_error() => {
            login_page(&state, e.status(), Some(e.message_vi()), form.get("username").to_owned())
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    state.store.delete_session(&s.token_hash).await?;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(header::SET_COOKIE, auth::set_cookie(&state, auth::SESSION_COOKIE, "", 0));
    Ok(resp)
}

/// An agency as the pages show it.
struct AgencyView {
    name: String,
    parent_name: Option<String>,
    code: String,
    level: &'static str,
    abbreviation: String,
    place: String,
}

impl AgencyView {
    fn of(a: &vanban_domain::Agency) -> Self {
        AgencyView {
            name: a.name.as_str().to_owned(),
            parent_name: a.parent_name.as_ref().map(|n| n.as_str().to_owned()),
            code: a.code.as_str().to_owned(),
            level: a.level.label_vi(),
            abbreviation: a.abbreviation.as_str().to_owned(),
            place: a.place.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    notice: Option<Notice>,
    agency_id: String,
    can_edit_agency: bool,
    agency: AgencyView,
    position: Option<String>,
    roles: Vec<&'static str>,
    /// (state code, Vietnamese label, count)
    counts: Vec<(String, &'static str, i64)>,
    /// What waits on this user: (what, how many, where to do it).
    todo: Vec<(&'static str, String, &'static str)>,
}

/// What waits on the user, by their permissions: arrivals to register, to assign, in hand,
/// overdue; signed documents to issue; drafts to approve or sign.
async fn todo_of(
    state: &AppState,
    s: &Session,
    counts: &[vanban_store::StateCount],
) -> Result<Vec<(&'static str, String, &'static str)>, AppError> {
    use vanban_domain::IncomingState;
    use vanban_store::IncomingFilter;
    // Counted by listing, at most this many of each ("100+"): the home page is opened often,
    // and a count beyond that tells a person nothing more.
    const LIMIT: i64 = 100;
    let has = |p| s.caller.has(p);
    let mut out = Vec::new();
    let shown = |n: usize| if n as i64 >= LIMIT { format!("{LIMIT}+") } else { n.to_string() };
    let outgoing = |st: OutgoingState| counts.iter().find(|c| c.state == st.as_str()).map_or(0, |c| c.count);
    let mut incoming = Vec::new();
    if has(Permission::RegisterIncoming) {
        incoming.push(("Văn bản đến chờ vào sổ", "/incoming?f=arrived", vec![IncomingState::Arrived], false));
    }
    if has(Permission::AssignHandling) {
        incoming.push(("Văn bản đến chờ phân công", "/incoming?f=registered", vec![IncomingState::Registered], false));
    }
    if has(Permission::HandleDocument) || has(Permission::AssignHandling) {
        let working = vec![IncomingState::Assigned, IncomingState::InProgress];
        incoming.push(("Văn bản đến đang xử lý", "/incoming?f=working", working, false));
        incoming.push(("Văn bản đến quá hạn xử lý", "/incoming?f=overdue", Vec::new(), true));
    }
    for (what, href, states, overdue) in incoming {
        let f = IncomingFilter {
            states,
            overdue_on: overdue.then(crate::drafting::today_vn),
            limit: LIMIT,
            ..Default::default()
        };
        let n = state.store.list_incoming(&s.scope(), crate::incoming::visibility(s), f).await?.len();
        if n > 0 {
            out.push((what, shown(n), href));
        }
    }
    if has(Permission::IssueDocument) {
        let n = outgoing(OutgoingState::Signed) + outgoing(OutgoingState::Numbered);
        if n > 0 {
            out.push(("Văn bản chờ cấp số, ban hành", n.to_string(), "/issuing"));
        }
    }
    if has(Permission::ApproveDraft) && outgoing(OutgoingState::InReview) > 0 {
        out.push(("Dự thảo chờ duyệt", outgoing(OutgoingState::InReview).to_string(), "/documents?state=in_review"));
    }
    if has(Permission::SignDocument) && outgoing(OutgoingState::Approved) > 0 {
        out.push((
            "Văn bản đã duyệt, chờ ký số",
            outgoing(OutgoingState::Approved).to_string(),
            "/documents?state=approved",
        ));
    }
    Ok(out)
}

fn state_label(state: &str) -> &'static str {
    OutgoingState::from_str(state).map(|s| s.label_vi()).unwrap_or("Khác")
}

async fn home(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let counts = state.store.count_by_state(&s.scope()).await?;
    let todo = todo_of(&state, &s, &counts).await?;
    let page = HomePage {
        nav: Nav::of(&s),
        notice: Notice::done(q.done.as_deref()),
        agency_id: s.agency.agency.id.to_string(),
        can_edit_agency: s.caller.has(Permission::ManageAgencies),
        agency: AgencyView::of(&s.agency.agency),
        position: s.user.user.position.as_ref().map(|p| p.as_str().to_owned()),
        roles: s.caller.roles.iter().map(|r| r.label_vi()).collect(),
        counts: counts
            .into_iter()
            .map(|c| {
                let l = state_label(&c.state);
                (c.state, l, c.count)
            })
            .collect(),
        todo,
    };
    render(StatusCode::OK, &page)
}

struct AgencyRow {
    depth: usize,
    name: String,
    code: String,
    abbreviation: String,
    level: &'static str,
}

#[derive(Template)]
#[template(path = "agencies.html")]
struct AgenciesPage {
    nav: Nav,
    notice: Option<Notice>,
    q: String,
    total: usize,
    rows: Vec<AgencyRow>,
    can_create: bool,
    /// (id, name) of agencies the administrator may add children to.
    parents: Vec<(String, String)>,
}

/// The directory table alone, for htmx to swap in as the user types.
#[derive(Template)]
#[template(path = "agencies_table.html")]
struct AgenciesTable {
    q: String,
    total: usize,
    rows: Vec<AgencyRow>,
}

/// Whether an agency matches a directory search: its name or abbreviation with or without
/// diacritics (NFC, đ = d), or its code.
fn agency_matches(a: &vanban_domain::Agency, folded_query: &str, upper_query: &str) -> bool {
    folded_query.is_empty()
        || vanban_domain::fold_vi(a.name.as_str()).contains(folded_query)
        || vanban_domain::fold_vi(a.abbreviation.as_str()).contains(folded_query)
        || a.code.as_str().contains(upper_query)
}

#[derive(Deserialize, Default)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    done: Option<String>,
}

/// `?done=…` on pages that a form redirects back to.
#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

pub(crate) fn redirect_done(path: &str, code: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}done={code}")).into_response()
}

async fn agencies_page(
    state: &AppState,
    s: &Session,
    q: &str,
    partial: bool,
    notice: Option<Notice>,
) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewAgency)?;
    let all = state.store.list_agencies().await?;
    let q = vanban_domain::nfc(q.trim());
    let (folded, upper) = (vanban_domain::fold_vi(&q), q.to_uppercase());
    let scope =
        if s.caller.has(Permission::ManageAgencies) { state.store.admin_scope(&s.caller).await.ok() } else { None };
    let parents = match &scope {
        Some(sc) => all
            .iter()
            .filter(|a| sc.covers_path(&a.path))
            .map(|a| (a.agency.id.to_string(), a.agency.name.as_str().to_owned()))
            .collect(),
        None => Vec::new(),
    };
    let rows: Vec<AgencyRow> = all
        .iter()
        .filter(|a| agency_matches(&a.agency, &folded, &upper))
        .map(|a| AgencyRow {
            depth: a.path.matches('/').count().saturating_sub(2) * 2,
            name: a.agency.name.as_str().to_owned(),
            code: a.agency.code.as_str().to_owned(),
            abbreviation: a.agency.abbreviation.as_str().to_owned(),
            level: a.agency.level.label_vi(),
        })
        .collect();
    let total = all.len();
    if partial {
        return render(StatusCode::OK, &AgenciesTable { q, total, rows });
    }
    render(
        StatusCode::OK,
        &AgenciesPage { nav: Nav::of(s), notice, q, total, rows, can_create: scope.is_some(), parents },
    )
}

async fn agencies(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Query(search): Query<SearchQuery>,
) -> Result<Response, PageError> {
    // htmx asks for the table alone (but a history restore wants the whole page).
    let partial = headers.contains_key("hx-request") && !headers.contains_key("hx-history-restore-request");
    agencies_page(&state, &s, &search.q, partial, Notice::done(search.done.as_deref())).await
}

async fn agencies_create(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let input = AgencyInput {
        parent_id: form.get("parent_id").to_owned(),
        code: form.get("code").to_owned(),
        name: form.get("name").to_owned(),
        parent_name: form.opt("parent_name"),
        abbreviation: form.get("abbreviation").to_owned(),
        level: form.get("level").to_owned(),
        place: form.get("place").to_owned(),
    };
    match api::create_agency_as(&state, &s, &input).await {
        Ok(_) => Ok(redirect_done("/agencies", "agency_created")),
        Err(e) => rerender(e, |n| agencies_page(&state, &s, "", false, n)).await,
    }
}

async fn units_create(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let agency: AgencyId = api::parse_id(&id)?;
    let input = UnitInput {
        name: form.get("name").to_owned(),
        abbreviation: form.get("abbreviation").to_owned(),
        parent_id: form.opt("parent_id"),
    };
    match api::create_unit_as(&state, &s, agency, &input).await {
        Ok(_) => Ok(redirect_done(&format!("/users?agency={agency}"), "unit_created")),
        Err(e) => rerender(e, |n| users_page(&state, &s, Some(agency), n)).await,
    }
}

struct UserRow {
    id: String,
    full_name: String,
    username: String,
    position: String,
    active: bool,
    roles: Vec<&'static str>,
    /// (role code, label, held) for the administrator's role editor.
    role_checks: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Nav,
    notice: Option<Notice>,
    agency_id: String,
    agency_name: String,
    users: Vec<UserRow>,
    /// (id, name, selected) of agencies within the administrator's reach.
    agencies: Vec<(String, String, bool)>,
    all_roles: Vec<(&'static str, &'static str)>,
    /// (id, name, abbreviation) of the agency's units.
    units: Vec<(String, String, String)>,
}

#[derive(Deserialize)]
struct AgencyQuery {
    agency: Option<String>,
    done: Option<String>,
}

async fn users_page(
    state: &AppState,
    s: &Session,
    agency: Option<AgencyId>,
    notice: Option<Notice>,
) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewAgency)?;
    let admin =
        if s.caller.has(Permission::ManageUsers) { Some(state.store.admin_scope(&s.caller).await?) } else { None };
    let target = agency.unwrap_or(s.caller.agency_id);
    let list = match (&admin, target == s.caller.agency_id) {
        (_, true) => state.store.list_users(&s.scope()).await?,
        (Some(sc), false) => state.store.list_users_admin(sc, target).await?,
        (None, false) => return Err(AppError::Store(vanban_store::StoreError::NotFound).into()),
    };
    let agencies = match &admin {
        Some(sc) => state
            .store
            .list_agencies()
            .await?
            .into_iter()
            .filter(|a| sc.covers_path(&a.path))
            .map(|a| (a.agency.id.to_string(), a.agency.name.as_str().to_owned(), a.agency.id == target))
            .collect(),
        None => Vec::new(),
    };
    let agency_name = state.store.get_agency(target).await?.agency.name.as_str().to_owned();
    let units = match &admin {
        Some(sc) => state.store.list_units_admin(sc, target).await?,
        None => state.store.list_units(&s.scope()).await?,
    };
    let units = units.into_iter().map(|u| (u.id.to_string(), u.name, u.abbreviation.as_str().to_owned())).collect();
    let users = list
        .into_iter()
        .map(|u| UserRow {
            id: u.user.id.to_string(),
            full_name: u.user.full_name.as_str().to_owned(),
            username: u.user.username.as_str().to_owned(),
            position: u.user.position.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
            active: u.user.active,
            roles: u.roles.iter().map(|r| r.label_vi()).collect(),
            role_checks: Role::ALL.iter().map(|r| (r.as_str(), r.label_vi(), u.roles.contains(r))).collect(),
        })
        .collect();
    let all_roles = Role::ALL.iter().map(|r| (r.as_str(), r.label_vi())).collect();
    render(
        StatusCode::OK,
        &UsersPage {
            nav: Nav::of(s),
            notice,
            agency_id: target.to_string(),
            agency_name,
            users,
            agencies,
            all_roles,
            units,
        },
    )
}

async fn users(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let agency = q.agency.as_deref().filter(|a| !a.is_empty()).map(api::parse_id::<AgencyId>).transpose()?;
    users_page(&state, &s, agency, Notice::done(q.done.as_deref())).await
}

async fn users_create(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let input = UserInput {
        agency_id: form.opt("agency_id"),
        unit_id: form.opt("unit_id"),
        username: form.get("username").to_owned(),
        full_name: form.get("full_name").to_owned(),
        email: form.opt("email"),
        position: form.opt("position"),
        password: form.get("password").to_owned(),
        roles: form.all("roles"),
    };
    let agency = input.agency_id.as_deref().and_then(|a| a.parse::<AgencyId>().ok());
    match api::create_user_as(&state, &s, &input).await {
        Ok(u) => Ok(redirect_done(&format!("/users?agency={}", u.user.agency_id), "user_created")),
        Err(e) => rerender(e, |n| users_page(&state, &s, agency, n)).await,
    }
}

/// The administrator's actions on one user: `roles`, `active` or `password`.
async fn users_manage(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path((id, action)): Path<(String, String)>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let id: vanban_domain::UserId = api::parse_id(&id)?;
    let result = match action.as_str() {
        "roles" => api::set_roles_as(&state, &s, id, &form.all("roles")).await.map(|()| "roles_updated"),
        "active" => {
            let active = form.get("active") == "true";
            let done = if active { "user_activated" } else { "user_deactivated" };
            api::set_active_as(&state, &s, id, active).await.map(|()| done)
        }
        "password" => api::reset_password_as(&state, &s, id, form.get("password")).await.map(|()| "password_reset"),
        _ => Err(AppError::Store(vanban_store::StoreError::NotFound)),
    };
    match result {
        Ok(done) => {
            let back = form.opt("agency").map(|a| format!("/users?agency={a}")).unwrap_or_else(|| "/users".into());
            Ok(redirect_done(&back, done))
        }
        Err(e) => rerender(e, |n| users_page(&state, &s, None, n)).await,
    }
}

struct DocRow {
    id: String,
    /// "15/QĐ-UBND, 05/12/2026" once numbered.
    number: String,
    doc_type: &'static str,
    subject: String,
    priority: &'static str,
    urgent: bool,
    state: &'static str,
    updated: String,
}

impl DocRow {
    fn of(d: &vanban_store::DocumentRecord) -> Self {
        let p = priority_of(d);
        DocRow {
            id: d.id.to_string(),
            number: String::new(),
            doc_type: d.doc_type.name_vi(),
            subject: d.subject.clone(),
            priority: p.label_vi(),
            urgent: p.is_urgent(),
            state: state_label(&d.state),
            updated: format_vn_time(d.updated_at),
        }
    }
}

#[derive(Template)]
#[template(path = "documents.html")]
struct DocumentsPage {
    nav: Nav,
    notice: Option<Notice>,
    state_label: Option<&'static str>,
    docs: Vec<DocRow>,
    can_draft: bool,
    types: Vec<(&'static str, &'static str)>,
    priorities: Vec<(u8, &'static str)>,
}

fn priority_of(d: &vanban_store::DocumentRecord) -> Priority {
    d.metadata.get("priority").and_then(|p| serde_json::from_value(p.clone()).ok()).unwrap_or(Priority::Normal)
}

#[derive(Deserialize)]
struct StateQuery {
    state: Option<String>,
}

async fn documents_page(
    state: &AppState,
    s: &Session,
    filter: Option<String>,
    notice: Option<Notice>,
) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewDocuments)?;
    let list = state.store.list_documents(&s.scope(), filter.as_deref(), 200).await?;
    let ids: Vec<_> = list.iter().map(|d| d.id).collect();
    let numbers: std::collections::HashMap<_, _> = state
        .store
        .outgoing_entries_of(&s.scope(), &ids)
        .await?
        .into_iter()
        .map(|e| (e.document_id, format!("{}, {}", e.symbol, e.issued_on.format("%d/%m/%Y"))))
        .collect();
    let docs = list
        .iter()
        .map(|d| DocRow { number: numbers.get(&d.id).cloned().unwrap_or_default(), ..DocRow::of(d) })
        .collect();
    let page = DocumentsPage {
        nav: Nav::of(s),
        notice,
        state_label: filter.as_deref().map(state_label),
        docs,
        can_draft: s.caller.has(Permission::CreateDraft),
        types: DocumentType::ALL.iter().map(|t| (t.as_str(), t.name_vi())).collect(),
        priorities: [Priority::Normal, Priority::Urgent, Priority::VeryUrgent, Priority::Flash]
            .iter()
            .map(|p| (p.code(), p.label_vi()))
            .collect(),
    };
    render(StatusCode::OK, &page)
}

async fn documents(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Query(q): Query<StateQuery>,
) -> Result<Response, PageError> {
    documents_page(&state, &s, q.state.filter(|s| !s.is_empty()), None).await
}

async fn documents_create(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let due_date = match form.opt("due_date") {
        Some(d) => Some(chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
            AppError::from(vanban_domain::DomainError::InvalidValue { field: "DueDate", reason: "not a date" })
        })?),
        None => None,
    };
    let input = DraftInput {
        doc_type: form.get("doc_type").to_owned(),
        subject: form.get("subject").to_owned(),
        description: form.opt("description"),
        priority: form.opt("priority").and_then(|p| p.parse().ok()),
        due_date,
        recipients: Vec::new(),
    };
    match api::create_draft_as(&state, &s, &input).await {
        Ok(d) => Ok(Redirect::to(&format!("/documents/{}", d.id)).into_response()),
        Err(e) => rerender(e, |n| documents_page(&state, &s, None, n)).await,
    }
}

#[derive(Template)]
#[template(path = "document.html")]
struct DocumentPage {
    nav: Nav,
    notice: Option<Notice>,
    id: String,
    doc_type: &'static str,
    subject: String,
    state: &'static str,
    priority: &'static str,
    organ_name: String,
    created: String,
    updated: String,
    /// (number and symbol, issue date) once the document is numbered.
    number: Option<(String, String)>,
    /// The reply date asked of the recipients (Appendix VI's due date), dd/mm/yyyy.
    due: String,
    /// Issued: the sender's view of its recipients is open.
    tracked: bool,
    /// Comments are taken while the draft is being written, reviewed or approved.
    can_comment: bool,
    /// (action code, button label, needs a reason)
    actions: Vec<(&'static str, &'static str, bool)>,
    versions: Vec<VersionRow>,
    latest: Option<i32>,
    comments: Vec<CommentRow>,
    can_edit: bool,
    editor: EditorView,
    /// (user id, "Name — Position", chosen before) of the agency's leaders, for the signer.
    signers: Vec<(String, String, bool)>,
    authorities: Vec<(&'static str, String)>,
    can_submit: bool,
    /// (user id, "Name — Position") of colleagues who review drafts.
    reviewer_choices: Vec<(String, String)>,
    steps: Vec<StepRow>,
    my_turn: bool,
    files: Vec<FileRow>,
}

struct FileRow {
    id: String,
    kind: &'static str,
    name: String,
    size_kb: i64,
    issues: Vec<String>,
}

struct StepRow {
    round: i32,
    reviewer: String,
    mode: &'static str,
    state: &'static str,
    initialled: bool,
    reason: String,
    at: String,
}

struct VersionRow {
    version: i32,
    author: String,
    at: String,
    note: String,
    /// (field label, "+"/"−", text) compared with the previous version.
    changes: Vec<(&'static str, &'static str, String)>,
}

fn field_label(field: &str) -> &'static str {
    match field {
        "subject" => "Trích yếu",
        "addressees" => "Kính gửi",
        "body" => "Nội dung",
        "recipients" => "Nơi nhận",
        "archive_units" => "Lưu",
        _ => "Người ký",
    }
}

struct CommentRow {
    version: i32,
    author: String,
    at: String,
    body: String,
}

/// The editor's fields, filled from the latest version.
#[derive(Default)]
struct EditorView {
    subject: String,
    addressees: String,
    body: String,
    recipients: String,
    archive_units: String,
    appendices: String,
    unit_abbreviation: String,
    head_title: String,
    signer_name: String,
    /// The signer picked on a form that failed (their id), chosen over `signer_name`.
    signer_user: String,
    authority: String,
}

impl EditorView {
    /// What the user typed, to show again when saving it failed.
    fn from_form(form: &FormData) -> EditorView {
        EditorView {
            subject: form.get("subject").to_owned(),
            addressees: form.get("addressees").to_owned(),
            body: form.get("body").to_owned(),
            recipients: form.get("recipients").to_owned(),
            archive_units: form.get("archive_units").to_owned(),
            appendices: form.get("appendices").to_owned(),
            unit_abbreviation: form.get("unit_abbreviation").to_owned(),
            head_title: form.get("head_title").to_owned(),
            signer_name: String::new(),
            signer_user: form.get("signer_user").to_owned(),
            authority: form.get("authority").to_owned(),
        }
    }
}

fn action_label(a: OutgoingAction) -> &'static str {
    match a {
        OutgoingAction::SubmitForReview => "Trình duyệt",
        OutgoingAction::ReturnToDrafter => "Trả lại",
        OutgoingAction::Approve => "Duyệt",
        _ => "",
    }
}

async fn document_page(state: &AppState, s: &Session, id: &str, notice: Option<Notice>) -> Result<Response, PageError> {
    document_page_with(state, s, id, notice, None).await
}

/// The document page; with `typed`, the editor shows that instead of the latest version.
async fn document_page_with(
    state: &AppState,
    s: &Session,
    id: &str,
    notice: Option<Notice>,
    typed: Option<EditorView>,
) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewDocuments)?;
    let id = api::parse_id(id)?;
    let d = state.store.get_document(&s.scope(), id).await?;
    let current = OutgoingState::from_str(&d.state).ok();
    let can_submit = s.caller.has(Permission::CreateDraft) && current == Some(OutgoingState::Draft);
    let actions = api::DIRECT_ACTIONS
        .iter()
        .filter(|a| **a != OutgoingAction::SubmitForReview)
        .filter(|a| s.caller.has(a.required_permission()) && current.is_some_and(|c| c.apply(**a).is_ok()))
        .map(|a| (a.as_str(), action_label(*a), *a == OutgoingAction::ReturnToDrafter))
        .collect();
    let p = priority_of(&d);
    // A numbered document shows its number and date, and links to where it went.
    let entry = match current {
        Some(OutgoingState::Numbered | OutgoingState::Issued | OutgoingState::Delivered | OutgoingState::Revoked) => {
            state.store.get_outgoing_entry(&s.scope(), id).await?
        }
        _ => None,
    };
    let number = entry.as_ref().map(|e| (e.symbol.clone(), e.issued_on.format("%d/%m/%Y").to_string()));
    let tracked = entry.is_some_and(|e| e.state == "issued");
    let versions = state.store.list_versions(&s.scope(), id).await?;
    let latest = versions.last().map(|v| v.version);
    let latest_content = versions.last().map(|v| serde_json::from_value::<DraftContent>(v.content.clone()));
    let editor = match (typed, latest_content) {
        (Some(typed), _) => typed,
        (None, Some(Ok(c))) => EditorView {
            subject: c.subject.clone(),
            addressees: c.addressees.join("\n"),
            body: crate::drafting::text_from_body(&c.body),
            recipients: c.recipients.join("\n"),
            archive_units: c.archive_units.join(", "),
            appendices: crate::drafting::text_from_appendices(&c.appendices),
            unit_abbreviation: c.unit_abbreviation.clone().unwrap_or_default(),
            head_title: c.signer.as_ref().and_then(|x| x.head_title.clone()).unwrap_or_default(),
            signer_name: c.signer.as_ref().map(|x| x.full_name.clone()).unwrap_or_default(),
            authority: c.signer.as_ref().map(|x| x.authority.clone()).unwrap_or_default(),
            signer_user: String::new(),
        },
        (None, _) => EditorView { subject: d.subject.clone(), ..EditorView::default() },
    };
    let can_edit = s.caller.has(Permission::CreateDraft) && current == Some(OutgoingState::Draft);
    let signers = if can_edit {
        state
            .store
            .list_users(&s.scope())
            .await?
            .into_iter()
            .filter(|u| u.roles.contains(&Role::Leader) && u.user.active)
            .map(|u| {
                let pos = u.user.position.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default();
                let chosen = match editor.signer_user.as_str() {
                    "" => u.user.full_name.as_str() == editor.signer_name,
                    picked => u.user.id.to_string() == picked,
                };
                (u.user.id.to_string(), format!("{} — {pos}", u.user.full_name), chosen)
            })
            .collect()
    } else {
        Vec::new()
    };
    let authorities = vanban_domain::SigningAuthority::ALL
        .iter()
        .map(|a| (a.as_str(), format!("{} {}", a.prefix().unwrap_or(""), a.label_vi()).trim().to_owned()))
        .collect();
    let comments = state
        .store
        .list_comments(&s.scope(), id)
        .await?
        .into_iter()
        .map(|c| CommentRow {
            version: c.version,
            author: c.author_name,
            at: format_vn_time(c.created_at),
            body: c.body,
        })
        .collect();
    let all_steps = state.store.review_steps(&s.scope(), id).await?;
    // Whose turn it is follows from the current round's steps (the domain decides).
    let my_turn = current == Some(OutgoingState::InReview) && {
        let last_round = all_steps.iter().map(|st| st.round).max();
        let round: Vec<_> = all_steps.iter().filter(|st| Some(st.round) == last_round).collect();
        let domain: Vec<vanban_domain::ReviewStep> = round.iter().map(|st| st.domain()).collect();
        round
            .first()
            .is_some_and(|first| vanban_domain::review::waiting_on(first.mode, &domain).contains(&s.caller.user_id))
    };
    let steps = all_steps
        .into_iter()
        .map(|st| StepRow {
            round: st.round,
            reviewer: st.reviewer_name,
            mode: if st.mode == vanban_domain::ReviewMode::Sequential { "Lần lượt" } else { "Đồng thời" },
            state: match st.state {
                vanban_domain::StepState::Pending => "Chờ ý kiến",
                vanban_domain::StepState::Approved => "Đồng ý",
                vanban_domain::StepState::Returned => "Trả lại",
                vanban_domain::StepState::Cancelled => "Không cần nữa",
            },
            initialled: st.initialled,
            reason: st.reason.unwrap_or_default(),
            at: st.acted_at.map(format_vn_time).unwrap_or_default(),
        })
        .collect();
    let files = state
        .store
        .list_files(&s.scope(), id)
        .await?
        .into_iter()
        .map(|f| FileRow {
            id: f.id.to_string(),
            kind: match f.kind.as_str() {
                "original" => "Bản gốc",
                "rendition" => "Bản PDF",
                _ => "Tệp đính kèm",
            },
            issues: f
                .checks
                .as_ref()
                .and_then(|c| c.get("issues"))
                .and_then(|i| i.as_array())
                .map(|a| {
                    a.iter().filter_map(|i| i.get("message_vi").and_then(|m| m.as_str()).map(str::to_owned)).collect()
                })
                .unwrap_or_default(),
            name: f.file_name,
            size_kb: (f.size + 1023) / 1024,
        })
        .collect();
    let reviewer_choices = if can_submit {
        let mut people: Vec<_> = state
            .store
            .list_users(&s.scope())
            .await?
            .into_iter()
            .filter(|u| u.user.active && u.user.id != s.caller.user_id)
            .filter(|u| u.roles.iter().any(|r| vanban_domain::role_allows(*r, Permission::ReviewDraft)))
            .collect();
        // Unit heads before leaders: the usual order of a sequential review.
        people.sort_by_key(|u| (u.roles.contains(&Role::Leader), u.user.full_name.as_str().to_owned()));
        people
            .into_iter()
            .map(|u| {
                let pos = u.user.position.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default();
                (u.user.id.to_string(), format!("{} — {pos}", u.user.full_name))
            })
            .collect()
    } else {
        Vec::new()
    };
    let contents: Vec<Option<DraftContent>> =
        versions.iter().map(|v| serde_json::from_value(v.content.clone()).ok()).collect();
    let versions = versions
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let changes = match (i.checked_sub(1).and_then(|p| contents[p].as_ref()), contents[i].as_ref()) {
                (Some(old), Some(new)) => crate::drafting::diff(old, new)
                    .into_iter()
                    .map(|c| (field_label(c.field), if c.kind == "added" { "+" } else { "−" }, c.text))
                    .collect(),
                _ => Vec::new(),
            };
            VersionRow {
                version: v.version,
                author: v.author_name,
                at: format_vn_time(v.created_at),
                note: v.note.unwrap_or_default(),
                changes,
            }
        })
        .collect();
    let page = DocumentPage {
        nav: Nav::of(s),
        notice,
        id: d.id.to_string(),
        doc_type: d.doc_type.name_vi(),
        subject: d.subject.clone(),
        state: state_label(&d.state),
        priority: p.label_vi(),
        organ_name: d.metadata.get("organ_name").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
        created: format_vn_time(d.created_at),
        updated: format_vn_time(d.updated_at),
        number,
        tracked,
        can_comment: matches!(current, Some(OutgoingState::Draft | OutgoingState::InReview | OutgoingState::Approved)),
        due: d
            .metadata
            .get("due_date")
            .and_then(|v| v.as_str())
            .and_then(|v| chrono::NaiveDate::from_str(v).ok())
            .map(|d| d.format("%d/%m/%Y").to_string())
            .unwrap_or_default(),
        actions,
        versions,
        latest,
        comments,
        can_edit,
        editor,
        signers,
        authorities,
        can_submit,
        reviewer_choices,
        steps,
        my_turn,
        files,
    };
    render(StatusCode::OK, &page)
}

async fn document(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    document_page(&state, &s, &id, Notice::done(q.done.as_deref())).await
}

async fn document_transition(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let doc_id = api::parse_id(&id)?;
    let body = TransitionBody { action: form.get("action").to_owned(), reason: form.opt("reason") };
    let result = api::transition_as(&state, &s, doc_id, &body).await;
    after_document_form(&state, &s, &id, result, "document_updated").await
}

struct AuditRow {
    seq: i64,
    at: String,
    /// The username (empty for the system), and how the page names the actor.
    actor_username: String,
    actor: String,
    /// The Vietnamese label, else the code.
    action: String,
    code: String,
    object_kind: &'static str,
    object_id: String,
    /// A link to the object's page, where it has one.
    object_href: Option<String>,
    /// The event's scalar details ("reason: …"), for reading.
    detail: String,
    from: String,
}

/// The audit page's filters (all optional, combined).
#[derive(Deserialize, Default, Clone)]
pub struct AuditFilter {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    object: String,
    /// Days as a date field sends them (2026-12-05) or as people type them (05/12/2026).
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before: Option<i64>,
    /// How many (the API's; the page shows [`AUDIT_PAGE`]).
    pub limit: Option<i64>,
}

/// A day typed as 2026-12-05 or 05/12/2026; empty is none.
fn parse_day(s: &str) -> Result<Option<chrono::NaiveDate>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .map(Some)
        .map_err(|_| ())
}

impl AuditFilter {
    /// The days, or the Vietnamese reason they cannot be used.
    fn days(&self) -> Result<(Option<chrono::NaiveDate>, Option<chrono::NaiveDate>), &'static str> {
        let (Ok(from), Ok(to)) = (parse_day(&self.from), parse_day(&self.to)) else {
            return Err("Ngày không hợp lệ: hãy nhập theo dạng ngày/tháng/năm, ví dụ 05/12/2026.");
        };
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err("«Từ ngày» đứng sau «Đến ngày»: hãy đổi lại khoảng thời gian.");
        }
        Ok((from, to))
    }

    /// The store's query: dates are whole days in Vietnam's time; the actor is a username,
    /// matched in lower case as usernames are stored.
    pub fn query(&self, limit: i64) -> Result<vanban_store::AuditQuery, &'static str> {
        let (from, to) = self.days()?;
        let start = |d: chrono::NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_local_timezone(vn_offset()).single())
                .map(|t| t.with_timezone(&Utc))
        };
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(vanban_store::AuditQuery {
            before_seq: self.before,
            actor: some(&self.actor).map(|a| a.to_lowercase()),
            action: some(&self.action),
            object_id: some(&self.object),
            from: from.and_then(start),
            until: to.and_then(|d| d.succ_opt()).and_then(start),
            limit: Some(limit),
        })
    }

    /// This filter's query string with `before` replaced (`None`: the newest page).
    fn with_before(&self, before: Option<i64>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("object", &self.object),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.trim().is_empty() {
                q.append_pair(k, v.trim());
            }
        }
        if let Some(before) = before {
            q.append_pair("before", &before.to_string());
        }
        q.finish()
    }
}

/// The scalar values of an event's detail worth reading, "Label: value" joined. Ids, hashes
/// and nested values are left out (the JSON API has them all).
fn audit_detail(detail: &serde_json::Value) -> String {
    let Some(map) = detail.as_object() else { return String::new() };
    let label = |k: &str| -> Option<&'static str> {
        Some(match k {
            "reason" => "Lý do",
            "note" => "Ghi chú",
            "deadline" => "Hạn xử lý",
            "number" => "Số",
            "symbol" => "Ký hiệu",
            "issued_on" => "Ngày ban hành",
            "arrival_number" => "Số đến",
            "recipients" => "Số nơi nhận",
            "signer_name" => "Người ký",
            "username" => "Tên đăng nhập",
            "name" => "Tên",
            "code" => "Mã",
            "abbreviation" => "Ký hiệu",
            "subject" => "Trích yếu",
            "serial_hex" => "Số hiệu chứng thư",
            "version" => "Phiên bản",
            "round" => "Vòng duyệt",
            "year" => "Năm",
            "doc_type" => "Loại văn bản",
            "kind" => "Loại",
            "withdrawn" => "Đã rút",
            _ => return None,
        })
    };
    map.iter()
        .filter_map(|(k, v)| {
            let value = match v {
                serde_json::Value::String(s) if !s.is_empty() => match k.as_str() {
                    "kind" => match (vanban_domain::ChangeKind::from_snake(s), s.as_str()) {
                        (Some(c), _) => c.label_vi().to_owned(),
                        // A stored revision's kind.
                        (None, "render") => "bản dựng từ dự thảo".to_owned(),
                        (None, "signer") => "bản có chữ ký của người có thẩm quyền".to_owned(),
                        (None, "agency") => "bản ban hành có chữ ký số của cơ quan".to_owned(),
                        _ => s.clone(),
                    },
                    "doc_type" => DocumentType::from_str(s).map_or_else(|_| s.clone(), |t| t.name_vi().to_owned()),
                    _ => {
                        chrono::NaiveDate::from_str(s).map_or_else(|_| s.clone(), |d| d.format("%d/%m/%Y").to_string())
                    }
                },
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => (if *b { "có" } else { "không" }).to_owned(),
                _ => return None,
            };
            // "subject" is a certificate's subject or a document's trích yếu.
            let name = if k == "subject" && value.contains("CN=") { "Chủ thể chứng thư" } else { label(k)? };
            Some(format!("{name}: {value}"))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    notice: Option<Notice>,
    events: Vec<AuditRow>,
    f: AuditFilter,
    from: String,
    to: String,
    /// (value, label, selected) of the action picker: families, then the chosen code.
    actions: Vec<(String, String, bool)>,
    /// The query string of the next (older) page, when there may be one.
    older: Option<String>,
    /// The query string of the first (newest) page, when this is a later one.
    newest: Option<String>,
}

const AUDIT_PAGE: i64 = 100;

async fn audit(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Query(f): Query<AuditFilter>,
) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewAudit)?;
    let scope = state.store.admin_scope(&s.caller).await?;
    // Days that do not parse are said on the page, which lists without them.
    let (query, notice) = match f.query(AUDIT_PAGE) {
        Ok(q) => (q, None),
        Err(why) => {
            let plain = AuditFilter { from: String::new(), to: String::new(), ..f.clone() };
            (plain.query(AUDIT_PAGE).unwrap_or_default(), Some(Notice { kind: "error", text: why.to_owned() }))
        }
    };
    let found = state.store.search_audit(&scope, &query).await?;
    let older = (found.len() as i64 == AUDIT_PAGE).then(|| found.last().map(|e| f.with_before(Some(e.seq)))).flatten();
    let newest = f.before.is_some().then(|| f.with_before(None));
    // An actor of another agency (a sender asking the recipients to take a document back) is
    // named with their agency.
    let names: std::collections::HashMap<AgencyId, String> =
        if found.iter().any(|e| e.actor_agency_id.is_some() && e.actor_agency_id != e.agency_id) {
            state
                .store
                .list_agencies()
                .await?
                .into_iter()
                .map(|a| (a.agency.id, a.agency.name.as_str().to_owned()))
                .collect()
        } else {
            std::collections::HashMap::new()
        };
    let events = found
        .into_iter()
        .map(|e| {
            let mut actor = e.actor_username.clone().unwrap_or_else(|| "hệ thống".into());
            if let Some(other) = e.actor_agency_id.filter(|a| Some(*a) != e.agency_id).and_then(|a| names.get(&a)) {
                actor = format!("{actor} ({other})");
            }
            // Handling events are about the agency's incoming copy, which /incoming shows.
            let incoming = e.action.starts_with("incoming.");
            let (object_kind, object_href) = match e.object_type.as_str() {
                "document" if incoming => ("Văn bản đến", Some(format!("/incoming/{}", e.object_id))),
                "document" => ("Văn bản đi", Some(format!("/documents/{}", e.object_id))),
                other => (vanban_domain::audit::object_label_vi(other), None),
            };
            AuditRow {
                seq: e.seq,
                at: format_vn_time(e.at),
                actor_username: e.actor_username.unwrap_or_default(),
                actor,
                action: vanban_domain::audit::action_label_vi(&e.action)
                    .map_or_else(|| e.action.clone(), str::to_owned),
                object_kind,
                object_href,
                detail: audit_detail(&e.detail),
                code: e.action,
                object_id: e.object_id,
                from: e.from.unwrap_or_default(),
            }
        })
        .collect();
    let chosen = f.action.trim().to_owned();
    let mut actions: Vec<(String, String, bool)> = vanban_domain::audit::ACTION_FAMILIES
        .iter()
        .map(|(code, label)| ((*code).to_owned(), (*label).to_owned(), chosen == *code))
        .collect();
    if !chosen.is_empty() && !actions.iter().any(|a| a.2) {
        let label = vanban_domain::audit::action_label_vi(&chosen).unwrap_or(&chosen).to_owned();
        actions.push((chosen, label, true));
    }
    // A date field shows only the ISO form; a day typed otherwise is shown as it parsed.
    let iso = |d: &str| parse_day(d).ok().flatten().map(|d| d.to_string()).unwrap_or_default();
    let (from, to) = (iso(&f.from), iso(&f.to));
    render(StatusCode::OK, &AuditPage { nav: Nav::of(&s), notice, events, f, from, to, actions, older, newest })
}

struct DelegationRow {
    id: String,
    authority: String,
    from_name: String,
    to_name: String,
    period: String,
    basis: String,
    status: &'static str,
    can_revoke: bool,
}

#[derive(Template)]
#[template(path = "delegations.html")]
struct DelegationsPage {
    nav: Nav,
    notice: Option<Notice>,
    rows: Vec<DelegationRow>,
    can_grant: bool,
    /// (id, name) of colleagues who can receive a delegation.
    colleagues: Vec<(String, String)>,
    /// (code, "KT. — Ký thay") of the delegable authorities.
    authorities: Vec<(&'static str, String)>,
    today: String,
}

async fn delegations_page(state: &AppState, s: &Session, notice: Option<Notice>) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewAgency)?;
    let now = Utc::now();
    let list = state.store.list_delegations(&s.scope()).await?;
    let received = state.store.delegations_to(&s.scope(), s.caller.user_id, now).await?;
    let is_admin = s.caller.has(Permission::ManageUsers);
    let rows = list
        .into_iter()
        .map(|d| {
            let x = &d.delegation;
            let status = if x.revoked_at.is_some() {
                "Đã thu hồi"
            } else if x.is_active_at(now) {
                "Đang hiệu lực"
            } else if now < x.valid_from {
                "Chưa đến hạn"
            } else {
                "Hết hạn"
            };
            DelegationRow {
                id: x.id.to_string(),
                authority: format!("{} {}", x.authority.prefix().unwrap_or(""), x.authority.label_vi()),
                from_name: d.from_name.clone(),
                to_name: d.to_name.clone(),
                period: format!("{} – {}", format_vn_time(x.valid_from), format_vn_time(x.valid_until)),
                basis: d.basis.clone(),
                status,
                can_revoke: matches!(status, "Đang hiệu lực" | "Chưa đến hạn")
                    && (x.from_user == s.caller.user_id || is_admin),
            }
        })
        .collect();
    let can_grant = s.caller.has(Permission::SignDocument) || !received.is_empty();
    let colleagues = if can_grant {
        state
            .store
            .list_users(&s.scope())
            .await?
            .into_iter()
            .filter(|u| u.user.id != s.caller.user_id && u.user.active)
            .map(|u| (u.user.id.to_string(), u.user.full_name.as_str().to_owned()))
            .collect()
    } else {
        Vec::new()
    };
    let authorities = vanban_domain::SigningAuthority::ALL
        .iter()
        .filter(|a| a.is_delegable())
        .map(|a| (a.as_str(), format!("{} — {}", a.prefix().unwrap_or(""), a.label_vi())))
        .collect();
    let today = now.with_timezone(&vn_offset()).format("%Y-%m-%d").to_string();
    render(
        StatusCode::OK,
        &DelegationsPage { nav: Nav::of(s), notice, rows, can_grant, colleagues, authorities, today },
    )
}

async fn delegations(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    delegations_page(&state, &s, Notice::done(q.done.as_deref())).await
}

/// A calendar date in Vietnam, as the instant it begins.
fn vn_day_start(field: &'static str, date: &str) -> Result<DateTime<Utc>, AppError> {
    let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::from(vanban_domain::DomainError::InvalidValue { field, reason: "not a date" }))?;
    let local = d.and_hms_opt(0, 0, 0).and_then(|t| t.and_local_timezone(vn_offset()).single());
    local
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| vanban_domain::DomainError::InvalidValue { field, reason: "not a date" }.into())
}

async fn delegations_create(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let parsed = (|| -> Result<api::DelegationInput, AppError> {
        Ok(api::DelegationInput {
            to_user: form.get("to_user").to_owned(),
            authority: form.get("authority").to_owned(),
            valid_from: vn_day_start("valid_from", form.get("valid_from"))?,
            // Through the whole last day.
            valid_until: vn_day_start("valid_until", form.get("valid_until"))? + chrono::Duration::days(1),
            basis: form.get("basis").to_owned(),
        })
    })();
    let result = match parsed {
        Ok(input) => api::create_delegation_as(&state, &s, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(redirect_done("/delegations", "delegation_created")),
        Err(e) => rerender(e, |n| delegations_page(&state, &s, n)).await,
    }
}

async fn delegations_revoke(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    match api::revoke_delegation_as(&state, &s, api::parse_id(&id)?).await {
        Ok(_) => Ok(redirect_done("/delegations", "delegation_revoked")),
        Err(e) => rerender(e, |n| delegations_page(&state, &s, n)).await,
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// The editor form as draft content; the signer is one of the agency's users.
async fn content_from_form(state: &AppState, s: &Session, form: &FormData) -> Result<DraftContent, AppError> {
    let signer = match form.opt("signer_user") {
        Some(id) => {
            let u = state.store.get_user(&s.scope(), api::parse_id(&id)?).await?;
            Some(vanban_render::SignerSpec {
                authority: form.opt("authority").unwrap_or_else(|| "direct".into()),
                collective: None,
                head_title: form.opt("head_title"),
                position: u.user.position.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
                full_name: u.user.full_name.as_str().to_owned(),
            })
        }
        None => None,
    };
    Ok(DraftContent {
        subject: form.get("subject").to_owned(),
        addressees: lines(form.get("addressees")),
        body: crate::drafting::body_from_text(form.get("body")),
        recipients: lines(form.get("recipients")),
        archive_units: form
            .get("archive_units")
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect(),
        signer,
        appendices: crate::drafting::appendices_from_text(form.get("appendices")),
        unit_abbreviation: form.opt("unit_abbreviation"),
        typer_initials: None,
        copies: None,
    })
}

async fn document_save_version(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let doc_id = api::parse_id(&id)?;
    let result = match content_from_form(&state, &s, &form).await {
        Ok(content) => crate::drafting::save_version(&state, &s, doc_id, content, form.opt("note")).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(redirect_done(&format!("/documents/{id}"), "version_saved")),
        // The page again with the error, and with what was typed: nothing is lost.
        Err(e) => rerender(e, |n| document_page_with(&state, &s, &id, n, Some(EditorView::from_form(&form)))).await,
    }
}

/// How every form on a document page ends: back to the page with its confirmation
/// (post/redirect/get), or the page again with the error on top.
pub(crate) async fn after_document_form<T>(
    state: &AppState,
    s: &Session,
    id: &str,
    result: Result<T, AppError>,
    done: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(_) => Ok(redirect_done(&format!("/documents/{id}"), done)),
        Err(e) => rerender(e, |n| document_page(state, s, id, n)).await,
    }
}

/// The PDF of the editor's unsaved content, for the preview frame.
async fn document_preview(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let content = content_from_form(&state, &s, &form).await?;
    let pdf = crate::drafting::render_pdf(&state, &s, api::parse_id(&id)?, content).await?;
    Ok(api::pdf_response(pdf, "xem-truoc"))
}

async fn document_version_pdf(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path((id, n)): Path<(String, i32)>,
) -> Result<Response, PageError> {
    let doc_id = api::parse_id(&id)?;
    let content = crate::drafting::version_content(&state, &s, doc_id, n).await?;
    let pdf = crate::drafting::render_pdf(&state, &s, doc_id, content).await?;
    Ok(api::pdf_response(pdf, &format!("du-thao-v{n}")))
}

async fn document_comment(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let doc_id = api::parse_id(&id)?;
    let version: i32 = form.get("version").parse().map_err(|_| AppError::Store(vanban_store::StoreError::NotFound))?;
    let result = state
        .store
        .add_comment(&s.actor(), &s.scope(), doc_id, version, form.get("body"))
        .await
        .map_err(AppError::from);
    after_document_form(&state, &s, &id, result, "comment_added").await
}

async fn document_submit(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let body = api::SubmitBody { reviewers: form.all("reviewers"), mode: form.opt("mode") };
    let result = api::submit_as(&state, &s, api::parse_id(&id)?, &body).await;
    after_document_form(&state, &s, &id, result, "submitted").await
}

async fn document_review(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let body = api::ReviewBody {
        decision: form.get("decision").to_owned(),
        initials: form.get("initials") == "on",
        reason: form.opt("reason"),
    };
    let result = api::review_as(&state, &s, api::parse_id(&id)?, &body).await;
    after_document_form(&state, &s, &id, result, "review_recorded").await
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    nav: Nav,
    notice: Option<Notice>,
    docs: Vec<DocRow>,
}

async fn reviews(State(state): State<AppState>, PageSession(s): PageSession) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewDocuments)?;
    let docs = state.store.review_inbox(&s.scope(), s.caller.user_id).await?.iter().map(DocRow::of).collect();
    render(StatusCode::OK, &ReviewsPage { nav: Nav::of(&s), notice: None, docs })
}

/// The upload form: a DOCX or ODT drafted in Word or LibreOffice.
pub async fn document_upload(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    multipart: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let result = async {
        let (csrf, name, bytes) = crate::drafting::read_upload(multipart).await?;
        s.check_csrf(csrf.as_deref().unwrap_or(""))?;
        crate::drafting::upload(&state, &s, api::parse_id(&id)?, name, bytes).await
    }
    .await;
    let result = result;
    after_document_form(&state, &s, &id, result, "uploaded").await
}

async fn document_file(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (f, bytes) = crate::drafting::file(&state, &s, api::parse_id(&id)?, api::parse_id(&file)?).await?;
    Ok(crate::drafting::file_response(&f, bytes))
}

async fn agency_edit(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let input = api::AgencyUpdateInput {
        name: form.get("name").to_owned(),
        parent_name: form.opt("parent_name"),
        abbreviation: form.get("abbreviation").to_owned(),
        place: form.get("place").to_owned(),
    };
    match api::update_agency_as(&state, &s, api::parse_id(&id)?, &input).await {
        Ok(_) => Ok(redirect_done("/", "agency_updated")),
        Err(e) => Err(e.into()),
    }
}
