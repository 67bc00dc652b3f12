//! Limits of the Elasticsearch-compatible API.

use std::sync::Arc;

use axum::Router;
use pipeline::Intake;
use serde::Deserialize;

use super::router;
use crate::{BuildError, auth::TokenCheck};

/// Limits and identity of the Elasticsearch-compatible API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticsearchConfig {
    /// Largest request body, as sent (compressed or not); larger requests get 413.
    /// Default 100 MiB, as Elasticsearch's `http.max_content_length`.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Largest body after gzip decompression; larger requests get 413. Default 200 MiB.
    #[serde(default = "default_max_decompressed_bytes")]
    pub max_decompressed_bytes: usize,
    /// Deepest nesting of objects and arrays in one document; deeper documents get a
    /// per-item 400. Default 64.
    #[serde(default = "default_max_json_depth")]
    pub max_json_depth: usize,
    /// `cluster_name` reported by `GET /`. Default `sentinella`.
    #[serde(default = "default_cluster_name")]
    pub cluster_name: String,
}

fn default_max_body_bytes() -> usize {
    100 * 1024 * 1024
}

fn default_max_decompressed_bytes() -> usize {
    200 * 1024 * 1024
}

fn default_max_json_depth() -> usize {
    64
}

fn default_cluster_name() -> String {
    "sentinella".to_owned()
}

/// serde_json refuses to nest deeper than this anyway.
const SERDE_JSON_RECURSION_LIMIT: usize = 127;

impl ElasticsearchConfig {
    /// Validates the limits.
    pub fn build(&self) -> Result<ElasticsearchApi, BuildError> {
        if self.max_body_bytes == 0 {
            return Err(BuildError::InvalidConfig {
                field: "max_body_bytes",
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.max_decompressed_bytes < self.max_body_bytes {
            return Err(BuildError::InvalidConfig {
                field: "max_decompressed_bytes",
                reason: "must be at least `max_body_bytes`".to_owned(),
            });
        }
        if !(1..=SERDE_JSON_RECURSION_LIMIT).contains(&self.max_json_depth) {
            return Err(BuildError::InvalidConfig {
                field: "max_json_depth",
                reason: format!("must be between 1 and {SERDE_JSON_RECURSION_LIMIT}"),
            });
        }
        if self.cluster_name.is_empty() {
            return Err(BuildError::InvalidConfig {
                field: "cluster_name",
                reason: "must not be empty".to_owned(),
            });
        }
        Ok(ElasticsearchApi {
            limits: Limits {
                max_body_bytes: self.max_body_bytes,
                max_decompressed_bytes: self.max_decompressed_bytes,
                max_json_depth: self.max_json_depth,
            },
            cluster_name: self.cluster_name.clone(),
        })
    }
}

/// Validated limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_body_bytes: usize,
    pub(crate) max_decompressed_bytes: usize,
    pub(crate) max_json_depth: usize,
}

/// The validated API, ready to be turned into a [`Router`].
#[derive(Debug, Clone)]
pub struct ElasticsearchApi {
    pub(crate) limits: Limits,
    pub(crate) cluster_name: String,
}

impl ElasticsearchApi {
    /// The API with every limit at its default.
    pub fn with_defaults() -> ElasticsearchApi {
        ElasticsearchApi {
            limits: Limits {
                max_body_bytes: default_max_body_bytes(),
                max_decompressed_bytes: default_max_decompressed_bytes(),
                max_json_depth: default_max_json_depth(),
            },
            cluster_name: default_cluster_name(),
        }
    }

    /// The axum router serving the API; submits documents to `intake` and checks every
    /// request's token with `auth`.
    pub fn router(&self, intake: Intake, auth: Arc<dyn TokenCheck>) -> Router {
        router::build(self.clone(), intake, auth)
    }
}
