//! Feature tests on the real data in `../shared/data` (CTI bundles, feeds, warninglists).

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use proptest::prelude::*;

use crate::export::{self, Format};
use crate::import::{self, ImportOptions, csv::Layout};
use crate::*;

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(data(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn options() -> ImportOptions {
    let mut options = ImportOptions::new("test-feed", Tlp::Amber);
    options.now = "2024-01-01T00:00:00Z".parse().unwrap();
    options
}

fn event(json: serde_json::Value) -> event::Event {
    serde_json::from_value(json).unwrap()
}

#[test]
fn tlp_ids_are_the_published_marking_definitions() {
    let bundle: serde_json::Value =
        serde_json::from_slice(&read("cti/tlp2/tlp2_marking_definitions_bundle.json")).unwrap();
    let mut seen = 0;
    for object in bundle["objects"].as_array().unwrap() {
        if object["type"] != "marking-definition" {
            assert_eq!(object["id"], TLP2_EXTENSION_ID);
            continue;
        }
        let tlp: Tlp = object["name"].as_str().unwrap().parse().unwrap();
        assert_eq!(tlp.marking_id(), object["id"]);
        assert_eq!(tlp.marking_definition(), *object);
        assert_eq!(
            Tlp::from_marking_id(object["id"].as_str().unwrap()),
            Some(tlp)
        );
        seen += 1;
    }
    assert_eq!(seen, 5);
    assert!(Tlp::Green.shareable_with(Tlp::Amber));
    assert!(!Tlp::Amber.shareable_with(Tlp::Green));
    assert!(
        !Tlp::Red.shareable_with(Tlp::Red),
        "RED is never shared automatically"
    );
    assert_eq!("tlp:white".parse::<Tlp>().unwrap(), Tlp::Clear);
}

#[test]
fn every_stix_bundle_in_the_data_imports() {
    let mut n_files = 0;
    let mut n_indicators = 0;
    let mut n_patterns = 0;
    for dir in [
        "cti/stix-examples",
        "cti/stix-examples/threat-reports",
        "cti/stix-documentation-examples",
        "cti/stix-validator-examples",
        "cti/attack/ics-attack",
        "cti/attack/mobile-attack",
        "cti/tlp2",
    ] {
        for entry in std::fs::read_dir(data(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            n_files += 1;
            let bytes = std::fs::read(&path).unwrap();
            match import::stix::import(&bytes, &options()) {
                Ok(report) => {
                    n_indicators += report.indicators.len();
                    n_patterns += report.patterns.len();
                }
                // The validator's deliberately broken JSON is refused with the reason.
                Err(ImportError::Json(_)) => assert!(
                    path.to_string_lossy().contains("invalid_"),
                    "{}",
                    path.display()
                ),
                Err(error) => panic!("{}: {error}", path.display()),
            }
        }
    }
    assert!(n_files >= 30, "{n_files}");
    assert!(n_indicators > 50, "{n_indicators}");
    assert!(n_patterns >= 3, "{n_patterns}");
}

#[test]
fn stix_indicators_keep_their_attributes() {
    let report = import::stix::import(
        &read("cti/stix-documentation-examples/poisonivy.json"),
        &options(),
    )
    .unwrap();
    // The example itself has one broken value: reported, the rest imported.
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0]
            .reason
            .contains("`domain autuo.xicp.net`: not a domain name")
    );
    let domain = report
        .indicators
        .iter()
        .find(|i| i.value == "www.webserver.dynssl.com")
        .unwrap();
    assert_eq!(domain.kind, IndicatorKind::Domain);
    assert!(domain.valid_from.is_some());
    let report = import::stix::import(
        &read("cti/stix-documentation-examples/apt1.json"),
        &options(),
    )
    .unwrap();
    let block = report
        .indicators
        .iter()
        .find(|i| i.value == "223.166.0.0/15")
        .unwrap();
    assert_eq!(block.kind, IndicatorKind::Ip);
    // Patterns that need more than one event are kept, with the reason.
    let report = import::stix::import(
        &read("cti/stix-examples/malicious-email-indicator-with-attachment.json"),
        &options(),
    )
    .unwrap();
    assert_eq!(report.patterns.len(), 2);
    assert_eq!(
        report.patterns[0].reason,
        "no indicator type for `email-message:subject`"
    );
    // TLP markings.
    let mut clear = options();
    clear.default_tlp = Tlp::Clear;
    let report = import::stix::import(
        &read("cti/stix-documentation-examples/using-marking-definitions.json"),
        &clear,
    )
    .unwrap();
    assert_eq!(report.indicators.len(), 1);
    assert_eq!(
        report.indicators[0].tlp,
        Tlp::Amber,
        "the TLP 1.0 AMBER marking, not the default"
    );
    assert_eq!(
        report.indicators[0].sources,
        ["Stark Industries"],
        "created_by_ref names the source"
    );
}

#[test]
fn stix_sightings_and_observed_data_are_read() {
    let report = import::stix::import(
        &read("cti/stix-documentation-examples/sighting-of-observed-data.json"),
        &options(),
    )
    .unwrap();
    assert!(!report.sightings.is_empty());
    assert!(
        report.sightings.iter().any(|s| !s.observed.is_empty()),
        "{:?}",
        report.sightings
    );
    let report = import::stix::import(
        &read("cti/stix-documentation-examples/sighting-of-an-indicator.json"),
        &options(),
    )
    .unwrap();
    let sighting = report
        .sightings
        .iter()
        .find(|s| s.sighting_of.is_some())
        .unwrap();
    assert!(
        sighting
            .sighting_of
            .as_deref()
            .unwrap()
            .starts_with("indicator--")
    );
}

#[test]
fn attack_bundles_import_as_context() {
    let report = import::stix::import(
        &read("cti/attack/ics-attack/ics-attack-18.1.json"),
        &options(),
    )
    .unwrap();
    assert!(report.indicators.is_empty());
    assert!(
        report.problems.is_empty(),
        "{:?}",
        &report.problems[..3.min(report.problems.len())]
    );
    assert!(
        report
            .ignored
            .get("attack-pattern (context object)")
            .copied()
            .unwrap_or(0)
            > 50,
        "{:?}",
        report.ignored
    );
}

#[test]
fn misp_feed_imports_only_attributes_for_detection() {
    let dir = "cti/feeds/misp-feed-sample/feed";
    let ids = import::misp::manifest_event_ids(&read(&format!("{dir}/manifest.json"))).unwrap();
    assert_eq!(ids.len(), 2);
    let mut n_indicators = 0;
    let mut n_not_for_ids = 0;
    for id in ids {
        let report =
            import::misp::import_event(&read(&format!("{dir}/{id}.json")), &options()).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        n_indicators += report.indicators.len();
        n_not_for_ids += report
            .ignored
            .get("attribute not for detection (to_ids false)")
            .copied()
            .unwrap_or(0);
        for indicator in &report.indicators {
            assert!(
                indicator.sources[0].contains("CIRCL"),
                "{:?}",
                indicator.sources
            );
            assert_eq!(indicator.tlp, Tlp::Clear, "events are tagged tlp:white");
        }
    }
    assert!(n_indicators > 10, "{n_indicators}");
    assert!(n_not_for_ids > 0);
}

#[test]
fn abusech_presets_and_warninglists() {
    let report = import::csv::import(
        &read("cti/feeds/abusech/feodotracker_ipblocklist_2021-02.csv"),
        &Layout::preset("feodo").unwrap(),
        &options(),
    )
    .unwrap();
    let values: Vec<&str> = report.indicators.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(values, ["10.213.75.205", "192.16.238.101"]);
    assert_eq!(report.indicators[0].tags, ["Dridex"]);
    assert_eq!(
        report.indicators[0].first_seen,
        Some("2021-01-17T07:30:05Z".parse().unwrap())
    );
    let report2 = import::csv::import(
        &read("cti/feeds/abusech/urlhaus_tld_feed_2019-02.csv"),
        &Layout::preset("urlhaus").unwrap(),
        &options(),
    )
    .unwrap();
    assert_eq!(report2.indicators.len(), 2);
    assert_eq!(
        report2.indicators[0].value,
        "http://marconuenlist.ch/verif.accounts.docs.net/"
    );
    assert_eq!(report2.indicators[0].tags, ["malware_download"]);

    let mut lists = Warninglists::new();
    for name in [
        "rfc1918",
        "tranco10k",
        "public-dns-v4",
        "google",
        "empty-hashes",
        "url-shortener",
    ] {
        lists.push(
            Warninglist::from_json(&read(&format!("intel/warninglists/{name}/list.json"))).unwrap(),
        );
    }
    let mut indicators = report.indicators;
    let suppressed = lists.suppress(&mut indicators);
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0].0.value, "10.213.75.205");
    assert!(suppressed[0].1.contains("RFC 1918"), "{}", suppressed[0].1);
    let google = Indicator::new(
        IndicatorKind::Url,
        "https://www.google.com/x",
        "t",
        Tlp::Clear,
    )
    .unwrap();
    assert!(lists.check(&google).is_some());
    let dns = Indicator::new(IndicatorKind::Ip, "8.8.8.8", "t", Tlp::Clear).unwrap();
    assert!(lists.check(&dns).is_some());
    let empty = Indicator::new(
        IndicatorKind::Md5,
        "d41d8cd98f00b204e9800998ecf8427e",
        "t",
        Tlp::Clear,
    )
    .unwrap();
    assert!(lists.check(&empty).is_some());
}

#[test]
fn hostile_csv_is_reported_not_fatal() {
    let mut csv = String::from("1.2.3.4\nnot a value !!\n\"unterminated\n");
    csv.push_str(&"x".repeat(import::csv::MAX_LINE_BYTES + 1));
    csv.push_str("\n5.6.7.8/33\n9.9.9.0/24\nevil.example\n");
    let report = import::csv::import(csv.as_bytes(), &Layout::plain(None), &options()).unwrap();
    let values: Vec<&str> = report.indicators.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(values, ["1.2.3.4", "9.9.9.0/24", "evil.example"]);
    assert_eq!(report.problems.len(), 4, "{:?}", report.problems);
    assert!(
        import::csv::import(
            b"a,b\n1,2\n",
            &Layout::preset("urlhaus").unwrap(),
            &options()
        )
        .is_err()
    );
}

fn sample_set() -> IndicatorSet {
    let mut set = IndicatorSet::new();
    let mut add = |kind, value: &str, tlp, subdomains| {
        let mut indicator = Indicator::new(kind, value, "feed", tlp).unwrap();
        indicator.include_subdomains = subdomains;
        indicator.confidence = 80;
        set.insert(indicator);
    };
    add(IndicatorKind::Ip, "198.51.100.7", Tlp::Clear, false);
    add(IndicatorKind::Ip, "203.0.113.0/24", Tlp::Green, false);
    add(IndicatorKind::Ip, "2001:db8::/32", Tlp::Green, false);
    add(IndicatorKind::Domain, "evil.example", Tlp::Amber, true);
    add(IndicatorKind::Domain, "exact.example", Tlp::Clear, false);
    add(
        IndicatorKind::Url,
        "HTTP://Bad.Example:80/path?q=1#frag",
        Tlp::AmberStrict,
        false,
    );
    add(IndicatorKind::Sha256, &"AB".repeat(32), Tlp::Red, false);
    add(
        IndicatorKind::Email,
        "Phish@Evil.Example",
        Tlp::Clear,
        false,
    );
    set
}

#[test]
fn matcher_finds_observables_in_events() {
    let set = sample_set();
    let matcher = Matcher::new(&set, Timestamp::now());
    let check = |json: serde_json::Value, expected: &[&str]| {
        let mut hits = Vec::new();
        matcher.match_event(&event(json.clone()), &mut hits);
        let found: Vec<&str> = hits.iter().map(|h| h.indicator.value.as_str()).collect();
        assert_eq!(found, expected, "{json}");
    };
    check(
        serde_json::json!({"source": {"ip": "198.51.100.7"}}),
        &["198.51.100.7"],
    );
    check(
        serde_json::json!({"destination": {"ip": "203.0.113.99"}}),
        &["203.0.113.0/24"],
    );
    check(
        serde_json::json!({"destination": {"ip": "::ffff:198.51.100.7"}}),
        &["198.51.100.7"],
    );
    check(
        serde_json::json!({"destination": {"ip": "2001:db8:1::5"}}),
        &["2001:db8::/32"],
    );
    check(
        serde_json::json!({"destination": {"ip": "203.0.114.1"}}),
        &[],
    );
    check(
        serde_json::json!({"dns": {"question": {"name": "a.b.EVIL.example."}}}),
        &["evil.example"],
    );
    check(
        serde_json::json!({"dns": {"question": {"name": "sub.exact.example"}}}),
        &[],
    );
    check(
        serde_json::json!({"dns": {"question": {"name": "notevil.example"}}}),
        &[],
    );
    check(
        serde_json::json!({"url": {"full": "http://bad.example/path?q=1"}}),
        &["http://bad.example/path?q=1"],
    );
    check(
        serde_json::json!({"file": {"hash": {"sha256": "ab".repeat(32)}}}),
        &[&"ab".repeat(32)],
    );
    check(
        serde_json::json!({"email": {"from": {"address": ["phish@evil.example"]}}}),
        &["phish@evil.example"],
    );
    check(
        serde_json::json!({"source.ip": "198.51.100.7"}),
        &["198.51.100.7"],
    );
}

#[test]
fn set_deduplicates_expires_withdraws_and_round_trips() {
    let mut set = sample_set();
    let mut again =
        Indicator::new(IndicatorKind::Ip, "198.51.100.7", "other-feed", Tlp::Amber).unwrap();
    again.confidence = 95;
    again.tags = vec!["c2".into()];
    assert_eq!(set.insert(again), Inserted::Merged);
    let merged = set.get(IndicatorKind::Ip, "198.51.100.7").unwrap();
    assert_eq!(merged.sources, ["feed", "other-feed"]);
    assert_eq!((merged.confidence, merged.tlp), (95, Tlp::Amber));

    let now = Timestamp::now();
    let mut expiring =
        Indicator::new(IndicatorKind::Domain, "old.example", "feed", Tlp::Clear).unwrap();
    expiring.valid_until = Some(now - jiff::SignedDuration::from_hours(1));
    set.insert(expiring);
    assert!(set.withdraw(IndicatorKind::Domain, "EXACT.example", now));
    let matcher = Matcher::new(&set, now);
    assert!(
        matcher.lookup_domain("exact.example").is_none(),
        "withdrawn"
    );
    assert!(matcher.lookup_domain("old.example").is_none(), "expired");
    assert_eq!(set.expire(now), 1);

    let text = set.to_jsonl();
    let (back, problems) = IndicatorSet::from_jsonl(&(text.clone() + "{broken\n"));
    assert_eq!(problems.len(), 1);
    assert_eq!(back.to_jsonl(), text);
    assert!(
        back.get(IndicatorKind::Domain, "exact.example")
            .unwrap()
            .withdrawn
    );
}

#[test]
fn exports_respect_the_selection() {
    let set = sample_set();
    let now = Timestamp::now();
    let selection = Selection::up_to(Tlp::Green, now);
    let chosen: Vec<Indicator> = set.select(&selection).collect();
    assert_eq!(
        export::edl(&chosen, IndicatorKind::Ip),
        "198.51.100.7\n2001:db8::/32\n203.0.113.0/24\n"
    );
    assert_eq!(
        export::edl(&chosen, IndicatorKind::Domain),
        "exact.example\n",
        "AMBER withheld"
    );
    let nft = export::export(Format::Nft, &chosen, &[], now);
    assert!(
        nft.contains("type ipv4_addr")
            && nft.contains("203.0.113.0/24")
            && nft.contains("2001:db8::/32"),
        "{nft}"
    );

    let everything = Selection::up_to(Tlp::Red, now);
    let all: Vec<Indicator> = set.select(&everything).collect();
    let rpz = export::rpz(&all, now);
    assert!(
        rpz.contains("\nevil.example CNAME .\n*.evil.example CNAME .\n"),
        "{rpz}"
    );
    assert!(
        rpz.contains("\nexact.example CNAME .\n") && !rpz.contains("*.exact.example"),
        "{rpz}"
    );
    let rules = export::suricata(&all);
    assert_eq!(
        rules.lines().filter(|l| l.starts_with("alert")).count(),
        7,
        "{rules}"
    );
    assert!(
        rules.contains("alert ip [203.0.113.0/24] any <> any any"),
        "{rules}"
    );
    assert!(
        rules.contains("http.host; content:\"bad.example\""),
        "{rules}"
    );
    let sids: std::collections::HashSet<&str> = rules
        .split("sid:")
        .skip(1)
        .map(|s| s.split(';').next().unwrap())
        .collect();
    assert_eq!(sids.len(), 7, "unique sids");

    let bundle = export::stix_bundle(&all, &[], now);
    let objects = bundle["objects"].as_array().unwrap();
    let indicators: Vec<_> = objects
        .iter()
        .filter(|o| o["type"] == "indicator")
        .collect();
    assert_eq!(indicators.len(), all.len());
    for object in indicators {
        let pattern = object["pattern"].as_str().unwrap();
        let values = pattern::matchable_values(&pattern::parse(pattern).unwrap()).unwrap();
        assert!(
            set.get(
                values[0].kind,
                &values[0].kind.normalize(&values[0].value).unwrap()
            )
            .is_some(),
            "{pattern}"
        );
    }
    // The exported bundle imports back to the same indicators.
    let report = import::stix::import(bundle.to_string().as_bytes(), &options()).unwrap();
    assert_eq!(report.indicators.len(), all.len());
    assert!(report.indicators.iter().any(|i| i.tlp == Tlp::AmberStrict));
}

#[test]
fn share_preview_counts_what_is_withheld() {
    let set = sample_set();
    let partners = [
        sharing::Partner {
            name: "CERT-X".into(),
            max_tlp: Tlp::AmberStrict,
            collections: vec![],
            contacts: vec![],
        },
        sharing::Partner {
            name: "CSIRT-Y".into(),
            max_tlp: Tlp::Green,
            collections: vec![],
            contacts: vec![],
        },
    ];
    let preview = sharing::preview(&set, &partners, Timestamp::now());
    assert_eq!(
        preview[0].to_string(),
        "7 indicators to CERT-X (cleared up to TLP:AMBER+STRICT); 1 withheld from CERT-X: 1 TLP:RED"
    );
    assert_eq!(preview[1].shared, 5);
    assert_eq!(preview[1].withheld.values().sum::<usize>(), 3);
}

proptest! {
    #[test]
    fn csv_import_never_panics(input in proptest::collection::vec(any::<u8>(), 0..2000)) {
        for preset in ["plain", "feodo", "urlhaus", "threatfox"] {
            let _ = import::csv::import(&input, &Layout::preset(preset).unwrap(), &options());
        }
    }

    #[test]
    fn json_importers_never_panic(input in "\\PC{0,300}") {
        let _ = import::stix::import(input.as_bytes(), &options());
        let _ = import::misp::import_event(input.as_bytes(), &options());
        let _ = import::misp::manifest_event_ids(input.as_bytes());
        let _ = Warninglist::from_json(input.as_bytes());
    }

    #[test]
    fn normalization_is_idempotent(value in "[a-zA-Z0-9.:/@_-]{1,60}") {
        for kind in IndicatorKind::ALL {
            if let Ok(once) = kind.normalize(&value) {
                prop_assert_eq!(kind.normalize(&once), Ok(once.clone()), "{:?}", kind);
            }
        }
    }
}

#[test]
fn revoked_stix_indicators_retract_their_source() {
    let now = Timestamp::now();
    let mut set = IndicatorSet::new();
    for source in ["cert", "isac"] {
        set.insert(Indicator::new(IndicatorKind::Ip, "198.51.100.50", source, Tlp::Green).unwrap());
    }
    set.insert(Indicator::new(IndicatorKind::Ip, "198.51.100.51", "cert", Tlp::Green).unwrap());
    let bundle = serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "identity", "id": "identity--c", "name": "cert"},
        {"type": "indicator", "id": "indicator--a", "created_by_ref": "identity--c", "revoked": true,
         "pattern": "[ipv4-addr:value = '198.51.100.50'] OR [ipv4-addr:value = '198.51.100.51']", "pattern_type": "stix"}]});
    let report = import::stix::import(bundle.to_string().as_bytes(), &options()).unwrap();
    assert!(report.indicators.is_empty());
    assert_eq!(report.revoked.len(), 2);
    for (kind, value, source) in &report.revoked {
        set.retract(*kind, value, source, now);
    }
    let shared = set.get(IndicatorKind::Ip, "198.51.100.50").unwrap();
    assert_eq!(
        (shared.sources.as_slice(), shared.withdrawn),
        (["isac".to_owned()].as_slice(), false)
    );
    assert!(
        set.get(IndicatorKind::Ip, "198.51.100.51")
            .unwrap()
            .withdrawn,
        "its only source revoked it"
    );
    let exported = export::stix_indicator(&set.get(IndicatorKind::Ip, "198.51.100.51").unwrap());
    assert_eq!(exported["revoked"], true);
}

#[test]
fn domain_lookup_walks_parents_by_label_case_folded() {
    let domain = |value: &str, subdomains: bool| {
        let mut indicator =
            Indicator::new(IndicatorKind::Domain, value, "feed", Tlp::Clear).unwrap();
        indicator.include_subdomains = subdomains;
        indicator
    };
    let matcher = Matcher::from_indicators([
        domain("evil.example", true),
        domain("exact.example", false),
        domain("ab.c", false),
        domain("deep.evil.example", false),
    ]);
    let found = |name: &str| matcher.lookup_domain(name).map(|i| i.indicator().value);
    assert_eq!(found("evil.example").as_deref(), Some("evil.example"));
    assert_eq!(found("WWW.Evil.Example.").as_deref(), Some("evil.example"));
    assert_eq!(
        found("deep.evil.example").as_deref(),
        Some("deep.evil.example"),
        "exact first"
    );
    assert_eq!(
        found("x.deep.evil.example").as_deref(),
        Some("evil.example"),
        "nearest including parent"
    );
    assert_eq!(found("exact.example").as_deref(), Some("exact.example"));
    assert_eq!(
        found("www.exact.example").as_deref(),
        None,
        "parent without subdomains"
    );
    assert_eq!(found("a.bc").as_deref(), None, "labels are hashed apart");
    assert_eq!(found("example").as_deref(), None);
    assert_eq!(found("notevil.example").as_deref(), None);
    assert_eq!(found("").as_deref(), None);
    assert_eq!(found("..evil.example").as_deref(), Some("evil.example"));
    // More labels than the hashes kept on the stack: still walked to the parent.
    let long = format!("{}evil.example", "a.".repeat(100));
    assert_eq!(found(&long).as_deref(), Some("evil.example"));
    assert_eq!(
        found(&format!("{}x.example", "a.".repeat(100))).as_deref(),
        None
    );
}

#[test]
fn a_default_matcher_finds_nothing_and_never_panics() {
    // What `SharedMatcher::default()` holds before any set was built.
    let matcher = Matcher::default();
    for kind in IndicatorKind::ALL {
        assert!(
            matcher
                .lookup_value(kind, "00112233445566778899aabbccddeeff")
                .is_none()
        );
        assert!(
            matcher
                .lookup_value(kind, "https://example.com/x")
                .is_none()
        );
    }
    assert!(matcher.lookup_domain("example.com").is_none());
    assert!(matcher.lookup_ip("192.0.2.1".parse().unwrap()).is_none());
    let shared = crate::SharedMatcher::default();
    assert!(
        shared
            .current()
            .lookup_value(IndicatorKind::Email, "a@b.example")
            .is_none()
    );
}

#[test]
fn list_of_host_matches_names_not_substrings() {
    let mut lists = Warninglists::new();
    lists.push(
        Warninglist::from_json(
            br#"{"name": "Disposable", "type": "substring", "list": ["tmail.com", "mailinator.com"]}"#,
        )
        .unwrap(),
    );
    lists.push(
        Warninglist::from_json(
            br#"{"name": "Dynamic DNS", "type": "hostname", "list": [".duckdns.org"]}"#,
        )
        .unwrap(),
    );
    // The indicator check of a substring list is loose on purpose (`hotmail.com` holds
    // `tmail.com`); a host question is not.
    assert_eq!(lists.list_of_host("hotmail.com"), None);
    assert_eq!(
        lists.list_of_host("mailinator.com"),
        Some(("Disposable", "mailinator.com".to_owned()))
    );
    assert_eq!(
        lists.list_of_host("x.y.duckdns.org."),
        Some(("Dynamic DNS", "duckdns.org".to_owned()))
    );
    assert_eq!(lists.list_of_host("org"), None);
    assert_eq!(lists.list_of_host(&"a.".repeat(5_000)), None);
    assert_eq!(lists.list_of_host(""), None);
}
