//! A value recomputed at most once per interval. For figures that count the whole archive (the
//! home page's totals: five `COUNT(*)`s, 20 ms at 100k proposals and growing with it) where a
//! reader seeing them up to the interval late is harmless.
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

pub struct Memo<T> {
    every: Duration,
    /// Held across the recomputation, so a burst of readers computes it once.
    value: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Memo<T> {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            value: Mutex::new(None),
        }
    }

    /// The remembered value, or a fresh one from `compute` when it is older than the interval.
    /// An error is returned and nothing is remembered.
    pub async fn get<E, F>(&self, compute: impl FnOnce() -> F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let mut value = self.value.lock().await;
        if let Some((at, v)) = value.as_ref() {
            if at.elapsed() < self.every {
                return Ok(v.clone());
            }
        }
        let fresh = compute().await?;
        *value = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recomputes_only_after_the_interval_and_never_keeps_errors() {
        let memo = Memo::new(Duration::from_millis(50));
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let count =
            || async { Ok::<_, ()>(calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1) };
        assert_eq!(memo.get(count).await, Ok(1));
        assert_eq!(memo.get(count).await, Ok(1));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(memo.get(count).await, Ok(2));

        let failing = Memo::<u8>::new(Duration::from_secs(60));
        assert_eq!(
            failing.get(|| async { Err::<u8, _>("db down") }).await,
            Err("db down")
        );
        assert_eq!(failing.get(|| async { Ok::<_, &str>(7) }).await, Ok(7));
    }
}
