//! The phishing desk: analyses submitted reports and keeps them, with analyst overrides.
//!
//! Storage is plain files under one folder (blocking IO, like `store`; async callers use
//! `spawn_blocking`):
//!
//! ```text
//! reports/<id>.json    the stored report (verdict, reasons, analysis, overrides, reply)
//! messages/<id>.eml    the suspicious message as received
//! audit.jsonl          one line per override: who, when, from which verdict to which
//! ```

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Analyzer;
use crate::dns::DnsRecords;
use crate::error::PhishError;
use crate::intake::Forwarding;
use crate::report::{Language, Verdict};

/// An analyst's change of verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Override {
    /// Unix seconds.
    pub at: i64,
    pub actor: String,
    pub from: Verdict,
    pub to: Verdict,
    pub comment: String,
}

/// Whether the reporter was answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplyStatus {
    pub at: i64,
    pub to: String,
    pub language: Language,
    pub sent: bool,
    pub error: Option<String>,
}

/// A report as kept by the desk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredReport {
    pub id: String,
    /// Unix seconds.
    pub received_at: i64,
    /// `smtp` or `api`.
    pub source: String,
    pub reporter: Option<String>,
    pub language: Language,
    pub forwarding: Forwarding,
    /// The verdict in force: the last override, else the automatic one.
    pub verdict: Verdict,
    pub automatic_verdict: Verdict,
    pub score: u32,
    pub subject: Option<String>,
    pub reasons_en: Vec<String>,
    pub reasons_it: Vec<String>,
    pub message_sha256: String,
    /// The full analysis (findings, attachments, authentication, indicators).
    pub analysis: serde_json::Value,
    #[serde(default)]
    pub overrides: Vec<Override>,
    #[serde(default)]
    pub reply: Option<ReplyStatus>,
    /// Notices sent to the reporter after an analyst changed the verdict.
    #[serde(default)]
    pub notices: Vec<ReplyStatus>,
}

/// What is known about a submission besides its bytes.
pub struct Submission {
    pub source: String,
    pub reporter: Option<String>,
    pub language: Language,
    pub forwarding: Forwarding,
    /// Unix seconds.
    pub now: i64,
}

/// Analyses and keeps reports. Cheap to share (`Arc`).
pub struct Desk {
    analyzer: Analyzer,
    dns: std::sync::Arc<dyn DnsRecords>,
    dir: PathBuf,
    /// Serialises writers (ids and read-modify-write of overrides).
    lock: Mutex<u64>,
}

impl Desk {
    /// Opens (creating) the desk's folder.
    /// `dns` answers the authentication checks ([`crate::OfflineDns`] when there is none).
    pub fn open(
        dir: &Path,
        analyzer: Analyzer,
        dns: std::sync::Arc<dyn DnsRecords>,
    ) -> Result<Desk, PhishError> {
        for sub in ["reports", "messages"] {
            fs::create_dir_all(dir.join(sub)).map_err(|e| PhishError::Io(dir.join(sub), e))?;
        }
        Ok(Desk {
            analyzer,
            dns,
            dir: dir.to_owned(),
            lock: Mutex::new(0),
        })
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Analyses `message` and stores the result.
    pub fn submit(
        &self,
        message: &[u8],
        submission: Submission,
    ) -> Result<StoredReport, PhishError> {
        let report = self.analyzer.analyze(message, self.dns.as_ref());
        let id = {
            let mut counter = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            *counter += 1;
            format!("{:012x}-{:04x}", submission.now.max(0), *counter & 0xffff)
        };
        let stored = StoredReport {
            id: id.clone(),
            received_at: submission.now,
            source: submission.source,
            reporter: submission.reporter,
            language: submission.language,
            forwarding: submission.forwarding,
            verdict: report.verdict,
            automatic_verdict: report.verdict,
            score: report.score,
            subject: report.subject.clone(),
            reasons_en: report.reasons(Language::En),
            reasons_it: report.reasons(Language::It),
            message_sha256: hex(&Sha256::digest(message)),
            analysis: serde_json::to_value(&report).map_err(|e| PhishError::Json(id.clone(), e))?,
            overrides: Vec::new(),
            reply: None,
            notices: Vec::new(),
        };
        write_atomically(
            &self.dir.join("messages").join(format!("{id}.eml")),
            message,
        )?;
        self.save(&stored)?;
        Ok(stored)
    }

    /// One report.
    pub fn get(&self, id: &str) -> Result<StoredReport, PhishError> {
        if !is_valid_id(id) {
            return Err(PhishError::NotFound(id.to_owned()));
        }
        let path = self.dir.join("reports").join(format!("{id}.json"));
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PhishError::NotFound(id.to_owned()));
            }
            Err(e) => return Err(PhishError::Io(path, e)),
        };
        serde_json::from_slice(&text).map_err(|e| PhishError::Json(id.to_owned(), e))
    }

    /// The newest `limit` reports, newest first.
    pub fn list(&self, limit: usize) -> Result<Vec<StoredReport>, PhishError> {
        let dir = self.dir.join("reports");
        let mut ids: Vec<String> = fs::read_dir(&dir)
            .map_err(|e| PhishError::Io(dir.clone(), e))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_owned)
            })
            .filter(|id| is_valid_id(id))
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.into_iter()
            .take(limit)
            .map(|id| self.get(&id))
            .collect()
    }

    /// Changes the verdict of a report; the change is kept in the report and appended to
    /// the desk's audit log.
    pub fn override_verdict(
        &self,
        id: &str,
        actor: &str,
        to: Verdict,
        comment: &str,
        now: i64,
    ) -> Result<StoredReport, PhishError> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut stored = self.get(id)?;
        let change = Override {
            at: now,
            actor: actor.chars().take(200).collect(),
            from: stored.verdict,
            to,
            comment: comment.chars().take(2000).collect(),
        };
        let line = serde_json::json!({"report": id, "override": &change});
        let audit = self.dir.join("audit.jsonl");
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&audit)
            .map_err(|e| PhishError::Io(audit.clone(), e))?;
        writeln!(file, "{line}")
            .and_then(|()| file.sync_data())
            .map_err(|e| PhishError::Io(audit.clone(), e))?;
        stored.verdict = to;
        stored.overrides.push(change);
        self.save(&stored)?;
        Ok(stored)
    }

    /// Records whether the reporter was answered.
    pub fn record_reply(&self, id: &str, reply: ReplyStatus) -> Result<(), PhishError> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut stored = self.get(id)?;
        stored.reply = Some(reply);
        self.save(&stored)
    }

    /// Records a notice to the reporter about an analyst's review.
    pub fn record_notice(&self, id: &str, notice: ReplyStatus) -> Result<(), PhishError> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut stored = self.get(id)?;
        // Bounded: an analyst flipping a verdict all day keeps the latest notices.
        if stored.notices.len() >= 50 {
            stored.notices.remove(0);
        }
        stored.notices.push(notice);
        self.save(&stored)
    }

    fn save(&self, stored: &StoredReport) -> Result<(), PhishError> {
        let json = serde_json::to_vec_pretty(stored)
            .map_err(|e| PhishError::Json(stored.id.clone(), e))?;
        write_atomically(
            &self.dir.join("reports").join(format!("{}.json", stored.id)),
            &json,
        )
    }
}

/// Ids are ours (`hex-hex`): anything else never reaches the file system.
fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

fn write_atomically(path: &Path, data: &[u8]) -> Result<(), PhishError> {
    let tmp = path.with_extension("tmp");
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(data)?;
        file.sync_data()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| PhishError::Io(path.to_owned(), e))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reports that share sending infrastructure, link domains or attachments.
#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    /// Report ids, newest first.
    pub reports: Vec<String>,
    /// What they share (`sender:example.top`, `domain:evil.top`, `sha256:…`, `ip:…`).
    pub shared: Vec<String>,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl Desk {
    /// Groups the newest `limit` reports into campaigns (groups of two or more).
    pub fn campaigns(&self, limit: usize) -> Result<Vec<Campaign>, PhishError> {
        let reports = self.list(limit)?;
        let keys: Vec<Vec<String>> = reports.iter().map(campaign_keys).collect();
        // Union-find over reports that share a key.
        let mut parent: Vec<usize> = (0..reports.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut first_with: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::new();
        for (index, report_keys) in keys.iter().enumerate() {
            for key in report_keys {
                match first_with.get(key.as_str()) {
                    Some(&other) => {
                        let (a, b) = (root(&mut parent, index), root(&mut parent, other));
                        parent[a] = b;
                    }
                    None => {
                        first_with.insert(key, index);
                    }
                }
            }
        }
        let mut groups: std::collections::BTreeMap<usize, Vec<usize>> =
            std::collections::BTreeMap::new();
        for index in 0..reports.len() {
            let r = root(&mut parent, index);
            groups.entry(r).or_default().push(index);
        }
        let mut campaigns: Vec<Campaign> = groups
            .into_values()
            .filter(|members| members.len() >= 2)
            .map(|members| {
                let mut shared: Vec<String> = keys[members[0]]
                    .iter()
                    .filter(|k| members.iter().filter(|m| keys[**m].contains(k)).count() >= 2)
                    .cloned()
                    .collect();
                for member in &members[1..] {
                    for key in &keys[*member] {
                        if !shared.contains(key)
                            && members.iter().filter(|m| keys[**m].contains(key)).count() >= 2
                        {
                            shared.push(key.clone());
                        }
                    }
                }
                shared.sort();
                Campaign {
                    reports: members.iter().map(|m| reports[*m].id.clone()).collect(),
                    shared,
                    first_seen: members
                        .iter()
                        .map(|m| reports[*m].received_at)
                        .min()
                        .unwrap_or_default(),
                    last_seen: members
                        .iter()
                        .map(|m| reports[*m].received_at)
                        .max()
                        .unwrap_or_default(),
                }
            })
            .collect();
        campaigns.sort_by(|a, b| {
            b.reports
                .len()
                .cmp(&a.reports.len())
                .then(b.last_seen.cmp(&a.last_seen))
        });
        Ok(campaigns)
    }
}

/// The indicators by which reports are grouped. Free-mail senders and the brands' own
/// domains are left out: they are shared by everyone.
fn campaign_keys(report: &StoredReport) -> Vec<String> {
    let indicators = &report.analysis["indicators"];
    let lists = crate::domains::lists();
    let is_common = |domain: &str| {
        lists.freemail.contains(domain)
            || lists
                .brands
                .values()
                .any(|domains| domains.contains(domain))
    };
    let mut keys = Vec::new();
    if let Some(senders) = indicators["sender_domains"].as_array() {
        for sender in senders.iter().filter_map(|s| s.as_str()) {
            let registrable = crate::domains::registrable(sender);
            if !is_common(&registrable) {
                keys.push(format!("sender:{registrable}"));
            }
        }
    }
    if let Some(domains) = indicators["domains"].as_array() {
        for domain in domains
            .iter()
            .filter_map(|s| s.as_str())
            .filter(|d| !is_common(d))
        {
            keys.push(format!("domain:{domain}"));
        }
    }
    if let Some(hashes) = indicators["attachment_sha256"].as_array() {
        keys.extend(
            hashes
                .iter()
                .filter_map(|s| s.as_str())
                .map(|h| format!("sha256:{h}")),
        );
    }
    if let Some(ip) = indicators["origin_ip"].as_str() {
        keys.push(format!("ip:{ip}"));
    }
    keys.sort();
    keys.dedup();
    keys
}
