//! Integration tests over real sockets on 127.0.0.1: the real `logger` (util-linux) and,
//! when installed, the official Python `elasticsearch` client.

mod elasticsearch;
mod support;
mod syslog;
