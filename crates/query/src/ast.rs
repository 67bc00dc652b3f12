//! The syntax tree [`crate::parse`] produces.

use std::ops::Bound;

use crate::wildcard::{self, WildcardSegment};

/// The field name that turns `_exists_:name` into [`Query::Exists`]. It is reserved: a
/// [`Query::Term`] on this field cannot be written down.
pub const EXISTS_FIELD: &str = "_exists_";

/// A parsed search query.
///
/// `field: None` means free text: the store searches its default fields. Values are kept as
/// strings; the store decides whether `5`, `2024-01-01T00:00:00Z` or `now-1d` is a number, a
/// timestamp or date math.
///
/// [`crate::parse`] returns trees in the shape of [`Query::normalize`]: `And` and `Or` have at
/// least two children and never directly contain a node of their own kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Matches every event: the empty query, `*` and `*:*`.
    All,
    /// `field:value` or a bare `value`, escapes resolved. The value is never empty.
    Term {
        /// `None` for free text.
        field: Option<String>,
        /// The literal value.
        value: String,
    },
    /// `field:"quoted phrase"` or a bare `"phrase"`, escapes resolved. May be empty.
    Phrase {
        /// `None` for free text.
        field: Option<String>,
        /// The literal text between the quotes.
        text: String,
    },
    /// A value with an unescaped `*` or `?`, such as `user.name:adm*` or `field:*` (the field
    /// has any value). The pattern escaping is described in [`crate::wildcard`], which also
    /// converts it to a regex.
    Wildcard {
        /// `None` for free text.
        field: Option<String>,
        /// The pattern: `*` and `?` are wildcards, `\*`, `\?` and `\\` are literal.
        pattern: String,
    },
    /// `field:[a TO b]`, `field:{a TO b}`, mixed brackets, `*` for an open end, and
    /// `field:>=a`, `field:>a`, `field:<a`, `field:<=a`.
    Range {
        /// The field compared.
        field: String,
        /// Lower end.
        lower: Bound<String>,
        /// Upper end.
        upper: Bound<String>,
    },
    /// A fielded value that parses as a network (it contains an unescaped `/`), such as
    /// `source.ip:10.0.0.0/8` or `source.ip:fe80::/10`. Host bits are kept as written.
    Cidr {
        /// The field matched.
        field: String,
        /// The network.
        net: ipnet::IpNet,
    },
    /// `_exists_:field`: the field is present.
    Exists {
        /// The field that must be present.
        field: String,
    },
    /// All children match.
    And(Vec<Query>),
    /// At least one child matches.
    Or(Vec<Query>),
    /// The child does not match.
    Not(Box<Query>),
}

impl Query {
    /// Every field name the query references, in order of first appearance, without
    /// duplicates. For [`Query::Exists`] this is the field tested, not `_exists_`.
    pub fn fields(&self) -> Vec<&str> {
        let mut fields = Vec::new();
        self.collect_fields(&mut fields);
        fields
    }

    fn collect_fields<'a>(&'a self, fields: &mut Vec<&'a str>) {
        let field = match self {
            Query::All => None,
            Query::Term { field, .. }
            | Query::Phrase { field, .. }
            | Query::Wildcard { field, .. } => field.as_deref(),
            Query::Range { field, .. } | Query::Cidr { field, .. } | Query::Exists { field } => {
                Some(field.as_str())
            }
            Query::And(children) | Query::Or(children) => {
                children
                    .iter()
                    .for_each(|child| child.collect_fields(fields));
                None
            }
            Query::Not(child) => {
                child.collect_fields(fields);
                None
            }
        };
        if let Some(field) = field
            && !fields.contains(&field)
        {
            fields.push(field);
        }
    }

    /// Rewrites a hand-built tree into the shape [`crate::parse`] produces, so that
    /// `parse(&q.to_string()) == Ok(q.normalize())`:
    ///
    /// - `And` inside `And` and `Or` inside `Or` are flattened; a one-child `And`/`Or` becomes
    ///   its child; an empty `And` becomes [`Query::All`] and an empty `Or` (matches nothing)
    ///   becomes `Not(All)`;
    /// - a [`Query::Wildcard`] without an unescaped wildcard becomes a [`Query::Term`], and the
    ///   free-text pattern `*` becomes [`Query::All`];
    /// - a [`Query::Term`] with an empty value (which the parser never produces) becomes the
    ///   empty [`Query::Phrase`], which is how it prints.
    ///
    /// Values are not touched: `And([All, x])` stays as it is.
    pub fn normalize(self) -> Query {
        match self {
            Query::And(children) => {
                let mut flat = Vec::with_capacity(children.len());
                for child in children {
                    push_and(&mut flat, child.normalize());
                }
                match flat.len() {
                    0 => Query::All,
                    1 => flat.pop().expect("length is 1"),
                    _ => Query::And(flat),
                }
            }
            Query::Or(children) => {
                let mut flat = Vec::with_capacity(children.len());
                for child in children {
                    push_or(&mut flat, child.normalize());
                }
                match flat.len() {
                    0 => Query::Not(Box::new(Query::All)),
                    1 => flat.pop().expect("length is 1"),
                    _ => Query::Or(flat),
                }
            }
            Query::Not(child) => Query::Not(Box::new(child.normalize())),
            Query::Term { field, value } if value.is_empty() => {
                Query::Phrase { field, text: value }
            }
            Query::Wildcard { field, pattern } => {
                let segments = wildcard::segments(&pattern);
                match segments.as_slice() {
                    [WildcardSegment::AnyString] if field.is_none() => Query::All,
                    [] => Query::Phrase {
                        field,
                        text: String::new(),
                    },
                    [WildcardSegment::Literal(value)] => Query::Term {
                        field,
                        value: value.clone(),
                    },
                    _ => Query::Wildcard { field, pattern },
                }
            }
            leaf => leaf,
        }
    }
}

/// Appends `child` to the children of an `And`, splicing in the children of a nested `And`.
pub(crate) fn push_and(children: &mut Vec<Query>, child: Query) {
    match child {
        Query::And(grandchildren) => children.extend(grandchildren),
        other => children.push(other),
    }
}

/// Appends `child` to the children of an `Or`, splicing in the children of a nested `Or`.
pub(crate) fn push_or(children: &mut Vec<Query>, child: Query) {
    match child {
        Query::Or(grandchildren) => children.extend(grandchildren),
        other => children.push(other),
    }
}
