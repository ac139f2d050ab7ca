//! Path building and validation against a trust store, at a given time, with revocation data.

use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::cert::Cert;
use crate::error::{PkiError, Result};
use crate::oid;
use crate::revocation::{CertStatus, Crl, OcspResponse, RevocationReason};

/// The certificates a validation may end at.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    anchors: Vec<Cert>,
}

impl TrustStore {
    /// A store of these anchors.
    pub fn new(anchors: Vec<Cert>) -> Self {
        TrustStore { anchors }
    }

    /// A store of every certificate in these PEM files.
    pub fn from_pem_files<P: AsRef<Path>>(paths: &[P]) -> Result<Self> {
        let mut anchors = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path)
                .map_err(|source| PkiError::Io { path: path.display().to_string(), source })?;
            anchors.extend(Cert::from_pem(&text)?);
        }
        Ok(TrustStore { anchors })
    }

    /// The anchors.
    pub fn anchors(&self) -> &[Cert] {
        &self.anchors
    }

    /// Whether `cert` is one of the anchors.
    pub fn contains(&self, cert: &Cert) -> bool {
        self.anchors.iter().any(|a| a.der() == cert.der())
    }
}

/// Revocation evidence at hand: CRLs and OCSP responses (from the PDF's DSS, a cache, the
/// network: the caller's business).
#[derive(Clone, Debug, Default)]
pub struct RevocationData {
    pub crls: Vec<Crl>,
    pub ocsp: Vec<OcspResponse>,
}

/// What the revocation check found for one certificate of the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationCheck {
    /// Not revoked at the validation time. `source`: "ocsp", "crl", or "ocsp_nocheck" for a
    /// delegated OCSP responder certificate that carries id-pkix-ocsp-nocheck.
    Good { source: &'static str },
    /// Revoked at or before the validation time.
    Revoked { at: DateTime<Utc>, reason: RevocationReason },
    /// No verified CRL or OCSP response speaks of it.
    NoData,
}

/// Something wrong with a path. `subject` names the certificate concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainProblem {
    /// The path does not reach a trust anchor.
    UntrustedRoot {
        subject: String,
    },
    Expired {
        subject: String,
        not_after: DateTime<Utc>,
    },
    NotYetValid {
        subject: String,
        not_before: DateTime<Utc>,
    },
    /// A certificate's signature does not verify with its issuer's key.
    BadSignature {
        subject: String,
    },
    /// An issuer is not a CA, may not sign certificates, or its path length is exceeded.
    NotACa {
        subject: String,
    },
    Revoked {
        subject: String,
        at: DateTime<Utc>,
        reason: RevocationReason,
    },
    NoRevocationData {
        subject: String,
    },
    /// The end-entity certificate may not make signatures.
    KeyUsage {
        subject: String,
    },
}

impl ChainProblem {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ChainProblem::UntrustedRoot { .. } => "untrusted_root",
            ChainProblem::Expired { .. } => "expired",
            ChainProblem::NotYetValid { .. } => "not_yet_valid",
            ChainProblem::BadSignature { .. } => "bad_signature",
            ChainProblem::NotACa { .. } => "not_a_ca",
            ChainProblem::Revoked { .. } => "revoked",
            ChainProblem::NoRevocationData { .. } => "no_revocation_data",
            ChainProblem::KeyUsage { .. } => "key_usage",
        }
    }

    /// The certificate concerned.
    pub fn subject(&self) -> &str {
        match self {
            ChainProblem::UntrustedRoot { subject }
            | ChainProblem::Expired { subject, .. }
            | ChainProblem::NotYetValid { subject, .. }
            | ChainProblem::BadSignature { subject }
            | ChainProblem::NotACa { subject }
            | ChainProblem::Revoked { subject, .. }
            | ChainProblem::NoRevocationData { subject }
            | ChainProblem::KeyUsage { subject } => subject,
        }
    }

    /// What a person reads.
    pub fn message_vi(&self) -> String {
        let s = self.subject();
        match self {
            ChainProblem::UntrustedRoot { .. } => {
                format!("Chứng thư số {s} không thuộc tổ chức chứng thực được tin cậy")
            }
            ChainProblem::Expired { .. } => format!("Chứng thư số {s} đã hết hạn"),
            ChainProblem::NotYetValid { .. } => format!("Chứng thư số {s} chưa có hiệu lực"),
            ChainProblem::BadSignature { .. } => format!("Chữ ký trên chứng thư số {s} không hợp lệ"),
            ChainProblem::NotACa { .. } => format!("Chứng thư số {s} không được phép cấp chứng thư"),
            ChainProblem::Revoked { reason, .. } => {
                format!("Chứng thư số {s} đã bị thu hồi ({})", reason.label_vi())
            }
            ChainProblem::NoRevocationData { .. } => {
                format!("Không có thông tin thu hồi (CRL/OCSP) cho chứng thư số {s}")
            }
            ChainProblem::KeyUsage { .. } => format!("Chứng thư số {s} không được dùng để ký"),
        }
    }
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.subject();
        match self {
            ChainProblem::UntrustedRoot { .. } => write!(f, "{s}: does not chain to a trust anchor"),
            ChainProblem::Expired { not_after, .. } => write!(f, "{s}: expired at {not_after}"),
            ChainProblem::NotYetValid { not_before, .. } => write!(f, "{s}: not valid before {not_before}"),
            ChainProblem::BadSignature { .. } => write!(f, "{s}: signature does not verify"),
            ChainProblem::NotACa { .. } => write!(f, "{s}: not allowed to issue certificates"),
            ChainProblem::Revoked { at, reason, .. } => write!(f, "{s}: revoked at {at} ({})", reason.code()),
            ChainProblem::NoRevocationData { .. } => write!(f, "{s}: no revocation data"),
            ChainProblem::KeyUsage { .. } => write!(f, "{s}: key usage does not allow signing"),
        }
    }
}

/// The outcome of [`validate_chain`].
#[derive(Clone, Debug)]
pub struct ChainReport {
    /// From the leaf up to the anchor (or as far as issuers were found).
    pub path: Vec<Cert>,
    /// The path ends at a trust anchor and every signature along it verifies. Whether the path
    /// is acceptable as a whole is `trusted && problems.is_empty()` ([`ChainReport::is_valid`]).
    pub trusted: bool,
    pub problems: Vec<ChainProblem>,
    /// One entry per certificate of the path that has its issuer in the path (all but the
    /// last), in path order.
    pub revocation: Vec<RevocationCheck>,
}

impl ChainReport {
    /// Trusted and without problems.
    pub fn is_valid(&self) -> bool {
        self.trusted && self.problems.is_empty()
    }

    /// Whether a problem with this code was found.
    pub fn has_problem(&self, code: &str) -> bool {
        self.problems.iter().any(|p| p.code() == code)
    }
}

const MAX_PATH_LEN: usize = 10;

/// Builds a path from `leaf` through `pool` to an anchor of `trust` and checks it at `at`:
/// validity of every certificate, signatures, CA flags, key usage and path length, and for each
/// certificate below the anchor its revocation status, from a verified OCSP response or, failing
/// that, a verified CRL. A certificate revoked after `at` counts as good: the caller passes as
/// `at` the proven signing time (of a timestamp), so a signature made before a revocation holds.
pub fn validate_chain(
    leaf: &Cert,
    pool: &[Cert],
    trust: &TrustStore,
    at: DateTime<Utc>,
    revocation: &RevocationData,
) -> ChainReport {
    let path = build_path(leaf, pool, trust);
    let mut problems = Vec::new();
    let anchored = path.last().is_some_and(|last| trust.contains(last));
    let mut signatures_ok = true;

    for (i, cert) in path.iter().enumerate() {
        let subject = cert.subject_string();
        if at < cert.not_before() {
            problems.push(ChainProblem::NotYetValid { subject: subject.clone(), not_before: cert.not_before() });
        } else if at > cert.not_after() {
            problems.push(ChainProblem::Expired { subject: subject.clone(), not_after: cert.not_after() });
        }
        if let Some(issuer) = path.get(i + 1) {
            if cert.verify_signature_with(issuer).is_err() {
                signatures_ok = false;
                problems.push(ChainProblem::BadSignature { subject: subject.clone() });
            }
        } else if trust.contains(cert) && cert.is_self_issued() && cert.verify_signature_with(cert).is_err() {
            // A self-signed anchor whose own signature fails is damaged.
            signatures_ok = false;
            problems.push(ChainProblem::BadSignature { subject: subject.clone() });
        }
        if i > 0 {
            let is_anchor = trust.contains(cert);
            let ca_ok = cert.is_ca() && cert.key_usage_allows_cert_sign();
            // Intermediate CA certificates below this one (the leaf does not count).
            let below = i - 1;
            let path_len_ok = cert.path_len().is_none_or(|n| below <= usize::from(n));
            if (!ca_ok && !is_anchor) || !path_len_ok {
                problems.push(ChainProblem::NotACa { subject: subject.clone() });
            }
        }
    }
    if !leaf.key_usage_allows_signing() {
        problems.push(ChainProblem::KeyUsage { subject: leaf.subject_string() });
    }
    if !anchored {
        let top = path.last().unwrap_or(leaf);
        problems.push(ChainProblem::UntrustedRoot { subject: top.subject_string() });
    }

    let mut checks = Vec::new();
    for pair in path.windows(2) {
        let [cert, issuer] = pair else { continue };
        let check = revocation_status(cert, issuer, at, revocation);
        match check {
            RevocationCheck::Revoked { at, reason } => {
                problems.push(ChainProblem::Revoked { subject: cert.subject_string(), at, reason })
            }
            RevocationCheck::NoData => problems.push(ChainProblem::NoRevocationData { subject: cert.subject_string() }),
            RevocationCheck::Good { .. } => {}
        }
        checks.push(check);
    }
    ChainReport { path, trusted: anchored && signatures_ok, problems, revocation: checks }
}

fn build_path(leaf: &Cert, pool: &[Cert], trust: &TrustStore) -> Vec<Cert> {
    let mut path = vec![leaf.clone()];
    while let Some(current) = path.last().cloned() {
        if trust.contains(&current) || path.len() >= MAX_PATH_LEN {
            break;
        }
        let fresh = |c: &&Cert| !path.iter().any(|p| p.der() == c.der());
        // Anchors first, so a cross-certified intermediate in the pool does not hide the root.
        let issuer = trust
            .anchors()
            .iter()
            .filter(fresh)
            .find(|a| current.issued_by(a))
            .or_else(|| pool.iter().filter(fresh).find(|c| current.issued_by(c)))
            .or_else(|| {
                // An anchor that is the current certificate re-issued (same subject and key).
                trust
                    .anchors()
                    .iter()
                    .find(|a| a.subject_der() == current.subject_der() && a.spki_der() == current.spki_der())
            })
            .cloned();
        match issuer {
            Some(next) if next.der() != current.der() => path.push(next),
            _ => break,
        }
    }
    path
}

fn revocation_status(cert: &Cert, issuer: &Cert, at: DateTime<Utc>, data: &RevocationData) -> RevocationCheck {
    if cert.has_extension(oid::OCSP_NOCHECK) && cert.has_eku(oid::KP_OCSP_SIGNING) {
        return RevocationCheck::Good { source: "ocsp_nocheck" };
    }
    let judge = |status: CertStatus, source: &'static str| match status {
        CertStatus::Revoked { at: when, reason } if when <= at => Some(RevocationCheck::Revoked { at: when, reason }),
        CertStatus::Revoked { .. } | CertStatus::Good => Some(RevocationCheck::Good { source }),
        CertStatus::Unknown => None,
    };
    for resp in &data.ocsp {
        let Some(single) = resp.status_for(cert, issuer) else { continue };
        if resp.verify(issuer).is_err() {
            continue;
        }
        if let Some(check) = judge(single.status, "ocsp") {
            return check;
        }
    }
    for crl in &data.crls {
        if !crl.issued_by_name(issuer) || crl.verify(issuer).is_err() {
            continue;
        }
        // A CRL speaks for `at` when it was issued at or after it, or was current then.
        let covers = crl.this_update() >= at || crl.next_update().is_none_or(|next| at <= next);
        if !covers {
            continue;
        }
        let status = match crl.revocation_of(&cert.serial()) {
            Some((when, reason)) => CertStatus::Revoked { at: when, reason },
            None => CertStatus::Good,
        };
        if let Some(check) = judge(status, "crl") {
            return check;
        }
    }
    RevocationCheck::NoData
}
