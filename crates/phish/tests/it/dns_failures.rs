//! Live DNS that does not answer (timeout, unreachable server): what needed the answer is
//! "not verified" with the reason, never a failure, and the first failure ends the message's
//! lookups (one timeout per message, not one per name). The live resolver's settings.

use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mail_auth::hickory_resolver::net::{DnsError, NetError, NoRecords};
use mail_auth::hickory_resolver::proto::op::{Query, ResponseCode};
use mail_auth::hickory_resolver::proto::rr::{Name, RecordType};
use phish::auth::{self, Outcome};
use phish::dns::{DnsSettingsError, answer_from_error};
use phish::{
    Analyzer, AnalyzerConfig, DnsAnswer, DnsFailure, DnsRecords, LiveDnsSettings, RecordedDns,
};

/// Answers from `recorded`, except names starting with `fail_prefix` (all when empty),
/// which fail with `failure`. Counts the questions it is asked.
struct Failing {
    recorded: RecordedDns,
    fail_prefix: &'static str,
    failure: DnsFailure,
    asked: AtomicUsize,
}

impl Failing {
    fn new(failure: DnsFailure) -> Self {
        Self {
            recorded: RecordedDns::new().complete(),
            fail_prefix: "",
            failure,
            asked: AtomicUsize::new(0),
        }
    }

    fn answer(&self, name: &str, recorded: impl FnOnce() -> DnsAnswer) -> DnsAnswer {
        self.asked.fetch_add(1, Ordering::Relaxed);
        if name.starts_with(self.fail_prefix) {
            DnsAnswer::Failed(self.failure)
        } else {
            recorded()
        }
    }
}

impl DnsRecords for Failing {
    fn txt(&self, name: &str) -> DnsAnswer {
        self.answer(name, || self.recorded.txt(name))
    }
    fn addresses(&self, name: &str) -> DnsAnswer {
        self.answer(name, || self.recorded.addresses(name))
    }
    fn mx(&self, name: &str) -> DnsAnswer {
        self.answer(name, || self.recorded.mx(name))
    }
}

/// RFC 8463's example message (Ed25519 and RSA signatures of football.example.com) and its
/// recorded keys.
fn rfc8463() -> (RecordedDns, Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/dkim/001.txt");
    let text = fs::read_to_string(path).unwrap();
    let (records, message) = text.split_once("\n\n").unwrap();
    (
        RecordedDns::from_txt_lines(records).complete(),
        message.replace('\n', "\r\n").into_bytes(),
    )
}

fn client() -> Option<(IpAddr, String, String)> {
    Some((
        "203.0.113.25".parse().unwrap(),
        "mail.football.example.com".into(),
        "joe@football.example.com".into(),
    ))
}

#[test]
fn a_timeout_is_not_verified_not_failed_and_ends_the_lookups() {
    let (_, message) = rfc8463();
    let dns = Failing::new(DnsFailure::Timeout);
    let check = auth::verify(&message, &dns, client());
    assert_eq!(check.dns_failure, Some(DnsFailure::Timeout));
    assert_eq!(check.dkim.len(), 2, "{check:?}");
    assert!(
        check.dkim.iter().all(|(_, o)| *o == Outcome::NotVerified),
        "{check:?}"
    );
    assert_eq!(check.spf, Outcome::NotVerified, "{check:?}");
    assert_eq!(check.dmarc, Outcome::NotVerified, "{check:?}");
    assert!(!check.dns_missing.is_empty());
    // Two keys, SPF and DMARC needed: only the first question went to the DNS.
    assert_eq!(dns.asked.load(Ordering::Relaxed), 1);

    let report = Analyzer::new(AnalyzerConfig::default()).analyze(&message, &dns);
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code).collect();
    assert!(
        !codes
            .iter()
            .any(|c| c.starts_with("auth.") && c.ends_with("_fail")),
        "{codes:?}"
    );
    let reason = report
        .findings
        .iter()
        .find(|f| f.code == "auth.not_verified")
        .unwrap_or_else(|| panic!("{codes:?}"));
    assert_eq!(reason.weight, 0);
    assert!(
        reason.en.contains("not verified (DNS timeout)"),
        "{}",
        reason.en
    );
    assert!(reason.it.contains("(timeout DNS)"), "{}", reason.it);
}

#[test]
fn an_unreachable_server_says_so() {
    let (_, message) = rfc8463();
    let report = Analyzer::new(AnalyzerConfig::default())
        .analyze(&message, &Failing::new(DnsFailure::Unreachable));
    assert_eq!(report.auth.dns_failure, Some(DnsFailure::Unreachable));
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.en.contains("not verified (DNS server unreachable)")),
        "{:?}",
        report.findings
    );
}

#[test]
fn answers_before_the_failure_still_count() {
    // The keys are answered, the DMARC policy times out: DKIM passes, DMARC is not verified.
    let (recorded, message) = rfc8463();
    let dns = Failing {
        recorded,
        fail_prefix: "_dmarc.",
        failure: DnsFailure::Timeout,
        asked: AtomicUsize::new(0),
    };
    let check = auth::verify(&message, &dns, None);
    assert!(
        check.dkim.iter().all(|(_, o)| *o == Outcome::Pass),
        "{check:?}"
    );
    assert_eq!(check.dmarc, Outcome::NotVerified, "{check:?}");
    assert_eq!(check.dmarc_policy, None, "{check:?}");
    assert_eq!(check.dns_failure, Some(DnsFailure::Timeout));
    assert!(
        check
            .dns_missing
            .contains(&"TXT _dmarc.football.example.com".to_owned()),
        "{check:?}"
    );
}

#[test]
fn resolver_errors_map_to_answers_or_failures() {
    let query = Query::query(Name::from_ascii("x.example.").unwrap(), RecordType::TXT);
    let nx = NetError::Dns(DnsError::NoRecordsFound(NoRecords::new(
        query.clone(),
        ResponseCode::NXDomain,
    )));
    assert_eq!(answer_from_error(&nx), DnsAnswer::NotFound);
    let empty = NetError::Dns(DnsError::NoRecordsFound(NoRecords::new(
        query,
        ResponseCode::NoError,
    )));
    assert_eq!(answer_from_error(&empty), DnsAnswer::NotFound);
    assert_eq!(
        answer_from_error(&NetError::Timeout),
        DnsAnswer::Failed(DnsFailure::Timeout)
    );
    let refused = NetError::Io(Arc::new(std::io::ErrorKind::ConnectionRefused.into()));
    assert_eq!(
        answer_from_error(&refused),
        DnsAnswer::Failed(DnsFailure::Unreachable)
    );
    let servfail = NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail));
    assert_eq!(
        answer_from_error(&servfail),
        DnsAnswer::Failed(DnsFailure::ServerError)
    );
}

#[test]
fn live_settings_parse_servers_and_bound_the_timeout() {
    let servers = ["127.0.0.1:5353", "10.0.0.53", "::1", "[2001:db8::53]:5300"].map(String::from);
    let settings = LiveDnsSettings::new(&servers, Duration::from_millis(1500)).unwrap();
    let expected: Vec<SocketAddr> = [
        "127.0.0.1:5353",
        "10.0.0.53:53",
        "[::1]:53",
        "[2001:db8::53]:5300",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    assert_eq!(settings.servers, expected);
    assert_eq!(settings.timeout, Duration::from_millis(1500));
    // Building the resolver does no IO and needs no runtime.
    settings.authenticator().unwrap();

    let bad = LiveDnsSettings::new(&["dns.example".into()], Duration::from_secs(1));
    assert!(matches!(bad, Err(DnsSettingsError::BadServer(s)) if s == "dns.example"));
    for timeout in [Duration::ZERO, Duration::from_secs(61)] {
        assert!(matches!(
            LiveDnsSettings::new(&[], timeout),
            Err(DnsSettingsError::BadTimeout)
        ));
    }
    assert_eq!(LiveDnsSettings::default().timeout, Duration::from_secs(5));
}

#[test]
fn a_server_error_for_one_name_does_not_stop_other_lookups() {
    // SERVFAIL for the Ed25519 key: the RSA key is still asked and its signature verified.
    // A timeout on the same name ends the lookups instead.
    let (recorded, message) = rfc8463();
    let failing = |failure| Failing {
        recorded: recorded.clone(),
        fail_prefix: "brisbane._domainkey.",
        failure,
        asked: AtomicUsize::new(0),
    };
    let dns = failing(DnsFailure::ServerError);
    let check = auth::verify(&message, &dns, None);
    let outcomes: Vec<Outcome> = check.dkim.iter().map(|(_, o)| *o).collect();
    assert_eq!(outcomes, [Outcome::NotVerified, Outcome::Pass], "{check:?}");
    // The recording publishes no DMARC policy: an answer ("none"), not a failure.
    assert_eq!(check.dmarc, Outcome::None, "{check:?}");
    assert_eq!(check.dns_failure, Some(DnsFailure::ServerError));

    let dns = failing(DnsFailure::Timeout);
    let check = auth::verify(&message, &dns, None);
    assert!(
        check.dkim.iter().all(|(_, o)| *o == Outcome::NotVerified),
        "{check:?}"
    );
    assert_eq!(dns.asked.load(Ordering::Relaxed), 1);
}
