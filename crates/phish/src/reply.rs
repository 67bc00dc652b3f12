//! The automatic answer to the reporter: the verdict and its reasons in the reporter's
//! language, as a complete RFC 5322 message for the relay.

use crate::report::{Language, Report, Verdict};

/// What the reply needs besides the analysis.
pub struct ReplyInput<'a> {
    /// Sender of the reply (the phishing mailbox).
    pub from: &'a str,
    /// The reporter.
    pub to: &'a str,
    pub language: Language,
    /// Identifier of the stored report, quoted for follow-up.
    pub report_id: &'a str,
    /// Subject of the reported message.
    pub reported_subject: Option<&'a str>,
    /// RFC 5322 date of now.
    pub date: &'a str,
    /// Message-ID of the reply, without angle brackets.
    pub message_id: &'a str,
}

/// Builds the reply from a fresh analysis.
pub fn compose_reply(input: &ReplyInput, verdict: Verdict, report: &Report) -> Vec<u8> {
    compose_reply_with_reasons(input, verdict, &report.reasons(input.language))
}

/// Builds the reply (CRLF line ends, 8bit UTF-8 body) from reasons already in the
/// reporter's language.
pub fn compose_reply_with_reasons(
    input: &ReplyInput,
    verdict: Verdict,
    reasons: &[String],
) -> Vec<u8> {
    compose(input, verdict, reasons, false)
}

/// Builds the notice that an analyst reviewed the report and changed its verdict: the
/// new verdict and what to do, in the reporter's language. The analyst's comment is
/// internal and never sent.
pub fn compose_review_notice(input: &ReplyInput, verdict: Verdict) -> Vec<u8> {
    compose(input, verdict, &[], true)
}

fn compose(input: &ReplyInput, verdict: Verdict, reasons: &[String], review: bool) -> Vec<u8> {
    let (label, mut heading, reasons_title, footer) = match input.language {
        Language::It => (
            match verdict {
                Verdict::Malicious => "MALEVOLO",
                Verdict::Suspicious => "SOSPETTO",
                Verdict::LikelySafe => "PROBABILMENTE SICURO",
            },
            "Grazie per la segnalazione. Esito dell'analisi automatica:",
            "Motivi:",
            "Il team di sicurezza ha ricevuto la segnalazione. Riferimento",
        ),
        Language::En => (
            match verdict {
                Verdict::Malicious => "MALICIOUS",
                Verdict::Suspicious => "SUSPICIOUS",
                Verdict::LikelySafe => "LIKELY SAFE",
            },
            "Thank you for your report. Result of the automatic analysis:",
            "Reasons:",
            "The security team has received your report. Reference",
        ),
    };
    let subject_prefix = match (input.language, review) {
        (Language::It, false) => "Esito segnalazione",
        (Language::En, false) => "Report result",
        (Language::It, true) => "Segnalazione riesaminata",
        (Language::En, true) => "Report reviewed",
    };
    if review {
        heading = match input.language {
            Language::It => "Il team di sicurezza ha riesaminato la tua segnalazione. Nuovo esito:",
            Language::En => "The security team has reviewed your report. New result:",
        };
    }
    let reported = input.reported_subject.map(sanitize).unwrap_or_default();
    let subject = format!("{subject_prefix}: {label} - {reported}");
    let mut body = format!(
        "{heading}\r\n\r\n    {label}\r\n\r\n{}\r\n",
        verdict.sentence(input.language)
    );
    if !reasons.is_empty() {
        body.push_str(&format!("\r\n{reasons_title}\r\n"));
        for reason in reasons.iter().take(10) {
            body.push_str(&format!("- {}\r\n", sanitize(reason)));
        }
    }
    body.push_str(&format!("\r\n{footer}: {}\r\n", input.report_id));
    let headers = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}>\r\nAuto-Submitted: {}\r\nContent-Language: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nX-Sentinella-Verdict: {}\r\n\r\n",
        sanitize(input.from),
        sanitize(input.to),
        encode_header(&subject),
        input.date,
        sanitize(input.message_id),
        if review {
            "auto-generated"
        } else {
            "auto-replied"
        },
        match input.language {
            Language::It => "it",
            Language::En => "en",
        },
        verdict.as_str(),
    );
    let mut message = headers.into_bytes();
    // SMTP data: no bare "." lines (the client dot-stuffs anyway) and bounded length.
    message.extend_from_slice(body.as_bytes());
    message
}

/// Header values come from the attacker's message: no line breaks may pass.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// RFC 2047 encoded-word for non-ASCII subjects.
fn encode_header(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    use base64::Engine as _;
    format!(
        "=?utf-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}
