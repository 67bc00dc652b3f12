//! `sentinella`: the one binary.
//!
//! - `serve`: run everything on embedded defaults
//! - `import`: EVTX, JSON/NDJSON and plain log files into a running server or a stopped data dir
//! - `search`: query a running server
//! - `alerts`: list alerts raised by live detection (`serve --rules DIR`)
//! - `bench`: end-to-end throughput, query latency, disk and memory figures
//! - `rules check|list|enable|disable`: load Sigma rules and report what loaded and what was
//!   rejected; a running server's rules
//! - `hunt`: run Sigma rules over EVTX, JSON/NDJSON and log files (no server needed), or over
//!   a running server's stored events (`--since`)
//! - `phish`: analyse suspicious emails offline (`analyze`), measure accuracy (`eval`)
//! - `user`: add, change, disable and list console users
//! - `intel`: import feeds, export blocklists and STIX, share preview, withdraw, check patterns

mod bench;
mod client;
mod files;
mod hunt;
mod import;
mod intel;
mod phish;
mod rules;
mod search;
mod user;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

// Events are built on the pipeline thread and freed on the indexer thread; glibc's
// allocator serializes such cross-thread frees on arena locks (a fifth of the writer's
// time in profiles), mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "sentinella",
    version,
    about = "Open-source security operations center"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Sentinella: intake, store, search API.
    Serve(ServeArgs),
    /// Import EVTX, JSON/NDJSON or plain log files and folders.
    Import(import::ImportArgs),
    /// Search stored events on a running server.
    Search(search::SearchArgs),
    /// List alerts raised by live detection on a running server.
    Alerts(search::SearchArgs),
    /// Measure ingest throughput, query latency, disk use and memory.
    Bench(bench::BenchArgs),
    /// Sigma rules: `check DIR` reports rules loaded and rejected; `list`, `enable ID`,
    /// `disable ID` manage a running server's rules.
    Rules(rules::RulesArgs),
    /// Phishing: `analyze` .eml files offline, `eval` accuracy and speed over labelled folders.
    Phish(phish::PhishArgs),
    /// Hunt with Sigma rules over EVTX, JSON/NDJSON and log files (no server needed).
    /// Exits 0 when the hunt ran, with or without detections.
    Hunt(hunt::HuntArgs),
    /// Console users: `add`, `passwd`, `role`, `disable`, `enable`, `list`.
    User(user::UserArgs),
    /// Threat intel: `import`, `export`, `share-preview`, `withdraw`, `check-pattern`.
    Intel(intel::IntelArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// TOML configuration file; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory [default: ./sentinella-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// API address [default: 127.0.0.1:8080].
    #[arg(long)]
    http_listen: Option<SocketAddr>,
    /// Syslog address, UDP and TCP [default: 127.0.0.1:5514].
    #[arg(long)]
    syslog_listen: Option<SocketAddr>,
    /// Elasticsearch-compatible API address [default: 127.0.0.1:9200].
    #[arg(long)]
    es_listen: Option<SocketAddr>,
    /// Sigma rules (folder or file) evaluated on every ingested event; repeatable.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,evtx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Import(args) => import::run(args),
        Command::Search(args) => search::run(args),
        Command::Alerts(args) => search::run_alerts(args),
        Command::Bench(args) => bench::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Hunt(args) => hunt::run(args),
        Command::Phish(args) => phish::run(args),
        Command::User(args) => user::run(args),
        Command::Intel(args) => intel::run(args),
    };
    // `sentinella hunt ... | head` closes our stdout early: that ends the output, it is not
    // a failure worth a backtrace.
    match result {
        Err(err) if is_broken_pipe(&err) => Ok(()),
        other => other,
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => server::ServerConfig::load(path)?,
        None => server::ServerConfig::default(),
    };
    if let Some(data_dir) = args.data_dir {
        config.data_dir = data_dir;
    }
    if let Some(addr) = args.http_listen {
        config.http_listen = addr;
    }
    if let Some(addr) = args.syslog_listen {
        config.syslog.listen = addr;
    }
    if let Some(addr) = args.es_listen {
        config.es_listen = addr;
    }
    if !args.rules.is_empty() {
        config.rules = args.rules;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sentinella")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(server::run(config, shutdown_signal(), |_| {}))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
