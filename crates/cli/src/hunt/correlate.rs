//! Correlation rules in file hunts: the matches of the rules they reference are collected
//! while files are hunted (in parallel, in any order), then fed to the correlator sorted
//! by event time — the order the events happened in, whatever file they came from.

use std::collections::BTreeMap;
use std::io::Write;

use event::{Event, Timestamp};
use serde_json::json;
use sigma::{CompiledCorrelation, CompiledRule, CorrelationHit, Correlator, Level};

use super::{
    Format, SUMMARY_CHARS, TITLE_WIDTH, csv_cell, escape_json_controls, printable, truncate,
};

/// Base-rule matches kept for the correlator at most (each holds its event): beyond,
/// matches are counted as dropped and the summary says the correlations are partial.
pub const MAX_OBSERVED: usize = 500_000;

/// A base-rule match kept for the correlator.
struct Observed {
    at: Timestamp,
    /// Arrival order, for equal timestamps (file order, then record order).
    order: u64,
    rule: usize,
    file: usize,
    event: Event,
}

/// The correlations of a file hunt (see the module documentation).
pub struct Correlations {
    correlator: Correlator,
    levels: BTreeMap<String, Option<Level>>,
    /// Per rule: only feeds `generate: false` correlations (its own matches are not shown).
    silent: Vec<bool>,
    /// Per rule: referenced by a correlation.
    correlated: Vec<bool>,
    observed: Vec<Observed>,
    /// Matches not kept (more than [`MAX_OBSERVED`]).
    pub dropped: u64,
    /// Hits per correlation title, for the summary.
    pub hits: BTreeMap<String, u64>,
}

impl Correlations {
    /// `None` when no correlation compiles; failures are returned with their reason.
    pub fn new(
        rules: &[CompiledRule],
        correlations: &[sigma::CorrelationRule],
    ) -> (Option<Self>, Vec<(String, String)>) {
        let (compiled, failed) = sigma::compile_all(correlations);
        let failed = failed
            .into_iter()
            .map(|(key, error)| (key, error.to_string()))
            .collect();
        if compiled.is_empty() {
            return (None, failed);
        }
        let (silent, correlated) = detect::referenced_rules(rules, &compiled);
        let levels = compiled
            .iter()
            .map(|c: &CompiledCorrelation| (c.key().to_owned(), c.level))
            .collect();
        let known: Vec<sigma::KnownRule> = rules
            .iter()
            .map(|rule| sigma::KnownRule {
                rule: sigma::RuleRef::new(rule.meta.id.as_deref(), rule.meta.name.as_deref()),
                logsource: rule.logsource.clone(),
            })
            .collect();
        let correlator = Correlator::new(compiled, &known, &sigma::Mappings::builtin());
        let this = Self {
            correlator,
            levels,
            silent,
            correlated,
            observed: Vec::new(),
            dropped: 0,
            hits: BTreeMap::new(),
        };
        (Some(this), failed)
    }

    /// Whether rule `rule`'s own matches are hidden (`generate: false`).
    pub fn is_silent(&self, rule: usize) -> bool {
        self.silent[rule]
    }

    /// Keeps a match of rule `rule` if a correlation references it.
    pub fn observe(&mut self, rule: usize, file: usize, event: &Event) {
        if !self.correlated[rule] {
            return;
        }
        if self.observed.len() >= MAX_OBSERVED {
            self.dropped += 1;
            return;
        }
        let order = self.observed.len() as u64;
        self.observed.push(Observed {
            at: event.timestamp().unwrap_or(Timestamp::UNIX_EPOCH),
            order,
            rule,
            file,
            event: event.clone(),
        });
    }

    /// Runs the correlator over the kept matches in time order and writes its hits.
    pub fn finish(
        &mut self,
        rules: &[CompiledRule],
        paths: &[std::path::PathBuf],
        format: Format,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let mut observed = std::mem::take(&mut self.observed);
        observed.sort_by_key(|o| (o.at, o.order));
        for o in &observed {
            let rule = &rules[o.rule];
            let reference = sigma::RuleRef::new(rule.meta.id.as_deref(), rule.meta.name.as_deref());
            for hit in self.correlator.observe(&reference, &o.event, o.at) {
                *self.hits.entry(hit.title.clone()).or_default() += 1;
                let level = self.levels.get(&hit.correlation).copied().flatten();
                write_hit(&hit, level, &paths[o.file], &o.event, format, out)?;
            }
        }
        Ok(())
    }
}

fn write_hit(
    hit: &CorrelationHit,
    level: Option<Level>,
    file: &std::path::Path,
    event: &Event,
    format: Format,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let level = level.map_or("high", Level::as_str);
    let group: Vec<String> = hit.group.iter().map(|(f, v)| format!("{f}={v}")).collect();
    let summary = format!(
        "correlation: {} matches from {} to {}{}",
        hit.count,
        hit.first,
        hit.last,
        if group.is_empty() {
            String::new()
        } else {
            format!(" ({})", group.join(", "))
        }
    );
    match format {
        Format::Jsonl => {
            let line = json!({
                "@timestamp": hit.last.to_string(),
                "rule_id": hit.id,
                "rule_title": hit.title,
                "level": level,
                "file": file.to_string_lossy(),
                "correlation": {
                    "count": hit.count,
                    "first": hit.first.to_string(),
                    "last": hit.last.to_string(),
                    "group": hit.group.iter().cloned().collect::<BTreeMap<String, String>>(),
                },
                "event": event,
            });
            writeln!(out, "{}", escape_json_controls(&line.to_string()))
        }
        Format::Csv => {
            let cells = [
                hit.last.to_string(),
                level.to_owned(),
                hit.title.clone(),
                hit.id.clone().unwrap_or_default(),
                event
                    .get_str(event::fields::HOST_NAME)
                    .unwrap_or_default()
                    .to_owned(),
                event
                    .get_str(event::fields::EVENT_CODE)
                    .unwrap_or_default()
                    .to_owned(),
                file.display().to_string(),
                String::new(),
                summary,
                String::new(),
            ];
            let row: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
            writeln!(out, "{}", row.join(","))
        }
        Format::Table => {
            let time = hit.last.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            let host = event.get_str(event::fields::HOST_NAME).unwrap_or_default();
            writeln!(
                out,
                "{time:<20} {level:<13} {:<TITLE_WIDTH$} {:<20} {}",
                truncate(&printable(&hit.title), TITLE_WIDTH),
                truncate(&printable(host), 20),
                truncate(&printable(&summary), SUMMARY_CHARS)
            )
        }
    }
}
