//! [`sigma::Engine`] finds exactly what every rule's own `matches` finds, over the EVTX
//! attack samples with every SigmaHQ rule. Debug builds check every 16th event; with
//! `SLOW_TESTS=1` every event.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::sigma_data;

#[test]
fn engine_equals_naive_on_attack_samples() {
    let Some(data) = sigma_data() else { return };
    let samples = data.join("../evtx/attack-samples");
    if !samples.is_dir() {
        eprintln!("skipped: {} not found", samples.display());
        return;
    }
    let mut rules = Vec::new();
    for dir in [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-compliance",
        "rules-dfir",
        "rules-placeholder",
    ] {
        rules.extend(sigma::RuleSet::load_dir(data.join(dir)).rules);
    }
    let stride = if std::env::var_os("SLOW_TESTS").is_some() || !cfg!(debug_assertions) {
        1
    } else {
        16
    };
    let mut files = Vec::new();
    collect(&samples, &mut files);
    files.sort();
    let normalizer = normalize::Normalizer::builtin();
    let context = normalize::Context {
        input_type: "import",
        peer: None,
        received_at: jiff::Timestamp::UNIX_EPOCH,
    };
    let mut events = Vec::new();
    let mut index = 0usize;
    for file in files {
        let Ok(records) = formats::evtx::EvtxFile::open(&file) else {
            continue;
        };
        for record in records.flatten() {
            if index.is_multiple_of(stride) {
                events.push((index, normalizer.normalize(record, &context)));
            }
            index += 1;
        }
    }
    let mut naive = BTreeSet::new();
    for (idx, event) in &events {
        for (rule_idx, rule) in rules.iter().enumerate() {
            if let Some(found) = rule.matches(event) {
                naive.insert((rule_idx, rule.id().to_owned(), *idx, found));
            }
        }
    }
    let engine = sigma::Engine::new(rules);
    let mut indexed = BTreeSet::new();
    for (idx, event) in &events {
        for hit in engine.matches(event) {
            indexed.insert((hit.index, hit.rule.id().to_owned(), *idx, hit.found));
        }
    }
    eprintln!(
        "engine vs naive: {} events (of {index}), {} detections",
        events.len(),
        naive.len()
    );
    assert!(!naive.is_empty(), "the corpus produces detections");
    let missing: Vec<_> = naive.difference(&indexed).take(10).collect();
    let extra: Vec<_> = indexed.difference(&naive).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "engine differs: missing {missing:?}, extra {extra:?}"
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "evtx") {
            out.push(path);
        }
    }
}
