//! Turns logged webhook deliveries into conversations, oldest first, a round at a time: each
//! round is parsed here and stored in one transaction.

use crate::Messaging;
use concierge_channels::provider;
use concierge_store::ChannelRecord;
use concierge_types::conversation::{ChannelKind, Parsed};
use std::sync::Arc;
use std::time::Duration;

/// Deliveries taken from the log per round: one writer transaction, so small enough that
/// webhook acknowledgements queued behind it are not held up long.
const ROUND: usize = 100;

pub async fn run(m: Arc<Messaging>) {
    let mut last_wake = std::time::Instant::now() - Duration::from_secs(60);
    loop {
        if last_wake.elapsed() >= Duration::from_secs(30) {
            last_wake = std::time::Instant::now();
            let now = chrono::Utc::now().timestamp_millis();
            if let Err(e) = m.store.wake_snoozed(now).await {
                tracing::warn!(error = %e, "waking snoozed conversations failed");
            }
        }
        let worked = match process_pending(&m).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::error!(error = %e, "processing the inbound log failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                false
            }
        };
        if !worked {
            // Woken by a new delivery, or every few seconds for replays made elsewhere.
            let _ = tokio::time::timeout(Duration::from_secs(2), m.inbound.notified()).await;
        }
    }
}

/// Parses one delivery with its channel's plug-in (or the mail parser).
pub fn parse(kind: ChannelKind, body: &[u8], default_region: &str) -> Result<Parsed, String> {
    if kind == ChannelKind::Email {
        return crate::email::parse(body, default_region);
    }
    if kind == ChannelKind::Webchat {
        return crate::webchat::parse(body);
    }
    match provider(kind) {
        Some(plugin) => plugin.parse(body, default_region),
        None => Err(format!(
            "{} deliveries are not processed here",
            kind.as_str()
        )),
    }
}

/// Processes everything waiting in the log; returns how many deliveries it handled.
pub async fn process_pending(m: &Messaging) -> Result<usize, String> {
    let mut after = 0;
    let mut done = 0;
    loop {
        let pending = m
            .store
            .pending_inbound(after, ROUND)
            .await
            .map_err(|e| e.to_string())?;
        if pending.is_empty() {
            return Ok(done);
        }
        let mut round = Vec::with_capacity(pending.len());
        for p in pending {
            after = p.id;
            let (record, parsed) = match m.channel(&p.channel_id).await? {
                Some(c) => (
                    c.record.clone(),
                    parse(c.record.kind, &p.body, &m.default_region),
                ),
                // The channel was removed after the delivery was logged.
                None => (
                    unknown_channel(&p.channel_id),
                    Err("the channel no longer exists".into()),
                ),
            };
            if let Err(e) = &parsed {
                tracing::warn!(inbound = p.id, channel = %p.channel_id, error = %e, "delivery could not be parsed");
            }
            round.push((p.id, record, parsed));
        }
        done += round.len();
        m.store
            .apply_inbound(round)
            .await
            .map_err(|e| e.to_string())?;
        m.bot_wake.notify_one();
    }
}

fn unknown_channel(id: &str) -> ChannelRecord {
    ChannelRecord {
        id: id.to_string(),
        kind: ChannelKind::Api,
        name: String::new(),
        config: serde_json::Value::Null,
        created_at: 0,
    }
}
