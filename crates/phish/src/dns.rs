//! DNS answers for authentication checks, behind a trait so that the analyzer does no IO.
//!
//! The analyzer asks a [`DnsRecords`] for what it needs. Offline (CLI, tests) that is
//! [`OfflineDns`] or [`RecordedDns`]; the server resolves the names the analyzer reports as
//! missing ([`crate::Report::dns_missing`]) and runs the analysis again with the answers.

use std::collections::HashMap;
use std::net::IpAddr;

/// One answer to a TXT (or A/AAAA/MX) question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsAnswer {
    /// The records (TXT strings already concatenated, or addresses / host names as text).
    Records(Vec<String>),
    /// Authoritative "no such record".
    NotFound,
    /// Not known here: offline, or not yet resolved.
    Unavailable,
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
