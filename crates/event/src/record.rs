use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Timestamp;

/// What a decoder made of one input: its fields under the format's own names, before
/// normalization to ECS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Which decoders handled the input, outermost first, e.g. `syslog.rfc3164+cef`.
    /// Stored as `event.module`-independent `log.parser` so "why did this line not
    /// parse" has an answer.
    pub parser: String,
    /// The time the source says the event happened, if it said.
    pub timestamp: Option<Timestamp>,
    /// Decoded fields, nested by format namespace (`syslog.hostname`, `cef.extensions.src`).
    pub fields: Map<String, Value>,
    /// The input text as received.
    pub original: String,
}

impl Record {
    /// A record with no fields yet.
    pub fn new(parser: impl Into<String>, original: impl Into<String>) -> Self {
        Self {
            parser: parser.into(),
            timestamp: None,
            fields: Map::new(),
            original: original.into(),
        }
    }

    /// Sets a field at a dotted path.
    pub fn set(&mut self, path: &str, value: impl Into<Value>) {
        crate::insert_path(&mut self.fields, path, value.into());
    }

    /// The value at a dotted path.
    pub fn get(&self, path: &str) -> Option<&Value> {
        crate::get_path(&self.fields, path)
    }
}
