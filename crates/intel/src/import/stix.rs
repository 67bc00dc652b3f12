//! STIX 2.1 bundles (or TAXII envelopes, or single objects): indicators with `stix`
//! patterns, sightings and observed data. Other objects give context (identities name the
//! source, markings the TLP, `indicates` relationships to ATT&CK techniques).

use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::{ImportOptions, ImportReport, Sighting, check_size, parse_time};
use crate::ImportError;
use crate::model::{Indicator, IndicatorKind, PatternIndicator, derived_id};
use crate::pattern;
use crate::tlp::Tlp;

/// Imports a STIX 2.1 bundle, a TAXII envelope (`{"objects": […]}`), a JSON array of
/// objects, or one object.
pub fn import(bytes: &[u8], options: &ImportOptions) -> Result<ImportReport, ImportError> {
    check_size(bytes)?;
    let doc: Value = serde_json::from_slice(bytes)?;
    let objects = match &doc {
        Value::Object(map) if map.get("objects").is_some_and(Value::is_array) => {
            map["objects"].as_array().expect("checked").as_slice()
        }
        Value::Object(map) if map.contains_key("type") => std::slice::from_ref(&doc),
        Value::Array(items) => items.as_slice(),
        _ => {
            return Err(ImportError::Shape {
                expected: "STIX bundle",
                reason: "no `objects` array and no `type`".into(),
            });
        }
    };
    Ok(import_objects(objects, options))
}

/// Imports STIX objects (already parsed JSON).
pub fn import_objects(objects: &[Value], options: &ImportOptions) -> ImportReport {
    let mut report = ImportReport::default();
    let context = Context::new(objects);
    for (idx, object) in objects.iter().enumerate() {
        let Some(map) = object.as_object() else {
            report.problem(format!("object {idx}"), "not a JSON object");
            continue;
        };
        let kind = map.get("type").and_then(Value::as_str).unwrap_or("");
        let id = map
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match kind {
            "indicator" => indicator(map, &id, &context, options, &mut report),
            "sighting" => {
                let observed = map
                    .get("observed_data_refs")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .flat_map(|reference| context.observed_values(reference))
                    .collect();
                report.sightings.push(Sighting {
                    id,
                    sighting_of: map
                        .get("sighting_of_ref")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    count: map.get("count").and_then(Value::as_u64).unwrap_or(1),
                    first_seen: time(map, "first_seen"),
                    last_seen: time(map, "last_seen"),
                    observed,
                });
            }
            "observed-data" => {
                let observed = context.observed_values(&id);
                report.sightings.push(Sighting {
                    id,
                    sighting_of: None,
                    count: map
                        .get("number_observed")
                        .and_then(Value::as_u64)
                        .unwrap_or(1),
                    first_seen: time(map, "first_observed"),
                    last_seen: time(map, "last_observed"),
                    observed,
                });
            }
            "" => report.problem(format!("object {idx}"), "object without `type`"),
            other => report.ignore(format!("{other} (context object)")),
        }
    }
    report
}

fn time(map: &Map<String, Value>, key: &str) -> Option<Timestamp> {
    map.get(key).and_then(Value::as_str).and_then(parse_time)
}

fn strings<'a>(map: &'a Map<String, Value>, key: &str) -> impl Iterator<Item = &'a str> {
    map.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// What other objects of the bundle say about an indicator.
struct Context<'a> {
    by_id: HashMap<&'a str, &'a Map<String, Value>>,
    /// TLP of marking definitions defined in the bundle (TLP 1.0 statement form).
    markings: HashMap<&'a str, Tlp>,
    /// ATT&CK technique ids an indicator `indicates`.
    techniques: HashMap<&'a str, Vec<String>>,
}

impl<'a> Context<'a> {
    fn new(objects: &'a [Value]) -> Self {
        let mut by_id = HashMap::new();
        let mut markings = HashMap::new();
        for map in objects.iter().filter_map(Value::as_object) {
            let Some(id) = map.get("id").and_then(Value::as_str) else {
                continue;
            };
            by_id.insert(id, map);
            if map.get("type").and_then(Value::as_str) == Some("marking-definition") {
                let tlp2 = map
                    .get("extensions")
                    .and_then(|e| e.get(crate::tlp::TLP2_EXTENSION_ID))
                    .and_then(|e| e.get("tlp_2_0"))
                    .and_then(Value::as_str);
                let tlp1 = map
                    .get("definition")
                    .and_then(|d| d.get("tlp"))
                    .and_then(Value::as_str);
                if let Some(tlp) = tlp2.or(tlp1).and_then(|t| t.parse().ok()) {
                    markings.insert(id, tlp);
                }
            }
        }
        let mut techniques: HashMap<&str, Vec<String>> = HashMap::new();
        for map in by_id.values() {
            if map.get("type").and_then(Value::as_str) != Some("relationship")
                || map.get("relationship_type").and_then(Value::as_str) != Some("indicates")
            {
                continue;
            }
            let (Some(source), Some(target)) = (
                map.get("source_ref").and_then(Value::as_str),
                map.get("target_ref").and_then(|t| by_id.get(t.as_str()?)),
            ) else {
                continue;
            };
            techniques
                .entry(source)
                .or_default()
                .extend(attack_ids_of(target));
        }
        Self {
            by_id,
            markings,
            techniques,
        }
    }

    fn tlp(&self, map: &Map<String, Value>) -> Option<Tlp> {
        strings(map, "object_marking_refs")
            .filter_map(|id| Tlp::from_marking_id(id).or_else(|| self.markings.get(id).copied()))
            .max()
    }

    fn source(&self, map: &Map<String, Value>) -> Option<String> {
        let identity = self.by_id.get(map.get("created_by_ref")?.as_str()?)?;
        identity.get("name")?.as_str().map(str::to_owned)
    }

    /// Values of the SCOs an observed-data object refers to (`object_refs`, or the
    /// deprecated embedded `objects`).
    fn observed_values(&self, observed_data_id: &str) -> Vec<(IndicatorKind, String)> {
        let Some(observed) = self.by_id.get(observed_data_id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for reference in strings(observed, "object_refs") {
            if let Some(sco) = self.by_id.get(reference) {
                sco_values(sco, &mut out);
            }
        }
        if let Some(embedded) = observed.get("objects").and_then(Value::as_object) {
            for sco in embedded.values().filter_map(Value::as_object) {
                sco_values(sco, &mut out);
            }
        }
        out
    }
}

fn attack_ids_of(object: &Map<String, Value>) -> Vec<String> {
    object
        .get("external_references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("source_name").and_then(Value::as_str) == Some("mitre-attack"))
        .filter_map(|r| r.get("external_id").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

fn sco_values(sco: &Map<String, Value>, out: &mut Vec<(IndicatorKind, String)>) {
    let value = sco.get("value").and_then(Value::as_str);
    let kind = match sco.get("type").and_then(Value::as_str) {
        Some("ipv4-addr" | "ipv6-addr") => Some(IndicatorKind::Ip),
        Some("domain-name") => Some(IndicatorKind::Domain),
        Some("url") => Some(IndicatorKind::Url),
        Some("email-addr") => Some(IndicatorKind::Email),
        Some("file" | "artifact") => {
            for (key, hash) in sco
                .get("hashes")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if let (Some(kind), Some(hash)) =
                    (IndicatorKind::from_stix_hash(key), hash.as_str())
                    && let Ok(hash) = kind.normalize(hash)
                {
                    out.push((kind, hash));
                }
            }
            None
        }
        _ => None,
    };
    if let (Some(kind), Some(value)) = (kind, value)
        && let Ok(value) = kind.normalize(value)
    {
        out.push((kind, value));
    }
}

fn indicator(
    map: &Map<String, Value>,
    id: &str,
    context: &Context<'_>,
    options: &ImportOptions,
    report: &mut ImportReport,
) {
    let entry = if id.is_empty() {
        "indicator without id"
    } else {
        id
    };
    let Some(pattern_text) = map.get("pattern").and_then(Value::as_str) else {
        report.problem(entry, "indicator without `pattern`");
        return;
    };
    let source = context
        .source(map)
        .unwrap_or_else(|| options.source.clone());
    let tlp = context.tlp(map).unwrap_or(options.default_tlp);
    let confidence = map
        .get("confidence")
        .and_then(Value::as_u64)
        .map_or(options.default_confidence, |c| c.min(100) as u8);
    let valid_from = time(map, "valid_from");
    let valid_until = time(map, "valid_until");
    let modified = time(map, "modified").unwrap_or(options.now);
    let mut tags: Vec<String> = strings(map, "labels")
        .chain(strings(map, "indicator_types"))
        .map(str::to_owned)
        .collect();
    tags.dedup();
    let mut attack = attack_ids_of(map);
    if let Some(found) = context.techniques.get(id) {
        attack.extend(found.iter().cloned());
    }
    attack.sort();
    attack.dedup();
    let name = map.get("name").and_then(Value::as_str).map(str::to_owned);
    let pattern_only = |reason: String| PatternIndicator {
        id: if id.is_empty() {
            derived_id("indicator", pattern_text)
        } else {
            id.to_owned()
        },
        pattern: pattern_text.to_owned(),
        reason,
        name: name.clone(),
        sources: vec![source.clone()],
        confidence,
        valid_from,
        valid_until,
        tlp,
        tags: tags.clone(),
        modified,
    };
    let pattern_type = map
        .get("pattern_type")
        .and_then(Value::as_str)
        .unwrap_or("stix");
    if pattern_type != "stix" {
        report.patterns.push(pattern_only(format!(
            "pattern_type `{pattern_type}` is not evaluated"
        )));
        return;
    }
    let parsed = match pattern::parse(pattern_text) {
        Ok(parsed) => parsed,
        Err(error) => {
            report.problem(entry, error.to_string());
            return;
        }
    };
    let values = match pattern::matchable_values(&parsed) {
        Ok(values) => values,
        Err(reason) => {
            report.patterns.push(pattern_only(reason));
            return;
        }
    };
    // A revoked indicator withdraws its values, as far as this source is concerned.
    if map.get("revoked").and_then(Value::as_bool) == Some(true) {
        for value in values {
            match value.kind.normalize(&value.value) {
                Ok(normalized) => report
                    .revoked
                    .push((value.kind, normalized, source.clone())),
                Err(reason) => {
                    report.problem(entry, format!("{} `{}`: {reason}", value.path, value.value))
                }
            }
        }
        return;
    }
    let single = values.len() == 1;
    let mut version = crate::StixVersion {
        id: id.to_owned(),
        modified,
        source: source.clone(),
        values: Vec::new(),
    };
    for value in values {
        let mut indicator = match Indicator::new(value.kind, &value.value, &source, tlp) {
            Ok(indicator) => indicator,
            Err(reason) => {
                report.problem(entry, format!("{} `{}`: {reason}", value.path, value.value));
                continue;
            }
        };
        if single && !id.is_empty() {
            indicator.id = id.to_owned();
        }
        indicator.confidence = confidence;
        indicator.valid_from = valid_from;
        indicator.valid_until = valid_until;
        indicator.first_seen = valid_from;
        indicator.tags = tags.clone();
        indicator.attack = attack.clone();
        indicator.description = map
            .get("description")
            .or_else(|| map.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        indicator.modified = modified;
        version
            .values
            .push((indicator.kind, indicator.value.clone()));
        report.indicators.push(indicator);
    }
    if !id.is_empty() && !version.values.is_empty() {
        report.versions.push(version);
    }
}
