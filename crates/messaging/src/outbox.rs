//! Sends queued messages through the provider plug-ins, with retries and backoff.
//!
//! Each entry is claimed (`sending`) in a committed transaction before the provider is called, and
//! its outcome is committed after. A provider outage only delays messages; a crash in the middle of
//! a call leaves the entry `sending`, which the next start marks failed as "interrupted": the
//! provider may or may not have it, and sending it again could reach the customer twice.

use crate::{Messaging, OutgoingPayload};
use concierge_channels::{provider, HttpRequest, SendContext, SendOutcome};
use concierge_store::{OutboxItem, OutboxOutcome};
use concierge_types::conversation::{ChannelKind, ProviderError};
use std::sync::Arc;
use std::time::Duration;

/// Entries claimed per round; they are sent concurrently.
const ROUND: usize = 32;
/// Attempts before a message is given up as failed.
pub const MAX_ATTEMPTS: u32 = 10;
/// Longest a provider call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest provider answer we read.
const MAX_ANSWER: u64 = 1 << 20;

/// Delay before attempt `attempts + 1`: 2 s, 4 s, 8 s… capped at one hour.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 2u64.saturating_pow(attempts.min(20));
    Duration::from_secs(secs.min(3600))
}

pub async fn run(m: Arc<Messaging>) {
    match m.store.recover_outbox().await {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!(
                count = n,
                "sends interrupted by the last stop were marked failed"
            )
        }
        Err(e) => tracing::error!(error = %e, "recovering the outbox failed"),
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(CALL_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let items = match m.store.claim_outbox(now, ROUND).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, "claiming outbox entries failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if items.is_empty() {
            let _ = tokio::time::timeout(Duration::from_millis(500), m.outbox.notified()).await;
            continue;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for item in items {
            let (m, agent) = (m.clone(), agent.clone());
            tasks.spawn(async move {
                let id = item.id;
                let outcome = send_one(&m, &agent, item).await;
                // The provider has answered: the outcome must be recorded, or the message would
                // look interrupted after the next restart (and be resent by hand).
                let mut wait = Duration::from_millis(100);
                while let Err(e) = m.store.finish_outbox(id, outcome.clone()).await {
                    tracing::warn!(outbox = id, error = %e, "recording a send outcome failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

fn failed(code: &str, title: impl Into<String>) -> OutboxOutcome {
    OutboxOutcome::Failed {
        error: ProviderError {
            code: Some(code.into()),
            title: Some(title.into()),
            detail: None,
        },
    }
}

async fn send_one(m: &Messaging, agent: &ureq::Agent, item: OutboxItem) -> OutboxOutcome {
    let store = m.store.as_ref();
    if item.channel.kind == ChannelKind::Webchat {
        // The visitor's browser reads it from the chat stream; there is no provider to call.
        return OutboxOutcome::Sent {
            provider_id: format!("wc-out:{}", item.message_id),
        };
    }
    let config = match crate::Channel::from_record(item.channel.clone()) {
        Ok(c) => c.config,
        Err(e) => return failed("channel_config", e),
    };
    if item.channel.kind == ChannelKind::Email {
        let attempts = item.attempts;
        // A file goes inside the mail: fetch its bytes first.
        let file = match serde_json::from_value::<OutgoingPayload>(item.payload.clone()) {
            Ok(OutgoingPayload::Media { attachment, .. }) => {
                match store.attachment(attachment).await {
                    Ok(Some(a)) => Some(a),
                    Ok(None) => return failed("attachment_gone", "the file is no longer kept"),
                    Err(e) => return retry(attempts, e.to_string()),
                }
            }
            _ => None,
        };
        let result =
            tokio::task::spawn_blocking(move || crate::email::send(&item, &config, file.as_ref()))
                .await;
        return match result {
            Ok(crate::email::SendResult::Done(outcome)) => outcome,
            Ok(crate::email::SendResult::Retry(reason)) => retry(attempts, reason),
            Err(e) => retry(attempts, e.to_string()),
        };
    }
    let Some(plugin) = provider(item.channel.kind) else {
        return failed(
            "unsupported_channel",
            format!("sending on {} is not supported", item.channel.kind.as_str()),
        );
    };
    let mut payload: OutgoingPayload = match serde_json::from_value(item.payload.clone()) {
        Ok(p) => p,
        Err(e) => return failed("bad_payload", format!("unreadable outbox entry: {e}")),
    };
    if let (OutgoingPayload::Media { url, .. }, Some(base)) = (&mut payload, &m.public_url) {
        // The configured address wins over the one the file was attached through.
        if let Some(i) = url.find("/media/") {
            *url = format!("{}{}", base.trim_end_matches('/'), &url[i..]);
        }
    }
    let now = chrono::Utc::now().timestamp_millis();
    let ctx = SendContext {
        now,
        last_incoming_at: item.last_incoming_at,
    };
    let request = match plugin.build_send(&config, &item.thread, &payload.to_outgoing(), &ctx) {
        Ok(r) => r,
        Err(e) => return failed("refused", e),
    };
    let agent = agent.clone();
    let answer = tokio::task::spawn_blocking(move || call(&agent, &request))
        .await
        .unwrap_or((0, Vec::new()));
    if answer.0 == UNKNOWN_OUTCOME {
        return failed(
            "unknown_outcome",
            "the provider did not answer after the message was sent; it may have arrived, so it is not resent automatically",
        );
    }
    match plugin.read_send_response(answer.0, &answer.1) {
        SendOutcome::Sent { provider_id } => OutboxOutcome::Sent { provider_id },
        SendOutcome::Failed { error } => OutboxOutcome::Failed { error },
        SendOutcome::Retry { reason } => retry(item.attempts, reason),
    }
}

/// Another try later, or failed for good after [`MAX_ATTEMPTS`].
fn retry(attempts: u32, reason: String) -> OutboxOutcome {
    if attempts >= MAX_ATTEMPTS {
        return failed(
            "gave_up",
            format!("gave up after {attempts} attempts: {reason}"),
        );
    }
    tracing::info!(attempts, %reason, "send failed, will retry");
    let at = chrono::Utc::now().timestamp_millis() + backoff(attempts).as_millis() as i64;
    OutboxOutcome::Retry { error: reason, at }
}

/// Stands for "sent, but no answer came back": the outcome is unknown.
const UNKNOWN_OUTCOME: u16 = 1;

/// Whether the request certainly never reached the provider (so a retry is safe).
fn never_reached(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
        ureq::Error::Timeout(t) => matches!(t, ureq::Timeout::Resolve | ureq::Timeout::Connect),
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        _ => false,
    }
}

/// Performs the provider call; status 0 means it never reached the provider (connection refused,
/// unknown host, connect timeout).
fn call(agent: &ureq::Agent, r: &HttpRequest) -> (u16, Vec<u8>) {
    let result = match r.method {
        "GET" => {
            let mut req = agent.get(&r.url);
            for (k, v) in &r.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            req.call()
        }
        _ => {
            let mut req = agent.post(&r.url);
            for (k, v) in &r.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            req.send(&r.body[..])
        }
    };
    match result {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .with_config()
                .limit(MAX_ANSWER)
                .read_to_vec()
                .unwrap_or_default();
            (status, body)
        }
        // Not the URL in logs: Telegram's carries the bot token, Messenger's the page token.
        Err(e) if never_reached(&e) => {
            tracing::warn!(error = %e, "provider unreachable");
            (0, Vec::new())
        }
        Err(e) => {
            // The request may have arrived: retrying could reach the customer twice.
            tracing::warn!(error = %e, "provider call failed after sending");
            (UNKNOWN_OUTCOME, Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(30), Duration::from_secs(3600));
    }
}
