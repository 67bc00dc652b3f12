//! Metric names of the pipeline, declared once.

/// Events received by the pipeline, by `input` (the intake's `input.type`).
pub const EVENTS_RECEIVED: &str = "pipeline_events_received_total";
/// Bytes received by the pipeline, by `input`.
pub const BYTES_RECEIVED: &str = "pipeline_bytes_received_total";
/// Events durably written, by `input`.
pub const EVENTS_STORED: &str = "pipeline_events_stored_total";
/// Events not written because the store failed, by `input`.
pub const EVENTS_FAILED: &str = "pipeline_events_failed_total";
/// Events whose decoder fell back (`log.parse_error` set), by `input`.
pub const EVENTS_PARSE_FALLBACK: &str = "pipeline_events_parse_fallback_total";

/// Alerts raised by live detection.
pub const ALERTS_RAISED: &str = "detect_alerts_total";
/// Rule matches suppressed as duplicates of a recent alert.
pub const ALERTS_SUPPRESSED: &str = "detect_alerts_suppressed_total";

pub(crate) fn record_detection(n_alerts: u64, n_suppressed: u64) {
    metrics::counter!(ALERTS_RAISED).increment(n_alerts);
    metrics::counter!(ALERTS_SUPPRESSED).increment(n_suppressed);
}

pub(crate) fn record_batch(
    input: &'static str,
    n_events: usize,
    n_bytes: usize,
    n_fallback: usize,
) {
    metrics::counter!(EVENTS_RECEIVED, "input" => input).increment(n_events as u64);
    metrics::counter!(BYTES_RECEIVED, "input" => input).increment(n_bytes as u64);
    if n_fallback > 0 {
        metrics::counter!(EVENTS_PARSE_FALLBACK, "input" => input).increment(n_fallback as u64);
    }
}

pub(crate) fn record_stored(input: &'static str, n_events: usize) {
    metrics::counter!(EVENTS_STORED, "input" => input).increment(n_events as u64);
}

pub(crate) fn record_failed(input: &'static str, n_events: usize) {
    metrics::counter!(EVENTS_FAILED, "input" => input).increment(n_events as u64);
}
