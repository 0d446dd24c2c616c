//! The token endpoint's logic (v2 `/oauth2/v2.0/token` and v1 `/oauth2/token`), independent
//! of HTTP. Checks run in Entra's order: tenant, grant, client, credential, then scope or
//! resource, each failing with the AADSTS error Entra gives.

use std::sync::Arc;

use openmde_store::{AppRegistration, DeviceCode, Lookup, Store, Tenant, UserRecord};

use crate::assertion;
use crate::entra_error::EntraError;
use crate::key_source::KeySource;
use crate::keys::Keyring;
use crate::password;
use crate::resource::{DELEGATED_PERMISSIONS, delegated_permission, resource};
use crate::secret;
use crate::token::{
    AppTokenSubject, IssuedToken, UserTokenSubject, issue_app_token, issue_user_tokens, read_refresh_token,
};

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
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    pub device_code: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
    /// `scheme://host` the client called: the base of the id token's issuer. Not a form field.
    pub origin: String,
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
                "username" => &mut request.username,
                "password" => &mut request.password,
                "refresh_token" => &mut request.refresh_token,
                // msal sends the device code twice, as `device_code` and `code`.
                "device_code" | "code" => &mut request.device_code,
                "client_assertion_type" => &mut request.client_assertion_type,
                "client_assertion" => &mut request.client_assertion,
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
    /// User flows (password, refresh) also answer these.
    pub user: Option<UserGrant>,
}

/// One token request being granted: the tenant, the client and how it authenticated.
#[derive(Clone, Copy)]
struct Client<'a> {
    tenant: &'a Tenant,
    app: &'a AppRegistration,
    request: &'a TokenRequest,
    /// "0" a public client, "1" a secret, "2" a certificate.
    appidacr: &'static str,
    now_unix: i64,
}

/// The grant type of the device code flow.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Entra's figures: 15 minutes to sign in, a poll every 5 seconds.
const DEVICE_CODE_LIFETIME_SECONDS: i64 = 900;
const DEVICE_CODE_POLL_SECONDS: i64 = 5;

/// The answer of the device authorization endpoint.
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: i64,
    pub interval: i64,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct UserGrant {
    pub refresh_token: String,
    pub id_token: String,
    pub client_info: String,
    /// The granted scopes as the client asked for them (v2), or the permissions (v1).
    pub scope: String,
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
        match self.store.tenant(segment).await.or_absent() {
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
        let grant_type = required(&request.grant_type, "grant_type")?;
        if !matches!(
            grant_type,
            "client_credentials" | "password" | "refresh_token" | DEVICE_CODE_GRANT
        ) {
            return Err(EntraError::unsupported_grant(grant_type));
        }
        let app = self.client(&tenant, request).await?;
        let required = grant_type == "client_credentials";
        let appidacr = self
            .client_credential(&tenant, &app, request, required, now_unix)
            .await?;
        let client = Client {
            tenant: &tenant,
            app: &app,
            request,
            appidacr,
            now_unix,
        };
        match grant_type {
            "client_credentials" => self.client_credentials(client, version),
            "password" => self.password(client, version).await,
            "refresh_token" => self.refresh(client).await,
            _ => self.device_code(client).await,
        }
    }

    /// `POST /{tenant}/oauth2/v2.0/devicecode`: a device code to poll with and a user code to
    /// enter at `{origin}/devicelogin`. The scope is kept with it: the polls send none.
    pub async fn device_authorization(
        &self,
        tenant_segment: &str,
        request: &TokenRequest,
    ) -> Result<DeviceAuthorization, EntraError> {
        let tenant = self.tenant(tenant_segment).await?;
        let app = self.client(&tenant, request).await?;
        let scope = required(&request.scope, "scope")?;
        delegated_scopes(scope)?;
        let user_code = secret::user_code();
        let code = DeviceCode {
            device_code: secret::generate_long(),
            user_code: user_code.clone(),
            tenant: tenant.key,
            client_id: app.client_id,
            scope: scope.to_string(),
            expires: openmde_model::Timestamp::now().plus_seconds(DEVICE_CODE_LIFETIME_SECONDS),
            user_id: None,
        };
        self.store.create_device_code(&code).await.map_err(unavailable)?;
        let verification_uri = format!("{}/devicelogin", request.origin);
        Ok(DeviceAuthorization {
            message: format!(
                "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."
            ),
            device_code: code.device_code,
            user_code,
            verification_uri,
            expires_in: DEVICE_CODE_LIFETIME_SECONDS,
            interval: DEVICE_CODE_POLL_SECONDS,
        })
    }

    /// The verification page's sign-in: a user approves the pending authorization of
    /// `user_code` in their own tenant.
    pub async fn approve_device(&self, user_code: &str, username: &str, password: &str) -> Result<(), EntraError> {
        let user = self.user_with_password(username, password.to_string()).await?;
        let now = openmde_model::Timestamp::now();
        match self
            .store
            .approve_device_code(user.tenant, user_code.trim(), &user.object_id, now)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(EntraError::invalid_device_code()),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn device_code(&self, client: Client<'_>) -> Result<TokenGrant, EntraError> {
        let Client {
            tenant, app, request, ..
        } = client;
        let presented = required(&request.device_code, "device_code")?;
        let code = self
            .store
            .device_code(presented)
            .await
            .or_absent()
            .map_err(unavailable)?
            .filter(|c| c.tenant == tenant.key && c.client_id == app.client_id)
            .ok_or_else(EntraError::invalid_device_code)?;
        if code.expires < openmde_model::Timestamp::now() {
            let _ = self.store.delete_device_code(presented).await;
            return Err(EntraError::expired_device_code());
        }
        let Some(user_id) = code.user_id else {
            return Err(EntraError::authorization_pending());
        };
        // Redeemed once: a second poll with the same code finds nothing.
        if !self.store.delete_device_code(presented).await.map_err(unavailable)? {
            return Err(EntraError::invalid_device_code());
        }
        let user = self
            .store
            .user(tenant.key, &user_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(EntraError::invalid_device_code)?;
        let (resource, permissions, scope) = delegated_scopes(&code.scope)?;
        self.user_grant(client, &user, (resource, &permissions, scope))
    }

    /// The user named `username` if `password` is theirs, in the time of one argon2 check
    /// either way.
    async fn user_with_password(&self, username: &str, password: String) -> Result<UserRecord, EntraError> {
        let user = self
            .store
            .user_by_upn(username)
            .await
            .or_absent()
            .map_err(unavailable)?;
        tokio::task::spawn_blocking(move || match user {
            Some(user) if password::matches(&password, &user.password_hash) => Some(user),
            Some(_) => None,
            None => {
                password::waste_one_check(&password);
                None
            }
        })
        .await
        .map_err(unavailable)?
        .ok_or_else(EntraError::invalid_credentials)
    }

    async fn client(&self, tenant: &Tenant, request: &TokenRequest) -> Result<AppRegistration, EntraError> {
        let client_id = required(&request.client_id, "client_id")?;
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(EntraError::malformed_client_id(client_id));
        }
        match self.store.app(client_id).await {
            Ok(Some(app)) if app.tenant == tenant.key => Ok(app),
            Ok(_) => Err(EntraError::unknown_client(client_id, &tenant.id)),
            Err(error) => Err(unavailable(error)),
        }
    }

    /// How the client proved who it is, as `appidacr`: "2" a certificate (client assertion),
    /// "1" a secret, "0" nothing (a public client: every registration may use the user flows),
    /// which `required` refuses.
    async fn client_credential(
        &self,
        tenant: &Tenant,
        app: &AppRegistration,
        request: &TokenRequest,
        required: bool,
        now_unix: i64,
    ) -> Result<&'static str, EntraError> {
        if let Some(presented) = request.client_assertion.as_deref() {
            if request.client_assertion_type.as_deref() != Some(assertion::JWT_BEARER) {
                return Err(EntraError::invalid_assertion(
                    700027,
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
            }
            let certificates = self.store.app_certificates(&app.client_id).await.map_err(unavailable)?;
            let expected = assertion::Expected {
                client_id: &app.client_id,
                tenant_names: [&tenant.id, &tenant.domain],
                now_unix,
            };
            assertion::verify(presented, &certificates, &expected)?;
            return Ok("2");
        }
        match request.client_secret.as_deref() {
            Some(presented) if secret::matches(presented, &app.secret_sha256) => Ok("1"),
            Some(_) => Err(EntraError::wrong_secret(&app.client_id)),
            None if required => Err(EntraError::missing_credential()),
            None => Ok("0"),
        }
    }

    fn client_credentials(&self, client: Client<'_>, version: TokenVersion) -> Result<TokenGrant, EntraError> {
        let Client {
            tenant,
            app,
            request,
            appidacr,
            now_unix,
        } = client;
        let resource = match version {
            TokenVersion::V2 => {
                let scope = required(&request.scope, "scope")?;
                default_scope_resource(scope)?
            }
            TokenVersion::V1 => v1_resource(request)?,
        };
        let subject = AppTokenSubject {
            tenant_id: &tenant.id,
            client_id: &app.client_id,
            object_id: &app.object_id,
            app_name: &app.name,
            roles: &app.roles,
            audience: resource,
            appidacr,
        };
        let token = issue_app_token(&self.keys.current(), &subject, now_unix).map_err(unavailable)?;
        Ok(TokenGrant {
            token,
            resource,
            user: None,
        })
    }

    /// ROPC: a user's name and password for delegated tokens.
    async fn password(&self, client: Client<'_>, version: TokenVersion) -> Result<TokenGrant, EntraError> {
        let Client { tenant, request, .. } = client;
        let username = required(&request.username, "username")?;
        let password = required(&request.password, "password")?.to_string();
        let (resource, permissions, scope) = match version {
            TokenVersion::V2 => {
                let scope = required(&request.scope, "scope")?;
                delegated_scopes(scope)?
            }
            TokenVersion::V1 => {
                let resource = v1_resource(request)?;
                (
                    resource,
                    DELEGATED_PERMISSIONS.to_vec(),
                    DELEGATED_PERMISSIONS.join(" "),
                )
            }
        };
        let user = Some(self.user_with_password(username, password).await?)
            .filter(|user| user.tenant == tenant.key)
            .ok_or_else(EntraError::invalid_credentials)?;
        self.user_grant(client, &user, (resource, &permissions, scope))
    }

    /// A refresh token of this client for new tokens of the same grant.
    async fn refresh(&self, client: Client<'_>) -> Result<TokenGrant, EntraError> {
        let Client {
            tenant, app, request, ..
        } = client;
        let presented = required(&request.refresh_token, "refresh_token")?;
        let claims = read_refresh_token(&self.keys.current(), presented, &app.client_id)
            .filter(|c| c.tid == tenant.id)
            .ok_or_else(EntraError::invalid_refresh_token)?;
        let user = self
            .store
            .user(tenant.key, &claims.sub)
            .await
            .map_err(unavailable)?
            .ok_or_else(EntraError::invalid_refresh_token)?;
        // A new scope may be asked for (msal's silent flow does); otherwise the old one holds.
        let (resource, permissions, scope) = match request.scope.as_deref() {
            Some(scope) => delegated_scopes(scope)?,
            None => {
                let resource = resource(&claims.resource).ok_or_else(EntraError::invalid_refresh_token)?;
                let permissions: Vec<&'static str> =
                    claims.scp.split_whitespace().filter_map(delegated_permission).collect();
                (resource, permissions, claims.scp.clone())
            }
        };
        self.user_grant(client, &user, (resource, &permissions, scope))
    }

    fn user_grant(
        &self,
        client: Client<'_>,
        user: &UserRecord,
        (resource, permissions, scope): (&'static str, &[&'static str], String),
    ) -> Result<TokenGrant, EntraError> {
        let Client {
            tenant,
            app,
            request,
            appidacr,
            now_unix,
        } = client;
        let subject = UserTokenSubject {
            tenant_id: &tenant.id,
            client_id: &app.client_id,
            app_name: &app.name,
            object_id: &user.object_id,
            upn: &user.upn,
            display_name: &user.display_name,
            permissions,
            audience: resource,
            appidacr,
        };
        let tokens =
            issue_user_tokens(&self.keys.current(), &subject, &request.origin, now_unix).map_err(unavailable)?;
        Ok(TokenGrant {
            token: tokens.access,
            resource,
            user: Some(UserGrant {
                refresh_token: tokens.refresh_token,
                id_token: tokens.id_token,
                client_info: tokens.client_info,
                scope,
            }),
        })
    }
}

/// A form field the grant needs, or AADSTS900144 naming it.
fn required<'a>(field: &'a Option<String>, name: &str) -> Result<&'a str, EntraError> {
    field.as_deref().ok_or_else(|| EntraError::missing_parameter(name))
}

fn v1_resource(request: &TokenRequest) -> Result<&'static str, EntraError> {
    let named = required(&request.resource, "resource")?;
    resource(named).ok_or_else(|| EntraError::unknown_resource(named))
}

/// The delegated permissions a v2 `scope` asks for: `{resource}/{permission}` items (or
/// `{resource}/.default`, every permission) of one resource, besides `openid`, `profile`,
/// `email` and `offline_access`. Answers the resource, the permissions and the scope to echo.
fn delegated_scopes(scope: &str) -> Result<(&'static str, Vec<&'static str>, String), EntraError> {
    let mut named_resource: Option<&'static str> = None;
    let mut permissions: Vec<&'static str> = Vec::new();
    let mut echoed = Vec::new();
    for item in scope.split_whitespace() {
        if ["openid", "profile", "email", "offline_access"].contains(&item) {
            echoed.push(item);
            continue;
        }
        let invalid = || EntraError::invalid_scope(item);
        let (prefix, name) = item.rsplit_once('/').ok_or_else(invalid)?;
        let this = resource(prefix).ok_or_else(invalid)?;
        if named_resource.is_some_and(|r| r != this) {
            return Err(invalid());
        }
        named_resource = Some(this);
        if name == ".default" {
            permissions.extend(DELEGATED_PERMISSIONS);
        } else {
            permissions.push(delegated_permission(name).ok_or_else(invalid)?);
        }
        echoed.push(item);
    }
    let resource = named_resource.ok_or_else(|| EntraError::invalid_scope(scope))?;
    permissions.sort_unstable();
    permissions.dedup();
    Ok((resource, permissions, echoed.join(" ")))
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
