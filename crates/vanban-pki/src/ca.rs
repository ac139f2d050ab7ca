//! The built-in certificate authority for self-hosted and test deployments: certificate profiles,
//! issuance, sub-CAs and CRLs, and a whole demo hierarchy in one call ([`TestPki`]).

use chrono::{DateTime, Duration, Utc};
use der::asn1::{BitString, Ia5String, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tag};
use sha1::Digest;
use spki::SubjectPublicKeyInfoOwned;
use unicode_normalization::UnicodeNormalization;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CrlDistributionPoints,
    CrlNumber, CrlReason, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use crate::cert::Cert;
use crate::error::{PkiError, Result};
use crate::keys::{KeyAlgorithm, SoftKey};
use crate::oid;
use crate::revocation::{OcspResponder, RevocationReason};
use crate::tsa::TimestampAuthority;
use crate::util;

/// Who a certificate is for. Text is NFC-normalised when the certificate is made.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubjectInfo {
    pub common_name: String,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub locality: Option<String>,
    /// Province, e.g. "Bình An".
    pub state: Option<String>,
    /// Two letters, "VN".
    pub country: String,
    /// 0.9.2342.19200300.100.1.1, e.g. "MST:0101234567" or "CCCD:001090012345".
    pub uid: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
}

impl SubjectInfo {
    /// A subject with only a common name, in Vietnam.
    pub fn new(common_name: impl Into<String>) -> Self {
        SubjectInfo { common_name: common_name.into(), country: "VN".to_owned(), ..Default::default() }
    }

    /// The X.509 Name: C, ST, L, O, OU, title, CN, UID, emailAddress (least specific first).
    /// UTF8String for every attribute except country (PrintableString) and email (IA5String).
    pub fn to_name(&self) -> Result<Name> {
        let bad = |d: String| PkiError::InvalidRequest(d);
        let country = self.country.trim();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(bad(format!("country must be two capital letters, not {country:?}")));
        }
        let mut rdns = vec![atv(oid::C, Tag::PrintableString, country)?];
        let texts = [
            (oid::ST, &self.state, 128),
            (oid::L, &self.locality, 128),
            (oid::O, &self.organization, 64),
            (oid::OU, &self.organizational_unit, 64),
            (oid::TITLE, &self.title, 64),
        ];
        for (attr, value, max) in texts {
            if let Some(v) = value {
                rdns.push(utf8_atv(attr, v, max)?);
            }
        }
        if self.common_name.trim().is_empty() {
            return Err(bad("the common name is empty".into()));
        }
        rdns.push(utf8_atv(oid::CN, &self.common_name, 64)?);
        if let Some(uid) = &self.uid {
            rdns.push(utf8_atv(oid::UID, uid, 256)?);
        }
        if let Some(email) = &self.email {
            let email = email.trim();
            if !email.is_ascii() || !email.contains('@') {
                return Err(bad(format!("invalid email {email:?}")));
            }
            rdns.push(atv(oid::EMAIL, Tag::Ia5String, email)?);
        }
        Ok(RdnSequence(rdns))
    }
}

fn utf8_atv(attr: const_oid::ObjectIdentifier, value: &str, max_chars: usize) -> Result<RelativeDistinguishedName> {
    let value: String = value.trim().nfc().collect();
    if value.is_empty() || value.chars().count() > max_chars {
        return Err(PkiError::InvalidRequest(format!("{attr} must have 1 to {max_chars} characters")));
    }
    atv(attr, Tag::Utf8String, &value)
}

fn atv(attr: const_oid::ObjectIdentifier, tag: Tag, value: &str) -> Result<RelativeDistinguishedName> {
    let value = Any::new(tag, value.as_bytes()).map_err(PkiError::der("name attribute"))?;
    let set = SetOfVec::try_from(vec![AttributeTypeAndValue { oid: attr, value }]).map_err(PkiError::der("RDN"))?;
    Ok(RelativeDistinguishedName(set))
}

/// What a certificate is for; decides its extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CertProfile {
    /// Self-signed root: CA, no path length limit, keyCertSign + cRLSign.
    RootCa,
    /// Issuing CA below the root: CA with pathLen 0, keyCertSign + cRLSign.
    IssuingCa,
    /// An agency's seal: digitalSignature + nonRepudiation, no EKU restriction.
    Organisation,
    /// A person's signature: digitalSignature + nonRepudiation, no EKU restriction.
    Person,
    /// A timestamp authority: digitalSignature, EKU timeStamping (critical, alone).
    Tsa,
    /// A delegated OCSP responder: digitalSignature, EKU OCSPSigning, id-pkix-ocsp-nocheck.
    Ocsp,
}

impl CertProfile {
    fn is_ca(self) -> bool {
        matches!(self, CertProfile::RootCa | CertProfile::IssuingCa)
    }
}

/// A request to issue a certificate.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    pub subject: SubjectInfo,
    pub profile: CertProfile,
    /// SubjectPublicKeyInfo DER.
    pub public_key_der: Vec<u8>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// A certificate to put on a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Big-endian magnitude, as in the certificate.
    pub serial: Vec<u8>,
    pub revoked_at: DateTime<Utc>,
    pub reason: RevocationReason,
}

/// A CA: its certificate, its key, the certificates above it and where it publishes.
pub struct CertificateAuthority {
    pub cert: Cert,
    pub key: SoftKey,
    /// Issuers above this CA, up to the root (empty for a root).
    pub chain: Vec<Cert>,
    /// e.g. "https://vanban.example.gov.vn": CRL, OCSP and CA certificate URLs go below it.
    pub base_url: Option<String>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority").field("cert", &self.cert).field("base_url", &self.base_url).finish()
    }
}

/// SHA-1 of the public key bits: RFC 5280's key identifier method 1.
pub(crate) fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der).map_err(PkiError::der("SubjectPublicKeyInfo"))?;
    Ok(sha1::Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec())
}

fn extension(id: const_oid::ObjectIdentifier, critical: bool, value: &impl Encode) -> Result<Extension> {
    let der = value.to_der().map_err(PkiError::der("extension"))?;
    Ok(Extension { extn_id: id, critical, extn_value: OctetString::new(der).map_err(PkiError::der("extension"))? })
}

fn uri(url: String) -> Result<GeneralName> {
    Ok(GeneralName::UniformResourceIdentifier(
        Ia5String::new(&url).map_err(|e| PkiError::InvalidRequest(format!("URL {url:?}: {e}")))?,
    ))
}

struct Signed {
    tbs: TbsCertificate,
    key_id: Vec<u8>,
}

impl CertificateAuthority {
    /// A self-signed root CA.
    pub fn new_root(
        subject: SubjectInfo,
        key: SoftKey,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        base_url: Option<String>,
    ) -> Result<Self> {
        let name = subject.to_name()?;
        let spki = key.public_key_der().to_vec();
        let key_id = key_identifier(&spki)?;
        let tbs = build_tbs(
            &name,
            &name,
            key.algorithm(),
            &spki,
            &key_id,
            CertProfile::RootCa,
            not_before,
            not_after,
            Vec::new(),
        )?;
        let cert = sign_tbs(Signed { tbs, key_id }, &key)?;
        Ok(CertificateAuthority { cert, key, chain: Vec::new(), base_url: base_url.map(trim_url) })
    }

    /// Issues a certificate; its validity must lie within this CA's own.
    pub fn issue(&self, req: &IssueRequest) -> Result<Cert> {
        let not_before = util::whole_seconds(req.not_before);
        let not_after = util::whole_seconds(req.not_after);
        if not_before >= not_after {
            return Err(PkiError::InvalidValidity(format!("{not_before} is not before {not_after}")));
        }
        if not_before < self.cert.not_before() || not_after > self.cert.not_after() {
            return Err(PkiError::InvalidValidity(format!(
                "{not_before}..{not_after} is outside the CA's {}..{}",
                self.cert.not_before(),
                self.cert.not_after()
            )));
        }
        if req.profile == CertProfile::RootCa {
            return Err(PkiError::InvalidRequest("a root CA is made with new_root".into()));
        }
        if req.profile == CertProfile::IssuingCa && self.cert.path_len() == Some(0) {
            return Err(PkiError::InvalidRequest("this CA may not issue CA certificates (pathLen 0)".into()));
        }
        // The public key must be one we can read, whatever its algorithm.
        SubjectPublicKeyInfoOwned::from_der(&req.public_key_der).map_err(PkiError::der("SubjectPublicKeyInfo"))?;
        let key_id = key_identifier(&req.public_key_der)?;
        let issuer_key_id = match self.cert.subject_key_id() {
            Some(id) => id,
            None => key_identifier(self.key.public_key_der())?,
        };
        let mut extra = Vec::new();
        if let Some(base) = &self.base_url {
            let hex16 = self.cert.fingerprint_hex16();
            let dp = DistributionPoint {
                distribution_point: Some(DistributionPointName::FullName(vec![uri(format!(
                    "{base}/pki/crl/{hex16}.crl"
                ))?])),
                reasons: None,
                crl_issuer: None,
            };
            extra.push(extension(oid::CRL_DISTRIBUTION_POINTS, false, &CrlDistributionPoints(vec![dp]))?);
            let aia = AuthorityInfoAccessSyntax(vec![
                AccessDescription { access_method: oid::AD_OCSP, access_location: uri(format!("{base}/pki/ocsp"))? },
                AccessDescription {
                    access_method: oid::AD_CA_ISSUERS,
                    access_location: uri(format!("{base}/pki/ca/{hex16}.crt"))?,
                },
            ]);
            extra.push(extension(oid::AUTHORITY_INFO_ACCESS, false, &aia)?);
        }
        let subject = req.subject.to_name()?;
        let tbs = build_tbs(
            &self.cert.inner().tbs_certificate.subject,
            &subject,
            self.key.algorithm(),
            &req.public_key_der,
            &key_id,
            req.profile,
            not_before,
            not_after,
            extra,
        )?;
        sign_tbs(Signed { tbs, key_id: issuer_key_id }, &self.key)
    }

    /// Issues a CA certificate for `key` below this CA and returns the new CA (publishing under
    /// the same base URL).
    pub fn issue_sub_ca(
        &self,
        subject: SubjectInfo,
        key: SoftKey,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<CertificateAuthority> {
        let cert = self.issue(&IssueRequest {
            subject,
            profile: CertProfile::IssuingCa,
            public_key_der: key.public_key_der().to_vec(),
            not_before,
            not_after,
        })?;
        let mut chain = vec![self.cert.clone()];
        chain.extend(self.chain.iter().cloned());
        Ok(CertificateAuthority { cert, key, chain, base_url: self.base_url.clone() })
    }

    /// A DER CRL v2 with CRLNumber and AKI, each entry with its reasonCode (none when
    /// unspecified, as RFC 5280 recommends).
    pub fn crl(
        &self,
        revoked: &[RevokedEntry],
        this_update: DateTime<Utc>,
        next_update: DateTime<Utc>,
        crl_number: u64,
    ) -> Result<Vec<u8>> {
        if next_update <= this_update {
            return Err(PkiError::InvalidValidity("nextUpdate must follow thisUpdate".into()));
        }
        let mut entries = Vec::with_capacity(revoked.len());
        for entry in revoked {
            let crl_entry_extensions = match entry.reason {
                RevocationReason::Unspecified => None,
                reason => Some(vec![extension(oid::CRL_REASON, false, &CrlReason::from(reason))?]),
            };
            entries.push(RevokedCert {
                serial_number: SerialNumber::new(util::strip_leading_zeros(&entry.serial))
                    .map_err(PkiError::der("serial number"))?,
                revocation_date: util::chrono_to_time(entry.revoked_at)?,
                crl_entry_extensions,
            });
        }
        let issuer_key_id = match self.cert.subject_key_id() {
            Some(id) => id,
            None => key_identifier(self.key.public_key_der())?,
        };
        let number = crl_number.to_be_bytes();
        let crl_extensions = vec![
            extension(
                oid::AUTHORITY_KEY_IDENTIFIER,
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(issuer_key_id).map_err(PkiError::der("AKI"))?),
                    ..Default::default()
                },
            )?,
            extension(
                oid::CRL_NUMBER,
                false,
                &CrlNumber(
                    der::asn1::Uint::new(util::strip_leading_zeros(&number)).map_err(PkiError::der("CRL number"))?,
                ),
            )?,
        ];
        let alg = self.key.algorithm().x509_signature_algorithm();
        let tbs = TbsCertList {
            version: Version::V2,
            signature: alg.clone(),
            issuer: self.cert.inner().tbs_certificate.subject.clone(),
            this_update: util::chrono_to_time(this_update)?,
            next_update: Some(util::chrono_to_time(next_update)?),
            revoked_certificates: if entries.is_empty() { None } else { Some(entries) },
            crl_extensions: Some(crl_extensions),
        };
        let tbs_der = tbs.to_der().map_err(PkiError::der("CRL"))?;
        let signature = self.key.sign_message(&tbs_der)?;
        let crl = CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: alg,
            signature: BitString::from_bytes(&signature).map_err(PkiError::der("signature"))?,
        };
        crl.to_der().map_err(PkiError::der("CRL"))
    }

    /// The certificates from this CA up to the root: this CA's own first.
    pub fn chain_including_self(&self) -> Vec<Cert> {
        let mut out = vec![self.cert.clone()];
        out.extend(self.chain.iter().cloned());
        out
    }
}

fn trim_url(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}

#[allow(clippy::too_many_arguments)]
fn build_tbs(
    issuer: &Name,
    subject: &Name,
    issuer_alg: KeyAlgorithm,
    spki_der: &[u8],
    subject_key_id: &[u8],
    profile: CertProfile,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    extra: Vec<Extension>,
) -> Result<TbsCertificate> {
    let mut exts = Vec::new();
    if profile.is_ca() {
        let bc = BasicConstraints {
            ca: true,
            path_len_constraint: if profile == CertProfile::IssuingCa { Some(0) } else { None },
        };
        exts.push(extension(oid::BASIC_CONSTRAINTS, true, &bc)?);
    }
    let ku = match profile {
        CertProfile::RootCa | CertProfile::IssuingCa => KeyUsages::KeyCertSign | KeyUsages::CRLSign,
        CertProfile::Organisation | CertProfile::Person => KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
        CertProfile::Tsa | CertProfile::Ocsp => KeyUsages::DigitalSignature.into(),
    };
    exts.push(extension(oid::KEY_USAGE, true, &KeyUsage(ku))?);
    match profile {
        CertProfile::Tsa => {
            exts.push(extension(oid::EXT_KEY_USAGE, true, &ExtendedKeyUsage(vec![oid::KP_TIME_STAMPING]))?);
        }
        CertProfile::Ocsp => {
            exts.push(extension(oid::EXT_KEY_USAGE, false, &ExtendedKeyUsage(vec![oid::KP_OCSP_SIGNING]))?);
            exts.push(extension(oid::OCSP_NOCHECK, false, &der::asn1::Null)?);
        }
        _ => {}
    }
    let ski = SubjectKeyIdentifier(OctetString::new(subject_key_id).map_err(PkiError::der("SKI"))?);
    exts.push(extension(oid::SUBJECT_KEY_IDENTIFIER, false, &ski)?);
    exts.extend(extra);
    Ok(TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&util::random_serial()).map_err(PkiError::der("serial number"))?,
        signature: issuer_alg.x509_signature_algorithm(),
        issuer: issuer.clone(),
        validity: Validity {
            not_before: util::chrono_to_time(util::whole_seconds(not_before))?,
            not_after: util::chrono_to_time(util::whole_seconds(not_after))?,
        },
        subject: subject.clone(),
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(spki_der)
            .map_err(PkiError::der("SubjectPublicKeyInfo"))?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(exts),
    })
}

/// Adds the AKI (the issuer's key id) and signs.
fn sign_tbs(signed: Signed, key: &SoftKey) -> Result<Cert> {
    let Signed { mut tbs, key_id } = signed;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(key_id).map_err(PkiError::der("AKI"))?),
        ..Default::default()
    };
    if let Some(exts) = tbs.extensions.as_mut() {
        exts.push(extension(oid::AUTHORITY_KEY_IDENTIFIER, false, &aki)?);
    }
    let tbs_der = tbs.to_der().map_err(PkiError::der("certificate"))?;
    let signature = key.sign_message(&tbs_der)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: key.algorithm().x509_signature_algorithm(),
        signature: BitString::from_bytes(&signature).map_err(PkiError::der("signature"))?,
    };
    Cert::from_certificate(cert)
}

/// A demo or test hierarchy in one call: a root CA, an issuing CA below it, a TSA and a
/// delegated OCSP responder for the issuing CA.
pub struct TestPki {
    pub root: CertificateAuthority,
    pub issuing: CertificateAuthority,
    pub tsa: TimestampAuthority,
    pub ocsp: OcspResponder,
}

impl TestPki {
    /// Every key is of `alg`; validity starts an hour before `now` (clock skew) and runs 20 years
    /// for the root, 10 for the issuing CA, 5 for the TSA and 2 for the OCSP responder.
    pub fn generate(name: &str, alg: KeyAlgorithm, now: DateTime<Utc>, base_url: Option<String>) -> Result<TestPki> {
        Self::generate_with_responders(name, alg, alg, now, base_url)
    }

    /// As [`TestPki::generate`], with the CAs' keys of `ca_alg` and the online responders'
    /// (the TSA's and the OCSP responder's, which sign at every request) of `responder_alg`.
    pub fn generate_with_responders(
        name: &str,
        ca_alg: KeyAlgorithm,
        responder_alg: KeyAlgorithm,
        now: DateTime<Utc>,
        base_url: Option<String>,
    ) -> Result<TestPki> {
        let alg = ca_alg;
        let start = util::whole_seconds(now - Duration::hours(1));
        let years = |n: i64| start + Duration::days(365 * n + n / 4);
        let subject =
            |cn: String| SubjectInfo { common_name: cn, organization: Some(name.to_owned()), ..SubjectInfo::new("") };
        let root = CertificateAuthority::new_root(
            subject(format!("{name} Root CA")),
            SoftKey::generate(alg)?,
            start,
            years(20),
            base_url,
        )?;
        let issuing =
            root.issue_sub_ca(subject(format!("{name} Issuing CA")), SoftKey::generate(alg)?, start, years(10))?;
        let tsa_key = SoftKey::generate(responder_alg)?;
        let tsa_cert = issuing.issue(&IssueRequest {
            subject: subject(format!("{name} TSA")),
            profile: CertProfile::Tsa,
            public_key_der: tsa_key.public_key_der().to_vec(),
            not_before: start,
            not_after: years(5),
        })?;
        let ocsp_key = SoftKey::generate(responder_alg)?;
        let ocsp_cert = issuing.issue(&IssueRequest {
            subject: subject(format!("{name} OCSP")),
            profile: CertProfile::Ocsp,
            public_key_der: ocsp_key.public_key_der().to_vec(),
            not_before: start,
            not_after: years(2),
        })?;
        let tsa = TimestampAuthority {
            cert: tsa_cert,
            key: tsa_key,
            chain: issuing.chain_including_self(),
            policy: crate::tsa::DEFAULT_POLICY,
        };
        let ocsp = OcspResponder { cert: ocsp_cert, key: ocsp_key, issuer: issuing.cert.clone() };
        Ok(TestPki { root, issuing, tsa, ocsp })
    }

    /// A person's signing certificate and key from the issuing CA, valid for two years (or to
    /// the CA's end).
    pub fn person(&self, subject: SubjectInfo) -> Result<(Cert, SoftKey)> {
        self.end_entity(subject, CertProfile::Person)
    }

    /// An agency's (seal) certificate and key from the issuing CA.
    pub fn organisation(&self, subject: SubjectInfo) -> Result<(Cert, SoftKey)> {
        self.end_entity(subject, CertProfile::Organisation)
    }

    fn end_entity(&self, subject: SubjectInfo, profile: CertProfile) -> Result<(Cert, SoftKey)> {
        let key = SoftKey::generate(self.issuing.key.algorithm())?;
        let not_before = self.issuing.cert.not_before();
        let not_after = (not_before + Duration::days(731)).min(self.issuing.cert.not_after());
        let cert = self.issuing.issue(&IssueRequest {
            subject,
            profile,
            public_key_der: key.public_key_der().to_vec(),
            not_before,
            not_after,
        })?;
        Ok((cert, key))
    }

    /// The root, the issuing CA: the chain for a leaf of this PKI, from the issuing CA up.
    pub fn chain(&self) -> Vec<Cert> {
        self.issuing.chain_including_self()
    }
}
