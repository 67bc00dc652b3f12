use proptest::prelude::*;

use super::*;

fn corpus() -> Vec<(bool, String)> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/stix/patterns.tsv");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (verdict, pattern) = line.split_once('\t').unwrap();
            (verdict == "valid", pattern.to_owned())
        })
        .collect()
}

/// The corpus verdicts are stix2-patterns' own (tests/e2e/test_intel_patterns.py checks
/// the file against it): our parser must agree on every one.
#[test]
fn agrees_with_stix2_patterns_on_the_corpus() {
    let corpus = corpus();
    assert!(corpus.len() > 150, "{}", corpus.len());
    let disagreements: Vec<String> = corpus
        .iter()
        .filter(|(valid, pattern)| parse(pattern).is_ok() != *valid)
        .map(|(valid, pattern)| {
            format!(
                "expected {} for {pattern}: {:?}",
                if *valid { "valid" } else { "invalid" },
                parse(pattern).err()
            )
        })
        .collect();
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

fn values(pattern: &str) -> Result<Vec<(IndicatorKind, String)>, String> {
    let parsed = parse(pattern).map_err(|e| e.to_string())?;
    matchable_values(&parsed).map(|v| v.into_iter().map(|v| (v.kind, v.value)).collect())
}

#[test]
fn single_event_patterns_become_values() {
    use IndicatorKind::*;
    assert_eq!(
        values("[ipv4-addr:value = '198.51.100.1']").unwrap(),
        vec![(Ip, "198.51.100.1".into())]
    );
    assert_eq!(
        values(&format!(
            "[file:hashes.'SHA-256' = '{}' OR file:hashes.MD5 = '{}']",
            "A".repeat(64),
            "c".repeat(32)
        ))
        .unwrap(),
        vec![(Sha256, "A".repeat(64)), (Md5, "c".repeat(32))]
    );
    assert_eq!(
        values("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.5']").unwrap(),
        vec![(Ip, "203.0.113.5".into())]
    );
    assert_eq!(
        values(
            "[domain-name:value IN ('a.example', 'b.example')] OR [url:value = 'http://x.example/']"
        )
        .unwrap()
        .len(),
        3
    );
    assert_eq!(
        values("[email-message:from_ref.value = 'a@b.example']").unwrap(),
        vec![(Email, "a@b.example".into())]
    );
    assert_eq!(
        values("[file:name = 'it\\'s' ]").unwrap_err(),
        "no indicator type for `file:name`"
    );
}

#[test]
fn patterns_needing_several_events_are_explained() {
    for (pattern, reason) in [
        (
            "[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'a.example']",
            "AND of observations",
        ),
        (
            "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.5']",
            "FOLLOWEDBY",
        ),
        ("[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES", "REPEATS"),
        ("[ipv4-addr:value NOT = '1.2.3.4']", "not an equality"),
        (
            "[ipv4-addr:value = '1.2.3.4' AND domain-name:value = 'a']",
            "AND of 2 property tests",
        ),
        ("[EXISTS file:name]", "EXISTS"),
    ] {
        let error = values(pattern).unwrap_err();
        assert!(error.contains(reason), "{pattern}: {error}");
    }
}

#[test]
fn syntax_errors_say_where() {
    let error = parse("[ipv4-addr:value = '1.2.3.4' AND]").unwrap_err();
    assert_eq!(error.offset, 32);
    assert!(error.message.contains("expected an object type"), "{error}");
    let error = parse("[file:hashes.MD5 = 'short']").unwrap_err();
    assert!(error.message.contains("not a valid MD5 hash"), "{error}");
}

#[test]
fn hostile_patterns_are_bounded() {
    let deep = format!("{}[a:b = 1]{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse(&deep).unwrap_err().message.contains("nesting"));
    let deep_comparison = format!("[{}a:b = 1{}]", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse(&deep_comparison).is_err());
    let long_or = format!("[a:b = 1{}]", " OR a:b = 1".repeat(15_000));
    assert!(parse(&long_or).is_ok());
    let huge = format!("[a:b = '{}']", "x".repeat(MAX_PATTERN_BYTES));
    assert!(parse(&huge).unwrap_err().message.contains("longer than"));
    let many_qualifiers = format!("[a:b = 1]{}", " WITHIN 1 SECONDS".repeat(5_000));
    assert!(parse(&many_qualifiers).is_err());
}

#[test]
fn quote_round_trips() {
    for value in ["plain", "it's", "back\\slash", "'\\'"] {
        let pattern = format!("[file:name = {}]", quote(value));
        let parsed = parse(&pattern).unwrap();
        let Observation::Simple(Comparison::Test(test)) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(test.value, Value::Str(value.to_owned()));
    }
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_input(input in "\\PC{0,200}") {
        let _ = parse(&input);
    }

    #[test]
    fn never_panics_on_pattern_like_input(input in "[\\[\\]() '\":.a-z0-9=<>!*,_-]{0,120}|(\\[|\\(|AND |OR |FOLLOWEDBY |WITHIN |t'|b'|h'|[0-9]|'x'|a:b| = |\\]|\\)){0,40}") {
        if let Ok(parsed) = parse(&input) {
            let _ = matchable_values(&parsed);
        }
    }

    #[test]
    fn quoted_values_parse_back(value in "\\PC{0,64}") {
        let pattern = format!("[url:value = {}]", quote(&value));
        let parsed = parse(&pattern).unwrap();
        let found = matchable_values(&parsed).unwrap();
        prop_assert_eq!(&found[0].value, &value);
    }
}
