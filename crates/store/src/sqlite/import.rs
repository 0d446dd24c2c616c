//! Bulk upserts in one transaction on a connection of their own, so an import never holds up
//! the server's own writes for longer than SQLite's single-writer rule requires.

use std::sync::Arc;

use async_trait::async_trait;
use openmde_model::Timestamp;
use rusqlite::{Connection, ToSql, params_from_iter};

use super::dialect::{UPSERT_ALERT, UPSERT_MACHINE};
use crate::query::EntitySet;
use crate::{Columns, Import, ImportCounts, Result, StoreError, StoredRecord, TenantKey};

pub struct SqliteImport {
    store: Arc<super::Inner>,
    conn: Connection,
    tenant: TenantKey,
    counts: ImportCounts,
    started: Timestamp,
    /// The tenant's device groups: every imported machine is put into its group.
    device_groups: Vec<openmde_access::DeviceGroup>,
}

impl SqliteImport {
    pub(super) fn begin(store: Arc<super::Inner>, tenant: TenantKey) -> Result<Self> {
        let conn = super::open_connection(&store.path)?;
        // Large imports: a bigger page cache, and one write lock held from the start.
        conn.execute_batch("PRAGMA cache_size = -524288; BEGIN IMMEDIATE")?;
        let device_groups = super::access::ranked_groups(&conn, tenant)?;
        Ok(SqliteImport {
            device_groups,
            store,
            conn,
            tenant,
            counts: ImportCounts::default(),
            started: Timestamp::now(),
        })
    }

    fn upsert_one(&mut self, mut record: StoredRecord) -> rusqlite::Result<()> {
        if record.columns == Columns::Machine {
            let mut machine: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&record.doc).map_err(super::unreadable_json)?;
            if crate::grouping::stamp_machine(&self.device_groups, &mut machine) {
                record.doc = serde_json::to_string(&machine).map_err(super::unreadable_json)?;
                record.fields = EntitySet::Machines.column_values(&machine);
            }
        }
        let fields = record.fields.iter().map(|v| v as &dyn ToSql);
        match &record.columns {
            Columns::Machine => {
                let key: [&dyn ToSql; 3] = [&self.tenant.0, &record.id, &record.doc];
                self.conn
                    .prepare_cached(&UPSERT_MACHINE)?
                    .execute(params_from_iter(key.into_iter().chain(fields)))?;
                self.counts.machines += 1;
            }
            Columns::Alert {
                machine_id,
                last_update,
                evidence,
            } => {
                let last_update = last_update.unwrap_or(self.started.0);
                let key: [&dyn ToSql; 6] = [
                    &self.tenant.0,
                    &record.id,
                    machine_id,
                    &last_update,
                    &record.doc,
                    evidence,
                ];
                self.conn
                    .prepare_cached(&UPSERT_ALERT)?
                    .execute(params_from_iter(key.into_iter().chain(fields)))?;
                self.counts.alerts += 1;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Import for SqliteImport {
    async fn upsert(&mut self, records: Vec<StoredRecord>) -> Result<()> {
        // Inline: the caller is a bulk job, and this connection is its own.
        records
            .into_iter()
            .try_for_each(|record| self.upsert_one(record))
            .map_err(StoreError::from)
    }

    async fn commit(self: Box<Self>) -> Result<ImportCounts> {
        // Alerts take their machine's group, whichever of the two came first.
        super::access::restamp_alerts(&self.conn, self.tenant, None)?;
        self.conn.execute_batch("COMMIT")?;
        self.store.generation.fetch_add(1, std::sync::atomic::Ordering::Release);
        // Move the imported pages from the WAL into the database file now, as far as open
        // readers allow, without waiting for them.
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
        Ok(self.counts)
    }
}
