//! How many WebSocket connections may be open: in total, per client
//! address (counted before authentication, so an anonymous flood is
//! bounded) and per actor (counted once `connection_init` is accepted).
//! Each admission is a guard that gives its place back when dropped, so a
//! connection that ends in any way frees it.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::{Arc, Mutex},
};

/// Most open connections per process.
pub const MAX_CONNECTIONS: usize = 1_024;
/// Most open connections from one client address.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 32;
/// Most open connections of one actor.
pub const MAX_CONNECTIONS_PER_ACTOR: usize = 16;
/// Most operations (subscriptions, queries, mutations) running at once on
/// one connection.
pub const MAX_OPERATIONS_PER_CONNECTION: usize = 16;

/// The open connections of this process.
#[derive(Default)]
pub struct ConnectionCaps {
    by_address: Counter<IpAddr>,
    by_actor: Counter<String>,
}

impl ConnectionCaps {
    /// A place for a new connection from `address`, or `None` when the
    /// process or that address is full.
    pub fn admit_address(self: &Arc<Self>, address: IpAddr) -> Option<Place<IpAddr>> {
        self.by_address.admit(address, MAX_CONNECTIONS_PER_ADDRESS, Some(MAX_CONNECTIONS))
    }

    /// A place for an authenticated connection of `actor`.
    pub fn admit_actor(self: &Arc<Self>, actor: &str) -> Option<Place<String>> {
        self.by_actor.admit(actor.to_owned(), MAX_CONNECTIONS_PER_ACTOR, None)
    }
}

/// Open connections per key, and in all.
struct Counter<K> {
    inner: Arc<Mutex<Counts<K>>>,
}

impl<K> Default for Counter<K> {
    fn default() -> Self {
        Self { inner: Arc::new(Mutex::new(Counts { total: 0, per_key: HashMap::new() })) }
    }
}

struct Counts<K> {
    total: usize,
    per_key: HashMap<K, usize>,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    fn admit(&self, key: K, per_key: usize, total: Option<usize>) -> Option<Place<K>> {
        let mut counts = self.inner.lock().ok()?;
        if total.is_some_and(|max| counts.total >= max) {
            return None;
        }
        let open = counts.per_key.entry(key.clone()).or_insert(0);
        if *open >= per_key {
            return None;
        }
        *open += 1;
        counts.total += 1;
        Some(Place { counts: self.inner.clone(), key })
    }
}

/// One admitted connection; dropping it frees the place.
pub struct Place<K: Hash + Eq> {
    counts: Arc<Mutex<Counts<K>>>,
    key: K,
}

impl<K: Hash + Eq> Drop for Place<K> {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.total = counts.total.saturating_sub(1);
            if let Some(open) = counts.per_key.get_mut(&self.key) {
                *open -= 1;
                if *open == 0 {
                    counts.per_key.remove(&self.key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_per_key_and_given_back_on_drop() {
        let caps = Arc::new(ConnectionCaps::default());
        let address: IpAddr = [127, 0, 0, 1].into();
        let places: Vec<_> = (0..MAX_CONNECTIONS_PER_ADDRESS).map(|_| caps.admit_address(address)).collect();
        assert!(places.iter().all(Option::is_some));
        assert!(caps.admit_address(address).is_none(), "the address is full");
        assert!(caps.admit_address([127, 0, 0, 2].into()).is_some(), "another address is not");
        drop(places);
        assert!(caps.admit_address(address).is_some(), "dropped places are given back");
        let actor: Vec<_> = (0..MAX_CONNECTIONS_PER_ACTOR).map(|_| caps.admit_actor("a")).collect();
        assert!(actor.iter().all(Option::is_some));
        assert!(caps.admit_actor("a").is_none());
    }
}
