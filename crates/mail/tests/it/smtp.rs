//! `send_smtp` against a small scripted SMTP server on 127.0.0.1:0.

use concierge_mail::{build_reply, send_smtp};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug, Default)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    auth: Option<String>,
    data: Vec<u8>,
}

/// Accepts one connection and answers like a relay; `rcpt_reply` / `auth_reply` script failures.
fn smtp_server(rcpt_reply: &'static str, auth_reply: &'static str) -> (u16, JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut w = stream;
        let mut got = Received::default();
        let say = |w: &mut std::net::TcpStream, s: &str| w.write_all(format!("{s}\r\n").as_bytes());
        say(&mut w, "220 test.local ESMTP").unwrap();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let cmd = line.trim_end();
            let upper = cmd.to_ascii_uppercase();
            let reply = if upper.starts_with("EHLO") {
                "250-test.local\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8"
            } else if upper.starts_with("AUTH PLAIN ") {
                got.auth = Some(cmd["AUTH PLAIN ".len()..].to_string());
                auth_reply
            } else if upper.starts_with("MAIL FROM:") {
                got.mail_from = cmd["MAIL FROM:".len()..].to_string();
                "250 2.1.0 ok"
            } else if upper.starts_with("RCPT TO:") {
                got.rcpt_to.push(cmd["RCPT TO:".len()..].to_string());
                rcpt_reply
            } else if upper == "DATA" {
                say(&mut w, "354 go ahead").unwrap();
                loop {
                    let mut l = Vec::new();
                    if r.read_until(b'\n', &mut l).unwrap_or(0) == 0 || l == b".\r\n" {
                        break;
                    }
                    // RFC 5321 §4.5.2 transparency: a leading dot was doubled.
                    let l = if l.starts_with(b"..") {
                        &l[1..]
                    } else {
                        &l[..]
                    };
                    got.data.extend_from_slice(l);
                }
                "250 2.0.0 queued"
            } else if upper == "QUIT" {
                let _ = say(&mut w, "221 2.0.0 bye");
                break;
            } else if upper == "RSET" || upper == "NOOP" {
                "250 2.0.0 ok"
            } else {
                "502 5.5.2 unknown command"
            };
            if say(&mut w, reply).is_err() {
                break;
            }
        }
        got
    });
    (port, handle)
}

fn reply_bytes() -> Vec<u8> {
    build_reply(
        "Loja <atendimento@loja.example>",
        "ana@example.com",
        "Pedido",
        "Olá!\n.\n..two dots\nfim",
        Some("abc@example.com"),
        &[],
        None,
    )
    .unwrap()
    .1
}

#[test]
fn message_arrives_with_envelope_and_credentials_from_the_url() {
    let (port, server) = smtp_server("250 2.1.5 ok", "235 2.7.0 ok");
    let raw = reply_bytes();
    let url = format!("smtp://ana%40shop.example:s3cr%3At@127.0.0.1:{port}");
    send_smtp(&url, "bounces@loja.example", &["ana@example.com"], &raw).unwrap();
    let got = server.join().unwrap();
    assert_eq!(
        got.mail_from.split_whitespace().next(),
        Some("<bounces@loja.example>")
    );
    assert_eq!(got.rcpt_to, vec!["<ana@example.com>".to_string()]);
    // base64("\0ana@shop.example\0s3cr:t")
    assert_eq!(
        got.auth.as_deref(),
        Some("AGFuYUBzaG9wLmV4YW1wbGUAczNjcjp0")
    );
    let mut expected = raw.clone();
    if !expected.ends_with(b"\r\n") {
        expected.extend_from_slice(b"\r\n");
    }
    assert_eq!(
        String::from_utf8_lossy(&got.data),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn permanent_rejection_is_not_retryable() {
    let (port, server) = smtp_server("550 5.1.1 no such user", "235 ok");
    let err = send_smtp(
        &format!("smtp://127.0.0.1:{port}"),
        "bounces@loja.example",
        &["nobody@example.com"],
        &reply_bytes(),
    )
    .unwrap_err();
    assert!(!err.retryable, "{err:?}");
    assert!(
        err.message.contains("550") || err.message.contains("no such user"),
        "{err:?}"
    );
    server.join().unwrap();
}

#[test]
fn temporary_rejection_is_retryable() {
    let (port, server) = smtp_server("451 4.3.0 try again later", "235 ok");
    let err = send_smtp(
        &format!("smtp://127.0.0.1:{port}"),
        "bounces@loja.example",
        &["ana@example.com"],
        &reply_bytes(),
    )
    .unwrap_err();
    assert!(err.retryable, "{err:?}");
    server.join().unwrap();
}

#[test]
fn refused_credentials_wait_for_a_fixed_configuration() {
    let (port, server) = smtp_server("250 ok", "535 5.7.8 bad credentials");
    let err = send_smtp(
        &format!("smtp://u:wrong@127.0.0.1:{port}"),
        "bounces@loja.example",
        &["ana@example.com"],
        &reply_bytes(),
    )
    .unwrap_err();
    assert!(err.retryable, "{err:?}");
    server.join().unwrap();
}

#[test]
fn connection_failure_is_retryable_and_bad_input_is_not() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let raw = reply_bytes();
    let err = send_smtp(
        &format!("smtp://127.0.0.1:{port}"),
        "a@x.example",
        &["b@x.example"],
        &raw,
    )
    .unwrap_err();
    assert!(err.retryable, "{err:?}");

    for (url, from, to) in [
        ("http://127.0.0.1:25", "a@x.example", "b@x.example"),
        (
            "smtp://127.0.0.1:25?tls=maybe",
            "a@x.example",
            "b@x.example",
        ),
        ("not a url", "a@x.example", "b@x.example"),
        ("smtp://127.0.0.1:25", "not an address", "b@x.example"),
        (
            "smtp://127.0.0.1:25",
            "a@x.example",
            "b@x.example\r\nRCPT TO:<c@x.example>",
        ),
    ] {
        let err = send_smtp(url, from, &[to], &raw).unwrap_err();
        assert!(!err.retryable, "{url} {from} {to}: {err:?}");
    }
}
