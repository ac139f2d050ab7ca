//! Scans of paper documents (Decree 30/2020): a document rendered by vanban-render is
//! rasterised with `pdftoppm` as a scanner would, wrapped with `images_to_pdf`, then checked
//! by `inspect` and read by `ocr` (Tesseract, Vietnamese model). No network.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use vanban_server::scan::{self, ScanError, ScanPolicy};

const SUBJECT: &str = "Về việc tổ chức hội nghị tổng kết công tác năm 2026";

/// `tool` can be started. In CI a missing tool fails the test with `install`; elsewhere the
/// test is skipped, loudly.
fn have(tool: &str, install: &str) -> bool {
    let ok = Command::new(tool).arg("-v").output().is_ok();
    if !ok {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{tool} is not installed; CI must install {install}");
        eprintln!("skipped: {tool} is not installed ({install})");
    }
    ok
}

pub fn poppler() -> bool {
    ["pdfinfo", "pdfimages", "pdftoppm"].iter().all(|t| have(t, "poppler-utils"))
}

/// Tesseract with its Vietnamese model.
pub fn tesseract() -> bool {
    let install = "tesseract-ocr and tesseract-ocr-vie";
    if !have("tesseract", install) {
        return false;
    }
    let langs = Command::new("tesseract").arg("--list-langs").output().unwrap();
    let ok = String::from_utf8_lossy(&langs.stdout).lines().any(|l| l.trim() == "vie");
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tesseract has no Vietnamese model; CI must install {install}"
        );
        eprintln!("skipped: tesseract has no Vietnamese model ({install})");
    }
    ok
}

/// A one-page notice rendered by vanban (born digital: text, no images), and where its
/// seal goes.
fn rendered() -> &'static (Vec<u8>, vanban_render::SlotBox) {
    static PDF: OnceLock<(Vec<u8>, vanban_render::SlotBox)> = OnceLock::new();
    PDF.get_or_init(|| {
        let spec = serde_json::json!({
            "doc_type": "thong_bao",
            "parent_agency": "UBND tỉnh Bình An",
            "agency": "Sở Nội vụ",
            "agency_abbreviation": "SNV",
            "place": "Bình An",
            "year": 2026,
            "subject": SUBJECT,
            "body": [
                "Thực hiện kế hoạch công tác năm 2026, Sở Nội vụ tổ chức hội nghị tổng kết công tác năm 2026 \
                 và triển khai nhiệm vụ năm 2027 như sau:",
                "1. Thời gian: 08 giờ 00 phút, ngày 15 tháng 12 năm 2026.",
                "2. Địa điểm: Hội trường tầng 3, trụ sở Sở Nội vụ.",
                "3. Thành phần: lãnh đạo Sở, trưởng các phòng, đơn vị thuộc Sở.",
                "Đề nghị các đơn vị chuẩn bị báo cáo tổng kết, gửi về Văn phòng Sở trước ngày 10 tháng 12 \
                 năm 2026 để tổng hợp./."
            ],
            "recipients": ["Các phòng, đơn vị thuộc Sở;", "Lưu trữ cơ quan;"],
            "archive_units": ["VP"],
            "signer": { "position": "Giám đốc", "full_name": "Nguyễn Văn An" }
        });
        let r = vanban_render::Renderer::new()
            .expect("fonts-liberation2 must be installed")
            .render(
                &serde_json::from_value(spec).unwrap(),
                vanban_render::RenderOptions::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
            )
            .unwrap();
        (r.pdf, r.slots.seal.unwrap())
    })
}

fn born_digital() -> &'static [u8] {
    &rendered().0
}

/// The first page as a colour scan at `dpi`: rasterised, with the agency's red seal stamped
/// on its slot (the rendered text alone is black on white: grey, not colour).
fn scan_png(dpi: u32) -> Vec<u8> {
    let png = raster(born_digital(), &["-r", &dpi.to_string(), "-png"]);
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(frame.color_type, png::ColorType::Rgb);
    let seal = rendered().1;
    let px = |mm: f64| mm / 25.4 * f64::from(dpi);
    let (cx, cy, r) =
        (px(seal.x_mm + seal.width_mm / 2.0), px(seal.y_mm + seal.height_mm / 2.0), px(seal.width_mm / 2.0));
    for y in 0..frame.height {
        for x in 0..frame.width {
            let d = (f64::from(x) - cx).hypot(f64::from(y) - cy);
            if (r - px(1.0)..=r).contains(&d) || d < px(3.0) {
                let i = 3 * (y * frame.width + x) as usize;
                pixels[i..i + 3].copy_from_slice(&[214, 32, 38]);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, frame.width, frame.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header().unwrap().write_image_data(&pixels).unwrap();
    out
}

/// The first page of `pdf` rasterised by `pdftoppm` with `args` (e.g. `-r 200 -png`), as the
/// image files' bytes.
fn raster(pdf: &[u8], args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pdf");
    std::fs::write(&input, pdf).unwrap();
    let out = dir.path().join("page");
    let o = Command::new("pdftoppm")
        .args(args)
        .args(["-f", "1", "-l", "1", "-singlefile"])
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "pdftoppm {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    let ext = if args.contains(&"-jpeg") { "jpg" } else { "png" };
    std::fs::read(dir.path().join(format!("page.{ext}"))).unwrap()
}

/// The page scanned in colour at 200 dpi, as a PNG.
pub fn colour_png() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(|| scan_png(200))
}

/// `qpdf --check` passes (skipped without qpdf, outside CI).
fn qpdf_check(pdf: &[u8]) {
    if !have("qpdf", "qpdf") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.pdf");
    std::fs::write(&path, pdf).unwrap();
    let o = Command::new("qpdf").arg("--check").arg(&path).output().unwrap();
    assert!(
        o.status.success(),
        "qpdf --check: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn pdfinfo(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.pdf");
    std::fs::write(&path, pdf).unwrap();
    let o = Command::new("pdfinfo").arg(&path).output().unwrap();
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()
}

fn refused(result: Result<scan::ScanInfo, ScanError>) -> ScanError {
    match result {
        Ok(info) => panic!("accepted: {info:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_colour_scan_at_200_dpi_is_accepted_and_read_in_vietnamese() {
    if !poppler() {
        return;
    }
    // Two pages: the PNG and the JPEG a scanner would save.
    let jpeg = raster(born_digital(), &["-r", "200", "-jpeg"]);
    let pdf = scan::images_to_pdf(&[colour_png().to_vec(), jpeg], 200).unwrap();
    qpdf_check(&pdf);
    let info = scan::inspect(&pdf, &ScanPolicy::default()).await.unwrap();
    assert_eq!(info.pdf_version, "1.4");
    assert_eq!(info.pages, 2);
    assert_eq!(info.images, 2);
    assert!(info.min_dpi.abs_diff(200) <= 1, "{info:?}");
    assert!(info.colour);
    // 100% scale: an A4 page stays A4.
    let size = pdfinfo(&pdf);
    assert!(size.contains("(A4)"), "{size}");

    if !tesseract() {
        return;
    }
    let started = Instant::now();
    let text = scan::ocr(&pdf, &ScanPolicy::default()).await.unwrap();
    let elapsed = started.elapsed();
    println!(
        "OCR ({}): {} pages in {:.1} s ({:.1} s per page)",
        text.engine,
        text.pages.len(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() / text.pages.len() as f64
    );
    for (i, page) in text.pages.iter().enumerate() {
        println!("--- page {} ---\n{page}", i + 1);
    }
    assert!(text.engine.starts_with("tesseract ") && text.engine.ends_with(" vie"), "{}", text.engine);
    assert_eq!(text.pages.len(), 2);
    assert_eq!(text.joined().matches('\u{c}').count(), 1);
    for (i, page) in text.pages.iter().enumerate() {
        assert!(unicode_normalization::is_nfc(page), "page {} is not NFC", i + 1);
        // OCR is noisy: two of three phrases, with their diacritics.
        let phrases = ["tổ chức hội nghị", "tổng kết công tác", "Sở Nội vụ"];
        let found: Vec<&str> = phrases.iter().copied().filter(|p| page.contains(p)).collect();
        assert!(found.len() >= 2, "page {}: only {found:?} of {phrases:?} in:\n{page}", i + 1);
        // And the subject, folded.
        assert!(vanban_domain::fold_vi(page).contains("to chuc hoi nghi tong ket"), "page {}:\n{page}", i + 1);
    }
}

#[tokio::test]
async fn a_scan_below_200_dpi_is_refused_with_its_resolution() {
    if !poppler() {
        return;
    }
    let pdf = scan::images_to_pdf(&[scan_png(150)], 150).unwrap();
    let e = refused(scan::inspect(&pdf, &ScanPolicy::default()).await);
    assert_eq!(e.code(), "scan_low_resolution", "{e}");
    assert!(matches!(e, ScanError::LowResolution { dpi: 150, min: 200 }), "{e:?}");
    let message = e.message_vi();
    assert!(message.contains("150 dpi") && message.contains("200 dpi"), "{message}");
    assert!(message.contains("Nghị định 30/2020"), "{message}");
    // A policy of 150 dpi accepts it.
    let policy = ScanPolicy { min_dpi: 150, ..ScanPolicy::default() };
    assert_eq!(scan::inspect(&pdf, &policy).await.unwrap().min_dpi, 150);
}

#[tokio::test]
async fn a_grey_scan_is_refused() {
    if !poppler() {
        return;
    }
    // `pdftoppm -gray -png` writes grey pixels in an RGB PNG; `images_to_pdf` stores them grey.
    let png = raster(born_digital(), &["-r", "200", "-gray", "-png"]);
    let pdf = scan::images_to_pdf(&[png], 200).unwrap();
    qpdf_check(&pdf);
    let e = refused(scan::inspect(&pdf, &ScanPolicy::default()).await);
    assert_eq!(e.code(), "scan_not_colour", "{e}");
    assert!(e.message_vi().contains("màu"), "{}", e.message_vi());
    // Where an agency allows grey scans, it passes and says so.
    let policy = ScanPolicy { require_colour: false, ..ScanPolicy::default() };
    let info = scan::inspect(&pdf, &policy).await.unwrap();
    assert!(!info.colour && info.min_dpi.abs_diff(200) <= 1, "{info:?}");
    // The check reads the images' colour space, not their pixels: `pdftoppm -gray -jpeg`
    // writes a three-component (YCbCr) JPEG, which counts as colour.
}

#[tokio::test]
async fn a_born_digital_pdf_is_not_a_scan() {
    if !poppler() {
        return;
    }
    let e = refused(scan::inspect(born_digital(), &ScanPolicy::default()).await);
    assert_eq!(e.code(), "scan_no_images", "{e}");
    assert!(e.message_vi().contains("không phải bản quét"), "{}", e.message_vi());
}

#[tokio::test]
async fn what_is_not_a_pdf_1_4_is_refused() {
    if !poppler() {
        return;
    }
    let policy = ScanPolicy::default();
    let random: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert_eq!(refused(scan::inspect(&random, &policy).await).code(), "scan_not_pdf");
    assert_eq!(refused(scan::inspect(b"", &policy).await).code(), "scan_not_pdf");
    // A valid scan relabelled 1.3 is too old, whatever it holds.
    let mut old = scan::images_to_pdf(&[colour_png().to_vec()], 200).unwrap();
    old[..8].copy_from_slice(b"%PDF-1.3");
    let e = refused(scan::inspect(&old, &policy).await);
    assert_eq!(e.code(), "scan_pdf_too_old", "{e}");
    assert!(e.message_vi().contains("1.3") && e.message_vi().contains("1.4"), "{}", e.message_vi());
    // A PDF header on garbage: poppler cannot open it.
    let mut fake = b"%PDF-1.7\n".to_vec();
    fake.extend_from_slice(&random);
    assert_eq!(refused(scan::inspect(&fake, &policy).await).code(), "scan_not_pdf");
    // PDF 2.0 is accepted.
    let mut two = scan::images_to_pdf(&[colour_png().to_vec()], 200).unwrap();
    two[..8].copy_from_slice(b"%PDF-2.0");
    assert_eq!(scan::inspect(&two, &policy).await.unwrap().pdf_version, "2.0");
}

#[tokio::test]
async fn too_many_pages_are_refused() {
    if !poppler() {
        return;
    }
    let pdf = scan::images_to_pdf(&[colour_png().to_vec(), colour_png().to_vec()], 200).unwrap();
    let e = refused(scan::inspect(&pdf, &ScanPolicy { max_pages: 1, ..ScanPolicy::default() }).await);
    assert!(matches!(e, ScanError::TooManyPages { pages: 2, max: 1 }), "{e:?}");
    assert_eq!(e.code(), "scan_too_many_pages");
}

#[test]
fn images_to_pdf_writes_a_valid_pdf_at_100_percent() {
    if !poppler() {
        return;
    }
    // PNG (colour, grey) and JPEG pages in one file; each page the size of its image at the dpi.
    let grey = raster(born_digital(), &["-r", "100", "-gray", "-png"]);
    let jpeg = raster(born_digital(), &["-r", "300", "-jpeg"]);
    let pdf = scan::images_to_pdf(&[colour_png().to_vec(), grey, jpeg.clone()], 200).unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4\n"));
    qpdf_check(&pdf);
    let info = pdfinfo(&pdf);
    assert!(info.contains("Pages:           3"), "{info}");
    // A JPEG is carried byte for byte.
    assert!(pdf.windows(jpeg.len()).any(|w| w == jpeg.as_slice()), "the JPEG was re-encoded");
    // Deterministic.
    assert_eq!(
        pdf,
        scan::images_to_pdf(
            &[colour_png().to_vec(), raster(born_digital(), &["-r", "100", "-gray", "-png"]), jpeg],
            200
        )
        .unwrap()
    );

    // What it refuses.
    let e = scan::images_to_pdf(&[], 200).unwrap_err();
    assert_eq!(e.code(), "scan_invalid_input");
    let e = scan::images_to_pdf(&[colour_png().to_vec()], 0).unwrap_err();
    assert_eq!(e.code(), "scan_invalid_input");
    let e = scan::images_to_pdf(&[colour_png().to_vec(), b"GIF89a".to_vec()], 200).unwrap_err();
    assert!(matches!(e, ScanError::BadImage { page: 2, .. }), "{e:?}");
    assert!(e.message_vi().contains("trang 2"), "{}", e.message_vi());
    let truncated = colour_png()[..colour_png().len() / 2].to_vec();
    assert_eq!(scan::images_to_pdf(&[truncated], 200).unwrap_err().code(), "scan_bad_image");
}

#[test]
fn error_codes_and_messages_are_stable() {
    let cases: Vec<(ScanError, &str)> = vec![
        (ScanError::NotPdf, "scan_not_pdf"),
        (ScanError::TooOld { version: "1.3".into() }, "scan_pdf_too_old"),
        (ScanError::NoImages, "scan_no_images"),
        (ScanError::LowResolution { dpi: 150, min: 200 }, "scan_low_resolution"),
        (ScanError::NotColour, "scan_not_colour"),
        (ScanError::TooManyPages { pages: 300, max: 200 }, "scan_too_many_pages"),
        (ScanError::ToolMissing { tool: "tesseract" }, "ocr_tool_missing"),
        (ScanError::ToolFailed { tool: "pdftoppm", detail: "exit status: 99".into() }, "ocr_failed"),
        (ScanError::Timeout { tool: "tesseract", seconds: 60 }, "ocr_timeout"),
    ];
    for (e, code) in cases {
        assert_eq!(e.code(), code);
        let m = e.message_vi();
        assert!(unicode_normalization::is_nfc(&m) && !m.is_empty(), "{m}");
    }
    assert_eq!(
        ScanError::LowResolution { dpi: 150, min: 200 }.message_vi(),
        "Bản quét có độ phân giải 150 dpi, thấp hơn mức tối thiểu 200 dpi theo Nghị định 30/2020."
    );
}
