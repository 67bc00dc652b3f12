//! Matching cost of all SigmaHQ rules over the EVTX attack samples: the naive path (every
//! rule's [`sigma::CompiledRule::matches`] on every event) against [`sigma::Engine`].
//!
//! ```text
//! cargo run --release -p sigma --example bench_rules [-- [--rules-count 100,1000,all] RULES_DIR...]
//! ```
//!
//! Defaults to every `rules*` directory of `../shared/data/sigma` and the events of
//! `../shared/data/evtx/attack-samples`. `BENCH_DUMP=FILE` writes the naive
//! `(rule id, event index)` pairs to FILE, one per line; `BENCH_NAIVE=0` skips the naive
//! run. `--rules-count` also times the engine over evenly spaced subsets of the rules
//! (every k-th rule, so that every logsource keeps its share), to show how the cost grows
//! with the number of rules.

use std::path::{Path, PathBuf};
use std::time::Instant;

use event::Event;

fn main() {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let mut args: Vec<PathBuf> = Vec::new();
    let mut counts: Vec<Option<usize>> = Vec::new();
    let mut argv = std::env::args_os().skip(1);
    while let Some(arg) = argv.next() {
        if arg == "--rules-count" {
            let list = argv
                .next()
                .expect("--rules-count needs a list, e.g. 100,1000,all");
            for item in list.to_string_lossy().split(',') {
                counts.push(match item.trim() {
                    "all" => None,
                    n => Some(n.parse().expect("--rules-count: numbers or `all`")),
                });
            }
        } else {
            args.push(PathBuf::from(arg));
        }
    }
    let rule_dirs = if args.is_empty() {
        [
            "rules",
            "rules-emerging-threats",
            "rules-threat-hunting",
            "rules-compliance",
            "rules-dfir",
            "rules-placeholder",
        ]
        .iter()
        .map(|d| shared.join("sigma").join(d))
        .collect()
    } else {
        args
    };
    let started = Instant::now();
    let mut rules = Vec::new();
    for dir in &rule_dirs {
        rules.extend(sigma::RuleSet::load_dir(dir).rules);
    }
    println!("loaded {} rules in {:.2?}", rules.len(), started.elapsed());

    let started = Instant::now();
    let (events, bytes) = load_events(&shared.join("evtx/attack-samples"));
    println!(
        "decoded {} events ({:.1} MB of EVTX) in {:.2?}",
        events.len(),
        bytes as f64 / 1e6,
        started.elapsed()
    );

    if std::env::var_os("BENCH_NAIVE").is_none_or(|v| v != "0") {
        let started = Instant::now();
        let mut pairs = Vec::new();
        for (idx, event) in events.iter().enumerate() {
            for rule in &rules {
                if rule.matches(event).is_some() {
                    pairs.push((rule.id().to_owned(), idx));
                }
            }
        }
        report("naive", events.len(), pairs.len(), started.elapsed());
        if let Some(path) = std::env::var_os("BENCH_DUMP") {
            pairs.sort();
            let text: String = pairs.iter().map(|(id, i)| format!("{id}\t{i}\n")).collect();
            std::fs::write(path, text).expect("write BENCH_DUMP");
        }
    }

    for count in &counts {
        let n = count.unwrap_or(rules.len()).min(rules.len());
        let subset: Vec<sigma::CompiledRule> = (0..n)
            .map(|i| rules[i * rules.len() / n.max(1)].clone())
            .collect();
        let started = Instant::now();
        let engine = sigma::Engine::new(subset);
        let built = started.elapsed();
        // Best of 3: the machine is shared, the minimum is the least disturbed run.
        let mut took = std::time::Duration::MAX;
        let mut detections = 0;
        for _ in 0..3 {
            let started = Instant::now();
            detections = 0;
            for event in &events {
                detections += engine.matches(event).len();
            }
            took = took.min(started.elapsed());
        }
        println!(
            "{n:>6} rules: built in {built:.2?}; {} events in {took:.2?} (best of 3) = {:.0} events/s, \
             {:.1} MB/s of EVTX, {detections} detections",
            events.len(),
            events.len() as f64 / took.as_secs_f64(),
            bytes as f64 / 1e6 / took.as_secs_f64()
        );
    }

    let started = Instant::now();
    let engine = sigma::Engine::new(rules);
    println!(
        "built engine in {:.2?}: {}",
        started.elapsed(),
        engine.stats()
    );
    let started = Instant::now();
    let mut detections = 0;
    for event in &events {
        detections += engine.matches(event).len();
    }
    report("engine", events.len(), detections, started.elapsed());
    if let Some(peak) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
    {
        println!("peak RSS {}", peak.trim_start_matches("VmHWM:").trim());
    }
}

fn report(name: &str, events: usize, detections: usize, took: std::time::Duration) {
    println!(
        "{name:>6}: {events} events in {took:.2?} = {:.0} events/s, {detections} detections",
        events as f64 / took.as_secs_f64()
    );
}

fn load_events(dir: &Path) -> (Vec<Event>, u64) {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    let normalizer = normalize::Normalizer::builtin();
    let context = normalize::Context {
        input_type: "import",
        peer: None,
        received_at: jiff::Timestamp::UNIX_EPOCH,
    };
    let mut events = Vec::new();
    let mut bytes = 0;
    for file in files {
        bytes += std::fs::metadata(&file).map_or(0, |m| m.len());
        let Ok(records) = formats::evtx::EvtxFile::open(&file) else {
            continue;
        };
        for record in records.flatten() {
            events.push(normalizer.normalize(record, &context));
        }
    }
    (events, bytes)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "evtx") {
            out.push(path);
        }
    }
}
