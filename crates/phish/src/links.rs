//! Links: every URL of the text and HTML bodies, never fetched. Checks the host (IP
//! literal, shortener, lookalike, free hosting, TLD), the scheme, the visible text against
//! the real target, credential forms, and unwraps tracking redirects.

use std::sync::OnceLock;

use regex::Regex;
use url::Url;

use crate::Context;
use crate::domains::{self, Lookalike};
use crate::report::Category;

/// At most this many distinct URLs per message are examined (the rest are counted).
const MAX_URLS: usize = 500;
/// HTML beyond this many bytes is not scanned for links.
const MAX_HTML_BYTES: usize = 4 << 20;

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

/// An attribute value inside one tag (the tag text is short: at most `MAX_TAG_BYTES`).
fn attribute(tag: &str, name: &str) -> Option<String> {
    static HREF: OnceLock<Regex> = OnceLock::new();
    static ACTION: OnceLock<Regex> = OnceLock::new();
    static TYPE: OnceLock<Regex> = OnceLock::new();
    let re = match name {
        "href" => regex(
            &HREF,
            r#"(?i)\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#,
        ),
        "action" => regex(
            &ACTION,
            r#"(?i)\baction\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#,
        ),
        _ => regex(
            &TYPE,
            r#"(?i)\btype\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#,
        ),
    };
    re.captures(tag)
        .and_then(|c| c.get(1).or(c.get(2)).or(c.get(3)))
        .map(|m| decode_entities(m.as_str().trim()))
}

/// Longest tag (`<a ...>`) considered; longer ones are skipped.
const MAX_TAG_BYTES: usize = 4096;
/// Longest anchor text considered.
const MAX_ANCHOR_TEXT_BYTES: usize = 4096;

/// Tags named `name` (`a`, `form`, `input`, `meta`): byte range of each tag in the HTML
/// whose ASCII-lowercased copy is `lower` (same byte offsets).
fn tags<'a>(lower: &'a str, name: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
    let open = format!("<{name}");
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(found) = lower[from..].find(&open) {
            let start = from + found;
            let after = start + open.len();
            from = after;
            if !lower[after..]
                .starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            {
                continue;
            }
            let mut window_end = lower.len().min(after + MAX_TAG_BYTES);
            while !lower.is_char_boundary(window_end) {
                window_end -= 1;
            }
            if let Some(close) = lower[after..window_end].find('>') {
                from = after + close + 1;
                return Some((start, after + close + 1));
            }
        }
        None
    })
}

/// The visible text of an HTML document (tags, scripts and styles removed, entities decoded).
pub(crate) fn html_to_text(html: &str) -> String {
    let html = truncate(html, MAX_HTML_BYTES);
    let lower = html.to_ascii_lowercase();
    let mut text = String::with_capacity(html.len() / 2);
    let mut position = 0;
    while position < html.len() {
        let Some(open) = html[position..].find('<') else {
            text.push_str(&html[position..]);
            break;
        };
        let open = position + open;
        text.push_str(&html[position..open]);
        // Skip the content of script and style elements.
        let skip_to = ["script", "style", "head"].iter().find_map(|element| {
            lower[open + 1..].starts_with(element).then(|| {
                let closing = format!("</{element}");
                lower[open..]
                    .find(&closing)
                    .map_or(html.len(), |i| open + i + closing.len())
            })
        });
        let resume = skip_to.unwrap_or(open + 1);
        match html[resume..].find('>') {
            Some(close) => {
                text.push(' ');
                position = resume + close + 1;
            }
            None => break,
        }
    }
    decode_entities(&text)
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&nbsp;", " ")
        .replace("&#46;", ".")
        .replace("&#x2e;", ".")
        .replace("&#47;", "/")
        .replace("&#58;", ":")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A link found inside an attached document (PDF).
pub(crate) fn from_document(cx: &mut Context, link: &str, sender_domain: Option<&str>) {
    url(cx, link, sender_domain);
}

/// Links of a plain-text body.
pub(crate) fn plain(cx: &mut Context, text: &str, sender_domain: Option<&str>) {
    for link in linkify::LinkFinder::new()
        .kinds(&[linkify::LinkKind::Url])
        .links(truncate(text, MAX_HTML_BYTES))
    {
        url(cx, link.as_str(), sender_domain);
    }
}

/// Links, forms and redirects of an HTML body.
pub(crate) fn html(cx: &mut Context, html: &str, sender_domain: Option<&str>) {
    let html = truncate(html, MAX_HTML_BYTES);
    let lower = html.to_ascii_lowercase();
    for (start, end) in tags(&lower, "a") {
        let Some(href) = attribute(&html[start..end], "href") else {
            continue;
        };
        let rest = truncate(&lower[end..], MAX_ANCHOR_TEXT_BYTES);
        let visible = rest
            .find("</a")
            .map(|close| html_to_text(&html[end..end + close]))
            .unwrap_or_default();
        check_scheme(cx, &href);
        if let Some(target) = url(cx, &href, sender_domain) {
            mismatch(cx, visible.trim(), &target);
        }
    }
    let has_password = tags(&lower, "input")
        .any(|(start, end)| attribute(&lower[start..end], "type").is_some_and(|t| t == "password"));
    let action = tags(&lower, "form")
        .filter_map(|(start, end)| attribute(&html[start..end], "action"))
        .find(|a| a.starts_with("http"));
    if has_password {
        cx.out.add(
            "link.password_form",
            Category::Links,
            5,
            "the message contains a form asking for a password".into(),
            "il messaggio contiene un modulo che chiede una password".into(),
        );
    } else if let Some(action) = action {
        let host = Url::parse(&action)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or(action);
        cx.out.add(
            "link.form",
            Category::Links,
            1,
            format!("the message contains a form that sends what you type to {host}"),
            format!("il messaggio contiene un modulo che invia quanto scritto a {host}"),
        );
    }
    for (start, end) in tags(&lower, "meta") {
        let tag = &lower[start..end];
        if tag.contains("refresh")
            && let Some(index) = tag.find("url=")
        {
            let target = html[start + index + 4..end]
                .trim_matches(|c: char| c == '"' || c == '\'' || c == '>' || c.is_whitespace());
            url(cx, target, sender_domain);
        }
    }
    // Bare URLs written in the text (not in an href).
    plain(cx, &html_to_text(html), sender_domain);
}

fn check_scheme(cx: &mut Context, href: &str) {
    let lower = href.trim_start().to_ascii_lowercase();
    if lower.starts_with("javascript:") {
        cx.out.add(
            "link.javascript",
            Category::Links,
            3,
            "a link runs JavaScript instead of opening a page".into(),
            "un link esegue JavaScript invece di aprire una pagina".into(),
        );
    } else if lower.starts_with("data:") {
        cx.out.add(
            "link.data_uri",
            Category::Links,
            4,
            "a link opens content embedded in the message (data: URL), a way to hide a fake page".into(),
            "un link apre contenuto incorporato nel messaggio (URL data:), un modo per nascondere una pagina falsa".into(),
        );
    }
}

/// Visible text that names another site than the link's real target.
fn mismatch(cx: &mut Context, visible: &str, target: &Url) {
    let Some(target_host) = target.host_str() else {
        return;
    };
    let shown = visible.split_whitespace().next().unwrap_or_default();
    if visible.split_whitespace().count() != 1 || !shown.contains('.') {
        return;
    }
    let shown_url = if shown.contains("://") {
        shown.to_owned()
    } else {
        format!("http://{shown}")
    };
    let Ok(shown_url) = Url::parse(&shown_url) else {
        return;
    };
    let Some(shown_host) = shown_url.host_str() else {
        return;
    };
    let known_suffix = psl::suffix(shown_host.as_bytes()).is_some_and(|s| s.is_known());
    if !known_suffix || shown_host.contains('@') {
        return;
    }
    if domains::registrable(shown_host) != domains::registrable(target_host) {
        cx.out.add(
            "link.text_mismatch",
            Category::Links,
            3,
            format!("a link shows {shown_host} but leads to {target_host}"),
            format!("un link mostra {shown_host} ma porta a {target_host}"),
        );
    }
}

/// Examines one URL (and what it redirects to). Returns the final target.
fn url(cx: &mut Context, raw: &str, sender_domain: Option<&str>) -> Option<Url> {
    let raw = raw.trim().trim_matches(['"', '\'', '<', '>']);
    let lower = raw.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("www."))
    {
        return None;
    }
    let parsed = if lower.starts_with("www.") {
        Url::parse(&format!("http://{raw}")).ok()?
    } else {
        Url::parse(raw).ok()?
    };
    let target = unwrap_redirect(&parsed, 0).unwrap_or_else(|| parsed.clone());
    let key = target.as_str().to_owned();
    if cx.seen_urls.len() >= MAX_URLS || !cx.seen_urls.insert(key.clone()) {
        return Some(target);
    }
    if cx.indicators.urls.len() < 100 {
        cx.indicators.urls.push(key);
    }
    if target != parsed {
        check_host(cx, &parsed, sender_domain);
    }
    check_host(cx, &target, sender_domain);
    Some(target)
}

/// Tracking and safety redirects carry their destination in a parameter; follow it
/// without fetching anything.
fn unwrap_redirect(url: &Url, depth: usize) -> Option<Url> {
    if depth > 3 {
        return None;
    }
    for (key, value) in url.query_pairs() {
        let key = key.to_ascii_lowercase();
        if !matches!(
            key.as_str(),
            "url"
                | "u"
                | "q"
                | "target"
                | "redirect"
                | "redirect_url"
                | "redirect_uri"
                | "dest"
                | "destination"
                | "link"
                | "goto"
                | "r"
                | "to"
                | "out"
                | "next"
        ) {
            continue;
        }
        let value = value.trim();
        if (value.starts_with("http://") || value.starts_with("https://"))
            && let Ok(inner) = Url::parse(value)
        {
            return Some(unwrap_redirect(&inner, depth + 1).unwrap_or(inner));
        }
    }
    None
}

fn check_host(cx: &mut Context, url: &Url, sender_domain: Option<&str>) {
    let Some(host) = url.host() else { return };
    let lists = domains::lists();
    let host_text = match host {
        url::Host::Ipv4(ip) => {
            cx.out.add(
                "link.ip_host",
                Category::Links,
                4,
                format!("a link points to a bare IP address ({ip}) instead of a named site"),
                format!("un link punta a un indirizzo IP ({ip}) invece che a un sito con nome"),
            );
            return;
        }
        url::Host::Ipv6(ip) => {
            cx.out.add(
                "link.ip_host",
                Category::Links,
                4,
                format!("a link points to a bare IP address ({ip}) instead of a named site"),
                format!("un link punta a un indirizzo IP ({ip}) invece che a un sito con nome"),
            );
            return;
        }
        url::Host::Domain(domain) => domain.to_ascii_lowercase(),
    };
    let registrable = domains::registrable(&host_text);
    if cx.indicators.domains.len() < 100 && !cx.indicators.domains.contains(&registrable) {
        cx.indicators.domains.push(registrable.clone());
    }
    if !url.username().is_empty() {
        cx.out.add(
            "link.userinfo",
            Category::Links,
            4,
            format!("a link hides its real destination {host_text} behind text before an @"),
            format!(
                "un link nasconde la vera destinazione {host_text} dietro un testo prima di una @"
            ),
        );
    }
    if lists.shorteners.contains(&host_text) || lists.shorteners.contains(&registrable) {
        cx.out.add(
            "link.shortener",
            Category::Links,
            2,
            format!("a link uses a URL shortener ({host_text}) that hides where it leads"),
            format!(
                "un link usa un accorciatore di URL ({host_text}) che nasconde la destinazione"
            ),
        );
    }
    if let Some(hosting) = lists
        .free_hosting
        .iter()
        .find(|h| host_text == **h || host_text.ends_with(&format!(".{h}")))
    {
        cx.out.add(
            "link.free_hosting",
            Category::Links,
            3,
            format!("a link leads to a page on a free hosting service ({hosting}), often used for fake login pages"),
            format!("un link porta a una pagina su un servizio di hosting gratuito ({hosting}), spesso usato per false pagine di accesso"),
        );
    }
    // A standalone web page served straight from cloud object storage or a bare CDN
    // name: anyone can upload one in a minute, and real organisations link their own
    // site, not a file in a storage bucket.
    let path = url.path().to_ascii_lowercase();
    let storage = [
        "amazonaws.com",
        "cloudfront.net",
        "storage.googleapis.com",
        "firebasestorage.googleapis.com",
        "blob.core.windows.net",
        "digitaloceanspaces.com",
        "backblazeb2.com",
        "r2.dev",
        "ipfs.io",
        "dweb.link",
    ];
    let on_storage = storage
        .iter()
        .find(|s| host_text == **s || host_text.ends_with(&format!(".{s}")));
    if let Some(service) = on_storage
        && (path.ends_with(".html")
            || path.ends_with(".htm")
            || path.ends_with(".shtml")
            || path.contains("/ipfs/"))
    {
        cx.out.add(
            "link.storage_page",
            Category::Links,
            4,
            format!("a link opens a web page stored as a file on cloud storage ({service}), a common way to host fake pages"),
            format!("un link apre una pagina web salvata come file su uno spazio cloud ({service}), un modo comune per ospitare pagine false"),
        );
    }
    // A search engine's click-through link or a document "published to the web" borrows
    // a trusted name to carry the reader somewhere else; companies link their own site.
    let search_redirect = (registrable.starts_with("bing.") && path.starts_with("/ck/a"))
        || (registrable.starts_with("google.") && (path == "/url" || path.starts_with("/amp/s/")));
    let published_doc = (host_text == "docs.google.com"
        && (path.contains("/d/e/") || path.starts_with("/forms/")))
        || host_text.starts_with("forms.yandex.");
    if search_redirect || published_doc {
        cx.out.add(
            "link.borrowed_trust",
            Category::Links,
            3,
            format!("a link goes through {host_text} (a search-engine redirect or a published document or form) to hide where it really leads"),
            format!("un link passa per {host_text} (un rinvio di un motore di ricerca o un documento o modulo pubblicato) per nascondere la vera destinazione"),
        );
    }
    // A path segment that is one long Base64 blob on a domain unrelated to the sender:
    // phishing kits pack the victim and campaign into the path so that every link is
    // unique and a block list never matches twice.
    let unrelated = sender_domain.is_none_or(|s| domains::registrable(s) != registrable);
    if unrelated
        && url
            .path_segments()
            .is_some_and(|mut s| s.any(is_base64_blob))
    {
        cx.out.add(
            "link.encoded_path",
            Category::Links,
            2,
            format!("a link to {host_text}, unrelated to the sender, carries a long encoded code in its address that makes every copy unique"),
            format!("un link a {host_text}, estraneo al mittente, contiene un lungo codice cifrato che rende ogni copia diversa"),
        );
    }
    let tld = domains::suffix(&host_text);
    let last = tld.rsplit('.').next().unwrap_or_default();
    if lists.suspicious_tlds.contains(&tld) || lists.suspicious_tlds.contains(last) {
        cx.out.add(
            "link.suspicious_tld",
            Category::Links,
            1,
            format!("a link leads to a domain under .{tld}, a suffix often abused"),
            format!("un link porta a un dominio .{tld}, un suffisso spesso abusato"),
        );
    }
    if let Some(port) = url.port()
        && port != 80
        && port != 443
    {
        cx.out.add(
            "link.port",
            Category::Links,
            2,
            format!("a link uses an unusual network port ({port})"),
            format!("un link usa una porta di rete insolita ({port})"),
        );
    }
    if domains::is_mixed_script(&host_text) {
        cx.out.add(
            "link.mixed_script",
            Category::Links,
            5,
            format!(
                "a link's domain {} mixes alphabets to look like another",
                domains::to_unicode(&host_text)
            ),
            format!(
                "il dominio di un link {} mescola alfabeti per sembrare un altro",
                domains::to_unicode(&host_text)
            ),
        );
    }
    let same_as_sender = sender_domain.is_some_and(|s| domains::registrable(s) == registrable);
    if !same_as_sender && let Some(lookalike) = domains::lookalike(&host_text, cx.protected()) {
        let target = lookalike.target().to_owned();
        let (weight, en, it) = match lookalike {
            Lookalike::Homoglyph { .. } | Lookalike::Typo { .. } => {
                (5, "is a look-alike of", "è un sosia di")
            }
            Lookalike::Combo { .. } | Lookalike::Subdomain { .. } => (4, "imitates", "imita"),
        };
        cx.out.add(
            "link.lookalike",
            Category::Links,
            weight,
            format!("a link's domain {host_text} {en} {target}"),
            format!("il dominio di un link {host_text} {it} {target}"),
        );
    }
}

/// One URL path segment of 40+ characters in the Base64 alphabet, mixing upper case,
/// lower case and digits (hex ids and words are not Base64 blobs).
fn is_base64_blob(segment: &str) -> bool {
    let body = segment.trim_end_matches('=');
    body.len() >= 40
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
        && body.bytes().any(|b| b.is_ascii_uppercase())
        && body.bytes().any(|b| b.is_ascii_lowercase())
        && body.bytes().any(|b| b.is_ascii_digit())
}
