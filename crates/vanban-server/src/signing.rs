//! Certificates and signatures at the edge: the instance's own certification authority
//! (created on first use, keys sealed under the configured passphrase), holders' certificates
//! and signature images, the leader's signature on an approved draft, two-phase signing for
//! keys that live elsewhere (a USB token behind `vanban sign-agent`), validation of any signed
//! PDF, and the public CRL, OCSP and timestamp endpoints.
//!
//! The cryptography is in `vanban-pki` and `vanban-pades`; this module only wires requests,
//! the store and the blob store to them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use vanban_domain::{DocumentId, OutgoingAction, OutgoingState, Permission};
use vanban_pades::verify::{Policy, Report, Verdict, verify_pdf};
use vanban_pades::{Identity, Image, SignOptions, Timestamper, Visual};
use vanban_pki::{
    Cert, CertStatus as OcspStatus, CertificateAuthority, KeyAlgorithm, OcspResponder, RevocationData,
    RevocationReason, RevokedEntry, SealedKey, SoftKey, SubjectInfo, TestPki, TimestampAuthority, TrustStore,
};
use vanban_store::{
    AuthorityRole, CertKind, CertificateRecord, KeyProvider, NewAuthority, NewCertificate, NewRevision, Owner,
    RevisionKind, StoreError,
};

use crate::AppState;
use crate::api::parse_id;
use crate::auth::{ApiSession, PageSession, Session};
use crate::error::{ApiError, AppError, PageError};
use crate::pages::{FormData, Nav, Notice, format_vn_time, redirect_done, render_page};

/// The passphrase that seals the instance CA's keys when none is configured (development and
/// tests only; `vanban serve` refuses to start without one outside the demo).
pub const DEV_PASSPHRASE: &str = "vanban-dev-passphrase-not-for-production";

/// The instance's certification authority, loaded once.
pub struct Pki {
    pub root: Cert,
    /// The root CA (its key signs the CRL that covers the issuing CA).
    root_ca: CertificateAuthority,
    pub issuing: CertificateAuthority,
    pub tsa: TimestampAuthority,
    pub ocsp: OcspResponder,
    /// The instance root plus the configured anchors (the national root, public CAs).
    pub trust: TrustStore,
    font: Option<vanban_pades::Font>,
    /// The issuing CA's CRL as last published: remade when a revocation is added or it is
    /// an hour old, so its number does not climb with every validation.
    crl_cache: tokio::sync::Mutex<Option<CachedCrl>>,
    /// A licensed TSA used instead of the instance's own, when configured (`tsa_url`).
    remote_tsa: Option<crate::fetch::RemoteTsa>,
    /// CRLs of other CAs (imported certificates, incoming documents).
    crls: crate::fetch::CrlFetcher,
    /// Wrong PINs per certificate on this node: (failures in a row, locked until).
    pin_failures: std::sync::Mutex<std::collections::HashMap<uuid::Uuid, (u32, DateTime<Utc>)>>,
}

/// Wrong PINs in a row that lock a certificate, and for how long.
const PIN_LOCK_AFTER: u32 = 5;
const PIN_LOCK_MINUTES: i64 = 15;

/// The instance's CRL as published now.
pub struct CurrentCrl {
    pub der: Arc<Vec<u8>>,
    pub number: u64,
    /// The revocations it lists (of every CA of the instance; the CRL keeps its issuer's).
    pub revoked: Vec<vanban_store::RevokedRecord>,
}

struct CachedCrl {
    der: Arc<Vec<u8>>,
    number: u64,
    revoked_key: [u8; 32],
    made_at: DateTime<Utc>,
}

/// The in-process TSA as a [`Timestamper`].
pub struct LocalTsa<'a>(pub &'a TimestampAuthority);

impl Timestamper for LocalTsa<'_> {
    fn stamp(&self, digest: &[u8; 32]) -> vanban_pades::Result<Vec<u8>> {
        Ok(self.0.stamp_digest(digest, Utc::now())?)
    }
    fn token_len_max(&self) -> usize {
        self.0.cert.der().len() + self.0.chain.iter().map(|c| c.der().len()).sum::<usize>() + 2048
    }
}

impl From<vanban_pki::PkiError> for AppError {
    fn from(e: vanban_pki::PkiError) -> Self {
        AppError::Signing(e.into())
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, AppError> + Send + 'static) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

/// Runs a signature's or a validation's CPU work on the CPU pool ([`AppState::cpu`]).
async fn on_cpu<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    state.cpu(f).await?
}

impl AppState {
    /// The certification authority, created in the database on first use.
    pub async fn pki(&self) -> Result<Arc<Pki>, AppError> {
        self.pki.get_or_try_init(|| load_pki(self.clone())).await.cloned()
    }
}

async fn load_pki(state: AppState) -> Result<Arc<Pki>, AppError> {
    let pass = state.config.pki_passphrase.clone().unwrap_or_else(|| DEV_PASSPHRASE.to_owned());
    let mut recs = state.store.get_authorities().await?;
    if recs.is_empty() {
        let name = state.config.instance_name.clone();
        let base = state.config.public_url.clone();
        let p = pass.clone();
        let set = blocking(move || {
            // The CAs are RSA-2048, as the national CAs and agencies' tokens are. The TSA and
            // the OCSP responder sign at every request (a timestamp per signature), so they get
            // P-256 keys: a tenth of the CPU of an RSA signature, and as strong as RSA-3072.
            let t = TestPki::generate_with_responders(
                &name,
                KeyAlgorithm::Rsa2048,
                KeyAlgorithm::EcdsaP256,
                Utc::now(),
                base,
            )?;
            let seal = |role, cert: &Cert, key: &SoftKey| -> Result<NewAuthority, AppError> {
                Ok(NewAuthority {
                    role,
                    cert_der: cert.der().to_vec(),
                    sealed_key: SealedKey::seal(key, &p)?.to_bytes(),
                })
            };
            Ok(vec![
                seal(AuthorityRole::Root, &t.root.cert, &t.root.key)?,
                seal(AuthorityRole::Issuing, &t.issuing.cert, &t.issuing.key)?,
                seal(AuthorityRole::Tsa, &t.tsa.cert, &t.tsa.key)?,
                seal(AuthorityRole::Ocsp, &t.ocsp.cert, &t.ocsp.key)?,
            ])
        })
        .await?;
        match state.store.put_authorities(&vanban_store::Actor::system("pki"), set).await {
            Ok(()) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        recs = state.store.get_authorities().await?;
    }
    let crls = crate::fetch::CrlFetcher::new().map_err(internal)?;
    let tsa_url = state.config.tsa_url.clone();
    let anchors_files = state.config.trust_anchor_files.clone();
    let base = state.config.public_url.clone();
    blocking(move || {
        let find = |role: AuthorityRole| -> Result<(Cert, SoftKey), AppError> {
            let r =
                recs.iter().find(|r| r.role == role).ok_or_else(|| internal(format!("authority {role:?} missing")))?;
            let cert = Cert::from_der(&r.cert_der)?;
            let key = SealedKey::from_bytes(&r.sealed_key)?.open(&pass).map_err(|e| {
                internal(format!("cannot unseal the CA keys ({e}); is pki_passphrase the one they were made with?"))
            })?;
            Ok((cert, key))
        };
        let (root, root_key) = find(AuthorityRole::Root)?;
        let (issuing, issuing_key) = find(AuthorityRole::Issuing)?;
        let (tsa_cert, tsa_key) = find(AuthorityRole::Tsa)?;
        let (ocsp_cert, ocsp_key) = find(AuthorityRole::Ocsp)?;
        let root_ca =
            CertificateAuthority { cert: root.clone(), key: root_key, chain: Vec::new(), base_url: base.clone() };
        let issuing =
            CertificateAuthority { cert: issuing, key: issuing_key, chain: vec![root.clone()], base_url: base };
        let tsa = TimestampAuthority {
            cert: tsa_cert,
            key: tsa_key,
            chain: vec![issuing.cert.clone(), root.clone()],
            policy: vanban_pki::tsa::DEFAULT_POLICY,
        };
        let ocsp = OcspResponder { cert: ocsp_cert, key: ocsp_key, issuer: issuing.cert.clone() };
        let mut anchors = vec![root.clone()];
        for f in &anchors_files {
            let text = std::fs::read_to_string(f).map_err(|e| internal(format!("{}: {e}", f.display())))?;
            anchors.extend(Cert::from_pem(&text)?);
        }
        let font = vanban_pades::Font::load(None).ok();
        let trust = TrustStore::new(anchors);
        let remote_tsa = match &tsa_url {
            Some(url) => Some(crate::fetch::RemoteTsa::new(url, trust.clone()).map_err(internal)?),
            None => None,
        };
        Ok(Arc::new(Pki {
            root,
            root_ca,
            issuing,
            tsa,
            ocsp,
            trust,
            font,
            crl_cache: tokio::sync::Mutex::new(None),
            remote_tsa,
            crls,
            pin_failures: Default::default(),
        }))
    })
    .await
}

impl Pki {
    /// Refuses a certificate whose PIN was entered wrongly too often (brute force through a
    /// stolen session).
    pub(crate) fn check_pin_lock(&self, cert: uuid::Uuid) -> Result<(), AppError> {
        let now = Utc::now();
        let locked = self
            .pin_failures
            .lock()
            .map(|m| m.get(&cert).is_some_and(|(n, until)| *n >= PIN_LOCK_AFTER && now < *until));
        if locked.unwrap_or(false) {
            return Err(StoreError::Conflict { code: "pin_locked" }.into());
        }
        Ok(())
    }

    pub(crate) fn record_pin(&self, cert: uuid::Uuid, ok: bool) {
        if let Ok(mut m) = self.pin_failures.lock() {
            if ok {
                m.remove(&cert);
            } else {
                let e = m.entry(cert).or_insert((0, Utc::now()));
                if e.0 >= PIN_LOCK_AFTER {
                    e.0 = 0;
                }
                e.0 += 1;
                e.1 = Utc::now() + chrono::Duration::minutes(PIN_LOCK_MINUTES);
            }
        }
    }

    /// The font of text appearances (Liberation Serif), if installed.
    pub fn font(&self) -> &Option<vanban_pades::Font> {
        &self.font
    }

    /// Runs `f` with the timestamp authority signatures use: the configured licensed TSA, or
    /// the instance's own.
    pub fn with_timestamper<T>(&self, f: impl FnOnce(&dyn Timestamper) -> T) -> T {
        match &self.remote_tsa {
            Some(remote) => f(remote),
            None => f(&LocalTsa(&self.tsa)),
        }
    }

    /// The issuing CA's current CRL (DER), its number and the revocations it was made from: the
    /// cached one while no certificate was revoked since and it is less than an hour old, else a
    /// new one with the next number.
    pub async fn current_crl(&self, state: &AppState) -> Result<CurrentCrl, AppError> {
        let revoked = state.store.revoked_certificates().await?;
        let key = {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            for r in &revoked {
                h.update(r.issuer.as_bytes());
                h.update(r.serial_hex.as_bytes());
                h.update(r.revoked_at.to_rfc3339().as_bytes());
            }
            <[u8; 32]>::from(h.finalize())
        };
        let mut cache = self.crl_cache.lock().await;
        let now = Utc::now();
        if let Some(c) = cache.as_ref()
            && c.revoked_key == key
            && now - c.made_at < chrono::Duration::hours(1)
        {
            return Ok(CurrentCrl { der: c.der.clone(), number: c.number, revoked });
        }
        let number = u64::try_from(state.store.next_crl_number().await?).unwrap_or(0);
        let der = Arc::new(self.crl(&revoked, number)?);
        *cache = Some(CachedCrl { der: der.clone(), number, revoked_key: key, made_at: now });
        Ok(CurrentCrl { der, number, revoked })
    }

    /// The revocation data for validating `certs`: the instance's current CRL, and the CRLs
    /// other CAs publish for the certificates they issued (fetched, cached).
    pub async fn revocation(&self, state: &AppState, certs: &[Cert]) -> Result<RevocationData, AppError> {
        let current = self.current_crl(state).await?;
        let mut crls = vec![vanban_pki::Crl::from_der(&current.der)?];
        for extra in self.foreign_crls(certs).await {
            if let Ok(c) = vanban_pki::Crl::from_der(&extra) {
                crls.push(c);
            }
        }
        Ok(RevocationData { crls, ocsp: Vec::new() })
    }

    /// The CRLs (DER) other CAs publish for these certificates: at most 8 addresses, each
    /// fetched once and kept until its next update.
    pub async fn foreign_crls(&self, certs: &[Cert]) -> Vec<Vec<u8>> {
        let own = [self.issuing.cert.fingerprint_sha256(), self.root.fingerprint_sha256()];
        let mut urls: Vec<String> = Vec::new();
        for c in certs {
            if c.issued_by(&self.issuing.cert) || c.issued_by(&self.root) || own.contains(&c.fingerprint_sha256()) {
                continue;
            }
            // Only for certificates under a configured trust anchor: an uploaded file cannot
            // make the server fetch arbitrary addresses.
            let chain = vanban_pki::validate_chain(c, certs, &self.trust, Utc::now(), &RevocationData::default());
            if !chain.trusted {
                continue;
            }
            for u in c.crl_urls() {
                if (u.starts_with("http://") || u.starts_with("https://")) && !urls.contains(&u) {
                    urls.push(u);
                }
            }
        }
        let mut out = Vec::new();
        for u in urls.into_iter().take(8) {
            if let Some(der) = self.crls.get(&u).await {
                out.push(der.to_vec());
            }
        }
        out
    }

    fn crl(&self, revoked: &[vanban_store::RevokedRecord], crl_number: u64) -> Result<Vec<u8>, AppError> {
        let issuer = self.issuing.cert.subject_string();
        let entries: Vec<RevokedEntry> = revoked
            .iter()
            .filter(|r| r.issuer == issuer)
            .filter_map(|r| {
                Some(RevokedEntry {
                    serial: hex::decode(&r.serial_hex).ok()?,
                    revoked_at: r.revoked_at,
                    reason: reason_of(&r.reason),
                })
            })
            .collect();
        let now = Utc::now();
        Ok(self.issuing.crl(&entries, now, now + chrono::Duration::days(1), crl_number)?)
    }
}

impl Pki {
    /// PAdES B-LT: appends the validation material the instance can vouch for — the
    /// certificates of the signer's and the TSA's chains, fresh CRLs of both CAs and an OCSP
    /// response for the signer — so the signature can be validated offline, years later.
    /// Certificates from other CAs get their chain only (their revocation data is theirs).
    pub fn add_validation_data(
        &self,
        pdf: &[u8],
        signer: &Cert,
        chain: &[Cert],
        revoked: &[vanban_store::RevokedRecord],
        (crl, crl_number): (&[u8], u64),
        foreign_crls: Vec<Vec<u8>>,
    ) -> Result<Vec<u8>, AppError> {
        let mut certs: Vec<Vec<u8>> = vec![signer.der().to_vec()];
        certs.extend(chain.iter().map(|c| c.der().to_vec()));
        if self.remote_tsa.is_none() {
            certs.push(self.tsa.cert.der().to_vec());
        }
        let mut crls = foreign_crls;
        let mut ocsps = Vec::new();
        if signer.issued_by(&self.issuing.cert) {
            crls.push(crl.to_vec());
            let now = Utc::now();
            crls.push(self.root_ca.crl(&[], now, now + chrono::Duration::days(30), crl_number)?);
            let req = vanban_pki::ocsp_request(signer, &self.issuing.cert)?;
            let issuer = self.issuing.cert.subject_string();
            let serial = signer.serial_hex();
            let resp = self.ocsp.respond(&req, now, |_| {
                match revoked.iter().find(|r| r.issuer == issuer && r.serial_hex == serial) {
                    Some(r) => OcspStatus::Revoked { at: r.revoked_at, reason: reason_of(&r.reason) },
                    None => OcspStatus::Good,
                }
            })?;
            ocsps.push(resp);
        }
        Ok(vanban_pades::add_dss(pdf, &certs, &ocsps, &crls)?)
    }
}

fn reason_of(s: &str) -> RevocationReason {
    RevocationReason::from_code(s).unwrap_or(RevocationReason::Unspecified)
}

/// What a revision keeps of its file's validation: the verdict and each signature's.
pub fn validation_summary(report: &Report) -> serde_json::Value {
    serde_json::json!({
        "verdict": report.verdict,
        "reason": report.reason,
        "signatures": report.signatures.iter().map(|x| serde_json::json!({
            "field": x.field, "verdict": x.verdict, "reason": x.reason,
        })).collect::<Vec<_>>(),
    })
}

/// A revision's file as validated when it was stored ([`validation_summary`]): what a later
/// validation of a file that extends it need not check again (`Policy::earlier`).
pub fn earlier_validation(rev: &vanban_store::RevisionRecord) -> Option<vanban_pades::verify::Earlier> {
    let verdicts: std::collections::BTreeMap<String, Verdict> = rev
        .validation
        .as_ref()?
        .get("signatures")?
        .as_array()?
        .iter()
        .filter_map(|s| {
            let field = s.get("field")?.as_str()?.to_owned();
            let verdict = serde_json::from_value(s.get("verdict")?.clone()).ok()?;
            Some((field, verdict))
        })
        .collect();
    let len = usize::try_from(rev.pdf_size).ok()?;
    (!verdicts.is_empty()).then(|| vanban_pades::verify::Earlier { len, sha256: rev.pdf_sha256.clone(), verdicts })
}

/// The validation policy for documents of this instance.
async fn policy(state: &AppState, pki: &Pki, pdf: &Bytes) -> Result<Policy, AppError> {
    let data = pdf.clone();
    let certs = blocking(move || Ok(vanban_pades::verify::certificates_in(&data).unwrap_or_default())).await?;
    Ok(Policy {
        trust: pki.trust.clone(),
        revocation: pki.revocation(state, &certs).await?,
        require_revocation: false,
        now: None,
        earlier: None,
    })
}

/// Checks a file vanban just signed: every signature intact and only permitted changes after
/// each (integrity and chains, without gathering revocation data: the signers' certificates
/// were checked when they signed).
pub async fn verify_own(state: &AppState, pdf: Bytes) -> Result<Report, AppError> {
    let pki = state.pki().await?;
    let policy = own_policy(&pki);
    Ok(state.cpu(move || verify_pdf(&pdf, &policy)).await??)
}

/// The policy [`verify_own`] checks a file this instance just signed under: its own trust
/// anchors, no revocation data required.
pub fn own_policy(pki: &Pki) -> Policy {
    Policy {
        trust: pki.trust.clone(),
        revocation: RevocationData::default(),
        require_revocation: false,
        now: None,
        earlier: None,
    }
}

/// Validates a PDF under the instance's policy.
pub async fn verify_bytes(state: &AppState, pdf: Bytes) -> Result<Report, AppError> {
    let pki = state.pki().await?;
    let policy = policy(state, &pki, &pdf).await?;
    on_cpu(state, move || Ok(verify_pdf(&pdf, &policy)?)).await
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

fn check_pins(pin: &str, pin2: &str) -> Result<(), AppError> {
    if pin != pin2 {
        return Err(vanban_pki::PkiError::WeakPin("the two PINs differ".into()).into());
    }
    vanban_pki::check_pin_policy(pin)?;
    Ok(())
}

fn untrusted(cert: &Cert) -> AppError {
    vanban_pki::PkiError::InvalidCertificate(format!("not issued under a trust anchor: {}", cert.issuer_string()))
        .into()
}

fn owner_for(s: &Session, kind: CertKind) -> Result<Owner, AppError> {
    match kind {
        CertKind::Person => Ok(Owner::User(s.caller.user_id)),
        CertKind::Organisation => {
            if !s.caller.has(Permission::ManageUsers) && !s.caller.has(Permission::IssueDocument) {
                return Err(AppError::Forbidden("organisation certificate"));
            }
            Ok(Owner::Agency)
        }
    }
}

fn new_certificate(
    owner: Owner,
    cert: &Cert,
    chain: &[Cert],
    provider: KeyProvider,
    sealed: Option<Vec<u8>>,
) -> NewCertificate {
    NewCertificate {
        owner,
        serial_hex: cert.serial_hex(),
        issuer: cert.issuer_string(),
        subject: cert.subject_string(),
        not_before: cert.not_before(),
        not_after: cert.not_after(),
        cert_der: cert.der().to_vec(),
        chain_der: chain.iter().map(|c| c.der().to_vec()).collect(),
        provider,
        sealed_key: sealed,
    }
}

/// Issues a certificate from the instance CA with a new key sealed under `pin`.
pub async fn issue_certificate(
    state: &AppState,
    s: &Session,
    kind: CertKind,
    pin: &str,
    uid: Option<String>,
) -> Result<CertificateRecord, AppError> {
    let owner = owner_for(s, kind)?;
    vanban_pki::check_pin_policy(pin)?;
    let pki = state.pki().await?;
    let agency = &s.agency.agency;
    let subject = match kind {
        CertKind::Person => SubjectInfo {
            common_name: s.user.user.full_name.as_str().to_owned(),
            organization: Some(agency.name.as_str().to_owned()),
            organizational_unit: None,
            locality: Some(agency.place.clone()).filter(|p| !p.is_empty()),
            state: None,
            country: "VN".to_owned(),
            uid: uid.map(|u| if u.contains(':') { u } else { format!("CCCD:{u}") }),
            email: s.user.user.email.as_ref().map(|e| e.as_str().to_owned()),
            title: s.user.user.position.as_ref().map(|p| p.as_str().to_owned()),
        },
        CertKind::Organisation => SubjectInfo {
            common_name: agency.name.as_str().to_owned(),
            organization: Some(agency.name.as_str().to_owned()),
            organizational_unit: None,
            locality: Some(agency.place.clone()).filter(|p| !p.is_empty()),
            state: None,
            country: "VN".to_owned(),
            uid: uid.map(|u| if u.contains(':') { u } else { format!("MST:{u}") }),
            email: None,
            title: None,
        },
    };
    let pin = pin.to_owned();
    let p = pki.clone();
    let (cert, sealed) = blocking(move || {
        let key = SoftKey::generate(KeyAlgorithm::Rsa2048)?;
        let now = Utc::now();
        let req = vanban_pki::IssueRequest {
            subject,
            profile: match kind {
                CertKind::Person => vanban_pki::CertProfile::Person,
                CertKind::Organisation => vanban_pki::CertProfile::Organisation,
            },
            public_key_der: key.public_key_der().to_vec(),
            not_before: now - chrono::Duration::minutes(5),
            not_after: (now + chrono::Duration::days(3 * 365)).min(p.issuing.cert.not_after()),
        };
        let cert = p.issuing.issue(&req)?;
        let sealed = SealedKey::seal(&key, &pin)?.to_bytes();
        Ok((cert, sealed))
    })
    .await?;
    let chain = vec![pki.issuing.cert.clone(), pki.root.clone()];
    store_certificate(state, s, new_certificate(owner, &cert, &chain, KeyProvider::Software, Some(sealed))).await
}

async fn store_certificate(state: &AppState, s: &Session, new: NewCertificate) -> Result<CertificateRecord, AppError> {
    Ok(state.store.create_certificate(&s.actor(), &s.scope(), new).await?)
}

/// Imports a PKCS#12 file (key and certificate from an external CA); the certificate must
/// chain to a trust anchor. The key is re-sealed under a new PIN.
pub async fn import_certificate(
    state: &AppState,
    s: &Session,
    kind: CertKind,
    p12: Bytes,
    password: String,
    pin: String,
) -> Result<CertificateRecord, AppError> {
    let owner = owner_for(s, kind)?;
    vanban_pki::check_pin_policy(&pin)?;
    let pki = state.pki().await?;
    let p = pki.clone();
    let (cert, chain, sealed) = blocking(move || {
        let (key, cert, chain) = vanban_pki::import_pkcs12(&p12, &password)?;
        let report = vanban_pki::validate_chain(&cert, &chain, &p.trust, Utc::now(), &RevocationData::default());
        if !report.trusted {
            return Err(untrusted(&cert));
        }
        let sealed = SealedKey::seal(&key, &pin)?.to_bytes();
        Ok((cert, chain, sealed))
    })
    .await?;
    store_certificate(state, s, new_certificate(owner, &cert, &chain, KeyProvider::Software, Some(sealed))).await
}

/// Registers the certificate of a key held on a token (PKCS#11) or by a remote service: no
/// key is stored, signatures come through two-phase signing.
pub async fn register_token_certificate(
    state: &AppState,
    s: &Session,
    kind: CertKind,
    pem: &str,
) -> Result<CertificateRecord, AppError> {
    let owner = owner_for(s, kind)?;
    let pki = state.pki().await?;
    let certs = Cert::from_pem(pem)?;
    let (cert, chain) = certs.split_first().ok_or_else(|| AppError::BadRequest("no certificate".into()))?;
    let report = vanban_pki::validate_chain(cert, chain, &pki.trust, Utc::now(), &RevocationData::default());
    if !report.trusted {
        return Err(untrusted(cert));
    }
    store_certificate(state, s, new_certificate(owner, cert, chain, KeyProvider::Pkcs11, None)).await
}

/// Demo set-up: each named leader gets a certificate (PIN `pin`) and a sample signature image;
/// the agency of the first gets its organisational certificate and a sample seal. Does nothing
/// for a user who already has a certificate.
pub async fn seed_demo_signing(state: &AppState, usernames: &[&str], pin: &str) -> Result<usize, AppError> {
    let mut made = 0;
    for (i, name) in usernames.iter().enumerate() {
        let Some(user_id) = state.store.find_user_id(name).await? else { continue };
        let session = crate::bulk::session_for(state, name).await?;
        let scope = session.scope();
        if !state.store.list_certificates(&scope, Owner::User(user_id)).await?.is_empty() {
            continue;
        }
        issue_certificate(state, &session, CertKind::Person, pin, None).await?;
        let png = Bytes::from(vanban_pades::samples::signature_png(u32::try_from(i).unwrap_or(0)));
        save_image(state, &session, Owner::User(user_id), png).await?;
        if state.store.list_certificates(&scope, Owner::Agency).await?.is_empty() {
            // The agency's own key (the first listed user's agency seal, once per agency) is
            // the clerk's to use; the demo seeds it with the same PIN.
            let mut clerk = session;
            clerk.caller.roles.insert(vanban_domain::Role::Clerk);
            issue_certificate(state, &clerk, CertKind::Organisation, pin, None).await?;
            save_image(state, &clerk, Owner::Agency, Bytes::from(vanban_pades::samples::seal_png())).await?;
        }
        made += 1;
    }
    Ok(made)
}

// ---------------------------------------------------------------------------------------------
// Signing a document
// ---------------------------------------------------------------------------------------------

/// The document's legal PDF so far: the head revision, or revision 0 rendered from the approved
/// version (stored as the first revision).
async fn head_pdf(state: &AppState, s: &Session, id: DocumentId) -> Result<(String, Bytes), AppError> {
    if let Some(head) = state.store.head_revision(&s.scope(), id).await? {
        let bytes = state.blobs.get(&head.pdf_sha256).await?;
        return Ok((head.pdf_sha256, bytes));
    }
    let versions = state.store.list_versions(&s.scope(), id).await?;
    let latest = versions.iter().map(|v| v.version).max().ok_or(AppError::NotHere("no version to sign"))?;
    let content = crate::drafting::version_content(state, s, id, latest).await?;
    let pdf = crate::drafting::render_pdf(state, s, id, content).await?;
    let blob = state.blobs.put(Bytes::from(pdf)).await?;
    let rev = NewRevision {
        base_sha256: None,
        kind: RevisionKind::Render,
        pdf_sha256: blob.sha256.clone(),
        pdf_size: i64::try_from(blob.size).unwrap_or(i64::MAX),
        certificate_id: None,
        signer_name: None,
        signed_at: None,
        validation: None,
    };
    match state.store.append_revision(&s.actor(), &s.scope(), id, rev, None).await {
        Ok(r) => {
            let bytes = state.blobs.get(&r.pdf_sha256).await?;
            Ok((r.pdf_sha256, bytes))
        }
        Err(StoreError::Conflict { .. }) => {
            let head = state.store.head_revision(&s.scope(), id).await?.ok_or(StoreError::NotFound)?;
            let bytes = state.blobs.get(&head.pdf_sha256).await?;
            Ok((head.pdf_sha256, bytes))
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks that the caller may sign this document now with this certificate.
async fn check_can_sign(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    cert_id: uuid::Uuid,
) -> Result<CertificateRecord, AppError> {
    s.caller.require(Permission::SignDocument)?;
    let doc = state.store.get_document(&s.scope(), id).await?;
    if doc.state != OutgoingState::Approved.as_str() {
        return Err(vanban_domain::DomainError::IllegalTransition {
            from: OutgoingState::from_snake(&doc.state).unwrap_or(OutgoingState::Draft).as_str(),
            action: OutgoingAction::Sign.as_str(),
        }
        .into());
    }
    // The person named in the signature block signs, nobody else (a deputy signs as KT., a
    // delegate as TL./TUQ.: the draft then names them).
    if let Some(named) = named_signer(state, s, id).await?
        && !is_the_named(s, &named)
    {
        return Err(AppError::NotTheNamedSigner { named });
    }
    let cert = state.store.get_certificate(&s.scope(), cert_id).await?;
    if cert.user_id != Some(s.caller.user_id) || cert.status != vanban_store::CertStatus::Active {
        return Err(AppError::Forbidden("not your active certificate"));
    }
    let now = Utc::now();
    if now < cert.not_before || now > cert.not_after {
        return Err(vanban_pki::PkiError::InvalidCertificate("the certificate is not valid now".into()).into());
    }
    // Revoked by its CA (ours, or another that publishes a CRL): no new signatures.
    let pki = state.pki().await?;
    let (leaf, chain) = chain_of(&cert)?;
    let revocation = pki.revocation(state, &with_chain(&leaf, &chain)).await?;
    let report = vanban_pki::validate_chain(&leaf, &chain, &pki.trust, now, &revocation);
    if report.has_problem("revoked") {
        return Err(StoreError::Conflict { code: "certificate_revoked" }.into());
    }
    Ok(cert)
}

/// The person the signature block of the document's latest version names, if any.
async fn named_signer(state: &AppState, s: &Session, id: DocumentId) -> Result<Option<String>, AppError> {
    let versions = state.store.list_versions(&s.scope(), id).await?;
    let Some(latest) = versions.iter().map(|v| v.version).max() else { return Ok(None) };
    let content = crate::drafting::version_content(state, s, id, latest).await?;
    Ok(content.signer.map(|sig| sig.full_name).filter(|n| !n.trim().is_empty()))
}

fn is_the_named(s: &Session, named: &str) -> bool {
    vanban_domain::fold_vi(named) == vanban_domain::fold_vi(s.user.user.full_name.as_str())
}

async fn signer_image(state: &AppState, s: &Session) -> Result<Image, AppError> {
    let img = state
        .store
        .get_signing_image(&s.scope(), Owner::User(s.caller.user_id))
        .await?
        .ok_or(AppError::NotHere("missing_signature_image"))?;
    let bytes = state.blobs.get(&img.sha256).await?;
    Ok(Image::from_png(&bytes)?)
}

/// A certificate followed by its chain.
fn with_chain(cert: &Cert, chain: &[Cert]) -> Vec<Cert> {
    std::iter::once(cert.clone()).chain(chain.iter().cloned()).collect()
}

fn chain_of(rec: &CertificateRecord) -> Result<(Cert, Vec<Cert>), AppError> {
    let cert = Cert::from_der(&rec.cert_der)?;
    let chain = rec.chain_der.iter().map(|d| Cert::from_der(d)).collect::<Result<Vec<_>, _>>()?;
    Ok((cert, chain))
}

fn signer_options(s: &Session, cert: &Cert, image: Image, pki: &Pki) -> SignOptions {
    let mut opts = SignOptions::new(vanban_render::field_names::SIGNER, Visual::SignerImage(image), Utc::now());
    // The first signature certifies the document with DocMDP P=2: the clerk may still fill
    // the number and date and add the agency's signature; nothing else.
    opts.certify = true;
    opts.name = cert.common_name().or_else(|| Some(s.user.user.full_name.as_str().to_owned()));
    opts.reason = Some("Ký ban hành văn bản".to_owned());
    opts.location = Some(s.agency.agency.place.clone()).filter(|p| !p.is_empty());
    opts.font = pki.font.clone();
    opts
}

/// What both ways of signing (a key unlocked here, a key elsewhere) start from.
struct SignerContext {
    rec: CertificateRecord,
    /// The head revision's hash and bytes (revision 0 rendered first if needed).
    base_sha: String,
    pdf: Bytes,
    pki: Arc<Pki>,
    cert: Cert,
    chain: Vec<Cert>,
    opts: SignOptions,
}

async fn signer_context(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    cert_id: uuid::Uuid,
) -> Result<SignerContext, AppError> {
    let rec = check_can_sign(state, s, id, cert_id).await?;
    let image = signer_image(state, s).await?;
    let (base_sha, pdf) = head_pdf(state, s, id).await?;
    let pki = state.pki().await?;
    let (cert, chain) = chain_of(&rec)?;
    let opts = signer_options(s, &cert, image, &pki);
    Ok(SignerContext { rec, base_sha, pdf, pki, cert, chain, opts })
}

/// The leader signs an approved draft with a software key unlocked by the PIN (PAdES B-T with
/// the instance TSA). The document becomes Signed in the same transaction as the revision.
pub async fn sign_document(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    cert_id: uuid::Uuid,
    pin: String,
) -> Result<vanban_store::RevisionRecord, AppError> {
    let SignerContext { rec, base_sha, pdf, pki, cert, chain, opts } = signer_context(state, s, id, cert_id).await?;
    let sealed = rec.sealed_key.clone().ok_or(AppError::NotHere("token_certificate_use_agent"))?;
    pki.check_pin_lock(rec.id)?;
    let sealed_key = SealedKey::from_bytes(&sealed)?;
    let key = blocking(move || Ok(sealed_key.open(&pin))).await?;
    pki.record_pin(rec.id, !matches!(key, Err(vanban_pki::PkiError::WrongPin)));
    if matches!(key, Err(vanban_pki::PkiError::WrongPin)) {
        tracing::warn!(certificate = %rec.id, user = %s.caller.user_id, "wrong PIN for a signing key");
    }
    let key = key?;
    let p = pki.clone();
    let signed = on_cpu(state, move || {
        let id = Identity { key: &key, cert: &cert, chain: &chain };
        Ok(p.with_timestamper(|tsa| vanban_pades::sign(&pdf, &opts, &id, Some(tsa)))?)
    })
    .await?;
    store_signed(state, s, id, base_sha, signed, &rec, RevisionKind::Signer, Some(OutgoingAction::Sign)).await
}

#[allow(clippy::too_many_arguments)]
async fn store_signed(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    base_sha: String,
    signed: Vec<u8>,
    rec: &CertificateRecord,
    kind: RevisionKind,
    action: Option<OutgoingAction>,
) -> Result<vanban_store::RevisionRecord, AppError> {
    let pki = state.pki().await?;
    let CurrentCrl { der: crl, number: n, revoked } = pki.current_crl(state).await?;
    let (cert, chain) = chain_of(rec)?;
    let foreign = pki.foreign_crls(&with_chain(&cert, &chain)).await;
    let with_ltv =
        on_cpu(state, move || pki.add_validation_data(&signed, &cert, &chain, &revoked, (&crl, n), foreign)).await?;
    let bytes = Bytes::from(with_ltv);
    let report = verify_bytes(state, bytes.clone()).await?;
    let summary = validation_summary(&report);
    if report.verdict == Verdict::Invalid {
        return Err(internal(format!("a signature vanban just made does not validate: {}", report.reason)));
    }
    let blob = state.blobs.put(bytes).await?;
    let rev = NewRevision {
        base_sha256: Some(base_sha),
        kind,
        pdf_sha256: blob.sha256,
        pdf_size: i64::try_from(blob.size).unwrap_or(i64::MAX),
        certificate_id: Some(rec.id),
        signer_name: Some(s.user.user.full_name.as_str().to_owned()),
        signed_at: Some(Utc::now()),
        validation: Some(summary),
    };
    Ok(state.store.append_revision(&s.actor(), &s.scope(), id, rev, action).await?)
}

/// Phase one for a key held elsewhere: prepares the signature revision, stores it, and
/// returns the session with the bytes to sign.
pub async fn start_session(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    cert_id: uuid::Uuid,
) -> Result<vanban_store::SigningSessionRecord, AppError> {
    let SignerContext { rec, base_sha, pdf, pki, cert, chain, opts } = signer_context(state, s, id, cert_id).await?;
    let p = pki.clone();
    let c = cert.clone();
    let (prepared, tbs) = on_cpu(state, move || {
        let alg = KeyAlgorithm::from_spki_der(&c.spki_der())?;
        let reserve = p.with_timestamper(|tsa| vanban_pades::reserve_for(alg, &c, &chain, Some(tsa)))?;
        let prepared = vanban_pades::prepare(&pdf, &opts, reserve)?;
        let attrs = vanban_pki::SignedAttrs::pades(&prepared.digest, &c)?;
        Ok((prepared, attrs.to_be_signed()))
    })
    .await?;
    let blob = state.blobs.put(Bytes::from(prepared.pdf().to_vec())).await?;
    let new = vanban_store::NewSigningSession {
        document_id: id,
        kind: vanban_store::SigningKind::Signer,
        certificate_id: rec.id,
        prepared_sha256: blob.sha256,
        base_sha256: base_sha,
        to_be_signed: tbs.message.clone(),
        digest_hex: hex::encode(tbs.digest),
        expires_at: Utc::now() + chrono::Duration::minutes(15),
    };
    Ok(state.store.create_signing_session(&s.actor(), &s.scope(), new).await?)
}

/// Phase two: the signature value comes back; it must verify with the session's certificate
/// before it is embedded.
pub async fn finish_session(
    state: &AppState,
    s: &Session,
    session_id: uuid::Uuid,
    value: Vec<u8>,
) -> Result<vanban_store::RevisionRecord, AppError> {
    let sess = state.store.get_signing_session(&s.scope(), session_id).await?;
    if sess.state != vanban_store::SessionState::Pending || Utc::now() > sess.expires_at {
        return Err(StoreError::Conflict { code: "signing_session_closed" }.into());
    }
    let rec = check_can_sign(state, s, sess.document_id, sess.certificate_id).await?;
    let prepared = state.blobs.get(&sess.prepared_sha256).await?;
    let pki = state.pki().await?;
    let (cert, chain) = chain_of(&rec)?;
    let tbs = sess.to_be_signed.clone();
    let p = pki.clone();
    let signed = on_cpu(state, move || {
        let prepared = vanban_pades::Prepared::from_pdf(prepared.to_vec())?;
        let attrs = vanban_pki::SignedAttrs::pades(&prepared.digest, &cert)?;
        if attrs.to_be_signed().message != tbs {
            return Err(vanban_pades::PadesError::PreparedMismatch.into());
        }
        let alg = KeyAlgorithm::from_spki_der(&cert.spki_der())?;
        vanban_pki::verify_signature(
            &cert.spki_der(),
            &alg.cms_signature_algorithm(),
            Some(vanban_pki::DigestAlg::Sha256),
            &tbs,
            &value,
        )
        .map_err(|_| AppError::BadRequest("the signature value does not verify with the certificate".into()))?;
        let cms = p.with_timestamper(|tsa| vanban_pades::finish_cms(&attrs, alg, &value, &cert, &chain, Some(tsa)))?;
        Ok(prepared.embed(&cms)?)
    })
    .await?;
    let r = store_signed(
        state,
        s,
        sess.document_id,
        sess.base_sha256.clone(),
        signed,
        &rec,
        RevisionKind::Signer,
        Some(OutgoingAction::Sign),
    )
    .await?;
    state.store.complete_signing_session(&s.actor(), &s.scope(), session_id).await?;
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

struct CertRow {
    id: String,
    subject: String,
    issuer: String,
    serial: String,
    validity: String,
    provider: &'static str,
    status: &'static str,
    active: bool,
}

fn cert_row(c: &CertificateRecord) -> CertRow {
    CertRow {
        id: c.id.to_string(),
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        serial: c.serial_hex.clone(),
        validity: format!("{} – {}", format_vn_time(c.not_before), format_vn_time(c.not_after)),
        provider: match c.provider {
            KeyProvider::Software => "Khóa lưu trên máy chủ (mở bằng mã PIN)",
            KeyProvider::Pkcs11 => "Thiết bị ký số (USB token)",
            KeyProvider::Remote => "Ký số từ xa",
        },
        status: match c.status {
            vanban_store::CertStatus::Active if c.not_after < Utc::now() => "Hết hạn",
            vanban_store::CertStatus::Active => "Đang hiệu lực",
            vanban_store::CertStatus::Revoked => "Đã thu hồi",
        },
        active: c.status == vanban_store::CertStatus::Active && c.not_after > Utc::now(),
    }
}

#[derive(askama::Template)]
#[template(path = "certificates.html")]
struct CertificatesPage {
    nav: Nav,
    notice: Option<Notice>,
    mine: Vec<CertRow>,
    agency: Vec<CertRow>,
    can_manage_agency: bool,
    has_signature_image: bool,
    has_seal_image: bool,
    root_fingerprint: String,
}

async fn certificates_page(state: &AppState, s: &Session, notice: Option<Notice>) -> Result<Response, PageError> {
    let pki = state.pki().await?;
    let mine = state.store.list_certificates(&s.scope(), Owner::User(s.caller.user_id)).await?;
    let can_manage_agency = s.caller.has(Permission::ManageUsers) || s.caller.has(Permission::IssueDocument);
    let agency =
        if can_manage_agency { state.store.list_certificates(&s.scope(), Owner::Agency).await? } else { Vec::new() };
    let has_signature_image = state.store.get_signing_image(&s.scope(), Owner::User(s.caller.user_id)).await?.is_some();
    let has_seal_image = state.store.get_signing_image(&s.scope(), Owner::Agency).await?.is_some();
    render_page(
        StatusCode::OK,
        &CertificatesPage {
            nav: Nav::of(s),
            notice,
            mine: mine.iter().map(cert_row).collect(),
            agency: agency.iter().map(cert_row).collect(),
            can_manage_agency,
            has_signature_image,
            has_seal_image,
            root_fingerprint: hex::encode(pki.root.fingerprint_sha256()),
        },
    )
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn done_notice(code: Option<&str>) -> Option<Notice> {
    let text = match code? {
        "certificate_issued" => "Đã cấp chứng thư số. Hãy ghi nhớ mã PIN: không ai khôi phục được mã PIN.",
        "certificate_imported" => "Đã nhập chứng thư số.",
        "certificate_registered" => "Đã đăng ký chứng thư số của thiết bị ký số.",
        "certificate_revoked" => "Đã thu hồi chứng thư số.",
        "image_saved" => "Đã lưu ảnh.",
        _ => return Notice::done(Some(code?)),
    };
    Some(Notice { kind: "ok", text: text.to_owned() })
}

async fn certificates(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    certificates_page(&state, &s, done_notice(q.done.as_deref())).await
}

fn kind_of(form: &str) -> CertKind {
    if form == "organisation" { CertKind::Organisation } else { CertKind::Person }
}

async fn after_cert_form<T>(
    state: &AppState,
    s: &Session,
    r: Result<T, AppError>,
    done: &str,
) -> Result<Response, PageError> {
    match r {
        Ok(_) => Ok(redirect_done("/certificates", done)),
        Err(e) => crate::pages::rerender_with(e, |n| certificates_page(state, s, n)).await,
    }
}

async fn certificates_issue(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let r = async {
        check_pins(form.get("pin"), form.get("pin2"))?;
        issue_certificate(&state, &s, kind_of(form.get("kind")), form.get("pin"), form.opt("uid")).await
    }
    .await;
    after_cert_form(&state, &s, r, "certificate_issued").await
}

async fn certificates_register(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let r = register_token_certificate(&state, &s, kind_of(form.get("kind")), form.get("pem")).await;
    after_cert_form(&state, &s, r, "certificate_registered").await
}

async fn certificates_revoke(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let r = async {
        let id: uuid::Uuid = parse_id(&id)?;
        let c = state.store.get_certificate(&s.scope(), id).await?;
        let own = c.user_id == Some(s.caller.user_id);
        if !own && !s.caller.has(Permission::ManageUsers) {
            return Err(AppError::Forbidden("revoke"));
        }
        let reason = form.opt("reason").unwrap_or_else(|| "unspecified".to_owned());
        let revoked = state.store.revoke_certificate(&s.actor(), &s.scope(), id, reason, Utc::now()).await?;
        // An agency key unlocked on this node is dropped at once (others re-check the status).
        state.key_cache().forget(id);
        Ok(revoked)
    }
    .await;
    after_cert_form(&state, &s, r, "certificate_revoked").await
}

/// Multipart fields as text, and the one file.
async fn read_multipart(mut m: Multipart) -> Result<(Vec<(String, String)>, Option<Bytes>), AppError> {
    let mut fields = Vec::new();
    let mut file = None;
    while let Some(f) = m.next_field().await.map_err(crate::drafting::multipart_error)? {
        let name = f.name().unwrap_or("").to_owned();
        if name == "file" {
            file = Some(f.bytes().await.map_err(crate::drafting::multipart_error)?);
        } else {
            let v = f.text().await.map_err(crate::drafting::multipart_error)?;
            fields.push((name, vanban_domain::nfc(&v)));
        }
    }
    Ok((fields, file))
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

async fn certificates_import(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    m: Multipart,
) -> Result<Response, PageError> {
    let r = async {
        let (fields, file) = read_multipart(m).await?;
        s.check_csrf(field(&fields, "csrf"))?;
        let file = file.ok_or(vanban_domain::DomainError::FieldRequired { field: "file" })?;
        check_pins(field(&fields, "pin"), field(&fields, "pin2"))?;
        import_certificate(
            &state,
            &s,
            kind_of(field(&fields, "kind")),
            file,
            field(&fields, "password").to_owned(),
            field(&fields, "pin").to_owned(),
        )
        .await
    }
    .await;
    if let Err(AppError::Csrf) = r {
        return Err(PageError(AppError::Csrf));
    }
    after_cert_form(&state, &s, r, "certificate_imported").await
}

/// Stores a signature image (blue) or a seal image (red), PNG with a transparent background.
pub async fn save_image(state: &AppState, s: &Session, owner: Owner, png: Bytes) -> Result<(), AppError> {
    if let Owner::Agency = owner
        && !s.caller.has(Permission::ManageUsers)
        && !s.caller.has(Permission::IssueDocument)
    {
        return Err(AppError::Forbidden("seal image"));
    }
    let data = png.clone();
    let img = blocking(move || Ok(Image::from_png(&data)?)).await?;
    let want = if matches!(owner, Owner::Agency) { vanban_pades::Colour::Red } else { vanban_pades::Colour::Blue };
    if !img.is_transparent() || img.dominant_colour() != want {
        return Err(AppError::Signing(vanban_pades::PadesError::BadImage(format!(
            "needs a transparent PNG in {want:?}"
        ))));
    }
    let blob = state.blobs.put(png).await?;
    state
        .store
        .set_signing_image(
            &s.actor(),
            &s.scope(),
            owner,
            blob.sha256,
            i32::try_from(img.width).unwrap_or(i32::MAX),
            i32::try_from(img.height).unwrap_or(i32::MAX),
        )
        .await?;
    Ok(())
}

async fn certificates_image(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    m: Multipart,
) -> Result<Response, PageError> {
    let r = async {
        let (fields, file) = read_multipart(m).await?;
        s.check_csrf(field(&fields, "csrf"))?;
        let file = file.ok_or(vanban_domain::DomainError::FieldRequired { field: "file" })?;
        let owner = if field(&fields, "owner") == "agency" { Owner::Agency } else { Owner::User(s.caller.user_id) };
        save_image(&state, &s, owner, file).await
    }
    .await;
    if let Err(AppError::Csrf) = r {
        return Err(PageError(AppError::Csrf));
    }
    after_cert_form(&state, &s, r, "image_saved").await
}

/// A certificate of the caller's agency with its chain, as PEM (to hand to a relying party).
async fn certificate_pem(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let c = state.store.get_certificate(&s.scope(), parse_id(&id)?).await?;
    let (cert, chain) = chain_of(&c)?;
    let mut pem = cert.to_pem();
    for ca in &chain {
        pem.push_str(&ca.to_pem());
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pem-file".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"chung-thu-{}.pem\"", c.serial_hex)),
        ],
        pem,
    )
        .into_response())
}

async fn image_file(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(owner): Path<String>,
) -> Result<Response, PageError> {
    let owner = if owner == "agency" { Owner::Agency } else { Owner::User(s.caller.user_id) };
    let img = state.store.get_signing_image(&s.scope(), owner).await?.ok_or(StoreError::NotFound)?;
    let bytes = state.blobs.get(&img.sha256).await?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "private, no-store")], bytes).into_response())
}

struct SigRow {
    field: String,
    kind: &'static str,
    signer: String,
    uid: String,
    time: String,
    verdict: &'static str,
    verdict_class: &'static str,
    reason_vi: String,
    trusted: bool,
    revision: String,
    changes: &'static str,
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "ok",
        Verdict::Invalid => "error",
        Verdict::Indeterminate => "warn",
    }
}

/// A validation report as the pages show it (templates/signature_report.html).
struct ReportView {
    overall: &'static str,
    overall_class: &'static str,
    overall_reason: String,
    rows: Vec<SigRow>,
}

impl ReportView {
    fn of(r: &Report) -> ReportView {
        ReportView {
            overall: r.verdict.label_vi(),
            overall_class: verdict_class(r.verdict),
            overall_reason: r.reason_vi.clone(),
            rows: sig_rows(r),
        }
    }
}

/// The CN of a distinguished name ("CN=Nguyễn Văn A,title=…,O=…"), or the whole name.
fn common_name(subject: &str) -> &str {
    subject.split(',').find_map(|p| p.trim().strip_prefix("CN=")).unwrap_or(subject)
}

/// What a signature field of vanban's own is for; another system's field by its name.
fn field_label(field: &str) -> String {
    match field {
        "vb_signature_signer" => "Chữ ký của người có thẩm quyền".to_owned(),
        "vb_signature_agency" => "Chữ ký số của cơ quan (con dấu)".to_owned(),
        "vb_signature_appendix" => "Chữ ký số của cơ quan trên phụ lục".to_owned(),
        "vb_signature_copy" => "Chữ ký số của cơ quan trên bản số hóa".to_owned(),
        other => format!("Ô ký «{other}»"),
    }
}

fn sig_rows(r: &Report) -> Vec<SigRow> {
    r.signatures
        .iter()
        .map(|x| SigRow {
            field: field_label(&x.field),
            kind: if x.kind == "document_timestamp" { "Dấu thời gian tài liệu" } else { "Chữ ký số" },
            signer: x
                .signer
                .as_ref()
                .map(|c| c.common_name.clone().unwrap_or_else(|| c.subject.clone()))
                .unwrap_or_default(),
            uid: x.signer.as_ref().and_then(|c| c.uid.clone()).unwrap_or_default(),
            time: x
                .timestamp
                .as_ref()
                .map(|t| format!("{} (dấu thời gian)", crate::pages::format_vn_seconds(t.time)))
                .or_else(|| x.claimed_time.map(|t| format!("{} (theo máy ký)", crate::pages::format_vn_seconds(t))))
                .unwrap_or_default(),
            verdict: x.verdict.label_vi(),
            verdict_class: verdict_class(x.verdict),
            reason_vi: x.reason_vi.clone(),
            trusted: x.trusted,
            revision: format!("{}/{}", x.revision, x.revisions),
            changes: match x.modification {
                vanban_pades::verify::Modification::None => "Không có",
                vanban_pades::verify::Modification::Signing => "Chỉ ký tiếp, dấu thời gian",
                vanban_pades::verify::Modification::FormFilling => "Điền số, ngày và ký tiếp (được phép)",
                vanban_pades::verify::Modification::Other => "Sửa nội dung (không được phép)",
            },
        })
        .collect()
}

#[derive(askama::Template)]
#[template(path = "signing_panel.html")]
struct SigningPanel {
    id: String,
    csrf: String,
    can_sign: bool,
    /// Who the document names to sign it, when it waits for a signature.
    named_signer: Option<String>,
    /// The user could sign, but the document names someone else.
    not_named: bool,
    certificates: Vec<(String, String)>,
    has_image: bool,
    revisions: Vec<(i32, &'static str, String, String)>,
    report: Option<ReportView>,
}

async fn signing_panel(state: &AppState, s: &Session, id: DocumentId) -> Result<SigningPanel, AppError> {
    s.caller.require(Permission::ViewDocuments)?;
    let doc = state.store.get_document(&s.scope(), id).await?;
    let revisions = state.store.list_revisions(&s.scope(), id).await?;
    let approved = doc.state == OutgoingState::Approved.as_str();
    let named_signer = if approved { named_signer(state, s, id).await? } else { None };
    // Only the named signer is offered the form (the others would be refused on signing).
    let not_named = named_signer.as_deref().is_some_and(|n| !is_the_named(s, n));
    let can_sign = approved && s.caller.has(Permission::SignDocument) && !not_named;
    let certificates = if can_sign {
        state
            .store
            .list_certificates(&s.scope(), Owner::User(s.caller.user_id))
            .await?
            .iter()
            .filter(|c| c.status == vanban_store::CertStatus::Active && c.not_after > Utc::now())
            .map(|c| {
                let serial = c.serial_hex.get(..8).unwrap_or(&c.serial_hex);
                let until = crate::pages::format_vn_time(c.not_after);
                (c.id.to_string(), format!("{} — hiệu lực đến {until} — số hiệu {serial}…", common_name(&c.subject)))
            })
            .collect()
    } else {
        Vec::new()
    };
    let has_image = state.store.get_signing_image(&s.scope(), Owner::User(s.caller.user_id)).await?.is_some();
    let mut panel = SigningPanel {
        id: id.to_string(),
        csrf: s.csrf_token.clone(),
        can_sign,
        named_signer,
        not_named: not_named && s.caller.has(Permission::SignDocument),
        certificates,
        has_image,
        revisions: revisions
            .iter()
            .map(|r| {
                let kind = match r.kind {
                    RevisionKind::Render => "Bản dựng PDF",
                    RevisionKind::Signer => "Chữ ký của người có thẩm quyền",
                    RevisionKind::Agency => "Chữ ký số của cơ quan",
                    RevisionKind::Number => "Điền số, ngày",
                    RevisionKind::Timestamp => "Dấu thời gian",
                    RevisionKind::Ltv => "Dữ liệu kiểm tra dài hạn",
                };
                (r.seq, kind, r.signer_name.clone().unwrap_or_default(), format_vn_time(r.created_at))
            })
            .collect(),
        report: None,
    };
    if let Some(head) = revisions.last()
        && head.kind != RevisionKind::Render
    {
        let bytes = state.blobs.get(&head.pdf_sha256).await?;
        panel.report = Some(ReportView::of(&verify_bytes(state, bytes).await?));
    }
    Ok(panel)
}

async fn document_signing(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let panel = signing_panel(&state, &s, parse_id(&id)?).await?;
    render_page(StatusCode::OK, &panel)
}

async fn document_sign(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, PageError> {
    s.check_csrf(form.get("csrf"))?;
    let r = async {
        let doc: DocumentId = parse_id(&id)?;
        let cert: uuid::Uuid = parse_id(form.get("certificate"))?;
        sign_document(&state, &s, doc, cert, form.get("pin").to_owned()).await
    }
    .await;
    crate::pages::after_document_form(&state, &s, &id, r, "signed").await
}

async fn document_signed_pdf(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id: DocumentId = parse_id(&id)?;
    s.caller.require(Permission::ViewDocuments)?;
    let head = state.store.head_revision(&s.scope(), id).await?.ok_or(StoreError::NotFound)?;
    let bytes = state.blobs.get(&head.pdf_sha256).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"van-ban-{}.pdf\"", &head.pdf_sha256[..12])),
        ],
        bytes,
    )
        .into_response())
}

#[derive(askama::Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    nav: Nav,
    notice: Option<Notice>,
    report: Option<ReportView>,
}

async fn verify_get(State(_state): State<AppState>, PageSession(s): PageSession) -> Result<Response, PageError> {
    render_page(StatusCode::OK, &VerifyPage { nav: Nav::of(&s), notice: None, report: None })
}

async fn verify_post(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    m: Multipart,
) -> Result<Response, PageError> {
    let r = async {
        let (fields, file) = read_multipart(m).await?;
        s.check_csrf(field(&fields, "csrf"))?;
        let file = file.ok_or(vanban_domain::DomainError::FieldRequired { field: "file" })?;
        verify_bytes(&state, file).await
    }
    .await;
    let mut page = VerifyPage { nav: Nav::of(&s), notice: None, report: None };
    let status = match r {
        Ok(report) => {
            page.report = Some(ReportView::of(&report));
            StatusCode::OK
        }
        Err(AppError::Csrf) => return Err(PageError(AppError::Csrf)),
        Err(e) => {
            page.notice = Some(Notice { kind: "error", text: e.message_vi() });
            e.status()
        }
    };
    render_page(status, &page)
}

// ---------------------------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------------------------

async fn api_verify(
    State(state): State<AppState>,
    ApiSession(_s): ApiSession,
    body: Bytes,
) -> Result<Response, ApiError> {
    let report = verify_bytes(&state, body).await?;
    Ok(axum::Json(report).into_response())
}

async fn api_certificates(State(state): State<AppState>, ApiSession(s): ApiSession) -> Result<Response, ApiError> {
    let mine = state.store.list_certificates(&s.scope(), Owner::User(s.caller.user_id)).await?;
    Ok(axum::Json(mine).into_response())
}

#[derive(Deserialize)]
pub struct IssueInput {
    pub kind: Option<String>,
    pub pin: String,
    pub uid: Option<String>,
}

async fn api_issue(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    axum::Json(input): axum::Json<IssueInput>,
) -> Result<Response, ApiError> {
    let c = issue_certificate(&state, &s, kind_of(input.kind.as_deref().unwrap_or("")), &input.pin, input.uid).await?;
    Ok((StatusCode::CREATED, axum::Json(c)).into_response())
}

#[derive(Deserialize)]
pub struct RegisterInput {
    pub kind: Option<String>,
    pub pem: String,
}

async fn api_register(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    axum::Json(input): axum::Json<RegisterInput>,
) -> Result<Response, ApiError> {
    let c = register_token_certificate(&state, &s, kind_of(input.kind.as_deref().unwrap_or("")), &input.pem).await?;
    Ok((StatusCode::CREATED, axum::Json(c)).into_response())
}

async fn api_signature_image(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    body: Bytes,
) -> Result<Response, ApiError> {
    save_image(&state, &s, Owner::User(s.caller.user_id), body).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub struct SignInput {
    pub certificate_id: uuid::Uuid,
    pub pin: String,
}

async fn api_sign(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    axum::Json(input): axum::Json<SignInput>,
) -> Result<Response, ApiError> {
    let r = sign_document(&state, &s, parse_id(&id)?, input.certificate_id, input.pin).await?;
    Ok((StatusCode::CREATED, axum::Json(r)).into_response())
}

async fn api_revisions(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.caller.require(Permission::ViewDocuments)?;
    let r = state.store.list_revisions(&s.scope(), parse_id(&id)?).await?;
    Ok(axum::Json(r).into_response())
}

#[derive(Deserialize)]
pub struct SessionInput {
    pub certificate_id: uuid::Uuid,
}

/// What an agent needs to sign: the session and the bytes (and their SHA-256).
#[derive(serde::Serialize)]
struct SessionView {
    id: uuid::Uuid,
    document_id: DocumentId,
    state: vanban_store::SessionState,
    algorithm: String,
    to_be_signed_hex: String,
    digest_hex: String,
    expires_at: DateTime<Utc>,
}

async fn session_view(
    state: &AppState,
    s: &Session,
    sess: vanban_store::SigningSessionRecord,
) -> Result<SessionView, AppError> {
    let rec = state.store.get_certificate(&s.scope(), sess.certificate_id).await?;
    let cert = Cert::from_der(&rec.cert_der)?;
    Ok(SessionView {
        id: sess.id,
        document_id: sess.document_id,
        state: sess.state,
        algorithm: KeyAlgorithm::from_spki_der(&cert.spki_der())?.as_str().to_owned(),
        to_be_signed_hex: hex::encode(&sess.to_be_signed),
        digest_hex: sess.digest_hex,
        expires_at: sess.expires_at,
    })
}

async fn api_start_session(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    axum::Json(input): axum::Json<SessionInput>,
) -> Result<Response, ApiError> {
    let sess = start_session(&state, &s, parse_id(&id)?, input.certificate_id).await?;
    Ok((StatusCode::CREATED, axum::Json(session_view(&state, &s, sess).await?)).into_response())
}

async fn api_get_session(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sess = state.store.get_signing_session(&s.scope(), parse_id(&id)?).await?;
    Ok(axum::Json(session_view(&state, &s, sess).await?).into_response())
}

#[derive(Deserialize)]
pub struct SignatureInput {
    pub signature_hex: String,
}

async fn api_finish_session(
    State(state): State<AppState>,
    ApiSession(s): ApiSession,
    Path(id): Path<String>,
    axum::Json(input): axum::Json<SignatureInput>,
) -> Result<Response, ApiError> {
    let value = hex::decode(input.signature_hex.trim()).map_err(|_| AppError::BadRequest("signature_hex".into()))?;
    let r = finish_session(&state, &s, parse_id(&id)?, value).await?;
    Ok((StatusCode::CREATED, axum::Json(r)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Public PKI endpoints (no session: relying parties fetch these)
// ---------------------------------------------------------------------------------------------

async fn pki_ca(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let pki = state.pki().await?;
    let stem = name.trim_end_matches(".crt").trim_end_matches(".pem");
    let cert = [&pki.root, &pki.issuing.cert]
        .into_iter()
        .find(|c| c.fingerprint_hex16() == stem || (stem == "root" && c.is_self_issued()))
        .ok_or(StoreError::NotFound)?;
    if name.ends_with(".pem") {
        return Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], cert.to_pem()).into_response());
    }
    Ok(([(header::CONTENT_TYPE, "application/pkix-cert")], cert.der().to_vec()).into_response())
}

async fn pki_crl(State(state): State<AppState>, Path(_name): Path<String>) -> Result<Response, ApiError> {
    let pki = state.pki().await?;
    let current = pki.current_crl(&state).await?;
    Ok(([(header::CONTENT_TYPE, "application/pkix-crl")], current.der.to_vec()).into_response())
}

async fn pki_ocsp(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let pki = state.pki().await?;
    let revoked = state.store.revoked_certificates().await?;
    let issuer = pki.issuing.cert.subject_string();
    let resp = pki.ocsp.respond(&body, Utc::now(), |serial| {
        let hex = hex::encode(serial);
        match revoked
            .iter()
            .find(|r| r.issuer == issuer && r.serial_hex.trim_start_matches('0') == hex.trim_start_matches('0'))
        {
            Some(r) => OcspStatus::Revoked { at: r.revoked_at, reason: reason_of(&r.reason) },
            None => OcspStatus::Good,
        }
    })?;
    Ok(([(header::CONTENT_TYPE, "application/ocsp-response")], resp).into_response())
}

async fn pki_tsa(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let pki = state.pki().await?;
    let resp = pki.tsa.respond(&body, Utc::now())?;
    Ok(([(header::CONTENT_TYPE, "application/timestamp-reply")], resp).into_response())
}

/// The routes of this module (pages, API, public PKI). Uploads (PKCS#12, images, PDFs to
/// verify) are in [`upload_routes`] with the larger body limit.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/certificates", get(certificates))
        .route("/certificates/issue", post(certificates_issue))
        .route("/certificates/register", post(certificates_register))
        .route("/certificates/{id}/revoke", post(certificates_revoke))
        .route("/certificates/{id}/pem", get(certificate_pem))
        .route("/certificates/image/{owner}", get(image_file))
        .route("/documents/{id}/signing", get(document_signing))
        .route("/documents/{id}/sign", post(document_sign))
        .route("/documents/{id}/signed.pdf", get(document_signed_pdf))
        .route("/api/v1/certificates", get(api_certificates).post(api_issue))
        .route("/api/v1/certificates/token", post(api_register))
        .route("/api/v1/documents/{id}/sign", post(api_sign))
        .route("/api/v1/documents/{id}/revisions", get(api_revisions))
        .route("/api/v1/documents/{id}/signing-sessions", post(api_start_session))
        .route("/api/v1/signing-sessions/{id}", get(api_get_session))
        .route("/api/v1/signing-sessions/{id}/signature", post(api_finish_session))
        .route("/pki/ca/{name}", get(pki_ca))
        .route("/pki/crl/{name}", get(pki_crl))
        .route("/pki/ocsp", post(pki_ocsp))
        .route("/pki/tsa", post(pki_tsa))
}

/// Routes that take files.
pub fn upload_routes() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new()
        .route("/certificates/import", post(certificates_import))
        .route("/certificates/image", post(certificates_image))
        .route("/verify", axum::routing::get(verify_get).post(verify_post))
        .route("/api/v1/verify", post(api_verify))
        .route("/api/v1/me/signature-image", post(api_signature_image))
}
