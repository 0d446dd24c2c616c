//! openmde: a self-hosted implementation of the Microsoft Defender for Endpoint REST API.
//!
//! - [`http`]: routes, the MDE error envelope, authentication and OData wire details;
//! - [`serve`]: listeners and TLS ([`tls`]); [`bootstrap`]: the data directory and first start;
//! - [`trusted`]: external issuers whose tokens the API accepts (`--trust-issuer`);
//! - [`trust`]: transparent mode (the CA in the system store, the hosts-file line);
//! - [`import`] and [`demo`]: data in, in MDE's own JSON;
//! - the domain lives in the workspace crates: `openmde-model` (EDMX types), `openmde-store`
//!   (backends), `openmde-identity` (token issuer and verifier), `openmde-ratelimit`.

pub mod access;
pub mod bootstrap;
pub mod cli;
pub mod commands;
pub mod copy;
pub mod demo;
pub mod http;
pub mod import;
pub mod manage;
pub mod serve;
pub mod state;
pub mod tls;
pub mod trust;
pub mod trusted;
