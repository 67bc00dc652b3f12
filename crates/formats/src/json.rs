//! JSON documents from HTTP and Elasticsearch `_bulk` shippers (Filebeat, Winlogbeat,
//! Fluent Bit, Vector), usually already ECS-shaped.
//!
//! The document becomes the record's fields as is. Its `@timestamp` is the record time. When
//! it carries a raw `message` that a line decoder recognizes (a syslog line from Filebeat's
//! log input, a CEF line), the decoded namespaces (`syslog`, `auth`, `cef`, `kv`, …) are added
//! next to the document's own fields, and the parser becomes e.g. `json+syslog.rfc3164+sshd`.

use event::{Map, Record, Timestamp, Value};

/// Decodes one JSON document. `original` is its text as received, when the caller has it;
/// otherwise the document is serialized again for `event.original`.
pub fn decode(doc: Map<String, Value>, original: Option<String>, received_at: Timestamp) -> Record {
    let original = original.unwrap_or_else(|| Value::Object(doc.clone()).to_string());
    let mut record = Record::new("json", original);
    record.timestamp = event::get_path(&doc, "@timestamp").and_then(parse_time);
    let message = match (doc.get("message"), event::get_path(&doc, "winlog")) {
        // Winlogbeat's `message` is Windows' rendered text, not a log line.
        (Some(Value::String(message)), None) => Some(message.clone()),
        _ => None,
    };
    record.fields = doc;
    if let Some(message) = message {
        let line = crate::decode_line(&message, received_at);
        if line.parser != "raw" {
            record.parser = format!("json+{}", line.parser);
            for (namespace, value) in line.fields {
                if namespace != "message" && !record.fields.contains_key(&namespace) {
                    record.fields.insert(namespace, value);
                }
            }
            if record.timestamp.is_none() {
                record.timestamp = line.timestamp;
            }
        }
    }
    record
}

/// An RFC 3339 string or epoch milliseconds.
fn parse_time(value: &Value) -> Option<Timestamp> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => Timestamp::from_millisecond(number.as_i64()?).ok(),
        _ => None,
    }
}
