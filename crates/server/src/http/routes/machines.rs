//! The machine API.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use openmde_model::update::{BodyError, MachineUpdate};
use serde_json::Value;

use crate::http::auth::{Authenticated, MACHINE_READ, MACHINE_WRITE};
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, SelectOnly};
use crate::http::odata::{Projection, RequestOrigin, collection_response, entity_response};
use crate::state::{AppState, api};
use openmde_model::schema::MACHINE;
use openmde_store::Updated;

/// `GET /api/machines/{id}`: by machine id or computer DNS name, if last seen within retention.
pub async fn get_machine(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(id_or_name): ApiPath<String>,
    SelectOnly(select): SelectOnly,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &MACHINE_READ, api::MACHINE).await?;
    let projection = Projection::new(&MACHINE, select.as_deref())?;
    let seen_since = state.retention_start();
    match state.store.machine(caller.tenant, &id_or_name, seen_since).await? {
        Some(machine) => entity_response(&origin, "Machines", projection.as_ref(), &machine),
        None => Err(ApiError::resource_not_found("Machine", &id_or_name)),
    }
}

/// Reads one of the machine writes' bodies.
type ReadBody = fn(&Value) -> Result<MachineUpdate, BodyError>;

/// The shared path of the machine writes: permission, limit, body, one transaction.
async fn update_machine(
    state: &AppState,
    auth: &Authenticated,
    origin: &RequestOrigin,
    machine_id: &str,
    api: &'static str,
    (body, read): (&[u8], ReadBody),
) -> Result<Response, ApiError> {
    let caller = state.admit(auth, &MACHINE_WRITE, api).await?;
    let update = read(&ApiError::json_body(body)?).map_err(ApiError::body)?;
    let mut updated = apply_to_machines(state, caller, vec![machine_id.to_string()], update).await?;
    let machine = updated.pop().ok_or_else(ApiError::internal)?;
    entity_response(origin, "Machines", None, &machine)
}

/// Applies an update to machines within retention: all or none.
async fn apply_to_machines(
    state: &AppState,
    caller: &openmde_identity::Caller,
    machine_ids: Vec<String>,
    update: MachineUpdate,
) -> Result<Vec<String>, ApiError> {
    let seen_since = state.retention_start();
    match state
        .store
        .update_machines(caller.tenant, machine_ids, seen_since, update)
        .await?
    {
        Updated::All(machines) => Ok(machines),
        Updated::NotFound(machine_id) => Err(ApiError::resource_not_found("Machine", &machine_id)),
    }
}

/// `POST /api/machines/AddOrRemoveTagForMultipleMachines`: one tag change on up to 500
/// machines; the updated machines.
pub async fn tags_for_multiple(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &MACHINE_WRITE, api::MACHINES_TAGS).await?;
    let (ids, update) = MachineUpdate::from_multiple_tags_body(&ApiError::json_body(&body)?).map_err(ApiError::body)?;
    let machines = apply_to_machines(&state, caller, ids, update).await?;
    let items = machines
        .iter()
        .map(|doc| serde_json::from_str(doc))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            tracing::error!(%error, "stored machine is not valid JSON");
            ApiError::internal()
        })?;
    Ok(collection_response(&origin, "Machines", items))
}

/// `POST /api/machines/{id}/tags`: `{"Value": "...", "Action": "Add" | "Remove"}`.
pub async fn tags(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(machine_id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let read = (&body[..], MachineUpdate::from_tags_body as ReadBody);
    update_machine(&state, &auth, &origin, &machine_id, api::MACHINE_TAGS, read).await
}

/// `POST /api/machines/{id}/setDeviceValue`: `{"DeviceValue": "Normal" | "Low" | "High"}`.
pub async fn set_device_value(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(machine_id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let read = (&body[..], MachineUpdate::from_device_value_body as ReadBody);
    update_machine(&state, &auth, &origin, &machine_id, api::MACHINE_DEVICE_VALUE, read).await
}

/// `PATCH /api/machines/{id}`: `{"machineTags": [...], "deviceValue": "..."}`; the sent tags
/// become the machine's tags.
pub async fn patch_machine(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(machine_id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let read = (&body[..], MachineUpdate::from_patch_body as ReadBody);
    update_machine(&state, &auth, &origin, &machine_id, api::MACHINE_UPDATE, read).await
}
