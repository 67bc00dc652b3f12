//! Hostile input: the analysis always returns a report, with bounded time and memory.

use std::io::Write as _;

use phish::{Analyzer, AnalyzerConfig, OfflineDns, Report};
use proptest::prelude::*;

fn analyze(raw: &[u8]) -> Report {
    Analyzer::new(AnalyzerConfig::default()).analyze(raw, &OfflineDns)
}

fn codes(report: &Report) -> Vec<&'static str> {
    report.findings.iter().map(|f| f.code).collect()
}

#[test]
fn empty_and_garbage_input() {
    analyze(b"");
    analyze(b"\r\n\r\n");
    let report = analyze(&[0xff; 1000]);
    assert!(
        report.findings.iter().any(|f| f.code == "header.no_from"),
        "{:?}",
        codes(&report)
    );
    analyze(b"From: \xff\xfe@\x00\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n");
}

#[test]
fn unknown_and_wrong_charsets() {
    analyze(b"From: a@b.example\r\nSubject: =?x-unknown?B?////?=\r\nContent-Type: text/plain; charset=klingon\r\n\r\n\xc3\x28 \xa0\xa1 caf\xe9\r\n");
    analyze(b"From: a@b.example\r\nContent-Type: text/html; charset=utf-16\r\n\r\n<\x00a\x00>\x00");
}

#[test]
fn broken_base64_is_reported_not_fatal() {
    let raw = b"From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDB!!!!****\x01\x02====AAAA\r\n--B--\r\n";
    let report = analyze(raw);
    assert!(!report.attachments.is_empty());
}

#[test]
fn deep_nesting_of_messages_and_multiparts() {
    let mut message =
        String::from("From: x@y.example\r\nSubject: core\r\n\r\nhttp://192.0.2.1/\r\n");
    for depth in 0..200 {
        message = format!(
            "From: x@y.example\r\nSubject: {depth}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{depth}\"\r\n\r\n--b{depth}\r\nContent-Type: message/rfc822\r\n\r\n{message}\r\n--b{depth}--\r\n"
        );
    }
    analyze(message.as_bytes());
    let mut multipart = String::from("core");
    for depth in 0..5000 {
        multipart = format!(
            "Content-Type: multipart/mixed; boundary=\"m{depth}\"\r\n\r\n--m{depth}\r\n{multipart}\r\n--m{depth}--\r\n"
        );
    }
    analyze(format!("From: x@y.example\r\n{multipart}").as_bytes());
}

#[test]
fn fifty_megabyte_attachment_is_hashed_not_inspected() {
    use base64::Engine as _;
    let data = vec![b'A'; 50 << 20];
    let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
    drop(data);
    let raw = format!(
        "From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--B--\r\n"
    );
    drop(encoded);
    let report = Analyzer::new(AnalyzerConfig {
        max_message_bytes: 100 << 20,
        ..AnalyzerConfig::default()
    })
    .analyze(raw.as_bytes(), &OfflineDns);
    assert_eq!(report.attachments.len(), 1);
    assert_eq!(report.attachments[0].size, 50 << 20);
    assert!(
        codes(&report).contains(&"analysis.attachment_too_large"),
        "{:?}",
        codes(&report)
    );
}

fn bomb() -> Vec<u8> {
    // 200 MB of zeros compress to ~200 KB: the archive must be judged from its directory.
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut out);
    writer
        .start_file(
            "payload.bin",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(true),
        )
        .unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..200 {
        writer.write_all(&chunk).unwrap();
    }
    writer.finish().unwrap();
    out.into_inner()
}

#[test]
fn zip_bomb_is_detected_not_expanded() {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bomb());
    let raw = format!(
        "From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--B--\r\n"
    );
    let report = analyze(raw.as_bytes());
    assert!(
        codes(&report).contains(&"attachment.zip_bomb"),
        "{:?}",
        codes(&report)
    );
}

#[test]
fn nested_archives_stop_at_the_depth_limit() {
    let mut data = b"MZ payload".to_vec();
    let mut name = "a.exe".to_owned();
    for depth in 0..30 {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        writer
            .start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&data).unwrap();
        writer.finish().unwrap();
        data = out.into_inner();
        name = format!("level{depth}.zip");
    }
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
    let raw = format!(
        "From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: application/zip; name=\"n.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--B--\r\n"
    );
    let report = analyze(raw.as_bytes());
    assert!(report.attachments.len() <= 10);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..4096)) {
        analyze(&raw);
    }

    #[test]
    fn never_panics_on_mangled_messages(cut in 0usize..2000, flip in 0usize..2000, byte in any::<u8>()) {
        let base = b"From: \"PayPal\" <a@paypa1.com>\r\nReply-To: x@gmail.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"http://192.0.2.1/\">www.paypal.com</a><form action=\"http://x.top\"><input type=password></form>\r\n--B\r\nContent-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBBQAAAAIAAAAIQAAAAAAAAAAAAAAAAAFAAAAYS5leGUDAA==\r\n--B--\r\n";
        let mut raw = base.to_vec();
        raw.truncate(cut.min(raw.len()));
        if !raw.is_empty() {
            let index = flip % raw.len();
            raw[index] = byte;
        }
        analyze(&raw);
    }
}
