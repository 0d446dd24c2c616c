//! A `$filter` checked against an entity set: every property resolved to a catalog field, every
//! literal converted to the value its column holds. Backends translate only this tree.

use openmde_model::edm::ComplexType;
use openmde_odata::ODataError;
use openmde_odata::ast::{CompareOp, Expr, Literal, Operand, Property, Quantifier, TextFunction};

use super::catalog::{EntitySet, Field, FieldType, Scalar, Usage, enum_value, member_type};

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    /// `value` is `Scalar::Null` only with `Eq` and `Ne`.
    Compare {
        target: Target,
        op: CompareOp,
        value: Scalar,
    },
    /// Never empty, never holding null.
    In {
        target: Target,
        values: Vec<Scalar>,
    },
    Text {
        target: Target,
        function: TextFunction,
        value: String,
    },
    /// A lambda over a collection field; inside, targets are `Subject::Element`/`ElementMember`.
    Lambda {
        collection: &'static Field,
        quantifier: Quantifier,
        predicate: Box<Condition>,
    },
}

/// What a comparison reads: a column, or an element of the enclosing lambda's collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub subject: Subject,
    pub field_type: FieldType,
    /// Wrapped in `tolower()`.
    pub lowercase: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    Column(&'static Field),
    /// A string element of `machineTags`-like collections.
    Element,
    /// A property (the EDMX name) of a complex element.
    ElementMember(&'static str),
}

impl PartialEq for Field {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl PartialEq for FieldType {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (FieldType::Enum(a), FieldType::Enum(b)) => std::ptr::eq(*a, *b),
            (FieldType::Complexes(a), FieldType::Complexes(b)) => std::ptr::eq(*a, *b),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Condition {
    pub fn and(self, other: Condition) -> Condition {
        Condition::And(Box::new(self), Box::new(other))
    }

    pub fn or(self, other: Condition) -> Condition {
        Condition::Or(Box::new(self), Box::new(other))
    }

    /// `field op value` on a column, for conditions the server builds itself.
    pub fn column(field: &'static Field, op: CompareOp, value: Scalar) -> Condition {
        Condition::Compare {
            target: Target {
                subject: Subject::Column(field),
                field_type: field.field_type,
                lowercase: false,
            },
            op,
            value,
        }
    }
}

/// The conditions of `findbytag` and `findbyip`, which name fields no `$filter` may.
impl Condition {
    /// Rows whose `field` is one of `values`, or null if `or_null`: what a user's device groups
    /// limit a list to. With neither, no row.
    pub fn within(set: EntitySet, field: &str, values: Vec<Scalar>, or_null: bool) -> Condition {
        let field = set
            .field(field)
            .unwrap_or_else(|| unreachable!("'{field}' is in the catalog"));
        let null = Condition::column(field, CompareOp::Eq, Scalar::Null);
        let listed = (!values.is_empty()).then_some(Condition::In {
            target: Target {
                subject: Subject::Column(field),
                field_type: field.field_type,
                lowercase: false,
            },
            values,
        });
        match (listed, or_null) {
            (Some(listed), true) => listed.or(null),
            (Some(listed), false) => listed,
            (None, true) => null,
            // Every row has an id.
            (None, false) => match set.field("id") {
                Some(id) => Condition::column(id, CompareOp::Eq, Scalar::Null),
                None => null,
            },
        }
    }

    fn machine_field(name: &str) -> &'static Field {
        EntitySet::Machines
            .field(name)
            .unwrap_or_else(|| unreachable!("'{name}' is in the machine catalog"))
    }

    /// Machines with a tag equal to `tag` (or starting with it), ignoring ASCII case.
    pub fn machine_tagged(tag: &str, prefix: bool) -> Condition {
        let element = Target {
            subject: Subject::Element,
            field_type: FieldType::Text,
            lowercase: false,
        };
        let predicate = if prefix {
            Condition::Text {
                target: element,
                function: TextFunction::StartsWith,
                value: tag.to_string(),
            }
        } else {
            Condition::Compare {
                target: element,
                op: CompareOp::Eq,
                value: Scalar::Text(tag.to_string()),
            }
        };
        Condition::Lambda {
            collection: Self::machine_field("machineTags"),
            quantifier: Quantifier::Any,
            predicate: Box::new(predicate),
        }
    }

    /// Machines that hold the internal address `ip` (as their last address or on an interface)
    /// and were seen at some time in `[from, to]`: first seen by `to` and last seen from `from`.
    pub fn machine_seen_with_ip(ip: &str, from: openmde_model::Timestamp, to: openmde_model::Timestamp) -> Condition {
        let ip = Scalar::Text(ip.to_string());
        let on_interface = Condition::Lambda {
            collection: Self::machine_field("ipAddresses"),
            quantifier: Quantifier::Any,
            predicate: Box::new(Condition::Compare {
                target: Target {
                    subject: Subject::ElementMember("ipAddress"),
                    field_type: FieldType::Text,
                    lowercase: false,
                },
                op: CompareOp::Eq,
                value: ip.clone(),
            }),
        };
        let first_seen = Self::machine_field("firstSeen");
        let seen_by_end = Condition::column(first_seen, CompareOp::Le, Scalar::Integer(to.0)).or(Condition::column(
            first_seen,
            CompareOp::Eq,
            Scalar::Null,
        ));
        Condition::column(Self::machine_field("lastIpAddress"), CompareOp::Eq, ip)
            .or(on_interface)
            .and(Condition::column(
                Self::machine_field("lastSeen"),
                CompareOp::Ge,
                Scalar::Integer(from.0),
            ))
            .and(seen_by_end)
    }
}

/// The lambda being bound, if any: its variable and what its elements are.
struct Scope<'a> {
    variable: &'a str,
    element: Element,
}

#[derive(Clone, Copy)]
enum Element {
    String,
    Complex(&'static ComplexType),
}

/// Checks a parsed `$filter` against `set`'s catalog.
pub fn bind(set: EntitySet, expr: &Expr) -> Result<Condition, ODataError> {
    Binder { set }.condition(expr, None)
}

struct Binder {
    set: EntitySet,
}

impl Binder {
    fn condition(&self, expr: &Expr, scope: Option<&Scope<'_>>) -> Result<Condition, ODataError> {
        Ok(match expr {
            Expr::And(a, b) => self.condition(a, scope)?.and(self.condition(b, scope)?),
            Expr::Or(a, b) => self.condition(a, scope)?.or(self.condition(b, scope)?),
            Expr::Not(e) => Condition::Not(Box::new(self.condition(e, scope)?)),
            Expr::Compare { left, op, right } => {
                let target = self.target(left, scope)?;
                let value = literal(&target, right)?;
                if value == Scalar::Null && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                    return Err(ODataError::new(format!(
                        "'{left}' can be compared with null only by eq or ne"
                    )));
                }
                Condition::Compare { target, op: *op, value }
            }
            Expr::In { left, values } => {
                let target = self.target(left, scope)?;
                let values = values
                    .iter()
                    .map(|v| match literal(&target, v)? {
                        Scalar::Null => Err(ODataError::new(format!(
                            "an in list cannot hold null; write '{left} eq null'"
                        ))),
                        value => Ok(value),
                    })
                    .collect::<Result<_, _>>()?;
                Condition::In { target, values }
            }
            Expr::Text { function, left, right } => {
                let target = self.target(left, scope)?;
                let (FieldType::Id | FieldType::Text, Literal::String(value)) = (target.field_type, right) else {
                    return Err(ODataError::new(format!(
                        "{}() takes a string property and a string, not '{left}' and {right}",
                        function.name()
                    )));
                };
                Condition::Text {
                    target,
                    function: *function,
                    value: value.clone(),
                }
            }
            Expr::Lambda {
                collection,
                quantifier,
                variable,
                predicate,
            } => {
                if scope.is_some() {
                    return Err(ODataError::at(collection.position, "lambdas cannot be nested"));
                }
                let field = self.field(collection)?;
                let element = match field.field_type {
                    FieldType::Strings => Element::String,
                    FieldType::Complexes(ty) => Element::Complex(ty),
                    _ => {
                        return Err(ODataError::at(
                            collection.position,
                            format!("'{}' is not a collection; any() and all() need one", field.name),
                        ));
                    }
                };
                let inner = Scope { variable, element };
                Condition::Lambda {
                    collection: field,
                    quantifier: *quantifier,
                    predicate: Box::new(self.condition(predicate, Some(&inner))?),
                }
            }
        })
    }

    fn field(&self, property: &Property) -> Result<&'static Field, ODataError> {
        self.set
            .field(&property.name)
            .filter(|f| f.usage == Usage::Query)
            .ok_or_else(|| {
                let known = self
                    .set
                    .schema()
                    .properties
                    .iter()
                    .any(|p| p.name.eq_ignore_ascii_case(&property.name));
                let filterable: Vec<&str> = self
                    .set
                    .fields()
                    .iter()
                    .filter(|f| f.usage == Usage::Query)
                    .map(|f| f.name)
                    .collect();
                let why = if known {
                    format!("'{}' cannot be used in $filter", property.name)
                } else {
                    format!("there is no property '{}' on {}", property.name, self.set.schema().name)
                };
                ODataError::at(
                    property.position,
                    format!("{why}; filterable: {}", filterable.join(", ")),
                )
            })
    }

    fn target(&self, operand: &Operand, scope: Option<&Scope<'_>>) -> Result<Target, ODataError> {
        let (subject, field_type) = match operand {
            Operand::ToLower(inner) => {
                let target = self.target(inner, scope)?;
                if !matches!(target.field_type, FieldType::Id | FieldType::Text) {
                    return Err(ODataError::new(format!("tolower() takes a string, not '{inner}'")));
                }
                return Ok(Target {
                    lowercase: true,
                    ..target
                });
            }
            Operand::Property(property) => {
                let field = self.field(property)?;
                if field.column.is_none() {
                    return Err(ODataError::at(
                        property.position,
                        format!(
                            "'{}' is a collection; compare its elements with {0}/any(x: x eq ...)",
                            field.name
                        ),
                    ));
                }
                (Subject::Column(field), field.field_type)
            }
            Operand::Variable(name) => match scope {
                Some(Scope {
                    variable,
                    element: Element::String,
                }) if variable == name => (Subject::Element, FieldType::Text),
                Some(Scope { variable, .. }) if variable == name => {
                    return Err(ODataError::new(format!(
                        "the elements of this collection are objects; compare a property, as {name}/ipAddress"
                    )));
                }
                _ => return Err(ODataError::new(format!("'{name}' is not a lambda variable here"))),
            },
            Operand::Member { variable, member } => match scope {
                Some(Scope {
                    variable: bound,
                    element: Element::Complex(ty),
                }) if bound == variable => {
                    let (name, field_type) = member_type(ty, member).ok_or_else(|| {
                        ODataError::new(format!("there is no comparable property '{member}' on {}", ty.name))
                    })?;
                    (Subject::ElementMember(name), field_type)
                }
                _ => {
                    return Err(ODataError::new(format!(
                        "'{variable}/{member}' does not name a property of a lambda's elements"
                    )));
                }
            },
        };
        Ok(Target {
            subject,
            field_type,
            lowercase: false,
        })
    }
}

/// A literal as the target's column holds it.
fn literal(target: &Target, literal: &Literal) -> Result<Scalar, ODataError> {
    let mismatch = |expected: &str| ODataError::new(format!("{literal} is not {expected}"));
    Ok(match (target.field_type, literal) {
        (_, Literal::Null) => Scalar::Null,
        (FieldType::Id | FieldType::Text, Literal::String(s)) => Scalar::Text(s.clone()),
        (FieldType::Id | FieldType::Text, _) => return Err(mismatch("a string (strings take single quotes)")),
        (FieldType::Integer, Literal::Integer(i)) => Scalar::Integer(*i),
        (FieldType::Integer, _) => return Err(mismatch("a whole number")),
        (FieldType::Timestamp, Literal::DateTime(t)) => Scalar::Integer(t.0),
        (FieldType::Timestamp, Literal::String(s)) => openmde_model::Timestamp::parse(s)
            .map(|t| Scalar::Integer(t.0))
            .map_err(|e| ODataError::new(e.to_string()))?,
        (FieldType::Timestamp, _) => return Err(mismatch("a date-time such as 2024-01-01T00:00:00Z")),
        (FieldType::Enum(e), Literal::String(s)) => enum_value(e, s).map(Scalar::Integer).ok_or_else(|| {
            let members: Vec<&str> = e.members.iter().map(|(m, _)| *m).collect();
            ODataError::new(format!(
                "'{s}' is not a {} value; values: {}",
                e.name,
                members.join(", ")
            ))
        })?,
        (FieldType::Enum(e), _) => return Err(mismatch(&format!("a {} value in quotes", e.name))),
        (FieldType::Strings | FieldType::Complexes(_), _) => return Err(mismatch("comparable with a collection")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmde_odata::{Limits, parse_filter};

    fn bound(set: EntitySet, text: &str) -> Result<Condition, String> {
        let expr = parse_filter(text, &Limits::default()).map_err(|e| e.to_string())?;
        bind(set, &expr).map_err(|e| e.to_string())
    }

    #[test]
    fn literals_take_their_column_types() {
        let condition = bound(
            EntitySet::Alerts,
            "Severity eq 'high' and lastUpdateTime ge 2024-01-01Z",
        )
        .unwrap();
        let Condition::And(severity, time) = condition else {
            panic!()
        };
        assert!(matches!(
            *severity,
            Condition::Compare {
                value: Scalar::Integer(_),
                ..
            }
        ));
        assert!(matches!(*time, Condition::Compare { value: Scalar::Integer(t), .. } if t > 0));
        assert!(bound(EntitySet::Machines, "machineTags/any(t: tolower(t) eq 'x')").is_ok());
        assert!(bound(EntitySet::Machines, "ipAddresses/any(ip: ip/ipAddress eq '10.0.0.1')").is_ok());
    }

    #[test]
    fn refusals_say_which_property_and_why() {
        for (set, text, message) in [
            (
                EntitySet::Alerts,
                "title eq 'x'",
                "at position 0: 'title' cannot be used in $filter; filterable: id,",
            ),
            (EntitySet::Alerts, "nope eq 1", "there is no property 'nope' on Alert"),
            (
                EntitySet::Alerts,
                "severity eq 'Severe'",
                "'Severe' is not a AlertSeverity value",
            ),
            (EntitySet::Alerts, "incidentId eq 'x'", "'x' is not a whole number"),
            (
                EntitySet::Alerts,
                "severity gt null",
                "can be compared with null only by eq or ne",
            ),
            (
                EntitySet::Machines,
                "firstSeen gt 2024-01-01Z",
                "'firstSeen' cannot be used in $filter",
            ),
            (EntitySet::Machines, "machineTags eq 'x'", "is a collection"),
            (
                EntitySet::Machines,
                "ipAddresses/any(i: i eq 'x')",
                "elements of this collection are objects",
            ),
            (
                EntitySet::Machines,
                "startswith(riskScore,'H')",
                "startswith() takes a string property",
            ),
            (EntitySet::Machines, "lastSeen/any(x: x eq 1)", "is not a collection"),
        ] {
            let error = bound(set, text).unwrap_err();
            assert!(error.contains(message), "{text}: {error}");
        }
    }
}
