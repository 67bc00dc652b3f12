use serde_json::json;

use std::sync::Arc;

use super::*;

const RULE: &str = "title: Whoami Execution
id: 11111111-2222-3333-4444-555555555555
status: test
author: Test Author
references: [https://example.org/whoami]
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\whoami.exe'
  condition: selection
level: high
";

fn sysmon_process(ts: &str, host: &str, image: &str) -> Event {
    serde_json::from_value(json!({
        "@timestamp": ts,
        "host": {"name": host},
        "user": {"name": "alice"},
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": "1",
            "event_data": {"Image": image, "CommandLine": "whoami /all"}
        }
    }))
    .unwrap()
}

fn detector() -> Detector {
    let report = sigma::RuleSet::load_str(RULE, "whoami.yml");
    assert_eq!(report.rules.len(), 1, "{:?}", report.rejected);
    Detector::new(report.rules)
}

#[test]
fn a_match_becomes_an_ecs_alert_with_attribution() {
    let mut detector = detector();
    let event = sysmon_process(
        "2024-05-01T10:00:00Z",
        "ws-1",
        "C:\\Windows\\System32\\whoami.exe",
    );
    let alerts = detector.detect(&event);
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.get_str("event.kind"), Some("alert"));
    assert_eq!(
        alert.get_str("rule.id"),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert_eq!(alert.get_str("rule.name"), Some("Whoami Execution"));
    assert_eq!(alert.get_str("rule.author"), Some("Test Author"));
    assert_eq!(alert.get_str("sentinella.alert.level"), Some("high"));
    assert_eq!(alert.get("threat.technique.id"), Some(&json!(["T1033"])));
    assert_eq!(alert.get_str("host.name"), Some("ws-1"));
    assert_eq!(alert.get_str("@timestamp"), Some("2024-05-01T10:00:00Z"));
    assert_eq!(
        alert.get("sentinella.alert.matched.selections"),
        Some(&json!(["selection"]))
    );
    assert_eq!(
        alert.get_str("sentinella.alert.event.winlog.event_data.CommandLine"),
        Some("whoami /all")
    );
    let other = sysmon_process(
        "2024-05-01T10:00:00Z",
        "ws-1",
        "C:\\Windows\\System32\\cmd.exe",
    );
    assert!(detector.detect(&other).is_empty());
}

#[test]
fn repeats_within_the_window_are_suppressed_per_entity() {
    let mut detector = detector();
    let image = "C:\\Windows\\System32\\whoami.exe";
    // Each call is its own batch: a suppressed repeat yields a merge record, not an alert.
    let mut alerts = |ts: &str, host: &str| {
        detector
            .detect(&sysmon_process(ts, host, image))
            .iter()
            .filter(|a| a.get_str("event.kind") == Some("alert"))
            .count()
    };
    assert_eq!(alerts("2024-05-01T10:00:00Z", "ws-1"), 1);
    assert_eq!(alerts("2024-05-01T10:00:30Z", "ws-1"), 0);
    assert_eq!(alerts("2024-05-01T10:00:30Z", "ws-2"), 1);
    assert_eq!(alerts("2024-05-01T10:01:30Z", "ws-1"), 1);
    assert_eq!(
        detector.stats(),
        DetectorStats {
            events: 4,
            alerts: 3,
            suppressed: 1
        }
    );
}

const CORRELATED: &str = "title: Failed logon
id: aaaaaaaa-0000-0000-0000-000000000001
name: failed_logon
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
  condition: selection
level: low
---
title: Many failed logons for one user
id: aaaaaaaa-0000-0000-0000-000000000002
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gte: 3}
  generate: false
level: high
";

fn failed_logon(ts: &str, user: &str) -> Event {
    serde_json::from_value(json!({
        "@timestamp": ts,
        "host": {"name": "dc-1"},
        "winlog": {"channel": "Security", "event_id": "4625",
                   "event_data": {"TargetUserName": user}}
    }))
    .unwrap()
}

#[test]
fn correlations_raise_their_own_alerts_and_silence_generate_false_rules() {
    let report = sigma::RuleSet::load_str(CORRELATED, "correlated.yml");
    assert_eq!(report.rules.len(), 1, "{:?}", report.rejected);
    assert_eq!(report.correlations.len(), 1);
    let (mut detector, failed) = Detector::with_correlations(report.rules, &report.correlations);
    assert!(failed.is_empty(), "{failed:?}");
    let mut alerts = Vec::new();
    for (ts, user) in [
        ("2024-05-01T10:00:00Z", "bob"),
        ("2024-05-01T10:01:00Z", "bob"),
        ("2024-05-01T10:01:30Z", "eve"),
        ("2024-05-01T10:02:00Z", "bob"),
    ] {
        alerts.extend(detector.detect(&failed_logon(ts, user)));
    }
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(
        alert.get_str("rule.name"),
        Some("Many failed logons for one user")
    );
    assert_eq!(alert.get_str("sentinella.alert.level"), Some("high"));
    assert_eq!(
        alert.get("sentinella.alert.correlation.count"),
        Some(&json!(3))
    );
    assert_eq!(alert.get_str("@timestamp"), Some("2024-05-01T10:02:00Z"));
}

#[test]
fn correlation_windows_survive_a_save_and_restore() {
    let report = sigma::RuleSet::load_str(CORRELATED, "correlated.yml");
    let (mut before, _) = Detector::with_correlations(report.rules.clone(), &report.correlations);
    before.detect(&failed_logon("2024-05-01T10:00:00Z", "bob"));
    before.detect(&failed_logon("2024-05-01T10:01:00Z", "bob"));
    let state = before.save_state().expect("there are correlations");

    let (mut after, _) = Detector::with_correlations(report.rules, &report.correlations);
    after.restore_state(&state).unwrap();
    let alerts = after.detect(&failed_logon("2024-05-01T10:02:00Z", "bob"));
    assert_eq!(
        alerts.len(),
        1,
        "the third failure after the restart completes the window"
    );
    assert!(after.restore_state("{not json").is_err());
}

#[test]
fn duplicates_in_a_batch_are_merged_into_the_alert_count() {
    let mut detector = detector().with_origin(Origin::Hunt);
    let image = "C:\\Windows\\System32\\whoami.exe";
    let events = [
        sysmon_process("2024-05-01T10:00:00Z", "ws-1", image),
        sysmon_process("2024-05-01T10:00:10Z", "ws-1", image),
        sysmon_process("2024-05-01T10:00:20Z", "ws-2", image),
        sysmon_process("2024-05-01T10:00:30Z", "ws-1", image),
    ];
    let alerts = detector.detect_batch(&events);
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].get(ALERT_COUNT), Some(&json!(3)));
    assert_eq!(alerts[1].get(ALERT_COUNT), Some(&json!(1)));
    assert_eq!(alerts[0].get_str("sentinella.alert.origin"), Some("hunt"));
    // Duplicates in a later batch are counted by one merge record (not an alert).
    let later = detector.detect_batch(&[
        sysmon_process("2024-05-01T10:00:40Z", "ws-1", image),
        sysmon_process("2024-05-01T10:00:50Z", "ws-1", image),
    ]);
    assert_eq!(later.len(), 1, "{later:#?}");
    let record = &later[0];
    assert_eq!(record.get_str("event.kind"), Some("event"));
    assert_eq!(record.get_str("event.action"), Some(ALERT_MERGED_ACTION));
    assert_eq!(record.get(MERGED_COUNT), Some(&json!(2)));
    assert_eq!(
        record.get_str("rule.id"),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert_eq!(record.get_str("host.name"), Some("ws-1"));
    assert_eq!(
        record.get_str("sentinella.alert.merged.alert_timestamp"),
        Some("2024-05-01T10:00:00Z")
    );
    assert_eq!(detector.stats().suppressed, 4);
    assert!(
        detector.detect_batch(&[]).is_empty(),
        "one record per batch"
    );
}

#[test]
fn correlation_state_is_saved_periodically_when_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let report = sigma::RuleSet::load_str(CORRELATED, "correlated.yml");
    let (detector, _) = Detector::with_correlations(report.rules.clone(), &report.correlations);
    let mut detector = detector.persist_state(path.clone(), std::time::Duration::ZERO);
    assert!(!detector.checkpoint().unwrap(), "nothing changed yet");
    assert!(!path.exists());
    detector.detect_batch(&[
        failed_logon("2024-05-01T10:00:00Z", "bob"),
        failed_logon("2024-05-01T10:01:00Z", "bob"),
    ]);
    assert!(detector.checkpoint().unwrap());
    assert!(!detector.checkpoint().unwrap(), "saved once per change");
    // What a crash leaves on disk completes the window after a restart.
    let (mut restarted, _) = Detector::with_correlations(report.rules, &report.correlations);
    restarted
        .restore_state(&std::fs::read_to_string(&path).unwrap())
        .unwrap();
    assert_eq!(
        restarted
            .detect(&failed_logon("2024-05-01T10:02:00Z", "bob"))
            .len(),
        1
    );
    // A long interval holds further saves back.
    let (detector, _) = Detector::with_correlations(
        sigma::RuleSet::load_str(CORRELATED, "c.yml").rules,
        &report.correlations,
    );
    let mut slow = detector.persist_state(
        dir.path().join("slow.json"),
        std::time::Duration::from_secs(3600),
    );
    slow.detect(&failed_logon("2024-05-01T10:00:00Z", "bob"));
    assert!(!slow.checkpoint().unwrap());
}

#[test]
fn an_offered_detector_is_swapped_in_with_the_open_windows() {
    let report = sigma::RuleSet::load_str(CORRELATED, "correlated.yml");
    let slot = Arc::new(DetectorSlot::default());
    let (live, _) = Detector::with_correlations(report.rules.clone(), &report.correlations);
    let mut live = live.follow(Arc::clone(&slot));
    live.detect(&failed_logon("2024-05-01T10:00:00Z", "bob"));
    live.detect(&failed_logon("2024-05-01T10:01:00Z", "bob"));
    // The same rules plus one: the correlation keeps its window across the swap.
    let extended = format!("{CORRELATED}---\n{RULE}");
    let report = sigma::RuleSet::load_str(&extended, "extended.yml");
    let (next, _) = Detector::with_correlations(report.rules, &report.correlations);
    slot.offer(next);
    assert_eq!(live.n_rules(), 1);
    let alerts = live.detect(&failed_logon("2024-05-01T10:02:00Z", "bob"));
    assert_eq!(live.n_rules(), 2);
    assert_eq!(slot.taken(), 1);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(live.stats().events, 3, "counters carry over");
}

const LIBRARY_RULE: &str = "title: Net use
id: 22222222-0000-0000-0000-000000000001
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\net.exe'
  condition: selection
level: medium
";

#[test]
fn the_library_reloads_changes_reports_bad_rules_and_remembers_switches() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("whoami.yml"), RULE).unwrap();
    let state = dir.path().join("rules-state.json");
    let slot = Arc::new(DetectorSlot::default());
    let library = RuleLibrary::open(vec![rules.clone()], Some(state.clone()))
        .with_live_slot(Arc::clone(&slot));
    let listing = library.listing();
    assert_eq!(
        (listing.generation, listing.loaded, listing.enabled),
        (1, 1, 1)
    );
    assert!(!library.reload_if_changed(), "nothing changed");

    std::fs::write(rules.join("net.yml"), LIBRARY_RULE).unwrap();
    std::fs::write(rules.join("broken.yml"), "title: [unclosed").unwrap();
    assert!(library.reload_if_changed());
    let listing = library.listing();
    assert_eq!((listing.generation, listing.loaded), (2, 2));
    assert_eq!(listing.rejected.len(), 1);
    assert!(listing.rejected[0].path.ends_with("broken.yml"));
    assert_eq!(library.detector(Origin::Live).0.n_rules(), 2);

    assert!(
        library
            .set_enabled("22222222-0000-0000-0000-000000000001", false)
            .unwrap()
    );
    assert!(!library.set_enabled("no-such-rule", false).unwrap());
    assert_eq!(library.detector(Origin::Live).0.n_rules(), 1);
    let reopened = RuleLibrary::open(vec![rules], Some(state));
    let net = reopened
        .listing()
        .rules
        .into_iter()
        .find(|r| r.title == "Net use")
        .unwrap();
    assert!(!net.enabled, "the switch survives a restart");
    assert_eq!(reopened.detector(Origin::Live).0.n_rules(), 1);
    // Every change was offered to the live detector.
    let mut live = Detector::new(Vec::new()).follow(slot);
    live.detect_batch(&[]);
    assert_eq!(live.n_rules(), 1);
}

#[test]
fn the_clock_decides_bounded_correlation_windows() {
    // At most 2 failed logons for a user in 5 minutes, decided when the window is over.
    let rules = CORRELATED.replace("gte: 3", "lt: 3");
    let report = sigma::RuleSet::load_str(&rules, "correlated.yml");
    let (mut detector, failed) = Detector::with_correlations(report.rules, &report.correlations);
    assert!(failed.is_empty(), "{failed:?}");
    let correlation_alerts = |alerts: Vec<Event>| -> Vec<Event> {
        alerts
            .into_iter()
            .filter(|a| a.get_str("log.parser") == Some("sigma.correlation"))
            .collect()
    };
    let alerts = detector.detect_batch(&[
        failed_logon("2024-05-01T10:00:00Z", "bob"),
        failed_logon("2024-05-01T10:01:00Z", "bob"),
    ]);
    assert!(correlation_alerts(alerts).is_empty());
    let at = |ts: &str| ts.parse::<Timestamp>().unwrap();
    // Still inside the window: nothing to decide.
    assert!(detector.tick(at("2024-05-01T10:04:00Z")).is_empty());
    let alerts = detector.tick(at("2024-05-01T10:06:00Z"));
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert.get_str("event.kind"), Some("alert"));
    assert_eq!(
        alert.get("sentinella.alert.correlation.count"),
        Some(&json!(2))
    );
    assert_eq!(
        alert.get_str("sentinella.alert.correlation.group.TargetUserName"),
        Some("bob")
    );
    assert_eq!(alert.get_str("@timestamp"), Some("2024-05-01T10:01:00Z"));
    assert!(alert.get("sentinella.alert.event").is_none());
    // Decided once.
    assert!(detector.tick(at("2024-05-01T10:07:00Z")).is_empty());
    // Without correlations, the tick has nothing to do.
    assert!(self::detector().tick(at("2030-01-01T00:00:00Z")).is_empty());
}
