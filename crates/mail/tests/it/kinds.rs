//! Telling customers from auto-responders and delivery reports, header by header.

use concierge_mail::{parse_message, to_inbound, MailKind};

fn kind_of(extra_headers: &str) -> MailKind {
    let raw = format!(
        "From: Ana <ana@example.com>\r\nTo: care@shop.example\r\nSubject: x\r\n\
         Message-ID: <k@example.com>\r\n{extra_headers}\r\nbody\r\n"
    );
    parse_message(raw.as_bytes(), "BR").unwrap().kind
}

fn is_auto(kind: &MailKind, header: &str) -> bool {
    matches!(kind, MailKind::AutoReply { reason } if reason.starts_with(header))
}

#[test]
fn rfc_3834_and_vendor_auto_reply_headers() {
    assert!(is_auto(
        &kind_of("Auto-Submitted: auto-generated\r\n"),
        "Auto-Submitted"
    ));
    assert!(is_auto(
        &kind_of("Auto-Submitted: auto-replied; owner-email=x@y\r\n"),
        "Auto-Submitted"
    ));
    assert!(is_auto(
        &kind_of("X-Autorespond: vacation\r\n"),
        "X-Autorespond"
    ));
    assert!(is_auto(&kind_of("X-Autoreply: yes\r\n"), "X-Autoreply"));
    for p in ["bulk", "junk", "auto_reply", "Bulk"] {
        assert!(
            is_auto(&kind_of(&format!("Precedence: {p}\r\n")), "Precedence"),
            "{p}"
        );
    }
    assert!(is_auto(&kind_of("Return-Path: <>\r\n"), "Return-Path"));
}

#[test]
fn people_are_customers() {
    assert_eq!(kind_of("Auto-Submitted: no\r\n"), MailKind::Customer);
    assert_eq!(kind_of("Precedence: list\r\n"), MailKind::Customer);
    assert_eq!(
        kind_of("Return-Path: <ana@example.com>\r\n"),
        MailKind::Customer
    );
    assert_eq!(kind_of(""), MailKind::Customer);
}

#[test]
fn postfix_style_report_with_dsn_fields_and_returned_headers() {
    let raw = b"Return-Path: <>\r\n\
From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)\r\n\
To: bounces@shop.example\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Message-Id: <20240305.ABC@mx.shop.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\
\r\n\
--B\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
I'm sorry to have to inform you that your message could not be delivered.\r\n\
--B\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.shop.example\r\n\
\r\n\
Final-Recipient: rfc822; Gone@Example.org\r\n\
Original-Recipient: rfc822;gone@example.org\r\n\
Action: failed\r\n\
Status: 5.2.1\r\n\
Diagnostic-Code: smtp; 550 5.2.1 The email account that you tried to reach is\r\n\
\t disabled.\r\n\
\r\n\
Final-Recipient: rfc822; slow@example.net\r\n\
Action: delayed\r\n\
Status: 4.4.1\r\n\
--B\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: care@shop.example\r\n\
To: gone@example.org\r\n\
Subject: Re: your order\r\n\
Message-ID: <ours-123@shop.example>\r\n\
--B--\r\n";
    let m = parse_message(raw, "BR").unwrap();
    let MailKind::Bounce(b) = &m.kind else {
        panic!("{:?}", m.kind)
    };
    assert_eq!(b.recipients, vec!["gone@example.org".to_string()]);
    assert_eq!(b.status.as_deref(), Some("5.2.1"));
    assert_eq!(
        b.diagnostic.as_deref(),
        Some("550 5.2.1 The email account that you tried to reach is disabled.")
    );
    assert_eq!(
        b.original_message_id.as_deref(),
        Some("ours-123@shop.example")
    );
    assert!(b.is_permanent());
    assert_eq!(to_inbound(&m), None);
}

#[test]
fn a_daemon_with_a_null_sender_is_a_bounce_even_without_a_report() {
    let raw =
        b"Return-Path: <>\r\nFrom: postmaster@mail.example.org\r\nSubject: failure notice\r\n\
Date: Tue, 5 Mar 2024 10:00:00 +0000\r\n\r\n\
Hi. This is the qmail-send program.\r\n\r\n\
<gone@example.org>:\r\n452 4.2.2 Mailbox full, try again later\r\n";
    let m = parse_message(raw, "BR").unwrap();
    let MailKind::Bounce(b) = &m.kind else {
        panic!("{:?}", m.kind)
    };
    assert!(b.reason.contains("postmaster"), "{}", b.reason);
    assert_eq!(b.status.as_deref(), Some("4.2.2"));
    assert!(!b.is_permanent());
    // Nothing names the recipient in a machine-readable way; the text is for a person.
    assert!(b.recipients.is_empty());
}
