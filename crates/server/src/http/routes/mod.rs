//! Route table: the MDE API under `/api` (and `/api/v1.0`), the Entra endpoints at the root.

pub mod admin;
pub mod alerts;
pub mod health;
pub mod identity;
pub mod machines;
pub mod service;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::http::error::ApiError;
use crate::state::AppState;

fn mde_api() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(service::service_document))
        .route("/$metadata", get(service::metadata))
        .route("/alerts", get(alerts::list_alerts))
        .route("/alerts/$count", get(alerts::count_alerts))
        .route("/alerts/batchUpdate", post(alerts::batch_update))
        .route("/alerts/CreateAlertByReference", post(alerts::create_by_reference))
        .route("/alerts/{id}", get(alerts::get_alert).patch(alerts::update_alert))
        .route("/alerts/{id}/machine", get(alerts::alert_machine))
        .route("/alerts/{id}/{relation}", get(alerts::alert_related))
        .route("/machines", get(machines::list_machines))
        .route("/machines/$count", get(machines::count_machines))
        .route("/machines/findbytag", get(machines::find_by_tag))
        .route("/machines/{id}/alerts", get(alerts::machine_alerts))
        .route("/machines/{id}/alerts/$count", get(alerts::count_machine_alerts))
        .route("/machines/{id}/logonusers", get(machines::logon_users))
        .route(
            "/machines/AddOrRemoveTagForMultipleMachines",
            post(machines::tags_for_multiple),
        )
        .route(
            "/machines/{id}",
            get(machines::get_machine).patch(machines::patch_machine),
        )
        .route("/machines/{id}/tags", post(machines::tags))
        .route("/machines/{id}/setDeviceValue", post(machines::set_device_value))
}

fn entra() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(identity::openid_configuration_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(identity::openid_configuration_v1),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(identity::token_v2))
        .route("/{tenant}/oauth2/token", post(identity::token_v1))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(identity::device_code))
        .route(
            "/devicelogin",
            get(identity::device_login_form).post(identity::device_login),
        )
        .route("/{tenant}/discovery/instance", get(identity::instance_discovery))
        .route("/{tenant}/userrealm/{username}", get(identity::user_realm))
        .route("/{tenant}/discovery/v2.0/keys", get(identity::jwks))
        .route("/{tenant}/discovery/keys", get(identity::jwks))
        .route("/discovery/keys", get(identity::jwks))
        .route("/discovery/v2.0/keys", get(identity::jwks))
}

fn health() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .nest("/api", mde_api())
        .nest("/api/v1.0", mde_api())
        .merge(entra())
        .merge(health())
        .fallback(|| async { ApiError::no_route() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state)
}
