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
//! [`DEDUP_WINDOW`] of event time is counted, not alerted again. Time comes from events,
//! never from the clock, so the same events give the same alerts.
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

use std::collections::HashMap;

use event::{Event, Timestamp, Value, fields};
use serde_json::json;

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

/// Runs rules over events and raises alerts (see the crate documentation).
pub struct Detector {
    engine: sigma::Engine,
    correlator: Option<sigma::Correlator>,
    /// Rules referenced only by correlations with `generate: false`: their matches feed
    /// the correlations but raise no alert of their own (Sigma correlation spec).
    silent: Vec<bool>,
    /// Level of each correlation, by its key.
    correlation_levels: HashMap<String, &'static str>,
    last_alert: HashMap<(usize, String), Timestamp>,
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
        let mut silent = vec![false; rules.len()];
        for correlation in compiled.iter().filter(|c| !c.generate) {
            for (idx, rule) in rules.iter().enumerate() {
                let referenced = correlation.rules.iter().any(|reference| {
                    rule.meta.id.as_deref() == Some(reference.as_str())
                        || rule.meta.name.as_deref() == Some(reference.as_str())
                });
                if referenced {
                    silent[idx] = true;
                }
            }
        }
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
            correlation_levels,
            last_alert: HashMap::new(),
            stats: DetectorStats::default(),
        };
        (detector, failed)
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
        self.stats.events += 1;
        let at = event.timestamp().unwrap_or(Timestamp::UNIX_EPOCH);
        let mut alerts = Vec::new();
        let mut detections = Vec::new();
        self.engine
            .for_each_match(event, |index, _, found| detections.push((index, found)));
        for (index, found) in detections {
            if let Some(correlator) = &mut self.correlator {
                // Correlations count every match, duplicates included.
                let rule = &self.engine.rules()[index];
                for hit in correlator.observe(&rule_ref(rule), event, at) {
                    self.stats.alerts += 1;
                    let level = self
                        .correlation_levels
                        .get(&hit.correlation)
                        .copied()
                        .unwrap_or("high");
                    alerts.push(correlation_alert(&hit, level, event));
                }
            }
            if self.silent[index] {
                continue;
            }
            let key = (index, dedup_key(event));
            if let Some(last) = self.last_alert.get(&key)
                && at.duration_since(*last).abs() < DEDUP_WINDOW
            {
                self.stats.suppressed += 1;
                continue;
            }
            self.remember(key, at);
            self.stats.alerts += 1;
            alerts.push(alert(&self.engine.rules()[index], &found, event));
        }
        alerts
    }

    fn remember(&mut self, key: (usize, String), at: Timestamp) {
        if self.last_alert.len() >= MAX_DEDUP_KEYS {
            // Forget keys whose window has passed; if all are recent, forget them all
            // (a duplicate alert is better than unbounded memory).
            self.last_alert
                .retain(|_, last| at.duration_since(*last).abs() < DEDUP_WINDOW);
            if self.last_alert.len() >= MAX_DEDUP_KEYS {
                self.last_alert.clear();
            }
        }
        self.last_alert.insert(key, at);
    }
}

fn rule_ref(rule: &sigma::CompiledRule) -> sigma::RuleRef {
    sigma::RuleRef::new(rule.meta.id.as_deref(), rule.meta.name.as_deref())
}

fn correlation_alert(hit: &sigma::CorrelationHit, level: &str, event: &Event) -> Event {
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

fn alert(rule: &sigma::CompiledRule, found: &sigma::Match, event: &Event) -> Event {
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
