//! The MDE data model: entity types as the real API's `$metadata` declares them, and the
//! canonical JSON form openmde stores and serves.
//!
//! Entities are kept as canonical JSON documents rather than structs: a record imported from a
//! real tenant keeps every field, unknown ones included, and serving it is a copy of bytes.

pub mod canonical;
pub mod edm;
pub mod entity;
pub mod schema;
pub mod timestamp;

pub use canonical::{FieldError, canonicalize};
pub use entity::{EntityKind, Record};
pub use timestamp::Timestamp;

/// The real API's `$metadata` document.
pub const METADATA_XML: &str = include_str!("../edmx/mde_metadata.xml");
