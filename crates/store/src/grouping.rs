//! What every backend does when a tenant starts and when its device groups change. Backends
//! only read and write the rows; the decisions are made here, once.

use openmde_access::{DeviceGroup, DeviceGroupRules, Role, UserGroup};
use serde_json::{Map, Value};

use crate::ADMINISTRATORS_GROUP;

/// What a new tenant starts with: the Ungrouped device group, and the built-in administrator
/// role assigned to the administrators group.
pub(crate) struct TenantDefaults {
    pub ungrouped: DeviceGroup,
    pub administrators: UserGroup,
    pub role: Role,
}

pub(crate) fn tenant_defaults() -> TenantDefaults {
    let administrators = UserGroup {
        id: uuid::Uuid::new_v4().to_string(),
        display_name: ADMINISTRATORS_GROUP.into(),
        members: Vec::new(),
    };
    TenantDefaults {
        ungrouped: DeviceGroup {
            description: Some("Devices that match no other group".into()),
            ..DeviceGroup::ungrouped(1)
        },
        role: Role {
            user_groups: vec![administrators.id.clone()],
            ..Role::administrator(&uuid::Uuid::new_v4().to_string())
        },
        administrators,
    }
}

/// The tenant's groups (`ranked`) once `group`, new or changed, takes its requested rank among
/// them; the Ungrouped group stays last, and keeps its name and (empty) rules.
pub(crate) fn reranked(mut ranked: Vec<DeviceGroup>, group: &DeviceGroup) -> Vec<DeviceGroup> {
    let current = ranked.iter().position(|g| g.id == group.id).map(|i| ranked.remove(i));
    let ungrouped = ranked
        .iter()
        .position(DeviceGroup::is_ungrouped)
        .map(|i| ranked.remove(i));
    let ungrouped = if group.is_ungrouped() {
        // Only its description, remediation level and user access change.
        let current = current.unwrap_or_else(|| DeviceGroup::ungrouped(1));
        DeviceGroup {
            rules: DeviceGroupRules::default(),
            name: current.name,
            ..group.clone()
        }
    } else {
        let at = usize::try_from(group.priority - 1).unwrap_or(0).min(ranked.len());
        ranked.insert(at, group.clone());
        ungrouped.unwrap_or_else(|| DeviceGroup::ungrouped(1))
    };
    ranked.push(ungrouped);
    ranked
}

/// Numbers `ranked` 1..n; returns the groups to write: those whose rank changed, and `changed`.
pub(crate) fn renumbered(ranked: &mut [DeviceGroup], changed: Option<i64>) -> Vec<&DeviceGroup> {
    let mut to_write = Vec::new();
    for (at, group) in ranked.iter_mut().enumerate() {
        let priority = at as i64 + 1;
        if group.priority != priority || Some(group.id) == changed {
            group.priority = priority;
            to_write.push(&*group);
        }
    }
    to_write
}

/// Puts a machine document into its group among `ranked` groups; true if that changed it.
pub(crate) fn stamp_machine(ranked: &[DeviceGroup], machine: &mut Map<String, Value>) -> bool {
    let assignment = DeviceGroup::assign(ranked, machine);
    DeviceGroup::stamp(machine, &assignment)
}

/// An alert document with its machine's device group name.
pub(crate) fn with_group_name(alert: &str, name: Option<&str>) -> serde_json::Result<String> {
    let mut alert: Map<String, Value> = serde_json::from_str(alert)?;
    alert.insert(
        "rbacGroupName".into(),
        name.map_or(Value::Null, |n| Value::String(n.into())),
    );
    serde_json::to_string(&alert)
}

/// The ids of `user_groups` (a JSON array) without `removed`, if it was there.
pub(crate) fn without_user_group(user_groups: &str, removed: &str) -> serde_json::Result<Option<String>> {
    let mut ids: Vec<String> = serde_json::from_str(user_groups)?;
    let before = ids.len();
    ids.retain(|id| id != removed);
    if ids.len() == before {
        return Ok(None);
    }
    serde_json::to_string(&ids).map(Some)
}
