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

/// What an entry is, so that its STIX object can be built once it is on the page served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Indicator,
    Pattern,
    /// Our sightings of an indicator the partner gave us.
    Sighting,
}

impl EntryKind {
    fn stix_type(self) -> &'static str {
        match self {
            EntryKind::Indicator | EntryKind::Pattern => "indicator",
            EntryKind::Sighting => "sighting",
        }
    }
}

/// Where an entry's object comes from: a position in the indicator set (read under the
/// same lock as the listing), or a pattern-only indicator's id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Indicator(Position),
    /// Our sightings of the indicator at this position.
    Sighting(Position),
    Pattern(String),
}

/// Listing order: `date_added` (microseconds), then a tie-break stable while the set
/// lives (positions survive updates), so `next` can be a key rather than an offset: a
/// page is found by one pass over the compact records, whatever was added meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    date_added: i64,
    tie: u64,
}

impl Key {
    fn of(date_added: Timestamp, origin: &Origin) -> Key {
        let tie = match origin {
            Origin::Indicator(at) => u64::from(at.0) << 2,
            Origin::Sighting(at) => (u64::from(at.0) << 2) | 1,
            // A hash of the id: patterns have no position (FNV-1a, 32 bits).
            Origin::Pattern(id) => {
                let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| {
                    (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
                });
                (u64::from(hash) << 2) | 2
            }
        };
        Key {
            date_added: date_added.as_microsecond(),
            tie,
        }
    }

    fn token(self) -> String {
        format!("{}.{}", self.date_added, self.tie)
    }

    fn parse(token: &str) -> Option<Key> {
        let (date_added, tie) = token.split_once('.')?;
        Some(Key {
            date_added: date_added.parse().ok()?,
            tie: tie.parse().ok()?,
        })
    }
}

/// One object version as the collection holds it. Its STIX form is built only for the
/// page served.
struct Entry {
    id: String,
    kind: EntryKind,
    origin: Origin,
    version: Timestamp,
    date_added: Timestamp,
}

/// What a partner cleared up to `clearance` may read of `collection`, at `now`. TLP decides
/// here, for every read path (objects, object, versions, manifest), when the entries are
/// listed (on the compact records' fields) and again when their objects are built.
struct Reader<'a> {
    partner: &'a PartnerAccount,
    collection: &'a Collection,
    now: Timestamp,
}

impl Reader<'_> {
    fn reads_indicator(&self, indicator: &intel::Indicator) -> bool {
        // Withdrawn ones stay, as revoked versions: partners drop them too.
        (indicator.is_active(self.now) || indicator.withdrawn)
            && indicator.tlp.shareable_with(self.partner.partner.max_tlp)
            && self.collection.holds(indicator)
    }

    /// As [`Reader::reads_indicator`], on the undecoded record.
    fn reads_meta(&self, meta: &IndicatorMeta<'_>) -> bool {
        (meta.is_active(self.now) || meta.withdrawn)
            && meta.tlp.shareable_with(self.partner.partner.max_tlp)
            && self.collection.holds_meta(meta)
    }

    fn reads_pattern(&self, pattern: &intel::PatternIndicator) -> bool {
        pattern.tlp.shareable_with(self.partner.partner.max_tlp)
            && pattern.valid_until.is_none_or(|until| self.now < until)
            && self.collection.holds_pattern(pattern)
    }

    /// Sightings go back to the source: a partner sees our sightings of the indicators it
    /// gave us (its name among the sources), under the indicator's TLP.
    fn reads_sighting_of(&self, indicator: &intel::Indicator) -> bool {
        indicator.sightings > 0
            && indicator.sources.contains(&self.partner.partner.name)
            && indicator.is_active(self.now)
            && indicator.tlp.shareable_with(self.partner.partner.max_tlp)
            && self.collection.holds(indicator)
    }

    /// As [`Reader::reads_sighting_of`], on the undecoded record.
    fn reads_sighting_meta(&self, meta: &IndicatorMeta<'_>) -> bool {
        meta.sightings > 0
            && meta.sources().any(|s| s == self.partner.partner.name)
            && meta.is_active(self.now)
            && meta.tlp.shareable_with(self.partner.partner.max_tlp)
            && self.collection.holds_meta(meta)
    }

    fn indicator_entry(at: Position, indicator: &intel::Indicator) -> Entry {
        Entry {
            id: indicator.id.clone(),
            kind: EntryKind::Indicator,
            origin: Origin::Indicator(at),
            version: millis(indicator.modified),
            date_added: micros(indicator.modified),
        }
    }

    fn pattern_entry(pattern: &intel::PatternIndicator) -> Entry {
        Entry {
            id: pattern.id.clone(),
            kind: EntryKind::Pattern,
            origin: Origin::Pattern(pattern.id.clone()),
            version: millis(pattern.modified),
            date_added: micros(pattern.modified),
        }
    }

    fn sighting_entry(at: Position, indicator: &intel::Indicator) -> Entry {
        let last = indicator.last_seen.unwrap_or(indicator.modified);
        Entry {
            id: sighting_id(indicator),
            kind: EntryKind::Sighting,
            origin: Origin::Sighting(at),
            version: millis(last),
            date_added: micros(last),
        }
    }

    /// The page of what the partner may read that `filters` select, after `after` in
    /// listing order, and whether more follow. One pass over the compact records without
    /// decoding them, keeping the `limit + 1` first keys (memory bounded by the page);
    /// only the page's indicators are decoded (and read again, same lock, same rules).
    fn page(
        &self,
        store: &IntelStore,
        filters: &Filters,
        after: Option<Key>,
        limit: usize,
    ) -> (Vec<Entry>, bool) {
        let set = store.set();
        let mut first: std::collections::BinaryHeap<(Key, Origin)> =
            std::collections::BinaryHeap::with_capacity(limit + 1);
        let mut offer = |key: Key, origin: Origin| {
            if after.is_some_and(|after| key <= after) {
                return;
            }
            if first.len() <= limit {
                first.push((key, origin));
            } else if first.peek().is_some_and(|(top, _)| key < *top) {
                first.pop();
                first.push((key, origin));
            }
        };
        for meta in set.metas() {
            if filters.kind(EntryKind::Indicator) && self.reads_meta(&meta) {
                let origin = Origin::Indicator(meta.position);
                let date_added = micros(meta.modified);
                if filters.selects(date_added, millis(meta.modified), || {
                    set.id_at(meta.position).unwrap_or_default()
                }) {
                    offer(Key::of(date_added, &origin), origin);
                }
            }
            if filters.kind(EntryKind::Sighting) && self.reads_sighting_meta(&meta) {
                let origin = Origin::Sighting(meta.position);
                let last = meta.last_seen.unwrap_or(meta.modified);
                let date_added = micros(last);
                if filters.selects(date_added, millis(last), || {
                    set.at(meta.position)
                        .map(|i| sighting_id(&i))
                        .unwrap_or_default()
                }) {
                    offer(Key::of(date_added, &origin), origin);
                }
            }
        }
        if filters.kind(EntryKind::Pattern) {
            for pattern in set.patterns().filter(|p| self.reads_pattern(p)) {
                let date_added = micros(pattern.modified);
                if filters.selects(date_added, millis(pattern.modified), || pattern.id.clone()) {
                    let origin = Origin::Pattern(pattern.id.clone());
                    offer(Key::of(date_added, &origin), origin);
                }
            }
        }
        let mut found = first.into_sorted_vec();
        let more = found.len() > limit;
        found.truncate(limit);
        let entries = found
            .into_iter()
            .filter_map(|(_, origin)| match origin {
                Origin::Indicator(at) => set.at(at).map(|i| Self::indicator_entry(at, &i)),
                Origin::Sighting(at) => set.at(at).map(|i| Self::sighting_entry(at, &i)),
                Origin::Pattern(id) => set.patterns().find(|p| p.id == id).map(Self::pattern_entry),
            })
            .collect();
        (entries, more)
    }

    /// The versions of one object the partner may read (found by id, not by a scan).
    fn entries_of(&self, store: &IntelStore, object_id: &str) -> Vec<Entry> {
        let set = store.set();
        let mut entries = Vec::new();
        if let Some(at) = set.position_of_id(object_id)
            && let Some(indicator) = set.at(at)
            && self.reads_indicator(&indicator)
        {
            entries.push(Self::indicator_entry(at, &indicator));
        }
        entries.extend(
            set.patterns()
                .filter(|p| p.id == object_id && self.reads_pattern(p))
                .map(Self::pattern_entry),
        );
        if object_id.starts_with("sighting--") {
            // Only sighted indicators of this partner are decoded (sighting ids are
            // derived from the indicator's).
            entries.extend(
                set.metas()
                    .filter(|meta| self.reads_sighting_meta(meta))
                    .filter_map(|meta| Some((meta.position, set.at(meta.position)?)))
                    .filter(|(_, i)| self.reads_sighting_of(i) && sighting_id(i) == object_id)
                    .map(|(at, i)| Self::sighting_entry(at, &i)),
            );
        }
        entries.sort_by_key(|e| Key::of(e.date_added, &e.origin));
        entries
    }

    /// The STIX objects of `page`, checked again (same lock, same rules).
    fn objects(&self, store: &IntelStore, page: &[Entry]) -> Vec<Value> {
        let set = store.set();
        page.iter()
            .filter_map(|entry| match &entry.origin {
                Origin::Indicator(at) => set
                    .at(*at)
                    .filter(|i| i.id == entry.id && self.reads_indicator(i))
                    .map(|i| without_collection_tags(stix_indicator(&i))),
                Origin::Pattern(id) => set
                    .patterns()
                    .find(|p| &p.id == id)
                    .filter(|p| self.reads_pattern(p))
                    .map(stix_pattern_indicator),
                Origin::Sighting(at) => set
                    .at(*at)
                    .filter(|i| self.reads_sighting_of(i) && sighting_id(i) == entry.id)
                    .map(|i| {
                        let last = i.last_seen.unwrap_or(i.modified);
                        sighting_object(&i, last)
                    }),
            })
            .collect()
    }
}

fn sighting_id(indicator: &intel::Indicator) -> String {
    intel::derived_id("sighting", &format!("sentinella-sighting:{}", indicator.id))
}

/// Drops the tags recording which collection an object was written to: partners of other
/// collections do not learn their names.
fn without_collection_tags(mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut()
        && let Some(Value::Array(labels)) = map.get_mut("labels")
    {
        labels.retain(|l| {
            !l.as_str()
                .is_some_and(|l| l.starts_with(COLLECTION_TAG_PREFIX))
        });
        if labels.is_empty() {
            map.remove("labels");
        }
    }
    object
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
        "id": sighting_id(indicator),
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

/// `added_after` and the `match[…]` filters of a request.
struct Filters {
    added_after: Option<Timestamp>,
    ids: Option<Vec<String>>,
    types: Option<Vec<String>>,
    spec_versions: Option<Vec<String>>,
    versions: Option<Vec<String>>,
}

impl Filters {
    fn parse(params: &Params) -> Result<Filters, TaxiiError> {
        let added_after = param(params, "added_after")
            .map(|t| {
                t.parse::<Timestamp>().map_err(|_| {
                    fail(
                        StatusCode::BAD_REQUEST,
                        "Bad Request",
                        "added_after is not a timestamp",
                    )
                })
            })
            .transpose()?;
        Ok(Filters {
            added_after,
            ids: list_param(params, "match[id]"),
            types: list_param(params, "match[type]"),
            spec_versions: list_param(params, "match[spec_version]"),
            versions: list_param(params, "match[version]"),
        })
    }

    /// Whether entries of `kind` can be selected at all (`match[type]`, and
    /// `match[spec_version]`: every object served is STIX 2.1).
    fn kind(&self, kind: EntryKind) -> bool {
        self.types
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| kind.stix_type() == t))
            && self
                .spec_versions
                .as_ref()
                .is_none_or(|v| v.iter().any(|v| v == "2.1"))
    }

    /// Whether an entry with these times and id (computed only when `match[id]` asks)
    /// is selected; its kind is checked by [`Filters::kind`].
    fn selects(
        &self,
        date_added: Timestamp,
        version: Timestamp,
        id: impl FnOnce() -> String,
    ) -> bool {
        self.added_after.is_none_or(|after| date_added > after)
            && self.versions.as_ref().is_none_or(|versions| {
                // One version per object is held: `last`, `first` and `all` all select it.
                versions.iter().any(|v| {
                    matches!(v.as_str(), "last" | "first" | "all")
                        || v.parse::<Timestamp>().is_ok_and(|t| t == version)
                })
            })
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&id()))
    }

    fn filter(&self, entries: Vec<Entry>) -> Vec<Entry> {
        entries
            .into_iter()
            .filter(|e| self.kind(e.kind) && self.selects(e.date_added, e.version, || e.id.clone()))
            .collect()
    }
}

/// `limit` and `next` (the key of the last entry served: opaque to clients).
fn paging(params: &Params) -> Result<(usize, Option<Key>), TaxiiError> {
    let bad = |what: &str| fail(StatusCode::BAD_REQUEST, "Bad Request", what);
    let limit = param(params, "limit")
        .map(|l| l.parse::<usize>().map_err(|_| bad("limit is not a number")))
        .transpose()?
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let after = param(params, "next")
        .map(|n| Key::parse(n).ok_or_else(|| bad("next is not a value this server gave")))
        .transpose()?;
    Ok((limit, after))
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

/// A read request checked (credentials, collection) and the store locked for it.
struct Read<'a> {
    store: std::sync::MutexGuard<'a, IntelStore>,
    reader: Reader<'a>,
}

fn start_read<'a>(
    intel: &'a IntelState,
    headers: &HeaderMap,
    root: &str,
    id: &str,
) -> Result<Read<'a>, TaxiiError> {
    let partner = check(intel, headers, Some(root))?;
    let collection = find_collection(intel, partner, id)?;
    Ok(Read {
        store: intel.lock(),
        reader: Reader {
            partner,
            collection,
            now: Timestamp::now(),
        },
    })
}

/// The page of entries a collection request asks for, with the read it came from.
fn read_page<'a>(
    intel: &'a IntelState,
    headers: &HeaderMap,
    root: &str,
    id: &str,
    params: &Params,
) -> Result<(Read<'a>, Vec<Entry>, Option<String>), TaxiiError> {
    let read = start_read(intel, headers, root, id)?;
    let filters = Filters::parse(params)?;
    let (limit, after) = paging(params)?;
    let (page, more) = read.reader.page(&read.store, &filters, after, limit);
    let next = more
        .then(|| {
            page.last()
                .map(|e| Key::of(e.date_added, &e.origin).token())
        })
        .flatten();
    Ok((read, page, next))
}

async fn objects(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Response {
    let (read, page, next) = match read_page(&intel, &headers, &root, &id, &params) {
        Ok(found) => found,
        Err(response) => return response.into_response(),
    };
    let objects = read.reader.objects(&read.store, &page);
    drop(read);
    let mut body = json!({"more": next.is_some(), "objects": objects});
    if let Some(next) = next {
        body["next"] = json!(next);
    }
    with_date_headers(taxii(StatusCode::OK, body), &page)
}

/// The entries (versions) of one object the caller may read, with the read; 404 when there
/// are none, exactly as for an object that does not exist (withheld objects are not
/// revealed).
fn object_entries<'a>(
    intel: &'a IntelState,
    headers: &HeaderMap,
    root: &str,
    id: &str,
    object_id: &str,
    params: &Params,
) -> Result<(Read<'a>, Vec<Entry>), Box<Response>> {
    let read = start_read(intel, headers, root, id).map_err(|e| Box::new(e.into_response()))?;
    let entries = read.reader.entries_of(&read.store, object_id);
    let filters = Filters::parse(params).map_err(|e| Box::new(e.into_response()))?;
    let entries = filters.filter(entries);
    if entries.is_empty() {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "no such object",
        )));
    }
    Ok((read, entries))
}

async fn object(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id, object_id)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Response {
    let (read, entries) = match object_entries(&intel, &headers, &root, &id, &object_id, &params) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let objects = read.reader.objects(&read.store, &entries);
    drop(read);
    with_date_headers(
        taxii(StatusCode::OK, json!({"more": false, "objects": objects})),
        &entries,
    )
}

async fn versions(
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id, object_id)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Response {
    let (read, entries) = match object_entries(&intel, &headers, &root, &id, &object_id, &params) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    drop(read);
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
    let (read, page, next) = match read_page(&intel, &headers, &root, &id, &params) {
        Ok(found) => found,
        Err(response) => return response.into_response(),
    };
    drop(read);
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

/// POST objects: indicators are imported with the partner as source, into the collection
/// (tagged [`Collection::written_tag`]); their own TLP markings are kept (unmarked ones are
/// taken as TLP:AMBER, the partner's to widen). Objects the collection cannot hold (a kind
/// or TLP outside its selection) are refused one by one in the status.
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
    let collection = match find_collection(&intel, &partner, &id) {
        Ok(collection) => collection.clone(),
        Err(response) => return response.into_response(),
    };
    if !collection.writable {
        return error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "this collection is read-only",
        );
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
            let mut report = intel::import::stix::import_objects(std::slice::from_ref(object), &options);
            if report.indicators.is_empty() && report.patterns.is_empty() && report.sightings.is_empty() && report.revoked.is_empty() {
                let reason = report.problems.first().map_or("not importable".to_owned(), |p| p.reason.clone());
                failures.push(json!({"id": object_id, "version": version, "message": reason}));
                continue;
            }
            // Credited to the partner whatever the object claims, and held by this collection.
            let (written, source) = (collection.written_tag(), &partner.partner.name);
            for indicator in &mut report.indicators {
                indicator.sources = vec![source.clone()];
                indicator.tags.push(written.clone());
            }
            for pattern in &mut report.patterns {
                pattern.sources = vec![source.clone()];
                pattern.tags.push(written.clone());
            }
            for revoked in &mut report.revoked {
                revoked.2 = source.clone();
            }
            let fits = report.indicators.iter().all(|i| collection.holds(i))
                && report.patterns.iter().all(|p| collection.holds_pattern(p));
            if !fits {
                failures.push(json!({"id": object_id, "version": version,
                    "message": format!("outside the selection of collection {} (indicator kinds or TLP)", collection.name)}));
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

/// What a DELETE withdraws.
enum Withdrawal {
    /// The partner's report of a value (the indicator is withdrawn when no other source
    /// reports it).
    Indicator(intel::IndicatorKind, String),
    /// A pattern-only indicator, ended now.
    Pattern(Box<intel::PatternIndicator>),
}

/// The object `object_id` of `collection` that `partner` may delete: its own (it is among
/// the sources), still in force. Someone else's object it can read is 403; one it cannot
/// read, or that does not exist, 404 (withheld objects are not revealed).
fn deletable(
    intel: &IntelState,
    partner: &PartnerAccount,
    collection: &Collection,
    object_id: &str,
) -> Result<Withdrawal, TaxiiError> {
    let not_found = || fail(StatusCode::NOT_FOUND, "Not Found", "no such object");
    let not_own = || {
        fail(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "only objects this partner added can be deleted",
        )
    };
    let now = Timestamp::now();
    let clearance = partner.partner.max_tlp;
    let store = intel.lock();
    let name = &partner.partner.name;
    if let Some(indicator) = store.set().get_by_id(object_id) {
        if !indicator.is_active(now) || !collection.holds(&indicator) {
            return Err(not_found());
        }
        return match (
            indicator.sources.contains(name),
            indicator.tlp.shareable_with(clearance),
        ) {
            (true, _) => Ok(Withdrawal::Indicator(
                indicator.kind,
                indicator.value.clone(),
            )),
            (false, true) => Err(not_own()),
            (false, false) => Err(not_found()),
        };
    }
    let pattern = store
        .set()
        .patterns()
        .find(|p| p.id == object_id)
        .filter(|p| p.valid_until.is_none_or(|until| now < until) && collection.holds_pattern(p))
        .ok_or_else(not_found)?;
    match (
        pattern.sources.contains(name),
        pattern.tlp.shareable_with(clearance),
    ) {
        (true, _) => Ok(Withdrawal::Pattern(Box::new(pattern.clone()))),
        (false, true) => Err(not_own()),
        (false, false) => Err(not_found()),
    }
}

/// DELETE an object (TAXII 2.1 §5.7): a partner with write access to the collection
/// withdraws an object it added. The indicator stays known, as a revoked version partners
/// read, and leaves matching and every blocklist on their next refresh.
async fn delete_object(
    axum::extract::State(state): axum::extract::State<AppState>,
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id, object_id)): Path<(String, String, String)>,
) -> Response {
    let partner = match check(&intel, &headers, Some(&root)) {
        Ok(partner) => partner.clone(),
        Err(response) => return response.into_response(),
    };
    let collection = match find_collection(&intel, &partner, &id) {
        Ok(collection) => collection.clone(),
        Err(response) => return response.into_response(),
    };
    if !collection.writable {
        return error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "this collection is read-only",
        );
    }
    let withdrawal = match deletable(&intel, &partner, &collection, &object_id) {
        Ok(withdrawal) => withdrawal,
        Err(response) => return response.into_response(),
    };
    let intel_for_work = Arc::clone(&intel);
    let events = Arc::clone(&state.store);
    let name = partner.partner.name.clone();
    let work = tokio::task::spawn_blocking(move || {
        let now = Timestamp::now();
        let mut report = intel::ImportReport::default();
        match withdrawal {
            Withdrawal::Indicator(kind, value) => report.revoked.push((kind, value, name)),
            Withdrawal::Pattern(mut pattern) => {
                pattern.valid_until = Some(now);
                pattern.modified = now;
                report.patterns.push(*pattern);
            }
        }
        intel_for_work.import_report(report, events.as_ref())
    })
    .await;
    match work {
        Ok(Ok(_)) => {
            tracing::info!(partner = %partner.partner.name, collection = %collection.name, object = %object_id, "taxii object deleted by its partner");
            let mut response = StatusCode::OK.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
            response
        }
        Ok(Err(err)) => {
            tracing::error!(error = %err, "taxii delete not saved");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Error",
                "object not deleted",
            )
        }
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Error",
            "object not deleted",
        ),
    }
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
