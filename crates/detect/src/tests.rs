use serde_json::json;

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
    assert_eq!(
        detector
            .detect(&sysmon_process("2024-05-01T10:00:00Z", "ws-1", image))
            .len(),
        1
    );
    assert_eq!(
        detector
            .detect(&sysmon_process("2024-05-01T10:00:30Z", "ws-1", image))
            .len(),
        0
    );
    assert_eq!(
        detector
            .detect(&sysmon_process("2024-05-01T10:00:30Z", "ws-2", image))
            .len(),
        1
    );
    assert_eq!(
        detector
            .detect(&sysmon_process("2024-05-01T10:01:30Z", "ws-1", image))
            .len(),
        1
    );
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
