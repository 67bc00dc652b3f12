//! The indicator model: what is known to be bad, from whom, how sure, for how long, and
//! under which TLP.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::tlp::{Pap, Tlp};

/// What an indicator's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndicatorKind {
    /// An IPv4 or IPv6 address or CIDR block (`198.51.100.7`, `2001:db8::/32`).
    Ip,
    /// A domain name; with `include_subdomains`, every name below it too.
    Domain,
    /// A URL, normalized (lowercase scheme and host, no default port, no fragment).
    Url,
    /// MD5 file hash, lowercase hex.
    Md5,
    /// SHA-1 file hash, lowercase hex.
    Sha1,
    /// SHA-256 file hash, lowercase hex.
    Sha256,
    /// SHA-512 file hash, lowercase hex.
    Sha512,
    /// An email address, lowercase.
    Email,
    /// A JA3 TLS client fingerprint (MD5 hex).
    Ja3,
    /// A JA4 TLS client fingerprint.
    Ja4,
}

impl IndicatorKind {
    /// Every kind.
    pub const ALL: [IndicatorKind; 10] = [
        IndicatorKind::Ip,
        IndicatorKind::Domain,
        IndicatorKind::Url,
        IndicatorKind::Md5,
        IndicatorKind::Sha1,
        IndicatorKind::Sha256,
        IndicatorKind::Sha512,
        IndicatorKind::Email,
        IndicatorKind::Ja3,
        IndicatorKind::Ja4,
    ];

    /// The name used in files and the API (`sha256`, `ip`).
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Ip => "ip",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Url => "url",
            IndicatorKind::Md5 => "md5",
            IndicatorKind::Sha1 => "sha1",
            IndicatorKind::Sha256 => "sha256",
            IndicatorKind::Sha512 => "sha512",
            IndicatorKind::Email => "email",
            IndicatorKind::Ja3 => "ja3",
            IndicatorKind::Ja4 => "ja4",
        }
    }

    /// Whether the kind is a file hash.
    pub fn is_hash(self) -> bool {
        matches!(
            self,
            IndicatorKind::Md5
                | IndicatorKind::Sha1
                | IndicatorKind::Sha256
                | IndicatorKind::Sha512
        )
    }

    /// The kind of a STIX hash key (`'SHA-256'`, `MD5`), if supported.
    pub fn from_stix_hash(key: &str) -> Option<IndicatorKind> {
        let key: String = key
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase();
        match key.as_str() {
            "MD5" => Some(IndicatorKind::Md5),
            "SHA1" => Some(IndicatorKind::Sha1),
            "SHA256" => Some(IndicatorKind::Sha256),
            "SHA512" => Some(IndicatorKind::Sha512),
            _ => None,
        }
    }

    /// Checks and normalizes a value of this kind; the reason when it is not one.
    pub fn normalize(self, raw: &str) -> Result<String, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("empty value".into());
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!("value longer than {MAX_VALUE_BYTES} bytes"));
        }
        match self {
            IndicatorKind::Ip => normalize_ip(value),
            IndicatorKind::Domain => normalize_domain(value),
            IndicatorKind::Url => normalize_url(value),
            IndicatorKind::Md5 | IndicatorKind::Ja3 => hex_of_len(value, 32),
            IndicatorKind::Sha1 => hex_of_len(value, 40),
            IndicatorKind::Sha256 => hex_of_len(value, 64),
            IndicatorKind::Sha512 => hex_of_len(value, 128),
            IndicatorKind::Email => normalize_email(value),
            IndicatorKind::Ja4 => {
                // JA4: `t13d1516h2_8daaf6152771_b186095e22b6` (three `_`-separated parts).
                let lower = value.to_ascii_lowercase();
                let ok = lower.split('_').count() == 3
                    && lower.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if ok {
                    Ok(lower)
                } else {
                    Err("not a JA4 fingerprint".into())
                }
            }
        }
    }
}

impl fmt::Display for IndicatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for IndicatorKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        IndicatorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("unknown indicator type `{text}`"))
    }
}

/// Longest indicator value accepted (URLs can be long; anything longer is hostile).
pub const MAX_VALUE_BYTES: usize = 8 * 1024;

fn hex_of_len(value: &str, len: usize) -> Result<String, String> {
    if value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(format!("not {len} hexadecimal digits"))
    }
}

fn normalize_ip(value: &str) -> Result<String, String> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(canonical_ip(ip).to_string());
    }
    match value.parse::<IpNet>() {
        // `10.1.2.3/8` means the block: keep it as the network address.
        Ok(net) if net.prefix_len() == net.max_prefix_len() => Ok(net.addr().to_string()),
        Ok(net) => Ok(net.trunc().to_string()),
        Err(_) => Err("not an IP address or CIDR block".into()),
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are the IPv4 address.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// A domain: lowercase, no trailing dot, IDNA to punycode, at least two labels of
/// letters, digits, `-` and `_` (seen in real malicious names), at most 253 bytes.
pub(crate) fn normalize_domain(value: &str) -> Result<String, String> {
    let trimmed = value.trim_end_matches('.');
    let ascii = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        url::Host::parse(trimmed)
            .map_err(|err| format!("not a domain name: {err}"))?
            .to_string()
    };
    // A name needs a dot: a bare label is a host name on some network, not an indicator.
    let valid = ascii.contains('.')
        && ascii.len() <= 253
        && ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && ascii.parse::<IpAddr>().is_err();
    if valid {
        Ok(ascii)
    } else {
        Err("not a domain name".into())
    }
}

/// A URL in its WHATWG-normalized form, without fragment.
pub(crate) fn normalize_url(value: &str) -> Result<String, String> {
    let mut url = url::Url::parse(value).map_err(|err| format!("not a URL: {err}"))?;
    if !url.has_host() {
        return Err("not a URL: no host".into());
    }
    url.set_fragment(None);
    Ok(url.to_string())
}

fn normalize_email(value: &str) -> Result<String, String> {
    let lower = value.to_lowercase();
    let (local, domain) = lower
        .rsplit_once('@')
        .ok_or_else(|| "not an email address".to_owned())?;
    if local.is_empty()
        || local
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
    {
        return Err("not an email address".into());
    }
    let domain = normalize_domain(domain)?;
    Ok(format!("{local}@{domain}"))
}

/// One indicator of compromise. Equal `(kind, value)` pairs from different sources are
/// merged into one indicator (see [`crate::IndicatorSet`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    /// Stable identifier: the STIX id when the indicator came from STIX, else derived
    /// from kind and value (`indicator--<uuid v5>`).
    pub id: String,
    /// What the value is.
    pub kind: IndicatorKind,
    /// The normalized value.
    pub value: String,
    /// Domains only: names below this one match too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_subdomains: bool,
    /// Feeds or organisations that reported it, first one first.
    pub sources: Vec<String>,
    /// 0 (unknown) to 100 (certain), as STIX `confidence`.
    pub confidence: u8,
    /// When it was first seen by a source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// When it was last seen by a source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// From when it is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    /// Until when it is valid: after it, it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    /// How far it may be shared.
    pub tlp: Tlp,
    /// What a recipient may do with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pap: Option<Pap>,
    /// Free tags (malware family, threat type, MISP tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Related ATT&CK technique ids (`T1071.001`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack: Vec<String>,
    /// Human description (STIX `description`, MISP comment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When this set last changed it.
    pub modified: Timestamp,
    /// Sightings recorded (STIX `sighting` objects, local matches reported back).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sightings: u64,
    /// Withdrawn as a false positive: kept (so feeds do not bring it back), never matched
    /// or exported.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
}

impl Indicator {
    /// A new indicator of `kind` with a checked, normalized `value`.
    pub fn new(
        kind: IndicatorKind,
        value: &str,
        source: &str,
        tlp: Tlp,
    ) -> Result<Indicator, String> {
        let value = kind.normalize(value)?;
        Ok(Indicator {
            id: derived_id("indicator", &format!("{}:{}", kind.as_str(), value)),
            kind,
            value,
            include_subdomains: false,
            sources: vec![source.to_owned()],
            confidence: 50,
            first_seen: None,
            last_seen: None,
            valid_from: None,
            valid_until: None,
            tlp,
            pap: None,
            tags: Vec::new(),
            attack: Vec::new(),
            description: None,
            modified: Timestamp::now(),
            sightings: 0,
            withdrawn: false,
        })
    }

    /// The deduplication key.
    pub fn key(&self) -> (IndicatorKind, &str) {
        (self.kind, &self.value)
    }

    /// Whether it is in force at `now`: not withdrawn, not before `valid_from`, not after
    /// `valid_until`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        !self.withdrawn
            && self.valid_from.is_none_or(|from| from <= now)
            && self.valid_until.is_none_or(|until| now < until)
    }

    /// The STIX 2.1 pattern that expresses it.
    pub fn stix_pattern(&self) -> String {
        let value = crate::pattern::quote(&self.value);
        match self.kind {
            IndicatorKind::Ip => {
                let object = if self.value.contains(':') {
                    "ipv6-addr"
                } else {
                    "ipv4-addr"
                };
                format!("[{object}:value = {value}]")
            }
            IndicatorKind::Domain => format!("[domain-name:value = {value}]"),
            IndicatorKind::Url => format!("[url:value = {value}]"),
            IndicatorKind::Md5 => format!("[file:hashes.MD5 = {value}]"),
            IndicatorKind::Sha1 => format!("[file:hashes.'SHA-1' = {value}]"),
            IndicatorKind::Sha256 => format!("[file:hashes.'SHA-256' = {value}]"),
            IndicatorKind::Sha512 => format!("[file:hashes.'SHA-512' = {value}]"),
            IndicatorKind::Email => format!("[email-addr:value = {value}]"),
            IndicatorKind::Ja3 => format!("[x-ja3:value = {value}]"),
            IndicatorKind::Ja4 => format!("[x-ja4:value = {value}]"),
        }
    }
}

/// A deterministic STIX identifier (`{object_type}--<uuid>`) from a name, so the same
/// indicator exported twice keeps its id. The bits come from SHA-1 of the name (as in RFC
/// 4122 §4.3) but carry the version-4 layout: STIX 2.1 §2.9 wants UUIDv4 for SDO ids, and
/// validators check the version nibble.
pub fn derived_id(object_type: &str, name: &str) -> String {
    let uuid = derived_uuid(&[name.as_bytes()]);
    format!("{object_type}--{}", format_uuid(&uuid))
}

/// The 16 bytes of a [`derived_id`] whose name is `parts` concatenated.
pub(crate) fn derived_uuid(parts: &[&[u8]]) -> [u8; 16] {
    use sha1::Digest as _;
    // The STIX 2.1 namespace for deterministic SCO ids (spec §2.9).
    const NAMESPACE: [u8; 16] = [
        0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9,
        0xb7,
    ];
    let mut hasher = sha1::Sha1::new();
    hasher.update(NAMESPACE);
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase.
pub(crate) fn format_uuid(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
    out
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A STIX indicator whose pattern cannot be decided on a single event (it needs
/// correlation, counting, or properties events do not carry). Kept and reported, never
/// dropped: it is stored, exported and shared like any indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternIndicator {
    /// The STIX id.
    pub id: String,
    /// The pattern, as written.
    pub pattern: String,
    /// Why it cannot be matched on single events.
    pub reason: String,
    /// The STIX `name`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who reported it.
    pub sources: Vec<String>,
    /// 0 to 100.
    pub confidence: u8,
    /// From when it is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    /// Until when it is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    /// How far it may be shared.
    pub tlp: Tlp,
    /// Tags (labels, indicator types).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// When this set last changed it.
    pub modified: Timestamp,
}
