use serde_json::{Value, json};

use super::*;
use crate::intake::Forwarding;
use crate::report::{Language, Verdict};

fn report(id: &str, at: i64, reporter: &str, analysis: Value) -> StoredReport {
    StoredReport {
        id: id.into(),
        received_at: at,
        source: "api".into(),
        reporter: Some(reporter.into()),
        language: Language::En,
        forwarding: Forwarding::Direct,
        verdict: Verdict::Malicious,
        automatic_verdict: Verdict::Malicious,
        score: 9,
        subject: Some(format!("subject {id}")),
        reasons_en: Vec::new(),
        reasons_it: Vec::new(),
        message_sha256: String::new(),
        analysis,
        overrides: Vec::new(),
        reply: None,
        notices: Vec::new(),
    }
}

fn indicators(value: Value) -> Value {
    json!({ "indicators": value })
}

fn members(campaigns: &[Campaign]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = campaigns
        .iter()
        .map(|c| {
            let mut ids = c.reports.clone();
            ids.sort();
            ids
        })
        .collect();
    out.sort();
    out
}

#[test]
fn grouping_is_transitive_across_kinds_of_evidence() {
    let hash = "ab".repeat(32);
    let reports = [
        report(
            "a",
            1,
            "x@org.example",
            indicators(json!({
            "urls": ["http://login-verify.top/a?u=1"], "domains": ["login-verify.top"]})),
        ),
        // Shares the link host with a, and an attachment with c.
        report(
            "b",
            2,
            "y@org.example",
            indicators(json!({
            "urls": ["http://www.login-verify.top/b"], "attachment_sha256": [hash]})),
        ),
        report(
            "c",
            3,
            "z@org.example",
            indicators(json!({"attachment_sha256": [hash.to_uppercase()]})),
        ),
        // Unrelated.
        report(
            "d",
            4,
            "x@org.example",
            indicators(json!({"urls": ["http://other.example/x"]})),
        ),
    ];
    let campaigns = group(&reports, &[]);
    assert_eq!(members(&campaigns), [["a", "b", "c"]]);
    let campaign = &campaigns[0];
    assert_eq!(campaign.id, "a", "the oldest report names the campaign");
    assert_eq!(campaign.reports, ["c", "b", "a"], "newest first");
    assert_eq!((campaign.first_seen, campaign.last_seen), (1, 3));
    assert_eq!(campaign.reporters, 3);
    assert_eq!(campaign.verdicts["malicious"], 3);
    let shared: Vec<(KeyKind, &str, usize)> = campaign
        .shared
        .iter()
        .map(|s| (s.kind, s.value.as_str(), s.reports))
        .collect();
    assert!(
        shared.contains(&(KeyKind::Host, "login-verify.top", 2)),
        "{shared:?}"
    );
    assert!(
        shared.contains(&(KeyKind::Sha256, hash.as_str(), 2)),
        "{shared:?}"
    );
    assert_eq!(shared.len(), 2, "{shared:?}");
}

#[test]
fn one_weak_key_does_not_link_two_do() {
    let sent = |ip: &str, dkim: &str| {
        json!({
            "indicators": {"origin_ip": ip},
            "auth": {"dkim": [[dkim, "pass"]]},
        })
    };
    // The same provider IP alone (e.g. a big mail service) is not a campaign.
    let reports = [
        report("a", 1, "r", sent("203.0.113.5", "shop-one.example")),
        report("b", 2, "r", sent("203.0.113.5", "shop-two.example")),
    ];
    assert!(group(&reports, &[]).is_empty());
    // Same IP and same DKIM signer: the same sender.
    let reports = [
        report("a", 1, "r", sent("203.0.113.5", "bulk-sender.example")),
        report("b", 2, "r", sent("203.0.113.5", "mail.bulk-sender.example")),
    ];
    let campaigns = group(&reports, &[]);
    assert_eq!(members(&campaigns), [["a", "b"]]);
    let kinds: Vec<KeyKind> = campaigns[0].shared.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [KeyKind::Ip, KeyKind::Dkim]);
}

#[test]
fn values_everybody_shares_are_never_keys() {
    let common = |id: &str| {
        report(
            id,
            1,
            "r",
            json!({
                "indicators": {
                    "from_address": "someone@gmail.com",
                    "sender_domains": ["gmail.com", "comune-esempio.it"],
                    "urls": ["https://bit.ly/abc", "https://www.paypal.com/signin", "https://www.comune-esempio.it/"],
                    "domains": ["bit.ly", "paypal.com", "comune-esempio.it"],
                    "origin_ip": "10.0.0.1",
                },
                "auth": {"spf_identity": ["192.168.1.1", "bounce@gmail.com"]},
            }),
        )
    };
    let analysis = &common("a").analysis;
    assert!(
        keys(analysis, &["comune-esempio.it".into()]).is_empty(),
        "{:?}",
        keys(analysis, &["comune-esempio.it".into()])
    );
    assert!(group(&[common("a"), common("b")], &["comune-esempio.it".into()]).is_empty());
}

#[test]
fn free_hosting_customers_are_told_apart() {
    let hosted = |id: &str, host: &str| {
        report(
            id,
            1,
            "r",
            indicators(json!({"urls": [format!("https://{host}/index.html")]})),
        )
    };
    let reports = [
        hosted("a", "okokoaksoa.z13.web.core.windows.net"),
        hosted("b", "okokoaksoa.z13.web.core.windows.net"),
        hosted("c", "someone-else.z13.web.core.windows.net"),
    ];
    assert_eq!(members(&group(&reports, &[])), [["a", "b"]]);
}

#[test]
fn sender_keys_come_from_the_analysis_identity_fields() {
    let analysis = json!({
        "indicators": {
            "from_address": "Service <billing@mail.paypa1-secure.top>",
            "sender_domains": ["mail.paypa1-secure.top", "collect-replies.example", "bounce.mailer.example"],
            "origin_ip": "198.51.100.9",
        },
        "auth": {"spf_identity": ["198.51.100.9", "x@bounce.mailer.example"], "dkim": [["mailer.example", "fail"]]},
    });
    let keys: Vec<(KeyKind, String)> = keys(&analysis, &[])
        .into_iter()
        .map(|k| (k.kind, k.value))
        .collect();
    assert_eq!(
        keys,
        [
            (KeyKind::From, "paypa1-secure.top".to_owned()),
            (KeyKind::Sender, "collect-replies.example".to_owned()),
            (KeyKind::Ip, "198.51.100.9".to_owned()),
            (KeyKind::Envelope, "mailer.example".to_owned()),
            (KeyKind::Dkim, "mailer.example".to_owned()),
        ]
    );
}

#[test]
fn shared_infrastructure_and_huge_messages_stay_bounded() {
    // Two hundred reports through one provider (same IP, same envelope domain), each from
    // its own sender: a weak key in that many reports is ignored, so no giant campaign.
    let reports: Vec<StoredReport> = (0..200)
        .map(|i| {
            report(&format!("{i:04}"), i, "r", json!({
                "indicators": {"origin_ip": "203.0.113.77", "from_address": format!("a@sender{i}.example")},
                "auth": {"spf_identity": ["203.0.113.77", "b@big-provider.example"]},
            }))
        })
        .collect();
    assert!(group(&reports, &[]).is_empty());
    // A message with ten thousand links gives at most MAX_KEYS_PER_REPORT keys.
    let urls: Vec<String> = (0..10_000)
        .map(|i| format!("http://host{i}.example/"))
        .collect();
    let analysis = indicators(json!({ "urls": urls }));
    assert_eq!(keys(&analysis, &[]).len(), MAX_KEYS_PER_REPORT);
}

#[test]
fn hostile_analyses_give_no_keys_and_no_panic() {
    for analysis in [
        json!(null),
        json!([]),
        json!({"indicators": "x", "auth": 3}),
        json!({"indicators": {"urls": [1, null, "::::", "http://"], "attachment_sha256": ["zz", 7],
            "origin_ip": "not an ip", "from_address": "@", "sender_domains": [".", ""]},
            "auth": {"dkim": [[], [null], "x"], "spf_identity": "x"}, "attachments": [{"sha256": 1}]}),
    ] {
        assert!(keys(&analysis, &[]).is_empty(), "{analysis}");
    }
    assert!(group(&[], &[]).is_empty());
}

#[test]
fn shared_platforms_and_spoofable_from_are_weak_evidence() {
    // Two unrelated newsletters through the same ESP tracker: not one campaign.
    let tracked = |id: &str, from: &str| {
        report(
            id,
            1,
            "r",
            indicators(json!({
                "urls": [format!("https://u123.ct.sendgrid.net/ls/click?upn={id}")],
                "from_address": format!("news@{from}"),
            })),
        )
    };
    assert!(
        group(
            &[
                tracked("a", "shop-one.example"),
                tracked("b", "shop-two.example")
            ],
            &[]
        )
        .is_empty()
    );
    // The same spoofed From on two lures without anything else in common: not linked…
    let spoofed = |id: &str, link: &str, ip: &str| {
        report(
            id,
            1,
            "r",
            json!({
                "indicators": {"from_address": "info@bank-of-somewhere.example", "urls": [link], "origin_ip": ip},
                "auth": {"spf_identity": [ip, format!("bounce@sender-{id}.example")]},
            }),
        )
    };
    let unrelated = [
        spoofed("a", "http://lure-one.example/x", "198.51.100.1"),
        spoofed("b", "http://lure-two.example/y", "198.51.100.2"),
    ];
    assert!(group(&unrelated, &[]).is_empty());
    // …but linked when the sending IP is the same too.
    let same_ip = [
        spoofed("a", "http://lure-one.example/x", "198.51.100.1"),
        spoofed("b", "http://lure-two.example/y", "198.51.100.1"),
    ];
    assert_eq!(members(&group(&same_ip, &[])), [["a", "b"]]);
    // A From the envelope confirms is the sender's own: strong on its own.
    let own = |id: &str| {
        report(
            id,
            1,
            "r",
            json!({
                "indicators": {"from_address": "x@actor-domain.example"},
                "auth": {"spf_identity": ["198.51.100.9", "y@mail.actor-domain.example"]},
            }),
        )
    };
    let campaigns = group(&[own("a"), own("b")], &[]);
    assert_eq!(members(&campaigns), [["a", "b"]]);
    assert!(
        campaigns[0]
            .shared
            .iter()
            .any(|s| s.kind == KeyKind::From && s.strong)
    );
    // Empty attachments and RFC 2606 placeholders are nobody's.
    let analysis = json!({"indicators": {
        "attachment_sha256": [EMPTY_SHA256], "sender_domains": ["example.com"]}});
    assert!(keys(&analysis, &[]).is_empty());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    /// Whatever an analysis holds (it comes from attacker-written mail), keys are bounded
    /// and grouping never panics.
    #[test]
    fn arbitrary_values_never_panic(
        values in proptest::collection::vec("[a-zA-Z0-9@:/.<>\"%\\-_ \u{0430}\u{00e9}]{0,40}", 0..12),
        ip in "[0-9a-f:.]{0,20}",
    ) {
        let analysis = json!({
            "indicators": {
                "from_address": values.first(), "sender_domains": &values, "urls": &values,
                "domains": &values, "attachment_sha256": &values, "origin_ip": ip,
            },
            "auth": {"dkim": values.iter().map(|v| json!([v, "pass"])).collect::<Vec<_>>(),
                "spf_identity": [ip, values.last()]},
            "attachments": values.iter().map(|v| json!({"sha256": v})).collect::<Vec<_>>(),
        });
        let found = keys(&analysis, &[]);
        proptest::prop_assert!(found.len() <= MAX_KEYS_PER_REPORT);
        let reports: Vec<StoredReport> = (0..3)
            .map(|i| report(&format!("{i}"), i, "r", analysis.clone()))
            .collect();
        let campaigns = group(&reports, &[]);
        proptest::prop_assert!(campaigns.iter().all(|c| c.reports.len() >= 2 && c.reports.len() <= 3));
    }
}
