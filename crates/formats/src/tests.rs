//! Decoder behaviour, one feature per test. Whole-pipeline goldens over `testdata/` live in
//! `normalize` (they show the decoded fields too).

use std::path::PathBuf;

use event::{Record, Timestamp, Value};

use crate::{PARSE_ERROR, decode_line, syslog};

fn shared(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(path)
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn str_at<'a>(record: &'a Record, path: &str) -> Option<&'a str> {
    record.get(path).and_then(Value::as_str)
}

#[test]
fn rfc5424_header_and_structured_data() {
    let record = syslog::decode(
        br#"<165>1 2003-10-11T22:14:15.003+02:00 host.example evntslog 77 ID47 [ex@32473 iut="3" note="a \"q\" \] \\ \x"][b@1 k="v"] msg"#,
        ts("2024-01-01T00:00:00Z"),
    );
    assert_eq!(record.parser, "syslog.rfc5424");
    assert_eq!(record.timestamp, Some(ts("2003-10-11T20:14:15.003Z")));
    assert_eq!(str_at(&record, "syslog.hostname"), Some("host.example"));
    assert_eq!(str_at(&record, "syslog.appname"), Some("evntslog"));
    assert_eq!(str_at(&record, "syslog.procid"), Some("77"));
    assert_eq!(str_at(&record, "syslog.msgid"), Some("ID47"));
    let sd = record.get("syslog.structured_data").unwrap();
    assert_eq!(sd["ex@32473"]["note"], r#"a "q" ] \ \x"#);
    assert_eq!(sd["b@1"]["k"], "v");
    assert_eq!(str_at(&record, "syslog.message"), Some("msg"));
    assert_eq!(record.get("syslog.facility"), Some(&Value::from(20)));
    assert_eq!(record.get("syslog.severity"), Some(&Value::from(5)));
}

#[test]
fn rfc5424_bom_is_stripped() {
    let record = syslog::decode(
        b"<14>1 2024-01-01T00:00:00Z h a - - - \xef\xbb\xbfhello",
        ts("2024-01-01T00:00:00Z"),
    );
    assert_eq!(str_at(&record, "syslog.message"), Some("hello"));
}

#[test]
fn rfc5424_broken_header_falls_back_to_3164() {
    let record = syslog::decode(
        b"<14>1 2024-01-01T00:00:00Z h a - - [unterminated",
        ts("2024-01-01T00:00:00Z"),
    );
    assert_eq!(record.parser, "syslog.rfc3164");
    assert!(
        str_at(&record, PARSE_ERROR)
            .unwrap()
            .starts_with("invalid rfc5424 header")
    );
    assert_eq!(record.get("syslog.priority"), Some(&Value::from(14)));
}

#[test]
fn rfc3164_variants() {
    let received_at = ts("2024-03-10T12:00:00Z");
    // Space-padded day, host, tag with pid.
    let record = syslog::decode(b"<38>Mar  9 08:01:02 web-1 cron[12]: job done", received_at);
    assert_eq!(record.timestamp, Some(ts("2024-03-09T08:01:02Z")));
    assert_eq!(str_at(&record, "syslog.hostname"), Some("web-1"));
    assert_eq!(str_at(&record, "syslog.appname"), Some("cron"));
    assert_eq!(str_at(&record, "syslog.procid"), Some("12"));
    assert_eq!(str_at(&record, "syslog.message"), Some("job done"));
    // Missing PRI.
    let record = decode_line("Mar  9 08:01:02 web-1 cron: x", received_at);
    assert_eq!(record.parser, "syslog.rfc3164");
    assert_eq!(record.get("syslog.priority"), None);
    // Missing hostname: the tag follows the time.
    let record = syslog::decode(b"<38>Mar  9 08:01:02 systemd[1]: started", received_at);
    assert_eq!(str_at(&record, "syslog.hostname"), None);
    assert_eq!(str_at(&record, "syslog.appname"), Some("systemd"));
    // ISO 8601 time with offset and fraction.
    let record = syslog::decode(b"<38>2024-03-09T08:01:02.250-05:00 h app: m", received_at);
    assert_eq!(record.timestamp, Some(ts("2024-03-09T13:01:02.25Z")));
    assert_eq!(str_at(&record, "syslog.hostname"), Some("h"));
    // Cisco-style year after the day.
    let record = syslog::decode(b"<38>Mar  9 2021 08:01:02 h app: m", received_at);
    assert_eq!(record.timestamp, Some(ts("2021-03-09T08:01:02Z")));
}

#[test]
fn rfc3164_year_rollover() {
    // A December line received on New Year's Day is last year's.
    let record = syslog::decode(b"<38>Dec 31 23:59:58 h a: m", ts("2024-01-01T00:00:05Z"));
    assert_eq!(record.timestamp, Some(ts("2023-12-31T23:59:58Z")));
    // A sender a few hours ahead of us stays in this year.
    let record = syslog::decode(b"<38>Jan  1 03:00:00 h a: m", ts("2024-01-01T00:00:05Z"));
    assert_eq!(record.timestamp, Some(ts("2024-01-01T03:00:00Z")));
    // February 29th in a year that has none is last year's (a leap year).
    let record = syslog::decode(b"<38>Feb 29 10:00:00 h a: m", ts("2025-03-01T00:00:00Z"));
    assert_eq!(record.timestamp, Some(ts("2024-02-29T10:00:00Z")));
}

#[test]
fn invalid_utf8_is_replaced_and_noted() {
    let record = syslog::decode(
        b"<13>Jan  1 00:00:00 h a: \xff\xfe",
        ts("2024-01-02T00:00:00Z"),
    );
    assert_eq!(str_at(&record, "syslog.message"), Some("\u{fffd}\u{fffd}"));
    assert!(
        str_at(&record, PARSE_ERROR)
            .unwrap()
            .contains("invalid utf-8")
    );
}

#[test]
fn headerless_input_is_kept_raw() {
    let record = syslog::decode(b"hello world", ts("2024-01-01T00:00:00Z"));
    assert_eq!(record.parser, "raw");
    assert_eq!(record.original, "hello world");
    assert_eq!(str_at(&record, "message"), Some("hello world"));
    assert!(str_at(&record, PARSE_ERROR).is_some());
    let record = syslog::decode(b"CEF:0|a|b|c|d|e|1|src=1.2.3.4", ts("2024-01-01T00:00:00Z"));
    assert_eq!(record.parser, "line+cef");
}

#[test]
fn cef_escapes_spaces_and_labels() {
    let record = decode_line(
        r"CEF:0|Ven\|dor|Pro\\d|1.0|42|Name \| x|7|msg=a b\=c d\\e filePath=C:\\x y cs1Label=Rule cs1=Allow All src=10.0.0.1 request=http://h/?a=b",
        ts("2024-01-01T00:00:00Z"),
    );
    assert_eq!(record.parser, "line+cef");
    assert_eq!(str_at(&record, "cef.device_vendor"), Some("Ven|dor"));
    assert_eq!(str_at(&record, "cef.device_product"), Some(r"Pro\d"));
    assert_eq!(str_at(&record, "cef.name"), Some("Name | x"));
    let extensions = record.get("cef.extensions").unwrap();
    assert_eq!(extensions["msg"], r"a b=c d\e");
    assert_eq!(extensions["filePath"], r"C:\x y");
    assert_eq!(extensions["cs1"], "Allow All");
    assert_eq!(extensions["request"], "http://h/?a=b");
    assert_eq!(record.get("cef.custom").unwrap()["Rule"], "Allow All");
}

#[test]
fn leef_delimiters() {
    for (line, user) in [
        ("LEEF:1.0|V|P|1|E|src=1.1.1.1\tusrName=a b", "a b"),
        ("LEEF:2.0|V|P|1|E|^|src=1.1.1.1^usrName=c", "c"),
        ("LEEF:2.0|V|P|1|E|x09|src=1.1.1.1\tusrName=d", "d"),
        ("LEEF:2.0|V|P|1|E|0x5e|src=1.1.1.1^usrName=e", "e"),
    ] {
        let record = decode_line(line, ts("2024-01-01T00:00:00Z"));
        assert_eq!(record.parser, "line+leef", "{line}");
        assert_eq!(
            str_at(&record, "leef.attributes.usrName"),
            Some(user),
            "{line}"
        );
    }
}

#[test]
fn kv_needs_three_pairs_and_reads_quotes() {
    let record = decode_line(
        r#"date=2024-01-01 time=10:00:00 devname="FW \"1\"" srcip=10.0.0.1 note="a b""#,
        ts("2024-01-01T00:00:00Z"),
    );
    assert_eq!(record.parser, "line+kv");
    assert_eq!(str_at(&record, "kv.devname"), Some(r#"FW "1""#));
    assert_eq!(str_at(&record, "kv.note"), Some("a b"));
    let record = decode_line("a=1 b=2 and some prose", ts("2024-01-01T00:00:00Z"));
    assert_eq!(record.parser, "raw");
}

#[test]
fn sshd_lines() {
    let cases = [
        (
            "Accepted publickey for git from 10.0.0.9 port 2222 ssh2: RSA SHA256:abc",
            "accepted",
            Some("git"),
            Some("10.0.0.9"),
        ),
        (
            "Failed password for invalid user  from 10.0.0.9 port 2222 ssh2",
            "failed",
            None,
            Some("10.0.0.9"),
        ),
        (
            "Invalid user admin from 10.0.0.9 port 40000",
            "invalid_user",
            Some("admin"),
            Some("10.0.0.9"),
        ),
        (
            "message repeated 2 times: [ Failed password for root from 10.0.0.9 port 1 ssh2]",
            "failed",
            Some("root"),
            Some("10.0.0.9"),
        ),
        (
            "Connection closed by authenticating user root 10.0.0.9 port 1 [preauth]",
            "connection_closed",
            Some("root"),
            Some("10.0.0.9"),
        ),
        (
            "pam_unix(sshd:session): session opened for user bob(uid=1000) by (uid=0)",
            "session_opened",
            Some("bob"),
            None,
        ),
    ];
    for (message, event, user, ip) in cases {
        let line = format!("Jan  1 00:00:00 h sshd[1]: {message}");
        let record = decode_line(&line, ts("2024-01-02T00:00:00Z"));
        assert_eq!(record.parser, "syslog.rfc3164+sshd", "{message}");
        assert_eq!(str_at(&record, "auth.event"), Some(event), "{message}");
        assert_eq!(str_at(&record, "auth.user"), user, "{message}");
        assert_eq!(str_at(&record, "auth.source_ip"), ip, "{message}");
    }
}

#[test]
fn sudo_and_su_lines() {
    let record = decode_line(
        "Jan  1 00:00:00 h sudo:    alice : TTY=pts/0 ; PWD=/home ; USER=root ; COMMAND=/bin/ls ; echo",
        ts("2024-01-02T00:00:00Z"),
    );
    assert_eq!(record.parser, "syslog.rfc3164+sudo");
    assert_eq!(str_at(&record, "auth.user"), Some("alice"));
    assert_eq!(str_at(&record, "auth.target_user"), Some("root"));
    assert_eq!(str_at(&record, "auth.command"), Some("/bin/ls ; echo"));
    let record = decode_line(
        "Jan  1 00:00:00 h su[5]: pam_unix(su:session): session opened for user root by alice(uid=1000)",
        ts("2024-01-02T00:00:00Z"),
    );
    assert_eq!(record.parser, "syslog.rfc3164+su");
    assert_eq!(str_at(&record, "auth.user"), Some("alice"));
    assert_eq!(str_at(&record, "auth.target_user"), Some("root"));
    assert_eq!(str_at(&record, "auth.uid"), Some("1000"));
}

#[test]
fn json_documents() {
    let doc = serde_json::json!({"@timestamp": "2024-01-01T00:00:00Z", "message": "plain text"});
    let Value::Object(doc) = doc else {
        unreachable!()
    };
    let record = crate::json::decode(doc, None, ts("2024-01-02T00:00:00Z"));
    assert_eq!(record.parser, "json");
    assert_eq!(record.timestamp, Some(ts("2024-01-01T00:00:00Z")));
    assert!(record.original.contains("plain text"));
}

#[test]
fn evtx_records_have_winlog_fields() {
    let mut file = crate::evtx::EvtxFile::open(shared(
        "evtx/attack-samples/Lateral Movement/LM_WMI_4624_4688_TargetHost.evtx",
    ))
    .unwrap();
    let records: Vec<Record> = file.by_ref().map(Result::unwrap).collect();
    assert_eq!(file.records_read(), records.len() as u64);
    assert_eq!(file.records_failed(), 0);
    let first = &records[0];
    assert_eq!(first.parser, "evtx");
    assert_eq!(str_at(first, "winlog.channel"), Some("Security"));
    assert_eq!(str_at(first, "winlog.event_id"), Some("4624"));
    assert_eq!(str_at(first, "winlog.record_id"), Some("563265"));
    assert_eq!(
        str_at(first, "winlog.provider_guid"),
        Some("{54849625-5478-4994-a5ba-3e3b0328c30d}")
    );
    assert_eq!(first.get("winlog.process.pid"), Some(&Value::from(452)));
    assert_eq!(
        first.get("winlog.process.thread.id"),
        Some(&Value::from(696))
    );
    assert_eq!(str_at(first, "winlog.event_data.LogonType"), Some("3"));
    assert_eq!(first.timestamp, Some(ts("2019-03-18T22:15:36.036376Z")));
}

/// Unnamed `<Data>` items (MSSQL's events have only those) are `param1`… and also `Data`,
/// the field Sigma rules filter on: an array of strings in order, or one string.
#[test]
fn evtx_unnamed_data_is_kept_as_data() {
    let file = crate::evtx::EvtxFile::open(shared(
        "evtx/attack-samples/Credential Access/MSSQL_multiple_failed_logon_EventID_18456.evtx",
    ))
    .unwrap();
    let records: Vec<Record> = file.map(Result::unwrap).collect();
    let failed = records
        .iter()
        .find(|r| str_at(r, "winlog.event_id") == Some("18456"))
        .expect("an 18456 event");
    let Some(Value::Array(data)) = failed.get("winlog.event_data.Data") else {
        panic!(
            "Data is not an array: {:?}",
            failed.get("winlog.event_data.Data")
        );
    };
    assert!(data.len() > 1);
    assert!(data.iter().all(Value::is_string));
    assert_eq!(failed.get("winlog.event_data.param1"), Some(&data[0]));
    assert!(
        data.iter()
            .any(|d| d.as_str().is_some_and(|s| s.contains("CLIENT: 10.0.2.17"))),
        "{data:?}"
    );
    // Records with named items only have no `Data`.
    let file = crate::evtx::EvtxFile::open(shared(
        "evtx/attack-samples/Lateral Movement/LM_WMI_4624_4688_TargetHost.evtx",
    ))
    .unwrap();
    let first = file.map(Result::unwrap).next().unwrap();
    assert_eq!(first.get("winlog.event_data.Data"), None);
}

/// Damages a three-chunk file in three ways: a chunk's magic (the chunk is lost), the middle
/// of a chunk's records, and a record header. Each yields errors for what broke, still yields
/// the records of the intact chunks, and never panics.
#[test]
fn corrupted_evtx_yields_errors_and_good_records() {
    const FILE_HEADER: usize = 4096;
    const CHUNK: usize = 65536;
    let path =
        shared("evtx/attack-samples/Privilege Escalation/privesc_unquoted_svc_sysmon_1_11.evtx");
    let pristine = std::fs::read(&path).unwrap();
    let n_good = crate::evtx::EvtxFile::from_bytes(pristine.clone())
        .unwrap()
        .filter(Result::is_ok)
        .count() as u64;
    assert!(n_good > 10);
    let mut n_failed_total = 0;
    for (offset, len) in [
        (FILE_HEADER, 8),                         // chunk 0 magic
        (FILE_HEADER + CHUNK + 512 + 9000, 3000), // chunk 1 record data
        (FILE_HEADER + 2 * CHUNK + 512, 24),      // chunk 2 first record header
    ] {
        let mut bytes = pristine.clone();
        for (i, b) in bytes[offset..offset + len].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31) ^ 0xA5;
        }
        let mut file = crate::evtx::EvtxFile::from_bytes(bytes).unwrap();
        let results: Vec<_> = file.by_ref().collect();
        let n_ok = results.iter().filter(|r| r.is_ok()).count() as u64;
        let n_failed = results.len() as u64 - n_ok;
        assert_eq!(n_ok, file.records_read());
        assert_eq!(n_failed, file.records_failed(), "every failure is counted");
        assert!(
            n_ok > 0 && n_ok < n_good,
            "offset {offset}: {n_ok} of {n_good} records"
        );
        n_failed_total += n_failed;
    }
    assert!(n_failed_total >= 2, "{n_failed_total}");
    assert!(crate::evtx::EvtxFile::from_bytes(b"not an evtx file".to_vec()).is_err());
}

/// A 10 MB line finishes quickly and extracts at most `MAX_FIELDS` fields.
#[test]
fn huge_line_is_bounded() {
    let mut line = String::from("<13>Jan  1 00:00:00 host app: ");
    while line.len() < 10_000_000 {
        line.push_str("key");
        line.push_str(&(line.len() % 100_000).to_string());
        line.push_str("=value ");
    }
    let started = std::time::Instant::now();
    let record = syslog::decode(line.as_bytes(), ts("2024-01-02T00:00:00Z"));
    assert_eq!(record.parser, "syslog.rfc3164+kv");
    let n_pairs = record.get("kv").unwrap().as_object().unwrap().len();
    assert!(n_pairs <= crate::MAX_FIELDS);
    let cef = format!("CEF:0|a|b|c|d|e|1|{}", "k=v ".repeat(2_500_000));
    let record = decode_line(&cef, ts("2024-01-02T00:00:00Z"));
    let n_extensions = record
        .get("cef.extensions")
        .unwrap()
        .as_object()
        .unwrap()
        .len();
    assert!(n_extensions <= crate::MAX_FIELDS);
    let leef = format!("LEEF:1.0|a|b|c|d|{}", "k=v\t".repeat(2_500_000));
    let record = decode_line(&leef, ts("2024-01-02T00:00:00Z"));
    assert!(
        record
            .get("leef.attributes")
            .unwrap()
            .as_object()
            .unwrap()
            .len()
            <= crate::MAX_FIELDS
    );
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
}

/// The pipeline moves decoders between threads (`spawn_blocking`).
#[test]
fn evtx_file_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<crate::evtx::EvtxFile>();
    assert_send::<crate::evtx::EvtxFile<std::io::Cursor<Vec<u8>>>>();
}
