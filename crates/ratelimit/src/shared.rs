//! Counters shared by every replica in Redis: the same fixed windows as [`crate::MemoryLimiter`],
//! checked and counted by one Lua script per call, so two replicas can never both let the
//! 101st call through.
//!
//! Each window of a call is one key, `openmde:rl:{tenant/client/api}:{seconds}:{window start}`
//! (the braces keep a call's keys in one Redis Cluster slot), expiring a minute after its window
//! ends. Windows start on the replica's clock: replicas need synchronised clocks (NTP), as
//! token lifetimes already do.
//!
//! When Redis cannot answer within [`REDIS_TIMEOUT`], the configured [`FailMode`] decides, the
//! failure is logged (at most once per [`LOG_EVERY`]) and counted in [`LimiterStats`].

use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use crate::{Decision, LimitKey, LimiterStats, RateLimiter, Window};

/// How long a check may wait for Redis before the fail mode applies.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// Failures are logged at most this often; the counters count every one.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// What a check does when Redis does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Let the call through, uncounted.
    Open,
    /// Refuse it with 503 and `Retry-After`.
    Closed,
}

/// Returns 0 when every window has room (and counts the call in each), else the seconds until
/// the full window with the latest end starts anew. KEYS: one per window. ARGV: now, then
/// max calls and window seconds per window.
const CHECK: &str = r"
local now = tonumber(ARGV[1])
local retry = 0
for i, key in ipairs(KEYS) do
  local max = tonumber(ARGV[2 * i])
  local seconds = tonumber(ARGV[2 * i + 1])
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= max then
    local ends = now - now % seconds + seconds
    if ends - now > retry then retry = ends - now end
  end
end
if retry > 0 then return retry end
for i, key in ipairs(KEYS) do
  local seconds = tonumber(ARGV[2 * i + 1])
  redis.call('INCR', key)
  redis.call('EXPIRE', key, seconds + 60)
end
return 0
";

pub struct RedisLimiter {
    client: redis::Client,
    /// Connected on first use and kept; it reconnects by itself after a failure.
    connection: RwLock<Option<ConnectionManager>>,
    script: redis::Script,
    fail_mode: FailMode,
    errors: AtomicU64,
    failed_open: AtomicU64,
    failed_closed: AtomicU64,
    /// Unix seconds of the last failure logged.
    logged_at: AtomicI64,
}

impl RedisLimiter {
    /// A limiter on the Redis at `url` (`redis://host:port/db`); nothing is connected yet.
    pub fn new(url: &str, fail_mode: FailMode) -> redis::RedisResult<Self> {
        Ok(RedisLimiter {
            client: redis::Client::open(url)?,
            connection: RwLock::new(None),
            script: redis::Script::new(CHECK),
            fail_mode,
            errors: AtomicU64::new(0),
            failed_open: AtomicU64::new(0),
            failed_closed: AtomicU64::new(0),
            logged_at: AtomicI64::new(i64::MIN),
        })
    }

    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let current = self
            .connection
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(connection) = current {
            return Ok(connection);
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let connection = self.client.get_connection_manager_with_config(config).await?;
        *self
            .connection
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(connection.clone());
        Ok(connection)
    }

    async fn run(&self, key: &LimitKey, windows: &[Window], now_unix: u64) -> redis::RedisResult<u64> {
        let mut connection = self.connection().await?;
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(now_unix);
        for window in windows {
            let start = now_unix - now_unix % window.window_seconds;
            invocation.key(format!(
                "openmde:rl:{{{}/{}/{}}}:{}:{start}",
                key.tenant_id, key.client_id, key.api, window.window_seconds
            ));
            invocation.arg(window.max_calls).arg(window.window_seconds);
        }
        invocation.invoke_async(&mut connection).await
    }

    fn failed(&self, error: &dyn std::fmt::Display, now_unix: u64) -> Decision {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let now = now_unix as i64;
        let last = self.logged_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= LOG_EVERY.as_secs() as i64
            && self
                .logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let mode = match self.fail_mode {
                FailMode::Open => "letting calls through uncounted (fail-open)",
                FailMode::Closed => "refusing calls with 503 (fail-closed)",
            };
            tracing::error!(%error, "the rate-limit store (Redis) does not answer; {mode}");
        }
        match self.fail_mode {
            FailMode::Open => {
                self.failed_open.fetch_add(1, Ordering::Relaxed);
                Decision::Allowed
            }
            FailMode::Closed => {
                self.failed_closed.fetch_add(1, Ordering::Relaxed);
                Decision::Unavailable { retry_after_seconds: 1 }
            }
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, key: &LimitKey, windows: &[Window], now_unix: u64) -> Decision {
        match tokio::time::timeout(REDIS_TIMEOUT, self.run(key, windows, now_unix)).await {
            Ok(Ok(0)) => Decision::Allowed,
            Ok(Ok(retry_after_seconds)) => Decision::Limited { retry_after_seconds },
            Ok(Err(error)) => self.failed(&error, now_unix),
            Err(elapsed) => self.failed(&elapsed, now_unix),
        }
    }

    async fn ready(&self) -> Result<(), String> {
        let ping = async {
            let mut connection = self.connection().await?;
            redis::cmd("PING").query_async::<String>(&mut connection).await
        };
        match tokio::time::timeout(REDIS_TIMEOUT, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(format!("Redis: {error}")),
            Err(_) => Err("Redis: no answer in time".into()),
        }
    }

    fn stats(&self) -> LimiterStats {
        LimiterStats {
            backend: "redis",
            errors: self.errors.load(Ordering::Relaxed),
            failed_open: self.failed_open.load(Ordering::Relaxed),
            failed_closed: self.failed_closed.load(Ordering::Relaxed),
        }
    }
}
