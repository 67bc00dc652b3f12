//! The indicator set: deduplication across sources, expiry, withdrawal, selection for
//! export and sharing, and its file form (JSON lines; reading and writing the file is the
//! caller's job).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use hashbrown::HashTable;
use jiff::Timestamp;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use crate::model::{Indicator, IndicatorKind, PatternIndicator};
use crate::tlp::Tlp;

/// All indicators known, deduplicated by `(kind, value)`.
#[derive(Debug, Clone, Default)]
pub struct IndicatorSet {
    /// Shared with the matchers built from the set (a change copies one indicator, not all).
    indicators: Vec<Arc<Indicator>>,
    /// Positions in `indicators` by `(kind, value)` and by id: the keys are read from the
    /// indicators themselves, not copied (at 10 million indicators, copies cost GBs).
    by_key: HashTable<u32>,
    by_id: HashTable<u32>,
    patterns: BTreeMap<String, PatternIndicator>,
}

fn key_hash(kind: IndicatorKind, value: &str) -> u64 {
    let mut hasher = FxBuildHasher.build_hasher();
    kind.hash(&mut hasher);
    value.hash(&mut hasher);
    hasher.finish()
}

fn id_hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

/// What [`IndicatorSet::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A value not known before.
    New,
    /// Merged into the indicator already known for the value.
    Merged,
}

/// Which indicators an export or a share selects.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Most restrictive TLP included.
    pub max_tlp: Tlp,
    /// Lowest confidence included.
    pub min_confidence: u8,
    /// Kinds included; all when empty.
    pub kinds: Vec<IndicatorKind>,
    /// Only indicators seen (or changed) at most this long ago.
    pub max_age: Option<jiff::SignedDuration>,
    /// The time the selection is made at (expiry is relative to it).
    pub now: Timestamp,
}

impl Selection {
    /// Everything active at `now` up to `max_tlp`.
    pub fn up_to(max_tlp: Tlp, now: Timestamp) -> Selection {
        Selection {
            max_tlp,
            min_confidence: 0,
            kinds: Vec::new(),
            max_age: None,
            now,
        }
    }

    /// Whether `indicator` is selected.
    pub fn selects(&self, indicator: &Indicator) -> bool {
        indicator.is_active(self.now)
            && indicator.tlp <= self.max_tlp
            && indicator.confidence >= self.min_confidence
            && (self.kinds.is_empty() || self.kinds.contains(&indicator.kind))
            && self.max_age.is_none_or(|age| {
                let seen = indicator.last_seen.unwrap_or(indicator.modified);
                self.now.duration_since(seen) <= age
            })
    }

    /// Whether a pattern-only indicator is selected.
    pub fn selects_pattern(&self, pattern: &PatternIndicator) -> bool {
        pattern.tlp <= self.max_tlp
            && pattern.confidence >= self.min_confidence
            && self.kinds.is_empty()
            && pattern.valid_until.is_none_or(|until| self.now < until)
    }
}

/// One line of the set's file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Line {
    Indicator(Indicator),
    Pattern(PatternIndicator),
}

impl IndicatorSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Indicators, withdrawn and expired ones included.
    pub fn indicators(&self) -> &[Arc<Indicator>] {
        &self.indicators
    }

    /// Pattern-only indicators, by STIX id.
    pub fn patterns(&self) -> impl Iterator<Item = &PatternIndicator> {
        self.patterns.values()
    }

    /// Number of value indicators.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    /// Whether there is nothing.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty() && self.patterns.is_empty()
    }

    /// The indicator for a normalized value.
    pub fn get(&self, kind: IndicatorKind, value: &str) -> Option<&Indicator> {
        self.key_position(kind, value)
            .map(|idx| &*self.indicators[idx])
    }

    /// The indicator with a STIX id.
    pub fn get_by_id(&self, id: &str) -> Option<&Indicator> {
        self.id_position(id).map(|idx| &*self.indicators[idx])
    }

    fn key_position(&self, kind: IndicatorKind, value: &str) -> Option<usize> {
        self.by_key
            .find(key_hash(kind, value), |&i| {
                let known = &self.indicators[i as usize];
                known.kind == kind && known.value == value
            })
            .map(|&i| i as usize)
    }

    fn id_position(&self, id: &str) -> Option<usize> {
        self.by_id
            .find(id_hash(id), |&i| self.indicators[i as usize].id == id)
            .map(|&i| i as usize)
    }

    /// Indexes `indicators[idx]` (by id: it replaces an indicator with the same id).
    fn index(&mut self, idx: usize) {
        let indicators = &self.indicators;
        let position = u32::try_from(idx).expect("fewer than 4 billion indicators");
        let indicator = &indicators[idx];
        self.by_key
            .insert_unique(key_hash(indicator.kind, &indicator.value), position, |&i| {
                let known = &indicators[i as usize];
                key_hash(known.kind, &known.value)
            });
        let id = indicator.id.as_str();
        match self.by_id.entry(
            id_hash(id),
            |&i| indicators[i as usize].id == id,
            |&i| id_hash(&indicators[i as usize].id),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut entry) => *entry.get_mut() = position,
            hashbrown::hash_table::Entry::Vacant(entry) => {
                entry.insert(position);
            }
        }
    }

    /// Adds an indicator, merging it into the one known for the same value: sources and
    /// tags are united; confidence, last seen and validity take the larger; first seen the
    /// earlier; TLP the most restrictive (a value one source shared under AMBER is never
    /// shared wider because another source also has it). A withdrawn value stays withdrawn.
    pub fn insert(&mut self, indicator: Indicator) -> Inserted {
        let Some(idx) = self.key_position(indicator.kind, &indicator.value) else {
            self.indicators.push(Arc::new(indicator));
            self.index(self.indicators.len() - 1);
            return Inserted::New;
        };
        let known = Arc::make_mut(&mut self.indicators[idx]);
        for source in indicator.sources {
            if !known.sources.contains(&source) {
                known.sources.push(source);
            }
        }
        for tag in indicator.tags {
            if !known.tags.contains(&tag) {
                known.tags.push(tag);
            }
        }
        for technique in indicator.attack {
            if !known.attack.contains(&technique) {
                known.attack.push(technique);
            }
        }
        known.confidence = known.confidence.max(indicator.confidence);
        known.first_seen = min_opt(known.first_seen, indicator.first_seen);
        known.last_seen = known.last_seen.max(indicator.last_seen);
        known.valid_from = min_opt(known.valid_from, indicator.valid_from);
        // No end of validity on either side means none on the merged indicator.
        known.valid_until = match (known.valid_until, indicator.valid_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        known.tlp = known.tlp.max(indicator.tlp);
        known.pap = known.pap.max(indicator.pap);
        known.include_subdomains |= indicator.include_subdomains;
        known.sightings += indicator.sightings;
        if known.description.is_none() {
            known.description = indicator.description;
        }
        known.modified = known.modified.max(indicator.modified);
        Inserted::Merged
    }

    /// Adds a pattern-only indicator (a newer version replaces the older one).
    pub fn insert_pattern(&mut self, pattern: PatternIndicator) {
        match self.patterns.get(&pattern.id) {
            Some(known) if known.modified > pattern.modified => {}
            _ => {
                self.patterns.insert(pattern.id.clone(), pattern);
            }
        }
    }

    /// Withdraws a value as a false positive: it stays known (so feeds do not bring it
    /// back) but is never matched, exported or shared again. Returns whether it was known.
    pub fn withdraw(&mut self, kind: IndicatorKind, value: &str, now: Timestamp) -> bool {
        let Ok(value) = kind.normalize(value) else {
            return false;
        };
        match self.key_position(kind, &value) {
            Some(idx) => {
                let known = Arc::make_mut(&mut self.indicators[idx]);
                known.withdrawn = true;
                known.modified = now;
                true
            }
            None => false,
        }
    }

    /// `source` no longer reports the value (it revoked it): it leaves the sources, and the
    /// indicator is withdrawn when no source remains. Returns whether it was withdrawn.
    pub fn retract(
        &mut self,
        kind: IndicatorKind,
        value: &str,
        source: &str,
        now: Timestamp,
    ) -> bool {
        let Some(idx) = self.key_position(kind, value) else {
            return false;
        };
        if !self.indicators[idx].sources.iter().any(|s| s == source) {
            return false;
        }
        let known = Arc::make_mut(&mut self.indicators[idx]);
        known.sources.retain(|s| s != source);
        known.modified = now;
        if known.sources.is_empty() && !known.withdrawn {
            known.withdrawn = true;
            return true;
        }
        false
    }

    /// Records a sighting of the indicator with `id` at `when`.
    pub fn record_sighting(&mut self, id: &str, count: u64, when: Option<Timestamp>) -> bool {
        let Some(idx) = self.id_position(id) else {
            return false;
        };
        let indicator = Arc::make_mut(&mut self.indicators[idx]);
        indicator.sightings += count.max(1);
        indicator.last_seen = indicator.last_seen.max(when);
        true
    }

    /// Notes a sighting count reported by someone else (a STIX `sighting`): counts are
    /// cumulative there, so the larger one is kept rather than added (a new version of the
    /// same sighting must not count twice).
    pub fn note_reported_sighting(
        &mut self,
        id: &str,
        count: u64,
        when: Option<Timestamp>,
    ) -> bool {
        let Some(idx) = self.id_position(id) else {
            return false;
        };
        let indicator = Arc::make_mut(&mut self.indicators[idx]);
        indicator.sightings = indicator.sightings.max(count.max(1));
        indicator.last_seen = indicator.last_seen.max(when);
        true
    }

    /// Removes indicators whose validity ended before `now` (withdrawn ones are kept).
    /// Returns how many were removed.
    pub fn expire(&mut self, now: Timestamp) -> usize {
        let before = self.indicators.len() + self.patterns.len();
        self.indicators.retain(|indicator| {
            indicator.withdrawn || indicator.valid_until.is_none_or(|until| now < until)
        });
        self.patterns
            .retain(|_, pattern| pattern.valid_until.is_none_or(|until| now < until));
        self.reindex();
        before - self.indicators.len() - self.patterns.len()
    }

    fn reindex(&mut self) {
        self.by_key = HashTable::with_capacity(self.indicators.len());
        self.by_id = HashTable::with_capacity(self.indicators.len());
        for idx in 0..self.indicators.len() {
            self.index(idx);
        }
    }

    /// The indicators a selection picks.
    pub fn select<'a>(
        &'a self,
        selection: &'a Selection,
    ) -> impl Iterator<Item = &'a Indicator> + 'a {
        self.indicators
            .iter()
            .map(|indicator| &**indicator)
            .filter(move |indicator| selection.selects(indicator))
    }

    /// The pattern-only indicators a selection picks.
    pub fn select_patterns<'a>(
        &'a self,
        selection: &'a Selection,
    ) -> impl Iterator<Item = &'a PatternIndicator> + 'a {
        self.patterns
            .values()
            .filter(move |pattern| selection.selects_pattern(pattern))
    }

    /// The set as JSON lines (one record per line).
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for indicator in &self.indicators {
            out.push_str(
                &serde_json::to_string(&Line::Indicator((**indicator).clone()))
                    .expect("indicators serialize"),
            );
            out.push('\n');
        }
        for pattern in self.patterns.values() {
            out.push_str(
                &serde_json::to_string(&Line::Pattern(pattern.clone()))
                    .expect("patterns serialize"),
            );
            out.push('\n');
        }
        out
    }

    /// Reads a set written by [`IndicatorSet::to_jsonl`]. Bad lines are skipped and
    /// returned (line number and reason), never fatal.
    pub fn from_jsonl(text: &str) -> (IndicatorSet, Vec<(usize, String)>) {
        let mut set = IndicatorSet::new();
        let mut problems = Vec::new();
        for (idx, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(line) {
                Ok(Line::Indicator(indicator)) => {
                    set.insert(indicator);
                }
                Ok(Line::Pattern(pattern)) => set.insert_pattern(pattern),
                Err(error) => problems.push((idx + 1, error.to_string())),
            }
        }
        (set, problems)
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
