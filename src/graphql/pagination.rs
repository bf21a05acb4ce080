//! Relay connections over keyset pages, with opaque cursors.
//!
//! A cursor is base64url("<RFC 3339 timestamp>|<id>"): the sort key of the
//! last item seen. It is opaque to clients and validated on the way back in;
//! forging one only moves the caller's own position in a list they may read.

use async_graphql::SimpleObject;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use chrono::{DateTime, SecondsFormat, Utc};

use super::{
    error::coded,
    types::{audit::AuditEvent, catalog::Build, deployment::Deployment},
};
use crate::domain::{
    page::{Keyset, Page, PageRequest},
    ErrorCode,
};

#[derive(SimpleObject, Clone)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// Declares a Relay connection and edge type for one node type.
macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty) => {
        #[derive(SimpleObject)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        #[derive(SimpleObject)]
        pub struct $connection {
            pub edges: Vec<$edge>,
            pub nodes: Vec<$node>,
            pub page_info: PageInfo,
        }

        impl $connection {
            /// Builds a connection from a page; `key` gives each item's sort key.
            pub fn from_page<D>(page: Page<D>, key: impl Fn(&D) -> Keyset, node: impl Fn(D) -> $node) -> Self {
                let mut edges = Vec::with_capacity(page.items.len());
                for item in page.items {
                    let cursor = encode_cursor(&key(&item));
                    edges.push($edge { cursor, node: node(item) });
                }
                let end_cursor = edges.last().map(|e| e.cursor.clone());
                let nodes = edges.iter().map(|e| e.node.clone()).collect();
                Self { edges, nodes, page_info: PageInfo { has_next_page: page.has_next_page, end_cursor } }
            }
        }
    };
}

connection!(DeploymentConnection, DeploymentEdge, Deployment);
connection!(AuditEventConnection, AuditEventEdge, AuditEvent);
connection!(BuildConnection, BuildEdge, Build);

pub fn encode_cursor(key: &Keyset) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", key.at.to_rfc3339_opts(SecondsFormat::Micros, true), key.id))
}

pub fn decode_cursor(cursor: &str) -> async_graphql::Result<Keyset> {
    let invalid = || coded(ErrorCode::InvalidRequest, "the `after` cursor is not one this API issued");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (at, id) = text.split_once('|').ok_or_else(invalid)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| invalid())?.with_timezone(&Utc);
    if id.is_empty() || id.len() > 128 {
        return Err(invalid());
    }
    Ok(Keyset { at, id: id.to_owned() })
}

/// Validates `first` and `after` into a page request (`first` is capped at
/// the maximum page size; a negative `first` is an error).
pub fn page_request(first: i32, after: Option<&str>) -> async_graphql::Result<PageRequest> {
    if first < 0 {
        return Err(coded(ErrorCode::InvalidRequest, "`first` must not be negative"));
    }
    let after = after.map(decode_cursor).transpose()?;
    Ok(PageRequest::new(first as u64, after))
}

/// Complexity of a connection field: its selection costs once per item
/// asked for (capped like the page itself), so a large page is priced as such.
pub fn connection_complexity(first: i32, child_complexity: usize) -> usize {
    (first.clamp(1, crate::domain::page::MAX_PAGE_SIZE as i32) as usize).saturating_mul(child_complexity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key = Keyset { at: Utc::now(), id: "abc".into() };
        let decoded = decode_cursor(&encode_cursor(&key)).expect("round trip");
        assert_eq!(decoded.id, "abc");
        assert_eq!(decoded.at.timestamp_micros(), key.at.timestamp_micros());
        assert!(decode_cursor("not-a-cursor!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("nodelimiter")).is_err());
    }
}
