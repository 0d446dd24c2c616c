//! Which properties of each entity set a query can name, how each is typed, and the column that
//! holds it. The same table decides what a `$filter` may say and what every write stores beside
//! the document, so the two cannot drift apart.

use openmde_model::Timestamp;
use openmde_model::edm::{ComplexType, EnumType};
use openmde_model::schema::{
    ALERT, ALERT_SEVERITY, ALERT_STATUS, DETECTION_SOURCE, DEVICE_VALUE, EXPOSURE_LEVEL, MACHINE,
    MACHINE_HEALTH_STATUS, MACHINE_IP_ADDRESS, ONBOARDING_STATUS, RISK_SCORE,
};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntitySet {
    Alerts,
    Machines,
}

/// How a property compares and sorts.
#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    /// Identifiers: compared and sorted exactly.
    Id,
    /// Other strings: compared and sorted without regard to ASCII case.
    Text,
    Integer,
    /// Kept as 100 ns ticks.
    Timestamp,
    /// Kept as the member's value, so `gt` and ordering follow the EDMX order.
    Enum(&'static EnumType),
    /// `Collection(Edm.String)`, read from the document.
    Strings,
    /// A collection of complex values, read from the document.
    Complexes(&'static ComplexType),
}

/// Who may name a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Clients, in `$filter` and (scalars) `$orderby`.
    Query,
    /// Only conditions the server builds (`findbyip`'s time window).
    Internal,
}

#[derive(Debug)]
pub struct Field {
    /// The EDMX property name.
    pub name: &'static str,
    pub field_type: FieldType,
    /// The column beside the document; collections have none.
    pub column: Option<&'static str>,
    pub usage: Usage,
}

const fn field(name: &'static str, field_type: FieldType, column: &'static str) -> Field {
    Field {
        name,
        field_type,
        column: Some(column),
        usage: Usage::Query,
    }
}

const fn collection(name: &'static str, field_type: FieldType) -> Field {
    Field {
        name,
        field_type,
        column: None,
        usage: Usage::Query,
    }
}

/// MDE's filterable alert properties (mde-api.md §4.1), in EDMX order.
static ALERT_FIELDS: [Field; 12] = [
    field("id", FieldType::Id, "id"),
    field("incidentId", FieldType::Integer, "incident_id"),
    field("investigationId", FieldType::Integer, "investigation_id"),
    field("assignedTo", FieldType::Text, "assigned_to"),
    field("severity", FieldType::Enum(&ALERT_SEVERITY), "severity"),
    field("status", FieldType::Enum(&ALERT_STATUS), "status"),
    field(
        "detectionSource",
        FieldType::Enum(&DETECTION_SOURCE),
        "detection_source",
    ),
    field("category", FieldType::Text, "category"),
    field("alertCreationTime", FieldType::Timestamp, "alert_creation_time"),
    field("lastEventTime", FieldType::Timestamp, "last_event_time"),
    field("lastUpdateTime", FieldType::Timestamp, "last_update_time"),
    // The alert's device group: what a user's lists are limited to.
    Field {
        usage: Usage::Internal,
        ..field("rbacGroupName", FieldType::Text, "rbac_group_name")
    },
];

/// MDE's filterable machine properties (mde-api.md §4.10), `ipAddresses` (an extension) and
/// `firstSeen` (for `findbyip`), in EDMX order.
static MACHINE_FIELDS: [Field; 17] = [
    field("id", FieldType::Id, "id"),
    field("computerDnsName", FieldType::Text, "dns_name"),
    Field {
        usage: Usage::Internal,
        ..field("firstSeen", FieldType::Timestamp, "first_seen")
    },
    field("lastSeen", FieldType::Timestamp, "last_seen"),
    field("osPlatform", FieldType::Text, "os_platform"),
    field("version", FieldType::Text, "version"),
    field("lastIpAddress", FieldType::Text, "last_ip_address"),
    field("healthStatus", FieldType::Enum(&MACHINE_HEALTH_STATUS), "health_status"),
    field("deviceValue", FieldType::Enum(&DEVICE_VALUE), "device_value"),
    field("rbacGroupId", FieldType::Integer, "rbac_group_id"),
    Field {
        usage: Usage::Internal,
        ..field("rbacGroupName", FieldType::Text, "rbac_group_name")
    },
    field("riskScore", FieldType::Enum(&RISK_SCORE), "risk_score"),
    field("exposureLevel", FieldType::Enum(&EXPOSURE_LEVEL), "exposure_level"),
    field("aadDeviceId", FieldType::Text, "aad_device_id"),
    collection("machineTags", FieldType::Strings),
    field(
        "onboardingStatus",
        FieldType::Enum(&ONBOARDING_STATUS),
        "onboarding_status",
    ),
    collection("ipAddresses", FieldType::Complexes(&MACHINE_IP_ADDRESS)),
];

/// A column's value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scalar {
    Null,
    Integer(i64),
    Text(String),
}

impl EntitySet {
    pub fn fields(self) -> &'static [Field] {
        match self {
            EntitySet::Alerts => &ALERT_FIELDS,
            EntitySet::Machines => &MACHINE_FIELDS,
        }
    }

    pub fn schema(self) -> &'static ComplexType {
        match self {
            EntitySet::Alerts => &ALERT,
            EntitySet::Machines => &MACHINE,
        }
    }

    /// A field by name, matched without regard to case (MDE's samples write `LastSeen` too).
    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The order of a list without `$orderby`: alerts by `lastUpdateTime`, oldest first (what a
    /// connector polling for changes reads, and what the indexes serve), machines by id.
    pub fn default_order(self) -> Vec<(&'static Field, openmde_odata::Direction)> {
        match self {
            EntitySet::Alerts => self
                .field("lastUpdateTime")
                .map(|f| vec![(f, openmde_odata::Direction::Ascending)])
                .unwrap_or_default(),
            EntitySet::Machines => Vec::new(),
        }
    }

    /// The fields kept in columns of their own, besides the id every row has.
    pub fn stored(self) -> impl Iterator<Item = &'static Field> {
        self.fields().iter().filter(|f| f.column.is_some() && f.name != "id")
    }

    /// The values of [`EntitySet::stored`]'s columns for a canonical document, in that order.
    pub fn column_values(self, document: &Map<String, Value>) -> Vec<Scalar> {
        self.stored().map(|f| f.value_in(document)).collect()
    }
}

impl Field {
    pub fn is_orderable(&self) -> bool {
        self.column.is_some() && self.usage == Usage::Query
    }

    /// This field's column value in a canonical document.
    pub fn value_in(&self, document: &Map<String, Value>) -> Scalar {
        scalar(self.field_type, document.get(self.name))
    }
}

/// The column value of a JSON value of this type: ticks for times, member values for enums.
pub fn scalar(field_type: FieldType, value: Option<&Value>) -> Scalar {
    let Some(value) = value else { return Scalar::Null };
    let converted = match field_type {
        FieldType::Id | FieldType::Text => value.as_str().map(|s| Scalar::Text(s.to_string())),
        FieldType::Integer => value.as_i64().map(Scalar::Integer),
        FieldType::Timestamp => value
            .as_str()
            .and_then(|s| Timestamp::parse(s).ok())
            .map(|t| Scalar::Integer(t.0)),
        FieldType::Enum(enum_type) => value
            .as_str()
            .and_then(|s| enum_value(enum_type, s))
            .map(Scalar::Integer),
        FieldType::Strings | FieldType::Complexes(_) => None,
    };
    converted.unwrap_or(Scalar::Null)
}

/// A member's value by its name, matched without regard to case.
pub fn enum_value(enum_type: &EnumType, name: &str) -> Option<i64> {
    enum_type
        .members
        .iter()
        .find(|(member, _)| member.eq_ignore_ascii_case(name))
        .map(|(_, value)| *value)
}

/// The type a property of a collection's complex elements compares as.
pub fn member_type(element: &'static ComplexType, name: &str) -> Option<(&'static str, FieldType)> {
    let property = element.properties.iter().find(|p| p.name.eq_ignore_ascii_case(name))?;
    let field_type = match property.kind {
        openmde_model::edm::Kind::Enum(e) => FieldType::Enum(e),
        openmde_model::edm::Kind::String | openmde_model::edm::Kind::Guid => FieldType::Text,
        openmde_model::edm::Kind::Int32 | openmde_model::edm::Kind::Int64 => FieldType::Integer,
        _ => return None,
    };
    Some((property.name, field_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_a_property_of_its_entity_in_wire_order() {
        for set in [EntitySet::Alerts, EntitySet::Machines] {
            let positions: Vec<usize> = set
                .fields()
                .iter()
                .map(|f| {
                    set.schema()
                        .properties
                        .iter()
                        .position(|p| p.name == f.name)
                        .unwrap_or_else(|| panic!("{} is not a property", f.name))
                })
                .collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{set:?} fields out of order");
        }
    }

    #[test]
    fn columns_hold_ticks_and_enum_values() {
        let doc: Map<String, Value> = serde_json::from_str(
            r#"{"id":"a","severity":"High","lastUpdateTime":"2024-01-01T00:00:00.5Z","assignedTo":null}"#,
        )
        .unwrap();
        let values = EntitySet::Alerts.column_values(&doc);
        let columns: Vec<_> = EntitySet::Alerts.stored().map(|f| f.name).collect();
        let at = |name| values[columns.iter().position(|c| *c == name).unwrap()].clone();
        assert_eq!(
            at("severity"),
            Scalar::Integer(enum_value(&ALERT_SEVERITY, "High").unwrap())
        );
        assert_eq!(
            at("lastUpdateTime"),
            Scalar::Integer(Timestamp::parse("2024-01-01T00:00:00.5Z").unwrap().0)
        );
        assert_eq!(at("assignedTo"), Scalar::Null);
    }
}
