//! The graphql-transport-ws messages and close codes
//! (<https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>).

use async_graphql::{Request, Response as GqlResponse, ServerError};
use axum::extract::ws::{CloseFrame, Message};
use serde::Deserialize;
use serde_json::json;

/// The sub-protocol we speak.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// Why the server closes a connection, with the protocol's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// 4400: a message the protocol does not allow.
    BadMessage,
    /// 4401: `subscribe` before the connection was acknowledged.
    Unauthorized,
    /// 4403: the token was refused, has expired, or the actor has too many
    /// connections open.
    Forbidden,
    /// 4408: no `connection_init` within the init timeout.
    InitTimeout,
    /// 4409: `subscribe` with an id that is already running.
    DuplicateId,
    /// 4429: a second `connection_init`.
    TooManyInits,
    /// 1001: the server is shutting down.
    GoingAway,
}

impl Close {
    pub fn code(self) -> u16 {
        match self {
            Close::BadMessage => 4400,
            Close::Unauthorized => 4401,
            Close::Forbidden => 4403,
            Close::InitTimeout => 4408,
            Close::DuplicateId => 4409,
            Close::TooManyInits => 4429,
            Close::GoingAway => 1001,
        }
    }

    /// The close frame, with a reason for the client (at most 123 bytes).
    pub fn frame(self, reason: &str) -> Message {
        let mut reason = reason.to_owned();
        while reason.len() > 123 {
            reason.pop();
        }
        Message::Close(Some(CloseFrame { code: self.code(), reason: reason.into() }))
    }
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    // A ping's or pong's optional payload is accepted and ignored.
    Ping {},
    Pong {},
    Subscribe {
        id: String,
        payload: Box<Request>,
    },
    Complete {
        id: String,
    },
}

/// Longest operation id we accept (ids are echoed in every answer).
pub const MAX_ID_LENGTH: usize = 128;

impl ClientMessage {
    /// Parses one text frame; `None` for anything the protocol does not allow.
    pub fn parse(text: &str) -> Option<ClientMessage> {
        let message: ClientMessage = serde_json::from_str(text).ok()?;
        match &message {
            ClientMessage::Subscribe { id, .. } | ClientMessage::Complete { id }
                if id.is_empty() || id.len() > MAX_ID_LENGTH =>
            {
                None
            }
            _ => Some(message),
        }
    }
}

fn text(value: serde_json::Value) -> Message {
    Message::Text(value.to_string().into())
}

pub fn connection_ack() -> Message {
    text(json!({ "type": "connection_ack" }))
}

pub fn pong() -> Message {
    text(json!({ "type": "pong" }))
}

/// One result of operation `id`.
pub fn next(id: &str, response: &GqlResponse) -> Message {
    text(json!({ "type": "next", "id": id, "payload": response }))
}

/// Operation `id` failed before it executed; nothing else follows for it.
pub fn error(id: &str, errors: &[ServerError]) -> Message {
    text(json!({ "type": "error", "id": id, "payload": errors }))
}

/// Operation `id` is finished.
pub fn complete(id: &str) -> Message {
    text(json!({ "type": "complete", "id": id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_and_pongs_are_accepted_with_or_without_a_payload() {
        for text in [r#"{"type":"ping"}"#, r#"{"type":"ping","payload":{"at":1}}"#] {
            assert!(matches!(ClientMessage::parse(text), Some(ClientMessage::Ping {})), "{text}");
        }
        assert!(matches!(ClientMessage::parse(r#"{"type":"pong","payload":null}"#), Some(ClientMessage::Pong {})));
        assert!(ClientMessage::parse(r#"{"type":"subscribe","id":"","payload":{"query":"{a}"}}"#).is_none());
    }
}
