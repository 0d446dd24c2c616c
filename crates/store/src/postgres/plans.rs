//! The plans PostgreSQL makes of list queries: every filterable property's equality, in the
//! list's default order, is read from that property's index without a sort, on tables whose
//! statistics say each value is rare (20,000 rows, 500 values per column). This proves that an
//! index matching the query's expressions (`lower(...)`) and order (`NULLS FIRST`) exists.

use openmde_odata::ast::CompareOp;
use tokio_postgres::types::ToSql;

use super::PgStore;
use super::dialect::Postgres;
use crate::query::{Condition, EntitySet, FieldType, ListQuery, Scalar, Scope, Subject, Target};
use crate::sql::list::page_statement;
use crate::{Store, TenantKey};

/// `EXPLAIN` of one page of `query`, a line per step.
async fn plan(store: &PgStore, tenant: TenantKey, query: &ListQuery) -> String {
    let client = store.client().await.unwrap();
    let sql = page_statement::<Postgres>(tenant, query);
    let params: Vec<&(dyn ToSql + Sync)> = sql.params.iter().map(|p| p as _).collect();
    let rows = client.query(&format!("EXPLAIN {}", sql.text), &params).await.unwrap();
    rows.iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// 20,000 alerts and machines whose every column holds 500 values, and fresh statistics.
async fn fill(store: &PgStore, tenant: TenantKey) {
    let client = store.client().await.unwrap();
    for (set, keys) in [
        (EntitySet::Alerts, "id, last_update, doc, evidence, machine_id"),
        (EntitySet::Machines, "id, doc"),
    ] {
        let columns: Vec<&str> = set.stored().filter_map(|f| f.column).collect();
        let values: Vec<&str> = set
            .stored()
            .map(|f| match f.field_type {
                FieldType::Id | FieldType::Text => "'v' || (i % 500)",
                _ => "i % 500",
            })
            .collect();
        let key_values = match set {
            EntitySet::Alerts => "'a' || i, i, '{}', '[]', 'm' || (i % 500)",
            EntitySet::Machines => "'m' || i, '{}'",
        };
        let table = crate::sql::table(set);
        client
            .execute(
                &format!(
                    "INSERT INTO {table} (tenant, {keys}, {}) SELECT $1, {key_values}, {} FROM generate_series(1, 20000) i",
                    columns.join(", "),
                    values.join(", ")
                ),
                &[&tenant.0],
            )
            .await
            .unwrap();
        client.batch_execute(&format!("ANALYZE {table}")).await.unwrap();
    }
}

#[tokio::test]
async fn every_filterable_property_is_read_through_its_index_in_list_order() {
    let Ok(base) = std::env::var("OPENMDE_TEST_DATABASE_URL") else {
        eprintln!("OPENMDE_TEST_DATABASE_URL is not set: skipping a PostgreSQL test");
        return;
    };
    let schema = format!("plans_{}", uuid::Uuid::new_v4().simple());
    let url = super::with_schema(&base, &schema).await.unwrap();
    let store = PgStore::open(&url, 1).await.unwrap();
    let tenant = store.create_tenant("t", "T", "t.example").await.unwrap().key;
    fill(&store, tenant).await;
    for (set, table, scope) in [
        (
            EntitySet::Alerts,
            "alerts",
            Scope::Alerts {
                updated_since: openmde_model::Timestamp(0),
                machine_id: None,
            },
        ),
        (
            EntitySet::Machines,
            "machines",
            Scope::Machines {
                seen_since: openmde_model::Timestamp(0),
            },
        ),
    ] {
        for field in set.fields().iter().filter(|f| f.column.is_some_and(|c| c != "id")) {
            let value = match field.field_type {
                FieldType::Id | FieldType::Text => Scalar::Text("x".into()),
                _ => Scalar::Integer(1),
            };
            let condition = Condition::Compare {
                target: Target {
                    subject: Subject::Column(field),
                    field_type: field.field_type,
                    lowercase: false,
                },
                op: CompareOp::Eq,
                value,
            };
            let query = ListQuery {
                filter: Some(condition),
                limit: 100,
                ..ListQuery::new(scope.clone())
            };
            let plan = plan(&store, tenant, &query).await;
            let index = format!("{table}_by_{}", field.column.unwrap_or_default());
            assert!(
                plan.contains(&format!("Index Scan using {index} ")),
                "{}: {plan}",
                field.name
            );
            // Time columns are indexed for their own ranges and order; the rows of one exact
            // time are few, and sorting them by lastUpdateTime costs nothing.
            if !matches!(field.field_type, FieldType::Timestamp) || field.name == "lastUpdateTime" {
                assert!(!plan.contains("Sort"), "{} sorts: {plan}", field.name);
            }
        }
    }
}
