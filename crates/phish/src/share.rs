//! Which indicators of a report judged malicious are worth giving to intelligence: the
//! message's URLs, the domains behind them and behind the sender, attachment hashes.
//! Values everyone shares (free-mail providers, brands' own domains, URL shorteners, free
//! hosting zones, the organisation's own domains) are left out: matching traffic to them
//! would alert on everybody.

use crate::domains;

/// What a shared value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedKind {
    Domain,
    Url,
    Sha256,
}

/// One value for intelligence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedIndicator {
    pub kind: SharedKind,
    pub value: String,
}

/// At most this many values from one report (a message with thousands of links is not a
/// reason to flood the intel store).
const MAX_SHARED: usize = 200;

/// The shareable indicators of a stored analysis (a serialized [`crate::Report`]: its
/// `indicators`, `auth` and `findings`), deduplicated, URLs first. The `From` domain is
/// left out when DMARC failed for it: the message was spoofed, the domain is a victim.
pub fn shareable(analysis: &serde_json::Value, own_domains: &[String]) -> Vec<SharedIndicator> {
    let indicators = &analysis["indicators"];
    let dmarc_failed = analysis["auth"]["dmarc"].as_str() == Some("fail")
        || analysis["findings"].as_array().is_some_and(|findings| {
            findings
                .iter()
                .any(|f| f["code"].as_str() == Some("auth.receiver_dmarc_fail"))
        });
    let spoofed = dmarc_failed
        .then(|| {
            indicators["from_address"]
                .as_str()
                .and_then(|a| a.rsplit_once('@'))
                .map(|(_, domain)| domain.trim().to_ascii_lowercase())
        })
        .flatten();
    let own: Vec<String> = own_domains
        .iter()
        .map(|d| domains::registrable(d))
        .collect();
    // The From domain is the sender's own only when SPF or DKIM authenticated it; otherwise
    // anyone could have written it (a victim's or a bystander's domain, never shared).
    let from_domain = indicators["from_address"]
        .as_str()
        .and_then(|a| a.rsplit_once('@'))
        .map(|(_, domain)| domain.trim().to_ascii_lowercase());
    let unauthenticated_from = (indicators["from_aligned"].as_bool() != Some(true))
        .then_some(from_domain)
        .flatten();
    // ESP trackers and bounce domains, CDNs, social networks: every sender's. Their URLs
    // may be a campaign's; the domains are not.
    let infrastructure =
        |host: &str| crate::campaigns::is_infrastructure(&domains::registrable(host));
    let common = |host: &str| {
        is_common_host(host, &own)
            || domains::lists()
                .free_hosting
                .iter()
                .any(|h| host == h || host.ends_with(&format!(".{h}")))
    };
    let strings = |key: &str| -> Vec<String> {
        indicators[key]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    // URL paths are case-sensitive; the intel model normalizes the host.
                    .map(|s| {
                        if key == "urls" {
                            s.to_owned()
                        } else {
                            s.to_ascii_lowercase()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out: Vec<SharedIndicator> = Vec::new();
    let mut push = |kind, value: String| {
        if out.len() < MAX_SHARED && !out.iter().any(|s| s.kind == kind && s.value == value) {
            out.push(SharedIndicator { kind, value });
        }
    };
    for url in strings("urls") {
        let Ok(parsed) = url::Url::parse(&url) else {
            continue;
        };
        let Some(host) = parsed.host_str().map(str::to_owned) else {
            continue;
        };
        // A link to a shortener or a brand's site tells nothing about this campaign.
        if common(&host) {
            continue;
        }
        push(SharedKind::Url, url);
        if matches!(parsed.host(), Some(url::Host::Domain(_))) && !infrastructure(&host) {
            push(SharedKind::Domain, host);
        }
    }
    for domain in strings("domains")
        .into_iter()
        .chain(strings("sender_domains"))
    {
        if !common(&domain)
            && !infrastructure(&domain)
            && spoofed.as_deref() != Some(domain.as_str())
            && unauthenticated_from.as_deref() != Some(domain.as_str())
            && domain.contains('.')
            && domain.parse::<std::net::IpAddr>().is_err()
        {
            push(SharedKind::Domain, domain);
        }
    }
    for hash in strings("attachment_sha256") {
        if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            push(SharedKind::Sha256, hash);
        }
    }
    out
}

/// Whether `host` is one everybody shares: the organisation's own domains (`own`, as
/// registrable domains), free-mail providers, URL shorteners, brands' own sites.
pub(crate) fn is_common_host(host: &str, own: &[String]) -> bool {
    let lists = domains::lists();
    let host = host.trim_end_matches('.');
    let registrable = domains::registrable(host);
    own.contains(&registrable)
        || lists.freemail.contains(&registrable)
        || lists.shorteners.contains(host)
        || lists.shorteners.contains(&registrable)
        || lists.brands.values().any(|d| d.contains(&registrable))
}

/// Confidence (0–100) of indicators from a report with `score`, given the score at which
/// messages are judged malicious: 60 at the threshold, rising with the evidence, never 100
/// (one automatic analysis is not certainty).
pub fn confidence(score: u32, malicious_score: u32) -> u8 {
    let above = score.saturating_sub(malicious_score).min(10);
    u8::try_from(60 + 3 * above).unwrap_or(90)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_campaign_values_and_drops_shared_ones() {
        let analysis = json!({"indicators": {
            "sender_domains": ["gmail.com", "oqmhwr.net", "paypal.com", "comune.example.it"],
            "urls": [
                "http://TheBandalisty.com/rd/c40160pGvPy",
                "https://t.co/Qi5RlxsmF5",
                "https://okokoaksoa.z13.web.core.windows.net/",
                "http://198.51.100.7/login",
            ],
            "domains": ["thebandalisty.com", "t.co"],
            "attachment_sha256": ["AB".repeat(32), "not-a-hash"],
        }});
        let shared = shareable(&analysis, &["example.it".into()]);
        let has = |kind, value: &str| shared.iter().any(|s| s.kind == kind && s.value == value);
        assert!(has(
            SharedKind::Url,
            "http://TheBandalisty.com/rd/c40160pGvPy"
        ));
        assert!(has(SharedKind::Domain, "thebandalisty.com"));
        assert!(has(SharedKind::Domain, "oqmhwr.net"));
        assert!(has(SharedKind::Url, "http://198.51.100.7/login"));
        assert!(has(SharedKind::Sha256, &"ab".repeat(32)));
        for dropped in [
            "gmail.com",
            "paypal.com",
            "t.co",
            "comune.example.it",
            "198.51.100.7",
        ] {
            assert!(
                !has(SharedKind::Domain, dropped),
                "{dropped} shared: {shared:?}"
            );
        }
        assert!(!shared.iter().any(|s| s.value.contains("t.co/")));
        assert!(!shared.iter().any(|s| s.value.contains("windows.net")));
        // Each value once.
        assert_eq!(
            shared
                .iter()
                .filter(|s| s.value == "thebandalisty.com")
                .count(),
            1
        );
        assert_eq!(shared.len(), 5, "{shared:?}");
    }

    #[test]
    fn only_an_authenticated_from_domain_and_no_shared_infrastructure() {
        let analysis = |aligned: Option<bool>| {
            let mut indicators = json!({
                "from_address": "service@victim-shop.de",
                "sender_domains": ["victim-shop.de", "bounces.amazonses.com", "evil-bounce.mailer-kit.net"],
                "urls": ["https://u123.ct.sendgrid.net/ls/click?upn=abc", "https://landing.phish-kit.org/x"],
                "domains": ["sendgrid.net", "landing.phish-kit.org"],
            });
            if let Some(aligned) = aligned {
                indicators["from_aligned"] = json!(aligned);
            }
            json!({ "indicators": indicators })
        };
        for aligned in [None, Some(false)] {
            let shared = shareable(&analysis(aligned), &[]);
            let values: Vec<&str> = shared.iter().map(|s| s.value.as_str()).collect();
            // Anyone can write a From domain that SPF and DKIM do not vouch for.
            assert!(!values.contains(&"victim-shop.de"), "{values:?}");
            // ESP domains are everybody's; a tracker URL may still be the campaign's.
            assert!(!values.contains(&"bounces.amazonses.com"), "{values:?}");
            assert!(!values.contains(&"sendgrid.net"), "{values:?}");
            assert!(!values.contains(&"u123.ct.sendgrid.net"), "{values:?}");
            assert!(
                values.contains(&"https://u123.ct.sendgrid.net/ls/click?upn=abc"),
                "{values:?}"
            );
            assert!(values.contains(&"evil-bounce.mailer-kit.net"), "{values:?}");
            assert!(values.contains(&"landing.phish-kit.org"), "{values:?}");
        }
        let shared = shareable(&analysis(Some(true)), &[]);
        assert!(shared.iter().any(|s| s.value == "victim-shop.de"));
    }

    #[test]
    fn hostile_analysis_gives_nothing_not_a_panic() {
        assert!(shareable(&json!(null), &[]).is_empty());
        let hostile = json!({"indicators": {"urls": [1, null, "::::", "x"], "domains": {}},
            "auth": [], "findings": "x"});
        assert!(shareable(&hostile, &[]).is_empty());
    }

    #[test]
    fn spoofed_from_domain_is_a_victim_not_an_indicator() {
        let indicators = json!({
            "from_address": "noreply@costco-mail.example",
            "sender_domains": ["costco-mail.example", "oqmhwr.net"],
        });
        let spoofed = json!({"indicators": indicators,
            "findings": [{"code": "auth.receiver_dmarc_fail"}]});
        let values: Vec<String> = shareable(&spoofed, &[])
            .into_iter()
            .map(|s| s.value)
            .collect();
        assert_eq!(values, ["oqmhwr.net"]);
        let ours = json!({"indicators": indicators, "auth": {"dmarc": "fail"}});
        assert_eq!(shareable(&ours, &[]).len(), 1);
        // Without a DMARC failure but without authentication either, anyone could have
        // written it: still not shared. Authenticated, it is the actor's own.
        let unverified = json!({"indicators": indicators, "auth": {"dmarc": "not_verified"}});
        assert_eq!(shareable(&unverified, &[]).len(), 1);
        let mut authenticated = indicators.clone();
        authenticated["from_aligned"] = json!(true);
        let authenticated = json!({"indicators": authenticated});
        assert_eq!(shareable(&authenticated, &[]).len(), 2);
    }

    #[test]
    fn confidence_grows_with_score_and_stays_below_certainty() {
        assert_eq!(confidence(8, 8), 60);
        assert!(confidence(12, 8) > confidence(9, 8));
        assert_eq!(confidence(500, 8), 90);
    }
}
