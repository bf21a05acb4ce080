//! Legal state transitions and the outcome rules (DESIGN §2 States, §5).

use super::deployment::{DeploymentKind, DeploymentOutcome, DeploymentRecord, DeploymentState};

/// What the engine says about an execution, already mapped to our states;
/// `None` for an answer we do not understand (which changes nothing).
pub type ObservedState = Option<DeploymentState>;

/// The state a record moves to given what the engine reports, or `None`
/// when nothing changes. Terminal records never move; in-flight records
/// only move forward (a late NOT_STARTED never undoes IN_PROGRESS).
pub fn next_state(current: DeploymentState, observed: ObservedState) -> Option<DeploymentState> {
    let observed = observed?;
    if current.is_terminal() || observed == current {
        return None;
    }
    let rank = |s: DeploymentState| match s {
        DeploymentState::Pending => 0,
        DeploymentState::Active => 1,
        DeploymentState::InProgress => 2,
        _ => 3,
    };
    (rank(observed) > rank(current)).then_some(observed)
}

/// The outcome a terminal state carries when it is first reached.
pub fn outcome_of(state: DeploymentState) -> Option<DeploymentOutcome> {
    match state {
        DeploymentState::Succeeded => Some(DeploymentOutcome::Succeeded),
        DeploymentState::Failed => Some(DeploymentOutcome::Failed),
        DeploymentState::Canceled => Some(DeploymentOutcome::Canceled),
        DeploymentState::RolledBack => Some(DeploymentOutcome::RolledBack),
        DeploymentState::Pending | DeploymentState::Active | DeploymentState::InProgress => None,
    }
}

/// What happens to the previous current success of a service+environment
/// when `winner` succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Displacement {
    /// The winner rolled it back: state and outcome become ROLLED_BACK.
    RolledBack,
    /// A later success replaced it: outcome SUPERSEDED, state stays SUCCEEDED.
    Superseded,
}

pub fn displacement(winner: &DeploymentRecord, previous: &DeploymentRecord) -> Displacement {
    if winner.kind == DeploymentKind::Rollback && winner.rollback_of == Some(previous.id) {
        Displacement::RolledBack
    } else {
        Displacement::Superseded
    }
}

/// Timeline key and label for reaching `state`.
pub fn timeline_entry(state: DeploymentState) -> (&'static str, &'static str) {
    match state {
        DeploymentState::Pending => ("SUBMITTED", "Submitted"),
        DeploymentState::Active => ("ENGINE_ACCEPTED", "Accepted by the engine"),
        DeploymentState::InProgress => ("IN_PROGRESS", "Running"),
        DeploymentState::Succeeded => ("SUCCEEDED", "Succeeded"),
        DeploymentState::Failed => ("FAILED", "Failed"),
        DeploymentState::Canceled => ("CANCELED", "Canceled"),
        DeploymentState::RolledBack => ("ROLLED_BACK", "Rolled back"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeploymentState::*;

    #[test]
    fn records_only_move_forward() {
        assert_eq!(next_state(Pending, Some(Active)), Some(Active));
        assert_eq!(next_state(Active, Some(InProgress)), Some(InProgress));
        assert_eq!(next_state(InProgress, Some(Succeeded)), Some(Succeeded));
        assert_eq!(next_state(Active, Some(Failed)), Some(Failed));
        assert_eq!(next_state(InProgress, Some(Active)), None);
        assert_eq!(next_state(Active, Some(Active)), None);
    }

    #[test]
    fn terminal_records_never_change_and_unknown_answers_change_nothing() {
        assert_eq!(next_state(Succeeded, Some(Failed)), None);
        assert_eq!(next_state(Canceled, Some(Succeeded)), None);
        assert_eq!(next_state(InProgress, None), None);
    }

    #[test]
    fn terminal_states_carry_their_outcome() {
        assert_eq!(outcome_of(Succeeded), Some(DeploymentOutcome::Succeeded));
        assert_eq!(outcome_of(Failed), Some(DeploymentOutcome::Failed));
        assert_eq!(outcome_of(Canceled), Some(DeploymentOutcome::Canceled));
        assert_eq!(outcome_of(InProgress), None);
    }
}
