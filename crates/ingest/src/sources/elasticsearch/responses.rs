//! Response bodies in Elasticsearch's shapes.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header::WWW_AUTHENTICATE},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::bulk::ItemError;

/// The Elasticsearch version we answer as. 8.x is what every supported shipper and both
/// client generations (v8 in compatibility mode, v9) accept.
pub(crate) const VERSION: &str = "8.17.0";
const LUCENE_VERSION: &str = "9.12.0";
const BUILD_HASH: &str = "2b6a7fed44faa321997703718f07ee0420804b41";
const BUILD_DATE: &str = "2024-12-11T12:08:05.663969764Z";
/// A fixed cluster and node id: there is one node and it never changes.
pub(crate) const CLUSTER_UUID: &str = "c2VudGluZWxsYS1jbA";
const NODE_ID: &str = "c2VudGluZWxsYS1uMQ";

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

pub(crate) fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body)
}

pub(crate) fn acknowledged() -> Response {
    ok(json!({ "acknowledged": true }))
}

/// An error answer in Elasticsearch's request-level shape; small to move around until it
/// is sent.
#[derive(Debug)]
pub(crate) struct EsError {
    status: StatusCode,
    body: Box<Value>,
}

impl EsError {
    pub(crate) fn new(status: StatusCode, error_type: &str, reason: &str) -> EsError {
        EsError {
            status,
            body: Box::new(json!({
                "error": {
                    "root_cause": [{ "type": error_type, "reason": reason }],
                    "type": error_type,
                    "reason": reason,
                },
                "status": status.as_u16(),
            })),
        }
    }

    /// A per-item error raised to request level (single-document endpoints).
    pub(crate) fn item(error: &ItemError) -> EsError {
        let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut body = error.to_json();
        body["root_cause"] = json!([{ "type": error.error_type, "reason": error.reason }]);
        EsError {
            status,
            body: Box::new(json!({ "error": body, "status": status.as_u16() })),
        }
    }
}

impl IntoResponse for EsError {
    fn into_response(self) -> Response {
        json_response(self.status, *self.body)
    }
}

/// An error in Elasticsearch's request-level shape.
pub(crate) fn es_error(status: StatusCode, error_type: &str, reason: &str) -> Response {
    EsError::new(status, error_type, reason).into_response()
}

/// 401 with the challenges Elasticsearch sends, so clients know which schemes work.
pub(crate) fn unauthorized(reason: &str) -> Response {
    let challenges = [
        r#"Basic realm="security", charset="UTF-8""#,
        r#"Bearer realm="security""#,
        "ApiKey",
    ];
    let body = json!({
        "error": {
            "root_cause": [{
                "type": "security_exception",
                "reason": reason,
                "header": { "WWW-Authenticate": challenges },
            }],
            "type": "security_exception",
            "reason": reason,
            "header": { "WWW-Authenticate": challenges },
        },
        "status": 401,
    });
    let mut response = json_response(StatusCode::UNAUTHORIZED, body);
    for challenge in challenges {
        response
            .headers_mut()
            .append(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

pub(crate) fn cluster_info(cluster_name: &str) -> Value {
    json!({
        "name": cluster_name,
        "cluster_name": cluster_name,
        "cluster_uuid": CLUSTER_UUID,
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": BUILD_HASH,
            "build_date": BUILD_DATE,
            "build_snapshot": false,
            "lucene_version": LUCENE_VERSION,
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    })
}

fn license_body() -> Value {
    json!({
        "status": "active",
        "uid": "7b0a4c4e-5e2f-4c8b-9d55-73656e74696e",
        "type": "basic",
        "issue_date": "2024-01-01T00:00:00.000Z",
        "issue_date_in_millis": 1_704_067_200_000u64,
        "max_nodes": 1000,
        "max_resource_units": null,
        "issued_to": "sentinella",
        "issuer": "elasticsearch",
        "start_date_in_millis": -1,
    })
}

pub(crate) fn license() -> Value {
    json!({ "license": license_body() })
}

pub(crate) fn xpack() -> Value {
    let feature = json!({ "available": true, "enabled": true });
    json!({
        "build": { "hash": BUILD_HASH, "date": BUILD_DATE },
        "license": { "uid": license_body()["uid"], "type": "basic", "mode": "basic", "status": "active" },
        "features": {
            "ilm": feature,
            "security": feature,
            "monitoring": feature,
            "data_streams": feature,
        },
        "tagline": "You know, for X",
    })
}

pub(crate) fn nodes(cluster_name: &str, publish_address: &str) -> Value {
    json!({
        "_nodes": { "total": 1, "successful": 1, "failed": 0 },
        "cluster_name": cluster_name,
        "nodes": {
            NODE_ID: {
                "name": cluster_name,
                "version": VERSION,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": BUILD_HASH,
                "roles": ["data", "ingest", "master"],
                "http": { "publish_address": publish_address },
                "ingest": { "processors": [] },
            }
        },
    })
}

pub(crate) fn cluster_health(cluster_name: &str) -> Value {
    json!({
        "cluster_name": cluster_name,
        "status": "green",
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 0,
        "active_shards": 0,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0,
    })
}

pub(crate) fn shards_ok() -> Value {
    json!({ "total": 1, "successful": 1, "failed": 0 })
}

/// The answer to one successfully written document (`_doc`, `_create`, bulk items).
pub(crate) fn written(index: &str, id: &str, seq_no: u64) -> Value {
    json!({
        "_index": index,
        "_id": id,
        "_version": 1,
        "result": "created",
        "_shards": shards_ok(),
        "_seq_no": seq_no,
        "_primary_term": 1,
    })
}
