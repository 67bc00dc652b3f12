//! Sender identity: From / Reply-To / Return-Path, display names, lookalike sender domains,
//! the Received chain and authentication (our own check, else the receiver's results).
//!
//! `check` reads the headers in order; who the sender claims to be is judged in `identity`,
//! whether anything vouches for it in `authentication`.

mod authentication;
mod identity;

use std::net::IpAddr;

use mail_parser::Message;

use crate::Context;
use crate::auth::{self, AuthCheck};
use crate::dns::DnsRecords;
use crate::domains;
use crate::report::{Category, Hop};
use authentication::authentication;
use identity::{named_brand, sender_identity, sender_mailbox};

pub(crate) use identity::is_disguised_word;

pub(crate) struct HeaderFacts {
    pub from_domain: Option<String>,
    pub received: Vec<Hop>,
    pub auth: AuthCheck,
}

fn domain_of(address: &str) -> Option<String> {
    let (_, domain) = address.trim().trim_matches(['<', '>']).rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

pub(crate) fn check(
    cx: &mut Context,
    message: &Message,
    raw: &[u8],
    dns: &dyn DnsRecords,
) -> HeaderFacts {
    // `From: Brand Name,<x@evil>` parses as two entries: a name alone, then the address.
    let from_entries: Vec<_> = message
        .from()
        .map(|a| a.iter().take(10).collect())
        .unwrap_or_default();
    let from = from_entries
        .iter()
        .find(|a| a.address().is_some_and(|s| s.contains('@')));
    let from_address = from.and_then(|a| a.address()).map(str::to_ascii_lowercase);
    let from_name = from_entries
        .iter()
        .filter_map(|a| a.name())
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_owned();
    let from_domain = from_address.as_deref().and_then(domain_of);
    // A mailing list rewrites Reply-To and the envelope. Only a real list identifier counts
    // (RFC 2919: `<label.namespace>`, with a dot): bulk senders add `List-Id: x <Name>` to
    // borrow the exemption.
    let is_list = is_list_id(message.header_raw("List-Id").unwrap_or_default())
        || !message.list_post().is_empty()
        || message.header("Mailing-List").is_some();
    cx.indicators.from_address = from_address.clone();

    if from_address.is_none() {
        cx.out.add(
            "header.no_from",
            Category::Headers,
            2,
            "the message has no valid sender address".into(),
            "il messaggio non ha un indirizzo mittente valido".into(),
        );
    }

    // A sender address no mail server could answer: a domain without a dot
    // (`noreply@bank`), with characters a host name cannot hold, or a quoted local part
    // that itself looks like an address (`"no-reply@brand.com"@elsewhere`). Real systems
    // cannot send from such addresses; bulk phishing kits forge them freely.
    if let (Some(address), Some(domain)) = (&from_address, &from_domain) {
        let bad_domain = !domain.contains('.')
            || domain.starts_with('.')
            || domain.contains("..")
            || !domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
            || domain
                .rsplit('.')
                .next()
                .is_some_and(|tld| tld.is_empty() || tld.chars().all(|c| c.is_ascii_digit()));
        let quoted = address.starts_with('"') || address.matches('@').count() > 1;
        // `x@a.b.c.d.e.f.g.h.example.com`: a chain of one-letter labels is no organisation's
        // host name, but a generator's.
        let letter_chain = domain.split('.').filter(|l| l.len() == 1).count() >= 4;
        if letter_chain && !bad_domain && !quoted {
            cx.out.add(
                "header.odd_sender_host",
                Category::Headers,
                2,
                format!("the sender's domain {domain} is a chain of one-letter names, made by a generator rather than an organisation"),
                format!("il dominio del mittente {domain} è una catena di nomi di una lettera, prodotta da un generatore e non da un'organizzazione"),
            );
        }
        if bad_domain || quoted {
            cx.out.add(
                "header.invalid_sender",
                Category::Headers,
                4,
                format!("the sender address {address} is not a real Internet mail address: it was forged"),
                format!("l'indirizzo del mittente {address} non è un vero indirizzo email Internet: è stato falsificato"),
            );
        }
    }

    // A From field with more than one entry — a name without an address next to the real
    // one (`"Prize Team", x <a@b>`), an empty `<>`, several senders — shows the reader a
    // name that is not the sender's. Real mail programs write one mailbox.
    if from_address.is_some() && from_entries.len() > 1 {
        cx.out.add(
            "header.malformed_from",
            Category::Headers,
            3,
            "the sender field is malformed (several entries, or a name without an address): mail programs show a name that is not the real sender".into(),
            "il campo mittente è malformato (più voci, o un nome senza indirizzo): i programmi di posta mostrano un nome che non è il vero mittente".into(),
        );
    }

    // The address as written: the case of the mailbox matters below.
    if let (Some(address), Some(domain)) = (from.and_then(|a| a.address()), &from_domain) {
        sender_mailbox(cx, address, domain);
    }

    // A brand's name with no address at all (`Facebook <>`): the name is all the reader sees.
    if from_address.is_none()
        && let Some(brand) = named_brand(&from_name)
    {
        cx.claimed_brand = Some(brand);
        cx.out.add(
            "header.brand_display_name",
            Category::Headers,
            3,
            format!("the sender's name says \"{from_name}\" but there is no sender address, let alone a {brand} one"),
            format!("il nome del mittente dice \"{from_name}\" ma manca l'indirizzo del mittente, tanto meno uno di {brand}"),
        );
    }

    let mut sender_domains = Vec::new();
    if let Some(domain) = &from_domain {
        sender_domains.push(domain.clone());
        sender_identity(
            cx,
            &from_name,
            domain,
            message.subject().unwrap_or_default(),
        );
    }

    // Reply-To elsewhere: answers go to someone other than the apparent sender.
    let reply_to = message
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .and_then(domain_of);
    if let (Some(reply), Some(from)) = (&reply_to, &from_domain) {
        sender_domains.push(reply.clone());
        let reply_org = domains::registrable(reply);
        if reply_org != domains::registrable(from) && !is_list {
            let freemail = domains::lists().freemail.contains(&reply_org);
            cx.out.add(
                "header.reply_to_mismatch",
                Category::Headers,
                // Replies to a private free mailbox, whether the sender is an organisation
                // (business-email compromise) or a free mailbox of another provider (a
                // throw-away sender, answers collected elsewhere: advance-fee fraud).
                if freemail { 4 } else { 2 },
                format!("replies go to {reply}, not to the sender's domain {from}"),
                format!("le risposte vanno a {reply}, non al dominio del mittente {from}"),
            );
        }
    }

    // Return-Path (envelope sender) of another organisation: weak, bulk senders do it too.
    let return_domain = message.return_address().and_then(domain_of);
    if let (Some(ret), Some(from)) = (&return_domain, &from_domain) {
        sender_domains.push(ret.clone());
        if domains::registrable(ret) != domains::registrable(from) && !is_list {
            cx.out.add(
                "header.return_path_mismatch",
                Category::Headers,
                1,
                format!("the envelope sender ({ret}) is not the From domain ({from})"),
                format!("il mittente della busta ({ret}) non è il dominio del From ({from})"),
            );
        }
    }
    sender_domains.sort();
    sender_domains.dedup();
    cx.indicators.sender_domains = sender_domains;

    // Random tokens in the subject ("fg46qFdZiRVH3jI") make each copy unique to slip past
    // filters that group identical messages.
    if let Some(token) = message
        .subject()
        .unwrap_or_default()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| is_random_token(w))
    {
        cx.out.add(
            "header.subject_random_token",
            Category::Headers,
            2,
            format!("the subject carries a random code ({token}), used to make each copy unique and dodge filters"),
            format!("l'oggetto contiene un codice casuale ({token}), usato per rendere unica ogni copia ed eludere i filtri"),
        );
    }

    // Words run together with dots or underscores (`Transfer__to__your__Bitcoin__address`,
    // `Now.get.up.to.1.BTC`): written so that filters do not see the words people read.
    let subject = message.subject().unwrap_or_default();
    if is_joined_words(subject) {
        cx.out.add(
            "header.subject_joined_words",
            Category::Headers,
            2,
            format!("the subject runs its words together with dots or underscores (\"{subject}\"), a trick to dodge filters"),
            format!("l'oggetto unisce le parole con punti o trattini bassi (\"{subject}\"), un trucco per eludere i filtri"),
        );
    }

    if message.message_id().is_none() {
        cx.out.add(
            "header.no_message_id",
            Category::Headers,
            1,
            "the message has no Message-ID, unusual for real mail servers".into(),
            "il messaggio non ha Message-ID, insolito per un vero server di posta".into(),
        );
    }

    let received = received_chain(message);
    let client = first_external_hop(message, return_domain.as_deref(), from_address.as_deref());
    if let Some((ip, _, _)) = &client {
        cx.indicators.origin_ip = Some(ip.to_string());
    }
    let auth = if cx.analyzer.config.check_authentication {
        let auth = auth::verify(raw, dns, client);
        authentication(cx, message, &auth, from_domain.as_deref());
        auth
    } else {
        AuthCheck::empty()
    };
    HeaderFacts {
        from_domain,
        received,
        auth,
    }
}

/// RFC 2919 list identifier: `<label.namespace>` (or the bare id), with a dot.
fn is_list_id(raw: &str) -> bool {
    let raw = raw.trim();
    let id = match (raw.rfind('<'), raw.rfind('>')) {
        (Some(start), Some(end)) if start < end => &raw[start + 1..end],
        _ => raw,
    };
    let id = id.trim();
    id.contains('.')
        && !id.starts_with('.')
        && !id.ends_with('.')
        && !id.contains(char::is_whitespace)
}

/// Four or more words joined by one kind of separator (`.` or `_`), with no space: not a
/// file name (`db_based_whitelist.t` mixes both), a version, or an ellipsis (`glub...glub`:
/// repeated words).
fn is_joined_words(subject: &str) -> bool {
    subject.split_whitespace().any(|token| {
        // Both kinds between letters is a file name (`db_based_whitelist.t`); a dot inside a
        // number (`0.7495`) is not a joiner.
        let between_letters = |sep: char| {
            token
                .char_indices()
                .filter(|(_, c)| *c == sep)
                .any(|(i, _)| {
                    let before = token[..i].chars().next_back();
                    let after = token[i + sep.len_utf8()..].chars().next();
                    before.is_some_and(|c| c.is_alphabetic() || c == sep)
                        && after.is_some_and(|c| c.is_alphabetic() || c == sep)
                })
        };
        if token.contains(['@', '/']) || (between_letters('.') && between_letters('_')) {
            return false;
        }
        // A host name (`www.lists.example.org`): its last label is a known suffix.
        let host = token
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_ascii_lowercase();
        if !token.contains('_') && psl::suffix(host.as_bytes()).is_some_and(|s| s.is_known()) {
            return false;
        }
        let words: Vec<&str> = token.split(['.', '_']).filter(|w| !w.is_empty()).collect();
        let mut distinct: Vec<String> = words
            .iter()
            .filter(|w| w.chars().count() >= 2 && w.chars().all(char::is_alphabetic))
            .map(|w| w.to_lowercase())
            .collect();
        distinct.sort();
        distinct.dedup();
        words.len() >= 4 && distinct.len() >= 3
    })
}

/// A word of 10+ letters and digits mixing upper case, lower case and digits.
fn is_random_token(word: &str) -> bool {
    word.len() >= 10
        && word.bytes().any(|b| b.is_ascii_uppercase())
        && word.bytes().any(|b| b.is_ascii_lowercase())
        && word.bytes().any(|b| b.is_ascii_digit())
}

fn received_chain(message: &Message) -> Vec<Hop> {
    message
        .received_all()
        .take(50)
        .map(|r| Hop {
            from: r.from.as_ref().map(|h| h.to_string()),
            ip: r.from_ip.map(|ip| ip.to_string()),
            by: r.by.as_ref().map(|h| h.to_string()),
        })
        .collect()
}

/// The hop where the message entered the receiving organisation: the newest Received
/// header whose client is a public IP of a different organisation than the receiver. Older
/// headers are the sender's to write and cannot be trusted.
fn first_external_hop(
    message: &Message,
    return_domain: Option<&str>,
    from_address: Option<&str>,
) -> Option<(IpAddr, String, String)> {
    for received in message.received_all().take(50) {
        let Some(ip) = received.from_ip else { continue };
        if !is_public(ip) {
            continue;
        }
        let from = received
            .from
            .as_ref()
            .map(|h| h.to_string())
            .unwrap_or_default();
        let by = received
            .by
            .as_ref()
            .map(|h| h.to_string())
            .unwrap_or_default();
        if !from.is_empty()
            && !by.is_empty()
            && domains::registrable(&from) == domains::registrable(&by)
        {
            continue;
        }
        let sender = message
            .return_address()
            .map(|s| s.trim_matches(['<', '>']).to_owned())
            .filter(|s| s.contains('@'))
            .or_else(|| return_domain.map(|d| format!("postmaster@{d}")))
            .or_else(|| from_address.map(str::to_owned))
            .unwrap_or_default();
        let helo = if from.is_empty() {
            ip.to_string()
        } else {
            from
        };
        return Some((ip, helo, sender));
    }
    None
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}
