//! The event model: what every other crate agrees an event is.
//!
//! An [`Event`] is an Elastic Common Schema (ECS) document: a nested JSON object whose
//! paths (`source.ip`, `winlog.event_data.TargetUserName`) are addressed with dotted
//! [`FieldPath`]s. A decoder produces a [`Record`] (what a format said, under that
//! format's own names); `normalize` turns it into an [`Event`].
//!
//! ```
//! use event::{Event, fields};
//! let mut event = Event::new();
//! event.insert("source.ip", "10.0.0.1".into());
//! assert_eq!(event.get_str(fields::SOURCE_IP), Some("10.0.0.1"));
//! ```

pub mod fields;
mod record;

pub use record::Record;
pub use serde_json::{Map, Value};

use serde::{Deserialize, Serialize};

/// A dotted path into an event, e.g. `winlog.event_data.TargetUserName`.
pub type FieldPath = str;

/// A point in time, nanosecond precision, always UTC.
pub type Timestamp = jiff::Timestamp;

/// Read access to the fields of an event by dotted path.
///
/// The detection engine and the query executor see events only through this trait,
/// so a lazily decoded event can implement it later without changing them.
pub trait Fields {
    /// The value at `path`, if present.
    fn field(&self, path: &FieldPath) -> Option<&Value>;
}

/// A normalized security event: an ECS document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Event {
    doc: Map<String, Value>,
}

impl Event {
    /// An empty event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps an existing JSON object.
    pub fn from_map(doc: Map<String, Value>) -> Self {
        Self { doc }
    }

    /// The underlying JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.doc
    }

    /// The underlying JSON object, mutably.
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.doc
    }

    /// Consumes the event, returning its JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.doc
    }

    /// The value at a dotted path. A key that itself contains dots (as some shippers
    /// send, `"source.ip": …` at top level) is found too.
    pub fn get(&self, path: &FieldPath) -> Option<&Value> {
        get_path(&self.doc, path)
    }

    /// The string at a dotted path.
    pub fn get_str(&self, path: &FieldPath) -> Option<&str> {
        self.get(path).and_then(Value::as_str)
    }

    /// Sets the value at a dotted path, creating intermediate objects. A non-object
    /// value in the way is replaced, because the newer, more specific value wins.
    pub fn insert(&mut self, path: &FieldPath, value: Value) {
        insert_path(&mut self.doc, path, value);
    }

    /// Sets the value only if nothing is there yet.
    pub fn insert_if_absent(&mut self, path: &FieldPath, value: Value) {
        if self.get(path).is_none() {
            self.insert(path, value);
        }
    }

    /// Removes and returns the value at a dotted path.
    pub fn remove(&mut self, path: &FieldPath) -> Option<Value> {
        remove_path(&mut self.doc, path)
    }

    /// The event time (`@timestamp`), if present and valid.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.get_str(fields::TIMESTAMP)?.parse().ok()
    }

    /// Sets `@timestamp` in RFC 3339 form.
    pub fn set_timestamp(&mut self, ts: Timestamp) {
        self.insert(fields::TIMESTAMP, Value::String(ts.to_string()));
    }

    /// Calls `visit` for every leaf value with its dotted path. Array elements share
    /// the path of their array, as in ECS and Elasticsearch.
    pub fn for_each_leaf(&self, mut visit: impl FnMut(&str, &Value)) {
        let mut path = String::new();
        walk(&self.doc, &mut path, &mut visit);
    }
}

impl Fields for Event {
    fn field(&self, path: &FieldPath) -> Option<&Value> {
        self.get(path)
    }
}

fn walk(map: &Map<String, Value>, path: &mut String, visit: &mut impl FnMut(&str, &Value)) {
    for (key, value) in map {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        walk_value(value, path, visit);
        path.truncate(len);
    }
}

fn walk_value(value: &Value, path: &mut String, visit: &mut impl FnMut(&str, &Value)) {
    match value {
        Value::Object(map) => walk(map, path, visit),
        Value::Array(items) => {
            for item in items {
                walk_value(item, path, visit);
            }
        }
        leaf => visit(path, leaf),
    }
}

/// Looks a dotted path up in a JSON object (see [`Event::get`]).
pub fn get_path<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    // The common case first, nested objects ({a:{b:{c}}}); then keys that contain dots,
    // as some shippers send them ({"a.b":{c}}, {"a.b.c"}), at any split point.
    let Some((head, rest)) = path.split_once('.') else {
        return map.get(path);
    };
    if let Some(Value::Object(inner)) = map.get(head)
        && let Some(found) = get_path(inner, rest)
    {
        return Some(found);
    }
    if let Some(found) = map.get(path) {
        return Some(found);
    }
    let mut search_from = head.len() + 1;
    while let Some(offset) = path[search_from..].find('.') {
        let dot = search_from + offset;
        if let Some(Value::Object(inner)) = map.get(&path[..dot])
            && let Some(found) = get_path(inner, &path[dot + 1..])
        {
            return Some(found);
        }
        search_from = dot + 1;
    }
    None
}

fn insert_path(map: &mut Map<String, Value>, path: &str, value: Value) {
    // Look before inserting: `insert`/`entry` need an owned key, and allocating one for
    // every segment of every field was a tenth of the pipeline's time.
    match path.split_once('.') {
        None => match map.get_mut(path) {
            Some(slot) => *slot = value,
            None => {
                map.insert(path.to_owned(), value);
            }
        },
        Some((head, rest)) => {
            if !matches!(map.get(head), Some(Value::Object(_))) {
                map.insert(head.to_owned(), Value::Object(Map::new()));
            }
            if let Some(Value::Object(inner)) = map.get_mut(head) {
                insert_path(inner, rest, value);
            }
        }
    }
}

fn remove_path(map: &mut Map<String, Value>, path: &str) -> Option<Value> {
    if let Some(value) = map.remove(path) {
        return Some(value);
    }
    let (head, rest) = path.split_once('.')?;
    match map.get_mut(head) {
        Some(Value::Object(inner)) => remove_path(inner, rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
