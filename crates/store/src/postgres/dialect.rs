//! PostgreSQL's spelling of the shared SQL ([`crate::sql`]).

use std::sync::LazyLock;

use openmde_odata::ast::TextFunction;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::query::{Direction, Scalar};
use crate::sql::{Dialect, writes};

pub(super) struct Postgres;

impl Dialect for Postgres {
    /// Typed by a cast: inside expressions (`lower($1)`, `CASE ... END = $2`) PostgreSQL could
    /// not infer the type, or would infer `int4`, which a 64-bit value does not fit.
    fn parameter(n: usize, value: &Scalar) -> String {
        match value {
            Scalar::Integer(_) => format!("${n}::int8"),
            Scalar::Text(_) | Scalar::Null => format!("${n}::text"),
        }
    }

    fn write_parameter(n: usize) -> String {
        format!("${n}")
    }

    /// The text columns' indexes are on `lower(column)`.
    fn folded(expression: &str) -> String {
        format!("lower({expression})")
    }

    fn folded_value(parameter: String) -> String {
        format!("lower({parameter})")
    }

    const DISTINCT: &'static str = "IS DISTINCT FROM";
    const FALSE: &'static str = "FALSE";

    /// PostgreSQL sorts nulls last ascending; the indexes are `NULLS FIRST` to match.
    fn nulls(direction: Direction) -> &'static str {
        match direction {
            Direction::Ascending => " NULLS FIRST",
            Direction::Descending => " NULLS LAST",
        }
    }

    /// Documents are text; only a lambda over a collection parses one as `jsonb`. A property
    /// that is not an array has no elements (as with SQLite's `json_each` of a missing one).
    fn exists_element(name: &str, negated: bool, predicate: &str) -> String {
        format!(
            "{}EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(t.doc::jsonb -> '{name}') = 'array' \
             THEN t.doc::jsonb -> '{name}' END) e(value) WHERE jsonb_typeof(e.value) <> 'null' AND {predicate})",
            if negated { "NOT " } else { "" }
        )
    }

    fn element() -> String {
        "(e.value #>> '{}')".into()
    }

    fn element_member(name: &str) -> String {
        format!("(e.value ->> '{name}')")
    }

    fn like(read: &str, pattern: &str) -> String {
        format!("lower({read}) LIKE lower({pattern}) ESCAPE '\\'")
    }

    fn exact_text(function: TextFunction, read: &str, needle: &str, length: i64) -> String {
        match function {
            TextFunction::StartsWith => format!("left({read}, {length}) = {needle}"),
            TextFunction::EndsWith => format!("right({read}, {length}) = {needle}"),
            TextFunction::Contains => format!("strpos({read}, {needle}) > 0"),
        }
    }
}

impl ToSql for Scalar {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Scalar::Null => Ok(IsNull::Yes),
            Scalar::Integer(i) => i.to_sql(ty, out),
            Scalar::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty) || <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

pub(super) static UPSERT_ALERT: LazyLock<String> = LazyLock::new(writes::upsert_alert::<Postgres>);
pub(super) static UPDATE_MACHINE: LazyLock<String> = LazyLock::new(writes::update_machine::<Postgres>);
pub(super) static UPDATE_ALERT: LazyLock<String> = LazyLock::new(writes::update_alert::<Postgres>);
