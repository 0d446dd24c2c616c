//! Role-based access for delegated calls: a user's roles and device groups, looked up once per
//! [`ACCESS_TTL`] and applied to every entity a handler reads or writes.
//!
//! Application tokens are tenant-wide: they reach every device and cost nothing here.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openmde_access::{Access, DeviceReach, GroupAssignment, RolePermission};
use openmde_identity::{Caller, PrincipalKind};
use openmde_store::query::{Condition, EntitySet, Scalar};
use openmde_store::{Store, TenantKey};
use serde_json::Value;

use crate::http::error::ApiError;

/// How long a user's roles and device groups are reused: changes made by another process (the
/// CLI) apply within this time; the admin API of this process applies them at once.
pub const ACCESS_TTL: Duration = Duration::from_secs(5);

/// Per tenant and user (with the groups their token claims): when it was looked up, and what.
type Entries = HashMap<(TenantKey, String), (Instant, Arc<Access>)>;

#[derive(Default)]
pub struct AccessCache {
    entries: RwLock<Entries>,
}

impl AccessCache {
    /// The access of `user_id`, a member of the stored groups and of `claimed_groups`.
    pub async fn of(
        &self,
        store: &dyn Store,
        tenant: TenantKey,
        user_id: &str,
        claimed_groups: &[String],
    ) -> Result<Arc<Access>, ApiError> {
        // Tokens of one user may claim different groups.
        let key = (tenant, format!("{user_id}\n{}", claimed_groups.join("\n")));
        let fresh = |(at, _): &(Instant, Arc<Access>)| at.elapsed() < ACCESS_TTL;
        if let Some((_, access)) = self.read().get(&key).filter(|e| fresh(e)) {
            return Ok(Arc::clone(access));
        }
        let policy = store.policy(tenant).await?;
        let mut groups = store.member_of(tenant, user_id).await?;
        groups.extend(claimed_groups.iter().cloned());
        let access = Arc::new(Access::of(&policy, &groups));
        let mut entries = self.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|_, entry| fresh(entry));
        entries.insert(key, (Instant::now(), Arc::clone(&access)));
        Ok(access)
    }

    /// Forgets every user's access: roles or groups changed.
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A call let through: the caller, and for a user, their access.
pub struct Admitted<'a> {
    pub caller: &'a Caller,
    /// `None` for applications.
    access: Option<Arc<Access>>,
}

impl std::ops::Deref for Admitted<'_> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        self.caller
    }
}

impl<'a> Admitted<'a> {
    /// Checks a user's role permissions (403 without one of `needed`); applications pass.
    pub async fn check(
        caller: &'a Caller,
        cache: &AccessCache,
        store: &dyn Store,
        needed: &[RolePermission],
    ) -> Result<Admitted<'a>, ApiError> {
        let PrincipalKind::Delegated {
            user_object_id, groups, ..
        } = &caller.principal.kind
        else {
            return Ok(Admitted { caller, access: None });
        };
        let access = cache.of(store, caller.tenant, user_object_id, groups).await?;
        if !needed.iter().any(|p| access.may(*p)) {
            let names: Vec<_> = needed.iter().map(|p| format!("'{}'", p.display_name())).collect();
            return Err(ApiError::forbidden(format!(
                "The user's roles do not grant the permission {}",
                names.join(" or ")
            )));
        }
        Ok(Admitted {
            caller,
            access: Some(access),
        })
    }

    /// The caller reaches every device of the tenant.
    pub fn reaches_all(&self) -> bool {
        self.groups().is_none()
    }

    /// The device groups a user reaches, unless they (or an application) reach every device.
    fn groups(&self) -> Option<&[GroupAssignment]> {
        match self.access.as_ref().map(|a| &a.devices) {
            Some(DeviceReach::Groups(groups)) => Some(groups),
            _ => None,
        }
    }

    /// Whether the caller reaches a machine, given its stored document (`rbacGroupId`).
    pub fn reaches_machine(&self, machine: &str) -> bool {
        self.groups().is_none_or(|groups| {
            let id = stored_field(machine, "rbacGroupId")
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            groups.iter().any(|g| g.id == id)
        })
    }

    /// Whether the caller reaches an alert, given its stored document: the alert carries its
    /// device's group as `rbacGroupName` (null for the Ungrouped group).
    pub fn reaches_alert(&self, alert: &str) -> bool {
        self.groups().is_none_or(|groups| {
            let name = stored_field(alert, "rbacGroupName").and_then(|v| v.as_str().map(str::to_string));
            groups.iter().any(|g| g.name == name)
        })
    }

    /// What a list of `set` is limited to for this caller, ANDed with `extra`.
    pub fn limit(&self, set: EntitySet, extra: Option<Condition>) -> Option<Condition> {
        let Some(groups) = self.groups() else {
            return extra;
        };
        let visible = match set {
            EntitySet::Machines => Condition::within(
                set,
                "rbacGroupId",
                groups.iter().map(|g| Scalar::Integer(g.id)).collect(),
                false,
            ),
            // Alerts carry their device group's name; the Ungrouped group's is null.
            EntitySet::Alerts => Condition::within(
                set,
                "rbacGroupName",
                groups.iter().filter_map(|g| g.name.clone().map(Scalar::Text)).collect(),
                groups.iter().any(|g| g.name.is_none()),
            ),
        };
        Some(match extra {
            Some(extra) => visible.and(extra),
            None => visible,
        })
    }
}

/// A top-level field of a stored document.
fn stored_field(doc: &str, name: &str) -> Option<Value> {
    serde_json::from_str::<serde_json::Map<String, Value>>(doc)
        .ok()?
        .remove(name)
}
