//! Rate limits as MDE states them: "N calls per minute and M calls per hour", per API and per
//! caller. Implemented as fixed windows aligned to the clock, counted per
//! (tenant, application, API); a call is counted only when it is let through, and a refused one
//! is told to retry when the window that is full starts anew.
//!
//! [`RateLimiter`] is the seam for a shared limiter (Redis) across replicas; [`MemoryLimiter`]
//! is the in-process one.

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
}

#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one call against every window of `windows` if none of them is full.
    async fn check(&self, key: &LimitKey, windows: &[Window], now_unix: u64) -> Decision;
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

    fn key(client: &str) -> LimitKey {
        LimitKey {
            tenant_id: "t".into(),
            client_id: client.into(),
            api: "alerts.machine",
        }
    }

    fn run(limiter: &MemoryLimiter, key: &LimitKey, windows: &[Window], now: u64) -> Decision {
        futures_lite(limiter.check(key, windows, now))
    }

    // A tiny executor: the memory limiter never awaits.
    fn futures_lite<F: std::future::Future>(future: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn minute_and_hour_windows() {
        let limiter = MemoryLimiter::default();
        let windows = [Window::per_minute(3), Window::per_hour(5)];
        let t0 = 7200; // the start of an hour and of a minute
        for _ in 0..3 {
            assert_eq!(run(&limiter, &key("a"), &windows, t0 + 10), Decision::Allowed);
        }
        assert_eq!(
            run(&limiter, &key("a"), &windows, t0 + 10),
            Decision::Limited {
                retry_after_seconds: 50
            }
        );
        // Another application has its own counters.
        assert_eq!(run(&limiter, &key("b"), &windows, t0 + 10), Decision::Allowed);
        // The next minute lets two more through before the hour is full.
        assert_eq!(run(&limiter, &key("a"), &windows, t0 + 61), Decision::Allowed);
        assert_eq!(run(&limiter, &key("a"), &windows, t0 + 62), Decision::Allowed);
        assert_eq!(
            run(&limiter, &key("a"), &windows, t0 + 63),
            Decision::Limited {
                retry_after_seconds: 3600 - 63
            }
        );
        assert_eq!(run(&limiter, &key("a"), &windows, t0 + 3600), Decision::Allowed);
    }
}
