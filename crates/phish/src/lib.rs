//! Phishing analyzer: a raw message in, a [`Report`] out — a verdict (`malicious`,
//! `suspicious`, `likely_safe`), a score and the reasons, in English and Italian.
//!
//! Sans-IO: links are never fetched and DNS answers come from a [`DnsRecords`]
//! ([`OfflineDns`] when there is no network; the server resolves what
//! [`Report::dns_missing`] lists and analyses again).
//!
//! ```
//! use phish::{Analyzer, AnalyzerConfig, OfflineDns, Verdict};
//! let analyzer = Analyzer::new(AnalyzerConfig::default());
//! let raw = b"From: PayPal <service@paypa1-secure.top>\r\nSubject: Account suspended\r\n\r\n\
//!     Your account has been suspended. Verify your account within 24 hours: http://192.0.2.7/login\r\n";
//! let report = analyzer.analyze(raw, &OfflineDns);
//! assert_eq!(report.verdict, Verdict::Malicious);
//! ```

mod attachments;
pub mod auth;
pub mod campaigns;
pub mod desk;
pub mod dns;
pub mod domains;
mod error;
mod headers;
pub mod intake;
pub mod known;
mod links;
pub mod reply;
mod report;
pub mod share;
pub mod stats;
mod text;
pub mod yara;

use std::collections::HashSet;

use mail_parser::{Message, MessageParser};

pub use desk::{Desk, Override, ReplyStatus, StoredReport, Submission};
pub use dns::{DnsAnswer, DnsFailure, DnsRecords, LiveDnsSettings, OfflineDns, RecordedDns};
pub use error::PhishError;
pub use intake::{Forwarding, Reported, extract_reported};
pub use known::{IntelHit, KnownIndicator, KnownIndicators, Observable, Warninglisted};
pub use report::{AttachmentInfo, Category, Finding, Hop, Indicators, Language, Report, Verdict};

/// Whether `raw` plausibly is an email message: it starts with a header field (`Name: value`,
/// among the first lines one of the usual mail headers) or an mbox `From ` line. For skipping
/// files that are clearly something else (a licence, a README, a picture) when a folder is
/// analysed; [`Analyzer::analyze`] itself accepts anything.
pub fn looks_like_message(raw: &[u8]) -> bool {
    let head = &raw[..raw.len().min(16 << 10)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let head = &head[start..];
    if head.starts_with(b"From ") {
        return true;
    }
    const USUAL: &[&str] = &[
        "from",
        "to",
        "subject",
        "date",
        "received",
        "return-path",
        "message-id",
        "mime-version",
        "delivered-to",
        "reply-to",
        "content-type",
        "sender",
        "cc",
        "x-mailer",
        "dkim-signature",
        "authentication-results",
        "arc-seal",
    ];
    let mut usual = false;
    for (index, line) in head.split(|b| *b == b'\n').take(60).enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if index == 0 {
                return false;
            }
            continue;
        }
        // A field name: printable ASCII without spaces or colons, then a colon.
        // A line that is no field ends the header block (malformed mail still counts when
        // a usual header came before it).
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return usual;
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
            return usual;
        }
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        usual |= USUAL.contains(&name.as_str());
    }
    usual
}

/// What the analyzer protects and how far it digs.
#[derive(Debug, Clone)]
pub struct AnalyzerConfig {
    /// The organisation's own registrable domains (`comune.example.it`): display-name
    /// impersonation and lookalikes of these are reported.
    pub own_domains: Vec<String>,
    /// Score at or above which a message is `suspicious`.
    pub suspicious_score: u32,
    /// Score at or above which a message is `malicious`.
    pub malicious_score: u32,
    /// Messages larger than this are analysed on their first `max_message_bytes` only.
    pub max_message_bytes: usize,
    /// Attachments larger than this are hashed but not inspected.
    pub max_inspect_bytes: usize,
    /// Most bytes decompressed from one archive (zip bombs stop here).
    pub max_unpacked_bytes: u64,
    /// Deepest nesting of attached messages and archives that is analysed.
    pub max_depth: usize,
    /// Use the receiving server's `Authentication-Results` when our own check could not run.
    pub trust_receiver_auth_results: bool,
    /// Verify DKIM/ARC/SPF/DMARC at all (off: content-only analysis, for ablations).
    pub check_authentication: bool,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self {
            own_domains: Vec::new(),
            suspicious_score: 4,
            malicious_score: 8,
            max_message_bytes: 64 << 20,
            max_inspect_bytes: 30 << 20,
            max_unpacked_bytes: 64 << 20,
            max_depth: 4,
            trust_receiver_auth_results: true,
            check_authentication: true,
        }
    }
}

/// The phishing analyzer; cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Analyzer {
    config: AnalyzerConfig,
    own: Vec<(String, HashSet<String>)>,
    yara: Option<std::sync::Arc<yara::YaraRules>>,
    known: Option<std::sync::Arc<dyn KnownIndicators>>,
}

impl Analyzer {
    pub fn new(config: AnalyzerConfig) -> Self {
        let own = config
            .own_domains
            .iter()
            .map(|d| {
                let registrable = domains::registrable(d);
                // `comune.roma.it` is registrable under `roma.it`: protect "comuneroma",
                // not the generic "comune".
                let suffix = domains::suffix(&registrable);
                let label = registrable
                    .strip_suffix(&suffix)
                    .unwrap_or(&registrable)
                    .trim_end_matches('.')
                    .replace('.', "");
                (label, HashSet::from([registrable]))
            })
            .collect();
        Self {
            config,
            own,
            yara: None,
            known: None,
        }
    }

    /// Also scans attachments and the message with these YARA rules.
    pub fn with_yara(mut self, rules: std::sync::Arc<yara::YaraRules>) -> Self {
        self.yara = Some(rules);
        self
    }

    /// Also looks the message's links, sender, sending IP and attachment hashes up in
    /// threat intelligence.
    pub fn with_known_indicators(mut self, known: std::sync::Arc<dyn KnownIndicators>) -> Self {
        self.known = Some(known);
        self
    }

    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// Analyses one raw RFC 5322 message. Never fails: what cannot be analysed becomes a
    /// finding that says so.
    pub fn analyze(&self, raw: &[u8], dns: &dyn DnsRecords) -> Report {
        let mut out = Findings::default();
        let raw = if raw.len() > self.config.max_message_bytes {
            out.add(
                "analysis.truncated",
                Category::Analysis,
                0,
                format!(
                    "the message is larger than {} MB: only its beginning was analysed",
                    self.config.max_message_bytes >> 20
                ),
                format!(
                    "il messaggio supera {} MB: è stato analizzato solo l'inizio",
                    self.config.max_message_bytes >> 20
                ),
            );
            &raw[..self.config.max_message_bytes]
        } else {
            raw
        };
        let parser = MessageParser::default();
        // mail-parser gives up only on input without any header; analyse such bytes as a body.
        let mut padded = Vec::new();
        let message = match parser.parse(raw) {
            Some(message) if !message.parts.is_empty() => message,
            _ => {
                out.add(
                    "analysis.unparsable",
                    Category::Analysis,
                    1,
                    "the message has no valid email headers; only its content was analysed".into(),
                    "il messaggio non ha intestazioni email valide; è stato analizzato solo il contenuto".into(),
                );
                padded.extend_from_slice(b"X-Sentinella: unparsable\r\n\r\n");
                padded.extend_from_slice(raw);
                match parser.parse(&padded) {
                    Some(message) if !message.parts.is_empty() => message,
                    _ => return self.empty_report(out),
                }
            }
        };
        let mut cx = Context {
            analyzer: self,
            out,
            indicators: Indicators::default(),
            attachments: Vec::new(),
            seen_urls: HashSet::new(),
            claimed_brand: None,
            asks_credentials: false,
            text_brand: None,
        };
        let header_facts = headers::check(&mut cx, &message, raw, dns);
        if let Some(rules) = &self.yara {
            attachments::yara(&mut cx, rules, attachments::MESSAGE, raw);
        }
        let sender_domain = header_facts.from_domain.clone();
        self.body(&mut cx, &message, sender_domain.as_deref(), 0);
        brand_links(&mut cx);
        credentials_elsewhere(&mut cx, sender_domain.as_deref());
        platform_links(&mut cx, sender_domain.as_deref());
        brand_bill_from_freemail(&mut cx);
        let intel = match &self.known {
            Some(known) => known::check(&mut cx, known.as_ref()),
            None => Vec::new(),
        };
        let Context {
            out,
            indicators,
            attachments,
            ..
        } = cx;
        let score: u32 = out.findings.iter().map(|f| f.weight).sum();
        let verdict = if score >= self.config.malicious_score {
            Verdict::Malicious
        } else if score >= self.config.suspicious_score {
            Verdict::Suspicious
        } else {
            Verdict::LikelySafe
        };
        Report {
            verdict,
            score,
            subject: message.subject().map(str::to_owned),
            findings: out.findings,
            attachments,
            received: header_facts.received,
            auth: header_facts.auth,
            indicators,
            intel,
        }
    }

    fn empty_report(&self, out: Findings) -> Report {
        let score = out.findings.iter().map(|f| f.weight).sum();
        Report {
            verdict: Verdict::LikelySafe,
            score,
            subject: None,
            findings: out.findings,
            attachments: Vec::new(),
            received: Vec::new(),
            auth: auth::AuthCheck::empty(),
            indicators: Indicators::default(),
            intel: Vec::new(),
        }
    }

    /// Text, HTML and attachments of `message`, recursing into attached messages.
    fn body(&self, cx: &mut Context, message: &Message, sender_domain: Option<&str>, depth: usize) {
        let mut text = String::new();
        if let Some(subject) = message.subject() {
            text.push_str(subject);
            text.push('\n');
        }
        for part in message.text_bodies() {
            if let Some(body) = part.text_contents() {
                if part.is_text_html() {
                    links::html(cx, body, sender_domain);
                    text::offscreen(cx, body);
                    text.push_str(&links::html_to_text(body));
                } else {
                    links::plain(cx, body, sender_domain);
                    text.push_str(body);
                }
                text.push('\n');
            }
        }
        for part in message.html_bodies() {
            if let Some(body) = part.text_contents()
                && part.is_text_html()
            {
                links::html(cx, body, sender_domain);
                text::offscreen(cx, body);
                if text.len() < 200 {
                    text.push_str(&links::html_to_text(body));
                }
            }
        }
        text::check(cx, &text);
        // A lure that is little more than a picture and a link hides its words from filters
        // (SpamAssassin's HTML_IMAGE_ONLY family).
        let has_html = message.html_bodies().any(|p| p.is_text_html());
        let visible_chars = text
            .split_whitespace()
            .map(|w| w.chars().count() + 1)
            .sum::<usize>();
        if depth == 0 && has_html && visible_chars < 300 && !cx.seen_urls.is_empty() {
            cx.out.add(
                "text.little_text",
                Category::Text,
                2,
                "the message is little more than a link (and pictures): its words are hidden from filters".into(),
                "il messaggio è poco più di un link (e immagini): le parole sono nascoste ai filtri".into(),
            );
        }
        for part in message.attachments() {
            if let Some(inner) = part.message() {
                if depth + 1 >= self.config.max_depth {
                    cx.out.add(
                        "analysis.too_deep",
                        Category::Analysis,
                        1,
                        "messages nested too deeply were not analysed".into(),
                        "i messaggi annidati troppo in profondità non sono stati analizzati".into(),
                    );
                } else {
                    self.body(cx, inner, sender_domain, depth + 1);
                }
                continue;
            }
            attachments::check(cx, part, sender_domain, depth);
        }
    }
}

/// A display name claiming a brand, and links of which none leads to that brand: a real
/// brand's mail, even when sent by a partner, takes you to the brand's own site.
fn brand_links(cx: &mut Context) {
    let Some(brand) = cx.claimed_brand else {
        return;
    };
    let Some(brand_domains) = domains::lists().brands.get(brand) else {
        return;
    };
    let link_domains = &cx.indicators.domains;
    if !link_domains.is_empty() && !link_domains.iter().any(|d| brand_domains.contains(d)) {
        cx.out.add(
            "link.not_brand",
            Category::Links,
            1,
            format!("the message speaks as {brand} but none of its links leads to a {brand} site"),
            format!("il messaggio parla a nome di {brand} ma nessuno dei suoi link porta a un sito di {brand}"),
        );
    }
}

/// A request for credentials whose links all lead away from the sender's own domain: where
/// you would type the password is not the sender's site.
fn credentials_elsewhere(cx: &mut Context, sender_domain: Option<&str>) {
    let Some(sender) = sender_domain else { return };
    let sender = domains::registrable(sender);
    let link_domains = &cx.indicators.domains;
    if cx.asks_credentials && !link_domains.is_empty() && !link_domains.contains(&sender) {
        let shown: Vec<&str> = link_domains.iter().take(3).map(String::as_str).collect();
        cx.out.add(
            "link.credentials_elsewhere",
            Category::Links,
            1,
            format!("the message asks for login details, but its links lead away from the sender's domain {sender} (to {})", shown.join(", ")),
            format!("il messaggio chiede dati di accesso, ma i suoi link portano fuori dal dominio del mittente {sender} (a {})", shown.join(", ")),
        );
    }
}

/// A sender on an app platform's tenant domain (`x.firebaseapp.com`) whose links all lead
/// elsewhere: an app's own mail (sign-in links, password resets) leads to the app.
fn platform_links(cx: &mut Context, sender_domain: Option<&str>) {
    let Some(sender) = sender_domain else { return };
    if !cx.out.has("header.free_hosting_sender") {
        return;
    }
    let sender = domains::registrable(sender);
    let link_domains = &cx.indicators.domains;
    if !link_domains.is_empty() && !link_domains.contains(&sender) {
        let shown: Vec<&str> = link_domains.iter().take(3).map(String::as_str).collect();
        cx.out.add(
            "link.platform_elsewhere",
            Category::Links,
            2,
            format!("the sender is an app platform address ({sender}) but its links lead elsewhere (to {}): an app's own mail leads to the app", shown.join(", ")),
            format!("il mittente è un indirizzo di una piattaforma di app ({sender}) ma i suoi link portano altrove (a {}): la posta di un'app porta all'app", shown.join(", ")),
        );
    }
}

/// An order or payment notice from a free mailbox that bills in a brand's name ("your
/// PayPal invoice", "Geek Squad renewal"): brands do not bill from Gmail; this is the
/// fake-invoice and callback-scam pattern.
fn brand_bill_from_freemail(cx: &mut Context) {
    if let Some(brand) = cx.text_brand
        && cx.out.has("header.freemail_transaction")
    {
        cx.out.add(
            "text.brand_bill_from_freemail",
            Category::Text,
            2,
            format!("the notice is written in the name of {brand}, which does not send bills or orders from a free mailbox"),
            format!("l'avviso è scritto a nome di {brand}, che non invia fatture o ordini da una casella gratuita"),
        );
    }
}

/// Longest reason kept, in characters.
const MAX_REASON_CHARS: usize = 600;

fn cap_reason(reason: String) -> String {
    match reason.char_indices().nth(MAX_REASON_CHARS) {
        Some((end, _)) => format!("{}…", &reason[..end]),
        None => reason,
    }
}

/// State of one analysis, passed to every check.
pub(crate) struct Context<'a> {
    pub analyzer: &'a Analyzer,
    pub out: Findings,
    pub indicators: Indicators,
    pub attachments: Vec<AttachmentInfo>,
    pub seen_urls: HashSet<String>,
    /// The well-known brand the display name claims, when the sender is not that brand.
    pub claimed_brand: Option<&'static str>,
    /// The text asks for credentials (passwords, logins, wallets).
    pub asks_credentials: bool,
    /// A well-known brand the text names ("PayPal", "Pay Pal"), ambiguous names excluded.
    pub text_brand: Option<&'static str>,
}

impl Context<'_> {
    /// Brands and the organisation's own domains, as names to protect.
    pub fn protected(&self) -> impl Iterator<Item = domains::Protected<'_>> {
        let own = self
            .analyzer
            .own
            .iter()
            .map(|(label, domains)| domains::Protected { label, domains });
        let brands = domains::lists()
            .brands
            .iter()
            .map(|(label, domains)| domains::Protected { label, domains });
        own.chain(brands)
    }

    pub fn is_own_domain(&self, domain: &str) -> bool {
        let registrable = domains::registrable(domain);
        self.analyzer
            .own
            .iter()
            .any(|(_, d)| d.contains(&registrable))
    }
}

/// Findings, each code at most once (the strongest instance is kept).
#[derive(Default)]
pub(crate) struct Findings {
    pub findings: Vec<Finding>,
}

impl Findings {
    pub fn add(
        &mut self,
        code: &'static str,
        category: Category,
        weight: u32,
        en: String,
        it: String,
    ) {
        // Reasons quote the attacker's values (names, subjects, hosts); whatever their size,
        // a reason stays readable and fits in the answer mailed back.
        let (en, it) = (cap_reason(en), cap_reason(it));
        if let Some(existing) = self.findings.iter_mut().find(|f| f.code == code) {
            if weight > existing.weight {
                *existing = Finding {
                    code,
                    category,
                    weight,
                    en,
                    it,
                };
            }
            return;
        }
        self.findings.push(Finding {
            code,
            category,
            weight,
            en,
            it,
        });
    }

    pub fn has(&self, code: &str) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}
