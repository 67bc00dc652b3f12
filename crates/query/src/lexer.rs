//! Splits a query into tokens. Words keep their backslash escapes; the parser interprets them,
//! because whether a `:`, `*` or `>` is special depends on where it sits in the word.

use crate::error::{ParseError, ParseErrorKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind<'a> {
    /// A run of non-special characters, escapes still in place (`url.full:http\://x`).
    Word(&'a str),
    /// A quoted phrase with its escapes resolved.
    Phrase(String),
    LParen,
    RParen,
    /// `[` (inclusive) or `{` (exclusive).
    RangeOpen {
        inclusive: bool,
    },
    /// `]` (inclusive) or `}` (exclusive).
    RangeClose {
        inclusive: bool,
    },
    /// `+` at the start of a token: required clause.
    Plus,
    /// `-` at the start of a token: excluded clause.
    Minus,
    /// `!` at the start of a token: same as `NOT`.
    Bang,
    Eof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub(crate) kind: TokenKind<'a>,
    /// Byte offset of the token's first character.
    pub(crate) offset: usize,
}

impl Token<'_> {
    /// How the token appears in error messages.
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            TokenKind::Word(raw) => format!("`{}`", truncate(raw)),
            TokenKind::Phrase(_) => "a phrase".to_owned(),
            TokenKind::LParen => "`(`".to_owned(),
            TokenKind::RParen => "`)`".to_owned(),
            TokenKind::RangeOpen { inclusive: true } => "`[`".to_owned(),
            TokenKind::RangeOpen { inclusive: false } => "`{`".to_owned(),
            TokenKind::RangeClose { inclusive: true } => "`]`".to_owned(),
            TokenKind::RangeClose { inclusive: false } => "`}`".to_owned(),
            TokenKind::Plus => "`+`".to_owned(),
            TokenKind::Minus => "`-`".to_owned(),
            TokenKind::Bang => "`!`".to_owned(),
            TokenKind::Eof => "end of query".to_owned(),
        }
    }
}

/// Keeps error messages short when someone pastes a huge word.
fn truncate(raw: &str) -> &str {
    const MAX_CHARS: usize = 40;
    match raw.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => &raw[..cut],
        None => raw,
    }
}

/// Characters that end a word unless escaped. Whitespace ends words too.
fn is_word_terminator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '{' | '}' | '"')
}

pub(crate) struct Lexer<'a> {
    input: &'a str,
    /// Always on a char boundary.
    pos: usize,
    /// Between `[`/`{` and `]`/`}`, a leading `-`, `+` or `!` belongs to the word so that
    /// `[-5 TO 5]` works.
    in_range: bool,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            pos: 0,
            in_range: false,
        }
    }

    fn peek_char(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    pub(crate) fn next_token(&mut self) -> Result<Token<'a>, ParseError> {
        while let Some(c) = self.peek_char().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
        let offset = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                offset,
            });
        };
        let single = |kind| Token { kind, offset };
        let token = match c {
            '(' => single(TokenKind::LParen),
            ')' => single(TokenKind::RParen),
            '[' | '{' => {
                self.in_range = true;
                single(TokenKind::RangeOpen {
                    inclusive: c == '[',
                })
            }
            ']' | '}' => {
                self.in_range = false;
                single(TokenKind::RangeClose {
                    inclusive: c == ']',
                })
            }
            '+' if !self.in_range => single(TokenKind::Plus),
            '-' if !self.in_range => single(TokenKind::Minus),
            '!' if !self.in_range => single(TokenKind::Bang),
            '"' => return self.phrase(),
            _ => return self.word(),
        };
        self.pos += c.len_utf8();
        Ok(token)
    }

    fn phrase(&mut self) -> Result<Token<'a>, ParseError> {
        let offset = self.pos;
        self.pos += '"'.len_utf8();
        let mut text = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                return Err(ParseError::new(ParseErrorKind::UnterminatedPhrase, offset));
            };
            self.pos += c.len_utf8();
            match c {
                '"' => {
                    return Ok(Token {
                        kind: TokenKind::Phrase(text),
                        offset,
                    });
                }
                '\\' => {
                    let Some(escaped) = self.peek_char() else {
                        return Err(ParseError::new(ParseErrorKind::UnterminatedPhrase, offset));
                    };
                    self.pos += escaped.len_utf8();
                    text.push(escaped);
                }
                _ => text.push(c),
            }
        }
    }

    fn word(&mut self) -> Result<Token<'a>, ParseError> {
        let offset = self.pos;
        while let Some(c) = self.peek_char() {
            if c == '\\' {
                let escape_offset = self.pos;
                self.pos += c.len_utf8();
                let Some(escaped) = self.peek_char() else {
                    return Err(ParseError::new(
                        ParseErrorKind::DanglingEscape,
                        escape_offset,
                    ));
                };
                self.pos += escaped.len_utf8();
            } else if is_word_terminator(c) {
                break;
            } else {
                self.pos += c.len_utf8();
            }
        }
        debug_assert!(
            self.pos > offset,
            "a word starts with a non-terminator character"
        );
        Ok(Token {
            kind: TokenKind::Word(&self.input[offset..self.pos]),
            offset,
        })
    }
}
