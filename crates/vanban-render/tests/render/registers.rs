//! Registers of Decree 30, Appendix IV, checked from the outside: the PDF read back with
//! poppler (pdftotext, pdfinfo), the XLSX opened as the ZIP of XML parts it is.

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;
use vanban_render::registers::EMPTY_REGISTER_VI;
use vanban_render::{RegisterKind, RegisterReport, register_pdf, register_xlsx};

const KINDS: [RegisterKind; 3] = [RegisterKind::Outgoing, RegisterKind::Incoming, RegisterKind::Tracking];

/// A subject that would break or run markup if it were ever parsed as typst.
const INJECTION: &str = r#"#set text(red) ] " \ */ // $x$"#;

/// poppler-utils must be there in CI; elsewhere a missing tool skips the test, loudly.
fn have_poppler() -> bool {
    let ok = Command::new("pdftotext").arg("-v").output().is_ok();
    if !ok {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "poppler-utils is not installed; CI must install it");
        eprintln!("skipped: poppler-utils (pdftotext) is not installed");
    }
    ok
}

fn run(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(o.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Whitespace (spaces, line breaks) collapsed to single spaces, NFC.
fn collapse(s: &str) -> String {
    nfc(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Whether the words of `phrase` occur in `text` in their order (a header wrapped inside its
/// cell comes out of `pdftotext -layout` interleaved with its neighbours, but in order).
fn words_in_order(text: &str, phrase: &str) -> bool {
    let mut rest = text;
    for w in nfc(phrase).split_whitespace() {
        match rest.find(w) {
            Some(i) => rest = &rest[i + w.len()..],
            None => return false,
        }
    }
    true
}

fn pdf_text(pdf: &[u8]) -> (String, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.pdf");
    std::fs::write(&path, pdf).unwrap();
    let p = path.to_str().unwrap();
    let text = run("pdftotext", &["-layout", p, "-"]);
    (text, pages(&path))
}

fn pages(path: &Path) -> usize {
    let info = run("pdfinfo", &[path.to_str().unwrap()]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in pdfinfo output: {info}"))
}

/// A row of `kind` whose subject (the widest column) is `subject`, every other cell short.
fn row(kind: RegisterKind, n: usize, subject: &str) -> Vec<String> {
    let s = |x: &str| x.to_owned();
    match kind {
        RegisterKind::Outgoing => vec![
            format!("{n}/QĐ-UBND"),
            s("05/11/2026"),
            subject.to_owned(),
            s("Nguyễn Văn An"),
            s("Sở Tài chính"),
            s("VT, KT"),
            s("03"),
            s("06/11/2026"),
            s(""),
            s(""),
        ],
        RegisterKind::Incoming => vec![
            s("05/11/2026"),
            n.to_string(),
            s("Bộ Nội vụ"),
            s("125/BNV-VP"),
            s("01/11/2026"),
            subject.to_owned(),
            s("Phòng Hành chính"),
            s("06/11/2026"),
            s(""),
            s(""),
        ],
        RegisterKind::Tracking => vec![
            n.to_string(),
            subject.to_owned(),
            s("Phòng Hành chính"),
            s("20/11/2026"),
            s("Đang xử lý"),
            s(""),
            s(""),
        ],
    }
}

fn report(kind: RegisterKind, rows: Vec<Vec<String>>) -> RegisterReport {
    RegisterReport {
        kind,
        agency_name: "Ủy ban nhân dân tỉnh Bình An".into(),
        parent_name: Some("Chính phủ".into()),
        register_name: "Sổ văn bản hành chính năm 2026".into(),
        from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        rows,
        generated_at: "30/11/2026 14:05".into(),
    }
}

/// A subject long enough to wrap inside its cell.
const SUBJECT: &str = "Quyết định về việc phê duyệt kế hoạch cải cách hành chính";
/// A subject short enough to stay on one line.
const SHORT_SUBJECT: &str = "Về việc tăng cường kỷ luật";

#[test]
fn the_kinds_have_the_decree_columns() {
    assert_eq!(RegisterKind::Outgoing.columns().len(), 10);
    assert_eq!(RegisterKind::Incoming.columns().len(), 10);
    assert_eq!(RegisterKind::Tracking.columns().len(), 7);
    assert_eq!(RegisterKind::Outgoing.columns()[2], "Tên loại và trích yếu nội dung văn bản");
    assert_eq!(RegisterKind::Incoming.columns()[1], "Số đến");
    assert_eq!(RegisterKind::Tracking.columns()[1], "Tên loại, số, ký hiệu, ngày tháng văn bản và cơ quan ban hành");
    assert_eq!(RegisterKind::Tracking.title_vi(), "SỔ THEO DÕI GIẢI QUYẾT VĂN BẢN ĐẾN");
    for kind in KINDS {
        for c in kind.columns().iter().chain([&kind.title_vi()]) {
            assert_eq!(nfc(c), *c, "{c} is not NFC");
        }
    }
}

#[test]
fn each_register_prints_its_title_columns_rows_and_period() {
    if !have_poppler() {
        return;
    }
    for kind in KINDS {
        // A decomposed (NFD) subject is printed as NFC.
        let nfd: String = SUBJECT.nfd().collect();
        let rows = vec![row(kind, 1, &nfd), row(kind, 2, SHORT_SUBJECT)];
        let pdf = register_pdf(&report(kind, rows)).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert!(pdf.starts_with(b"%PDF"), "{kind:?}");
        let (text, pages) = pdf_text(&pdf);
        let flat = collapse(&text);
        assert_eq!(pages, 1, "{kind:?}");
        assert!(flat.contains(kind.title_vi()), "{kind:?}: no title in {flat}");
        for c in kind.columns() {
            assert!(words_in_order(&flat, c), "{kind:?}: no column {c:?} in {flat}");
        }
        assert!(words_in_order(&flat, SUBJECT), "{kind:?}: no subject in {flat}");
        assert!(flat.contains(SHORT_SUBJECT), "{kind:?}: no subject in {flat}");
        assert!(flat.contains("Từ ngày 01/01/2026 đến ngày 30/11/2026"), "{kind:?}: no period in {flat}");
        assert!(flat.contains("Sổ văn bản hành chính năm 2026"), "{kind:?}: {flat}");
        assert!(flat.contains("ỦY BAN NHÂN DÂN TỈNH BÌNH AN"), "{kind:?}: no agency in {flat}");
        assert!(flat.contains("Ngày in: 30/11/2026 14:05"), "{kind:?}: no footer in {flat}");
        assert!(flat.contains("Trang 1/1"), "{kind:?}: no page number in {flat}");
        assert!(!flat.contains(EMPTY_REGISTER_VI), "{kind:?}");
    }
}

#[test]
fn an_empty_register_says_so_under_the_header() {
    if !have_poppler() {
        return;
    }
    for kind in KINDS {
        let pdf = register_pdf(&report(kind, Vec::new())).unwrap();
        let (text, pages) = pdf_text(&pdf);
        let flat = collapse(&text);
        assert_eq!(pages, 1);
        assert!(flat.contains(EMPTY_REGISTER_VI), "{kind:?}: {flat}");
        let header_end = kind.columns().iter().filter_map(|c| flat.find(c.split(' ').next_back().unwrap())).max();
        assert!(flat.find(EMPTY_REGISTER_VI) > header_end, "{kind:?}: the message is not under the header");
    }
}

#[test]
fn five_thousand_entries_render_on_many_pages_with_the_header_repeated() {
    if !have_poppler() {
        return;
    }
    let rows: Vec<Vec<String>> =
        (1..=5000).map(|n| row(RegisterKind::Outgoing, n, &format!("{SUBJECT} (lần {n})"))).collect();
    let started = Instant::now();
    let pdf = register_pdf(&report(RegisterKind::Outgoing, rows)).unwrap();
    let elapsed = started.elapsed();
    let (text, pages) = pdf_text(&pdf);
    println!("5,000-row outgoing register: {pages} pages, {} KiB, rendered in {elapsed:.2?}", pdf.len() / 1024);
    assert!(pages > 1);
    let pages_text: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    assert_eq!(pages_text.len(), pages);
    // The header row repeats on every page; the footer numbers the pages.
    for (i, page) in pages_text.iter().enumerate() {
        let flat = collapse(page);
        assert!(words_in_order(&flat, "Tên loại và trích yếu nội dung văn bản"), "page {}: no header", i + 1);
        assert!(flat.contains(&format!("Trang {}/{pages}", i + 1)), "page {}: no page number", i + 1);
    }
    let last = collapse(pages_text.last().unwrap());
    assert!(last.contains("5000/QĐ-UBND") && words_in_order(&last, "hành chính (lần 5000)"), "{last}");
}

#[test]
fn markup_in_the_data_is_printed_literally() {
    if !have_poppler() {
        return;
    }
    let mut r = report(RegisterKind::Outgoing, vec![row(RegisterKind::Outgoing, 7, INJECTION)]);
    r.agency_name = "Sở #strong[Nội vụ]".into();
    r.register_name = r#"Sổ "A" ] #pagebreak()"#.into();
    let pdf = register_pdf(&r).unwrap();
    let (text, pages) = pdf_text(&pdf);
    let flat = collapse(&text);
    assert_eq!(pages, 1, "{flat}");
    assert!(flat.contains(INJECTION), "{flat}");
    assert!(flat.contains("SỞ #STRONG[NỘI VỤ]"), "{flat}");
    assert!(flat.contains(r#"Sổ "A" ] #pagebreak()"#), "{flat}");
}

#[test]
fn a_row_with_the_wrong_number_of_cells_is_refused() {
    for kind in KINDS {
        let mut short = row(kind, 1, SUBJECT);
        short.pop();
        let r = report(kind, vec![row(kind, 1, SUBJECT), short]);
        let e = register_pdf(&r).unwrap_err();
        assert_eq!(e.code(), "invalid_register", "{kind:?}");
        assert!(e.to_string().contains("row 2"), "{e}");
        assert_eq!(register_xlsx(&r).unwrap_err().code(), "invalid_register");
        let mut long = row(kind, 1, SUBJECT);
        long.push("thừa".into());
        assert_eq!(register_xlsx(&report(kind, vec![long])).unwrap_err().code(), "invalid_register");
    }
    let mut reversed = report(RegisterKind::Incoming, Vec::new());
    std::mem::swap(&mut reversed.from, &mut reversed.to);
    assert_eq!(register_pdf(&reversed).unwrap_err().code(), "invalid_register");
}

fn zip_part(xlsx: &[u8], name: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut part = archive.by_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut s = String::new();
    part.read_to_string(&mut s).unwrap();
    s
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// The XML of one cell of a worksheet.
fn cell<'a>(sheet: &'a str, reference: &str) -> &'a str {
    let start = sheet.find(&format!(r#"<c r="{reference}""#)).unwrap_or_else(|| panic!("no cell {reference}"));
    let len = sheet[start..].find("</c>").unwrap_or_else(|| panic!("cell {reference} is not closed"));
    &sheet[start..start + len]
}

#[test]
fn each_register_exports_to_xlsx() {
    for kind in KINDS {
        let nfd: String = SUBJECT.nfd().collect();
        let rows = vec![row(kind, 1, &nfd), row(kind, 2, "Báo cáo <tổng hợp> & \"đề xuất\"")];
        let n = rows.len();
        let xlsx = register_xlsx(&report(kind, rows)).unwrap();
        assert!(xlsx.starts_with(b"PK"), "{kind:?}");

        let workbook = zip_part(&xlsx, "xl/workbook.xml");
        let sheet_name = match kind {
            RegisterKind::Outgoing => "Sổ đi",
            RegisterKind::Incoming => "Sổ đến",
            RegisterKind::Tracking => "Theo dõi",
        };
        assert!(workbook.contains(&format!("name=\"{sheet_name}\"")), "{kind:?}: {workbook}");

        let sheet = zip_part(&xlsx, "xl/worksheets/sheet1.xml");
        let strings = xml_unescape(&zip_part(&xlsx, "xl/sharedStrings.xml"));
        assert_eq!(nfc(&strings), strings, "{kind:?}: shared strings are not NFC");
        for c in kind.columns() {
            assert!(strings.contains(&format!(">{c}<")), "{kind:?}: no header {c:?}");
        }
        assert!(strings.contains(kind.title_vi()), "{kind:?}");
        assert!(strings.contains("Từ ngày 01/01/2026 đến ngày 30/11/2026"), "{kind:?}");
        assert!(strings.contains(&format!(">{SUBJECT}<")), "{kind:?}: no subject");
        assert!(strings.contains(">Báo cáo <tổng hợp> & \"đề xuất\"<"), "{kind:?}: {strings}");
        assert!(strings.contains("ỦY BAN NHÂN DÂN TỈNH BÌNH AN"), "{kind:?}");

        // Agency, title, register name, period; the header; one row per entry.
        assert_eq!(sheet.matches("<row ").count(), 4 + 1 + n, "{kind:?}: {sheet}");
        assert!(sheet.contains(r#"<row r="5""#) && sheet.contains(&format!(r#"<row r="{}""#, 5 + n)));
        assert!(sheet.contains(r#"state="frozen""#) && sheet.contains(r#"topLeftCell="A6""#), "{kind:?}: {sheet}");
        assert!(sheet.contains("<cols>"), "{kind:?}: no column widths");
        // "Số đến" is written as a number (a cell without t="s"), the rest as text.
        let number_col = match kind {
            RegisterKind::Outgoing => None,
            RegisterKind::Incoming => Some('B'),
            RegisterKind::Tracking => Some('A'),
        };
        if let Some(col) = number_col {
            let c = cell(&sheet, &format!("{col}7"));
            assert!(!c.contains(r#"t="s""#) && c.contains("<v>2</v>"), "{kind:?}: {c}");
        }
        assert!(cell(&sheet, "C7").contains(r#"t="s""#), "{kind:?}");
    }
}

#[test]
fn an_empty_register_exports_its_message() {
    let xlsx = register_xlsx(&report(RegisterKind::Tracking, Vec::new())).unwrap();
    let sheet = zip_part(&xlsx, "xl/worksheets/sheet1.xml");
    let strings = zip_part(&xlsx, "xl/sharedStrings.xml");
    assert!(strings.contains(EMPTY_REGISTER_VI));
    assert_eq!(sheet.matches("<row ").count(), 4 + 1 + 1);
}
