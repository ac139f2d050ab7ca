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

/// Which audit events to list, newest first: every filter is optional and they combine.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only events older than this one (the next page of a listing).
    pub before_seq: Option<i64>,
    /// The actor's username, exactly.
    pub actor: Option<String>,
    /// An action code ("incoming.assign"), or a family of them ending in '.' ("incoming.").
    pub action: Option<String>,
    /// The object's id, exactly (a document's id lists its whole history).
    pub object_id: Option<String>,
    /// From this instant (inclusive) and before that one (exclusive).
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// At most this many (100 by default; callers facing users cap it).
    pub limit: Option<i64>,
}

impl AuditQuery {
    pub fn newest(limit: i64) -> AuditQuery {
        AuditQuery { limit: Some(limit), ..AuditQuery::default() }
    }

    /// The limit, at least 1.
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(100).max(1)
    }
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

// ---------------------------------------------------------------------------------------------
// Certificates, signing images, signed revisions, signing sessions
// ---------------------------------------------------------------------------------------------

/// Declares an enum stored as a fixed snake_case code (the column's CHECK lists the same codes).
macro_rules! stored_code {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $code)] $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored code.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The variant with this stored code.
            pub fn from_code(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

stored_code! {
    /// What a key of the instance's own certification authority is for.
    pub enum AuthorityRole {
        /// The self-signed root.
        Root => "root",
        /// The CA that issues people's and agencies' certificates.
        Issuing => "issuing",
        /// The timestamping authority (RFC 3161).
        Tsa => "tsa",
        /// The OCSP responder.
        Ocsp => "ocsp",
    }
}

/// One authority of the instance's certification authority, as stored.
#[derive(Debug, Clone)]
pub struct AuthorityRecord {
    pub role: AuthorityRole,
    pub cert_der: Vec<u8>,
    /// The private key, encrypted by vanban-pki; opaque to the store.
    pub sealed_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// Input of [`crate::PkiRepo::put_authorities`].
#[derive(Debug, Clone)]
pub struct NewAuthority {
    pub role: AuthorityRole,
    pub cert_der: Vec<u8>,
    pub sealed_key: Vec<u8>,
}

/// Whose a certificate or a signing image is: a person of the scope's agency, or the agency
/// itself (its organisational certificate, its seal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "user_id")]
pub enum Owner {
    User(UserId),
    Agency,
}

/// Whose certificates to list.
pub type CertOwner = Owner;
/// Whose signing image it is.
pub type ImageOwner = Owner;

stored_code! {
    /// A person's certificate or an agency's organisational one.
    pub enum CertKind {
        Person => "person",
        Organisation => "organisation",
    }
}

stored_code! {
    /// Where a certificate's private key is.
    pub enum KeyProvider {
        /// In vanban's keystore, sealed (the store keeps the sealed bytes).
        Software => "software",
        /// On a PKCS#11 token (a USB token, an HSM).
        Pkcs11 => "pkcs11",
        /// With a remote signing service.
        Remote => "remote",
    }
}

stored_code! {
    /// Whether a certificate may still be used.
    pub enum CertStatus {
        Active => "active",
        Revoked => "revoked",
    }
}

/// Input of [`crate::PkiRepo::create_certificate`]. The fingerprint is not an input: the store
/// computes it (SHA-256 of `cert_der`).
#[derive(Debug, Clone)]
pub struct NewCertificate {
    /// A person of the scope's agency (a personal certificate) or the agency (organisational).
    pub owner: CertOwner,
    /// Hexadecimal serial number (stored in lower case).
    pub serial_hex: String,
    /// Issuer and subject distinguished names, as vanban-pki prints them.
    pub issuer: String,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// The certificate, one DER value.
    pub cert_der: Vec<u8>,
    /// The issuer chain, one DER certificate each: the issuer first, up to the root (may be
    /// empty). Stored concatenated.
    pub chain_der: Vec<Vec<u8>>,
    pub provider: KeyProvider,
    /// The private key sealed by vanban-pki: required for a software key, refused otherwise.
    pub sealed_key: Option<Vec<u8>>,
}

/// A stored certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateRecord {
    pub id: uuid::Uuid,
    pub agency_id: AgencyId,
    /// The holder; `None` for the agency's organisational certificate.
    pub user_id: Option<UserId>,
    pub kind: CertKind,
    pub serial_hex: String,
    pub issuer: String,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// SHA-256 (lower-case hex) of `cert_der`.
    pub fingerprint: String,
    #[serde(skip)]
    pub cert_der: Vec<u8>,
    /// The issuer chain, one DER certificate each, the issuer first.
    #[serde(skip)]
    pub chain_der: Vec<Vec<u8>>,
    pub provider: KeyProvider,
    /// The sealed private key. Read only by [`crate::PkiRepo::get_certificate`] (and returned by
    /// `create_certificate`); `None` in lists and lookups. A software certificate always has
    /// one stored, a token or remote one never.
    #[serde(skip)]
    pub sealed_key: Option<Vec<u8>>,
    pub status: CertStatus,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
    /// `None` when the system issued it.
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// A revoked certificate, as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevokedRecord {
    /// Who issued it: a CRL lists only its own issuer's certificates.
    pub issuer: String,
    pub serial_hex: String,
    pub revoked_at: DateTime<Utc>,
    pub reason: String,
}

/// The image stamped with a signature: a holder's handwritten signature or an agency's seal.
/// The PNG is in the blob store under `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningImageRecord {
    pub owner: ImageOwner,
    pub agency_id: AgencyId,
    pub sha256: String,
    pub width_px: i32,
    pub height_px: i32,
    pub updated_by: Option<UserId>,
    pub updated_at: DateTime<Utc>,
}

stored_code! {
    /// What one revision of a document's legal PDF adds.
    pub enum RevisionKind {
        /// The rendered layout with its empty fields (revision 0).
        Render => "render",
        /// The signer's (leader's) signature.
        Signer => "signer",
        /// The agency's signature with its seal.
        Agency => "agency",
        /// The number and date filled in.
        Number => "number",
        /// A document timestamp.
        Timestamp => "timestamp",
        /// Validation data for long-term validation (DSS).
        Ltv => "ltv",
    }
}

/// Input of [`crate::PkiRepo::append_revision`].
#[derive(Debug, Clone)]
pub struct NewRevision {
    /// The `pdf_sha256` of the head the revision was made on, or `None` for the first one. A
    /// different head means someone else appended first: the store refuses (`stale_revision`).
    pub base_sha256: Option<String>,
    pub kind: RevisionKind,
    /// The whole file after this revision, already in the blob store.
    pub pdf_sha256: String,
    pub pdf_size: i64,
    /// The certificate of the signature this revision adds, if any (of the scope's agency).
    pub certificate_id: Option<uuid::Uuid>,
    pub signer_name: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
    /// A summary of its validation (JSON), if any.
    pub validation: Option<serde_json::Value>,
}

/// One revision of a document's legal PDF. `seq` counts from 0 (the rendering).
#[derive(Debug, Clone, Serialize)]
pub struct RevisionRecord {
    pub document_id: DocumentId,
    pub seq: i32,
    pub agency_id: AgencyId,
    pub kind: RevisionKind,
    pub pdf_sha256: String,
    pub pdf_size: i64,
    pub certificate_id: Option<uuid::Uuid>,
    pub signer_name: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
    pub validation: Option<serde_json::Value>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

stored_code! {
    /// Which signature a signing session prepares.
    pub enum SigningKind {
        /// The signer's own signature, with their personal certificate.
        Signer => "signer",
        /// The agency's signature, with its organisational certificate.
        Agency => "agency",
    }
}

stored_code! {
    /// Where a signing session is.
    pub enum SessionState {
        Pending => "pending",
        Completed => "completed",
        /// Past `expires_at` without completing (a pending session reads as expired once its
        /// time is up).
        Expired => "expired",
    }
}

/// Input of [`crate::PkiRepo::create_signing_session`]; the user is the acting one.
#[derive(Debug, Clone)]
pub struct NewSigningSession {
    pub document_id: DocumentId,
    pub kind: SigningKind,
    pub certificate_id: uuid::Uuid,
    /// The prepared PDF (with its placeholder), in the blob store.
    pub prepared_sha256: String,
    /// The head revision it was prepared on (must be the head now).
    pub base_sha256: String,
    /// DER of the CMS signed attributes.
    pub to_be_signed: Vec<u8>,
    /// The digest to sign, hex.
    pub digest_hex: String,
    pub expires_at: DateTime<Utc>,
}

/// A stored signing session.
#[derive(Debug, Clone, Serialize)]
pub struct SigningSessionRecord {
    pub id: uuid::Uuid,
    pub document_id: DocumentId,
    pub agency_id: AgencyId,
    pub user_id: UserId,
    pub kind: SigningKind,
    pub certificate_id: uuid::Uuid,
    pub prepared_sha256: String,
    pub base_sha256: String,
    #[serde(skip)]
    pub to_be_signed: Vec<u8>,
    pub digest_hex: String,
    pub state: SessionState,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Splits concatenated DER values (each one SEQUENCE, definite length), or `None` when the
/// bytes are not exactly that.
pub(crate) fn split_der(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (&tag, rest) = bytes.split_first()?;
        let (&first, rest) = rest.split_first()?;
        if tag != 0x30 {
            return None;
        }
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let len = rest.get(..n)?.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        };
        let end = header.checked_add(len)?;
        out.push(bytes.get(..end)?);
        bytes = bytes.get(end..)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::split_der;

    #[test]
    fn der_values_split_on_their_lengths() {
        let short = [0x30, 0x02, 0xaa, 0xbb];
        let mut long = vec![0x30, 0x82, 0x01, 0x00];
        long.extend([0x11; 256]);
        let both = [short.as_slice(), long.as_slice()].concat();
        assert_eq!(split_der(&both), Some(vec![short.as_slice(), long.as_slice()]));
        assert_eq!(split_der(&[]), Some(vec![]));
        for bad in
            [&[0x31, 0x00][..], &[0x30, 0x03, 0x00], &[0x30, 0x80, 0x00, 0x00], &[0x30], &[0x30, 0x85, 1, 1, 1, 1, 1]]
        {
            assert_eq!(split_der(bad), None, "{bad:?}");
        }
    }
}
