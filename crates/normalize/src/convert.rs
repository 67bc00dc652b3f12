//! Value conversions named by a rule's `type`.

use std::net::IpAddr;

use event::{Event, Timestamp};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};

/// How a copied value is converted. A value that does not convert is not written; it stays
/// in its source field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// As is (objects and arrays included).
    Copy,
    /// Scalars as strings.
    Keyword,
    /// Integers, from numbers or decimal/`0x` hex strings.
    Long,
    /// A valid IPv4/IPv6 address, written in canonical form.
    Ip,
    /// RFC 3339, `YYYY-MM-DD hh:mm:ss[.f]` (UTC) or epoch milliseconds (number or text),
    /// written as RFC 3339.
    Timestamp,
    /// A string, lowercased.
    Lowercase,
    /// `true/false`, `1/0`, `yes/no`.
    Boolean,
    /// `DOMAIN\user` → `<to>.domain` + `<to>.name`; without a backslash only `<to>.name`.
    DomainUser,
    /// Sysmon `SHA1=…,MD5=…,SHA256=…,IMPHASH=…` → `<to>.sha1`, `<to>.md5`, … (lowercase).
    Hashes,
    /// The last segment of a Windows or POSIX path.
    Basename,
}

impl Conversion {
    pub(crate) const NAMES: &'static str =
        "copy, keyword, long, ip, timestamp, lowercase, boolean, domain_user, hashes, basename";

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "copy" => Self::Copy,
            "keyword" => Self::Keyword,
            "long" => Self::Long,
            "ip" => Self::Ip,
            "timestamp" => Self::Timestamp,
            "lowercase" => Self::Lowercase,
            "boolean" => Self::Boolean,
            "domain_user" => Self::DomainUser,
            "hashes" => Self::Hashes,
            "basename" => Self::Basename,
            _ => return None,
        })
    }

    /// Converts `value` and writes it at `to` (or under `to`, for the splitting types).
    pub(crate) fn apply(self, value: &Value, to: &str, out: &mut Event) {
        let converted = match self {
            Self::Copy => Some(value.clone()),
            Self::Keyword => keyword(value).map(Value::String),
            Self::Long => long(value).map(Value::from),
            Self::Ip => ip(value).map(|ip| Value::String(ip.to_string())),
            Self::Timestamp => timestamp(value).map(|ts| Value::String(ts.to_string())),
            Self::Lowercase => keyword(value).map(|s| Value::String(s.to_lowercase())),
            Self::Boolean => boolean(value).map(Value::Bool),
            Self::Basename => keyword(value).and_then(|s| {
                let name = s.rsplit(['\\', '/']).next().unwrap_or_default();
                (!name.is_empty()).then(|| Value::String(name.to_owned()))
            }),
            Self::DomainUser => {
                if let Some(text) = keyword(value) {
                    match text.split_once('\\') {
                        Some((domain, name)) => {
                            if !domain.is_empty() {
                                out.insert(&format!("{to}.domain"), Value::String(domain.into()));
                            }
                            out.insert(&format!("{to}.name"), Value::String(name.into()));
                        }
                        None => out.insert(&format!("{to}.name"), Value::String(text)),
                    }
                }
                None
            }
            Self::Hashes => {
                if let Some(text) = keyword(value) {
                    let mut hashes = Map::new();
                    for pair in text.split(',') {
                        if let Some((algorithm, digest)) = pair.split_once('=') {
                            let algorithm = algorithm.trim().to_ascii_lowercase();
                            let digest = digest.trim().to_ascii_lowercase();
                            if !algorithm.is_empty() && !digest.is_empty() {
                                hashes.insert(algorithm, Value::String(digest));
                            }
                        }
                    }
                    for (algorithm, digest) in hashes {
                        out.insert(&format!("{to}.{algorithm}"), digest);
                    }
                }
                None
            }
        };
        if let Some(converted) = converted {
            out.insert(to, converted);
        }
    }
}

pub(crate) fn keyword(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn long(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16)
                    .ok()
                    .and_then(|n| i64::try_from(n).ok()),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

fn ip(value: &Value) -> Option<IpAddr> {
    let text = value.as_str()?.trim();
    // `[::1]`, and IPv6 zone ids (`fe80::1%12`) that ECS ip fields cannot hold.
    let text = text.trim_start_matches('[').trim_end_matches(']');
    let text = text.split('%').next().unwrap_or(text);
    text.parse().ok()
}

fn timestamp(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Number(n) => Timestamp::from_millisecond(n.as_i64()?).ok(),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(ts) = s.parse::<Timestamp>() {
                return Some(ts);
            }
            // CEF `rt` and others: epoch milliseconds as text.
            if !s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit()) {
                return Timestamp::from_millisecond(s.parse().ok()?).ok();
            }
            // Sysmon `UtcTime`: `2020-10-27 10:17:18.369`, UTC.
            let civil: DateTime = s.parse().ok()?;
            civil.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
        }
        _ => None,
    }
}

fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64()? != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}
