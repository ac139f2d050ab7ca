//! The JSON REST API under `/api/v1`, described in `openapi.json`. Every handler takes an
//! [`ApiSession`] (except login), so every answer is scoped to the caller's agency and roles.

use std::collections::BTreeSet;
use std::str::FromStr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use vanban_domain::{
    Abbreviation, AgencyCode, AgencyId, AgencyLevel, AgencyName, DocumentId, DocumentType, Email, FullName,
    OutgoingAction, OutgoingMetadata, Permission, Position, Priority, Recipient, Role, Secrecy, UnitId, UserId,
    Username,
};
use vanban_store::{NewAgency, NewDraft, NewUnit, NewUser, Scope, Transition};

use crate::AppState;
use crate::auth::{self, ApiSession, Session};
use crate::error::{ApiError, AppError};

/// `Json` whose rejections answer in vanban's error format.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError(AppError::PayloadTooLarge)
        } else {
            ApiError(AppError::BadRequest(r.body_text()))
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
        .route("/agencies", get(list_agencies).post(create_agency))
        .route("/agencies/{id}", get(get_agency).put(update_agency))
        .route("/agencies/{id}/units", get(list_units).post(create_unit))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", get(get_user))
        .route("/users/{id}/roles", put(set_roles))
        .route("/users/{id}/password", post(reset_password))
        .route("/users/{id}/active", put(set_active))
        .route("/documents", get(list_documents).post(create_document))
        .route("/documents/{id}", get(get_document))
        .route("/documents/{id}/transitions", post(transition_document))
        .route("/documents/{id}/versions", get(list_versions).post(add_version))
        .route("/documents/{id}/versions/{n}", get(get_version))
        .route("/documents/{id}/versions/{n}/pdf", get(version_pdf))
        .route("/documents/{id}/versions/{n}/diff", get(version_diff))
        .route("/documents/{id}/comments", get(list_comments).post(add_comment))
        .route("/documents/{id}/submit", post(submit_document))
        .route("/documents/{id}/reviews", get(list_reviews).post(review_document))
        .route("/reviews", get(review_inbox))
        .route("/documents/{id}/files", get(list_files))
        .route("/documents/{id}/files/{file}", get(get_file))
        .route("/delegations", get(list_delegations).post(create_delegation))
        .route("/delegations/{id}/revoke", post(revoke_delegation))
        .route("/audit", get(list_audit))
        .route("/audit/verify", get(verify_audit))
}

pub fn parse_id<T: FromStr>(s: &str) -> Result<T, AppError> {
    // An unparsable id names nothing: answer as for a missing object.
    s.parse().map_err(|_| AppError::Store(vanban_store::StoreError::NotFound))
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct MeBody {
    user: vanban_store::UserRecord,
    agency: vanban_store::AgencyRecord,
    csrf_token: String,
    permissions: Vec<&'static str>,
}

fn me_body(s: Session) -> MeBody {
    let permissions = Permission::ALL.iter().filter(|p| s.caller.has(**p)).map(|p| p.as_str()).collect();
    MeBody { user: s.user, agency: s.agency, csrf_token: s.csrf_token, permissions }
}

async fn login(
    State(state): State<AppState>,
    auth::ClientIp(ip): auth::ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let (token, session) = auth::login(&state, &body.username, &body.password, ip).await?;
    let caller = state.store.caller_for(session.user_id).await?;
    let user = state.store.get_user(&Scope::of(&caller), caller.user_id).await?;
    let agency = state.store.get_agency(caller.agency_id).await?;
    let s = Session { caller, user, agency, csrf_token: session.csrf_token, token_hash: session.token_hash, ip: None };
    let cookie = auth::set_cookie(&state, auth::SESSION_COOKIE, &token, state.config.session_ttl.num_seconds());
    Ok(([(header::SET_COOKIE, cookie)], Json(me_body(s))).into_response())
}

async fn logout(State(state): State<AppState>, ApiSession(s): ApiSession) -> ApiResult<Response> {
    state.store.delete_session(&s.token_hash).await?;
    let cookie = auth::set_cookie(&state, auth::SESSION_COOKIE, "", 0);
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

async fn me(ApiSession(s): ApiSession) -> Json<MeBody> {
    Json(me_body(s))
}

async fn list_agencies(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
) -> ApiResult<Json<Vec<vanban_store::AgencyRecord>>> {
    s.caller.require(Permission::ViewAgency)?;
    Ok(Json(state.store.list_agencies().await?))
}

async fn get_agency(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<vanban_store::AgencyRecord>> {
    s.caller.require(Permission::ViewAgency)?;
    Ok(Json(state.store.get_agency(parse_id(&id)?).await?))
}

/// Input of agency creation, shared by the API and the admin page.
#[derive(Deserialize)]
pub struct AgencyInput {
    pub parent_id: String,
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub parent_name: Option<String>,
    pub abbreviation: String,
    pub level: String,
    pub place: String,
}

impl AgencyInput {
    pub fn parse(&self) -> Result<NewAgency, AppError> {
        let parent_name = self.parent_name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        Ok(NewAgency {
            parent_id: Some(parse_id(&self.parent_id)?),
            code: AgencyCode::parse(&self.code)?,
            name: AgencyName::parse(&self.name)?,
            parent_name: parent_name.map(AgencyName::parse).transpose()?,
            abbreviation: Abbreviation::parse(&self.abbreviation)?,
            level: AgencyLevel::from_str(&self.level)?,
            place: vanban_domain::clean_text("place", &self.place, 50, true)?,
        })
    }
}

/// Creates a child agency somewhere within the administrator's reach.
pub async fn create_agency_as(
    state: &AppState,
    s: &Session,
    input: &AgencyInput,
) -> Result<vanban_store::AgencyRecord, AppError> {
    let scope = state.store.admin_scope(&s.caller).await?;
    s.caller.require(Permission::ManageAgencies)?;
    let new = input.parse()?;
    let parent = state.store.get_agency(new.parent_id.ok_or(AppError::BadRequest("parent_id".into()))?).await?;
    if !scope.covers_path(&parent.path) {
        return Err(AppError::Store(vanban_store::StoreError::NotFound));
    }
    Ok(state.store.create_agency(&s.actor(), new).await?)
}

async fn create_agency(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    ApiJson(input): ApiJson<AgencyInput>,
) -> ApiResult<(StatusCode, Json<vanban_store::AgencyRecord>)> {
    Ok((StatusCode::CREATED, Json(create_agency_as(&state, &s, &input).await?)))
}

async fn list_units(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<vanban_domain::Unit>>> {
    let agency: AgencyId = parse_id(&id)?;
    if agency == s.caller.agency_id {
        return Ok(Json(state.store.list_units(&s.scope()).await?));
    }
    let scope =
        state.store.admin_scope(&s.caller).await.map_err(|_| AppError::Store(vanban_store::StoreError::NotFound))?;
    Ok(Json(state.store.list_units_admin(&scope, agency).await?))
}

#[derive(Deserialize)]
pub struct UnitInput {
    pub name: String,
    pub abbreviation: String,
    #[serde(default)]
    pub parent_id: Option<String>,
}

pub async fn create_unit_as(
    state: &AppState,
    s: &Session,
    agency_id: AgencyId,
    input: &UnitInput,
) -> Result<vanban_domain::Unit, AppError> {
    let scope = state.store.admin_scope(&s.caller).await?;
    let parent_id = input.parent_id.as_deref().filter(|p| !p.is_empty()).map(parse_id::<UnitId>).transpose()?;
    let new = NewUnit {
        agency_id,
        parent_id,
        name: input.name.clone(),
        abbreviation: Abbreviation::parse(&input.abbreviation)?,
    };
    Ok(state.store.create_unit(&s.actor(), &scope, new).await?)
}

async fn create_unit(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<UnitInput>,
) -> ApiResult<(StatusCode, Json<vanban_domain::Unit>)> {
    Ok((StatusCode::CREATED, Json(create_unit_as(&state, &s, parse_id(&id)?, &input).await?)))
}

#[derive(Deserialize)]
struct AgencyFilter {
    agency_id: Option<String>,
}

async fn list_users(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Query(f): Query<AgencyFilter>,
) -> ApiResult<Json<Vec<vanban_store::UserRecord>>> {
    s.caller.require(Permission::ViewAgency)?;
    match f.agency_id.as_deref().map(parse_id::<AgencyId>).transpose()? {
        Some(a) if a != s.caller.agency_id => {
            let scope = state
                .store
                .admin_scope(&s.caller)
                .await
                .map_err(|_| AppError::Store(vanban_store::StoreError::NotFound))?;
            Ok(Json(state.store.list_users_admin(&scope, a).await?))
        }
        _ => Ok(Json(state.store.list_users(&s.scope()).await?)),
    }
}

async fn get_user(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<vanban_store::UserRecord>> {
    let id: UserId = parse_id(&id)?;
    match state.store.get_user(&s.scope(), id).await {
        Ok(u) => Ok(Json(u)),
        Err(vanban_store::StoreError::NotFound) if s.caller.has(Permission::ManageUsers) => {
            let scope = state.store.admin_scope(&s.caller).await?;
            Ok(Json(state.store.get_user_admin(&scope, id).await?))
        }
        Err(e) => Err(e.into()),
    }
}

/// Input of user creation, shared by the API and the admin page.
#[derive(Deserialize)]
pub struct UserInput {
    #[serde(default)]
    pub agency_id: Option<String>,
    #[serde(default)]
    pub unit_id: Option<String>,
    pub username: String,
    pub full_name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub position: Option<String>,
    pub password: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

pub fn parse_roles(roles: &[String]) -> Result<BTreeSet<Role>, AppError> {
    roles.iter().map(|r| Role::from_str(r).map_err(AppError::from)).collect()
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub async fn create_user_as(
    state: &AppState,
    s: &Session,
    input: &UserInput,
) -> Result<vanban_store::UserRecord, AppError> {
    let scope = state.store.admin_scope(&s.caller).await?;
    let agency_id = match non_empty(&input.agency_id) {
        Some(a) => parse_id(a)?,
        None => s.caller.agency_id,
    };
    let new = NewUser {
        agency_id,
        unit_id: non_empty(&input.unit_id).map(parse_id).transpose()?,
        username: Username::parse(&input.username)?,
        full_name: FullName::parse(&input.full_name)?,
        email: non_empty(&input.email).map(Email::parse).transpose()?,
        position: non_empty(&input.position).map(Position::parse).transpose()?,
        roles: parse_roles(&input.roles)?,
        password_hash: auth::hash_password(&input.password)?,
    };
    Ok(state.store.create_user(&s.actor(), &scope, new).await?)
}

async fn create_user(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    ApiJson(input): ApiJson<UserInput>,
) -> ApiResult<(StatusCode, Json<vanban_store::UserRecord>)> {
    Ok((StatusCode::CREATED, Json(create_user_as(&state, &s, &input).await?)))
}

#[derive(Deserialize)]
struct RolesBody {
    roles: Vec<String>,
}

async fn set_roles(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RolesBody>,
) -> ApiResult<StatusCode> {
    set_roles_as(&state, &s, parse_id(&id)?, &body.roles).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An administrator deactivates or reactivates an account within reach (not their own).
pub async fn set_active_as(state: &AppState, s: &Session, id: UserId, active: bool) -> Result<(), AppError> {
    let scope = state.store.admin_scope(&s.caller).await?;
    if id == s.caller.user_id && !active {
        return Err(vanban_domain::DomainError::InvalidValue {
            field: "active",
            reason: "administrators cannot deactivate themselves",
        }
        .into());
    }
    Ok(state.store.set_active(&s.actor(), &scope, id, active).await?)
}

#[derive(Deserialize)]
struct ActiveBody {
    active: bool,
}

async fn set_active(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ActiveBody>,
) -> ApiResult<StatusCode> {
    set_active_as(&state, &s, parse_id(&id)?, body.active).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a user's roles; shared by the API and the page.
pub async fn set_roles_as(state: &AppState, s: &Session, id: UserId, roles: &[String]) -> Result<(), AppError> {
    let scope = state.store.admin_scope(&s.caller).await?;
    let roles = parse_roles(roles)?;
    Ok(state.store.set_roles(&s.actor(), &scope, id, roles).await?)
}

#[derive(Deserialize)]
pub struct PasswordBody {
    pub password: String,
}

/// An administrator sets a new password for a user within reach.
pub async fn reset_password_as(state: &AppState, s: &Session, id: UserId, password: &str) -> Result<(), AppError> {
    let scope = state.store.admin_scope(&s.caller).await?;
    state.store.get_user_admin(&scope, id).await?;
    let hash = auth::hash_password(password)?;
    Ok(state.store.set_password(&s.actor(), id, hash).await?)
}

async fn reset_password(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    reset_password_as(&state, &s, parse_id(&id)?, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct StateFilter {
    state: Option<String>,
    limit: Option<i64>,
}

async fn list_documents(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Query(f): Query<StateFilter>,
) -> ApiResult<Json<Vec<vanban_store::DocumentRecord>>> {
    s.caller.require(Permission::ViewDocuments)?;
    let limit = f.limit.unwrap_or(100).clamp(1, 500);
    Ok(Json(state.store.list_documents(&s.scope(), f.state.as_deref(), limit).await?))
}

/// Input of a new draft, shared by the API and the drafting page.
#[derive(Deserialize)]
pub struct DraftInput {
    pub doc_type: String,
    pub subject: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub priority: Option<u8>,
    #[serde(default)]
    pub due_date: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub recipients: Vec<String>,
}

pub async fn create_draft_as(
    state: &AppState,
    s: &Session,
    input: &DraftInput,
) -> Result<vanban_store::DocumentRecord, AppError> {
    s.caller.require(Permission::CreateDraft)?;
    let priority = match input.priority {
        Some(p) => Priority::from_code(p)
            .ok_or(vanban_domain::DomainError::InvalidValue { field: "Priority", reason: "0 to 4" })?,
        None => Priority::Normal,
    };
    let metadata = OutgoingMetadata {
        doc_type: DocumentType::from_str(&input.doc_type)?,
        subject: input.subject.clone(),
        organ_name: s.agency.agency.name.as_str().to_owned(),
        language: "Tiếng Việt".to_owned(),
        page_amount: None,
        description: non_empty(&input.description).map(str::to_owned),
        signer: None,
        recipients: input
            .recipients
            .iter()
            .filter(|r| !r.trim().is_empty())
            .map(|r| Recipient { code: None, name: r.clone() })
            .collect(),
        priority,
        secrecy: Secrecy::Normal,
        issued_amount: None,
        due_date: input.due_date,
        typer_notation: None,
    };
    Ok(state.store.create_draft(&s.actor(), &s.scope(), NewDraft { metadata }).await?)
}

async fn create_document(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    ApiJson(input): ApiJson<DraftInput>,
) -> ApiResult<(StatusCode, Json<vanban_store::DocumentRecord>)> {
    Ok((StatusCode::CREATED, Json(create_draft_as(&state, &s, &input).await?)))
}

async fn get_document(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<vanban_store::DocumentRecord>> {
    s.caller.require(Permission::ViewDocuments)?;
    let id: DocumentId = parse_id(&id)?;
    Ok(Json(state.store.get_document(&s.scope(), id).await?))
}

#[derive(Deserialize)]
pub struct TransitionBody {
    pub action: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The workflow actions a person takes directly. Signing, numbering, issuing and the rest
/// happen inside their own flows (parts 3 and 4), which produce the artefacts they need.
pub const DIRECT_ACTIONS: [OutgoingAction; 3] =
    [OutgoingAction::SubmitForReview, OutgoingAction::ReturnToDrafter, OutgoingAction::Approve];

pub async fn transition_as(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    body: &TransitionBody,
) -> Result<vanban_store::DocumentRecord, AppError> {
    let action = OutgoingAction::from_str(&body.action)?;
    s.caller.require(action.required_permission())?;
    if !DIRECT_ACTIONS.contains(&action) {
        return Err(AppError::NotHere(action.as_str()));
    }
    if matches!(action, OutgoingAction::SubmitForReview | OutgoingAction::Approve) {
        require_content(state, s, id).await?;
    }
    let t = Transition { action, reason: body.reason.clone() };
    Ok(state.store.transition(&s.actor(), &s.scope(), id, t).await?)
}

/// A draft goes to review or approval only with content: a saved version, or an uploaded
/// file rendered to PDF. (Content is never removed, so the check cannot go stale.)
async fn require_content(state: &AppState, s: &Session, id: DocumentId) -> Result<(), AppError> {
    let scope = s.scope();
    if !state.store.list_versions(&scope, id).await?.is_empty() {
        return Ok(());
    }
    if state.store.list_files(&scope, id).await?.iter().any(|f| f.kind == "rendition") {
        return Ok(());
    }
    Err(vanban_domain::DomainError::EmptyDraft.into())
}

async fn transition_document(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransitionBody>,
) -> ApiResult<Json<vanban_store::DocumentRecord>> {
    Ok(Json(transition_as(&state, &s, parse_id(&id)?, &body).await?))
}

/// The audit log within the caller's reach, newest first, filtered as the audit page does
/// (`actor`, `action` code or family ending in '.', `object`, `from`/`to` days, `before` a
/// sequence number) and `limit` (1–1000, 100 by default).
async fn list_audit(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Query(f): Query<crate::pages::AuditFilter>,
) -> ApiResult<Json<Vec<vanban_store::AuditEvent>>> {
    s.caller.require(Permission::ViewAudit)?;
    let scope = state.store.admin_scope(&s.caller).await?;
    let q = f.query(f.limit.unwrap_or(100).clamp(1, 1000)).map_err(|why| AppError::BadRequest(why.to_owned()))?;
    Ok(Json(state.store.search_audit(&scope, &q).await?))
}

async fn verify_audit(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
) -> ApiResult<Json<vanban_store::ChainReport>> {
    s.caller.require(Permission::ViewAudit)?;
    // The chain spans every agency of the instance: only an administrator of a top-level
    // agency may see its totals.
    if s.agency.agency.parent_id.is_some() {
        return Err(AppError::Forbidden("verify_audit").into());
    }
    Ok(Json(state.store.verify_audit_chain().await?))
}

async fn list_delegations(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
) -> ApiResult<Json<Vec<vanban_store::DelegationRecord>>> {
    s.caller.require(Permission::ViewAgency)?;
    Ok(Json(state.store.list_delegations(&s.scope()).await?))
}

/// Input of a delegation, shared by the API and the page.
#[derive(Deserialize)]
pub struct DelegationInput {
    pub to_user: String,
    pub authority: String,
    pub valid_from: chrono::DateTime<chrono::Utc>,
    pub valid_until: chrono::DateTime<chrono::Utc>,
    pub basis: String,
}

pub async fn create_delegation_as(
    state: &AppState,
    s: &Session,
    input: &DelegationInput,
) -> Result<vanban_store::DelegationRecord, AppError> {
    let new = vanban_store::NewDelegation {
        to_user: parse_id(&input.to_user)?,
        authority: vanban_domain::SigningAuthority::from_str(&input.authority)?,
        valid_from: input.valid_from,
        valid_until: input.valid_until,
        basis: input.basis.clone(),
    };
    Ok(state.store.create_delegation(&s.actor(), &s.scope(), new).await?)
}

async fn create_delegation(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    ApiJson(input): ApiJson<DelegationInput>,
) -> ApiResult<(StatusCode, Json<vanban_store::DelegationRecord>)> {
    Ok((StatusCode::CREATED, Json(create_delegation_as(&state, &s, &input).await?)))
}

/// The grantor, or an administrator of the agency, ends a delegation.
pub async fn revoke_delegation_as(
    state: &AppState,
    s: &Session,
    id: vanban_domain::DelegationId,
) -> Result<vanban_store::DelegationRecord, AppError> {
    let d = state.store.get_delegation(&s.scope(), id).await?;
    if d.delegation.from_user != s.caller.user_id && !s.caller.has(Permission::ManageUsers) {
        return Err(AppError::Forbidden("revoke_delegation"));
    }
    Ok(state.store.revoke_delegation(&s.actor(), &s.scope(), id).await?)
}

async fn revoke_delegation(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<vanban_store::DelegationRecord>> {
    Ok(Json(revoke_delegation_as(&state, &s, parse_id(&id)?).await?))
}

async fn list_versions(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<vanban_store::VersionRecord>>> {
    s.caller.require(Permission::ViewDocuments)?;
    Ok(Json(state.store.list_versions(&s.scope(), parse_id(&id)?).await?))
}

#[derive(Deserialize)]
struct VersionBody {
    content: crate::drafting::DraftContent,
    #[serde(default)]
    note: Option<String>,
}

async fn add_version(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VersionBody>,
) -> ApiResult<(StatusCode, Json<vanban_store::VersionRecord>)> {
    let v = crate::drafting::save_version(&state, &s, parse_id(&id)?, body.content, body.note).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

async fn get_version(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path((id, n)): Path<(String, i32)>,
) -> ApiResult<Json<vanban_store::VersionRecord>> {
    s.caller.require(Permission::ViewDocuments)?;
    Ok(Json(state.store.get_version(&s.scope(), parse_id(&id)?, n).await?))
}

/// A PDF answer, shown inline (in the browser's viewer or an iframe).
pub fn pdf_response(pdf: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}.pdf\"")),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        pdf,
    )
        .into_response()
}

async fn version_pdf(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path((id, n)): Path<(String, i32)>,
) -> ApiResult<Response> {
    let id: DocumentId = parse_id(&id)?;
    let content = crate::drafting::version_content(&state, &s, id, n).await?;
    let pdf = crate::drafting::render_pdf(&state, &s, id, content).await?;
    Ok(pdf_response(pdf, &format!("du-thao-v{n}")))
}

async fn list_comments(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<vanban_store::CommentRecord>>> {
    s.caller.require(Permission::ViewDocuments)?;
    Ok(Json(state.store.list_comments(&s.scope(), parse_id(&id)?).await?))
}

#[derive(Deserialize)]
struct CommentBody {
    version: i32,
    body: String,
}

async fn add_comment(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CommentBody>,
) -> ApiResult<(StatusCode, Json<vanban_store::CommentRecord>)> {
    s.caller.require(Permission::ViewDocuments)?;
    let c = state.store.add_comment(&s.actor(), &s.scope(), parse_id(&id)?, body.version, &body.body).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Input of sending a draft to review, shared by the API and the page.
#[derive(Deserialize)]
pub struct SubmitBody {
    #[serde(default)]
    pub reviewers: Vec<String>,
    #[serde(default)]
    pub mode: Option<String>,
}

/// Sends a draft to its reviewers (or, with none, straight to the leader).
pub async fn submit_as(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    body: &SubmitBody,
) -> Result<vanban_store::DocumentRecord, AppError> {
    s.caller.require(Permission::CreateDraft)?;
    require_content(state, s, id).await?;
    if body.reviewers.is_empty() {
        let t = Transition { action: OutgoingAction::SubmitForReview, reason: None };
        return Ok(state.store.transition(&s.actor(), &s.scope(), id, t).await?);
    }
    let reviewers = body.reviewers.iter().map(|r| parse_id(r)).collect::<Result<Vec<UserId>, _>>()?;
    let mode = vanban_domain::ReviewMode::from_snake(body.mode.as_deref().unwrap_or("sequential"))
        .ok_or(vanban_domain::DomainError::InvalidValue { field: "mode", reason: "sequential or parallel" })?;
    Ok(state.store.submit_for_review(&s.actor(), &s.scope(), id, reviewers, mode).await?)
}

async fn submit_document(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubmitBody>,
) -> ApiResult<Json<vanban_store::DocumentRecord>> {
    Ok(Json(submit_as(&state, &s, parse_id(&id)?, &body).await?))
}

async fn list_reviews(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<vanban_store::ReviewStepRecord>>> {
    s.caller.require(Permission::ViewDocuments)?;
    Ok(Json(state.store.review_steps(&s.scope(), parse_id(&id)?).await?))
}

/// A reviewer's decision, shared by the API and the page.
#[derive(Deserialize)]
pub struct ReviewBody {
    /// "approve" or "return".
    pub decision: String,
    #[serde(default)]
    pub initials: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A named reviewer acts when it is their turn (being named is what entitles them).
pub async fn review_as(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    body: &ReviewBody,
) -> Result<vanban_store::ReviewStepRecord, AppError> {
    let decision = match body.decision.as_str() {
        "approve" => vanban_store::ReviewDecision::Approve { initials: body.initials },
        "return" => vanban_store::ReviewDecision::Return { reason: body.reason.clone().unwrap_or_default() },
        _ => {
            return Err(
                vanban_domain::DomainError::InvalidValue { field: "decision", reason: "approve or return" }.into()
            );
        }
    };
    Ok(state.store.review(&s.actor(), &s.scope(), id, decision).await?)
}

async fn review_document(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> ApiResult<Json<vanban_store::ReviewStepRecord>> {
    Ok(Json(review_as(&state, &s, parse_id(&id)?, &body).await?))
}

async fn review_inbox(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
) -> ApiResult<Json<Vec<vanban_store::DocumentRecord>>> {
    s.caller.require(Permission::ViewDocuments)?;
    Ok(Json(state.store.review_inbox(&s.scope(), s.caller.user_id).await?))
}

/// Uploads a DOCX or ODT draft (multipart field `file`); answers the original and its PDF.
pub async fn upload_document(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    multipart: axum::extract::Multipart,
) -> ApiResult<(StatusCode, Json<Vec<vanban_store::FileRecord>>)> {
    let (_, name, bytes) = crate::drafting::read_upload(multipart).await?;
    let files = crate::drafting::upload(&state, &s, parse_id(&id)?, name, bytes).await?;
    Ok((StatusCode::CREATED, Json(files)))
}

async fn list_files(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<vanban_store::FileRecord>>> {
    s.caller.require(Permission::ViewDocuments)?;
    Ok(Json(state.store.list_files(&s.scope(), parse_id(&id)?).await?))
}

async fn get_file(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path((id, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (f, bytes) = crate::drafting::file(&state, &s, parse_id(&id)?, parse_id(&file)?).await?;
    Ok(crate::drafting::file_response(&f, bytes))
}

/// What changed from version n−1 to version n (for version 1: everything is new).
pub async fn version_changes(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    n: i32,
) -> Result<Vec<crate::drafting::Change>, AppError> {
    let new = crate::drafting::version_content(state, s, id, n).await?;
    let old = if n > 1 {
        crate::drafting::version_content(state, s, id, n - 1).await?
    } else {
        crate::drafting::DraftContent::default()
    };
    Ok(crate::drafting::diff(&old, &new))
}

async fn version_diff(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path((id, n)): Path<(String, i32)>,
) -> ApiResult<Json<Vec<crate::drafting::Change>>> {
    Ok(Json(version_changes(&state, &s, parse_id(&id)?, n).await?))
}

/// What an administrator may change about an agency, shared by the API and the page.
#[derive(Deserialize)]
pub struct AgencyUpdateInput {
    pub name: String,
    #[serde(default)]
    pub parent_name: Option<String>,
    pub abbreviation: String,
    pub place: String,
}

pub async fn update_agency_as(
    state: &AppState,
    s: &Session,
    id: AgencyId,
    input: &AgencyUpdateInput,
) -> Result<vanban_store::AgencyRecord, AppError> {
    s.caller.require(Permission::ManageAgencies)?;
    let scope = state.store.admin_scope(&s.caller).await?;
    let update = vanban_store::AgencyUpdate {
        name: AgencyName::parse(&input.name)?,
        parent_name: non_empty(&input.parent_name).map(AgencyName::parse).transpose()?,
        abbreviation: Abbreviation::parse(&input.abbreviation)?,
        place: vanban_domain::clean_text("place", &input.place, 50, true)?,
    };
    Ok(state.store.update_agency(&s.actor(), &scope, id, update).await?)
}

async fn update_agency(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AgencyUpdateInput>,
) -> ApiResult<Json<vanban_store::AgencyRecord>> {
    Ok(Json(update_agency_as(&state, &s, parse_id(&id)?, &input).await?))
}
