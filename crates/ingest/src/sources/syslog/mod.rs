//! Syslog over UDP, TCP (RFC 6587) and TLS (RFC 5425).
//!
//! UDP and TCP listen on the same address; TLS, when configured, on its own. Each UDP
//! datagram is one message. On TCP and TLS every frame is framed either by octet counting
//! (`LEN SP MSG`, chosen when the frame starts with a digit) or by a trailing newline
//! (LF, tolerating CRLF and NUL), decided frame by frame. Messages are forwarded as raw
//! bytes ([`pipeline::Payload::Syslog`]); the pipeline decodes them.
//!
//! Build with [`SyslogConfig::build`], which binds the sockets (so [`SyslogSource`]
//! reports the bound addresses, port 0 included), then drive [`SyslogSource::run`].

mod config;
mod framing;
mod source;

pub use config::{SyslogConfig, SyslogTlsConfig};
pub use source::SyslogSource;

/// `input.type` of messages received over UDP.
pub const INPUT_UDP: &str = "syslog-udp";
/// `input.type` of messages received over plain TCP.
pub const INPUT_TCP: &str = "syslog-tcp";
/// `input.type` of messages received over TLS.
pub const INPUT_TLS: &str = "syslog-tls";

#[cfg(test)]
mod tests;
