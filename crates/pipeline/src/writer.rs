//! The writer: drains queued batches, decodes and normalizes them, appends them to the
//! store in one group (one fsync), and acknowledges every batch of the group.

use std::sync::Arc;

use event::{Event, Timestamp, fields};
use normalize::{Context, Normalizer};
use store::EventStore;
use tokio::sync::mpsc;

use crate::intake::{Ack, Batch, Job, Payload, SubmitError};
use crate::metrics;

/// Upper bound of events written in one group commit.
const MAX_GROUP_EVENTS: usize = 10_000;
/// How long the writer waits for work before giving the detector an idle turn.
const IDLE_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// Decodes, normalizes and writes batches; see the module docs.
pub struct Writer {
    store: Arc<dyn EventStore>,
    normalizer: Arc<Normalizer>,
    detector: Option<detect::Detector>,
    /// Threat-intel matching (`detect::intel`), independent of the Sigma detector.
    intel: Option<detect::intel::IntelDetector>,
    /// Per-source counts for the dashboard; the pipeline shares it with its intake.
    health: Arc<crate::IngestHealth>,
}

impl Writer {
    /// A writer into `store`.
    pub fn new(store: Arc<dyn EventStore>, normalizer: Arc<Normalizer>) -> Self {
        Self {
            store,
            normalizer,
            detector: None,
            intel: None,
            health: Arc::default(),
        }
    }

    /// Records per-source health into `health` (the pipeline passes its intake's).
    pub fn with_health(mut self, health: Arc<crate::IngestHealth>) -> Self {
        self.health = health;
        self
    }

    /// Runs `detector` on every event; its alerts are written with the events, in the
    /// same WAL append.
    pub fn with_detector(mut self, detector: detect::Detector) -> Self {
        self.detector = Some(detector);
        self
    }

    /// Matches every event against threat-intel indicators; hits are alerts written with
    /// the events, like Sigma alerts.
    pub fn with_intel(mut self, intel: detect::intel::IntelDetector) -> Self {
        self.intel = Some(intel);
        self
    }

    /// The live detector, if any.
    pub fn detector(&self) -> Option<&detect::Detector> {
        self.detector.as_ref()
    }

    /// Runs until every [`crate::Intake`] is dropped and the queue is empty, then
    /// returns itself (so its detector's state can be saved). Blocking: run it on its
    /// own thread.
    pub fn run(mut self, mut rx: mpsc::Receiver<Job>) -> Self {
        // A clock for the idle tick: the detector swaps in reloaded rules and saves its
        // correlation state even when no event arrives.
        let clock = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime with a timer only fails without resources");
        loop {
            // The timer must be created inside the runtime, hence the async block.
            let next = clock.block_on(async { tokio::time::timeout(IDLE_TICK, rx.recv()).await });
            let first = match next {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(_idle) => {
                    if let Some(detector) = &mut self.detector {
                        // Correlation windows with an upper bound that only the clock
                        // can close while no event arrives.
                        let alerts = detector.tick(Timestamp::now());
                        if !alerts.is_empty() {
                            metrics::record_detection(alerts.len() as u64, 0);
                            if let Err(error) = self.store.append(alerts) {
                                tracing::error!(%error, "correlation alerts not stored");
                            }
                        }
                        if let Err(error) = detector.idle() {
                            tracing::warn!(%error, "correlation state not saved");
                        }
                    }
                    continue;
                }
            };
            let mut jobs = vec![first];
            let mut n_items = jobs[0].batch.items.len();
            while n_items < MAX_GROUP_EVENTS {
                match rx.try_recv() {
                    Ok(job) => {
                        n_items += job.batch.items.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            self.write_group(jobs);
        }
        self
    }

    fn write_group(&mut self, jobs: Vec<Job>) {
        let received_at = Timestamp::now();
        let mut events = Vec::new();
        let mut acks = Vec::with_capacity(jobs.len());
        for Job { batch, ack } in jobs {
            let input_type = batch.input_type;
            let source = crate::health::source_key(input_type, batch.sender.as_deref(), batch.peer);
            let before = events.len();
            let (n_bytes, n_fallback) = self.decode_batch(batch, received_at, &mut events);
            let n_events = events.len() - before;
            metrics::record_batch(input_type, n_events, n_bytes, n_fallback);
            self.health.record(
                &source,
                n_events as u64,
                n_fallback as u64,
                jiff::Timestamp::now(),
            );
            acks.push((ack, input_type, n_events));
        }
        // Alerts go after every batch's events, so each batch's sequence numbers stay
        // contiguous (the Elasticsearch API reports them).
        let intel_alerts = match &mut self.intel {
            Some(intel) => intel.detect_all(&events),
            None => Vec::new(),
        };
        if let Some(detector) = &mut self.detector {
            let before = detector.stats();
            let alerts = detector.detect_batch(&events);
            let after = detector.stats();
            metrics::record_detection(
                after.alerts - before.alerts,
                after.suppressed - before.suppressed,
            );
            events.extend(alerts);
        }
        events.extend(intel_alerts);
        match self.store.append(events) {
            Ok(receipt) => {
                // After the append: saved state never counts events that were not stored.
                if let Some(detector) = &mut self.detector
                    && let Err(error) = detector.checkpoint()
                {
                    tracing::warn!(%error, "correlation state not saved");
                }
                let mut next_seq = receipt.first_seq;
                for (ack, input_type, n_events) in acks {
                    next_seq += n_events as u64;
                    metrics::record_stored(input_type, n_events);
                    // A source that stopped waiting (UDP never waits) is not an error.
                    let _ = ack.send(Ok(Ack {
                        n_events,
                        last_seq: next_seq.saturating_sub(1),
                    }));
                }
            }
            Err(error) => {
                tracing::error!(%error, "events not stored; their batches are rejected");
                for (ack, input_type, n_events) in acks {
                    metrics::record_failed(input_type, n_events);
                    let _ = ack.send(Err(SubmitError::Storage(error.to_string())));
                }
            }
        }
    }

    /// Appends the batch's events; returns (bytes received, events that fell back).
    fn decode_batch(
        &self,
        batch: Batch,
        received_at: Timestamp,
        events: &mut Vec<Event>,
    ) -> (usize, usize) {
        let context = Context {
            input_type: batch.input_type,
            peer: batch.peer,
            received_at,
        };
        let mut n_bytes = 0;
        let mut n_fallback = 0;
        for payload in batch.items {
            n_bytes += payload.approx_len();
            let event = self.decode(payload, received_at, &context);
            if event.get(fields::LOG_PARSE_ERROR).is_some() {
                n_fallback += 1;
            }
            events.push(event);
        }
        (n_bytes, n_fallback)
    }

    /// Turns one payload into an event. Never fails: what cannot be parsed is kept
    /// as-is with the reason (see `formats`).
    pub fn decode(&self, payload: Payload, received_at: Timestamp, context: &Context) -> Event {
        let record = match payload {
            Payload::Syslog(bytes) => formats::syslog::decode(&bytes, received_at),
            Payload::Line(line) => formats::decode_line(&line, received_at),
            Payload::Json { doc, original } => formats::json::decode(doc, original, received_at),
            Payload::Record(record) => record,
        };
        self.normalizer.normalize(record, context)
    }
}
