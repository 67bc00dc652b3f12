//! `GET /api/v1/rules` (loaded rules with their state, rejected documents with the
//! reason), `POST /api/v1/rules/{id}/enable|disable` (persisted; live detection
//! switches at its next batch), `POST /api/v1/rules/{id}/level` (the analyst's own
//! severity for a rule, carried by new alerts; persisted) and `POST /api/v1/rules/test` (does this event match
//! that rule, and why).

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rules", get(list))
        .route("/api/v1/rules/{id}/enable", post(enable))
        .route("/api/v1/rules/{id}/disable", post(disable))
        .route("/api/v1/rules/{id}/level", post(set_level))
        .route(
            "/api/v1/rules/test",
            post(test).layer(DefaultBodyLimit::max(MAX_TEST_BODY_BYTES)),
        )
}

/// A pasted event plus a pasted rule stay far below this (the largest SigmaHQ rule is
/// ~40 KiB; the loader refuses rule texts over 1 MiB anyway).
const MAX_TEST_BODY_BYTES: usize = 2 * 1024 * 1024;

/// `POST /api/v1/rules/test`: an event as stored (what search shows) and either the id
/// (or name) of a loaded rule, enabled or not, or Sigma YAML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleTest {
    event: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    rule_yaml: Option<String>,
}

pub(crate) async fn test(
    State(state): State<AppState>,
    Json(body): Json<RuleTest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rules = Arc::clone(&state.rules);
    tokio::task::spawn_blocking(move || test_blocking(&rules, body))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?
        .map(Json)
}

fn test_blocking(
    library: &detect::RuleLibrary,
    body: RuleTest,
) -> Result<serde_json::Value, ApiError> {
    let rules = match (body.rule_id, body.rule_yaml) {
        (Some(id), None) => {
            let (rules, correlations) = library.select(Some(std::slice::from_ref(&id)));
            let named = |meta: &sigma::RuleMeta| {
                meta.id.as_deref() == Some(id.as_str()) || meta.name.as_deref() == Some(id.as_str())
            };
            if correlations.iter().any(|c| named(&c.meta)) {
                return Err(ApiError::BadRequest(format!(
                    "`{id}` is a correlation rule: it counts several events; test the rules it \
                     references instead"
                )));
            }
            let rules: Vec<sigma::CompiledRule> =
                rules.into_iter().filter(|r| named(&r.meta)).collect();
            if rules.is_empty() {
                return Err(ApiError::NotFound(format!("no loaded rule with id `{id}`")));
            }
            rules
        }
        (None, Some(yaml)) => {
            let report = sigma::RuleSet::load_str(&yaml, "pasted rule");
            if let Some(rejected) = report.rejected.first() {
                let line = rejected
                    .line
                    .map(|line| format!(" (line {line})"))
                    .unwrap_or_default();
                return Err(ApiError::BadRequest(format!(
                    "the rule does not load{line}: {}",
                    rejected.reason
                )));
            }
            if report.rules.is_empty() {
                return Err(ApiError::BadRequest(
                    "no detection rule in the text (correlation and filter rules cannot be \
                     tested against one event)"
                        .to_owned(),
                ));
            }
            report.rules
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of `rule_id` and `rule_yaml`".to_owned(),
            ));
        }
    };
    let event = event::Event::from_map(body.event);
    let results: Vec<serde_json::Value> = rules
        .iter()
        .map(|rule| {
            let found = rule.matches(&event);
            serde_json::json!({
                "id": rule.meta.id,
                "title": rule.meta.title,
                "level": rule.meta.level.map(sigma::Level::as_str),
                "logsource": {
                    "product": rule.logsource.product,
                    "category": rule.logsource.category,
                    "service": rule.logsource.service,
                },
                "logsource_note": rule.logsource_note,
                "matched": found.is_some(),
                "selections": found.as_ref().map(|m| m.selections.clone()).unwrap_or_default(),
                "fields": found.map(|m| m.fields).unwrap_or_default(),
            })
        })
        .collect();
    let matched = results.iter().any(|r| r["matched"] == true);
    Ok(serde_json::json!({"matched": matched, "results": results}))
}

pub(crate) async fn list(State(state): State<AppState>) -> Json<detect::RulesListing> {
    let rules = Arc::clone(&state.rules);
    Json(
        tokio::task::spawn_blocking(move || rules.listing())
            .await
            .expect("listing rules does not panic"),
    )
}

pub(crate) async fn enable(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    switch(state, id, true).await
}

pub(crate) async fn disable(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    switch(state, id, false).await
}

async fn switch(
    state: AppState,
    id: String,
    enabled: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rules = Arc::clone(&state.rules);
    let key = id.clone();
    let found = tokio::task::spawn_blocking(move || rules.set_enabled(&key, enabled))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    if !found {
        return Err(ApiError::NotFound(format!("no loaded rule with id `{id}`")));
    }
    Ok(Json(serde_json::json!({"id": id, "enabled": enabled})))
}

/// `POST /api/v1/rules/{id}/level`: `{"level": "high"}` overrides, `{"level": null}` clears.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LevelOverride {
    /// Outer `None`: the field is missing (refused, so a typo never clears an override).
    #[serde(default, deserialize_with = "present")]
    level: Option<Option<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

pub(crate) async fn set_level(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<LevelOverride>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(name) = body.level else {
        return Err(ApiError::BadRequest(
            "give `level`: a Sigma level, or null to go back to the rule's own".to_owned(),
        ));
    };
    let level = match name.as_deref() {
        None => None,
        Some(name) => Some(detect::RuleLibrary::level_named(name).ok_or_else(|| {
            ApiError::BadRequest(
                "`level` must be one of informational, low, medium, high, critical, or null"
                    .to_owned(),
            )
        })?),
    };
    let rules = Arc::clone(&state.rules);
    let key = id.clone();
    let found = tokio::task::spawn_blocking(move || rules.set_level(&key, level))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    if !found {
        return Err(ApiError::NotFound(format!("no loaded rule with id `{id}`")));
    }
    Ok(Json(
        serde_json::json!({"id": id, "level": level.map(sigma::Level::as_str)}),
    ))
}

#[cfg(test)]
mod tests;
