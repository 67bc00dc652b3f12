//! Wiring from sources to the store over bounded channels.
//!
//! Sources hold an [`Intake`] and submit [`Batch`]es of raw [`Payload`]s. The
//! [`Writer`] decodes (`formats`), normalizes (`normalize`) and appends each group of
//! batches to the store's write-ahead log; a batch is acknowledged only once it is
//! fsynced. Bounded queues give backpressure instead of unbounded memory: a full queue
//! makes TCP sources stop reading, HTTP sources answer 429 and UDP sources count drops.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo(store: Arc<dyn store::EventStore>) {
//! let normalizer = Arc::new(normalize::Normalizer::builtin());
//! let pipeline = pipeline::Pipeline::start(store, normalizer, 1024);
//! let intake = pipeline.intake();
//! # }
//! ```

pub mod health;
mod intake;
pub mod metrics;
mod writer;

use std::sync::Arc;
use std::thread::JoinHandle;

pub use health::{IngestHealth, KeyPattern, SilencePolicy};
pub use intake::{Ack, Batch, Intake, Job, Payload, SubmitError};
pub use writer::Writer;

/// A running pipeline: the intake handle and the writer thread behind it.
pub struct Pipeline {
    intake: Option<Intake>,
    writer: Option<JoinHandle<Writer>>,
}

impl Pipeline {
    /// Starts the writer thread behind a queue of `queue_batches` batches.
    pub fn start(
        store: Arc<dyn store::EventStore>,
        normalizer: Arc<normalize::Normalizer>,
        queue_batches: usize,
    ) -> Pipeline {
        Self::start_writer(Writer::new(store, normalizer), queue_batches)
    }

    /// Starts a configured writer (e.g. [`Writer::with_detector`]) behind a queue of
    /// `queue_batches` batches.
    pub fn start_writer(writer: Writer, queue_batches: usize) -> Pipeline {
        Self::start_writer_with_health(writer, queue_batches, Arc::default())
    }

    /// Like [`Pipeline::start_writer`], recording ingest health into `health`.
    pub fn start_writer_with_health(
        writer: Writer,
        queue_batches: usize,
        health: Arc<IngestHealth>,
    ) -> Pipeline {
        let (intake, rx) = Intake::channel_with_health(queue_batches, health);
        let writer = writer.with_health(Arc::clone(intake.health()));
        let handle = std::thread::Builder::new()
            .name("pipeline-writer".into())
            .spawn(move || writer.run(rx))
            .expect("spawning a thread only fails when the process is out of resources");
        Pipeline {
            intake: Some(intake),
            writer: Some(handle),
        }
    }

    /// A handle for sources.
    pub fn intake(&self) -> Intake {
        self.intake
            .clone()
            .expect("the intake lives until shutdown consumes the pipeline")
    }

    /// Waits until every queued batch is written and returns the writer. Sources must
    /// have stopped (dropped their intakes) first, or this waits for them.
    pub fn shutdown(mut self) -> Option<Writer> {
        self.intake.take();
        self.writer.take().and_then(|handle| handle.join().ok())
    }
}
