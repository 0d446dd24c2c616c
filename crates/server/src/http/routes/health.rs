//! Liveness, readiness and metrics, for orchestrators and monitoring: no token needed, and
//! nothing they answer names a tenant, a user or a secret.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// `GET /healthz`: the process serves requests.
pub async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: 200 when the store and the rate-limit counters answer, else 503 naming which
/// does not (with `Retry-After`), so a load balancer sends calls elsewhere.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let store = match state.store.ready().await {
        Ok(()) => json!("ok"),
        Err(error) => json!(error.to_string()),
    };
    let limiter = match state.limiter.ready().await {
        Ok(()) => json!("ok"),
        Err(error) => json!(error),
    };
    let ready = store == "ok" && limiter == "ok";
    let body = axum::Json(json!({"status": if ready { "ready" } else { "unavailable" },
        "store": store, "rateLimits": limiter}));
    if ready {
        body.into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "5")], body).into_response()
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let stats = state.limiter.stats();
    let backend = stats.backend;
    let text = format!(
        "# HELP openmde_rate_limit_store_errors_total Rate-limit checks whose counter store did not answer.\n\
         # TYPE openmde_rate_limit_store_errors_total counter\n\
         openmde_rate_limit_store_errors_total{{backend=\"{backend}\"}} {}\n\
         # HELP openmde_rate_limit_failed_open_total Calls let through uncounted because the counter store did not answer.\n\
         # TYPE openmde_rate_limit_failed_open_total counter\n\
         openmde_rate_limit_failed_open_total{{backend=\"{backend}\"}} {}\n\
         # HELP openmde_rate_limit_failed_closed_total Calls refused with 503 because the counter store did not answer.\n\
         # TYPE openmde_rate_limit_failed_closed_total counter\n\
         openmde_rate_limit_failed_closed_total{{backend=\"{backend}\"}} {}\n",
        stats.errors, stats.failed_open, stats.failed_closed
    );
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}
