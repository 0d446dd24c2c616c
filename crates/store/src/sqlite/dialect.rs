//! SQLite's spelling of the shared SQL ([`crate::sql`]).

use std::sync::LazyLock;

use openmde_odata::ast::TextFunction;
use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, Value as SqlValue};

use crate::query::{Direction, EntitySet, Scalar};
use crate::sql::{Dialect, writes};

pub(super) struct Sqlite;

impl Dialect for Sqlite {
    /// `+?N`, so that SQLite keeps the statement's plan when the value changes (see the module
    /// documentation of `sqlite`).
    fn parameter(n: usize, _: &Scalar) -> String {
        format!("+?{n}")
    }

    fn write_parameter(n: usize) -> String {
        format!("?{n}")
    }

    /// The columns' indexes are `COLLATE NOCASE` too.
    fn folded(expression: &str) -> String {
        format!("{expression} COLLATE NOCASE")
    }

    /// The left side's collation covers both.
    fn folded_value(parameter: String) -> String {
        parameter
    }

    const DISTINCT: &'static str = "IS NOT";
    const FALSE: &'static str = "0";

    /// SQLite's own rule.
    fn nulls(_: Direction) -> &'static str {
        ""
    }

    fn exists_element(name: &str, negated: bool, predicate: &str) -> String {
        format!(
            "{}EXISTS (SELECT 1 FROM json_each(t.doc, '$.{name}') e WHERE e.type <> 'null' AND {predicate})",
            if negated { "NOT " } else { "" }
        )
    }

    fn element() -> String {
        "e.value".into()
    }

    fn element_member(name: &str) -> String {
        format!("json_extract(e.value, '$.{name}')")
    }

    /// LIKE folds ASCII case by itself.
    fn like(read: &str, pattern: &str) -> String {
        format!("{read} LIKE {pattern} ESCAPE '\\'")
    }

    fn exact_text(function: TextFunction, read: &str, needle: &str, length: i64) -> String {
        match function {
            TextFunction::StartsWith => format!("substr({read}, 1, {length}) = {needle}"),
            TextFunction::EndsWith => format!("substr({read}, -{length}) = {needle}"),
            TextFunction::Contains => format!("instr({read}, {needle}) > 0"),
        }
    }
}

impl ToSql for Scalar {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Scalar::Null => ToSqlOutput::Owned(SqlValue::Null),
            Scalar::Integer(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Scalar::Text(s) => ToSqlOutput::Borrowed(s.as_str().into()),
        })
    }
}

pub(super) fn scalar_of(value: SqlValue) -> Scalar {
    match value {
        SqlValue::Integer(i) => Scalar::Integer(i),
        SqlValue::Text(s) => Scalar::Text(s),
        _ => Scalar::Null,
    }
}

pub(super) static UPSERT_MACHINE: LazyLock<String> = LazyLock::new(writes::upsert_machine::<Sqlite>);
pub(super) static UPSERT_ALERT: LazyLock<String> = LazyLock::new(writes::upsert_alert::<Sqlite>);
pub(super) static UPDATE_MACHINE: LazyLock<String> = LazyLock::new(writes::update_machine::<Sqlite>);
pub(super) static UPDATE_ALERT: LazyLock<String> = LazyLock::new(writes::update_alert::<Sqlite>);

pub(super) fn backfill(set: EntitySet) -> String {
    writes::backfill::<Sqlite>(set)
}
