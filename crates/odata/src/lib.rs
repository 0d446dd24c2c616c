//! The OData query options MDE accepts, parsed into a typed tree that store backends translate
//! to SQL in one place. Malformed input fails here, with a position and a reason; it never
//! reaches a database as text.
//!
//! # `$filter` grammar
//!
//! Keywords and function names match in any case; `RWS` is one or more spaces (a `+` in the
//! query string is a space).
//!
//! ```text
//! filter      = or-expr
//! or-expr     = and-expr *( RWS "or" RWS and-expr )          ; and binds tighter than or
//! and-expr    = unary *( RWS "and" RWS unary )
//! unary       = "not" RWS unary / primary                     ; not binds tightest
//! primary     = "(" or-expr ")" / text-call / lambda / comparison
//! comparison  = operand RWS cmp-op RWS literal
//!             / operand RWS "in" "(" literal *( "," literal ) ")"
//! cmp-op      = "eq" / "ne" / "gt" / "ge" / "lt" / "le"
//! text-call   = ( "startswith" / "endswith" / "contains" ) "(" operand "," literal ")"
//! lambda      = identifier "/" ( "any" / "all" ) "(" identifier ":" or-expr ")"
//! operand     = "tolower(" operand ")" / variable [ "/" identifier ] / identifier
//! variable    = identifier                                    ; bound by an enclosing lambda
//! literal     = string / date-time / date / guid / number / "true" / "false" / "null"
//! string      = "'" *( "''" / <any character but '> ) "'"
//! date-time   = date "T" hh ":" mm ":" ss [ "." 1*9DIGIT ] ( "Z" / ( "+" / "-" ) hh ":" mm )
//! date        = yyyy "-" mm "-" dd [ "Z" ]                    ; MDE's samples write 2018-08-01Z
//! guid        = 8HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-" 12HEXDIG
//! number      = [ "-" / "+" ] 1*DIGIT [ "." 1*DIGIT ]
//! identifier  = ( ALPHA / "_" ) *( ALPHA / DIGIT / "_" )
//! ```
//!
//! Whether a property may be filtered, and whether a literal fits its type, is decided against
//! the entity's schema by the caller; this crate knows no entity.
//!
//! # Limits
//!
//! [`Limits`]: the length of a `$filter`, its nesting depth, the size of `in` lists and `$top`.

pub mod ast;
mod error;
mod filter;
mod limits;
mod options;

pub use error::ODataError;
pub use filter::parse_filter;
pub use limits::Limits;
pub use options::{Direction, QueryOptions};
