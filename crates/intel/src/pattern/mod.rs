//! STIX 2.1 patterning: a grammar-faithful lexer and parser ([`parse`]) and the
//! translation of a parsed pattern into indicator values that can be matched on single
//! events ([`matchable_values`]).
//!
//! ```
//! let pattern = intel::pattern::parse("[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'evil.example']").unwrap();
//! let values = intel::pattern::matchable_values(&pattern).unwrap();
//! assert_eq!(values.len(), 2);
//! ```

mod ast;
mod lexer;
mod parser;

pub use ast::{
    Comparison, ObjectPath, Observation, Operator, PathStep, PropTest, Qualifier, Value,
};
pub use parser::{MAX_PATTERN_BYTES, parse};

use crate::model::IndicatorKind;

/// A string as a pattern string literal: `it's` → `'it\'s'`.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// One value a pattern looks for, with the kind of indicator it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternValue {
    /// The indicator kind.
    pub kind: IndicatorKind,
    /// The value as written in the pattern (not yet normalized).
    pub value: String,
    /// The object path it came from (`file:hashes.'SHA-256'`).
    pub path: String,
}

/// The values a pattern matches when it can be decided on one observed object (a
/// disjunction of equality tests on supported properties). Otherwise the reason it
/// cannot: the pattern is then kept as a pattern-only indicator, never dropped.
pub fn matchable_values(pattern: &Observation) -> Result<Vec<PatternValue>, String> {
    let mut out = Vec::new();
    observation_values(pattern, &mut out)?;
    if out.is_empty() {
        return Err("the pattern tests no supported property".into());
    }
    Ok(out)
}

fn observation_values(
    observation: &Observation,
    out: &mut Vec<PatternValue>,
) -> Result<(), String> {
    match observation {
        Observation::Simple(comparison) => comparison_values(comparison, out),
        Observation::Group(inner) => observation_values(inner, out),
        Observation::Or(items) => items
            .iter()
            .try_for_each(|item| observation_values(item, out)),
        Observation::And(..) => {
            Err("AND of observations needs several events (correlation)".into())
        }
        Observation::FollowedBy(..) => {
            Err("FOLLOWEDBY needs a sequence of events (correlation)".into())
        }
        Observation::Qualified(_, qualifier) => Err(format!(
            "qualifier {} needs counting or timing over events",
            match qualifier {
                Qualifier::Within(_) => "WITHIN",
                Qualifier::Repeats(_) => "REPEATS",
                Qualifier::StartStop(..) => "START/STOP",
            }
        )),
    }
}

fn comparison_values(comparison: &Comparison, out: &mut Vec<PatternValue>) -> Result<(), String> {
    match comparison {
        Comparison::Or(items) => items
            .iter()
            .try_for_each(|item| comparison_values(item, out)),
        Comparison::And(conjuncts) => {
            // `network-traffic:dst_ref.type = 'ipv4-addr'` only says what the reference is.
            let tests: Vec<&Comparison> = conjuncts.iter().filter(|c| !is_type_guard(c)).collect();
            let mut values = Vec::new();
            for test in &tests {
                let mut one = Vec::new();
                comparison_values(test, &mut one)?;
                values.push(one);
            }
            match values.len() {
                0 => Err("the pattern tests no supported property".into()),
                1 => {
                    out.extend(values.remove(0));
                    Ok(())
                }
                // Several hashes of one file identify the same file: any of them is that file.
                _ if values.iter().flatten().all(|v| v.kind.is_hash()) => {
                    out.extend(values.into_iter().flatten());
                    Ok(())
                }
                n => Err(format!(
                    "AND of {n} property tests cannot be reduced to one indicator value"
                )),
            }
        }
        Comparison::Exists(path) => Err(format!(
            "EXISTS {} is not an indicator value",
            path.dotted()
        )),
        Comparison::Test(test) => {
            let kind = kind_of_path(&test.path)
                .ok_or_else(|| format!("no indicator type for `{}`", test.path.dotted()))?;
            if test.negated || !matches!(test.op, Operator::Eq | Operator::In) {
                return Err(format!(
                    "operator on `{}` is not an equality test",
                    test.path.dotted()
                ));
            }
            let strings: Vec<&str> = match &test.value {
                Value::Str(s) => vec![s.as_str()],
                Value::Set(values) => values
                    .iter()
                    .map(|v| match v {
                        Value::Str(s) => Ok(s.as_str()),
                        _ => Err(format!("non-string value for `{}`", test.path.dotted())),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(format!("non-string value for `{}`", test.path.dotted())),
            };
            for value in strings {
                // A network-traffic reference may point at a domain name as well as an IP.
                let kind = if kind == IndicatorKind::Ip
                    && value.parse::<ipnet::IpNet>().is_err()
                    && value.parse::<std::net::IpAddr>().is_err()
                {
                    IndicatorKind::Domain
                } else {
                    kind
                };
                out.push(PatternValue {
                    kind,
                    value: value.to_owned(),
                    path: test.path.dotted(),
                });
            }
            Ok(())
        }
    }
}

fn is_type_guard(comparison: &Comparison) -> bool {
    matches!(comparison, Comparison::Test(test)
        if test.path.object_type == "network-traffic"
            && matches!(test.path.keys().collect::<Vec<_>>().as_slice(), [reference, "type"] if reference.ends_with("_ref")))
}

/// Which indicator kind a property holds, for the properties single events carry.
fn kind_of_path(path: &ObjectPath) -> Option<IndicatorKind> {
    let keys: Vec<&str> = path.keys().collect();
    if path
        .steps
        .iter()
        .any(|step| matches!(step, PathStep::Index(_)))
    {
        return None;
    }
    match (path.object_type.as_str(), keys.as_slice()) {
        ("ipv4-addr" | "ipv6-addr", ["value"]) => Some(IndicatorKind::Ip),
        ("domain-name", ["value"]) => Some(IndicatorKind::Domain),
        ("url", ["value"]) => Some(IndicatorKind::Url),
        ("email-addr", ["value"]) => Some(IndicatorKind::Email),
        ("email-message", ["from_ref" | "sender_ref", "value"]) => Some(IndicatorKind::Email),
        ("file" | "artifact", ["hashes", key]) => IndicatorKind::from_stix_hash(key),
        ("network-traffic", ["src_ref" | "dst_ref", "value"]) => Some(IndicatorKind::Ip),
        ("x-ja3", ["value"]) => Some(IndicatorKind::Ja3),
        ("x-ja4", ["value"]) => Some(IndicatorKind::Ja4),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
