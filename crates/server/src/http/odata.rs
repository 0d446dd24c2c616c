//! OData wire details shared by the API's responses.

use axum::extract::FromRequestParts;
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use openmde_model::edm::ComplexType;

use crate::http::error::ApiError;

pub const CONTENT_TYPE_VALUE: &str = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8";
const ODATA_VERSION: HeaderName = HeaderName::from_static("odata-version");

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Https,
    Http,
}

/// `scheme://host[:port]` as the client addressed us: MDE echoes its own base URL in
/// `@odata.context`, and Entra builds discovery documents from it.
#[derive(Debug, Clone)]
pub struct RequestOrigin(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let scheme = match parts.extensions.get::<Scheme>() {
            Some(Scheme::Http) => "http",
            _ => "https",
        };
        let host = parts
            .uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| parts.headers.get(HOST).and_then(|h| h.to_str().ok()))
            .filter(|h| is_plain_host(h))
            .unwrap_or("localhost");
        Ok(RequestOrigin(format!("{scheme}://{host}")))
    }
}

/// Host names, IPv4 and bracketed IPv6 literals, with an optional port; nothing else is echoed.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty() && host.len() <= 255 && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

impl RequestOrigin {
    pub fn context(&self, fragment: &str) -> String {
        format!("{}/api/$metadata#{fragment}", self.0)
    }
}

/// The properties a `$select` keeps, in their wire order.
pub struct Projection {
    properties: Vec<&'static str>,
}

impl Projection {
    /// `None` when there is no `$select`; names match the schema without regard to case.
    pub fn new(schema: &'static ComplexType, select: Option<&[String]>) -> Result<Option<Self>, ApiError> {
        let Some(select) = select else { return Ok(None) };
        let mut wanted = Vec::with_capacity(select.len());
        for name in select {
            let property = schema
                .properties
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    ApiError::odata(format!(
                        "Could not find a property named '{name}' on type '{}'",
                        schema.name
                    ))
                })?;
            wanted.push(property.name);
        }
        let properties = schema
            .properties
            .iter()
            .map(|p| p.name)
            .filter(|n| wanted.contains(n))
            .collect();
        Ok(Some(Projection { properties }))
    }

    /// `(a,b)`, as `@odata.context` names a projection.
    pub fn context_suffix(&self) -> String {
        format!("({})", self.properties.join(","))
    }

    pub fn apply(&self, document: &str) -> Option<String> {
        let mut fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(document).ok()?;
        let kept: serde_json::Map<_, _> = self
            .properties
            .iter()
            .filter_map(|name| fields.remove_entry(*name))
            .collect();
        serde_json::to_string(&kept).ok()
    }
}

/// A single entity: `@odata.context` first, then the stored document's properties, or those
/// of the projection.
pub fn entity_response(
    origin: &RequestOrigin,
    entity_set: &str,
    projection: Option<&Projection>,
    document: &str,
) -> Result<Response, ApiError> {
    let (suffix, projected) = match projection {
        None => (String::new(), None),
        Some(projection) => {
            let projected = projection.apply(document).ok_or_else(|| {
                tracing::error!(entity_set, "stored document is not a JSON object");
                ApiError::internal()
            })?;
            (projection.context_suffix(), Some(projected))
        }
    };
    let document = projected.as_deref().unwrap_or(document);
    let context = serde_json::Value::String(origin.context(&format!("{entity_set}{suffix}/$entity"))).to_string();
    let properties = document.strip_prefix('{').unwrap_or("}");
    let mut body = String::with_capacity(context.len() + document.len() + 20);
    body.push_str("{\"@odata.context\":");
    body.push_str(&context);
    if !properties.starts_with('}') {
        body.push(',');
    }
    body.push_str(properties);
    Ok(odata_json(body))
}

pub fn odata_json(body: String) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_VALUE));
    headers.insert(ODATA_VERSION, HeaderValue::from_static("4.0"));
    response
}

/// A collection: `{"@odata.context": ".../$metadata#{set}", "value": [...]}`.
pub fn collection_response(
    origin: &RequestOrigin,
    entity_set: &str,
    items: Vec<serde_json::Map<String, serde_json::Value>>,
) -> Response {
    let items: Vec<serde_json::Value> = items.into_iter().map(serde_json::Value::Object).collect();
    let mut body = serde_json::Map::new();
    body.insert("@odata.context".into(), origin.context(entity_set).into());
    body.insert("value".into(), items.into());
    odata_json(serde_json::Value::Object(body).to_string())
}
