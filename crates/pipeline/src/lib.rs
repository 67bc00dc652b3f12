//! Wiring from sources to the store over bounded channels.
//!
//! Sources hold an [`Intake`] and submit [`Batch`]es of raw [`Payload`]s. The
//! [`Writer`] decodes (`formats`), normalizes (`normalize`) and appends each batch to
//! the store's write-ahead log; a batch is acknowledged only once it is fsynced.
//! Bounded queues give backpressure instead of unbounded memory.

mod intake;

pub use intake::{Ack, Batch, Intake, Job, Payload, SubmitError};
