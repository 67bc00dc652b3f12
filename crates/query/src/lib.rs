//! The search language analysts already know from Kibana and Lucene `query_string`: text in,
//! [`Query`] out, no IO.
//!
//! ```
//! use query::{parse, Query};
//!
//! let query = parse(r#"event.code:4625 AND NOT user.name:"svc backup" source.ip:10.0.0.0/8"#)?;
//! assert_eq!(query.fields(), ["event.code", "user.name", "source.ip"]);
//! assert_eq!(
//!     query.to_string(),
//!     r#"event.code:4625 AND NOT user.name:"svc backup" AND source.ip:10.0.0.0/8"#,
//! );
//! assert_eq!(parse(&query.to_string())?, query);
//! # Ok::<(), query::ParseError>(())
//! ```
//!
//! # Syntax
//!
//! | form | example | AST |
//! |---|---|---|
//! | free text | `mimikatz` | [`Query::Term`] with `field: None` |
//! | field | `user.name:admin`, `@timestamp:…`, `winlog.event_data.TargetUserName:bob` | [`Query::Term`] |
//! | phrase | `"lateral movement"`, `message:"a \"quoted\" word"` | [`Query::Phrase`] |
//! | wildcard | `user.name:adm*`, `host.name:srv-??`, `process.name:*` | [`Query::Wildcard`] |
//! | range | `bytes:[100 TO 200]`, `bytes:{100 TO *]`, `@timestamp:[2024-01-01T00:00:00Z TO now]` | [`Query::Range`] |
//! | comparison | `bytes:>=100`, `bytes:>100`, `bytes:<100`, `bytes:<=100` | [`Query::Range`] |
//! | network | `source.ip:10.0.0.0/8`, `source.ip:fe80::/10` | [`Query::Cidr`] |
//! | presence | `_exists_:user.name` | [`Query::Exists`] |
//! | everything | empty query, `*`, `*:*` | [`Query::All`] |
//! | boolean | `a AND b`, `a && b`, `a OR b`, `a \|\| b`, `NOT a`, `!a`, `-a`, `+a`, `(…)` | [`Query::And`], [`Query::Or`], [`Query::Not`] |
//! | field group | `event.code:(4624 OR 4625)`, `tags:(a b)` | the field applied to every value inside |
//!
//! Precedence is `NOT` > `AND` > `OR`; keywords are uppercase (`and` is an ordinary word).
//! `+a` marks a clause required, which it already is, so `+` changes nothing. `-a` is `NOT a`.
//!
//! # Design choices
//!
//! - **Implicit AND.** `a b` means `a AND b`. Lucene's default is OR, but an analyst who
//!   types `powershell encodedcommand` wants events with both words, as in Kibana's KQL.
//!   The same holds inside field groups: `tags:(a b)` is `tags:a AND tags:b`.
//! - **Colons.** The first unescaped `:` of a word separates the field from the value; any
//!   later colon belongs to the value. So `mac:00:11:22`, `url.full:http://x` and
//!   `source.ip:::1` need no escaping (`url.full:http\://x` also works). A colon in a
//!   free-text value must be escaped or quoted (`fe80\:\:1`, `"fe80::1"`), since otherwise the
//!   text before it is a field name. Inside `[… TO …]` colons are literal.
//! - **Whitespace after the colon** is allowed: `field: value` as in KQL.
//! - **Wildcards.** An unescaped `*` or `?` in an unquoted value makes a [`Query::Wildcard`];
//!   the pattern keeps wildcards as `*`/`?` and literal stars, question marks and backslashes
//!   as `\*`, `\?`, `\\` (see [`wildcard`], which also builds an anchored regex). A bare `*`
//!   matches everything; `field:*` is a wildcard that matches any value, which a store may
//!   run as "field exists". Quoted phrases never contain wildcards.
//! - **Networks.** A fielded unquoted value with an unescaped `/` that parses as a network is
//!   a [`Query::Cidr`]; anything else stays a term (`url.path:/api/v1`). A plain address
//!   (`source.ip:10.0.0.1`) is a term: the store knows the field's type.
//! - **Values stay strings.** Dates, numbers and date math (`now-1d/d`) are interpreted by the
//!   store.
//! - **Not supported:** regexes `/…/` (a `/` is an ordinary character); fuzziness and
//!   proximity `~` and boosts `^` (ordinary characters too); wildcards inside ranges (range
//!   ends are literal, only a bare `*` means open-ended).
//! - `-` at the start of a word excludes it (`-5` is `NOT 5`); write `\-5` or `"-5"` for the
//!   literal. After a colon, `-` is literal: `delta:-5`. Inside ranges too: `[-5 TO 5]`.
//! - Reserved: a term on the field `_exists_`; `*` as a field name means "any field".
//!
//! # Escapes
//!
//! `\` makes the next character literal, whatever it is: `\:` `\/` `\(` `\ ` `\*` `\"` `\\`.
//! Inside a phrase only `\"` and `\\` matter. A backslash at the end of the query is an error.
//!
//! # Untrusted input
//!
//! Queries longer than [`MAX_QUERY_BYTES`] or nested deeper than [`MAX_DEPTH`] are rejected
//! with a [`ParseError`]; no input makes the parser panic.
//!
//! No benches: queries are short and parsing is linear; the store's query benches cover it.

mod ast;
mod display;
mod error;
mod lexer;
mod parser;
pub mod wildcard;

#[cfg(test)]
mod tests;

pub use std::ops::Bound;

pub use crate::ast::{EXISTS_FIELD, Query};
pub use crate::error::{ParseError, ParseErrorKind};

/// Longest accepted query, in bytes (64 KiB).
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Deepest accepted nesting of parentheses, field groups and prefix operators (`NOT`, `!`,
/// `-`, `+`).
pub const MAX_DEPTH: usize = 64;

/// Parses a query. The empty (or all-whitespace) query is [`Query::All`].
///
/// The result is normalised: `And`/`Or` are flat and have at least two children (see
/// [`Query::normalize`]). Printing it with `to_string()` gives canonical query text that
/// parses back to the same tree.
pub fn parse(input: &str) -> Result<Query, ParseError> {
    parser::parse(input)
}
