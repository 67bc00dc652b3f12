//! The composition root: reads configuration, opens the store, starts the pipeline and
//! every listener, and shuts them down in order (sources, then pipeline, then store),
//! so nothing acknowledged is lost on a clean stop either.

mod config;
mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::watch;
use tower::limit::GlobalConcurrencyLimitLayer;

pub use config::{RetentionConfig, ServerConfig, StoreTuning};
pub use token::{ADMIN_TOKEN_FILE, ensure_admin_token, tokens_equal};

/// Requests handled at once per HTTP listener; more wait, unread, in their sockets. With
/// request bodies of up to 100 MiB this is what bounds ingest memory.
const MAX_CONCURRENT_REQUESTS: usize = 32;

/// Addresses the server actually bound (ports may have been 0).
#[derive(Debug, Clone)]
pub struct BoundAddrs {
    /// The API.
    pub http: SocketAddr,
    /// The Elasticsearch-compatible API.
    pub es: SocketAddr,
    /// Syslog UDP and TCP.
    pub syslog: SocketAddr,
    /// Syslog TLS, when configured.
    pub syslog_tls: Option<SocketAddr>,
}

/// Where open correlation windows are kept across a clean restart.
const CORRELATION_STATE_FILE: &str = "correlation-state.json";

/// Restores correlation windows saved at the last clean shutdown. A missing or bad file
/// costs open windows, never the start.
fn restore_correlation_state(detector: &mut detect::Detector, path: &std::path::Path) {
    match std::fs::read_to_string(path) {
        Ok(json) => match detector.restore_state(&json) {
            Ok(()) => tracing::info!(path = %path.display(), "correlation state restored"),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "correlation state ignored")
            }
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "correlation state unreadable")
        }
    }
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Loads the Sigma rules for live detection. Rejected rules are reported and skipped;
/// they never stop the server.
fn load_detector(paths: &[std::path::PathBuf]) -> anyhow::Result<Option<detect::Detector>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut rules = Vec::new();
    let mut correlations: Vec<sigma::CorrelationRule> = Vec::new();
    for path in paths {
        let report = sigma::RuleSet::load_dir(path);
        for rejected in report.rejected.iter().take(5) {
            tracing::warn!(path = %rejected.path.display(), reason = %rejected.reason, "sigma rule rejected");
        }
        tracing::info!(
            dir = %path.display(),
            loaded = report.rules.len(),
            rejected = report.rejected.len(),
            correlations = report.correlations.len(),
            "sigma rules loaded"
        );
        rules.extend(report.rules);
        correlations.extend(report.correlations);
    }
    anyhow::ensure!(
        !rules.is_empty(),
        "no Sigma rule could be loaded from {paths:?}"
    );
    let (detector, failed) = detect::Detector::with_correlations(rules, &correlations);
    for (correlation, reason) in failed {
        tracing::warn!(%correlation, %reason, "sigma correlation not evaluated");
    }
    Ok(Some(detector))
}

/// Runs Sentinella until `shutdown` resolves. `on_ready` gets the bound addresses once
/// every listener is up.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
    on_ready: impl FnOnce(&BoundAddrs) + Send,
) -> anyhow::Result<()> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let (token, created) = ensure_admin_token(&config.data_dir)?;
    let token_path = config.data_dir.join(ADMIN_TOKEN_FILE);
    if created {
        tracing::info!(path = %token_path.display(), "admin api token created");
    } else {
        tracing::info!(path = %token_path.display(), "admin api token loaded");
    }
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|err| tracing::warn!(error = %err, "metrics recorder not installed"))
        .ok();
    if metrics.is_some() {
        ingest::metrics::describe();
    }

    let store_config = config.store_config();
    let store: Arc<dyn store::EventStore> = Arc::new(
        tokio::task::spawn_blocking(move || store::EmbeddedStore::open(store_config))
            .await?
            .context("opening the event store")?,
    );
    let normalizer = Arc::new(match &config.mappings_dir {
        Some(dir) => normalize::Normalizer::from_dir(dir)
            .map_err(|err| anyhow::anyhow!("{err}"))
            .with_context(|| format!("loading mappings from {}", dir.display()))?,
        None => normalize::Normalizer::builtin(),
    });
    let mut writer = pipeline::Writer::new(Arc::clone(&store), normalizer);
    let state_path = config.data_dir.join(CORRELATION_STATE_FILE);
    if let Some(mut detector) = load_detector(&config.rules)? {
        restore_correlation_state(&mut detector, &state_path);
        writer = writer.with_detector(detector);
    }
    let pipeline = pipeline::Pipeline::start_writer(writer, config.store.queue_batches);
    let auth: Arc<dyn ingest::auth::TokenCheck> =
        Arc::new(move |presented: &str| tokens_equal(presented, &token));

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let syslog = config
        .syslog
        .build()
        .context("starting the syslog source")?;
    let http_listener = tokio::net::TcpListener::bind(config.http_listen)
        .await
        .with_context(|| format!("binding the API to {}", config.http_listen))?;
    let es_listener = tokio::net::TcpListener::bind(config.es_listen)
        .await
        .with_context(|| {
            format!(
                "binding the Elasticsearch-compatible API to {}",
                config.es_listen
            )
        })?;
    let addrs = BoundAddrs {
        http: http_listener.local_addr()?,
        es: es_listener.local_addr()?,
        syslog: syslog.tcp_addr(),
        syslog_tls: syslog.tls_addr(),
    };

    let api_router = api::router(api::AppState {
        intake: pipeline.intake(),
        store: Arc::clone(&store),
        auth: Arc::clone(&auth),
        metrics,
    });
    let es_router = ingest::sources::elasticsearch::router(pipeline.intake(), Arc::clone(&auth))
        .layer(GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT_REQUESTS));
    let api_router = api_router.layer(GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT_REQUESTS));
    let http_task = tokio::spawn(
        axum::serve(http_listener, api_router)
            .with_graceful_shutdown(stopped(stop_rx.clone()))
            .into_future(),
    );
    let es_task = tokio::spawn(
        axum::serve(
            es_listener,
            es_router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped(stop_rx.clone()))
        .into_future(),
    );
    let syslog_task = tokio::spawn(syslog.run(pipeline.intake(), stopped(stop_rx.clone())));
    tracing::info!(
        http = %addrs.http, es = %addrs.es, syslog = %addrs.syslog,
        data_dir = %config.data_dir.display(), "sentinella started"
    );
    on_ready(&addrs);

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for (name, result) in [
        (
            "api",
            http_task.await.map(|r| r.map_err(anyhow::Error::from)),
        ),
        ("es", es_task.await.map(|r| r.map_err(anyhow::Error::from))),
        (
            "syslog",
            syslog_task.await.map(|r| r.map_err(anyhow::Error::from)),
        ),
    ] {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(listener = name, error = %error, "listener stopped with an error")
            }
            Err(error) => tracing::warn!(listener = name, error = %error, "listener task failed"),
        }
    }
    let writer = tokio::task::spawn_blocking(move || pipeline.shutdown()).await?;
    if let Some(state) = writer
        .as_ref()
        .and_then(pipeline::Writer::detector)
        .and_then(detect::Detector::save_state)
        && let Err(error) = write_atomically(&state_path, state.as_bytes())
    {
        tracing::error!(path = %state_path.display(), %error, "correlation state not saved");
    }
    tokio::task::spawn_blocking(move || store.refresh()).await??;
    tracing::info!("stopped");
    Ok(())
}
