//! The event store: durable, searchable, bounded.
//!
//! [`EventStore`] is the seam between the pipeline and a storage engine. The embedded
//! engine, [`EmbeddedStore`], keeps a write-ahead log (an event is acknowledged once
//! it is fsynced there) and indexes events into one tantivy index per UTC day
//! (a *partition*), which makes time-range queries cheap and retention a matter of
//! deleting directories. A ClickHouse engine can implement the same trait.
//!
//! ```no_run
//! use store::{EmbeddedStore, EventStore, StoreConfig, SearchRequest};
//! let store = EmbeddedStore::open(StoreConfig::new("./data".into())).unwrap();
//! let query = query::parse("user.name:alice").unwrap();
//! let response = store.search(&SearchRequest::new(query)).unwrap();
//! println!("{} events", response.total);
//! ```

mod embedded;
mod error;
mod partition;
mod schema;
mod search;
mod wal;

pub use embedded::{EmbeddedStore, StoreConfig};
pub use error::StoreError;
pub use schema::{AGGREGATABLE_FIELDS, is_aggregatable};

use event::{Event, Timestamp};
use serde::{Deserialize, Serialize};

/// A durable, searchable store of events.
///
/// Blocking API (like tantivy): async callers use `spawn_blocking`.
pub trait EventStore: Send + Sync {
    /// Appends events durably: when this returns `Ok`, the events survive a crash.
    /// They become searchable shortly after (see [`StoreStats::index_lag_events`]).
    fn append(&self, events: Vec<Event>) -> Result<AppendReceipt, StoreError>;

    /// Runs a search.
    fn search(&self, request: &SearchRequest) -> Result<SearchResponse, StoreError>;

    /// Visits every stored event matching the request, oldest first (by `@timestamp`,
    /// then by arrival), until `visit` returns `false`. Memory stays bounded whatever the
    /// number of events: matches are read in time slices of at most [`MAX_SCAN_SLICE`].
    /// Only searchable events are seen (call [`EventStore::refresh`] first for all).
    fn scan(
        &self,
        request: &ScanRequest,
        visit: &mut dyn FnMut(Event) -> bool,
    ) -> Result<ScanStats, StoreError>;

    /// Makes everything appended so far searchable before returning.
    fn refresh(&self) -> Result<(), StoreError>;

    /// Sizes and counters, for `/metrics` and the console.
    fn stats(&self) -> StoreStats;
}

/// What [`EventStore::append`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendReceipt {
    /// Sequence number of the first event; event `i` got `first_seq + i`.
    pub first_seq: u64,
    /// Number of events written.
    pub n_events: usize,
}

/// A search over stored events.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// What to match.
    pub query: query::Query,
    /// Inclusive start of the time range (`@timestamp`), if any.
    pub from: Option<Timestamp>,
    /// Exclusive end of the time range, if any.
    pub to: Option<Timestamp>,
    /// Events to return, newest first.
    pub limit: usize,
    /// Events to skip first (pagination).
    pub offset: usize,
    /// Aggregations to compute over all matching events.
    pub aggregations: Vec<Aggregation>,
}

impl SearchRequest {
    /// A request for the 100 newest events matching `query`, over all time.
    pub fn new(query: query::Query) -> Self {
        Self {
            query,
            from: None,
            to: None,
            limit: 100,
            offset: 0,
            aggregations: Vec::new(),
        }
    }
}

/// Most matches held in memory at once by [`EventStore::scan`] (their addresses and times):
/// a time slice with more is split in two.
pub const MAX_SCAN_SLICE: usize = 256 * 1024;

/// A scan over stored events: every match, oldest first (see [`EventStore::scan`]).
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// What to match.
    pub query: query::Query,
    /// Inclusive start of the time range (`@timestamp`), if any.
    pub from: Option<Timestamp>,
    /// Exclusive end of the time range, if any.
    pub to: Option<Timestamp>,
}

/// What a scan read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScanStats {
    /// Events visited.
    pub visited: u64,
    /// Whether `visit` stopped the scan before the last match.
    pub stopped: bool,
}

/// An aggregation over matching events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Aggregation {
    /// The most frequent values of a field.
    Terms {
        /// Name of the result.
        name: String,
        /// Dotted field path.
        field: String,
        /// How many values.
        #[serde(default = "default_terms_size")]
        size: usize,
    },
    /// Event counts per fixed time interval.
    DateHistogram {
        /// Name of the result.
        name: String,
        /// Interval in seconds.
        interval_secs: u64,
    },
}

fn default_terms_size() -> usize {
    10
}

/// The result of a search.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    /// Exact number of matching events.
    pub total: u64,
    /// The requested page of events, newest first.
    pub hits: Vec<Event>,
    /// Aggregation results by name.
    pub aggregations: serde_json::Map<String, serde_json::Value>,
    /// Time the search took, in milliseconds.
    pub took_ms: u64,
}

/// Store sizes and progress.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStats {
    /// Events appended since start.
    pub appended_events: u64,
    /// Events indexed and committed since start.
    pub indexed_events: u64,
    /// Events appended but not yet searchable.
    pub index_lag_events: u64,
    /// Bytes in write-ahead log files.
    pub wal_bytes: u64,
    /// Bytes in index partitions.
    pub index_bytes: u64,
    /// Number of day partitions.
    pub partitions: usize,
    /// Oldest partition day (`YYYY-MM-DD`), the retention horizon.
    pub oldest_partition: Option<String>,
    /// Events that could not be indexed (logged; they remain in the WAL until it rotates).
    pub index_errors: u64,
}
