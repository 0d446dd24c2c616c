//! Rate limits as MDE states them: "N calls per minute and M calls per hour", per API and per
//! caller. Implemented as fixed windows aligned to the clock, counted per
//! (tenant, application, API); a call is counted only when it is let through, and a refused one
//! is told to retry when the window that is full starts anew.
//!
//! [`RateLimiter`] is the seam; [`MemoryLimiter`] counts in this process, [`RedisLimiter`] in
//! Redis, shared by every replica, with the same windows and `Retry-After`.

pub mod shared;

pub use shared::{FailMode, RedisLimiter};

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

/// One limit: at most `max_calls` per `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub max_calls: u32,
    pub window_seconds: u64,
}

impl Window {
    pub const fn per_minute(max_calls: u32) -> Self {
        Window {
            max_calls,
            window_seconds: 60,
        }
    }
    pub const fn per_hour(max_calls: u32) -> Self {
        Window {
            max_calls,
            window_seconds: 3600,
        }
    }
}

/// Who is counted, for which API.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimitKey {
    pub tenant_id: String,
    pub client_id: String,
    pub api: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Refused; the full window starts anew in this many seconds (at least 1).
    Limited {
        retry_after_seconds: u64,
    },
    /// The shared counters could not be reached and the limiter fails closed.
    Unavailable {
        retry_after_seconds: u64,
    },
}

/// What a limiter has seen go wrong, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimiterStats {
    pub backend: &'static str,
    /// Checks its store did not answer.
    pub errors: u64,
    /// Of those, calls let through uncounted (fail-open) and refused (fail-closed).
    pub failed_open: u64,
    pub failed_closed: u64,
}

#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one call against every window of `windows` if none of them is full.
    async fn check(&self, key: &LimitKey, windows: &[Window], now_unix: u64) -> Decision;

    /// Whether the counters' store answers (for `/readyz`).
    async fn ready(&self) -> Result<(), String> {
        Ok(())
    }

    fn stats(&self) -> LimiterStats {
        LimiterStats {
            backend: "memory",
            ..LimiterStats::default()
        }
    }
}

/// Counters in this process's memory.
#[derive(Default)]
pub struct MemoryLimiter {
    counters: Mutex<HashMap<(LimitKey, u64), Counter>>,
}

#[derive(Clone, Copy)]
struct Counter {
    window_start: u64,
    calls: u32,
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn check(&self, key: &LimitKey, windows: &[Window], now_unix: u64) -> Decision {
        let mut counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut retry_after = 0;
        for window in windows {
            let start = now_unix - now_unix % window.window_seconds;
            let used = match counters.get(&(key.clone(), window.window_seconds)) {
                Some(c) if c.window_start == start => c.calls,
                _ => 0,
            };
            if used >= window.max_calls {
                retry_after = retry_after.max(start + window.window_seconds - now_unix);
            }
        }
        if retry_after > 0 {
            return Decision::Limited {
                retry_after_seconds: retry_after,
            };
        }
        for window in windows {
            let start = now_unix - now_unix % window.window_seconds;
            let counter = counters.entry((key.clone(), window.window_seconds)).or_insert(Counter {
                window_start: start,
                calls: 0,
            });
            if counter.window_start != start {
                *counter = Counter {
                    window_start: start,
                    calls: 0,
                };
            }
            counter.calls += 1;
        }
        Decision::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tenant of its own per run, so that runs against one Redis do not share counters.
    fn key(client: &str) -> LimitKey {
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        LimitKey {
            tenant_id: format!("t-{}-{run}", std::process::id()),
            client_id: client.into(),
            api: "alerts.machine",
        }
    }

    /// MDE's two windows, as every limiter must count them.
    async fn minute_and_hour_windows(limiter: &dyn RateLimiter) {
        let windows = [Window::per_minute(3), Window::per_hour(5)];
        let (a, b) = (key("a"), key("b"));
        let t0 = 7200; // the start of an hour and of a minute
        for _ in 0..3 {
            assert_eq!(limiter.check(&a, &windows, t0 + 10).await, Decision::Allowed);
        }
        assert_eq!(
            limiter.check(&a, &windows, t0 + 10).await,
            Decision::Limited {
                retry_after_seconds: 50
            }
        );
        // Another application has its own counters.
        assert_eq!(limiter.check(&b, &windows, t0 + 10).await, Decision::Allowed);
        // The next minute lets two more through before the hour is full.
        assert_eq!(limiter.check(&a, &windows, t0 + 61).await, Decision::Allowed);
        assert_eq!(limiter.check(&a, &windows, t0 + 62).await, Decision::Allowed);
        assert_eq!(
            limiter.check(&a, &windows, t0 + 63).await,
            Decision::Limited {
                retry_after_seconds: 3600 - 63
            }
        );
        assert_eq!(limiter.check(&a, &windows, t0 + 3600).await, Decision::Allowed);
    }

    #[tokio::test]
    async fn memory_counts_minute_and_hour_windows() {
        minute_and_hour_windows(&MemoryLimiter::default()).await;
    }

    /// The Redis the tests use; unset, the Redis tests are skipped (CI always sets it).
    fn redis_url() -> Option<String> {
        let url = std::env::var("OPENMDE_TEST_REDIS_URL").ok();
        if url.is_none() {
            eprintln!("OPENMDE_TEST_REDIS_URL is not set: skipping a Redis test");
        }
        url
    }

    #[tokio::test]
    async fn redis_counts_minute_and_hour_windows_as_memory_does() {
        let Some(url) = redis_url() else { return };
        let limiter = RedisLimiter::new(&url, FailMode::Closed).unwrap();
        assert_eq!(limiter.ready().await, Ok(()));
        minute_and_hour_windows(&limiter).await;
        assert_eq!(limiter.stats().errors, 0);
    }

    #[tokio::test]
    async fn two_limiters_on_one_redis_let_exactly_the_limit_through() {
        let Some(url) = redis_url() else { return };
        let replicas = [
            std::sync::Arc::new(RedisLimiter::new(&url, FailMode::Closed).unwrap()),
            std::sync::Arc::new(RedisLimiter::new(&url, FailMode::Closed).unwrap()),
        ];
        let windows = [Window::per_minute(100), Window::per_hour(1500)];
        let key = key("shared");
        let calls = (0..150).map(|i| {
            let (limiter, key) = (std::sync::Arc::clone(&replicas[i % 2]), key.clone());
            tokio::spawn(async move { limiter.check(&key, &windows, 7210).await })
        });
        let mut allowed = 0;
        for call in calls.collect::<Vec<_>>() {
            allowed += usize::from(call.await.unwrap() == Decision::Allowed);
        }
        assert_eq!(allowed, 100);
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_open_or_closed_as_configured_and_is_counted() {
        // Nothing listens on port 1.
        let open = RedisLimiter::new("redis://127.0.0.1:1", FailMode::Open).unwrap();
        let closed = RedisLimiter::new("redis://127.0.0.1:1", FailMode::Closed).unwrap();
        let windows = [Window::per_minute(1)];
        for _ in 0..2 {
            assert_eq!(open.check(&key("a"), &windows, 60).await, Decision::Allowed);
            assert_eq!(
                closed.check(&key("a"), &windows, 60).await,
                Decision::Unavailable { retry_after_seconds: 1 }
            );
        }
        assert_eq!((open.stats().errors, open.stats().failed_open), (2, 2));
        assert_eq!((closed.stats().errors, closed.stats().failed_closed), (2, 2));
        assert!(closed.ready().await.is_err());
    }
}
