//! What the desk's campaign cache saves: keeps the phishing corpus (up to 2,000 messages) in
//! a desk under a temporary folder, then times `Desk::campaigns` over the console's window
//! (the newest 2,000 reports) computed from the report files, served from the cache, and
//! computed again after an override invalidated it.
//!
//! ```text
//! cargo run --release -p phish --example campaign_cache [-- DIR]
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use phish::{
    Analyzer, AnalyzerConfig, Desk, Forwarding, Language, OfflineDns, Submission, Verdict,
};

const WINDOW: usize = 2_000;

fn main() {
    let corpus = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/email/phishing")
        });
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("reading the corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files.truncate(WINDOW);
    let dir = std::env::temp_dir().join(format!("phish-campaign-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let desk = Desk::open(
        &dir,
        Analyzer::new(AnalyzerConfig::default()),
        Arc::new(OfflineDns),
    )
    .expect("opening the desk");
    let started = Instant::now();
    let mut last = None;
    for (index, path) in files.iter().enumerate() {
        let raw = std::fs::read(path).expect("reading a message");
        let submission = Submission {
            source: "api".into(),
            reporter: None,
            language: Language::En,
            forwarding: Forwarding::Direct,
            now: 1_000 + index as i64,
        };
        last = Some(desk.submit(&raw, submission).expect("keeping a report").id);
    }
    println!(
        "{} reports kept in {:.1} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );

    let time = |label: &str, runs: u32| {
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                let campaigns = desk.campaigns(WINDOW).expect("campaigns");
                std::hint::black_box(campaigns);
                started.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "{label}: median {:.3} ms, max {:.3} ms over {runs} requests",
            times[times.len() / 2].as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0
        );
    };
    time("first request (computed from the files)", 1);
    time("repeated requests (cached)", 200);
    let last = last.expect("at least one message");
    desk.override_verdict(&last, "bench", Verdict::LikelySafe, "bench", 10_000)
        .expect("override");
    time("after an override (computed again)", 1);
    time("repeated requests (cached again)", 200);
    let _ = std::fs::remove_dir_all(&dir);
}
