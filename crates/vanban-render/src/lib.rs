//! Renders Decree 30/2020 documents to PDF/A-2b inside the process, with typst.
//!
//! A [`DocumentSpec`] (JSON) is prepared into final strings (dates, symbols, title lines —
//! computed here, tested here), handed to the layout template `templates/decree30.typ` as
//! data, compiled by typst and exported as PDF/A-2b. The layout leaves fixed-size *slots*
//! for what comes later — the number and the issue date (filled by the clerk at issuing) and
//! the signer's box (signed by the leader) — and reports where they ended up, so that the
//! signing and issuing parts place their fields and signatures there.
//!
//! The registers of Decree 30, Appendix IV (outgoing, incoming, tracking) are printed for a
//! period as PDF/A or XLSX by [`registers`].
//!
//! A [`Renderer`] loads fonts and the template once and is shared by every render; typst's
//! memoisation caches are evicted after each render so a long-running server stays flat.

#![forbid(unsafe_code)]

mod fields;
pub mod office;
pub mod registers;
mod spec;
mod world;

use chrono::NaiveDate;
use serde::Serialize;

pub use fields::names as field_names;
pub use registers::{RegisterKind, RegisterReport, register_pdf, register_xlsx};
pub use spec::{AppendixSpec, DocumentSpec, SignerSpec, vietnamese_date};
pub use world::{DEFAULT_FONT_DIRS, DEFAULT_TEMPLATE, Renderer};

/// Why a document could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A field of the document is missing or invalid.
    #[error(transparent)]
    Domain(#[from] vanban_domain::DomainError),
    /// The body has a block the layout does not know.
    #[error("invalid body: {0}")]
    Body(String),
    /// No usable font was found (install fonts-liberation2).
    #[error("no serif font with Vietnamese coverage found (looked in: {0})")]
    FontMissing(String),
    /// The template failed to compile (an error in an agency's adjusted template).
    #[error("layout error: {0}")]
    Layout(String),
    /// The PDF export failed.
    #[error("PDF export failed: {0}")]
    Export(String),
    /// An uploaded file is not a DOCX or ODT document.
    #[error("not an office document: {0}")]
    NotOffice(String),
    /// An uploaded document is protected by a password.
    #[error("the document is protected by a password")]
    Encrypted,
    /// LibreOffice could not convert the document.
    #[error("conversion failed: {0}")]
    Conversion(String),
    /// LibreOffice is not installed.
    #[error("LibreOffice is not available: {0}")]
    ConverterMissing(String),
    /// A register report is malformed (a row with the wrong number of cells, a reversed period).
    #[error("invalid register: {0}")]
    InvalidRegister(String),
    /// The XLSX export of a register failed.
    #[error("XLSX export failed: {0}")]
    Xlsx(String),
}

impl RenderError {
    /// The stable code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            RenderError::Domain(e) => e.code(),
            RenderError::Body(_) => "invalid_body",
            RenderError::FontMissing(_) => "font_missing",
            RenderError::Layout(_) => "layout_error",
            RenderError::Export(_) => "export_error",
            RenderError::NotOffice(_) => "not_an_office_document",
            RenderError::Encrypted => "document_encrypted",
            RenderError::Conversion(_) => "conversion_failed",
            RenderError::ConverterMissing(_) => "converter_missing",
            RenderError::InvalidRegister(_) => "invalid_register",
            RenderError::Xlsx(_) => "xlsx_export_error",
        }
    }
}

/// A rectangle on a page, in millimetres from the page's top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SlotBox {
    /// Page number, from 1.
    pub page: usize,
    pub x_mm: f64,
    pub y_mm: f64,
    pub width_mm: f64,
    pub height_mm: f64,
}

/// Where the layout put the places that are filled or signed later.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Slots {
    /// The number after "Số:", when the document has none yet.
    pub number: Option<SlotBox>,
    /// Day and month of the date line, when the document is undated.
    pub day: Option<SlotBox>,
    pub month: Option<SlotBox>,
    /// The signer's box, between the position and the name (blue signature image).
    pub signer: Option<SlotBox>,
    /// The agency's seal: real size, over the left third of the signer's box (red seal).
    pub seal: Option<SlotBox>,
}

/// A rendered document.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub pdf: Vec<u8>,
    pub pages: usize,
    pub slots: Slots,
}

/// The options of one render.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// The date of rendering: the year of an undated date line, the PDF's creation date.
    pub today: NaiveDate,
    /// Diameter of the agency's seal, in millimetres (typically 35–42).
    pub seal_mm: f64,
}

impl RenderOptions {
    pub fn on(today: NaiveDate) -> Self {
        RenderOptions { today, seal_mm: 36.0 }
    }
}
