//! A minimal SMTP client to hand one message to a relay (no AUTH, no TLS: a relay on the
//! local network or localhost that accepts mail from this host).

use std::io;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// Sends `data` (a complete message, CRLF line ends) from `from` to `to` through `relay`
/// (`host:port`).
pub async fn send(
    relay: &str,
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

async fn send_inner(relay: &str, helo: &str, from: &str, to: &str, data: &[u8]) -> io::Result<()> {
    for value in [helo, from, to] {
        if value.contains(['\r', '\n', '<', '>']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid address",
            ));
        }
    }
    let stream = TcpStream::connect(relay).await?;
    let mut stream = BufReader::new(stream);
    expect(&mut stream, 220).await?;
    command(&mut stream, &format!("EHLO {helo}"), 250).await?;
    command(&mut stream, &format!("MAIL FROM:<{from}>"), 250).await?;
    command(&mut stream, &format!("RCPT TO:<{to}>"), 250).await?;
    command(&mut stream, "DATA", 354).await?;
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
    expect(&mut stream, 250).await?;
    let _ = command(&mut stream, "QUIT", 221).await;
    Ok(())
}

async fn command(stream: &mut BufReader<TcpStream>, line: &str, code: u16) -> io::Result<()> {
    stream
        .get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await?;
    expect(stream, code).await
}

/// Reads a (possibly multi-line) reply and checks its code.
async fn expect(stream: &mut BufReader<TcpStream>, code: u16) -> io::Result<()> {
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "relay closed the connection",
            ));
        }
        let got: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        if got != code {
            return Err(io::Error::other(format!(
                "relay answered {:?}",
                line.trim_end()
            )));
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}
