//! The handle sources use to hand inputs to the pipeline, and what they get back.

use std::net::SocketAddr;
use std::sync::Arc;

use event::{Map, Record, Value};
use tokio::sync::{mpsc, oneshot};

/// One input as a source received it, not yet decoded.
#[derive(Debug, Clone)]
pub enum Payload {
    /// One syslog message (a frame, without its framing), raw bytes as received.
    Syslog(Vec<u8>),
    /// One JSON document (HTTP ingest, Elasticsearch `_bulk`, NDJSON import). `original`
    /// is the document's text when the source has it, kept as `event.original`.
    Json {
        /// The parsed document.
        doc: Map<String, Value>,
        /// The text it was parsed from.
        original: Option<String>,
    },
    /// One line of a plain log file (sshd, sudo, …: decoded like a syslog message body).
    Line(String),
    /// A record already decoded by the caller (EVTX import decodes in the importing process).
    Record(Record),
}

impl Payload {
    /// Bytes this payload weighs, for metrics and memory accounting.
    pub fn approx_len(&self) -> usize {
        match self {
            Payload::Syslog(bytes) => bytes.len(),
            Payload::Json { original, .. } => original.as_ref().map_or(256, String::len),
            Payload::Line(line) => line.len(),
            Payload::Record(record) => record.original.len(),
        }
    }
}

/// A batch of payloads from one source.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Which intake received it: `syslog-udp`, `syslog-tcp`, `syslog-tls`, `http`, `es-bulk`,
    /// `import`. Recorded on every event as `input.type`.
    pub input_type: &'static str,
    /// The sender's address, when known (recorded as `log.source.address`).
    pub peer: Option<SocketAddr>,
    /// Who sent it, when the source authenticated the sender (the API's user or token
    /// owner): keys the source's ingest health instead of the address.
    pub sender: Option<String>,
    /// The payloads, in order.
    pub items: Vec<Payload>,
}

/// The pipeline's answer to a batch: it is durably written (WAL, fsynced) and will be
/// searchable after the index catches up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Events written.
    pub n_events: usize,
    /// Sequence number of the last event written (monotonic across restarts).
    pub last_seq: u64,
}

/// Why a batch was not accepted. Nothing in a rejected batch was acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The pipeline's queue is full: slow down (TCP) or answer 429 (HTTP), drop and count (UDP).
    #[error("pipeline overloaded")]
    Overloaded,
    /// The server is shutting down.
    #[error("pipeline shutting down")]
    ShuttingDown,
    /// The write-ahead log could not be written; the operator must act.
    #[error("storage failure: {0}")]
    Storage(String),
}

/// A batch on its way to the writer, with the channel that acknowledges it.
#[derive(Debug)]
pub struct Job {
    /// What to write.
    pub batch: Batch,
    /// Where the result goes.
    pub ack: oneshot::Sender<Result<Ack, SubmitError>>,
}

/// A cloneable handle to the pipeline's bounded input queue.
#[derive(Debug, Clone)]
pub struct Intake {
    tx: mpsc::Sender<Job>,
    health: Arc<crate::IngestHealth>,
}

impl Intake {
    /// An intake and the receiving end of its queue, holding at most `capacity` batches.
    /// The pipeline owns the receiver; tests can too.
    pub fn channel(capacity: usize) -> (Intake, mpsc::Receiver<Job>) {
        Self::channel_with_health(capacity, Arc::default())
    }

    /// Like [`Intake::channel`], recording into `health` (configured, or reloaded from
    /// the last run).
    pub fn channel_with_health(
        capacity: usize,
        health: Arc<crate::IngestHealth>,
    ) -> (Intake, mpsc::Receiver<Job>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Intake { tx, health }, rx)
    }

    /// Per-source ingest health, recorded by the writer behind this queue (and by
    /// sources for what they could not hand over).
    pub fn health(&self) -> &Arc<crate::IngestHealth> {
        &self.health
    }

    /// Submits a batch, waiting for queue space (backpressure) and then for the
    /// durable write. Use from sources that can slow their sender down (TCP).
    pub async fn submit(&self, batch: Batch) -> Result<Ack, SubmitError> {
        if batch.items.is_empty() {
            return Ok(Ack {
                n_events: 0,
                last_seq: 0,
            });
        }
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Job { batch, ack })
            .await
            .map_err(|_| SubmitError::ShuttingDown)?;
        rx.await.map_err(|_| SubmitError::ShuttingDown)?
    }

    /// Submits a batch only if the queue has room now, then waits for the durable write.
    /// Use from sources that cannot slow their sender down (HTTP answers 429).
    pub async fn try_submit(&self, batch: Batch) -> Result<Ack, SubmitError> {
        let rx = self.enqueue_now(batch)?;
        rx.await.map_err(|_| SubmitError::ShuttingDown)?
    }

    /// Queues a batch if there is room now, without waiting for the write (UDP: there
    /// is nobody to acknowledge to). Returns the receiver for the write's result.
    pub fn enqueue_now(
        &self,
        batch: Batch,
    ) -> Result<oneshot::Receiver<Result<Ack, SubmitError>>, SubmitError> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .try_send(Job { batch, ack })
            .map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => SubmitError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => SubmitError::ShuttingDown,
            })?;
        Ok(rx)
    }
}
