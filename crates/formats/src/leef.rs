//! IBM QRadar Log Event Extended Format (LEEF) 1.0 and 2.0.
//!
//! `LEEF:1.0|Vendor|Product|Version|EventID|k=v<TAB>k=v`
//! `LEEF:2.0|Vendor|Product|Version|EventID|DelimiterChar|k=v^k=v`
//!
//! In 2.0 the delimiter is one character or its hex code (`x09`, `0x5e`); empty means tab.
//! Output keys: `version`, `vendor`, `product`, `product_version`, `event_id`,
//! `attributes.{key}`.

use event::{Map, Value};

use crate::MAX_FIELDS;

/// Parses a LEEF message starting with `LEEF:`. Fails only when the header is incomplete.
pub fn parse(text: &str) -> Result<Map<String, Value>, &'static str> {
    let rest = text.strip_prefix("LEEF:").ok_or("missing `LEEF:` prefix")?;
    let version = rest.split('|').next().unwrap_or_default().trim();
    let is_v2 = version.starts_with('2');
    let n_parts = if is_v2 { 7 } else { 6 };
    let parts: Vec<&str> = rest.splitn(n_parts, '|').collect();
    if parts.len() < n_parts - 1 {
        return Err("header has fewer than 5 fields");
    }
    let mut leef = Map::new();
    for (name, value) in [
        "version",
        "vendor",
        "product",
        "product_version",
        "event_id",
    ]
    .iter()
    .zip(&parts)
    {
        leef.insert((*name).to_owned(), Value::String(value.trim().to_owned()));
    }
    let (delimiter, attributes) = if is_v2 {
        let delimiter = parse_delimiter(parts.get(5).copied().unwrap_or_default())?;
        (delimiter, parts.get(6).copied().unwrap_or_default())
    } else {
        ('\t', parts.get(5).copied().unwrap_or_default())
    };
    let mut attrs = Map::new();
    for pair in attributes.split(delimiter).take(MAX_FIELDS) {
        if let Some((key, value)) = pair.split_once('=') {
            let key = key.trim();
            if !key.is_empty() {
                attrs.insert(key.to_owned(), Value::String(value.to_owned()));
            }
        }
    }
    leef.insert("attributes".to_owned(), Value::Object(attrs));
    Ok(leef)
}

fn parse_delimiter(field: &str) -> Result<char, &'static str> {
    let mut chars = field.chars();
    match (chars.next(), chars.next()) {
        (None, _) => Ok('\t'),
        (Some(c), None) => Ok(c),
        _ => {
            let hex = field
                .strip_prefix("0x")
                .or_else(|| field.strip_prefix("0X"))
                .or_else(|| field.strip_prefix('x'))
                .or_else(|| field.strip_prefix('X'))
                .ok_or("delimiter is neither one character nor hex")?;
            u32::from_str_radix(hex, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or("invalid hex delimiter")
        }
    }
}
