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

/// The configured retention, shown beside the store's size and oldest partition (the
/// server adds it as an extension; without it the policy reads as unlimited).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct RetentionPolicy {
    /// Days kept; `None`: no age limit.
    pub max_age_days: Option<u64>,
    /// Bytes of index kept; `None`: no size limit.
    pub max_bytes: Option<u64>,
}

/// `GET /api/v1/stats`: the store's [`store::StoreStats`] plus `retention` (the policy).
pub(crate) async fn stats(
    State(state): State<AppState>,
    retention: Option<axum::Extension<RetentionPolicy>>,
) -> Json<serde_json::Value> {
    let store = Arc::clone(&state.store);
    let stats = tokio::task::spawn_blocking(move || store.stats())
        .await
        .unwrap_or_default();
    let mut body = serde_json::to_value(stats).unwrap_or_default();
    if let Some(object) = body.as_object_mut() {
        let policy = retention
            .map(|axum::Extension(policy)| policy)
            .unwrap_or_default();
        object.insert(
            "retention".to_owned(),
            serde_json::to_value(policy).unwrap_or_default(),
        );
        // The default silence threshold (`[ingest_health] silent_after`), for the
        // dashboard's silent hosts.
        object.insert(
            "ingest_silent_after_secs".to_owned(),
            state.intake.health().policy().default.as_secs().into(),
        );
    }
    Json(body)
}

/// Longest silence threshold accepted (30 days), so the arithmetic cannot overflow.
const MAX_SILENT_AFTER_SECS: u64 = 30 * 24 * 3600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HealthParams {
    /// Flags every source silent after this many seconds without an event, instead of the
    /// configured thresholds (`[ingest_health]`, default one hour).
    silent_after_secs: Option<u64>,
}

/// Per-source ingest health (see `pipeline::health`).
pub(crate) async fn ingest_health(
    State(state): State<AppState>,
    Query(params): Query<HealthParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let silent_after = match params.silent_after_secs {
        None => None,
        Some(secs) if secs == 0 || secs > MAX_SILENT_AFTER_SECS => {
            return Err(ApiError::BadRequest(format!(
                "silent_after_secs must be between 1 and {MAX_SILENT_AFTER_SECS}"
            )));
        }
        Some(secs) => Some(jiff::SignedDuration::from_secs(secs as i64)),
    };
    Ok(Json(
        state
            .intake
            .health()
            .snapshot(jiff::Timestamp::now(), silent_after),
    ))
}
