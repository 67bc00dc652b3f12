//! The matcher: indicators indexed by kind for constant-time lookups of an event's
//! observables. IPs by exact address and by prefix length (one hash map per length in
//! use), domains by name with a walk up the parents for `include_subdomains`, URLs by
//! normalized form, hashes and emails by value.

use std::borrow::Cow;
use std::net::IpAddr;

use event::{Event, Value};
use ipnet::IpNet;
use jiff::Timestamp;
use rustc_hash::FxHashMap;

use crate::model::{Indicator, IndicatorKind, canonical_ip, normalize_url};
use crate::set::IndicatorSet;

/// ECS fields holding IP addresses that are checked.
pub const IP_FIELDS: &[&str] = &[
    "source.ip",
    "destination.ip",
    "client.ip",
    "server.ip",
    "source.nat.ip",
    "destination.nat.ip",
    "dns.resolved_ip",
];
/// ECS fields holding domain names that are checked.
pub const DOMAIN_FIELDS: &[&str] = &[
    "dns.question.name",
    "url.domain",
    "destination.domain",
    "source.domain",
    "server.domain",
    "client.domain",
    "tls.client.server_name",
];
/// ECS fields holding URLs that are checked (their host is checked as a domain too).
pub const URL_FIELDS: &[&str] = &["url.full", "url.original"];
/// ECS fields holding file hashes that are checked, with their kind.
pub const HASH_FIELDS: &[(&str, IndicatorKind)] = &[
    ("file.hash.md5", IndicatorKind::Md5),
    ("file.hash.sha1", IndicatorKind::Sha1),
    ("file.hash.sha256", IndicatorKind::Sha256),
    ("file.hash.sha512", IndicatorKind::Sha512),
    ("process.hash.md5", IndicatorKind::Md5),
    ("process.hash.sha1", IndicatorKind::Sha1),
    ("process.hash.sha256", IndicatorKind::Sha256),
    ("process.hash.sha512", IndicatorKind::Sha512),
];
/// ECS fields holding email addresses that are checked.
pub const EMAIL_FIELDS: &[&str] = &[
    "email.from.address",
    "email.sender.address",
    "email.reply_to.address",
];
/// ECS fields holding TLS fingerprints that are checked.
pub const FINGERPRINT_FIELDS: &[(&str, IndicatorKind)] = &[
    ("tls.client.ja3", IndicatorKind::Ja3),
    ("tls.client.ja4", IndicatorKind::Ja4),
];

/// The 128-bit hashes of a domain name's suffixes, each starting at a label (`a.b.c`,
/// `b.c`, `c`), ASCII case folded, computed in one pass from the right: the matcher's
/// domain key.
#[derive(Default)]
struct SuffixHashes {
    /// From the TLD up: `stack[0]` is the last label's suffix. Names with more labels than
    /// fit keep the rest in `spill` (hostile or absurd names only).
    stack: [u128; 32],
    spill: Vec<u128>,
    depth: usize,
}

impl SuffixHashes {
    /// Hashes the suffixes of `name`; returns its number of labels.
    fn compute(&mut self, name: &str) -> usize {
        // Two independent multiplicative hashes (FxHash's and a splitmix constant).
        const K1: u64 = 0x517c_c1b7_2722_0a95;
        const K2: u64 = 0x9e37_79b9_7f4a_7c15;
        let bytes = name.as_bytes();
        let (mut h1, mut h2) = (0u64, 0x243f_6a88_85a3_08d3u64);
        let mut end = bytes.len();
        self.depth = 0;
        loop {
            let start = bytes[..end]
                .iter()
                .rposition(|&b| b == b'.')
                .map_or(0, |dot| dot + 1);
            // Label separator first, so `ab.c` and `a.bc` differ.
            h1 = (h1.rotate_left(5) ^ 0x2e).wrapping_mul(K1);
            h2 = (h2.rotate_left(23) ^ 0x2e).wrapping_mul(K2);
            for &b in &bytes[start..end] {
                let b = u64::from(b.to_ascii_lowercase());
                h1 = (h1.rotate_left(5) ^ b).wrapping_mul(K1);
                h2 = (h2.rotate_left(23) ^ b).wrapping_mul(K2);
            }
            let hash = (u128::from(h1) << 64) | u128::from(h2);
            if self.depth < self.stack.len() {
                self.stack[self.depth] = hash;
            } else {
                self.spill.push(hash);
            }
            self.depth += 1;
            if start == 0 {
                return self.depth;
            }
            end = start - 1;
        }
    }

    /// The hash of the suffix after the `i`-th dot (0: the whole name).
    fn get(&self, i: usize) -> u128 {
        let from_tld = self.depth - 1 - i;
        if from_tld < self.stack.len() {
            self.stack[from_tld]
        } else {
            self.spill[from_tld - self.stack.len()]
        }
    }
}

/// One indicator found in an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    /// The indicator.
    pub indicator: &'a Indicator,
    /// The event field it was found in.
    pub field: &'static str,
    /// The field's value.
    pub value: String,
}

/// Indicators indexed for lookups; build it from an [`IndicatorSet`] with
/// [`Matcher::new`]. Only indicators active at build time are indexed: rebuild it when
/// the set changes or an indicator expires.
#[derive(Debug, Default)]
pub struct Matcher {
    indicators: Vec<std::sync::Arc<Indicator>>,
    v4_exact: FxHashMap<u32, u32>,
    v4_nets: Vec<(u8, FxHashMap<u32, u32>)>,
    v6_exact: FxHashMap<u128, u32>,
    v6_nets: Vec<(u8, FxHashMap<u128, u32>)>,
    /// Domains by the 128-bit [`SuffixHashes`] key of their name, with whether they
    /// include subdomains: a lookup touches no string (a false match would need a 128-bit
    /// collision).
    domains: FxHashMap<u128, (u32, bool)>,
    /// Bit `n`: some indexed domain has `n` labels (63: 63 or more), for all domains and
    /// for those that include subdomains. A name's suffixes of other depths are not
    /// looked up at all, so most misses cost one probe.
    exact_depths: u64,
    parent_depths: u64,
    /// By kind (index in [`IndicatorKind::ALL`]): URLs, hashes, emails, fingerprints.
    values: Vec<FxHashMap<Box<str>, u32>>,
}

fn kind_slot(kind: IndicatorKind) -> usize {
    IndicatorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is in ALL")
}

impl Matcher {
    /// Indexes the indicators of `set` active at `now`.
    pub fn new(set: &IndicatorSet, now: Timestamp) -> Matcher {
        Self::from_indicators(
            set.indicators()
                .iter()
                .filter(|i| i.is_active(now))
                .cloned(),
        )
    }

    /// Indexes the given indicators (all of them).
    pub fn from_indicators(
        indicators: impl IntoIterator<Item = impl Into<std::sync::Arc<Indicator>>>,
    ) -> Matcher {
        let mut matcher = Matcher {
            values: vec![FxHashMap::default(); IndicatorKind::ALL.len()],
            ..Matcher::default()
        };
        for indicator in indicators {
            let indicator: std::sync::Arc<Indicator> = indicator.into();
            let idx =
                u32::try_from(matcher.indicators.len()).expect("fewer than 4 billion indicators");
            match indicator.kind {
                IndicatorKind::Ip => matcher.index_ip(&indicator.value, idx),
                IndicatorKind::Domain => matcher.index_domain(&indicator, idx),
                kind => {
                    matcher.values[kind_slot(kind)]
                        .insert(indicator.value.clone().into_boxed_str(), idx);
                }
            }
            matcher.indicators.push(indicator);
        }
        matcher
            .v4_nets
            .sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        matcher
            .v6_nets
            .sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        matcher
    }

    fn index_domain(&mut self, indicator: &Indicator, idx: u32) {
        let mut hashes = SuffixHashes::default();
        let depth = hashes.compute(&indicator.value);
        let bit = 1u64 << depth.min(63);
        self.exact_depths |= bit;
        if indicator.include_subdomains {
            self.parent_depths |= bit;
        }
        self.domains
            .insert(hashes.get(0), (idx, indicator.include_subdomains));
    }

    fn index_ip(&mut self, value: &str, idx: u32) {
        if let Ok(ip) = value.parse::<IpAddr>() {
            match canonical_ip(ip) {
                IpAddr::V4(v4) => self.v4_exact.insert(u32::from(v4), idx),
                IpAddr::V6(v6) => self.v6_exact.insert(u128::from(v6), idx),
            };
            return;
        }
        match value.parse::<IpNet>() {
            Ok(IpNet::V4(net)) => {
                let len = net.prefix_len();
                let slot = match self.v4_nets.iter().position(|(l, _)| *l == len) {
                    Some(slot) => slot,
                    None => {
                        self.v4_nets.push((len, FxHashMap::default()));
                        self.v4_nets.len() - 1
                    }
                };
                self.v4_nets[slot].1.insert(u32::from(net.network()), idx);
            }
            Ok(IpNet::V6(net)) => {
                let len = net.prefix_len();
                let slot = match self.v6_nets.iter().position(|(l, _)| *l == len) {
                    Some(slot) => slot,
                    None => {
                        self.v6_nets.push((len, FxHashMap::default()));
                        self.v6_nets.len() - 1
                    }
                };
                self.v6_nets[slot].1.insert(u128::from(net.network()), idx);
            }
            Err(_) => {}
        }
    }

    /// Number of indicators indexed.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// The indicator for an IP address: the exact address, else the most specific block.
    pub fn lookup_ip(&self, ip: IpAddr) -> Option<&Indicator> {
        let idx = match canonical_ip(ip) {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                self.v4_exact.get(&bits).copied().or_else(|| {
                    self.v4_nets.iter().find_map(|(len, map)| {
                        let mask = if *len == 0 { 0 } else { u32::MAX << (32 - len) };
                        map.get(&(bits & mask)).copied()
                    })
                })
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                self.v6_exact.get(&bits).copied().or_else(|| {
                    self.v6_nets.iter().find_map(|(len, map)| {
                        let mask = if *len == 0 {
                            0
                        } else {
                            u128::MAX << (128 - len)
                        };
                        map.get(&(bits & mask)).copied()
                    })
                })
            }
        }?;
        Some(&*self.indicators[idx as usize])
    }

    /// The indicator for a domain name: the name itself, else the nearest parent whose
    /// indicator includes subdomains.
    pub fn lookup_domain(&self, name: &str) -> Option<&Indicator> {
        if self.exact_depths == 0 {
            return None;
        }
        let name = name.trim_end_matches('.');
        // One pass from the right hashes every suffix (`a.b.c`, `b.c`, `c`); no allocation.
        let mut hashes = SuffixHashes::default();
        let depth = hashes.compute(name);
        if self.exact_depths & (1 << depth.min(63)) != 0
            && let Some(&(idx, _)) = self.domains.get(&hashes.get(0))
        {
            return Some(&*self.indicators[idx as usize]);
        }
        if self.parent_depths == 0 {
            return None;
        }
        // Parents, nearest first: the suffix after the i-th dot has `depth - i` labels.
        for i in 1..depth {
            if self.parent_depths & (1 << (depth - i).min(63)) == 0 {
                continue;
            }
            if let Some(&(idx, true)) = self.domains.get(&hashes.get(i)) {
                return Some(&*self.indicators[idx as usize]);
            }
        }
        None
    }

    /// The indicator for a value of `kind` (URL, hash, email, fingerprint), normalized
    /// here.
    pub fn lookup_value(&self, kind: IndicatorKind, value: &str) -> Option<&Indicator> {
        let map = &self.values[kind_slot(kind)];
        if map.is_empty() {
            return None;
        }
        let normalized: Cow<'_, str> = match kind {
            IndicatorKind::Url => Cow::Owned(normalize_url(value).ok()?),
            _ if value.bytes().any(|b| b.is_ascii_uppercase()) => {
                Cow::Owned(value.to_ascii_lowercase())
            }
            _ => Cow::Borrowed(value),
        };
        map.get(normalized.as_ref())
            .map(|&idx| &*self.indicators[idx as usize])
    }

    /// Every indicator found in the event's observables (one hit per field and value).
    pub fn match_event<'a>(&'a self, event: &Event, hits: &mut Vec<Hit<'a>>) {
        if self.indicators.is_empty() {
            return;
        }
        for field in IP_FIELDS {
            for_each_str(event.get(field), |value| {
                if let Ok(ip) = value.parse::<IpAddr>()
                    && let Some(indicator) = self.lookup_ip(ip)
                {
                    hits.push(Hit {
                        indicator,
                        field,
                        value: value.to_owned(),
                    });
                }
            });
        }
        if !self.domains.is_empty() {
            for field in DOMAIN_FIELDS {
                for_each_str(event.get(field), |value| {
                    if let Some(indicator) = self.lookup_domain(value) {
                        hits.push(Hit {
                            indicator,
                            field,
                            value: value.to_owned(),
                        });
                    }
                });
            }
        }
        let url_kind = IndicatorKind::Url;
        let check_urls = !self.values[kind_slot(url_kind)].is_empty();
        for field in URL_FIELDS {
            for_each_str(event.get(field), |value| {
                if check_urls && let Some(indicator) = self.lookup_value(url_kind, value) {
                    hits.push(Hit {
                        indicator,
                        field,
                        value: value.to_owned(),
                    });
                }
            });
        }
        for (field, kind) in HASH_FIELDS.iter().chain(FINGERPRINT_FIELDS) {
            for_each_str(event.get(field), |value| {
                if let Some(indicator) = self.lookup_value(*kind, value) {
                    hits.push(Hit {
                        indicator,
                        field,
                        value: value.to_owned(),
                    });
                }
            });
        }
        for field in EMAIL_FIELDS {
            for_each_str(event.get(field), |value| {
                if let Some(indicator) = self.lookup_value(IndicatorKind::Email, value) {
                    hits.push(Hit {
                        indicator,
                        field,
                        value: value.to_owned(),
                    });
                }
            });
        }
    }
}

fn for_each_str(value: Option<&Value>, mut visit: impl FnMut(&str)) {
    match value {
        Some(Value::String(s)) => visit(s),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(visit),
        _ => {}
    }
}

/// A matcher shared between the thread that matches events and the code that changes
/// indicators: readers take the current [`Matcher`] (an `Arc`, cheap), writers swap in a
/// rebuilt one. Matching never waits for a rebuild.
#[derive(Debug, Clone, Default)]
pub struct SharedMatcher {
    current: std::sync::Arc<std::sync::RwLock<std::sync::Arc<Matcher>>>,
}

impl SharedMatcher {
    /// Shares `matcher`.
    pub fn new(matcher: Matcher) -> Self {
        Self {
            current: std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(matcher))),
        }
    }

    /// The matcher in force now.
    pub fn current(&self) -> std::sync::Arc<Matcher> {
        // A poisoned lock only means a writer panicked mid-swap; the Arc inside is whole.
        let guard = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::sync::Arc::clone(&guard)
    }

    /// Puts `matcher` in force.
    pub fn replace(&self, matcher: Matcher) {
        let mut guard = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = std::sync::Arc::new(matcher);
    }
}

/// Sightings of indicators in live events, collected by the matching thread and drained
/// into the indicator set from time to time (they are soft state: a crash loses the
/// counts since the last drain, never an alert).
#[derive(Debug, Clone, Default)]
pub struct SightingLog {
    seen: std::sync::Arc<std::sync::Mutex<Sighted>>,
}

/// Per indicator id: count, first and last time.
type Sighted = FxHashMap<String, (u64, Timestamp, Timestamp)>;

/// Most distinct indicators remembered between drains.
const MAX_SIGHTED: usize = 100_000;

impl SightingLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one sighting of indicator `id` at `at`.
    pub fn record(&self, id: &str, at: Timestamp) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((count, first, last)) = seen.get_mut(id) {
            *count += 1;
            *first = (*first).min(at);
            *last = (*last).max(at);
        } else if seen.len() < MAX_SIGHTED {
            seen.insert(id.to_owned(), (1, at, at));
        }
    }

    /// Takes what was recorded: indicator id, count, first and last time.
    pub fn drain(&self) -> Vec<(String, u64, Timestamp, Timestamp)> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.drain()
            .map(|(id, (count, first, last))| (id, count, first, last))
            .collect()
    }
}
