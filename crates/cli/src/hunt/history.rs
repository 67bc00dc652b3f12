//! `sentinella hunt --since 30d [--until ..] [--query ..] [--rules DIR]`: hunt over the
//! events a running server has stored (`POST /api/v1/hunt`), printing the alerts as the
//! file hunt prints detections.

use std::io::Write;

use anyhow::Context as _;
use serde_json::{Value, json};

use super::{
    Format, SUMMARY_CHARS, TITLE_WIDTH, csv_cell, escape_json_controls, printable, truncate,
};
use crate::client::Client;

/// Largest rule file sent inline (the server's loader has the same cap).
const MAX_RULE_FILE_BYTES: u64 = 1 << 20;

/// What to ask the server.
pub struct HistoryHunt<'a> {
    pub since: Option<event::Timestamp>,
    pub until: Option<event::Timestamp>,
    pub query: Option<&'a str>,
    pub rules: &'a [std::path::PathBuf],
    pub rule_ids: &'a [String],
    pub store: bool,
    pub limit: usize,
    pub format: Format,
}

pub fn run(client: &Client, hunt: &HistoryHunt<'_>, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut body = json!({"store": hunt.store, "limit": hunt.limit});
    if let Some(since) = hunt.since {
        body["since"] = json!(since.to_string());
    }
    if let Some(until) = hunt.until {
        body["until"] = json!(until.to_string());
    }
    if let Some(query) = hunt.query {
        body["query"] = json!(query);
    }
    if !hunt.rule_ids.is_empty() {
        body["rule_ids"] = json!(hunt.rule_ids);
    }
    if !hunt.rules.is_empty() {
        body["sigma"] = json!(read_rule_texts(hunt.rules)?);
    }
    let body = serde_json::to_vec(&body).expect("JSON values serialize");
    let response = client.post("/api/v1/hunt", "application/json", &body)?;
    let alerts = response["alerts"].as_array().cloned().unwrap_or_default();
    match hunt.format {
        Format::Csv => writeln!(
            out,
            "@timestamp,level,rule_title,rule_id,host.name,event.code,count,summary,rule_author"
        )?,
        Format::Table => writeln!(
            out,
            "{:<20} {:<13} {:<TITLE_WIDTH$} {:<20} SUMMARY",
            "TIME", "LEVEL", "RULE", "HOST"
        )?,
        Format::Jsonl => {}
    }
    for alert in &alerts {
        write_alert(alert, hunt.format, out)?;
    }
    out.flush()?;
    let mut stderr = std::io::stderr().lock();
    for rejected in response["rejected"].as_array().into_iter().flatten() {
        let _ = writeln!(
            stderr,
            "  rejected {}: {}",
            printable(rejected["path"].as_str().unwrap_or_default()),
            printable(rejected["reason"].as_str().unwrap_or_default())
        );
    }
    let _ = writeln!(
        stderr,
        "hunted {} stored events with {} rules in {} ms: {} alerts{}{}",
        response["events"],
        response["rules"],
        response["took_ms"],
        response["alerts_total"],
        if response["truncated"].as_bool() == Some(true) {
            format!(" ({} shown; raise --limit)", alerts.len())
        } else {
            String::new()
        },
        if hunt.store {
            format!(", {} stored", response["stored"])
        } else {
            String::new()
        }
    );
    for rule in response["by_rule"]
        .as_array()
        .into_iter()
        .flatten()
        .take(10)
    {
        let _ = writeln!(
            stderr,
            "  {:>8} alerts {:>8} events  {:<13} {} ({})",
            rule["alerts"],
            rule["events"],
            rule["level"].as_str().unwrap_or("unknown"),
            printable(rule["title"].as_str().unwrap_or_default()),
            printable(rule["rule_id"].as_str().unwrap_or_default())
        );
    }
    Ok(())
}

/// The texts of every rule file under the paths, to send inline.
fn read_rule_texts(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut texts = Vec::new();
    for path in paths {
        anyhow::ensure!(
            path.try_exists()
                .with_context(|| format!("reading {}", path.display()))?,
            "rules path {} does not exist",
            path.display()
        );
        for file in sigma::rule_files(path) {
            let size = std::fs::metadata(&file).map_or(0, |m| m.len());
            if size > MAX_RULE_FILE_BYTES {
                eprintln!(
                    "  skipped {}: {size} bytes is too large for a rule",
                    file.display()
                );
                continue;
            }
            texts.push(
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?,
            );
        }
    }
    anyhow::ensure!(!texts.is_empty(), "no rule file under the --rules paths");
    Ok(texts)
}

fn text(value: &Value, path: &str) -> String {
    let mut current = value;
    for key in path.split('.') {
        current = &current[key];
    }
    match current {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn write_alert(alert: &Value, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    let level = text(alert, "sentinella.alert.level");
    let title = text(alert, "rule.name");
    let host = text(alert, "host.name");
    let summary = text(alert, "message");
    match format {
        Format::Jsonl => {
            let line = json!({
                "@timestamp": alert["@timestamp"],
                "rule_id": alert["rule"]["id"],
                "rule_title": alert["rule"]["name"],
                "level": alert["sentinella"]["alert"]["level"],
                "count": alert["sentinella"]["alert"]["count"],
                "rule_author": alert["rule"]["author"],
                "rule_references": alert["rule"]["reference"],
                "event": alert["sentinella"]["alert"]["event"],
                "alert": alert,
            });
            writeln!(out, "{}", escape_json_controls(&line.to_string()))
        }
        Format::Csv => {
            let cells = [
                text(alert, "@timestamp"),
                level,
                title,
                text(alert, "rule.id"),
                host,
                text(alert, "event.code"),
                text(alert, "sentinella.alert.count"),
                summary,
                text(alert, "rule.author"),
            ];
            let row: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
            writeln!(out, "{}", row.join(","))
        }
        Format::Table => {
            let time: String = text(alert, "@timestamp").chars().take(19).collect();
            writeln!(
                out,
                "{time:<20} {level:<13} {:<TITLE_WIDTH$} {:<20} {}",
                truncate(&printable(&title), TITLE_WIDTH),
                truncate(&printable(&host), 20),
                truncate(&printable(&summary), SUMMARY_CHARS)
            )
        }
    }
}
