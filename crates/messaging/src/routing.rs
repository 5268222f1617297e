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

pub async fn run(m: Arc<Messaging>) {
    loop {
        if m.active_bot().is_none() {
            if let Err(e) = place_new(&m).await {
                tracing::error!(error = %e, "routing new conversations failed; retrying");
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

/// Puts conversations nobody decided about into the fitting team's queue.
async fn place_new(m: &Messaging) -> Result<(), String> {
    let waiting = m.store.unrouted(100).await.map_err(|e| e.to_string())?;
    if waiting.is_empty() {
        return Ok(());
    }
    let teams = m.store.teams().await.map_err(|e| e.to_string())?;
    if teams.is_empty() {
        return Ok(());
    }
    for c in waiting {
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
    Ok(())
}
