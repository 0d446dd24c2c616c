//! The admin API: management of tenants, applications, users, user groups, roles and device
//! groups over HTTP, on a listener of its own (loopback by default), for `Authorization: Bearer
//! {admin key}`. Every operation is the CLI's ([`crate::manage`]); errors use MDE's envelope.
//!
//! Creates answer 201 with the entity (applications and users with their secret, once),
//! updates 200 with the entity, deletes 204. Updates (`PATCH`) change only what the body names.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use openmde_store::{Store, Tenant};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::access::AccessCache;
use crate::http::error::ApiError;
use crate::manage::{DeviceGroupSpec, Manager, NewApp, NewTenant, NewUser, NewUserGroup, RoleSpec};

pub struct AdminState {
    pub store: Arc<dyn Store>,
    /// The API server's access cache: changes here apply to its next call.
    pub access: Arc<AccessCache>,
    /// SHA-256 of the admin key.
    pub key_sha256: [u8; 32],
}

impl AdminState {
    fn manager(&self) -> Manager<'_> {
        Manager::new(self.store.as_ref(), Some(&self.access))
    }
}

/// A caller who presented the admin key.
pub struct Administrator;

impl FromRequestParts<Arc<AdminState>> for Administrator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AdminState>) -> Result<Self, ApiError> {
        let key = crate::http::auth::bearer(parts)?;
        if openmde_identity::secret::matches(key, &state.key_sha256) {
            Ok(Administrator)
        } else {
            Err(ApiError::unauthorized("The admin key is not valid"))
        }
    }
}

type Admin = State<Arc<AdminState>>;
type Answer = Result<Response, ApiError>;

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::body(openmde_model::update::BodyError::InvalidRequestBody(format!(
            "Request body is incorrect: {e}"
        )))
    })
}

fn ok(value: Value) -> Answer {
    Ok(axum::Json(value).into_response())
}

fn created(value: impl serde::Serialize) -> Answer {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

fn deleted() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn tenant(state: &AdminState, name: &str) -> Result<Tenant, ApiError> {
    Ok(state.manager().tenant(Some(name)).await?)
}

async fn list_tenants(State(state): Admin, _: Administrator) -> Answer {
    ok(state.manager().tenants().await?)
}

async fn create_tenant(State(state): Admin, _: Administrator, bytes: axum::body::Bytes) -> Answer {
    created(state.manager().create_tenant(body::<NewTenant>(&bytes)?).await?)
}

async fn list_apps(State(state): Admin, _: Administrator, Path(t): Path<String>) -> Answer {
    ok(state.manager().apps(&tenant(&state, &t).await?).await?)
}

async fn create_app(State(state): Admin, _: Administrator, Path(t): Path<String>, bytes: axum::body::Bytes) -> Answer {
    let request = body::<NewApp>(&bytes)?;
    created(state.manager().create_app(&tenant(&state, &t).await?, request).await?)
}

async fn delete_app(State(state): Admin, _: Administrator, Path((t, client_id)): Path<(String, String)>) -> Answer {
    state
        .manager()
        .delete_app(&tenant(&state, &t).await?, &client_id)
        .await?;
    deleted()
}

async fn reset_secret(State(state): Admin, _: Administrator, Path((t, client_id)): Path<(String, String)>) -> Answer {
    let app = state
        .manager()
        .reset_secret(&tenant(&state, &t).await?, &client_id)
        .await?;
    created(app)
}

async fn list_users(State(state): Admin, _: Administrator, Path(t): Path<String>) -> Answer {
    ok(state.manager().users(&tenant(&state, &t).await?).await?)
}

async fn create_user(State(state): Admin, _: Administrator, Path(t): Path<String>, bytes: axum::body::Bytes) -> Answer {
    let request = body::<NewUser>(&bytes)?;
    created(state.manager().create_user(&tenant(&state, &t).await?, request).await?)
}

async fn delete_user(State(state): Admin, _: Administrator, Path((t, user)): Path<(String, String)>) -> Answer {
    state.manager().delete_user(&tenant(&state, &t).await?, &user).await?;
    deleted()
}

async fn list_groups(State(state): Admin, _: Administrator, Path(t): Path<String>) -> Answer {
    ok(state.manager().groups(&tenant(&state, &t).await?).await?)
}

async fn create_group(
    State(state): Admin,
    _: Administrator,
    Path(t): Path<String>,
    bytes: axum::body::Bytes,
) -> Answer {
    let request = body::<NewUserGroup>(&bytes)?;
    created(
        state
            .manager()
            .create_group(&tenant(&state, &t).await?, request)
            .await?,
    )
}

async fn delete_group(State(state): Admin, _: Administrator, Path((t, group)): Path<(String, String)>) -> Answer {
    state.manager().delete_group(&tenant(&state, &t).await?, &group).await?;
    deleted()
}

async fn add_member(
    State(state): Admin,
    _: Administrator,
    Path((t, group, user)): Path<(String, String, String)>,
) -> Answer {
    let tenant = tenant(&state, &t).await?;
    state.manager().set_member(&tenant, &group, &user, true).await?;
    deleted()
}

async fn remove_member(
    State(state): Admin,
    _: Administrator,
    Path((t, group, user)): Path<(String, String, String)>,
) -> Answer {
    let tenant = tenant(&state, &t).await?;
    state.manager().set_member(&tenant, &group, &user, false).await?;
    deleted()
}

async fn list_roles(State(state): Admin, _: Administrator, Path(t): Path<String>) -> Answer {
    ok(state.manager().roles(&tenant(&state, &t).await?).await?)
}

async fn create_role(State(state): Admin, _: Administrator, Path(t): Path<String>, bytes: axum::body::Bytes) -> Answer {
    let spec = body::<RoleSpec>(&bytes)?;
    created(state.manager().create_role(&tenant(&state, &t).await?, spec).await?)
}

async fn update_role(
    State(state): Admin,
    _: Administrator,
    Path((t, role)): Path<(String, String)>,
    bytes: axum::body::Bytes,
) -> Answer {
    let spec = body::<RoleSpec>(&bytes)?;
    ok(state
        .manager()
        .update_role(&tenant(&state, &t).await?, &role, spec)
        .await?)
}

async fn delete_role(State(state): Admin, _: Administrator, Path((t, role)): Path<(String, String)>) -> Answer {
    state.manager().delete_role(&tenant(&state, &t).await?, &role).await?;
    deleted()
}

async fn list_device_groups(State(state): Admin, _: Administrator, Path(t): Path<String>) -> Answer {
    ok(state.manager().device_groups(&tenant(&state, &t).await?).await?)
}

async fn create_device_group(
    State(state): Admin,
    _: Administrator,
    Path(t): Path<String>,
    bytes: axum::body::Bytes,
) -> Answer {
    let spec = body::<DeviceGroupSpec>(&bytes)?;
    created(
        state
            .manager()
            .create_device_group(&tenant(&state, &t).await?, spec)
            .await?,
    )
}

async fn update_device_group(
    State(state): Admin,
    _: Administrator,
    Path((t, group)): Path<(String, String)>,
    bytes: axum::body::Bytes,
) -> Answer {
    let spec = body::<DeviceGroupSpec>(&bytes)?;
    let tenant = tenant(&state, &t).await?;
    ok(state.manager().update_device_group(&tenant, &group, spec).await?)
}

async fn delete_device_group(
    State(state): Admin,
    _: Administrator,
    Path((t, group)): Path<(String, String)>,
) -> Answer {
    state
        .manager()
        .delete_device_group(&tenant(&state, &t).await?, &group)
        .await?;
    deleted()
}

pub fn router(state: Arc<AdminState>) -> Router {
    let tenant = |path: &str| format!("/admin/tenants/{{tenant}}{path}");
    Router::new()
        .route("/admin/tenants", get(list_tenants).post(create_tenant))
        .route(&tenant("/apps"), get(list_apps).post(create_app))
        .route(&tenant("/apps/{client_id}"), axum::routing::delete(delete_app))
        .route(&tenant("/apps/{client_id}/secret"), axum::routing::post(reset_secret))
        .route(&tenant("/users"), get(list_users).post(create_user))
        .route(&tenant("/users/{user}"), axum::routing::delete(delete_user))
        .route(&tenant("/groups"), get(list_groups).post(create_group))
        .route(&tenant("/groups/{group}"), axum::routing::delete(delete_group))
        .route(
            &tenant("/groups/{group}/members/{user}"),
            put(add_member).delete(remove_member),
        )
        .route(&tenant("/roles"), get(list_roles).post(create_role))
        .route(
            &tenant("/roles/{role}"),
            axum::routing::patch(update_role).delete(delete_role),
        )
        .route(
            &tenant("/device-groups"),
            get(list_device_groups).post(create_device_group),
        )
        .route(
            &tenant("/device-groups/{group}"),
            axum::routing::patch(update_device_group).delete(delete_device_group),
        )
        .fallback(|| async { ApiError::no_route() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state)
}
