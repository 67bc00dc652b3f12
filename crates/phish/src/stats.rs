//! Counters of the report intake: what arrived (SMTP, API), what was refused and why, what
//! was analysed, and whether reporters were answered. Lock-free; the desk owns one
//! ([`crate::Desk::stats`]) and the server's listeners and API count into it. The desk keeps
//! them across restarts in `stats.json` ([`crate::Desk::save_stats`]).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::report::Verdict;

/// Where a report came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Smtp,
    Api,
}

/// Why a report (or one of its recipients) was refused before analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Larger than the configured limit.
    Size,
    /// Sent to an address the intake does not serve.
    Recipient,
    /// Not an email: a malformed SMTP command, an empty or unreadable body.
    Parse,
}

/// The intake's counters.
#[derive(Debug)]
pub struct IntakeStats {
    since: i64,
    received_smtp: AtomicU64,
    received_api: AtomicU64,
    refused_size: AtomicU64,
    refused_recipient: AtomicU64,
    refused_parse: AtomicU64,
    analysed: AtomicU64,
    unparsable: AtomicU64,
    malicious: AtomicU64,
    suspicious: AtomicU64,
    likely_safe: AtomicU64,
    failed: AtomicU64,
    replies_sent: AtomicU64,
    replies_failed: AtomicU64,
    notices_sent: AtomicU64,
    notices_failed: AtomicU64,
}

/// A copy of the counters, as the API shows them and the desk keeps them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IntakeSnapshot {
    /// Unix seconds when counting started (the first start of the desk).
    pub since: i64,
    pub received: ByChannel,
    pub refused: ByRefusal,
    /// Reports analysed and kept.
    pub analysed: u64,
    /// Of those, messages without valid headers (analysed as text only).
    pub unparsable: u64,
    /// Automatic verdicts of the analysed reports.
    pub verdicts: ByVerdict,
    /// Reports that could not be kept (storage errors).
    pub failed: u64,
    /// Automatic answers to reporters.
    pub replies: Delivery,
    /// Notices of an analyst's review.
    pub notices: Delivery,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ByChannel {
    pub smtp: u64,
    pub api: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ByRefusal {
    pub size: u64,
    pub recipient: u64,
    pub parse: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ByVerdict {
    pub malicious: u64,
    pub suspicious: u64,
    pub likely_safe: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Delivery {
    pub sent: u64,
    pub failed: u64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl IntakeStats {
    /// Counters at zero, counting from `since` (Unix seconds).
    pub fn new(since: i64) -> Self {
        Self {
            since,
            received_smtp: AtomicU64::new(0),
            received_api: AtomicU64::new(0),
            refused_size: AtomicU64::new(0),
            refused_recipient: AtomicU64::new(0),
            refused_parse: AtomicU64::new(0),
            analysed: AtomicU64::new(0),
            unparsable: AtomicU64::new(0),
            malicious: AtomicU64::new(0),
            suspicious: AtomicU64::new(0),
            likely_safe: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            replies_sent: AtomicU64::new(0),
            replies_failed: AtomicU64::new(0),
            notices_sent: AtomicU64::new(0),
            notices_failed: AtomicU64::new(0),
        }
    }

    /// Counters continuing from `snapshot` (the last run's).
    pub fn resume(snapshot: &IntakeSnapshot) -> Self {
        let at = AtomicU64::new;
        Self {
            since: snapshot.since,
            received_smtp: at(snapshot.received.smtp),
            received_api: at(snapshot.received.api),
            refused_size: at(snapshot.refused.size),
            refused_recipient: at(snapshot.refused.recipient),
            refused_parse: at(snapshot.refused.parse),
            analysed: at(snapshot.analysed),
            unparsable: at(snapshot.unparsable),
            malicious: at(snapshot.verdicts.malicious),
            suspicious: at(snapshot.verdicts.suspicious),
            likely_safe: at(snapshot.verdicts.likely_safe),
            failed: at(snapshot.failed),
            replies_sent: at(snapshot.replies.sent),
            replies_failed: at(snapshot.replies.failed),
            notices_sent: at(snapshot.notices.sent),
            notices_failed: at(snapshot.notices.failed),
        }
    }

    /// A report arrived (before analysis).
    pub fn received(&self, channel: Channel) {
        bump(match channel {
            Channel::Smtp => &self.received_smtp,
            Channel::Api => &self.received_api,
        });
    }

    /// A report or a recipient was refused.
    pub fn refused(&self, refusal: Refusal) {
        bump(match refusal {
            Refusal::Size => &self.refused_size,
            Refusal::Recipient => &self.refused_recipient,
            Refusal::Parse => &self.refused_parse,
        });
    }

    /// A report was analysed and kept with this automatic verdict.
    pub(crate) fn analysed(&self, verdict: Verdict, unparsable: bool) {
        bump(&self.analysed);
        if unparsable {
            bump(&self.unparsable);
        }
        bump(match verdict {
            Verdict::Malicious => &self.malicious,
            Verdict::Suspicious => &self.suspicious,
            Verdict::LikelySafe => &self.likely_safe,
        });
    }

    /// A report could not be kept.
    pub(crate) fn failed(&self) {
        bump(&self.failed);
    }

    /// The automatic answer was handed to the relay, or not.
    pub fn reply(&self, sent: bool) {
        bump(if sent {
            &self.replies_sent
        } else {
            &self.replies_failed
        });
    }

    /// A review notice was handed to the relay, or not.
    pub fn notice(&self, sent: bool) {
        bump(if sent {
            &self.notices_sent
        } else {
            &self.notices_failed
        });
    }

    /// The counters now.
    pub fn snapshot(&self) -> IntakeSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IntakeSnapshot {
            since: self.since,
            received: ByChannel {
                smtp: get(&self.received_smtp),
                api: get(&self.received_api),
            },
            refused: ByRefusal {
                size: get(&self.refused_size),
                recipient: get(&self.refused_recipient),
                parse: get(&self.refused_parse),
            },
            analysed: get(&self.analysed),
            unparsable: get(&self.unparsable),
            verdicts: ByVerdict {
                malicious: get(&self.malicious),
                suspicious: get(&self.suspicious),
                likely_safe: get(&self.likely_safe),
            },
            failed: get(&self.failed),
            replies: Delivery {
                sent: get(&self.replies_sent),
                failed: get(&self.replies_failed),
            },
            notices: Delivery {
                sent: get(&self.notices_sent),
                failed: get(&self.notices_failed),
            },
        }
    }
}
