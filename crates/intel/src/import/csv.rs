//! CSV and plain-text lists with configurable columns, and presets for the abuse.ch
//! feeds (Feodo Tracker, URLhaus, ThreatFox).
//!
//! Columns are named by header (found in the first non-comment line, or in the last
//! comment line before the data, as URLhaus writes it) or by position.

use super::{ImportOptions, ImportReport, check_size, parse_time};
use crate::ImportError;
use crate::model::{Indicator, IndicatorKind};

/// Longest line accepted; longer lines are reported and skipped.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// A column, by header name (case-insensitive) or zero-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// The column whose header is one of these names.
    Named(Vec<String>),
    /// The column at this position.
    Index(usize),
}

impl Column {
    fn named(names: &[&str]) -> Column {
        Column::Named(names.iter().map(|n| (*n).to_owned()).collect())
    }
}

/// How to read a list.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Field separator (`,` for CSV; plain lists have one value per line).
    pub delimiter: u8,
    /// The value column.
    pub value: Column,
    /// The kind of every value, or `None` to take it from `kind_column` or to guess it.
    pub kind: Option<IndicatorKind>,
    /// A column naming each row's kind (ThreatFox `ioc_type`).
    pub kind_column: Option<Column>,
    /// First seen.
    pub first_seen: Option<Column>,
    /// Last seen.
    pub last_seen: Option<Column>,
    /// Confidence (0–100).
    pub confidence: Option<Column>,
    /// Columns whose values become tags.
    pub tags: Vec<Column>,
}

impl Layout {
    /// One value per line, of `kind` (guessed per line when `None`).
    pub fn plain(kind: Option<IndicatorKind>) -> Layout {
        Layout {
            delimiter: b',',
            value: Column::Index(0),
            kind,
            kind_column: None,
            first_seen: None,
            last_seen: None,
            confidence: None,
            tags: Vec::new(),
        }
    }

    /// A named preset: `feodo`, `urlhaus`, `threatfox`, `plain`.
    pub fn preset(name: &str) -> Result<Layout, ImportError> {
        Ok(match name {
            "plain" => Layout::plain(None),
            // feodotracker.abuse.ch/downloads/ipblocklist.csv
            "feodo" | "feodotracker" => Layout {
                value: Column::named(&["dst_ip", "ip_address"]),
                kind: Some(IndicatorKind::Ip),
                first_seen: Some(Column::named(&["first_seen_utc", "first_seen"])),
                last_seen: Some(Column::named(&["last_online"])),
                tags: vec![Column::named(&["malware"])],
                ..Layout::plain(None)
            },
            // urlhaus.abuse.ch/downloads/csv/ and the per-TLD feeds
            "urlhaus" => Layout {
                value: Column::named(&["url"]),
                kind: Some(IndicatorKind::Url),
                first_seen: Some(Column::named(&["dateadded", "dateadded (utc)"])),
                last_seen: Some(Column::named(&["last_online"])),
                tags: vec![Column::named(&["threat"]), Column::named(&["tags"])],
                ..Layout::plain(None)
            },
            // threatfox.abuse.ch/export/csv/
            "threatfox" => Layout {
                value: Column::named(&["ioc_value"]),
                kind_column: Some(Column::named(&["ioc_type"])),
                first_seen: Some(Column::named(&["first_seen_utc"])),
                last_seen: Some(Column::named(&["last_seen_utc"])),
                confidence: Some(Column::named(&["confidence_level"])),
                tags: vec![
                    Column::named(&["malware_printable"]),
                    Column::named(&["threat_type"]),
                    Column::named(&["tags"]),
                ],
                ..Layout::plain(None)
            },
            other => {
                return Err(ImportError::Layout(format!(
                    "unknown preset `{other}` (feodo, urlhaus, threatfox, plain)"
                )));
            }
        })
    }
}

/// Splits one CSV line (RFC 4180 quoting, `""` inside quotes).
pub fn split_line(line: &str, delimiter: u8) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && field.trim().is_empty() {
            field.clear();
            quoted = true;
        } else if c as u32 == u32::from(delimiter) {
            fields.push(std::mem::take(&mut field));
        } else {
            field.push(c);
        }
    }
    fields.push(field);
    fields
}

/// Guesses a value's kind: IP or CIDR, URL, email, hash by length, else domain.
pub fn guess_kind(value: &str) -> Option<IndicatorKind> {
    let value = value.trim();
    let candidates = [
        IndicatorKind::Ip,
        IndicatorKind::Md5,
        IndicatorKind::Sha1,
        IndicatorKind::Sha256,
        IndicatorKind::Sha512,
    ];
    if let Some(kind) = candidates
        .into_iter()
        .find(|kind| kind.normalize(value).is_ok())
    {
        return Some(kind);
    }
    if value.contains("://") {
        return IndicatorKind::Url
            .normalize(value)
            .is_ok()
            .then_some(IndicatorKind::Url);
    }
    if value.contains('@') {
        return IndicatorKind::Email
            .normalize(value)
            .is_ok()
            .then_some(IndicatorKind::Email);
    }
    IndicatorKind::Domain
        .normalize(value)
        .is_ok()
        .then_some(IndicatorKind::Domain)
}

/// ThreatFox `ioc_type` values.
fn kind_from_name(name: &str) -> Option<IndicatorKind> {
    match name.trim().to_ascii_lowercase().as_str() {
        "ip:port" | "ip" | "ipv4" | "ipv6" => Some(IndicatorKind::Ip),
        "domain" | "hostname" => Some(IndicatorKind::Domain),
        "url" => Some(IndicatorKind::Url),
        "md5_hash" | "md5" => Some(IndicatorKind::Md5),
        "sha1_hash" | "sha1" => Some(IndicatorKind::Sha1),
        "sha256_hash" | "sha256" => Some(IndicatorKind::Sha256),
        "sha512_hash" | "sha512" => Some(IndicatorKind::Sha512),
        "email" => Some(IndicatorKind::Email),
        "ja3" => Some(IndicatorKind::Ja3),
        _ => None,
    }
}

fn resolve(column: &Column, header: Option<&[String]>) -> Option<usize> {
    match column {
        Column::Index(idx) => Some(*idx),
        Column::Named(names) => header?
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n))),
    }
}

/// Imports a CSV or plain list.
pub fn import(
    bytes: &[u8],
    layout: &Layout,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    check_size(bytes)?;
    let text = String::from_utf8_lossy(bytes);
    let mut report = ImportReport::default();
    let needs_header = [Some(&layout.value), layout.kind_column.as_ref()]
        .into_iter()
        .flatten()
        .any(|c| matches!(c, Column::Named(_)));
    let mut header: Option<Vec<String>> = None;
    let mut last_comment: Option<String> = None;
    let mut columns: Option<Columns> = None;
    for (idx, raw_line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw_line.trim();
        if line.is_empty() {
            continue;
        }
        if line.len() > MAX_LINE_BYTES {
            report.problem(
                format!("line {line_no}"),
                format!("longer than {MAX_LINE_BYTES} bytes"),
            );
            continue;
        }
        if line.starts_with('#') || line.starts_with("//") || line.starts_with(';') {
            last_comment = Some(line.trim_start_matches(['#', '/', ';', ' ']).to_owned());
            report.ignore("comment line");
            continue;
        }
        let fields = split_line(line, layout.delimiter);
        if columns.is_none() {
            // The header: the first data line if it names the value column, else the last
            // comment line (URLhaus), else none.
            let first_as_header = needs_header
                .then(|| fields.clone())
                .filter(|h| resolve(&layout.value, Some(h)).is_some());
            if let Some(first) = first_as_header {
                header = Some(first);
                columns = Some(Columns::resolve(layout, header.as_deref()));
                report.ignore("header line");
                continue;
            }
            if needs_header {
                header = last_comment
                    .as_deref()
                    .map(|c| split_line(c, layout.delimiter));
            }
            let resolved = Columns::resolve(layout, header.as_deref());
            if resolved.value.is_none() {
                return Err(ImportError::Layout(format!(
                    "value column {:?} not found in the header {:?}",
                    layout.value, header
                )));
            }
            columns = Some(resolved);
        }
        let columns = columns.as_ref().expect("resolved above");
        row(&fields, line_no, layout, columns, options, &mut report);
    }
    Ok(report)
}

struct Columns {
    value: Option<usize>,
    kind: Option<usize>,
    first_seen: Option<usize>,
    last_seen: Option<usize>,
    confidence: Option<usize>,
    tags: Vec<usize>,
}

impl Columns {
    fn resolve(layout: &Layout, header: Option<&[String]>) -> Columns {
        let opt = |c: &Option<Column>| c.as_ref().and_then(|c| resolve(c, header));
        Columns {
            value: resolve(&layout.value, header),
            kind: opt(&layout.kind_column),
            first_seen: opt(&layout.first_seen),
            last_seen: opt(&layout.last_seen),
            confidence: opt(&layout.confidence),
            tags: layout
                .tags
                .iter()
                .filter_map(|c| resolve(c, header))
                .collect(),
        }
    }
}

fn row(
    fields: &[String],
    line_no: usize,
    layout: &Layout,
    columns: &Columns,
    options: &ImportOptions,
    report: &mut ImportReport,
) {
    let entry = format!("line {line_no}");
    let get = |idx: Option<usize>| {
        idx.and_then(|i| fields.get(i))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    };
    let Some(mut value) = get(columns.value) else {
        report.problem(entry, "no value in the value column");
        return;
    };
    let kind = match (layout.kind, get(columns.kind)) {
        (Some(kind), _) => Some(kind),
        (None, Some(name)) => kind_from_name(name),
        (None, None) => guess_kind(value),
    };
    let Some(kind) = kind else {
        report.problem(entry, format!("cannot tell what `{}` is", truncate(value)));
        return;
    };
    // ThreatFox writes `ip:port`.
    if kind == IndicatorKind::Ip
        && let Some((ip, port)) = value.rsplit_once(':')
        && port.bytes().all(|b| b.is_ascii_digit())
        && ip.parse::<std::net::Ipv4Addr>().is_ok()
    {
        value = ip;
    }
    let mut indicator = match Indicator::new(kind, value, &options.source, options.default_tlp) {
        Ok(indicator) => indicator,
        Err(reason) => {
            report.problem(entry, format!("`{}`: {reason}", truncate(value)));
            return;
        }
    };
    indicator.first_seen = get(columns.first_seen).and_then(parse_time);
    indicator.last_seen = get(columns.last_seen)
        .and_then(parse_time)
        .or(indicator.first_seen);
    indicator.confidence = get(columns.confidence)
        .and_then(|c| c.parse::<u8>().ok())
        .map_or(options.default_confidence, |c| c.min(100));
    indicator.tags = columns
        .tags
        .iter()
        .filter_map(|idx| get(Some(*idx)))
        .flat_map(|tags| tags.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && t != "None")
        .collect();
    indicator.modified = options.now;
    report.indicators.push(indicator);
}

fn truncate(value: &str) -> &str {
    let mut end = value.len().min(80);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}
