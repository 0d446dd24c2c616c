//! `openmde import`: loads machines and alerts written in MDE's own JSON.
//!
//! A file may hold a list response (`{"@odata.context": ..., "value": [...]}`), a bare array or
//! one entity; each record's type comes from the context or, failing that, from its properties.
//! Each file is one transaction: a bad record names file, index and field, and nothing of that
//! file is written.
//!
//! Three stages run at once: parsing (one thread, over the memory-mapped file, so a file of
//! any size never has to fit in memory), canonicalisation (another thread), and the store's
//! transaction (the calling task). Batches keep their order, so a later record with the same id
//! wins, and the first bad record in the file is the one reported.

use std::fmt;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use openmde_model::{EntityKind, Record};
use openmde_store::{ImportCounts, Store, StoreError, StoredRecord, TenantKey};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

const BATCH: usize = 2_000;
/// Batches in flight between two stages.
const QUEUE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
    #[error("{file}: record {index}{id}: {message}", id = id.as_ref().map(|i| format!(" (id '{i}')")).unwrap_or_default())]
    BadRecord {
        file: String,
        index: usize,
        id: Option<String>,
        message: String,
    },
    #[error("{file}: {source}")]
    Store { file: String, source: StoreError },
}

/// Parsed JSON values, in file order, with the entity set the file's context named, if any.
struct RawBatch {
    first_index: usize,
    hint: Option<EntityKind>,
    values: Vec<Value>,
}

/// A record that cannot be imported.
struct RecordProblem {
    index: usize,
    id: Option<String>,
    message: String,
}

/// Collects parsed values into batches for the canonicalising stage.
struct Collector {
    hint: Option<EntityKind>,
    next_index: usize,
    values: Vec<Value>,
    out: SyncSender<RawBatch>,
}

impl Collector {
    fn push(&mut self, value: Value) -> Result<(), String> {
        self.values.push(value);
        if self.values.len() >= BATCH {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.values.is_empty() {
            return Ok(());
        }
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(BATCH));
        let batch = RawBatch {
            first_index: self.next_index,
            hint: self.hint,
            values,
        };
        self.next_index += batch.values.len();
        // A closed queue means a later stage stopped; its reason is the one reported.
        self.out.send(batch).map_err(|_| "import stopped".to_string())
    }
}

/// The whole document: a list response, an array, or one entity.
struct Document<'a>(&'a mut Collector);

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an MDE list response, an array of entities, or one entity")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Values(self.0).visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let collector = self.0;
        let mut entity = Map::new();
        let mut listed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "value" {
                map.next_value_seed(Values(collector))?;
                listed = true;
                continue;
            }
            let value: Value = map.next_value()?;
            if let (true, Some(context)) = (key == "@odata.context", value.as_str()) {
                let kind = EntityKind::from_context(context)
                    .ok_or_else(|| de::Error::custom(format!("'{context}' names neither Machines nor Alerts")))?;
                collector.hint = Some(kind);
            }
            entity.insert(key, value);
        }
        if !listed {
            entity.retain(|k, _| !k.starts_with("@odata."));
            collector.push(Value::Object(entity)).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// An array of entities, handed on one by one.
struct Values<'a>(&'a mut Collector);

impl<'de> DeserializeSeed<'de> for Values<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Values<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of entities")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            self.0.push(value).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// Stage 1: parses `input`, sending batches of values. Fails with the JSON error.
fn parse(input: &[u8], out: SyncSender<RawBatch>) -> Result<(), String> {
    let mut collector = Collector {
        hint: None,
        next_index: 0,
        values: Vec::with_capacity(BATCH),
        out,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(input);
    Document(&mut collector)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end())
        .map_err(|e| e.to_string())?;
    collector.flush()
}

/// One record, checked and made ready for the store.
fn prepare(index: usize, hint: Option<EntityKind>, value: Value) -> Result<StoredRecord, RecordProblem> {
    let problem = |id: Option<String>, message: String| RecordProblem { index, id, message };
    let Value::Object(fields) = value else {
        return Err(problem(None, "is not a JSON object".into()));
    };
    let id = fields.get("id").and_then(Value::as_str).map(str::to_string);
    let Some(kind) = hint.or_else(|| EntityKind::detect(&fields)) else {
        return Err(problem(id, "cannot tell whether it is a machine or an alert".into()));
    };
    Record::new(kind, fields)
        .map(StoredRecord::from)
        .map_err(|e| problem(id, e.to_string()))
}

/// Stage 2: canonicalises each batch, in order. Stops at the first bad record.
fn canonicalise(input: Receiver<RawBatch>, out: mpsc::Sender<Vec<StoredRecord>>) -> Result<(), RecordProblem> {
    for batch in input {
        let records = batch
            .values
            .into_iter()
            .enumerate()
            .map(|(i, value)| prepare(batch.first_index + i, batch.hint, value))
            .collect::<Result<Vec<_>, _>>()?;
        if out.blocking_send(records).is_err() {
            break; // the store stopped; its error is the one reported
        }
    }
    Ok(())
}

/// Imports one file into `tenant` in one transaction.
pub async fn import_file(store: &dyn Store, tenant: TenantKey, path: &Path) -> Result<ImportCounts, ImportError> {
    let file = path.display().to_string();
    let unreadable = |message: String| ImportError::Unreadable {
        file: file.clone(),
        message,
    };
    let opened = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    // SAFETY: the map is only read. Were the file truncated while mapped, reads past its new end
    // would fault; input files must not change during their import (README).
    let input = unsafe { memmap2::Mmap::map(&opened) }.map_err(|e| unreadable(e.to_string()))?;
    let store_error = |source| ImportError::Store {
        file: file.clone(),
        source,
    };
    let mut import = store.begin_import(tenant).await.map_err(store_error)?;

    let (raw_sender, raw_batches) = sync_channel(QUEUE);
    let (sender, mut batches) = mpsc::channel(QUEUE);
    let parser = tokio::task::spawn_blocking(move || parse(&input, raw_sender));
    let canonicaliser = tokio::task::spawn_blocking(move || canonicalise(raw_batches, sender));
    while let Some(batch) = batches.recv().await {
        // On a store error the import is dropped, which rolls it back; the stages then stop.
        import.upsert(batch).await.map_err(store_error)?;
    }
    let failed = |stage: &str, panic: tokio::task::JoinError| unreadable(format!("the {stage} failed: {panic}"));
    // An earlier bad record outranks a later JSON error.
    if let Err(problem) = canonicaliser.await.map_err(|p| failed("canonicaliser", p))? {
        return Err(ImportError::BadRecord {
            file,
            index: problem.index,
            id: problem.id,
            message: problem.message,
        });
    }
    if let Err(message) = parser.await.map_err(|p| failed("parser", p))? {
        return Err(unreadable(format!("not valid MDE JSON: {message}")));
    }
    import.commit().await.map_err(store_error)
}
