//! A parsed X.509 certificate with the accessors vanban needs.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912::ID_AD_OCSP;
use der::asn1::{BmpString, Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
use der::pem::LineEnding;
use der::{Any, Decode, Encode, EncodePem, Tag, Tagged};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CrlDistributionPoints, ExtendedKeyUsage,
    KeyUsage, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

use crate::error::{PkiError, Result};
use crate::keys::{sha256, verify_signature};
use crate::oid;
use crate::util;

struct CertInner {
    der: Vec<u8>,
    cert: Certificate,
    /// SHA-256 of `der`, computed once.
    fingerprint: [u8; 32],
}

/// A parsed certificate with its DER kept. Cloning is cheap.
#[derive(Clone)]
pub struct Cert(Arc<CertInner>);

impl fmt::Debug for Cert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cert").field("subject", &self.subject_string()).field("serial", &self.serial_hex()).finish()
    }
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.der() == other.der()
    }
}

impl Eq for Cert {}

impl Cert {
    /// Parses one DER certificate (trailing bytes are refused),
    /// once per process (see [`util::Memo`]); a clone shares the parse.
    pub fn from_der(der: &[u8]) -> Result<Cert> {
        static PARSED: util::Memo<Cert> = util::Memo::new(1024, 16 * 1024);
        let fingerprint = sha256(der);
        PARSED.get_or_parse(fingerprint, der.len(), || {
            let cert = Certificate::from_der(der).map_err(PkiError::der("certificate"))?;
            Ok(Cert(Arc::new(CertInner { fingerprint, der: der.to_vec(), cert })))
        })
    }

    /// All CERTIFICATE blocks of a PEM text, in order.
    pub fn from_pem(pem: &str) -> Result<Vec<Cert>> {
        let mut out = Vec::new();
        let mut rest = pem;
        while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
            let after = &rest[start..];
            let end_marker = "-----END CERTIFICATE-----";
            let end = after.find(end_marker).ok_or_else(|| PkiError::InvalidPem("unterminated block".into()))?;
            let block = &after[..end + end_marker.len()];
            let (label, der) =
                der::pem::decode_vec(block.as_bytes()).map_err(|e| PkiError::InvalidPem(e.to_string()))?;
            if label != "CERTIFICATE" {
                return Err(PkiError::InvalidPem(format!("unexpected label {label}")));
            }
            out.push(Cert::from_der(&der)?);
            rest = &after[end + end_marker.len()..];
        }
        if out.is_empty() {
            return Err(PkiError::InvalidPem("no CERTIFICATE block".into()));
        }
        Ok(out)
    }

    /// Wraps an already parsed certificate.
    pub fn from_certificate(cert: Certificate) -> Result<Cert> {
        let der = cert.to_der().map_err(PkiError::der("certificate"))?;
        Ok(Cert(Arc::new(CertInner { fingerprint: sha256(&der), der, cert })))
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.0.der
    }

    /// PEM, one CERTIFICATE block with a trailing newline.
    pub fn to_pem(&self) -> String {
        // Encoding a certificate we parsed cannot fail; fall back to the DER re-wrapped by hand.
        self.0.cert.to_pem(LineEnding::LF).unwrap_or_else(|_| pem_block("CERTIFICATE", self.der()))
    }

    /// The parsed structure.
    pub fn inner(&self) -> &Certificate {
        &self.0.cert
    }

    /// The serial number as a big-endian magnitude, without leading zeros.
    pub fn serial(&self) -> Vec<u8> {
        util::strip_leading_zeros(self.0.cert.tbs_certificate.serial_number.as_bytes()).to_vec()
    }

    /// The serial number in lower-case hex.
    pub fn serial_hex(&self) -> String {
        hex::encode(self.serial())
    }

    /// The subject as RFC 4514 text (most specific first), UTF-8.
    pub fn subject_string(&self) -> String {
        name_to_string(&self.0.cert.tbs_certificate.subject)
    }

    /// The issuer as RFC 4514 text, UTF-8.
    pub fn issuer_string(&self) -> String {
        name_to_string(&self.0.cert.tbs_certificate.issuer)
    }

    /// The subject's commonName.
    pub fn common_name(&self) -> Option<String> {
        name_attribute(&self.0.cert.tbs_certificate.subject, oid::CN)
    }

    /// The subject's UID (0.9.2342.19200300.100.1.1), e.g. "MST:0101234567" or "CCCD:001090012345".
    pub fn uid(&self) -> Option<String> {
        name_attribute(&self.0.cert.tbs_certificate.subject, oid::UID)
    }

    /// The subject's organizationName.
    pub fn organization(&self) -> Option<String> {
        name_attribute(&self.0.cert.tbs_certificate.subject, oid::O)
    }

    /// Any attribute of the subject, by OID.
    pub fn subject_attribute(&self, attr: ObjectIdentifier) -> Option<String> {
        name_attribute(&self.0.cert.tbs_certificate.subject, attr)
    }

    /// Start of validity.
    pub fn not_before(&self) -> DateTime<Utc> {
        util::time_to_chrono(&self.0.cert.tbs_certificate.validity.not_before)
    }

    /// End of validity.
    pub fn not_after(&self) -> DateTime<Utc> {
        util::time_to_chrono(&self.0.cert.tbs_certificate.validity.not_after)
    }

    /// Whether `at` is within the validity period (both ends included).
    pub fn valid_at(&self, at: DateTime<Utc>) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> Vec<u8> {
        self.raw_spki().map(<[u8]>::to_vec).unwrap_or_default()
    }

    /// The SubjectPublicKeyInfo exactly as it is in the certificate.
    fn raw_spki(&self) -> Result<&[u8]> {
        let tbs = self.raw_tbs()?;
        let fields = util::children(util::read_tlv(tbs)?.value)?;
        // [0] version is optional: the SPKI is the 6th field after it.
        let skip = usize::from(fields.first().is_some_and(|f| f.tag == 0xa0));
        fields.get(skip + 5).map(|t| t.raw).ok_or_else(|| PkiError::malformed("certificate", "no SPKI"))
    }

    /// The to-be-signed part exactly as it is in the certificate.
    pub fn raw_tbs(&self) -> Result<&[u8]> {
        let outer = util::read_tlv(self.der())?;
        util::children(outer.value)?.first().map(|t| t.raw).ok_or_else(|| PkiError::malformed("certificate", "empty"))
    }

    /// The subject Name DER.
    pub fn subject_der(&self) -> Vec<u8> {
        self.0.cert.tbs_certificate.subject.to_der().unwrap_or_default()
    }

    /// The issuer Name DER.
    pub fn issuer_der(&self) -> Vec<u8> {
        self.0.cert.tbs_certificate.issuer.to_der().unwrap_or_default()
    }

    /// The public key bits (what the SPKI's BIT STRING holds), as hashed for OCSP key ids.
    pub fn public_key_bits(&self) -> &[u8] {
        self.0.cert.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes()
    }

    /// SHA-256 of the DER.
    pub fn fingerprint_sha256(&self) -> [u8; 32] {
        self.0.fingerprint
    }

    /// The first 16 hex digits of the SHA-256 fingerprint: the name of this CA's files.
    pub fn fingerprint_hex16(&self) -> String {
        hex::encode(&self.fingerprint_sha256()[..8])
    }

    fn ext<'a, T: Decode<'a> + const_oid::AssociatedOid>(&'a self) -> Option<(bool, T)> {
        self.0.cert.tbs_certificate.get::<T>().ok().flatten()
    }

    /// basicConstraints cA = TRUE.
    pub fn is_ca(&self) -> bool {
        self.ext::<BasicConstraints>().is_some_and(|(_, bc)| bc.ca)
    }

    /// basicConstraints pathLenConstraint.
    pub fn path_len(&self) -> Option<u8> {
        self.ext::<BasicConstraints>().and_then(|(_, bc)| bc.path_len_constraint)
    }

    /// The key usage bits, if the extension is present.
    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.ext::<KeyUsage>().map(|(_, ku)| ku)
    }

    /// digitalSignature or nonRepudiation, or no key usage extension at all.
    pub fn key_usage_allows_signing(&self) -> bool {
        self.key_usage().is_none_or(|ku| ku.digital_signature() || ku.non_repudiation())
    }

    /// keyCertSign, or no key usage extension at all.
    pub fn key_usage_allows_cert_sign(&self) -> bool {
        self.key_usage().is_none_or(|ku| ku.key_cert_sign())
    }

    /// cRLSign, or no key usage extension at all.
    pub fn key_usage_allows_crl_sign(&self) -> bool {
        self.key_usage().is_none_or(|ku| ku.crl_sign())
    }

    /// The extended key usages, if the extension is present.
    pub fn extended_key_usage(&self) -> Option<Vec<ObjectIdentifier>> {
        self.ext::<ExtendedKeyUsage>().map(|(_, eku)| eku.0)
    }

    /// Whether the certificate lists this extended key usage.
    pub fn has_eku(&self, oid: ObjectIdentifier) -> bool {
        self.extended_key_usage().is_some_and(|ekus| ekus.contains(&oid))
    }

    /// Whether an extension with this OID is present.
    pub fn has_extension(&self, oid: ObjectIdentifier) -> bool {
        self.0.cert.tbs_certificate.extensions.as_deref().unwrap_or(&[]).iter().any(|e| e.extn_id == oid)
    }

    /// The subject key identifier.
    pub fn subject_key_id(&self) -> Option<Vec<u8>> {
        self.ext::<SubjectKeyIdentifier>().map(|(_, ski)| ski.0.as_bytes().to_vec())
    }

    /// The authority key identifier's keyIdentifier.
    pub fn authority_key_id(&self) -> Option<Vec<u8>> {
        self.ext::<AuthorityKeyIdentifier>().and_then(|(_, aki)| aki.key_identifier.map(|k| k.as_bytes().to_vec()))
    }

    /// URLs of the CRL distribution points.
    pub fn crl_urls(&self) -> Vec<String> {
        let Some((_, dps)) = self.ext::<CrlDistributionPoints>() else { return Vec::new() };
        dps.0
            .iter()
            .filter_map(|dp| match &dp.distribution_point {
                Some(DistributionPointName::FullName(names)) => Some(names),
                _ => None,
            })
            .flat_map(|names| names.iter().filter_map(uri_of))
            .collect()
    }

    /// OCSP responder URLs from the authority information access.
    pub fn ocsp_urls(&self) -> Vec<String> {
        self.aia_urls(ID_AD_OCSP)
    }

    /// CA issuer URLs from the authority information access.
    pub fn ca_issuer_urls(&self) -> Vec<String> {
        self.aia_urls(oid::AD_CA_ISSUERS)
    }

    fn aia_urls(&self, method: ObjectIdentifier) -> Vec<String> {
        let Some((_, aia)) = self.ext::<AuthorityInfoAccessSyntax>() else { return Vec::new() };
        aia.0.iter().filter(|ad| ad.access_method == method).filter_map(|ad| uri_of(&ad.access_location)).collect()
    }

    /// Whether the subject and issuer names are the same.
    pub fn is_self_issued(&self) -> bool {
        self.0.cert.tbs_certificate.subject == self.0.cert.tbs_certificate.issuer
    }

    /// Whether `issuer`'s subject is this certificate's issuer and its key verifies this
    /// certificate's signature.
    pub fn issued_by(&self, issuer: &Cert) -> bool {
        self.0.cert.tbs_certificate.issuer == issuer.0.cert.tbs_certificate.subject
            && self.verify_signature_with(issuer).is_ok()
    }

    /// Verifies this certificate's signature with `issuer`'s public key (names are not compared).
    ///
    /// A link that verified once is remembered (by both certificates' SHA-256, in a bounded
    /// process-wide set): a province's documents share a handful of CA links, and validating a
    /// file checks each of them several times (signer, timestamp, revocation data).
    pub fn verify_signature_with(&self, issuer: &Cert) -> Result<()> {
        let key = (self.0.fingerprint, issuer.0.fingerprint);
        if verified_links().lock().is_ok_and(|set| set.contains(&key)) {
            return Ok(());
        }
        self.verify_signature_uncached(issuer)?;
        if let Ok(mut set) = verified_links().lock() {
            if set.len() >= 8192 {
                set.clear();
            }
            set.insert(key);
        }
        Ok(())
    }

    fn verify_signature_uncached(&self, issuer: &Cert) -> Result<()> {
        let signature = self
            .0
            .cert
            .signature
            .as_bytes()
            .ok_or_else(|| PkiError::malformed("certificate", "signature with unused bits"))?;
        verify_signature(issuer.raw_spki()?, &self.0.cert.signature_algorithm, None, self.raw_tbs()?, signature)
    }
}

type Link = ([u8; 32], [u8; 32]);

fn verified_links() -> &'static std::sync::Mutex<std::collections::HashSet<Link>> {
    static SET: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<Link>>> = std::sync::OnceLock::new();
    SET.get_or_init(Default::default)
}

fn uri_of(name: &GeneralName) -> Option<String> {
    match name {
        GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
        _ => None,
    }
}

/// One PEM block (`-----BEGIN {label}-----`) of DER bytes.
pub fn pem_block(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, LineEnding::LF, der).unwrap_or_default()
}

/// The label and DER bytes of one PEM block.
pub fn pem_decode(text: &str) -> Result<(String, Vec<u8>)> {
    let (label, der) = der::pem::decode_vec(text.trim().as_bytes()).map_err(|e| PkiError::InvalidPem(e.to_string()))?;
    Ok((label.to_owned(), der))
}

/// The first value of attribute `attr` in `name`, as text.
pub(crate) fn name_attribute(name: &Name, attr: ObjectIdentifier) -> Option<String> {
    name.0.iter().flat_map(|rdn| rdn.0.iter()).find(|atv| atv.oid == attr).and_then(|atv| any_to_string(&atv.value))
}

/// A directory string of any of the usual types as text.
pub(crate) fn any_to_string(value: &Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String => Utf8StringRef::new(bytes).ok().map(|s| s.as_str().to_owned()),
        Tag::PrintableString => PrintableStringRef::new(bytes).ok().map(|s| s.as_str().to_owned()),
        Tag::Ia5String => Ia5StringRef::new(bytes).ok().map(|s| s.as_str().to_owned()),
        // T.61 in practice carries Latin-1.
        Tag::TeletexString => TeletexStringRef::new(bytes).ok().map(|_| bytes.iter().map(|b| char::from(*b)).collect()),
        Tag::BmpString => BmpString::from_ucs2(bytes.to_vec()).ok().map(|s| s.to_string()),
        Tag::VisibleString => std::str::from_utf8(bytes).ok().map(str::to_owned),
        _ => None,
    }
}

fn attribute_short_name(attr: &ObjectIdentifier) -> String {
    match *attr {
        oid::CN => "CN".into(),
        oid::C => "C".into(),
        oid::L => "L".into(),
        oid::ST => "ST".into(),
        oid::O => "O".into(),
        oid::OU => "OU".into(),
        oid::TITLE => "title".into(),
        oid::SERIAL_NUMBER => "serialNumber".into(),
        oid::UID => "UID".into(),
        oid::EMAIL => "emailAddress".into(),
        other => other.to_string(),
    }
}

fn escape_rfc4514(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A Name as RFC 4514 text: RDNs from the most specific (last) to the first, `+` inside an RDN;
/// values of unknown types as `#` and hex DER.
pub(crate) fn name_to_string(name: &Name) -> String {
    name.0
        .iter()
        .rev()
        .map(|rdn| {
            rdn.0
                .iter()
                .map(|atv| {
                    let value = match any_to_string(&atv.value) {
                        Some(s) => escape_rfc4514(&s),
                        None => format!("#{}", hex::encode(atv.value.to_der().unwrap_or_default())),
                    };
                    format!("{}={}", attribute_short_name(&atv.oid), value)
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}
