//! The phishing report service: `[phish]` configuration, the desk that analyses and keeps
//! reports, the SMTP intake, live DNS for authentication checks, and answers to reporters
//! through a relay.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use ingest::sources::smtp::client::Relay;
use ingest::sources::smtp::{Envelope, MessageHandler, SmtpConfig};
use phish::{DnsAnswer, DnsFailure, DnsRecords, Language, LiveDnsSettings};
use serde::Deserialize;

/// `[phish]`: the phishing report service. The desk (API `/api/v1/phish`) is always on;
/// the SMTP intake only when `[phish.smtp]` is present.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhishConfig {
    /// SMTP listener for reports (default address `127.0.0.1:2525`); off when absent.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// The organisation's own domains: impersonation and lookalikes of these are reported.
    #[serde(default)]
    pub own_domains: Vec<String>,
    /// SMTP relay (`host:port`) for the answers to reporters; no answers when absent.
    #[serde(default)]
    pub relay: Option<String>,
    /// `none` (default: clear text, for a relay on localhost or the local network) or
    /// `starttls` (required: nothing is sent to a relay that does not offer it, and its
    /// certificate must verify).
    #[serde(default)]
    pub relay_tls: RelayTlsMode,
    /// PEM file of the CA certificates that sign the relay's certificate; the system's
    /// roots when absent.
    #[serde(default)]
    pub relay_ca_file: Option<std::path::PathBuf>,
    /// User name for AUTH (PLAIN, else LOGIN) at the relay; needs `relay_tls = "starttls"`.
    #[serde(default)]
    pub relay_username: Option<String>,
    /// File whose first line is the relay password (kept out of the config file).
    #[serde(default)]
    pub relay_password_file: Option<std::path::PathBuf>,
    /// Sender address of the answers.
    #[serde(default = "default_reply_from")]
    pub reply_from: String,
    /// DNS for DKIM/SPF/DMARC checks: `offline` (use the receiving server's results, with
    /// provenance) or `system` (live lookups through `dns_servers`).
    #[serde(default)]
    pub dns: DnsMode,
    /// Name servers of `dns = "system"` (`IP` or `IP:port`, e.g. `["127.0.0.1:5353"]`);
    /// the host's resolvers (`/etc/resolv.conf`) when empty.
    #[serde(default)]
    pub dns_servers: Vec<String>,
    /// Longest wait for one DNS lookup (milliseconds, default 5000); past it the checks
    /// that needed the answer are "not verified (DNS timeout)".
    #[serde(default = "default_dns_timeout_ms")]
    pub dns_timeout_ms: u64,
    /// A folder of YARA rules (`.yar`) run over attachments; none when absent. Rule files
    /// that do not compile are reported and skipped.
    #[serde(default)]
    pub yara_dir: Option<std::path::PathBuf>,
    /// TLP of the indicators that reports judged malicious give to threat intelligence.
    #[serde(default = "default_intel_tlp")]
    pub intel_tlp: String,
    /// MISP warninglists (`list.json` files or folders of them) that describe senders and
    /// hosting: a sender on a disposable-mailbox list and links on a dynamic-DNS list are
    /// findings. (The `[intel]` warninglists suppress benign indicators; these are
    /// separate because they say something else.)
    #[serde(default)]
    pub warninglists: Vec<std::path::PathBuf>,
}

/// Transport security towards the relay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayTlsMode {
    #[default]
    None,
    Starttls,
}

fn default_dns_timeout_ms() -> u64 {
    LiveDnsSettings::DEFAULT_TIMEOUT.as_millis() as u64
}

fn default_intel_tlp() -> String {
    "amber".to_owned()
}

impl PhishConfig {
    /// The relay answers go through, with its TLS settings and credentials read; `None`
    /// without a relay. Fails on AUTH without TLS, unreadable files, a bad address.
    pub fn build_relay(&self) -> anyhow::Result<Option<ingest::sources::smtp::client::Relay>> {
        use ingest::sources::smtp::client::{Credentials, Relay, RelayTls};
        let Some(addr) = &self.relay else {
            if self.relay_username.is_some() || self.relay_tls != RelayTlsMode::None {
                anyhow::bail!("phish.relay_tls and phish.relay_username need phish.relay");
            }
            return Ok(None);
        };
        let credentials = match (&self.relay_username, &self.relay_password_file) {
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                anyhow::bail!("phish.relay_username and phish.relay_password_file go together")
            }
            (Some(username), Some(path)) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("reading phish.relay_password_file {}", path.display())
                })?;
                let password = text.lines().next().unwrap_or_default().to_owned();
                anyhow::ensure!(
                    !password.is_empty(),
                    "phish.relay_password_file {} is empty",
                    path.display()
                );
                Some(Credentials {
                    username: username.clone(),
                    password,
                })
            }
        };
        let tls = match self.relay_tls {
            RelayTlsMode::None => {
                anyhow::ensure!(
                    credentials.is_none(),
                    "phish.relay_username needs relay_tls = \"starttls\": passwords never go in clear text"
                );
                None
            }
            RelayTlsMode::Starttls => Some(
                RelayTls::new(addr, self.relay_ca_file.as_deref())
                    .context("phish.relay_tls = \"starttls\"")?,
            ),
        };
        Ok(Some(Relay {
            addr: addr.clone(),
            tls,
            credentials,
        }))
    }

    /// The live resolver's settings; fails on a bad address or timeout, or on servers
    /// given while `dns = "offline"` (they would be silently ignored).
    pub fn dns_settings(&self) -> anyhow::Result<LiveDnsSettings> {
        anyhow::ensure!(
            self.dns == DnsMode::System || self.dns_servers.is_empty(),
            "phish.dns_servers needs dns = \"system\""
        );
        LiveDnsSettings::new(
            &self.dns_servers,
            Duration::from_millis(self.dns_timeout_ms),
        )
        .context("phish.dns_servers / phish.dns_timeout_ms")
    }

    /// How reports feed intelligence; fails on an unknown TLP name.
    pub fn intel_settings(&self) -> anyhow::Result<api::phish::PhishIntelSettings> {
        let tlp = self
            .intel_tlp
            .parse::<intel::Tlp>()
            .context("phish.intel_tlp")?;
        Ok(api::phish::PhishIntelSettings { tlp })
    }
}

/// Where malicious reports' indicators go: threat intelligence and the events that new
/// indicators are retro-matched over.
#[derive(Clone)]
pub struct IntelSink {
    pub intel: Arc<api::threat_intel::IntelState>,
    pub events: Arc<dyn store::EventStore>,
    pub settings: api::phish::PhishIntelSettings,
}

/// Where DNS answers come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsMode {
    #[default]
    Offline,
    System,
}

fn default_reply_from() -> String {
    "phishing-desk@localhost".to_owned()
}

impl Default for PhishConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

/// Threat intelligence as the phishing analyzer sees it: the live matcher (the one events
/// are matched with), without TLP:RED indicators — a verdict sent to a reporter must not
/// rest on what only the indicator's named recipients may know. TLP:AMBER(+STRICT) may be
/// used: the reporter belongs to the organisation and needs it to protect it.
#[derive(Debug, Clone, Default)]
pub struct IntelLookup {
    pub matcher: intel::SharedMatcher,
    /// `[phish] warninglists`.
    pub warninglists: Arc<intel::Warninglists>,
}

impl phish::KnownIndicators for IntelLookup {
    fn lookup(&self, observable: phish::Observable<'_>) -> Option<phish::KnownIndicator> {
        use intel::IndicatorKind as Kind;
        use phish::Observable;
        let matcher = self.matcher.current();
        let found = match observable {
            Observable::Url(url) => matcher.lookup_value(Kind::Url, url),
            Observable::Domain(name) => matcher.lookup_domain(name),
            Observable::Ip(ip) => matcher.lookup_ip(ip),
            Observable::Email(address) => matcher.lookup_value(Kind::Email, address),
            Observable::Md5(hash) => matcher.lookup_value(Kind::Md5, hash),
            Observable::Sha1(hash) => matcher.lookup_value(Kind::Sha1, hash),
            Observable::Sha256(hash) => matcher.lookup_value(Kind::Sha256, hash),
        }?;
        let indicator = found.indicator();
        if indicator.tlp >= intel::Tlp::Red {
            return None;
        }
        Some(phish::KnownIndicator {
            id: indicator.id,
            kind: indicator.kind.as_str().to_owned(),
            value: indicator.value,
            source: indicator.sources.join(", "),
            confidence: indicator.confidence,
            tlp: indicator.tlp.as_str().to_owned(),
        })
    }

    fn warninglist(&self, observable: phish::Observable<'_>) -> Option<phish::Warninglisted> {
        use phish::Observable;
        // Entries are domains here ("is this a disposable-mailbox provider?"): the name or
        // a parent must be listed, whatever the list's own matching type.
        let host = match observable {
            Observable::Domain(name) => name,
            Observable::Email(address) => address.rsplit_once('@')?.1,
            _ => return None,
        };
        self.warninglists
            .list_of_host(host)
            .map(|(list, entry)| phish::Warninglisted {
                list: list.to_owned(),
                entry,
            })
    }
}

/// Opens the desk under `DATA_DIR/phish`; with `intel` (the live matcher), reports are
/// also checked against the indicators.
pub async fn open_desk(
    config: &PhishConfig,
    data_dir: &std::path::Path,
    intel: Option<intel::SharedMatcher>,
) -> anyhow::Result<Arc<phish::Desk>> {
    let mut analyzer = phish::Analyzer::new(phish::AnalyzerConfig {
        own_domains: config.own_domains.clone(),
        ..phish::AnalyzerConfig::default()
    });
    let warninglists = crate::intel::load_warninglists(&config.warninglists)
        .context("reading [phish] warninglists")?;
    if intel.is_some() || !warninglists.is_empty() {
        analyzer = analyzer.with_known_indicators(Arc::new(IntelLookup {
            matcher: intel.unwrap_or_default(),
            warninglists: Arc::new(warninglists),
        }));
    }
    if let Some(dir) = config.yara_dir.clone() {
        let rules = tokio::task::spawn_blocking(move || phish::yara::YaraRules::load_dir(&dir))
            .await?
            .context("reading the YARA rules of [phish] yara_dir")?;
        for (file, problem) in &rules.problems {
            tracing::warn!(file = %file.display(), %problem, "yara rule file rejected");
        }
        analyzer = analyzer.with_yara(Arc::new(rules));
    }
    let dns_settings = config.dns_settings()?;
    let dns: Arc<dyn DnsRecords> = match config.dns {
        DnsMode::Offline => Arc::new(phish::OfflineDns),
        DnsMode::System => Arc::new(LiveDns::new(&dns_settings)?),
    };
    // Checked at start so a bad relay setting fails here, not at the first answer.
    config.build_relay()?;
    let dir = data_dir.join("phish");
    tokio::task::spawn_blocking(move || phish::Desk::open(&dir, analyzer, dns))
        .await?
        .context("opening the phishing desk")
        .map(Arc::new)
}

/// How often changed intake counters are saved: a `kill -9` loses at most this much.
const STATS_SAVE_EVERY: Duration = Duration::from_secs(30);

/// Saves the desk's intake counters every [`STATS_SAVE_EVERY`] while they change, until
/// `stop` turns true (the final save is [`save_stats`], at shutdown).
pub fn spawn_stats_saver(
    desk: Arc<phish::Desk>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut saved = desk.stats().snapshot();
        let mut ticks = tokio::time::interval(STATS_SAVE_EVERY);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            if desk.stats().snapshot() != saved
                && let Some(snapshot) = save_stats(Arc::clone(&desk)).await
            {
                saved = snapshot;
            }
        }
    })
}

/// Writes the intake counters now; a failure is logged (the counters are not worth a
/// failed shutdown).
pub async fn save_stats(desk: Arc<phish::Desk>) -> Option<phish::stats::IntakeSnapshot> {
    match tokio::task::spawn_blocking(move || desk.save_stats()).await {
        Ok(Ok(snapshot)) => Some(snapshot),
        Ok(Err(error)) => {
            tracing::warn!(%error, "phishing intake counters not saved");
            None
        }
        Err(_) => None,
    }
}

/// The SMTP handler: extract the reported message, analyse and keep it (then `250`), and
/// answer the reporter in the background.
/// Reports judged malicious give their indicators to `sink`.
pub fn smtp_handler(
    desk: Arc<phish::Desk>,
    config: &PhishConfig,
    sink: Option<IntelSink>,
) -> MessageHandler {
    let relay = relay_of(config);
    let reply_from = config.reply_from.clone();
    Arc::new(move |envelope: Envelope, data: Vec<u8>| {
        let desk = Arc::clone(&desk);
        let relay = relay.clone();
        let reply_from = reply_from.clone();
        let sink = sink.clone();
        Box::pin(async move {
            desk.stats().received(phish::stats::Channel::Smtp);
            let reported = phish::extract_reported(&data);
            let reporter = reported
                .reporter
                .clone()
                .or_else(|| (!envelope.mail_from.is_empty()).then(|| envelope.mail_from.clone()));
            let submission = phish::Submission {
                source: "smtp".into(),
                reporter: reporter.clone(),
                language: reported.language,
                forwarding: reported.forwarding,
                now: unix_now(),
            };
            let stored = {
                let desk = Arc::clone(&desk);
                tokio::task::spawn_blocking(move || desk.submit(&reported.message, submission))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?
            };
            tracing::info!(report = %stored.id, verdict = stored.verdict.as_str(), score = stored.score, "phishing report received");
            if let Some(sink) = sink.filter(|_| stored.verdict == phish::Verdict::Malicious) {
                let config = desk.analyzer().config();
                let confidence = phish::share::confidence(stored.score, config.malicious_score);
                let own_domains = config.own_domains.clone();
                let stored = stored.clone();
                let desk = Arc::clone(&desk);
                tokio::task::spawn_blocking(move || {
                    // An analyst may have cleared the report in the meantime.
                    if !api::phish::still_malicious(&desk, &stored.id) {
                        return;
                    }
                    let shared = api::phish::share_with_intel(
                        &sink.intel,
                        sink.events.as_ref(),
                        &stored,
                        &own_domains,
                        sink.settings.tlp,
                        confidence,
                    );
                    match shared {
                        Ok(new) => {
                            tracing::info!(report = %stored.id, new, "phishing indicators shared with intel")
                        }
                        Err(error) => {
                            tracing::warn!(report = %stored.id, %error, "phishing indicators not shared")
                        }
                    }
                });
            }
            if let (Some(relay), Some(reporter)) = (relay, reporter) {
                tokio::spawn(answer(desk, stored, relay, reply_from, reporter));
            }
            Ok(())
        })
    })
}

/// The notifier the API calls when an analyst overrides a verdict and asks to tell the
/// reporter; `None` without a relay.
pub fn reporter_notifier(
    desk: Arc<phish::Desk>,
    config: &PhishConfig,
) -> Option<api::phish::ReporterNotifier> {
    let relay = relay_of(config)?;
    let from = config.reply_from.clone();
    Some(api::phish::ReporterNotifier(Arc::new(
        move |stored: phish::StoredReport| {
            let to = stored
                .reporter
                .clone()
                .filter(|r| r.contains('@'))
                .ok_or("the reporter has no email address")?;
            tokio::spawn(deliver(
                Arc::clone(&desk),
                stored,
                relay.clone(),
                from.clone(),
                to,
                Kind::Review,
            ));
            Ok(())
        },
    )))
}

/// What is sent to a reporter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The automatic answer with the analysis' reasons.
    Answer,
    /// An analyst changed the verdict.
    Review,
}

/// The relay, built from a config [`open_desk`] already checked.
fn relay_of(config: &PhishConfig) -> Option<Relay> {
    config.build_relay().unwrap_or_else(|error| {
        tracing::error!(error = %format!("{error:#}"), "phishing answers disabled: relay settings");
        None
    })
}

/// Counts what the SMTP listener refuses in the desk's intake counters.
pub fn refusal_counter(desk: Arc<phish::Desk>) -> ingest::sources::smtp::RefusalObserver {
    Arc::new(move |refusal| {
        use ingest::sources::smtp::Refusal;
        desk.stats().refused(match refusal {
            Refusal::Size => phish::stats::Refusal::Size,
            Refusal::Recipient => phish::stats::Refusal::Recipient,
            Refusal::Syntax => phish::stats::Refusal::Parse,
        });
    })
}

async fn answer(
    desk: Arc<phish::Desk>,
    stored: phish::StoredReport,
    relay: Relay,
    from: String,
    to: String,
) {
    deliver(desk, stored, relay, from, to, Kind::Answer).await;
}

async fn deliver(
    desk: Arc<phish::Desk>,
    stored: phish::StoredReport,
    relay: Relay,
    from: String,
    to: String,
    kind: Kind,
) {
    let date = jiff::Timestamp::now()
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string();
    let message_id = match kind {
        Kind::Answer => format!("{}.reply@sentinella", stored.id),
        Kind::Review => format!("{}.review.{}@sentinella", stored.id, stored.overrides.len()),
    };
    let reasons = match stored.language {
        Language::It => &stored.reasons_it,
        Language::En => &stored.reasons_en,
    };
    let input = phish::reply::ReplyInput {
        from: &from,
        to: &to,
        language: stored.language,
        report_id: &stored.id,
        reported_subject: stored.subject.as_deref(),
        date: &date,
        message_id: &message_id,
    };
    let message = match kind {
        Kind::Answer => phish::reply::compose_reply_with_reasons(&input, stored.verdict, reasons),
        Kind::Review => phish::reply::compose_review_notice(&input, stored.verdict),
    };
    let helo = from
        .rsplit_once('@')
        .map_or("sentinella", |(_, d)| d)
        .to_owned();
    let result = ingest::sources::smtp::client::send_via(
        &relay,
        &helo,
        &from,
        &to,
        &message,
        Duration::from_secs(30),
    )
    .await;
    if let Err(error) = &result {
        tracing::warn!(report = %stored.id, relay = %relay.addr, %error, "answer to reporter not sent");
    }
    match kind {
        Kind::Answer => desk.stats().reply(result.is_ok()),
        Kind::Review => desk.stats().notice(result.is_ok()),
    }
    let status = phish::ReplyStatus {
        at: unix_now(),
        to,
        language: stored.language,
        sent: result.is_ok(),
        error: result.err().map(|e| e.to_string()),
    };
    let id = stored.id.clone();
    let _ = tokio::task::spawn_blocking(move || match kind {
        Kind::Answer => desk.record_reply(&id, status),
        Kind::Review => desk.record_notice(&id, status),
    })
    .await;
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// DNS through the configured (else the host's) resolvers, answered synchronously for the
/// analyzer: the desk runs on blocking threads, which may wait on the runtime.
pub struct LiveDns {
    resolver: mail_auth::MessageAuthenticator,
    runtime: tokio::runtime::Handle,
    cache: Mutex<HashMap<String, DnsAnswer>>,
    timeout: Duration,
}

impl LiveDns {
    /// Call inside a multi-thread Tokio runtime; lookups then block the calling thread,
    /// which must not be one of the runtime's workers.
    pub fn new(settings: &LiveDnsSettings) -> anyhow::Result<Self> {
        Ok(Self {
            resolver: settings
                .authenticator()
                .context("building the DNS resolver of [phish]")?,
            runtime: tokio::runtime::Handle::current(),
            cache: Mutex::new(HashMap::new()),
            timeout: settings.timeout,
        })
    }

    fn cached(
        &self,
        key: String,
        lookup: impl std::future::Future<Output = DnsAnswer>,
    ) -> DnsAnswer {
        if let Some(answer) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return answer;
        }
        // Called from blocking threads only (the desk runs in `spawn_blocking`).
        let answer = self
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout, lookup).await })
            .unwrap_or(DnsAnswer::Failed(DnsFailure::Timeout));
        // A failure is not an answer to keep: the next report asks again.
        if matches!(answer, DnsAnswer::Failed(_)) {
            return answer;
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(key, answer.clone());
        }
        answer
    }
}

impl DnsRecords for LiveDns {
    fn txt(&self, name: &str) -> DnsAnswer {
        let resolver = self.resolver.0.clone();
        let fqdn = format!("{name}.");
        self.cached(format!("TXT {name}"), async move {
            match resolver.txt_lookup(fqdn).await {
                Ok(lookup) => DnsAnswer::Records(
                    lookup
                        .answers()
                        .iter()
                        .filter_map(|record| match &record.data {
                            mail_auth::hickory_resolver::proto::rr::RData::TXT(txt) => Some(
                                txt.txt_data
                                    .iter()
                                    .map(|part| String::from_utf8_lossy(part))
                                    .collect::<String>(),
                            ),
                            _ => None,
                        })
                        .collect(),
                ),
                Err(error) if error.is_no_records_found() || error.is_nx_domain() => {
                    DnsAnswer::NotFound
                }
                Err(error) => phish::dns::answer_from_error(&error),
            }
        })
    }

    fn addresses(&self, name: &str) -> DnsAnswer {
        let resolver = self.resolver.0.clone();
        let fqdn = format!("{name}.");
        self.cached(format!("A {name}"), async move {
            match resolver.lookup_ip(fqdn).await {
                Ok(lookup) => {
                    DnsAnswer::Records(lookup.iter().map(|ip: IpAddr| ip.to_string()).collect())
                }
                Err(error) if error.is_no_records_found() || error.is_nx_domain() => {
                    DnsAnswer::NotFound
                }
                Err(error) => phish::dns::answer_from_error(&error),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intel_tlp_defaults_to_amber_and_rejects_unknown_names() {
        let default = PhishConfig::default().intel_settings().unwrap();
        assert_eq!(default.tlp, intel::Tlp::Amber);
        let green: PhishConfig = toml::from_str("intel_tlp = \"green\"").unwrap();
        assert_eq!(green.intel_settings().unwrap().tlp, intel::Tlp::Green);
        let bad: PhishConfig = toml::from_str("intel_tlp = \"purple\"").unwrap();
        assert!(format!("{:#}", bad.intel_settings().unwrap_err()).contains("phish.intel_tlp"));
    }

    #[test]
    fn relay_settings_never_allow_a_password_in_clear_text() {
        let dir = std::env::temp_dir().join(format!("relay-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let password = dir.join("password");
        std::fs::write(&password, "s3cret\nignored\n").unwrap();
        let config = |extra: &str| -> PhishConfig {
            toml::from_str(&format!("relay = \"127.0.0.1:25\"\n{extra}")).unwrap()
        };
        let error = |config: PhishConfig| format!("{:#}", config.build_relay().unwrap_err());
        // Plain relay, no AUTH: the default.
        let plain = config("").build_relay().unwrap().unwrap();
        assert!(plain.tls.is_none() && plain.credentials.is_none());
        assert!(PhishConfig::default().build_relay().unwrap().is_none());
        // AUTH without STARTTLS, a user without a password, TLS without a relay: refused.
        let clear = format!(
            "relay_username = \"u\"\nrelay_password_file = \"{}\"",
            password.display()
        );
        assert!(error(config(&clear)).contains("clear text"));
        assert!(
            error(config("relay_tls = \"starttls\"\nrelay_username = \"u\""))
                .contains("go together")
        );
        let no_relay: PhishConfig = toml::from_str("relay_tls = \"starttls\"").unwrap();
        assert!(error(no_relay).contains("need phish.relay"));
        // A CA file that is not one.
        let bad_ca = format!(
            "relay_tls = \"starttls\"\nrelay_ca_file = \"{}\"",
            password.display()
        );
        assert!(error(config(&bad_ca)).contains("starttls"));
        // STARTTLS with AUTH: the first line of the file is the password.
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, certified.cert.pem()).unwrap();
        let secure = config(&format!(
            "relay_tls = \"starttls\"\nrelay_ca_file = \"{}\"\n{clear}",
            ca.display()
        ))
        .build_relay()
        .unwrap()
        .unwrap();
        assert!(secure.tls.is_some());
        assert_eq!(secure.credentials.unwrap().password, "s3cret");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
