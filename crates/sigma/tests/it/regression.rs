//! SigmaHQ regression cases: each `regression_data/**/info.yml` names a rule and the number
//! of events of its `.evtx` the rule must match. Cases we get wrong are listed, with what we
//! count, in `testdata/sigma/regression_failures.txt` (refresh with `UPDATE_EXPECT=1`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::{sigma_data, testdata};

#[test]
fn sigmahq_regression_cases_match() {
    let Some(data) = sigma_data() else { return };
    let mut rules = HashMap::new();
    for dir in [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-compliance",
        "rules-dfir",
        "rules-placeholder",
    ] {
        for rule in sigma::RuleSet::load_dir(data.join(dir)).rules {
            rules.insert(rule.id().to_owned(), rule);
        }
    }
    let normalizer = normalize::Normalizer::builtin();
    let context = normalize::Context {
        input_type: "import",
        peer: None,
        received_at: jiff::Timestamp::UNIX_EPOCH,
    };
    let mut infos = Vec::new();
    find_infos(&data.join("regression_data"), &mut infos);
    infos.sort();
    let mut failures = BTreeMap::new();
    let mut n_passed = 0;
    let mut n_skipped = 0;
    for info_path in &infos {
        let case = info_path
            .parent()
            .unwrap()
            .strip_prefix(&data)
            .unwrap()
            .display()
            .to_string();
        let info: yaml_serde::Value =
            yaml_serde::from_str(&std::fs::read_to_string(info_path).unwrap()).unwrap();
        let rule_id = info["rule_metadata"][0]["id"].as_str().unwrap().to_owned();
        if info["regression_tests_info"].is_null() {
            // No evtx test (cisco_cli_dot1x_disabled has a commented-out `raw` one).
            n_skipped += 1;
            continue;
        }
        // Without `match_count` the case only says the rule fires.
        let expected = info["regression_tests_info"][0]["match_count"].as_u64();
        let Some(rule) = rules.get(&rule_id) else {
            failures.insert(case, format!("rule {rule_id} not loaded"));
            continue;
        };
        let evtx = std::fs::read_dir(info_path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "evtx"))
            .expect("case has an .evtx");
        let mut n_matches = 0;
        let mut n_events = 0;
        for record in formats::evtx::EvtxFile::open(&evtx).unwrap() {
            let Ok(record) = record else { continue };
            let event = normalizer.normalize(record, &context);
            n_events += 1;
            if rule.matches(&event).is_some() {
                n_matches += 1;
            }
        }
        let pass = match expected {
            Some(expected) => n_matches == expected,
            None => n_matches >= 1,
        };
        if pass {
            n_passed += 1;
        } else {
            failures.insert(
                case,
                format!(
                    "expected {} matches, got {n_matches} of {n_events} events",
                    expected.map_or("some".to_owned(), |n| n.to_string())
                ),
            );
        }
    }
    eprintln!(
        "sigma regression: {n_passed} of {} cases pass ({n_skipped} without an evtx test)",
        infos.len() - n_skipped
    );
    let actual: String = failures
        .iter()
        .map(|(case, why)| format!("{case}\t{why}\n"))
        .collect();
    let expected_path = testdata().join("regression_failures.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    assert!(
        expected == actual,
        "testdata/sigma/regression_failures.txt is out of date (UPDATE_EXPECT=1 to refresh):\n{}",
        diff(&expected, &actual)
    );
}

fn find_infos(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            find_infos(&path, out);
        } else if path.file_name().is_some_and(|n| n == "info.yml") {
            out.push(path);
        }
    }
}

fn diff(expected: &str, actual: &str) -> String {
    let mut out = String::new();
    for line in expected
        .lines()
        .filter(|l| !actual.lines().any(|a| a == *l))
    {
        out.push_str(&format!("- {line}\n"));
    }
    for line in actual
        .lines()
        .filter(|l| !expected.lines().any(|e| e == *l))
    {
        out.push_str(&format!("+ {line}\n"));
    }
    out
}
