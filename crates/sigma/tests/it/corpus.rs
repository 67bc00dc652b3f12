//! Every rule of `../shared/data/sigma/rules*` loads, or is listed with its reason in
//! `testdata/sigma/unsupported.txt` (refresh with `UPDATE_EXPECT=1`).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::{sigma_data, testdata};

#[test]
fn sigmahq_corpus_loads_or_is_listed() {
    let Some(data) = sigma_data() else { return };
    let started = Instant::now();
    let mut dirs: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("rules")
        })
        .collect();
    dirs.sort();
    let mut loaded = 0;
    let mut rejected: BTreeMap<String, String> = BTreeMap::new();
    let mut notes: BTreeMap<String, usize> = BTreeMap::new();
    for dir in &dirs {
        let report = sigma::RuleSet::load_dir(dir);
        loaded += report.loaded();
        for rejection in &report.rejected {
            let path = rejection.path.strip_prefix(&data).unwrap();
            let reason = rejection.reason.to_string().replace(['\t', '\n'], " ");
            rejected
                .entry(path.display().to_string())
                .and_modify(|r| {
                    r.push_str("; ");
                    r.push_str(&reason)
                })
                .or_insert(reason);
        }
        for warning in &report.warnings {
            *notes.entry(warning.message.clone()).or_default() += 1;
        }
    }
    let mut top: Vec<_> = notes.into_iter().collect();
    top.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    eprintln!(
        "sigma corpus: {loaded} loaded, {} rejected, in {:?}; top warnings: {:?}",
        rejected.len(),
        started.elapsed(),
        &top[..top.len().min(8)]
    );
    let actual: String = rejected
        .iter()
        .map(|(path, reason)| format!("{path}\t{reason}\n"))
        .collect();
    let expected_path = testdata().join("unsupported.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if expected != actual {
        let expected_lines: std::collections::BTreeSet<&str> = expected.lines().collect();
        let actual_lines: std::collections::BTreeSet<&str> = actual.lines().collect();
        let now_failing: Vec<_> = actual_lines.difference(&expected_lines).collect();
        let now_loading: Vec<_> = expected_lines.difference(&actual_lines).collect();
        panic!(
            "testdata/sigma/unsupported.txt is out of date (UPDATE_EXPECT=1 to refresh)\n\
             rejected but not listed (or with another reason): {now_failing:#?}\n\
             listed but no longer rejected: {now_loading:#?}"
        );
    }
}
