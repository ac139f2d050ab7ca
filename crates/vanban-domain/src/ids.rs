//! Typed identifiers. Every id is a UUID chosen by the caller (the core
//! generates none).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, reason};

macro_rules! define_id {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID.
            pub const fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }

            /// The wrapped UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| DomainError::InvalidValue {
                        field: "id",
                        reason: reason::NOT_A_UUID,
                    })
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    )+};
}

define_id! {
    /// Identifies an agency (cơ quan, tổ chức).
    AgencyId;
    /// Identifies a unit inside an agency (đơn vị, phòng ban).
    UnitId;
    /// Identifies a user account.
    UserId;
    /// Identifies a document, outgoing or incoming.
    DocumentId;
    /// Identifies a signing delegation.
    DelegationId;
    /// Identifies an audit-log event.
    AuditEventId;
    /// Identifies a document register (sổ văn bản).
    RegisterId;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    const U: Uuid = Uuid::from_u128(0x0192_3456_789a_7bcd_8ef0_1234_5678_9abc);

    #[test]
    fn display_is_hyphenated_and_round_trips() {
        let id = DocumentId::from_uuid(U);
        let s = id.to_string();
        assert_eq!(s, "01923456-789a-7bcd-8ef0-123456789abc");
        assert_eq!(s.parse::<DocumentId>().unwrap(), id);
        assert_eq!(id.as_uuid(), U);
    }

    #[test]
    fn from_str_accepts_simple_form_and_rejects_garbage() {
        let id: UserId = "01923456789a7bcd8ef0123456789abc".parse().unwrap();
        assert_eq!(id.as_uuid(), U);
        assert_eq!(
            "not-a-uuid".parse::<AgencyId>(),
            Err(DomainError::InvalidValue { field: "id", reason: reason::NOT_A_UUID })
        );
        assert!("".parse::<UnitId>().is_err());
    }

    #[test]
    fn serde_is_transparent() {
        let id = RegisterId::from_uuid(U);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"01923456-789a-7bcd-8ef0-123456789abc\"");
        assert_eq!(serde_json::from_str::<RegisterId>(&json).unwrap(), id);
    }

    #[test]
    fn ordering_follows_uuid() {
        let a = AuditEventId::from_uuid(Uuid::from_u128(1));
        let b = AuditEventId::from_uuid(Uuid::from_u128(2));
        assert!(a < b);
        let _ = DelegationId::from(Uuid::nil());
    }
}
