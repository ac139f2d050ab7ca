//! edXML packages of QCVN 102:2016, the format Vietnamese document management systems exchange
//! documents in (national axis VDXP, provincial LGSP axes): document packages (new, revocation,
//! update, replacement) and status packages.
//!
//! * [`parse`] reads a package into the model, with the tolerances real traffic needs (junk
//!   before the XML declaration, `Business`/`Bussiness`, `Status`/`MessageHeader`, dd/MM/yyyy
//!   dates, xlink manifests, zipped or raw attachments, a `Signature` in the xmldsig or the edXML
//!   namespace) reported as [`Warning`]s, and refuses what cannot be trusted (DOCTYPE, zip bombs,
//!   over-long fields, duplicate recipients) with an [`EdxmlError`] that has a stable code and a
//!   Vietnamese message for the status 02 reply.
//! * [`read_routing`] reads only up to the end of the header (a hub that must not buffer).
//! * [`write_edoc`], [`build_edoc`], [`build_status`] write packages like the VNPT library,
//!   optionally signed (enveloped XML-DSig).
//! * [`verify_signature`] checks the XML-DSig signature with a streaming canonicaliser.
//!
//! This is a format crate: no IO beyond `Read`/`Write`, no runtime, no network.

mod c14n;
mod error;
mod model;
mod parse;
mod sign;
mod validate;
mod write;
mod xml;

pub use error::EdxmlError;
pub use model::*;
pub use parse::{parse, read_routing};
pub use sign::verify_signature;
pub use validate::{is_valid_organ_id, validate_edoc, validate_status};
pub use write::{build_edoc, build_status, write_edoc};

/// The edXML namespace.
pub const NS: &str = "http://www.mic.gov.vn/TBT/QCVN_102_2016";
/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// The global document id: `"<issuer OrganId>,<yyyy/MM/dd>,<number>/<notation>"`, e.g.
/// `000.00.00.G22,2015/09/30,7816/VPCP-TTĐT`.
pub fn document_id(organ_id: &str, date: chrono::NaiveDate, number: &str, notation: &str) -> String {
    format!("{},{},{}/{}", organ_id.trim(), date.format("%Y/%m/%d"), number.trim(), notation.trim())
}

/// Splits a document id into (issuer OrganId, date as written, "number/notation").
pub fn split_document_id(id: &str) -> Option<(String, String, String)> {
    let mut parts = id.trim().splitn(3, ',');
    let organ = parts.next()?.trim();
    let date = parts.next()?.trim();
    let code = parts.next()?.trim();
    if organ.is_empty() || date.is_empty() || code.is_empty() {
        return None;
    }
    Some((organ.to_owned(), date.to_owned(), code.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids() {
        let d = chrono::NaiveDate::from_ymd_opt(2015, 9, 30).unwrap();
        let id = document_id("000.00.00.G22", d, "7816", "VPCP-TTĐT");
        assert_eq!(id, "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT");
        assert_eq!(
            split_document_id(&id),
            Some(("000.00.00.G22".into(), "2015/09/30".into(), "7816/VPCP-TTĐT".into()))
        );
        assert_eq!(split_document_id("abc"), None);
    }

    #[test]
    fn organ_ids() {
        assert!(is_valid_organ_id("000.00.00.G22"));
        assert!(is_valid_organ_id("H49.01.02"));
        assert!(!is_valid_organ_id("28.22.H17"));
        assert!(!is_valid_organ_id(""));
    }

    #[test]
    fn dates() {
        assert_eq!(EdDate::parse("2014/02/30").date, None);
        assert_eq!(EdDate::parse("30/09/2015").date, chrono::NaiveDate::from_ymd_opt(2015, 9, 30));
        assert_eq!(EdDate::parse("30/09/2015").to_wire(), "2015/09/30");
        let t = EdDateTime::parse("20/09/2015 11:08:36");
        assert_eq!(t.to_wire(), "2015/09/20 11:08:36");
    }

    #[test]
    fn canonical_forms() {
        use crate::c14n::{C14nAlg, canonicalize};
        let doc = br#"<?xml version="1.0"?>
<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><x z="1" a:y="&quot;2&#9;" b="3"/><!-- c --><t>&lt;&amp;>&#13;</t></a:r>
"#;
        let mut out = Vec::new();
        canonicalize(doc, &C14nAlg::from_uri(c14n::C14N).unwrap(), &xml::Scope::default(), None, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<a:r xmlns=\"urn:d\" xmlns:a=\"urn:a\" xmlns:b=\"urn:b\"><x b=\"3\" z=\"1\" a:y=\"&quot;2&#x9;\"></x><t>&lt;&amp;&gt;&#xD;</t></a:r>"
        );
        let mut out = Vec::new();
        canonicalize(doc, &C14nAlg::from_uri(c14n::EXC_C14N).unwrap(), &xml::Scope::default(), None, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<a:r xmlns:a=\"urn:a\"><x xmlns=\"urn:d\" b=\"3\" z=\"1\" a:y=\"&quot;2&#x9;\"></x><t xmlns=\"urn:d\">&lt;&amp;&gt;&#xD;</t></a:r>"
        );
    }

    #[test]
    fn messages_are_nfc() {
        use unicode_normalization::is_nfc;
        let errors = [
            EdxmlError::NotXml("x".into()),
            EdxmlError::Malformed("x".into()),
            EdxmlError::WrongNamespace("x".into()),
            EdxmlError::MissingElement("MessageHeader/Subject".into()),
            EdxmlError::TooLong { element: "x".into(), max: 1, len: 2 },
            EdxmlError::Invalid { element: "x".into(), reason: "y".into() },
            EdxmlError::DuplicateRecipient("x".into()),
            EdxmlError::BadBase64 { content_id: "x".into() },
            EdxmlError::ZipBomb { content_id: "x".into() },
            EdxmlError::TooLarge("x".into()),
            EdxmlError::DoctypeForbidden,
            EdxmlError::Unsigned,
            EdxmlError::BadSignature("x".into()),
            EdxmlError::Signing("x".into()),
            EdxmlError::Io(std::io::Error::other("x")),
        ];
        for e in errors {
            assert!(is_nfc(&e.message_vi()), "{}", e.code());
            assert!(e.code().starts_with("edxml_"));
        }
        assert_eq!(
            EdxmlError::MissingElement("MessageHeader/Subject".into()).message_vi(),
            "Gói tin thiếu phần tử bắt buộc: MessageHeader/Subject"
        );
    }
}
