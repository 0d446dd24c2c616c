//! The token endpoint's logic (v2 `/oauth2/v2.0/token` and v1 `/oauth2/token`), independent
//! of HTTP. Checks run in Entra's order: tenant, grant, client, credential, then scope or
//! resource, each failing with the AADSTS error Entra gives.

use std::sync::Arc;

use openmde_store::{Store, Tenant};

use crate::entra_error::EntraError;
use crate::key_source::KeySource;
use crate::keys::Keyring;
use crate::resource::resource;
use crate::secret;
use crate::token::{AppTokenSubject, IssuedToken, issue_app_token};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenVersion {
    /// `/oauth2/v2.0/token`: `scope={resource}/.default`.
    V2,
    /// `/oauth2/token`: `resource={resource}`.
    V1,
}

/// The form fields the grants read; everything else a client sends is ignored.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

impl TokenRequest {
    /// Takes the fields from form pairs; the first occurrence of a name wins.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut request = TokenRequest::default();
        for (name, value) in pairs {
            let slot = match name {
                "grant_type" => &mut request.grant_type,
                "client_id" => &mut request.client_id,
                "client_secret" => &mut request.client_secret,
                "scope" => &mut request.scope,
                "resource" => &mut request.resource,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.to_string());
            }
        }
        request
    }
}

#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub token: IssuedToken,
    /// The resource the token is for, as the client named it.
    pub resource: &'static str,
}

pub struct Issuer {
    store: Arc<dyn Store>,
    keys: Arc<KeySource>,
}

/// `common`, `organizations` and `consumers` name no tenant.
pub fn is_multi_tenant_alias(segment: &str) -> bool {
    ["common", "organizations", "consumers"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(segment))
}

impl Issuer {
    pub fn new(store: Arc<dyn Store>, keys: Arc<KeySource>) -> Self {
        Issuer { store, keys }
    }

    /// The keys in use now (for the JWKS).
    pub fn keys(&self) -> Arc<Keyring> {
        self.keys.current()
    }

    /// The tenant a path segment names (GUID or domain).
    pub async fn tenant(&self, segment: &str) -> Result<Tenant, EntraError> {
        if is_multi_tenant_alias(segment) {
            return Err(EntraError::no_tenant_information());
        }
        match self.store.tenant(segment).await {
            Ok(Some(tenant)) => Ok(tenant),
            Ok(None) => Err(EntraError::unknown_tenant(segment)),
            Err(error) => Err(unavailable(error)),
        }
    }

    pub async fn grant(
        &self,
        tenant_segment: &str,
        version: TokenVersion,
        request: &TokenRequest,
        now_unix: i64,
    ) -> Result<TokenGrant, EntraError> {
        let tenant = self.tenant(tenant_segment).await?;
        let grant_type = request
            .grant_type
            .as_deref()
            .ok_or_else(|| EntraError::missing_parameter("grant_type"))?;
        if grant_type != "client_credentials" {
            return Err(EntraError::unsupported_grant(grant_type));
        }
        let client_id = request
            .client_id
            .as_deref()
            .ok_or_else(|| EntraError::missing_parameter("client_id"))?;
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(EntraError::malformed_client_id(client_id));
        }
        let app = match self.store.app(client_id).await {
            Ok(Some(app)) if app.tenant == tenant.key => app,
            Ok(_) => return Err(EntraError::unknown_client(client_id, &tenant.id)),
            Err(error) => return Err(unavailable(error)),
        };
        let presented = request
            .client_secret
            .as_deref()
            .ok_or_else(EntraError::missing_credential)?;
        if !secret::matches(presented, &app.secret_sha256) {
            return Err(EntraError::wrong_secret(&app.client_id));
        }
        let resource = match version {
            TokenVersion::V2 => {
                let scope = request
                    .scope
                    .as_deref()
                    .ok_or_else(|| EntraError::missing_parameter("scope"))?;
                default_scope_resource(scope)?
            }
            TokenVersion::V1 => {
                let named = request
                    .resource
                    .as_deref()
                    .ok_or_else(|| EntraError::missing_parameter("resource"))?;
                resource(named).ok_or_else(|| EntraError::unknown_resource(named))?
            }
        };
        let subject = AppTokenSubject {
            tenant_id: &tenant.id,
            client_id: &app.client_id,
            object_id: &app.object_id,
            app_name: &app.name,
            roles: &app.roles,
            audience: resource,
        };
        let token = issue_app_token(&self.keys.current(), &subject, now_unix).map_err(unavailable)?;
        Ok(TokenGrant { token, resource })
    }
}

fn unavailable(error: impl std::fmt::Display) -> EntraError {
    tracing::error!(%error, "token request failed");
    EntraError::temporarily_unavailable()
}

/// Client credentials take exactly one `{resource}/.default` scope.
fn default_scope_resource(scope: &str) -> Result<&'static str, EntraError> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let [single] = scopes.as_slice() else {
        return Err(EntraError::scope_not_default(scope));
    };
    let prefix = single
        .strip_suffix("/.default")
        .ok_or_else(|| EntraError::scope_not_default(scope))?;
    resource(prefix).ok_or_else(|| EntraError::unknown_resource(prefix))
}
