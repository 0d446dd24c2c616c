//! SQL text shared by the backends: the translation of a [`ListQuery`](crate::query::ListQuery)
//! (`list.rs`) and the statements that write entity rows (`writes.rs`). What differs between
//! SQLite and PostgreSQL is a [`Dialect`], which each backend implements in its own folder.

pub(crate) mod list;
pub(crate) mod writes;

use openmde_odata::ast::TextFunction;

use crate::query::{Direction, EntitySet, Scalar};

/// How a backend spells what standard SQL leaves open.
pub(crate) trait Dialect {
    /// The `n`-th (1-based) parameter of a list query, which will hold `value`.
    fn parameter(n: usize, value: &Scalar) -> String;
    /// The `n`-th (1-based) parameter of a write, typed by its column.
    fn write_parameter(n: usize) -> String;
    /// A text expression as text compares and sorts: without regard to ASCII case.
    fn folded(expression: &str) -> String;
    /// A bound value compared with a [`folded`](Self::folded) expression.
    fn folded_value(parameter: String) -> String;
    /// Null-safe "differs from".
    const DISTINCT: &'static str;
    const FALSE: &'static str;
    /// What an `ORDER BY` key needs so that nulls come first ascending and last descending.
    fn nulls(direction: Direction) -> &'static str;
    /// `EXISTS` (or `NOT EXISTS`) over the non-null elements `e` of the collection `name` of the
    /// row's document that satisfy `predicate`.
    fn exists_element(name: &str, negated: bool, predicate: &str) -> String;
    /// A string element, as text.
    fn element() -> String;
    /// The member `name` of a complex element, as text.
    fn element_member(name: &str) -> String;
    /// A case-insensitive `LIKE` with `\` as the escape character.
    fn like(read: &str, pattern: &str) -> String;
    /// startswith/endswith/contains compared exactly (identifiers).
    fn exact_text(function: TextFunction, read: &str, needle: &str, length: i64) -> String;
}

pub(crate) fn table(set: EntitySet) -> &'static str {
    match set {
        EntitySet::Alerts => "alerts",
        EntitySet::Machines => "machines",
    }
}
