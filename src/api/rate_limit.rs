//! The write API's rate limit: per valid bearer token, or per client address without one. A
//! generic cell rate (GCRA) limiter per key from `governor`: no lock shared by all requests and no
//! scan of every client on each one.
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;

use crate::app::AppState;
use crate::error::AppError;

/// Keys kept before the idle ones (indistinguishable from a fresh bucket) are forgotten.
const KEEP_KEYS: usize = 10_000;

/// `rate` requests per second on average, bursts of up to `burst`, per key.
pub struct WriteLimiter<C: Clock = DefaultClock> {
    limiter: governor::RateLimiter<
        String,
        DefaultKeyedStateStore<String>,
        C,
        governor::middleware::NoOpMiddleware<C::Instant>,
    >,
    clock: C,
}

impl WriteLimiter {
    pub fn new(rate: f64, burst: f64) -> Self {
        Self::with_clock(rate, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> WriteLimiter<C> {
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

/// Limits the write API per valid bearer token, or per client address without one. The key is
/// the token's id, not the header's text: spellings of one token (extra spaces, `bearer`) share a
/// bucket, and made-up tokens share their address's.
pub async fn limit_writes(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.method() == axum::http::Method::GET || request.method() == axum::http::Method::HEAD {
        return next.run(request).await;
    }
    let authenticated = match crate::api::auth::authenticate(&state, request.headers()).await {
        Ok(authenticated) => authenticated,
        Err(err) => return err.into_response(),
    };
    let key = match &authenticated.0 {
        Some(token) => format!("token:{}", token.token_id),
        None => format!(
            "address:{}",
            crate::web::client_addr::of_request(
                request.headers(),
                request.extensions(),
                &state.config.trusted_proxies,
            )
        ),
    };
    request.extensions_mut().insert(authenticated);
    match state.write_limiter.check(&key) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let mut response = AppError::TooManyAttempts(format!(
                "请求过于频繁,请 {} 秒后再试。",
                wait.ceil().max(1.0)
            ))
            .into_response();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.ceil().max(1.0) as u64),
            );
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_bucket_allows_bursts_then_refills_at_its_rate() {
        let clock = FakeRelativeClock::default();
        let limiter = WriteLimiter::with_clock(2.0, 3.0, clock.clone());
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
        let limiter = WriteLimiter::with_clock(100.0, 1.0, clock.clone());
        for n in 0..=KEEP_KEYS {
            assert!(limiter.check(&format!("client-{n}")).is_ok());
        }
        clock.advance(Duration::from_secs(1));
        assert!(limiter.check("one more").is_ok());
        assert!(limiter.limiter.len() < 10, "{}", limiter.limiter.len());
    }
}
