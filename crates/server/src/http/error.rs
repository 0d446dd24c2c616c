//! The one error type of the MDE API. Every failure becomes MDE's envelope
//! `{"error":{"code","message","target"}}`, where `target` is a fresh correlation GUID that is
//! also logged, so a user can find the server's side of any answer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openmde_store::StoreError;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_seconds: None,
        }
    }

    /// `BadRequest`: a request the API cannot read at all.
    pub fn bad_request(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "BadRequest", message)
    }

    /// `ODataError`: a query option that cannot be used.
    pub fn odata(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ODataError", message)
    }

    /// A request body MDE would refuse: `InvalidRequestBody` or `InvalidInput`.
    pub fn body(error: openmde_model::update::BodyError) -> Self {
        use openmde_model::update::BodyError;
        match error {
            BodyError::InvalidRequestBody(message) => Self::new(StatusCode::BAD_REQUEST, "InvalidRequestBody", message),
            BodyError::InvalidInput(message) => Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message),
            BodyError::MissingRequiredParameter(message) => {
                Self::new(StatusCode::BAD_REQUEST, "MissingRequiredParameter", message)
            }
            BodyError::MaximumBatchSizeExceeded(message) => {
                Self::new(StatusCode::BAD_REQUEST, "MaximumBatchSizeExceeded", message)
            }
        }
    }

    /// The body of a write, read as JSON, or `InvalidRequestBody`.
    pub fn json_body(bytes: &[u8]) -> Result<serde_json::Value, Self> {
        serde_json::from_slice(bytes).map_err(|e| {
            Self::body(openmde_model::update::BodyError::InvalidRequestBody(format!(
                "Request body is incorrect: {e}"
            )))
        })
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// `ResourceNotFound`, "{Entity} {id} was not found" as in MDE's own example.
    pub fn resource_not_found(entity: &str, id: &str) -> Self {
        Self::not_found(format!("{entity} {id} was not found"))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
    }

    /// `Conflict` (admin API): a name or id that is taken.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }

    pub fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "No HTTP resource was found that matches the request URI",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The requested resource does not support this HTTP method",
        )
    }

    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        ApiError {
            retry_after_seconds: Some(retry_after_seconds),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                format!("Rate limit is exceeded. Try again in {retry_after_seconds} seconds."),
            )
        }
    }

    /// `ServiceUnavailable` with `Retry-After`: a store the call needs does not answer.
    pub fn unavailable(retry_after_seconds: u64) -> Self {
        ApiError {
            retry_after_seconds: Some(retry_after_seconds),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable",
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "")
    }
}

impl From<crate::manage::ManageError> for ApiError {
    fn from(error: crate::manage::ManageError) -> Self {
        use crate::manage::ManageError;
        match error {
            ManageError::NotFound(message) => Self::not_found(message),
            ManageError::Invalid(message) => Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message),
            ManageError::Conflict(message) => Self::conflict(message),
            ManageError::Store(error) => error.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unstorable(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                "A value holds a character that cannot be stored or compared (U+0000)",
            ),
            StoreError::Unavailable(_) => {
                tracing::error!(%error, "store failure");
                ApiError::unavailable(5)
            }
            _ => {
                tracing::error!(%error, "store failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let target = uuid::Uuid::new_v4().to_string();
        if self.status.is_server_error() {
            tracing::error!(%target, code = self.code, status = self.status.as_u16(), "request failed");
        } else {
            tracing::info!(%target, code = self.code, status = self.status.as_u16(), message = %self.message, "request refused");
        }
        let body = json!({"error": {"code": self.code, "message": self.message, "target": target}});
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
