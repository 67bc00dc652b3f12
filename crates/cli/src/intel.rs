//! `sentinella intel`: threat intelligence from the command line.
//!
//! - `import FILE|DIR|URL…`: STIX bundles, MISP feed folders (`manifest.json`), MISP
//!   events, abuse.ch CSVs and plain lists, into a running server (`/api/v1/intel/import`,
//!   which also retro-matches) or, when none answers, straight into `DATA_DIR/intel`
//! - `export --format edl-ip|edl-domain|edl-url|nft|rpz|suricata|stix`: blocklists and
//!   bundles, filtered by TLP, confidence and age, from a running server
//!   (`/api/v1/intel/export/{format}`, with the caller's token: its role's TLP ceiling
//!   applies) or, with `--direct`, read straight from `DATA_DIR/intel` (the admin path:
//!   whoever can read the data directory can read everything anyway)
//! - `share-preview --config FILE`: who would receive what under the configured partners,
//!   per collection
//! - `withdraw KIND VALUE`: a false positive leaves every list on the next refresh
//! - `check-pattern PATTERN…`: validates STIX 2.1 patterns (one verdict per line)

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use intel::import::FeedFormat;
use intel::{ImportOptions, ImportReport, IndicatorKind, Selection, Tlp};
use jiff::Timestamp;

use crate::client::{Client, ServerArgs};

/// Largest feed fetched from a URL.
const MAX_DOWNLOAD_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Debug, clap::Args)]
pub struct IntelArgs {
    #[command(subcommand)]
    command: IntelCommand,
}

#[derive(Debug, clap::Subcommand)]
enum IntelCommand {
    /// Import feeds: files, MISP feed folders, or http(s) URLs.
    Import(ImportArgs),
    /// Write indicators as a blocklist or STIX bundle.
    Export(ExportArgs),
    /// Show what each configured partner would receive, and what is withheld.
    SharePreview(PreviewArgs),
    /// Withdraw a false positive (kind: ip, domain, url, md5, sha1, sha256, sha512, email).
    Withdraw(WithdrawArgs),
    /// Check STIX 2.1 patterns: prints `valid` or `invalid: reason` per pattern.
    CheckPattern(CheckPatternArgs),
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// Files, MISP feed folders or URLs.
    #[arg(required = true)]
    sources: Vec<String>,
    /// stix, misp, feodo, urlhaus, threatfox, plain [default: from the content].
    #[arg(long)]
    format: Option<String>,
    /// Feed name recorded as the source [default: the file name].
    #[arg(long)]
    source: Option<String>,
    /// TLP of entries without a marking.
    #[arg(long, default_value = "amber")]
    tlp: String,
    /// Warninglists (MISP list.json files or folders) applied in direct mode.
    #[arg(long)]
    warninglists: Vec<PathBuf>,
    /// Write into DATA_DIR/intel without trying a server (it must be stopped).
    #[arg(long)]
    direct: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// edl-ip, edl-domain, edl-url, nft, rpz, suricata, stix.
    #[arg(long)]
    format: String,
    /// Most restrictive TLP included.
    #[arg(long, default_value = "green")]
    max_tlp: String,
    /// Lowest confidence included (0–100).
    #[arg(long, default_value_t = 0)]
    min_confidence: u8,
    /// Only indicators seen in the last N days.
    #[arg(long)]
    max_age_days: Option<u32>,
    /// Only what this TAXII collection (`[[intel.collections]]`) holds (through the server).
    #[arg(long, conflicts_with = "direct")]
    collection: Option<String>,
    /// Output file [default: stdout].
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Read DATA_DIR/intel directly instead of asking the server: no role or TLP ceiling
    /// applies, so this is the admin path (it needs read access to the data directory).
    #[arg(long)]
    direct: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, clap::Args)]
struct PreviewArgs {
    /// The server's configuration file (its `[[intel.partners]]`).
    #[arg(long)]
    config: PathBuf,
    /// Data directory [default: the config's].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct WithdrawArgs {
    kind: String,
    value: String,
    /// Change DATA_DIR/intel without trying a server (it must be stopped).
    #[arg(long)]
    direct: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, clap::Args)]
struct CheckPatternArgs {
    /// Patterns; with none, one pattern per line is read from stdin.
    patterns: Vec<String>,
}

pub fn run(args: IntelArgs) -> anyhow::Result<()> {
    match args.command {
        IntelCommand::Import(args) => import(args),
        IntelCommand::Export(args) => export(args),
        IntelCommand::SharePreview(args) => share_preview(args),
        IntelCommand::Withdraw(args) => withdraw(args),
        IntelCommand::CheckPattern(args) => check_pattern(args),
    }
}

/// One payload to import: its name, bytes and format.
struct Payload {
    name: String,
    bytes: Vec<u8>,
    format: Option<FeedFormat>,
}

fn fetch(url: &str) -> anyhow::Result<Vec<u8>> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(300)))
        .build()
        .new_agent();
    let mut response = agent
        .get(url)
        .call()
        .with_context(|| format!("fetching {url}"))?;
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD_BYTES)
        .read_to_vec()
        .with_context(|| format!("reading {url}"))?;
    Ok(bytes)
}

fn payloads(source: &str, format: Option<FeedFormat>) -> anyhow::Result<Vec<Payload>> {
    if source.starts_with("http://") || source.starts_with("https://") {
        return Ok(vec![Payload {
            name: source.to_owned(),
            bytes: fetch(source)?,
            format,
        }]);
    }
    let path = Path::new(source);
    let manifest = path.join("manifest.json");
    if path.is_dir() && manifest.is_file() {
        // A MISP feed: the manifest names the event files.
        let ids = intel::import::misp::manifest_event_ids(&std::fs::read(&manifest)?)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let mut out = Vec::new();
        for id in ids {
            let file = path.join(format!("{id}.json"));
            match std::fs::read(&file) {
                Ok(bytes) => out.push(Payload {
                    name: file.display().to_string(),
                    bytes,
                    format: Some(FeedFormat::MispEvent),
                }),
                Err(error) => eprintln!("skipping {}: {error}", file.display()),
            }
        }
        return Ok(out);
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(vec![Payload {
        name: path.display().to_string(),
        bytes,
        format,
    }])
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let format = args
        .format
        .as_deref()
        .map(str::parse::<FeedFormat>)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let tlp: Tlp = args.tlp.parse()?;
    let client = if !args.direct && Client::is_up(&args.server.server) {
        eprintln!("importing into the server at {}", args.server.server);
        Some(Client::new(&args.server)?)
    } else {
        None
    };
    let mut direct = match client {
        Some(_) => None,
        None => {
            let dir = args.server.data_dir.join("intel");
            eprintln!("importing directly into {}", dir.display());
            let (store, problems) = intel_store::IntelStore::open(
                &dir,
                server::intel::load_warninglists(&args.warninglists)?,
            )?;
            for (line, reason) in problems.iter().take(5) {
                eprintln!("warning: {}:{line}: {reason}", dir.display());
            }
            Some(store)
        }
    };
    let mut failed = 0;
    for source in &args.sources {
        for payload in payloads(source, format)? {
            let feed = args
                .source
                .clone()
                .unwrap_or_else(|| feed_name(&payload.name));
            let result = match (&client, &mut direct) {
                (Some(client), _) => {
                    let mut path = format!(
                        "/api/v1/intel/import?source={}&tlp={}",
                        encode(&feed),
                        encode(tlp.as_str())
                    );
                    if let Some(format) = args
                        .format
                        .as_deref()
                        .filter(|_| payload.format != Some(FeedFormat::MispEvent))
                    {
                        path.push_str(&format!("&format={}", encode(format)));
                    } else if payload.format == Some(FeedFormat::MispEvent) {
                        path.push_str("&format=misp");
                    }
                    client.post(&path, "application/octet-stream", &payload.bytes)
                }
                (None, Some(store)) => {
                    let options = ImportOptions::new(&feed, tlp);
                    intel::import::import_any(&payload.bytes, payload.format, &options)
                        .map_err(anyhow::Error::from)
                        .and_then(|report: ImportReport| {
                            Ok(serde_json::to_value(
                                store.apply(report, Timestamp::now())?,
                            )?)
                        })
                }
                (None, None) => unreachable!("one of the two sinks exists"),
            };
            match result {
                Ok(summary) => println!("{}: {}", payload.name, describe(&summary)),
                Err(error) => {
                    failed += 1;
                    eprintln!("{}: {error:#}", payload.name);
                }
            }
        }
    }
    if failed > 0 {
        bail!("{failed} feed(s) could not be imported");
    }
    Ok(())
}

fn describe(summary: &serde_json::Value) -> String {
    let count = |key: &str| summary[key].as_u64().unwrap_or(0);
    let len = |key: &str| summary[key].as_array().map_or(0, Vec::len);
    let ignored: u64 = summary["ignored"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum());
    let mut text = format!(
        "{} new, {} merged, {} pattern-only (kept, need correlation), {} sightings, {} suppressed by warninglists, {} ignored, {} problems",
        count("new"),
        count("merged"),
        count("patterns"),
        count("sightings"),
        len("suppressed"),
        ignored,
        len("problems")
    );
    if count("withdrawn") > 0 {
        text.push_str(&format!(
            ", {} withdrawn (revoked by their last source)",
            count("withdrawn")
        ));
    }
    if let Some(retro) = summary.get("retro_alerts") {
        text.push_str(&format!(", {retro} retro-match alerts"));
    }
    for problem in summary["problems"].as_array().into_iter().flatten().take(5) {
        text.push_str(&format!(
            "\n  problem: {} — {}",
            problem[0].as_str().unwrap_or(""),
            problem[1].as_str().unwrap_or("")
        ));
    }
    text
}

fn feed_name(name: &str) -> String {
    Path::new(name)
        .file_stem()
        .map_or_else(|| name.to_owned(), |s| s.to_string_lossy().into_owned())
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Reads the set from the data directory (snapshot and change log, as the server leaves
/// them; reading while it runs is safe).
fn read_set(data_dir: &Path) -> anyhow::Result<intel::IndicatorSet> {
    let dir = data_dir.join("intel");
    let (set, problems) = intel_store::read_set(&dir)
        .with_context(|| format!("reading the indicators in {}", dir.display()))?;
    for (line, reason) in problems.iter().take(5) {
        eprintln!("warning: {}: line {line}: {reason}", dir.display());
    }
    Ok(set)
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    let format: intel::export::Format = args.format.parse().map_err(anyhow::Error::msg)?;
    let max_tlp: Tlp = args.max_tlp.parse()?;
    if !args.direct {
        return export_from_server(&args, max_tlp);
    }
    let set = read_set(&args.server.data_dir)?;
    let mut selection = Selection::up_to(max_tlp, Timestamp::now());
    selection.min_confidence = args.min_confidence;
    selection.max_age = args
        .max_age_days
        .map(|d| jiff::SignedDuration::from_hours(i64::from(d) * 24));
    let indicators: Vec<intel::Indicator> = set.select(&selection).collect();
    let patterns: Vec<&intel::PatternIndicator> = match format {
        intel::export::Format::Stix => set.select_patterns(&selection).collect(),
        _ => Vec::new(),
    };
    let text = intel::export::export(format, &indicators, &patterns, selection.now);
    write_output(args.output.as_deref(), text.as_bytes())?;
    eprintln!(
        "{} indicators exported (up to {}, confidence ≥ {})",
        indicators.len() + patterns.len(),
        selection.max_tlp,
        selection.min_confidence
    );
    Ok(())
}

fn write_output(output: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
        }
        None => Ok(std::io::stdout().write_all(bytes)?),
    }
}

/// The export as the server gives it to the caller's token (its role's TLP ceiling applies).
fn export_from_server(args: &ExportArgs, max_tlp: Tlp) -> anyhow::Result<()> {
    if !Client::is_up(&args.server.server) {
        bail!(
            "no server answers at {} (--server URL); `--direct` reads {} instead, with no role \
             or TLP ceiling (the admin path: it needs read access to the data directory)",
            args.server.server,
            args.server.data_dir.join("intel").display()
        );
    }
    let client = Client::new(&args.server)?;
    let mut path = format!(
        "/api/v1/intel/export/{}?max_tlp={}&min_confidence={}",
        encode(&args.format),
        encode(max_tlp.as_str()),
        args.min_confidence
    );
    if let Some(days) = args.max_age_days {
        path.push_str(&format!("&max_age_days={days}"));
    }
    if let Some(collection) = &args.collection {
        path.push_str(&format!("&collection={}", encode(collection)));
    }
    let (bytes, count) = client.get_bytes(&path, "x-sentinella-count")?;
    write_output(args.output.as_deref(), &bytes)?;
    eprintln!(
        "{} indicators exported by {} (up to {max_tlp}, confidence ≥ {})",
        count.as_deref().unwrap_or("?"),
        args.server.server,
        args.min_confidence
    );
    Ok(())
}

fn share_preview(args: PreviewArgs) -> anyhow::Result<()> {
    let config = server::ServerConfig::load(&args.config)?;
    let data_dir = args.data_dir.unwrap_or_else(|| config.data_dir.clone());
    let set = read_set(&data_dir)?;
    if config.intel.partners.is_empty() {
        println!("no partners configured ([[intel.partners]])");
    }
    for preview in config.intel.share_preview(&set)? {
        println!("{}", preview.partner);
        for collection in &preview.collections {
            println!("  {}", preview.collection_summary(collection));
        }
    }
    Ok(())
}

fn withdraw(args: WithdrawArgs) -> anyhow::Result<()> {
    let kind: IndicatorKind = args.kind.parse().map_err(anyhow::Error::msg)?;
    if !args.direct && Client::is_up(&args.server.server) {
        let client = Client::new(&args.server)?;
        let body = serde_json::json!({"kind": kind.as_str(), "value": args.value});
        client.post(
            "/api/v1/intel/withdraw",
            "application/json",
            body.to_string().as_bytes(),
        )?;
    } else {
        let (mut store, _) = intel_store::IntelStore::open(
            &args.server.data_dir.join("intel"),
            intel::Warninglists::new(),
        )?;
        if !store.withdraw(kind, &args.value, Timestamp::now())? {
            bail!("no {kind} indicator {}", args.value);
        }
    }
    println!("withdrawn: {kind} {}", args.value);
    Ok(())
}

fn check_pattern(args: CheckPatternArgs) -> anyhow::Result<()> {
    let patterns: Vec<String> = if args.patterns.is_empty() {
        std::io::stdin().lines().collect::<Result<_, _>>()?
    } else {
        args.patterns
    };
    let mut out = std::io::stdout().lock();
    for pattern in patterns {
        match intel::pattern::parse(&pattern) {
            Ok(parsed) => match intel::pattern::matchable_values(&parsed) {
                Ok(values) => writeln!(out, "valid ({} matchable values)", values.len())?,
                Err(reason) => writeln!(out, "valid (pattern-only: {reason})")?,
            },
            Err(error) => writeln!(out, "invalid: {error}")?,
        }
    }
    Ok(())
}
