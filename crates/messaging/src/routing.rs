//! Routing: conversations waiting in a team's queue (handed off by the bot or put there by a
//! person) go to the team's people, round-robin among those below their capacity. When no bot
//! answers, new conversations first go to the queue of the team whose skills fit them (language,
//! read from the customer's message; channel). Runs every couple of seconds and whenever the bot
//! hands over; each choice and assignment is one writer transaction, so two nodes never give one
//! conversation to two people.

use crate::Messaging;
use concierge_store::ConversationChange;
use std::sync::Arc;
use std::time::Duration;

/// New conversations older than this are left where they are (e.g. after an upgrade).
const NEW_FOR_MS: i64 = 24 * 3_600_000;

pub async fn run(m: Arc<Messaging>) {
    // The last conversation looked at: one that fits no team is not looked at again.
    let mut after = 0;
    loop {
        if m.active_bot().is_none() {
            match place_new(&m, after).await {
                Ok(last) => after = last,
                Err(e) => tracing::error!(error = %e, "routing new conversations failed; retrying"),
            }
        }
        match m.store.route_queued(100).await {
            Ok(assigned) => {
                for (conversation, agent) in &assigned {
                    tracing::debug!(conversation, agent = %agent, "routed");
                }
            }
            Err(e) => tracing::error!(error = %e, "routing failed; retrying"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), m.route.notified()).await;
    }
}

/// Puts conversations nobody decided about into the fitting team's queue; returns the last id
/// looked at.
async fn place_new(m: &Messaging, after: i64) -> Result<i64, String> {
    let since = chrono::Utc::now().timestamp_millis() - NEW_FOR_MS;
    let waiting = m
        .store
        .unrouted(after, since, 100)
        .await
        .map_err(|e| e.to_string())?;
    if waiting.is_empty() {
        return Ok(after);
    }
    let teams = m.store.teams().await.map_err(|e| e.to_string())?;
    if teams.is_empty() {
        // Nothing to place by: look again from the start once there are teams.
        return Ok(0);
    }
    let mut last = after;
    for c in waiting {
        last = last.max(c.id);
        let language = c.language.clone().or_else(|| {
            let text = c.last_message_preview.as_deref().unwrap_or("");
            concierge_bot::lang::detect(text)
                .lang
                .map(|l| l.tag().to_string())
        });
        let Some(team) =
            concierge_desk::routing::pick_team(&teams, language.as_deref(), c.channel_kind, None)
        else {
            continue;
        };
        m.store
            .change_conversation(c.id, ConversationChange::Place(team.name.clone()))
            .await
            .map_err(|e| e.to_string())?;
        tracing::debug!(conversation = c.id, team = %team.name, "placed by skills");
    }
    Ok(last)
}
