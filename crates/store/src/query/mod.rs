//! Lists of entities, independent of any backend: the catalog of what can be filtered and
//! ordered, the checked condition a `$filter` becomes, and the page a backend answers with.
//! Each backend translates a [`ListQuery`] in one place (for SQLite, `sqlite/list.rs`).

pub mod catalog;
mod condition;
#[cfg(test)]
mod oracle;

pub use catalog::{EntitySet, Field, FieldType, Scalar, Usage};
pub use condition::{Condition, Subject, Target, bind};
pub use openmde_odata::Direction;

use openmde_model::Timestamp;

/// Which rows a list may show at all, before any `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// Alerts last updated at or after `updated_since`, optionally of one machine only.
    Alerts {
        updated_since: Timestamp,
        machine_id: Option<String>,
    },
    /// Machines last seen at or after `seen_since`, or never seen.
    Machines { seen_since: Timestamp },
}

impl Scope {
    pub fn set(&self) -> EntitySet {
        match self {
            Scope::Alerts { .. } => EntitySet::Alerts,
            Scope::Machines { .. } => EntitySet::Machines,
        }
    }
}

/// Where the previous page ended: its last row's ordering values and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub keys: Vec<Scalar>,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub scope: Scope,
    pub filter: Option<Condition>,
    /// Ordering keys; the id breaks ties, in the direction of the last key (ascending when
    /// there is none).
    pub order: Vec<(&'static Field, Direction)>,
    /// Rows after this position only (keyset paging: stable while rows come and go).
    pub after: Option<Cursor>,
    pub skip: u64,
    /// At most this many rows; 0 asks for the count only.
    pub limit: u64,
    /// Also count every row the filter matches.
    pub count: bool,
    /// Alerts: also read the evidence.
    pub with_evidence: bool,
}

impl ListQuery {
    /// Every row of the scope, in the set's default order; no rows asked for yet.
    pub fn new(scope: Scope) -> Self {
        ListQuery {
            order: scope.set().default_order(),
            scope,
            filter: None,
            after: None,
            skip: 0,
            limit: 0,
            count: false,
            with_evidence: false,
        }
    }
}

/// One stored row of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub doc: String,
    /// The evidence array, when asked for.
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub rows: Vec<Row>,
    /// Set when rows remain past this page.
    pub next: Option<Cursor>,
    pub count: Option<u64>,
}

impl ListQuery {
    /// The direction ties are broken by id in.
    pub fn tie_direction(&self) -> Direction {
        self.order
            .last()
            .map_or(Direction::Ascending, |(_, direction)| *direction)
    }
}
