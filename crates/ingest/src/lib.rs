//! Network sources: syslog over UDP, TCP and TLS, and an Elasticsearch-compatible HTTP API.
//!
//! Sources only frame and forward: they cut the byte stream into messages (RFC 6587 for
//! syslog over TCP, NDJSON for `_bulk`) and hand raw [`pipeline::Payload`]s to a
//! [`pipeline::Intake`]. Decoding is the pipeline's job (`formats`).
//!
//! Delivery rules, which every source follows:
//! - TCP and TLS wait for the pipeline's acknowledgement (the durable write) before
//!   reading more, so a slow pipeline slows the sender down and nothing is lost.
//! - HTTP answers 429 when the pipeline is full; shippers retry.
//! - UDP cannot push back: when the pipeline is full, datagrams are dropped and counted
//!   (`ingest_udp_dropped_events_total`). These are the only drops of well-formed input.
//!
//! Running the syslog source (binds in `build`, runs until the shutdown future completes):
//!
//! ```no_run
//! # async fn example(intake: pipeline::Intake) -> Result<(), Box<dyn std::error::Error>> {
//! use ingest::sources::syslog::SyslogConfig;
//!
//! let config: SyslogConfig = serde_json::from_str(r#"{ "listen": "0.0.0.0:514" }"#)?;
//! let source = config.build()?;
//! println!("syslog on udp {} and tcp {}", source.udp_addr(), source.tcp_addr());
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let task = tokio::spawn(source.run(intake, async move {
//!     let _ = stopped.await;
//! }));
//! // … later, on shutdown:
//! let _ = stop.send(());
//! task.await??;
//! # Ok(())
//! # }
//! ```
//!
//! Serving the Elasticsearch-compatible API on its own listener (connect info gives
//! batches their `peer`):
//!
//! ```no_run
//! # async fn example(intake: pipeline::Intake) -> std::io::Result<()> {
//! use std::{net::SocketAddr, sync::Arc};
//! use ingest::auth::TokenCheck;
//!
//! let auth: Arc<dyn TokenCheck> = Arc::new(|token: &str| token == "s3cret");
//! let app = ingest::sources::elasticsearch::router(intake, auth);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:9200").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
//! # }
//! ```

#![warn(missing_docs)]

pub mod auth;
mod error;
pub mod metrics;
pub mod sources;

pub use error::{BuildError, SourceError};
