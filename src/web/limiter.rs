//! Rate limits per key (a client address, a token, an email address): a generic cell rate
//! (GCRA) limiter per key from `governor`, with no lock shared by all requests and no scan of every
//! client on each one. Used by the write API and by the public's subscription requests.
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;

/// Keys kept before the idle ones (indistinguishable from a fresh bucket) are forgotten.
const KEEP_KEYS: usize = 10_000;

/// `rate` requests per second on average, bursts of up to `burst`, per key.
pub struct Limiter<C: Clock = DefaultClock> {
    limiter: governor::RateLimiter<
        String,
        DefaultKeyedStateStore<String>,
        C,
        governor::middleware::NoOpMiddleware<C::Instant>,
    >,
    clock: C,
}

impl Limiter {
    pub fn new(rate: f64, burst: f64) -> Self {
        Self::with_clock(rate, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limiter<C> {
    pub fn with_clock(rate: f64, burst: f64, clock: C) -> Self {
        let period = Duration::from_secs_f64(1.0 / rate.max(1e-6));
        let burst = NonZeroU32::new(burst.round().clamp(1.0, u32::MAX as f64) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let quota = governor::Quota::with_period(period)
            .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst);
        Self {
            limiter: governor::RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
        }
    }

    /// Takes one request for `key`; `Err(seconds)` says how long until the next one is allowed.
    pub fn check(&self, key: &str) -> Result<(), f64> {
        if self.limiter.len() > KEEP_KEYS {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|refused| refused.wait_time_from(self.clock.now()).as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_bucket_allows_bursts_then_refills_at_its_rate() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::with_clock(2.0, 3.0, clock.clone());
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        let wait = limiter.check("a").unwrap_err();
        assert!((wait - 0.5).abs() < 1e-6, "{wait}");
        assert!(limiter.check("b").is_ok(), "clients are independent");
        clock.advance(Duration::from_millis(500));
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_err());
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::with_clock(100.0, 1.0, clock.clone());
        for n in 0..=KEEP_KEYS {
            assert!(limiter.check(&format!("client-{n}")).is_ok());
        }
        clock.advance(Duration::from_secs(1));
        assert!(limiter.check("one more").is_ok());
        assert!(limiter.limiter.len() < 10, "{}", limiter.limiter.len());
    }
}
