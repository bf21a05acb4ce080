//! Settings as every use case sees them, and per-caller rate limits.
//!
//! Settings live in the database (one row) so every replica enforces the
//! same kill switch and limits. Each process keeps a copy for at most
//! [`SETTINGS_TTL`], so a change made through any replica holds on all of
//! them within a second; a change made through this process is visible to
//! it at once.
//!
//! Rate limits are GCRA buckets per actor (never per IP), one set for reads
//! and one for mutations. The buckets are per replica (DESIGN §1 allows
//! that); the limits they enforce come from the shared settings.

use std::{
    num::NonZeroU32,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Services;
use crate::domain::{settings::SystemSettings, DomainError, ErrorCode, Principal};

/// Longest a process serves settings without re-reading them.
pub const SETTINGS_TTL: Duration = Duration::from_millis(500);

/// Which bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClass {
    Read,
    Mutate,
}

/// A keyed limiter together with the rate it was built for, rebuilt when an
/// admin changes the rate.
struct Buckets {
    rpm: u32,
    limiter: DefaultKeyedRateLimiter<String>,
}

impl Buckets {
    fn new(rpm: u32) -> Self {
        let per_minute = NonZeroU32::new(rpm.max(1)).unwrap_or(NonZeroU32::MIN);
        Self { rpm, limiter: RateLimiter::dashmap(Quota::per_minute(per_minute)) }
    }
}

/// Per-process state: the settings copy and the two sets of buckets. The
/// buckets are shared behind an `Arc`, so a request holds no lock while it
/// draws from its bucket (the keyed limiter is concurrent itself).
#[derive(Default)]
pub struct Limits {
    settings: Mutex<Option<(Instant, SystemSettings)>>,
    read: RwLock<Option<Arc<Buckets>>>,
    mutate: RwLock<Option<Arc<Buckets>>>,
}

impl Services {
    /// The settings, at most [`SETTINGS_TTL`] old.
    pub(crate) async fn current_settings(&self) -> Result<SystemSettings, DomainError> {
        if let Ok(cached) = self.limits.settings.lock() {
            if let Some((read_at, settings)) = cached.as_ref() {
                if read_at.elapsed() < SETTINGS_TTL {
                    return Ok(settings.clone());
                }
            }
        }
        let settings = self.store.settings().await?;
        self.remember_settings(&settings);
        Ok(settings)
    }

    /// Replaces this process's copy right after a change.
    pub(crate) fn remember_settings(&self, settings: &SystemSettings) {
        if let Ok(mut cached) = self.limits.settings.lock() {
            *cached = Some((Instant::now(), settings.clone()));
        }
    }

    /// The limit of `class` from settings at most [`SETTINGS_TTL`] old,
    /// without copying the settings when the cached copy is fresh.
    async fn current_rpm(&self, class: RequestClass) -> Result<i32, DomainError> {
        let pick = |settings: &SystemSettings| match class {
            RequestClass::Read => settings.read_rpm,
            RequestClass::Mutate => settings.mutate_rpm,
        };
        if let Ok(cached) = self.limits.settings.lock() {
            if let Some((read_at, settings)) = cached.as_ref() {
                if read_at.elapsed() < SETTINGS_TTL {
                    return Ok(pick(settings));
                }
            }
        }
        Ok(pick(&self.current_settings().await?))
    }

    /// The buckets of `class` for `rpm`, rebuilt when the rate changed.
    fn buckets(&self, class: RequestClass, rpm: u32) -> Option<Arc<Buckets>> {
        let slot = match class {
            RequestClass::Read => &self.limits.read,
            RequestClass::Mutate => &self.limits.mutate,
        };
        if let Ok(current) = slot.read() {
            if let Some(buckets) = current.as_ref().filter(|b| b.rpm == rpm) {
                return Some(buckets.clone());
            }
        }
        let mut current = slot.write().ok()?;
        if current.as_ref().is_none_or(|b| b.rpm != rpm) {
            *current = Some(Arc::new(Buckets::new(rpm)));
        }
        current.clone()
    }

    /// Draws one request from the caller's bucket of `class`, or refuses with
    /// `RATE_LIMITED` and the seconds to wait.
    pub async fn check_rate(&self, principal: &Principal, class: RequestClass) -> Result<(), DomainError> {
        self.check_rate_n(principal, class, 1).await
    }

    /// Draws `requests` requests at once (a batch pays for each of its
    /// operations); all or nothing.
    pub async fn check_rate_n(
        &self,
        principal: &Principal,
        class: RequestClass,
        requests: u32,
    ) -> Result<(), DomainError> {
        let rpm = u32::try_from(self.current_rpm(class).await?).unwrap_or(1);
        let Some(buckets) = self.buckets(class, rpm) else {
            return Ok(());
        };
        let requests = NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN);
        match buckets.limiter.check_key_n(&principal.actor_id, requests) {
            Ok(Ok(())) => Ok(()),
            // More operations at once than the bucket ever holds.
            Err(_) => {
                let mut err = DomainError::new(
                    ErrorCode::RateLimited,
                    format!("{requests} operations at once exceed the rate limit of {rpm} per minute"),
                );
                err.retry_after_seconds = Some(60);
                Err(err)
            }
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let mut err = DomainError::new(
                    ErrorCode::RateLimited,
                    format!("rate limit of {rpm} requests per minute reached; retry in {seconds} s"),
                );
                err.retry_after_seconds = Some(seconds.max(1));
                Err(err)
            }
        }
    }
}
