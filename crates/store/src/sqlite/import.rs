//! Bulk upserts in one transaction on a connection of their own, so an import never holds up
//! the server's own writes for longer than SQLite's single-writer rule requires.

use std::sync::Arc;

use async_trait::async_trait;
use openmde_model::Timestamp;
use rusqlite::{Connection, params};

use crate::{Columns, Import, ImportCounts, Result, StoreError, StoredRecord, TenantKey};

pub struct SqliteImport {
    store: Arc<super::Inner>,
    conn: Connection,
    tenant: TenantKey,
    counts: ImportCounts,
    started: Timestamp,
}

const UPSERT_MACHINE: &str = "INSERT INTO machines (tenant, id, dns_name, last_seen, doc) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (tenant, id) DO UPDATE SET dns_name = excluded.dns_name, last_seen = excluded.last_seen, doc = excluded.doc";
const UPSERT_ALERT: &str =
    "INSERT INTO alerts (tenant, id, machine_id, last_update, doc, evidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (tenant, id) DO UPDATE SET machine_id = excluded.machine_id, last_update = excluded.last_update,
     doc = excluded.doc, evidence = excluded.evidence";

impl SqliteImport {
    pub(super) fn begin(store: Arc<super::Inner>, tenant: TenantKey) -> Result<Self> {
        let conn = super::open_connection(&store.path)?;
        // Large imports: a bigger page cache, and one write lock held from the start.
        conn.execute_batch("PRAGMA cache_size = -524288; BEGIN IMMEDIATE")?;
        Ok(SqliteImport {
            store,
            conn,
            tenant,
            counts: ImportCounts::default(),
            started: Timestamp::now(),
        })
    }

    fn upsert_one(&mut self, record: StoredRecord) -> rusqlite::Result<()> {
        match record.columns {
            Columns::Machine { dns_name, last_seen } => {
                self.conn.prepare_cached(UPSERT_MACHINE)?.execute(params![
                    self.tenant.0,
                    record.id,
                    dns_name,
                    last_seen,
                    record.doc
                ])?;
                self.counts.machines += 1;
            }
            Columns::Alert {
                machine_id,
                last_update,
                evidence,
            } => {
                let last_update = last_update.unwrap_or(self.started.0);
                self.conn.prepare_cached(UPSERT_ALERT)?.execute(params![
                    self.tenant.0,
                    record.id,
                    machine_id,
                    last_update,
                    record.doc,
                    evidence
                ])?;
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
        self.conn.execute_batch("COMMIT")?;
        self.store.generation.fetch_add(1, std::sync::atomic::Ordering::Release);
        // Move the imported pages from the WAL into the database file now, as far as open
        // readers allow, without waiting for them.
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
        Ok(self.counts)
    }
}
