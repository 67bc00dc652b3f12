//! The listener and one SMTP session per connection.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use super::{Envelope, MessageHandler, Refusal, RefusalObserver, SmtpConfig};
use crate::BuildError;

/// RFC 5321 §4.5.3.1.6: text lines are at most 1000 octets with CRLF; commands less.
const MAX_LINE_BYTES: usize = 1000;
/// Recipients per message (RFC 5321 §4.5.3.1.8 asks for at least 100).
const MAX_RECIPIENTS: usize = 100;
/// Protocol errors tolerated before the connection is dropped.
const MAX_ERRORS: usize = 10;

/// A bound SMTP listener.
pub struct SmtpSource {
    listener: TcpListener,
    config: Arc<SmtpConfig>,
    tls: Option<TlsAcceptor>,
    refusals: Option<RefusalObserver>,
}

impl SmtpSource {
    /// Binds the listener and loads the STARTTLS certificate.
    pub async fn bind(config: SmtpConfig) -> Result<SmtpSource, BuildError> {
        let tls = match &config.tls {
            Some(tls) => Some(TlsAcceptor::from(load_tls(&tls.cert_path, &tls.key_path)?)),
            None => None,
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| BuildError::Bind {
                    protocol: "smtp",
                    addr: config.listen,
                    source,
                })?;
        Ok(SmtpSource {
            listener,
            config: Arc::new(config),
            tls,
            refusals: None,
        })
    }

    /// Tells `observer` of every refused message and recipient.
    pub fn on_refusal(mut self, observer: RefusalObserver) -> SmtpSource {
        self.refusals = Some(observer);
        self
    }

    /// The bound address (the port may have been 0).
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// Accepts connections until `stop` completes.
    pub async fn run(
        self,
        handler: MessageHandler,
        stop: impl std::future::Future<Output = ()>,
    ) -> io::Result<()> {
        let slots = Arc::new(Semaphore::new(self.config.max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::pin!(stop);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut stop => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "smtp accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                tokio::spawn(async move {
                    let mut stream = stream;
                    let _ = stream
                        .write_all(b"421 too many connections, try again later\r\n")
                        .await;
                });
                continue;
            };
            let session = Session {
                config: Arc::clone(&self.config),
                handler: Arc::clone(&handler),
                tls: self.tls.clone(),
                refusals: self.refusals.clone(),
                peer,
            };
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(async move {
                tokio::select! {
                    result = session.serve(stream) => {
                        if let Err(error) = result {
                            tracing::debug!(%peer, %error, "smtp session ended");
                        }
                    }
                    _ = stop_rx.wait_for(|stop| *stop) => {}
                }
                drop(permit);
            });
        }
        let _ = stop_tx.send(true);
        Ok(())
    }
}

fn load_tls(
    cert_path: &std::path::Path,
    key_path: &std::path::Path,
) -> Result<Arc<ServerConfig>, BuildError> {
    let certificate_error = |reason: String| BuildError::Tls {
        what: "certificate",
        path: cert_path.to_owned(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(cert_path)
        .map_err(|error| certificate_error(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| certificate_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(certificate_error("no certificate found".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|error| BuildError::Tls {
        what: "private key",
        path: key_path.to_owned(),
        reason: error.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| BuildError::TlsConfig(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(|error| BuildError::TlsConfig(error.to_string()))?;
    Ok(Arc::new(config))
}

struct Session {
    config: Arc<SmtpConfig>,
    handler: MessageHandler,
    tls: Option<TlsAcceptor>,
    refusals: Option<RefusalObserver>,
    peer: SocketAddr,
}

/// What a session over one transport ended with.
enum Ending {
    Closed,
    /// The client asked for STARTTLS and was told to go ahead.
    StartTls,
}

impl Session {
    async fn serve(self, stream: TcpStream) -> io::Result<()> {
        let mut plain = BufReader::new(stream);
        let greeting = format!(
            "220 {} ESMTP Sentinella phishing reports\r\n",
            self.config.hostname
        );
        plain.get_mut().write_all(greeting.as_bytes()).await?;
        match self.transact(&mut plain, false).await? {
            Ending::Closed => Ok(()),
            Ending::StartTls => {
                let acceptor = self
                    .tls
                    .clone()
                    .expect("STARTTLS is offered only with a certificate");
                // RFC 3207 §4.2 / CVE-2011-0411: anything the client pipelined after
                // STARTTLS was sent in clear text and is discarded with the buffer.
                let stream = plain.into_inner();
                let tls = tokio::time::timeout(self.idle(), acceptor.accept(stream))
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "tls handshake timed out")
                    })??;
                let mut secure = BufReader::new(tls);
                // The session starts over (RFC 3207 §4.2): the client must EHLO again.
                self.transact(&mut secure, true).await.map(|_| ())
            }
        }
    }

    fn refused(&self, refusal: Refusal) {
        if let Some(observer) = &self.refusals {
            observer(refusal);
        }
    }

    fn idle(&self) -> Duration {
        Duration::from_secs(self.config.idle_timeout_secs.max(1))
    }

    async fn transact<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut BufReader<S>,
        secure: bool,
    ) -> io::Result<Ending> {
        let mut helo = String::new();
        let mut mail_from: Option<String> = None;
        let mut rcpt_to: Vec<String> = Vec::new();
        let mut errors = 0;
        let mut line = Vec::with_capacity(512);
        loop {
            if errors >= MAX_ERRORS {
                reply(stream, "421 too many errors, closing").await?;
                return Ok(Ending::Closed);
            }
            line.clear();
            let read = tokio::time::timeout(self.idle(), read_line(stream, &mut line))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle timeout"))??;
            if read == 0 {
                return Ok(Ending::Closed);
            }
            if line.len() > MAX_LINE_BYTES {
                errors += 1;
                self.refused(Refusal::Syntax);
                reply(stream, "500 line too long").await?;
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            let (verb, argument) = text.split_once(' ').unwrap_or((text, ""));
            match verb.to_ascii_uppercase().as_str() {
                "EHLO" | "HELO" => {
                    helo = argument.trim().chars().take(255).collect();
                    mail_from = None;
                    rcpt_to.clear();
                    if verb.eq_ignore_ascii_case("HELO") {
                        reply(stream, &format!("250 {}", self.config.hostname)).await?;
                    } else {
                        let mut lines = vec![
                            self.config.hostname.clone(),
                            format!("SIZE {}", self.config.max_message_bytes),
                            "8BITMIME".into(),
                            "PIPELINING".into(),
                        ];
                        if self.tls.is_some() && !secure {
                            lines.push("STARTTLS".into());
                        }
                        let last = lines.len() - 1;
                        let mut answer = String::new();
                        for (index, item) in lines.iter().enumerate() {
                            answer.push_str(&format!(
                                "250{}{item}\r\n",
                                if index == last { ' ' } else { '-' }
                            ));
                        }
                        stream.get_mut().write_all(answer.as_bytes()).await?;
                    }
                }
                "STARTTLS" if self.tls.is_some() && !secure => {
                    reply(stream, "220 ready to start TLS").await?;
                    return Ok(Ending::StartTls);
                }
                "MAIL" => {
                    if helo.is_empty() {
                        errors += 1;
                        reply(stream, "503 send EHLO first").await?;
                        continue;
                    }
                    let Some(address) = path_argument(argument, "FROM:") else {
                        errors += 1;
                        self.refused(Refusal::Syntax);
                        reply(stream, "501 syntax: MAIL FROM:<address>").await?;
                        continue;
                    };
                    let declared_size = argument.split_whitespace().find_map(|p| {
                        p.to_ascii_uppercase()
                            .strip_prefix("SIZE=")
                            .and_then(|n| n.parse::<usize>().ok())
                    });
                    if declared_size.is_some_and(|size| size > self.config.max_message_bytes) {
                        self.refused(Refusal::Size);
                        reply(stream, "552 message size exceeds the limit").await?;
                        continue;
                    }
                    mail_from = Some(address);
                    rcpt_to.clear();
                    reply(stream, "250 ok").await?;
                }
                "RCPT" => {
                    let Some(address) = path_argument(argument, "TO:") else {
                        errors += 1;
                        self.refused(Refusal::Syntax);
                        reply(stream, "501 syntax: RCPT TO:<address>").await?;
                        continue;
                    };
                    if mail_from.is_none() {
                        errors += 1;
                        reply(stream, "503 need MAIL first").await?;
                    } else if rcpt_to.len() >= MAX_RECIPIENTS {
                        reply(stream, "452 too many recipients").await?;
                    } else if !self.config.recipients.is_empty()
                        && !self
                            .config
                            .recipients
                            .iter()
                            .any(|r| r.eq_ignore_ascii_case(&address))
                    {
                        errors += 1;
                        self.refused(Refusal::Recipient);
                        reply(stream, "550 no such mailbox here").await?;
                    } else {
                        rcpt_to.push(address);
                        reply(stream, "250 ok").await?;
                    }
                }
                "DATA" => {
                    let Some(from) = mail_from.clone() else {
                        errors += 1;
                        reply(stream, "503 need MAIL first").await?;
                        continue;
                    };
                    if rcpt_to.is_empty() {
                        errors += 1;
                        reply(stream, "554 no valid recipients").await?;
                        continue;
                    }
                    reply(stream, "354 end data with <CR><LF>.<CR><LF>").await?;
                    let data = self.read_data(stream).await?;
                    let envelope = Envelope {
                        peer: self.peer,
                        helo: helo.clone(),
                        mail_from: from,
                        rcpt_to: std::mem::take(&mut rcpt_to),
                        tls: secure,
                    };
                    mail_from = None;
                    match data {
                        None => {
                            self.refused(Refusal::Size);
                            reply(stream, "552 message size exceeds the limit").await?
                        }
                        Some(data) => match (self.handler)(envelope, data).await {
                            Ok(()) => reply(stream, "250 ok: report received").await?,
                            Err(error) => {
                                tracing::warn!(peer = %self.peer, %error, "smtp report not kept");
                                reply(stream, "451 could not keep the message, try again later")
                                    .await?;
                            }
                        },
                    }
                }
                "RSET" => {
                    mail_from = None;
                    rcpt_to.clear();
                    reply(stream, "250 ok").await?;
                }
                "NOOP" => reply(stream, "250 ok").await?,
                "QUIT" => {
                    reply(stream, "221 bye").await?;
                    return Ok(Ending::Closed);
                }
                "VRFY" => reply(stream, "252 cannot verify").await?,
                _ => {
                    errors += 1;
                    reply(stream, "502 command not implemented").await?;
                }
            }
        }
    }

    /// Reads DATA up to the lone dot, undoing dot-stuffing (RFC 5321 §4.5.2). `None` when
    /// the message exceeded the limit (it is read to its end and dropped).
    async fn read_data<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut BufReader<S>,
    ) -> io::Result<Option<Vec<u8>>> {
        let mut data = Vec::new();
        let mut too_big = false;
        let mut line = Vec::with_capacity(1024);
        loop {
            line.clear();
            let read = tokio::time::timeout(self.idle(), read_line(stream, &mut line))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle timeout in DATA"))??;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed in DATA",
                ));
            }
            if line == b".\r\n" || line == b".\n" {
                break;
            }
            let content = if line.starts_with(b"..") {
                &line[1..]
            } else {
                &line[..]
            };
            if data.len() + content.len() > self.config.max_message_bytes {
                too_big = true;
                data = Vec::new();
            }
            if !too_big {
                data.extend_from_slice(content);
            }
        }
        Ok((!too_big).then_some(data))
    }
}

/// Reads one line, at most `MAX_LINE_BYTES * 64` bytes (longer lines are cut: the rest
/// arrives as the next "line" and is handled by the caller's length check).
async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut BufReader<S>,
    line: &mut Vec<u8>,
) -> io::Result<usize> {
    use tokio::io::AsyncReadExt as _;
    let mut limited = (&mut *stream).take((MAX_LINE_BYTES * 64) as u64);
    limited.read_until(b'\n', line).await
}

async fn reply<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    text: &str,
) -> io::Result<()> {
    stream
        .get_mut()
        .write_all(format!("{text}\r\n").as_bytes())
        .await?;
    stream.get_mut().flush().await
}

/// `FROM:<a@b> SIZE=1` → `a@b`.
fn path_argument(argument: &str, keyword: &str) -> Option<String> {
    let argument = argument.trim_start();
    if argument.len() < keyword.len() || !argument[..keyword.len()].eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let path = rest.split_whitespace().next().unwrap_or_default();
    let address = path
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or(path);
    if address.len() > 320 || address.contains(['\r', '\n', ' ']) {
        return None;
    }
    Some(address.to_owned())
}
