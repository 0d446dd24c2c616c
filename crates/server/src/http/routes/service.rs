//! The OData service document (`GET /api`) and `$metadata`. Both need a valid token, as every
//! other MDE route does, but no particular permission.

use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::auth::Authenticated;
use crate::http::odata::{RequestOrigin, odata_json};

/// `GET /api`: the entity sets of the `$metadata` container.
pub async fn service_document(_: Authenticated, RequestOrigin(origin): RequestOrigin) -> Response {
    let sets: Vec<_> = openmde_model::entity_sets()
        .into_iter()
        .map(|name| json!({"name": name, "kind": "EntitySet", "url": name}))
        .collect();
    odata_json(json!({"@odata.context": format!("{origin}/api/$metadata"), "value": sets}).to_string())
}

/// `GET /api/$metadata`: the real service's EDMX.
pub async fn metadata(_: Authenticated) -> Response {
    let mut response = openmde_model::METADATA_XML.into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
        .headers_mut()
        .insert("odata-version", HeaderValue::from_static("4.0"));
    response
}
