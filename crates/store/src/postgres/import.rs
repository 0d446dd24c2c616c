//! Bulk upserts in one transaction on a connection of their own. Each batch of records is one
//! statement per entity kind: its rows travel as one array per column and are unnested into the
//! table, so the database plans and answers once per batch, not once per row.

use std::sync::LazyLock;

use async_trait::async_trait;
use deadpool_postgres::Object;
use openmde_access::DeviceGroup;
use openmde_model::Timestamp;
use tokio_postgres::types::ToSql;

use super::{PgResult, access, to_document, to_text};
use crate::query::{EntitySet, FieldType, Scalar};
use crate::sql::writes;
use crate::{Columns, Import, ImportCounts, Result, StoredRecord, TenantKey};

/// Imports of at least this many rows update the planner's statistics when they commit.
const ANALYZE_AFTER: u64 = 10_000;

pub struct PgImport {
    /// Taken by `commit`; dropped with the import otherwise, which closes it (see `Drop`).
    client: Option<Object>,
    tenant: TenantKey,
    counts: ImportCounts,
    started: Timestamp,
    /// The tenant's device groups: every imported machine is put into its group.
    device_groups: Vec<DeviceGroup>,
}

impl PgImport {
    pub(super) async fn begin(client: Object, tenant: TenantKey) -> PgResult<Self> {
        client.batch_execute("BEGIN").await?;
        let mut import = PgImport {
            client: Some(client),
            tenant,
            counts: ImportCounts::default(),
            started: Timestamp::now(),
            device_groups: Vec::new(),
        };
        let client = import.connection()?;
        // Device groups cannot change under the import (their writes lock the tenant too).
        access::lock_tenant(client, tenant, false).await?;
        import.device_groups = access::ranked_groups(client, tenant).await?;
        Ok(import)
    }

    fn connection(&self) -> PgResult<&Object> {
        self.client
            .as_ref()
            .ok_or_else(|| crate::StoreError::Backend("the import has ended".into()))
    }

    /// The record with its machine stamped into its device group.
    fn grouped(&self, mut record: StoredRecord) -> PgResult<StoredRecord> {
        if record.columns == Columns::Machine {
            let mut machine = to_document(&record.doc)?;
            if crate::grouping::stamp_machine(&self.device_groups, &mut machine) {
                record.doc = to_text(&machine)?;
                record.fields = EntitySet::Machines.column_values(&machine);
            }
        }
        Ok(record)
    }
}

#[async_trait]
impl Import for PgImport {
    async fn upsert(&mut self, records: Vec<StoredRecord>) -> Result<()> {
        let records = records
            .into_iter()
            .map(|record| self.grouped(record))
            .collect::<PgResult<Vec<_>>>()?;
        let (machines, alerts): (Vec<_>, Vec<_>) = records.into_iter().partition(|r| r.columns == Columns::Machine);
        self.counts.machines += machines.len() as u64;
        self.counts.alerts += alerts.len() as u64;
        let client = self.connection()?;
        for (set, rows) in [(EntitySet::Machines, machines), (EntitySet::Alerts, alerts)] {
            if rows.is_empty() {
                continue;
            }
            let statement = client.prepare_cached(batch_upsert(set)).await?;
            let batch = Batch::of(set, latest_of_each(rows), self.started);
            client.execute(&statement, &batch.parameters(&self.tenant.0)).await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<ImportCounts> {
        let client = self.connection()?;
        // Alerts take their machine's group, whichever of the two came first.
        access::restamp_alerts(client, self.tenant, None).await?;
        client.batch_execute("COMMIT").await?;
        if self.counts.machines + self.counts.alerts >= ANALYZE_AFTER {
            // Fresh statistics at once, rather than when autovacuum gets to it: the planner
            // picks list indexes by them.
            client.batch_execute("ANALYZE machines; ANALYZE alerts").await?;
        }
        // Back to the pool, in no transaction.
        self.client.take();
        Ok(self.counts)
    }
}

impl Drop for PgImport {
    /// An import dropped before its commit: its connection is closed rather than returned to
    /// the pool, and the server rolls the transaction back.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

/// `INSERT ... SELECT $1, * FROM unnest($2::text[], ...) ON CONFLICT ...` for a set, built once.
fn batch_upsert(set: EntitySet) -> &'static str {
    static MACHINES: LazyLock<String> = LazyLock::new(|| batch_upsert_text(EntitySet::Machines));
    static ALERTS: LazyLock<String> = LazyLock::new(|| batch_upsert_text(EntitySet::Alerts));
    match set {
        EntitySet::Machines => &MACHINES,
        EntitySet::Alerts => &ALERTS,
    }
}

fn batch_upsert_text(set: EntitySet) -> String {
    let arrays: Vec<String> = column_types(set)
        .iter()
        .enumerate()
        .map(|(i, array)| format!("${}::{array}", i + 2))
        .collect();
    writes::upsert(set, &format!("SELECT $1, * FROM unnest({})", arrays.join(", ")))
}

/// The array type of each column after `tenant`: the key columns, then the stored ones.
fn column_types(set: EntitySet) -> Vec<&'static str> {
    let keys = writes::key_columns(set)
        .iter()
        .map(|column| if *column == "last_update" { "int8[]" } else { "text[]" });
    let stored = set.stored().map(|field| match field.field_type {
        FieldType::Id | FieldType::Text => "text[]",
        _ => "int8[]",
    });
    keys.chain(stored).collect()
}

/// The last record of each id, as row-by-row upserts would leave them (one statement cannot
/// write a row twice).
fn latest_of_each(records: Vec<StoredRecord>) -> Vec<StoredRecord> {
    let mut seen = std::collections::HashSet::new();
    let mut latest: Vec<StoredRecord> = records
        .into_iter()
        .rev()
        .filter(|r| seen.insert(r.id.clone()))
        .collect();
    latest.reverse();
    latest
}

/// One column of a batch.
enum Column {
    Text(Vec<Option<String>>),
    Integer(Vec<Option<i64>>),
}

impl Column {
    fn push(&mut self, value: Scalar) {
        match (self, value) {
            (Column::Text(values), Scalar::Text(text)) => values.push(Some(text)),
            (Column::Integer(values), Scalar::Integer(number)) => values.push(Some(number)),
            (Column::Text(values), _) => values.push(None),
            (Column::Integer(values), _) => values.push(None),
        }
    }

    fn as_parameter(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Text(values) => values,
            Column::Integer(values) => values,
        }
    }
}

struct Batch {
    columns: Vec<Column>,
}

impl Batch {
    fn of(set: EntitySet, records: Vec<StoredRecord>, started: Timestamp) -> Batch {
        let mut columns: Vec<Column> = column_types(set)
            .iter()
            .map(|array| match *array {
                "int8[]" => Column::Integer(Vec::with_capacity(records.len())),
                _ => Column::Text(Vec::with_capacity(records.len())),
            })
            .collect();
        for record in records {
            let keys = match record.columns {
                Columns::Machine => vec![Scalar::Text(record.id), Scalar::Text(record.doc)],
                Columns::Alert {
                    machine_id,
                    last_update,
                    evidence,
                } => vec![
                    Scalar::Text(record.id),
                    machine_id.map_or(Scalar::Null, Scalar::Text),
                    Scalar::Integer(last_update.unwrap_or(started.0)),
                    Scalar::Text(record.doc),
                    Scalar::Text(evidence),
                ],
            };
            for (column, value) in columns.iter_mut().zip(keys.into_iter().chain(record.fields)) {
                column.push(value);
            }
        }
        Batch { columns }
    }

    fn parameters<'a>(&'a self, tenant: &'a i64) -> Vec<&'a (dyn ToSql + Sync)> {
        std::iter::once(tenant as &(dyn ToSql + Sync))
            .chain(self.columns.iter().map(Column::as_parameter))
            .collect()
    }
}
