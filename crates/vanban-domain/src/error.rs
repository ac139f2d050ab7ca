//! The domain error type, with stable machine codes and Vietnamese messages.

use crate::agency::AgencyLevel;
use crate::lifecycle::label_vi_of;
use crate::permission::Permission;

/// Declares the reason strings carried by errors together with their
/// Vietnamese translations.
macro_rules! reasons {
    ($($name:ident = $en:literal => $vi:literal;)+) => {
        /// Stable English reasons carried by [`DomainError`] variants.
        pub mod reason {
            $(
                #[doc = concat!("`", $en, "`")]
                pub const $name: &str = $en;
            )+
        }

        /// Vietnamese translation of a reason from [`reason`].
        fn reason_vi(en: &str) -> Option<&'static str> {
            match en {
                $($en => Some($vi),)+
                _ => None,
            }
        }

        #[cfg(test)]
        const ALL_REASONS: &[&str] = &[$($en),+];
    };
}

reasons! {
    EMPTY = "empty" => "không được để trống";
    TOO_LONG = "too long" => "quá dài";
    TOO_SHORT = "too short" => "quá ngắn";
    INVALID_CHARACTER = "invalid character" => "có ký tự không hợp lệ";
    EMPTY_GROUP = "empty group" => "có nhóm ký tự rỗng";
    MALFORMED_LEGACY_CODE = "malformed legacy code" => "sai cấu trúc mã theo QCVN 102:2016";
    LEVEL_OUT_OF_RANGE = "level out of range" => "giá trị cấp vượt quá giới hạn";
    INVALID_LEVEL1 = "level 1 must be a letter and two digits" => "mã cấp 1 phải gồm một chữ cái và hai chữ số";
    UNKNOWN_AGENCY_LEVEL = "unknown agency level" => "cấp hành chính không tồn tại";
    ABBREVIATION_CHARS = "only upper-case letters, digits and '&' are allowed" => "chỉ được dùng chữ in hoa, chữ số và ký tự '&'";
    OWN_PARENT = "cannot be its own parent" => "không thể là cấp trên của chính nó";
    MUST_START_ALPHANUMERIC = "must start with a letter or digit" => "phải bắt đầu bằng chữ cái hoặc chữ số";
    INVALID_EMAIL = "not a valid e-mail address" => "địa chỉ thư điện tử không hợp lệ";
    NOT_A_UUID = "not a valid UUID" => "mã định danh không hợp lệ";
    UNKNOWN_AUTHORITY = "unknown signing authority" => "thẩm quyền ký không tồn tại";
    SELF_DELEGATION = "grantor and grantee must differ" => "người ủy quyền và người được ủy quyền phải khác nhau";
    EMPTY_PERIOD = "valid_from must be before valid_until" => "thời điểm bắt đầu phải trước thời điểm kết thúc";
    AUTHORITY_NOT_DELEGABLE = "only KT., TL., TUQ. or Q. can be delegated" => "chỉ được giao ký thay, thừa lệnh, thừa ủy quyền hoặc quyền cấp trưởng";
    NO_FURTHER_AUTHORISATION = "authorisation cannot be delegated further" => "người được ủy quyền không được ủy quyền lại cho người khác";
    UNKNOWN_COPY_FORM = "unknown copy form" => "hình thức sao không tồn tại";
    MUST_BE_POSITIVE = "must be at least 1" => "phải lớn hơn hoặc bằng 1";
    NOT_A_NUMBER = "not a number" => "không phải là số";
    OUT_OF_RANGE = "out of range" => "vượt quá giới hạn";
    MISPLACED_SEPARATOR = "separators must not lead, trail or repeat" => "dấu phân cách không được đứng đầu, cuối hoặc liền nhau";
    MISSING_SLASH = "expected <number>/<symbol>" => "phải có dạng <số>/<ký hiệu>";
    DUPLICATE_RECIPIENT = "duplicate recipient code" => "nơi nhận bị trùng mã định danh";
    UNKNOWN_STATE = "unknown state" => "trạng thái không tồn tại";
    UNKNOWN_ACTION = "unknown action" => "thao tác không tồn tại";
    UNKNOWN_PERMISSION = "unknown permission" => "quyền không tồn tại";
    UNKNOWN_CODE = "unknown code" => "mã không tồn tại";
}

/// Every error the domain core can return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// An agency identifier code is malformed.
    #[error("invalid agency code {code:?}: {reason}")]
    InvalidAgencyCode {
        /// The code as normalised (trimmed, upper-cased).
        code: String,
        /// Why it is invalid (one of [`reason`]).
        reason: &'static str,
    },
    /// A required field is blank.
    #[error("field {field} is required")]
    FieldRequired {
        /// Field name (Appendix VI tag where there is one).
        field: &'static str,
    },
    /// A field exceeds its maximum length (characters after NFC, or digits).
    #[error("field {field} is too long: {actual} characters, at most {max}")]
    FieldTooLong {
        /// Field name.
        field: &'static str,
        /// Maximum length.
        max: usize,
        /// Actual length.
        actual: usize,
    },
    /// A field has a value that breaks a rule.
    #[error("invalid value for {field}: {reason}")]
    InvalidValue {
        /// Field name.
        field: &'static str,
        /// Why it is invalid (one of [`reason`]).
        reason: &'static str,
    },
    /// No role has this name.
    #[error("unknown role: {0}")]
    UnknownRole(String),
    /// No document type has this name, code or abbreviation.
    #[error("unknown document type: {0}")]
    UnknownDocumentType(String),
    /// The action is not allowed in the current lifecycle state.
    #[error("cannot apply {action} in state {from}")]
    IllegalTransition {
        /// The state code.
        from: &'static str,
        /// The action code.
        action: &'static str,
    },
    /// A delegation breaks a Decree 30 rule.
    #[error("invalid delegation: {0}")]
    InvalidDelegation(&'static str),
    /// An agency of this level cannot sit under the parent's level.
    #[error("a {child} agency cannot be placed under a {parent} agency")]
    AgencyLevelMismatch {
        /// The parent's level code.
        parent: &'static str,
        /// The child's level code.
        child: &'static str,
    },
    /// The child's code is not below the parent's code.
    #[error("agency code {code} is not under parent code {parent}")]
    CodeNotUnderParent {
        /// The child code.
        code: String,
        /// The parent code.
        parent: String,
    },
    /// The caller lacks a permission (the payload is its code).
    #[error("forbidden: missing permission {0}")]
    Forbidden(&'static str),
    /// A draft with no content (no saved version, no uploaded rendition) cannot go to review
    /// or be approved.
    #[error("the draft has no content yet")]
    EmptyDraft,
}

impl DomainError {
    /// A stable snake_case code for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::InvalidAgencyCode { .. } => "invalid_agency_code",
            DomainError::FieldRequired { .. } => "field_required",
            DomainError::FieldTooLong { .. } => "field_too_long",
            DomainError::InvalidValue { .. } => "invalid_value",
            DomainError::UnknownRole(_) => "unknown_role",
            DomainError::UnknownDocumentType(_) => "unknown_document_type",
            DomainError::IllegalTransition { .. } => "illegal_transition",
            DomainError::InvalidDelegation(_) => "invalid_delegation",
            DomainError::AgencyLevelMismatch { .. } => "agency_level_mismatch",
            DomainError::CodeNotUnderParent { .. } => "code_not_under_parent",
            DomainError::Forbidden(_) => "forbidden",
            DomainError::EmptyDraft => "empty_draft",
        }
    }

    /// A message in Vietnamese for people.
    pub fn message_vi(&self) -> String {
        match self {
            DomainError::InvalidAgencyCode { code, reason } => {
                format!("Mã định danh cơ quan không hợp lệ: {code} ({})", vi(reason))
            }
            DomainError::FieldRequired { field } => format!("Trường «{}» là bắt buộc", field_vi(field)),
            DomainError::FieldTooLong { field, max, .. } => {
                format!("Trường «{}» vượt quá {max} ký tự", field_vi(field))
            }
            DomainError::InvalidValue { field, reason } => {
                format!("Giá trị của trường «{}» không hợp lệ: {}", field_vi(field), vi(reason))
            }
            DomainError::UnknownRole(role) => format!("Vai trò không tồn tại: {role}"),
            DomainError::UnknownDocumentType(t) => format!("Loại văn bản không tồn tại: {t}"),
            DomainError::IllegalTransition { from, action } => format!(
                "Không thể chuyển trạng thái từ «{}» bằng thao tác «{}»",
                label_vi_of(from).unwrap_or(from),
                label_vi_of(action).unwrap_or(action)
            ),
            DomainError::InvalidDelegation(reason) => {
                format!("Ủy quyền ký không hợp lệ: {}", vi(reason))
            }
            DomainError::AgencyLevelMismatch { parent, child } => {
                format!("Cơ quan {} không thể trực thuộc cơ quan {}", level_vi(child), level_vi(parent))
            }
            DomainError::CodeNotUnderParent { code, parent } => {
                format!("Mã định danh {code} không thuộc mã định danh của cơ quan cấp trên {parent}")
            }
            DomainError::Forbidden(permission) => format!(
                "Bạn không có quyền thực hiện thao tác này ({})",
                Permission::from_snake(permission).map_or(*permission, Permission::label_vi)
            ),
            DomainError::EmptyDraft => {
                "Dự thảo chưa có nội dung: hãy soạn và lưu một phiên bản (hoặc tải tệp lên) trước khi trình hoặc duyệt"
                    .to_owned()
            }
        }
    }
}

/// The Vietnamese reason, or the English one when there is no translation.
/// The name a form shows for a field (the names of the API, the store and edXML's elements),
/// or the name itself.
pub fn field_vi(field: &str) -> &str {
    match field {
        "subject" | "Subject" => "Trích yếu",
        "unit_abbreviation" => "Ký hiệu đơn vị soạn thảo",
        "abbreviation" => "Chữ viết tắt",
        "body" => "Nội dung",
        "addressees" => "Kính gửi",
        "recipients" | "To" | "To.OrganName" | "ToPlaces" => "Nơi nhận",
        "archive_units" => "Lưu",
        "reason" => "Lý do",
        "note" => "Ghi chú",
        "result" => "Kết quả xử lý",
        "comment" => "Ý kiến",
        "place" => "Địa danh",
        "name" | "OrganName" => "Tên",
        "agency_name" => "Tên cơ quan",
        "unit_name" => "Tên đơn vị",
        "username" => "Tên đăng nhập",
        "password" => "Mật khẩu",
        "full_name" | "SignerInfo.FullName" => "Họ và tên",
        "position" | "SignerInfo.Position" => "Chức vụ",
        "email" => "Thư điện tử",
        "description" | "Description" => "Mô tả",
        "file" | "file_name" => "Tệp",
        "symbol" | "number_symbol" | "CodeNotation" => "Ký hiệu",
        "CodeNumber" => "Số",
        "TypeName" => "Tên loại văn bản",
        "Priority" => "Độ khẩn",
        "secrecy" => "Độ mật",
        "DueDate" => "Hạn trả lời",
        "suffix" => "Hậu tố số, ký hiệu",
        "sender_name" => "Cơ quan gửi",
        "recipient_name" => "Tên nơi nhận",
        "recipient_code" => "Mã định danh nơi nhận",
        "lead" => "Người chủ trì",
        "reviewers" => "Người góp ý",
        "basis" => "Căn cứ",
        "authority" => "Thẩm quyền ký",
        other => other,
    }
}

fn vi(reason: &'static str) -> &'static str {
    reason_vi(reason).unwrap_or(reason)
}

/// "cấp tỉnh" for "provincial", or the code itself.
fn level_vi(code: &str) -> String {
    AgencyLevel::from_snake(code).map_or_else(|| code.to_owned(), |l| l.label_vi().to_lowercase())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;
    use crate::text::nfc;

    fn samples() -> Vec<DomainError> {
        vec![
            DomainError::InvalidAgencyCode { code: "A..B".into(), reason: reason::EMPTY_GROUP },
            DomainError::FieldRequired { field: "Subject" },
            DomainError::FieldTooLong { field: "subject", max: 500, actual: 501 },
            DomainError::InvalidValue { field: "To", reason: reason::DUPLICATE_RECIPIENT },
            DomainError::UnknownRole("boss".into()),
            DomainError::UnknownDocumentType("Luật".into()),
            DomainError::IllegalTransition { from: "draft", action: "sign" },
            DomainError::InvalidDelegation(reason::NO_FURTHER_AUTHORISATION),
            DomainError::AgencyLevelMismatch { parent: "district", child: "provincial" },
            DomainError::CodeNotUnderParent { code: "H41.01".into(), parent: "H58".into() },
            DomainError::Forbidden("sign_document"),
            DomainError::EmptyDraft,
        ]
    }

    #[test]
    fn codes_are_stable_and_unique() {
        let codes: Vec<_> = samples().iter().map(DomainError::code).collect();
        assert_eq!(
            codes,
            [
                "invalid_agency_code",
                "field_required",
                "field_too_long",
                "invalid_value",
                "unknown_role",
                "unknown_document_type",
                "illegal_transition",
                "invalid_delegation",
                "agency_level_mismatch",
                "code_not_under_parent",
                "forbidden",
                "empty_draft"
            ]
        );
    }

    #[test]
    fn english_display() {
        let s = samples();
        assert_eq!(s[0].to_string(), "invalid agency code \"A..B\": empty group");
        assert_eq!(s[2].to_string(), "field subject is too long: 501 characters, at most 500");
        assert_eq!(s[6].to_string(), "cannot apply sign in state draft");
        assert_eq!(s[10].to_string(), "forbidden: missing permission sign_document");
    }

    #[test]
    fn vietnamese_messages() {
        let s = samples();
        assert_eq!(s[0].message_vi(), "Mã định danh cơ quan không hợp lệ: A..B (có nhóm ký tự rỗng)");
        assert_eq!(s[1].message_vi(), "Trường «Trích yếu» là bắt buộc");
        assert_eq!(s[2].message_vi(), "Trường «Trích yếu» vượt quá 500 ký tự");
        assert_eq!(s[4].message_vi(), "Vai trò không tồn tại: boss");
        assert_eq!(s[5].message_vi(), "Loại văn bản không tồn tại: Luật");
        assert_eq!(s[6].message_vi(), "Không thể chuyển trạng thái từ «Dự thảo» bằng thao tác «Ký»");
        assert_eq!(s[8].message_vi(), "Cơ quan cấp tỉnh không thể trực thuộc cơ quan cấp huyện");
        assert_eq!(s[10].message_vi(), "Bạn không có quyền thực hiện thao tác này (Ký văn bản)");
        for e in s {
            let m = e.message_vi();
            assert_eq!(nfc(&m), m, "{m}");
        }
    }

    #[test]
    fn every_reason_is_translated_and_nfc() {
        for en in ALL_REASONS {
            let vi = reason_vi(en).unwrap();
            assert_eq!(nfc(vi), vi);
        }
        assert_eq!(vi("something else"), "something else");
    }
}
