//! Schema migrations, applied in order, each in its own transaction with its data step.

use rusqlite::{Connection, ToSql, Transaction, params_from_iter};

use crate::query::EntitySet;

type DataStep = fn(&Transaction<'_>) -> rusqlite::Result<()>;

const MIGRATIONS: &[(i64, &str, Option<DataStep>)] = &[
    (1, include_str!("../../migrations/sqlite/0001_initial.sql"), None),
    // Its columns are filled by migration 6, which computes every query column again.
    (2, include_str!("../../migrations/sqlite/0002_query_columns.sql"), None),
    (3, include_str!("../../migrations/sqlite/0003_users.sql"), None),
    (4, include_str!("../../migrations/sqlite/0004_device_codes.sql"), None),
    (
        5,
        include_str!("../../migrations/sqlite/0005_app_certificates.sql"),
        None,
    ),
    (
        6,
        include_str!("../../migrations/sqlite/0006_access.sql"),
        Some(set_up_access),
    ),
    (
        7,
        include_str!("../../migrations/sqlite/0007_retention_in_order_indexes.sql"),
        None,
    ),
];

/// Applies the migrations this database lacks. A database that is up to date is only read:
/// opening the store (the server, `openmde import`, `apps create`) then takes no write lock.
pub fn run(conn: &mut Connection) -> rusqlite::Result<()> {
    run_until(conn, i64::MAX)
}

/// Applies the missing migrations up to version `last`.
fn run_until(conn: &mut Connection, last: i64) -> rusqlite::Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")?;
    let known: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut applied_any = false;
    for (version, sql, data_step) in MIGRATIONS.iter().filter(|(v, ..)| !known.contains(v) && *v <= last) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have applied it since the read above.
        let applied: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if !applied {
            tx.execute_batch(sql)?;
            if let Some(step) = data_step {
                step(&tx)?;
            }
            tx.execute("INSERT INTO schema_migrations (version) VALUES (?1)", [version])?;
            applied_any = true;
        }
        tx.commit()?;
    }
    if applied_any {
        fix_planner_statistics(conn)?;
    }
    Ok(())
}

/// Rows the planner is told each entity table holds.
const ASSUMED_ROWS: u64 = 1_000_000;

/// Writes fixed statistics for the planner instead of measured ones (the store never runs
/// `ANALYZE`). Without any, SQLite takes `tenant = ?` for a selective condition and, on the
/// clustered machines table, prefers scanning the primary key over any index. Told that a tenant
/// holds every row, that a value of a filter column matches 100, and that an id matches one, it
/// picks the index of the filtered column, the same way on an empty database as on a full one.
fn fix_planner_statistics(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Analysing the schema table measures nothing and creates sqlite_stat1.
    tx.execute_batch("ANALYZE sqlite_schema; DELETE FROM sqlite_stat1;")?;
    // The index list includes the primary key of the clustered (WITHOUT ROWID) machines table.
    let indexes: Vec<(String, String)> = tx
        .prepare(
            "SELECT t.name, i.name FROM (SELECT 'alerts' AS name UNION ALL SELECT 'machines') t,
             pragma_index_list(t.name) i",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (table, index) in indexes {
        let columns: Vec<String> = tx
            .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?
            .query_map([&index], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut stat = vec![ASSUMED_ROWS];
        let mut past_id = false;
        for column in &columns {
            past_id |= column == "id";
            stat.push(match column.as_str() {
                _ if past_id => 1,
                "tenant" => ASSUMED_ROWS,
                _ => 100,
            });
        }
        let stat: Vec<String> = stat.iter().map(u64::to_string).collect();
        tx.execute(
            "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?1, ?2, ?3)",
            [&table, &index, &stat.join(" ")],
        )?;
    }
    tx.commit()
}

/// Gives every tenant its built-in role, administrators group and Ungrouped device group
/// (every existing user an administrator, as before roles existed), fills the query columns
/// and puts every machine into its group.
fn set_up_access(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    fill_query_columns(tx)?;
    let tenants: Vec<(i64, i64)> = tx
        .prepare("SELECT key, created FROM tenants")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (tenant, created) in tenants {
        let tenant = crate::TenantKey(tenant);
        let administrators = super::access::set_up_tenant(tx, tenant, openmde_model::Timestamp(created))?;
        tx.execute(
            "INSERT INTO user_group_members (tenant, group_id, user_id) SELECT tenant, ?2, object_id FROM users WHERE tenant = ?1",
            rusqlite::params![tenant.0, administrators],
        )?;
        super::access::reassign_machines(tx, tenant)?;
    }
    Ok(())
}

/// Computes every query column of every row from its document (after columns were added).
fn fill_query_columns(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    for set in [EntitySet::Alerts, EntitySet::Machines] {
        let table = crate::sql::table(set);
        let rows: Vec<(i64, String, String)> = tx
            .prepare(&format!("SELECT tenant, id, doc FROM {table}"))?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut update = tx.prepare(&super::dialect::backfill(set))?;
        for (tenant, id, doc) in rows {
            let document: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&doc).map_err(super::unreadable_json)?;
            let values = set.column_values(&document);
            let key: [&dyn ToSql; 2] = [&tenant, &id];
            update.execute(params_from_iter(values.iter().map(|v| v as &dyn ToSql).chain(key)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_store_from_before_roles_keeps_its_users_as_administrators_and_groups_its_machines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut conn = super::super::open_connection(&path).unwrap();
        run_until(&mut conn, 5).unwrap();
        conn.execute_batch(
            r#"INSERT INTO tenants (key, id, name, domain, created) VALUES (1, 't', 'T', 't.example', 0);
               INSERT INTO users (tenant, object_id, upn, display_name, password_hash, created)
                 VALUES (1, 'u1', 'a@t.example', 'A', 'x', 0);
               INSERT INTO machines (tenant, id, doc, rbac_group_id)
                 VALUES (1, 'm1', '{"id":"m1","rbacGroupId":42,"rbacGroupName":"Old"}', 42);
               INSERT INTO alerts (tenant, id, machine_id, last_update, doc, evidence)
                 VALUES (1, 'a1', 'm1', 0, '{"id":"a1","rbacGroupName":"Old"}', '[]');"#,
        )
        .unwrap();
        drop(conn);

        let store = super::super::SqliteStore::open(&path).unwrap();
        let tenant = crate::TenantKey(1);
        let groups = store.user_groups(tenant).await.unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].display_name, crate::ADMINISTRATORS_GROUP);
        assert_eq!(groups[0].members, ["u1"]);
        let policy = store.policy(tenant).await.unwrap();
        let access = openmde_access::Access::of(&policy, &store.member_of(tenant, "u1").await.unwrap());
        assert_eq!(access.devices, openmde_access::DeviceReach::All);
        assert_eq!(policy.device_groups.len(), 1, "the Ungrouped group");
        let machine = store
            .machine(tenant, "m1", openmde_model::Timestamp(0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(machine, r#"{"id":"m1","rbacGroupId":0,"rbacGroupName":null}"#);
        let alert = store
            .alert(tenant, "a1", openmde_model::Timestamp(0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(alert.doc, r#"{"id":"a1","rbacGroupName":null}"#);
    }
    use crate::query::catalog::enum_value;
    use crate::{Store, StoredRecord};
    use openmde_model::schema::ALERT_SEVERITY;
    use openmde_model::{EntityKind, Record};

    #[tokio::test]
    async fn rows_stored_before_new_columns_get_their_query_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = super::super::SqliteStore::open(&path).unwrap();
        let tenant = store.create_tenant("t", "T", "t.example").await.unwrap().key;
        let doc = serde_json::json!({"id": "a1", "severity": "High", "lastUpdateTime": "2024-05-01T00:00:00Z"});
        let record = Record::new(EntityKind::Alert, doc.as_object().cloned().unwrap()).unwrap();
        let mut import = store.begin_import(tenant).await.unwrap();
        import.upsert(vec![StoredRecord::from(record)]).await.unwrap();
        import.commit().await.unwrap();

        let mut conn = super::super::open_connection(&path).unwrap();
        conn.execute_batch("UPDATE alerts SET severity = NULL, last_update_time = NULL")
            .unwrap();
        let tx = conn.transaction().unwrap();
        fill_query_columns(&tx).unwrap();
        tx.commit().unwrap();
        let (severity, updated): (i64, i64) = conn
            .query_row("SELECT severity, last_update_time FROM alerts", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(severity, enum_value(&ALERT_SEVERITY, "High").unwrap());
        assert_eq!(
            updated,
            openmde_model::Timestamp::parse("2024-05-01T00:00:00Z").unwrap().0
        );
    }
}
