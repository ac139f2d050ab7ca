//! Document metadata with the lengths of Decree 30/2020 Appendix VI Part II.
//!
//! Validation errors name the field by its Appendix VI tag ("Subject",
//! "SignerInfo.Position", "To.OrganName", …) so that messages match the
//! standard. Numeric fields with a length of N digits are reported as
//! `FieldTooLong { max: N, actual: digits }`.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::agency::AgencyCode;
use crate::authority::SigningAuthority;
use crate::doctype::DocumentType;
use crate::error::{DomainError, reason};
use crate::text::{clean_optional, clean_text, fold_key};

code_enum! {
    /// Urgency (độ khẩn), edXML `OtherInfo/Priority` 0..=4.
    #[derive(Default)]
    pub enum Priority {
        /// Thường (0).
        #[default]
        Normal => "normal",
        /// Khẩn (1).
        Urgent => "urgent",
        /// Thượng khẩn (2).
        VeryUrgent => "very_urgent",
        /// Hỏa tốc (3).
        Flash => "flash",
        /// Hỏa tốc hẹn giờ (4).
        FlashTimed => "flash_timed",
    }
}

impl Priority {
    /// The edXML code, 0..=4.
    pub const fn code(self) -> u8 {
        match self {
            Priority::Normal => 0,
            Priority::Urgent => 1,
            Priority::VeryUrgent => 2,
            Priority::Flash => 3,
            Priority::FlashTimed => 4,
        }
    }

    /// The priority with edXML code `code`, if any.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Vietnamese label ("Thường", "Khẩn", "Thượng khẩn", "Hỏa tốc",
    /// "Hỏa tốc hẹn giờ").
    pub const fn label_vi(self) -> &'static str {
        match self {
            Priority::Normal => "Thường",
            Priority::Urgent => "Khẩn",
            Priority::VeryUrgent => "Thượng khẩn",
            Priority::Flash => "Hỏa tốc",
            Priority::FlashTimed => "Hỏa tốc hẹn giờ",
        }
    }

    /// Whether the document must be handled immediately (all but Normal).
    pub const fn is_urgent(self) -> bool {
        !matches!(self, Priority::Normal)
    }
}

code_enum! {
    /// Secrecy level (độ mật). Secret documents are not sent over the axis.
    #[derive(Default)]
    pub enum Secrecy {
        /// Not secret.
        #[default]
        Normal => "normal",
        /// Mật.
        Confidential => "confidential",
        /// Tối mật.
        Secret => "secret",
        /// Tuyệt mật.
        TopSecret => "top_secret",
    }
}

impl Secrecy {
    /// Vietnamese label; empty for a normal document.
    pub const fn label_vi(self) -> &'static str {
        match self {
            Secrecy::Normal => "",
            Secrecy::Confidential => "Mật",
            Secrecy::Secret => "Tối mật",
            Secrecy::TopSecret => "Tuyệt mật",
        }
    }

    /// Whether the document is classified at any level.
    pub const fn is_secret(self) -> bool {
        !matches!(self, Secrecy::Normal)
    }
}

impl FromStr for Priority {
    type Err = DomainError;
    /// Accepts the snake code, the edXML digit, or the Vietnamese label
    /// without regard to case or diacritics ("hoa toc").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = fold_key(s);
        Priority::ALL
            .into_iter()
            .find(|p| key == p.as_str() || key == p.code().to_string() || key == fold_key(p.label_vi()))
            .ok_or(DomainError::InvalidValue { field: "Priority", reason: reason::UNKNOWN_CODE })
    }
}

impl FromStr for Secrecy {
    type Err = DomainError;
    /// Accepts the snake code or the Vietnamese label ("Tối mật").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = fold_key(s);
        Secrecy::ALL
            .into_iter()
            .find(|x| key == x.as_str() || (!key.is_empty() && key == fold_key(x.label_vi())))
            .ok_or(DomainError::InvalidValue { field: "secrecy", reason: reason::UNKNOWN_CODE })
    }
}

/// The default document language (Appendix VI `Language`).
pub const DEFAULT_LANGUAGE: &str = "Tiếng Việt";

/// A recipient (edXML `To`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Identifier code, when the recipient is on the axis.
    pub code: Option<AgencyCode>,
    /// Name (`To.OrganName`, 1..=200 characters).
    pub name: String,
}

impl Recipient {
    /// Normalises and checks the name.
    pub fn validate(mut self) -> Result<Self, DomainError> {
        self.name = clean_text("To.OrganName", &self.name, 200, true)?;
        Ok(self)
    }
}

/// The signer (edXML `SignerInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerInfo {
    /// Signing authority.
    pub authority: SigningAuthority,
    /// Position (`SignerInfo.Position`, 1..=100 characters).
    pub position: String,
    /// Full name (`SignerInfo.FullName`, 1..=50 characters).
    pub full_name: String,
}

impl SignerInfo {
    /// Normalises and checks both fields.
    pub fn validate(mut self) -> Result<Self, DomainError> {
        self.position = clean_text("SignerInfo.Position", &self.position, 100, true)?;
        self.full_name = clean_text("SignerInfo.FullName", &self.full_name, 50, true)?;
        Ok(self)
    }
}

/// Checks a positive count of at most `digits` decimal digits.
fn check_count(field: &'static str, value: u64, digits: u32) -> Result<(), DomainError> {
    if value == 0 {
        return Err(DomainError::InvalidValue { field, reason: reason::MUST_BE_POSITIVE });
    }
    if value >= 10u64.pow(digits) {
        return Err(DomainError::FieldTooLong { field, max: digits as usize, actual: value.to_string().len() });
    }
    Ok(())
}

fn check_optional_count(field: &'static str, value: Option<u16>) -> Result<(), DomainError> {
    value.map_or(Ok(()), |v| check_count(field, u64::from(v), 3))
}

fn clean_language(language: &str) -> Result<String, DomainError> {
    let language = clean_text("Language", language, 30, false)?;
    Ok(if language.is_empty() { DEFAULT_LANGUAGE.to_owned() } else { language })
}

/// Metadata of an outgoing document, entered before issue.
///
/// Number, symbol and issue date are assigned by the system at issue time
/// and are not part of this struct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMetadata {
    /// Document type.
    pub doc_type: DocumentType,
    /// Excerpt (trích yếu), `Subject`, required, ≤ 500.
    pub subject: String,
    /// Issuing agency name, `OrganName`, required, ≤ 200.
    pub organ_name: String,
    /// `Language`, ≤ 30; blank becomes "Tiếng Việt".
    pub language: String,
    /// `PageAmount`, 1..=999.
    pub page_amount: Option<u16>,
    /// Note, `Description`, ≤ 500.
    pub description: Option<String>,
    /// Signer.
    pub signer: Option<SignerInfo>,
    /// Recipients (`To`), no duplicate codes.
    pub recipients: Vec<Recipient>,
    /// Urgency.
    pub priority: Priority,
    /// Secrecy.
    pub secrecy: Secrecy,
    /// Copies issued, `IssuedAmount`, 1..=999.
    pub issued_amount: Option<u16>,
    /// Reply deadline, `DueDate`.
    pub due_date: Option<NaiveDate>,
    /// Drafter's initials (ký hiệu người soạn thảo), `TyperNotation`, ≤ 10.
    pub typer_notation: Option<String>,
}

impl OutgoingMetadata {
    /// Metadata with the required fields and defaults for the rest
    /// (not yet validated).
    pub fn new(doc_type: DocumentType, subject: &str, organ_name: &str) -> Self {
        Self {
            doc_type,
            subject: subject.to_owned(),
            organ_name: organ_name.to_owned(),
            language: DEFAULT_LANGUAGE.to_owned(),
            page_amount: None,
            description: None,
            signer: None,
            recipients: Vec::new(),
            priority: Priority::Normal,
            secrecy: Secrecy::Normal,
            issued_amount: None,
            due_date: None,
            typer_notation: None,
        }
    }

    /// NFC-normalises every string and enforces the Appendix VI lengths.
    pub fn validate(mut self) -> Result<Self, DomainError> {
        self.subject = clean_text("Subject", &self.subject, 500, true)?;
        self.organ_name = clean_text("OrganName", &self.organ_name, 200, true)?;
        self.language = clean_language(&self.language)?;
        check_optional_count("PageAmount", self.page_amount)?;
        self.description = clean_optional("Description", self.description.as_deref(), 500)?;
        self.signer = self.signer.map(SignerInfo::validate).transpose()?;
        self.recipients = validate_recipients(self.recipients)?;
        check_optional_count("IssuedAmount", self.issued_amount)?;
        self.typer_notation = clean_optional("TyperNotation", self.typer_notation.as_deref(), 10)?;
        Ok(self)
    }
}

/// Validates each recipient and rejects a code listed twice.
fn validate_recipients(recipients: Vec<Recipient>) -> Result<Vec<Recipient>, DomainError> {
    let mut seen = BTreeSet::new();
    recipients
        .into_iter()
        .map(|r| {
            let r = r.validate()?;
            if let Some(code) = &r.code
                && !seen.insert(code.clone())
            {
                return Err(DomainError::InvalidValue { field: "To", reason: reason::DUPLICATE_RECIPIENT });
            }
            Ok(r)
        })
        .collect()
}

/// Metadata of an incoming document as registered by the clerk.
///
/// Incoming documents may be of types outside the 29 administrative ones
/// (e.g. a Nghị định), so the type is kept as text (`TypeName`) with the
/// matching [`DocumentType`] when there is one. Number and symbol are kept
/// as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingMetadata {
    /// Administrative document type, if the type name is one of the 29.
    pub doc_type: Option<DocumentType>,
    /// `TypeName`, ≤ 100; filled from `doc_type` when blank.
    pub type_name: String,
    /// `CodeNumber` as received, ≤ 11.
    pub code_number: String,
    /// `CodeNotation` as received, ≤ 30.
    pub code_notation: String,
    /// `IssuedDate`.
    pub issued_date: Option<NaiveDate>,
    /// Issuing agency name, `OrganName`, required, ≤ 200.
    pub organ_name: String,
    /// Excerpt, `Subject`, required, ≤ 500.
    pub subject: String,
    /// `Language`, ≤ 30; blank becomes "Tiếng Việt".
    pub language: String,
    /// `PageAmount`, 1..=999.
    pub page_amount: Option<u16>,
    /// `Description`, ≤ 500.
    pub description: Option<String>,
    /// `ArrivalDate`.
    pub arrival_date: NaiveDate,
    /// Incoming number (số đến), `ArrivalNumber`, 1..=9_999_999_999.
    pub arrival_number: u64,
    /// Signer.
    pub signer: Option<SignerInfo>,
    /// Urgency.
    pub priority: Priority,
    /// Secrecy.
    pub secrecy: Secrecy,
    /// Receiving units or persons, `ToPlaces`, ≤ 1000.
    pub to_places: String,
    /// Handling deadline, `DueDate`.
    pub due_date: Option<NaiveDate>,
}

impl IncomingMetadata {
    /// NFC-normalises every string and enforces the Appendix VI lengths.
    pub fn validate(mut self) -> Result<Self, DomainError> {
        self.type_name = clean_text("TypeName", &self.type_name, 100, false)?;
        match (self.doc_type, self.type_name.is_empty()) {
            (Some(t), true) => self.type_name = t.name_vi().to_owned(),
            (None, true) => return Err(DomainError::FieldRequired { field: "TypeName" }),
            (None, false) => self.doc_type = self.type_name.parse().ok(),
            (Some(_), false) => {}
        }
        self.code_number = clean_text("CodeNumber", &self.code_number, 11, false)?;
        self.code_notation = clean_text("CodeNotation", &self.code_notation, 30, false)?;
        self.organ_name = clean_text("OrganName", &self.organ_name, 200, true)?;
        self.subject = clean_text("Subject", &self.subject, 500, true)?;
        self.language = clean_language(&self.language)?;
        check_optional_count("PageAmount", self.page_amount)?;
        self.description = clean_optional("Description", self.description.as_deref(), 500)?;
        check_count("ArrivalNumber", self.arrival_number, 10)?;
        self.signer = self.signer.map(SignerInfo::validate).transpose()?;
        self.to_places = clean_text("ToPlaces", &self.to_places, 1000, false)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn too_long(field: &'static str, max: usize, actual: usize) -> DomainError {
        DomainError::FieldTooLong { field, max, actual }
    }

    fn base() -> OutgoingMetadata {
        OutgoingMetadata::new(DocumentType::QuyetDinh, "Về việc ban hành quy chế", "Ủy ban nhân dân tỉnh Bình An")
    }

    fn signer() -> SignerInfo {
        SignerInfo {
            authority: SigningAuthority::ForHead,
            position: "Phó Chủ tịch".into(),
            full_name: "Nguyễn Văn A".into(),
        }
    }

    fn recipient(code: Option<&str>, name: &str) -> Recipient {
        Recipient { code: code.map(|c| AgencyCode::parse(c).unwrap()), name: name.into() }
    }

    #[test]
    fn priority_codes_and_labels() {
        for (i, p) in Priority::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(p.code()), i);
            assert_eq!(Priority::from_code(p.code()), Some(p));
            assert_eq!(p.is_urgent(), p != Priority::Normal);
        }
        assert_eq!(Priority::from_code(5), None);
        let labels: Vec<_> = Priority::ALL.iter().map(|p| p.label_vi()).collect();
        assert_eq!(labels, ["Thường", "Khẩn", "Thượng khẩn", "Hỏa tốc", "Hỏa tốc hẹn giờ"]);
        assert_eq!(Priority::default(), Priority::Normal);
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>().unwrap(), p);
            assert_eq!(p.label_vi().parse::<Priority>().unwrap(), p);
            assert_eq!(p.code().to_string().parse::<Priority>().unwrap(), p);
        }
        assert_eq!("HOẢ TỐC".parse::<Priority>().unwrap(), Priority::Flash);
        assert!("5".parse::<Priority>().is_err());
        assert!("gấp".parse::<Priority>().is_err());
        assert_eq!(serde_json::to_string(&Priority::VeryUrgent).unwrap(), "\"very_urgent\"");
    }

    #[test]
    fn secrecy_labels() {
        let labels: Vec<_> = Secrecy::ALL.iter().map(|s| s.label_vi()).collect();
        assert_eq!(labels, ["", "Mật", "Tối mật", "Tuyệt mật"]);
        assert!(!Secrecy::Normal.is_secret());
        assert!(Secrecy::TopSecret.is_secret());
        assert_eq!(Secrecy::default(), Secrecy::Normal);
        for x in Secrecy::ALL {
            assert_eq!(x.as_str().parse::<Secrecy>().unwrap(), x);
        }
        assert_eq!("tối mật".parse::<Secrecy>().unwrap(), Secrecy::Secret);
        assert_eq!("MẬT".parse::<Secrecy>().unwrap(), Secrecy::Confidential);
        assert!("".parse::<Secrecy>().is_err());
    }

    #[test]
    fn minimal_outgoing_is_valid_with_defaults() {
        let mut m = base();
        m.language = "  ".into();
        m.description = Some(" ".into());
        let m = m.validate().unwrap();
        assert_eq!(m.language, "Tiếng Việt");
        assert_eq!(m.description, None);
    }

    #[test]
    fn outgoing_is_nfc_normalised_and_trimmed() {
        let mut m = base();
        m.subject = " Quye\u{0302}\u{0301}t đi\u{0323}nh ".into();
        m.signer = Some(SignerInfo { full_name: " Nguye\u{0302}\u{0303}n Va\u{0306}n A".into(), ..signer() });
        m.recipients = vec![recipient(Some("000.00.01.H58"), "Sở Tài chi\u{0301}nh ")];
        let m = m.validate().unwrap();
        assert_eq!(m.subject, "Quyết định");
        assert_eq!(m.signer.unwrap().full_name, "Nguyễn Văn A");
        assert_eq!(m.recipients[0].name, "Sở Tài chính");
    }

    /// Every string field accepts exactly `max` characters and rejects
    /// `max + 1` with the Appendix VI tag.
    #[test]
    fn outgoing_string_lengths() {
        type Setter = fn(&mut OutgoingMetadata, String);
        let cases: [(&str, usize, Setter); 8] = [
            ("Subject", 500, |m, s| m.subject = s),
            ("OrganName", 200, |m, s| m.organ_name = s),
            ("Language", 30, |m, s| m.language = s),
            ("Description", 500, |m, s| m.description = Some(s)),
            ("SignerInfo.Position", 100, |m, s| m.signer = Some(SignerInfo { position: s, ..signer() })),
            ("SignerInfo.FullName", 50, |m, s| m.signer = Some(SignerInfo { full_name: s, ..signer() })),
            ("To.OrganName", 200, |m, s| m.recipients = vec![recipient(None, &s)]),
            ("TyperNotation", 10, |m, s| m.typer_notation = Some(s)),
        ];
        for (field, max, set) in cases {
            let mut ok = base();
            set(&mut ok, "ệ".repeat(max));
            assert!(ok.validate().is_ok(), "{field} at max");
            let mut bad = base();
            set(&mut bad, "ệ".repeat(max + 1));
            assert_eq!(bad.validate(), Err(too_long(field, max, max + 1)), "{field}");
        }
    }

    #[test]
    fn outgoing_required_fields() {
        let mut m = base();
        m.subject = " ".into();
        assert_eq!(m.validate(), Err(DomainError::FieldRequired { field: "Subject" }));
        let mut m = base();
        m.organ_name = String::new();
        assert_eq!(m.validate(), Err(DomainError::FieldRequired { field: "OrganName" }));
        let mut m = base();
        m.signer = Some(SignerInfo { full_name: String::new(), ..signer() });
        assert_eq!(m.validate(), Err(DomainError::FieldRequired { field: "SignerInfo.FullName" }));
        let mut m = base();
        m.recipients = vec![recipient(None, " ")];
        assert_eq!(m.validate(), Err(DomainError::FieldRequired { field: "To.OrganName" }));
    }

    #[test]
    fn outgoing_counts() {
        for field in ["PageAmount", "IssuedAmount"] {
            let set = |m: &mut OutgoingMetadata, v: u16| match field {
                "PageAmount" => m.page_amount = Some(v),
                _ => m.issued_amount = Some(v),
            };
            let mut ok = base();
            set(&mut ok, 999);
            assert!(ok.validate().is_ok());
            let mut one = base();
            set(&mut one, 1);
            assert!(one.validate().is_ok());
            let mut bad = base();
            set(&mut bad, 1000);
            assert_eq!(bad.validate(), Err(too_long(field, 3, 4)));
            let mut zero = base();
            set(&mut zero, 0);
            assert_eq!(zero.validate(), Err(DomainError::InvalidValue { field, reason: reason::MUST_BE_POSITIVE }));
        }
    }

    #[test]
    fn duplicate_recipient_codes_are_rejected() {
        let mut m = base();
        m.recipients = vec![
            recipient(Some("000.00.01.H58"), "Sở Tài chính"),
            recipient(None, "Như trên"),
            recipient(None, "Lưu: VT"),
            recipient(Some("000.00.02.H58"), "Sở Nội vụ"),
        ];
        assert!(m.clone().validate().is_ok());
        m.recipients.push(recipient(Some("000.00.01.h58"), "Sở Tài chính (bản 2)"));
        assert_eq!(m.validate(), Err(DomainError::InvalidValue { field: "To", reason: reason::DUPLICATE_RECIPIENT }));
    }

    #[test]
    fn outgoing_serde_round_trip() {
        let mut m = base();
        m.signer = Some(signer());
        m.due_date = NaiveDate::from_ymd_opt(2025, 3, 31);
        let m = m.validate().unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<OutgoingMetadata>(&json).unwrap(), m);
    }

    fn incoming() -> IncomingMetadata {
        IncomingMetadata {
            doc_type: Some(DocumentType::CongVan),
            type_name: String::new(),
            code_number: "12".into(),
            code_notation: "UBND-VX".into(),
            issued_date: NaiveDate::from_ymd_opt(2025, 3, 1),
            organ_name: "Ủy ban nhân dân huyện Đông Sơn".into(),
            subject: "V/v triển khai kế hoạch".into(),
            language: String::new(),
            page_amount: Some(2),
            description: None,
            arrival_date: NaiveDate::from_ymd_opt(2025, 3, 2).unwrap(),
            arrival_number: 1,
            signer: Some(signer()),
            priority: Priority::Urgent,
            secrecy: Secrecy::Normal,
            to_places: "Phòng Kinh tế".into(),
            due_date: None,
        }
    }

    #[test]
    fn incoming_valid_and_type_name_filled() {
        let m = incoming().validate().unwrap();
        assert_eq!(m.type_name, "Công văn");
        assert_eq!(m.language, "Tiếng Việt");
        let mut other = incoming();
        other.doc_type = None;
        other.type_name = "Nghị định".into();
        let other = other.validate().unwrap();
        assert_eq!(other.doc_type, None);
        let mut named = incoming();
        named.doc_type = None;
        named.type_name = "Quyết định".into();
        assert_eq!(named.validate().unwrap().doc_type, Some(DocumentType::QuyetDinh));
        let mut neither = incoming();
        neither.doc_type = None;
        assert_eq!(neither.validate(), Err(DomainError::FieldRequired { field: "TypeName" }));
    }

    #[test]
    fn incoming_lengths() {
        type Setter = fn(&mut IncomingMetadata, String);
        let cases: [(&str, usize, Setter); 8] = [
            ("TypeName", 100, |m, s| m.type_name = s),
            ("CodeNumber", 11, |m, s| m.code_number = s),
            ("CodeNotation", 30, |m, s| m.code_notation = s),
            ("OrganName", 200, |m, s| m.organ_name = s),
            ("Subject", 500, |m, s| m.subject = s),
            ("Description", 500, |m, s| m.description = Some(s)),
            ("ToPlaces", 1000, |m, s| m.to_places = s),
            ("SignerInfo.Position", 100, |m, s| m.signer = Some(SignerInfo { position: s, ..signer() })),
        ];
        for (field, max, set) in cases {
            let mut ok = incoming();
            set(&mut ok, "ư".repeat(max));
            assert!(ok.validate().is_ok(), "{field} at max");
            let mut bad = incoming();
            set(&mut bad, "ư".repeat(max + 1));
            assert_eq!(bad.validate(), Err(too_long(field, max, max + 1)), "{field}");
        }
    }

    #[test]
    fn incoming_arrival_number() {
        let mut ok = incoming();
        ok.arrival_number = 9_999_999_999;
        assert!(ok.validate().is_ok());
        let mut bad = incoming();
        bad.arrival_number = 10_000_000_000;
        assert_eq!(bad.validate(), Err(too_long("ArrivalNumber", 10, 11)));
        let mut zero = incoming();
        zero.arrival_number = 0;
        assert!(matches!(zero.validate(), Err(DomainError::InvalidValue { field: "ArrivalNumber", .. })));
        let mut pages = incoming();
        pages.page_amount = Some(1000);
        assert_eq!(pages.validate(), Err(too_long("PageAmount", 3, 4)));
    }
}
