//! A literal prefilter for [`crate::Engine`]: skips a candidate rule when none of the
//! literals its condition provably requires occurs in the event.
//!
//! For each rule we derive, when provable, a set of *atoms* — `(field, needle)` pairs such
//! that the rule can only match if, for at least one atom, the lowercased text of the field
//! contains the needle. Atoms come from case-insensitive string patterns (`contains`,
//! `startswith`, `endswith`, exact values and the longest literal run of a wildcard
//! pattern), combined through the condition: an `and` (or a map of items, or `|all`)
//! needs only one requiring part, an `or` (or `1 of`, a list) needs every branch to
//! require something, and nothing is derived through `not`.
//!
//! Per event, each field some candidate rule asks about is scanned once (lazily) with one
//! Aho-Corasick automaton over all needles for that field. The scan reads the field exactly
//! as the matcher does (first present non-null path, scalars as text, array items each,
//! lowercased by the same function), so a skipped rule is one whose full evaluation would
//! have failed.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use event::Value;

use crate::matcher::{
    Detection, Expr, Item, ItemTest, KEYWORD_FIELDS, Program, Source, StrPattern, Target, Tok,
    ValueTest, lookup, lowercase, scalar_text,
};

/// A needle shorter than this is not worth an atom (it would occur almost everywhere).
const MIN_NEEDLE: usize = 2;

/// One alternative: the field at these paths (first present non-null) contains the needle.
type Atom = (Box<[String]>, String);

/// A rule's atoms as `(field, needle)` indexes into [`Prefilter::fields`].
type AtomIds = Box<[(u32, u32)]>;

/// While building: a field's index and its needles' indexes.
type FieldNeedles = (u32, HashMap<String, u32>);

/// The prefilter over all rules of an engine.
#[derive(Debug)]
pub(crate) struct Prefilter {
    fields: Vec<FieldScan>,
    /// Per rule: `(field, needle)` indexes, any of which must be found; `None`: no
    /// requirement (always evaluate).
    rules: Vec<Option<AtomIds>>,
}

#[derive(Debug)]
struct FieldScan {
    paths: Box<[String]>,
    searcher: AhoCorasick,
    needles: usize,
}

/// Per-event scan results: for each field, `None` until scanned, then the found needles
/// as a bit set.
#[derive(Default)]
pub(crate) struct Scan {
    found: Vec<Option<Box<[u64]>>>,
}

impl Prefilter {
    pub(crate) fn new<'a>(programs: impl IntoIterator<Item = &'a Program>) -> Self {
        let mut keys: HashMap<Box<[String]>, FieldNeedles> = HashMap::new();
        let mut order: Vec<Box<[String]>> = Vec::new();
        let mut rules = Vec::new();
        for program in programs {
            let Some(atoms) = expr_atoms(program, &program.condition) else {
                rules.push(None);
                continue;
            };
            let mut ids = Vec::with_capacity(atoms.len());
            for (paths, needle) in atoms {
                let next_key = u32::try_from(keys.len()).expect("fewer than 2^32 fields");
                let (key, needles) = keys.entry(paths.clone()).or_insert_with(|| {
                    order.push(paths);
                    (next_key, HashMap::new())
                });
                let next_needle = u32::try_from(needles.len()).expect("fewer than 2^32 needles");
                let needle = *needles.entry(needle).or_insert(next_needle);
                ids.push((*key, needle));
            }
            ids.sort_unstable();
            ids.dedup();
            rules.push(Some(ids.into_boxed_slice()));
        }
        let fields = order
            .into_iter()
            .map(|paths| {
                let (_, needles) = keys.remove(&paths).expect("indexed");
                let mut list: Vec<(u32, String)> =
                    needles.into_iter().map(|(n, id)| (id, n)).collect();
                list.sort_unstable();
                let searcher = AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(list.iter().map(|(_, n)| n.as_bytes()))
                    .or_else(|_| {
                        AhoCorasick::builder()
                            .match_kind(MatchKind::Standard)
                            .build(list.iter().map(|(_, n)| n.as_bytes()))
                    })
                    .expect("literal needles build an automaton");
                FieldScan {
                    paths,
                    searcher,
                    needles: list.len(),
                }
            })
            .collect();
        Prefilter { fields, rules }
    }

    /// A fresh per-event scan state.
    pub(crate) fn scan(&self) -> Scan {
        Scan {
            found: vec![None; self.fields.len()],
        }
    }

    /// Whether rule `rule` may match the event (`false`: it provably does not).
    pub(crate) fn may_match<S: Source + ?Sized>(
        &self,
        rule: usize,
        scan: &mut Scan,
        event: &S,
    ) -> bool {
        let Some(atoms) = &self.rules[rule] else {
            return true;
        };
        atoms.iter().any(|&(field, needle)| {
            let found = scan.found[field as usize]
                .get_or_insert_with(|| self.fields[field as usize].scan(event));
            let needle = needle as usize;
            found[needle / 64] >> (needle % 64) & 1 == 1
        })
    }

    /// How many rules have a literal requirement.
    #[cfg(test)]
    pub(crate) fn filtered(&self) -> usize {
        self.rules.iter().filter(|r| r.is_some()).count()
    }
}

impl FieldScan {
    fn scan<S: Source + ?Sized>(&self, event: &S) -> Box<[u64]> {
        let mut found = vec![0u64; self.needles.div_ceil(64)].into_boxed_slice();
        let mut search = |text: &str| {
            for hit in self.searcher.find_overlapping_iter(text.as_bytes()) {
                let id = hit.pattern().as_usize();
                found[id / 64] |= 1 << (id % 64);
            }
        };
        let mut scalar = |value: &Value| match value {
            Value::String(text) => event.with_lower(text, &mut search),
            other => {
                if let Some(text) = scalar_text(other) {
                    search(&lowercase(&text));
                }
            }
        };
        match lookup(event, &self.paths) {
            None | Some(Value::Object(_)) => {}
            Some(Value::Array(items)) => items.iter().for_each(&mut scalar),
            Some(value) => scalar(value),
        }
        found
    }
}

/// Atoms one of which holds whenever `expr` holds, if provable.
fn expr_atoms(program: &Program, expr: &Expr) -> Option<Vec<Atom>> {
    match expr {
        Expr::And(parts) => best(parts.iter().map(|p| expr_atoms(program, p))),
        Expr::Or(parts) => all(parts.iter().map(|p| expr_atoms(program, p))),
        Expr::Not(_) => None,
        Expr::Detection(idx) => detection_atoms(&program.detections[*idx].body),
        Expr::AtLeast(n, idxs) if *n >= 1 => all(idxs
            .iter()
            .map(|idx| detection_atoms(&program.detections[*idx].body))),
        Expr::AtLeast(..) => None,
    }
}

fn detection_atoms(body: &Detection) -> Option<Vec<Atom>> {
    match body {
        Detection::AllOf(items) => best(items.iter().map(item_atoms)),
        Detection::AnyOf(branches) => all(branches.iter().map(detection_atoms)),
        Detection::AllBranches(branches) => best(branches.iter().map(detection_atoms)),
    }
}

fn item_atoms(item: &Item) -> Option<Vec<Atom>> {
    let ItemTest::Values { all: every, values } = &item.test else {
        return None;
    };
    let targets: Vec<Box<[String]>> = match &item.target {
        Target::Field(paths) => vec![paths.clone()],
        Target::Keywords => KEYWORD_FIELDS
            .iter()
            .map(|path| vec![(*path).to_owned()].into_boxed_slice())
            .collect(),
    };
    let per_value = values.iter().map(|value| {
        let needle = value_needle(value)?;
        Some(
            targets
                .iter()
                .map(|paths| (paths.clone(), needle.clone()))
                .collect(),
        )
    });
    if *every {
        best(per_value)
    } else {
        all(per_value)
    }
}

/// A literal the lowercased text must contain for the test to pass.
fn value_needle(value: &ValueTest) -> Option<String> {
    let ValueTest::Str {
        pattern,
        cased: false,
    } = value
    else {
        return None;
    };
    let needle = match pattern {
        StrPattern::Exact(lit)
        | StrPattern::Contains(lit)
        | StrPattern::StartsWith(lit)
        | StrPattern::EndsWith(lit) => lit.as_str().to_owned(),
        StrPattern::Any => return None,
        StrPattern::Glob(toks) => {
            let mut longest = String::new();
            let mut run = String::new();
            for tok in toks.iter().chain([&Tok::Star]) {
                if let Tok::Lit(c) = tok {
                    run.push(*c);
                } else {
                    if run.len() > longest.len() {
                        longest = std::mem::take(&mut run);
                    }
                    run.clear();
                }
            }
            longest
        }
    };
    (needle.len() >= MIN_NEEDLE).then_some(needle)
}

/// Every part must yield atoms (any one part may be the one that holds): their union.
fn all(parts: impl Iterator<Item = Option<Vec<Atom>>>) -> Option<Vec<Atom>> {
    let mut out = Vec::new();
    let mut any = false;
    for part in parts {
        out.extend(part?);
        any = true;
    }
    any.then_some(out)
}

/// All parts hold: the most selective part's atoms suffice.
fn best(parts: impl Iterator<Item = Option<Vec<Atom>>>) -> Option<Vec<Atom>> {
    parts
        .flatten()
        .filter(|atoms| !atoms.is_empty())
        .max_by_key(|atoms| {
            let shortest = atoms.iter().map(|(_, n)| n.len()).min().unwrap_or(0);
            (shortest.min(8), std::cmp::Reverse(atoms.len()))
        })
}

#[cfg(test)]
mod tests {
    use event::Event;
    use serde_json::json;

    use crate::{Engine, RuleSet};

    fn rule(n: usize, detection: &str) -> String {
        let detection: String = detection.lines().map(|l| format!("  {l}\n")).collect();
        format!(
            "title: r{n}\nid: 00000000-0000-0000-0000-{n:012}\n\
             logsource: {{product: windows, category: process_creation}}\ndetection:\n{detection}"
        )
    }

    fn event(data: serde_json::Value) -> Event {
        serde_json::from_value(json!({
            "winlog": {
                "channel": "Microsoft-Windows-Sysmon/Operational",
                "event_id": "1",
                "event_data": data,
            },
            "message": "Process Create: WHOAMI /all",
        }))
        .unwrap()
    }

    /// Every rule shape gets the same answer from the engine (with its prefilter) as from
    /// each rule's own `matches`, on events that do and do not contain the literals.
    #[test]
    fn prefilter_never_changes_results() {
        let detections = [
            "sel: {CommandLine|contains: 'Evil'}\ncondition: sel",
            "sel: {CommandLine|contains: ['aa', 'bb']}\ncondition: sel",
            "sel: {CommandLine|contains|all: ['aa', 'bbb']}\ncondition: sel",
            "sel: {Image|endswith: '\\x.exe'}\nf: {CommandLine|contains: 'ok'}\ncondition: sel and not f",
            "sel: {Image|endswith: '\\x.exe'}\nf: {CommandLine|contains: 'ok'}\ncondition: sel or not f",
            "sel: {Image|endswith: '\\x.exe'}\nf: {CommandLine|contains: 'ok'}\ncondition: not sel",
            "a: {Image|endswith: '\\x.exe'}\nb: {User: SYSTEM}\ncondition: a or b",
            "a: {Image|endswith: '\\x.exe'}\nb: {User|exists: true}\ncondition: a or b",
            "a: {Image|endswith: '\\x.exe'}\nb: {ProcessId: 42}\ncondition: 1 of *",
            "a: {Image|startswith: 'c:\\'}\nb: {ProcessId: 42}\ncondition: all of *",
            "sel: {CommandLine: '*a?c*def*'}\ncondition: sel",
            "sel: {CommandLine|windash|contains: ' -enc '}\ncondition: sel",
            "sel: {CommandLine|cased|contains: 'Evil'}\ncondition: sel",
            "sel: {CommandLine|re: 'ev.l'}\ncondition: sel",
            "sel: {CommandLine: null}\ncondition: sel",
            "sel: ['whoami', 'nothing here']\ncondition: sel",
            "sel: {Tags|contains: 'xy'}\ncondition: sel",
            "sel: {Hashes|contains: ''}\ncondition: sel",
            "sel: {CommandLine|contains: 'éÉ'}\ncondition: sel",
            "sel: [{Image|endswith: 'a.exe'}, {CommandLine|contains: 'zz'}]\ncondition: sel",
            "sel: [{Image|endswith: 'a.exe'}, {User|exists: false}]\ncondition: sel",
        ];
        let text: Vec<String> = detections
            .iter()
            .enumerate()
            .map(|(n, d)| rule(n, d))
            .collect();
        let report = RuleSet::load_str(&text.join("---\n"), "inline.yml");
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(report.rules.len(), detections.len());
        let rules = report.rules;
        let events = [
            json!({}),
            json!({"CommandLine": "run EVIL now", "Image": "C:\\x.exe"}),
            json!({"CommandLine": "aabb", "Image": "C:\\y.exe", "User": "system"}),
            json!({"CommandLine": "aa bbb ok", "ProcessId": 42}),
            json!({"CommandLine": "xabcxdefx", "Image": "D:\\A.EXE"}),
            json!({"CommandLine": "x /enc y", "Tags": ["ab", "XY"]}),
            json!({"CommandLine": "ÉÉ", "Hashes": "", "User": null}),
            json!({"CommandLine": "Evil", "Tags": [["xy"]], "ProcessId": "42"}),
            json!({"CommandLine": null, "Image": ["q", "c:\\Z"]}),
        ];
        let engine = Engine::new(rules.clone());
        let prefilter = super::Prefilter::new(rules.iter().map(|r| &r.program));
        assert!(prefilter.filtered() >= 10, "{}", prefilter.filtered());
        for data in events {
            let event = event(data.clone());
            let naive: Vec<_> = rules
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.matches(&event).map(|m| (i, m)))
                .collect();
            let indexed: Vec<_> = engine
                .matches(&event)
                .into_iter()
                .map(|d| (d.index, d.found))
                .collect();
            assert_eq!(naive, indexed, "{data}");
            assert_eq!(engine.is_match(&event), !naive.is_empty(), "{data}");
        }
    }
}
