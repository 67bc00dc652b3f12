//! `key=value` messages, as FortiGate, pfSense, Sophos, Palo Alto (some modes) and many
//! appliances send: `date=2024-01-01 time=10:00:00 devname="FW 1" srcip=10.0.0.1 ...`.
//!
//! Values are unquoted (up to the next whitespace) or double-quoted with `\"` and `\\`
//! escapes. Tokens that are not pairs are skipped. A message counts as key=value only with
//! at least [`MIN_PAIRS`] pairs, so prose with one `=` is not mistaken for it.

use event::{Map, Value};

use crate::MAX_FIELDS;

/// The fewest pairs for a message to be read as key=value.
pub const MIN_PAIRS: usize = 3;

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/')
}

/// Parses `text` into pairs (first occurrence of a key wins, at most
/// [`MAX_FIELDS`](crate::MAX_FIELDS)), or `None` with fewer than [`MIN_PAIRS`].
pub fn parse(text: &str) -> Option<Map<String, Value>> {
    let bytes = text.as_bytes();
    let mut pairs = Map::new();
    let mut i = 0;
    while i < bytes.len() && pairs.len() < MAX_FIELDS {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && is_key_byte(bytes[i]) {
            i += 1;
        }
        if i == key_start || bytes.get(i) != Some(&b'=') {
            // Not a pair: skip the rest of this token.
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            continue;
        }
        let key = &text[key_start..i];
        i += 1;
        let value = if bytes.get(i) == Some(&b'"') {
            let (value, end) = read_quoted(text, i + 1);
            i = end;
            value
        } else {
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            text[start..i].to_owned()
        };
        if !pairs.contains_key(key) {
            pairs.insert(key.to_owned(), Value::String(value));
        }
    }
    (pairs.len() >= MIN_PAIRS).then_some(pairs)
}

/// Reads a quoted value from after its opening quote; returns it and the index after the
/// closing quote (or the end, for an unterminated quote).
fn read_quoted(text: &str, start: usize) -> (String, usize) {
    let mut value = String::new();
    let mut chars = text[start..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '"' => return (value, start + offset + 1),
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => value.push('\\'),
            },
            c => value.push(c),
        }
    }
    (value, text.len())
}
