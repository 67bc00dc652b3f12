//! `GET|POST /api/v1/search`, `POST /api/v1/store/refresh`, `GET /api/v1/stats`,
//! `GET /api/v1/ingest/health`
//! (`GET /api/v1/alerts` is in `alert_status`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use store::{Aggregation, SearchRequest, SearchResponse};

use crate::{ApiError, AppState};

/// Most events one search returns.
const MAX_LIMIT: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    /// The query, in the search language; empty means everything.
    #[serde(default, alias = "query")]
    q: String,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    #[serde(default)]
    aggregations: Vec<Aggregation>,
}

pub(crate) async fn search_get(
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    run(state, params).await
}

pub(crate) async fn search_post(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<SearchResponse>, ApiError> {
    let params: SearchParams = serde_json::from_slice(&body)
        .map_err(|err| ApiError::BadRequest(format!("invalid search request: {err}")))?;
    run(state, params).await
}

async fn run(state: AppState, params: SearchParams) -> Result<Json<SearchResponse>, ApiError> {
    let query = query::parse(&params.q).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    run_query(state, query, params).await
}

async fn run_query(
    state: AppState,
    query: query::Query,
    params: SearchParams,
) -> Result<Json<SearchResponse>, ApiError> {
    let mut request = SearchRequest::new(query);
    request.from = params.from.as_deref().map(parse_time).transpose()?;
    request.to = params.to.as_deref().map(parse_time).transpose()?;
    request.limit = params.limit.unwrap_or(100).min(MAX_LIMIT);
    request.offset = params.offset.unwrap_or(0);
    request.aggregations = params.aggregations;
    let store = Arc::clone(&state.store);
    let response = tokio::task::spawn_blocking(move || store.search(&request))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))??;
    Ok(Json(response))
}

fn parse_time(text: &str) -> Result<jiff::Timestamp, ApiError> {
    text.parse::<jiff::Timestamp>().map_err(|err| {
        ApiError::BadRequest(format!("invalid time `{text}` (RFC 3339 expected): {err}"))
    })
}

pub(crate) async fn refresh(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let store = Arc::clone(&state.store);
    tokio::task::spawn_blocking(move || store.refresh())
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))??;
    Ok(Json(serde_json::json!({"refreshed": true})))
}

pub(crate) async fn stats(State(state): State<AppState>) -> Json<store::StoreStats> {
    let store = Arc::clone(&state.store);
    Json(
        tokio::task::spawn_blocking(move || store.stats())
            .await
            .unwrap_or_default(),
    )
}

/// Longest silence threshold accepted (30 days), so the arithmetic cannot overflow.
const MAX_SILENT_AFTER_SECS: u64 = 30 * 24 * 3600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HealthParams {
    /// A source is silent after this many seconds without an event (default one hour).
    #[serde(default = "default_silent_after")]
    silent_after_secs: u64,
}

fn default_silent_after() -> u64 {
    3600
}

/// Per-source ingest health (see `pipeline::health`).
pub(crate) async fn ingest_health(
    State(state): State<AppState>,
    Query(params): Query<HealthParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if params.silent_after_secs == 0 || params.silent_after_secs > MAX_SILENT_AFTER_SECS {
        return Err(ApiError::BadRequest(format!(
            "silent_after_secs must be between 1 and {MAX_SILENT_AFTER_SECS}"
        )));
    }
    let silent_after = jiff::SignedDuration::from_secs(params.silent_after_secs as i64);
    Ok(Json(
        state
            .intake
            .health()
            .snapshot(jiff::Timestamp::now(), silent_after),
    ))
}
