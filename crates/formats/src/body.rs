//! Dispatch of a message body (after a syslog header, or a whole plain line) to the
//! decoder that recognizes it.

use event::{Record, Value};

use crate::{add_parse_error, auth, cef, kv, leef};

/// How far into a message a `CEF:`/`LEEF:` marker may start (some relays prepend a host or
/// a time of their own).
const MARKER_WINDOW: usize = 256;

/// Tries the body decoders in order of specificity; on success their fields are in `record`
/// and the decoder's name is returned. `program` is the syslog APP-NAME/tag, which selects the
/// auth-line decoders.
pub(crate) fn decode(
    record: &mut Record,
    message: &str,
    program: Option<&str>,
) -> Option<&'static str> {
    let trimmed = message.trim_start();
    if let Some(start) = find_marker(trimmed, "CEF:") {
        match cef::parse(&trimmed[start..]) {
            Ok(cef) => {
                record.fields.insert("cef".to_owned(), Value::Object(cef));
                return Some("cef");
            }
            Err(reason) => add_parse_error(record, format!("invalid cef: {reason}")),
        }
    }
    if let Some(start) = find_marker(trimmed, "LEEF:") {
        match leef::parse(&trimmed[start..]) {
            Ok(leef) => {
                record.fields.insert("leef".to_owned(), Value::Object(leef));
                return Some("leef");
            }
            Err(reason) => add_parse_error(record, format!("invalid leef: {reason}")),
        }
    }
    if trimmed.starts_with('{') {
        match serde_json::from_str::<Value>(trimmed.trim_end()) {
            Ok(Value::Object(doc)) => {
                record.fields.insert("json".to_owned(), Value::Object(doc));
                return Some("json");
            }
            Ok(_) => {}
            Err(err) => add_parse_error(record, format!("invalid json body: {err}")),
        }
    }
    if let Some(name) = auth::decode(record, message, program) {
        return Some(name);
    }
    if let Some(pairs) = kv::parse(message) {
        record.fields.insert("kv".to_owned(), Value::Object(pairs));
        return Some("kv");
    }
    None
}

/// The start of `marker` at the beginning of `text` or after a space within the first
/// [`MARKER_WINDOW`] bytes.
fn find_marker(text: &str, marker: &str) -> Option<usize> {
    if text.starts_with(marker) {
        return Some(0);
    }
    let mut window = MARKER_WINDOW.min(text.len());
    while !text.is_char_boundary(window) {
        window -= 1;
    }
    let found = text[..window].find(&format!(" {marker}"))?;
    Some(found + 1)
}
