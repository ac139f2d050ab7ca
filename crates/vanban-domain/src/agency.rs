//! Agencies (cơ quan), their identifier codes (mã định danh), levels,
//! names and abbreviations, and units inside an agency.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, reason};
use crate::ids::{AgencyId, UnitId};
use crate::text::{clean_text, fold_key};

/// Maximum length of a QĐ 20/2020 electronic identifier code.
pub const AGENCY_CODE_MAX_LEN: usize = 35;
/// Length of a legacy QCVN 102:2016 code (`000.00.00.H58`).
pub const LEGACY_CODE_LEN: usize = 13;
/// Shape of a legacy code: `d` digit, `L` upper-case letter, `.` dot.
const LEGACY_TEMPLATE: &[u8; LEGACY_CODE_LEN] = b"ddd.dd.dd.Ldd";

/// Which standard an [`AgencyCode`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeFormat {
    /// QCVN 102:2016 `V1V2V3.Z1Z2.Y1Y2.MX1X2`, level 1 on the right.
    Legacy,
    /// Decision 20/2020/QĐ-TTg, level 1 on the left.
    Qd20,
}

/// An agency identifier code (mã định danh), legacy or QĐ 20/2020 form.
///
/// Parsing trims and upper-cases ASCII letters. The legacy form is
/// `^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$`; the QĐ 20 form is groups of
/// `0-9A-Z` separated by single dots, at most 35 characters. A code that has
/// the legacy shape (three digit groups then a letter-digit group) but not
/// its exact widths is rejected as a malformed legacy code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgencyCode(String);

impl AgencyCode {
    /// Parses and validates a code (see the type docs).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let code = s.trim().to_ascii_uppercase();
        let fail = |reason: &'static str| Err(DomainError::InvalidAgencyCode { code: code.clone(), reason });
        if code.is_empty() {
            return fail(reason::EMPTY);
        }
        if code.chars().count() > AGENCY_CODE_MAX_LEN {
            return fail(reason::TOO_LONG);
        }
        if !code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.') {
            return fail(reason::INVALID_CHARACTER);
        }
        if code.split('.').any(str::is_empty) {
            return fail(reason::EMPTY_GROUP);
        }
        if !has_legacy_shape(&code) && looks_legacy(&code) {
            return fail(reason::MALFORMED_LEGACY_CODE);
        }
        Ok(Self(code))
    }

    /// Builds a legacy code from its levels, e.g. `legacy(12, 3, 0, "H58")`
    /// is `012.03.00.H58`. Level 4 is 0..=999, levels 3 and 2 are 0..=99,
    /// level 1 is a letter and two digits.
    pub fn legacy(level4: u16, level3: u8, level2: u8, level1: &str) -> Result<Self, DomainError> {
        let level1 = level1.trim().to_ascii_uppercase();
        let code = format!("{level4:03}.{level3:02}.{level2:02}.{level1}");
        if level4 > 999 || level3 > 99 || level2 > 99 {
            return Err(DomainError::InvalidAgencyCode { code, reason: reason::LEVEL_OUT_OF_RANGE });
        }
        if !has_legacy_shape(&code) {
            return Err(DomainError::InvalidAgencyCode { code, reason: reason::INVALID_LEVEL1 });
        }
        Ok(Self(code))
    }

    /// The code text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Which standard the code follows.
    pub fn format(&self) -> CodeFormat {
        if has_legacy_shape(&self.0) { CodeFormat::Legacy } else { CodeFormat::Qd20 }
    }

    /// Whether this is a legacy QCVN 102:2016 code.
    pub fn is_legacy(&self) -> bool {
        self.format() == CodeFormat::Legacy
    }

    /// The level-1 group: the last group of a legacy code (`H58`), the first
    /// group of a QĐ 20 code.
    pub fn level1(&self) -> &str {
        let mut groups = self.0.split('.');
        let group = match self.format() {
            CodeFormat::Legacy => groups.next_back(),
            CodeFormat::Qd20 => groups.next(),
        };
        group.unwrap_or_default()
    }

    /// Whether this code denotes an agency strictly below `parent`.
    ///
    /// Legacy codes: same level 1, every non-zero level of the parent equal
    /// in the child, and the child non-zero somewhere the parent is zero.
    /// QĐ 20 codes: the child starts with the parent code plus a dot.
    /// Mixed formats: the level-1 groups are equal.
    pub fn is_under(&self, parent: &AgencyCode) -> bool {
        match (self.legacy_levels(), parent.legacy_levels()) {
            (Some((child, child_l1)), Some((par, par_l1))) => {
                if child_l1 != par_l1 {
                    return false;
                }
                let mut deeper = false;
                for (p, c) in par.iter().zip(child.iter()) {
                    if *p != 0 {
                        if p != c {
                            return false;
                        }
                    } else if *c != 0 {
                        deeper = true;
                    }
                }
                deeper
            }
            (None, None) => self
                .0
                .strip_prefix(parent.0.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|rest| !rest.is_empty()),
            _ => self.level1() == parent.level1(),
        }
    }

    /// Levels 4, 3, 2 as numbers plus the level-1 group, for legacy codes.
    fn legacy_levels(&self) -> Option<([u16; 3], &str)> {
        if !has_legacy_shape(&self.0) {
            return None;
        }
        let mut groups = self.0.split('.');
        let l4 = groups.next()?.parse().ok()?;
        let l3 = groups.next()?.parse().ok()?;
        let l2 = groups.next()?.parse().ok()?;
        let l1 = groups.next()?;
        Some(([l4, l3, l2], l1))
    }
}

/// Whether `code` matches `^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$` exactly.
fn has_legacy_shape(code: &str) -> bool {
    code.len() == LEGACY_CODE_LEN
        && code.bytes().zip(LEGACY_TEMPLATE.iter()).all(|(b, t)| match t {
            b'd' => b.is_ascii_digit(),
            b'L' => b.is_ascii_uppercase(),
            _ => b == *t,
        })
}

/// Whether `code` has the legacy layout (three digit groups, then a letter
/// followed by digits) regardless of group widths.
fn looks_legacy(code: &str) -> bool {
    let groups: Vec<&str> = code.split('.').collect();
    match groups.as_slice() {
        [a, b, c, last] => {
            let digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
            let mut last = last.chars();
            digits(a)
                && digits(b)
                && digits(c)
                && last.next().is_some_and(|c| c.is_ascii_uppercase())
                && digits(last.as_str())
        }
        _ => false,
    }
}

impl fmt::Display for AgencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AgencyCode {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AgencyCode {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AgencyCode> for String {
    fn from(c: AgencyCode) -> String {
        c.0
    }
}

impl AsRef<str> for AgencyCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

code_enum! {
    /// Administrative level of an agency.
    pub enum AgencyLevel {
        /// Cấp tỉnh.
        Provincial => "provincial",
        /// Cấp huyện.
        District => "district",
        /// Cấp xã.
        Commune => "commune",
    }
}

impl AgencyLevel {
    /// Rank from the top: provincial 0, district 1, commune 2.
    pub const fn rank(self) -> u8 {
        match self {
            AgencyLevel::Provincial => 0,
            AgencyLevel::District => 1,
            AgencyLevel::Commune => 2,
        }
    }

    /// Vietnamese label ("Cấp tỉnh", "Cấp huyện", "Cấp xã").
    pub const fn label_vi(self) -> &'static str {
        match self {
            AgencyLevel::Provincial => "Cấp tỉnh",
            AgencyLevel::District => "Cấp huyện",
            AgencyLevel::Commune => "Cấp xã",
        }
    }

    /// Whether an agency of this level may have a child of level `child`
    /// (same level or lower).
    pub const fn can_parent(self, child: AgencyLevel) -> bool {
        child.rank() >= self.rank()
    }
}

impl FromStr for AgencyLevel {
    type Err = DomainError;
    /// Accepts the snake code or the Vietnamese label, without regard to
    /// case or diacritics.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = fold_key(s);
        Self::ALL
            .into_iter()
            .find(|l| key == l.as_str() || key == fold_key(l.label_vi()))
            .ok_or(DomainError::InvalidValue { field: "level", reason: reason::UNKNOWN_AGENCY_LEVEL })
    }
}

string_newtype! {
    /// Name of an agency (Appendix VI `OrganName`): NFC, 1..=200 characters.
    pub struct AgencyName;
}

impl AgencyName {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 200;

    /// Normalises and validates a name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        clean_text("agency_name", s, Self::MAX_LEN, true).map(Self)
    }
}

string_newtype! {
    /// Abbreviation used in document symbols ("UBND", "STC", "HĐND"): NFC,
    /// 1..=20 characters of upper-case (Vietnamese) letters, digits and `&`.
    pub struct Abbreviation;
}

impl Abbreviation {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 20;

    /// Normalises and validates an abbreviation.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let text = clean_text("abbreviation", s, Self::MAX_LEN, true)?;
        if !text.chars().all(is_abbreviation_char) {
            return Err(DomainError::InvalidValue { field: "abbreviation", reason: reason::ABBREVIATION_CHARS });
        }
        Ok(Self(text))
    }
}

/// Upper-case Latin letter (including Vietnamese letters such as Đ, Ư, Ế),
/// ASCII digit, or `&`.
fn is_abbreviation_char(c: char) -> bool {
    let latin = matches!(c, 'A'..='Z' | '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}');
    c.is_ascii_digit() || c == '&' || (latin && c.is_uppercase())
}

/// An agency (cơ quan, tổ chức) known to the system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agency {
    /// Identifier.
    pub id: AgencyId,
    /// Parent agency in the tree, if any.
    pub parent_id: Option<AgencyId>,
    /// Identifier code (mã định danh).
    pub code: AgencyCode,
    /// Full name, e.g. "Ủy ban nhân dân tỉnh Bình An".
    pub name: AgencyName,
    /// Name of the managing agency (cơ quan chủ quản) printed above the name.
    pub parent_name: Option<AgencyName>,
    /// Abbreviation used in document symbols.
    pub abbreviation: Abbreviation,
    /// Administrative level.
    pub level: AgencyLevel,
    /// Place name for the date line, e.g. "Bình An" (1..=50 characters).
    pub place: String,
}

impl Agency {
    /// Maximum length of [`Agency::place`].
    pub const PLACE_MAX_LEN: usize = 50;

    /// Normalises the free-text fields and checks the rules not enforced by
    /// the field types (place length, not its own parent).
    pub fn validate(mut self) -> Result<Self, DomainError> {
        self.place = clean_text("place", &self.place, Self::PLACE_MAX_LEN, true)?;
        if self.parent_id == Some(self.id) {
            return Err(DomainError::InvalidValue { field: "parent_id", reason: reason::OWN_PARENT });
        }
        Ok(self)
    }
}

/// Checks that an agency of level `child_level` with code `child_code` may
/// be created under `parent`.
pub fn validate_child(parent: &Agency, child_level: AgencyLevel, child_code: &AgencyCode) -> Result<(), DomainError> {
    if !parent.level.can_parent(child_level) {
        return Err(DomainError::AgencyLevelMismatch { parent: parent.level.as_str(), child: child_level.as_str() });
    }
    if !child_code.is_under(&parent.code) {
        return Err(DomainError::CodeNotUnderParent { code: child_code.to_string(), parent: parent.code.to_string() });
    }
    Ok(())
}

/// A unit inside an agency (phòng, ban, văn phòng).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    /// Identifier.
    pub id: UnitId,
    /// Owning agency.
    pub agency_id: AgencyId,
    /// Parent unit, if nested.
    pub parent_id: Option<UnitId>,
    /// Name (1..=200 characters).
    pub name: String,
    /// Abbreviation used in Công văn symbols ("VP", "TCKH").
    pub abbreviation: Abbreviation,
}

impl Unit {
    /// Maximum length of [`Unit::name`].
    pub const NAME_MAX_LEN: usize = 200;

    /// Normalises the name and checks it is not its own parent.
    pub fn validate(mut self) -> Result<Self, DomainError> {
        self.name = clean_text("unit_name", &self.name, Self::NAME_MAX_LEN, true)?;
        if self.parent_id == Some(self.id) {
            return Err(DomainError::InvalidValue { field: "parent_id", reason: reason::OWN_PARENT });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;
    use uuid::Uuid;

    fn code(s: &str) -> AgencyCode {
        AgencyCode::parse(s).unwrap()
    }

    fn code_err(s: &str) -> &'static str {
        match AgencyCode::parse(s) {
            Err(DomainError::InvalidAgencyCode { reason, .. }) => reason,
            other => panic!("expected InvalidAgencyCode for {s:?}, got {other:?}"),
        }
    }

    #[test]
    fn legacy_codes_parse() {
        let c = code("000.00.00.H58");
        assert_eq!(c.format(), CodeFormat::Legacy);
        assert!(c.is_legacy());
        assert_eq!(c.level1(), "H58");
        assert_eq!(c.as_str(), "000.00.00.H58");
        assert_eq!(code("012.03.00.G22").level1(), "G22");
    }

    #[test]
    fn lowercase_is_uppercased_and_trimmed() {
        assert_eq!(code("000.00.00.h58").as_str(), "000.00.00.H58");
        assert_eq!(code("  h58.abc.01 ").as_str(), "H58.ABC.01");
    }

    #[test]
    fn qd20_codes_parse() {
        let c = code("H58.01.02");
        assert_eq!(c.format(), CodeFormat::Qd20);
        assert!(!c.is_legacy());
        assert_eq!(c.level1(), "H58");
        assert_eq!(code("G09").level1(), "G09");
        // Tax numbers of enterprises are digit-only single groups.
        assert_eq!(code("0101234567").level1(), "0101234567");
        let max = format!("{}.{}", "A".repeat(17), "B".repeat(17));
        assert_eq!(max.len(), 35);
        assert_eq!(code(&max).as_str(), max);
    }

    #[test]
    fn invalid_codes_are_rejected_with_reasons() {
        assert_eq!(code_err(""), reason::EMPTY);
        assert_eq!(code_err("   "), reason::EMPTY);
        let long = format!("{}.{}", "A".repeat(18), "B".repeat(17));
        assert_eq!(long.len(), 36);
        assert_eq!(code_err(&long), reason::TOO_LONG);
        assert_eq!(code_err("A..B"), reason::EMPTY_GROUP);
        assert_eq!(code_err(".A"), reason::EMPTY_GROUP);
        assert_eq!(code_err("A."), reason::EMPTY_GROUP);
        assert_eq!(code_err("H58-01"), reason::INVALID_CHARACTER);
        assert_eq!(code_err("H58 01"), reason::INVALID_CHARACTER);
        assert_eq!(code_err("H58.Đ1"), reason::INVALID_CHARACTER);
        assert_eq!(code_err("H58/01"), reason::INVALID_CHARACTER);
    }

    #[test]
    fn malformed_legacy_codes_are_rejected() {
        // 14 characters, legacy-looking.
        assert_eq!(code_err("0000.00.00.H58"), reason::MALFORMED_LEGACY_CODE);
        assert_eq!(code_err("000.00.00.H580"), reason::MALFORMED_LEGACY_CODE);
        assert_eq!(code_err("00.00.00.H58"), reason::MALFORMED_LEGACY_CODE);
        assert_eq!(code_err("000.0.00.H58"), reason::MALFORMED_LEGACY_CODE);
    }

    #[test]
    fn invalid_code_error_carries_the_normalised_code() {
        assert_eq!(
            AgencyCode::parse("a..b"),
            Err(DomainError::InvalidAgencyCode { code: "A..B".into(), reason: reason::EMPTY_GROUP })
        );
    }

    #[test]
    fn legacy_builder() {
        assert_eq!(AgencyCode::legacy(12, 3, 0, "H58").unwrap().as_str(), "012.03.00.H58");
        assert_eq!(AgencyCode::legacy(0, 0, 0, "h41").unwrap().as_str(), "000.00.00.H41");
        assert_eq!(AgencyCode::legacy(999, 99, 99, "G22").unwrap().as_str(), "999.99.99.G22");
        for (l4, l3, l2, l1, why) in [
            (1000, 0, 0, "H58", reason::LEVEL_OUT_OF_RANGE),
            (0, 100, 0, "H58", reason::LEVEL_OUT_OF_RANGE),
            (0, 0, 100, "H58", reason::LEVEL_OUT_OF_RANGE),
            (0, 0, 0, "58", reason::INVALID_LEVEL1),
            (0, 0, 0, "H5", reason::INVALID_LEVEL1),
            (0, 0, 0, "H580", reason::INVALID_LEVEL1),
            (0, 0, 0, "5H8", reason::INVALID_LEVEL1),
        ] {
            match AgencyCode::legacy(l4, l3, l2, l1) {
                Err(DomainError::InvalidAgencyCode { reason, .. }) => assert_eq!(reason, why),
                other => panic!("{l4} {l3} {l2} {l1}: {other:?}"),
            }
        }
    }

    #[test]
    fn is_under_legacy() {
        let province = code("000.00.00.H58");
        let dept = code("000.00.05.H58");
        let sub = code("000.03.05.H58");
        let other_branch = code("000.03.06.H58");
        let other_province = code("000.00.05.H41");
        assert!(dept.is_under(&province));
        assert!(sub.is_under(&province));
        assert!(sub.is_under(&dept));
        assert!(!other_branch.is_under(&dept));
        assert!(!province.is_under(&province));
        assert!(!dept.is_under(&dept));
        assert!(!province.is_under(&dept));
        assert!(!other_province.is_under(&province));
    }

    #[test]
    fn is_under_qd20() {
        let province = code("H58");
        let dept = code("H58.05");
        let sub = code("H58.05.03");
        assert!(dept.is_under(&province));
        assert!(sub.is_under(&province));
        assert!(sub.is_under(&dept));
        assert!(!province.is_under(&province));
        assert!(!province.is_under(&dept));
        // A prefix that is not a whole group does not count.
        assert!(!code("H580.01").is_under(&province));
        assert!(!code("H585").is_under(&province));
    }

    #[test]
    fn is_under_mixed_compares_level1() {
        assert!(code("H58.05").is_under(&code("000.00.00.H58")));
        assert!(code("000.00.05.H58").is_under(&code("H58")));
        assert!(!code("H41.05").is_under(&code("000.00.00.H58")));
    }

    #[test]
    fn agency_code_serde_validates() {
        let c: AgencyCode = serde_json::from_str("\"000.00.00.h58\"").unwrap();
        assert_eq!(c.as_str(), "000.00.00.H58");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"000.00.00.H58\"");
        assert!(serde_json::from_str::<AgencyCode>("\"A..B\"").is_err());
        assert_eq!(c.to_string(), "000.00.00.H58");
        assert_eq!("H58".parse::<AgencyCode>().unwrap().as_str(), "H58");
    }

    #[test]
    fn agency_levels() {
        use AgencyLevel::*;
        assert!(Provincial.can_parent(Provincial));
        assert!(Provincial.can_parent(District));
        assert!(Provincial.can_parent(Commune));
        assert!(District.can_parent(Commune));
        assert!(District.can_parent(District));
        assert!(!District.can_parent(Provincial));
        assert!(!Commune.can_parent(District));
        assert!(!Commune.can_parent(Provincial));
        assert_eq!(Provincial.label_vi(), "Cấp tỉnh");
        assert_eq!(District.label_vi(), "Cấp huyện");
        assert_eq!(Commune.label_vi(), "Cấp xã");
        assert_eq!("district".parse::<AgencyLevel>().unwrap(), District);
        assert_eq!("cấp XÃ".parse::<AgencyLevel>().unwrap(), Commune);
        assert_eq!("cap tinh".parse::<AgencyLevel>().unwrap(), Provincial);
        assert!("ward".parse::<AgencyLevel>().is_err());
        assert_eq!(serde_json::to_string(&Provincial).unwrap(), "\"provincial\"");
    }

    #[test]
    fn agency_name_rules() {
        let decomposed = "U\u{0309}y ban nha\u{0302}n da\u{0302}n";
        assert_eq!(AgencyName::parse(decomposed).unwrap().as_str(), "Ủy ban nhân dân");
        assert!(AgencyName::parse(&"ả".repeat(200)).is_ok());
        assert_eq!(
            AgencyName::parse(&"ả".repeat(201)),
            Err(DomainError::FieldTooLong { field: "agency_name", max: 200, actual: 201 })
        );
        assert_eq!(AgencyName::parse(" "), Err(DomainError::FieldRequired { field: "agency_name" }));
        assert!(serde_json::from_str::<AgencyName>("\"\"").is_err());
    }

    #[test]
    fn abbreviation_rules() {
        for ok in ["UBND", "STC", "VP", "TCKH", "HĐND", "NN&PTNT", "SỞ", "BCĐ389"] {
            assert_eq!(Abbreviation::parse(ok).unwrap().as_str(), ok, "{ok}");
        }
        // Decomposed Đ-less text is composed: "SỞ" typed with combining marks.
        assert_eq!(Abbreviation::parse("SO\u{031B}\u{0309}").unwrap().as_str(), "SỞ");
        assert!(Abbreviation::parse(&"A".repeat(20)).is_ok());
        assert!(matches!(Abbreviation::parse(&"A".repeat(21)), Err(DomainError::FieldTooLong { .. })));
        for bad in ["ubnd", "UB ND", "UB-ND", "UB/ND", "QyĐ", "ΑΒΓ", "UBND."] {
            assert_eq!(
                Abbreviation::parse(bad),
                Err(DomainError::InvalidValue { field: "abbreviation", reason: reason::ABBREVIATION_CHARS }),
                "{bad}"
            );
        }
        assert!(matches!(Abbreviation::parse(""), Err(DomainError::FieldRequired { .. })));
    }

    fn agency(level: AgencyLevel, code_s: &str) -> Agency {
        Agency {
            id: AgencyId::from_uuid(Uuid::from_u128(1)),
            parent_id: None,
            code: code(code_s),
            name: AgencyName::parse("Ủy ban nhân dân tỉnh Bình An").unwrap(),
            parent_name: None,
            abbreviation: Abbreviation::parse("UBND").unwrap(),
            level,
            place: " Bình An ".into(),
        }
    }

    #[test]
    fn agency_validate() {
        let a = agency(AgencyLevel::Provincial, "000.00.00.H58").validate().unwrap();
        assert_eq!(a.place, "Bình An");
        let mut b = agency(AgencyLevel::Provincial, "H58");
        b.place = "x".repeat(51);
        assert!(matches!(b.validate(), Err(DomainError::FieldTooLong { field: "place", .. })));
        let mut c = agency(AgencyLevel::Provincial, "H58");
        c.place = String::new();
        assert!(matches!(c.validate(), Err(DomainError::FieldRequired { field: "place" })));
        let mut d = agency(AgencyLevel::Provincial, "H58");
        d.parent_id = Some(d.id);
        assert!(d.validate().is_err());
    }

    #[test]
    fn validate_child_rules() {
        let province = agency(AgencyLevel::Provincial, "000.00.00.H58");
        assert!(validate_child(&province, AgencyLevel::Provincial, &code("000.00.05.H58")).is_ok());
        assert!(validate_child(&province, AgencyLevel::District, &code("000.00.07.H58")).is_ok());
        assert_eq!(
            validate_child(&province, AgencyLevel::District, &code("000.00.07.H41")),
            Err(DomainError::CodeNotUnderParent { code: "000.00.07.H41".into(), parent: "000.00.00.H58".into() })
        );
        let district = agency(AgencyLevel::District, "H58.07");
        assert!(validate_child(&district, AgencyLevel::Commune, &code("H58.07.01")).is_ok());
        assert_eq!(
            validate_child(&district, AgencyLevel::Provincial, &code("H58.07.01")),
            Err(DomainError::AgencyLevelMismatch { parent: "district", child: "provincial" })
        );
        assert!(validate_child(&district, AgencyLevel::Commune, &code("H58.08.01")).is_err());
    }

    #[test]
    fn unit_validate() {
        let unit = Unit {
            id: UnitId::from_uuid(Uuid::from_u128(2)),
            agency_id: AgencyId::from_uuid(Uuid::from_u128(1)),
            parent_id: None,
            name: "  Văn phòng ".into(),
            abbreviation: Abbreviation::parse("VP").unwrap(),
        };
        assert_eq!(unit.clone().validate().unwrap().name, "Văn phòng");
        let mut long = unit.clone();
        long.name = "a".repeat(201);
        assert!(matches!(long.validate(), Err(DomainError::FieldTooLong { max: 200, .. })));
        let mut own = unit;
        own.parent_id = Some(own.id);
        assert!(own.validate().is_err());
    }
}
