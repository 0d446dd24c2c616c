//! The identity provider: an Entra-ID-compatible token issuer and the verifier the MDE API
//! uses. HTTP-free: the server's routes translate requests and errors.
//!
//! - [`keys`]: RS256 signing keys with certificates, their `kid`s and the JWKS document.
//! - [`key_source`]: the keyring in use, reloaded from the store (key rotation).
//! - [`token`]: access tokens shaped like Entra's v1 tokens for the WindowsDefenderATP resource.
//! - [`verify`]: signature, algorithm, issuer, audience, tenant and lifetime checks.
//! - [`assertion`]: client assertions (certificate credentials).
//! - [`secret`]: client secrets, stored as SHA-256 and compared in constant time.
//! - [`resource`]: the resource identifiers and permission names the API knows.
//! - [`entra_error`]: token-endpoint errors with their AADSTS codes.
//! - [`issuer`]: the token endpoint's grants, against the store's tenants and applications.
//! - [`external`]: tokens of another issuer (a real Entra tenant, Keycloak), trusted by configuration.
//! - [`authenticator`]: from a bearer token to a [`Caller`], with a cache of verified tokens.

pub mod assertion;
pub mod authenticator;
pub mod entra_error;
pub mod external;
pub mod issuer;
pub mod key_source;
pub mod keys;
pub mod password;
pub mod resource;
pub mod secret;
pub mod token;
pub mod verify;

pub use authenticator::{Authenticator, Caller};
pub use entra_error::EntraError;
pub use external::TrustedIssuer;
pub use issuer::{DeviceAuthorization, Issuer, TokenGrant, TokenRequest, TokenVersion};
pub use key_source::{KeySource, KeySourceError};
pub use keys::{Keyring, SigningKey};
pub use token::{AccessClaims, IssuedToken, TOKEN_LIFETIME_SECONDS};
pub use verify::{Principal, PrincipalKind, TokenError};
