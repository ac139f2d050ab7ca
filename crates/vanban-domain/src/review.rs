//! Review of a draft before the leader approves it: reviewers in sequence (each in turn) or in
//! parallel (all at once), chosen by the drafter per document. Each reviewer approves with
//! their initials (ký nháy) or returns the draft with a reason. The leader's approval — the gate
//! to signing — waits until every reviewer of the round has approved.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::UserId;

code_enum! {
    /// How the reviewers of a round take their turns.
    pub enum ReviewMode {
        /// One after another, in the drafter's order.
        Sequential => "sequential",
        /// All at the same time.
        Parallel => "parallel",
    }
}

code_enum! {
    /// Where one reviewer's step stands.
    pub enum StepState {
        /// Waiting for the reviewer (or for earlier reviewers, in sequence).
        Pending => "pending",
        /// Approved, with or without initials.
        Approved => "approved",
        /// Returned to the drafter with a reason.
        Returned => "returned",
        /// Another reviewer returned the draft first.
        Cancelled => "cancelled",
    }
}

/// One reviewer's step in a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewStep {
    /// Who reviews.
    pub reviewer: UserId,
    /// Order within the round, from 0.
    pub position: u32,
    /// Where the step stands.
    pub state: StepState,
}

/// How a round ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundOutcome {
    /// Some reviewer still has to act.
    Open,
    /// Every reviewer approved: the leader may approve the draft.
    Approved,
    /// A reviewer returned the draft to the drafter.
    Returned,
}

/// Checks the reviewers the drafter chose: at least one, no one twice, not the drafter.
pub fn check_reviewers(drafter: UserId, reviewers: &[UserId]) -> Result<(), DomainError> {
    if reviewers.is_empty() {
        return Err(DomainError::FieldRequired { field: "reviewers" });
    }
    for (i, r) in reviewers.iter().enumerate() {
        if *r == drafter {
            return Err(DomainError::InvalidValue {
                field: "reviewers",
                reason: "the drafter cannot review their own draft",
            });
        }
        if reviewers.iter().take(i).any(|x| x == r) {
            return Err(DomainError::InvalidValue { field: "reviewers", reason: "a reviewer is listed twice" });
        }
    }
    Ok(())
}

/// The outcome of a round so far.
pub fn outcome(steps: &[ReviewStep]) -> RoundOutcome {
    if steps.iter().any(|s| s.state == StepState::Returned) {
        RoundOutcome::Returned
    } else if steps.iter().all(|s| s.state == StepState::Approved) {
        RoundOutcome::Approved
    } else {
        RoundOutcome::Open
    }
}

/// The index of the step `reviewer` may act on now, or why not.
pub fn turn_of(mode: ReviewMode, steps: &[ReviewStep], reviewer: UserId) -> Result<usize, DomainError> {
    if outcome(steps) != RoundOutcome::Open {
        return Err(DomainError::IllegalTransition { from: "review_closed", action: "review" });
    }
    let mine = steps
        .iter()
        .position(|s| s.reviewer == reviewer && s.state == StepState::Pending)
        .ok_or(DomainError::Forbidden("review"))?;
    if mode == ReviewMode::Sequential {
        let first_pending = steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state == StepState::Pending)
            .min_by_key(|(_, s)| s.position)
            .map(|(i, _)| i);
        if first_pending != Some(mine) {
            return Err(DomainError::IllegalTransition { from: "not_your_turn", action: "review" });
        }
    }
    Ok(mine)
}

/// Who may act now.
pub fn waiting_on(mode: ReviewMode, steps: &[ReviewStep]) -> Vec<UserId> {
    steps.iter().filter(|s| turn_of(mode, steps, s.reviewer).is_ok()).map(|s| s.reviewer).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn uid(n: u8) -> UserId {
        UserId::from_uuid(uuid::Uuid::from_bytes([n; 16]))
    }

    fn round(states: &[StepState]) -> Vec<ReviewStep> {
        states
            .iter()
            .enumerate()
            .map(|(i, s)| ReviewStep { reviewer: uid(i as u8 + 1), position: i as u32, state: *s })
            .collect()
    }

    #[test]
    fn reviewers_are_checked() {
        assert_eq!(check_reviewers(uid(9), &[]).unwrap_err().code(), "field_required");
        assert!(check_reviewers(uid(1), &[uid(2), uid(1)]).is_err());
        assert!(check_reviewers(uid(9), &[uid(2), uid(2)]).is_err());
        assert!(check_reviewers(uid(9), &[uid(2), uid(3)]).is_ok());
    }

    #[test]
    fn sequential_reviewers_take_turns() {
        use StepState::*;
        let steps = round(&[Pending, Pending, Pending]);
        assert_eq!(turn_of(ReviewMode::Sequential, &steps, uid(1)).unwrap(), 0);
        assert_eq!(turn_of(ReviewMode::Sequential, &steps, uid(2)).unwrap_err().code(), "illegal_transition");
        assert_eq!(waiting_on(ReviewMode::Sequential, &steps), vec![uid(1)]);
        let steps = round(&[Approved, Pending, Pending]);
        assert_eq!(turn_of(ReviewMode::Sequential, &steps, uid(2)).unwrap(), 1);
        assert_eq!(turn_of(ReviewMode::Sequential, &steps, uid(1)).unwrap_err().code(), "forbidden");
        assert_eq!(turn_of(ReviewMode::Sequential, &steps, uid(7)).unwrap_err().code(), "forbidden");
    }

    #[test]
    fn parallel_reviewers_act_at_once() {
        use StepState::*;
        let steps = round(&[Pending, Approved, Pending]);
        assert_eq!(turn_of(ReviewMode::Parallel, &steps, uid(3)).unwrap(), 2);
        assert_eq!(turn_of(ReviewMode::Parallel, &steps, uid(1)).unwrap(), 0);
        assert_eq!(waiting_on(ReviewMode::Parallel, &steps), vec![uid(1), uid(3)]);
    }

    #[test]
    fn a_round_ends_on_every_approval_or_one_return() {
        use StepState::*;
        assert_eq!(outcome(&round(&[Approved, Approved])), RoundOutcome::Approved);
        assert_eq!(outcome(&round(&[Approved, Pending])), RoundOutcome::Open);
        assert_eq!(outcome(&round(&[Returned, Cancelled])), RoundOutcome::Returned);
        let closed = round(&[Approved, Approved]);
        assert_eq!(turn_of(ReviewMode::Parallel, &closed, uid(1)).unwrap_err().code(), "illegal_transition");
    }
}
