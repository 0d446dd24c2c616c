//! Bulk upserts in one transaction on a connection of their own, so an import never holds up
//! the server's own writes for longer than SQLite's single-writer rule requires.

use std::sync::Arc;

use async_trait::async_trait;
use openmde_model::Timestamp;
use rusqlite::{Connection, ToSql, params_from_iter};

use super::writes::{UPSERT_ALERT, UPSERT_MACHINE};
use crate::{Columns, Import, ImportCounts, Result, StoreError, StoredRecord, TenantKey};

pub struct SqliteImport {
    store: Arc<super::Inner>,
    conn: Connection,
    tenant: TenantKey,
    counts: ImportCounts,
    started: Timestamp,
    /// Indexes dropped for the import, recreated before it commits.
    deferred_indexes: Vec<String>,
}

impl SqliteImport {
    pub(super) fn begin(store: Arc<super::Inner>, tenant: TenantKey) -> Result<Self> {
        let conn = super::open_connection(&store.path)?;
        // Large imports: a bigger page cache, and one write lock held from the start.
        conn.execute_batch("PRAGMA cache_size = -524288; BEGIN IMMEDIATE")?;
        let deferred_indexes = defer_indexes_of_empty_tables(&conn)?;
        Ok(SqliteImport {
            store,
            conn,
            tenant,
            counts: ImportCounts::default(),
            started: Timestamp::now(),
            deferred_indexes,
        })
    }

    fn upsert_one(&mut self, record: StoredRecord) -> rusqlite::Result<()> {
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

/// Drops the non-unique indexes of entity tables that hold no rows yet, returning their
/// definitions: building an index once over a million rows takes a fraction of the time of
/// keeping it ordered through a million inserts. The drop is part of the import's transaction,
/// so an import that does not commit leaves every index in place.
fn defer_indexes_of_empty_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut deferred = Vec::new();
    for table in ["alerts", "machines"] {
        let empty: bool = conn.query_row(&format!("SELECT NOT EXISTS (SELECT 1 FROM {table})"), [], |r| r.get(0))?;
        if !empty {
            continue;
        }
        let indexes: Vec<(String, String)> = conn
            .prepare(
                "SELECT s.name, s.sql FROM pragma_index_list(?1) i JOIN sqlite_schema s ON s.name = i.name
                 WHERE i.\"unique\" = 0 AND i.origin = 'c' AND s.sql IS NOT NULL",
            )?
            .query_map([table], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, sql) in indexes {
            conn.execute_batch(&format!("DROP INDEX \"{name}\""))?;
            deferred.push(sql);
        }
    }
    Ok(deferred)
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
        for index in &self.deferred_indexes {
            self.conn.execute_batch(index)?;
        }
        if !self.deferred_indexes.is_empty() {
            super::migrations::write_planner_statistics(&self.conn)?;
        }
        self.conn.execute_batch("COMMIT")?;
        self.store.generation.fetch_add(1, std::sync::atomic::Ordering::Release);
        // Move the imported pages from the WAL into the database file now, as far as open
        // readers allow, without waiting for them.
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
        Ok(self.counts)
    }
}
