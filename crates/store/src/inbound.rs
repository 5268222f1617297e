//! How what a channel tells us becomes customer events, the same for every backend: each message
//! and channel event is an event on the customer's timeline, filed by the identity graph under the
//! identifiers the provider gave (WhatsApp id and phone, PSID, Telegram id…).

use crate::ChannelRecord;
use concierge_types::conversation::{ContactEvent, Direction, InboundMessage};
use concierge_types::{EventKind, NewEvent};
use serde_json::json;

/// The dedup key of a provider message: provider ids are unique per channel, so a retried
/// delivery is recognised by the events table's unique index.
pub fn message_key(channel_id: &str, provider_id: &str) -> String {
    format!("ch:{channel_id}:{provider_id}")
}

/// The timeline event of a message.
pub fn message_event(channel: &ChannelRecord, m: &InboundMessage, received_at: i64) -> NewEvent {
    let name = match (m.direction, m.edited) {
        (_, true) => "Message Edited",
        (Direction::Incoming, false) => "Message Received",
        (Direction::Outgoing, false) => "Message Sent",
    };
    let body = json!({
        "type": "track",
        "event": name,
        "properties": {
            "channel_id": channel.id,
            "channel": channel.kind.as_str(),
            "direction": m.direction.as_str(),
            "provider_id": m.provider_id,
            "thread": m.thread,
            "content": m.content,
            "preview": m.content.preview(),
            "reply_to": m.reply_to,
        },
        "context": { "contact": { "name": m.contact.name, "locale": m.contact.locale } },
    });
    let key = if m.edited {
        // An edit carries the id of the message it edits; each edit is its own event.
        format!("{}:edit:{}", message_key(&channel.id, &m.provider_id), m.ts)
    } else {
        message_key(&channel.id, &m.provider_id)
    };
    NewEvent {
        dedup_key: key,
        kind: EventKind::Track,
        name: Some(name.into()),
        channel: channel.kind.as_str().into(),
        source: format!("channel:{}", channel.id),
        ts: m.ts,
        received_at,
        identifiers: m.contact.identifiers.clone(),
        traits: Vec::new(),
        consents: Vec::new(),
        consent_snapshot: None,
        body: body.to_string(),
    }
}

/// The timeline event of a channel happening (subscribed, opt-in…).
pub fn contact_event(channel: &ChannelRecord, e: &ContactEvent, received_at: i64) -> NewEvent {
    let name = title_case(&e.kind);
    let body = json!({
        "type": "track",
        "event": name,
        "properties": {
            "channel_id": channel.id,
            "channel": channel.kind.as_str(),
            "thread": e.thread,
            "detail": e.detail,
        },
        "context": { "contact": { "name": e.contact.name, "locale": e.contact.locale } },
    });
    NewEvent {
        dedup_key: format!("ch:{}:{}:{}:{}", channel.id, e.kind, e.thread, e.ts),
        kind: EventKind::Track,
        name: Some(name),
        channel: channel.kind.as_str().into(),
        source: format!("channel:{}", channel.id),
        ts: e.ts,
        received_at,
        identifiers: e.contact.identifiers.clone(),
        traits: Vec::new(),
        consents: Vec::new(),
        consent_snapshot: None,
        body: body.to_string(),
    }
}

/// `conversation_started` → `Conversation Started`.
fn title_case(kind: &str) -> String {
    kind.split(['_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(title_case("conversation_started"), "Conversation Started");
        assert_eq!(title_case("blocked"), "Blocked");
    }
}
