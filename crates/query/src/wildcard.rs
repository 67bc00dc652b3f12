//! Wildcard patterns as stored in [`Query::Wildcard`](crate::Query::Wildcard).
//!
//! A pattern is a string in which `*` matches any run of characters (including none), `?`
//! matches exactly one character, and `\` makes the next character literal. The parser only
//! ever writes the three escapes `\*`, `\?` and `\\`; every other character stands for itself.
//! So the query `file.name:report\*2024*` gives the pattern `report\*2024*`: a literal star
//! followed by a wildcard star.
//!
//! ```
//! use query::wildcard::{self, WildcardSegment};
//!
//! assert_eq!(
//!     wildcard::segments(r"a\*b?"),
//!     vec![WildcardSegment::Literal("a*b".to_owned()), WildcardSegment::AnyChar],
//! );
//! assert_eq!(wildcard::to_regex(r"a\*b?"), r"^(?s:a\*b.)$");
//! ```

/// One piece of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WildcardSegment {
    /// Characters matched verbatim (escapes resolved).
    Literal(String),
    /// `*`: any run of characters, possibly empty.
    AnyString,
    /// `?`: exactly one character.
    AnyChar,
}

/// Splits a pattern into literal runs and wildcards. Adjacent literal characters are merged.
///
/// A trailing lone `\` (which the parser never produces) is taken as a literal backslash.
pub fn segments(pattern: &str) -> Vec<WildcardSegment> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        let wildcard = match c {
            '*' => WildcardSegment::AnyString,
            '?' => WildcardSegment::AnyChar,
            '\\' => {
                literal.push(chars.next().unwrap_or('\\'));
                continue;
            }
            _ => {
                literal.push(c);
                continue;
            }
        };
        if !literal.is_empty() {
            segments.push(WildcardSegment::Literal(std::mem::take(&mut literal)));
        }
        segments.push(wildcard);
    }
    if !literal.is_empty() {
        segments.push(WildcardSegment::Literal(literal));
    }
    segments
}

/// Whether the pattern contains at least one unescaped `*` or `?`.
pub fn has_wildcard(pattern: &str) -> bool {
    segments(pattern)
        .iter()
        .any(|segment| !matches!(segment, WildcardSegment::Literal(_)))
}

/// Escapes a literal string so it can be embedded in a pattern.
pub fn escape(literal: &str) -> String {
    let mut pattern = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// Translates a pattern into an anchored regular expression in the syntax of the `regex` crate:
/// `^(?s:…)$`, where `*` becomes `.*` and `?` becomes `.` (the `s` flag lets both match
/// newlines, since log values contain them). Matching is case-sensitive; a caller that wants
/// case-insensitive search prefixes `(?i)`.
pub fn to_regex(pattern: &str) -> String {
    let mut regex = String::from("^(?s:");
    for segment in segments(pattern) {
        match segment {
            WildcardSegment::Literal(text) => {
                for c in text.chars() {
                    if is_regex_meta(c) {
                        regex.push('\\');
                    }
                    regex.push(c);
                }
            }
            WildcardSegment::AnyString => regex.push_str(".*"),
            WildcardSegment::AnyChar => regex.push('.'),
        }
    }
    regex.push_str(")$");
    regex
}

/// The characters `regex_syntax::escape` escapes.
fn is_regex_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}
