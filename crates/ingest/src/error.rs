//! Errors of building and running sources.

use std::{io, net::SocketAddr, path::PathBuf};

/// Why a source could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A configuration value is out of range.
    #[error("invalid `{field}`: {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A TLS certificate or key file could not be loaded.
    #[error("failed to load tls {what} from {path}: {reason}")]
    Tls {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The TLS certificate and key do not make a valid server configuration.
    #[error("invalid tls configuration: {0}")]
    TlsConfig(String),
    /// A listening socket could not be bound.
    #[error("failed to bind {protocol} socket on {addr}")]
    Bind {
        /// `udp`, `tcp` or `tls`.
        protocol: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// Why a running source stopped before it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A bound socket could not be registered with the async runtime.
    #[error("failed to register {protocol} socket with the runtime")]
    Register {
        /// `udp`, `tcp` or `tls`.
        protocol: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}
