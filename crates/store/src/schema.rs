//! How an event becomes a tantivy document.
//!
//! | field | content | why |
//! |---|---|---|
//! | `_source` | the event as JSON, stored | returned by searches |
//! | `ts` | `@timestamp`, fast + indexed | time ranges, newest-first sort, histograms |
//! | `seq` | WAL sequence number, fast | replay deduplication, stable order |
//! | `f` | the event minus its long text, JSON, keyword-indexed (lowercased) | `field:value`, wildcards, exists |
//! | `n` | numbers, and strings that are numbers, JSON fast | numeric ranges, also over ECS keyword fields like `event.code` |
//! | `agg` | the [`AGGREGATABLE_FIELDS`] of the event, JSON fast | terms aggregations (top values) |
//! | `text` | `event.original` (else `message`), full text with positions | free text and phrases |
//! | `ip.<path>` | ECS IP fields as IP addresses | CIDR queries |

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use event::{Event, Value, fields};
use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, IndexRecordOption, IpAddrOptions,
    JsonObjectOptions, OwnedValue, STORED, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, TokenizerManager,
};
use tantivy::{DateTime, Index, TantivyDocument};

/// Fields kept as columns for terms aggregations (plus everything under `labels.`).
///
/// A column per field of every event would cost a fifth of the indexing time and a sixth
/// of the disk (measured with `sentinella bench`); these are the fields dashboards and
/// analysts group by. Like Elasticsearch's `keyword` vs `text`, other fields are
/// searchable but not aggregatable.
pub const AGGREGATABLE_FIELDS: &[&str] = &[
    "destination.ip",
    "destination.port",
    "dns.question.name",
    "event.action",
    "event.category",
    "event.code",
    "event.dataset",
    "event.kind",
    "event.module",
    "event.outcome",
    "event.type",
    "file.extension",
    "host.hostname",
    "host.name",
    "http.response.status_code",
    "input.type",
    "log.parser",
    "log.syslog.appname",
    "log.syslog.facility.name",
    "log.syslog.hostname",
    "log.syslog.severity.name",
    "network.protocol",
    "network.transport",
    "observer.product",
    "observer.vendor",
    "process.executable",
    "process.name",
    "process.parent.name",
    "rule.name",
    "service.name",
    "source.ip",
    "source.port",
    "url.domain",
    "user.domain",
    "user.name",
    "winlog.channel",
    "winlog.event_id",
    "winlog.provider_name",
];

/// Whether terms aggregations work on this field.
pub fn is_aggregatable(path: &str) -> bool {
    path.starts_with("labels.") || AGGREGATABLE_FIELDS.binary_search(&path).is_ok()
}

/// Keyword values longer than this are cut in `f` (like Elasticsearch's `ignore_above`,
/// but keeping a prefix); the whole value stays in `_source`.
pub(crate) const MAX_KEYWORD_BYTES: usize = 1024;
pub(crate) const KEYWORD_TOKENIZER: &str = "sentinella_keyword";
pub(crate) const TEXT_TOKENIZER: &str = "sentinella_text";

/// Fields left out of `f`: long text goes to the full-text `text` field, and the time,
/// unique per event, is the `ts` column (a keyword copy would only grow the dictionary).
const TEXT_ONLY_FIELDS: &[&str] = &["event.original", "message", "@timestamp"];

#[derive(Clone)]
pub(crate) struct EventSchema {
    pub schema: Schema,
    pub source: Field,
    pub ts: Field,
    pub seq: Field,
    pub f: Field,
    pub n: Field,
    pub agg: Field,
    pub text: Field,
    /// One IP field per ECS IP path, in the order of `fields::IP_FIELDS`.
    pub ips: Vec<Field>,
}

impl EventSchema {
    pub fn new() -> Self {
        let mut builder = Schema::builder();
        let source = builder.add_bytes_field("_source", STORED);
        let ts = builder.add_date_field(
            "ts",
            // Fast only: time filters and sorting read the column; an inverted index of
            // near-unique timestamps would cost disk for nothing.
            DateOptions::default()
                .set_fast()
                .set_precision(DateTimePrecision::Microseconds),
        );
        let seq = builder.add_u64_field("seq", FAST);
        let keyword_indexing = TextFieldIndexing::default()
            .set_tokenizer(KEYWORD_TOKENIZER)
            .set_index_option(IndexRecordOption::Basic);
        let f = builder.add_json_field(
            "f",
            JsonObjectOptions::default()
                .set_indexing_options(keyword_indexing)
                .set_expand_dots_enabled(),
        );
        let n = builder.add_json_field(
            "n",
            JsonObjectOptions::default()
                .set_fast("raw")
                .set_expand_dots_enabled(),
        );
        let agg = builder.add_json_field(
            "agg",
            JsonObjectOptions::default()
                .set_fast("raw")
                .set_expand_dots_enabled(),
        );
        let text = builder.add_text_field(
            "text",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(TEXT_TOKENIZER)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            ),
        );
        let ips = fields::IP_FIELDS
            .iter()
            .map(|path| {
                builder.add_ip_addr_field(
                    &ip_field_name(path),
                    IpAddrOptions::default().set_indexed().set_fast(),
                )
            })
            .collect();
        EventSchema {
            schema: builder.build(),
            source,
            ts,
            seq,
            f,
            n,
            agg,
            text,
            ips,
        }
    }

    pub fn ip_field(&self, path: &str) -> Option<Field> {
        fields::IP_FIELDS
            .iter()
            .position(|candidate| *candidate == path)
            .map(|idx| self.ips[idx])
    }

    /// Builds the document for one event. `fallback_ts` is used when the event has no
    /// valid `@timestamp` (the pipeline always sets one; this is defence in depth).
    pub fn document(&self, seq: u64, mut event: Event, source_json: &[u8]) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_bytes(self.source, source_json);
        doc.add_u64(self.seq, seq);
        doc.add_date(self.ts, date_of(&event));
        for (idx, path) in fields::IP_FIELDS.iter().enumerate() {
            for_each_ip(event.get(path), |ip| doc.add_ip_addr(self.ips[idx], ip));
        }

        // The event is ours to take apart (its JSON is already in `source_json`): the
        // long text goes to `text`, and what remains is indexed as `f` in place, without
        // copying every string into an intermediate document.
        let message = event.remove(fields::MESSAGE);
        let original = event.remove(fields::EVENT_ORIGINAL);
        for path in TEXT_ONLY_FIELDS {
            event.remove(path);
        }
        // Free text is the message when the decoder found one (for JSON documents the
        // original is the whole document, whose fields are already in `f`), else the
        // original line.
        let full_text = match (message, original) {
            (Some(Value::String(message)), _) => Some(message),
            (_, Some(Value::String(original))) => Some(original),
            _ => None,
        };
        if let Some(text) = full_text {
            doc.add_text(self.text, text);
        }

        let mut columns = Columns::default();
        let mut keywords = Value::Object(event.into_map());
        prepare_keywords(&mut keywords, &mut String::new(), &mut columns);
        doc.add_field_value(self.f, &keywords);
        if !columns.numeric.is_empty() {
            doc.add_object(self.n, columns.numeric);
        }
        if !columns.aggregatable.is_empty() {
            doc.add_object(self.agg, columns.aggregatable);
        }
        doc
    }
}

pub(crate) fn ip_field_name(path: &str) -> String {
    format!("ip.{path}")
}

pub(crate) fn date_of(event: &Event) -> DateTime {
    let ts = event.timestamp().unwrap_or_else(jiff::Timestamp::now);
    DateTime::from_timestamp_micros(ts.as_microsecond())
}

pub(crate) fn to_ipv6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn for_each_ip(value: Option<&Value>, mut add: impl FnMut(Ipv6Addr)) {
    match value {
        Some(Value::String(text)) => {
            if let Ok(ip) = text.parse::<IpAddr>() {
                add(to_ipv6(ip));
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                if let Some(ip) = item.as_str().and_then(|text| text.parse::<IpAddr>().ok()) {
                    add(to_ipv6(ip));
                }
            }
        }
        _ => {}
    }
}

/// The event as the `f` object: text-only fields left out, long strings cut; numeric-looking
/// strings also collected into `numeric` under their dotted path.
/// Per-event columns collected while building `f`, keyed by dotted path.
#[derive(Default)]
struct Columns {
    numeric: BTreeMap<String, OwnedValue>,
    aggregatable: BTreeMap<String, OwnedValue>,
}

/// Cuts long strings in place and collects the numeric and aggregatable columns, keyed
/// by dotted path.
fn prepare_keywords(value: &mut Value, path: &mut String, columns: &mut Columns) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                prepare_keywords(inner, path, columns);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for item in items {
                prepare_keywords(item, path, columns);
            }
        }
        Value::String(text) => {
            if text.len() <= 24
                && let Some(number) = parse_number(text)
            {
                push_column(&mut columns.numeric, path, number);
            }
            if text.len() > MAX_KEYWORD_BYTES {
                let mut cut = MAX_KEYWORD_BYTES;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            if is_aggregatable(path) {
                push_column(
                    &mut columns.aggregatable,
                    path,
                    OwnedValue::Str(text.clone()),
                );
            }
        }
        Value::Number(number) => {
            let value = if let Some(int) = number.as_i64() {
                OwnedValue::I64(int)
            } else if let Some(unsigned) = number.as_u64() {
                OwnedValue::U64(unsigned)
            } else {
                OwnedValue::F64(number.as_f64().unwrap_or(f64::NAN))
            };
            if is_aggregatable(path) {
                push_column(&mut columns.aggregatable, path, value.clone());
            }
            push_column(&mut columns.numeric, path, value);
        }
        Value::Bool(flag) => {
            if is_aggregatable(path) {
                push_column(&mut columns.aggregatable, path, OwnedValue::Bool(*flag));
            }
        }
        Value::Null => {}
    }
}

/// Adds a value to a column; a second value at the same path (array elements) makes it
/// multi-valued.
fn push_column(columns: &mut BTreeMap<String, OwnedValue>, path: &str, value: OwnedValue) {
    match columns.get_mut(path) {
        None => {
            columns.insert(path.to_owned(), value);
        }
        Some(OwnedValue::Array(values)) => values.push(value),
        Some(existing) => {
            let first = std::mem::replace(existing, OwnedValue::Null);
            *existing = OwnedValue::Array(vec![first, value]);
        }
    }
}

fn parse_number(text: &str) -> Option<OwnedValue> {
    let first = text.as_bytes().first()?;
    if !(first.is_ascii_digit() || *first == b'-') {
        return None;
    }
    if let Ok(int) = text.parse::<i64>() {
        return Some(OwnedValue::I64(int));
    }
    text.parse::<f64>()
        .ok()
        .filter(|float| float.is_finite())
        .map(OwnedValue::F64)
}

/// Registers Sentinella's tokenizers on an index.
pub(crate) fn register_tokenizers(index: &Index) {
    register(index.tokenizers());
}

fn register(manager: &TokenizerManager) {
    manager.register(
        KEYWORD_TOKENIZER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .filter(RemoveLongFilter::limit(MAX_KEYWORD_BYTES + 1))
            .build(),
    );
    manager.register(
        TEXT_TOKENIZER,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(64))
            .filter(LowerCaser)
            .build(),
    );
}

/// The analyzer used for `text`, to tokenize free-text query terms the same way.
pub(crate) fn text_analyzer() -> TextAnalyzer {
    let manager = TokenizerManager::new();
    register(&manager);
    manager
        .get(TEXT_TOKENIZER)
        .expect("text tokenizer registered just above")
}
