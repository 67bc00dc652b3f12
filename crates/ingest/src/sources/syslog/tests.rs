use bytes::BytesMut;

use super::{
    SyslogConfig,
    framing::{Decoded, FrameDecoder},
    source::trim_datagram,
};
use crate::{BuildError, metrics::DropReason};

/// What a decoder produced, in order, as readable strings: frames verbatim (lossy UTF-8),
/// drops as `!oversized` / `!truncated`.
fn run(max_frame_bytes: usize, chunks: &[&[u8]]) -> Vec<String> {
    let mut decoder = FrameDecoder::new(max_frame_bytes);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(decoded) = decoder.decode(&mut buf) {
            out.push(show(decoded));
        }
    }
    while let Some(decoded) = decoder.decode_eof(&mut buf) {
        out.push(show(decoded));
    }
    out
}

fn show(decoded: Decoded) -> String {
    match decoded {
        Decoded::Frame(frame) => String::from_utf8_lossy(&frame).into_owned(),
        Decoded::Dropped(reason) => format!("!{}", reason.as_str()),
    }
}

/// Feeds `input` one byte at a time and all at once; both must give `expect`.
fn check(max_frame_bytes: usize, input: &[u8], expect: &[&str]) {
    assert_eq!(run(max_frame_bytes, &[input]), expect, "whole input");
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(max_frame_bytes, &bytes), expect, "byte by byte");
}

#[test]
fn newline_framing_with_lf_crlf_and_nul() {
    check(
        1024,
        b"<13>one\n<13>two\r\n<13>three\0<13>four\n",
        &["<13>one", "<13>two", "<13>three", "<13>four"],
    );
}

#[test]
fn blank_lines_between_frames_are_skipped() {
    check(1024, b"\n\r\n<13>a\n\n\n<13>b\n", &["<13>a", "<13>b"]);
}

#[test]
fn octet_counting() {
    check(1024, b"7 <13>one9 <13>three", &["<13>one", "<13>three"]);
}

#[test]
fn octet_counted_frame_keeps_embedded_newlines() {
    check(1024, b"10 <13>a\nb\r\nc", &["<13>a\nb\r\nc"]);
}

#[test]
fn octet_counting_and_newline_framing_mixed() {
    check(
        1024,
        b"7 <13>one\n<13>two\n9 <13>three<13>four\n",
        &["<13>one", "<13>two", "<13>three", "<13>four"],
    );
}

#[test]
fn digits_without_space_are_a_newline_framed_message() {
    check(1024, b"12345abc\n", &["12345abc"]);
    check(1024, b"123456789012345 x\n", &["123456789012345 x"]);
}

#[test]
fn invalid_utf8_is_kept_as_bytes() {
    let mut decoder = FrameDecoder::new(1024);
    let mut buf = BytesMut::from(&b"<13>\xff\xfe bad\n5 \xc3\x28\x00\x01\x02"[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Some(Decoded::Frame(b"<13>\xff\xfe bad".to_vec()))
    );
    assert_eq!(
        decoder.decode(&mut buf),
        Some(Decoded::Frame(b"\xc3\x28\x00\x01\x02".to_vec()))
    );
    assert_eq!(decoder.decode(&mut buf), None);
}

#[test]
fn oversized_line_is_dropped_and_stream_resynchronises() {
    let long = "x".repeat(20);
    let input = format!("<13>ok\n{long}\n<13>after\n");
    check(10, input.as_bytes(), &["<13>ok", "!oversized", "<13>after"]);
}

#[test]
fn oversized_octet_counted_frame_is_skipped_by_its_length() {
    // The skipped frame contains a newline: octet counting must not resync on it.
    let input = b"20 xxxxxxxxx\nxxxxxxxxxx8 <13>next";
    check(10, input, &["!oversized", "<13>next"]);
}

#[test]
fn frame_of_exactly_max_bytes_passes() {
    check(5, b"abcde\r\n5 fghij", &["abcde", "fghij"]);
}

#[test]
fn trailing_line_without_newline_is_delivered_at_eof() {
    check(1024, b"<13>one\n<13>last", &["<13>one", "<13>last"]);
    check(1024, b"<13>last\r", &["<13>last"]);
    check(1024, b"42", &["42"]);
}

#[test]
fn truncated_octet_counted_frame_is_dropped_at_eof() {
    check(1024, b"7 <13>one20 <13>cut", &["<13>one", "!truncated"]);
    check(1024, b"20 ", &["!truncated"]);
}

#[test]
fn abandon_reports_partial_frames() {
    let mut decoder = FrameDecoder::new(1024);
    let mut buf = BytesMut::from(&b"<13>partial"[..]);
    assert_eq!(decoder.decode(&mut buf), None);
    assert!(decoder.abandon(&mut buf));
    assert!(buf.is_empty());
    let mut buf = BytesMut::from(&b"\n\r\n"[..]);
    assert!(!decoder.abandon(&mut buf));
}

#[test]
fn ten_megabyte_line_without_newline_stays_bounded() {
    let max_frame_bytes = 64 * 1024;
    let chunk = vec![b'a'; 64 * 1024];
    let mut decoder = FrameDecoder::new(max_frame_bytes);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for _ in 0..160 {
        buf.extend_from_slice(&chunk);
        while let Some(decoded) = decoder.decode(&mut buf) {
            out.push(decoded);
        }
        assert!(
            buf.len() <= max_frame_bytes + chunk.len(),
            "buffer grew to {}",
            buf.len()
        );
    }
    buf.extend_from_slice(b"\n<13>next\n");
    while let Some(decoded) = decoder.decode(&mut buf) {
        out.push(decoded);
    }
    assert_eq!(
        out,
        vec![
            Decoded::Dropped(DropReason::Oversized),
            Decoded::Frame(b"<13>next".to_vec())
        ]
    );
}

#[test]
fn huge_announced_length_is_skipped_without_buffering() {
    let mut decoder = FrameDecoder::new(1024);
    let mut buf = BytesMut::from(&b"9999999999 "[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Some(Decoded::Dropped(DropReason::Oversized))
    );
    for _ in 0..100 {
        buf.extend_from_slice(&[b'z'; 4096]);
        assert_eq!(decoder.decode(&mut buf), None);
        assert!(buf.is_empty());
    }
}

#[test]
fn datagram_trailing_newlines_are_trimmed() {
    assert_eq!(trim_datagram(b"<13>msg\n"), b"<13>msg");
    assert_eq!(trim_datagram(b"<13>msg\r\n\0"), b"<13>msg");
    assert_eq!(trim_datagram(b"<13>a\nb"), b"<13>a\nb");
    assert_eq!(trim_datagram(b"\n"), b"");
}

#[test]
fn config_defaults_and_unknown_fields() {
    let config: SyslogConfig = serde_json::from_str(r#"{"listen": "127.0.0.1:5514"}"#).unwrap();
    assert_eq!(config.max_frame_bytes, 64 * 1024);
    assert_eq!(config.max_connections, 1024);
    assert_eq!(config.idle_timeout_secs, 600);
    assert!(config.tls.is_none());

    let error = serde_json::from_str::<SyslogConfig>(r#"{"listen": "127.0.0.1:5514", "port": 1}"#)
        .unwrap_err();
    assert!(
        error.to_string().contains("unknown field `port`"),
        "{error}"
    );
}

#[test]
fn config_rejects_out_of_range_values() {
    let mut config = SyslogConfig::new("127.0.0.1:0".parse().unwrap());
    config.max_frame_bytes = 0;
    assert!(matches!(
        config.validate(),
        Err(BuildError::InvalidConfig {
            field: "max_frame_bytes",
            ..
        })
    ));
    let mut config = SyslogConfig::new("127.0.0.1:0".parse().unwrap());
    config.max_connections = 0;
    assert!(matches!(
        config.validate(),
        Err(BuildError::InvalidConfig {
            field: "max_connections",
            ..
        })
    ));
}
