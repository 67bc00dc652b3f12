use std::sync::Arc;

use serde_json::json;

use super::*;
use event::Event;

const WHOAMI: &str = "title: Whoami run
id: 33333333-0000-0000-0000-000000000001
status: test
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\whoami.exe'
  condition: selection
level: high
";

/// A whoami run on a new host each time (the live detector deduplicates by host).
fn whoami_event() -> Event {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    serde_json::from_value(json!({
        "@timestamp": "2024-05-01T10:00:00Z",
        "host": {"name": format!("ws-{run}")},
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": "1",
            "event_data": {"Image": "C:\\Windows\\System32\\whoami.exe"}
        }
    }))
    .unwrap()
}

/// The `sentinella.alert.level` of the alerts `detector` raises on one whoami run.
fn alert_levels(detector: &mut Detector) -> Vec<String> {
    detector
        .detect_batch(&[whoami_event()])
        .iter()
        .filter_map(|alert| alert.get_str("sentinella.alert.level").map(str::to_owned))
        .collect()
}

const KEY: &str = "33333333-0000-0000-0000-000000000001";

#[test]
fn a_level_override_reaches_alerts_survives_a_restart_and_clears() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("whoami.yml"), WHOAMI).unwrap();
    let state = dir.path().join("rules-state.json");
    let slot = Arc::new(DetectorSlot::default());
    let library = RuleLibrary::open(vec![rules.clone()], Some(state.clone()))
        .with_live_slot(Arc::clone(&slot));
    assert_eq!(
        alert_levels(&mut library.detector(Origin::Live).0),
        ["high"]
    );
    // Nothing is offered until something changes; then the live detector follows.
    let mut live = Detector::new(Vec::new()).follow(Arc::clone(&slot));

    assert!(library.set_level(KEY, Some(sigma::Level::Low)).unwrap());
    assert!(
        !library
            .set_level("no-such-rule", Some(sigma::Level::Low))
            .unwrap()
    );
    // Live detection picks up the republished detector at its next batch.
    assert_eq!(alert_levels(&mut live), ["low"]);
    // Hunts (a detector built on demand, with named rules or not) carry it too.
    assert_eq!(alert_levels(&mut library.detector(Origin::Hunt).0), ["low"]);
    let (named, _) = library.select(Some(&[KEY.to_owned()]));
    assert_eq!(named[0].meta.level, Some(sigma::Level::Low));
    let entry = &library.listing().rules[0];
    assert_eq!(
        (entry.level, entry.original_level),
        (Some("low"), Some("high"))
    );

    // Persisted, and kept across a reload of the rule files.
    let reopened = RuleLibrary::open(vec![rules.clone()], Some(state.clone()));
    assert_eq!(
        alert_levels(&mut reopened.detector(Origin::Live).0),
        ["low"]
    );
    std::fs::write(
        rules.join("whoami.yml"),
        WHOAMI.replace("Whoami run", "Whoami"),
    )
    .unwrap();
    assert!(reopened.reload_if_changed());
    assert_eq!(reopened.listing().rules[0].level, Some("low"));

    // Cleared: back to the rule's own level, here and after a restart.
    assert!(library.set_level(KEY, None).unwrap());
    assert_eq!(alert_levels(&mut live), ["high"]);
    let entry = &library.listing().rules[0];
    assert_eq!(
        (entry.level, entry.original_level),
        (Some("high"), Some("high"))
    );
    let reopened = RuleLibrary::open(vec![rules], Some(state));
    assert_eq!(
        alert_levels(&mut reopened.detector(Origin::Live).0),
        ["high"]
    );
}

#[test]
fn a_state_file_without_overrides_or_with_unknown_levels_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("whoami.yml"), WHOAMI).unwrap();
    let state = dir.path().join("rules-state.json");
    // Written before overrides existed: the switch still counts.
    std::fs::write(&state, format!(r#"{{"disabled": ["{KEY}"]}}"#)).unwrap();
    let library = RuleLibrary::open(vec![rules.clone()], Some(state.clone()));
    let entry = &library.listing().rules[0];
    assert!(!entry.enabled);
    assert_eq!(entry.level, Some("high"));

    // A level name this version does not know is ignored, the rest kept.
    std::fs::write(
        &state,
        format!(r#"{{"disabled": ["{KEY}"], "levels": {{"{KEY}": "apocalyptic"}}}}"#),
    )
    .unwrap();
    let library = RuleLibrary::open(vec![rules], Some(state));
    let entry = &library.listing().rules[0];
    assert!(!entry.enabled);
    assert_eq!(entry.level, Some("high"));
}

#[test]
fn level_names_are_the_sigma_spellings() {
    for name in ["informational", "low", "medium", "high", "critical"] {
        assert_eq!(
            RuleLibrary::level_named(name).map(sigma::Level::as_str),
            Some(name)
        );
    }
    assert_eq!(RuleLibrary::level_named("High"), None);
    assert_eq!(RuleLibrary::level_named(""), None);
}
