//! The bot at work: takes each customer message once, in order, asks the engine what to do with
//! what the data core knows about the customer, and writes the decision through
//! [`Store::bot_apply`], which drops the bot's words if a person took over meanwhile. Also runs
//! the time-based rules (`customer.silent`, `agent.silent`).
//!
//! The active definition lives in the store, so `concierge bot train` (or the API) on any node
//! replaces the bot everywhere within a couple of seconds, without a restart.

use crate::{Messaging, OutgoingPayload};
use concierge_bot::definition::Definition;
use concierge_bot::engine::{Bot, Decision, Effect, State, Turn};
use concierge_bot::facts::{self, Customer, OrderEvent, ORDER_EVENTS};
use concierge_bot::rules::{Action, RuleEvent, Target};
use concierge_channels::{check_window, SendContext};
use concierge_store::{BotAct, BotApplied, BotEffect, BotTurn, BotWork, Silence, Store};
use concierge_types::conversation::{Author, ChannelKind, Content, ConversationView, Owner};
use concierge_types::ProfileId;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The trained bot in use and the definition version it came from.
pub struct Active {
    pub version: i64,
    /// When that definition was saved (ms): the bot does not answer messages from before.
    pub since: i64,
    pub bot: Bot,
}

/// Older messages are left to people: a late answer from a bot (after downtime) is worse than
/// none.
const STALE_MS: i64 = 3600 * 1000;

const CURSOR: &str = "bot";
/// Order events looked at per customer.
const ORDER_EVENT_LIMIT: usize = 200;

pub async fn run(m: Arc<Messaging>) {
    let mut last_timers = Instant::now() - Duration::from_secs(3600);
    loop {
        if let Err(e) = reload(&m).await {
            // Messages wait for the bot rather than pass it by.
            tracing::error!(error = %e, "loading the bot definition failed; retrying");
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        let worked = match handle_pending(&m).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::error!(error = %e, "the bot failed on a message; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                false
            }
        };
        if last_timers.elapsed() >= Duration::from_secs(30) {
            last_timers = Instant::now();
            if let Err(e) = run_timers(&m, chrono::Utc::now().timestamp_millis()).await {
                tracing::error!(error = %e, "timer rules failed");
            }
        }
        if !worked {
            let _ = tokio::time::timeout(Duration::from_secs(2), m.bot_wake.notified()).await;
        }
    }
}

/// Loads the newest definition if it changed, training it off the async threads.
pub async fn reload(m: &Messaging) -> Result<(), String> {
    let Some(stored) = m.store.bot_definition().await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let version = stored.version;
    let current = m.active_bot().map(|a| a.version);
    if current == Some(version) {
        return Ok(());
    }
    let def = Definition::parse(&stored.body).map_err(|e| e.join("; "))?;
    let bot = tokio::task::spawn_blocking(move || Bot::train(def))
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        version,
        intents = bot.report.intents,
        train_ms = bot.report.train_ms,
        "bot definition loaded"
    );
    m.set_active_bot(Arc::new(Active {
        version,
        since: stored.created_at,
        bot,
    }));
    Ok(())
}

/// Handles every customer message not handled yet; returns how many.
pub async fn handle_pending(m: &Messaging) -> Result<usize, String> {
    let store = &m.store;
    let cursor = store.cursor(CURSOR).await.map_err(|e| e.to_string())?;
    let Some(mut after) = cursor.and_then(|c| c.parse::<i64>().ok()) else {
        // First start (or an upgrade): the history before it is not the bot's to answer.
        let last = store.last_message_id().await.map_err(|e| e.to_string())?;
        store
            .set_cursor(CURSOR, &last.to_string())
            .await
            .map_err(|e| e.to_string())?;
        return Ok(0);
    };
    let mut done = 0;
    loop {
        let active = m.active_bot();
        // One message at a time while a bot is active: each decision must see the memory and
        // version the previous one left.
        let limit = if active.is_some() { 1 } else { 500 };
        let work = store
            .bot_work(after, limit)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = work.last().map(|w| w.message_id) else {
            return Ok(done);
        };
        // Messages that arrive while no bot is defined are not answered later.
        if let Some(active) = active {
            for w in &work {
                handle(m, &active, w).await?;
            }
        }
        done += work.len();
        after = last;
        store
            .set_cursor(CURSOR, &after.to_string())
            .await
            .map_err(|e| e.to_string())?;
        m.outbox.notify_one();
        m.route.notify_one();
    }
}

fn text_of(content: &Content) -> String {
    match content {
        Content::Text { text } => text.clone(),
        Content::Media { caption, .. } => caption.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

async fn customer(store: &Arc<dyn Store>, id: ProfileId) -> Result<Customer, String> {
    let view = store.customer(id).await.map_err(|e| e.to_string())?;
    let events = store
        .events_named(
            id,
            ORDER_EVENTS.iter().map(|s| s.to_string()).collect(),
            ORDER_EVENT_LIMIT,
        )
        .await
        .map_err(|e| e.to_string())?;
    let order_events: Vec<OrderEvent<'_>> = events
        .iter()
        .map(|e| OrderEvent {
            name: e.name.as_deref().unwrap_or(""),
            ts: e.timestamp.0,
            channel: &e.channel,
            properties: e.message.get("properties").unwrap_or(&Value::Null),
        })
        .collect();
    let mut c = Customer {
        id: id.0.to_string(),
        orders: facts::orders(&order_events),
        ..Default::default()
    };
    if let Some(v) = view {
        c.id = v.id.0.to_string();
        c.traits = v.traits.into_iter().map(|(k, t)| (k, t.value)).collect();
        c.name = c
            .traits
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        c.identifiers = v
            .identifiers
            .iter()
            .map(|i| (i.kind.as_str().to_string(), i.value.clone()))
            .collect();
        let mut channels: Vec<String> = v
            .identifiers
            .iter()
            .map(|i| i.last_channel.clone())
            .collect();
        channels.sort();
        channels.dedup();
        c.channels = channels;
    }
    Ok(c)
}

async fn handle(m: &Messaging, active: &Active, w: &BotWork) -> Result<(), String> {
    let bot = &active.bot;
    let conv = &w.conversation;
    let now = chrono::Utc::now().timestamp_millis();
    let fresh = w.received_at >= active.since && now - w.received_at <= STALE_MS;
    let text = text_of(&w.content);
    let customer = customer(&m.store, conv.customer_id).await?;
    let status = conv.status.as_str();
    let turn = Turn {
        text: &text,
        channel: conv.channel_kind.as_str(),
        contact_locale: customer
            .traits
            .get("locale")
            .or_else(|| customer.traits.get("language"))
            .and_then(Value::as_str),
        conversation_status: status,
        customer: &customer,
    };
    let state: State = w
        .state
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let act = if w.bot_may_act && fresh {
        let decision = if text.trim().is_empty() {
            // A photo, a location, a sticker: a person should look.
            bot.respond_unreadable(&state, &turn)
        } else {
            bot.respond(&state, &turn)
        };
        let Decision {
            effects,
            record,
            state,
            remember,
        } = decision;
        let teams = match effects.iter().any(|e| matches!(e, Effect::Handoff { .. })) {
            true => m.store.teams().await.map_err(|e| e.to_string())?,
            false => Vec::new(),
        };
        let effects = effects
            .into_iter()
            .map(|e| place_handoff(e, &teams, conv.channel_kind))
            .filter_map(|e| to_store_effect(e, conv, now))
            .collect();
        if !remember.is_empty() {
            let traits = remember
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            m.store
                .set_traits(conv.customer_id, traits, "bot".into())
                .await
                .map_err(|e| e.to_string())?;
        }
        BotAct {
            conversation: conv.id,
            message_id: Some(w.message_id),
            speaks_at: Some(w.version),
            firing: None,
            effects,
            turn: Some(BotTurn {
                language: record.language,
                intent: record.intent,
                confidence: record.confidence,
                outcome: record.outcome.to_string(),
                reason: record.reason,
                rules: record.rules,
            }),
            state: serde_json::to_string(&state).ok(),
            language: state.language.clone(),
        }
    } else {
        // A person has the conversation (or the message is too old for the bot): only the
        // brand's message rules apply (labels, reminders…), never the bot's words.
        let owner = conv.owner.to_parts().0;
        let (effects, rules) = bot.rules_only(
            RuleEvent::MessageReceived,
            &turn,
            conv.language.as_deref(),
            owner,
        );
        BotAct {
            conversation: conv.id,
            message_id: Some(w.message_id),
            speaks_at: None,
            firing: None,
            effects: effects
                .into_iter()
                .filter_map(|e| to_store_effect(e, conv, now))
                .collect(),
            turn: Some(BotTurn {
                language: conv.language.clone().unwrap_or_default(),
                outcome: "rules".into(),
                rules,
                ..Default::default()
            }),
            state: None,
            language: None,
        }
    };
    match m.store.bot_apply(act).await.map_err(|e| e.to_string())? {
        BotApplied::Silenced => {
            tracing::debug!(
                conversation = conv.id,
                "a person took over; the bot stays silent"
            )
        }
        BotApplied::Done | BotApplied::AlreadyHandled | BotApplied::Skipped => {}
    }
    Ok(())
}

/// A team's name is its queue. When the queue the bot chose is no team's, the team whose skills
/// fit (language, channel, the topic) takes the conversation instead.
fn place_handoff(e: Effect, teams: &[concierge_types::TeamView], channel: ChannelKind) -> Effect {
    match e {
        Effect::Handoff {
            reason,
            queue,
            wait_minutes,
            topic,
            language,
        } => {
            let queue = if teams.iter().any(|t| t.name == queue) {
                queue
            } else {
                concierge_desk::routing::pick_team(
                    teams,
                    Some(&language),
                    channel,
                    topic.as_deref(),
                )
                .map(|t| t.name.clone())
                .unwrap_or(queue)
            };
            Effect::Handoff {
                reason,
                queue,
                wait_minutes,
                topic,
                language,
            }
        }
        e => e,
    }
}

/// The engine's effect as the store writes it; a text the channel can't take now (a closed
/// reply window) becomes a note saying so.
fn to_store_effect(e: Effect, conv: &ConversationView, now: i64) -> Option<BotEffect> {
    let send = |payload: OutgoingPayload| {
        let ctx = SendContext {
            now,
            last_incoming_at: conv.last_incoming_at.map(|t| t.0),
        };
        let content = payload.content();
        match check_window(conv.channel_kind, &ctx, &payload.to_outgoing()) {
            Ok(()) => serde_json::to_value(&payload)
                .ok()
                .map(|outgoing| BotEffect::Reply { content, outgoing }),
            Err(why) => Some(BotEffect::Note {
                text: format!("Not sent ({why}): {}", content.preview()),
                author: Author::System,
            }),
        }
    };
    Some(match e {
        Effect::Reply(text) => return send(OutgoingPayload::Text { text }),
        Effect::Template(t) => {
            return send(OutgoingPayload::Template {
                name: t.name,
                language: t.language,
                params: t.params,
            })
        }
        Effect::Note(text) => BotEffect::Note {
            text,
            author: Author::Bot,
        },
        Effect::Label(l) => BotEffect::Label(l),
        Effect::Assign(t) => BotEffect::Assign(match t {
            Target::Queue(q) => Owner::Queue(q),
            Target::Agent(a) => Owner::Agent(a),
            Target::Bot => Owner::Bot,
        }),
        Effect::Handoff { reason, queue, .. } => BotEffect::Handoff { reason, queue },
        Effect::Resolve => BotEffect::Resolve,
    })
}

/// Runs the time-based rules as of `now` (ms); returns how many fired.
pub async fn run_timers(m: &Messaging, now: i64) -> Result<usize, String> {
    let Some(active) = m.active_bot() else {
        return Ok(0);
    };
    let def = &active.bot.def;
    let mut fired = 0;
    for rule in def.rules.iter().filter(|r| r.on.is_timer()) {
        let silence = match rule.on {
            RuleEvent::CustomerSilent => Silence::Customer,
            _ => Silence::Agent,
        };
        let minutes = rule.after_minutes.unwrap_or(0) as i64;
        let before = now - minutes * 60_000;
        // Each conversation once per run, even if what the rule sent starts a new silence.
        let mut seen = std::collections::HashSet::new();
        loop {
            let silent = m
                .store
                .silent_conversations(silence, rule.name.clone(), before, 100)
                .await
                .map_err(|e| e.to_string())?;
            let silent: Vec<_> = silent
                .into_iter()
                .filter(|(c, _)| seen.insert(c.id))
                .collect();
            if silent.is_empty() {
                break;
            }
            for (conv, anchor) in silent {
                let needs_customer = rule
                    .conditions
                    .iter()
                    .any(|c| c.field.starts_with("customer."));
                let traits = if needs_customer {
                    customer(&m.store, conv.customer_id).await?.traits
                } else {
                    Default::default()
                };
                let fields = |name: &str| -> Option<Value> {
                    if let Some(t) = name.strip_prefix("customer.traits.") {
                        return traits.get(t).cloned();
                    }
                    match name {
                        "customer.id" => Some(Value::from(conv.customer_id.0.to_string())),
                        "conversation.channel" => Some(conv.channel_kind.as_str().into()),
                        "conversation.status" => Some(conv.status.as_str().into()),
                        "conversation.owner" => Some(conv.owner.to_parts().0.into()),
                        "language" => conv.language.clone().map(Value::from),
                        "handoff.reason" => conv.handoff_reason.clone().map(Value::from),
                        _ => None,
                    }
                };
                // The silence is examined once: if the conditions don't hold now, the rule waits
                // for the next silence.
                let effects = if rule.conditions.iter().all(|c| c.holds(&fields)) {
                    let lang = def.serve(conv.language.as_deref()).to_string();
                    rule.then
                        .iter()
                        .filter_map(|a| timer_effect(&active.bot, a, &lang))
                        .filter_map(|e| to_store_effect(e, &conv, now))
                        .map(|e| match e {
                            // Reminders come from the system, not the bot.
                            BotEffect::Note { text, .. } => BotEffect::Note {
                                text,
                                author: Author::System,
                            },
                            other => other,
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                let act = BotAct {
                    conversation: conv.id,
                    message_id: None,
                    speaks_at: None,
                    firing: Some((rule.name.clone(), anchor, silence)),
                    effects,
                    turn: None,
                    state: None,
                    language: None,
                };
                if m.store.bot_apply(act).await.map_err(|e| e.to_string())? == BotApplied::Done {
                    fired += 1;
                }
            }
        }
    }
    if fired > 0 {
        m.outbox.notify_one();
    }
    Ok(fired)
}

fn timer_effect(bot: &Bot, a: &Action, lang: &str) -> Option<Effect> {
    Some(match a {
        Action::Label(l) => Effect::Label(l.clone()),
        Action::Assign(t) => Effect::Assign(concierge_bot::rules::parse_owner(t)?),
        Action::Send(t) => Effect::Reply(bot.render_plain(bot.def.pick(t, lang), lang)),
        Action::SendTemplate(t) => Effect::Template(t.clone()),
        Action::Resolve(true) => Effect::Resolve,
        Action::Remind(t) => Effect::Note(t.clone()),
        Action::Resolve(false) | Action::Handoff(_) => return None,
    })
}

/// The bot's indicators over a period.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Indicators {
    /// Conversations the bot handled at least one message of.
    pub conversations: u64,
    /// Of those, the ones no person touched (no handoff, no human reply or assignment).
    pub contained: u64,
    pub containment_rate: f64,
    /// Of the contained ones, those already resolved (by the bot or a rule).
    pub resolved_by_bot: u64,
    pub bot_resolution_rate: f64,
    /// Customer messages the bot handled.
    pub messages: u64,
    /// Messages the bot did not understand (out of scope, low confidence, too close to call,
    /// unreadable, or a slot asked again).
    pub fallbacks: u64,
    pub fallback_rate: f64,
    pub handoffs: u64,
    pub handoffs_by_reason: std::collections::BTreeMap<String, u64>,
    /// Detected intents, most frequent first.
    pub intents: Vec<(String, u64)>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub by_language: std::collections::BTreeMap<String, Indicators>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub by_channel: std::collections::BTreeMap<String, Indicators>,
}

const FALLBACK_REASONS: [&str; 4] = ["out_of_scope", "low_confidence", "ambiguous", "unreadable"];

impl Indicators {
    /// Computes the indicators from the handled messages, overall and per language and channel
    /// (a conversation counts under the language of its last message).
    pub fn from_turns(rows: &[concierge_store::BotTurnRow]) -> Indicators {
        let mut all = Self::of(rows.iter());
        let mut langs: std::collections::BTreeMap<i64, &str> = Default::default();
        for r in rows {
            langs.insert(r.conversation, &r.language);
        }
        let mut by_language: std::collections::BTreeMap<String, Vec<&concierge_store::BotTurnRow>> =
            Default::default();
        let mut by_channel: std::collections::BTreeMap<String, Vec<&concierge_store::BotTurnRow>> =
            Default::default();
        for r in rows {
            let lang = langs.get(&r.conversation).copied().unwrap_or("");
            by_language.entry(lang.to_string()).or_default().push(r);
            by_channel.entry(r.channel.clone()).or_default().push(r);
        }
        all.by_language = by_language
            .into_iter()
            .map(|(k, v)| (k, Self::of(v.into_iter())))
            .collect();
        all.by_channel = by_channel
            .into_iter()
            .map(|(k, v)| (k, Self::of(v.into_iter())))
            .collect();
        all
    }

    fn of<'a>(rows: impl Iterator<Item = &'a concierge_store::BotTurnRow>) -> Indicators {
        let mut i = Indicators::default();
        // Per conversation: (a person was involved, resolved).
        let mut convs: std::collections::BTreeMap<i64, (bool, bool)> = Default::default();
        let mut intents: std::collections::BTreeMap<String, u64> = Default::default();
        for r in rows {
            i.messages += 1;
            let handoff = r.outcome == "handoff";
            let c = convs.entry(r.conversation).or_insert((false, r.resolved));
            c.0 |= r.human || handoff;
            if let Some(intent) = &r.intent {
                *intents.entry(intent.clone()).or_default() += 1;
            }
            let reason = r.reason.as_deref().unwrap_or("");
            if r.outcome == "fallback" || (handoff && FALLBACK_REASONS.contains(&reason)) {
                i.fallbacks += 1;
            }
            if handoff {
                i.handoffs += 1;
                *i.handoffs_by_reason.entry(reason.to_string()).or_default() += 1;
            }
        }
        i.conversations = convs.len() as u64;
        i.contained = convs.values().filter(|(human, _)| !*human).count() as u64;
        i.resolved_by_bot = convs
            .values()
            .filter(|(human, resolved)| !*human && *resolved)
            .count() as u64;
        let rate = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        i.containment_rate = rate(i.contained, i.conversations);
        i.bot_resolution_rate = rate(i.resolved_by_bot, i.conversations);
        i.fallback_rate = rate(i.fallbacks, i.messages);
        let mut intents: Vec<(String, u64)> = intents.into_iter().collect();
        intents.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        i.intents = intents;
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(id: i64, name: &str, languages: &[&str], topics: &[&str]) -> concierge_types::TeamView {
        concierge_types::TeamView {
            id,
            name: name.into(),
            languages: languages.iter().map(|s| s.to_string()).collect(),
            channels: Vec::new(),
            topics: topics.iter().map(|s| s.to_string()).collect(),
            members: Vec::new(),
        }
    }

    fn queue_of(e: Effect) -> String {
        match e {
            Effect::Handoff { queue, .. } => queue,
            _ => panic!("not a handoff"),
        }
    }

    #[test]
    fn a_handoff_to_no_team_goes_to_the_team_whose_skills_fit() {
        let teams = [
            team(1, "atendimento", &["pt"], &[]),
            team(2, "cobranca", &["pt"], &["payment_pix"]),
        ];
        let handoff = |queue: &str, topic: Option<&str>| Effect::Handoff {
            reason: "asked_for_person".into(),
            queue: queue.into(),
            wait_minutes: 5,
            topic: topic.map(str::to_string),
            language: "pt".into(),
        };
        // The bot's queue is a team: kept.
        let e = place_handoff(
            handoff("atendimento", Some("payment_pix")),
            &teams,
            ChannelKind::Whatsapp,
        );
        assert_eq!(queue_of(e), "atendimento");
        // "financeiro" is nobody's queue here: the team that handles Pix takes it.
        let e = place_handoff(
            handoff("financeiro", Some("payment_pix")),
            &teams,
            ChannelKind::Whatsapp,
        );
        assert_eq!(queue_of(e), "cobranca");
        // No team fits an English speaker: the bot's choice stands.
        let mut en = handoff("international", None);
        if let Effect::Handoff { language, .. } = &mut en {
            *language = "en".into();
        }
        assert_eq!(
            queue_of(place_handoff(en, &teams, ChannelKind::Whatsapp)),
            "international"
        );
    }
}
