//! Errors of the intel crate: one enum per concern, carrying what an analyst needs.

/// Why a STIX pattern is not valid. `offset` is a byte offset into the pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid STIX pattern at offset {offset}: {message}")]
pub struct PatternError {
    /// Byte offset of the offending input.
    pub offset: usize,
    /// What was wrong there.
    pub message: String,
}

/// Why a feed or bundle could not be imported at all. Problems with single entries are
/// not errors: they are listed in the [`crate::ImportReport`].
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input is larger than the importer accepts.
    #[error("input of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Bytes given.
        size: usize,
        /// Bytes accepted.
        limit: usize,
    },
    /// The input is not JSON, or not the expected JSON shape.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The input is JSON but not of the expected kind.
    #[error("not a {expected}: {reason}")]
    Shape {
        /// What the importer expected (`STIX bundle`, `MISP event`).
        expected: &'static str,
        /// What it found instead.
        reason: String,
    },
    /// The CSV layout is not usable (no value column, unknown preset).
    #[error("invalid list layout: {0}")]
    Layout(String),
}
