//! The matcher: indicators indexed by kind for lookups of an event's observables. IPs by
//! exact address and by prefix length (one table per length in use), domains by the hash
//! of each suffix with a walk up the parents for `include_subdomains`, URLs by normalized
//! form, hashes by digest bytes, emails and fingerprints by value, all under 96-bit keys.
//! The tables hold 32-bit locators of the set's compact records (shared, not copied); a
//! hit decodes its record.

use std::borrow::Cow;
use std::net::IpAddr;

use event::{Event, Value};
use jiff::Timestamp;
use rustc_hash::FxHashMap;

use crate::compact::{self, ArenaSnapshot, Head, Locator, ValueRef};
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

/// A per-process random seed for the matcher's hashes, so nobody can prepare values that
/// all land in one bucket.
fn seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(0x5e4e_u64) | 1
    })
}

const K1: u64 = 0x517c_c1b7_2722_0a95;

/// The key of a value's bytes: a seeded 64-bit hash and 32 more bits from a second seed.
fn value_key(bytes: &[u8]) -> Key96 {
    Key96::new(
        hash_bytes(bytes, seed()),
        hash_bytes(bytes, seed().rotate_left(32) ^ K2) as u32,
    )
}

const K2: u64 = 0x9e37_79b9_7f4a_7c15;

/// A seeded 64-bit hash of bytes (FxHash-style, 8 bytes a step).
fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let mut h = seed;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ word).wrapping_mul(K1);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K1);
    }
    // Final avalanche: the table takes its bucket from the top bits.
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

/// The 96-bit hashes of a domain name's suffixes, each starting at a label (`a.b.c`,
/// `b.c`, `c`), ASCII case folded, computed in one pass from the right (two independent
/// multiplicative lanes): the matcher's domain key.
#[derive(Default)]
struct SuffixHashes {
    /// From the TLD up: `stack[0]` is the last label's suffix. Names with more labels than
    /// fit keep the rest in `spill` (hostile or absurd names only).
    stack: [(u64, u32); 32],
    spill: Vec<(u64, u32)>,
    depth: usize,
}

impl SuffixHashes {
    /// Hashes the suffixes of `name`; returns its number of labels.
    fn compute(&mut self, name: &str) -> usize {
        let bytes = name.as_bytes();
        let mut h = seed();
        let mut h2 = seed().rotate_left(32) ^ K2;
        let mut end = bytes.len();
        self.depth = 0;
        loop {
            let start = bytes[..end]
                .iter()
                .rposition(|&b| b == b'.')
                .map_or(0, |dot| dot + 1);
            // Label separator first, so `ab.c` and `a.bc` differ.
            h = (h.rotate_left(5) ^ 0x2e).wrapping_mul(K1);
            h2 = (h2.rotate_left(23) ^ 0x2e).wrapping_mul(K2);
            // Eight bytes a step (the last word zero-padded: names hold no NUL).
            for chunk in bytes[start..end].chunks(8) {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                let w = ascii_lowercase_word(u64::from_le_bytes(word));
                h = (h.rotate_left(5) ^ w).wrapping_mul(K1);
                h2 = (h2.rotate_left(23) ^ w).wrapping_mul(K2);
            }
            let mixed = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let entry = (mixed ^ (mixed >> 32), (h2 >> 32) as u32);
            if self.depth < self.stack.len() {
                self.stack[self.depth] = entry;
            } else {
                self.spill.push(entry);
            }
            self.depth += 1;
            if start == 0 {
                return self.depth;
            }
            end = start - 1;
        }
    }

    /// The key of the suffix after the `i`-th dot (0: the whole name), its lowest bit
    /// left for "includes subdomains".
    fn get(&self, i: usize) -> Key96 {
        let from_tld = self.depth - 1 - i;
        let (hash, check) = if from_tld < self.stack.len() {
            self.stack[from_tld]
        } else {
            self.spill[from_tld - self.stack.len()]
        };
        Key96::new(hash, check & !1)
    }
}

/// ASCII lowercase of eight bytes at once: `A`–`Z` get bit 5 set, nothing else changes.
pub(crate) fn ascii_lowercase_word(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = w & LOW7;
    // Per byte, no carries across bytes (at most 0x7f + 0x3f): the high bit is set when
    // the byte is above `Z` (0x5a), resp. at least `A` (0x41).
    let above_z = low + 0x2525_2525_2525_2525;
    let from_a = low + 0x3f3f_3f3f_3f3f_3f3f;
    let upper = from_a & !above_z & !w & HIGH;
    w | (upper >> 2)
}

/// A key of a [`Table`]: mixed into 64 bits whose top bits pick the bucket.
trait TableKey: Copy + Ord + Default {
    fn mix(self) -> u64;
}

impl TableKey for u32 {
    fn mix(self) -> u64 {
        (u64::from(self) ^ seed()).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

/// A 96-bit key as 32-bit words (a slot is 16 B, no padding): a 64-bit hash that places
/// it and 32 more bits. A false match needs both to collide (about one in 2^96 lookups
/// per indicator), so hits are not checked against the record: that would be a second
/// cache miss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Key96([u32; 3]);

impl Key96 {
    fn new(hash: u64, check: u32) -> Self {
        Key96([(hash >> 32) as u32, hash as u32, check])
    }

    fn check(self) -> u32 {
        self.0[2]
    }
}

impl TableKey for Key96 {
    fn mix(self) -> u64 {
        (u64::from(self.0[0]) << 32) | u64::from(self.0[1])
    }
}

impl TableKey for u128 {
    fn mix(self) -> u64 {
        (((self >> 64) as u64) ^ (self as u64).rotate_left(29) ^ seed())
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

/// A slot of a [`Table`]; `locator == EMPTY` marks a free one.
#[derive(Debug, Clone, Copy)]
struct Slot<K> {
    key: K,
    locator: Locator,
}

/// No record is ever there (the arena stops short of it).
const EMPTY: Locator = Locator::MAX;

/// A read-only hash table from keys to record locators, built once: ordered linear
/// probing. Each entry sits at or after its home slot (the mixed key scaled to the table),
/// entries in the order of their mixed keys, 11% of the slots free. A lookup reads from
/// the home slot on, usually one cache line, and stops at a free slot or a larger key.
/// No per-entry allocation: 8 B a slot for IPv4 keys, 12 B for 64-bit hashes.
#[derive(Debug, Clone)]
struct Table<K> {
    /// Slots used for homes (more may follow: the overflow of the last ones).
    homes: usize,
    slots: Vec<Slot<K>>,
    len: usize,
    /// One bit per 8–16 slots' worth of keys, set for each key present: most misses are
    /// answered here, from a bitmap small enough to stay in cache, without touching the
    /// slots (at 10 million indicators the slots are 150 MB: every probe is a miss of the
    /// CPU caches and the TLB).
    filter: Vec<u64>,
    filter_shift: u32,
}

impl<K: TableKey> Default for Table<K> {
    fn default() -> Self {
        Table {
            homes: 0,
            slots: Vec::new(),
            len: 0,
            filter: Vec::new(),
            filter_shift: 64,
        }
    }
}

/// The filter bit of a mixed key: other bits than the home slot's.
fn filter_bit(mixed: u64, shift: u32) -> usize {
    // An empty table's shift is 64: no bit, and its empty filter answers "absent".
    mixed
        .wrapping_mul(0xd6e8_feb8_6659_fd93)
        .checked_shr(shift)
        .unwrap_or(0) as usize
}

fn home(mixed: u64, homes: usize) -> usize {
    ((u128::from(mixed) * homes as u128) >> 64) as usize
}

impl<K: TableKey> Table<K> {
    fn build(mut entries: Vec<(K, Locator)>) -> Self {
        let len = entries.len();
        if len == 0 {
            return Table::default();
        }
        // 11% of the slots free: with the filter in front, only hits and one miss in ten
        // probe, and those rarely walk past one cache line.
        let homes = len + len / 8 + 1;
        entries.sort_unstable_by_key(|&(key, _)| (key.mix(), key));
        let free = Slot {
            key: K::default(),
            locator: EMPTY,
        };
        let mut slots = vec![free; homes];
        let mut next = 0;
        for (key, locator) in entries {
            debug_assert!(locator != EMPTY);
            let at = home(key.mix(), homes).max(next);
            let slot = Slot { key, locator };
            if at < slots.len() {
                slots[at] = slot;
            } else {
                slots.push(slot);
            }
            next = at + 1;
        }
        // 8 to 16 bits per key: about one miss in ten gets past it.
        let filter_bits = (len * 8).next_power_of_two().max(64);
        let filter_shift = 64 - filter_bits.trailing_zeros();
        let mut filter = vec![0u64; filter_bits / 64];
        for slot in &slots {
            if slot.locator != EMPTY {
                let bit = filter_bit(slot.key.mix(), filter_shift);
                filter[bit / 64] |= 1 << (bit % 64);
            }
        }
        Table {
            homes,
            slots,
            len,
            filter,
            filter_shift,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entries whose mixed key is `key`'s (for IP keys, mixing is one-to-one: the
    /// entry of `key` itself), in order.
    fn get(&self, key: K) -> impl Iterator<Item = (K, Locator)> + '_ {
        let mixed = key.mix();
        let bit = filter_bit(mixed, self.filter_shift);
        let absent = self
            .filter
            .get(bit / 64)
            .is_none_or(|word| word & (1 << (bit % 64)) == 0);
        let start = if absent {
            self.slots.len()
        } else {
            home(mixed, self.homes)
        };
        // Skip the entries of smaller keys that overflowed into this home.
        let first = self.slots[start..]
            .iter()
            .position(|slot| slot.locator == EMPTY || slot.key.mix() >= mixed)
            .map_or(self.slots.len(), |i| start + i);
        self.slots[first..]
            .iter()
            .take_while(move |slot| slot.locator != EMPTY && slot.key.mix() == mixed)
            .map(|slot| (slot.key, slot.locator))
    }

    fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot<K>>() + self.filter.len() * 8
    }
}

/// An indicator a lookup found; decode it with [`Found::indicator`] (lookups themselves
/// allocate nothing).
#[derive(Clone, Copy)]
pub struct Found<'a> {
    arena: &'a ArenaSnapshot,
    at: Locator,
}

impl Found<'_> {
    /// The whole indicator.
    pub fn indicator(&self) -> Indicator {
        compact::decode(self.arena.get(self.at))
    }

    /// Its kind.
    pub fn kind(&self) -> IndicatorKind {
        compact::head(self.arena.get(self.at)).kind
    }
}

impl std::fmt::Debug for Found<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.indicator().fmt(f)
    }
}

/// One indicator found in an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The indicator (decoded from its compact record when it was found).
    pub indicator: Indicator,
    /// The event field it was found in.
    pub field: &'static str,
    /// The field's value.
    pub value: String,
}

/// Indicators indexed for lookups; build it from an [`IndicatorSet`] with
/// [`Matcher::new`]. Only indicators active at build time are indexed: rebuild it when
/// the set changes or an indicator expires. The records themselves are shared with the
/// set (its arena's chunks), not copied: the matcher adds only its tables.
#[derive(Debug, Default)]
pub struct Matcher {
    arena: ArenaSnapshot,
    len: usize,
    v4_exact: Table<u32>,
    /// By prefix length, longest first.
    v4_nets: Vec<(u8, Table<u32>)>,
    v6_exact: Table<u128>,
    v6_nets: Vec<(u8, Table<u128>)>,
    /// Domains by the hash of their name (see [`SuffixHashes`]).
    domains: Table<Key96>,
    /// Bit `n`: some indexed domain has `n` labels (63: 63 or more), for all domains and
    /// for those that include subdomains. A name's suffixes of other depths are not
    /// looked up at all, so most misses cost one probe.
    exact_depths: u64,
    parent_depths: u64,
    /// By kind (index in [`IndicatorKind::ALL`]): URLs, hashes, emails, fingerprints, by
    /// the hash of their value's bytes (digest bytes for hashes).
    values: Vec<Table<Key96>>,
}

fn kind_slot(kind: IndicatorKind) -> usize {
    IndicatorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is in ALL")
}

/// Entries of the tables being built.
#[derive(Default)]
struct Entries {
    v4: Vec<(u32, Locator)>,
    v4_nets: Vec<(u8, Vec<(u32, Locator)>)>,
    v6: Vec<(u128, Locator)>,
    v6_nets: Vec<(u8, Vec<(u128, Locator)>)>,
    domains: Vec<(Key96, Locator)>,
    values: Vec<Vec<(Key96, Locator)>>,
}

fn by_len<K>(nets: &mut Vec<(u8, Vec<K>)>, len: u8) -> &mut Vec<K> {
    let slot = match nets.iter().position(|(l, _)| *l == len) {
        Some(slot) => slot,
        None => {
            nets.push((len, Vec::new()));
            nets.len() - 1
        }
    };
    &mut nets[slot].1
}

impl Matcher {
    /// Indexes the indicators of `set` active at `now`.
    pub fn new(set: &IndicatorSet, now: Timestamp) -> Matcher {
        Self::build(set, |head| head.is_active(now))
    }

    /// Indexes the given indicators (all of them, active or not).
    pub fn from_indicators(
        indicators: impl IntoIterator<Item = impl Into<std::sync::Arc<Indicator>>>,
    ) -> Matcher {
        let mut set = IndicatorSet::new();
        for indicator in indicators {
            let indicator: std::sync::Arc<Indicator> = indicator.into();
            set.insert(std::sync::Arc::unwrap_or_clone(indicator));
        }
        Self::build(&set, |_| true)
    }

    fn build(set: &IndicatorSet, indexed: impl Fn(&Head<'_>) -> bool) -> Matcher {
        let mut entries = Entries {
            values: vec![Vec::new(); IndicatorKind::ALL.len()],
            ..Entries::default()
        };
        let mut matcher = Matcher::default();
        for (at, head) in set.heads() {
            if !indexed(&head) {
                continue;
            }
            let before = matcher.len;
            match (head.kind, head.value) {
                (IndicatorKind::Ip, ValueRef::Ip(ip, prefix)) => {
                    match (canonical_ip(ip), prefix) {
                        (IpAddr::V4(v4), None) => entries.v4.push((u32::from(v4), at)),
                        (IpAddr::V6(v6), None) => entries.v6.push((u128::from(v6), at)),
                        (IpAddr::V4(v4), Some(len)) => {
                            let mask = if len == 0 {
                                0
                            } else {
                                u32::MAX << (32 - len.min(32))
                            };
                            by_len(&mut entries.v4_nets, len).push((u32::from(v4) & mask, at));
                        }
                        (IpAddr::V6(v6), Some(len)) => {
                            let mask = if len == 0 {
                                0
                            } else {
                                u128::MAX << (128 - len.min(128))
                            };
                            by_len(&mut entries.v6_nets, len).push((u128::from(v6) & mask, at));
                        }
                    }
                    matcher.len += 1;
                }
                (IndicatorKind::Domain, ValueRef::Text(name)) => {
                    let name = String::from_utf8_lossy(name);
                    let mut hashes = SuffixHashes::default();
                    let depth = hashes.compute(&name);
                    let bit = 1u64 << depth.min(63);
                    matcher.exact_depths |= bit;
                    if head.include_subdomains {
                        matcher.parent_depths |= bit;
                    }
                    let key = hashes.get(0);
                    let flag = u32::from(head.include_subdomains);
                    entries
                        .domains
                        .push((Key96::new(key.mix(), key.check() | flag), at));
                    matcher.len += 1;
                }
                (IndicatorKind::Ip | IndicatorKind::Domain, _) => {}
                (kind, ValueRef::Binary(bytes) | ValueRef::Text(bytes)) => {
                    entries.values[kind_slot(kind)].push((value_key(bytes), at));
                    matcher.len += 1;
                }
                (_, ValueRef::Ip(..)) => {}
            }
            debug_assert!(matcher.len <= before + 1);
        }
        matcher.arena = set.arena_snapshot();
        matcher.v4_exact = Table::build(entries.v4);
        matcher.v6_exact = Table::build(entries.v6);
        matcher.v4_nets = entries
            .v4_nets
            .into_iter()
            .map(|(len, nets)| (len, Table::build(nets)))
            .collect();
        matcher.v6_nets = entries
            .v6_nets
            .into_iter()
            .map(|(len, nets)| (len, Table::build(nets)))
            .collect();
        matcher
            .v4_nets
            .sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        matcher
            .v6_nets
            .sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        matcher.domains = Table::build(entries.domains);
        matcher.values = entries.values.into_iter().map(Table::build).collect();
        matcher
    }

    /// Number of indicators indexed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the lookup tables (the records are the set's, shared).
    pub fn table_bytes(&self) -> usize {
        self.v4_exact.heap_bytes()
            + self.v6_exact.heap_bytes()
            + self
                .v4_nets
                .iter()
                .map(|(_, t)| t.heap_bytes())
                .sum::<usize>()
            + self
                .v6_nets
                .iter()
                .map(|(_, t)| t.heap_bytes())
                .sum::<usize>()
            + self.domains.heap_bytes()
            + self.values.iter().map(Table::heap_bytes).sum::<usize>()
    }

    fn found(&self, at: Locator) -> Found<'_> {
        Found {
            arena: &self.arena,
            at,
        }
    }

    /// The indicator for an IP address: the exact address, else the most specific block.
    pub fn lookup_ip(&self, ip: IpAddr) -> Option<Found<'_>> {
        let at = match canonical_ip(ip) {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                self.v4_exact
                    .get(bits)
                    .next()
                    .map(|(_, at)| at)
                    .or_else(|| {
                        self.v4_nets.iter().find_map(|(len, table)| {
                            let mask = if *len == 0 { 0 } else { u32::MAX << (32 - len) };
                            table.get(bits & mask).next().map(|(_, at)| at)
                        })
                    })
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                self.v6_exact
                    .get(bits)
                    .next()
                    .map(|(_, at)| at)
                    .or_else(|| {
                        self.v6_nets.iter().find_map(|(len, table)| {
                            let mask = if *len == 0 {
                                0
                            } else {
                                u128::MAX << (128 - len)
                            };
                            table.get(bits & mask).next().map(|(_, at)| at)
                        })
                    })
            }
        }?;
        Some(self.found(at))
    }

    /// The indicator for a domain name: the name itself, else the nearest parent whose
    /// indicator includes subdomains.
    pub fn lookup_domain(&self, name: &str) -> Option<Found<'_>> {
        if self.exact_depths == 0 {
            return None;
        }
        let name = name.trim_end_matches('.');
        // One pass from the right hashes every suffix (`a.b.c`, `b.c`, `c`); no allocation.
        let mut hashes = SuffixHashes::default();
        let depth = hashes.compute(name);
        // The key's lowest bit says whether the indicator includes subdomains.
        let candidate = |i: usize, parent: bool| {
            let key = hashes.get(i);
            self.domains
                .get(key)
                .find(|(found, _)| {
                    found.check() & !1 == key.check() && (!parent || found.check() & 1 == 1)
                })
                .map(|(_, at)| at)
        };
        if self.exact_depths & (1 << depth.min(63)) != 0
            && let Some(at) = candidate(0, false)
        {
            return Some(self.found(at));
        }
        if self.parent_depths == 0 {
            return None;
        }
        // Parents, nearest first: the suffix after the i-th dot has `depth - i` labels.
        for i in 1..depth {
            if self.parent_depths & (1 << (depth - i).min(63)) == 0 {
                continue;
            }
            if let Some(at) = candidate(i, true) {
                return Some(self.found(at));
            }
        }
        None
    }

    fn has_values(&self, kind: IndicatorKind) -> bool {
        self.values
            .get(kind_slot(kind))
            .is_some_and(|t| !t.is_empty())
    }

    /// The indicator for a value of `kind` (URL, hash, email, fingerprint), normalized
    /// here.
    pub fn lookup_value(&self, kind: IndicatorKind, value: &str) -> Option<Found<'_>> {
        // `get`: a default (never built) matcher has no tables at all.
        let table = self.values.get(kind_slot(kind)).filter(|t| !t.is_empty())?;
        if kind.is_hash() || kind == IndicatorKind::Ja3 {
            // Hex digests are stored as their bytes: decode without allocating.
            let mut digest = [0u8; 64];
            let bytes = value.as_bytes();
            if !bytes.len().is_multiple_of(2) || bytes.len() / 2 > digest.len() {
                return None;
            }
            let digest = &mut digest[..bytes.len() / 2];
            if !compact::unhex_into(bytes, digest) {
                return None;
            }
            let digest = &*digest;
            let key = value_key(digest);
            let (_, at) = table.get(key).find(|(found, _)| *found == key)?;
            return Some(self.found(at));
        }
        let normalized: Cow<'_, str> = match kind {
            IndicatorKind::Url => Cow::Owned(normalize_url(value).ok()?),
            _ if value.bytes().any(|b| b.is_ascii_uppercase()) => {
                Cow::Owned(value.to_ascii_lowercase())
            }
            _ => Cow::Borrowed(value),
        };
        let bytes = normalized.as_bytes();
        let key = value_key(bytes);
        let (_, at) = table.get(key).find(|(found, _)| *found == key)?;
        Some(self.found(at))
    }

    /// Every indicator found in the event's observables (one hit per field and value).
    pub fn match_event(&self, event: &Event, hits: &mut Vec<Hit>) {
        if self.is_empty() {
            return;
        }
        let mut hit = |found: Found<'_>, field: &'static str, value: &str| {
            hits.push(Hit {
                indicator: found.indicator(),
                field,
                value: value.to_owned(),
            });
        };
        let check_ips = !self.v4_exact.is_empty()
            || !self.v6_exact.is_empty()
            || !self.v4_nets.is_empty()
            || !self.v6_nets.is_empty();
        if check_ips {
            for field in IP_FIELDS {
                for_each_str(event.get(field), |value| {
                    if let Ok(ip) = value.parse::<IpAddr>()
                        && let Some(found) = self.lookup_ip(ip)
                    {
                        hit(found, field, value);
                    }
                });
            }
        }
        if !self.domains.is_empty() {
            for field in DOMAIN_FIELDS {
                for_each_str(event.get(field), |value| {
                    if let Some(found) = self.lookup_domain(value) {
                        hit(found, field, value);
                    }
                });
            }
        }
        if self.has_values(IndicatorKind::Url) {
            for field in URL_FIELDS {
                for_each_str(event.get(field), |value| {
                    if let Some(found) = self.lookup_value(IndicatorKind::Url, value) {
                        hit(found, field, value);
                    }
                });
            }
        }
        for (field, kind) in HASH_FIELDS.iter().chain(FINGERPRINT_FIELDS) {
            if !self.has_values(*kind) {
                continue;
            }
            for_each_str(event.get(field), |value| {
                if let Some(found) = self.lookup_value(*kind, value) {
                    hit(found, field, value);
                }
            });
        }
        if self.has_values(IndicatorKind::Email) {
            for field in EMAIL_FIELDS {
                for_each_str(event.get(field), |value| {
                    if let Some(found) = self.lookup_value(IndicatorKind::Email, value) {
                        hit(found, field, value);
                    }
                });
            }
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
