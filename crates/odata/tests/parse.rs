//! The parser on MDE's documented examples, on errors, and on arbitrary input.

use openmde_model::Timestamp;
use openmde_odata::ast::{CompareOp, Expr, Literal, Operand, Property, Quantifier, TextFunction};
use openmde_odata::{Direction, Limits, QueryOptions, parse_filter};
use proptest::prelude::*;

fn filter(text: &str) -> Expr {
    parse_filter(text, &Limits::default()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn error(text: &str) -> String {
    parse_filter(text, &Limits::default()).expect_err(text).to_string()
}

fn property(name: &str, position: usize) -> Operand {
    Operand::Property(Property {
        name: name.into(),
        position,
    })
}

#[test]
fn mde_documentation_examples() {
    assert_eq!(
        filter("riskScore eq 'High'"),
        Expr::Compare {
            left: property("riskScore", 0),
            op: CompareOp::Eq,
            right: Literal::String("High".into())
        }
    );
    assert_eq!(
        filter("lastUpdateTime ge 2019-11-22T00:00:00Z"),
        Expr::Compare {
            left: property("lastUpdateTime", 0),
            op: CompareOp::Ge,
            right: Literal::DateTime(Timestamp::parse("2019-11-22T00:00:00Z").unwrap()),
        }
    );
    let date_only = filter("alertCreationTime gt 2018-08-01Z");
    assert_eq!(date_only.to_string(), "alertCreationTime gt 2018-08-01T00:00:00Z");
    assert_eq!(
        filter("machineTags/any(tag: tag eq 'ExampleTag')"),
        Expr::Lambda {
            collection: Property {
                name: "machineTags".into(),
                position: 0
            },
            quantifier: Quantifier::Any,
            variable: "tag".into(),
            predicate: Box::new(Expr::Compare {
                left: Operand::Variable("tag".into()),
                op: CompareOp::Eq,
                right: Literal::String("ExampleTag".into())
            }),
        }
    );
    let member = filter("ipAddresses/any(ip: ip/ipAddress eq '10.0.0.1')");
    assert_eq!(member.to_string(), "ipAddresses/any(ip:ip/ipAddress eq '10.0.0.1')");
    assert_eq!(
        filter("startswith(computerDnsName,'mymachine')"),
        Expr::Text {
            function: TextFunction::StartsWith,
            left: property("computerDnsName", 11),
            right: Literal::String("mymachine".into())
        }
    );
    let combined = filter("healthStatus eq 'Active' and osPlatform eq 'Windows10' and rbacGroupId eq 140");
    assert_eq!(
        combined.to_string(),
        "((healthStatus eq 'Active' and osPlatform eq 'Windows10') and rbacGroupId eq 140)"
    );
}

#[test]
fn precedence_not_then_and_then_or() {
    assert_eq!(
        filter("a eq 1 or b eq 2 and not c eq 3").to_string(),
        "(a eq 1 or (b eq 2 and not c eq 3))"
    );
    assert_eq!(
        filter("(a eq 1 or b eq 2) and c eq 3").to_string(),
        "((a eq 1 or b eq 2) and c eq 3)"
    );
    assert_eq!(filter("A EQ 1 AND NOT(B NE 2)").to_string(), "(A eq 1 and not B ne 2)");
}

#[test]
fn literals() {
    let value = |text: &str| match filter(&format!("x eq {text}")) {
        Expr::Compare { right, .. } => right,
        other => panic!("{other:?}"),
    };
    assert_eq!(value("'it''s'"), Literal::String("it's".into()));
    assert_eq!(value("''"), Literal::String(String::new()));
    assert_eq!(value("-42"), Literal::Integer(-42));
    assert_eq!(value("4.5"), Literal::Decimal(4.5));
    assert_eq!(value("99999999999999999999"), Literal::Decimal(1e20));
    assert_eq!(value("true"), Literal::Bool(true));
    assert_eq!(value("NULL"), Literal::Null);
    assert_eq!(
        value("FD2E4D29-7072-4195-AAA5-1AF139B78028"),
        Literal::String("fd2e4d29-7072-4195-aaa5-1af139b78028".into())
    );
    assert_eq!(
        value("2021-01-26T21:33:57.7220239+01:00"),
        Literal::DateTime(Timestamp::parse("2021-01-26T20:33:57.7220239Z").unwrap())
    );
    assert_eq!(
        filter("severity in ('High','Medium')"),
        Expr::In {
            left: property("severity", 0),
            values: vec![Literal::String("High".into()), Literal::String("Medium".into())]
        }
    );
    assert_eq!(
        filter("contains(tolower(title),'powershell')").to_string(),
        "contains(tolower(title),'powershell')"
    );
}

#[test]
fn errors_say_where_and_why() {
    assert_eq!(
        error("severity eq"),
        "at position 11: expected a value, found 'the end'"
    );
    assert_eq!(
        error("severity equals 'High'"),
        "at position 9: expected eq, ne, gt, ge, lt, le or in after 'severity', found 'equals 'High''"
    );
    assert_eq!(
        error("status eq 'New"),
        "at position 10: a string that is never closed (a quote inside is written '')"
    );
    assert_eq!(
        error("(status eq 'New'"),
        "at position 16: expected ')' to close the parenthesis, found 'the end'"
    );
    assert_eq!(
        error("status eq New"),
        "at position 10: 'New' is not a value (strings take single quotes)"
    );
    assert_eq!(
        error("lastSeen gt 2024-13-01Z"),
        "at position 12: '2024-13-01Z' is not a timestamp like 2021-01-26T20:33:57.7220239Z (no such date)"
    );
    assert_eq!(error("a eq 1 b eq 2"), "at position 7: unexpected 'b eq 2'");
    assert_eq!(
        error("machineTags/some(t: t eq 'x')"),
        "at position 12: expected any or all after 'machineTags/'"
    );
    assert_eq!(error(""), "at position 0: expected a condition, found 'the end'");
    assert_eq!(error("5 eq x"), "at position 0: expected a condition, found '5 eq x'");
}

#[test]
fn limits_are_enforced() {
    let limits = Limits::default();
    let deep = format!("{}a eq 1{}", "(".repeat(40), ")".repeat(40));
    assert!(error(&deep).contains("nested more than 32 levels deep"));
    let nots = format!("{}a eq 1", "not ".repeat(100));
    assert!(error(&nots).contains("nested more than 32 levels deep"));
    let list = format!("id in ({})", vec!["'x'"; 1001].join(","));
    assert!(error(&list).contains("an in list may hold at most 1000 values"));
    assert!(parse_filter(&format!("id in ({})", vec!["'x'"; 1000].join(",")), &limits).is_ok());
    let long = format!("title eq '{}'", "x".repeat(9000));
    assert!(error(&long).contains("at most 8192 are accepted"));
    // Far beyond the depth limit the parser still answers, without exhausting its stack.
    let very_deep = "(".repeat(100_000);
    assert!(
        parse_filter(
            &very_deep,
            &Limits {
                max_filter_length: 1_000_000,
                ..limits
            }
        )
        .is_err()
    );
}

#[test]
fn query_options() {
    let limits = Limits::default();
    let options = QueryOptions::parse(
        "$filter=riskScore+eq+'High'&$top=100&$skip=5&$select=id,computerDnsName&$orderby=lastSeen desc,id&$expand=evidence&$count=true&api-version=1",
        &limits,
    )
    .unwrap();
    assert_eq!(options.filter.unwrap().to_string(), "riskScore eq 'High'");
    assert_eq!((options.top, options.skip), (Some(100), Some(5)));
    assert_eq!(options.select.unwrap(), ["id", "computerDnsName"]);
    assert_eq!(
        options.orderby,
        [
            ("lastSeen".to_string(), Direction::Descending),
            ("id".to_string(), Direction::Ascending)
        ]
    );
    assert_eq!(options.expand, ["evidence"]);
    assert!(options.count);
    let paged = QueryOptions::parse("pageSize=20&$top=30&$skiptoken=abc", &limits).unwrap();
    assert_eq!((paged.page_size, paged.top), (Some(20), Some(30)));
    assert_eq!(paged.skip_token.as_deref(), Some("abc"));
    for (query, message) in [
        ("$top=10001", "the limit of '10000' for $top has been exceeded"),
        ("$top=-1", "$top must be a whole number, not '-1'"),
        (
            "pagesize=1&pageSize=2",
            "the query option 'pageSize' is given more than once",
        ),
        ("$search=x", "the query option '$search' is not supported"),
        (
            "$select=id,,name",
            "$select takes property names separated by commas; '' is not one",
        ),
        (
            "$orderby=id sideways",
            "$orderby takes 'property [asc|desc]' items; 'id sideways' is not one",
        ),
        ("$count=maybe", "$count must be true or false, not 'maybe'"),
    ] {
        assert_eq!(
            QueryOptions::parse(query, &limits).unwrap_err().to_string(),
            message,
            "{query}"
        );
    }
}

fn identifier() -> impl Strategy<Value = String> + Clone {
    "[a-zA-Z_][a-zA-Z0-9_]{0,8}".prop_filter("not a keyword", |s| {
        ![
            "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "null", "true", "false", "tolower", "any",
            "all",
        ]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(s))
            && !["startswith", "endswith", "contains"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(s))
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Integer),
        "[ -~]{0,12}".prop_map(Literal::String),
        (0i64..4_000_000_000).prop_map(|s| Literal::DateTime(Timestamp::from_unix_seconds(s))),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    let operand = || identifier().prop_map(|name| Operand::Property(Property { name, position: 0 }));
    let op = prop_oneof![
        Just(CompareOp::Eq),
        Just(CompareOp::Ne),
        Just(CompareOp::Gt),
        Just(CompareOp::Le)
    ];
    let leaf = prop_oneof![
        (operand(), op, literal()).prop_map(|(left, op, right)| Expr::Compare { left, op, right }),
        (operand(), prop::collection::vec(literal(), 1..4)).prop_map(|(left, values)| Expr::In { left, values }),
        (operand(), "[a-z]{0,6}").prop_map(|(left, s)| Expr::Text {
            function: TextFunction::Contains,
            left: Operand::ToLower(Box::new(left)),
            right: Literal::String(s)
        }),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

/// Positions say where a name was read; the printed form puts names elsewhere.
fn without_positions(expr: &Expr) -> String {
    format!("{expr:?}")
        .split("position: ")
        .map(|part| part.trim_start_matches(char::is_numeric))
        .collect()
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        let _ = parse_filter(&text, &Limits::default());
        let _ = QueryOptions::parse(&text, &Limits::default());
    }

    #[test]
    fn filter_like_text_never_panics(text in "[a-z()' ,:/=0-9.-]{0,60}") {
        let _ = parse_filter(&text, &Limits::default());
    }

    #[test]
    fn printed_trees_parse_back_to_themselves(expr in expr()) {
        let printed = expr.to_string();
        let parsed = parse_filter(&printed, &Limits::default()).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(without_positions(&parsed), without_positions(&expr), "{}", printed);
    }
}
