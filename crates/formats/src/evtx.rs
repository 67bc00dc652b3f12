//! Windows event log files (`.evtx`), read with the `evtx` crate.
//!
//! Each record becomes fields under `winlog.`, named as Winlogbeat and ECS name them:
//! `channel`, `provider_name`, `provider_guid`, `event_id` (a string, ECS keyword),
//! `record_id`, `computer_name`, `process.pid`, `process.thread.id`, `user.identifier`,
//! `version`, `level`, `task`, `opcode`, `keywords`, `activity_id`, and `event_data` (the
//! `EventData` items by `Name`, as strings; unnamed items as `param1`… and together as `Data`;
//! `UserData` flattened).
//! The record time is `System.TimeCreated.SystemTime`.
//!
//! Files are read one 64 KiB chunk at a time. A chunk or record that cannot be parsed yields
//! an `Err` and reading goes on with the next one.
//!
//! ```no_run
//! let mut file = formats::evtx::EvtxFile::open("Security.evtx")?;
//! for record in file.by_ref() {
//!     match record {
//!         Ok(record) => println!("{}", record.parser),
//!         Err(err) => eprintln!("{err}"),
//!     }
//! }
//! println!("{} read, {} failed", file.records_read(), file.records_failed());
//! # Ok::<(), formats::Error>(())
//! ```

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Cursor, Read, Seek};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

use ::evtx::{EvtxParser, IntoIterChunks, ParserSettings};
use event::{Map, Record, Timestamp, Value};

use crate::{Error, MAX_FIELDS};

/// An open EVTX file: an iterator over its records, in record order.
pub struct EvtxFile<R: Read + Seek = File> {
    chunks: IntoIterChunks<R>,
    settings: Arc<ParserSettings>,
    pending: VecDeque<Result<Record, Error>>,
    n_chunks: u64,
    records_read: u64,
    records_failed: u64,
}

impl EvtxFile<File> {
    /// Opens a file; fails if it cannot be read or has no EVTX header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let parser = EvtxParser::from_path(path).map_err(|source| Error::EvtxOpen {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::new(parser))
    }
}

impl EvtxFile<Cursor<Vec<u8>>> {
    /// Reads a file already in memory (an upload); fails without an EVTX header.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        let parser = EvtxParser::from_buffer(bytes).map_err(Error::EvtxHeader)?;
        Ok(Self::new(parser))
    }
}

impl<R: Read + Seek> EvtxFile<R> {
    fn new(parser: EvtxParser<R>) -> Self {
        // One thread: the pipeline parallelizes across inputs, and per-record JSON goes
        // through our own conversion anyway.
        Self {
            chunks: parser.with_configuration(settings()).into_chunks(),
            settings: Arc::new(settings()),
            pending: VecDeque::new(),
            n_chunks: 0,
            records_read: 0,
            records_failed: 0,
        }
    }

    /// Records decoded so far.
    pub fn records_read(&self) -> u64 {
        self.records_read
    }

    /// Records (or whole chunks, counted once) that failed so far.
    pub fn records_failed(&self) -> u64 {
        self.records_failed
    }

    /// Decodes the next chunk into `pending`. Returns `false` at the end of the file.
    fn fill(&mut self) -> bool {
        let Some(chunk) = self.chunks.next() else {
            return false;
        };
        let chunk_idx = self.n_chunks;
        self.n_chunks += 1;
        let mut chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                self.records_failed += 1;
                self.pending.push_back(Err(Error::EvtxChunk(err)));
                return true;
            }
        };
        let settings = Arc::clone(&self.settings);
        // The evtx parser reads untrusted bytes; should it ever panic on a chunk, lose that
        // chunk, not the file (and not the ingest thread).
        let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut out = Vec::new();
            let mut parsed = match chunk.parse(settings) {
                Ok(parsed) => parsed,
                Err(err) => {
                    out.push(Err(Error::EvtxChunkParse(err)));
                    return out;
                }
            };
            for record in parsed.iter() {
                let decoded = record
                    .and_then(|record| record.into_json_value())
                    .map_err(Error::EvtxRecord)
                    .and_then(|serialized| {
                        to_record(
                            serialized.event_record_id,
                            serialized.timestamp,
                            serialized.data,
                        )
                    });
                out.push(decoded);
            }
            out
        }));
        match decoded {
            Ok(records) => {
                for record in records {
                    match &record {
                        Ok(_) => self.records_read += 1,
                        Err(_) => self.records_failed += 1,
                    }
                    self.pending.push_back(record);
                }
            }
            Err(_) => {
                self.records_failed += 1;
                self.pending.push_back(Err(Error::EvtxPanic { chunk_idx }));
            }
        }
        true
    }
}

impl<R: Read + Seek> Iterator for EvtxFile<R> {
    type Item = Result<Record, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if !self.fill() {
                return None;
            }
        }
    }
}

fn settings() -> ParserSettings {
    ParserSettings::new()
        .num_threads(1)
        .separate_json_attributes(false)
        .indent(false)
}

/// Converts one record, as the evtx crate renders it to JSON, into a `Record`.
pub fn to_record(record_id: u64, header_time: Timestamp, rendered: Value) -> Result<Record, Error> {
    let original = rendered.to_string();
    let Some(event) = rendered.get("Event") else {
        return Err(Error::EvtxShape { record_id });
    };
    let Some(system) = event.get("System") else {
        return Err(Error::EvtxShape { record_id });
    };
    let mut record = Record::new("evtx", original);
    let mut winlog = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            winlog.insert(key.to_owned(), value);
        }
    };
    put("channel", text(system.get("Channel")));
    put("provider_name", attr(system.get("Provider"), "Name"));
    put("provider_guid", attr(system.get("Provider"), "Guid"));
    put("event_id", text(system.get("EventID")));
    put("version", text(system.get("Version")));
    put("level", text(system.get("Level")));
    put("task", text(system.get("Task")));
    put("opcode", text(system.get("Opcode")));
    put("keywords", text(system.get("Keywords")));
    put(
        "record_id",
        text(system.get("EventRecordID")).or_else(|| Some(Value::String(record_id.to_string()))),
    );
    put("computer_name", text(system.get("Computer")));
    put("activity_id", attr(system.get("Correlation"), "ActivityID"));
    let execution = system.get("Execution");
    if let Some(pid) = attr(execution, "ProcessID").and_then(|v| number(&v)) {
        winlog.insert("process".to_owned(), serde_json::json!({ "pid": pid }));
    }
    if let Some(tid) = attr(execution, "ThreadID").and_then(|v| number(&v))
        && let Some(Value::Object(process)) = winlog.get_mut("process")
    {
        process.insert("thread".to_owned(), serde_json::json!({ "id": tid }));
    }
    if let Some(sid) = attr(system.get("Security"), "UserID") {
        winlog.insert("user".to_owned(), serde_json::json!({ "identifier": sid }));
    }
    let mut event_data = Map::new();
    if let Some(data) = event.get("EventData") {
        flatten_event_data(data, &mut event_data);
    }
    if let Some(user_data) = event.get("UserData") {
        flatten_user_data(user_data, "", &mut event_data);
    }
    if !event_data.is_empty() {
        winlog.insert("event_data".to_owned(), Value::Object(event_data));
    }
    record.timestamp = attr(system.get("TimeCreated"), "SystemTime")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        .or(Some(header_time));
    record
        .fields
        .insert("winlog".to_owned(), Value::Object(winlog));
    Ok(record)
}

/// The text of an element rendered either as a plain value or as `{"#attributes", "#text"}`.
fn text(value: Option<&Value>) -> Option<Value> {
    let value = match value? {
        Value::Object(map) => map.get("#text")?,
        other => other,
    };
    plain(value)
}

fn attr(value: Option<&Value>, name: &str) -> Option<Value> {
    plain(value?.get("#attributes")?.get(name)?)
}

/// Scalars as strings (Winlogbeat's keyword convention); arrays joined; objects dropped.
fn plain(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(Value::String(s.clone())),
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::Bool(b) => Some(Value::String(b.to_string())),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|item| match plain(item)? {
                    Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                })
                .collect();
            Some(Value::String(parts.join(",")))
        }
        Value::Object(map) => map.get("#text").and_then(plain),
    }
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// `EventData` is rendered as `{Name: value}` for named `Data` items, and as
/// `{"Data": value | [values] | {"#text": …}}` for unnamed ones. Unnamed values become
/// `param1`… and are also kept together as `Data` (a string when there is one, else an
/// array of strings), the field Sigma rules and backends (Chainsaw, Hayabusa) use for them.
fn flatten_event_data(data: &Value, out: &mut Map<String, Value>) {
    let Value::Object(map) = data else {
        if let Some(value) = plain(data) {
            out.insert("param1".to_owned(), value.clone());
            out.insert("Data".to_owned(), value);
        }
        return;
    };
    let mut unnamed: Vec<Value> = Vec::new();
    for (key, value) in map {
        if out.len() >= MAX_FIELDS {
            break;
        }
        if key == "#attributes" {
            continue;
        }
        if key == "Data" || key == "#text" {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                Value::Object(inner) => match inner.get("#text") {
                    Some(Value::Array(items)) => items.iter().collect(),
                    Some(item) => vec![item],
                    None => Vec::new(),
                },
                item => vec![item],
            };
            for item in items {
                if out.len() >= MAX_FIELDS {
                    break;
                }
                if let Some(value) = plain(item) {
                    let name = format!("param{}", out.len() + 1);
                    out.insert(name, value.clone());
                    unnamed.push(value);
                }
            }
            continue;
        }
        if let Some(value) = plain(value) {
            out.insert(key.clone(), value);
        }
    }
    match unnamed.len() {
        0 => {}
        1 => {
            out.insert("Data".to_owned(), unnamed.swap_remove(0));
        }
        _ => {
            out.insert("Data".to_owned(), Value::Array(unnamed));
        }
    }
}

/// `UserData` holds one provider-specific element; its leaves become event data, nested
/// names joined with `.` only when a leaf name would repeat.
fn flatten_user_data(value: &Value, prefix: &str, out: &mut Map<String, Value>) {
    let Value::Object(map) = value else {
        return;
    };
    for (key, inner) in map {
        if out.len() >= MAX_FIELDS || key == "#attributes" {
            continue;
        }
        match inner {
            Value::Object(child) if !child.contains_key("#text") => {
                flatten_user_data(inner, key, out);
            }
            _ => {
                if let Some(value) = plain(inner) {
                    let name = if out.contains_key(key) && !prefix.is_empty() {
                        format!("{prefix}.{key}")
                    } else {
                        key.clone()
                    };
                    out.insert(name, value);
                }
            }
        }
    }
}
