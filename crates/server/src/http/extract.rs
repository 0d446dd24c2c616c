//! Extractors whose rejections use the MDE error envelope instead of axum's plain text.

use axum::extract::FromRequestParts;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::http::request::Parts;
use openmde_odata::{Limits, QueryOptions};

use crate::http::error::ApiError;

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

/// The query options of a single-entity route: `$select` is taken; `$filter`, `$top` and the
/// other collection options are refused, as OData services refuse them on one entity.
pub struct SelectOnly(pub Option<Vec<String>>);

impl<S: Send + Sync> FromRequestParts<S> for SelectOnly {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let options = QueryOptions::parse(parts.uri.query().unwrap_or_default(), &Limits::default())
            .map_err(|e| ApiError::odata(e.to_string()))?;
        if let Some(refused) = options.given().into_iter().find(|o| *o != "$select") {
            return Err(ApiError::odata(format!(
                "the query option '{refused}' cannot be used on a single entity"
            )));
        }
        Ok(SelectOnly(options.select))
    }
}
