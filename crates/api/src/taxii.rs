//! A TAXII 2.1 server (OASIS TAXII 2.1, CS01) for partner organisations: discovery at
//! `/taxii2/`, one API root (`/taxii2/sentinella/`), collections, objects with
//! `added_after`/`limit`/`next` pagination and `match[id|type|version|spec_version]`
//! filters, manifests, versions, and POST of objects with status resources.
//!
//! Partners authenticate with HTTP Basic (their own credentials, checked here, not by the
//! console's middleware, which lets `/taxii2/` through). TLP is enforced on every read:
//! a partner sees only objects whose TLP its clearance covers, never TLP:RED, and
//! withheld objects are indistinguishable from absent ones.

use std::sync::Arc;

use axum::extract::{Extension, Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use intel::export::{stix_indicator, stix_pattern_indicator};
use intel::{ImportOptions, Tlp};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::AppState;
use crate::threat_intel::{IntelState, PartnerAccount, constant_time_eq};

/// The TAXII 2.1 media type.
pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The one API root.
pub const API_ROOT: &str = "sentinella";
/// The collection of indicators.
pub const INDICATORS_COLLECTION: &str = "indicators";
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
            get(object),
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

fn collection_info(partner: &PartnerAccount, name: &str) -> Option<Value> {
    if name != INDICATORS_COLLECTION || !partner.partner.collections.iter().any(|c| c == name) {
        return None;
    }
    Some(json!({
        "id": collection_id(name),
        "title": "Indicators",
        "description": format!("Indicators shared with {} up to {}", partner.partner.name, partner.partner.max_tlp.label()),
        "can_read": true,
        "can_write": true,
        "media_types": ["application/stix+json;version=2.1"],
    }))
}

/// The collection `id` names, if the partner may use it.
fn find_collection(partner: &PartnerAccount, id: &str) -> Result<&'static str, TaxiiError> {
    [INDICATORS_COLLECTION]
        .into_iter()
        .find(|name| {
            collection_id(name) == id && partner.partner.collections.iter().any(|c| c == name)
        })
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
    let list: Vec<Value> = [INDICATORS_COLLECTION]
        .into_iter()
        .filter_map(|name| collection_info(partner, name))
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
    match find_collection(partner, &id) {
        Ok(name) => taxii(
            StatusCode::OK,
            collection_info(partner, name).expect("found above"),
        ),
        Err(response) => response.into_response(),
    }
}

/// One object version as the collection holds it.
struct Entry {
    id: String,
    version: Timestamp,
    date_added: Timestamp,
    object: Value,
}

/// Every object the partner may read, oldest first. TLP decides here, once, for every
/// read path (objects, object, versions, manifest).
fn readable(intel: &IntelState, partner: &PartnerAccount) -> Vec<Entry> {
    let store = intel.lock();
    let now = Timestamp::now();
    let clearance = partner.partner.max_tlp;
    let mut entries: Vec<Entry> = store
        .set()
        .indicators()
        .iter()
        // Withdrawn ones stay, as revoked versions: partners drop them too.
        .filter(|i| (i.is_active(now) || i.withdrawn) && i.tlp.shareable_with(clearance))
        .map(|i| Entry {
            id: i.id.clone(),
            version: millis(i.modified),
            date_added: micros(i.modified),
            object: stix_indicator(i),
        })
        .chain(
            store
                .set()
                .patterns()
                .filter(|p| {
                    p.tlp.shareable_with(clearance) && p.valid_until.is_none_or(|until| now < until)
                })
                .map(|p| Entry {
                    id: p.id.clone(),
                    version: millis(p.modified),
                    date_added: micros(p.modified),
                    object: stix_pattern_indicator(p),
                }),
        )
        .collect();
    // Sightings go back to the source: a partner sees our sightings of the indicators it
    // gave us (its name among the sources), under the indicator's TLP.
    entries.extend(
        store
            .set()
            .indicators()
            .iter()
            .filter(|i| i.sightings > 0 && i.sources.contains(&partner.partner.name))
            .filter(|i| i.is_active(now) && i.tlp.shareable_with(clearance))
            .map(|i| {
                let last = i.last_seen.unwrap_or(i.modified);
                Entry {
                    id: intel::derived_id("sighting", &format!("sentinella-sighting:{}", i.id)),
                    version: millis(last),
                    date_added: micros(last),
                    object: sighting_object(i, last),
                }
            }),
    );
    entries.sort_by(|a, b| {
        a.date_added
            .cmp(&b.date_added)
            .then_with(|| a.id.cmp(&b.id))
    });
    entries
}

/// Versions are the objects' `modified`, which STIX exports write to the millisecond.
fn millis(ts: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(ts.as_millisecond()).unwrap_or(ts)
}

/// `date_added` as written in responses (microseconds), so a client's `added_after` taken
/// from a response compares exactly.
fn micros(ts: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(ts.as_microsecond()).unwrap_or(ts)
}

/// A STIX 2.1 sighting of an indicator: how often, and until when, we saw it.
fn sighting_object(indicator: &intel::Indicator, last: Timestamp) -> Value {
    json!({
        "type": "sighting",
        "spec_version": "2.1",
        "id": intel::derived_id("sighting", &format!("sentinella-sighting:{}", indicator.id)),
        "created": version_time(millis(last)),
        "modified": version_time(millis(last)),
        "sighting_of_ref": indicator.id,
        "count": indicator.sightings.min(999_999_999),
        "last_seen": version_time(millis(last)),
        "object_marking_refs": [indicator.tlp.marking_id()],
    })
}

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn list_param(params: &Params, name: &str) -> Option<Vec<String>> {
    param(params, name).map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
}

/// Applies `added_after` and the `match[…]` filters.
fn filter(entries: Vec<Entry>, params: &Params) -> Result<Vec<Entry>, TaxiiError> {
    let bad = |what: &str| fail(StatusCode::BAD_REQUEST, "Bad Request", what);
    let added_after = param(params, "added_after")
        .map(|t| {
            t.parse::<Timestamp>()
                .map_err(|_| bad("added_after is not a timestamp"))
        })
        .transpose()?;
    let ids = list_param(params, "match[id]");
    let types = list_param(params, "match[type]");
    let spec_versions = list_param(params, "match[spec_version]");
    let versions = list_param(params, "match[version]");
    Ok(entries
        .into_iter()
        .filter(|e| added_after.is_none_or(|after| e.date_added > after))
        .filter(|e| ids.as_ref().is_none_or(|ids| ids.contains(&e.id)))
        .filter(|e| {
            types
                .as_ref()
                .is_none_or(|types| types.iter().any(|t| e.object["type"] == t.as_str()))
        })
        .filter(|e| {
            spec_versions
                .as_ref()
                .is_none_or(|v| v.iter().any(|v| e.object["spec_version"] == v.as_str()))
        })
        .filter(|e| {
            // One version per object is held: `last`, `first` and `all` all select it.
            versions.as_ref().is_none_or(|versions| {
                versions.iter().any(|v| {
                    matches!(v.as_str(), "last" | "first" | "all")
                        || v.parse::<Timestamp>().is_ok_and(|t| t == e.version)
                })
            })
        })
        .collect())
}

/// `limit` and `next` (an opaque offset into the filtered list).
fn page(entries: Vec<Entry>, params: &Params) -> Result<(Vec<Entry>, Option<String>), TaxiiError> {
    let bad = |what: &str| fail(StatusCode::BAD_REQUEST, "Bad Request", what);
    let limit = param(params, "limit")
        .map(|l| l.parse::<usize>().map_err(|_| bad("limit is not a number")))
        .transpose()?
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let start = param(params, "next")
        .map(|n| {
            n.parse::<usize>()
                .map_err(|_| bad("next is not a value this server gave"))
        })
        .transpose()?
        .unwrap_or(0);
    let total = entries.len();
    let page: Vec<Entry> = entries.into_iter().skip(start).take(limit).collect();
    let end = start + page.len();
    Ok((page, (end < total).then(|| end.to_string())))
}

fn stix_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn version_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn with_date_headers(mut response: Response, page: &[Entry]) -> Response {
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        for (name, ts) in [
            ("x-taxii-date-added-first", first.date_added),
            ("x-taxii-date-added-last", last.date_added),
        ] {
            if let Ok(value) = HeaderValue::from_str(&stix_time(ts)) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
}

fn read_entries(
    intel: &IntelState,
    headers: &HeaderMap,
    root: &str,
    id: &str,
    params: &Params,
) -> Result<Vec<Entry>, TaxiiError> {
    let partner = check(intel, headers, Some(root))?;
    find_collection(partner, id)?;
    filter(readable(intel, partner), params)
}

async fn objects(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Response {
    let result = read_entries(&intel, &headers, &root, &id, &params)
        .and_then(|entries| page(entries, &params));
    let (page, next) = match result {
        Ok(page) => page,
        Err(response) => return response.into_response(),
    };
    let objects: Vec<&Value> = page.iter().map(|e| &e.object).collect();
    let mut body = json!({"more": next.is_some(), "objects": objects});
    if let Some(next) = next {
        body["next"] = json!(next);
    }
    with_date_headers(taxii(StatusCode::OK, body), &page)
}

/// The entries (versions) of one object the caller may read; 404 when there are none,
/// exactly as for an object that does not exist (withheld objects are not revealed).
fn object_entries(
    intel: &IntelState,
    headers: &HeaderMap,
    root: &str,
    id: &str,
    object_id: String,
    params: &mut Params,
) -> Result<Vec<Entry>, Box<Response>> {
    params.retain(|(k, _)| k != "match[id]");
    params.push(("match[id]".into(), object_id));
    match read_entries(intel, headers, root, id, params) {
        Ok(entries) if entries.is_empty() => Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "no such object",
        ))),
        Ok(entries) => Ok(entries),
        Err(response) => Err(Box::new(response.into_response())),
    }
}

async fn object(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id, object_id)): Path<(String, String, String)>,
    Query(mut params): Query<Params>,
) -> Response {
    let entries = match object_entries(&intel, &headers, &root, &id, object_id, &mut params) {
        Ok(entries) => entries,
        Err(response) => return *response,
    };
    let objects: Vec<&Value> = entries.iter().map(|e| &e.object).collect();
    with_date_headers(
        taxii(StatusCode::OK, json!({"more": false, "objects": objects})),
        &entries,
    )
}

async fn versions(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id, object_id)): Path<(String, String, String)>,
    Query(mut params): Query<Params>,
) -> Response {
    let entries = match object_entries(&intel, &headers, &root, &id, object_id, &mut params) {
        Ok(entries) => entries,
        Err(response) => return *response,
    };
    let versions: Vec<String> = entries.iter().map(|e| version_time(e.version)).collect();
    with_date_headers(
        taxii(StatusCode::OK, json!({"more": false, "versions": versions})),
        &entries,
    )
}

async fn manifest(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Response {
    let result = read_entries(&intel, &headers, &root, &id, &params)
        .and_then(|entries| page(entries, &params));
    let (page, next) = match result {
        Ok(page) => page,
        Err(response) => return response.into_response(),
    };
    let records: Vec<Value> = page
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "date_added": stix_time(e.date_added),
                "version": version_time(e.version),
                "media_type": "application/stix+json;version=2.1",
            })
        })
        .collect();
    let mut body = json!({"more": next.is_some(), "objects": records});
    if let Some(next) = next {
        body["next"] = json!(next);
    }
    with_date_headers(taxii(StatusCode::OK, body), &page)
}

/// POST objects: indicators are imported with the partner as source; their own TLP
/// markings are kept (unmarked ones are taken as TLP:AMBER, the partner's to widen).
async fn add_objects(
    axum::extract::State(state): axum::extract::State<AppState>,
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let partner = match check(&intel, &headers, Some(&root)) {
        Ok(partner) => partner.clone(),
        Err(response) => return response.into_response(),
    };
    if let Err(response) = find_collection(&partner, &id) {
        return response.into_response();
    }
    if body.len() > MAX_CONTENT_LENGTH {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload Too Large",
            "envelope larger than max_content_length",
        );
    }
    let envelope: Value = match serde_json::from_slice(&body) {
        Ok(envelope) => envelope,
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                &format!("invalid envelope: {err}"),
            );
        }
    };
    let Some(objects) = envelope.get("objects").and_then(Value::as_array).cloned() else {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "an envelope needs `objects`",
        );
    };
    let requested = Timestamp::now();
    let intel_for_work = Arc::clone(&intel);
    let events = Arc::clone(&state.store);
    let work = tokio::task::spawn_blocking(move || {
        let options = ImportOptions::new(&partner.partner.name, Tlp::Amber);
        let mut successes = Vec::new();
        let mut failures = Vec::new();
        let mut accepted = intel::ImportReport::default();
        for object in &objects {
            let object_id = object.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
            let version = object.get("modified").and_then(Value::as_str).unwrap_or("").to_owned();
            let object_type = object.get("type").and_then(Value::as_str);
            if !matches!(object_type, Some("indicator" | "sighting")) {
                failures.push(json!({"id": object_id, "version": version, "message": "this collection holds indicators and sightings only"}));
                continue;
            }
            let report = intel::import::stix::import_objects(std::slice::from_ref(object), &options);
            if report.indicators.is_empty() && report.patterns.is_empty() && report.sightings.is_empty() {
                let reason = report.problems.first().map_or("not importable".to_owned(), |p| p.reason.clone());
                failures.push(json!({"id": object_id, "version": version, "message": reason}));
                continue;
            }
            successes.push(json!({"id": object_id, "version": version}));
            accepted.indicators.extend(report.indicators);
            accepted.patterns.extend(report.patterns);
            accepted.sightings.extend(report.sightings);
            accepted.revoked.extend(report.revoked);
        }
        // One change for the whole envelope: one save, one matcher rebuild, and new
        // indicators retro-matched over stored events like any import.
        if let Err(err) = intel_for_work.import_report(accepted, events.as_ref()) {
            tracing::error!(error = %err, "taxii objects not saved");
            return Err(());
        }
        Ok((successes, failures))
    })
    .await;
    let (successes, failures) = match work {
        Ok(Ok(result)) => result,
        _ => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Error",
                "objects not saved",
            );
        }
    };
    let status = json!({
        "id": intel::derived_id("x", &format!("status:{requested}:{}", successes.len())).trim_start_matches("x--"),
        "status": "complete",
        "request_timestamp": stix_time(requested),
        "total_count": successes.len() + failures.len(),
        "success_count": successes.len(),
        "successes": successes,
        "failure_count": failures.len(),
        "failures": failures,
        "pending_count": 0,
        "pendings": [],
    });
    {
        let mut statuses = intel
            .statuses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        statuses.push_back(status.clone());
        while statuses.len() > MAX_STATUSES {
            statuses.pop_front();
        }
    }
    taxii(StatusCode::ACCEPTED, status)
}

async fn status(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, status_id)): Path<(String, String)>,
) -> Response {
    if let Err(response) = check(&intel, &headers, Some(&root)) {
        return response.into_response();
    }
    let statuses = intel
        .statuses
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match statuses.iter().find(|s| s["id"] == status_id.as_str()) {
        Some(found) => taxii(StatusCode::OK, found.clone()),
        None => error(StatusCode::NOT_FOUND, "Not Found", "no such status"),
    }
}
