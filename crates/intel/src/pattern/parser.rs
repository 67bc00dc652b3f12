//! Recursive-descent parser for `STIXPattern.g4` (STIX 2.1), plus the two checks the
//! OASIS validator (`stix2-patterns`) makes beyond the grammar: hash values must fit
//! their hash type, and one observation may not carry two qualifiers of the same kind.

use super::ast::{
    Comparison, ObjectPath, Observation, Operator, PathStep, PropTest, Qualifier, Value,
};
use super::lexer::{Kind, Token, tokenize};
use crate::error::PatternError;

/// Deepest nesting of parentheses, brackets and operators accepted: hostile input must not
/// exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 64;
/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256 * 1024;

/// Parses a STIX 2.1 pattern.
pub fn parse(input: &str) -> Result<Observation> {
    if input.len() > MAX_PATTERN_BYTES {
        return Err(PatternError {
            offset: 0,
            message: format!("pattern longer than {MAX_PATTERN_BYTES} bytes"),
        });
    }
    // stix2-patterns refuses a pattern whose first character after opening parentheses is
    // not `[` before it parses it (so a leading comment is refused too).
    let first = input
        .chars()
        .find(|c| *c != '(' && !(c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(c)));
    if first != Some('[') {
        return Err(PatternError {
            offset: 0,
            message: "a pattern must start with `[` (after any opening parentheses)".into(),
        });
    }
    let tokens = tokenize(input)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let observation = parser.observations()?;
    parser.expect(Kind::Eof, "end of pattern")?;
    check_qualifiers(&observation)?;
    check_hashes(&observation)?;
    Ok(observation)
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
}

type Result<T> = std::result::Result<T, PatternError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> Token<'a> {
        self.tokens[self.pos]
    }

    fn bump(&mut self) -> Token<'a> {
        let token = self.tokens[self.pos];
        if token.kind != Kind::Eof {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, kind: Kind) -> bool {
        if self.peek().kind == kind {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error(&self, expected: &str) -> PatternError {
        let token = self.peek();
        let found = if token.kind == Kind::Eof {
            "end of pattern".to_owned()
        } else {
            format!("`{}`", token.text)
        };
        PatternError {
            offset: token.offset,
            message: format!("expected {expected}, found {found}"),
        }
    }

    fn expect(&mut self, kind: Kind, expected: &str) -> Result<Token<'a>> {
        if self.peek().kind == kind {
            Ok(self.bump())
        } else {
            Err(self.error(expected))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PatternError {
                offset: self.peek().offset,
                message: format!("nesting deeper than {MAX_DEPTH}"),
            });
        }
        Ok(())
    }

    /// `observationExpressions : observationExpressions FOLLOWEDBY observationExpressions | observationExpressionOr`
    fn observations(&mut self) -> Result<Observation> {
        self.enter()?;
        let first = self.observation_or()?;
        let mut items = vec![first];
        while self.eat(Kind::FollowedBy) {
            items.push(self.observation_or()?);
        }
        let result = if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Observation::FollowedBy(items)
        };
        self.depth -= 1;
        Ok(result)
    }

    fn observation_or(&mut self) -> Result<Observation> {
        let first = self.observation_and()?;
        let mut items = vec![first];
        while self.eat(Kind::Or) {
            items.push(self.observation_and()?);
        }
        let result = if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Observation::Or(items)
        };
        Ok(result)
    }

    fn observation_and(&mut self) -> Result<Observation> {
        let first = self.observation()?;
        let mut items = vec![first];
        while self.eat(Kind::And) {
            items.push(self.observation()?);
        }
        let result = if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Observation::And(items)
        };
        Ok(result)
    }

    /// `[ comparison ]` or `( observations )`, then any qualifiers.
    fn observation(&mut self) -> Result<Observation> {
        let mut observation = match self.peek().kind {
            Kind::LBrack => {
                self.bump();
                let comparison = self.comparison()?;
                self.expect(Kind::RBrack, "`]`")?;
                Observation::Simple(comparison)
            }
            Kind::LParen => {
                self.bump();
                let inner = self.observations()?;
                self.expect(Kind::RParen, "`)`")?;
                Observation::Group(Box::new(inner))
            }
            _ => return Err(self.error("`[` or `(`")),
        };
        loop {
            let qualifier = match self.peek().kind {
                Kind::Start => {
                    self.bump();
                    let start = self.expect(Kind::Timestamp, "a timestamp t'…'")?;
                    self.expect(Kind::Stop, "STOP")?;
                    let stop = self.expect(Kind::Timestamp, "a timestamp t'…'")?;
                    Qualifier::StartStop(unquote_prefixed(start.text), unquote_prefixed(stop.text))
                }
                Kind::Within => {
                    self.bump();
                    let token = self.bump();
                    if !matches!(token.kind, Kind::IntPos | Kind::FloatPos) {
                        self.pos -= 1;
                        return Err(self.error("a positive number"));
                    }
                    self.expect(Kind::Seconds, "SECONDS")?;
                    Qualifier::Within(token.text.to_owned())
                }
                Kind::Repeats => {
                    self.bump();
                    let count = self.expect(Kind::IntPos, "a positive integer")?;
                    self.expect(Kind::Times, "TIMES")?;
                    Qualifier::Repeats(count.text.to_owned())
                }
                _ => break,
            };
            if self.depth > MAX_DEPTH * 4 {
                return Err(self.error("fewer qualifiers"));
            }
            self.depth += 1;
            observation = Observation::Qualified(Box::new(observation), qualifier);
        }
        Ok(observation)
    }

    fn comparison(&mut self) -> Result<Comparison> {
        self.enter()?;
        let first = self.comparison_and()?;
        let mut items = vec![first];
        while self.eat(Kind::Or) {
            items.push(self.comparison_and()?);
        }
        let result = if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Comparison::Or(items)
        };
        self.depth -= 1;
        Ok(result)
    }

    fn comparison_and(&mut self) -> Result<Comparison> {
        let first = self.prop_test()?;
        let mut items = vec![first];
        while self.eat(Kind::And) {
            items.push(self.prop_test()?);
        }
        let result = if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Comparison::And(items)
        };
        Ok(result)
    }

    fn prop_test(&mut self) -> Result<Comparison> {
        match self.peek().kind {
            Kind::LParen => {
                self.bump();
                let inner = self.comparison()?;
                self.expect(Kind::RParen, "`)`")?;
                return Ok(inner);
            }
            Kind::Exists => {
                self.bump();
                return Ok(Comparison::Exists(self.object_path()?));
            }
            _ => {}
        }
        let path = self.object_path()?;
        let negated = self.eat(Kind::Not);
        let token = self.bump();
        let (op, value) = match token.kind {
            Kind::Eq | Kind::Neq => {
                let op = if token.kind == Kind::Eq {
                    Operator::Eq
                } else {
                    Operator::Neq
                };
                (op, self.primitive_literal()?)
            }
            Kind::Gt | Kind::Lt | Kind::Ge | Kind::Le => {
                let op = match token.kind {
                    Kind::Gt => Operator::Gt,
                    Kind::Lt => Operator::Lt,
                    Kind::Ge => Operator::Ge,
                    _ => Operator::Le,
                };
                (op, self.orderable_literal()?)
            }
            Kind::In => (Operator::In, self.set_literal()?),
            Kind::Like | Kind::Matches | Kind::IsSubset | Kind::IsSuperset => {
                let op = match token.kind {
                    Kind::Like => Operator::Like,
                    Kind::Matches => Operator::Matches,
                    Kind::IsSubset => Operator::IsSubset,
                    _ => Operator::IsSuperset,
                };
                let value = self.expect(Kind::Str, "a string literal")?;
                (op, Value::Str(unescape(value.text)))
            }
            _ => {
                self.pos -= 1;
                return Err(self.error("a comparison operator"));
            }
        };
        Ok(Comparison::Test(PropTest {
            path,
            negated,
            op,
            value,
        }))
    }

    /// `objectType COLON firstPathComponent objectPathComponent?`
    fn object_path(&mut self) -> Result<ObjectPath> {
        let object_type = self.bump();
        if !matches!(
            object_type.kind,
            Kind::IdentWithoutHyphen | Kind::IdentWithHyphen
        ) {
            self.pos -= 1;
            return Err(self.error("an object type"));
        }
        self.expect(Kind::Colon, "`:`")?;
        let first = self.bump();
        let mut steps = vec![match first.kind {
            Kind::IdentWithoutHyphen => PathStep::Key(first.text.to_owned()),
            Kind::Str => PathStep::Key(unescape(first.text)),
            _ => {
                self.pos -= 1;
                return Err(self.error("a property name"));
            }
        }];
        loop {
            match self.peek().kind {
                Kind::Dot => {
                    self.bump();
                    let key = self.bump();
                    steps.push(match key.kind {
                        Kind::IdentWithoutHyphen => PathStep::Key(key.text.to_owned()),
                        Kind::Str => PathStep::Key(unescape(key.text)),
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("a property name"));
                        }
                    });
                }
                Kind::LBrack => {
                    self.bump();
                    let index = self.bump();
                    steps.push(match index.kind {
                        Kind::IntPos | Kind::IntNeg => PathStep::Index(Some(index.text.to_owned())),
                        Kind::Asterisk => PathStep::Index(None),
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("a list index or `*`"));
                        }
                    });
                    self.expect(Kind::RBrack, "`]`")?;
                }
                _ => break,
            }
            if steps.len() > MAX_DEPTH {
                return Err(self.error("a shorter object path"));
            }
        }
        Ok(ObjectPath {
            object_type: object_type.text.to_owned(),
            steps,
        })
    }

    fn orderable_literal(&mut self) -> Result<Value> {
        let token = self.bump();
        Ok(match token.kind {
            Kind::IntPos | Kind::IntNeg => Value::Int(token.text.to_owned()),
            Kind::FloatPos | Kind::FloatNeg => Value::Float(token.text.to_owned()),
            Kind::Str => Value::Str(unescape(token.text)),
            Kind::Binary => Value::Binary(unquote_prefixed(token.text)),
            Kind::Hex => Value::Hex(unquote_prefixed(token.text)),
            Kind::Timestamp => Value::Timestamp(unquote_prefixed(token.text)),
            _ => {
                self.pos -= 1;
                return Err(self.error("a literal"));
            }
        })
    }

    fn primitive_literal(&mut self) -> Result<Value> {
        if self.peek().kind == Kind::Bool {
            return Ok(Value::Bool(self.bump().text == "true"));
        }
        self.orderable_literal()
    }

    /// `LPAREN RPAREN | LPAREN primitiveLiteral (COMMA primitiveLiteral)* RPAREN`
    fn set_literal(&mut self) -> Result<Value> {
        self.expect(Kind::LParen, "`(`")?;
        let mut values = Vec::new();
        if self.eat(Kind::RParen) {
            return Ok(Value::Set(values));
        }
        loop {
            values.push(self.primitive_literal()?);
            if self.eat(Kind::RParen) {
                return Ok(Value::Set(values));
            }
            self.expect(Kind::Comma, "`,` or `)`")?;
        }
    }
}

/// `'it\'s'` → `it's`.
fn unescape(text: &str) -> String {
    text[1..text.len() - 1]
        .replace("\\'", "'")
        .replace("\\\\", "\\")
}

/// `t'…'`, `h'…'`, `b'…'` → the content.
fn unquote_prefixed(text: &str) -> String {
    text[2..text.len() - 1].to_owned()
}

/// stix2-patterns: a qualifier kind may appear once on a simple observation's own chain
/// of qualifiers; on a parenthesized group it is not checked.
fn check_qualifiers(observation: &Observation) -> Result<()> {
    match observation {
        Observation::Simple(_) => Ok(()),
        Observation::Group(inner) => check_qualifiers(inner),
        Observation::And(items) | Observation::Or(items) | Observation::FollowedBy(items) => {
            items.iter().try_for_each(check_qualifiers)
        }
        Observation::Qualified(..) => {
            let mut kinds = Vec::new();
            let mut current = observation;
            while let Observation::Qualified(inner, qualifier) = current {
                kinds.push(std::mem::discriminant(qualifier));
                current = inner;
            }
            if matches!(current, Observation::Simple(_)) {
                let mut seen = Vec::new();
                for kind in kinds {
                    if seen.contains(&kind) {
                        return Err(PatternError {
                            offset: 0,
                            message: "duplicate qualifier on one observation".into(),
                        });
                    }
                    seen.push(kind);
                }
            }
            check_qualifiers(current)
        }
    }
}

fn check_hashes(observation: &Observation) -> Result<()> {
    match observation {
        Observation::Simple(comparison) => check_comparison_hashes(comparison),
        Observation::Group(inner) | Observation::Qualified(inner, _) => check_hashes(inner),
        Observation::And(items) | Observation::Or(items) | Observation::FollowedBy(items) => {
            items.iter().try_for_each(check_hashes)
        }
    }
}

fn check_comparison_hashes(comparison: &Comparison) -> Result<()> {
    match comparison {
        Comparison::And(items) | Comparison::Or(items) => {
            items.iter().try_for_each(check_comparison_hashes)
        }
        Comparison::Exists(_) => Ok(()),
        Comparison::Test(test) => {
            if !test.path.keys().any(|key| key == "hashes") {
                return Ok(());
            }
            let Some(PathStep::Key(selector)) = test.path.steps.last() else {
                return Ok(());
            };
            let hash_type: String = selector
                .to_uppercase()
                .chars()
                .filter(|c| *c != '-' && *c != '\'')
                .collect();
            let text = validator_value_text(&test.value);
            if hash_value_fits(&hash_type, &text) {
                Ok(())
            } else {
                Err(PatternError {
                    offset: 0,
                    message: format!("'{text}' is not a valid {selector} hash"),
                })
            }
        }
    }
}

/// The value as stix2-patterns checks it: the literal's source text with every `'` removed.
fn validator_value_text(value: &Value) -> String {
    let text = match value {
        Value::Str(s) => s.replace('\\', "\\\\").replace('\'', "\\'"),
        Value::Int(s) | Value::Float(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Binary(s) => format!("b{s}"),
        Value::Hex(s) => format!("h{s}"),
        Value::Timestamp(s) => format!("t{s}"),
        Value::Set(values) => {
            let inner: Vec<String> = values.iter().map(validator_value_text).collect();
            format!("({})", inner.join(","))
        }
    };
    text.replace('\'', "")
}

/// The hash formats stix2-patterns knows (`object_validator.HASHES_REGEX`, matched with
/// Python's `re.match`, whose `$` also accepts one final newline).
fn hash_value_fits(hash_type: &str, value: &str) -> bool {
    let all_hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let full =
        |n: usize| all_hex(value, n) || value.strip_suffix('\n').is_some_and(|s| all_hex(s, n));
    match hash_type {
        "MD5" => full(32),
        "RIPEMD160" | "SHA1" => full(40),
        "SHA224" | "SHA3224" => full(56),
        "SHA256" | "SHA3256" => full(64),
        "SHA384" | "SHA3384" => full(96),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => full(128),
        // The published regex lacks a group, so it accepts any value starting with 32
        // hex digits (or a newline, four spaces and 64 hex digits).
        "MD6" => {
            value.get(..32).is_some_and(|s| all_hex(s, 32))
                || value
                    .strip_prefix("\n    ")
                    .and_then(|s| s.get(..64))
                    .is_some_and(|s| all_hex(s, 64))
        }
        "SSDEEP" => {
            let body = value.strip_suffix('\n').unwrap_or(value);
            (1..=128).contains(&body.len())
                && body
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b':' | b'.'))
        }
        _ => true,
    }
}
