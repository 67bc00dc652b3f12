//! DKIM (RFC 6376 / RFC 8463 examples and real signed messages) and ARC test vectors from
//! mail-auth's test resources, with their DNS answers recorded in the same files.

use std::fs;
use std::path::Path;

use phish::auth::{self, Outcome};
use phish::{Analyzer, AnalyzerConfig, OfflineDns, RecordedDns};

/// Reads `NAME TXT` lines, a blank line, then the message (LF line ends → CRLF).
fn vector(path: &Path) -> (RecordedDns, Vec<u8>) {
    let text = fs::read_to_string(path).unwrap();
    let (records, message) = text.split_once("\n\n").unwrap();
    let dns = RecordedDns::from_txt_lines(records).complete();
    (dns, message.replace('\n', "\r\n").into_bytes())
}

fn testdata(kind: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(kind);
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn dkim_vectors_verify_with_recorded_dns() {
    let files = testdata("dkim");
    assert_eq!(files.len(), 6);
    for path in files {
        let (dns, message) = vector(&path);
        let check = auth::verify(&message, &dns, None);
        let last = check
            .dkim
            .last()
            .unwrap_or_else(|| panic!("{path:?}: no signature"));
        if fs::read_to_string(&path).unwrap().contains("x=1667930064") {
            // 005 carries an expiry (x=, November 2022) long past: a correct verifier rejects it today.
            assert_eq!(last.1, Outcome::Fail, "{path:?}");
        } else {
            assert_eq!(last.1, Outcome::Pass, "{path:?}: {check:?}");
        }
        assert!(
            check.dns_missing.is_empty(),
            "{path:?}: {:?}",
            check.dns_missing
        );
    }
}

#[test]
fn rfc8463_ed25519_and_rsa_signatures_both_pass() {
    let (dns, message) = vector(&testdata("dkim")[0]);
    let check = auth::verify(&message, &dns, None);
    assert_eq!(
        check.dkim,
        vec![
            ("football.example.com".to_owned(), Outcome::Pass),
            ("football.example.com".to_owned(), Outcome::Pass)
        ]
    );
}

#[test]
fn altered_body_fails_dkim() {
    let (dns, message) = vector(&testdata("dkim")[0]);
    let tampered = String::from_utf8(message)
        .unwrap()
        .replace("We lost the game", "We won the game");
    let check = auth::verify(tampered.as_bytes(), &dns, None);
    assert!(
        check.dkim.iter().all(|(_, o)| *o == Outcome::Fail),
        "{check:?}"
    );
    let report = Analyzer::new(AnalyzerConfig::default()).analyze(tampered.as_bytes(), &dns);
    assert!(
        report.findings.iter().any(|f| f.code == "auth.dkim_fail"),
        "{:?}",
        report.findings
    );
}

#[test]
fn wrong_key_fails_dkim() {
    let (_, message) = vector(&testdata("dkim")[2]);
    let other_key = fs::read_to_string(&testdata("dkim")[3]).unwrap();
    let key = other_key.lines().next().unwrap().split_once(' ').unwrap().1;
    let mut dns = RecordedDns::new().complete();
    dns.add_txt("ietf1._domainkey.ietf.org", key);
    let check = auth::verify(&message, &dns, None);
    assert_eq!(check.dkim.last().unwrap().1, Outcome::Fail, "{check:?}");
}

#[test]
fn arc_vectors_verify_with_recorded_dns() {
    for path in testdata("arc") {
        let (dns, message) = vector(&path);
        let check = auth::verify(&message, &dns, None);
        assert_eq!(check.arc, Outcome::Pass, "{path:?}: {check:?}");
    }
}

#[test]
fn offline_reports_not_verified_and_lists_the_names_needed() {
    let (_, message) = vector(&testdata("dkim")[0]);
    let check = auth::verify(&message, &OfflineDns, None);
    assert!(
        check.dkim.iter().all(|(_, o)| *o == Outcome::NotVerified),
        "{check:?}"
    );
    assert!(
        check
            .dns_missing
            .contains(&"TXT brisbane._domainkey.football.example.com".to_owned()),
        "{:?}",
        check.dns_missing
    );
}

#[test]
fn spf_is_evaluated_for_the_delivering_hop() {
    let (_, message) = vector(&testdata("dkim")[0]);
    let mut dns = RecordedDns::new().complete();
    dns.add_txt("football.example.com", "v=spf1 ip4:192.0.2.0/24 -all");
    let pass = auth::verify(
        &message,
        &dns,
        Some((
            "192.0.2.10".parse().unwrap(),
            "mail.football.example.com".into(),
            "joe@football.example.com".into(),
        )),
    );
    assert_eq!(pass.spf, Outcome::Pass);
    let fail = auth::verify(
        &message,
        &dns,
        Some((
            "198.51.100.7".parse().unwrap(),
            "evil.example".into(),
            "joe@football.example.com".into(),
        )),
    );
    assert_eq!(fail.spf, Outcome::Fail);
}

#[test]
fn dmarc_fails_when_nothing_aligns() {
    let message = b"From: ceo@bank.example\r\nTo: a@b.example\r\nSubject: hi\r\nMessage-ID: <1@x>\r\n\r\nhello\r\n";
    let mut dns = RecordedDns::new().complete();
    dns.add_txt("_dmarc.bank.example", "v=DMARC1; p=reject");
    dns.add_txt("bank.example", "v=spf1 ip4:192.0.2.0/24 -all");
    let check = auth::verify(
        message,
        &dns,
        Some((
            "198.51.100.7".parse().unwrap(),
            "evil.example".into(),
            "ceo@bank.example".into(),
        )),
    );
    assert_eq!(check.dmarc, Outcome::Fail, "{check:?}");
    assert_eq!(check.dmarc_policy.as_deref(), Some("reject"));
}
