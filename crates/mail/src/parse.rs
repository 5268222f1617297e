//! Inbound mail: raw RFC 5322/MIME bytes to a [`MailIn`], and a customer's mail to the shared
//! [`InboundMessage`].

use crate::classify::{classify, MailKind};
use crate::{html, quote};
use concierge_types::conversation::{ChannelContact, Content, Direction, InboundMessage};
use concierge_types::{Identifier, IdentifierKind, Millis};
use mail_parser::{Addr, Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

/// One parsed mail. Strings are decoded (RFC 2047 headers, transfer encodings, charsets) to UTF-8;
/// message ids are bare, without `<>`.
#[derive(Debug, Clone, PartialEq)]
pub struct MailIn {
    /// The `Message-ID`, or when the mail has none, `<sha256 of the raw bytes>@concierge.invalid`
    /// so fetching the same mail twice yields the same id.
    pub message_id: String,
    /// Whether `message_id` was made up here because the mail had none.
    pub message_id_synthesized: bool,
    /// The first `In-Reply-To` id (some clients repeat the header or list the same id twice).
    pub in_reply_to: Option<String>,
    /// `References`, oldest first, deduplicated.
    pub references: Vec<String>,
    /// The conversation this mail belongs to: the first `References` id, else `In-Reply-To`, else
    /// its own `message_id`. Every reply in a thread carries the thread's first message first in
    /// `References` (RFC 5322 §3.6.4: a reply's References are its parent's References followed by
    /// the parent's Message-ID, and clients that trim long lists keep the first), so all mails of
    /// one thread, including our own replies, share this key; a new mail starts its own thread.
    pub thread_root: String,
    pub from: Option<Mailbox>,
    /// `from`'s address as a normalised identifier; `None` when From is missing or not an address.
    pub from_identifier: Option<Identifier>,
    /// Where the sender wants answers (`Reply-To`); empty means reply to `from`.
    pub reply_to: Vec<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// Decoded and trimmed; empty when absent.
    pub subject: String,
    /// The `Date` header in ms since the epoch, when present and valid. Senders' clocks are
    /// untrusted: it may be in the future.
    pub date: Option<Millis>,
    /// The whole text: the `text/plain` parts, or the text of the HTML parts when there are none.
    /// Line endings are `\n`.
    pub text: String,
    /// `text` without quoted history and signature: what the customer wrote this time.
    pub new_text: String,
    /// The HTML parts, sanitised (see [`html::sanitize`](crate::html::sanitize)); `None` for
    /// text-only mail.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub kind: MailKind,
}

/// An address with its display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// As written (not normalised).
    pub address: String,
    /// Decoded display name, `None` when absent or empty.
    pub name: Option<String>,
}

/// What is attached, without the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: Option<String>,
    /// `type/subtype`, lower-case; `application/octet-stream` when the part does not say.
    pub mime_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// `Content-ID` without `<>`: what `cid:` URLs in the HTML body point at.
    pub content_id: Option<String>,
    /// Shown within the body (`Content-Disposition: inline`) rather than offered as a file.
    pub inline: bool,
}

/// Parses a raw mail. `default_region` is passed to [`Identifier::parse`] for the sender.
///
/// Errors only when the bytes are not a mail at all (empty, or no standard header); any mail with
/// headers parses, however broken its MIME structure, with what could be read.
pub fn parse_message(raw: &[u8], default_region: &str) -> Result<MailIn, String> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err("empty message".into());
    }
    // The MIME parser and the HTML sanitiser see untrusted bytes; a bug in either must cost one
    // mail, not the poller.
    std::panic::catch_unwind(|| parse_inner(raw, default_region))
        .unwrap_or_else(|_| Err("the mail parser failed on this message".into()))
}

fn parse_inner(raw: &[u8], default_region: &str) -> Result<MailIn, String> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or("not a MIME message")?;
    if !msg.headers().iter().any(|h| !h.name.is_other()) {
        return Err("no standard mail header (From, Date, Message-ID, Subject…)".into());
    }

    let (message_id, message_id_synthesized) = match msg.message_id().map(str::trim) {
        Some(id) if !id.is_empty() => (id.to_string(), false),
        _ => (synthesized_id(raw), true),
    };
    let in_reply_to = ids(msg.in_reply_to()).into_iter().next();
    let references = ids(msg.references());
    let thread_root = references
        .first()
        .or(in_reply_to.as_ref())
        .unwrap_or(&message_id)
        .clone();

    let from = msg.from().and_then(Address::first).and_then(mailbox);
    let from_identifier = from
        .as_ref()
        .and_then(|f| Identifier::parse(IdentifierKind::Email, &f.address, default_region).ok());

    let (text, html) = bodies(&msg);
    let new_text = quote::strip_quoted(&text);

    Ok(MailIn {
        message_id,
        message_id_synthesized,
        in_reply_to,
        references,
        thread_root,
        from,
        from_identifier,
        reply_to: mailboxes(msg.reply_to()),
        to: mailboxes(msg.to()),
        cc: mailboxes(msg.cc()),
        subject: msg.subject().unwrap_or_default().trim().to_string(),
        date: msg
            .date()
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp().saturating_mul(1000)),
        text,
        new_text,
        html,
        attachments: msg.attachments().map(attachment).collect(),
        kind: classify(&msg),
    })
}

fn synthesized_id(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}@concierge.invalid")
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match v {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for id in raw {
        let id = id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        if !id.is_empty() && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    out
}

fn mailbox(a: &Addr<'_>) -> Option<Mailbox> {
    let address = a.address()?.trim();
    if address.is_empty() {
        return None;
    }
    let name = a
        .name()
        .map(|n| n.trim().trim_matches('"').trim())
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    Some(Mailbox {
        address: address.to_string(),
        name,
    })
}

fn mailboxes(a: Option<&Address<'_>>) -> Vec<Mailbox> {
    a.map(|a| a.iter().filter_map(mailbox).collect())
        .unwrap_or_default()
}

/// The text and sanitised HTML of the body parts. Apple Mail splits a body around inline
/// attachments, so every inline part counts, in order.
fn bodies(msg: &Message<'_>) -> (String, Option<String>) {
    let mut html_parts: Vec<String> = Vec::new();
    for part in msg.html_bodies() {
        if let PartType::Html(h) = &part.body {
            html_parts.push(html::sanitize(h));
        }
    }
    let mut text_parts: Vec<String> = Vec::new();
    for part in msg.text_bodies() {
        match &part.body {
            PartType::Text(t) => {
                let param = |name: &str| {
                    part.content_type()
                        .and_then(|c| c.attribute(name))
                        .map(|v| v.trim().to_ascii_lowercase())
                        .unwrap_or_default()
                };
                if param("format") == "flowed" {
                    text_parts.push(unflow(t, param("delsp") == "yes"));
                } else {
                    text_parts.push(t.replace("\r\n", "\n"));
                }
            }
            PartType::Html(h) => text_parts.push(html::to_text(&html::sanitize(h))),
            _ => {}
        }
    }
    let text = html::tidy_lines(&text_parts.join("\n"));
    let html = (!html_parts.is_empty()).then(|| html_parts.join("\n"));
    (text, html)
}

/// Joins the soft line breaks of `format=flowed` text (RFC 3676 §4): a line ending in a space
/// continues on the next line of the same quote depth. Apple Mail and Thunderbird send it.
fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut paragraph: Option<(usize, String)> = None;
    let flush = |out: &mut String, p: Option<(usize, String)>| {
        if let Some((depth, s)) = p {
            for _ in 0..depth {
                out.push('>');
            }
            if depth > 0 {
                out.push(' ');
            }
            out.push_str(&s);
            out.push('\n');
        }
    };
    for line in text.lines() {
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let content = &line[depth..];
        let content = content.strip_prefix(' ').unwrap_or(content);
        let flowed = content.ends_with(' ') && content != "-- ";
        let piece = match content.strip_suffix(' ') {
            Some(trimmed) if flowed && delsp => trimmed,
            _ => content,
        };
        match &mut paragraph {
            Some((d, s)) if *d == depth => s.push_str(piece),
            _ => {
                flush(&mut out, paragraph.take());
                paragraph = Some((depth, piece.to_string()));
            }
        }
        if !flowed {
            flush(&mut out, paragraph.take());
        }
    }
    flush(&mut out, paragraph.take());
    out
}

fn attachment(part: &mail_parser::MessagePart<'_>) -> Attachment {
    let mime_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_string(),
        })
        .unwrap_or_else(|| match part.body {
            PartType::Message(_) => "message/rfc822".into(),
            _ => "application/octet-stream".into(),
        })
        .to_ascii_lowercase();
    let inline = part
        .content_disposition()
        .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"));
    Attachment {
        filename: part.attachment_name().map(str::to_string),
        mime_type,
        size: part.len() as u64,
        content_id: part.content_id().map(|id| {
            id.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        }),
        inline,
    }
}

/// The conversation message for a customer's mail; `None` for auto-replies and bounces (log them
/// instead, with [`MailKind`]'s reason) and for mail without a usable From address.
///
/// The text is `new_text`; a mail with no text of its own (an attachment sent with only a
/// subject) shows its subject, then its attachments' names. The timestamp is the `Date` header,
/// or now when it is missing or more than a day in the future.
pub fn to_inbound(mail: &MailIn) -> Option<InboundMessage> {
    if mail.kind != MailKind::Customer {
        return None;
    }
    let identifier = mail.from_identifier.clone()?;
    let now = now_ms();
    let ts = match mail.date {
        Some(d) if d <= now + 24 * 3600 * 1000 => d,
        _ => now,
    };
    Some(InboundMessage {
        provider_id: mail.message_id.clone(),
        thread: mail.thread_root.clone(),
        contact: ChannelContact {
            identifiers: vec![identifier],
            name: mail.from.as_ref().and_then(|f| f.name.clone()),
            locale: None,
        },
        direction: Direction::Incoming,
        ts,
        content: Content::Text {
            text: display_text(mail),
        },
        reply_to: mail.in_reply_to.clone(),
        edited: false,
        subject: (!mail.subject.trim().is_empty()).then(|| mail.subject.clone()),
    })
}

fn display_text(mail: &MailIn) -> String {
    if !mail.new_text.is_empty() {
        return mail.new_text.clone();
    }
    let files: Vec<&str> = mail
        .attachments
        .iter()
        .filter(|a| !a.inline)
        .map(|a| a.filename.as_deref().unwrap_or(&a.mime_type))
        .collect();
    let mut text = mail.subject.clone();
    if !files.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("[attachments: {}]", files.join(", ")));
    }
    text
}

fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

#[cfg(test)]
mod tests {
    use super::unflow;

    #[test]
    fn flowed_text_is_joined_quotes_and_signature_kept() {
        let t =
            "Hello, this is a \r\nlong line.\r\n> quoted and \r\n> wrapped\r\n \r\n-- \r\nAna\r\n";
        assert_eq!(
            unflow(t, false),
            "Hello, this is a long line.\n> quoted and wrapped\n\n-- \nAna\n"
        );
        assert_eq!(unflow("ab \r\ncd\r\n", true), "abcd\n");
    }
}
