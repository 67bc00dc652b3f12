//! ECS field names used in code. Mappings in `mappings/*.yaml` name fields as data;
//! these constants are for the few places code must know a field.

#![allow(missing_docs)]

pub const TIMESTAMP: &str = "@timestamp";
pub const MESSAGE: &str = "message";
pub const EVENT_ORIGINAL: &str = "event.original";
pub const EVENT_INGESTED: &str = "event.ingested";
pub const EVENT_CODE: &str = "event.code";
pub const EVENT_DATASET: &str = "event.dataset";
pub const EVENT_MODULE: &str = "event.module";
pub const EVENT_KIND: &str = "event.kind";
pub const HOST_NAME: &str = "host.name";
pub const SOURCE_IP: &str = "source.ip";
pub const DESTINATION_IP: &str = "destination.ip";
pub const USER_NAME: &str = "user.name";
/// Which decoders handled the event (see `Record::parser`).
pub const LOG_PARSER: &str = "log.parser";
/// Why a decoder could not parse the input fully, when it fell back.
pub const LOG_PARSE_ERROR: &str = "log.parse_error";
/// Which intake received the event (`syslog-udp`, `es-bulk`, `http`, `import`).
pub const INPUT_TYPE: &str = "input.type";
pub const WINLOG_EVENT_ID: &str = "winlog.event_id";
pub const WINLOG_CHANNEL: &str = "winlog.channel";

/// ECS fields of IP type. The store indexes them as IP addresses so CIDR queries work.
pub const IP_FIELDS: &[&str] = &[
    "source.ip",
    "destination.ip",
    "client.ip",
    "server.ip",
    "host.ip",
    "observer.ip",
    "source.nat.ip",
    "destination.nat.ip",
    "related.ip",
];
