//! Lists: query options turned into a store [`ListQuery`], and pages written as OData
//! collections with `@odata.count` and an `@odata.nextLink` whose `$skiptoken` is a keyset
//! cursor, so that paging neither repeats nor skips rows while others are added or removed.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openmde_odata::{Direction, Limits, QueryOptions};
use openmde_store::query::{Condition, Cursor, EntitySet, ListQuery, Page, Scalar, Scope, bind};
use openmde_store::{AlertDocument, Store, TenantKey};
use serde_json::{Value, json};

use crate::http::error::ApiError;
use crate::http::odata::{Projection, RequestOrigin, odata_json};

/// MDE's page size, and the cap of `$top` and `pageSize`.
pub const MAX_PAGE: u64 = 10_000;

/// A list request's query options and the path they were sent to (for `@odata.nextLink`).
pub struct ListOptions {
    pub options: QueryOptions,
    path: String,
    raw_query: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ListOptions {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let uri = match OriginalUri::from_request_parts(parts, state).await {
            Ok(OriginalUri(uri)) => uri,
            Err(never) => match never {},
        };
        let raw_query = uri.query().unwrap_or_default().to_string();
        let options = parse_query(&raw_query)?;
        Ok(ListOptions {
            options,
            path: uri.path().to_string(),
            raw_query,
        })
    }
}

/// A raw query string's OData options, or 400 `ODataError`.
pub fn parse_query(query: &str) -> Result<QueryOptions, ApiError> {
    QueryOptions::parse(query, &Limits::default()).map_err(|e| ApiError::odata(e.to_string()))
}

/// The `$select` of `options`, refusing the collection options, as OData services do on a
/// single entity.
pub fn select_only(options: &QueryOptions) -> Result<Option<&[String]>, ApiError> {
    match options.given().into_iter().find(|o| *o != "$select") {
        Some(refused) => Err(ApiError::odata(format!(
            "the query option '{refused}' cannot be used on a single entity"
        ))),
        None => Ok(options.select.as_deref()),
    }
}

/// A list to read: the store query, and how to write its pages.
pub struct List {
    pub query: ListQuery,
    projection: Option<Projection>,
    /// Rows still wanted after this page (`$top`), if limited.
    remaining: Option<u64>,
    order_signature: String,
}

impl ListOptions {
    /// `$select`, refusing the collection options, as OData services do on a single entity.
    pub fn select_only(&self) -> Result<Option<&[String]>, ApiError> {
        select_only(&self.options)
    }

    /// Refuses every option but `$filter` (for `/$count` and the lists that take no paging).
    pub fn only_filter(&self) -> Result<(), ApiError> {
        match self.options.given().into_iter().find(|o| *o != "$filter") {
            Some(refused) => Err(ApiError::odata(format!(
                "the query option '{refused}' cannot be used here"
            ))),
            None => Ok(()),
        }
    }

    /// The store query for `scope` with this request's options, and `extra` ANDed to its filter.
    pub fn list(&self, scope: Scope, extra: Option<Condition>) -> Result<List, ApiError> {
        let set = scope.set();
        let options = &self.options;
        let filter = options
            .filter
            .as_ref()
            .map(|expr| bind(set, expr))
            .transpose()
            .map_err(|e| ApiError::odata(format!("$filter: {e}")))?;
        let filter = match (filter, extra) {
            (Some(filter), Some(extra)) => Some(extra.and(filter)),
            (filter, extra) => filter.or(extra),
        };
        let mut query = ListQuery::new(scope);
        if !options.orderby.is_empty() {
            query.order = options
                .orderby
                .iter()
                .map(|(name, direction)| {
                    set.field(name)
                        .filter(|f| f.is_orderable())
                        .map(|f| (f, *direction))
                        .ok_or_else(|| ApiError::odata(format!("$orderby: '{name}' cannot be used to order {set:?}")))
                })
                .collect::<Result<_, _>>()?;
        }
        query.with_evidence = match (set, options.expand.as_slice()) {
            (_, []) => false,
            (EntitySet::Alerts, [one]) if one.eq_ignore_ascii_case("evidence") => true,
            (_, names) => {
                return Err(ApiError::odata(format!(
                    "$expand: '{}' cannot be expanded; alerts expand 'evidence' only",
                    names.join(",")
                )));
            }
        };
        let order_signature = query
            .order
            .iter()
            .map(|(f, d)| {
                format!(
                    "{} {}",
                    f.name,
                    if *d == Direction::Descending { "desc" } else { "asc" }
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        if let Some(token) = &options.skip_token {
            query.after = Some(decode_token(token, &order_signature, query.order.len())?);
        }
        let page = options.page_size.unwrap_or(MAX_PAGE);
        query.limit = options.top.map_or(page, |top| top.min(page));
        query.skip = options.skip.unwrap_or(0);
        query.count = options.count;
        query.filter = filter;
        Ok(List {
            projection: Projection::new(set.schema(), options.select.as_deref())?,
            remaining: options.top.map(|top| top - query.limit),
            query,
            order_signature,
        })
    }

    /// `@odata.nextLink`: this request with `$skiptoken` for the next page, without `$skip`,
    /// and with `$top` lowered by what was served.
    fn next_link(&self, origin: &RequestOrigin, token: &str, remaining: Option<u64>) -> String {
        let mut pairs: Vec<String> = form_urlencoded::parse(self.raw_query.as_bytes())
            .filter(|(name, _)| {
                let name = name.to_ascii_lowercase();
                !matches!(name.as_str(), "$skip" | "$skiptoken" | "$top")
            })
            .map(|(name, value)| format!("{}={}", encode(&name), encode(&value)))
            .collect();
        if let Some(remaining) = remaining {
            pairs.push(format!("$top={remaining}"));
        }
        pairs.push(format!("$skiptoken={token}"));
        format!("{}{}?{}", origin.0, self.path, pairs.join("&"))
    }
}

/// Percent-encodes a query component, leaving `$`, `,`, `'`, `(` and `)` readable.
fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace("%24", "$")
        .replace("%2C", ",")
        .replace("%27", "'")
        .replace("%28", "(")
        .replace("%29", ")")
}

fn encode_token(cursor: &Cursor, order_signature: &str) -> String {
    let keys: Vec<Value> = cursor
        .keys
        .iter()
        .map(|k| match k {
            Scalar::Null => Value::Null,
            Scalar::Integer(i) => json!(i),
            Scalar::Text(s) => json!(s),
        })
        .collect();
    URL_SAFE_NO_PAD.encode(json!({"o": order_signature, "k": keys, "i": cursor.id}).to_string())
}

fn decode_token(token: &str, order_signature: &str, keys: usize) -> Result<Cursor, ApiError> {
    let invalid =
        || ApiError::odata("$skiptoken: not a continuation this service wrote; follow @odata.nextLink as given");
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if value["o"].as_str() != Some(order_signature) {
        return Err(ApiError::odata(
            "$skiptoken: it continues a list in another order; keep $orderby as in @odata.nextLink",
        ));
    }
    let keys_given = value["k"].as_array().filter(|k| k.len() == keys).ok_or_else(invalid)?;
    let keys = keys_given
        .iter()
        .map(|k| match k {
            Value::Null => Some(Scalar::Null),
            Value::Number(n) => n.as_i64().map(Scalar::Integer),
            Value::String(s) => Some(Scalar::Text(s.clone())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(invalid)?;
    let id = value["i"].as_str().ok_or_else(invalid)?.to_string();
    Ok(Cursor { keys, id })
}

impl ListOptions {
    /// Reads one page of `scope` (with `extra` ANDed to the filter) and writes it.
    pub async fn serve(
        &self,
        store: &dyn Store,
        tenant: TenantKey,
        origin: &RequestOrigin,
        (entity_set, scope): (&str, Scope),
        extra: Option<Condition>,
    ) -> Result<Response, ApiError> {
        let list = self.list(scope, extra)?;
        let page = store.list(tenant, &list.query).await?;
        list.response(self, origin, entity_set, page)
    }

    /// `/$count`: how many rows of `scope` the `$filter` matches, as a bare number.
    pub async fn serve_count(
        &self,
        store: &dyn Store,
        tenant: TenantKey,
        scope: Scope,
        extra: Option<Condition>,
    ) -> Result<Response, ApiError> {
        self.only_filter()?;
        let mut list = self.list(scope, extra)?;
        list.query.count = true;
        list.query.limit = 0;
        let page = store.list(tenant, &list.query).await?;
        Ok(count_response(&page))
    }
}

impl List {
    /// The page as an OData collection of `entity_set`.
    pub fn response(
        &self,
        request: &ListOptions,
        origin: &RequestOrigin,
        entity_set: &str,
        page: Page,
    ) -> Result<Response, ApiError> {
        let suffix = self
            .projection
            .as_ref()
            .map(Projection::context_suffix)
            .unwrap_or_default();
        let mut body = String::with_capacity(256 + page.rows.iter().map(|r| r.doc.len() + 1).sum::<usize>());
        body.push_str("{\"@odata.context\":");
        body.push_str(&Value::String(origin.context(&format!("{entity_set}{suffix}"))).to_string());
        if let Some(count) = page.count {
            body.push_str(&format!(",\"@odata.count\":{count}"));
        }
        let more_wanted = self.remaining != Some(0);
        if let (Some(cursor), true) = (&page.next, more_wanted) {
            let link = request.next_link(origin, &encode_token(cursor, &self.order_signature), self.remaining);
            body.push_str(",\"@odata.nextLink\":");
            body.push_str(&Value::String(link).to_string());
        }
        body.push_str(",\"value\":[");
        for (i, row) in page.rows.into_iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            let document = match row.evidence {
                Some(evidence) => AlertDocument { doc: row.doc, evidence }
                    .with_evidence()
                    .ok_or_else(unreadable)?,
                None => row.doc,
            };
            match &self.projection {
                Some(projection) => body.push_str(&projection.apply(&document).ok_or_else(unreadable)?),
                None => body.push_str(&document),
            }
        }
        body.push_str("]}");
        Ok(odata_json(body))
    }
}

fn unreadable() -> ApiError {
    tracing::error!("stored document is not valid JSON");
    ApiError::internal()
}

/// A `/$count` answer: the bare number, as text.
fn count_response(page: &Page) -> Response {
    let mut response = (StatusCode::OK, page.count.unwrap_or(0).to_string()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_what_was_not_written() {
        let cursor = Cursor {
            keys: vec![Scalar::Integer(-5), Scalar::Null, Scalar::Text("a'b".into())],
            id: "da1_2".into(),
        };
        let token = encode_token(&cursor, "severity desc");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode_token(&token, "severity desc", 3).unwrap(), cursor);
        assert!(
            decode_token(&token, "severity asc", 3)
                .unwrap_err()
                .message
                .contains("another order")
        );
        assert!(decode_token(&token, "severity desc", 2).is_err());
        assert!(decode_token("%%%", "severity desc", 3).is_err());
        assert!(decode_token(&URL_SAFE_NO_PAD.encode("[1]"), "", 0).is_err());
    }
}
