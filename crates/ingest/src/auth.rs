//! Token authentication for the HTTP sources.
//!
//! Shippers authenticate in whatever way their Elasticsearch output supports, so every
//! common form carries the same secret token `T`:
//! - `Authorization: Bearer T`
//! - `Authorization: ApiKey T`, or `ApiKey base64(id:T)` as Elasticsearch API keys are
//!   sent (the id is ignored, the key part is the token)
//! - `Authorization: Basic base64(user:T)` with any user name

use axum::http::{HeaderMap, header::AUTHORIZATION};
use base64::{Engine as _, engine::general_purpose::STANDARD};

/// Decides whether a token grants access. Implementations should compare in constant time.
pub trait TokenCheck: Send + Sync {
    /// Whether `token` is valid.
    fn check(&self, token: &str) -> bool;
}

impl<F> TokenCheck for F
where
    F: Fn(&str) -> bool + Send + Sync,
{
    fn check(&self, token: &str) -> bool {
        self(token)
    }
}

/// Extracts the token from the `Authorization` header, in any of the forms listed in the
/// module documentation. `None` when there is no usable header.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    if credentials.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(credentials.to_owned())
    } else if scheme.eq_ignore_ascii_case("apikey") {
        // Elasticsearch clients send `base64(id:api_key)`; a bare token is also accepted.
        match decode_pair(credentials) {
            Some((_id, key)) if !key.is_empty() => Some(key),
            _ => Some(credentials.to_owned()),
        }
    } else if scheme.eq_ignore_ascii_case("basic") {
        let (_user, password) = decode_pair(credentials)?;
        (!password.is_empty()).then_some(password)
    } else {
        None
    }
}

/// Decodes `base64(left:right)`, splitting at the first colon (passwords may hold colons).
fn decode_pair(encoded: &str) -> Option<(String, String)> {
    let decoded = STANDARD.decode(encoded).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (left, right) = decoded.split_once(':')?;
    Some((left.to_owned(), right.to_owned()))
}

#[cfg(test)]
mod tests;
