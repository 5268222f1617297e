//! The bot definition a brand writes: intents with example utterances per language, their answers
//! and slots, where handoffs go, and the automation rules. One JSON file (format in
//! `crates/bot/starter/README.md`); unknown keys are rejected so a typo is an error, not a silently
//! ignored setting.

use crate::rules::{Action, Rule, RuleEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One text per language tag (`pt-BR`, `en`, `es`).
pub type Localized = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub name: String,
    /// The language answers fall back to when a message's language is unknown or not served.
    pub default_language: String,
    pub languages: Vec<String>,
    /// Named texts answers can quote as `{facts.<name>}` (store hours, the returns policy…).
    #[serde(default)]
    pub facts: BTreeMap<String, Localized>,
    #[serde(default)]
    pub handoff: HandoffConfig,
    #[serde(default)]
    pub messages: Messages,
    pub intents: Vec<Intent>,
    /// Messages the bot must not answer; they train an out-of-scope class.
    #[serde(default)]
    pub out_of_scope: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffConfig {
    #[serde(default = "default_queue")]
    pub default_queue: String,
    /// The first queue whose conditions all hold takes the conversation.
    #[serde(default)]
    pub queues: Vec<QueueRoute>,
    /// The customer is told roughly how long a person takes, per queue.
    #[serde(default)]
    pub wait_minutes: BTreeMap<String, u32>,
}

fn default_queue() -> String {
    "support".into()
}

impl Default for HandoffConfig {
    fn default() -> Self {
        HandoffConfig {
            default_queue: default_queue(),
            queues: Vec::new(),
            wait_minutes: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueRoute {
    pub name: String,
    /// Languages this queue serves (empty: any).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Topics (intents) this queue handles (empty: any).
    #[serde(default)]
    pub intents: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    /// Told to the customer on handoff; `{wait}` is the expected wait in minutes.
    pub handoff: Option<Localized>,
    /// A slot was asked for but the answer did not contain it.
    pub ask_again: Option<Localized>,
    /// The customer named an order we have no record of.
    pub order_not_found: Option<Localized>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    pub name: String,
    pub examples: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub slots: Vec<Slot>,
    /// One answer per language.
    pub answer: Option<Localized>,
    /// One answer per language per order state (for intents about an order).
    pub answers: Option<BTreeMap<String, Localized>>,
    /// After the answer (if any) the conversation goes to a person, with this reason.
    pub handoff: Option<String>,
    /// The bot closes the conversation after answering (thanks, goodbye).
    #[serde(default)]
    pub resolve: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub name: String,
    pub kind: SlotKind,
    pub prompt: Localized,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    OrderId,
    Email,
    Cpf,
    Cep,
    Text,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Two intents whose confidences are closer than this are too close to call.
    #[serde(default = "default_margin")]
    pub margin: f32,
    /// Failures of the same request before a person takes over.
    #[serde(default = "default_failures")]
    pub failures: u32,
    /// Complaining messages in one conversation before a person takes over.
    #[serde(default = "default_complaints")]
    pub complaints: u32,
    /// While the bot waits for a slot, the confidence a different intent needs to take over
    /// (so "I don't know" is not read as a new question).
    #[serde(default = "default_switch")]
    pub switch: f32,
}

fn default_margin() -> f32 {
    0.05
}
fn default_failures() -> u32 {
    2
}
fn default_complaints() -> u32 {
    2
}
fn default_switch() -> f32 {
    0.6
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            margin: default_margin(),
            failures: default_failures(),
            complaints: default_complaints(),
            switch: default_switch(),
        }
    }
}

/// The order states `answers` may be keyed by.
pub const ORDER_STATES: [&str; 5] = ["placed", "shipped", "delivered", "cancelled", "refunded"];

/// Placeholders texts may use; `facts.<name>` must name a fact.
const PLACEHOLDERS: [&str; 12] = [
    "customer.first_name",
    "order.id",
    "order.date",
    "order.total",
    "order.status",
    "order.carrier",
    "order.tracking_code",
    "order.tracking_url",
    "order.delivery_date",
    "order.delivered_at",
    "order.channel",
    "wait",
];

impl Definition {
    /// Parses and checks a definition; every problem is reported with where it is.
    pub fn parse(json: &str) -> Result<Definition, Vec<String>> {
        let def: Definition = serde_json::from_str(json).map_err(|e| vec![e.to_string()])?;
        let problems = def.problems();
        if problems.is_empty() {
            Ok(def)
        } else {
            Err(problems)
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.languages.is_empty() {
            p.push("languages: at least one language is needed".into());
        }
        if !self.languages.contains(&self.default_language) {
            p.push(format!(
                "default_language: {:?} is not in languages",
                self.default_language
            ));
        }
        if self.intents.is_empty() {
            p.push("intents: at least one intent is needed".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, intent) in self.intents.iter().enumerate() {
            let at = format!("intents[{i}] ({})", intent.name);
            if intent.name.trim().is_empty() || intent.name == crate::intent::OOS {
                p.push(format!("{at}: name must be non-empty and not \"oos\""));
            }
            if !names.insert(intent.name.as_str()) {
                p.push(format!("{at}: a second intent with this name"));
            }
            let examples: usize = intent.examples.values().map(Vec::len).sum();
            if examples < 2 {
                p.push(format!("{at}: at least two examples are needed"));
            }
            for lang in intent.examples.keys() {
                self.check_language(&mut p, &format!("{at}.examples"), lang);
            }
            if intent.answer.is_some() && intent.answers.is_some() {
                p.push(format!("{at}: give answer or answers, not both"));
            }
            if intent.answer.is_none() && intent.answers.is_none() && intent.handoff.is_none() {
                p.push(format!(
                    "{at}: an intent needs an answer, answers or a handoff"
                ));
            }
            if let Some(a) = &intent.answer {
                self.check_text(&mut p, &format!("{at}.answer"), a);
            }
            if let Some(answers) = &intent.answers {
                if !intent.slots.iter().any(|s| s.kind == SlotKind::OrderId) {
                    p.push(format!(
                        "{at}: answers by order state need an order_id slot"
                    ));
                }
                for state in ORDER_STATES {
                    if !answers.contains_key(state) {
                        p.push(format!("{at}.answers: no text for the {state} state"));
                    }
                }
                for (state, text) in answers {
                    if !ORDER_STATES.contains(&state.as_str()) {
                        p.push(format!(
                            "{at}.answers: unknown order state {state:?} (one of {})",
                            ORDER_STATES.join(", ")
                        ));
                    }
                    self.check_text(&mut p, &format!("{at}.answers.{state}"), text);
                }
            }
            for s in &intent.slots {
                self.check_text(&mut p, &format!("{at}.slots.{}.prompt", s.name), &s.prompt);
            }
        }
        for (lang, _) in self.out_of_scope.iter() {
            self.check_language(&mut p, "out_of_scope", lang);
        }
        for (name, text) in &self.facts {
            self.check_text(&mut p, &format!("facts.{name}"), text);
        }
        for (key, text) in [
            ("handoff", &self.messages.handoff),
            ("ask_again", &self.messages.ask_again),
            ("order_not_found", &self.messages.order_not_found),
        ] {
            if let Some(t) = text {
                self.check_text(&mut p, &format!("messages.{key}"), t);
            }
        }
        for q in &self.handoff.queues {
            for i in &q.intents {
                if !names.contains(i.as_str()) {
                    p.push(format!("handoff.queues.{}: unknown intent {i:?}", q.name));
                }
            }
        }
        let mut rule_names = std::collections::BTreeSet::new();
        for r in &self.rules {
            let at = format!("rules.{}", r.name);
            if !rule_names.insert(r.name.as_str()) {
                p.push(format!("{at}: a second rule with this name"));
            }
            if r.on.is_timer() != r.after_minutes.is_some() {
                p.push(format!(
                    "{at}: after_minutes is needed by customer.silent and agent.silent, and only by them"
                ));
            }
            if r.then.is_empty() {
                p.push(format!("{at}: then needs at least one action"));
            }
            for c in &r.conditions {
                if let Err(e) = c.check() {
                    p.push(format!("{at}: {e}"));
                }
            }
            for a in &r.then {
                match a {
                    Action::Send(t) => self.check_text(&mut p, &format!("{at}.send"), t),
                    Action::Assign(target) if crate::rules::parse_owner(target).is_none() => p
                        .push(format!(
                            "{at}: assign takes \"queue:<name>\", \"agent:<name>\" or \"bot\""
                        )),
                    Action::Handoff(_) if r.on.is_timer() || r.on == RuleEvent::Handoff => p.push(
                        format!("{at}: handoff is for message.received, intent.detected and conversation.created rules"),
                    ),
                    _ => {}
                }
            }
        }
        p
    }

    fn check_language(&self, p: &mut Vec<String>, at: &str, lang: &str) {
        if !self.languages.iter().any(|l| l == lang) {
            p.push(format!("{at}: language {lang:?} is not in languages"));
        }
    }

    /// Every served language present, and only known placeholders.
    fn check_text(&self, p: &mut Vec<String>, at: &str, text: &Localized) {
        for lang in &self.languages {
            if !text.contains_key(lang) {
                p.push(format!("{at}: no text for {lang}"));
            }
        }
        for (lang, t) in text {
            self.check_language(p, at, lang);
            for name in placeholders(t) {
                let known = PLACEHOLDERS.contains(&name)
                    || name
                        .strip_prefix("facts.")
                        .is_some_and(|f| self.facts.contains_key(f));
                if !known {
                    p.push(format!("{at} ({lang}): unknown placeholder {{{name}}}"));
                }
            }
        }
    }

    pub fn intent(&self, name: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.name == name)
    }

    /// The served language closest to `tag` (`pt` finds `pt-BR`), else the default.
    pub fn serve(&self, tag: Option<&str>) -> &str {
        if let Some(tag) = tag {
            let primary = |t: &str| {
                t.split(['-', '_'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase()
            };
            if let Some(l) = self.languages.iter().find(|l| l.eq_ignore_ascii_case(tag)) {
                return l;
            }
            if let Some(l) = self.languages.iter().find(|l| primary(l) == primary(tag)) {
                return l;
            }
        }
        &self.default_language
    }

    /// The text for `lang`, else the default language's, else any.
    pub fn pick<'a>(&'a self, text: &'a Localized, lang: &str) -> &'a str {
        text.get(lang)
            .or_else(|| text.get(&self.default_language))
            .or_else(|| text.values().next())
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// The `{name}` placeholders of a text.
pub fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "name": "t",
            "default_language": "pt-BR",
            "languages": ["pt-BR", "en"],
            "facts": {"hours": {"pt-BR": "9h às 18h", "en": "9am to 6pm"}},
            "intents": [
                {"name": "hours", "examples": {"pt-BR": ["que horas abre"], "en": ["opening hours"]},
                 "answer": {"pt-BR": "Abrimos {facts.hours}", "en": "We open {facts.hours}"}}
            ]
        })
    }

    #[test]
    fn accepts_a_minimal_definition() {
        let d = Definition::parse(&minimal().to_string()).unwrap();
        assert_eq!(d.serve(Some("pt")), "pt-BR");
        assert_eq!(d.serve(Some("en-US")), "en");
        assert_eq!(d.serve(Some("fr")), "pt-BR");
        assert_eq!(d.serve(None), "pt-BR");
    }

    #[test]
    fn reports_every_problem_with_its_place() {
        let mut v = minimal();
        v["intents"][0]["answer"]["en"] = "We open {facts.nope} {order.idd}".into();
        v["intents"][0]["answer"]
            .as_object_mut()
            .unwrap()
            .remove("pt-BR");
        v["rules"] = serde_json::json!([
            {"name": "r", "on": "customer.silent", "then": [{"assign": "nobody"}]}
        ]);
        let errs = Definition::parse(&v.to_string()).unwrap_err();
        let all = errs.join("\n");
        assert!(all.contains("no text for pt-BR"), "{all}");
        assert!(all.contains("{facts.nope}"), "{all}");
        assert!(all.contains("{order.idd}"), "{all}");
        assert!(all.contains("after_minutes"), "{all}");
        assert!(all.contains("assign takes"), "{all}");
    }

    #[test]
    fn rejects_unknown_keys() {
        let mut v = minimal();
        v["intents"][0]["anwser"] = "typo".into();
        let errs = Definition::parse(&v.to_string()).unwrap_err();
        assert!(errs[0].contains("anwser"), "{errs:?}");
    }
}
