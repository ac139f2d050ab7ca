//! Part 4 at the edge: the clerk's issuing desk and incoming desk, the leader's assignment,
//! the handler's worklist, the sender's tracking view, revocation, scanned paper, the
//! registers as reports, notifications. Pages (Vietnamese) and the JSON API call the same
//! functions; the rules live in the domain and the store.

use std::str::FromStr;

use askama::Template;
use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use vanban_domain::{
    AssignmentRole, ChangeKind, DeadlineState, DocumentId, DocumentType, EdxmlStatus, IncomingState, OutgoingState,
    Permission, Priority, RegisterDirection, RegisterId, UserId,
};
use vanban_pades::{SignOptions, Visual};
use vanban_store::{
    AssignRequest, ChangeRequest, HandleStep, IncomingDraft, IncomingFilter, IncomingRecord, IncomingVisibility,
    MetadataChange, NewIncoming, NewRegister,
};

use crate::AppState;
use crate::api::{ApiJson, parse_id};
use crate::auth::{ApiSession, PageSession, Session};
use crate::error::{ApiError, AppError, PageError};
use crate::issuing::{self, IssueInput};
use crate::pages::{FormData, Nav, Notice, format_vn_time, redirect_done, render_page, rerender_with};

/// Reminders go out this many days before a handling deadline.
pub const REMIND_DAYS: i64 = 2;

// ---------------------------------------------------------------------------------------------
// Rules of the edge: who sees what
// ---------------------------------------------------------------------------------------------

/// Which incoming documents a caller sees: clerks, leaders and archivists all of the agency's;
/// a unit head those assigned to their unit; anyone else what is assigned to them.
pub fn visibility(s: &Session) -> IncomingVisibility {
    let c = &s.caller;
    if c.has(Permission::RegisterIncoming) || c.has(Permission::ApproveDraft) || c.has(Permission::ManageArchive) {
        IncomingVisibility::All
    } else if c.has(Permission::AssignHandling)
        && let Some(unit) = s.user.user.unit_id
    {
        IncomingVisibility::Unit(c.user_id, unit)
    } else {
        IncomingVisibility::User(c.user_id)
    }
}

fn today() -> NaiveDate {
    crate::drafting::today_vn()
}

fn status_label(code: &str) -> &'static str {
    match code {
        "00" => "Chờ gửi qua trục liên thông",
        c => EdxmlStatus::from_code(c).map_or("Không rõ", EdxmlStatus::label_vi),
    }
}

// ---------------------------------------------------------------------------------------------
// Actions (shared by pages and API)
// ---------------------------------------------------------------------------------------------

async fn register_it(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    register: Option<RegisterId>,
) -> Result<IncomingRecord, AppError> {
    s.caller.require(Permission::RegisterIncoming)?;
    let list = issuing::registers(state, &s.actor(), &s.scope(), RegisterDirection::Incoming).await?;
    let register = match register {
        Some(r) => list.iter().find(|x| x.id == r).map(|x| x.id).ok_or(vanban_store::StoreError::NotFound)?,
        None => {
            let item = state.store.get_incoming(&s.scope(), IncomingVisibility::All, id).await?;
            let rules: Vec<_> = list.iter().map(|r| (r.id, r.rule())).collect();
            let secret = item.document.metadata.get("secrecy").and_then(|v| v.as_str()).is_some_and(|v| v != "normal");
            vanban_domain::pick_register(&rules, item.document.doc_type, secret)
                .or_else(|| list.first().map(|r| r.id))
                .ok_or(vanban_store::StoreError::NotFound)?
        }
    };
    Ok(state.store.register_incoming(&s.actor(), &s.scope(), id, register, today()).await?)
}

async fn return_it(state: &AppState, s: &Session, id: DocumentId, reason: String) -> Result<IncomingRecord, AppError> {
    s.caller.require(Permission::RegisterIncoming)?;
    Ok(state.store.return_incoming(&s.actor(), &s.scope(), id, reason).await?)
}

async fn assign_it(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    req: AssignRequest,
) -> Result<IncomingRecord, AppError> {
    s.caller.require(Permission::AssignHandling)?;
    // A unit head assigns only what reached their unit.
    state.store.get_incoming(&s.scope(), visibility(s), id).await?;
    if let Some(d) = req.deadline
        && d < today()
    {
        return Err(AppError::Refused {
            code: "deadline_in_past",
            message_vi: "Hạn xử lý không được ở trong quá khứ.",
        });
    }
    Ok(state.store.assign_incoming(&s.actor(), &s.scope(), id, req).await?)
}

async fn handle_it(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    step: HandleStep,
) -> Result<IncomingRecord, AppError> {
    s.caller.require(Permission::HandleDocument)?;
    Ok(state.store.handle_incoming(&s.actor(), &s.scope(), id, step).await?)
}

async fn answer_it(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    accept: bool,
    note: Option<String>,
) -> Result<IncomingRecord, AppError> {
    s.caller.require(Permission::RegisterIncoming)?;
    Ok(state.store.answer_change(&s.actor(), &s.scope(), id, accept, note).await?)
}

async fn change_it(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    req: ChangeRequest,
) -> Result<vanban_store::DocumentRecord, AppError> {
    s.caller.require(Permission::IssueDocument)?;
    Ok(state.store.request_change(&s.actor(), &s.scope(), id, req).await?)
}

/// The incoming document's PDF, unless it was withdrawn (a revoked document is cancelled on
/// the system: its metadata about the revocation stays, the file is no longer served).
async fn incoming_pdf(state: &AppState, s: &Session, id: DocumentId) -> Result<Bytes, AppError> {
    s.caller.require(Permission::ViewDocuments)?;
    let item = state.store.get_incoming(&s.scope(), visibility(s), id).await?;
    if item.state == IncomingState::Withdrawn {
        return Err(AppError::Refused {
            code: "document_withdrawn",
            message_vi: "Văn bản đã bị cơ quan gửi thu hồi hoặc thay thế.",
        });
    }
    let sha = item.pdf_sha256.ok_or(vanban_store::StoreError::NotFound)?;
    Ok(state.blobs.get(&sha).await?)
}

/// An appendix issued with a document, to its sender (listed on the register line).
async fn outgoing_appendix(state: &AppState, s: &Session, id: DocumentId, sha: &str) -> Result<Bytes, AppError> {
    s.caller.require(Permission::ViewDocuments)?;
    let entry = state.store.get_outgoing_entry(&s.scope(), id).await?.ok_or(vanban_store::StoreError::NotFound)?;
    if !entry.appendices.iter().any(|a| a.sha256 == sha) {
        return Err(vanban_store::StoreError::NotFound.into());
    }
    Ok(state.blobs.get(sha).await?)
}

/// An appendix of an incoming document, to whoever may see the document (not once withdrawn).
async fn incoming_appendix(state: &AppState, s: &Session, id: DocumentId, sha: &str) -> Result<Bytes, AppError> {
    s.caller.require(Permission::ViewDocuments)?;
    let item = state.store.get_incoming(&s.scope(), visibility(s), id).await?;
    if item.state == IncomingState::Withdrawn {
        return Err(AppError::Refused {
            code: "document_withdrawn",
            message_vi: "Văn bản đã bị cơ quan gửi thu hồi hoặc thay thế.",
        });
    }
    if !appendices_of(&item.document.metadata).iter().any(|a| a.sha256 == sha) {
        return Err(vanban_store::StoreError::NotFound.into());
    }
    Ok(state.blobs.get(sha).await?)
}

fn appendices_of(metadata: &serde_json::Value) -> Vec<vanban_store::IssuedAppendix> {
    metadata.get("appendices").and_then(|a| serde_json::from_value(a.clone()).ok()).unwrap_or_default()
}

fn pdf_response(bytes: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/pdf"), (header::CONTENT_DISPOSITION, "inline")], bytes).into_response()
}

async fn outgoing_appendix_get(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Response, PageError> {
    Ok(pdf_response(outgoing_appendix(&state, &s, parse_id(&id)?, &sha).await?))
}

async fn incoming_appendix_get(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Response, PageError> {
    Ok(pdf_response(incoming_appendix(&state, &s, parse_id(&id)?, &sha).await?))
}

async fn api_outgoing_appendix(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(pdf_response(outgoing_appendix(&state, &s, parse_id(&id)?, &sha).await?))
}

async fn api_incoming_appendix(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(pdf_response(incoming_appendix(&state, &s, parse_id(&id)?, &sha).await?))
}

/// A scanned paper document: checked against Decree 30's digitisation standard, kept byte
/// for byte, OCRed into a separate text, and the digitised copy signed with the agency's
/// image-less stamp (an incremental update: the scan's bytes stay a prefix of the copy).
pub async fn receive_scan(
    state: &AppState,
    s: &Session,
    pdf: Bytes,
    fields: &ScanFields,
    pin: &str,
) -> Result<IncomingRecord, AppError> {
    s.caller.require(Permission::RegisterIncoming)?;
    let policy = crate::scan::ScanPolicy::default();
    // The key first: a wrong PIN costs no OCR.
    let signer = issuing::agency_signer(state, &s.scope(), None, pin).await?;
    let text = crate::scan::ocr(&pdf, &policy).await?;
    let original = state.blobs.put(pdf.clone()).await?;
    let ocr = state.blobs.put(Bytes::from(text.joined().into_bytes())).await?;
    let now = Utc::now();
    let agency = s.agency.agency.name.as_str().to_owned();
    let mut opts = SignOptions::new(
        "vb_signature_copy",
        Visual::Stamp {
            lines: vec![
                "SAO Y".to_owned(),
                agency.clone(),
                now.with_timezone(&crate::pages::vn_offset()).format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            ],
        },
        now,
    );
    opts.name = Some(agency);
    opts.reason = Some("Số hóa văn bản giấy đến".to_owned());
    opts.font = state.pki().await?.font().clone();
    let signed = signer.sign(state, pdf.clone(), opts).await?;
    let copy = state.blobs.put(Bytes::from(signed)).await?;
    let doc_type = DocumentType::from_snake(fields.doc_type.trim()).unwrap_or(DocumentType::CongVan);
    let new = NewIncoming {
        source_key: format!("scan:{}", original.sha256),
        sender_code: fields.sender_code.trim().to_owned(),
        sender_name: fields.sender_name.clone(),
        symbol: fields.symbol.clone(),
        issued_on: fields.issued_on,
        draft: IncomingDraft {
            doc_type,
            subject: fields.subject.clone(),
            priority: Priority::from_snake(fields.priority.trim()).unwrap_or_default(),
            metadata: serde_json::json!({
                "scanned": true, "original_sha256": original.sha256, "ocr_engine": text.engine,
                "pages": text.pages.len(), "symbol": fields.symbol, "doc_type": doc_type,
            }),
        },
        pdf_sha256: Some(copy.sha256),
        ocr_sha256: Some(ocr.sha256),
        scanned: true,
    };
    Ok(state.store.receive_incoming(&s.actor(), &s.scope(), new).await?)
}

/// What the clerk types for a scanned document.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScanFields {
    #[serde(default)]
    pub sender_code: String,
    pub sender_name: String,
    pub symbol: String,
    #[serde(default)]
    pub issued_on: Option<NaiveDate>,
    pub subject: String,
    #[serde(default)]
    pub doc_type: String,
    #[serde(default)]
    pub priority: String,
}

// ---------------------------------------------------------------------------------------------
// Registers as reports
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// A date field the user cleared arrives empty: the default then.
    #[serde(default, deserialize_with = "empty_date")]
    pub from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "empty_date")]
    pub to: Option<NaiveDate>,
    pub register: Option<String>,
    /// pdf, xlsx or json.
    pub format: Option<String>,
}

fn empty_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => NaiveDate::from_str(s).map(Some).map_err(serde::de::Error::custom),
    }
}

fn dmy(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn dmy_t(t: DateTime<Utc>) -> String {
    t.with_timezone(&crate::pages::vn_offset()).format("%d/%m/%Y").to_string()
}

/// Builds a register report of `kind` for the caller's agency.
pub async fn register_report(
    state: &AppState,
    s: &Session,
    kind: vanban_render::RegisterKind,
    q: &ReportQuery,
) -> Result<vanban_render::RegisterReport, AppError> {
    s.caller.require(Permission::ViewDocuments)?;
    if !(s.caller.has(Permission::IssueDocument)
        || s.caller.has(Permission::RegisterIncoming)
        || s.caller.has(Permission::ApproveDraft)
        || s.caller.has(Permission::ManageArchive))
    {
        return Err(AppError::Forbidden("registers are the clerk's, the leader's and the archivist's"));
    }
    let to = q.to.unwrap_or_else(today);
    let from = q.from.unwrap_or_else(|| NaiveDate::from_ymd_opt(chrono::Datelike::year(&to), 1, 1).unwrap_or(to));
    let register: Option<RegisterId> = q.register.as_deref().filter(|r| !r.is_empty()).map(parse_id).transpose()?;
    let (rows, register_name) = match kind {
        vanban_render::RegisterKind::Outgoing => {
            let list = state.store.outgoing_register(&s.scope(), register, from, to).await?;
            let name = list.first().map_or_else(|| "Sổ văn bản đi".to_owned(), |r| r.register_name.clone());
            let rows = list
                .iter()
                .map(|r| {
                    vec![
                        r.entry.symbol.clone(),
                        dmy(r.entry.issued_on),
                        format!("{} — {}", r.doc_type.name_vi(), r.subject),
                        r.signer_name.clone().unwrap_or_default(),
                        r.recipients.join("; "),
                        "Văn thư (bản lưu điện tử)".to_owned(),
                        "1 (điện tử)".to_owned(),
                        r.entry.issued_at.map(dmy_t).unwrap_or_default(),
                        "Ký số".to_owned(),
                        if r.entry.state == "numbered" {
                            "Chờ hoàn tất ban hành".to_owned()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            (rows, if register.is_some() { name } else { "Sổ đăng ký văn bản đi".to_owned() })
        }
        vanban_render::RegisterKind::Incoming | vanban_render::RegisterKind::Tracking => {
            // The register holds what was registered in the period (numbered on registration).
            let filter = IncomingFilter {
                registered_from: Some(from),
                registered_to: Some(to),
                limit: 100_000,
                ..Default::default()
            };
            let mut list = state.store.list_incoming(&s.scope(), IncomingVisibility::All, filter).await?;
            list.retain(|i| i.arrival_number.is_some());
            list.sort_by_key(|i| (i.year, i.arrival_number));
            let users = |i: &IncomingRecord| {
                i.assignments
                    .iter()
                    .filter(|a| a.role != AssignmentRole::Info)
                    .map(|a| format!("{} ({})", a.full_name, a.role.label_vi()))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let rows = list
                .iter()
                .map(|i| match kind {
                    vanban_render::RegisterKind::Incoming => vec![
                        dmy_t(i.arrived_at),
                        format!("{:02}", i.arrival_number.unwrap_or_default()),
                        i.sender_name.clone(),
                        i.symbol.clone(),
                        i.issued_on.map(dmy).unwrap_or_default(),
                        format!("{} — {}", i.document.doc_type.name_vi(), i.document.subject),
                        users(i),
                        i.assignments.first().map(|a| dmy_t(a.assigned_at)).unwrap_or_default(),
                        String::new(),
                        if i.scanned { "Bản giấy, đã số hóa".to_owned() } else { String::new() },
                    ],
                    _ => vec![
                        format!("{:02}", i.arrival_number.unwrap_or_default()),
                        format!(
                            "{} số {}{} của {}",
                            i.document.doc_type.name_vi(),
                            i.symbol,
                            i.issued_on.map(|d| format!(" ngày {}", dmy(d))).unwrap_or_default(),
                            i.sender_name
                        ),
                        users(i),
                        i.deadline.map(dmy).unwrap_or_default(),
                        match i.state {
                            IncomingState::Done => format!("Hoàn thành {}", i.done_at.map(dmy_t).unwrap_or_default()),
                            other => {
                                let d = DeadlineState::of(i.deadline, today(), REMIND_DAYS);
                                if d == DeadlineState::Overdue {
                                    format!("{} (quá hạn)", other.label_vi())
                                } else {
                                    other.label_vi().to_owned()
                                }
                            }
                        },
                        i.response_document_id.map(|r| r.to_string()).unwrap_or_default(),
                        i.result_note.clone().unwrap_or_default(),
                    ],
                })
                .collect();
            (rows, "Sổ đăng ký văn bản đến".to_owned())
        }
    };
    // The reply's number/symbol instead of its id, where it was issued.
    let mut rows: Vec<Vec<String>> = rows;
    if kind == vanban_render::RegisterKind::Tracking {
        for row in &mut rows {
            if let Some(cell) = row.get_mut(5)
                && let Ok(id) = DocumentId::from_str(cell)
            {
                *cell = state.store.get_outgoing_entry(&s.scope(), id).await?.map(|e| e.symbol).unwrap_or_default();
            }
        }
    }
    let agency = &s.agency.agency;
    Ok(vanban_render::RegisterReport {
        kind,
        agency_name: agency.name.as_str().to_owned(),
        parent_name: agency.parent_name.as_ref().map(|n| n.as_str().to_owned()),
        register_name,
        from,
        to,
        rows,
        generated_at: format_vn_time(Utc::now()),
    })
}

async fn report_response(state: &AppState, s: &Session, kind_s: &str, q: &ReportQuery) -> Result<Response, AppError> {
    let kind = match kind_s {
        "outgoing" => vanban_render::RegisterKind::Outgoing,
        "incoming" => vanban_render::RegisterKind::Incoming,
        "tracking" => vanban_render::RegisterKind::Tracking,
        _ => return Err(vanban_store::StoreError::NotFound.into()),
    };
    let report = register_report(state, s, kind, q).await?;
    let stem = format!("so-{kind_s}-{}-{}", report.from, report.to);
    match q.format.as_deref().unwrap_or("pdf") {
        "json" => Ok(Json(serde_json::json!({
            "columns": kind.columns(), "rows": report.rows, "from": report.from, "to": report.to, "title": kind.title_vi(),
        }))
        .into_response()),
        "xlsx" => {
            let bytes = tokio::task::spawn_blocking(move || vanban_render::register_xlsx(&report))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))??;
            Ok(attachment(bytes, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", &format!("{stem}.xlsx")))
        }
        "pdf" => {
            let renderer = state.renderer()?;
            let bytes = tokio::task::spawn_blocking(move || renderer.register_pdf(&report))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))??;
            Ok(attachment(bytes, "application/pdf", &format!("{stem}.pdf")))
        }
        _ => Err(AppError::BadRequest("format must be pdf, xlsx or json".into())),
    }
}

fn attachment(bytes: Vec<u8>, mime: &'static str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// JSON API
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    overdue: Option<bool>,
    /// At most 1000 a page (default 200).
    limit: Option<i64>,
    /// How many to skip: `offset=1000` is the second page of 1000.
    offset: Option<i64>,
}

fn filter_of(q: &ListQuery) -> Result<IncomingFilter, AppError> {
    let states = match q.state.as_deref().filter(|s| !s.is_empty()) {
        Some(list) => list
            .split(',')
            .map(|x| IncomingState::from_str(x).map_err(AppError::from))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    Ok(IncomingFilter {
        states,
        overdue_on: q.overdue.unwrap_or(false).then(today),
        limit: q.limit.unwrap_or(200).clamp(1, 1000),
        offset: q.offset.unwrap_or(0).max(0),
        ..Default::default()
    })
}

async fn api_issue(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<IssueInput>,
) -> Result<Response, ApiError> {
    let out = issuing::issue(&state, &s, parse_id(&id)?, input).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn api_deliveries(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.caller.require(Permission::ViewDocuments)?;
    let id: DocumentId = parse_id(&id)?;
    let entry = state.store.get_outgoing_entry(&s.scope(), id).await?;
    let list = state.store.list_deliveries(&s.scope(), id).await?;
    let view: Vec<_> = list
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            v["status_label"] = status_label(&d.status).into();
            v
        })
        .collect();
    Ok(Json(serde_json::json!({ "entry": entry, "deliveries": view })).into_response())
}

#[derive(Deserialize)]
struct ChangeInput {
    kind: String,
    reason: String,
    #[serde(default)]
    replacement_id: Option<String>,
    /// For an update: what it corrects (`subject`, `priority`, `due_date`).
    #[serde(default)]
    update: Option<MetadataChange>,
}

async fn api_change(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ChangeInput>,
) -> Result<Response, ApiError> {
    let kind = ChangeKind::from_snake(input.kind.trim())
        .ok_or(AppError::BadRequest("kind must be revoke, update or replace".into()))?;
    let replacement = input.replacement_id.as_deref().filter(|r| !r.is_empty()).map(parse_id).transpose()?;
    let doc = change_it(
        &state,
        &s,
        parse_id(&id)?,
        ChangeRequest { kind, reason: input.reason, replacement, update: input.update },
    )
    .await?;
    Ok(Json(doc).into_response())
}

async fn api_issuing_queue(State(state): State<AppState>, ApiSession(s): ApiSession) -> Result<Response, ApiError> {
    Ok(Json(issuing_queue(&state, &s).await?).into_response())
}

/// Signed documents waiting for a number, and numbered ones an interruption left: the most
/// urgent first, then the oldest.
async fn issuing_queue(state: &AppState, s: &Session) -> Result<Vec<vanban_store::DocumentRecord>, AppError> {
    s.caller.require(Permission::IssueDocument)?;
    let mut list = state.store.list_documents(&s.scope(), Some(OutgoingState::Numbered.as_str()), 500).await?;
    list.extend(state.store.list_documents(&s.scope(), Some(OutgoingState::Signed.as_str()), 500).await?);
    // Those an interruption left numbered first (their number is taken), then the most urgent.
    list.sort_by_key(|d| {
        (d.state != OutgoingState::Numbered.as_str(), std::cmp::Reverse(issuing::priority_of(d).code()), d.updated_at)
    });
    Ok(list)
}

#[derive(Deserialize)]
struct RegisterInput {
    direction: String,
    name: String,
    #[serde(default)]
    doc_types: Vec<String>,
    #[serde(default)]
    secret: bool,
    #[serde(default)]
    suffix: String,
}

async fn api_registers(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, ApiError> {
    s.caller.require(Permission::ViewDocuments)?;
    let direction = RegisterDirection::from_snake(q.get("direction").map_or("outgoing", String::as_str))
        .ok_or(AppError::BadRequest("direction".into()))?;
    Ok(Json(state.store.list_registers(&s.scope(), direction).await?).into_response())
}

async fn api_create_register(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    ApiJson(input): ApiJson<RegisterInput>,
) -> Result<Response, ApiError> {
    Ok((StatusCode::CREATED, Json(create_register(&state, &s, input).await?)).into_response())
}

async fn create_register(
    state: &AppState,
    s: &Session,
    input: RegisterInput,
) -> Result<vanban_store::RegisterRecord, AppError> {
    if !(s.caller.has(Permission::ManageUsers) || s.caller.has(Permission::IssueDocument)) {
        return Err(AppError::Forbidden("registers are configured by the clerk or the administrator"));
    }
    let direction = RegisterDirection::from_snake(input.direction.trim())
        .ok_or(AppError::BadRequest("direction must be outgoing or incoming".into()))?;
    let doc_types = input
        .doc_types
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| DocumentType::from_str(t).map_err(AppError::from))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(state
        .store
        .create_register(
            &s.actor(),
            &s.scope(),
            NewRegister { direction, name: input.name, doc_types, secret: input.secret, suffix: input.suffix },
        )
        .await?)
}

async fn api_report(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(kind): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    Ok(report_response(&state, &s, &kind, &q).await?)
}

async fn api_incoming(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    s.caller.require(Permission::ViewDocuments)?;
    Ok(Json(state.store.list_incoming(&s.scope(), visibility(&s), filter_of(&q)?).await?).into_response())
}

async fn api_incoming_one(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.caller.require(Permission::ViewDocuments)?;
    let id: DocumentId = parse_id(&id)?;
    let item = state.store.get_incoming(&s.scope(), visibility(&s), id).await?;
    let duplicates: Vec<DocumentId> =
        state.store.incoming_duplicates(&s.scope(), visibility(&s), id).await?.iter().map(|d| d.document.id).collect();
    let mut v = serde_json::to_value(&item).map_err(|e| AppError::Internal(e.to_string()))?;
    v["duplicates"] = serde_json::to_value(duplicates).unwrap_or_default();
    v["state_label"] = item.state.label_vi().into();
    Ok(Json(v).into_response())
}

async fn api_incoming_pdf(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(pdf_response(incoming_pdf(&state, &s, parse_id(&id)?).await?))
}

#[derive(Deserialize, Default)]
struct StepInput {
    #[serde(default)]
    register_id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    lead: Option<String>,
    #[serde(default)]
    co: Vec<String>,
    #[serde(default)]
    info: Vec<String>,
    #[serde(default)]
    deadline: Option<NaiveDate>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    response_document_id: Option<String>,
    #[serde(default)]
    accept: Option<bool>,
}

fn user_ids(list: &[String]) -> Result<Vec<UserId>, AppError> {
    list.iter().filter(|x| !x.trim().is_empty()).map(|x| parse_id(x.trim())).collect()
}

/// One incoming action by name, from the API's JSON or a page's form.
async fn step(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    action: &str,
    input: StepInput,
) -> Result<IncomingRecord, AppError> {
    match action {
        "register" => {
            let r = input.register_id.as_deref().filter(|r| !r.is_empty()).map(parse_id).transpose()?;
            register_it(state, s, id, r).await
        }
        "return" => return_it(state, s, id, input.reason.unwrap_or_default()).await,
        "assign" => {
            let lead = input
                .lead
                .as_deref()
                .filter(|l| !l.is_empty())
                .ok_or(vanban_domain::DomainError::FieldRequired { field: "lead" })?;
            let req = AssignRequest {
                lead: parse_id(lead)?,
                co: user_ids(&input.co)?,
                info: user_ids(&input.info)?,
                deadline: input.deadline,
                note: input.note,
            };
            assign_it(state, s, id, req).await
        }
        "start" => handle_it(state, s, id, HandleStep::Start).await,
        "forward" => {
            let to = input
                .to
                .as_deref()
                .filter(|l| !l.is_empty())
                .ok_or(vanban_domain::DomainError::FieldRequired { field: "to" })?;
            handle_it(state, s, id, HandleStep::Forward { to: parse_id(to)?, note: input.note }).await
        }
        "finish" => {
            let response = input.response_document_id.as_deref().filter(|r| !r.is_empty()).map(parse_id).transpose()?;
            // The result is what the sender and the register read: a note, or a reply document.
            let note = input.note.filter(|n| !n.trim().is_empty());
            if note.is_none() && response.is_none() {
                return Err(vanban_domain::DomainError::FieldRequired { field: "result" }.into());
            }
            handle_it(state, s, id, HandleStep::Finish { note, response }).await
        }
        "answer" => answer_it(state, s, id, input.accept.unwrap_or(true), input.note).await,
        _ => Err(vanban_store::StoreError::NotFound.into()),
    }
}

async fn api_step(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path((id, action)): Path<(String, String)>,
    ApiJson(input): ApiJson<StepInput>,
) -> Result<Response, ApiError> {
    Ok(Json(step(&state, &s, parse_id(&id)?, &action, input).await?).into_response())
}

async fn api_notifications(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let unread = q.get("unread").is_some_and(|v| v == "true" || v == "1");
    Ok(Json(state.store.list_notifications(&s.scope(), unread, 200).await?).into_response())
}

#[derive(Deserialize)]
struct ReadInput {
    #[serde(default)]
    ids: Option<Vec<uuid::Uuid>>,
}

async fn api_notifications_read(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    ApiJson(input): ApiJson<ReadInput>,
) -> Result<Response, ApiError> {
    let n = state.store.mark_notifications_read(&s.scope(), input.ids).await?;
    Ok(Json(serde_json::json!({ "marked": n })).into_response())
}

/// A multipart upload: `file` (the scanned PDF), `pin`, `csrf` (pages) and the [`ScanFields`].
async fn read_scan(mut m: Multipart) -> Result<(Bytes, ScanFields, String, String), AppError> {
    let mut pdf = None;
    let mut pairs = serde_json::Map::new();
    let mut pin = String::new();
    let mut csrf = String::new();
    while let Some(field) = m.next_field().await.map_err(|e| AppError::BadRequest(e.to_string()))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            pdf = Some(field.bytes().await.map_err(|e| AppError::BadRequest(e.to_string()))?);
        } else {
            let value = field.text().await.map_err(|e| AppError::BadRequest(e.to_string()))?;
            if name == "pin" {
                pin = value;
            } else if name == "csrf" {
                csrf = value;
            } else if name == "issued_on" {
                if !value.trim().is_empty() {
                    pairs.insert(name, value.trim().into());
                }
            } else {
                pairs.insert(name, value.into());
            }
        }
    }
    let pdf = pdf.ok_or(vanban_domain::DomainError::FieldRequired { field: "file" })?;
    let fields: ScanFields =
        serde_json::from_value(serde_json::Value::Object(pairs)).map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok((pdf, fields, pin, csrf))
}

pub async fn api_scan(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    m: Multipart,
) -> Result<Response, ApiError> {
    let (pdf, fields, pin, _) = read_scan(m).await?;
    let rec = receive_scan(&state, &s, pdf, &fields, &pin).await?;
    Ok((StatusCode::CREATED, Json(rec)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

struct QueueRow {
    id: String,
    doc_type: &'static str,
    subject: String,
    priority: &'static str,
    urgent: bool,
    numbered: bool,
    symbol: String,
}

#[derive(Template)]
#[template(path = "issuing.html")]
struct IssuingPage {
    nav: Nav,
    notice: Option<Notice>,
    rows: Vec<QueueRow>,
}

async fn issuing_page(state: &AppState, s: &Session, notice: Option<Notice>) -> Result<Response, PageError> {
    let queue = issuing_queue(state, s).await?;
    let mut rows = Vec::new();
    for d in &queue {
        let p = issuing::priority_of(d);
        let symbol = match d.state.as_str() {
            "numbered" => state.store.get_outgoing_entry(&s.scope(), d.id).await?.map(|e| e.symbol).unwrap_or_default(),
            _ => String::new(),
        };
        rows.push(QueueRow {
            id: d.id.to_string(),
            doc_type: d.doc_type.name_vi(),
            subject: d.subject.clone(),
            priority: p.label_vi(),
            urgent: p.is_urgent(),
            numbered: d.state == "numbered",
            symbol,
        });
    }
    render_page(StatusCode::OK, &IssuingPage { nav: Nav::of(s), notice, rows })
}

#[derive(Deserialize)]
pub(crate) struct DoneQ {
    pub(crate) done: Option<String>,
}

async fn issuing_get(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Query(q): Query<DoneQ>,
) -> Result<Response, PageError> {
    issuing_page(&state, &s, Notice::done(q.done.as_deref())).await
}

#[derive(Template)]
#[template(path = "issue_form.html")]
struct IssueFormPage {
    nav: Nav,
    notice: Option<Notice>,
    id: String,
    subject: String,
    doc_type: &'static str,
    priority: &'static str,
    urgent: bool,
    numbered: Option<String>,
    /// The symbol, when the document is issued already (no form then).
    issued: Option<String>,
    named: Vec<String>,
    /// (code, name, ticked)
    agencies: Vec<(String, String, bool)>,
    registers: Vec<(String, String)>,
    other_codes: String,
}

/// What the clerk sent, kept on the form when issuing failed (a wrong PIN must not clear the
/// ticked recipients).
struct IssueFormInput {
    recipients: Vec<String>,
    other_codes: String,
}

async fn issue_form_page(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    notice: Option<Notice>,
    sent: Option<&IssueFormInput>,
) -> Result<Response, PageError> {
    s.caller.require(Permission::IssueDocument)?;
    let doc = state.store.get_document(&s.scope(), id).await?;
    let p = issuing::priority_of(&doc);
    let entry = state.store.get_outgoing_entry(&s.scope(), id).await?;
    let numbered = entry.as_ref().filter(|e| e.state == "numbered").map(|e| e.symbol.clone());
    let issued = entry.as_ref().filter(|e| e.state != "numbered").map(|e| e.symbol.clone());
    let named: Vec<vanban_domain::Recipient> =
        doc.metadata.get("recipients").and_then(|r| serde_json::from_value(r.clone()).ok()).unwrap_or_default();
    // The agencies the document names are ticked at first (by code, or by name without the
    // marks and case); after a failed attempt, what the clerk ticked.
    // A name as a draft lists it ("- Sở Y tế;") compared without the list's marks.
    let key =
        |name: &str| vanban_domain::fold_key(name.trim_matches(|c: char| c.is_whitespace() || "-–+;,.".contains(c)));
    let mut folded: Vec<String> = named.iter().map(|r| key(&r.name)).collect();
    // A công văn's "Kính gửi" names its addressees ("Nơi nhận: Như trên" means them).
    let versions = state.store.list_versions(&s.scope(), id).await?;
    let content =
        versions.last().and_then(|v| serde_json::from_value::<crate::drafting::DraftContent>(v.content.clone()).ok());
    folded.extend(content.iter().flat_map(|c| c.addressees.iter()).map(|a| key(a)));
    let agencies = state
        .store
        .list_agencies()
        .await?
        .into_iter()
        .filter(|a| a.agency.id != s.caller.agency_id)
        .map(|a| {
            let code = a.agency.code.as_str().to_owned();
            let ticked = match sent {
                Some(sent) => sent.recipients.contains(&code),
                None => {
                    named.iter().any(|r| r.code.as_ref().is_some_and(|c| c.as_str() == code))
                        || folded.contains(&key(a.agency.name.as_str()))
                }
            };
            (code, a.agency.name.as_str().to_owned(), ticked)
        })
        .collect();
    let named = named.into_iter().map(|r| r.name).collect();
    let registers = state
        .store
        .list_registers(&s.scope(), RegisterDirection::Outgoing)
        .await?
        .into_iter()
        .map(|r| (r.id.to_string(), r.name))
        .collect();
    render_page(
        StatusCode::OK,
        &IssueFormPage {
            nav: Nav::of(s),
            notice,
            id: id.to_string(),
            subject: doc.subject.clone(),
            doc_type: doc.doc_type.name_vi(),
            priority: p.label_vi(),
            urgent: p.is_urgent(),
            numbered,
            issued,
            named,
            agencies,
            registers,
            other_codes: sent.map(|f| f.other_codes.clone()).unwrap_or_default(),
        },
    )
}

async fn issue_get(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    issue_form_page(&state, &s, parse_id(&id)?, None, None).await
}

async fn issue_post(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let doc_id: DocumentId = parse_id(&id)?;
    let sent =
        IssueFormInput { recipients: form.all("recipient"), other_codes: form.opt("other_codes").unwrap_or_default() };
    let r = async {
        let register_id = form.opt("register_id").map(|r| parse_id(&r)).transpose()?;
        let mut recipients = sent.recipients.clone();
        recipients.extend(form.opt("other_codes"));
        issuing::issue(
            &state,
            &s,
            doc_id,
            IssueInput { certificate_id: None, pin: form.get("pin").to_owned(), register_id, recipients },
        )
        .await
    }
    .await;
    match r {
        Ok(_) => Ok(redirect_done(&format!("/documents/{id}/tracking"), "issued")),
        Err(e) => rerender_with(e, |n| issue_form_page(&state, &s, doc_id, n, Some(&sent))).await,
    }
}

struct TrackRow {
    recipient: String,
    channel: &'static str,
    status: &'static str,
    /// The sender asked this recipient to revoke, update or replace, and the recipient has not
    /// answered yet.
    awaiting: Option<&'static str>,
    code: String,
    note: String,
    at: String,
    events: Vec<(String, &'static str, String, String)>,
}

#[derive(Template)]
#[template(path = "tracking.html")]
struct TrackingPage {
    nav: Nav,
    notice: Option<Notice>,
    id: String,
    subject: String,
    state: &'static str,
    symbol: String,
    issued_on: String,
    rows: Vec<TrackRow>,
    can_change: bool,
    appendices: Vec<(String, String)>,
    /// The urgencies an update may set: (code, label).
    priorities: Vec<(&'static str, &'static str)>,
}

async fn tracking_page(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    notice: Option<Notice>,
) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewDocuments)?;
    let doc = state.store.get_document(&s.scope(), id).await?;
    let entry = state.store.get_outgoing_entry(&s.scope(), id).await?;
    let list = state.store.list_deliveries(&s.scope(), id).await?;
    let rows = list
        .iter()
        .map(|d| TrackRow {
            recipient: d.recipient_name.clone(),
            channel: if d.channel == "internal" { "Trong hệ thống" } else { "Liên thông" },
            status: status_label(&d.status),
            // A request (13) after the recipient's last answer to one (15 or 16). Other systems
            // report whole seconds: such an answer counts from the start of its second.
            awaiting: {
                let asked = d.events.iter().filter(|e| e.code == "13").map(|e| e.at).max();
                let answered = |e: &&vanban_store::DeliveryEvent| {
                    let whole = e.at.timestamp_subsec_nanos() == 0;
                    asked.is_some_and(|a| e.at >= a || (whole && e.at.timestamp() >= a.timestamp()))
                };
                let open = asked.is_some()
                    && !d.events.iter().filter(|e| matches!(e.code.as_str(), "15" | "16")).any(|e| answered(&e));
                open.then_some("Chờ nơi nhận xác nhận yêu cầu thu hồi, cập nhật hoặc thay thế")
            },
            code: d.status.clone(),
            note: d.status_note.clone().unwrap_or_default(),
            at: format_vn_time(d.status_at),
            events: d
                .events
                .iter()
                .map(|e| {
                    let when = format_vn_time(e.at);
                    (
                        e.code.clone(),
                        status_label(&e.code),
                        e.description.clone().unwrap_or_default(),
                        match e.actor_name.as_deref().filter(|n| !n.is_empty()) {
                            Some(who) => format!("{when} · {who}"),
                            None => when,
                        },
                    )
                })
                .collect(),
        })
        .collect();
    let st = OutgoingState::from_snake(&doc.state).unwrap_or(OutgoingState::Draft);
    render_page(
        StatusCode::OK,
        &TrackingPage {
            nav: Nav::of(s),
            notice,
            id: id.to_string(),
            subject: doc.subject.clone(),
            state: st.label_vi(),
            symbol: entry.as_ref().map(|e| e.symbol.clone()).unwrap_or_default(),
            issued_on: entry.as_ref().map(|e| dmy(e.issued_on)).unwrap_or_default(),
            rows,
            can_change: s.caller.has(Permission::IssueDocument)
                && matches!(st, OutgoingState::Issued | OutgoingState::Delivered),
            appendices: entry
                .as_ref()
                .map(|e| e.appendices.iter().map(|a| (a.sha256.clone(), a.name.clone())).collect())
                .unwrap_or_default(),
            priorities: Priority::ALL.iter().map(|p| (p.as_str(), p.label_vi())).collect(),
        },
    )
}

async fn tracking_get(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    Query(q): Query<DoneQ>,
) -> Result<Response, PageError> {
    tracking_page(&state, &s, parse_id(&id)?, Notice::done(q.done.as_deref())).await
}

/// The correction an update form carries: a new subject, urgency and reply deadline, each
/// left blank to keep it.
fn change_from_form(form: &FormData) -> Result<MetadataChange, AppError> {
    let priority = match form.opt("new_priority") {
        Some(p) => Some(Priority::from_snake(&p).ok_or(AppError::BadRequest("new_priority".into()))?),
        None => None,
    };
    let due_date = match form.opt("new_due_date") {
        Some(d) => Some(
            chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| AppError::BadRequest("new_due_date".into()))?,
        ),
        None => None,
    };
    Ok(MetadataChange { subject: form.opt("new_subject"), priority, due_date })
}

async fn change_post(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let doc_id: DocumentId = parse_id(&id)?;
    let r = async {
        let kind = ChangeKind::from_snake(form.get("kind")).ok_or(AppError::BadRequest("kind".into()))?;
        let replacement = form.opt("replacement_id").map(|r| parse_id(&r)).transpose()?;
        // The form shows the correction's fields always; they count for an update only.
        let update = (kind == ChangeKind::Update).then(|| change_from_form(&form)).transpose()?;
        change_it(
            &state,
            &s,
            doc_id,
            ChangeRequest { kind, reason: form.get("reason").to_owned(), replacement, update },
        )
        .await
    }
    .await;
    match r {
        Ok(_) => Ok(redirect_done(&format!("/documents/{id}/tracking"), "change_requested")),
        Err(e) => rerender_with(e, |n| tracking_page(&state, &s, doc_id, n)).await,
    }
}

struct InRow {
    id: String,
    number: String,
    symbol: String,
    sender: String,
    subject: String,
    priority: &'static str,
    urgent: bool,
    state: &'static str,
    deadline: String,
    overdue: bool,
    due_soon: bool,
    arrived: String,
}

fn in_row(i: &IncomingRecord) -> InRow {
    let d = if matches!(i.state, IncomingState::Done | IncomingState::Returned | IncomingState::Withdrawn) {
        DeadlineState::None
    } else {
        DeadlineState::of(i.deadline, today(), REMIND_DAYS)
    };
    InRow {
        id: i.document.id.to_string(),
        number: i.arrival_number.map(|n| format!("{n:02}")).unwrap_or_default(),
        symbol: i.symbol.clone(),
        sender: i.sender_name.clone(),
        subject: i.document.subject.clone(),
        priority: i.priority.label_vi(),
        urgent: i.priority.is_urgent(),
        state: i.state.label_vi(),
        deadline: i.deadline.map(dmy).unwrap_or_default(),
        overdue: d == DeadlineState::Overdue,
        due_soon: d == DeadlineState::DueSoon,
        arrived: format_vn_time(i.arrived_at),
    }
}

#[derive(Template)]
#[template(path = "incoming.html")]
struct IncomingPage {
    nav: Nav,
    notice: Option<Notice>,
    title: &'static str,
    rows: Vec<InRow>,
    filter: String,
    can_scan: bool,
    /// The scan intake form's values (kept after an error; the file must be chosen again).
    scan: ScanFields,
    scan_issued_on: String,
    /// (code, name, chosen) of the document types and priorities a scan is recorded with.
    scan_types: Vec<(&'static str, &'static str, bool)>,
    scan_priorities: Vec<(&'static str, &'static str, bool)>,
    /// Overdue documents per unit of the lead handler.
    by_unit: Vec<(String, usize)>,
}

async fn incoming_list(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    let filter = q.get("f").cloned().unwrap_or_default();
    let notice = Notice::done(q.get("done").map(String::as_str));
    incoming_list_page(&state, &s, filter, notice, ScanFields::default()).await
}

/// The incoming list under `filter`, with the scan intake form filled with `scan` (what the
/// clerk typed before an error).
async fn incoming_list_page(
    state: &AppState,
    s: &Session,
    filter: String,
    notice: Option<Notice>,
    scan: ScanFields,
) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewDocuments)?;
    let (title, f) = match filter.as_str() {
        "arrived" => {
            ("Văn bản đến chờ tiếp nhận", IncomingFilter { states: vec![IncomingState::Arrived], ..Default::default() })
        }
        "registered" => (
            "Văn bản đến chờ phân công",
            IncomingFilter { states: vec![IncomingState::Registered], ..Default::default() },
        ),
        "working" => (
            "Văn bản đang xử lý",
            IncomingFilter { states: vec![IncomingState::Assigned, IncomingState::InProgress], ..Default::default() },
        ),
        "overdue" => ("Văn bản quá hạn xử lý", IncomingFilter { overdue_on: Some(today()), ..Default::default() }),
        "done" => ("Văn bản đã hoàn thành", IncomingFilter { states: vec![IncomingState::Done], ..Default::default() }),
        _ => ("Văn bản đến", IncomingFilter::default()),
    };
    let list = state.store.list_incoming(&s.scope(), visibility(s), IncomingFilter { limit: 1000, ..f }).await?;
    // Overdue documents counted by the lead handler's unit (Appendix VI: overdue lists per unit).
    let by_unit = if filter == "overdue" {
        let units = state.store.list_units(&s.scope()).await?;
        let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for i in &list {
            let unit = i
                .assignments
                .iter()
                .find(|a| a.role == AssignmentRole::Lead)
                .and_then(|a| a.unit_id)
                .and_then(|u| units.iter().find(|x| x.id == u))
                .map_or_else(|| "Chưa xác định đơn vị".to_owned(), |u| u.name.clone());
            *counts.entry(unit).or_default() += 1;
        }
        counts.into_iter().collect()
    } else {
        Vec::new()
    };
    let rows = list.iter().take(300).map(in_row).collect();
    render_page(
        StatusCode::OK,
        &IncomingPage {
            nav: Nav::of(s),
            notice,
            title,
            rows,
            filter,
            can_scan: s.caller.has(Permission::RegisterIncoming),
            scan_issued_on: scan.issued_on.map(|d| d.to_string()).unwrap_or_default(),
            scan_types: DocumentType::ALL
                .iter()
                .map(|t| {
                    let chosen = if scan.doc_type.is_empty() {
                        *t == DocumentType::CongVan
                    } else {
                        t.as_str() == scan.doc_type
                    };
                    (t.as_str(), t.name_vi(), chosen)
                })
                .collect(),
            scan_priorities: [Priority::Normal, Priority::Urgent, Priority::VeryUrgent, Priority::Flash]
                .iter()
                .map(|p| (p.as_str(), p.label_vi(), p.as_str() == scan.priority))
                .collect(),
            scan,
            by_unit,
        },
    )
}

struct AssignView {
    name: String,
    role: &'static str,
    deadline: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "incoming_item.html")]
struct IncomingItemPage {
    nav: Nav,
    notice: Option<Notice>,
    id: String,
    row: InRow,
    doc_type: &'static str,
    issued_on: String,
    register_no: String,
    returned_reason: String,
    change: Option<(String, String, String)>,
    result_note: String,
    /// The leader's instruction with the lead handler's assignment (for the agency only: it is
    /// not reported to the sender).
    instruction: String,
    withdrawn: bool,
    scanned: bool,
    duplicates: Vec<(String, String, String)>,
    assignments: Vec<AssignView>,
    users: Vec<(String, String)>,
    can_register: bool,
    can_assign: bool,
    can_start: bool,
    is_lead: bool,
    can_answer: bool,
    drafts: Vec<(String, String)>,
    appendices: Vec<(String, String)>,
    typed: Typed,
}

/// What the user sent on a form of the page that failed, shown again (a deadline in the
/// past must not clear the handlers the leader picked).
#[derive(Default)]
struct Typed {
    action: String,
    lead: String,
    co: Vec<String>,
    info: Vec<String>,
    deadline: String,
    note: String,
    reason: String,
    to: String,
}

impl Typed {
    fn of(action: &str, form: &FormData) -> Typed {
        Typed {
            action: action.to_owned(),
            lead: form.get("lead").to_owned(),
            co: form.all("co"),
            info: form.all("info"),
            deadline: form.get("deadline").to_owned(),
            note: form.get("note").to_owned(),
            reason: form.get("reason").to_owned(),
            to: form.get("to").to_owned(),
        }
    }

    /// The value typed in `field` on the form of `action`, or nothing.
    fn on(&self, action: &str, field: &str) -> &str {
        if self.action != action {
            return "";
        }
        match field {
            "lead" => &self.lead,
            "deadline" => &self.deadline,
            "note" => &self.note,
            "reason" => &self.reason,
            "to" => &self.to,
            _ => "",
        }
    }
}

async fn item_page(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    notice: Option<Notice>,
) -> Result<Response, PageError> {
    item_page_with(state, s, id, notice, Typed::default()).await
}

async fn item_page_with(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    notice: Option<Notice>,
    typed: Typed,
) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewDocuments)?;
    let item = state.store.get_incoming(&s.scope(), visibility(s), id).await?;
    let dups = state.store.incoming_duplicates(&s.scope(), visibility(s), id).await?;
    let me = s.caller.user_id;
    let mine = item.assignments.iter().find(|a| a.active && a.user_id == me).map(|a| a.role);
    let users = if s.caller.has(Permission::AssignHandling) || mine == Some(AssignmentRole::Lead) {
        state
            .store
            .list_users(&s.scope())
            .await?
            .into_iter()
            .filter(|u| u.user.active)
            // "Name — position", so that two people of the same name are told apart.
            .map(|u| {
                let name = match &u.user.position {
                    Some(p) => format!("{} — {}", u.user.full_name, p.as_str()),
                    None => u.user.full_name.as_str().to_owned(),
                };
                (u.user.id.to_string(), name)
            })
            .collect()
    } else {
        Vec::new()
    };
    let drafts = if mine == Some(AssignmentRole::Lead) {
        state
            .store
            .list_documents(&s.scope(), None, 50)
            .await?
            .into_iter()
            .filter(|d| d.direction == vanban_store::Direction::Outgoing)
            .map(|d| (d.id.to_string(), d.subject))
            .collect()
    } else {
        Vec::new()
    };
    let st = item.state;
    let page = IncomingItemPage {
        nav: Nav::of(s),
        notice,
        id: id.to_string(),
        row: in_row(&item),
        doc_type: item.document.doc_type.name_vi(),
        issued_on: item.issued_on.map(dmy).unwrap_or_default(),
        register_no: item
            .arrival_number
            .map(|n| format!("{n:02}/{}", item.year.unwrap_or_default()))
            .unwrap_or_default(),
        returned_reason: item.returned_reason.clone().unwrap_or_default(),
        change: item.change_kind.map(|k| {
            (
                k.label_vi().to_owned(),
                item.change_reason.clone().unwrap_or_default(),
                item.change_state.clone().unwrap_or_default(),
            )
        }),
        result_note: item.result_note.clone().unwrap_or_default(),
        instruction: item
            .assignments
            .iter()
            .filter(|a| a.active && a.role == AssignmentRole::Lead)
            .find_map(|a| a.note.clone())
            .unwrap_or_default(),
        withdrawn: st == IncomingState::Withdrawn,
        scanned: item.scanned,
        duplicates: dups
            .iter()
            .map(|d| (d.document.id.to_string(), d.symbol.clone(), format_vn_time(d.arrived_at)))
            .collect(),
        assignments: item
            .assignments
            .iter()
            .map(|a| AssignView {
                name: a.full_name.clone(),
                role: a.role.label_vi(),
                deadline: a.deadline.map(dmy).unwrap_or_default(),
                active: a.active,
            })
            .collect(),
        users,
        can_register: s.caller.has(Permission::RegisterIncoming) && st == IncomingState::Arrived,
        can_assign: s.caller.has(Permission::AssignHandling)
            && matches!(st, IncomingState::Registered | IncomingState::Assigned),
        can_start: matches!(mine, Some(AssignmentRole::Lead | AssignmentRole::Co)) && st == IncomingState::Assigned,
        is_lead: mine == Some(AssignmentRole::Lead)
            && matches!(st, IncomingState::Assigned | IncomingState::InProgress),
        can_answer: s.caller.has(Permission::RegisterIncoming) && item.change_state.as_deref() == Some("pending"),
        drafts,
        appendices: appendices_of(&item.document.metadata).into_iter().map(|a| (a.sha256, a.name)).collect(),
        typed,
    };
    render_page(StatusCode::OK, &page)
}

async fn item_get(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    Query(q): Query<DoneQ>,
) -> Result<Response, PageError> {
    item_page(&state, &s, parse_id(&id)?, Notice::done(q.done.as_deref())).await
}

async fn item_pdf(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let bytes = incoming_pdf(&state, &s, parse_id(&id)?).await?;
    Ok(pdf_response(bytes))
}

async fn item_post(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path((id, action)): Path<(String, String)>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let doc_id: DocumentId = parse_id(&id)?;
    let input = StepInput {
        register_id: form.opt("register_id"),
        reason: form.opt("reason"),
        lead: form.opt("lead"),
        co: form.all("co"),
        info: form.all("info"),
        deadline: form.opt("deadline").and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
        note: form.opt("note"),
        to: form.opt("to"),
        response_document_id: form.opt("response_document_id"),
        accept: Some(form.get("accept") != "false"),
    };
    let done = match action.as_str() {
        "register" => "registered",
        "return" => "returned",
        "assign" => "assigned",
        "start" => "started",
        "forward" => "forwarded",
        "finish" => "finished",
        _ => "change_answered",
    };
    match step(&state, &s, doc_id, &action, input).await {
        Ok(_) if action == "forward" || action == "return" => Ok(redirect_done("/incoming", done)),
        Ok(_) => Ok(redirect_done(&format!("/incoming/{id}"), done)),
        Err(e) => rerender_with(e, |n| item_page_with(&state, &s, doc_id, n, Typed::of(&action, &form))).await,
    }
}

pub async fn scan_post(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    m: Multipart,
) -> Result<Response, PageError> {
    let (pdf, fields, pin, csrf) = read_scan(m).await?;
    // The CSRF token travels as a field of the multipart body.
    s.check_csrf(&csrf)?;
    match receive_scan(&state, &s, pdf, &fields, &pin).await {
        Ok(rec) => Ok(redirect_done(&format!("/incoming/{}", rec.document.id), "scanned")),
        Err(e) => rerender_with(e, |n| incoming_list_page(&state, &s, String::new(), n, fields)).await,
    }
}

#[derive(Template)]
#[template(path = "registers.html")]
struct RegistersPage {
    nav: Nav,
    notice: Option<Notice>,
    outgoing: Vec<(String, String, String)>,
    incoming: Vec<(String, String)>,
    year_start: String,
    today: String,
}

async fn registers_get(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Query(q): Query<DoneQ>,
) -> Result<Response, PageError> {
    registers_page(&state, &s, Notice::done(q.done.as_deref())).await
}

async fn registers_page(state: &AppState, s: &Session, notice: Option<Notice>) -> Result<Response, PageError> {
    s.caller.require(Permission::ViewDocuments)?;
    let outgoing = state.store.list_registers(&s.scope(), RegisterDirection::Outgoing).await?;
    let incoming = state.store.list_registers(&s.scope(), RegisterDirection::Incoming).await?;
    let t = today();
    render_page(
        StatusCode::OK,
        &RegistersPage {
            nav: Nav::of(s),
            notice,
            outgoing: outgoing
                .iter()
                .map(|r| {
                    let types = if r.doc_types.is_empty() {
                        "Các loại còn lại".to_owned()
                    } else {
                        r.doc_types.iter().map(|t| t.name_vi()).collect::<Vec<_>>().join(", ")
                    };
                    (r.id.to_string(), r.name.clone(), if r.secret { format!("{types} (mật)") } else { types })
                })
                .collect(),
            incoming: incoming.iter().map(|r| (r.id.to_string(), r.name.clone())).collect(),
            year_start: NaiveDate::from_ymd_opt(chrono::Datelike::year(&t), 1, 1).unwrap_or(t).to_string(),
            today: t.to_string(),
        },
    )
}

async fn registers_post(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let input = RegisterInput {
        direction: form.get("direction").to_owned(),
        name: form.get("name").to_owned(),
        doc_types: form.all("doc_types"),
        secret: form.get("secret") == "on",
        suffix: form.get("suffix").to_owned(),
    };
    match create_register(&state, &s, input).await {
        Ok(_) => Ok(redirect_done("/registers", "register_created")),
        Err(e) => rerender_with(e, |n| registers_page(&state, &s, n)).await,
    }
}

async fn report_get(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(kind): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, PageError> {
    Ok(report_response(&state, &s, &kind, &q).await?)
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    nav: Nav,
    notice: Option<Notice>,
    rows: Vec<(String, String, String, bool)>,
}

async fn notifications_get(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Query(q): Query<DoneQ>,
) -> Result<Response, PageError> {
    let list = state.store.list_notifications(&s.scope(), false, 200).await?;
    let rows = list
        .iter()
        .map(|n| {
            let link = match (n.kind.starts_with("status_"), n.document_id) {
                (true, Some(d)) => format!("/documents/{d}/tracking"),
                (false, Some(d)) => format!("/incoming/{d}"),
                _ => "/".to_owned(),
            };
            (link, n.title.clone(), format_vn_time(n.created_at), n.read_at.is_none())
        })
        .collect();
    render_page(StatusCode::OK, &NotificationsPage { nav: Nav::of(&s), notice: Notice::done(q.done.as_deref()), rows })
}

async fn notifications_post(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    state.store.mark_notifications_read(&s.scope(), None).await.map_err(AppError::from)?;
    Ok(redirect_done("/notifications", "notifications_read"))
}

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/issuing", get(issuing_get))
        .route("/documents/{id}/issue", get(issue_get).post(issue_post))
        .route("/documents/{id}/tracking", get(tracking_get))
        .route("/documents/{id}/change", post(change_post))
        .route("/incoming", get(incoming_list))
        .route("/incoming/{id}", get(item_get))
        .route("/incoming/{id}/pdf", get(item_pdf))
        .route("/incoming/{id}/{action}", post(item_post))
        .route("/registers", get(registers_get).post(registers_post))
        .route("/registers/{kind}/report", get(report_get))
        .route("/notifications", get(notifications_get).post(notifications_post))
        .route("/documents/{id}/appendices/{sha}", get(outgoing_appendix_get))
        .route("/incoming/{id}/appendices/{sha}", get(incoming_appendix_get))
        .route("/api/v1/documents/{id}/appendices/{sha}", get(api_outgoing_appendix))
        .route("/api/v1/incoming/{id}/appendices/{sha}", get(api_incoming_appendix))
        .route("/api/v1/issuing-queue", get(api_issuing_queue))
        .route("/api/v1/documents/{id}/issue", post(api_issue))
        .route("/api/v1/documents/{id}/deliveries", get(api_deliveries))
        .route("/api/v1/documents/{id}/change", post(api_change))
        .route("/api/v1/registers", get(api_registers).post(api_create_register))
        .route("/api/v1/registers/{kind}/report", get(api_report))
        .route("/api/v1/incoming", get(api_incoming))
        .route("/api/v1/incoming/{id}", get(api_incoming_one))
        .route("/api/v1/incoming/{id}/pdf", get(api_incoming_pdf))
        .route("/api/v1/incoming/{id}/{action}", post(api_step))
        .route("/api/v1/notifications", get(api_notifications))
        .route("/api/v1/notifications/read", post(api_notifications_read))
}
