//! Broken input never panics: every path of `parse_message` and `to_inbound` returns.

use crate::fixture;
use concierge_mail::{parse_message, to_inbound};

const FIXTURES: [&str; 6] = [
    "bounced_gmail.eml",
    "mail_with_quote.eml",
    "non_utf_encoded_mail.eml",
    "only_html.eml",
    "only_text.eml",
    "references.eml",
];

/// Parses and converts; a panic caught inside the crate counts as a failure too.
fn survive(raw: &[u8]) {
    match parse_message(raw, "BR") {
        Ok(m) => {
            let _ = to_inbound(&m);
        }
        Err(e) => assert!(
            !e.contains("parser failed"),
            "caught a panic on {:?}",
            String::from_utf8_lossy(raw)
        ),
    }
}

#[test]
fn empty_and_headerless_input_is_an_error() {
    for raw in [
        &b""[..],
        b"\r\n\r\n",
        b"   \n",
        b"just some words\n",
        b"\x00\x01\x02\xff\xfe",
    ] {
        assert!(parse_message(raw, "BR").is_err(), "{raw:?}");
    }
    // A body without a blank line or header names is not a mail either.
    assert!(parse_message(b"\r\nHello, this is only a body\r\n", "BR").is_err());
}

#[test]
fn binary_garbage_never_panics() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [1, 2, 7, 64, 513, 4096, 70_000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        survive(&bytes);
        let mut with_header =
            b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
                .to_vec();
        with_header.extend_from_slice(&bytes);
        survive(&with_header);
    }
}

#[test]
fn truncated_fixtures_never_panic() {
    for name in FIXTURES {
        let raw = fixture(name);
        let step = (raw.len() / 400).max(1);
        for cut in (0..raw.len()).step_by(step) {
            survive(&raw[..cut]);
        }
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut x: u64 = 42;
    let mut next = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize
    };
    let specials = [
        b'\r', b'\n', b'=', b'?', b'<', b'>', b'"', b';', b':', b'-', 0, 0xff, b'{',
    ];
    for name in FIXTURES {
        let raw = fixture(name);
        for _ in 0..150 {
            let mut m = raw.clone();
            for _ in 0..(1 + next() % 8) {
                let i = next() % m.len();
                m[i] = specials[next() % specials.len()];
            }
            survive(&m);
        }
    }
}

#[test]
fn hostile_structures_never_panic() {
    let deep_multipart: String = (0..200)
        .map(|i| format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"))
        .collect();
    let deep_html = format!(
        "From: a@example.com\r\nContent-Type: text/html\r\n\r\n{}",
        "<div><blockquote>".repeat(5000)
    );
    let cases: Vec<Vec<u8>> = vec![
        format!("From: a@example.com\r\n{deep_multipart}").into_bytes(),
        deep_html.into_bytes(),
        b"From: =?UTF-8?B?####?= <a@example.com>\r\nSubject: =?x-unknown?Q?=FF=FE?=\r\n\r\nx".to_vec(),
        b"From: <>\r\nDate: Mon, 99 Foo 99999 99:99:99 +9999\r\nIn-Reply-To: <<<>>>\r\nReferences: < > <\r\n\r\n".to_vec(),
        b"Content-Type: message/rfc822\r\nFrom: a@example.com\r\n\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n".to_vec(),
        b"From: a@example.com\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=z\r\n\r\n--z\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: ;\r\nStatus:\r\nDiagnostic-Code:\r\n  ;\r\n--z--".to_vec(),
        b"From: a@example.com\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!====".to_vec(),
        b"From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n=F\r\n=ZZ\xff\xfe".to_vec(),
    ];
    for raw in cases {
        survive(&raw);
    }
}

#[test]
fn deeply_nested_quotes_do_not_blow_up_the_text() {
    let html = format!("{}{}", "<blockquote>".repeat(3000), "line<br>".repeat(3000));
    let raw = format!("From: a@example.com\r\nContent-Type: text/html\r\n\r\n{html}");
    let m = parse_message(raw.as_bytes(), "BR").unwrap();
    assert!(m.text.len() < 100_000, "{} bytes of text", m.text.len());
}
