//! Threat intelligence at analysis time: values of the message the indicator set lists as
//! malicious decide the verdict, with a reason that names only what is in the message.

use std::collections::HashMap;
use std::sync::Arc;

use phish::{
    Analyzer, AnalyzerConfig, KnownIndicator, KnownIndicators, Observable, OfflineDns, Report,
    Verdict, Warninglisted,
};

/// Indicators keyed by `kind:value`, as a test double of the live matcher, and
/// warninglist entries (list name, domain).
#[derive(Debug, Default)]
struct Listed(
    HashMap<String, KnownIndicator>,
    Vec<(&'static str, &'static str)>,
);

impl Listed {
    fn with(mut self, kind: &str, value: &str) -> Self {
        self.0.insert(
            format!("{kind}:{value}"),
            KnownIndicator {
                id: format!("indicator--{kind}-{value}"),
                kind: kind.into(),
                value: value.into(),
                source: "feed:test".into(),
                confidence: 80,
                tlp: "amber".into(),
            },
        );
        self
    }
}

impl Listed {
    fn warn(mut self, list: &'static str, entry: &'static str) -> Self {
        self.1.push((list, entry));
        self
    }
}

impl KnownIndicators for Listed {
    fn warninglist(&self, observable: Observable<'_>) -> Option<Warninglisted> {
        let Observable::Domain(host) = observable else {
            return None;
        };
        self.1
            .iter()
            .find(|(_, entry)| host == *entry || host.ends_with(&format!(".{entry}")))
            .map(|(list, entry)| Warninglisted {
                list: (*list).into(),
                entry: (*entry).into(),
            })
    }

    fn lookup(&self, observable: Observable<'_>) -> Option<KnownIndicator> {
        let key = match observable {
            Observable::Url(v) => format!("url:{v}"),
            // Parents as the live matcher does for domains that include subdomains.
            Observable::Domain(v) => {
                let mut name = v;
                loop {
                    if let Some(found) = self.0.get(&format!("domain:{name}")) {
                        return Some(found.clone());
                    }
                    name = name.split_once('.')?.1;
                }
            }
            Observable::Ip(ip) => format!("ip:{ip}"),
            Observable::Email(v) => format!("email:{v}"),
            Observable::Md5(v) => format!("md5:{v}"),
            Observable::Sha1(v) => format!("sha1:{v}"),
            Observable::Sha256(v) => format!("sha256:{v}"),
        };
        self.0.get(&key).cloned()
    }
}

fn analyze(raw: &str, listed: Option<Listed>) -> Report {
    let mut analyzer = Analyzer::new(AnalyzerConfig::default());
    if let Some(listed) = listed {
        analyzer = analyzer.with_known_indicators(Arc::new(listed));
    }
    analyzer.analyze(raw.replace('\n', "\r\n").as_bytes(), &OfflineDns)
}

/// A message with nothing suspicious in it but a link, an attachment and a sending IP.
const QUIET: &str = "Received: from mx.partner.example.org (mx.partner.example.org [198.51.100.23])
 by mx.comune.example.it; Mon, 2 Nov 2026 10:00:01 +0100
From: Anna Rossi <anna.rossi@partner.example.org>
To: mario@comune.example.it
Subject: Verbale riunione
Message-ID: <1@partner.example.org>
Date: Mon, 2 Nov 2026 10:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"XX\"

--XX
Content-Type: text/plain

Ciao Mario, il verbale e' su https://docs.files-share.example.net/verbale/42 come d'accordo.
Anna
--XX
Content-Type: text/plain; name=\"verbale.txt\"
Content-Disposition: attachment; filename=\"verbale.txt\"

verbale della riunione
--XX--
";

fn codes(report: &Report) -> Vec<&'static str> {
    report.findings.iter().map(|f| f.code).collect()
}

#[test]
fn without_intelligence_the_message_is_quiet() {
    let report = analyze(QUIET, None);
    assert_eq!(report.verdict, Verdict::LikelySafe, "{:?}", report.findings);
    assert!(report.intel.is_empty());
    // Nothing listed: the same answer with intelligence attached.
    let report = analyze(QUIET, Some(Listed::default()));
    assert_eq!(report.verdict, Verdict::LikelySafe);
    assert!(report.intel.is_empty());
}

#[test]
fn a_listed_link_domain_makes_it_malicious_and_names_only_the_message_value() {
    // The indicator covers the parent domain; the link is on a subdomain.
    let report = analyze(
        QUIET,
        Some(Listed::default().with("domain", "files-share.example.net")),
    );
    assert_eq!(report.verdict, Verdict::Malicious, "{:?}", report.findings);
    assert!(codes(&report).contains(&"intel.known_link"));
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == "intel.known_link")
        .unwrap();
    assert!(
        finding.en.contains("docs.files-share.example.net"),
        "{}",
        finding.en
    );
    // The reason a reporter reads says nothing of the source or the marking.
    for text in [&finding.en, &finding.it] {
        assert!(!text.contains("feed:test") && !text.to_lowercase().contains("amber"));
    }
    // Analysts get the indicator behind it.
    let hit = &report.intel[0];
    assert_eq!(hit.place, "link_domain");
    assert_eq!(hit.indicator.source, "feed:test");
    assert_eq!(hit.indicator.value, "files-share.example.net");
}

#[test]
fn a_listed_url_sender_ip_and_attachment_each_count() {
    let url = "https://docs.files-share.example.net/verbale/42";
    let report = analyze(QUIET, Some(Listed::default().with("url", url)));
    assert!(codes(&report).contains(&"intel.known_link"));
    assert_eq!(report.intel[0].place, "link");

    let report = analyze(
        QUIET,
        Some(Listed::default().with("email", "anna.rossi@partner.example.org")),
    );
    assert!(codes(&report).contains(&"intel.known_sender"));
    assert_eq!(report.verdict, Verdict::Malicious);

    // A listed sender domain (every mailbox of it, a compromised partner's too) and a
    // listed sending address are strong, not decisive alone.
    let report = analyze(
        QUIET,
        Some(Listed::default().with("domain", "partner.example.org")),
    );
    assert!(
        codes(&report).contains(&"intel.known_sender_domain"),
        "{:?}",
        report.findings
    );
    assert!(!codes(&report).contains(&"intel.known_sender"));

    let report = analyze(QUIET, Some(Listed::default().with("ip", "198.51.100.23")));
    assert!(
        codes(&report).contains(&"intel.known_origin"),
        "{:?}",
        report.findings
    );
    assert_eq!(report.verdict, Verdict::Suspicious);

    let plain = analyze(QUIET, None);
    let sha256 = plain.attachments[0].sha256.clone();
    let md5 = plain.attachments[0].md5.clone();
    for (kind, hash) in [("sha256", sha256), ("md5", md5)] {
        let report = analyze(QUIET, Some(Listed::default().with(kind, &hash)));
        assert!(codes(&report).contains(&"intel.known_attachment"), "{kind}");
        assert_eq!(report.verdict, Verdict::Malicious);
        // One hit per attachment, whichever hash found it.
        assert_eq!(report.intel.len(), 1);
        assert_eq!(report.intel[0].observed, "verbale.txt");
    }
}

#[test]
fn many_listed_links_keep_the_answer_bounded() {
    let mut body = String::new();
    let mut listed = Listed::default();
    for i in 0..150 {
        body.push_str(&format!("https://host{i}.bad.example.com/p\n"));
        listed = listed.with("domain", &format!("host{i}.bad.example.com"));
    }
    let raw = QUIET.replace(
        "Ciao Mario, il verbale e' su https://docs.files-share.example.net/verbale/42 come d'accordo.",
        &body,
    );
    let report = analyze(&raw, Some(listed));
    assert!(report.intel.len() <= 20);
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == "intel.known_link")
        .unwrap();
    assert!(finding.en.len() < 400, "{}", finding.en);
}

#[test]
fn warninglists_of_senders_and_hosting() {
    let dynamic = QUIET.replace(
        "https://docs.files-share.example.net/verbale/42",
        "https://verbale.duckdns.org/42",
    );
    let lists = || {
        Listed::default()
            .warn("List of known dynamic DNS domains", "duckdns.org")
            .warn("List of disposable email domains", "partner.example.org")
    };
    let report = analyze(&dynamic, Some(lists()));
    let found = codes(&report);
    assert!(found.contains(&"link.dynamic_dns"), "{found:?}");
    assert!(found.contains(&"header.disposable_sender"), "{found:?}");
    // Neither decides alone: 2 + 2 is suspicious, not malicious.
    assert_eq!(report.verdict, Verdict::Suspicious);
    // The provider's own site is not a dynamic name; unrelated lists say nothing.
    let provider = QUIET.replace(
        "https://docs.files-share.example.net/verbale/42",
        "https://www.duckdns.org/",
    );
    let report = analyze(&provider, Some(lists()));
    assert!(!codes(&report).contains(&"link.dynamic_dns"));
    let report = analyze(
        &dynamic,
        Some(Listed::default().warn("Top 10K websites from Majestic Million", "duckdns.org")),
    );
    assert!(!codes(&report).contains(&"link.dynamic_dns"));
}

/// Every value answers "listed": the worst case for the lookups' bounds.
#[derive(Debug)]
struct ListsEverything;

impl KnownIndicators for ListsEverything {
    fn lookup(&self, observable: Observable<'_>) -> Option<KnownIndicator> {
        Some(KnownIndicator {
            id: "indicator--all".into(),
            kind: "domain".into(),
            value: format!("{observable:?}").chars().take(64).collect(),
            source: "everything".into(),
            confidence: 50,
            tlp: "green".into(),
        })
    }

    fn warninglist(&self, observable: Observable<'_>) -> Option<Warninglisted> {
        let Observable::Domain(host) = observable else {
            return None;
        };
        let entry = host.split_once('.').map_or(host, |(_, parent)| parent);
        Some(Warninglisted {
            list: "List of known dynamic DNS domains".into(),
            entry: entry.into(),
        })
    }
}

#[test]
fn hostile_messages_with_intelligence_stay_bounded() {
    let long_host = format!("{}example.org", "a.".repeat(3_000));
    // The text is scanned on its first 256 KiB: the lures come first.
    let mut body = format!("Username: www.{}\n", "x".repeat(200_000));
    for i in 0..5_000 {
        body.push_str(&format!("https://h{i}.{long_host}/p?x={i}\n"));
    }
    body.push_str(&format!("Hi {},\n", "$1 ".repeat(50_000)));
    // 70 KB: with the subject first, the lures below still fall in the scanned part.
    let subject = format!("Now.{}", "get.up.".repeat(10_000));
    let raw = QUIET
        .replace("Subject: Verbale riunione", &format!("Subject: {subject}"))
        .replace(
            "Ciao Mario, il verbale e' su https://docs.files-share.example.net/verbale/42 come d'accordo.",
            &body,
        );
    let analyzer =
        Analyzer::new(AnalyzerConfig::default()).with_known_indicators(Arc::new(ListsEverything));
    let report = analyzer.analyze(raw.replace('\n', "\r\n").as_bytes(), &OfflineDns);
    assert!(report.intel.len() <= 20, "{}", report.intel.len());
    assert_eq!(report.verdict, Verdict::Malicious);
    // Reasons stay short enough to mail back, whatever they quote.
    let found = codes(&report);
    assert!(found.contains(&"header.subject_joined_words"), "{found:?}");
    assert!(found.contains(&"text.account_name_abuse"), "{found:?}");
    for finding in &report.findings {
        assert!(
            finding.en.chars().count() <= 601,
            "{}: {}",
            finding.code,
            finding.en.len()
        );
        assert!(
            finding.it.chars().count() <= 601,
            "{}: {}",
            finding.code,
            finding.it.len()
        );
    }
}
