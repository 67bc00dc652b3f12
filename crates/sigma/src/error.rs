//! Why a rule, or a mapping file, could not be loaded.

use std::path::PathBuf;

/// Why one Sigma document was rejected. Messages are for analysts: they name the field,
/// modifier or selection at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// The file could not be read.
    #[error("cannot read file: {0}")]
    Io(String),
    /// The YAML itself is malformed.
    #[error("malformed yaml: {0}")]
    Yaml(String),
    /// The document is YAML but not a valid Sigma rule (rsigma-parser's verdict).
    #[error("invalid sigma document: {0}")]
    Parse(String),
    /// A modifier we do not implement yet.
    #[error("unsupported modifier `{modifier}` on `{field}`")]
    UnsupportedModifier { field: String, modifier: String },
    /// Modifiers that make no sense together or with this value.
    #[error("invalid modifier use on `{field}`: {reason}")]
    InvalidModifier { field: String, reason: String },
    /// A `re` value the regex engine rejects (syntax, look-around, backreferences, size).
    #[error("invalid regex on `{field}`: {reason}")]
    Regex { field: String, reason: String },
    /// A `cidr` value that is not a network.
    #[error("invalid cidr `{value}` on `{field}`")]
    Cidr { field: String, value: String },
    /// A `gt`/`gte`/`lt`/`lte` value that is not a number.
    #[error("`{field}|{modifier}` needs a number, got `{value}`")]
    NotANumber {
        field: String,
        modifier: String,
        value: String,
    },
    /// An `expand` placeholder with no configured value.
    #[error("placeholder `%{name}%` on `{field}` has no configured value")]
    Placeholder { field: String, name: String },
    /// The condition names a selection the detection does not define.
    #[error("condition references undefined selection `{0}`")]
    UndefinedSelection(String),
    /// A construct of the Sigma detection we do not implement yet.
    #[error("unsupported detection construct: {0}")]
    Unsupported(String),
}

impl RuleError {
    /// The Sigma field the problem is on, if it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            RuleError::UnsupportedModifier { field, .. }
            | RuleError::InvalidModifier { field, .. }
            | RuleError::Regex { field, .. }
            | RuleError::Cidr { field, .. }
            | RuleError::NotANumber { field, .. }
            | RuleError::Placeholder { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Why a Sigma field-mapping file is invalid.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The mapping directory or file could not be read.
    #[error("cannot read mapping {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid mapping.
    #[error("invalid mapping {name}: {reason}")]
    Invalid { name: String, reason: String },
}
