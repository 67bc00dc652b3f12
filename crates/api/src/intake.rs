//! `POST /api/v1/ingest` (NDJSON or a JSON array of events) and
//! `POST /api/v1/ingest/records` (NDJSON of decoded records, used by `sentinella import`).

use std::io::Read;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use bytes::Bytes;
use event::{Map, Record, Value};
use pipeline::{Batch, Payload};
use serde_json::json;

use crate::{ApiError, AppState, MAX_BODY_BYTES};

/// Documents per batch handed to the pipeline.
const CHUNK_DOCS: usize = 5_000;
/// Largest single document accepted; larger ones are rejected with their line number.
const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Line errors listed in a response (all are counted).
const MAX_LISTED_ERRORS: usize = 100;

/// `POST /api/v1/ingest`: events as NDJSON or a JSON array.
pub(crate) async fn ingest_json(
    State(state): State<AppState>,
    principal: Option<Extension<auth::Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let sender = principal.map(|Extension(principal)| sender(&principal));
    ingest(&state, sender, &headers, body, "http", parse_documents).await
}

/// `POST /api/v1/ingest/records`: records decoded by `sentinella import`, as NDJSON.
pub(crate) async fn ingest_records(
    State(state): State<AppState>,
    principal: Option<Extension<auth::Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let sender = principal.map(|Extension(principal)| sender(&principal));
    ingest(&state, sender, &headers, body, "import", parse_records).await
}

/// The caller as the ingest health table keys it: user, and the personal token's name.
fn sender(principal: &auth::Principal) -> String {
    let token = match &principal.via {
        auth::Via::Token { name } => name.as_deref(),
        auth::Via::Session { .. } => None,
    };
    pipeline::health::api_sender(&principal.name, token)
}

type Parser = fn(&[u8]) -> (Vec<Payload>, Vec<LineError>);

/// `sender`: the authenticated caller, which keys the source in the ingest health table.
async fn ingest(
    state: &AppState,
    sender: Option<String>,
    headers: &HeaderMap,
    body: Bytes,
    input_type: &'static str,
    parse: Parser,
) -> Result<Json<Value>, ApiError> {
    let body = decompress(headers, body)?;
    // Parsing a 100 MiB body takes a while: off the async threads.
    let (payloads, errors) = tokio::task::spawn_blocking(move || parse(&body))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    submit(state, input_type, sender, payloads, errors).await
}

async fn submit(
    state: &AppState,
    input_type: &'static str,
    sender: Option<String>,
    payloads: Vec<Payload>,
    errors: Vec<LineError>,
) -> Result<Json<Value>, ApiError> {
    if payloads.is_empty() && !errors.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "no valid document; line {}: {}",
            errors[0].line, errors[0].message
        )));
    }
    let mut accepted = 0usize;
    let mut chunks = payloads.chunks(CHUNK_DOCS).map(<[Payload]>::to_vec);
    // The first chunk fails fast when the pipeline is full (429, nothing accepted, the
    // client retries); later chunks wait for room, so a request is all or nothing
    // unless storage itself fails.
    if let Some(first) = chunks.next() {
        let ack = state
            .intake
            .try_submit(Batch {
                input_type,
                peer: None,
                sender: sender.clone(),
                items: first,
            })
            .await
            .inspect_err(|err| {
                if *err == pipeline::SubmitError::Overloaded {
                    state.intake.health().record_rejected();
                }
            })?;
        accepted += ack.n_events;
    }
    for chunk in chunks {
        let ack = state
            .intake
            .submit(Batch {
                input_type,
                peer: None,
                sender: sender.clone(),
                items: chunk,
            })
            .await?;
        accepted += ack.n_events;
    }
    let n_errors = errors.len();
    let listed: Vec<Value> = errors
        .into_iter()
        .take(MAX_LISTED_ERRORS)
        .map(|error| json!({"line": error.line, "error": error.message}))
        .collect();
    Ok(Json(
        json!({"accepted": accepted, "rejected": n_errors, "errors": listed}),
    ))
}

struct LineError {
    line: usize,
    message: String,
}

fn decompress(headers: &HeaderMap, body: Bytes) -> Result<Bytes, ApiError> {
    let gzip = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(body);
    }
    let mut decoded = Vec::new();
    let mut reader = flate2::read::MultiGzDecoder::new(&body[..]).take(MAX_BODY_BYTES as u64 + 1);
    reader
        .read_to_end(&mut decoded)
        .map_err(|err| ApiError::BadRequest(format!("invalid gzip body: {err}")))?;
    if decoded.len() > MAX_BODY_BYTES {
        return Err(ApiError::TooLarge);
    }
    Ok(Bytes::from(decoded))
}

/// A JSON array of objects, or NDJSON (one object per line; blank lines skipped).
fn parse_documents(body: &[u8]) -> (Vec<Payload>, Vec<LineError>) {
    let mut payloads = Vec::new();
    let mut errors = Vec::new();
    let trimmed = body.trim_ascii_start();
    if trimmed.first() == Some(&b'[') {
        match serde_json::from_slice::<Vec<Value>>(trimmed) {
            Ok(items) => {
                for (idx, item) in items.into_iter().enumerate() {
                    match item {
                        Value::Object(doc) => {
                            let original = serde_json::to_string(&doc).ok();
                            payloads.push(Payload::Json { doc, original });
                        }
                        _ => errors.push(LineError {
                            line: idx + 1,
                            message: "array element is not a JSON object".into(),
                        }),
                    }
                }
            }
            Err(err) => errors.push(LineError {
                line: err.line(),
                message: format!("invalid JSON array: {err}"),
            }),
        }
        return (payloads, errors);
    }
    for (idx, line) in body.split(|byte| *byte == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        if line.len() > MAX_DOCUMENT_BYTES {
            errors.push(LineError {
                line: idx + 1,
                message: format!("document larger than {MAX_DOCUMENT_BYTES} bytes"),
            });
            continue;
        }
        match serde_json::from_slice::<Map<String, Value>>(line) {
            Ok(doc) => payloads.push(Payload::Json {
                doc,
                original: Some(String::from_utf8_lossy(line).into_owned()),
            }),
            Err(err) => errors.push(LineError {
                line: idx + 1,
                message: format!("invalid JSON object: {err}"),
            }),
        }
    }
    (payloads, errors)
}

fn parse_records(body: &[u8]) -> (Vec<Payload>, Vec<LineError>) {
    let mut payloads = Vec::new();
    let mut errors = Vec::new();
    for (idx, line) in body.split(|byte| *byte == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(record) => payloads.push(Payload::Record(record)),
            Err(err) => errors.push(LineError {
                line: idx + 1,
                message: format!("invalid record: {err}"),
            }),
        }
    }
    (payloads, errors)
}
