//! Domain facts: registrable domain (public-suffix aware), brands, lookalikes, punycode.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use unicode_security::MixedScript as _;

/// The registrable domain ("eTLD+1") of `host`, lowercase; the host itself when the public
/// suffix list does not know it (e.g. an IP literal or a single label).
pub fn registrable(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match psl::domain_str(&host) {
        Some(domain) => domain.to_owned(),
        None => host,
    }
}

/// The public suffix of `host` (`co.uk`, `it`), lowercase.
pub fn suffix(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match psl::suffix_str(&host) {
        Some(suffix) => suffix.to_owned(),
        None => host.rsplit('.').next().unwrap_or_default().to_owned(),
    }
}

/// Bundled lists of the analyzer (data files in `crates/phish/data`).
pub struct Lists {
    /// Brand name → its legitimate registrable domains.
    pub brands: HashMap<String, HashSet<String>>,
    /// Brand names that are also common words or first names.
    pub ambiguous_brands: HashSet<String>,
    pub shorteners: HashSet<String>,
    pub suspicious_tlds: HashSet<String>,
    pub free_hosting: Vec<String>,
    pub freemail: HashSet<String>,
}

fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// The bundled lists, parsed once.
pub fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(|| {
        let mut brands: HashMap<String, HashSet<String>> = HashMap::new();
        let mut ambiguous_brands = HashSet::new();
        for line in entries(include_str!("../data/brands.txt")) {
            let mut words = line.split_whitespace();
            if let Some(name) = words.next() {
                let name = match name.strip_prefix('~') {
                    Some(name) => {
                        ambiguous_brands.insert(name.to_owned());
                        name
                    }
                    None => name,
                };
                brands
                    .entry(name.to_owned())
                    .or_default()
                    .extend(words.map(str::to_owned));
            }
        }
        Lists {
            brands,
            ambiguous_brands,
            shorteners: entries(include_str!("../data/shorteners.txt"))
                .map(str::to_owned)
                .collect(),
            suspicious_tlds: entries(include_str!("../data/suspicious_tlds.txt"))
                .map(str::to_owned)
                .collect(),
            free_hosting: entries(include_str!("../data/free_hosting.txt"))
                .map(str::to_owned)
                .collect(),
            freemail: entries(include_str!("../data/freemail.txt"))
                .map(str::to_owned)
                .collect(),
        }
    })
}

/// How a domain imitates a protected name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookalike {
    /// Same characters as the protected name under Unicode confusable folding.
    Homoglyph { target: String },
    /// One or two typing edits (or digit/letter swaps) away from the protected name.
    Typo { target: String },
    /// The protected name with another suffix or with words around it (`paypal-secure.com`).
    Combo { target: String },
    /// The protected name as a subdomain of an unrelated domain (`paypal.com.evil.top`).
    Subdomain { target: String },
}

impl Lookalike {
    pub fn target(&self) -> &str {
        match self {
            Lookalike::Homoglyph { target }
            | Lookalike::Typo { target }
            | Lookalike::Combo { target }
            | Lookalike::Subdomain { target } => target,
        }
    }
}

/// A name to protect: its label (`comune-roma`) and its legitimate registrable domains.
pub struct Protected<'a> {
    pub label: &'a str,
    pub domains: &'a HashSet<String>,
}

/// Whether `host` imitates one of `protected` without belonging to it.
pub fn lookalike<'a>(
    host: &str,
    protected: impl Iterator<Item = Protected<'a>>,
) -> Option<Lookalike> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let registrable_domain = registrable(&host);
    let unicode_registrable = to_unicode(&registrable_domain);
    let label = unicode_registrable
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let ascii_label = registrable_domain.split('.').next().unwrap_or_default();
    let skeleton_label = skeleton(&label);
    let folded_label = fold_typos(&skeleton_label);
    let subdomain_part = host
        .strip_suffix(&registrable_domain)
        .unwrap_or_default()
        .trim_end_matches('.');
    let abused_suffix = lists()
        .suspicious_tlds
        .contains(&suffix(&registrable_domain));
    let protected: Vec<Protected<'a>> = protected.collect();
    // A label that is itself a protected name (`correios`, Brazil's post) is no misspelling
    // of another (`correos`, Spain's).
    let is_a_protected_name = protected.iter().any(|p| p.label == ascii_label);
    for item in protected {
        if item.domains.contains(&registrable_domain) || item.label.len() < 3 {
            continue;
        }
        // Owned by the brand under another registrable domain, e.g. a sub-brand.
        if item.domains.iter().any(|d| is_within(&host, d)) {
            continue;
        }
        let target = item.label;
        let (target_skeleton, target_folded) = label_skeleton(target);
        if label != target && !label.is_ascii() && skeleton_label == target_skeleton {
            return Some(Lookalike::Homoglyph {
                target: target.to_owned(),
            });
        }
        if target.len() >= 5 {
            if ascii_label != target
                && !is_a_protected_name
                && (*target_folded == folded_label
                    || within_edits(&skeleton_label, &target_skeleton))
            {
                return Some(Lookalike::Typo {
                    target: target.to_owned(),
                });
            }
            let words: Vec<&str> = ascii_label.split(['-', '_']).collect();
            if words.len() > 1 && words.contains(&target) {
                return Some(Lookalike::Combo {
                    target: target.to_owned(),
                });
            }
            // `paypal.com.account-check.example`: the brand's full domain as a prefix. A bare
            // brand word as a subdomain (`outlook.vendor.biz`) is common and harmless.
            let brand_domain_in_subdomain = !subdomain_part.is_empty()
                && item.domains.iter().any(|d| {
                    subdomain_part == d.as_str()
                        || subdomain_part.starts_with(&format!("{d}."))
                        || subdomain_part.contains(&format!(".{d}."))
                        || subdomain_part.ends_with(&format!(".{d}"))
                });
            if brand_domain_in_subdomain
                || abused_suffix && subdomain_part.split(['.', '-']).any(|w| w == target)
            {
                return Some(Lookalike::Subdomain {
                    target: target.to_owned(),
                });
            }
        }
        if ascii_label == target && target.len() >= 4 && abused_suffix {
            // The brand's own name under an abused suffix it does not use (`paypal.top`);
            // country variants (`yahoo.co.uk`) are usually the brand's own.
            return Some(Lookalike::Combo {
                target: target.to_owned(),
            });
        }
    }
    None
}

/// `host` is `domain` or one of its subdomains.
fn is_within(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// The skeleton of a protected label and its typo-folded form; the brands' are computed
/// once (the analysis compares every link host with every brand).
fn label_skeleton(label: &str) -> (Cow<'static, str>, Cow<'static, str>) {
    static BRANDS: OnceLock<HashMap<String, (String, String)>> = OnceLock::new();
    let brands = BRANDS.get_or_init(|| {
        lists()
            .brands
            .keys()
            .map(|brand| {
                let skeleton = skeleton(brand);
                let folded = fold_typos(&skeleton);
                (brand.clone(), (skeleton, folded))
            })
            .collect()
    });
    match brands.get(label) {
        Some((skeleton, folded)) => (Cow::Borrowed(skeleton), Cow::Borrowed(folded)),
        None => {
            let skeleton = skeleton(label);
            let folded = fold_typos(&skeleton);
            (Cow::Owned(skeleton), Cow::Owned(folded))
        }
    }
}

/// Unicode form of an IDNA domain (`xn--` labels decoded).
pub fn to_unicode(domain: &str) -> String {
    if !domain.contains("xn--") {
        return domain.to_owned();
    }
    let (unicode, result) = idna::domain_to_unicode(domain);
    if result.is_ok() {
        unicode
    } else {
        domain.to_owned()
    }
}

/// Whether the Unicode form mixes scripts (e.g. Latin and Cyrillic), a homoglyph trick.
pub fn is_mixed_script(domain: &str) -> bool {
    let unicode = to_unicode(domain);
    unicode
        .split('.')
        .any(|label| !label.is_ascii() && !label.is_single_script())
}

pub(crate) fn skeleton(text: &str) -> String {
    unicode_security::skeleton(text)
        .collect::<String>()
        .to_lowercase()
}

/// Folds the usual digit-for-letter and letter-pair substitutions of typo-squatting.
fn fold_typos(text: &str) -> String {
    text.replace("rn", "m")
        .replace("vv", "w")
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' => 'l',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            '8' => 'b',
            _ => c,
        })
        .filter(|c| *c != '-')
        .collect()
}

fn within_edits(candidate: &str, target: &str) -> bool {
    // Short names are one edit away from many unrelated words ("steam" / "stearns").
    let allowed = match target.chars().count() {
        0..7 => return false,
        7..10 => 1,
        _ => 2,
    };
    // Each edit changes the length by at most one: most names are ruled out without the
    // (quadratic) distance.
    if candidate.chars().count().abs_diff(target.chars().count()) > allowed {
        return false;
    }
    let distance = strsim::damerau_levenshtein(candidate, target);
    distance > 0 && distance <= allowed
}
