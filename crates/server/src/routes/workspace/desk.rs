//! The desk's pieces every page shows: channel icons, SLA badges, and the facts the desk crate
//! computes them from.

use super::*;
use concierge_desk::{Clock, Facts, SlaState, Turn, Who};
use concierge_types::conversation::ChannelKind;

/// The desk's view of a conversation and its public turns.
pub(super) fn facts(c: &ConversationView, turns: &[(i64, Author)]) -> Facts {
    Facts {
        id: c.id,
        channel: c.channel_kind,
        contact: c.contact_name.clone().unwrap_or_else(|| c.thread.clone()),
        language: c.language.clone(),
        status: c.status,
        owner: c.owner.clone(),
        team: c.team.clone(),
        created_at: c.created_at.0,
        handed_at: c.handed_at.map(|t| t.0),
        resolved_at: c.resolved_at.map(|t| t.0),
        handoff_reason: c.handoff_reason.clone(),
        turns: turns
            .iter()
            .filter_map(|&(at, a)| {
                let who = match a {
                    Author::Customer => Who::Customer,
                    Author::Agent | Author::Brand => Who::Person,
                    Author::Bot => Who::Bot,
                    Author::System => return None,
                };
                Some(Turn { at, who })
            })
            .collect(),
    }
}

/// A small coloured mark with the channel's initials, named for screen readers.
pub(super) fn channel_icon(k: ChannelKind) -> String {
    let mark = match k {
        ChannelKind::Whatsapp => "WA",
        ChannelKind::Messenger => "FB",
        ChannelKind::Instagram => "IG",
        ChannelKind::Telegram => "TG",
        ChannelKind::Viber => "VB",
        ChannelKind::Tiktok => "TT",
        ChannelKind::Email => "@",
        ChannelKind::Webchat => "WEB",
        ChannelKind::Store => "LOJA",
        ChannelKind::Api => "API",
    };
    format!(
        "<span class=\"ch ch-{k}\" title=\"{name}\" aria-label=\"{name}\">{mark}</span>",
        k = k.as_str(),
        name = channel_name(k),
    )
}

/// "12 min", "3 h", "2 d".
pub(super) fn span(ms: i64) -> String {
    let m = (ms.max(0) + 59_999) / 60_000;
    if m < 60 {
        format!("{m} min")
    } else if m < 48 * 60 {
        format!("{} h", (m + 30) / 60)
    } else {
        format!("{} d", (m + 720) / 1440)
    }
}

/// The SLA badge: every breached target, else the nearest deadline still running.
pub(super) fn sla_badge(t: &Texts, s: &SlaState, now: i64) -> String {
    let names = s.clocks();
    let breached: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|(_, (_, c))| matches!(c, Clock::Breached { .. }))
        .map(|(i, _)| t.sla_names[i])
        .collect();
    if !breached.is_empty() {
        return format!(
            "<span class=\"sla breached\" data-sla=\"breached\">SLA {} · {}</span>",
            t.breached,
            breached.join(", ")
        );
    }
    let running = names
        .iter()
        .enumerate()
        .filter_map(|(i, (_, c))| match c {
            Clock::Running { due_at } => Some((*due_at, i)),
            _ => None,
        })
        .min();
    match running {
        Some((due, i)) => {
            let class = if due - now < 15 * 60_000 {
                "soon"
            } else {
                "due"
            };
            format!(
                "<span class=\"sla {class}\" data-sla=\"running\" title=\"{}\">{} · {} {}</span>",
                time_text(concierge_types::view::Timestamp(due)),
                t.sla_names[i],
                t.due_in,
                span(due - now)
            )
        }
        None => String::new(),
    }
}
