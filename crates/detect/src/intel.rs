//! Live threat-intelligence matching: every event's ECS observables (`source.ip`,
//! `dns.question.name`, `url.full`, `file.hash.*`, `email.from.address`, …) are looked up
//! in the indicator [`intel::Matcher`]; a hit becomes an alert in the same shape as Sigma
//! alerts (`event.kind: alert`, `rule.*`, `sentinella.alert.*`, entity fields, the matched
//! event), carrying the indicator under ECS `threat.indicator.*` with its sources and TLP.
//!
//! The matcher is shared ([`intel::SharedMatcher`]): imports, withdrawals and TAXII writes
//! swap in a rebuilt one while events keep flowing. The same indicator hitting the same
//! entities again within [`crate::DEDUP_WINDOW`] of event time is counted, not re-alerted.

use std::collections::HashMap;

use event::{Event, Timestamp, Value, fields};
use intel::{Hit, Indicator, IndicatorKind, SharedMatcher, Tlp};
use serde_json::json;

/// Most deduplication keys kept (memory stays bounded).
const MAX_DEDUP_KEYS: usize = 100_000;

/// Entity fields copied from the matched event onto the alert.
const ENTITY_FIELDS: &[&str] = &[
    fields::HOST_NAME,
    fields::USER_NAME,
    fields::SOURCE_IP,
    fields::DESTINATION_IP,
    "source.port",
    "destination.port",
    "dns.question.name",
    "url.full",
    "url.domain",
    "process.name",
    "file.name",
    "email.from.address",
];

/// Counters of the intel detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntelStats {
    /// Events looked at.
    pub events: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Hits suppressed as duplicates.
    pub suppressed: u64,
}

/// Matches events against the current indicators and raises alerts.
pub struct IntelDetector {
    matcher: SharedMatcher,
    sightings: Option<intel::SightingLog>,
    last_alert: HashMap<(String, String), Timestamp>,
    stats: IntelStats,
}

impl IntelDetector {
    /// A detector over the shared matcher.
    pub fn new(matcher: SharedMatcher) -> Self {
        Self {
            matcher,
            sightings: None,
            last_alert: HashMap::new(),
            stats: IntelStats::default(),
        }
    }

    /// Records every hit (duplicates included) as a sighting of its indicator.
    pub fn with_sightings(mut self, sightings: intel::SightingLog) -> Self {
        self.sightings = Some(sightings);
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> IntelStats {
        self.stats
    }

    /// The alerts the events raise, in order.
    pub fn detect_all<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) -> Vec<Event> {
        let matcher = self.matcher.current();
        let mut alerts = Vec::new();
        let mut hits = Vec::new();
        for event in events {
            self.stats.events += 1;
            // Alerts carry the matched event's observables: matching them would alert on alerts.
            if matcher.is_empty() || event.get_str(fields::EVENT_KIND) == Some("alert") {
                continue;
            }
            hits.clear();
            matcher.match_event(event, &mut hits);
            for hit in &hits {
                let at = event.timestamp().unwrap_or(Timestamp::UNIX_EPOCH);
                if let Some(sightings) = &self.sightings {
                    sightings.record(&hit.indicator.id, at);
                }
                let key = (hit.indicator.id.clone(), entity_key(event));
                if let Some(last) = self.last_alert.get(&key)
                    && at.duration_since(*last).abs() < crate::DEDUP_WINDOW
                {
                    self.stats.suppressed += 1;
                    continue;
                }
                self.remember(key, at);
                self.stats.alerts += 1;
                alerts.push(alert(hit, event));
            }
        }
        alerts
    }

    fn remember(&mut self, key: (String, String), at: Timestamp) {
        if self.last_alert.len() >= MAX_DEDUP_KEYS {
            self.last_alert
                .retain(|_, last| at.duration_since(*last).abs() < crate::DEDUP_WINDOW);
            if self.last_alert.len() >= MAX_DEDUP_KEYS {
                self.last_alert.clear();
            }
        }
        self.last_alert.insert(key, at);
    }
}

fn entity_key(event: &Event) -> String {
    let mut key = String::new();
    for path in [fields::HOST_NAME, fields::SOURCE_IP, fields::DESTINATION_IP] {
        if let Some(value) = event.get(path) {
            key.push_str(&value.to_string());
        }
        key.push('\u{1f}');
    }
    key
}

/// ECS `threat.indicator.type` of an indicator.
fn ecs_type(indicator: &Indicator) -> &'static str {
    match indicator.kind {
        IndicatorKind::Ip if indicator.value.contains(':') => "ipv6-addr",
        IndicatorKind::Ip => "ipv4-addr",
        IndicatorKind::Domain => "domain-name",
        IndicatorKind::Url => "url",
        IndicatorKind::Email => "email-addr",
        IndicatorKind::Ja3 | IndicatorKind::Ja4 => "x509-certificate",
        IndicatorKind::Md5
        | IndicatorKind::Sha1
        | IndicatorKind::Sha256
        | IndicatorKind::Sha512 => "file",
    }
}

/// ECS `threat.indicator.confidence` (`Low`, `Medium`, `High`) and the alert level.
fn confidence_level(confidence: u8) -> (&'static str, &'static str, u8) {
    match confidence {
        80.. => ("High", "high", 73),
        50..80 => ("Medium", "medium", 47),
        _ => ("Low", "low", 21),
    }
}

/// The ECS TLP value: TLP 2.0 names (`CLEAR`, `AMBER+STRICT`).
fn ecs_tlp(tlp: Tlp) -> &'static str {
    tlp.label().trim_start_matches("TLP:")
}

/// The alert for one hit (see the module docs).
pub fn alert(hit: &Hit, event: &Event) -> Event {
    let indicator = &hit.indicator;
    let mut alert = Event::new();
    alert.insert(
        fields::TIMESTAMP,
        event.get(fields::TIMESTAMP).cloned().unwrap_or(Value::Null),
    );
    alert.insert(fields::EVENT_KIND, json!("alert"));
    alert.insert(fields::EVENT_MODULE, json!("intel"));
    alert.insert(fields::LOG_PARSER, json!("intel"));
    alert.insert(fields::INPUT_TYPE, json!("detection"));
    alert.insert("rule.ruleset", json!("intel"));
    alert.insert("rule.id", json!(indicator.id));
    let name = format!(
        "Threat intelligence match: {} {}",
        indicator.kind, indicator.value
    );
    alert.insert("rule.name", json!(name));
    if let Some(description) = &indicator.description {
        alert.insert("rule.description", json!(description));
    }
    let (ecs_confidence, level, severity) = confidence_level(indicator.confidence);
    alert.insert("sentinella.alert.level", json!(level));
    alert.insert("event.severity", json!(severity));
    alert.insert("sentinella.alert.status", json!("new"));
    alert.insert("sentinella.alert.matched.fields", json!([hit.field]));
    alert.insert("sentinella.alert.matched.value", json!(hit.value));
    alert.insert("threat.indicator.id", json!(indicator.id));
    alert.insert("threat.indicator.type", json!(ecs_type(indicator)));
    match indicator.kind {
        IndicatorKind::Ip => alert.insert("threat.indicator.ip", json!(indicator.value)),
        IndicatorKind::Domain => {
            alert.insert("threat.indicator.url.domain", json!(indicator.value))
        }
        IndicatorKind::Url => alert.insert("threat.indicator.url.full", json!(indicator.value)),
        IndicatorKind::Email => {
            alert.insert("threat.indicator.email.address", json!(indicator.value))
        }
        kind => alert.insert(
            &format!("threat.indicator.file.hash.{}", kind.as_str()),
            json!(indicator.value),
        ),
    }
    alert.insert("threat.indicator.name", json!(indicator.value));
    alert.insert(
        "threat.indicator.provider",
        json!(indicator.sources.join(", ")),
    );
    alert.insert("threat.indicator.confidence", json!(ecs_confidence));
    alert.insert(
        "threat.indicator.marking.tlp",
        json!(ecs_tlp(indicator.tlp)),
    );
    alert.insert("threat.feed.name", json!(indicator.sources.first()));
    if let Some(first) = indicator.first_seen {
        alert.insert("threat.indicator.first_seen", json!(first.to_string()));
    }
    if let Some(last) = indicator.last_seen {
        alert.insert("threat.indicator.last_seen", json!(last.to_string()));
    }
    if let Some(description) = &indicator.description {
        alert.insert("threat.indicator.description", json!(description));
    }
    if !indicator.tags.is_empty() {
        alert.insert("tags", json!(indicator.tags));
    }
    alert.insert("threat.enrichments.matched.atomic", json!(hit.value));
    alert.insert("threat.enrichments.matched.field", json!(hit.field));
    alert.insert(
        "threat.enrichments.matched.type",
        json!("indicator_match_rule"),
    );
    if !indicator.attack.is_empty() {
        alert.insert("threat.framework", json!("MITRE ATT&CK"));
        alert.insert("threat.technique.id", json!(indicator.attack));
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
    let summary = format!(
        "{} {} ({}, {}) seen in {} on {}",
        indicator.kind,
        indicator.value,
        indicator.sources.join(", "),
        indicator.tlp,
        hit.field,
        event.get_str(fields::HOST_NAME).unwrap_or("unknown host")
    );
    alert.insert(fields::MESSAGE, json!(summary));
    alert
}

#[cfg(test)]
mod intel_tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn hits_become_deduplicated_alerts_with_the_indicator() {
        let mut indicator =
            Indicator::new(IndicatorKind::Ip, "198.51.100.7", "feodo", Tlp::Green).unwrap();
        indicator.confidence = 90;
        indicator.attack = vec!["T1071".into()];
        let shared = SharedMatcher::new(intel::Matcher::from_indicators([indicator]));
        let mut detector = IntelDetector::new(shared.clone());
        let first = event(
            serde_json::json!({"@timestamp": "2024-01-01T00:00:00Z", "host": {"name": "fw1"}, "destination": {"ip": "198.51.100.7"}}),
        );
        let again = event(
            serde_json::json!({"@timestamp": "2024-01-01T00:00:30Z", "host": {"name": "fw1"}, "destination": {"ip": "198.51.100.7"}}),
        );
        let later = event(
            serde_json::json!({"@timestamp": "2024-01-01T00:05:00Z", "host": {"name": "fw1"}, "destination": {"ip": "198.51.100.7"}}),
        );
        let benign = event(
            serde_json::json!({"@timestamp": "2024-01-01T00:00:00Z", "destination": {"ip": "198.51.100.8"}}),
        );
        let alerts = detector.detect_all([&first, &again, &benign, &later]);
        assert_eq!(alerts.len(), 2);
        assert_eq!(detector.stats().suppressed, 1);
        let alert = &alerts[0];
        assert_eq!(alert.get_str("event.kind"), Some("alert"));
        assert_eq!(alert.get_str("threat.indicator.ip"), Some("198.51.100.7"));
        assert_eq!(alert.get_str("threat.indicator.type"), Some("ipv4-addr"));
        assert_eq!(alert.get_str("threat.indicator.marking.tlp"), Some("GREEN"));
        assert_eq!(alert.get_str("threat.indicator.provider"), Some("feodo"));
        assert_eq!(alert.get_str("threat.indicator.confidence"), Some("High"));
        assert_eq!(alert.get_str("sentinella.alert.level"), Some("high"));
        assert_eq!(
            alert.get("threat.technique.id"),
            Some(&serde_json::json!(["T1071"]))
        );
        assert_eq!(
            alert.get_str("sentinella.alert.event.host.name"),
            Some("fw1")
        );
        // Alerts are not matched again, and a swapped-in matcher is used at once.
        assert!(detector.detect_all([alert]).is_empty());
        shared.replace(intel::Matcher::default());
        assert!(detector.detect_all([&later]).is_empty());
    }
}
