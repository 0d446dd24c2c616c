//! Bulk upserts in one transaction on a connection of their own. Statements of a batch are
//! pipelined: sent together, answered in order, without a round trip each.

use async_trait::async_trait;
use deadpool_postgres::Object;
use futures_util::future::try_join_all;
use openmde_access::DeviceGroup;
use openmde_model::Timestamp;
use tokio_postgres::types::ToSql;

use super::dialect::{UPSERT_ALERT, UPSERT_MACHINE};
use super::{PgResult, access, to_document, to_text, with_fields};
use crate::query::EntitySet;
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
        let client = self.connection()?;
        let (machine, alert) = (
            client.prepare_cached(&UPSERT_MACHINE).await?,
            client.prepare_cached(&UPSERT_ALERT).await?,
        );
        let (mut machines, mut alerts) = (0, 0);
        let parameters: Vec<(bool, Vec<&(dyn ToSql + Sync)>)> = records
            .iter()
            .map(|record| match &record.columns {
                Columns::Machine => {
                    machines += 1;
                    (
                        true,
                        with_fields(&[&self.tenant.0, &record.id, &record.doc], &record.fields),
                    )
                }
                Columns::Alert {
                    machine_id,
                    last_update,
                    evidence,
                } => {
                    alerts += 1;
                    let last_update: &(dyn ToSql + Sync) = match last_update {
                        Some(time) => time,
                        None => &self.started.0,
                    };
                    let key: [&(dyn ToSql + Sync); 6] = [
                        &self.tenant.0,
                        &record.id,
                        machine_id,
                        last_update,
                        &record.doc,
                        evidence,
                    ];
                    (false, with_fields(&key, &record.fields))
                }
            })
            .collect();
        try_join_all(parameters.iter().map(|(is_machine, params)| {
            let statement = if *is_machine { &machine } else { &alert };
            client.execute(statement, params)
        }))
        .await?;
        self.counts.machines += machines;
        self.counts.alerts += alerts;
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
