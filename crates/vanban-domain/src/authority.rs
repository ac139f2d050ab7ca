//! Signing authority (thẩm quyền ký, Decree 30/2020 Art. 13 and Appendix I
//! §II.7) and delegations of signing power.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, reason};
use crate::ids::{AgencyId, DelegationId, UserId};
use crate::text::{fold_key, nfc};

code_enum! {
    /// How the signer signs: in their own name or for someone else.
    pub enum SigningAuthority {
        /// The head (or the competent person) signs directly; no prefix.
        Direct => "direct",
        /// `TM.`: on behalf of a collective body.
        OnBehalfOf => "on_behalf_of",
        /// `Q.`: acting head.
        Acting => "acting",
        /// `KT.`: a deputy signs for the head.
        ForHead => "for_head",
        /// `TL.`: by order of the head.
        ByOrder => "by_order",
        /// `TUQ.`: by written, time-limited authorisation of the head.
        ByAuthorisation => "by_authorisation",
    }
}

impl SigningAuthority {
    /// The abbreviation printed before the title ("TM.", "Q.", "KT.",
    /// "TL.", "TUQ."); `None` for a direct signature.
    pub const fn prefix(self) -> Option<&'static str> {
        match self {
            SigningAuthority::Direct => None,
            SigningAuthority::OnBehalfOf => Some("TM."),
            SigningAuthority::Acting => Some("Q."),
            SigningAuthority::ForHead => Some("KT."),
            SigningAuthority::ByOrder => Some("TL."),
            SigningAuthority::ByAuthorisation => Some("TUQ."),
        }
    }

    /// Parses a prefix ("KT." or "KT", any case); a blank string is
    /// [`SigningAuthority::Direct`]. `None` when unknown.
    pub fn parse_prefix(s: &str) -> Option<Self> {
        let key = s.trim().trim_end_matches('.').to_uppercase();
        if key.is_empty() {
            return Some(SigningAuthority::Direct);
        }
        SigningAuthority::ALL.into_iter().find(|a| a.prefix().is_some_and(|p| p.trim_end_matches('.') == key))
    }

    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            SigningAuthority::Direct => "Ký trực tiếp",
            SigningAuthority::OnBehalfOf => "Thay mặt",
            SigningAuthority::Acting => "Quyền",
            SigningAuthority::ForHead => "Ký thay",
            SigningAuthority::ByOrder => "Thừa lệnh",
            SigningAuthority::ByAuthorisation => "Thừa ủy quyền",
        }
    }

    /// Whether this power can be handed to another person by a delegation.
    pub const fn is_delegable(self) -> bool {
        matches!(
            self,
            SigningAuthority::ForHead
                | SigningAuthority::ByOrder
                | SigningAuthority::ByAuthorisation
                | SigningAuthority::Acting
        )
    }
}

impl FromStr for SigningAuthority {
    type Err = DomainError;
    /// Accepts the snake code, the prefix ("KT."), or the Vietnamese label.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = fold_key(s);
        SigningAuthority::from_snake(&key)
            .or_else(|| (!s.trim().is_empty()).then(|| Self::parse_prefix(s)).flatten())
            .or_else(|| SigningAuthority::ALL.into_iter().find(|a| fold_key(a.label_vi()) == key))
            .ok_or(DomainError::InvalidValue { field: "authority", reason: reason::UNKNOWN_AUTHORITY })
    }
}

/// Upper-cases a title with Unicode rules and returns NFC.
fn upper(s: &str) -> String {
    nfc(&nfc(s.trim()).to_uppercase())
}

/// The upper-case title lines above a signature (Appendix I §II.7.b).
///
/// - `(ForHead, "Chủ tịch", "Phó Chủ tịch")` → `["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"]`
/// - `(OnBehalfOf, "Ủy ban nhân dân", "Chủ tịch")` → `["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]`
/// - `(Direct, _, "Chủ tịch")` → `["CHỦ TỊCH"]`
/// - `(Acting, "Giám đốc", _)` → `["Q. GIÁM ĐỐC"]`: an acting head signs
///   with `Q.` before the head's title and no second line.
pub fn authority_lines(authority: SigningAuthority, collective_or_head: &str, signer_position: &str) -> Vec<String> {
    let head_line = |prefix: &str| format!("{prefix} {}", upper(collective_or_head));
    match (authority, authority.prefix()) {
        (_, None) => vec![upper(signer_position)],
        (SigningAuthority::Acting, Some(prefix)) => vec![head_line(prefix)],
        (_, Some(prefix)) => vec![head_line(prefix), upper(signer_position)],
    }
}

/// Title lines for a collective body whose head or deputy signs, e.g.
/// `("Ủy ban nhân dân", ForHead, "Chủ tịch", "Phó Chủ tịch")` →
/// `["TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"]`.
pub fn collective_authority_lines(
    collective: &str,
    authority: SigningAuthority,
    head_position: &str,
    signer_position: &str,
) -> Vec<String> {
    if authority == SigningAuthority::OnBehalfOf {
        return authority_lines(authority, collective, signer_position);
    }
    let mut lines = vec![format!("TM. {}", upper(collective))];
    lines.extend(authority_lines(authority, head_position, signer_position));
    lines
}

/// A grant of signing power from one user to another for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    /// Identifier.
    pub id: DelegationId,
    /// The agency in which the power applies.
    pub agency_id: AgencyId,
    /// The grantor.
    pub from_user: UserId,
    /// The grantee.
    pub to_user: UserId,
    /// The authority the grantee signs with.
    pub authority: SigningAuthority,
    /// Start of validity (inclusive).
    pub valid_from: DateTime<Utc>,
    /// End of validity (exclusive).
    pub valid_until: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The power the grantor held when granting, if it was itself delegated.
    pub received_via: Option<SigningAuthority>,
}

impl Delegation {
    /// Creates a delegation after checking the Decree 30 rules.
    ///
    /// `grantor_power` is how the grantor holds the power being passed on
    /// (`None` when it is their own). Authorisation (`TUQ.`) is written and
    /// time-limited and cannot be delegated further (Art. 13.3).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: DelegationId,
        agency_id: AgencyId,
        from_user: UserId,
        to_user: UserId,
        authority: SigningAuthority,
        valid_from: DateTime<Utc>,
        valid_until: DateTime<Utc>,
        grantor_power: Option<SigningAuthority>,
    ) -> Result<Self, DomainError> {
        if from_user == to_user {
            return Err(DomainError::InvalidDelegation(reason::SELF_DELEGATION));
        }
        if valid_from >= valid_until {
            return Err(DomainError::InvalidDelegation(reason::EMPTY_PERIOD));
        }
        if !authority.is_delegable() {
            return Err(DomainError::InvalidDelegation(reason::AUTHORITY_NOT_DELEGABLE));
        }
        if grantor_power == Some(SigningAuthority::ByAuthorisation) {
            return Err(DomainError::InvalidDelegation(reason::NO_FURTHER_AUTHORISATION));
        }
        Ok(Self {
            id,
            agency_id,
            from_user,
            to_user,
            authority,
            valid_from,
            valid_until,
            revoked_at: None,
            received_via: grantor_power,
        })
    }

    /// Whether the delegation is in force at `now`: within
    /// `[valid_from, valid_until)` and not revoked at or before `now`.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_from <= now && now < self.valid_until && self.revoked_at.is_none_or(|revoked| now < revoked)
    }

    /// Revokes the delegation from `now` on (an earlier revocation stands).
    pub fn revoke(&mut self, now: DateTime<Utc>) {
        if self.revoked_at.is_none_or(|revoked| now < revoked) {
            self.revoked_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;
    use SigningAuthority::*;
    use chrono::{Duration, TimeZone};
    use uuid::Uuid;

    #[test]
    fn prefixes() {
        let prefixes: Vec<_> = SigningAuthority::ALL.iter().map(|a| a.prefix()).collect();
        assert_eq!(prefixes, [None, Some("TM."), Some("Q."), Some("KT."), Some("TL."), Some("TUQ.")]);
        for a in SigningAuthority::ALL {
            let p = a.prefix().unwrap_or("");
            assert_eq!(SigningAuthority::parse_prefix(p), Some(a));
            assert_eq!(a.as_str().parse::<SigningAuthority>().unwrap(), a);
            assert_eq!(a.label_vi().parse::<SigningAuthority>().unwrap(), a);
        }
        assert_eq!(SigningAuthority::parse_prefix("kt"), Some(ForHead));
        assert_eq!(SigningAuthority::parse_prefix(" TUQ. "), Some(ByAuthorisation));
        assert_eq!(SigningAuthority::parse_prefix("XX."), None);
        assert_eq!("KT.".parse::<SigningAuthority>().unwrap(), ForHead);
        assert_eq!("thua uy quyen".parse::<SigningAuthority>().unwrap(), ByAuthorisation);
        assert!("".parse::<SigningAuthority>().is_err());
        assert!("nope".parse::<SigningAuthority>().is_err());
        assert_eq!(serde_json::to_string(&OnBehalfOf).unwrap(), "\"on_behalf_of\"");
    }

    #[test]
    fn lines_follow_appendix_i() {
        assert_eq!(authority_lines(ForHead, "Chủ tịch", "Phó Chủ tịch"), ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"]);
        assert_eq!(authority_lines(OnBehalfOf, "Ủy ban nhân dân", "Chủ tịch"), ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]);
        assert_eq!(authority_lines(Direct, "ignored", "Chủ tịch"), ["CHỦ TỊCH"]);
        assert_eq!(authority_lines(Acting, "Giám đốc", "Phó Giám đốc"), ["Q. GIÁM ĐỐC"]);
        assert_eq!(authority_lines(ByOrder, "Bộ trưởng", "Chánh Văn phòng"), ["TL. BỘ TRƯỞNG", "CHÁNH VĂN PHÒNG"]);
        assert_eq!(
            authority_lines(ByAuthorisation, "Chủ tịch", "Giám đốc Sở Nội vụ"),
            ["TUQ. CHỦ TỊCH", "GIÁM ĐỐC SỞ NỘI VỤ"]
        );
    }

    #[test]
    fn lines_are_nfc_from_decomposed_input() {
        let decomposed = "Chu\u{0309} ti\u{0323}ch";
        let lines = authority_lines(Direct, "", decomposed);
        assert_eq!(lines, ["CHỦ TỊCH"]);
        assert_eq!(lines[0], nfc(&lines[0]));
    }

    #[test]
    fn collective_lines() {
        assert_eq!(
            collective_authority_lines("Ủy ban nhân dân", ForHead, "Chủ tịch", "Phó Chủ tịch"),
            ["TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"]
        );
        assert_eq!(
            collective_authority_lines("Ủy ban nhân dân", Direct, "Chủ tịch", "Chủ tịch"),
            ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
        );
        assert_eq!(
            collective_authority_lines("Ủy ban nhân dân", OnBehalfOf, "Chủ tịch", "Chủ tịch"),
            ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
        );
    }

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, day, 0, 0, 0).single().unwrap()
    }

    fn user(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(n))
    }

    fn delegation(
        authority: SigningAuthority,
        from: u128,
        to: u128,
        start: u32,
        end: u32,
        grantor_power: Option<SigningAuthority>,
    ) -> Result<Delegation, DomainError> {
        Delegation::new(
            DelegationId::from_uuid(Uuid::from_u128(9)),
            AgencyId::from_uuid(Uuid::from_u128(8)),
            user(from),
            user(to),
            authority,
            t(start),
            t(end),
            grantor_power,
        )
    }

    #[test]
    fn valid_delegations() {
        for a in [ForHead, ByOrder, ByAuthorisation, Acting] {
            let d = delegation(a, 1, 2, 1, 10, None).unwrap();
            assert_eq!(d.authority, a);
            assert_eq!(d.revoked_at, None);
            assert_eq!(d.received_via, None);
        }
        // A deputy holding KT. may pass on a TL. power.
        let d = delegation(ByOrder, 1, 2, 1, 10, Some(ForHead)).unwrap();
        assert_eq!(d.received_via, Some(ForHead));
    }

    #[test]
    fn invalid_delegations() {
        let err = |r| Err(DomainError::InvalidDelegation(r));
        assert_eq!(delegation(ForHead, 1, 1, 1, 10, None), err(reason::SELF_DELEGATION));
        assert_eq!(delegation(ForHead, 1, 2, 10, 10, None), err(reason::EMPTY_PERIOD));
        assert_eq!(delegation(ForHead, 1, 2, 10, 1, None), err(reason::EMPTY_PERIOD));
        assert_eq!(delegation(Direct, 1, 2, 1, 10, None), err(reason::AUTHORITY_NOT_DELEGABLE));
        assert_eq!(delegation(OnBehalfOf, 1, 2, 1, 10, None), err(reason::AUTHORITY_NOT_DELEGABLE));
        for a in [ForHead, ByOrder, ByAuthorisation, Acting] {
            assert_eq!(delegation(a, 1, 2, 1, 10, Some(ByAuthorisation)), err(reason::NO_FURTHER_AUTHORISATION));
        }
        assert_eq!(reason::NO_FURTHER_AUTHORISATION, "authorisation cannot be delegated further");
    }

    #[test]
    fn activity_window_and_revocation() {
        let mut d = delegation(ByAuthorisation, 1, 2, 5, 10, None).unwrap();
        assert!(!d.is_active_at(t(4)));
        assert!(d.is_active_at(t(5)));
        assert!(d.is_active_at(t(9)));
        assert!(!d.is_active_at(t(10)));
        d.revoke(t(7));
        assert_eq!(d.revoked_at, Some(t(7)));
        assert!(d.is_active_at(t(6)));
        assert!(!d.is_active_at(t(7)));
        assert!(!d.is_active_at(t(8)));
        // A later revocation does not move an earlier one.
        d.revoke(t(9));
        assert_eq!(d.revoked_at, Some(t(7)));
        d.revoke(t(6) + Duration::hours(1));
        assert_eq!(d.revoked_at, Some(t(6) + Duration::hours(1)));
    }
}
