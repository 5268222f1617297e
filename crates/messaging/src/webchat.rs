//! The web chat channel's deliveries. The server checks the visitor (and, for a logged-in
//! visitor, the HMAC of their user id) and logs a [`ChatDelivery`]; the processor turns it into a
//! message like any provider's.

use concierge_types::conversation::{
    ChannelContact, Content, Direction, Inbound, InboundMessage, Parsed,
};
use concierge_types::{Identifier, IdentifierKind};
use serde::{Deserialize, Serialize};

/// What the server logs for one visitor message. Only verified identity is in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatDelivery {
    pub visitor: String,
    /// `user:{id}` for a verified logged-in visitor (the chat follows them across devices), else
    /// `visitor:{id}`.
    pub thread: String,
    pub client_id: String,
    pub text: String,
    /// Present only when the brand's HMAC of it checked out.
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub locale: Option<String>,
    pub ts: i64,
}

/// The provider id of a visitor message: client ids are unique per visitor.
pub fn provider_id(visitor: &str, client_id: &str) -> String {
    format!("{visitor}:{client_id}")
}

pub fn parse(body: &[u8]) -> Result<Parsed, String> {
    let d: ChatDelivery =
        serde_json::from_slice(body).map_err(|e| format!("not a chat delivery: {e}"))?;
    let mut identifiers = Vec::new();
    if let Some(u) = &d.user_id {
        identifiers.push(
            Identifier::parse(IdentifierKind::UserId, u, "BR")
                .map_err(|e| format!("user_id: {e}"))?,
        );
    }
    identifiers.push(
        Identifier::parse(
            IdentifierKind::AnonymousId,
            &format!("webchat:{}", d.visitor),
            "BR",
        )
        .map_err(|e| format!("visitor: {e}"))?,
    );
    Ok(Parsed {
        items: vec![Inbound::Message(InboundMessage {
            provider_id: provider_id(&d.visitor, &d.client_id),
            thread: d.thread,
            contact: ChannelContact {
                identifiers,
                name: d.name,
                locale: d.locale,
            },
            direction: Direction::Incoming,
            ts: d.ts,
            content: Content::Text { text: d.text },
            reply_to: None,
            edited: false,
            subject: None,
        })],
        skipped: Vec::new(),
    })
}
