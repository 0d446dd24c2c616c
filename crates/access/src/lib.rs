//! Who may see and do what through delegated (user) tokens, as MDE's role-based access has it
//! (mde-api.md §3). Storage-free: the store keeps these values, the server enforces them.
//!
//! - [`role`]: the permission options of an MDE role, roles, and the user groups they are
//!   assigned to.
//! - [`device_group`]: device groups with ranked rules (device name, domain, tag, OS) putting
//!   every machine into exactly one group, unmatched ones into "Ungrouped devices (default)".
//! - [`Access`]: what one user may do and which device groups they reach, from their groups.
//!
//! Application tokens are tenant-wide and never pass through here.

pub mod device_group;
pub mod role;

use std::collections::BTreeSet;

pub use device_group::{
    AutomationLevel, DeviceGroup, DeviceGroupRules, GroupAssignment, ListCondition, MachineFacts, Operator,
    PropertyCondition, RuleError, UNGROUPED_ID, UNGROUPED_NAME,
};
pub use role::{ADMINISTRATOR_ROLE, Role, RolePermission, UserGroup};

/// A tenant's roles and device groups: what [`Access`] is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub roles: Vec<Role>,
    /// Ranked, the Ungrouped group last.
    pub device_groups: Vec<DeviceGroup>,
}

/// The device groups a user reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceReach {
    /// The built-in administrator role: every device, whatever its group.
    All,
    /// These groups (their ids and the `rbacGroupName` their machines carry).
    Groups(Vec<GroupAssignment>),
}

/// What one user may do: the union of their roles' permissions, and the devices they reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub permissions: BTreeSet<RolePermission>,
    pub devices: DeviceReach,
}

impl Access {
    /// The access of a member of `user_groups` (group ids). A device group with no user
    /// groups assigned is open to every user with a role.
    pub fn of(policy: &Policy, user_groups: &[String]) -> Access {
        let member = |groups: &[String]| groups.iter().any(|g| user_groups.contains(g));
        let roles: Vec<&Role> = policy.roles.iter().filter(|r| member(&r.user_groups)).collect();
        let permissions = roles.iter().flat_map(|r| r.permissions.iter().copied()).collect();
        let devices = if roles.iter().any(|r| r.built_in) {
            DeviceReach::All
        } else {
            DeviceReach::Groups(
                policy
                    .device_groups
                    .iter()
                    .filter(|g| g.user_groups.is_empty() || member(&g.user_groups))
                    .map(DeviceGroup::assignment)
                    .collect(),
            )
        };
        Access { permissions, devices }
    }

    pub fn may(&self, permission: RolePermission) -> bool {
        self.permissions.contains(&permission)
    }

    /// Whether a machine of device group `group_id` is within reach.
    pub fn reaches(&self, group_id: i64) -> bool {
        match &self.devices {
            DeviceReach::All => true,
            DeviceReach::Groups(groups) => groups.iter().any(|g| g.id == group_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: i64, priority: i64, tag: &str, user_groups: &[&str]) -> DeviceGroup {
        DeviceGroup {
            rules: DeviceGroupRules {
                tags: vec![PropertyCondition {
                    condition: Operator::Equals,
                    value: tag.into(),
                }],
                ..DeviceGroupRules::default()
            },
            user_groups: user_groups.iter().map(|g| g.to_string()).collect(),
            ..DeviceGroup::new(id, priority, &format!("group {id}"))
        }
    }

    fn policy() -> Policy {
        let reader = Role {
            permissions: [RolePermission::ViewData].into(),
            user_groups: vec!["tier1".into()],
            ..Role::new("r1", "Tier 1")
        };
        let admin = Role {
            user_groups: vec!["admins".into()],
            ..Role::administrator("r0")
        };
        let mut ungrouped = DeviceGroup::ungrouped(3);
        ungrouped.user_groups = vec!["admins".into()];
        Policy {
            roles: vec![admin, reader],
            device_groups: vec![group(1, 1, "web", &["tier1"]), group(2, 2, "lab", &[]), ungrouped],
        }
    }

    #[test]
    fn a_user_reaches_assigned_and_open_groups_and_the_administrator_everything() {
        let tier1 = Access::of(&policy(), &["tier1".into()]);
        assert!(tier1.may(RolePermission::ViewData));
        assert!(!tier1.may(RolePermission::AlertsInvestigation));
        assert!(tier1.reaches(1) && tier1.reaches(2));
        assert!(
            !tier1.reaches(UNGROUPED_ID),
            "the Ungrouped group is assigned to admins only"
        );

        let admin = Access::of(&policy(), &["admins".into()]);
        assert_eq!(admin.devices, DeviceReach::All);
        assert!(RolePermission::ALL.iter().all(|p| admin.may(*p)));

        let nobody = Access::of(&policy(), &[]);
        assert!(nobody.permissions.is_empty());
        assert!(!nobody.reaches(1) && nobody.reaches(2));
    }
}
