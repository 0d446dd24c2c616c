//! Records made ready for storage: key columns taken out and documents serialised. This is
//! the same for every backend, and runs where the records are read (the import's parser thread)
//! rather than in the transaction.

use openmde_model::schema::ALERT_EVIDENCE;
use openmde_model::{EntityKind, Record, canonicalize, compact};
use serde_json::{Map, Value};

use crate::query::{EntitySet, Scalar};

/// An entity as every backend stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub id: String,
    /// The canonical JSON document (alerts: with `"evidence": []`).
    pub doc: String,
    pub columns: Columns,
    /// The values of the catalog's stored columns ([`EntitySet::stored`]).
    pub fields: Vec<Scalar>,
}

/// The columns beside the document that find rows, per entity kind (ticks for times).
#[derive(Debug, Clone, PartialEq)]
pub enum Columns {
    Machine,
    /// `last_update` is `lastUpdateTime`, else `alertCreationTime`; the backend falls back to the
    /// time of import.
    Alert {
        machine_id: Option<String>,
        last_update: Option<i64>,
        evidence: String,
    },
}

impl From<Record> for StoredRecord {
    fn from(mut record: Record) -> Self {
        let id = record.id().to_string();
        let set = match record.kind {
            EntityKind::Machine => EntitySet::Machines,
            EntityKind::Alert => EntitySet::Alerts,
        };
        let fields = set.column_values(&record.fields);
        let columns = match record.kind {
            EntityKind::Machine => Columns::Machine,
            EntityKind::Alert => {
                let last_update = record
                    .timestamp("lastUpdateTime")
                    .or_else(|| record.timestamp("alertCreationTime"))
                    .map(|t| t.0);
                let evidence = match record.fields.insert("evidence".into(), Value::Array(Vec::new())) {
                    Some(Value::Array(mut items)) => {
                        items
                            .iter_mut()
                            .filter_map(Value::as_object_mut)
                            .for_each(|e| compact(&ALERT_EVIDENCE, e));
                        Value::Array(items).to_string()
                    }
                    _ => "[]".to_string(),
                };
                Columns::Alert {
                    machine_id: record.str("machineId").map(str::to_string),
                    last_update,
                    evidence,
                }
            }
        };
        StoredRecord {
            id,
            doc: record.to_json(),
            columns,
            fields,
        }
    }
}

/// A JSON object, as entities and evidence items are.
pub type Object = Map<String, Value>;

impl crate::AlertDocument {
    /// The alert's fields and its evidence items (compact, as stored), or `None` if what is
    /// stored is not what this module wrote.
    pub fn parts(&self) -> Option<(Object, Vec<Object>)> {
        let alert: Map<String, Value> = serde_json::from_str(&self.doc).ok()?;
        let items: Vec<Value> = serde_json::from_str(&self.evidence).ok()?;
        let evidence = items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Some(map),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some((alert, evidence))
    }

    /// The alert's canonical document with its evidence in place.
    pub fn with_evidence(&self) -> Option<String> {
        let (mut alert, evidence) = self.parts()?;
        let evidence = evidence
            .into_iter()
            .map(|item| canonicalize(&ALERT_EVIDENCE, item).ok().map(Value::Object))
            .collect::<Option<Vec<_>>>()?;
        alert.insert("evidence".into(), Value::Array(evidence));
        serde_json::to_string(&alert).ok()
    }
}
