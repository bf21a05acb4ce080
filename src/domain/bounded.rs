//! Bounds on caller-supplied text that DXCP stores or echoes (security
//! review, issue 11 item 5): an id, a name or a summary is kept to its first
//! N characters (never split inside a character) followed by a visible
//! [`TRUNCATED`] marker, so a 1.5 KB "id" costs the audit log a couple of
//! hundred bytes and nobody mistakes the stored text for the whole input.

use std::borrow::Cow;

use super::audit::{AuditEvent, FieldChange};

/// Appended to every text that was cut.
pub const TRUNCATED: &str = "…[truncated]";
/// Ids, names, actors, environments, request ids, field names.
pub const MAX_ID_CHARS: usize = 200;
/// Summaries, error messages, changed values.
pub const MAX_TEXT_CHARS: usize = 1000;

/// `text` when it has at most `max` characters, else its first `max`
/// characters and [`TRUNCATED`].
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}{TRUNCATED}", &text[..cut])),
    }
}

/// [`clip`] for an owned string, without copying when it fits.
pub fn clip_owned(text: String, max: usize) -> String {
    match clip(&text, max) {
        Cow::Borrowed(_) => text,
        Cow::Owned(cut) => cut,
    }
}

fn clip_opt(text: Option<String>, max: usize) -> Option<String> {
    text.map(|t| clip_owned(t, max))
}

impl AuditEvent {
    /// The event with every text field within its bound: what the audit log
    /// stores, whatever a caller sent.
    pub fn bounded(self) -> AuditEvent {
        AuditEvent {
            event_type: clip_owned(self.event_type, MAX_ID_CHARS),
            actor_id: clip_owned(self.actor_id, MAX_ID_CHARS),
            target_type: clip_owned(self.target_type, MAX_ID_CHARS),
            target_id: clip_owned(self.target_id, MAX_ID_CHARS),
            summary: clip_owned(self.summary, MAX_TEXT_CHARS),
            delivery_group_id: clip_opt(self.delivery_group_id, MAX_ID_CHARS),
            service_name: clip_opt(self.service_name, MAX_ID_CHARS),
            environment: clip_opt(self.environment, MAX_ID_CHARS),
            request_id: clip_opt(self.request_id, MAX_ID_CHARS),
            changes: self
                .changes
                .into_iter()
                .map(|c| FieldChange {
                    field: clip_owned(c.field, MAX_ID_CHARS),
                    old_value: clip_opt(c.old_value, MAX_TEXT_CHARS),
                    new_value: clip_opt(c.new_value, MAX_TEXT_CHARS),
                })
                .collect(),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_as_is() {
        assert!(matches!(clip("payments-api", 200), Cow::Borrowed("payments-api")));
        assert_eq!(clip(&"x".repeat(200), 200), "x".repeat(200));
    }

    #[test]
    fn long_text_keeps_its_first_characters_and_a_visible_marker() {
        let text = "x".repeat(1500);
        let cut = clip(&text, 200);
        assert_eq!(cut, format!("{}{TRUNCATED}", "x".repeat(200)));
    }

    #[test]
    fn text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(300);
        let cut = clip(&text, 200);
        assert_eq!(cut.chars().filter(|c| *c == 'é').count(), 200);
        assert!(cut.ends_with(TRUNCATED));
    }

    #[test]
    fn every_text_field_of_an_audit_event_is_bounded() {
        let long = "y".repeat(5000);
        let event = AuditEvent {
            id: uuid::Uuid::nil(),
            event_type: "DEPLOY_CANCEL".into(),
            actor_id: long.clone(),
            actor_role: crate::domain::Role::Observer,
            target_type: "DEPLOYMENT".into(),
            target_id: long.clone(),
            timestamp: chrono::DateTime::UNIX_EPOCH,
            outcome: crate::domain::audit::AuditOutcome::Denied,
            summary: long.clone(),
            delivery_group_id: Some(long.clone()),
            service_name: Some(long.clone()),
            environment: Some(long.clone()),
            request_id: Some(long.clone()),
            changes: vec![FieldChange {
                field: long.clone(),
                old_value: Some(long.clone()),
                new_value: Some(long.clone()),
            }],
            repeat_count: 1,
        }
        .bounded();
        let id_len = MAX_ID_CHARS + TRUNCATED.chars().count();
        let text_len = MAX_TEXT_CHARS + TRUNCATED.chars().count();
        for id in [&event.actor_id, &event.target_id] {
            assert_eq!(id.chars().count(), id_len);
        }
        for id in [&event.delivery_group_id, &event.service_name, &event.environment, &event.request_id] {
            assert_eq!(id.as_deref().map(|s| s.chars().count()), Some(id_len));
        }
        assert_eq!(event.summary.chars().count(), text_len);
        assert_eq!(event.changes[0].field.chars().count(), id_len);
        assert_eq!(event.changes[0].old_value.as_deref().map(|s| s.chars().count()), Some(text_len));
        assert_eq!(event.changes[0].new_value.as_deref().map(|s| s.chars().count()), Some(text_len));
        assert_eq!(event.event_type, "DEPLOY_CANCEL");
    }
}
