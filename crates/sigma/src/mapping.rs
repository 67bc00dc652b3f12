//! Sigma field names and logsources as data: `mappings/sigma/*.yaml` (see its README).

use std::collections::BTreeMap;
use std::path::Path;

use event::Value;
use serde::Deserialize;

use crate::error::MappingError;
use crate::matcher::{Source, scalar_text};

/// The `product` of the mapping file serving logsources that name no product
/// (`category: proxy`, `category: webserver`).
const ANY_PRODUCT: &str = "any";

const BUILTIN_MAPPINGS: &[(&str, &str)] = &[
    ("any.yaml", include_str!("../../../mappings/sigma/any.yaml")),
    ("aws.yaml", include_str!("../../../mappings/sigma/aws.yaml")),
    (
        "linux.yaml",
        include_str!("../../../mappings/sigma/linux.yaml"),
    ),
    (
        "windows.yaml",
        include_str!("../../../mappings/sigma/windows.yaml"),
    ),
];

/// The field and logsource mappings of every product, validated.
#[derive(Debug, Clone)]
pub struct Mappings {
    products: Vec<ProductMapping>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    version: u32,
    product: String,
    #[serde(default)]
    when: Vec<BTreeMap<String, OneOrMany>>,
    #[serde(default)]
    default_prefix: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    logsources: Vec<LogsourceFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsourceFile {
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    service: Option<String>,
    when: Vec<BTreeMap<String, OneOrMany>>,
    #[serde(default)]
    fields: BTreeMap<String, OneOrMany>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

#[derive(Debug, Clone)]
struct ProductMapping {
    product: String,
    when: EventFilter,
    default_prefix: Option<String>,
    fields: BTreeMap<String, Vec<String>>,
    logsources: Vec<LogsourceMapping>,
}

#[derive(Debug, Clone)]
struct LogsourceMapping {
    category: Option<String>,
    service: Option<String>,
    when: EventFilter,
    fields: BTreeMap<String, Vec<String>>,
}

/// Which events a logsource selects: any of the clauses; a clause holds when all its
/// paths match. No clauses select every event, unless `nothing` is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct EventFilter {
    any_of: Vec<Vec<(String, PathTest)>>,
    /// Selects no event: the logsource has no mapping, so we cannot tell its events.
    nothing: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PathTest {
    Present,
    /// Lowercased texts, any of which must equal the value.
    OneOf(Vec<String>),
}

impl EventFilter {
    fn from_file(clauses: Vec<BTreeMap<String, OneOrMany>>) -> Self {
        let any_of = clauses
            .into_iter()
            .map(|clause| {
                clause
                    .into_iter()
                    .map(|(path, values)| {
                        let values = values.into_vec();
                        let test = if values.iter().any(|v| v == "*") {
                            PathTest::Present
                        } else {
                            PathTest::OneOf(values.iter().map(|v| v.to_lowercase()).collect())
                        };
                        (path, test)
                    })
                    .collect()
            })
            .collect();
        Self {
            any_of,
            nothing: false,
        }
    }

    fn nothing() -> Self {
        Self {
            any_of: Vec::new(),
            nothing: true,
        }
    }

    /// Both filters must hold (distributes the clauses).
    fn and(&self, other: &EventFilter) -> EventFilter {
        if self.nothing || other.nothing {
            return EventFilter::nothing();
        }
        if self.any_of.is_empty() {
            return other.clone();
        }
        if other.any_of.is_empty() {
            return self.clone();
        }
        let mut any_of = Vec::new();
        for left in &self.any_of {
            for right in &other.any_of {
                any_of.push(left.iter().chain(right).cloned().collect());
            }
        }
        EventFilter {
            any_of,
            nothing: false,
        }
    }

    /// The clauses, any of which selects an event (none: every event); `None` when the
    /// filter selects no event at all.
    pub(crate) fn clauses(&self) -> Option<&[Vec<(String, PathTest)>]> {
        (!self.nothing).then_some(self.any_of.as_slice())
    }

    /// Whether the filter selects no event at all.
    pub(crate) fn is_nothing(&self) -> bool {
        self.nothing
    }

    pub(crate) fn matches<F: Source + ?Sized>(&self, event: &F) -> bool {
        if self.nothing {
            return false;
        }
        self.any_of.is_empty()
            || self.any_of.iter().any(|clause| {
                clause
                    .iter()
                    .all(|(path, test)| path_test(event.field(path), test))
            })
    }
}

fn path_test(value: Option<&Value>, test: &PathTest) -> bool {
    match (value, test) {
        (None | Some(Value::Null), _) => false,
        (Some(_), PathTest::Present) => true,
        (Some(Value::Array(items)), PathTest::OneOf(_)) => {
            items.iter().any(|item| path_test(Some(item), test))
        }
        (Some(value), PathTest::OneOf(texts)) => scalar_text(value)
            .is_some_and(|text| texts.iter().any(|t| t.eq_ignore_ascii_case(&text))),
    }
}

/// How one rule's logsource resolves: the events it sees and where its fields live.
#[derive(Debug, Clone)]
pub(crate) struct Resolved<'a> {
    pub(crate) filter: EventFilter,
    /// Why the routing is coarser than the logsource asks, if it is.
    pub(crate) note: Option<String>,
    product: Option<&'a ProductMapping>,
    logsources: Vec<&'a LogsourceMapping>,
}

impl Resolved<'_> {
    /// The event paths of a Sigma field, in order of preference.
    pub(crate) fn paths(&self, sigma_field: &str) -> Vec<String> {
        for logsource in &self.logsources {
            if let Some(paths) = logsource.fields.get(sigma_field) {
                return paths.clone();
            }
        }
        if let Some(product) = self.product {
            if let Some(paths) = product.fields.get(sigma_field) {
                return paths.clone();
            }
            if let Some(prefix) = &product.default_prefix {
                return vec![format!("{prefix}{sigma_field}")];
            }
        }
        vec![sigma_field.to_owned()]
    }
}

impl Mappings {
    /// The mappings shipped in `mappings/sigma/`.
    pub fn builtin() -> Self {
        Self::from_sources(BUILTIN_MAPPINGS.iter().copied())
            .expect("builtin sigma mappings are valid: `builtin_mappings_load` tests them")
    }

    /// Validates mapping files given as `(file name, text)`.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, MappingError> {
        let mut products: Vec<ProductMapping> = Vec::new();
        for (name, text) in sources {
            let invalid = |reason: String| MappingError::Invalid {
                name: name.to_owned(),
                reason,
            };
            let file: MappingFile =
                yaml_serde::from_str(text).map_err(|e| invalid(e.to_string()))?;
            if file.version != 1 {
                return Err(invalid(format!("unsupported version {}", file.version)));
            }
            let mut logsources = Vec::new();
            for entry in file.logsources {
                if entry.category.is_some() == entry.service.is_some() {
                    return Err(invalid(
                        "each logsource needs exactly one of `category` or `service`".into(),
                    ));
                }
                logsources.push(LogsourceMapping {
                    category: entry.category,
                    service: entry.service,
                    when: EventFilter::from_file(entry.when),
                    fields: field_map(entry.fields),
                });
            }
            let product = ProductMapping {
                product: file.product,
                when: EventFilter::from_file(file.when),
                default_prefix: file.default_prefix,
                fields: field_map(file.fields),
                logsources,
            };
            products.retain(|p| !p.product.eq_ignore_ascii_case(&product.product));
            products.push(product);
        }
        Ok(Self { products })
    }

    /// The builtin mappings, with every `*.yaml` of `dir` added (a file for the same
    /// product replaces the builtin one).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, MappingError> {
        let dir = dir.as_ref();
        let io = |path: &Path, source| MappingError::Io {
            path: path.to_owned(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            if path
                .extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
            {
                let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
        let sources = BUILTIN_MAPPINGS
            .iter()
            .copied()
            .chain(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
        Self::from_sources(sources)
    }

    pub(crate) fn resolve(
        &self,
        product: Option<&str>,
        category: Option<&str>,
        service: Option<&str>,
    ) -> Resolved<'_> {
        let product_name = match product {
            Some(product) => product,
            // A logsource with neither product, category nor service means every event.
            None if category.is_none() && service.is_none() => {
                return Resolved {
                    filter: EventFilter::default(),
                    note: None,
                    product: None,
                    logsources: Vec::new(),
                };
            }
            // `category: proxy` alone: the file for product `any` maps such logsources.
            None => ANY_PRODUCT,
        };
        let Some(mapping) = self
            .products
            .iter()
            .find(|p| p.product.eq_ignore_ascii_case(product_name))
        else {
            return Resolved {
                filter: EventFilter::nothing(),
                note: Some(format!(
                    "product `{product_name}` has no sigma mapping: the rule sees no events"
                )),
                product: None,
                logsources: Vec::new(),
            };
        };
        let mut filter = mapping.when.clone();
        let mut logsources = Vec::new();
        let mut unmapped = Vec::new();
        for (kind, wanted) in [("category", category), ("service", service)] {
            let Some(wanted) = wanted else { continue };
            let found = mapping.logsources.iter().find(|l| {
                let have = if kind == "category" {
                    &l.category
                } else {
                    &l.service
                };
                have.as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(wanted))
            });
            match found {
                Some(logsource) => {
                    filter = filter.and(&logsource.when);
                    logsources.push(logsource);
                }
                None => unmapped.push(format!("{kind} `{wanted}`")),
            }
        }
        let note = (!unmapped.is_empty()).then(|| {
            filter = EventFilter::nothing();
            format!(
                "{} not mapped for product `{product_name}`: the rule sees no events",
                unmapped.join(" and ")
            )
        });
        Resolved {
            filter,
            note,
            product: Some(mapping),
            logsources,
        }
    }
}

fn field_map(fields: BTreeMap<String, OneOrMany>) -> BTreeMap<String, Vec<String>> {
    fields
        .into_iter()
        .map(|(name, paths)| (name, paths.into_vec()))
        .collect()
}
