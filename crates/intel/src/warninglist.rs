//! MISP warninglists: known-benign values (top sites, RFC 1918, public DNS, cloud ranges)
//! that suppress indicators before they cause false positives.

use ipnet::IpNet;
use serde::Deserialize;

use crate::ImportError;
use crate::model::{Indicator, IndicatorKind};

/// One warninglist.
#[derive(Debug, Clone)]
pub struct Warninglist {
    /// Its `name`.
    pub name: String,
    entries: Entries,
}

#[derive(Debug, Clone)]
enum Entries {
    Cidr(Vec<IpNet>),
    /// Exact values, lowercase.
    Strings(rustc_hash::FxHashSet<String>),
    /// Domains: the name and every name below it.
    Hostnames(rustc_hash::FxHashSet<String>),
    Substrings(Vec<String>),
}

#[derive(Deserialize)]
struct Raw {
    name: String,
    #[serde(rename = "type")]
    list_type: String,
    list: Vec<String>,
}

impl Warninglist {
    /// Reads a MISP warninglist `list.json`. The `regex` type is refused (MISP's regexes
    /// are PCRE; evaluating them here would be a guess).
    pub fn from_json(bytes: &[u8]) -> Result<Warninglist, ImportError> {
        crate::import::check_size(bytes)?;
        let raw: Raw = serde_json::from_slice(bytes)?;
        let lower = || {
            raw.list
                .iter()
                .map(|s| s.trim().trim_end_matches('.').to_lowercase())
                .filter(|s| !s.is_empty())
        };
        let entries = match raw.list_type.as_str() {
            "cidr" => Entries::Cidr(
                raw.list
                    .iter()
                    .filter_map(|s| {
                        s.trim()
                            .parse::<IpNet>()
                            .ok()
                            .or_else(|| s.trim().parse::<std::net::IpAddr>().ok().map(IpNet::from))
                    })
                    .collect(),
            ),
            "string" => Entries::Strings(lower().collect()),
            "hostname" => Entries::Hostnames(
                lower()
                    .map(|s| {
                        s.trim_start_matches("*.")
                            .trim_start_matches('.')
                            .to_owned()
                    })
                    .collect(),
            ),
            "substring" => Entries::Substrings(lower().collect()),
            other => {
                return Err(ImportError::Shape {
                    expected: "supported warninglist",
                    reason: format!("type `{other}` is not supported"),
                });
            }
        };
        Ok(Warninglist {
            name: raw.name,
            entries,
        })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        match &self.entries {
            Entries::Cidr(v) => v.len(),
            Entries::Strings(v) | Entries::Hostnames(v) => v.len(),
            Entries::Substrings(v) => v.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the indicator is a known-benign value of this list.
    pub fn contains(&self, indicator: &Indicator) -> bool {
        let value = indicator.value.as_str();
        match &self.entries {
            Entries::Cidr(nets) => {
                if indicator.kind != IndicatorKind::Ip {
                    return false;
                }
                let Ok(net) = value
                    .parse::<IpNet>()
                    .or_else(|_| value.parse::<std::net::IpAddr>().map(IpNet::from))
                else {
                    return false;
                };
                nets.iter().any(|benign| benign.contains(&net))
            }
            Entries::Strings(set) => {
                set.contains(value) || host_of(indicator).is_some_and(|host| set.contains(host))
            }
            Entries::Hostnames(set) => host_of(indicator).is_some_and(|host| {
                let mut name = host;
                loop {
                    if set.contains(name) {
                        return true;
                    }
                    match name.split_once('.') {
                        Some((_, parent)) if !parent.is_empty() => name = parent,
                        _ => return false,
                    }
                }
            }),
            Entries::Substrings(parts) => parts.iter().any(|part| value.contains(part.as_str())),
        }
    }
}

/// The host name an indicator is about (domain, URL host, email domain).
fn host_of(indicator: &Indicator) -> Option<&str> {
    match indicator.kind {
        IndicatorKind::Domain => Some(&indicator.value),
        IndicatorKind::Url => {
            let rest = indicator.value.split_once("://")?.1;
            let host = rest.split(['/', '?', '#']).next()?;
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            Some(host.split(':').next().unwrap_or(host))
        }
        IndicatorKind::Email => indicator.value.rsplit_once('@').map(|(_, d)| d),
        _ => None,
    }
}

/// Several warninglists, checked together.
#[derive(Debug, Clone, Default)]
pub struct Warninglists {
    lists: Vec<Warninglist>,
}

impl Warninglists {
    /// No lists.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a list.
    pub fn push(&mut self, list: Warninglist) {
        self.lists.push(list);
    }

    /// Number of lists.
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// The first list that has the indicator.
    pub fn check(&self, indicator: &Indicator) -> Option<&str> {
        self.lists
            .iter()
            .find(|list| list.contains(indicator))
            .map(|list| list.name.as_str())
    }

    /// The first list naming `host` or one of its parent domains as an entry (with the entry
    /// matched), whatever the
    /// list's matching type: for questions such as "is this domain a disposable-mailbox
    /// provider?", where a substring list's loose match (`tmail.com` inside `hotmail.com`)
    /// would be wrong.
    pub fn list_of_host(&self, host: &str) -> Option<(&str, String)> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        // No DNS name is longer; a hostile one would cost a scan of every entry per label.
        if host.len() > 253 {
            return None;
        }
        let names = || {
            let mut name = host.as_str();
            std::iter::from_fn(move || {
                let current = name;
                if current.is_empty() {
                    return None;
                }
                name = current.split_once('.').map_or("", |(_, parent)| parent);
                // A bare top-level label is no entry worth matching.
                current.contains('.').then_some(current)
            })
        };
        self.lists.iter().find_map(|list| {
            let entry = match &list.entries {
                Entries::Cidr(_) => None,
                Entries::Strings(set) | Entries::Hostnames(set) => {
                    names().find(|name| set.contains(*name))
                }
                Entries::Substrings(parts) => names().find(|name| {
                    parts
                        .iter()
                        .any(|part| part.trim_start_matches('.') == *name)
                }),
            }?;
            Some((list.name.as_str(), entry.to_owned()))
        })
    }

    /// Removes the indicators a list has; returns them with the list's name.
    pub fn suppress(&self, indicators: &mut Vec<Indicator>) -> Vec<(Indicator, String)> {
        let mut suppressed = Vec::new();
        indicators.retain(|indicator| match self.check(indicator) {
            Some(name) => {
                suppressed.push((indicator.clone(), name.to_owned()));
                false
            }
            None => true,
        });
        suppressed
    }
}
