//! Loading rule files and directories into a [`LoadReport`]: every file and every YAML
//! document ends up loaded or rejected with a reason, never silently dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use yaml_serde::Value as Yaml;

use crate::compile::{CompileContext, compile_rule, rule_meta};
use crate::error::RuleError;
use crate::mapping::Mappings;
use crate::rule::{CompiledRule, CorrelationKind, CorrelationRule, FilterRule, Logsource};

/// Rule files larger than this are rejected unread (the largest SigmaHQ rule is ~40 KiB).
const MAX_RULE_FILE_BYTES: u64 = 1 << 20;
/// `action: global` merges recurse at most this deep.
const MAX_MERGE_DEPTH: usize = 64;

/// The outcome of loading rules: what loaded, what was rejected and why.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Detection rules, compiled.
    pub rules: Vec<CompiledRule>,
    /// Correlation rules, parsed; [`crate::Correlator`] evaluates them (live detection).
    pub correlations: Vec<CorrelationRule>,
    /// Sigma filters (meta filter rules), parsed; [`crate::apply_filters`] applies them.
    pub filters: Vec<FilterRule>,
    /// Documents that did not load.
    pub rejected: Vec<Rejected>,
    /// Loaded rules with a caveat (an unmapped logsource, a parser warning).
    pub warnings: Vec<Warning>,
}

impl LoadReport {
    /// Documents loaded: detection, correlation and filter rules.
    pub fn loaded(&self) -> usize {
        self.rules.len() + self.correlations.len() + self.filters.len()
    }

    fn merge(&mut self, other: LoadReport) {
        self.rules.extend(other.rules);
        self.correlations.extend(other.correlations);
        self.filters.extend(other.filters);
        self.rejected.extend(other.rejected);
        self.warnings.extend(other.warnings);
    }
}

/// One rejected document.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The file (or the origin given to [`Loader::load_str`]).
    pub path: PathBuf,
    /// 1-based line where the document (or the YAML error) starts, when known.
    pub line: Option<usize>,
    pub reason: RuleError,
}

/// A caveat on a loaded rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub path: PathBuf,
    pub rule_id: Option<String>,
    pub message: String,
}

/// Entry point with the builtin mappings and no placeholder values.
///
/// ```
/// let report = sigma::RuleSet::load_str("title: t\nlogsource: {product: windows}\ndetection:\n  sel: {EventID: 1}\n  condition: sel\n", "inline.yml");
/// assert_eq!(report.rules.len(), 1);
/// ```
#[derive(Debug)]
pub struct RuleSet;

impl RuleSet {
    /// Loads every `*.yml`/`*.yaml` under `dir` (recursively, in path order), or one file.
    pub fn load_dir(path: impl AsRef<Path>) -> LoadReport {
        Loader::new().load_dir(path)
    }

    /// Loads the documents of one YAML text; `origin` names it in the report.
    pub fn load_str(text: &str, origin: impl Into<PathBuf>) -> LoadReport {
        Loader::new().load_str(text, origin)
    }
}

/// Loads rules with given mappings and `expand` placeholder values.
#[derive(Debug, Clone)]
pub struct Loader {
    mappings: Mappings,
    placeholders: BTreeMap<String, Vec<String>>,
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

impl Loader {
    /// The builtin mappings, no placeholders.
    pub fn new() -> Self {
        Self {
            mappings: Mappings::builtin(),
            placeholders: BTreeMap::new(),
        }
    }

    /// Uses these field mappings.
    pub fn mappings(mut self, mappings: Mappings) -> Self {
        self.mappings = mappings;
        self
    }

    /// Gives the `expand` placeholder `%name%` these values.
    pub fn placeholder(mut self, name: impl Into<String>, values: Vec<String>) -> Self {
        self.placeholders.insert(name.into(), values);
        self
    }

    /// Loads every `*.yml`/`*.yaml` under `path` (recursively, in path order), or one file.
    pub fn load_dir(&self, path: impl AsRef<Path>) -> LoadReport {
        let mut files = Vec::new();
        let mut report = LoadReport::default();
        collect_files(path.as_ref(), &mut files, &mut report);
        files.sort();
        for file in files {
            let loaded = self.load_file(&file);
            report.merge(loaded);
        }
        report
    }

    /// Loads one rule file.
    pub fn load_file(&self, path: &Path) -> LoadReport {
        let reject = |reason: RuleError| LoadReport {
            rejected: vec![Rejected {
                path: path.to_owned(),
                line: None,
                reason,
            }],
            ..LoadReport::default()
        };
        match std::fs::metadata(path) {
            Ok(meta) if meta.len() > MAX_RULE_FILE_BYTES => {
                return reject(RuleError::Io(format!(
                    "file is {} bytes, more than the {MAX_RULE_FILE_BYTES} allowed",
                    meta.len()
                )));
            }
            Ok(_) => {}
            Err(e) => return reject(RuleError::Io(e.to_string())),
        }
        match std::fs::read_to_string(path) {
            Ok(text) => self.load_str(&text, path),
            Err(e) => reject(RuleError::Io(e.to_string())),
        }
    }

    /// Loads the documents of one YAML text; `origin` names it in the report.
    pub fn load_str(&self, text: &str, origin: impl Into<PathBuf>) -> LoadReport {
        let origin = origin.into();
        let mut report = LoadReport::default();
        let starts = document_lines(text);
        let mut documents: Vec<(usize, Yaml)> = Vec::new();
        let mut syntax_error = None;
        for (idx, doc) in yaml_serde::Deserializer::from_str(text).enumerate() {
            match Yaml::deserialize(doc) {
                Ok(value) => documents.push((starts.get(idx).copied().unwrap_or(1), value)),
                Err(e) => {
                    // The stream is unusable past a syntax error; the documents before
                    // it still load.
                    syntax_error = Some(Rejected {
                        path: origin.clone(),
                        line: e.location().map(|l| l.line()).or(starts.get(idx).copied()),
                        reason: RuleError::Yaml(e.to_string()),
                    });
                    break;
                }
            }
        }
        let single = documents.len() == 1 && !has_action(&documents[0].1);
        let mut global: Option<Yaml> = None;
        let mut previous: Option<Yaml> = None;
        for (line, value) in documents {
            let reject = |reason: RuleError| Rejected {
                path: origin.clone(),
                line: Some(line),
                reason,
            };
            if value.is_null() {
                continue; // an empty document (`---` at the end): nothing to load
            }
            let effective = match collection_action(&value) {
                Some(Ok("global")) => {
                    global = Some(without_action(value));
                    continue;
                }
                Some(Ok("reset")) => {
                    global = None;
                    continue;
                }
                Some(Ok("repeat")) => {
                    let Some(prev) = previous.clone() else {
                        report.rejected.push(reject(RuleError::Parse(
                            "`action: repeat` without a previous document".into(),
                        )));
                        continue;
                    };
                    deep_merge(prev, without_action(value), 0)
                }
                Some(Ok(other)) => {
                    report.rejected.push(reject(RuleError::Parse(format!(
                        "unknown collection action `{other}`"
                    ))));
                    continue;
                }
                Some(Err(())) => {
                    report
                        .rejected
                        .push(reject(RuleError::Parse("`action` must be a string".into())));
                    continue;
                }
                None => value,
            };
            let merged = match &global {
                Some(global) => deep_merge(global.clone(), effective, 0),
                None => effective,
            };
            previous = Some(merged.clone());
            let doc_text = if single && global.is_none() {
                text.to_owned()
            } else {
                match yaml_serde::to_string(&merged) {
                    Ok(doc_text) => doc_text,
                    Err(e) => {
                        report.rejected.push(reject(RuleError::Yaml(e.to_string())));
                        continue;
                    }
                }
            };
            self.load_document(&doc_text, &origin, (text, line), &mut report);
        }
        report.rejected.extend(syntax_error);
        report
    }

    /// Loads one document; `source` is the whole file and the line the document starts at.
    fn load_document(
        &self,
        text: &str,
        origin: &Path,
        (source, line): (&str, usize),
        report: &mut LoadReport,
    ) {
        let reject = |reason: RuleError| Rejected {
            path: origin.to_owned(),
            line: Some(line),
            reason,
        };
        let collection = match rsigma_parser::parse_sigma_yaml(text) {
            Ok(collection) => collection,
            Err(e) => {
                report
                    .rejected
                    .push(reject(RuleError::Parse(e.to_string())));
                return;
            }
        };
        if collection.is_empty() {
            let reason = if collection.errors.is_empty() {
                "document is not a sigma rule".to_owned()
            } else {
                collection.errors.join("; ")
            };
            report.rejected.push(reject(RuleError::Parse(reason)));
            return;
        }
        // With a document parsed, the parser's other messages are warnings.
        let parser_warnings = collection.errors;
        let cx = CompileContext {
            mappings: &self.mappings,
            placeholders: &self.placeholders,
        };
        let mut warn = |rule_id: &Option<String>, message: String| {
            report.warnings.push(Warning {
                path: origin.to_owned(),
                rule_id: rule_id.clone(),
                message,
            });
        };
        for rule in &collection.rules {
            match compile_rule(rule, &cx) {
                Ok(mut compiled) => {
                    compiled.path = origin.to_owned();
                    for message in &parser_warnings {
                        warn(&rule.id, message.clone());
                    }
                    if let Some(note) = &compiled.logsource_note {
                        warn(&rule.id, note.clone());
                    }
                    report.rules.push(compiled);
                }
                Err(reason) => {
                    let line = reason
                        .field()
                        .and_then(|field| key_line(source, line, field))
                        .unwrap_or(line);
                    report.rejected.push(Rejected {
                        path: origin.to_owned(),
                        line: Some(line),
                        reason,
                    });
                }
            }
        }
        for correlation in &collection.correlations {
            report.correlations.push(CorrelationRule {
                meta: rule_meta!(correlation),
                kind: match correlation.correlation_type {
                    rsigma_parser::CorrelationType::EventCount => CorrelationKind::EventCount,
                    rsigma_parser::CorrelationType::ValueCount => CorrelationKind::ValueCount,
                    rsigma_parser::CorrelationType::Temporal => CorrelationKind::Temporal,
                    rsigma_parser::CorrelationType::TemporalOrdered => {
                        CorrelationKind::TemporalOrdered
                    }
                    rsigma_parser::CorrelationType::ValueSum => CorrelationKind::ValueSum,
                    rsigma_parser::CorrelationType::ValueAvg => CorrelationKind::ValueAvg,
                    rsigma_parser::CorrelationType::ValuePercentile => {
                        CorrelationKind::ValuePercentile
                    }
                    rsigma_parser::CorrelationType::ValueMedian => CorrelationKind::ValueMedian,
                },
                rules: correlation.rules.clone(),
                group_by: correlation.group_by.clone(),
                timespan_secs: correlation.timespan.seconds,
                parsed: Box::new(correlation.clone()),
            });
        }
        for filter in &collection.filters {
            let logsource = filter.logsource.as_ref().map(|l| Logsource {
                product: l.product.clone(),
                category: l.category.clone(),
                service: l.service.clone(),
            });
            report.filters.push(FilterRule {
                meta: rule_meta!(filter),
                logsource: logsource.unwrap_or_default(),
                parsed: Box::new(filter.clone()),
            });
        }
    }
}

/// The rule files [`Loader::load_dir`] would read under `path`, in path order (unreadable
/// entries are left out; loading reports them).
pub fn rule_files(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect_files(path, &mut files, &mut LoadReport::default());
    files.sort();
    files
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>, report: &mut LoadReport) {
    let io_error = |report: &mut LoadReport, e: std::io::Error| {
        report.rejected.push(Rejected {
            path: path.to_owned(),
            line: None,
            reason: RuleError::Io(e.to_string()),
        });
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return io_error(report, e),
    };
    if meta.is_file() {
        files.push(path.to_owned());
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => return io_error(report, e),
    };
    for entry in entries {
        match entry {
            Ok(entry) => {
                let child = entry.path();
                if child.is_dir() {
                    collect_files(&child, files, report);
                } else if child
                    .extension()
                    .is_some_and(|ext| ext == "yml" || ext == "yaml")
                {
                    files.push(child);
                }
            }
            Err(e) => io_error(report, e),
        }
    }
}

/// The 1-based first line of each YAML document of `text`, split on `---` lines.
fn document_lines(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut content_since_start = false;
    let mut current = 1;
    for (idx, line) in text.lines().enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            if content_since_start {
                starts.push(current);
            }
            current = idx + 2;
            content_since_start = false;
        } else if !trimmed.is_empty() && !trimmed.trim_start().starts_with('#') {
            content_since_start = true;
        }
    }
    if content_since_start {
        starts.push(current);
    }
    starts
}

/// The first line at or after `start` where `field` is used as a key (`field:`,
/// `field|mod:`, `- field…`), to point a rejection at the offending item.
fn key_line(source: &str, start: usize, field: &str) -> Option<usize> {
    source
        .lines()
        .enumerate()
        .skip(start.saturating_sub(1))
        .find(|(_, line)| {
            let key = line.trim_start().trim_start_matches("- ");
            let key = key.trim_start_matches(['\'', '"']);
            key.strip_prefix(field)
                .is_some_and(|rest| rest.starts_with([':', '|', '\'', '"']))
        })
        .map(|(idx, _)| idx + 1)
}

fn has_action(value: &Yaml) -> bool {
    collection_action(value).is_some()
}

fn collection_action(value: &Yaml) -> Option<Result<&str, ()>> {
    value
        .as_mapping()?
        .get("action")
        .map(|action| action.as_str().ok_or(()))
}

fn without_action(mut value: Yaml) -> Yaml {
    if let Some(map) = value.as_mapping_mut() {
        map.remove("action");
    }
    value
}

/// Sigma collections: `overlay` keys replace `base` keys, mappings merge recursively.
fn deep_merge(base: Yaml, overlay: Yaml, depth: usize) -> Yaml {
    match (base, overlay) {
        (Yaml::Mapping(mut base), Yaml::Mapping(overlay)) if depth < MAX_MERGE_DEPTH => {
            for (key, value) in overlay {
                let merged = match base.remove(&key) {
                    Some(old) => deep_merge(old, value, depth + 1),
                    None => value,
                };
                base.insert(key, merged);
            }
            Yaml::Mapping(base)
        }
        (_, overlay) => overlay,
    }
}
