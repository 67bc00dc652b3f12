//! Campaigns over real reported messages kept by a desk, and the desk's intake counters.

use std::path::Path;
use std::sync::Arc;

use phish::campaigns::KeyKind;
use phish::stats::{Channel, Refusal};
use phish::{
    Analyzer, AnalyzerConfig, Desk, Forwarding, Language, OfflineDns, Submission, Verdict,
};

fn corpus(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/email/phishing")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn submission(now: i64, reporter: &str) -> Submission {
    Submission {
        source: "smtp".into(),
        reporter: Some(reporter.into()),
        language: Language::En,
        forwarding: Forwarding::Attached,
        now,
    }
}

#[test]
fn real_messages_of_one_campaign_group_and_others_stay_apart() {
    let dir = std::env::temp_dir().join(format!("phish-campaigns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let desk = Desk::open(
        &dir,
        Analyzer::new(AnalyzerConfig {
            own_domains: vec!["comune-esempio.it".into()],
            ..AnalyzerConfig::default()
        }),
        Arc::new(OfflineDns),
    )
    .unwrap();
    // Two "parcel held" lures with the same landing page, from different senders.
    let first = desk
        .submit(
            &corpus("sample-4452.eml"),
            submission(1000, "anna@comune-esempio.it"),
        )
        .unwrap();
    let second = desk
        .submit(
            &corpus("sample-4464.eml"),
            submission(2000, "luca@comune-esempio.it"),
        )
        .unwrap();
    // Unrelated lures.
    for (i, name) in ["sample-1020.eml", "sample-100.eml", "sample-1220.eml"]
        .iter()
        .enumerate()
    {
        desk.submit(
            &corpus(name),
            submission(3000 + i as i64, "anna@comune-esempio.it"),
        )
        .unwrap();
    }
    let campaigns = desk.campaigns(100).unwrap();
    assert_eq!(campaigns.len(), 1, "{campaigns:#?}");
    let campaign = &campaigns[0];
    assert_eq!(campaign.reports, [second.id.clone(), first.id.clone()]);
    assert_eq!(campaign.id, first.id);
    assert_eq!((campaign.first_seen, campaign.last_seen), (1000, 2000));
    assert_eq!(campaign.reporters, 2);
    assert!(
        campaign
            .shared
            .iter()
            .any(|s| s.kind == KeyKind::Host && s.value == "juliodedansk.icu" && s.strong),
        "{:?}",
        campaign.shared
    );
    let (detail, reports) = desk.campaign(&first.id, 100).unwrap();
    assert_eq!(detail.reports, campaign.reports);
    assert_eq!(reports.len(), 2);
    assert!(
        desk.campaign(&second.id, 100).is_err(),
        "named after its oldest report"
    );
    assert!(desk.campaign("../../etc", 100).is_err());

    // The desk counted what it analysed; channels and refusals are counted by the intake.
    desk.stats().received(Channel::Smtp);
    desk.stats().refused(Refusal::Recipient);
    desk.stats().reply(true);
    desk.stats().reply(false);
    let stats = desk.stats().snapshot();
    assert_eq!(stats.analysed, 5);
    assert_eq!(
        stats.verdicts.malicious + stats.verdicts.suspicious + stats.verdicts.likely_safe,
        5
    );
    assert_eq!((stats.received.smtp, stats.received.api), (1, 0));
    assert_eq!(stats.refused.recipient, 1);
    assert_eq!((stats.replies.sent, stats.replies.failed), (1, 1));
    assert_eq!(stats.failed, 0);

    // Saved, the counters survive a reopen (a restart) and keep counting from there.
    assert_eq!(desk.save_stats().unwrap(), stats);
    drop(desk);
    let reopen = || {
        Desk::open(
            &dir,
            Analyzer::new(AnalyzerConfig::default()),
            Arc::new(OfflineDns),
        )
    };
    let desk = reopen().unwrap();
    assert_eq!(desk.stats().snapshot(), stats);
    desk.stats().received(Channel::Api);
    assert_eq!(desk.stats().snapshot().received.api, 1);
    assert_eq!(desk.stats().snapshot().since, stats.since);
    // A damaged counters file restarts them at zero; the desk still opens.
    drop(desk);
    std::fs::write(dir.join("stats.json"), b"{\"since\": 1, \"received\":").unwrap();
    let desk = reopen().unwrap();
    assert_eq!(desk.stats().snapshot().analysed, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn campaigns_are_cached_until_a_report_is_added_or_overridden() {
    let dir = std::env::temp_dir().join(format!("phish-campaign-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let desk = Desk::open(
        &dir,
        Analyzer::new(AnalyzerConfig::default()),
        Arc::new(OfflineDns),
    )
    .unwrap();
    let first = desk
        .submit(
            &corpus("sample-4452.eml"),
            submission(1000, "anna@example.it"),
        )
        .unwrap();
    desk.submit(
        &corpus("sample-1020.eml"),
        submission(1500, "luca@example.it"),
    )
    .unwrap();
    assert!(desk.campaigns(100).unwrap().is_empty());
    // A copy of the first report written behind the desk's back is not seen: the campaigns
    // come from the cache, not from the folder.
    let mut copy = desk.get(&first.id).unwrap();
    copy.id = "0000000004b0-0fff".into();
    copy.received_at = 1200;
    std::fs::write(
        dir.join("reports").join(format!("{}.json", copy.id)),
        serde_json::to_vec(&copy).unwrap(),
    )
    .unwrap();
    let generation = desk.generation();
    assert!(
        desk.campaigns(100).unwrap().is_empty(),
        "served from the cache"
    );
    // Another window is computed for itself.
    assert_eq!(desk.campaigns(50).unwrap().len(), 1);

    // A new report invalidates the cache: the copy and the new report join the campaign.
    let second = desk
        .submit(
            &corpus("sample-4464.eml"),
            submission(2000, "luca@example.it"),
        )
        .unwrap();
    assert!(desk.generation() > generation);
    let campaigns = desk.campaigns(100).unwrap();
    assert_eq!(campaigns.len(), 1, "{campaigns:#?}");
    assert_eq!(
        campaigns[0].reports,
        [second.id.clone(), copy.id.clone(), first.id.clone()]
    );
    let before = campaigns[0].verdicts.clone();
    assert_eq!(before.values().sum::<usize>(), 3);

    // So does an override: the campaign's verdicts follow it.
    desk.override_verdict(&second.id, "analyst", Verdict::LikelySafe, "ok", 3000)
        .unwrap();
    let campaigns = desk.campaigns(100).unwrap();
    assert_eq!(
        campaigns[0].verdicts.get("likely_safe"),
        Some(&1),
        "{:?}",
        campaigns[0].verdicts
    );
    assert_ne!(campaigns[0].verdicts, before);
    let (detail, members) = desk.campaign(&first.id, 100).unwrap();
    assert_eq!(detail.reports, campaigns[0].reports);
    assert_eq!(members[0].verdict, Verdict::LikelySafe);
    let _ = std::fs::remove_dir_all(&dir);
}
