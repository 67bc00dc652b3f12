//! Who the sender claims to be: the mailbox, the display name (brands, our own
//! organisation, disguised letters, sales names), free mail, lookalike domains.

use unicode_security::MixedScript as _;

use super::{domain_of, is_random_token};
use crate::Context;
use crate::domains::{self, Lookalike};
use crate::report::Category;

/// The sender's own address: mailboxes and domains that no organisation would write from.
pub(super) fn sender_mailbox(cx: &mut Context, address: &str, domain: &str) {
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
pub(super) fn sender_identity(cx: &mut Context, from_name: &str, domain: &str, subject: &str) {
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

/// The well-known brand a display name claims to be, compared through the confusable
/// skeleton so that `PayPaI` and `МеtaМask` name the brand.
pub(super) fn named_brand(from_name: &str) -> Option<&'static str> {
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
