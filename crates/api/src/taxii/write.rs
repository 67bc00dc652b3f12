//! Writing: POST of objects with status resources, and DELETE of a partner's own objects.

use super::*;

/// The partner and the collection it writes to (POST, DELETE): 401/404 as for reads, 403
/// when the collection is read-only.
pub(super) fn writable_collection(
    intel: &IntelState,
    headers: &HeaderMap,
    root: &str,
    id: &str,
) -> Result<(PartnerAccount, Collection), TaxiiError> {
    let partner = check(intel, headers, Some(root))?.clone();
    let collection = find_collection(intel, &partner, id)?.clone();
    if !collection.writable {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "this collection is read-only",
        ));
    }
    Ok((partner, collection))
}

/// POST objects: indicators are imported with the partner as source, into the collection
/// (tagged [`Collection::written_tag`]); their own TLP markings are kept (unmarked ones are
/// taken as TLP:AMBER, the partner's to widen). Objects the collection cannot hold (a kind
/// or TLP outside its selection) are refused one by one in the status.
pub(super) async fn add_objects(
    axum::extract::State(state): axum::extract::State<AppState>,
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (partner, collection) = match writable_collection(&intel, &headers, &root, &id) {
        Ok(found) => found,
        Err(response) => return response.into_response(),
    };
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
pub(super) enum Withdrawal {
    /// The partner's report of a value (the indicator is withdrawn when no other source
    /// reports it).
    Indicator(intel::IndicatorKind, String),
    /// A pattern-only indicator, ended now.
    Pattern(Box<intel::PatternIndicator>),
}

/// The object `object_id` of `collection` that `partner` may delete: its own (it is among
/// the sources), still in force. Someone else's object it can read is 403; one it cannot
/// read, or that does not exist, 404 (withheld objects are not revealed).
pub(super) fn deletable(
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
pub(super) async fn delete_object(
    axum::extract::State(state): axum::extract::State<AppState>,
    Extension(intel): Extension<Arc<IntelState>>,
    headers: HeaderMap,
    Path((root, id, object_id)): Path<(String, String, String)>,
) -> Response {
    let (partner, collection) = match writable_collection(&intel, &headers, &root, &id) {
        Ok(found) => found,
        Err(response) => return response.into_response(),
    };
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

pub(super) async fn status(
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
