//! Signing and validation end to end on a real rendered document (revision 0 from part 2):
//! both Decree 30 signatures, every PAdES level, tampering and bad input.

use crate::common;

use common::{FIXTURE, World, seal_image};
use vanban_pades::verify::{Modification, Verdict, verify_pdf};
use vanban_pades::{PadesError, SignOptions, Visual};
use vanban_pki::KeyAlgorithm;

#[test]
fn both_signatures_validate_and_the_number_fill_is_permitted() {
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa3072] {
        let w = World::new(alg);
        let one = w.sign_signer(FIXTURE);
        assert!(one.starts_with(FIXTURE), "revision 0 is kept byte for byte");
        let two = w.sign_agency(&one);
        assert!(two.starts_with(&one), "the agency signature is an incremental update");
        if let Ok(dir) = std::env::var("VANBAN_PADES_DUMP") {
            std::fs::write(format!("{dir}/two-{}.pdf", alg.as_str()), &two).unwrap();
            std::fs::write(format!("{dir}/one-{}.pdf", alg.as_str()), &one).unwrap();
            std::fs::write(format!("{dir}/root-{}.pem", alg.as_str()), w.pki.root.cert.to_pem()).unwrap();
        }
        let r = verify_pdf(&two, &w.policy()).unwrap();
        assert_eq!(r.signatures.len(), 2, "{alg:?}");
        assert_eq!(r.verdict, Verdict::Valid, "{alg:?}: {:#?}", r);
        let first = &r.signatures[0];
        assert_eq!(first.field, "vb_signature_signer");
        assert_eq!(first.docmdp, Some(2));
        assert_eq!(first.modification, Modification::FormFilling, "{:?}", first.later_changes);
        assert_eq!(first.reason, "ok_permitted_changes");
        assert!(first.timestamp.as_ref().is_some_and(|t| t.trusted), "B-T: {:?}", first.timestamp);
        assert_eq!(first.signer.as_ref().and_then(|s| s.uid.clone()).as_deref(), Some("CCCD:001090012345"));
        let second = &r.signatures[1];
        assert!(second.covers_whole_file);
        assert_eq!(second.modification, Modification::None);
        assert_eq!(second.reason, "ok");
    }
}

/// The issuing desk's check: the leader's signature keeps the verdict it had when it was
/// made, and only the agency's signature and the changes after the leader's are checked.
#[test]
fn a_prefix_validated_earlier_is_not_checked_again_but_what_follows_is() {
    use sha2::Digest as _;
    use vanban_pades::verify::{Earlier, Policy};
    let w = World::new(KeyAlgorithm::Rsa2048);
    let one = w.sign_signer(FIXTURE);
    let two = w.sign_agency(&one);
    let earlier = |verdict: Verdict, sha: String| {
        let verdicts = [("vb_signature_signer".to_owned(), verdict)].into_iter().collect();
        Some(Earlier { len: one.len(), sha256: sha, verdicts })
    };
    let sha = hex::encode(sha2::Sha256::digest(&one));
    let with = |e: Option<Earlier>| Policy { earlier: e, ..w.policy() };
    let full = verify_pdf(&two, &w.policy()).unwrap();
    let quick = verify_pdf(&two, &with(earlier(Verdict::Valid, sha.clone()))).unwrap();
    assert_eq!(quick.verdict, Verdict::Valid, "{quick:#?}");
    assert!(quick.signatures[0].validated_earlier && !quick.signatures[1].validated_earlier);
    assert!(!full.signatures.iter().any(|s| s.validated_earlier));
    for (q, f) in quick.signatures.iter().zip(&full.signatures) {
        assert_eq!(
            (q.field.as_str(), q.verdict, q.reason, q.modification),
            (f.field.as_str(), f.verdict, f.reason, f.modification)
        );
    }
    // The verdict it had stands.
    let r = verify_pdf(&two, &with(earlier(Verdict::Indeterminate, sha.clone()))).unwrap();
    assert_eq!((r.verdict, r.signatures[0].reason), (Verdict::Indeterminate, "earlier_indeterminate"));
    let r = verify_pdf(&two, &with(earlier(Verdict::Invalid, sha.clone()))).unwrap();
    assert_eq!((r.verdict, r.signatures[0].reason), (Verdict::Invalid, "earlier_invalid"));
    // Bytes that are not the ones validated before are checked from scratch.
    let r = verify_pdf(&two, &with(earlier(Verdict::Valid, "00".repeat(32)))).unwrap();
    assert!(!r.signatures[0].validated_earlier);
    assert_eq!(r.verdict, Verdict::Valid);
    let mut forged = one.clone();
    let at = forged.windows(6).position(|x| x == b"stream").unwrap() + 20;
    forged[at] ^= 0x01;
    let forged_two = w.sign_agency(&forged);
    let r = verify_pdf(&forged_two, &with(earlier(Verdict::Valid, sha.clone()))).unwrap();
    assert!(!r.signatures[0].validated_earlier);
    assert_eq!((r.verdict, r.signatures[0].reason), (Verdict::Invalid, "digest_mismatch"));
    // What came after the validated prefix is still analysed: a page added breaks it.
    let attacked = vanban_pades::pdf::testing::append_blank_page(&one).unwrap();
    let r = verify_pdf(&attacked, &with(earlier(Verdict::Valid, sha))).unwrap();
    assert!(r.signatures[0].validated_earlier);
    assert_eq!((r.verdict, r.signatures[0].reason), (Verdict::Invalid, "disallowed_changes"));
}

#[test]
fn untrusted_root_is_indeterminate_not_valid() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let signed = w.sign_signer(FIXTURE);
    let r = verify_pdf(&signed, &vanban_pades::verify::Policy::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Indeterminate);
    assert_eq!(r.signatures[0].reason, "untrusted_chain");
}

#[test]
fn a_byte_changed_inside_the_signed_range_is_detected() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let mut signed = w.sign_signer(FIXTURE);
    // A byte of page content (inside revision 0, far from the signature).
    let at = signed.windows(6).position(|x| x == b"stream").unwrap() + 20;
    signed[at] ^= 0x01;
    let r = verify_pdf(&signed, &w.policy()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.signatures[0].reason, "digest_mismatch");
}

#[test]
fn an_added_page_after_signing_is_a_disallowed_change() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let signed = w.sign_signer(FIXTURE);
    let attacked = vanban_pades::pdf::testing::append_blank_page(&signed).unwrap();
    let r = verify_pdf(&attacked, &w.policy()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid, "{r:#?}");
    assert_eq!(r.signatures[0].reason, "disallowed_changes");
    assert_eq!(r.signatures[0].modification, Modification::Other);
}

#[test]
fn a_replaced_catalog_is_a_disallowed_change() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let signed = w.sign_signer(FIXTURE);
    let attacked = vanban_pades::pdf::testing::replace_catalog(&signed).unwrap();
    let r = verify_pdf(&attacked, &w.policy()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid, "{r:#?}");
    assert_eq!(r.signatures[0].reason, "disallowed_changes");
}

#[test]
fn a_swapped_signature_image_is_a_disallowed_change() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let signed = w.sign_signer(FIXTURE);
    let attacked =
        vanban_pades::pdf::testing::replace_signer_image(&signed, "vb_signature_signer", &seal_image()).unwrap();
    let r = verify_pdf(&attacked, &w.policy()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid, "{r:#?}");
    assert_eq!(r.signatures[0].reason, "disallowed_changes");
}

#[test]
fn garbage_appended_after_the_last_signature_is_reported() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let mut signed = w.sign_signer(FIXTURE);
    signed.extend_from_slice(b"\n% appended text that no signature covers\n");
    let r = verify_pdf(&signed, &w.policy()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.reason, "trailing_data");
}

#[test]
fn a_replaced_certificate_is_detected() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let signed = w.sign_signer(FIXTURE);
    // Swap the signer's certificate in the CMS for another one of the same size class.
    let other = World::new(KeyAlgorithm::EcdsaP256);
    let from = hex::encode_upper(w.person.0.der());
    let to = hex::encode_upper(other.person.0.der());
    let text = signed.clone();
    let at = text.windows(from.len()).position(|x| x == from.as_bytes()).expect("certificate in /Contents");
    let mut attacked = text.clone();
    let n = from.len().min(to.len());
    attacked[at..at + n].copy_from_slice(&to.as_bytes()[..n]);
    let r = verify_pdf(&attacked, &w.policy()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid, "{r:#?}");
}

#[test]
fn levels_b_lt_and_b_lta_add_validation_data_and_a_document_timestamp() {
    let w = World::new(KeyAlgorithm::Rsa2048);
    let signed = w.sign_agency(&w.sign_signer(FIXTURE));
    let crl = w.pki.issuing.crl(&[], w.now, w.now + chrono::Duration::days(7), 1).unwrap();
    let root_crl = w.pki.root.crl(&[], w.now, w.now + chrono::Duration::days(7), 1).unwrap();
    let certs: Vec<Vec<u8>> = w.chain().iter().map(|c| c.der().to_vec()).collect();
    let lt = vanban_pades::add_dss(&signed, &certs, &[], &[crl, root_crl]).unwrap();
    let lta = vanban_pades::timestamp_document(&lt, &w.tsa(), w.now).unwrap();
    let mut policy = w.policy();
    policy.require_revocation = true;
    let r = verify_pdf(&lta, &policy).unwrap();
    assert_eq!(r.signatures.len(), 3);
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
    assert_eq!(r.signatures[2].kind, "document_timestamp");
    for s in &r.signatures[..2] {
        assert!(s.revocation.starts_with("good"), "{}", s.revocation);
    }
}

#[test]
fn the_agency_stamp_goes_top_right_without_an_image() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let mut opts = SignOptions::new(
        "vb_agency_stamp",
        Visual::Stamp { lines: vec!["125/UBND-VP".into(), vanban_pades::iso_vn(w.now)] },
        w.now,
    );
    opts.font = Some(vanban_pades::Font::load(None).unwrap());
    let chain = w.chain();
    let id = vanban_pades::Identity { key: &w.org.1, cert: &w.org.0, chain: &chain };
    let signed = vanban_pades::sign(FIXTURE, &opts, &id, None).unwrap();
    let r = verify_pdf(&signed, &w.policy()).unwrap();
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
    let file = vanban_pades::pdf::PdfFile::parse(&signed).unwrap();
    let f = vanban_pades::sign::fields(&file, file.revisions() - 1).unwrap();
    let stamp = f.iter().find(|f| f.name == "vb_agency_stamp").unwrap();
    assert!(stamp.rect[2] > 480.0 && stamp.rect[3] > 780.0, "top right: {:?}", stamp.rect);
}

#[test]
fn signing_twice_the_same_field_is_refused() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let once = w.sign_signer(FIXTURE);
    let opts = SignOptions::new("vb_signature_signer", Visual::Invisible, w.now);
    let chain = w.chain();
    let id = vanban_pades::Identity { key: &w.person.1, cert: &w.person.0, chain: &chain };
    let e = vanban_pades::sign(&once, &opts, &id, None).unwrap_err();
    assert_eq!(e.code(), "already_signed");
}

#[test]
fn bad_input_gets_a_clear_error() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let p = w.policy();
    assert_eq!(verify_pdf(b"hello, not a pdf", &p).unwrap_err().code(), "not_pdf");
    let signed = w.sign_signer(FIXTURE);
    let truncated = &signed[..signed.len() / 2];
    assert_eq!(verify_pdf(truncated, &p).unwrap_err().code(), "malformed_pdf");
    let r = verify_pdf(FIXTURE, &p).unwrap();
    assert_eq!(r.reason, "no_signatures");
    assert_eq!(r.verdict, Verdict::Indeterminate);
    let huge = vec![b' '; vanban_pades::sign::MAX_PDF_BYTES + 1];
    assert!(matches!(verify_pdf(&huge, &p), Err(PadesError::TooLarge { .. })));
    // Random bytes after a PDF header never panic.
    let mut junk = b"%PDF-1.7\n".to_vec();
    let mut x: u32 = 12345;
    for _ in 0..5000 {
        x = x.wrapping_mul(1103515245).wrapping_add(12345);
        junk.push((x >> 16) as u8);
    }
    junk.extend_from_slice(b"\nstartxref\n9\n%%EOF\n");
    assert!(verify_pdf(&junk, &p).is_err());
}

#[test]
fn two_phase_signing_gives_the_same_result_as_in_process() {
    let w = World::new(KeyAlgorithm::Rsa2048);
    let chain = w.chain();
    let mut opts = SignOptions::new("vb_signature_signer", Visual::SignerImage(common::signature_image()), w.now);
    opts.certify = true;
    let reserve = vanban_pades::reserve_for(KeyAlgorithm::Rsa2048, &w.person.0, &chain, None).unwrap();
    let prepared = vanban_pades::prepare(FIXTURE, &opts, reserve).unwrap();
    // Stored and read back between the phases.
    let stored = prepared.pdf().to_vec();
    let back = vanban_pades::Prepared::from_pdf(stored).unwrap();
    assert_eq!(back.digest, prepared.digest);
    let attrs = vanban_pki::SignedAttrs::pades(&back.digest, &w.person.0).unwrap();
    let tbs = attrs.to_be_signed();
    // The "token" signs the digest somewhere else.
    let value = vanban_pki::RawSigner::sign(&w.person.1, &tbs).unwrap();
    let cms = vanban_pades::finish_cms(&attrs, KeyAlgorithm::Rsa2048, &value, &w.person.0, &chain, None).unwrap();
    let signed = back.embed(&cms).unwrap();
    let r = verify_pdf(&signed, &w.policy()).unwrap();
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
}

/// What a PDF viewer shows: poppler renders page 2 with the blue signature in the signer's box
/// and the red seal over its left third.
#[test]
fn viewers_show_the_blue_signature_and_the_red_seal_over_its_left_third() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if std::process::Command::new("pdftoppm").arg("-v").output().is_err() {
        assert!(!ci, "CI=true but pdftoppm (poppler-utils) is missing");
        eprintln!("skipping: pdftoppm missing");
        return;
    }
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let two = w.sign_agency(&w.sign_signer(FIXTURE));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("two.pdf"), &two).unwrap();
    let dpi = 72.0; // one pixel per point
    let out = std::process::Command::new("pdftoppm")
        .args(["-r", "72", "-f", "2", "-l", "2", "-singlefile", "two.pdf", "page"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ppm = std::fs::read(dir.path().join("page.ppm")).unwrap();
    // P6 header: "P6\nW H\n255\n".
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while ppm[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !ppm[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&ppm[start..i]).into_owned());
    }
    let (width, height): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = &ppm[i + 1..];
    let file = vanban_pades::pdf::PdfFile::parse(&two).unwrap();
    let fields = vanban_pades::sign::fields(&file, file.revisions() - 1).unwrap();
    let rect = |name: &str| fields.iter().find(|f| f.name == name).unwrap().rect;
    let count = |r: [f64; 4], pred: &dyn Fn(u8, u8, u8) -> bool| {
        let mut n = 0;
        let to_px = |v: f64| (v * dpi / 72.0) as usize;
        for y in to_px(841.89 - r[3])..to_px(841.89 - r[1]).min(height) {
            for x in to_px(r[0])..to_px(r[2]).min(width) {
                let p = &pixels[(y * width + x) * 3..][..3];
                if pred(p[0], p[1], p[2]) {
                    n += 1;
                }
            }
        }
        n
    };
    let blue = |r: u8, g: u8, b: u8| b > 120 && r < 120 && g < 140;
    let red = |r: u8, g: u8, b: u8| r > 150 && g < 100 && b < 100;
    let signer = rect("vb_signature_signer");
    let seal = rect("vb_signature_agency");
    assert!(count(signer, &blue) > 50, "blue signature strokes in the signer's box");
    assert!(count(seal, &red) > 50, "red seal in the agency's box");
    // The seal overlaps the signer's box on its left, by about a third.
    let overlap = (seal[2].min(signer[2]) - seal[0].max(signer[0])) / (signer[2] - signer[0]);
    assert!((0.25..0.45).contains(&overlap) && seal[0] < signer[0], "overlap {overlap}");
}

/// The attacks found in review (tests/fixtures/attacks/README.md): none of them validates.
#[test]
fn reviewed_attacks_are_caught() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/attacks");
    let root = vanban_pki::Cert::from_pem(&std::fs::read_to_string(format!("{dir}/root.pem")).unwrap()).unwrap();
    let when = chrono::DateTime::parse_from_rfc3339("2026-11-30T06:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let policy = vanban_pades::verify::Policy {
        trust: vanban_pki::TrustStore::new(root),
        now: Some(when),
        ..Default::default()
    };
    let signed = std::fs::read(format!("{dir}/signed.pdf")).unwrap();
    assert_eq!(verify_pdf(&signed, &policy).unwrap().verdict, Verdict::Valid, "the untouched file is valid");
    for name in ["info", "xs", "dup", "seal_ap_only", "seal_moved_sig"] {
        let pdf = std::fs::read(format!("{dir}/{name}.pdf")).unwrap();
        match verify_pdf(&pdf, &policy) {
            Ok(r) => assert_eq!(r.verdict, Verdict::Invalid, "{name}: {r:#?}"),
            Err(e) => assert_eq!(e.code(), "malformed_pdf", "{name}: {e}"),
        }
    }
    for name in ["predictor", "ovf", "ovf2"] {
        let pdf = std::fs::read(format!("{dir}/{name}.pdf")).unwrap();
        assert!(verify_pdf(&pdf, &policy).is_err(), "{name}");
    }
}

#[test]
fn a_document_timestamp_alone_is_not_a_signature() {
    let w = World::new(KeyAlgorithm::EcdsaP256);
    let stamped = vanban_pades::timestamp_document(FIXTURE, &w.tsa(), w.now).unwrap();
    let r = verify_pdf(&stamped, &w.policy()).unwrap();
    assert_eq!((r.verdict, r.reason), (Verdict::Indeterminate, "no_signatures"));
}
