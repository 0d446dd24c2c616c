//! MDE roles (Settings > Endpoints > Roles) and the user groups they are assigned to.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The permission options of an MDE role (user-roles.md, mde-api.md §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolePermission {
    /// Security operations data: what every read of the API needs.
    ViewData,
    /// Response actions, pending remediation, indicators.
    ActiveRemediation,
    SecurityBaselines,
    /// Manage alerts, run scans, manage device tags: alert and machine updates.
    AlertsInvestigation,
    /// Roles, device groups, global settings: the built-in administrator role only.
    ManagePortalSettings,
    /// Onboarding, suppression, indicators; the API pages name it for tags and device value.
    ManageSecuritySettings,
    LiveResponseBasic,
    LiveResponseAdvanced,
}

impl RolePermission {
    pub const ALL: [RolePermission; 8] = [
        RolePermission::ViewData,
        RolePermission::ActiveRemediation,
        RolePermission::SecurityBaselines,
        RolePermission::AlertsInvestigation,
        RolePermission::ManagePortalSettings,
        RolePermission::ManageSecuritySettings,
        RolePermission::LiveResponseBasic,
        RolePermission::LiveResponseAdvanced,
    ];

    /// The name the Defender portal shows.
    pub fn display_name(self) -> &'static str {
        match self {
            RolePermission::ViewData => "View data",
            RolePermission::ActiveRemediation => "Active remediation actions",
            RolePermission::SecurityBaselines => "Security baselines",
            RolePermission::AlertsInvestigation => "Alerts investigation",
            RolePermission::ManagePortalSettings => "Manage portal system settings",
            RolePermission::ManageSecuritySettings => "Manage security settings in Security Center",
            RolePermission::LiveResponseBasic => "Live response capabilities (basic)",
            RolePermission::LiveResponseAdvanced => "Live response capabilities (advanced)",
        }
    }

    /// The kebab-case name used on the command line and in JSON (`view-data`).
    pub fn name(self) -> &'static str {
        match self {
            RolePermission::ViewData => "view-data",
            RolePermission::ActiveRemediation => "active-remediation",
            RolePermission::SecurityBaselines => "security-baselines",
            RolePermission::AlertsInvestigation => "alerts-investigation",
            RolePermission::ManagePortalSettings => "manage-portal-settings",
            RolePermission::ManageSecuritySettings => "manage-security-settings",
            RolePermission::LiveResponseBasic => "live-response-basic",
            RolePermission::LiveResponseAdvanced => "live-response-advanced",
        }
    }

    /// By its kebab-case or its display name, ignoring case.
    pub fn parse(text: &str) -> Result<RolePermission, String> {
        let text = text.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text) || p.display_name().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|p| p.name()).collect();
                format!("unknown role permission '{text}'; known: {}", known.join(", "))
            })
    }
}

/// The built-in role every tenant has; it cannot be changed or deleted.
pub const ADMINISTRATOR_ROLE: &str = "Microsoft Defender for Endpoint Administrator (default)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: BTreeSet<RolePermission>,
    /// Ids of the user groups the role is assigned to.
    pub user_groups: Vec<String>,
    /// The administrator role: every permission, and every device whatever its group.
    pub built_in: bool,
}

impl Role {
    /// A custom role with no permissions and no user groups yet.
    pub fn new(id: &str, name: &str) -> Role {
        Role {
            id: id.into(),
            name: name.into(),
            description: None,
            permissions: BTreeSet::new(),
            user_groups: Vec::new(),
            built_in: false,
        }
    }

    pub fn administrator(id: &str) -> Role {
        Role {
            permissions: RolePermission::ALL.into_iter().collect(),
            built_in: true,
            description: Some("Full access, to every device whatever its group".into()),
            ..Role::new(id, ADMINISTRATOR_ROLE)
        }
    }
}

/// A user group (an Entra security group): what roles and device groups are assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserGroup {
    pub id: String,
    pub display_name: String,
    /// Object ids of the member users.
    pub members: Vec<String>,
}
