//! The Entra-compatible endpoints: discovery documents, JWKS and the token endpoints.
//! The tenant is always the first path segment, as msal requires.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use openmde_identity::issuer::is_multi_tenant_alias;
use openmde_identity::{EntraError, TokenGrant, TokenRequest, TokenVersion};
use serde_json::{Value, json};

use crate::http::odata::RequestOrigin;
use crate::state::{AppState, now_unix};

/// Entra's error body: `error_description` starts with the AADSTS code and ends with trace,
/// correlation and time lines. No `Retry-After`: client libraries would retry the 4xx.
pub fn entra_error_response(error: &EntraError, headers: &HeaderMap) -> Response {
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string();
    let timestamp = openmde_model::Timestamp::now().to_string();
    let timestamp = format!("{} {}Z", &timestamp[..10], &timestamp[11..19]);
    tracing::info!(code = error.code, error = error.error, %trace_id, "token request refused");
    let body = json!({
        "error": error.error,
        "error_description": format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
            error.code, error.description
        ),
        "error_codes": [error.code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={}", error.code),
    });
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    with_json_charset((status, body.to_string()).into_response())
}

fn with_json_charset(mut response: Response) -> Response {
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Discovery answers with the tenant's GUID even when asked by domain; `common` and
/// `organizations` keep the word and the `{tenantid}` placeholder, as Entra does.
async fn discovery_tenant(state: &AppState, segment: &str) -> Result<(String, String), EntraError> {
    if is_multi_tenant_alias(segment) {
        return Ok((segment.to_ascii_lowercase(), "{tenantid}".into()));
    }
    let tenant = state.issuer.tenant(segment).await?;
    Ok((tenant.id.clone(), tenant.id))
}

/// Answers a discovery request with `document(base, issuer_tenant)`, `base` being
/// `{origin}/{tenant}` and Entra's fields about the cloud added to it.
async fn discovery(
    state: &AppState,
    tenant: &str,
    origin: &str,
    headers: &HeaderMap,
    document: impl FnOnce(&str, &str) -> Value,
) -> Response {
    let (path_tenant, issuer_tenant) = match discovery_tenant(state, tenant).await {
        Ok(found) => found,
        Err(error) => return entra_error_response(&error, headers),
    };
    let mut body = document(&format!("{origin}/{path_tenant}"), &issuer_tenant);
    if let Some(fields) = body.as_object_mut() {
        for (name, value) in [
            (
                "token_endpoint_auth_methods_supported",
                json!(["client_secret_post", "private_key_jwt", "client_secret_basic"]),
            ),
            ("response_modes_supported", json!(["query", "fragment", "form_post"])),
            ("subject_types_supported", json!(["pairwise"])),
            ("id_token_signing_alg_values_supported", json!(["RS256"])),
            ("tenant_region_scope", json!("NA")),
            ("cloud_instance_name", json!("microsoftonline.com")),
            ("cloud_graph_host_name", json!("graph.windows.net")),
            ("msgraph_host", json!("graph.microsoft.com")),
            ("rbac_url", json!("https://pas.windows.net")),
        ] {
            fields.insert(name.into(), value);
        }
    }
    Json(body).into_response()
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`
pub async fn openid_configuration_v2(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
) -> Response {
    discovery(&state, &tenant, &origin, &headers, |base, issuer_tenant| {
        json!({
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "jwks_uri": format!("{base}/discovery/v2.0/keys"),
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{origin}/{issuer_tenant}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{origin}/oidc/userinfo"),
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
                "ver", "at_hash", "c_hash", "email"],
        })
    })
    .await
}

/// `GET /{tenant}/.well-known/openid-configuration`: the v1 document, whose issuer is the one
/// MDE tokens carry.
pub async fn openid_configuration_v1(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
) -> Response {
    discovery(&state, &tenant, &origin, &headers, |base, issuer_tenant| {
        json!({
            "token_endpoint": format!("{base}/oauth2/token"),
            "jwks_uri": format!("{origin}/common/discovery/keys"),
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
            "issuer": format!("https://sts.windows.net/{issuer_tenant}/"),
            "authorization_endpoint": format!("{base}/oauth2/authorize"),
            "device_authorization_endpoint": format!("{base}/oauth2/devicecode"),
            "end_session_endpoint": format!("{base}/oauth2/logout"),
        })
    })
    .await
}

/// `GET /{tenant}/discovery/v2.0/keys`, `/{tenant}/discovery/keys`, `/discovery/keys`.
/// `GET /{tenant}/discovery/instance` (msal asks `common`): instance discovery, answered for the
/// host the client called, which in a hosts-file deployment is `login.microsoftonline.com`. msal
/// asks it from `get_accounts()` and fails on anything but 2xx.
pub async fn instance_discovery(
    RequestOrigin(origin): RequestOrigin,
    Query(parameters): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let host = origin.split_once("://").map_or(origin.as_str(), |(_, h)| h);
    let host_name = host
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    // The tenant of the authority msal asks about: the first path segment of its endpoint.
    let tenant = parameters
        .get("authorization_endpoint")
        .and_then(|url| url.split_once("://"))
        .and_then(|(_, rest)| rest.split('/').nth(1))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)))
        .unwrap_or("common");
    let body = json!({
        "tenant_discovery_endpoint": format!("{origin}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host_name, "preferred_cache": host_name, "aliases": [host_name]}],
    });
    with_json_charset(Json(body).into_response())
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`: the device flow's first step.
pub async fn device_code(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = token_request(&body, origin);
    match state.issuer.device_authorization(&tenant, &request).await {
        Ok(authorization) => with_json_charset(
            Json(json!({
                "user_code": authorization.user_code,
                "device_code": authorization.device_code,
                "verification_uri": authorization.verification_uri,
                "expires_in": authorization.expires_in,
                "interval": authorization.interval,
                "message": authorization.message,
            }))
            .into_response(),
        ),
        Err(error) => entra_error_response(&error, &headers),
    }
}

/// The page of `/devicelogin`, with a notice above the form.
fn device_login_page(status: StatusCode, notice: &str) -> Response {
    let notice = notice.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>openmde sign-in</title></head>
<body><h1>Enter code</h1><p>{notice}</p>
<form method=\"post\" action=\"/devicelogin\">
<p><label>Code <input name=\"user_code\" autocomplete=\"off\" required></label></p>
<p><label>User name <input name=\"username\" type=\"email\" required></label></p>
<p><label>Password <input name=\"password\" type=\"password\" required></label></p>
<p><button>Sign in</button></p></form></body></html>"
    );
    (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// `GET /devicelogin`: where the device flow sends the user.
pub async fn device_login_form() -> Response {
    device_login_page(StatusCode::OK, "Enter the code shown on your device, and sign in.")
}

/// `POST /devicelogin` (`user_code`, `username`, `password`): approves the device's sign-in.
pub async fn device_login(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let field = |name: &str| {
        form_urlencoded::parse(&body)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    match state
        .issuer
        .approve_device(&field("user_code"), &field("username"), &field("password"))
        .await
    {
        Ok(()) => device_login_page(
            StatusCode::OK,
            "You have signed in on your device. You may now close this window.",
        ),
        Err(error) => device_login_page(
            StatusCode::BAD_REQUEST,
            &format!("AADSTS{}: {}", error.code, error.description),
        ),
    }
}

/// `GET /common/userrealm/{username}` (msal's ROPC asks first): every user is a managed one
/// (never `Federated`, which would send msal to WS-Trust); unknown names answer the same.
pub async fn user_realm(Path((_, username)): Path<(String, String)>) -> Response {
    let domain = username.rsplit_once('@').map_or("", |(_, d)| d);
    with_json_charset(
        Json(json!({
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": domain,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        }))
        .into_response(),
    )
}

pub async fn jwks(State(state): State<Arc<AppState>>, RequestOrigin(origin): RequestOrigin) -> Response {
    Json(state.issuer.keys().jwks(&format!("{origin}/{{tenantid}}/v2.0"))).into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`
pub async fn token_v2(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match grant(&state, &tenant, TokenVersion::V2, (&origin, &headers), &body).await {
        Ok(grant) => {
            let mut body = json!({
                "token_type": "Bearer",
                "expires_in": grant.token.expires_in,
                "ext_expires_in": grant.token.expires_in,
                "access_token": grant.token.access_token,
            });
            if let Some(user) = grant.user {
                body["scope"] = user.scope.into();
                body["refresh_token"] = user.refresh_token.into();
                body["id_token"] = user.id_token.into();
                body["client_info"] = user.client_info.into();
            }
            Json(body).into_response()
        }
        Err(error) => entra_error_response(&error, &headers),
    }
}

/// `POST /{tenant}/oauth2/token`: v1, every value a string as Entra writes them.
pub async fn token_v1(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match grant(&state, &tenant, TokenVersion::V1, (&origin, &headers), &body).await {
        Ok(grant) => {
            let token = &grant.token;
            let mut body: Value = json!({
                "token_type": "Bearer",
                "expires_in": token.expires_in.to_string(),
                "ext_expires_in": token.expires_in.to_string(),
                "expires_on": token.expires_on.to_string(),
                "not_before": token.not_before.to_string(),
                "resource": grant.resource,
                "access_token": token.access_token,
            });
            if let Some(user) = grant.user {
                body["scope"] = user.scope.into();
                body["refresh_token"] = user.refresh_token.into();
                body["id_token"] = user.id_token.into();
            }
            Json(body).into_response()
        }
        Err(error) => entra_error_response(&error, &headers),
    }
}

async fn grant(
    state: &AppState,
    tenant: &str,
    version: TokenVersion,
    (origin, headers): (&str, &HeaderMap),
    body: &[u8],
) -> Result<TokenGrant, EntraError> {
    let mut request = token_request(body, origin.to_string());
    if let Some((client_id, secret)) = basic_credentials(headers) {
        request.client_id.get_or_insert(client_id);
        request.client_secret.get_or_insert(secret);
    }
    state.issuer.grant(tenant, version, &request, now_unix()).await
}

/// The form fields of a token-endpoint request, and the origin the client called.
fn token_request(body: &[u8], origin: String) -> TokenRequest {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let mut request = TokenRequest::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    request.origin = origin;
    request
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}
