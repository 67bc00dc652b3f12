//! The compact form of indicators: each one a self-delimiting binary record ("blob") in a
//! chunked byte arena, addressed by a 32-bit locator. At 10 million indicators a resident
//! `Indicator` (strings, vectors, options: ~500 B with its allocations) costs GBs; its blob
//! costs 25–100 B. The set and every matcher built from it share the arena's sealed chunks
//! (`Arc`), so the records exist once; an [`Indicator`] is decoded only when someone needs
//! all of it (an alert, an export, an API answer).
//!
//! Blob layout (varints are LEB128):
//! `len | kind | value | flags | tlp | confidence | [pap] | modified | [first_seen]
//! [last_seen] [valid_from] [valid_until] | sightings | sources | tags | attack | [id]
//! [description]`. The value comes first, in binary where the kind allows it (IPs as
//! address bytes, hashes as digest bytes), so lookups compare it without decoding the rest.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use jiff::Timestamp;

use crate::model::{Indicator, IndicatorKind, derived_uuid, format_uuid};
use crate::tlp::{Pap, Tlp};

/// Bytes per arena chunk. Sealed chunks are shared read-only with matchers.
const CHUNK: usize = 1 << 20;
/// Blobs start on 4-byte boundaries, so a 32-bit locator addresses 16 GiB.
const ALIGN: usize = 4;
const OFFSET_BITS: u32 = 18;

/// Where a blob is: `chunk << 18 | offset / 4`.
pub(crate) type Locator = u32;

/// Append-only byte arena of blobs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Arena {
    sealed: Vec<Arc<Vec<u8>>>,
    open: Vec<u8>,
    /// Bytes of blobs still referenced (the rest is garbage left by updates).
    live: usize,
    total: usize,
}

impl Arena {
    /// Appends a blob (with its length prefix already in it).
    pub(crate) fn push(&mut self, blob: &[u8]) -> Locator {
        let padding = (ALIGN - self.open.len() % ALIGN) % ALIGN;
        if !self.open.is_empty() && self.open.len() + padding + blob.len() > CHUNK {
            self.seal();
        }
        if blob.len() > CHUNK {
            // An oversized record (a huge description) gets a chunk of its own (the open
            // chunk is empty here: it was sealed above if it had anything).
            debug_assert!(self.open.is_empty());
            let chunk = self.sealed.len();
            self.sealed.push(Arc::new(blob.to_vec()));
            self.check_size();
            self.account(blob.len());
            return locator(chunk, 0);
        }
        if self.open.capacity() == 0 {
            self.open.reserve_exact(CHUNK);
        }
        let padding = (ALIGN - self.open.len() % ALIGN) % ALIGN;
        self.open.resize(self.open.len() + padding, 0);
        let offset = self.open.len();
        self.open.extend_from_slice(blob);
        self.account(blob.len());
        locator(self.sealed.len(), offset)
    }

    fn account(&mut self, len: usize) {
        self.live += len;
        self.total += len;
    }

    fn seal(&mut self) {
        let chunk = std::mem::take(&mut self.open);
        self.sealed.push(Arc::new(chunk));
        self.check_size();
    }

    fn check_size(&self) {
        // The last chunk is never used, so `u32::MAX` never addresses a record (tables
        // use it for "none").
        assert!(
            self.sealed.len() < (1 << (32 - OFFSET_BITS)) - 1,
            "indicator arena limited to 16 GiB"
        );
    }

    /// Notes that the blob at `at` is no longer referenced.
    pub(crate) fn release(&mut self, at: Locator) {
        self.live -= self.get(at).len();
    }

    /// The blob at `at`.
    pub(crate) fn get(&self, at: Locator) -> &[u8] {
        let (chunk, offset) = split(at);
        let bytes = match self.sealed.get(chunk) {
            Some(sealed) => &sealed[offset..],
            None => &self.open[offset..],
        };
        blob_at(bytes)
    }

    /// Whether more than half of the arena is garbage (worth a rewrite).
    pub(crate) fn mostly_garbage(&self) -> bool {
        self.total > 8 * CHUNK && self.live < self.total / 2
    }

    /// A read-only view sharing the sealed chunks (the open one is copied: at most 1 MiB).
    pub(crate) fn snapshot(&self) -> ArenaSnapshot {
        let mut chunks = self.sealed.clone();
        chunks.push(Arc::new(self.open.clone()));
        ArenaSnapshot { chunks }
    }

    /// Heap bytes held (chunks' lengths).
    pub(crate) fn bytes(&self) -> usize {
        self.sealed.iter().map(|c| c.len()).sum::<usize>() + self.open.len()
    }
}

/// A frozen view of an arena, for matchers.
#[derive(Debug, Clone, Default)]
pub(crate) struct ArenaSnapshot {
    chunks: Vec<Arc<Vec<u8>>>,
}

impl ArenaSnapshot {
    pub(crate) fn get(&self, at: Locator) -> &[u8] {
        let (chunk, offset) = split(at);
        blob_at(&self.chunks[chunk][offset..])
    }
}

fn locator(chunk: usize, offset: usize) -> Locator {
    debug_assert!(offset.is_multiple_of(ALIGN) && offset / ALIGN < 1 << OFFSET_BITS);
    ((chunk as u32) << OFFSET_BITS) | (offset / ALIGN) as u32
}

fn split(at: Locator) -> (usize, usize) {
    (
        (at >> OFFSET_BITS) as usize,
        (at & ((1 << OFFSET_BITS) - 1)) as usize * ALIGN,
    )
}

/// The blob starting at `bytes` (its length prefix included).
fn blob_at(bytes: &[u8]) -> &[u8] {
    let mut reader = Reader { bytes, at: 0 };
    let len = reader.varint() as usize;
    &bytes[..reader.at + len]
}

// Flags.
const SUBDOMAINS: u32 = 1;
const WITHDRAWN: u32 = 1 << 1;
const EXPLICIT_ID: u32 = 1 << 2;
const UUID_ID: u32 = 1 << 3;
const FIRST_SEEN: u32 = 1 << 4;
const LAST_SEEN: u32 = 1 << 5;
const VALID_FROM: u32 = 1 << 6;
const VALID_UNTIL: u32 = 1 << 7;
const PAP: u32 = 1 << 8;
const DESCRIPTION: u32 = 1 << 9;

// Value tags (first byte of the value of IP and hex kinds).
const TAG_TEXT: u8 = 0;
const TAG_V4: u8 = 1;
const TAG_V6: u8 = 2;
const TAG_NET: u8 = 4;
const TAG_BINARY: u8 = 8;

fn kind_code(kind: IndicatorKind) -> u8 {
    IndicatorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is in ALL") as u8
}

fn hex_len(kind: IndicatorKind) -> Option<usize> {
    match kind {
        IndicatorKind::Md5 | IndicatorKind::Ja3 => Some(32),
        IndicatorKind::Sha1 => Some(40),
        IndicatorKind::Sha256 => Some(64),
        IndicatorKind::Sha512 => Some(128),
        _ => None,
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_time(out: &mut Vec<u8>, ts: Timestamp) {
    let seconds = ts.as_second();
    put_varint(out, ((seconds << 1) ^ (seconds >> 63)) as u64);
    put_varint(out, u64::from(ts.subsec_nanosecond().unsigned_abs()));
}

fn put_strings(out: &mut Vec<u8>, strings: &[String]) {
    put_varint(out, strings.len() as u64);
    for s in strings {
        put_bytes(out, s.as_bytes());
    }
}

/// Hex digit values (either case); 0xff for anything else.
const HEX: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Decodes hex (either case) into `out` (exactly half the length of `text`); false when
/// it is not hex.
pub(crate) fn unhex_into(text: &[u8], out: &mut [u8]) -> bool {
    if text.len() != out.len() * 2 {
        return false;
    }
    let mut bad = 0u8;
    for (pair, byte) in text.chunks_exact(2).zip(out.iter_mut()) {
        let (hi, lo) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
        bad |= hi | lo;
        *byte = hi << 4 | (lo & 0x0f);
    }
    // Valid digits are below 16; 0xff anywhere sets the high bits.
    bad < 16
}

/// Decodes hex (either case) into `out`; false when it is not hex.
pub(crate) fn unhex(text: &[u8], out: &mut Vec<u8>) -> bool {
    if !text.len().is_multiple_of(2) {
        return false;
    }
    let start = out.len();
    out.resize(start + text.len() / 2, 0);
    unhex_into(text, &mut out[start..])
}

/// The value section of a blob for `kind` and a value: what identifies the indicator.
/// Binary for IPs (address, and prefix for blocks) and lowercase hex hashes; the text
/// otherwise (and for anything that does not parse, so no value is ever lost).
pub(crate) fn encode_value(kind: IndicatorKind, value: &str, out: &mut Vec<u8>) {
    out.push(kind_code(kind));
    match kind {
        IndicatorKind::Ip => {
            if let Ok(ip) = value.parse::<IpAddr>()
                && ip.to_string() == value
            {
                push_ip(out, ip, None);
                return;
            }
            if let Ok(net) = value.parse::<IpNet>()
                && net.to_string() == value
            {
                push_ip(out, net.addr(), Some(net.prefix_len()));
                return;
            }
        }
        _ => {
            if let Some(len) = hex_len(kind)
                && value.len() == len
                && !value.bytes().any(|b| b.is_ascii_uppercase())
            {
                let start = out.len();
                out.push(TAG_BINARY);
                if unhex(value.as_bytes(), out) {
                    return;
                }
                out.truncate(start);
            }
        }
    }
    if kind == IndicatorKind::Ip || hex_len(kind).is_some() {
        out.push(TAG_TEXT);
    }
    put_bytes(out, value.as_bytes());
}

fn push_ip(out: &mut Vec<u8>, ip: IpAddr, prefix: Option<u8>) {
    let net = if prefix.is_some() { TAG_NET } else { 0 };
    match ip {
        IpAddr::V4(v4) => {
            out.push(TAG_V4 | net);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(TAG_V6 | net);
            out.extend_from_slice(&v6.octets());
        }
    }
    if let Some(prefix) = prefix {
        out.push(prefix);
    }
}

/// Encodes `indicator` as a blob (length prefix included) into `out` (cleared first).
pub(crate) fn encode(indicator: &Indicator, out: &mut Vec<u8>) {
    let mut body = Vec::with_capacity(64);
    encode_value(indicator.kind, &indicator.value, &mut body);
    let uuid = indicator
        .id
        .strip_prefix("indicator--")
        .and_then(parse_uuid)
        .filter(|_| indicator.id.len() == "indicator--".len() + 36);
    // Ids derived from the value are not stored (recomputed when decoded).
    let derived = uuid.is_some_and(|uuid| uuid == value_uuid(indicator.kind, &indicator.value));
    let mut flags = 0;
    let mut set = |on: bool, flag: u32| {
        if on {
            flags |= flag;
        }
    };
    set(indicator.include_subdomains, SUBDOMAINS);
    set(indicator.withdrawn, WITHDRAWN);
    set(!derived, EXPLICIT_ID);
    set(!derived && uuid.is_some(), UUID_ID);
    set(indicator.first_seen.is_some(), FIRST_SEEN);
    set(indicator.last_seen.is_some(), LAST_SEEN);
    set(indicator.valid_from.is_some(), VALID_FROM);
    set(indicator.valid_until.is_some(), VALID_UNTIL);
    set(indicator.pap.is_some(), PAP);
    set(indicator.description.is_some(), DESCRIPTION);
    put_varint(&mut body, u64::from(flags));
    body.push(indicator.tlp as u8);
    body.push(indicator.confidence);
    if let Some(pap) = indicator.pap {
        body.push(pap as u8);
    }
    put_time(&mut body, indicator.modified);
    for ts in [
        indicator.first_seen,
        indicator.last_seen,
        indicator.valid_from,
        indicator.valid_until,
    ]
    .into_iter()
    .flatten()
    {
        put_time(&mut body, ts);
    }
    put_varint(&mut body, indicator.sightings);
    put_strings(&mut body, &indicator.sources);
    put_strings(&mut body, &indicator.tags);
    put_strings(&mut body, &indicator.attack);
    if !derived {
        match uuid {
            Some(bytes) => body.extend_from_slice(&bytes),
            None => put_bytes(&mut body, indicator.id.as_bytes()),
        }
    }
    if let Some(description) = &indicator.description {
        put_bytes(&mut body, description.as_bytes());
    }
    out.clear();
    put_varint(out, body.len() as u64);
    out.extend_from_slice(&body);
}

fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 || [8, 13, 18, 23].iter().any(|&i| bytes[i] != b'-') {
        return None;
    }
    let mut hex = Vec::with_capacity(32);
    hex.extend(bytes.iter().filter(|&&b| b != b'-'));
    if hex.len() != 32 || hex.iter().any(u8::is_ascii_uppercase) {
        return None;
    }
    let mut out = Vec::with_capacity(16);
    unhex(&hex, &mut out).then(|| out.try_into().expect("16 bytes"))
}

/// The uuid of the id derived from a value (see [`crate::derived_id`]).
fn value_uuid(kind: IndicatorKind, value: &str) -> [u8; 16] {
    derived_uuid(&[kind.as_str().as_bytes(), b":", value.as_bytes()])
}

/// Reads a blob. Blobs are written by [`encode`] in this process, so a short read is a
/// bug: it panics rather than invent values.
#[derive(Clone)]
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes[self.at];
        self.at += 1;
        b
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        out
    }

    fn varint(&mut self) -> u64 {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let b = self.byte();
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }

    fn bytes(&mut self) -> &'a [u8] {
        let len = self.varint() as usize;
        self.take(len)
    }

    fn string(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    fn strings(&mut self) -> Vec<String> {
        let n = self.varint() as usize;
        (0..n).map(|_| self.string()).collect()
    }

    fn time(&mut self) -> Timestamp {
        let zigzag = self.varint();
        let seconds = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
        let nanos = self.varint() as i32;
        let nanos = if seconds < 0 { -nanos } else { nanos };
        Timestamp::new(seconds, nanos).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// The parts of a blob a matcher or an index needs, read without allocating.
pub(crate) struct Head<'a> {
    pub(crate) kind: IndicatorKind,
    /// The value section (kind byte included): the identity of the indicator.
    pub(crate) key: &'a [u8],
    /// The value's bytes: address/digest bytes or text.
    pub(crate) value: ValueRef<'a>,
    pub(crate) include_subdomains: bool,
    pub(crate) withdrawn: bool,
    pub(crate) valid_from: Option<Timestamp>,
    pub(crate) valid_until: Option<Timestamp>,
}

/// A blob's value, undecoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueRef<'a> {
    Ip(IpAddr, Option<u8>),
    Binary(&'a [u8]),
    Text(&'a [u8]),
}

impl ValueRef<'_> {
    fn text(self) -> String {
        match self {
            ValueRef::Ip(ip, None) => ip.to_string(),
            ValueRef::Ip(ip, Some(prefix)) => format!("{ip}/{prefix}"),
            ValueRef::Binary(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
            ValueRef::Text(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

fn read_value<'a>(reader: &mut Reader<'a>, kind: IndicatorKind) -> ValueRef<'a> {
    if kind == IndicatorKind::Ip || hex_len(kind).is_some() {
        let tag = reader.byte();
        if tag & TAG_V4 != 0 {
            let octets: [u8; 4] = reader.take(4).try_into().expect("4 bytes");
            let prefix = (tag & TAG_NET != 0).then(|| reader.byte());
            return ValueRef::Ip(IpAddr::V4(Ipv4Addr::from(octets)), prefix);
        }
        if tag & TAG_V6 != 0 {
            let octets: [u8; 16] = reader.take(16).try_into().expect("16 bytes");
            let prefix = (tag & TAG_NET != 0).then(|| reader.byte());
            return ValueRef::Ip(IpAddr::V6(Ipv6Addr::from(octets)), prefix);
        }
        if tag & TAG_BINARY != 0 {
            let len = hex_len(kind).expect("binary only for hex kinds") / 2;
            return ValueRef::Binary(reader.take(len));
        }
    }
    ValueRef::Text(reader.bytes())
}

/// Reads what indexes need from a blob.
pub(crate) fn head(blob: &[u8]) -> Head<'_> {
    let mut reader = Reader { bytes: blob, at: 0 };
    reader.varint();
    let key_start = reader.at;
    let kind = IndicatorKind::ALL[reader.byte() as usize];
    let value = read_value(&mut reader, kind);
    let key = &blob[key_start..reader.at];
    let flags = reader.varint() as u32;
    reader.take(2);
    if flags & PAP != 0 {
        reader.byte();
    }
    reader.time();
    if flags & FIRST_SEEN != 0 {
        reader.time();
    }
    if flags & LAST_SEEN != 0 {
        reader.time();
    }
    let valid_from = (flags & VALID_FROM != 0).then(|| reader.time());
    let valid_until = (flags & VALID_UNTIL != 0).then(|| reader.time());
    Head {
        kind,
        key,
        value,
        include_subdomains: flags & SUBDOMAINS != 0,
        withdrawn: flags & WITHDRAWN != 0,
        valid_from,
        valid_until,
    }
}

impl Head<'_> {
    /// As [`Indicator::is_active`].
    pub(crate) fn is_active(&self, now: Timestamp) -> bool {
        !self.withdrawn
            && self.valid_from.is_none_or(|from| from <= now)
            && self.valid_until.is_none_or(|until| now < until)
    }
}

/// An indicator's fixed fields, its sources and its tags, read from its compact record
/// without decoding (nor allocating) the rest: what listings filter and sort on before
/// they decode only the indicators they return (see [`crate::IndicatorSet::metas`]).
#[derive(Debug, Clone, Copy)]
pub struct IndicatorMeta<'a> {
    /// Its position in the set, to read it whole with [`crate::IndicatorSet::at`].
    pub position: crate::set::Position,
    /// What it is.
    pub kind: IndicatorKind,
    /// How far it may be shared.
    pub tlp: Tlp,
    /// Confidence, 0–100.
    pub confidence: u8,
    /// Last change.
    pub modified: Timestamp,
    /// Last sighting.
    pub last_seen: Option<Timestamp>,
    /// Start of validity.
    pub valid_from: Option<Timestamp>,
    /// End of validity.
    pub valid_until: Option<Timestamp>,
    /// Sightings counted.
    pub sightings: u64,
    /// Withdrawn as a false positive (or revoked by every source).
    pub withdrawn: bool,
    sources: StrList<'a>,
    tags: StrList<'a>,
}

impl<'a> IndicatorMeta<'a> {
    /// As [`Indicator::is_active`].
    pub fn is_active(&self, now: Timestamp) -> bool {
        !self.withdrawn
            && self.valid_from.is_none_or(|from| from <= now)
            && self.valid_until.is_none_or(|until| now < until)
    }

    /// Who reports it.
    pub fn sources(&self) -> impl Iterator<Item = &'a str> + Clone + use<'a> {
        self.sources.iter()
    }

    /// Its tags.
    pub fn tags(&self) -> impl Iterator<Item = &'a str> + Clone + use<'a> {
        self.tags.iter()
    }
}

/// A list of strings as a blob holds it (`n | (len bytes)*`), read on iteration.
#[derive(Debug, Clone, Copy)]
struct StrList<'a>(&'a [u8]);

impl<'a> StrList<'a> {
    fn iter(self) -> impl Iterator<Item = &'a str> + Clone {
        let mut reader = Reader {
            bytes: self.0,
            at: 0,
        };
        let n = reader.varint();
        // Written from `String`s by `encode`: always UTF-8.
        (0..n).map(move |_| std::str::from_utf8(reader.bytes()).unwrap_or(""))
    }

    /// Reads the list at the reader's position and moves past it.
    fn read(reader: &mut Reader<'a>) -> StrList<'a> {
        let start = reader.at;
        let n = reader.varint();
        for _ in 0..n {
            reader.bytes();
        }
        StrList(&reader.bytes[start..reader.at])
    }
}

/// Reads a blob's [`IndicatorMeta`].
pub(crate) fn meta(blob: &[u8], position: crate::set::Position) -> IndicatorMeta<'_> {
    let mut reader = Reader { bytes: blob, at: 0 };
    reader.varint();
    let kind = IndicatorKind::ALL[reader.byte() as usize];
    read_value(&mut reader, kind);
    let flags = reader.varint() as u32;
    let tlp = tlp_of(reader.byte());
    let confidence = reader.byte();
    if flags & PAP != 0 {
        reader.byte();
    }
    let modified = reader.time();
    let mut optional = |flag: u32| (flags & flag != 0).then(|| reader.time());
    optional(FIRST_SEEN);
    let last_seen = optional(LAST_SEEN);
    let valid_from = optional(VALID_FROM);
    let valid_until = optional(VALID_UNTIL);
    let sightings = reader.varint();
    let sources = StrList::read(&mut reader);
    let tags = StrList::read(&mut reader);
    IndicatorMeta {
        position,
        kind,
        tlp,
        confidence,
        modified,
        last_seen,
        valid_from,
        valid_until,
        sightings,
        withdrawn: flags & WITHDRAWN != 0,
        sources,
        tags,
    }
}

/// Decodes a whole blob.
pub(crate) fn decode(blob: &[u8]) -> Indicator {
    let mut reader = Reader { bytes: blob, at: 0 };
    reader.varint();
    let kind = IndicatorKind::ALL[reader.byte() as usize];
    let value = read_value(&mut reader, kind).text();
    let flags = reader.varint() as u32;
    let tlp = tlp_of(reader.byte());
    let confidence = reader.byte();
    let pap = (flags & PAP != 0).then(|| pap_of(reader.byte()));
    let modified = reader.time();
    let mut optional = |flag: u32| (flags & flag != 0).then(|| reader.time());
    let first_seen = optional(FIRST_SEEN);
    let last_seen = optional(LAST_SEEN);
    let valid_from = optional(VALID_FROM);
    let valid_until = optional(VALID_UNTIL);
    let sightings = reader.varint();
    let sources = reader.strings();
    let tags = reader.strings();
    let attack = reader.strings();
    let id = if flags & UUID_ID != 0 {
        let bytes: [u8; 16] = reader.take(16).try_into().expect("16 bytes");
        format!("indicator--{}", format_uuid(&bytes))
    } else if flags & EXPLICIT_ID != 0 {
        reader.string()
    } else {
        format!("indicator--{}", format_uuid(&value_uuid(kind, &value)))
    };
    let description = (flags & DESCRIPTION != 0).then(|| reader.string());
    Indicator {
        id,
        kind,
        value,
        include_subdomains: flags & SUBDOMAINS != 0,
        sources,
        confidence,
        first_seen,
        last_seen,
        valid_from,
        valid_until,
        tlp,
        pap,
        tags,
        attack,
        description,
        modified,
        sightings,
        withdrawn: flags & WITHDRAWN != 0,
    }
}

/// The id of a blob's indicator (derived ids are computed, explicit ones read), skipping
/// the rest without allocating.
pub(crate) fn id_of(blob: &[u8]) -> String {
    let mut reader = Reader { bytes: blob, at: 0 };
    reader.varint();
    let kind = IndicatorKind::ALL[reader.byte() as usize];
    let value = read_value(&mut reader, kind);
    let flags = reader.varint() as u32;
    reader.take(2);
    if flags & PAP != 0 {
        reader.byte();
    }
    let n_times = 1 + [FIRST_SEEN, LAST_SEEN, VALID_FROM, VALID_UNTIL]
        .iter()
        .filter(|&&flag| flags & flag != 0)
        .count();
    for _ in 0..n_times * 2 {
        reader.varint();
    }
    reader.varint();
    for _ in 0..3 {
        let n = reader.varint();
        for _ in 0..n {
            reader.bytes();
        }
    }
    if flags & UUID_ID != 0 {
        let bytes: [u8; 16] = reader.take(16).try_into().expect("16 bytes");
        format!("indicator--{}", format_uuid(&bytes))
    } else if flags & EXPLICIT_ID != 0 {
        reader.string()
    } else {
        format!(
            "indicator--{}",
            format_uuid(&value_uuid(kind, &value.text()))
        )
    }
}

fn tlp_of(byte: u8) -> Tlp {
    crate::tlp::ALL
        .into_iter()
        .find(|t| *t as u8 == byte)
        .unwrap_or(Tlp::Red)
}

fn pap_of(byte: u8) -> Pap {
    [Pap::Clear, Pap::Green, Pap::Amber, Pap::Red]
        .into_iter()
        .find(|p| *p as u8 == byte)
        .unwrap_or(Pap::Red)
}
