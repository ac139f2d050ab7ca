//! User accounts and their validated fields.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, reason};
use crate::ids::{AgencyId, UnitId, UserId};
use crate::text::clean_text;

string_newtype! {
    /// Login name: trimmed, ASCII lower case, 3..=64 characters of
    /// `[a-z0-9._-]`, starting with a letter or digit.
    pub struct Username;
}

impl Username {
    /// Minimum length.
    pub const MIN_LEN: usize = 3;
    /// Maximum length.
    pub const MAX_LEN: usize = 64;

    /// Normalises and validates a username.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        const FIELD: &str = "username";
        let name = clean_text(FIELD, s, Self::MAX_LEN, true)?.to_ascii_lowercase();
        let invalid = |reason| Err(DomainError::InvalidValue { field: FIELD, reason });
        if name.chars().count() < Self::MIN_LEN {
            return invalid(reason::TOO_SHORT);
        }
        if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')) {
            return invalid(reason::INVALID_CHARACTER);
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return invalid(reason::MUST_START_ALPHANUMERIC);
        }
        Ok(Self(name))
    }
}

string_newtype! {
    /// A person's full name (Appendix VI `FullName`): NFC, 1..=50 characters.
    pub struct FullName;
}

impl FullName {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 50;

    /// Normalises and validates a full name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        clean_text("full_name", s, Self::MAX_LEN, true).map(Self)
    }
}

string_newtype! {
    /// An e-mail address: at most 100 characters, no whitespace, one `@`,
    /// a non-empty local part and a dotted domain.
    pub struct Email;
}

impl Email {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 100;

    /// Validates an address (deliberately simple; no IO, no DNS).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        const FIELD: &str = "email";
        let email = clean_text(FIELD, s, Self::MAX_LEN, true)?;
        let invalid = || Err(DomainError::InvalidValue { field: FIELD, reason: reason::INVALID_EMAIL });
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid();
        }
        let Some((local, domain)) = email.split_once('@') else {
            return invalid();
        };
        let domain_ok =
            !domain.contains('@') && domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !domain_ok {
            return invalid();
        }
        Ok(Self(email))
    }
}

string_newtype! {
    /// A position title (chức vụ), e.g. "Phó Chủ tịch": NFC, 1..=100 characters.
    pub struct Position;
}

impl Position {
    /// Maximum length in characters (Appendix VI `SignerInfo/Position`).
    pub const MAX_LEN: usize = 100;

    /// Normalises and validates a position title.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        clean_text("position", s, Self::MAX_LEN, true).map(Self)
    }
}

/// A user account. Roles are held separately (see [`crate::Caller`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Identifier.
    pub id: UserId,
    /// The agency the user works for.
    pub agency_id: AgencyId,
    /// The unit inside the agency, if any.
    pub unit_id: Option<UnitId>,
    /// Login name.
    pub username: Username,
    /// Full name.
    pub full_name: FullName,
    /// E-mail address.
    pub email: Option<Email>,
    /// Position title.
    pub position: Option<Position>,
    /// Whether the account may sign in.
    pub active: bool,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn invalid(field: &'static str, reason: &'static str) -> DomainError {
        DomainError::InvalidValue { field, reason }
    }

    #[test]
    fn username_valid() {
        assert_eq!(Username::parse("  NguyenVanA ").unwrap().as_str(), "nguyenvana");
        for ok in ["abc", "a.b", "van_thu-01", "1ab", &"a".repeat(64)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn username_invalid() {
        assert_eq!(Username::parse("ab"), Err(invalid("username", reason::TOO_SHORT)));
        assert_eq!(
            Username::parse(&"a".repeat(65)),
            Err(DomainError::FieldTooLong { field: "username", max: 64, actual: 65 })
        );
        assert_eq!(Username::parse(""), Err(DomainError::FieldRequired { field: "username" }));
        for bad in ["ab c", "nguyễn", "a@b", "a/bc"] {
            assert_eq!(Username::parse(bad), Err(invalid("username", reason::INVALID_CHARACTER)), "{bad}");
        }
        for bad in [".abc", "_abc", "-abc"] {
            assert_eq!(Username::parse(bad), Err(invalid("username", reason::MUST_START_ALPHANUMERIC)), "{bad}");
        }
        assert!(serde_json::from_str::<Username>("\"x\"").is_err());
        assert_eq!(serde_json::from_str::<Username>("\"ABC\"").unwrap().as_str(), "abc");
    }

    #[test]
    fn full_name_rules() {
        let decomposed = "Nguye\u{0302}\u{0303}n Va\u{0306}n A";
        assert_eq!(FullName::parse(decomposed).unwrap().as_str(), "Nguyễn Văn A");
        assert!(FullName::parse(&"ễ".repeat(50)).is_ok());
        assert_eq!(
            FullName::parse(&"ễ".repeat(51)),
            Err(DomainError::FieldTooLong { field: "full_name", max: 50, actual: 51 })
        );
        assert!(FullName::parse("  ").is_err());
    }

    #[test]
    fn email_rules() {
        assert_eq!(Email::parse(" vanthu@binhan.gov.vn ").unwrap().as_str(), "vanthu@binhan.gov.vn");
        let local = "a".repeat(100 - "@b.vn".len());
        assert!(Email::parse(&format!("{local}@b.vn")).is_ok());
        assert!(matches!(
            Email::parse(&format!("a{local}@b.vn")),
            Err(DomainError::FieldTooLong { field: "email", max: 100, .. })
        ));
        for bad in [
            "vanthu",
            "@binhan.gov.vn",
            "vanthu@",
            "vanthu@localhost",
            "van thu@binhan.gov.vn",
            "a@b@c.vn",
            "a@.vn",
            "a@b.",
            "a@b..vn",
        ] {
            assert_eq!(Email::parse(bad), Err(invalid("email", reason::INVALID_EMAIL)), "{bad}");
        }
    }

    #[test]
    fn position_rules() {
        assert_eq!(Position::parse(" Phó Chủ tịch ").unwrap().as_str(), "Phó Chủ tịch");
        assert!(Position::parse(&"x".repeat(100)).is_ok());
        assert!(matches!(
            Position::parse(&"x".repeat(101)),
            Err(DomainError::FieldTooLong { field: "position", max: 100, actual: 101 })
        ));
        assert!(Position::parse("").is_err());
    }

    #[test]
    fn user_serde_round_trip() {
        use uuid::Uuid;
        let user = User {
            id: UserId::from_uuid(Uuid::from_u128(7)),
            agency_id: AgencyId::from_uuid(Uuid::from_u128(1)),
            unit_id: None,
            username: Username::parse("vanthu").unwrap(),
            full_name: FullName::parse("Trần Thị B").unwrap(),
            email: Some(Email::parse("vanthu@binhan.gov.vn").unwrap()),
            position: Some(Position::parse("Văn thư").unwrap()),
            active: true,
        };
        let json = serde_json::to_string(&user).unwrap();
        assert_eq!(serde_json::from_str::<User>(&json).unwrap(), user);
    }
}
