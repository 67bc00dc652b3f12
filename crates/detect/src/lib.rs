//! Live detection: every event meets every enabled Sigma rule (through `sigma::Engine`'s
//! routing and prefilter), and matches become alerts.
//!
//! An alert is itself an ECS event (`event.kind: alert`) carrying the rule (`rule.*`, with
//! Sigma attribution), the ATT&CK techniques (`threat.technique.id`), the key entity
//! fields of the matched event (host, user, source, process) for search and grouping,
//! what matched (`sentinella.alert.matched`) and the matched event itself
//! (`sentinella.alert.event`). Alerts are written with the events that raised them, in
//! the same WAL append, so an acknowledged event's alerts are durable too.
//!
//! Deduplication: the same rule firing again for the same host, user and source within
//! [`DEDUP_WINDOW`] of event time is counted, not alerted again. Duplicates met in the same
//! batch as their alert ([`Detector::detect_batch`]) are merged into it:
//! `sentinella.alert.count` says how many events the alert stands for. The store is
//! append-only, so duplicates of an alert stored with an earlier batch are counted in one
//! *merge record* per alert and batch (`event.action: alert-merged`, not an alert, with
//! `sentinella.alert.merged.count`): alert counts plus merge records account for every
//! match. Time comes from events, never from the clock, so the same events give the same
//! alerts.
//!
//! The same [`Detector`] runs live (in the pipeline's writer), over stored history and over
//! files (`hunt`); [`Origin`] marks where an alert came from (`sentinella.alert.origin`).
//! [`RuleLibrary`] owns the rule directories (reload on change, enable/disable persisted)
//! and builds detectors; a [`DetectorSlot`] hands a rebuilt detector to the live one,
//! which swaps it in between batches, keeping its correlation windows and dedup memory.
//!
//! ```
//! let report = sigma::RuleSet::load_str(
//!     "title: whoami\nid: 1\nlogsource: {product: windows}\ndetection: {sel: {CommandLine|contains: whoami}, condition: sel}\nlevel: high\n",
//!     "inline.yml",
//! );
//! let mut detector = detect::Detector::new(report.rules);
//! let event: event::Event = serde_json::from_value(serde_json::json!({
//!     "@timestamp": "2024-01-01T00:00:00Z",
//!     "winlog": {"channel": "Security", "event_data": {"CommandLine": "cmd /c whoami"}}
//! })).unwrap();
//! let alerts = detector.detect(&event);
//! assert_eq!(alerts.len(), 1);
//! assert_eq!(alerts[0].get_str("rule.name"), Some("whoami"));
//! ```

pub mod intel;
mod library;
mod slot;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use event::{Event, Timestamp, Value, fields};
use serde_json::json;

pub use library::{LibraryError, RejectedEntry, RuleEntry, RuleLibrary, RulesListing, Watcher};
pub use slot::DetectorSlot;

/// Window within which a rule firing again on the same entities is a duplicate.
pub const DEDUP_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// Most deduplication keys kept; beyond it the oldest are forgotten (memory stays bounded).
const MAX_DEDUP_KEYS: usize = 100_000;

/// Entity fields copied from the matched event onto the alert, and used as the
/// deduplication key (with the rule).
const ENTITY_FIELDS: &[&str] = &[
    fields::HOST_NAME,
    fields::USER_NAME,
    "user.domain",
    fields::SOURCE_IP,
    fields::DESTINATION_IP,
    "process.name",
    "process.executable",
    "process.command_line",
    fields::EVENT_CODE,
    fields::WINLOG_EVENT_ID,
    fields::WINLOG_CHANNEL,
];
const DEDUP_FIELDS: &[&str] = &[fields::HOST_NAME, fields::USER_NAME, fields::SOURCE_IP];

/// Counters of a detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectorStats {
    /// Events evaluated.
    pub events: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Matches suppressed as duplicates.
    pub suppressed: u64,
}

/// Where alerts come from (`sentinella.alert.origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Live detection on ingested events.
    Live,
    /// A hunt over stored events or files.
    Hunt,
}

impl Origin {
    /// The value of `sentinella.alert.origin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Live => "live",
            Origin::Hunt => "hunt",
        }
    }
}

/// The last alert of a (rule, entities) key: when, and where it sits in the current
/// batch's output, if it was raised in this batch.
#[derive(Debug, Clone, Copy)]
struct LastAlert {
    at: Timestamp,
    batch: u64,
    position: usize,
}

/// Duplicates of an earlier batch's alert, met in this batch.
#[derive(Debug, Clone)]
struct MergeRecord {
    /// The alert's time (its first event's).
    alert_at: Timestamp,
    /// The latest duplicate.
    last: Timestamp,
    count: u64,
    rule_id: Option<String>,
    title: String,
    entities: Event,
}

/// `event.action` of merge records.
pub const ALERT_MERGED_ACTION: &str = "alert-merged";
/// Count of a merge record.
pub const MERGED_COUNT: &str = "sentinella.alert.merged.count";

/// Periodic saving of the correlation state.
#[derive(Debug)]
struct Persist {
    path: PathBuf,
    every: Duration,
    last_save: Instant,
    dirty: bool,
}

/// Runs rules over events and raises alerts (see the crate documentation).
pub struct Detector {
    engine: sigma::Engine,
    correlator: Option<sigma::Correlator>,
    /// Rules referenced only by correlations with `generate: false`: their matches feed
    /// the correlations but raise no alert of their own (Sigma correlation spec).
    silent: Vec<bool>,
    /// Rules referenced by a correlation: their matches are observed by the correlator.
    correlated: Vec<bool>,
    /// Level of each correlation, by its key.
    correlation_levels: HashMap<String, &'static str>,
    /// By (rule key, entity key): rule keys survive a rule reload, indexes do not.
    last_alert: HashMap<(String, String), LastAlert>,
    /// Number of the current batch, to merge duplicates into alerts of the same batch.
    batch: u64,
    /// Duplicates of alerts from earlier batches met in this batch, by key: the merge
    /// record to write at the end of the batch.
    merged: HashMap<(String, String), MergeRecord>,
    origin: Origin,
    slot: Option<Arc<DetectorSlot>>,
    persist: Option<Persist>,
    stats: DetectorStats,
}

impl Detector {
    /// A detector over compiled rules.
    pub fn new(rules: Vec<sigma::CompiledRule>) -> Self {
        Self::with_correlations(rules, &[]).0
    }

    /// A detector over rules and correlation rules. Returns the correlations that could
    /// not be compiled, with the reason (they are skipped, never silently).
    pub fn with_correlations(
        rules: Vec<sigma::CompiledRule>,
        correlations: &[sigma::CorrelationRule],
    ) -> (Self, Vec<(String, String)>) {
        let (compiled, failed) = sigma::compile_all(correlations);
        let failed = failed
            .into_iter()
            .map(|(key, error)| (key, error.to_string()))
            .collect();
        let (silent, correlated) = referenced_rules(&rules, &compiled);
        let correlation_levels = compiled
            .iter()
            .map(|c| {
                let level = c.level.map_or("high", sigma::Level::as_str);
                (c.key().to_owned(), level)
            })
            .collect();
        let correlator = (!compiled.is_empty()).then(|| {
            let known: Vec<sigma::KnownRule> = rules
                .iter()
                .map(|rule| sigma::KnownRule {
                    rule: rule_ref(rule),
                    logsource: rule.logsource.clone(),
                })
                .collect();
            sigma::Correlator::new(compiled, &known, &sigma::Mappings::builtin())
        });
        let detector = Self {
            engine: sigma::Engine::new(rules),
            correlator,
            silent,
            correlated,
            correlation_levels,
            last_alert: HashMap::new(),
            batch: 0,
            merged: HashMap::new(),
            origin: Origin::Live,
            slot: None,
            persist: None,
            stats: DetectorStats::default(),
        };
        (detector, failed)
    }

    /// Marks alerts with this origin (default [`Origin::Live`]).
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// Swaps in detectors offered to `slot` (rules reloaded, enabled or disabled) at the
    /// start of the next batch, or at [`Detector::idle`].
    pub fn follow(mut self, slot: Arc<DetectorSlot>) -> Self {
        self.slot = Some(slot);
        self
    }

    /// Saves the correlation state to `path` (atomically) at most every `every`, when it
    /// changed: see [`Detector::checkpoint`]. A crash then loses at most that interval of
    /// correlation windows.
    pub fn persist_state(mut self, path: PathBuf, every: Duration) -> Self {
        self.persist = Some(Persist {
            path,
            every,
            last_save: Instant::now(),
            dirty: false,
        });
        self
    }

    /// The compiled rules, in order.
    pub fn rules(&self) -> &[sigma::CompiledRule] {
        self.engine.rules()
    }

    /// Whether rule `index` only feeds `generate: false` correlations (raises no alert).
    pub fn is_silent(&self, index: usize) -> bool {
        self.silent.get(index).copied().unwrap_or(false)
    }

    /// Whether rule `index` is referenced by a correlation rule.
    pub fn is_correlated(&self, index: usize) -> bool {
        self.correlated.get(index).copied().unwrap_or(false)
    }

    /// Writes the correlation state if it changed and the interval has passed since the
    /// last save. Call it after a batch is stored (so the state never counts events that
    /// were not) and when idle. Errors are returned, not fatal: the state is a cache of
    /// open windows.
    pub fn checkpoint(&mut self) -> std::io::Result<bool> {
        let due = self
            .persist
            .as_ref()
            .is_some_and(|p| p.dirty && p.last_save.elapsed() >= p.every);
        if !due {
            return Ok(false);
        }
        let state = self.save_state();
        let persist = self.persist.as_mut().expect("checked above");
        persist.last_save = Instant::now();
        persist.dirty = false;
        let Some(state) = state else {
            // No correlation (any more): nothing to keep.
            return Ok(false);
        };
        if let Err(error) = write_atomically(&persist.path, state.as_bytes()) {
            persist.dirty = true;
            return Err(error);
        }
        Ok(true)
    }

    /// Between batches: swaps in an offered detector and saves the state when due.
    pub fn idle(&mut self) -> std::io::Result<bool> {
        self.swap_if_offered();
        self.checkpoint()
    }

    /// The clock's turn (the writer calls it on its idle tick with the wall clock): the
    /// alerts of correlation windows with an upper bound (`lt`, `lte`, `eq`, `neq`, and the
    /// numeric types) that ended before `now` and that no later match has decided yet.
    /// Such an alert has no triggering event; its group is in
    /// `sentinella.alert.correlation.group.*`.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Event> {
        self.swap_if_offered();
        let Some(correlator) = &mut self.correlator else {
            return Vec::new();
        };
        let hits = correlator.advance(now);
        if hits.is_empty() {
            return Vec::new();
        }
        if let Some(persist) = &mut self.persist {
            persist.dirty = true;
        }
        let none = Event::new();
        let mut alerts = Vec::with_capacity(hits.len());
        for hit in hits {
            self.stats.alerts += 1;
            let level = self
                .correlation_levels
                .get(&hit.correlation)
                .copied()
                .unwrap_or("high");
            let mut alert = correlation_alert(&hit, level, &none, self.origin);
            alert.remove("sentinella.alert.event");
            alerts.push(alert);
        }
        alerts
    }

    /// Takes over a detector offered to the slot, keeping state: correlation windows of
    /// correlations that still exist, deduplication memory, counters, origin, slot and
    /// persistence.
    fn swap_if_offered(&mut self) {
        let Some(slot) = &self.slot else {
            return;
        };
        let Some(mut next) = slot.take() else {
            return;
        };
        if let (Some(state), Some(_)) = (self.save_state(), &next.correlator) {
            // Correlations that changed shape lose their windows; the rest keep them.
            let _ = next.restore_state(&state);
        }
        next.last_alert = std::mem::take(&mut self.last_alert);
        next.batch = self.batch;
        next.origin = self.origin;
        next.slot = self.slot.take();
        next.persist = self.persist.take();
        if let Some(persist) = &mut next.persist {
            persist.dirty = true;
        }
        next.stats = self.stats;
        *self = next;
    }

    /// Number of rules evaluated.
    pub fn n_rules(&self) -> usize {
        self.engine.rules().len()
    }

    /// Counters so far.
    pub fn stats(&self) -> DetectorStats {
        self.stats
    }

    /// The correlation state (open windows per group) as JSON, to survive a restart.
    /// `None` when there are no correlation rules.
    pub fn save_state(&self) -> Option<String> {
        let snapshot = self.correlator.as_ref()?.snapshot();
        serde_json::to_string(&snapshot).ok()
    }

    /// Restores correlation state saved by [`Detector::save_state`]. State of
    /// correlations that no longer exist is dropped.
    pub fn restore_state(&mut self, json: &str) -> Result<(), String> {
        let Some(correlator) = &mut self.correlator else {
            return Ok(());
        };
        let snapshot: sigma::Snapshot = serde_json::from_str(json)
            .map_err(|err| format!("invalid correlation state: {err}"))?;
        correlator.restore(snapshot).map_err(|err| err.to_string())
    }

    /// The alerts this event raises (none for most events).
    pub fn detect(&mut self, event: &Event) -> Vec<Event> {
        self.detect_batch(std::slice::from_ref(event))
    }

    /// The alerts these events raise, in event order, then the merge records of this
    /// batch (see the crate documentation). Duplicates of an alert raised in the same
    /// batch are merged into it (`sentinella.alert.count`).
    pub fn detect_batch(&mut self, events: &[Event]) -> Vec<Event> {
        self.swap_if_offered();
        self.batch += 1;
        let mut alerts = Vec::new();
        let mut detections = Vec::new();
        for event in events {
            self.stats.events += 1;
            detections.clear();
            self.engine
                .for_each_match(event, |index, _, found| detections.push((index, found)));
            for (index, found) in detections.drain(..) {
                self.on_match(index, &found, event, &mut alerts);
            }
        }
        let mut merged: Vec<MergeRecord> = self.merged.drain().map(|(_, record)| record).collect();
        // Deterministic order (the map's is not).
        merged.sort_by(|a, b| (a.last, &a.title).cmp(&(b.last, &b.title)));
        alerts.extend(
            merged
                .iter()
                .map(|record| merge_record(record, self.origin)),
        );
        alerts
    }

    fn on_match(
        &mut self,
        index: usize,
        found: &sigma::Match,
        event: &Event,
        alerts: &mut Vec<Event>,
    ) {
        let at = event.timestamp().unwrap_or(Timestamp::UNIX_EPOCH);
        if self.correlated[index]
            && let Some(correlator) = &mut self.correlator
        {
            // Correlations count every match, duplicates included.
            let rule = &self.engine.rules()[index];
            let hits = correlator.observe(&rule_ref(rule), event, at);
            if let Some(persist) = &mut self.persist {
                persist.dirty = true;
            }
            for hit in hits {
                self.stats.alerts += 1;
                let level = self
                    .correlation_levels
                    .get(&hit.correlation)
                    .copied()
                    .unwrap_or("high");
                alerts.push(correlation_alert(&hit, level, event, self.origin));
            }
        }
        if self.silent[index] {
            return;
        }
        let rule = &self.engine.rules()[index];
        let key = (rule_key(rule), dedup_key(event));
        if let Some(last) = self.last_alert.get(&key)
            && at.duration_since(last.at).abs() < DEDUP_WINDOW
        {
            self.stats.suppressed += 1;
            if last.batch == self.batch
                && let Some(alert) = alerts.get_mut(last.position)
            {
                let count = alert.get(ALERT_COUNT).and_then(Value::as_u64).unwrap_or(1);
                alert.insert(ALERT_COUNT, json!(count + 1));
            } else {
                let alert_at = last.at;
                let record = self.merged.entry(key).or_insert_with(|| MergeRecord {
                    alert_at,
                    last: at,
                    count: 0,
                    rule_id: rule.meta.id.clone(),
                    title: rule.meta.title.clone(),
                    entities: entities(event),
                });
                record.count += 1;
                record.last = record.last.max(at);
            }
            return;
        }
        let position = alerts.len();
        alerts.push(alert(rule, found, event, self.origin));
        self.stats.alerts += 1;
        self.remember(
            key,
            LastAlert {
                at,
                batch: self.batch,
                position,
            },
        );
    }

    fn remember(&mut self, key: (String, String), last: LastAlert) {
        if self.last_alert.len() >= MAX_DEDUP_KEYS {
            // Forget keys whose window has passed; if all are recent, forget them all
            // (a duplicate alert is better than unbounded memory).
            let at = last.at;
            self.last_alert
                .retain(|_, kept| at.duration_since(kept.at).abs() < DEDUP_WINDOW);
            if self.last_alert.len() >= MAX_DEDUP_KEYS {
                self.last_alert.clear();
            }
        }
        self.last_alert.insert(key, last);
    }
}

/// How many events an alert stands for (itself and the duplicates merged into it).
pub const ALERT_COUNT: &str = "sentinella.alert.count";

/// For each rule: whether it only feeds `generate: false` correlations (silent), and
/// whether any correlation references it.
pub fn referenced_rules(
    rules: &[sigma::CompiledRule],
    correlations: &[sigma::CompiledCorrelation],
) -> (Vec<bool>, Vec<bool>) {
    let mut silent = vec![false; rules.len()];
    let mut correlated = vec![false; rules.len()];
    for correlation in correlations {
        for (idx, rule) in rules.iter().enumerate() {
            let referenced = correlation.rules.iter().any(|reference| {
                rule.meta.id.as_deref() == Some(reference.as_str())
                    || rule.meta.name.as_deref() == Some(reference.as_str())
            });
            if referenced {
                correlated[idx] = true;
                silent[idx] |= !correlation.generate;
            }
        }
    }
    (silent, correlated)
}

/// A rule's identity across reloads: its id, else its title.
fn rule_key(rule: &sigma::CompiledRule) -> String {
    rule.meta
        .id
        .clone()
        .unwrap_or_else(|| rule.meta.title.clone())
}

/// Writes `bytes` to `path` through a synced temporary file and a rename, so a crash
/// leaves the old or the new content, never a torn one.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        // The rename itself is durable only once the directory is synced.
        let _ = dir.sync_all();
    }
    Ok(())
}

fn rule_ref(rule: &sigma::CompiledRule) -> sigma::RuleRef {
    sigma::RuleRef::new(rule.meta.id.as_deref(), rule.meta.name.as_deref())
}

/// The alert for a correlation hit, triggered by `event`.
pub fn correlation_alert(
    hit: &sigma::CorrelationHit,
    level: &str,
    event: &Event,
    origin: Origin,
) -> Event {
    let mut alert = Event::new();
    alert.insert(fields::TIMESTAMP, json!(hit.last.to_string()));
    alert.insert(fields::EVENT_KIND, json!("alert"));
    alert.insert("event.module", json!("sigma"));
    alert.insert(fields::LOG_PARSER, json!("sigma.correlation"));
    alert.insert(fields::INPUT_TYPE, json!("detection"));
    alert.insert("rule.ruleset", json!("sigma"));
    if let Some(id) = &hit.id {
        alert.insert("rule.id", json!(id));
    }
    alert.insert("rule.name", json!(hit.title));
    alert.insert("sentinella.alert.status", json!("new"));
    alert.insert("sentinella.alert.level", json!(level));
    alert.insert("sentinella.alert.origin", json!(origin.as_str()));
    alert.insert(ALERT_COUNT, json!(1));
    alert.insert("sentinella.alert.correlation.count", json!(hit.count));
    alert.insert(
        "sentinella.alert.correlation.first",
        json!(hit.first.to_string()),
    );
    alert.insert(
        "sentinella.alert.correlation.last",
        json!(hit.last.to_string()),
    );
    for (field, value) in &hit.group {
        alert.insert(
            &format!("sentinella.alert.correlation.group.{field}"),
            json!(value),
        );
    }
    for path in ENTITY_FIELDS {
        if let Some(value) = event.get(path) {
            alert.insert(path, value.clone());
        }
    }
    alert.insert(
        "sentinella.alert.event",
        Value::Object(event.as_map().clone()),
    );
    alert.insert(
        fields::MESSAGE,
        json!(format!("{} ({} matches)", hit.title, hit.count)),
    );
    alert
}

/// The entity fields of `event`, as an alert copies them.
fn entities(event: &Event) -> Event {
    let mut out = Event::new();
    for path in ENTITY_FIELDS {
        if let Some(value) = event.get(path) {
            out.insert(path, value.clone());
        }
    }
    out
}

/// The record counting duplicates of an earlier batch's alert.
fn merge_record(record: &MergeRecord, origin: Origin) -> Event {
    let mut out = record.entities.clone();
    out.insert(fields::TIMESTAMP, json!(record.last.to_string()));
    out.insert(fields::EVENT_KIND, json!("event"));
    out.insert("event.module", json!("sigma"));
    out.insert("event.action", json!(ALERT_MERGED_ACTION));
    out.insert(fields::LOG_PARSER, json!("sigma"));
    out.insert(fields::INPUT_TYPE, json!("detection"));
    out.insert("rule.ruleset", json!("sigma"));
    if let Some(id) = &record.rule_id {
        out.insert("rule.id", json!(id));
    }
    out.insert("rule.name", json!(record.title));
    out.insert(MERGED_COUNT, json!(record.count));
    out.insert(
        "sentinella.alert.merged.alert_timestamp",
        json!(record.alert_at.to_string()),
    );
    out.insert("sentinella.alert.origin", json!(origin.as_str()));
    out.insert(
        fields::MESSAGE,
        json!(format!(
            "{} more matches of {} merged into its alert of {}",
            record.count, record.title, record.alert_at
        )),
    );
    out
}

fn dedup_key(event: &Event) -> String {
    let mut key = String::new();
    for path in DEDUP_FIELDS {
        if let Some(value) = event.get(path) {
            key.push_str(&value.to_string());
        }
        key.push('\u{1f}');
    }
    key
}

/// The alert for one match of `rule` on `event`.
pub fn alert(
    rule: &sigma::CompiledRule,
    found: &sigma::Match,
    event: &Event,
    origin: Origin,
) -> Event {
    let meta = &rule.meta;
    let mut alert = Event::new();
    alert.insert(
        fields::TIMESTAMP,
        event.get(fields::TIMESTAMP).cloned().unwrap_or(Value::Null),
    );
    alert.insert(fields::EVENT_KIND, json!("alert"));
    alert.insert("event.module", json!("sigma"));
    alert.insert(fields::LOG_PARSER, json!("sigma"));
    alert.insert(fields::INPUT_TYPE, json!("detection"));
    alert.insert("rule.ruleset", json!("sigma"));
    if let Some(id) = &meta.id {
        alert.insert("rule.id", json!(id));
    }
    alert.insert("rule.name", json!(meta.title));
    if let Some(description) = &meta.description {
        alert.insert("rule.description", json!(description));
    }
    // Sigma rules are DRL 1.1: every alert names its author and references.
    if let Some(author) = &meta.author {
        alert.insert("rule.author", json!(author));
    }
    if !meta.references.is_empty() {
        alert.insert("rule.reference", json!(meta.references));
    }
    let level = meta
        .level
        .map(|level| level.as_str().to_owned())
        .unwrap_or_else(|| "informational".to_owned());
    alert.insert("sentinella.alert.level", json!(level));
    alert.insert(
        "event.severity",
        json!(match level.as_str() {
            "critical" => 99,
            "high" => 73,
            "medium" => 47,
            "low" => 21,
            _ => 0,
        }),
    );
    alert.insert("sentinella.alert.status", json!("new"));
    alert.insert("sentinella.alert.origin", json!(origin.as_str()));
    alert.insert(ALERT_COUNT, json!(1));
    if !rule.filters.is_empty() {
        alert.insert("sentinella.alert.filters", json!(rule.filters));
    }
    if let Some(status) = meta.status {
        alert.insert("rule.status", json!(format!("{status:?}").to_lowercase()));
    }
    if !meta.tags.is_empty() {
        alert.insert("tags", json!(meta.tags));
    }
    let techniques: Vec<String> = meta
        .attack_tags()
        .filter_map(|tag| tag.strip_prefix("attack."))
        .filter(|rest| rest.starts_with('t') && rest[1..].starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_uppercase)
        .collect();
    if !techniques.is_empty() {
        alert.insert("threat.framework", json!("MITRE ATT&CK"));
        alert.insert("threat.technique.id", json!(techniques));
    }
    for path in ENTITY_FIELDS {
        if let Some(value) = event.get(path) {
            alert.insert(path, value.clone());
        }
    }
    alert.insert(
        "sentinella.alert.matched.selections",
        json!(found.selections),
    );
    alert.insert("sentinella.alert.matched.fields", json!(found.fields));
    alert.insert(
        "sentinella.alert.event",
        Value::Object(event.as_map().clone()),
    );
    let summary = format!(
        "{} on {}",
        meta.title,
        event.get_str(fields::HOST_NAME).unwrap_or("unknown host")
    );
    alert.insert(fields::MESSAGE, json!(summary));
    alert
}

#[cfg(test)]
mod tests;
