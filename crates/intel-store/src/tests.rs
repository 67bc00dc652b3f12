//! The store on disk: reopen, withdrawal, validity, the change log and its torn tail,
//! compaction, and STIX versions.

use std::io::Write as _;

use super::*;

#[test]
fn imports_survive_a_reopen_and_withdrawal_sticks() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let options = intel::ImportOptions::new("manual", intel::Tlp::Green);
    {
        let (mut store, _) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
        let report =
            intel::import::import_any(b"198.51.100.7\nevil.example\n", None, &options).unwrap();
        let summary = store.apply(report, now).unwrap();
        assert_eq!((summary.new, summary.merged), (2, 0));
        assert!(
            store
                .withdraw(IndicatorKind::Domain, "evil.example", now)
                .unwrap()
        );
        assert!(
            store
                .matcher()
                .current()
                .lookup_domain("evil.example")
                .is_none()
        );
    }
    let (mut store, problems) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
    assert!(problems.is_empty());
    assert_eq!(store.set().len(), 2);
    assert!(
        store
            .matcher()
            .current()
            .lookup_ip("198.51.100.7".parse().unwrap())
            .is_some()
    );
    // The feed sends the withdrawn value again: it stays withdrawn.
    let report = intel::import::import_any(b"evil.example\n", None, &options).unwrap();
    let summary = store.apply(report, now).unwrap();
    assert_eq!(summary.merged, 1);
    assert!(summary.new_ids.is_empty());
    assert!(
        store
            .matcher()
            .current()
            .lookup_domain("evil.example")
            .is_none()
    );
}

#[test]
fn indicators_start_and_stop_matching_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
    let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    let hour = jiff::SignedDuration::from_hours(1);
    let mut later =
        intel::Indicator::new(IndicatorKind::Ip, "198.51.100.1", "t", intel::Tlp::Clear).unwrap();
    later.valid_from = Some(now + hour);
    let mut ending =
        intel::Indicator::new(IndicatorKind::Ip, "198.51.100.2", "t", intel::Tlp::Clear).unwrap();
    ending.valid_until = Some(now + hour * 2);
    let report = intel::ImportReport {
        indicators: vec![later, ending],
        ..Default::default()
    };
    store.apply(report, now).unwrap();
    let lookup = |store: &IntelStore, ip: &str| {
        store
            .matcher()
            .current()
            .lookup_ip(ip.parse().unwrap())
            .is_some()
    };
    assert!(!lookup(&store, "198.51.100.1") && lookup(&store, "198.51.100.2"));
    assert_eq!(store.tick(now + hour / 2).unwrap(), 0);
    assert!(!lookup(&store, "198.51.100.1"), "not yet valid");
    store.tick(now + hour).unwrap();
    assert!(lookup(&store, "198.51.100.1") && lookup(&store, "198.51.100.2"));
    assert_eq!(store.tick(now + hour * 2).unwrap(), 1);
    assert!(!lookup(&store, "198.51.100.2"), "expired");
    assert_eq!(store.set().len(), 1);
}

fn lookup(store: &IntelStore, ip: &str) -> bool {
    store
        .matcher()
        .current()
        .lookup_ip(ip.parse().unwrap())
        .is_some()
}

fn plain(values: &str, source: &str) -> ImportReport {
    let options = intel::ImportOptions::new(source, intel::Tlp::Green);
    intel::import::import_any(values.as_bytes(), None, &options).unwrap()
}

#[test]
fn changes_append_to_the_log_and_a_torn_tail_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let snapshot = dir.path().join(INDICATORS_FILE);
    let log = dir.path().join(CHANGES_FILE);
    {
        let (mut store, _) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
        let many: String = (0..2_000)
            .map(|i| format!("10.0.{}.{}\n", i / 256, i % 256))
            .collect();
        store.apply(plain(&many, "bulk"), now).unwrap();
        // Everything is written once as a snapshot; later changes only append.
        store.save().unwrap();
        let snapshot_before = std::fs::read(&snapshot).unwrap();
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
        store.apply(plain("198.51.100.7\n", "feed"), now).unwrap();
        store.withdraw(IndicatorKind::Ip, "10.0.0.1", now).unwrap();
        assert_eq!(
            std::fs::read(&snapshot).unwrap(),
            snapshot_before,
            "not rewritten"
        );
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            text.lines().count(),
            2,
            "one line per changed record: {text}"
        );
        assert!(text.contains("198.51.100.7") && text.contains("\"withdrawn\":true"));
    }
    // A crash mid-append leaves half a line: it is dropped and cut off, the rest stays.
    let mut file = OpenOptions::new().append(true).open(&log).unwrap();
    file.write_all(b"{\"record\":\"indicator\",\"id\":\"indicator--to")
        .unwrap();
    drop(file);
    let (set, problems) = read_set(dir.path()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(set.len(), 2_001);
    let (mut store, problems) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert!(std::fs::read_to_string(&log).unwrap().ends_with('\n'));
    assert!(lookup(&store, "198.51.100.7") && lookup(&store, "10.0.0.2"));
    assert!(!lookup(&store, "10.0.0.1"), "the withdrawal was replayed");
    // Appends after the cut start on a line of their own.
    store.apply(plain("198.51.100.8\n", "feed"), now).unwrap();
    drop(store);
    let (store, problems) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert!(lookup(&store, "198.51.100.8") && lookup(&store, "198.51.100.7"));
    // A damaged line in the middle costs that record only, reported with its file.
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.insert_str(0, "{broken\n");
    std::fs::write(&log, text).unwrap();
    let (store, problems) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].1.starts_with(CHANGES_FILE), "{problems:?}");
    assert!(lookup(&store, "198.51.100.8"));
}

#[test]
fn a_large_log_is_folded_into_a_new_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let (mut store, _) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
    let mut folded = false;
    for batch in 0..40 {
        let values: String = (0..1_000)
            .map(|i| format!("10.{batch}.{}.{}\n", i / 256, i % 256))
            .collect();
        store.apply(plain(&values, "bulk"), now).unwrap();
        let (snapshot, log) = store.file_sizes();
        assert!(log <= MIN_COMPACTION_BYTES.max(snapshot / 2) + (1 << 20));
        folded |= snapshot > 0;
    }
    assert!(folded, "the log was folded at least once");
    drop(store);
    let (store, problems) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
    assert!(problems.is_empty());
    assert_eq!(store.set().len(), 40_000);
    assert!(lookup(&store, "10.39.3.231") && lookup(&store, "10.0.0.0"));
}

/// A STIX bundle with one indicator version.
fn stix_version(pattern: &str, modified: &str) -> ImportReport {
    let bundle = serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "identity", "id": "identity--c", "name": "cert", "spec_version": "2.1",
         "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "identity_class": "organization"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--9c1a0b6e-3f1e-4d7e-9a47-5d1f6f3c2b10",
         "created_by_ref": "identity--c", "created": "2024-01-01T00:00:00Z", "modified": modified,
         "pattern": pattern, "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"}]});
    let options = intel::ImportOptions::new("taxii", intel::Tlp::Green);
    intel::import::stix::import(bundle.to_string().as_bytes(), &options).unwrap()
}

#[test]
fn a_new_stix_version_replaces_the_values_of_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let (mut store, _) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
    let id = "indicator--9c1a0b6e-3f1e-4d7e-9a47-5d1f6f3c2b10";
    store
        .apply(
            stix_version("[ipv4-addr:value = '198.51.100.1']", "2024-01-01T00:00:00Z"),
            now,
        )
        .unwrap();
    // Another feed also reports the second value of a later version.
    store.apply(plain("198.51.100.3\n", "other"), now).unwrap();
    assert!(lookup(&store, "198.51.100.1"));
    let summary = store
        .apply(
            stix_version("[ipv4-addr:value = '198.51.100.2']", "2024-02-01T00:00:00Z"),
            now,
        )
        .unwrap();
    assert_eq!(summary.replaced, 1);
    assert!(
        !lookup(&store, "198.51.100.1"),
        "the old value no longer matches"
    );
    assert!(lookup(&store, "198.51.100.2"));
    assert_eq!(store.set().get_by_id(id).unwrap().value, "198.51.100.2");
    let exported: Vec<String> = store
        .set()
        .select(&intel::Selection::up_to(intel::Tlp::Red, now))
        .map(|i| i.value)
        .collect();
    assert!(
        !exported.contains(&"198.51.100.1".to_owned()),
        "{exported:?}"
    );

    // A multi-value version, then a single value again: each retires what it dropped,
    // and a value another source reports stays.
    store
        .apply(
            stix_version(
                "[ipv4-addr:value = '198.51.100.2'] OR [ipv4-addr:value = '198.51.100.3'] OR [domain-name:value = 'evil.example']",
                "2024-03-01T00:00:00Z",
            ),
            now,
        )
        .unwrap();
    assert!(lookup(&store, "198.51.100.2") && lookup(&store, "198.51.100.3"));
    let summary = store
        .apply(
            stix_version(
                "[domain-name:value = 'evil.example']",
                "2024-04-01T00:00:00Z",
            ),
            now,
        )
        .unwrap();
    assert_eq!(summary.replaced, 2);
    assert!(!lookup(&store, "198.51.100.2"));
    assert!(lookup(&store, "198.51.100.3"), "still reported by `other`");
    assert_eq!(
        store
            .set()
            .get(IndicatorKind::Ip, "198.51.100.3")
            .unwrap()
            .sources,
        ["other"]
    );

    // An older version arriving late brings nothing back; the state survives a reopen.
    let summary = store
        .apply(
            stix_version("[ipv4-addr:value = '198.51.100.1']", "2024-01-15T00:00:00Z"),
            now,
        )
        .unwrap();
    assert_eq!(summary.new + summary.merged, 0);
    drop(store);
    let (store, _) = IntelStore::open(dir.path(), Warninglists::new()).unwrap();
    assert!(!lookup(&store, "198.51.100.1") && !lookup(&store, "198.51.100.2"));
    assert!(
        store
            .matcher()
            .current()
            .lookup_domain("evil.example")
            .is_some()
    );
    let summary = store_apply_again(store);
    assert_eq!(
        summary.replaced, 1,
        "the multi-value version was remembered"
    );
}

/// After a reopen, a newer single-value version retires the domain of the last one.
fn store_apply_again(mut store: IntelStore) -> ApplySummary {
    store
        .apply(
            stix_version("[ipv4-addr:value = '198.51.100.9']", "2024-05-01T00:00:00Z"),
            Timestamp::now(),
        )
        .unwrap()
}
