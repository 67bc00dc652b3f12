//! YARA rules over attachments and the message (crate boreal), with signature-base as the
//! real rule set.

use std::path::Path;
use std::sync::Arc;

use phish::yara::YaraRules;
use phish::{Analyzer, AnalyzerConfig, OfflineDns};

#[test]
fn signature_base_loads_completely() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/yara/signature-base");
    let rules = YaraRules::load_dir(&dir).unwrap();
    assert_eq!(rules.loaded.len(), 29, "{:?}", rules.problems);
    assert!(rules.problems.is_empty(), "{:?}", rules.problems);
}

#[test]
fn a_matching_attachment_is_reported_with_the_rule_and_its_author() {
    let dir = std::env::temp_dir().join(format!("phish-yara-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("test.yar"),
        "rule Test_Dropper { meta: author = \"Sentinella tests\" strings: $a = \"WScript.Shell\" nocase condition: $a }\n",
    )
    .unwrap();
    std::fs::write(dir.join("broken.yar"), "rule { nope").unwrap();
    let rules = YaraRules::load_dir(&dir).unwrap();
    assert_eq!(rules.loaded.len(), 1);
    assert_eq!(
        rules.problems.len(),
        1,
        "the broken file is reported, the good one still loads"
    );
    let analyzer = Analyzer::new(AnalyzerConfig::default()).with_yara(Arc::new(rules));
    let message = "From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B\r\nContent-Type: application/octet-stream; name=\"a.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\nQ3JlYXRlT2JqZWN0KCJXU2NyaXB0LlNoZWxsIik=\r\n--B--\r\n";
    let report = analyzer.analyze(message.as_bytes(), &OfflineDns);
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == "attachment.yara")
        .expect("yara finding");
    assert!(
        finding.en.contains("Test_Dropper (by Sentinella tests)"),
        "{}",
        finding.en
    );
    let _ = std::fs::remove_dir_all(&dir);
}
