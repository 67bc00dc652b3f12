//! rsigma-parser's AST → our matcher IR ([`crate::matcher`]).

use std::collections::BTreeMap;

use base64::Engine as _;
use rsigma_parser::{
    ConditionExpr, Detection as AstDetection, DetectionItem, Modifier, Quantifier, SelectorPattern,
    SigmaRule, SigmaString, SigmaValue, SpecialChar, StringPart,
};

use crate::error::RuleError;
use crate::mapping::{Mappings, Resolved};
use crate::matcher::{
    Anchor, CompareOp, Detection, Expr, Item, ItemTest, NamedDetection, Program, StrPattern,
    Target, Tok, ValueTest,
};
use crate::rule::{CompiledRule, Level, Logsource, Status};

/// `re` patterns above this compiled size are rejected (regex `size_limit`). SigmaHQ needs
/// more than 1 MiB for `\w{1,64}` (Unicode word class, repeated).
const REGEX_SIZE_LIMIT: usize = 8 << 20;
/// `expand` may multiply values; beyond this many a rule is rejected.
const MAX_EXPANSIONS: usize = 1024;

/// What compilation needs besides the rule.
pub(crate) struct CompileContext<'a> {
    pub(crate) mappings: &'a Mappings,
    pub(crate) placeholders: &'a BTreeMap<String, Vec<String>>,
}

/// The shared metadata of a parsed detection, correlation or filter rule (the three AST
/// types have the same field names but no common trait).
macro_rules! rule_meta {
    ($rule:expr) => {
        $crate::rule::RuleMeta {
            id: $rule.id.clone(),
            name: $rule.name.clone(),
            title: $rule.title.clone(),
            level: $rule.level.map($crate::compile::level),
            status: $rule.status.map($crate::compile::status),
            tags: $rule.tags.clone(),
            references: $rule.references.clone(),
            author: $rule.author.clone(),
            description: $rule.description.clone(),
        }
    };
}
pub(crate) use rule_meta;

pub(crate) fn level(level: rsigma_parser::Level) -> Level {
    match level {
        rsigma_parser::Level::Informational => Level::Informational,
        rsigma_parser::Level::Low => Level::Low,
        rsigma_parser::Level::Medium => Level::Medium,
        rsigma_parser::Level::High => Level::High,
        rsigma_parser::Level::Critical => Level::Critical,
    }
}

pub(crate) fn status(status: rsigma_parser::Status) -> Status {
    match status {
        rsigma_parser::Status::Stable => Status::Stable,
        rsigma_parser::Status::Test => Status::Test,
        rsigma_parser::Status::Experimental => Status::Experimental,
        rsigma_parser::Status::Deprecated => Status::Deprecated,
        rsigma_parser::Status::Unsupported => Status::Unsupported,
    }
}

pub(crate) fn compile_rule(
    rule: &SigmaRule,
    cx: &CompileContext<'_>,
) -> Result<CompiledRule, RuleError> {
    let logsource = Logsource {
        product: rule.logsource.product.clone(),
        category: rule.logsource.category.clone(),
        service: rule.logsource.service.clone(),
    };
    let resolved = cx.mappings.resolve(
        logsource.product.as_deref(),
        logsource.category.as_deref(),
        logsource.service.as_deref(),
    );
    let compiler = Compiler {
        resolved: &resolved,
        placeholders: cx.placeholders,
    };
    // Detections in a stable (sorted) order: the parser keeps them in a HashMap.
    let mut names: Vec<&String> = rule.detection.named.keys().collect();
    names.sort();
    let mut detections = Vec::with_capacity(names.len());
    for name in names {
        let body = compiler.detection(&rule.detection.named[name])?;
        detections.push(NamedDetection {
            name: name.clone(),
            body,
        });
    }
    if rule.detection.timeframe.is_some() {
        return Err(RuleError::Unsupported(
            "`timeframe` in detection (aggregation conditions are deprecated; use a correlation rule)".into(),
        ));
    }
    let mut conditions = Vec::new();
    for condition in &rule.detection.conditions {
        conditions.push(condition_expr(condition, &detections)?);
    }
    let condition = match conditions.len() {
        0 => return Err(RuleError::Parse("detection has no condition".into())),
        1 => conditions.pop().expect("one condition"),
        _ => Expr::Or(conditions),
    };
    Ok(CompiledRule {
        meta: rule_meta!(rule),
        logsource,
        logsource_note: resolved.note.clone(),
        filters: Vec::new(),
        path: std::path::PathBuf::new(),
        program: Program {
            filter: resolved.filter.clone(),
            detections,
            condition,
        },
    })
}

pub(crate) fn condition_expr(
    expr: &ConditionExpr,
    detections: &[NamedDetection],
) -> Result<Expr, RuleError> {
    Ok(match expr {
        ConditionExpr::And(parts) => Expr::And(
            parts
                .iter()
                .map(|p| condition_expr(p, detections))
                .collect::<Result<_, _>>()?,
        ),
        ConditionExpr::Or(parts) => Expr::Or(
            parts
                .iter()
                .map(|p| condition_expr(p, detections))
                .collect::<Result<_, _>>()?,
        ),
        ConditionExpr::Not(inner) => Expr::Not(Box::new(condition_expr(inner, detections)?)),
        ConditionExpr::Identifier(name) => Expr::Detection(
            detections
                .iter()
                .position(|d| &d.name == name)
                .ok_or_else(|| RuleError::UndefinedSelection(name.clone()))?,
        ),
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let idxs: Vec<usize> = detections
                .iter()
                .enumerate()
                .filter(|(_, d)| pattern.matches_detection_name(&d.name))
                .map(|(idx, _)| idx)
                .collect();
            if idxs.is_empty() {
                let shown = match pattern {
                    SelectorPattern::Them => "them".to_owned(),
                    SelectorPattern::Pattern(p) => p.clone(),
                };
                return Err(RuleError::UndefinedSelection(shown));
            }
            match quantifier {
                Quantifier::Any => Expr::Or(idxs.into_iter().map(Expr::Detection).collect()),
                Quantifier::All => Expr::And(idxs.into_iter().map(Expr::Detection).collect()),
                Quantifier::Count(n) => {
                    Expr::AtLeast(usize::try_from(*n).unwrap_or(usize::MAX), idxs)
                }
            }
        }
    })
}

pub(crate) struct Compiler<'a> {
    pub(crate) resolved: &'a Resolved<'a>,
    pub(crate) placeholders: &'a BTreeMap<String, Vec<String>>,
}

/// A value on its way through the modifier chain.
enum Work {
    Tokens(Vec<Tok>),
    Bytes(Vec<u8>),
}

impl Compiler<'_> {
    pub(crate) fn detection(&self, detection: &AstDetection) -> Result<Detection, RuleError> {
        match detection {
            AstDetection::AllOf(items) => Ok(Detection::AllOf(
                items
                    .iter()
                    .map(|i| self.item(i))
                    .collect::<Result<_, _>>()?,
            )),
            AstDetection::AnyOf(branches) => Ok(Detection::AnyOf(
                branches
                    .iter()
                    .map(|b| self.detection(b))
                    .collect::<Result<_, _>>()?,
            )),
            AstDetection::Keywords(values) => {
                let item = DetectionItem {
                    field: rsigma_parser::FieldSpec::new(None, Vec::new()),
                    values: values.clone(),
                };
                Ok(Detection::AllOf(vec![self.item(&item)?]))
            }
            AstDetection::And(parts) => Ok(Detection::AllBranches(
                parts
                    .iter()
                    .map(|p| self.detection(p))
                    .collect::<Result<_, _>>()?,
            )),
            AstDetection::ArrayMatch { field, .. } => Err(RuleError::Unsupported(format!(
                "array matching on `{field}` (Sigma v3)"
            ))),
            AstDetection::Conditional { .. } => Err(RuleError::Unsupported(
                "nested conditional detection (Sigma v3)".into(),
            )),
        }
    }

    fn item(&self, item: &DetectionItem) -> Result<Item, RuleError> {
        let field_name = item.field.name.clone();
        let shown = field_name.clone().unwrap_or_else(|| "keywords".to_owned());
        let target = match &field_name {
            Some(name) => Target::Field(self.resolved.paths(name).into_boxed_slice()),
            None => Target::Keywords,
        };
        let mods = &item.field.modifiers;
        let has = |m: Modifier| mods.contains(&m);
        for modifier in mods {
            if matches!(
                modifier,
                Modifier::Minute
                    | Modifier::Hour
                    | Modifier::Day
                    | Modifier::Week
                    | Modifier::Month
                    | Modifier::Year
            ) {
                return Err(RuleError::UnsupportedModifier {
                    field: shown,
                    modifier: format!("{modifier:?}").to_lowercase(),
                });
            }
        }
        let invalid = |reason: &str| RuleError::InvalidModifier {
            field: shown.clone(),
            reason: reason.to_owned(),
        };
        if has(Modifier::Exists) {
            if field_name.is_none() {
                return Err(invalid("`exists` needs a field"));
            }
            let [SigmaValue::Bool(want)] = item.values.as_slice() else {
                return Err(invalid("`exists` takes one boolean value"));
            };
            return Ok(Item {
                field: field_name,
                target,
                test: ItemTest::Exists(*want),
            });
        }
        let all = has(Modifier::All);
        let cased = has(Modifier::Cased);
        let mut values = Vec::new();
        for value in &item.values {
            values.extend(self.value(&shown, value, mods, cased, field_name.is_none())?);
        }
        if values.is_empty() {
            return Err(invalid("no values"));
        }
        if has(Modifier::Neq) {
            values = values
                .into_iter()
                .map(|v| ValueTest::Not(Box::new(v)))
                .collect();
            // `neq` with several values: not equal to any of them.
            return Ok(Item {
                field: field_name,
                target,
                test: ItemTest::Values { all: true, values },
            });
        }
        Ok(Item {
            field: field_name,
            target,
            test: ItemTest::Values { all, values },
        })
    }

    /// The tests one YAML value becomes (several for `base64offset` and `expand`).
    fn value(
        &self,
        field: &str,
        value: &SigmaValue,
        mods: &[Modifier],
        cased: bool,
        keyword: bool,
    ) -> Result<Vec<ValueTest>, RuleError> {
        let has = |m: Modifier| mods.contains(&m);
        let invalid = |reason: String| RuleError::InvalidModifier {
            field: field.to_owned(),
            reason,
        };
        if let SigmaValue::Null = value {
            return Ok(vec![ValueTest::Null]);
        }
        let raw = match value {
            SigmaValue::String(s) => s.original.clone(),
            other => other.to_string(),
        };
        if has(Modifier::Re) {
            let mut builder = regex::RegexBuilder::new(&raw);
            builder
                .size_limit(REGEX_SIZE_LIMIT)
                .case_insensitive(has(Modifier::IgnoreCase))
                .multi_line(has(Modifier::Multiline))
                .dot_matches_new_line(has(Modifier::DotAll));
            let regex = builder.build().map_err(|e| RuleError::Regex {
                field: field.to_owned(),
                reason: first_line(&e.to_string()),
            })?;
            return Ok(vec![ValueTest::Regex(regex)]);
        }
        if has(Modifier::Cidr) {
            let net = raw
                .parse::<ipnet::IpNet>()
                .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| RuleError::Cidr {
                    field: field.to_owned(),
                    value: raw.clone(),
                })?;
            return Ok(vec![ValueTest::Cidr(net)]);
        }
        for (modifier, op) in [
            (Modifier::Gt, CompareOp::Gt),
            (Modifier::Gte, CompareOp::Gte),
            (Modifier::Lt, CompareOp::Lt),
            (Modifier::Lte, CompareOp::Lte),
        ] {
            if has(modifier) {
                let number = match value {
                    SigmaValue::Integer(n) => *n as f64,
                    SigmaValue::Float(f) => *f,
                    _ => raw.trim().parse().map_err(|_| RuleError::NotANumber {
                        field: field.to_owned(),
                        modifier: format!("{modifier:?}").to_lowercase(),
                        value: raw.clone(),
                    })?,
                };
                return Ok(vec![ValueTest::Compare { op, number }]);
            }
        }
        let anchor = if has(Modifier::Contains) || keyword {
            Anchor::Contains
        } else if has(Modifier::StartsWith) {
            Anchor::StartsWith
        } else if has(Modifier::EndsWith) {
            Anchor::EndsWith
        } else {
            Anchor::Exact
        };
        if has(Modifier::FieldRef) {
            return Ok(vec![ValueTest::FieldRef {
                paths: self.resolved.paths(&raw).into_boxed_slice(),
                anchor,
                cased,
            }]);
        }
        // Values (several with `expand`), then the encoding chain in the rule's order.
        let sources: Vec<SigmaString> = if has(Modifier::Expand) {
            self.expand(field, &raw)?
        } else {
            match value {
                SigmaValue::String(s) => vec![s.clone()],
                other => vec![SigmaString::from_raw(&other.to_string())],
            }
        };
        let mut works: Vec<Work> = sources.iter().map(|s| Work::Tokens(tokens(s))).collect();
        for modifier in mods {
            works = match modifier {
                Modifier::WindAsh => works
                    .into_iter()
                    .map(|w| match w {
                        Work::Tokens(toks) => Ok(Work::Tokens(windash(toks))),
                        Work::Bytes(_) => Err(invalid("`windash` after an encoding".into())),
                    })
                    .collect::<Result<_, _>>()?,
                Modifier::Wide | Modifier::Utf16be | Modifier::Utf16 => works
                    .into_iter()
                    .map(|w| {
                        let text = plain(w).ok_or_else(|| {
                            invalid(format!("`{modifier:?}` on a value with wildcards"))
                        })?;
                        let units = text.encode_utf16();
                        Ok(Work::Bytes(match modifier {
                            Modifier::Wide => units.flat_map(u16::to_le_bytes).collect(),
                            Modifier::Utf16be => units.flat_map(u16::to_be_bytes).collect(),
                            // `utf16`: little endian with a byte order mark, as pySigma.
                            _ => [0xFF, 0xFE]
                                .into_iter()
                                .chain(units.flat_map(u16::to_le_bytes))
                                .collect(),
                        }))
                    })
                    .collect::<Result<_, RuleError>>()?,
                Modifier::Base64 | Modifier::Base64Offset => {
                    let mut next = Vec::new();
                    for work in works {
                        let bytes = match work {
                            Work::Bytes(bytes) => bytes,
                            tokens @ Work::Tokens(_) => plain(tokens)
                                .ok_or_else(|| {
                                    invalid("`base64` on a value with wildcards".into())
                                })?
                                .into_bytes(),
                        };
                        if *modifier == Modifier::Base64 {
                            let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
                            next.push(Work::Tokens(text.chars().map(Tok::Lit).collect()));
                        } else {
                            for text in base64_offsets(&bytes) {
                                next.push(Work::Tokens(text.chars().map(Tok::Lit).collect()));
                            }
                        }
                    }
                    next
                }
                _ => works,
            };
        }
        let mut tests = Vec::new();
        for work in works {
            let mut toks = match work {
                Work::Tokens(toks) => toks,
                Work::Bytes(bytes) => String::from_utf8_lossy(&bytes)
                    .chars()
                    .map(Tok::Lit)
                    .collect(),
            };
            if !cased {
                toks = toks.into_iter().map(lowercase_tok).collect();
            }
            if matches!(anchor, Anchor::Contains | Anchor::EndsWith) {
                toks.insert(0, Tok::Star);
            }
            if matches!(anchor, Anchor::Contains | Anchor::StartsWith) {
                toks.push(Tok::Star);
            }
            tests.push(ValueTest::Str {
                pattern: StrPattern::from_tokens(toks),
                cased,
            });
        }
        Ok(tests)
    }

    /// `%name%` placeholders replaced by every configured value.
    fn expand(&self, field: &str, raw: &str) -> Result<Vec<SigmaString>, RuleError> {
        let mut results = vec![String::new()];
        let mut rest = raw;
        while let Some(start) = rest.find('%') {
            let Some(len) = rest[start + 1..].find('%') else {
                break;
            };
            let name = &rest[start + 1..start + 1 + len];
            let values = self
                .placeholders
                .get(name)
                .ok_or_else(|| RuleError::Placeholder {
                    field: field.to_owned(),
                    name: name.to_owned(),
                })?;
            let prefix = &rest[..start];
            let mut next = Vec::new();
            for head in &results {
                for value in values {
                    next.push(format!("{head}{prefix}{value}"));
                }
            }
            if next.len() > MAX_EXPANSIONS {
                return Err(RuleError::InvalidModifier {
                    field: field.to_owned(),
                    reason: format!("`expand` yields more than {MAX_EXPANSIONS} values"),
                });
            }
            results = next;
            rest = &rest[start + len + 2..];
        }
        Ok(results
            .into_iter()
            .map(|head| SigmaString::new(&format!("{head}{rest}")))
            .collect())
    }
}

fn tokens(value: &SigmaString) -> Vec<Tok> {
    let mut toks = Vec::new();
    for part in &value.parts {
        match part {
            StringPart::Plain(text) => toks.extend(text.chars().map(Tok::Lit)),
            StringPart::Special(SpecialChar::WildcardMulti) => toks.push(Tok::Star),
            StringPart::Special(SpecialChar::WildcardSingle) => toks.push(Tok::One),
        }
    }
    toks
}

/// The literal text of a wildcard-free value.
fn plain(work: Work) -> Option<String> {
    match work {
        Work::Tokens(toks) => toks
            .into_iter()
            .map(|t| match t {
                Tok::Lit(c) => Some(c),
                _ => None,
            })
            .collect(),
        Work::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

fn lowercase_tok(tok: Tok) -> Tok {
    match tok {
        Tok::Lit(c) if c.is_uppercase() => {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(single), None) => Tok::Lit(single),
                _ => Tok::Lit(c),
            }
        }
        Tok::Class(set) => Tok::Class(set.iter().flat_map(|c| c.to_lowercase()).collect()),
        other => other,
    }
}

/// pySigma `windash`: a `-` or `/` that starts a word after a non-word character (or at
/// the start) may be any of `-`, `/`, en dash, em dash, horizontal bar.
fn windash(toks: Vec<Tok>) -> Vec<Tok> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let is_word =
        |tok: Option<&Tok>| matches!(tok, Some(Tok::Lit(c)) if c.is_alphanumeric() || *c == '_');
    let mut out = Vec::with_capacity(toks.len());
    for (idx, tok) in toks.iter().enumerate() {
        let is_dash = matches!(tok, Tok::Lit('-' | '/'));
        let before_ok = idx == 0 || !is_word(toks.get(idx - 1));
        if is_dash && before_ok && is_word(toks.get(idx + 1)) {
            out.push(Tok::Class(DASHES.into()));
        } else {
            out.push(tok.clone());
        }
    }
    out
}

/// pySigma `base64offset`: the stable middle of the base64 of `value` at each of the
/// three byte alignments it can take inside a longer encoded text.
fn base64_offsets(value: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    let mut out = Vec::new();
    for shift in 0..3 {
        let mut padded = vec![b' '; shift];
        padded.extend_from_slice(value);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&padded);
        let end_trim = END[(value.len() + shift) % 3];
        let end = encoded.len().saturating_sub(end_trim);
        let start = START[shift].min(end);
        out.push(encoded[start..end].to_owned());
    }
    out
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
