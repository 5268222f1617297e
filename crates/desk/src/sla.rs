//! SLA policies: how soon a person must first answer, answer again, and resolve, counted in
//! business hours, and where one conversation stands against each.
//!
//! The clock starts when the conversation needs a person: when the bot hands it over, when a
//! person takes it or writes in it, or, for a conversation the bot never spoke in, at the
//! customer's first message. A conversation the bot settles alone has no SLA.

use crate::hours::BusinessHours;
use concierge_types::conversation::{ChannelKind, ConversationStatus, Owner};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

const MINUTE: i64 = 60_000;

/// Targets in business minutes; 0 means not measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Targets {
    pub first_response_minutes: u32,
    pub next_response_minutes: u32,
    pub resolution_minutes: u32,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            first_response_minutes: 30,
            next_response_minutes: 60,
            resolution_minutes: 8 * 60,
        }
    }
}

/// The `[sla]` section of the configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// The brand's clock, as an offset from UTC (`-03:00`).
    pub utc_offset: String,
    /// Opening hours per weekday, `mon` … `sun` → `09:00-18:00` (commas for a break:
    /// `09:00-12:00,13:00-18:00`); a day left out is closed.
    pub hours: BTreeMap<String, String>,
    /// Closed days, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// The default targets, in business minutes (0: not measured).
    pub first_response_minutes: u32,
    pub next_response_minutes: u32,
    pub resolution_minutes: u32,
    /// Targets for one channel kind (`email = { first_response_minutes = 240, … }`).
    pub channels: BTreeMap<String, Targets>,
}

impl Default for SlaConfig {
    fn default() -> Self {
        let week = ["mon", "tue", "wed", "thu", "fri"]
            .into_iter()
            .map(|d| (d.to_string(), "09:00-18:00".to_string()))
            .collect();
        SlaConfig {
            utc_offset: "-03:00".into(),
            hours: week,
            holidays: Vec::new(),
            first_response_minutes: Targets::default().first_response_minutes,
            next_response_minutes: Targets::default().next_response_minutes,
            resolution_minutes: Targets::default().resolution_minutes,
            channels: BTreeMap::new(),
        }
    }
}

/// The compiled policy.
#[derive(Debug, Clone)]
pub struct Sla {
    pub hours: BusinessHours,
    pub targets: Targets,
    pub channels: HashMap<ChannelKind, Targets>,
}

impl Default for Sla {
    fn default() -> Self {
        SlaConfig::default()
            .compile()
            .unwrap_or_else(|_| Sla::always(Targets::default()))
    }
}

impl SlaConfig {
    pub fn compile(&self) -> Result<Sla, String> {
        let hours = BusinessHours::parse(&self.utc_offset, &self.hours, &self.holidays)?;
        let mut channels = HashMap::new();
        for (k, t) in &self.channels {
            let kind = ChannelKind::parse(k)
                .ok_or_else(|| format!("sla.channels: {k:?} is not a channel kind"))?;
            channels.insert(kind, *t);
        }
        Ok(Sla {
            hours,
            targets: Targets {
                first_response_minutes: self.first_response_minutes,
                next_response_minutes: self.next_response_minutes,
                resolution_minutes: self.resolution_minutes,
            },
            channels,
        })
    }
}

impl Sla {
    /// Open all the time, one target set: for tests and brands that never close.
    pub fn always(targets: Targets) -> Sla {
        Sla {
            hours: BusinessHours::always(),
            targets,
            channels: HashMap::new(),
        }
    }

    pub fn targets(&self, channel: ChannelKind) -> Targets {
        self.channels.get(&channel).copied().unwrap_or(self.targets)
    }
}

/// Who wrote a message, as the desk counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Customer,
    /// An agent's public reply, or the brand writing from its own phone or app.
    Person,
    Bot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    pub at: i64,
    pub who: Who,
}

/// What the desk needs to know of one conversation (private notes and system lines left out).
#[derive(Debug, Clone)]
pub struct Facts {
    pub id: i64,
    pub channel: ChannelKind,
    pub contact: String,
    pub language: Option<String>,
    pub status: ConversationStatus,
    pub owner: Owner,
    /// The team whose queue it went through last.
    pub team: Option<String>,
    pub created_at: i64,
    /// When it first needed a person (handoff, assignment, or a person's reply).
    pub handed_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub handoff_reason: Option<String>,
    /// Oldest first.
    pub turns: Vec<Turn>,
}

impl Facts {
    pub fn bot_spoke(&self) -> bool {
        self.turns.iter().any(|t| t.who == Who::Bot)
    }

    /// When the SLA clock starts, if the conversation ever needed a person: the customer's
    /// first message when the bot never spoke (a person's later click or reply must not restart
    /// the wait), else the bot's handoff or a person stepping in.
    pub fn sla_start(&self) -> Option<i64> {
        if self.bot_spoke() {
            return self.handed_at;
        }
        let first = self
            .turns
            .iter()
            .find(|t| t.who == Who::Customer)
            .map(|t| t.at);
        match (first, self.handed_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The person who answered: the agent who owns it now.
    pub fn agent(&self) -> Option<&str> {
        match &self.owner {
            Owner::Agent(a) => Some(a),
            _ => None,
        }
    }
}

/// Where a conversation stands against one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Clock {
    /// No target, or nothing to measure (no person needed, nothing waiting).
    None,
    /// Waiting, due at this time.
    Running { due_at: i64 },
    /// Done within the target, in this many business milliseconds (the worst wait, for next
    /// responses).
    Met { took: i64 },
    /// Past the target (still running, or done late).
    Breached { due_at: i64 },
}

impl Clock {
    pub fn as_str(&self) -> &'static str {
        match self {
            Clock::None => "none",
            Clock::Running { .. } => "running",
            Clock::Met { .. } => "met",
            Clock::Breached { .. } => "breached",
        }
    }
}

/// One conversation against its policy, and its times in calendar milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlaState {
    pub first_response: Clock,
    pub next_response: Clock,
    pub resolution: Clock,
    /// From the SLA start to the first person's reply.
    pub first_response_ms: Option<i64>,
    /// From creation to resolution.
    pub resolution_ms: Option<i64>,
}

impl SlaState {
    pub fn clocks(&self) -> [(&'static str, Clock); 3] {
        [
            ("first_response", self.first_response),
            ("next_response", self.next_response),
            ("resolution", self.resolution),
        ]
    }

    pub fn breached(&self) -> bool {
        self.clocks()
            .iter()
            .any(|(_, c)| matches!(c, Clock::Breached { .. }))
    }

    /// The nearest deadline still running, for the inbox badge.
    pub fn next_due(&self) -> Option<i64> {
        self.clocks()
            .iter()
            .filter_map(|(_, c)| match c {
                Clock::Running { due_at } => Some(*due_at),
                _ => None,
            })
            .min()
    }
}

/// One target measured from `start`: met or breached when `done`, else running or breached by
/// `now`. `stop` ends the clock without an answer (resolved with nobody answering).
fn clock(
    sla: &Sla,
    target_min: u32,
    start: i64,
    done: Option<i64>,
    stop: Option<i64>,
    now: i64,
) -> Clock {
    if target_min == 0 {
        return Clock::None;
    }
    let budget = i64::from(target_min) * MINUTE;
    let due_at = sla.hours.after(start, budget).unwrap_or(i64::MAX);
    match (done, stop) {
        (Some(end), _) => {
            let took = sla.hours.between(start, end);
            if took <= budget {
                Clock::Met { took }
            } else {
                Clock::Breached { due_at }
            }
        }
        (None, Some(end)) if end > due_at => Clock::Breached { due_at },
        (None, Some(_)) => Clock::None,
        (None, None) if now > due_at => Clock::Breached { due_at },
        (None, None) => Clock::Running { due_at },
    }
}

pub fn evaluate(sla: &Sla, f: &Facts, now: i64) -> SlaState {
    let resolved = (f.status == ConversationStatus::Resolved)
        .then_some(f.resolved_at)
        .flatten();
    let resolution_ms = resolved.map(|r| (r - f.created_at).max(0));
    let Some(start) = f.sla_start() else {
        return SlaState {
            first_response: Clock::None,
            next_response: Clock::None,
            resolution: Clock::None,
            first_response_ms: None,
            resolution_ms,
        };
    };
    let t = sla.targets(f.channel);
    let first = f
        .turns
        .iter()
        .find(|x| x.who == Who::Person && x.at >= start)
        .map(|x| x.at);
    let first_response = clock(sla, t.first_response_minutes, start, first, resolved, now);

    // Next responses: each customer message that finds nobody waiting starts a wait, which the
    // next person's reply ends.
    let mut next_response = Clock::None;
    if let (Some(first), true) = (first, t.next_response_minutes > 0) {
        let budget = i64::from(t.next_response_minutes) * MINUTE;
        let mut waiting: Option<i64> = None;
        let mut worst = 0;
        let mut measured = false;
        for x in f.turns.iter().filter(|x| x.at > first) {
            match (x.who, waiting) {
                (Who::Customer, None) => waiting = Some(x.at),
                (Who::Person, Some(since)) => {
                    let took = sla.hours.between(since, x.at);
                    measured = true;
                    if took > budget && !matches!(next_response, Clock::Breached { .. }) {
                        next_response = Clock::Breached {
                            due_at: sla.hours.after(since, budget).unwrap_or(i64::MAX),
                        };
                    }
                    worst = worst.max(took);
                    waiting = None;
                }
                _ => {}
            }
        }
        if !matches!(next_response, Clock::Breached { .. }) {
            next_response = match waiting {
                Some(since) => clock(sla, t.next_response_minutes, since, None, resolved, now),
                None if measured => Clock::Met { took: worst },
                None => Clock::None,
            };
        }
    }
    let resolution = clock(sla, t.resolution_minutes, start, resolved, None, now);
    SlaState {
        first_response,
        next_response,
        resolution,
        first_response_ms: first.map(|x| x - start),
        resolution_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 60 * MINUTE;

    fn facts(turns: &[(i64, Who)]) -> Facts {
        Facts {
            id: 1,
            channel: ChannelKind::Whatsapp,
            contact: "Ana".into(),
            language: Some("pt".into()),
            status: ConversationStatus::Open,
            owner: Owner::Unassigned,
            team: None,
            created_at: turns.first().map(|t| t.0).unwrap_or(0),
            handed_at: None,
            resolved_at: None,
            handoff_reason: None,
            turns: turns.iter().map(|&(at, who)| Turn { at, who }).collect(),
        }
    }

    fn sla() -> Sla {
        Sla::always(Targets {
            first_response_minutes: 60,
            next_response_minutes: 30,
            resolution_minutes: 240,
        })
    }

    #[test]
    fn a_quick_answer_meets_and_a_slow_one_breaches() {
        let s = evaluate(
            &sla(),
            &facts(&[(0, Who::Customer), (20 * MINUTE, Who::Person)]),
            H,
        );
        assert_eq!(s.first_response, Clock::Met { took: 20 * MINUTE });
        assert_eq!(s.first_response_ms, Some(20 * MINUTE));
        assert_eq!(s.resolution, Clock::Running { due_at: 4 * H });
        let s = evaluate(
            &sla(),
            &facts(&[(0, Who::Customer), (2 * H, Who::Person)]),
            3 * H,
        );
        assert_eq!(s.first_response, Clock::Breached { due_at: H });
        // Nobody answered yet: running, then breached once past due.
        let f = facts(&[(0, Who::Customer)]);
        assert_eq!(
            evaluate(&sla(), &f, 59 * MINUTE).first_response,
            Clock::Running { due_at: H }
        );
        assert_eq!(
            evaluate(&sla(), &f, 61 * MINUTE).first_response,
            Clock::Breached { due_at: H }
        );
        assert_eq!(evaluate(&sla(), &f, 61 * MINUTE).next_due(), Some(4 * H));
    }

    /// Regression: a person's late click or reply set the start and hid the wait.
    #[test]
    fn a_late_take_over_does_not_restart_the_wait() {
        let mut f = facts(&[(0, Who::Customer), (3 * H + MINUTE, Who::Person)]);
        f.handed_at = Some(3 * H);
        let s = evaluate(&sla(), &f, 4 * H);
        assert_eq!(s.first_response, Clock::Breached { due_at: H });
        assert_eq!(s.first_response_ms, Some(3 * H + MINUTE));
    }

    #[test]
    fn the_bot_alone_has_no_sla_and_a_handoff_starts_the_clock() {
        let mut f = facts(&[(0, Who::Customer), (1000, Who::Bot), (2 * H, Who::Customer)]);
        let s = evaluate(&sla(), &f, 10 * H);
        assert_eq!(s.first_response, Clock::None);
        assert_eq!(s.resolution, Clock::None);
        f.handed_at = Some(2 * H);
        f.turns.push(Turn {
            at: 2 * H + 10 * MINUTE,
            who: Who::Person,
        });
        let s = evaluate(&sla(), &f, 10 * H);
        assert_eq!(s.first_response, Clock::Met { took: 10 * MINUTE });
    }

    #[test]
    fn next_responses_count_the_worst_wait() {
        let f = facts(&[
            (0, Who::Customer),
            (MINUTE, Who::Person),
            (10 * MINUTE, Who::Customer),
            (12 * MINUTE, Who::Customer),
            (30 * MINUTE, Who::Person),
            (H, Who::Customer),
            (H + 5 * MINUTE, Who::Person),
        ]);
        let s = evaluate(&sla(), &f, 2 * H);
        assert_eq!(s.next_response, Clock::Met { took: 20 * MINUTE });
        let mut late = f.clone();
        late.turns.push(Turn {
            at: 2 * H,
            who: Who::Customer,
        });
        assert_eq!(
            evaluate(&sla(), &late, 2 * H + 10 * MINUTE).next_response,
            Clock::Running {
                due_at: 2 * H + 30 * MINUTE
            }
        );
        assert_eq!(
            evaluate(&sla(), &late, 3 * H).next_response,
            Clock::Breached {
                due_at: 2 * H + 30 * MINUTE
            }
        );
        // One late answer stays a breach even after later quick ones.
        late.turns.push(Turn {
            at: 3 * H,
            who: Who::Person,
        });
        late.turns.push(Turn {
            at: 3 * H + MINUTE,
            who: Who::Customer,
        });
        late.turns.push(Turn {
            at: 3 * H + 2 * MINUTE,
            who: Who::Person,
        });
        assert!(matches!(
            evaluate(&sla(), &late, 4 * H).next_response,
            Clock::Breached { .. }
        ));
    }

    #[test]
    fn resolution_stops_the_clocks() {
        let mut f = facts(&[(0, Who::Customer), (10 * MINUTE, Who::Person)]);
        f.status = ConversationStatus::Resolved;
        f.resolved_at = Some(3 * H);
        let s = evaluate(&sla(), &f, 100 * H);
        assert_eq!(s.resolution, Clock::Met { took: 3 * H });
        assert_eq!(s.resolution_ms, Some(3 * H));
        // Resolved with nobody answering, before the first-response target: nothing to count.
        let mut spam = facts(&[(0, Who::Customer)]);
        spam.status = ConversationStatus::Resolved;
        spam.resolved_at = Some(5 * MINUTE);
        assert_eq!(evaluate(&sla(), &spam, 100 * H).first_response, Clock::None);
        spam.resolved_at = Some(2 * H);
        assert!(matches!(
            evaluate(&sla(), &spam, 100 * H).first_response,
            Clock::Breached { .. }
        ));
    }

    #[test]
    fn business_hours_pause_the_clock() {
        let cfg = SlaConfig::default();
        let sla = cfg.compile().unwrap();
        // Friday 2026-11-27 17:50 at -03:00 is 20:50 UTC; the answer on Monday at 09:05.
        let fri = 1_795_812_600_000; // 2026-11-27T20:50:00Z
        let mon = fri + (2 * 24 + 15) * H + 15 * MINUTE; // 2026-11-30T12:05:00Z
        let f = facts(&[(fri, Who::Customer), (mon, Who::Person)]);
        assert_eq!(
            evaluate(&sla, &f, mon).first_response,
            Clock::Met { took: 15 * MINUTE }
        );
    }

    #[test]
    fn per_channel_targets_and_config_errors() {
        let cfg: SlaConfig = SlaConfig {
            channels: [(
                "email".to_string(),
                Targets {
                    first_response_minutes: 240,
                    ..Targets::default()
                },
            )]
            .into_iter()
            .collect(),
            ..SlaConfig::default()
        };
        let sla = cfg.compile().unwrap();
        assert_eq!(sla.targets(ChannelKind::Email).first_response_minutes, 240);
        assert_eq!(
            sla.targets(ChannelKind::Whatsapp).first_response_minutes,
            30
        );
        let bad = SlaConfig {
            channels: [("fax".to_string(), Targets::default())]
                .into_iter()
                .collect(),
            ..SlaConfig::default()
        };
        assert!(bad.compile().unwrap_err().contains("fax"));
    }
}
