//! `openmde import`: loads machines and alerts written in MDE's own JSON.
//!
//! A file may hold a list response (`{"@odata.context": ..., "value": [...]}`), a bare array or
//! one entity; each record's type comes from the context or, failing that, from its properties.
//! Files are read as a stream, so a million alerts never sit in memory at once, and each file
//! is one transaction: a bad record names file, index and field, and nothing of that file is
//! written.

use std::fmt;
use std::io::Read;
use std::path::Path;

use openmde_model::{EntityKind, Record};
use openmde_store::{ImportCounts, Store, StoreError, TenantKey};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

const BATCH: usize = 2_000;

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

/// A problem with one record, before the file name is known to it.
struct RecordProblem {
    index: usize,
    id: Option<String>,
    message: String,
}

/// Receives records as the parser meets them and hands batches to the store.
struct Sink {
    hint: Option<EntityKind>,
    index: usize,
    batch: Vec<Record>,
    out: mpsc::Sender<Vec<Record>>,
    problem: Option<RecordProblem>,
}

impl Sink {
    fn accept(&mut self, value: Value) -> Result<(), String> {
        let index = self.index;
        self.index += 1;
        let Value::Object(fields) = value else {
            return self.refuse(index, None, "is not a JSON object".into());
        };
        let id = fields.get("id").and_then(Value::as_str).map(str::to_string);
        let Some(kind) = self.hint.or_else(|| EntityKind::detect(&fields)) else {
            return self.refuse(
                index,
                id,
                "cannot tell whether it is a machine or an alert".into(),
            );
        };
        match Record::new(kind, fields) {
            Ok(record) => {
                self.batch.push(record);
                if self.batch.len() >= BATCH {
                    self.flush()?;
                }
                Ok(())
            }
            Err(problem) => self.refuse(index, id, problem.to_string()),
        }
    }

    fn refuse(&mut self, index: usize, id: Option<String>, message: String) -> Result<(), String> {
        let summary = format!("record {index}: {message}");
        self.problem = Some(RecordProblem { index, id, message });
        Err(summary)
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.out
            .blocking_send(batch)
            .map_err(|_| "the store stopped the import".to_string())
    }
}

/// The whole document: a list response, an array, or one entity.
struct Document<'a>(&'a mut Sink);

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
        Records(self.0).visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sink = self.0;
        let mut entity = Map::new();
        let mut listed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "value" {
                map.next_value_seed(Records(sink))?;
                listed = true;
                continue;
            }
            let value: Value = map.next_value()?;
            if let (true, Some(context)) = (key == "@odata.context", value.as_str()) {
                let kind = EntityKind::from_context(context);
                sink.hint = Some(kind.ok_or_else(|| {
                    de::Error::custom(format!("'{context}' names neither Machines nor Alerts"))
                })?);
            }
            entity.insert(key, value);
        }
        if !listed {
            entity.retain(|k, _| !k.starts_with("@odata."));
            sink.accept(Value::Object(entity))
                .map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// An array of entities, handed to the sink one by one.
struct Records<'a>(&'a mut Sink);

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of entities")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            self.0.accept(value).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// Parses `reader` on the calling (blocking) thread, sending record batches to `out`.
fn parse(
    reader: impl Read,
    out: mpsc::Sender<Vec<Record>>,
) -> Result<(), (Option<RecordProblem>, String)> {
    let mut sink = Sink {
        hint: None,
        index: 0,
        batch: Vec::with_capacity(BATCH),
        out,
        problem: None,
    };
    let mut deserializer =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 20, reader));
    let parsed = Document(&mut sink)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    match parsed {
        Ok(()) => sink.flush().map_err(|message| (None, message)),
        Err(error) => Err((sink.problem.take(), error.to_string())),
    }
}

/// Imports one file into `tenant` in one transaction.
pub async fn import_file(
    store: &dyn Store,
    tenant: TenantKey,
    path: &Path,
) -> Result<ImportCounts, ImportError> {
    let file = path.display().to_string();
    let unreadable = |message: String| ImportError::Unreadable {
        file: file.clone(),
        message,
    };
    let reader = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let store_error = |source| ImportError::Store {
        file: file.clone(),
        source,
    };
    let mut import = store.begin_import(tenant).await.map_err(store_error)?;
    let (sender, mut batches) = mpsc::channel(4);
    let parser = tokio::task::spawn_blocking(move || parse(reader, sender));
    while let Some(batch) = batches.recv().await {
        // On a store error the import is dropped, which rolls it back; the parser then stops.
        import.upsert(batch).await.map_err(store_error)?;
    }
    match parser.await {
        Ok(Ok(())) => import.commit().await.map_err(store_error),
        Ok(Err((Some(problem), _))) => Err(ImportError::BadRecord {
            file,
            index: problem.index,
            id: problem.id,
            message: problem.message,
        }),
        Ok(Err((None, message))) => Err(unreadable(format!("not valid MDE JSON: {message}"))),
        Err(panic) => Err(unreadable(format!("the parser failed: {panic}"))),
    }
}
