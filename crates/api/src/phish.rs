//! Phishing reports: `POST /api/v1/phish` (a raw `.eml` → stored report with verdict),
//! `GET /api/v1/phish/reports[/{id}]`, `POST /api/v1/phish/reports/{id}/override`
//! (an analyst changes the verdict; audited), `GET /api/v1/phish/campaigns[/{id}]`
//! (reports grouped by shared infrastructure, links, attachments) and
//! `GET /api/v1/phish/stats` (intake counters).
//!
//! The desk comes as an `Extension<Arc<phish::Desk>>` set by the server; without it the
//! routes answer `503`.
//!
//! Reports judged malicious (automatically, or by an analyst's override) give their
//! indicators to threat intelligence when the server runs it ([`share_with_intel`]), so
//! the live matcher raises alerts on later traffic to them; an override away from
//! malicious withdraws them again ([`withdraw_from_intel`]) unless another report still
//! judged malicious shared the same value.

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
        .route("/api/v1/phish/campaigns/{id}", get(campaign))
        .route("/api/v1/phish/stats", get(stats))
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
        let kind = intel_kind(shared.kind);
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

/// What withdrawing a report's indicators did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Withdrawal {
    /// Values no longer reported by phishing reports (matched and exported only if another
    /// source still reports them).
    pub withdrawn: Vec<String>,
    /// Values kept because another report still judged malicious shared them: value and
    /// that report's id.
    pub kept: Vec<(String, String)>,
}

/// Withdraws what `stored` gave to intelligence (indicators tagged `phish-report:<id>`
/// with source [`INTEL_SOURCE`]), after an analyst judged it not malicious. A value that
/// another report still judged malicious also shared stays; a value other feeds also
/// report stays theirs (only this source is retracted). Blocking.
pub fn withdraw_from_intel(
    intel: &crate::threat_intel::IntelState,
    events: &dyn store::EventStore,
    desk: &phish::Desk,
    stored: &phish::StoredReport,
    own_domains: &[String],
) -> Result<Withdrawal, intel_store::StoreError> {
    let tag = format!("phish-report:{}", stored.id);
    let mut outcome = Withdrawal::default();
    let mut report = intel::ImportReport::default();
    for shared in phish::share::shareable(&stored.analysis, own_domains) {
        let kind = intel_kind(shared.kind);
        let Ok(value) = kind.normalize(&shared.value) else {
            continue;
        };
        let others: Vec<String> = {
            let store = intel.lock();
            let Some(known) = store.set().get(kind, &value) else {
                continue;
            };
            if !known.tags.contains(&tag) || !known.sources.iter().any(|s| s == INTEL_SOURCE) {
                continue;
            }
            known
                .tags
                .iter()
                .filter_map(|t| t.strip_prefix("phish-report:"))
                .filter(|other| *other != stored.id)
                .map(str::to_owned)
                .collect()
        };
        match others
            .into_iter()
            .find(|other| still_malicious(desk, other))
        {
            Some(other) => outcome.kept.push((value, other)),
            None => {
                report
                    .revoked
                    .push((kind, value.clone(), INTEL_SOURCE.to_owned()));
                outcome.withdrawn.push(value);
            }
        }
    }
    if !report.revoked.is_empty() {
        intel.import_report(report, events)?;
    }
    Ok(outcome)
}

fn intel_kind(kind: phish::share::SharedKind) -> intel::IndicatorKind {
    match kind {
        phish::share::SharedKind::Domain => intel::IndicatorKind::Domain,
        phish::share::SharedKind::Url => intel::IndicatorKind::Url,
        phish::share::SharedKind::Sha256 => intel::IndicatorKind::Sha256,
    }
}

/// Shares `stored` with intelligence in the background when it is malicious and the
/// server runs intelligence; failures are logged, never fail the report.
fn share_in_background(
    intel: IntelExtension,
    settings: Option<Extension<PhishIntelSettings>>,
    events: Arc<dyn store::EventStore>,
    desk: &Arc<phish::Desk>,
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
    let desk = Arc::clone(desk);
    tokio::task::spawn_blocking(move || {
        // An analyst may have cleared the report in the meantime.
        if !still_malicious(&desk, &stored.id) {
            return;
        }
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

/// Whether the report's verdict in force is still malicious (blocking: reads the desk).
pub fn still_malicious(desk: &phish::Desk, id: &str) -> bool {
    desk.get(id)
        .is_ok_and(|r| r.verdict == phish::Verdict::Malicious)
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
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    let stats = desk.stats();
    stats.received(phish::stats::Channel::Api);
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let too_large = rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE;
            stats.refused(if too_large {
                phish::stats::Refusal::Size
            } else {
                phish::stats::Refusal::Parse
            });
            return Err(if too_large {
                ApiError::TooLarge
            } else {
                ApiError::BadRequest(rejection.body_text())
            });
        }
    };
    if body.is_empty() {
        stats.refused(phish::stats::Refusal::Parse);
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
    Ok(Json(for_role(summary(&stored, true), &principal)))
}

/// Which indicators matched, with their sources and markings, is for analysts: a viewer
/// sees the findings (they name only values of the message), not the intelligence behind.
fn for_role(mut value: Value, principal: &Principal) -> Value {
    if principal.role < auth::Role::Analyst
        && let Some(analysis) = value.get_mut("analysis").and_then(Value::as_object_mut)
    {
        analysis.remove("intel");
    }
    value
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

async fn one(
    extension: DeskExtension,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    let stored = blocking(move || desk.get(&id)).await?;
    Ok(Json(for_role(summary(&stored, true), &principal)))
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
    // Intelligence follows the analyst: a report made malicious shares what the analyzer
    // did not; one made not malicious withdraws what it had shared.
    let intel_outcome = match (&change, intel) {
        (Some(change), Some(Extension(intel))) if change.from != change.to => {
            let became_malicious = change.to == phish::Verdict::Malicious;
            let was_malicious = change.from == phish::Verdict::Malicious;
            let tlp = settings.map_or(intel::Tlp::Amber, |Extension(s)| s.tlp);
            let own_domains = desk.analyzer().config().own_domains.clone();
            let events = Arc::clone(&state.store);
            let (desk, stored) = (Arc::clone(&desk), stored.clone());
            if became_malicious {
                let shared = tokio::task::spawn_blocking(move || {
                    share_with_intel(
                        &intel,
                        events.as_ref(),
                        &stored,
                        &own_domains,
                        tlp,
                        ANALYST_CONFIDENCE,
                    )
                })
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(|e| ApiError::Internal(e.to_string()))?;
                Some(json!({"shared": shared}))
            } else if was_malicious {
                let withdrawal = tokio::task::spawn_blocking(move || {
                    withdraw_from_intel(&intel, events.as_ref(), &desk, &stored, &own_domains)
                })
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(|e| ApiError::Internal(e.to_string()))?;
                Some(json!(withdrawal))
            } else {
                None
            }
        }
        _ => None,
    };
    let accounts = Arc::clone(&state.accounts);
    let actor = principal.name;
    let audit_detail = json!({"change": change, "intel": intel_outcome});
    // The product's audit trail too, next to sign-ins and rule changes.
    tokio::task::spawn_blocking(move || {
        accounts.audit(&actor, "phish.override", Some(&id), audit_detail, at)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut answer = summary(&stored, false);
    if let Some(outcome) = intel_outcome {
        answer["intel"] = outcome;
    }
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

/// Reports grouped into campaigns: the newest this many.
const CAMPAIGN_WINDOW: usize = 2000;

async fn campaigns(extension: DeskExtension) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    let campaigns = blocking(move || desk.campaigns(CAMPAIGN_WINDOW)).await?;
    Ok(Json(
        json!({"campaigns": campaigns, "window": CAMPAIGN_WINDOW}),
    ))
}

async fn campaign(
    extension: DeskExtension,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    let (campaign, reports) = blocking(move || desk.campaign(&id, CAMPAIGN_WINDOW))
        .await
        .map_err(|error| match error {
            ApiError::NotFound(_) => ApiError::NotFound("no such campaign".into()),
            other => other,
        })?;
    let mut value = json!(campaign);
    value["report_details"] = json!(
        reports
            .iter()
            .map(|r| summary(r, false))
            .collect::<Vec<_>>()
    );
    Ok(Json(value))
}

async fn stats(extension: DeskExtension) -> Result<Json<Value>, ApiError> {
    let desk = desk(extension)?;
    Ok(Json(json!(desk.stats().snapshot())))
}

/// The intake counters in the Prometheus text format, for `/metrics`.
pub(crate) fn prometheus(stats: &phish::stats::IntakeSnapshot) -> String {
    // (name, help, [(labels, value)])
    type Family = (&'static str, &'static str, Vec<(String, u64)>);
    let families: [Family; 4] = [
        (
            "phish_reports_received_total",
            "Phishing reports received, by channel.",
            vec![
                ("channel=\"smtp\"".into(), stats.received.smtp),
                ("channel=\"api\"".into(), stats.received.api),
            ],
        ),
        (
            "phish_reports_refused_total",
            "Phishing reports or recipients refused before analysis, by reason.",
            vec![
                ("reason=\"size\"".into(), stats.refused.size),
                ("reason=\"recipient\"".into(), stats.refused.recipient),
                ("reason=\"parse\"".into(), stats.refused.parse),
            ],
        ),
        (
            "phish_reports_analysed_total",
            "Phishing reports analysed and kept, by automatic verdict.",
            vec![
                ("verdict=\"malicious\"".into(), stats.verdicts.malicious),
                ("verdict=\"suspicious\"".into(), stats.verdicts.suspicious),
                ("verdict=\"likely_safe\"".into(), stats.verdicts.likely_safe),
            ],
        ),
        (
            "phish_reporter_messages_total",
            "Messages to reporters handed to the relay, by kind and outcome.",
            vec![
                (
                    "kind=\"answer\",outcome=\"sent\"".into(),
                    stats.replies.sent,
                ),
                (
                    "kind=\"answer\",outcome=\"failed\"".into(),
                    stats.replies.failed,
                ),
                (
                    "kind=\"notice\",outcome=\"sent\"".into(),
                    stats.notices.sent,
                ),
                (
                    "kind=\"notice\",outcome=\"failed\"".into(),
                    stats.notices.failed,
                ),
            ],
        ),
    ];
    let mut out = String::new();
    for (name, help, series) in families {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
        for (labels, value) in series {
            out.push_str(&format!("{name}{{{labels}}} {value}\n"));
        }
    }
    out
}
