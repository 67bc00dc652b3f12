//! Mappings of non-Windows products on real-looking events: real SigmaHQ rules over
//! CloudTrail records (JSON documents, as shippers send them) and auditd records (as
//! written to `/var/log/audit/audit.log`), decoded and normalized as ingest does.

use std::path::Path;

use event::Event;

fn context() -> normalize::Context<'static> {
    normalize::Context {
        input_type: "import",
        peer: None,
        received_at: jiff::Timestamp::UNIX_EPOCH,
    }
}

fn cloudtrail_events() -> Vec<Event> {
    let normalizer = normalize::Normalizer::builtin();
    let text =
        std::fs::read_to_string(crate::testdata().join("mappings/cloudtrail.ndjson")).unwrap();
    text.lines()
        .map(|line| {
            let doc: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).unwrap();
            let record =
                formats::json::decode(doc, Some(line.to_owned()), jiff::Timestamp::UNIX_EPOCH);
            normalizer.normalize(record, &context())
        })
        .collect()
}

fn audit_events() -> Vec<Event> {
    let normalizer = normalize::Normalizer::builtin();
    let text = std::fs::read_to_string(crate::testdata().join("mappings/audit.log")).unwrap();
    text.lines()
        .map(|line| {
            normalizer.normalize(
                formats::decode_line(line, jiff::Timestamp::UNIX_EPOCH),
                &context(),
            )
        })
        .collect()
}

/// For each event, whether the SigmaHQ rule at `rule` (under the corpus) matches it.
fn matches(data: &Path, rule: &str, events: &[Event]) -> Vec<bool> {
    let report = sigma::RuleSet::load_dir(data.join(rule));
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(report.warnings.is_empty(), "{rule}: {:?}", report.warnings);
    let [rule] = report.rules.as_slice() else {
        panic!("one rule expected in {rule}")
    };
    events
        .iter()
        .map(|event| rule.matches(event).is_some())
        .collect()
}

#[test]
fn cloudtrail_rules_see_cloudtrail_records() {
    let Some(data) = crate::sigma_data() else {
        return;
    };
    let events = cloudtrail_events();
    // A successful DeleteBucket (no errorCode) matches; the failed one and a read do not.
    assert_eq!(
        matches(
            &data,
            "rules/cloud/aws/cloudtrail/aws_cloudtrail_bucket_deleted.yml",
            &events
        ),
        [true, false, false, false]
    );
    assert_eq!(
        matches(
            &data,
            "rules/cloud/aws/cloudtrail/aws_cloudtrail_console_login_success_without_mfa.yml",
            &events
        ),
        [false, false, false, true]
    );
    // Windows rules never see them.
    let windows = sigma::RuleSet::load_dir(data.join("rules/windows/process_creation"));
    let engine = sigma::Engine::new(windows.rules);
    assert!(events.iter().all(|event| engine.matches(event).is_empty()));
}

#[test]
fn auditd_rules_see_audit_records() {
    let Some(data) = crate::sigma_data() else {
        return;
    };
    let events = audit_events();
    assert_eq!(
        matches(
            &data,
            "rules/linux/auditd/lnx_auditd_audio_capture.yml",
            &events
        ),
        [false, true, false, false]
    );
    // Every auditd rule loads with its logsource mapped (no "sees no events" warning).
    let report = sigma::RuleSet::load_dir(data.join("rules/linux/auditd"));
    assert!(report.rules.len() > 50, "{}", report.rules.len());
    let unmapped: Vec<_> = report
        .warnings
        .iter()
        .filter(|w| w.message.contains("sees no events"))
        .collect();
    assert!(unmapped.is_empty(), "{unmapped:?}");
    let engine = sigma::Engine::new(report.rules);
    let hits: Vec<usize> = events
        .iter()
        .map(|event| engine.matches(event).len())
        .collect();
    assert!(hits[1] >= 1, "{hits:?}");
}

fn web_events() -> Vec<Event> {
    let normalizer = normalize::Normalizer::builtin();
    let text = std::fs::read_to_string(crate::testdata().join("mappings/web.ndjson")).unwrap();
    text.lines()
        .map(|line| {
            let doc: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).unwrap();
            let record =
                formats::json::decode(doc, Some(line.to_owned()), jiff::Timestamp::UNIX_EPOCH);
            normalizer.normalize(record, &context())
        })
        .collect()
}

#[test]
fn proxy_and_webserver_rules_see_ecs_web_events() {
    let Some(data) = crate::sigma_data() else {
        return;
    };
    let events = web_events();
    // SQL injection in an access log: the 200 matches, the 404 is filtered out by the
    // rule, proxy events are not web server events.
    assert_eq!(
        matches(
            &data,
            "rules/web/webserver_generic/web_sql_injection_in_access_logs.yml",
            &events
        ),
        [true, false, false, false]
    );
    assert_eq!(
        matches(
            &data,
            "rules/web/proxy_generic/proxy_telegram_api.yml",
            &events
        ),
        [false, false, true, false]
    );
    assert_eq!(
        matches(
            &data,
            "rules/web/proxy_generic/proxy_ua_rclone.yml",
            &events
        ),
        [false, false, false, true]
    );
    // Every proxy and web server rule loads with its logsource mapped.
    for dir in ["rules/web/proxy_generic", "rules/web/webserver_generic"] {
        let report = sigma::RuleSet::load_dir(data.join(dir));
        let unmapped: Vec<_> = report
            .warnings
            .iter()
            .filter(|w| w.message.contains("sees no events"))
            .collect();
        assert!(unmapped.is_empty(), "{unmapped:?}");
    }
    // Product-less logsources without a mapping still see nothing.
    let report = sigma::RuleSet::load_str(
        "title: t\nlogsource: {category: dns}\ndetection: {sel: {query: x}, condition: sel}\n",
        "dns.yml",
    );
    assert!(report.warnings[0].message.contains("sees no events"));
}
