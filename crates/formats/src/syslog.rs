//! Syslog: RFC 5424 and RFC 3164 (BSD) with the variants real devices send.
//!
//! Fields, under `syslog.`: `priority`, `facility`, `severity` (numbers), `version`,
//! `timestamp` (as written), `hostname`, `appname`, `procid`, `msgid`,
//! `structured_data` (`{sd-id: {param: value}}`), `message`. The message body is then
//! handed to the body decoders (CEF, LEEF, sshd/sudo/su, JSON, key=value).

use event::{Map, Record, Timestamp, Value};
use jiff::SignedDuration;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::{MAX_FIELDS, add_parse_error, body};

/// Decodes one syslog frame (the bytes of one UDP datagram, or one TCP/TLS frame without
/// its octet count or trailing newline).
///
/// Never fails: invalid UTF-8 is replaced (and noted), a frame without a syslog header is
/// decoded as a plain line, and a broken RFC 5424 header falls back to the lenient RFC 3164
/// reading. `received_at` resolves year-less RFC 3164 timestamps.
pub fn decode(bytes: &[u8], received_at: Timestamp) -> Record {
    let text = String::from_utf8_lossy(bytes);
    let note = match &text {
        std::borrow::Cow::Owned(_) => Some("invalid utf-8 replaced with U+FFFD".to_owned()),
        std::borrow::Cow::Borrowed(_) => None,
    };
    let text = text.trim_end_matches(['\r', '\n', '\0']);
    if has_header(text) {
        decode_str(text, received_at, note)
    } else {
        let note = match note {
            Some(note) => format!("{note}; no syslog header"),
            None => "no syslog header".to_owned(),
        };
        crate::decode_headerless(text, Some(note))
    }
}

/// Whether `text` starts the way syslog does: `<PRI>`, a BSD `Mmm dd` date or an ISO 8601
/// date.
pub(crate) fn has_header(text: &str) -> bool {
    parse_pri(text).is_some()
        || parse_bsd_timestamp(text, Timestamp::UNIX_EPOCH).is_some()
        || iso_date_prefix(text)
}

fn iso_date_prefix(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 11
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && b[10] == b'T'
}

/// Decodes syslog text that [`has_header`].
pub(crate) fn decode_str(text: &str, received_at: Timestamp, note: Option<String>) -> Record {
    let mut record = Record::new("syslog.rfc3164", text);
    if let Some(note) = note {
        add_parse_error(&mut record, note);
    }
    let mut rest = text;
    if let Some((pri, after)) = parse_pri(text) {
        record.set("syslog.priority", pri);
        record.set("syslog.facility", pri / 8);
        record.set("syslog.severity", pri % 8);
        rest = after;
        // RFC 5424 §6.2.2: VERSION follows PRI directly; RFC 3164 has a date there.
        if let Some(after_version) = rfc5424_version(rest) {
            match decode_5424(&mut record, after_version) {
                Ok(message) => {
                    record.parser = "syslog.rfc5424".to_owned();
                    finish(&mut record, message, "syslog.rfc5424");
                    return record;
                }
                Err(reason) => {
                    // Drop whatever the failed attempt set, keep PRI, and read it as BSD.
                    if let Some(Value::Object(syslog)) = record.fields.get_mut("syslog") {
                        syslog.retain(|key, _| {
                            matches!(key.as_str(), "priority" | "facility" | "severity")
                        });
                    }
                    record.timestamp = None;
                    add_parse_error(&mut record, format!("invalid rfc5424 header: {reason}"));
                }
            }
        }
    }
    let message = decode_3164(&mut record, rest, received_at);
    finish(&mut record, message, "syslog.rfc3164");
    record
}

fn finish(record: &mut Record, message: &str, parser: &str) {
    // RFC 5424 §6.4: a UTF-8 MSG may start with a BOM.
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    record.set("syslog.message", message);
    let program = record
        .get("syslog.appname")
        .and_then(Value::as_str)
        .map(str::to_owned);
    record.parser = match body::decode(record, message, program.as_deref()) {
        Some(name) => format!("{parser}+{name}"),
        None => parser.to_owned(),
    };
}

/// `<PRI>`: one to three digits, at most 191 (RFC 5424 §6.2.1).
fn parse_pri(text: &str) -> Option<(u64, &str)> {
    let inner = text.strip_prefix('<')?;
    let end = inner.find('>')?;
    let digits = &inner[..end];
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pri: u64 = digits.parse().ok()?;
    (pri <= 191).then_some((pri, &inner[end + 1..]))
}

fn rfc5424_version(rest: &str) -> Option<&str> {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&digits) || rest.as_bytes()[0] == b'0' {
        return None;
    }
    rest[digits..].strip_prefix(' ').map(|_| rest)
}

/// Parses the RFC 5424 header after PRI; returns the MSG.
fn decode_5424<'a>(record: &mut Record, text: &'a str) -> Result<&'a str, String> {
    let (version, rest) = split_token(text);
    record.set(
        "syslog.version",
        version.parse::<u64>().map_err(|_| "bad version")?,
    );
    let (timestamp, rest) = split_token(rest);
    if timestamp != "-" {
        let parsed: Timestamp = timestamp
            .parse()
            .map_err(|_| format!("bad timestamp `{}`", truncate(timestamp, 64)))?;
        record.timestamp = Some(parsed);
        record.set("syslog.timestamp", timestamp);
    }
    let mut rest = rest;
    for (name, max_len) in [
        ("hostname", 255),
        ("appname", 48),
        ("procid", 128),
        ("msgid", 32),
    ] {
        let (token, after) = split_token(rest);
        if token.is_empty() {
            return Err(format!("missing {name}"));
        }
        if token.len() > max_len {
            return Err(format!("{name} longer than {max_len} bytes"));
        }
        if token != "-" {
            record.set(&format!("syslog.{name}"), token);
        }
        rest = after;
    }
    let (structured_data, message) = parse_structured_data(rest)?;
    if !structured_data.is_empty() {
        record.set("syslog.structured_data", Value::Object(structured_data));
    }
    Ok(message)
}

/// RFC 5424 §6.3: `-` or one or more `[SD-ID PARAM="VALUE" ...]`, values escaping `"`, `\`
/// and `]` with a backslash.
fn parse_structured_data(text: &str) -> Result<(Map<String, Value>, &str), String> {
    let mut elements = Map::new();
    if let Some(rest) = text.strip_prefix('-') {
        return Ok((elements, rest.strip_prefix(' ').unwrap_or(rest)));
    }
    if !text.starts_with('[') {
        return Err("missing structured data".to_owned());
    }
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut n_params = 0;
    while pos < bytes.len() && bytes[pos] == b'[' {
        pos += 1;
        let id_end = text[pos..]
            .find([' ', ']'])
            .map(|i| pos + i)
            .ok_or("unterminated structured data element")?;
        let sd_id = &text[pos..id_end];
        if sd_id.is_empty() {
            return Err("empty sd-id".to_owned());
        }
        pos = id_end;
        let mut params = Map::new();
        loop {
            match bytes.get(pos) {
                Some(b']') => {
                    pos += 1;
                    break;
                }
                Some(b' ') => pos += 1,
                Some(_) => {
                    let eq = text[pos..]
                        .find('=')
                        .map(|i| pos + i)
                        .ok_or("structured data parameter without `=`")?;
                    let name = &text[pos..eq];
                    if name.is_empty() || name.contains([' ', ']', '"']) {
                        return Err("bad structured data parameter name".to_owned());
                    }
                    if bytes.get(eq + 1) != Some(&b'"') {
                        return Err("structured data value not quoted".to_owned());
                    }
                    let (value, end) = read_sd_value(text, eq + 2)?;
                    n_params += 1;
                    if n_params <= MAX_FIELDS {
                        params.insert(name.to_owned(), Value::String(value));
                    }
                    pos = end;
                }
                None => return Err("unterminated structured data element".to_owned()),
            }
        }
        if elements.len() < MAX_FIELDS {
            elements.insert(sd_id.to_owned(), Value::Object(params));
        }
    }
    let message = &text[pos..];
    Ok((elements, message.strip_prefix(' ').unwrap_or(message)))
}

/// Reads a quoted value starting after its opening quote; returns it and the index after the
/// closing quote.
fn read_sd_value(text: &str, start: usize) -> Result<(String, usize), String> {
    let mut value = String::new();
    let mut chars = text[start..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, start + i + 1)),
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\' | ']'))) => value.push(escaped),
                // RFC 5424 §6.3.3: any other backslash is kept as is.
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    Err("unterminated structured data value".to_owned())
}

/// Reads the lenient BSD header: `[timestamp] [hostname] [tag[pid]:] message`. Returns the
/// message.
fn decode_3164<'a>(record: &mut Record, text: &'a str, received_at: Timestamp) -> &'a str {
    let mut rest = text;
    let mut have_time = false;
    if let Some((timestamp, consumed)) = parse_bsd_timestamp(rest, received_at) {
        record.set("syslog.timestamp", &rest[..consumed]);
        record.timestamp = Some(timestamp);
        rest = rest[consumed..].trim_start_matches(' ');
        have_time = true;
    } else if let Some((timestamp, consumed)) = parse_iso_timestamp(rest) {
        record.set("syslog.timestamp", &rest[..consumed]);
        record.timestamp = Some(timestamp);
        rest = rest[consumed..].trim_start_matches(' ');
        have_time = true;
    }
    // A hostname follows the time, unless the device left it out and the tag comes next.
    if have_time {
        let (token, after) = split_token(rest);
        if looks_like_hostname(token) && !after.is_empty() {
            record.set("syslog.hostname", token);
            rest = after;
        }
    }
    if let Some((tag, pid, message)) = parse_tag(rest) {
        record.set("syslog.appname", tag);
        if let Some(pid) = pid {
            record.set("syslog.procid", pid);
        }
        return message;
    }
    rest
}

fn looks_like_hostname(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 255
        && !token.ends_with(':')
        && !token.contains(['[', '=', '{', '|'])
        && !token.starts_with("CEF:")
        && !token.starts_with("LEEF:")
}

/// `tag[pid]: ` or `tag: `. Tags are up to 64 printable characters without `[`, `:`, space
/// or `=`.
fn parse_tag(text: &str) -> Option<(&str, Option<&str>, &str)> {
    if text.starts_with("CEF:") || text.starts_with("LEEF:") {
        return None;
    }
    let end = text.find(['[', ':', ' '])?;
    let tag = &text[..end];
    if tag.is_empty() || tag.len() > 64 || tag.contains(['=', '{', '"', '|']) {
        return None;
    }
    let (pid, after) = match text.as_bytes()[end] {
        b'[' => {
            let close = text[end..].find(']')? + end;
            let pid = &text[end + 1..close];
            if pid.is_empty() || pid.len() > 32 || pid.contains(' ') {
                return None;
            }
            (Some(pid), &text[close + 1..])
        }
        b':' => (None, &text[end..]),
        _ => return None,
    };
    let message = after.strip_prefix(':')?;
    Some((tag, pid, message.strip_prefix(' ').unwrap_or(message)))
}

fn split_token(text: &str) -> (&str, &str) {
    match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    }
}

fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Mmm dd hh:mm:ss[.frac]`, day padded with a space or a zero, optionally `Mmm dd yyyy
/// hh:mm:ss` (Cisco). The time is read as UTC; without a year, the year is the one that puts
/// it closest before `received_at` (a December line received in January is last year's).
/// Returns the time and the bytes consumed.
fn parse_bsd_timestamp(text: &str, received_at: Timestamp) -> Option<(Timestamp, usize)> {
    let b = text.as_bytes();
    if b.len() < 15 {
        return None;
    }
    let month = MONTHS.iter().position(|m| m.as_bytes() == &b[..3])? as i8 + 1;
    if b[3] != b' ' {
        return None;
    }
    let mut pos = 4;
    if b[pos] == b' ' {
        pos += 1;
    }
    let day_len = b[pos..].iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    let day: i8 = text[pos..pos + day_len].parse().ok()?;
    pos += day_len;
    if b.get(pos) != Some(&b' ') {
        return None;
    }
    pos += 1;
    let mut year = None;
    if b.len() >= pos + 5 && b[pos..pos + 4].iter().all(u8::is_ascii_digit) && b[pos + 4] == b' ' {
        year = Some(text[pos..pos + 4].parse::<i16>().ok()?);
        pos += 5;
    }
    let (hour, minute, second, nanos, consumed) = parse_clock(&text[pos..])?;
    pos += consumed;
    if b.get(pos).is_some_and(|c| *c != b' ') {
        return None;
    }
    let at = |year: i16| -> Option<Timestamp> {
        DateTime::new(year, month, day, hour, minute, second, nanos)
            .ok()?
            .to_zoned(TimeZone::UTC)
            .ok()
            .map(|zoned| zoned.timestamp())
    };
    let timestamp = match year {
        Some(year) => at(year)?,
        None => {
            let this_year = received_at.to_zoned(TimeZone::UTC).year();
            // Tolerate senders whose clocks run up to a day ahead of ours.
            let limit = received_at
                .checked_add(SignedDuration::from_hours(24))
                .ok()?;
            match at(this_year) {
                Some(ts) if ts <= limit => ts,
                _ => at(this_year - 1).or_else(|| at(this_year))?,
            }
        }
    };
    Some((timestamp, pos))
}

/// `hh:mm:ss[.fraction]`.
fn parse_clock(text: &str) -> Option<(i8, i8, i8, i32, usize)> {
    let b = text.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let hour: i8 = two_digits(&b[0..2])?;
    let minute: i8 = two_digits(&b[3..5])?;
    let second: i8 = two_digits(&b[6..8])?;
    let mut pos = 8;
    let mut nanos = 0i32;
    if b.get(pos) == Some(&b'.') {
        let digits = b[pos + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        for (i, digit) in b[pos + 1..pos + 1 + digits.min(9)].iter().enumerate() {
            nanos += i32::from(digit - b'0') * 10i32.pow(8 - i as u32);
        }
        pos += 1 + digits;
    }
    Some((hour, minute, second, nanos, pos))
}

fn two_digits(b: &[u8]) -> Option<i8> {
    if b.len() == 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit() {
        Some(((b[0] - b'0') * 10 + (b[1] - b'0')) as i8)
    } else {
        None
    }
}

/// An ISO 8601 / RFC 3339 time as the first token (rsyslog's high-precision format). A
/// time without an offset is read as UTC.
fn parse_iso_timestamp(text: &str) -> Option<(Timestamp, usize)> {
    if !iso_date_prefix(text) {
        return None;
    }
    let token = split_token(text).0;
    if let Ok(timestamp) = token.parse::<Timestamp>() {
        return Some((timestamp, token.len()));
    }
    let civil: DateTime = token.parse().ok()?;
    let timestamp = civil.to_zoned(TimeZone::UTC).ok()?.timestamp();
    Some((timestamp, token.len()))
}
