//! Extractors whose rejections use the MDE error envelope instead of axum's plain text.

use crate::http::error::ApiError;
use crate::http::list::ListOptions;
use axum::extract::FromRequestParts;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::http::request::Parts;

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

/// The `$select` of a single-entity route; the collection options are refused.
pub struct SelectOnly(pub Option<Vec<String>>);

impl<S: Send + Sync> FromRequestParts<S> for SelectOnly {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let options = ListOptions::from_request_parts(parts, state).await?;
        Ok(SelectOnly(options.select_only()?.map(<[String]>::to_vec)))
    }
}
