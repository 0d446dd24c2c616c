//! Statements that write entity rows. Every write stores the catalog's columns beside the
//! document, computed from the document itself, so lists always filter what they serve.

use super::{Dialect, table};
use crate::query::EntitySet;

pub(crate) fn columns(set: EntitySet) -> Vec<&'static str> {
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

/// The key columns an upsert of `set` writes before the stored columns, after `tenant`.
pub(crate) fn key_columns(set: EntitySet) -> &'static [&'static str] {
    match set {
        EntitySet::Machines => &["id", "doc"],
        EntitySet::Alerts => &["id", "machine_id", "last_update", "doc", "evidence"],
    }
}

/// Inserts or replaces (by tenant and id) the rows of `source`, a `VALUES` list or a query
/// giving tenant, the [`key_columns`], then the stored columns.
pub(crate) fn upsert(set: EntitySet, source: &str) -> String {
    let keys = key_columns(set);
    let replaced: Vec<String> = keys[1..].iter().map(|c| format!("{c} = excluded.{c}")).collect();
    format!(
        "INSERT INTO {} (tenant, {}, {}) {source}
         ON CONFLICT (tenant, id) DO UPDATE SET {}, {}",
        table(set),
        keys.join(", "),
        columns(set).join(", "),
        replaced.join(", "),
        from_excluded(set)
    )
}

/// Parameters: tenant, the key columns, then the stored columns.
fn upsert_one<D: Dialect>(set: EntitySet) -> String {
    let first_stored = key_columns(set).len() + 2;
    upsert(
        set,
        &format!(
            "VALUES ({}, {})",
            parameters::<D>(1..=first_stored - 1),
            placeholders::<D>(set, first_stored)
        ),
    )
}

/// Parameters: tenant, id, doc, then the stored columns.
pub(crate) fn upsert_machine<D: Dialect>() -> String {
    upsert_one::<D>(EntitySet::Machines)
}

/// Parameters: tenant, id, machine id, last update, doc, evidence, then the stored columns.
pub(crate) fn upsert_alert<D: Dialect>() -> String {
    upsert_one::<D>(EntitySet::Alerts)
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
