//! Errors of the PDF signing layer, each with a stable code and a Vietnamese message.

/// What went wrong while reading, signing or validating a PDF.
#[derive(Debug, thiserror::Error)]
pub enum PadesError {
    #[error("not a PDF file")]
    NotPdf,
    #[error("malformed PDF: {0}")]
    Malformed(String),
    #[error("unsupported PDF feature: {0}")]
    Unsupported(String),
    #[error("encrypted PDFs cannot be signed")]
    Encrypted,
    #[error("the file is too large ({size} bytes, limit {limit})")]
    TooLarge { size: usize, limit: usize },
    #[error("form field not found: {0}")]
    FieldNotFound(String),
    #[error("signature field already signed: {0}")]
    AlreadySigned(String),
    #[error("the document does not permit this change (DocMDP P=1)")]
    NoChangesPermitted,
    #[error("bad image: {0}")]
    BadImage(String),
    #[error("font: {0}")]
    Font(String),
    #[error("the signature does not fit its reserved space ({need} > {have} bytes)")]
    PlaceholderTooSmall { need: usize, have: usize },
    #[error("the file changed between prepare and embed")]
    PreparedMismatch,
    #[error(transparent)]
    Pki(#[from] vanban_pki::PkiError),
}

impl PadesError {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            PadesError::NotPdf => "not_pdf",
            PadesError::Malformed(_) => "malformed_pdf",
            PadesError::Unsupported(_) => "unsupported_pdf",
            PadesError::Encrypted => "encrypted_pdf",
            PadesError::TooLarge { .. } => "pdf_too_large",
            PadesError::FieldNotFound(_) => "field_not_found",
            PadesError::AlreadySigned(_) => "already_signed",
            PadesError::NoChangesPermitted => "no_changes_permitted",
            PadesError::BadImage(_) => "bad_image",
            PadesError::Font(_) => "font_unavailable",
            PadesError::PlaceholderTooSmall { .. } => "signature_too_large",
            PadesError::PreparedMismatch => "prepared_mismatch",
            PadesError::Pki(e) => e.code(),
        }
    }

    /// A message for people, in Vietnamese.
    pub fn message_vi(&self) -> String {
        match self {
            PadesError::NotPdf => "Tệp không phải là tệp PDF.".to_owned(),
            PadesError::Malformed(_) => "Tệp PDF bị hỏng hoặc không đầy đủ.".to_owned(),
            PadesError::Unsupported(_) => "Tệp PDF dùng tính năng chưa được hỗ trợ.".to_owned(),
            PadesError::Encrypted => "Không ký được tệp PDF đã mã hóa.".to_owned(),
            PadesError::TooLarge { limit, .. } => format!("Tệp quá lớn (tối đa {} MB).", limit / (1024 * 1024)),
            PadesError::FieldNotFound(f) => format!("Không tìm thấy ô ký hoặc ô nhập \u{201c}{f}\u{201d} trong tệp."),
            PadesError::AlreadySigned(_) => "Ô chữ ký này đã được ký.".to_owned(),
            PadesError::NoChangesPermitted => "Văn bản đã khóa, không cho phép thay đổi sau chữ ký.".to_owned(),
            PadesError::BadImage(_) => "Ảnh chữ ký hoặc con dấu không hợp lệ (cần tệp PNG).".to_owned(),
            PadesError::Font(_) => "Không tìm thấy phông chữ Times New Roman/Liberation Serif.".to_owned(),
            PadesError::PlaceholderTooSmall { .. } => "Chữ ký vượt quá vùng dành sẵn trong tệp.".to_owned(),
            PadesError::PreparedMismatch => "Tệp đã thay đổi giữa hai bước ký.".to_owned(),
            PadesError::Pki(e) => e.message_vi(),
        }
    }
}

pub type Result<T, E = PadesError> = std::result::Result<T, E>;
