//! A TAXII 2.1 server (OASIS TAXII 2.1, CS01) for partner organisations: discovery at
//! `/taxii2/`, one API root (`/taxii2/sentinella/`), the configured collections (see
//! [`Collection`]), objects with `added_after`/`limit`/`next` pagination and
//! `match[id|type|version|spec_version]` filters, manifests, versions, POST of objects with
//! status resources, and DELETE of a partner's own objects (§5.7).
//!
//! A page is found by one pass over the set's compact records (no indicator decoded but
//! those served) keeping the first `limit + 1` in order; `next` is the last key served.
//!
//! Partners authenticate with HTTP Basic (their own credentials, checked here, not by the
//! console's middleware, which lets `/taxii2/` through), and see only the collections they
//! list. TLP is enforced on every read: a partner sees only objects whose TLP its clearance
//! covers, never TLP:RED, and withheld objects are indistinguishable from absent ones.
//! Objects a partner writes are credited to it as their source and belong to the
//! collection they were written to ([`Collection::written_tag`]).

use std::sync::Arc;

use axum::extract::{Extension, Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use intel::export::{stix_indicator, stix_pattern_indicator};
use intel::{ImportOptions, IndicatorMeta, Position, Tlp};
use intel_store::IntelStore;
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::AppState;
use crate::threat_intel::{Collection, IntelState, PartnerAccount, constant_time_eq};

mod read;
mod write;

use read::*;
use write::*;

/// The TAXII 2.1 media type.
pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The one API root.
pub const API_ROOT: &str = "sentinella";
/// The default collection (every indicator), when none is configured.
pub const INDICATORS_COLLECTION: &str = "indicators";
/// Tags naming the collection an object was written to ([`Collection::written_tag`]).
pub const COLLECTION_TAG_PREFIX: &str = "taxii:";
/// Largest POST body accepted.
const MAX_CONTENT_LENGTH: usize = 10 * 1024 * 1024;
/// Most objects per page.
const MAX_PAGE: usize = 1_000;
/// Status resources kept for polling.
const MAX_STATUSES: usize = 1_000;

/// The stable id of a collection (TAXII ids are UUIDs).
pub fn collection_id(name: &str) -> String {
    intel::derived_id("x", &format!("taxii-collection:{name}"))
        .trim_start_matches("x--")
        .to_owned()
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/taxii2/{root}/", get(api_root))
        .route("/taxii2/{root}/collections/", get(collections))
        .route("/taxii2/{root}/collections/{id}/", get(collection))
        .route(
            "/taxii2/{root}/collections/{id}/objects/",
            get(objects).post(add_objects),
        )
        .route(
            "/taxii2/{root}/collections/{id}/objects/{object_id}/",
            get(object).delete(delete_object),
        )
        .route(
            "/taxii2/{root}/collections/{id}/objects/{object_id}/versions/",
            get(versions),
        )
        .route("/taxii2/{root}/collections/{id}/manifest/", get(manifest))
        .route("/taxii2/{root}/status/{status_id}/", get(status))
}

fn taxii(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

fn error(status: StatusCode, title: &str, description: &str) -> Response {
    let mut response = taxii(
        status,
        json!({"title": title, "description": description, "http_status": status.as_u16().to_string()}),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"TAXII\""),
        );
    }
    response
}

/// A TAXII error message (§3.6.1), small enough to return in `Result`s.
pub(crate) struct TaxiiError {
    status: StatusCode,
    title: &'static str,
    description: String,
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        error(self.status, self.title, &self.description)
    }
}

fn fail(status: StatusCode, title: &'static str, description: &str) -> TaxiiError {
    TaxiiError {
        status,
        title,
        description: description.to_owned(),
    }
}

/// The partner the request's Basic credentials belong to.
fn partner<'a>(
    intel: &'a IntelState,
    headers: &HeaderMap,
) -> Result<&'a PartnerAccount, TaxiiError> {
    let unauthorized = || {
        fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "valid partner credentials required",
        )
    };
    let encoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .ok_or_else(unauthorized)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(unauthorized)?;
    let (user, password) = decoded.split_once(':').ok_or_else(unauthorized)?;
    let digest: String = sha2::Sha256::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    intel
        .partners
        .iter()
        .find(|p| {
            // Both compared in full, whatever matches first.
            let user_ok = constant_time_eq(p.username.as_bytes(), user.as_bytes());
            let password_ok = constant_time_eq(
                p.password_sha256.to_ascii_lowercase().as_bytes(),
                digest.as_bytes(),
            );
            user_ok & password_ok
        })
        .ok_or_else(unauthorized)
}

/// TAXII 2.1 §1.6.8: a request whose Accept names neither TAXII nor `*/*` gets 406.
fn accepts(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|accept| {
            accept.contains("application/taxii+json")
                || accept.contains("*/*")
                || accept.contains("application/json")
        })
}

/// Common checks: credentials, Accept, API root.
fn check<'a>(
    intel: &'a IntelState,
    headers: &HeaderMap,
    root: Option<&str>,
) -> Result<&'a PartnerAccount, TaxiiError> {
    let partner = partner(intel, headers)?;
    if !accepts(headers) {
        return Err(fail(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable",
            "use application/taxii+json;version=2.1",
        ));
    }
    if root.is_some_and(|root| root != API_ROOT) {
        return Err(fail(StatusCode::NOT_FOUND, "Not Found", "no such API root"));
    }
    Ok(partner)
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

async fn discovery(Extension(intel): Extension<Arc<IntelState>>, headers: HeaderMap) -> Response {
    if let Err(response) = check(&intel, &headers, None) {
        return response.into_response();
    }
    let root = format!("{}/taxii2/{API_ROOT}/", base_url(&headers));
    taxii(
        StatusCode::OK,
        json!({
            "title": "Sentinella TAXII 2.1",
            "description": "Threat intelligence shared under TLP 2.0",
            "default": root,
            "api_roots": [root],
        }),
    )
}

async fn api_root(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path(root): Path<String>,
) -> Response {
    if let Err(response) = check(&intel, &headers, Some(&root)) {
        return response.into_response();
    }
    taxii(
        StatusCode::OK,
        json!({
            "title": "Sentinella",
            "versions": [MEDIA_TYPE],
            "max_content_length": MAX_CONTENT_LENGTH,
        }),
    )
}

fn lists(partner: &PartnerAccount, collection: &Collection) -> bool {
    partner.partner.collections.contains(&collection.name)
}

fn collection_info(partner: &PartnerAccount, collection: &Collection) -> Value {
    // The partner's clearance caps what it reads of the collection.
    let reads_up_to = collection
        .max_tlp
        .min(partner.partner.max_tlp)
        .min(Tlp::AmberStrict);
    let description = if collection.description.is_empty() {
        collection.title.clone()
    } else {
        collection.description.clone()
    };
    json!({
        "id": collection_id(&collection.name),
        "title": collection.title,
        "description": format!("{description} (shared with {} up to {})", partner.partner.name, reads_up_to.label()),
        "alias": collection.name,
        "can_read": true,
        "can_write": collection.writable,
        "media_types": ["application/stix+json;version=2.1"],
    })
}

/// The collection `id` names, if the partner may use it (otherwise 404, as for one that
/// does not exist).
fn find_collection<'a>(
    intel: &'a IntelState,
    partner: &PartnerAccount,
    id: &str,
) -> Result<&'a Collection, TaxiiError> {
    intel
        .collections
        .iter()
        .find(|c| collection_id(&c.name) == id && lists(partner, c))
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Not Found", "no such collection"))
}

async fn collections(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path(root): Path<String>,
) -> Response {
    let partner = match check(&intel, &headers, Some(&root)) {
        Ok(partner) => partner,
        Err(response) => return response.into_response(),
    };
    let list: Vec<Value> = intel
        .collections
        .iter()
        .filter(|c| lists(partner, c))
        .map(|c| collection_info(partner, c))
        .collect();
    taxii(StatusCode::OK, json!({"collections": list}))
}

async fn collection(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id)): Path<(String, String)>,
) -> Response {
    let partner = match check(&intel, &headers, Some(&root)) {
        Ok(partner) => partner,
        Err(response) => return response.into_response(),
    };
    match find_collection(&intel, partner, &id) {
        Ok(collection) => taxii(StatusCode::OK, collection_info(partner, collection)),
        Err(response) => response.into_response(),
    }
}
