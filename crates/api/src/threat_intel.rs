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

/// A TAXII collection: a named selection of the indicators, served to the partners that
/// list it. What a partner reads of it is the selection cut at the partner's clearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// Name, as partners list it (`indicators`); the TAXII id is derived from it.
    pub name: String,
    /// Title shown to partners.
    pub title: String,
    /// Description shown to partners.
    pub description: String,
    /// Indicators reported by any of these sources; every source when empty.
    pub sources: Vec<String>,
    /// Indicators carrying any of these tags; every indicator when empty.
    pub tags: Vec<String>,
    /// Indicator kinds held; every kind when empty (then pattern-only indicators too).
    pub kinds: Vec<IndicatorKind>,
    /// Most restrictive TLP held.
    pub max_tlp: Tlp,
    /// Whether partners that list it may add objects (and withdraw their own).
    pub writable: bool,
}

impl Collection {
    /// The default collection: every indicator, writable.
    pub fn all_indicators() -> Collection {
        Collection {
            name: crate::taxii::INDICATORS_COLLECTION.to_owned(),
            title: "Indicators".to_owned(),
            description: "Indicators of compromise".to_owned(),
            sources: Vec::new(),
            tags: Vec::new(),
            kinds: Vec::new(),
            max_tlp: Tlp::Red,
            writable: true,
        }
    }

    /// The tag objects written into this collection carry: they belong to it whatever its
    /// source and tag selection says.
    pub fn written_tag(&self) -> String {
        format!("{}{}", crate::taxii::COLLECTION_TAG_PREFIX, self.name)
    }

    fn selects<'s>(
        &self,
        mut sources: impl Iterator<Item = &'s str>,
        tags: impl Iterator<Item = &'s str> + Clone,
    ) -> bool {
        // Written to this collection (compared without building the tag: this runs per
        // indicator of large sets).
        let written = |t: &str| {
            t.strip_prefix(crate::taxii::COLLECTION_TAG_PREFIX) == Some(self.name.as_str())
        };
        if tags.clone().any(written) {
            return true;
        }
        let mut tags = tags;
        (self.sources.is_empty() || sources.any(|s| self.sources.iter().any(|c| c == s)))
            && (self.tags.is_empty() || tags.any(|t| self.tags.iter().any(|c| c == t)))
    }

    /// Whether the collection holds `indicator` (whoever reads it; TLP clearance aside).
    pub fn holds(&self, indicator: &intel::Indicator) -> bool {
        indicator.tlp <= self.max_tlp
            && (self.kinds.is_empty() || self.kinds.contains(&indicator.kind))
            && self.selects(
                indicator.sources.iter().map(String::as_str),
                indicator.tags.iter().map(String::as_str),
            )
    }

    /// As [`Collection::holds`], on an undecoded indicator.
    pub fn holds_meta(&self, meta: &intel::IndicatorMeta<'_>) -> bool {
        meta.tlp <= self.max_tlp
            && (self.kinds.is_empty() || self.kinds.contains(&meta.kind))
            && self.selects(meta.sources(), meta.tags())
    }

    /// Whether the collection holds a pattern-only indicator (not when it selects kinds:
    /// a pattern has none).
    pub fn holds_pattern(&self, pattern: &intel::PatternIndicator) -> bool {
        pattern.tlp <= self.max_tlp
            && self.kinds.is_empty()
            && self.selects(
                pattern.sources.iter().map(String::as_str),
                pattern.tags.iter().map(String::as_str),
            )
    }
}

/// What one partner would receive from one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionPreview {
    /// The collection's name.
    pub collection: String,
    /// Whether the partner may write to it.
    pub writable: bool,
    /// Indicators it receives from the collection.
    pub shared: usize,
    /// Indicators of the collection withheld from it, by TLP.
    pub withheld: std::collections::BTreeMap<Tlp, usize>,
}

/// What one partner would receive, over all its collections and per collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePreview {
    /// Totals over the partner's collections (an indicator in two collections counts once).
    pub partner: intel::sharing::PartnerPreview,
    /// One line per collection the partner lists, in the configured order.
    pub collections: Vec<CollectionPreview>,
}

impl SharePreview {
    /// `14 indicators to CERT-X in collection Y; 3 withheld from CERT-X: 3 TLP:AMBER+STRICT`.
    pub fn collection_summary(&self, collection: &CollectionPreview) -> String {
        let partner = &self.partner.partner;
        let noun = if collection.shared == 1 {
            "indicator"
        } else {
            "indicators"
        };
        let mut text = format!(
            "{} {noun} to {partner} in collection {}",
            collection.shared, collection.collection
        );
        let withheld: usize = collection.withheld.values().sum();
        if withheld > 0 {
            let detail: Vec<String> = collection
                .withheld
                .iter()
                .map(|(tlp, n)| format!("{n} {}", tlp.label()))
                .collect();
            text.push_str(&format!(
                "; {withheld} withheld from {partner}: {}",
                detail.join(", ")
            ));
        }
        text
    }
}

/// Who would receive what, per partner and per collection, from what is active at `now`.
/// TLP decides exactly as the TAXII server does: a partner gets what its clearance covers,
/// never TLP:RED.
pub fn share_preview(
    set: &intel::IndicatorSet,
    partners: &[intel::sharing::Partner],
    collections: &[Collection],
    now: Timestamp,
) -> Vec<SharePreview> {
    let all = Selection::up_to(Tlp::Red, now);
    partners
        .iter()
        .map(|partner| {
            let listed: Vec<&Collection> = collections
                .iter()
                .filter(|c| partner.collections.contains(&c.name))
                .collect();
            let mut preview = SharePreview {
                partner: intel::sharing::PartnerPreview {
                    partner: partner.name.clone(),
                    max_tlp: partner.max_tlp,
                    shared: 0,
                    withheld: std::collections::BTreeMap::new(),
                },
                collections: listed
                    .iter()
                    .map(|c| CollectionPreview {
                        collection: c.name.clone(),
                        writable: c.writable,
                        shared: 0,
                        withheld: std::collections::BTreeMap::new(),
                    })
                    .collect(),
            };
            let mut count = |tlp: Tlp, held: &mut dyn Iterator<Item = usize>| {
                let shareable = tlp.shareable_with(partner.max_tlp);
                let mut any = false;
                for idx in held {
                    any = true;
                    let line = &mut preview.collections[idx];
                    if shareable {
                        line.shared += 1;
                    } else {
                        *line.withheld.entry(tlp).or_default() += 1;
                    }
                }
                if any && shareable {
                    preview.partner.shared += 1;
                } else if any {
                    *preview.partner.withheld.entry(tlp).or_default() += 1;
                }
            };
            // Counted on the compact records: nothing is decoded.
            for meta in set.metas().filter(|meta| all.selects_meta(meta)) {
                let mut held = (0..listed.len()).filter(|&idx| listed[idx].holds_meta(&meta));
                count(meta.tlp, &mut held);
            }
            for pattern in set.select_patterns(&all) {
                let mut held = (0..listed.len()).filter(|&idx| listed[idx].holds_pattern(pattern));
                count(pattern.tlp, &mut held);
            }
            preview
        })
        .collect()
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
    /// TAXII collections (default: one, `indicators`, holding everything).
    pub collections: Vec<Collection>,
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
            collections: vec![Collection::all_indicators()],
            blocklist,
            default_tlp,
            retro_window,
            sightings: intel::SightingLog::new(),
            statuses: Mutex::new(std::collections::VecDeque::new()),
            api_max_tlp: Tlp::AmberStrict,
        }
    }

    /// Serves these TAXII collections instead of the default one.
    pub fn with_collections(mut self, collections: Vec<Collection>) -> Self {
        self.collections = collections;
        self
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
        .route("/api/v1/intel/share-preview", get(preview_route))
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
            .filter_map(|id| store.set().get_by_id(id))
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
    let set = store.set();
    // TLP and kind on the compact records; an indicator is decoded only to match `value`
    // or to be returned.
    for meta in set.metas() {
        if meta.tlp > max_tlp || kind.is_some_and(|k| k != meta.kind) {
            continue;
        }
        let decoded = match &needle {
            Some(needle) => match set.at(meta.position) {
                Some(indicator) if indicator.value.contains(needle.as_str()) => Some(indicator),
                _ => continue,
            },
            None => None,
        };
        total += 1;
        if indicators.len() < limit
            && let Some(indicator) = decoded.or_else(|| set.at(meta.position))
            && indicator.tlp <= max_tlp
        {
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
    /// Only what this TAXII collection holds.
    collection: Option<String>,
    token: Option<String>,
}

/// Indicators decoded per batch of a streamed export: the set's lock is held for one batch
/// at a time (imports and TAXII reads go on meanwhile), and memory stays at one batch.
const EXPORT_BATCH: usize = 4_096;
/// Records looked at per hold of the lock, selected or not.
const EXPORT_SCAN: usize = 65_536;

/// A response body fed from a channel, so a blocking task can write it batch by batch.
struct Chunks(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for Chunks {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(Ok))
    }
}

/// Writes an export as a stream: the count and the TLP markings first, from the compact
/// records, then the selected indicators decoded a batch at a time (each checked again,
/// TLP included, on the decoded indicator). Positions are resumed batch after batch; a
/// change made meanwhile shows as at the next refresh (expiry rewriting the set
/// mid-export may skip or repeat some values of this one).
async fn render(
    intel: &Arc<IntelState>,
    format: &str,
    selection: Selection,
    collection: Option<&str>,
) -> Result<Response, ApiError> {
    let format: Format = format.parse().map_err(bad)?;
    let collection = collection
        .map(|name| {
            intel
                .collections
                .iter()
                .find(|c| c.name == name)
                .cloned()
                .ok_or_else(|| bad(format!("no collection named {name}")))
        })
        .transpose()?;
    let held = move |meta: &intel::IndicatorMeta<'_>, c: &Option<Collection>| {
        c.as_ref().is_none_or(|c| c.holds_meta(meta))
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let (counted, total) = tokio::sync::oneshot::channel::<usize>();
    let intel = Arc::clone(intel);
    // Blocking work (a pass over millions of records) off the async workers.
    tokio::task::spawn_blocking(move || {
        let (count, tlps, patterns) = {
            let store = intel.lock();
            let set = store.set();
            let mut count = 0;
            let mut tlps = std::collections::BTreeSet::new();
            for meta in set.metas() {
                if selection.selects_meta(&meta) && held(&meta, &collection) {
                    count += 1;
                    tlps.insert(meta.tlp);
                }
            }
            let patterns: Vec<intel::PatternIndicator> = match format {
                Format::Stix => set
                    .select_patterns(&selection)
                    .filter(|p| collection.as_ref().is_none_or(|c| c.holds_pattern(p)))
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            };
            tlps.extend(patterns.iter().map(|p| p.tlp));
            (count, tlps, patterns)
        };
        if counted.send(count + patterns.len()).is_err() {
            return;
        }
        let send = |text: String| text.is_empty() || tx.blocking_send(Bytes::from(text)).is_ok();
        let mut writer = export::ExportWriter::new(format, selection.now);
        let tlps: Vec<Tlp> = tlps.into_iter().collect();
        if !send(writer.start(&tlps, count + patterns.len())) {
            return;
        }
        let mut from = intel::Position(0);
        loop {
            let mut batch = Vec::new();
            let mut last = None;
            {
                let store = intel.lock();
                let set = store.set();
                for (scanned, meta) in set.metas_from(from).enumerate() {
                    last = Some(meta.position);
                    if selection.selects_meta(&meta)
                        && held(&meta, &collection)
                        && let Some(indicator) = set.at(meta.position)
                    {
                        batch.push(indicator);
                    }
                    if batch.len() >= EXPORT_BATCH || scanned + 1 >= EXPORT_SCAN {
                        break;
                    }
                }
            }
            let Some(last) = last else { break };
            // Checked again whole, as the non-streamed export did.
            batch
                .retain(|i| selection.selects(i) && collection.as_ref().is_none_or(|c| c.holds(i)));
            if !send(writer.batch(&batch)) {
                return; // the client went away
            }
            from = intel::Position(last.0 + 1);
        }
        let refs: Vec<&intel::PatternIndicator> = patterns.iter().collect();
        if send(writer.patterns(&refs)) {
            send(writer.finish());
        }
    });
    let total = total
        .await
        .map_err(|_| ApiError::Internal("export stopped".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "no-store"),
        ],
        // How many indicators were selected (the CLI reports it).
        [("x-sentinella-count", total.to_string())],
        axum::body::Body::from_stream(Chunks(rx)),
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
    render(&intel, &format, selection, params.collection.as_deref()).await
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
    render(&intel, &format, selection, params.collection.as_deref()).await
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn withheld_json(withheld: &std::collections::BTreeMap<Tlp, usize>) -> Value {
    let map: serde_json::Map<String, Value> = withheld
        .iter()
        .map(|(tlp, n)| (tlp.label().to_owned(), json!(n)))
        .collect();
    Value::Object(map)
}

async fn preview_route(Extension(intel): Extension<Arc<IntelState>>) -> Json<Value> {
    let partners: Vec<intel::sharing::Partner> =
        intel.partners.iter().map(|p| p.partner.clone()).collect();
    let store = intel.lock();
    let preview = share_preview(store.set(), &partners, &intel.collections, Timestamp::now());
    let lines: Vec<Value> = preview
        .iter()
        .map(|p| {
            let collections: Vec<Value> = p
                .collections
                .iter()
                .map(|c| {
                    json!({"collection": c.collection, "writable": c.writable, "shared": c.shared,
                           "withheld": withheld_json(&c.withheld), "summary": p.collection_summary(c)})
                })
                .collect();
            json!({"partner": p.partner.partner, "max_tlp": p.partner.max_tlp.label(), "shared": p.partner.shared,
                   "withheld": withheld_json(&p.partner.withheld), "summary": p.partner.to_string(),
                   "collections": collections})
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

#[cfg(test)]
mod tests {
    use super::*;

    fn indicator(kind: IndicatorKind, value: &str, source: &str, tlp: Tlp) -> intel::Indicator {
        intel::Indicator::new(kind, value, source, tlp).unwrap()
    }

    fn phishing() -> Collection {
        Collection {
            name: "phishing".into(),
            title: "Phishing".into(),
            description: String::new(),
            sources: vec!["phish-desk".into()],
            tags: Vec::new(),
            kinds: vec![IndicatorKind::Domain, IndicatorKind::Url],
            max_tlp: Tlp::Amber,
            writable: true,
        }
    }

    #[test]
    fn a_collection_holds_its_selection_and_what_was_written_to_it() {
        let collection = phishing();
        let held = indicator(
            IndicatorKind::Domain,
            "lure.example",
            "phish-desk",
            Tlp::Green,
        );
        assert!(collection.holds(&held));
        let other_source = indicator(IndicatorKind::Domain, "x.example", "feodo", Tlp::Green);
        assert!(!collection.holds(&other_source));
        let wrong_kind = indicator(IndicatorKind::Ip, "198.51.100.7", "phish-desk", Tlp::Green);
        assert!(!collection.holds(&wrong_kind));
        let too_restricted = indicator(
            IndicatorKind::Domain,
            "y.example",
            "phish-desk",
            Tlp::AmberStrict,
        );
        assert!(!collection.holds(&too_restricted));
        // Written by a partner: held whatever the sources, never beyond kinds and TLP.
        let mut written = indicator(
            IndicatorKind::Url,
            "http://z.example/",
            "CERT-X",
            Tlp::Amber,
        );
        written.tags.push(collection.written_tag());
        assert!(collection.holds(&written));
        written.tlp = Tlp::Red;
        assert!(!collection.holds(&written));
        let mut tagged = phishing();
        tagged.sources.clear();
        tagged.tags = vec!["campaign-7".into()];
        let mut in_campaign = indicator(IndicatorKind::Domain, "c7.example", "any", Tlp::Clear);
        assert!(!tagged.holds(&in_campaign));
        in_campaign.tags.push("campaign-7".into());
        assert!(tagged.holds(&in_campaign));
    }

    #[test]
    fn a_collection_decides_the_same_on_compact_records() {
        let mut set = intel::IndicatorSet::new();
        let mut written = indicator(
            IndicatorKind::Url,
            "http://w.example/",
            "CERT-X",
            Tlp::Amber,
        );
        written.tags.push(phishing().written_tag());
        let mut campaign = indicator(IndicatorKind::Domain, "c7.example", "any", Tlp::Clear);
        campaign.tags.push("campaign-7".into());
        for i in [
            indicator(
                IndicatorKind::Domain,
                "lure.example",
                "phish-desk",
                Tlp::Green,
            ),
            indicator(IndicatorKind::Domain, "x.example", "feodo", Tlp::Green),
            indicator(IndicatorKind::Ip, "198.51.100.7", "phish-desk", Tlp::Green),
            indicator(
                IndicatorKind::Domain,
                "y.example",
                "phish-desk",
                Tlp::AmberStrict,
            ),
            written,
            campaign,
        ] {
            set.insert(i);
        }
        let mut tagged = phishing();
        tagged.sources.clear();
        tagged.tags = vec!["campaign-7".into()];
        for collection in [phishing(), tagged, Collection::all_indicators()] {
            let held: Vec<bool> = set.metas().map(|m| collection.holds_meta(&m)).collect();
            let decoded: Vec<bool> = set.indicators().map(|i| collection.holds(&i)).collect();
            assert_eq!(held, decoded, "{}", collection.name);
            assert!(held.contains(&true));
        }
    }

    #[test]
    fn the_preview_counts_per_partner_and_collection_as_taxii_serves() {
        let mut set = intel::IndicatorSet::new();
        for (value, source, tlp) in [
            ("a.example", "phish-desk", Tlp::Clear),
            ("b.example", "phish-desk", Tlp::Amber),
            ("c.example", "phish-desk", Tlp::AmberStrict),
            ("d.example", "feodo", Tlp::Red),
        ] {
            set.insert(indicator(IndicatorKind::Domain, value, source, tlp));
        }
        let partner = intel::sharing::Partner {
            name: "CERT-X".into(),
            max_tlp: Tlp::Green,
            collections: vec!["indicators".into(), "phishing".into()],
            contacts: Vec::new(),
        };
        let collections = [Collection::all_indicators(), phishing()];
        let previews = share_preview(&set, &[partner], &collections, Timestamp::now());
        let preview = &previews[0];
        assert_eq!(
            preview.partner.to_string(),
            "1 indicators to CERT-X (cleared up to TLP:GREEN); 3 withheld from CERT-X: 1 TLP:AMBER, 1 TLP:AMBER+STRICT, 1 TLP:RED"
        );
        let lines: Vec<String> = preview
            .collections
            .iter()
            .map(|c| preview.collection_summary(c))
            .collect();
        assert_eq!(
            lines,
            [
                "1 indicator to CERT-X in collection indicators; 3 withheld from CERT-X: 1 TLP:AMBER, 1 TLP:AMBER+STRICT, 1 TLP:RED",
                "1 indicator to CERT-X in collection phishing; 1 withheld from CERT-X: 1 TLP:AMBER",
            ]
        );
    }
}
