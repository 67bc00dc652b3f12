//! What a loaded rule exposes: metadata, logsource, and matching.

use event::Fields;

use crate::matcher::{Plain, Program, Source};

/// Sigma `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// The Sigma spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// Sigma `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Stable,
    Test,
    Experimental,
    Deprecated,
    Unsupported,
}

impl Status {
    /// The Sigma spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Stable => "stable",
            Status::Test => "test",
            Status::Experimental => "experimental",
            Status::Deprecated => "deprecated",
            Status::Unsupported => "unsupported",
        }
    }
}

/// Sigma `logsource`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logsource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

/// Metadata shared by detection and correlation rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleMeta {
    pub id: Option<String>,
    /// The rule's `name`, by which correlation rules may reference it.
    pub name: Option<String>,
    pub title: String,
    pub level: Option<Level>,
    pub status: Option<Status>,
    /// All tags as written (`attack.t1059.001`, `detection.emerging-threats`).
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub author: Option<String>,
    pub description: Option<String>,
}

impl RuleMeta {
    /// The ATT&CK tags (`attack.*`).
    pub fn attack_tags(&self) -> impl Iterator<Item = &str> {
        self.tags
            .iter()
            .map(String::as_str)
            .filter(|t| t.starts_with("attack."))
    }
}

/// A detection rule compiled to a matcher over `event::Fields`.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub meta: RuleMeta,
    pub logsource: Logsource,
    /// Set when the logsource could not be fully mapped, saying what the rule sees instead.
    pub logsource_note: Option<String>,
    /// Sigma filters applied to this rule (their id, else title), see [`crate::apply_filters`].
    pub filters: Vec<String>,
    /// The file (or origin) the rule was loaded from.
    pub path: std::path::PathBuf,
    pub(crate) program: Program,
}

/// Why an event matched: the named detections that held, and their Sigma fields.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Match {
    /// Named detections (`selection_img`, `keywords`) that held, in rule order.
    pub selections: Vec<String>,
    /// Sigma field names of the items that held (`keywords` for field-less items).
    pub fields: Vec<String>,
}

impl CompiledRule {
    /// `id`, or empty when the rule has none.
    pub fn id(&self) -> &str {
        self.meta.id.as_deref().unwrap_or_default()
    }

    /// `title`.
    pub fn title(&self) -> &str {
        &self.meta.title
    }

    /// Whether the event is in the rule's logsource and satisfies its condition; if so,
    /// which selections and fields matched.
    pub fn matches(&self, event: &(impl Fields + ?Sized)) -> Option<Match> {
        self.matches_in(&Plain(event))
    }

    /// [`Self::matches`] over an event source.
    pub(crate) fn matches_in(&self, event: &impl Source) -> Option<Match> {
        if !self.program.matches(event) {
            return None;
        }
        let mut found = Match {
            selections: Vec::new(),
            fields: Vec::new(),
        };
        for detection in &self.program.detections {
            let mut fields = Vec::new();
            if detection.body.explain(event, &mut fields) {
                found.selections.push(detection.name.clone());
                for field in fields {
                    if !found.fields.contains(&field) {
                        found.fields.push(field);
                    }
                }
            }
        }
        Some(found)
    }

    /// Whether the event is in the rule's logsource and satisfies its condition.
    pub fn is_match(&self, event: &(impl Fields + ?Sized)) -> bool {
        self.program.matches(&Plain(event))
    }
}

/// Sigma correlation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationKind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    /// The sum of a numeric field.
    ValueSum,
    /// The average of a numeric field.
    ValueAvg,
    /// A percentile of a numeric field (`condition.percentile`, 50 by default).
    ValuePercentile,
    /// The median of a numeric field (the 50th percentile).
    ValueMedian,
}

impl CorrelationKind {
    /// The types that aggregate a numeric field (always decided per closed window).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Self::ValueSum | Self::ValueAvg | Self::ValuePercentile | Self::ValueMedian
        )
    }
}

/// A parsed correlation rule; [`crate::CompiledCorrelation`] compiles it for [`crate::Correlator`].
#[derive(Debug, Clone)]
pub struct CorrelationRule {
    pub meta: RuleMeta,
    pub kind: CorrelationKind,
    /// Ids or names of the rules it correlates.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan_secs: u64,
    /// The parser's AST, for [`crate::CompiledCorrelation::compile`].
    pub(crate) parsed: Box<rsigma_parser::CorrelationRule>,
}

/// A parsed Sigma filter (meta filter rule), applied to rules by [`crate::apply_filters`].
#[derive(Debug, Clone)]
pub struct FilterRule {
    pub meta: RuleMeta,
    pub logsource: Logsource,
    /// The parser's AST: the rules it targets and its detection.
    pub(crate) parsed: Box<rsigma_parser::FilterRule>,
}
