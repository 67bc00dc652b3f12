//! The mapping file schema (what analysts write) and its validated form (what runs).
//!
//! See `mappings/README.md` for the schema reference.

use serde::Deserialize;
use serde_json::Value;

use crate::convert::Conversion;
use crate::error::MappingError;

/// A mapping file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFileConfig {
    version: u32,
    name: String,
    #[serde(default)]
    #[allow(dead_code, reason = "documentation for readers of the file")]
    description: String,
    applies_to: String,
    #[serde(default = "default_order")]
    order: i32,
    #[serde(default = "default_keep_source")]
    keep_source: bool,
    #[serde(default)]
    fields: Vec<RuleConfig>,
    #[serde(default)]
    sections: Vec<SectionConfig>,
}

fn default_order() -> i32 {
    50
}

fn default_keep_source() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionConfig {
    name: String,
    #[serde(default)]
    when: serde_json::Map<String, Value>,
    #[serde(default)]
    fields: Vec<RuleConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleConfig {
    #[serde(default)]
    from: Option<OneOrMany>,
    to: String,
    #[serde(default, rename = "type")]
    type_name: Option<String>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    lookup: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    when: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A validated mapping file.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub(crate) name: String,
    pub(crate) applies_to: String,
    pub(crate) order: i32,
    pub(crate) keep_source: bool,
    pub(crate) sections: Vec<Section>,
}

/// Rules applied together when `when` holds. The file's top-level `fields` are a section
/// with no condition.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub(crate) when: Condition,
    pub(crate) rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) source: Source,
    pub(crate) to: String,
    pub(crate) conversion: Conversion,
    pub(crate) lookup: Option<serde_json::Map<String, Value>>,
    pub(crate) when: Condition,
}

#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// The first of these record paths that has a value.
    From(Vec<String>),
    /// A constant.
    Value(Value),
}

/// All of `(path, accepted values)` must hold. An accepted value `"*"` means "present".
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition {
    pub(crate) clauses: Vec<(String, Vec<String>)>,
}

impl Condition {
    pub(crate) fn matches(&self, fields: &serde_json::Map<String, Value>) -> bool {
        self.clauses.iter().all(|(path, accepted)| {
            let Some(value) = event::get_path(fields, path) else {
                return false;
            };
            let actual = match value {
                Value::String(s) => s.clone(),
                Value::Null => return false,
                other => other.to_string(),
            };
            accepted
                .iter()
                .any(|want| want == "*" || want.eq_ignore_ascii_case(&actual))
        })
    }
}

/// Parses and validates one file's text, appending every problem to `problems`.
pub(crate) fn load(file: &str, text: &str, problems: &mut Vec<MappingError>) -> Option<Mapping> {
    let config: MappingFileConfig = match yaml_serde::from_str(text) {
        Ok(config) => config,
        Err(err) => {
            problems.push(MappingError::Syntax {
                file: file.to_owned(),
                message: err.to_string(),
            });
            return None;
        }
    };
    let n_problems = problems.len();
    if config.version != 1 {
        problems.push(MappingError::UnsupportedVersion {
            file: file.to_owned(),
            version: config.version,
        });
    }
    check_path(file, "applies_to", &config.applies_to, problems);
    let mut sections = Vec::with_capacity(config.sections.len() + 1);
    let general = build_rules(file, "fields", config.fields, problems);
    sections.push(Section {
        when: Condition::default(),
        rules: general,
    });
    for (idx, section) in config.sections.into_iter().enumerate() {
        let location = format!("sections[{idx}] \"{}\"", section.name);
        let when = build_condition(file, &location, section.when, problems);
        let rules = build_rules(
            file,
            &format!("{location} fields"),
            section.fields,
            problems,
        );
        sections.push(Section { when, rules });
    }
    (problems.len() == n_problems).then_some(Mapping {
        name: config.name,
        applies_to: config.applies_to,
        order: config.order,
        keep_source: config.keep_source,
        sections,
    })
}

fn build_rules(
    file: &str,
    location: &str,
    configs: Vec<RuleConfig>,
    problems: &mut Vec<MappingError>,
) -> Vec<Rule> {
    let mut rules = Vec::with_capacity(configs.len());
    for (idx, config) in configs.into_iter().enumerate() {
        let rule_location = format!("{location}[{idx}] (to: {})", config.to);
        if let Some(rule) = build_rule(file, &rule_location, config, problems) {
            rules.push(rule);
        }
    }
    rules
}

fn build_rule(
    file: &str,
    location: &str,
    config: RuleConfig,
    problems: &mut Vec<MappingError>,
) -> Option<Rule> {
    let n_problems = problems.len();
    let error_context = || (file.to_owned(), location.to_owned());
    check_path(file, location, &config.to, problems);
    let source = match (config.from, config.value) {
        (Some(from), None) => {
            let paths = match from {
                OneOrMany::One(path) => vec![path],
                OneOrMany::Many(paths) => paths,
            };
            if paths.is_empty() {
                let (file, rule) = error_context();
                problems.push(MappingError::SourceCount { file, rule });
            }
            for path in &paths {
                check_path(file, location, path, problems);
            }
            Source::From(paths)
        }
        (None, Some(value)) => {
            if config.type_name.is_some() || config.lookup.is_some() {
                let (file, rule) = error_context();
                problems.push(MappingError::ConversionWithoutFrom { file, rule });
            }
            Source::Value(value)
        }
        _ => {
            let (file, rule) = error_context();
            problems.push(MappingError::SourceCount { file, rule });
            Source::Value(Value::Null)
        }
    };
    let conversion = match config.type_name.as_deref() {
        None => Conversion::Copy,
        Some(name) => match Conversion::from_name(name) {
            Some(conversion) => conversion,
            None => {
                let (file, rule) = error_context();
                problems.push(MappingError::UnknownType {
                    file,
                    rule,
                    type_name: name.to_owned(),
                    expected: Conversion::NAMES,
                });
                Conversion::Copy
            }
        },
    };
    // ECS IP fields are indexed as IPs: only validated addresses may be written there.
    if event::fields::IP_FIELDS.contains(&config.to.as_str())
        && matches!(source, Source::From(_))
        && conversion != Conversion::Ip
    {
        let (file, rule) = error_context();
        problems.push(MappingError::IpFieldNeedsIpType {
            file,
            rule,
            to: config.to.clone(),
        });
    }
    let when = build_condition(file, location, config.when, problems);
    (problems.len() == n_problems).then_some(Rule {
        source,
        to: config.to,
        conversion,
        lookup: config.lookup,
        when,
    })
}

fn build_condition(
    file: &str,
    location: &str,
    when: serde_json::Map<String, Value>,
    problems: &mut Vec<MappingError>,
) -> Condition {
    let mut clauses = Vec::with_capacity(when.len());
    for (path, expected) in when {
        check_path(file, location, &path, problems);
        let scalars: Option<Vec<String>> = match &expected {
            Value::Array(items) => items.iter().map(scalar_text).collect(),
            scalar => scalar_text(scalar).map(|text| vec![text]),
        };
        match scalars {
            Some(accepted) if !accepted.is_empty() => clauses.push((path, accepted)),
            _ => problems.push(MappingError::InvalidCondition {
                file: file.to_owned(),
                rule: location.to_owned(),
                path,
            }),
        }
    }
    Condition { clauses }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn check_path(file: &str, location: &str, path: &str, problems: &mut Vec<MappingError>) {
    if path.is_empty() || path.split('.').any(str::is_empty) {
        problems.push(MappingError::InvalidPath {
            file: file.to_owned(),
            rule: location.to_owned(),
            path: path.to_owned(),
        });
    }
}
