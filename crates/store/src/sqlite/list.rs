//! The one place where a [`ListQuery`] becomes SQLite SQL. Only catalog column names and
//! schema property names are written into the text; every value is a bound parameter.
//!
//! OData's logic has two values: a comparison with a missing (null) property is false, and
//! `ne` is its negation, so `severity ne 'High'` keeps rows without a severity. SQL's three
//! values differ under `NOT`, so negations are pushed down to the comparisons, each of which
//! then says what it does with null.

use openmde_odata::ast::{CompareOp, Quantifier, TextFunction};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use crate::TenantKey;
use crate::query::{
    Condition, Cursor, Direction, EntitySet, Field, FieldType, ListQuery, Page, Row, Scalar, Scope, Subject, Target,
};

/// A statement's text and its parameters, built together.
#[derive(Default)]
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) params: Vec<SqlValue>,
}

impl Sql {
    /// A placeholder for `value`, written `+?N` so that SQLite keeps the statement's plan when
    /// the value changes (see the module documentation of `sqlite`).
    fn bind(&mut self, value: SqlValue) -> String {
        self.params.push(value);
        format!("+?{}", self.params.len())
    }

    fn scalar(&mut self, value: &Scalar) -> String {
        self.bind(match value {
            Scalar::Null => SqlValue::Null,
            Scalar::Integer(i) => SqlValue::Integer(*i),
            Scalar::Text(s) => SqlValue::Text(s.clone()),
        })
    }
}

pub(super) fn table(set: EntitySet) -> &'static str {
    match set {
        EntitySet::Alerts => "alerts",
        EntitySet::Machines => "machines",
    }
}

/// Text compares without regard to ASCII case; ids and numbers exactly.
fn collation(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::Text => " COLLATE NOCASE",
        _ => "",
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

impl Sql {
    /// The SQL expression a target reads.
    fn target(&self, target: &Target) -> String {
        let read = match &target.subject {
            Subject::Column(field) => column(field),
            Subject::Element => "e.value".to_string(),
            Subject::ElementMember(name) => match target.field_type {
                // Elements keep enum names; compare their member values, as columns hold them.
                FieldType::Enum(enum_type) => {
                    let arms: String = enum_type
                        .members
                        .iter()
                        .map(|(member, value)| format!(" WHEN '{}' THEN {value}", member.to_ascii_lowercase()))
                        .collect();
                    format!("(CASE lower(json_extract(e.value, '$.{name}')){arms} END)")
                }
                _ => format!("json_extract(e.value, '$.{name}')"),
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
                let collate = collation(target.field_type);
                let value = self.scalar(value);
                match op {
                    CompareOp::Eq => format!("{read}{collate} = {value}"),
                    CompareOp::Ne => format!("{read}{collate} IS NOT {value}"),
                    // A null property is not greater, nor less, than anything.
                    _ if negated => format!("({read}{collate} {} {value} OR {read} IS NULL)", operator(op)),
                    _ => format!("{read}{collate} {} {value}", operator(op)),
                }
            }
            Condition::In { target, values } => {
                let read = self.target(target);
                let list: Vec<String> = values.iter().map(|v| self.scalar(v)).collect();
                let collate = collation(target.field_type);
                if negated {
                    format!("({read}{collate} NOT IN ({}) OR {read} IS NULL)", list.join(", "))
                } else {
                    format!("{read}{collate} IN ({})", list.join(", "))
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
                format!(
                    "{}EXISTS (SELECT 1 FROM json_each(t.doc, '$.{}') e WHERE e.type <> 'null' AND {predicate})",
                    if exists { "" } else { "NOT " },
                    collection.name
                )
            }
        }
    }

    /// startswith/endswith/contains, true or null (for a null property).
    fn text_function(&mut self, read: &str, field_type: FieldType, function: TextFunction, value: &str) -> String {
        if value.is_empty() {
            return format!("{read} IS NOT NULL");
        }
        if matches!(field_type, FieldType::Text) {
            // LIKE folds ASCII case, as text comparisons do.
            let pattern = match function {
                TextFunction::StartsWith => format!("{}%", like_escaped(value)),
                TextFunction::EndsWith => format!("%{}", like_escaped(value)),
                TextFunction::Contains => format!("%{}%", like_escaped(value)),
            };
            let pattern = self.bind(SqlValue::Text(pattern));
            return format!("{read} LIKE {pattern} ESCAPE '\\'");
        }
        let length = value.chars().count() as i64;
        let needle = self.bind(SqlValue::Text(value.to_string()));
        match function {
            TextFunction::StartsWith => format!("substr({read}, 1, {length}) = {needle}"),
            TextFunction::EndsWith => format!("substr({read}, -{length}) = {needle}"),
            TextFunction::Contains => format!("instr({read}, {needle}) > 0"),
        }
    }

    /// The rows a list may show at all. Retention is checked on each row (the unary `+` keeps
    /// the planner from reading it through an index): it holds for nearly every row, so an
    /// index on it would only replace an ordered scan with a sort.
    fn scope(&mut self, tenant: TenantKey, scope: &Scope) -> String {
        let tenant = self.bind(SqlValue::Integer(tenant.0));
        match scope {
            Scope::Alerts {
                updated_since,
                machine_id,
            } => {
                let since = self.bind(SqlValue::Integer(updated_since.0));
                let mut text = format!("t.tenant = {tenant} AND +t.last_update >= {since}");
                if let Some(machine_id) = machine_id {
                    let machine = self.bind(SqlValue::Text(machine_id.clone()));
                    text.push_str(&format!(" AND t.machine_id = {machine}"));
                }
                text
            }
            Scope::Machines { seen_since } => {
                let since = self.bind(SqlValue::Integer(seen_since.0));
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
            let collate = collation(field.field_type);
            // Nulls sort first ascending, last descending.
            let beyond = match (direction, key) {
                (Direction::Ascending, Scalar::Null) => format!("{key_column} IS NOT NULL"),
                (Direction::Descending, Scalar::Null) => "0".to_string(),
                (Direction::Ascending, key) => format!("{key_column}{collate} > {}", self.scalar(key)),
                (Direction::Descending, key) => {
                    format!("({key_column}{collate} < {} OR {key_column} IS NULL)", self.scalar(key))
                }
            };
            alternatives.push(conjunction(&equal_so_far, beyond));
            let same = match key {
                Scalar::Null => format!("{key_column} IS NULL"),
                key => format!("{key_column}{collate} = {}", self.scalar(key)),
            };
            equal_so_far.push(same);
        }
        let id = self.bind(SqlValue::Text(cursor.id.clone()));
        let beyond = if query.tie_direction() == Direction::Descending {
            "<"
        } else {
            ">"
        };
        alternatives.push(conjunction(&equal_so_far, format!("t.id {beyond} {id}")));
        format!("({})", alternatives.join(" OR "))
    }
}

fn conjunction(equal: &[String], last: String) -> String {
    if equal.is_empty() {
        last
    } else {
        format!("({} AND {last})", equal.join(" AND "))
    }
}

fn scalar_of(value: SqlValue) -> Scalar {
    match value {
        SqlValue::Integer(i) => Scalar::Integer(i),
        SqlValue::Text(s) => Scalar::Text(s),
        _ => Scalar::Null,
    }
}

/// The `WHERE` clause of a query: scope and filter.
fn where_clause(sql: &mut Sql, tenant: TenantKey, query: &ListQuery) -> String {
    let scope = sql.scope(tenant, &query.scope);
    match &query.filter {
        Some(filter) => format!("{scope} AND {}", sql.condition(filter, false)),
        None => scope,
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

fn count_statement(tenant: TenantKey, query: &ListQuery) -> Sql {
    let mut count = Sql::default();
    let filter = where_clause(&mut count, tenant, query);
    count.text = format!("SELECT count(*) FROM {} t WHERE {filter}", table(query.scope.set()));
    count
}

/// The statement of one page (also for `EXPLAIN` in the tests).
fn page_statement(tenant: TenantKey, query: &ListQuery) -> Sql {
    let mut page = Sql::default();
    let mut filter = where_clause(&mut page, tenant, query);
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
                "{}{} {}, ",
                column(field),
                collation(field.field_type),
                keyword(*direction)
            )
        })
        .collect();
    let limit = page.bind(SqlValue::Integer(
        i64::try_from(query.limit.saturating_add(1)).unwrap_or(i64::MAX),
    ));
    let offset = page.bind(SqlValue::Integer(i64::try_from(query.skip).unwrap_or(i64::MAX)));
    page.text = format!(
        "SELECT t.id, t.doc, {evidence}{keys} FROM {} t WHERE {filter} ORDER BY {order}t.id {} LIMIT {limit} OFFSET {offset}",
        table(query.scope.set()),
        keyword(query.tie_direction())
    );
    page
}

pub(super) fn list(conn: &Connection, tenant: TenantKey, query: &ListQuery) -> rusqlite::Result<Page> {
    let count = if query.count {
        let count_sql = count_statement(tenant, query);
        let total: i64 = conn
            .prepare_cached(&count_sql.text)?
            .query_row(params_from_iter(&count_sql.params), |row| row.get(0))?;
        Some(total.max(0) as u64)
    } else {
        None
    };
    if query.limit == 0 {
        return Ok(Page {
            rows: Vec::new(),
            next: None,
            count,
        });
    }
    let page_sql = page_statement(tenant, query);
    let mut stmt = conn.prepare_cached(&page_sql.text)?;
    let mut rows = stmt.query(params_from_iter(&page_sql.params))?;
    let mut page = Vec::new();
    let mut last_keys = Vec::new();
    let mut more = false;
    while let Some(row) = rows.next()? {
        if page.len() as u64 == query.limit {
            more = true;
            break;
        }
        page.push(Row {
            id: row.get(0)?,
            doc: row.get(1)?,
            evidence: row.get(2)?,
        });
        last_keys = (0..query.order.len())
            .map(|i| row.get::<_, SqlValue>(3 + i).map(scalar_of))
            .collect::<rusqlite::Result<_>>()?;
    }
    let next = match page.last() {
        Some(last) if more => Some(Cursor {
            keys: last_keys,
            id: last.id.clone(),
        }),
        _ => None,
    };
    Ok(Page {
        rows: page,
        next,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::bind;
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
        let page = page_statement(TenantKey(1), &query);
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
