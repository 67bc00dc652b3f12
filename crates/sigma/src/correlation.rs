//! Sigma correlation rules, evaluated as a pure, deterministic state machine.
//!
//! [`CompiledCorrelation::compile`] turns a loaded [`CorrelationRule`] into what the
//! [`Correlator`] evaluates. The caller runs the detection rules and, for every base rule
//! that matched, calls [`Correlator::observe`] with the rule's [`RuleRef`], the event and
//! the event's own timestamp. No I/O, no clock: time is only ever the events' time.
//!
//! Semantics (the decisions a SIEM would make, written down):
//!
//! - **Window**: sliding, `timespan` seconds, **inclusive** at both ends: two matches
//!   exactly `timespan` apart are in the same window; one nanosecond more and they are not.
//!   The window of a group ends at the latest timestamp that group has seen.
//! - **Firing**: the condition is evaluated after each observed match. A hit fires the
//!   first time it holds, then that group's state is **reset**, so a burst of N×threshold
//!   events gives N hits, not one hit per event past the threshold.
//! - **Conditions with an upper bound** (`lt`, `lte`, `eq`, `neq`, alone or with `gt`/`gte`)
//!   can only be decided once a window is over. Such a correlation counts in fixed windows:
//!   a group's window opens at its first match and covers `timespan`; it is decided when a
//!   later match of the correlation (any group) shows that its end has passed, and fires if
//!   the count satisfies every bound. A window whose end no later match has passed yet is
//!   not decided (time comes from events, never from the clock).
//! - **value_sum / value_avg / value_percentile / value_median**: the sum, average or a
//!   percentile of a numeric field (`condition.field`) over a group's fixed window, decided
//!   like upper bounds (these can fall as well as rise); the hit's `count` is that measure,
//!   rounded. Non-numeric values are not counted. The percentile is `condition.percentile`
//!   (0–100, default 50; the median is 50), by linear interpolation between the closest
//!   ranks (rank `p/100 × (n−1)` of the sorted values, as numpy's and Excel's
//!   `PERCENTILE.INC`). The specification's one example compares a percentile of `Image`,
//!   a text field: such a rule compiles but never fires (its values are not numbers). A
//!   percentile keeps the group's values, at most [`Limits::max_entries`] (the oldest are
//!   dropped and counted).
//! - **Deciding by the clock**: a bounded window is otherwise decided only when a later
//!   match shows it is over. [`Correlator::advance`] decides, without an event, the windows
//!   that ended before a given time (the live detector calls it on its idle tick with the
//!   wall clock). It does not move the watermark: a later match inside a decided window
//!   opens a new window rather than being dropped.
//! - **temporal**: the count is the number of distinct referenced rules that matched in
//!   the window. No condition (the parser's default `gte: 1`) means *all* rules, as the
//!   specification says. **temporal_ordered** needs all rules, in the listed order: the
//!   order is by timestamp, then by arrival for equal timestamps.
//! - **group-by**: an event lacking a group-by field (or the `value_count` field) is not
//!   counted, as `stats … by` drops null groups.
//! - **Out-of-order events**: each correlation keeps a watermark, the latest timestamp it
//!   has seen. A match older than `watermark - timespan` is late: dropped and counted in
//!   [`CorrelatorStats::late`]. A match older than the watermark but within the timespan is
//!   counted in its window as usual.
//! - **Bounded memory**: at most [`Limits::max_groups`] groups per correlation (the group
//!   that would expire first is evicted and counted: the one with the oldest last match,
//!   or for upper bounds the one whose fixed window opened first) and [`Limits::max_entries`]
//!   timestamps/values per group (the oldest are dropped; an `event_count` threshold above
//!   that cap can never be reached and is reported by [`Correlator::warnings`]). State
//!   older than the timespan is pruned as time advances.
//! - **Chains**: a correlation may reference another correlation by id or name; its hits
//!   are observed again (with the triggering event), up to [`MAX_CHAIN_DEPTH`] levels.
//!
//! [`Correlator::snapshot`] and [`Correlator::restore`] give the whole state as a
//! serializable value, so it can persist across restarts.

use std::collections::{BTreeMap, VecDeque};

use event::{Fields, Value};
use jiff::{SignedDuration, Timestamp};
use rsigma_parser::{ConditionOperator, CorrelationCondition, CorrelationType, WindowMode};
use serde::{Deserialize, Serialize};

use crate::mapping::Mappings;
use crate::rule::{CorrelationKind, CorrelationRule, Level, Logsource};

#[cfg(test)]
mod tests;

/// How deep correlation chains are followed from one base match.
pub const MAX_CHAIN_DEPTH: usize = 8;

/// Why a correlation rule cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorrelationError {
    #[error("unsupported correlation: {0}")]
    Unsupported(String),
    #[error("invalid correlation: {0}")]
    Invalid(String),
}

/// A lower bound on the count: `gte: n` (`gt: n` is `gte: n + 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Threshold {
    /// At least this many.
    AtLeast(u64),
    /// Every referenced rule (temporal types without a condition).
    AllRules,
}

/// A comparison of a count in a correlation condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bound {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl Bound {
    fn holds(self, count: f64, value: u64) -> bool {
        let value = value as f64;
        match self {
            Bound::Gt => count > value,
            Bound::Gte => count >= value,
            Bound::Lt => count < value,
            Bound::Lte => count <= value,
            Bound::Eq => count == value,
            Bound::Neq => count != value,
        }
    }
}

/// A correlation rule ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledCorrelation {
    pub id: Option<String>,
    pub name: Option<String>,
    pub title: String,
    pub level: Option<Level>,
    pub kind: CorrelationKind,
    /// Referenced rules, by id or name, as written.
    pub rules: Vec<String>,
    /// Group-by fields (Sigma field names or aliases).
    pub group_by: Vec<String>,
    pub timespan: SignedDuration,
    pub threshold: Threshold,
    /// Upper bounds (`lt`, `lte`, `eq`, `neq`): when any, the correlation is decided per
    /// closed window, against every predicate (see the module documentation).
    pub bounds: Vec<(Bound, u64)>,
    /// `value_count`: the fields whose distinct (combined) values are counted; the numeric
    /// types: the field whose values are summed, averaged or ranked.
    pub value_fields: Vec<String>,
    /// `value_percentile` (0–100) and `value_median` (50): which percentile is compared.
    pub percentile: Option<u8>,
    /// Alias → (referenced rule id or name → field name in that rule's events).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    /// Whether the referenced rules also report their own matches.
    pub generate: bool,
}

impl CompiledCorrelation {
    /// Compiles a loaded correlation rule.
    pub fn compile(rule: &CorrelationRule) -> Result<Self, CorrelationError> {
        let parsed = &rule.parsed;
        let unsupported = |what: String| Err(CorrelationError::Unsupported(what));
        let aggregate = rule.kind.is_numeric();
        if parsed.window != WindowMode::Sliding {
            return unsupported(format!("window `{}`", parsed.window.as_str()));
        }
        if parsed.rules.is_empty() {
            return Err(CorrelationError::Invalid("no referenced rules".into()));
        }
        if parsed.timespan.seconds == 0 {
            return Err(CorrelationError::Invalid("timespan is zero".into()));
        }
        let temporal = matches!(
            parsed.correlation_type,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        );
        let (predicates, field, percentile) = match &parsed.condition {
            CorrelationCondition::Threshold {
                predicates,
                field,
                percentile,
            } => (predicates, field.clone().unwrap_or_default(), *percentile),
            CorrelationCondition::Extended(_) => {
                return unsupported("a boolean expression as condition".into());
            }
        };
        let mut at_least = 0u64;
        let mut all = Vec::new();
        let mut upper = false;
        for (op, value) in predicates {
            let bound = match op {
                ConditionOperator::Gte => Bound::Gte,
                ConditionOperator::Gt => Bound::Gt,
                ConditionOperator::Lt => Bound::Lt,
                ConditionOperator::Lte => Bound::Lte,
                ConditionOperator::Eq => Bound::Eq,
                _ => Bound::Neq,
            };
            match bound {
                Bound::Gte => at_least = at_least.max(*value),
                Bound::Gt => at_least = at_least.max(value.saturating_add(1)),
                _ => upper = true,
            }
            all.push((bound, *value));
        }
        if upper && parsed.correlation_type == CorrelationType::TemporalOrdered {
            return unsupported("temporal_ordered with an upper bound".into());
        }
        // Sums and averages are always decided per closed window.
        let bounds = if upper || aggregate { all } else { Vec::new() };
        if aggregate && bounds.is_empty() {
            return Err(CorrelationError::Invalid(format!(
                "{} without a condition",
                parsed.correlation_type.as_str()
            )));
        }
        let threshold = if temporal && at_least <= 1 {
            Threshold::AllRules
        } else {
            Threshold::AtLeast(at_least.max(1))
        };
        if parsed.correlation_type == CorrelationType::TemporalOrdered
            && bounds.is_empty()
            && threshold != Threshold::AllRules
            && at_least != parsed.rules.len() as u64
        {
            return unsupported("temporal_ordered with a condition other than all rules".into());
        }
        if (parsed.correlation_type == CorrelationType::ValueCount || aggregate) && field.is_empty()
        {
            return Err(CorrelationError::Invalid(format!(
                "{} without `condition.field`",
                parsed.correlation_type.as_str()
            )));
        }
        let percentile = match rule.kind {
            CorrelationKind::ValueMedian => Some(50),
            CorrelationKind::ValuePercentile => match percentile.unwrap_or(50) {
                p @ 0..=100 => Some(p as u8),
                p => {
                    return Err(CorrelationError::Invalid(format!(
                        "percentile {p} is not between 0 and 100"
                    )));
                }
            },
            _ => None,
        };
        let timespan = i64::try_from(parsed.timespan.seconds)
            .ok()
            .filter(|&s| s <= i64::from(u32::MAX))
            .ok_or_else(|| CorrelationError::Invalid("timespan too large".into()))?;
        Ok(Self {
            id: rule.meta.id.clone(),
            name: parsed.name.clone(),
            title: rule.meta.title.clone(),
            level: rule.meta.level,
            kind: rule.kind,
            rules: parsed.rules.clone(),
            group_by: parsed.group_by.clone(),
            timespan: SignedDuration::from_secs(timespan),
            threshold,
            bounds,
            value_fields: field,
            percentile,
            aliases: parsed
                .aliases
                .iter()
                .map(|a| {
                    let mapping = a.mapping.iter().map(|(k, v)| (k.clone(), v.clone()));
                    (a.alias.clone(), mapping.collect())
                })
                .collect(),
            generate: parsed.generate,
        })
    }

    /// The key that names this correlation in state snapshots: id, else name, else title.
    pub fn key(&self) -> &str {
        self.id
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.title)
    }

    fn count_needed(&self) -> u64 {
        match self.threshold {
            Threshold::AtLeast(n) => n,
            Threshold::AllRules => self.rules.len() as u64,
        }
    }
}

/// Which rule matched: its `id` and `name` (either may be absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleRef {
    pub id: Option<String>,
    pub name: Option<String>,
}

impl RuleRef {
    pub fn new(id: Option<&str>, name: Option<&str>) -> Self {
        Self {
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
        }
    }

    fn is(&self, reference: &str) -> bool {
        self.id.as_deref() == Some(reference) || self.name.as_deref() == Some(reference)
    }
}

/// A base rule the correlations may reference: who it is and its logsource, which decides
/// where its events keep a Sigma field (`TargetUserName` → `winlog.event_data.TargetUserName`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KnownRule {
    pub rule: RuleRef,
    pub logsource: Logsource,
}

/// Bounds on the state of each correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Groups kept per correlation.
    pub max_groups: usize,
    /// Timestamps or values kept per group (per referenced rule for temporal types).
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_groups: 10_000,
            max_entries: 1_000,
        }
    }
}

/// A correlation that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelationHit {
    /// [`CompiledCorrelation::key`].
    pub correlation: String,
    pub id: Option<String>,
    pub title: String,
    /// The group: each group-by field with its value.
    pub group: Vec<(String, String)>,
    /// Events (`event_count`), distinct values (`value_count`) or distinct rules (temporal).
    pub count: u64,
    /// The earliest and latest timestamps in the window that fired.
    pub first: Timestamp,
    pub last: Timestamp,
}

/// Counters over the life of a correlator (part of the snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelatorStats {
    pub observed: u64,
    pub hits: u64,
    /// Matches older than the watermark minus the timespan, dropped.
    pub late: u64,
    /// Matches lacking a group-by or value field, not counted.
    pub missing_field: u64,
    /// Groups evicted because a correlation had `max_groups` groups.
    pub evicted_groups: u64,
    /// Timestamps or values dropped because a group had `max_entries`.
    pub dropped_entries: u64,
}

/// An entry's order: its timestamp, then its arrival number.
type Stamp = (Timestamp, u64);

/// The state of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Group {
    /// The latest timestamp in the group.
    last: Option<Timestamp>,
    /// `event_count`: sorted match stamps. Temporal: one sorted list per referenced rule.
    stamps: Vec<VecDeque<Stamp>>,
    /// `value_count`: distinct value → its latest stamp.
    #[serde(with = "pairs")]
    values: BTreeMap<Vec<String>, Stamp>,
    /// Bounded conditions: where the group's fixed window starts.
    #[serde(default)]
    opened: Option<Timestamp>,
    /// Bounded `event_count`: matches in the window (not capped like stamps);
    /// `value_sum`/`value_avg`: numeric values counted.
    #[serde(default)]
    count: u64,
    /// `value_sum`/`value_avg`: the sum of the values.
    #[serde(default)]
    sum: f64,
    /// `value_percentile`/`value_median`: the values, oldest first (at most `max_entries`).
    #[serde(default)]
    numbers: VecDeque<f64>,
}

impl Group {
    /// Drops the distinct values seen least recently (ties by value) until at most `max`
    /// are left; returns how many were dropped.
    fn cap_values(&mut self, max: usize) -> u64 {
        let mut dropped = 0;
        while self.values.len() > max {
            let oldest = self
                .values
                .iter()
                .min_by_key(|(v, s)| (**s, *v))
                .map(|(v, _)| v.clone());
            let Some(oldest) = oldest else { break };
            self.values.remove(&oldest);
            dropped += 1;
        }
        dropped
    }
}

/// The state of one correlation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct CorrelationState {
    watermark: Option<Timestamp>,
    /// When groups were last swept for expired state.
    swept: Option<Timestamp>,
    #[serde(with = "pairs")]
    groups: BTreeMap<Vec<String>, Group>,
}

impl CorrelationState {
    /// Moves the watermark to a match at `ts`; returns it, or `None` when the match is
    /// late (older than the watermark minus `span`).
    fn admit(&mut self, ts: Timestamp, span: SignedDuration) -> Option<Timestamp> {
        let watermark = self.watermark.map_or(ts, |w| w.max(ts));
        self.watermark = Some(watermark);
        (ts >= watermark - span).then_some(watermark)
    }

    /// Makes room for the group `key` when the correlation already holds `max_groups`
    /// others: evicts the group that would go first anyway, the one with the earliest
    /// `expires_from` (what its expiry counts from), ties by group key. Returns whether
    /// one was evicted.
    fn make_room(
        &mut self,
        key: &[String],
        max_groups: usize,
        expires_from: impl Fn(&Group) -> Option<Timestamp>,
    ) -> bool {
        if self.groups.contains_key(key) || self.groups.len() < max_groups {
            return false;
        }
        let oldest = self
            .groups
            .iter()
            .min_by_key(|(k, g)| (expires_from(g), *k))
            .map(|(k, _)| k.clone());
        oldest.is_some_and(|oldest| self.groups.remove(&oldest).is_some())
    }
}

/// The serializable state of a [`Correlator`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version of this snapshot.
    pub version: u32,
    seq: u64,
    stats: CorrelatorStats,
    /// Keyed by [`CompiledCorrelation::key`].
    correlations: BTreeMap<String, CorrelationState>,
}

const SNAPSHOT_VERSION: u32 = 1;

/// Evaluates correlations over the matches of their base rules.
#[derive(Debug, Clone)]
pub struct Correlator {
    correlations: Vec<CompiledCorrelation>,
    /// Per correlation, per referenced rule, per group-by field: the event paths to try.
    group_paths: Vec<Vec<Vec<Vec<String>>>>,
    /// Per correlation, per referenced rule, per value field: the event paths to try.
    value_paths: Vec<Vec<Vec<Vec<String>>>>,
    state: Vec<CorrelationState>,
    limits: Limits,
    seq: u64,
    stats: CorrelatorStats,
    warnings: Vec<String>,
}

impl Correlator {
    /// A correlator for these correlations; `known` are the base rules they may reference
    /// (to translate names to ids and to find fields through `mappings`).
    pub fn new(
        correlations: Vec<CompiledCorrelation>,
        known: &[KnownRule],
        mappings: &Mappings,
    ) -> Self {
        Self::with_limits(correlations, known, mappings, Limits::default())
    }

    /// [`Self::new`] with explicit bounds.
    pub fn with_limits(
        correlations: Vec<CompiledCorrelation>,
        known: &[KnownRule],
        mappings: &Mappings,
        limits: Limits,
    ) -> Self {
        let mut warnings = Vec::new();
        let mut group_paths = Vec::new();
        let mut value_paths = Vec::new();
        for corr in &correlations {
            let mut per_rule_group = Vec::new();
            let mut per_rule_value = Vec::new();
            for reference in &corr.rules {
                let base = known.iter().find(|k| k.rule.is(reference));
                let is_correlation = correlations.iter().any(|c| {
                    c.id.as_deref() == Some(reference) || c.name.as_deref() == Some(reference)
                });
                if base.is_none() && !is_correlation {
                    warnings.push(format!(
                        "correlation `{}`: referenced rule `{reference}` is not loaded",
                        corr.key()
                    ));
                }
                let paths = |field: &String| -> Vec<String> {
                    // An alias names a different field per referenced rule.
                    let field = corr
                        .aliases
                        .get(field)
                        .and_then(|mapping| {
                            mapping.get(reference).or_else(|| {
                                let rule = &base?.rule;
                                [rule.id.as_ref(), rule.name.as_ref()]
                                    .into_iter()
                                    .flatten()
                                    .find_map(|r| mapping.get(r))
                            })
                        })
                        .unwrap_or(field);
                    let mut paths = match base {
                        Some(base) => {
                            let ls = &base.logsource;
                            mappings
                                .resolve(
                                    ls.product.as_deref(),
                                    ls.category.as_deref(),
                                    ls.service.as_deref(),
                                )
                                .paths(field)
                        }
                        None => Vec::new(),
                    };
                    if !paths.contains(field) {
                        paths.push(field.clone());
                    }
                    paths
                };
                per_rule_group.push(corr.group_by.iter().map(paths).collect());
                per_rule_value.push(corr.value_fields.iter().map(paths).collect());
            }
            group_paths.push(per_rule_group);
            value_paths.push(per_rule_value);
            if corr.kind == CorrelationKind::EventCount
                && corr.bounds.is_empty()
                && corr.count_needed() > limits.max_entries as u64
            {
                warnings.push(format!(
                    "correlation `{}`: threshold {} is above the {} entries kept per group: it never fires",
                    corr.key(),
                    corr.count_needed(),
                    limits.max_entries
                ));
            }
        }
        let state = vec![CorrelationState::default(); correlations.len()];
        Self {
            correlations,
            group_paths,
            value_paths,
            state,
            limits,
            seq: 0,
            stats: CorrelatorStats::default(),
            warnings,
        }
    }

    /// Problems found when building: unresolved references, unreachable thresholds.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn stats(&self) -> CorrelatorStats {
        self.stats
    }

    pub fn correlations(&self) -> &[CompiledCorrelation] {
        &self.correlations
    }

    /// Groups currently held, over all correlations.
    pub fn groups(&self) -> usize {
        self.state.iter().map(|s| s.groups.len()).sum()
    }

    /// Records that the base rule `rule` matched `event` at `timestamp` (the event's
    /// time); returns the correlations that fire, chained ones included.
    pub fn observe(
        &mut self,
        rule: &RuleRef,
        event: &(impl Fields + ?Sized),
        timestamp: Timestamp,
    ) -> Vec<CorrelationHit> {
        let mut hits = Vec::new();
        let mut pending = vec![(rule.clone(), 0usize)];
        while let Some((rule, depth)) = pending.pop() {
            let start = hits.len();
            for idx in 0..self.correlations.len() {
                for rule_idx in 0..self.correlations[idx].rules.len() {
                    if rule.is(&self.correlations[idx].rules[rule_idx]) {
                        hits.extend(self.observe_one(idx, rule_idx, event, timestamp));
                    }
                }
            }
            if depth + 1 < MAX_CHAIN_DEPTH {
                for hit in &hits[start..] {
                    let corr = self
                        .correlations
                        .iter()
                        .find(|c| c.key() == hit.correlation);
                    if let Some(corr) = corr {
                        let chained = RuleRef {
                            id: corr.id.clone(),
                            name: corr.name.clone(),
                        };
                        pending.push((chained, depth + 1));
                    }
                }
            }
        }
        hits
    }

    /// The match's group key and, if `with_value`, its value fields; `None` (counted in
    /// [`CorrelatorStats::missing_field`]) when the event lacks one of them.
    fn key_and_value(
        &mut self,
        idx: usize,
        rule_idx: usize,
        event: &(impl Fields + ?Sized),
        with_value: bool,
    ) -> Option<(Vec<String>, Option<Vec<String>>)> {
        let found = field_values(event, &self.group_paths[idx][rule_idx]).and_then(|key| {
            if !with_value {
                return Some((key, None));
            }
            field_values(event, &self.value_paths[idx][rule_idx]).map(|value| (key, Some(value)))
        });
        if found.is_none() {
            self.stats.missing_field += 1;
        }
        found
    }

    fn observe_one(
        &mut self,
        idx: usize,
        rule_idx: usize,
        event: &(impl Fields + ?Sized),
        ts: Timestamp,
    ) -> Vec<CorrelationHit> {
        self.stats.observed += 1;
        if !self.correlations[idx].bounds.is_empty() {
            return self.observe_bounded(idx, rule_idx, event, ts);
        }
        let with_value = self.correlations[idx].kind == CorrelationKind::ValueCount;
        let Some((key, value)) = self.key_and_value(idx, rule_idx, event, with_value) else {
            return Vec::new();
        };
        let corr = &self.correlations[idx];
        let span = corr.timespan;
        let state = &mut self.state[idx];
        let Some(watermark) = state.admit(ts, span) else {
            self.stats.late += 1;
            return Vec::new();
        };
        // Sweep expired groups once per timespan of progress.
        if state.swept.is_none_or(|s| watermark - span >= s) {
            state.swept = Some(watermark);
            let horizon = watermark - span;
            state
                .groups
                .retain(|_, g| g.last.is_some_and(|last| last >= horizon));
        }
        // Sliding windows: a group lives until its last match is older than the timespan.
        if state.make_room(&key, self.limits.max_groups, |g| g.last) {
            self.stats.evicted_groups += 1;
        }
        let group = state.groups.entry(key.clone()).or_default();
        self.seq += 1;
        let stamp = (ts, self.seq);
        let max_entries = self.limits.max_entries.max(1);
        let last = group.last.map_or(ts, |l| l.max(ts));
        group.last = Some(last);
        let horizon = last - span;
        let (count, first) = match corr.kind {
            CorrelationKind::ValueCount => {
                let value = value.unwrap_or_default();
                let entry = group.values.entry(value).or_insert(stamp);
                *entry = (*entry).max(stamp);
                group.values.retain(|_, s| s.0 >= horizon);
                self.stats.dropped_entries += group.cap_values(max_entries);
                let first = group.values.values().map(|s| s.0).min();
                (group.values.len() as u64, first)
            }
            CorrelationKind::EventCount => {
                if group.stamps.is_empty() {
                    group.stamps.push(VecDeque::new());
                }
                let dropped = insert_stamp(&mut group.stamps[0], stamp, horizon, max_entries);
                self.stats.dropped_entries += dropped;
                let first = group.stamps[0].front().map(|s| s.0);
                (group.stamps[0].len() as u64, first)
            }
            CorrelationKind::Temporal | CorrelationKind::TemporalOrdered => {
                group.stamps.resize_with(corr.rules.len(), VecDeque::new);
                let mut dropped = 0;
                for (i, stamps) in group.stamps.iter_mut().enumerate() {
                    if i == rule_idx {
                        dropped += insert_stamp(stamps, stamp, horizon, max_entries);
                    } else {
                        prune(stamps, horizon);
                    }
                }
                self.stats.dropped_entries += dropped;
                if corr.kind == CorrelationKind::Temporal {
                    let present: Vec<&VecDeque<Stamp>> =
                        group.stamps.iter().filter(|s| !s.is_empty()).collect();
                    let first = present.iter().filter_map(|s| s.front()).map(|s| s.0).min();
                    (present.len() as u64, first)
                } else {
                    match ordered_chain(&group.stamps, span) {
                        Some(first) => (corr.rules.len() as u64, Some(first)),
                        None => (0, None),
                    }
                }
            }
            // Always windowed (`bounds` is never empty for them): see `observe_bounded`.
            CorrelationKind::ValueSum
            | CorrelationKind::ValueAvg
            | CorrelationKind::ValuePercentile
            | CorrelationKind::ValueMedian => (0, None),
        };
        if count < corr.count_needed() {
            return Vec::new();
        }
        let first = first.unwrap_or(ts);
        // Fire once, then start the group afresh.
        state.groups.remove(&key);
        self.stats.hits += 1;
        vec![CorrelationHit {
            correlation: corr.key().to_owned(),
            id: corr.id.clone(),
            title: corr.title.clone(),
            group: corr.group_by.iter().cloned().zip(key).collect(),
            count,
            first,
            last,
        }]
    }

    /// A match of a correlation with upper bounds: decides the windows the match shows
    /// are over, then counts the match in its group's window.
    fn observe_bounded(
        &mut self,
        idx: usize,
        rule_idx: usize,
        event: &(impl Fields + ?Sized),
        ts: Timestamp,
    ) -> Vec<CorrelationHit> {
        let kind = self.correlations[idx].kind;
        let with_value = kind == CorrelationKind::ValueCount || kind.is_numeric();
        let Some((key, value)) = self.key_and_value(idx, rule_idx, event, with_value) else {
            return Vec::new();
        };
        let corr = &self.correlations[idx];
        let number = match &value {
            Some(value) if corr.kind.is_numeric() => {
                match value.first().and_then(|v| v.trim().parse::<f64>().ok()) {
                    Some(number) if number.is_finite() => Some(number),
                    _ => {
                        self.stats.missing_field += 1;
                        return Vec::new();
                    }
                }
            }
            _ => None,
        };
        let span = corr.timespan;
        let state = &mut self.state[idx];
        let Some(watermark) = state.admit(ts, span) else {
            self.stats.late += 1;
            return Vec::new();
        };
        // Decide every window that ended before the watermark.
        let hits = decide_windows(corr, state, watermark, &mut self.stats);
        // Fixed windows: a group lives until the timespan from its window's opening has
        // passed, however recent its last match.
        if state.make_room(&key, self.limits.max_groups, |g| g.opened) {
            self.stats.evicted_groups += 1;
        }
        let group = state.groups.entry(key).or_default();
        self.seq += 1;
        group.opened = Some(group.opened.map_or(ts, |opened| opened.min(ts)));
        group.last = Some(group.last.map_or(ts, |last| last.max(ts)));
        match corr.kind {
            CorrelationKind::EventCount => group.count += 1,
            CorrelationKind::ValueSum | CorrelationKind::ValueAvg => {
                group.count += 1;
                group.sum += number.unwrap_or_default();
            }
            CorrelationKind::ValuePercentile | CorrelationKind::ValueMedian => {
                group.count += 1;
                group.numbers.push_back(number.unwrap_or_default());
                if group.numbers.len() > self.limits.max_entries.max(1) {
                    group.numbers.pop_front();
                    self.stats.dropped_entries += 1;
                }
            }
            CorrelationKind::ValueCount => {
                let entry = group.values.entry(value.unwrap_or_default());
                let stamp = (ts, self.seq);
                entry.and_modify(|s| *s = (*s).max(stamp)).or_insert(stamp);
                // The count can no longer be exact: keep the newest values.
                self.stats.dropped_entries += group.cap_values(self.limits.max_entries.max(1));
            }
            _ => {
                // Temporal: which rules matched in the window.
                group.stamps.resize_with(corr.rules.len(), VecDeque::new);
                if group.stamps[rule_idx].is_empty() {
                    group.stamps[rule_idx].push_back((ts, self.seq));
                }
            }
        }
        hits
    }

    /// Decides, by the clock, the bounded windows that ended before `now` (see the module
    /// documentation): what no later match would decide while the stream is quiet. Hits are
    /// not chained to other correlations (there is no event to take their fields from).
    pub fn advance(&mut self, now: Timestamp) -> Vec<CorrelationHit> {
        let mut hits = Vec::new();
        for (corr, state) in self.correlations.iter().zip(&mut self.state) {
            if !corr.bounds.is_empty() {
                hits.extend(decide_windows(corr, state, now, &mut self.stats));
            }
        }
        hits
    }

    /// The whole state, serializable.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            seq: self.seq,
            stats: self.stats,
            correlations: self
                .correlations
                .iter()
                .zip(&self.state)
                .map(|(c, s)| (c.key().to_owned(), s.clone()))
                .collect(),
        }
    }

    /// Restores a [`Self::snapshot`]. State of correlations no longer loaded is dropped;
    /// correlations new since the snapshot start empty. Fails on an unknown version.
    pub fn restore(&mut self, snapshot: Snapshot) -> Result<(), CorrelationError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(CorrelationError::Invalid(format!(
                "snapshot version {} (expected {SNAPSHOT_VERSION})",
                snapshot.version
            )));
        }
        let mut saved = snapshot.correlations;
        self.seq = snapshot.seq;
        self.stats = snapshot.stats;
        for (corr, state) in self.correlations.iter().zip(&mut self.state) {
            *state = saved.remove(corr.key()).unwrap_or_default();
        }
        Ok(())
    }
}

/// Maps with non-string keys, serialized as lists of pairs (JSON needs string keys).
mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map)
    }

    pub(super) fn deserialize<'de, K, V, D>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

/// Decides the windows of a bounded correlation that ended before `until`: removes them
/// and returns the hits of those whose measure satisfies every bound, in group order.
fn decide_windows(
    corr: &CompiledCorrelation,
    state: &mut CorrelationState,
    until: Timestamp,
    stats: &mut CorrelatorStats,
) -> Vec<CorrelationHit> {
    let span = corr.timespan;
    let over: Vec<Vec<String>> = state
        .groups
        .iter()
        .filter(|(_, g)| g.opened.is_some_and(|opened| opened + span < until))
        .map(|(k, _)| k.clone())
        .collect();
    let mut hits = Vec::new();
    for group_key in over {
        let group = state.groups.remove(&group_key).expect("listed above");
        let measure = bounded_measure(corr, &group);
        if corr
            .bounds
            .iter()
            .all(|(bound, value)| bound.holds(measure, *value))
        {
            stats.hits += 1;
            let first = group.opened.expect("listed as opened");
            hits.push(CorrelationHit {
                correlation: corr.key().to_owned(),
                id: corr.id.clone(),
                title: corr.title.clone(),
                group: corr.group_by.iter().cloned().zip(group_key).collect(),
                count: measure.round() as u64,
                first,
                last: group.last.unwrap_or(first),
            });
        }
    }
    hits
}

/// The values of `fields` (each a list of paths to try), or `None` if one is missing.
fn field_values(event: &(impl Fields + ?Sized), fields: &[Vec<String>]) -> Option<Vec<String>> {
    fields
        .iter()
        .map(|paths| {
            paths
                .iter()
                .find_map(|p| event.field(p).filter(|v| !v.is_null()))
                .map(value_text)
        })
        .collect()
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a windowed correlation compares: events, distinct values, distinct rules, or the
/// sum or average of the values.
fn bounded_measure(corr: &CompiledCorrelation, group: &Group) -> f64 {
    match corr.kind {
        CorrelationKind::EventCount => group.count as f64,
        CorrelationKind::ValueCount => group.values.len() as f64,
        CorrelationKind::ValueSum => group.sum,
        CorrelationKind::ValueAvg if group.count > 0 => group.sum / group.count as f64,
        CorrelationKind::ValueAvg => 0.0,
        CorrelationKind::ValuePercentile | CorrelationKind::ValueMedian => {
            percentile(&group.numbers, corr.percentile.unwrap_or(50))
        }
        _ => group.stamps.iter().filter(|s| !s.is_empty()).count() as f64,
    }
}

/// The `p`th percentile (0–100) of `values` by linear interpolation between the closest
/// ranks; 0 for no values.
fn percentile(values: &VecDeque<f64>, p: u8) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = f64::from(p.min(100)) / 100.0 * (sorted.len() - 1) as f64;
    let below = rank.floor() as usize;
    let above = rank.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (rank - below as f64)
}

/// Inserts in order, prunes stamps before `horizon`, caps at `max`; returns how many were
/// dropped for the cap.
fn insert_stamp(stamps: &mut VecDeque<Stamp>, stamp: Stamp, horizon: Timestamp, max: usize) -> u64 {
    let at = stamps.partition_point(|s| *s <= stamp);
    stamps.insert(at, stamp);
    prune(stamps, horizon);
    let mut dropped = 0;
    while stamps.len() > max {
        stamps.pop_front();
        dropped += 1;
    }
    dropped
}

/// Prunes stamps before `horizon`.
fn prune(stamps: &mut VecDeque<Stamp>, horizon: Timestamp) {
    while stamps.front().is_some_and(|s| s.0 < horizon) {
        stamps.pop_front();
    }
}

/// For temporal_ordered: the start of a chain rule 0 ≤ rule 1 ≤ … ≤ rule n within `span`,
/// if there is one. Takes the latest stamp of the last rule and, going backwards, the
/// latest earlier stamp of each rule before it, which gives the latest possible start.
fn ordered_chain(stamps: &[VecDeque<Stamp>], span: SignedDuration) -> Option<Timestamp> {
    let mut bound: Option<Stamp> = None;
    let mut end = None;
    for rule in stamps.iter().rev() {
        let pick = match bound {
            None => rule.back().copied(),
            Some(b) => rule.iter().rev().find(|s| **s < b).copied(),
        }?;
        end.get_or_insert(pick.0);
        bound = Some(pick);
    }
    let start = bound?.0;
    (end?.duration_since(start) <= span).then_some(start)
}

/// Compiles every correlation of a load; the ones that cannot compile come with why.
pub fn compile_all(
    correlations: &[CorrelationRule],
) -> (Vec<CompiledCorrelation>, Vec<(String, CorrelationError)>) {
    let mut compiled = Vec::new();
    let mut failed = Vec::new();
    for rule in correlations {
        match CompiledCorrelation::compile(rule) {
            Ok(c) => compiled.push(c),
            Err(e) => failed.push((
                rule.meta
                    .id
                    .clone()
                    .unwrap_or_else(|| rule.meta.title.clone()),
                e,
            )),
        }
    }
    (compiled, failed)
}
