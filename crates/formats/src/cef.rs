//! ArcSight Common Event Format (CEF), as in the "Implementing ArcSight CEF" guide.
//!
//! `CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`
//!
//! Header fields escape `|` and `\` with a backslash; extension values escape `=` and `\`
//! and may contain spaces (a value runs until the next ` key=`). Custom fields (`cs1`…`cs6`,
//! `cn1`…`cn3`, `cfp1`…, `flexString1`…) are also given under their label
//! (`cs1Label=Policy cs1=Block` → `custom.Policy = "Block"`).
//!
//! Output keys: `version`, `device_vendor`, `device_product`, `device_version`,
//! `signature_id`, `name`, `severity`, `extensions.{key}`, `custom.{label}`.

use event::{Map, Value};

use crate::MAX_FIELDS;

const HEADER_NAMES: [&str; 7] = [
    "version",
    "device_vendor",
    "device_product",
    "device_version",
    "signature_id",
    "name",
    "severity",
];

/// Parses a CEF message starting with `CEF:`. Fails only when the header is incomplete.
pub fn parse(text: &str) -> Result<Map<String, Value>, &'static str> {
    let rest = text.strip_prefix("CEF:").ok_or("missing `CEF:` prefix")?;
    let mut header = Vec::with_capacity(HEADER_NAMES.len());
    let mut current = String::new();
    let mut extension = "";
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped @ ('|' | '\\'))) => current.push(escaped),
                Some((_, other)) => {
                    current.push('\\');
                    current.push(other);
                }
                None => current.push('\\'),
            },
            '|' => {
                header.push(std::mem::take(&mut current));
                if header.len() == HEADER_NAMES.len() {
                    extension = &rest[i + 1..];
                    break;
                }
            }
            c => current.push(c),
        }
    }
    // Tolerate a missing final `|` when there is no extension.
    if header.len() == HEADER_NAMES.len() - 1 && !current.is_empty() {
        header.push(current);
    }
    if header.len() < HEADER_NAMES.len() {
        return Err("header has fewer than 7 fields");
    }
    let mut cef = Map::new();
    for (name, value) in HEADER_NAMES.iter().zip(header) {
        cef.insert((*name).to_owned(), Value::String(value.trim().to_owned()));
    }
    let extensions = parse_extension(extension);
    let custom = custom_labels(&extensions);
    cef.insert("extensions".to_owned(), Value::Object(extensions));
    if !custom.is_empty() {
        cef.insert("custom".to_owned(), Value::Object(custom));
    }
    Ok(cef)
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')
}

/// Splits `k1=v 1 k2=v2` into pairs: a key is a run of key characters that follows a space
/// (or starts the text) and precedes an unescaped `=`.
fn parse_extension(text: &str) -> Map<String, Value> {
    let bytes = text.as_bytes();
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() && keys.len() < MAX_FIELDS {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' => {
                let mut start = i;
                while start > 0 && is_key_byte(bytes[start - 1]) {
                    start -= 1;
                }
                if start < i && (start == 0 || bytes[start - 1] == b' ') {
                    keys.push((start, i));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    let mut extensions = Map::new();
    for (idx, (key_start, eq)) in keys.iter().enumerate() {
        let value_end = keys.get(idx + 1).map_or(bytes.len(), |next| next.0);
        let raw = text[eq + 1..value_end].trim_end_matches(' ');
        extensions.insert(
            text[*key_start..*eq].to_owned(),
            Value::String(unescape_value(raw)),
        );
    }
    extensions
}

fn unescape_value(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_owned();
    }
    let mut value = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => value.push('\n'),
            Some('r') => value.push('\r'),
            Some(escaped @ ('=' | '\\' | '|')) => value.push(escaped),
            Some(other) => {
                value.push('\\');
                value.push(other);
            }
            None => value.push('\\'),
        }
    }
    value
}

/// `cs1Label=Policy cs1=Block` → `{"Policy": "Block"}`.
fn custom_labels(extensions: &Map<String, Value>) -> Map<String, Value> {
    let mut custom = Map::new();
    for (key, label) in extensions {
        let Some(base) = key.strip_suffix("Label") else {
            continue;
        };
        if let (Some(label), Some(value)) = (label.as_str(), extensions.get(base))
            && !label.is_empty()
        {
            custom.insert(label.to_owned(), value.clone());
        }
    }
    custom
}
