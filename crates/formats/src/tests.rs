use std::path::PathBuf;

fn shared(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(path)
}

#[test]
fn dump_evtx() {
    for path in ["evtx/attack-samples/Lateral Movement/LM_WMI_4624_4688_TargetHost.evtx", "evtx/attack-samples/Defense Evasion/DE_ProcessHerpaderping_Sysmon_11_10_1_7.evtx"] {
        let mut parser = ::evtx::EvtxParser::from_path(shared(path)).unwrap();
        for r in parser.records_json_value().take(3) {
            println!("{}", r.unwrap().data);
        }
    }
}
