//! Sans-IO decoders for the log formats Sentinella ingests.
//!
//! A decoder turns one input (a syslog frame, a log-file line, a JSON document, an EVTX
//! record) into an [`event::Record`]: the fields the format carried, under the format's own
//! names (`syslog.hostname`, `cef.extensions.src`, `auth.user`, `winlog.event_data.Image`).
//! `normalize` then maps them to ECS.
//!
//! Decoders never fail and never panic: input that cannot be parsed still becomes a
//! `Record` whose `parser` says how far decoding got (`raw`, `syslog.rfc3164`) and whose
//! [`PARSE_ERROR`] field says why, so the original is never lost. Work per input is
//! bounded: at most [`MAX_FIELDS`] fields are extracted from one message.
//!
//! `Record::parser` names the chain of decoders, outermost first: `syslog.rfc5424+cef`,
//! `syslog.rfc3164+sshd`, `line+kv`, `json`, `evtx`.
//!
//! ```
//! let received_at: jiff::Timestamp = "2024-03-01T00:00:00Z".parse().unwrap();
//! let record = formats::syslog::decode(
//!     b"<38>Feb 28 10:00:00 bastion sshd[42]: Accepted password for alice from 10.0.0.5 port 50022 ssh2",
//!     received_at,
//! );
//! assert_eq!(record.parser, "syslog.rfc3164+sshd");
//! assert_eq!(record.get("auth.user").and_then(|v| v.as_str()), Some("alice"));
//!
//! let record = formats::decode_line("date=2024-01-01 devname=\"FW 1\" srcip=10.0.0.1", received_at);
//! assert_eq!(record.parser, "line+kv");
//! ```

#![warn(missing_docs)]

mod auth;
mod body;
pub mod cef;
mod error;
pub mod evtx;
pub mod json;
pub mod kv;
pub mod leef;
pub mod syslog;

pub use error::Error;

use event::{Record, Timestamp, Value};

/// The record field that explains why an input was only partly decoded. `normalize`
/// copies it to `log.parse_error`.
pub const PARSE_ERROR: &str = "parse_error";

/// The most fields (key=value pairs, CEF extensions, structured-data parameters, EVTX
/// data items) taken from one input; the rest stay in the original text only.
pub const MAX_FIELDS: usize = 1024;

/// Decodes one line of a plain log file (`/var/log/auth.log`, an exported CEF file, a
/// FortiGate key=value log).
///
/// A line that starts like syslog (`<PRI>`, `Mmm dd hh:mm:ss`, an ISO 8601 time) is decoded as
/// syslog; otherwise the body decoders (CEF, LEEF, JSON, key=value) are tried on the whole line
/// and the parser is `line+<body>`; a line nothing recognizes becomes `raw`.
pub fn decode_line(line: &str, received_at: Timestamp) -> Record {
    let line = line.trim_end_matches(['\r', '\n', '\0']);
    if syslog::has_header(line) {
        return syslog::decode_str(line, received_at, None);
    }
    decode_headerless(line, None)
}

/// Decodes input that has no syslog header: the body decoders on the whole text.
pub(crate) fn decode_headerless(text: &str, note: Option<String>) -> Record {
    let mut record = Record::new("line", text);
    if let Some(note) = note {
        add_parse_error(&mut record, note);
    }
    match body::decode(&mut record, text, None) {
        Some(name) => record.parser = format!("line+{name}"),
        None => {
            record.parser = "raw".to_owned();
            record.set("message", text);
            add_parse_error(&mut record, "unrecognized format".to_owned());
        }
    }
    record
}

/// Appends a note to the record's [`PARSE_ERROR`] field.
pub(crate) fn add_parse_error(record: &mut Record, note: String) {
    let joined = match record.fields.get(PARSE_ERROR).and_then(Value::as_str) {
        Some(existing) => format!("{existing}; {note}"),
        None => note,
    };
    record
        .fields
        .insert(PARSE_ERROR.to_owned(), Value::String(joined));
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
