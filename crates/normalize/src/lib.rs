//! Turns decoded [`event::Record`]s into ECS [`event::Event`]s by applying mapping files.
//!
//! Field mappings are data: `mappings/*.yaml` in the repository, compiled in by
//! [`Normalizer::builtin`], and overridable per file with [`Normalizer::from_dir`]. The schema
//! is documented in `mappings/README.md`. A [`Normalizer`] is immutable and cheap to share.
//!
//! What every event gets, whatever the format: `@timestamp` (the record's time, else
//! `received_at`), `event.original`, `event.ingested`, `event.kind`, `log.parser`,
//! `log.parse_error` (when a decoder fell back), `input.type` and `log.source.address` (the
//! peer). Record fields no rule consumed stay in the event under their format namespace
//! (`cef.extensions.cs1`, `kv.devname`, `winlog.event_data.LogonGuid`), and fields already
//! present in the record (an ECS document from Filebeat) win over mapped ones.
//!
//! ```
//! let normalizer = normalize::Normalizer::builtin();
//! let received_at: jiff::Timestamp = "2024-03-01T00:00:00Z".parse().unwrap();
//! let record = formats::syslog::decode(
//!     b"<38>Feb 28 10:00:00 bastion sshd[42]: Failed password for root from 203.0.113.9 port 50022 ssh2",
//!     received_at,
//! );
//! let cx = normalize::Context { input_type: "syslog-udp", peer: None, received_at };
//! let event = normalizer.normalize(record, &cx);
//! assert_eq!(event.get_str("source.ip"), Some("203.0.113.9"));
//! assert_eq!(event.get_str("event.outcome"), Some("failure"));
//! assert_eq!(event.get_str("host.name"), Some("bastion"));
//! ```

#![warn(missing_docs)]

mod convert;
mod error;
mod mapping;

pub use error::{LoadError, MappingError};

use std::net::SocketAddr;
use std::path::Path;

use event::{Event, Map, Record, Timestamp, Value, fields};

use crate::mapping::{Mapping, Source};

/// The mapping files compiled into the binary, as `(file name, text)`.
pub const BUILTIN_MAPPINGS: &[(&str, &str)] = &[
    ("auth.yaml", include_str!("../../../mappings/auth.yaml")),
    ("cef.yaml", include_str!("../../../mappings/cef.yaml")),
    ("json.yaml", include_str!("../../../mappings/json.yaml")),
    ("kv.yaml", include_str!("../../../mappings/kv.yaml")),
    ("leef.yaml", include_str!("../../../mappings/leef.yaml")),
    ("syslog.yaml", include_str!("../../../mappings/syslog.yaml")),
    ("winlog.yaml", include_str!("../../../mappings/winlog.yaml")),
];

/// The record field decoders use for parse notes (`formats::PARSE_ERROR`).
const RECORD_PARSE_ERROR: &str = "parse_error";

/// Where and how a record arrived.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Which intake received it (`syslog-udp`, `es-bulk`, `http`, `import`); `input.type`.
    pub input_type: &'a str,
    /// The sending peer, if over the network; `log.source.address`.
    pub peer: Option<SocketAddr>,
    /// When Sentinella received it; `event.ingested`, and `@timestamp` when the record has
    /// no time of its own.
    pub received_at: Timestamp,
}

/// Applies a set of validated mapping files to records.
#[derive(Debug, Clone)]
pub struct Normalizer {
    mappings: Vec<Mapping>,
}

impl Normalizer {
    /// The mappings shipped in `mappings/` (validated by this crate's tests).
    pub fn builtin() -> Self {
        Self::from_sources(BUILTIN_MAPPINGS.iter().map(|(name, text)| (*name, *text)))
            .expect("builtin mappings are valid: `builtin_mappings_load` tests them")
    }

    /// Loads mapping files from `(file name, text)` pairs, reporting every problem.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, LoadError> {
        let mut problems = Vec::new();
        let mut mappings: Vec<Mapping> = Vec::new();
        for (file, text) in sources {
            if let Some(loaded) = mapping::load(file, text, &mut problems) {
                if mappings.iter().any(|m| m.name == loaded.name) {
                    problems.push(MappingError::DuplicateName {
                        file: file.to_owned(),
                        name: loaded.name,
                    });
                } else {
                    mappings.push(loaded);
                }
            }
        }
        if !problems.is_empty() {
            return Err(LoadError { problems });
        }
        Ok(Self::sorted(mappings))
    }

    /// The builtin mappings, with every `*.yaml`/`*.yml` file in `dir` layered on top: a file
    /// whose `name` matches a builtin one replaces it, others are added. All problems in all
    /// files are reported together.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, LoadError> {
        let dir = dir.as_ref();
        let io_error = |source| LoadError {
            problems: vec![MappingError::Io {
                path: dir.to_owned(),
                source,
            }],
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_error)? {
            let path = entry.map_err(io_error)?.path();
            if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                paths.push(path);
            }
        }
        paths.sort();
        let mut problems = Vec::new();
        let mut overrides: Vec<Mapping> = Vec::new();
        for path in paths {
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(source) => {
                    problems.push(MappingError::Io { path, source });
                    continue;
                }
            };
            let file = path.display().to_string();
            if let Some(loaded) = mapping::load(&file, &text, &mut problems) {
                if overrides.iter().any(|m| m.name == loaded.name) {
                    problems.push(MappingError::DuplicateName {
                        file,
                        name: loaded.name,
                    });
                } else {
                    overrides.push(loaded);
                }
            }
        }
        if !problems.is_empty() {
            return Err(LoadError { problems });
        }
        let mut mappings = Self::builtin().mappings;
        mappings.retain(|builtin| !overrides.iter().any(|o| o.name == builtin.name));
        mappings.extend(overrides);
        Ok(Self::sorted(mappings))
    }

    fn sorted(mut mappings: Vec<Mapping>) -> Self {
        mappings.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
        Self { mappings }
    }

    /// The names of the loaded mapping files, in the order they apply.
    pub fn mapping_names(&self) -> impl Iterator<Item = &str> {
        self.mappings.iter().map(|m| m.name.as_str())
    }

    /// Turns a record into an ECS event. Never fails: a value a rule cannot convert is left
    /// in its source field.
    pub fn normalize(&self, record: Record, cx: &Context<'_>) -> Event {
        let Record {
            parser,
            timestamp,
            fields: mut source,
            original,
        } = record;
        let parse_error = source.remove(RECORD_PARSE_ERROR);
        let mut mapped = Event::new();
        let mut consumed_namespaces = Vec::new();
        for mapping in &self.mappings {
            if event::get_path(&source, &mapping.applies_to).is_none() {
                continue;
            }
            for section in &mapping.sections {
                if !section.when.matches(&source) {
                    continue;
                }
                for rule in &section.rules {
                    if !rule.when.matches(&source) {
                        continue;
                    }
                    let value = match &rule.source {
                        Source::Value(value) => Some(value.clone()),
                        Source::From(paths) => first_value(&source, paths),
                    };
                    let Some(mut value) = value else {
                        continue;
                    };
                    if let Some(lookup) = &rule.lookup {
                        match convert::keyword(&value).and_then(|key| lookup.get(&key)) {
                            Some(found) => value = found.clone(),
                            None => continue,
                        }
                    }
                    rule.conversion.apply(&value, &rule.to, &mut mapped);
                }
            }
            if !mapping.keep_source {
                consumed_namespaces.push(mapping.applies_to.clone());
            }
        }
        for namespace in consumed_namespaces {
            remove_path(&mut source, &namespace);
        }
        // Fields the record already had (an ECS document) win over mapped ones.
        let mut doc = source;
        merge_absent(&mut doc, mapped.into_map());
        let mut event = Event::from_map(doc);

        if event.get(fields::TIMESTAMP).is_none() {
            event.set_timestamp(timestamp.unwrap_or(cx.received_at));
        }
        if event.get(fields::EVENT_ORIGINAL).is_none() && !original.is_empty() {
            event.insert(fields::EVENT_ORIGINAL, Value::String(original.clone()));
        }
        if event.get(fields::MESSAGE).is_none() && (parser.starts_with("line") || parser == "raw") {
            event.insert(fields::MESSAGE, Value::String(original));
        }
        event.insert(
            fields::EVENT_INGESTED,
            Value::String(cx.received_at.to_string()),
        );
        event.insert_if_absent(fields::EVENT_KIND, Value::String("event".to_owned()));
        event.insert(fields::LOG_PARSER, Value::String(parser));
        if let Some(parse_error) = parse_error {
            event.insert(fields::LOG_PARSE_ERROR, parse_error);
        }
        event.insert(fields::INPUT_TYPE, Value::String(cx.input_type.to_owned()));
        if let Some(peer) = cx.peer {
            event.insert("log.source.address", Value::String(peer.to_string()));
        }
        event
    }
}

/// The first path with a usable value: not null, not `""`, not `-` (the "no value" marker of
/// syslog and Windows).
fn first_value(source: &Map<String, Value>, paths: &[String]) -> Option<Value> {
    paths.iter().find_map(|path| {
        let value = event::get_path(source, path)?;
        match value {
            Value::Null => None,
            Value::String(s) if s.is_empty() || s == "-" => None,
            other => Some(other.clone()),
        }
    })
}

fn remove_path(map: &mut Map<String, Value>, path: &str) {
    if map.remove(path).is_some() {
        return;
    }
    if let Some((head, rest)) = path.split_once('.')
        && let Some(Value::Object(inner)) = map.get_mut(head)
    {
        remove_path(inner, rest);
    }
}

/// Adds `from`'s leaves to `into` where `into` has nothing yet.
fn merge_absent(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (None, value) => {
                into.insert(key, value);
            }
            (Some(Value::Object(existing)), Value::Object(inner)) => merge_absent(existing, inner),
            (Some(_), _) => {}
        }
    }
}

#[cfg(test)]
mod tests;
