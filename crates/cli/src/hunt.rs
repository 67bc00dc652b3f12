//! `sentinella hunt --rules DIR_OR_FILE PATH...`: run Sigma rules over log files, no server.
//! Without `PATH`s, `sentinella hunt --since 30d` hunts the events a running server stored
//! ([`history`]).
//!
//! The incident-responder use case (Hayabusa, Chainsaw): EVTX files and folders, JSON/NDJSON
//! and plain log files are decoded ([`crate::files`]), each record normalized to ECS
//! exactly as `serve` and `import` do, and every loaded rule evaluated on it. Detections go
//! to stdout (or `--output`) as a table, CSV or JSONL, in input-file order; the rule load
//! report, a progress bar (terminals only) and the summary (detections by level and rule,
//! per-file counts) go to stderr.
//!
//! Files are hunted in parallel (one worker per core); a writer puts detections back in
//! file order, so the output does not depend on scheduling.
//!
//! Exit status: 0 when the hunt ran, with or without detections; non-zero on usage and IO
//! errors (no rule loaded, a missing path, no input file readable, output not writable).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal as _, Read as _, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::{Context as _, bail};
use event::{Event, Timestamp, fields};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sigma::{CompiledRule, Level, Match};

use crate::files::{self, Kind};

mod correlate;
mod history;

#[derive(Debug, clap::Args)]
pub struct HuntArgs {
    /// Sigma rules: a folder searched recursively for `*.yml`/`*.yaml`, or one rule file.
    /// Repeat the flag for several (`--rules rules --rules rules-threat-hunting`). Required
    /// for files; over a server's history the default is the server's enabled rules.
    #[arg(long = "rules", short = 'r', value_name = "DIR_OR_FILE")]
    pub rules: Vec<PathBuf>,
    /// EVTX, JSON/NDJSON or plain log files, or folders (searched recursively). Without
    /// any, the hunt runs over the events stored by a running server (`--server`).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format: one line per detection.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write detections to this file instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Only rules of this level or above (rules without a level count as informational).
    #[arg(long, value_enum, default_value_t = MinLevel::Informational)]
    pub min_level: MinLevel,
    /// Only events at or after this time: RFC 3339 (2024-03-01T00:00:00Z) or a duration
    /// back from now (30d, 12h, 15m).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time (same forms).
    #[arg(long)]
    pub until: Option<String>,
    /// Files hunted in parallel [default: the number of cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// History hunts: only stored events matching this query (search language).
    #[arg(long)]
    pub query: Option<String>,
    /// History hunts: only these loaded rules (id or name); repeatable.
    #[arg(long = "rule-id")]
    pub rule_ids: Vec<String>,
    /// History hunts: also store the alerts on the server (listed by `sentinella alerts`).
    #[arg(long)]
    pub store: bool,
    /// History hunts: alerts printed at most (all are counted).
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MinLevel {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl MinLevel {
    fn level(self) -> Level {
        match self {
            MinLevel::Informational => Level::Informational,
            MinLevel::Low => Level::Low,
            MinLevel::Medium => Level::Medium,
            MinLevel::High => Level::High,
            MinLevel::Critical => Level::Critical,
        }
    }
}

/// How long a history hunt may run before the command gives up waiting.
const HISTORY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6 * 3600);
/// Rejected rules shown in the load summary; `sentinella rules check` lists them all.
const SHOWN_REJECTIONS: usize = 5;
/// Rules shown in the summary's "top rules".
const TOP_RULES: usize = 10;
/// Width of the table's rule title column.
const TITLE_WIDTH: usize = 50;
/// Longest table summary, in characters.
const SUMMARY_CHARS: usize = 160;

/// RFC 3339, or a duration back from now (`30d`).
fn parse_time(text: &str) -> anyhow::Result<Timestamp> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    let span = crate::search::parse_since(text)
        .with_context(|| format!("invalid time `{text}`: RFC 3339 or a duration such as 30d"))?;
    Timestamp::now()
        .checked_sub(span)
        .with_context(|| format!("`{text}` reaches before the representable range"))
}

pub fn run(args: HuntArgs) -> anyhow::Result<()> {
    let since = args.since.as_deref().map(parse_time).transpose()?;
    let until = args.until.as_deref().map(parse_time).transpose()?;
    if let (Some(since), Some(until)) = (since, until) {
        anyhow::ensure!(since < until, "--since must be before --until");
    }
    if args.paths.is_empty() {
        // A hunt over months of events may take a while; the server works until done.
        let client = crate::client::Client::with_timeout(&args.server, HISTORY_TIMEOUT)?;
        let mut out = open_output(args.output.as_deref())?;
        let hunt = history::HistoryHunt {
            since,
            until,
            query: args.query.as_deref(),
            rules: &args.rules,
            rule_ids: &args.rule_ids,
            store: args.store,
            limit: args.limit,
            format: args.format,
        };
        return history::run(&client, &hunt, &mut out);
    }
    anyhow::ensure!(
        !args.rules.is_empty(),
        "hunting files needs --rules DIR_OR_FILE (without PATHs, the hunt runs over a server's history)"
    );
    // The engine routes each event to the rules that can see it (by channel and event
    // id); results are the same as trying every rule.
    let (rules, correlations) = load_rules(&args.rules, args.min_level)?;
    let (correlations, failed) = correlate::Correlations::new(&rules, &correlations);
    for (correlation, reason) in failed {
        eprintln!(
            "  correlation {} not evaluated: {}",
            printable(&correlation),
            printable(&reason)
        );
    }
    let engine = sigma::Engine::new(rules);
    let rules = engine.rules();
    let paths = files::collect_files(&args.paths)?;
    if paths.is_empty() {
        bail!("no files found under the given paths");
    }
    let n_yaml = paths
        .iter()
        .filter(|path| {
            path.extension().is_some_and(|ext| {
                ext.eq_ignore_ascii_case("yml") || ext.eq_ignore_ascii_case("yaml")
            })
        })
        .count();
    if n_yaml > 0 {
        // `--rules dir1 dir2 logs/` hunts dir2 as logs: `--rules` takes one path per flag.
        eprintln!(
            "note: {n_yaml} .yml/.yaml input files are hunted as log lines; for several rule \
             folders repeat the flag (`--rules A --rules B`)"
        );
    }
    let mut out = open_output(args.output.as_deref())?;
    let total_bytes: u64 = paths
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|m| m.len())
        .sum();
    let progress = if std::io::stderr().is_terminal() {
        ProgressBar::new(total_bytes).with_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
            )
            .expect("the template is valid"),
        )
    } else {
        ProgressBar::hidden()
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, paths.len());
    let hunter = Hunter {
        engine: &engine,
        paths: &paths,
        normalizer: normalize::Normalizer::builtin(),
        since,
        until,
        received_at: Timestamp::now(),
        next_file: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        progress: progress.clone(),
    };
    let started = std::time::Instant::now();
    let mut report = Report::new(args.format, rules, &paths, progress.clone());
    report.correlations = correlations;
    let written = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(1024);
        for _ in 0..threads {
            let tx = tx.clone();
            let hunter = &hunter;
            scope.spawn(move || hunter.work(&tx));
        }
        drop(tx);
        let written = report
            .write_all(rx, &mut out)
            .and_then(|()| report.finish_correlations(&mut out))
            .and_then(|()| out.flush());
        // Stops the workers early if writing failed (they also see the channel close).
        hunter.stop.store(true, Ordering::Relaxed);
        written
    });
    progress.finish_and_clear();
    match written {
        Ok(()) => {}
        // `hunt … | head`: the reader has what it wanted.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(error) => {
            return Err(error).context(match &args.output {
                Some(path) => format!("writing {}", path.display()),
                None => "writing to stdout".to_owned(),
            });
        }
    }
    report.print_summary(started.elapsed());
    if report.n_files_failed == paths.len() {
        bail!("no input file could be read");
    }
    Ok(())
}

fn open_output(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// Loads every `--rules` path, prints the load report to stderr and keeps the rules at or
/// above `min_level`.
fn load_rules(
    paths: &[PathBuf],
    min_level: MinLevel,
) -> anyhow::Result<(Vec<CompiledRule>, Vec<sigma::CorrelationRule>)> {
    let mut rules = Vec::new();
    let mut rejected = Vec::new();
    let mut correlations = Vec::new();
    let mut filters = Vec::new();
    let mut n_warnings = 0;
    for path in paths {
        anyhow::ensure!(
            path.try_exists()
                .with_context(|| format!("reading {}", path.display()))?,
            "rules path {} does not exist",
            path.display()
        );
        let report = sigma::RuleSet::load_dir(path);
        rules.extend(report.rules);
        rejected.extend(report.rejected);
        correlations.extend(report.correlations);
        filters.extend(report.filters);
        n_warnings += report.warnings.len();
    }
    let (n_filtered, filter_failures) =
        sigma::apply_filters(&mut rules, &filters, &sigma::Mappings::builtin());
    let n_loaded = rules.len();
    let min = min_level.level();
    // Rules below the level stay when a correlation needs their matches.
    let referenced = |rule: &CompiledRule| {
        correlations.iter().any(|c: &sigma::CorrelationRule| {
            c.rules.iter().any(|name| {
                rule.meta.id.as_deref() == Some(name.as_str())
                    || rule.meta.name.as_deref() == Some(name.as_str())
            })
        })
    };
    rules.retain(|rule| rule.meta.level.unwrap_or(Level::Informational) >= min || referenced(rule));
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "rules: {n_loaded} detection rules loaded, {} rejected{}{}",
        rejected.len(),
        if n_warnings > 0 {
            format!(", {n_warnings} warnings")
        } else {
            String::new()
        },
        if rules.len() < n_loaded {
            format!("; {} at level {} or above", rules.len(), min.as_str())
        } else {
            String::new()
        },
    );
    for rejection in rejected.iter().take(SHOWN_REJECTIONS) {
        let line = rejection.line.map(|l| format!(":{l}")).unwrap_or_default();
        let _ = writeln!(
            stderr,
            "  rejected {}{line}: {}",
            printable(&rejection.path.display().to_string()),
            printable(&rejection.reason.to_string())
        );
    }
    if rejected.len() > SHOWN_REJECTIONS {
        let _ = writeln!(
            stderr,
            "  … and {} more (`sentinella rules check DIR` lists them all)",
            rejected.len() - SHOWN_REJECTIONS
        );
    }
    if !correlations.is_empty() || !filters.is_empty() {
        let _ = writeln!(
            stderr,
            "  {} correlation rules (evaluated over all files in time order), {} filters applied to {n_filtered} rules",
            correlations.len(),
            filters.len()
        );
    }
    for failure in &filter_failures {
        let _ = writeln!(
            stderr,
            "  filter {} not applied to {}: {}",
            printable(&failure.filter),
            printable(&failure.rule),
            printable(&failure.reason.to_string())
        );
    }
    if n_loaded == 0 {
        bail!("no detection rule loaded from the --rules paths");
    }
    Ok((rules, correlations))
}

/// What the workers share.
struct Hunter<'a> {
    engine: &'a sigma::Engine,
    paths: &'a [PathBuf],
    normalizer: normalize::Normalizer,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    received_at: Timestamp,
    next_file: AtomicUsize,
    stop: AtomicBool,
    progress: ProgressBar,
}

/// From a worker to the writer, about file number `file`.
enum Message {
    /// An event that one or more rules matched: (rule index, why).
    Hits {
        file: usize,
        event: Event,
        hits: Vec<(usize, Match)>,
    },
    /// The file is finished.
    Done { file: usize, outcome: FileOutcome },
}

impl Message {
    fn file(&self) -> usize {
        match self {
            Message::Hits { file, .. } | Message::Done { file, .. } => *file,
        }
    }
}

#[derive(Debug, Default)]
struct FileOutcome {
    /// Records decoded.
    read: u64,
    /// Records outside `--since`/`--until`.
    skipped: u64,
    /// Records, chunks or lines that could not be decoded at all.
    undecodable: u64,
    /// Records no format recognized, hunted as raw text (`log.parse_error` set).
    raw: u64,
    /// Why the file could not be read (or stopped being readable).
    error: Option<String>,
}

/// The channel closed or the hunt was stopped: the worker just ends.
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stopped")
    }
}

impl std::error::Error for Stopped {}

impl Hunter<'_> {
    fn work(&self, tx: &mpsc::SyncSender<Message>) {
        loop {
            let file = self.next_file.fetch_add(1, Ordering::Relaxed);
            let Some(path) = self.paths.get(file) else {
                return;
            };
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            self.progress.set_message(printable(
                &path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ));
            let Ok(outcome) = self.hunt_file(file, path, tx) else {
                return;
            };
            self.progress
                .inc(std::fs::metadata(path).map_or(0, |m| m.len()));
            if tx.send(Message::Done { file, outcome }).is_err() {
                return;
            }
        }
    }

    /// Hunts one file; `Err(Stopped)` when the hunt is being stopped.
    fn hunt_file(
        &self,
        file: usize,
        path: &Path,
        tx: &mpsc::SyncSender<Message>,
    ) -> Result<FileOutcome, Stopped> {
        let mut outcome = FileOutcome::default();
        match files::sniff(path) {
            Ok(Kind::Lines) if looks_binary(path) => {
                outcome.error = Some("binary data, not an EVTX, JSON or text log".to_owned());
                return Ok(outcome);
            }
            Ok(_) => {}
            Err(error) => {
                outcome.error = Some(format!("{error:#}"));
                return Ok(outcome);
            }
        }
        let context = normalize::Context {
            input_type: "hunt",
            peer: None,
            received_at: self.received_at,
        };
        let mut seen = 0u64;
        let mut skipped = 0u64;
        let mut raw = 0u64;
        let result = files::for_each_record(path, self.received_at, |record| {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Stopped.into());
            }
            seen += 1;
            let event = self.normalizer.normalize(record, &context);
            if self.since.is_some() || self.until.is_some() {
                let inside = event.timestamp().is_some_and(|ts| {
                    self.since.is_none_or(|since| ts >= since)
                        && self.until.is_none_or(|until| ts < until)
                });
                if !inside {
                    skipped += 1;
                    return Ok(());
                }
            }
            if event.get(fields::LOG_PARSE_ERROR).is_some()
                && event.get_str(fields::LOG_PARSER) == Some("raw")
            {
                raw += 1;
            }
            let mut hits: Vec<(usize, Match)> = Vec::new();
            self.engine
                .for_each_match(&event, |idx, _, found| hits.push((idx, found)));
            if !hits.is_empty() {
                tx.send(Message::Hits { file, event, hits })
                    .map_err(|_| Stopped)?;
            }
            Ok(())
        });
        outcome.skipped = skipped;
        outcome.raw = raw;
        match result {
            Ok(counts) => {
                outcome.read = counts.read;
                outcome.undecodable = counts.failed;
            }
            Err(error) if error.is::<Stopped>() => return Err(Stopped),
            Err(error) => {
                outcome.read = seen;
                outcome.error = Some(format!("stopped after {seen} records: {error:#}"));
            }
        }
        Ok(outcome)
    }
}

/// A file sniffed as text that has NUL bytes early on is not a log worth hunting line by line.
fn looks_binary(path: &Path) -> bool {
    let mut head = Vec::with_capacity(8192);
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    if file.take(8192).read_to_end(&mut head).is_err() {
        return false;
    }
    head.contains(&0)
}

/// The writer: detections in file order, counts for the summary.
struct Report<'a> {
    format: Format,
    rules: &'a [CompiledRule],
    paths: &'a [PathBuf],
    progress: ProgressBar,
    outcomes: Vec<Option<FileOutcome>>,
    detections_per_file: Vec<u64>,
    detections_per_rule: HashMap<usize, u64>,
    n_files_failed: usize,
    correlations: Option<correlate::Correlations>,
}

impl<'a> Report<'a> {
    fn new(
        format: Format,
        rules: &'a [CompiledRule],
        paths: &'a [PathBuf],
        progress: ProgressBar,
    ) -> Self {
        Self {
            format,
            rules,
            paths,
            progress,
            outcomes: paths.iter().map(|_| None).collect(),
            detections_per_file: vec![0; paths.len()],
            detections_per_rule: HashMap::new(),
            n_files_failed: 0,
            correlations: None,
        }
    }

    /// Writes messages as they come, holding back those of files after the one being
    /// written so the output follows the input order.
    fn write_all(
        &mut self,
        rx: mpsc::Receiver<Message>,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        match self.format {
            Format::Csv => writeln!(
                out,
                "@timestamp,level,rule_title,rule_id,host.name,event.code,file,matched_fields,summary,rule_author"
            )?,
            Format::Table => writeln!(
                out,
                "{:<20} {:<13} {:<TITLE_WIDTH$} {:<20} SUMMARY",
                "TIME", "LEVEL", "RULE", "HOST"
            )?,
            Format::Jsonl => {}
        }
        let mut current = 0;
        let mut held: BTreeMap<usize, Vec<Message>> = BTreeMap::new();
        for message in rx {
            if message.file() != current {
                held.entry(message.file()).or_default().push(message);
                continue;
            }
            if self.handle(message, out)? {
                // The current file is done: release the next ones' held messages.
                loop {
                    current += 1;
                    let Some(messages) = held.remove(&current) else {
                        break;
                    };
                    let mut done = false;
                    for message in messages {
                        done = self.handle(message, out)?;
                    }
                    if !done {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes one message; `true` when it ends its file.
    fn handle(&mut self, message: Message, out: &mut dyn Write) -> std::io::Result<bool> {
        match message {
            Message::Hits { file, event, hits } => {
                for (rule, found) in &hits {
                    if let Some(correlations) = &mut self.correlations {
                        correlations.observe(*rule, file, &event);
                        if correlations.is_silent(*rule) {
                            continue;
                        }
                    }
                    self.detections_per_file[file] += 1;
                    *self.detections_per_rule.entry(*rule).or_default() += 1;
                    let detection = Detection {
                        rule: &self.rules[*rule],
                        file: &self.paths[file],
                        event: &event,
                        found,
                    };
                    match self.format {
                        Format::Jsonl => detection.write_jsonl(out)?,
                        Format::Csv => detection.write_csv(out)?,
                        Format::Table => detection.write_table(out)?,
                    }
                }
                Ok(false)
            }
            Message::Done { file, outcome } => {
                let path = printable(&self.paths[file].display().to_string());
                let line = match &outcome.error {
                    Some(error) => {
                        self.n_files_failed += 1;
                        format!("{path}: not hunted: {}", printable(error))
                    }
                    None => format!(
                        "{path}: {} records read, {} skipped, {} unparseable ({} undecodable, {} raw text), {} detections",
                        outcome.read,
                        outcome.skipped,
                        outcome.undecodable + outcome.raw,
                        outcome.undecodable,
                        outcome.raw,
                        self.detections_per_file[file]
                    ),
                };
                self.progress.suspend(|| eprintln!("{line}"));
                self.outcomes[file] = Some(outcome);
                Ok(true)
            }
        }
    }

    /// Writes the correlation hits, once every file is read.
    fn finish_correlations(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        match &mut self.correlations {
            Some(correlations) => correlations.finish(self.rules, self.paths, self.format, out),
            None => Ok(()),
        }
    }

    fn print_summary(&self, elapsed: std::time::Duration) {
        let mut totals = FileOutcome::default();
        for outcome in self.outcomes.iter().flatten() {
            totals.read += outcome.read;
            totals.skipped += outcome.skipped;
            totals.undecodable += outcome.undecodable;
            totals.raw += outcome.raw;
        }
        let n_detections: u64 = self.detections_per_rule.values().sum();
        let mut by_level: BTreeMap<std::cmp::Reverse<Option<Level>>, u64> = BTreeMap::new();
        for (rule, count) in &self.detections_per_rule {
            *by_level
                .entry(std::cmp::Reverse(self.rules[*rule].meta.level))
                .or_default() += count;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "hunted {} files ({} not readable) in {:.1}s: {} records read, {} skipped, {} unparseable ({} undecodable, {} raw text)",
            self.paths.len() - self.n_files_failed,
            self.n_files_failed,
            elapsed.as_secs_f64(),
            totals.read,
            totals.skipped,
            totals.undecodable + totals.raw,
            totals.undecodable,
            totals.raw,
        );
        let levels: Vec<String> = by_level
            .iter()
            .map(|(level, count)| format!("{} {count}", level_name(level.0)))
            .collect();
        let _ = writeln!(
            stderr,
            "{n_detections} detections by {} rules{}{}",
            self.detections_per_rule.len(),
            if levels.is_empty() { "" } else { ": " },
            levels.join(", ")
        );
        let mut top: Vec<(usize, u64)> = self
            .detections_per_rule
            .iter()
            .map(|(rule, count)| (*rule, *count))
            .collect();
        top.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| self.rules[a.0].title().cmp(self.rules[b.0].title()))
        });
        if !top.is_empty() {
            let _ = writeln!(stderr, "top rules:");
        }
        for (rule, count) in top.iter().take(TOP_RULES) {
            let rule = &self.rules[*rule];
            let _ = writeln!(
                stderr,
                "  {count:>8}  {:<13} {} ({})",
                level_name(rule.meta.level),
                printable(rule.title()),
                printable(rule.id())
            );
        }
        if top.len() > TOP_RULES {
            let _ = writeln!(stderr, "  … and {} more rules", top.len() - TOP_RULES);
        }
        if let Some(correlations) = &self.correlations {
            let n_hits: u64 = correlations.hits.values().sum();
            let _ = writeln!(stderr, "{n_hits} correlation detections");
            if correlations.dropped > 0 {
                let _ = writeln!(
                    stderr,
                    "  warning: {} base-rule matches beyond the first {} were not correlated: correlation results are partial",
                    correlations.dropped,
                    correlate::MAX_OBSERVED
                );
            }
            for (title, count) in &correlations.hits {
                let _ = writeln!(stderr, "  {count:>8}  {}", printable(title));
            }
        }
    }
}

fn level_name(level: Option<Level>) -> &'static str {
    level.map_or("unknown", Level::as_str)
}

/// One rule matching one event.
struct Detection<'a> {
    rule: &'a CompiledRule,
    file: &'a Path,
    event: &'a Event,
    found: &'a Match,
}

/// A detection as JSONL. The rule's author, references and id travel with every match
/// (Sigma Detection Rule License attribution).
#[derive(Serialize)]
struct JsonDetection<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: Option<&'a str>,
    rule_id: Option<&'a str>,
    rule_title: &'a str,
    level: Option<&'static str>,
    rule_status: Option<&'static str>,
    rule_tags: &'a [String],
    rule_author: Option<&'a str>,
    rule_references: &'a [String],
    file: Cow<'a, str>,
    matched: JsonMatch<'a>,
    event: &'a Event,
}

#[derive(Serialize)]
struct JsonMatch<'a> {
    selections: &'a [String],
    fields: &'a [String],
}

impl Detection<'_> {
    fn write_jsonl(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let meta = &self.rule.meta;
        let json = JsonDetection {
            timestamp: self.event.get_str(fields::TIMESTAMP),
            rule_id: meta.id.as_deref(),
            rule_title: &meta.title,
            level: meta.level.map(Level::as_str),
            rule_status: meta.status.map(|s| s.as_str()),
            rule_tags: &meta.tags,
            rule_author: meta.author.as_deref(),
            rule_references: &meta.references,
            file: self.file.to_string_lossy(),
            matched: JsonMatch {
                selections: &self.found.selections,
                fields: &self.found.fields,
            },
            event: self.event,
        };
        let line = serde_json::to_string(&json).map_err(std::io::Error::other)?;
        writeln!(out, "{}", escape_json_controls(&line))
    }

    fn write_csv(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let meta = &self.rule.meta;
        let cells = [
            self.get(fields::TIMESTAMP),
            level_name(meta.level).to_owned(),
            meta.title.clone(),
            self.rule.id().to_owned(),
            self.host(),
            self.get(fields::EVENT_CODE),
            self.file.display().to_string(),
            self.found.fields.join(" "),
            self.summary(),
            meta.author.clone().unwrap_or_default(),
        ];
        let row: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
        writeln!(out, "{}", row.join(","))
    }

    fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let time = self
            .event
            .timestamp()
            .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let title = truncate(&printable(self.rule.title()), TITLE_WIDTH);
        let host = truncate(&printable(&self.host()), 20);
        let summary = truncate(&printable(&self.summary()), SUMMARY_CHARS);
        writeln!(
            out,
            "{time:<20} {:<13} {title:<TITLE_WIDTH$} {host:<20} {summary}",
            level_name(self.rule.meta.level)
        )
    }

    /// A field as text (`""` when absent).
    fn get(&self, path: &str) -> String {
        match self.event.get(path) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }

    fn host(&self) -> String {
        let host = self.get(fields::HOST_NAME);
        if host.is_empty() {
            self.get("winlog.computer_name")
        } else {
            host
        }
    }

    /// A short line: the event code and the values of the fields that matched, else the
    /// message or original text.
    fn summary(&self) -> String {
        let mut parts = Vec::new();
        let code = self.get(fields::EVENT_CODE);
        if !code.is_empty() {
            parts.push(format!("[{code}]"));
        }
        let mut n_values = 0;
        for field in &self.found.fields {
            let value = [format!("winlog.event_data.{field}"), field.clone()]
                .iter()
                .map(|path| self.get(path))
                .find(|value| !value.is_empty());
            if let Some(value) = value {
                parts.push(format!("{field}: {value}"));
                n_values += 1;
            }
        }
        if n_values == 0 {
            let mut text = self.get(fields::MESSAGE);
            if text.is_empty() {
                text = self.get(fields::EVENT_ORIGINAL);
            }
            if !text.is_empty() {
                parts.push(text);
            }
        }
        parts.join(" · ")
    }
}

/// Text from the logs (attacker-controlled) made safe for a terminal: control characters
/// (ANSI escapes, carriage returns, C1 controls) and bidirectional overrides become spaces.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// At most `max` characters, with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// serde_json escapes C0 controls (ESC included) but writes DEL and the C1 controls
/// (U+0080–U+009F, 8-bit CSI among them) raw; escape those too, so JSONL on a terminal is
/// inert. They can only occur inside strings, where `\u00XX` is valid JSON.
fn escape_json_controls(line: &str) -> Cow<'_, str> {
    if !line.chars().any(|c| matches!(c, '\u{7f}'..='\u{9f}')) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        if matches!(c, '\u{7f}'..='\u{9f}') {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A CSV cell: quoted when needed; cells starting with a formula character are prefixed
/// with `'` so spreadsheets do not run them; control characters other than tab and line
/// breaks are replaced, so the file is also safe to `cat`.
fn csv_cell(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_guarded() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=cmd|'/c calc'!A1"), "'=cmd|'/c calc'!A1");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("a\u{1b}[31mb"), "a\u{fffd}[31mb");
    }

    #[test]
    fn terminal_controls_do_not_pass() {
        assert_eq!(printable("a\u{1b}[2Jb\rc\u{9b}d\u{202e}e"), "a [2Jb c d e");
        assert_eq!(
            escape_json_controls(r#"{"a":"x\u001b y"}"#),
            r#"{"a":"x\u001b y"}"#
        );
        assert_eq!(
            escape_json_controls("{\"a\":\"x\u{9b}y\u{7f}\"}"),
            r#"{"a":"x\u009by\u007f"}"#
        );
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcdé", 4), "abc…");
    }
}
