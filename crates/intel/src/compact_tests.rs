//! The compact form: records round-trip exactly, the change journal replays to the same
//! set, and the matcher's tables find exactly what was indexed.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use jiff::Timestamp;
use proptest::prelude::*;

use crate::compact;
use crate::*;

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (-62_000_000_000i64..250_000_000_000, 0i32..1_000_000_000)
        .prop_map(|(s, ns)| Timestamp::new(s, ns).unwrap_or(Timestamp::UNIX_EPOCH))
}

fn kind_and_value() -> impl Strategy<Value = (IndicatorKind, String)> {
    prop_oneof![
        any::<u32>().prop_map(|ip| (IndicatorKind::Ip, Ipv4Addr::from(ip).to_string())),
        (any::<u32>(), 0u8..=32).prop_map(|(ip, len)| {
            let net = ipnet::Ipv4Net::new(Ipv4Addr::from(ip), len)
                .unwrap()
                .trunc();
            (IndicatorKind::Ip, net.to_string())
        }),
        any::<u128>().prop_map(|ip| (IndicatorKind::Ip, std::net::Ipv6Addr::from(ip).to_string())),
        "[a-z0-9-]{1,20}\\.[a-z]{2,6}".prop_map(|d| (IndicatorKind::Domain, d)),
        "[0-9a-f]{64}".prop_map(|h| (IndicatorKind::Sha256, h)),
        "[0-9a-f]{32}".prop_map(|h| (IndicatorKind::Md5, h)),
        "[0-9a-f]{40}".prop_map(|h| (IndicatorKind::Sha1, h)),
        "[0-9a-f]{128}".prop_map(|h| (IndicatorKind::Sha512, h)),
        "[0-9a-f]{32}".prop_map(|h| (IndicatorKind::Ja3, h)),
        "https://[a-z]{1,10}\\.example/[a-z0-9/?=&]{0,30}".prop_map(|u| (IndicatorKind::Url, u)),
        "[a-z.]{1,10}@[a-z]{1,10}\\.example".prop_map(|e| (IndicatorKind::Email, e)),
        // Values the binary forms do not fit (as a hand-edited file could hold) stay text.
        "[ -~]{0,40}".prop_map(|v| (IndicatorKind::Sha256, v)),
        "[ -~]{0,40}".prop_map(|v| (IndicatorKind::Ip, v)),
    ]
}

prop_compose! {
    fn indicator()(
        (kind, value) in kind_and_value(),
        id in prop_oneof![
            Just(None),
            "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
                .prop_map(|u| Some(format!("indicator--{u}"))),
            "\\PC{0,30}".prop_map(Some),
        ],
        flags in any::<(bool, bool)>(),
        sources in proptest::collection::vec("\\PC{0,12}", 0..3),
        tags in proptest::collection::vec("\\PC{0,12}", 0..3),
        attack in proptest::collection::vec("T[0-9]{4}", 0..2),
        confidence in 0u8..=100,
        times in (
            proptest::option::of(timestamp()),
            proptest::option::of(timestamp()),
            proptest::option::of(timestamp()),
            proptest::option::of(timestamp()),
            timestamp(),
        ),
        tlp in 0usize..5,
        pap in proptest::option::of(0usize..4),
        description in proptest::option::of("\\PC{0,60}"),
        sightings in any::<u64>(),
    ) -> Indicator {
        let derived = derived_id("indicator", &format!("{}:{}", kind.as_str(), value));
        Indicator {
            id: id.unwrap_or(derived),
            kind,
            value,
            include_subdomains: flags.0,
            sources,
            confidence,
            first_seen: times.0,
            last_seen: times.1,
            valid_from: times.2,
            valid_until: times.3,
            tlp: crate::tlp::ALL[tlp],
            pap: pap.map(|p| [Pap::Clear, Pap::Green, Pap::Amber, Pap::Red][p]),
            tags,
            attack,
            description,
            modified: times.4,
            sightings,
            withdrawn: flags.1,
        }
    }
}

proptest! {
    #[test]
    fn records_round_trip_exactly(indicator in indicator()) {
        let mut blob = Vec::new();
        compact::encode(&indicator, &mut blob);
        prop_assert_eq!(compact::decode(&blob), indicator.clone());
        let head = compact::head(&blob);
        prop_assert_eq!(head.kind, indicator.kind);
        prop_assert_eq!(head.valid_until, indicator.valid_until);
        prop_assert_eq!(head.is_active(Timestamp::now()), indicator.is_active(Timestamp::now()));
    }

    #[test]
    fn metadata_reads_what_the_record_decodes_to(indicator in indicator()) {
        let mut blob = Vec::new();
        compact::encode(&indicator, &mut blob);
        let meta = compact::meta(&blob, Position(7));
        prop_assert_eq!(meta.position, Position(7));
        prop_assert_eq!(meta.kind, indicator.kind);
        prop_assert_eq!(meta.tlp, indicator.tlp);
        prop_assert_eq!(meta.confidence, indicator.confidence);
        prop_assert_eq!(meta.modified, indicator.modified);
        prop_assert_eq!(meta.last_seen, indicator.last_seen);
        prop_assert_eq!(meta.valid_from, indicator.valid_from);
        prop_assert_eq!(meta.valid_until, indicator.valid_until);
        prop_assert_eq!(meta.sightings, indicator.sightings);
        prop_assert_eq!(meta.withdrawn, indicator.withdrawn);
        prop_assert_eq!(meta.sources().collect::<Vec<_>>(), indicator.sources.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(meta.tags().collect::<Vec<_>>(), indicator.tags.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(meta.is_active(Timestamp::now()), indicator.is_active(Timestamp::now()));
    }

    #[test]
    fn positions_read_back_the_indicators_listed(
        indicators in proptest::collection::vec(indicator(), 0..30),
    ) {
        let mut set = IndicatorSet::new();
        for indicator in indicators {
            set.insert(indicator);
        }
        let far = Timestamp::MAX;
        let listed: Vec<Indicator> = set.metas().map(|m| set.at(m.position).unwrap()).collect();
        prop_assert_eq!(&listed, &set.indicators().collect::<Vec<_>>());
        for meta in set.metas() {
            let indicator = set.at(meta.position).unwrap();
            prop_assert_eq!(set.id_at(meta.position), Some(indicator.id.clone()));
            prop_assert_eq!(meta.tlp, indicator.tlp);
            prop_assert_eq!(meta.modified, indicator.modified);
            prop_assert!(set.meta_at(meta.position).is_some());
        }
        // Expiry leaves dead positions (or renumbers): listings see only what remains.
        set.expire(far);
        prop_assert_eq!(set.metas().count(), set.len());
        for meta in set.metas() {
            prop_assert!(set.at(meta.position).is_some_and(|i| i.withdrawn || i.valid_until.is_none()));
        }
    }

    #[test]
    fn the_change_journal_replays_to_the_same_set(
        first in proptest::collection::vec(indicator(), 0..20),
        second in proptest::collection::vec(indicator(), 0..20),
        withdrawn in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let mut set = IndicatorSet::new();
        first.into_iter().for_each(|i| { set.insert(i); });
        set.track_changes();
        let before = set.to_jsonl();
        let now = Timestamp::now();
        for indicator in second {
            set.insert(indicator);
        }
        let values: Vec<(IndicatorKind, String)> = set.indicators().map(|i| (i.kind, i.value)).collect();
        for index in withdrawn {
            if !values.is_empty() {
                let (kind, value) = &values[index.index(values.len())];
                set.withdraw(*kind, value, now);
            }
        }
        set.expire(now);
        let mut log = Vec::new();
        set.write_changes(&mut log).unwrap();
        prop_assert!(!set.has_changes());
        let (mut replayed, problems) = IndicatorSet::from_jsonl(&before);
        prop_assert!(problems.is_empty());
        let mut problems = Vec::new();
        replayed.read_jsonl(log.as_slice(), &mut problems).unwrap();
        prop_assert!(problems.is_empty(), "{:?}", problems);
        let sorted = |set: &IndicatorSet| {
            let mut lines: Vec<String> = set.to_jsonl().lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        prop_assert_eq!(sorted(&replayed), sorted(&set));
    }
}

proptest! {
    #[test]
    fn eight_bytes_lowercase_like_one(bytes in any::<[u8; 8]>()) {
        let expected = u64::from_le_bytes(bytes.map(|b| b.to_ascii_lowercase()));
        let word = crate::matcher::ascii_lowercase_word(u64::from_le_bytes(bytes));
        prop_assert_eq!(word, expected);
    }

    #[test]
    fn domain_case_never_changes_the_match(name in "[!-~]{1,40}\\.[a-z]{2,4}") {
        // Every printable ASCII byte, `@`, `[`, `` ` `` and `{` beside the letters included.
        let lower = name.to_ascii_lowercase();
        let mut indicator = Indicator::new(IndicatorKind::Domain, "placeholder.example", "t", Tlp::Clear).unwrap();
        indicator.value = lower.clone();
        let matcher = Matcher::from_indicators([indicator]);
        prop_assert!(matcher.lookup_domain(&name).is_some(), "{}", name);
        prop_assert!(matcher.lookup_domain(&lower).is_some());
    }
}

/// A deterministic pseudo-random sequence (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn the_matcher_finds_exactly_what_is_indexed() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut set = IndicatorSet::new();
    let (mut ips, mut domains, mut hashes) = (HashSet::new(), HashSet::new(), HashSet::new());
    for i in 0..30_000u32 {
        let r = rng.next();
        // Clustered addresses (one /16) as real feeds have, and spread ones.
        let ip = if i % 2 == 0 {
            Ipv4Addr::from(0xc633_0000 | (r as u32 & 0xffff))
        } else {
            Ipv4Addr::from(r as u32)
        };
        ips.insert(ip);
        set.insert(Indicator::new(IndicatorKind::Ip, &ip.to_string(), "t", Tlp::Clear).unwrap());
        let domain = format!("d{:x}.example", r >> 40);
        domains.insert(domain.clone());
        set.insert(Indicator::new(IndicatorKind::Domain, &domain, "t", Tlp::Clear).unwrap());
        let hash = format!("{r:016x}{:048x}", i);
        hashes.insert(hash.clone());
        set.insert(Indicator::new(IndicatorKind::Sha256, &hash, "t", Tlp::Clear).unwrap());
    }
    for net in ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"] {
        set.insert(Indicator::new(IndicatorKind::Ip, net, "t", Tlp::Clear).unwrap());
    }
    let matcher = Matcher::new(&set, Timestamp::now());
    assert_eq!(matcher.len(), set.len());
    for ip in &ips {
        let found = matcher
            .lookup_ip(IpAddr::V4(*ip))
            .expect("indexed ip")
            .indicator();
        assert_eq!(found.value, ip.to_string());
    }
    for domain in &domains {
        let found = matcher
            .lookup_domain(&domain.to_uppercase())
            .expect("indexed domain");
        assert_eq!(&found.indicator().value, domain);
    }
    for hash in &hashes {
        let found = matcher
            .lookup_value(IndicatorKind::Sha256, &hash.to_uppercase())
            .expect("indexed hash");
        assert_eq!(&found.indicator().value, hash);
    }
    let mut misses = 0;
    for i in 0..30_000u64 {
        let r = rng.next();
        let ip = Ipv4Addr::from(r as u32);
        if !ips.contains(&ip) && !ip.to_string().starts_with("10.") {
            assert!(matcher.lookup_ip(IpAddr::V4(ip)).is_none(), "{ip}");
            misses += 1;
        }
        let domain = format!("d{:x}.example", r >> 40);
        if !domains.contains(&domain) {
            assert!(matcher.lookup_domain(&domain).is_none(), "{domain}");
        }
        let hash = format!("{r:016x}{:048x}", i + 1_000_000);
        assert!(matcher.lookup_value(IndicatorKind::Sha256, &hash).is_none());
    }
    assert!(misses > 20_000);
    let net = |ip: &str| {
        matcher
            .lookup_ip(ip.parse().unwrap())
            .map(|f| f.indicator().value)
    };
    assert_eq!(net("10.1.2.3").as_deref(), Some("10.1.2.0/24"));
    assert_eq!(net("10.1.3.3").as_deref(), Some("10.1.0.0/16"));
    assert_eq!(net("10.2.3.3").as_deref(), Some("10.0.0.0/8"));
    assert_eq!(net("11.0.0.1"), None);
    assert!(matcher.lookup_value(IndicatorKind::Sha256, "zz").is_none());
    assert!(
        matcher
            .lookup_value(IndicatorKind::Sha256, &"g".repeat(64))
            .is_none()
    );
}

#[test]
fn huge_records_and_updates_keep_every_record_whole() {
    let mut set = IndicatorSet::new();
    set.track_changes();
    let mut huge = Indicator::new(IndicatorKind::Domain, "huge.example", "t", Tlp::Clear).unwrap();
    huge.description = Some("x".repeat(3 << 20));
    for i in 0..50_000u32 {
        let ip = Ipv4Addr::from(0x0a00_0000 + i).to_string();
        set.insert(Indicator::new(IndicatorKind::Ip, &ip, "t", Tlp::Clear).unwrap());
        if i == 20_000 {
            set.insert(huge.clone());
        }
    }
    // Updates leave garbage behind; writing the changes lets the set compact it.
    let now = Timestamp::now();
    for round in 0..8 {
        for i in (0..50_000u32).step_by(2) {
            let ip = Ipv4Addr::from(0x0a00_0000 + i).to_string();
            assert!(set.record_sighting(
                &derived_id("indicator", &format!("ip:{ip}")),
                1,
                Some(now)
            ));
        }
        set.write_changes(&mut std::io::sink()).unwrap();
        assert_eq!(set.len(), 50_001, "round {round}");
    }
    assert_eq!(
        set.get(IndicatorKind::Domain, "huge.example").unwrap(),
        huge
    );
    // The garbage of the updates was compacted away (~5 MiB live of ~12 MiB written).
    assert!(set.arena_bytes() < 8 << 20, "{}", set.arena_bytes());
    let sighted = set.get(IndicatorKind::Ip, "10.0.0.2").unwrap();
    assert_eq!(sighted.sightings, 8);
    assert_eq!(set.get(IndicatorKind::Ip, "10.0.0.3").unwrap().sightings, 0);
    let matcher = Matcher::new(&set, now);
    assert_eq!(
        matcher.lookup_domain("www.huge.example").map(|f| f.kind()),
        None,
        "no subdomains"
    );
    assert_eq!(
        matcher.lookup_domain("huge.example").unwrap().indicator(),
        huge
    );
}
