//! Arbitrary input never panics a decoder, and structured-looking input round-trips.

use proptest::prelude::*;

use crate::{cef, decode_line, kv, leef, syslog};

fn received_at() -> event::Timestamp {
    event::Timestamp::UNIX_EPOCH
}

/// Text biased towards the characters the decoders split on.
fn syntax_heavy() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("<13>".to_owned()),
            Just("<165>1 ".to_owned()),
            Just("Jan  1 00:00:00 ".to_owned()),
            Just("2024-01-01T00:00:00Z ".to_owned()),
            Just("CEF:0|".to_owned()),
            Just("LEEF:2.0|".to_owned()),
            Just("sshd[1]: ".to_owned()),
            Just("Accepted password for ".to_owned()),
            Just(" from ".to_owned()),
            Just(" port ".to_owned()),
            Just("pam_unix(".to_owned()),
            Just(" : ".to_owned()),
            Just(" ; ".to_owned()),
            Just("[a b=\"c\"]".to_owned()),
            "[ =|\\\\\"\\[\\]^:\\-{}]{1,4}",
            "[a-z0-9.]{0,8}",
            any::<char>().prop_map(String::from),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn syslog_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let record = syslog::decode(&bytes, received_at());
        prop_assert!(!record.parser.is_empty());
    }

    #[test]
    fn decoders_never_panic_on_syntax(text in syntax_heavy()) {
        let record = syslog::decode(text.as_bytes(), received_at());
        prop_assert!(!record.parser.is_empty());
        let _ = decode_line(&text, received_at());
        let _ = cef::parse(&text);
        let _ = leef::parse(&text);
        let _ = kv::parse(&text);
        let _ = cef::parse(&format!("CEF:{text}"));
        let _ = leef::parse(&format!("LEEF:{text}"));
    }

    #[test]
    fn cef_extension_values_round_trip(
        pairs in proptest::collection::btree_map("[a-z][a-zA-Z0-9]{0,6}", "[ -~]{0,12}", 1..8)
    ) {
        let escape = |v: &str| v.replace('\\', "\\\\").replace('=', "\\=");
        let extension: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", escape(v.trim())))
            .collect();
        let text = format!("CEF:0|v|p|1|s|n|5|{}", extension.join(" "));
        let parsed = cef::parse(&text).unwrap();
        let extensions = parsed["extensions"].as_object().unwrap();
        for (key, value) in &pairs {
            // A value that itself contains ` word=` would start a new key; CEF requires
            // producers to escape `=` so that cannot happen here.
            prop_assert_eq!(extensions[key].as_str().unwrap(), value.trim());
        }
    }

    #[test]
    fn kv_quoted_values_round_trip(
        pairs in proptest::collection::btree_map("[a-z][a-z0-9_]{0,6}", "[ -~]{0,12}", 3..8)
    ) {
        let text: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        let parsed = kv::parse(&text.join(" ")).unwrap();
        for (key, value) in &pairs {
            prop_assert_eq!(parsed[key].as_str().unwrap(), value.as_str());
        }
    }
}
