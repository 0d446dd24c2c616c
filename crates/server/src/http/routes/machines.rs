//! The machine API.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use openmde_model::Timestamp;

use crate::http::auth::{Authenticated, MACHINE_READ};
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, SelectOnly};
use crate::http::odata::{Projection, RequestOrigin, entity_response};
use crate::state::{AppState, api};
use openmde_model::schema::MACHINE;

/// `GET /api/machines/{id}`: by machine id or computer DNS name, if last seen within retention.
pub async fn get_machine(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(id_or_name): ApiPath<String>,
    SelectOnly(select): SelectOnly,
) -> Result<Response, ApiError> {
    let caller = auth.require(&MACHINE_READ)?;
    let projection = Projection::new(&MACHINE, select.as_deref())?;
    state.count_call(caller, api::MACHINE).await?;
    let seen_since = Timestamp::now().minus_days(state.retention_days);
    match state.store.machine(caller.tenant, &id_or_name, seen_since).await? {
        Some(machine) => entity_response(&origin, "Machines", projection.as_ref(), &machine),
        None => Err(ApiError::resource_not_found("Machine", &id_or_name)),
    }
}
