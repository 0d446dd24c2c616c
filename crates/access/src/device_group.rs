//! Device groups (machine-groups.md, mde-api.md §3.3) and the rules that fill them.
//!
//! A rule holds conditions on four properties of a machine: its device name (the first label of
//! `computerDnsName`), its domain (the rest), its tags and its OS platform. Conditions on one
//! property are OR'ed, the properties present are AND'ed, text is compared ignoring case. Groups
//! are ranked (priority 1 is the highest); a machine joins the highest-ranked group whose rule it
//! matches, or "Ungrouped devices (default)", which is always last.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The Ungrouped group's id: what `rbacGroupId` of its machines reads (the live capture shows
/// `rbacGroupId: 0, rbacGroupName: null` on a tenant without named groups).
pub const UNGROUPED_ID: i64 = 0;
pub const UNGROUPED_NAME: &str = "Ungrouped devices (default)";
/// MDE allows up to 10 values per property type.
pub const MAX_VALUES_PER_PROPERTY: usize = 10;

/// EDMX `OperatorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    StartsWith,
    EndsWith,
    Equals,
    Contains,
    In,
}

/// EDMX `AutomationLevelEnum`: the remediation level of a group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutomationLevel {
    NoAutomatedResponse,
    SemiRequireApprovalForAllFolders,
    SemiRequireApprovalForNonTempFolders,
    SemiRequireApprovalForCoreFolders,
    #[default]
    FullRemediateThreatsAutomatically,
}

/// EDMX `DeviceGroupPropertyCondition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyCondition {
    pub condition: Operator,
    pub value: String,
}

/// EDMX `DeviceGroupListPropertyCondition` (OS platforms: `In`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListCondition {
    pub condition: Operator,
    pub values_list: Vec<String>,
}

/// EDMX `DeviceGroupRules`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceGroupRules {
    #[serde(rename = "devicesNamesConditions", default)]
    pub names: Vec<PropertyCondition>,
    #[serde(rename = "devicesDomainsConditions", default)]
    pub domains: Vec<PropertyCondition>,
    #[serde(rename = "devicesTagsConditions", default)]
    pub tags: Vec<PropertyCondition>,
    #[serde(rename = "devicesOsConditions", default)]
    pub os: Vec<ListCondition>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("a device group needs at least one condition (name, domain, tag or OS)")]
    Empty,
    #[error("{property}: at most {MAX_VALUES_PER_PROPERTY} values, not {count}")]
    TooManyValues { property: &'static str, count: usize },
    #[error("{property}: the operator {operator:?} does not apply; use {allowed}")]
    Operator {
        property: &'static str,
        operator: Operator,
        allowed: &'static str,
    },
    #[error("{property}: an empty value matches nothing")]
    EmptyValue { property: &'static str },
}

/// What a rule looks at in a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineFacts<'a> {
    pub name: &'a str,
    pub domain: &'a str,
    pub tags: Vec<&'a str>,
    pub os_platform: &'a str,
}

impl<'a> MachineFacts<'a> {
    /// From a machine document: `computerDnsName`, `machineTags`, `osPlatform`.
    pub fn of(machine: &'a Map<String, Value>) -> MachineFacts<'a> {
        let text = |name: &str| machine.get(name).and_then(Value::as_str).unwrap_or("");
        let dns_name = text("computerDnsName");
        let (name, domain) = dns_name.split_once('.').unwrap_or((dns_name, ""));
        let tags = machine
            .get("machineTags")
            .and_then(Value::as_array)
            .map(|tags| tags.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        MachineFacts {
            name,
            domain,
            tags,
            os_platform: text("osPlatform"),
        }
    }
}

fn matches_text(operator: Operator, value: &str, wanted: &str) -> bool {
    let (value, wanted) = (value.to_lowercase(), wanted.to_lowercase());
    match operator {
        Operator::StartsWith => value.starts_with(&wanted),
        Operator::EndsWith => value.ends_with(&wanted),
        Operator::Contains => value.contains(&wanted),
        Operator::Equals | Operator::In => value == wanted,
    }
}

/// True when there are no conditions, or one matches.
fn any_matches(conditions: &[PropertyCondition], values: &[&str]) -> bool {
    conditions.is_empty()
        || conditions
            .iter()
            .any(|c| values.iter().any(|v| matches_text(c.condition, v, &c.value)))
}

impl DeviceGroupRules {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.domains.is_empty() && self.tags.is_empty() && self.os.is_empty()
    }

    pub fn matches(&self, machine: &MachineFacts<'_>) -> bool {
        !self.is_empty()
            && any_matches(&self.names, &[machine.name])
            && any_matches(&self.domains, &[machine.domain])
            && any_matches(&self.tags, &machine.tags)
            && (self.os.is_empty()
                || self.os.iter().any(|c| {
                    c.values_list
                        .iter()
                        .any(|os| os.eq_ignore_ascii_case(machine.os_platform))
                }))
    }

    /// MDE's limits: at least one condition, at most 10 values per property, text operators on
    /// text properties and `In` on OS platforms, no empty values.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.is_empty() {
            return Err(RuleError::Empty);
        }
        let text_properties = [
            ("devicesNamesConditions", &self.names),
            ("devicesDomainsConditions", &self.domains),
            ("devicesTagsConditions", &self.tags),
        ];
        for (property, conditions) in text_properties {
            if conditions.len() > MAX_VALUES_PER_PROPERTY {
                return Err(RuleError::TooManyValues {
                    property,
                    count: conditions.len(),
                });
            }
            if let Some(c) = conditions.iter().find(|c| c.condition == Operator::In) {
                return Err(RuleError::Operator {
                    property,
                    operator: c.condition,
                    allowed: "StartsWith, EndsWith, Equals or Contains",
                });
            }
            if conditions.iter().any(|c| c.value.trim().is_empty()) {
                return Err(RuleError::EmptyValue { property });
            }
        }
        let property = "devicesOsConditions";
        if let Some(c) = self.os.iter().find(|c| c.condition != Operator::In) {
            return Err(RuleError::Operator {
                property,
                operator: c.condition,
                allowed: "In",
            });
        }
        let os_values: usize = self.os.iter().map(|c| c.values_list.len()).sum();
        if os_values > MAX_VALUES_PER_PROPERTY {
            return Err(RuleError::TooManyValues {
                property,
                count: os_values,
            });
        }
        if self
            .os
            .iter()
            .any(|c| c.values_list.iter().all(|v| v.trim().is_empty()))
        {
            return Err(RuleError::EmptyValue { property });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceGroup {
    pub id: i64,
    /// The rank: 1 is the highest; the Ungrouped group is always last.
    pub priority: i64,
    pub name: String,
    pub description: Option<String>,
    pub automation_level: AutomationLevel,
    pub rules: DeviceGroupRules,
    /// Ids of the user groups with access; none means every user.
    pub user_groups: Vec<String>,
}

/// The group a machine is in, as its `rbacGroupId` and `rbacGroupName` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAssignment {
    pub id: i64,
    /// `None` for the Ungrouped group, as MDE shows it.
    pub name: Option<String>,
}

impl DeviceGroup {
    pub fn new(id: i64, priority: i64, name: &str) -> DeviceGroup {
        DeviceGroup {
            id,
            priority,
            name: name.into(),
            description: None,
            automation_level: AutomationLevel::default(),
            rules: DeviceGroupRules::default(),
            user_groups: Vec::new(),
        }
    }

    pub fn ungrouped(priority: i64) -> DeviceGroup {
        DeviceGroup::new(UNGROUPED_ID, priority, UNGROUPED_NAME)
    }

    pub fn is_ungrouped(&self) -> bool {
        self.id == UNGROUPED_ID
    }

    pub fn assignment(&self) -> GroupAssignment {
        GroupAssignment {
            id: self.id,
            name: (!self.is_ungrouped()).then(|| self.name.clone()),
        }
    }

    /// The group of a machine among `ranked` groups (sorted by priority): the first whose rule
    /// matches, else the Ungrouped group.
    pub fn assign(ranked: &[DeviceGroup], machine: &Map<String, Value>) -> GroupAssignment {
        let facts = MachineFacts::of(machine);
        ranked
            .iter()
            .find(|g| !g.is_ungrouped() && g.rules.matches(&facts))
            .map_or(
                GroupAssignment {
                    id: UNGROUPED_ID,
                    name: None,
                },
                DeviceGroup::assignment,
            )
    }

    /// Writes the assignment into a machine document; true if it changed.
    pub fn stamp(machine: &mut Map<String, Value>, assignment: &GroupAssignment) -> bool {
        let id = Value::from(assignment.id);
        let name = assignment.name.clone().map_or(Value::Null, Value::String);
        let changed = machine.get("rbacGroupId") != Some(&id) || machine.get("rbacGroupName") != Some(&name);
        if changed {
            machine.insert("rbacGroupId".into(), id);
            machine.insert("rbacGroupName".into(), name);
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn machine(dns_name: &str, tags: &[&str], os: &str) -> Map<String, Value> {
        match json!({"computerDnsName": dns_name, "machineTags": tags, "osPlatform": os}) {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn text(condition: Operator, value: &str) -> PropertyCondition {
        PropertyCondition {
            condition,
            value: value.into(),
        }
    }

    fn ranked() -> Vec<DeviceGroup> {
        let servers = DeviceGroup {
            rules: DeviceGroupRules {
                os: vec![ListCondition {
                    condition: Operator::In,
                    values_list: vec!["WindowsServer2019".into(), "Linux".into()],
                }],
                ..DeviceGroupRules::default()
            },
            ..DeviceGroup::new(7, 2, "Servers")
        };
        let finance_web = DeviceGroup {
            rules: DeviceGroupRules {
                names: vec![text(Operator::StartsWith, "web"), text(Operator::EndsWith, "-fin")],
                domains: vec![text(Operator::Equals, "corp.contoso.com")],
                ..DeviceGroupRules::default()
            },
            ..DeviceGroup::new(3, 1, "Finance web")
        };
        let vip = DeviceGroup {
            rules: DeviceGroupRules {
                tags: vec![text(Operator::Contains, "vip")],
                ..DeviceGroupRules::default()
            },
            ..DeviceGroup::new(9, 3, "VIP")
        };
        vec![finance_web, servers, vip, DeviceGroup::ungrouped(4)]
    }

    fn group_of(dns_name: &str, tags: &[&str], os: &str) -> GroupAssignment {
        DeviceGroup::assign(&ranked(), &machine(dns_name, tags, os))
    }

    #[test]
    fn each_machine_joins_the_highest_ranked_matching_group() {
        // Names OR'ed, AND'ed with the domain; case ignored.
        assert_eq!(group_of("WEB01.corp.contoso.com", &[], "Windows10").id, 3);
        assert_eq!(group_of("pay-fin.corp.contoso.com", &[], "Windows10").id, 3);
        assert_eq!(group_of("web01.lab.contoso.com", &[], "Windows10").id, UNGROUPED_ID);
        // A server matching rank 1 and 2 joins rank 1; otherwise rank 2.
        assert_eq!(group_of("web02.corp.contoso.com", &["VIP-user"], "Linux").id, 3);
        assert_eq!(group_of("db01.corp.contoso.com", &["vip"], "linux").id, 7);
        // Tags: any tag matching.
        assert_eq!(group_of("pc1", &["x", "Team-VIP"], "Windows11").id, 9);
        let none = group_of("pc1", &["x"], "Windows11");
        assert_eq!(none, GroupAssignment { id: 0, name: None });
        assert_eq!(group_of("db01", &[], "Linux").name.as_deref(), Some("Servers"));
    }

    #[test]
    fn stamping_writes_the_group_into_the_document_once() {
        let mut doc = machine("web01.corp.contoso.com", &[], "Windows10");
        let assignment = DeviceGroup::assign(&ranked(), &doc);
        assert!(DeviceGroup::stamp(&mut doc, &assignment));
        assert_eq!(doc["rbacGroupId"], json!(3));
        assert_eq!(doc["rbacGroupName"], json!("Finance web"));
        assert!(!DeviceGroup::stamp(&mut doc, &assignment));
    }

    #[test]
    fn rules_are_checked_against_mde_limits() {
        assert_eq!(DeviceGroupRules::default().validate(), Err(RuleError::Empty));
        let too_many = DeviceGroupRules {
            tags: (0..11).map(|i| text(Operator::Equals, &format!("t{i}"))).collect(),
            ..DeviceGroupRules::default()
        };
        assert!(matches!(
            too_many.validate(),
            Err(RuleError::TooManyValues { count: 11, .. })
        ));
        let in_on_names = DeviceGroupRules {
            names: vec![text(Operator::In, "a")],
            ..DeviceGroupRules::default()
        };
        assert!(matches!(in_on_names.validate(), Err(RuleError::Operator { .. })));
        let empty_value = DeviceGroupRules {
            domains: vec![text(Operator::Equals, " ")],
            ..DeviceGroupRules::default()
        };
        assert!(matches!(empty_value.validate(), Err(RuleError::EmptyValue { .. })));
        for group in ranked().iter().filter(|g| !g.is_ungrouped()) {
            assert_eq!(group.rules.validate(), Ok(()), "{}", group.name);
        }
    }

    #[test]
    fn rules_read_and_write_the_edmx_shape() {
        let rules: DeviceGroupRules = serde_json::from_value(json!({
            "devicesNamesConditions": [{"condition": "StartsWith", "value": "web"}],
            "devicesOsConditions": [{"condition": "In", "valuesList": ["Linux"]}]
        }))
        .unwrap();
        assert_eq!(rules.names, vec![text(Operator::StartsWith, "web")]);
        let written = serde_json::to_value(&rules).unwrap();
        assert_eq!(written["devicesTagsConditions"], json!([]));
        assert_eq!(written["devicesOsConditions"][0]["valuesList"], json!(["Linux"]));
        assert!(serde_json::from_value::<DeviceGroupRules>(json!({"devicesNames": []})).is_err());
    }
}
