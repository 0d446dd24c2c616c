//! The MDE data model: entity types as the real API's `$metadata` declares them, and the
//! canonical JSON form openmde stores and serves.
//!
//! Entities are kept as canonical JSON documents rather than structs: a record imported from a
//! real tenant keeps every field, unknown ones included, and serving it is a copy of bytes.

pub mod canonical;
pub mod edm;
pub mod entity;
pub mod related;
pub mod schema;
pub mod timestamp;
pub mod update;

pub use canonical::{FieldError, canonicalize, compact};
pub use entity::{EntityKind, Record};
pub use timestamp::Timestamp;

/// The real API's `$metadata` document.
pub const METADATA_XML: &str = include_str!("../edmx/mde_metadata.xml");

/// The entity sets the `$metadata` container declares, in its order.
pub fn entity_sets() -> Vec<&'static str> {
    let Some(start) = METADATA_XML.find("<EntityContainer") else {
        return Vec::new();
    };
    METADATA_XML[start..]
        .split("<EntitySet Name=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn entity_sets_come_from_the_container() {
        let sets = super::entity_sets();
        assert!(sets.len() > 20, "{sets:?}");
        assert_eq!(
            sets.iter()
                .filter(|s| ["Alerts", "Machines", "Users", "Files", "Ips", "Domains"].contains(s))
                .count(),
            6
        );
    }
}
