use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use base64::{Engine as _, engine::general_purpose::STANDARD};

use super::token_from_headers;

fn check(authorization: Option<&str>, expect: Option<&str>) {
    let mut headers = HeaderMap::new();
    if let Some(value) = authorization {
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    }
    assert_eq!(
        token_from_headers(&headers).as_deref(),
        expect,
        "{authorization:?}"
    );
}

#[test]
fn bearer() {
    check(Some("Bearer s3cret"), Some("s3cret"));
    check(Some("bearer  s3cret "), Some("s3cret"));
    check(Some("Bearer "), None);
}

#[test]
fn api_key_encoded_and_bare() {
    let encoded = STANDARD.encode("key-id:s3cret");
    check(Some(&format!("ApiKey {encoded}")), Some("s3cret"));
    check(Some("ApiKey s3cret"), Some("s3cret"));
}

#[test]
fn basic_with_any_user_and_colons_in_password() {
    let encoded = STANDARD.encode("elastic:s3:cret");
    check(Some(&format!("Basic {encoded}")), Some("s3:cret"));
    let encoded = STANDARD.encode("elastic:");
    check(Some(&format!("Basic {encoded}")), None);
    check(Some("Basic !!!"), None);
}

#[test]
fn missing_or_unknown_scheme() {
    check(None, None);
    check(Some("Digest abc"), None);
    check(Some("s3cret"), None);
}
