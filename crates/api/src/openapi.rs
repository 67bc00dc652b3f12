//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of every route, kept as data
//! (`openapi.json` beside this file); a test checks that every route of the router is in it.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

/// The document.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

async fn document() -> Response {
    let mut response = OPENAPI_JSON.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
