//! The package's enveloped XML-DSig signature: verification (streaming) and the pieces the
//! writer needs to sign.

use std::io::Write;

use base64::Engine as _;
use quick_xml::events::Event;
use ring::signature as rs;

use crate::c14n::{self, C14nAlg};
use crate::error::EdxmlError;
use crate::model::VerifiedSignature;
use crate::xml::{self, Scope};
use crate::{DSIG_NS, NS};

pub(crate) const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub(crate) const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub(crate) const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub(crate) const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
pub(crate) const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
pub(crate) const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
pub(crate) const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
pub(crate) const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub(crate) const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

/// What pass 1 finds in the first `Signature` element.
#[derive(Default, Debug)]
struct Found {
    /// Offset of the Signature start tag.
    start: u64,
    /// SignedInfo's byte range and the namespace bindings of its parent.
    signed_info: Option<(usize, usize)>,
    signed_info_context: Scope,
    c14n: String,
    signature_method: String,
    references: Vec<Option<String>>,
    transforms: Vec<(String, Vec<String>)>,
    digest_method: String,
    digest_value: String,
    signature_value: String,
    certificate: Option<String>,
    extra_certificates: Vec<String>,
}

fn b64(text: &str) -> Option<Vec<u8>> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// Pass 1: reads up to the end of the first Signature (in the xmldsig namespace, or in the
/// edXML default namespace as in the official samples).
fn find_signature(xml: &[u8]) -> Result<Option<Found>, EdxmlError> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().check_end_names = true;
    let mut scope = Scope::default();
    let mut found: Option<Found> = None;
    // Local names from the Signature element down.
    let mut sig_path: Vec<String> = Vec::new();
    let mut si_start = 0usize;
    let mut text = String::new();
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| xml::malformed(xml, reader.error_position(), e))?;
        match event {
            Event::DocType(_) => return Err(EdxmlError::DoctypeForbidden),
            Event::Start(ref s) | Event::Empty(ref s) => {
                let empty = matches!(event, Event::Empty(_));
                let before = scope.clone_if(found.is_some() && sig_path.len() == 1);
                scope.push(s).map_err(|e| xml::malformed(xml, pos, e))?;
                let q = s.name().0;
                let local = xml::local(q).to_owned();
                if found.is_none() {
                    let ns = scope.element_ns(q);
                    if local == "Signature" && matches!(ns.as_deref(), Some(DSIG_NS) | Some(NS)) {
                        found = Some(Found { start: pos, ..Found::default() });
                        sig_path.push(local);
                        if empty {
                            return Ok(found);
                        }
                        continue;
                    }
                } else if let Some(f) = found.as_mut() {
                    let attr = |name: &str| -> Option<String> {
                        s.attributes().flatten().find(|a| a.key.0 == name).and_then(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned())
                        })
                    };
                    let parent = sig_path.last().map(String::as_str).unwrap_or("");
                    match (parent, local.as_str()) {
                        ("Signature", "SignedInfo") => {
                            si_start = pos as usize;
                            if let Some(b) = before {
                                f.signed_info_context = b;
                            }
                        }
                        ("SignedInfo", "CanonicalizationMethod") => f.c14n = attr("Algorithm").unwrap_or_default(),
                        ("SignedInfo", "SignatureMethod") => f.signature_method = attr("Algorithm").unwrap_or_default(),
                        ("SignedInfo", "Reference") => f.references.push(attr("URI")),
                        ("Transforms", "Transform") => {
                            f.transforms.push((attr("Algorithm").unwrap_or_default(), Vec::new()))
                        }
                        ("Transform", "InclusiveNamespaces") => {
                            if let Some(t) = f.transforms.last_mut() {
                                t.1 = attr("PrefixList")
                                    .unwrap_or_default()
                                    .split_whitespace()
                                    .map(|p| if p == "#default" { String::new() } else { p.to_owned() })
                                    .collect();
                            }
                        }
                        ("Reference", "DigestMethod") => f.digest_method = attr("Algorithm").unwrap_or_default(),
                        _ => {}
                    }
                    text.clear();
                    if empty {
                        scope.pop();
                    } else {
                        sig_path.push(local);
                    }
                    continue;
                }
                if empty {
                    scope.pop();
                }
            }
            Event::Text(t) if found.is_some() => text.push_str(&t.xml10_content()),
            Event::End(_) => {
                scope.pop();
                if let Some(f) = found.as_mut() {
                    let names: Vec<&str> = sig_path.iter().map(String::as_str).collect();
                    match names.as_slice() {
                        ["Signature"] => return Ok(found),
                        ["Signature", "SignedInfo"] => {
                            f.signed_info = Some((si_start, reader.buffer_position() as usize))
                        }
                        [.., "Reference", "DigestValue"] if f.references.len() == 1 => f.digest_value = text.clone(),
                        ["Signature", "SignatureValue"] => f.signature_value = text.clone(),
                        [.., "X509Data", "X509Certificate"] if f.certificate.is_none() => {
                            f.certificate = Some(text.clone())
                        }
                        [.., "X509Data", "X509Certificate"] => f.extra_certificates.push(text.clone()),
                        _ => {}
                    }
                    sig_path.pop();
                    text.clear();
                }
            }
            Event::Eof => return Ok(found),
            _ => {}
        }
    }
}

impl Scope {
    fn clone_if(&self, yes: bool) -> Option<Scope> {
        yes.then(|| self.clone())
    }
}

/// Hashes a canonical stream with the digest of a DigestMethod URI.
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(uri: &str) -> Option<Hasher> {
        use sha2::Digest as _;
        Some(match uri {
            SHA1 => Hasher::Sha1(sha1::Sha1::new()),
            SHA256 => Hasher::Sha256(sha2::Sha256::new()),
            SHA512 => Hasher::Sha512(sha2::Sha512::new()),
            _ => return None,
        })
    }

    fn finish(self) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        match self {
            Hasher::Sha1(h) => h.update(buf),
            Hasher::Sha256(h) => h.update(buf),
            Hasher::Sha512(h) => h.update(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks the package's enveloped XML-DSig signature and returns the signer's certificate.
pub fn verify_signature(bytes: &[u8]) -> Result<VerifiedSignature, EdxmlError> {
    let bad = |s: &str| EdxmlError::BadSignature(s.to_owned());
    let (xml, _, _) = xml::strip_junk(bytes)?;
    let f = find_signature(xml)?.ok_or(EdxmlError::Unsigned)?;
    let (si_start, si_end) = f.signed_info.ok_or_else(|| bad("the Signature has no SignedInfo"))?;
    match f.references.as_slice() {
        [Some(uri)] if uri.is_empty() => {}
        [_] => return Err(bad("only a Reference to the whole document (URI=\"\") is supported")),
        [] => return Err(bad("SignedInfo has no Reference")),
        _ => return Err(bad("SignedInfo has more than one Reference; only URI=\"\" alone is supported")),
    }
    // The transform chain: enveloped-signature, then (optionally) a canonicalisation; the
    // node-set is canonicalised with inclusive c14n 1.0 when no c14n transform is given.
    let mut enveloped = false;
    let mut doc_alg = C14nAlg::from_uri(c14n::C14N).expect("c14n");
    for (t, prefixes) in &f.transforms {
        if t == ENVELOPED {
            enveloped = true;
        } else if let Some(mut alg) = C14nAlg::from_uri(t) {
            alg.inclusive_prefixes = prefixes.clone();
            // URI="" selects the document without comments.
            alg.comments = false;
            doc_alg = alg;
        } else {
            return Err(EdxmlError::BadSignature(format!("unsupported transform {t}")));
        }
    }
    let mut hasher = Hasher::new(&f.digest_method)
        .ok_or_else(|| EdxmlError::BadSignature(format!("unsupported digest method {:?}", f.digest_method)))?;
    c14n::canonicalize(xml, &doc_alg, &Scope::default(), enveloped.then_some(f.start), &mut hasher)?;
    let digest = hasher.finish();
    let declared = b64(&f.digest_value).ok_or_else(|| bad("DigestValue is not base64"))?;
    if digest != declared {
        return Err(bad(
            "the digest of the package does not match the signed DigestValue: the package was changed after signing",
        ));
    }
    let cert_der =
        f.certificate.as_deref().and_then(b64).ok_or_else(|| bad("KeyInfo carries no decodable X509Certificate"))?;
    let cert = vanban_pki::Cert::from_der(&cert_der)
        .map_err(|e| EdxmlError::BadSignature(format!("the X509Certificate cannot be parsed: {e}")))?;
    let si_alg = C14nAlg::from_uri(&f.c14n)
        .ok_or_else(|| EdxmlError::BadSignature(format!("unsupported CanonicalizationMethod {:?}", f.c14n)))?;
    let mut canonical = Vec::new();
    c14n::canonicalize(&xml[si_start..si_end], &si_alg, &f.signed_info_context, None, &mut canonical)?;
    let value = b64(&f.signature_value).ok_or_else(|| bad("SignatureValue is not base64"))?;
    let alg: &'static dyn rs::VerificationAlgorithm = match f.signature_method.as_str() {
        RSA_SHA1 => &rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        RSA_SHA256 => &rs::RSA_PKCS1_2048_8192_SHA256,
        RSA_SHA384 => &rs::RSA_PKCS1_2048_8192_SHA384,
        RSA_SHA512 => &rs::RSA_PKCS1_2048_8192_SHA512,
        ECDSA_SHA256 => &rs::ECDSA_P256_SHA256_FIXED,
        other => return Err(EdxmlError::BadSignature(format!("unsupported signature method {other:?}"))),
    };
    rs::UnparsedPublicKey::new(alg, cert.public_key_bits())
        .verify(&canonical, &value)
        .map_err(|_| bad("the SignatureValue does not match SignedInfo and the certificate's public key"))?;
    let chain_der = f.extra_certificates.iter().filter_map(|c| b64(c)).collect();
    Ok(VerifiedSignature { certificate_der: cert_der, chain_der, signature_method: f.signature_method })
}

/// The raw `r || s` (32 bytes each) of a DER ECDSA-Sig-Value, as XML-DSig wants it.
pub(crate) fn ecdsa_der_to_raw(der: &[u8]) -> Option<Vec<u8>> {
    fn int(b: &[u8]) -> Option<(&[u8], &[u8])> {
        if b.len() < 2 || b[0] != 0x02 {
            return None;
        }
        let len = b[1] as usize;
        let v = b.get(2..2 + len)?;
        Some((v, &b[2 + len..]))
    }
    if der.len() < 2 || der[0] != 0x30 {
        return None;
    }
    let body = der.get(2..)?;
    let (r, rest) = int(body)?;
    let (s, _) = int(rest)?;
    let mut out = vec![0u8; 64];
    for (v, off) in [(r, 0usize), (s, 32usize)] {
        let v = if v.len() > 32 { &v[v.len() - 32..] } else { v };
        out[off + 32 - v.len()..off + 32].copy_from_slice(v);
    }
    Some(out)
}
