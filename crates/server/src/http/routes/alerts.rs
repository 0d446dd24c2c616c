//! The alert API.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use openmde_model::Timestamp;
use openmde_store::AlertMachine;

use crate::http::auth::{ALERT_READ, Authenticated, MACHINE_READ};
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, SelectOnly};
use crate::http::odata::{Projection, RequestOrigin, entity_response};
use crate::state::{AppState, api};
use openmde_model::schema::{ALERT, MACHINE};

/// `GET /api/alerts/{id}`: the alert, with its evidence (as the documentation's example shows).
pub async fn get_alert(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(alert_id): ApiPath<String>,
    SelectOnly(select): SelectOnly,
) -> Result<Response, ApiError> {
    let caller = auth.require(&ALERT_READ)?;
    let projection = Projection::new(&ALERT, select.as_deref())?;
    state.count_call(caller, api::ALERT).await?;
    let updated_since = Timestamp::now().minus_days(state.retention_days);
    let stored = state
        .store
        .alert(caller.tenant, &alert_id, updated_since)
        .await?
        .ok_or_else(|| ApiError::resource_not_found("Alert", &alert_id))?;
    let document = stored.with_evidence().ok_or_else(|| {
        tracing::error!(alert = %alert_id, "stored alert is not valid JSON");
        ApiError::internal()
    })?;
    entity_response(&origin, "Alerts", projection.as_ref(), &document)
}

/// `GET /api/alerts/{id}/machine`: the machine the alert was raised on.
pub async fn alert_machine(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(alert_id): ApiPath<String>,
    SelectOnly(select): SelectOnly,
) -> Result<Response, ApiError> {
    let caller = auth.require(&MACHINE_READ)?;
    let projection = Projection::new(&MACHINE, select.as_deref())?;
    state.count_call(caller, api::ALERT_MACHINE).await?;
    let updated_since = Timestamp::now().minus_days(state.retention_days);
    match state
        .store
        .alert_machine(caller.tenant, &alert_id, updated_since)
        .await?
    {
        AlertMachine::Found(machine) => entity_response(&origin, "Machines", projection.as_ref(), &machine),
        AlertMachine::AlertNotFound => Err(ApiError::resource_not_found("Alert", &alert_id)),
        AlertMachine::AlertHasNoMachine => Err(ApiError::resource_not_found("Machine of alert", &alert_id)),
        AlertMachine::MachineNotFound { machine_id } => Err(ApiError::resource_not_found("Machine", &machine_id)),
    }
}
