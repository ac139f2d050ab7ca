//! Permissions and the role → permission matrix.
//!
//! Permissions here are agency-local: they say what a caller may do inside
//! their own agency. Whether a document from another agency is visible at
//! all is not decided here but by deliveries (the store scopes queries to
//! documents issued by, or delivered to, the caller's agency).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{AgencyId, UserId};
use crate::role::Role;

code_enum! {
    /// Something a caller may be allowed to do.
    pub enum Permission {
        /// See the agency tree, units and users.
        ViewAgency => "view_agency",
        /// See documents visible to the agency.
        ViewDocuments => "view_documents",
        /// Create and edit drafts.
        CreateDraft => "create_draft",
        /// Review a draft and return it to the drafter.
        ReviewDraft => "review_draft",
        /// Approve a draft for signing.
        ApproveDraft => "approve_draft",
        /// Sign a document as the competent person.
        SignDocument => "sign_document",
        /// Number, issue, deliver, revoke or replace documents (clerk work).
        IssueDocument => "issue_document",
        /// Register or return incoming documents.
        RegisterIncoming => "register_incoming",
        /// Assign incoming documents for handling.
        AssignHandling => "assign_handling",
        /// Handle an assigned document.
        HandleDocument => "handle_document",
        /// Manage files and the agency archive.
        ManageArchive => "manage_archive",
        /// Manage user accounts and roles.
        ManageUsers => "manage_users",
        /// Manage agencies and units.
        ManageAgencies => "manage_agencies",
        /// Read the audit log.
        ViewAudit => "view_audit",
    }
}

impl Permission {
    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            Permission::ViewAgency => "Xem thông tin cơ quan",
            Permission::ViewDocuments => "Xem văn bản",
            Permission::CreateDraft => "Soạn thảo văn bản",
            Permission::ReviewDraft => "Xem xét dự thảo",
            Permission::ApproveDraft => "Duyệt dự thảo",
            Permission::SignDocument => "Ký văn bản",
            Permission::IssueDocument => "Cấp số và ban hành văn bản",
            Permission::RegisterIncoming => "Tiếp nhận văn bản đến",
            Permission::AssignHandling => "Phân công xử lý",
            Permission::HandleDocument => "Xử lý văn bản",
            Permission::ManageArchive => "Quản lý lưu trữ",
            Permission::ManageUsers => "Quản lý người dùng",
            Permission::ManageAgencies => "Quản lý cơ quan, đơn vị",
            Permission::ViewAudit => "Xem nhật ký hệ thống",
        }
    }
}

impl std::str::FromStr for Permission {
    type Err = DomainError;
    /// Parses the snake_case code.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::from_snake(s.trim())
            .ok_or(DomainError::InvalidValue { field: "permission", reason: crate::error::reason::UNKNOWN_PERMISSION })
    }
}

use Permission as P;

/// The role → permission matrix (Decree 30/2020 division of work).
///
/// The administrator runs the system but has no power over document
/// content: no drafting, approving, signing or issuing.
pub const ROLE_PERMISSIONS: [(Role, &[Permission]); 6] = [
    (Role::Admin, &[P::ViewAgency, P::ViewDocuments, P::ManageUsers, P::ManageAgencies, P::ViewAudit]),
    (Role::Clerk, &[P::ViewAgency, P::ViewDocuments, P::IssueDocument, P::RegisterIncoming]),
    (Role::Specialist, &[P::ViewAgency, P::ViewDocuments, P::CreateDraft, P::HandleDocument]),
    (
        Role::UnitHead,
        &[P::ViewAgency, P::ViewDocuments, P::CreateDraft, P::ReviewDraft, P::AssignHandling, P::HandleDocument],
    ),
    (
        Role::Leader,
        &[
            P::ViewAgency,
            P::ViewDocuments,
            P::ReviewDraft,
            P::ApproveDraft,
            P::SignDocument,
            P::AssignHandling,
            P::HandleDocument,
        ],
    ),
    (Role::Archivist, &[P::ViewAgency, P::ViewDocuments, P::ManageArchive]),
];

/// The permissions granted to `role` by [`ROLE_PERMISSIONS`].
pub fn permissions_of(role: Role) -> &'static [Permission] {
    ROLE_PERMISSIONS.iter().find(|(r, _)| *r == role).map_or(&[], |(_, perms)| *perms)
}

/// Whether `role` grants `p`.
pub fn role_allows(role: Role, p: Permission) -> bool {
    permissions_of(role).contains(&p)
}

/// The authenticated caller of a domain operation.
///
/// Permissions apply within `agency_id`; cross-agency visibility is decided
/// by deliveries, not here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The user.
    pub user_id: UserId,
    /// The user's agency.
    pub agency_id: AgencyId,
    /// Roles the user holds in that agency.
    pub roles: BTreeSet<Role>,
}

impl Caller {
    /// Whether any of the caller's roles grants `p`.
    pub fn has(&self, p: Permission) -> bool {
        self.roles.iter().any(|r| role_allows(*r, p))
    }

    /// `Ok` if the caller has `p`, else `Forbidden(p.as_str())`.
    pub fn require(&self, p: Permission) -> Result<(), DomainError> {
        if self.has(p) { Ok(()) } else { Err(DomainError::Forbidden(p.as_str())) }
    }

    /// Whether the caller holds role `r`.
    pub fn has_role(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;
    use uuid::Uuid;

    fn caller(roles: &[Role]) -> Caller {
        Caller {
            user_id: UserId::from_uuid(Uuid::from_u128(1)),
            agency_id: AgencyId::from_uuid(Uuid::from_u128(2)),
            roles: roles.iter().copied().collect(),
        }
    }

    #[test]
    fn matrix_lists_every_role_once() {
        for role in Role::ALL {
            assert_eq!(ROLE_PERMISSIONS.iter().filter(|(r, _)| *r == role).count(), 1, "{role}");
        }
    }

    #[test]
    fn every_role_can_view() {
        for role in Role::ALL {
            assert!(role_allows(role, P::ViewAgency), "{role}");
            assert!(role_allows(role, P::ViewDocuments), "{role}");
        }
    }

    #[test]
    fn full_matrix() {
        use Role::*;
        let expected: &[(Role, &[Permission])] = &[
            (Admin, &[P::ManageUsers, P::ManageAgencies, P::ViewAudit]),
            (Clerk, &[P::IssueDocument, P::RegisterIncoming]),
            (Specialist, &[P::CreateDraft, P::HandleDocument]),
            (UnitHead, &[P::CreateDraft, P::ReviewDraft, P::AssignHandling, P::HandleDocument]),
            (Leader, &[P::ReviewDraft, P::ApproveDraft, P::SignDocument, P::AssignHandling, P::HandleDocument]),
            (Archivist, &[P::ManageArchive]),
        ];
        for (role, extra) in expected {
            for p in Permission::ALL {
                let want = matches!(p, P::ViewAgency | P::ViewDocuments) || extra.contains(&p);
                assert_eq!(role_allows(*role, p), want, "{role} {p}");
            }
        }
    }

    #[test]
    fn admin_has_no_document_powers() {
        for p in [P::CreateDraft, P::ApproveDraft, P::SignDocument, P::IssueDocument, P::RegisterIncoming] {
            assert!(!role_allows(Role::Admin, p), "{p}");
        }
    }

    #[test]
    fn only_leaders_sign_and_approve() {
        for role in Role::ALL {
            assert_eq!(role_allows(role, P::SignDocument), role == Role::Leader);
            assert_eq!(role_allows(role, P::ApproveDraft), role == Role::Leader);
        }
    }

    #[test]
    fn caller_combines_roles() {
        let c = caller(&[Role::Clerk, Role::Specialist]);
        assert!(c.has(P::IssueDocument));
        assert!(c.has(P::CreateDraft));
        assert!(!c.has(P::SignDocument));
        assert!(c.has_role(Role::Clerk));
        assert!(!c.has_role(Role::Leader));
        assert_eq!(c.require(P::CreateDraft), Ok(()));
        assert_eq!(c.require(P::SignDocument), Err(DomainError::Forbidden("sign_document")));
    }

    #[test]
    fn caller_without_roles_has_nothing() {
        let c = caller(&[]);
        for p in Permission::ALL {
            assert!(!c.has(p));
            assert!(c.require(p).is_err());
        }
    }

    #[test]
    fn permission_codes() {
        for p in Permission::ALL {
            assert_eq!(Permission::from_snake(p.as_str()), Some(p));
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), p);
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.as_str()));
            assert!(!p.label_vi().is_empty());
        }
        assert_eq!(Permission::ALL.len(), 14);
        assert!("sign".parse::<Permission>().is_err());
    }
}
