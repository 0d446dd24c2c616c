//! Turning any JSON object into the canonical form MDE would write for its type.
//!
//! Known properties come out in wire order with their values checked and normalised (enum
//! names in their EDMX spelling, timestamps in MDE's format, GUIDs in lowercase); absent ones
//! are written as `null` or their non-null default. Unknown properties are kept, after the
//! known ones, in the order they came.

use serde_json::{Map, Value};

use crate::edm::{ComplexType, EnumType, Kind, Presence, Property};
use crate::timestamp::Timestamp;

/// A value that does not fit its property, with the property's path (`ipAddresses[1].type`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field '{field}': {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Returns `input` in canonical form for `ty`, or the first field that does not fit.
pub fn canonicalize(ty: &ComplexType, input: Map<String, Value>) -> Result<Map<String, Value>, FieldError> {
    canonicalize_at(ty, input, &At::Root)
}

/// Drops from a canonical value of `ty` the nulls that `canonicalize` would put back: those of
/// known nullable properties (recursively). Unknown properties keep their nulls, so the round
/// trip `canonicalize(compact(x)) == x` holds for every canonical `x`.
pub fn compact(ty: &ComplexType, value: &mut Map<String, Value>) {
    value.retain(|name, item| match ty.property(name) {
        Some(property) => match (property.kind, item) {
            (_, Value::Null) => !matches!(property.presence, Presence::Nullable),
            (Kind::Complex(inner), Value::Object(map)) => {
                compact(inner, map);
                true
            }
            (Kind::ComplexCollection(inner), Value::Array(items)) => {
                items
                    .iter_mut()
                    .filter_map(Value::as_object_mut)
                    .for_each(|map| compact(inner, map));
                true
            }
            _ => true,
        },
        None => true,
    });
}

/// Where a value sits in the record; spelled out only when an error names it.
enum At<'a> {
    Root,
    Field(&'a At<'a>, &'a str),
    Item(&'a At<'a>, usize),
}

impl At<'_> {
    fn render(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Field(At::Root, name) => name.to_string(),
            At::Field(parent, name) => format!("{}.{name}", parent.render()),
            At::Item(parent, index) => format!("{}[{index}]", parent.render()),
        }
    }
}

fn canonicalize_at(
    ty: &ComplexType,
    input: Map<String, Value>,
    path: &At<'_>,
) -> Result<Map<String, Value>, FieldError> {
    let mut slots: Vec<Option<Value>> = vec![None; ty.properties.len()];
    let mut extras = Vec::new();
    for (key, value) in input {
        match ty.properties.iter().position(|p| p.name == key) {
            Some(index) => slots[index] = Some(value),
            None => extras.push((key, value)),
        }
    }
    let mut out = Map::with_capacity(slots.len() + extras.len());
    for (property, slot) in ty.properties.iter().zip(slots) {
        let field = At::Field(path, property.name);
        let value = match slot {
            None | Some(Value::Null) => absent(property, &field)?,
            Some(value) => value_of(property.kind, value, &field)?,
        };
        out.insert(property.name.to_string(), value);
    }
    out.extend(extras);
    Ok(out)
}

fn absent(property: &Property, field: &At<'_>) -> Result<Value, FieldError> {
    match property.presence {
        Presence::Nullable => Ok(Value::Null),
        Presence::Defaulted(literal) => Ok(serde_json::from_str(literal).unwrap_or(Value::Null)),
        Presence::Required => Err(error(field, "is required and may not be null")),
    }
}

fn error(field: &At<'_>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.render(),
        message: message.into(),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expected(field: &At<'_>, what: &str, got: &Value) -> FieldError {
    error(field, format!("expected {what}, got {}", describe(got)))
}

fn value_of(kind: Kind, value: Value, field: &At<'_>) -> Result<Value, FieldError> {
    match (kind, value) {
        (Kind::String, value @ Value::String(_)) | (Kind::Boolean, value @ Value::Bool(_)) => Ok(value),
        (Kind::Int32, Value::Number(n)) => match n.as_i64().and_then(|v| i32::try_from(v).ok()) {
            Some(v) => Ok(Value::from(v)),
            None => Err(error(field, format!("{n} is not a 32-bit integer"))),
        },
        (Kind::Int64, Value::Number(n)) => match n.as_i64() {
            Some(v) => Ok(Value::from(v)),
            None => Err(error(field, format!("{n} is not a 64-bit integer"))),
        },
        (Kind::Guid, Value::String(text)) => canonical_guid(&text)
            .map(Value::String)
            .ok_or_else(|| error(field, format!("'{text}' is not a GUID"))),
        (Kind::DateTimeOffset, Value::String(text)) => Timestamp::parse(&text)
            .map(|t| Value::String(t.to_string()))
            .map_err(|e| error(field, e.to_string())),
        (Kind::Enum(ty), Value::String(text)) => canonical_enum(ty, &text)
            .map(Value::String)
            .ok_or_else(|| error(field, format!("'{text}' is not a member of {}", ty.name))),
        (Kind::Strings, Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(_) => Ok(item),
                other => Err(expected(&At::Item(field, i), "a string", &other)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (Kind::Complex(ty), Value::Object(map)) => canonicalize_at(ty, map, field).map(Value::Object),
        (Kind::ComplexCollection(ty), Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let at = At::Item(field, i);
                match item {
                    Value::Object(map) => canonicalize_at(ty, map, &at).map(Value::Object),
                    other => Err(expected(&at, "an object", &other)),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (kind, other) => Err(expected(field, kind_description(kind), &other)),
    }
}

fn kind_description(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "a string",
        Kind::Boolean => "a boolean",
        Kind::Int32 | Kind::Int64 => "an integer",
        Kind::Guid => "a GUID string",
        Kind::DateTimeOffset => "a timestamp string",
        Kind::Enum(_) => "an enum member name",
        Kind::Strings => "an array of strings",
        Kind::Complex(_) => "an object",
        Kind::ComplexCollection(_) => "an array of objects",
    }
}

/// Flag enums may combine members as `"A, B"`, the way OData writes them.
fn canonical_enum(ty: &EnumType, text: &str) -> Option<String> {
    if !ty.is_flags {
        return ty.canonical(text).map(str::to_string);
    }
    let names: Option<Vec<&str>> = text.split(',').map(|part| ty.canonical(part.trim())).collect();
    names.map(|names| names.join(", "))
}

fn canonical_guid(text: &str) -> Option<String> {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    let well_formed = groups.len() == 5
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    well_formed.then(|| text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ALERT, MACHINE};
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn fills_order_defaults_and_keeps_unknown_fields() {
        let input = object(json!({
            "zeta": 1, "healthStatus": "inactive", "id": "abc", "lastSeen": "2021-01-25T08:27:36.0523130+01:00",
            "aadDeviceId": "FD2E4D29-7072-4195-AAA5-1AF139B78028", "ipAddresses": [{"type": "ethernet", "extra": true}],
            "alpha": "kept"
        }));
        let out = canonicalize(&MACHINE, input).unwrap();
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), MACHINE.properties.len() + 2);
        assert_eq!(&keys[..3], ["id", "mergedIntoMachineId", "isPotentialDuplication"]);
        assert_eq!(&keys[keys.len() - 2..], ["zeta", "alpha"]);
        assert_eq!(out["healthStatus"], "Inactive");
        assert_eq!(out["deviceValue"], "Normal");
        assert_eq!(out["rbacGroupId"], 0);
        assert_eq!(out["isExcluded"], false);
        assert_eq!(out["machineTags"], Value::Null);
        assert_eq!(out["lastSeen"], "2021-01-25T07:27:36.052313Z");
        assert_eq!(out["aadDeviceId"], "fd2e4d29-7072-4195-aaa5-1af139b78028");
        assert_eq!(
            out["ipAddresses"],
            json!([{"ipAddress": null, "macAddress": null, "type": "Ethernet", "operationalStatus": null, "extra": true}])
        );
    }

    #[test]
    fn names_the_field_that_does_not_fit() {
        let cases = [
            (
                json!({"id": "a", "osBuild": "19042"}),
                "osBuild",
                "expected an integer, got a string",
            ),
            (
                json!({"id": "a", "rbacGroupId": 3_000_000_000u64}),
                "rbacGroupId",
                "3000000000 is not a 32-bit integer",
            ),
            (
                json!({"id": "a", "riskScore": "Severe"}),
                "riskScore",
                "'Severe' is not a member of RiskScore",
            ),
            (
                json!({"id": "a", "machineTags": ["x", 1]}),
                "machineTags[1]",
                "expected a string, got a number",
            ),
            (
                json!({"id": "a", "ipAddresses": [{}, {"operationalStatus": "Sideways"}]}),
                "ipAddresses[1].operationalStatus",
                "'Sideways' is not a member of IpInterfaceOperationalStatus",
            ),
            (json!({"osPlatform": "Linux"}), "id", "is required and may not be null"),
            (
                json!({"id": "a", "aadDeviceId": "not-a-guid"}),
                "aadDeviceId",
                "'not-a-guid' is not a GUID",
            ),
        ];
        for (input, field, message) in cases {
            let err = canonicalize(&MACHINE, object(input)).unwrap_err();
            assert_eq!((err.field.as_str(), err.message.as_str()), (field, message));
        }
        let err = canonicalize(&ALERT, object(json!({"id": "x", "evidence": [{"entityType": "File"}]}))).unwrap_err();
        assert_eq!(err.field, "evidence[0].evidenceCreationTime");
    }

    #[test]
    fn compaction_round_trips() {
        let input = object(json!({
            "id": "a", "machineId": null, "custom": null, "relatedUser": {"userName": "u", "domainName": null},
            "evidence": [{"entityType": "File", "evidenceCreationTime": "2021-01-01T00:00:00Z", "sha1": null, "x": null}]
        }));
        let canonical = canonicalize(&ALERT, input).unwrap();
        let mut compacted = canonical.clone();
        compact(&ALERT, &mut compacted);
        assert!(!compacted.contains_key("machineId") && compacted.contains_key("custom"));
        assert!(!compacted["evidence"][0].as_object().unwrap().contains_key("sha1"));
        assert!(compacted["evidence"][0].as_object().unwrap().contains_key("x"));
        assert!(compacted.contains_key("severity"), "non-null defaults stay");
        assert!(
            serde_json::to_string(&compacted).unwrap().len() < serde_json::to_string(&canonical).unwrap().len() / 2
        );
        assert_eq!(canonicalize(&ALERT, compacted).unwrap(), canonical);
    }

    #[test]
    fn flag_enums_take_combinations() {
        let out = canonicalize(
            &ALERT,
            object(json!({"id": "x", "detectionSource": "windowsdefenderatp,  MCAS"})),
        )
        .unwrap();
        assert_eq!(out["detectionSource"], "WindowsDefenderAtp, MCAS");
        let err = canonicalize(&ALERT, object(json!({"id": "x", "severity": "High, Low"}))).unwrap_err();
        assert_eq!(err.field, "severity");
    }
}
