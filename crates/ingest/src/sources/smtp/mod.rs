//! SMTP intake for phishing reports (RFC 5321, STARTTLS per RFC 3207): employees forward
//! suspicious messages to a mailbox whose MX (or a rule) points here. Every accepted message
//! goes to a [`MessageHandler`]; the `250` after DATA is sent only once the handler has
//! kept it. Also a minimal client ([`client`]) to answer reporters through a relay.

pub mod client;
mod server;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use serde::Deserialize;

pub use server::SmtpSource;

/// The SMTP listener for reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Address to listen on. Default `127.0.0.1:2525`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Name announced in the greeting and EHLO answer.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// Largest message accepted (bytes, after dot-unstuffing); announced with SIZE.
    /// Default 25 MiB.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Concurrent connections; more are answered `421` and closed. Default 64.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A connection silent for this many seconds is closed. Default 120.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// Recipients accepted (e.g. `phishing@example.it`); empty accepts any.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// STARTTLS with this certificate; off when absent.
    #[serde(default)]
    pub tls: Option<SmtpTlsConfig>,
}

/// Certificate for STARTTLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpTlsConfig {
    /// PEM file with the server certificate and its intermediates.
    pub cert_path: PathBuf,
    /// PEM file with the private key.
    pub key_path: PathBuf,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2525))
}
fn default_hostname() -> String {
    "sentinella".to_owned()
}
fn default_max_message_bytes() -> usize {
    25 << 20
}
fn default_max_connections() -> usize {
    64
}
fn default_idle_timeout_secs() -> u64 {
    120
}

impl SmtpConfig {
    /// The config with every optional field at its default.
    pub fn new(listen: SocketAddr) -> SmtpConfig {
        SmtpConfig {
            listen,
            hostname: default_hostname(),
            max_message_bytes: default_max_message_bytes(),
            max_connections: default_max_connections(),
            idle_timeout_secs: default_idle_timeout_secs(),
            recipients: Vec::new(),
            tls: None,
        }
    }
}

/// The SMTP envelope of one message.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The client's address.
    pub peer: SocketAddr,
    /// The name the client gave in EHLO/HELO.
    pub helo: String,
    /// MAIL FROM address (empty for bounces).
    pub mail_from: String,
    /// RCPT TO addresses.
    pub rcpt_to: Vec<String>,
    /// Whether the session was upgraded with STARTTLS.
    pub tls: bool,
}

/// Why the listener refused a message or a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The message (or its declared SIZE) is over `max_message_bytes`.
    Size,
    /// A recipient the listener does not serve.
    Recipient,
    /// A malformed command or an overlong line.
    Syntax,
}

/// Told of every refusal (e.g. to count them); set with [`SmtpSource::on_refusal`].
pub type RefusalObserver = Arc<dyn Fn(Refusal) + Send + Sync>;

/// Keeps a received message. `Err` makes the server answer `451` (try again later).
pub type MessageHandler = Arc<
    dyn Fn(Envelope, Vec<u8>) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

#[cfg(test)]
mod tests;
