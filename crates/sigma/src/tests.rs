//! Table tests: one inline rule per modifier and condition form, each with events that
//! must match and events that must not.

use event::Event;
use serde_json::json;

use crate::{Loader, RuleError, RuleSet};

/// A Sysmon process-creation event with these `winlog.event_data` fields.
fn sysmon_1(event_data: serde_json::Value) -> Event {
    serde_json::from_value(json!({
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": "1",
            "computer_name": "WS1",
            "event_data": event_data,
        },
        "message": "Process Create: whoami /all",
    }))
    .unwrap()
}

fn rule_text(detection: &str) -> String {
    let detection: String = detection.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "title: test\nid: 11111111-1111-1111-1111-111111111111\nlevel: high\nstatus: test\n\
         tags: [attack.execution, attack.t1059]\n\
         logsource: {{product: windows, category: process_creation}}\ndetection:\n{detection}"
    )
}

/// Compiles `detection` (the YAML under `detection:`) and checks each event against it.
#[track_caller]
fn check(detection: &str, matching: &[serde_json::Value], not_matching: &[serde_json::Value]) {
    let report = RuleSet::load_str(&rule_text(detection), "inline.yml");
    assert!(
        report.rejected.is_empty(),
        "rejected: {:?}",
        report.rejected
    );
    let rule = &report.rules[0];
    for data in matching {
        assert!(
            rule.matches(&sysmon_1(data.clone())).is_some(),
            "should match: {data}"
        );
    }
    for data in not_matching {
        assert!(
            rule.matches(&sysmon_1(data.clone())).is_none(),
            "should not match: {data}"
        );
    }
}

#[track_caller]
fn check_rejected(detection: &str, expected: RuleError) {
    let report = RuleSet::load_str(&rule_text(detection), "inline.yml");
    assert_eq!(report.rules.len(), 0);
    assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);
    assert_eq!(report.rejected[0].reason, expected);
}

#[test]
fn plain_values_are_case_insensitive_exact() {
    check(
        "sel: {Image: 'C:\\Windows\\System32\\whoami.exe'}\ncondition: sel",
        &[json!({"Image": "c:\\windows\\system32\\WHOAMI.EXE"})],
        &[
            json!({"Image": "C:\\Windows\\System32\\whoami.exe2"}),
            json!({}),
        ],
    );
}

#[test]
fn map_is_and_list_of_values_is_or() {
    check(
        "sel:\n  Image|endswith: ['\\a.exe', '\\b.exe']\n  User: alice\ncondition: sel",
        &[json!({"Image": "x\\b.exe", "User": "ALICE"})],
        &[
            json!({"Image": "x\\b.exe", "User": "bob"}),
            json!({"Image": "x\\c.exe", "User": "alice"}),
        ],
    );
}

#[test]
fn list_of_maps_is_or() {
    check(
        "sel:\n  - Image|endswith: '\\a.exe'\n  - User: alice\ncondition: sel",
        &[json!({"Image": "x\\a.exe"}), json!({"User": "alice"})],
        &[json!({"Image": "x\\b.exe", "User": "bob"})],
    );
}

#[test]
fn contains_startswith_endswith() {
    check(
        "sel:\n  CommandLine|contains: 'mimikatz'\n  Image|startswith: 'C:\\Temp\\'\n  User|endswith: '\\admin'\ncondition: sel",
        &[
            json!({"CommandLine": "run MimiKatz.exe", "Image": "c:\\temp\\x.exe", "User": "DOM\\Admin"}),
        ],
        &[
            json!({"CommandLine": "run mimi.exe", "Image": "c:\\temp\\x.exe", "User": "DOM\\Admin"}),
            json!({"CommandLine": "mimikatz", "Image": "d:\\temp\\x.exe", "User": "DOM\\Admin"}),
            json!({"CommandLine": "mimikatz", "Image": "c:\\temp\\x.exe", "User": "DOM\\Admins"}),
        ],
    );
}

#[test]
fn wildcards_and_escapes() {
    check(
        "sel:\n  Image: 'C:\\\\*\\cmd.ex?'\n  CommandLine: 'what\\?*'\ncondition: sel",
        &[json!({"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "what? now"})],
        &[
            json!({"Image": "C:cmd.exe", "CommandLine": "what? now"}),
            json!({"Image": "C:\\x\\cmd.exe", "CommandLine": "whatX now"}),
        ],
    );
    // `\*` is a literal asterisk.
    check(
        "sel:\n  Image: 'C:\\*.exe'\ncondition: sel",
        &[json!({"Image": "C:*.exe"})],
        &[json!({"Image": "C:a.exe"})],
    );
}

#[test]
fn all_modifier_needs_every_value() {
    check(
        "sel:\n  CommandLine|contains|all: ['-enc', 'hidden']\ncondition: sel",
        &[json!({"CommandLine": "powershell -w hidden -enc AAAA"})],
        &[json!({"CommandLine": "powershell -enc AAAA"})],
    );
}

#[test]
fn cased_modifier() {
    check(
        "sel:\n  CommandLine|cased|contains: 'Invoke-'\ncondition: sel",
        &[json!({"CommandLine": "Invoke-Mimikatz"})],
        &[json!({"CommandLine": "invoke-mimikatz"})],
    );
}

#[test]
fn re_modifier_and_flags() {
    check(
        "sel:\n  CommandLine|re: '^cmd /c [a-z]+$'\ncondition: sel",
        &[json!({"CommandLine": "cmd /c whoami"})],
        &[
            json!({"CommandLine": "CMD /c whoami"}),
            json!({"CommandLine": "cmd /c who ami"}),
        ],
    );
    check(
        "sel:\n  CommandLine|re|i: '^cmd /c'\ncondition: sel",
        &[json!({"CommandLine": "CMD /c whoami"})],
        &[json!({"CommandLine": "x cmd /c"})],
    );
    check(
        "sel:\n  CommandLine|re|m: '^second$'\ncondition: sel",
        &[json!({"CommandLine": "first\nsecond"})],
        &[json!({"CommandLine": "first second"})],
    );
    check(
        "sel:\n  CommandLine|re|s: 'a.b'\ncondition: sel",
        &[json!({"CommandLine": "a\nb"})],
        &[json!({"CommandLine": "ab"})],
    );
}

#[test]
fn bad_regex_is_rejected_with_reason() {
    let report = RuleSet::load_str(
        &rule_text("sel:\n  CommandLine|re: '(?<=a)b'\ncondition: sel"),
        "x.yml",
    );
    assert!(
        matches!(&report.rejected[0].reason, RuleError::Regex { field, .. } if field == "CommandLine")
    );
}

#[test]
fn base64_and_base64offset() {
    // base64("whoami") = d2hvYW1p
    check(
        "sel:\n  CommandLine|base64|contains: 'whoami'\ncondition: sel",
        &[json!({"CommandLine": "powershell -e d2hvYW1p"})],
        &[json!({"CommandLine": "powershell -e whoami"})],
    );
    // "xwhoami" and "xxwhoami" shift the alignment: base64offset covers all three.
    check(
        "sel:\n  CommandLine|base64offset|contains: 'whoami'\ncondition: sel",
        &[
            json!({"CommandLine": "d2hvYW1p"}),
            json!({"CommandLine": "eHdob2FtaQ=="}),
            json!({"CommandLine": "eHh3aG9hbWk="}),
        ],
        &[json!({"CommandLine": "d2hvYW1"})],
    );
}

#[test]
fn utf16_encodings_before_base64() {
    // base64(utf16le("ab")) = YQBiAA==, utf16be = AGEAYg==, utf16 (BOM) = //5hAGIA
    check(
        "sel:\n  CommandLine|wide|base64: 'ab'\ncondition: sel",
        &[json!({"CommandLine": "YQBiAA=="})],
        &[json!({"CommandLine": "YWI="})],
    );
    check(
        "sel:\n  CommandLine|utf16le|base64: 'ab'\ncondition: sel",
        &[json!({"CommandLine": "YQBiAA=="})],
        &[json!({"CommandLine": "AGEAYg=="})],
    );
    check(
        "sel:\n  CommandLine|utf16be|base64: 'ab'\ncondition: sel",
        &[json!({"CommandLine": "AGEAYg=="})],
        &[json!({"CommandLine": "YQBiAA=="})],
    );
    check(
        "sel:\n  CommandLine|utf16|base64: 'ab'\ncondition: sel",
        &[json!({"CommandLine": "//5hAGIA"})],
        &[json!({"CommandLine": "YQBiAA=="})],
    );
}

#[test]
fn windash() {
    check(
        "sel:\n  CommandLine|windash|contains: ' -exec bypass'\ncondition: sel",
        &[
            json!({"CommandLine": "ps -exec bypass"}),
            json!({"CommandLine": "ps /exec bypass"}),
            json!({"CommandLine": "ps \u{2013}exec bypass"}),
        ],
        &[json!({"CommandLine": "ps +exec bypass"})],
    );
}

#[test]
fn cidr() {
    check(
        "sel:\n  DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']\ncondition: sel",
        &[
            json!({"DestinationIp": "10.1.2.3"}),
            json!({"DestinationIp": "fe80::1"}),
        ],
        &[
            json!({"DestinationIp": "11.1.2.3"}),
            json!({"DestinationIp": "not an ip"}),
        ],
    );
    check_rejected(
        "sel:\n  DestinationIp|cidr: '10.0.0.0/33'\ncondition: sel",
        RuleError::Cidr {
            field: "DestinationIp".into(),
            value: "10.0.0.0/33".into(),
        },
    );
}

#[test]
fn exists() {
    check(
        "sel:\n  OriginalFileName|exists: true\ncondition: sel",
        &[json!({"OriginalFileName": "x"})],
        &[json!({})],
    );
    check(
        "sel:\n  OriginalFileName|exists: false\ncondition: sel",
        &[json!({})],
        &[json!({"OriginalFileName": "x"})],
    );
}

#[test]
fn null_matches_absent_field() {
    check(
        "sel:\n  Image|endswith: '\\a.exe'\nfilter:\n  OriginalFileName: null\ncondition: sel and not filter",
        &[json!({"Image": "\\a.exe", "OriginalFileName": "a.exe"})],
        &[
            json!({"Image": "\\a.exe"}),
            json!({"Image": "\\a.exe", "OriginalFileName": null}),
        ],
    );
}

#[test]
fn empty_string_is_a_value() {
    check(
        "sel:\n  CommandLine: ''\ncondition: sel",
        &[json!({"CommandLine": ""})],
        &[json!({"CommandLine": "x"}), json!({})],
    );
}

#[test]
fn expand_needs_a_configured_placeholder() {
    let text = rule_text("sel:\n  User|expand: '%admins%'\ncondition: sel");
    let report = RuleSet::load_str(&text, "x.yml");
    assert_eq!(
        report.rejected[0].reason,
        RuleError::Placeholder {
            field: "User".into(),
            name: "admins".into()
        }
    );
    let report = Loader::new()
        .placeholder("admins", vec!["root".into(), "DOM\\admin".into()])
        .load_str(&text, "x.yml");
    let rule = &report.rules[0];
    assert!(
        rule.matches(&sysmon_1(json!({"User": "dom\\ADMIN"})))
            .is_some()
    );
    assert!(rule.matches(&sysmon_1(json!({"User": "bob"}))).is_none());
}

#[test]
fn fieldref() {
    check(
        "sel:\n  ParentImage|fieldref: Image\ncondition: sel",
        &[json!({"Image": "C:\\a.exe", "ParentImage": "c:\\A.EXE"})],
        &[
            json!({"Image": "C:\\a.exe", "ParentImage": "C:\\b.exe"}),
            json!({"ParentImage": "C:\\b.exe"}),
        ],
    );
    check(
        "sel:\n  CommandLine|fieldref|startswith: Image\ncondition: sel",
        &[json!({"Image": "C:\\a.exe", "CommandLine": "C:\\a.exe /x"})],
        &[json!({"Image": "C:\\a.exe", "CommandLine": "\"C:\\a.exe\" /x"})],
    );
}

#[test]
fn numeric_comparisons_on_numbers_and_numeric_strings() {
    check(
        "sel:\n  TerminalSessionId|gt: 1\n  LogonId|lte: 10\ncondition: sel",
        &[
            json!({"TerminalSessionId": "2", "LogonId": 10}),
            json!({"TerminalSessionId": 5, "LogonId": "3"}),
        ],
        &[
            json!({"TerminalSessionId": "1", "LogonId": 3}),
            json!({"TerminalSessionId": "x", "LogonId": 3}),
        ],
    );
    check(
        "sel:\n  TerminalSessionId|gte: 2\n  LogonId|lt: 10\ncondition: sel",
        &[json!({"TerminalSessionId": 2, "LogonId": 9})],
        &[json!({"TerminalSessionId": 2, "LogonId": 10})],
    );
    check_rejected(
        "sel:\n  LogonId|gt: abc\ncondition: sel",
        RuleError::NotANumber {
            field: "LogonId".into(),
            modifier: "gt".into(),
            value: "abc".into(),
        },
    );
}

#[test]
fn numbers_match_numeric_strings_and_numbers() {
    check(
        "sel:\n  EventID: 1\n  ProcessId: 4\ncondition: sel",
        &[json!({"ProcessId": 4}), json!({"ProcessId": "4"})],
        &[json!({"ProcessId": "40"})],
    );
}

#[test]
fn arrays_match_if_any_element_matches() {
    check(
        "sel:\n  Tags|contains: evil\ncondition: sel",
        &[json!({"Tags": ["good", "evil-ish"]})],
        &[json!({"Tags": ["good", "fine"]}), json!({"Tags": []})],
    );
}

/// Unnamed EVTX `<Data>` items arrive as an array under `Data` (the MSSQL rules): a filter
/// excludes the event when any element matches it, and `|all` values may each match a
/// different element, as Sigma backends over array fields do.
#[test]
fn arrays_under_filters_and_all() {
    check(
        "sel:\n  Data|contains: 'Login failed'\nfilter:\n  Data|contains: 'CLIENT: 10.'\n\
         condition: sel and not filter",
        &[
            json!({"Data": ["Login failed for user 'sa'.", "[CLIENT: 203.0.113.5]"]}),
            json!({"Data": "Login failed for user 'sa'. [CLIENT: 203.0.113.5]"}),
        ],
        &[
            json!({"Data": ["Login failed for user 'sa'.", "[CLIENT: 10.0.2.17]"]}),
            json!({"Data": "Login failed for user 'sa'. [CLIENT: 10.0.2.17]"}),
        ],
    );
    check(
        "sel:\n  Data|contains|all:\n    - 'object_name:xp_cmdshell'\n    - 'statement:EXEC'\n\
         condition: sel",
        &[
            json!({"Data": ["object_name:xp_cmdshell", "statement:EXEC xp_cmdshell 'whoami'"]}),
            json!({"Data": "object_name:xp_cmdshell statement:EXEC xp_cmdshell 'whoami'"}),
        ],
        &[json!({"Data": ["object_name:xp_cmdshell", "statement:SELECT 1"]})],
    );
}

#[test]
fn keywords_search_the_message() {
    check(
        "keywords:\n  - 'WHOAMI /all'\n  - 'net user'\ncondition: keywords",
        &[json!({})],
        &[],
    );
    check(
        "keywords:\n  - 'mimikatz'\ncondition: keywords",
        &[],
        &[json!({})],
    );
}

#[test]
fn conditions_and_or_not_parentheses() {
    let detection =
        "a:\n  User: alice\nb:\n  User: bob\nc:\n  Image: x\ncondition: (a or b) and not c";
    check(
        detection,
        &[
            json!({"User": "alice"}),
            json!({"User": "bob", "Image": "y"}),
        ],
        &[
            json!({"User": "alice", "Image": "x"}),
            json!({"User": "carol"}),
        ],
    );
}

#[test]
fn one_of_all_of_patterns_and_them() {
    let sels = "selection_a:\n  User: alice\nselection_b:\n  Image: x\n_ignored:\n  Image: never\n";
    check(
        &format!("{sels}condition: 1 of selection_*"),
        &[json!({"User": "alice"}), json!({"Image": "x"})],
        &[json!({"User": "bob"})],
    );
    check(
        &format!("{sels}condition: all of selection_*"),
        &[json!({"User": "alice", "Image": "x"})],
        &[json!({"User": "alice"})],
    );
    // `them` skips names starting with `_`.
    check(
        &format!("{sels}condition: all of them"),
        &[json!({"User": "alice", "Image": "x"})],
        &[json!({"User": "alice"})],
    );
    check(
        &format!("{sels}condition: 1 of them"),
        &[json!({"Image": "x"})],
        &[json!({"Image": "never"})],
    );
}

#[test]
fn undefined_selection_is_rejected() {
    let report = RuleSet::load_str(
        &rule_text("sel:\n  User: a\ncondition: sel and other"),
        "x.yml",
    );
    assert!(report.rules.is_empty());
    assert!(!report.rejected.is_empty());
}

#[test]
fn unknown_modifier_is_rejected_with_line() {
    let text = format!(
        "# leading comment\n{}",
        rule_text("sel:\n  User|frobnicate: a\ncondition: sel")
    );
    let report = RuleSet::load_str(&text, "x.yml");
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, Some(1));
    assert!(
        report.rejected[0].reason.to_string().contains("frobnicate"),
        "{}",
        report.rejected[0].reason
    );
}

#[test]
fn logsource_selects_events() {
    let report = RuleSet::load_str(&rule_text("sel:\n  User: alice\ncondition: sel"), "x.yml");
    let rule = &report.rules[0];
    let security_4624: Event = serde_json::from_value(json!({
        "winlog": {"channel": "Security", "event_id": "4624", "event_data": {"User": "alice"}}
    }))
    .unwrap();
    assert!(rule.matches(&security_4624).is_none());
    let security_4688: Event = serde_json::from_value(json!({
        "winlog": {"channel": "Security", "event_id": "4688",
                   "event_data": {"SubjectUserName": "alice", "NewProcessName": "C:\\a.exe"}}
    }))
    .unwrap();
    assert!(rule.matches(&security_4688).is_some());
}

#[test]
fn match_lists_selections_and_fields() {
    let report = RuleSet::load_str(
        &rule_text(
            "sel:\n  User: alice\n  Image|endswith: x\nfilter:\n  CommandLine: y\ncondition: sel and not filter",
        ),
        "x.yml",
    );
    let rule = &report.rules[0];
    let found = rule
        .matches(&sysmon_1(json!({"User": "alice", "Image": "ax"})))
        .unwrap();
    assert_eq!(found.selections, ["sel"]);
    assert_eq!(found.fields, ["User", "Image"]);
    assert_eq!(rule.id(), "11111111-1111-1111-1111-111111111111");
    assert_eq!(rule.meta.level, Some(crate::Level::High));
    assert_eq!(
        rule.meta.attack_tags().collect::<Vec<_>>(),
        ["attack.execution", "attack.t1059"]
    );
    assert_eq!(rule.logsource.category.as_deref(), Some("process_creation"));
}

#[test]
fn every_document_is_accounted_for() {
    let text = "\
action: global
title: multi
logsource: {product: windows, service: security}
detection:
  condition: sel
---
detection:
  sel: {EventID: 4624}
---
detection:
  sel: {EventID|frob: 4625}
---
title: [unclosed
";
    let report = RuleSet::load_str(text, "multi.yml");
    assert_eq!(report.rules.len(), 1, "{:?}", report.rejected);
    // The bad modifier (document at line 10) and the YAML error both reported.
    assert_eq!(report.rejected.len(), 2, "{:?}", report.rejected);
    assert_eq!(report.rejected[0].line, Some(10));
    assert!(matches!(report.rejected[1].reason, RuleError::Yaml(_)));
}

#[test]
fn correlation_rules_are_loaded_and_the_report_says_where_they_run() {
    let text = "\
title: base
name: failed_logon
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: many failed logons
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gte: 10}
";
    let report = RuleSet::load_str(text, "corr.yml");
    assert_eq!(report.rules.len(), 1);
    assert_eq!(report.correlations.len(), 1, "{:?}", report.rejected);
    assert_eq!(report.correlations[0].timespan_secs, 300);
    assert_eq!(report.loaded(), 2);
}

const FILTERED_RULES: &str = "\
title: whoami
id: 00000000-0000-0000-0000-0000000000a1
name: whoami_rule
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '\\whoami.exe'}
  condition: sel
---
title: net
id: 00000000-0000-0000-0000-0000000000a2
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '\\net.exe'}
  condition: sel
---
title: file whoami
id: 00000000-0000-0000-0000-0000000000a3
logsource: {product: windows, category: file_event}
detection:
  sel: {TargetFilename|endswith: 'whoami.exe'}
  condition: sel
";

/// Loads `FILTERED_RULES` plus `filter` and applies the filters.
fn filtered(filter: &str) -> (Vec<crate::CompiledRule>, usize, Vec<crate::FilterFailure>) {
    let mut report = RuleSet::load_str(&format!("{FILTERED_RULES}---\n{filter}"), "f.yml");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.filters.len(), 1);
    let (applied, failures) = crate::apply_filters(
        &mut report.rules,
        &report.filters,
        &crate::Mappings::builtin(),
    );
    (report.rules, applied, failures)
}

#[test]
fn filters_suppress_matches_of_the_rules_they_target() {
    let admin = sysmon_1(json!({"Image": "C:\\Windows\\whoami.exe", "User": "CORP\\adm_bob"}));
    let user = sysmon_1(json!({"Image": "C:\\Windows\\whoami.exe", "User": "CORP\\alice"}));
    let net_admin = sysmon_1(json!({"Image": "C:\\Windows\\net.exe", "User": "CORP\\adm_bob"}));
    // By id, condition `not selection` (the common form).
    let (rules, applied, failures) = filtered(
        "title: admins\nid: f1\nlogsource: {product: windows, category: process_creation}\n\
         filter:\n  rules: [00000000-0000-0000-0000-0000000000a1]\n  selection: {User|contains: '\\adm_'}\n  condition: not selection\n",
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(applied, 1);
    assert_eq!(rules[0].filters, ["f1"]);
    assert!(rules[0].matches(&admin).is_none());
    let found = rules[0].matches(&user).expect("a non-admin still matches");
    assert_eq!(found.selections, ["sel"]);
    assert!(rules[1].matches(&net_admin).is_some(), "untargeted rule");
    // By name, and `rules: any` limited by logsource: the file_event rule is not covered.
    let (rules, applied, _) = filtered(
        "title: any\nlogsource: {product: windows}\nfilter:\n  rules: any\n  selection: {User|contains: '\\adm_'}\n  condition: not selection\n",
    );
    assert_eq!(applied, 3, "the filter's product covers all three rules");
    assert!(rules[1].matches(&net_admin).is_none());
    let (rules, applied, _) = filtered(
        "title: named\nlogsource: {product: windows, category: process_creation}\nfilter:\n  rules: [whoami_rule]\n  selection: {User|contains: '\\adm_'}\n  condition: not selection\n",
    );
    assert_eq!(applied, 1);
    assert!(rules[0].matches(&admin).is_none() && rules[0].matches(&user).is_some());
    let (rules, applied, _) = filtered(
        "title: scoped\nlogsource: {product: windows, category: file_event}\nfilter:\n  rules: any\n  selection: {User|contains: '\\adm_'}\n  condition: not selection\n",
    );
    assert_eq!(applied, 1);
    assert_eq!(rules[2].filters, ["scoped"]);
    assert!(rules[0].filters.is_empty() && rules[0].matches(&admin).is_some());
}

#[test]
fn filter_detections_that_do_not_compile_are_reported_per_rule() {
    let (rules, applied, failures) = filtered(
        "title: broken\nid: f2\nlogsource: {product: windows}\nfilter:\n  rules: any\n  selection: {User|re: '(unclosed'}\n  condition: not selection\n",
    );
    assert_eq!(applied, 0);
    assert_eq!(failures.len(), 3);
    assert_eq!(failures[0].filter, "f2");
    let user = sysmon_1(json!({"Image": "C:\\Windows\\whoami.exe"}));
    assert!(
        rules[0].matches(&user).is_some(),
        "an unfiltered rule still works"
    );
}

#[test]
fn builtin_mappings_load() {
    let _ = crate::Mappings::builtin();
}

#[test]
fn unmapped_logsource_loads_but_sees_no_events() {
    let text = "title: t\nlogsource: {product: zeek, service: rdp}\ndetection:\n  sel: {x: 1}\n  filter: {y: 2}\n  condition: not filter\n";
    let report = RuleSet::load_str(text, "zeek.yml");
    assert_eq!(report.rules.len(), 1);
    assert!(
        report.warnings[0].message.contains("sees no events"),
        "{:?}",
        report.warnings
    );
    assert!(report.rules[0].matches(&sysmon_1(json!({}))).is_none());
    let text = "title: t\nlogsource: {product: windows, category: no_such_category}\ndetection:\n  filter: {y: 2}\n  condition: not filter\n";
    let report = RuleSet::load_str(text, "w.yml");
    assert!(report.rules[0].matches(&sysmon_1(json!({}))).is_none());
}

/// Sysmon 12 is both key creation and deletion: `registry_add` and `registry_delete` tell
/// them apart by `EventType` (a RunMRU deletion rule fired on every RunMRU creation).
#[test]
fn registry_add_and_delete_see_their_own_sysmon_12_events() {
    let rule = |category: &str| {
        let text = format!(
            "title: t\nlogsource: {{product: windows, category: {category}}}\ndetection:\n  sel: {{TargetObject|endswith: '\\RunMRU'}}\n  condition: sel\n"
        );
        RuleSet::load_str(&text, "r.yml").rules.remove(0)
    };
    let event = |event_id: &str, event_type: &str| -> Event {
        serde_json::from_value(json!({"winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational", "event_id": event_id,
            "event_data": {"EventType": event_type,
                           "TargetObject": "HKU\\S-1\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RunMRU"}
        }}))
        .unwrap()
    };
    let table = [
        ("registry_delete", "12", "DeleteKey", true),
        ("registry_delete", "12", "DeleteValue", true),
        ("registry_delete", "12", "CreateKey", false),
        ("registry_delete", "13", "DeleteKey", false),
        ("registry_add", "12", "CreateKey", true),
        ("registry_add", "12", "createkey", true),
        ("registry_add", "12", "DeleteKey", false),
        ("registry_event", "12", "CreateKey", true),
        ("registry_event", "12", "DeleteKey", true),
    ];
    for (category, event_id, event_type, expected) in table {
        let found = rule(category)
            .matches(&event(event_id, event_type))
            .is_some();
        assert_eq!(
            found, expected,
            "{category} on event {event_id} {event_type}"
        );
    }
}

#[test]
fn linux_rules_see_syslog_events_not_windows_ones() {
    let text = "title: t\nlogsource: {product: linux, service: sshd}\ndetection:\n  keywords: ['POSSIBLE BREAK-IN']\n  condition: keywords\n";
    let report = RuleSet::load_str(text, "l.yml");
    let rule = &report.rules[0];
    let sshd: Event = serde_json::from_value(json!({
        "log": {"syslog": {"appname": "sshd"}}, "process": {"name": "sshd"},
        "message": "reverse mapping checking getaddrinfo failed - POSSIBLE BREAK-IN ATTEMPT!"
    }))
    .unwrap();
    assert!(rule.matches(&sshd).is_some());
    let mut windows = sysmon_1(json!({}));
    windows.insert("message", "POSSIBLE BREAK-IN".into());
    assert!(rule.matches(&windows).is_none());
}

/// Rules routed by channel and event id, by an `EventID` their condition requires, or not
/// at all (`not`, `or` with a branch free of event ids): the engine finds what each rule's
/// `matches` finds.
#[test]
fn engine_routes_without_changing_results() {
    let rule = |id: u32, logsource: &str, detection: &str| {
        let detection: String = detection.lines().map(|l| format!("  {l}\n")).collect();
        format!(
            "title: r{id}\nid: 00000000-0000-0000-0000-{id:012}\nlogsource: {logsource}\n\
             detection:\n{detection}"
        )
    };
    let windows = "{product: windows}";
    let security = "{product: windows, service: security}";
    let process = "{product: windows, category: process_creation}";
    let rules = [
        rule(1, windows, "sel: {EventID: 4624}\ncondition: sel"),
        rule(2, windows, "sel: {EventID: 4624}\ncondition: not sel"),
        rule(
            3,
            windows,
            "sel: {EventID: [4624, 4625]}\nkw: {Channel: Security}\ncondition: sel or kw",
        ),
        rule(
            4,
            windows,
            "sel: {EventID: 4624}\nother: {EventID: 4625}\ncondition: sel or other",
        ),
        rule(
            5,
            security,
            "sel: {EventID: 4625}\nf: {EventID: 1}\ncondition: sel and not f",
        ),
        rule(
            6,
            process,
            "sel: {Image|endswith: '\\whoami.exe'}\ncondition: sel",
        ),
        rule(
            7,
            "{product: zeek, service: dns}",
            "sel: {query: x}\ncondition: not sel",
        ),
        rule(
            8,
            windows,
            "sel:\n  - EventID: 4624\n  - Channel: Security\ncondition: sel",
        ),
        rule(
            9,
            "{product: linux}",
            "sel: {EventID: 4624}\ncondition: sel",
        ),
        rule(10, windows, "sel: {EventID|gt: 4000}\ncondition: sel"),
        rule(
            11,
            windows,
            "sel: {EventID: 4624}\nother: {EventID: 4625}\ncondition: 1 of sel*",
        ),
    ]
    .join("---\n");
    let report = RuleSet::load_str(&rules, "routing.yml");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let engine = crate::Engine::new(report.rules.clone());
    let events = [
        json!({"winlog": {"channel": "Security", "event_id": 4624}}),
        json!({"winlog": {"channel": "security", "event_id": "4625"}}),
        json!({"winlog": {"channel": "System", "event_id": 4624}}),
        json!({"winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1",
                          "event_data": {"Image": "C:\\x\\WhoAmI.exe"}}}),
        json!({"winlog": {"channel": ["Security", "System"], "event_id": 4624}}),
        json!({"winlog": {"channel": "Security", "event_id": [4625, 1]}}),
        json!({"winlog": {"channel": "Security"}}),
        json!({"EventID": 4624, "message": "linux"}),
        json!({"winlog": {"channel": "Security", "event_id": null}}),
    ];
    let mut total = 0;
    for event in events {
        let event: Event = serde_json::from_value(event).unwrap();
        let naive: Vec<(usize, crate::Match)> = report
            .rules
            .iter()
            .enumerate()
            .filter_map(|(idx, rule)| rule.matches(&event).map(|m| (idx, m)))
            .collect();
        let indexed: Vec<(usize, crate::Match)> = engine
            .matches(&event)
            .into_iter()
            .map(|d| (d.index, d.found))
            .collect();
        assert_eq!(naive, indexed, "{event:?}");
        assert_eq!(engine.is_match(&event), !naive.is_empty());
        total += naive.len();
    }
    assert!(total >= 10, "the table exercises matches: {total}");
    let stats = engine.stats();
    assert_eq!(stats.never, 1, "{stats}");
    assert!(stats.fallback >= 3, "{stats}");
}
