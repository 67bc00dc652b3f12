//! Matcher throughput: `cargo run --release -p intel --example ioc_bench -- [N_INDICATORS]`.
//!
//! Loads N synthetic indicators (60% IPv4, 5% CIDR blocks, 20% domains with subdomain
//! matching, 15% SHA-256), then measures on one core: raw IP and domain lookups per second
//! and whole-event matching (ECS events with source/destination IP, DNS name, URL and file
//! hash) per second, with half the lookups hitting. Prints load time and RSS (the set and
//! the matcher index, as the server holds them).

use std::hint::black_box;
use std::time::Instant;

use intel::{Indicator, IndicatorKind, Matcher, Tlp};

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// A deterministic pseudo-random sequence (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn ip(n: u64) -> String {
    let v = (n as u32) | 0x0100_0000;
    std::net::Ipv4Addr::from(v).to_string()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rss_before = rss_mib();
    let start = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ips = Vec::new();
    let mut domains = Vec::new();
    let mut hashes = Vec::new();
    let indicators = (0..n).map(|i| {
        let r = rng.next();
        let (kind, value) = match i % 20 {
            0..12 => {
                let value = ip(r);
                if ips.len() < 100_000 {
                    ips.push(value.clone());
                }
                (IndicatorKind::Ip, value)
            }
            12 => (IndicatorKind::Ip, format!("{}/24", ip(r & !0xff))),
            13..17 => {
                let value = format!("d{r:x}.example{}.com", r % 97);
                if domains.len() < 100_000 {
                    domains.push(value.clone());
                }
                (IndicatorKind::Domain, value)
            }
            _ => {
                let value = format!(
                    "{r:016x}{:016x}{:016x}{:016x}",
                    r.rotate_left(7),
                    r.rotate_left(19),
                    r.rotate_left(41)
                );
                if hashes.len() < 100_000 {
                    hashes.push(value.clone());
                }
                (IndicatorKind::Sha256, value)
            }
        };
        let mut indicator =
            Indicator::new(kind, &value, "bench", Tlp::Green).expect("valid synthetic value");
        indicator.include_subdomains = kind == IndicatorKind::Domain;
        indicator
    });
    // As the server holds them: the set (deduplicated, persisted) and the matcher built
    // from it, sharing the indicators.
    let mut set = intel::IndicatorSet::new();
    for indicator in indicators {
        set.insert(indicator);
    }
    let rss_set = rss_mib();
    let matcher = Matcher::new(&set, jiff::Timestamp::now());
    let load = start.elapsed();
    let rss = rss_mib();
    println!(
        "indicators: {} loaded (set + matcher) in {:.2} s; RSS {:.0} MiB ({:.0} MiB set, {:.0} MiB matcher index)",
        matcher.len(),
        load.as_secs_f64(),
        rss,
        rss_set - rss_before,
        rss - rss_set
    );
    println!(
        "per indicator: {:.0} B in the set ({} B of them the Indicator struct itself)",
        (rss_set - rss_before) * 1024.0 * 1024.0 / n as f64,
        std::mem::size_of::<Indicator>()
    );

    // Raw lookups: half hits, half misses.
    let probes: Vec<std::net::IpAddr> = (0..1_000_000)
        .map(|i| {
            if i % 2 == 0 {
                ips[i % ips.len()].parse().unwrap()
            } else {
                ip(rng.next()).parse().unwrap()
            }
        })
        .collect();
    let rounds = 5;
    let start = Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        for probe in &probes {
            found += usize::from(black_box(matcher.lookup_ip(*probe)).is_some());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ip lookups: {:.1} M/s per core ({} of {} found)",
        (rounds * probes.len()) as f64 / secs / 1e6,
        found,
        rounds * probes.len()
    );

    let names: Vec<String> = (0..1_000_000)
        .map(|i| {
            if i % 2 == 0 {
                format!("www.{}", domains[i % domains.len()])
            } else {
                format!("n{:x}.benign{}.org", rng.next(), i % 13)
            }
        })
        .collect();
    let start = Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        for name in &names {
            found += usize::from(black_box(matcher.lookup_domain(name)).is_some());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "domain lookups (subdomain walk): {:.1} M/s per core ({} found)",
        (rounds * names.len()) as f64 / secs / 1e6,
        found
    );

    let events: Vec<event::Event> = (0..100_000)
        .map(|i| {
            let hit = i % 2 == 0;
            let source = if hit { ips[i % ips.len()].clone() } else { ip(rng.next()) };
            serde_json::from_value(serde_json::json!({
                "@timestamp": "2024-01-01T00:00:00Z",
                "source": {"ip": source},
                "destination": {"ip": ip(rng.next())},
                "dns": {"question": {"name": names[i % names.len()]}},
                "url": {"full": format!("https://n{i}.example.org/path?q={i}")},
                "file": {"hash": {"sha256": if hit { hashes[i % hashes.len()].clone() } else { format!("{:064x}", i) }}}
            }))
            .unwrap()
        })
        .collect();
    let start = Instant::now();
    let mut hits = Vec::new();
    let mut n_hits = 0;
    for _ in 0..rounds {
        for event in &events {
            hits.clear();
            matcher.match_event(event, &mut hits);
            n_hits += hits.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "events (5 observables each, URL normalized): {:.0} k events/s per core ({} hits)",
        (rounds * events.len()) as f64 / secs / 1e3,
        n_hits
    );
}
