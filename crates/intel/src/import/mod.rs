//! Importers: bytes of a feed in, indicators and a report out. Nothing here reads files or
//! the network; the caller hands over the bytes.

pub mod csv;
pub mod misp;
pub mod stix;

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::model::{Indicator, PatternIndicator};
use crate::tlp::Tlp;

/// Largest input an importer accepts (a huge feed is refused, not half-read).
pub const MAX_INPUT_BYTES: usize = 512 * 1024 * 1024;

/// What every importer needs to know about the feed.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The feed's name, recorded as the indicators' source when the data names none.
    pub source: String,
    /// TLP of entries that carry no marking.
    pub default_tlp: Tlp,
    /// Confidence of entries that carry none.
    pub default_confidence: u8,
    /// When the import happens (for `modified`).
    pub now: Timestamp,
}

impl ImportOptions {
    /// Options for a feed named `source`, unmarked entries under `default_tlp`.
    pub fn new(source: &str, default_tlp: Tlp) -> Self {
        Self {
            source: source.to_owned(),
            default_tlp,
            default_confidence: 50,
            now: Timestamp::now(),
        }
    }
}

/// An entry that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it is (`line 12`, `indicator--…`, `attribute 5a3c…`).
    pub entry: String,
    /// Why it was not imported.
    pub reason: String,
}

/// A sighting or an observation read from a feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    /// The STIX object id (`sighting--…`, `observed-data--…`).
    pub id: String,
    /// What was sighted (`sighting_of_ref`), if this is a sighting.
    pub sighting_of: Option<String>,
    /// How many times.
    pub count: u64,
    /// First seen.
    pub first_seen: Option<Timestamp>,
    /// Last seen.
    pub last_seen: Option<Timestamp>,
    /// The observed values (kind and value) it carries.
    pub observed: Vec<(crate::IndicatorKind, String)>,
}

/// The result of an import: what was read, what was kept, and what was refused.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Indicators with values that can be matched on events.
    pub indicators: Vec<Indicator>,
    /// Indicators whose patterns need more than one event; kept, never dropped.
    pub patterns: Vec<PatternIndicator>,
    /// Sightings and observed data.
    pub sightings: Vec<Sighting>,
    /// Entries read but not meant for detection (MISP `to_ids: false`, comments, context
    /// objects), by reason.
    pub ignored: BTreeMap<String, usize>,
    /// Entries refused, with the reason.
    pub problems: Vec<Problem>,
    /// Values their source revoked (STIX `revoked: true`): kind, normalized value, source.
    pub revoked: Vec<(crate::IndicatorKind, String, String)>,
    /// STIX indicators with an id and the values this version of each carries: a newer
    /// version replaces the values of an older one (see
    /// [`crate::IndicatorSet::apply_stix_version`]).
    pub versions: Vec<crate::StixVersion>,
}

impl ImportReport {
    pub(crate) fn ignore(&mut self, reason: impl Into<String>) {
        *self.ignored.entry(reason.into()).or_default() += 1;
    }

    pub(crate) fn problem(&mut self, entry: impl Into<String>, reason: impl Into<String>) {
        // Bounded: a hostile feed of a million bad lines keeps a sample and a count.
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                entry: entry.into(),
                reason: reason.into(),
            });
        } else {
            self.ignore("further problems not listed");
        }
    }

    /// A one-line summary for people.
    pub fn summary(&self) -> String {
        let ignored: usize = self.ignored.values().sum();
        format!(
            "{} indicators, {} pattern-only indicators (not matchable on single events), {} sightings, {} ignored, {} problems",
            self.indicators.len(),
            self.patterns.len(),
            self.sightings.len(),
            ignored,
            self.problems.len()
        )
    }
}

const MAX_PROBLEMS: usize = 1_000;

pub(crate) fn check_size(bytes: &[u8]) -> Result<(), crate::ImportError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(crate::ImportError::TooLarge {
            size: bytes.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    Ok(())
}

/// Reads the time formats feeds use: RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC), a bare date,
/// or Unix seconds.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    if let Ok(datetime) = text.replacen(' ', "T", 1).parse::<jiff::civil::DateTime>() {
        return datetime
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) && text.len() <= 12 {
        return Timestamp::from_second(text.parse().ok()?).ok();
    }
    None
}

/// `T1071.001` from tags like `misp-galaxy:mitre-attack-pattern="Web Protocols - T1071.001"`
/// or `attack.t1071.001`.
pub(crate) fn attack_ids(text: &str) -> Vec<String> {
    let upper = text.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut out = Vec::new();
    let mut idx = 0;
    while let Some(found) = upper[idx..].find('T') {
        let start = idx + found;
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let digits = bytes[start + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if before_ok && digits == 4 {
            let mut end = start + 5;
            if bytes.get(end) == Some(&b'.') {
                let sub = bytes[end + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if sub == 3 {
                    end += 4;
                }
            }
            if bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric()) {
                out.push(upper[start..end].to_owned());
            }
        }
        idx = start + 1;
    }
    out
}

/// Which importer a feed's bytes need, when the caller does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    /// A STIX 2.1 bundle, TAXII envelope or object.
    Stix,
    /// One MISP event.
    MispEvent,
    /// A CSV layout preset (`feodo`, `urlhaus`, `threatfox`, `plain`).
    Csv(&'static str),
}

impl std::str::FromStr for FeedFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "stix" => FeedFormat::Stix,
            "misp" => FeedFormat::MispEvent,
            "feodo" => FeedFormat::Csv("feodo"),
            "urlhaus" => FeedFormat::Csv("urlhaus"),
            "threatfox" => FeedFormat::Csv("threatfox"),
            "plain" | "csv" => FeedFormat::Csv("plain"),
            other => {
                return Err(format!(
                    "unknown feed format `{other}` (stix, misp, feodo, urlhaus, threatfox, plain)"
                ));
            }
        })
    }
}

/// Tells the format from the content: JSON with `objects`/`type` is STIX, with
/// `Event`/`Attribute` a MISP event; text is CSV, with the abuse.ch preset its header names.
pub fn sniff(bytes: &[u8]) -> FeedFormat {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]).to_ascii_lowercase();
    let trimmed = head.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let misp = ["\"event\"", "\"attribute\""]
            .iter()
            .any(|k| trimmed[..trimmed.len().min(4096)].contains(k))
            && !trimmed.contains("\"spec_version\"");
        return if misp {
            FeedFormat::MispEvent
        } else {
            FeedFormat::Stix
        };
    }
    if head.contains("dst_ip") {
        FeedFormat::Csv("feodo")
    } else if head.contains("ioc_value") {
        FeedFormat::Csv("threatfox")
    } else if head.contains("url_status") || head.contains("urlhaus") {
        FeedFormat::Csv("urlhaus")
    } else {
        FeedFormat::Csv("plain")
    }
}

/// Imports with the given format, or the sniffed one.
pub fn import_any(
    bytes: &[u8],
    format: Option<FeedFormat>,
    options: &ImportOptions,
) -> Result<ImportReport, crate::ImportError> {
    match format.unwrap_or_else(|| sniff(bytes)) {
        FeedFormat::Stix => stix::import(bytes, options),
        FeedFormat::MispEvent => misp::import_event(bytes, options),
        FeedFormat::Csv(preset) => csv::import(bytes, &csv::Layout::preset(preset)?, options),
    }
}
