//! The `$filter` parser: recursive descent over winnow's token parsers. See the crate
//! documentation for the grammar.

use openmde_model::Timestamp;
use winnow::ascii::{Caseless, digit1, multispace0};
use winnow::combinator::opt;
use winnow::error::{ContextError, ErrMode};
use winnow::prelude::*;
use winnow::token::{literal, one_of, take_while};

use crate::ast::{CompareOp, Expr, Literal, Operand, Property, Quantifier, TextFunction};
use crate::error::ODataError;
use crate::limits::Limits;

type Step<T> = Result<T, ODataError>;
type Winnow<T> = Result<T, ErrMode<ContextError>>;

/// Parses a whole `$filter` value.
pub fn parse_filter(text: &str, limits: &Limits) -> Result<Expr, ODataError> {
    if text.len() > limits.max_filter_length {
        return Err(ODataError::new(format!(
            "the $filter is {} characters long; at most {} are accepted",
            text.len(),
            limits.max_filter_length
        )));
    }
    let mut parser = FilterParser {
        text,
        rest: text,
        depth: 0,
        variables: Vec::new(),
        limits,
    };
    let expr = parser.or_expr()?;
    parser.space();
    if !parser.rest.is_empty() {
        return parser.fail(format!("unexpected '{}'", parser.upcoming()));
    }
    Ok(expr)
}

struct FilterParser<'s, 'l> {
    text: &'s str,
    rest: &'s str,
    depth: usize,
    variables: Vec<&'s str>,
    limits: &'l Limits,
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'s> FilterParser<'s, '_> {
    fn position(&self) -> usize {
        self.text.len() - self.rest.len()
    }

    fn fail<T>(&self, message: impl Into<String>) -> Step<T> {
        Err(ODataError::at(self.position(), message))
    }

    /// A short quote of what comes next, for messages.
    fn upcoming(&self) -> String {
        let quoted: String = self.rest.chars().take(20).collect();
        if quoted.is_empty() { "the end".into() } else { quoted }
    }

    fn space(&mut self) {
        let _: Winnow<&str> = multispace0.parse_next(&mut self.rest);
    }

    /// Takes `word` (any case) if it stands alone: not followed by an identifier character.
    fn keyword(&mut self, word: &'static str) -> bool {
        let mut probe = self.rest;
        let matched: Winnow<&str> = literal(Caseless(word)).parse_next(&mut probe);
        if matched.is_ok() && !probe.starts_with(is_identifier_char) {
            self.rest = probe;
            return true;
        }
        false
    }

    fn symbol(&mut self, symbol: char) -> bool {
        self.space();
        let taken: Winnow<char> = one_of(symbol).parse_next(&mut self.rest);
        taken.is_ok()
    }

    fn expect_symbol(&mut self, symbol: char, what: &str) -> Step<()> {
        if self.symbol(symbol) {
            Ok(())
        } else {
            self.fail(format!("expected '{symbol}' {what}, found '{}'", self.upcoming()))
        }
    }

    fn identifier(&mut self) -> Option<&'s str> {
        self.space();
        let mut probe = self.rest;
        let name: Winnow<&str> = take_while(1.., is_identifier_char).parse_next(&mut probe);
        let name = name.ok().filter(|n| !n.starts_with(|c: char| c.is_ascii_digit()))?;
        self.rest = probe;
        Some(name)
    }

    fn enter(&mut self) -> Step<()> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return self.fail(format!(
                "the $filter is nested more than {} levels deep",
                self.limits.max_depth
            ));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Step<Expr> {
        let mut left = self.and_expr()?;
        loop {
            self.space();
            if !self.keyword("or") {
                return Ok(left);
            }
            left = Expr::Or(Box::new(left), Box::new(self.and_expr()?));
        }
    }

    fn and_expr(&mut self) -> Step<Expr> {
        let mut left = self.unary()?;
        loop {
            self.space();
            if !self.keyword("and") {
                return Ok(left);
            }
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Step<Expr> {
        self.space();
        self.enter()?;
        let expr = if self.keyword("not") {
            Expr::Not(Box::new(self.unary()?))
        } else {
            self.primary()?
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn primary(&mut self) -> Step<Expr> {
        self.space();
        if self.symbol('(') {
            let inner = self.or_expr()?;
            self.expect_symbol(')', "to close the parenthesis")?;
            return Ok(inner);
        }
        let start = self.position();
        let before = self.rest;
        let Some(name) = self.identifier() else {
            return self.fail(format!("expected a condition, found '{}'", self.upcoming()));
        };
        if let Some((function, _)) = TextFunction::ALL.iter().find(|(_, n)| n.eq_ignore_ascii_case(name))
            && self.symbol('(')
        {
            let left = self.operand()?;
            self.expect_symbol(',', &format!("between the arguments of {name}"))?;
            let right = self.literal()?;
            self.expect_symbol(')', &format!("to close {name}("))?;
            return Ok(Expr::Text {
                function: *function,
                left,
                right,
            });
        }
        if self.rest.starts_with('/') && !self.variables.contains(&name) {
            return self.lambda(Property {
                name: name.to_string(),
                position: start,
            });
        }
        self.rest = before;
        let left = self.operand()?;
        self.space();
        if self.keyword("in") {
            return self.in_list(left);
        }
        for (op, keyword) in CompareOp::ALL {
            if self.keyword(keyword) {
                let right = self.literal()?;
                return Ok(Expr::Compare { left, op, right });
            }
        }
        self.fail(format!(
            "expected eq, ne, gt, ge, lt, le or in after '{left}', found '{}'",
            self.upcoming()
        ))
    }

    fn lambda(&mut self, collection: Property) -> Step<Expr> {
        self.rest = &self.rest[1..];
        let quantifier = if self.keyword("any") {
            Quantifier::Any
        } else if self.keyword("all") {
            Quantifier::All
        } else {
            return self.fail(format!("expected any or all after '{}/'", collection.name));
        };
        self.expect_symbol('(', "to open the lambda")?;
        let Some(variable) = self.identifier() else {
            return self.fail("expected the lambda's variable name");
        };
        self.expect_symbol(':', "after the lambda's variable")?;
        self.enter()?;
        self.variables.push(variable);
        let predicate = self.or_expr()?;
        self.variables.pop();
        self.depth -= 1;
        self.expect_symbol(')', "to close the lambda")?;
        Ok(Expr::Lambda {
            collection,
            quantifier,
            variable: variable.to_string(),
            predicate: Box::new(predicate),
        })
    }

    fn in_list(&mut self, left: Operand) -> Step<Expr> {
        self.expect_symbol('(', "after in")?;
        let mut values = vec![self.literal()?];
        while self.symbol(',') {
            if values.len() >= self.limits.max_in_values {
                return self.fail(format!(
                    "an in list may hold at most {} values",
                    self.limits.max_in_values
                ));
            }
            values.push(self.literal()?);
        }
        self.expect_symbol(')', "to close the in list")?;
        Ok(Expr::In { left, values })
    }

    fn operand(&mut self) -> Step<Operand> {
        self.space();
        let start = self.position();
        let Some(name) = self.identifier() else {
            return self.fail(format!("expected a property name, found '{}'", self.upcoming()));
        };
        if name.eq_ignore_ascii_case("tolower") && self.symbol('(') {
            self.enter()?;
            let inner = self.operand()?;
            self.depth -= 1;
            self.expect_symbol(')', "to close tolower(")?;
            return Ok(Operand::ToLower(Box::new(inner)));
        }
        if self.variables.contains(&name) {
            if let Some(after) = self.rest.strip_prefix('/') {
                self.rest = after;
                let Some(member) = self.identifier() else {
                    return self.fail(format!("expected a property of '{name}' after '{name}/'"));
                };
                return Ok(Operand::Member {
                    variable: name.to_string(),
                    member: member.to_string(),
                });
            }
            return Ok(Operand::Variable(name.to_string()));
        }
        Ok(Operand::Property(Property {
            name: name.to_string(),
            position: start,
        }))
    }

    fn literal(&mut self) -> Step<Literal> {
        self.space();
        if self.rest.starts_with('\'') {
            return self.string();
        }
        for (word, value) in [
            ("null", Literal::Null),
            ("true", Literal::Bool(true)),
            ("false", Literal::Bool(false)),
        ] {
            if self.keyword(word) {
                return Ok(value);
            }
        }
        let token: Winnow<&str> =
            take_while(1.., |c: char| c.is_ascii_alphanumeric() || "-+:.".contains(c)).parse_next(&mut self.rest);
        let Ok(token) = token else {
            return self.fail(format!("expected a value, found '{}'", self.upcoming()));
        };
        let at = self.position() - token.len();
        let is_date =
            token.len() >= 10 && token.as_bytes()[4] == b'-' && token[..4].bytes().all(|b| b.is_ascii_digit());
        if is_date {
            return Timestamp::parse(token)
                .map(Literal::DateTime)
                .map_err(|e| ODataError::at(at, e.to_string()));
        }
        if is_guid(token) {
            return Ok(Literal::String(token.to_ascii_lowercase()));
        }
        number(token)
            .ok_or_else(|| ODataError::at(at, format!("'{token}' is not a value (strings take single quotes)")))
    }

    fn string(&mut self) -> Step<Literal> {
        let start = self.position();
        self.rest = &self.rest[1..];
        let mut value = String::new();
        loop {
            let chunk: Winnow<&str> = take_while(0.., |c| c != '\'').parse_next(&mut self.rest);
            value.push_str(chunk.unwrap_or_default());
            if self.rest.starts_with("''") {
                value.push('\'');
                self.rest = &self.rest[2..];
            } else if self.rest.starts_with('\'') {
                self.rest = &self.rest[1..];
                return Ok(Literal::String(value));
            } else {
                return Err(ODataError::at(
                    start,
                    "a string that is never closed (a quote inside is written '')",
                ));
            }
        }
    }
}

fn is_guid(token: &str) -> bool {
    let groups: Vec<&str> = token.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `-12`, `3`, `4.5`: integers when they fit, decimals otherwise.
fn number(token: &str) -> Option<Literal> {
    let mut rest = token;
    let shape: Winnow<&str> = (opt(one_of(['-', '+'])), digit1, opt((literal("."), digit1)))
        .take()
        .parse_next(&mut rest);
    if shape.is_err() || !rest.is_empty() {
        return None;
    }
    if !token.contains('.')
        && let Ok(integer) = token.parse()
    {
        return Some(Literal::Integer(integer));
    }
    token.parse().ok().map(Literal::Decimal)
}
