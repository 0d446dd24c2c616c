//! The entity kinds openmde stores, and canonical records of them.

use serde_json::{Map, Value};

use crate::canonical::{FieldError, canonicalize};
use crate::edm::ComplexType;
use crate::schema::{ALERT, MACHINE};
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Machine,
    Alert,
}

impl EntityKind {
    pub fn schema(self) -> &'static ComplexType {
        match self {
            EntityKind::Machine => &MACHINE,
            EntityKind::Alert => &ALERT,
        }
    }

    /// The entity set named by an `@odata.context` such as `.../$metadata#Alerts`.
    pub fn from_context(context: &str) -> Option<Self> {
        let set = context.rsplit_once('#')?.1;
        let set = set.split(['/', '(']).next()?;
        match set {
            "Machines" | "Machine" => Some(EntityKind::Machine),
            "Alerts" | "Alert" => Some(EntityKind::Alert),
            _ => None,
        }
    }

    /// Tells a record's kind by properties only one of the two types has.
    pub fn detect(record: &Map<String, Value>) -> Option<Self> {
        const ALERT_ONLY: [&str; 6] = [
            "machineId",
            "alertCreationTime",
            "severity",
            "title",
            "incidentId",
            "detectionSource",
        ];
        const MACHINE_ONLY: [&str; 7] = [
            "osPlatform",
            "healthStatus",
            "lastSeen",
            "firstSeen",
            "machineTags",
            "ipAddresses",
            "exposureLevel",
        ];
        let alert = ALERT_ONLY.iter().any(|k| record.contains_key(*k));
        let machine = MACHINE_ONLY.iter().any(|k| record.contains_key(*k));
        match (alert, machine) {
            (true, false) => Some(EntityKind::Alert),
            (false, true) => Some(EntityKind::Machine),
            _ => None,
        }
    }
}

/// A canonical entity document.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: EntityKind,
    pub fields: Map<String, Value>,
}

impl Record {
    pub fn new(kind: EntityKind, input: Map<String, Value>) -> Result<Self, FieldError> {
        Ok(Record {
            kind,
            fields: canonicalize(kind.schema(), input)?,
        })
    }

    pub fn id(&self) -> &str {
        self.str("id").unwrap_or_default()
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// A timestamp property; canonical records hold only valid ones.
    pub fn timestamp(&self, name: &str) -> Option<Timestamp> {
        self.str(name).and_then(|text| Timestamp::parse(text).ok())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.fields).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tells_kinds_apart() {
        let map = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(
            EntityKind::detect(&map(json!({"id": "a", "machineId": "m", "computerDnsName": "x"}))),
            Some(EntityKind::Alert)
        );
        assert_eq!(
            EntityKind::detect(&map(json!({"id": "a", "computerDnsName": "x", "osPlatform": "Linux"}))),
            Some(EntityKind::Machine)
        );
        assert_eq!(EntityKind::detect(&map(json!({"id": "a"}))), None);
        assert_eq!(
            EntityKind::from_context("https://h/api/$metadata#Alerts"),
            Some(EntityKind::Alert)
        );
        assert_eq!(
            EntityKind::from_context("https://h/api/$metadata#Machines/$entity"),
            Some(EntityKind::Machine)
        );
        assert_eq!(EntityKind::from_context("https://h/api/$metadata#Users"), None);
    }
}
