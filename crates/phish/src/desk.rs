//! The phishing desk: analyses submitted reports and keeps them, with analyst overrides.
//!
//! Storage is plain files under one folder (blocking IO, like `store`; async callers use
//! `spawn_blocking`):
//!
//! ```text
//! reports/<id>.json    the stored report (verdict, reasons, analysis, overrides, reply)
//! messages/<id>.eml    the suspicious message as received
//! audit.jsonl          one line per override: who, when, from which verdict to which
//! stats.json           the intake counters as last saved ([`Desk::save_stats`])
//! ```

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Analyzer;
use crate::campaigns::Campaign;
use crate::dns::DnsRecords;
use crate::error::PhishError;
use crate::intake::Forwarding;
use crate::report::{Language, Verdict};
use crate::stats::{IntakeSnapshot, IntakeStats};

/// The intake counters kept between runs.
const STATS_FILE: &str = "stats.json";

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
    stats: IntakeStats,
    /// Bumped whenever a report is added or its verdict changes: what campaigns depend on.
    generation: AtomicU64,
    /// The campaigns last computed, with the generation and window they were computed for.
    campaigns: Mutex<Option<CachedCampaigns>>,
}

struct CachedCampaigns {
    generation: u64,
    limit: usize,
    campaigns: Arc<Vec<Campaign>>,
}

impl Desk {
    /// Opens (creating) the desk's folder, with the intake counters where the last run left
    /// them (an unreadable counters file starts them again at zero rather than failing).
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
            stats: load_stats(&dir.join(STATS_FILE)).map_or_else(
                || {
                    IntakeStats::new(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs() as i64),
                    )
                },
                |snapshot| IntakeStats::resume(&snapshot),
            ),
            generation: AtomicU64::new(0),
            campaigns: Mutex::new(None),
        })
    }

    /// Writes the intake counters to `stats.json` (atomically), for the next run; returns
    /// what was written so callers can skip saving unchanged counters.
    pub fn save_stats(&self) -> Result<IntakeSnapshot, PhishError> {
        let snapshot = self.stats.snapshot();
        let json = serde_json::to_vec(&snapshot)
            .map_err(|e| PhishError::Json(STATS_FILE.to_owned(), e))?;
        write_atomically(&self.dir.join(STATS_FILE), &json)?;
        Ok(snapshot)
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// The intake's counters since the desk opened.
    pub fn stats(&self) -> &IntakeStats {
        &self.stats
    }

    /// Analyses `message` and stores the result (counted in [`Desk::stats`]).
    pub fn submit(
        &self,
        message: &[u8],
        submission: Submission,
    ) -> Result<StoredReport, PhishError> {
        let result = self.analyse_and_keep(message, submission);
        match &result {
            Ok(stored) => self.stats.analysed(
                stored.automatic_verdict,
                stored.analysis["findings"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f["code"] == "analysis.unparsable")),
            ),
            Err(_) => self.stats.failed(),
        }
        result
    }

    fn analyse_and_keep(
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
        self.generation.fetch_add(1, Ordering::Release);
        Ok(stored)
    }

    /// Changes each time a report is added or overridden (what campaigns are computed from).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
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
        self.generation.fetch_add(1, Ordering::Release);
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

/// The counters in `path`, if it holds valid ones.
fn load_stats(path: &Path) -> Option<IntakeSnapshot> {
    // Bounded: the file is a few hundred bytes; anything huge is not ours.
    let file = fs::File::open(path).ok()?;
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, 64 << 10), &mut text).ok()?;
    serde_json::from_slice(&text).ok()
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

impl Desk {
    /// Groups the newest `limit` reports into campaigns (groups of two or more); see
    /// [`crate::campaigns`]. Computed once per [`Desk::generation`]: the console asks
    /// often, and reading thousands of reports each time would not be cheap.
    pub fn campaigns(&self, limit: usize) -> Result<Vec<Campaign>, PhishError> {
        Ok(self.cached_campaigns(limit)?.as_ref().clone())
    }

    fn cached_campaigns(&self, limit: usize) -> Result<Arc<Vec<Campaign>>, PhishError> {
        // Read before the reports: a report added meanwhile makes the result stale at once.
        let generation = self.generation();
        {
            let cache = self.campaigns.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(cached) = cache.as_ref()
                && cached.generation == generation
                && cached.limit == limit
            {
                return Ok(Arc::clone(&cached.campaigns));
            }
        }
        let reports = self.list(limit)?;
        let campaigns = Arc::new(crate::campaigns::group(
            &reports,
            &self.analyzer.config().own_domains,
        ));
        *self.campaigns.lock().unwrap_or_else(|e| e.into_inner()) = Some(CachedCampaigns {
            generation,
            limit,
            campaigns: Arc::clone(&campaigns),
        });
        Ok(campaigns)
    }

    /// The campaign `id` (the id of its oldest report) among the newest `limit` reports,
    /// with its reports (newest first).
    pub fn campaign(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<(Campaign, Vec<StoredReport>), PhishError> {
        let campaign = self
            .cached_campaigns(limit)?
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or_else(|| PhishError::NotFound(id.to_owned()))?;
        let members = campaign
            .reports
            .iter()
            .filter_map(|member| self.get(member).ok())
            .collect();
        Ok((campaign, members))
    }
}
