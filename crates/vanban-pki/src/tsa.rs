//! RFC 3161 timestamps: a timestamp authority, requests, responses and token verification.

use chrono::{DateTime, Utc};
use const_oid::ObjectIdentifier;
use der::asn1::{BitString, Int, OctetString, SetOfVec};
use der::{Decode, Encode};
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TspVersion, TstInfo};

use ::cms::content_info::{CmsVersion, ContentInfo};
use ::cms::signed_data::{SignerIdentifier, SignerInfo};

use crate::cert::Cert;
use crate::cms::{ParsedFull, SignedAttrs, parse_full, signed_data};
use crate::error::{PkiError, Result};
use crate::keys::{DigestAlg, SoftKey};
use crate::oid;
use crate::util;

/// The policy of the demo and test TSA ([`crate::TestPki`]): an OID under the private
/// enterprise number 32473, which RFC 5612 reserves for documentation and examples. A
/// production TSA sets `policy` to the OID of its published policy.
pub const DEFAULT_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.3161.1");

/// A timestamp authority: its certificate (EKU timeStamping), key, chain and policy.
pub struct TimestampAuthority {
    pub cert: Cert,
    pub key: SoftKey,
    /// The issuers above the TSA certificate (the root may be left out).
    pub chain: Vec<Cert>,
    pub policy: ObjectIdentifier,
}

/// `PKIStatusInfo` (RFC 3161 / 4210), with owned strings.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct PkiStatusInfo {
    status: u32,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<BitString>,
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }`
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    time_stamp_token: Option<ContentInfo>,
}

/// PKIFailureInfo bits used in rejections.
#[derive(Clone, Copy)]
enum FailInfo {
    BadAlg = 0,
    BadRequest = 2,
    BadDataFormat = 5,
    UnacceptedPolicy = 15,
}

fn rejection(fail: FailInfo, text: &str) -> Result<Vec<u8>> {
    // A BIT STRING with bit `n` set: DER drops trailing zero bits.
    let bit = fail as usize;
    let mut bytes = vec![0u8; bit / 8 + 1];
    bytes[bit / 8] = 0x80 >> (bit % 8);
    let unused = (7 - (bit % 8)) as u8;
    let resp = TimeStampResp {
        status: PkiStatusInfo {
            status: 2,
            status_string: Some(vec![text.to_owned()]),
            fail_info: Some(BitString::new(unused, bytes).map_err(PkiError::der("failInfo"))?),
        },
        time_stamp_token: None,
    };
    resp.to_der().map_err(PkiError::der("TimeStampResp"))
}

impl TimestampAuthority {
    /// Answers a DER TimeStampReq: status granted and a token (CMS SignedData over a TSTInfo,
    /// signed attributes contentType, messageDigest and signingCertificateV2; the TSA's
    /// certificate and chain when certReq is set). A request we cannot or will not answer gets
    /// a rejection response (status 2 with a failInfo), not an error.
    pub fn respond(&self, request_der: &[u8], now: DateTime<Utc>) -> Result<Vec<u8>> {
        let Ok(req) = TimeStampReq::from_der(request_der) else {
            return rejection(FailInfo::BadDataFormat, "the request is not a DER TimeStampReq");
        };
        let Some(alg) = DigestAlg::from_oid(&req.message_imprint.hash_algorithm.oid) else {
            return rejection(FailInfo::BadAlg, "the hash algorithm is not accepted (SHA-256/384/512)");
        };
        if req.message_imprint.hashed_message.as_bytes().len() != alg.output_len() {
            return rejection(FailInfo::BadDataFormat, "the imprint length does not fit its algorithm");
        }
        if req.req_policy.is_some_and(|p| p != self.policy) {
            return rejection(FailInfo::UnacceptedPolicy, "the requested policy is not offered");
        }
        if req.extensions.as_ref().is_some_and(|e| !e.is_empty()) {
            return rejection(FailInfo::BadRequest, "request extensions are not supported");
        }
        let token = self.token(req.message_imprint, req.nonce, req.cert_req, now)?;
        let resp = TimeStampResp {
            status: PkiStatusInfo { status: 0, status_string: None, fail_info: None },
            time_stamp_token: Some(ContentInfo::from_der(&token).map_err(PkiError::der("token"))?),
        };
        resp.to_der().map_err(PkiError::der("TimeStampResp"))
    }

    /// The TimeStampToken (ContentInfo DER) for a SHA-256 digest, with the certificates: the
    /// in-process shortcut for our own signatures.
    pub fn stamp_digest(&self, digest: &[u8; 32], now: DateTime<Utc>) -> Result<Vec<u8>> {
        let imprint = MessageImprint {
            hash_algorithm: spki::AlgorithmIdentifier { oid: oid::SHA256, parameters: None },
            hashed_message: OctetString::new(digest.to_vec()).map_err(PkiError::der("imprint"))?,
        };
        self.token(imprint, None, true, now)
    }

    fn token(
        &self,
        imprint: MessageImprint,
        nonce: Option<Int>,
        cert_req: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>> {
        let serial = util::random_serial();
        let info = TstInfo {
            version: TspVersion::V1,
            policy: self.policy,
            message_imprint: imprint,
            serial_number: Int::new(&serial).map_err(PkiError::der("serial"))?,
            gen_time: util::chrono_to_generalized(now)?,
            accuracy: Some(Accuracy { seconds: Some(1), millis: None, micros: None }),
            ordering: false,
            nonce,
            tsa: None,
            extensions: None,
        };
        let info_der = info.to_der().map_err(PkiError::der("TSTInfo"))?;
        let digest = DigestAlg::Sha256.digest(&info_der);
        let attrs = SignedAttrs::build(oid::CT_TST_INFO, &digest, &self.cert, None)?;
        let signature = self.key.sign_message(attrs.der())?;
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(::cms::cert::IssuerAndSerialNumber {
                issuer: self.cert.inner().tbs_certificate.issuer.clone(),
                serial_number: self.cert.inner().tbs_certificate.serial_number.clone(),
            }),
            digest_alg: DigestAlg::Sha256.algorithm_identifier(),
            signed_attrs: Some(SetOfVec::from_der(attrs.der()).map_err(PkiError::der("signed attributes"))?),
            signature_algorithm: self.key.algorithm().cms_signature_algorithm(),
            signature: OctetString::new(signature).map_err(PkiError::der("signature"))?,
            unsigned_attrs: None,
        };
        let mut certs: Vec<&Cert> = Vec::new();
        if cert_req {
            certs.push(&self.cert);
            for c in &self.chain {
                if !c.is_self_issued() && !certs.iter().any(|o| o.der() == c.der()) {
                    certs.push(c);
                }
            }
        }
        signed_data(oid::CT_TST_INFO, Some(&info_der), DigestAlg::Sha256, &certs, signer_info)
    }
}

/// A positive INTEGER from a big-endian magnitude.
fn positive_int(magnitude: &[u8]) -> Result<Int> {
    let mut bytes = Vec::with_capacity(magnitude.len() + 1);
    if magnitude.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.push(0);
    }
    bytes.extend_from_slice(magnitude);
    Int::new(&bytes).map_err(PkiError::der("INTEGER"))
}

/// A DER TimeStampReq for a SHA-256 digest.
pub fn timestamp_request(digest: &[u8; 32], nonce: Option<u64>, cert_req: bool) -> Result<Vec<u8>> {
    let nonce = match nonce {
        Some(n) => Some(positive_int(util::strip_leading_zeros(&n.to_be_bytes()))?),
        None => None,
    };
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: spki::AlgorithmIdentifier { oid: oid::SHA256, parameters: None },
            hashed_message: OctetString::new(digest.to_vec()).map_err(PkiError::der("imprint"))?,
        },
        req_policy: None,
        nonce,
        cert_req,
        extensions: None,
    };
    req.to_der().map_err(PkiError::der("TimeStampReq"))
}

/// The TimeStampToken (ContentInfo DER) of a TimeStampResp whose status is granted (0) or
/// grantedWithMods (1).
pub fn token_from_response(resp_der: &[u8]) -> Result<Vec<u8>> {
    // Some TSAs answer in BER; the token we hand out is DER (its signature covers only the
    // signed attributes and the TSTInfo, which re-encoding leaves alone).
    let (resp_der, _) = util::ber_to_der(resp_der)?;
    let resp = TimeStampResp::from_der(&resp_der).map_err(PkiError::der("TimeStampResp"))?;
    if resp.status.status > 1 {
        let text = resp.status.status_string.map(|s| s.join("; ")).unwrap_or_default();
        return Err(PkiError::TimestampRejected(format!("status {}: {text}", resp.status.status)));
    }
    let token = resp.time_stamp_token.ok_or_else(|| PkiError::TimestampRejected("granted without a token".into()))?;
    token.to_der().map_err(PkiError::der("TimeStampToken"))
}

/// What a verified timestamp token says.
#[derive(Clone, Debug)]
pub struct TimestampToken {
    pub gen_time: DateTime<Utc>,
    pub imprint_alg: DigestAlg,
    pub imprint: Vec<u8>,
    pub signer: Option<Cert>,
    /// Every certificate the token carries.
    pub certs: Vec<Cert>,
    pub serial_hex: String,
    /// The policy OID, dotted.
    pub policy: String,
    /// The nonce, big-endian, if the request had one.
    pub nonce: Option<Vec<u8>>,
}

impl TimestampToken {
    /// Whether the token's imprint is the hash of `data`.
    pub fn covers(&self, data: &[u8]) -> bool {
        self.imprint_alg.digest(data) == self.imprint
    }
}

/// Parses a TimeStampToken (ContentInfo DER, trailing zero padding tolerated) and verifies it
/// cryptographically: eContentType id-ct-TSTInfo, the contentType attribute, messageDigest =
/// hash(TSTInfo), the signature over the signed attributes, the ESS signing certificate, and
/// that the signer has the timeStamping EKU. Trusting the signer's chain is the caller's job.
pub fn parse_and_verify_token(token_der: &[u8]) -> Result<TimestampToken> {
    parse_and_verify_token_with_certs(token_der, &[])
}

/// Like [`parse_and_verify_token`], also looking for the TSA's certificate among
/// `extra_certs` when the token does not carry it (a request without certReq).
pub fn parse_and_verify_token_with_certs(token_der: &[u8], extra_certs: &[Cert]) -> Result<TimestampToken> {
    let ParsedFull { sig, econtent_type, econtent, content_type_attr } = parse_full(token_der, extra_certs)?;
    let bad = |d: &str| PkiError::BadSignature(format!("timestamp token: {d}"));
    if econtent_type != oid::CT_TST_INFO || content_type_attr != Some(oid::CT_TST_INFO) {
        return Err(bad("the content is not a TSTInfo"));
    }
    let info_der = econtent.ok_or_else(|| bad("no TSTInfo"))?;
    if sig.message_digest.as_deref() != Some(sig.digest_alg.digest(&info_der).as_slice()) {
        return Err(bad("messageDigest does not match the TSTInfo"));
    }
    sig.verify()?;
    let signer = sig.signer.clone().ok_or_else(|| bad("the token does not carry the TSA certificate"))?;
    if sig.signing_certificate_matches != Some(true) {
        return Err(bad("the ESS signing certificate does not name the signer"));
    }
    if !signer.has_eku(oid::KP_TIME_STAMPING) {
        return Err(bad("the signer lacks the timeStamping usage"));
    }
    let info = TstInfo::from_der(&info_der).map_err(PkiError::der("TSTInfo"))?;
    let imprint_alg = DigestAlg::from_oid(&info.message_imprint.hash_algorithm.oid).ok_or_else(|| {
        PkiError::UnsupportedAlgorithm(format!("imprint digest {}", info.message_imprint.hash_algorithm.oid))
    })?;
    Ok(TimestampToken {
        gen_time: util::generalized_to_chrono(&info.gen_time),
        imprint_alg,
        imprint: info.message_imprint.hashed_message.as_bytes().to_vec(),
        signer: Some(signer),
        certs: sig.certs,
        serial_hex: hex::encode(util::strip_leading_zeros(info.serial_number.as_bytes())),
        policy: info.policy.to_string(),
        nonce: info.nonce.map(|n| util::strip_leading_zeros(n.as_bytes()).to_vec()),
    })
}

/// The status of a TimeStampResp without taking its token (0 granted, 1 with mods, 2 rejection,
/// ...), with its failInfo bits as a number.
pub fn response_status(resp_der: &[u8]) -> Result<(u32, Option<u32>)> {
    let resp = TimeStampResp::from_der(resp_der).map_err(PkiError::der("TimeStampResp"))?;
    let fail = resp.status.fail_info.map(|bits| {
        bits.bits().enumerate().filter(|(_, set)| *set).fold(0u32, |acc, (i, _)| acc | (1u32 << i.min(31)))
    });
    Ok((resp.status.status, fail))
}
