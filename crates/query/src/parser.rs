//! Recursive descent over the tokens of [`crate::lexer`].
//!
//! ```text
//! query   = [ or ] EOF
//! or      = and { ("OR" | "||") and }
//! and     = unary { [ "AND" | "&&" ] unary }        (no operator: implicit AND)
//! unary   = ("NOT" | "!" | "-") unary | "+" unary | primary
//! primary = "(" or ")" | PHRASE | range | word
//! word    = [ field ":" ] ( value | PHRASE | range | "(" or ")" )
//! range   = ("[" | "{") end "TO" end ("]" | "}")
//! ```
//!
//! Recursion happens only through parentheses and prefix operators, and each of those counts
//! one level against [`MAX_DEPTH`], so hostile input cannot overflow the stack.

use std::ops::Bound;

use crate::ast::{EXISTS_FIELD, Query, push_and, push_or};
use crate::error::{ParseError, ParseErrorKind};
use crate::lexer::{Lexer, Token, TokenKind};
use crate::{MAX_DEPTH, MAX_QUERY_BYTES};

pub(crate) fn parse(input: &str) -> Result<Query, ParseError> {
    if input.len() > MAX_QUERY_BYTES {
        let kind = ParseErrorKind::TooLong {
            len: input.len(),
            max: MAX_QUERY_BYTES,
        };
        return Err(ParseError::new(kind, MAX_QUERY_BYTES));
    }
    let mut parser = Parser {
        lexer: Lexer::new(input),
        peeked: None,
        depth: 0,
    };
    if parser.peek()?.kind == TokenKind::Eof {
        return Ok(Query::All);
    }
    let query = parser.parse_or(Scope::Top)?;
    let token = parser.bump()?;
    match token.kind {
        TokenKind::Eof => Ok(query),
        _ => Err(ParseError::new(
            ParseErrorKind::Unexpected {
                found: token.describe(),
            },
            token.offset,
        )),
    }
}

/// Whether clauses may name their own field.
#[derive(Debug, Clone, Copy)]
enum Scope<'s> {
    /// Top level or plain parentheses: `a:b` allowed.
    Top,
    /// Inside `field:( … )`: every value gets this field (`None` for `*:( … )`).
    Group(Option<&'s str>),
}

impl<'s> Scope<'s> {
    fn field(self) -> Option<&'s str> {
        match self {
            Scope::Top => None,
            Scope::Group(field) => field,
        }
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token<'a>>,
    depth: usize,
}

fn is_word(token: &Token<'_>, keywords: &[&str]) -> bool {
    matches!(token.kind, TokenKind::Word(raw) if keywords.contains(&raw))
}

const AND_KEYWORDS: &[&str] = &["AND", "&&"];
const OR_KEYWORDS: &[&str] = &["OR", "||"];
const NOT_KEYWORDS: &[&str] = &["NOT"];
/// Keywords that can never be a value on their own.
const BINARY_KEYWORDS: &[&str] = &["AND", "&&", "OR", "||"];

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Result<&Token<'a>, ParseError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        Ok(self.peeked.as_ref().expect("filled above"))
    }

    fn bump(&mut self) -> Result<Token<'a>, ParseError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lexer.next_token(),
        }
    }

    fn enter(&mut self, offset: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(
                ParseErrorKind::TooDeep { max: MAX_DEPTH },
                offset,
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn parse_or(&mut self, scope: Scope<'_>) -> Result<Query, ParseError> {
        let mut children = Vec::new();
        push_or(&mut children, self.parse_and(scope)?);
        while is_word(self.peek()?, OR_KEYWORDS) {
            self.bump()?;
            push_or(&mut children, self.parse_and(scope)?);
        }
        Ok(single_or(children, Query::Or))
    }

    fn parse_and(&mut self, scope: Scope<'_>) -> Result<Query, ParseError> {
        let mut children = Vec::new();
        push_and(&mut children, self.parse_unary(scope)?);
        loop {
            let token = self.peek()?;
            if is_word(token, AND_KEYWORDS) {
                self.bump()?;
            } else if !starts_clause(token) {
                break;
            }
            // Either after an explicit AND or, with no operator, an implicit AND.
            push_and(&mut children, self.parse_unary(scope)?);
        }
        Ok(single_or(children, Query::And))
    }

    fn parse_unary(&mut self, scope: Scope<'_>) -> Result<Query, ParseError> {
        let token = self.peek()?;
        let offset = token.offset;
        let negate = match &token.kind {
            TokenKind::Minus | TokenKind::Bang => true,
            TokenKind::Word(_) if is_word(token, NOT_KEYWORDS) => true,
            TokenKind::Plus => false,
            _ => return self.parse_primary(scope),
        };
        self.bump()?;
        self.enter(offset)?;
        let operand = self.parse_unary(scope)?;
        self.leave();
        Ok(if negate {
            Query::Not(Box::new(operand))
        } else {
            operand
        })
    }

    fn parse_primary(&mut self, scope: Scope<'_>) -> Result<Query, ParseError> {
        let token = self.bump()?;
        match token.kind {
            TokenKind::LParen => self.parse_group(token.offset, scope),
            TokenKind::Phrase(text) => make_phrase(scope.field(), text, token.offset),
            TokenKind::RangeOpen { inclusive } => match scope.field() {
                Some(field) => self.parse_range(field, inclusive),
                None => Err(ParseError::new(
                    ParseErrorKind::RangeWithoutField,
                    token.offset,
                )),
            },
            TokenKind::Word(raw) if !BINARY_KEYWORDS.contains(&raw) => {
                self.parse_word(raw, token.offset, scope)
            }
            _ => Err(expected("a search term", &token)),
        }
    }

    /// After `(`: the contents and the closing `)`.
    fn parse_group(&mut self, offset: usize, scope: Scope<'_>) -> Result<Query, ParseError> {
        self.enter(offset)?;
        if self.peek()?.kind == TokenKind::RParen {
            return Err(ParseError::new(ParseErrorKind::EmptyGroup, offset));
        }
        let query = self.parse_or(scope)?;
        let token = self.bump()?;
        if token.kind != TokenKind::RParen {
            return Err(expected("`)`", &token));
        }
        self.leave();
        Ok(query)
    }

    fn parse_word(
        &mut self,
        raw: &str,
        offset: usize,
        scope: Scope<'_>,
    ) -> Result<Query, ParseError> {
        let Some((field_raw, value_raw)) = split_field(raw) else {
            return value_word(scope.field(), raw, offset);
        };
        if let Scope::Group(group) = scope {
            let kind = ParseErrorKind::NestedField {
                field: field_raw.to_owned(),
                group: group.unwrap_or("*").to_owned(),
            };
            return Err(ParseError::new(kind, offset));
        }
        if field_raw.is_empty() {
            return Err(ParseError::new(ParseErrorKind::EmptyFieldName, offset));
        }
        // `*:value` searches all fields, like a bare value.
        let field = (field_raw != "*").then(|| scan(field_raw).literal);
        if !value_raw.is_empty() {
            let value_offset = offset + field_raw.len() + ':'.len_utf8();
            return value_word(field.as_deref(), value_raw, value_offset);
        }
        // `field:` ends the word: the value is the next token (`field:"…"`, `field:(…)`,
        // `field:[…]`, or `field: value` with a space).
        let token = self.bump()?;
        match token.kind {
            TokenKind::LParen => self.parse_group(token.offset, Scope::Group(field.as_deref())),
            TokenKind::Phrase(text) => make_phrase(field.as_deref(), text, token.offset),
            TokenKind::RangeOpen { inclusive } => match field {
                Some(field) => self.parse_range(&field, inclusive),
                None => Err(ParseError::new(
                    ParseErrorKind::RangeWithoutField,
                    token.offset,
                )),
            },
            TokenKind::Word(raw) if !BINARY_KEYWORDS.contains(&raw) && raw != "NOT" => {
                value_word(field.as_deref(), raw, token.offset)
            }
            _ => {
                let kind = ParseErrorKind::MissingValue {
                    field: field_raw.to_owned(),
                    found: token.describe(),
                };
                Err(ParseError::new(kind, token.offset))
            }
        }
    }

    /// After `[` or `{`: `lower TO upper` and the closing bracket.
    fn parse_range(&mut self, field: &str, lower_inclusive: bool) -> Result<Query, ParseError> {
        if field == EXISTS_FIELD {
            let token = self.peek()?;
            let kind = ParseErrorKind::InvalidExists {
                found: "a range".to_owned(),
            };
            return Err(ParseError::new(kind, token.offset));
        }
        let lower = self.parse_range_end(lower_inclusive, "the start of the range")?;
        let token = self.bump()?;
        if !is_word(&token, &["TO"]) {
            return Err(expected("`TO`", &token));
        }
        // The upper end's inclusiveness is only known at the closing bracket.
        let upper = self.parse_range_end(true, "the end of the range")?;
        let token = self.bump()?;
        let TokenKind::RangeClose {
            inclusive: upper_inclusive,
        } = token.kind
        else {
            return Err(expected("`]` or `}`", &token));
        };
        let upper = match upper {
            Bound::Included(value) if !upper_inclusive => Bound::Excluded(value),
            other => other,
        };
        Ok(Query::Range {
            field: field.to_owned(),
            lower,
            upper,
        })
    }

    fn parse_range_end(
        &mut self,
        inclusive: bool,
        what: &'static str,
    ) -> Result<Bound<String>, ParseError> {
        let token = self.bump()?;
        match token.kind {
            TokenKind::Word("*") => Ok(Bound::Unbounded),
            TokenKind::Word(raw) => Ok(bound(scan(raw).literal, inclusive)),
            TokenKind::Phrase(text) => Ok(bound(text, inclusive)),
            _ => Err(expected(what, &token)),
        }
    }
}

/// One child stands alone; several are combined with `combine`.
fn single_or(mut children: Vec<Query>, combine: fn(Vec<Query>) -> Query) -> Query {
    if children.len() == 1 {
        children.pop().expect("length is 1")
    } else {
        combine(children)
    }
}

fn starts_clause(token: &Token<'_>) -> bool {
    match token.kind {
        TokenKind::Word(raw) => !BINARY_KEYWORDS.contains(&raw),
        TokenKind::Phrase(_)
        | TokenKind::LParen
        | TokenKind::RangeOpen { .. }
        | TokenKind::Plus
        | TokenKind::Minus
        | TokenKind::Bang => true,
        TokenKind::RParen | TokenKind::RangeClose { .. } | TokenKind::Eof => false,
    }
}

fn expected(expected: &'static str, found: &Token<'_>) -> ParseError {
    ParseError::new(
        ParseErrorKind::Expected {
            expected,
            found: found.describe(),
        },
        found.offset,
    )
}

fn bound(value: String, inclusive: bool) -> Bound<String> {
    if inclusive {
        Bound::Included(value)
    } else {
        Bound::Excluded(value)
    }
}

fn make_phrase(field: Option<&str>, text: String, offset: usize) -> Result<Query, ParseError> {
    if field == Some(EXISTS_FIELD) {
        if text.is_empty() {
            let kind = ParseErrorKind::InvalidExists {
                found: "an empty phrase".to_owned(),
            };
            return Err(ParseError::new(kind, offset));
        }
        return Ok(Query::Exists { field: text });
    }
    Ok(Query::Phrase {
        field: field.map(str::to_owned),
        text,
    })
}

/// Splits `field:value` at the first unescaped colon. Later colons belong to the value, so
/// `mac:00:11:22` and `url.full:http://x` need no escaping.
fn split_field(raw: &str) -> Option<(&str, &str)> {
    let mut chars = raw.char_indices();
    while let Some((idx, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            ':' => return Some((&raw[..idx], &raw[idx + ':'.len_utf8()..])),
            _ => {}
        }
    }
    None
}

/// A value word with its escapes interpreted.
struct Scanned {
    /// Escapes resolved, wildcards taken literally.
    literal: String,
    /// In the [`crate::wildcard`] escaping.
    pattern: String,
    has_wildcard: bool,
    has_slash: bool,
}

fn scan(raw: &str) -> Scanned {
    let mut scanned = Scanned {
        literal: String::with_capacity(raw.len()),
        pattern: String::with_capacity(raw.len()),
        has_wildcard: false,
        has_slash: false,
    };
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            // The lexer rejects a trailing backslash; take it literally if one gets here.
            let escaped = chars.next().unwrap_or('\\');
            scanned.literal.push(escaped);
            if matches!(escaped, '*' | '?' | '\\') {
                scanned.pattern.push('\\');
            }
            scanned.pattern.push(escaped);
            continue;
        }
        match c {
            '*' | '?' => scanned.has_wildcard = true,
            '/' => scanned.has_slash = true,
            _ => {}
        }
        scanned.literal.push(c);
        scanned.pattern.push(c);
    }
    scanned
}

/// Interprets the value part of a word (`raw` is non-empty, escapes still in place).
fn value_word(field: Option<&str>, raw: &str, offset: usize) -> Result<Query, ParseError> {
    if field == Some(EXISTS_FIELD) {
        let scanned = scan(raw);
        if scanned.has_wildcard {
            let kind = ParseErrorKind::InvalidExists {
                found: format!("the pattern `{raw}`"),
            };
            return Err(ParseError::new(kind, offset));
        }
        return Ok(Query::Exists {
            field: scanned.literal,
        });
    }
    if let Some(field) = field
        && let Some(range) = comparison(field, raw, offset)?
    {
        return Ok(range);
    }
    let scanned = scan(raw);
    if scanned.has_wildcard {
        if field.is_none() && raw == "*" {
            return Ok(Query::All);
        }
        return Ok(Query::Wildcard {
            field: field.map(str::to_owned),
            pattern: scanned.pattern,
        });
    }
    if let Some(field) = field
        && scanned.has_slash
        && let Ok(net) = scanned.literal.parse::<ipnet::IpNet>()
    {
        return Ok(Query::Cidr {
            field: field.to_owned(),
            net,
        });
    }
    Ok(Query::Term {
        field: field.map(str::to_owned),
        value: scanned.literal,
    })
}

/// `>=v`, `>v`, `<=v`, `<v` as a one-sided range.
fn comparison(field: &str, raw: &str, offset: usize) -> Result<Option<Query>, ParseError> {
    // Longest operators first.
    const OPERATORS: [(&str, bool, bool); 4] = [
        (">=", true, true),
        ("<=", false, true),
        (">", true, false),
        ("<", false, false),
    ];
    let Some((operator, is_lower, inclusive, rest)) =
        OPERATORS
            .iter()
            .find_map(|&(operator, is_lower, inclusive)| {
                raw.strip_prefix(operator)
                    .map(|rest| (operator, is_lower, inclusive, rest))
            })
    else {
        return Ok(None);
    };
    if rest.is_empty() {
        let kind = ParseErrorKind::Expected {
            expected: "a value after the comparison",
            found: "nothing".to_owned(),
        };
        return Err(ParseError::new(kind, offset + operator.len()));
    }
    let end = if rest == "*" {
        Bound::Unbounded
    } else {
        bound(scan(rest).literal, inclusive)
    };
    let (lower, upper) = if is_lower {
        (end, Bound::Unbounded)
    } else {
        (Bound::Unbounded, end)
    };
    Ok(Some(Query::Range {
        field: field.to_owned(),
        lower,
        upper,
    }))
}
