//! What every request handler shares.

use std::collections::HashMap;
use std::sync::Arc;

use openmde_identity::{Authenticator, Caller, Issuer, KeySource, TrustedIssuer};
use openmde_ratelimit::{Decision, LimitKey, RateLimiter, Window};
use openmde_store::Store;

use crate::access::{AccessCache, Admitted};
use crate::http::auth::{Authenticated, Permissions};
use crate::http::error::ApiError;
use openmde_model::Timestamp;

/// Names of the rate-limited APIs, as used by `--rate-limit`.
pub mod api {
    pub const ALERT_MACHINE: &str = "alerts.machine";
    pub const ALERT: &str = "alerts.get";
    pub const ALERT_UPDATE: &str = "alerts.update";
    pub const ALERT_BATCH_UPDATE: &str = "alerts.batchUpdate";
    pub const ALERT_BY_REFERENCE: &str = "alerts.createByReference";
    pub const MACHINE: &str = "machines.get";
    pub const MACHINE_UPDATE: &str = "machines.update";
    pub const MACHINE_TAGS: &str = "machines.tags";
    pub const MACHINES_TAGS: &str = "machines.tagsForMultiple";
    pub const MACHINE_DEVICE_VALUE: &str = "machines.setDeviceValue";
    pub const ALERT_USER: &str = "alerts.user";
    pub const ALERT_FILES: &str = "alerts.files";
    pub const ALERT_IPS: &str = "alerts.ips";
    pub const ALERT_DOMAINS: &str = "alerts.domains";
    pub const ALERTS: &str = "alerts.list";
    pub const MACHINES: &str = "machines.list";
    pub const MACHINE_ALERTS: &str = "machines.alerts";
    pub const MACHINE_LOGON_USERS: &str = "machines.logonUsers";
    pub const MACHINES_BY_TAG: &str = "machines.findByTag";
    pub const MACHINES_BY_IP: &str = "machines.findByIp";
}

/// Per-API limits. MDE states them per API: "100 calls per minute and 1500 calls per hour".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub enabled: bool,
    pub windows: HashMap<&'static str, Vec<Window>>,
}

impl Default for RateLimits {
    fn default() -> Self {
        let mde = || vec![Window::per_minute(100), Window::per_hour(1500)];
        let standard = [
            api::ALERT_MACHINE,
            api::ALERT,
            api::ALERT_UPDATE,
            api::ALERT_USER,
            api::ALERT_FILES,
            api::ALERT_IPS,
            api::ALERT_DOMAINS,
            api::MACHINE,
            api::MACHINE_UPDATE,
            api::MACHINE_TAGS,
            api::MACHINES_TAGS,
            api::MACHINE_DEVICE_VALUE,
            api::ALERTS,
            api::MACHINES,
            api::MACHINE_ALERTS,
            api::MACHINE_LOGON_USERS,
            api::MACHINES_BY_TAG,
            api::MACHINES_BY_IP,
        ];
        let batch = (
            api::ALERT_BATCH_UPDATE,
            vec![Window::per_minute(10), Window::per_hour(500)],
        );
        // CreateAlertByReference: the documentation gives only the minute limit.
        let by_reference = (api::ALERT_BY_REFERENCE, vec![Window::per_minute(15)]);
        let windows = standard
            .into_iter()
            .map(|name| (name, mde()))
            .chain([batch, by_reference])
            .collect();
        RateLimits { enabled: true, windows }
    }
}

impl RateLimits {
    pub fn off() -> Self {
        RateLimits {
            enabled: false,
            ..Self::default()
        }
    }

    /// Parses `API=N/min,M/h` (also `/s`, `/day`) and replaces that API's windows.
    pub fn set(&mut self, spec: &str) -> Result<(), String> {
        let (name, windows) = spec
            .split_once('=')
            .ok_or_else(|| format!("'{spec}': expected API=N/min,M/h"))?;
        let api = self
            .windows
            .keys()
            .copied()
            .find(|known| *known == name.trim())
            .ok_or_else(|| format!("unknown API '{name}'; known: {}", self.api_names().join(", ")))?;
        let parsed = windows
            .split(',')
            .map(|w| {
                let (count, unit) = w
                    .trim()
                    .split_once('/')
                    .ok_or_else(|| format!("'{w}': expected N/min or N/h"))?;
                let max_calls = count.trim().parse().map_err(|_| format!("'{count}' is not a count"))?;
                let window_seconds = match unit.trim() {
                    "s" | "sec" | "second" => 1,
                    "min" | "minute" => 60,
                    "h" | "hour" => 3600,
                    "day" => 86_400,
                    other => return Err(format!("unknown window '{other}'")),
                };
                Ok(Window {
                    max_calls,
                    window_seconds,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        self.windows.insert(api, parsed);
        Ok(())
    }

    fn api_names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.windows.keys().copied().collect();
        names.sort_unstable();
        names
    }
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub issuer: Issuer,
    pub authenticator: Authenticator,
    pub limiter: Arc<dyn RateLimiter>,
    pub limits: RateLimits,
    /// Alerts last updated longer ago than this are not found.
    pub retention_days: i64,
    /// Users' roles and device groups (shared with the admin API, whose changes clear it).
    pub access: Arc<AccessCache>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        (keys, trusted): (Arc<KeySource>, Vec<Arc<TrustedIssuer>>),
        limiter: Arc<dyn RateLimiter>,
        limits: RateLimits,
        retention_days: i64,
    ) -> Self {
        AppState {
            issuer: Issuer::new(Arc::clone(&store), Arc::clone(&keys)),
            authenticator: Authenticator::new(Arc::clone(&store), keys, trusted),
            store,
            limiter,
            limits,
            retention_days,
            access: Arc::default(),
        }
    }

    /// Lets a call of `api` through: the token must grant one of `permissions`, and a user's
    /// roles the role permission (403), then the call is counted against the application's
    /// limits (429).
    pub async fn admit<'a>(
        &self,
        auth: &'a Authenticated,
        permissions: &Permissions,
        api: &'static str,
    ) -> Result<Admitted<'a>, ApiError> {
        let caller = auth.require(permissions)?;
        let admitted = Admitted::check(caller, &self.access, &*self.store, permissions.role).await?;
        self.count_call(caller, api).await?;
        Ok(admitted)
    }

    /// The oldest last-update (alerts) or last-seen (machines) time still inside retention.
    pub fn retention_start(&self) -> Timestamp {
        Timestamp::now().minus_days(self.retention_days)
    }

    async fn count_call(&self, caller: &Caller, api: &'static str) -> Result<(), ApiError> {
        if !self.limits.enabled {
            return Ok(());
        }
        let Some(windows) = self.limits.windows.get(api) else {
            return Ok(());
        };
        let key = LimitKey {
            tenant_id: caller.principal.tenant_id.clone(),
            client_id: caller.principal.client_id.clone(),
            api,
        };
        match self.limiter.check(&key, windows, now_unix() as u64).await {
            Decision::Allowed => Ok(()),
            Decision::Limited { retry_after_seconds } => Err(ApiError::too_many_requests(retry_after_seconds)),
            Decision::Unavailable { retry_after_seconds } => Err(ApiError::unavailable(retry_after_seconds)),
        }
    }
}

pub fn now_unix() -> i64 {
    openmde_model::Timestamp::now().unix_seconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_has_mde_limits_and_they_can_be_changed() {
        let mut limits = RateLimits::default();
        assert_eq!(limits.windows.len(), 20);
        assert_eq!(limits.windows[api::ALERT_BY_REFERENCE], vec![Window::per_minute(15)]);
        assert_eq!(
            limits.windows[api::ALERT_BATCH_UPDATE],
            vec![Window::per_minute(10), Window::per_hour(500)]
        );
        assert_eq!(
            limits.windows[api::MACHINE_TAGS],
            vec![Window::per_minute(100), Window::per_hour(1500)]
        );
        limits.set("alerts.get=5/s, 20/day").unwrap();
        assert_eq!(
            limits.windows[api::ALERT],
            vec![
                Window {
                    max_calls: 5,
                    window_seconds: 1
                },
                Window {
                    max_calls: 20,
                    window_seconds: 86_400
                }
            ]
        );
        assert!(limits.set("alerts.nope=1/min").unwrap_err().contains("unknown API"));
        assert!(limits.set("alerts.get=1/week").unwrap_err().contains("unknown window"));
        assert!(limits.set("alerts.get").is_err());
    }
}
