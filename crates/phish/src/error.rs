//! Errors of the desk (the analysis itself never fails).

use std::path::PathBuf;

/// Why a desk operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PhishError {
    #[error("no phishing report {0}")]
    NotFound(String),
    #[error("failed to access {0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
    #[error("report {0} is not valid JSON: {1}")]
    Json(String, #[source] serde_json::Error),
}
