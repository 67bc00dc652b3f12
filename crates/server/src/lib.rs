//! The composition root: reads configuration, opens the store, starts the pipeline and
//! every listener, and shuts them down in order (sources, then pipeline, then store),
//! so nothing acknowledged is lost on a clean stop either.

mod config;
pub mod ingest_health;
pub mod intel;
pub mod oidc;
pub mod phishing;
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

/// Where rules switched off through the API are remembered.
const RULES_STATE_FILE: &str = "rules-state.json";
/// How often the rule directories are checked for changes (hot reload).
/// The rules directory under the data dir, used when no rules are configured.
pub const DEFAULT_RULES_DIR: &str = "rules";
const RULES_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// Correlation state is saved at most this often (and at clean shutdown): a `kill -9`
/// loses at most this much of the open correlation windows.
const CORRELATION_SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The live detector over the library's enabled rules. Rejected rules are reported and
/// skipped; they never stop the server.
///
/// `required`: the rules were configured, so finding none is an error (a wrong path); the
/// default directory may be empty.
fn load_detector(
    library: &detect::RuleLibrary,
    required: bool,
) -> anyhow::Result<Option<detect::Detector>> {
    if library.dirs().is_empty() {
        return Ok(None);
    }
    let listing = library.listing();
    for rejected in listing.rejected.iter().take(5) {
        tracing::warn!(path = %rejected.path, reason = %rejected.reason, "sigma rule rejected");
    }
    tracing::info!(
        dirs = ?listing.dirs,
        loaded = listing.loaded,
        enabled = listing.enabled,
        rejected = listing.rejected.len(),
        "sigma rules loaded"
    );
    anyhow::ensure!(
        !required || listing.rules.iter().any(|rule| rule.kind == "detection"),
        "no Sigma rule could be loaded from {:?}",
        listing.dirs
    );
    let (detector, failed) = library.detector(detect::Origin::Live);
    for (correlation, reason) in failed {
        tracing::warn!(%correlation, %reason, "sigma correlation not evaluated");
    }
    Ok(Some(detector))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// Opens the account store; on first start creates the first admin with a one-time
/// password in `DATA_DIR/initial-admin-password`.
async fn open_accounts(data_dir: &std::path::Path) -> anyhow::Result<Arc<auth::AuthStore>> {
    let data_dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let accounts = auth::AuthStore::open_in(&data_dir)
            .with_context(|| format!("opening {}", data_dir.join(auth::AUTH_DB_FILE).display()))?;
        if let Some(path) = accounts.ensure_initial_admin(&data_dir, unix_now())? {
            tracing::warn!(
                user = auth::INITIAL_ADMIN, path = %path.display(),
                "first admin created: sign in with the one-time password in this file and change it"
            );
        }
        Ok(Arc::new(accounts))
    })
    .await?
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
    let accounts = open_accounts(&config.data_dir).await?;
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
    let live_slot = Arc::new(detect::DetectorSlot::default());
    // Without configured rules, `DATA_DIR/rules` is the rules directory: empty at first,
    // watched like any other, so rules dropped there start detecting without a restart.
    let default_rules = config.rules.is_empty();
    let rule_dirs = if default_rules {
        let dir = config.data_dir.join(DEFAULT_RULES_DIR);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the rules directory {}", dir.display()))?;
        vec![dir]
    } else {
        config.rules.clone()
    };
    let rules = {
        let (dirs, rules_state) = (rule_dirs, config.data_dir.join(RULES_STATE_FILE));
        tokio::task::spawn_blocking(move || detect::RuleLibrary::open(dirs, Some(rules_state)))
            .await?
    };
    let rules = Arc::new(rules.with_live_slot(Arc::clone(&live_slot)));
    let mut rules_watch = None;
    if let Some(mut detector) = load_detector(&rules, !default_rules)? {
        restore_correlation_state(&mut detector, &state_path);
        writer = writer.with_detector(
            detector
                .follow(live_slot)
                .persist_state(state_path.clone(), CORRELATION_SAVE_EVERY),
        );
        rules_watch = Some(
            rules
                .watch(RULES_POLL)
                .context("starting the rules watcher")?,
        );
    }
    // Threat intel: indicators from DATA_DIR/intel, matched on every event.
    let intel_state = {
        let (intel_config, data_dir) = (config.intel.clone(), config.data_dir.clone());
        tokio::task::spawn_blocking(move || intel_config.build(&data_dir)).await??
    };
    writer = writer.with_intel(
        detect::intel::IntelDetector::new(intel_state.lock_matcher())
            .with_sightings(intel_state.sightings.clone()),
    );
    // Per-source ingest health, as the last run left it.
    let health = config.ingest_health.open(&config.data_dir).await;
    let pipeline = pipeline::Pipeline::start_writer_with_health(
        writer,
        config.store.queue_batches,
        Arc::clone(&health),
    );
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

    let api_router = api::router_with_intel(
        api::AppState {
            intake: pipeline.intake(),
            store: Arc::clone(&store),
            auth: Arc::clone(&auth),
            accounts: Arc::clone(&accounts),
            metrics,
            rules: Arc::clone(&rules),
        },
        Some(Arc::clone(&intel_state)),
    );
    // Shippers may also use a personal API token of an analyst or admin (a redb read of
    // tens of microseconds, fine on the async thread).
    let es_auth: Arc<dyn ingest::auth::TokenCheck> = {
        let (auth, accounts) = (Arc::clone(&auth), Arc::clone(&accounts));
        Arc::new(move |presented: &str| {
            auth.check(presented)
                || accounts
                    .check_token(presented, unix_now())
                    .ok()
                    .flatten()
                    .is_some_and(|principal| principal.role >= auth::Role::Analyst)
        })
    };
    let es_router = ingest::sources::elasticsearch::router(pipeline.intake(), es_auth)
        .layer(GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT_REQUESTS));
    // The phishing desk behind `/api/v1/phish` and, when configured, its SMTP intake.
    let phish_desk = phishing::open_desk(
        &config.phish,
        &config.data_dir,
        Some(intel_state.lock_matcher()),
    )
    .await?;
    let phish_intel = config.phish.intel_settings()?;
    let api_router = api_router
        .layer(axum::Extension(Arc::clone(&phish_desk)))
        .layer(axum::Extension(phish_intel));
    let api_router = match phishing::reporter_notifier(Arc::clone(&phish_desk), &config.phish) {
        Some(notifier) => api_router.layer(axum::Extension(notifier)),
        None => api_router,
    };
    let smtp_source = match &config.phish.smtp {
        Some(smtp) => Some(
            ingest::sources::smtp::SmtpSource::bind(smtp.clone())
                .await
                .context("starting the SMTP intake for phishing reports")?,
        ),
        None => None,
    };
    // Sign-in sources: the peer, or what these reverse proxies forward.
    let api_router = api_router.layer(axum::Extension(api::TrustedProxies(
        config.trusted_proxies.clone(),
    )));
    let api_router = api_router.layer(axum::Extension(api::RetentionPolicy {
        max_age_days: config.retention.max_age_days,
        max_bytes: config.retention.max_bytes,
    }));
    // OpenID Connect sign-in, when `[auth.oidc]` is configured.
    let api_router = match &config.auth.oidc {
        Some(oidc) => {
            let service = oidc.build().context("setting up OpenID Connect sign-in")?;
            tracing::info!(issuer = %oidc.issuer, "openid connect sign-in enabled");
            api_router.layer(axum::Extension(service))
        }
        None => api_router,
    };
    let _throttle_task = oidc::spawn_throttle_summaries(Arc::clone(&accounts), stop_rx.clone());
    let api_router = api_router.layer(GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT_REQUESTS));
    let http_task = tokio::spawn(
        axum::serve(
            http_listener,
            api_router.into_make_service_with_connect_info::<SocketAddr>(),
        )
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
    let health_saver = ingest_health::spawn_saver(
        Arc::clone(&health),
        &config.ingest_health,
        &config.data_dir,
        stop_rx.clone(),
    );
    let smtp_task = smtp_source.map(|source| {
        tracing::info!(smtp = %source.addr(), "phishing report intake listening");
        let sink = phishing::IntelSink {
            intel: Arc::clone(&intel_state),
            events: Arc::clone(&store),
            settings: phish_intel,
        };
        let handler = phishing::smtp_handler(Arc::clone(&phish_desk), &config.phish, Some(sink));
        let source = source.on_refusal(phishing::refusal_counter(Arc::clone(&phish_desk)));
        tokio::spawn(source.run(handler, stopped(stop_rx.clone())))
    });
    let phish_stats_saver = phishing::spawn_stats_saver(Arc::clone(&phish_desk), stop_rx.clone());
    // TAXII feeds polled into the intel store; they stop with the listeners.
    let _expiry_task = intel::spawn_expiry(Arc::clone(&intel_state), stop_rx.clone());
    let _feed_tasks = intel::spawn_feed_pollers(
        &config.intel,
        Arc::clone(&intel_state),
        Arc::clone(&store),
        &config.data_dir,
        stop_rx.clone(),
    );
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
    if let Some(task) = smtp_task {
        let _ = task.await;
    }
    // After the listeners: every report they took is counted.
    let _ = phish_stats_saver.await;
    phishing::save_stats(Arc::clone(&phish_desk)).await;
    drop(rules_watch);
    let writer = tokio::task::spawn_blocking(move || pipeline.shutdown()).await?;
    let _ = health_saver.await;
    ingest_health::save(
        health,
        config.data_dir.join(ingest_health::INGEST_HEALTH_FILE),
    )
    .await;
    if let Some(state) = writer
        .as_ref()
        .and_then(pipeline::Writer::detector)
        .and_then(detect::Detector::save_state)
        && let Err(error) = detect::write_atomically(&state_path, state.as_bytes())
    {
        tracing::error!(path = %state_path.display(), %error, "correlation state not saved");
    }
    tokio::task::spawn_blocking(move || store.refresh()).await??;
    tracing::info!("stopped");
    Ok(())
}
