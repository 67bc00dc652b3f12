//! [`Engine`]: all rules over one event, routed so that an event only meets the rules that
//! can possibly match it.
//!
//! Each rule is indexed by what its logsource filter requires of the event's channel and
//! event id (`winlog.channel`, `winlog.event_id`), refined by a literal `EventID` its
//! condition provably requires. An event looks up its channel and event id and evaluates
//! only the rules indexed under them, plus the rules that require neither (the fallback).
//! A literal prefilter ([`crate::prefilter`]) then skips candidates none of whose required
//! literals occurs in the event. The index and the prefilter only ever leave out rules that
//! cannot match, and every remaining candidate still runs its full filter and condition, so
//! the result is exactly that of calling [`CompiledRule::matches`] for every rule.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use event::{Fields, Value};

use crate::mapping::PathTest;
use crate::matcher::{
    Detection as Body, Expr, ItemTest, Memo, Program, StrPattern, Target, ValueTest, scalar_text,
};
use crate::prefilter::Prefilter;
use crate::rule::{CompiledRule, Match};

/// The first routing dimension: a rule's filter names the channels it sees.
const CHANNEL: &str = "winlog.channel";
/// The second routing dimension: the filter or the condition names the event ids.
const EVENT_ID: &str = "winlog.event_id";

/// One rule that matched an event.
#[derive(Debug, Clone)]
pub struct Detection<'a> {
    /// The rule's position in [`Engine::rules`] (the order rules were given in).
    pub index: usize,
    pub rule: &'a CompiledRule,
    /// Which selections and fields matched, as [`CompiledRule::matches`] says.
    pub found: Match,
}

/// Compiled rules indexed for matching many rules against each event.
///
/// ```
/// use event::Event;
/// let rules = "title: whoami\nlogsource: {product: windows, category: process_creation}\n\
///              detection:\n  sel: {Image|endswith: '\\whoami.exe'}\n  condition: sel\n";
/// let engine = sigma::Engine::new(sigma::RuleSet::load_str(rules, "whoami.yml").rules);
/// let event: Event = serde_json::from_str(r#"{"winlog": {"channel": "Microsoft-Windows-Sysmon/Operational",
///     "event_id": 1, "event_data": {"Image": "C:\\Windows\\System32\\whoami.exe"}}}"#).unwrap();
/// let found = engine.matches(&event);
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].rule.title(), "whoami");
/// assert_eq!(found[0].found.selections, ["sel"]);
/// ```
#[derive(Debug)]
pub struct Engine {
    rules: Vec<CompiledRule>,
    /// Rules that require a channel, by lowercased channel.
    channels: HashMap<Box<str>, ChannelIndex>,
    /// Rules that require an event id but no channel, by event id (lowercased text).
    event_ids: HashMap<Box<str>, Vec<u32>>,
    /// Rules that require neither.
    fallback: Vec<u32>,
    /// Rules whose logsource selects no event (unmapped): never evaluated.
    never: usize,
    /// Skips candidates whose required literals are absent from the event.
    prefilter: Prefilter,
}

#[derive(Debug, Default)]
struct ChannelIndex {
    /// Rules for this channel and any event id.
    any: Vec<u32>,
    /// Rules for this channel and one of these event ids.
    event_ids: HashMap<Box<str>, Vec<u32>>,
}

/// Where one rule is indexed: `(channel, event id)` alternatives, `None` for any.
type Route = (Option<String>, Option<String>);

impl Engine {
    /// Indexes the rules (typically [`crate::LoadReport::rules`]).
    pub fn new(rules: Vec<CompiledRule>) -> Self {
        let mut engine = Engine {
            rules: Vec::new(),
            channels: HashMap::new(),
            event_ids: HashMap::new(),
            fallback: Vec::new(),
            never: 0,
            prefilter: Prefilter::new(rules.iter().map(|rule| &rule.program)),
        };
        for (idx, rule) in rules.iter().enumerate() {
            let idx = u32::try_from(idx).expect("fewer than 2^32 rules");
            let Some(routes) = routes(&rule.program) else {
                engine.never += 1;
                continue;
            };
            for route in routes {
                let list = match route {
                    (None, None) => &mut engine.fallback,
                    (None, Some(id)) => engine.event_ids.entry(id.into()).or_default(),
                    (Some(channel), None) => {
                        &mut engine.channels.entry(channel.into()).or_default().any
                    }
                    (Some(channel), Some(id)) => engine
                        .channels
                        .entry(channel.into())
                        .or_default()
                        .event_ids
                        .entry(id.into())
                        .or_default(),
                };
                if list.last() != Some(&idx) {
                    list.push(idx);
                }
            }
        }
        engine.rules = rules;
        engine
    }

    /// The rules, in the order given.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Every rule that matches the event, in rule order, with what matched.
    pub fn matches<'a>(&'a self, event: &(impl Fields + ?Sized)) -> Vec<Detection<'a>> {
        let mut found = Vec::new();
        self.for_each_match(event, |index, rule, matched| {
            found.push(Detection {
                index,
                rule,
                found: matched,
            });
        });
        found
    }

    /// Calls `visit` with the index, rule and [`Match`] of every rule that matches the
    /// event, in rule order.
    pub fn for_each_match<'a>(
        &'a self,
        event: &(impl Fields + ?Sized),
        mut visit: impl FnMut(usize, &'a CompiledRule, Match),
    ) {
        let memo = Memo::new(event);
        let mut scan = self.prefilter.scan();
        self.for_each_candidate(event, |index| {
            if !self.prefilter.may_match(index, &mut scan, &memo) {
                return;
            }
            let rule = &self.rules[index];
            if let Some(matched) = rule.matches_in(&memo) {
                visit(index, rule, matched);
            }
        });
    }

    /// Whether any rule matches the event.
    pub fn is_match(&self, event: &(impl Fields + ?Sized)) -> bool {
        let memo = Memo::new(event);
        let mut scan = self.prefilter.scan();
        let mut any = false;
        self.for_each_candidate(event, |index| {
            any = any
                || (self.prefilter.may_match(index, &mut scan, &memo)
                    && self.rules[index].program.matches(&memo));
        });
        any
    }

    /// Indexes of the rules that could match the event, ascending.
    fn for_each_candidate(&self, event: &(impl Fields + ?Sized), mut visit: impl FnMut(usize)) {
        let (Some(channel), Some(event_id)) =
            (route_key(event, CHANNEL), route_key(event, EVENT_ID))
        else {
            // A multi-valued (or object) routing field: no index, every rule.
            for (index, rule) in self.rules.iter().enumerate() {
                if !rule.program.filter.is_nothing() {
                    visit(index);
                }
            }
            return;
        };
        let empty: &[u32] = &[];
        let by_channel = channel.as_deref().and_then(|c| self.channels.get(c));
        let lists = [
            self.fallback.as_slice(),
            event_id
                .as_deref()
                .and_then(|id| self.event_ids.get(id))
                .map_or(empty, Vec::as_slice),
            by_channel.map_or(empty, |c| c.any.as_slice()),
            by_channel
                .zip(event_id.as_deref())
                .and_then(|(c, id)| c.event_ids.get(id))
                .map_or(empty, Vec::as_slice),
        ];
        merge(lists, |idx| visit(idx as usize));
    }

    /// How the rules are indexed.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            rules: self.rules.len(),
            channels: self.channels.len(),
            routed_by_channel: self
                .channels
                .values()
                .map(|c| c.any.len() + c.event_ids.values().map(Vec::len).sum::<usize>())
                .sum(),
            routed_by_event_id: self.event_ids.values().map(Vec::len).sum(),
            fallback: self.fallback.len(),
            never: self.never,
        }
    }
}

/// Counts describing an [`Engine`]'s index (index entries: a rule routed to several keys
/// counts once per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineStats {
    pub rules: usize,
    /// Distinct channels indexed.
    pub channels: usize,
    /// Index entries under a channel (with or without an event id).
    pub routed_by_channel: usize,
    /// Index entries under an event id alone.
    pub routed_by_event_id: usize,
    /// Rules tried on every event.
    pub fallback: usize,
    /// Rules whose logsource selects no event.
    pub never: usize,
}

impl fmt::Display for EngineStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rules: {} entries under {} channels, {} under an event id alone, {} fallback, {} see no events",
            self.rules,
            self.routed_by_channel,
            self.channels,
            self.routed_by_event_id,
            self.fallback,
            self.never
        )
    }
}

/// The event's routing key at `path`: `Some(None)` when absent or null, `Some(text)` for a
/// scalar (ASCII-lowercased, as filters compare), `None` when it cannot be routed.
fn route_key<F: Fields + ?Sized>(event: &F, path: &str) -> Option<Option<String>> {
    match event.field(path) {
        None | Some(Value::Null) => Some(None),
        Some(Value::Array(_) | Value::Object(_)) => None,
        Some(scalar) => Some(scalar_text(scalar).map(|t| t.to_ascii_lowercase())),
    }
}

/// Visits the union of ascending lists in ascending order, each index once.
fn merge(mut lists: [&[u32]; 4], mut visit: impl FnMut(u32)) {
    loop {
        let mut min = u32::MAX;
        let mut any = false;
        for list in &lists {
            if let Some(&first) = list.first() {
                any = true;
                min = min.min(first);
            }
        }
        if !any {
            return;
        }
        visit(min);
        for list in &mut lists {
            if list.first() == Some(&min) {
                *list = &list[1..];
            }
        }
    }
}

/// Where a rule is indexed; `None` when its logsource selects no event.
fn routes(program: &Program) -> Option<Vec<Route>> {
    let clauses = program.filter.clauses()?;
    let required_ids = required_event_ids(program, &program.condition);
    if clauses.is_empty() {
        return Some(match required_ids {
            Some(ids) => ids.into_iter().map(|id| (None, Some(id))).collect(),
            None => vec![(None, None)],
        });
    }
    let mut routes = Vec::new();
    for clause in clauses {
        let channels = clause_values(clause, CHANNEL);
        let ids = match (clause_values(clause, EVENT_ID), &required_ids) {
            (Some(ids), Some(required)) => Some(&ids & required),
            (None, Some(required)) => Some(required.clone()),
            (ids, None) => ids,
        };
        let channels: Vec<Option<String>> = match channels {
            Some(set) => set.into_iter().map(Some).collect(),
            None => vec![None],
        };
        let ids: Vec<Option<String>> = match ids {
            Some(set) => set.into_iter().map(Some).collect(),
            None => vec![None],
        };
        for channel in &channels {
            for id in &ids {
                routes.push((channel.clone(), id.clone()));
            }
        }
    }
    routes.sort();
    routes.dedup();
    Some(routes)
}

/// The values a filter clause allows at `path` (all its tests on the path must hold), or
/// `None` when it does not restrict the path to listed values.
fn clause_values(clause: &[(String, PathTest)], path: &str) -> Option<BTreeSet<String>> {
    let mut allowed: Option<BTreeSet<String>> = None;
    for (test_path, test) in clause {
        if test_path != path {
            continue;
        }
        if let PathTest::OneOf(texts) = test {
            // Filter texts are lowercased and compare ASCII-case-insensitively.
            let set: BTreeSet<String> = texts.iter().map(|t| t.to_ascii_lowercase()).collect();
            allowed = Some(match allowed {
                Some(prev) => &prev & &set,
                None => set,
            });
        }
    }
    allowed
}

/// The event ids one of which the event must have (at [`EVENT_ID`]) for `expr` to hold,
/// when provable; `None` when `expr` may hold without one.
fn required_event_ids(program: &Program, expr: &Expr) -> Option<BTreeSet<String>> {
    match expr {
        Expr::And(parts) => intersect(parts.iter().map(|p| required_event_ids(program, p))),
        Expr::Or(parts) => union(parts.iter().map(|p| required_event_ids(program, p))),
        Expr::Not(_) => None,
        Expr::Detection(idx) => body_event_ids(&program.detections[*idx].body),
        // At least one of them holds (for n ≥ 1): the union, if each requires ids.
        Expr::AtLeast(n, idxs) if *n >= 1 => union(
            idxs.iter()
                .map(|idx| body_event_ids(&program.detections[*idx].body)),
        ),
        Expr::AtLeast(..) => None,
    }
}

fn body_event_ids(body: &Body) -> Option<BTreeSet<String>> {
    match body {
        Body::AllOf(items) => intersect(items.iter().map(|item| {
            let Target::Field(paths) = &item.target else {
                return None;
            };
            if paths.len() != 1 || paths[0] != EVENT_ID {
                return None;
            }
            let ItemTest::Values { all, values } = &item.test else {
                return None;
            };
            if *all && values.len() > 1 {
                return None;
            }
            values
                .iter()
                .map(|value| match value {
                    // Only digits: equal as text regardless of case folding.
                    ValueTest::Str {
                        pattern: StrPattern::Exact(lit),
                        ..
                    } if !lit.is_empty() && lit.bytes().all(|b| b.is_ascii_digit()) => {
                        Some(lit.clone())
                    }
                    _ => None,
                })
                .collect()
        })),
        Body::AnyOf(branches) => union(branches.iter().map(body_event_ids)),
        Body::AllBranches(branches) => intersect(branches.iter().map(body_event_ids)),
    }
}

/// Every part must hold: the intersection of the parts that require ids.
fn intersect(parts: impl Iterator<Item = Option<BTreeSet<String>>>) -> Option<BTreeSet<String>> {
    parts.flatten().reduce(|a, b| &a & &b)
}

/// Some part holds: the union, if every part requires ids (and there is a part).
fn union(parts: impl Iterator<Item = Option<BTreeSet<String>>>) -> Option<BTreeSet<String>> {
    let mut out: Option<BTreeSet<String>> = None;
    for part in parts {
        let part = part?;
        out.get_or_insert_with(BTreeSet::new).extend(part);
    }
    out
}
