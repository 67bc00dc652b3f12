//! Golden tests over `testdata/<format>/` and assertions on real corpora
//! (`../shared/data/logs/loghub`, `../shared/data/evtx/attack-samples`).
//!
//! Refresh goldens with `UPDATE_EXPECT=1 cargo test -p normalize`, then review the diff.

use std::path::{Path, PathBuf};

use event::{Event, Map, Record, Timestamp, Value};

use crate::{Context, MappingError, Normalizer};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared(path: &str) -> PathBuf {
    repo_root().join("../shared/data").join(path)
}

/// A fixed reception time keeps `event.ingested` and year-less syslog dates stable.
fn received_at() -> Timestamp {
    "2024-01-15T00:00:00Z".parse().unwrap()
}

fn context(input_type: &str) -> Context<'_> {
    Context {
        input_type,
        peer: Some("192.0.2.1:514".parse().unwrap()),
        received_at: received_at(),
    }
}

/// Decodes every input in `input` the way the pipeline would for that format.
fn decode_file(input: &Path) -> Vec<Result<Record, String>> {
    let format = input
        .parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .unwrap();
    if format == "evtx" {
        let source = std::fs::read_to_string(input).unwrap();
        let path = repo_root().join(source.trim());
        let file = formats::evtx::EvtxFile::open(&path).unwrap();
        return file
            .map(|record| record.map_err(|err| err.to_string()))
            .collect();
    }
    let bytes = std::fs::read(input).unwrap();
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            Ok(match format {
                "syslog" => formats::syslog::decode(line, received_at()),
                "json" => {
                    let text = String::from_utf8(line.to_vec()).unwrap();
                    let doc: Map<String, Value> = serde_json::from_str(&text).unwrap();
                    formats::json::decode(doc, Some(text), received_at())
                }
                _ => formats::decode_line(&String::from_utf8_lossy(line), received_at()),
            })
        })
        .collect()
}

/// Runs `input` through decoding and normalization and compares with
/// `<input stem>.expected.jsonl`.
fn check(input: &Path) {
    let normalizer = Normalizer::builtin();
    let mut actual = String::new();
    for decoded in decode_file(input) {
        let line = match decoded {
            Ok(record) => {
                let event = normalizer.normalize(record, &context("test"));
                serde_json::to_string(&event).unwrap()
            }
            Err(err) => serde_json::json!({ "error": err }).to_string(),
        };
        actual.push_str(&line);
        actual.push('\n');
    }
    let stem = input.file_stem().unwrap().to_str().unwrap();
    let expect_path = input.with_file_name(format!("{stem}.expected.jsonl"));
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expect_path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expect_path).unwrap_or_default();
    if expected != actual {
        let line_idx = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "golden mismatch in {} at line {}\nexpected: {}\nactual:   {}\n(run with UPDATE_EXPECT=1 to update)",
            expect_path.display(),
            line_idx + 1,
            expected.lines().nth(line_idx).unwrap_or("<none>"),
            actual.lines().nth(line_idx).unwrap_or("<none>"),
        );
    }
}

fn check_dir(format: &str) {
    let dir = repo_root().join("testdata").join(format);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            name.ends_with(".log") || name.ends_with(".source")
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in {}", dir.display());
    for input in inputs {
        check(&input);
    }
}

#[test]
fn golden_syslog() {
    check_dir("syslog");
}

#[test]
fn golden_cef() {
    check_dir("cef");
}

#[test]
fn golden_leef() {
    check_dir("leef");
}

#[test]
fn golden_kv() {
    check_dir("kv");
}

#[test]
fn golden_auth() {
    check_dir("auth");
}

#[test]
fn golden_json() {
    check_dir("json");
}

#[test]
fn golden_evtx() {
    check_dir("evtx");
}

#[test]
fn builtin_mappings_load() {
    let names: Vec<String> = Normalizer::from_sources(crate::BUILTIN_MAPPINGS.iter().copied())
        .unwrap()
        .mapping_names()
        .map(str::to_owned)
        .collect();
    assert_eq!(names[0], "syslog", "framing mappings apply first");
    assert_eq!(names.len(), crate::BUILTIN_MAPPINGS.len());
}

fn evtx_events(path: &str) -> Vec<Event> {
    let normalizer = Normalizer::builtin();
    formats::evtx::EvtxFile::open(shared(path))
        .unwrap()
        .map(|record| normalizer.normalize(record.unwrap(), &context("import")))
        .collect()
}

#[test]
fn evtx_security_4624_normalizes_to_ecs() {
    let events =
        evtx_events("evtx/attack-samples/Lateral Movement/LM_WMI_4624_4688_TargetHost.evtx");
    let logon = events
        .iter()
        .find(|e| {
            e.get_str("winlog.event_id") == Some("4624")
                && e.get_str("user.name") == Some("Administrator")
        })
        .expect("a 4624 logon by Administrator");
    assert_eq!(logon.get_str("source.ip"), Some("10.0.2.17"));
    assert_eq!(logon.get("source.port"), Some(&Value::from(49244)));
    assert_eq!(logon.get_str("user.domain"), Some("EXAMPLE"));
    assert_eq!(logon.get_str("event.outcome"), Some("success"));
    assert_eq!(logon.get_str("winlog.logon.type"), Some("Network"));
    assert_eq!(
        logon.get_str("host.name"),
        Some("WIN-77LTAPHIQ1R.example.corp")
    );
    assert_eq!(
        logon.get_str("@timestamp"),
        Some("2019-03-18T22:15:49.5831024Z")
    );
    assert_eq!(logon.get_str("log.parser"), Some("evtx"));
    // A link-local address with a zone and `-` never reach source.ip as garbage.
    for event in &events {
        if let Some(ip) = event.get_str("source.ip") {
            assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
        }
    }
    // This host did not audit command lines (`CommandLine` is empty): 4688 still gives the
    // process and its parent; command lines are shown on Sysmon 1 below.
    let process = events
        .iter()
        .find(|e| e.get_str("winlog.event_id") == Some("4688"))
        .expect("a 4688 process creation");
    assert_eq!(
        process.get_str("process.executable"),
        Some("C:\\Windows\\System32\\wbem\\WmiPrvSE.exe")
    );
    assert_eq!(process.get_str("process.name"), Some("WmiPrvSE.exe"));
    assert_eq!(process.get("process.pid"), Some(&Value::from(0xae8)));
    assert_eq!(process.get("process.parent.pid"), Some(&Value::from(0x248)));
    assert_eq!(process.get("process.command_line"), None);
    assert_eq!(
        process.get("event.category"),
        Some(&serde_json::json!(["process"]))
    );
}

/// A 4624 (logon type 9, pass-the-hash with mimikatz) that names the logon process.
#[test]
fn evtx_security_4624_with_process() {
    let events = evtx_events(
        "evtx/attack-samples/Lateral Movement/LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx",
    );
    let logon = events
        .iter()
        .find(|e| e.get_str("winlog.event_id") == Some("4624"))
        .expect("a 4624 logon");
    assert_eq!(logon.get_str("user.name"), Some("user01"));
    assert_eq!(logon.get_str("user.domain"), Some("EXAMPLE"));
    assert_eq!(logon.get_str("source.ip"), Some("::1"));
    assert_eq!(
        logon.get_str("process.executable"),
        Some("C:\\Windows\\System32\\svchost.exe")
    );
    assert_eq!(logon.get_str("winlog.logon.type"), Some("NewCredentials"));
    assert_eq!(logon.get_str("event.action"), Some("logged-in"));
}

#[test]
fn evtx_sysmon_1_normalizes_to_ecs() {
    let events = evtx_events("evtx/attack-samples/Execution/exec_sysmon_1_lolbin_pcalua.evtx");
    let create = events
        .iter()
        .find(|e| e.get_str("winlog.event_id") == Some("1"))
        .expect("a sysmon 1 process creation");
    let executable = create.get_str("process.executable").unwrap();
    assert_eq!(
        create.get_str("process.name"),
        executable.rsplit('\\').next()
    );
    assert!(create.get_str("process.command_line").is_some());
    assert!(create.get_str("process.parent.executable").is_some());
    assert!(create.get("process.pid").unwrap().is_i64());
    assert!(create.get_str("user.name").is_some());
    assert!(create.get_str("user.domain").is_some());
    let sha256 = create.get_str("process.hash.sha256").unwrap();
    assert_eq!(sha256.len(), 64);
    assert_eq!(sha256, sha256.to_lowercase());
    assert_eq!(create.get_str("event.module"), Some("sysmon"));
    // Unmapped event data is kept.
    assert!(create.get_str("winlog.event_data.LogonGuid").is_some());
}

/// Every line of loghub's OpenSSH sample is an sshd line. We claim all 27 of its templates
/// (see `OpenSSH_2k.log_templates.csv`), so every line must reach the sshd decoder.
#[test]
fn loghub_openssh_lines_parse() {
    let text = std::fs::read_to_string(shared("logs/loghub/OpenSSH/OpenSSH_2k.log")).unwrap();
    let normalizer = Normalizer::builtin();
    let (mut n_sshd, mut n_other) = (0, 0);
    let mut unparsed = Vec::new();
    let mut n_with_ip = 0;
    for line in text.lines() {
        let record = formats::decode_line(line, received_at());
        assert_ne!(record.parser, "raw", "{line}");
        if record.parser == "syslog.rfc3164+sshd" {
            n_sshd += 1;
        } else {
            n_other += 1;
            unparsed.push(line.to_owned());
        }
        let event = normalizer.normalize(record, &context("import"));
        assert_eq!(event.get_str("host.name"), Some("LabSZ"));
        if event.get_str("source.ip").is_some() {
            n_with_ip += 1;
        }
    }
    assert_eq!(n_sshd + n_other, 2000);
    assert_eq!(
        unparsed,
        Vec::<String>::new(),
        "sshd lines left to syslog only"
    );
    // Lines without an address: `check pass`, `input_userauth_request`, `Disconnecting: Too
    // many …`, `fatal: …`, `PAM service(sshd) ignoring max retries`, and sessions: 135 + 113 +
    // 3 + 1 + 7 + 2 + 2, so at least 1,730 lines carry a source IP.
    assert!(n_with_ip >= 1730, "{n_with_ip} lines with source.ip");
}

/// loghub's Linux sample is a /var/log/messages mix; every line has a syslog header, and the
/// sshd/su PAM lines (in the old `sshd(pam_unix)[pid]` tag form) reach the auth decoders.
#[test]
fn loghub_linux_lines_parse() {
    let text = std::fs::read_to_string(shared("logs/loghub/Linux/Linux_2k.log")).unwrap();
    let (mut n_auth, mut n_header_only, mut n_raw) = (0, 0, 0);
    let mut n_pam_tagged = 0;
    for line in text.lines() {
        let record = formats::decode_line(line, received_at());
        if line.contains("(pam_unix)[") {
            n_pam_tagged += 1;
        }
        match record.parser.as_str() {
            "raw" => n_raw += 1,
            parser if parser.ends_with("+sshd") || parser.ends_with("+su") => n_auth += 1,
            _ => n_header_only += 1,
        }
    }
    assert_eq!(n_raw, 0);
    // Every `sshd(pam_unix)`/`su(pam_unix)` line is one of the PAM messages we decode;
    // `login(pam_unix)`, `ftpd`, `kernel` etc. keep only their syslog header.
    let n_login_pam = text
        .lines()
        .filter(|l| l.contains("login(pam_unix)["))
        .count();
    let n_other_pam = text
        .lines()
        .filter(|l| l.contains("(pam_unix)[") && !l.contains("sshd(") && !l.contains(" su("))
        .count();
    assert_eq!(n_auth, n_pam_tagged - n_other_pam, "login: {n_login_pam}");
    assert!(n_auth > 0 && n_header_only > 0);
}

#[test]
fn ecs_document_passes_through() {
    let doc: Map<String, Value> = serde_json::from_str(
        r#"{"@timestamp":"2023-05-05T05:05:05Z","source":{"ip":"10.0.0.1"},"user":{"name":"kept"},
            "winlog":{"channel":"Security","event_id":4624,"event_data":{"TargetUserName":"mapped","IpAddress":"10.9.9.9"}}}"#,
    )
    .unwrap();
    let record = formats::json::decode(doc, None, received_at());
    let event = Normalizer::builtin().normalize(record, &context("es-bulk"));
    assert_eq!(event.get_str("@timestamp"), Some("2023-05-05T05:05:05Z"));
    assert_eq!(event.get_str("user.name"), Some("kept"));
    assert_eq!(event.get_str("source.ip"), Some("10.0.0.1"));
    assert_eq!(
        event.get_str("event.outcome"),
        Some("success"),
        "winlog mappings apply"
    );
    assert_eq!(event.get_str("input.type"), Some("es-bulk"));
    assert_eq!(
        event.get_str("event.ingested"),
        Some("2024-01-15T00:00:00Z")
    );
}

#[test]
fn invalid_ip_stays_in_source_field() {
    let record = formats::decode_line(
        "CEF:0|V|P|1|s|n|3|src=not-an-ip spt=x dst=10.0.0.2",
        received_at(),
    );
    let event = Normalizer::builtin().normalize(record, &context("import"));
    assert_eq!(event.get("source.ip"), None);
    assert_eq!(event.get("source.port"), None);
    assert_eq!(event.get_str("cef.extensions.src"), Some("not-an-ip"));
    assert_eq!(event.get_str("destination.ip"), Some("10.0.0.2"));
}

#[test]
fn mapping_problems_are_all_reported() {
    let bad = r#"
version: 2
name: bad
applies_to: x
fields:
  - { from: x.a, to: source.ip }
  - { from: x.b, value: 1, to: y }
  - { to: z, type: nope, from: x.c }
  - { to: "a..b", value: 1 }
sections:
  - name: s
    when: { x.kind: { nested: map } }
    fields: []
"#;
    let err =
        Normalizer::from_sources([("bad.yaml", bad), ("syntax.yaml", "version: [")]).unwrap_err();
    let kinds: Vec<&str> = err
        .problems
        .iter()
        .map(|p| match p {
            MappingError::UnsupportedVersion { .. } => "version",
            MappingError::IpFieldNeedsIpType { .. } => "ip",
            MappingError::SourceCount { .. } => "source",
            MappingError::UnknownType { .. } => "type",
            MappingError::InvalidPath { .. } => "path",
            MappingError::InvalidCondition { .. } => "condition",
            MappingError::Syntax { .. } => "syntax",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "version",
            "ip",
            "source",
            "type",
            "path",
            "condition",
            "syntax"
        ],
        "{err}"
    );
    let unknown_key = "version: 1\nname: u\napplies_to: x\nfeilds: []\n";
    let err = Normalizer::from_sources([("u.yaml", unknown_key)]).unwrap_err();
    assert!(err.to_string().contains("feilds"), "{err}");
}

#[test]
fn from_dir_overrides_builtin_by_name() {
    let dir = std::env::temp_dir().join(format!("sentinella-normalize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cef.yaml"),
        "version: 1\nname: cef\napplies_to: cef\nfields:\n  - { from: cef.extensions.src, to: source.ip, type: ip }\n  - { to: observer.type, value: ids }\n",
    )
    .unwrap();
    let normalizer = Normalizer::from_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let record = formats::decode_line("CEF:0|V|P|1|s|n|3|src=10.0.0.1 dst=10.0.0.2", received_at());
    let event = normalizer.normalize(record, &context("import"));
    assert_eq!(event.get_str("observer.type"), Some("ids"));
    assert_eq!(event.get_str("source.ip"), Some("10.0.0.1"));
    assert_eq!(
        event.get("destination.ip"),
        None,
        "the builtin cef mapping was replaced"
    );
    assert!(Normalizer::from_dir("/nonexistent/mappings").is_err());
}

/// One normalizer is shared by all pipeline workers.
#[test]
fn normalizer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Normalizer>();
}

/// The whole EVTX attack-sample corpus (277 files, 8,255 records per its README) decodes and
/// normalizes without a panic. A corpus test: runs with `SLOW_TESTS=1`.
#[test]
fn evtx_corpus_normalizes() {
    if std::env::var_os("SLOW_TESTS").is_none() {
        return;
    }
    let normalizer = Normalizer::builtin();
    let (mut n_files, mut n_read, mut n_failed, mut n_mapped) = (0, 0, 0, 0);
    let mut dirs = vec![shared("evtx/attack-samples")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("evtx") {
                continue;
            }
            n_files += 1;
            let mut file = formats::evtx::EvtxFile::open(&path).unwrap();
            for record in file.by_ref().flatten() {
                let event = normalizer.normalize(record, &context("import"));
                assert!(event.get_str("winlog.event_id").is_some());
                assert!(event.timestamp().is_some());
                if event.get("event.category").is_some() {
                    n_mapped += 1;
                }
            }
            n_read += file.records_read();
            n_failed += file.records_failed();
        }
    }
    eprintln!("{n_files} files, {n_read} records, {n_failed} failed, {n_mapped} categorized");
    assert_eq!(n_files, 277);
    assert!(n_read >= 8_255, "{n_read}");
    assert_eq!(n_failed, 0);
}
