//! Records the stores read and write, the inputs of writes, and the scopes that bound reads.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use vanban_domain::{
    Abbreviation, AgencyCode, AgencyId, AgencyLevel, AgencyName, Caller, Delegation, DocumentId, DocumentType, Email,
    FullName, OutgoingAction, Permission, Position, Role, SigningAuthority, UnitId, UserId, Username,
};

/// Who causes a change, recorded in the audit event written with it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Actor {
    /// The user, or `None` for the system itself (CLI, start-up, workers).
    pub user_id: Option<UserId>,
    /// The agency the user acted in.
    pub agency_id: Option<AgencyId>,
    /// Whom the user acted for (a delegation), if anyone.
    pub on_behalf_of: Option<UserId>,
    /// Where the request came from (client IP), or the command that ran.
    pub from: Option<String>,
}

impl Actor {
    /// The system acting through a command or worker named `from`.
    pub fn system(from: &str) -> Self {
        Actor { from: Some(from.to_owned()), ..Actor::default() }
    }

    /// An authenticated user acting from `from` (an IP address).
    pub fn user(caller: &Caller, from: Option<String>) -> Self {
        Actor { user_id: Some(caller.user_id), agency_id: Some(caller.agency_id), on_behalf_of: None, from }
    }
}

/// The reach of an ordinary request: the caller's own agency. Documents, units, users
/// and audit events of other agencies are invisible through a `Scope`. It also names the
/// caller, for the few things that are a person's own (a signing session).
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    agency_id: AgencyId,
    user_id: UserId,
}

impl Scope {
    /// The scope of an authenticated caller.
    pub fn of(caller: &Caller) -> Self {
        Scope { agency_id: caller.agency_id, user_id: caller.user_id }
    }

    /// The agency this scope is bound to.
    pub fn agency_id(&self) -> AgencyId {
        self.agency_id
    }

    /// The caller the scope was built for.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }
}

/// The reach of an administrator: their agency and every agency below it.
/// Only [`crate::AgencyRepo::admin_scope`] makes one, after checking the role.
#[derive(Debug, Clone)]
pub struct AdminScope {
    pub(crate) agency_id: AgencyId,
    pub(crate) path: String,
}

impl AdminScope {
    /// The administrator's own agency, the root of their reach.
    pub fn agency_id(&self) -> AgencyId {
        self.agency_id
    }

    /// Whether an agency with materialised path `path` is within reach.
    pub fn covers_path(&self, path: &str) -> bool {
        path.starts_with(&self.path)
    }

    /// The whole instance, for operators' commands (the CLI), which act with the database's
    /// own authority. Never built from a web request.
    pub fn whole_instance() -> Self {
        AdminScope { agency_id: AgencyId::from_uuid(uuid::Uuid::nil()), path: "/".to_owned() }
    }

    pub(crate) fn check(caller: &Caller, path: String) -> crate::Result<Self> {
        caller.require(Permission::ManageUsers)?;
        Ok(AdminScope { agency_id: caller.agency_id, path })
    }
}

/// An agency as stored, with its place in the hierarchy.
#[derive(Debug, Clone, Serialize)]
pub struct AgencyRecord {
    #[serde(flatten)]
    pub agency: vanban_domain::Agency,
    /// Materialised path of ancestor ids: "/root/…/self/".
    #[serde(skip)]
    pub path: String,
    pub created_at: DateTime<Utc>,
}

/// Input of [`crate::AgencyRepo::create_agency`].
#[derive(Debug, Clone)]
pub struct NewAgency {
    pub parent_id: Option<AgencyId>,
    pub code: AgencyCode,
    pub name: AgencyName,
    pub parent_name: Option<AgencyName>,
    pub abbreviation: Abbreviation,
    pub level: AgencyLevel,
    pub place: String,
}

/// One row of a bulk agency import: the parent is named by its code, which may be an agency
/// already stored or one earlier in the same import.
#[derive(Debug, Clone)]
pub struct AgencyImport {
    pub parent_code: Option<AgencyCode>,
    pub agency: NewAgency,
}

/// Input of [`crate::AgencyRepo::create_unit`].
#[derive(Debug, Clone)]
pub struct NewUnit {
    pub agency_id: AgencyId,
    pub parent_id: Option<UnitId>,
    pub name: String,
    pub abbreviation: Abbreviation,
}

/// A user with the roles they hold in their agency.
#[derive(Debug, Clone, Serialize)]
pub struct UserRecord {
    #[serde(flatten)]
    pub user: vanban_domain::User,
    pub roles: BTreeSet<Role>,
    pub created_at: DateTime<Utc>,
}

/// Input of [`crate::UserRepo::create_user`]. The password arrives already hashed (argon2):
/// the store never sees a clear-text password.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub agency_id: AgencyId,
    pub unit_id: Option<UnitId>,
    pub username: Username,
    pub full_name: FullName,
    pub email: Option<Email>,
    pub position: Option<Position>,
    pub password_hash: String,
    pub roles: BTreeSet<Role>,
}

/// What the login check needs about an account.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub user_id: UserId,
    pub agency_id: AgencyId,
    pub password_hash: String,
    pub active: bool,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// A server-side session. The cookie carries a random token; only its SHA-256 is stored.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub token_hash: String,
    pub user_id: UserId,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
}

/// Direction of a document relative to the agency holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outgoing,
    Incoming,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outgoing => "outgoing",
            Direction::Incoming => "incoming",
        }
    }
}

/// A document as stored. Part 1 keeps its metadata and lifecycle state; later parts add
/// revisions, registers and deliveries beside it.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentRecord {
    pub id: DocumentId,
    pub agency_id: AgencyId,
    pub direction: Direction,
    /// The lifecycle state, as the domain's `as_str()` of its state enum.
    pub state: String,
    pub doc_type: DocumentType,
    pub subject: String,
    pub metadata: serde_json::Value,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Input of [`crate::DocumentRepo::create_draft`].
#[derive(Debug, Clone)]
pub struct NewDraft {
    pub metadata: vanban_domain::OutgoingMetadata,
}

/// A lifecycle change requested on an outgoing document.
#[derive(Debug, Clone)]
pub struct Transition {
    pub action: OutgoingAction,
    /// Why (required when returning a draft; kept in the audit event).
    pub reason: Option<String>,
}

/// An event of the append-only audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<UserId>,
    /// The actor's username when the event was listed (not part of the hashed content).
    pub actor_username: Option<String>,
    pub actor_agency_id: Option<AgencyId>,
    pub on_behalf_of: Option<UserId>,
    pub agency_id: Option<AgencyId>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub detail: serde_json::Value,
    pub from: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The result of re-computing the audit hash chain.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub events: u64,
    /// The first event whose hash or link does not match, if any.
    pub first_broken_seq: Option<i64>,
    pub head_hash: String,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.first_broken_seq.is_none()
    }
}

/// Counts of a scope's documents per lifecycle state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StateCount {
    pub state: String,
    pub count: i64,
}

/// Input of [`crate::DelegationRepo::create_delegation`]: the grantor is the acting user.
#[derive(Debug, Clone)]
pub struct NewDelegation {
    pub to_user: UserId,
    pub authority: SigningAuthority,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// The written basis (e.g. "Giấy ủy quyền số 12/GUQ-UBND"), required: Decree 30 Art. 13.3
    /// asks for authorisation in writing.
    pub basis: String,
}

/// A stored delegation with the names of the two people.
#[derive(Debug, Clone, Serialize)]
pub struct DelegationRecord {
    #[serde(flatten)]
    pub delegation: Delegation,
    pub basis: String,
    pub from_name: String,
    pub to_name: String,
    pub created_at: DateTime<Utc>,
}

/// A saved version of a draft's content. Versions are numbered from 1 and never change.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRecord {
    pub document_id: DocumentId,
    pub version: i32,
    pub content: serde_json::Value,
    pub note: Option<String>,
    pub created_by: UserId,
    pub author_name: String,
    pub created_at: DateTime<Utc>,
}

/// A comment on one version of a draft.
#[derive(Debug, Clone, Serialize)]
pub struct CommentRecord {
    pub id: uuid::Uuid,
    pub document_id: DocumentId,
    pub version: i32,
    pub author: UserId,
    pub author_name: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// One reviewer's step in a review round of a draft.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewStepRecord {
    pub id: uuid::Uuid,
    pub document_id: DocumentId,
    pub round: i32,
    pub position: i32,
    pub reviewer: UserId,
    pub reviewer_name: String,
    pub mode: vanban_domain::ReviewMode,
    pub state: vanban_domain::StepState,
    /// The reviewer's initials (ký nháy) on the version they approved.
    pub initialled: bool,
    pub version: Option<i32>,
    pub reason: Option<String>,
    pub acted_at: Option<DateTime<Utc>>,
}

impl ReviewStepRecord {
    /// The step as the domain's review rules see it.
    pub fn domain(&self) -> vanban_domain::ReviewStep {
        vanban_domain::ReviewStep {
            reviewer: self.reviewer,
            position: u32::try_from(self.position).unwrap_or(0),
            state: self.state,
        }
    }
}

/// What a reviewer decides.
#[derive(Debug, Clone)]
pub enum ReviewDecision {
    /// Approve, initialling the version (ký nháy) or not.
    Approve { initials: bool },
    /// Return the draft to the drafter, with the reason.
    Return { reason: String },
}

/// A file of a document, its bytes in the blob store.
#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    pub id: uuid::Uuid,
    pub document_id: DocumentId,
    /// "original" (an uploaded DOCX/ODT), "rendition" (its PDF) or "attachment".
    pub kind: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub checks: Option<serde_json::Value>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
}

/// Input of [`crate::DocumentRepo::add_files`].
#[derive(Debug, Clone)]
pub struct NewFile {
    pub kind: &'static str,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub checks: Option<serde_json::Value>,
}

/// What an administrator may change about an agency: how it is named and where (the code,
/// level and parent are its identity and stay).
#[derive(Debug, Clone)]
pub struct AgencyUpdate {
    pub name: AgencyName,
    pub parent_name: Option<AgencyName>,
    pub abbreviation: Abbreviation,
    pub place: String,
}
