//! Revocation: CRLs (parse, verify, look up) and OCSP (requests, a responder, responses).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use der::asn1::{BitString, Null, OctetString};
use der::{Decode, Encode};
use sha1::Digest;
use spki::AlgorithmIdentifierOwned;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::serial_number::SerialNumber;
use x509_ocsp::{
    BasicOcspResponse, CertId, OcspGeneralizedTime, OcspRequest, OcspResponseStatus, Request, ResponderId,
    ResponseData, RevokedInfo, SingleResponse, TbsRequest, Version,
};

use crate::cert::Cert;
use crate::error::{PkiError, Result};
use crate::keys::{SoftKey, sha256, verify_signature};
use crate::oid;
use crate::util;

/// Why a certificate was revoked (RFC 5280 CRLReason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
}

impl RevocationReason {
    /// All reasons.
    pub const ALL: [RevocationReason; 7] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
    ];

    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "key_compromise",
            RevocationReason::CaCompromise => "ca_compromise",
            RevocationReason::AffiliationChanged => "affiliation_changed",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessation_of_operation",
            RevocationReason::CertificateHold => "certificate_hold",
        }
    }

    /// The reason from its code.
    pub fn from_code(code: &str) -> Option<RevocationReason> {
        RevocationReason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// What a person reads.
    pub fn label_vi(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "Không nêu lý do",
            RevocationReason::KeyCompromise => "Khóa bí mật bị lộ",
            RevocationReason::CaCompromise => "Khóa của tổ chức cấp chứng thư bị lộ",
            RevocationReason::AffiliationChanged => "Thay đổi thông tin hoặc đơn vị công tác",
            RevocationReason::Superseded => "Đã được thay thế bằng chứng thư mới",
            RevocationReason::CessationOfOperation => "Ngừng hoạt động",
            RevocationReason::CertificateHold => "Tạm dừng hiệu lực",
        }
    }

    /// The RFC 5280 reason code number.
    pub fn rfc5280_code(self) -> u8 {
        CrlReason::from(self) as u8
    }
}

impl From<RevocationReason> for CrlReason {
    fn from(r: RevocationReason) -> CrlReason {
        match r {
            RevocationReason::Unspecified => CrlReason::Unspecified,
            RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
            RevocationReason::CaCompromise => CrlReason::CaCompromise,
            RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
            RevocationReason::Superseded => CrlReason::Superseded,
            RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
            RevocationReason::CertificateHold => CrlReason::CertificateHold,
        }
    }
}

impl From<CrlReason> for RevocationReason {
    /// Reasons we do not model (removeFromCRL, privilegeWithdrawn, aACompromise) read as
    /// unspecified.
    fn from(r: CrlReason) -> RevocationReason {
        match r {
            CrlReason::KeyCompromise => RevocationReason::KeyCompromise,
            CrlReason::CaCompromise => RevocationReason::CaCompromise,
            CrlReason::AffiliationChanged => RevocationReason::AffiliationChanged,
            CrlReason::Superseded => RevocationReason::Superseded,
            CrlReason::CessationOfOperation => RevocationReason::CessationOfOperation,
            CrlReason::CertificateHold => RevocationReason::CertificateHold,
            _ => RevocationReason::Unspecified,
        }
    }
}

fn same_serial(a: &[u8], b: &[u8]) -> bool {
    util::strip_leading_zeros(a) == util::strip_leading_zeros(b)
}

/// A parsed CRL with its DER kept.
#[derive(Clone, Debug)]
pub struct Crl {
    der: Arc<[u8]>,
    crl: Arc<CertificateList>,
}

impl Crl {
    /// Parses a DER CRL, once per process (see [`util::Memo`]); a clone shares the parse.
    pub fn from_der(der: &[u8]) -> Result<Crl> {
        static PARSED: util::Memo<Crl> = util::Memo::new(64, 256 * 1024);
        PARSED.get_or_parse(sha256(der), der.len(), || {
            let crl = CertificateList::from_der(der).map_err(PkiError::der("CRL"))?;
            Ok(Crl { der: der.into(), crl: Arc::new(crl) })
        })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The parsed structure.
    pub fn inner(&self) -> &CertificateList {
        &self.crl
    }

    /// Whether the CRL's issuer name is `issuer`'s subject.
    pub fn issued_by_name(&self, issuer: &Cert) -> bool {
        self.crl.tbs_cert_list.issuer == issuer.inner().tbs_certificate.subject
    }

    /// Checks the issuer name, the issuer's cRLSign key usage and the signature.
    pub fn verify(&self, issuer: &Cert) -> Result<()> {
        if !self.issued_by_name(issuer) {
            return Err(PkiError::BadSignature(format!("the CRL is not issued by {}", issuer.subject_string())));
        }
        if !issuer.key_usage_allows_crl_sign() {
            return Err(PkiError::InvalidCertificate("the CRL issuer may not sign CRLs".into()));
        }
        let outer = util::read_tlv(&self.der)?;
        let tbs = util::children(outer.value)?.first().map(|t| t.raw).unwrap_or_default();
        let signature =
            self.crl.signature.as_bytes().ok_or_else(|| PkiError::malformed("CRL", "signature with unused bits"))?;
        verify_signature(&issuer.spki_der(), &self.crl.signature_algorithm, None, tbs, signature)
    }

    /// thisUpdate.
    pub fn this_update(&self) -> DateTime<Utc> {
        util::time_to_chrono(&self.crl.tbs_cert_list.this_update)
    }

    /// nextUpdate, if given.
    pub fn next_update(&self) -> Option<DateTime<Utc>> {
        self.crl.tbs_cert_list.next_update.as_ref().map(util::time_to_chrono)
    }

    /// The CRLNumber extension.
    pub fn crl_number(&self) -> Option<Vec<u8>> {
        let exts = self.crl.tbs_cert_list.crl_extensions.as_deref().unwrap_or(&[]);
        exts.iter()
            .find(|e| e.extn_id == oid::CRL_NUMBER)
            .and_then(|e| der::asn1::Uint::from_der(e.extn_value.as_bytes()).ok())
            .map(|n| n.as_bytes().to_vec())
    }

    /// When and why the certificate with this serial (big-endian magnitude) was revoked, if it is
    /// on this CRL.
    pub fn revocation_of(&self, serial: &[u8]) -> Option<(DateTime<Utc>, RevocationReason)> {
        let entries = self.crl.tbs_cert_list.revoked_certificates.as_deref().unwrap_or(&[]);
        let entry = entries.iter().find(|e| same_serial(e.serial_number.as_bytes(), serial))?;
        let reason = entry
            .crl_entry_extensions
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .find(|e| e.extn_id == oid::CRL_REASON)
            .and_then(|e| CrlReason::from_der(e.extn_value.as_bytes()).ok())
            .map(RevocationReason::from)
            .unwrap_or(RevocationReason::Unspecified);
        Some((util::time_to_chrono(&entry.revocation_date), reason))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.crl.tbs_cert_list.revoked_certificates.as_ref().map_or(0, Vec::len)
    }

    /// Whether the CRL lists no certificate.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A certificate's status as a responder answers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    Revoked { at: DateTime<Utc>, reason: RevocationReason },
    Unknown,
}

/// One status from an OCSP response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SingleStatus {
    pub status: CertStatus,
    pub this_update: DateTime<Utc>,
    pub next_update: Option<DateTime<Utc>>,
    pub produced_at: DateTime<Utc>,
}

/// How long a response we produce may be cached (its nextUpdate).
pub const OCSP_VALIDITY: Duration = Duration::hours(24);

/// An OCSP responder: a delegated responder certificate (or the CA itself) and its key.
pub struct OcspResponder {
    pub cert: Cert,
    pub key: SoftKey,
    /// The CA whose certificates it answers for.
    pub issuer: Cert,
}

fn hash_for(alg: &AlgorithmIdentifierOwned, data: &[u8]) -> Option<Vec<u8>> {
    match alg.oid {
        oid::SHA1 => Some(sha1::Sha1::digest(data).to_vec()),
        oid::SHA256 => Some(sha2::Sha256::digest(data).to_vec()),
        oid::SHA384 => Some(sha2::Sha384::digest(data).to_vec()),
        oid::SHA512 => Some(sha2::Sha512::digest(data).to_vec()),
        _ => None,
    }
}

/// Whether `id` names a certificate issued by `issuer` (any serial).
fn cert_id_matches_issuer(id: &CertId, issuer: &Cert) -> bool {
    let name = hash_for(&id.hash_algorithm, &issuer.subject_der());
    let key = hash_for(&id.hash_algorithm, issuer.public_key_bits());
    name.as_deref() == Some(id.issuer_name_hash.as_bytes()) && key.as_deref() == Some(id.issuer_key_hash.as_bytes())
}

fn cert_id(cert: &Cert, issuer: &Cert) -> Result<CertId> {
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned { oid: oid::SHA1, parameters: Some(der::Any::null()) },
        issuer_name_hash: OctetString::new(sha1::Sha1::digest(issuer.subject_der()).to_vec())
            .map_err(PkiError::der("CertID"))?,
        issuer_key_hash: OctetString::new(sha1::Sha1::digest(issuer.public_key_bits()).to_vec())
            .map_err(PkiError::der("CertID"))?,
        serial_number: cert.inner().tbs_certificate.serial_number.clone(),
    })
}

/// An OCSP request for `cert`, with the SHA-1 CertID every responder understands, unsigned and
/// without a nonce (so responses can be cached).
pub fn ocsp_request(cert: &Cert, issuer: &Cert) -> Result<Vec<u8>> {
    let req = OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request { req_cert: cert_id(cert, issuer)?, single_request_extensions: None }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    req.to_der().map_err(PkiError::der("OCSP request"))
}

impl OcspResponder {
    /// Answers a DER OCSPRequest (RFC 6960): a BasicOCSPResponse signed by this responder,
    /// responderID byKey, the responder certificate included, the request's nonce echoed.
    /// A request that cannot be parsed is answered with `malformedRequest`, not an error.
    pub fn respond(
        &self,
        request_der: &[u8],
        now: DateTime<Utc>,
        status_of: impl Fn(&[u8]) -> CertStatus,
    ) -> Result<Vec<u8>> {
        let request = match OcspRequest::from_der(request_der) {
            Ok(r) if !r.tbs_request.request_list.is_empty() => r,
            _ => {
                return x509_ocsp::OcspResponse::malformed_request().to_der().map_err(PkiError::der("OCSP response"));
            }
        };
        let now = util::whole_seconds(now);
        let this_update = OcspGeneralizedTime(util::chrono_to_generalized(now)?);
        let next_update = OcspGeneralizedTime(util::chrono_to_generalized(now + OCSP_VALIDITY)?);
        let mut responses = Vec::with_capacity(request.tbs_request.request_list.len());
        for single in &request.tbs_request.request_list {
            let id = &single.req_cert;
            let status = if cert_id_matches_issuer(id, &self.issuer) {
                status_of(util::strip_leading_zeros(id.serial_number.as_bytes()))
            } else {
                CertStatus::Unknown
            };
            let cert_status = match status {
                CertStatus::Good => x509_ocsp::CertStatus::Good(Null),
                CertStatus::Unknown => x509_ocsp::CertStatus::Unknown(Null),
                CertStatus::Revoked { at, reason } => x509_ocsp::CertStatus::Revoked(RevokedInfo {
                    revocation_time: OcspGeneralizedTime(util::chrono_to_generalized(at)?),
                    revocation_reason: Some(reason.into()),
                }),
            };
            responses.push(SingleResponse {
                cert_id: id.clone(),
                cert_status,
                this_update,
                next_update: Some(next_update),
                single_extensions: None,
            });
        }
        let nonce = request
            .tbs_request
            .request_extensions
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .find(|e| e.extn_id == oid::OCSP_NONCE)
            .cloned();
        let key_hash = sha1::Sha1::digest(self.cert.public_key_bits()).to_vec();
        let data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(OctetString::new(key_hash).map_err(PkiError::der("responder id"))?),
            produced_at: this_update,
            responses,
            response_extensions: nonce.map(|n| vec![n]),
        };
        let tbs = data.to_der().map_err(PkiError::der("OCSP response"))?;
        let signature = self.key.sign_message(&tbs)?;
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: self.key.algorithm().x509_signature_algorithm(),
            signature: BitString::from_bytes(&signature).map_err(PkiError::der("signature"))?,
            certs: Some(vec![self.cert.inner().clone()]),
        };
        x509_ocsp::OcspResponse::successful(basic).and_then(|r| r.to_der()).map_err(PkiError::der("OCSP response"))
    }
}

/// A parsed OCSP response with its DER kept.
#[derive(Clone, Debug)]
pub struct OcspResponse {
    der: Arc<[u8]>,
    status: OcspResponseStatus,
    basic: Option<Arc<BasicOcspResponse>>,
    /// The ResponseData bytes as signed.
    raw_tbs: Arc<[u8]>,
}

impl OcspResponse {
    /// Parses a DER OCSPResponse (any status; only successful ones carry statuses), once per
    /// process (see [`util::Memo`]); a clone shares the parse.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        static PARSED: util::Memo<OcspResponse> = util::Memo::new(1024, 16 * 1024);
        PARSED.get_or_parse(sha256(der), der.len(), || {
            let resp = x509_ocsp::OcspResponse::from_der(der).map_err(PkiError::der("OCSP response"))?;
            let (basic, raw_tbs) = match &resp.response_bytes {
                Some(bytes) if bytes.response_type == oid::OCSP_BASIC => {
                    let inner = bytes.response.as_bytes();
                    let basic = BasicOcspResponse::from_der(inner).map_err(PkiError::der("BasicOCSPResponse"))?;
                    let outer = util::read_tlv(inner)?;
                    let tbs = util::children(outer.value)?.first().map(|t| t.raw.to_vec()).unwrap_or_default();
                    (Some(basic), tbs)
                }
                Some(bytes) => {
                    return Err(PkiError::UnsupportedAlgorithm(format!("OCSP response type {}", bytes.response_type)));
                }
                None => (None, Vec::new()),
            };
            Ok(OcspResponse {
                der: der.into(),
                status: resp.response_status,
                basic: basic.map(Arc::new),
                raw_tbs: raw_tbs.into(),
            })
        })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The responseStatus as text: "successful", "malformed_request", "internal_error",
    /// "try_later", "sig_required" or "unauthorized".
    pub fn response_status(&self) -> &'static str {
        match self.status {
            OcspResponseStatus::Successful => "successful",
            OcspResponseStatus::MalformedRequest => "malformed_request",
            OcspResponseStatus::InternalError => "internal_error",
            OcspResponseStatus::TryLater => "try_later",
            OcspResponseStatus::SigRequired => "sig_required",
            OcspResponseStatus::Unauthorized => "unauthorized",
        }
    }

    /// The BasicOCSPResponse of a successful response.
    pub fn basic(&self) -> Option<&BasicOcspResponse> {
        self.basic.as_deref()
    }

    /// producedAt.
    pub fn produced_at(&self) -> Option<DateTime<Utc>> {
        self.basic.as_ref().map(|b| util::generalized_to_chrono(&b.tbs_response_data.produced_at.0))
    }

    /// The certificates the response carries.
    pub fn certs(&self) -> Vec<Cert> {
        let certs = self.basic.as_ref().and_then(|b| b.certs.as_deref()).unwrap_or(&[]);
        certs.iter().filter_map(|c| Cert::from_certificate(c.clone()).ok()).collect()
    }

    /// The status the response gives for `cert` (issued by `issuer`), if it answers for it.
    pub fn status_for(&self, cert: &Cert, issuer: &Cert) -> Option<SingleStatus> {
        let basic = self.basic.as_ref()?;
        let produced_at = util::generalized_to_chrono(&basic.tbs_response_data.produced_at.0);
        let serial = cert.serial();
        basic.tbs_response_data.responses.iter().find_map(|single| {
            let id = &single.cert_id;
            if !same_serial(id.serial_number.as_bytes(), &serial) || !cert_id_matches_issuer(id, issuer) {
                return None;
            }
            let status = match &single.cert_status {
                x509_ocsp::CertStatus::Good(_) => CertStatus::Good,
                x509_ocsp::CertStatus::Unknown(_) => CertStatus::Unknown,
                x509_ocsp::CertStatus::Revoked(info) => CertStatus::Revoked {
                    at: util::generalized_to_chrono(&info.revocation_time.0),
                    reason: info.revocation_reason.map(RevocationReason::from).unwrap_or(RevocationReason::Unspecified),
                },
            };
            Some(SingleStatus {
                status,
                this_update: util::generalized_to_chrono(&single.this_update.0),
                next_update: single.next_update.as_ref().map(|t| util::generalized_to_chrono(&t.0)),
                produced_at,
            })
        })
    }

    /// Verifies the response's signature and who signed it: `issuer` itself, or a delegated
    /// responder issued by `issuer` with the OCSPSigning EKU, valid when the response was
    /// produced. Returns the signer.
    pub fn verify(&self, issuer: &Cert) -> Result<Cert> {
        let basic = self
            .basic
            .as_ref()
            .ok_or_else(|| PkiError::OcspRejected(format!("response status {}", self.response_status())))?;
        let mut candidates = vec![issuer.clone()];
        candidates.extend(self.certs());
        let signer = candidates
            .into_iter()
            .find(|c| match &basic.tbs_response_data.responder_id {
                ResponderId::ByName(name) => *name == c.inner().tbs_certificate.subject,
                ResponderId::ByKey(hash) => sha1::Sha1::digest(c.public_key_bits())[..] == *hash.as_bytes(),
            })
            .ok_or_else(|| PkiError::OcspRejected("the responder's certificate is not in the response".into()))?;
        let signature = basic
            .signature
            .as_bytes()
            .ok_or_else(|| PkiError::malformed("OCSP response", "signature with unused bits"))?;
        verify_signature(&signer.spki_der(), &basic.signature_algorithm, None, &self.raw_tbs, signature)?;
        if signer.spki_der() == issuer.spki_der() && signer.subject_der() == issuer.subject_der() {
            return Ok(issuer.clone());
        }
        if !signer.issued_by(issuer) {
            return Err(PkiError::OcspRejected("the responder is not certified by the issuer".into()));
        }
        if !signer.has_eku(oid::KP_OCSP_SIGNING) {
            return Err(PkiError::OcspRejected("the responder lacks the OCSPSigning usage".into()));
        }
        let produced_at = util::generalized_to_chrono(&basic.tbs_response_data.produced_at.0);
        if !signer.valid_at(produced_at) {
            return Err(PkiError::OcspRejected("the responder's certificate was not valid".into()));
        }
        Ok(signer)
    }
}

/// The serial of a certificate as in a CertID (for callers building their own look-ups).
pub fn serial_of(serial: &SerialNumber) -> Vec<u8> {
    util::strip_leading_zeros(serial.as_bytes()).to_vec()
}
