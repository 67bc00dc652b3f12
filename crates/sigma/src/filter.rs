//! Sigma filters (meta filter rules): environment tuning applied to many rules at once.
//!
//! A filter applies to a rule when the filter's logsource covers the rule's (every
//! `product`/`category`/`service` the filter names, the rule names the same) and its
//! `rules` lists the rule's id or name (or is `any`/`all`/empty). The rule's condition
//! then becomes `(rule condition) and (filter condition)`, as pySigma does; filter
//! conditions are usually `not selection`. The filter's detections are compiled with the
//! rule's field mappings, so a filter sees fields as the rule does.

use crate::compile::{CompileContext, Compiler, condition_expr};
use crate::error::RuleError;
use crate::mapping::Mappings;
use crate::matcher::{Expr, NamedDetection};
use crate::rule::{CompiledRule, FilterRule, Logsource};

/// A filter that could not be applied to a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterFailure {
    /// The filter's id, else its title.
    pub filter: String,
    /// The rule's id, else its title.
    pub rule: String,
    pub reason: RuleError,
}

/// Applies every filter to the rules it targets (see the module documentation). Returns
/// how many (filter, rule) pairs were applied, and the failures: a filter that does not
/// compile for a rule leaves that rule unfiltered and is reported, never dropped silently.
pub fn apply_filters(
    rules: &mut [CompiledRule],
    filters: &[FilterRule],
    mappings: &Mappings,
) -> (usize, Vec<FilterFailure>) {
    let placeholders = Default::default();
    let cx = CompileContext {
        mappings,
        placeholders: &placeholders,
    };
    let mut applied = 0;
    let mut failures = Vec::new();
    for filter in filters {
        for rule in rules.iter_mut() {
            if !filter.targets(rule) {
                continue;
            }
            match compile_for(filter, rule, &cx) {
                Ok((detections, condition)) => {
                    let offset = rule.program.detections.len();
                    rule.program.detections.extend(detections);
                    let original =
                        std::mem::replace(&mut rule.program.condition, Expr::And(Vec::new()));
                    rule.program.condition = Expr::And(vec![original, shift(condition, offset)]);
                    rule.filters.push(filter.key().to_owned());
                    applied += 1;
                }
                Err(reason) => failures.push(FilterFailure {
                    filter: filter.key().to_owned(),
                    rule: rule
                        .meta
                        .id
                        .clone()
                        .unwrap_or_else(|| rule.meta.title.clone()),
                    reason,
                }),
            }
        }
    }
    (applied, failures)
}

impl FilterRule {
    /// The filter's id, else its title.
    pub fn key(&self) -> &str {
        self.meta.id.as_deref().unwrap_or(&self.meta.title)
    }

    /// Whether this filter applies to `rule`.
    pub fn targets(&self, rule: &CompiledRule) -> bool {
        covers(&self.logsource, &rule.logsource)
            && match &self.parsed.rules {
                rsigma_parser::FilterRuleTarget::Any => true,
                rsigma_parser::FilterRuleTarget::Specific(names) => names.iter().any(|name| {
                    name.eq_ignore_ascii_case("any")
                        || name.eq_ignore_ascii_case("all")
                        || rule.meta.id.as_deref() == Some(name.as_str())
                        || rule.meta.name.as_deref() == Some(name.as_str())
                }),
            }
    }
}

/// Whether every logsource field the filter names has the same value in the rule.
fn covers(filter: &Logsource, rule: &Logsource) -> bool {
    let same = |f: &Option<String>, r: &Option<String>| {
        f.as_deref()
            .is_none_or(|f| r.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(f)))
    };
    same(&filter.product, &rule.product)
        && same(&filter.category, &rule.category)
        && same(&filter.service, &rule.service)
}

/// The filter's detections (renamed `filter.<name>` so they never collide with the
/// rule's) and condition, compiled with the rule's mappings.
fn compile_for(
    filter: &FilterRule,
    rule: &CompiledRule,
    cx: &CompileContext<'_>,
) -> Result<(Vec<NamedDetection>, Expr), RuleError> {
    let resolved = cx.mappings.resolve(
        rule.logsource.product.as_deref(),
        rule.logsource.category.as_deref(),
        rule.logsource.service.as_deref(),
    );
    let compiler = Compiler {
        resolved: &resolved,
        placeholders: cx.placeholders,
    };
    let detection = &filter.parsed.detection;
    let mut names: Vec<&String> = detection.named.keys().collect();
    names.sort();
    let mut detections = Vec::with_capacity(names.len());
    for name in names {
        detections.push(NamedDetection {
            name: name.clone(),
            body: compiler.detection(&detection.named[name])?,
        });
    }
    let mut conditions = Vec::new();
    for condition in &detection.conditions {
        conditions.push(condition_expr(condition, &detections)?);
    }
    let condition = match conditions.len() {
        0 => return Err(RuleError::Parse("filter has no condition".into())),
        1 => conditions.pop().expect("one condition"),
        _ => Expr::Or(conditions),
    };
    for detection in &mut detections {
        detection.name = format!("filter.{}", detection.name);
    }
    Ok((detections, condition))
}

/// `expr` with every detection index moved by `offset`.
fn shift(expr: Expr, offset: usize) -> Expr {
    match expr {
        Expr::And(parts) => Expr::And(parts.into_iter().map(|p| shift(p, offset)).collect()),
        Expr::Or(parts) => Expr::Or(parts.into_iter().map(|p| shift(p, offset)).collect()),
        Expr::Not(inner) => Expr::Not(Box::new(shift(*inner, offset))),
        Expr::Detection(idx) => Expr::Detection(idx + offset),
        Expr::AtLeast(n, idxs) => Expr::AtLeast(n, idxs.into_iter().map(|i| i + offset).collect()),
    }
}
