//! The supervisor's indicators: every number is computed from [`Row`]s, and every number names a
//! [`Drill`] that selects exactly the rows behind it, so the dashboard and its drill-down can
//! never disagree.

use crate::sla::{evaluate, Clock, Facts, Sla, SlaState};
use concierge_types::conversation::{ChannelKind, ConversationStatus, Owner};
use std::collections::BTreeMap;

/// One conversation with everything the indicators count.
#[derive(Debug, Clone)]
pub struct Row {
    pub facts: Facts,
    pub sla: SlaState,
    /// Created within the period (backlog counts every unresolved conversation).
    pub in_period: bool,
    /// The hour of the day it began, on the brand's clock.
    pub hour: u8,
    pub bot_touched: bool,
    /// The bot spoke and no person was ever needed.
    pub contained: bool,
    /// The bot spoke and then handed over.
    pub escalated: bool,
}

pub fn rows(sla: &Sla, facts: Vec<Facts>, since: i64, now: i64) -> Vec<Row> {
    facts
        .into_iter()
        .map(|f| {
            let state = evaluate(sla, &f, now);
            let bot_touched = f.bot_spoke();
            let needed_person = f.sla_start().is_some();
            Row {
                in_period: f.created_at >= since && f.created_at < now,
                hour: sla.hours.local_hour(f.created_at),
                contained: bot_touched && !needed_person,
                escalated: bot_touched && needed_person,
                bot_touched,
                sla: state,
                facts: f,
            }
        })
        .collect()
}

/// Where a conversation waits now, for the backlog.
pub fn backlog_state(f: &Facts) -> Option<&'static str> {
    if f.status == ConversationStatus::Resolved {
        return None;
    }
    Some(match (&f.owner, f.status) {
        (_, ConversationStatus::Snoozed) => "snoozed",
        (Owner::Bot, _) => "bot",
        (Owner::Queue(_), _) => "queue",
        (Owner::Agent(_), _) => "agent",
        (Owner::Unassigned, _) if f.handed_at.is_none() && f.bot_spoke() => "bot",
        (Owner::Unassigned, _) => "unassigned",
    })
}

/// A selection of rows, written `metric` + `key` in links (`?m=channel&k=whatsapp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drill {
    All,
    Channel(ChannelKind),
    Hour(u8),
    /// Conversations with a first response (the ones its percentiles are taken over).
    FirstResponse,
    Resolved,
    BotTouched,
    Contained,
    Escalated,
    Reason(String),
    Backlog(String),
    /// `first_response|next_response|resolution` and `met|breached|running`.
    Sla(String, String),
    /// Any target breached.
    Breached,
    Agent(String),
    Team(String),
}

impl Drill {
    pub fn parse(metric: &str, key: &str) -> Option<Drill> {
        Some(match metric {
            "" | "all" => Drill::All,
            "channel" => Drill::Channel(ChannelKind::parse(key)?),
            "hour" => Drill::Hour(key.parse().ok().filter(|h| *h < 24)?),
            "first_response" => Drill::FirstResponse,
            "resolved" => Drill::Resolved,
            "bot" => Drill::BotTouched,
            "contained" => Drill::Contained,
            "breached" => Drill::Breached,
            "escalated" => Drill::Escalated,
            "reason" => Drill::Reason(key.to_string()),
            "backlog" => Drill::Backlog(key.to_string()),
            "sla" => {
                let (m, o) = key.split_once(':')?;
                let metrics = ["first_response", "next_response", "resolution"];
                let outcomes = ["met", "breached", "running"];
                if !metrics.contains(&m) || !outcomes.contains(&o) {
                    return None;
                }
                Drill::Sla(m.to_string(), o.to_string())
            }
            "agent" => Drill::Agent(key.to_string()),
            "team" => Drill::Team(key.to_string()),
            _ => return None,
        })
    }

    /// `(metric, key)` for links.
    pub fn query(&self) -> (&'static str, String) {
        match self {
            Drill::All => ("all", String::new()),
            Drill::Channel(c) => ("channel", c.as_str().to_string()),
            Drill::Hour(h) => ("hour", h.to_string()),
            Drill::FirstResponse => ("first_response", String::new()),
            Drill::Resolved => ("resolved", String::new()),
            Drill::BotTouched => ("bot", String::new()),
            Drill::Contained => ("contained", String::new()),
            Drill::Breached => ("breached", String::new()),
            Drill::Escalated => ("escalated", String::new()),
            Drill::Reason(r) => ("reason", r.clone()),
            Drill::Backlog(b) => ("backlog", b.clone()),
            Drill::Sla(m, o) => ("sla", format!("{m}:{o}")),
            Drill::Agent(a) => ("agent", a.clone()),
            Drill::Team(t) => ("team", t.clone()),
        }
    }

    pub fn matches(&self, r: &Row) -> bool {
        if let Drill::Backlog(state) = self {
            return backlog_state(&r.facts) == Some(state.as_str());
        }
        if !r.in_period {
            return false;
        }
        match self {
            Drill::All => true,
            Drill::Channel(c) => r.facts.channel == *c,
            Drill::Hour(h) => r.hour == *h,
            Drill::FirstResponse => r.sla.first_response_ms.is_some(),
            Drill::Resolved => r.sla.resolution_ms.is_some(),
            Drill::BotTouched => r.bot_touched,
            Drill::Contained => r.contained,
            Drill::Escalated => r.escalated,
            Drill::Reason(x) => r.escalated && r.facts.handoff_reason.as_deref().unwrap_or("") == x,
            Drill::Breached => r.sla.breached(),
            Drill::Sla(m, o) => r
                .sla
                .clocks()
                .iter()
                .any(|(name, c)| name == m && c.as_str() == o),
            Drill::Agent(a) => r.facts.agent() == Some(a.as_str()),
            Drill::Team(t) => r.facts.team.as_deref() == Some(t.as_str()),
            Drill::Backlog(_) => false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub n: usize,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

/// Nearest-rank percentiles.
pub fn percentiles(mut values: Vec<i64>) -> Percentiles {
    values.sort_unstable();
    let at = |p: f64| {
        if values.is_empty() {
            None
        } else {
            let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
            Some(values[rank - 1])
        }
    };
    Percentiles {
        n: values.len(),
        p50: at(0.5),
        p90: at(0.9),
    }
}

#[derive(Debug, Clone, Default)]
pub struct SlaCount {
    pub met: usize,
    pub breached: usize,
    pub running: usize,
}

impl SlaCount {
    /// Met among those decided, in percent.
    pub fn attainment(&self) -> Option<f64> {
        let decided = self.met + self.breached;
        (decided > 0).then(|| 100.0 * self.met as f64 / decided as f64)
    }
}

#[derive(Debug, Clone, Default)]
pub struct PersonLine {
    pub name: String,
    pub conversations: usize,
    pub resolved: usize,
    pub first_response: Percentiles,
    pub breaches: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub conversations: usize,
    pub by_channel: Vec<(ChannelKind, usize)>,
    pub by_hour: [usize; 24],
    pub first_response: Percentiles,
    pub resolution: Percentiles,
    pub bot_touched: usize,
    pub contained: usize,
    pub escalated: usize,
    pub reasons: Vec<(String, usize)>,
    pub backlog: Vec<(&'static str, usize)>,
    /// first_response, next_response, resolution.
    pub sla: [(&'static str, SlaCount); 3],
    pub agents: Vec<PersonLine>,
    pub teams: Vec<PersonLine>,
    /// Conversations with any target breached.
    pub breached: usize,
}

impl Report {
    /// Contained among conversations the bot spoke in, in percent.
    pub fn containment(&self) -> Option<f64> {
        (self.bot_touched > 0).then(|| 100.0 * self.contained as f64 / self.bot_touched as f64)
    }
    pub fn escalation(&self) -> Option<f64> {
        (self.bot_touched > 0).then(|| 100.0 * self.escalated as f64 / self.bot_touched as f64)
    }
}

fn line<'a>(
    lines: &'a mut BTreeMap<String, (PersonLine, Vec<i64>)>,
    name: &str,
) -> &'a mut (PersonLine, Vec<i64>) {
    lines.entry(name.to_string()).or_insert_with(|| {
        (
            PersonLine {
                name: name.to_string(),
                ..PersonLine::default()
            },
            Vec::new(),
        )
    })
}

pub fn report(rows: &[Row]) -> Report {
    let mut r = Report {
        sla: [
            ("first_response", SlaCount::default()),
            ("next_response", SlaCount::default()),
            ("resolution", SlaCount::default()),
        ],
        ..Report::default()
    };
    let mut channels: BTreeMap<&'static str, (ChannelKind, usize)> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut backlog: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut frt, mut res) = (Vec::new(), Vec::new());
    let mut agents = BTreeMap::new();
    let mut teams = BTreeMap::new();
    for row in rows {
        if let Some(b) = backlog_state(&row.facts) {
            *backlog.entry(b).or_default() += 1;
        }
        if !row.in_period {
            continue;
        }
        r.conversations += 1;
        channels
            .entry(row.facts.channel.as_str())
            .or_insert((row.facts.channel, 0))
            .1 += 1;
        r.by_hour[usize::from(row.hour)] += 1;
        frt.extend(row.sla.first_response_ms);
        res.extend(row.sla.resolution_ms);
        r.bot_touched += usize::from(row.bot_touched);
        r.breached += usize::from(row.sla.breached());
        r.contained += usize::from(row.contained);
        if row.escalated {
            r.escalated += 1;
            let reason = row.facts.handoff_reason.clone().unwrap_or_default();
            *reasons.entry(reason).or_default() += 1;
        }
        for (i, (_, c)) in row.sla.clocks().iter().enumerate() {
            let count = &mut r.sla[i].1;
            match c {
                Clock::Met { .. } => count.met += 1,
                Clock::Breached { .. } => count.breached += 1,
                Clock::Running { .. } => count.running += 1,
                Clock::None => {}
            }
        }
        let breaches = row
            .sla
            .clocks()
            .iter()
            .filter(|(_, c)| matches!(c, Clock::Breached { .. }))
            .count();
        let add = |l: &mut (PersonLine, Vec<i64>)| {
            l.0.conversations += 1;
            l.0.resolved += usize::from(row.sla.resolution_ms.is_some());
            l.0.breaches += breaches;
            l.1.extend(row.sla.first_response_ms);
        };
        if let Some(a) = row.facts.agent() {
            add(line(&mut agents, a));
        }
        if let Some(t) = &row.facts.team {
            add(line(&mut teams, t));
        }
    }
    r.by_channel = channels.into_values().collect();
    r.by_channel
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.as_str().cmp(b.0.as_str())));
    r.reasons = reasons.into_iter().collect();
    r.reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    r.backlog = ["bot", "unassigned", "queue", "agent", "snoozed"]
        .into_iter()
        .map(|k| (k, backlog.get(k).copied().unwrap_or(0)))
        .collect();
    r.first_response = percentiles(frt);
    r.resolution = percentiles(res);
    let finish = |m: BTreeMap<String, (PersonLine, Vec<i64>)>| {
        m.into_values()
            .map(|(mut l, v)| {
                l.first_response = percentiles(v);
                l
            })
            .collect()
    };
    r.agents = finish(agents);
    r.teams = finish(teams);
    r
}

/// One CSV row per conversation. Cells that a spreadsheet would run as a formula (`=`, `+`, `-`,
/// `@`, tab, carriage return first) are prefixed with `'`: contact names come from customers.
pub fn csv(rows: &[Row], time: impl Fn(i64) -> String) -> String {
    let mut out = String::from(
        "conversation_id,channel,contact,language,status,owner,team,created_at,handed_at,resolved_at,\
         bot_spoke,contained,handoff_reason,first_response_seconds,resolution_seconds,\
         sla_first_response,sla_next_response,sla_resolution\n",
    );
    for r in rows.iter().filter(|r| r.in_period) {
        let f = &r.facts;
        let (kind, id) = f.owner.to_parts();
        let owner = match id {
            Some(id) => format!("{kind}:{id}"),
            None => kind.to_string(),
        };
        let secs = |ms: Option<i64>| ms.map(|m| (m / 1000).to_string()).unwrap_or_default();
        let cells = [
            f.id.to_string(),
            f.channel.as_str().to_string(),
            f.contact.clone(),
            f.language.clone().unwrap_or_default(),
            f.status.as_str().to_string(),
            owner,
            f.team.clone().unwrap_or_default(),
            time(f.created_at),
            f.handed_at.map(&time).unwrap_or_default(),
            f.resolved_at
                .filter(|_| f.status == ConversationStatus::Resolved)
                .map(&time)
                .unwrap_or_default(),
            r.bot_touched.to_string(),
            r.contained.to_string(),
            f.handoff_reason.clone().unwrap_or_default(),
            secs(r.sla.first_response_ms),
            secs(r.sla.resolution_ms),
            r.sla.first_response.as_str().to_string(),
            r.sla.next_response.as_str().to_string(),
            r.sla.resolution.as_str().to_string(),
        ];
        let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    // `;` too: spreadsheets set to Portuguese split on it.
    if s.contains([',', ';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::{Targets, Turn, Who};

    const M: i64 = 60_000;

    fn f(id: i64, channel: ChannelKind, turns: &[(i64, Who)]) -> Facts {
        Facts {
            id,
            channel,
            contact: format!("c{id}"),
            language: None,
            status: ConversationStatus::Open,
            owner: Owner::Unassigned,
            team: None,
            created_at: turns[0].0,
            handed_at: None,
            resolved_at: None,
            handoff_reason: None,
            turns: turns.iter().map(|&(at, who)| Turn { at, who }).collect(),
        }
    }

    fn sample() -> Vec<Row> {
        let sla = Sla::always(Targets {
            first_response_minutes: 10,
            next_response_minutes: 10,
            resolution_minutes: 60,
        });
        let mut contained = f(
            1,
            ChannelKind::Whatsapp,
            &[(0, Who::Customer), (1, Who::Bot)],
        );
        contained.status = ConversationStatus::Resolved;
        contained.resolved_at = Some(5 * M);
        let mut escalated = f(
            2,
            ChannelKind::Whatsapp,
            &[(0, Who::Customer), (1, Who::Bot), (2 * M, Who::Person)],
        );
        escalated.handed_at = Some(M);
        escalated.handoff_reason = Some("complaint".into());
        escalated.owner = Owner::Agent("ana@loja.com".into());
        escalated.team = Some("atendimento".into());
        let mut late = f(
            3,
            ChannelKind::Email,
            &[(0, Who::Customer), (30 * M, Who::Person)],
        );
        late.owner = Owner::Agent("ana@loja.com".into());
        late.contact = "=HYPERLINK(\"x\")".into();
        let old = f(4, ChannelKind::Email, &[(-100 * M, Who::Customer)]);
        rows(&sla, vec![contained, escalated, late, old], -M, 60 * M)
    }

    #[test]
    fn every_number_drills_down_to_its_rows() {
        let rows = sample();
        let r = report(&rows);
        let count = |d: Drill| rows.iter().filter(|r| d.matches(r)).count();
        assert_eq!(r.conversations, 3);
        assert_eq!(r.conversations, count(Drill::All));
        for (c, n) in &r.by_channel {
            assert_eq!(*n, count(Drill::Channel(*c)));
        }
        assert_eq!(r.by_channel[0], (ChannelKind::Whatsapp, 2));
        assert_eq!(r.by_hour.iter().sum::<usize>(), 3);
        assert_eq!((r.bot_touched, r.contained, r.escalated), (2, 1, 1));
        assert_eq!(r.containment(), Some(50.0));
        assert_eq!(r.contained, count(Drill::Contained));
        assert_eq!(r.reasons, vec![("complaint".to_string(), 1)]);
        assert_eq!(count(Drill::Reason("complaint".into())), 1);
        assert_eq!(r.first_response.n, count(Drill::FirstResponse));
        assert_eq!(r.first_response.p50, Some(M));
        assert_eq!(r.first_response.p90, Some(30 * M));
        // The old conversation is outside the period but still in the backlog.
        let unassigned = r.backlog.iter().find(|b| b.0 == "unassigned").unwrap().1;
        assert_eq!(unassigned, 1);
        assert_eq!(unassigned, count(Drill::Backlog("unassigned".into())));
        let (_, first) = &r.sla[0];
        assert_eq!((first.met, first.breached), (1, 1));
        assert_eq!(first.attainment(), Some(50.0));
        assert_eq!(
            count(Drill::Sla("first_response".into(), "breached".into())),
            1
        );
        assert_eq!(r.breached, count(Drill::Breached));
        assert_eq!(r.breached, 1);
        assert_eq!(r.agents.len(), 1);
        assert_eq!(r.agents[0].conversations, 2);
        assert_eq!(count(Drill::Agent("ana@loja.com".into())), 2);
        assert_eq!(r.teams[0].name, "atendimento");
    }

    #[test]
    fn drills_round_trip_through_links() {
        for d in [
            Drill::All,
            Drill::Channel(ChannelKind::Instagram),
            Drill::Hour(23),
            Drill::Contained,
            Drill::Reason("out_of_scope".into()),
            Drill::Backlog("queue".into()),
            Drill::Sla("resolution".into(), "met".into()),
            Drill::Agent("a@b.c".into()),
        ] {
            let (m, k) = d.query();
            assert_eq!(Drill::parse(m, &k), Some(d));
        }
        assert_eq!(Drill::parse("hour", "24"), None);
        assert_eq!(Drill::parse("sla", "resolution:late"), None);
        assert_eq!(Drill::parse("nope", ""), None);
    }

    #[test]
    fn csv_has_one_row_per_conversation_and_no_formulas() {
        let out = csv(&sample(), |t| t.to_string());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1 + 3);
        assert!(lines[0].starts_with("conversation_id,channel,contact"));
        assert!(out.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{out}");
        assert!(lines[2].contains("complaint"));
        assert_eq!(cell("x;=cmd"), "\"x;=cmd\"");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let p = percentiles((1..=10).collect());
        assert_eq!((p.n, p.p50, p.p90), (10, Some(5), Some(9)));
        assert_eq!(percentiles(vec![]).p50, None);
        assert_eq!(percentiles(vec![7]).p90, Some(7));
    }
}
