//! Signed outbound webhooks for integrators: every subscription gets the integration events it
//! asked for, in order, at least once, signed like the API channel
//! (`X-Concierge-Signature: t=…,v1=…`, see `concierge_channels::api`). A failing receiver is
//! retried with backoff and holds back only its own deliveries.

use crate::outbox::backoff;
use crate::Messaging;
use concierge_store::{Progress, Subscription};
use std::sync::Arc;
use std::time::Duration;

/// Every integration event type, for validation and the docs.
pub const EVENT_TYPES: [&str; 5] = [
    "message.created",
    "conversation.status_changed",
    "conversation.assigned",
    "conversation.handoff",
    "customer.merged",
];

const ROUND: usize = 100;

pub async fn run(m: Arc<Messaging>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    loop {
        let worked = match deliver_due(&m, &agent).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::warn!(error = %e, "delivering integration webhooks failed");
                false
            }
        };
        if !worked {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

async fn deliver_due(m: &Messaging, agent: &ureq::Agent) -> Result<usize, String> {
    let subs = m.store.subscriptions().await.map_err(|e| e.to_string())?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut worked = 0;
    for sub in subs.into_iter().filter(|s| s.next_attempt_at <= now) {
        let events = m
            .store
            .integration_events(sub.cursor, ROUND)
            .await
            .map_err(|e| e.to_string())?;
        if events.is_empty() {
            continue;
        }
        let progress = deliver(agent, &sub, events).await;
        worked += 1;
        m.store
            .subscription_progress(sub.id, progress)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(worked)
}

async fn deliver(
    agent: &ureq::Agent,
    sub: &Subscription,
    events: Vec<concierge_store::IntegrationEvent>,
) -> Progress {
    let mut progress = Progress {
        cursor: sub.cursor,
        delivered: 0,
        failure: None,
    };
    for e in events {
        if !sub.events.is_empty() && !sub.events.contains(&e.kind) {
            progress.cursor = e.id;
            continue;
        }
        let created = concierge_types::view::Timestamp(e.created_at);
        let body = serde_json::json!({
            "id": e.id,
            "type": e.kind,
            "created_at": created,
            "data": e.payload,
        })
        .to_string();
        let now = chrono::Utc::now().timestamp();
        let signature = concierge_channels::api::sign(&sub.secret, now, body.as_bytes());
        let (agent, url, kind, id) = (agent.clone(), sub.url.clone(), e.kind.clone(), e.id);
        let status = tokio::task::spawn_blocking(move || {
            agent
                .post(&url)
                .header("content-type", "application/json")
                .header("x-concierge-signature", &signature)
                .header("x-concierge-event", &kind)
                .header("x-concierge-delivery", &id.to_string())
                .send(body.as_bytes())
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        })
        .await
        .unwrap_or(0);
        if (200..300).contains(&status) {
            progress.cursor = e.id;
            progress.delivered += 1;
        } else {
            let at = chrono::Utc::now().timestamp_millis()
                + backoff(sub.failures + 1).as_millis() as i64;
            let why = if status == 0 {
                "no answer".to_string()
            } else {
                format!("answered {status}")
            };
            progress.failure = Some((format!("event {}: {why}", e.id), at));
            break;
        }
    }
    progress
}
