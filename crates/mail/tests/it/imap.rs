//! `poll_imap` against a small scripted IMAP server on 127.0.0.1:0 that answers with literals,
//! interleaves unsolicited responses and orders FETCH items as real servers do.

use concierge_mail::{parse_message, poll_imap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

struct Mailbox {
    user: &'static str,
    password: &'static str,
    mails: Vec<(u32, Vec<u8>)>,
}

/// Serves one connection; returns every command line the client sent (literals inlined).
fn imap_server(mailbox: Mailbox) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut w = stream;
        let mut log = Vec::new();
        w.write_all(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] test server ready\r\n")
            .unwrap();
        while let Some(cmd) = read_command(&mut r, &mut w) {
            log.push(String::from_utf8_lossy(&cmd).into_owned());
            let text = String::from_utf8_lossy(&cmd).into_owned();
            let (tag, rest) = text.split_once(' ').unwrap_or((&text, ""));
            let upper = rest.to_ascii_uppercase();
            let out: Vec<u8> = if upper.starts_with("LOGIN") {
                let want = login_line(mailbox.user, mailbox.password);
                if rest.as_bytes() == want.as_slice() {
                    format!("{tag} OK LOGIN completed\r\n").into_bytes()
                } else {
                    format!("{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n").into_bytes()
                }
            } else if upper.starts_with("SELECT") {
                format!(
                    "* {} EXISTS\r\n* OK [UIDVALIDITY 77] UIDs valid\r\n* FLAGS (\\Seen \\Answered)\r\n\
                     {tag} OK [READ-WRITE] SELECT completed\r\n",
                    mailbox.mails.len()
                )
                .into_bytes()
            } else if let Some(range) = upper.strip_prefix("UID SEARCH UID ") {
                let from: u32 = range.trim_end_matches(":*").parse().unwrap();
                let max = mailbox.mails.iter().map(|m| m.0).max();
                let mut uids: Vec<u32> = mailbox
                    .mails
                    .iter()
                    .map(|m| m.0)
                    .filter(|&u| u >= from)
                    .collect();
                // `n:*` includes the highest UID even when it is below n (RFC 9051 §6.4.8).
                if uids.is_empty() {
                    uids.extend(max);
                }
                let list: Vec<String> = uids.iter().map(u32::to_string).collect();
                format!(
                    "* SEARCH {}\r\n{tag} OK SEARCH completed\r\n",
                    list.join(" ")
                )
                .into_bytes()
            } else if upper.starts_with("UID FETCH ") {
                let mut parts = rest["UID FETCH ".len()..].splitn(2, ' ');
                let set = parse_set(parts.next().unwrap());
                let items = parts.next().unwrap_or_default().to_ascii_uppercase();
                let mut out = Vec::new();
                for (seq, (uid, body)) in mailbox.mails.iter().enumerate() {
                    if !set.contains(uid) {
                        continue;
                    }
                    let seq = seq + 1;
                    if items.contains("RFC822.SIZE") {
                        out.extend(
                            format!("* {seq} FETCH (UID {uid} RFC822.SIZE {})\r\n", body.len())
                                .bytes(),
                        );
                    } else if uid % 2 == 0 {
                        // UID after the literal, flags too.
                        out.extend(format!("* {seq} FETCH (BODY[] {{{}}}\r\n", body.len()).bytes());
                        out.extend_from_slice(body);
                        out.extend(
                            format!(
                                " UID {uid} FLAGS (\\Seen))\r\n* {} EXISTS\r\n",
                                mailbox.mails.len()
                            )
                            .bytes(),
                        );
                    } else {
                        out.extend(
                            format!("* {seq} FETCH (UID {uid} BODY[] {{{}}}\r\n", body.len())
                                .bytes(),
                        );
                        out.extend_from_slice(body);
                        out.extend_from_slice(b")\r\n");
                    }
                }
                out.extend(format!("{tag} OK FETCH completed\r\n").bytes());
                out
            } else if upper.starts_with("LOGOUT") {
                let _ = w.write_all(
                    format!("* BYE logging out\r\n{tag} OK LOGOUT completed\r\n").as_bytes(),
                );
                break;
            } else {
                format!("{tag} BAD unknown command\r\n").into_bytes()
            };
            if w.write_all(&out).is_err() {
                break;
            }
        }
        log
    });
    (port, handle)
}

/// What the client must send after `LOGIN `: quoted strings, or a literal for non-ASCII.
fn login_line(user: &str, password: &str) -> Vec<u8> {
    let arg = |s: &str| {
        if s.is_ascii() {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")).into_bytes()
        } else {
            let mut v = format!("{{{}}}\r\n", s.len()).into_bytes();
            v.extend_from_slice(s.as_bytes());
            v
        }
    };
    let mut line = b"LOGIN ".to_vec();
    line.extend(arg(user));
    line.push(b' ');
    line.extend(arg(password));
    line
}

/// One command line; a `{n}` at a line end is a literal: say `+`, read n bytes, go on.
fn read_command(r: &mut impl BufRead, w: &mut impl Write) -> Option<Vec<u8>> {
    let mut cmd = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        let line = line.strip_suffix(b"\r\n")?;
        cmd.extend_from_slice(line);
        let text = String::from_utf8_lossy(line);
        let Some(n) = text
            .strip_suffix('}')
            .and_then(|t| t.rsplit_once('{'))
            .and_then(|(_, n)| n.parse::<usize>().ok())
        else {
            return Some(cmd);
        };
        cmd.extend_from_slice(b"\r\n");
        w.write_all(b"+ go ahead\r\n").ok()?;
        let mut lit = vec![0; n];
        r.read_exact(&mut lit).ok()?;
        cmd.extend_from_slice(&lit);
    }
}

fn parse_set(set: &str) -> Vec<u32> {
    set.split(',')
        .flat_map(|p| match p.split_once(':') {
            Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<u32>>(),
            None => vec![p.parse().unwrap()],
        })
        .collect()
}

fn mail(n: u32) -> Vec<u8> {
    // Bodies that look like protocol: a `)`, a fake literal marker, a tagged-looking line.
    format!(
        "From: c{n}@example.com\r\nSubject: mail {n}\r\nMessage-ID: <m{n}@example.com>\r\n\r\n\
         body {n} (with parens)\r\n{{12}}\r\na1 OK not really\r\n"
    )
    .into_bytes()
}

#[test]
fn fetches_new_mail_in_uid_order_with_literals() {
    let (port, server) = imap_server(Mailbox {
        user: "care@shop.example",
        password: "p@ss \"word\"",
        mails: vec![(3, mail(3)), (5, mail(5)), (8, mail(8)), (9, mail(9))],
    });
    let url = format!("imap://care%40shop.example:p%40ss%20%22word%22@127.0.0.1:{port}");
    let (max, mails) = poll_imap(&url, 3).unwrap();
    assert_eq!(max, 9);
    assert_eq!(mails, vec![mail(5), mail(8), mail(9)]);
    let parsed = parse_message(&mails[1], "BR").unwrap();
    assert_eq!(parsed.message_id, "m8@example.com");

    let log = server.join().unwrap();
    let verbs: Vec<String> = log
        .iter()
        .map(|l| {
            l.split_once(' ')
                .unwrap()
                .1
                .split(' ')
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        verbs,
        [
            "LOGIN \"care@shop.example\"",
            "SELECT \"INBOX\"",
            "UID SEARCH",
            "UID FETCH",
            "UID FETCH",
            "LOGOUT"
        ]
    );
    assert!(log[2].ends_with("UID SEARCH UID 4:*"), "{}", log[2]);
    assert!(
        log[4].ends_with("UID FETCH 5,8:9 (UID BODY.PEEK[])"),
        "{}",
        log[4]
    );
}

#[test]
fn nothing_new_keeps_the_uid_even_though_n_star_matches_the_last_mail() {
    let (port, server) = imap_server(Mailbox {
        user: "u",
        password: "p",
        mails: vec![(3, mail(3)), (9, mail(9))],
    });
    let (max, mails) = poll_imap(&format!("imap://u:p@127.0.0.1:{port}/INBOX"), 9).unwrap();
    assert_eq!((max, mails.len()), (9, 0));
    let log = server.join().unwrap();
    assert!(!log.iter().any(|l| l.contains("FETCH")), "{log:?}");
}

#[test]
fn non_ascii_password_goes_as_a_literal() {
    let (port, server) = imap_server(Mailbox {
        user: "joão",
        password: "senha-çã",
        mails: vec![(1, mail(1))],
    });
    let url = format!("imap://jo%C3%A3o:senha-%C3%A7%C3%A3@127.0.0.1:{port}");
    let (max, mails) = poll_imap(&url, 0).unwrap();
    assert_eq!((max, mails), (1, vec![mail(1)]));
    server.join().unwrap();
}

#[test]
fn refused_login_is_an_error_naming_the_command_not_the_password() {
    let (port, server) = imap_server(Mailbox {
        user: "u",
        password: "right",
        mails: vec![],
    });
    let err = poll_imap(&format!("imap://u:wrong-secret@127.0.0.1:{port}"), 0).unwrap_err();
    assert!(
        err.contains("LOGIN") && err.contains("AUTHENTICATIONFAILED"),
        "{err}"
    );
    assert!(!err.contains("wrong-secret"), "{err}");
    server.join().unwrap();
}

#[test]
fn a_server_that_hangs_up_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"* OK ready\r\n").unwrap();
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf);
        s.write_all(b"* 1 FETCH (BODY[] {500}\r\nshort").unwrap();
    });
    let err = poll_imap(&format!("imap://u:p@127.0.0.1:{port}"), 0).unwrap_err();
    assert!(!err.is_empty());
    server.join().unwrap();
}
