//! Reading collections: listing entries a partner may see, pages, objects, versions and
//! manifests.

use super::*;

/// What an entry is, so that its STIX object can be built once it is on the page served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
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
pub(super) enum Origin {
    Indicator(Position),
    /// Our sightings of the indicator at this position.
    Sighting(Position),
    Pattern(String),
}

/// Listing order: `date_added` (microseconds), then a tie-break stable while the set
/// lives (positions survive updates), so `next` can be a key rather than an offset: a
/// page is found by one pass over the compact records, whatever was added meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
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
pub(super) struct Entry {
    id: String,
    kind: EntryKind,
    origin: Origin,
    version: Timestamp,
    date_added: Timestamp,
}

/// What a partner cleared up to `clearance` may read of `collection`, at `now`. TLP decides
/// here, for every read path (objects, object, versions, manifest), when the entries are
/// listed (on the compact records' fields) and again when their objects are built.
pub(super) struct Reader<'a> {
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

pub(super) fn sighting_id(indicator: &intel::Indicator) -> String {
    intel::derived_id("sighting", &format!("sentinella-sighting:{}", indicator.id))
}

/// Drops the tags recording which collection an object was written to: partners of other
/// collections do not learn their names.
pub(super) fn without_collection_tags(mut object: Value) -> Value {
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
pub(super) fn millis(ts: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(ts.as_millisecond()).unwrap_or(ts)
}

/// `date_added` as written in responses (microseconds), so a client's `added_after` taken
/// from a response compares exactly.
pub(super) fn micros(ts: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(ts.as_microsecond()).unwrap_or(ts)
}

/// A STIX 2.1 sighting of an indicator: how often, and until when, we saw it.
pub(super) fn sighting_object(indicator: &intel::Indicator, last: Timestamp) -> Value {
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

pub(super) fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(super) fn list_param(params: &Params, name: &str) -> Option<Vec<String>> {
    param(params, name).map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
}

/// `added_after` and the `match[…]` filters of a request.
pub(super) struct Filters {
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
pub(super) fn paging(params: &Params) -> Result<(usize, Option<Key>), TaxiiError> {
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

pub(super) fn stix_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(super) fn version_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub(super) fn with_date_headers(mut response: Response, page: &[Entry]) -> Response {
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
pub(super) struct Read<'a> {
    store: std::sync::MutexGuard<'a, IntelStore>,
    reader: Reader<'a>,
}

pub(super) fn start_read<'a>(
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
pub(super) fn read_page<'a>(
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

pub(super) async fn objects(
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
pub(super) fn object_entries<'a>(
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

pub(super) async fn object(
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

pub(super) async fn versions(
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

pub(super) async fn manifest(
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
