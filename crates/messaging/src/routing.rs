//! Routing: conversations waiting in a team's queue (handed off by the bot or put there by a
//! person) go to the team's people, round-robin among those below their capacity. Runs every
//! couple of seconds and whenever the bot hands over; the choice and the assignment are one
//! writer transaction, so two nodes never give one conversation to two people.

use crate::Messaging;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(m: Arc<Messaging>) {
    loop {
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
