//! A minimal SMTP client to hand one message to a relay: plain (a relay on localhost or the
//! local network that accepts mail from this host), or STARTTLS (RFC 3207) with the relay's
//! certificate verified and, over TLS only, AUTH PLAIN or LOGIN (RFC 4954).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How to reach a relay.
#[derive(Clone)]
pub struct Relay {
    /// `host:port`.
    pub addr: String,
    /// STARTTLS, required when set: a relay that does not offer it gets nothing.
    pub tls: Option<RelayTls>,
    /// AUTH credentials, sent only over TLS.
    pub credentials: Option<Credentials>,
}

/// The TLS side of a relay.
#[derive(Clone)]
pub struct RelayTls {
    /// rustls client configuration (roots, protocol versions).
    pub connector: TlsConnector,
    /// The name (or IP) the relay's certificate must carry.
    pub server_name: ServerName<'static>,
}

/// User name and password for AUTH.
#[derive(Clone)]
pub struct Credentials {
    /// The account at the relay.
    pub username: String,
    /// Its password (never logged: see the `Debug` impl).
    pub password: String,
}

impl RelayTls {
    /// STARTTLS to `addr` (`host:port`), verifying its certificate for `host` against the
    /// CA certificates of `ca_file` (PEM), else the system's roots.
    pub fn new(addr: &str, ca_file: Option<&std::path::Path>) -> io::Result<RelayTls> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                use rustls::pki_types::pem::PemObject as _;
                let certificates = rustls::pki_types::CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
                roots.add_parsable_certificates(certificates);
                if roots.is_empty() {
                    return Err(io::Error::other(format!(
                        "{}: no usable CA certificate",
                        path.display()
                    )));
                }
            }
            None => {
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                if roots.is_empty() {
                    return Err(io::Error::other(
                        "no system CA certificates: name a CA file",
                    ));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(RelayTls {
            connector: TlsConnector::from(Arc::new(config)),
            server_name: server_name(addr)?,
        })
    }
}

/// The name to verify the relay's certificate against: the host of `addr`.
fn server_name(addr: &str) -> io::Result<ServerName<'static>> {
    let host = match addr.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("addr", &self.addr)
            .field("starttls", &self.tls.is_some())
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay reached in clear text, without AUTH.
    pub fn plain(addr: &str) -> Relay {
        Relay {
            addr: addr.to_owned(),
            tls: None,
            credentials: None,
        }
    }
}

/// Sends `data` (a complete message, CRLF line ends) from `from` to `to` through `relay`
/// (`host:port`) in clear text.
pub async fn send(
    relay: &str,
    helo: &str,
    from: &str,
    to: &str,
    data: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    send_via(&Relay::plain(relay), helo, from, to, data, timeout).await
}

/// Sends `data` from `from` to `to` through `relay`, with STARTTLS and AUTH as it says.
pub async fn send_via(
    relay: &Relay,
    helo: &str,
    from: &str,
    to: &str,
    data: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    tokio::time::timeout(timeout, send_inner(relay, helo, from, to, data))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "smtp relay timed out"))?
}

async fn send_inner(
    relay: &Relay,
    helo: &str,
    from: &str,
    to: &str,
    data: &[u8],
) -> io::Result<()> {
    for value in [helo, from, to] {
        if value.contains(['\r', '\n', '<', '>']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid address",
            ));
        }
    }
    if relay.credentials.is_some() && relay.tls.is_none() {
        // Never send a password in clear text.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "smtp AUTH needs STARTTLS",
        ));
    }
    let stream = TcpStream::connect(&relay.addr).await?;
    let mut plain = BufReader::new(stream);
    expect(&mut plain, 220).await?;
    let extensions = command(&mut plain, &format!("EHLO {helo}"), 250).await?;
    let Some(tls) = &relay.tls else {
        return transaction(&mut plain, from, to, data).await;
    };
    if !has_extension(&extensions, "STARTTLS") {
        return Err(io::Error::other("the relay does not offer STARTTLS"));
    }
    command(&mut plain, "STARTTLS", 220).await?;
    // RFC 3207 §4.2: nothing the relay sent before the handshake may be used after it.
    if !plain.buffer().is_empty() {
        return Err(io::Error::other(
            "the relay sent data before the TLS handshake",
        ));
    }
    let secure = tls
        .connector
        .connect(tls.server_name.clone(), plain.into_inner())
        .await?;
    let mut secure = BufReader::new(secure);
    // The session starts over: EHLO again, and only now are AUTH mechanisms trusted.
    let extensions = command(&mut secure, &format!("EHLO {helo}"), 250).await?;
    if let Some(credentials) = &relay.credentials {
        authenticate(&mut secure, &extensions, credentials).await?;
    }
    transaction(&mut secure, from, to, data).await
}

/// RFC 4954 AUTH with PLAIN (RFC 4616) when offered, else LOGIN.
async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    extensions: &[String],
    credentials: &Credentials,
) -> io::Result<()> {
    let mechanisms: Vec<String> = extensions
        .iter()
        .filter_map(|line| {
            let upper = line.to_ascii_uppercase();
            upper
                .strip_prefix("AUTH ")
                .or_else(|| upper.strip_prefix("AUTH="))
                .map(str::to_owned)
        })
        .flat_map(|list| {
            list.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let b64 = |text: &[u8]| base64::engine::general_purpose::STANDARD.encode(text);
    let failed = |e: io::Error| io::Error::new(e.kind(), format!("smtp AUTH failed: {e}"));
    if mechanisms.iter().any(|m| m == "PLAIN") {
        let token = b64(format!("\0{}\0{}", credentials.username, credentials.password).as_bytes());
        command(stream, &format!("AUTH PLAIN {token}"), 235)
            .await
            .map_err(failed)?;
    } else if mechanisms.iter().any(|m| m == "LOGIN") {
        command(stream, "AUTH LOGIN", 334).await.map_err(failed)?;
        command(stream, &b64(credentials.username.as_bytes()), 334)
            .await
            .map_err(failed)?;
        command(stream, &b64(credentials.password.as_bytes()), 235)
            .await
            .map_err(failed)?;
    } else {
        return Err(io::Error::other(
            "the relay offers neither AUTH PLAIN nor AUTH LOGIN",
        ));
    }
    Ok(())
}

async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    from: &str,
    to: &str,
    data: &[u8],
) -> io::Result<()> {
    command(stream, &format!("MAIL FROM:<{from}>"), 250).await?;
    command(stream, &format!("RCPT TO:<{to}>"), 250).await?;
    command(stream, "DATA", 354).await?;
    let mut body = Vec::with_capacity(data.len() + 64);
    for line in data.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b".") {
            body.push(b'.');
        }
        body.extend_from_slice(line);
    }
    if !body.ends_with(b"\r\n") {
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b".\r\n");
    stream.get_mut().write_all(&body).await?;
    stream.get_mut().flush().await?;
    expect(stream, 250).await?;
    let _ = command(stream, "QUIT", 221).await;
    Ok(())
}

fn has_extension(extensions: &[String], name: &str) -> bool {
    extensions.iter().any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|word| word.eq_ignore_ascii_case(name))
    })
}

/// Sends a command and checks the reply's code; returns the reply's lines (without code).
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    line: &str,
    code: u16,
) -> io::Result<Vec<String>> {
    stream
        .get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await?;
    stream.get_mut().flush().await?;
    expect(stream, code).await
}

/// Reads a (possibly multi-line) reply and checks its code; at most 100 lines of 4 KiB.
async fn expect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    code: u16,
) -> io::Result<Vec<String>> {
    use tokio::io::AsyncReadExt as _;
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let read = (&mut *stream)
            .take(4096)
            .read_until(b'\n', &mut line)
            .await?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "relay closed the connection",
            ));
        }
        let line = String::from_utf8_lossy(&line);
        let got: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        if got != code {
            return Err(io::Error::other(format!(
                "relay answered {:?}",
                line.trim_end()
            )));
        }
        lines.push(line.get(4..).unwrap_or_default().trim_end().to_owned());
        if line.as_bytes().get(3) != Some(&b'-') || lines.len() >= 100 {
            return Ok(lines);
        }
    }
}
