//! Per-source ingest health: what each source sent, how much of it fell back to a raw
//! decode, when it was last heard from; plus the global counts of inputs the sources
//! could not hand over (UDP drops, HTTP 429s). Shown on the console's dashboard.
//!
//! A source is keyed by its input type and who sent it: the authenticated user for the
//! HTTP API, with the name of the personal token it used (`http alice/nightly export`,
//! `import admin-token`; see [`api_sender`]), else the sender's IP address
//! (`syslog-udp 10.0.0.5`, `es-bulk 10.0.0.7`); inputs with neither are one source per
//! input type. The table is bounded: past [`MAX_SOURCES`] the source heard from least
//! recently is forgotten, so spoofed UDP senders cannot grow it without limit.
//!
//! When a source counts as silent is a [`SilencePolicy`]: one threshold, with overrides
//! for the keys matching a pattern (`syslog-udp 10.0.0.*`). The table survives restarts:
//! [`IngestHealth::save`] writes it atomically as JSON (the server does so periodically and
//! at shutdown), [`IngestHealth::load`] reads it back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Most sources tracked at once.
pub const MAX_SOURCES: usize = 10_000;
/// The silence threshold when none is configured.
pub const DEFAULT_SILENT_AFTER: SignedDuration = SignedDuration::from_hours(1);
/// Largest state file read back (10,000 sources take about 2 MiB).
const MAX_STATE_BYTES: u64 = 32 * 1024 * 1024;
/// Longest source key kept in the state file; longer keys cannot come from the sources.
const MAX_KEY_CHARS: usize = 512;
/// Version of the state file format.
const STATE_VERSION: u32 = 1;

/// The key of the source a batch came from: `sender` (an authenticated user) wins over
/// the peer's IP address.
pub fn source_key(input_type: &str, sender: Option<&str>, peer: Option<SocketAddr>) -> String {
    match (sender, peer) {
        (Some(sender), _) => format!("{input_type} {sender}"),
        (None, Some(peer)) => format!("{input_type} {}", peer.ip()),
        (None, None) => input_type.to_owned(),
    }
}

/// Who sent a batch through the HTTP API: the user, and the name of the personal token
/// used, so that two scripts of one user are separate sources (`alice/nightly export`).
/// Console sessions and the admin token have no token name (`alice`, `admin-token`).
pub fn api_sender(user: &str, token: Option<&str>) -> String {
    match token {
        Some(token) => format!("{user}/{token}"),
        None => user.to_owned(),
    }
}

/// When a source counts as silent: `default` without an event, unless the first override
/// whose pattern matches the source key says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilencePolicy {
    /// The threshold for sources no override matches.
    pub default: SignedDuration,
    /// `(pattern, threshold)` in order; the first match wins.
    pub overrides: Vec<(KeyPattern, SignedDuration)>,
}

impl Default for SilencePolicy {
    fn default() -> Self {
        Self {
            default: DEFAULT_SILENT_AFTER,
            overrides: Vec::new(),
        }
    }
}

impl SilencePolicy {
    /// The threshold for `key`.
    pub fn silent_after(&self, key: &str) -> SignedDuration {
        self.overrides
            .iter()
            .find(|(pattern, _)| pattern.matches(key))
            .map_or(self.default, |(_, after)| *after)
    }
}

/// A source key pattern: `*` matches any run of characters (spaces included), everything
/// else matches itself, case-sensitively. `syslog-udp 10.0.0.*`, `http *`, `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    text: String,
}

impl KeyPattern {
    /// A pattern from its text.
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `key` matches. Greedy matching that only ever backtracks to the last `*`
    /// (at most pattern × key steps, no recursion), so hostile keys cannot make it slow.
    pub fn matches(&self, key: &str) -> bool {
        let pattern: Vec<char> = self.text.chars().collect();
        let key: Vec<char> = key.chars().collect();
        let (mut p, mut k) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while k < key.len() {
            if p < pattern.len() && pattern[p] == '*' {
                star = Some((p, k));
                p += 1;
            } else if p < pattern.len() && pattern[p] == key[k] {
                p += 1;
                k += 1;
            } else if let Some((star_p, star_k)) = star {
                // Let the last `*` swallow one more character and retry.
                p = star_p + 1;
                k = star_k + 1;
                star = Some((star_p, star_k + 1));
            } else {
                return false;
            }
        }
        pattern[p..].iter().all(|c| *c == '*')
    }
}

/// Why a saved health table could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum HealthStateError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than any table this version writes.
    #[error("{path} is {bytes} bytes, more than the {MAX_STATE_BYTES} a health table can take")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        bytes: u64,
    },
    /// The file is not a health table.
    #[error("{path} is not an ingest health table: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct SourceStats {
    events: u64,
    parse_fallbacks: u64,
    first_seen: Timestamp,
    last_event: Timestamp,
}

/// The state file: counters and the per-source table.
#[derive(Debug, Serialize, Deserialize)]
struct SavedState {
    version: u32,
    udp_dropped_events: u64,
    rejected_requests: u64,
    sources: Vec<SavedSource>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedSource {
    source: String,
    #[serde(flatten)]
    stats: SourceStats,
}

/// The tracker; shared by the writer (which records) and the API (which reads).
#[derive(Debug)]
pub struct IngestHealth {
    sources: Mutex<HashMap<String, SourceStats>>,
    capacity: usize,
    policy: SilencePolicy,
    udp_dropped: AtomicU64,
    rejected: AtomicU64,
    /// Bumped on every change, so a periodic save can skip an unchanged table.
    generation: AtomicU64,
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
            policy: SilencePolicy::default(),
            udp_dropped: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// Uses `policy` to decide which sources are silent.
    pub fn with_policy(mut self, policy: SilencePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The silence policy in force.
    pub fn policy(&self) -> &SilencePolicy {
        &self.policy
    }

    /// Records a decoded batch of `n_events` from `key`, `n_fallback` of which carry
    /// `log.parse_error`, at `now`.
    pub fn record(&self, key: &str, n_events: u64, n_fallback: u64, now: Timestamp) {
        if n_events == 0 {
            return;
        }
        let mut sources = self.lock();
        // The generation moves after the change, so a save that saw the new generation
        // also saw the change.
        if let Some(stats) = sources.get_mut(key) {
            stats.events += n_events;
            stats.parse_fallbacks += n_fallback;
            stats.last_event = stats.last_event.max(now);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        insert_bounded(
            &mut sources,
            self.capacity,
            key.to_owned(),
            SourceStats {
                events: n_events,
                parse_fallbacks: n_fallback,
                first_seen: now,
                last_event: now,
            },
        );
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Counts UDP datagrams dropped because the pipeline was full.
    pub fn record_udp_dropped(&self, n_events: u64) {
        self.udp_dropped.fetch_add(n_events, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Counts an HTTP request refused with 429 because the pipeline was full.
    pub fn record_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// A number that changes whenever the table or a counter does.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The report at `now`: sources (silent ones first, then by key), each flagged
    /// `silent` when nothing arrived for longer than its threshold: `silent_after` for
    /// every source when given (an analyst's what-if), else the policy's.
    pub fn snapshot(&self, now: Timestamp, silent_after: Option<SignedDuration>) -> Value {
        let mut rows: Vec<(bool, String, SourceStats, SignedDuration)> = self
            .lock()
            .iter()
            .map(|(key, stats)| {
                let threshold = silent_after.unwrap_or_else(|| self.policy.silent_after(key));
                let silent = now.duration_since(stats.last_event) > threshold;
                (silent, key.clone(), *stats, threshold)
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let n_silent = rows.iter().filter(|row| row.0).count();
        let sources: Vec<Value> = rows
            .into_iter()
            .map(|(silent, key, stats, threshold)| {
                json!({
                    "source": key,
                    "events": stats.events,
                    "parse_fallbacks": stats.parse_fallbacks,
                    "first_seen": stats.first_seen.to_string(),
                    "last_event": stats.last_event.to_string(),
                    "silent_after_secs": threshold.as_secs(),
                    "silent": silent,
                })
            })
            .collect();
        let overrides: Vec<Value> = self
            .policy
            .overrides
            .iter()
            .map(|(pattern, after)| json!({"match": pattern.as_str(), "silent_after_secs": after.as_secs()}))
            .collect();
        json!({
            "silent_after_secs": silent_after.unwrap_or(self.policy.default).as_secs(),
            "silent_after_overrides": overrides,
            "silent_sources": n_silent,
            "max_sources": self.capacity,
            "udp_dropped_events": self.udp_dropped.load(Ordering::Relaxed),
            "rejected_requests": self.rejected.load(Ordering::Relaxed),
            "sources": sources,
        })
    }

    /// Writes the table and counters to `path` atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut sources: Vec<SavedSource> = self
            .lock()
            .iter()
            .map(|(key, stats)| SavedSource {
                source: key.clone(),
                stats: *stats,
            })
            .collect();
        sources.sort_by(|a, b| a.source.cmp(&b.source));
        let state = SavedState {
            version: STATE_VERSION,
            udp_dropped_events: self.udp_dropped.load(Ordering::Relaxed),
            rejected_requests: self.rejected.load(Ordering::Relaxed),
            sources,
        };
        let bytes = serde_json::to_vec(&state).map_err(std::io::Error::other)?;
        detect::write_atomically(path, &bytes)
    }

    /// Reads a table saved by [`IngestHealth::save`] into this (empty) tracker. A missing
    /// file is an empty table. Keeps at most the tracker's capacity, the most recently
    /// heard sources first.
    pub fn load(self, path: &Path) -> Result<Self, HealthStateError> {
        let shown = || path.display().to_string();
        let bytes = match std::fs::metadata(path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(self),
            Err(source) => {
                return Err(HealthStateError::Read {
                    path: shown(),
                    source,
                });
            }
            Ok(meta) if meta.len() > MAX_STATE_BYTES => {
                return Err(HealthStateError::TooLarge {
                    path: shown(),
                    bytes: meta.len(),
                });
            }
            Ok(_) => std::fs::read(path).map_err(|source| HealthStateError::Read {
                path: shown(),
                source,
            })?,
        };
        let state: SavedState =
            serde_json::from_slice(&bytes).map_err(|err| HealthStateError::Invalid {
                path: shown(),
                reason: err.to_string(),
            })?;
        if state.version != STATE_VERSION {
            return Err(HealthStateError::Invalid {
                path: shown(),
                reason: format!("unknown version {}", state.version),
            });
        }
        self.udp_dropped
            .store(state.udp_dropped_events, Ordering::Relaxed);
        self.rejected
            .store(state.rejected_requests, Ordering::Relaxed);
        {
            let mut sources = self.lock();
            let mut saved = state.sources;
            // Most recent first, so a smaller capacity keeps the sources that matter.
            saved.sort_by_key(|saved| std::cmp::Reverse(saved.stats.last_event));
            for SavedSource { source, stats } in saved {
                if source.chars().count() > MAX_KEY_CHARS || sources.len() >= self.capacity {
                    continue;
                }
                sources.insert(source, stats);
            }
        }
        Ok(self)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SourceStats>> {
        // The map stays consistent even if a holder panicked: every update is one step.
        self.sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Inserts a new source, first forgetting the least recently heard one when full.
fn insert_bounded(
    sources: &mut HashMap<String, SourceStats>,
    capacity: usize,
    key: String,
    stats: SourceStats,
) {
    if sources.len() >= capacity {
        // O(n) only when a new source arrives at a full table.
        let oldest = sources
            .iter()
            .min_by_key(|(_, stats)| stats.last_event)
            .map(|(key, _)| key.clone());
        if let Some(oldest) = oldest {
            sources.remove(&oldest);
        }
    }
    sources.insert(key, stats);
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
        let udp = source_key("syslog-udp", None, Some("10.0.0.5:514".parse().unwrap()));
        assert_eq!(udp, "syslog-udp 10.0.0.5");
        health.record(&udp, 3, 1, at(0));
        health.record(&udp, 2, 0, at(10));
        health.record("http", 4, 0, at(3_000));
        health.record("http", 0, 0, at(9_000)); // empty batches are not activity
        health.record_udp_dropped(7);
        health.record_rejected();

        let report = health.snapshot(at(3_700), None);
        assert_eq!(report["silent_sources"], 1);
        assert_eq!(report["silent_after_secs"], 3600);
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
        let report = health.snapshot(at(3_800), None);
        let keys: Vec<&str> = report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["source"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["http", "import"]);
        assert_eq!(report["silent_sources"], 0);
        // An explicit threshold applies to every source.
        let strict = health.snapshot(at(3_800), Some(SignedDuration::from_secs(60)));
        assert_eq!(strict["silent_sources"], 1);
        assert_eq!(strict["silent_after_secs"], 60);
    }

    #[test]
    fn senders_are_keyed_by_user_before_address() {
        let peer = Some("10.0.0.7:40000".parse().unwrap());
        assert_eq!(source_key("http", Some("alice"), peer), "http alice");
        assert_eq!(source_key("es-bulk", None, peer), "es-bulk 10.0.0.7");
        assert_eq!(source_key("import", None, None), "import");
        // Two tokens of one user are two sources; the user alone for sessions.
        let nightly = api_sender("alice", Some("nightly"));
        let hourly = api_sender("alice", Some("hourly"));
        assert_eq!(
            source_key("http", Some(&nightly), peer),
            "http alice/nightly"
        );
        assert_ne!(nightly, hourly);
        assert_eq!(api_sender("admin-token", None), "admin-token");
    }

    #[test]
    fn overrides_apply_per_key_pattern_first_match_wins() {
        let policy = SilencePolicy {
            default: SignedDuration::from_hours(1),
            overrides: vec![
                (
                    KeyPattern::new("syslog-udp 10.0.0.*"),
                    SignedDuration::from_mins(5),
                ),
                (KeyPattern::new("syslog-*"), SignedDuration::from_hours(24)),
            ],
        };
        assert_eq!(
            policy.silent_after("syslog-udp 10.0.0.9"),
            SignedDuration::from_mins(5)
        );
        assert_eq!(
            policy.silent_after("syslog-tcp 10.0.0.9"),
            SignedDuration::from_hours(24)
        );
        assert_eq!(
            policy.silent_after("http alice"),
            SignedDuration::from_hours(1)
        );

        let health = IngestHealth::with_capacity(10).with_policy(policy);
        health.record("syslog-udp 10.0.0.9", 1, 0, at(0));
        health.record("syslog-tcp 10.0.0.9", 1, 0, at(0));
        health.record("http alice", 1, 0, at(0));
        // 30 minutes later only the UDP sender with its 5-minute threshold is silent.
        let report = health.snapshot(at(1_800), None);
        assert_eq!(report["silent_sources"], 1);
        assert_eq!(report["sources"][0]["source"], "syslog-udp 10.0.0.9");
        assert_eq!(report["sources"][0]["silent_after_secs"], 300);
        assert_eq!(
            report["silent_after_overrides"][0]["match"],
            "syslog-udp 10.0.0.*"
        );
    }

    #[test]
    fn key_patterns_match_like_globs() {
        let cases = [
            ("*", "", true),
            ("*", "anything at all", true),
            ("http *", "http alice", true),
            ("http *", "http", false),
            ("http *", "https alice", false),
            ("syslog-udp 10.0.0.*", "syslog-udp 10.0.0.15", true),
            ("syslog-udp 10.0.0.*", "syslog-udp 10.0.1.15", false),
            ("*.5", "syslog-udp 10.0.0.5", true),
            ("a*b*c", "a-b-b-c", true),
            ("a*b*c", "a-c-b", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("**", "x", true),
        ];
        for (pattern, key, expected) in cases {
            assert_eq!(
                KeyPattern::new(pattern).matches(key),
                expected,
                "{pattern} ~ {key}"
            );
        }
        // Hostile input stays cheap: a long key of near-misses.
        let key = "a".repeat(20_000);
        assert!(!KeyPattern::new("*a*a*a*a*b").matches(&key));
    }

    /// The obvious recursive definition the greedy matcher must agree with.
    fn reference_match(pattern: &[char], key: &[char]) -> bool {
        match pattern.split_first() {
            None => key.is_empty(),
            Some(('*', rest)) => (0..=key.len()).any(|i| reference_match(rest, &key[i..])),
            Some((c, rest)) => key.first() == Some(c) && reference_match(rest, &key[1..]),
        }
    }

    proptest::proptest! {
        #[test]
        fn key_patterns_agree_with_the_reference(pattern in "[ab.* ]{0,8}", key in "[ab. ]{0,12}") {
            let expected = reference_match(
                &pattern.chars().collect::<Vec<_>>(),
                &key.chars().collect::<Vec<_>>(),
            );
            proptest::prop_assert_eq!(KeyPattern::new(&pattern).matches(&key), expected);
        }

        #[test]
        fn any_state_file_loads_or_is_refused(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("ingest-health.json");
            std::fs::write(&path, &bytes).unwrap();
            let _ = IngestHealth::with_capacity(4).load(&path);
        }
    }

    #[test]
    fn the_table_survives_a_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ingest-health.json");
        // No file yet: an empty table.
        let empty = IngestHealth::with_capacity(10).load(&path).unwrap();
        assert_eq!(
            empty.snapshot(at(0), None)["sources"]
                .as_array()
                .unwrap()
                .len(),
            0
        );

        let health = IngestHealth::with_capacity(10);
        let before = health.generation();
        health.record("syslog-udp 10.0.0.5", 3, 1, at(0));
        health.record("http alice", 2, 0, at(100));
        health.record("es-bulk 10.0.0.7", 4, 0, at(200));
        health.record_udp_dropped(5);
        health.record_rejected();
        assert!(health.generation() > before);
        health.save(&path).unwrap();
        assert!(!path.with_extension("tmp").exists());

        let loaded = IngestHealth::with_capacity(10).load(&path).unwrap();
        assert_eq!(
            loaded.snapshot(at(300), None),
            health.snapshot(at(300), None)
        );
        // A smaller table keeps the most recently heard sources.
        let small = IngestHealth::with_capacity(2).load(&path).unwrap();
        let report = small.snapshot(at(300), None);
        let keys: Vec<&str> = report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["source"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["es-bulk 10.0.0.7", "http alice"]);
        assert_eq!(report["udp_dropped_events"], 5);
    }

    #[test]
    fn bad_state_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ingest-health.json");
        for (bytes, expected) in [
            (&b"{\"version\": 1, \"sources\": ["[..], "not an ingest health table"),
            (&b"[1, 2, 3]"[..], "not an ingest health table"),
            (
                &br#"{"version": 9, "udp_dropped_events": 0, "rejected_requests": 0, "sources": []}"#[..],
                "unknown version 9",
            ),
            (
                &br#"{"version": 1, "udp_dropped_events": 0, "rejected_requests": 0, "sources": [{"source": "x", "events": 1, "parse_fallbacks": 0, "first_seen": "yesterday", "last_event": "2026-01-01T00:00:00Z"}]}"#[..],
                "not an ingest health table",
            ),
        ] {
            std::fs::write(&path, bytes).unwrap();
            let error = IngestHealth::default().load(&path).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
