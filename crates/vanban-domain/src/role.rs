//! Roles a user can hold within an agency.

use std::str::FromStr;

use crate::error::DomainError;
use crate::text::fold_key;

code_enum! {
    /// A role in the e-office. Permissions per role are in [`crate::permission`].
    pub enum Role {
        /// System administrator (Quản trị hệ thống).
        Admin => "admin",
        /// Clerk (Văn thư): registers, numbers and issues documents.
        Clerk => "clerk",
        /// Specialist (Chuyên viên): drafts and handles documents.
        Specialist => "specialist",
        /// Head of a unit (Trưởng đơn vị).
        UnitHead => "unit_head",
        /// Agency leader (Lãnh đạo): approves and signs.
        Leader => "leader",
        /// Archivist (Lưu trữ).
        Archivist => "archivist",
    }
}

impl Role {
    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            Role::Admin => "Quản trị hệ thống",
            Role::Clerk => "Văn thư",
            Role::Specialist => "Chuyên viên",
            Role::UnitHead => "Trưởng đơn vị",
            Role::Leader => "Lãnh đạo",
            Role::Archivist => "Lưu trữ",
        }
    }

    /// Short folded Vietnamese aliases accepted by `FromStr`.
    const fn aliases(self) -> &'static [&'static str] {
        match self {
            Role::Admin => &["quan tri", "quan tri vien"],
            Role::Clerk => &["van thu"],
            Role::Specialist => &["chuyen vien"],
            Role::UnitHead => &["truong don vi", "unit head"],
            Role::Leader => &["lanh dao"],
            Role::Archivist => &["luu tru"],
        }
    }
}

impl FromStr for Role {
    type Err = DomainError;
    /// Accepts the snake code or a Vietnamese label ("Văn thư", "van thu",
    /// "LÃNH ĐẠO"), ignoring case, diacritics and extra whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = fold_key(s);
        Role::ALL
            .into_iter()
            .find(|r| key == r.as_str() || key == fold_key(r.label_vi()) || r.aliases().contains(&key.as_str()))
            .ok_or_else(|| DomainError::UnknownRole(s.trim().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(r.label_vi().parse::<Role>().unwrap(), r);
            assert_eq!(Role::from_snake(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), r);
        }
        assert_eq!(Role::UnitHead.as_str(), "unit_head");
        assert_eq!(Role::UnitHead.to_string(), "unit_head");
    }

    #[test]
    fn vietnamese_labels_parse_insensitively() {
        let cases = [
            ("quan tri", Role::Admin),
            ("Quản trị", Role::Admin),
            ("quản trị hệ thống", Role::Admin),
            ("van thu", Role::Clerk),
            ("  VĂN   THƯ ", Role::Clerk),
            ("chuyen vien", Role::Specialist),
            ("Trưởng đơn vị", Role::UnitHead),
            ("truong don vi", Role::UnitHead),
            ("LÃNH ĐẠO", Role::Leader),
            ("lanh dao", Role::Leader),
            ("Lưu trữ", Role::Archivist),
            ("ADMIN", Role::Admin),
        ];
        for (input, role) in cases {
            assert_eq!(input.parse::<Role>().unwrap(), role, "{input}");
        }
    }

    #[test]
    fn unknown_roles_are_rejected() {
        assert_eq!("giám đốc".parse::<Role>(), Err(DomainError::UnknownRole("giám đốc".into())));
        assert!("".parse::<Role>().is_err());
        assert!(serde_json::from_str::<Role>("\"Văn thư\"").is_err());
    }

    #[test]
    fn labels() {
        let labels: Vec<_> = Role::ALL.iter().map(|r| r.label_vi()).collect();
        assert_eq!(labels, ["Quản trị hệ thống", "Văn thư", "Chuyên viên", "Trưởng đơn vị", "Lãnh đạo", "Lưu trữ"]);
    }
}
