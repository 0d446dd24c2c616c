//! An in-memory evaluation of [`Condition`]s and orderings over documents, written from the
//! rules in the catalog rather than from any SQL, and a property test holding each backend to
//! it: for random filters and orders over random data, the same rows in the same order, page by
//! page. PostgreSQL is tested when `OPENMDE_TEST_DATABASE_URL` names a server.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use openmde_access::{DeviceGroup, DeviceGroupRules, Operator, PropertyCondition};
use openmde_model::{EntityKind, Record, Timestamp};
use openmde_odata::ast::{CompareOp, Quantifier, TextFunction};
use openmde_odata::{Limits, parse_filter};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::catalog::scalar;
use super::{
    Condition, Cursor, Direction, EntitySet, Field, FieldType, ListQuery, Scalar, Scope, Subject, Target, bind,
};
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{Store, StoredRecord};

type Document = Map<String, Value>;

fn folded(value: Scalar, field_type: FieldType, lowercase: bool) -> Scalar {
    match value {
        Scalar::Text(s) if lowercase || matches!(field_type, FieldType::Text) => Scalar::Text(s.to_ascii_lowercase()),
        other => other,
    }
}

/// The value a target reads, with text folded where comparisons ignore case.
fn read(target: &Target, document: &Document, element: Option<&Value>) -> Scalar {
    let raw = match (&target.subject, element) {
        (Subject::Column(field), _) => scalar(field.field_type, document.get(field.name)),
        (Subject::Element, Some(element)) => scalar(FieldType::Text, Some(element)),
        (Subject::ElementMember(name), Some(element)) => scalar(target.field_type, element.get(*name)),
        _ => Scalar::Null,
    };
    folded(raw, target.field_type, target.lowercase)
}

fn literal(target: &Target, value: &Scalar) -> Scalar {
    // The literal is folded as the column is, except that tolower() leaves the literal alone.
    folded(value.clone(), target.field_type, false)
}

pub fn matches(condition: &Condition, document: &Document, element: Option<&Value>) -> bool {
    match condition {
        Condition::And(a, b) => matches(a, document, element) && matches(b, document, element),
        Condition::Or(a, b) => matches(a, document, element) || matches(b, document, element),
        Condition::Not(inner) => !matches(inner, document, element),
        Condition::Compare { target, op, value } => {
            let actual = read(target, document, element);
            let expected = literal(target, value);
            match (&actual, &expected) {
                (_, Scalar::Null) => (actual == Scalar::Null) == (*op == CompareOp::Eq),
                (Scalar::Null, _) => *op == CompareOp::Ne,
                _ => {
                    let ordering = actual.cmp(&expected);
                    match op {
                        CompareOp::Eq => ordering == Ordering::Equal,
                        CompareOp::Ne => ordering != Ordering::Equal,
                        CompareOp::Gt => ordering == Ordering::Greater,
                        CompareOp::Ge => ordering != Ordering::Less,
                        CompareOp::Lt => ordering == Ordering::Less,
                        CompareOp::Le => ordering != Ordering::Greater,
                    }
                }
            }
        }
        Condition::In { target, values } => {
            let actual = read(target, document, element);
            actual != Scalar::Null && values.iter().any(|v| literal(target, v) == actual)
        }
        Condition::Text {
            target,
            function,
            value,
        } => {
            let Scalar::Text(actual) = read(target, document, element) else {
                return false;
            };
            let Scalar::Text(needle) = literal(target, &Scalar::Text(value.clone())) else {
                return false;
            };
            match function {
                TextFunction::StartsWith => actual.starts_with(&needle),
                TextFunction::EndsWith => actual.ends_with(&needle),
                TextFunction::Contains => actual.contains(&needle),
            }
        }
        Condition::Lambda {
            collection,
            quantifier,
            predicate,
        } => {
            let elements: Vec<&Value> = document
                .get(collection.name)
                .and_then(Value::as_array)
                .map(|items| items.iter().filter(|v| !v.is_null()).collect())
                .unwrap_or_default();
            let mut results = elements.into_iter().map(|e| matches(predicate, document, Some(e)));
            match quantifier {
                Quantifier::Any => results.any(|r| r),
                Quantifier::All => results.all(|r| r),
            }
        }
    }
}

/// Sorts as the API does: by each key (nulls first ascending), then by id in the last key's
/// direction.
pub fn compare(order: &[(&'static Field, Direction)], a: &Document, b: &Document) -> Ordering {
    let tie = order.last().map_or(Direction::Ascending, |(_, d)| *d);
    for (field, direction) in order {
        let key = |d: &Document| folded(field.value_in(d), field.field_type, false);
        let ordering = key(a).cmp(&key(b));
        let ordering = if *direction == Direction::Descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    let id = |d: &Document| d.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    let ordering = id(a).cmp(&id(b));
    if tie == Direction::Descending {
        ordering.reverse()
    } else {
        ordering
    }
}

// --- random data and filters ---

const TIMES: [&str; 4] = [
    "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00.5Z",
    "2024-06-30T12:00:00Z",
    "2025-02-01T08:00:00.1234567Z",
];
const WORDS: [&str; 6] = ["Malware", "malware", "Ex%e_c", "alice@x.com", "ALICE@x.com", ""];

fn optional<T: std::fmt::Debug + Clone + 'static>(values: Vec<T>) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(0.8, prop::sample::select(values))
}

fn alert() -> impl Strategy<Value = Document> {
    (
        optional(vec!["Informational", "Low", "Medium", "High"]),
        optional(vec!["New", "InProgress", "Resolved"]),
        optional(WORDS.to_vec()),
        optional(WORDS.to_vec()),
        optional(vec![-2i64, 0, 3, 7]),
        optional(TIMES.to_vec()),
        optional(TIMES.to_vec()),
    )
        .prop_map(|(severity, status, category, assigned, incident, created, updated)| {
            let mut doc = json!({"severity": severity, "status": status, "category": category, "assignedTo": assigned,
                "incidentId": incident, "alertCreationTime": created, "lastUpdateTime": updated});
            strip_nulls(&mut doc)
        })
}

fn machine() -> impl Strategy<Value = Document> {
    (
        optional(WORDS.to_vec()),
        optional(TIMES.to_vec()),
        optional(vec!["Active", "Inactive"]),
        // Replaced by the device group the store puts the machine in.
        optional(vec![0i64, 140, 7]),
        optional(vec![vec![], vec!["a"], vec!["B", "b"], vec!["tag x", "a"]]),
        optional(vec![
            vec![],
            vec![("10.0.0.1", "Ethernet")],
            vec![("10.0.0.2", "IEEE80211"), ("10.0.0.1", "Ethernet")],
        ]),
    )
        .prop_map(|(name, seen, health, group, tags, ips)| {
            let ips: Option<Vec<Value>> = ips.map(|ips| {
                ips.into_iter()
                    .map(|(ip, kind)| json!({"ipAddress": ip, "type": kind}))
                    .collect()
            });
            let mut doc = json!({"computerDnsName": name, "lastSeen": seen, "healthStatus": health,
                "rbacGroupId": group, "machineTags": tags, "ipAddresses": ips});
            strip_nulls(&mut doc)
        })
}

fn strip_nulls(doc: &mut Value) -> Document {
    let mut map = doc.as_object().cloned().unwrap_or_default();
    map.retain(|_, v| !v.is_null());
    map
}

/// Comparisons over every filterable field, with values from the same small domains as the data.
fn leaves(set: EntitySet) -> Vec<String> {
    let quoted = |v: &[&str]| v.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>();
    let mut out = Vec::new();
    let ops = ["eq", "ne", "gt", "ge", "lt", "le"];
    for field in set.fields().iter().filter(|f| f.usage == super::Usage::Query) {
        let values: Vec<String> = match field.field_type {
            FieldType::Id => quoted(&["x1", "X1", "x10"]),
            FieldType::Text => quoted(&WORDS),
            FieldType::Integer => vec!["0".into(), "3".into(), "140".into()],
            FieldType::Timestamp => TIMES
                .iter()
                .map(|t| t.to_string())
                .chain(["2024-06-30Z".into()])
                .collect(),
            FieldType::Enum(e) => quoted(&e.members.iter().map(|(m, _)| *m).take(5).collect::<Vec<_>>()),
            FieldType::Strings => {
                for tag in ["a", "b", "tag x"] {
                    out.push(format!("{}/any(t: t eq '{tag}')", field.name));
                    out.push(format!("{}/all(t: t ne '{tag}')", field.name));
                    out.push(format!("{}/any(t: startswith(t, 'T'))", field.name));
                }
                continue;
            }
            FieldType::Complexes(_) => {
                out.push(format!("{}/any(i: i/ipAddress eq '10.0.0.1')", field.name));
                out.push(format!("{}/all(i: i/type eq 'Ethernet')", field.name));
                out.push(format!(
                    "{}/any(i: i/type gt 'Ethernet' and i/ipAddress ne '10.0.0.2')",
                    field.name
                ));
                continue;
            }
        };
        for value in &values {
            for op in ops {
                out.push(format!("{} {op} {value}", field.name));
            }
        }
        out.push(format!("{} eq null", field.name));
        out.push(format!("{} ne null", field.name));
        out.push(format!("{} in ({})", field.name, values[..2].join(",")));
        if matches!(field.field_type, FieldType::Id | FieldType::Text) {
            for function in ["startswith", "endswith", "contains"] {
                for value in ["'ma'", "'%'", "'_'", "'ALICE'", "'x1'", "''"] {
                    out.push(format!("{function}({}, {value})", field.name));
                    out.push(format!("{function}(tolower({}), {value})", field.name));
                }
            }
            out.push(format!("tolower({}) eq 'malware'", field.name));
        }
    }
    out
}

fn filter(set: EntitySet) -> impl Strategy<Value = String> {
    prop::sample::select(leaves(set)).prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

fn order(set: EntitySet) -> impl Strategy<Value = Vec<(&'static Field, Direction)>> {
    let orderable: Vec<&'static Field> = set.fields().iter().filter(|f| f.is_orderable()).collect();
    let direction = prop::sample::select(vec![Direction::Ascending, Direction::Descending]);
    prop::collection::vec((prop::sample::select(orderable), direction), 0..3)
}

fn case(set: EntitySet) -> impl Strategy<Value = (Vec<Document>, String, Vec<(&'static Field, Direction)>, u64)> {
    let documents = match set {
        EntitySet::Alerts => prop::collection::vec(alert().boxed(), 0..25).boxed(),
        EntitySet::Machines => prop::collection::vec(machine().boxed(), 0..25).boxed(),
    };
    (documents, filter(set), order(set), 1..6u64)
}

/// The ids a store answers with, reading page by page of `page_size`.
async fn paged(store: &dyn Store, tenant: crate::TenantKey, mut query: ListQuery, page_size: u64) -> Vec<String> {
    query.limit = page_size;
    let mut ids = Vec::new();
    for _ in 0..100 {
        let page = store.list(tenant, &query).await.unwrap();
        assert!(page.rows.len() as u64 <= page_size);
        ids.extend(page.rows.into_iter().map(|r| r.id));
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => return ids,
        }
    }
    panic!("paging does not end: {ids:?}")
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A schema of its own in the test PostgreSQL server, made once per test process; `None` when
/// `OPENMDE_TEST_DATABASE_URL` is unset.
fn postgres_url() -> Option<&'static str> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        let base = std::env::var("OPENMDE_TEST_DATABASE_URL").ok()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let schema = format!("oracle_{}", uuid::Uuid::new_v4().simple());
        Some(runtime.block_on(crate::postgres::with_schema(&base, &schema)).unwrap())
    })
    .as_deref()
}

/// A fresh tenant holding `records` in a store of `backend`, and a runtime to query it on.
fn store_with(
    backend: Backend,
    records: Vec<StoredRecord>,
) -> (
    tokio::runtime::Runtime,
    Option<tempfile::TempDir>,
    Arc<dyn Store>,
    crate::TenantKey,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (dir, store): (_, Arc<dyn Store>) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(&dir.path().join("db")).unwrap();
            (Some(dir), Arc::new(store))
        }
        Backend::Postgres => {
            let url = postgres_url().expect("OPENMDE_TEST_DATABASE_URL");
            (None, Arc::new(runtime.block_on(PgStore::open(url, 2)).unwrap()))
        }
    };
    let tenant = runtime.block_on(async {
        // A tenant of its own: PostgreSQL cases share one schema.
        let name = uuid::Uuid::new_v4().to_string();
        let tenant = store.create_tenant(&name, "T", &name).await.unwrap().key;
        // Machines tagged 'a' (of any case) are in device group 1: `rbacGroupId` takes 0 and 1.
        let tagged_a = DeviceGroup {
            rules: DeviceGroupRules {
                tags: vec![PropertyCondition {
                    condition: Operator::Equals,
                    value: "a".into(),
                }],
                ..DeviceGroupRules::default()
            },
            ..DeviceGroup::new(0, 1, "tagged a")
        };
        store.create_device_group(tenant, &tagged_a).await.unwrap();
        let mut import = store.begin_import(tenant).await.unwrap();
        import.upsert(records).await.unwrap();
        import.commit().await.unwrap();
        tenant
    });
    (runtime, dir, store, tenant)
}

fn check(
    backend: Backend,
    set: EntitySet,
    documents: Vec<Document>,
    filter: &str,
    order: Vec<(&'static Field, Direction)>,
    page: u64,
) {
    let kind = if set == EntitySet::Alerts {
        EntityKind::Alert
    } else {
        EntityKind::Machine
    };
    // Ids in mixed case and lengths, so that their exact order matters.
    let records: Vec<Record> = documents
        .into_iter()
        .enumerate()
        .map(|(i, mut doc)| {
            let id = if i % 2 == 0 { format!("x{i}") } else { format!("X{i}") };
            doc.insert("id".into(), Value::String(id));
            Record::new(kind, doc).unwrap()
        })
        .collect();
    let (runtime, _dir, store, tenant) = store_with(backend, records.into_iter().map(StoredRecord::from).collect());
    runtime.block_on(async {
        let condition = bind(set, &parse_filter(filter, &Limits::default()).unwrap()).unwrap();
        let scope = match set {
            EntitySet::Alerts => Scope::Alerts {
                updated_since: Timestamp(i64::MIN),
                machine_id: None,
            },
            EntitySet::Machines => Scope::Machines {
                seen_since: Timestamp(i64::MIN),
            },
        };
        // The documents as stored, device groups written into them.
        let everything = ListQuery {
            limit: 10_000,
            ..ListQuery::new(scope.clone())
        };
        let stored: Vec<Document> = store
            .list(tenant, &everything)
            .await
            .unwrap()
            .rows
            .iter()
            .map(|row| serde_json::from_str(&row.doc).unwrap())
            .collect();
        let mut expected: Vec<&Document> = stored.iter().filter(|d| matches(&condition, d, None)).collect();
        expected.sort_by(|a, b| compare(&order, a, b));
        let expected: Vec<String> = expected.iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
        let query = ListQuery {
            filter: Some(condition),
            order,
            count: true,
            ..ListQuery::new(scope)
        };
        let whole = store
            .list(
                tenant,
                &ListQuery {
                    limit: 10_000,
                    ..query.clone()
                },
            )
            .await
            .unwrap();
        assert_eq!(whole.count, Some(expected.len() as u64), "count of {filter}");
        let ids: Vec<String> = whole.rows.into_iter().map(|r| r.id).collect();
        assert_eq!(ids, expected, "{filter}");
        assert_eq!(
            paged(store.as_ref(), tenant, query.clone(), page).await,
            expected,
            "{filter} by pages of {page}"
        );
        let skipped = store
            .list(
                tenant,
                &ListQuery {
                    limit: 10_000,
                    skip: 2,
                    ..query
                },
            )
            .await
            .unwrap();
        let rest: Vec<String> = skipped.rows.into_iter().map(|r| r.id).collect();
        assert_eq!(
            rest,
            expected.iter().skip(2).cloned().collect::<Vec<_>>(),
            "{filter} after $skip=2"
        );
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn sqlite_lists_alerts_as_the_oracle_does((documents, filter, order, page) in case(EntitySet::Alerts)) {
        check(Backend::Sqlite, EntitySet::Alerts, documents, &filter, order, page);
    }

    #[test]
    fn sqlite_lists_machines_as_the_oracle_does((documents, filter, order, page) in case(EntitySet::Machines)) {
        check(Backend::Sqlite, EntitySet::Machines, documents, &filter, order, page);
    }

    #[test]
    fn postgres_lists_alerts_as_the_oracle_does((documents, filter, order, page) in case(EntitySet::Alerts)) {
        if postgres_url().is_some() {
            check(Backend::Postgres, EntitySet::Alerts, documents, &filter, order, page);
        }
    }

    #[test]
    fn postgres_lists_machines_as_the_oracle_does((documents, filter, order, page) in case(EntitySet::Machines)) {
        if postgres_url().is_some() {
            check(Backend::Postgres, EntitySet::Machines, documents, &filter, order, page);
        }
    }
}

#[test]
fn a_cursor_past_deleted_rows_still_continues_in_order() {
    // Keyset paging does not depend on the rows before the cursor still existing.
    let records: Vec<StoredRecord> = [0, 1, 2, 4, 5]
        .iter()
        .map(|i| {
            let doc = json!({"id": format!("x{i}")});
            StoredRecord::from(Record::new(EntityKind::Machine, doc.as_object().cloned().unwrap()).unwrap())
        })
        .collect();
    let (runtime, _dir, store, tenant) = store_with(Backend::Sqlite, records);
    let query = ListQuery {
        after: Some(Cursor {
            keys: vec![],
            id: "x3".into(),
        }),
        limit: 10,
        ..ListQuery::new(Scope::Machines {
            seen_since: Timestamp(i64::MIN),
        })
    };
    let page = runtime.block_on(store.list(tenant, &query)).unwrap();
    let ids: Vec<String> = page.rows.into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["x4", "x5"]);
}
