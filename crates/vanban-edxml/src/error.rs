//! Why a package was refused, in English (Display) and in Vietnamese (for the Description of a
//! status 02 package sent back to the sender).

/// A package that cannot be read, built or trusted.
#[derive(Debug, thiserror::Error)]
pub enum EdxmlError {
    #[error("not an XML document: {0}")]
    NotXml(String),
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("wrong namespace {0:?}, expected {ns}", ns = crate::NS)]
    WrongNamespace(String),
    #[error("missing required element {0}")]
    MissingElement(String),
    #[error("{element} is {len} characters long, at most {max} allowed")]
    TooLong { element: String, max: usize, len: usize },
    #[error("invalid {element}: {reason}")]
    Invalid { element: String, reason: String },
    #[error("recipient {0} appears more than once in MessageHeader/To")]
    DuplicateRecipient(String),
    #[error("attachment {content_id} is not valid base64")]
    BadBase64 { content_id: String },
    #[error("attachment {content_id} decompresses beyond the limits (zip bomb)")]
    ZipBomb { content_id: String },
    #[error("package too large: {0}")]
    TooLarge(String),
    #[error("DOCTYPE and entity declarations are not allowed")]
    DoctypeForbidden,
    #[error("the package is not signed")]
    Unsigned,
    #[error("bad signature: {0}")]
    BadSignature(String),
    #[error("cannot sign the package: {0}")]
    Signing(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl EdxmlError {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            EdxmlError::NotXml(_) => "edxml_not_xml",
            EdxmlError::Malformed(_) => "edxml_malformed",
            EdxmlError::WrongNamespace(_) => "edxml_wrong_namespace",
            EdxmlError::MissingElement(_) => "edxml_missing_element",
            EdxmlError::TooLong { .. } => "edxml_too_long",
            EdxmlError::Invalid { .. } => "edxml_invalid",
            EdxmlError::DuplicateRecipient(_) => "edxml_duplicate_recipient",
            EdxmlError::BadBase64 { .. } => "edxml_bad_base64",
            EdxmlError::ZipBomb { .. } => "edxml_zip_bomb",
            EdxmlError::TooLarge(_) => "edxml_too_large",
            EdxmlError::DoctypeForbidden => "edxml_doctype_forbidden",
            EdxmlError::Unsigned => "edxml_unsigned",
            EdxmlError::BadSignature(_) => "edxml_bad_signature",
            EdxmlError::Signing(_) => "edxml_signing_failed",
            EdxmlError::Io(_) => "edxml_io",
        }
    }

    /// The element the error is about, when there is one.
    pub fn element(&self) -> Option<&str> {
        match self {
            EdxmlError::MissingElement(e) | EdxmlError::TooLong { element: e, .. } => Some(e),
            EdxmlError::Invalid { element, .. } => Some(element),
            EdxmlError::DuplicateRecipient(_) => Some("MessageHeader/To/OrganId"),
            EdxmlError::BadBase64 { .. } | EdxmlError::ZipBomb { .. } => {
                Some("AttachmentEncoded/Attachment/ContentTransferEncoded")
            }
            _ => None,
        }
    }

    /// The reason in Vietnamese, for the Description of a status 02 (Từ chối tiếp nhận) package.
    pub fn message_vi(&self) -> String {
        match self {
            EdxmlError::NotXml(r) => format!("Gói tin không phải là tài liệu XML: {r}"),
            EdxmlError::Malformed(r) => format!("Gói tin XML sai cú pháp (chi tiết kỹ thuật: {r})"),
            EdxmlError::WrongNamespace(ns) => {
                format!("Gói tin không đúng không gian tên edXML của QCVN 102:2016 (nhận được \"{ns}\")")
            }
            EdxmlError::MissingElement(e) => format!("Gói tin thiếu phần tử bắt buộc: {e}"),
            EdxmlError::TooLong { element, max, len } => {
                format!("Phần tử {element} dài {len} ký tự, vượt quá độ dài tối đa {max} ký tự")
            }
            EdxmlError::Invalid { element, reason } => format!("Giá trị của phần tử {element} không hợp lệ ({reason})"),
            EdxmlError::DuplicateRecipient(c) => format!("Đơn vị nhận {c} bị lặp lại trong danh sách nơi nhận"),
            EdxmlError::BadBase64 { content_id } => {
                format!("Tệp đính kèm {content_id} không được mã hóa base64 hợp lệ")
            }
            EdxmlError::ZipBomb { content_id } => {
                format!("Tệp đính kèm {content_id} vượt quá giới hạn dung lượng khi giải nén")
            }
            EdxmlError::TooLarge(r) => format!("Gói tin vượt quá giới hạn kích thước cho phép: {r}"),
            EdxmlError::DoctypeForbidden => {
                "Gói tin chứa khai báo DOCTYPE hoặc thực thể XML, không được chấp nhận".to_owned()
            }
            EdxmlError::Unsigned => "Gói tin không có chữ ký số".to_owned(),
            EdxmlError::BadSignature(r) => format!("Chữ ký số của gói tin không hợp lệ (chi tiết kỹ thuật: {r})"),
            EdxmlError::Signing(r) => format!("Không ký được gói tin: {r}"),
            EdxmlError::Io(e) => format!("Lỗi đọc, ghi dữ liệu: {e}"),
        }
    }
}
