//! Statements that write entity rows. Every write stores the catalog's columns beside the
//! document, computed from the document itself, so lists always filter what they serve.

use std::sync::LazyLock;

use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, Value as SqlValue};

use crate::query::{EntitySet, Scalar};

impl ToSql for Scalar {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Scalar::Null => ToSqlOutput::Owned(SqlValue::Null),
            Scalar::Integer(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Scalar::Text(s) => ToSqlOutput::Borrowed(s.as_str().into()),
        })
    }
}

fn columns(set: EntitySet) -> Vec<&'static str> {
    set.stored().filter_map(|f| f.column).collect()
}

/// `?{first}, ?{first+1}, ...` for the set's stored columns.
fn placeholders(set: EntitySet, first: usize) -> String {
    (0..columns(set).len())
        .map(|i| format!("?{}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

fn assignments(set: EntitySet, first: usize) -> String {
    columns(set)
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

fn from_excluded(set: EntitySet) -> String {
    columns(set)
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parameters: tenant, id, doc, then the stored columns.
pub static UPSERT_MACHINE: LazyLock<String> = LazyLock::new(|| {
    let set = EntitySet::Machines;
    format!(
        "INSERT INTO machines (tenant, id, doc, {}) VALUES (?1, ?2, ?3, {})
         ON CONFLICT (tenant, id) DO UPDATE SET doc = excluded.doc, {}",
        columns(set).join(", "),
        placeholders(set, 4),
        from_excluded(set)
    )
});

/// Parameters: tenant, id, machine id, last update, doc, evidence, then the stored columns.
pub static UPSERT_ALERT: LazyLock<String> = LazyLock::new(|| {
    let set = EntitySet::Alerts;
    format!(
        "INSERT INTO alerts (tenant, id, machine_id, last_update, doc, evidence, {}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, {})
         ON CONFLICT (tenant, id) DO UPDATE SET machine_id = excluded.machine_id, last_update = excluded.last_update,
         doc = excluded.doc, evidence = excluded.evidence, {}",
        columns(set).join(", "),
        placeholders(set, 7),
        from_excluded(set)
    )
});

/// Parameters: tenant, id, doc, then the stored columns.
pub static UPDATE_MACHINE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE machines SET doc = ?3, {} WHERE tenant = ?1 AND id = ?2",
        assignments(EntitySet::Machines, 4)
    )
});

/// Parameters: tenant, id, doc, last update, then the stored columns.
pub static UPDATE_ALERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE alerts SET doc = ?3, last_update = ?4, {} WHERE tenant = ?1 AND id = ?2",
        assignments(EntitySet::Alerts, 5)
    )
});

/// Parameters: the stored columns, then tenant and id (for the migration's backfill).
pub fn backfill(set: EntitySet) -> String {
    let n = columns(set).len();
    format!(
        "UPDATE {} SET {} WHERE tenant = ?{} AND id = ?{}",
        super::list::table(set),
        assignments(set, 1),
        n + 1,
        n + 2
    )
}
