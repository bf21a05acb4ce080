//! Keyset pagination vocabulary shared by the store and the GraphQL edge.

use chrono::{DateTime, Utc};

/// Largest page any list returns, whatever `first` asks for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// A position in a list ordered newest first: (timestamp, id) of the last
/// item seen. The id breaks ties so the order is total and stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub at: DateTime<Utc>,
    pub id: String,
}

/// What a caller asks for: up to `first` items after `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub first: u64,
    pub after: Option<Keyset>,
}

impl PageRequest {
    /// Clamps `first` to 0..=MAX_PAGE_SIZE (negative values are refused at
    /// the edge before this point).
    pub fn new(first: u64, after: Option<Keyset>) -> Self {
        Self { first: first.min(MAX_PAGE_SIZE), after }
    }
}

/// One page of results and whether more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `first + 1` rows: the extra row only tells
    /// that a next page exists.
    pub fn from_overfetch(mut rows: Vec<T>, first: u64) -> Self {
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Self { items: rows, has_next_page }
    }
}
