//! Drafts written in Word or LibreOffice: a DOCX or ODT converted to PDF by LibreOffice
//! headless (Debian's libreoffice-writer-nogui), then checked against the layout rules that
//! can be checked from the result (page size, fonts). The original is kept by the caller.

use std::io::Cursor;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;

use crate::RenderError;

/// The kinds of office file accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OfficeKind {
    Docx,
    Odt,
}

impl OfficeKind {
    pub fn extension(self) -> &'static str {
        match self {
            OfficeKind::Docx => "docx",
            OfficeKind::Odt => "odt",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            OfficeKind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            OfficeKind::Odt => "application/vnd.oasis.opendocument.text",
        }
    }
}

/// A rule of Decree 30 the converted document does not follow (a warning: the drafter fixes
/// it in the source file, or drafts in vanban).
#[derive(Debug, Clone, Serialize)]
pub struct LayoutIssue {
    pub code: &'static str,
    pub message_vi: String,
}

/// The converted document.
#[derive(Debug, Clone)]
pub struct Converted {
    pub kind: OfficeKind,
    pub pdf: Vec<u8>,
    pub pages: usize,
    pub issues: Vec<LayoutIssue>,
}

/// Recognises a DOCX or ODT by its content, not its name: a password-protected Word file is an
/// encrypted OLE container, anything else that is not the right zip is not a document.
pub fn sniff(bytes: &[u8]) -> Result<OfficeKind, RenderError> {
    const OLE: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if bytes.starts_with(&OLE) {
        // Office stores password-protected DOCX as an OLE container with an EncryptedPackage.
        let encrypted = bytes.windows(32).any(|w| w == "E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0".as_bytes());
        return Err(if encrypted {
            RenderError::Encrypted
        } else {
            RenderError::NotOffice("an old binary Word file (.doc)".into())
        });
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| RenderError::NotOffice(format!("not a DOCX or ODT file ({e})")))?;
    let names: Vec<String> = archive.file_names().filter_map(Result::ok).map(|n| n.into_owned()).collect();
    if names.iter().any(|n| n == "word/document.xml") {
        return Ok(OfficeKind::Docx);
    }
    if names.iter().any(|n| n == "content.xml") {
        let mut mimetype = String::new();
        if let Ok(mut f) = archive.by_name("mimetype") {
            use std::io::Read;
            let _ = f.read_to_string(&mut mimetype);
        }
        if mimetype.trim() == "application/vnd.oasis.opendocument.text" {
            return Ok(OfficeKind::Odt);
        }
        if names.iter().any(|n| n == "META-INF/manifest.xml") && bytes.windows(7).any(|w| w == b"encrypt") {
            return Err(RenderError::Encrypted);
        }
    }
    Err(RenderError::NotOffice("a zip file, but neither a DOCX nor an ODT document".into()))
}

/// Converts with LibreOffice headless (`soffice` on the PATH, or `$VANBAN_SOFFICE`), each
/// conversion in its own profile so conversions never share state; gives up after `timeout`.
pub fn convert(bytes: &[u8], timeout: Duration) -> Result<Converted, RenderError> {
    let kind = sniff(bytes)?;
    let work = tempfile::tempdir().map_err(|e| RenderError::Conversion(e.to_string()))?;
    let input = work.path().join(format!("draft.{}", kind.extension()));
    std::fs::write(&input, bytes).map_err(|e| RenderError::Conversion(e.to_string()))?;
    let soffice = std::env::var("VANBAN_SOFFICE").unwrap_or_else(|_| "soffice".into());
    let profile = format!("file://{}", work.path().join("profile").display());
    let mut child = Command::new(&soffice)
        .arg(format!("-env:UserInstallation={profile}"))
        .args(["--headless", "--norestore", "--convert-to", "pdf", "--outdir"])
        .arg(work.path())
        .arg(&input)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| RenderError::ConverterMissing(format!("{soffice}: {e}")))?;
    let started = std::time::Instant::now();
    loop {
        match child.try_wait().map_err(|e| RenderError::Conversion(e.to_string()))? {
            Some(_) => break,
            None if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RenderError::Conversion(format!("LibreOffice took longer than {} s", timeout.as_secs())));
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let output = work.path().join("draft.pdf");
    let pdf = std::fs::read(&output)
        .map_err(|_| RenderError::Conversion("LibreOffice could not read the file (damaged or protected?)".into()))?;
    let (pages, issues) = check_layout(&pdf)?;
    Ok(Converted { kind, pdf, pages, issues })
}

/// The layout rules a PDF shows: A4 pages, Times New Roman (or its metric twin).
pub fn check_layout(pdf: &[u8]) -> Result<(usize, Vec<LayoutIssue>), RenderError> {
    let doc = lopdf::Document::load_mem(pdf).map_err(|e| RenderError::Conversion(format!("unreadable PDF: {e}")))?;
    let mut issues = Vec::new();
    let pages = doc.get_pages();
    let a4 = |w: f32, h: f32| {
        let (s, l) = if w < h { (w, h) } else { (h, w) };
        (s - 595.3).abs() < 3.0 && (l - 841.9).abs() < 3.0
    };
    let off_size = pages.values().filter(|id| {
        let mb = doc.get_dictionary(**id).and_then(|p| p.get(b"MediaBox")).and_then(lopdf::Object::as_array);
        match mb {
            Ok(a) if a.len() == 4 => {
                let v: Vec<f32> = a.iter().filter_map(|x| x.as_float().ok()).collect();
                v.len() != 4 || !a4(v[2] - v[0], v[3] - v[1])
            }
            _ => false,
        }
    });
    let off = off_size.count();
    if off > 0 {
        issues.push(LayoutIssue {
            code: "page_not_a4",
            message_vi: format!("{off} trang không phải khổ A4 (210 × 297 mm)."),
        });
    }
    let mut fonts: Vec<String> = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .filter(|d| d.get(b"Type").and_then(lopdf::Object::as_name).is_ok_and(|n| n == b"Font"))
        .filter_map(|d| d.get(b"BaseFont").and_then(lopdf::Object::as_name).ok())
        .map(|n| String::from_utf8_lossy(n).split('+').next_back().unwrap_or_default().to_owned())
        .collect();
    fonts.sort();
    fonts.dedup();
    let serif = |f: &str| f.contains("TimesNewRoman") || f.contains("Times-") || f.contains("LiberationSerif");
    let others: Vec<&String> =
        fonts.iter().filter(|f| !serif(f) && !f.contains("Symbol") && !f.contains("OpenSymbol")).collect();
    if !others.is_empty() {
        let list = others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        issues.push(LayoutIssue {
            code: "font_not_times",
            message_vi: format!("Văn bản dùng phông chữ khác Times New Roman: {list}."),
        });
    }
    Ok((pages.len(), issues))
}

/// Whether LibreOffice can be run here.
pub fn converter_available() -> bool {
    let soffice = std::env::var("VANBAN_SOFFICE").unwrap_or_else(|_| "soffice".into());
    Command::new(soffice).arg("--version").output().is_ok_and(|o| o.status.success())
        || Path::new("/usr/bin/soffice").exists()
}
