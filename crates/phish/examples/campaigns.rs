//! Campaign grouping over a folder of real messages (default: the phishing corpus):
//! analyses every `.eml` offline, groups them, prints the campaigns found and how long the
//! grouping took.
//!
//! ```text
//! cargo run --release -p phish --example campaigns [-- DIR]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use phish::{Analyzer, AnalyzerConfig, Forwarding, Language, OfflineDns, StoredReport};

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/email/phishing")
        });
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("reading the corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    let analyzer = Analyzer::new(AnalyzerConfig::default());
    let reports: Vec<StoredReport> = files
        .iter()
        .enumerate()
        .map(|(index, path)| {
            let raw = std::fs::read(path).expect("reading a message");
            let report = analyzer.analyze(&raw, &OfflineDns);
            StoredReport {
                id: path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                received_at: index as i64,
                source: "corpus".into(),
                reporter: None,
                language: Language::En,
                forwarding: Forwarding::Direct,
                verdict: report.verdict,
                automatic_verdict: report.verdict,
                score: report.score,
                subject: report.subject.clone(),
                reasons_en: Vec::new(),
                reasons_it: Vec::new(),
                message_sha256: String::new(),
                analysis: serde_json::to_value(&report).expect("a report serializes"),
                overrides: Vec::new(),
                reply: None,
                notices: Vec::new(),
            }
        })
        .collect();
    let started = Instant::now();
    let n_keys: usize = reports
        .iter()
        .map(|r| phish::campaigns::keys(&r.analysis, &[]).len())
        .sum();
    println!(
        "keys: {n_keys} from {} reports in {:.1} ms",
        reports.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let started = Instant::now();
    let campaigns = phish::campaigns::group(&reports, &[]);
    let elapsed = started.elapsed();
    let grouped: usize = campaigns.iter().map(|c| c.reports.len()).sum();
    println!(
        "{} messages, {} campaigns covering {} messages, largest {}, grouped in {:.1} ms",
        reports.len(),
        campaigns.len(),
        grouped,
        campaigns.first().map_or(0, |c| c.reports.len()),
        elapsed.as_secs_f64() * 1000.0
    );
    // The API's path: the same reports kept by a desk, read back from its files.
    {
        let dir =
            std::env::temp_dir().join(format!("phish-campaigns-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let desk = phish::Desk::open(&dir, analyzer.clone(), std::sync::Arc::new(OfflineDns))
            .expect("opening a desk");
        for (index, path) in files.iter().enumerate() {
            let raw = std::fs::read(path).expect("reading a message");
            desk.submit(
                &raw,
                phish::Submission {
                    source: "corpus".into(),
                    reporter: None,
                    language: Language::En,
                    forwarding: Forwarding::Direct,
                    now: index as i64,
                },
            )
            .expect("keeping a report");
        }
        let started = Instant::now();
        let kept = desk.campaigns(2000).expect("grouping kept reports");
        println!(
            "desk: {} campaigns over {} kept reports, read and grouped in {:.1} ms",
            kept.len(),
            files.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    if std::env::var_os("KEYS").is_some() {
        let mut postings: std::collections::HashMap<String, usize> = Default::default();
        for report in &reports {
            for key in phish::campaigns::keys(&report.analysis, &[]) {
                *postings
                    .entry(format!("{}:{}", key.kind.as_str(), key.value))
                    .or_default() += 1;
            }
        }
        let mut top: Vec<_> = postings.into_iter().collect();
        top.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        for (key, n) in top.iter().take(60) {
            println!("{n:>5} {key}");
        }
    }
    for campaign in campaigns.iter().take(40) {
        let shared: Vec<String> = campaign
            .shared
            .iter()
            .take(4)
            .map(|s| format!("{}:{}({})", s.kind.as_str(), s.value, s.reports))
            .collect();
        println!(
            "{:>4}  {}  {}  | {}",
            campaign.reports.len(),
            campaign.id,
            shared.join(" "),
            campaign
                .subjects
                .iter()
                .take(2)
                .cloned()
                .collect::<Vec<_>>()
                .join(" / ")
        );
    }
}
