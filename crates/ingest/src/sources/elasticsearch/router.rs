//! Routes, handlers and the authentication / product-header layer.

use std::{net::SocketAddr, pin::Pin, sync::Arc, time::Instant};

use axum::{
    Router,
    body::{Body, Bytes, HttpBody},
    extract::{ConnectInfo, Path, Request, State},
    http::{
        HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri,
        header::{ACCEPT, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST},
        request::Parts,
    },
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use bytes::BytesMut;
use pipeline::{Ack, Batch, Intake, Payload, SubmitError};
use serde_json::{Value, json};
use tracing::{debug, error};

use super::{
    INPUT_ES_BULK,
    bulk::{self, BulkContext, GunzipError, IdGenerator, Outcome, ParsedBulk, RequestError},
    config::{ElasticsearchApi, Limits},
    responses::{self, EsError, acknowledged, es_error, ok},
};
use crate::{
    auth::{TokenCheck, token_from_headers},
    metrics::{self, DropReason},
};

/// Bodies larger than this are decompressed and parsed on the blocking pool, so the async
/// workers never spend more than a fraction of a millisecond on one request.
const INLINE_PARSE_MAX_BYTES: usize = 256 * 1024;

const X_ELASTIC_PRODUCT: HeaderName = HeaderName::from_static("x-elastic-product");

struct EsState {
    intake: Intake,
    auth: Arc<dyn TokenCheck>,
    limits: Limits,
    cluster_name: String,
    ids: IdGenerator,
}

type Shared = Arc<EsState>;

pub(crate) fn build(api: ElasticsearchApi, intake: Intake, auth: Arc<dyn TokenCheck>) -> Router {
    let state = Arc::new(EsState {
        intake,
        auth,
        limits: api.limits,
        cluster_name: api.cluster_name,
        ids: IdGenerator::new(),
    });
    Router::new()
        .route("/", get(info))
        .route("/_bulk", post(bulk).put(bulk))
        .route("/{index}/_bulk", post(bulk_into).put(bulk_into))
        .route("/{index}/_doc", post(doc_auto_id))
        .route("/{index}/_doc/{id}", put(doc_with_id).post(doc_with_id))
        .route("/{index}/_create/{id}", put(doc_with_id).post(doc_with_id))
        .route("/_license", get(license))
        .route("/_xpack", get(xpack))
        .route("/_index_template/{name}", get(index_template).put(ack))
        .route("/_template/{name}", get(legacy_template).put(ack))
        .route(
            "/_component_template/{name}",
            get(component_template).put(ack),
        )
        .route("/_ilm/policy/{name}", get(ilm_policy).put(ack))
        .route("/_ilm/status", get(ilm_status))
        .route("/_data_stream/{name}", get(data_stream).put(ack))
        .route("/_nodes", get(nodes))
        .route("/_nodes/{*rest}", get(nodes))
        .route("/_cluster/health", get(cluster_health))
        .route("/_cluster/health/{index}", get(cluster_health))
        .route("/_cat/{*rest}", get(cat))
        .route("/_refresh", get(refresh).post(refresh))
        .route("/{index}/_refresh", get(refresh).post(refresh))
        .route("/_ingest/pipeline/{id}", get(ingest_pipeline).put(ack))
        .route("/_alias/{name}", get(alias).head(exists))
        .route(
            "/{index}",
            get(index_info).head(index_exists).put(index_create),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), es_layer))
        .with_state(state)
}

/// Authenticates every request (fallbacks included) and marks every answer as coming from
/// Elasticsearch, in the media type the client asked for.
async fn es_layer(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let compatible_with = compatible_with(request.headers());
    let mut response = match token_from_headers(request.headers()) {
        Some(token) if state.auth.check(&token) => next.run(request).await,
        presented => {
            metrics::request_rejected(INPUT_ES_BULK, "unauthorized");
            let reason = match presented {
                Some(_) => "unable to authenticate with provided credentials".to_owned(),
                None => format!(
                    "missing authentication credentials for REST request [{}]",
                    request.uri().path()
                ),
            };
            responses::unauthorized(&reason)
        }
    };
    let headers = response.headers_mut();
    headers.insert(X_ELASTIC_PRODUCT, HeaderValue::from_static("Elasticsearch"));
    // Clients in compatibility mode (`Accept: application/vnd.elasticsearch+json;
    // compatible-with=8`) expect the same media type back.
    let content_type = compatible_with
        .and_then(|version| {
            HeaderValue::from_str(&format!(
                "application/vnd.elasticsearch+json;compatible-with={version}"
            ))
            .ok()
        })
        .unwrap_or(HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_TYPE, content_type);
    response
}

/// The `compatible-with=N` version of the `Accept` (or else `Content-Type`) header.
fn compatible_with(headers: &HeaderMap) -> Option<u8> {
    [ACCEPT, CONTENT_TYPE].iter().find_map(|name| {
        let value = headers.get(name)?.to_str().ok()?;
        let (_, rest) = value.split_once("compatible-with=")?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

async fn info(State(state): State<Shared>) -> Response {
    ok(responses::cluster_info(&state.cluster_name))
}

async fn bulk(State(state): State<Shared>, request: Request) -> Response {
    handle_bulk(state, None, request).await
}

async fn bulk_into(
    State(state): State<Shared>,
    Path(index): Path<String>,
    request: Request,
) -> Response {
    handle_bulk(state, Some(index), request).await
}

async fn handle_bulk(state: Shared, default_index: Option<String>, request: Request) -> Response {
    let started = Instant::now();
    if let Some(index) = &default_index
        && let Err(error) = bulk::validate_index(index)
    {
        return EsError::item(&error).into_response();
    }
    let (parts, body) = request.into_parts();
    let peer = peer(&parts);
    let raw = match read_body(&state.limits, &parts.headers, body).await {
        Ok(raw) => raw,
        Err(error) => return error.into_response(),
    };
    let gzip = match content_encoding(&parts.headers) {
        Ok(gzip) => gzip,
        Err(error) => return error.into_response(),
    };
    // A small gzip body can still inflate to the decompression limit.
    let n_raw_bytes = if gzip { usize::MAX } else { raw.len() };
    let parse_state = state.clone();
    let parse = move || -> Result<ParsedBulk, EsError> {
        let body = decompress(&parse_state.limits, gzip, raw)?;
        let cx = BulkContext {
            default_index: default_index.as_deref(),
            max_json_depth: parse_state.limits.max_json_depth,
            ids: &parse_state.ids,
        };
        bulk::parse_bulk(&body, &cx).map_err(|error| request_error_response(&error))
    };
    let parsed = match run_parse(n_raw_bytes, parse).await {
        Ok(parsed) => parsed,
        Err(error) => return error.into_response(),
    };

    let n_docs = parsed.payloads.len();
    metrics::received(INPUT_ES_BULK, n_docs, parsed.n_bytes);
    let (mut n_invalid, mut n_unsupported) = (0, 0);
    for item in &parsed.items {
        if let Outcome::Failed(_) = item.outcome {
            match item.action {
                "update" | "delete" => n_unsupported += 1,
                _ => n_invalid += 1,
            }
        }
    }
    metrics::dropped(INPUT_ES_BULK, DropReason::Invalid, n_invalid);
    metrics::dropped(INPUT_ES_BULK, DropReason::UnsupportedAction, n_unsupported);

    let first_seq_no = if n_docs == 0 {
        0
    } else {
        match submit(&state.intake, peer, parsed.payloads).await {
            Ok(ack) => ack.last_seq.saturating_sub(n_docs as u64 - 1),
            Err(error) => return error.into_response(),
        }
    };
    let items: Vec<Value> = parsed
        .items
        .iter()
        .map(|item| {
            let result = match &item.outcome {
                Outcome::Accepted(position) => {
                    let index = item.index.as_deref().unwrap_or_default();
                    let mut result =
                        responses::written(index, &item.id, first_seq_no + *position as u64);
                    result["status"] = json!(201);
                    result
                }
                Outcome::Failed(error) => json!({
                    "_index": item.index,
                    "_id": item.id,
                    "status": error.status,
                    "error": error.to_json(),
                }),
            };
            json!({ item.action: result })
        })
        .collect();
    ok(json!({
        "took": started.elapsed().as_millis() as u64,
        "errors": n_invalid + n_unsupported > 0,
        "items": items,
    }))
}

async fn doc_auto_id(
    State(state): State<Shared>,
    Path(index): Path<String>,
    request: Request,
) -> Response {
    let id = state.ids.next();
    handle_single(state, index, id, request).await
}

async fn doc_with_id(
    State(state): State<Shared>,
    Path((index, id)): Path<(String, String)>,
    request: Request,
) -> Response {
    handle_single(state, index, id, request).await
}

/// `_doc` and `_create`: one document, answered like a bulk item but at request level.
async fn handle_single(state: Shared, index: String, id: String, request: Request) -> Response {
    if let Err(error) = bulk::validate_index(&index) {
        return EsError::item(&error).into_response();
    }
    let (parts, body) = request.into_parts();
    let peer = peer(&parts);
    let raw = match read_body(&state.limits, &parts.headers, body).await {
        Ok(raw) => raw,
        Err(error) => return error.into_response(),
    };
    let gzip = match content_encoding(&parts.headers) {
        Ok(gzip) => gzip,
        Err(error) => return error.into_response(),
    };
    let n_raw_bytes = if gzip { usize::MAX } else { raw.len() };
    let parse_state = state.clone();
    let parse_index = index.clone();
    let parse = move || -> Result<(Payload, usize), EsError> {
        let body = decompress(&parse_state.limits, gzip, raw)?;
        let line = body.trim_ascii();
        let payload = bulk::parse_document(line, &parse_index, parse_state.limits.max_json_depth)
            .map_err(|error| {
            metrics::dropped(INPUT_ES_BULK, DropReason::Invalid, 1);
            EsError::item(&error)
        })?;
        Ok((payload, line.len()))
    };
    let (payload, n_bytes) = match run_parse(n_raw_bytes, parse).await {
        Ok(parsed) => parsed,
        Err(error) => return error.into_response(),
    };
    metrics::received(INPUT_ES_BULK, 1, n_bytes);
    match submit(&state.intake, peer, vec![payload]).await {
        Ok(ack) => responses::json_response(
            StatusCode::CREATED,
            responses::written(&index, &id, ack.last_seq),
        ),
        Err(error) => error.into_response(),
    }
}

/// Submits without waiting for queue space: a full pipeline is a 429, which shippers
/// retry. The answer then waits for the durable write.
async fn submit(
    intake: &Intake,
    peer: Option<SocketAddr>,
    items: Vec<Payload>,
) -> Result<Ack, EsError> {
    let n_events = items.len();
    let batch = Batch {
        input_type: INPUT_ES_BULK,
        peer,
        sender: None,
        items,
    };
    match intake.try_submit(batch).await {
        Ok(ack) => {
            metrics::sent(INPUT_ES_BULK, n_events);
            Ok(ack)
        }
        Err(SubmitError::Overloaded) => {
            metrics::request_rejected(INPUT_ES_BULK, "overloaded");
            intake.health().record_rejected();
            debug!(n_events, "pipeline full, answering 429");
            Err(EsError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "es_rejected_execution_exception",
                "rejected execution: the ingest pipeline is full, retry later",
            ))
        }
        Err(SubmitError::ShuttingDown) => {
            metrics::request_rejected(INPUT_ES_BULK, "unavailable");
            Err(EsError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "node_closed_exception",
                "node is shutting down, retry later",
            ))
        }
        Err(error @ SubmitError::Storage(_)) => {
            metrics::request_rejected(INPUT_ES_BULK, "unavailable");
            metrics::error(INPUT_ES_BULK, "submit");
            error!(n_events, error = %error, "pipeline failed to write bulk request");
            Err(EsError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable_shards_exception",
                "events could not be stored, retry later",
            ))
        }
    }
}

/// Runs CPU-bound parsing of a body of `n_bytes` inline when it is small, on the blocking
/// pool when it is large.
async fn run_parse<T, F>(n_bytes: usize, parse: F) -> Result<T, EsError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, EsError> + Send + 'static,
{
    if n_bytes <= INLINE_PARSE_MAX_BYTES {
        return parse();
    }
    match tokio::task::spawn_blocking(parse).await {
        Ok(result) => result,
        Err(error) => {
            error!(error = %error, "bulk parsing task failed");
            Err(EsError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "internal error while parsing the request",
            ))
        }
    }
}

fn peer(parts: &Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}

/// Collects the body, refusing (413) to hold more than `max_body_bytes`.
async fn read_body(limits: &Limits, headers: &HeaderMap, mut body: Body) -> Result<Bytes, EsError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_body_bytes as u64) {
        return Err(too_large(limits.max_body_bytes));
    }
    let mut collected = BytesMut::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|error| {
            debug!(error = %error, "failed to read request body");
            EsError::new(
                StatusCode::BAD_REQUEST,
                "parse_exception",
                "failed to read the request body",
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > limits.max_body_bytes {
                return Err(too_large(limits.max_body_bytes));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

fn too_large(max_bytes: usize) -> EsError {
    metrics::request_rejected(INPUT_ES_BULK, "too_large");
    EsError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "content_too_long_exception",
        &format!("request body is larger than the limit of [{max_bytes}] bytes"),
    )
}

/// Whether the body is gzip (`Content-Encoding: gzip`); other encodings are refused.
fn content_encoding(headers: &HeaderMap) -> Result<bool, EsError> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(false);
    };
    let value = value.to_str().unwrap_or_default().trim();
    if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
        Ok(true)
    } else if value.is_empty() || value.eq_ignore_ascii_case("identity") {
        Ok(false)
    } else {
        metrics::request_rejected(INPUT_ES_BULK, "bad_request");
        Err(EsError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "illegal_argument_exception",
            &format!("unsupported Content-Encoding [{value}], only gzip is supported"),
        ))
    }
}

fn decompress(limits: &Limits, gzip: bool, raw: Bytes) -> Result<Bytes, EsError> {
    if !gzip {
        return Ok(raw);
    }
    match bulk::gunzip(&raw, limits.max_decompressed_bytes) {
        Ok(body) => Ok(Bytes::from(body)),
        Err(GunzipError::TooLarge) => Err(too_large(limits.max_decompressed_bytes)),
        Err(GunzipError::Corrupt(reason)) => {
            metrics::request_rejected(INPUT_ES_BULK, "bad_request");
            debug!(error = %reason, "refused corrupt gzip body");
            Err(EsError::new(
                StatusCode::BAD_REQUEST,
                "parse_exception",
                "failed to decompress the gzip request body",
            ))
        }
    }
}

fn request_error_response(error: &RequestError) -> EsError {
    metrics::request_rejected(INPUT_ES_BULK, "bad_request");
    EsError::new(StatusCode::BAD_REQUEST, error.error_type, &error.reason)
}

async fn ack() -> Response {
    acknowledged()
}

async fn exists() -> Response {
    ok(json!({}))
}

async fn license() -> Response {
    ok(responses::license())
}

async fn xpack() -> Response {
    ok(responses::xpack())
}

async fn index_template(Path(name): Path<String>) -> Response {
    ok(json!({
        "index_templates": [{
            "name": name,
            "index_template": { "index_patterns": [format!("{name}*")], "composed_of": [], "template": {} },
        }],
    }))
}

async fn legacy_template(Path(name): Path<String>) -> Response {
    let template = json!({
        "order": 0,
        "index_patterns": [format!("{name}*")],
        "settings": {},
        "mappings": {},
        "aliases": {},
    });
    ok(json!({ name: template }))
}

async fn component_template(Path(name): Path<String>) -> Response {
    ok(json!({
        "component_templates": [{ "name": name, "component_template": { "template": {} } }],
    }))
}

async fn ilm_policy(Path(name): Path<String>) -> Response {
    let policy = json!({
        "version": 1,
        "modified_date": "2024-01-01T00:00:00.000Z",
        "policy": { "phases": { "hot": { "min_age": "0ms", "actions": {} } } },
    });
    ok(json!({ name: policy }))
}

async fn ilm_status() -> Response {
    ok(json!({ "operation_mode": "RUNNING" }))
}

async fn data_stream(Path(name): Path<String>) -> Response {
    ok(json!({
        "data_streams": [{
            "name": name,
            "timestamp_field": { "name": "@timestamp" },
            "indices": [],
            "generation": 1,
            "status": "GREEN",
            "template": name,
            "hidden": false,
            "system": false,
        }],
    }))
}

async fn nodes(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let publish_address = headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1:9200");
    ok(responses::nodes(&state.cluster_name, publish_address))
}

async fn cluster_health(State(state): State<Shared>) -> Response {
    ok(responses::cluster_health(&state.cluster_name))
}

async fn cat() -> Response {
    ok(json!([]))
}

async fn refresh() -> Response {
    ok(json!({ "_shards": responses::shards_ok() }))
}

async fn ingest_pipeline(Path(id): Path<String>) -> Response {
    ok(json!({ id: { "description": "accepted by sentinella, not run", "processors": [] } }))
}

async fn alias(Path(name): Path<String>) -> Response {
    ok(json!({ name.clone(): { "aliases": { name: {} } } }))
}

/// `/{index}` also matches unknown single-segment APIs (`/_security`): those are 404s.
async fn index_info(Path(index): Path<String>, method: Method, uri: Uri) -> Response {
    if index.starts_with('_') {
        return not_found(method, uri).await;
    }
    let settings = json!({
        "index": { "number_of_shards": "1", "number_of_replicas": "0", "provided_name": index },
    });
    ok(json!({ index: { "aliases": {}, "mappings": {}, "settings": settings } }))
}

async fn index_exists(Path(index): Path<String>, method: Method, uri: Uri) -> Response {
    if index.starts_with('_') {
        return not_found(method, uri).await;
    }
    ok(json!({}))
}

async fn index_create(Path(index): Path<String>, method: Method, uri: Uri) -> Response {
    if index.starts_with('_') {
        return not_found(method, uri).await;
    }
    ok(json!({ "acknowledged": true, "shards_acknowledged": true, "index": index }))
}

async fn not_found(method: Method, uri: Uri) -> Response {
    es_error(
        StatusCode::NOT_FOUND,
        "resource_not_found_exception",
        &format!(
            "no handler found for uri [{}] and method [{method}]",
            uri.path()
        ),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    es_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed_exception",
        &format!(
            "Incorrect HTTP method for uri [{}] and method [{method}]",
            uri.path()
        ),
    )
}
