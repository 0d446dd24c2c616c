//! Statements that write entity rows. Every write stores the catalog's columns beside the
//! document, computed from the document itself, so lists always filter what they serve.

use super::{Dialect, table};
use crate::query::EntitySet;

fn columns(set: EntitySet) -> Vec<&'static str> {
    set.stored().filter_map(|f| f.column).collect()
}

/// Parameters `first, first+1, ...` for the set's stored columns.
fn placeholders<D: Dialect>(set: EntitySet, first: usize) -> String {
    (0..columns(set).len())
        .map(|i| D::write_parameter(first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

fn assignments<D: Dialect>(set: EntitySet, first: usize) -> String {
    columns(set)
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = {}", D::write_parameter(first + i)))
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

fn parameters<D: Dialect>(range: std::ops::RangeInclusive<usize>) -> String {
    range.map(D::write_parameter).collect::<Vec<_>>().join(", ")
}

/// Parameters: tenant, id, doc, then the stored columns.
pub(crate) fn upsert_machine<D: Dialect>() -> String {
    let set = EntitySet::Machines;
    format!(
        "INSERT INTO machines (tenant, id, doc, {}) VALUES ({}, {})
         ON CONFLICT (tenant, id) DO UPDATE SET doc = excluded.doc, {}",
        columns(set).join(", "),
        parameters::<D>(1..=3),
        placeholders::<D>(set, 4),
        from_excluded(set)
    )
}

/// Parameters: tenant, id, machine id, last update, doc, evidence, then the stored columns.
pub(crate) fn upsert_alert<D: Dialect>() -> String {
    let set = EntitySet::Alerts;
    format!(
        "INSERT INTO alerts (tenant, id, machine_id, last_update, doc, evidence, {}) VALUES ({}, {})
         ON CONFLICT (tenant, id) DO UPDATE SET machine_id = excluded.machine_id, last_update = excluded.last_update,
         doc = excluded.doc, evidence = excluded.evidence, {}",
        columns(set).join(", "),
        parameters::<D>(1..=6),
        placeholders::<D>(set, 7),
        from_excluded(set)
    )
}

/// Parameters: tenant, id, doc, then the stored columns.
pub(crate) fn update_machine<D: Dialect>() -> String {
    format!(
        "UPDATE machines SET doc = {}, {} WHERE tenant = {} AND id = {}",
        D::write_parameter(3),
        assignments::<D>(EntitySet::Machines, 4),
        D::write_parameter(1),
        D::write_parameter(2)
    )
}

/// Parameters: tenant, id, doc, last update, then the stored columns.
pub(crate) fn update_alert<D: Dialect>() -> String {
    format!(
        "UPDATE alerts SET doc = {}, last_update = {}, {} WHERE tenant = {} AND id = {}",
        D::write_parameter(3),
        D::write_parameter(4),
        assignments::<D>(EntitySet::Alerts, 5),
        D::write_parameter(1),
        D::write_parameter(2)
    )
}

/// Parameters: the stored columns, then tenant and id (for a migration's backfill).
pub(crate) fn backfill<D: Dialect>(set: EntitySet) -> String {
    let n = columns(set).len();
    format!(
        "UPDATE {} SET {} WHERE tenant = {} AND id = {}",
        table(set),
        assignments::<D>(set, 1),
        D::write_parameter(n + 1),
        D::write_parameter(n + 2)
    )
}
