//! A small description of EDMX types: enough to validate and write entities the way MDE does.

/// An `EnumType` of the EDMX. Members are `(name, value)` in declaration order.
#[derive(Debug)]
pub struct EnumType {
    pub name: &'static str,
    pub is_flags: bool,
    pub members: &'static [(&'static str, i64)],
}

impl EnumType {
    /// The member's canonical spelling; names match case-insensitively, as MDE's parser does.
    pub fn canonical(&self, name: &str) -> Option<&'static str> {
        self.members
            .iter()
            .find(|(member, _)| member.eq_ignore_ascii_case(name))
            .map(|(member, _)| *member)
    }
}

/// How a property's value is typed.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    String,
    Boolean,
    Int32,
    Int64,
    Guid,
    DateTimeOffset,
    Enum(&'static EnumType),
    /// `Collection(Edm.String)`.
    Strings,
    Complex(&'static ComplexType),
    ComplexCollection(&'static ComplexType),
}

impl Kind {
    /// Complex values are written after the primitive ones (see `docs/fidelity.md`).
    pub fn is_complex(&self) -> bool {
        matches!(self, Kind::Complex(_) | Kind::ComplexCollection(_))
    }
}

/// What happens when a property is absent or null.
#[derive(Debug, Clone, Copy)]
pub enum Presence {
    /// Nullable: written as `null`.
    Nullable,
    /// `Nullable="false"` in the EDMX: absent values take this JSON literal.
    Defaulted(&'static str),
    /// `Nullable="false"` with no sensible default: a record without it is refused.
    Required,
}

/// Where the property comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Edmx,
    /// Present in live responses of the real service but not in its `$metadata`.
    LiveOnly,
}

#[derive(Debug)]
pub struct Property {
    pub name: &'static str,
    pub kind: Kind,
    pub presence: Presence,
    pub origin: Origin,
}

/// An entity or complex type; `properties` are in the order MDE writes them on the wire.
#[derive(Debug)]
pub struct ComplexType {
    pub name: &'static str,
    /// An `EntityType` of the EDMX rather than a `ComplexType`.
    pub is_entity: bool,
    pub properties: &'static [Property],
}

impl ComplexType {
    pub fn property(&self, name: &str) -> Option<&'static Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

pub const fn nullable(name: &'static str, kind: Kind) -> Property {
    Property {
        name,
        kind,
        presence: Presence::Nullable,
        origin: Origin::Edmx,
    }
}

pub const fn defaulted(name: &'static str, kind: Kind, default: &'static str) -> Property {
    Property {
        name,
        kind,
        presence: Presence::Defaulted(default),
        origin: Origin::Edmx,
    }
}

pub const fn required(name: &'static str, kind: Kind) -> Property {
    Property {
        name,
        kind,
        presence: Presence::Required,
        origin: Origin::Edmx,
    }
}

pub const fn live_only(name: &'static str, kind: Kind) -> Property {
    Property {
        name,
        kind,
        presence: Presence::Nullable,
        origin: Origin::LiveOnly,
    }
}
