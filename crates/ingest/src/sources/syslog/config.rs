//! What the user writes to configure the syslog source.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde::Deserialize;

use crate::BuildError;

/// Receives RFC 5424/3164 syslog over UDP and TCP on one address, and over TLS on another.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// Address for UDP and TCP, e.g. `0.0.0.0:514`. Port 0 picks a free port (the same
    /// one for both protocols). Default `127.0.0.1:5514`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Syslog over TLS (RFC 5425), on its own address. Off when absent.
    #[serde(default)]
    pub tls: Option<SyslogTlsConfig>,
    /// Messages longer than this many bytes are dropped and counted; the connection stays
    /// open. Default 64 KiB; at most 16 MiB.
    #[serde(default = "default_max_frame_bytes")]
    pub max_frame_bytes: usize,
    /// Concurrent TCP and TLS connections, together; further connections are closed at
    /// once and counted. Default 1024.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A TCP or TLS connection that sends nothing for this many seconds is closed.
    /// Default 600.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
}

/// Syslog over TLS (RFC 5425). The server presents `cert_path`; clients are not asked
/// for certificates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogTlsConfig {
    /// Address to listen on, e.g. `0.0.0.0:6514`.
    pub listen: SocketAddr,
    /// PEM file with the server certificate, followed by its intermediates.
    pub cert_path: PathBuf,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
}

/// Default of [`SyslogConfig::max_frame_bytes`]: 64 KiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest accepted [`SyslogConfig::max_frame_bytes`]: 16 MiB.
pub const MAX_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5514))
}

fn default_max_frame_bytes() -> usize {
    DEFAULT_MAX_FRAME_BYTES
}

fn default_max_connections() -> usize {
    1024
}

fn default_idle_timeout_secs() -> u64 {
    600
}

/// Validated runtime settings shared by every listener of one source.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_frame_bytes: usize,
    pub(crate) max_connections: usize,
    pub(crate) idle_timeout: Duration,
}

impl SyslogConfig {
    /// The config with every optional field at its default.
    pub fn new(listen: SocketAddr) -> SyslogConfig {
        SyslogConfig {
            listen,
            tls: None,
            max_frame_bytes: default_max_frame_bytes(),
            max_connections: default_max_connections(),
            idle_timeout_secs: default_idle_timeout_secs(),
        }
    }

    /// Checks the values, without any IO.
    pub(crate) fn validate(&self) -> Result<Settings, BuildError> {
        if !(1..=MAX_MAX_FRAME_BYTES).contains(&self.max_frame_bytes) {
            return Err(BuildError::InvalidConfig {
                field: "max_frame_bytes",
                reason: format!("must be between 1 and {MAX_MAX_FRAME_BYTES}"),
            });
        }
        if self.max_connections == 0 {
            return Err(BuildError::InvalidConfig {
                field: "max_connections",
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.idle_timeout_secs == 0 {
            return Err(BuildError::InvalidConfig {
                field: "idle_timeout_secs",
                reason: "must be at least 1".to_owned(),
            });
        }
        if let Some(tls) = &self.tls
            && tls.listen == self.listen
            && self.listen.port() != 0
        {
            return Err(BuildError::InvalidConfig {
                field: "tls.listen",
                reason: "must differ from `listen`, which plain tcp uses".to_owned(),
            });
        }
        Ok(Settings {
            max_frame_bytes: self.max_frame_bytes,
            max_connections: self.max_connections,
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
        })
    }
}
