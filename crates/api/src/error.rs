use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Every error the API answers with. Each has a stable `code` in the JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid credentials.
    #[error("authentication required")]
    Unauthorized,
    /// The request is malformed (bad query, bad JSON, bad time).
    #[error("{0}")]
    BadRequest(String),
    /// The pipeline queue is full: retry later.
    #[error("server overloaded, retry later")]
    Overloaded,
    /// The request body is larger than allowed.
    #[error("request body too large")]
    TooLarge,
    /// Something failed inside; details are logged, not returned.
    #[error("internal error")]
    Internal(String),
    /// The server is shutting down.
    #[error("server shutting down")]
    Unavailable,
    /// Authenticated but not allowed: `(code, message)`, e.g. `forbidden`, `csrf`, `locked`.
    #[error("{1}")]
    Denied(&'static str, String),
    /// Wrong user name or password.
    #[error("invalid user name or password")]
    SignInFailed,
    /// No such thing (user, token).
    #[error("{0}")]
    NotFound(String),
    /// It already exists.
    #[error("{0}")]
    Conflict(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Overloaded => (StatusCode::TOO_MANY_REQUESTS, "overloaded"),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Denied(code, _) => (StatusCode::FORBIDDEN, code),
            ApiError::SignInFailed => (StatusCode::UNAUTHORIZED, "sign_in_failed"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        }
    }
}

impl From<pipeline::SubmitError> for ApiError {
    fn from(err: pipeline::SubmitError) -> Self {
        match err {
            pipeline::SubmitError::Overloaded => ApiError::Overloaded,
            pipeline::SubmitError::ShuttingDown => ApiError::Unavailable,
            pipeline::SubmitError::Storage(message) => ApiError::Internal(message),
        }
    }
}

impl From<store::StoreError> for ApiError {
    fn from(err: store::StoreError) -> Self {
        match err {
            store::StoreError::InvalidQuery(message) => ApiError::BadRequest(message),
            store::StoreError::Closed => ApiError::Unavailable,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<auth::AuthError> for ApiError {
    fn from(err: auth::AuthError) -> Self {
        use auth::AuthError;
        match err {
            AuthError::InvalidCredentials => ApiError::SignInFailed,
            AuthError::Locked { .. } => ApiError::Denied("locked", err.to_string()),
            AuthError::SourceBlocked { .. } => ApiError::Denied("source_blocked", err.to_string()),
            AuthError::Disabled => ApiError::Denied("disabled", err.to_string()),
            AuthError::NoSuchUser(_) | AuthError::NoSuchToken(_) => {
                ApiError::NotFound(err.to_string())
            }
            AuthError::UserExists(_) | AuthError::ProviderOnly(_) => {
                ApiError::Conflict(err.to_string())
            }
            AuthError::Invalid(message) => ApiError::BadRequest(message),
            AuthError::Random(_) | AuthError::Storage(_) => ApiError::Internal(err.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let mut response = (
            status,
            Json(json!({"error": {"code": code, "message": self.to_string()}})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"sentinella\""),
            );
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}
