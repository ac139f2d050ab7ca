//! Uploaded drafts: DOCX and ODT converted by LibreOffice headless, and the files that must be
//! refused with a clear reason. Fixtures in `tests/fixtures/`: a công văn typed as DOCX (made by
//! bench/docx_from_spec.py), the same as ODT (saved by LibreOffice), the DOCX encrypted with a
//! password (msoffcrypto-tool), a DOCX cut short, and a text file named .docx.

use std::path::Path;
use std::time::Duration;

use vanban_render::office::{self, OfficeKind};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

/// LibreOffice must be there in CI; elsewhere its absence skips the conversions, loudly.
fn have_libreoffice() -> bool {
    let ok = office::converter_available();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "LibreOffice is not installed; CI must install libreoffice-writer-nogui"
        );
        eprintln!("skipped: LibreOffice (soffice) is not installed");
    }
    ok
}

#[test]
fn files_are_recognised_by_their_content() {
    assert_eq!(office::sniff(&fixture("cong_van.docx")).unwrap(), OfficeKind::Docx);
    assert_eq!(office::sniff(&fixture("cong_van.odt")).unwrap(), OfficeKind::Odt);
    assert_eq!(office::sniff(&fixture("protected.docx")).unwrap_err().code(), "document_encrypted");
    assert_eq!(office::sniff(&fixture("damaged.docx")).unwrap_err().code(), "not_an_office_document");
    assert_eq!(office::sniff(&fixture("plain.docx")).unwrap_err().code(), "not_an_office_document");
}

#[test]
fn docx_and_odt_convert_to_checked_pdfs() {
    if !have_libreoffice() {
        return;
    }
    for name in ["cong_van.docx", "cong_van.odt"] {
        let c = office::convert(&fixture(name), Duration::from_secs(120)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(c.pdf.starts_with(b"%PDF-"), "{name}");
        assert!(c.pages >= 1, "{name}");
        // The fixture is A4 in Times New Roman (Liberation Serif where TNR is missing): no issue.
        assert!(c.issues.is_empty(), "{name}: {:?}", c.issues);
    }
    // Refused before LibreOffice is even started.
    for (name, code) in [("protected.docx", "document_encrypted"), ("damaged.docx", "not_an_office_document")] {
        assert_eq!(office::convert(&fixture(name), Duration::from_secs(60)).unwrap_err().code(), code, "{name}");
    }
}

#[test]
fn layout_checks_name_what_is_wrong() {
    // A PDF in Letter size with Helvetica: both rules reported, in Vietnamese.
    let pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Resources<</Font<</F1 4 0 R>>>>>>endobj\n4 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
    let (pages, issues) = office::check_layout(pdf).unwrap();
    assert_eq!(pages, 1);
    let codes: Vec<&str> = issues.iter().map(|i| i.code).collect();
    assert_eq!(codes, ["page_not_a4", "font_not_times"]);
    assert!(issues[0].message_vi.contains("A4") && issues[1].message_vi.contains("Helvetica"));
}
