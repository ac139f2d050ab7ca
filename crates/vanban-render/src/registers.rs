//! Registers of documents (Decree 30/2020/NĐ-CP, Appendix IV) printed for a period: the
//! register of outgoing documents, of incoming documents, and the tracking of how incoming
//! documents are handled. As PDF/A (laid out by typst, `templates/register.typ`) and as XLSX.
//!
//! The caller supplies the rows as final text, one cell per column of the decree; this module
//! checks their shape, normalises the text to NFC and lays it out. User text is data to the
//! layout, never markup.

use std::sync::OnceLock;

use chrono::NaiveDate;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};
use serde::Serialize;
use vanban_domain::nfc;

use crate::{RenderError, Renderer};

/// Which register of Decree 30, Appendix IV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterKind {
    /// Sổ đăng ký văn bản đi.
    Outgoing,
    /// Sổ đăng ký văn bản đến.
    Incoming,
    /// Sổ theo dõi giải quyết văn bản đến.
    Tracking,
}

const OUTGOING_COLUMNS: [&str; 10] = [
    "Số, ký hiệu văn bản",
    "Ngày tháng văn bản",
    "Tên loại và trích yếu nội dung văn bản",
    "Người ký",
    "Nơi nhận văn bản",
    "Đơn vị, người nhận bản lưu",
    "Số lượng bản",
    "Ngày chuyển",
    "Ký nhận",
    "Ghi chú",
];

const INCOMING_COLUMNS: [&str; 10] = [
    "Ngày đến",
    "Số đến",
    "Tác giả",
    "Số, ký hiệu",
    "Ngày tháng văn bản",
    "Tên loại và trích yếu nội dung",
    "Đơn vị hoặc người nhận",
    "Ngày chuyển",
    "Ký nhận",
    "Ghi chú",
];

const TRACKING_COLUMNS: [&str; 7] = [
    "Số đến",
    "Tên loại, số, ký hiệu, ngày tháng văn bản và cơ quan ban hành",
    "Đơn vị hoặc người nhận",
    "Thời hạn giải quyết",
    "Tiến độ giải quyết",
    "Số, ký hiệu văn bản trả lời",
    "Ghi chú",
];

/// Widths of the columns in millimetres on the A4 landscape line (267 mm), by what they hold:
/// a date or a symbol fits on one line, the subject is the widest. In the PDF they are
/// relative (fractions of the line); in the XLSX, multiplied by [`XLSX_CHARS_PER_MM`], widths
/// in characters.
const OUTGOING_WIDTHS: [f64; 10] = [31.0, 23.0, 60.0, 28.0, 31.0, 25.0, 14.0, 23.0, 17.0, 15.0];
const INCOMING_WIDTHS: [f64; 10] = [23.0, 14.0, 30.0, 30.0, 23.0, 60.0, 32.0, 23.0, 17.0, 15.0];
const TRACKING_WIDTHS: [f64; 7] = [16.0, 85.0, 40.0, 25.0, 45.0, 33.0, 23.0];
const XLSX_CHARS_PER_MM: f64 = 0.55;

/// The message printed under the header of a register with no entry in the period.
pub const EMPTY_REGISTER_VI: &str = "Không có văn bản nào trong khoảng thời gian này.";

impl RegisterKind {
    /// The decree's columns, in order (Vietnamese, NFC).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            RegisterKind::Outgoing => &OUTGOING_COLUMNS,
            RegisterKind::Incoming => &INCOMING_COLUMNS,
            RegisterKind::Tracking => &TRACKING_COLUMNS,
        }
    }

    /// The register's title, as printed.
    pub fn title_vi(self) -> &'static str {
        match self {
            RegisterKind::Outgoing => "SỔ ĐĂNG KÝ VĂN BẢN ĐI",
            RegisterKind::Incoming => "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN",
            RegisterKind::Tracking => "SỔ THEO DÕI GIẢI QUYẾT VĂN BẢN ĐẾN",
        }
    }

    /// The name of the XLSX worksheet (Vietnamese: worksheet names are Unicode, ≤ 31 characters).
    pub fn sheet_name(self) -> &'static str {
        match self {
            RegisterKind::Outgoing => "Sổ đi",
            RegisterKind::Incoming => "Sổ đến",
            RegisterKind::Tracking => "Theo dõi",
        }
    }

    fn widths(self) -> &'static [f64] {
        match self {
            RegisterKind::Outgoing => &OUTGOING_WIDTHS,
            RegisterKind::Incoming => &INCOMING_WIDTHS,
            RegisterKind::Tracking => &TRACKING_WIDTHS,
        }
    }

    /// The column of the incoming number ("Số đến"), written as a number in XLSX when it is one.
    fn number_column(self) -> Option<usize> {
        self.columns().iter().position(|c| *c == "Số đến")
    }
}

/// A register printed for a period.
#[derive(Debug, Clone)]
pub struct RegisterReport {
    pub kind: RegisterKind,
    /// The agency keeping the register ("Ủy ban nhân dân tỉnh Bình An").
    pub agency_name: String,
    /// Its managing agency (cơ quan chủ quản), printed above it, if any.
    pub parent_name: Option<String>,
    /// The register ("Sổ văn bản hành chính năm 2026").
    pub register_name: String,
    /// The period, both days included.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One entry per row, exactly `kind.columns().len()` cells, already formatted as text.
    pub rows: Vec<Vec<String>>,
    /// When the report was generated, as printed ("30/11/2026 14:05").
    pub generated_at: String,
}

impl RegisterReport {
    /// "Từ ngày 01/01/2026 đến ngày 31/12/2026".
    pub fn period_vi(&self) -> String {
        format!("Từ ngày {} đến ngày {}", self.from.format("%d/%m/%Y"), self.to.format("%d/%m/%Y"))
    }

    /// Checks the shape of the report and normalises its text to NFC.
    fn prepare(&self) -> Result<Prepared, RenderError> {
        let columns = self.kind.columns();
        if self.from > self.to {
            return Err(RenderError::InvalidRegister(format!(
                "the period starts ({}) after it ends ({})",
                self.from, self.to
            )));
        }
        if let Some((i, row)) = self.rows.iter().enumerate().find(|(_, r)| r.len() != columns.len()) {
            return Err(RenderError::InvalidRegister(format!(
                "row {} has {} cells, the {} has {} columns",
                i + 1,
                row.len(),
                self.kind.title_vi(),
                columns.len()
            )));
        }
        let parent = self.parent_name.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(nfc);
        Ok(Prepared {
            title: self.kind.title_vi(),
            parent,
            agency: nfc(self.agency_name.trim()),
            register_name: nfc(self.register_name.trim()),
            period: self.period_vi(),
            columns,
            widths: self.kind.widths(),
            rows: self.rows.iter().map(|r| r.iter().map(|c| nfc(c)).collect()).collect(),
            generated_at: nfc(self.generated_at.trim()),
            empty_text: EMPTY_REGISTER_VI,
        })
    }

    /// The day of generation, when `generated_at` starts with "dd/mm/yyyy".
    fn generated_on(&self) -> Option<NaiveDate> {
        let day = self.generated_at.split_whitespace().next()?;
        NaiveDate::parse_from_str(day, "%d/%m/%Y").ok()
    }
}

/// What the layout prints, every string final (`/register.json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Prepared {
    title: &'static str,
    parent: Option<String>,
    agency: String,
    register_name: String,
    period: String,
    columns: &'static [&'static str],
    widths: &'static [f64],
    rows: Vec<Vec<String>>,
    generated_at: String,
    empty_text: &'static str,
}

impl Renderer {
    /// Renders a register to PDF/A-2b (A4 landscape) with this renderer's fonts.
    pub fn register_pdf(&self, report: &RegisterReport) -> Result<Vec<u8>, RenderError> {
        let prepared = report.prepare()?;
        let data = serde_json::to_vec(&prepared).map_err(|e| RenderError::Layout(e.to_string()))?;
        // The PDF's creation date is the day of generation (none when `generated_at` does not
        // read as a date).
        let generated = report.generated_on();
        let (pdf, _pages) = self.render_register(data, generated.unwrap_or(report.to), generated)?;
        Ok(pdf)
    }
}

/// Renders a register to PDF/A-2b (A4 landscape), with the fonts of
/// [`crate::DEFAULT_FONT_DIRS`] (loaded once per process).
pub fn register_pdf(report: &RegisterReport) -> Result<Vec<u8>, RenderError> {
    static RENDERER: OnceLock<Renderer> = OnceLock::new();
    // Checked before loading fonts: a malformed report fails fast.
    report.prepare()?;
    let renderer = match RENDERER.get() {
        Some(r) => r,
        None => {
            let loaded = Renderer::new()?;
            RENDERER.get_or_init(|| loaded)
        }
    };
    renderer.register_pdf(report)
}

/// Rows above the header in the XLSX: agency, title, register name, period.
const XLSX_TITLE_ROWS: u32 = 4;

/// Renders a register as an XLSX workbook of one worksheet.
pub fn register_xlsx(report: &RegisterReport) -> Result<Vec<u8>, RenderError> {
    let p = report.prepare()?;
    build_xlsx(report.kind, &p).map_err(|e| RenderError::Xlsx(e.to_string()))
}

fn build_xlsx(kind: RegisterKind, p: &Prepared) -> Result<Vec<u8>, XlsxError> {
    let ncols = p.columns.len();
    let last_col = u16::try_from(ncols - 1).unwrap_or(u16::MAX);
    let font = "Times New Roman";
    let base = Format::new().set_font_name(font).set_font_size(11);
    let bold = base.clone().set_bold();
    let agency = base.clone().set_align(FormatAlign::Center).set_align(FormatAlign::VerticalCenter).set_text_wrap();
    let title = bold.clone().set_font_size(14).set_align(FormatAlign::Center);
    let centred = base.clone().set_align(FormatAlign::Center);
    let period = centred.clone().set_italic();
    let header = bold
        .clone()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap()
        .set_border(FormatBorder::Thin);
    let cell = base.clone().set_align(FormatAlign::Top).set_text_wrap().set_border(FormatBorder::Thin);
    let number = cell.clone().set_align(FormatAlign::Center);

    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(kind.sheet_name())?;
    sheet.set_landscape();
    sheet.set_paper_size(9); // A4
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_margins(0.5, 0.5, 0.6, 0.6, 0.3, 0.3);
    sheet.set_footer(format!("&LNgày in: {}&RTrang &P/&N", p.generated_at.replace('&', "&&")));

    for (i, w) in p.widths.iter().enumerate() {
        sheet.set_column_width(u16::try_from(i).unwrap_or(u16::MAX), w * XLSX_CHARS_PER_MM)?;
    }

    // Agency over the first columns: the managing agency above, the agency in bold.
    let agency_cols = if ncols > 3 { 2 } else { 1 };
    sheet.merge_range(0, 0, 0, agency_cols, "", &agency)?;
    let agency_name = p.agency.to_uppercase();
    match &p.parent {
        Some(parent) => {
            let parent = format!("{}\n", parent.to_uppercase());
            sheet.write_rich_string_with_format(0, 0, &[(&base, parent.as_str()), (&bold, &agency_name)], &agency)?;
            sheet.set_row_height(0, 32)?;
        }
        None => {
            sheet.write_string_with_format(0, 0, &agency_name, &agency.clone().set_bold())?;
        }
    }
    sheet.merge_range(1, 0, 1, last_col, p.title, &title)?;
    sheet.set_row_height(1, 22)?;
    sheet.merge_range(2, 0, 2, last_col, &p.register_name, &centred)?;
    sheet.merge_range(3, 0, 3, last_col, &p.period, &period)?;

    let header_row = XLSX_TITLE_ROWS;
    for (i, c) in p.columns.iter().enumerate() {
        sheet.write_string_with_format(header_row, u16::try_from(i).unwrap_or(u16::MAX), *c, &header)?;
    }
    sheet.set_row_height(header_row, 45)?;
    sheet.set_freeze_panes(header_row + 1, 0)?;
    sheet.set_repeat_rows(header_row, header_row)?;

    let number_col = kind.number_column();
    let mut row = header_row + 1;
    for entry in &p.rows {
        for (i, value) in entry.iter().enumerate() {
            let col = u16::try_from(i).unwrap_or(u16::MAX);
            match value.trim().parse::<u32>() {
                Ok(n) if Some(i) == number_col => {
                    sheet.write_number_with_format(row, col, f64::from(n), &number)?;
                }
                _ => {
                    sheet.write_string_with_format(row, col, value, &cell)?;
                }
            }
        }
        row += 1;
    }
    if p.rows.is_empty() {
        sheet.merge_range(
            row,
            0,
            row,
            last_col,
            p.empty_text,
            &cell.clone().set_italic().set_align(FormatAlign::Center),
        )?;
    }

    workbook.save_to_buffer()
}
