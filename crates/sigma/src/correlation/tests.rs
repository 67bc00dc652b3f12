use std::path::Path;

use event::Event;
use serde_json::json;

use super::*;
use crate::{Loader, RuleSet};

fn ev(value: serde_json::Value) -> Event {
    serde_json::from_value(value).expect("event object")
}

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).expect("valid timestamp")
}

fn rule(name: &str) -> RuleRef {
    RuleRef::new(Some(&format!("id-{name}")), Some(name))
}

fn known() -> Vec<KnownRule> {
    ["a", "b", "c"]
        .into_iter()
        .map(|n| KnownRule {
            rule: rule(n),
            logsource: Logsource::default(),
        })
        .collect()
}

fn compile(yaml: &str) -> Vec<CompiledCorrelation> {
    let report = RuleSet::load_str(yaml, "corr.yml");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let (compiled, failed) = compile_all(&report.correlations);
    assert!(failed.is_empty(), "{failed:?}");
    compiled
}

fn correlator_with(yaml: &str, limits: Limits) -> Correlator {
    Correlator::with_limits(compile(yaml), &known(), &Mappings::builtin(), limits)
}

fn correlator(yaml: &str) -> Correlator {
    correlator_with(yaml, Limits::default())
}

const EVENT_COUNT: &str = "\
title: many failures
id: corr-1
correlation:
  type: event_count
  rules: [a]
  group-by: [User]
  timespan: 60s
  condition: {gte: 3}
level: high
";

const VALUE_COUNT: &str = "\
title: spray
id: corr-2
correlation:
  type: value_count
  rules: [a]
  group-by: [Ip]
  timespan: 5m
  condition: {gt: 2, field: User}
";

const TEMPORAL: &str = "\
title: recon
id: corr-3
correlation:
  type: temporal
  rules: [a, b, c]
  group-by: [Host]
  timespan: 60s
";

const ORDERED: &str = "\
title: brute then success
id: corr-4
correlation:
  type: temporal_ordered
  rules: [a, id-b]
  group-by: [User]
  timespan: 60s
";

fn hits(c: &mut Correlator, r: &str, event: serde_json::Value, secs: i64) -> usize {
    c.observe(&rule(r), &ev(event), t(secs)).len()
}

#[test]
fn compiles_fields() {
    let c = &compile(EVENT_COUNT)[0];
    assert_eq!(c.kind, CorrelationKind::EventCount);
    assert_eq!(c.threshold, Threshold::AtLeast(3));
    assert_eq!(c.timespan, SignedDuration::from_secs(60));
    assert_eq!(c.level, Some(Level::High));
    assert_eq!(c.key(), "corr-1");
    let v = &compile(VALUE_COUNT)[0];
    assert_eq!(v.threshold, Threshold::AtLeast(3), "gt: 2 is gte: 3");
    assert_eq!(v.value_fields, ["User"]);
    assert_eq!(compile(TEMPORAL)[0].threshold, Threshold::AllRules);
    assert!(!v.generate);
}

#[test]
fn event_count_fires_at_threshold_not_below_then_resets() {
    let mut c = correlator(EVENT_COUNT);
    let e = json!({"User": "bob"});
    assert_eq!(hits(&mut c, "a", e.clone(), 0), 0);
    assert_eq!(
        hits(&mut c, "a", e.clone(), 1),
        0,
        "2 of 3: below threshold"
    );
    let fired = c.observe(&rule("a"), &ev(e.clone()), t(2));
    assert_eq!(fired.len(), 1, "3 of 3: fires");
    let hit = &fired[0];
    assert_eq!(hit.correlation, "corr-1");
    assert_eq!(hit.count, 3);
    assert_eq!(hit.group, [("User".to_owned(), "bob".to_owned())]);
    assert_eq!((hit.first, hit.last), (t(0), t(2)));
    // The group was reset: the 4th and 5th events do not fire, the 6th does.
    assert_eq!(hits(&mut c, "a", e.clone(), 3), 0);
    assert_eq!(hits(&mut c, "a", e.clone(), 4), 0);
    assert_eq!(hits(&mut c, "a", e, 5), 1);
    assert_eq!(c.stats().hits, 2);
}

#[test]
fn unreferenced_rule_is_ignored() {
    let mut c = correlator(EVENT_COUNT);
    for s in 0..5 {
        assert_eq!(hits(&mut c, "b", json!({"User": "bob"}), s), 0);
    }
    assert_eq!(c.stats().observed, 0);
}

#[test]
fn window_is_inclusive_at_exactly_timespan() {
    let mut c = correlator(EVENT_COUNT);
    let e = json!({"User": "bob"});
    hits(&mut c, "a", e.clone(), 0);
    hits(&mut c, "a", e.clone(), 30);
    assert_eq!(
        hits(&mut c, "a", e.clone(), 60),
        1,
        "0 and 60 are 60s apart: same window"
    );

    let mut c = correlator(EVENT_COUNT);
    let at = |s: i64, ns: i32| Timestamp::new(1_700_000_000 + s, ns).unwrap();
    c.observe(&rule("a"), &ev(e.clone()), at(0, 0));
    c.observe(&rule("a"), &ev(e.clone()), at(30, 0));
    let fired = c.observe(&rule("a"), &ev(e), at(60, 1));
    assert!(fired.is_empty(), "60s + 1ns apart: the first one expired");
}

#[test]
fn group_by_isolates_groups_and_missing_field_is_not_counted() {
    let mut c = correlator(EVENT_COUNT);
    for s in 0..2 {
        assert_eq!(hits(&mut c, "a", json!({"User": "bob"}), s), 0);
        assert_eq!(hits(&mut c, "a", json!({"User": "eve"}), s), 0);
        assert_eq!(hits(&mut c, "a", json!({"Other": 1}), s), 0);
    }
    assert_eq!(c.groups(), 2);
    assert_eq!(c.stats().missing_field, 2);
    assert_eq!(hits(&mut c, "a", json!({"User": "eve"}), 3), 1);
    assert_eq!(hits(&mut c, "a", json!({"User": "bob"}), 3), 1);
}

#[test]
fn value_count_counts_distinct_values() {
    let mut c = correlator(VALUE_COUNT);
    let e = |user: &str| json!({"Ip": "10.0.0.1", "User": user});
    assert_eq!(hits(&mut c, "a", e("u1"), 0), 0);
    assert_eq!(hits(&mut c, "a", e("u1"), 1), 0);
    assert_eq!(hits(&mut c, "a", e("u2"), 2), 0);
    assert_eq!(
        hits(&mut c, "a", e("u2"), 3),
        0,
        "2 distinct values, need more than 2"
    );
    let fired = c.observe(&rule("a"), &ev(e("u3")), t(4));
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].count, 3);
    // A value without the counted field is not counted.
    assert_eq!(hits(&mut c, "a", json!({"Ip": "10.0.0.1"}), 5), 0);
    assert_eq!(c.stats().missing_field, 1);
}

#[test]
fn temporal_needs_all_rules_in_any_order() {
    let mut c = correlator(TEMPORAL);
    let h = json!({"Host": "pc1"});
    assert_eq!(hits(&mut c, "c", h.clone(), 0), 0);
    assert_eq!(hits(&mut c, "a", h.clone(), 1), 0);
    assert_eq!(
        hits(&mut c, "a", h.clone(), 2),
        0,
        "the same rule twice is one rule"
    );
    assert_eq!(
        hits(&mut c, "b", json!({"Host": "pc2"}), 3),
        0,
        "other group"
    );
    let fired = c.observe(&rule("b"), &ev(h.clone()), t(4));
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].count, 3);
    assert_eq!(fired[0].first, t(0));
    // Too far apart: c expired before b arrives.
    assert_eq!(hits(&mut c, "c", h.clone(), 100), 0);
    assert_eq!(hits(&mut c, "a", h.clone(), 150), 0);
    assert_eq!(hits(&mut c, "b", h, 161), 0);
}

#[test]
fn temporal_ordered_needs_the_listed_order() {
    let mut c = correlator(ORDERED);
    let u = json!({"User": "bob"});
    // b then a: wrong order.
    assert_eq!(hits(&mut c, "b", u.clone(), 0), 0);
    assert_eq!(hits(&mut c, "a", u.clone(), 1), 0);
    // Then b again: a(1) → b(2) is in order (referenced by id `id-b`).
    assert_eq!(hits(&mut c, "b", u.clone(), 2), 1);
    // Same timestamp: arrival order decides.
    assert_eq!(hits(&mut c, "b", u.clone(), 10), 0);
    assert_eq!(hits(&mut c, "a", u.clone(), 10), 0);
    assert_eq!(hits(&mut c, "b", u.clone(), 10), 1);
    // In order but more than the timespan apart.
    assert_eq!(hits(&mut c, "a", u.clone(), 20), 0);
    assert_eq!(hits(&mut c, "b", u, 81), 0);
}

#[test]
fn aliases_group_different_fields_per_rule() {
    let yaml = "\
title: error then connection
id: corr-5
correlation:
  type: temporal
  rules: [a, b]
  group-by: [internal_ip]
  timespan: 10s
  aliases:
    internal_ip:
      a: destination.ip
      b: source.ip
";
    let mut c = correlator(yaml);
    assert_eq!(
        hits(&mut c, "a", json!({"destination": {"ip": "10.1.1.1"}}), 0),
        0
    );
    assert_eq!(
        hits(&mut c, "b", json!({"source": {"ip": "10.9.9.9"}}), 1),
        0
    );
    let fired = c.observe(&rule("b"), &ev(json!({"source": {"ip": "10.1.1.1"}})), t(2));
    assert_eq!(fired.len(), 1);
    assert_eq!(
        fired[0].group,
        [("internal_ip".to_owned(), "10.1.1.1".to_owned())]
    );
}

#[test]
fn out_of_order_within_timespan_counts_late_ones_are_dropped() {
    let mut c = correlator(EVENT_COUNT);
    let e = json!({"User": "bob"});
    assert_eq!(hits(&mut c, "a", e.clone(), 100), 0);
    assert_eq!(
        hits(&mut c, "a", e.clone(), 39),
        0,
        "61s before the watermark: late"
    );
    assert_eq!(c.stats().late, 1);
    assert_eq!(
        hits(&mut c, "a", e.clone(), 50),
        0,
        "earlier but within the timespan"
    );
    let fired = c.observe(&rule("a"), &ev(e), t(70));
    assert_eq!(fired.len(), 1);
    assert_eq!((fired[0].first, fired[0].last), (t(50), t(100)));
}

#[test]
fn groups_are_capped_evicting_the_oldest() {
    let limits = Limits {
        max_groups: 2,
        max_entries: 10,
    };
    let mut c = correlator_with(EVENT_COUNT, limits);
    hits(&mut c, "a", json!({"User": "u1"}), 0);
    hits(&mut c, "a", json!({"User": "u1"}), 1);
    hits(&mut c, "a", json!({"User": "u2"}), 2);
    hits(&mut c, "a", json!({"User": "u3"}), 3);
    assert_eq!(c.groups(), 2);
    assert_eq!(c.stats().evicted_groups, 1);
    // u1 (oldest) was evicted: its two earlier matches are forgotten.
    assert_eq!(hits(&mut c, "a", json!({"User": "u1"}), 4), 0);
}

#[test]
fn entries_are_capped_and_unreachable_thresholds_warned() {
    let limits = Limits {
        max_groups: 10,
        max_entries: 2,
    };
    let mut c = correlator_with(EVENT_COUNT, limits);
    assert!(c.warnings().iter().any(|w| w.contains("never fires")));
    for s in 0..5 {
        assert_eq!(hits(&mut c, "a", json!({"User": "bob"}), s), 0);
    }
    assert_eq!(c.stats().dropped_entries, 3);
}

#[test]
fn expired_groups_are_swept() {
    let mut c = correlator(EVENT_COUNT);
    for u in 0..10 {
        hits(&mut c, "a", json!({"User": u}), u);
    }
    assert_eq!(c.groups(), 10);
    hits(&mut c, "a", json!({"User": "late"}), 1000);
    assert_eq!(c.groups(), 1);
}

#[test]
fn unresolved_reference_is_warned() {
    let yaml = EVENT_COUNT.replace("rules: [a]", "rules: [nope]");
    let c = correlator(&yaml);
    assert!(c.warnings().iter().any(|w| w.contains("`nope`")));
}

#[test]
fn chained_correlations_fire() {
    let yaml = "\
title: outer
id: outer
correlation:
  type: temporal_ordered
  rules: [many_a, b]
  group-by: [User]
  timespan: 60s
---
title: inner
id: inner
name: many_a
correlation:
  type: event_count
  rules: [a]
  group-by: [User]
  timespan: 60s
  condition: {gte: 2}
";
    let mut c = correlator(yaml);
    let u = json!({"User": "bob"});
    assert_eq!(hits(&mut c, "a", u.clone(), 0), 0);
    let fired = c.observe(&rule("a"), &ev(u.clone()), t(1));
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].correlation, "inner");
    let fired = c.observe(&rule("b"), &ev(u), t(2));
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].correlation, "outer");
}

#[test]
fn snapshot_round_trips_and_resumes() {
    let mut c = correlator(EVENT_COUNT);
    let e = json!({"User": "bob"});
    hits(&mut c, "a", e.clone(), 0);
    hits(&mut c, "a", e.clone(), 1);
    let json = serde_json::to_string(&c.snapshot()).unwrap();
    let snapshot: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(snapshot, c.snapshot());

    let mut restored = correlator(EVENT_COUNT);
    restored.restore(snapshot).unwrap();
    assert_eq!(restored.snapshot(), c.snapshot());
    assert_eq!(
        hits(&mut restored, "a", e, 2),
        1,
        "the third match after a restart fires"
    );

    let mut bad = c.snapshot();
    bad.version = 99;
    assert!(restored.restore(bad).is_err());
}

#[test]
fn upper_bound_conditions_do_not_compile() {
    let yaml = EVENT_COUNT.replace("{gte: 3}", "{lt: 3}");
    let report = RuleSet::load_str(&yaml, "corr.yml");
    let err = CompiledCorrelation::compile(&report.correlations[0]).unwrap_err();
    assert!(matches!(err, CorrelationError::Unsupported(_)), "{err}");
}

#[test]
fn windows_security_fields_resolve_through_mappings() {
    let yaml = "\
title: failed
name: failed
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: many failed
id: corr-w
correlation:
  type: event_count
  rules: [failed]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gte: 2}
";
    let report = RuleSet::load_str(yaml, "w.yml");
    let (compiled, failed) = compile_all(&report.correlations);
    assert!(failed.is_empty());
    let known = [KnownRule {
        rule: RuleRef::new(None, Some("failed")),
        logsource: report.rules[0].logsource.clone(),
    }];
    let mut c = Correlator::new(compiled, &known, &Mappings::builtin());
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    let e = ev(json!({"winlog": {"channel": "Security", "event_id": "4625",
        "event_data": {"TargetUserName": "admin"}}}));
    let r = RuleRef::new(None, Some("failed"));
    assert!(c.observe(&r, &e, t(0)).is_empty());
    let fired = c.observe(&r, &e, t(1));
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].group[0].1, "admin");
}

/// Compiles every correlation in the real examples and the specification's tests; prints
/// the ones that cannot compile, with why, and checks that list is what we expect.
#[test]
fn real_correlations_compile() {
    let dirs = [
        "/work/shared/data/sigma-correlation-examples",
        "/work/shared/data/sigma-specification/tests/schema/correlation",
    ];
    let mut total = 0;
    let mut failures = Vec::new();
    for dir in dirs {
        if !Path::new(dir).exists() {
            eprintln!("skipping {dir}: not present");
            continue;
        }
        let report = Loader::new().load_dir(dir);
        total += report.correlations.len();
        let (compiled, failed) = compile_all(&report.correlations);
        let known: Vec<KnownRule> = Vec::new();
        let _ = Correlator::new(compiled, &known, &Mappings::builtin());
        for (id, e) in failed {
            eprintln!("cannot compile {id}: {e}");
            failures.push((id, e));
        }
    }
    if total > 0 {
        assert!(total >= 3, "{total}");
        // Only the rsigma extensions (value_sum, value_avg, value_percentile) fail.
        for (id, e) in &failures {
            assert!(
                e.to_string().contains("not in the Sigma specification"),
                "{id}: {e}"
            );
        }
    }
}
