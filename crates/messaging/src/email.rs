//! The email channel's glue: raw mail into conversation items, replies out over SMTP, and the IMAP
//! poller that logs new mail like any other inbound delivery.

use crate::{Messaging, OutgoingPayload};
use concierge_mail::{MailKind, SendError};
use concierge_store::{NewInbound, OutboxItem, OutboxOutcome};
use concierge_types::conversation::{
    ChannelKind, DeliveryStatus, Inbound, InboundState, Parsed, ProviderError, StatusUpdate,
};
use std::sync::Arc;
use std::time::Duration;

/// How often mailboxes are polled.
const POLL_EVERY: Duration = Duration::from_secs(30);

/// A raw mail as conversation items: a customer's mail is a message; a bounce fails the message
/// it bounced; auto-replies are kept out of the conversation (noted as skipped).
pub fn parse(raw: &[u8], default_region: &str) -> Result<Parsed, String> {
    let mail = concierge_mail::parse_message(raw, default_region)?;
    let mut parsed = Parsed::default();
    match &mail.kind {
        MailKind::Customer => match concierge_mail::to_inbound(&mail) {
            Some(mut m) => {
                // One conversation per sender within a thread: a colleague's reply-all starts
                // their own, so replies never go to someone who only joined the thread.
                let sender = mail
                    .from_identifier
                    .as_ref()
                    .map(|i| i.value.clone())
                    .unwrap_or_default();
                m.thread = format!("{sender} {}", m.thread);
                parsed.items.push(Inbound::Message(m))
            }
            None => parsed
                .skipped
                .push("mail without a usable sender address".into()),
        },
        MailKind::AutoReply { reason } => {
            parsed.skipped.push(format!("auto-reply ({reason})"));
        }
        MailKind::Bounce(b) => {
            parsed.skipped.push(format!(
                "bounce for {} ({})",
                b.recipients.join(", "),
                b.reason
            ));
            if let Some(original) = &b.original_message_id {
                parsed.items.push(Inbound::Status(StatusUpdate {
                    thread: None,
                    provider_ids: vec![original.clone()],
                    up_to: None,
                    status: DeliveryStatus::Failed,
                    ts: mail
                        .date
                        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis()),
                    error: Some(ProviderError {
                        code: b.status.clone(),
                        title: Some(format!("bounced: {}", b.reason)),
                        detail: b.diagnostic.clone(),
                    }),
                }));
            }
        }
    }
    Ok(parsed)
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

/// Sends one outbox entry as a threaded reply over SMTP (blocking: call from a blocking thread).
pub fn send(
    item: &OutboxItem,
    config: &concierge_channels::ChannelConfig,
    file: Option<&concierge_store::Attachment>,
) -> SendResult {
    let (Some(smtp), Some(from)) = (&config.smtp_url, &config.address) else {
        return SendResult::Done(failed(
            "channel_config",
            "the channel has no smtp_url or address",
        ));
    };
    let Some(to) = &item.contact_address else {
        return SendResult::Done(failed(
            "no_address",
            "the customer's email address is unknown",
        ));
    };
    let text = match serde_json::from_value::<OutgoingPayload>(item.payload.clone()) {
        Ok(OutgoingPayload::Text { text }) => text,
        Ok(OutgoingPayload::Media { caption, .. }) => caption.unwrap_or_default(),
        Ok(OutgoingPayload::Template { .. }) => {
            return SendResult::Done(failed("unsupported", "email has no templates; send text"))
        }
        Err(e) => return SendResult::Done(failed("bad_payload", e.to_string())),
    };
    // The thread key is "sender root": the root Message-ID heads the References.
    let root = item
        .thread
        .split_once(' ')
        .map(|(_, r)| r.to_string())
        .unwrap_or_else(|| item.thread.clone());
    let references: Vec<String> = match &item.reply_to {
        Some(parent) if parent != &root => vec![root],
        _ => Vec::new(),
    };
    let subject = item.subject.clone().unwrap_or_default();
    let (message_id, raw) = match concierge_mail::build_reply(
        from,
        to,
        &subject,
        &text,
        item.reply_to.as_deref(),
        &references,
        file.map(|f| (f.filename.as_str(), f.mime_type.as_str(), &f.data[..])),
    ) {
        Ok(r) => r,
        Err(e) => return SendResult::Done(failed("refused", e)),
    };
    match concierge_mail::send_smtp(smtp, from, &[to.as_str()], &raw) {
        Ok(()) => SendResult::Done(OutboxOutcome::Sent {
            provider_id: message_id,
        }),
        Err(SendError {
            retryable: true,
            message,
        }) => SendResult::Retry(message),
        Err(SendError { message, .. }) => SendResult::Done(failed("smtp", message)),
    }
}

pub enum SendResult {
    Done(OutboxOutcome),
    /// A temporary failure; the caller applies its backoff.
    Retry(String),
}

/// Polls every email channel's mailbox and logs new mail for the processor.
pub async fn poll(m: Arc<Messaging>) {
    loop {
        if let Err(e) = poll_once(&m).await {
            tracing::warn!(error = %e, "polling mailboxes failed");
        }
        let _ = tokio::time::timeout(POLL_EVERY, m.poll.notified()).await;
    }
}

pub async fn poll_once(m: &Messaging) -> Result<usize, String> {
    let channels = m.store.channels().await.map_err(|e| e.to_string())?;
    let mut logged = 0;
    for record in channels
        .into_iter()
        .filter(|c| c.kind == ChannelKind::Email)
    {
        let channel = crate::Channel::from_record(record)?;
        let Some(url) = channel.config.imap_url.clone() else {
            continue;
        };
        let key = format!("imap_uid:{}", channel.record.id);
        let since: u32 = m
            .store
            .cursor(&key)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let fetched = tokio::task::spawn_blocking(move || concierge_mail::poll_imap(&url, since))
            .await
            .map_err(|e| e.to_string())?;
        let (next, mails) = match fetched {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(channel = %channel.record.id, error = %e, "IMAP poll failed");
                continue;
            }
        };
        for raw in mails {
            let (state, error) = match parse(&raw, &m.default_region) {
                Ok(_) => (InboundState::Verified, None),
                Err(e) => (InboundState::Failed, Some(e)),
            };
            m.store
                .log_inbound(NewInbound {
                    channel_id: channel.record.id.clone(),
                    state,
                    error,
                    headers: vec![("source".into(), "imap".into())],
                    body: raw,
                })
                .await
                .map_err(|e| e.to_string())?;
            logged += 1;
        }
        if next != since {
            // After the log: a crash in between fetches again, and Message-IDs deduplicate.
            m.store
                .set_cursor(&key, &next.to_string())
                .await
                .map_err(|e| e.to_string())?;
        }
        if logged > 0 {
            m.inbound.notify_one();
        }
    }
    Ok(logged)
}
