//! `sentinella search QUERY` and `sentinella alerts [QUERY]`.

use std::io::Write as _;

use anyhow::Context as _;

use crate::client::{Client, ServerArgs};

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Query in the search language, e.g. `user.name:alice AND event.code:4625`.
    #[arg(default_value = "*")]
    pub query: String,
    /// Only events newer than this (e.g. 15m, 24h, 30d).
    #[arg(long)]
    pub since: Option<String>,
    /// Events to print.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// `sentinella search`.
pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    run_at(args, "/api/v1/search")
}

/// `sentinella alerts`: the same over alerts (`/api/v1/alerts`).
pub fn run_alerts(args: SearchArgs) -> anyhow::Result<()> {
    run_at(args, "/api/v1/alerts")
}

fn run_at(args: SearchArgs, endpoint: &str) -> anyhow::Result<()> {
    let client = Client::new(&args.server)?;
    let mut query = format!("{endpoint}?q={}&limit={}", encode(&args.query), args.limit);
    if let Some(since) = &args.since {
        let span: jiff::Span = parse_since(since)?;
        let from = jiff::Timestamp::now()
            .checked_sub(span)
            .context("--since reaches before the representable range")?;
        query.push_str(&format!("&from={}", encode(&from.to_string())));
    }
    let response = client.get_json(&query)?;
    let hits = response["hits"].as_array().cloned().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            for hit in &hits {
                writeln!(out, "{hit}")?;
            }
        }
        Format::Csv => {
            writeln!(out, "@timestamp,host.name,log.parser,message")?;
            for hit in &hits {
                let row: Vec<String> = columns(hit).iter().map(|cell| csv_cell(cell)).collect();
                writeln!(out, "{}", row.join(","))?;
            }
        }
        Format::Table => {
            for hit in &hits {
                let [ts, host, parser, message] = columns(hit);
                let message: String = message.chars().take(160).collect();
                writeln!(out, "{ts:<27} {host:<20} {parser:<24} {message}")?;
            }
            writeln!(
                out,
                "-- {} of {} matching events",
                hits.len(),
                response["total"]
            )?;
        }
    }
    Ok(())
}

fn columns(hit: &serde_json::Value) -> [String; 4] {
    let get = |path: &str| -> String {
        let mut value = hit;
        for part in path.split('.') {
            value = &value[part];
        }
        match value {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        }
    };
    let mut message = get("message");
    if message.is_empty() {
        message = get("event.original");
    }
    // Terminal control characters in attacker-written logs are shown, not executed.
    let message = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    // For alerts the third column is the level; for events, the parser.
    let kind = if get("event.kind") == "alert" {
        get("sentinella.alert.level")
    } else {
        get("log.parser")
    };
    [get("@timestamp"), get("host.name"), kind, message]
}

fn csv_cell(text: &str) -> String {
    // Cells starting with formula characters are prefixed so spreadsheets don't run them.
    let guarded = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

pub fn parse_since(text: &str) -> anyhow::Result<jiff::Span> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let amount: i64 = number
        .parse()
        .with_context(|| format!("invalid duration `{text}` (e.g. 24h)"))?;
    let span = match unit {
        "s" => jiff::Span::new().seconds(amount),
        "m" => jiff::Span::new().minutes(amount),
        "h" | "" => jiff::Span::new().hours(amount),
        "d" => jiff::Span::new().hours(amount.saturating_mul(24)),
        _ => anyhow::bail!("invalid duration unit in `{text}` (use s, m, h or d)"),
    };
    Ok(span)
}

pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
