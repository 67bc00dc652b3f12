//! `sentinella bench`: end-to-end figures on this machine.
//!
//! Starts a server in this process on a fresh data directory and free ports, then:
//! syslog over TCP → stored and searchable; Elasticsearch `_bulk` → stored and
//! searchable; needle-search and 24 h histogram latency; bytes on disk per raw byte;
//! idle and peak RSS. The load generator runs in the same process and shares the CPU.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::client::{Client, ServerArgs};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Events per phase (syslog, then _bulk).
    #[arg(long, default_value_t = 500_000)]
    pub events: u64,
    /// Directory for the benchmark's data dir [default: a temporary directory, removed after].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Parallel senders per phase.
    #[arg(long, default_value_t = 2)]
    pub senders: u64,
    /// Sigma rules for live detection during the run (as `serve --rules`); repeatable.
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let data_dir = args.dir.clone().unwrap_or_else(|| temp.path().join("data"));
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut config = server::ServerConfig {
        data_dir: data_dir.clone(),
        http_listen: any,
        es_listen: any,
        ..Default::default()
    };
    config.syslog.listen = any;
    config.rules = args.rules.clone();

    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_thread = std::thread::spawn(move || -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(server::run(
            config,
            async {
                let _ = stop_rx.await;
            },
            move |addrs| {
                let _ = ready_tx.send(addrs.clone());
            },
        ))
    });
    let addrs = ready_rx
        .recv_timeout(Duration::from_secs(60))
        .context("server did not start")?;
    let client = Client::new(&ServerArgs {
        server: format!("http://{}", addrs.http),
        token: None,
        data_dir: data_dir.clone(),
    })?;
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = rss_kib("VmRSS");
    println!(
        "machine: {} cores; idle RSS after start: {:.1} MiB",
        num_cpus(),
        idle_rss as f64 / 1024.0
    );

    // RSS counts mapped index files too (the OS can drop those pages at will); the
    // anonymous part is the memory Sentinella really holds. Sample both.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = std::sync::Arc::clone(&sampling);
        std::thread::spawn(move || {
            let mut peak_anon = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak_anon = peak_anon.max(rss_kib("RssAnon"));
                std::thread::sleep(Duration::from_millis(100));
            }
            peak_anon
        })
    };
    let day_start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    let n = args.events;

    // Phase 1: syslog over TCP, newline framing.
    let started = Instant::now();
    let mut raw_bytes = 0u64;
    let handles: Vec<_> = (0..args.senders)
        .map(|sender| {
            let addr = addrs.syslog;
            let senders = args.senders;
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let stream = std::net::TcpStream::connect(addr)?;
                let mut writer = std::io::BufWriter::with_capacity(1 << 20, stream);
                let mut bytes = 0u64;
                let mut idx = sender;
                while idx < n {
                    let line = syslog_line(idx, n, day_start);
                    writer.write_all(line.as_bytes())?;
                    bytes += line.len() as u64;
                    idx += senders;
                }
                writer.flush()?;
                Ok(bytes)
            })
        })
        .collect();
    for handle in handles {
        raw_bytes += handle
            .join()
            .map_err(|_| anyhow::anyhow!("sender panicked"))??;
    }
    wait_indexed(&client, n)?;
    report("syslog tcp → searchable", n, raw_bytes, started.elapsed());

    // Phase 2: Elasticsearch _bulk.
    let started = Instant::now();
    let token = crate::client::read_token(&data_dir)?;
    let mut bulk_bytes = 0u64;
    let handles: Vec<_> = (0..args.senders)
        .map(|sender| {
            let url = format!("http://{}/_bulk", addrs.es);
            let token = token.clone();
            let senders = args.senders;
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(300)))
                    .build()
                    .new_agent();
                let mut bytes = 0u64;
                let mut body = Vec::with_capacity(4 << 20);
                let mut idx = sender;
                let mut in_body = 0;
                while idx < n {
                    body.extend_from_slice(b"{\"create\":{\"_index\":\"logs-bench\"}}\n");
                    let doc = bulk_doc(idx, n, day_start);
                    bytes += doc.len() as u64;
                    body.extend_from_slice(doc.as_bytes());
                    body.push(b'\n');
                    in_body += 1;
                    idx += senders;
                    if in_body == 5_000 || idx >= n {
                        loop {
                            let response = agent
                                .post(&url)
                                .header("Authorization", format!("Bearer {token}"))
                                .header("Content-Type", "application/x-ndjson")
                                .send(&body[..]);
                            match response {
                                Ok(_) => break,
                                Err(ureq::Error::StatusCode(429)) => {
                                    std::thread::sleep(Duration::from_millis(50))
                                }
                                Err(error) => return Err(error.into()),
                            }
                        }
                        body.clear();
                        in_body = 0;
                    }
                }
                Ok(bytes)
            })
        })
        .collect();
    for handle in handles {
        bulk_bytes += handle
            .join()
            .map_err(|_| anyhow::anyhow!("sender panicked"))??;
    }
    wait_indexed(&client, 2 * n)?;
    report("es _bulk → searchable", n, bulk_bytes, started.elapsed());

    // Queries.
    let needle = format!("user.name:user-{}", n / 2 + 7);
    let needle_ms = time_queries(
        &client,
        &format!(
            "/api/v1/search?q={}&limit=10",
            crate::search::encode(&needle)
        ),
        30,
    )?;
    println!(
        "needle search `{needle}` over {} events: {}",
        2 * n,
        percentiles(&needle_ms)
    );
    let text_ms = time_queries(
        &client,
        "/api/v1/search?q=%22session%20opened%22%20AND%20host.name%3Aweb-07&limit=10",
        10,
    )?;
    println!("full-text + field search: {}", percentiles(&text_ms));
    let from = crate::search::encode(&day_start.to_string());
    let mut histogram_ms = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let body = serde_json::json!({
            "q": "*", "from": day_start.to_string(), "limit": 0,
            "aggregations": [{"type": "date_histogram", "name": "per_hour", "interval_secs": 3600}]
        });
        let response = client.post(
            "/api/v1/search",
            "application/json",
            body.to_string().as_bytes(),
        )?;
        histogram_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if response["total"].as_u64().unwrap_or(0) == 0 {
            bail!("histogram matched nothing (from {from})");
        }
    }
    println!(
        "24 h date histogram (1 h buckets) over {} events: {}",
        2 * n,
        percentiles(&histogram_ms)
    );

    let store_bytes = dir_bytes(&data_dir.join("store"));
    let total_raw = raw_bytes + bulk_bytes;
    println!(
        "disk: {:.1} MiB for {:.1} MiB raw = {:.3} bytes per raw byte",
        store_bytes as f64 / 1048576.0,
        total_raw as f64 / 1048576.0,
        store_bytes as f64 / total_raw as f64
    );
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak_anon = sampler.join().unwrap_or(0);
    println!(
        "peak RSS: {:.1} MiB (of which anonymous memory, sampled every 100 ms: {:.1} MiB; the rest is mapped index files)",
        rss_kib("VmHWM") as f64 / 1024.0,
        peak_anon as f64 / 1024.0
    );
    let _ = stop_tx.send(());
    server_thread
        .join()
        .map_err(|_| anyhow::anyhow!("server panicked"))??;
    Ok(())
}

fn syslog_line(idx: u64, n: u64, day_start: jiff::Timestamp) -> String {
    let ts = spread(idx, n, day_start);
    let host = format!("web-{:02}", idx % 50);
    let user = format!("user-{idx}");
    let ip = format!(
        "10.{}.{}.{}",
        (idx >> 16) & 255,
        (idx >> 8) & 255,
        idx & 255
    );
    match idx % 4 {
        0 => format!(
            "<38>1 {ts} {host} sshd {pid} - - Accepted password for {user} from {ip} port {port} ssh2\n",
            pid = 1000 + idx % 30000,
            port = 1024 + idx % 60000
        ),
        1 => format!(
            "<38>1 {ts} {host} sshd {pid} - - Failed password for invalid user {user} from {ip} port {port} ssh2\n",
            pid = 1000 + idx % 30000,
            port = 1024 + idx % 60000
        ),
        2 => format!(
            "<86>1 {ts} {host} sudo - - - {user} : TTY=pts/{tty} ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx\n",
            tty = idx % 8
        ),
        _ => format!(
            "<86>1 {ts} {host} su - - - pam_unix(su:session): session opened for user root by {user}(uid={uid})\n",
            uid = 1000 + idx % 5000
        ),
    }
}

fn bulk_doc(idx: u64, n: u64, day_start: jiff::Timestamp) -> String {
    let ts = spread(idx, n, day_start);
    serde_json::json!({
        "@timestamp": ts.to_string(),
        "message": format!("GET /api/items/{} HTTP/1.1 200", idx % 10_000),
        "host": {"name": format!("app-{:02}", idx % 40)},
        "source": {"ip": format!("192.168.{}.{}", (idx >> 8) & 255, idx & 255), "port": 1024 + idx % 60000},
        "url": {"path": format!("/api/items/{}", idx % 10_000)},
        "http": {"response": {"status_code": 200, "body": {"bytes": 512 + idx % 4096}}},
        "user": {"name": format!("user-{}", idx + n)},
        "event": {"dataset": "nginx.access", "duration": idx % 1_000_000},
    })
    .to_string()
}

fn spread(idx: u64, n: u64, day_start: jiff::Timestamp) -> jiff::Timestamp {
    let offset_ms = (idx as u128 * 86_400_000 / n.max(1) as u128) as i64;
    day_start + jiff::SignedDuration::from_millis(offset_ms)
}

fn wait_indexed(client: &Client, n: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let stats = client.get_json("/api/v1/stats")?;
        if stats["indexed_events"].as_u64().unwrap_or(0) >= n
            && stats["index_lag_events"].as_u64() == Some(0)
        {
            client.post("/api/v1/store/refresh", "application/json", b"")?;
            let total = client.get_json("/api/v1/search?q=*&limit=0")?["total"]
                .as_u64()
                .unwrap_or(0);
            if total >= n {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("events not searchable after an hour: {stats}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn report(what: &str, n: u64, bytes: u64, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{what}: {n} events, {:.1} MiB in {secs:.1} s = {:.0} events/s, {:.1} MiB/s",
        bytes as f64 / 1048576.0,
        n as f64 / secs,
        bytes as f64 / 1048576.0 / secs
    );
}

fn time_queries(client: &Client, path: &str, times: usize) -> anyhow::Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(times);
    for _ in 0..times {
        let started = Instant::now();
        client.get_json(path)?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(samples)
}

fn percentiles(samples: &[f64]) -> String {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    format!(
        "p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        at(0.5),
        at(0.95),
        at(1.0)
    )
}

fn rss_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(key))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|value| value.parse().ok())
        })
        .unwrap_or(0)
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&path) {
            for entry in entries.filter_map(Result::ok) {
                match entry.metadata() {
                    Ok(meta) if meta.is_dir() => stack.push(entry.path()),
                    Ok(meta) => total += meta.len(),
                    Err(_) => {}
                }
            }
        }
    }
    total
}
