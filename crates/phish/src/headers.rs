//! Sender identity: From / Reply-To / Return-Path, display names, lookalike sender domains,
//! the Received chain and authentication (our own check, else the receiver's results).

use std::net::IpAddr;

use mail_parser::Message;
use unicode_security::MixedScript as _;

use crate::Context;
use crate::auth::{self, AuthCheck, Outcome};
use crate::dns::DnsRecords;
use crate::domains::{self, Lookalike};
use crate::report::{Category, Hop};

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

/// The sender's own address: mailboxes and domains that no organisation would write from.
fn sender_mailbox(cx: &mut Context, address: &str, domain: &str) {
    // A project's default domain on an app or free-hosting platform (`x-1a2b.firebaseapp.com`,
    // `x.web.app`): anyone can get one in minutes, and organisations write from their own
    // domain. The platform's own domain (`typeform.com`) is not matched.
    if let Some(platform) = domains::lists()
        .free_hosting
        .iter()
        .find(|h| domain.ends_with(&format!(".{h}")))
    {
        cx.out.add(
            "header.free_hosting_sender",
            Category::Headers,
            2,
            format!("the sender writes from a free app/hosting platform ({platform}), not from an organisation's own domain"),
            format!("il mittente scrive da una piattaforma gratuita di app/hosting ({platform}), non dal dominio di un'organizzazione"),
        );
    }
    // Mailboxes like `lwInMxAeQ@`: random letters in random case, generated per message by
    // bulk senders to dodge blocklists. People and services use words, names or numbers.
    let local = address.rsplit_once('@').map_or("", |(local, _)| local);
    // `name+NMwGO8qDiD8HKv6RyvtRa6ND11@gmail.com`: a random tag makes every copy's sender
    // unique, for the same purpose.
    let tag = local.split_once('+').map(|(_, tag)| tag);
    if is_random_case(local) || tag.is_some_and(is_random_token) {
        cx.out.add(
            "header.random_mailbox",
            Category::Headers,
            2,
            format!("the sender's mailbox \"{local}\" is a random string, typical of bulk senders that change address for every message"),
            format!("la casella del mittente \"{local}\" è una stringa casuale, tipica di chi invia in massa cambiando indirizzo a ogni messaggio"),
        );
    }
}

/// DMARC's relaxed alignment: an SPF-authenticated envelope domain or a DKIM signing domain
/// in the From domain's organisation.
fn aligned<'a>(
    from_domain: &str,
    spf_domain: Option<&str>,
    dkim_domains: impl IntoIterator<Item = &'a str>,
) -> bool {
    let from = domains::registrable(from_domain);
    spf_domain.is_some_and(|d| domains::registrable(d) == from)
        || dkim_domains
            .into_iter()
            .any(|d| domains::registrable(d) == from)
}

/// A well-known brand's own domain in From, with nothing authenticating it: the address was
/// forged (brands sign their mail; a missing DMARC record only hides the failure).
fn brand_domain_unauthenticated(cx: &mut Context, from_domain: &str, how_en: &str, how_it: &str) {
    let registrable = domains::registrable(from_domain);
    let Some((brand, _)) = domains::lists()
        .brands
        .iter()
        .find(|(_, brand_domains)| brand_domains.contains(&registrable))
    else {
        return;
    };
    cx.out.add(
        "auth.brand_domain_unauthenticated",
        Category::Headers,
        4,
        format!("the message claims to come from {brand}'s own domain {from_domain}, but neither SPF nor DKIM authenticates it as {brand} ({how_en})"),
        format!("il messaggio dice di arrivare dal dominio di {brand} {from_domain}, ma né SPF né DKIM lo autenticano come {brand} ({how_it})"),
    );
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

/// Letters only, with upper case scattered inside (`lwInMxAeQ`), unlike words, names and
/// CamelCase (`DoNotReply`).
fn is_random_case(local: &str) -> bool {
    let chars: Vec<char> = local.chars().collect();
    if !(5..=24).contains(&chars.len()) || !chars.iter().all(char::is_ascii_alphabetic) {
        return false;
    }
    let inner = &chars[1..];
    let upper = inner.iter().filter(|c| c.is_ascii_uppercase()).count();
    let lower = inner.iter().filter(|c| c.is_ascii_lowercase()).count();
    if upper < 2 || lower == 0 {
        return false;
    }
    // CamelCase: every upper-case letter starts a word of at least one lower-case letter.
    let camel = chars.iter().enumerate().all(|(i, c)| {
        !c.is_ascii_uppercase() || chars.get(i + 1).is_some_and(char::is_ascii_lowercase)
    });
    !camel
}

/// Display name and From domain: impersonation of brands and of our own organisation.
fn sender_identity(cx: &mut Context, from_name: &str, domain: &str, subject: &str) {
    let registrable = domains::registrable(domain);
    let name_lower = from_name.to_lowercase();

    // A display name that is itself an address of another domain: "paypal.com <x@evil>".
    if let Some(shown) = name_lower
        .split_whitespace()
        .find_map(|w| domain_of(w).or_else(|| looks_like_domain(w)))
        && domains::registrable(&shown) != registrable
        && psl::suffix_str(&shown).is_some_and(|s| s.contains('.') || s.len() >= 2)
        && shown.contains('.')
    {
        cx.out.add(
            "header.display_name_address",
            Category::Headers,
            2,
            format!("the sender's name shows {shown} but the message comes from {domain}"),
            format!("il nome del mittente mostra {shown} ma il messaggio arriva da {domain}"),
        );
    }

    let hidden = from_name
        .chars()
        .filter(|c| is_invisible_or_combining(*c))
        .count();
    if hidden > 0 {
        cx.out.add(
            "header.display_name_obfuscated",
            Category::Headers,
            4,
            format!("the sender's name hides invisible or combining characters, a trick to dodge filters (\"{from_name}\")"),
            format!("il nome del mittente nasconde caratteri invisibili o combinanti, un trucco per eludere i filtri (\"{from_name}\")"),
        );
    }

    // A word mixing alphabets (`МеtaМask` with Cyrillic М and е, `THΑLES` with a Greek Α)
    // or spelt in small capitals: it looks like the brand to people and not to filters.
    if let Some(word) = disguised_word(from_name) {
        cx.out.add(
            "header.display_name_disguised",
            Category::Headers,
            4,
            format!("the sender's name spells \"{word}\" with look-alike letters from other alphabets, to imitate a name while dodging filters"),
            format!("il nome del mittente scrive \"{word}\" con lettere somiglianti di altri alfabeti, per imitare un nome eludendo i filtri"),
        );
    }

    // An organisation (a service desk, a bank, "customer care") writing from a free mailbox,
    // or a display name carrying a long reference number: neither is how organisations write.
    let freemail = domains::lists().freemail.contains(&registrable);
    let organisation_words = name_lower
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| ORGANISATION_WORDS.contains(&w));
    let long_number = name_lower
        .split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() >= 8);
    if freemail && (organisation_words || long_number) {
        cx.out.add(
            "header.freemail_organisation",
            Category::Headers,
            3,
            format!("\"{from_name}\" presents itself as an organisation but writes from a free mailbox ({domain})"),
            format!("\"{from_name}\" si presenta come un'organizzazione ma scrive da una casella gratuita ({domain})"),
        );
    } else if long_number {
        cx.out.add(
            "header.display_name_number",
            Category::Headers,
            2,
            format!("the sender's name \"{from_name}\" carries a long reference number, a trick to look official"),
            format!("il nome del mittente \"{from_name}\" contiene un lungo numero di riferimento, un trucco per sembrare ufficiale"),
        );
    }

    // An order, invoice or payment notice from a free mailbox: businesses bill from their
    // own domains; fake invoices and "call us to cancel" (callback) scams come from Gmail.
    if freemail && let Some(word) = transaction_word(subject) {
        cx.out.add(
            "header.freemail_transaction",
            Category::Headers,
            3,
            format!("a notice about an order or payment (\"{word}\") comes from a free mailbox ({domain}), not from a business's own domain"),
            format!("un avviso su un ordine o un pagamento (\"{word}\") arriva da una casella gratuita ({domain}), non dal dominio di un'azienda"),
        );
    }

    // A sales name ("Quicken Loans", "Harbor Freight Winner", "Bath Offer Team") from a domain
    // that carries none of its other words: a business speaks from its own domain; this
    // one borrows a name.
    if let Some(word) = sales_name_elsewhere(&name_lower, domain) {
        cx.out.add(
            "header.sales_name_elsewhere",
            Category::Headers,
            2,
            format!("the sender calls itself \"{from_name}\" (\"{word}\") but writes from {domain}, which has nothing to do with that name"),
            format!("il mittente si chiama \"{from_name}\" (\"{word}\") ma scrive da {domain}, che non ha nulla a che vedere con quel nome"),
        );
    }

    // Our own organisation's name or domain in the display name, sent from elsewhere.
    let own_match = cx.analyzer.own.iter().find(|(label, domains)| {
        label.len() >= 3
            && (name_lower.contains(label.as_str())
                || domains.iter().any(|d| name_lower.contains(d.as_str())))
    });
    if let Some((label, _)) = own_match
        && !cx.is_own_domain(domain)
    {
        cx.out.add(
            "header.own_display_name",
            Category::Headers,
            5,
            format!("the sender pretends to be our organisation ({label}) but writes from {domain}"),
            format!("il mittente finge di essere la nostra organizzazione ({label}) ma scrive da {domain}"),
        );
    }

    // A brand in the display name, sent from a domain the brand does not use.
    if let Some(brand) = named_brand(from_name)
        && !domains::lists().brands[brand].contains(&registrable)
    {
        let freemail = domains::lists().freemail.contains(&registrable);
        cx.claimed_brand = Some(brand);
        cx.out.add(
            "header.brand_display_name",
            Category::Headers,
            if freemail { 4 } else { 3 },
            format!("the sender's name says \"{from_name}\" but the address is at {domain}, not a {brand} domain"),
            format!("il nome del mittente dice \"{from_name}\" ma l'indirizzo è su {domain}, non un dominio di {brand}"),
        );
    }

    if !cx.out.has("header.brand_display_name") {
        let subject_words: Vec<String> = subject
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() >= 4)
            .map(str::to_owned)
            .collect();
        let named = domains::lists()
            .brands
            .iter()
            .find(|(brand, brand_domains)| {
                !domains::lists().ambiguous_brands.contains(*brand)
                    && subject_words.iter().any(|w| w == *brand)
                    && !brand_domains.contains(&registrable)
            });
        if let Some((brand, _)) = named {
            cx.out.add(
                "header.brand_subject",
                Category::Headers,
                2,
                format!("the subject speaks for {brand} but the sender {domain} is not a {brand} domain"),
                format!("l'oggetto parla a nome di {brand} ma il mittente {domain} non è un dominio di {brand}"),
            );
        }
    }

    if let Some(lookalike) = domains::lookalike(domain, cx.protected()) {
        let target = lookalike.target().to_owned();
        let (en, it) = match lookalike {
            Lookalike::Homoglyph { .. } => {
                ("uses look-alike characters", "usa caratteri somiglianti")
            }
            Lookalike::Typo { .. } => ("is a misspelling", "è una storpiatura"),
            Lookalike::Combo { .. } | Lookalike::Subdomain { .. } => ("imitates", "imita"),
        };
        cx.out.add(
            "header.lookalike_domain",
            Category::Headers,
            5,
            format!("the sender's domain {domain} {en} of {target}"),
            format!("il dominio del mittente {domain} {it} di {target}"),
        );
    }
    if domains::is_mixed_script(domain) {
        cx.out.add(
            "header.mixed_script_domain",
            Category::Headers,
            4,
            format!(
                "the sender's domain {} mixes alphabets to look like another",
                domains::to_unicode(domain)
            ),
            format!(
                "il dominio del mittente {} mescola alfabeti per sembrare un altro",
                domains::to_unicode(domain)
            ),
        );
    } else if domain.contains("xn--") {
        cx.out.add(
            "header.punycode_domain",
            Category::Headers,
            1,
            format!(
                "the sender's domain is internationalised ({})",
                domains::to_unicode(domain)
            ),
            format!(
                "il dominio del mittente è internazionalizzato ({})",
                domains::to_unicode(domain)
            ),
        );
    }
}

/// The first word of `text` that mixes scripts (Latin with Cyrillic, Greek, Armenian…
/// look-alikes) or uses Latin small capitals / "mathematical" letters (`ᴘᴀʏᴍᴇɴᴛ`, `𝐏𝐚𝐲`).
pub(crate) fn disguised_word(text: &str) -> Option<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .find(|w| is_disguised_word(w))
}

/// Whether one word mixes scripts or uses Latin small capitals / "mathematical" letters.
pub(crate) fn is_disguised_word(word: &str) -> bool {
    if word.chars().count() < 3 || word.is_ascii() {
        return false;
    }
    let styled = word.chars().any(|c| {
        ('\u{1D00}'..='\u{1D2B}').contains(&c) || ('\u{1D400}'..='\u{1D7FF}').contains(&c)
    });
    // Chinese, Japanese and Korean text runs words together with Latin ones ("购买iPhone")
    // without spaces: not a disguise.
    let east_asian = word.chars().any(|c| {
        ('\u{2E80}'..='\u{9FFF}').contains(&c)
            || ('\u{AC00}'..='\u{D7AF}').contains(&c)
            || ('\u{F900}'..='\u{FAFF}').contains(&c)
            || ('\u{FF00}'..='\u{FFEF}').contains(&c)
    });
    styled || (!east_asian && !word.is_single_script())
}

/// Zero-width, bidi-control and combining characters: nothing a real name needs in Latin
/// script, and a classic way to break up a brand name ("Ap\u{73f}ple").
fn is_invisible_or_combining(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{feff}'
            | '\u{00ad}'
            | '\u{034f}'
            // Hebrew, Arabic and Syriac marks, and marks for symbols: never part of a Latin name.
            | '\u{0591}'..='\u{05c7}'
            | '\u{0610}'..='\u{061a}'
            | '\u{064b}'..='\u{065f}'
            | '\u{0730}'..='\u{074a}'
            | '\u{20d0}'..='\u{20ff}'
            // Tag characters and supplementary variation selectors: invisible, and nothing a
            // name needs (`I󠄹RS` hides U+E0139 between the letters).
            | '\u{e0000}'..='\u{e01ef}'
    )
}

/// A word of 10+ letters and digits mixing upper case, lower case and digits.
fn is_random_token(word: &str) -> bool {
    word.len() >= 10
        && word.bytes().any(|b| b.is_ascii_uppercase())
        && word.bytes().any(|b| b.is_ascii_lowercase())
        && word.bytes().any(|b| b.is_ascii_digit())
}

/// The well-known brand a display name claims to be, compared through the confusable
/// skeleton so that `PayPaI` and `МеtaМask` name the brand.
fn named_brand(from_name: &str) -> Option<&'static str> {
    struct Folded {
        /// (brand, its skeleton, ambiguous), the longest (most specific) name first.
        brands: Vec<(&'static str, String, bool)>,
        service_words: Vec<String>,
        /// "from", folded like the name.
        from: String,
    }
    static FOLDED: std::sync::OnceLock<Folded> = std::sync::OnceLock::new();
    let folded = FOLDED.get_or_init(|| {
        let lists = domains::lists();
        let mut brands: Vec<(&'static str, String, bool)> = lists
            .brands
            .keys()
            .map(|b| (b.as_str(), fold(b), lists.ambiguous_brands.contains(b)))
            .collect();
        brands.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(b.0)));
        Folded {
            brands,
            service_words: SERVICE_WORDS.iter().map(|w| fold(w)).collect(),
            from: fold("from"),
        }
    });
    // The skeleton of the name as written catches `PayPaI` (capital I for l); the skeleton
    // of its lower case catches `IRS` and `IKEA`, whose capital I the first would read as l.
    [fold(from_name), fold(&from_name.to_lowercase())]
        .iter()
        .find_map(|skeleton_name| {
            let words: Vec<&str> = skeleton_name
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            let squashed: String = words.concat();
            folded
                .brands
                .iter()
                .find(|(brand, skeleton, ambiguous)| {
                    if *ambiguous {
                        // A name that is also a common word or first name ("Ledger",
                        // "Chase") counts only when the display name is nothing but the
                        // brand and service words ("Ledger Support").
                        (words.contains(&skeleton.as_str())
                            && words.iter().all(|w| {
                                w == skeleton || folded.service_words.iter().any(|s| s == w)
                            }))
                            // "Katie from Ledger": someone speaking for the brand.
                            || matches!(words.as_slice(), [.., from, last] if *last == skeleton && *from == folded.from)
                    } else {
                        words.contains(&skeleton.as_str())
                            || (brand.len() >= 6 && squashed.contains(skeleton.as_str()))
                    }
                })
                .map(|(brand, _, _)| *brand)
        })
}

/// Lower-case confusable skeleton: `PayPaI`, `МеtaМask` and `metamask` fold alike (skeletons
/// are case-sensitive, so the lower-cased skeleton is folded again).
fn fold(text: &str) -> String {
    domains::skeleton(&domains::skeleton(text))
}

/// The sales word of a display name whose other words appear nowhere in the sender's
/// domain (and whose domain name does not appear in it).
fn sales_name_elsewhere(name_lower: &str, domain: &str) -> Option<&'static str> {
    let words: Vec<&str> = name_lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .collect();
    let sales = words
        .iter()
        .find_map(|w| SALES_WORDS.iter().find(|s| *s == w).copied())?;
    let others: Vec<&&str> = words
        .iter()
        .filter(|w| {
            !SALES_WORDS.contains(w) && !matches!(**w, "the" | "and" | "for" | "your" | "team")
        })
        .collect();
    let domain = domain.to_ascii_lowercase();
    let squashed: String = words.concat();
    let label = domains::registrable(&domain);
    let label = label.split('.').next().unwrap_or_default();
    let related = others.iter().any(|w| domain.contains(**w))
        || (label.len() >= 4 && squashed.contains(label));
    (!others.is_empty() && !related).then_some(sales)
}

/// Words of a display name that sell: offers, deals, prizes, quotes, loans, warranties.
const SALES_WORDS: &[&str] = &[
    "offer",
    "offers",
    "deal",
    "deals",
    "savings",
    "winner",
    "rewards",
    "reward",
    "quote",
    "quotes",
    "insurance",
    "loan",
    "loans",
    "warranty",
    "shop",
    "store",
    "sale",
    "discount",
    "gift",
    "gifts",
    "promo",
    "promotion",
    "coupon",
    "bonus",
    "prize",
    "giveaway",
    "cashback",
    "survey",
];

/// A subject word announcing an order, invoice, payment or subscription.
fn transaction_word(subject: &str) -> Option<&'static str> {
    // CamelCase runs count as words too (`OrderConfirmation:93345881`).
    let mut spaced = String::with_capacity(subject.len() + 8);
    let mut previous_lower = false;
    for c in subject.chars() {
        if c.is_uppercase() && previous_lower {
            spaced.push(' ');
        }
        previous_lower = c.is_lowercase();
        spaced.extend(c.to_lowercase());
    }
    spaced
        .split(|c: char| !c.is_alphanumeric())
        .find_map(|w| TRANSACTION_WORDS.iter().find(|t| **t == w).copied())
}

/// Orders, invoices, receipts, payments, subscriptions and refunds in EN, IT, PT, ES, FR, DE
/// and NL.
const TRANSACTION_WORDS: &[&str] = &[
    "invoice",
    "order",
    "purchase",
    "receipt",
    "transaction",
    "payment",
    "subscription",
    "renewal",
    "refund",
    "billing",
    "fattura",
    "ordine",
    "pagamento",
    "ricevuta",
    "abbonamento",
    "rimborso",
    "fatura",
    "pedido",
    "compra",
    "transação",
    "transacao",
    "recibo",
    "assinatura",
    "reembolso",
    "factura",
    "suscripción",
    "facture",
    "commande",
    "paiement",
    "abonnement",
    "remboursement",
    "reçu",
    "rechnung",
    "bestellung",
    "zahlung",
    "rückerstattung",
    "quittung",
    "factuur",
    "bestelling",
    "betaling",
];

/// Words that accompany a brand in the display name of its own service mail.
const SERVICE_WORDS: &[&str] = &[
    "support",
    "service",
    "team",
    "news",
    "security",
    "account",
    "accounts",
    "wallet",
    "official",
    "notification",
    "notifications",
    "alert",
    "alerts",
    "update",
    "updates",
    "info",
    "live",
    "app",
    "customer",
    "care",
    "billing",
    "no",
    "reply",
    "noreply",
    "online",
    "kundenservice",
    "assistenza",
    "suporte",
    "soporte",
];

/// Words by which a display name claims to be an organisation or one of its services.
const ORGANISATION_WORDS: &[&str] = &[
    "support",
    "service",
    "services",
    "team",
    "customer",
    "care",
    "security",
    "account",
    "accounts",
    "billing",
    "admin",
    "administrator",
    "helpdesk",
    "help",
    "desk",
    "bank",
    "banking",
    "payroll",
    "hr",
    "it",
    "webmaster",
    "postmaster",
    "mailbox",
    "notification",
    "notifications",
    "alert",
    "alerts",
    "official",
    "department",
    "assistenza",
    "servizio",
    "servizi",
    "clienti",
    "ufficio",
    "amministrazione",
    "sicurezza",
    "banca",
    "supporto",
    "atendimento",
    "cliente",
    "clientes",
    "suporte",
    "comunicado",
    "banco",
    "seguranca",
    "segurança",
    "servicio",
    "soporte",
    "kundenservice",
    "kundendienst",
    "sicherheit",
    "konto",
    "kunden",
    "klantenservice",
    "bancaire",
];

fn looks_like_domain(word: &str) -> Option<String> {
    let word = word
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_ascii_lowercase();
    let is_domain = word.contains('.')
        && word
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && word
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        && psl::suffix(word.as_bytes()).is_some_and(|s| s.is_known());
    is_domain.then_some(word)
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

/// Findings from authentication: our own check when it ran, else (with provenance) what
/// the receiving server wrote in its Authentication-Results.
fn authentication(
    cx: &mut Context,
    message: &Message,
    check: &AuthCheck,
    from_domain: Option<&str>,
) {
    let from = from_domain.unwrap_or("?");
    let mut verified_any = false;
    for (domain, outcome) in &check.dkim {
        match outcome {
            Outcome::Fail => cx.out.add(
                "auth.dkim_fail",
                Category::Headers,
                3,
                format!("the DKIM signature of {domain} is invalid: the message was altered or forged (verified by Sentinella)"),
                format!("la firma DKIM di {domain} non è valida: il messaggio è stato alterato o falsificato (verificato da Sentinella)"),
            ),
            Outcome::Pass => verified_any = true,
            _ => {}
        }
    }
    match check.dmarc {
        Outcome::Fail => {
            verified_any = true;
            cx.out.add(
                "auth.dmarc_fail",
                Category::Headers,
                4,
                format!("the sender {from} is not authenticated: DMARC fails (verified by Sentinella)"),
                format!("il mittente {from} non è autenticato: DMARC fallisce (verificato da Sentinella)"),
            );
        }
        Outcome::Pass => verified_any = true,
        _ => {}
    }
    if check.spf == Outcome::Fail {
        verified_any = true;
        cx.out.add(
            "auth.spf_fail",
            Category::Headers,
            2,
            "the server that delivered the message may not send for the sender's domain: SPF fails (verified by Sentinella)".into(),
            "il server che ha consegnato il messaggio non può inviare per il dominio del mittente: SPF fallisce (verificato da Sentinella)".into(),
        );
    }
    if let Some(failure) = check.dns_failure {
        // Said plainly so nobody reads a timeout as a failed check (weight 0).
        cx.out.add(
            "auth.not_verified",
            Category::Headers,
            0,
            format!(
                "DKIM, SPF and DMARC of the message are not verified ({})",
                failure.en()
            ),
            format!(
                "DKIM, SPF e DMARC del messaggio non sono verificati ({})",
                failure.it()
            ),
        );
    }
    // Our own verdicts: is the From domain authenticated (for intelligence), and a brand's
    // own domain in From that nothing authenticates.
    if let Some(from_domain) = from_domain {
        let spf_evaluated = matches!(check.spf, Outcome::Pass | Outcome::Fail | Outcome::SoftFail);
        let dkim_evaluated = check
            .dkim
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Pass | Outcome::Fail));
        if check.dmarc == Outcome::Pass {
            cx.indicators.from_aligned = Some(true);
        } else if spf_evaluated || dkim_evaluated {
            let spf_domain = check
                .spf_identity
                .as_ref()
                .and_then(|(_, sender)| domain_of(sender));
            let aligned = aligned(
                from_domain,
                (check.spf == Outcome::Pass)
                    .then_some(spf_domain.as_deref())
                    .flatten(),
                check
                    .dkim
                    .iter()
                    .filter(|(_, o)| *o == Outcome::Pass)
                    .map(|(d, _)| d.as_str()),
            );
            cx.indicators.from_aligned = Some(aligned);
            if !aligned && spf_evaluated {
                brand_domain_unauthenticated(
                    cx,
                    from_domain,
                    "verified by Sentinella",
                    "verificato da Sentinella",
                );
            }
        }
    }
    if verified_any || !cx.analyzer.config.trust_receiver_auth_results {
        return;
    }
    // Offline: the receiving server's own results, topmost header only (older ones can be
    // written by the sender). Provenance is part of the reason.
    let Some(results) = message.header_raw("Authentication-Results") else {
        return;
    };
    let results = results.to_ascii_lowercase();
    let authserv = results
        .split(';')
        .next()
        .map(str::trim)
        .filter(|s| !s.contains('='))
        .map(str::to_owned);
    let value = |key: &str| -> Option<String> {
        results.split([';', ' ', '\n', '\t', '\r']).find_map(|t| {
            t.trim()
                .strip_prefix(key)
                .map(|v| v.trim_end_matches([',', ')']).to_owned())
        })
    };
    let spf = value("spf=");
    let dkim = value("dkim=");
    let dmarc = value("dmarc=");
    let compauth = value("compauth=");
    let (by_en, by_it) = match &authserv {
        Some(name) => (name.clone(), name.clone()),
        None => (
            "the receiving server".to_owned(),
            "il server ricevente".to_owned(),
        ),
    };
    let (why_en, why_it) = check
        .dns_failure
        .map_or(("offline", "offline"), |f| (f.en(), f.it()));
    let provenance_en = format!("reported by {by_en}, not verified by Sentinella ({why_en})");
    let provenance_it = format!("riportato da {by_it}, non verificato da Sentinella ({why_it})");
    if dmarc.as_deref() == Some("fail") {
        cx.out.add(
            "auth.receiver_dmarc_fail",
            Category::Headers,
            3,
            format!("the sender {from} failed DMARC ({provenance_en})"),
            format!("il mittente {from} non ha superato DMARC ({provenance_it})"),
        );
    }
    if compauth.as_deref() == Some("fail") {
        cx.out.add(
            "auth.receiver_compauth_fail",
            Category::Headers,
            3,
            format!("the receiving server could not authenticate the sender {from} (compauth=fail, {provenance_en})"),
            format!("il server ricevente non ha potuto autenticare il mittente {from} (compauth=fail, {provenance_it})"),
        );
    }
    match spf.as_deref() {
        Some("fail") => cx.out.add(
            "auth.receiver_spf_fail",
            Category::Headers,
            2,
            format!("SPF failed for the delivering server ({provenance_en})"),
            format!("SPF non superato per il server mittente ({provenance_it})"),
        ),
        Some("softfail") => cx.out.add(
            "auth.receiver_spf_fail",
            Category::Headers,
            1,
            format!("SPF soft-failed for the delivering server ({provenance_en})"),
            format!("SPF parzialmente fallito per il server mittente ({provenance_it})"),
        ),
        _ => {}
    }
    if dkim.as_deref() == Some("fail") {
        cx.out.add(
            "auth.receiver_dkim_fail",
            Category::Headers,
            2,
            format!("the DKIM signature failed ({provenance_en})"),
            format!("la firma DKIM non è valida ({provenance_it})"),
        );
    }
    // The receiver's view of alignment: which domains its SPF and DKIM passes vouch for.
    if from_domain.is_some() && matches!(dmarc.as_deref(), Some("pass" | "bestguesspass")) {
        cx.indicators.from_aligned = Some(true);
    }
    if let Some(from_domain) = from_domain
        && !matches!(dmarc.as_deref(), Some("pass" | "bestguesspass"))
    {
        let mailfrom = value("smtp.mailfrom=").and_then(|v| domain_of(&v).or(Some(v)));
        // Every passing signature: `dkim=pass … header.d=a; dkim=pass … header.d=b`.
        let mut signers: Vec<&str> = Vec::new();
        let mut last_dkim = "";
        for token in results.split([';', ' ', '\n', '\t', '\r']) {
            if let Some(outcome) = token.strip_prefix("dkim=") {
                last_dkim = outcome;
            } else if let Some(domain) = token.strip_prefix("header.d=")
                && last_dkim == "pass"
            {
                signers.push(domain.trim_end_matches([',', ')']));
            }
        }
        let aligned = aligned(
            from_domain,
            (spf.as_deref() == Some("pass"))
                .then_some(mailfrom.as_deref())
                .flatten(),
            signers,
        );
        cx.indicators.from_aligned = Some(aligned);
        if !aligned {
            brand_domain_unauthenticated(cx, from_domain, &provenance_en, &provenance_it);
        }
    }
    let none = |v: &Option<String>| {
        v.as_deref()
            .is_none_or(|v| v == "none" || v == "temperror" || v == "permerror")
    };
    if none(&spf) && none(&dkim) && dmarc.as_deref() != Some("pass") {
        cx.out.add(
            "auth.receiver_unauthenticated",
            Category::Headers,
            1,
            format!("the sender {from} is not authenticated by SPF or DKIM ({provenance_en})"),
            format!("il mittente {from} non è autenticato né da SPF né da DKIM ({provenance_it})"),
        );
    }
}
