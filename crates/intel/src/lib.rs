//! Threat intelligence: indicators of compromise, where they come from, how far they may be
//! shared, and how they are matched and turned into defences.
//!
//! - [`Indicator`] (IP/CIDR, domain, URL, hashes, email, JA3/JA4) with source, confidence,
//!   validity, [`Tlp`] 2.0, [`Pap`], tags and ATT&CK techniques; [`IndicatorSet`]
//!   deduplicates across sources, expires and withdraws.
//! - [`pattern`]: a grammar-faithful STIX 2.1 pattern parser.
//! - [`import`]: STIX 2.1 bundles, MISP feeds, CSV/plain lists (abuse.ch presets);
//!   [`Warninglists`] suppress known-benign values.
//! - [`Matcher`]: lookups of an event's ECS observables.
//! - [`export`]: STIX bundles, EDL lists, nftables sets, RPZ zones, Suricata rules.
//! - [`sharing`]: partners and the share preview.
//!
//! Pure logic: bytes in, values out; no file or network IO.
//!
//! ```
//! use intel::{IndicatorSet, Matcher, Tlp, import};
//! let csv = b"\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n\"2021-01-17 07:30:05\",\"192.0.2.7\",\"443\",\"online\",\"2021-02-10\",\"Dridex\"\n";
//! let options = import::ImportOptions::new("feodo", Tlp::Clear);
//! let report = import::csv::import(csv, &import::csv::Layout::preset("feodo").unwrap(), &options).unwrap();
//! let mut set = IndicatorSet::new();
//! report.indicators.into_iter().for_each(|i| { set.insert(i); });
//! let matcher = Matcher::new(&set, jiff::Timestamp::now());
//! assert!(matcher.lookup_ip("192.0.2.7".parse().unwrap()).is_some());
//! ```

mod compact;
mod error;
pub mod export;
pub mod import;
mod matcher;
mod model;
pub mod pattern;
mod set;
pub mod sharing;
mod tlp;
mod warninglist;

pub use compact::IndicatorMeta;
pub use error::{ImportError, PatternError};
pub use import::{ImportOptions, ImportReport};
pub use matcher::{Found, Hit, Matcher, SharedMatcher, SightingLog};
pub use model::{Indicator, IndicatorKind, MAX_VALUE_BYTES, PatternIndicator, derived_id};
pub use set::{IndicatorSet, Inserted, Position, Selection, StixVersion, VersionOutcome};
pub use tlp::{Pap, TLP2_EXTENSION_ID, Tlp, UnknownTlp};
pub use warninglist::{Warninglist, Warninglists};

#[cfg(test)]
mod compact_tests;
#[cfg(test)]
mod tests;
