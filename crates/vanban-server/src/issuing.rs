//! Issuing (the clerk's desk): number a signed document in its register, fill the number and
//! date into the PDF, apply the agency's signature with the red seal, record it, deliver it.
//!
//! Two transactions (ARCHITECTURE.md, "Issuing"): [`vanban_store::IssuingRepo::number_document`]
//! takes the number; the signing in between is CPU work that can be repeated; then
//! [`vanban_store::IssuingRepo::issue_document`] stores the agency-signed revision, marks the
//! document issued and delivers it. A document left `numbered` by a crash keeps its number:
//! the next issue of it (by any clerk of the agency, with the seal's PIN) completes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use sha2::{Digest as _, Sha256};
use vanban_domain::{
    Abbreviation, DocumentId, DocumentType, OutgoingAction, OutgoingState, Permission, Priority, RegisterDirection,
    RegisterId, Secrecy,
};
use vanban_pades::{Identity, Image, SignOptions, Visual};
use vanban_pki::{Cert, SealedKey, SoftKey};
use vanban_store::{
    Actor, CertOwner, CertStatus, CertificateRecord, DocumentRecord, ImageOwner, IncomingDraft, IssueOutcome,
    IssueRequest, IssuedAppendix, IssuingContext, NewDelivery, NewRegister, NewRevision, NumberRequest, OutgoingEntry,
    RegisterRecord, RevisionKind, Scope,
};

use crate::AppState;
use crate::auth::Session;
use crate::error::AppError;

/// How long an agency key stays unlocked in memory after its PIN was checked: later issues
/// check the PIN against a keyed hash instead of running argon2 again (a clerk issues
/// hundreds of documents a day).
const UNLOCKED_FOR: Duration = Duration::from_secs(8 * 3600);

/// Agency keys opened with their PIN, per certificate, on this node only.
#[derive(Default)]
pub struct KeyCache {
    secret: std::sync::OnceLock<[u8; 32]>,
    keys: Mutex<HashMap<uuid::Uuid, Unlocked>>,
    images: Mutex<HashMap<String, Image>>,
    /// Certificates and chains parsed, per certificate record, with the DER they came from.
    parsed: Mutex<HashMap<uuid::Uuid, ParsedCert>>,
    /// One PIN attempt at a time per certificate, so the lock after five wrong PINs counts
    /// every attempt (parallel requests cannot all pass the check before any is recorded).
    attempts: Mutex<HashMap<uuid::Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

struct ParsedCert {
    cert_der: Vec<u8>,
    chain_der: Vec<Vec<u8>>,
    cert: Cert,
    chain: Vec<Cert>,
}

struct Unlocked {
    key: Arc<SoftKey>,
    pin_mac: [u8; 32],
    until: Instant,
}

impl KeyCache {
    fn mac(&self, cert: uuid::Uuid, pin: &str) -> [u8; 32] {
        let secret = self.secret.get_or_init(rand::random::<[u8; 32]>);
        let mut h = Sha256::new();
        h.update(secret);
        h.update(cert.as_bytes());
        h.update(pin.as_bytes());
        h.finalize().into()
    }

    fn get(&self, cert: uuid::Uuid, pin: &str) -> Option<Arc<SoftKey>> {
        let mac = self.mac(cert, pin);
        let keys = self.keys.lock().ok()?;
        let u = keys.get(&cert)?;
        (u.pin_mac == mac && u.until > Instant::now()).then(|| u.key.clone())
    }

    fn put(&self, cert: uuid::Uuid, pin: &str, key: Arc<SoftKey>) {
        let pin_mac = self.mac(cert, pin);
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(cert, Unlocked { key, pin_mac, until: Instant::now() + UNLOCKED_FOR });
        }
    }

    /// Forgets a certificate's key (revoked, or a wrong PIN after it was unlocked).
    pub fn forget(&self, cert: uuid::Uuid) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.remove(&cert);
        }
    }
}

/// What the clerk sends to issue.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct IssueInput {
    /// The agency's certificate (default: its only active software certificate).
    #[serde(default)]
    pub certificate_id: Option<uuid::Uuid>,
    pub pin: String,
    /// The register (default: the one the agency's configuration picks for the type).
    #[serde(default)]
    pub register_id: Option<RegisterId>,
    /// Recipients the clerk adds at sending: agency identifier codes (QCVN 102), of this
    /// instance (delivered at once) or of other systems (sent through the outbox).
    #[serde(default)]
    pub recipients: Vec<String>,
}

/// The agency's signing key, unlocked.
pub struct AgencySigner {
    rec: CertificateRecord,
    key: Arc<SoftKey>,
    cert: Cert,
    chain: Vec<Cert>,
    seal: Image,
}

impl AgencySigner {
    /// Signs `pdf` with the agency's key (PAdES B-T, with the instance's or the configured
    /// timestamp authority), on the CPU pool.
    pub async fn sign(&self, state: &AppState, pdf: Bytes, opts: SignOptions) -> Result<Vec<u8>, AppError> {
        let pki = state.pki().await?;
        let (key, cert, chain) = (self.key.clone(), self.cert.clone(), self.chain.clone());
        Ok(state
            .cpu(move || {
                let id = Identity { key: key.as_ref(), cert: &cert, chain: &chain };
                pki.with_timestamper(|tsa| vanban_pades::sign(&pdf, &opts, &id, Some(tsa)))
            })
            .await??)
    }

    /// The issuing pipeline for a stored PDF, in one turn on the CPU pool (one hand-off
    /// instead of three): reads the blob, [`sign`](Self::sign)s it and validates the result
    /// as [`crate::signing::verify_own`] does; then stores it, when it is not invalid, from
    /// the blocking pool. With `earlier` (the file's signatures as validated when they were
    /// made), those are not checked again, only the changes after them.
    pub async fn sign_stored(
        &self,
        state: &AppState,
        pdf_sha256: &str,
        opts: SignOptions,
        earlier: Option<vanban_pades::verify::Earlier>,
    ) -> Result<(vanban_store::BlobRef, vanban_pades::verify::Report), AppError> {
        let pki = state.pki().await?;
        let (key, cert, chain) = (self.key.clone(), self.cert.clone(), self.chain.clone());
        let mut policy = crate::signing::own_policy(&pki);
        policy.earlier = earlier;
        let blobs = state.blobs.clone();
        // Blobs elsewhere than local files are fetched and stored around the CPU turn.
        let fetched = if blobs.is_local() { None } else { Some(blobs.get(pdf_sha256).await?) };
        let sha = pdf_sha256.to_owned();
        let (signed, report) = state
            .cpu(move || -> Result<_, AppError> {
                let pdf = match fetched {
                    Some(pdf) => pdf,
                    None => blobs.get_blocking(&sha).unwrap_or(Err(vanban_store::StoreError::NotFound))?,
                };
                let id = Identity { key: key.as_ref(), cert: &cert, chain: &chain };
                let signed = pki.with_timestamper(|tsa| vanban_pades::sign(&pdf, &opts, &id, Some(tsa)))?;
                let report = vanban_pades::verify::verify_pdf(&signed, &policy)?;
                if report.verdict == vanban_pades::verify::Verdict::Invalid {
                    return Err(AppError::Internal(format!("the issued file does not validate: {}", report.reason)));
                }
                Ok((signed, report))
            })
            .await??;
        // Stored off the CPU pool: its fsyncs wait on the disk, not on a core.
        let blob = state.blobs.put_hashed(Bytes::from(signed), report.sha256.clone()).await?;
        Ok((blob, report))
    }
}

fn refused(code: &'static str, message_vi: &'static str) -> AppError {
    AppError::Refused { code, message_vi }
}

/// Unlocks the agency's seal key with its PIN (cached for [`UNLOCKED_FOR`]).
pub async fn agency_signer(
    state: &AppState,
    scope: &Scope,
    certificate_id: Option<uuid::Uuid>,
    pin: &str,
) -> Result<AgencySigner, AppError> {
    let certs = state.store.list_certificates(scope, CertOwner::Agency).await?;
    let now = Utc::now();
    let usable = |c: &&CertificateRecord| {
        c.status == CertStatus::Active
            && c.provider == vanban_store::KeyProvider::Software
            && c.not_before <= now
            && now <= c.not_after
    };
    let rec = match certificate_id {
        Some(id) => certs.iter().find(|c| c.id == id).filter(usable),
        None => certs.iter().find(usable),
    }
    .cloned()
    .ok_or(refused(
        "no_agency_certificate",
        "Cơ quan chưa có chứng thư số tổ chức còn hiệu lực để ký ban hành. Quản trị cần cấp hoặc nhập chứng thư số của cơ quan.",
    ))?;
    let key = match state.keys.get(rec.id, pin) {
        Some(k) => k,
        None => {
            let gate = state.keys.attempts.lock().map(|mut m| m.entry(rec.id).or_default().clone()).ok();
            let _turn = match &gate {
                Some(g) => Some(g.lock().await),
                None => None,
            };
            // Another request with the same PIN may have unlocked it while this one waited.
            if let Some(k) = state.keys.get(rec.id, pin) {
                return agency_signer_with(state, scope, rec, k).await;
            }
            let pki = state.pki().await?;
            pki.check_pin_lock(rec.id)?;
            // The listing leaves the sealed key out; one read with it.
            let with_key = state.store.get_certificate(scope, rec.id).await?;
            let sealed = SealedKey::from_bytes(with_key.sealed_key.as_deref().unwrap_or_default())?;
            let p = pin.to_owned();
            let opened = tokio::task::spawn_blocking(move || sealed.open(&p))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?;
            pki.record_pin(rec.id, !matches!(opened, Err(vanban_pki::PkiError::WrongPin)));
            let key = Arc::new(opened?);
            state.keys.put(rec.id, pin, key.clone());
            key
        }
    };
    agency_signer_with(state, scope, rec, key).await
}

async fn agency_signer_with(
    state: &AppState,
    scope: &Scope,
    rec: CertificateRecord,
    key: Arc<SoftKey>,
) -> Result<AgencySigner, AppError> {
    let seal = seal_image(state, scope).await?;
    let cached = state.keys.parsed.lock().ok().and_then(|m| {
        m.get(&rec.id)
            .filter(|p| p.cert_der == rec.cert_der && p.chain_der == rec.chain_der)
            .map(|p| (p.cert.clone(), p.chain.clone()))
    });
    let (cert, chain) = match cached {
        Some(parsed) => parsed,
        None => {
            let cert = Cert::from_der(&rec.cert_der)?;
            let chain = rec.chain_der.iter().map(|d| Cert::from_der(d)).collect::<Result<Vec<_>, _>>()?;
            if let Ok(mut m) = state.keys.parsed.lock() {
                let parsed = ParsedCert {
                    cert_der: rec.cert_der.clone(),
                    chain_der: rec.chain_der.clone(),
                    cert: cert.clone(),
                    chain: chain.clone(),
                };
                m.insert(rec.id, parsed);
            }
            (cert, chain)
        }
    };
    Ok(AgencySigner { rec, key, cert, chain, seal })
}

async fn seal_image(state: &AppState, scope: &Scope) -> Result<Image, AppError> {
    let img = state.store.get_signing_image(scope, ImageOwner::Agency).await?.ok_or(refused(
        "no_seal_image",
        "Cơ quan chưa có hình ảnh con dấu (PNG nền trong suốt, màu đỏ) để đóng lên văn bản ban hành.",
    ))?;
    if let Some(i) = state.keys.images.lock().ok().and_then(|m| m.get(&img.sha256).cloned()) {
        return Ok(i);
    }
    let bytes = state.blobs.get(&img.sha256).await?;
    let image = Image::from_png(&bytes)?;
    if let Ok(mut m) = state.keys.images.lock() {
        m.insert(img.sha256.clone(), image.clone());
    }
    Ok(image)
}

/// The registers of a direction, creating the default catch-all one on first use (by a write:
/// numbering, registering; pages that only show registers list them from the store).
pub async fn registers(
    state: &AppState,
    actor: &Actor,
    scope: &Scope,
    direction: RegisterDirection,
) -> Result<Vec<RegisterRecord>, AppError> {
    let list = state.store.list_registers(scope, direction).await?;
    if !list.is_empty() {
        return Ok(list);
    }
    let name = match direction {
        RegisterDirection::Outgoing => "Sổ văn bản đi",
        RegisterDirection::Incoming => "Sổ văn bản đến",
    };
    let new =
        NewRegister { direction, name: name.to_owned(), doc_types: Vec::new(), secret: false, suffix: String::new() };
    match state.store.create_register(actor, scope, new).await {
        Ok(_) | Err(vanban_store::StoreError::Conflict { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(state.store.list_registers(scope, direction).await?)
}

fn secrecy_of(doc: &DocumentRecord) -> Secrecy {
    doc.metadata.get("secrecy").and_then(|p| serde_json::from_value(p.clone()).ok()).unwrap_or_default()
}

/// The urgency recorded on a document.
pub fn priority_of(doc: &DocumentRecord) -> Priority {
    doc.metadata.get("priority").and_then(|p| serde_json::from_value(p.clone()).ok()).unwrap_or_default()
}

/// The symbol after the slash: the type's abbreviation and the agency's ("QĐ-UBND"), or for
/// a công văn the agency's and the drafting unit's ("UBND-VP").
async fn notation(state: &AppState, s: &Session, ctx: &IssuingContext) -> Result<vanban_domain::Notation, AppError> {
    let doc = &ctx.document;
    let unit = unit_abbreviation(state, s, ctx).await?;
    let unit = unit.as_deref().map(Abbreviation::parse).transpose()?;
    Ok(vanban_domain::notation_for(doc.doc_type, &s.agency.agency.abbreviation, unit.as_ref())?)
}

async fn unit_abbreviation(state: &AppState, s: &Session, ctx: &IssuingContext) -> Result<Option<String>, AppError> {
    let doc = &ctx.document;
    if doc.doc_type != DocumentType::CongVan {
        return Ok(None);
    }
    // The latest version's, which the context carries.
    if let Some(latest) = &ctx.latest_content {
        let content: crate::drafting::DraftContent =
            serde_json::from_value(latest.clone()).map_err(|e| AppError::Internal(format!("stored version: {e}")))?;
        if let Some(u) = content.unit_abbreviation.filter(|u| !u.trim().is_empty()) {
            return Ok(Some(u));
        }
    }
    // The drafter's unit.
    let drafter = state.store.get_user(&s.scope(), doc.created_by).await?;
    if let Some(unit) = drafter.user.unit_id {
        let units = state.store.list_units(&s.scope()).await?;
        if let Some(u) = units.iter().find(|u| u.id == unit) {
            return Ok(Some(u.abbreviation.as_str().to_owned()));
        }
    }
    Err(refused(
        "unit_abbreviation_required",
        "Công văn cần ký hiệu đơn vị soạn thảo (ví dụ UBND-VP): hãy ghi ký hiệu đơn vị trong dự thảo.",
    ))
}

/// Issues a signed document (or completes one left numbered): the whole clerk's step.
pub async fn issue(state: &AppState, s: &Session, id: DocumentId, input: IssueInput) -> Result<IssueOutcome, AppError> {
    s.caller.require(Permission::IssueDocument)?;
    let scope = s.scope();
    let actor = s.actor();
    // The document with its head revision, files and latest version, in one read.
    let ctx = state.store.issuing_context(&scope, id).await?;
    let doc = &ctx.document;
    let doc_state = OutgoingState::from_snake(&doc.state).unwrap_or(OutgoingState::Draft);
    if !matches!(doc_state, OutgoingState::Signed | OutgoingState::Numbered) {
        return Err(vanban_domain::DomainError::IllegalTransition {
            from: doc_state.as_str(),
            action: OutgoingAction::Issue.as_str(),
        }
        .into());
    }
    // Everything that can be checked before the number is taken: the key (a wrong PIN must not
    // take a number), the recipients.
    let signer = agency_signer(state, &scope, input.certificate_id, &input.pin).await?;
    let recipients = recipients(state, doc, &input.recipients).await?;
    if recipients.is_empty() {
        // Issued to nobody, it would stay issued and undelivered for good.
        return Err(refused(
            "no_recipients",
            "Chưa có nơi nhận: hãy chọn ít nhất một cơ quan nhận văn bản trước khi ban hành.",
        ));
    }
    let entry = match doc_state {
        OutgoingState::Numbered => state
            .store
            .get_outgoing_entry(&scope, id)
            .await?
            .ok_or(vanban_store::StoreError::Conflict { code: "not_numbered" })?,
        _ => {
            let list = registers(state, &actor, &scope, RegisterDirection::Outgoing).await?;
            let register_id = match input.register_id {
                Some(r) => list.iter().find(|x| x.id == r).map(|x| x.id).ok_or(vanban_store::StoreError::NotFound)?,
                None => {
                    let rules: Vec<_> = list.iter().map(|r| (r.id, r.rule())).collect();
                    vanban_domain::pick_register(&rules, doc.doc_type, secrecy_of(doc).is_secret()).ok_or(refused(
                        "no_register",
                        "Cơ quan chưa có sổ văn bản đi cho loại và độ mật của văn bản này.",
                    ))?
                }
            };
            let req = NumberRequest {
                register_id,
                notation: notation(state, s, &ctx).await?,
                issued_on: crate::drafting::today_vn(),
            };
            state.store.number_document(&actor, &scope, id, req).await?
        }
    };
    complete(state, &actor, &scope, &ctx, &entry, &signer, &s.agency.agency.place, recipients).await
}

/// The recipients: those the document names with a code, and those the clerk adds. A secret
/// document goes only to agencies of this instance, never over the axis (QĐ 28/2018).
async fn recipients(state: &AppState, doc: &DocumentRecord, extra: &[String]) -> Result<Vec<NewDelivery>, AppError> {
    let named: Vec<vanban_domain::Recipient> = match doc.metadata.get("recipients") {
        Some(r) => {
            serde_json::from_value(r.clone()).map_err(|e| AppError::Internal(format!("stored recipients: {e}")))?
        }
        None => Vec::new(),
    };
    let mut all: Vec<NewDelivery> = named
        .into_iter()
        .filter_map(|r| r.code.map(|c| NewDelivery { recipient_code: c.as_str().to_owned(), recipient_name: r.name }))
        .collect();
    all.extend(recipients_of(extra).await?);
    if secrecy_of(doc).is_secret() {
        for r in &all {
            let code = vanban_domain::AgencyCode::parse(&r.recipient_code)?;
            match state.store.get_agency_by_code(&code).await {
                Ok(_) => {}
                Err(vanban_store::StoreError::NotFound) => {
                    return Err(refused(
                        "secret_outside_instance",
                        "Văn bản mật không được gửi qua trục liên thông: chỉ gửi tới cơ quan trong hệ thống.",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(all)
}

/// The clerk's recipient codes (an unknown but well-formed code is another system's agency:
/// its name is the code until part 5's directory names it).
async fn recipients_of(codes: &[String]) -> Result<Vec<NewDelivery>, AppError> {
    let mut out = Vec::new();
    for code in codes.iter().flat_map(|c| c.split([',', ';', '\n'])).map(str::trim).filter(|c| !c.is_empty()) {
        let parsed = vanban_domain::AgencyCode::parse(code)?;
        // Named by the store from the directory (internal) or by its code (other systems).
        out.push(NewDelivery { recipient_code: parsed.as_str().to_owned(), recipient_name: String::new() });
    }
    Ok(out)
}

/// Fills the number and date, applies the agency signature and runs transaction B. The head
/// revision is the context's: transaction B refuses the file if the head moved meanwhile.
#[allow(clippy::too_many_arguments)]
pub async fn complete(
    state: &AppState,
    actor: &Actor,
    scope: &Scope,
    ctx: &IssuingContext,
    entry: &OutgoingEntry,
    signer: &AgencySigner,
    place: &str,
    recipients: Vec<NewDelivery>,
) -> Result<IssueOutcome, AppError> {
    let doc = &ctx.document;
    let head =
        ctx.head.as_ref().ok_or(refused("not_signed", "Văn bản chưa có bản đã ký số của người có thẩm quyền."))?;
    let pki = state.pki().await?;
    let (day, month) = vanban_domain::decree_day_month(entry.issued_on);
    let mut opts = SignOptions::new(vanban_render::field_names::AGENCY, Visual::Seal(signer.seal.clone()), Utc::now());
    opts.fill = vec![
        (vanban_render::field_names::NUMBER.to_owned(), format!("{:02}", entry.number)),
        (vanban_render::field_names::DAY.to_owned(), day),
        (vanban_render::field_names::MONTH.to_owned(), month),
    ];
    opts.name = signer.cert.common_name();
    opts.reason = Some(format!("Ban hành văn bản số {}", entry.symbol));
    opts.location = Some(place.to_owned()).filter(|p| !p.is_empty());
    opts.font = pki.font().clone();
    // The leader's signature as validated when it was made: only the agency's and what the
    // filled number and date changed are checked.
    let earlier = crate::signing::earlier_validation(head);
    let (blob, report) = signer.sign_stored(state, &head.pdf_sha256, opts, earlier).await?;
    let validation = crate::signing::validation_summary(&report);
    let appendices = stamp_appendices(state, scope, ctx, entry, signer, &pki).await?;
    let priority = priority_of(doc);
    let incoming = IncomingDraft {
        doc_type: doc.doc_type,
        subject: doc.subject.clone(),
        priority,
        metadata: serde_json::json!({
            "doc_type": doc.doc_type,
            "subject": doc.subject,
            "symbol": entry.symbol,
            "issued_on": entry.issued_on,
            "priority": priority,
            "signer": doc.metadata.get("signer"),
            "source_document_id": doc.id,
            "secrecy": secrecy_of(doc),
            "appendices": appendices,
        }),
    };
    let req = IssueRequest {
        revision: NewRevision {
            base_sha256: Some(head.pdf_sha256.clone()),
            kind: RevisionKind::Agency,
            pdf_sha256: blob.sha256,
            pdf_size: i64::try_from(blob.size).unwrap_or(i64::MAX),
            certificate_id: Some(signer.rec.id),
            signer_name: signer.cert.common_name(),
            signed_at: Some(Utc::now()),
            validation: Some(validation),
        },
        recipients,
        incoming,
        outbox_payload: serde_json::json!({
            "business": "new",
            "document_id": doc.id,
            "doc_type": doc.doc_type,
            "subject": doc.subject,
            "issued_on": entry.issued_on,
            "priority": priority.code(),
            "appendices": appendices,
        }),
        appendices,
    };
    let outcome = state.store.issue_document(actor, scope, doc.id, req).await?;
    // External recipients' packages go out now, not at the worker's next look.
    if outcome.deliveries.iter().any(|d| d.channel == "external") {
        state.exchange_kick().notify_one();
    }
    Ok(outcome)
}

/// Appendices in separate files (the document's PDF attachments) get the agency's own
/// image-less stamp at the top right of their first page: the number and symbol of the
/// document they belong to, the agency and the time (Decree 30, Appendix I).
async fn stamp_appendices(
    state: &AppState,
    scope: &Scope,
    ctx: &IssuingContext,
    entry: &OutgoingEntry,
    signer: &AgencySigner,
    pki: &Arc<crate::signing::Pki>,
) -> Result<Vec<IssuedAppendix>, AppError> {
    if ctx.files == 0 {
        return Ok(Vec::new());
    }
    let files = state.store.list_files(scope, ctx.document.id).await?;
    let mut out = Vec::new();
    for f in files.iter().filter(|f| f.kind == "attachment" && f.media_type == "application/pdf") {
        let bytes = state.blobs.get(&f.sha256).await?;
        let now = Utc::now();
        let lines = vec![
            format!("Kèm theo văn bản số {}", entry.symbol),
            signer.cert.common_name().unwrap_or_default(),
            now.with_timezone(&crate::pages::vn_offset()).format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        ];
        let mut opts = SignOptions::new("vb_signature_appendix", Visual::Stamp { lines }, now);
        opts.name = signer.cert.common_name();
        opts.reason = Some(format!("Phụ lục kèm theo văn bản số {}", entry.symbol));
        opts.font = pki.font().clone();
        let signed = signer.sign(state, bytes, opts).await?;
        let blob = state.blobs.put(Bytes::from(signed)).await?;
        out.push(IssuedAppendix {
            name: f.file_name.clone(),
            sha256: blob.sha256,
            size: i64::try_from(blob.size).unwrap_or(i64::MAX),
        });
    }
    Ok(out)
}

/// Reports, at start-up, the documents a crash left between the two transactions. Their
/// numbers are kept; the agency key is sealed under the clerk's PIN, which the server does
/// not keep, so each completes at the next issue of it (the issuing desk lists them first).
pub async fn report_numbered_backlog(state: &AppState) -> Result<usize, AppError> {
    let backlog = state.store.numbered_backlog(10_000).await?;
    for item in &backlog {
        tracing::warn!(
            document = %item.document_id,
            agency = %item.agency_id,
            "document numbered but not issued (interrupted): it keeps its number and completes at the next issue"
        );
    }
    Ok(backlog.len())
}

impl AppState {
    /// The cache of unlocked agency keys.
    pub fn key_cache(&self) -> &KeyCache {
        &self.keys
    }
}
