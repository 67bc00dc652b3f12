//! Where threat intelligence lives: the [`intel::IndicatorSet`] in
//! `DATA_DIR/intel/indicators.jsonl` (written atomically after every change), the
//! warninglists that suppress known-benign values, and the [`intel::SharedMatcher`] the
//! live pipeline matches with, rebuilt after every change.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let (mut store, problems) = intel_store::IntelStore::open(dir.path(), intel::Warninglists::new()).unwrap();
//! assert!(problems.is_empty());
//! let options = intel::ImportOptions::new("manual", intel::Tlp::Green);
//! let report = intel::import::import_any(b"198.51.100.7\n", None, &options).unwrap();
//! let summary = store.apply(report, jiff::Timestamp::now()).unwrap();
//! assert_eq!(summary.new, 1);
//! assert!(store.matcher().current().lookup_ip("198.51.100.7".parse().unwrap()).is_some());
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};

use intel::{
    ImportReport, IndicatorKind, IndicatorSet, Inserted, Matcher, SharedMatcher, Warninglists,
};
use jiff::Timestamp;
use serde::Serialize;

/// The indicator file inside the intel directory.
pub const INDICATORS_FILE: &str = "indicators.jsonl";

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What applying an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    /// Values not known before.
    pub new: usize,
    /// Values merged into known ones.
    pub merged: usize,
    /// Pattern-only indicators kept.
    pub patterns: usize,
    /// Sightings recorded on known indicators.
    pub sightings: usize,
    /// Values withdrawn because their last source revoked them.
    pub withdrawn: usize,
    /// Values dropped because a warninglist says they are benign: value and list.
    pub suppressed: Vec<(String, String)>,
    /// Entries the feed had that were refused: where and why.
    pub problems: Vec<(String, String)>,
    /// Entries ignored (not for detection), by reason.
    pub ignored: std::collections::BTreeMap<String, usize>,
    /// Ids of the new indicators (for retro-matching over stored events).
    #[serde(skip)]
    pub new_ids: Vec<String>,
}

/// The indicator set on disk and the matcher built from it.
pub struct IntelStore {
    path: PathBuf,
    set: IndicatorSet,
    warninglists: Warninglists,
    matcher: SharedMatcher,
    /// The next time an indicator starts or stops being valid: the matcher is rebuilt then.
    next_boundary: Option<Timestamp>,
}

impl IntelStore {
    /// Opens (creating) `dir` and reads the set. Unreadable lines are skipped and returned
    /// (line number and reason): a damaged line costs that indicator, never the start.
    pub fn open(
        dir: &Path,
        warninglists: Warninglists,
    ) -> Result<(IntelStore, Vec<(usize, String)>), StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "creating",
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(INDICATORS_FILE);
        let (set, problems) = match std::fs::read_to_string(&path) {
            Ok(text) => IndicatorSet::from_jsonl(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                (IndicatorSet::new(), Vec::new())
            }
            Err(source) => {
                return Err(StoreError::Io {
                    action: "reading",
                    path,
                    source,
                });
            }
        };
        let now = Timestamp::now();
        let matcher = SharedMatcher::new(Matcher::new(&set, now));
        let next_boundary = next_boundary(&set, now);
        Ok((
            IntelStore {
                path,
                set,
                warninglists,
                matcher,
                next_boundary,
            },
            problems,
        ))
    }

    /// The indicators.
    pub fn set(&self) -> &IndicatorSet {
        &self.set
    }

    /// The matcher the pipeline uses; rebuilt after every change.
    pub fn matcher(&self) -> SharedMatcher {
        self.matcher.clone()
    }

    /// Adds what an import found (after warninglist suppression), saves, and rebuilds
    /// the matcher.
    pub fn apply(
        &mut self,
        report: ImportReport,
        now: Timestamp,
    ) -> Result<ApplySummary, StoreError> {
        let mut summary = ApplySummary {
            problems: report
                .problems
                .into_iter()
                .map(|p| (p.entry, p.reason))
                .collect(),
            ignored: report.ignored,
            ..ApplySummary::default()
        };
        let mut indicators = report.indicators;
        summary.suppressed = self
            .warninglists
            .suppress(&mut indicators)
            .into_iter()
            .map(|(indicator, list)| (indicator.value, list))
            .collect();
        for indicator in indicators {
            let (kind, value) = (indicator.kind, indicator.value.clone());
            match self.set.insert(indicator) {
                Inserted::New => {
                    summary.new += 1;
                    if let Some(known) = self.set.get(kind, &value) {
                        summary.new_ids.push(known.id.clone());
                    }
                }
                Inserted::Merged => summary.merged += 1,
            }
        }
        for (kind, value, source) in &report.revoked {
            if self.set.retract(*kind, value, source, now) {
                summary.withdrawn += 1;
            }
        }
        summary.patterns = report.patterns.len();
        for pattern in report.patterns {
            self.set.insert_pattern(pattern);
        }
        for sighting in &report.sightings {
            if let Some(of) = &sighting.sighting_of
                && self.set.note_reported_sighting(
                    of,
                    sighting.count,
                    sighting.last_seen.or(sighting.first_seen),
                )
            {
                summary.sightings += 1;
            }
        }
        self.commit(now)?;
        Ok(summary)
    }

    /// Adds sightings seen by live matching (id, count, first, last). Kept in memory and
    /// saved with the next change: they are counts, not evidence (the alerts are).
    pub fn record_sightings(&mut self, sightings: &[(String, u64, Timestamp, Timestamp)]) -> usize {
        sightings
            .iter()
            .filter(|(id, count, _, last)| self.set.record_sighting(id, *count, Some(*last)))
            .count()
    }

    /// Withdraws a false positive everywhere (matching, exports, feeds, TAXII) from now on.
    pub fn withdraw(
        &mut self,
        kind: IndicatorKind,
        value: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let known = self.set.withdraw(kind, value, now);
        if known {
            self.commit(now)?;
        }
        Ok(known)
    }

    /// Drops expired indicators; returns how many.
    pub fn expire(&mut self, now: Timestamp) -> Result<usize, StoreError> {
        let n = self.set.expire(now);
        if n > 0 {
            self.commit(now)?;
        }
        Ok(n)
    }

    /// Time passing: drops expired indicators and rebuilds the matcher when an indicator
    /// became valid or expired since the last build. Cheap when nothing changed; call it
    /// every minute or so. Returns how many expired.
    pub fn tick(&mut self, now: Timestamp) -> Result<usize, StoreError> {
        if self.next_boundary.is_none_or(|boundary| now < boundary) {
            return Ok(0);
        }
        let n = self.set.expire(now);
        self.commit(now)?;
        Ok(n)
    }

    fn commit(&mut self, now: Timestamp) -> Result<(), StoreError> {
        self.save()?;
        self.matcher.replace(Matcher::new(&self.set, now));
        self.next_boundary = next_boundary(&self.set, now);
        Ok(())
    }

    /// Writes the set: a temporary file, fsync, then rename over the old one, so a crash
    /// leaves the old or the new set, never half of one.
    pub fn save(&self) -> Result<(), StoreError> {
        let tmp = self.path.with_extension("jsonl.tmp");
        let io = |action, source| StoreError::Io {
            action,
            path: tmp.clone(),
            source,
        };
        let mut file = std::fs::File::create(&tmp).map_err(|e| io("creating", e))?;
        file.write_all(self.set.to_jsonl().as_bytes())
            .map_err(|e| io("writing", e))?;
        file.sync_all().map_err(|e| io("syncing", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|source| StoreError::Io {
            action: "replacing",
            path: self.path.clone(),
            source,
        })
    }
}

/// The earliest `valid_from` or `valid_until` after `now`.
fn next_boundary(set: &IndicatorSet, now: Timestamp) -> Option<Timestamp> {
    set.indicators()
        .iter()
        .filter(|indicator| !indicator.withdrawn)
        .flat_map(|indicator| [indicator.valid_from, indicator.valid_until])
        .flatten()
        .filter(|ts| *ts > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_survive_a_reopen_and_withdrawal_sticks() {
        let dir = tempfile::tempdir().unwrap();
        let now = Timestamp::now();
        let options = intel::ImportOptions::new("manual", intel::Tlp::Green);
        {
            let (mut store, _) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
            let report =
                intel::import::import_any(b"198.51.100.7\nevil.example\n", None, &options).unwrap();
            let summary = store.apply(report, now).unwrap();
            assert_eq!((summary.new, summary.merged), (2, 0));
            assert!(
                store
                    .withdraw(IndicatorKind::Domain, "evil.example", now)
                    .unwrap()
            );
            assert!(
                store
                    .matcher()
                    .current()
                    .lookup_domain("evil.example")
                    .is_none()
            );
        }
        let (mut store, problems) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
        assert!(problems.is_empty());
        assert_eq!(store.set().len(), 2);
        assert!(
            store
                .matcher()
                .current()
                .lookup_ip("198.51.100.7".parse().unwrap())
                .is_some()
        );
        // The feed sends the withdrawn value again: it stays withdrawn.
        let report = intel::import::import_any(b"evil.example\n", None, &options).unwrap();
        let summary = store.apply(report, now).unwrap();
        assert_eq!(summary.merged, 1);
        assert!(summary.new_ids.is_empty());
        assert!(
            store
                .matcher()
                .current()
                .lookup_domain("evil.example")
                .is_none()
        );
    }

    #[test]
    fn indicators_start_and_stop_matching_on_time() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
        let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let hour = jiff::SignedDuration::from_hours(1);
        let mut later =
            intel::Indicator::new(IndicatorKind::Ip, "198.51.100.1", "t", intel::Tlp::Clear)
                .unwrap();
        later.valid_from = Some(now + hour);
        let mut ending =
            intel::Indicator::new(IndicatorKind::Ip, "198.51.100.2", "t", intel::Tlp::Clear)
                .unwrap();
        ending.valid_until = Some(now + hour * 2);
        let report = intel::ImportReport {
            indicators: vec![later, ending],
            ..Default::default()
        };
        store.apply(report, now).unwrap();
        let lookup = |store: &IntelStore, ip: &str| {
            store
                .matcher()
                .current()
                .lookup_ip(ip.parse().unwrap())
                .is_some()
        };
        assert!(!lookup(&store, "198.51.100.1") && lookup(&store, "198.51.100.2"));
        assert_eq!(store.tick(now + hour / 2).unwrap(), 0);
        assert!(!lookup(&store, "198.51.100.1"), "not yet valid");
        store.tick(now + hour).unwrap();
        assert!(lookup(&store, "198.51.100.1") && lookup(&store, "198.51.100.2"));
        assert_eq!(store.tick(now + hour * 2).unwrap(), 1);
        assert!(!lookup(&store, "198.51.100.2"), "expired");
        assert_eq!(store.set().len(), 1);
    }
}
