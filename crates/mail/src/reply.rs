//! Outbound mail: an agent's or the bot's answer as RFC 5322 bytes, threaded under the customer's
//! mail so their client shows one conversation.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;

/// Builds a plain-text UTF-8 reply, with `file` (name, MIME type, bytes) attached if given. Returns its Message-ID (bare, without `<>`, like
/// [`MailIn::message_id`](crate::MailIn::message_id)) and the message bytes.
///
/// `from` and `to` are mailboxes (`ana@example.com` or `Ana <ana@example.com>`). `subject` is the
/// customer's subject: it becomes `Re: <subject>` once, whatever `Re:`/`RE:`/`Res:`/`AW:`/`SV:`
/// prefixes it already has. `in_reply_to` is the id of the mail answered and `references` that
/// mail's own References; the new References are those followed by `in_reply_to` (RFC 5322
/// §3.6.4), so the thread root stays first. Ids may be given with or without `<>`.
pub fn build_reply(
    from: &str,
    to: &str,
    subject: &str,
    text: &str,
    in_reply_to: Option<&str>,
    references: &[String],
    file: Option<(&str, &str, &[u8])>,
) -> Result<(String, Vec<u8>), String> {
    let from_mb: Mailbox = from
        .parse()
        .map_err(|e| format!("invalid From {from:?}: {e}"))?;
    let to_mb: Mailbox = to.parse().map_err(|e| format!("invalid To {to:?}: {e}"))?;

    let message_id = new_message_id(from_mb.email.domain())?;
    let mut builder = Message::builder()
        .from(from_mb)
        .to(to_mb)
        .subject(reply_subject(subject))
        .message_id(Some(format!("<{message_id}>")))
        .date_now();

    let mut chain: Vec<String> = Vec::with_capacity(references.len() + 1);
    for id in references.iter().map(String::as_str).chain(in_reply_to) {
        let id = bare_id(id)?;
        if !id.is_empty() && !chain.contains(&id) {
            chain.push(id);
        }
    }
    if let Some(parent) = in_reply_to {
        let parent = bare_id(parent)?;
        if !parent.is_empty() {
            builder = builder.in_reply_to(format!("<{parent}>"));
        }
    }
    if !chain.is_empty() {
        let joined: Vec<String> = chain.iter().map(|id| format!("<{id}>")).collect();
        builder = builder.references(joined.join(" "));
    }

    let body = text.replace("\r\n", "\n");
    let email = match file {
        None => builder.header(ContentType::TEXT_PLAIN).body(body),
        Some((name, mime, bytes)) => {
            let kind = ContentType::parse(mime).map_err(|e| format!("type {mime:?}: {e}"))?;
            builder.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(body))
                    .singlepart(Attachment::new(name.to_string()).body(bytes.to_vec(), kind)),
            )
        }
    }
    .map_err(|e| format!("cannot build the reply: {e}"))?;
    Ok((message_id, email.formatted()))
}

/// `Re: <subject>` without piling prefixes up: `Re: Re: x`, `RE: x`, `Res: x`, `Re[2]: x`,
/// `AW: x` all become `Re: x`. Line breaks become spaces.
pub fn reply_subject(subject: &str) -> String {
    let one_line: String = subject
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let mut rest = one_line.trim();
    while let Some(stripped) = strip_reply_prefix(rest) {
        rest = stripped;
    }
    if rest.is_empty() {
        "Re:".to_string()
    } else {
        format!("Re: {rest}")
    }
}

fn strip_reply_prefix(s: &str) -> Option<&str> {
    let colon = s.find(':')?;
    let (head, tail) = (&s[..colon], &s[colon + 1..]);
    // `Re`, `Re[2]`, `Re(2)`: a known prefix with an optional counter.
    let word = head.split(['[', '(']).next().unwrap_or_default().trim_end();
    let counter = &head[word.len()..];
    let counter_ok = counter.is_empty()
        || (counter.len() > 2
            && (counter.starts_with('[') && counter.ends_with(']')
                || counter.starts_with('(') && counter.ends_with(')'))
            && counter[1..counter.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_digit()));
    let known = ["re", "res", "aw", "sv", "antw", "vs", "odp"]
        .iter()
        .any(|p| word.eq_ignore_ascii_case(p));
    (known && counter_ok).then(|| tail.trim_start())
}

/// A message id as the id part (no `<>`); rejects what would break the header.
fn bare_id(id: &str) -> Result<String, String> {
    let bare = id.trim().trim_start_matches('<').trim_end_matches('>');
    if bare
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        return Err(format!("invalid message id {id:?}"));
    }
    Ok(bare.to_string())
}

/// 128 random bits at the sender's domain, unique without coordination between processes.
fn new_message_id(domain: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a Message-ID: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{hex}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::reply_subject;

    #[test]
    fn re_prefixes_do_not_pile_up() {
        for s in [
            "x",
            "Re: x",
            "RE: x",
            "re:x",
            "Re: Re: x",
            "Res: x",
            "Re[2]: x",
            "AW: Re: x",
            " Re:  x ",
        ] {
            assert_eq!(reply_subject(s), "Re: x", "{s:?}");
        }
        assert_eq!(reply_subject("Fwd: x"), "Re: Fwd: x");
        assert_eq!(reply_subject("Reunião: pauta"), "Re: Reunião: pauta");
        assert_eq!(reply_subject("Order #12: where?"), "Re: Order #12: where?");
        assert_eq!(reply_subject(""), "Re:");
        assert_eq!(reply_subject("a\r\nb"), "Re: a  b");
    }
}
