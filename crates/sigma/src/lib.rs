//! Sigma rules: what a rule means and how it matches an event.
//!
//! [`RuleSet::load_dir`] reads rule files (rsigma-parser for the YAML → AST step), compiles
//! each detection rule to our own matcher IR and returns a [`LoadReport`]: the
//! [`CompiledRule`]s, the parsed correlation rules (evaluated by [`Correlator`]) and filter rules (applied by
//! [`apply_filters`]), and every
//! rejected document with its file, line and [`RuleError`]. A bad rule disables itself only.
//!
//! [`Engine`] indexes the compiled rules by channel and event id so that each event is
//! only tried against the rules that can see it; use it to run many rules.
//!
//! Field names and logsources are data (`mappings/sigma/*.yaml`, [`Mappings`]): a rule's
//! logsource selects the events it sees, its Sigma field names become event paths
//! (`Image` → `winlog.event_data.Image`). Matching sees events only through
//! [`event::Fields`].
//!
//! ```
//! use event::Event;
//! let rule = "title: whoami\nlogsource: {product: windows, category: process_creation}\n\
//!             detection:\n  sel: {Image|endswith: '\\whoami.exe'}\n  condition: sel\n";
//! let report = sigma::RuleSet::load_str(rule, "whoami.yml");
//! let event: Event = serde_json::from_str(r#"{"winlog": {"channel": "Microsoft-Windows-Sysmon/Operational",
//!     "event_id": "1", "event_data": {"Image": "C:\\Windows\\System32\\WHOAMI.EXE"}}}"#).unwrap();
//! let found = report.rules[0].matches(&event).expect("matches");
//! assert_eq!(found.selections, ["sel"]);
//! ```

mod compile;
mod correlation;
mod engine;
mod error;
mod filter;
mod load;
mod mapping;
mod matcher;
mod prefilter;
mod rule;

pub use correlation::{
    Bound, CompiledCorrelation, CorrelationError, CorrelationHit, Correlator, CorrelatorStats,
    KnownRule, Limits, MAX_CHAIN_DEPTH, RuleRef, Snapshot, Threshold, compile_all,
};
pub use engine::{Detection, Engine, EngineStats};
pub use error::{MappingError, RuleError};
pub use filter::{FilterFailure, apply_filters};
pub use load::{LoadReport, Loader, Rejected, RuleSet, Warning, rule_files};
pub use mapping::Mappings;
pub use rule::{
    CompiledRule, CorrelationKind, CorrelationRule, FilterRule, Level, Logsource, Match, RuleMeta,
    Status,
};

#[cfg(test)]
mod tests;
