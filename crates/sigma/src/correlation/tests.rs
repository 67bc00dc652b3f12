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
fn eviction_order_follows_what_expires_first() {
    let limits = Limits {
        max_groups: 2,
        max_entries: 10,
    };
    // u1 opens first but matches last; u2 matches once in between; u3 needs room.
    let matches = [(0, "u1"), (1, "u2"), (2, "u1"), (3, "u3")];

    // Sliding windows: u2's last match (1 s) is the oldest, so u2 goes and u1 keeps its two.
    let mut sliding = correlator_with(EVENT_COUNT, limits);
    for (secs, user) in matches {
        assert_eq!(hits(&mut sliding, "a", json!({"User": user}), secs), 0);
    }
    assert_eq!(sliding.stats().evicted_groups, 1);
    assert_eq!(hits(&mut sliding, "a", json!({"User": "u1"}), 4), 1);

    // Fixed windows (upper bounds): u1's window opened first and closes first, so u1 goes
    // although its last match is newer than u2's.
    let mut fixed = correlator_with(&EVENT_COUNT.replace("{gte: 3}", "{lt: 3}"), limits);
    for (secs, user) in matches {
        assert_eq!(hits(&mut fixed, "a", json!({"User": user}), secs), 0);
    }
    assert_eq!(fixed.stats().evicted_groups, 1);
    let decided: Vec<(String, u64)> = fixed
        .advance(t(1000))
        .into_iter()
        .map(|h| (h.group[0].1.clone(), h.count))
        .collect();
    assert_eq!(decided, [("u2".to_owned(), 1), ("u3".to_owned(), 1)]);
}

#[test]
fn distinct_values_are_capped_dropping_the_least_recently_seen() {
    let limits = Limits {
        max_groups: 10,
        max_entries: 2,
    };
    // u1 is seen again after u2: when u3 needs room, u2 is the one dropped.
    let matches = [(0, "u1"), (1, "u2"), (2, "u1"), (3, "u3")];
    let never = VALUE_COUNT.replace("{gt: 2,", "{gt: 3,");
    let few = VALUE_COUNT.replace("{gt: 2,", "{lt: 3,");
    for yaml in [never, few] {
        let mut c = correlator_with(&yaml, limits);
        for (secs, user) in matches {
            assert_eq!(
                hits(&mut c, "a", json!({"Ip": "10.0.0.1", "User": user}), secs),
                0
            );
        }
        assert_eq!(c.stats().dropped_entries, 1, "{yaml}");
        let kept: Vec<&str> = c.state[0].groups[&vec!["10.0.0.1".to_owned()]]
            .values
            .keys()
            .map(|v| v[0].as_str())
            .collect();
        assert_eq!(kept, ["u1", "u3"], "{yaml}");
    }
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

/// Feeds `(seconds, rule, User)` matches; returns each hit as (User, count, first, last).
fn bounded_hits(yaml: &str, matches: &[(i64, &str, &str)]) -> Vec<(String, u64, i64, i64)> {
    let mut c = correlator(yaml);
    let mut out = Vec::new();
    for (secs, name, user) in matches {
        for hit in c.observe(
            &rule(name),
            &ev(json!({"User": user, "Host": "h1"})),
            t(*secs),
        ) {
            out.push((
                hit.group[0].1.clone(),
                hit.count,
                hit.first.as_second() - 1_700_000_000,
                hit.last.as_second() - 1_700_000_000,
            ));
        }
    }
    out
}

#[test]
fn upper_bounds_are_decided_when_a_window_is_over() {
    // Fewer than 3 in a minute: decided once a later match shows the minute is over.
    let lt = EVENT_COUNT.replace("{gte: 3}", "{lt: 3}");
    let matches = [
        (0, "a", "bob"),
        (10, "a", "alice"),
        (20, "a", "alice"),
        (30, "a", "alice"),
        (50, "a", "bob"),
        // Exactly 60 s after bob's first: still inside his window (inclusive).
        (60, "a", "carol"),
        // 61 s: bob's window [0, 60] is over (2 matches: fires); alice's [10, 70] is not.
        (61, "a", "carol"),
        // 71 s: alice's window is over with 3 matches: no hit.
        (71, "a", "carol"),
    ];
    assert_eq!(bounded_hits(&lt, &matches), [("bob".to_owned(), 2, 0, 50)]);
    // A range and an exact count.
    let range = EVENT_COUNT.replace("{gte: 3}", "{gte: 2, lte: 3}");
    let hits = bounded_hits(&range, &matches);
    let users: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(users, ["bob", "alice"]);
    let eq = EVENT_COUNT.replace("{gte: 3}", "{eq: 3}");
    assert_eq!(
        bounded_hits(&eq, &matches),
        [("alice".to_owned(), 3, 10, 30)]
    );
    let neq = EVENT_COUNT.replace("{gte: 3}", "{neq: 3}");
    assert_eq!(bounded_hits(&neq, &matches), [("bob".to_owned(), 2, 0, 50)]);
    // Windows no later match has closed are not decided.
    assert!(bounded_hits(&lt, &[(0, "a", "bob")]).is_empty());
}

#[test]
fn upper_bounds_work_for_distinct_values_and_rules() {
    let few_users = VALUE_COUNT.replace("{gt: 2, field: User}", "{lt: 2, field: User}");
    let mut c = correlator(&few_users);
    let mut hits = Vec::new();
    for (secs, ip, user) in [
        (0, "10.0.0.1", "bob"),
        (10, "10.0.0.1", "bob"),
        (20, "10.0.0.2", "x"),
        (30, "10.0.0.2", "y"),
        (400, "10.0.0.3", "z"),
    ] {
        hits.extend(c.observe(&rule("a"), &ev(json!({"Ip": ip, "User": user})), t(secs)));
    }
    let groups: Vec<&str> = hits.iter().map(|h| h.group[0].1.as_str()).collect();
    assert_eq!(groups, ["10.0.0.1"], "one distinct user: fewer than 2");
    // temporal with an upper bound: at most 2 of the 3 rules in the window.
    let partial = TEMPORAL.replace("timespan: 60s", "timespan: 60s\n  condition: {lte: 2}");
    let mut c = correlator(&partial);
    let mut hits = Vec::new();
    for (secs, name, host) in [
        (0, "a", "h1"),
        (5, "b", "h1"),
        (0, "a", "h2"),
        (5, "b", "h2"),
        (9, "c", "h2"),
        (100, "a", "h3"),
    ] {
        hits.extend(c.observe(&rule(name), &ev(json!({"Host": host})), t(secs)));
    }
    let groups: Vec<(&str, u64)> = hits
        .iter()
        .map(|h| (h.group[0].1.as_str(), h.count))
        .collect();
    assert_eq!(groups, [("h1", 2)]);
    // Windows in progress survive a snapshot.
    let mut c = correlator(&EVENT_COUNT.replace("{gte: 3}", "{lt: 3}"));
    c.observe(&rule("a"), &ev(json!({"User": "bob"})), t(0));
    let mut restored = correlator(&EVENT_COUNT.replace("{gte: 3}", "{lt: 3}"));
    restored.restore(c.snapshot()).unwrap();
    let hits = restored.observe(&rule("a"), &ev(json!({"User": "eve"})), t(100));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].count, 1);
}

#[test]
fn temporal_ordered_with_an_upper_bound_does_not_compile() {
    let yaml = ORDERED.replace("timespan:", "condition: {lt: 2}\n  timespan:");
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
        // Every type is evaluated.
        assert!(failures.is_empty(), "{failures:?}");
    }
}

#[test]
fn sums_and_averages_are_decided_per_window() {
    let sum = "\
title: exfiltration
id: corr-sum
correlation:
  type: value_sum
  rules: [a]
  group-by: [User]
  timespan: 60s
  condition: {field: Bytes, gt: 1000}
";
    let avg = sum
        .replace("value_sum", "value_avg")
        .replace("gt: 1000", "gte: 500");
    let feed = |yaml: &str| {
        let mut c = correlator(yaml);
        let mut hits = Vec::new();
        for (secs, user, bytes) in [
            (0, "bob", json!(600)),
            (10, "bob", json!("500")),
            (20, "alice", json!(900)),
            (25, "alice", json!("n/a")),
            (30, "alice", json!(50)),
            (100, "eve", json!(1)),
        ] {
            let event = ev(json!({"User": user, "Bytes": bytes}));
            hits.extend(c.observe(&rule("a"), &event, t(secs)));
        }
        (
            hits.iter()
                .map(|h| (h.group[0].1.clone(), h.count))
                .collect::<Vec<_>>(),
            c.stats().missing_field,
        )
    };
    // bob: 600 + 500 = 1100 > 1000; alice: 950 is not (the non-numeric value is skipped).
    assert_eq!(feed(sum), (vec![("bob".to_owned(), 1100)], 1));
    // Averages: bob 550 >= 500, alice 475 is not.
    assert_eq!(feed(&avg), (vec![("bob".to_owned(), 550)], 1));
    let missing = sum.replace("field: Bytes, ", "");
    let report = RuleSet::load_str(&missing, "corr.yml");
    assert!(CompiledCorrelation::compile(&report.correlations[0]).is_err());
}

#[test]
fn specification_examples_all_compile() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/sigma-specification/tests/schema/correlation");
    if !dir.is_dir() {
        eprintln!("skipped: {} not found", dir.display());
        return;
    }
    let report = Loader::new().load_dir(&dir);
    let (compiled, failed) = compile_all(&report.correlations);
    assert_eq!(compiled.len(), 8, "{failed:?}");
    assert!(failed.is_empty(), "{failed:?}");
    let percentile = compiled
        .iter()
        .find(|c| c.kind == CorrelationKind::ValuePercentile)
        .expect("the value_percentile example");
    assert_eq!(percentile.percentile, Some(50));
}

#[test]
fn percentiles_interpolate_between_closest_ranks() {
    let table: &[(&[f64], u8, f64)] = &[
        (&[], 50, 0.0),
        (&[7.0], 0, 7.0),
        (&[7.0], 100, 7.0),
        (&[4.0, 1.0, 3.0, 2.0], 50, 2.5),
        (&[4.0, 1.0, 3.0, 2.0], 0, 1.0),
        (&[4.0, 1.0, 3.0, 2.0], 100, 4.0),
        (&[4.0, 1.0, 3.0, 2.0], 25, 1.75),
        (&[3.0, 1.0, 2.0], 50, 2.0),
        (
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
            90,
            9.1,
        ),
        (&[-5.0, 5.0], 50, 0.0),
        (&[2.0, 2.0, 2.0, 100.0], 50, 2.0),
    ];
    for (values, p, expected) in table {
        let values: VecDeque<f64> = values.iter().copied().collect();
        let got = percentile(&values, *p);
        assert!(
            (got - expected).abs() < 1e-9,
            "p{p} of {values:?}: {got} != {expected}"
        );
    }
}

const MEDIAN: &str = "\
title: slow logons
id: corr-median
correlation:
  type: value_median
  rules: [a]
  group-by: [User]
  timespan: 60s
  condition: {field: Ms, gt: 100}
";

/// Feeds `(seconds, User, Ms)` matches, then one at 1000 s that closes every window;
/// returns the hits as (User, count) and the values not counted.
fn numeric_hits(
    yaml: &str,
    matches: &[(i64, &str, serde_json::Value)],
) -> (Vec<(String, u64)>, u64) {
    let mut c = correlator(yaml);
    let mut hits = Vec::new();
    for (secs, user, ms) in matches.iter().cloned().chain([(1000, "zz", json!(0))]) {
        let event = ev(json!({"User": user, "Ms": ms}));
        hits.extend(c.observe(&rule("a"), &event, t(secs)));
    }
    let hits = hits
        .iter()
        .map(|h| (h.group[0].1.clone(), h.count))
        .collect();
    (hits, c.stats().missing_field)
}

#[test]
fn medians_and_percentiles_are_decided_per_window() {
    let matches = [
        (0, "bob", json!(50)),
        (1, "bob", json!(150)),
        (2, "bob", json!("170")),
        (3, "bob", json!("slow")),
        (10, "alice", json!(10)),
        (11, "alice", json!(20)),
        (12, "alice", json!(900)),
        // Outside bob's first window [0, 60]: starts a new one once that is decided.
        (100, "bob", json!(1)),
    ];
    // bob: median of 50, 150, 170 is 150 > 100; alice: 20 is not; bob's second window: 1.
    assert_eq!(
        numeric_hits(MEDIAN, &matches),
        (vec![("bob".to_owned(), 150)], 1)
    );
    // The 90th percentile: bob 166 (150 + 0.8 × 20), alice 724 (20 + 0.8 × 880).
    let p90 = MEDIAN
        .replace("value_median", "value_percentile")
        .replace("gt: 100", "gt: 100, percentile: 90");
    let (hits, _) = numeric_hits(&p90, &matches);
    assert_eq!(hits, [("alice".to_owned(), 724), ("bob".to_owned(), 166)]);
    // An upper bound: the 10th percentile under 20 (alice: 12; bob: 70, then 1).
    let low = p90.replace("gt: 100, percentile: 90", "lt: 20, percentile: 10");
    let (hits, _) = numeric_hits(&low, &matches);
    assert_eq!(hits, [("alice".to_owned(), 12), ("bob".to_owned(), 1)]);
    // `percentile` defaults to 50: the same as the median.
    let default = MEDIAN.replace("value_median", "value_percentile");
    assert_eq!(
        numeric_hits(&default, &matches),
        numeric_hits(MEDIAN, &matches)
    );
}

#[test]
fn percentile_rules_are_validated_and_bounded() {
    for (yaml, why) in [
        (MEDIAN.replace("field: Ms, ", ""), "no field"),
        (
            MEDIAN.replace("{field: Ms, gt: 100}", "{field: Ms}"),
            "no condition",
        ),
        (
            MEDIAN
                .replace("value_median", "value_percentile")
                .replace("gt: 100", "gt: 100, percentile: 101"),
            "percentile above 100",
        ),
    ] {
        let report = RuleSet::load_str(&yaml, "corr.yml");
        let compiled: Vec<_> = report
            .correlations
            .iter()
            .map(CompiledCorrelation::compile)
            .collect();
        assert!(
            compiled.iter().all(Result::is_err) || report.correlations.is_empty(),
            "{why}: {compiled:?}"
        );
    }
    // Values kept per group are capped; the oldest go first.
    let limits = Limits {
        max_groups: 10,
        max_entries: 3,
    };
    let mut c = correlator_with(MEDIAN, limits);
    for (secs, ms) in [(0, 1000), (1, 1000), (2, 1), (3, 1), (4, 1)] {
        c.observe(&rule("a"), &ev(json!({"User": "bob", "Ms": ms})), t(secs));
    }
    assert_eq!(c.stats().dropped_entries, 2);
    assert!(
        c.advance(t(1000)).is_empty(),
        "median of the kept 1, 1, 1 is not > 100"
    );
    // State in progress survives a snapshot.
    let mut c = correlator(MEDIAN);
    c.observe(&rule("a"), &ev(json!({"User": "bob", "Ms": 500})), t(0));
    let mut restored = correlator(MEDIAN);
    restored.restore(c.snapshot()).unwrap();
    let hits = restored.advance(t(61));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].count, 500);
}

#[test]
fn the_clock_decides_windows_no_later_match_closes() {
    let lt = EVENT_COUNT.replace("{gte: 3}", "{lt: 3}");
    let mut c = correlator(&lt);
    for (secs, user) in [(0, "bob"), (10, "alice"), (20, "bob")] {
        assert!(
            c.observe(&rule("a"), &ev(json!({"User": user})), t(secs))
                .is_empty()
        );
    }
    // The windows are inclusive: at exactly 60 s bob's [0, 60] is still open.
    assert!(c.advance(t(60)).is_empty());
    let hits = c.advance(t(61));
    let got: Vec<(&str, u64)> = hits
        .iter()
        .map(|h| (h.group[0].1.as_str(), h.count))
        .collect();
    assert_eq!(got, [("bob", 2)]);
    assert_eq!(hits[0].first, t(0));
    assert_eq!(hits[0].last, t(20));
    // Decided once: the same time again gives nothing, alice's window closes at 71 s.
    assert!(c.advance(t(61)).is_empty());
    let hits = c.advance(t(71));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group[0].1, "alice");
    assert_eq!(c.groups(), 0);
    assert_eq!(c.stats().hits, 2);
    // A match inside a window the clock decided opens a new window, not dropped as late.
    assert!(
        c.observe(&rule("a"), &ev(json!({"User": "bob"})), t(30))
            .is_empty()
    );
    assert_eq!(c.stats().late, 0);
    assert_eq!(c.advance(t(91)).len(), 1);
    // Correlations without an upper bound are never decided by the clock.
    let mut c = correlator(EVENT_COUNT);
    c.observe(&rule("a"), &ev(json!({"User": "bob"})), t(0));
    assert!(c.advance(t(10_000)).is_empty());
    assert_eq!(c.groups(), 1);
    // A window over by the clock and one still open, in one call: only the first fires.
    let mut c = correlator(&lt);
    c.observe(&rule("a"), &ev(json!({"User": "bob"})), t(0));
    c.observe(&rule("a"), &ev(json!({"User": "eve"})), t(50));
    let hits = c.advance(t(100));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group[0].1, "bob");
    assert_eq!(c.groups(), 1);
}
