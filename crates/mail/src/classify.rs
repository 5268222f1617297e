//! Who sent a mail: a customer, an auto-responder, or a mail server reporting a failed delivery.
//!
//! Auto-replies and bounces must never open or reopen a conversation, or two auto-responders
//! (ours and theirs) answer each other forever; RFC 3834 names the headers that mark them.

use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};

/// What kind of sender a parsed mail came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailKind {
    /// A person: becomes a conversation message.
    Customer,
    /// An auto-responder (vacation reply, ticket acknowledgement, list traffic). `reason` names the
    /// header that gave it away, for the log line.
    AutoReply { reason: String },
    /// A delivery failure report for a mail we sent.
    Bounce(Bounce),
}

/// What a bounce says went wrong. Every field is best-effort: servers word reports freely.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bounce {
    /// Addresses that could not be reached (from `X-Failed-Recipients` and the report's
    /// `Final-Recipient` fields), lower-cased, deduplicated, as written.
    pub recipients: Vec<String>,
    /// Enhanced status code (RFC 3463), e.g. `5.1.1`.
    pub status: Option<String>,
    /// The remote server's reply, e.g. `550 5.1.1 The email account … does not exist.`
    pub diagnostic: Option<String>,
    /// Message-ID (without `<>`) of our mail that bounced, from the returned copy or its headers.
    pub original_message_id: Option<String>,
    /// The header or part that made this a bounce, for the log line.
    pub reason: String,
}

impl Bounce {
    /// Whether the failure is permanent (status class 5, or a 5xx reply); unknown counts as
    /// permanent because most reports without a status are hard failures.
    pub fn is_permanent(&self) -> bool {
        match (&self.status, &self.diagnostic) {
            (Some(s), _) => !s.starts_with('4'),
            (None, Some(d)) => !d.starts_with('4'),
            (None, None) => true,
        }
    }
}

pub(crate) fn classify(msg: &Message<'_>) -> MailKind {
    if let Some(reason) = bounce_signal(msg) {
        return MailKind::Bounce(read_bounce(msg, reason));
    }
    match auto_reply_signal(msg) {
        Some(reason) => MailKind::AutoReply { reason },
        None => MailKind::Customer,
    }
}

fn header_text<'a>(msg: &'a Message<'_>, name: &'static str) -> Option<&'a str> {
    msg.header_raw(name).map(str::trim)
}

fn bounce_signal(msg: &Message<'_>) -> Option<String> {
    if let Some(ct) = msg.root_part().content_type() {
        let report_type = ct.attribute("report-type").unwrap_or_default();
        if ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && report_type.eq_ignore_ascii_case("delivery-status")
        {
            return Some("multipart/report; report-type=delivery-status".into());
        }
    }
    if let Some(v) = header_text(msg, "X-Failed-Recipients") {
        return Some(format!("X-Failed-Recipients: {v}"));
    }
    if null_return_path(msg) {
        if let Some(from) = from_local_part(msg) {
            if from == "mailer-daemon" || from == "postmaster" {
                return Some(format!("Return-Path <> from {from}"));
            }
        }
    }
    None
}

fn auto_reply_signal(msg: &Message<'_>) -> Option<String> {
    if let Some(v) = header_text(msg, "Auto-Submitted") {
        let token = v.split(';').next().unwrap_or_default().trim();
        if !token.eq_ignore_ascii_case("no") {
            return Some(format!("Auto-Submitted: {v}"));
        }
    }
    for name in ["X-Autoreply", "X-Autorespond"] {
        if let Some(v) = header_text(msg, name) {
            if !v.eq_ignore_ascii_case("no") && !v.eq_ignore_ascii_case("false") {
                return Some(format!("{name}: {v}"));
            }
        }
    }
    if let Some(v) = header_text(msg, "Precedence") {
        if ["bulk", "auto_reply", "junk"]
            .iter()
            .any(|p| v.eq_ignore_ascii_case(p))
        {
            return Some(format!("Precedence: {v}"));
        }
    }
    // RFC 3834 §3.3: automatic responses are sent with a null return path; a person's mail never is.
    if null_return_path(msg) {
        return Some("Return-Path: <>".into());
    }
    None
}

fn null_return_path(msg: &Message<'_>) -> bool {
    msg.header_raw(HeaderName::ReturnPath).is_some_and(|raw| {
        let v: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        v == "<>" || v.is_empty()
    })
}

fn from_local_part(msg: &Message<'_>) -> Option<String> {
    let addr = msg.from()?.first()?.address()?;
    let local = addr.split('@').next()?;
    Some(local.to_ascii_lowercase())
}

fn read_bounce(msg: &Message<'_>, reason: String) -> Bounce {
    let mut b = Bounce {
        reason,
        ..Bounce::default()
    };
    if let Some(v) = header_text(msg, "X-Failed-Recipients") {
        for r in v.split(',') {
            push_recipient(&mut b.recipients, r);
        }
    }
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let sub = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        let is_message = ct.ctype().eq_ignore_ascii_case("message");
        let is_text = ct.ctype().eq_ignore_ascii_case("text");
        if is_message && (sub == "delivery-status" || sub == "global-delivery-status") {
            read_delivery_status(&String::from_utf8_lossy(part.contents()), &mut b);
        } else if b.original_message_id.is_none() {
            // The returned copy: a whole message (message/rfc822) or only its headers.
            b.original_message_id = match &part.body {
                PartType::Message(m) => m.message_id().map(str::to_string),
                _ if (is_message || is_text) && sub == "rfc822-headers" => {
                    // The part's body stops at the boundary, without the line end that ends the
                    // last header.
                    let mut headers = part.contents().to_vec();
                    headers.extend_from_slice(b"\r\n\r\n");
                    MessageParser::default()
                        .parse_headers(&headers)
                        .and_then(|h| h.message_id().map(str::to_string))
                }
                _ => None,
            };
        }
    }
    if b.diagnostic.is_none() || b.status.is_none() {
        // Gmail sends an empty delivery-status part; its human-readable text has the reply.
        let text = msg
            .text_bodies()
            .filter_map(|p| p.text_contents())
            .collect::<Vec<_>>()
            .join("\n");
        if let Some((status, diagnostic)) = smtp_reply_in_text(&text) {
            b.status.get_or_insert(status);
            b.diagnostic.get_or_insert(diagnostic);
        }
    }
    b
}

fn push_recipient(list: &mut Vec<String>, raw: &str) {
    // `rfc822; ana@example.com` in reports, bare or `<…>` in headers.
    let addr = raw.rsplit(';').next().unwrap_or(raw);
    let addr = addr
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase();
    if addr.contains('@') && !list.contains(&addr) {
        list.push(addr);
    }
}

/// RFC 3464: a per-message block, then one block per recipient, separated by blank lines. Only
/// recipients whose `Action` is `failed` (or missing) bounced; `delayed` ones may still arrive.
fn read_delivery_status(report: &str, b: &mut Bounce) {
    let mut blocks: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in report.lines() {
        let Some(block) = blocks.last_mut() else {
            break;
        };
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(Vec::new());
            }
        } else if line.starts_with([' ', '\t']) {
            // A folded continuation of the previous field.
            if let Some((_, v)) = block.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            block.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    for block in &blocks {
        let field = |name: &str| {
            block
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let Some(recipient) = field("final-recipient").or(field("original-recipient")) else {
            continue;
        };
        if field("action").is_some_and(|a| !a.eq_ignore_ascii_case("failed")) {
            continue;
        }
        push_recipient(&mut b.recipients, recipient);
        if b.status.is_none() {
            b.status = field("status")
                .and_then(|v| v.split_whitespace().next())
                .map(str::to_string);
        }
        if b.diagnostic.is_none() {
            // `smtp; 550 5.1.1 …`: the type prefix means nothing to a person.
            b.diagnostic = field("diagnostic-code")
                .map(|v| v.split_once(';').map_or(v, |(_, t)| t).trim().to_string())
                .filter(|v| !v.is_empty());
        }
    }
}

/// Finds `550 5.1.1 Some text…` in a human-readable report: the status and the paragraph.
fn smtp_reply_in_text(text: &str) -> Option<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        let mut words = line.split_whitespace();
        let (Some(code), Some(status)) = (words.next(), words.next()) else {
            continue;
        };
        let code_ok = code.len() == 3
            && code.bytes().all(|c| c.is_ascii_digit())
            && matches!(code.as_bytes()[0], b'4' | b'5');
        let status = status.trim_end_matches([',', ';']);
        if !code_ok || !is_enhanced_status(status) || status.as_bytes()[0] != code.as_bytes()[0] {
            continue;
        }
        let mut paragraph = line.to_string();
        for next in &lines[i + 1..] {
            let next = next.trim();
            if next.is_empty() {
                break;
            }
            paragraph.push(' ');
            paragraph.push_str(next);
        }
        return Some((status.to_string(), paragraph));
    }
    None
}

fn is_enhanced_status(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
}
