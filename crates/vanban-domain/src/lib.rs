//! The pure domain core of vanban: agencies, people, roles, documents and
//! their lifecycle rules, following Decree 30/2020/NĐ-CP and QCVN 102:2016.
//!
//! This crate does no IO: it reads no clock and no randomness. Callers pass
//! identifiers and the current time (`now`) in.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[macro_use]
mod macros;

pub mod agency;
pub mod audit;
pub mod authority;
pub mod doctype;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod metadata;
pub mod permission;
pub mod register;
pub mod review;
pub mod role;
pub mod symbol;
pub mod text;
pub mod user;

pub use agency::{Abbreviation, Agency, AgencyCode, AgencyLevel, AgencyName, CodeFormat, Unit, validate_child};
pub use authority::{Delegation, SigningAuthority, authority_lines, collective_authority_lines};
pub use doctype::{CopyForm, DocumentType};
pub use error::DomainError;
pub use ids::{AgencyId, AuditEventId, DelegationId, DocumentId, RegisterId, UnitId, UserId};
pub use lifecycle::{EdxmlStatus, IncomingAction, IncomingState, OutgoingAction, OutgoingState};
pub use metadata::{IncomingMetadata, OutgoingMetadata, Priority, Recipient, Secrecy, SignerInfo};
pub use permission::{Caller, Permission, permissions_of, role_allows};
pub use register::{AssignmentRole, ChangeKind, DeadlineState, RegisterDirection, RegisterRule, pick_register};
pub use review::{ReviewMode, ReviewStep, RoundOutcome, StepState};
pub use role::Role;
pub use symbol::{DocumentNumber, Notation, NumberSymbol, decree_day_month, notation_for};
pub use text::{clean_optional, clean_text, fold_key, fold_vi, nfc};
pub use user::{Email, FullName, Position, User, Username};
pub use uuid::Uuid;
