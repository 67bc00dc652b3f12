//! A report as employees send it: a message to the phishing mailbox carrying the suspicious
//! message as a `message/rfc822` attachment ("forward as attachment") or inline-forwarded
//! in the body. Finds the suspicious message, the reporter and the reporter's language.

use mail_parser::{MessageParser, MimeHeaders};

use crate::report::Language;

/// How the suspicious message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forwarding {
    /// As a `message/rfc822` attachment: the original with all its headers.
    Attached,
    /// Forwarded inline: only the headers the mail client kept (From, Date, Subject, To).
    Inline,
    /// Not a forward: the message itself was submitted (API, CLI).
    Direct,
}

/// What a report contains.
#[derive(Debug, Clone)]
pub struct Reported {
    /// The reporter's address (the report's From).
    pub reporter: Option<String>,
    /// The language to answer in, from the report's Content-Language or wording.
    pub language: Language,
    pub forwarding: Forwarding,
    /// The suspicious message, raw.
    pub message: Vec<u8>,
}

/// Separators mail clients put before an inline-forwarded message.
const FORWARD_MARKERS: &[&str] = &[
    "---------- forwarded message ---------",
    "-------- forwarded message --------",
    "-------- original message --------",
    "-----original message-----",
    "begin forwarded message:",
    "---------- messaggio inoltrato ----------",
    "-------- messaggio inoltrato --------",
    "-------- messaggio originale --------",
    "-----messaggio originale-----",
    "inizio messaggio inoltrato:",
];

/// Extracts the reported message from a report. A report that is neither an attachment
/// nor a recognisable inline forward is analysed as it is (`Forwarding::Direct`).
pub fn extract_reported(raw: &[u8]) -> Reported {
    let parser = MessageParser::default();
    let Some(report) = parser.parse(raw) else {
        return Reported {
            reporter: None,
            language: Language::En,
            forwarding: Forwarding::Direct,
            message: raw.to_vec(),
        };
    };
    let reporter = report
        .from()
        .and_then(|a| a.iter().find_map(|a| a.address()))
        .map(str::to_ascii_lowercase);
    let body_text: String = report
        .text_bodies()
        .filter_map(|p| p.text_contents())
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    let language = language_of(
        report.header_raw("Content-Language"),
        report.subject(),
        &body_text,
    );
    // Forward as attachment: the first message/rfc822 part, raw bytes as attached.
    for part in report.attachments() {
        let is_message = part.is_message()
            || part.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("message")
                    && ct
                        .subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("rfc822"))
            });
        let is_eml = part
            .attachment_name()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".eml"));
        if is_message || is_eml {
            let message = if is_message && part.message().is_some() {
                let start = part.raw_body_offset() as usize;
                let end = (part.raw_end_offset() as usize).min(raw.len());
                let body = raw.get(start..end).unwrap_or_default();
                // The attached message may itself be transfer-encoded (base64).
                if body.is_empty() || !looks_like_headers(body) {
                    part.contents().to_vec()
                } else {
                    body.to_vec()
                }
            } else {
                part.contents().to_vec()
            };
            return Reported {
                reporter,
                language,
                forwarding: Forwarding::Attached,
                message,
            };
        }
    }
    if let Some(inline) = inline_forward(&body_text) {
        return Reported {
            reporter,
            language,
            forwarding: Forwarding::Inline,
            message: inline.into_bytes(),
        };
    }
    Reported {
        reporter,
        language,
        forwarding: Forwarding::Direct,
        message: raw.to_vec(),
    }
}

fn looks_like_headers(body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&body[..body.len().min(2000)]);
    head.lines().next().is_some_and(|line| {
        line.split_once(':')
            .is_some_and(|(name, _)| !name.is_empty() && !name.contains(' '))
    })
}

/// Rebuilds a message from an inline forward: the header block the client quoted after
/// its separator becomes the header, the rest the body.
fn inline_forward(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let start = FORWARD_MARKERS
        .iter()
        .filter_map(|m| lower.find(m).map(|i| (i, m.len())))
        .min_by_key(|(i, _)| *i)?;
    // `lower` may differ in byte length from `text` for some scripts: map back safely.
    let after = text
        .get(start.0 + start.1..)
        .or_else(|| lower.get(start.0 + start.1..))?;
    let mut headers = Vec::new();
    let mut lines = after
        .lines()
        .map(|l| l.trim_start_matches('>').trim())
        .skip_while(|l| l.is_empty() || l.chars().all(|c| c == '-'));
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        let name = match name.trim().to_lowercase().as_str() {
            "from" | "da" | "von" | "de" => "From",
            "to" | "a" | "an" | "para" => "To",
            "subject" | "oggetto" | "betreff" | "assunto" | "objet" => "Subject",
            "date" | "sent" | "data" | "inviato" | "datum" | "gesendet" => "Date",
            "reply-to" | "rispondi a" => "Reply-To",
            "cc" => "Cc",
            _ => continue,
        };
        headers.push(format!("{name}: {}", value.trim()));
    }
    if headers.is_empty() {
        return None;
    }
    let body: Vec<&str> = lines.collect();
    Some(format!(
        "{}\r\nX-Sentinella-Forwarded: inline\r\n\r\n{}\r\n",
        headers.join("\r\n"),
        body.join("\r\n")
    ))
}

/// Italian when the report says so (Content-Language) or reads Italian; English otherwise.
pub fn language_of(content_language: Option<&str>, subject: Option<&str>, body: &str) -> Language {
    if let Some(tag) = content_language {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.starts_with("it") {
            return Language::It;
        }
        if tag.starts_with("en") {
            return Language::En;
        }
    }
    // The reporter's own words come before any forwarded content.
    let own = body
        .to_lowercase()
        .split("---")
        .next()
        .map(str::to_owned)
        .unwrap_or_default();
    let text = format!("{} {own}", subject.unwrap_or_default().to_lowercase());
    const ITALIAN: &[&str] = &[
        " il ",
        " la ",
        " che ",
        " questo ",
        " questa ",
        " messaggio",
        " ciao",
        "buongiorno",
        " grazie",
        " sospett",
        "inoltr",
        " è ",
        " non ",
        " per ",
        " della ",
        " ho ricevuto",
        "segnal",
    ];
    const ENGLISH: &[&str] = &[
        " the ",
        " this ",
        " is ",
        " that ",
        " message",
        " hello",
        " thanks",
        " suspicious",
        "forward",
        " received",
        " please",
        " report",
    ];
    let padded = format!(" {text} ");
    let italian = ITALIAN.iter().filter(|w| padded.contains(*w)).count();
    let english = ENGLISH.iter().filter(|w| padded.contains(*w)).count();
    if italian > english {
        Language::It
    } else {
        Language::En
    }
}
