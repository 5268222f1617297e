//! Turns logged webhook deliveries into conversations, one delivery at a time, oldest first.

use crate::Messaging;
use concierge_channels::provider;
use std::sync::Arc;
use std::time::Duration;

/// Deliveries taken from the log per round.
const ROUND: usize = 200;

pub async fn run(m: Arc<Messaging>) {
    loop {
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
        for p in pending {
            after = p.id;
            let channel = match m.channel(&p.channel_id).await? {
                Some(c) => c,
                None => {
                    // The channel was removed after the delivery was logged.
                    let _ = m
                        .store
                        .apply_inbound(
                            p.id,
                            unknown_channel(&p.channel_id),
                            Err("the channel no longer exists".into()),
                        )
                        .await;
                    continue;
                }
            };
            let parsed = match provider(channel.record.kind) {
                Some(plugin) => plugin.parse(&p.body, &m.default_region),
                None => Err(format!(
                    "{} deliveries are not processed here",
                    channel.record.kind.as_str()
                )),
            };
            if let Err(e) = &parsed {
                tracing::warn!(inbound = p.id, channel = %p.channel_id, error = %e, "delivery could not be parsed");
            }
            m.store
                .apply_inbound(p.id, channel.record.clone(), parsed)
                .await
                .map_err(|e| e.to_string())?;
            done += 1;
        }
    }
}

fn unknown_channel(id: &str) -> concierge_store::ChannelRecord {
    concierge_store::ChannelRecord {
        id: id.to_string(),
        kind: concierge_types::conversation::ChannelKind::Api,
        name: String::new(),
        config: serde_json::Value::Null,
        created_at: 0,
    }
}
