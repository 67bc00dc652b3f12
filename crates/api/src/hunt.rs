//! `POST /api/v1/hunt`: Sigma rules over stored events, producing the alerts live
//! detection would have produced.
//!
//! The events of the time range (narrowed by an optional `query`; alerts themselves are
//! never hunted) are scanned oldest first ([`store::EventStore::scan`]) through a fresh
//! [`detect::Detector`] — the same compiled engine, correlations and deduplication as the
//! live path — with alerts marked `sentinella.alert.origin: hunt`. The rules are the
//! server's enabled rules, some of them by id, or inline Sigma YAML. With `store: true` the
//! alerts are also stored, so `/api/v1/alerts` lists them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use event::Event;
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState};

/// Alerts returned in the response by default, and at most.
const DEFAULT_LIMIT: usize = 1_000;
const MAX_LIMIT: usize = 10_000;
/// Events given to the detector at once: duplicates within a batch merge into one alert
/// (`sentinella.alert.count`), as in the live writer's groups.
const BATCH_EVENTS: usize = 10_000;
/// Inline rule text accepted, in bytes.
const MAX_INLINE_RULES_BYTES: usize = 32 << 20;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/hunt", post(hunt))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HuntRequest {
    /// Start of the range: RFC 3339, or a duration back from now (`30d`, `12h`, `15m`).
    since: Option<String>,
    /// End of the range (exclusive), same forms; default now.
    until: Option<String>,
    /// Narrows the events hunted (search language); empty: all.
    #[serde(default)]
    query: String,
    /// Only these loaded rules, enabled or not (ids or names; correlations bring the rules
    /// they reference).
    rule_ids: Option<Vec<String>>,
    /// Inline Sigma rules: YAML texts (a file each, multi-document allowed), instead of
    /// the loaded rules.
    sigma: Option<Vec<String>>,
    /// Also store the alerts (they then appear in `/api/v1/alerts`).
    #[serde(default)]
    store: bool,
    /// Alerts returned (default 1,000, at most 10,000); all are counted.
    limit: Option<usize>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct RuleCount {
    rule_id: Option<String>,
    title: String,
    level: Option<String>,
    /// Alerts raised.
    alerts: u64,
    /// Events those alerts stand for (duplicates merged into an alert included).
    events: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct HuntResponse {
    /// Events scanned.
    events: u64,
    /// Detection and correlation rules run.
    rules: usize,
    /// Inline documents (or correlations) that did not load, with the reason.
    rejected: Vec<serde_json::Value>,
    alerts_total: u64,
    /// Alerts by rule, most first.
    by_rule: Vec<RuleCount>,
    /// The first `limit` alerts, in event time order.
    alerts: Vec<Event>,
    truncated: bool,
    /// Alerts and merge records stored (with `store: true`).
    stored: u64,
    took_ms: u64,
}

pub(crate) async fn hunt(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<HuntResponse>, ApiError> {
    let request: HuntRequest = serde_json::from_slice(&body)
        .map_err(|err| ApiError::BadRequest(format!("invalid hunt request: {err}")))?;
    let now = jiff::Timestamp::now();
    let from = request
        .since
        .as_deref()
        .map(|text| parse_time(text, now))
        .transpose()?;
    let to = request
        .until
        .as_deref()
        .map(|text| parse_time(text, now))
        .transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(ApiError::BadRequest(
            "`since` must be before `until`".into(),
        ));
    }
    let narrow =
        query::parse(&request.query).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    // Detection output (alerts and merge records) is never hunted.
    let not_alerts = query::Query::Not(Box::new(query::Query::Or(vec![
        query::Query::Term {
            field: Some("event.kind".to_owned()),
            value: "alert".to_owned(),
        },
        query::Query::Term {
            field: Some("event.action".to_owned()),
            value: detect::ALERT_MERGED_ACTION.to_owned(),
        },
    ])));
    let query = match narrow {
        query::Query::All => not_alerts,
        other => query::Query::And(vec![other, not_alerts]),
    };
    let (rules, correlations, rejected) = match &request.sigma {
        Some(texts) => inline_rules(texts)?,
        None => {
            let (rules, correlations) = state.rules.select(request.rule_ids.as_deref());
            // Named rules that are not loaded are reported, not ignored.
            let unknown = request
                .rule_ids
                .iter()
                .flatten()
                .filter(|id| {
                    let named = |meta: &sigma::RuleMeta| {
                        meta.id.as_deref() == Some(id.as_str())
                            || meta.name.as_deref() == Some(id.as_str())
                    };
                    !rules.iter().any(|r| named(&r.meta))
                        && !correlations.iter().any(|c| named(&c.meta))
                })
                .map(|id| {
                    serde_json::json!({"path": id, "line": null, "reason": "no loaded rule with this id or name"})
                })
                .collect();
            (rules, correlations, unknown)
        }
    };
    if rules.is_empty() {
        return Err(ApiError::BadRequest(
            "no rule to hunt with: the server has no enabled rule matching the request and no inline `sigma` rule loaded".into(),
        ));
    }
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let store = Arc::clone(&state.store);
    let scan = store::ScanRequest { query, from, to };
    let keep = request.store;
    tokio::task::spawn_blocking(move || {
        run(&*store, scan, rules, correlations, rejected, keep, limit)
    })
    .await
    .map_err(|err| ApiError::Internal(err.to_string()))?
    .map(Json)
}

/// Rules compiled for one hunt, and the documents that did not load.
type HuntRules = (
    Vec<sigma::CompiledRule>,
    Vec<sigma::CorrelationRule>,
    Vec<serde_json::Value>,
);

/// Compiles inline rule texts; rejected documents are reported, not fatal.
fn inline_rules(texts: &[String]) -> Result<HuntRules, ApiError> {
    if texts.iter().map(String::len).sum::<usize>() > MAX_INLINE_RULES_BYTES {
        return Err(ApiError::BadRequest(format!(
            "inline rules exceed {MAX_INLINE_RULES_BYTES} bytes"
        )));
    }
    let mut report = sigma::LoadReport::default();
    for (idx, text) in texts.iter().enumerate() {
        let one = sigma::RuleSet::load_str(text, format!("inline-{idx}.yml"));
        report.rules.extend(one.rules);
        report.correlations.extend(one.correlations);
        report.filters.extend(one.filters);
        report.rejected.extend(one.rejected);
    }
    let (_, failures) = sigma::apply_filters(
        &mut report.rules,
        &report.filters,
        &sigma::Mappings::builtin(),
    );
    let mut rejected: Vec<serde_json::Value> = report
        .rejected
        .iter()
        .map(|r| serde_json::json!({"path": r.path.display().to_string(), "line": r.line, "reason": r.reason.to_string()}))
        .collect();
    for failure in failures {
        rejected.push(serde_json::json!({"path": failure.filter, "line": null, "reason": format!("filter not applied to rule {}: {}", failure.rule, failure.reason)}));
    }
    Ok((report.rules, report.correlations, rejected))
}

fn run(
    store: &dyn store::EventStore,
    scan: store::ScanRequest,
    rules: Vec<sigma::CompiledRule>,
    correlations: Vec<sigma::CorrelationRule>,
    mut rejected: Vec<serde_json::Value>,
    keep: bool,
    limit: usize,
) -> Result<HuntResponse, ApiError> {
    let started = Instant::now();
    let n_rules = rules.len() + correlations.len();
    let (detector, failed) = detect::Detector::with_correlations(rules, &correlations);
    for (correlation, reason) in failed {
        rejected.push(serde_json::json!({"path": correlation, "line": null, "reason": reason}));
    }
    let mut hunt = Hunt {
        detector: detector.with_origin(detect::Origin::Hunt),
        store,
        keep,
        limit,
        pending: Vec::with_capacity(BATCH_EVENTS),
        alerts: Vec::new(),
        alerts_total: 0,
        by_rule: BTreeMap::new(),
        stored: 0,
        error: None,
    };
    // Events acknowledged a moment ago are hunted too. Alerts the hunt stores itself
    // (`keep`) may become searchable during the scan: the query excludes them.
    store.refresh()?;
    let stats = store.scan(&scan, &mut |event| {
        hunt.pending.push(event);
        if hunt.pending.len() >= BATCH_EVENTS {
            hunt.flush();
        }
        hunt.error.is_none()
    })?;
    hunt.flush();
    if let Some(error) = hunt.error {
        return Err(error);
    }
    let mut by_rule: Vec<RuleCount> = hunt.by_rule.into_values().collect();
    by_rule.sort_by(|a, b| b.alerts.cmp(&a.alerts).then_with(|| a.title.cmp(&b.title)));
    Ok(HuntResponse {
        events: stats.visited,
        rules: n_rules,
        rejected,
        alerts_total: hunt.alerts_total,
        by_rule,
        truncated: hunt.alerts_total > hunt.alerts.len() as u64,
        alerts: hunt.alerts,
        stored: hunt.stored,
        took_ms: started.elapsed().as_millis() as u64,
    })
}

struct Hunt<'a> {
    detector: detect::Detector,
    store: &'a dyn store::EventStore,
    keep: bool,
    limit: usize,
    pending: Vec<Event>,
    alerts: Vec<Event>,
    alerts_total: u64,
    by_rule: BTreeMap<(String, String), RuleCount>,
    stored: u64,
    error: Option<ApiError>,
}

impl Hunt<'_> {
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let alerts = self.detector.detect_batch(&self.pending);
        self.pending.clear();
        for alert in &alerts {
            let merged = alert.get_str("event.action") == Some(detect::ALERT_MERGED_ACTION);
            if !merged {
                self.alerts_total += 1;
            }
            let rule_id = alert.get_str("rule.id").map(str::to_owned);
            let title = alert.get_str("rule.name").unwrap_or_default().to_owned();
            let entry = self
                .by_rule
                .entry((rule_id.clone().unwrap_or_default(), title.clone()))
                .or_insert_with(|| RuleCount {
                    rule_id,
                    title,
                    level: alert.get_str("sentinella.alert.level").map(str::to_owned),
                    ..RuleCount::default()
                });
            let count_field = if merged {
                detect::MERGED_COUNT
            } else {
                entry.alerts += 1;
                detect::ALERT_COUNT
            };
            entry.events += alert
                .get(count_field)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(1);
        }
        let room = self.limit.saturating_sub(self.alerts.len());
        if self.keep && !alerts.is_empty() {
            let n = alerts.len() as u64;
            match self.store.append(alerts.clone()) {
                Ok(_) => self.stored += n,
                Err(error) => self.error = Some(error.into()),
            }
        }
        self.alerts.extend(
            alerts
                .into_iter()
                .filter(|a| a.get_str("event.action") != Some(detect::ALERT_MERGED_ACTION))
                .take(room),
        );
    }
}

/// RFC 3339, or a duration back from `now`: a number and `s`, `m`, `h`, `d` or `w`.
pub(crate) fn parse_time(text: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp, ApiError> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    let invalid = || {
        ApiError::BadRequest(format!(
            "invalid time `{text}`: RFC 3339 or a duration such as 30d, 12h, 15m expected"
        ))
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(invalid()),
    };
    let back = number.checked_mul(seconds).ok_or_else(invalid)?;
    now.checked_sub(jiff::SignedDuration::from_secs(back))
        .map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_are_rfc3339_or_durations_back_from_now() {
        let now: jiff::Timestamp = "2024-05-31T12:00:00Z".parse().unwrap();
        let at = |text: &str| parse_time(text, now).map(|ts| ts.to_string());
        assert_eq!(at("2024-05-01T00:00:00Z").unwrap(), "2024-05-01T00:00:00Z");
        assert_eq!(at("30d").unwrap(), "2024-05-01T12:00:00Z");
        assert_eq!(at("12h").unwrap(), "2024-05-31T00:00:00Z");
        assert_eq!(at("15m").unwrap(), "2024-05-31T11:45:00Z");
        assert_eq!(at("2w").unwrap(), "2024-05-17T12:00:00Z");
        for bad in [
            "",
            "d",
            "30",
            "30y",
            "-3d",
            "yesterday",
            "99999999999999999999d",
        ] {
            assert!(at(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Whatever a client sends as a time, the answer is a time or an error.
        #[test]
        fn any_text_is_a_time_or_an_error(text in ".{0,40}", number in proptest::num::u64::ANY) {
            let now = jiff::Timestamp::now();
            let _ = parse_time(&text, now);
            for unit in ["s", "m", "h", "d", "w"] {
                let _ = parse_time(&format!("{number}{unit}"), now);
            }
        }
    }
}
