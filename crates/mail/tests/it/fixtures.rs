//! Every shared e-mail fixture parsed into concrete expected values.

use crate::fixture;
use concierge_mail::{parse_message, to_inbound, MailIn, MailKind};
use concierge_types::conversation::{Content, Direction};
use concierge_types::{Identifier, IdentifierKind};

fn parse(name: &str) -> MailIn {
    parse_message(&fixture(name), "BR").unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn gmail_reply_with_quote_threads_under_its_first_reference() {
    let m = parse("mail_with_quote.eml");
    assert_eq!(
        m.message_id,
        "CAFkiBVwJjO_k_e-LpiKi7MAQAKbHX5nkEPcf0y1R=bjcEHogMg@mail.gmail.com"
    );
    assert!(!m.message_id_synthesized);
    let ses = "0100017b5d8efc70-c7f18809-aa55-48f6-91fd-b626092ed8b3-000000@email.amazonses.com";
    let first = "CAFkiBVxGoURoqdkY-O_25F-8b41kb-GWBc6hh4Djd5ynwOikXA@mail.gmail.com";
    assert_eq!(m.in_reply_to.as_deref(), Some(ses));
    assert_eq!(m.references, vec![first.to_string(), ses.to_string()]);
    assert_eq!(m.thread_root, first);
    let from = m.from.as_ref().unwrap();
    assert_eq!(from.address, "sony@chatwoot.com");
    assert_eq!(from.name.as_deref(), Some("Sony Mathew"));
    assert_eq!(
        m.to[0].address,
        "reply+6bdc3f4d-0bec-4515-a284-5d916fdde489@example.com"
    );
    assert_eq!(m.to[0].name.as_deref(), Some("Tejaswini"));
    assert_eq!(m.subject, "Re: Checking mail forwarding to cw inbox");
    // Thu, 19 Aug 2021 14:14:31 +0530
    assert_eq!(m.date, Some(1_629_362_671_000));
    assert!(m.text.contains("> Any update on this?"));
    assert!(m.text.contains("Software developer"));
    assert_eq!(
        m.new_text,
        "Yes, I am providing you step how to reproduce this issue"
    );
    assert_eq!(m.kind, MailKind::Customer);
    assert!(m.attachments.is_empty());
    let html = m.html.as_deref().unwrap();
    assert!(html.contains(r#"<a href="mailto:tejaswini@chatwoot.com" rel="noopener noreferrer">"#));

    let msg = to_inbound(&m).unwrap();
    assert_eq!(msg.provider_id, m.message_id);
    assert_eq!(msg.thread, first);
    assert_eq!(msg.direction, Direction::Incoming);
    assert_eq!(msg.ts, 1_629_362_671_000);
    assert_eq!(msg.reply_to.as_deref(), Some(ses));
    assert_eq!(
        msg.content,
        Content::Text {
            text: "Yes, I am providing you step how to reproduce this issue".into()
        }
    );
    assert_eq!(
        msg.contact.identifiers,
        vec![Identifier::parse(IdentifierKind::Email, "sony@chatwoot.com", "BR").unwrap()]
    );
    assert_eq!(msg.contact.name.as_deref(), Some("Sony Mathew"));
}

#[test]
fn arabic_rfc2047_auto_reply_is_not_a_conversation_message() {
    let m = parse("non_utf_encoded_mail.eml");
    assert_eq!(
        m.message_id,
        "CAEjnyt3uiyywAF3SrJzEedMRV5H5XG4aYvFrGdFwxtuGoRCc0w@mail.gmail.com"
    );
    // The same id twice in one In-Reply-To counts once.
    assert_eq!(
        m.in_reply_to.as_deref(),
        Some("4e6e35f5a38b4_479f13bb90078178@small-app-01.mail")
    );
    assert!(m.references.is_empty());
    assert_eq!(
        m.thread_root,
        "4e6e35f5a38b4_479f13bb90078178@small-app-01.mail"
    );
    let from = m.from.as_ref().unwrap();
    assert_eq!(from.address, "example@gmail.com");
    assert_eq!(from.name.as_deref(), Some("متجر سوق نت"));
    assert_eq!(m.subject, "أهلين عميلنا الكريم");
    assert_eq!(
        m.text,
        "أنظروا، أنا أحتاجها فقط لتقوم بالتدقيق في مقالتي الشخصية"
    );
    assert_eq!(m.html, None);
    assert!(
        matches!(&m.kind, MailKind::AutoReply { reason } if reason.starts_with("Auto-Submitted")),
        "{:?}",
        m.kind
    );
    assert_eq!(to_inbound(&m), None);
}

#[test]
fn gmail_bounce_names_the_failed_recipient_and_our_bounced_mail() {
    let m = parse("bounced_gmail.eml");
    assert_eq!(
        m.message_id,
        "686707c9.050a0220.302e7d.0cb2.GMR@mx.google.com"
    );
    assert_eq!(m.subject, "Delivery Status Notification (Failure)");
    assert_eq!(
        m.from.as_ref().unwrap().address,
        "mailer-daemon@googlemail.com"
    );
    let MailKind::Bounce(b) = &m.kind else {
        panic!("not a bounce: {:?}", m.kind)
    };
    assert_eq!(
        b.recipients,
        vec!["alex.jones@fictionalcorp.com".to_string()]
    );
    assert_eq!(b.status.as_deref(), Some("5.1.1"));
    let diagnostic = b.diagnostic.as_deref().unwrap();
    assert!(
        diagnostic
            .starts_with("550 5.1.1 The email account that you tried to reach does not exist."),
        "{diagnostic}"
    );
    assert!(diagnostic.ends_with("- gsmtp"), "{diagnostic}");
    assert_eq!(
        b.original_message_id.as_deref(),
        Some("conversation/93775311-9416-4428-964b-862001f8a8b2/messages/27855337@gmail.com")
    );
    assert!(b.is_permanent());
    // The report's parts are described, not kept.
    let mimes: Vec<&str> = m.attachments.iter().map(|a| a.mime_type.as_str()).collect();
    assert_eq!(
        mimes,
        ["image/png", "message/delivery-status", "message/rfc822"]
    );
    assert_eq!(m.attachments[0].filename.as_deref(), Some("icon.png"));
    assert_eq!(m.attachments[0].content_id.as_deref(), Some("icon.png"));
    // The inline icon is the mail's own part, so it may stay.
    assert!(m.html.as_deref().unwrap().contains(r#"src="cid:icon.png""#));
    assert_eq!(to_inbound(&m), None);
}

#[test]
fn html_only_mail_gets_text_and_clean_html() {
    let m = parse("only_html.eml");
    assert_eq!(
        m.message_id,
        "6215d71711c38_10bc61914022323@tejaswinis-MacBook-Pro.local.mail"
    );
    // An empty In-Reply-To is no reply.
    assert_eq!(m.in_reply_to, None);
    assert_eq!(m.thread_root, m.message_id);
    assert_eq!(m.from.as_ref().unwrap().address, "tejaswini@ex.com");
    assert_eq!(m.from.as_ref().unwrap().name, None);
    assert_eq!(m.subject, "test html only mail");
    assert_eq!(m.text, "This is html only mail");
    assert_eq!(
        m.html.as_deref(),
        Some("<h1>\nThis is html only mail\n</h1>")
    );
    assert_eq!(m.kind, MailKind::Customer);
    let msg = to_inbound(&m).unwrap();
    assert_eq!(
        msg.content,
        Content::Text {
            text: "This is html only mail".into()
        }
    );
    assert_eq!(msg.thread, m.message_id);
}

#[test]
fn plain_text_mail() {
    let m = parse("only_text.eml");
    assert_eq!(
        m.message_id,
        "6215e5ca3e3b2_10bc6197e4224d1@tejaswinis-MacBook-Pro.local.mail"
    );
    assert_eq!(m.thread_root, m.message_id);
    assert_eq!(m.from.as_ref().unwrap().address, "text@example.com");
    assert_eq!(m.to[0].address, "care@example.com");
    assert_eq!(m.subject, "test text only mail");
    assert_eq!(m.text, "text only mail");
    assert_eq!(m.new_text, "text only mail");
    assert_eq!(m.html, None);
    assert_eq!(m.date, Some(1_645_602_250_000));
    assert_eq!(m.kind, MailKind::Customer);
}

#[test]
fn apple_mail_reply_with_two_references_and_no_closing_boundary() {
    let m = parse("references.eml");
    assert_eq!(
        m.message_id,
        "0CB459E0-0336-41DA-BC88-E6E28C697DDBF@chatwoot.com"
    );
    assert_eq!(
        m.in_reply_to.as_deref(),
        Some("4e6e35f5a38b4_479f13bb90078178@small-app-01.mail")
    );
    assert_eq!(
        m.references,
        vec![
            "4e6e35f5a38b4_479f13bb90078178@small-app-01.mail".to_string(),
            "test-in-reply-to".to_string()
        ]
    );
    assert_eq!(
        m.thread_root,
        "4e6e35f5a38b4_479f13bb90078178@small-app-01.mail"
    );
    assert_eq!(m.subject, "Discussion: Let's debate these attachments");
    assert_eq!(m.text, "References Email");
    assert_eq!(m.kind, MailKind::Customer);
}

#[test]
fn hand_made_hostile_html_comes_out_clean() {
    let raw = b"From: Eve <eve@example.com>\r\n\
To: care@example.com\r\n\
Subject: hi\r\n\
Message-ID: <evil-1@example.com>\r\n\
Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><head><title>t</title><style>body{background:url(https://t.example/bg)}</style>\
<script>alert('head')</script></head>\
<body onload=\"steal()\"><p>Hello <b>there</b></p>\
<img src=\"x\" onerror=\"alert(1)\"><img src=\"https://tracker.example/pixel.gif\">\
<a href=\"javascript:alert(2)\">click</a> <a href=\"JaVaScRiPt:alert(3)\">again</a>\
<a href=\"https://shop.example/order/1\" target=\"_blank\" onclick=\"x()\">order</a>\
<svg><script>alert(4)</script></svg><iframe src=\"https://evil.example\"></iframe>\
<form action=\"https://evil.example\"><input name=p></form>\
<div style=\"background-image:url(https://t.example/x)\">styled</div>\
<script>document.cookie</script></body></html>\r\n";
    let m = parse_message(raw, "BR").unwrap();
    let html = m.html.as_deref().unwrap();
    for bad in [
        "<script",
        "alert",
        "onerror",
        "onload",
        "onclick",
        "javascript",
        "tracker.example",
        "t.example",
        "<iframe",
        "<form",
        "<input",
        "<svg",
        "document.cookie",
        "<title",
    ] {
        assert!(
            !html
                .to_ascii_lowercase()
                .contains(&bad.to_ascii_lowercase()),
            "{bad} in {html}"
        );
    }
    assert!(
        html.contains(
            r#"<a href="https://shop.example/order/1" rel="noopener noreferrer">order</a>"#
        ),
        "{html}"
    );
    assert!(html.contains("<p>Hello <b>there</b></p>"), "{html}");
    // The derived text has no script or style content either.
    assert!(
        !m.text.contains("alert") && !m.text.contains("background"),
        "{}",
        m.text
    );
    assert!(m.text.starts_with("Hello there"), "{}", m.text);
}
