//! Matcher throughput: `cargo run --release -p intel --example ioc_bench -- [N_INDICATORS]`.
//!
//! Loads N synthetic indicators (60% IPv4, 5% CIDR blocks, 20% domains with subdomain
//! matching, 15% SHA-256) into the set and builds the matcher from it, as the server holds
//! them, then measures on one core: raw IP, domain and SHA-256 lookups per second and
//! whole-event matching (ECS events with source/destination IP, DNS name, URL and file
//! hash) per second, with half the lookups hitting. Prints load and rebuild times, and
//! RSS (peak and after loading).

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
    let set_load = start.elapsed();
    let build = Instant::now();
    let matcher = Matcher::new(&set, jiff::Timestamp::now());
    let build = build.elapsed();
    let load = start.elapsed();
    let rss = rss_mib();
    println!(
        "indicators: {} loaded (set + matcher) in {:.2} s ({:.2} s set, {:.2} s matcher build); RSS {:.0} MiB ({:.0} MiB set, {:.0} MiB matcher tables)",
        matcher.len(),
        load.as_secs_f64(),
        set_load.as_secs_f64(),
        build.as_secs_f64(),
        rss,
        rss_set - rss_before,
        rss - rss_set
    );
    println!(
        "per indicator: {:.0} B in RSS ({:.0} B set, of which {:.0} B records; {:.0} B matcher tables)",
        (rss - rss_before) * 1024.0 * 1024.0 / n as f64,
        (rss_set - rss_before) * 1024.0 * 1024.0 / n as f64,
        set.arena_bytes() as f64 / n as f64,
        matcher.table_bytes() as f64 / n as f64,
    );
    // A change rebuilds the matcher (the old one serves until the swap).
    let rebuild = Instant::now();
    let rebuilt = Matcher::new(&set, jiff::Timestamp::now());
    println!(
        "matcher rebuild: {:.2} s; RSS with both matchers {:.0} MiB",
        rebuild.elapsed().as_secs_f64(),
        rss_mib()
    );
    drop(rebuilt);

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
    let start = Clock::start();
    let mut found = 0usize;
    for _ in 0..rounds {
        for probe in &probes {
            found += usize::from(black_box(matcher.lookup_ip(*probe)).is_some());
        }
    }
    println!(
        "ip lookups: {} ({} of {} found)",
        start.rate(rounds * probes.len(), 1e6, "M"),
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
    let start = Clock::start();
    let mut found = 0usize;
    for _ in 0..rounds {
        for name in &names {
            found += usize::from(black_box(matcher.lookup_domain(name)).is_some());
        }
    }
    println!(
        "domain lookups (subdomain walk): {} ({} found)",
        start.rate(rounds * names.len(), 1e6, "M"),
        found
    );

    // Real traffic is nearly all misses: the rate of those alone.
    let start = Clock::start();
    let mut found = 0usize;
    for _ in 0..rounds {
        for name in names.iter().skip(1).step_by(2) {
            found += usize::from(black_box(matcher.lookup_domain(name)).is_some());
        }
    }
    println!(
        "domain lookups, misses only: {} ({} found)",
        start.rate(rounds * names.len() / 2, 1e6, "M"),
        found
    );

    let digests: Vec<String> = (0..1_000_000)
        .map(|i| {
            if i % 2 == 0 {
                hashes[i % hashes.len()].clone()
            } else {
                format!("{:016x}{:048x}", rng.next(), i)
            }
        })
        .collect();
    let start = Clock::start();
    let mut found = 0usize;
    for _ in 0..rounds {
        for digest in &digests {
            found += usize::from(
                black_box(matcher.lookup_value(IndicatorKind::Sha256, digest)).is_some(),
            );
        }
    }
    println!(
        "sha256 lookups: {} ({} found)",
        start.rate(rounds * digests.len(), 1e6, "M"),
        found
    );

    let start = Clock::start();
    let mut found = 0usize;
    for _ in 0..rounds {
        for digest in digests.iter().skip(1).step_by(2) {
            found += usize::from(
                black_box(matcher.lookup_value(IndicatorKind::Sha256, digest)).is_some(),
            );
        }
    }
    println!(
        "sha256 lookups, misses only: {} ({} found)",
        start.rate(rounds * digests.len() / 2, 1e6, "M"),
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
    let start = Clock::start();
    let mut hits = Vec::new();
    let mut n_hits = 0;
    for _ in 0..rounds {
        for event in &events {
            hits.clear();
            matcher.match_event(event, &mut hits);
            n_hits += hits.len();
        }
    }
    println!(
        "events (5 observables each, URL normalized): {} ({} hits)",
        start.rate(rounds * events.len(), 1e3, "k"),
        n_hits
    );
    println!("peak RSS: {:.0} MiB", peak_rss_mib());
}

/// Wall time and this thread's CPU time (`/proc/thread-self/schedstat`): on a shared
/// machine the CPU-time rate is the per-core figure, the wall-time one what was seen.
struct Clock {
    wall: Instant,
    cpu_ns: u64,
}

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: Instant::now(),
            cpu_ns: thread_cpu_ns(),
        }
    }

    fn rate(&self, ops: usize, unit: f64, unit_name: &str) -> String {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = (thread_cpu_ns() - self.cpu_ns) as f64 / 1e9;
        format!(
            "{:.1} {unit_name}/s per core of CPU time ({:.1} {unit_name}/s wall)",
            ops as f64 / cpu / unit,
            ops as f64 / wall / unit
        )
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}
