use std::fmt;
use std::path::PathBuf;

/// One problem in one mapping file. Loading reports every problem found, not just the first.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The file or directory could not be read.
    #[error("failed to read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid YAML, or not the mapping schema (unknown key, wrong type).
    #[error("{file}: invalid mapping file: {message}")]
    Syntax {
        /// The mapping file.
        file: String,
        /// What the YAML parser said, with line and column.
        message: String,
    },
    /// `version` is not one this build understands.
    #[error("{file}: unsupported mapping version {version} (expected 1)")]
    UnsupportedVersion {
        /// The mapping file.
        file: String,
        /// The version it declared.
        version: u32,
    },
    /// Two files declare the same `name`.
    #[error("{file}: mapping name `{name}` is already used by another file")]
    DuplicateName {
        /// The mapping file.
        file: String,
        /// The repeated name.
        name: String,
    },
    /// A field path is empty or has an empty segment (`a..b`).
    #[error("{file}: {rule}: invalid field path `{path}`")]
    InvalidPath {
        /// The mapping file.
        file: String,
        /// Which rule, e.g. `sections[2] "4624" fields[0]`.
        rule: String,
        /// The path.
        path: String,
    },
    /// `type` names no known conversion.
    #[error("{file}: {rule}: unknown type `{type_name}` (expected one of {expected})")]
    UnknownType {
        /// The mapping file.
        file: String,
        /// Which rule.
        rule: String,
        /// The unknown type.
        type_name: String,
        /// The known types.
        expected: &'static str,
    },
    /// A rule has both `from` and `value`, or neither.
    #[error("{file}: {rule}: a rule needs exactly one of `from` and `value`")]
    SourceCount {
        /// The mapping file.
        file: String,
        /// Which rule.
        rule: String,
    },
    /// A constant rule uses `type` or `lookup`, which only apply to copied values.
    #[error("{file}: {rule}: `type` and `lookup` need `from`")]
    ConversionWithoutFrom {
        /// The mapping file.
        file: String,
        /// Which rule.
        rule: String,
    },
    /// A rule writes an ECS IP field without `type: ip`, which would let non-IPs in.
    #[error("{file}: {rule}: `{to}` is an ip field, the rule needs `type: ip`")]
    IpFieldNeedsIpType {
        /// The mapping file.
        file: String,
        /// Which rule.
        rule: String,
        /// The target field.
        to: String,
    },
    /// A `when` condition value is not a scalar or a list of scalars.
    #[error("{file}: {rule}: condition on `{path}` must be a scalar or a list of scalars")]
    InvalidCondition {
        /// The mapping file.
        file: String,
        /// Which rule or section.
        rule: String,
        /// The condition's field.
        path: String,
    },
}

/// Every problem found while loading a set of mapping files.
#[derive(Debug)]
pub struct LoadError {
    /// The problems, in file order.
    pub problems: Vec<MappingError>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in mapping files", self.problems.len())?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}
