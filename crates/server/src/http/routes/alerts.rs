//! The alert API.

use std::sync::Arc;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::Response;
use openmde_model::update::{AlertReference, AlertUpdate, SignedAlertUpdate};
use openmde_model::{Timestamp, related};
use openmde_store::query::{EntitySet, Scope};
use openmde_store::{AlertByReference, AlertMachine, Updated};
use serde_json::{Map, Value};

use crate::access::Admitted;
use crate::http::auth::{
    ALERT_READ, ALERT_WRITE, Authenticated, FILE_READ, IP_READ, MACHINE_READ, Permissions, URL_READ, USER_READ,
};
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, SelectOnly};
use crate::http::list::ListOptions;
use crate::http::odata::{Projection, RequestOrigin, collection_response, entity_response};
use crate::http::routes::machines;
use crate::state::{AppState, api};
use openmde_model::schema::{ALERT, MACHINE};

/// The alerts a caller may list: those last updated within retention.
fn retained_alerts(state: &AppState, machine_id: Option<String>) -> Scope {
    Scope::Alerts {
        updated_since: state.retention_start(),
        machine_id,
    }
}

/// `GET /api/alerts`: OData `$filter`, `$orderby`, `$top`/`pageSize`, `$skip`, `$select`,
/// `$expand=evidence`, `$count`; pages of up to 10,000 behind `@odata.nextLink`.
pub async fn list_alerts(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    request: ListOptions,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &ALERT_READ, api::ALERTS).await?;
    let scope = ("Alerts", retained_alerts(&state, None));
    let limit = caller.limit(EntitySet::Alerts, None);
    request.serve(&*state.store, caller.tenant, &origin, scope, limit).await
}

/// `GET /api/alerts/$count`.
pub async fn count_alerts(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    request: ListOptions,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &ALERT_READ, api::ALERTS).await?;
    let limit = caller.limit(EntitySet::Alerts, None);
    request
        .serve_count(&*state.store, caller.tenant, retained_alerts(&state, None), limit)
        .await
}

/// `GET /api/machines/{id}/alerts`: the machine's alerts, with the options of `GET /api/alerts`.
pub async fn machine_alerts(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(id_or_name): ApiPath<String>,
    request: ListOptions,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &ALERT_READ, api::MACHINE_ALERTS).await?;
    let machine_id = machines::resolve(&state, &caller, &id_or_name).await?;
    let scope = ("Alerts", retained_alerts(&state, Some(machine_id)));
    request.serve(&*state.store, caller.tenant, &origin, scope, None).await
}

/// `GET /api/machines/{id}/alerts/$count`, as MDE's OData samples use it.
pub async fn count_machine_alerts(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    ApiPath(id_or_name): ApiPath<String>,
    request: ListOptions,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &ALERT_READ, api::MACHINE_ALERTS).await?;
    let machine_id = machines::resolve(&state, &caller, &id_or_name).await?;
    request
        .serve_count(
            &*state.store,
            caller.tenant,
            retained_alerts(&state, Some(machine_id)),
            None,
        )
        .await
}

/// `GET /api/alerts/{id}`: the alert, with its evidence (as the documentation's example shows).
pub async fn get_alert(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(alert_id): ApiPath<String>,
    SelectOnly(select): SelectOnly,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &ALERT_READ, api::ALERT).await?;
    let projection = Projection::new(&ALERT, select.as_deref())?;
    let stored = reachable_alert(&state, &caller, &alert_id).await?;
    entity_response(&origin, "Alerts", projection.as_ref(), &alert_document(&stored)?)
}

/// `PATCH /api/alerts/{id}`: status, assignment, classification, determination, a comment.
pub async fn update_alert(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(alert_id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &ALERT_WRITE, api::ALERT_UPDATE).await?;
    let update = AlertUpdate::from_body(&ApiError::json_body(&body)?).map_err(ApiError::body)?;
    let mut updated = apply_to_alerts(&state, &caller, vec![alert_id], update).await?;
    let stored = updated.pop().ok_or_else(ApiError::internal)?;
    entity_response(&origin, "Alerts", None, &alert_document(&stored)?)
}

/// `POST /api/alerts/batchUpdate`: the same changes to several alerts; 200 with an empty body.
pub async fn batch_update(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &ALERT_WRITE, api::ALERT_BATCH_UPDATE).await?;
    let (ids, update) = AlertUpdate::from_batch_body(&ApiError::json_body(&body)?).map_err(ApiError::body)?;
    apply_to_alerts(&state, &caller, ids, update).await?;
    Ok(axum::http::StatusCode::OK.into_response())
}

/// `POST /api/alerts/CreateAlertByReference`: a new alert on a machine, or the open alert of the
/// same title there that takes it in.
pub async fn create_by_reference(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &ALERT_WRITE, api::ALERT_BY_REFERENCE).await?;
    let reference = AlertReference::from_body(&ApiError::json_body(&body)?).map_err(ApiError::body)?;
    let machine_id = reference.machine_id.clone();
    if !caller.reaches_all() {
        machines::resolve(&state, &caller, &machine_id).await?;
    }
    let now = Timestamp::now();
    let stored = match state
        .store
        .create_alert_by_reference(caller.tenant, new_alert_id(now), reference, now)
        .await?
    {
        AlertByReference::Created(stored) | AlertByReference::Merged(stored) => stored,
        AlertByReference::MachineNotFound => return Err(ApiError::resource_not_found("Machine", &machine_id)),
    };
    entity_response(&origin, "Alerts", None, &alert_document(&stored)?)
}

/// A stored alert as served, its evidence in place.
fn alert_document(stored: &openmde_store::AlertDocument) -> Result<String, ApiError> {
    stored.with_evidence().ok_or_else(|| {
        tracing::error!("stored alert is not valid JSON");
        ApiError::internal()
    })
}

/// An alert id in MDE's form: `da`, the .NET ticks of its creation, `_`, a random int32.
fn new_alert_id(now: Timestamp) -> String {
    const UNIX_EPOCH_IN_DOTNET_TICKS: i64 = 621_355_968_000_000_000;
    let random = i32::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..4].try_into().unwrap_or_default());
    format!("da{}_{random}", now.0 + UNIX_EPOCH_IN_DOTNET_TICKS)
}

/// An alert within retention and within the caller's device groups, or 404.
async fn reachable_alert(
    state: &AppState,
    caller: &Admitted<'_>,
    alert_id: &str,
) -> Result<openmde_store::AlertDocument, ApiError> {
    state
        .store
        .alert(caller.tenant, alert_id, state.retention_start())
        .await?
        .filter(|stored| caller.reaches_alert(&stored.doc))
        .ok_or_else(|| ApiError::resource_not_found("Alert", alert_id))
}

/// Applies an update, signed by the caller, to alerts within retention (and within a user's
/// device groups): all or none.
async fn apply_to_alerts(
    state: &AppState,
    caller: &Admitted<'_>,
    alert_ids: Vec<String>,
    update: AlertUpdate,
) -> Result<Vec<openmde_store::AlertDocument>, ApiError> {
    if !caller.reaches_all() {
        for alert_id in &alert_ids {
            reachable_alert(state, caller, alert_id).await?;
        }
    }
    let author = match &caller.principal.kind {
        openmde_identity::PrincipalKind::Delegated { upn: Some(upn), .. } => upn.clone(),
        _ => caller.principal.client_id.clone(),
    };
    let at = Timestamp::now();
    let updated_since = at.minus_days(state.retention_days);
    let change = SignedAlertUpdate { update, at, author };
    match state
        .store
        .update_alerts(caller.tenant, alert_ids, updated_since, change)
        .await?
    {
        Updated::All(updated) => Ok(updated),
        Updated::NotFound(alert_id) => Err(ApiError::resource_not_found("Alert", &alert_id)),
    }
}

/// `GET /api/alerts/{id}/machine`: the machine the alert was raised on.
pub async fn alert_machine(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(alert_id): ApiPath<String>,
    SelectOnly(select): SelectOnly,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &MACHINE_READ, api::ALERT_MACHINE).await?;
    let projection = Projection::new(&MACHINE, select.as_deref())?;
    let updated_since = state.retention_start();
    match state
        .store
        .alert_machine(caller.tenant, &alert_id, updated_since)
        .await?
    {
        AlertMachine::Found(machine) if caller.reaches_machine(&machine) => {
            entity_response(&origin, "Machines", projection.as_ref(), &machine)
        }
        // A user outside the alert's device group finds neither the device nor the alert.
        AlertMachine::Found(_) | AlertMachine::AlertNotFound => Err(ApiError::resource_not_found("Alert", &alert_id)),
        AlertMachine::AlertHasNoMachine => Err(ApiError::resource_not_found("Machine of alert", &alert_id)),
        AlertMachine::MachineNotFound { machine_id } => Err(ApiError::resource_not_found("Machine", &machine_id)),
    }
}

/// What an alert-related route answers with.
enum Related {
    One {
        entity_set: &'static str,
        entity: &'static str,
        found: Option<Map<String, Value>>,
    },
    Many {
        entity_set: &'static str,
        items: Vec<Map<String, Value>>,
    },
}

/// The shared path of the routes that derive entities from an alert and its evidence.
async fn related_to_alert(
    state: &AppState,
    auth: &Authenticated,
    origin: &RequestOrigin,
    alert_id: &str,
    (permissions, api): (&Permissions, &'static str),
    derive: impl FnOnce(&Map<String, Value>, &[Map<String, Value>]) -> Related,
) -> Result<Response, ApiError> {
    let caller = state.admit(auth, permissions, api).await?;
    let stored = reachable_alert(state, &caller, alert_id).await?;
    let (alert, evidence) = stored.parts().ok_or_else(|| {
        tracing::error!(alert = %alert_id, "stored alert is not valid JSON");
        ApiError::internal()
    })?;
    match derive(&alert, &evidence) {
        Related::Many { entity_set, items } => Ok(collection_response(origin, entity_set, items)),
        Related::One {
            entity_set,
            entity,
            found,
        } => {
            let found = found.ok_or_else(|| ApiError::resource_not_found(&format!("{entity} of alert"), alert_id))?;
            entity_response(origin, entity_set, None, &Value::Object(found).to_string())
        }
    }
}

/// How one related-entity route derives its answer.
type Derive = fn(&Map<String, Value>, &[Map<String, Value>]) -> Related;

/// `GET /api/alerts/{id}/user`, `/files`, `/ips` and `/domains`: each needs its own permission
/// and has its own rate limit.
pub async fn alert_related(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath((alert_id, relation)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let (permissions, api, derive): (&Permissions, &'static str, Derive) = match relation.as_str() {
        "user" => (&USER_READ, api::ALERT_USER, |alert, evidence| Related::One {
            entity_set: "Users",
            entity: "User",
            found: related::user(alert, evidence),
        }),
        "files" => (&FILE_READ, api::ALERT_FILES, |_, evidence| Related::Many {
            entity_set: "Files",
            items: related::files(evidence),
        }),
        "ips" => (&IP_READ, api::ALERT_IPS, |_, evidence| Related::Many {
            entity_set: "Ips",
            items: related::ips(evidence),
        }),
        "domains" => (&URL_READ, api::ALERT_DOMAINS, |_, evidence| Related::Many {
            entity_set: "Domains",
            items: related::domains(evidence),
        }),
        _ => return Err(ApiError::no_route()),
    };
    related_to_alert(&state, &auth, &origin, &alert_id, (permissions, api), derive).await
}
