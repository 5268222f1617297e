//! The conversation engine, between the HTTP layer and the store.
//!
//! Inbound: the server verifies a webhook with the channel's plug-in and logs it raw
//! ([`concierge_store::Store::log_inbound`]); only then does it answer the provider. The
//! [`processor`] takes logged deliveries, parses them with the plug-in and stores what they hold
//! (messages, receipts, channel events). A crash in between loses nothing: unprocessed entries are
//! still `verified` in the log and are picked up at the next start; a replay goes the same way.
//!
//! Outbound: a reply is a message plus an outbox entry, written in one transaction. The [`outbox`]
//! sender claims due entries, asks the plug-in for the provider API call, performs it and records
//! the outcome: sent (with the provider's id), retry with backoff, or failed for good.

pub mod bot;
pub mod email;
pub mod hooks;
pub mod outbox;
pub mod processor;
pub mod routing;
pub mod webchat;

use concierge_channels::{ChannelConfig, Outgoing};
use concierge_store::{ChannelRecord, Store};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// A connected channel with its parsed configuration.
#[derive(Debug, Clone)]
pub struct Channel {
    pub record: ChannelRecord,
    pub config: ChannelConfig,
}

impl Channel {
    pub fn from_record(record: ChannelRecord) -> Result<Channel, String> {
        let config: ChannelConfig = serde_json::from_value(record.config.clone())
            .map_err(|e| format!("channel {}: stored config unreadable: {e}", record.id))?;
        Ok(Channel { record, config })
    }
}

/// What the outbox sends, as stored in the outbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutgoingPayload {
    Text {
        text: String,
    },
    Template {
        name: String,
        language: String,
        #[serde(default)]
        params: Vec<String>,
    },
    /// A file kept in the store under `attachment`, which providers fetch from `url`.
    Media {
        attachment: String,
        media: concierge_types::conversation::MediaKind,
        url: String,
        filename: String,
        mime_type: String,
        size: u64,
        /// Text sent with the file, where the channel shows one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
}

impl OutgoingPayload {
    /// How the message shows in the conversation (a template as its name, language and
    /// parameters).
    pub fn content(&self) -> concierge_types::conversation::Content {
        use concierge_types::conversation::Content;
        match self {
            OutgoingPayload::Text { text } => Content::Text { text: text.clone() },
            OutgoingPayload::Template {
                name,
                language,
                params,
            } => Content::Other {
                kind: "template".into(),
                text: Some(format!("{name} ({language}) {}", params.join(" | "))),
            },
            OutgoingPayload::Media {
                attachment,
                media,
                url,
                filename,
                mime_type,
                size,
                caption,
            } => Content::Media {
                media: *media,
                media_id: Some(attachment.clone()),
                url: Some(url.clone()),
                mime_type: Some(mime_type.clone()),
                filename: Some(filename.clone()),
                caption: caption.clone(),
                sha256: None,
                size: Some(*size),
            },
        }
    }

    pub fn to_outgoing(&self) -> Outgoing {
        match self {
            OutgoingPayload::Text { text } => Outgoing::Text { text: text.clone() },
            OutgoingPayload::Template {
                name,
                language,
                params,
            } => Outgoing::Template {
                name: name.clone(),
                language: language.clone(),
                params: params.clone(),
            },
            OutgoingPayload::Media {
                media,
                url,
                filename,
                mime_type,
                size,
                caption,
                ..
            } => Outgoing::Media {
                media: *media,
                url: url.clone(),
                filename: filename.clone(),
                mime_type: mime_type.clone(),
                size: *size,
                caption: caption.clone(),
            },
        }
    }
}

/// Shared by the HTTP layer and the workers: the channel cache and the wake-up signals.
pub struct Messaging {
    pub store: Arc<dyn Store>,
    pub default_region: String,
    /// Where providers reach us (`https://cx.example.com`): files are sent from there, whatever
    /// address the agent used when attaching them.
    pub public_url: Option<String>,
    channels: RwLock<HashMap<String, Arc<Channel>>>,
    /// Signalled when a delivery has been logged.
    pub inbound: Notify,
    /// Signalled when a message has been queued.
    pub outbox: Notify,
    /// Signalled to poll the mailboxes now.
    pub poll: Notify,
    /// Signalled when customer messages were stored, or the bot definition or an owner changed.
    pub bot_wake: Notify,
    /// Signalled when a conversation may be waiting in a team's queue.
    pub route: Notify,
    active_bot: RwLock<Option<Arc<bot::Active>>>,
}

impl Messaging {
    pub fn new(
        store: Arc<dyn Store>,
        default_region: &str,
        public_url: Option<String>,
    ) -> Arc<Messaging> {
        Arc::new(Messaging {
            store,
            default_region: default_region.to_string(),
            public_url,
            channels: RwLock::new(HashMap::new()),
            inbound: Notify::new(),
            outbox: Notify::new(),
            poll: Notify::new(),
            bot_wake: Notify::new(),
            route: Notify::new(),
            active_bot: RwLock::new(None),
        })
    }

    /// The bot in use, if a definition has been trained.
    pub fn active_bot(&self) -> Option<Arc<bot::Active>> {
        self.active_bot.read().ok().and_then(|b| b.clone())
    }

    pub fn set_active_bot(&self, active: Arc<bot::Active>) {
        if let Ok(mut b) = self.active_bot.write() {
            *b = Some(active);
        }
    }

    /// The channel with this id, from the cache or the store.
    pub async fn channel(&self, id: &str) -> Result<Option<Arc<Channel>>, String> {
        if let Some(c) = self.channels.read().ok().and_then(|m| m.get(id).cloned()) {
            return Ok(Some(c));
        }
        let all = self.store.channels().await.map_err(|e| e.to_string())?;
        let mut found = None;
        if let Ok(mut map) = self.channels.write() {
            for record in all {
                match Channel::from_record(record) {
                    Ok(c) => {
                        let c = Arc::new(c);
                        if c.record.id == id {
                            found = Some(c.clone());
                        }
                        map.insert(c.record.id.clone(), c);
                    }
                    Err(e) => tracing::error!(error = %e, "skipping a channel"),
                }
            }
        }
        Ok(found)
    }

    pub fn remember(&self, channel: Channel) {
        if let Ok(mut map) = self.channels.write() {
            map.insert(channel.record.id.clone(), Arc::new(channel));
        }
    }

    /// Starts the inbound processor and the outbox sender on the current runtime.
    pub fn start(self: &Arc<Self>) {
        tokio::spawn(processor::run(self.clone()));
        tokio::spawn(outbox::run(self.clone()));
        tokio::spawn(email::poll(self.clone()));
        tokio::spawn(hooks::run(self.clone()));
        tokio::spawn(bot::run(self.clone()));
        tokio::spawn(routing::run(self.clone()));
    }
}
