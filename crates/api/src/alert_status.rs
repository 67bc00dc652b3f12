//! Alerts and their triage: `GET /api/v1/alerts` (filters, current status),
//! `POST /api/v1/alerts/{id}/status` and `POST /api/v1/alerts/status` (bulk).
//!
//! Alerts are immutable events in the store; their triage state (status, assignee,
//! comments) lives in the account store, keyed by the alert id: the SHA-256 of the stored
//! alert, so the same alert always gets the same id without the store knowing about ids.

use std::sync::Arc;

use auth::{AlertChange, AlertState, Principal};
use axum::extract::{Extension, Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use store::SearchRequest;

use crate::access::{blocking, now};
use crate::{ApiError, AppState};

/// Most alerts one page returns.
const MAX_LIMIT: usize = 10_000;
/// Filtering by status happens after the store search (the store does not know the
/// state): at most this many newest matching alerts are considered.
const MAX_STATUS_SCAN: usize = 10_000;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts", get(alerts_get))
        .route("/api/v1/alerts/status", post(change_many))
        .route("/api/v1/alerts/{id}/status", post(change_one))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertParams {
    /// Narrows further, in the search language.
    #[serde(default, alias = "query")]
    q: String,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    /// Comma-separated statuses, e.g. `new,acknowledged`.
    status: Option<String>,
    /// Exact `sentinella.alert.level`.
    level: Option<String>,
    /// Exact `rule.name`.
    rule: Option<String>,
    /// Exact `host.name`.
    host: Option<String>,
    /// Exact `user.name`.
    user: Option<String>,
}

fn term(field: &str, value: &str) -> query::Query {
    query::Query::Phrase {
        field: Some(field.to_owned()),
        text: value.to_owned(),
    }
}

fn parse_time(text: &str) -> Result<jiff::Timestamp, ApiError> {
    text.parse::<jiff::Timestamp>().map_err(|err| {
        ApiError::BadRequest(format!("invalid time `{text}` (RFC 3339 expected): {err}"))
    })
}

/// The id of a stored alert: SHA-256 of its stored JSON, 32 hex digits.
pub(crate) fn alert_id(alert: &Value) -> String {
    let bytes = serde_json::to_vec(alert).unwrap_or_default();
    auth::sha256_hex(&bytes)[..32].to_owned()
}

fn valid_alert_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Writes the id and triage state into the alert under `sentinella.alert`.
fn annotate(alert: &mut Value, id: &str, state: Option<&AlertState>) {
    let Some(root) = alert.as_object_mut() else {
        return;
    };
    let sentinella = root
        .entry("sentinella")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(sentinella) = sentinella else {
        return;
    };
    let Some(fields) = sentinella
        .entry("alert")
        .or_insert_with(|| json!({}))
        .as_object_mut()
    else {
        return;
    };
    fields.insert("id".to_owned(), json!(id));
    match state {
        Some(state) => {
            fields.insert("status".to_owned(), json!(state.status));
            fields.insert("assignee".to_owned(), json!(state.assignee));
            fields.insert("comments".to_owned(), json!(state.comments));
            fields.insert("updated".to_owned(), json!(state.updated));
            fields.insert("updated_by".to_owned(), json!(state.updated_by));
        }
        None => {
            fields.insert("status".to_owned(), json!("new"));
        }
    }
}

pub(crate) async fn alerts_get(
    State(state): State<AppState>,
    Query(params): Query<AlertParams>,
) -> Result<Json<Value>, ApiError> {
    let narrow = query::parse(&params.q).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    let mut parts = vec![query::Query::Term {
        field: Some("event.kind".to_owned()),
        value: "alert".to_owned(),
    }];
    for (field, value) in [
        ("sentinella.alert.level", &params.level),
        ("rule.name", &params.rule),
        ("host.name", &params.host),
        ("user.name", &params.user),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            parts.push(term(field, value));
        }
    }
    if narrow != query::Query::All {
        parts.push(narrow);
    }
    let statuses: Option<Vec<auth::AlertStatus>> = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|list| list.split(',').map(|s| s.trim().parse()).collect())
        .transpose()?;
    let limit = params.limit.unwrap_or(100).min(MAX_LIMIT);
    let offset = params.offset.unwrap_or(0);
    let mut request = SearchRequest::new(query::Query::And(parts));
    request.from = params.from.as_deref().map(parse_time).transpose()?;
    request.to = params.to.as_deref().map(parse_time).transpose()?;
    if statuses.is_some() {
        request.limit = MAX_STATUS_SCAN;
        request.offset = 0;
    } else {
        request.limit = limit;
        request.offset = offset;
    }
    let store = Arc::clone(&state.store);
    let response = tokio::task::spawn_blocking(move || store.search(&request))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))??;
    let mut hits: Vec<Value> = response
        .hits
        .iter()
        .map(|hit| serde_json::to_value(hit).unwrap_or(Value::Null))
        .collect();
    let ids: Vec<String> = hits.iter().map(alert_id).collect();
    let states = {
        let accounts = Arc::clone(&state.accounts);
        let ids = ids.clone();
        blocking(move || accounts.alert_states(&ids)).await?
    };
    for (hit, id) in hits.iter_mut().zip(&ids) {
        annotate(hit, id, states.get(id));
    }
    let (total, hits) = match statuses {
        Some(statuses) => {
            let kept: Vec<Value> = hits
                .into_iter()
                .zip(&ids)
                .filter(|(_, id)| {
                    let status = states.get(*id).map_or(auth::AlertStatus::New, |s| s.status);
                    statuses.contains(&status)
                })
                .map(|(hit, _)| hit)
                .collect();
            let total = kept.len() as u64;
            (
                total,
                kept.into_iter()
                    .skip(offset)
                    .take(limit)
                    .collect::<Vec<_>>(),
            )
        }
        None => (response.total, hits),
    };
    Ok(Json(json!({
        "total": total,
        "hits": hits,
        "took_ms": response.took_ms,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkChange {
    ids: Vec<String>,
    #[serde(flatten)]
    change: AlertChange,
}

async fn apply(
    state: AppState,
    principal: Principal,
    ids: Vec<String>,
    change: AlertChange,
) -> Result<Json<Value>, ApiError> {
    if let Some(bad) = ids.iter().find(|id| !valid_alert_id(id)) {
        return Err(ApiError::BadRequest(format!(
            "invalid alert id `{}`",
            bad.chars().take(64).collect::<String>()
        )));
    }
    let accounts = Arc::clone(&state.accounts);
    let ids_for_answer = ids.clone();
    let states =
        blocking(move || accounts.change_alerts(&ids, &change, &principal.name, now())).await?;
    let alerts: Vec<Value> = ids_for_answer
        .iter()
        .zip(states)
        .map(|(id, state)| json!({"id": id, "state": state}))
        .collect();
    Ok(Json(json!({"alerts": alerts})))
}

async fn change_one(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(change): Json<AlertChange>,
) -> Result<Json<Value>, ApiError> {
    apply(state, principal, vec![id], change).await
}

async fn change_many(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<BulkChange>,
) -> Result<Json<Value>, ApiError> {
    apply(state, principal, body.ids, body.change).await
}
