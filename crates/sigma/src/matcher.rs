//! The matcher IR a rule compiles to, and its evaluation over `event::Fields`.
//!
//! Strings compare case-insensitively unless `cased`: patterns are lowercased once at
//! compile time, event values when compared. Wildcard patterns run a linear-memory
//! backtracking glob (no regex), `re` runs the `regex` crate (linear time, bounded size).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use event::{Fields, Value};

use crate::mapping::EventFilter;

/// The compiled condition over the named detections.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// Index into [`Program::detections`].
    Detection(usize),
    /// At least `n` of these detections hold (`2 of selection_*`).
    AtLeast(usize, Vec<usize>),
}

/// One named detection (`selection`, `filter_main`, `keywords`).
#[derive(Debug, Clone)]
pub(crate) struct NamedDetection {
    pub(crate) name: String,
    pub(crate) body: Detection,
}

#[derive(Debug, Clone)]
pub(crate) enum Detection {
    /// Every item holds (a YAML map).
    AllOf(Vec<Item>),
    /// Any branch holds (a YAML list of maps, or of keywords).
    AnyOf(Vec<Detection>),
    /// Every branch holds (Sigma v3 `|all` over maps).
    AllBranches(Vec<Detection>),
}

/// `field|modifiers: values` after compilation.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// The Sigma field name, for [`crate::Match`]; `None` for keywords.
    pub(crate) field: Option<String>,
    pub(crate) target: Target,
    pub(crate) test: ItemTest,
}

#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// The event paths of the field, in preference order: the first present one is used.
    Field(Box<[String]>),
    /// Field-less search over `message` and `event.original`.
    Keywords,
}

/// The full-text fields keyword searches look at.
pub(crate) const KEYWORD_FIELDS: &[&str] = &[event::fields::MESSAGE, event::fields::EVENT_ORIGINAL];

#[derive(Debug, Clone)]
pub(crate) enum ItemTest {
    /// `|exists: true/false`.
    Exists(bool),
    /// Any value matches (the default), or all of them (`|all`).
    Values { all: bool, values: Vec<ValueTest> },
}

#[derive(Debug, Clone)]
pub(crate) enum ValueTest {
    /// `null`: the field is absent or null.
    Null,
    Str {
        pattern: StrPattern,
        cased: bool,
    },
    Regex(regex::Regex),
    Cidr(ipnet::IpNet),
    Compare {
        op: CompareOp,
        number: f64,
    },
    /// `|fieldref`: equal to (or starts/ends with, contains) another field of the event.
    FieldRef {
        paths: Box<[String]>,
        anchor: Anchor,
        cased: bool,
    },
    /// `|neq`: the field is present and not equal.
    Not(Box<ValueTest>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CompareOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Anchor {
    Exact,
    Contains,
    StartsWith,
    EndsWith,
}

/// One token of a wildcard pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Lit(char),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters.
    Star,
    /// One of these characters (`windash`).
    Class(Box<[char]>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StrPattern {
    Exact(String),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    /// `*` alone: any value.
    Any,
    Glob(Vec<Tok>),
}

impl StrPattern {
    /// Picks the cheapest form for the tokens (already lowercased when not cased).
    pub(crate) fn from_tokens(tokens: Vec<Tok>) -> Self {
        let mut toks: Vec<Tok> = Vec::with_capacity(tokens.len());
        for tok in tokens {
            if tok == Tok::Star && toks.last() == Some(&Tok::Star) {
                continue;
            }
            toks.push(tok);
        }
        let lead = toks.first() == Some(&Tok::Star);
        let trail = toks.len() > usize::from(lead) && toks.last() == Some(&Tok::Star);
        let inner = &toks[usize::from(lead)..toks.len() - usize::from(trail)];
        let literal: Option<String> = inner
            .iter()
            .map(|t| match t {
                Tok::Lit(c) => Some(*c),
                _ => None,
            })
            .collect();
        match (literal, lead, trail) {
            (Some(lit), true, _) if lit.is_empty() => StrPattern::Any,
            (Some(lit), false, false) => StrPattern::Exact(lit),
            (Some(lit), true, true) => StrPattern::Contains(lit),
            (Some(lit), false, true) => StrPattern::StartsWith(lit),
            (Some(lit), true, false) => StrPattern::EndsWith(lit),
            (None, _, _) => StrPattern::Glob(toks),
        }
    }

    fn matches(&self, text: &str) -> bool {
        match self {
            StrPattern::Exact(lit) => text == lit,
            StrPattern::Contains(lit) => text.contains(lit.as_str()),
            StrPattern::StartsWith(lit) => text.starts_with(lit.as_str()),
            StrPattern::EndsWith(lit) => text.ends_with(lit.as_str()),
            StrPattern::Any => true,
            StrPattern::Glob(toks) => glob(toks, text),
        }
    }
}

/// Wildcard match with backtracking to the last `*` only: O(pattern × text) time, no
/// allocation beyond the text's characters.
fn glob(toks: &[Tok], text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < chars.len() {
        let step = match toks.get(p) {
            Some(Tok::Lit(c)) => *c == chars[t],
            Some(Tok::One) => true,
            Some(Tok::Class(set)) => set.contains(&chars[t]),
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            None => false,
        };
        if step {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    toks[p..].iter().all(|tok| *tok == Tok::Star)
}

/// The text form of a scalar JSON value (numbers and booleans as written).
pub(crate) fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// How the matcher reads an event: directly ([`Plain`]) or memoized for the many rules
/// an [`crate::Engine`] tries on one event ([`Memo`]).
pub(crate) trait Source {
    /// The value at `path`, if present.
    fn field(&self, path: &str) -> Option<&Value>;

    /// Calls `f` with `text` lowercased. `text` must be borrowed from the event.
    fn with_lower<R>(&self, text: &str, f: impl FnOnce(&str) -> R) -> R {
        f(&lowercase(text))
    }
}

/// An event read directly.
pub(crate) struct Plain<'e, F: ?Sized>(pub(crate) &'e F);

impl<F: Fields + ?Sized> Source for Plain<'_, F> {
    fn field(&self, path: &str) -> Option<&Value> {
        self.0.field(path)
    }
}

/// An event whose field lookups and lowercased texts are computed once each. Keys are the
/// addresses of the path and text strings, so every path looked up must outlive the memo
/// (rule paths and constants do) and texts must be borrowed from the event.
pub(crate) struct Memo<'e, F: ?Sized> {
    event: &'e F,
    fields: RefCell<HashMap<Addr, Option<&'e Value>, BuildHasherDefault<AddrHasher>>>,
    /// Lowercased texts by address; `None`: already lowercase.
    lower: RefCell<Vec<(Addr, Option<Box<str>>)>>,
}

impl<'e, F: Fields + ?Sized> Memo<'e, F> {
    pub(crate) fn new(event: &'e F) -> Self {
        Self {
            event,
            fields: RefCell::default(),
            lower: RefCell::default(),
        }
    }
}

/// A string's address and length.
type Addr = (usize, usize);

fn addr(text: &str) -> Addr {
    (text.as_ptr() as usize, text.len())
}

impl<F: Fields + ?Sized> Source for Memo<'_, F> {
    fn field(&self, path: &str) -> Option<&Value> {
        let key = addr(path);
        if let Some(found) = self.fields.borrow().get(&key) {
            return *found;
        }
        let found = self.event.field(path);
        self.fields.borrow_mut().insert(key, found);
        found
    }

    fn with_lower<R>(&self, text: &str, f: impl FnOnce(&str) -> R) -> R {
        let key = addr(text);
        {
            let cache = self.lower.borrow();
            if let Some((_, cached)) = cache.iter().find(|(k, _)| *k == key) {
                return f(cached.as_deref().unwrap_or(text));
            }
        }
        let lowered = match lowercase(text) {
            Cow::Owned(owned) => Some(owned.into_boxed_str()),
            Cow::Borrowed(_) => None,
        };
        let result = f(lowered.as_deref().unwrap_or(text));
        self.lower.borrow_mut().push((key, lowered));
        result
    }
}

/// A multiplicative hash for address keys.
#[derive(Default)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(crate) fn lowercase(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        // Same result as `to_lowercase` on ASCII, without the Unicode tables.
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        }
    } else if text.chars().any(char::is_uppercase) {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn lookup<'e, F: Source + ?Sized>(event: &'e F, paths: &[String]) -> Option<&'e Value> {
    paths
        .iter()
        .find_map(|path| event.field(path).filter(|v| !v.is_null()))
}

impl ValueTest {
    /// Whether the (present or absent) field value passes.
    fn matches<F: Source + ?Sized>(&self, value: Option<&Value>, event: &F) -> bool {
        if let ValueTest::Null = self {
            return value.is_none_or(Value::is_null);
        }
        if let ValueTest::Not(inner) = self {
            return value.is_some_and(|v| !v.is_null() && !inner.matches(Some(v), event));
        }
        match value {
            None | Some(Value::Null) | Some(Value::Object(_)) => false,
            Some(Value::Array(items)) => items.iter().any(|item| self.matches_scalar(item, event)),
            Some(scalar) => self.matches_scalar(scalar, event),
        }
    }

    fn matches_scalar<F: Source + ?Sized>(&self, value: &Value, event: &F) -> bool {
        match self {
            ValueTest::Null | ValueTest::Not(_) => false,
            ValueTest::Str { pattern, cased } => match value {
                Value::String(text) if *cased => pattern.matches(text),
                Value::String(text) => event.with_lower(text, |lower| pattern.matches(lower)),
                other => scalar_text(other).is_some_and(|text| {
                    if *cased {
                        pattern.matches(&text)
                    } else {
                        pattern.matches(&lowercase(&text))
                    }
                }),
            },
            ValueTest::Regex(regex) => scalar_text(value).is_some_and(|text| regex.is_match(&text)),
            ValueTest::Cidr(net) => scalar_text(value)
                .and_then(|text| text.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| net.contains(&ip)),
            ValueTest::Compare { op, number: limit } => number(value).is_some_and(|n| match op {
                CompareOp::Gt => n > *limit,
                CompareOp::Gte => n >= *limit,
                CompareOp::Lt => n < *limit,
                CompareOp::Lte => n <= *limit,
            }),
            ValueTest::FieldRef {
                paths,
                anchor,
                cased,
            } => {
                let Some(other) = lookup(event, paths).and_then(scalar_text) else {
                    return false;
                };
                let Some(text) = scalar_text(value) else {
                    return false;
                };
                let (text, other) = if *cased {
                    (text, other)
                } else {
                    (
                        Cow::Owned(text.to_lowercase()),
                        Cow::Owned(other.to_lowercase()),
                    )
                };
                match anchor {
                    Anchor::Exact => text == other,
                    Anchor::Contains => text.contains(other.as_ref()),
                    Anchor::StartsWith => text.starts_with(other.as_ref()),
                    Anchor::EndsWith => text.ends_with(other.as_ref()),
                }
            }
        }
    }
}

impl Item {
    pub(crate) fn matches<F: Source + ?Sized>(&self, event: &F) -> bool {
        match &self.target {
            Target::Field(paths) => {
                let value = lookup(event, paths);
                match &self.test {
                    ItemTest::Exists(want) => value.is_some() == *want,
                    ItemTest::Values { all, values } => {
                        if *all {
                            values.iter().all(|v| v.matches(value, event))
                        } else {
                            values.iter().any(|v| v.matches(value, event))
                        }
                    }
                }
            }
            Target::Keywords => {
                let ItemTest::Values { all, values } = &self.test else {
                    return false;
                };
                let hit = |test: &ValueTest| {
                    KEYWORD_FIELDS.iter().any(|path| {
                        event
                            .field(path)
                            .is_some_and(|v| test.matches(Some(v), event))
                    })
                };
                if *all {
                    values.iter().all(hit)
                } else {
                    values.iter().any(hit)
                }
            }
        }
    }
}

impl Detection {
    pub(crate) fn matches<F: Source + ?Sized>(&self, event: &F) -> bool {
        match self {
            Detection::AllOf(items) => items.iter().all(|item| item.matches(event)),
            Detection::AnyOf(branches) => branches.iter().any(|b| b.matches(event)),
            Detection::AllBranches(branches) => branches.iter().all(|b| b.matches(event)),
        }
    }

    /// Like [`Self::matches`], collecting the Sigma fields of the items that held.
    pub(crate) fn explain<F: Source + ?Sized>(&self, event: &F, fields: &mut Vec<String>) -> bool {
        match self {
            Detection::AllOf(items) => {
                if !items.iter().all(|item| item.matches(event)) {
                    return false;
                }
                for item in items {
                    let name = item.field.clone().unwrap_or_else(|| "keywords".to_owned());
                    if !fields.contains(&name) {
                        fields.push(name);
                    }
                }
                true
            }
            Detection::AnyOf(branches) => branches.iter().any(|b| b.explain(event, fields)),
            Detection::AllBranches(branches) => {
                if !branches.iter().all(|b| b.matches(event)) {
                    return false;
                }
                branches.iter().all(|b| b.explain(event, fields))
            }
        }
    }
}

/// A compiled rule body: routing filter, detections and condition.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub(crate) filter: EventFilter,
    pub(crate) detections: Vec<NamedDetection>,
    pub(crate) condition: Expr,
}

impl Program {
    pub(crate) fn matches<F: Source + ?Sized>(&self, event: &F) -> bool {
        self.filter.matches(event) && self.eval(&self.condition, event)
    }

    fn eval<F: Source + ?Sized>(&self, expr: &Expr, event: &F) -> bool {
        match expr {
            Expr::And(parts) => parts.iter().all(|p| self.eval(p, event)),
            Expr::Or(parts) => parts.iter().any(|p| self.eval(p, event)),
            Expr::Not(inner) => !self.eval(inner, event),
            Expr::Detection(idx) => self.detections[*idx].body.matches(event),
            Expr::AtLeast(n, idxs) => {
                let mut hits = 0;
                for idx in idxs {
                    if self.detections[*idx].body.matches(event) {
                        hits += 1;
                        if hits >= *n {
                            return true;
                        }
                    }
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod glob_tests {
    use super::*;

    fn pattern(text: &str) -> StrPattern {
        let toks = text
            .chars()
            .map(|c| match c {
                '*' => Tok::Star,
                '?' => Tok::One,
                c => Tok::Lit(c),
            })
            .collect();
        StrPattern::from_tokens(toks)
    }

    #[test]
    fn glob_forms() {
        assert_eq!(pattern("abc"), StrPattern::Exact("abc".into()));
        assert_eq!(pattern("*abc*"), StrPattern::Contains("abc".into()));
        assert_eq!(pattern("abc*"), StrPattern::StartsWith("abc".into()));
        assert_eq!(pattern("**abc"), StrPattern::EndsWith("abc".into()));
        assert_eq!(pattern("*"), StrPattern::Any);
        for (pat, text, want) in [
            ("a*c", "abbbc", true),
            ("a*c", "abbb", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*a*b*c*", "xxaxxbxxcxx", true),
            ("*a*b*c*", "xxaxxcxxbxx", false),
            ("a*b?d", "aXbYbZd", true),
            ("?", "é", true),
        ] {
            assert_eq!(pattern(pat).matches(text), want, "{pat} vs {text}");
        }
    }
}
