//! DNS answers for authentication checks, behind a trait so that the analyzer does no IO.
//!
//! The analyzer asks a [`DnsRecords`] for what it needs. Offline (CLI, tests) that is
//! [`OfflineDns`] or [`RecordedDns`]; the server resolves the names the analyzer reports as
//! missing ([`crate::Report::dns_missing`]) and runs the analysis again with the answers.
//!
//! Live lookups are the server's (it owns the async runtime): [`LiveDnsSettings`] only
//! describes the resolver (which servers, how long to wait) and [`answer_from_error`] turns
//! its errors into answers, so that a server that does not answer gives
//! [`DnsAnswer::Failed`] ("not verified (DNS timeout)"), never a false failure.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::hickory_resolver::net::{DnsError, NetError};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use serde::Serialize;

/// One answer to a TXT (or A/AAAA/MX) question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsAnswer {
    /// The records (TXT strings already concatenated, or addresses / host names as text).
    Records(Vec<String>),
    /// Authoritative "no such record".
    NotFound,
    /// Not known here: offline, or not yet resolved.
    Unavailable,
    /// Asked, but the DNS gave no usable answer (timeout, unreachable, server failure).
    Failed(DnsFailure),
}

/// Why a live lookup gave no answer. What depends on it is "not verified", not failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsFailure {
    /// No answer within the configured time.
    Timeout,
    /// The server could not be reached (connection refused, no route).
    Unreachable,
    /// The server answered with an error (SERVFAIL, REFUSED) or something unreadable.
    ServerError,
}

impl DnsFailure {
    /// Short English wording, as in "not verified (DNS timeout)".
    pub fn en(self) -> &'static str {
        match self {
            Self::Timeout => "DNS timeout",
            Self::Unreachable => "DNS server unreachable",
            Self::ServerError => "DNS server error",
        }
    }

    /// Short Italian wording.
    pub fn it(self) -> &'static str {
        match self {
            Self::Timeout => "timeout DNS",
            Self::Unreachable => "server DNS non raggiungibile",
            Self::ServerError => "errore del server DNS",
        }
    }
}

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.en())
    }
}

/// The answer a failed live lookup stands for: "no such record" is an answer, a timeout
/// or an unreachable server is not.
pub fn answer_from_error(error: &NetError) -> DnsAnswer {
    if error.is_no_records_found() || error.is_nx_domain() {
        return DnsAnswer::NotFound;
    }
    DnsAnswer::Failed(match error {
        NetError::Timeout => DnsFailure::Timeout,
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => DnsFailure::Timeout,
        NetError::Io(_) | NetError::NoConnections | NetError::Busy => DnsFailure::Unreachable,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => {
            return DnsAnswer::NotFound;
        }
        _ => DnsFailure::ServerError,
    })
}

/// Where live lookups go and how long each may take (`[phish] dns_servers`, `dns_timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveDnsSettings {
    /// Name servers asked (UDP, then TCP for truncated answers); the system's resolvers
    /// (`/etc/resolv.conf`) when empty.
    pub servers: Vec<SocketAddr>,
    /// Longest wait for one lookup, retries included.
    pub timeout: Duration,
}

impl Default for LiveDnsSettings {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

/// A `dns_servers` entry that is not an address, or an unreadable system configuration.
#[derive(Debug, thiserror::Error)]
pub enum DnsSettingsError {
    #[error("`{0}` is not a DNS server address (IP or IP:port)")]
    BadServer(String),
    #[error("dns_timeout must be between 1 ms and 60 s")]
    BadTimeout,
    #[error("reading the system DNS configuration: {0}")]
    System(String),
}

impl LiveDnsSettings {
    /// hickory's own per-request default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Parses `servers` (`IP`, `IP:port` or `[IPv6]:port`; port 53 when absent).
    pub fn new(servers: &[String], timeout: Duration) -> Result<Self, DnsSettingsError> {
        if timeout.is_zero() || timeout > Duration::from_secs(60) {
            return Err(DnsSettingsError::BadTimeout);
        }
        let servers = servers
            .iter()
            .map(|text| parse_server(text).ok_or_else(|| DnsSettingsError::BadServer(text.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Self { servers, timeout })
    }

    /// The resolver mail-auth's lookups go through. Building it does no IO beyond reading
    /// `/etc/resolv.conf` when no server is configured; lookups need a Tokio runtime.
    pub fn authenticator(&self) -> Result<mail_auth::MessageAuthenticator, DnsSettingsError> {
        let (config, mut options) = if self.servers.is_empty() {
            mail_auth::hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| DnsSettingsError::System(e.to_string()))?
        } else {
            let servers = self
                .servers
                .iter()
                .map(|server| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = server.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = server.port();
                    NameServerConfig::new(server.ip(), true, vec![udp, tcp])
                })
                .collect();
            let mut options = ResolverOpts::default();
            // Explicit servers are the whole truth: /etc/hosts does not answer for them.
            options.use_hosts_file = ResolveHosts::Never;
            (ResolverConfig::from_name_servers(servers), options)
        };
        // One attempt bounded by the timeout: the caller also cuts the whole lookup there.
        options.timeout = self.timeout;
        options.attempts = 1;
        mail_auth::MessageAuthenticator::new(config, options)
            .map_err(|e| DnsSettingsError::System(e.to_string()))
    }
}

fn parse_server(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// Source of DNS answers. Names are lowercase, without the trailing dot.
pub trait DnsRecords: Send + Sync {
    /// TXT records of `name` (DKIM keys, DMARC and SPF policies).
    fn txt(&self, name: &str) -> DnsAnswer;
    /// A and AAAA records of `name` (SPF `a`, `mx` mechanisms).
    fn addresses(&self, _name: &str) -> DnsAnswer {
        DnsAnswer::Unavailable
    }
    /// MX host names of `name`.
    fn mx(&self, _name: &str) -> DnsAnswer {
        DnsAnswer::Unavailable
    }
    /// PTR names of `ip`.
    fn ptr(&self, _ip: IpAddr) -> DnsAnswer {
        DnsAnswer::Unavailable
    }
}

/// No DNS at all: authentication is reported as "not verified (offline)".
#[derive(Debug, Default, Clone, Copy)]
pub struct OfflineDns;

impl DnsRecords for OfflineDns {
    fn txt(&self, _name: &str) -> DnsAnswer {
        DnsAnswer::Unavailable
    }
}

/// Recorded answers, e.g. from a test vector or from an earlier live resolution.
///
/// Names not recorded are answered `NotFound` when `complete` (the recording is all there
/// is), else `Unavailable`.
#[derive(Debug, Default, Clone)]
pub struct RecordedDns {
    txt: HashMap<String, Vec<String>>,
    addresses: HashMap<String, Vec<String>>,
    mx: HashMap<String, Vec<String>>,
    complete: bool,
}

impl RecordedDns {
    /// An empty recording where unknown names are `Unavailable`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Unknown names are answered `NotFound` rather than `Unavailable`.
    pub fn complete(mut self) -> Self {
        self.complete = true;
        self
    }

    /// Adds a TXT record.
    pub fn add_txt(&mut self, name: &str, value: &str) {
        self.txt
            .entry(normalize(name))
            .or_default()
            .push(value.to_owned());
    }

    /// Adds an A or AAAA record.
    pub fn add_address(&mut self, name: &str, ip: IpAddr) {
        self.addresses
            .entry(normalize(name))
            .or_default()
            .push(ip.to_string());
    }

    /// Adds an MX host.
    pub fn add_mx(&mut self, name: &str, host: &str) {
        self.mx
            .entry(normalize(name))
            .or_default()
            .push(normalize(host));
    }

    /// Parses `name<space>TXT value` lines, the layout of mail-auth's test resources.
    /// Empty lines and lines starting with `#` are skipped.
    pub fn from_txt_lines(text: &str) -> Self {
        let mut dns = Self::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((name, value)) = line.split_once(char::is_whitespace) {
                dns.add_txt(name, value.trim());
            }
        }
        dns
    }

    fn answer(&self, map: &HashMap<String, Vec<String>>, name: &str) -> DnsAnswer {
        match map.get(&normalize(name)) {
            Some(records) => DnsAnswer::Records(records.clone()),
            None if self.complete => DnsAnswer::NotFound,
            None => DnsAnswer::Unavailable,
        }
    }
}

impl DnsRecords for RecordedDns {
    fn txt(&self, name: &str) -> DnsAnswer {
        self.answer(&self.txt, name)
    }
    fn addresses(&self, name: &str) -> DnsAnswer {
        self.answer(&self.addresses, name)
    }
    fn mx(&self, name: &str) -> DnsAnswer {
        self.answer(&self.mx, name)
    }
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}
