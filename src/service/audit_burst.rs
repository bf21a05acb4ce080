//! Bursts of identical refusals, audited as a few events and one count
//! (security review, issue 11 item 5; docs/decisions/0005).
//!
//! Refusals are *identical* when they share actor, event type, error code,
//! target id and message (`RATE_LIMITED` ignores target and message: a
//! limited request was never looked at, a flood varies its ids, and the
//! message only says how long to wait). Within a window opened by
//! the first of them, the first [`WRITTEN_PER_WINDOW`] are written as usual;
//! the rest are only counted. When the window closes, one DENIED event is
//! written for them: the last one counted, its summary saying how many it
//! stands for, and `repeat_count` carrying that number. Ordinary use (a
//! refusal or three, then a fix) therefore still writes exactly one event
//! per refusal; a flood writes a handful of rows per window whose counts
//! add up to the number of refusals.
//!
//! The counts are held in memory, per replica: each replica aggregates the
//! refusals it served. Services flushes closed windows on a timer and every
//! pending count at graceful shutdown, so a count is lost only if the
//! process dies without shutting down.
//!
//! Everything here is pure (time comes in as an argument); the use cases
//! write what it returns.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::{
    audit::AuditEvent,
    bounded::{clip_owned, MAX_TEXT_CHARS},
    ErrorCode,
};

/// Identical refusals of one window written one by one before counting starts.
pub const WRITTEN_PER_WINDOW: u32 = 3;
/// Most bursts tracked at once; a refusal beyond that is written as usual.
pub const MAX_TRACKED: usize = 10_000;
/// Room kept in an aggregate's summary for the sentence about the burst.
const BURST_NOTE_CHARS: usize = 200;

/// What makes two refusals identical.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BurstKey {
    actor_id: String,
    event_type: String,
    code: ErrorCode,
    /// Target id and message; `None` for `RATE_LIMITED`: any target.
    refusal: Option<(String, String)>,
}

impl BurstKey {
    pub fn of(event: &AuditEvent, code: ErrorCode, message: &str) -> Self {
        Self {
            actor_id: event.actor_id.clone(),
            event_type: event.event_type.clone(),
            code,
            refusal: (code != ErrorCode::RateLimited).then(|| (event.target_id.clone(), message.to_owned())),
        }
    }
}

/// One open window of identical refusals.
#[derive(Debug)]
struct Burst {
    opened: Instant,
    seen: u32,
    /// Counted, not written; the aggregate stands for them.
    counted: i32,
    first_counted_at: Option<DateTime<Utc>>,
    /// The latest counted refusal: the aggregate is written as it.
    last: Option<AuditEvent>,
}

impl Burst {
    fn new(opened: Instant) -> Self {
        Self { opened, seen: 0, counted: 0, first_counted_at: None, last: None }
    }

    /// The aggregate of the counted refusals, if any were counted.
    fn aggregate(self, any_target: bool) -> Option<AuditEvent> {
        let mut event = self.last?;
        let since = self.first_counted_at.unwrap_or(event.timestamp);
        let targets = if any_target { " (targets may differ)" } else { "" };
        let note = format!(
            " [burst: this event stands for {} identical refusals{targets} from {} to {}, not written one by one]",
            self.counted,
            since.to_rfc3339_opts(SecondsFormat::Millis, true),
            event.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        );
        event.summary = clip_owned(event.summary, MAX_TEXT_CHARS - BURST_NOTE_CHARS) + &note;
        event.repeat_count = self.counted;
        Some(event)
    }
}

/// What to do with a refusal.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Write the refusal itself (else it was counted).
    pub write: bool,
    /// The aggregate of this key's previous window, closed by this refusal.
    pub closed: Option<AuditEvent>,
}

/// The open windows of one process.
#[derive(Debug)]
pub struct Bursts {
    window: Duration,
    open: HashMap<BurstKey, Burst>,
}

impl Bursts {
    pub fn new(window: Duration) -> Self {
        Self { window, open: HashMap::new() }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Files a refusal `event` with error `code` and `message`, seen at `now`.
    pub fn observe(&mut self, event: &AuditEvent, code: ErrorCode, message: &str, now: Instant) -> Verdict {
        let key = BurstKey::of(event, code, message);
        let mut closed = None;
        if self.open.get(&key).is_some_and(|b| now.duration_since(b.opened) >= self.window) {
            let any_target = key.refusal.is_none();
            closed = self.open.remove(&key).and_then(|b| b.aggregate(any_target));
        }
        if !self.open.contains_key(&key) && self.open.len() >= MAX_TRACKED {
            return Verdict { write: true, closed };
        }
        let burst = self.open.entry(key).or_insert_with(|| Burst::new(now));
        burst.seen += 1;
        if burst.seen <= WRITTEN_PER_WINDOW {
            return Verdict { write: true, closed };
        }
        burst.counted += 1;
        burst.first_counted_at.get_or_insert(event.timestamp);
        burst.last = Some(event.clone());
        Verdict { write: false, closed }
    }

    /// Closes every window older than the window length at `now` and returns
    /// the aggregates to write.
    pub fn close_due(&mut self, now: Instant) -> Vec<AuditEvent> {
        let window = self.window;
        let due: Vec<BurstKey> =
            self.open.iter().filter(|(_, b)| now.duration_since(b.opened) >= window).map(|(k, _)| k.clone()).collect();
        due.into_iter().filter_map(|key| self.close(key)).collect()
    }

    /// Closes every window (shutdown) and returns the aggregates to write.
    pub fn close_all(&mut self) -> Vec<AuditEvent> {
        let keys: Vec<BurstKey> = self.open.keys().cloned().collect();
        keys.into_iter().filter_map(|key| self.close(key)).collect()
    }

    fn close(&mut self, key: BurstKey) -> Option<AuditEvent> {
        let any_target = key.refusal.is_none();
        self.open.remove(&key).and_then(|b| b.aggregate(any_target))
    }

    /// Windows open now (tests and diagnostics).
    pub fn open_windows(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{audit::AuditOutcome, Role};

    const WINDOW: Duration = Duration::from_secs(60);
    const MESSAGE: &str = "your role may not cancel deployments";

    fn refusal(actor: &str, target: &str, n: i64) -> AuditEvent {
        AuditEvent {
            id: Uuid::now_v7(),
            event_type: "DEPLOY_CANCEL".into(),
            actor_id: actor.into(),
            actor_role: Role::Observer,
            target_type: "DEPLOYMENT".into(),
            target_id: target.into(),
            timestamp: Utc.timestamp_opt(1_800_000_000 + n, 0).single().expect("a time"),
            outcome: AuditOutcome::Denied,
            summary: "DEPLOY_CANCEL denied: ROLE_FORBIDDEN (your role may not cancel deployments)".into(),
            delivery_group_id: None,
            service_name: None,
            environment: None,
            request_id: Some(format!("req-{n}")),
            changes: Vec::new(),
            repeat_count: 1,
        }
    }

    /// Observes `n` identical refusals at `start`, one millisecond apart;
    /// returns how many were to be written.
    fn flood(bursts: &mut Bursts, start: Instant, n: i64, code: ErrorCode) -> (usize, Vec<AuditEvent>) {
        let mut written = 0;
        let mut closed = Vec::new();
        for i in 0..n {
            let at = start + Duration::from_millis(i as u64);
            let verdict = bursts.observe(&refusal("observer", "d-1", i), code, MESSAGE, at);
            written += usize::from(verdict.write);
            closed.extend(verdict.closed);
        }
        (written, closed)
    }

    #[test]
    fn the_first_refusals_of_a_window_are_written_one_by_one() {
        let mut bursts = Bursts::new(WINDOW);
        let (written, closed) = flood(&mut bursts, Instant::now(), 3, ErrorCode::RoleForbidden);

        assert_eq!(written, 3);
        assert!(closed.is_empty());
        assert!(bursts.close_all().is_empty(), "nothing was counted, so there is no aggregate");
    }

    #[test]
    fn the_rest_of_a_window_is_one_aggregate_whose_count_completes_the_total() {
        let mut bursts = Bursts::new(WINDOW);
        let start = Instant::now();
        let (written, _) = flood(&mut bursts, start, 50, ErrorCode::RoleForbidden);

        assert!(bursts.close_due(start + WINDOW - Duration::from_millis(1)).is_empty(), "the window is still open");
        let aggregates = bursts.close_due(start + WINDOW);

        assert_eq!(written, 3);
        assert_eq!(aggregates.len(), 1);
        let aggregate = &aggregates[0];
        assert_eq!(aggregate.repeat_count, 47);
        assert_eq!(written as i32 + aggregate.repeat_count, 50);
        assert_eq!(aggregate.outcome, AuditOutcome::Denied);
        assert_eq!(aggregate.request_id.as_deref(), Some("req-49"), "written as the last refusal counted");
        assert!(aggregate.summary.contains("ROLE_FORBIDDEN"), "{}", aggregate.summary);
        assert!(aggregate.summary.contains("stands for 47 identical refusals"), "{}", aggregate.summary);
        assert_eq!(bursts.open_windows(), 0);
    }

    #[test]
    fn a_refusal_after_the_window_closes_the_old_burst_and_opens_a_new_one() {
        let mut bursts = Bursts::new(WINDOW);
        let start = Instant::now();
        flood(&mut bursts, start, 5, ErrorCode::RoleForbidden);

        let verdict =
            bursts.observe(&refusal("observer", "d-1", 99), ErrorCode::RoleForbidden, MESSAGE, start + WINDOW);

        assert!(verdict.write, "the first refusal of the new window is written");
        assert_eq!(verdict.closed.map(|e| e.repeat_count), Some(2));
        assert_eq!(bursts.open_windows(), 1);
    }

    #[test]
    fn different_actors_targets_or_codes_are_different_bursts() {
        let mut bursts = Bursts::new(WINDOW);
        let now = Instant::now();
        flood(&mut bursts, now, 3, ErrorCode::RoleForbidden);

        let writes = [
            bursts.observe(&refusal("someone-else", "d-1", 1), ErrorCode::RoleForbidden, MESSAGE, now).write,
            bursts.observe(&refusal("observer", "d-2", 1), ErrorCode::RoleForbidden, MESSAGE, now).write,
            bursts.observe(&refusal("observer", "d-1", 1), ErrorCode::NotFound, MESSAGE, now).write,
            bursts.observe(&refusal("observer", "d-1", 1), ErrorCode::RoleForbidden, "another reason", now).write,
            bursts.observe(&refusal("observer", "d-1", 1), ErrorCode::RoleForbidden, MESSAGE, now).write,
        ];

        assert_eq!(writes, [true, true, true, true, false]);
    }

    #[test]
    fn rate_limited_refusals_are_one_burst_whatever_their_target() {
        let mut bursts = Bursts::new(WINDOW);
        let now = Instant::now();
        let writes: Vec<bool> = (0..10)
            .map(|i| {
                let message = format!("rate limit of 60 requests per minute reached; retry in {i} s");
                bursts.observe(&refusal("observer", &format!("d-{i}"), i), ErrorCode::RateLimited, &message, now).write
            })
            .collect();

        assert_eq!(writes.iter().filter(|w| **w).count(), 3);
        let aggregate = bursts.close_all().pop().expect("an aggregate");
        assert_eq!(aggregate.repeat_count, 7);
        assert!(aggregate.summary.contains("targets may differ"), "{}", aggregate.summary);
    }

    #[test]
    fn shutdown_closes_open_windows_so_no_count_is_lost() {
        let mut bursts = Bursts::new(WINDOW);
        let (written, _) = flood(&mut bursts, Instant::now(), 20, ErrorCode::RateLimited);

        let aggregates = bursts.close_all();

        assert_eq!(written as i32 + aggregates.iter().map(|e| e.repeat_count).sum::<i32>(), 20);
        assert_eq!(bursts.open_windows(), 0);
    }

    #[test]
    fn an_aggregate_summary_stays_within_the_summary_bound() {
        let mut bursts = Bursts::new(WINDOW);
        let now = Instant::now();
        for i in 0..5 {
            let mut event = refusal("observer", "d-1", i);
            event.summary = "z".repeat(5000);
            bursts.observe(&event, ErrorCode::NotFound, MESSAGE, now);
        }

        let aggregate = bursts.close_all().pop().expect("an aggregate");

        assert!(aggregate.summary.chars().count() <= MAX_TEXT_CHARS, "{}", aggregate.summary.len());
        assert!(aggregate.summary.contains("stands for 2 identical refusals"), "{}", aggregate.summary);
    }
}
