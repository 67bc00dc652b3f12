//! Campaigns over real reported messages kept by a desk, and the desk's intake counters.

use std::path::Path;
use std::sync::Arc;

use phish::campaigns::KeyKind;
use phish::stats::{Channel, Refusal};
use phish::{Analyzer, AnalyzerConfig, Desk, Forwarding, Language, OfflineDns, Submission};

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
    let _ = std::fs::remove_dir_all(&dir);
}
