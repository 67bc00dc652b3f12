//! Phishing reports: `POST /api/v1/phish` (a raw `.eml` → stored report with verdict),
//! `GET /api/v1/phish/reports[/{id}]`, `POST /api/v1/phish/reports/{id}/override`
//! (an analyst changes the verdict; audited), `GET /api/v1/phish/campaigns`.
//!
//! The desk comes as an `Extension<Arc<phish::Desk>>` set by the server; without it the
//! routes answer `503`.
//!
//! Reports judged malicious (automatically, or by an analyst's override) give their
//! indicators to threat intelligence when the server runs it ([`share_with_intel`]), so
//! the live matcher raises alerts on later traffic to them.

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
type IntelExtension = Option<Extension<Arc<crate::threat_intel::IntelState>>>;

/// How reports feed intelligence (`[phish] intel_tlp`); set by the server as an
/// `Extension`. Absent: TLP:AMBER.
#[derive(Debug, Clone, Copy)]
pub struct PhishIntelSettings {
    /// Marking of the indicators taken from reports.
    pub tlp: intel::Tlp,
}

/// Tells a reporter that an analyst changed the verdict of their report (the server sends
/// it through the configured relay, in the background); set by the server as an
/// `Extension` when a relay is configured. Returns why it cannot, if it cannot.
#[derive(Clone)]
pub struct ReporterNotifier(
    pub Arc<dyn Fn(phish::StoredReport) -> Result<(), String> + Send + Sync>,
);

/// The source recorded on indicators taken from phishing reports.
pub const INTEL_SOURCE: &str = "phishing-report";

/// Gives the indicators of `stored` (a report judged malicious) to intelligence: marked
/// `tlp`, source [`INTEL_SOURCE`], tagged with the report id, `confidence` 0–100; new ones
/// are retro-matched over stored events. Blocking. Returns how many values were new.
pub fn share_with_intel(
    intel: &crate::threat_intel::IntelState,
    events: &dyn store::EventStore,
    stored: &phish::StoredReport,
    own_domains: &[String],
    tlp: intel::Tlp,
    confidence: u8,
) -> Result<usize, intel_store::StoreError> {
    let now = jiff::Timestamp::now();
    let mut report = intel::ImportReport::default();
    for shared in phish::share::shareable(&stored.analysis, own_domains) {
        let kind = match shared.kind {
            phish::share::SharedKind::Domain => intel::IndicatorKind::Domain,
            phish::share::SharedKind::Url => intel::IndicatorKind::Url,
            phish::share::SharedKind::Sha256 => intel::IndicatorKind::Sha256,
        };
        // A value the indicator model refuses (odd URL, overlong) is simply not shared.
        let Ok(mut indicator) = intel::Indicator::new(kind, &shared.value, INTEL_SOURCE, tlp)
        else {
            continue;
        };
        indicator.confidence = confidence.min(100);
        indicator.first_seen = Some(now);
        indicator.last_seen = Some(now);
        indicator.tags = vec!["phishing".into(), format!("phish-report:{}", stored.id)];
        indicator.description = Some(match &stored.subject {
            Some(subject) => format!(
                "from phishing report {} ({})",
                stored.id,
                subject.chars().take(200).collect::<String>()
            ),
            None => format!("from phishing report {}", stored.id),
        });
        report.indicators.push(indicator);
    }
    if report.indicators.is_empty() {
        return Ok(0);
    }
    let (summary, _retro) = intel.import_report(report, events)?;
    Ok(summary.new)
}

/// Shares `stored` with intelligence in the background when it is malicious and the
/// server runs intelligence; failures are logged, never fail the report.
fn share_in_background(
    intel: IntelExtension,
    settings: Option<Extension<PhishIntelSettings>>,
    events: Arc<dyn store::EventStore>,
    desk: &phish::Desk,
    stored: &phish::StoredReport,
    confidence: u8,
) {
    let Some(Extension(intel)) = intel else {
        return;
    };
    if stored.verdict != phish::Verdict::Malicious {
        return;
    }
    let tlp = settings.map_or(intel::Tlp::Amber, |Extension(s)| s.tlp);
    let own_domains = desk.analyzer().config().own_domains.clone();
    let stored = stored.clone();
    tokio::task::spawn_blocking(move || {
        match share_with_intel(
            &intel,
            events.as_ref(),
            &stored,
            &own_domains,
            tlp,
            confidence,
        ) {
            Ok(new) => {
                tracing::info!(report = %stored.id, new, "phishing indicators shared with intel")
            }
            Err(error) => {
                tracing::warn!(report = %stored.id, %error, "phishing indicators not shared")
            }
        }
    });
}

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
    axum::extract::State(state): axum::extract::State<AppState>,
    extension: DeskExtension,
    intel: IntelExtension,
    settings: Option<Extension<PhishIntelSettings>>,
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
    let stored = {
        let desk = Arc::clone(&desk);
        blocking(move || desk.submit(&body, submission)).await?
    };
    let malicious_score = desk.analyzer().config().malicious_score;
    share_in_background(
        intel,
        settings,
        Arc::clone(&state.store),
        &desk,
        &stored,
        phish::share::confidence(stored.score, malicious_score),
    );
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
        "notices": stored.notices,
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
    /// Tell the reporter the new verdict (through the relay, in their language).
    #[serde(default)]
    notify: bool,
}

async fn override_verdict(
    axum::extract::State(state): axum::extract::State<AppState>,
    extension: DeskExtension,
    (intel, settings): (IntelExtension, Option<Extension<PhishIntelSettings>>),
    notifier: Option<Extension<ReporterNotifier>>,
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
    let stored = {
        let desk = Arc::clone(&desk);
        blocking(move || desk.override_verdict(&report_id, &actor, verdict, &comment, at)).await?
    };
    let change = stored.overrides.last().cloned();
    // An analyst confirming a report as malicious shares what the analyzer did not.
    if change
        .as_ref()
        .is_some_and(|c| c.from != phish::Verdict::Malicious)
    {
        share_in_background(
            intel,
            settings,
            Arc::clone(&state.store),
            &desk,
            &stored,
            ANALYST_CONFIDENCE,
        );
    }
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
    let mut answer = summary(&stored, false);
    if body.notify {
        // The override stands either way; the answer says whether the reporter is told.
        let notice = match notifier {
            None => Err("no relay is configured ([phish] relay)".to_owned()),
            Some(Extension(ReporterNotifier(notify))) => notify(stored),
        };
        answer["notice"] = match notice {
            Ok(()) => json!("queued"),
            Err(reason) => json!(format!("not sent: {reason}")),
        };
    }
    Ok(Json(answer))
}

/// Confidence of indicators from a report an analyst judged malicious.
const ANALYST_CONFIDENCE: u8 = 85;

async fn campaigns(extension: DeskExtension) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    let campaigns = blocking(move || desk.campaigns(1000)).await?;
    Ok(Json(json!({"campaigns": campaigns})))
}
