//! Building packages: round trips, signatures (checked here and by xmlsec1), malformed input,
//! routing without reading the attachments.

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use chrono::NaiveDate;
use vanban_edxml::*;

fn org(id: &str, name: &str) -> Organization {
    Organization {
        organ_id: id.into(),
        organ_name: name.into(),
        organization_in_charge: name.into(),
        organ_add: "Số 1, đường Trần Phú, thành phố Bình An".into(),
        email: "vanthu@binhan.gov.vn".into(),
        telephone: "0203 3825 111".into(),
        fax: "0203 3825 112".into(),
        website: "binhan.gov.vn".into(),
    }
}

/// Deterministic pseudo-random bytes (xorshift), incompressible.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn full_edoc(attachment_len: usize) -> Edoc {
    let date = NaiveDate::from_ymd_opt(2025, 3, 14).unwrap();
    Edoc {
        header: EdocHeader {
            from: org("000.00.00.H99", "UBND tỉnh Bình An"),
            to: vec![org("000.00.01.H99", "Sở Nội vụ tỉnh Bình An"), org("000.00.00.G22", "Văn phòng Chính phủ")],
            document_id: document_id("000.00.00.H99", date, "125", "UBND-VP"),
            code: Code { number: "125".into(), notation: "UBND-VP".into() },
            place: "Bình An".into(),
            promulgation_date: EdDate::from_date(date),
            document_type: DocumentTypeInfo {
                r#type: "2".into(),
                type_detail: "18".into(),
                type_name: "Công văn".into(),
            },
            subject: "V/v triển khai liên thông văn bản điện tử & ký số <năm 2025>".into(),
            content: "Đề nghị các đơn vị triển khai.".into(),
            signer: SignerInfo {
                competence: "KT. CHỦ TỊCH".into(),
                position: "Phó Chủ tịch".into(),
                full_name: "Nguyễn Văn A".into(),
            },
            due_date: Some(EdDate::from_date(NaiveDate::from_ymd_opt(2025, 4, 1).unwrap())),
            other_info: OtherInfo {
                priority: "1".into(),
                sphere_of_promulgation: "Liên thông văn bản quốc gia".into(),
                typer_notation: "NVA".into(),
                promulgation_amount: "3".into(),
                page_amount: "2".into(),
                direction: "false".into(),
                appendixes: vec!["Phụ lục I: Danh sách đơn vị".into()],
            },
            response_for: vec![ResponseFor {
                organ_id: "000.00.00.G22".into(),
                code: "7816/VPCP-TTĐT".into(),
                promulgation_date: EdDate::from_date(NaiveDate::from_ymd_opt(2015, 9, 30).unwrap()),
                document_id: "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT".into(),
            }],
            steering_type: Some("1".into()),
            to_places: vec!["Như trên;".into(), "Lưu: VT.".into()],
        },
        trace: TraceHeaderList {
            traces: vec![TraceHeader {
                organ_id: "000.00.00.H99".into(),
                timestamp: EdDateTime::from_naive(date.and_hms_opt(9, 30, 5).unwrap()),
            }],
            business: Business {
                document_id: document_id("000.00.00.H99", date, "125", "UBND-VP"),
                doc_type: BusinessDocType::New,
                reason: "Văn bản điện tử mới".into(),
                paper: "0".into(),
                staff: StaffInfo {
                    department: "Văn thư".into(),
                    staff: "Trần Thị B".into(),
                    email: "vanthu@binhan.gov.vn".into(),
                    mobile: "0912000001".into(),
                },
                document_info: None,
                replacements: Vec::new(),
            },
        },
        attachments: vec![
            Attachment {
                content_id: "cid:1".into(),
                name: "125-UBND-VP.pdf".into(),
                description: "Công văn 125".into(),
                content_type: "application/pdf".into(),
                data: b"%PDF-1.7\n% tiny test file\n%%EOF\n".to_vec(),
                zipped: false,
            },
            Attachment {
                content_id: "cid:2".into(),
                name: "du-lieu.bin".into(),
                description: "Dữ liệu kèm theo".into(),
                content_type: "application/octet-stream".into(),
                data: noise(attachment_len, 0x9e37_79b9_7f4a_7c15),
                zipped: false,
            },
        ],
    }
}

fn status(code: &str) -> StatusPackage {
    StatusPackage {
        from: org("000.00.01.H99", "Sở Nội vụ tỉnh Bình An"),
        response_for: ResponseFor {
            organ_id: "000.00.00.H99".into(),
            code: "125/UBND-VP".into(),
            promulgation_date: EdDate::from_date(NaiveDate::from_ymd_opt(2025, 3, 14).unwrap()),
            document_id: "000.00.00.H99,2025/03/14,125/UBND-VP".into(),
        },
        staff: StaffInfo {
            department: "Văn thư".into(),
            staff: "Lê Văn C".into(),
            email: "vt@snv.binhan.gov.vn".into(),
            mobile: "0912000002".into(),
        },
        status_code: code.into(),
        description: "Đã đến".into(),
        timestamp: EdDateTime::from_naive(NaiveDate::from_ymd_opt(2025, 3, 14).unwrap().and_hms_opt(10, 0, 0).unwrap()),
    }
}

fn edoc_of(p: Parsed) -> Edoc {
    match p.package {
        Package::Edoc(e) => e,
        Package::Status(_) => panic!("expected an edoc"),
    }
}

struct Keys {
    cert: vanban_pki::Cert,
    key: vanban_pki::SoftKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pki =
            vanban_pki::TestPki::generate("Test", vanban_pki::KeyAlgorithm::Rsa2048, chrono::Utc::now(), None).unwrap();
        let mut subject = vanban_pki::SubjectInfo::new("UBND tỉnh Bình An");
        subject.organization = Some("UBND tỉnh Bình An".into());
        let (cert, key) = pki.organisation(subject).unwrap();
        Keys { cert, key }
    })
}

fn signer() -> PackageSigner<'static> {
    let k = keys();
    PackageSigner { key: &k.key, certificate: &k.cert, chain: &[] }
}

fn limits() -> Limits {
    Limits::default()
}

#[test]
fn edoc_round_trip_zipped_and_raw() {
    let edoc = full_edoc(1 << 20);
    let bytes = build_edoc(&edoc, None).unwrap();
    let p = parse(&bytes, &limits()).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert!(p.signature.is_none());
    let back = edoc_of(p);
    assert_eq!(back.header, edoc.header);
    assert_eq!(back.trace, edoc.trace);
    assert_eq!(back.attachments.len(), 2);
    for (a, b) in back.attachments.iter().zip(&edoc.attachments) {
        assert_eq!((&a.content_id, &a.name, &a.description), (&b.content_id, &b.name, &b.description));
        assert_eq!(a.content_type, "application/zip");
        assert!(a.zipped);
        assert!(a.data == b.data, "attachment {} differs", a.name);
    }

    let mut raw = Vec::new();
    write_edoc(&edoc, None, false, &mut raw).unwrap();
    let back = edoc_of(parse(&raw, &limits()).unwrap());
    assert_eq!(back.header, edoc.header);
    assert_eq!(back.attachments[0].content_type, "application/pdf");
    assert_eq!(back.attachments[1].content_type, "application/octet-stream");
    for (a, b) in back.attachments.iter().zip(&edoc.attachments) {
        assert!(!a.zipped);
        assert!(a.data == b.data);
    }
}

#[test]
fn status_round_trip_every_code() {
    for n in 1..=16 {
        let code = format!("{n:02}");
        let s = status(&code);
        let bytes = build_status(&s, None).unwrap();
        let p = parse(&bytes, &limits()).unwrap();
        assert_eq!(p.package, Package::Status(s.clone()), "{code}");
        let r = read_routing(bytes.as_slice()).unwrap();
        assert_eq!(r.kind, PackageKind::Status);
        assert_eq!(r.status_code.as_deref(), Some(code.as_str()));
        assert_eq!(r.to, vec!["000.00.00.H99".to_owned()]);
        let signed = build_status(&s, Some(&signer())).unwrap();
        verify_signature(&signed).unwrap();
    }
}

#[test]
fn json_input_can_be_partial() {
    let e: Edoc = serde_json::from_str(
        r#"{"header": {"from": {"organ_id": "000.00.00.H99"}, "to": [{"organ_id": "000.00.00.G22"}],
            "document_id": "000.00.00.H99,2025/03/14,1/UBND", "subject": "Thử"}}"#,
    )
    .unwrap();
    let bytes = build_edoc(&e, None).unwrap();
    let back = edoc_of(parse(&bytes, &limits()).unwrap());
    assert_eq!(back.header.subject, "Thử");
    assert_eq!(back.header.other_info.priority, "0");
}

/// Replaces the first occurrence of `from` after `after` with `to`.
fn replace_after(bytes: &[u8], after: &str, from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).unwrap();
    let start = text.find(after).expect(after);
    let at = start + text[start..].find(from).expect(from);
    let mut out = text[..at].to_owned();
    out.push_str(to);
    out.push_str(&text[at + from.len()..]);
    out.into_bytes()
}

#[test]
fn signed_package_verifies_and_detects_tampering() {
    let edoc = full_edoc(64 * 1024);
    let bytes = build_edoc(&edoc, Some(&signer())).unwrap();
    let v = verify_signature(&bytes).unwrap();
    assert_eq!(v.certificate_der, keys().cert.der());
    assert_eq!(v.signature_method, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
    let p = parse(&bytes, &limits()).unwrap();
    let sig = p.signature.unwrap();
    assert_eq!(sig.certificate_der.as_deref(), Some(keys().cert.der()));
    assert_eq!(sig.digest_method, "http://www.w3.org/2001/04/xmlenc#sha256");

    // One base64 character of the second attachment.
    let text = std::str::from_utf8(&bytes).unwrap();
    let last = text.rfind("<edXML:ContentTransferEncoded").unwrap();
    let mut tampered = bytes.clone();
    let i = last + text[last..].find('>').unwrap() + 100;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    match verify_signature(&tampered) {
        Err(EdxmlError::BadSignature(reason)) => assert!(reason.contains("digest"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // The subject.
    let tampered = replace_after(&bytes, "<edXML:Subject>", "V/v", "V/x");
    assert!(matches!(verify_signature(&tampered), Err(EdxmlError::BadSignature(_))));
    // The SignedInfo itself (a digest swapped for another valid one).
    let other = build_edoc(&full_edoc(10), Some(&signer())).unwrap();
    let digest = |b: &[u8]| {
        let t = std::str::from_utf8(b).unwrap();
        let s = t.find("<DigestValue>").unwrap() + 13;
        t[s..s + t[s..].find('<').unwrap()].to_owned()
    };
    let swapped = replace_after(&bytes, "<SignedInfo>", &digest(&bytes), &digest(&other));
    assert!(matches!(verify_signature(&swapped), Err(EdxmlError::BadSignature(_))));
    // Unsigned.
    assert!(matches!(verify_signature(&build_edoc(&edoc, None).unwrap()), Err(EdxmlError::Unsigned)));
}

fn xmlsec1() -> Option<&'static str> {
    let ok = Command::new("xmlsec1").arg("--version").output().is_ok_and(|o| o.status.success());
    if ok {
        return Some("xmlsec1");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("xmlsec1 is missing (apt-get install -y xmlsec1)");
    }
    eprintln!("notice: xmlsec1 not installed, independent signature checks skipped");
    None
}

fn xmlsec_verify(tool: &str, dir: &Path, file: &Path) -> std::process::Output {
    Command::new(tool)
        .args(["--verify", "--pubkey-cert-pem"])
        .arg(dir.join("cert.pem"))
        .args(["--enabled-reference-uris", "empty"])
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn xmlsec1_agrees() {
    let Some(tool) = xmlsec1() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), keys().cert.to_pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), vanban_pki::pem_block("PRIVATE KEY", &keys().key.to_pkcs8_der()))
        .unwrap();

    // Ours, checked by xmlsec1.
    let signed = build_edoc(&full_edoc(200 * 1024), Some(&signer())).unwrap();
    let file = dir.path().join("signed.edxml");
    std::fs::write(&file, &signed).unwrap();
    let out = xmlsec_verify(tool, dir.path(), &file);
    assert!(out.status.success(), "xmlsec1: {}", String::from_utf8_lossy(&out.stderr));
    let status = build_status(&status("03"), Some(&signer())).unwrap();
    std::fs::write(&file, &status).unwrap();
    let out = xmlsec_verify(tool, dir.path(), &file);
    assert!(out.status.success(), "xmlsec1 (status): {}", String::from_utf8_lossy(&out.stderr));
    let tampered = replace_after(&signed, "<edXML:Subject>", "V/v", "V/x");
    std::fs::write(&file, &tampered).unwrap();
    assert!(!xmlsec_verify(tool, dir.path(), &file).status.success());

    // Signed by xmlsec1 with rsa-sha1, sha1 and inclusive c14n 1.0; checked by us. Two templates:
    // a default-namespace Signature with only the enveloped transform (the document is then
    // canonicalised with inclusive c14n), and a `ds:`-prefixed one with an explicit inclusive
    // c14n transform (its SignedInfo inherits three namespace bindings).
    let unsigned = build_edoc(&full_edoc(100 * 1024), None).unwrap();
    let dsig = "http://www.w3.org/2000/09/xmldsig#";
    let c14n = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
    let templates = [
        format!(
            "<Signature xmlns=\"{dsig}\"><SignedInfo><CanonicalizationMethod Algorithm=\"{c14n}\"/>\
             <SignatureMethod Algorithm=\"{dsig}rsa-sha1\"/><Reference URI=\"\"><Transforms>\
             <Transform Algorithm=\"{dsig}enveloped-signature\"/></Transforms>\
             <DigestMethod Algorithm=\"{dsig}sha1\"/><DigestValue/></Reference></SignedInfo>\
             <SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature>"
        ),
        format!(
            "<ds:Signature xmlns:ds=\"{dsig}\">\n<ds:SignedInfo>\n<ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>\
             <ds:SignatureMethod Algorithm=\"{dsig}rsa-sha1\"/><ds:Reference URI=\"\"><ds:Transforms>\
             <ds:Transform Algorithm=\"{dsig}enveloped-signature\"/><ds:Transform Algorithm=\"{c14n}\"/></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"{dsig}sha1\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>\
             <ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"
        ),
    ];
    for (i, template) in templates.iter().enumerate() {
        let doc = replace_after(
            &unsigned,
            "</edXML:TraceHeaderList>",
            "</edXML:edXMLHeader>",
            &format!("{template}\n    </edXML:edXMLHeader>"),
        );
        let tpl = dir.path().join(format!("template{i}.xml"));
        let out_file = dir.path().join(format!("xmlsec{i}.edxml"));
        std::fs::write(&tpl, doc).unwrap();
        let keyspec = format!("{},{}", dir.path().join("key.pem").display(), dir.path().join("cert.pem").display());
        let out = Command::new(tool)
            .args(["--sign", "--privkey-pem", &keyspec, "--enabled-reference-uris", "empty", "--output"])
            .arg(&out_file)
            .arg(&tpl)
            .output()
            .unwrap();
        assert!(out.status.success(), "xmlsec1 --sign: {}", String::from_utf8_lossy(&out.stderr));
        let signed = std::fs::read(&out_file).unwrap();
        let v = verify_signature(&signed).unwrap_or_else(|e| panic!("template {i}: {e}"));
        assert_eq!(v.signature_method, "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
        assert_eq!(v.certificate_der, keys().cert.der());
        let p = parse(&signed, &limits()).unwrap();
        assert_eq!(p.signature.unwrap().c14n_method, c14n);
        let tampered = replace_after(&signed, "<edXML:Subject>", "V/v", "V/x");
        assert!(matches!(verify_signature(&tampered), Err(EdxmlError::BadSignature(_))), "template {i}");
    }
}

fn expect_err(result: Result<impl std::fmt::Debug, EdxmlError>, code: &str, element: Option<&str>) -> EdxmlError {
    let e = result.expect_err("should be refused");
    assert_eq!(e.code(), code, "{e}");
    if let Some(el) = element {
        assert_eq!(e.element(), Some(el), "{e}");
        assert!(e.message_vi().contains(el) || code != "edxml_missing_element", "{}", e.message_vi());
    }
    assert!(!e.message_vi().is_empty());
    e
}

fn remove_between(bytes: &[u8], start: &str, end: &str) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).unwrap();
    let s = text.find(start).expect(start);
    let e = s + text[s..].find(end).expect(end) + end.len();
    format!("{}{}", &text[..s], &text[e..]).into_bytes()
}

#[test]
fn malformed_packages_are_refused() {
    let edoc = full_edoc(1000);
    let good = build_edoc(&edoc, None).unwrap();
    let text = std::str::from_utf8(&good).unwrap();
    let l = limits();

    let wrong_ns = text.replace(NS, "http://www.e-doc.vn/Schema/");
    let e = expect_err(parse(wrong_ns.as_bytes(), &l), "edxml_wrong_namespace", None);
    assert!(matches!(e, EdxmlError::WrongNamespace(ref f) if f == "http://www.e-doc.vn/Schema/"));
    expect_err(read_routing(wrong_ns.as_bytes()), "edxml_wrong_namespace", None);

    let no_subject = remove_between(&good, "<edXML:Subject>", "</edXML:Subject>");
    expect_err(parse(&no_subject, &l), "edxml_missing_element", Some("MessageHeader/Subject"));

    let mut no_to = good.clone();
    while std::str::from_utf8(&no_to).unwrap().contains("<edXML:To>") {
        no_to = remove_between(&no_to, "<edXML:To>", "</edXML:To>");
    }
    expect_err(parse(&no_to, &l), "edxml_missing_element", Some("MessageHeader/To"));

    let mut long = edoc.clone();
    long.header.subject = "ă".repeat(501);
    let e = expect_err(build_edoc(&long, None), "edxml_too_long", Some("MessageHeader/Subject"));
    assert!(matches!(e, EdxmlError::TooLong { max: 500, len: 501, .. }));
    let long_text = replace_after(&good, "<edXML:Subject>", "V/v", &"x".repeat(501));
    expect_err(parse(&long_text, &l), "edxml_too_long", Some("MessageHeader/Subject"));
    let mut long = edoc.clone();
    long.header.code.notation = "A".repeat(31);
    expect_err(build_edoc(&long, None), "edxml_too_long", Some("MessageHeader/Code/CodeNotation"));

    let bad_b64 = replace_after(&good, "<edXML:ContentTransferEncoded", "UEsDB", "U*sDB");
    let e = expect_err(parse(&bad_b64, &l), "edxml_bad_base64", None);
    assert!(matches!(e, EdxmlError::BadBase64 { ref content_id } if content_id == "cid:1"));

    // 100 MB of zeros, deflated to ~100 KB.
    let bomb = {
        let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zw.start_file("bomb.doc", opts).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..100 {
            std::io::Write::write_all(&mut zw, &zeros).unwrap();
        }
        zw.finish().unwrap().into_inner()
    };
    use base64::Engine as _;
    let bomb_b64 = base64::engine::general_purpose::STANDARD.encode(&bomb);
    let start = text.find("<edXML:ContentTransferEncoded").unwrap();
    let open_end = start + text[start..].find('>').unwrap() + 1;
    let close = open_end + text[open_end..].find('<').unwrap();
    let bombed = format!("{}{}{}", &text[..open_end], bomb_b64, &text[close..]);
    let e = expect_err(parse(bombed.as_bytes(), &l), "edxml_zip_bomb", None);
    assert!(matches!(e, EdxmlError::ZipBomb { ref content_id } if content_id == "cid:1"));
    // With a 200 MB size limit the ratio check (about 1000:1 here) still refuses it.
    let big = Limits { max_attachment_bytes: 200 << 20, ..Limits::default() };
    expect_err(parse(bombed.as_bytes(), &big), "edxml_zip_bomb", None);

    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&lol9;</edXML>"#;
    expect_err(parse(laughs.as_bytes(), &l), "edxml_doctype_forbidden", None);
    expect_err(verify_signature(laughs.as_bytes()), "edxml_doctype_forbidden", None);
    expect_err(read_routing(laughs.as_bytes()), "edxml_doctype_forbidden", None);
    // An entity reference without a DOCTYPE is simply undefined.
    let undefined = replace_after(&good, "<edXML:Subject>", "V/v", "&lol9;");
    expect_err(parse(&undefined, &l), "edxml_malformed", None);

    let mut dup = edoc.clone();
    dup.header.to.push(dup.header.to[0].clone());
    let e = expect_err(build_edoc(&dup, None), "edxml_duplicate_recipient", Some("MessageHeader/To/OrganId"));
    assert!(matches!(e, EdxmlError::DuplicateRecipient(ref c) if c == "000.00.01.H99"));
    let first_to = {
        let s = text.find("<edXML:To>").unwrap();
        let e = s + text[s..].find("</edXML:To>").unwrap() + "</edXML:To>".len();
        text[s..e].to_owned()
    };
    let dup_text = text.replacen(&first_to, &format!("{first_to}{first_to}"), 1);
    expect_err(parse(dup_text.as_bytes(), &l), "edxml_duplicate_recipient", None);

    expect_err(build_status(&status("99"), None), "edxml_invalid", Some("MessageHeader/StatusCode"));
    expect_err(build_status(&status("1"), None), "edxml_invalid", Some("MessageHeader/StatusCode"));
    let st = String::from_utf8(build_status(&status("05"), None).unwrap()).unwrap();
    let st99 = st.replace("<edXML:StatusCode>05<", "<edXML:StatusCode>99<");
    expect_err(parse(st99.as_bytes(), &l), "edxml_invalid", Some("MessageHeader/StatusCode"));

    let truncated = &good[..good.len() / 2];
    let e = expect_err(parse(truncated, &l), "edxml_malformed", None);
    assert!(e.to_string().contains("line"), "{e}");
    expect_err(verify_signature(&build_edoc(&edoc, Some(&signer())).unwrap()[..3000]), "edxml_malformed", None);
    expect_err(parse(b"%PDF-1.7 not xml", &l), "edxml_not_xml", None);
    expect_err(parse(b"<a><b></a>", &l), "edxml_malformed", None);

    let small = Limits { max_package_bytes: 1000, ..Limits::default() };
    expect_err(parse(&good, &small), "edxml_too_large", None);
}

/// Counts what is read through it.
struct Counting<'a> {
    inner: &'a [u8],
    read: usize,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n;
        Ok(n)
    }
}

#[test]
fn routing_reads_only_the_header() {
    let edoc = full_edoc(5 << 20);
    let bytes = build_edoc(&edoc, Some(&signer())).unwrap();
    assert!(bytes.len() > 5 << 20);
    let mut counting = Counting { inner: &bytes, read: 0 };
    let r = read_routing(std::io::BufReader::with_capacity(8 * 1024, &mut counting)).unwrap();
    assert!(counting.read < 64 * 1024, "read {} bytes", counting.read);
    assert_eq!(r.kind, PackageKind::Edoc);
    assert_eq!(r.from, "000.00.00.H99");
    assert_eq!(r.to, vec!["000.00.01.H99".to_owned(), "000.00.00.G22".to_owned()]);
    assert_eq!(r.document_id, edoc.header.document_id);
    assert_eq!(r.business, Some(BusinessDocType::New));
    assert_eq!(r.status_code, None);
    // Junk before the declaration is skipped here too.
    let mut junk = b"1212".to_vec();
    junk.extend_from_slice(&bytes[..40_000]);
    assert_eq!(read_routing(junk.as_slice()).unwrap(), r);
}
