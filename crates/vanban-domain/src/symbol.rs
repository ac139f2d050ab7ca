//! Document number and symbol ("Số, ký hiệu", Decree 30/2020 Appendix I
//! §II.3): `15/QĐ-UBND`, `05/BNV-VP`.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike as _, NaiveDate};

use serde::{Deserialize, Serialize};

use crate::agency::Abbreviation;
use crate::doctype::DocumentType;
use crate::error::{DomainError, reason};
use crate::text::clean_text;

/// A document number: at least 1 (Appendix VI `CodeNumber`, ≤ 11 digits).
/// Displayed zero-padded below 10 ("05").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct DocumentNumber(u32);

impl DocumentNumber {
    /// Creates a number; 0 is rejected.
    pub fn new(n: u32) -> Result<Self, DomainError> {
        if n == 0 {
            return Err(DomainError::InvalidValue { field: "CodeNumber", reason: reason::MUST_BE_POSITIVE });
        }
        Ok(Self(n))
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for DocumentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

impl FromStr for DocumentNumber {
    type Err = DomainError;
    /// Parses decimal digits, leading zeros allowed ("05").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::InvalidValue { field: "CodeNumber", reason: reason::NOT_A_NUMBER });
        }
        let n = s
            .parse::<u32>()
            .map_err(|_| DomainError::InvalidValue { field: "CodeNumber", reason: reason::OUT_OF_RANGE })?;
        Self::new(n)
    }
}

impl TryFrom<u32> for DocumentNumber {
    type Error = DomainError;
    fn try_from(n: u32) -> Result<Self, Self::Error> {
        Self::new(n)
    }
}

impl From<DocumentNumber> for u32 {
    fn from(n: DocumentNumber) -> u32 {
        n.0
    }
}

string_newtype! {
    /// The symbol part after the number (Appendix VI `CodeNotation`, ≤ 30
    /// characters), e.g. "QĐ-UBND". No whitespace; letters, digits, `&`,
    /// `_` and the separators `-`, `/`, `.` (never leading, trailing or
    /// doubled). `/` is allowed so that received legal documents such as
    /// "2020/NĐ-CP" can be stored.
    pub struct Notation;
}

impl Notation {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 30;

    /// Normalises and validates a notation.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        const FIELD: &str = "CodeNotation";
        let text = clean_text(FIELD, s, Self::MAX_LEN, true)?;
        let is_sep = |c: char| matches!(c, '-' | '/' | '.');
        if !text.chars().all(|c| c.is_alphanumeric() || c == '&' || c == '_' || is_sep(c)) {
            return Err(DomainError::InvalidValue { field: FIELD, reason: reason::INVALID_CHARACTER });
        }
        let doubled = text.chars().zip(text.chars().skip(1)).any(|(a, b)| is_sep(a) && is_sep(b));
        if text.starts_with(is_sep) || text.ends_with(is_sep) || doubled {
            return Err(DomainError::InvalidValue { field: FIELD, reason: reason::MISPLACED_SEPARATOR });
        }
        Ok(Self(text))
    }
}

/// Builds the symbol of an outgoing document (Appendix I §II.3):
///
/// - typed documents: `<type abbr>-<issuer>` ("QĐ-UBND"); the unit is not used;
/// - Công văn: `<issuer>-<unit or field>` ("UBND-VP"); the unit is required;
/// - Thư công: `<issuer>` alone.
pub fn notation_for(
    doc_type: DocumentType,
    issuer: &Abbreviation,
    unit_or_field: Option<&Abbreviation>,
) -> Result<Notation, DomainError> {
    let text = match (doc_type, doc_type.abbreviation()) {
        (_, Some(type_abbr)) => format!("{type_abbr}-{issuer}"),
        (DocumentType::CongVan, None) => {
            let unit = unit_or_field.ok_or(DomainError::FieldRequired { field: "unit_abbreviation" })?;
            format!("{issuer}-{unit}")
        }
        (_, None) => issuer.to_string(),
    };
    Notation::parse(&text)
}

/// The day and month of a document's date as Decree 30 writes them (Appendix I): a leading
/// zero for days below 10 and for months below 3 ("ngày 05 tháng 02", "ngày 15 tháng 3").
pub fn decree_day_month(d: NaiveDate) -> (String, String) {
    let month = if d.month() <= 2 { format!("{:02}", d.month()) } else { d.month().to_string() };
    (format!("{:02}", d.day()), month)
}

/// A number and symbol, displayed as "15/QĐ-UBND".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NumberSymbol {
    /// The number.
    pub number: DocumentNumber,
    /// The symbol.
    pub notation: Notation,
}

impl NumberSymbol {
    /// Parses "15/QĐ-UBND" (the number is everything before the first `/`).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let (number, notation) = s
            .trim()
            .split_once('/')
            .ok_or(DomainError::InvalidValue { field: "number_symbol", reason: reason::MISSING_SLASH })?;
        Ok(Self { number: number.parse()?, notation: Notation::parse(notation)? })
    }
}

impl fmt::Display for NumberSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.notation)
    }
}

impl FromStr for NumberSymbol {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn abbr(s: &str) -> Abbreviation {
        Abbreviation::parse(s).unwrap()
    }

    #[test]
    fn day_and_month_take_the_decree_zeros() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(decree_day_month(d(2026, 2, 5)), ("05".to_owned(), "02".to_owned()));
        assert_eq!(decree_day_month(d(2026, 3, 15)), ("15".to_owned(), "3".to_owned()));
        assert_eq!(decree_day_month(d(2026, 12, 31)), ("31".to_owned(), "12".to_owned()));
    }

    fn ns(n: u32, notation: &Notation) -> String {
        NumberSymbol { number: DocumentNumber::new(n).unwrap(), notation: notation.clone() }.to_string()
    }

    #[test]
    fn number_rules() {
        assert_eq!(DocumentNumber::new(5).unwrap().to_string(), "05");
        assert_eq!(DocumentNumber::new(1).unwrap().to_string(), "01");
        assert_eq!(DocumentNumber::new(9).unwrap().to_string(), "09");
        assert_eq!(DocumentNumber::new(10).unwrap().to_string(), "10");
        assert_eq!(DocumentNumber::new(1234).unwrap().to_string(), "1234");
        assert_eq!(DocumentNumber::new(u32::MAX).unwrap().get(), u32::MAX);
        assert!(u32::MAX.to_string().len() <= 11);
        assert_eq!(
            DocumentNumber::new(0),
            Err(DomainError::InvalidValue { field: "CodeNumber", reason: reason::MUST_BE_POSITIVE })
        );
        assert_eq!("05".parse::<DocumentNumber>().unwrap().get(), 5);
        assert!("".parse::<DocumentNumber>().is_err());
        assert!("5a".parse::<DocumentNumber>().is_err());
        assert!("-5".parse::<DocumentNumber>().is_err());
        assert!("00".parse::<DocumentNumber>().is_err());
        assert!("99999999999".parse::<DocumentNumber>().is_err());
        assert!(serde_json::from_str::<DocumentNumber>("0").is_err());
        assert_eq!(serde_json::to_string(&DocumentNumber::new(7).unwrap()).unwrap(), "7");
    }

    #[test]
    fn decree_examples() {
        let qd = notation_for(DocumentType::QuyetDinh, &abbr("BNV"), None).unwrap();
        assert_eq!(ns(15, &qd), "15/QĐ-BNV");
        let cv = notation_for(DocumentType::CongVan, &abbr("BNV"), Some(&abbr("VP"))).unwrap();
        assert_eq!(ns(5, &cv), "05/BNV-VP");
        let cv2 = notation_for(DocumentType::CongVan, &abbr("UBND"), Some(&abbr("VX"))).unwrap();
        assert_eq!(ns(12, &cv2), "12/UBND-VX");
    }

    #[test]
    fn notation_for_each_kind() {
        let ubnd = abbr("UBND");
        let vp = abbr("VP");
        assert_eq!(notation_for(DocumentType::QuyetDinh, &ubnd, None).unwrap().as_str(), "QĐ-UBND");
        // The unit is ignored for typed documents.
        assert_eq!(notation_for(DocumentType::QuyDinh, &ubnd, Some(&vp)).unwrap().as_str(), "QyĐ-UBND");
        assert_eq!(notation_for(DocumentType::ToTrinh, &abbr("STC"), None).unwrap().as_str(), "TTr-STC");
        assert_eq!(notation_for(DocumentType::CongVan, &ubnd, Some(&vp)).unwrap().as_str(), "UBND-VP");
        assert_eq!(
            notation_for(DocumentType::CongVan, &ubnd, None),
            Err(DomainError::FieldRequired { field: "unit_abbreviation" })
        );
        assert_eq!(notation_for(DocumentType::ThuCong, &ubnd, None).unwrap().as_str(), "UBND");
        assert_eq!(notation_for(DocumentType::ThuCong, &ubnd, Some(&vp)).unwrap().as_str(), "UBND");
        for t in DocumentType::ALL {
            assert!(notation_for(t, &ubnd, Some(&vp)).is_ok(), "{t}");
        }
    }

    #[test]
    fn notation_for_checks_length() {
        let issuer = abbr(&"A".repeat(20));
        let ok_unit = abbr(&"B".repeat(9));
        let long_unit = abbr(&"B".repeat(10));
        assert_eq!(notation_for(DocumentType::CongVan, &issuer, Some(&ok_unit)).unwrap().as_str().chars().count(), 30);
        assert_eq!(
            notation_for(DocumentType::CongVan, &issuer, Some(&long_unit)),
            Err(DomainError::FieldTooLong { field: "CodeNotation", max: 30, actual: 31 })
        );
    }

    #[test]
    fn notation_rules() {
        for ok in ["QĐ-UBND", "UBND-VP", "2020/NĐ-CP", "BC-UBND.KT", "NN&PTNT", "TTr-STC"] {
            assert_eq!(Notation::parse(ok).unwrap().as_str(), ok);
        }
        assert!(Notation::parse(&"A".repeat(30)).is_ok());
        assert_eq!(
            Notation::parse(&"A".repeat(31)),
            Err(DomainError::FieldTooLong { field: "CodeNotation", max: 30, actual: 31 })
        );
        assert_eq!(Notation::parse(" "), Err(DomainError::FieldRequired { field: "CodeNotation" }));
        for bad in ["QĐ UBND", "QĐ,UBND", "QĐ–UBND"] {
            assert_eq!(
                Notation::parse(bad),
                Err(DomainError::InvalidValue { field: "CodeNotation", reason: reason::INVALID_CHARACTER }),
                "{bad}"
            );
        }
        for bad in ["-QĐ", "QĐ-", "QĐ--UBND", "/QĐ", "QĐ-/UBND"] {
            assert_eq!(
                Notation::parse(bad),
                Err(DomainError::InvalidValue { field: "CodeNotation", reason: reason::MISPLACED_SEPARATOR }),
                "{bad}"
            );
        }
    }

    #[test]
    fn number_symbol_parse_and_display() {
        for s in ["15/QĐ-BNV", "05/BNV-VP", "12/UBND-VX"] {
            let parsed = NumberSymbol::parse(s).unwrap();
            assert_eq!(parsed.to_string(), s);
        }
        let p: NumberSymbol = " 5/QĐ-UBND ".parse().unwrap();
        assert_eq!(p.number.get(), 5);
        assert_eq!(p.notation.as_str(), "QĐ-UBND");
        assert_eq!(p.to_string(), "05/QĐ-UBND");
        let decree = NumberSymbol::parse("30/2020/NĐ-CP").unwrap();
        assert_eq!(decree.notation.as_str(), "2020/NĐ-CP");
        assert_eq!(
            NumberSymbol::parse("QĐ-UBND"),
            Err(DomainError::InvalidValue { field: "number_symbol", reason: reason::MISSING_SLASH })
        );
        assert!(NumberSymbol::parse("0/QĐ-UBND").is_err());
        assert!(NumberSymbol::parse("x/QĐ-UBND").is_err());
        assert!(NumberSymbol::parse("15/").is_err());
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<NumberSymbol>(&json).unwrap(), p);
    }
}
