//! Replies re-parsed as a customer's client would read them.

use crate::fixture;
use concierge_mail::{build_reply, parse_message, MailKind};

#[test]
fn reply_threads_under_the_customer_mail_and_keeps_one_re() {
    let customer = parse_message(&fixture("mail_with_quote.eml"), "BR").unwrap();
    let (id, raw) = build_reply(
        "Loja Exemplo <atendimento@loja.example>",
        &customer.from.as_ref().unwrap().address,
        &customer.subject,
        "Olá Sony,\nclaro, já vamos ver.\n.leading dot stays\n",
        Some(&customer.message_id),
        &customer.references,
        None,
    )
    .unwrap();

    let reply = parse_message(&raw, "BR").unwrap();
    assert_eq!(reply.message_id, id);
    assert!(id.ends_with("@loja.example"), "{id}");
    assert_eq!(reply.subject, "Re: Checking mail forwarding to cw inbox");
    assert_eq!(
        reply.in_reply_to.as_deref(),
        Some(customer.message_id.as_str())
    );
    let mut expected = customer.references.clone();
    expected.push(customer.message_id.clone());
    assert_eq!(reply.references, expected);
    // Same conversation on both sides.
    assert_eq!(reply.thread_root, customer.thread_root);
    let from = reply.from.as_ref().unwrap();
    assert_eq!(from.address, "atendimento@loja.example");
    assert_eq!(from.name.as_deref(), Some("Loja Exemplo"));
    assert_eq!(reply.to[0].address, "sony@chatwoot.com");
    assert_eq!(
        reply.text,
        "Olá Sony,\nclaro, já vamos ver.\n.leading dot stays"
    );
    assert!(reply.date.is_some());
    assert_eq!(reply.kind, MailKind::Customer);
    // Headers are 7-bit: non-ASCII travels encoded.
    let head = &raw[..raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap()];
    assert!(head.is_ascii());
}

#[test]
fn first_reply_to_a_new_mail_and_an_encoded_subject() {
    let customer = parse_message(&fixture("non_utf_encoded_mail.eml"), "BR").unwrap();
    let (_, raw) = build_reply(
        "care@example.com",
        "example@gmail.com",
        &format!("RE: {}", customer.subject),
        "شكرا",
        Some(&format!("<{}>", customer.message_id)),
        &[],
        None,
    )
    .unwrap();
    let reply = parse_message(&raw, "BR").unwrap();
    assert_eq!(reply.subject, "Re: أهلين عميلنا الكريم");
    assert_eq!(reply.references, vec![customer.message_id.clone()]);
    assert_eq!(reply.thread_root, customer.message_id);
    assert_eq!(reply.text, "شكرا");
}

#[test]
fn a_reply_without_a_parent_starts_its_own_thread() {
    let (id, raw) = build_reply(
        "a@shop.example",
        "b@example.com",
        "Re: Re: x",
        "hi",
        None,
        &[],
        None,
    )
    .unwrap();
    let m = parse_message(&raw, "BR").unwrap();
    assert_eq!(m.subject, "Re: x");
    assert_eq!(m.in_reply_to, None);
    assert!(m.references.is_empty());
    assert_eq!(m.thread_root, id);
}

#[test]
fn bad_addresses_and_ids_are_errors_not_broken_headers() {
    assert!(build_reply("not an address", "b@example.com", "x", "y", None, &[], None).is_err());
    assert!(build_reply(
        "a@example.com",
        "b@example.com\r\nBcc: c@example.com",
        "x",
        "y",
        None,
        &[],
        None
    )
    .is_err());
    assert!(build_reply(
        "a@example.com",
        "b@example.com",
        "x",
        "y",
        Some("id\r\nBcc: c@x"),
        &[],
        None
    )
    .is_err());
    let (_, raw) = build_reply(
        "a@example.com",
        "b@example.com",
        "x\r\nBcc: c@example.com",
        "y",
        None,
        &[],
        None,
    )
    .unwrap();
    let m = parse_message(&raw, "BR").unwrap();
    assert!(m.subject.contains("Bcc"));
    assert!(!String::from_utf8_lossy(&raw).contains("\r\nBcc:"));
}

#[test]
fn a_file_goes_along_as_an_attachment() {
    let pdf = b"%PDF-1.7\nfake but fine";
    let (_, raw) = build_reply(
        "Loja <atendimento@loja.example>",
        "ana@example.com",
        "Pedido",
        "Segue a nota fiscal.",
        None,
        &[],
        Some(("nota fiscal.pdf", "application/pdf", pdf)),
    )
    .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("multipart/mixed"), "{text}");
    assert!(text.contains("application/pdf"), "{text}");
    assert!(text.contains("attachment"), "{text}");
    let parsed = concierge_mail::parse_message(&raw, "BR").unwrap();
    assert!(parsed.text.contains("Segue a nota fiscal"), "{parsed:?}");
    assert_eq!(parsed.attachments.len(), 1, "{parsed:?}");
    assert_eq!(
        parsed.attachments[0].filename.as_deref(),
        Some("nota fiscal.pdf")
    );
}
