//! The storage traits. Small on purpose: each names what one part of vanban needs.
//! [`Store`] is all of them together, the type the server holds as `Arc<dyn Store>`.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use vanban_domain::{
    AgencyCode, AgencyId, Caller, DelegationId, DocumentId, OutgoingAction, RegisterDirection, RegisterId, Role, Unit,
    UserId,
};

use crate::Result;
use crate::model::*;
use crate::model_issuing::*;

/// Agencies (tenants), their hierarchy, and their organisational units.
///
/// The agency *directory* (code, name, level, parent) is visible to every user of the
/// instance, because documents are addressed by it, the way the national axis publishes its
/// directory. Everything inside an agency (units, users, documents, audit) is scoped.
#[async_trait]
pub trait AgencyRepo: Send + Sync {
    /// Creates one agency under an existing parent (or a root when `parent_id` is `None`),
    /// enforcing the hierarchy rules of the domain.
    async fn create_agency(&self, actor: &Actor, new: NewAgency) -> Result<AgencyRecord>;
    /// Creates many agencies in one transaction: all of them or none.
    async fn import_agencies(&self, actor: &Actor, rows: Vec<AgencyImport>) -> Result<usize>;
    /// Renames an agency within an administrator's reach (names, abbreviation, place: what
    /// its documents print).
    async fn update_agency(
        &self,
        actor: &Actor,
        scope: &AdminScope,
        id: AgencyId,
        update: AgencyUpdate,
    ) -> Result<AgencyRecord>;
    async fn get_agency(&self, id: AgencyId) -> Result<AgencyRecord>;
    async fn get_agency_by_code(&self, code: &AgencyCode) -> Result<AgencyRecord>;
    /// Every agency, ordered by path (a depth-first walk of the hierarchy).
    async fn list_agencies(&self) -> Result<Vec<AgencyRecord>>;
    /// The reach of an administrator, or `Forbidden` when the caller is not one.
    async fn admin_scope(&self, caller: &Caller) -> Result<AdminScope>;
    async fn create_unit(&self, actor: &Actor, scope: &AdminScope, new: NewUnit) -> Result<Unit>;
    /// Units of one agency, when the agency is the caller's own.
    async fn list_units(&self, scope: &Scope) -> Result<Vec<Unit>>;
    /// Units of any agency within an administrator's reach.
    async fn list_units_admin(&self, scope: &AdminScope, agency_id: AgencyId) -> Result<Vec<Unit>>;
}

/// Users, their roles, and the login bookkeeping.
#[async_trait]
pub trait UserRepo: Send + Sync {
    async fn create_user(&self, actor: &Actor, scope: &AdminScope, new: NewUser) -> Result<UserRecord>;
    /// Creates many users in one transaction (seeding, imports): all or none.
    async fn create_users(&self, actor: &Actor, users: Vec<NewUser>) -> Result<usize>;
    /// A user of the caller's own agency.
    async fn get_user(&self, scope: &Scope, id: UserId) -> Result<UserRecord>;
    /// A user of any agency within an administrator's reach.
    async fn get_user_admin(&self, scope: &AdminScope, id: UserId) -> Result<UserRecord>;
    async fn list_users(&self, scope: &Scope) -> Result<Vec<UserRecord>>;
    async fn list_users_admin(&self, scope: &AdminScope, agency_id: AgencyId) -> Result<Vec<UserRecord>>;
    /// The account behind a username, for the login check only.
    async fn find_login(&self, username: &str) -> Result<Option<LoginRecord>>;
    /// Counts a failed login (from the client address `from`); locks the account for
    /// `lock_for` after `lock_after` failures.
    async fn record_login_failure(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
        lock_after: i32,
        lock_for: chrono::Duration,
        from: Option<&str>,
    ) -> Result<LoginRecord>;
    async fn record_login_success(&self, actor: &Actor, user_id: UserId) -> Result<()>;
    /// Replaces a password hash and clears any lockout.
    async fn set_password(&self, actor: &Actor, user_id: UserId, password_hash: String) -> Result<()>;
    /// Replaces the roles a user holds in their agency.
    async fn set_roles(&self, actor: &Actor, scope: &AdminScope, user_id: UserId, roles: BTreeSet<Role>) -> Result<()>;
    /// Deactivates (ending every session) or reactivates an account. A deactivated user
    /// cannot sign in and is kept, with everything they did, for the record.
    async fn set_active(&self, actor: &Actor, scope: &AdminScope, user_id: UserId, active: bool) -> Result<()>;
    /// The caller identity of a user: their agency and the roles they hold there.
    async fn caller_for(&self, user_id: UserId) -> Result<Caller>;
    /// Resolves a username to its user (for operators' commands; unscoped).
    async fn find_user_id(&self, username: &str) -> Result<Option<UserId>>;
    async fn count_users(&self) -> Result<i64>;
}

/// Server-side sessions.
#[async_trait]
pub trait SessionRepo: Send + Sync {
    async fn create_session(&self, session: SessionRecord) -> Result<()>;
    async fn get_session(&self, token_hash: &str) -> Result<Option<SessionRecord>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Deletes sessions that expired before `now`; returns how many.
    async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64>;
}

/// Documents and their lifecycle.
#[async_trait]
pub trait DocumentRepo: Send + Sync {
    async fn create_draft(&self, actor: &Actor, scope: &Scope, new: NewDraft) -> Result<DocumentRecord>;
    async fn get_document(&self, scope: &Scope, id: DocumentId) -> Result<DocumentRecord>;
    async fn list_documents(&self, scope: &Scope, state: Option<&str>, limit: i64) -> Result<Vec<DocumentRecord>>;
    /// Applies a lifecycle action: the domain decides whether it is legal, the store applies
    /// it in one transaction with its audit event, or writes nothing.
    async fn transition(&self, actor: &Actor, scope: &Scope, id: DocumentId, t: Transition) -> Result<DocumentRecord>;
    async fn count_by_state(&self, scope: &Scope) -> Result<Vec<StateCount>>;
    /// Saves a new version of a draft's content (only while the document is a draft). The
    /// document's subject follows the content's `subject`.
    async fn add_version(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        content: serde_json::Value,
        note: Option<String>,
    ) -> Result<VersionRecord>;
    /// Every version, oldest first.
    async fn list_versions(&self, scope: &Scope, id: DocumentId) -> Result<Vec<VersionRecord>>;
    async fn get_version(&self, scope: &Scope, id: DocumentId, version: i32) -> Result<VersionRecord>;
    /// Comments on a version that exists.
    async fn add_comment(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        version: i32,
        body: &str,
    ) -> Result<CommentRecord>;
    /// Every comment on the document, oldest first.
    async fn list_comments(&self, scope: &Scope, id: DocumentId) -> Result<Vec<CommentRecord>>;
    /// Sends a draft (which has content) to the chosen reviewers of the agency, in sequence or
    /// in parallel: a new review round, and the draft goes to review.
    async fn submit_for_review(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        reviewers: Vec<UserId>,
        mode: vanban_domain::ReviewMode,
    ) -> Result<DocumentRecord>;
    /// A reviewer acts on the current round, when it is their turn. Returning ends the round
    /// and sends the draft back to the drafter with the reason.
    async fn review(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        decision: ReviewDecision,
    ) -> Result<ReviewStepRecord>;
    /// Every review step of the document, round by round.
    async fn review_steps(&self, scope: &Scope, id: DocumentId) -> Result<Vec<ReviewStepRecord>>;
    /// Records files whose bytes are already in the blob store (while the document is a draft).
    async fn add_files(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        files: Vec<NewFile>,
    ) -> Result<Vec<FileRecord>>;
    async fn list_files(&self, scope: &Scope, id: DocumentId) -> Result<Vec<FileRecord>>;
    /// The drafts in review waiting on `user` now.
    async fn review_inbox(&self, scope: &Scope, user: UserId) -> Result<Vec<DocumentRecord>>;
}

/// Delegations of signing power inside an agency (KT., Q., TL., TUQ.), time-limited.
#[async_trait]
pub trait DelegationRepo: Send + Sync {
    /// The acting user grants signing power to a colleague of the same agency. The grantor
    /// must hold the power: as a leader, or through a delegation in force — and a power held
    /// by authorisation (TUQ.) cannot be passed on (the domain refuses it).
    async fn create_delegation(&self, actor: &Actor, scope: &Scope, new: NewDelegation) -> Result<DelegationRecord>;
    async fn get_delegation(&self, scope: &Scope, id: DelegationId) -> Result<DelegationRecord>;
    /// Every delegation of the agency, newest first.
    async fn list_delegations(&self, scope: &Scope) -> Result<Vec<DelegationRecord>>;
    /// Ends a delegation now (the record stays).
    async fn revoke_delegation(&self, actor: &Actor, scope: &Scope, id: DelegationId) -> Result<DelegationRecord>;
    /// The delegations in force for a grantee at `now`.
    async fn delegations_to(&self, scope: &Scope, user: UserId, now: DateTime<Utc>) -> Result<Vec<DelegationRecord>>;
}

/// Certificates, signing images and the signed revisions of documents' legal PDFs.
///
/// Private keys arrive sealed by vanban-pki and are kept as opaque bytes. Every write is
/// audited (never with key material); reads of agency data take a [`Scope`].
#[async_trait]
pub trait PkiRepo: Send + Sync {
    /// The instance's certification authorities (empty before the first start).
    async fn get_authorities(&self) -> Result<Vec<AuthorityRecord>>;
    /// Stores authorities in one transaction. Fails with `authorities_exist`, writing nothing,
    /// when any of their roles is already stored: of two nodes starting at once one wins, and
    /// the other reads the winner's.
    async fn put_authorities(&self, actor: &Actor, set: Vec<NewAuthority>) -> Result<()>;

    /// Stores a certificate of the scope's agency: a person's (who must be an active user of
    /// that agency, else `NotFound`) or the agency's own. `duplicate_certificate` when the
    /// same certificate, or the same issuer and serial, is stored already.
    async fn create_certificate(&self, actor: &Actor, scope: &Scope, new: NewCertificate) -> Result<CertificateRecord>;
    /// A person's certificates, or the agency's organisational ones, newest first (without
    /// sealed keys).
    async fn list_certificates(&self, scope: &Scope, owner: CertOwner) -> Result<Vec<CertificateRecord>>;
    /// One certificate of the scope's agency, with its sealed key.
    async fn get_certificate(&self, scope: &Scope, id: uuid::Uuid) -> Result<CertificateRecord>;
    /// The certificate with this serial number, whoever holds it (unscoped: OCSP and CRLs are
    /// public by nature), without its sealed key. `ambiguous_serial` when two issuers used it.
    async fn find_certificate_by_serial(&self, serial_hex: &str) -> Result<Option<CertificateRecord>>;
    /// Revokes a certificate of the scope's agency at `at` (`certificate_revoked` if it is
    /// already). Returns it without its sealed key.
    async fn revoke_certificate(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: uuid::Uuid,
        reason: String,
        at: DateTime<Utc>,
    ) -> Result<CertificateRecord>;
    /// Every revoked certificate of the instance, oldest revocation first (for the CRL).
    async fn revoked_certificates(&self) -> Result<Vec<RevokedRecord>>;
    /// The next CRL number: 1, 2, 3, … never the same twice, across nodes.
    async fn next_crl_number(&self) -> Result<i64>;

    /// Sets (or replaces) the signing image of a person of the scope's agency or of the agency.
    async fn set_signing_image(
        &self,
        actor: &Actor,
        scope: &Scope,
        owner: ImageOwner,
        sha256: String,
        width_px: i32,
        height_px: i32,
    ) -> Result<()>;
    async fn get_signing_image(&self, scope: &Scope, owner: ImageOwner) -> Result<Option<SigningImageRecord>>;

    /// Appends a revision of a document's legal PDF on its current head, in one transaction:
    /// `stale_revision` unless `new.base_sha256` is the head's `pdf_sha256` (or `None` with no
    /// revision yet), so two signers cannot fork the file. With an `action`, the document
    /// moves through its lifecycle in the same transaction, by the rules of
    /// [`DocumentRepo::transition`] (e.g. a `signer` revision with `Sign` needs the document
    /// approved); a refused action writes nothing. The caller checks the permission the
    /// action requires, as for `transition`.
    async fn append_revision(
        &self,
        actor: &Actor,
        scope: &Scope,
        document_id: DocumentId,
        new: NewRevision,
        action: Option<OutgoingAction>,
    ) -> Result<RevisionRecord>;
    /// Every revision of a document, in order.
    async fn list_revisions(&self, scope: &Scope, document_id: DocumentId) -> Result<Vec<RevisionRecord>>;
    /// The latest revision of a document, if any.
    async fn head_revision(&self, scope: &Scope, document_id: DocumentId) -> Result<Option<RevisionRecord>>;

    /// Opens a two-phase signing session for the acting user on a document of the scope's
    /// agency: the certificate must be active and fit the kind (the user's own personal
    /// certificate for `signer`, the agency's for `agency`), and `base_sha256` the head.
    async fn create_signing_session(
        &self,
        actor: &Actor,
        scope: &Scope,
        new: NewSigningSession,
    ) -> Result<SigningSessionRecord>;
    /// A session of the scope's own user and agency (anyone else's is `NotFound`).
    async fn get_signing_session(&self, scope: &Scope, id: uuid::Uuid) -> Result<SigningSessionRecord>;
    /// Marks a pending session completed, once: `signing_session_completed` or
    /// `signing_session_expired` otherwise.
    async fn complete_signing_session(&self, actor: &Actor, scope: &Scope, id: uuid::Uuid) -> Result<()>;
}

/// The exchange with other systems through an axis (part 5): the outbox as the exchange
/// worker drains it (claimed per node, settled once), what an outgoing package carries, and the
/// packages picked up, each applied once (`exchange_inbox` is written with its effect).
#[async_trait]
pub trait ExchangeRepo: Send + Sync {
    /// The instance's package-signing certificate and sealed key, if made.
    async fn exchange_identity(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>>;
    /// Stores it once; a second node's attempt is ignored (it reads the winner's).
    async fn put_exchange_identity(&self, cert_der: Vec<u8>, sealed_key: Vec<u8>) -> Result<()>;
    /// Claims up to `limit` due rows for `lease` (another node takes them after it). A row waits
    /// while an earlier row of the same delivery is unsent (a revocation never overtakes its
    /// document).
    async fn claim_outbox(&self, limit: i64, now: DateTime<Utc>, lease: chrono::Duration) -> Result<Vec<OutboxRecord>>;
    /// Keeps the claims on `ids` until `until` (a worker renews the rows it is still sending, so
    /// the lease can be short and the rows of a node that died are free again soon). Rows
    /// settled meanwhile, or no longer claimed, are left as they are.
    async fn extend_outbox_claims(&self, ids: &[uuid::Uuid], until: DateTime<Utc>) -> Result<()>;
    /// Records an attempt (with its audit event) and releases the claim; `package_sha256` is
    /// the package built for the row, kept for retries.
    async fn settle_outbox(&self, id: uuid::Uuid, outcome: OutboxOutcome, package_sha256: Option<String>)
    -> Result<()>;
    /// Makes due at `at` every queued row waiting out a back-off after an attempt that failed
    /// with `error_code` (the axis could not be reached, and now it can); returns how many.
    async fn expedite_outbox(&self, error_code: &str, at: DateTime<Utc>) -> Result<u64>;
    /// An operator puts a failed row back in the queue.
    async fn retry_outbox(&self, actor: &Actor, id: uuid::Uuid) -> Result<()>;
    async fn outbox_stats(&self) -> Result<OutboxStats>;
    /// What the edoc package of an issued document carries.
    async fn exchange_document(&self, id: DocumentId) -> Result<ExchangeDocument>;
    /// An active user of the agency holding `role` (the owner of what the worker receives).
    async fn agency_user_with_role(&self, agency: AgencyId, role: vanban_domain::Role) -> Result<Option<UserId>>;
    /// Logs a picked-up package; false if it was logged before.
    async fn record_inbound(&self, rec: InboundRecord) -> Result<bool>;
    async fn inbound_outcome(&self, remote_id: &str) -> Result<Option<String>>;
    async fn list_inbound(&self, limit: i64) -> Result<Vec<InboundRecord>>;
    /// A status another system reported on a document sent from here.
    async fn apply_remote_status(&self, st: RemoteStatus) -> Result<RemoteOutcome>;
    /// A revocation, update or replacement of a document that arrived from another system.
    async fn apply_remote_change(&self, ch: RemoteChange) -> Result<RemoteOutcome>;
}

/// The append-only audit log.
/// Registers, numbering, issuing, delivery inside the instance, the outbox, receiving and
/// handling, notifications. Issuing is two transactions (ARCHITECTURE.md, "Issuing"):
/// [`IssuingRepo::number_document`] takes the number, [`IssuingRepo::issue_document`]
/// stores the agency-signed file and delivers; a document left between them is completed
/// from [`IssuingRepo::numbered_backlog`], never renumbered.
#[async_trait]
pub trait IssuingRepo: Send + Sync {
    async fn create_register(&self, actor: &Actor, scope: &Scope, new: NewRegister) -> Result<RegisterRecord>;
    async fn list_registers(&self, scope: &Scope, direction: RegisterDirection) -> Result<Vec<RegisterRecord>>;
    /// An outgoing document of the agency with what issuing needs of it, in one read: its
    /// head revision, how many files it has, its latest version's content. `NotFound` for
    /// another agency's document or an incoming one, like `get_document`.
    async fn issuing_context(&self, scope: &Scope, id: DocumentId) -> Result<IssuingContext>;

    /// Transaction A: takes the next number of the register for the year of `issued_on` and
    /// stores it on the (signed) document, which becomes `numbered`.
    async fn number_document(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        req: NumberRequest,
    ) -> Result<OutgoingEntry>;
    /// Transaction B: stores the agency-signed revision, marks the document issued and
    /// delivered, creates each internal recipient's incoming document and an outbox row for
    /// each external one.
    async fn issue_document(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        req: IssueRequest,
    ) -> Result<IssueOutcome>;
    async fn get_outgoing_entry(&self, scope: &Scope, id: DocumentId) -> Result<Option<OutgoingEntry>>;
    /// The register entries of those of `ids` that are the agency's and numbered (a list's
    /// numbers in one statement), in no particular order.
    async fn outgoing_entries_of(&self, scope: &Scope, ids: &[DocumentId]) -> Result<Vec<OutgoingEntry>>;
    /// Documents of every agency left between transactions A and B, oldest first.
    async fn numbered_backlog(&self, limit: i64) -> Result<Vec<NumberedBacklog>>;
    async fn outgoing_register(
        &self,
        scope: &Scope,
        register: Option<RegisterId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<OutgoingRegisterRow>>;
    async fn list_deliveries(&self, scope: &Scope, id: DocumentId) -> Result<Vec<DeliveryRecord>>;
    /// Revocation, update or replacement of an issued document (the sender's status 13).
    async fn request_change(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        req: ChangeRequest,
    ) -> Result<DocumentRecord>;

    async fn list_outbox(&self, state: Option<&str>, limit: i64) -> Result<Vec<OutboxRecord>>;
    async fn mark_outbox(
        &self,
        id: uuid::Uuid,
        sent: bool,
        error: Option<String>,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()>;

    /// An arrival that is not an internal delivery (scanned paper, part 5's packages). A
    /// second arrival with the same source key returns the first.
    async fn receive_incoming(&self, actor: &Actor, scope: &Scope, new: NewIncoming) -> Result<IncomingRecord>;
    async fn get_incoming(&self, scope: &Scope, vis: IncomingVisibility, id: DocumentId) -> Result<IncomingRecord>;
    async fn list_incoming(
        &self,
        scope: &Scope,
        vis: IncomingVisibility,
        filter: IncomingFilter,
    ) -> Result<Vec<IncomingRecord>>;
    /// Other incoming documents of the agency with the same sender and number/symbol.
    async fn incoming_duplicates(
        &self,
        scope: &Scope,
        vis: IncomingVisibility,
        id: DocumentId,
    ) -> Result<Vec<IncomingRecord>>;
    /// The clerk registers it: the next incoming number of the register (status 03).
    async fn register_incoming(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        register: RegisterId,
        today: NaiveDate,
    ) -> Result<IncomingRecord>;
    /// The clerk returns it to the sender with a reason (status 02).
    async fn return_incoming(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        reason: String,
    ) -> Result<IncomingRecord>;
    /// The leader assigns it (status 04).
    async fn assign_incoming(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        req: AssignRequest,
    ) -> Result<IncomingRecord>;
    /// A handler's step (statuses 05 and 06).
    async fn handle_incoming(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        step: HandleStep,
    ) -> Result<IncomingRecord>;
    /// The clerk answers a revocation, update or replacement (status 15 accepted, 16 refused).
    async fn answer_change(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: DocumentId,
        accept: bool,
        note: Option<String>,
    ) -> Result<IncomingRecord>;

    async fn list_notifications(&self, scope: &Scope, unread_only: bool, limit: i64)
    -> Result<Vec<NotificationRecord>>;
    async fn mark_notifications_read(&self, scope: &Scope, ids: Option<Vec<uuid::Uuid>>) -> Result<u64>;
    /// Writes the reminders due on `today` (deadline within `remind_days`, or past), once each.
    async fn create_reminders(&self, today: NaiveDate, remind_days: i64) -> Result<u64>;
    async fn pending_emails(&self, limit: i64) -> Result<Vec<PendingEmail>>;
    /// Claims up to `limit` pending e-mails for this node's mail worker (claims older than two
    /// minutes are taken again): two nodes never send the same e-mail at once.
    async fn claim_emails(&self, limit: i64, now: DateTime<Utc>) -> Result<Vec<PendingEmail>>;
    /// Hands claimed e-mails back untried (the worker stopped its round early).
    async fn release_emails(&self, ids: Vec<uuid::Uuid>) -> Result<()>;
    async fn mark_email(&self, id: uuid::Uuid, sent: bool, error: Option<String>, give_up: bool) -> Result<()>;
}

#[async_trait]
pub trait AuditRepo: Send + Sync {
    /// Appends an event that accompanies no other change (e.g. a login).
    async fn append_audit(
        &self,
        actor: &Actor,
        agency_id: Option<AgencyId>,
        action: &str,
        object_type: &str,
        object_id: &str,
        detail: serde_json::Value,
    ) -> Result<()>;
    /// Events about agencies within an administrator's reach, newest first.
    async fn list_audit(&self, scope: &AdminScope, limit: i64) -> Result<Vec<AuditEvent>> {
        self.search_audit(scope, &AuditQuery::newest(limit)).await
    }
    /// The events within an administrator's reach that match `q`, newest first.
    async fn search_audit(&self, scope: &AdminScope, q: &AuditQuery) -> Result<Vec<AuditEvent>>;
    /// Re-computes the whole hash chain.
    async fn verify_audit_chain(&self) -> Result<ChainReport>;
}

/// Every capability of a storage backend, behind one object.
#[async_trait]
pub trait Store:
    AgencyRepo + UserRepo + SessionRepo + DocumentRepo + DelegationRepo + PkiRepo + IssuingRepo + ExchangeRepo + AuditRepo
{
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;
    /// Makes every transaction committed so far survive a power failure, not only a crash of
    /// the process. Called before telling another system that something is stored (the
    /// exchange's pickup acknowledgement): embedded SQLite runs with `synchronous=NORMAL`,
    /// whose commits reach the disk at the next checkpoint; PostgreSQL's commits already
    /// have (`synchronous_commit` on).
    async fn make_durable(&self) -> Result<()>;
}
