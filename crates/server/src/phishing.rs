//! The phishing report service: `[phish]` configuration, the desk that analyses and keeps
//! reports, the SMTP intake, live DNS for authentication checks, and answers to reporters
//! through a relay.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use ingest::sources::smtp::{Envelope, MessageHandler, SmtpConfig};
use phish::{DnsAnswer, DnsRecords, Language};
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
    /// Sender address of the answers.
    #[serde(default = "default_reply_from")]
    pub reply_from: String,
    /// DNS for DKIM/SPF/DMARC checks: `offline` (use the receiving server's results, with
    /// provenance) or `system` (the host's resolvers).
    #[serde(default)]
    pub dns: DnsMode,
    /// A folder of YARA rules (`.yar`) run over attachments; none when absent. Rule files
    /// that do not compile are reported and skipped.
    #[serde(default)]
    pub yara_dir: Option<std::path::PathBuf>,
    /// TLP of the indicators that reports judged malicious give to threat intelligence.
    #[serde(default = "default_intel_tlp")]
    pub intel_tlp: String,
}

fn default_intel_tlp() -> String {
    "amber".to_owned()
}

impl PhishConfig {
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

/// Opens the desk under `DATA_DIR/phish`.
pub async fn open_desk(
    config: &PhishConfig,
    data_dir: &std::path::Path,
) -> anyhow::Result<Arc<phish::Desk>> {
    let mut analyzer = phish::Analyzer::new(phish::AnalyzerConfig {
        own_domains: config.own_domains.clone(),
        ..phish::AnalyzerConfig::default()
    });
    if let Some(dir) = config.yara_dir.clone() {
        let rules = tokio::task::spawn_blocking(move || phish::yara::YaraRules::load_dir(&dir))
            .await?
            .context("reading the YARA rules of [phish] yara_dir")?;
        for (file, problem) in &rules.problems {
            tracing::warn!(file = %file.display(), %problem, "yara rule file rejected");
        }
        analyzer = analyzer.with_yara(Arc::new(rules));
    }
    let dns: Arc<dyn DnsRecords> = match config.dns {
        DnsMode::Offline => Arc::new(phish::OfflineDns),
        DnsMode::System => {
            Arc::new(LiveDns::new().context("reading the system DNS configuration")?)
        }
    };
    let dir = data_dir.join("phish");
    tokio::task::spawn_blocking(move || phish::Desk::open(&dir, analyzer, dns))
        .await?
        .context("opening the phishing desk")
        .map(Arc::new)
}

/// The SMTP handler: extract the reported message, analyse and keep it (then `250`), and
/// answer the reporter in the background.
/// Reports judged malicious give their indicators to `sink`.
pub fn smtp_handler(
    desk: Arc<phish::Desk>,
    config: &PhishConfig,
    sink: Option<IntelSink>,
) -> MessageHandler {
    let relay = config.relay.clone();
    let reply_from = config.reply_from.clone();
    Arc::new(move |envelope: Envelope, data: Vec<u8>| {
        let desk = Arc::clone(&desk);
        let relay = relay.clone();
        let reply_from = reply_from.clone();
        let sink = sink.clone();
        Box::pin(async move {
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
                tokio::task::spawn_blocking(move || {
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
    let relay = config.relay.clone()?;
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

async fn answer(
    desk: Arc<phish::Desk>,
    stored: phish::StoredReport,
    relay: String,
    from: String,
    to: String,
) {
    deliver(desk, stored, relay, from, to, Kind::Answer).await;
}

async fn deliver(
    desk: Arc<phish::Desk>,
    stored: phish::StoredReport,
    relay: String,
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
    let result = ingest::sources::smtp::client::send(
        &relay,
        &helo,
        &from,
        &to,
        &message,
        Duration::from_secs(30),
    )
    .await;
    if let Err(error) = &result {
        tracing::warn!(report = %stored.id, %relay, %error, "answer to reporter not sent");
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

/// DNS through the host's resolvers, answered synchronously for the analyzer: the desk
/// runs on blocking threads, which may wait on the runtime.
pub struct LiveDns {
    resolver: mail_auth::MessageAuthenticator,
    runtime: tokio::runtime::Handle,
    cache: Mutex<HashMap<String, DnsAnswer>>,
}

impl LiveDns {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            resolver: mail_auth::MessageAuthenticator::new_system_conf()?,
            runtime: tokio::runtime::Handle::current(),
            cache: Mutex::new(HashMap::new()),
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
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), lookup).await })
            .unwrap_or(DnsAnswer::Unavailable);
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
                Err(_) => DnsAnswer::Unavailable,
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
                Err(_) => DnsAnswer::Unavailable,
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
}
