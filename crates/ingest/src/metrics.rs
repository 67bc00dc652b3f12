//! Every metric this crate emits, declared once.
//!
//! Counters are emitted once per batch, never once per event. All of them carry an
//! `input_type` label (`syslog-udp`, `syslog-tcp`, `syslog-tls`, `es-bulk`); the dropped,
//! error and rejected counters also carry a `reason` or `kind`.

use metrics::{counter, describe_counter};

/// Inputs received (frames, datagrams, documents), before the pipeline saw them.
pub const RECEIVED_EVENTS: &str = "ingest_received_events_total";
/// Bytes of those inputs (message bytes without framing; decompressed HTTP bodies).
pub const RECEIVED_BYTES: &str = "ingest_received_bytes_total";
/// Inputs the pipeline acknowledged as durably written.
pub const SENT_EVENTS: &str = "ingest_sent_events_total";
/// Inputs dropped before reaching the pipeline, by `reason` ([`DropReason`]).
pub const DROPPED_EVENTS: &str = "ingest_dropped_events_total";
/// UDP datagrams dropped because the pipeline was full: UDP cannot push back.
pub const UDP_DROPPED_EVENTS: &str = "ingest_udp_dropped_events_total";
/// Errors by `kind` (`accept`, `io`, `tls_handshake`, `submit`).
pub const ERRORS: &str = "ingest_errors_total";
/// TCP and TLS connections accepted.
pub const CONNECTIONS: &str = "ingest_connections_total";
/// TCP and TLS connections closed at once because `max_connections` was reached.
pub const CONNECTIONS_REJECTED: &str = "ingest_connections_rejected_total";
/// HTTP requests refused as a whole, by `reason` (`unauthorized`, `overloaded`,
/// `too_large`, `unavailable`, `bad_request`).
pub const REQUESTS_REJECTED: &str = "ingest_requests_rejected_total";

/// Why an input was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Longer than the configured maximum frame or datagram size.
    Oversized,
    /// The connection ended (or idled out) in the middle of a frame.
    Truncated,
    /// A bulk document that is not a JSON object, or nests too deeply.
    Invalid,
    /// A bulk `update` or `delete` action: there is nothing to update or delete.
    UnsupportedAction,
    /// The pipeline was shutting down (UDP only; TCP closes the connection instead).
    ShuttingDown,
}

impl DropReason {
    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Oversized => "oversized",
            DropReason::Truncated => "truncated",
            DropReason::Invalid => "invalid",
            DropReason::UnsupportedAction => "unsupported_action",
            DropReason::ShuttingDown => "shutting_down",
        }
    }
}

/// Registers descriptions of every metric with the installed recorder. Call once, after
/// installing the recorder.
pub fn describe() {
    describe_counter!(
        RECEIVED_EVENTS,
        "inputs received, before the pipeline saw them"
    );
    describe_counter!(RECEIVED_BYTES, "bytes of inputs received, without framing");
    describe_counter!(SENT_EVENTS, "inputs acknowledged by the pipeline");
    describe_counter!(
        DROPPED_EVENTS,
        "inputs dropped before the pipeline, by reason"
    );
    describe_counter!(
        UDP_DROPPED_EVENTS,
        "udp datagrams dropped because the pipeline was full"
    );
    describe_counter!(ERRORS, "source errors, by kind");
    describe_counter!(CONNECTIONS, "tcp and tls connections accepted");
    describe_counter!(
        CONNECTIONS_REJECTED,
        "connections refused over max_connections"
    );
    describe_counter!(
        REQUESTS_REJECTED,
        "http requests refused as a whole, by reason"
    );
}

pub(crate) fn received(input_type: &'static str, n_events: usize, n_bytes: usize) {
    if n_events == 0 {
        return;
    }
    counter!(RECEIVED_EVENTS, "input_type" => input_type).increment(n_events as u64);
    counter!(RECEIVED_BYTES, "input_type" => input_type).increment(n_bytes as u64);
}

pub(crate) fn sent(input_type: &'static str, n_events: usize) {
    counter!(SENT_EVENTS, "input_type" => input_type).increment(n_events as u64);
}

pub(crate) fn dropped(input_type: &'static str, reason: DropReason, n_events: usize) {
    if n_events == 0 {
        return;
    }
    counter!(DROPPED_EVENTS, "input_type" => input_type, "reason" => reason.as_str())
        .increment(n_events as u64);
}

pub(crate) fn udp_dropped(n_events: usize) {
    counter!(UDP_DROPPED_EVENTS).increment(n_events as u64);
}

pub(crate) fn error(input_type: &'static str, kind: &'static str) {
    counter!(ERRORS, "input_type" => input_type, "kind" => kind).increment(1);
}

pub(crate) fn connection_accepted(input_type: &'static str) {
    counter!(CONNECTIONS, "input_type" => input_type).increment(1);
}

pub(crate) fn connection_rejected(input_type: &'static str) {
    counter!(CONNECTIONS_REJECTED, "input_type" => input_type).increment(1);
}

pub(crate) fn request_rejected(input_type: &'static str, reason: &'static str) {
    counter!(REQUESTS_REJECTED, "input_type" => input_type, "reason" => reason).increment(1);
}
