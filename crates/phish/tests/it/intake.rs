//! Reports as employees send them, the answer to them, and the desk that keeps them.

use std::sync::Arc;

use phish::reply::{ReplyInput, compose_reply_with_reasons};
use phish::{
    Analyzer, AnalyzerConfig, Desk, Forwarding, Language, OfflineDns, Submission, Verdict,
    extract_reported,
};
use proptest::prelude::*;

const LURE: &str = "From: PayPal <service@paypa1.com>\r\nSubject: Account suspended\r\nMessage-ID: <1@x>\r\n\r\nVerify your account: http://192.0.2.9/login\r\n";

#[test]
fn forward_as_attachment() {
    let report = format!(
        "From: Mario <mario@comune.example>\r\nSubject: segnalazione\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCiao, questo messaggio mi sembra sospetto\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n{LURE}\r\n--B--\r\n"
    );
    let reported = extract_reported(report.as_bytes());
    assert_eq!(reported.forwarding, Forwarding::Attached);
    assert_eq!(reported.reporter.as_deref(), Some("mario@comune.example"));
    assert_eq!(reported.language, Language::It);
    assert!(String::from_utf8_lossy(&reported.message).starts_with("From: PayPal"));
}

#[test]
fn inline_forward_in_english() {
    let report = "From: anna@comune.example\r\nSubject: Fwd: suspended\r\n\r\nHello, is this real? Thanks\r\n\r\n---------- Forwarded message ---------\r\nFrom: PayPal <service@paypa1.com>\r\nDate: Mon, 2 Nov 2026 09:00:00 +0000\r\nSubject: Account suspended\r\nTo: <anna@comune.example>\r\n\r\nVerify your account: http://192.0.2.9/login\r\n";
    let reported = extract_reported(report.as_bytes());
    assert_eq!(reported.forwarding, Forwarding::Inline);
    assert_eq!(reported.language, Language::En);
    let report = Analyzer::new(AnalyzerConfig::default()).analyze(&reported.message, &OfflineDns);
    assert_eq!(report.subject.as_deref(), Some("Account suspended"));
    assert!(report.findings.iter().any(|f| f.code == "link.ip_host"));
}

#[test]
fn content_language_decides() {
    let report =
        "From: a@b.example\r\nContent-Language: it-IT\r\nSubject: x\r\n\r\nthe message\r\n";
    assert_eq!(extract_reported(report.as_bytes()).language, Language::It);
}

#[test]
fn reply_cannot_be_used_to_inject_headers() {
    let input = ReplyInput {
        from: "desk@comune.example",
        to: "mario@comune.example",
        language: Language::En,
        report_id: "1-1",
        reported_subject: Some("hi\r\nBcc: victim@example.com"),
        date: "Mon, 2 Nov 2026 09:00:00 +0000",
        message_id: "1@x",
    };
    let reply = String::from_utf8(compose_reply_with_reasons(
        &input,
        Verdict::Malicious,
        &["a\r\nb".to_owned()],
    ))
    .unwrap();
    let headers = reply.split("\r\n\r\n").next().unwrap();
    assert!(!headers.lines().any(|l| l.starts_with("Bcc:")), "{headers}");
    assert!(reply.contains("MALICIOUS"));
}

#[test]
fn review_notice_says_the_new_verdict_in_the_reporters_language() {
    let input = ReplyInput {
        from: "desk@comune.example",
        to: "mario@comune.example",
        language: Language::It,
        report_id: "1-1",
        reported_subject: Some("Fattura"),
        date: "Mon, 2 Nov 2026 09:00:00 +0000",
        message_id: "1.review@x",
    };
    let notice = String::from_utf8(phish::reply::compose_review_notice(
        &input,
        Verdict::LikelySafe,
    ))
    .unwrap();
    let (headers, body) = notice.split_once("\r\n\r\n").unwrap();
    assert!(headers.contains("Subject: Segnalazione riesaminata: PROBABILMENTE SICURO - Fattura"));
    assert!(headers.contains("Auto-Submitted: auto-generated"));
    assert!(headers.contains("X-Sentinella-Verdict: likely_safe"));
    assert!(
        body.contains("ha riesaminato") && body.contains("1-1"),
        "{body}"
    );
    assert!(!body.contains("Motivi:"), "{body}");
}

#[test]
fn desk_keeps_reports_overrides_and_campaigns() {
    let dir = std::env::temp_dir().join(format!("phish-desk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let desk = Desk::open(
        &dir,
        Analyzer::new(AnalyzerConfig::default()),
        Arc::new(OfflineDns),
    )
    .unwrap();
    let submission = |now| Submission {
        source: "api".into(),
        reporter: Some("x@y".into()),
        language: Language::En,
        forwarding: Forwarding::Direct,
        now,
    };
    let first = desk.submit(LURE.as_bytes(), submission(100)).unwrap();
    let second = desk
        .submit(
            LURE.replace("Message-ID: <1@x>", "Message-ID: <2@x>")
                .as_bytes(),
            submission(101),
        )
        .unwrap();
    desk.submit(
        b"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n",
        submission(102),
    )
    .unwrap();
    assert_eq!(first.verdict, Verdict::Malicious);
    let listed = desk.list(10).unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].received_at, 102);
    let changed = desk
        .override_verdict(&first.id, "analyst1", Verdict::LikelySafe, "test", 200)
        .unwrap();
    assert_eq!(changed.verdict, Verdict::LikelySafe);
    assert_eq!(changed.automatic_verdict, Verdict::Malicious);
    assert_eq!(desk.get(&first.id).unwrap().overrides.len(), 1);
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    assert!(audit.contains("analyst1") && audit.contains(&first.id));
    assert!(desk.get("../../etc/passwd").is_err());
    let campaigns = desk.campaigns(100).unwrap();
    assert_eq!(campaigns.len(), 1, "{campaigns:?}");
    let mut ids = campaigns[0].reports.clone();
    ids.sort();
    assert_eq!(ids, vec![first.id.clone(), second.id.clone()]);
    assert!(
        campaigns[0]
            .shared
            .iter()
            .any(|k| k.value == "http://192.0.2.9/login" && k.strong),
        "{:?}",
        campaigns[0].shared
    );
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn extract_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..3000)) {
        extract_reported(&raw);
    }

    #[test]
    fn extract_never_panics_on_forward_like_text(body in "[a-zA-Z:\\-<>@. \r\n]{0,500}") {
        let report = format!("From: a@b.example\r\nSubject: x\r\n\r\n---------- Forwarded message ---------\r\n{body}");
        extract_reported(report.as_bytes());
    }
}
