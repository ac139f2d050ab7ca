//! Registers (sổ đăng ký, Decree 30/2020 Art. 15, 22 and Appendix IV), the choice of register
//! for a document, changes an issuer asks of its recipients, handling roles and deadlines.

use chrono::NaiveDate;

use crate::doctype::DocumentType;

code_enum! {
    /// Which way the documents of a register travel.
    pub enum RegisterDirection {
        /// Sổ văn bản đi: numbers what the agency issues.
        Outgoing => "outgoing",
        /// Sổ văn bản đến: numbers what the agency receives.
        Incoming => "incoming",
    }
}

/// What a register takes: some document types (or every type no other register claims),
/// secret documents or ordinary ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRule {
    /// The types it takes; empty means "every type no other register of its kind claims".
    pub doc_types: Vec<DocumentType>,
    /// Whether it is a register of secret documents (a separate sequence, Art. 15.1).
    pub secret: bool,
}

impl RegisterRule {
    /// The `doc_types` list in its stored form, comma-separated codes.
    pub fn doc_types_text(&self) -> String {
        self.doc_types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")
    }

    /// Parses the stored form back (unknown codes are skipped: a type retired by a later
    /// version of vanban must not make the register unreadable).
    pub fn parse_doc_types(text: &str) -> Vec<DocumentType> {
        text.split(',').filter_map(|c| DocumentType::from_snake(c.trim())).collect()
    }
}

/// Picks the register a document is numbered in: the first register whose list names its
/// type, else the first catch-all one, among those of the right secrecy. `registers` is in
/// the agency's order (oldest first). `None` when the agency has no register for it.
pub fn pick_register<Id: Copy>(registers: &[(Id, RegisterRule)], doc_type: DocumentType, secret: bool) -> Option<Id> {
    let same_secrecy = || registers.iter().filter(|(_, r)| r.secret == secret);
    same_secrecy()
        .find(|(_, r)| r.doc_types.contains(&doc_type))
        .or_else(|| same_secrecy().find(|(_, r)| r.doc_types.is_empty()))
        .map(|(id, _)| *id)
}

code_enum! {
    /// A change the issuer asks of the recipients of an issued document (edXML business
    /// kinds 1–3; the sender's status 13, the recipients' answers 15 and 16).
    pub enum ChangeKind {
        /// Thu hồi: take the document back.
        Revoke => "revoke",
        /// Cập nhật: the document's information was corrected.
        Update => "update",
        /// Thay thế: another document replaces it.
        Replace => "replace",
    }
}

impl ChangeKind {
    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            ChangeKind::Revoke => "Thu hồi",
            ChangeKind::Update => "Cập nhật",
            ChangeKind::Replace => "Thay thế",
        }
    }

    /// Whether accepting the change withdraws the recipient's copy.
    pub const fn withdraws(self) -> bool {
        matches!(self, ChangeKind::Revoke | ChangeKind::Replace)
    }
}

code_enum! {
    /// The part a person takes in handling an incoming document.
    pub enum AssignmentRole {
        /// Chủ trì: the lead handler, who finishes it.
        Lead => "lead",
        /// Phối hợp: a co-handler.
        Co => "co",
        /// Nhận để biết: a reader for information.
        Info => "info",
    }
}

impl AssignmentRole {
    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            AssignmentRole::Lead => "Chủ trì",
            AssignmentRole::Co => "Phối hợp",
            AssignmentRole::Info => "Nhận để biết",
        }
    }
}

code_enum! {
    /// Where a handling deadline stands on a given day.
    pub enum DeadlineState {
        /// No deadline.
        None => "none",
        /// More than the reminder window away.
        OnTrack => "on_track",
        /// Within the reminder window (a reminder is due).
        DueSoon => "due_soon",
        /// Past.
        Overdue => "overdue",
    }
}

impl DeadlineState {
    /// Where `deadline` stands on `today`, with reminders `remind_days` days before it.
    /// The deadline day itself is still in time.
    pub fn of(deadline: Option<NaiveDate>, today: NaiveDate, remind_days: i64) -> DeadlineState {
        match deadline {
            None => DeadlineState::None,
            Some(d) if today > d => DeadlineState::Overdue,
            Some(d) if (d - today).num_days() <= remind_days => DeadlineState::DueSoon,
            Some(_) => DeadlineState::OnTrack,
        }
    }

    /// Vietnamese label.
    pub const fn label_vi(self) -> &'static str {
        match self {
            DeadlineState::None => "Không có hạn",
            DeadlineState::OnTrack => "Trong hạn",
            DeadlineState::DueSoon => "Sắp đến hạn",
            DeadlineState::Overdue => "Quá hạn",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn rule(types: &[DocumentType], secret: bool) -> RegisterRule {
        RegisterRule { doc_types: types.to_vec(), secret }
    }

    #[test]
    fn typed_registers_win_over_catch_all_and_secrecy_separates() {
        let regs = vec![(1, rule(&[], false)), (2, rule(&[DocumentType::QuyetDinh], false)), (3, rule(&[], true))];
        assert_eq!(pick_register(&regs, DocumentType::QuyetDinh, false), Some(2));
        assert_eq!(pick_register(&regs, DocumentType::CongVan, false), Some(1));
        assert_eq!(pick_register(&regs, DocumentType::QuyetDinh, true), Some(3));
        assert_eq!(pick_register(&regs[..2], DocumentType::CongVan, true), None);
        assert_eq!(pick_register::<i32>(&[], DocumentType::CongVan, false), None);
    }

    #[test]
    fn doc_types_round_trip_and_skip_unknown() {
        let r = rule(&[DocumentType::QuyetDinh, DocumentType::ChiThi], false);
        assert_eq!(r.doc_types_text(), "quyet_dinh,chi_thi");
        assert_eq!(RegisterRule::parse_doc_types("quyet_dinh, chi_thi,gone"), r.doc_types);
        assert!(RegisterRule::parse_doc_types("").is_empty());
    }

    #[test]
    fn deadlines() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let today = d("2026-11-30");
        assert_eq!(DeadlineState::of(None, today, 2), DeadlineState::None);
        assert_eq!(DeadlineState::of(Some(d("2026-11-29")), today, 2), DeadlineState::Overdue);
        assert_eq!(DeadlineState::of(Some(d("2026-11-30")), today, 2), DeadlineState::DueSoon);
        assert_eq!(DeadlineState::of(Some(d("2026-12-02")), today, 2), DeadlineState::DueSoon);
        assert_eq!(DeadlineState::of(Some(d("2026-12-03")), today, 2), DeadlineState::OnTrack);
    }
}
