//! Prints a [`Query`] as canonical query text that parses back to the same tree.
//!
//! Canonical means: explicit `AND`/`OR`/`NOT`, parentheses around every nested `And`/`Or`,
//! ranges always in bracket form (`field:>=5` prints as `field:[5 TO *]`), and a backslash
//! before every character that would otherwise be read as syntax.

use std::fmt::{self, Write as _};
use std::ops::Bound;

use crate::ast::{EXISTS_FIELD, Query};
use crate::wildcard::{self, WildcardSegment};

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::All => f.write_str("*"),
            Query::Term { field, value } => {
                let ctx = write_field_prefix(f, field.as_deref())?;
                if value.is_empty() {
                    return f.write_str("\"\"");
                }
                // A fielded value that parses as a network would come back as `Cidr`.
                let escape_slash = field.is_some() && value.parse::<ipnet::IpNet>().is_ok();
                let mut word = String::new();
                push_escaped(&mut word, value, ctx, escape_slash);
                write_word(f, &word, ctx)
            }
            Query::Phrase { field, text } => {
                write_field_prefix(f, field.as_deref())?;
                write_phrase(f, text)
            }
            Query::Wildcard { field, pattern } if !wildcard::has_wildcard(pattern) => {
                // Prints (and so reparses) as the term it normalises to.
                let value = wildcard::segments(pattern)
                    .into_iter()
                    .filter_map(|segment| match segment {
                        WildcardSegment::Literal(text) => Some(text),
                        WildcardSegment::AnyString | WildcardSegment::AnyChar => None,
                    })
                    .collect();
                Query::Term {
                    field: field.clone(),
                    value,
                }
                .fmt(f)
            }
            Query::Wildcard { field, pattern } => {
                let ctx = write_field_prefix(f, field.as_deref())?;
                let mut word = String::new();
                for segment in wildcard::segments(pattern) {
                    match segment {
                        WildcardSegment::Literal(text) => {
                            push_escaped(&mut word, &text, ctx, false);
                        }
                        WildcardSegment::AnyString => word.push('*'),
                        WildcardSegment::AnyChar => word.push('?'),
                    }
                }
                write_word(f, &word, ctx)
            }
            Query::Range {
                field,
                lower,
                upper,
            } => {
                write_field_prefix(f, Some(field))?;
                f.write_char(if matches!(lower, Bound::Excluded(_)) {
                    '{'
                } else {
                    '['
                })?;
                write_range_end(f, lower)?;
                f.write_str(" TO ")?;
                write_range_end(f, upper)?;
                f.write_char(if matches!(upper, Bound::Excluded(_)) {
                    '}'
                } else {
                    ']'
                })
            }
            Query::Cidr { field, net } => {
                write_field_prefix(f, Some(field))?;
                write!(f, "{net}")
            }
            Query::Exists { field } => {
                write_field_prefix(f, Some(EXISTS_FIELD))?;
                if field.is_empty() {
                    return f.write_str("\"\"");
                }
                let mut word = String::new();
                push_escaped(&mut word, field, Ctx::FieldValue, false);
                f.write_str(&word)
            }
            Query::And(children) => write_joined(f, children, " AND "),
            Query::Or(children) => write_joined(f, children, " OR "),
            Query::Not(child) => {
                f.write_str("NOT ")?;
                write_child(f, child)
            }
        }
    }
}

/// Where an escaped word appears; each place has its own special characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// The part before the colon.
    Field,
    /// The part after `field:`.
    FieldValue,
    /// A value without a field.
    FreeText,
    /// Inside `[… TO …]`.
    RangeEnd,
}

/// Writes `field:` (nothing for free text) and returns how the value must be escaped.
fn write_field_prefix(f: &mut fmt::Formatter<'_>, field: Option<&str>) -> Result<Ctx, fmt::Error> {
    let Some(field) = field else {
        return Ok(Ctx::FreeText);
    };
    let mut word = String::new();
    push_escaped(&mut word, field, Ctx::Field, false);
    f.write_str(&word)?;
    f.write_char(':')?;
    Ok(Ctx::FieldValue)
}

/// Writes an already escaped word, guarding the whole-word keywords.
fn write_word(f: &mut fmt::Formatter<'_>, word: &str, ctx: Ctx) -> fmt::Result {
    let is_keyword = match ctx {
        Ctx::FreeText => matches!(word, "AND" | "OR" | "NOT" | "&&" | "||"),
        Ctx::RangeEnd => word == "TO",
        Ctx::Field | Ctx::FieldValue => false,
    };
    if is_keyword {
        // `\AND` is the literal word AND; keywords never contain characters needing escapes.
        f.write_char('\\')?;
    }
    f.write_str(word)
}

fn write_phrase(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

fn write_range_end(f: &mut fmt::Formatter<'_>, bound: &Bound<String>) -> fmt::Result {
    match bound {
        Bound::Unbounded => f.write_char('*'),
        Bound::Included(value) | Bound::Excluded(value) if value.is_empty() => f.write_str("\"\""),
        Bound::Included(value) | Bound::Excluded(value) => {
            let mut word = String::new();
            push_escaped(&mut word, value, Ctx::RangeEnd, false);
            write_word(f, &word, Ctx::RangeEnd)
        }
    }
}

fn write_joined(f: &mut fmt::Formatter<'_>, children: &[Query], separator: &str) -> fmt::Result {
    for (idx, child) in children.iter().enumerate() {
        if idx > 0 {
            f.write_str(separator)?;
        }
        write_child(f, child)?;
    }
    Ok(())
}

/// Parenthesises compound children. Precedence alone would make some parentheses redundant
/// (`a AND b OR c`), but analysts read `(a AND b) OR c` without thinking.
fn write_child(f: &mut fmt::Formatter<'_>, child: &Query) -> fmt::Result {
    if matches!(child, Query::And(_) | Query::Or(_)) {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

/// Appends `text` with a backslash before every character the parser would treat as syntax
/// in `ctx`. `word` may already hold the start of the word (wildcard patterns are built in
/// pieces), which matters for characters that are special only at the start of a word.
fn push_escaped(word: &mut String, text: &str, ctx: Ctx, escape_slash: bool) {
    for c in text.chars() {
        let at_start = word.is_empty();
        let special = c.is_whitespace()
            || matches!(
                c,
                '\\' | '"' | '(' | ')' | '[' | ']' | '{' | '}' | '*' | '?'
            )
            || match ctx {
                Ctx::Field | Ctx::FreeText => {
                    c == ':' || (at_start && matches!(c, '+' | '-' | '!'))
                }
                Ctx::FieldValue => {
                    (at_start && matches!(c, '<' | '>')) || (escape_slash && c == '/')
                }
                Ctx::RangeEnd => false,
            };
        if special {
            word.push('\\');
        }
        word.push(c);
    }
}
