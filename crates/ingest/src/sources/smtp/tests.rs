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
