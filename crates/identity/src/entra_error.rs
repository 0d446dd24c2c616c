//! Token-endpoint errors in Entra's vocabulary: the OAuth `error`, the AADSTS code and the
//! HTTP status real Entra answers with.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

impl EntraError {
    fn new(status: u16, error: &'static str, code: u32, description: impl Into<String>) -> Self {
        EntraError {
            status,
            error,
            code,
            description: description.into(),
        }
    }

    pub fn unknown_tenant(tenant: &str) -> Self {
        Self::new(
            400,
            "invalid_tenant",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        )
    }

    pub fn no_tenant_information() -> Self {
        Self::new(
            400,
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.",
        )
    }

    pub fn unknown_client(client_id: &str, tenant: &str) -> Self {
        Self::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        )
    }

    pub fn wrong_secret(client_id: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    pub fn missing_credential() -> Self {
        Self::new(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub fn malformed_client_id(client_id: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            700038,
            format!("{client_id} is not a valid application identifier."),
        )
    }

    pub fn unsupported_grant(grant: &str) -> Self {
        Self::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    pub fn scope_not_default(scope: &str) -> Self {
        Self::new(
            400,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    }

    pub fn unknown_resource(resource: &str) -> Self {
        Self::new(
            400,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        )
    }

    /// ROPC with a wrong password or an unknown user: the same answer for both.
    pub fn invalid_credentials() -> Self {
        Self::new(
            400,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        )
    }

    pub fn invalid_scope(scope: &str) -> Self {
        Self::new(
            400,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid; ask for delegated permissions of the WindowsDefenderATP resource, e.g. https://api.securitycenter.microsoft.com/Machine.Read."
            ),
        )
    }

    pub fn invalid_refresh_token() -> Self {
        Self::new(
            400,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid: the refresh token is not valid.",
        )
    }

    /// A client assertion that does not hold: 700027 (signature, certificate), 700021 (issuer,
    /// audience), 700024 (time).
    pub fn invalid_assertion(code: u32, why: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            code,
            format!("Client assertion failed validation: {why}."),
        )
    }

    pub fn authorization_pending() -> Self {
        Self::new(
            400,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )
    }

    pub fn expired_device_code() -> Self {
        Self::new(400, "expired_token", 70019, "Verification code expired.")
    }

    pub fn invalid_device_code() -> Self {
        Self::new(
            400,
            "invalid_grant",
            70000,
            "The provided value for the input parameter 'device_code' is not valid.",
        )
    }

    /// The store could not be read; clients may retry a 503.
    pub fn temporarily_unavailable() -> Self {
        Self::new(
            503,
            "temporarily_unavailable",
            90033,
            "The service is temporarily unavailable. Please try again.",
        )
    }
}
