//! The running syslog source: listeners, connections and the UDP loop.

use std::{future::Future, io, net::SocketAddr, pin::pin, sync::Arc, task::Poll, time::Duration};

use bytes::BytesMut;
use pipeline::{Batch, Intake, Payload, SubmitError};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::{
    io::{AsyncRead, AsyncReadExt},
    net::{TcpListener, TcpStream, UdpSocket},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
    task::JoinSet,
};
use tokio_rustls::TlsAcceptor;
use tracing::{Instrument as _, debug, error, info, instrument, warn};

use super::{
    INPUT_TCP, INPUT_TLS, INPUT_UDP,
    config::{Settings, SyslogConfig, SyslogTlsConfig},
    framing::{Decoded, FrameDecoder},
};
use crate::{
    BuildError, SourceError,
    metrics::{self, DropReason},
};

/// Frames per batch submitted to the pipeline.
const MAX_BATCH_EVENTS: usize = 1_000;
/// Message bytes per batch submitted to the pipeline.
const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Bytes asked of the socket per read.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Largest UDP payload (IPv4: 65,507 bytes), rounded up.
const MAX_DATAGRAM_BYTES: usize = 64 * 1024;
/// Distinct UDP senders batched together before flushing (one batch per sender).
const MAX_UDP_PEERS_PER_FLUSH: usize = 64;
/// Time a client gets to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time connections get after shutdown to have their last batch acknowledged.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// Attempts at finding a port free for both UDP and TCP when `listen` has port 0.
const PORT_ZERO_ATTEMPTS: usize = 16;

/// A syslog source with its sockets bound, ready to [`run`](SyslogSource::run).
#[derive(Debug)]
pub struct SyslogSource {
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    tls: Option<(std::net::TcpListener, Arc<ServerConfig>)>,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    settings: Settings,
}

impl SyslogConfig {
    /// Validates the configuration, loads the TLS certificate and key, and binds the
    /// sockets (UDP and TCP on `listen`, TLS on `tls.listen`).
    pub fn build(&self) -> Result<SyslogSource, BuildError> {
        let settings = self.validate()?;
        let tls_config = self.tls.as_ref().map(load_tls).transpose()?;
        let (udp, tcp) = bind_udp_and_tcp(self.listen)?;
        let tls = match (&self.tls, tls_config) {
            (Some(tls), Some(server_config)) => {
                let listener = bind_tcp(tls.listen, "tls")?;
                Some((listener, server_config))
            }
            _ => None,
        };
        let udp_addr = local_addr(udp.local_addr(), "udp", self.listen)?;
        let tcp_addr = local_addr(tcp.local_addr(), "tcp", self.listen)?;
        let tls_addr = match (&tls, &self.tls) {
            (Some((listener, _)), Some(config)) => {
                Some(local_addr(listener.local_addr(), "tls", config.listen)?)
            }
            _ => None,
        };
        Ok(SyslogSource {
            udp,
            tcp,
            tls,
            udp_addr,
            tcp_addr,
            tls_addr,
            settings,
        })
    }
}

impl SyslogSource {
    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The bound TCP address (same port as UDP).
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The bound TLS address, when TLS is configured.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// Receives syslog until `shutdown` completes, submitting messages to `intake`.
    ///
    /// On shutdown, listeners stop accepting, connections stop reading and submit what
    /// they already framed, then the sockets close; connections whose last batch is not
    /// acknowledged within 10 seconds are aborted. Returns once everything is closed.
    /// Errors only if the bound sockets cannot be registered with the runtime.
    #[instrument(name = "syslog_source", skip_all, fields(tcp = %self.tcp_addr))]
    pub async fn run(
        self,
        intake: Intake,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), SourceError> {
        let udp = UdpSocket::from_std(self.udp).map_err(|source| SourceError::Register {
            protocol: "udp",
            source,
        })?;
        let tcp = TcpListener::from_std(self.tcp).map_err(|source| SourceError::Register {
            protocol: "tcp",
            source,
        })?;
        let tls = match self.tls {
            Some((listener, server_config)) => {
                let listener =
                    TcpListener::from_std(listener).map_err(|source| SourceError::Register {
                        protocol: "tls",
                        source,
                    })?;
                Some((listener, TlsAcceptor::from(server_config)))
            }
            None => None,
        };
        info!(
            udp = %self.udp_addr,
            tcp = %self.tcp_addr,
            tls = ?self.tls_addr,
            "syslog source started"
        );

        let (stop_tx, stop_rx) = watch::channel(false);
        let connection_slots = Arc::new(Semaphore::new(self.settings.max_connections));
        let settings = Arc::new(self.settings);
        let mut tasks = JoinSet::new();
        tasks.spawn(
            receive_udp(
                udp,
                intake.clone(),
                settings.max_frame_bytes,
                stop_rx.clone(),
            )
            .in_current_span(),
        );
        tasks.spawn(
            accept_loop(
                tcp,
                None,
                Listener {
                    intake: intake.clone(),
                    settings: settings.clone(),
                    connection_slots: connection_slots.clone(),
                    stop: stop_rx.clone(),
                },
            )
            .in_current_span(),
        );
        if let Some((listener, acceptor)) = tls {
            tasks.spawn(
                accept_loop(
                    listener,
                    Some(acceptor),
                    Listener {
                        intake,
                        settings,
                        connection_slots,
                        stop: stop_rx,
                    },
                )
                .in_current_span(),
            );
        }

        let mut shutdown = pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(joined) = tasks.join_next() => {
                    if let Err(error) = joined {
                        error!(error = %error, "syslog listener task failed");
                    }
                }
            }
        }
        info!("syslog source stopping");
        // Receivers treat a send error (nobody listening any more) like a stop.
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!(
                grace_secs = SHUTDOWN_GRACE.as_secs(),
                "syslog source aborted connections at shutdown"
            );
            tasks.shutdown().await;
        }
        info!("syslog source stopped");
        Ok(())
    }
}

fn local_addr(
    result: io::Result<SocketAddr>,
    protocol: &'static str,
    addr: SocketAddr,
) -> Result<SocketAddr, BuildError> {
    result.map_err(|source| BuildError::Bind {
        protocol,
        addr,
        source,
    })
}

fn bind_tcp(addr: SocketAddr, protocol: &'static str) -> Result<std::net::TcpListener, BuildError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|source| BuildError::Bind {
        protocol,
        addr,
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| BuildError::Bind {
            protocol,
            addr,
            source,
        })?;
    Ok(listener)
}

fn bind_udp(addr: SocketAddr) -> Result<std::net::UdpSocket, BuildError> {
    let bind_error = |source| BuildError::Bind {
        protocol: "udp",
        addr,
        source,
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(bind_error)?;
    // A burst larger than the kernel's default receive buffer (about 200 KiB) is lost in
    // the kernel before we can read or count it. Ask for more; Linux caps the request at
    // net.core.rmem_max, so say when it did.
    if let Err(error) = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER_BYTES) {
        tracing::warn!(%error, "could not enlarge the udp receive buffer");
    }
    if let Ok(granted) = socket.recv_buffer_size()
        && granted < UDP_RECEIVE_BUFFER_BYTES
    {
        tracing::warn!(
            granted,
            wanted = UDP_RECEIVE_BUFFER_BYTES,
            "udp receive buffer capped by net.core.rmem_max; raise it (sysctl) to survive bursts"
        );
    }
    socket.bind(&addr.into()).map_err(bind_error)?;
    socket.set_nonblocking(true).map_err(bind_error)?;
    Ok(socket.into())
}

/// Receive buffer requested for the UDP socket.
const UDP_RECEIVE_BUFFER_BYTES: usize = 8 * 1024 * 1024;

/// Binds TCP and UDP on the same port. With port 0 the TCP port is picked first and UDP
/// tries to follow it; the rare clash with another UDP user is retried.
fn bind_udp_and_tcp(
    listen: SocketAddr,
) -> Result<(std::net::UdpSocket, std::net::TcpListener), BuildError> {
    if listen.port() != 0 {
        return Ok((bind_udp(listen)?, bind_tcp(listen, "tcp")?));
    }
    let mut last_error = None;
    for _ in 0..PORT_ZERO_ATTEMPTS {
        let tcp = bind_tcp(listen, "tcp")?;
        let tcp_addr = local_addr(tcp.local_addr(), "tcp", listen)?;
        match bind_udp(tcp_addr) {
            Ok(udp) => return Ok((udp, tcp)),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| BuildError::Bind {
        protocol: "udp",
        addr: listen,
        source: io::Error::from(io::ErrorKind::AddrInUse),
    }))
}

fn load_tls(config: &SyslogTlsConfig) -> Result<Arc<ServerConfig>, BuildError> {
    let certificate_error = |reason: String| BuildError::Tls {
        what: "certificate",
        path: config.cert_path.clone(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(&config.cert_path)
        .map_err(|error| certificate_error(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| certificate_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(certificate_error("no certificate found".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(&config.key_path).map_err(|error| BuildError::Tls {
        what: "private key",
        path: config.key_path.clone(),
        reason: error.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| BuildError::TlsConfig(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(|error| BuildError::TlsConfig(error.to_string()))?;
    Ok(Arc::new(server_config))
}

/// Completes when the source is asked to stop (or the source itself is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// What every connection of one listener shares.
struct Listener {
    intake: Intake,
    settings: Arc<Settings>,
    connection_slots: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, shared: Listener) {
    let input_type = if tls.is_some() { INPUT_TLS } else { INPUT_TCP };
    let mut stop = shared.stop.clone();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        metrics::error(input_type, "accept");
                        warn!(input_type, error = %error, "failed to accept syslog connection");
                        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                        continue;
                    }
                };
                let Ok(slot) = shared.connection_slots.clone().try_acquire_owned() else {
                    metrics::connection_rejected(input_type);
                    debug!(input_type, peer = %peer, "refused syslog connection over max_connections");
                    continue;
                };
                metrics::connection_accepted(input_type);
                let connection = Connection {
                    input_type,
                    peer,
                    intake: shared.intake.clone(),
                    settings: shared.settings.clone(),
                    stop: shared.stop.clone(),
                    _slot: slot,
                };
                connections.spawn(serve_connection(stream, tls.clone(), connection).in_current_span());
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// One accepted connection; holds its slot of `max_connections` until dropped.
struct Connection {
    input_type: &'static str,
    peer: SocketAddr,
    intake: Intake,
    settings: Arc<Settings>,
    stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
}

async fn serve_connection(stream: TcpStream, tls: Option<TlsAcceptor>, mut connection: Connection) {
    debug!(input_type = connection.input_type, peer = %connection.peer, "syslog connection opened");
    match tls {
        None => read_frames(stream, &mut connection).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            let mut stop = connection.stop.clone();
            let accepted = tokio::select! {
                () = stopped(&mut stop) => return,
                accepted = handshake => accepted,
            };
            match accepted {
                Ok(Ok(stream)) => read_frames(stream, &mut connection).await,
                Ok(Err(error)) => {
                    metrics::error(INPUT_TLS, "tls_handshake");
                    debug!(peer = %connection.peer, error = %error, "tls handshake failed");
                }
                Err(_elapsed) => {
                    metrics::error(INPUT_TLS, "tls_handshake");
                    debug!(peer = %connection.peer, "tls handshake timed out");
                }
            }
        }
    }
    debug!(input_type = connection.input_type, peer = %connection.peer, "syslog connection closed");
}

/// How reading a stream ended.
enum StreamEnd {
    /// More may come.
    Open,
    /// The peer closed its side.
    Closed,
    /// Error, idle timeout or shutdown: the partial frame, if any, is lost.
    Aborted,
}

/// Reads, frames and submits until the stream ends. Never reads while a batch waits for
/// its acknowledgement: that is the backpressure.
async fn read_frames<S: AsyncRead + Unpin>(mut stream: S, connection: &mut Connection) {
    let mut decoder = FrameDecoder::new(connection.settings.max_frame_bytes);
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut pending = PendingBatch::default();
    let mut stop = connection.stop.clone();
    loop {
        // Wait for data, then also take whatever else is readable right now.
        buf.reserve(READ_CHUNK_BYTES);
        let mut end = tokio::select! {
            () = stopped(&mut stop) => StreamEnd::Aborted,
            read = tokio::time::timeout(connection.settings.idle_timeout, stream.read_buf(&mut buf)) => {
                match read {
                    Ok(read) => classify_read(read, connection),
                    Err(_elapsed) => {
                        debug!(peer = %connection.peer, "closing idle syslog connection");
                        StreamEnd::Aborted
                    }
                }
            }
        };
        loop {
            while let Some(decoded) = decoder.decode(&mut buf) {
                pending.push(decoded, connection.input_type);
                if pending.is_full() && !submit(&mut pending, connection).await {
                    return;
                }
            }
            if !matches!(end, StreamEnd::Open) {
                break;
            }
            buf.reserve(READ_CHUNK_BYTES);
            match read_now(&mut stream, &mut buf).await {
                Some(read) => end = classify_read(read, connection),
                None => break,
            }
        }
        match end {
            StreamEnd::Open => {}
            StreamEnd::Closed => {
                while let Some(decoded) = decoder.decode_eof(&mut buf) {
                    pending.push(decoded, connection.input_type);
                    if pending.is_full() && !submit(&mut pending, connection).await {
                        return;
                    }
                }
            }
            StreamEnd::Aborted => {
                if decoder.abandon(&mut buf) {
                    metrics::dropped(connection.input_type, DropReason::Truncated, 1);
                }
            }
        }
        if !submit(&mut pending, connection).await {
            return;
        }
        if !matches!(end, StreamEnd::Open) {
            return;
        }
    }
}

fn classify_read(read: io::Result<usize>, connection: &Connection) -> StreamEnd {
    match read {
        Ok(0) => StreamEnd::Closed,
        Ok(_) => StreamEnd::Open,
        Err(error) => {
            metrics::error(connection.input_type, "io");
            debug!(peer = %connection.peer, error = %error, "syslog connection read failed");
            StreamEnd::Aborted
        }
    }
}

/// Reads if bytes are available right now, without waiting. Safe to abandon: `read_buf`
/// is cancel-safe.
async fn read_now<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Option<io::Result<usize>> {
    let mut read = pin!(stream.read_buf(buf));
    std::future::poll_fn(|cx| match read.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(Some(result)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// Frames read but not yet submitted.
#[derive(Default)]
struct PendingBatch {
    items: Vec<Payload>,
    n_bytes: usize,
}

impl PendingBatch {
    fn push(&mut self, decoded: Decoded, input_type: &'static str) {
        match decoded {
            Decoded::Frame(frame) => {
                self.n_bytes += frame.len();
                self.items.push(Payload::Syslog(frame));
            }
            Decoded::Dropped(reason) => metrics::dropped(input_type, reason, 1),
        }
    }

    fn is_full(&self) -> bool {
        self.items.len() >= MAX_BATCH_EVENTS || self.n_bytes >= MAX_BATCH_BYTES
    }
}

/// Submits the pending frames and waits for the acknowledgement. Returns false when the
/// pipeline refused them: the connection must then close, so the sender sees the failure.
async fn submit(pending: &mut PendingBatch, connection: &Connection) -> bool {
    if pending.items.is_empty() {
        return true;
    }
    let items = std::mem::take(&mut pending.items);
    let n_events = items.len();
    metrics::received(
        connection.input_type,
        n_events,
        std::mem::take(&mut pending.n_bytes),
    );
    let batch = Batch {
        input_type: connection.input_type,
        peer: Some(connection.peer),
        sender: None,
        items,
    };
    match connection.intake.submit(batch).await {
        Ok(_ack) => {
            metrics::sent(connection.input_type, n_events);
            true
        }
        Err(error) => {
            metrics::error(connection.input_type, "submit");
            match error {
                SubmitError::Storage(_) => error!(
                    input_type = connection.input_type,
                    peer = %connection.peer,
                    n_events,
                    error = %error,
                    "pipeline failed to write syslog batch, closing connection"
                ),
                SubmitError::Overloaded | SubmitError::ShuttingDown => warn!(
                    input_type = connection.input_type,
                    peer = %connection.peer,
                    n_events,
                    error = %error,
                    "pipeline refused syslog batch, closing connection"
                ),
            }
            false
        }
    }
}

/// Datagrams received but not yet queued, one batch per sender.
#[derive(Default)]
struct UdpBatches {
    batches: Vec<(SocketAddr, Vec<Payload>)>,
    n_events: usize,
    n_bytes: usize,
}

impl UdpBatches {
    fn push(&mut self, peer: SocketAddr, datagram: &[u8], max_frame_bytes: usize) {
        let message = trim_datagram(datagram);
        if message.is_empty() {
            return;
        }
        if message.len() > max_frame_bytes {
            metrics::dropped(INPUT_UDP, DropReason::Oversized, 1);
            return;
        }
        self.n_events += 1;
        self.n_bytes += message.len();
        let payload = Payload::Syslog(message.to_vec());
        match self.batches.iter_mut().find(|(addr, _)| *addr == peer) {
            Some((_, items)) => items.push(payload),
            None => self.batches.push((peer, vec![payload])),
        }
    }

    fn is_full(&self) -> bool {
        self.n_events >= MAX_BATCH_EVENTS
            || self.n_bytes >= MAX_BATCH_BYTES
            || self.batches.len() >= MAX_UDP_PEERS_PER_FLUSH
    }

    /// Queues every batch without waiting; what does not fit is dropped and counted.
    fn flush(&mut self, intake: &Intake) {
        metrics::received(INPUT_UDP, self.n_events, self.n_bytes);
        self.n_events = 0;
        self.n_bytes = 0;
        for (peer, items) in self.batches.drain(..) {
            let n_events = items.len();
            let batch = Batch {
                input_type: INPUT_UDP,
                peer: Some(peer),
                sender: None,
                items,
            };
            // Nobody waits for the write's result: UDP has no one to acknowledge to.
            match intake.enqueue_now(batch) {
                Ok(_ack) => metrics::sent(INPUT_UDP, n_events),
                Err(SubmitError::Overloaded) => {
                    metrics::udp_dropped(n_events);
                    intake.health().record_udp_dropped(n_events as u64);
                }
                Err(_) => metrics::dropped(INPUT_UDP, DropReason::ShuttingDown, n_events),
            }
        }
    }
}

/// One datagram is one message (RFC 5426 §3.1); a trailing newline or NUL some senders
/// append is not part of it.
pub(super) fn trim_datagram(datagram: &[u8]) -> &[u8] {
    let mut end = datagram.len();
    while end > 0 && matches!(datagram[end - 1], b'\n' | b'\r' | b'\0') {
        end -= 1;
    }
    &datagram[..end]
}

async fn receive_udp(
    socket: UdpSocket,
    intake: Intake,
    max_frame_bytes: usize,
    mut stop: watch::Receiver<bool>,
) {
    let mut datagram = vec![0u8; MAX_DATAGRAM_BYTES];
    let mut pending = UdpBatches::default();
    loop {
        let received = tokio::select! {
            () = stopped(&mut stop) => break,
            received = socket.recv_from(&mut datagram) => received,
        };
        match received {
            Ok((len, peer)) => pending.push(peer, &datagram[..len], max_frame_bytes),
            Err(error) => {
                metrics::error(INPUT_UDP, "io");
                debug!(error = %error, "syslog udp receive failed");
                continue;
            }
        }
        // Batch whatever else has already arrived.
        while !pending.is_full() {
            match socket.try_recv_from(&mut datagram) {
                Ok((len, peer)) => pending.push(peer, &datagram[..len], max_frame_bytes),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    metrics::error(INPUT_UDP, "io");
                    debug!(error = %error, "syslog udp receive failed");
                    break;
                }
            }
        }
        pending.flush(&intake);
    }
}
