//! The query string: which OData options a request carries, each parsed.

use crate::ast::Expr;
use crate::error::ODataError;
use crate::filter::parse_filter;
use crate::limits::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryOptions {
    pub filter: Option<Expr>,
    pub top: Option<u64>,
    /// MDE's `pageSize`: items per page, the rest behind `@odata.nextLink`.
    pub page_size: Option<u64>,
    pub skip: Option<u64>,
    /// The continuation of an `@odata.nextLink`, as the server wrote it.
    pub skip_token: Option<String>,
    pub select: Option<Vec<String>>,
    pub orderby: Vec<(String, Direction)>,
    pub expand: Vec<String>,
    pub count: bool,
}

impl QueryOptions {
    /// Parses a raw query string (`+` is a space, as MDE's samples write it). Options other
    /// than OData's and MDE's `pageSize` are ignored; unknown `$` options and repeated ones are
    /// refused. Option names match in any case.
    pub fn parse(query: &str, limits: &Limits) -> Result<Self, ODataError> {
        let mut options = QueryOptions::default();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let key = name.to_ascii_lowercase();
            if !(key.starts_with('$') || key == "pagesize") {
                continue;
            }
            if seen.contains(&key) {
                return Err(ODataError::new(format!(
                    "the query option '{name}' is given more than once"
                )));
            }
            seen.push(key.clone());
            match key.as_str() {
                "$filter" => options.filter = Some(parse_filter(&value, limits)?),
                "$top" => options.top = Some(count(&name, &value, Some(limits.max_top))?),
                "pagesize" => options.page_size = Some(count(&name, &value, Some(limits.max_top))?.max(1)),
                "$skip" => options.skip = Some(count(&name, &value, None)?),
                "$skiptoken" => options.skip_token = Some(value.into_owned()),
                "$select" => options.select = Some(names(&name, &value)?),
                "$expand" => options.expand = names(&name, &value)?,
                "$orderby" => options.orderby = orderby(&value)?,
                "$count" => {
                    options.count = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(ODataError::new(format!("$count must be true or false, not '{value}'"))),
                    }
                }
                _ => return Err(ODataError::new(format!("the query option '{name}' is not supported"))),
            }
        }
        Ok(options)
    }

    /// The options given, by name, for refusing those an endpoint does not take.
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("$filter", self.filter.is_some()),
            ("$top", self.top.is_some()),
            ("pageSize", self.page_size.is_some()),
            ("$skip", self.skip.is_some()),
            ("$skiptoken", self.skip_token.is_some()),
            ("$select", self.select.is_some()),
            ("$orderby", !self.orderby.is_empty()),
            ("$expand", !self.expand.is_empty()),
            ("$count", self.count),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect()
    }
}

fn count(name: &str, value: &str, max: Option<u64>) -> Result<u64, ODataError> {
    let parsed: u64 = value
        .trim()
        .parse()
        .map_err(|_| ODataError::new(format!("{name} must be a whole number, not '{value}'")))?;
    match max {
        Some(max) if parsed > max => Err(ODataError::new(format!(
            "the limit of '{max}' for {name} has been exceeded"
        ))),
        _ => Ok(parsed),
    }
}

fn identifier(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn names(option: &str, value: &str) -> Result<Vec<String>, ODataError> {
    value
        .split(',')
        .map(|n| n.trim())
        .map(|n| {
            if identifier(n) {
                Ok(n.to_string())
            } else {
                Err(ODataError::new(format!(
                    "{option} takes property names separated by commas; '{n}' is not one"
                )))
            }
        })
        .collect()
}

fn orderby(value: &str) -> Result<Vec<(String, Direction)>, ODataError> {
    value
        .split(',')
        .map(|item| {
            let mut words = item.split_whitespace();
            let name = words.next().filter(|n| identifier(n));
            let direction = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => Some(Direction::Ascending),
                Some("desc") => Some(Direction::Descending),
                Some(_) => None,
            };
            match (name, direction, words.next()) {
                (Some(name), Some(direction), None) => Ok((name.to_string(), direction)),
                _ => Err(ODataError::new(format!(
                    "$orderby takes 'property [asc|desc]' items; '{}' is not one",
                    item.trim()
                ))),
            }
        })
        .collect()
}
