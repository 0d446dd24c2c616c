//! Lists on SQLite: the shared translation ([`crate::sql::list`]) run on a pooled reader.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use super::dialect::{Sqlite, scalar_of};
use crate::TenantKey;
use crate::query::{ListQuery, Page, Row};
use crate::sql::list::{count_statement, page_of, page_statement};

pub(super) fn list(conn: &Connection, tenant: TenantKey, query: &ListQuery) -> rusqlite::Result<Page> {
    let count = if query.count {
        let count_sql = count_statement::<Sqlite>(tenant, query);
        let total: i64 = conn
            .prepare_cached(&count_sql.text)?
            .query_row(params_from_iter(&count_sql.params), |row| row.get(0))?;
        Some(total.max(0) as u64)
    } else {
        None
    };
    if query.limit == 0 {
        return Ok(page_of(query, Vec::new(), count));
    }
    let page_sql = page_statement::<Sqlite>(tenant, query);
    let mut stmt = conn.prepare_cached(&page_sql.text)?;
    let rows = stmt
        .query_map(params_from_iter(&page_sql.params), |row| {
            let keys = (0..query.order.len())
                .map(|i| row.get::<_, SqlValue>(3 + i).map(scalar_of))
                .collect::<rusqlite::Result<_>>()?;
            let row = Row {
                id: row.get(0)?,
                doc: row.get(1)?,
                evidence: row.get(2)?,
            };
            Ok((row, keys))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(page_of(query, rows, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{Scope, bind};
    use crate::sqlite::SqliteStore;
    use crate::{Store, StoredRecord};
    use openmde_model::Timestamp;
    use openmde_model::{EntityKind, Record};
    use openmde_odata::{Limits, parse_filter};
    use serde_json::json;

    /// The query plan SQLite chooses for a filter, one line per step.
    fn plan(conn: &Connection, scope: Scope, filter: &str, limit: u64) -> String {
        let set = scope.set();
        let query = ListQuery {
            filter: (!filter.is_empty())
                .then(|| bind(set, &parse_filter(filter, &Limits::default()).unwrap()).unwrap()),
            limit,
            ..ListQuery::new(scope)
        };
        let page = page_statement::<Sqlite>(TenantKey(1), &query);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", page.text)).unwrap();
        let steps: Vec<String> = stmt
            .query_map(params_from_iter(&page.params), |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        steps.join("\n")
    }

    #[tokio::test]
    async fn filters_that_matter_at_scale_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        let tenant = store.create_tenant("t", "T", "t.example").await.unwrap().key;
        // Plans can depend on what the tables hold: a few hundred rows of each.
        let records: Vec<StoredRecord> = (0..300)
            .flat_map(|i| {
                let machine = json!({"id": format!("m{i}"), "computerDnsName": format!("ws-{i}"),
                    "lastSeen": "2024-05-01T00:00:00Z", "healthStatus": "Active"});
                let alert = json!({"id": format!("a{i}"), "machineId": format!("m{i}"), "severity": "High",
                    "status": "New", "lastUpdateTime": "2024-05-01T00:00:00Z"});
                [(EntityKind::Machine, machine), (EntityKind::Alert, alert)]
            })
            .map(|(kind, doc)| Record::new(kind, doc.as_object().cloned().unwrap()).unwrap().into())
            .collect();
        let mut import = store.begin_import(tenant).await.unwrap();
        import.upsert(records).await.unwrap();
        import.commit().await.unwrap();
        let conn = super::super::open_connection(&dir.path().join("db")).unwrap();
        let alerts = Scope::Alerts {
            updated_since: Timestamp(0),
            machine_id: None,
        };
        let machines = Scope::Machines {
            seen_since: Timestamp(0),
        };
        let of_machine = Scope::Alerts {
            updated_since: Timestamp(0),
            machine_id: Some("m1".into()),
        };
        for (scope, filter, index) in [
            (alerts.clone(), "", "alerts_by_last_update_time"),
            (
                alerts.clone(),
                "severity eq 'High' and lastUpdateTime ge 2024-01-01Z",
                "alerts_by_severity",
            ),
            (alerts.clone(), "status eq 'New'", "alerts_by_status"),
            (alerts, "incidentId eq 7", "alerts_by_incident_id"),
            (machines.clone(), "", "PRIMARY KEY"),
            (
                machines.clone(),
                "computerDnsName eq 'ws-1.contoso.com'",
                "machines_by_dns_name",
            ),
            (
                machines.clone(),
                "lastIpAddress eq '10.0.0.1'",
                "machines_by_last_ip_address",
            ),
            (machines, "healthStatus eq 'Active'", "machines_by_health_status"),
            (of_machine, "status ne 'Resolved'", "alerts_by_machine"),
        ] {
            // Plans differ with the limit: `$top=1` against a full page.
            for limit in [1, 100] {
                let plan = plan(&conn, scope.clone(), filter, limit);
                println!("{filter} ($top={limit}):\n{plan}\n");
                assert!(
                    plan.contains(&format!("USING {index}")) || plan.contains(&format!("USING INDEX {index}")),
                    "{filter}: {plan}"
                );
                assert!(!plan.contains("TEMP B-TREE"), "{filter} sorts: {plan}");
            }
        }
    }
}
