//! Whether anything vouches for the sender: our own DKIM/SPF/DMARC verdicts, else the
//! receiving server's Authentication-Results (labelled as such), and DMARC-style alignment of
//! the From domain (for brands' own domains, and for what reports give to intelligence).

use mail_parser::Message;

use super::domain_of;
use crate::Context;
use crate::auth::{AuthCheck, Outcome};
use crate::domains;
use crate::report::Category;

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

/// Findings from authentication: our own check when it ran, else (with provenance) what
/// the receiving server wrote in its Authentication-Results.
pub(super) fn authentication(
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
