//! Authentication lines from sshd, sudo, su and PAM, as they appear in `/var/log/auth.log`
//! and `/var/log/secure`.
//!
//! Output keys under `auth.`: `program`, `event` (what happened, e.g. `accepted`, `failed`,
//! `invalid_user`, `session_opened`; the mapping turns it into ECS `event.*`), `method`,
//! `user`, `target_user`, `source_ip` (only if it parses as an IP), `source_host`,
//! `source_port`, `pam_module`, `pam_service`, `pam_type`, `reason`, `repeated`, `preauth`,
//! `tty`, `pwd`, `command`, `uid` (of `user`), `caller_uid`/`caller_euid` (of the process calling
//! PAM), `ruser`, `logname`.

use std::net::IpAddr;

use event::{Record, Value};

/// Decodes `message` when `program` (the syslog tag) is one we know, or when the message is a
/// PAM line. Returns the decoder name for `Record::parser`.
pub(crate) fn decode(
    record: &mut Record,
    message: &str,
    program: Option<&str>,
) -> Option<&'static str> {
    let tag = program.unwrap_or_default();
    // `/usr/sbin/sshd`, `sshd(pam_unix)` (older PAM), `sshd-session` (OpenSSH ≥ 9.8).
    let base = tag.rsplit('/').next().unwrap_or(tag);
    let base = base.split('(').next().unwrap_or(base);
    let mut fields = Fields::default();
    let message = message.trim_end();
    let name = match base {
        "sshd" | "sshd-session" | "sshd-auth" => {
            (sshd(&mut fields, message) || pam(&mut fields, message)).then_some("sshd")
        }
        "sudo" => (sudo(&mut fields, message) || pam(&mut fields, message)).then_some("sudo"),
        "su" => (su(&mut fields, message) || pam(&mut fields, message)).then_some("su"),
        _ => (message.starts_with("pam_") && pam(&mut fields, message)).then_some("pam"),
    }?;
    if !base.is_empty() {
        record.set("auth.program", base);
    }
    for (key, value) in fields.0 {
        record.set(&format!("auth.{key}"), value);
    }
    Some(name)
}

#[derive(Default)]
struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        self.0.push((key, value.into()));
    }

    fn set_nonempty(&mut self, key: &'static str, value: &str) {
        if !value.is_empty() {
            self.set(key, value);
        }
    }

    fn set_host(&mut self, host: &str) {
        if host.parse::<IpAddr>().is_ok() {
            self.set("source_ip", host);
        } else {
            self.set_nonempty("source_host", host);
        }
    }

    fn set_port(&mut self, port: &str) {
        if let Ok(port) = port.parse::<u16>() {
            self.set("source_port", port);
        }
    }
}

fn sshd(fields: &mut Fields, message: &str) -> bool {
    let mut message = message;
    if let Some(inner) = message.strip_suffix(" [preauth]") {
        fields.set("preauth", true);
        message = inner;
    }
    // `message repeated 2 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]`
    if let Some(rest) = message.strip_prefix("message repeated ")
        && let Some((count, inner)) = rest.split_once(" times: [")
    {
        if let Ok(count) = count.parse::<u64>() {
            fields.set("repeated", count);
        }
        message = inner.trim_end_matches(']').trim();
    }
    for (prefix, event) in [
        ("Accepted ", "accepted"),
        ("Failed ", "failed"),
        ("Postponed ", "postponed"),
    ] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((method, rest)) = rest.split_once(" for ")
        {
            fields.set("event", event);
            fields.set("method", method);
            user_from_host_port(fields, rest);
            return true;
        }
    }
    if let Some(rest) = message.strip_prefix("Invalid user ") {
        fields.set("event", "invalid_user");
        // `Invalid user NAME from HOST [port N]`; NAME may be empty or contain spaces.
        match rest.rsplit_once(" from ") {
            Some((user, host_port)) => {
                fields.set_nonempty("user", user.trim());
                host_and_port(fields, host_port);
            }
            None => fields.set_nonempty("user", rest.trim()),
        }
        return true;
    }
    if let Some(user) = message.strip_prefix("input_userauth_request: invalid user ") {
        fields.set("event", "invalid_user");
        fields.set_nonempty("user", user.trim());
        return true;
    }
    for (prefix, event) in [
        ("Connection closed by ", "connection_closed"),
        ("Disconnected from ", "disconnected"),
        ("Connection reset by ", "connection_reset"),
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            fields.set("event", event);
            let rest = user_prefix(fields, rest);
            host_and_port(fields, rest);
            return true;
        }
    }
    let disconnect = message
        .strip_prefix("error: Received disconnect from ")
        .or_else(|| message.strip_prefix("Received disconnect from "));
    if let Some(rest) = disconnect {
        fields.set("event", "disconnected");
        let (host_port, reason) = rest.split_once(": ").unwrap_or((rest, ""));
        host_and_port(fields, host_port);
        // `11: Bye Bye` → reason `Bye Bye`.
        let reason = reason
            .split_once(": ")
            .filter(|(code, _)| code.bytes().all(|b| b.is_ascii_digit()))
            .map_or(reason, |(_, text)| text);
        fields.set_nonempty("reason", reason.trim());
        return true;
    }
    if let Some(rest) = message.strip_prefix("Disconnecting: Too many authentication failures") {
        fields.set("event", "too_many_failures");
        if let Some(user) = rest.trim().strip_prefix("for ") {
            let user = user.strip_prefix("invalid user ").unwrap_or(user);
            fields.set_nonempty("user", user.trim());
        }
        return true;
    }
    // OpenSSH ≥ 7.6: `Disconnecting authenticating user root 1.2.3.4 port 22: Too many …`
    if let Some(rest) = message.strip_prefix("Disconnecting ") {
        let (who, reason) = rest.split_once(": ").unwrap_or((rest, ""));
        if reason.starts_with("Too many authentication failures") {
            fields.set("event", "too_many_failures");
            let who = user_prefix(fields, who);
            host_and_port(fields, who);
            return true;
        }
    }
    if let Some(rest) = message.strip_prefix("Did not receive identification string from ") {
        fields.set("event", "no_identification");
        host_and_port(fields, rest);
        return true;
    }
    if let Some(rest) = message.strip_prefix("reverse mapping checking getaddrinfo for ")
        && let Some((host, rest)) = rest.split_once(" [")
        && let Some((ip, _)) = rest.split_once(']')
    {
        fields.set("event", "reverse_mapping_failed");
        fields.set_host(ip);
        fields.set("resolved_host", host);
        return true;
    }
    if let Some(rest) = message.strip_prefix("Connection from ") {
        fields.set("event", "connection_opened");
        let host_port = rest.split_once(" on ").map_or(rest, |(source, _)| source);
        host_and_port(fields, host_port);
        return true;
    }
    if let Some(rest) = message.strip_prefix("PAM ")
        && let Some((count, rest)) = rest.split_once(" more authentication failure")
    {
        fields.set("event", "auth_failure");
        if let Ok(count) = count.parse::<u64>() {
            fields.set("repeated", count);
        }
        if let Some((_, pairs)) = rest.split_once("; ") {
            pam_pairs(fields, pairs);
        }
        return true;
    }
    if let Some(rest) = message.strip_prefix("PAM service(") {
        if rest.contains("ignoring max retries") {
            fields.set("event", "max_retries");
            fields.set("reason", message);
            return true;
        }
        return false;
    }
    for prefix in ["fatal: ", "error: "] {
        if let Some(reason) = message.strip_prefix(prefix) {
            fields.set("event", "error");
            fields.set("reason", reason);
            return true;
        }
    }
    false
}

/// `[invalid user ]NAME from HOST port N[ ssh2][: KEY…]`.
fn user_from_host_port(fields: &mut Fields, text: &str) {
    let (user_part, host_part) = match text.rsplit_once(" from ") {
        Some(split) => split,
        None => (text, ""),
    };
    let user = match user_part.strip_prefix("invalid user ") {
        Some(user) => {
            fields.set("invalid_user", true);
            user
        }
        None => user_part,
    };
    fields.set_nonempty("user", user.trim());
    // `1.2.3.4 port 22 ssh2: RSA SHA256:…`
    let host_part = host_part.split(": ").next().unwrap_or(host_part);
    host_and_port(fields, host_part);
}

/// `[authenticating |invalid ]user NAME ` before a host, in close/disconnect lines.
fn user_prefix<'a>(fields: &mut Fields, text: &'a str) -> &'a str {
    let text = match text.strip_prefix("invalid ") {
        Some(rest) => {
            fields.set("invalid_user", true);
            rest
        }
        None => text.strip_prefix("authenticating ").unwrap_or(text),
    };
    match text.strip_prefix("user ") {
        Some(rest) => match rest.split_once(' ') {
            Some((user, host)) => {
                fields.set_nonempty("user", user);
                host
            }
            None => rest,
        },
        None => text,
    }
}

/// `HOST[ port N][ …]`.
fn host_and_port(fields: &mut Fields, text: &str) {
    let mut words = text.split_whitespace();
    if let Some(host) = words.next() {
        fields.set_host(host);
    }
    if words.next() == Some("port")
        && let Some(port) = words.next()
    {
        fields.set_port(port.trim_end_matches(':'));
    }
}

/// PAM messages, with or without the `pam_unix(service:type): ` prefix (older PAM put the
/// module in the syslog tag instead: `sshd(pam_unix)[123]: check pass; user unknown`).
fn pam(fields: &mut Fields, message: &str) -> bool {
    let mut message = message;
    if message.starts_with("pam_")
        && let Some((module, rest)) = message.split_once('(')
        && let Some((context, rest)) = rest.split_once("): ")
    {
        fields.set("pam_module", module);
        if let Some((service, kind)) = context.split_once(':') {
            fields.set("pam_service", service);
            fields.set("pam_type", kind);
        }
        message = rest;
    }
    if let Some(rest) = message.strip_prefix("authentication failure;") {
        fields.set("event", "auth_failure");
        pam_pairs(fields, rest);
        return true;
    }
    if message.starts_with("check pass; user unknown") {
        fields.set("event", "check_pass_user_unknown");
        return true;
    }
    if let Some(rest) = message.strip_prefix("session opened for user ") {
        fields.set("event", "session_opened");
        // `root by alice(uid=1000)`, `alice by (uid=0)`, `root(uid=0) by alice(uid=1000)`.
        let (user, by) = rest.split_once(" by ").unwrap_or((rest, ""));
        let user = strip_uid(user);
        let by_user = strip_uid(by);
        if by_user.is_empty() {
            fields.set_nonempty("user", user);
        } else {
            fields.set("user", by_user);
            fields.set_nonempty("target_user", user);
        }
        // `by alice(uid=1000)`: the uid is alice's; in `by (uid=0)` it is the caller's.
        if !by_user.is_empty()
            && let Some(uid) = uid_of(by)
        {
            fields.set("uid", uid);
        }
        return true;
    }
    if let Some(rest) = message.strip_prefix("session closed for user ") {
        fields.set("event", "session_closed");
        fields.set_nonempty("user", strip_uid(rest.trim()));
        return true;
    }
    false
}

fn strip_uid(text: &str) -> &str {
    text.split('(').next().unwrap_or(text).trim()
}

fn uid_of(text: &str) -> Option<&str> {
    let start = text.find("(uid=")? + 5;
    let end = text[start..].find(')')? + start;
    Some(&text[start..end])
}

/// `logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root`. `user` is the account
/// being authenticated; when `ruser` (or `logname`) names someone else, as with `su`, that is
/// the acting user and `user` becomes the target.
fn pam_pairs(fields: &mut Fields, text: &str) {
    let (mut user, mut ruser, mut logname) = ("", "", "");
    for pair in text.split_whitespace() {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        match key {
            "rhost" => fields.set_host(value),
            "user" => user = value,
            "ruser" => ruser = value,
            "logname" => logname = value,
            // The ids of the process calling PAM (sshd, su), not of the user.
            "uid" => fields.set_nonempty("caller_uid", value),
            "euid" => fields.set_nonempty("caller_euid", value),
            "tty" => fields.set_nonempty("tty", value),
            _ => {}
        }
    }
    fields.set_nonempty("ruser", ruser);
    fields.set_nonempty("logname", logname);
    let actor = if ruser.is_empty() { logname } else { ruser };
    if !actor.is_empty() && !user.is_empty() && actor != user {
        fields.set("user", actor);
        fields.set("target_user", user);
    } else if !user.is_empty() {
        fields.set("user", user);
    } else {
        fields.set_nonempty("user", actor);
    }
}

/// `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -l`, optionally with a
/// reason first: `alice : 3 incorrect password attempts ; TTY=…`.
fn sudo(fields: &mut Fields, message: &str) -> bool {
    let Some((user, rest)) = message.split_once(" : ") else {
        return false;
    };
    let user = user.trim();
    if user.is_empty() || user.contains(' ') {
        return false;
    }
    let mut reason = None;
    let mut seen_key = false;
    let mut rest = rest;
    while !rest.is_empty() {
        // COMMAND is last and may itself contain ` ; `.
        if let Some(command) = rest.strip_prefix("COMMAND=") {
            fields.set("command", command.trim());
            seen_key = true;
            break;
        }
        let (item, after) = rest.split_once(" ; ").unwrap_or((rest, ""));
        match item.split_once('=') {
            Some(("TTY", value)) => fields.set("tty", value),
            Some(("PWD", value)) => fields.set("pwd", value),
            Some(("USER", value)) => fields.set("target_user", value),
            Some(("GROUP", value)) => fields.set("target_group", value),
            Some(("ENV", value)) => fields.set("env", value),
            _ if reason.is_none() && !seen_key => reason = Some(item.trim()),
            _ => {}
        }
        seen_key |= item.contains('=');
        rest = after;
    }
    if !seen_key {
        return false;
    }
    fields.set("user", user);
    match reason {
        Some(reason) => {
            fields.set("event", "sudo_failure");
            fields.set("reason", reason);
        }
        None => fields.set("event", "sudo_command"),
    }
    true
}

/// `FAILED SU (to root) alice on pts/0`, `Successful su for root by alice`,
/// `(to root) alice on pts/0`.
fn su(fields: &mut Fields, message: &str) -> bool {
    let (event, rest) = if let Some(rest) = message.strip_prefix("FAILED SU ") {
        ("su_failure", rest)
    } else if let Some(rest) = message.strip_prefix("Successful su for ") {
        let (target, user) = rest.split_once(" by ").unwrap_or((rest, ""));
        fields.set("event", "su_success");
        fields.set_nonempty("target_user", target.trim());
        fields.set_nonempty("user", user.trim());
        return true;
    } else {
        ("su_success", message)
    };
    let Some(rest) = rest.strip_prefix("(to ") else {
        return false;
    };
    let Some((target, rest)) = rest.split_once(") ") else {
        return false;
    };
    let (user, tty) = rest.split_once(" on ").unwrap_or((rest, ""));
    fields.set("event", event);
    fields.set_nonempty("target_user", target);
    fields.set_nonempty("user", user.trim());
    fields.set_nonempty("tty", tty.trim());
    true
}
