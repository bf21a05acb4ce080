//! The promotion path (DESIGN §11.1): which environment a version that
//! succeeded in one environment may move to next.
//!
//! A delivery group's path is its allowed environments that have a
//! `promotionOrder`, in that order (environments without one are not on
//! the path). Promoting goes to the next *enabled* environment after the
//! source; with `promotionAllowJumps` any later one on the path will do.

use super::{
    catalog::{DeliveryGroup, Environment},
    guardrails::{Intent, Violation},
    ErrorCode,
};

/// A promotion request: the intent names the *target* environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub intent: Intent,
    pub source_environment: String,
}

/// One environment on a group's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStep {
    pub name: String,
    pub enabled: bool,
}

/// The group's promotion path, lowest `promotionOrder` first (name breaks
/// ties, so the order never depends on how the catalogue was read).
pub fn promotion_path(group: &DeliveryGroup, environments: &[Environment]) -> Vec<PathStep> {
    let mut on_path: Vec<(&i32, &Environment)> = environments
        .iter()
        .filter(|e| group.allowed_environments.contains(&e.name))
        .filter_map(|e| e.promotion_order.as_ref().map(|order| (order, e)))
        .collect();
    on_path.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.name.cmp(&y.name)));
    on_path.into_iter().map(|(_, e)| PathStep { name: e.name.clone(), enabled: e.enabled }).collect()
}

/// Where a promotion from `source` may go, or why nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep<'a> {
    /// The next enabled environment after the source.
    To(&'a str),
    /// The source is not on the path.
    SourceNotOnPath,
    /// Nothing enabled comes after the source.
    AtHighest,
}

pub fn next_step<'a>(path: &'a [PathStep], source: &str) -> NextStep<'a> {
    let Some(at) = path.iter().position(|step| step.name == source) else {
        return NextStep::SourceNotOnPath;
    };
    match path[at + 1..].iter().find(|step| step.enabled) {
        Some(step) => NextStep::To(&step.name),
        None => NextStep::AtHighest,
    }
}

/// The path check of a promotion from `source` to `target`:
/// `PROMOTION_PATH_NOT_ALLOWED` unless the target is the next enabled
/// environment after the source, or (with jumps allowed) any later one.
pub fn check_path(path: &[PathStep], source: &str, target: &str, allow_jumps: bool) -> Option<Violation> {
    let position = |name: &str| path.iter().position(|step| step.name == name);
    let next = next_step(path, source);
    let allowed = match (&next, position(source), position(target)) {
        (NextStep::To(next), _, _) if *next == target => true,
        (_, Some(s), Some(t)) => allow_jumps && t > s,
        _ => false,
    };
    if allowed {
        return None;
    }
    let expected = match next {
        NextStep::To(next) => format!("the next environment after '{source}' is '{next}'"),
        NextStep::SourceNotOnPath => format!("'{source}' is not on the delivery group's promotion path"),
        NextStep::AtHighest => format!("'{source}' is the highest environment on the delivery group's promotion path"),
    };
    Some(Violation::new(
        ErrorCode::PromotionPathNotAllowed,
        format!("cannot promote from '{source}' to '{target}': {expected}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(steps: &[(&str, bool)]) -> Vec<PathStep> {
        steps.iter().map(|(name, enabled)| PathStep { name: (*name).to_owned(), enabled: *enabled }).collect()
    }

    #[test]
    fn the_next_enabled_environment_is_the_only_target_without_jumps() {
        let p = path(&[("sandbox", true), ("staging", true), ("prod", true)]);
        assert_eq!(check_path(&p, "sandbox", "staging", false), None);
        assert_eq!(check_path(&p, "staging", "prod", false), None);
        let skip = check_path(&p, "sandbox", "prod", false).expect("a skip is refused");
        assert_eq!(skip.code, ErrorCode::PromotionPathNotAllowed);
        assert!(skip.message.contains("'staging'"), "{}", skip.message);
        assert!(check_path(&p, "staging", "sandbox", true).is_some(), "never backwards, even with jumps");
        assert_eq!(check_path(&p, "sandbox", "prod", true), None);
    }

    #[test]
    fn disabled_environments_are_stepped_over_and_off_path_ones_refused() {
        let p = path(&[("sandbox", true), ("staging", false), ("prod", true)]);
        assert_eq!(next_step(&p, "sandbox"), NextStep::To("prod"));
        assert_eq!(check_path(&p, "sandbox", "prod", false), None);
        assert_eq!(next_step(&p, "prod"), NextStep::AtHighest);
        assert_eq!(next_step(&p, "qa"), NextStep::SourceNotOnPath);
        assert!(check_path(&p, "qa", "prod", true).is_some());
    }
}
