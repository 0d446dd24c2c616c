//! Extractors whose rejections use the MDE error envelope instead of axum's plain text.

use crate::http::error::ApiError;
use crate::http::list::{parse_query, select_only};
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

    /// Reads only the query string: single-entity routes are the hot path, and need no more.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(query) = parts.uri.query().filter(|q| !q.is_empty()) else {
            return Ok(SelectOnly(None));
        };
        let options = parse_query(query)?;
        Ok(SelectOnly(select_only(&options)?.map(<[String]>::to_vec)))
    }
}
