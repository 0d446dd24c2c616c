//! The bearer-token extractor: every MDE API handler starts with it.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use openmde_access::RolePermission;
use openmde_identity::authenticator::AuthError;
use openmde_identity::{Caller, PrincipalKind};

use crate::http::error::ApiError;
use crate::state::{AppState, now_unix};

/// The credential of an `Authorization: Bearer {credential}` header, or 401.
pub fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("Authorization header is missing"))?;
    header
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::unauthorized("Authorization header must be 'Bearer {token}'"))
}

/// A caller whose token was verified.
pub struct Authenticated(pub Arc<Caller>);

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        match state.authenticator.authenticate(token, now_unix()).await {
            Ok(caller) => Ok(Authenticated(caller)),
            Err(AuthError::Token(error)) => Err(ApiError::unauthorized(format!("Invalid token: {error}"))),
            Err(AuthError::Store(error)) => Err(error.into()),
        }
    }
}

/// The permissions an endpoint accepts: application, delegated, and the MDE role permission a
/// user needs besides the delegated one (mde-api.md §3.1).
pub struct Permissions {
    pub application: &'static [&'static str],
    pub delegated: &'static [&'static str],
    /// Any one of these.
    pub role: &'static [RolePermission],
}

const VIEW_DATA: &[RolePermission] = &[RolePermission::ViewData];
const ALERTS_INVESTIGATION: &[RolePermission] = &[RolePermission::AlertsInvestigation];

pub const MACHINE_READ: Permissions = Permissions {
    application: &["Machine.Read.All", "Machine.ReadWrite.All"],
    delegated: &["Machine.Read", "Machine.ReadWrite"],
    role: VIEW_DATA,
};

const MACHINE_READ_WRITE: (&[&str], &[&str]) = (&["Machine.ReadWrite.All"], &["Machine.ReadWrite"]);

/// `PATCH /api/machines/{id}`: 'Alerts investigation', as its page says.
pub const MACHINE_UPDATE: Permissions = Permissions {
    application: MACHINE_READ_WRITE.0,
    delegated: MACHINE_READ_WRITE.1,
    role: ALERTS_INVESTIGATION,
};

/// Tags: the API pages name 'Manage security setting'; the role page puts "manage device tags"
/// under 'Alerts investigation'. Either is accepted.
pub const MACHINE_TAGS: Permissions = Permissions {
    application: MACHINE_READ_WRITE.0,
    delegated: MACHINE_READ_WRITE.1,
    role: &[
        RolePermission::ManageSecuritySettings,
        RolePermission::AlertsInvestigation,
    ],
};

pub const MACHINE_DEVICE_VALUE: Permissions = Permissions {
    application: MACHINE_READ_WRITE.0,
    delegated: MACHINE_READ_WRITE.1,
    role: &[RolePermission::ManageSecuritySettings],
};

pub const ALERT_READ: Permissions = Permissions {
    application: &["Alert.Read.All", "Alert.ReadWrite.All"],
    delegated: &["Alert.Read", "Alert.ReadWrite"],
    role: VIEW_DATA,
};

pub const ALERT_WRITE: Permissions = Permissions {
    application: &["Alert.ReadWrite.All"],
    delegated: &["Alert.ReadWrite"],
    role: ALERTS_INVESTIGATION,
};

/// Entities related to an alert: the same permission name for applications and users.
pub const USER_READ: Permissions = Permissions {
    application: &["User.Read.All"],
    delegated: &["User.Read.All"],
    role: VIEW_DATA,
};
pub const FILE_READ: Permissions = Permissions {
    application: &["File.Read.All"],
    delegated: &["File.Read.All"],
    role: VIEW_DATA,
};
pub const IP_READ: Permissions = Permissions {
    application: &["Ip.Read.All"],
    delegated: &["Ip.Read.All"],
    role: VIEW_DATA,
};
pub const URL_READ: Permissions = Permissions {
    application: &["URL.Read.All"],
    delegated: &["URL.Read.All"],
    role: VIEW_DATA,
};

impl Authenticated {
    pub fn require(&self, permissions: &Permissions) -> Result<&Caller, ApiError> {
        let principal = &self.0.principal;
        if principal.has_permission(permissions.application, permissions.delegated) {
            return Ok(&self.0);
        }
        let needed = match principal.kind {
            PrincipalKind::Application { .. } => permissions.application,
            PrincipalKind::Delegated { .. } => permissions.delegated,
        };
        Err(ApiError::forbidden(format!(
            "The application does not have any of the required permissions: {}",
            needed.join(", ")
        )))
    }
}
