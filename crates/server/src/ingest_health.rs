//! Ingest health settings (`[ingest_health]`) and the table's persistence across restarts
//! (`DATA_DIR/ingest-health.json`, saved every `save_every` (30 s) when it changed and at
//! shutdown).
//!
//! ```toml
//! [ingest_health]
//! silent_after = "1h"            # a source is silent after this long without an event
//! save_every = "30s"             # a `kill -9` loses at most this much of the counts
//! [[ingest_health.sources]]      # overrides, first match wins; `*` matches anything
//! match = "syslog-udp 10.0.0.*"
//! silent_after = "15m"
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
use jiff::SignedDuration;
use serde::Deserialize;
use tokio::sync::watch;

/// Where the health table is kept between runs.
pub const INGEST_HEALTH_FILE: &str = "ingest-health.json";
/// How often a changed table is saved by default.
const DEFAULT_SAVE_EVERY: SignedDuration = SignedDuration::from_secs(30);
/// Longest silence threshold accepted (30 days, like the API's what-if parameter).
const MAX_SILENT_AFTER: SignedDuration = SignedDuration::from_hours(30 * 24);
/// Most per-source overrides.
const MAX_OVERRIDES: usize = 1_000;

/// `[ingest_health]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestHealthConfig {
    /// A source is silent after this long without an event (`"1h"`, `"90m"`, `"PT2H"`).
    #[serde(default = "default_silent_after")]
    pub silent_after: SignedDuration,
    /// Thresholds for the sources whose key (`syslog-udp 10.0.0.5`, `http alice/nightly`;
    /// `http alice/*` for all of a user's tokens) matches a pattern; the first match wins.
    #[serde(default)]
    pub sources: Vec<SourceOverride>,
    /// How often the table is saved while it changes (1 s to 1 h): a `kill -9` loses at
    /// most this much of the counts.
    #[serde(default = "default_save_every")]
    pub save_every: SignedDuration,
}

/// One `[[ingest_health.sources]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceOverride {
    /// A source key pattern; `*` matches any run of characters.
    #[serde(rename = "match")]
    pub pattern: String,
    /// The threshold for matching sources.
    pub silent_after: SignedDuration,
}

fn default_save_every() -> SignedDuration {
    DEFAULT_SAVE_EVERY
}

fn default_silent_after() -> SignedDuration {
    pipeline::health::DEFAULT_SILENT_AFTER
}

impl Default for IngestHealthConfig {
    fn default() -> Self {
        Self {
            silent_after: default_silent_after(),
            sources: Vec::new(),
            save_every: default_save_every(),
        }
    }
}

impl IngestHealthConfig {
    /// Checks thresholds (positive, at most 30 days) and patterns (not empty).
    pub fn validate(&self) -> anyhow::Result<()> {
        let check = |what: &str, after: SignedDuration| {
            if after <= SignedDuration::ZERO || after > MAX_SILENT_AFTER {
                bail!("ingest_health: {what} must be positive and at most 30 days");
            }
            Ok(())
        };
        check("silent_after", self.silent_after)?;
        if self.save_every < SignedDuration::from_secs(1)
            || self.save_every > SignedDuration::from_hours(1)
        {
            bail!("ingest_health: save_every must be between 1s and 1h");
        }
        if self.sources.len() > MAX_OVERRIDES {
            bail!("ingest_health: at most {MAX_OVERRIDES} source overrides");
        }
        for source in &self.sources {
            if source.pattern.trim().is_empty() {
                bail!("ingest_health.sources: `match` must not be empty");
            }
            check(
                &format!("silent_after of `{}`", source.pattern),
                source.silent_after,
            )?;
        }
        Ok(())
    }

    /// The policy the health table flags silent sources with.
    pub fn policy(&self) -> pipeline::SilencePolicy {
        pipeline::SilencePolicy {
            default: self.silent_after,
            overrides: self
                .sources
                .iter()
                .map(|source| {
                    (
                        pipeline::KeyPattern::new(&source.pattern),
                        source.silent_after,
                    )
                })
                .collect(),
        }
    }

    /// The table for this run: the last run's, reloaded from `data_dir`. A bad file costs
    /// the history, never the start.
    pub async fn open(&self, data_dir: &Path) -> Arc<pipeline::IngestHealth> {
        let path = data_dir.join(INGEST_HEALTH_FILE);
        let policy = self.policy();
        let loaded = tokio::task::spawn_blocking(move || {
            pipeline::IngestHealth::default()
                .with_policy(policy.clone())
                .load(&path)
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "ingest health history ignored");
                    pipeline::IngestHealth::default().with_policy(policy)
                })
        })
        .await;
        Arc::new(loaded.unwrap_or_default())
    }
}

/// Saves the table every `save_every` while it changes, until `stop` turns true.
pub fn spawn_saver(
    health: Arc<pipeline::IngestHealth>,
    config: &IngestHealthConfig,
    data_dir: &Path,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let path = data_dir.join(INGEST_HEALTH_FILE);
    let every = std::time::Duration::try_from(config.save_every)
        .unwrap_or(std::time::Duration::from_secs(30));
    tokio::spawn(async move {
        let mut saved = health.generation();
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            let generation = health.generation();
            if generation != saved {
                save(Arc::clone(&health), path.clone()).await;
                saved = generation;
            }
        }
    })
}

/// Writes the table now (at shutdown, after the pipeline drained).
pub async fn save(health: Arc<pipeline::IngestHealth>, path: PathBuf) {
    let result =
        tokio::task::spawn_blocking(move || health.save(&path).map_err(|error| (path, error)))
            .await;
    if let Ok(Err((path, error))) = result {
        tracing::warn!(path = %path.display(), %error, "ingest health not saved");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_validate_and_override() {
        let config: IngestHealthConfig = toml::from_str(
            r#"
            silent_after = "2h"
            [[sources]]
            match = "syslog-udp 10.0.0.*"
            silent_after = "15m"
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        let policy = config.policy();
        assert_eq!(
            policy.silent_after("http alice"),
            SignedDuration::from_hours(2)
        );
        assert_eq!(
            policy.silent_after("syslog-udp 10.0.0.3"),
            SignedDuration::from_mins(15)
        );
        for bad in [
            r#"silent_after = "0s""#,
            r#"silent_after = "-1h""#,
            r#"save_every = "0s""#,
            r#"save_every = "2h""#,
            r#"silent_after = "31d""#,
            "[[sources]]\nmatch = \" \"\nsilent_after = \"1h\"",
        ] {
            let parsed: Result<IngestHealthConfig, _> = toml::from_str(bad);
            assert!(
                parsed.map_or(true, |config| config.validate().is_err()),
                "{bad}"
            );
        }
        assert!(toml::from_str::<IngestHealthConfig>(r#"silent_after = "soon""#).is_err());
    }
}
