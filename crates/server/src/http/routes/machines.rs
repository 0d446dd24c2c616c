//! The machine API.

use std::sync::Arc;

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use openmde_model::update::{BodyError, MachineUpdate};
use openmde_model::{Timestamp, related};
use openmde_store::query::{Condition, EntitySet, ListQuery, Scope};
use openmde_store::{AlertDocument, Updated};
use serde_json::{Map, Value};

use crate::access::Admitted;
use crate::http::auth::{
    Authenticated, MACHINE_DEVICE_VALUE, MACHINE_READ, MACHINE_TAGS, MACHINE_UPDATE, Permissions, USER_READ,
};
use crate::http::error::ApiError;
use crate::http::extract::ApiPath;
use crate::http::list::{ListOptions, MAX_PAGE};
use crate::http::odata::{Projection, RequestOrigin, collection_response, entity_response};
use crate::state::{AppState, api};
use openmde_model::schema::MACHINE;

/// The machines a caller may list: those last seen within retention (or never seen).
fn retained_machines(state: &AppState) -> Scope {
    Scope::Machines {
        seen_since: state.retention_start(),
    }
}

/// The id of a machine within retention and within the caller's device groups, by its id or
/// computer DNS name, or 404.
pub async fn resolve(state: &AppState, caller: &Admitted<'_>, id_or_name: &str) -> Result<String, ApiError> {
    let machine = reachable_machine(state, caller, id_or_name).await?;
    let machine: Map<String, Value> = serde_json::from_str(&machine).map_err(|error| {
        tracing::error!(%error, "stored machine is not valid JSON");
        ApiError::internal()
    })?;
    Ok(machine
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(id_or_name)
        .to_string())
}

/// `GET /api/machines`: OData `$filter`, `$orderby`, `$top`/`pageSize`, `$skip`, `$select`,
/// `$count`. As documented, 404 when the tenant has no machine seen within retention.
pub async fn list_machines(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    request: ListOptions,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &MACHINE_READ, api::MACHINES).await?;
    let list = request.list(retained_machines(&state), caller.limit(EntitySet::Machines, None))?;
    let page = state.store.list(caller.tenant, &list.query).await?;
    if page.rows.is_empty() && list.query.after.is_none() {
        let any = ListQuery {
            limit: 1,
            filter: caller.limit(EntitySet::Machines, None),
            ..ListQuery::new(retained_machines(&state))
        };
        if state.store.list(caller.tenant, &any).await?.rows.is_empty() {
            return Err(ApiError::not_found("No machines were seen within the retention period"));
        }
    }
    list.response(&request, &origin, "Machines", page)
}

/// `GET /api/machines/$count`.
pub async fn count_machines(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    request: ListOptions,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &MACHINE_READ, api::MACHINES).await?;
    let limit = caller.limit(EntitySet::Machines, None);
    request
        .serve_count(&*state.store, caller.tenant, retained_machines(&state), limit)
        .await
}

/// `GET /api/machines/findbytag?tag=...&useStartsWithFilter=true|false`: machines with the tag
/// (ignoring ASCII case), or with a tag starting with it; list options apply as on `/machines`.
pub async fn find_by_tag(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    Query(parameters): Query<HashMap<String, String>>,
    request: ListOptions,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &MACHINE_READ, api::MACHINES_BY_TAG).await?;
    let tag = parameter(&parameters, "tag").filter(|t| !t.is_empty()).ok_or_else(|| {
        ApiError::body(BodyError::MissingRequiredParameter(
            "The parameter 'tag' is required".into(),
        ))
    })?;
    let prefix = match parameter(&parameters, "useStartsWithFilter")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::body(BodyError::InvalidInput(format!(
                "useStartsWithFilter must be true or false, not '{other}'"
            ))));
        }
    };
    let scope = ("Machines", retained_machines(&state));
    let condition = caller.limit(EntitySet::Machines, Some(Condition::machine_tagged(tag, prefix)));
    request
        .serve(&*state.store, caller.tenant, &origin, scope, condition)
        .await
}

/// A query parameter by name, matched without regard to case.
fn parameter<'a>(parameters: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    parameters
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// How far around the given time `findbyip` looks, and how far back it may look at all.
const FIND_BY_IP_WINDOW_SECONDS: i64 = 15 * 60;
const FIND_BY_IP_MAX_AGE_DAYS: i64 = 30;

/// `findbyip(ip='10.1.2.3',timestamp=2024-01-01T10:00:00Z)`: its ip and timestamp.
fn find_by_ip_arguments(segment: &str) -> Result<Option<(String, Timestamp)>, ApiError> {
    let Some(arguments) = segment
        .get(..9)
        .filter(|head| head.eq_ignore_ascii_case("findbyip("))
        .map(|_| &segment[9..])
    else {
        return Ok(None);
    };
    let invalid = |message: String| ApiError::body(BodyError::InvalidInput(message));
    let arguments = arguments
        .strip_suffix(')')
        .ok_or_else(|| invalid("findbyip(ip='...',timestamp=...) is not closed".into()))?;
    let (mut ip, mut timestamp) = (None, None);
    for argument in arguments.split(',') {
        let (name, value) = argument
            .split_once('=')
            .ok_or_else(|| invalid(format!("'{argument}' is not name=value")))?;
        let value = value.trim().trim_matches('\'');
        match name.trim().to_ascii_lowercase().as_str() {
            "ip" => ip = Some(value.to_string()),
            "timestamp" => timestamp = Some(Timestamp::parse(value).map_err(|e| invalid(e.to_string()))?),
            other => return Err(invalid(format!("findbyip takes ip and timestamp, not '{other}'"))),
        }
    }
    let missing = |name: &str| {
        ApiError::body(BodyError::MissingRequiredParameter(format!(
            "The parameter '{name}' is required"
        )))
    };
    let ip = ip.ok_or_else(|| missing("ip"))?;
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(invalid(format!("'{ip}' is not an IP address")));
    }
    Ok(Some((ip, timestamp.ok_or_else(|| missing("timestamp"))?)))
}

/// `GET /api/machines/{id}`: by machine id or computer DNS name, if last seen within retention;
/// also `GET /api/machines/findbyip(...)`, which shares the path's shape.
pub async fn get_machine(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(id_or_name): ApiPath<String>,
    request: ListOptions,
) -> Result<Response, ApiError> {
    if let Some((ip, at)) = find_by_ip_arguments(&id_or_name)? {
        return find_by_ip(&state, &auth, &origin, &request, (&ip, at)).await;
    }
    let caller = state.admit(&auth, &MACHINE_READ, api::MACHINE).await?;
    let select = request.select_only()?;
    let projection = Projection::new(&MACHINE, select)?;
    let machine = reachable_machine(&state, &caller, &id_or_name).await?;
    entity_response(&origin, "Machines", projection.as_ref(), &machine)
}

/// A machine's document, if within retention and within the caller's device groups, else 404.
async fn reachable_machine(state: &AppState, caller: &Admitted<'_>, id_or_name: &str) -> Result<String, ApiError> {
    state
        .store
        .machine(caller.tenant, id_or_name, state.retention_start())
        .await?
        .filter(|machine| caller.reaches_machine(machine))
        .ok_or_else(|| ApiError::resource_not_found("Machine", id_or_name))
}

/// Machines seen with an internal IP within 15 minutes of a time in the past 30 days.
async fn find_by_ip(
    state: &AppState,
    auth: &Authenticated,
    origin: &RequestOrigin,
    request: &ListOptions,
    (ip, at): (&str, Timestamp),
) -> Result<Response, ApiError> {
    let caller = state.admit(auth, &MACHINE_READ, api::MACHINES_BY_IP).await?;
    let now = Timestamp::now();
    if at < now.minus_days(FIND_BY_IP_MAX_AGE_DAYS) || at > now.plus_seconds(FIND_BY_IP_WINDOW_SECONDS) {
        return Err(ApiError::body(BodyError::InvalidInput(format!(
            "The timestamp {at} is not within the last {FIND_BY_IP_MAX_AGE_DAYS} days"
        ))));
    }
    let window = (
        at.plus_seconds(-FIND_BY_IP_WINDOW_SECONDS),
        at.plus_seconds(FIND_BY_IP_WINDOW_SECONDS),
    );
    let condition = Condition::machine_seen_with_ip(ip, window.0, window.1);
    let condition = caller.limit(EntitySet::Machines, Some(condition));
    let scope = ("Machines", retained_machines(state));
    request
        .serve(&*state.store, caller.tenant, origin, scope, condition)
        .await
}

/// `GET /api/machines/{id}/logonusers`: the users of the machine's alerts.
pub async fn logon_users(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    origin: RequestOrigin,
    ApiPath(id_or_name): ApiPath<String>,
    request: ListOptions,
) -> Result<Response, ApiError> {
    let caller = state.admit(&auth, &USER_READ, api::MACHINE_LOGON_USERS).await?;
    request.select_only()?;
    let machine_id = resolve(&state, &caller, &id_or_name).await?;
    let alerts = ListQuery {
        limit: MAX_PAGE,
        with_evidence: true,
        ..ListQuery::new(Scope::Alerts {
            updated_since: state.retention_start(),
            machine_id: Some(machine_id),
        })
    };
    let page = state.store.list(caller.tenant, &alerts).await?;
    let alerts = page
        .rows
        .into_iter()
        .map(|row| {
            AlertDocument {
                doc: row.doc,
                evidence: row.evidence.unwrap_or_else(|| "[]".into()),
            }
            .parts()
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            tracing::error!("stored alert is not valid JSON");
            ApiError::internal()
        })?;
    Ok(collection_response(&origin, "Users", related::logon_users(&alerts)))
}

/// Reads one of the machine writes' bodies.
type ReadBody = fn(&Value) -> Result<MachineUpdate, BodyError>;

/// The shared path of the machine writes: permission, limit, body, one transaction.
async fn update_machine(
    state: &AppState,
    auth: &Authenticated,
    origin: &RequestOrigin,
    machine_id: &str,
    (permissions, api): (&Permissions, &'static str),
    (body, read): (&[u8], ReadBody),
) -> Result<Response, ApiError> {
    let caller = state.admit(auth, permissions, api).await?;
    let update = read(&ApiError::json_body(body)?).map_err(ApiError::body)?;
    let mut updated = apply_to_machines(state, &caller, vec![machine_id.to_string()], update).await?;
    let machine = updated.pop().ok_or_else(ApiError::internal)?;
    entity_response(origin, "Machines", None, &machine)
}

/// Applies an update to machines within retention (and within a user's device groups): all or
/// none.
async fn apply_to_machines(
    state: &AppState,
    caller: &Admitted<'_>,
    machine_ids: Vec<String>,
    update: MachineUpdate,
) -> Result<Vec<String>, ApiError> {
    if !caller.reaches_all() {
        for machine_id in &machine_ids {
            reachable_machine(state, caller, machine_id).await?;
        }
    }
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
    let caller = state.admit(&auth, &MACHINE_TAGS, api::MACHINES_TAGS).await?;
    let (ids, update) = MachineUpdate::from_multiple_tags_body(&ApiError::json_body(&body)?).map_err(ApiError::body)?;
    let machines = apply_to_machines(&state, &caller, ids, update).await?;
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
    let api = (&MACHINE_TAGS, api::MACHINE_TAGS);
    update_machine(&state, &auth, &origin, &machine_id, api, read).await
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
    let api = (&MACHINE_DEVICE_VALUE, api::MACHINE_DEVICE_VALUE);
    update_machine(&state, &auth, &origin, &machine_id, api, read).await
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
    let api = (&MACHINE_UPDATE, api::MACHINE_UPDATE);
    update_machine(&state, &auth, &origin, &machine_id, api, read).await
}
