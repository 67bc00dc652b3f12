//! The embedded engine: WAL + one tantivy index per UTC day, run by an indexer thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use event::Event;
use jiff::civil::Date;
use tantivy::IndexReader;

use crate::partition::{Partition, dir_size};
use crate::schema::{EventSchema, date_of};
use crate::wal::{self, Wal, WalFileReader};
use crate::{
    AppendReceipt, EventStore, ScanRequest, ScanStats, SearchRequest, SearchResponse, StoreError,
    StoreStats,
};

/// Settings of the embedded store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Root directory; the store uses `wal/` and `index/` below it.
    pub data_dir: PathBuf,
    /// Partitions whose day is older than this are deleted.
    pub retention_max_age: Option<Duration>,
    /// Oldest partitions are deleted while the index is larger than this.
    pub retention_max_bytes: Option<u64>,
    /// How often appended events are committed to the index (searchable).
    pub commit_interval: Duration,
    /// A WAL file is closed and a new one started past this size.
    pub wal_file_bytes: u64,
    /// At most this many partitions keep an index writer (and its memory) open.
    pub max_open_writers: usize,
}

impl StoreConfig {
    /// Defaults: keep everything, commit every second, 64 MiB WAL files, 2 open writers.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            retention_max_age: None,
            retention_max_bytes: None,
            commit_interval: Duration::from_secs(1),
            wal_file_bytes: 64 * 1024 * 1024,
            max_open_writers: 2,
        }
    }
}

/// What searches see of a partition.
#[derive(Clone)]
pub(crate) struct SearchablePartition {
    pub reader: IndexReader,
}

#[derive(Default)]
struct Counters {
    appended: AtomicU64,
    indexed: AtomicU64,
    index_errors: AtomicU64,
}

struct Shared {
    schema: EventSchema,
    wal_dir: PathBuf,
    index_dir: PathBuf,
    partitions: RwLock<BTreeMap<Date, SearchablePartition>>,
    counters: Counters,
}

/// An event on its way to the index: its WAL sequence number, its JSON (the stored
/// `_source`) and the event itself, so the indexer need not parse the JSON again.
struct Pending {
    seq: u64,
    payload: Vec<u8>,
    event: Option<Event>,
}

enum IndexerMsg {
    Events(Vec<Pending>),
    Refresh(SyncSender<Result<(), String>>),
    /// Stop without committing, as a crash would (tests only).
    #[cfg(test)]
    Abort,
}

/// The embedded event store (see the crate documentation).
pub struct EmbeddedStore {
    /// Held for the store's lifetime: two processes appending to one WAL would corrupt it.
    _lock: std::fs::File,
    shared: Arc<Shared>,
    wal: Mutex<Wal>,
    indexer_tx: Mutex<Option<SyncSender<IndexerMsg>>>,
    indexer: Mutex<Option<JoinHandle<()>>>,
}

impl EmbeddedStore {
    /// Opens (or creates) a store, replaying the WAL into the index first, so that every
    /// acknowledged event is searchable when this returns.
    pub fn open(config: StoreConfig) -> Result<EmbeddedStore, StoreError> {
        let wal_dir = config.data_dir.join("wal");
        let index_dir = config.data_dir.join("index");
        std::fs::create_dir_all(&wal_dir).map_err(StoreError::io(&wal_dir))?;
        std::fs::create_dir_all(&index_dir).map_err(StoreError::io(&index_dir))?;
        let lock_path = config.data_dir.join("store.lock");
        let lock = std::fs::File::create(&lock_path).map_err(StoreError::io(&lock_path))?;
        lock.try_lock()
            .map_err(|_| StoreError::Locked(config.data_dir.clone()))?;
        let shared = Arc::new(Shared {
            schema: EventSchema::new(),
            wal_dir: wal_dir.clone(),
            index_dir,
            partitions: RwLock::new(BTreeMap::new()),
            counters: Counters::default(),
        });
        let mut indexer = Indexer::new(Arc::clone(&shared), config.clone())?;
        let checkpoint = wal::read_checkpoint(&wal_dir)?;
        let next_seq = indexer.replay(checkpoint)?;
        let wal = Wal::open(&wal_dir, next_seq, config.wal_file_bytes)?;

        // The queue to the indexer is bounded: when indexing falls behind, appends block,
        // and that backpressure reaches the sources.
        let (indexer_tx, indexer_rx) = sync_channel(2);
        let handle = std::thread::Builder::new()
            .name("store-indexer".into())
            .spawn(move || indexer.run(indexer_rx))
            .map_err(StoreError::io(&config.data_dir))?;
        Ok(EmbeddedStore {
            _lock: lock,
            shared,
            wal: Mutex::new(wal),
            indexer_tx: Mutex::new(Some(indexer_tx)),
            indexer: Mutex::new(Some(handle)),
        })
    }

    fn sender(&self) -> Result<SyncSender<IndexerMsg>, StoreError> {
        self.indexer_tx
            .lock()
            .map_err(|_| StoreError::Closed)?
            .clone()
            .ok_or(StoreError::Closed)
    }

    /// Commits what is pending and stops the indexer. Also done on drop.
    pub fn close(&self) -> Result<(), StoreError> {
        let refreshed = self.refresh();
        if let Ok(mut tx) = self.indexer_tx.lock() {
            tx.take();
        }
        if let Some(handle) = self
            .indexer
            .lock()
            .ok()
            .and_then(|mut handle| handle.take())
        {
            let _ = handle.join();
        }
        match refreshed {
            Err(StoreError::Closed) => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
impl EmbeddedStore {
    /// Stops the indexer without committing anything, leaving files as `kill -9` would.
    pub(crate) fn simulate_crash(self) {
        if let Ok(tx) = self.sender() {
            let _ = tx.send(IndexerMsg::Abort);
        }
        if let Some(handle) = self
            .indexer
            .lock()
            .ok()
            .and_then(|mut handle| handle.take())
        {
            let _ = handle.join();
        }
        let _ = self._lock.unlock();
        std::mem::forget(self);
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        if let Err(error) = self.close() {
            tracing::error!(%error, "store close failed");
        }
    }
}

impl EmbeddedStore {
    /// [`EventStore::scan`], reading at most `max_slice` matches at once.
    pub(crate) fn scan_sliced(
        &self,
        request: &ScanRequest,
        max_slice: usize,
        visit: &mut dyn FnMut(Event) -> bool,
    ) -> Result<ScanStats, StoreError> {
        let partitions: Vec<SearchablePartition> = {
            let map = self
                .shared
                .partitions
                .read()
                .map_err(|_| StoreError::Closed)?;
            // Oldest first: partitions are keyed by day.
            map.values().cloned().collect()
        };
        crate::search::scan(&self.shared.schema, &partitions, request, max_slice, visit)
    }
}

impl EventStore for EmbeddedStore {
    fn append(&self, events: Vec<Event>) -> Result<AppendReceipt, StoreError> {
        let n_events = events.len();
        let mut payloads = Vec::with_capacity(n_events);
        for event in &events {
            let payload = serde_json::to_vec(event).expect("a JSON value always serializes");
            if payload.len() > wal::MAX_RECORD_BYTES {
                return Err(StoreError::EventTooLarge {
                    size: payload.len(),
                    limit: wal::MAX_RECORD_BYTES,
                });
            }
            payloads.push(payload);
        }
        let tx = self.sender()?;
        // The WAL lock is held until the events are queued for indexing, so the indexer
        // sees sequence numbers in order and its checkpoint never skips an event.
        let mut wal = self.wal.lock().map_err(|_| StoreError::Closed)?;
        let first_seq = wal.append(&payloads)?;
        self.shared
            .counters
            .appended
            .fetch_add(n_events as u64, Ordering::Relaxed);
        let batch = payloads
            .into_iter()
            .zip(events)
            .enumerate()
            .map(|(idx, (payload, event))| Pending {
                seq: first_seq + idx as u64,
                payload,
                event: Some(event),
            })
            .collect();
        tx.send(IndexerMsg::Events(batch))
            .map_err(|_| StoreError::Closed)?;
        drop(wal);
        Ok(AppendReceipt {
            first_seq,
            n_events,
        })
    }

    fn search(&self, request: &SearchRequest) -> Result<SearchResponse, StoreError> {
        let partitions: Vec<SearchablePartition> = {
            let map = self
                .shared
                .partitions
                .read()
                .map_err(|_| StoreError::Closed)?;
            map.values().rev().cloned().collect()
        };
        crate::search::run(&self.shared.schema, &partitions, request)
    }

    fn scan(
        &self,
        request: &ScanRequest,
        visit: &mut dyn FnMut(Event) -> bool,
    ) -> Result<ScanStats, StoreError> {
        self.scan_sliced(request, crate::MAX_SCAN_SLICE, visit)
    }

    fn refresh(&self) -> Result<(), StoreError> {
        let (reply_tx, reply_rx) = sync_channel(1);
        self.sender()?
            .send(IndexerMsg::Refresh(reply_tx))
            .map_err(|_| StoreError::Closed)?;
        reply_rx
            .recv()
            .map_err(|_| StoreError::Closed)?
            .map_err(|message| StoreError::Io {
                path: self.shared.index_dir.clone(),
                source: std::io::Error::other(message),
            })
    }

    fn stats(&self) -> StoreStats {
        let counters = &self.shared.counters;
        let appended = counters.appended.load(Ordering::Relaxed);
        let indexed = counters.indexed.load(Ordering::Relaxed);
        let (partitions, oldest) = self
            .shared
            .partitions
            .read()
            .map(|map| (map.len(), map.keys().next().map(Date::to_string)))
            .unwrap_or_default();
        StoreStats {
            appended_events: appended,
            indexed_events: indexed,
            index_lag_events: appended.saturating_sub(indexed),
            wal_bytes: wal::total_bytes(&self.shared.wal_dir),
            index_bytes: index_bytes(&self.shared.index_dir),
            partitions,
            oldest_partition: oldest,
            index_errors: counters.index_errors.load(Ordering::Relaxed),
        }
    }
}

fn index_bytes(index_dir: &Path) -> u64 {
    std::fs::read_dir(index_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| dir_size(&entry.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// Owns the partitions' writers; runs on its own thread.
struct Indexer {
    shared: Arc<Shared>,
    config: StoreConfig,
    partitions: BTreeMap<Date, Partition>,
    /// Highest sequence number added to some partition.
    last_added_seq: u64,
    last_commit: Instant,
    last_retention: Instant,
}

impl Indexer {
    fn new(shared: Arc<Shared>, config: StoreConfig) -> Result<Indexer, StoreError> {
        let mut indexer = Indexer {
            shared,
            config,
            partitions: BTreeMap::new(),
            last_added_seq: 0,
            last_commit: Instant::now(),
            last_retention: Instant::now() - Duration::from_secs(3600),
        };
        indexer.open_existing_partitions()?;
        Ok(indexer)
    }

    fn open_existing_partitions(&mut self) -> Result<(), StoreError> {
        let index_dir = self.shared.index_dir.clone();
        let entries = std::fs::read_dir(&index_dir).map_err(StoreError::io(&index_dir))?;
        for entry in entries {
            let entry = entry.map_err(StoreError::io(&index_dir))?;
            let Some(day) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<Date>().ok())
            else {
                continue;
            };
            self.partition(day)?;
        }
        Ok(())
    }

    fn partition(&mut self, day: Date) -> Result<&mut Partition, StoreError> {
        if !self.partitions.contains_key(&day) {
            let partition =
                Partition::open_or_create(&self.shared.index_dir, day, &self.shared.schema)?;
            self.shared
                .partitions
                .write()
                .map_err(|_| StoreError::Closed)?
                .insert(
                    day,
                    SearchablePartition {
                        reader: partition.reader.clone(),
                    },
                );
            self.partitions.insert(day, partition);
        }
        Ok(self.partitions.get_mut(&day).expect("inserted just above"))
    }

    /// Re-indexes WAL records past the checkpoint; returns the next sequence number.
    fn replay(&mut self, checkpoint: u64) -> Result<u64, StoreError> {
        let mut next_seq = checkpoint + 1;
        let mut n_replayed = 0u64;
        let mut batch = Vec::new();
        for (_, path) in wal::list_files(&self.shared.wal_dir)? {
            for record in WalFileReader::open(&path)? {
                next_seq = next_seq.max(record.seq + 1);
                if record.seq <= checkpoint {
                    continue;
                }
                batch.push(Pending {
                    seq: record.seq,
                    payload: record.payload,
                    event: None,
                });
                if batch.len() >= 10_000 {
                    n_replayed += batch.len() as u64;
                    self.index_batch(std::mem::take(&mut batch));
                }
            }
        }
        n_replayed += batch.len() as u64;
        self.index_batch(batch);
        self.shared
            .counters
            .appended
            .fetch_add(n_replayed, Ordering::Relaxed);
        self.commit_all()?;
        if n_replayed > 0 {
            tracing::info!(n_replayed, checkpoint, "wal replayed into index");
        }
        Ok(next_seq)
    }

    fn run(mut self, rx: Receiver<IndexerMsg>) {
        loop {
            let timeout = self
                .config
                .commit_interval
                .saturating_sub(self.last_commit.elapsed());
            match rx.recv_timeout(timeout) {
                Ok(IndexerMsg::Events(batch)) => self.index_batch(batch),
                Ok(IndexerMsg::Refresh(reply)) => {
                    let result = self.commit_all().map_err(|err| err.to_string());
                    let _ = reply.send(result);
                }
                #[cfg(test)]
                Ok(IndexerMsg::Abort) => return,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if let Err(error) = self.commit_all() {
                        tracing::error!(%error, "final index commit failed; the wal keeps the events");
                    }
                    for partition in self.partitions.values_mut() {
                        let _ = partition.close_writer();
                    }
                    return;
                }
            }
            if self.last_commit.elapsed() >= self.config.commit_interval
                && let Err(error) = self.commit_all()
            {
                tracing::error!(%error, "index commit failed; the wal keeps the events");
            }
            if self.last_retention.elapsed() >= Duration::from_secs(60) {
                self.last_retention = Instant::now();
                if let Err(error) = self.enforce_retention() {
                    tracing::error!(%error, "retention failed");
                }
            }
        }
    }

    fn index_batch(&mut self, batch: Vec<Pending>) {
        let schema = self.shared.schema.clone();
        for Pending {
            seq,
            payload,
            event,
        } in batch
        {
            self.last_added_seq = self.last_added_seq.max(seq);
            let parsed = match event {
                Some(event) => Ok(event),
                None => serde_json::from_slice::<Event>(&payload),
            };
            let event = match parsed {
                Ok(event) => event,
                Err(error) => {
                    self.shared
                        .counters
                        .index_errors
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(seq, %error, "undecodable wal record skipped");
                    continue;
                }
            };
            let day = partition_day(&event);
            let doc = schema.document(seq, event, &payload);
            let result = self
                .partition(day)
                .and_then(|partition| partition.add(seq, doc));
            match result {
                Ok(_) => {
                    self.shared.counters.indexed.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    self.shared
                        .counters
                        .index_errors
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(seq, %error, "event could not be indexed");
                }
            }
        }
        self.limit_open_writers();
    }

    /// Commits every dirty partition, then records the checkpoint and drops WAL files
    /// that are wholly below it.
    fn commit_all(&mut self) -> Result<(), StoreError> {
        self.last_commit = Instant::now();
        let mut any = false;
        for partition in self.partitions.values_mut() {
            if partition.is_dirty() {
                partition.commit()?;
                any = true;
            }
        }
        if any {
            wal::write_checkpoint(&self.shared.wal_dir, self.last_added_seq)?;
            wal::remove_through(&self.shared.wal_dir, self.last_added_seq)?;
        }
        // Writers idle for a minute give their memory back.
        for partition in self.partitions.values_mut() {
            if partition.has_writer() && partition.last_write.elapsed() > Duration::from_secs(60) {
                partition.close_writer()?;
            }
        }
        Ok(())
    }

    fn limit_open_writers(&mut self) {
        let n_open = self.partitions.values().filter(|p| p.has_writer()).count();
        if n_open <= self.config.max_open_writers {
            return;
        }
        if let Err(error) = self.commit_all() {
            tracing::error!(%error, "index commit failed; the wal keeps the events");
            return;
        }
        let mut open: Vec<(Instant, Date)> = self
            .partitions
            .values()
            .filter(|p| p.has_writer())
            .map(|p| (p.last_write, p.day))
            .collect();
        open.sort();
        let n_close = open.len().saturating_sub(self.config.max_open_writers);
        for (_, day) in open.into_iter().take(n_close) {
            if let Some(partition) = self.partitions.get_mut(&day)
                && let Err(error) = partition.close_writer()
            {
                tracing::error!(%error, %day, "closing index writer failed");
            }
        }
    }

    fn enforce_retention(&mut self) -> Result<(), StoreError> {
        let mut doomed = Vec::new();
        if let Some(max_age) = self.config.retention_max_age {
            let cutoff = jiff::Timestamp::now()
                .checked_sub(
                    jiff::SignedDuration::try_from(max_age).unwrap_or(jiff::SignedDuration::MAX),
                )
                .unwrap_or(jiff::Timestamp::MIN);
            let cutoff_day = cutoff.to_zoned(jiff::tz::TimeZone::UTC).date();
            doomed.extend(
                self.partitions
                    .keys()
                    .filter(|day| **day < cutoff_day)
                    .copied(),
            );
        }
        if let Some(max_bytes) = self.config.retention_max_bytes {
            let sizes: Vec<(Date, u64)> = self
                .partitions
                .iter()
                .filter(|(day, _)| !doomed.contains(day))
                .map(|(day, partition)| (*day, partition.size_bytes()))
                .collect();
            let mut total: u64 = sizes.iter().map(|(_, size)| size).sum();
            // Oldest first; the newest partition is never removed for size.
            for (day, size) in sizes.iter().take(sizes.len().saturating_sub(1)) {
                if total <= max_bytes {
                    break;
                }
                doomed.push(*day);
                total -= size;
            }
        }
        for day in doomed {
            self.remove_partition(day)?;
        }
        Ok(())
    }

    fn remove_partition(&mut self, day: Date) -> Result<(), StoreError> {
        let Some(mut partition) = self.partitions.remove(&day) else {
            return Ok(());
        };
        partition.commit()?;
        partition.close_writer()?;
        self.shared
            .partitions
            .write()
            .map_err(|_| StoreError::Closed)?
            .remove(&day);
        let dir = partition.dir.clone();
        drop(partition);
        std::fs::remove_dir_all(&dir).map_err(StoreError::io(&dir))?;
        tracing::info!(%day, "partition removed by retention");
        Ok(())
    }
}

/// The partition an event goes to: the UTC day of its time, clamped to between ten years
/// ago and tomorrow. A sender with a wild clock (or a hostile one) would otherwise create a
/// partition, with its files and writer, per distinct day it claims. Searches prune by
/// each segment's real time bounds, so clamped events are still found by their own time.
fn partition_day(event: &Event) -> Date {
    let micros = date_of(event).into_timestamp_micros();
    let day = jiff::Timestamp::from_microsecond(micros)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let earliest = today.saturating_sub(jiff::Span::new().days(3650));
    let latest = today.saturating_add(jiff::Span::new().days(1));
    day.clamp(earliest, latest)
}
