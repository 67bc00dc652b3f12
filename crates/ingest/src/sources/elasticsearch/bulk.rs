//! Parsing of `_bulk` bodies and single documents, sans-IO.
//!
//! A bulk body is NDJSON: an action line (`{"index":{...}}`, `{"create":{...}}`,
//! `{"update":{...}}`, `{"delete":{...}}`), followed by a document line for every action
//! but `delete`. Only `index` and `create` are accepted; the others get per-item errors,
//! as do bad documents, so one bad line never fails its neighbours. A malformed action
//! line fails the whole request, as in Elasticsearch: nothing after it can be trusted to
//! be an action.

use std::{
    io::Read,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use flate2::read::MultiGzDecoder;
use pipeline::Payload;
use serde_json::{Map, Value, json};

/// What became of one bulk item.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Submitted; the index into the batch's payloads.
    Accepted(usize),
    /// Refused with an Elasticsearch error.
    Failed(ItemError),
}

/// A per-item Elasticsearch error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemError {
    pub(crate) status: u16,
    pub(crate) error_type: &'static str,
    pub(crate) reason: String,
    /// `(type, reason)` of the underlying cause, when there is one.
    pub(crate) caused_by: Option<(&'static str, String)>,
}

impl ItemError {
    fn new(error_type: &'static str, reason: impl Into<String>) -> ItemError {
        ItemError {
            status: 400,
            error_type,
            reason: reason.into(),
            caused_by: None,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut error = json!({ "type": self.error_type, "reason": self.reason });
        if let Some((error_type, reason)) = &self.caused_by {
            error["caused_by"] = json!({ "type": error_type, "reason": reason });
        }
        error
    }
}

/// One item of a bulk request, in request order.
#[derive(Debug)]
pub(crate) struct BulkItem {
    /// The action name, which keys the item in the response.
    pub(crate) action: &'static str,
    pub(crate) index: Option<String>,
    pub(crate) id: String,
    pub(crate) outcome: Outcome,
}

/// A parsed bulk request.
#[derive(Debug, Default)]
pub(crate) struct ParsedBulk {
    pub(crate) items: Vec<BulkItem>,
    /// The accepted documents, in order.
    pub(crate) payloads: Vec<Payload>,
    /// Bytes of the accepted document lines.
    pub(crate) n_bytes: usize,
}

/// Why a whole bulk request is refused (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestError {
    pub(crate) error_type: &'static str,
    pub(crate) reason: String,
}

/// What parsing needs besides the body.
pub(crate) struct BulkContext<'a> {
    /// The index in the URL path, used when an action names none.
    pub(crate) default_index: Option<&'a str>,
    pub(crate) max_json_depth: usize,
    pub(crate) ids: &'a IdGenerator,
}

/// Parses a bulk body; see the module documentation.
pub(crate) fn parse_bulk(body: &[u8], cx: &BulkContext<'_>) -> Result<ParsedBulk, RequestError> {
    let mut parsed = ParsedBulk::default();
    let mut lines = body
        .split(|&byte| byte == b'\n')
        .enumerate()
        .map(|(idx, line)| (idx + 1, trim_line(line)))
        .filter(|(_, line)| !line.is_empty());
    while let Some((line_number, line)) = lines.next() {
        let action = parse_action(line, line_number, cx.max_json_depth)?;
        let index = action.index.or_else(|| cx.default_index.map(str::to_owned));
        let id = action.id.unwrap_or_else(|| cx.ids.next());
        let outcome = match action.name {
            "index" | "create" => match lines.next() {
                Some((_, doc_line)) => match index.as_deref() {
                    None => Outcome::Failed(ItemError::new(
                        "action_request_validation_exception",
                        "Validation Failed: 1: index is missing;",
                    )),
                    Some(index) => match validate_index(index)
                        .and_then(|()| parse_document(doc_line, index, cx.max_json_depth))
                    {
                        Ok(payload) => {
                            parsed.n_bytes += doc_line.len();
                            parsed.payloads.push(payload);
                            Outcome::Accepted(parsed.payloads.len() - 1)
                        }
                        Err(error) => Outcome::Failed(error),
                    },
                },
                None => Outcome::Failed(ItemError::new(
                    "action_request_validation_exception",
                    "Validation Failed: 1: source is missing;",
                )),
            },
            "update" => {
                // The update's document line belongs to it; skip it.
                lines.next();
                Outcome::Failed(unsupported(action.name))
            }
            _ => Outcome::Failed(unsupported(action.name)),
        };
        parsed.items.push(BulkItem {
            action: action.name,
            index,
            id,
            outcome,
        });
    }
    if parsed.items.is_empty() {
        return Err(RequestError {
            error_type: "action_request_validation_exception",
            reason: "Validation Failed: 1: no requests added;".to_owned(),
        });
    }
    Ok(parsed)
}

fn unsupported(action: &str) -> ItemError {
    ItemError::new(
        "illegal_argument_exception",
        format!("[{action}] is not supported: sentinella only appends events"),
    )
}

struct Action {
    name: &'static str,
    index: Option<String>,
    id: Option<String>,
}

fn parse_action(
    line: &[u8],
    line_number: usize,
    max_json_depth: usize,
) -> Result<Action, RequestError> {
    let malformed = |detail: String| RequestError {
        error_type: "illegal_argument_exception",
        reason: format!("Malformed action/metadata line [{line_number}], {detail}"),
    };
    if exceeds_depth(line, max_json_depth) {
        return Err(malformed("nested too deeply".to_owned()));
    }
    let object: Map<String, Value> = serde_json::from_slice(line)
        .map_err(|error| malformed(format!("expected a JSON object: {error}")))?;
    let mut entries = object.into_iter();
    let (Some((name, meta)), None) = (entries.next(), entries.next()) else {
        return Err(malformed("expected exactly one action".to_owned()));
    };
    let name = match name.as_str() {
        "index" => "index",
        "create" => "create",
        "update" => "update",
        "delete" => "delete",
        other => {
            return Err(malformed(format!(
                "expected one of [create, delete, index, update] but found [{other}]"
            )));
        }
    };
    let Value::Object(meta) = meta else {
        return Err(malformed(format!("expected an object after [{name}]")));
    };
    let text = |key: &str| match meta.get(key) {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    Ok(Action {
        name,
        index: text("_index"),
        id: text("_id"),
    })
}

/// Parses one document line into a payload that records its index in `labels.index`.
pub(crate) fn parse_document(
    line: &[u8],
    index: &str,
    max_json_depth: usize,
) -> Result<Payload, ItemError> {
    let failed = |cause: &'static str, reason: String| ItemError {
        caused_by: Some((cause, reason)),
        ..ItemError::new("mapper_parsing_exception", "failed to parse")
    };
    if exceeds_depth(line, max_json_depth) {
        return Err(failed(
            "illegal_argument_exception",
            format!("document nesting depth exceeds {max_json_depth}"),
        ));
    }
    let original = std::str::from_utf8(line).map_err(|_| {
        failed(
            "not_x_content_exception",
            "document is not UTF-8".to_owned(),
        )
    })?;
    let mut doc: Map<String, Value> = serde_json::from_str(original)
        .map_err(|error| failed("document_parsing_exception", error.to_string()))?;
    record_index(&mut doc, index);
    Ok(Payload::Json {
        doc,
        original: Some(original.to_owned()),
    })
}

/// Sets `labels.index` (ECS custom labels) unless the document already has one, or has
/// a `labels` that is not an object.
fn record_index(doc: &mut Map<String, Value>, index: &str) {
    let labels = doc
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(labels) = labels {
        labels
            .entry("index")
            .or_insert_with(|| Value::String(index.to_owned()));
    }
}

/// Whether objects and arrays in `json` nest deeper than `max_depth`. A linear scan that
/// tracks strings and escapes, so it runs before any recursive parser sees the bytes.
pub(crate) fn exceeds_depth(json: &[u8], max_depth: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Checks an index name the way Elasticsearch would refuse it, loosely: shippers only
/// need to learn early that a name is unusable. Date math (`<logs-{now/d}>`) is allowed.
pub(crate) fn validate_index(index: &str) -> Result<(), ItemError> {
    let invalid = |why: &str| {
        Err(ItemError::new(
            "invalid_index_name_exception",
            format!("Invalid index name [{index}], {why}"),
        ))
    };
    if index.is_empty() || index.len() > 255 {
        return invalid("must be between 1 and 255 bytes long");
    }
    if index.starts_with(['_', '-', '+']) {
        return invalid("must not start with '_', '-', or '+'");
    }
    if index == "." || index == ".." {
        return invalid("must not be '.' or '..'");
    }
    if index.chars().any(|c| {
        matches!(c, '\\' | '/' | '*' | '?' | '"' | '|' | ' ' | ',' | '#') || c.is_control()
    }) {
        return invalid(
            r#"must not contain the following characters [ , ", *, \, <space>, ?, /, |, #]"#,
        );
    }
    Ok(())
}

fn trim_line(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

/// Why a gzip body was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GunzipError {
    TooLarge,
    Corrupt(String),
}

/// Decompresses a gzip body (several members allowed), refusing to grow past `max_bytes`.
pub(crate) fn gunzip(compressed: &[u8], max_bytes: usize) -> Result<Vec<u8>, GunzipError> {
    let mut decompressed = Vec::new();
    let cap = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    MultiGzDecoder::new(compressed)
        .take(cap)
        .read_to_end(&mut decompressed)
        .map_err(|error| GunzipError::Corrupt(error.to_string()))?;
    if decompressed.len() > max_bytes {
        return Err(GunzipError::TooLarge);
    }
    Ok(decompressed)
}

/// Generates document ids shaped like Elasticsearch's: 20 URL-safe base64 characters,
/// unique per process (a counter) and across restarts (the start time).
#[derive(Debug)]
pub(crate) struct IdGenerator {
    prefix: [u8; 7],
    counter: AtomicU64,
}

impl IdGenerator {
    pub(crate) fn new() -> IdGenerator {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let seed = (nanos as u64) ^ u64::from(std::process::id()).rotate_left(40);
        let mut prefix = [0u8; 7];
        prefix.copy_from_slice(&seed.to_be_bytes()[1..]);
        IdGenerator {
            prefix,
            counter: AtomicU64::new(0),
        }
    }

    pub(crate) fn next(&self) -> String {
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0u8; 15];
        bytes[..7].copy_from_slice(&self.prefix);
        bytes[7..].copy_from_slice(&count.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }
}
