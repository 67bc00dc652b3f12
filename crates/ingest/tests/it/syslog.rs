//! The syslog source over real sockets.

use std::{
    net::SocketAddr,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use ingest::sources::syslog::{SyslogConfig, SyslogSource, SyslogTlsConfig};
use pipeline::{Intake, Payload};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
    sync::{oneshot, watch},
    task::JoinHandle,
};

use crate::support::{self, Consumer, Received};

/// A running source and the means to stop it.
struct Running {
    udp: SocketAddr,
    tcp: SocketAddr,
    tls: Option<SocketAddr>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ingest::SourceError>>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("source stops in time")
            .unwrap()
            .unwrap();
    }
}

fn start(source: SyslogSource, intake: Intake) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let udp = source.udp_addr();
    let tcp = source.tcp_addr();
    let tls = source.tls_addr();
    let task = tokio::spawn(source.run(intake, async move {
        let _ = stopped.await;
    }));
    Running {
        udp,
        tcp,
        tls,
        stop,
        task,
    }
}

fn local_config() -> SyslogConfig {
    SyslogConfig::new("127.0.0.1:0".parse().unwrap())
}

/// A source with an acknowledging fake pipeline.
fn start_acking(config: SyslogConfig) -> (Running, Consumer) {
    support::install_recorder();
    let (intake, jobs) = Intake::channel(8);
    let consumer = Consumer::acking(jobs);
    (start(config.build().unwrap(), intake), consumer)
}

/// Runs the real `logger` with `args`, feeding `stdin` (one message per line).
async fn logger(addr: SocketAddr, args: &[&str], stdin: &str) {
    let mut command = Command::new("logger");
    command
        .args(["--server", "127.0.0.1", "--port", &addr.port().to_string()])
        .args(["-t", "sentinella-it", "-p", "user.notice"])
        .args(args)
        .stdin(Stdio::piped());
    let stdin = stdin.to_owned();
    let status = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("util-linux logger is installed");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "logger {args:?} failed");
}

fn texts(messages: &[Received]) -> Vec<String> {
    messages
        .iter()
        .map(|message| String::from_utf8(message.bytes.clone()).unwrap())
        .collect()
}

const LINES: &str = "first message\nsecond: with ünïcode\nthird [with] = signs\n";
const BODIES: [&str; 3] = [
    "first message",
    "second: with ünïcode",
    "third [with] = signs",
];

fn rfc5424_expected() -> Vec<String> {
    // `--rfc5424=notime,notq,nohost` makes logger's output deterministic.
    BODIES
        .iter()
        .map(|body| format!("<13>1 - - sentinella-it - - - {body}"))
        .collect()
}

fn check_rfc3164(messages: &[String]) {
    assert_eq!(messages.len(), BODIES.len(), "{messages:?}");
    for (message, body) in messages.iter().zip(BODIES) {
        // `<13>Mmm dd hh:mm:ss host sentinella-it: body`, nothing of the framing left.
        assert!(message.starts_with("<13>"), "{message:?}");
        assert!(
            message.ends_with(&format!(" sentinella-it: {body}")),
            "{message:?}"
        );
        assert!(!message.contains(['\n', '\r', '\0']), "{message:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logger_over_udp() {
    let (running, consumer) = start_acking(local_config());
    logger(
        running.udp,
        &["--udp", "--rfc5424=notime,notq,nohost"],
        LINES,
    )
    .await;
    let messages = consumer.wait_for(3).await;
    assert!(
        messages
            .iter()
            .all(|message| message.input_type == "syslog-udp")
    );
    assert_eq!(texts(&messages), rfc5424_expected());

    logger(running.udp, &["--udp", "--rfc3164"], LINES).await;
    let messages = consumer.wait_for(6).await;
    check_rfc3164(&texts(&messages[3..]));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logger_over_tcp_with_both_framings() {
    let (running, consumer) = start_acking(local_config());
    let before = support::counter("ingest_received_events_total{input_type=syslog-tcp}");

    logger(
        running.tcp,
        &["--tcp", "--rfc5424=notime,notq,nohost"],
        LINES,
    )
    .await;
    let messages = consumer.wait_for(3).await;
    assert!(
        messages
            .iter()
            .all(|message| message.input_type == "syslog-tcp")
    );
    assert_eq!(texts(&messages), rfc5424_expected());

    logger(
        running.tcp,
        &["--tcp", "--octet-count", "--rfc5424=notime,notq,nohost"],
        LINES,
    )
    .await;
    let messages = consumer.wait_for(6).await;
    assert_eq!(texts(&messages[3..]), rfc5424_expected());

    logger(running.tcp, &["--tcp", "--rfc3164"], LINES).await;
    let messages = consumer.wait_for(9).await;
    check_rfc3164(&texts(&messages[6..]));

    logger(running.tcp, &["--tcp", "--octet-count", "--rfc3164"], LINES).await;
    let messages = consumer.wait_for(12).await;
    check_rfc3164(&texts(&messages[9..]));

    assert!(support::counter("ingest_received_events_total{input_type=syslog-tcp}") >= before + 12);
    assert!(support::counter("ingest_sent_events_total{input_type=syslog-tcp}") >= 12);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_framing_edge_cases_over_a_real_socket() {
    let mut config = local_config();
    config.max_frame_bytes = 1024;
    let (running, consumer) = start_acking(config);
    let mut stream = TcpStream::connect(running.tcp).await.unwrap();
    let long = "x".repeat(5000);
    // Split writes in the middle of frames, octet counting mixed with newlines, CRLF,
    // invalid UTF-8, an oversized line and an oversized counted frame.
    let parts: Vec<Vec<u8>> = vec![
        b"<13>one\r\n11 <13>t".to_vec(),
        b"wo 345".to_vec(),
        b"\n<13>three\0".to_vec(),
        format!("{long}\n").into_bytes(),
        b"<13>\xff\xfe\n".to_vec(),
        format!("5000 {long}").into_bytes(),
        b"<13>last without newline".to_vec(),
    ];
    for part in parts {
        stream.write_all(&part).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stream.shutdown().await.unwrap();
    let messages = consumer.wait_for(5).await;
    let bytes: Vec<Vec<u8>> = messages.into_iter().map(|message| message.bytes).collect();
    assert_eq!(
        bytes,
        vec![
            b"<13>one".to_vec(),
            b"<13>two 345".to_vec(),
            b"<13>three".to_vec(),
            b"<13>\xff\xfe".to_vec(),
            b"<13>last without newline".to_vec(),
        ]
    );
    // The connection survived both oversized frames: everything after them arrived.
    assert!(
        support::counter("ingest_dropped_events_total{input_type=syslog-tcp,reason=oversized}")
            >= 2
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_octet_counted_frame_is_dropped_and_counted() {
    let (running, consumer) = start_acking(local_config());
    let before =
        support::counter("ingest_dropped_events_total{input_type=syslog-tcp,reason=truncated}");
    let mut stream = TcpStream::connect(running.tcp).await.unwrap();
    stream
        .write_all(b"8 <13>done100 <13>cut short")
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let messages = consumer.wait_for(1).await;
    assert_eq!(texts(&messages), ["<13>done"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(consumer.messages().len(), 1);
    assert!(
        support::counter("ingest_dropped_events_total{input_type=syslog-tcp,reason=truncated}")
            > before
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_backpressure_stops_reading_and_loses_nothing() {
    support::install_recorder();
    let (intake, jobs) = Intake::channel(1);
    let (release, released) = watch::channel(false);
    let consumer = Consumer::gated(jobs, released);
    let running = start(local_config().build().unwrap(), intake);

    // 200,000 messages, 20 MB: far more than the socket buffers hold.
    const N: usize = 200_000;
    let writer_done = Arc::new(AtomicBool::new(false));
    let done = writer_done.clone();
    let tcp = running.tcp;
    let writer = tokio::spawn(async move {
        let mut stream = TcpStream::connect(tcp).await.unwrap();
        let mut chunk = Vec::new();
        for idx in 0..N {
            chunk
                .extend_from_slice(format!("<13>message {idx:06} {}\n", "p".repeat(72)).as_bytes());
            if chunk.len() > 64 * 1024 {
                stream.write_all(&chunk).await.unwrap();
                chunk.clear();
            }
        }
        stream.write_all(&chunk).await.unwrap();
        stream.shutdown().await.unwrap();
        done.store(true, Ordering::SeqCst);
    });

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        consumer.n_batches(),
        1,
        "the source waits for the first ack"
    );
    assert!(
        !writer_done.load(Ordering::SeqCst),
        "the sender is blocked by tcp flow control"
    );

    release.send(true).unwrap();
    let messages = consumer.wait_for(N).await;
    writer.await.unwrap();
    assert_eq!(messages.len(), N);
    for (idx, message) in messages.iter().enumerate() {
        let expected = format!("<13>message {idx:06} {}", "p".repeat(72));
        assert_eq!(message.bytes, expected.as_bytes(), "message {idx}");
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_overload_drops_and_counts() {
    support::install_recorder();
    let (intake, mut jobs) = Intake::channel(1);
    let running = start(local_config().build().unwrap(), intake);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let send = |idx: u64| {
        let socket = &socket;
        let addr = running.udp;
        async move {
            let datagram = format!("<13>datagram {idx}\n");
            socket.send_to(datagram.as_bytes(), addr).await.unwrap();
        }
    };
    // The first datagram fills the only queue slot; nobody consumes it.
    send(0).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while jobs.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "first datagram never queued"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Everything after is dropped and counted.
    let before = support::counter("ingest_udp_dropped_events_total{}");
    for idx in 1..50 {
        send(idx).await;
    }
    while support::counter("ingest_udp_dropped_events_total{}") < before + 49 {
        assert!(tokio::time::Instant::now() < deadline, "drops not counted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let job = jobs.try_recv().expect("one batch was queued");
    let queued: Vec<Vec<u8>> = job.batch.items.iter().map(syslog_bytes).collect();
    assert_eq!(queued, [b"<13>datagram 0".to_vec()]);
    assert!(jobs.is_empty());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_and_idle_timeout() {
    let mut config = local_config();
    config.max_connections = 1;
    config.idle_timeout_secs = 1;
    let (running, consumer) = start_acking(config);

    let mut first = TcpStream::connect(running.tcp).await.unwrap();
    first.write_all(b"<13>from first\n").await.unwrap();
    consumer.wait_for(1).await;

    // Over the limit: closed at once.
    let mut second = TcpStream::connect(running.tcp).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");

    // Idle for longer than the timeout: closed by the source.
    let read = tokio::time::timeout(Duration::from_secs(5), first.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");

    // The slot is free again.
    let mut third = TcpStream::connect(running.tcp).await.unwrap();
    third.write_all(b"<13>from third\n").await.unwrap();
    let messages = consumer.wait_for(2).await;
    assert_eq!(texts(&messages), ["<13>from first", "<13>from third"]);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_connections_and_returns() {
    let (running, consumer) = start_acking(local_config());
    let mut stream = TcpStream::connect(running.tcp).await.unwrap();
    stream
        .write_all(b"<13>before shutdown\n<13>partial")
        .await
        .unwrap();
    consumer.wait_for(1).await;
    running.stop().await;
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    assert_eq!(texts(&consumer.messages()), ["<13>before shutdown"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_self_signed_certificate() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();

    let mut config = local_config();
    config.tls = Some(SyslogTlsConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cert_path,
        key_path,
    });
    let (running, consumer) = start_acking(config);
    let tls_addr = running.tls.expect("tls is configured");
    assert_ne!(tls_addr, running.tcp);

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(certified.cert.der().to_vec()))
        .unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let tcp = TcpStream::connect(tls_addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    // RFC 5425 uses octet counting; newline framing works too.
    tls.write_all(b"28 <13>1 - - app - - - over tls<13>1 - - app - - - newline\n")
        .await
        .unwrap();
    tls.shutdown().await.unwrap();
    let messages = consumer.wait_for(2).await;
    assert!(
        messages
            .iter()
            .all(|message| message.input_type == "syslog-tls")
    );
    assert_eq!(
        texts(&messages),
        [
            "<13>1 - - app - - - over tls",
            "<13>1 - - app - - - newline"
        ]
    );

    // Plain text on the TLS port is a failed handshake, not a message.
    let mut plain = TcpStream::connect(tls_addr).await.unwrap();
    plain.write_all(b"<13>not tls\n").await.unwrap();
    let mut buf = [0u8; 64];
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read(&mut buf)).await;
    assert_eq!(consumer.messages().len(), 2);
    running.stop().await;
}

#[test]
fn tls_build_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config();
    config.tls = Some(SyslogTlsConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cert_path: dir.path().join("missing.pem"),
        key_path: dir.path().join("missing-key.pem"),
    });
    let error = config.build().unwrap_err();
    assert!(error.to_string().contains("missing.pem"), "{error}");
}

fn syslog_bytes(payload: &Payload) -> Vec<u8> {
    match payload {
        Payload::Syslog(bytes) => bytes.clone(),
        other => panic!("unexpected payload {other:?}"),
    }
}
