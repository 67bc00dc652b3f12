//! Every source this crate provides, one module folder each.

pub mod elasticsearch;
pub mod smtp;
pub mod syslog;
