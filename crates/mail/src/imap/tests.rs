//! Unit tests of the IMAP client; the TLS ones need a trust root the public API does not take.

use super::*;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection};
use std::io::BufRead;
use std::net::TcpListener;

const CA: &[u8] = include_bytes!("../../testdata/tls/ca.der");
const LEAF: &[u8] = include_bytes!("../../testdata/tls/leaf.der");
const LEAF_KEY: &[u8] = include_bytes!("../../testdata/tls/leaf.key.der");
const MAIL: &[u8] = b"From: a@example.com\r\nSubject: over tls\r\n\r\nhello\r\n";

#[test]
fn uid_sets_are_compressed_into_ranges() {
    assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
    assert_eq!(uid_set(&[5]), "5");
}

#[test]
fn urls_give_security_port_credentials_and_mailbox() {
    let c =
        ImapConfig::parse("imaps://ana%40shop.example:p%40ss%20w@imap.example/Support").unwrap();
    assert_eq!(c.security, Security::Tls);
    assert_eq!(c.port, 993);
    assert_eq!(c.user, "ana@shop.example");
    assert_eq!(c.password, "p@ss w");
    assert_eq!(c.mailbox, "Support");
    let c = ImapConfig::parse("imap://u:p@127.0.0.1:1143?tls=starttls").unwrap();
    assert_eq!(
        (c.security, c.port, c.mailbox.as_str()),
        (Security::StartTls, 1143, "INBOX")
    );
    assert!(ImapConfig::parse("pop3://u:p@h").is_err());
    assert!(ImapConfig::parse("imap://h").is_err());
}

fn server_tls() -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = vec![
        CertificateDer::from(LEAF.to_vec()),
        CertificateDer::from(CA.to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(LEAF_KEY.to_vec()));
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

fn test_roots() -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(CA.to_vec())).unwrap();
    tls_with_roots(roots)
}

fn tls_stream(tcp: TcpStream) -> StreamOwned<ServerConnection, TcpStream> {
    StreamOwned::new(ServerConnection::new(server_tls()).unwrap(), tcp)
}

/// Answers one session holding `MAIL` at UID 1, from after the greeting.
fn serve_one_mail<S: Read + Write>(stream: S) {
    let mut io = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let (tag, cmd) = line.trim_end().split_once(' ').unwrap();
        let reply = if cmd.starts_with("LOGIN") || cmd.starts_with("SELECT") {
            format!("{tag} OK done\r\n").into_bytes()
        } else if cmd.starts_with("UID SEARCH") {
            format!("* SEARCH 1\r\n{tag} OK done\r\n").into_bytes()
        } else if cmd.contains("RFC822.SIZE") {
            format!(
                "* 1 FETCH (UID 1 RFC822.SIZE {})\r\n{tag} OK done\r\n",
                MAIL.len()
            )
            .into_bytes()
        } else if cmd.contains("BODY.PEEK[]") {
            let mut r = format!("* 1 FETCH (UID 1 BODY[] {{{}}}\r\n", MAIL.len()).into_bytes();
            r.extend_from_slice(MAIL);
            r.extend_from_slice(format!(")\r\n{tag} OK done\r\n").as_bytes());
            r
        } else {
            let _ = io
                .get_mut()
                .write_all(format!("* BYE\r\n{tag} OK bye\r\n").as_bytes());
            let _ = io.get_mut().flush();
            return;
        };
        if io
            .get_mut()
            .write_all(&reply)
            .and_then(|()| io.get_mut().flush())
            .is_err()
        {
            return;
        }
    }
}

fn listen() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn implicit_tls_fetches_mail() {
    let (listener, port) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut tls = tls_stream(tcp);
        tls.write_all(b"* OK ready\r\n").unwrap();
        serve_one_mail(tls);
    });
    let config = ImapConfig::parse(&format!("imaps://u:p@127.0.0.1:{port}")).unwrap();
    assert_eq!(
        poll(&config, 0, test_roots).unwrap(),
        (1, vec![MAIL.to_vec()])
    );
    server.join().unwrap();
}

#[test]
fn starttls_upgrades_before_login() {
    let (listener, port) = listen();
    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.write_all(b"* OK ready\r\n").unwrap();
        let mut line = String::new();
        BufReader::new(&mut tcp).read_line(&mut line).unwrap();
        let (tag, cmd) = line.trim_end().split_once(' ').unwrap();
        assert_eq!(cmd, "STARTTLS", "the client must not log in in the clear");
        tcp.write_all(format!("{tag} OK begin TLS\r\n").as_bytes())
            .unwrap();
        serve_one_mail(tls_stream(tcp));
    });
    let url = format!("imap://u:p@localhost:{port}?tls=starttls");
    let config = ImapConfig::parse(&url).unwrap();
    assert_eq!(
        poll(&config, 0, test_roots).unwrap(),
        (1, vec![MAIL.to_vec()])
    );
    server.join().unwrap();
}

#[test]
fn plaintext_injected_after_starttls_is_refused() {
    let (listener, port) = listen();
    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.write_all(b"* OK ready\r\n").unwrap();
        let mut line = String::new();
        BufReader::new(&mut tcp).read_line(&mut line).unwrap();
        let tag = line.split(' ').next().unwrap().to_string();
        // One write: the client reads both lines into its buffer before switching to TLS.
        let _ = tcp.write_all(format!("{tag} OK begin TLS\r\n* PREAUTH injected\r\n").as_bytes());
    });
    let config = ImapConfig::parse(&format!("imap://u:p@127.0.0.1:{port}?tls=starttls")).unwrap();
    let err = poll(&config, 0, test_roots).unwrap_err();
    assert!(err.contains("after STARTTLS"), "{err}");
    server.join().unwrap();
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let (listener, port) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut tls = tls_stream(tcp);
        let _ = tls.write_all(b"* OK ready\r\n");
    });
    let config = ImapConfig::parse(&format!("imaps://u:p@127.0.0.1:{port}")).unwrap();
    let err = poll(&config, 0, default_tls).unwrap_err();
    assert!(err.to_ascii_lowercase().contains("certificate"), "{err}");
    server.join().unwrap();
}
