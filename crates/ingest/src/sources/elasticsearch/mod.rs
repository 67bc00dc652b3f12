//! An Elasticsearch-compatible HTTP API, so shippers send to Sentinella unchanged.
//!
//! Filebeat, Winlogbeat, Fluent Bit, Vector, Logstash and the official `elasticsearch`
//! clients (v8 and v9) talk to [`router`] as if it were an Elasticsearch 8.17 node:
//! - `_bulk` (and single-document `_doc` / `_create`) take documents. All valid documents
//!   of one request go to the pipeline as one [`pipeline::Batch`] with input type
//!   [`INPUT_ES_BULK`]; the answer waits for the durable write. A full pipeline answers
//!   429 `es_rejected_execution_exception`, which every shipper retries.
//! - `update` and `delete` actions, documents that are not JSON objects, and documents
//!   nesting deeper than the limit get per-item 400 errors in Elasticsearch's exact shape;
//!   the other items of the request still succeed.
//! - The target index is kept in the document as `labels.index` (unless already set).
//! - Start-up calls (cluster info, license, templates, ILM, index creation, node info)
//!   get harmless answers that let the shipper proceed. Unknown routes get a 404 in
//!   Elasticsearch's error shape.
//!
//! Every route requires a token (see [`crate::auth`]); every answer carries
//! `X-Elastic-Product: Elasticsearch`, which the official clients insist on.

mod bulk;
mod config;
mod responses;
mod router;

use std::sync::Arc;

use axum::Router;
use pipeline::Intake;

pub use config::{ElasticsearchApi, ElasticsearchConfig};

use crate::auth::TokenCheck;

/// `input.type` of documents received through this API.
pub const INPUT_ES_BULK: &str = "es-bulk";

/// The Elasticsearch-compatible API with default limits (see [`ElasticsearchConfig`]).
/// Mount it at the root of its own listener (clients expect `/` to be cluster info).
pub fn router(intake: Intake, auth: Arc<dyn TokenCheck>) -> Router {
    ElasticsearchApi::with_defaults().router(intake, auth)
}

#[cfg(test)]
mod tests;
