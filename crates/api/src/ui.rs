//! The web console's files at `/` and `/ui/...` (public: they hold no data; the data comes
//! from the API, which checks every request). Unknown `/ui/...` paths get the page, so the
//! console's own routes (`/ui/search`, `/ui/alerts`) survive a reload.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(file))
}

fn serve(asset: webui::Asset, cache: &'static str) -> Response {
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

async fn index() -> Response {
    serve(webui::index(), "no-cache")
}

async fn file(Path(path): Path<String>) -> Response {
    match webui::asset(&path) {
        Some(asset) => serve(asset, "no-cache"),
        None if !path.contains('.') => serve(webui::index(), "no-cache"),
        None => (
            axum::http::StatusCode::NOT_FOUND,
            axum::Json(
                serde_json::json!({"error": {"code": "not_found", "message": "no such file"}}),
            ),
        )
            .into_response(),
    }
}
