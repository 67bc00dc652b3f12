//! The configuration file (`--config FILE`, TOML) and its defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// Everything `sentinella serve` needs. Every field has a default, so an empty file
/// (or none) runs Sentinella on embedded defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Format version of this file; only `1` exists.
    #[serde(default = "default_version")]
    pub version: u32,
    /// Where events, indexes and the admin token live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The API (and later the console).
    #[serde(default = "default_http_listen")]
    pub http_listen: SocketAddr,
    /// Reverse proxies in front of the API whose `X-Forwarded-For` is believed for sign-in
    /// sources (audit log, per-address throttling): addresses (`10.0.0.5`) or networks
    /// (`10.0.0.0/24`). Empty: the connection's peer address.
    #[serde(default, deserialize_with = "addresses_or_networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The Elasticsearch-compatible API for shippers.
    #[serde(default = "default_es_listen")]
    pub es_listen: SocketAddr,
    /// Syslog over UDP and TCP on one address, TLS optional.
    #[serde(default = "default_syslog")]
    pub syslog: ingest::sources::syslog::SyslogConfig,
    /// How long events are kept.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Store tuning.
    #[serde(default)]
    pub store: StoreTuning,
    /// Folders (or files) of Sigma rules evaluated on every ingested event, watched for
    /// changes. Empty: `DATA_DIR/rules`, created empty on first start.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// A folder of mapping files (`*.yaml`) layered over the built-in ones in `mappings/`;
    /// a file with the same `name` replaces the built-in one.
    #[serde(default)]
    pub mappings_dir: Option<PathBuf>,
    /// Threat intelligence: warninglists, blocklists, partners (`[intel]`, see `server::intel`).
    #[serde(default)]
    pub intel: crate::intel::IntelConfig,
    /// The phishing report service (`[phish]`, see `server::phishing`).
    #[serde(default)]
    pub phish: crate::phishing::PhishConfig,
    /// Sign-in besides local passwords: `[auth.oidc]` (see `server::oidc`).
    #[serde(default)]
    pub auth: crate::oidc::AuthConfig,
    /// When sources count as silent (`[ingest_health]`, see `server::ingest_health`).
    #[serde(default)]
    pub ingest_health: crate::ingest_health::IngestHealthConfig,
}

/// `"10.0.0.5"` is `10.0.0.5/32`; `"10.0.0.0/24"` a network.
fn addresses_or_networks<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts
        .iter()
        .map(|text| {
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "`{text}` is neither an IP address nor a network (CIDR)"
                    ))
                })
        })
        .collect()
}

/// Retention: partitions (UTC days) are deleted when too old or when the index is too big.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Keep this many days; unlimited when absent.
    pub max_age_days: Option<u64>,
    /// Keep at most this many bytes of index; unlimited when absent.
    pub max_bytes: Option<u64>,
}

/// Store tuning knobs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreTuning {
    /// Milliseconds between index commits (how soon events become searchable).
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
    /// Batches the pipeline queue holds before sources are slowed down or refused.
    #[serde(default = "default_queue_batches")]
    pub queue_batches: usize,
}

impl Default for StoreTuning {
    fn default() -> Self {
        Self {
            commit_interval_ms: default_commit_interval_ms(),
            queue_batches: default_queue_batches(),
        }
    }
}

fn default_version() -> u32 {
    1
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./sentinella-data")
}
fn default_http_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_es_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9200))
}
fn default_syslog() -> ingest::sources::syslog::SyslogConfig {
    ingest::sources::syslog::SyslogConfig::new(SocketAddr::from(([127, 0, 0, 1], 5514)))
}
fn default_commit_interval_ms() -> u64 {
    1000
}
fn default_queue_batches() -> usize {
    256
}

impl Default for ServerConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

impl ServerConfig {
    /// Reads a config file, reporting unknown keys and bad values with their location.
    pub fn load(path: &Path) -> anyhow::Result<ServerConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let config: ServerConfig = toml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.version != 1 {
            bail!("unsupported config version {} (expected 1)", self.version);
        }
        self.intel.validate()?;
        self.phish.intel_settings()?;
        self.phish.dns_settings()?;
        if let Some(oidc) = &self.auth.oidc {
            oidc.validate()?;
        }
        self.ingest_health.validate()?;
        if self.store.commit_interval_ms == 0 || self.store.queue_batches == 0 {
            bail!("store.commit_interval_ms and store.queue_batches must be positive");
        }
        Ok(())
    }

    /// The embedded store's settings.
    pub fn store_config(&self) -> store::StoreConfig {
        let mut config = store::StoreConfig::new(self.data_dir.join("store"));
        config.retention_max_age = self
            .retention
            .max_age_days
            .map(|days| std::time::Duration::from_secs(days.saturating_mul(86_400)));
        config.retention_max_bytes = self.retention.max_bytes;
        config.commit_interval = std::time::Duration::from_millis(self.store.commit_interval_ms);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_fixtures_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/config");
        let minimal = ServerConfig::load(&root.join("minimal.toml")).unwrap();
        assert_eq!(minimal.http_listen, default_http_listen());
        let full = ServerConfig::load(&root.join("full.toml")).unwrap();
        assert_eq!(full.retention.max_age_days, Some(90));
        assert!(full.syslog.tls.is_some());
        assert_eq!(full.phish.own_domains, ["comune.example.it"]);
        assert!(
            full.phish
                .smtp
                .as_ref()
                .is_some_and(|smtp| smtp.tls.is_some())
        );
        assert!(minimal.phish.smtp.is_none());
        assert!(minimal.trusted_proxies.is_empty());
        assert_eq!(full.trusted_proxies.len(), 3);
        assert!(
            full.trusted_proxies[2].contains(&"10.1.7.9".parse::<IpAddr>().unwrap()),
            "{:?}",
            full.trusted_proxies
        );
        let oidc = full.auth.oidc.as_ref().unwrap();
        assert_eq!(oidc.role_map.len(), 3);
        assert!(minimal.auth.oidc.is_none());
        assert_eq!(
            full.ingest_health
                .policy()
                .silent_after("syslog-udp 10.0.0.7")
                .as_secs(),
            900
        );
        assert!(minimal.ingest_health.sources.is_empty());
        let error =
            toml::from_str::<ServerConfig>("trusted_proxies = [\"10.0.0.0/33\"]").unwrap_err();
        assert!(
            error.to_string().contains("neither an IP address"),
            "{error}"
        );
        let error = ServerConfig::load(&root.join("invalid-unknown-key.toml")).unwrap_err();
        assert!(format!("{error:#}").contains("unknown field"), "{error:#}");
    }
}
