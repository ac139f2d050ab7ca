//! Paper documents that still arrive are digitised by the clerk (Decree 30/2020):
//! a PDF 1.4 or later, in colour, at 200 dpi or more, at 100% scale. This module checks a
//! scanned PDF against that policy ([`inspect`]), reads its text with Tesseract's Vietnamese
//! model for search ([`ocr`]), and wraps a scanner's images into such a PDF
//! ([`images_to_pdf`]).
//!
//! The PDF itself is never changed: the text layer is kept apart. The checks and the OCR run
//! poppler-utils (`pdfinfo`, `pdfimages`, `pdftoppm`) and `tesseract` as child processes on
//! a copy in a temporary directory, with fixed arguments (no shell, no user-chosen names),
//! each under a timeout and killed when abandoned.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use unicode_normalization::UnicodeNormalization as _;

/// What a scan must meet.
#[derive(Debug, Clone)]
pub struct ScanPolicy {
    /// Lowest resolution of any page image, in dots per inch (Decree 30: 200).
    pub min_dpi: u32,
    /// Refuse scans whose images are all grey or black and white (Decree 30: colour).
    pub require_colour: bool,
    /// Most pages accepted in one scan.
    pub max_pages: u32,
    /// Time allowed to each tool run, per page of the scan.
    pub timeout: Duration,
}

impl Default for ScanPolicy {
    fn default() -> Self {
        ScanPolicy { min_dpi: 200, require_colour: true, max_pages: 200, timeout: Duration::from_secs(60) }
    }
}

/// What [`inspect`] measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanInfo {
    /// From the header: "1.4" … "1.7", "2.0".
    pub pdf_version: String,
    pub pages: u32,
    /// The lowest resolution of the page images (the smaller of horizontal and vertical).
    pub min_dpi: u32,
    /// Whether any page image is in colour.
    pub colour: bool,
    /// Number of page images (masks not counted).
    pub images: u32,
}

/// The recognised text of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrText {
    /// The text of each page, NFC.
    pub pages: Vec<String>,
    /// The engine, version and language model, e.g. "tesseract 5.3.0 vie".
    pub engine: String,
}

impl OcrText {
    /// The pages joined by form feeds (U+000C), as `pdftotext` separates pages.
    pub fn joined(&self) -> String {
        self.pages.join("\u{c}")
    }
}

/// Why a scan is refused or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("not a PDF file")]
    NotPdf,
    #[error("PDF version {version} is older than 1.4")]
    TooOld { version: String },
    #[error("the PDF has no page images: it is not a scan")]
    NoImages,
    #[error("scanned at {dpi} dpi, below the minimum of {min} dpi")]
    LowResolution { dpi: u32, min: u32 },
    #[error("the scan is not in colour")]
    NotColour,
    #[error("{pages} pages, more than the {max} allowed")]
    TooManyPages { pages: u32, max: u32 },
    #[error("image {page} cannot be used: {detail}")]
    BadImage {
        /// 1-based position of the image in the input.
        page: usize,
        detail: String,
    },
    #[error("nothing to convert: {0}")]
    InvalidInput(String),
    #[error("{tool} is not installed")]
    ToolMissing { tool: &'static str },
    #[error("{tool} failed: {detail}")]
    ToolFailed { tool: &'static str, detail: String },
    #[error("{tool} took longer than {seconds} s")]
    Timeout { tool: &'static str, seconds: u64 },
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
}

impl ScanError {
    /// A stable code for the API and the logs.
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::NotPdf => "scan_not_pdf",
            ScanError::TooOld { .. } => "scan_pdf_too_old",
            ScanError::NoImages => "scan_no_images",
            ScanError::LowResolution { .. } => "scan_low_resolution",
            ScanError::NotColour => "scan_not_colour",
            ScanError::TooManyPages { .. } => "scan_too_many_pages",
            ScanError::BadImage { .. } => "scan_bad_image",
            ScanError::InvalidInput(_) => "scan_invalid_input",
            ScanError::ToolMissing { .. } => "ocr_tool_missing",
            ScanError::ToolFailed { .. } | ScanError::Io(_) => "ocr_failed",
            ScanError::Timeout { .. } => "ocr_timeout",
        }
    }

    /// The message shown to the clerk.
    pub fn message_vi(&self) -> String {
        match self {
            ScanError::NotPdf => "Tệp không phải là tệp PDF hợp lệ.".to_owned(),
            ScanError::TooOld { version } => format!(
                "Tệp PDF phiên bản {version} quá cũ: bản quét phải là PDF phiên bản 1.4 trở lên theo Nghị định 30/2020."
            ),
            ScanError::NoImages => "Tệp PDF không chứa hình ảnh quét: đây là văn bản điện tử, không phải bản quét \
                 từ văn bản giấy."
                .to_owned(),
            ScanError::LowResolution { dpi, min } => {
                format!("Bản quét có độ phân giải {dpi} dpi, thấp hơn mức tối thiểu {min} dpi theo Nghị định 30/2020.")
            }
            ScanError::NotColour => {
                "Bản quét là ảnh đen trắng hoặc thang xám: Nghị định 30/2020 yêu cầu quét ở chế độ màu.".to_owned()
            }
            ScanError::TooManyPages { pages, max } => {
                format!("Bản quét có {pages} trang, vượt quá giới hạn {max} trang cho một tệp.")
            }
            ScanError::BadImage { page, detail } => {
                format!("Không đọc được ảnh quét trang {page} (cần ảnh PNG hoặc JPEG): {detail}.")
            }
            ScanError::InvalidInput(detail) => format!("Không tạo được tệp PDF từ ảnh quét: {detail}."),
            ScanError::ToolMissing { tool } => format!(
                "Máy chủ chưa cài đặt công cụ {tool} để kiểm tra và nhận dạng bản quét; vui lòng liên hệ quản trị hệ thống."
            ),
            ScanError::ToolFailed { .. } | ScanError::Io(_) => {
                "Không kiểm tra hoặc nhận dạng được nội dung bản quét; tệp có thể bị hỏng.".to_owned()
            }
            ScanError::Timeout { seconds, .. } => format!(
                "Việc xử lý bản quét vượt quá thời gian cho phép ({seconds} giây); vui lòng thử lại với tệp ít trang hơn."
            ),
        }
    }
}

/// Checks a scanned PDF against `policy`: header version, page count, and the page images'
/// resolution and colour (from `pdfimages -list`). Does not OCR.
pub async fn inspect(pdf: &[u8], policy: &ScanPolicy) -> Result<ScanInfo, ScanError> {
    let (dir, version) = stage(pdf).await?;
    inspect_file(&dir.path().join(STAGED), version, policy).await
}

/// [`inspect`], then the text of every page: each page rendered by `pdftoppm` (at the scan's
/// resolution, between 200 and 300 dpi) and read by `tesseract -l vie`, one page after the
/// other.
pub async fn ocr(pdf: &[u8], policy: &ScanPolicy) -> Result<OcrText, ScanError> {
    let (dir, version) = stage(pdf).await?;
    let path = dir.path().join(STAGED);
    let info = inspect_file(&path, version, policy).await?;
    let engine = engine(policy.timeout).await?;
    let dpi = info.min_dpi.clamp(200, 300).to_string();
    let prefix = dir.path().join("page");
    let png = dir.path().join("page.png");
    let mut pages = Vec::with_capacity(info.pages as usize);
    for page in 1..=info.pages {
        let started = Instant::now();
        let n = page.to_string();
        let args = [
            "-r".as_ref(),
            dpi.as_ref(),
            "-gray".as_ref(),
            "-png".as_ref(),
            "-f".as_ref(),
            n.as_ref(),
            "-l".as_ref(),
            n.as_ref(),
            "-singlefile".as_ref(),
            path.as_os_str(),
            prefix.as_os_str(),
        ];
        run("pdftoppm", &args, policy.timeout).await?;
        let out = run(
            "tesseract",
            &[png.as_os_str(), "stdout".as_ref(), "-l".as_ref(), "vie".as_ref(), "--psm".as_ref(), "1".as_ref()],
            policy.timeout,
        )
        .await?;
        let text = String::from_utf8_lossy(&out);
        let text: String = text.trim_end_matches(['\u{c}', '\n', ' ', '\r']).nfc().collect();
        tracing::debug!(page, ms = started.elapsed().as_millis() as u64, chars = text.len(), "OCR of a scanned page");
        pages.push(text);
    }
    Ok(OcrText { pages, engine })
}

/// The name of the copy the tools read, in its own temporary directory.
const STAGED: &str = "scan.pdf";

/// Checks the header, then copies `pdf` to a new temporary directory (as [`STAGED`]).
async fn stage(pdf: &[u8]) -> Result<(tempfile::TempDir, String), ScanError> {
    let version = header_version(pdf)?;
    let dir = tempfile::TempDir::new()?;
    tokio::fs::write(dir.path().join(STAGED), pdf).await?;
    Ok((dir, version))
}

/// The checks of [`inspect`] on the staged copy at `path`, whose header gave `pdf_version`.
async fn inspect_file(path: &Path, pdf_version: String, policy: &ScanPolicy) -> Result<ScanInfo, ScanError> {
    let info = output("pdfinfo", &[path.as_os_str()], policy.timeout).await?;
    match info.status.code() {
        Some(0) => {}
        // Poppler could not open the file: damaged, or protected by a password.
        Some(1) => return Err(ScanError::NotPdf),
        _ => return Err(failed("pdfinfo", &info)),
    }
    let info = String::from_utf8_lossy(&info.stdout);
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|&p| p > 0)
        .ok_or(ScanError::NotPdf)?;
    if pages > policy.max_pages {
        return Err(ScanError::TooManyPages { pages, max: policy.max_pages });
    }
    let list =
        run("pdfimages", &["-list".as_ref(), path.as_os_str()], policy.timeout.saturating_mul(pages.min(1000))).await?;
    let images = parse_image_list(&String::from_utf8_lossy(&list));
    let min_dpi = images.iter().map(|i| i.dpi).min().ok_or(ScanError::NoImages)?;
    let colour = images.iter().any(|i| i.colour);
    if min_dpi < policy.min_dpi {
        return Err(ScanError::LowResolution { dpi: min_dpi, min: policy.min_dpi });
    }
    if policy.require_colour && !colour {
        return Err(ScanError::NotColour);
    }
    Ok(ScanInfo { pdf_version, pages, min_dpi, colour, images: u32::try_from(images.len()).unwrap_or(u32::MAX) })
}

/// The version in the header: `%PDF-1.4` or later, or `%PDF-2.0`.
fn header_version(pdf: &[u8]) -> Result<String, ScanError> {
    let rest = pdf.strip_prefix(b"%PDF-").ok_or(ScanError::NotPdf)?;
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let major_len = digits(rest);
    let (major, rest) = rest.split_at(major_len);
    let rest = rest.strip_prefix(b".").ok_or(ScanError::NotPdf)?;
    let (minor, _) = rest.split_at(digits(rest));
    let parse = |d: &[u8]| std::str::from_utf8(d).ok().and_then(|s| s.parse::<u32>().ok()).ok_or(ScanError::NotPdf);
    let (major, minor) = (parse(major)?, parse(minor)?);
    let version = format!("{major}.{minor}");
    match (major, minor) {
        (1, 4..) | (2, _) => Ok(version),
        (0 | 1, _) => Err(ScanError::TooOld { version }),
        _ => Err(ScanError::NotPdf),
    }
}

/// One page image from `pdfimages -list`.
#[derive(Debug, PartialEq, Eq)]
struct ListedImage {
    /// The smaller of x-ppi and y-ppi.
    dpi: u32,
    colour: bool,
}

/// Reads `pdfimages -list`: a header line naming the columns (`page num type width height
/// color comp bpc enc interp object ID x-ppi y-ppi size ratio`, "object ID" being two
/// numbers too), a rule, then one line per image. Masks (`smask`, `mask`, `stencil`) are not
/// page images and are skipped.
fn parse_image_list(list: &str) -> Vec<ListedImage> {
    let mut lines = list.lines();
    let Some(header) = lines.next() else { return Vec::new() };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let col = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(kind), Some(color), Some(comp), Some(x_ppi), Some(y_ppi)) =
        (col("type"), col("color"), col("comp"), col("x-ppi"), col("y-ppi"))
    else {
        return Vec::new();
    };
    lines
        .filter(|l| !l.starts_with("---"))
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            if cells.get(kind).copied() != Some("image") {
                return None;
            }
            let ppi = |i: usize| cells.get(i).and_then(|v| v.parse::<u32>().ok());
            let dpi = ppi(x_ppi)?.min(ppi(y_ppi)?);
            let components = ppi(comp).unwrap_or(0);
            let colour = match cells.get(color).copied().unwrap_or("") {
                "rgb" | "cmyk" | "lab" | "index" => true,
                // An ICC-based space: colour when it has more than one component.
                "icc" | "devn" => components >= 3,
                // "gray", 1-bit images, separations (one ink), unknown.
                _ => false,
            };
            Some(ListedImage { dpi, colour })
        })
        .collect()
}

/// "tesseract 5.3.0 vie", from `tesseract --version`.
async fn engine(timeout: Duration) -> Result<String, ScanError> {
    let out = run("tesseract", &["--version".as_ref()], timeout).await?;
    let out = String::from_utf8_lossy(&out);
    let version = out.lines().next().unwrap_or("tesseract").trim();
    Ok(format!("{version} vie"))
}

/// Runs `tool` with `args` and returns its standard output, or why it failed.
async fn run(tool: &'static str, args: &[&std::ffi::OsStr], timeout: Duration) -> Result<Vec<u8>, ScanError> {
    let out = output(tool, args, timeout).await?;
    if !out.status.success() {
        return Err(failed(tool, &out));
    }
    Ok(out.stdout)
}

/// Runs `tool` with `args` (no shell), stdin closed, and returns what it wrote and how it
/// exited. The child is killed when the timeout passes.
async fn output(
    tool: &'static str,
    args: &[&std::ffi::OsStr],
    timeout: Duration,
) -> Result<std::process::Output, ScanError> {
    let mut cmd = tokio::process::Command::new(tool);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Tesseract's OpenMP threads: one; the server runs other work on the same cores.
        .env("OMP_THREAD_LIMIT", "1")
        .kill_on_drop(true);
    match tokio::time::timeout(timeout, cmd.output()).await {
        Err(_) => Err(ScanError::Timeout { tool, seconds: timeout.as_secs() }),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Err(ScanError::ToolMissing { tool }),
        Ok(Err(e)) => Err(ScanError::ToolFailed { tool, detail: e.to_string() }),
        Ok(Ok(out)) => Ok(out),
    }
}

/// The error for a run of `tool` that exited with a failure.
fn failed(tool: &'static str, out: &std::process::Output) -> ScanError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if tool == "tesseract" && stderr.contains("Failed loading language") {
        return ScanError::ToolMissing { tool: "tesseract-ocr-vie" };
    }
    let stderr: String = stderr.trim().chars().take(500).collect();
    ScanError::ToolFailed { tool, detail: format!("{}: {stderr}", out.status) }
}

/// Largest decoded page image accepted (an A3 page at 400 dpi in colour is 93 MB).
const MAX_IMAGE_BYTES: usize = 160 * 1024 * 1024;

/// PDF's implementation limit on a page side, in points (200 inches).
const MAX_PAGE_POINTS: f64 = 14_400.0;

/// A page image ready to be written as an XObject.
struct PageImage {
    width: u32,
    height: u32,
    /// `/DeviceRGB`, `/DeviceGray` or `/DeviceCMYK`.
    colour_space: &'static str,
    /// `/DCTDecode` or `/FlateDecode`.
    filter: &'static str,
    /// Inverted CMYK of Adobe's JPEGs.
    decode: Option<&'static str>,
    data: Vec<u8>,
}

/// Wraps scanned images (PNG or JPEG bytes, one per page) into a PDF 1.4, each page the size
/// of its image at `dpi` (100% scale). JPEG data is kept as it is (`/DCTDecode`); PNG is
/// decoded to 8-bit grey or RGB (transparency flattened onto white; RGB whose pixels are all
/// grey becomes grey) and stored `/FlateDecode`. CPU-bound: call it from `spawn_blocking`.
pub fn images_to_pdf(pages: &[Vec<u8>], dpi: u32) -> Result<Vec<u8>, ScanError> {
    if pages.is_empty() {
        return Err(ScanError::InvalidInput("không có ảnh nào".to_owned()));
    }
    if dpi == 0 || dpi > 10_000 {
        return Err(ScanError::InvalidInput(format!("độ phân giải {dpi} dpi không hợp lệ")));
    }
    let images = pages
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let bad = |detail: String| ScanError::BadImage { page: i + 1, detail };
            let image = if bytes.starts_with(&[0xFF, 0xD8]) {
                jpeg_image(bytes).map_err(bad)?
            } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                png_image(bytes).map_err(bad)?
            } else {
                return Err(bad("không phải ảnh PNG hoặc JPEG".to_owned()));
            };
            let points = |px: u32| f64::from(px) * 72.0 / f64::from(dpi);
            if points(image.width) > MAX_PAGE_POINTS || points(image.height) > MAX_PAGE_POINTS {
                return Err(bad(format!("ảnh {}×{} điểm ảnh quá lớn ở {dpi} dpi", image.width, image.height)));
            }
            Ok(image)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(write_pdf(&images, dpi))
}

/// A JPEG's size and colour space from its start-of-frame segment; the data is kept as is.
fn jpeg_image(bytes: &[u8]) -> Result<PageImage, String> {
    let mut pos = 2;
    let mut adobe = false;
    loop {
        // Markers are 0xFF (possibly repeated) then the marker code.
        while bytes.get(pos) == Some(&0xFF) && bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(pos), bytes.get(pos + 1)) else {
            return Err("tệp JPEG bị hỏng".to_owned());
        };
        pos += 2;
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue;
        }
        if marker == 0xD9 || marker == 0xDA {
            return Err("tệp JPEG không có khung ảnh".to_owned());
        }
        let len = match (bytes.get(pos), bytes.get(pos + 1)) {
            (Some(&hi), Some(&lo)) => usize::from(u16::from_be_bytes([hi, lo])),
            _ => return Err("tệp JPEG bị cắt cụt".to_owned()),
        };
        let segment = bytes.get(pos + 2..pos + len).ok_or_else(|| "tệp JPEG bị cắt cụt".to_owned())?;
        if marker == 0xEE && segment.starts_with(b"Adobe") {
            adobe = true;
        }
        match marker {
            // Baseline, extended sequential, progressive Huffman.
            0xC0..=0xC2 => {
                let [precision, h1, h0, w1, w0, components, ..] = *segment else {
                    return Err("tệp JPEG bị hỏng".to_owned());
                };
                if precision != 8 {
                    return Err(format!("ảnh JPEG {precision} bit không được hỗ trợ"));
                }
                let (height, width) = (u16::from_be_bytes([h1, h0]), u16::from_be_bytes([w1, w0]));
                if width == 0 || height == 0 {
                    return Err("ảnh JPEG không ghi kích thước".to_owned());
                }
                let (colour_space, decode) = match components {
                    1 => ("/DeviceGray", None),
                    3 => ("/DeviceRGB", None),
                    4 => ("/DeviceCMYK", adobe.then_some("[1 0 1 0 1 0 1 0]")),
                    n => return Err(format!("ảnh JPEG có {n} kênh màu không được hỗ trợ")),
                };
                return Ok(PageImage {
                    width: u32::from(width),
                    height: u32::from(height),
                    colour_space,
                    filter: "/DCTDecode",
                    decode,
                    data: bytes.to_vec(),
                });
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err("kiểu mã hóa JPEG này không được hỗ trợ (cần baseline hoặc progressive)".to_owned());
            }
            _ => pos += len,
        }
    }
}

/// A PNG decoded to 8-bit grey or RGB and deflated.
fn png_image(bytes: &[u8]) -> Result<PageImage, String> {
    let mut decoder =
        png::Decoder::new_with_limits(std::io::Cursor::new(bytes), png::Limits { bytes: MAX_IMAGE_BYTES });
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(png_error)?;
    let size =
        reader.output_buffer_size().filter(|&n| n <= MAX_IMAGE_BYTES).ok_or_else(|| "ảnh PNG quá lớn".to_owned())?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(png_error)?;
    buf.truncate(frame.buffer_size());
    let (pixels, colour_space) = match frame.color_type {
        png::ColorType::Grayscale => (buf, "/DeviceGray"),
        png::ColorType::Rgb => (buf, "/DeviceRGB"),
        png::ColorType::GrayscaleAlpha => (flatten_alpha(&buf, 1), "/DeviceGray"),
        png::ColorType::Rgba => (flatten_alpha(&buf, 3), "/DeviceRGB"),
        png::ColorType::Indexed => return Err("bảng màu PNG không được giải mã".to_owned()),
    };
    if frame.bit_depth != png::BitDepth::Eight {
        return Err("độ sâu màu PNG không được hỗ trợ".to_owned());
    }
    // Grey saved as RGB (as some scanner software, and `pdftoppm -gray`, do) is stored grey:
    // a third of the size, and the colour check then sees what the scan holds.
    let (pixels, colour_space) = if colour_space == "/DeviceRGB"
        && pixels.chunks_exact(3).all(|p| matches!(*p, [r, g, b] if r == g && g == b))
    {
        (pixels.chunks_exact(3).filter_map(|p| p.first().copied()).collect(), "/DeviceGray")
    } else {
        (pixels, colour_space)
    };
    let mut z = flate2::write::ZlibEncoder::new(Vec::with_capacity(pixels.len() / 4), flate2::Compression::default());
    z.write_all(&pixels).map_err(|_| "không nén được ảnh".to_owned())?;
    let data = z.finish().map_err(|_| "không nén được ảnh".to_owned())?;
    Ok(PageImage { width: frame.width, height: frame.height, colour_space, filter: "/FlateDecode", decode: None, data })
}

/// Why a PNG cannot be read, for the clerk.
fn png_error(e: png::DecodingError) -> String {
    match e {
        png::DecodingError::LimitsExceeded => "ảnh PNG quá lớn".to_owned(),
        _ => "tệp PNG bị hỏng".to_owned(),
    }
}

/// Drops the alpha channel of 8-bit pixels of `colours` + 1 samples, compositing onto white.
fn flatten_alpha(pixels: &[u8], colours: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(pixels.len() / (colours + 1) * colours);
    for px in pixels.chunks_exact(colours + 1) {
        let (colour, alpha) = px.split_at(colours);
        let a = u32::from(alpha.first().copied().unwrap_or(255));
        // c·a + 255·(255 − a), divided by 255 with rounding; always ≤ 255.
        out.extend(colour.iter().map(|&c| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8));
    }
    out
}

/// Writes the PDF: catalog, page tree, then per page the page, its content stream and its
/// image; a cross-reference table with the byte offsets; a trailer with an /ID.
fn write_pdf(images: &[PageImage], dpi: u32) -> Vec<u8> {
    let capacity = images.iter().map(|i| i.data.len() + 600).sum::<usize>() + 1024;
    let mut pdf: Vec<u8> = Vec::with_capacity(capacity);
    let mut offsets: Vec<usize> = Vec::new();
    // Object numbers: 1 catalog, 2 pages, 3 info, then 3 per page from 4.
    let page_obj = |i: usize| 4 + 3 * i;
    pdf.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    let mut object = |pdf: &mut Vec<u8>, body: &[u8]| {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    };
    object(&mut pdf, b"<< /Type /Catalog /Pages 2 0 R >>");
    let kids: Vec<String> = (0..images.len()).map(|i| format!("{} 0 R", page_obj(i))).collect();
    object(&mut pdf, format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), images.len()).as_bytes());
    object(&mut pdf, b"<< /Producer (vanban) >>");
    for (i, image) in images.iter().enumerate() {
        let (w, h) = (points(image.width, dpi), points(image.height, dpi));
        object(
            &mut pdf,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Resources << /XObject << /Im0 {} 0 R >> >> \
                 /Contents {} 0 R >>",
                page_obj(i) + 2,
                page_obj(i) + 1
            )
            .as_bytes(),
        );
        let content = format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q");
        object(&mut pdf, format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()).as_bytes());
        let decode = image.decode.map(|d| format!(" /Decode {d}")).unwrap_or_default();
        let mut body = format!(
            "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace {} /BitsPerComponent 8 \
             /Filter {}{decode} /Length {} >>\nstream\n",
            image.width,
            image.height,
            image.colour_space,
            image.filter,
            image.data.len()
        )
        .into_bytes();
        body.extend_from_slice(&image.data);
        body.extend_from_slice(b"\nendstream");
        object(&mut pdf, &body);
    }
    let id = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&pdf).iter().take(16).copied().collect::<Vec<u8>>())
    };
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f\r\n", offsets.len() + 1).as_bytes());
    for offset in &offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n\r\n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 3 0 R /ID [<{id}> <{id}>] >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// `px` pixels at `dpi` in points, to 4 decimals without trailing zeros.
fn points(px: u32, dpi: u32) -> String {
    let s = format!("{:.4}", f64::from(px) * 72.0 / f64::from(dpi));
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn header_versions() {
        assert_eq!(header_version(b"%PDF-1.4\n").unwrap(), "1.4");
        assert_eq!(header_version(b"%PDF-1.7\r").unwrap(), "1.7");
        assert_eq!(header_version(b"%PDF-2.0\n").unwrap(), "2.0");
        assert!(matches!(header_version(b"%PDF-1.3\n"), Err(ScanError::TooOld { version }) if version == "1.3"));
        assert!(matches!(header_version(b"PK\x03\x04"), Err(ScanError::NotPdf)));
        assert!(matches!(header_version(b"%PDF-x"), Err(ScanError::NotPdf)));
        assert!(matches!(header_version(b"%PDF-9.1"), Err(ScanError::NotPdf)));
    }

    #[test]
    fn image_list() {
        let list = "\
page   num  type   width height color comp bpc  enc interp  object ID x-ppi y-ppi size ratio
--------------------------------------------------------------------------------------------
   1     0 image    1654  2339  rgb     3   8  image  no         6  0   200   200 1234K 10%
   1     1 smask    1654  2339  gray    1   8  image  no         7  0    72    72  12K 1.0%
   2     2 image    1240  1754  gray    1   8  jpeg   no        10  0   150   151  200K 9.4%
   3     3 image    1654  2339  icc     1   8  image  no        13  0   200   200  200K 9.4%
";
        let images = parse_image_list(list);
        assert_eq!(
            images,
            vec![
                ListedImage { dpi: 200, colour: true },
                ListedImage { dpi: 150, colour: false },
                ListedImage { dpi: 200, colour: false },
            ]
        );
        assert!(parse_image_list("").is_empty());
    }

    #[test]
    fn page_sizes() {
        assert_eq!(points(1654, 200), "595.44");
        assert_eq!(points(200, 200), "72");
    }

    #[tokio::test]
    async fn missing_tools_and_timeouts() {
        let e = run("vanban-no-such-tool", &[], Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(e, ScanError::ToolMissing { tool: "vanban-no-such-tool" }), "{e:?}");
        assert_eq!(e.code(), "ocr_tool_missing");
        let started = Instant::now();
        let e = run("sleep", &["10".as_ref()], Duration::from_millis(200)).await.unwrap_err();
        assert_eq!(e.code(), "ocr_timeout");
        assert!(started.elapsed() < Duration::from_secs(5));
        let e = run("false", &[], Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(e.code(), "ocr_failed");
    }

    #[test]
    fn jpeg_headers() {
        // SOI, a JFIF APP0, then a start of frame: 8 bits, 16 high, 32 wide, n components.
        let jpeg = |sof: u8, components: u8, adobe: bool| {
            let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
            b.extend_from_slice(b"JFIF\0\x01\x01\x01\0\x48\0\x48\0\0");
            if adobe {
                b.extend_from_slice(&[0xFF, 0xEE, 0, 14]);
                b.extend_from_slice(b"Adobe\0\x64\0\0\0\0\x02");
            }
            b.extend_from_slice(&[0xFF, sof, 0, 8 + 3 * components, 8, 0, 16, 0, 32, components]);
            b.extend(std::iter::repeat_n(0, 3 * components as usize));
            b.extend_from_slice(&[0xFF, 0xD9]);
            b
        };
        let grey = jpeg_image(&jpeg(0xC0, 1, false)).unwrap();
        assert_eq!((grey.width, grey.height, grey.colour_space, grey.decode), (32, 16, "/DeviceGray", None));
        assert_eq!(jpeg_image(&jpeg(0xC2, 3, false)).unwrap().colour_space, "/DeviceRGB");
        let cmyk = jpeg_image(&jpeg(0xC0, 4, true)).unwrap();
        assert_eq!((cmyk.colour_space, cmyk.decode), ("/DeviceCMYK", Some("[1 0 1 0 1 0 1 0]")));
        assert!(jpeg_image(&jpeg(0xC3, 1, false)).is_err(), "lossless JPEG");
        assert!(jpeg_image(&jpeg(0xC0, 2, false)).is_err());
        assert!(jpeg_image(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J']).is_err(), "truncated");
        assert!(jpeg_image(&[0xFF, 0xD8]).is_err());
    }

    /// A PNG made by the `png` crate's encoder.
    fn encode(width: u32, height: u32, colour: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = png::Encoder::new(&mut out, width, height);
        e.set_color(colour);
        e.set_depth(depth);
        if colour == png::ColorType::Indexed {
            e.set_palette(vec![255, 0, 0, 0, 0, 255]);
        }
        e.write_header().unwrap().write_image_data(data).unwrap();
        out
    }

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(data), &mut out).unwrap();
        out
    }

    #[test]
    fn png_kinds() {
        use png::{BitDepth, ColorType};
        // RGBA: alpha flattened onto white.
        let rgba = png_image(&encode(2, 1, ColorType::Rgba, BitDepth::Eight, &[10, 20, 30, 255, 0, 0, 0, 0])).unwrap();
        assert_eq!((rgba.colour_space, rgba.filter), ("/DeviceRGB", "/FlateDecode"));
        assert_eq!(inflate(&rgba.data), vec![10, 20, 30, 255, 255, 255]);
        // A 1-bit palette (red, blue): expanded to RGB.
        let indexed = png_image(&encode(2, 1, ColorType::Indexed, BitDepth::One, &[0b0100_0000])).unwrap();
        assert_eq!(inflate(&indexed.data), vec![255, 0, 0, 0, 0, 255]);
        // 1-bit black and white, 16-bit grey: 8-bit grey.
        let bw = png_image(&encode(3, 1, ColorType::Grayscale, BitDepth::One, &[0b1010_0000])).unwrap();
        assert_eq!((bw.colour_space, inflate(&bw.data)), ("/DeviceGray", vec![255, 0, 255]));
        let deep = png_image(&encode(1, 1, ColorType::Grayscale, BitDepth::Sixteen, &[0x80, 0x01])).unwrap();
        assert_eq!(inflate(&deep.data), vec![0x80]);
        // Grey saved as RGB: stored grey.
        let grey = png_image(&encode(2, 1, ColorType::Rgb, BitDepth::Eight, &[9, 9, 9, 200, 200, 200])).unwrap();
        assert_eq!((grey.colour_space, inflate(&grey.data)), ("/DeviceGray", vec![9, 200]));
        assert!(png_image(b"\x89PNG\r\n\x1a\n").is_err());
    }

    #[test]
    fn alpha_onto_white() {
        assert_eq!(flatten_alpha(&[0, 0, 0, 0, 10, 20, 30, 255], 3), vec![255, 255, 255, 10, 20, 30]);
    }
}
