//! The HTTP API: `/health`, `/api/v1/ingest`, `/api/v1/search`, `/api/v1/alerts`, `/api/v1/stats`,
//! `/metrics`, accounts and triage (`session`, `users`, `alert_status`), the console at `/ui/`.
//! Every route but `/health`, sign-in and the console's files requires a principal (see
//! `access`: session cookie + CSRF, personal API token or the admin token) with the role
//! the route needs.
//!
//! Build the router with [`router`] from an [`AppState`]; the server binds it.

mod access;
mod alert_status;
mod error;
mod hunt;
mod intake;
pub mod openapi;
pub mod phish;
mod rules;
mod search;
mod session;
pub mod taxii;
pub mod threat_intel;
mod ui;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;

pub use error::ApiError;
pub use search::RetentionPolicy;
pub use session::TrustedProxies;
pub use session::oidc::OidcSignInService;

/// Largest request body accepted (after decompression for gzip ingest).
pub const MAX_BODY_BYTES: usize = 100 * 1024 * 1024;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Where ingested events go.
    pub intake: pipeline::Intake,
    /// Where searches run.
    pub store: Arc<dyn store::EventStore>,
    /// Checks the admin token (`DATA_DIR/admin.token`): an admin principal.
    pub auth: Arc<dyn ::ingest::auth::TokenCheck>,
    /// Users, sessions, personal API tokens, the audit log, alert triage state.
    pub accounts: Arc<auth::AuthStore>,
    /// Renders `/metrics`; `None` when no recorder is installed (tests).
    pub metrics: Option<PrometheusHandle>,
    /// The Sigma rules: listed, switched on and off, and hunted with.
    pub rules: Arc<detect::RuleLibrary>,
}

/// The API router.
pub fn router(state: AppState) -> Router {
    router_with_intel(state, None)
}

/// The API router with threat intelligence (`/api/v1/intel/…`) and the TAXII 2.1 server
/// (`/taxii2/…`) when `intel` is given.
pub fn router_with_intel(state: AppState, intel: Option<Arc<threat_intel::IntelState>>) -> Router {
    let mut routes = Router::new()
        .route("/api/v1/ingest", post(intake::ingest_json))
        .route("/api/v1/ingest/records", post(intake::ingest_records))
        .route(
            "/api/v1/search",
            get(search::search_get).post(search::search_post),
        )
        .route("/api/v1/store/refresh", post(search::refresh))
        .route("/api/v1/stats", get(search::stats))
        .route("/api/v1/ingest/health", get(search::ingest_health))
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .merge(alert_status::routes())
        .merge(hunt::routes())
        .merge(rules::routes())
        .merge(session::routes())
        .merge(users::routes())
        .merge(openapi::routes())
        .merge(phish::routes())
        .merge(ui::routes())
        .fallback(not_found);
    if let Some(intel) = intel {
        routes = routes
            .merge(threat_intel::routes())
            .merge(taxii::routes())
            .layer(axum::Extension(intel));
    }
    routes
        .layer(middleware::from_fn_with_state(
            state.clone(),
            access::authenticate,
        ))
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

async fn metrics(
    State(state): State<AppState>,
    desk: Option<axum::Extension<Arc<::phish::Desk>>>,
) -> Response {
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
    if let Some(axum::Extension(desk)) = desk {
        body.push_str(&phish::prometheus(&desk.stats().snapshot()));
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
