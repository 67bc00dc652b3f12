//! What threat intelligence already knows about a message: its links, their domains, the
//! sender's address and domains, the sending IP and the attachments' hashes are looked up
//! in the indicator set. A value intelligence lists as malicious decides the verdict on its
//! own; the reason given to the reporter names the value from their own message, never the
//! source or marking of the indicator (those are in [`IntelHit`], for analysts).

use std::net::IpAddr;

use serde::Serialize;

use crate::Context;
use crate::report::Category;

/// A value of the message to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observable<'a> {
    Url(&'a str),
    Domain(&'a str),
    Ip(IpAddr),
    Email(&'a str),
    Md5(&'a str),
    Sha1(&'a str),
    Sha256(&'a str),
}

/// The indicator a lookup found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownIndicator {
    /// The indicator's id (`indicator--…`).
    pub id: String,
    /// Its kind and value as intelligence holds them (a domain may cover the link's host).
    pub kind: String,
    pub value: String,
    /// Where intelligence has it from (feed, partner, phishing report).
    pub source: String,
    pub confidence: u8,
    pub tlp: String,
}

/// The indicator set as the analyzer sees it. The server implements it over the live
/// matcher; tests and offline runs over indicator files.
pub trait KnownIndicators: Send + Sync + std::fmt::Debug {
    /// The indicator for `observable`, if intelligence lists it as malicious and the answer
    /// may be used in a verdict given to the reporter.
    fn lookup(&self, observable: Observable<'_>) -> Option<KnownIndicator>;

    /// The name of the warninglist (MISP format) that lists `observable`, if any. Only the
    /// lists that describe senders and hosting are used for verdicts: disposable mailboxes
    /// for the sender, dynamic DNS for link hosts.
    fn warninglist(&self, observable: Observable<'_>) -> Option<Warninglisted> {
        let _ = observable;
        None
    }
}

/// A warninglist entry that covers a value of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warninglisted {
    /// The list's name.
    pub list: String,
    /// The entry that matched: the value itself or a parent domain.
    pub entry: String,
}

/// One value of the message that intelligence knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntelHit {
    /// Where in the message: `link`, `link_domain`, `sender`, `sender_domain`, `origin_ip`,
    /// `attachment`.
    pub place: &'static str,
    /// The value as it appears in the message.
    pub observed: String,
    pub indicator: KnownIndicator,
}

/// An owned [`Observable`].
enum Query {
    Url(String),
    Domain(String),
    Ip(IpAddr),
    Email(String),
    Md5(String),
    Sha1(String),
    Sha256(String),
}

impl Query {
    fn observable(&self) -> Observable<'_> {
        match self {
            Query::Url(v) => Observable::Url(v),
            Query::Domain(v) => Observable::Domain(v),
            Query::Ip(ip) => Observable::Ip(*ip),
            Query::Email(v) => Observable::Email(v),
            Query::Md5(v) => Observable::Md5(v),
            Query::Sha1(v) => Observable::Sha1(v),
            Query::Sha256(v) => Observable::Sha256(v),
        }
    }
}

/// At most this many values are looked up per message (links are capped upstream too).
const MAX_LOOKUPS: usize = 300;
/// At most this many hits are kept per message.
const MAX_HITS: usize = 20;

/// Looks up the message's values and adds one finding per place that intelligence knows.
pub(crate) fn check(cx: &mut Context, known: &dyn KnownIndicators) -> Vec<IntelHit> {
    // (place, value as observed, what to look up)
    let mut queries: Vec<(&'static str, String, Query)> = Vec::new();
    // The links' host names, parsed once: also what the warninglists are asked about.
    let mut hosts: Vec<String> = Vec::new();
    let indicators = &cx.indicators;
    for url in &indicators.urls {
        queries.push(("link", url.clone(), Query::Url(url.clone())));
        // The link's own host (`login.evil.example`), then its registrable domain below.
        match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
            Some(url::Host::Domain(host)) => {
                let host = host.to_ascii_lowercase();
                if hosts.len() < MAX_LOOKUPS && !hosts.contains(&host) {
                    hosts.push(host.clone());
                }
                queries.push(("link_domain", host.clone(), Query::Domain(host)));
            }
            Some(url::Host::Ipv4(ip)) => {
                queries.push(("link_domain", ip.to_string(), Query::Ip(ip.into())));
            }
            Some(url::Host::Ipv6(ip)) => {
                queries.push(("link_domain", ip.to_string(), Query::Ip(ip.into())));
            }
            None => {}
        }
    }
    for domain in &indicators.domains {
        queries.push(("link_domain", domain.clone(), Query::Domain(domain.clone())));
    }
    if let Some(address) = &indicators.from_address {
        queries.push(("sender", address.clone(), Query::Email(address.clone())));
    }
    for domain in &indicators.sender_domains {
        queries.push((
            "sender_domain",
            domain.clone(),
            Query::Domain(domain.clone()),
        ));
    }
    if let Some(text) = &indicators.origin_ip
        && let Ok(ip) = text.parse::<IpAddr>()
    {
        queries.push(("origin_ip", text.clone(), Query::Ip(ip)));
    }
    for attachment in &cx.attachments {
        for hash in [
            Query::Sha256(attachment.sha256.clone()),
            Query::Sha1(attachment.sha1.clone()),
            Query::Md5(attachment.md5.clone()),
        ] {
            queries.push(("attachment", attachment.name.clone(), hash));
        }
    }
    let mut hits: Vec<IntelHit> = Vec::new();
    for (place, observed, query) in queries.into_iter().take(MAX_LOOKUPS) {
        if hits.len() >= MAX_HITS {
            break;
        }
        // One hit per place and value (an attachment found by two hashes counts once).
        if hits
            .iter()
            .any(|h| h.place == place && h.observed == observed)
        {
            continue;
        }
        if let Some(indicator) = known.lookup(query.observable()) {
            hits.push(IntelHit {
                place,
                observed,
                indicator,
            });
        }
    }
    let of = |places: &[&str]| -> Vec<&str> {
        let mut values: Vec<&str> = hits
            .iter()
            .filter(|h| places.contains(&h.place))
            .map(|h| h.observed.as_str())
            .collect();
        values.dedup();
        values.truncate(3);
        values
    };
    warninglisted(cx, known, &hosts);
    let links = of(&["link", "link_domain"]);
    if !links.is_empty() {
        let shown = shown(links.iter().copied());
        cx.out.add(
            "intel.known_link",
            Category::Intelligence,
            8,
            format!("a link leads to a site our threat intelligence lists as malicious ({shown})"),
            format!("un link porta a un sito che la nostra threat intelligence elenca come malevolo ({shown})"),
        );
    }
    let sender = of(&["sender"]);
    if !sender.is_empty() {
        let shown = shown(sender.iter().copied());
        cx.out.add(
            "intel.known_sender",
            Category::Intelligence,
            8,
            format!("the sender is listed as malicious by our threat intelligence ({shown})"),
            format!(
                "il mittente è elencato come malevolo dalla nostra threat intelligence ({shown})"
            ),
        );
    }
    // A listed domain covers every mailbox of it, also a compromised partner's real ones:
    // strong, not decisive alone (the address itself is).
    let sender_domain = of(&["sender_domain"]);
    if sender.is_empty() && !sender_domain.is_empty() {
        let shown = shown(sender_domain.iter().copied());
        cx.out.add(
            "intel.known_sender_domain",
            Category::Intelligence,
            4,
            format!("the sender's domain is listed as malicious by our threat intelligence ({shown})"),
            format!("il dominio del mittente è elencato come malevolo dalla nostra threat intelligence ({shown})"),
        );
    }
    let origin = of(&["origin_ip"]);
    if !origin.is_empty() {
        let shown = shown(origin.iter().copied());
        // A sending address on a blocklist is strong but not decisive alone: shared mail
        // platforms' addresses get listed too.
        cx.out.add(
            "intel.known_origin",
            Category::Intelligence,
            4,
            format!("the message was sent from an Internet address our threat intelligence lists as malicious ({shown})"),
            format!("il messaggio è stato inviato da un indirizzo Internet che la nostra threat intelligence elenca come malevolo ({shown})"),
        );
    }
    let files = of(&["attachment"]);
    if !files.is_empty() {
        let shown = shown(files.iter().copied());
        cx.out.add(
            "intel.known_attachment",
            Category::Intelligence,
            8,
            format!("an attachment is a file our threat intelligence lists as malicious ({shown})"),
            format!("un allegato è un file che la nostra threat intelligence elenca come malevolo ({shown})"),
        );
    }
    hits
}

/// Warninglists that describe the sender's mailbox service and the links' hosting.
fn warninglisted(cx: &mut Context, known: &dyn KnownIndicators, hosts: &[String]) {
    let on_list = |observable: Observable<'_>, words: &[&str]| {
        known.warninglist(observable).filter(|hit| {
            let name = hit.list.to_lowercase();
            words.iter().any(|w| name.contains(w))
        })
    };
    let sender_domain = cx
        .indicators
        .from_address
        .as_deref()
        .and_then(|a| a.rsplit_once('@'))
        .map(|(_, domain)| domain.to_owned());
    if let Some(domain) = sender_domain
        && let Some(Warninglisted { list, .. }) =
            on_list(Observable::Domain(&domain), &["disposable"])
    {
        // Weight 2: MISP's list also names old forwarding services that real people used.
        cx.out.add(
            "header.disposable_sender",
            Category::Headers,
            2,
            format!("the sender uses a disposable mailbox service ({}, on the warninglist \"{list}\"): an address made to be thrown away", clip(&domain)),
            format!("il mittente usa un servizio di caselle usa e getta ({}, nella warninglist \"{list}\"): un indirizzo fatto per essere buttato", clip(&domain)),
        );
    }
    // A name below the provider's domain; the provider's own site (`www.dyndns.org`) is not
    // a dynamic name.
    if let Some((host, list)) = hosts.iter().find_map(|host| {
        let hit = on_list(
            Observable::Domain(host),
            &["dynamic dns", "dynamic-dns", "dyndns"],
        )?;
        let below = host
            .strip_suffix(hit.entry.as_str())
            .and_then(|rest| rest.strip_suffix('.'))?;
        (!below.is_empty() && below != "www").then(|| (host.clone(), hit.list))
    }) {
        cx.out.add(
            "link.dynamic_dns",
            Category::Links,
            2,
            format!("a link leads to {}, a dynamic DNS name (warninglist \"{list}\"): anyone can point it anywhere, and attackers use them to host pages that move", clip(&host)),
            format!("un link porta a {}, un nome DNS dinamico (warninglist \"{list}\"): chiunque può farlo puntare ovunque, e gli attaccanti li usano per pagine che si spostano", clip(&host)),
        );
    }
}

/// Values written into a reason: the attacker chose them, so they are cut to a readable size.
fn clip(value: &str) -> String {
    const MAX_CHARS: usize = 80;
    if value.chars().count() <= MAX_CHARS {
        return value.to_owned();
    }
    let mut cut: String = value.chars().take(MAX_CHARS).collect();
    cut.push('…');
    cut
}

/// Up to three values for a reason, each clipped.
fn shown<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values.map(clip).collect::<Vec<_>>().join(", ")
}
