//! The one place where a [`ListQuery`] becomes SQL, for either backend's [`Dialect`]. Only
//! catalog column names and schema property names are written into the text; every value is a
//! bound parameter.
//!
//! OData's logic has two values: a comparison with a missing (null) property is false, and
//! `ne` is its negation, so `severity ne 'High'` keeps rows without a severity. SQL's three
//! values differ under `NOT`, so negations are pushed down to the comparisons, each of which
//! then says what it does with null.

use std::marker::PhantomData;

use openmde_odata::ast::{CompareOp, Quantifier, TextFunction};

use super::{Dialect, table};
use crate::TenantKey;
use crate::query::{
    Condition, Cursor, Direction, Field, FieldType, ListQuery, Page, Row, Scalar, Scope, Subject, Target,
};

/// A statement's text and its parameters, built together.
pub(crate) struct Sql<D> {
    pub(crate) text: String,
    pub(crate) params: Vec<Scalar>,
    dialect: PhantomData<D>,
}

impl<D: Dialect> Sql<D> {
    fn new() -> Self {
        Sql {
            text: String::new(),
            params: Vec::new(),
            dialect: PhantomData,
        }
    }

    /// A placeholder for `value` (null is written as such, never bound).
    fn bind(&mut self, value: Scalar) -> String {
        if value == Scalar::Null {
            return "NULL".into();
        }
        let placeholder = D::parameter(self.params.len() + 1, &value);
        self.params.push(value);
        placeholder
    }

    fn bind_text(&mut self, value: String) -> String {
        self.bind(Scalar::Text(value))
    }

    fn bind_integer(&mut self, value: i64) -> String {
        self.bind(Scalar::Integer(value))
    }
}

fn operator(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
    }
}

fn negate(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Eq => CompareOp::Ne,
        CompareOp::Ne => CompareOp::Eq,
        CompareOp::Gt => CompareOp::Le,
        CompareOp::Ge => CompareOp::Lt,
        CompareOp::Lt => CompareOp::Ge,
        CompareOp::Le => CompareOp::Gt,
    }
}

/// `%`, `_` and the escape character itself, escaped for `LIKE ... ESCAPE '\'`.
fn like_escaped(value: &str) -> String {
    value.chars().fold(String::with_capacity(value.len()), |mut out, c| {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// Text compares without regard to ASCII case; ids and numbers exactly.
fn folds(field_type: FieldType) -> bool {
    matches!(field_type, FieldType::Text)
}

impl<D: Dialect> Sql<D> {
    /// An expression as its field type compares and sorts.
    fn comparable(read: &str, field_type: FieldType) -> String {
        if folds(field_type) {
            D::folded(read)
        } else {
            read.to_string()
        }
    }

    /// A bound value compared with an expression of `field_type`.
    fn comparable_value(&mut self, value: &Scalar, field_type: FieldType) -> String {
        let parameter = self.bind(value.clone());
        if folds(field_type) {
            D::folded_value(parameter)
        } else {
            parameter
        }
    }

    /// The SQL expression a target reads.
    fn target(&self, target: &Target) -> String {
        let read = match &target.subject {
            Subject::Column(field) => column(field),
            Subject::Element => D::element(),
            Subject::ElementMember(name) => match target.field_type {
                // Elements keep enum names; compare their member values, as columns hold them.
                FieldType::Enum(enum_type) => {
                    let arms: String = enum_type
                        .members
                        .iter()
                        .map(|(member, value)| format!(" WHEN '{}' THEN {value}", member.to_ascii_lowercase()))
                        .collect();
                    format!("(CASE lower({}){arms} END)", D::element_member(name))
                }
                _ => D::element_member(name),
            },
        };
        if target.lowercase {
            format!("lower({read})")
        } else {
            read
        }
    }

    /// `condition`, or its negation when `negated`, as a SQL boolean in which null (a comparison
    /// with a null property) counts as false.
    fn condition(&mut self, condition: &Condition, negated: bool) -> String {
        match condition {
            Condition::And(a, b) | Condition::Or(a, b) => {
                let is_and = matches!(condition, Condition::And(..)) != negated;
                let (a, b) = (self.condition(a, negated), self.condition(b, negated));
                format!("({a} {} {b})", if is_and { "AND" } else { "OR" })
            }
            Condition::Not(inner) => self.condition(inner, !negated),
            Condition::Compare { target, op, value } => {
                let read = self.target(target);
                let op = if negated { negate(*op) } else { *op };
                if *value == Scalar::Null {
                    return format!("{read} IS {}NULL", if op == CompareOp::Eq { "" } else { "NOT " });
                }
                let left = Self::comparable(&read, target.field_type);
                let value = self.comparable_value(value, target.field_type);
                match op {
                    CompareOp::Eq => format!("{left} = {value}"),
                    CompareOp::Ne => format!("{left} {} {value}", D::DISTINCT),
                    // A null property is not greater, nor less, than anything.
                    _ if negated => format!("({left} {} {value} OR {read} IS NULL)", operator(op)),
                    _ => format!("{left} {} {value}", operator(op)),
                }
            }
            Condition::In { target, values } => {
                let read = self.target(target);
                let left = Self::comparable(&read, target.field_type);
                let list: Vec<String> = values
                    .iter()
                    .map(|v| self.comparable_value(v, target.field_type))
                    .collect();
                if negated {
                    format!("({left} NOT IN ({}) OR {read} IS NULL)", list.join(", "))
                } else {
                    format!("{left} IN ({})", list.join(", "))
                }
            }
            Condition::Text {
                target,
                function,
                value,
            } => {
                let read = self.target(target);
                let test = self.text_function(&read, target.field_type, *function, value);
                if negated {
                    format!("(NOT {test} OR {read} IS NULL)")
                } else {
                    test
                }
            }
            Condition::Lambda {
                collection,
                quantifier,
                predicate,
            } => {
                // all(p) is "no element where not p"; elements that are null do not count.
                let (exists, inner_negated) = match quantifier {
                    Quantifier::Any => (!negated, false),
                    Quantifier::All => (negated, true),
                };
                let predicate = self.condition(predicate, inner_negated);
                D::exists_element(collection.name, !exists, &predicate)
            }
        }
    }

    /// startswith/endswith/contains, true or null (for a null property).
    fn text_function(&mut self, read: &str, field_type: FieldType, function: TextFunction, value: &str) -> String {
        if value.is_empty() {
            return format!("{read} IS NOT NULL");
        }
        if folds(field_type) {
            let pattern = match function {
                TextFunction::StartsWith => format!("{}%", like_escaped(value)),
                TextFunction::EndsWith => format!("%{}", like_escaped(value)),
                TextFunction::Contains => format!("%{}%", like_escaped(value)),
            };
            let pattern = self.bind_text(pattern);
            return D::like(read, &pattern);
        }
        let length = value.chars().count() as i64;
        let needle = self.bind_text(value.to_string());
        D::exact_text(function, read, &needle, length)
    }

    /// The rows a list may show at all. Retention is checked on each row (the unary `+` keeps
    /// the planner from reading it through an index): it holds for nearly every row, so an
    /// index on it would only replace an ordered scan with a sort.
    fn scope(&mut self, tenant: TenantKey, scope: &Scope) -> String {
        let tenant = self.bind_integer(tenant.0);
        match scope {
            Scope::Alerts {
                updated_since,
                machine_id,
            } => {
                let since = self.bind_integer(updated_since.0);
                let mut text = format!("t.tenant = {tenant} AND +t.last_update >= {since}");
                if let Some(machine_id) = machine_id {
                    let machine = self.bind_text(machine_id.clone());
                    text.push_str(&format!(" AND t.machine_id = {machine}"));
                }
                text
            }
            Scope::Machines { seen_since } => {
                let since = self.bind_integer(seen_since.0);
                format!("t.tenant = {tenant} AND (+t.last_seen IS NULL OR +t.last_seen >= {since})")
            }
        }
    }

    /// Rows strictly after `cursor` in the query's order (ties broken by id).
    fn after(&mut self, query: &ListQuery, cursor: &Cursor) -> String {
        let mut alternatives = Vec::with_capacity(query.order.len() + 1);
        let mut equal_so_far: Vec<String> = Vec::new();
        for ((field, direction), key) in query.order.iter().zip(&cursor.keys) {
            let key_column = column(field);
            let comparable = Self::comparable(&key_column, field.field_type);
            // Nulls sort first ascending, last descending.
            let beyond = match (direction, key) {
                (Direction::Ascending, Scalar::Null) => format!("{key_column} IS NOT NULL"),
                (Direction::Descending, Scalar::Null) => D::FALSE.to_string(),
                (Direction::Ascending, key) => {
                    format!("{comparable} > {}", self.comparable_value(key, field.field_type))
                }
                (Direction::Descending, key) => format!(
                    "({comparable} < {} OR {key_column} IS NULL)",
                    self.comparable_value(key, field.field_type)
                ),
            };
            alternatives.push(conjunction(&equal_so_far, beyond));
            let same = match key {
                Scalar::Null => format!("{key_column} IS NULL"),
                key => format!("{comparable} = {}", self.comparable_value(key, field.field_type)),
            };
            equal_so_far.push(same);
        }
        let id = self.bind_text(cursor.id.clone());
        let beyond = if query.tie_direction() == Direction::Descending {
            "<"
        } else {
            ">"
        };
        alternatives.push(conjunction(&equal_so_far, format!("t.id {beyond} {id}")));
        format!("({})", alternatives.join(" OR "))
    }

    /// The `WHERE` clause of a query: scope and filter.
    fn where_clause(&mut self, tenant: TenantKey, query: &ListQuery) -> String {
        let scope = self.scope(tenant, &query.scope);
        match &query.filter {
            Some(filter) => format!("{scope} AND {}", self.condition(filter, false)),
            None => scope,
        }
    }
}

fn conjunction(equal: &[String], last: String) -> String {
    if equal.is_empty() {
        last
    } else {
        format!("({} AND {last})", equal.join(" AND "))
    }
}

/// `t.{column}` of a field; fields that reach SQL as columns always have one.
fn column(field: &Field) -> String {
    format!("t.{}", field.column.unwrap_or("id"))
}

fn keyword(direction: Direction) -> &'static str {
    match direction {
        Direction::Ascending => "ASC",
        Direction::Descending => "DESC",
    }
}

/// The statement counting every row a query matches: one row, one integer.
pub(crate) fn count_statement<D: Dialect>(tenant: TenantKey, query: &ListQuery) -> Sql<D> {
    let mut count = Sql::new();
    let filter = count.where_clause(tenant, query);
    count.text = format!("SELECT count(*) FROM {} t WHERE {filter}", table(query.scope.set()));
    count
}

/// The statement of one page: rows of id, document, evidence (or null) and the ordering keys,
/// one row more than the page holds when more follow.
pub(crate) fn page_statement<D: Dialect>(tenant: TenantKey, query: &ListQuery) -> Sql<D> {
    let mut page = Sql::new();
    let mut filter = page.where_clause(tenant, query);
    if let Some(cursor) = &query.after {
        filter = format!("{filter} AND {}", page.after(query, cursor));
    }
    let evidence = if query.with_evidence { "t.evidence" } else { "NULL" };
    let keys: String = query
        .order
        .iter()
        .map(|(field, _)| format!(", {}", column(field)))
        .collect();
    let order: String = query
        .order
        .iter()
        .map(|(field, direction)| {
            format!(
                "{} {}{}, ",
                Sql::<D>::comparable(&column(field), field.field_type),
                keyword(*direction),
                D::nulls(*direction)
            )
        })
        .collect();
    let limit = page.bind_integer(i64::try_from(query.limit.saturating_add(1)).unwrap_or(i64::MAX));
    let offset = page.bind_integer(i64::try_from(query.skip).unwrap_or(i64::MAX));
    page.text = format!(
        "SELECT t.id, t.doc, {evidence}{keys} FROM {} t WHERE {filter} ORDER BY {order}t.id {} LIMIT {limit} OFFSET {offset}",
        table(query.scope.set()),
        keyword(query.tie_direction())
    );
    page
}

/// The page of a query from the rows of its [`page_statement`], each with its ordering keys.
pub(crate) fn page_of(query: &ListQuery, rows: Vec<(Row, Vec<Scalar>)>, count: Option<u64>) -> Page {
    let more = rows.len() as u64 > query.limit;
    let mut rows = rows;
    rows.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
    let next = match rows.last() {
        Some((last, keys)) if more => Some(Cursor {
            keys: keys.clone(),
            id: last.id.clone(),
        }),
        _ => None,
    };
    Page {
        rows: rows.into_iter().map(|(row, _)| row).collect(),
        next,
        count,
    }
}
