//! The indicator set: deduplication across sources, expiry, withdrawal, STIX versions,
//! selection for export and sharing, and its file form (JSON lines; the caller owns the
//! files, the set reads and writes through `std::io`).
//!
//! Memory: indicators are kept as compact blobs in a shared arena (see `compact.rs`),
//! with two hash tables of 32-bit positions (by value and by id) over them: about
//! 50–120 B per indicator instead of ~550 B for resident `Indicator` structs. Reads decode
//! on demand and return owned [`Indicator`]s.

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use jiff::Timestamp;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use crate::compact::{self, Arena, ArenaSnapshot, Head, IndicatorMeta, Locator};

mod file;
use crate::model::{Indicator, IndicatorKind, PatternIndicator, derived_id};
use crate::tlp::Tlp;
use file::Journal;

/// A removed position.
const DEAD: Locator = Locator::MAX;

/// All indicators known, deduplicated by `(kind, value)`.
#[derive(Debug, Clone, Default)]
pub struct IndicatorSet {
    arena: Arena,
    /// Per position: where its blob is, or [`DEAD`].
    locators: Vec<Locator>,
    by_key: HashTable<u32>,
    by_id: HashTable<u32>,
    n_live: usize,
    patterns: BTreeMap<String, PatternIndicator>,
    /// Values of multi-value STIX indicators, by STIX id (single-value ones carry the
    /// STIX id as their own id), so a new version can retire the old values.
    versions: BTreeMap<String, StixVersion>,
    journal: Option<Journal>,
}

/// The values one version of a STIX indicator carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StixVersion {
    /// The STIX id.
    pub id: String,
    /// The version (`modified`).
    pub modified: Timestamp,
    /// Who reported it.
    pub source: String,
    /// Kind and normalized value of each matchable value.
    pub values: Vec<(IndicatorKind, String)>,
}

/// How a STIX indicator version compares with the one known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionOutcome {
    /// Not known before, or the same version again: its values are added as usual.
    Current,
    /// Newer than the one known: the old values it no longer carries were retracted for
    /// its source (withdrawn when no other source reports them); how many.
    Replaced(usize),
    /// Older than the one known: its values must not be added.
    Outdated,
}

fn key_hash(key: &[u8]) -> u64 {
    FxBuildHasher.hash_one(key)
}

/// The id table's hash. Ids are not kept beside the records (at 10 million, 40 MB):
/// growing the table recomputes them, a SHA-1 for derived ids, amortized over inserts.
fn id_hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

fn blob_id_hash(blob: &[u8]) -> u64 {
    id_hash(&compact::id_of(blob))
}

/// Where an indicator is in its set. Stable while the set is unchanged and across
/// updates of the indicator (a merge, a sighting, a withdrawal keep it); expiry may
/// renumber, so positions are used under the same read of the set they came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u32);

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

    /// As [`Selection::selects`], on an undecoded indicator.
    pub fn selects_meta(&self, meta: &IndicatorMeta<'_>) -> bool {
        meta.is_active(self.now)
            && meta.tlp <= self.max_tlp
            && meta.confidence >= self.min_confidence
            && (self.kinds.is_empty() || self.kinds.contains(&meta.kind))
            && self.max_age.is_none_or(|age| {
                let seen = meta.last_seen.unwrap_or(meta.modified);
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

impl IndicatorSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records what changes from now on, for [`IndicatorSet::write_changes`].
    pub fn track_changes(&mut self) {
        self.journal.get_or_insert_with(Journal::default);
    }

    /// Indicators, withdrawn and expired ones included, decoded one by one.
    pub fn indicators(&self) -> impl Iterator<Item = Indicator> + '_ {
        self.locators
            .iter()
            .filter(|&&at| at != DEAD)
            .map(|&at| compact::decode(self.arena.get(at)))
    }

    /// Live indicators' fixed fields, sources and tags, in position order, read from the
    /// compact records without decoding them: listings filter and order on these and
    /// decode (with [`IndicatorSet::at`]) only what they return.
    pub fn metas(&self) -> impl Iterator<Item = IndicatorMeta<'_>> {
        self.metas_from(Position(0))
    }

    /// As [`IndicatorSet::metas`], from `start` on: a reader that releases the set between
    /// batches resumes after the last position it read.
    pub fn metas_from(&self, start: Position) -> impl Iterator<Item = IndicatorMeta<'_>> {
        let start = (start.0 as usize).min(self.locators.len());
        self.locators[start..]
            .iter()
            .enumerate()
            .filter(|&(_, &at)| at != DEAD)
            .map(move |(pos, &at)| {
                compact::meta(self.arena.get(at), Position((start + pos) as u32))
            })
    }

    /// The fixed fields of the indicator at `position` (`None` when it is gone).
    pub fn meta_at(&self, position: Position) -> Option<IndicatorMeta<'_>> {
        self.live_locator(position)
            .map(|at| compact::meta(self.arena.get(at), position))
    }

    /// The indicator at `position`, decoded (`None` when it is gone).
    pub fn at(&self, position: Position) -> Option<Indicator> {
        self.live_locator(position)
            .map(|at| compact::decode(self.arena.get(at)))
    }

    /// The STIX id of the indicator at `position`, without decoding the rest.
    pub fn id_at(&self, position: Position) -> Option<String> {
        self.live_locator(position)
            .map(|at| compact::id_of(self.arena.get(at)))
    }

    fn live_locator(&self, position: Position) -> Option<Locator> {
        self.locators
            .get(position.0 as usize)
            .copied()
            .filter(|&at| at != DEAD)
    }

    /// Where the indicator with a STIX id is.
    pub fn position_of_id(&self, id: &str) -> Option<Position> {
        self.id_position(id).map(|pos| Position(pos as u32))
    }

    /// Pattern-only indicators, by STIX id.
    pub fn patterns(&self) -> impl Iterator<Item = &PatternIndicator> {
        self.patterns.values()
    }

    /// Number of value indicators.
    pub fn len(&self) -> usize {
        self.n_live
    }

    /// Whether there is nothing.
    pub fn is_empty(&self) -> bool {
        self.n_live == 0 && self.patterns.is_empty()
    }

    /// Bytes of the compact records (for reports of memory use).
    pub fn arena_bytes(&self) -> usize {
        self.arena.bytes()
    }

    /// The indicator for a normalized value.
    pub fn get(&self, kind: IndicatorKind, value: &str) -> Option<Indicator> {
        self.key_position(kind, value)
            .map(|pos| compact::decode(self.blob(pos)))
    }

    /// The indicator with a STIX id.
    pub fn get_by_id(&self, id: &str) -> Option<Indicator> {
        self.id_position(id)
            .map(|pos| compact::decode(self.blob(pos)))
    }

    fn blob(&self, pos: usize) -> &[u8] {
        self.arena.get(self.locators[pos])
    }

    fn key_position(&self, kind: IndicatorKind, value: &str) -> Option<usize> {
        let mut key = Vec::with_capacity(value.len() + 4);
        compact::encode_value(kind, value, &mut key);
        self.key_position_of(&key)
    }

    fn key_position_of(&self, key: &[u8]) -> Option<usize> {
        self.by_key
            .find(key_hash(key), |&p| {
                compact::head(self.blob(p as usize)).key == key
            })
            .map(|&p| p as usize)
    }

    fn id_position(&self, id: &str) -> Option<usize> {
        self.by_id
            .find(id_hash(id), |&p| {
                compact::id_of(self.blob(p as usize)) == id
            })
            .map(|&p| p as usize)
    }

    /// Live positions with their blob's head, for the matcher.
    pub(crate) fn heads(&self) -> impl Iterator<Item = (Locator, Head<'_>)> {
        self.locators
            .iter()
            .filter(|&&at| at != DEAD)
            .map(|&at| (at, compact::head(self.arena.get(at))))
    }

    pub(crate) fn arena_snapshot(&self) -> ArenaSnapshot {
        self.arena.snapshot()
    }

    fn note(&mut self, pos: usize) {
        if let Some(journal) = &mut self.journal {
            journal.positions.push(pos as u32);
        }
    }

    /// Adds a new indicator at a new position.
    fn push_new(&mut self, indicator: &Indicator, buf: &mut Vec<u8>) {
        compact::encode(indicator, buf);
        let at = self.arena.push(buf);
        let pos = u32::try_from(self.locators.len()).expect("fewer than 4 billion indicators");
        self.locators.push(at);
        self.n_live += 1;
        let (arena, locators) = (&self.arena, &self.locators);
        let key = compact::head(arena.get(at)).key;
        self.by_key.insert_unique(key_hash(key), pos, |&p| {
            key_hash(compact::head(arena.get(locators[p as usize])).key)
        });
        self.index_id(pos as usize, &indicator.id);
        self.note(pos as usize);
    }

    /// Points the id index at `pos` for its id (replacing an indicator with the same id).
    fn index_id(&mut self, pos: usize, id: &str) {
        let (arena, locators) = (&self.arena, &self.locators);
        let entry = self.by_id.entry(
            id_hash(id),
            |&p| compact::id_of(arena.get(locators[p as usize])) == id,
            |&p| blob_id_hash(arena.get(locators[p as usize])),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(mut entry) => *entry.get_mut() = pos as u32,
            hashbrown::hash_table::Entry::Vacant(entry) => {
                entry.insert(pos as u32);
            }
        }
    }

    /// Drops `pos` from the id index (`id` is its id).
    fn unindex_id(&mut self, pos: usize, id: &str) {
        if let Ok(entry) = self.by_id.find_entry(id_hash(id), |&p| p as usize == pos) {
            entry.remove();
        }
    }

    /// Rewrites the indicator at `pos` after `change`.
    fn update(&mut self, pos: usize, change: impl FnOnce(&mut Indicator)) {
        let mut indicator = compact::decode(self.blob(pos));
        let old_id = indicator.id.clone();
        change(&mut indicator);
        debug_assert_eq!(
            compact::head(self.blob(pos)).key,
            {
                let mut key = Vec::new();
                compact::encode_value(indicator.kind, &indicator.value, &mut key);
                key
            }
            .as_slice(),
            "an update never changes the value"
        );
        let mut buf = Vec::new();
        compact::encode(&indicator, &mut buf);
        self.arena.release(self.locators[pos]);
        self.locators[pos] = self.arena.push(&buf);
        if indicator.id != old_id {
            self.unindex_id(pos, &old_id);
            self.index_id(pos, &indicator.id);
        }
        self.note(pos);
    }

    /// Adds an indicator, merging it into the one known for the same value: sources and
    /// tags are united; confidence, last seen and validity take the larger; first seen the
    /// earlier; TLP the most restrictive (a value one source shared under AMBER is never
    /// shared wider because another source also has it). A value withdrawn by an analyst
    /// stays withdrawn; one that all its sources revoked comes back when a source reports
    /// it again.
    pub fn insert(&mut self, indicator: Indicator) -> Inserted {
        let Some(pos) = self.key_position(indicator.kind, &indicator.value) else {
            self.push_new(&indicator, &mut Vec::new());
            return Inserted::New;
        };
        self.update(pos, |known| merge(known, indicator));
        Inserted::Merged
    }

    /// Puts an indicator exactly as given (replacing the one known for its value): the
    /// change log's replay.
    fn put(&mut self, indicator: Indicator) {
        match self.key_position(indicator.kind, &indicator.value) {
            Some(pos) => self.update(pos, |known| *known = indicator),
            None => self.push_new(&indicator, &mut Vec::new()),
        }
    }

    /// Adds a pattern-only indicator (a newer version replaces the older one).
    pub fn insert_pattern(&mut self, pattern: PatternIndicator) {
        match self.patterns.get(&pattern.id) {
            Some(known) if known.modified > pattern.modified => {}
            _ => {
                if let Some(journal) = &mut self.journal {
                    journal.patterns.insert(pattern.id.clone());
                }
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
            Some(pos) => {
                self.update(pos, |known| {
                    known.withdrawn = true;
                    known.modified = now;
                });
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
        let Some(pos) = self.key_position(kind, value) else {
            return false;
        };
        let known = compact::decode(self.blob(pos));
        if !known.sources.iter().any(|s| s == source) {
            return false;
        }
        let withdraws = !known.withdrawn && known.sources.iter().all(|s| s == source);
        self.update(pos, |known| {
            known.sources.retain(|s| s != source);
            known.modified = now;
            known.withdrawn |= known.sources.is_empty();
        });
        withdraws
    }

    /// Applies a version of a STIX indicator before its values are inserted: a newer
    /// version retires the values of the older one that it no longer carries (retracted
    /// for its source, so no longer matched or exported unless another source reports
    /// them); an older one is reported so its values are skipped. Call
    /// [`IndicatorSet::settle_stix_version`] once its values are inserted.
    pub fn apply_stix_version(&mut self, version: &StixVersion, now: Timestamp) -> VersionOutcome {
        let (known_modified, old_values) = match self.versions.get(&version.id) {
            Some(known) => (known.modified, known.values.clone()),
            None => match self.get_by_id(&version.id) {
                Some(known) => (known.modified, vec![(known.kind, known.value)]),
                None => return VersionOutcome::Current,
            },
        };
        if version.modified < known_modified {
            return VersionOutcome::Outdated;
        }
        let mut replaced = 0;
        if version.modified > known_modified {
            for (kind, value) in old_values {
                if version.values.contains(&(kind, value.clone())) {
                    continue;
                }
                let Some(pos) = self.key_position(kind, &value) else {
                    continue;
                };
                let known = compact::decode(self.blob(pos));
                if !known.sources.contains(&version.source) {
                    continue;
                }
                // It is no longer that STIX object: it keeps a value-derived id.
                let derived = derived_id("indicator", &format!("{}:{}", kind.as_str(), value));
                self.update(pos, |known| {
                    known.sources.retain(|s| s != &version.source);
                    known.withdrawn |= known.sources.is_empty();
                    known.modified = now.max(version.modified);
                    if known.id == version.id {
                        known.id = derived;
                    }
                });
                replaced += 1;
            }
        }
        if replaced > 0 {
            VersionOutcome::Replaced(replaced)
        } else {
            VersionOutcome::Current
        }
    }

    /// Remembers which values a version carries, once they are inserted: a single value
    /// that carries the STIX id is found by id; anything else is kept beside the set.
    pub fn settle_stix_version(&mut self, version: &StixVersion) {
        let found_by_id = match version.values.as_slice() {
            [(kind, value)] => self
                .get_by_id(&version.id)
                .is_some_and(|known| known.kind == *kind && &known.value == value),
            _ => false,
        };
        let changed = if found_by_id {
            self.versions.remove(&version.id).is_some()
        } else if self.versions.get(&version.id) != Some(version) {
            self.versions.insert(version.id.clone(), version.clone());
            true
        } else {
            false
        };
        if changed && let Some(journal) = &mut self.journal {
            journal.versions.insert(version.id.clone());
        }
    }

    /// Records a sighting of the indicator with `id` at `when`.
    pub fn record_sighting(&mut self, id: &str, count: u64, when: Option<Timestamp>) -> bool {
        let Some(pos) = self.id_position(id) else {
            return false;
        };
        self.update(pos, |indicator| {
            indicator.sightings = indicator.sightings.saturating_add(count.max(1));
            indicator.last_seen = indicator.last_seen.max(when);
        });
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
        let Some(pos) = self.id_position(id) else {
            return false;
        };
        self.update(pos, |indicator| {
            indicator.sightings = indicator.sightings.max(count.max(1));
            indicator.last_seen = indicator.last_seen.max(when);
        });
        true
    }

    /// Removes indicators whose validity ended before `now` (withdrawn ones are kept).
    /// Returns how many were removed.
    pub fn expire(&mut self, now: Timestamp) -> usize {
        let mut removed = 0;
        for pos in 0..self.locators.len() {
            let at = self.locators[pos];
            if at == DEAD {
                continue;
            }
            let head = compact::head(self.arena.get(at));
            if head.withdrawn || head.valid_until.is_none_or(|until| now < until) {
                continue;
            }
            let indicator = compact::decode(self.arena.get(at));
            self.remove_at(pos, indicator.kind, indicator.value);
            removed += 1;
        }
        let before = self.patterns.len();
        let journal = &mut self.journal;
        self.patterns.retain(|id, pattern| {
            let keep = pattern.valid_until.is_none_or(|until| now < until);
            if !keep && let Some(journal) = journal {
                journal.patterns.insert(id.clone());
            }
            keep
        });
        removed += before - self.patterns.len();
        if self.journal.is_none() {
            self.compact_memory();
        }
        removed
    }

    /// Forgets the record at `pos` (journaled as removed).
    fn remove_at(&mut self, pos: usize, kind: IndicatorKind, value: String) {
        let at = self.locators[pos];
        let hash = key_hash(compact::head(self.arena.get(at)).key);
        if let Ok(entry) = self.by_key.find_entry(hash, |&p| p as usize == pos) {
            entry.remove();
        }
        let id = compact::id_of(self.arena.get(at));
        self.unindex_id(pos, &id);
        self.arena.release(at);
        self.locators[pos] = DEAD;
        self.n_live -= 1;
        if let Some(journal) = &mut self.journal {
            journal.removed.push((kind, value));
        }
    }

    /// Rewrites the arena and positions when much of them is garbage (updated or removed
    /// records). Pending changes keep their positions, so this waits for them to be
    /// written.
    fn compact_memory(&mut self) {
        if self
            .journal
            .as_ref()
            .is_some_and(|j| !j.positions.is_empty() || !j.removed.is_empty())
        {
            return;
        }
        let dead = self.locators.len() - self.n_live;
        if !self.arena.mostly_garbage() && dead <= self.n_live / 4 {
            return;
        }
        let old = std::mem::take(self);
        self.patterns = old.patterns;
        self.versions = old.versions;
        self.journal = old.journal;
        self.reserve(old.n_live);
        let mut buf = Vec::new();
        for &at in &old.locators {
            if at != DEAD {
                buf.clear();
                buf.extend_from_slice(old.arena.get(at));
                let new_at = self.arena.push(&buf);
                let new_pos = self.locators.len();
                self.locators.push(new_at);
                self.n_live += 1;
                let (arena, locators) = (&self.arena, &self.locators);
                self.by_key.insert_unique(
                    key_hash(compact::head(arena.get(new_at)).key),
                    new_pos as u32,
                    |&p| key_hash(compact::head(arena.get(locators[p as usize])).key),
                );
                self.by_id
                    .insert_unique(blob_id_hash(arena.get(new_at)), new_pos as u32, |&p| {
                        blob_id_hash(arena.get(locators[p as usize]))
                    });
            }
        }
    }

    fn reserve(&mut self, n: usize) {
        self.locators.reserve(n);
        let (arena, locators) = (&self.arena, &self.locators);
        self.by_key.reserve(n, |&p| {
            key_hash(compact::head(arena.get(locators[p as usize])).key)
        });
        self.by_id
            .reserve(n, |&p| blob_id_hash(arena.get(locators[p as usize])));
    }

    /// The earliest `valid_from` or `valid_until` after `now` of an indicator not
    /// withdrawn: when a matcher built now stops being right.
    pub fn next_validity_boundary(&self, now: Timestamp) -> Option<Timestamp> {
        self.heads()
            .filter(|(_, head)| !head.withdrawn)
            .flat_map(|(_, head)| [head.valid_from, head.valid_until])
            .flatten()
            .filter(|ts| *ts > now)
            .min()
    }

    /// The indicators a selection picks.
    pub fn select<'a>(&'a self, selection: &'a Selection) -> impl Iterator<Item = Indicator> + 'a {
        self.heads()
            // Cheap checks on the undecoded record first.
            .filter(move |(_, head)| {
                head.is_active(selection.now)
                    && (selection.kinds.is_empty() || selection.kinds.contains(&head.kind))
            })
            .map(|(at, _)| compact::decode(self.arena.get(at)))
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
}

/// Merges a new report of a value into the known indicator (see [`IndicatorSet::insert`]).
fn merge(known: &mut Indicator, indicator: Indicator) {
    // Revoked by every source (not withdrawn by an analyst: that keeps the sources).
    if known.withdrawn && known.sources.is_empty() && !indicator.withdrawn {
        known.withdrawn = false;
    }
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
    known.sightings = known.sightings.saturating_add(indicator.sightings);
    if known.description.is_none() {
        known.description = indicator.description;
    }
    known.modified = known.modified.max(indicator.modified);
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
