//! The STIX 2.1 pattern lexer, faithful to the OASIS `STIXPattern.g4` lexer: at each
//! position the longest token wins, ties go to the rule defined first (as ANTLR does).

use crate::error::PatternError;

/// What a token is. Literals keep their source text (quotes included) in [`Token::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    IntNeg,
    IntPos,
    FloatNeg,
    FloatPos,
    Hex,
    Binary,
    Str,
    Bool,
    Timestamp,
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
    IdentWithoutHyphen,
    IdentWithHyphen,
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    Quote,
    Colon,
    Dot,
    Comma,
    RParen,
    LParen,
    RBrack,
    LBrack,
    Plus,
    Hyphen,
    Power,
    Divide,
    Asterisk,
    Invalid,
    Eof,
}

/// One token: its kind and where it is in the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    pub offset: usize,
}

/// Keywords in rule order (`TRUE`/`FALSE` are shadowed by `BoolLiteral`).
const KEYWORDS: &[(&str, Kind)] = &[
    ("AND", Kind::And),
    ("OR", Kind::Or),
    ("NOT", Kind::Not),
    ("FOLLOWEDBY", Kind::FollowedBy),
    ("LIKE", Kind::Like),
    ("MATCHES", Kind::Matches),
    ("ISSUPERSET", Kind::IsSuperset),
    ("ISSUBSET", Kind::IsSubset),
    ("EXISTS", Kind::Exists),
    ("LAST", Kind::Last),
    ("IN", Kind::In),
    ("START", Kind::Start),
    ("STOP", Kind::Stop),
    ("SECONDS", Kind::Seconds),
    ("WITHIN", Kind::Within),
    ("REPEATS", Kind::Repeats),
    ("TIMES", Kind::Times),
];

/// Most tokens a pattern may have; beyond it the pattern is refused (bounded work).
pub(crate) const MAX_TOKENS: usize = 100_000;

/// Splits a pattern into tokens, skipping whitespace and comments. The last token is
/// [`Kind::Eof`].
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token<'_>>, PatternError> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        let ws = skip_whitespace(rest);
        if ws > 0 {
            pos += ws;
            continue;
        }
        if rest.starts_with("//") {
            pos += rest.find(['\r', '\n']).unwrap_or(rest.len());
            continue;
        }
        if rest.starts_with("/*")
            && let Some(end) = rest[2..].find("*/")
        {
            pos += end + 4;
            continue;
        }
        let (len, kind) = longest_token(rest, bytes[pos]);
        tokens.push(Token {
            kind,
            text: &input[pos..pos + len],
            offset: pos,
        });
        if tokens.len() > MAX_TOKENS {
            return Err(PatternError {
                offset: pos,
                message: format!("more than {MAX_TOKENS} tokens"),
            });
        }
        pos += len;
    }
    tokens.push(Token {
        kind: Kind::Eof,
        text: "",
        offset: input.len(),
    });
    Ok(tokens)
}

/// The grammar's `WS` set.
fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\r'
            | '\n'
            | '\u{0B}'
            | '\u{0C}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

fn skip_whitespace(rest: &str) -> usize {
    rest.char_indices()
        .find(|(_, c)| !is_ws(*c))
        .map_or(rest.len(), |(idx, _)| idx)
}

/// The longest token at the start of `rest` (never empty: an unknown character is an
/// `InvalidCharacter` token of one character, which no parser rule accepts).
fn longest_token(rest: &str, first: u8) -> (usize, Kind) {
    let mut best = (0, Kind::Invalid);
    let mut offer = |len: Option<usize>, kind: Kind| {
        if let Some(len) = len
            && len > best.0
        {
            best = (len, kind);
        }
    };
    let b = rest.as_bytes();
    offer(int_neg(b), Kind::IntNeg);
    offer(int_pos(b), Kind::IntPos);
    offer(float_neg(b), Kind::FloatNeg);
    offer(float_pos(b), Kind::FloatPos);
    offer(hex_literal(b), Kind::Hex);
    offer(binary_literal(b), Kind::Binary);
    offer(string_literal(b), Kind::Str);
    for word in ["true", "false"] {
        offer(rest.starts_with(word).then_some(word.len()), Kind::Bool);
    }
    offer(timestamp_literal(b), Kind::Timestamp);
    for (word, kind) in KEYWORDS {
        offer(rest.starts_with(word).then_some(word.len()), *kind);
    }
    if first.is_ascii_alphabetic() || first == b'_' {
        let plain = 1 + b[1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        offer(Some(plain), Kind::IdentWithoutHyphen);
        let hyphen = 1 + b[1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'-')
            .count();
        offer(Some(hyphen), Kind::IdentWithHyphen);
    }
    for (op, kind) in [
        ("==", Kind::Eq),
        ("=", Kind::Eq),
        ("!=", Kind::Neq),
        ("<>", Kind::Neq),
        ("<=", Kind::Le),
        ("<", Kind::Lt),
        (">=", Kind::Ge),
        (">", Kind::Gt),
        ("'", Kind::Quote),
        (":", Kind::Colon),
        (".", Kind::Dot),
        (",", Kind::Comma),
        (")", Kind::RParen),
        ("(", Kind::LParen),
        ("]", Kind::RBrack),
        ("[", Kind::LBrack),
        ("+", Kind::Plus),
        ("-", Kind::Hyphen),
        ("^", Kind::Power),
        ("/", Kind::Divide),
        ("*", Kind::Asterisk),
    ] {
        offer(rest.starts_with(op).then_some(op.len()), kind);
    }
    if best.0 == 0 {
        let len = rest.chars().next().map_or(1, char::len_utf8);
        best = (len, Kind::Invalid);
    }
    best
}

fn digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// `'0' | [1-9] [0-9]*`
fn unsigned_int(b: &[u8]) -> Option<usize> {
    match b.first()? {
        b'0' => Some(1),
        b'1'..=b'9' => Some(1 + digits(&b[1..])),
        _ => None,
    }
}

fn int_neg(b: &[u8]) -> Option<usize> {
    (b.first() == Some(&b'-')).then(|| unsigned_int(&b[1..]).map(|n| n + 1))?
}

fn int_pos(b: &[u8]) -> Option<usize> {
    let sign = usize::from(b.first() == Some(&b'+'));
    unsigned_int(&b[sign..]).map(|n| n + sign)
}

/// `[0-9]* '.' [0-9]+`
fn unsigned_float(b: &[u8]) -> Option<usize> {
    let int = digits(b);
    if b.get(int) != Some(&b'.') {
        return None;
    }
    let frac = digits(&b[int + 1..]);
    (frac > 0).then_some(int + 1 + frac)
}

fn float_neg(b: &[u8]) -> Option<usize> {
    (b.first() == Some(&b'-')).then(|| unsigned_float(&b[1..]).map(|n| n + 1))?
}

fn float_pos(b: &[u8]) -> Option<usize> {
    let sign = usize::from(b.first() == Some(&b'+'));
    unsigned_float(&b[sign..]).map(|n| n + sign)
}

/// `'h' QUOTE TwoHexDigits* QUOTE`
fn hex_literal(b: &[u8]) -> Option<usize> {
    if !b.starts_with(b"h'") {
        return None;
    }
    let n = b[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
    let n = n - n % 2;
    (b.get(2 + n) == Some(&b'\'')).then_some(3 + n)
}

fn is_base64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

/// `'b' QUOTE (B64 B64 B64 B64)* ((B64 B64 B64 B64) | (B64 B64 B64) '=' | (B64 B64) '==') QUOTE`
fn binary_literal(b: &[u8]) -> Option<usize> {
    if !b.starts_with(b"b'") {
        return None;
    }
    let body = &b[2..];
    let n = body.iter().take_while(|c| is_base64(**c)).count();
    let pad = body[n..].iter().take_while(|c| **c == b'=').count().min(2);
    // Try each padding length the grammar allows after a run of base64 characters.
    for pad_len in (0..=pad).rev() {
        let valid = match pad_len {
            0 => n >= 4 && n % 4 == 0,
            1 => n >= 3 && n % 4 == 3,
            _ => n >= 2 && n % 4 == 2,
        };
        if valid && body.get(n + pad_len) == Some(&b'\'') {
            return Some(2 + n + pad_len + 1);
        }
    }
    None
}

/// `QUOTE ( ~['\\] | '\\\'' | '\\\\' )* QUOTE`
fn string_literal(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&b'\'') {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\'' => return Some(i + 1),
            b'\\' => match b.get(i + 1) {
                Some(b'\'' | b'\\') => i += 2,
                _ => return None,
            },
            _ => i += 1,
        }
    }
    None
}

/// `'t' QUOTE YYYY-MM-DD 'T' hh:mm:ss ('.' [0-9]+)? 'Z' QUOTE` with the grammar's ranges.
fn timestamp_literal(b: &[u8]) -> Option<usize> {
    if !b.starts_with(b"t'") {
        return None;
    }
    let d = |i: usize| b.get(i).copied().filter(u8::is_ascii_digit);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let ok = (2..6).all(|i| d(i).is_some())
        && at(6, b'-')
        && matches!((d(7)?, d(8)?), (b'0', b'1'..=b'9') | (b'1', b'0'..=b'2'))
        && at(9, b'-')
        && matches!(
            (d(10)?, d(11)?),
            (b'0', b'1'..=b'9') | (b'1' | b'2', _) | (b'3', b'0' | b'1')
        )
        && at(12, b'T')
        && matches!((d(13)?, d(14)?), (b'0' | b'1', _) | (b'2', b'0'..=b'3'))
        && at(15, b':')
        && matches!(d(16)?, b'0'..=b'5')
        && d(17).is_some()
        && at(18, b':')
        && (matches!((d(19)?, d(20)?), (b'0'..=b'5', _)) || (at(19, b'6') && at(20, b'0')));
    if !ok {
        return None;
    }
    let mut i = 21;
    if at(i, b'.') {
        let frac = digits(&b[i + 1..]);
        if frac == 0 {
            return None;
        }
        i += 1 + frac;
    }
    (at(i, b'Z') && at(i + 1, b'\'')).then_some(i + 2)
}
