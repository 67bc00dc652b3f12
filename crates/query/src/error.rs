//! The one error type of the crate: where parsing stopped and why.

/// A query that could not be parsed.
///
/// `offset` is a byte offset into the input (always on a UTF-8 character boundary), so a UI can
/// point at the problem. The message reads like `expected `)`, found end of query at offset 17`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at offset {offset}")]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Byte offset into the query where the problem was found.
    pub offset: usize,
}

/// The reason a query was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The input is longer than [`crate::MAX_QUERY_BYTES`].
    #[error("query is {len} bytes, over the {max}-byte limit")]
    TooLong {
        /// Length of the rejected input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Parentheses, field groups or prefix operators nest deeper than [`crate::MAX_DEPTH`].
    #[error("nesting is deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The parser needed one thing and saw another.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What the grammar allows here, e.g. "`)`".
        expected: &'static str,
        /// What the input has here, e.g. "end of query" or "`OR`".
        found: String,
    },
    /// A token that cannot appear here at all, such as an unmatched `)`.
    #[error("unexpected {found}")]
    Unexpected {
        /// The offending token.
        found: String,
    },
    /// A `"` without its closing `"`; the offset points at the opening quote.
    #[error("unterminated phrase")]
    UnterminatedPhrase,
    /// A `\` as the last character of the query.
    #[error("`\\` at the end of the query escapes nothing")]
    DanglingEscape,
    /// `:value` with nothing before the colon.
    #[error("empty field name before `:`")]
    EmptyFieldName,
    /// `field:` followed by nothing usable (end of query, an operator, `)`).
    #[error("expected a value after `{field}:`, found {found}")]
    MissingValue {
        /// The field as written.
        field: String,
        /// What followed the colon.
        found: String,
    },
    /// `[a TO b]` or `{a TO b}` without a field.
    #[error("range has no field; write `field:[a TO b]`")]
    RangeWithoutField,
    /// `a:(b:c)`: a field inside a field group.
    #[error("field `{field}` cannot appear inside the field group `{group}:(...)`")]
    NestedField {
        /// The inner field as written.
        field: String,
        /// The group's field.
        group: String,
    },
    /// `_exists_:` followed by something other than a field name (a wildcard, a range, an empty
    /// phrase).
    #[error("`_exists_` expects a field name, found {found}")]
    InvalidExists {
        /// What followed `_exists_:`.
        found: String,
    },
    /// `()` or `field:()`.
    #[error("empty parentheses")]
    EmptyGroup,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, offset: usize) -> ParseError {
        ParseError { kind, offset }
    }
}
