//! The official sample packages (shared/spec/samples) are conformance vectors: every one parses,
//! and what we build from them has the same element structure.

use std::path::PathBuf;

use vanban_edxml::*;

fn samples_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec/samples");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the official samples are missing: {}", dir.display());
    }
    eprintln!("notice: {} not found, sample tests skipped", dir.display());
    None
}

fn sample(name: &str) -> Option<Vec<u8>> {
    samples_dir().map(|d| std::fs::read(d.join(name)).expect("read sample"))
}

fn all_samples() -> Vec<(String, Vec<u8>)> {
    let Some(dir) = samples_dir() else { return Vec::new() };
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "edxml"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert_eq!(out.len(), 13, "4 document and 9 status samples");
    out
}

fn parsed(name: &str) -> Option<Parsed> {
    sample(name).map(|b| parse(&b, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn edoc(p: &Parsed) -> &Edoc {
    match &p.package {
        Package::Edoc(e) => e,
        Package::Status(_) => panic!("expected an edoc"),
    }
}

fn status(p: &Parsed) -> &StatusPackage {
    match &p.package {
        Package::Status(s) => s,
        Package::Edoc(_) => panic!("expected a status"),
    }
}

/// The element paths (local names) in document order, nothing below Signature.
fn element_paths(bytes: &[u8]) -> Vec<String> {
    let start = bytes.iter().position(|&b| b == b'<').unwrap();
    let mut reader = quick_xml::Reader::from_reader(&bytes[start..]);
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(s) => {
                let q = s.name().0.to_owned();
                path.push(q.rsplit(':').next().unwrap().to_owned());
                if !path[..path.len() - 1].iter().any(|p| p == "Signature") {
                    out.push(path.join("/"));
                }
            }
            quick_xml::events::Event::Empty(s) => {
                let q = s.name().0.to_owned();
                if !path.iter().any(|p| p == "Signature") {
                    out.push(format!("{}/{}", path.join("/"), q.rsplit(':').next().unwrap()));
                }
            }
            quick_xml::events::Event::End(_) => {
                path.pop();
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    out
}

#[test]
fn every_sample_parses() {
    for (name, bytes) in all_samples() {
        let p = parse(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {} {e}", e.code()));
        for w in &p.warnings {
            eprintln!("{name}: {} {} {}", w.element, w.code, w.message);
        }
        let is_status = name.starts_with("status_");
        assert_eq!(matches!(p.package, Package::Status(_)), is_status, "{name}");
        if let Package::Status(s) = &p.package {
            // status_inbox_01.edxml → "01"
            let code = name.trim_end_matches(".edxml").rsplit('_').next().unwrap();
            assert_eq!(s.status_code, code, "{name}");
            assert_eq!(s.response_for.document_id, "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT", "{name}");
            assert!(s.timestamp.value.is_some(), "{name}");
            assert!(!s.description.is_empty());
        }
    }
}

#[test]
fn status_inbox_01() {
    let Some(p) = parsed("status_inbox_01.edxml") else { return };
    let s = status(&p);
    assert_eq!(s.status_code, "01");
    assert_eq!(s.from.organ_id, "000.00.00.H41");
    assert_eq!(s.from.organ_name, "UBND Tỉnh Nghệ An");
    assert_eq!(s.response_for.organ_id, "000.00.00.G22");
    assert_eq!(s.response_for.code, "7816/VPCP-TTĐT");
    assert_eq!(s.response_for.document_id, "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT");
    assert_eq!(s.response_for.promulgation_date.date, chrono::NaiveDate::from_ymd_opt(2015, 9, 30));
    assert_eq!(s.staff.mobile, "84912000001");
    assert_eq!(s.staff.email, "ngoctram@nghean.vn");
    assert_eq!(s.timestamp.raw, "2015/09/20 11:08:36");
    assert!(s.description.starts_with("Văn thư - Phòng Văn thư - Lưu trữ: Đã đến"));
    assert!(p.signature.is_none());
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn edoc_new() {
    let Some(p) = parsed("edoc_new.edxml") else { return };
    let codes: Vec<(&str, &str)> = p.warnings.iter().map(|w| (w.element.as_str(), w.code)).collect();
    assert!(codes.contains(&("edXML", "leading_junk")), "{codes:?}");
    assert!(codes.contains(&("TraceHeaderList/Bussiness/DocumentId", "invalid_date")), "{codes:?}");
    assert!(codes.contains(&("MessageHeader/To/OrganId", "invalid_organ_id")), "{codes:?}");
    let e = edoc(&p);
    let h = &e.header;
    assert_eq!(h.from.organ_id, "002.00.20.H13");
    assert_eq!(h.to.len(), 1);
    assert_eq!(h.to[0].organ_id, "28.22.H17");
    assert_eq!(h.to[0].organization_in_charge, "UBND xã Hòa Sơn - UBND huyện Hòa Vang - Thành phố Đà Nẵng");
    assert_eq!(h.document_id, "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT");
    assert_eq!(h.code, Code { number: "74fass22".into(), notation: "VPCP-TTĐT".into() });
    assert_eq!(h.place, "Hà Nội");
    assert_eq!(h.promulgation_date.date, chrono::NaiveDate::from_ymd_opt(2019, 1, 16));
    assert_eq!(h.document_type.type_name, "Công văn");
    assert_eq!(h.subject, "V/v kết nối, liên thông phần mềm quản lý văn bản");
    assert_eq!(h.signer.full_name, "Nguyen Thanh Phuc");
    assert_eq!(h.due_date.as_ref().and_then(|d| d.date), chrono::NaiveDate::from_ymd_opt(2018, 9, 28));
    assert_eq!(h.other_info.priority, "0");
    assert_eq!(h.other_info.appendixes.len(), 1);
    assert_eq!(h.steering_type.as_deref(), Some("1"));
    assert_eq!(h.to_places.len(), 2);
    let t = &e.trace;
    assert_eq!(t.traces.len(), 1);
    assert_eq!(t.traces[0].timestamp.value.map(|v| v.to_string()), Some("2018-09-28 00:00:00".to_owned()));
    assert_eq!(t.business.doc_type, BusinessDocType::New);
    assert_eq!(t.business.document_id, "000.00.00.G22,2014/02/30,7806/VPCP-TTĐT");
    assert_eq!(t.business.staff.staff, "Nguyễn Thị Ngọc Trâm");

    // The attachment travelled zipped and is given back unzipped. (The official sample's zip
    // holds a nested edXML package named "….edxml", not a Word file, although the manifest
    // calls it "1896_QD-TTg_m_294779.doc".)
    assert_eq!(e.attachments.len(), 1);
    let a = &e.attachments[0];
    assert_eq!(a.content_id, "cid:209");
    assert_eq!(a.name, "1896_QD-TTg_m_294779.doc");
    assert_eq!(a.content_type, "application/zip");
    assert!(a.zipped);
    assert_eq!(a.data.len(), 388_347);
    assert!(a.data.starts_with(b"<?xml"), "{:?}", &a.data[..8]);
    assert!(a.data.windows(NS.len()).any(|w| w == NS.as_bytes()));

    let sig = p.signature.as_ref().expect("signature block");
    assert_eq!(sig.signature_method, "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
    assert_eq!(sig.digest_method, "http://www.w3.org/2000/09/xmldsig#sha1");
    assert_eq!(sig.c14n_method, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315");
    assert_eq!(sig.subject_name.as_deref(), Some("CN=user05"));
    assert_eq!(sig.certificate_der, None, "the sample's certificate is truncated");
    assert!(codes.contains(&("Signature/KeyInfo/X509Data/X509Certificate", "certificate_undecodable")));
}

#[test]
fn edoc_update_replacement_revocation() {
    let Some(p) = parsed("edoc_update.edxml") else { return };
    let b = &edoc(&p).trace.business;
    assert_eq!(b.doc_type, BusinessDocType::Update);
    assert_eq!(b.reason, "Cập nhật văn bản điện tử");
    let info = b.document_info.as_ref().expect("BussinessDocumentInfo");
    assert_eq!((info.document_info.as_str(), info.document_receiver.as_str()), ("1", "1"));
    assert_eq!(
        info.receivers,
        vec![
            Receiver { organ_id: "000.00.00.H41".into(), receiver_type: "0".into() },
            Receiver { organ_id: "000.00.00.H14".into(), receiver_type: "1".into() },
        ]
    );
    assert_eq!(edoc(&p).header.to.len(), 3);

    let p = parsed("edoc_replacement.edxml").unwrap();
    let b = &edoc(&p).trace.business;
    assert_eq!(b.doc_type, BusinessDocType::Replace);
    assert_eq!(b.replacements.len(), 2);
    assert_eq!(b.replacements[0].document_id, "000.00.00.G22,2014/01/30,7806/VPCP-TTĐT");
    assert_eq!(b.replacements[0].organ_ids, vec!["000.00.00.H41".to_owned(), "000.00.00.H14".to_owned()]);

    let p = parsed("edoc_revocation.edxml").unwrap();
    let e = edoc(&p);
    assert_eq!(e.trace.business.doc_type, BusinessDocType::Revoke);
    assert_eq!(e.header.response_for.len(), 1);
    assert_eq!(e.header.response_for[0].code, "267/VPCP-TTĐT");
    assert_eq!(e.header.response_for[0].document_id, "000.00.04.G14,2012/08/06,267/VPCP-TTĐT");
}

#[test]
fn sample_signatures_are_reported_invalid() {
    for (name, bytes) in all_samples() {
        match verify_signature(&bytes) {
            Err(EdxmlError::BadSignature(reason)) => {
                assert!(name.starts_with("edoc_"), "{name}");
                assert!(!reason.is_empty());
                eprintln!("{name}: {reason}");
            }
            Err(EdxmlError::Unsigned) => assert!(name.starts_with("status_"), "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn routing_matches_parse() {
    for (name, bytes) in all_samples() {
        let r = read_routing(std::io::BufReader::new(bytes.as_slice())).unwrap_or_else(|e| panic!("{name}: {e}"));
        let p = parse(&bytes, &Limits::default()).unwrap();
        match &p.package {
            Package::Edoc(e) => {
                assert_eq!(r.kind, PackageKind::Edoc);
                assert_eq!(r.from, e.header.from.organ_id);
                assert_eq!(r.to, e.header.to.iter().map(|t| t.organ_id.clone()).collect::<Vec<_>>());
                assert_eq!(r.document_id, e.header.document_id);
                assert_eq!(r.business, Some(e.trace.business.doc_type));
                assert_eq!(r.status_code, None);
            }
            Package::Status(s) => {
                assert_eq!(r.kind, PackageKind::Status, "{name}");
                assert_eq!(r.from, s.from.organ_id);
                assert_eq!(r.to, vec![s.response_for.organ_id.clone()]);
                assert_eq!(r.document_id, s.response_for.document_id);
                assert_eq!(r.status_code.as_deref(), Some(s.status_code.as_str()));
            }
        }
    }
}

#[test]
fn rebuilt_samples_have_the_sample_structure() {
    let pki =
        vanban_pki::TestPki::generate("Test", vanban_pki::KeyAlgorithm::EcdsaP256, chrono::Utc::now(), None).unwrap();
    let (cert, key) = pki.organisation(vanban_pki::SubjectInfo::new("Văn phòng Chính phủ")).unwrap();
    let signer = PackageSigner { key: &key, certificate: &cert, chain: &[] };
    for (name, bytes) in all_samples() {
        let p = parse(&bytes, &Limits::default()).unwrap();
        let rebuilt = match &p.package {
            Package::Edoc(e) => build_edoc(e, Some(&signer)).unwrap(),
            Package::Status(s) => build_status(s, None).unwrap(),
        };
        assert_eq!(element_paths(&rebuilt), element_paths(&bytes), "{name}");
        let again = parse(&rebuilt, &Limits::default()).unwrap();
        assert_eq!(again.package, p.package, "{name}");
        if name.starts_with("edoc_") {
            verify_signature(&rebuilt).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
