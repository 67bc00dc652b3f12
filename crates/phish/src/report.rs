//! What the analyzer concludes: findings with reasons in English and Italian, and a verdict.

use serde::Serialize;

use crate::auth::AuthCheck;
use crate::known::IntelHit;

/// What kind of evidence a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Sender identity and authentication.
    Headers,
    /// Links in the message.
    Links,
    /// Attached files.
    Attachments,
    /// Wording of the message.
    Text,
    /// Parts that could not be analysed.
    Analysis,
    /// Values threat intelligence already lists as malicious.
    Intelligence,
}

/// One reason behind the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable identifier, e.g. `link.ip_host`.
    pub code: &'static str,
    pub category: Category,
    /// Contribution to the score (0 for facts that only inform).
    pub weight: u32,
    /// The reason, for an employee, in English.
    pub en: String,
    /// The same reason in Italian.
    pub it: String,
}

/// The verdict classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    LikelySafe,
    Suspicious,
    Malicious,
}

impl Verdict {
    /// `likely_safe`, `suspicious`, `malicious`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::LikelySafe => "likely_safe",
            Verdict::Suspicious => "suspicious",
            Verdict::Malicious => "malicious",
        }
    }

    /// Parses the stable name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "likely_safe" => Some(Verdict::LikelySafe),
            "suspicious" => Some(Verdict::Suspicious),
            "malicious" => Some(Verdict::Malicious),
            _ => None,
        }
    }

    /// A sentence for the reporter.
    pub fn sentence(self, language: Language) -> &'static str {
        match (self, language) {
            (Verdict::Malicious, Language::En) => {
                "This message is malicious: do not click its links, do not open its attachments, delete it."
            }
            (Verdict::Malicious, Language::It) => {
                "Questo messaggio è malevolo: non aprire i link né gli allegati, eliminalo."
            }
            (Verdict::Suspicious, Language::En) => {
                "This message is suspicious: do not click its links or open its attachments; the security team will look at it."
            }
            (Verdict::Suspicious, Language::It) => {
                "Questo messaggio è sospetto: non aprire i link né gli allegati; il team di sicurezza lo esaminerà."
            }
            (Verdict::LikelySafe, Language::En) => {
                "No sign of phishing was found; if in doubt, ask the security team."
            }
            (Verdict::LikelySafe, Language::It) => {
                "Non sono stati trovati segni di phishing; nel dubbio, chiedi al team di sicurezza."
            }
        }
    }
}

/// Language of the reasons shown to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    It,
}

/// A file attached to the message (or inside an archive attached to it).
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentInfo {
    pub name: String,
    /// Type from the content's magic bytes.
    pub detected_type: String,
    pub size: usize,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
}

/// One `Received` hop, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub from: Option<String>,
    pub ip: Option<String>,
    pub by: Option<String>,
}

/// Indicators extracted from the message, for campaigns and intelligence.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Indicators {
    pub from_address: Option<String>,
    /// Whether SPF or DKIM authenticated the From domain (DMARC's relaxed alignment, from our
    /// own check or the receiver's results); `None` when nothing says either way. Only an
    /// authenticated From domain is the sender's own and worth giving to intelligence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_aligned: Option<bool>,
    pub sender_domains: Vec<String>,
    pub origin_ip: Option<String>,
    pub urls: Vec<String>,
    pub domains: Vec<String>,
    pub attachment_sha256: Vec<String>,
}

/// The analysis of one message.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    pub score: u32,
    pub subject: Option<String>,
    pub findings: Vec<Finding>,
    pub attachments: Vec<AttachmentInfo>,
    pub received: Vec<Hop>,
    /// Our own authentication check.
    pub auth: AuthCheck,
    pub indicators: Indicators,
    /// Values of the message that threat intelligence knows (empty without intelligence).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub intel: Vec<IntelHit>,
}

impl Report {
    /// The reasons that contributed to the score, in `language`, strongest first.
    pub fn reasons(&self, language: Language) -> Vec<String> {
        let mut findings: Vec<&Finding> = self.findings.iter().collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.weight));
        findings
            .into_iter()
            .map(|f| match language {
                Language::En => f.en.clone(),
                Language::It => f.it.clone(),
            })
            .collect()
    }

    /// DNS names the analysis needed but did not have (resolve them and analyse again).
    pub fn dns_missing(&self) -> &[String] {
        &self.auth.dns_missing
    }
}
