//! The HTTP API: `/health`, `/api/v1/ingest`, `/api/v1/search`, `/api/v1/alerts`, `/api/v1/stats`,
//! `/metrics`. Every route but `/health` requires a bearer token.
//!
//! Build the router with [`router`] from an [`AppState`]; the server binds it.

mod error;
mod intake;
mod search;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;

pub use error::ApiError;

/// Largest request body accepted (after decompression for gzip ingest).
pub const MAX_BODY_BYTES: usize = 100 * 1024 * 1024;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Where ingested events go.
    pub intake: pipeline::Intake,
    /// Where searches run.
    pub store: Arc<dyn store::EventStore>,
    /// Who may call the API.
    pub auth: Arc<dyn ::ingest::auth::TokenCheck>,
    /// Renders `/metrics`; `None` when no recorder is installed (tests).
    pub metrics: Option<PrometheusHandle>,
}

/// The API router.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/api/v1/ingest", post(intake::ingest_json))
        .route("/api/v1/ingest/records", post(intake::ingest_records))
        .route(
            "/api/v1/search",
            get(search::search_get).post(search::search_post),
        )
        .route("/api/v1/alerts", get(search::alerts_get))
        .route("/api/v1/store/refresh", post(search::refresh))
        .route("/api/v1/stats", get(search::stats))
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .fallback(not_found);
    routes
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"error": {"code": "not_found", "message": "no such route"}})),
    )
        .into_response()
}

/// Every route but `/health` (for load balancers and probes) needs the token; unknown
/// routes too, so an anonymous caller learns nothing about which routes exist.
async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let authorized = ::ingest::auth::token_from_headers(request.headers())
        .is_some_and(|token| state.auth.check(&token));
    if authorized {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let stats = {
        let store = Arc::clone(&state.store);
        tokio::task::spawn_blocking(move || store.stats())
            .await
            .unwrap_or_default()
    };
    let mut body = state
        .metrics
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    for (name, help, value) in [
        (
            "store_events_appended_total",
            "Events written to the WAL since start.",
            stats.appended_events,
        ),
        (
            "store_events_indexed_total",
            "Events indexed since start.",
            stats.indexed_events,
        ),
        (
            "store_index_lag_events",
            "Events written but not yet searchable.",
            stats.index_lag_events,
        ),
        (
            "store_wal_bytes",
            "Bytes in write-ahead log files.",
            stats.wal_bytes,
        ),
        (
            "store_index_bytes",
            "Bytes in index partitions.",
            stats.index_bytes,
        ),
        (
            "store_partitions",
            "Day partitions kept.",
            stats.partitions as u64,
        ),
        (
            "store_index_errors_total",
            "Events that could not be indexed.",
            stats.index_errors,
        ),
    ] {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        body.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
    if let Some(errors) = kernel_udp_receive_buffer_errors() {
        body.push_str(&format!(
            "# HELP host_udp_receive_buffer_errors_total UDP datagrams the kernel dropped for lack of receive buffer (whole host, /proc/net/snmp).\n# TYPE host_udp_receive_buffer_errors_total counter\nhost_udp_receive_buffer_errors_total {errors}\n"
        ));
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}

/// UDP drops happen in the kernel before the process sees the datagram; Linux counts
/// them host-wide as `Udp: RcvbufErrors`.
fn kernel_udp_receive_buffer_errors() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp_lines = snmp.lines().filter(|line| line.starts_with("Udp:"));
    let header = udp_lines.next()?;
    let values = udp_lines.next()?;
    let column = header
        .split_whitespace()
        .position(|name| name == "RcvbufErrors")?;
    values.split_whitespace().nth(column)?.parse().ok()
}

#[cfg(test)]
mod tests;
