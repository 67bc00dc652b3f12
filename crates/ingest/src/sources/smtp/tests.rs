//! The SMTP server and client against each other over real sockets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use super::*;

type Kept = Arc<Mutex<Vec<(Envelope, Vec<u8>)>>>;

async fn start(config: SmtpConfig) -> (SocketAddr, Kept, tokio::sync::oneshot::Sender<()>) {
    let kept: Kept = Arc::default();
    let sink = Arc::clone(&kept);
    let handler: MessageHandler = Arc::new(move |envelope, data| {
        let sink = Arc::clone(&sink);
        Box::pin(async move {
            sink.lock().unwrap().push((envelope, data));
            Ok(())
        })
    });
    let source = SmtpSource::bind(config).await.unwrap();
    let addr = source.addr();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(source.run(handler, async move {
        let _ = stop_rx.await;
    }));
    (addr, kept, stop_tx)
}

#[tokio::test]
async fn client_delivers_with_dot_stuffing() {
    let (addr, kept, _stop) = start(SmtpConfig::new("127.0.0.1:0".parse().unwrap())).await;
    let data = b"Subject: hi\r\n\r\n.leading dot\r\nend\r\n";
    client::send(
        &addr.to_string(),
        "client.test",
        "a@b.test",
        "phishing@c.test",
        data,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let kept = kept.lock().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].1, data.to_vec());
    assert_eq!(kept[0].0.rcpt_to, vec!["phishing@c.test".to_owned()]);
    assert_eq!(kept[0].0.mail_from, "a@b.test");
}

async fn dialogue(addr: SocketAddr, lines: &[&str]) -> Vec<String> {
    let mut stream = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let mut answers = Vec::new();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    for command in lines {
        stream
            .get_mut()
            .write_all(command.as_bytes())
            .await
            .unwrap();
        loop {
            line.clear();
            if stream.read_line(&mut line).await.unwrap() == 0 {
                return answers;
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        answers.push(line.trim_end().to_owned());
    }
    answers
}

#[tokio::test]
async fn limits_and_protocol_errors() {
    let mut config = SmtpConfig::new("127.0.0.1:0".parse().unwrap());
    config.max_message_bytes = 100;
    config.recipients = vec!["phishing@c.test".into()];
    let (addr, kept, _stop) = start(config).await;
    let big = format!("{}\r\n.\r\n", "x".repeat(300));
    let answers = dialogue(
        addr,
        &[
            "MAIL FROM:<a@b>\r\n",
            "EHLO x\r\n",
            "MAIL FROM:<a@b> SIZE=1000\r\n",
            "MAIL FROM:<a@b>\r\n",
            "RCPT TO:<other@c.test>\r\n",
            "RCPT TO:<phishing@c.test>\r\n",
            "DATA\r\n",
            &big,
            "BOGUS\r\n",
            "QUIT\r\n",
        ],
    )
    .await;
    let codes: Vec<&str> = answers.iter().map(|a| &a[..3]).collect();
    assert_eq!(
        codes,
        [
            "503", "250", "552", "250", "550", "250", "354", "552", "502", "221"
        ],
        "{answers:?}"
    );
    assert!(kept.lock().unwrap().is_empty());
}

#[tokio::test]
async fn starttls_is_offered_only_with_a_certificate() {
    let (addr, _, _stop) = start(SmtpConfig::new("127.0.0.1:0".parse().unwrap())).await;
    let answers = dialogue(addr, &["EHLO x\r\n", "STARTTLS\r\n"]).await;
    assert_eq!(&answers[1][..3], "502");
}

#[tokio::test]
async fn refusals_are_reported_to_the_observer() {
    let mut config = SmtpConfig::new("127.0.0.1:0".parse().unwrap());
    config.max_message_bytes = 100;
    config.recipients = vec!["phishing@c.test".into()];
    let seen: Arc<Mutex<Vec<Refusal>>> = Arc::default();
    let observer: RefusalObserver = {
        let seen = Arc::clone(&seen);
        Arc::new(move |refusal| seen.lock().unwrap().push(refusal))
    };
    let handler: MessageHandler = Arc::new(|_, _| Box::pin(async { Ok(()) }));
    let source = SmtpSource::bind(config).await.unwrap().on_refusal(observer);
    let addr = source.addr();
    let (_stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(source.run(handler, async move {
        let _ = stop_rx.await;
    }));
    let big = format!("{}\r\n.\r\n", "x".repeat(300));
    dialogue(
        addr,
        &[
            "EHLO x\r\n",
            "MAIL FROM:<a@b> SIZE=1000\r\n",
            "MAIL TO:<a@b>\r\n",
            "MAIL FROM:<a@b>\r\n",
            "RCPT TO:<other@c.test>\r\n",
            "RCPT TO:<phishing@c.test>\r\n",
            "DATA\r\n",
            &big,
            "QUIT\r\n",
        ],
    )
    .await;
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Refusal::Size,
            Refusal::Syntax,
            Refusal::Recipient,
            Refusal::Size
        ]
    );
}

/// A self-signed certificate for 127.0.0.1: (dir, cert.pem, key.pem).
fn certificate() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    (dir, cert_path, key_path)
}

#[tokio::test]
async fn client_upgrades_with_starttls_and_verifies_the_certificate() {
    let (_dir, cert_path, key_path) = certificate();
    let mut config = SmtpConfig::new("127.0.0.1:0".parse().unwrap());
    config.tls = Some(SmtpTlsConfig {
        cert_path: cert_path.clone(),
        key_path,
    });
    let (addr, kept, _stop) = start(config).await;
    let relay = client::Relay {
        addr: addr.to_string(),
        tls: Some(client::RelayTls::new(&addr.to_string(), Some(&cert_path)).unwrap()),
        credentials: None,
    };
    let data = b"Subject: over tls\r\n\r\nbody\r\n";
    client::send_via(
        &relay,
        "client.test",
        "a@b.test",
        "p@c.test",
        data,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    {
        let kept = kept.lock().unwrap();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].0.tls, "the message went over STARTTLS");
        assert_eq!(kept[0].1, data.to_vec());
    }
    // A certificate from another CA is refused: nothing is sent.
    let (_other_dir, other_cert, _) = certificate();
    let untrusted = client::Relay {
        tls: Some(client::RelayTls::new(&addr.to_string(), Some(&other_cert)).unwrap()),
        ..relay.clone()
    };
    let error = client::send_via(
        &untrusted,
        "c",
        "a@b.test",
        "p@c.test",
        data,
        Duration::from_secs(10),
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    // Credentials go only to a relay that offers AUTH after TLS; ours offers none.
    let with_auth = client::Relay {
        credentials: Some(client::Credentials {
            username: "u".into(),
            password: "secret".into(),
        }),
        ..relay
    };
    let error = client::send_via(
        &with_auth,
        "c",
        "a@b.test",
        "p@c.test",
        data,
        Duration::from_secs(10),
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("neither AUTH PLAIN nor AUTH LOGIN"),
        "{error}"
    );
    assert_eq!(kept.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn client_never_downgrades_or_sends_passwords_in_clear() {
    let (_dir, cert_path, _) = certificate();
    // A relay without STARTTLS when TLS is required: refused before MAIL.
    let (addr, kept, _stop) = start(SmtpConfig::new("127.0.0.1:0".parse().unwrap())).await;
    let relay = client::Relay {
        addr: addr.to_string(),
        tls: Some(client::RelayTls::new(&addr.to_string(), Some(&cert_path)).unwrap()),
        credentials: None,
    };
    let error = client::send_via(
        &relay,
        "c",
        "a@b.test",
        "p@c.test",
        b"x\r\n",
        Duration::from_secs(10),
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("does not offer STARTTLS"),
        "{error}"
    );
    // AUTH without TLS is refused before connecting.
    let clear = client::Relay {
        tls: None,
        credentials: Some(client::Credentials {
            username: "u".into(),
            password: "secret".into(),
        }),
        ..relay
    };
    let error = client::send_via(
        &clear,
        "c",
        "a@b.test",
        "p@c.test",
        b"x\r\n",
        Duration::from_secs(10),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
    assert!(kept.lock().unwrap().is_empty());
    // The password never shows in logs.
    let debug = format!("{:?}", clear.credentials.unwrap());
    assert!(!debug.contains("secret"), "{debug}");
}
