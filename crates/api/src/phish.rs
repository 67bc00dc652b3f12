//! Phishing reports: `POST /api/v1/phish` (a raw `.eml` → stored report with verdict),
//! `GET /api/v1/phish/reports[/{id}]`, `POST /api/v1/phish/reports/{id}/override`
//! (an analyst changes the verdict; audited), `GET /api/v1/phish/campaigns`.
//!
//! The desk comes as an `Extension<Arc<phish::Desk>>` set by the server; without it the
//! routes answer `503`.

use std::sync::Arc;

use auth::Principal;
use axum::extract::{Path, Query};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/phish", post(submit))
        .route("/api/v1/phish/reports", get(list))
        .route("/api/v1/phish/reports/{id}", get(one))
        .route(
            "/api/v1/phish/reports/{id}/override",
            post(override_verdict),
        )
        .route("/api/v1/phish/campaigns", get(campaigns))
}

type DeskExtension = Option<Extension<Arc<phish::Desk>>>;

fn desk(extension: DeskExtension) -> Result<Arc<phish::Desk>, ApiError> {
    extension
        .map(|Extension(desk)| desk)
        .ok_or(ApiError::Unavailable)
}

fn desk_error(error: phish::PhishError) -> ApiError {
    match error {
        phish::PhishError::NotFound(id) => ApiError::NotFound(format!("no phishing report {id}")),
        other => ApiError::Internal(other.to_string()),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, phish::PhishError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(desk_error)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitParams {
    /// Language of the reasons in the answer: `en` (default) or `it`.
    lang: Option<String>,
}

async fn submit(
    extension: DeskExtension,
    Extension(principal): Extension<Principal>,
    Query(params): Query<SubmitParams>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    if body.is_empty() {
        return Err(ApiError::BadRequest(
            "the body must be a raw RFC 5322 message (.eml)".into(),
        ));
    }
    let language = match params.lang.as_deref() {
        None | Some("en") => phish::Language::En,
        Some("it") => phish::Language::It,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown language {other:?}: use en or it"
            )));
        }
    };
    let submission = phish::Submission {
        source: "api".into(),
        reporter: Some(principal.name.clone()),
        language,
        forwarding: phish::Forwarding::Direct,
        now: now(),
    };
    let stored = blocking(move || desk.submit(&body, submission)).await?;
    Ok(Json(summary(&stored, true)))
}

/// The fields every answer about a report has; `full` adds the analysis.
fn summary(stored: &phish::StoredReport, full: bool) -> Value {
    let reasons = match stored.language {
        phish::Language::It => &stored.reasons_it,
        phish::Language::En => &stored.reasons_en,
    };
    let mut value = json!({
        "id": stored.id,
        "received_at": stored.received_at,
        "source": stored.source,
        "reporter": stored.reporter,
        "forwarding": stored.forwarding,
        "verdict": stored.verdict.as_str(),
        "automatic_verdict": stored.automatic_verdict.as_str(),
        "score": stored.score,
        "subject": stored.subject,
        "reasons": reasons,
        "reasons_en": stored.reasons_en,
        "reasons_it": stored.reasons_it,
        "overrides": stored.overrides,
        "reply": stored.reply,
    });
    if full {
        value["analysis"] = stored.analysis.clone();
    }
    value
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<usize>,
}

async fn list(
    extension: DeskExtension,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    let limit = params.limit.unwrap_or(50).clamp(1, 500);
    let reports = blocking(move || desk.list(limit)).await?;
    Ok(Json(
        json!({"reports": reports.iter().map(|r| summary(r, false)).collect::<Vec<_>>()}),
    ))
}

async fn one(extension: DeskExtension, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    let stored = blocking(move || desk.get(&id)).await?;
    Ok(Json(summary(&stored, true)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    verdict: String,
    #[serde(default)]
    comment: String,
}

async fn override_verdict(
    axum::extract::State(state): axum::extract::State<AppState>,
    extension: DeskExtension,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<OverrideBody>,
) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    let verdict = phish::Verdict::parse(&body.verdict).ok_or_else(|| {
        ApiError::BadRequest("verdict must be malicious, suspicious or likely_safe".into())
    })?;
    let actor = principal.name.clone();
    let at = now();
    let comment = body.comment.clone();
    let report_id = id.clone();
    let stored =
        blocking(move || desk.override_verdict(&report_id, &actor, verdict, &comment, at)).await?;
    let change = stored.overrides.last().cloned();
    let accounts = Arc::clone(&state.accounts);
    let actor = principal.name;
    // The product's audit trail too, next to sign-ins and rule changes.
    tokio::task::spawn_blocking(move || {
        accounts.audit(
            &actor,
            "phish.override",
            Some(&id),
            json!({"change": change}),
            at,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(summary(&stored, false)))
}

async fn campaigns(extension: DeskExtension) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    let campaigns = blocking(move || desk.campaigns(1000)).await?;
    Ok(Json(json!({"campaigns": campaigns})))
}
