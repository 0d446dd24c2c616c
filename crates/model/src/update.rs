//! Updates to an alert, as `PATCH /api/alerts/{id}` takes them (the EDMX's
//! `UpdateAlertRequest`): body names are case-sensitive, values are checked against the enums.

use serde_json::{Map, Value, json};

use crate::schema::{ALERT_CLASSIFICATION, ALERT_DETERMINATION, DEVICE_VALUE};
use crate::timestamp::Timestamp;

/// Why a body was refused, in MDE's two codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body's shape is wrong: not an object, an unknown or miscased name, a wrong type.
    #[error("{0}")]
    InvalidRequestBody(String),
    /// A value outside what the property takes.
    #[error("{0}")]
    InvalidInput(String),
    /// A required parameter is absent.
    #[error("{0}")]
    MissingRequiredParameter(String),
    /// More items than one call may carry.
    #[error("{0}")]
    MaximumBatchSizeExceeded(String),
}

/// Machines one `AddOrRemoveTagForMultipleMachines` may change, as MDE documents.
pub const MAX_BATCH_MACHINES: usize = 500;

/// Alerts one `batchUpdate` may change.
pub const MAX_BATCH_ALERTS: usize = 1_000;

/// The statuses an update may set; the other `AlertStatus` members are the service's own.
const SETTABLE_STATUSES: [&str; 3] = ["New", "InProgress", "Resolved"];

/// Determination names MDE's pages use that are not EDMX members, and the members they mean.
const DETERMINATION_ALIASES: [(&str, &str); 4] = [
    ("CompromisedUser", "CompromisedAccount"),
    ("ConfirmedUserActivity", "ConfirmedActivity"),
    ("Clean", "NotMalicious"),
    ("InsufficientData", "NoEnoughDataToValidate"),
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertUpdate {
    pub status: Option<&'static str>,
    /// `Some(None)` clears the assignment.
    pub assigned_to: Option<Option<String>>,
    pub classification: Option<&'static str>,
    pub determination: Option<&'static str>,
    pub comment: Option<String>,
}

fn text<'a>(name: &str, value: &'a Value) -> Result<&'a str, BodyError> {
    value
        .as_str()
        .ok_or_else(|| BodyError::InvalidRequestBody(format!("'{name}' must be a string")))
}

fn member(name: &str, value: &str, members: &[&'static str]) -> Result<&'static str, BodyError> {
    members
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            BodyError::InvalidInput(format!(
                "Invalid input {value} for '{name}'; expected one of {}",
                members.join(", ")
            ))
        })
}

impl AlertUpdate {
    pub fn from_body(body: &Value) -> Result<Self, BodyError> {
        let Value::Object(fields) = body else {
            return Err(BodyError::InvalidRequestBody(
                "Request body is incorrect: expected a JSON object".into(),
            ));
        };
        let mut update = AlertUpdate::default();
        for (name, value) in fields {
            match name.as_str() {
                "status" => update.status = Some(member(name, text(name, value)?, &SETTABLE_STATUSES)?),
                "assignedTo" => {
                    update.assigned_to = Some(if value.is_null() {
                        None
                    } else {
                        Some(text(name, value)?.to_string())
                    })
                }
                "classification" => {
                    let members: Vec<&'static str> = ALERT_CLASSIFICATION.members.iter().map(|(m, _)| *m).collect();
                    update.classification = Some(member(name, text(name, value)?, &members)?);
                }
                "determination" => {
                    let given = text(name, value)?;
                    let given = DETERMINATION_ALIASES
                        .iter()
                        .find(|(alias, _)| alias.eq_ignore_ascii_case(given))
                        .map_or(given, |(_, m)| m);
                    let members: Vec<&'static str> = ALERT_DETERMINATION.members.iter().map(|(m, _)| *m).collect();
                    update.determination = Some(member(name, given, &members)?);
                }
                "comment" => update.comment = Some(text(name, value)?.to_string()),
                other => {
                    return Err(BodyError::InvalidRequestBody(format!(
                        "Request body is incorrect: unknown property '{other}' (names are case-sensitive: status, assignedTo, classification, determination, comment)"
                    )));
                }
            }
        }
        Ok(update)
    }

    /// `POST /api/alerts/batchUpdate`: `alertIds` (required) and the fields of an update.
    pub fn from_batch_body(body: &Value) -> Result<(Vec<String>, Self), BodyError> {
        let mut fields = body
            .as_object()
            .cloned()
            .ok_or_else(|| BodyError::InvalidRequestBody("Request body is incorrect: expected a JSON object".into()))?;
        let ids = match fields.remove("alertIds") {
            None | Some(Value::Null) => {
                return Err(BodyError::MissingRequiredParameter(
                    "Parameter alertIds is missing".into(),
                ));
            }
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|id| text("alertIds", id).map(str::to_string))
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(BodyError::InvalidRequestBody(
                    "'alertIds' must be an array of strings".into(),
                ));
            }
        };
        if ids.len() > MAX_BATCH_ALERTS {
            return Err(BodyError::MaximumBatchSizeExceeded(format!(
                "Maximum batch size exceeded. Received: {}, allowed: {MAX_BATCH_ALERTS}",
                ids.len()
            )));
        }
        Ok((ids, Self::from_body(&Value::Object(fields))?))
    }

    /// Applies the update to a canonical alert at `now`; `author` signs the comment.
    pub fn apply(&self, alert: &mut Map<String, Value>, now: Timestamp, author: &str) {
        let stamp = Value::String(now.to_string());
        if let Some(status) = self.status {
            let was_resolved = alert.get("status").and_then(Value::as_str) == Some("Resolved");
            alert.insert("status".into(), status.into());
            match (was_resolved, status == "Resolved") {
                (false, true) => {
                    alert.insert("resolvedTime".into(), stamp.clone());
                }
                (true, false) => {
                    alert.insert("resolvedTime".into(), Value::Null);
                }
                _ => {}
            }
        }
        if let Some(assigned_to) = &self.assigned_to {
            alert.insert(
                "assignedTo".into(),
                assigned_to.clone().map_or(Value::Null, Value::String),
            );
        }
        if let Some(classification) = self.classification {
            alert.insert("classification".into(), classification.into());
        }
        if let Some(determination) = self.determination {
            alert.insert("determination".into(), determination.into());
        }
        if let Some(comment) = &self.comment {
            let entry = json!({"comment": comment, "createdBy": author, "createdTime": stamp});
            match alert.get_mut("comments") {
                Some(Value::Array(comments)) => comments.push(entry),
                _ => {
                    alert.insert("comments".into(), Value::Array(vec![entry]));
                }
            }
        }
        alert.insert("lastUpdateTime".into(), stamp);
    }
}

/// Categories `CreateAlertByReference` takes.
pub const ALERT_CATEGORIES: [&str; 16] = [
    "General",
    "CommandAndControl",
    "Collection",
    "CredentialAccess",
    "DefenseEvasion",
    "Discovery",
    "Exfiltration",
    "Exploit",
    "Execution",
    "InitialAccess",
    "LateralMovement",
    "Malware",
    "Persistence",
    "PrivilegeEscalation",
    "Ransomware",
    "SuspiciousActivity",
];

/// `POST /api/alerts/CreateAlertByReference`: an alert on top of an event of a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertReference {
    pub machine_id: String,
    pub severity: &'static str,
    pub title: String,
    pub description: String,
    pub recommended_action: String,
    pub event_time: Timestamp,
    pub report_id: String,
    pub category: Option<&'static str>,
}

impl AlertReference {
    pub fn from_body(body: &Value) -> Result<Self, BodyError> {
        let fields = object(body)?;
        let names = [
            "machineId",
            "severity",
            "title",
            "description",
            "recommendedAction",
            "eventTime",
            "reportId",
            "category",
        ];
        only(fields, &names)?;
        let string = |name: &str| -> Result<String, BodyError> { Ok(text(name, required(fields, name)?)?.to_string()) };
        let event_time = string("eventTime")?;
        Ok(AlertReference {
            machine_id: string("machineId")?,
            severity: member(
                "severity",
                &string("severity")?,
                &["Informational", "Low", "Medium", "High"],
            )?,
            title: string("title")?,
            description: string("description")?,
            recommended_action: string("recommendedAction")?,
            event_time: Timestamp::parse(&event_time)
                .map_err(|e| BodyError::InvalidInput(format!("Invalid input {event_time} for 'eventTime': {e}")))?,
            report_id: string("reportId")?,
            category: match fields.get("category").filter(|v| !v.is_null()) {
                Some(value) => Some(member("category", text("category", value)?, &ALERT_CATEGORIES)?),
                None => None,
            },
        })
    }

    /// The new alert, raised at `now` on `machine` of tenant `tenant_id`, with id `id`.
    pub fn alert(&self, id: &str, machine: &Map<String, Value>, tenant_id: &str, now: Timestamp) -> Map<String, Value> {
        let stamp = now.to_string();
        let event = self.event_time.to_string();
        let value = json!({
            "id": id, "severity": self.severity, "status": "New", "investigationState": "Queued",
            "detectionSource": "CustomDetection", "category": self.category.unwrap_or("General"),
            "title": self.title, "description": self.description,
            "alertCreationTime": stamp, "firstEventTime": event, "lastEventTime": event, "lastUpdateTime": stamp,
            "machineId": self.machine_id, "computerDnsName": machine.get("computerDnsName"),
            "rbacGroupName": machine.get("rbacGroupName"), "aadTenantId": tenant_id,
            "mitreTechniques": [], "loggedOnUsers": [], "comments": [], "evidence": [], "domains": [],
        });
        let fields = value.as_object().cloned().unwrap_or_default();
        crate::canonical::canonicalize(&crate::schema::ALERT, fields.clone()).unwrap_or(fields)
    }
}

/// An update with when and by whom it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAlertUpdate {
    pub update: AlertUpdate,
    pub at: Timestamp,
    pub author: String,
}

impl SignedAlertUpdate {
    pub fn apply(&self, alert: &mut Map<String, Value>) {
        self.update.apply(alert, self.at, &self.author);
    }
}

/// How a machine's tags change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    Add(String),
    Remove(String),
    /// The full set (`PATCH /api/machines/{id}`: the sent list becomes the tags).
    Replace(Vec<String>),
}

/// Updates to a machine: its tags and its device value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineUpdate {
    pub tags: Option<TagChange>,
    pub device_value: Option<&'static str>,
}

fn object(body: &Value) -> Result<&Map<String, Value>, BodyError> {
    body.as_object()
        .ok_or_else(|| BodyError::InvalidRequestBody("Request body is incorrect: expected a JSON object".into()))
}

/// Refuses names outside `allowed` (case-sensitive), naming the first.
fn only(fields: &Map<String, Value>, allowed: &[&str]) -> Result<(), BodyError> {
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(other) => Err(BodyError::InvalidRequestBody(format!(
            "Request body is incorrect: unknown property '{other}' (names are case-sensitive: {})",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

fn required<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a Value, BodyError> {
    fields
        .get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| BodyError::MissingRequiredParameter(format!("Parameter {name} is missing")))
}

fn device_value(name: &str, value: &Value) -> Result<&'static str, BodyError> {
    let members: Vec<&'static str> = DEVICE_VALUE.members.iter().map(|(m, _)| *m).collect();
    member(name, text(name, value)?, &members)
}

impl MachineUpdate {
    /// `POST /api/machines/{id}/tags`: `{"Value": "...", "Action": "Add" | "Remove"}`.
    pub fn from_tags_body(body: &Value) -> Result<Self, BodyError> {
        let fields = object(body)?;
        only(fields, &["Value", "Action"])?;
        let tag = text("Value", required(fields, "Value")?)?.to_string();
        let tags = match member(
            "Action",
            text("Action", required(fields, "Action")?)?,
            &["Add", "Remove"],
        )? {
            "Add" => TagChange::Add(tag),
            _ => TagChange::Remove(tag),
        };
        Ok(MachineUpdate {
            tags: Some(tags),
            device_value: None,
        })
    }

    /// `POST /api/machines/AddOrRemoveTagForMultipleMachines`: the tags body and `MachineIds`.
    pub fn from_multiple_tags_body(body: &Value) -> Result<(Vec<String>, Self), BodyError> {
        let fields = object(body)?;
        only(fields, &["Value", "Action", "MachineIds"])?;
        let ids = match required(fields, "MachineIds")? {
            Value::Array(ids) => ids
                .iter()
                .map(|id| text("MachineIds", id).map(str::to_string))
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(BodyError::InvalidRequestBody(
                    "'MachineIds' must be an array of strings".into(),
                ));
            }
        };
        if ids.len() > MAX_BATCH_MACHINES {
            return Err(BodyError::MaximumBatchSizeExceeded(format!(
                "Maximum batch size exceeded. Received: {}, allowed: {MAX_BATCH_MACHINES}",
                ids.len()
            )));
        }
        let mut tags_only = fields.clone();
        tags_only.remove("MachineIds");
        Ok((ids, Self::from_tags_body(&Value::Object(tags_only))?))
    }

    /// `POST /api/machines/{id}/setDeviceValue`: `{"DeviceValue": "Normal" | "Low" | "High"}`.
    pub fn from_device_value_body(body: &Value) -> Result<Self, BodyError> {
        let fields = object(body)?;
        only(fields, &["DeviceValue"])?;
        Ok(MachineUpdate {
            tags: None,
            device_value: Some(device_value("DeviceValue", required(fields, "DeviceValue")?)?),
        })
    }

    /// `PATCH /api/machines/{id}`: `{"machineTags": [...], "deviceValue": "..."}`, both optional.
    pub fn from_patch_body(body: &Value) -> Result<Self, BodyError> {
        let fields = object(body)?;
        only(fields, &["machineTags", "deviceValue"])?;
        let tags = match fields.get("machineTags") {
            None => None,
            Some(Value::Array(items)) => Some(TagChange::Replace(
                items
                    .iter()
                    .map(|t| text("machineTags", t).map(str::to_string))
                    .collect::<Result<_, _>>()?,
            )),
            Some(_) => {
                return Err(BodyError::InvalidRequestBody(
                    "'machineTags' must be an array of strings".into(),
                ));
            }
        };
        let device_value = fields
            .get("deviceValue")
            .map(|v| device_value("deviceValue", v))
            .transpose()?;
        Ok(MachineUpdate { tags, device_value })
    }

    /// Applies the update to a canonical machine.
    pub fn apply(&self, machine: &mut Map<String, Value>) {
        if let Some(change) = &self.tags {
            let mut tags: Vec<String> = machine
                .get("machineTags")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            match change {
                TagChange::Add(tag) if !tags.contains(tag) => tags.push(tag.clone()),
                TagChange::Add(_) => {}
                TagChange::Remove(tag) => tags.retain(|t| t != tag),
                TagChange::Replace(all) => tags = all.clone(),
            }
            machine.insert("machineTags".into(), json!(tags));
        }
        if let Some(value) = self.device_value {
            machine.insert("deviceValue".into(), value.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_by_name_type_and_value() {
        let ok = AlertUpdate::from_body(&json!({"status": "resolved", "determination": "Clean", "assignedTo": null}))
            .unwrap();
        assert_eq!(
            (ok.status, ok.determination, ok.assigned_to),
            (Some("Resolved"), Some("NotMalicious"), Some(None))
        );
        let refused = |body: Value| AlertUpdate::from_body(&body).unwrap_err();
        assert!(
            matches!(refused(json!({"Status": "New"})), BodyError::InvalidRequestBody(m) if m.contains("'Status'"))
        );
        assert!(
            matches!(refused(json!({"status": 4})), BodyError::InvalidRequestBody(m) if m.contains("'status' must be a string"))
        );
        assert!(
            matches!(refused(json!({"status": "Hidden"})), BodyError::InvalidInput(m) if m.contains("Invalid input Hidden for 'status'"))
        );
        assert!(matches!(
            refused(json!({"classification": "Maybe"})),
            BodyError::InvalidInput(_)
        ));
        assert!(matches!(refused(json!([])), BodyError::InvalidRequestBody(_)));
    }

    #[test]
    fn machine_bodies_and_tag_changes() {
        let mut machine = json!({"machineTags": ["A"], "deviceValue": "Normal"})
            .as_object()
            .unwrap()
            .clone();
        MachineUpdate::from_tags_body(&json!({"Value": "B", "Action": "add"}))
            .unwrap()
            .apply(&mut machine);
        MachineUpdate::from_tags_body(&json!({"Value": "B", "Action": "Add"}))
            .unwrap()
            .apply(&mut machine);
        assert_eq!(machine["machineTags"], json!(["A", "B"]));
        MachineUpdate::from_tags_body(&json!({"Value": "A", "Action": "Remove"}))
            .unwrap()
            .apply(&mut machine);
        MachineUpdate::from_device_value_body(&json!({"DeviceValue": "high"}))
            .unwrap()
            .apply(&mut machine);
        assert_eq!(
            (machine["machineTags"].clone(), machine["deviceValue"].clone()),
            (json!(["B"]), json!("High"))
        );
        MachineUpdate::from_patch_body(&json!({"machineTags": ["X", "Y"]}))
            .unwrap()
            .apply(&mut machine);
        assert_eq!(machine["machineTags"], json!(["X", "Y"]));
        let refused = |r: Result<MachineUpdate, BodyError>| r.unwrap_err();
        assert!(
            matches!(refused(MachineUpdate::from_tags_body(&json!({"value": "x", "Action": "Add"}))), BodyError::InvalidRequestBody(m) if m.contains("'value'"))
        );
        assert!(
            matches!(refused(MachineUpdate::from_tags_body(&json!({"Value": "x"}))), BodyError::MissingRequiredParameter(m) if m == "Parameter Action is missing")
        );
        assert!(matches!(
            refused(MachineUpdate::from_tags_body(
                &json!({"Value": "x", "Action": "Toggle"})
            )),
            BodyError::InvalidInput(_)
        ));
        assert!(matches!(
            refused(MachineUpdate::from_device_value_body(
                &json!({"DeviceValue": "Critical"})
            )),
            BodyError::InvalidInput(_)
        ));
        assert!(matches!(
            refused(MachineUpdate::from_patch_body(&json!({"machineTags": "x"}))),
            BodyError::InvalidRequestBody(_)
        ));
    }

    #[test]
    fn batch_bodies_need_alert_ids() {
        let (ids, update) =
            AlertUpdate::from_batch_body(&json!({"alertIds": ["a", "b"], "status": "Resolved"})).unwrap();
        assert_eq!(
            (ids, update.status),
            (vec!["a".to_string(), "b".to_string()], Some("Resolved"))
        );
        assert!(matches!(
            AlertUpdate::from_batch_body(&json!({"status": "New"})),
            Err(BodyError::MissingRequiredParameter(_))
        ));
        let many: Vec<String> = (0..=MAX_BATCH_ALERTS).map(|i| i.to_string()).collect();
        assert!(
            matches!(AlertUpdate::from_batch_body(&json!({"alertIds": many})), Err(BodyError::MaximumBatchSizeExceeded(m)) if m.contains("Received: 1001, allowed: 1000"))
        );
    }

    #[test]
    fn alert_references_are_checked_and_become_alerts() {
        let body = json!({"machineId": "m1", "severity": "low", "title": "example", "description": "example alert",
                          "recommendedAction": "nothing", "eventTime": "2018-08-03T16:45:21.7115183Z", "reportId": "20776",
                          "category": "Exploit"});
        let reference = AlertReference::from_body(&body).unwrap();
        assert_eq!((reference.severity, reference.category), ("Low", Some("Exploit")));
        let machine = json!({"computerDnsName": "m1.contoso.com"})
            .as_object()
            .unwrap()
            .clone();
        let alert = reference.alert(
            "da1_2",
            &machine,
            "t",
            Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
        );
        assert_eq!(alert.len(), crate::schema::ALERT.properties.len());
        assert_eq!(
            (alert["firstEventTime"].as_str(), alert["computerDnsName"].as_str()),
            (Some("2018-08-03T16:45:21.7115183Z"), Some("m1.contoso.com"))
        );
        let mut missing = body.clone();
        missing.as_object_mut().unwrap().remove("reportId");
        assert!(
            matches!(AlertReference::from_body(&missing), Err(BodyError::MissingRequiredParameter(m)) if m == "Parameter reportId is missing")
        );
        let mut bad = body.clone();
        bad["eventTime"] = json!("yesterday");
        assert!(matches!(
            AlertReference::from_body(&bad),
            Err(BodyError::InvalidInput(_))
        ));
        bad = body;
        bad["category"] = json!("Pranks");
        assert!(matches!(
            AlertReference::from_body(&bad),
            Err(BodyError::InvalidInput(_))
        ));
    }

    #[test]
    fn tags_for_many_machines_are_capped_at_500() {
        let (ids, update) =
            MachineUpdate::from_multiple_tags_body(&json!({"Value": "T", "Action": "Add", "MachineIds": ["a"]}))
                .unwrap();
        assert_eq!(
            (ids, update.tags),
            (vec!["a".to_string()], Some(TagChange::Add("T".into())))
        );
        let many: Vec<String> = (0..501).map(|i| i.to_string()).collect();
        let refused =
            MachineUpdate::from_multiple_tags_body(&json!({"Value": "T", "Action": "Add", "MachineIds": many}));
        assert!(
            matches!(refused, Err(BodyError::MaximumBatchSizeExceeded(m)) if m.ends_with("Received: 501, allowed: 500"))
        );
        assert!(matches!(
            MachineUpdate::from_multiple_tags_body(&json!({"Value": "T", "Action": "Add"})),
            Err(BodyError::MissingRequiredParameter(_))
        ));
    }

    #[test]
    fn resolving_stamps_and_reopening_clears() {
        let now = Timestamp::parse("2026-12-04T10:00:00Z").unwrap();
        let mut alert = json!({"status": "New", "comments": [], "resolvedTime": null})
            .as_object()
            .unwrap()
            .clone();
        AlertUpdate {
            status: Some("Resolved"),
            comment: Some("done".into()),
            ..Default::default()
        }
        .apply(&mut alert, now, "soar");
        assert_eq!(
            (alert["resolvedTime"].as_str(), alert["lastUpdateTime"].as_str()),
            (Some("2026-12-04T10:00:00Z"), Some("2026-12-04T10:00:00Z"))
        );
        assert_eq!(
            alert["comments"],
            json!([{"comment": "done", "createdBy": "soar", "createdTime": "2026-12-04T10:00:00Z"}])
        );
        AlertUpdate {
            status: Some("InProgress"),
            ..Default::default()
        }
        .apply(&mut alert, now, "soar");
        assert!(alert["resolvedTime"].is_null());
    }
}
