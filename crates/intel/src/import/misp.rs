//! MISP feeds: a directory with `manifest.json` (event uuid → summary) and one
//! `<uuid>.json` file per event. Attributes with `to_ids: true` become indicators; the
//! others are context and are counted, not imported.

use serde_json::{Map, Value};

use super::{ImportOptions, ImportReport, attack_ids, check_size, parse_time};
use crate::ImportError;
use crate::model::{Indicator, IndicatorKind};
use crate::tlp::{Pap, Tlp};

/// The event uuids a feed's `manifest.json` lists (the event files are `<uuid>.json`).
pub fn manifest_event_ids(bytes: &[u8]) -> Result<Vec<String>, ImportError> {
    check_size(bytes)?;
    let doc: Value = serde_json::from_slice(bytes)?;
    let map = doc.as_object().ok_or_else(|| ImportError::Shape {
        expected: "MISP feed manifest",
        reason: "not a JSON object".into(),
    })?;
    // Event uuids name files: anything but a uuid could walk out of the feed directory.
    Ok(map
        .keys()
        .filter(|key| {
            !key.is_empty()
                && key.len() <= 64
                && key.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        })
        .cloned()
        .collect())
}

/// Imports one MISP event (`{"Event": {…}}` or the event object itself).
pub fn import_event(bytes: &[u8], options: &ImportOptions) -> Result<ImportReport, ImportError> {
    check_size(bytes)?;
    let doc: Value = serde_json::from_slice(bytes)?;
    let event = doc
        .get("Event")
        .unwrap_or(&doc)
        .as_object()
        .filter(|event| {
            event.contains_key("Attribute")
                || event.contains_key("Object")
                || event.contains_key("uuid")
        })
        .ok_or_else(|| ImportError::Shape {
            expected: "MISP event",
            reason: "no `Event`, `Attribute` or `Object`".into(),
        })?;
    let mut report = ImportReport::default();
    let source = event
        .get("Orgc")
        .and_then(|org| org.get("name"))
        .and_then(Value::as_str)
        .map_or_else(
            || options.source.clone(),
            |org| format!("{} (MISP {})", options.source, org),
        );
    let event_tags = tag_names(event);
    let event_info = event.get("info").and_then(Value::as_str);
    let attributes = event
        .get("Attribute")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(
            event
                .get("Object")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|object| object.get("Attribute")?.as_array())
                .flatten(),
        );
    for attribute in attributes {
        let Some(attribute) = attribute.as_object() else {
            report.problem("attribute", "not a JSON object");
            continue;
        };
        self::attribute(
            attribute,
            &source,
            &event_tags,
            event_info,
            options,
            &mut report,
        );
    }
    Ok(report)
}

fn tag_names(map: &Map<String, Value>) -> Vec<String> {
    map.get("Tag")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tag| tag.get("name")?.as_str())
        .map(str::to_owned)
        .collect()
}

/// Which indicator kinds a MISP attribute type holds, part by part (`domain|ip` holds two).
fn kinds_of(misp_type: &str) -> Option<Vec<Option<IndicatorKind>>> {
    use IndicatorKind::*;
    Some(match misp_type {
        "ip-src" | "ip-dst" => vec![Some(Ip)],
        "ip-src|port" | "ip-dst|port" => vec![Some(Ip), None],
        "domain" | "hostname" => vec![Some(Domain)],
        "domain|ip" => vec![Some(Domain), Some(Ip)],
        "hostname|port" => vec![Some(Domain), None],
        "url" => vec![Some(Url)],
        "md5" => vec![Some(Md5)],
        "sha1" => vec![Some(Sha1)],
        "sha256" => vec![Some(Sha256)],
        "sha512" => vec![Some(Sha512)],
        "filename|md5" => vec![None, Some(Md5)],
        "filename|sha1" => vec![None, Some(Sha1)],
        "filename|sha256" => vec![None, Some(Sha256)],
        "filename|sha512" => vec![None, Some(Sha512)],
        "email" | "email-src" | "email-dst" | "whois-registrant-email" => vec![Some(Email)],
        "ja3-fingerprint-md5" => vec![Some(Ja3)],
        "ja4-fingerprint" => vec![Some(Ja4)],
        _ => return None,
    })
}

fn attribute(
    attribute: &Map<String, Value>,
    source: &str,
    event_tags: &[String],
    event_info: Option<&str>,
    options: &ImportOptions,
    report: &mut ImportReport,
) {
    let uuid = attribute.get("uuid").and_then(Value::as_str).unwrap_or("?");
    let entry = format!("attribute {uuid}");
    if attribute.get("deleted").and_then(Value::as_bool) == Some(true) {
        report.ignore("deleted attribute");
        return;
    }
    let to_ids = match attribute.get("to_ids") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    };
    if !to_ids {
        report.ignore("attribute not for detection (to_ids false)");
        return;
    }
    let misp_type = attribute.get("type").and_then(Value::as_str).unwrap_or("");
    let Some(kinds) = kinds_of(misp_type) else {
        report.ignore(format!(
            "attribute type `{misp_type}` has no indicator kind"
        ));
        return;
    };
    let value = attribute.get("value").and_then(Value::as_str).unwrap_or("");
    let parts: Vec<&str> = if kinds.len() > 1 {
        value.splitn(kinds.len(), '|').collect()
    } else {
        vec![value]
    };
    if parts.len() != kinds.len() {
        report.problem(
            entry,
            format!(
                "`{misp_type}` value `{value}` has not {} parts",
                kinds.len()
            ),
        );
        return;
    }
    let mut tags: Vec<String> = event_tags
        .iter()
        .chain(tag_names(attribute).iter())
        .cloned()
        .collect();
    tags.sort();
    tags.dedup();
    let tlp = tags
        .iter()
        .filter(|tag| tag.to_ascii_lowercase().starts_with("tlp:"))
        .filter_map(|tag| tag.parse::<Tlp>().ok())
        .max()
        .unwrap_or(options.default_tlp);
    let pap = tags
        .iter()
        .filter(|tag| tag.to_ascii_lowercase().starts_with("pap:"))
        .filter_map(|tag| tag.parse::<Pap>().ok())
        .max();
    // `osint:certainty="93"` is MISP's confidence taxonomy.
    let confidence = tags
        .iter()
        .filter_map(|tag| {
            tag.strip_prefix("osint:certainty=\"")?
                .strip_suffix('"')?
                .parse::<u8>()
                .ok()
        })
        .max()
        .unwrap_or(options.default_confidence)
        .min(100);
    let attack: Vec<String> = tags
        .iter()
        .flat_map(|tag| {
            if tag.contains("mitre-attack-pattern") {
                attack_ids(tag)
            } else {
                Vec::new()
            }
        })
        .collect();
    let timestamp = attribute
        .get("timestamp")
        .and_then(|t| {
            t.as_str()
                .map(str::to_owned)
                .or_else(|| t.as_u64().map(|n| n.to_string()))
        })
        .and_then(|t| parse_time(&t));
    let first_seen = attribute
        .get("first_seen")
        .and_then(Value::as_str)
        .and_then(parse_time);
    let last_seen = attribute
        .get("last_seen")
        .and_then(Value::as_str)
        .and_then(parse_time);
    for (kind, part) in kinds.iter().zip(parts) {
        let Some(kind) = kind else { continue };
        let mut indicator = match Indicator::new(*kind, part, source, tlp) {
            Ok(indicator) => indicator,
            Err(reason) => {
                report.problem(
                    entry.clone(),
                    format!("`{misp_type}` value `{part}`: {reason}"),
                );
                continue;
            }
        };
        indicator.confidence = confidence;
        indicator.pap = pap;
        indicator.tags = tags
            .iter()
            .filter(|t| !t.to_ascii_lowercase().starts_with("tlp:"))
            .cloned()
            .collect();
        indicator.attack = attack.clone();
        indicator.first_seen = first_seen.or(timestamp);
        indicator.last_seen = last_seen.or(timestamp);
        indicator.modified = timestamp.unwrap_or(options.now);
        let comment = attribute
            .get("comment")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty());
        indicator.description = comment.or(event_info).map(str::to_owned);
        report.indicators.push(indicator);
    }
}
