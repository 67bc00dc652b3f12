//! A fake pipeline and an in-memory metrics recorder.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use pipeline::{Ack, Batch, Job, Payload};
use tokio::sync::{mpsc, watch};

/// One message as the pipeline received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub input_type: &'static str,
    pub bytes: Vec<u8>,
}

/// What a fake pipeline consumer saw.
#[derive(Clone, Default)]
pub struct Consumer {
    batches: Arc<Mutex<Vec<Batch>>>,
}

impl Consumer {
    /// Acknowledges every batch at once.
    pub fn acking(jobs: mpsc::Receiver<Job>) -> Consumer {
        let (_release, released) = watch::channel(true);
        Consumer::gated(jobs, released)
    }

    /// Records every batch, but acknowledges only while `released` is true (acks withheld
    /// before are sent when it turns true).
    pub fn gated(mut jobs: mpsc::Receiver<Job>, mut released: watch::Receiver<bool>) -> Consumer {
        let consumer = Consumer::default();
        let batches = consumer.batches.clone();
        tokio::spawn(async move {
            let mut last_seq = 0;
            while let Some(Job { batch, ack }) = jobs.recv().await {
                let n_events = batch.items.len();
                last_seq += n_events as u64;
                batches.lock().unwrap().push(batch);
                if released.wait_for(|released| *released).await.is_err() {
                    return;
                }
                let _ = ack.send(Ok(Ack { n_events, last_seq }));
            }
        });
        consumer
    }

    pub fn n_batches(&self) -> usize {
        self.batches.lock().unwrap().len()
    }

    pub fn messages(&self) -> Vec<Received> {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .flat_map(|batch| {
                batch.items.iter().map(|item| match item {
                    Payload::Syslog(bytes) => Received {
                        input_type: batch.input_type,
                        bytes: bytes.clone(),
                    },
                    other => panic!("unexpected payload {other:?}"),
                })
            })
            .collect()
    }

    pub fn documents(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .flat_map(|batch| {
                batch.items.iter().map(|item| match item {
                    Payload::Json { doc, .. } => doc.clone(),
                    other => panic!("unexpected payload {other:?}"),
                })
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived, then returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "timed out with {} of {n} messages",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Counters by `name{label=value,…}`, labels sorted.
#[derive(Default)]
struct TestRecorder {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

fn key_string(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|label| format!("{}={}", label.key(), label.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let counter = self
            .counters
            .lock()
            .unwrap()
            .entry(key_string(key))
            .or_default()
            .clone();
        Counter::from_arc(counter)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn recorder() -> &'static TestRecorder {
    static RECORDER: OnceLock<&'static TestRecorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder: &'static TestRecorder = Box::leak(Box::default());
        metrics::set_global_recorder(recorder).expect("only this binary installs a recorder");
        ingest::metrics::describe();
        recorder
    })
}

/// Installs the recorder (idempotent). Call before the code under test runs.
pub fn install_recorder() {
    recorder();
}

/// The value of a counter, e.g. `ingest_udp_dropped_events_total{}` or
/// `ingest_received_events_total{input_type=syslog-tcp}`.
pub fn counter(name_and_labels: &str) -> u64 {
    recorder()
        .counters
        .lock()
        .unwrap()
        .get(name_and_labels)
        .map_or(0, |counter| counter.load(Ordering::Relaxed))
}
