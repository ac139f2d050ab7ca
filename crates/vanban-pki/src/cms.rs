//! CMS SignedData for PAdES (ETSI.CAdES.detached): signed attributes, assembly, exact sizing of
//! the PDF /Contents hole, and parsing of signatures found in PDFs (ours and foreign ones).

use chrono::{DateTime, Utc};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tag};
use sha1::Digest;
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;

use ::cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use ::cms::content_info::{CmsVersion, ContentInfo};
use ::cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};

use crate::cert::Cert;
use crate::error::{PkiError, Result};
use crate::keys::{DigestAlg, KeyAlgorithm, ToBeSigned, verify_signature};
use crate::oid;
use crate::util;

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub(crate) struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: SerialNumber,
}

/// `ESSCertIDv2` (RFC 5035); the hash algorithm is absent when it is the default SHA-256.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub(crate) struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }`
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub(crate) struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub policies: Option<Vec<Any>>,
}

/// `ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial OPTIONAL }` (RFC 2634)
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub(crate) struct EssCertId {
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies ... OPTIONAL }`
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub(crate) struct SigningCertificateV1 {
    pub certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    pub policies: Option<Vec<Any>>,
}

pub(crate) fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute> {
    let values = SetOfVec::try_from(vec![value]).map_err(PkiError::der("attribute"))?;
    Ok(Attribute { oid, values })
}

fn any_of(value: &impl Encode) -> Result<Any> {
    let der = value.to_der().map_err(PkiError::der("attribute"))?;
    Any::from_der(&der).map_err(PkiError::der("attribute"))
}

/// The signingCertificateV2 attribute value for `signer` (SHA-256 hash, with issuer and serial).
pub(crate) fn signing_certificate_v2(signer: &Cert) -> Result<Any> {
    let value = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None,
            cert_hash: OctetString::new(signer.fingerprint_sha256().to_vec()).map_err(PkiError::der("ESS"))?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(signer.inner().tbs_certificate.issuer.clone())],
                serial_number: signer.inner().tbs_certificate.serial_number.clone(),
            }),
        }],
        policies: None,
    };
    any_of(&value)
}

/// Signed attributes ready to sign.
#[derive(Clone, Debug)]
pub struct SignedAttrs {
    attrs: SetOfVec<Attribute>,
    /// DER of the SET OF (tag 0x31): what is signed.
    der: Vec<u8>,
}

impl SignedAttrs {
    /// The signed attributes of a detached PAdES signature: contentType id-data, messageDigest of
    /// the document's byte ranges, signingCertificateV2 of the signer. No signingTime: PAdES
    /// takes the time from the timestamp, and a claimed time is only an attribute we omit.
    pub fn pades(document_digest: &[u8; 32], signer: &Cert) -> Result<Self> {
        SignedAttrs::build(oid::CT_DATA, document_digest, signer, None)
    }

    pub(crate) fn build(
        content_type: ObjectIdentifier,
        digest: &[u8],
        signer: &Cert,
        signing_time: Option<DateTime<Utc>>,
    ) -> Result<Self> {
        let mut list = vec![
            attribute(oid::ATTR_CONTENT_TYPE, Any::from(&content_type))?,
            attribute(oid::ATTR_MESSAGE_DIGEST, Any::new(Tag::OctetString, digest).map_err(PkiError::der("digest"))?)?,
            attribute(oid::ATTR_SIGNING_CERTIFICATE_V2, signing_certificate_v2(signer)?)?,
        ];
        if let Some(t) = signing_time {
            let time = util::chrono_to_time(t)?;
            list.push(attribute(oid::ATTR_SIGNING_TIME, any_of(&time)?)?);
        }
        let attrs = SetOfVec::try_from(list).map_err(PkiError::der("signed attributes"))?;
        let der = attrs.to_der().map_err(PkiError::der("signed attributes"))?;
        Ok(SignedAttrs { attrs, der })
    }

    /// The DER of the SET OF (tag 0x31), with its SHA-256.
    pub fn to_be_signed(&self) -> ToBeSigned {
        ToBeSigned::new(self.der.clone())
    }

    /// The encoded length (equal in the SET and the [0] IMPLICIT forms).
    pub fn der_len(&self) -> usize {
        self.der.len()
    }

    /// The DER of the SET OF.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// The certificates to embed: the signer first, then `certs` without duplicates.
fn embedded_certs<'a>(signer: &'a Cert, certs: &'a [Cert]) -> Vec<&'a Cert> {
    let mut out: Vec<&Cert> = vec![signer];
    for c in certs {
        if !out.iter().any(|o| o.der() == c.der()) {
            out.push(c);
        }
    }
    out
}

fn issuer_and_serial(signer: &Cert) -> IssuerAndSerialNumber {
    IssuerAndSerialNumber {
        issuer: signer.inner().tbs_certificate.issuer.clone(),
        serial_number: signer.inner().tbs_certificate.serial_number.clone(),
    }
}

/// Assembles the CMS ContentInfo of a detached signature: SignedData v1, digest SHA-256,
/// eContentType id-data without content, `certs` (the signer's included even if absent), one
/// SignerInfo with sid issuerAndSerialNumber, signature algorithm rsaEncryption or
/// ecdsa-with-SHA256, and the signature timestamp token as unsigned attribute when given.
pub fn assemble_signed_data(
    attrs: &SignedAttrs,
    algorithm: KeyAlgorithm,
    signature: &[u8],
    signer: &Cert,
    certs: &[Cert],
    timestamp_token: Option<&[u8]>,
) -> Result<Vec<u8>> {
    if signature.len() > algorithm.signature_len_max() {
        return Err(PkiError::SigningFailed(format!(
            "a {} signature of {} bytes",
            algorithm.as_str(),
            signature.len()
        )));
    }
    let unsigned_attrs = match timestamp_token {
        Some(token) => {
            let (token, _) = util::ber_to_der(token)?;
            let token = Any::from_der(&token).map_err(PkiError::der("timestamp token"))?;
            let attr = attribute(oid::ATTR_SIGNATURE_TIME_STAMP_TOKEN, token)?;
            Some(SetOfVec::try_from(vec![attr]).map_err(PkiError::der("unsigned attributes"))?)
        }
        None => None,
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(issuer_and_serial(signer)),
        digest_alg: DigestAlg::Sha256.algorithm_identifier(),
        signed_attrs: Some(attrs.attrs.clone()),
        signature_algorithm: algorithm.cms_signature_algorithm(),
        signature: OctetString::new(signature).map_err(PkiError::der("signature"))?,
        unsigned_attrs,
    };
    signed_data(oid::CT_DATA, None, DigestAlg::Sha256, &embedded_certs(signer, certs), signer_info)
}

/// A SignedData v1 (id-data) or v3 (other content types) in its ContentInfo.
pub(crate) fn signed_data(
    econtent_type: ObjectIdentifier,
    econtent: Option<&[u8]>,
    digest: DigestAlg,
    certs: &[&Cert],
    signer_info: SignerInfo,
) -> Result<Vec<u8>> {
    let certificates = if certs.is_empty() {
        None
    } else {
        let choices = certs.iter().map(|c| CertificateChoices::Certificate(c.inner().clone())).collect::<Vec<_>>();
        Some(CertificateSet(SetOfVec::try_from(choices).map_err(PkiError::der("certificates"))?))
    };
    let econtent = match econtent {
        Some(bytes) => Some(Any::new(Tag::OctetString, bytes).map_err(PkiError::der("content"))?),
        None => None,
    };
    let sd = SignedData {
        version: if econtent_type == oid::CT_DATA { CmsVersion::V1 } else { CmsVersion::V3 },
        digest_algorithms: SetOfVec::try_from(vec![digest.algorithm_identifier()])
            .map_err(PkiError::der("digest algorithms"))?,
        encap_content_info: EncapsulatedContentInfo { econtent_type, econtent },
        certificates,
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(PkiError::der("signer infos"))?),
    };
    let content = any_of(&sd)?;
    ContentInfo { content_type: oid::CT_SIGNED_DATA, content }.to_der().map_err(PkiError::der("ContentInfo"))
}

/// Length of a TLV whose value has `content_len` bytes (one-byte tag).
fn tlv_len(content_len: usize) -> usize {
    let len_octets = match content_len {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xff_ffff => 4,
        _ => 5,
    };
    1 + len_octets + content_len
}

fn encoded_len(value: &impl Encode) -> usize {
    value.encoded_len().ok().and_then(|l| usize::try_from(u32::from(l)).ok()).unwrap_or(0)
}

/// The DER length [`assemble_signed_data`] produces for these inputs, with the longest
/// signature value of `algorithm`: the size of the PDF /Contents hole (times two, in hex),
/// computed without signing. `attrs_len` is [`SignedAttrs::der_len`]; `timestamp_token_len` the
/// DER length of the token to embed.
pub fn signed_data_len_max(
    attrs_len: usize,
    algorithm: KeyAlgorithm,
    signer: &Cert,
    certs: &[Cert],
    timestamp_token_len: Option<usize>,
) -> usize {
    let version = 3; // INTEGER 1
    let sid = encoded_len(&issuer_and_serial(signer));
    let digest_alg = encoded_len(&DigestAlg::Sha256.algorithm_identifier());
    let sig_alg = encoded_len(&algorithm.cms_signature_algorithm());
    let signature = tlv_len(algorithm.signature_len_max());
    let unsigned = timestamp_token_len.map_or(0, |token| {
        let attr_oid = encoded_len(&oid::ATTR_SIGNATURE_TIME_STAMP_TOKEN);
        let attribute = tlv_len(attr_oid + tlv_len(token));
        tlv_len(attribute)
    });
    let signer_info = tlv_len(version + sid + digest_alg + attrs_len + sig_alg + signature + unsigned);
    let signer_infos = tlv_len(signer_info);
    let cert_bytes: usize = embedded_certs(signer, certs).iter().map(|c| c.der().len()).sum();
    let certificates = tlv_len(cert_bytes);
    let digest_algs = tlv_len(digest_alg);
    let encap = tlv_len(encoded_len(&oid::CT_DATA));
    let signed_data = tlv_len(version + digest_algs + encap + certificates + signer_infos);
    tlv_len(encoded_len(&oid::CT_SIGNED_DATA) + tlv_len(signed_data))
}

/// A CMS signature as found in a PDF (ours or foreign: adbe.pkcs7.detached and
/// ETSI.CAdES.detached).
#[derive(Clone, Debug)]
pub struct ParsedSignature {
    /// The signer's certificate, if the SignedData carries it.
    pub signer: Option<Cert>,
    /// Every certificate carried (those that parse).
    pub certs: Vec<Cert>,
    pub digest_alg: DigestAlg,
    /// The messageDigest signed attribute.
    pub message_digest: Option<Vec<u8>>,
    /// The signed attributes as signed (tag 0x31), exactly as in the input.
    pub signed_attrs_der: Option<Vec<u8>>,
    pub signature: Vec<u8>,
    pub signature_alg: AlgorithmIdentifierOwned,
    /// The claimed signingTime attribute (not proof of anything).
    pub signing_time: Option<DateTime<Utc>>,
    /// The signature timestamp token (unsigned attribute 1.2.840.113549.1.9.16.2.14), DER.
    pub timestamp_token: Option<Vec<u8>>,
    pub has_signing_certificate_v2: bool,
    /// Whether the ESS signing certificate (v2, or v1 when v2 is absent) names the signer's
    /// certificate; None when there is no such attribute or no signer certificate.
    pub signing_certificate_matches: Option<bool>,
}

/// What [`parse_signed_data`] finds plus what the timestamp code needs.
pub(crate) struct ParsedFull {
    pub sig: ParsedSignature,
    pub econtent_type: ObjectIdentifier,
    pub econtent: Option<Vec<u8>>,
    pub content_type_attr: Option<ObjectIdentifier>,
}

/// Parses a CMS ContentInfo with SignedData (one signer is read: the first). Trailing zero
/// padding after the DER (the PDF /Contents hole) is ignored.
pub fn parse_signed_data(der: &[u8]) -> Result<ParsedSignature> {
    Ok(parse_full(der, &[])?.sig)
}

/// Like [`parse_signed_data`], also looking for the signer's certificate among `extra_certs`
/// (a PDF's DSS, a token's certificate) when the SignedData does not carry it.
pub fn parse_signed_data_with_certs(der: &[u8], extra_certs: &[Cert]) -> Result<ParsedSignature> {
    Ok(parse_full(der, extra_certs)?.sig)
}

pub(crate) fn parse_full(input: &[u8], extra_certs: &[Cert]) -> Result<ParsedFull> {
    // Foreign signers write BER too (indefinite lengths from streaming encoders): normalise.
    let (der, used) = util::ber_to_der(input)?;
    if input[used..].iter().any(|b| *b != 0) {
        return Err(PkiError::malformed("CMS signature", "bytes other than zero padding follow the DER"));
    }
    let der = &der[..];
    let ci = ContentInfo::from_der(der).map_err(PkiError::der("CMS ContentInfo"))?;
    if ci.content_type != oid::CT_SIGNED_DATA {
        return Err(PkiError::malformed("CMS signature", format!("content type {}", ci.content_type)));
    }
    // The certificates are read one by one, so one a strict parser refuses does not make the
    // whole signature unreadable: the SignedData is decoded without them.
    let sd_der = ci.content.to_der().map_err(PkiError::der("CMS SignedData"))?;
    let (sd_without_certs, cert_ders) = split_certificates(&sd_der)?;
    let sd = SignedData::from_der(&sd_without_certs).map_err(PkiError::der("CMS SignedData"))?;
    let signer_info =
        sd.signer_infos.0.iter().next().ok_or_else(|| PkiError::malformed("CMS SignedData", "no SignerInfo"))?;
    let signed_attrs_der = raw_signed_attrs(der)?;

    let certs: Vec<Cert> = cert_ders.iter().filter_map(|d| Cert::from_der(d).ok()).collect();
    let signer = certs
        .iter()
        .chain(extra_certs)
        .find(|c| match &signer_info.sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                ias.issuer == c.inner().tbs_certificate.issuer
                    && util::strip_leading_zeros(ias.serial_number.as_bytes()) == c.serial().as_slice()
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => c.subject_key_id().as_deref() == Some(ski.0.as_bytes()),
        })
        .cloned();

    let digest_alg = DigestAlg::from_oid(&signer_info.digest_alg.oid)
        .ok_or_else(|| PkiError::UnsupportedAlgorithm(format!("digest {}", signer_info.digest_alg.oid)))?;

    let attrs: &[Attribute] = signer_info.signed_attrs.as_ref().map(|a| a.as_slice()).unwrap_or(&[]);
    let first_value = |id: ObjectIdentifier| attrs.iter().find(|a| a.oid == id).and_then(|a| a.values.iter().next());
    let message_digest = first_value(oid::ATTR_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .map(|o| o.as_bytes().to_vec());
    let content_type_attr = first_value(oid::ATTR_CONTENT_TYPE).and_then(|v| v.decode_as::<ObjectIdentifier>().ok());
    let signing_time = first_value(oid::ATTR_SIGNING_TIME)
        .and_then(|v| x509_cert::time::Time::from_der(&v.to_der().ok()?).ok())
        .map(|t| util::time_to_chrono(&t));
    let ess_v2 = first_value(oid::ATTR_SIGNING_CERTIFICATE_V2);
    let ess_v1 = first_value(oid::ATTR_SIGNING_CERTIFICATE);
    let signing_certificate_matches = match (&signer, ess_v2, ess_v1) {
        (Some(cert), Some(v2), _) => Some(ess_v2_matches(v2, cert)),
        (Some(cert), None, Some(v1)) => Some(ess_v1_matches(v1, cert)),
        _ => None,
    };
    let timestamp_token = signer_info
        .unsigned_attrs
        .as_ref()
        .and_then(|u| u.iter().find(|a| a.oid == oid::ATTR_SIGNATURE_TIME_STAMP_TOKEN))
        .and_then(|a| a.values.iter().next())
        .and_then(|v| v.to_der().ok());

    let econtent = match &sd.encap_content_info.econtent {
        Some(any) => Some(any.decode_as::<OctetString>().map_err(PkiError::der("eContent"))?.as_bytes().to_vec()),
        None => None,
    };
    Ok(ParsedFull {
        sig: ParsedSignature {
            signer,
            certs,
            digest_alg,
            message_digest,
            signed_attrs_der,
            signature: signer_info.signature.as_bytes().to_vec(),
            signature_alg: signer_info.signature_algorithm.clone(),
            signing_time,
            timestamp_token,
            has_signing_certificate_v2: ess_v2.is_some(),
            signing_certificate_matches,
        },
        econtent_type: sd.encap_content_info.econtent_type,
        econtent,
        content_type_attr,
    })
}

/// The SignedData (its DER given) re-encoded without `certificates` and `crls`, and
/// the DER of each plain X.509 certificate of the set.
fn split_certificates(sd_der: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let sd = util::read_tlv(sd_der)?;
    let mut kept = Vec::with_capacity(sd.value.len());
    let mut certs = Vec::new();
    for field in util::children(sd.value)? {
        match field.tag {
            0xa0 => {
                // CertificateChoices: a bare Certificate is a SEQUENCE; others are tagged.
                certs.extend(util::children(field.value)?.into_iter().filter(|c| c.tag == 0x30).map(|c| c.raw.to_vec()))
            }
            0xa1 => {}
            _ => kept.extend_from_slice(field.raw),
        }
    }
    let mut out = Vec::with_capacity(kept.len() + 6);
    out.push(0x30);
    let len = der::Length::try_from(kept.len()).map_err(PkiError::der("SignedData"))?;
    len.encode(&mut out).map_err(PkiError::der("SignedData"))?;
    out.extend_from_slice(&kept);
    Ok((out, certs))
}

fn issuer_serial_matches(is: &Option<IssuerSerial>, cert: &Cert) -> bool {
    match is {
        None => true,
        Some(is) => {
            util::strip_leading_zeros(is.serial_number.as_bytes()) == cert.serial().as_slice()
                && is.issuer.iter().any(|n| match n {
                    GeneralName::DirectoryName(name) => *name == cert.inner().tbs_certificate.issuer,
                    _ => false,
                })
        }
    }
}

fn ess_v2_matches(value: &Any, cert: &Cert) -> bool {
    let Ok(sc) = value.decode_as::<SigningCertificateV2>() else { return false };
    let Some(first) = sc.certs.first() else { return false };
    let alg = first.hash_algorithm.as_ref().map_or(Some(DigestAlg::Sha256), |a| DigestAlg::from_oid(&a.oid));
    let Some(alg) = alg else { return false };
    alg.digest(cert.der()) == first.cert_hash.as_bytes() && issuer_serial_matches(&first.issuer_serial, cert)
}

fn ess_v1_matches(value: &Any, cert: &Cert) -> bool {
    let Ok(sc) = value.decode_as::<SigningCertificateV1>() else { return false };
    let Some(first) = sc.certs.first() else { return false };
    sha1::Sha1::digest(cert.der())[..] == *first.cert_hash.as_bytes()
        && issuer_serial_matches(&first.issuer_serial, cert)
}

/// The first SignerInfo's signed attributes exactly as encoded, re-tagged as SET (0x31).
fn raw_signed_attrs(der: &[u8]) -> Result<Option<Vec<u8>>> {
    let bad = |d: &str| PkiError::malformed("CMS SignedData", d);
    let ci = util::children(util::read_tlv(der)?.value)?;
    let explicit = ci.get(1).ok_or_else(|| bad("no content"))?;
    let sd_tlv = util::read_tlv(explicit.value)?;
    let sd = util::children(sd_tlv.value)?;
    let infos = sd.last().ok_or_else(|| bad("no signerInfos"))?;
    let first_info = util::children(infos.value)?.into_iter().next().ok_or_else(|| bad("no SignerInfo"))?;
    let fields = util::children(first_info.value)?;
    match fields.get(3) {
        Some(t) if t.tag == 0xa0 => {
            let mut out = t.raw.to_vec();
            out[0] = 0x31;
            Ok(Some(out))
        }
        _ => Ok(None),
    }
}

impl ParsedSignature {
    /// Verifies the signature over the signed attributes with the signer's public key (the
    /// document digest is the caller's to compare with `message_digest`).
    pub fn verify(&self) -> Result<()> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            PkiError::InvalidCertificate("the signature does not carry its signer's certificate".into())
        })?;
        let attrs = self.signed_attrs_der.as_ref().ok_or_else(|| {
            PkiError::BadSignature("no signed attributes: verify with the content (verify_detached)".into())
        })?;
        verify_signature(&signer.spki_der(), &self.signature_alg, Some(self.digest_alg), attrs, &self.signature)
    }

    /// Verifies a detached signature over `content`: the messageDigest attribute and the
    /// signature over the signed attributes, or, without signed attributes, the signature over
    /// the content itself.
    pub fn verify_detached(&self, content: &[u8]) -> Result<()> {
        match &self.message_digest {
            Some(md) => {
                if self.digest_alg.digest(content) != *md {
                    return Err(PkiError::BadSignature("the document digest does not match messageDigest".into()));
                }
                self.verify()
            }
            None if self.signed_attrs_der.is_some() => {
                Err(PkiError::BadSignature("signed attributes without messageDigest".into()))
            }
            None => {
                let signer = self.signer.as_ref().ok_or_else(|| {
                    PkiError::InvalidCertificate("the signature does not carry its signer's certificate".into())
                })?;
                verify_signature(
                    &signer.spki_der(),
                    &self.signature_alg,
                    Some(self.digest_alg),
                    content,
                    &self.signature,
                )
            }
        }
    }
}
