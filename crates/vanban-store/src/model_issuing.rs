//! Records and inputs of registers, numbering, issuing, delivery, receiving and handling.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vanban_domain::{
    AgencyId, AssignmentRole, ChangeKind, DocumentId, DocumentType, IncomingState, Notation, Priority,
    RegisterDirection, RegisterId, RegisterRule, UnitId, UserId,
};

use crate::model::{DocumentRecord, NewRevision};

/// A register of an agency.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterRecord {
    pub id: RegisterId,
    pub agency_id: AgencyId,
    pub direction: RegisterDirection,
    pub name: String,
    pub doc_types: Vec<DocumentType>,
    pub secret: bool,
    /// Appended to the symbols it gives ("-M"): a separate sequence never repeats a symbol.
    pub suffix: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl RegisterRecord {
    /// The rule [`vanban_domain::pick_register`] applies.
    pub fn rule(&self) -> RegisterRule {
        RegisterRule { doc_types: self.doc_types.clone(), secret: self.secret }
    }
}

/// Input of [`crate::IssuingRepo::create_register`].
#[derive(Debug, Clone)]
pub struct NewRegister {
    pub direction: RegisterDirection,
    pub name: String,
    pub doc_types: Vec<DocumentType>,
    pub secret: bool,
    /// Symbol suffix (letters and digits); required for a secret outgoing register.
    pub suffix: String,
}

/// Transaction A of issuing: the number to take.
#[derive(Debug, Clone)]
pub struct NumberRequest {
    pub register_id: RegisterId,
    /// The symbol after the slash ("QĐ-UBND", "UBND-VP"), built by the caller.
    pub notation: Notation,
    /// The issue date (Vietnam time); its year is the numbering year.
    pub issued_on: NaiveDate,
}

/// A line of the outgoing register.
#[derive(Debug, Clone, Serialize)]
pub struct OutgoingEntry {
    pub document_id: DocumentId,
    pub agency_id: AgencyId,
    pub register_id: RegisterId,
    pub year: i32,
    pub number: i64,
    /// "15/QĐ-UBND".
    pub symbol: String,
    pub issued_on: NaiveDate,
    /// `numbered` (transaction A done) or `issued` (transaction B done).
    pub state: String,
    pub numbered_by: Option<UserId>,
    pub numbered_at: DateTime<Utc>,
    pub issued_at: Option<DateTime<Utc>>,
    /// The issued (agency-signed) file.
    pub pdf_sha256: Option<String>,
    /// Appendices issued in separate files, each with the agency's stamp.
    pub appendices: Vec<IssuedAppendix>,
}

/// An appendix issued in a separate file (a blob), stamped by the agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct IssuedAppendix {
    pub name: String,
    pub sha256: String,
    pub size: i64,
}

/// A recipient to deliver to. A code of an agency of this instance is delivered internally;
/// any other code goes to the outbox.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub recipient_code: String,
    pub recipient_name: String,
}

/// What each recipient's incoming document starts from.
#[derive(Debug, Clone)]
pub struct IncomingDraft {
    pub doc_type: DocumentType,
    pub subject: String,
    pub priority: Priority,
    /// The incoming metadata (JSON of `vanban_domain::IncomingMetadata`-like values).
    pub metadata: serde_json::Value,
}

/// What issuing reads of a document before it takes the number (one statement; see
/// [`crate::IssuingRepo::issuing_context`]).
#[derive(Debug, Clone)]
pub struct IssuingContext {
    pub document: crate::DocumentRecord,
    /// The document's latest PDF revision (the leader's signature, when it is signed).
    pub head: Option<crate::RevisionRecord>,
    /// How many files are attached to it (any kind): none means no appendix to stamp.
    pub files: i64,
    /// The content of its latest draft version (for the drafting unit's abbreviation).
    pub latest_content: Option<serde_json::Value>,
}

/// Transaction B of issuing.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The agency-signed revision, already in the blob store.
    pub revision: NewRevision,
    pub recipients: Vec<NewDelivery>,
    pub incoming: IncomingDraft,
    /// The edXML payload (JSON) the outbox keeps for external recipients.
    pub outbox_payload: serde_json::Value,
    /// Appendices in separate files, already stamped and in the blob store.
    pub appendices: Vec<IssuedAppendix>,
}

/// The result of transaction B.
#[derive(Debug, Clone, Serialize)]
pub struct IssueOutcome {
    pub entry: OutgoingEntry,
    pub deliveries: Vec<DeliveryRecord>,
}

/// A document left numbered (transaction A committed, B not): to be completed at start-up.
#[derive(Debug, Clone)]
pub struct NumberedBacklog {
    pub document_id: DocumentId,
    pub agency_id: AgencyId,
    pub numbered_by: Option<UserId>,
}

/// One recipient of an issued document, and what it last reported.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    pub id: uuid::Uuid,
    pub document_id: DocumentId,
    pub recipient_code: String,
    pub recipient_name: String,
    pub recipient_agency_id: Option<AgencyId>,
    pub incoming_id: Option<DocumentId>,
    /// `internal` or `external`.
    pub channel: String,
    /// The last edXML status code ("00" before any, then "01".."16").
    pub status: String,
    pub status_note: Option<String>,
    pub status_at: DateTime<Utc>,
    pub events: Vec<DeliveryEvent>,
}

/// A status a recipient reported.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryEvent {
    pub code: String,
    pub description: Option<String>,
    pub actor_name: Option<String>,
    pub at: DateTime<Utc>,
}

/// A package waiting to leave the instance.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRecord {
    pub id: uuid::Uuid,
    /// `edoc` or `status`.
    pub kind: String,
    pub delivery_id: Option<uuid::Uuid>,
    pub recipient_code: String,
    pub idempotency_key: String,
    pub payload: serde_json::Value,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The axis's id of the package, once sent.
    pub remote_id: Option<String>,
    /// The built package (a blob), so a retry sends the same bytes.
    pub package_sha256: Option<String>,
}

/// An incoming document with its registration and handling.
#[derive(Debug, Clone, Serialize)]
pub struct IncomingRecord {
    pub document: DocumentRecord,
    pub state: IncomingState,
    pub delivery_id: Option<uuid::Uuid>,
    pub sender_code: String,
    pub sender_name: String,
    pub symbol: String,
    pub issued_on: Option<NaiveDate>,
    pub priority: Priority,
    pub pdf_sha256: Option<String>,
    pub ocr_sha256: Option<String>,
    pub scanned: bool,
    pub arrived_at: DateTime<Utc>,
    pub register_id: Option<RegisterId>,
    pub year: Option<i32>,
    pub arrival_number: Option<i64>,
    pub registered_at: Option<DateTime<Utc>>,
    pub deadline: Option<NaiveDate>,
    pub returned_reason: Option<String>,
    pub change_kind: Option<ChangeKind>,
    pub change_reason: Option<String>,
    /// `pending`, `accepted` or `refused`.
    pub change_state: Option<String>,
    /// What an update changes (applied when accepted).
    pub change_update: Option<MetadataChange>,
    pub done_at: Option<DateTime<Utc>>,
    pub result_note: Option<String>,
    pub response_document_id: Option<DocumentId>,
    pub assignments: Vec<AssignmentRecord>,
}

/// A person's part in handling an incoming document.
#[derive(Debug, Clone, Serialize)]
pub struct AssignmentRecord {
    pub user_id: UserId,
    pub full_name: String,
    pub unit_id: Option<UnitId>,
    pub role: AssignmentRole,
    pub deadline: Option<NaiveDate>,
    pub note: Option<String>,
    pub assigned_at: DateTime<Utc>,
    pub active: bool,
}

/// Which incoming documents a caller may see in their agency.
#[derive(Debug, Clone, Copy)]
pub enum IncomingVisibility {
    /// Clerks, leaders, archivists: every incoming document of the agency.
    All,
    /// A handler: what is assigned to them.
    User(UserId),
    /// A unit head: what is assigned to them or anyone of their unit.
    Unit(UserId, UnitId),
}

/// A filter of [`crate::IssuingRepo::list_incoming`].
#[derive(Debug, Clone, Default)]
pub struct IncomingFilter {
    pub states: Vec<IncomingState>,
    /// Only documents whose deadline is before this day and that are not done.
    pub overdue_on: Option<NaiveDate>,
    /// Only those arrived in this range (Vietnam dates, inclusive).
    pub arrived_from: Option<NaiveDate>,
    pub arrived_to: Option<NaiveDate>,
    /// Only those registered in this range (Vietnam dates, inclusive): the incoming register.
    pub registered_from: Option<NaiveDate>,
    pub registered_to: Option<NaiveDate>,
    pub limit: i64,
    /// How many of the list (in its order: most urgent, then newest) to skip: the next page.
    pub offset: i64,
}

/// An incoming document that did not come through an internal delivery: a scanned paper
/// document, or (part 5) an edXML package.
#[derive(Debug, Clone)]
pub struct NewIncoming {
    /// Recognises a second arrival of the same thing (e.g. `edxml:<document id>`).
    pub source_key: String,
    pub sender_code: String,
    pub sender_name: String,
    pub symbol: String,
    pub issued_on: Option<NaiveDate>,
    pub draft: IncomingDraft,
    pub pdf_sha256: Option<String>,
    pub ocr_sha256: Option<String>,
    pub scanned: bool,
}

/// The leader's assignment (status 04).
#[derive(Debug, Clone)]
pub struct AssignRequest {
    pub lead: UserId,
    pub co: Vec<UserId>,
    pub info: Vec<UserId>,
    pub deadline: Option<NaiveDate>,
    pub note: Option<String>,
}

/// A handler's step.
#[derive(Debug, Clone)]
pub enum HandleStep {
    /// Starts work (status 05).
    Start,
    /// Hands the lead to another person of the agency (stays 05).
    Forward { to: UserId, note: Option<String> },
    /// Finishes (status 06), optionally with the reply document.
    Finish { note: Option<String>, response: Option<DocumentId> },
}

/// A change an issuer asks of its recipients.
#[derive(Debug, Clone)]
pub struct ChangeRequest {
    pub kind: ChangeKind,
    pub reason: String,
    /// The replacing document (issued), for `Replace`.
    pub replacement: Option<DocumentId>,
    /// The corrected metadata, for `Update` (required there, refused with the other kinds).
    pub update: Option<MetadataChange>,
}

/// What an update (edXML business type 2, "cập nhật") corrects in an issued document: the
/// metadata that travels beside the signed file and can change without a new signature. A
/// field left `None` stays as it is. The sender's record changes when the update is sent; a
/// recipient's copy when its clerk agrees (status 15), never when the clerk refuses (16).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataChange {
    /// The excerpt (trích yếu), `Subject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The urgency, `OtherInfo/Priority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// The reply deadline, `DueDate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
}

impl MetadataChange {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.subject.is_none() && self.priority.is_none() && self.due_date.is_none()
    }

    /// The change with its text NFC-normalised and checked (a subject is required and at
    /// most 500 characters, as `Subject` in Appendix VI).
    pub fn validate(mut self) -> Result<Self, vanban_domain::DomainError> {
        if let Some(s) = &self.subject {
            self.subject = Some(vanban_domain::clean_text("Subject", s, 500, true)?);
        }
        Ok(self)
    }

    /// Only what differs from a copy's current subject, urgency and metadata (`due_date` as
    /// YYYY-MM-DD there): a package repeats every field, and a copy may have refused an
    /// earlier update.
    pub fn against(self, subject: &str, priority: Priority, metadata: &serde_json::Value) -> Self {
        let due = metadata
            .get("due_date")
            .and_then(|d| d.as_str())
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        Self {
            subject: self.subject.filter(|s| s != subject),
            priority: self.priority.filter(|p| *p != priority),
            due_date: self.due_date.filter(|d| Some(*d) != due),
        }
    }

    /// Applies the change to a document's subject and metadata.
    pub fn apply(&self, subject: &mut String, metadata: &mut serde_json::Value) {
        if let Some(s) = &self.subject {
            s.clone_into(subject);
        }
        if !metadata.is_object() {
            *metadata = serde_json::json!({});
        }
        if let Some(p) = self.priority {
            metadata["priority"] = p.as_str().into();
        }
        if let Some(d) = self.due_date {
            metadata["due_date"] = d.format("%Y-%m-%d").to_string().into();
        }
    }

    /// The change in words, for the tracking view and the recipient's notice:
    /// "trích yếu: …; độ khẩn: Khẩn; hạn trả lời: 31/12/2026".
    pub fn describe_vi(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.subject {
            parts.push(format!("trích yếu: {s}"));
        }
        if let Some(p) = self.priority {
            parts.push(format!("độ khẩn: {}", p.label_vi()));
        }
        if let Some(d) = self.due_date {
            parts.push(format!("hạn trả lời: {}", d.format("%d/%m/%Y")));
        }
        parts.join("; ")
    }
}

/// A row of the outgoing register report.
#[derive(Debug, Clone, Serialize)]
pub struct OutgoingRegisterRow {
    pub entry: OutgoingEntry,
    pub doc_type: DocumentType,
    pub subject: String,
    pub signer_name: Option<String>,
    pub recipients: Vec<String>,
    pub register_name: String,
}

/// An in-app notification.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationRecord {
    pub id: uuid::Uuid,
    pub user_id: UserId,
    pub kind: String,
    pub document_id: Option<DocumentId>,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub email_state: String,
}

/// A notification owed by e-mail.
#[derive(Debug, Clone)]
pub struct PendingEmail {
    pub notification: NotificationRecord,
    pub email: String,
    pub full_name: String,
    pub attempts: i32,
}

/// What became of one attempt to send an outbox row.
#[derive(Debug, Clone)]
pub enum OutboxOutcome {
    /// The axis stored it under `remote_id`.
    Sent { remote_id: String },
    /// A transient failure: try again at `next_attempt_at`.
    Retry { error: String, next_attempt_at: DateTime<Utc> },
    /// Refused for good (the axis said the request itself is wrong): an operator may retry.
    Failed { error: String },
}

/// Counters of the outbox for the operators' view and `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutboxStats {
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    pub oldest_queued: Option<DateTime<Utc>>,
}

/// What an edXML package of an issued document carries, read by the exchange worker (a
/// system read: the worker acts for the instance, not for a person).
#[derive(Debug, Clone)]
pub struct ExchangeDocument {
    pub document: DocumentRecord,
    pub agency: crate::AgencyRecord,
    pub entry: OutgoingEntry,
    /// The content of the last version (subject, signer block, recipients …), if drafted here.
    pub content: Option<serde_json::Value>,
    /// Who signed it (the leader's signature revision).
    pub signer_name: Option<String>,
}

/// A package picked up from the axis and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct InboundRecord {
    pub remote_id: String,
    /// `edoc` or `status`.
    pub kind: String,
    pub from_code: String,
    pub document_id: String,
    /// `accepted`, `rejected` or `ignored` (a duplicate, nothing addressed here).
    pub outcome: String,
    pub reason: Option<String>,
    pub detail: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

/// A status another system reported on a document this instance sent.
#[derive(Debug, Clone)]
pub struct RemoteStatus {
    pub remote_id: String,
    /// Who reports (the recipient agency's code).
    pub reporter_code: String,
    /// The document reported on: its issuer's code and "number/notation".
    pub issuer_code: String,
    pub symbol: String,
    /// Its promulgation date, from the DocumentId (numbers restart each year).
    pub issued_on: Option<NaiveDate>,
    pub code: String,
    pub description: Option<String>,
    pub staff: Option<String>,
    /// When the reporter says it happened (the package's Timestamp). Packages can arrive out
    /// of order: a delivery's status is the latest by this time (then by code), not the last
    /// applied.
    pub at: Option<DateTime<Utc>>,
}

/// A revocation, update or replacement another system's sender asked of a document it sent
/// here (an edoc package with business type 1, 2 or 3).
#[derive(Debug, Clone)]
pub struct RemoteChange {
    pub remote_id: String,
    pub agency_id: AgencyId,
    /// The source key the document arrived under (`edxml:<DocumentId>`).
    pub source_key: String,
    pub kind: ChangeKind,
    pub reason: String,
    pub from_code: String,
    /// For an update: the metadata the package carries (`BussinessDocumentInfo/DocumentInfo`
    /// = 1); only what differs from the copy here is kept.
    pub update: Option<MetadataChange>,
}

/// What applying a remote status or change did. A change for a document not (yet) here is
/// `Unknown` and not logged: it may be retried once the document has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteOutcome {
    Applied,
    /// This package was applied before (a second pickup).
    Duplicate,
    /// No such document or delivery here.
    Unknown,
}
