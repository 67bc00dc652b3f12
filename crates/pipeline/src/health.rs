//! Per-source ingest health: what each source sent, how much of it fell back to a raw
//! decode, when it was last heard from; plus the global counts of inputs the sources
//! could not hand over (UDP drops, HTTP 429s). Shown on the console's dashboard.
//!
//! A source is keyed by its input type and, when known, the sender's IP address
//! (`syslog-udp 10.0.0.5`); inputs without a peer (`http`, `import`) are one source per
//! input type. The table is bounded: past [`MAX_SOURCES`] the source heard from least
//! recently is forgotten, so spoofed UDP senders cannot grow it without limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// Most sources tracked at once.
pub const MAX_SOURCES: usize = 10_000;

/// The key of the source a batch came from.
pub fn source_key(input_type: &str, peer: Option<SocketAddr>) -> String {
    match peer {
        Some(peer) => format!("{input_type} {}", peer.ip()),
        None => input_type.to_owned(),
    }
}

#[derive(Debug, Clone, Copy)]
struct SourceStats {
    events: u64,
    parse_fallbacks: u64,
    first_seen: Timestamp,
    last_event: Timestamp,
}

/// The tracker; shared by the writer (which records) and the API (which reads).
#[derive(Debug)]
pub struct IngestHealth {
    sources: Mutex<HashMap<String, SourceStats>>,
    capacity: usize,
    udp_dropped: AtomicU64,
    rejected: AtomicU64,
}

impl Default for IngestHealth {
    fn default() -> Self {
        Self::with_capacity(MAX_SOURCES)
    }
}

impl IngestHealth {
    /// A tracker keeping at most `capacity` sources (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            sources: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            udp_dropped: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    /// Records a decoded batch of `n_events` from `key`, `n_fallback` of which carry
    /// `log.parse_error`, at `now`.
    pub fn record(&self, key: &str, n_events: u64, n_fallback: u64, now: Timestamp) {
        if n_events == 0 {
            return;
        }
        let mut sources = self.lock();
        if let Some(stats) = sources.get_mut(key) {
            stats.events += n_events;
            stats.parse_fallbacks += n_fallback;
            stats.last_event = stats.last_event.max(now);
            return;
        }
        if sources.len() >= self.capacity {
            // O(n) only when a new source arrives at a full table.
            let oldest = sources
                .iter()
                .min_by_key(|(_, stats)| stats.last_event)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                sources.remove(&oldest);
            }
        }
        sources.insert(
            key.to_owned(),
            SourceStats {
                events: n_events,
                parse_fallbacks: n_fallback,
                first_seen: now,
                last_event: now,
            },
        );
    }

    /// Counts UDP datagrams dropped because the pipeline was full.
    pub fn record_udp_dropped(&self, n_events: u64) {
        self.udp_dropped.fetch_add(n_events, Ordering::Relaxed);
    }

    /// Counts an HTTP request refused with 429 because the pipeline was full.
    pub fn record_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// The report at `now`: sources (silent ones first, then by key), each flagged
    /// `silent` when nothing arrived for longer than `silent_after`.
    pub fn snapshot(&self, now: Timestamp, silent_after: SignedDuration) -> Value {
        let mut rows: Vec<(bool, String, SourceStats)> = self
            .lock()
            .iter()
            .map(|(key, stats)| {
                let silent = now.duration_since(stats.last_event) > silent_after;
                (silent, key.clone(), *stats)
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let n_silent = rows.iter().filter(|row| row.0).count();
        let sources: Vec<Value> = rows
            .into_iter()
            .map(|(silent, key, stats)| {
                json!({
                    "source": key,
                    "events": stats.events,
                    "parse_fallbacks": stats.parse_fallbacks,
                    "first_seen": stats.first_seen.to_string(),
                    "last_event": stats.last_event.to_string(),
                    "silent": silent,
                })
            })
            .collect();
        json!({
            "silent_after_secs": silent_after.as_secs(),
            "silent_sources": n_silent,
            "max_sources": self.capacity,
            "udp_dropped_events": self.udp_dropped.load(Ordering::Relaxed),
            "rejected_requests": self.rejected.load(Ordering::Relaxed),
            "sources": sources,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SourceStats>> {
        // The map stays consistent even if a holder panicked: every update is one step.
        self.sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn counts_flags_silent_sources_and_evicts_the_oldest() {
        let health = IngestHealth::with_capacity(2);
        let udp = source_key("syslog-udp", Some("10.0.0.5:514".parse().unwrap()));
        assert_eq!(udp, "syslog-udp 10.0.0.5");
        health.record(&udp, 3, 1, at(0));
        health.record(&udp, 2, 0, at(10));
        health.record("http", 4, 0, at(3_000));
        health.record("http", 0, 0, at(9_000)); // empty batches are not activity
        health.record_udp_dropped(7);
        health.record_rejected();

        let report = health.snapshot(at(3_700), SignedDuration::from_hours(1));
        assert_eq!(report["silent_sources"], 1);
        assert_eq!(report["udp_dropped_events"], 7);
        assert_eq!(report["rejected_requests"], 1);
        let sources = report["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 2);
        // Silent first: the UDP sender, last heard at 10 s, 3690 s before `now`.
        assert_eq!(sources[0]["source"], "syslog-udp 10.0.0.5");
        assert_eq!(sources[0]["events"], 5);
        assert_eq!(sources[0]["parse_fallbacks"], 1);
        assert_eq!(sources[0]["silent"], true);
        assert_eq!(sources[0]["last_event"], at(10).to_string());
        assert_eq!(sources[1]["source"], "http");
        assert_eq!(sources[1]["silent"], false);

        // A third source evicts the least recently heard one (the UDP sender).
        health.record("import", 1, 1, at(3_800));
        let report = health.snapshot(at(3_800), SignedDuration::from_hours(1));
        let keys: Vec<&str> = report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["source"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["http", "import"]);
        assert_eq!(report["silent_sources"], 0);
    }
}
