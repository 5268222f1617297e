//! Routine automation: event → conditions → actions. Rules are data in the bot definition; the
//! engine and the timer worker ask [`Rule::matches`] with whatever they know about the moment
//! (a [`Fields`] lookup), and carry out the actions themselves, so one evaluator serves message
//! rules and time-based ones alike.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub on: RuleEvent,
    /// For `customer.silent` and `agent.silent`: how long the silence lasts before the rule fires.
    pub after_minutes: Option<u32>,
    #[serde(rename = "if", default)]
    pub conditions: Vec<Condition>,
    pub then: Vec<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleEvent {
    #[serde(rename = "message.received")]
    MessageReceived,
    #[serde(rename = "intent.detected")]
    IntentDetected,
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    #[serde(rename = "handoff")]
    Handoff,
    /// The brand wrote last and the customer has not answered for `after_minutes`.
    #[serde(rename = "customer.silent")]
    CustomerSilent,
    /// A person owns the conversation and no person has answered the customer's last message
    /// for `after_minutes`.
    #[serde(rename = "agent.silent")]
    AgentSilent,
}

impl RuleEvent {
    pub fn is_timer(self) -> bool {
        matches!(self, RuleEvent::CustomerSilent | RuleEvent::AgentSilent)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RuleEvent::MessageReceived => "message.received",
            RuleEvent::IntentDetected => "intent.detected",
            RuleEvent::ConversationCreated => "conversation.created",
            RuleEvent::Handoff => "handoff",
            RuleEvent::CustomerSilent => "customer.silent",
            RuleEvent::AgentSilent => "agent.silent",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    #[serde(default)]
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    Exists,
}

/// What a rule does. Written as one-key objects: `{"label": "vip"}`, `{"resolve": true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Label(String),
    /// `queue:<name>`, `agent:<name>` or `bot`.
    Assign(String),
    /// A text to the customer, per language.
    Send(crate::definition::Localized),
    SendTemplate(Template),
    Resolve(bool),
    /// A private note for whoever owns the conversation.
    Remind(String),
    /// Hand the conversation to a person with this reason.
    Handoff(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub params: Vec<String>,
}

/// Where a rule's `assign` sends a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Target {
    Queue(String),
    Agent(String),
    Bot,
}

pub fn parse_owner(s: &str) -> Option<Target> {
    if s == "bot" {
        return Some(Target::Bot);
    }
    let (kind, name) = s.split_once(':')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    match kind {
        "queue" => Some(Target::Queue(name.into())),
        "agent" => Some(Target::Agent(name.into())),
        _ => None,
    }
}

/// The values a rule may test, by field name (`customer.traits.segment`, `order.total`…).
pub trait Fields {
    fn field(&self, name: &str) -> Option<Value>;
}

impl<F: Fn(&str) -> Option<Value>> Fields for F {
    fn field(&self, name: &str) -> Option<Value> {
        self(name)
    }
}

const FIELDS: [&str; 10] = [
    "customer.id",
    "order.total",
    "order.status",
    "conversation.channel",
    "conversation.status",
    "conversation.owner",
    "message.text",
    "intent",
    "language",
    "handoff.reason",
];

impl Condition {
    pub fn check(&self) -> Result<(), String> {
        let known = FIELDS.contains(&self.field.as_str())
            || self
                .field
                .strip_prefix("customer.traits.")
                .is_some_and(|t| !t.is_empty());
        if !known {
            return Err(format!("unknown field {:?}", self.field));
        }
        let ok = match self.op {
            Op::In => self.value.is_array(),
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => self.value.is_number(),
            Op::Exists => true,
            _ => !self.value.is_null(),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{:?} on {} needs a {} value",
                self.op,
                self.field,
                match self.op {
                    Op::In => "list",
                    Op::Gt | Op::Gte | Op::Lt | Op::Lte => "number",
                    _ => "non-null",
                }
            ))
        }
    }

    pub fn holds(&self, fields: &dyn Fields) -> bool {
        let got = fields.field(&self.field);
        match self.op {
            Op::Exists => {
                let present = got.as_ref().is_some_and(|v| !v.is_null());
                present == self.value.as_bool().unwrap_or(true)
            }
            Op::Ne => !got.is_some_and(|g| same(&g, &self.value)),
            op => {
                let Some(got) = got else { return false };
                match op {
                    Op::Eq => same(&got, &self.value),
                    Op::In => self
                        .value
                        .as_array()
                        .is_some_and(|vs| vs.iter().any(|v| same(&got, v))),
                    Op::Contains => {
                        let needle = text(&self.value).to_lowercase();
                        match &got {
                            Value::Array(items) => items.iter().any(|i| same(i, &self.value)),
                            other => crate::text::fold(&text(other))
                                .contains(&crate::text::fold(&needle)),
                        }
                    }
                    Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                        match (number(&got), self.value.as_f64()) {
                            (Some(a), Some(b)) => match op {
                                Op::Gt => a > b,
                                Op::Gte => a >= b,
                                Op::Lt => a < b,
                                _ => a <= b,
                            },
                            _ => false,
                        }
                    }
                    // Handled above.
                    Op::Exists | Op::Ne => false,
                }
            }
        }
    }
}

/// Equal as values, with strings compared case-insensitively and numbers given as text accepted.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Rule {
    /// Whether the rule fires for `event` with these values.
    pub fn matches(&self, event: RuleEvent, fields: &dyn Fields) -> bool {
        self.on == event && self.conditions.iter().all(|c| c.holds(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> Rule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn conditions_compare_as_a_brand_means_them() {
        let r = rule(json!({
            "name": "vip", "on": "message.received",
            "if": [{"field": "customer.traits.segment", "op": "eq", "value": "VIP"},
                   {"field": "order.total", "op": "gte", "value": 2000}],
            "then": [{"handoff": "vip"}]
        }));
        let fields = |name: &str| match name {
            "customer.traits.segment" => Some(json!("vip")),
            "order.total" => Some(json!("2500.50")),
            _ => None,
        };
        assert!(r.matches(RuleEvent::MessageReceived, &fields));
        assert!(!r.matches(RuleEvent::IntentDetected, &fields));
        let small = |name: &str| match name {
            "customer.traits.segment" => Some(json!("vip")),
            "order.total" => Some(json!(10)),
            _ => None,
        };
        assert!(!r.matches(RuleEvent::MessageReceived, &small));
        let nothing = |_: &str| None;
        assert!(!r.matches(RuleEvent::MessageReceived, &nothing));
    }

    #[test]
    fn in_contains_exists_and_ne() {
        let c = |v: Value| serde_json::from_value::<Condition>(v).unwrap();
        let f = |name: &str| match name {
            "conversation.status" => Some(json!("pending")),
            "message.text" => Some(json!("Quero falar com o PROCON")),
            _ => None,
        };
        assert!(c(
            json!({"field": "conversation.status", "op": "in", "value": ["open", "pending"]})
        )
        .holds(&f));
        assert!(c(json!({"field": "message.text", "op": "contains", "value": "procon"})).holds(&f));
        assert!(c(json!({"field": "intent", "op": "exists", "value": false})).holds(&f));
        assert!(!c(json!({"field": "intent", "op": "exists"})).holds(&f));
        assert!(c(json!({"field": "language", "op": "ne", "value": "en"})).holds(&f));
        assert!(c(json!({"field": "customer.nope", "op": "eq", "value": 1}))
            .check()
            .is_err());
        assert!(
            c(json!({"field": "order.total", "op": "gte", "value": "x"}))
                .check()
                .is_err()
        );
    }

    #[test]
    fn actions_read_as_written() {
        let r = rule(json!({
            "name": "close", "on": "customer.silent", "after_minutes": 1440,
            "then": [{"send": {"en": "Closing"}}, {"resolve": true}, {"label": "auto-closed"},
                     {"assign": "queue:returns"}, {"remind": "ping"},
                     {"send_template": {"name": "follow_up", "language": "pt_BR"}}]
        }));
        assert_eq!(r.then.len(), 6);
        assert_eq!(r.then[1], Action::Resolve(true));
        assert_eq!(
            parse_owner("queue:returns"),
            Some(Target::Queue("returns".into()))
        );
        assert_eq!(parse_owner("agent: ana"), Some(Target::Agent("ana".into())));
        assert_eq!(parse_owner("queue:"), None);
        assert_eq!(parse_owner("team:x"), None);
    }
}
