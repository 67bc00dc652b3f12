//! One crafted message per kind of finding: the finding is reported, and a plain message
//! from the same sender is not.

use std::io::Write as _;

use phish::{Analyzer, AnalyzerConfig, Language, OfflineDns, Report, Verdict};

fn analyze(raw: &str) -> Report {
    let config = AnalyzerConfig {
        own_domains: vec!["comune.sentinella.it".into()],
        ..AnalyzerConfig::default()
    };
    Analyzer::new(config).analyze(raw.replace('\n', "\r\n").as_bytes(), &OfflineDns)
}

fn codes(report: &Report) -> Vec<&'static str> {
    report.findings.iter().map(|f| f.code).collect()
}

#[track_caller]
fn check(raw: &str, expect: &[&str]) -> Report {
    let report = analyze(raw);
    let codes = codes(&report);
    for code in expect {
        assert!(codes.contains(code), "expected {code} in {codes:?}");
    }
    report
}

const PLAIN: &str = "From: Anna Rossi <anna@partner.example.org>
To: mario@comune.sentinella.it
Subject: Verbale riunione
Message-ID: <1@partner.example.org>
Date: Mon, 2 Nov 2026 10:00:00 +0100

Ciao Mario, ti mando il verbale della riunione di ieri.
Trovi la documentazione su https://www.partner.example.org/verbali
Anna
";

#[test]
fn a_plain_message_is_likely_safe() {
    let report = analyze(PLAIN);
    assert_eq!(report.verdict, Verdict::LikelySafe, "{:?}", report.findings);
    assert_eq!(report.score, 0, "{:?}", report.findings);
}

#[test]
fn header_mismatches_and_impersonation() {
    check(
        "From: \"Comune Sentinella - Ufficio Tributi\" <tributi@comune-sentinella.top>
Reply-To: pagamenti@gmail.com
Return-Path: <bounce@mailer.example.net>
Subject: avviso
Message-ID: <2@x>

testo
",
        &[
            "header.reply_to_mismatch",
            "header.return_path_mismatch",
            "header.own_display_name",
            "header.lookalike_domain",
        ],
    );
    check(
        "From: \"service@paypal.com\" <noreply@secure-mail.example.net>\nSubject: x\nMessage-ID: <3@x>\n\nhi\n",
        &["header.display_name_address", "header.brand_display_name"],
    );
    let report = check(
        "From: PayPal <service@xn--pypal-4ve.com>\nSubject: x\nMessage-ID: <4@x>\n\nhi\n",
        &["header.lookalike_domain"],
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.en.contains("look-alike characters")),
        "{:?}",
        report.findings
    );
}

#[test]
fn links() {
    let report = check(
        r#"From: Banca <info@banca.example>
Subject: Avviso
Message-ID: <5@x>
Content-Type: text/html; charset=utf-8

<html><body>
<a href="http://198.51.100.23/login.php">Accedi</a>
<a href="https://evil.example.top/x">https://www.intesasanpaolo.com</a>
<a href="https://bit.ly/3xyz">clicca</a>
<a href="javascript:alert(1)">x</a>
<a href="https://www.google.com/url?q=https://paypa1.com/verify">verify</a>
<a href="https://secure.paypal.com.account-check.example.net/">login</a>
<a href="https://user@login-microsoft.example.com/">x</a>
<form action="https://collect.example.top/p"><input type="password" name="p"></form>
</body></html>
"#,
        &[
            "link.ip_host",
            "link.text_mismatch",
            "link.shortener",
            "link.javascript",
            "link.lookalike",
            "link.suspicious_tld",
            "link.userinfo",
            "link.password_form",
        ],
    );
    assert!(
        report
            .indicators
            .urls
            .iter()
            .any(|u| u.starts_with("https://paypa1.com/")),
        "redirect unwrapped: {:?}",
        report.indicators.urls
    );
    assert_eq!(report.verdict, Verdict::Malicious);
}

#[test]
fn text_cues_in_italian_and_english() {
    check(
        "From: a@b.example\nSubject: Urgente\nMessage-ID: <6@x>\n\nIl tuo account è stato sospeso. Verifica il tuo account entro 24 ore inserendo le credenziali.\n",
        &["text.credential_phrase", "text.pressure"],
    );
    check(
        "From: a@b.example\nSubject: Urgent\nMessage-ID: <7@x>\n\nYour account has been suspended. Verify your account immediately with your password.\n",
        &["text.credential_phrase", "text.pressure"],
    );
}

fn with_attachment(name: &str, content_type: &str, data: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut wrapped = String::new();
    for chunk in encoded.as_bytes().chunks(76) {
        wrapped.push_str(std::str::from_utf8(chunk).unwrap());
        wrapped.push('\n');
    }
    format!(
        "From: a@b.example\nSubject: documento\nMessage-ID: <8@x>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XX\"\n\n--XX\nContent-Type: text/plain\n\nin allegato\n--XX\nContent-Type: {content_type}; name=\"{name}\"\nContent-Disposition: attachment; filename=\"{name}\"\nContent-Transfer-Encoding: base64\n\n{wrapped}--XX--\n"
    )
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut out);
    for (name, data) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap();
    out.into_inner()
}

#[test]
fn attachments() {
    let pe = b"MZ\x90\x00\x03\x00\x00\x00 this program cannot be run in DOS mode";
    let report = check(
        &with_attachment("fattura.pdf.exe", "application/octet-stream", pe),
        &["attachment.executable", "attachment.double_extension"],
    );
    assert_eq!(report.attachments[0].detected_type, "pe_executable");
    assert_eq!(report.attachments[0].sha256.len(), 64);
    check(
        &with_attachment("fattura.pdf", "application/pdf", pe),
        &["attachment.type_mismatch"],
    );
    check(
        &with_attachment(
            "doc.zip",
            "application/zip",
            &zip_of(&[("invoice.js", b"WScript.Shell")]),
        ),
        &["attachment.executable"],
    );
    check(
        &with_attachment(
            "report.docm",
            "application/octet-stream",
            &zip_of(&[
                ("[Content_Types].xml", b"<x/>"),
                ("word/vbaProject.bin", b"\xd0\xcf\x11\xe0"),
            ]),
        ),
        &["attachment.macro"],
    );
    check(
        &with_attachment("scan.pdf", "application/pdf", b"%PDF-1.7\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> /Launch >> endobj"),
        &["attachment.pdf_javascript", "attachment.pdf_launch"],
    );
    check(
        &with_attachment("voicemail.html", "text/html", b"<html><script>var b=new Blob([atob('TVqQ')]);navigator.msSaveOrOpenBlob(b,'a.exe')</script></html>"),
        &["attachment.html", "attachment.html_smuggling"],
    );
    check(
        &with_attachment(
            "Invoice.lnk",
            "application/octet-stream",
            &[0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0, 0, 0],
        ),
        &["attachment.executable"],
    );
}

#[test]
fn reasons_exist_in_both_languages() {
    let report = analyze(
        "From: PayPal <service@paypa1.com>\nSubject: x\nMessage-ID: <9@x>\n\nhttp://192.0.2.1/\n",
    );
    let en = report.reasons(Language::En);
    let it = report.reasons(Language::It);
    assert_eq!(en.len(), it.len());
    assert!(!en.is_empty());
    assert_ne!(en, it);
}

#[test]
fn forwarded_message_is_analysed_inside() {
    let inner = "From: PayPal <service@paypa1.com>\nSubject: suspended\nMessage-ID: <10@x>\n\nhttp://192.0.2.1/login\n";
    let outer = format!(
        "From: mario@comune.sentinella.it\nSubject: Fwd: suspended\nMessage-ID: <11@x>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nis this phishing?\n--B\nContent-Type: message/rfc822\n\n{inner}\n--B--\n"
    );
    check(&outer, &["link.ip_host"]);
}

#[test]
fn forged_sender_address() {
    for from in [
        "Correios <noreply@correios>",
        "<\"no-reply@brand.example\"@mailer.example.net>",
    ] {
        let raw = PLAIN.replace("Anna Rossi <anna@partner.example.org>", from);
        check(&raw, &["header.invalid_sender"]);
    }
    assert!(!codes(&analyze(PLAIN)).contains(&"header.invalid_sender"));
}

#[test]
fn page_on_cloud_storage_and_encoded_paths() {
    let raw = PLAIN.replace(
        "https://www.partner.example.org/verbali",
        "https://s3.us-east-2.amazonaws.com/bucket/vali.html#x \
         https://track.example.com/UmVPQWZ0YnE2OTgzd0YyVTV6RDBXRUdCRzVaOFRyRHNR \
         https://www.bing.com/ck/a?!&&p=3d2b&u=a1aHR0cHM",
    );
    check(
        &raw,
        &[
            "link.storage_page",
            "link.encoded_path",
            "link.borrowed_trust",
        ],
    );
    // The sender's own links with long ids, and storage without a web page, are fine.
    let own = PLAIN.replace(
        "https://www.partner.example.org/verbali",
        "https://www.partner.example.org/UmVPQWZ0YnE2OTgzd0YyVTV6RDBXRUdCRzVaOFRyRHNR \
         https://bucket.s3.amazonaws.com/report.pdf",
    );
    let codes = codes(&analyze(&own));
    assert!(!codes.contains(&"link.encoded_path"), "{codes:?}");
    assert!(!codes.contains(&"link.storage_page"), "{codes:?}");
}

#[test]
fn disguised_characters() {
    let raw = PLAIN.replace(
        "ti mando il verbale",
        "ver\u{200B}ifica l'acc\u{200B}ount e la pass\u{200B}word, \
         𝐏𝐚𝐲𝐏𝐚𝐥 Fa\u{0337}lha",
    );
    check(&raw, &["text.invisible_characters", "text.styled_letters"]);
    // Emoji sequences use the zero-width joiner: not a trick.
    let emoji = PLAIN.replace(
        "ti mando il verbale",
        "👩\u{200D}💻👩\u{200D}💻👩\u{200D}💻 ecco il verbale",
    );
    assert!(!codes(&analyze(&emoji)).contains(&"text.invisible_characters"));
}
