//! The typed tree a `$filter` becomes. Backends translate it to their SQL in one place; it never
//! travels as text. `Display` writes it back as canonical OData, so `parse(e.to_string()) == e`.

use std::fmt;

use openmde_model::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare {
        left: Operand,
        op: CompareOp,
        right: Literal,
    },
    In {
        left: Operand,
        values: Vec<Literal>,
    },
    /// `startswith(name, 'x')`, `endswith`, `contains`.
    Text {
        function: TextFunction,
        left: Operand,
        right: Literal,
    },
    /// `machineTags/any(t: t eq 'x')`; inside, the variable is `Operand::Variable`.
    Lambda {
        collection: Property,
        quantifier: Quantifier,
        variable: String,
        predicate: Box<Expr>,
    },
}

/// A property name as written, with where it starts in the filter text (for errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Property(Property),
    /// The range variable of an enclosing lambda.
    Variable(String),
    /// A property of the range variable: `ip/ipAddress` in `ipAddresses/any(ip: ip/ipAddress eq 'x')`.
    Member {
        variable: String,
        member: String,
    },
    ToLower(Box<Operand>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFunction {
    StartsWith,
    EndsWith,
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Any,
    All,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Integer(i64),
    Decimal(f64),
    String(String),
    /// Date-times, and MDE's date-only forms (`2018-08-01Z`) as midnight UTC.
    DateTime(Timestamp),
}

impl CompareOp {
    pub const ALL: [(CompareOp, &'static str); 6] = [
        (CompareOp::Eq, "eq"),
        (CompareOp::Ne, "ne"),
        (CompareOp::Gt, "gt"),
        (CompareOp::Ge, "ge"),
        (CompareOp::Lt, "lt"),
        (CompareOp::Le, "le"),
    ];

    pub fn keyword(self) -> &'static str {
        Self::ALL.iter().find(|(op, _)| *op == self).map_or("eq", |(_, k)| k)
    }
}

impl TextFunction {
    pub const ALL: [(TextFunction, &'static str); 3] = [
        (TextFunction::StartsWith, "startswith"),
        (TextFunction::EndsWith, "endswith"),
        (TextFunction::Contains, "contains"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("contains", |(_, n)| n)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(a, b) => write!(f, "({a} and {b})"),
            Expr::Or(a, b) => write!(f, "({a} or {b})"),
            Expr::Not(e) => write!(f, "not {e}"),
            Expr::Compare { left, op, right } => write!(f, "{left} {} {right}", op.keyword()),
            Expr::In { left, values } => {
                write!(f, "{left} in (")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Expr::Text { function, left, right } => write!(f, "{}({left},{right})", function.name()),
            Expr::Lambda {
                collection,
                quantifier,
                variable,
                predicate,
            } => {
                let q = if *quantifier == Quantifier::Any { "any" } else { "all" };
                write!(f, "{}/{q}({variable}:{predicate})", collection.name)
            }
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Property(p) => f.write_str(&p.name),
            Operand::Variable(v) => f.write_str(v),
            Operand::Member { variable, member } => write!(f, "{variable}/{member}"),
            Operand::ToLower(inner) => write!(f, "tolower({inner})"),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Integer(i) => write!(f, "{i}"),
            Literal::Decimal(d) if d.fract() == 0.0 && d.is_finite() => write!(f, "{d:.1}"),
            Literal::Decimal(d) => write!(f, "{d}"),
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::DateTime(t) => write!(f, "{t}"),
        }
    }
}
