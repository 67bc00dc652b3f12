//! Threat intelligence over HTTP: import, list, withdraw, export, the share preview, and
//! blocklists for firewalls and resolvers (`/api/v1/intel/blocklist/{format}`, with their
//! own tokens, since devices fetch them). New indicators are retro-matched over stored
//! events of the configured window.
//!
//! TLP, on every read path here (list, export, blocklists):
//! - API users are the organisation itself: viewers and analysts read up to the configured
//!   `[intel] api_max_tlp` (default TLP:AMBER+STRICT, never RED). TLP:RED is for named
//!   individuals: only admins read it, and only when they ask for it (`max_tlp=red`).
//! - A caller's `max_tlp` can only narrow its ceiling; asking above it is refused (403),
//!   never silently cut, so nobody believes they saw everything.
//! - Blocklists go to devices of the organisation: the configured clearance (default
//!   TLP:AMBER+STRICT, acting on it inside the organisation is what AMBER allows), never RED.

use std::sync::{Arc, Mutex};

use axum::extract::{Extension, Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use intel::export::{self, Format};
use intel::{ImportOptions, IndicatorKind, Selection, Tlp};
use intel_store::IntelStore;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// What the `Principal` the access middleware attached to the request may read.
type Caller = Option<Extension<auth::Principal>>;

/// A partner organisation and its TAXII credentials.
#[derive(Debug, Clone)]
pub struct PartnerAccount {
    /// Who it is, how far it is cleared, which collections it may use.
    pub partner: intel::sharing::Partner,
    /// TAXII user name (HTTP Basic).
    pub username: String,
    /// SHA-256 (hex) of its TAXII password.
    pub password_sha256: String,
}

/// Who may fetch blocklists, and what goes into them.
#[derive(Debug, Clone)]
pub struct BlocklistSettings {
    /// Tokens accepted (`?token=` or `Authorization: Bearer`).
    pub tokens: Vec<String>,
    /// Most restrictive TLP included.
    pub max_tlp: Tlp,
    /// Lowest confidence included.
    pub min_confidence: u8,
}

/// Shared by the intel and TAXII handlers.
pub struct IntelState {
    /// The indicator set and the live matcher.
    pub store: Mutex<IntelStore>,
    /// Partners (TAXII, share preview).
    pub partners: Vec<PartnerAccount>,
    /// Blocklist access and content.
    pub blocklist: BlocklistSettings,
    /// TLP of imported entries that carry none.
    pub default_tlp: Tlp,
    /// Retro-match new indicators over events of this window; `None`: no retro-match.
    pub retro_window: Option<jiff::SignedDuration>,
    /// Sightings recorded by live matching, drained into the set by [`IntelState::tick`].
    pub sightings: intel::SightingLog,
    /// TAXII status resources of recent writes (bounded).
    pub(crate) statuses: Mutex<std::collections::VecDeque<Value>>,
    /// Most restrictive TLP viewers and analysts read over the API (never RED).
    api_max_tlp: Tlp,
}

impl IntelState {
    /// Intel state over an opened store.
    pub fn new(
        store: IntelStore,
        partners: Vec<PartnerAccount>,
        blocklist: BlocklistSettings,
        default_tlp: Tlp,
        retro_window: Option<jiff::SignedDuration>,
    ) -> Self {
        Self {
            store: Mutex::new(store),
            partners,
            blocklist,
            default_tlp,
            retro_window,
            sightings: intel::SightingLog::new(),
            statuses: Mutex::new(std::collections::VecDeque::new()),
            api_max_tlp: Tlp::AmberStrict,
        }
    }

    /// Caps what viewers and analysts read over the API (`[intel] api_max_tlp`); RED is
    /// lowered to AMBER+STRICT: it is for admins only.
    pub fn with_api_max_tlp(mut self, max_tlp: Tlp) -> Self {
        self.api_max_tlp = max_tlp.min(Tlp::AmberStrict);
        self
    }

    /// The TLP a caller reads up to: what it asked for (default: the configured ceiling),
    /// refused when above what its role may read.
    fn api_clearance(&self, caller: &Caller, asked: Option<&str>) -> Result<Tlp, ApiError> {
        let admin = caller
            .as_ref()
            .is_some_and(|Extension(principal)| principal.role >= auth::Role::Admin);
        let ceiling = if admin { Tlp::Red } else { self.api_max_tlp };
        let wanted = clearance(asked, self.api_max_tlp)?;
        if wanted > ceiling {
            return Err(ApiError::Denied(
                "forbidden",
                format!(
                    "your role reads intelligence up to {}; {} is for admins only",
                    ceiling.label(),
                    wanted.label()
                ),
            ));
        }
        Ok(wanted)
    }

    /// Adds an import's indicators (saved, matched from now on) and retro-matches the new
    /// ones over stored events. Blocking. Returns the summary and the retro alerts written.
    pub fn import_report(
        &self,
        report: intel::ImportReport,
        events: &dyn store::EventStore,
    ) -> Result<(intel_store::ApplySummary, usize), intel_store::StoreError> {
        let now = Timestamp::now();
        let summary = self.lock().apply(report, now)?;
        let retro = match self.retro_window {
            Some(window) if !summary.new_ids.is_empty() => {
                retro_match(self, events, &summary.new_ids, window, now)
            }
            _ => 0,
        };
        Ok((summary, retro))
    }

    /// Records live sightings, expires indicators and rebuilds the matcher when validity
    /// boundaries pass. Returns how many expired.
    pub fn tick(&self, now: Timestamp) -> Result<usize, intel_store::StoreError> {
        let sightings = self.sightings.drain();
        let mut store = self.lock();
        store.record_sightings(&sightings);
        store.tick(now)
    }

    /// The live matcher the pipeline matches with (swapped on every change).
    pub fn lock_matcher(&self) -> intel::SharedMatcher {
        self.lock().matcher()
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, IntelStore> {
        // A panic while holding the lock leaves the set as it was before the change: the
        // file is only replaced whole.
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Routes under `/api/v1/intel`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/intel/import", post(import))
        .route("/api/v1/intel/indicators", get(list))
        .route("/api/v1/intel/withdraw", post(withdraw))
        .route("/api/v1/intel/export/{format}", get(export_get))
        .route("/api/v1/intel/blocklist/{format}", get(blocklist))
        .route("/api/v1/intel/share-preview", get(share_preview))
        .route("/api/v1/intel/partners", get(partners))
}

#[derive(Debug, Deserialize)]
struct ImportParams {
    /// `stix`, `misp`, `feodo`, `urlhaus`, `threatfox`, `plain`; sniffed when absent.
    format: Option<String>,
    /// The feed's name.
    source: Option<String>,
    /// TLP of unmarked entries.
    tlp: Option<String>,
}

fn bad(message: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(message.to_string())
}

async fn import(
    axum::extract::State(state): axum::extract::State<AppState>,
    Extension(intel): Extension<Arc<IntelState>>,
    Query(params): Query<ImportParams>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let format = params
        .format
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(bad)?;
    let tlp = match params.tlp.as_deref() {
        Some(tlp) => tlp.parse().map_err(bad)?,
        None => intel.default_tlp,
    };
    let options = ImportOptions::new(params.source.as_deref().unwrap_or("api"), tlp);
    let events = Arc::clone(&state.store);
    let result = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let report = intel::import::import_any(&body, format, &options).map_err(bad)?;
        let (summary, retro) = intel
            .import_report(report, events.as_ref())
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        let mut body = serde_json::to_value(&summary).expect("summaries serialize");
        body["retro_alerts"] = json!(retro);
        Ok(body)
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))??;
    Ok(Json(result))
}

/// ECS fields a stored event may hold a value of `kind` in.
fn retro_fields(kind: IndicatorKind) -> &'static [&'static str] {
    match kind {
        IndicatorKind::Ip => &["source.ip", "destination.ip", "client.ip", "server.ip"],
        IndicatorKind::Domain => &["dns.question.name", "url.domain", "destination.domain"],
        IndicatorKind::Url => &["url.full", "url.original"],
        IndicatorKind::Md5 => &["file.hash.md5", "process.hash.md5"],
        IndicatorKind::Sha1 => &["file.hash.sha1", "process.hash.sha1"],
        IndicatorKind::Sha256 => &["file.hash.sha256", "process.hash.sha256"],
        IndicatorKind::Sha512 => &["file.hash.sha512", "process.hash.sha512"],
        IndicatorKind::Email => &["email.from.address", "email.sender.address"],
        IndicatorKind::Ja3 => &["tls.client.ja3"],
        IndicatorKind::Ja4 => &["tls.client.ja4"],
    }
}

/// Most new indicators retro-matched per import, and most past events alerted per
/// indicator: a huge feed must not turn into a huge scan.
const MAX_RETRO_INDICATORS: usize = 10_000;
const MAX_RETRO_EVENTS: usize = 1_000;

/// Looks for past sightings of new indicators in stored events of `window`, and writes an
/// alert (marked `sentinella.alert.retro`) for each. Returns the number of alerts.
fn retro_match(
    intel: &IntelState,
    events: &dyn store::EventStore,
    new_ids: &[String],
    window: jiff::SignedDuration,
    now: Timestamp,
) -> usize {
    let indicators: Vec<intel::Indicator> = {
        let store = intel.lock();
        new_ids
            .iter()
            .take(MAX_RETRO_INDICATORS)
            .filter_map(|id| store.set().get_by_id(id).cloned())
            .filter(|indicator| indicator.is_active(now))
            .collect()
    };
    let mut alerts = Vec::new();
    for indicator in indicators {
        // Exact field:value terms; values with quotes or backslashes are not searched.
        if indicator.value.contains(['"', '\\']) {
            continue;
        }
        let value = if indicator.kind == IndicatorKind::Ip && indicator.value.contains('/') {
            indicator.value.clone()
        } else {
            format!("\"{}\"", indicator.value)
        };
        let text: Vec<String> = retro_fields(indicator.kind)
            .iter()
            .map(|field| format!("{field}:{value}"))
            .collect();
        let Ok(query) = query::parse(&text.join(" OR ")) else {
            continue;
        };
        let request = store::ScanRequest {
            query,
            from: Some(now - window),
            to: None,
        };
        let matcher = intel::Matcher::from_indicators([indicator]);
        let mut n = 0;
        let mut hits = Vec::new();
        let scanned = events.scan(&request, &mut |event| {
            if event.get_str("event.kind") == Some("alert") {
                return true;
            }
            hits.clear();
            matcher.match_event(&event, &mut hits);
            if let Some(hit) = hits.first() {
                let mut alert = detect::intel::alert(hit, &event);
                alert.insert("sentinella.alert.retro", json!(true));
                alerts.push(alert);
                n += 1;
            }
            n < MAX_RETRO_EVENTS
        });
        if let Err(error) = scanned {
            tracing::warn!(%error, "intel retro-match scan failed");
        }
    }
    let n = alerts.len();
    if n > 0
        && let Err(error) = events.append(alerts)
    {
        tracing::error!(%error, "intel retro-match alerts not stored");
        return 0;
    }
    n
}

#[derive(Debug, Deserialize)]
struct ListParams {
    kind: Option<String>,
    value: Option<String>,
    max_tlp: Option<String>,
    limit: Option<usize>,
}

fn clearance(max_tlp: Option<&str>, default: Tlp) -> Result<Tlp, ApiError> {
    max_tlp.map_or(Ok(default), |t| t.parse().map_err(bad))
}

async fn list(
    Extension(intel): Extension<Arc<IntelState>>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let max_tlp = intel.api_clearance(&caller, params.max_tlp.as_deref())?;
    let kind: Option<IndicatorKind> = params
        .kind
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(bad)?;
    let limit = params.limit.unwrap_or(100).min(10_000);
    let store = intel.lock();
    let needle = params.value.as_deref().map(str::to_ascii_lowercase);
    let mut total = 0;
    let mut indicators = Vec::new();
    for indicator in store.set().indicators() {
        if indicator.tlp > max_tlp
            || kind.is_some_and(|k| k != indicator.kind)
            || needle
                .as_deref()
                .is_some_and(|n| !indicator.value.contains(n))
        {
            continue;
        }
        total += 1;
        if indicators.len() < limit {
            indicators.push(serde_json::to_value(indicator).expect("indicators serialize"));
        }
    }
    let patterns: Vec<Value> = store
        .set()
        .patterns()
        .filter(|p| p.tlp <= max_tlp && kind.is_none())
        .take(limit)
        .map(|p| serde_json::to_value(p).expect("patterns serialize"))
        .collect();
    Ok(Json(
        json!({"total": total, "indicators": indicators, "patterns": patterns}),
    ))
}

#[derive(Debug, Deserialize)]
struct WithdrawBody {
    kind: String,
    value: String,
}

async fn withdraw(
    Extension(intel): Extension<Arc<IntelState>>,
    Json(body): Json<WithdrawBody>,
) -> Result<Json<Value>, ApiError> {
    let kind: IndicatorKind = body.kind.parse().map_err(bad)?;
    let withdrawn = tokio::task::spawn_blocking(move || {
        intel.lock().withdraw(kind, &body.value, Timestamp::now())
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))?
    .map_err(|error| ApiError::Internal(error.to_string()))?;
    if !withdrawn {
        return Err(ApiError::NotFound("no such indicator".into()));
    }
    Ok(Json(json!({"withdrawn": true})))
}

#[derive(Debug, Deserialize)]
struct ExportParams {
    max_tlp: Option<String>,
    min_confidence: Option<u8>,
    max_age_days: Option<u32>,
    token: Option<String>,
}

fn render(intel: &IntelState, format: &str, selection: &Selection) -> Result<Response, ApiError> {
    let format: Format = format.parse().map_err(bad)?;
    let store = intel.lock();
    let indicators: Vec<&intel::Indicator> = store.set().select(selection).collect();
    let patterns: Vec<&intel::PatternIndicator> = match format {
        Format::Stix => store.set().select_patterns(selection).collect(),
        _ => Vec::new(),
    };
    let body = export::export(format, &indicators, &patterns, selection.now);
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

fn selection(
    params: &ExportParams,
    max_tlp: Tlp,
    default_confidence: u8,
) -> Result<Selection, ApiError> {
    let mut selection = Selection::up_to(max_tlp, Timestamp::now());
    selection.min_confidence = params.min_confidence.unwrap_or(default_confidence);
    selection.max_age = params
        .max_age_days
        .map(|days| jiff::SignedDuration::from_hours(i64::from(days) * 24));
    Ok(selection)
}

async fn export_get(
    Extension(intel): Extension<Arc<IntelState>>,
    caller: Caller,
    Path(format): Path<String>,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let max_tlp = intel.api_clearance(&caller, params.max_tlp.as_deref())?;
    let selection = selection(&params, max_tlp, 0)?;
    render(&intel, &format, &selection)
}

/// Blocklists authenticate with their own tokens (devices fetch them); the console's
/// middleware lets this path through (see `access::is_public`).
async fn blocklist(
    Extension(intel): Extension<Arc<IntelState>>,
    Path(format): Path<String>,
    Query(params): Query<ExportParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let presented = params
        .token
        .clone()
        .or_else(|| ::ingest::auth::token_from_headers(&headers));
    let allowed =
        presented.is_some_and(|token| {
            intel.blocklist.tokens.iter().any(|known| {
                !known.is_empty() && constant_time_eq(known.as_bytes(), token.as_bytes())
            })
        });
    if !allowed {
        return Err(ApiError::Unauthorized);
    }
    if format == "stix" {
        return Err(bad(
            "blocklists are edl-ip, edl-domain, edl-url, nft, rpz or suricata",
        ));
    }
    // The configured clearance caps what a device may ask for (a firewall asking for more
    // gets the capped list: devices do not read error bodies); RED never goes to devices.
    let ceiling = intel.blocklist.max_tlp.min(Tlp::AmberStrict);
    let asked = clearance(params.max_tlp.as_deref(), ceiling)?;
    let mut selection = selection(&params, asked.min(ceiling), intel.blocklist.min_confidence)?;
    selection.min_confidence = selection.min_confidence.max(intel.blocklist.min_confidence);
    render(&intel, &format, &selection)
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn share_preview(Extension(intel): Extension<Arc<IntelState>>) -> Json<Value> {
    let partners: Vec<intel::sharing::Partner> =
        intel.partners.iter().map(|p| p.partner.clone()).collect();
    let store = intel.lock();
    let preview = intel::sharing::preview(store.set(), &partners, Timestamp::now());
    let lines: Vec<Value> = preview
        .iter()
        .map(|p| {
            let withheld: serde_json::Map<String, Value> =
                p.withheld.iter().map(|(tlp, n)| (tlp.label().to_owned(), json!(n))).collect();
            json!({"partner": p.partner, "max_tlp": p.max_tlp.label(), "shared": p.shared, "withheld": withheld, "summary": p.to_string()})
        })
        .collect();
    Json(json!({"partners": lines}))
}

async fn partners(Extension(intel): Extension<Arc<IntelState>>) -> impl IntoResponse {
    let partners: Vec<Value> = intel
        .partners
        .iter()
        .map(|p| json!({"name": p.partner.name, "max_tlp": p.partner.max_tlp.label(), "collections": p.partner.collections, "contacts": p.partner.contacts}))
        .collect();
    (StatusCode::OK, Json(json!({"partners": partners})))
}
