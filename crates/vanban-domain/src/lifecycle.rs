//! Document lifecycles as pure state machines, and the edXML status codes
//! (QCVN 102:2016, status packages).

use std::str::FromStr;

use crate::error::{DomainError, reason};
use crate::permission::Permission;

code_enum! {
    /// State of an outgoing document (văn bản đi).
    pub enum OutgoingState {
        /// Being drafted.
        Draft => "draft",
        /// Submitted for review and approval.
        InReview => "in_review",
        /// Approved for signing.
        Approved => "approved",
        /// Signed by the competent person.
        Signed => "signed",
        /// Number and symbol assigned by the clerk.
        Numbered => "numbered",
        /// Issued with the agency signature.
        Issued => "issued",
        /// Sent to its recipients.
        Delivered => "delivered",
        /// Revoked after issue (terminal).
        Revoked => "revoked",
        /// Replaced by another document (terminal).
        Replaced => "replaced",
    }
}

code_enum! {
    /// An action on an outgoing document.
    pub enum OutgoingAction {
        /// Drafter submits the draft.
        SubmitForReview => "submit_for_review",
        /// Reviewer sends the draft back.
        ReturnToDrafter => "return_to_drafter",
        /// Leader approves the draft.
        Approve => "approve",
        /// Leader signs.
        Sign => "sign",
        /// Clerk assigns the number.
        AssignNumber => "assign_number",
        /// Clerk issues (agency signature).
        Issue => "issue",
        /// Clerk sends to recipients.
        Deliver => "deliver",
        /// Revoke an issued document.
        Revoke => "revoke",
        /// Replace an issued document.
        Replace => "replace",
        /// Send an update of an issued document (state unchanged).
        Update => "update",
    }
}

impl OutgoingState {
    /// The state after `action`, or `IllegalTransition`.
    ///
    /// Only an approved draft can be signed, and only a signed document can
    /// be numbered and issued.
    pub fn apply(self, action: OutgoingAction) -> Result<OutgoingState, DomainError> {
        use OutgoingAction as A;
        use OutgoingState as S;
        Ok(match (self, action) {
            (S::Draft, A::SubmitForReview) => S::InReview,
            (S::InReview | S::Approved, A::ReturnToDrafter) => S::Draft,
            (S::InReview, A::Approve) => S::Approved,
            (S::Approved, A::Sign) => S::Signed,
            (S::Signed, A::AssignNumber) => S::Numbered,
            (S::Numbered, A::Issue) => S::Issued,
            (S::Issued, A::Deliver) => S::Delivered,
            (S::Issued | S::Delivered, A::Revoke) => S::Revoked,
            (S::Issued | S::Delivered, A::Replace) => S::Replaced,
            (state @ (S::Issued | S::Delivered), A::Update) => state,
            (from, action) => {
                return Err(DomainError::IllegalTransition { from: from.as_str(), action: action.as_str() });
            }
        })
    }

    /// The actions allowed from this state.
    pub fn available_actions(self) -> Vec<OutgoingAction> {
        OutgoingAction::ALL.into_iter().filter(|a| self.apply(*a).is_ok()).collect()
    }

    /// Whether no action leads out of this state (revoked or replaced).
    pub const fn is_terminal(self) -> bool {
        matches!(self, OutgoingState::Revoked | OutgoingState::Replaced)
    }

    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            OutgoingState::Draft => "Dự thảo",
            OutgoingState::InReview => "Đang xem xét",
            OutgoingState::Approved => "Đã duyệt",
            OutgoingState::Signed => "Đã ký",
            OutgoingState::Numbered => "Đã cấp số",
            OutgoingState::Issued => "Đã ban hành",
            OutgoingState::Delivered => "Đã gửi",
            OutgoingState::Revoked => "Đã thu hồi",
            OutgoingState::Replaced => "Đã bị thay thế",
        }
    }
}

impl OutgoingAction {
    /// The permission a caller needs to perform this action.
    pub const fn required_permission(self) -> Permission {
        match self {
            OutgoingAction::SubmitForReview => Permission::CreateDraft,
            OutgoingAction::ReturnToDrafter => Permission::ReviewDraft,
            OutgoingAction::Approve => Permission::ApproveDraft,
            OutgoingAction::Sign => Permission::SignDocument,
            OutgoingAction::AssignNumber
            | OutgoingAction::Issue
            | OutgoingAction::Deliver
            | OutgoingAction::Revoke
            | OutgoingAction::Replace
            | OutgoingAction::Update => Permission::IssueDocument,
        }
    }

    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            OutgoingAction::SubmitForReview => "Trình duyệt",
            OutgoingAction::ReturnToDrafter => "Trả lại người soạn thảo",
            OutgoingAction::Approve => "Duyệt",
            OutgoingAction::Sign => "Ký",
            OutgoingAction::AssignNumber => "Cấp số",
            OutgoingAction::Issue => "Ban hành",
            OutgoingAction::Deliver => "Gửi",
            OutgoingAction::Revoke => "Thu hồi",
            OutgoingAction::Replace => "Thay thế",
            OutgoingAction::Update => "Cập nhật",
        }
    }
}

code_enum! {
    /// State of an incoming document (văn bản đến).
    pub enum IncomingState {
        /// Received by the system, not yet registered (edXML 01).
        Arrived => "arrived",
        /// Returned to the sender (edXML 02, terminal).
        Returned => "returned",
        /// Registered by the clerk (edXML 03).
        Registered => "registered",
        /// Assigned for handling (edXML 04).
        Assigned => "assigned",
        /// Being handled (edXML 05).
        InProgress => "in_progress",
        /// Handling finished (edXML 06, terminal except for withdrawal).
        Done => "done",
        /// Withdrawn because the sender revoked it (terminal).
        Withdrawn => "withdrawn",
    }
}

code_enum! {
    /// An action on an incoming document.
    pub enum IncomingAction {
        /// Clerk registers the document.
        Register => "register",
        /// Clerk returns it to the sender (wrong recipient, failed checks).
        Return => "return",
        /// Assign (or reassign) handling.
        Assign => "assign",
        /// Handler starts work.
        StartWork => "start_work",
        /// Handler forwards within the agency.
        Forward => "forward",
        /// Handling finished.
        Finish => "finish",
        /// Sender revoked the document.
        Withdraw => "withdraw",
    }
}

impl IncomingState {
    /// The state after `action`, or `IllegalTransition`.
    pub fn apply(self, action: IncomingAction) -> Result<IncomingState, DomainError> {
        use IncomingAction as A;
        use IncomingState as S;
        Ok(match (self, action) {
            (S::Arrived, A::Register) => S::Registered,
            (S::Arrived, A::Return) => S::Returned,
            (S::Registered | S::Assigned, A::Assign) => S::Assigned,
            (S::Assigned, A::StartWork) => S::InProgress,
            (S::InProgress, A::Forward) => S::InProgress,
            (S::Assigned | S::InProgress, A::Finish) => S::Done,
            (state, A::Withdraw) if !state.is_terminal() || state == S::Done => S::Withdrawn,
            (from, action) => {
                return Err(DomainError::IllegalTransition { from: from.as_str(), action: action.as_str() });
            }
        })
    }

    /// The actions allowed from this state.
    pub fn available_actions(self) -> Vec<IncomingAction> {
        IncomingAction::ALL.into_iter().filter(|a| self.apply(*a).is_ok()).collect()
    }

    /// Whether processing has ended (returned, done or withdrawn).
    pub const fn is_terminal(self) -> bool {
        matches!(self, IncomingState::Returned | IncomingState::Done | IncomingState::Withdrawn)
    }

    /// The edXML status code reported to the sender; `None` for Withdrawn.
    pub const fn status_code(self) -> Option<&'static str> {
        match self.edxml_status() {
            Some(status) => Some(status.code()),
            None => None,
        }
    }

    /// The edXML status reported to the sender; `None` for Withdrawn.
    pub const fn edxml_status(self) -> Option<EdxmlStatus> {
        match self {
            IncomingState::Arrived => Some(EdxmlStatus::Arrived01),
            IncomingState::Returned => Some(EdxmlStatus::Refused02),
            IncomingState::Registered => Some(EdxmlStatus::Accepted03),
            IncomingState::Assigned => Some(EdxmlStatus::Assigned04),
            IncomingState::InProgress => Some(EdxmlStatus::Processing05),
            IncomingState::Done => Some(EdxmlStatus::Done06),
            IncomingState::Withdrawn => None,
        }
    }

    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            IncomingState::Arrived => "Đã đến",
            IncomingState::Returned => "Đã trả lại",
            IncomingState::Registered => "Đã tiếp nhận",
            IncomingState::Assigned => "Đã phân công",
            IncomingState::InProgress => "Đang xử lý",
            IncomingState::Done => "Hoàn thành",
            IncomingState::Withdrawn => "Đã bị thu hồi",
        }
    }
}

impl IncomingAction {
    /// The permission a caller needs to perform this action.
    pub const fn required_permission(self) -> Permission {
        match self {
            IncomingAction::Register | IncomingAction::Return | IncomingAction::Withdraw => {
                Permission::RegisterIncoming
            }
            IncomingAction::Assign => Permission::AssignHandling,
            IncomingAction::StartWork | IncomingAction::Forward | IncomingAction::Finish => Permission::HandleDocument,
        }
    }

    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            IncomingAction::Register => "Tiếp nhận",
            IncomingAction::Return => "Trả lại",
            IncomingAction::Assign => "Phân công",
            IncomingAction::StartWork => "Bắt đầu xử lý",
            IncomingAction::Forward => "Chuyển xử lý",
            IncomingAction::Finish => "Hoàn thành xử lý",
            IncomingAction::Withdraw => "Thu hồi",
        }
    }
}

macro_rules! lifecycle_from_str {
    ($($ty:ident => $field:literal, $reason:expr;)+) => {$(
        impl FromStr for $ty {
            type Err = DomainError;
            /// Parses the snake_case code.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::from_snake(s.trim()).ok_or(DomainError::InvalidValue {
                    field: $field,
                    reason: $reason,
                })
            }
        }
    )+};
}

lifecycle_from_str! {
    OutgoingState => "state", reason::UNKNOWN_STATE;
    OutgoingAction => "action", reason::UNKNOWN_ACTION;
    IncomingState => "state", reason::UNKNOWN_STATE;
    IncomingAction => "action", reason::UNKNOWN_ACTION;
}

/// Vietnamese label of a lifecycle state or action code, for messages.
pub(crate) fn label_vi_of(code: &str) -> Option<&'static str> {
    OutgoingState::from_snake(code)
        .map(OutgoingState::label_vi)
        .or_else(|| OutgoingAction::from_snake(code).map(OutgoingAction::label_vi))
        .or_else(|| IncomingState::from_snake(code).map(IncomingState::label_vi))
        .or_else(|| IncomingAction::from_snake(code).map(IncomingAction::label_vi))
}

code_enum! {
    /// Status codes of edXML status packages (`StatusCode`).
    pub enum EdxmlStatus {
        /// 01 Đã đến: received, not yet processed by the clerk.
        Arrived01 => "arrived",
        /// 02 Từ chối tiếp nhận: refused, reason in `Description`.
        Refused02 => "refused",
        /// 03 Đã tiếp nhận: registered by the clerk.
        Accepted03 => "accepted",
        /// 04 Phân công: assigned for handling.
        Assigned04 => "assigned",
        /// 05 Đang xử lý: being processed.
        Processing05 => "processing",
        /// 06 Hoàn thành: processing finished.
        Done06 => "done",
        /// 13 Lấy lại: the original sender asks to take the document back.
        TakeBack13 => "take_back",
        /// 15 The clerk agrees to the update or take-back request.
        ChangeAccepted15 => "change_accepted",
        /// 16 The clerk refuses the update or take-back request.
        ChangeRefused16 => "change_refused",
    }
}

impl EdxmlStatus {
    /// The two-digit wire code ("01" … "16").
    pub const fn code(self) -> &'static str {
        match self {
            EdxmlStatus::Arrived01 => "01",
            EdxmlStatus::Refused02 => "02",
            EdxmlStatus::Accepted03 => "03",
            EdxmlStatus::Assigned04 => "04",
            EdxmlStatus::Processing05 => "05",
            EdxmlStatus::Done06 => "06",
            EdxmlStatus::TakeBack13 => "13",
            EdxmlStatus::ChangeAccepted15 => "15",
            EdxmlStatus::ChangeRefused16 => "16",
        }
    }

    /// The status for a wire code; lenient about whitespace and a missing
    /// leading zero ("5" is "05").
    pub fn from_code(code: &str) -> Option<Self> {
        let code = code.trim();
        if code.is_empty() || code.len() > 2 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let padded = format!("{code:0>2}");
        Self::ALL.into_iter().find(|s| s.code() == padded)
    }

    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            EdxmlStatus::Arrived01 => "Đã đến",
            EdxmlStatus::Refused02 => "Từ chối tiếp nhận",
            EdxmlStatus::Accepted03 => "Đã tiếp nhận",
            EdxmlStatus::Assigned04 => "Phân công",
            EdxmlStatus::Processing05 => "Đang xử lý",
            EdxmlStatus::Done06 => "Hoàn thành",
            EdxmlStatus::TakeBack13 => "Lấy lại",
            EdxmlStatus::ChangeAccepted15 => "Đồng ý yêu cầu cập nhật, lấy lại",
            EdxmlStatus::ChangeRefused16 => "Từ chối yêu cầu cập nhật, lấy lại",
        }
    }

    /// Whether the original sender (not the receiver) sends this status.
    pub const fn is_sent_by_sender(self) -> bool {
        matches!(self, EdxmlStatus::TakeBack13)
    }
}

impl FromStr for EdxmlStatus {
    type Err = DomainError;
    /// Accepts the snake code ("processing") or the wire code ("05").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EdxmlStatus::from_snake(s.trim())
            .or_else(|| EdxmlStatus::from_code(s))
            .ok_or(DomainError::InvalidValue { field: "StatusCode", reason: reason::UNKNOWN_CODE })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;
    use std::collections::BTreeSet;

    use OutgoingAction as OA;
    use OutgoingState as OS;

    fn outgoing_expected(s: OS, a: OA) -> Option<OS> {
        Some(match (s, a) {
            (OS::Draft, OA::SubmitForReview) => OS::InReview,
            (OS::InReview, OA::ReturnToDrafter) => OS::Draft,
            (OS::InReview, OA::Approve) => OS::Approved,
            (OS::Approved, OA::ReturnToDrafter) => OS::Draft,
            (OS::Approved, OA::Sign) => OS::Signed,
            (OS::Signed, OA::AssignNumber) => OS::Numbered,
            (OS::Numbered, OA::Issue) => OS::Issued,
            (OS::Issued, OA::Deliver) => OS::Delivered,
            (OS::Issued, OA::Revoke) | (OS::Delivered, OA::Revoke) => OS::Revoked,
            (OS::Issued, OA::Replace) | (OS::Delivered, OA::Replace) => OS::Replaced,
            (OS::Issued, OA::Update) => OS::Issued,
            (OS::Delivered, OA::Update) => OS::Delivered,
            _ => return None,
        })
    }

    #[test]
    fn outgoing_transitions_exhaustive() {
        let mut legal = 0;
        for s in OS::ALL {
            for a in OA::ALL {
                let got = s.apply(a);
                match outgoing_expected(s, a) {
                    Some(next) => {
                        legal += 1;
                        assert_eq!(got, Ok(next), "{s} {a}");
                    }
                    None => assert_eq!(
                        got,
                        Err(DomainError::IllegalTransition { from: s.as_str(), action: a.as_str() }),
                        "{s} {a}"
                    ),
                }
            }
        }
        assert_eq!(legal, 14);
    }

    #[test]
    fn only_approved_can_be_signed() {
        for s in OS::ALL {
            for a in OA::ALL {
                if s.apply(a) == Ok(OS::Signed) {
                    assert_eq!((s, a), (OS::Approved, OA::Sign));
                }
            }
        }
    }

    #[test]
    fn signed_is_unreachable_without_approval() {
        // Explore every path from Draft that never uses Approve.
        let mut seen = BTreeSet::from([OS::Draft]);
        let mut todo = vec![OS::Draft];
        while let Some(s) = todo.pop() {
            for a in OA::ALL.into_iter().filter(|a| *a != OA::Approve) {
                if let Ok(next) = s.apply(a)
                    && seen.insert(next)
                {
                    todo.push(next);
                }
            }
        }
        assert_eq!(seen, BTreeSet::from([OS::Draft, OS::InReview]));
    }

    #[test]
    fn happy_path_to_delivered() {
        let mut s = OS::Draft;
        for a in [OA::SubmitForReview, OA::Approve, OA::Sign, OA::AssignNumber, OA::Issue, OA::Deliver] {
            s = s.apply(a).unwrap();
        }
        assert_eq!(s, OS::Delivered);
        assert_eq!(s.apply(OA::Update).unwrap(), OS::Delivered);
        assert_eq!(s.apply(OA::Revoke).unwrap(), OS::Revoked);
    }

    #[test]
    fn terminal_states_have_no_actions() {
        for s in OS::ALL {
            assert_eq!(s.is_terminal(), s.available_actions().is_empty(), "{s}");
        }
        assert!(OS::Revoked.is_terminal());
        assert!(OS::Replaced.is_terminal());
        assert_eq!(OS::Approved.available_actions(), [OA::ReturnToDrafter, OA::Sign]);
    }

    #[test]
    fn outgoing_permissions() {
        use Permission as P;
        let expected = [
            (OA::SubmitForReview, P::CreateDraft),
            (OA::ReturnToDrafter, P::ReviewDraft),
            (OA::Approve, P::ApproveDraft),
            (OA::Sign, P::SignDocument),
            (OA::AssignNumber, P::IssueDocument),
            (OA::Issue, P::IssueDocument),
            (OA::Deliver, P::IssueDocument),
            (OA::Revoke, P::IssueDocument),
            (OA::Replace, P::IssueDocument),
            (OA::Update, P::IssueDocument),
        ];
        assert_eq!(expected.len(), OA::ALL.len());
        for (a, p) in expected {
            assert_eq!(a.required_permission(), p, "{a}");
        }
    }

    #[test]
    fn outgoing_labels_and_codes() {
        let labels: Vec<_> = OS::ALL.iter().map(|s| s.label_vi()).collect();
        assert_eq!(
            labels,
            [
                "Dự thảo",
                "Đang xem xét",
                "Đã duyệt",
                "Đã ký",
                "Đã cấp số",
                "Đã ban hành",
                "Đã gửi",
                "Đã thu hồi",
                "Đã bị thay thế"
            ]
        );
        for s in OS::ALL {
            assert_eq!(s.as_str().parse::<OS>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        for a in OA::ALL {
            assert_eq!(a.as_str().parse::<OA>().unwrap(), a);
            assert!(!a.label_vi().is_empty());
        }
        assert_eq!(OS::InReview.as_str(), "in_review");
        assert_eq!(OA::SubmitForReview.as_str(), "submit_for_review");
        assert!("nope".parse::<OS>().is_err());
        assert!("nope".parse::<OA>().is_err());
    }

    use IncomingAction as IA;
    use IncomingState as IS;

    fn incoming_expected(s: IS, a: IA) -> Option<IS> {
        Some(match (s, a) {
            (IS::Arrived, IA::Register) => IS::Registered,
            (IS::Arrived, IA::Return) => IS::Returned,
            (IS::Registered, IA::Assign) => IS::Assigned,
            (IS::Assigned, IA::Assign) => IS::Assigned,
            (IS::Assigned, IA::StartWork) => IS::InProgress,
            (IS::InProgress, IA::Forward) => IS::InProgress,
            (IS::Assigned, IA::Finish) => IS::Done,
            (IS::InProgress, IA::Finish) => IS::Done,
            (IS::Arrived, IA::Withdraw)
            | (IS::Registered, IA::Withdraw)
            | (IS::Assigned, IA::Withdraw)
            | (IS::InProgress, IA::Withdraw)
            | (IS::Done, IA::Withdraw) => IS::Withdrawn,
            _ => return None,
        })
    }

    #[test]
    fn incoming_transitions_exhaustive() {
        let mut legal = 0;
        for s in IS::ALL {
            for a in IA::ALL {
                let got = s.apply(a);
                match incoming_expected(s, a) {
                    Some(next) => {
                        legal += 1;
                        assert_eq!(got, Ok(next), "{s} {a}");
                    }
                    None => assert_eq!(
                        got,
                        Err(DomainError::IllegalTransition { from: s.as_str(), action: a.as_str() }),
                        "{s} {a}"
                    ),
                }
            }
        }
        assert_eq!(legal, 13);
    }

    #[test]
    fn incoming_terminal_states() {
        let terminal: Vec<_> = IS::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [IS::Returned, IS::Done, IS::Withdrawn]);
        assert!(IS::Returned.available_actions().is_empty());
        assert!(IS::Withdrawn.available_actions().is_empty());
        assert_eq!(IS::Done.available_actions(), [IA::Withdraw]);
    }

    #[test]
    fn incoming_status_codes() {
        let codes: Vec<_> = IS::ALL.iter().map(|s| s.status_code()).collect();
        assert_eq!(codes, [Some("01"), Some("02"), Some("03"), Some("04"), Some("05"), Some("06"), None]);
        for s in IS::ALL {
            assert_eq!(s.edxml_status().map(EdxmlStatus::code), s.status_code());
        }
    }

    #[test]
    fn incoming_permissions() {
        use Permission as P;
        let expected = [
            (IA::Register, P::RegisterIncoming),
            (IA::Return, P::RegisterIncoming),
            (IA::Assign, P::AssignHandling),
            (IA::StartWork, P::HandleDocument),
            (IA::Forward, P::HandleDocument),
            (IA::Finish, P::HandleDocument),
            (IA::Withdraw, P::RegisterIncoming),
        ];
        assert_eq!(expected.len(), IA::ALL.len());
        for (a, p) in expected {
            assert_eq!(a.required_permission(), p, "{a}");
        }
        for s in IS::ALL {
            assert_eq!(s.as_str().parse::<IS>().unwrap(), s);
            assert!(!s.label_vi().is_empty());
        }
        for a in IA::ALL {
            assert_eq!(a.as_str().parse::<IA>().unwrap(), a);
        }
        assert_eq!(IS::InProgress.as_str(), "in_progress");
        assert_eq!(IA::StartWork.as_str(), "start_work");
    }

    #[test]
    fn edxml_status_codes() {
        let codes: Vec<_> = EdxmlStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, ["01", "02", "03", "04", "05", "06", "13", "15", "16"]);
        for s in EdxmlStatus::ALL {
            assert_eq!(EdxmlStatus::from_code(s.code()), Some(s));
            assert!(!s.label_vi().is_empty());
        }
        assert_eq!(EdxmlStatus::from_code(" 5 "), Some(EdxmlStatus::Processing05));
        assert_eq!(EdxmlStatus::from_code("14"), None);
        assert_eq!(EdxmlStatus::from_code("07"), None);
        assert_eq!(EdxmlStatus::from_code("001"), None);
        assert_eq!(EdxmlStatus::from_code(""), None);
        assert_eq!(EdxmlStatus::from_code("ab"), None);
        assert_eq!("05".parse::<EdxmlStatus>().unwrap(), EdxmlStatus::Processing05);
        assert_eq!("take_back".parse::<EdxmlStatus>().unwrap(), EdxmlStatus::TakeBack13);
        assert!("14".parse::<EdxmlStatus>().is_err());
        assert!(EdxmlStatus::TakeBack13.is_sent_by_sender());
        assert!(!EdxmlStatus::Done06.is_sent_by_sender());
    }

    #[test]
    fn labels_for_messages() {
        assert_eq!(label_vi_of("draft"), Some("Dự thảo"));
        assert_eq!(label_vi_of("sign"), Some("Ký"));
        assert_eq!(label_vi_of("in_progress"), Some("Đang xử lý"));
        assert_eq!(label_vi_of("withdraw"), Some("Thu hồi"));
        assert_eq!(label_vi_of("nope"), None);
    }
}
