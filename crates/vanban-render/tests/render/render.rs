//! Rendering checked from the outside: the PDF read back with poppler (pdftotext, pdfinfo,
//! pdffonts, pdftoppm), as an independent reader would. Every example document of
//! `examples/documents/` is rendered, checked for page size, margins, fonts and text, and
//! compared as an image with its golden page (`tests/golden/`; `VANBAN_UPDATE_GOLDEN=1`
//! rewrites them after a deliberate layout change).

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use vanban_render::{DocumentSpec, RenderOptions, Renderer};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn today() -> RenderOptions {
    RenderOptions::on(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap())
}

/// poppler-utils must be there in CI; elsewhere a missing tool skips the test, loudly.
fn have_poppler() -> bool {
    let ok = Command::new("pdftotext").arg("-v").output().is_ok();
    if !ok {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "poppler-utils is not installed; CI must install it");
        eprintln!("skipped: poppler-utils (pdftotext) is not installed");
    }
    ok
}

fn renderer() -> &'static Renderer {
    static R: std::sync::OnceLock<Renderer> = std::sync::OnceLock::new();
    R.get_or_init(|| Renderer::new().expect("fonts-liberation2 must be installed"))
}

fn examples() -> Vec<(String, DocumentSpec)> {
    let dir = root().join("examples/documents");
    let mut out: Vec<(String, DocumentSpec)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let spec = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, spec)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn run(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(o.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// A word on a page with its box, in points (pdftotext -bbox).
#[derive(Debug)]
struct Word {
    page: usize,
    x_min: f64,
    y_min: f64,
    x_max: f64,
    y_max: f64,
    text: String,
}

fn words(pdf: &Path) -> Vec<Word> {
    let html = run("pdftotext", &["-bbox", pdf.to_str().unwrap(), "-"]);
    let mut out = Vec::new();
    let mut page = 0;
    for line in html.lines() {
        let line = line.trim();
        if line.starts_with("<page ") {
            page += 1;
        }
        let Some(rest) = line.strip_prefix("<word ") else { continue };
        let attr = |name: &str| -> f64 {
            let key = format!("{name}=\"");
            let start = rest.find(&key).unwrap() + key.len();
            rest[start..].split('"').next().unwrap().parse().unwrap()
        };
        let text = rest.split('>').nth(1).unwrap().split('<').next().unwrap();
        let text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"");
        out.push(Word {
            page,
            x_min: attr("xMin"),
            y_min: attr("yMin"),
            x_max: attr("xMax"),
            y_max: attr("yMax"),
            text,
        });
    }
    out
}

const MM: f64 = 72.0 / 25.4;

/// Font size from a word's box: poppler's word boxes of Liberation Serif are 0.893 em high
/// (measured; independent of the size), so the height gives the size to a few tenths of a point.
fn font_size(w: &Word) -> f64 {
    (w.y_max - w.y_min) / 0.893
}

fn find<'a>(ws: &'a [Word], text: &str) -> &'a Word {
    ws.iter().find(|w| w.text == text).unwrap_or_else(|| panic!("no word {text:?}"))
}

#[test]
fn every_type_renders_in_the_decree_layout() {
    if !have_poppler() {
        return;
    }
    let examples = examples();
    assert_eq!(examples.len(), 29, "one example per Decree 30 type");
    let dir = tempfile::tempdir().unwrap();
    for (name, spec) in &examples {
        let r = renderer().render(spec, today()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let pdf = dir.path().join(format!("{name}.pdf"));
        std::fs::write(&pdf, &r.pdf).unwrap();

        // A4 portrait, PDF/A-2b declared, fonts embedded.
        let info = run("pdfinfo", &[pdf.to_str().unwrap()]);
        assert!(info.contains("Page size:       595.276 x 841.89 pts (A4)"), "{name}: {info}");
        assert_eq!(
            info.lines().find(|l| l.starts_with("Pages:")).unwrap().split_whitespace().last().unwrap(),
            r.pages.to_string()
        );
        let xmp = String::from_utf8_lossy(&r.pdf);
        assert!(
            xmp.contains("<pdfaid:part>2</pdfaid:part>") && xmp.contains("<pdfaid:conformance>B</pdfaid:conformance>"),
            "{name}: not PDF/A-2b"
        );
        let fonts = run("pdffonts", &[pdf.to_str().unwrap()]);
        assert!(fonts.contains("LiberationSerif") || fonts.contains("TimesNewRoman"), "{name}: {fonts}");
        assert!(fonts.lines().skip(2).all(|l| l.contains(" yes ")), "{name}: a font is not embedded: {fonts}");

        // The form: number and date fields while they are unknown, both signature fields,
        // on the slots, with appearances and no NeedAppearances (PDF/A).
        assert!(info.lines().any(|l| l.starts_with("Form:") && l.ends_with("AcroForm")), "{name}: {info}");
        check_fields(name, spec, &r);
        if Command::new("qpdf").arg("--version").output().is_ok() {
            let o = Command::new("qpdf").args(["--check", pdf.to_str().unwrap()]).output().unwrap();
            assert!(o.status.success(), "{name}: qpdf --check: {}", String::from_utf8_lossy(&o.stdout));
        }

        // Text that extracts in NFC, with the fixed parts of the layout.
        let text = run("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"]);
        assert!(unicode_normalization::is_nfc(&text), "{name}: extracted text is not NFC");
        for fixed in ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Số:"]
        {
            assert!(text.contains(fixed), "{name}: {fixed:?} missing:\n{text}");
        }
        let signer = &spec.signer.as_ref().unwrap().full_name;
        assert!(text.contains(signer.as_str()), "{name}: signer {signer} missing");
        assert!(text.contains(&spec.agency.to_uppercase()), "{name}: agency missing");

        // Margins: top and bottom 20 mm, left 30 mm, right 15 mm (page numbers sit in the top margin).
        let ws = words(&pdf);
        for w in ws.iter().filter(|w| !w.text.chars().all(|c| c.is_ascii_digit())) {
            assert!(w.x_min >= 30.0 * MM - 0.5, "{name}: {:?} left of the margin", w);
            assert!(w.x_max <= (210.0 - 15.0) * MM + 0.5, "{name}: {:?} right of the margin", w);
            assert!(w.y_min >= 20.0 * MM - 0.5, "{name}: {:?} above the margin", w);
            assert!(w.y_max <= (297.0 - 20.0) * MM + 0.5, "{name}: {:?} below the margin", w);
        }
        // Sizes (Appendix I allows 12–13 for the title): national title 12 pt, motto 14 pt, "Số" 13 pt.
        let size = |t: &str| font_size(find(&ws, t));
        assert!((size("CỘNG") - 12.0).abs() < 0.5, "{name}: national title at {} pt", size("CỘNG"));
        assert!((size("Độc") - 14.0).abs() < 0.5, "{name}: motto at {} pt", size("Độc"));
        assert!((size("Số:") - 13.0).abs() < 0.5, "{name}: Số at {} pt", size("Số:"));
        // Page numbers from page 2 only, centred in the top margin.
        for w in ws.iter().filter(|w| w.y_max < 20.0 * MM) {
            assert!(w.page > 1 && w.text.chars().all(|c| c.is_ascii_digit()), "{name}: {w:?} in the top margin");
            let centre = (w.x_min + w.x_max) / 2.0;
            assert!((centre - (30.0 + 165.0 / 2.0) * MM).abs() < 3.0, "{name}: page number not centred");
        }

        // Slots: the signer's box on the last page of the main text, the seal over its left third.
        let signer_box = r.slots.signer.unwrap_or_else(|| panic!("{name}: no signer slot"));
        let seal = r.slots.seal.unwrap();
        assert!((seal.x_mm + seal.width_mm - (signer_box.x_mm + signer_box.width_mm / 3.0)).abs() < 0.01);
        assert_eq!(spec.number.is_none(), r.slots.number.is_some(), "{name}: number slot");
        assert_eq!(spec.date.is_none(), r.slots.day.is_some(), "{name}: date slots");

        golden(name, &pdf);
    }
}

fn check_fields(name: &str, spec: &DocumentSpec, r: &vanban_render::Rendered) {
    use lopdf::Object;
    let doc = lopdf::Document::load_mem(&r.pdf).unwrap();
    let form = doc.catalog().unwrap().get(b"AcroForm").unwrap().as_dict().unwrap();
    assert!(form.get(b"NeedAppearances").is_err(), "{name}: NeedAppearances is forbidden in PDF/A");
    let mut found = std::collections::BTreeMap::new();
    for f in form.get(b"Fields").unwrap().as_array().unwrap() {
        let d = doc.get_dictionary(f.as_reference().unwrap()).unwrap();
        let t = String::from_utf8(d.get(b"T").unwrap().as_str().unwrap().to_vec()).unwrap();
        let ft = String::from_utf8(d.get(b"FT").unwrap().as_name().unwrap().to_vec()).unwrap();
        assert!(d.get(b"AP").is_ok(), "{name}: {t} has no appearance");
        let rect: Vec<f32> =
            d.get(b"Rect").unwrap().as_array().unwrap().iter().map(|v| v.as_float().unwrap()).collect();
        found.insert(t, (ft, rect));
    }
    let n = vanban_render::field_names::NUMBER;
    assert_eq!(found.contains_key(n), spec.number.is_none(), "{name}: number field");
    assert_eq!(found.contains_key(vanban_render::field_names::DAY), spec.date.is_none(), "{name}: date fields");
    let (ft, rect) = &found[vanban_render::field_names::SIGNER];
    assert_eq!(ft, "Sig");
    let s = r.slots.signer.unwrap();
    let mm = 72.0 / 25.4;
    assert!(
        (f64::from(rect[0]) - s.x_mm * mm).abs() < 0.1 && (f64::from(rect[2] - rect[0]) - s.width_mm * mm).abs() < 0.1
    );
    assert!((f64::from(rect[3]) - (841.89 - s.y_mm * mm)).abs() < 0.1, "{name}: signer field not on its slot");
    assert_eq!(found[vanban_render::field_names::AGENCY].0, "Sig");
    let _ = Object::Null;
}

/// Compares page 1 at 40 dpi with the golden image: at most 0.5% of pixels may differ.
fn golden(name: &str, pdf: &Path) {
    let out = pdf.with_extension("");
    run(
        "pdftoppm",
        &[
            "-r",
            "40",
            "-gray",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            pdf.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    let png = out.with_extension("png");
    let golden = root().join("crates/vanban-render/tests/golden").join(format!("{name}.png"));
    if std::env::var("VANBAN_UPDATE_GOLDEN").is_ok() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::copy(&png, &golden).unwrap();
        return;
    }
    let (a, aw, ah) = decode(&png);
    let (b, bw, bh) = decode(&golden);
    assert_eq!((aw, ah), (bw, bh), "{name}: page image size changed");
    let differing = a.iter().zip(&b).filter(|(x, y)| x.abs_diff(**y) > 64).count();
    let ratio = differing as f64 / a.len() as f64;
    assert!(ratio < 0.005, "{name}: {:.2}% of the page differs from tests/golden/{name}.png", ratio * 100.0);
}

fn decode(path: &Path) -> (Vec<u8>, u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let gray = match info.color_type {
        png::ColorType::Grayscale => buf,
        png::ColorType::GrayscaleAlpha => buf.chunks(2).map(|c| c[0]).collect(),
        png::ColorType::Rgb => buf.chunks(3).map(|c| ((c[0] as u16 + c[1] as u16 + c[2] as u16) / 3) as u8).collect(),
        png::ColorType::Rgba => buf.chunks(4).map(|c| ((c[0] as u16 + c[1] as u16 + c[2] as u16) / 3) as u8).collect(),
        png::ColorType::Indexed => panic!("indexed PNG"),
    };
    (gray, info.width, info.height)
}

/// Every vowel with every tone, upper and lower case, and đ/Đ survive rendering and extraction.
#[test]
fn vietnamese_round_trip() {
    if !have_poppler() {
        return;
    }
    let vowels = ["a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y"];
    let tones = ["\u{0300}", "\u{0301}", "\u{0303}", "\u{0309}", "\u{0323}"];
    let mut words = Vec::new();
    for v in vowels {
        let mut w = v.to_owned();
        for t in tones {
            w.push_str(
                &unicode_normalization::UnicodeNormalization::nfc(format!("{v}{t}").chars()).collect::<String>(),
            );
        }
        words.push(w.clone());
        words.push(w.to_uppercase());
    }
    words.push("đĐ".to_owned());
    let line = words.join(" ");
    let mut spec: DocumentSpec =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/documents/cong_van.json")).unwrap())
            .unwrap();
    spec.body = vec![serde_json::Value::String(line.clone())];
    let r = renderer().render(&spec, today()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("vi.pdf");
    std::fs::write(&pdf, &r.pdf).unwrap();
    let text = run("pdftotext", &["-raw", pdf.to_str().unwrap(), "-"]);
    let extracted: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for w in &words {
        assert!(extracted.contains(w.as_str()), "{w} did not survive: {extracted}");
    }
    assert!(unicode_normalization::is_nfc(&text));
}

#[test]
fn bad_documents_are_refused_with_a_reason() {
    let base: DocumentSpec =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/documents/quyet_dinh.json")).unwrap())
            .unwrap();
    let code = |f: &dyn Fn(&mut DocumentSpec)| {
        let mut s = base.clone();
        f(&mut s);
        renderer().render(&s, today()).map(|_| ()).unwrap_err().code()
    };
    assert_eq!(code(&|s| s.doc_type = "nghi_dinh_tu_dat".into()), "unknown_document_type");
    assert_eq!(code(&|s| s.subject = "ạ".repeat(501)), "field_too_long");
    assert_eq!(code(&|s| s.signer = None), "field_required");
    assert_eq!(code(&|s| s.body = vec![]), "field_required");
    assert_eq!(code(&|s| s.body = vec![serde_json::json!({"image": "x"})]), "invalid_body");
    assert_eq!(code(&|s| s.priority = 9), "invalid_value");
    // Unknown fields are refused when reading the JSON.
    let mut v: serde_json::Value = serde_json::to_value(&base).unwrap();
    v["colour"] = "blue".into();
    assert!(serde_json::from_value::<DocumentSpec>(v).unwrap_err().to_string().contains("colour"));
}

#[test]
fn a_broken_agency_template_is_a_clear_error() {
    let dirs: Vec<PathBuf> = vanban_render::DEFAULT_FONT_DIRS.iter().map(PathBuf::from).collect();
    let r = Renderer::with(&dirs, "#let x = (").unwrap();
    let spec: DocumentSpec =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/documents/cong_van.json")).unwrap())
            .unwrap();
    let e = r.render(&spec, today()).unwrap_err();
    assert_eq!(e.code(), "layout_error");
    let no_fonts = Renderer::with(&[PathBuf::from("/nonexistent")], vanban_render::DEFAULT_TEMPLATE);
    assert_eq!(no_fonts.err().map(|e| e.code()), Some("font_missing"));
}
