//! DKIM, ARC, SPF and DMARC verification of the reported message itself (crate `mail-auth`),
//! with DNS answers from a [`DnsRecords`] instead of the network.
//!
//! mail-auth looks every name up in caches before it would touch its resolver; our caches
//! always answer (from `DnsRecords`), so its futures finish on the first poll and no async
//! runtime or socket is involved. Names the `DnsRecords` could not answer are collected, so
//! a caller with network access can resolve them and run the check again.

use std::borrow::Borrow;
use std::future::Future;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dmarc::Dmarc;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::spf::{Macro, Spf};
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, DnsError, DnssecStatus, Error, MX,
    MessageAuthenticator, Parameters, RecordSet, ResolverCache, SpfResult, Txt,
};
use serde::Serialize;

use crate::dns::{DnsAnswer, DnsFailure, DnsRecords};

/// Outcome of one mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Verified and valid.
    Pass,
    /// Verified and invalid.
    Fail,
    /// SPF softfail / weak result.
    SoftFail,
    /// Nothing to verify (no signature, no policy).
    None,
    /// Could not be verified: DNS answers were unavailable (offline).
    NotVerified,
    /// Temporary or permanent error (broken record, bad signature syntax).
    Error,
}

/// Our own verification of the message's authentication.
#[derive(Debug, Clone, Serialize)]
pub struct AuthCheck {
    /// DKIM signatures: (signing domain, outcome).
    pub dkim: Vec<(String, Outcome)>,
    /// ARC chain outcome (`None` when there is no ARC set).
    pub arc: Outcome,
    /// SPF of the envelope sender for the client IP of the first external hop.
    pub spf: Outcome,
    /// DMARC of the From domain.
    pub dmarc: Outcome,
    /// The DMARC policy published (`none`, `quarantine`, `reject`) when known.
    pub dmarc_policy: Option<String>,
    /// Client IP and envelope sender that SPF was evaluated for, when found in the headers.
    pub spf_identity: Option<(IpAddr, String)>,
    /// DNS names that were needed but not available.
    pub dns_missing: Vec<String>,
    /// Why live DNS gave no answer (timeout, unreachable): what depended on it is
    /// `not_verified`. `None` offline or when every lookup was answered.
    pub dns_failure: Option<DnsFailure>,
}

impl AuthCheck {
    /// Nothing verified.
    pub fn empty() -> Self {
        Self {
            dkim: Vec::new(),
            arc: Outcome::None,
            spf: Outcome::None,
            dmarc: Outcome::None,
            dmarc_policy: None,
            spf_identity: None,
            dns_missing: Vec::new(),
            dns_failure: None,
        }
    }
}

/// Verifies `raw` with DNS answers from `dns`. `client` is the IP, HELO name and envelope
/// sender of the hop that handed the message to the receiving organisation, when known.
pub fn verify(
    raw: &[u8],
    dns: &dyn DnsRecords,
    client: Option<(IpAddr, String, String)>,
) -> AuthCheck {
    let caches = Caches {
        dns,
        missing: Mutex::new(Vec::new()),
        failure: Mutex::new(None),
    };
    let mut check = AuthCheck::empty();
    let Some(message) = AuthenticatedMessage::parse(raw) else {
        check.dkim.push((String::new(), Outcome::Error));
        return check;
    };
    let authenticator = authenticator();
    let params = |m| {
        Parameters::new(m)
            .with_txt_cache(&caches)
            .with_mx_cache(&caches)
            .with_ipv4_cache(&caches)
            .with_ipv6_cache(&caches)
            .with_ptr_cache(&caches)
    };
    let dkim = block_on(authenticator.verify_dkim(params(&message)));
    for output in &dkim {
        let domain = output
            .signature()
            .map(|s| s.d.to_ascii_lowercase())
            .unwrap_or_default();
        check.dkim.push((domain, dkim_outcome(output.result())));
    }
    if message.has_arc_errors || !message.ams_headers.is_empty() || !message.as_headers.is_empty() {
        let arc = block_on(authenticator.verify_arc(params(&message)));
        check.arc = dkim_outcome(arc.result());
    }
    let mail_from_domain;
    let spf = if let Some((ip, helo, sender)) = &client {
        check.spf_identity = Some((*ip, sender.clone()));
        mail_from_domain = sender
            .rsplit_once('@')
            .map_or(helo.as_str(), |(_, d)| d)
            .to_owned();
        let spf_params = SpfParameters::verify(*ip, helo, "sentinella.invalid", sender);
        let spf = block_on(
            authenticator.verify_spf(
                Parameters::new(spf_params)
                    .with_txt_cache(&caches)
                    .with_mx_cache(&caches)
                    .with_ipv4_cache(&caches)
                    .with_ipv6_cache(&caches)
                    .with_ptr_cache(&caches),
            ),
        );
        check.spf = match spf.result() {
            SpfResult::Pass => Outcome::Pass,
            SpfResult::Fail => Outcome::Fail,
            SpfResult::SoftFail => Outcome::SoftFail,
            SpfResult::Neutral | SpfResult::None => Outcome::None,
            SpfResult::TempError | SpfResult::PermError => Outcome::Error,
        };
        spf
    } else {
        mail_from_domain = String::new();
        check.spf = Outcome::NotVerified;
        mail_auth::SpfOutput::default()
    };
    let dmarc = block_on(
        authenticator.verify_dmarc(
            Parameters::new(mail_auth::dmarc::verify::DmarcParameters::new(
                &message,
                &dkim,
                &mail_from_domain,
                &spf,
            ))
            .with_txt_cache(&caches)
            .with_mx_cache(&caches)
            .with_ipv4_cache(&caches)
            .with_ipv6_cache(&caches)
            .with_ptr_cache(&caches),
        ),
    );
    if !dmarc.domain().is_empty() {
        let dkim_pass = *dmarc.dkim_result() == DmarcResult::Pass;
        let spf_pass = *dmarc.spf_result() == DmarcResult::Pass;
        let temp_error = matches!(dmarc.dkim_result(), DmarcResult::TempError(_))
            || matches!(dmarc.spf_result(), DmarcResult::TempError(_));
        // A published policy with no aligned pass is a DMARC failure.
        let has_policy = dmarc.dmarc_record().is_some();
        check.dmarc = if dkim_pass || spf_pass {
            Outcome::Pass
        } else if temp_error {
            Outcome::Error
        } else if has_policy {
            Outcome::Fail
        } else {
            Outcome::None
        };
        if check.dmarc != Outcome::None {
            check.dmarc_policy = Some(format!("{:?}", dmarc.policy()).to_ascii_lowercase());
        }
    }
    let mut missing = caches
        .missing
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    missing.sort();
    missing.dedup();
    if !missing.is_empty() {
        // What depended on an unavailable answer is not verified, whatever mail-auth concluded.
        for (domain, outcome) in &mut check.dkim {
            if *outcome != Outcome::Pass && missing.iter().any(|m| m.ends_with(domain.as_str())) {
                *outcome = Outcome::NotVerified;
            }
        }
        if check.spf != Outcome::Pass && check.spf != Outcome::Fail {
            check.spf = Outcome::NotVerified;
        }
        if check.dmarc != Outcome::Pass && missing.iter().any(|m| m.starts_with("TXT _dmarc.")) {
            check.dmarc = Outcome::NotVerified;
            // mail-auth's default, not a published policy.
            check.dmarc_policy = None;
        }
        if check.arc != Outcome::Pass && check.arc != Outcome::None {
            check.arc = Outcome::NotVerified;
        }
    }
    check.dns_missing = missing;
    check.dns_failure = caches
        .failure
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    check
}

fn dkim_outcome(result: &DkimResult) -> Outcome {
    match result {
        DkimResult::Pass => Outcome::Pass,
        DkimResult::Fail(_) => Outcome::Fail,
        // mail-auth reports body-hash mismatches and expired signatures as neutral: for the
        // reader the signature does not vouch for this message.
        DkimResult::Neutral(_) => Outcome::Fail,
        DkimResult::None => Outcome::None,
        DkimResult::PermError(_) | DkimResult::TempError(_) => Outcome::Error,
    }
}

/// mail-auth needs a resolver value even though ours answers every lookup from the caches;
/// building it opens no socket.
fn authenticator() -> &'static MessageAuthenticator {
    static AUTHENTICATOR: OnceLock<MessageAuthenticator> = OnceLock::new();
    AUTHENTICATOR.get_or_init(|| {
        MessageAuthenticator::new_cloudflare().expect("building a resolver value does no IO")
    })
}

/// Polls a future that never waits (every lookup is answered from the caches).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    // Bounded: a future that is not ready after many polls is a bug, not a wait.
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::yield_now();
    }
}

/// The caches mail-auth consults, answering from `DnsRecords`.
struct Caches<'a> {
    dns: &'a dyn DnsRecords,
    missing: Mutex<Vec<String>>,
    /// The first live lookup that failed. After a timeout or an unreachable server later
    /// lookups are not tried, so a DNS server that does not answer costs one timeout per
    /// message, not one per name.
    failure: Mutex<Option<DnsFailure>>,
}

impl Caches<'_> {
    fn note_missing(&self, name: String) {
        if let Ok(mut missing) = self.missing.lock() {
            missing.push(name);
        }
    }

    /// Asks `lookup` unless the DNS already timed out or was unreachable for this message
    /// (a server error is one zone's problem: other names are still asked); remembers the
    /// first failure.
    fn ask(&self, lookup: impl FnOnce(&dyn DnsRecords) -> DnsAnswer) -> DnsAnswer {
        if let Some(failure) = self.failure.lock().ok().and_then(|f| *f)
            && failure != DnsFailure::ServerError
        {
            return DnsAnswer::Failed(failure);
        }
        let answer = lookup(self.dns);
        if let DnsAnswer::Failed(failure) = answer
            && let Ok(mut first) = self.failure.lock()
        {
            first.get_or_insert(failure);
        }
        answer
    }

    fn txt_record(&self, name: &str) -> Txt {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match self.ask(|dns| dns.txt(&name)) {
            DnsAnswer::Records(records) => {
                if name.contains("._domainkey.") {
                    first_parsed::<DomainKey>(&records)
                } else if name.starts_with("_dmarc.") {
                    first_parsed::<Dmarc>(&records)
                } else {
                    let spf = first_parsed::<Spf>(&records);
                    if matches!(spf, Txt::Error(_)) {
                        first_parsed::<Macro>(&records)
                    } else {
                        spf
                    }
                }
            }
            DnsAnswer::NotFound => Txt::Error(not_found()),
            DnsAnswer::Unavailable => {
                self.note_missing(format!("TXT {name}"));
                Txt::Error(Error::Dns(DnsError::Resolver("offline".into())))
            }
            DnsAnswer::Failed(failure) => {
                self.note_missing(format!("TXT {name}"));
                Txt::Error(Error::Dns(DnsError::Resolver(failure.en().into())))
            }
        }
    }

    fn addresses<T: std::str::FromStr>(&self, name: &str) -> RecordSet<T> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let records = match self.ask(|dns| dns.addresses(&name)) {
            DnsAnswer::Records(records) => records.iter().filter_map(|r| r.parse().ok()).collect(),
            DnsAnswer::NotFound => Vec::new(),
            DnsAnswer::Unavailable | DnsAnswer::Failed(_) => {
                self.note_missing(format!("A {name}"));
                Vec::new()
            }
        };
        RecordSet {
            rrset: Arc::from(records),
            dnssec_status: DnssecStatus::Indeterminate,
        }
    }
}

fn first_parsed<T: TxtRecordParser + Into<Txt>>(records: &[String]) -> Txt {
    let mut result = Err(Error::Dns(DnsError::InvalidRecordType));
    for record in records {
        result = T::parse(record.as_bytes());
        if result.is_ok() {
            break;
        }
    }
    result.into()
}

fn not_found() -> Error {
    Error::Dns(DnsError::RecordNotFound(
        mail_auth::hickory_resolver::proto::op::ResponseCode::NXDomain,
    ))
}

impl ResolverCache<Box<str>, Txt> for Caches<'_> {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        Some(self.txt_record(&requested_name(name)?))
    }
    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: Box<str>, _: Txt, _: Instant) {}
}

impl ResolverCache<Box<str>, RecordSet<Ipv4Addr>> for Caches<'_> {
    fn get<Q>(&self, name: &Q) -> Option<RecordSet<Ipv4Addr>>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        Some(self.addresses(&requested_name(name)?))
    }
    fn remove<Q>(&self, _: &Q) -> Option<RecordSet<Ipv4Addr>>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: Box<str>, _: RecordSet<Ipv4Addr>, _: Instant) {}
}

impl ResolverCache<Box<str>, RecordSet<Ipv6Addr>> for Caches<'_> {
    fn get<Q>(&self, name: &Q) -> Option<RecordSet<Ipv6Addr>>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        Some(self.addresses(&requested_name(name)?))
    }
    fn remove<Q>(&self, _: &Q) -> Option<RecordSet<Ipv6Addr>>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: Box<str>, _: RecordSet<Ipv6Addr>, _: Instant) {}
}

impl ResolverCache<Box<str>, RecordSet<MX>> for Caches<'_> {
    fn get<Q>(&self, name: &Q) -> Option<RecordSet<MX>>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let name = requested_name(name)?
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let exchanges: Vec<Box<str>> = match self.ask(|dns| dns.mx(&name)) {
            DnsAnswer::Records(records) => records.into_iter().map(Into::into).collect(),
            DnsAnswer::NotFound => Vec::new(),
            DnsAnswer::Unavailable | DnsAnswer::Failed(_) => {
                self.note_missing(format!("MX {name}"));
                Vec::new()
            }
        };
        let mx = MX {
            exchanges: exchanges.into_boxed_slice(),
            preference: 10,
        };
        Some(RecordSet {
            rrset: Arc::from(vec![mx]),
            dnssec_status: DnssecStatus::Indeterminate,
        })
    }
    fn remove<Q>(&self, _: &Q) -> Option<RecordSet<MX>>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: Box<str>, _: RecordSet<MX>, _: Instant) {}
}

impl ResolverCache<IpAddr, RecordSet<Box<str>>> for Caches<'_> {
    fn get<Q>(&self, _: &Q) -> Option<RecordSet<Box<str>>>
    where
        IpAddr: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // PTR (SPF `ptr`, deprecated by RFC 7208 §5.5) is not resolved.
        Some(RecordSet {
            rrset: Arc::from(Vec::<Box<str>>::new()),
            dnssec_status: DnssecStatus::Indeterminate,
        })
    }
    fn remove<Q>(&self, _: &Q) -> Option<RecordSet<Box<str>>>
    where
        IpAddr: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: IpAddr, _: RecordSet<Box<str>>, _: Instant) {}
}

/// Recovers the name mail-auth asks for. `ResolverCache::get` only gives a `Q: Hash` that a
/// `Box<str>` borrows as, i.e. a `str`; `str`'s `Hash` writes its bytes followed by `0xff`
/// (never valid UTF-8), so a hasher that records its input gives the name back.
fn requested_name<Q: Hash + ?Sized>(name: &Q) -> Option<String> {
    #[derive(Default)]
    struct Recorder(Vec<u8>);
    impl std::hash::Hasher for Recorder {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
    }
    let mut recorder = Recorder::default();
    name.hash(&mut recorder);
    let mut bytes = recorder.0;
    if bytes.last() == Some(&0xff) {
        bytes.pop();
    }
    String::from_utf8(bytes).ok()
}
