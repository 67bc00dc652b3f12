//! Campaigns: reports that come from the same operation, grouped by what they share.
//!
//! Each report gives a set of keys taken from its stored analysis (a serialized
//! [`crate::Report`]). Two kinds of keys:
//!
//! - *strong* keys link two reports on their own: the same link (`url`), link host
//!   (`host`, the registrable domain, or the customer's host or path on free-hosting
//!   zones), attachment (`sha256`), other sender domain such as Reply-To (`sender`), and the
//!   `From` domain (`from`) when the envelope or a DKIM signature has the same domain
//!   (anyone can write any From);
//! - *weak* keys are sending infrastructure that mail providers share between unrelated
//!   senders: the sending IP (`ip`), the envelope sender's domain (`envelope`) and the DKIM
//!   signing domain (`dkim`), and any value on infrastructure that unrelated senders share
//!   (ESP click trackers, social networks, CDNs: `data/campaign_infrastructure.txt`). Two
//!   reports are linked when they share at least two of them (the same IP *and* the same
//!   DKIM domain, say).
//!
//! Grouping is transitive (union-find): A and B share a URL, B and C an attachment, so A, B
//! and C are one campaign. Values everybody shares (free mail, brands' own sites, URL
//! shorteners, the organisation's own domains) are never keys. Work and memory are bounded:
//! at most [`MAX_KEYS_PER_REPORT`] keys per report, and a weak key seen in more than
//! [`MAX_WEAK_POSTINGS`] reports is ignored as shared infrastructure (it would pair every
//! report with every other).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::desk::StoredReport;
use crate::domains;
use crate::share::is_common_host;

/// Keys taken from one report at most (a message with thousands of links does not make
/// the grouping quadratic).
pub const MAX_KEYS_PER_REPORT: usize = 64;
/// A weak key in more reports than this is provider infrastructure, not a campaign's.
pub const MAX_WEAK_POSTINGS: usize = 40;
/// Longest value kept as a key (longer URLs are cut: their prefix still identifies them).
const MAX_VALUE_CHARS: usize = 300;

/// What a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// A link, as written.
    Url,
    /// The host of a link (registrable domain; full host on free-hosting zones).
    Host,
    /// SHA-256 of an attachment.
    Sha256,
    /// Registrable domain of the `From` address.
    From,
    /// Another sender domain of the message (Reply-To, Return-Path).
    Sender,
    /// The IP of the first external hop.
    Ip,
    /// Registrable domain of the envelope sender (SPF identity).
    Envelope,
    /// Registrable domain of a DKIM signature (`d=`).
    Dkim,
}

impl KeyKind {
    /// Whether one shared key of this kind links two reports.
    pub fn is_strong(self) -> bool {
        !matches!(self, KeyKind::Ip | KeyKind::Envelope | KeyKind::Dkim)
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Url => "url",
            KeyKind::Host => "host",
            KeyKind::Sha256 => "sha256",
            KeyKind::From => "from",
            KeyKind::Sender => "sender",
            KeyKind::Ip => "ip",
            KeyKind::Envelope => "envelope",
            KeyKind::Dkim => "dkim",
        }
    }
}

/// One value by which reports are grouped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CampaignKey {
    pub kind: KeyKind,
    pub value: String,
    /// Whether sharing this key alone links two reports: strong kinds, except on
    /// infrastructure that unrelated senders share (ESP trackers, social networks, CDNs).
    pub strong: bool,
}

/// SHA-256 of zero bytes: empty attachments are everywhere.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// RFC 2606 names used as placeholders: never a campaign's.
const RESERVED: &[&str] = &["example.com", "example.net", "example.org"];

/// Registrable domains that unrelated senders share (data file).
pub(crate) fn is_infrastructure(registrable: &str) -> bool {
    static LIST: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../data/campaign_infrastructure.txt")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    })
    .contains(registrable)
}

/// A value that two or more reports of a campaign share.
#[derive(Debug, Clone, Serialize)]
pub struct SharedValue {
    pub kind: KeyKind,
    pub value: String,
    /// Whether it links reports on its own ([`CampaignKey::strong`]).
    pub strong: bool,
    /// How many of the campaign's reports have it.
    pub reports: usize,
}

/// Reports of one campaign.
#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    /// Stable while the campaign grows: the id of its oldest report.
    pub id: String,
    /// Report ids, newest first.
    pub reports: Vec<String>,
    /// What its reports share, strongest evidence first.
    pub shared: Vec<SharedValue>,
    /// Unix seconds of the oldest and newest report.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Distinct reporters.
    pub reporters: usize,
    /// Reports per verdict in force (`malicious`, `suspicious`, `likely_safe`).
    pub verdicts: BTreeMap<String, usize>,
    /// Up to five distinct subjects, newest first.
    pub subjects: Vec<String>,
}

/// The keys of one stored analysis; `own_domains` are the organisation's (never keys).
pub fn keys(analysis: &serde_json::Value, own_domains: &[String]) -> Vec<CampaignKey> {
    let own: Vec<String> = own_domains
        .iter()
        .map(|d| domains::registrable(d))
        .collect();
    let indicators = &analysis["indicators"];
    let mut keys: BTreeSet<CampaignKey> = BTreeSet::new();
    let add = |keys: &mut BTreeSet<CampaignKey>, kind: KeyKind, value: &str| {
        let value = value.trim();
        if value.is_empty() || keys.len() >= MAX_KEYS_PER_REPORT {
            return;
        }
        // The domain a value belongs to, for the infrastructure list.
        // A free-hosting customer is specific even on a shared platform.
        let owner =
            |host: &str| matches!(hosting(host), Hosting::Own).then(|| domains::registrable(host));
        let domain = match kind {
            KeyKind::Url => url::Url::parse(value)
                .ok()
                .and_then(|u| u.host_str().and_then(owner)),
            KeyKind::Host => owner(value.split('/').next().unwrap_or_default()),
            KeyKind::From | KeyKind::Sender | KeyKind::Envelope | KeyKind::Dkim => {
                Some(value.to_owned())
            }
            KeyKind::Sha256 | KeyKind::Ip => None,
        };
        if domain.as_deref().is_some_and(|d| RESERVED.contains(&d)) {
            return;
        }
        keys.insert(CampaignKey {
            kind,
            value: value.chars().take(MAX_VALUE_CHARS).collect(),
            strong: kind.is_strong() && !domain.as_deref().is_some_and(is_infrastructure),
        });
    };
    let domain_of = |address: &str| -> Option<String> {
        let (_, domain) = address.rsplit_once('@')?;
        // `"Name" <a@b.example>`, stray quotes: keep the name's own characters.
        let domain: String = domain
            .trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect::<String>()
            .to_lowercase();
        (domain.contains('.') && !is_common_host(&domain, &own))
            .then(|| domains::registrable(&domain))
    };
    let strings = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };

    // Attachments and links first: they are the strongest evidence, and the cap on keys
    // per report should cut the weakest.
    for hash in strings(&indicators["attachment_sha256"]).into_iter().chain(
        analysis["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["sha256"].as_str().map(str::to_owned)),
    ) {
        let hash = hash.to_ascii_lowercase();
        if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && hash != EMPTY_SHA256 {
            add(&mut keys, KeyKind::Sha256, &hash);
        }
    }
    for url in strings(&indicators["urls"]) {
        if keys.len() >= MAX_KEYS_PER_REPORT {
            break;
        }
        let Ok(parsed) = url::Url::parse(url.trim()) else {
            continue;
        };
        let Some(host) = parsed.host_str().map(str::to_ascii_lowercase) else {
            continue;
        };
        if is_common_host(&host, &own) {
            continue;
        }
        add(&mut keys, KeyKind::Url, parsed.as_str());
        add(&mut keys, KeyKind::Host, &link_host_key(&parsed, &host));
    }
    // Link domains without their URLs (from visible text, unwrapped redirects); names on
    // free-hosting zones are covered by their URLs above.
    for domain in strings(&indicators["domains"]) {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if domain.contains('.')
            && !is_common_host(&domain, &own)
            && matches!(hosting(&domain), Hosting::Own)
        {
            let key = if domain.parse::<std::net::IpAddr>().is_ok() {
                domain
            } else {
                domains::registrable(&domain)
            };
            add(&mut keys, KeyKind::Host, &key);
        }
    }
    let from = indicators["from_address"].as_str().and_then(domain_of);
    let envelope = analysis["auth"]["spf_identity"]
        .get(1)
        .and_then(|v| v.as_str())
        .and_then(domain_of);
    let dkim_domains: Vec<String> = analysis["auth"]["dkim"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|signature| signature.get(0).and_then(|d| d.as_str()))
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| d.contains('.') && !is_common_host(d, &own))
        .map(|d| domains::registrable(&d))
        .collect();
    if let Some(from) = &from {
        // Anyone can write any From: it is the sender's own only when the envelope or a
        // DKIM signature carries the same domain. A spoofed brand's domain (the same
        // bank's name on a hundred unrelated lures) is weak evidence.
        let aligned = envelope.as_ref() == Some(from) || dkim_domains.contains(from);
        let before = keys.len();
        add(&mut keys, KeyKind::From, from);
        if !aligned && keys.len() > before {
            let mut key = keys
                .iter()
                .find(|k| k.kind == KeyKind::From)
                .cloned()
                .expect("just added");
            keys.remove(&key);
            key.strong = false;
            keys.insert(key);
        }
    }
    for sender in strings(&indicators["sender_domains"]) {
        let sender: String = sender
            .trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect::<String>()
            .to_lowercase();
        if !sender.contains('.') || is_common_host(&sender, &own) {
            continue;
        }
        let registrable = domains::registrable(&sender);
        if Some(&registrable) != from.as_ref() && Some(&registrable) != envelope.as_ref() {
            add(&mut keys, KeyKind::Sender, &registrable);
        }
    }
    if let Some(envelope) = &envelope {
        add(&mut keys, KeyKind::Envelope, envelope);
    }
    for domain in &dkim_domains {
        add(&mut keys, KeyKind::Dkim, domain);
    }
    let ip = indicators["origin_ip"]
        .as_str()
        .or_else(|| {
            analysis["auth"]["spf_identity"]
                .get(0)
                .and_then(|v| v.as_str())
        })
        .and_then(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .filter(is_public);
    if let Some(ip) = ip {
        add(&mut keys, KeyKind::Ip, &ip.to_string());
    }
    keys.into_iter().collect()
}

/// Where on a free-hosting zone a customer's content lives.
enum Hosting {
    /// Not a free-hosting zone: the registrable domain is the owner's.
    Own,
    /// A customer's subdomain (`victim-login.web.app`): the full host is the actor's.
    Subdomain,
    /// The zone itself (`storage.googleapis.com/<bucket>/…`): the customer is in the path.
    Path,
}

fn hosting(host: &str) -> Hosting {
    let zones = &domains::lists().free_hosting;
    if zones.iter().any(|zone| host == zone) {
        Hosting::Path
    } else if zones.iter().any(|zone| {
        host.len() > zone.len()
            && host.ends_with(zone.as_str())
            && host.as_bytes()[host.len() - zone.len() - 1] == b'.'
    }) {
        Hosting::Subdomain
    } else {
        Hosting::Own
    }
}

/// The host key of a link: the registrable domain; on free-hosting zones the customer's
/// host, or host and first path segment (the bucket, the site) where customers share one.
fn link_host_key(url: &url::Url, host: &str) -> String {
    let host = host.trim_end_matches('.');
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host.to_owned();
    }
    match hosting(host) {
        Hosting::Own => domains::registrable(host),
        Hosting::Subdomain => host.to_owned(),
        Hosting::Path => {
            let first = url
                .path_segments()
                .and_then(|mut segments| segments.next())
                .unwrap_or_default();
            format!("{host}/{first}")
        }
    }
}

/// Private, loopback and documentation-free addresses say nothing about the sender.
fn is_public(ip: &std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast())
        }
        std::net::IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Groups `reports` into campaigns of two or more, biggest first, then most recent.
pub fn group(reports: &[StoredReport], own_domains: &[String]) -> Vec<Campaign> {
    let keys: Vec<Vec<CampaignKey>> = reports
        .iter()
        .map(|r| keys(&r.analysis, own_domains))
        .collect();
    let mut sets = DisjointSets::new(reports.len());
    // Postings: which reports have each key.
    let mut postings: HashMap<&CampaignKey, Vec<usize>> = HashMap::new();
    for (index, report_keys) in keys.iter().enumerate() {
        for key in report_keys {
            postings.entry(key).or_default().push(index);
        }
    }
    // Reports sharing weak keys: counted per pair, linked at two.
    let mut weak_pairs: HashMap<(usize, usize), u8> = HashMap::new();
    for (key, members) in &postings {
        if members.len() < 2 {
            continue;
        }
        if key.strong {
            for pair in members.windows(2) {
                sets.union(pair[0], pair[1]);
            }
        } else if members.len() <= MAX_WEAK_POSTINGS {
            for (i, &a) in members.iter().enumerate() {
                for &b in &members[i + 1..] {
                    let count = weak_pairs.entry((a, b)).or_default();
                    *count = count.saturating_add(1);
                }
            }
        }
    }
    for ((a, b), count) in weak_pairs {
        if count >= 2 {
            sets.union(a, b);
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for index in 0..reports.len() {
        groups.entry(sets.root(index)).or_default().push(index);
    }
    let mut campaigns: Vec<Campaign> = groups
        .into_values()
        .filter(|members| members.len() >= 2)
        .map(|members| campaign(reports, &keys, &postings, members))
        .collect();
    campaigns.sort_by(|a, b| {
        b.reports
            .len()
            .cmp(&a.reports.len())
            .then(b.last_seen.cmp(&a.last_seen))
            .then(a.id.cmp(&b.id))
    });
    campaigns
}

fn campaign(
    reports: &[StoredReport],
    keys: &[Vec<CampaignKey>],
    postings: &HashMap<&CampaignKey, Vec<usize>>,
    mut members: Vec<usize>,
) -> Campaign {
    members.sort_by(|a, b| {
        (reports[*b].received_at, &reports[*b].id).cmp(&(reports[*a].received_at, &reports[*a].id))
    });
    let member_set: std::collections::HashSet<usize> = members.iter().copied().collect();
    let mut shared: Vec<SharedValue> = members
        .iter()
        .flat_map(|m| keys[*m].iter())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter_map(|key| {
            let count = postings
                .get(key)
                .map_or(0, |p| p.iter().filter(|i| member_set.contains(i)).count());
            (count >= 2).then(|| SharedValue {
                kind: key.kind,
                value: key.value.clone(),
                strong: key.strong,
                reports: count,
            })
        })
        .collect();
    shared.sort_by(|a, b| {
        b.strong
            .cmp(&a.strong)
            .then(b.reports.cmp(&a.reports))
            .then(a.kind.cmp(&b.kind))
            .then(a.value.cmp(&b.value))
    });
    let of = |m: &usize| &reports[*m];
    let mut verdicts = BTreeMap::new();
    for m in &members {
        *verdicts
            .entry(of(m).verdict.as_str().to_owned())
            .or_default() += 1;
    }
    let mut subjects: Vec<String> = Vec::new();
    for subject in members.iter().filter_map(|m| of(m).subject.as_deref()) {
        let subject: String = subject.chars().take(200).collect();
        if subjects.len() < 5 && !subjects.contains(&subject) {
            subjects.push(subject);
        }
    }
    let reporters = members
        .iter()
        .filter_map(|m| of(m).reporter.as_deref())
        .map(str::to_ascii_lowercase)
        .collect::<BTreeSet<_>>()
        .len();
    let oldest = of(members.last().expect("a campaign has two or more reports"));
    Campaign {
        id: oldest.id.clone(),
        reports: members.iter().map(|m| of(m).id.clone()).collect(),
        shared,
        first_seen: members.iter().map(|m| of(m).received_at).min().unwrap_or(0),
        last_seen: members.iter().map(|m| of(m).received_at).max().unwrap_or(0),
        reporters,
        verdicts,
        subjects,
    }
}

/// Union-find with path halving and union by size.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.root(a), self.root(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}

#[cfg(test)]
mod tests;
