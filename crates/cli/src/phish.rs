//! `sentinella phish`: analyse suspicious emails offline.
//!
//! - `analyze PATH...`: a verdict per message (`--json`: one object per line), then a summary
//! - `eval --phishing DIR --ham DIR`: recall, false-positive rate, confusion matrix,
//!   messages/s and p50/p99 latency over two labelled folders

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use phish::{Analyzer, AnalyzerConfig, Language, OfflineDns, Report, Verdict};

#[derive(Debug, clap::Args)]
pub struct PhishArgs {
    #[command(subcommand)]
    command: PhishCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PhishCommand {
    /// Analyse .eml files and folders; prints a verdict per message and a summary.
    Analyze(AnalyzeArgs),
    /// Measure accuracy and speed over a folder of phishing and a folder of legitimate mail.
    Eval(EvalArgs),
}

#[derive(Debug, clap::Args)]
struct AnalyzeArgs {
    /// Files or folders (searched recursively for files; files in folders that are clearly
    /// not email messages are skipped, with a note).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// One JSON object per line and message, then a summary object.
    #[arg(long)]
    json: bool,
    /// Language of the reasons: en or it.
    #[arg(long, default_value = "en")]
    lang: String,
    /// The organisation's own domains (display-name impersonation, lookalikes); repeatable.
    #[arg(long = "own-domain")]
    own_domains: Vec<String>,
    /// A folder of YARA rules (`.yar`) run over attachments and the message.
    #[arg(long)]
    yara: Option<PathBuf>,
    /// Verify DKIM/SPF/DMARC live through this DNS server (`IP` or `IP:port`; repeatable);
    /// offline (not verified, the receiver's results labelled as such) when absent.
    #[arg(long = "dns-server", value_name = "ADDR")]
    dns_servers: Vec<String>,
    /// Also check links, senders and attachment hashes against the indicators of this
    /// intelligence store (a server's `DATA_DIR/intel`; stop that server first, as for
    /// `intel import --direct`).
    #[arg(long, value_name = "DIR")]
    intel: Option<PathBuf>,
    /// MISP warninglists (`list.json` files or folders) describing senders and hosting
    /// (disposable mailboxes, dynamic DNS), as `[phish] warninglists`; repeatable.
    #[arg(long = "warninglist", value_name = "PATH")]
    warninglists: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct EvalArgs {
    /// Folder of phishing messages (positives).
    #[arg(long)]
    phishing: PathBuf,
    /// Folder of legitimate messages (negatives).
    #[arg(long)]
    ham: PathBuf,
    /// Worker threads [default: available cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Print the file names of misclassified messages.
    #[arg(long)]
    show_errors: bool,
    /// Ignore the receiving server's Authentication-Results.
    #[arg(long)]
    no_receiver_auth: bool,
    /// No authentication findings at all, neither ours nor the receiver's (content only).
    #[arg(long)]
    no_auth: bool,
    /// A folder of YARA rules (`.yar`) run over attachments and the message.
    #[arg(long)]
    yara: Option<PathBuf>,
    /// Also check links, senders and attachment hashes against the indicators of this
    /// intelligence store (a server's `DATA_DIR/intel`; stop that server first, as for
    /// `intel import --direct`).
    #[arg(long, value_name = "DIR")]
    intel: Option<PathBuf>,
    /// MISP warninglists (`list.json` files or folders) describing senders and hosting
    /// (disposable mailboxes, dynamic DNS), as `[phish] warninglists`; repeatable.
    #[arg(long = "warninglist", value_name = "PATH")]
    warninglists: Vec<PathBuf>,
}

pub fn run(args: PhishArgs) -> anyhow::Result<()> {
    match args.command {
        PhishCommand::Analyze(args) => analyze(args),
        PhishCommand::Eval(args) => eval(args),
    }
}

/// Adds the indicators of the intelligence store in `dir` (its live matcher, as the server
/// uses it).
fn with_intel(
    analyzer: Analyzer,
    dir: Option<&Path>,
    warninglists: &[PathBuf],
) -> anyhow::Result<Analyzer> {
    if dir.is_none() && warninglists.is_empty() {
        return Ok(analyzer);
    }
    let mut lookup = server::phishing::IntelLookup {
        warninglists: std::sync::Arc::new(server::intel::load_warninglists(warninglists)?),
        ..Default::default()
    };
    if let Some(dir) = dir {
        anyhow::ensure!(dir.is_dir(), "--intel {}: not a folder", dir.display());
        let (store, problems) = intel_store::IntelStore::open(dir, intel::Warninglists::default())
            .with_context(|| format!("opening the intelligence store {}", dir.display()))?;
        for (line, reason) in problems.iter().take(5) {
            eprintln!("warning: {}:{line}: {reason}", dir.display());
        }
        lookup.matcher = store.matcher();
        eprintln!(
            "{} indicators from {}",
            lookup.matcher.current().len(),
            dir.display()
        );
    }
    Ok(analyzer.with_known_indicators(std::sync::Arc::new(lookup)))
}

/// Adds the YARA rules of `dir`, reporting rule files that did not load.
fn with_yara(analyzer: Analyzer, dir: Option<&Path>) -> anyhow::Result<Analyzer> {
    let Some(dir) = dir else { return Ok(analyzer) };
    let rules = phish::yara::YaraRules::load_dir(dir)
        .with_context(|| format!("reading YARA rules from {}", dir.display()))?;
    for (file, problem) in &rules.problems {
        tracing::warn!(file = %file.display(), %problem, "yara rule file rejected");
    }
    tracing::info!(files = rules.loaded.len(), "yara rules loaded");
    Ok(analyzer.with_yara(std::sync::Arc::new(rules)))
}

fn files_under(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = stack.pop() {
        let meta = fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            for entry in
                fs::read_dir(&path).with_context(|| format!("listing {}", path.display()))?
            {
                stack.push(entry?.path());
            }
        } else if meta.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn analyze(args: AnalyzeArgs) -> anyhow::Result<()> {
    let language = match args.lang.as_str() {
        "it" => Language::It,
        "en" => Language::En,
        other => anyhow::bail!("unknown language {other:?}: use en or it"),
    };
    let analyzer = with_yara(
        Analyzer::new(AnalyzerConfig {
            own_domains: args.own_domains,
            ..AnalyzerConfig::default()
        }),
        args.yara.as_deref(),
    )?;
    let analyzer = with_intel(analyzer, args.intel.as_deref(), &args.warninglists)?;
    let files = files_under(&args.paths)?;
    // Live DNS runs on a small runtime of its own; this thread blocks on each lookup.
    let (dns, _dns_runtime): (Box<dyn phish::DnsRecords>, _) = if args.dns_servers.is_empty() {
        (Box::new(OfflineDns), None)
    } else {
        let settings =
            phish::LiveDnsSettings::new(&args.dns_servers, phish::LiveDnsSettings::DEFAULT_TIMEOUT)
                .context("--dns-server")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let live = {
            let _enter = runtime.enter();
            server::phishing::LiveDns::new(&settings)?
        };
        (Box::new(live), Some(runtime))
    };
    let mut counts = [0usize; 3];
    let mut skipped = 0usize;
    let mut stdout = std::io::stdout().lock();
    for file in &files {
        let raw = match fs::read(file) {
            Ok(raw) => raw,
            Err(err) => {
                tracing::warn!(file = %file.display(), error = %err, "cannot read message");
                continue;
            }
        };
        // Files found inside a folder that are clearly no email (a licence, a README, a
        // picture) are skipped and said so; a file named on the command line is analysed.
        let named = args.paths.contains(file);
        if !named && !phish::looks_like_message(&raw) {
            skipped += 1;
            if args.json {
                let line = serde_json::json!({"skipped": {"file": file.display().to_string(), "reason": "not an email message"}});
                writeln!(stdout, "{line}")?;
            } else {
                eprintln!("skipped {}: not an email message", file.display());
            }
            continue;
        }
        let report = analyzer.analyze(&raw, dns.as_ref());
        counts[report.verdict as usize] += 1;
        if args.json {
            let line = serde_json::json!({
                "file": file.display().to_string(),
                "verdict": report.verdict.as_str(),
                "score": report.score,
                "reasons": report.reasons(language),
                "subject": report.subject,
                "findings": report.findings,
                "attachments": report.attachments,
                "auth": report.auth,
                "indicators": report.indicators,
            });
            writeln!(stdout, "{line}")?;
        } else {
            writeln!(
                stdout,
                "{}\t{}\t{}",
                report.verdict.as_str(),
                report.score,
                file.display()
            )?;
            for reason in report.reasons(language) {
                writeln!(stdout, "\t- {reason}")?;
            }
        }
    }
    let [safe, suspicious, malicious] = counts;
    let messages = safe + suspicious + malicious;
    if args.json {
        let summary = serde_json::json!({"summary": {"messages": messages, "malicious": malicious, "suspicious": suspicious, "likely_safe": safe, "skipped": skipped}});
        writeln!(stdout, "{summary}")?;
    } else {
        writeln!(
            stdout,
            "{messages} messages: {malicious} malicious, {suspicious} suspicious, {safe} likely safe{}",
            if skipped > 0 {
                format!(" ({skipped} files skipped: not email messages)")
            } else {
                String::new()
            }
        )?;
    }
    Ok(())
}

struct Outcome {
    file: PathBuf,
    phishing: bool,
    verdict: Verdict,
    elapsed: Duration,
    report: Report,
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let analyzer = with_yara(
        Analyzer::new(AnalyzerConfig {
            trust_receiver_auth_results: !args.no_receiver_auth && !args.no_auth,
            check_authentication: !args.no_auth,
            ..AnalyzerConfig::default()
        }),
        args.yara.as_deref(),
    )?;
    let analyzer = with_intel(analyzer, args.intel.as_deref(), &args.warninglists)?;
    let mut work: Vec<(PathBuf, bool)> = Vec::new();
    work.extend(
        files_under(std::slice::from_ref(&args.phishing))?
            .into_iter()
            .filter(|p| is_eml(p))
            .map(|p| (p, true)),
    );
    work.extend(
        files_under(std::slice::from_ref(&args.ham))?
            .into_iter()
            .filter(|p| is_eml(p))
            .map(|p| (p, false)),
    );
    anyhow::ensure!(!work.is_empty(), "no .eml files found");
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let next = Mutex::new(0usize);
    let outcomes = Mutex::new(Vec::with_capacity(work.len()));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = {
                        let mut next = next.lock().expect("no panics while holding the lock");
                        let index = *next;
                        *next += 1;
                        index
                    };
                    let Some((file, phishing)) = work.get(index) else {
                        break;
                    };
                    let Ok(raw) = fs::read(file) else { continue };
                    let begin = Instant::now();
                    let report = analyzer.analyze(&raw, &OfflineDns);
                    let elapsed = begin.elapsed();
                    outcomes
                        .lock()
                        .expect("no panics while holding the lock")
                        .push(Outcome {
                            file: file.clone(),
                            phishing: *phishing,
                            verdict: report.verdict,
                            elapsed,
                            report,
                        });
                }
            });
        }
    });
    let wall = started.elapsed();
    let mut outcomes = outcomes.into_inner().expect("workers finished");
    outcomes.sort_by(|a, b| a.file.cmp(&b.file));
    // Confusion matrix: rows = truth, columns = verdict.
    let mut matrix = [[0usize; 3]; 2];
    for outcome in &outcomes {
        matrix[usize::from(!outcome.phishing)][outcome.verdict as usize] += 1;
    }
    let phishing_total: usize = matrix[0].iter().sum();
    let ham_total: usize = matrix[1].iter().sum();
    let detected = matrix[0][1] + matrix[0][2];
    let false_positives = matrix[1][1] + matrix[1][2];
    let mut latencies: Vec<Duration> = outcomes.iter().map(|o| o.elapsed).collect();
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "messages: {} ({phishing_total} phishing, {ham_total} ham), {threads} threads",
        outcomes.len()
    )?;
    writeln!(out, "confusion matrix (rows: truth; columns: verdict)")?;
    writeln!(
        out,
        "{:>10} {:>10} {:>10} {:>11}",
        "", "malicious", "suspicious", "likely_safe"
    )?;
    writeln!(
        out,
        "{:>10} {:>10} {:>10} {:>11}",
        "phishing", matrix[0][2], matrix[0][1], matrix[0][0]
    )?;
    writeln!(
        out,
        "{:>10} {:>10} {:>10} {:>11}",
        "ham", matrix[1][2], matrix[1][1], matrix[1][0]
    )?;
    writeln!(
        out,
        "recall (phishing judged malicious or suspicious): {:.2}% ({detected}/{phishing_total})",
        100.0 * detected as f64 / phishing_total.max(1) as f64
    )?;
    writeln!(
        out,
        "false-positive rate (ham judged malicious or suspicious): {:.2}% ({false_positives}/{ham_total})",
        100.0 * false_positives as f64 / ham_total.max(1) as f64
    )?;
    writeln!(
        out,
        "throughput: {:.1} messages/s (wall clock, {threads} threads)",
        outcomes.len() as f64 / wall.as_secs_f64()
    )?;
    writeln!(
        out,
        "latency per message: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(0.50).as_secs_f64() * 1e3,
        percentile(0.99).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    )?;
    // Which findings carry the detections: how often each code fires per class.
    let mut codes: std::collections::BTreeMap<&str, (usize, usize)> =
        std::collections::BTreeMap::new();
    for outcome in &outcomes {
        for finding in &outcome.report.findings {
            let entry = codes.entry(finding.code).or_default();
            if outcome.phishing {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
    writeln!(out, "findings (phishing / ham messages where each fired):")?;
    for (code, (phishing, ham)) in codes {
        writeln!(out, "  {code:<36} {phishing:>5} {ham:>5}")?;
    }
    if args.show_errors {
        for outcome in &outcomes {
            let wrong = outcome.phishing == (outcome.verdict == Verdict::LikelySafe);
            if wrong {
                let codes: Vec<&str> = outcome.report.findings.iter().map(|f| f.code).collect();
                writeln!(
                    out,
                    "{} {} {} {}",
                    if outcome.phishing { "FN" } else { "FP" },
                    outcome.report.score,
                    outcome.file.display(),
                    codes.join(",")
                )?;
            }
        }
    }
    Ok(())
}

fn is_eml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("eml"))
}
