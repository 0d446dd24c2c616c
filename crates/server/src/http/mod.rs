//! The HTTP face of openmde: routes, the MDE error envelope, authentication and OData wire
//! details. Handlers stay thin: extract, call the store or the identity provider, answer.

pub mod auth;
pub mod error;
pub mod extract;
pub mod list;
pub mod odata;
pub mod routes;
