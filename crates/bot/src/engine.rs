//! The dialogue: one customer message in, a [`Decision`] out. Pure: the caller reads the
//! conversation's [`State`] and what the data core knows about the customer ([`Customer`]),
//! calls [`Bot::respond`], and writes the decision's effects in one transaction that first checks
//! the bot still owns the conversation. That check, not anything here, is what keeps the bot
//! from ever talking over a person.
//!
//! Order of concerns for each message: the brand's rules (a VIP goes straight to a person),
//! frustration, a slot the bot is waiting for, then the intent. The bot hands over rather than
//! guess: out of scope, low confidence, two intents too close, a frustrated customer, the same
//! request failing twice, an explicit request, or a rule.

use crate::definition::{Definition, Intent, Localized, SlotKind};
use crate::facts::{channel_word, date, date_text, money, Customer, Order};
use crate::intent::{Model, TrainOptions, OOS};
use crate::lang::{self, Lang};
use crate::mood;
use crate::rules::{parse_owner, Action, RuleEvent, Target, Template};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// A definition with its trained model.
pub struct Bot {
    pub def: Definition,
    model: Model,
    pub report: TrainReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub intents: usize,
    pub examples: usize,
    pub out_of_scope_examples: usize,
    /// Examples held out (every fifth of each intent) to set the out-of-scope threshold.
    pub held_out: usize,
    /// Accuracy on them, out of scope counted as one more class.
    pub held_out_accuracy: f64,
    pub threshold: f32,
    pub train_ms: u64,
}

/// Text as the classifier sees it: folded, abbreviations spelled out, emoji as words.
pub fn normalize(text: &str) -> String {
    crate::slang::expand(text)
}

/// What the classifier made of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub intent: Option<String>,
    pub best: String,
    pub confidence: f32,
    pub runner_up: Option<(String, f32)>,
}

impl Bot {
    pub fn train(def: Definition) -> Bot {
        let started = Instant::now();
        let mut labelled: Vec<(String, String)> = Vec::new();
        for intent in &def.intents {
            for examples in intent.examples.values() {
                for e in examples {
                    labelled.push((normalize(e), intent.name.clone()));
                }
            }
        }
        let oos: usize = def.out_of_scope.values().map(Vec::len).sum();
        for examples in def.out_of_scope.values() {
            for e in examples {
                labelled.push((normalize(e), OOS.to_string()));
            }
        }
        let opts = TrainOptions {
            oos_class: true,
            ..TrainOptions::default()
        };
        // Every fifth example of each label is held out to set the threshold; the final model
        // then learns from everything and keeps that threshold.
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let (mut train, mut held) = (Vec::new(), Vec::new());
        for (text, label) in &labelled {
            let n = seen.entry(label.as_str()).or_default();
            *n += 1;
            if (*n).is_multiple_of(5) {
                held.push((text.as_str(), (label != OOS).then_some(label.as_str())));
            } else {
                train.push((text.as_str(), label.as_str()));
            }
        }
        let (threshold, accuracy) = if held.is_empty() {
            (f32::NEG_INFINITY, 1.0)
        } else {
            let mut m = Model::train(&train, &opts);
            let acc = m.tune_threshold(&held);
            (m.threshold, acc)
        };
        let all: Vec<(&str, &str)> = labelled
            .iter()
            .map(|(t, l)| (t.as_str(), l.as_str()))
            .collect();
        let mut model = Model::train(&all, &opts);
        model.threshold = threshold;
        let report = TrainReport {
            intents: def.intents.len(),
            examples: labelled.len() - oos,
            out_of_scope_examples: oos,
            held_out: held.len(),
            held_out_accuracy: accuracy,
            threshold,
            train_ms: started.elapsed().as_millis() as u64,
        };
        Bot { def, model, report }
    }

    pub fn classify(&self, text: &str) -> Reading {
        let p = self.model.predict(&normalize(text));
        Reading {
            intent: p.intent.map(str::to_string),
            best: p.best.to_string(),
            confidence: p.confidence,
            runner_up: p.runner_up.map(|(l, c)| (l.to_string(), c)),
        }
    }
}

/// What the bot remembers of a conversation between messages (stored with the conversation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub language: Option<String>,
    /// The slot the bot asked for, and for which intent.
    pub pending: Option<Pending>,
    /// Failed attempts per intent (a slot not given, an unknown order, the same question again).
    pub failures: BTreeMap<String, u32>,
    /// The intent answered last: asking it again right away means the answer did not help.
    pub last_answered: Option<String>,
    /// Intents detected, with confidence, oldest first.
    pub intents: Vec<(String, f32)>,
    /// What the bot said, in short ("order_status: order #A-100 shipped").
    pub answered: Vec<String>,
    pub asked: Vec<String>,
    /// Facts the bot looked up.
    pub facts: Vec<String>,
    pub complaints: u32,
    pub turns: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub intent: String,
    pub slot: String,
}

/// One customer message and its surroundings.
pub struct Turn<'a> {
    pub text: &'a str,
    /// The channel kind (`whatsapp`, `webchat`…).
    pub channel: &'a str,
    /// The language the channel reported for the contact, if any.
    pub contact_locale: Option<&'a str>,
    pub conversation_status: &'a str,
    pub customer: &'a Customer,
}

/// What the bot does, in order, in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Effect {
    /// A message to the customer.
    Reply(String),
    Template(Template),
    /// A private note for the people on the conversation.
    Note(String),
    Label(String),
    Assign(Target),
    /// The conversation goes to this queue; the bot stops.
    Handoff {
        reason: String,
        queue: String,
        wait_minutes: u32,
        /// The intent the customer was about, if one stood out (for routing by team skills).
        topic: Option<String>,
        /// The language the bot read the customer in.
        language: String,
    },
    Resolve,
}

/// For the indicators: one row per message the bot handled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnRecord {
    pub language: String,
    pub intent: Option<String>,
    pub confidence: f32,
    /// `answered`, `asked`, `handoff`, `fallback` (asked again) or `noted` (rules only).
    pub outcome: &'static str,
    pub reason: Option<String>,
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub effects: Vec<Effect>,
    pub record: TurnRecord,
    pub state: State,
    /// Slot values the customer gave, to keep on their profile (`slot_<name>` traits) so no
    /// channel asks for them again.
    pub remember: Vec<(String, String)>,
}

/// Words that ask for a person outright, in any served language: the classifier would get
/// these too, but an explicit request must never depend on a threshold.
const ASK_FOR_PERSON: [&str; 16] = [
    "atendente",
    "robo",
    "robot",
    "humano",
    "humana",
    "human",
    "agent",
    "agente",
    "operator",
    "operador",
    "representative",
    "representante",
    "pessoa de verdade",
    "real person",
    "persona real",
    "falar com alguem",
];

fn asks_for_person(text: &str) -> bool {
    let folded = normalize(text);
    let words: Vec<&str> = crate::text::words(&folded);
    if words.len() > 12 {
        return false;
    }
    let joined = format!(" {} ", words.join(" "));
    ASK_FOR_PERSON
        .iter()
        .any(|p| joined.contains(&format!(" {p} ")) || joined.contains(&format!(" {p}s ")))
}

struct Ctx<'a> {
    bot: &'a Bot,
    turn: &'a Turn<'a>,
    lang: String,
    state: State,
    effects: Vec<Effect>,
    record: TurnRecord,
    remember: Vec<(String, String)>,
    reading: Option<Reading>,
    handoff_reason: Option<String>,
    order: Option<Order>,
    signals: Vec<&'static str>,
    /// The owner kind rules see: `bot`, or the person's (`queue`, `agent`, `unassigned`).
    owner: &'static str,
}

impl Bot {
    /// Decides what to do with one customer message in a conversation the bot owns.
    pub fn respond(&self, state: &State, turn: &Turn<'_>) -> Decision {
        let mut c = self.context(state, turn);
        c.run();
        c.finish()
    }
}

impl Bot {
    /// A message without text (a photo, a location): the bot can't read it, a person should.
    pub fn respond_unreadable(&self, state: &State, turn: &Turn<'_>) -> Decision {
        let mut c = self.context(state, turn);
        c.fire(RuleEvent::MessageReceived);
        if c.handoff_reason.is_none() && !c.stopped() {
            c.signals.push("no text");
            c.handoff("unreadable");
        }
        c.finish()
    }

    /// The message rules alone, for a conversation a person owns: labels, reminders,
    /// assignments and texts, never a handoff. Returns the effects and the rules that fired.
    /// `owner` is the conversation's owner kind (`queue`, `agent`, `unassigned`). Nothing here
    /// speaks to the customer or gives the conversation back to the bot: a person has it.
    pub fn rules_only(
        &self,
        event: RuleEvent,
        turn: &Turn<'_>,
        language: Option<&str>,
        owner: &'static str,
    ) -> (Vec<Effect>, Vec<String>) {
        let state = State {
            language: language.map(str::to_string),
            turns: 2,
            ..State::default()
        };
        let mut c = self.context(&state, turn);
        c.owner = owner;
        c.fire_without_handoff(event);
        let effects = c
            .effects
            .into_iter()
            .filter(|e| {
                !matches!(
                    e,
                    Effect::Reply(_) | Effect::Template(_) | Effect::Assign(Target::Bot)
                )
            })
            .collect();
        (effects, c.record.rules)
    }

    /// A brand text with its `{facts.…}` filled in, for messages outside a dialogue (timers).
    pub fn render_plain(&self, text: &str, lang: &str) -> String {
        let customer = Customer::default();
        let turn = Turn {
            text: "",
            channel: "",
            contact_locale: None,
            conversation_status: "",
            customer: &customer,
        };
        let mut c = self.context(&State::default(), &turn);
        c.lang = lang.to_string();
        c.order = None;
        c.render(text)
    }

    fn context<'a>(&'a self, state: &State, turn: &'a Turn<'a>) -> Ctx<'a> {
        let detected = lang::detect(turn.text).lang;
        let lang = self
            .def
            .serve(
                detected
                    .map(Lang::tag)
                    .or(state.language.as_deref())
                    .or(turn.contact_locale),
            )
            .to_string();
        let mut state = state.clone();
        state.turns += 1;
        state.language = Some(lang.clone());
        Ctx {
            bot: self,
            turn,
            lang: lang.clone(),
            state,
            effects: Vec::new(),
            record: TurnRecord {
                language: lang,
                intent: None,
                confidence: 0.0,
                outcome: "answered",
                reason: None,
                rules: Vec::new(),
            },
            remember: Vec::new(),
            reading: None,
            handoff_reason: None,
            order: turn.customer.orders.first().cloned(),
            signals: Vec::new(),
            owner: "bot",
        }
    }
}

impl Ctx<'_> {
    fn def(&self) -> &Definition {
        &self.bot.def
    }

    fn run(&mut self) {
        if self.state.turns == 1 {
            self.fire(RuleEvent::ConversationCreated);
        }
        self.fire(RuleEvent::MessageReceived);
        if self.handoff_reason.is_some() || self.stopped() {
            return;
        }
        // Frustration first: an angry customer is not asked for an order number.
        let m = mood::assess(self.turn.text);
        if m.complaint || m.negative >= 0.5 {
            self.state.complaints += 1;
        }
        self.signals = m.signals.clone();
        if m.frustrated() {
            return self.handoff("frustration");
        }
        if self.state.complaints >= self.def().thresholds.complaints {
            self.signals.push("repeated complaints");
            return self.handoff("frustration");
        }
        if asks_for_person(self.turn.text) {
            return self.handoff("requested");
        }
        let reading = self.bot.classify(self.turn.text);
        self.record.confidence = reading.confidence;
        self.reading = Some(reading.clone());

        // A slot the bot asked for.
        if let Some(p) = self.state.pending.clone() {
            if let Some(value) = self.slot_in_text(&p.intent, &p.slot) {
                self.state.pending = None;
                self.remember_slot(&p.slot, &value);
                self.record.intent = Some(p.intent.clone());
                return self.serve_intent(&p.intent, Some((p.slot, value)));
            }
            // Only a clear new request drops the question ("não sei" is not one).
            let switched = reading.intent.as_deref().is_some_and(|i| {
                i != p.intent
                    && !self.too_close(&reading)
                    && reading.confidence >= self.def().thresholds.switch
            });
            if !switched {
                self.record.intent = Some(p.intent.clone());
                return self.fail(&p.intent, "slot_missing", |c| {
                    let text = c.message(|m| m.ask_again.as_ref(), ASK_AGAIN);
                    let prompt = c
                        .def()
                        .intent(&p.intent)
                        .and_then(|i| i.slots.iter().find(|s| s.name == p.slot))
                        .map(|s| c.render(c.def().pick(&s.prompt, &c.lang)))
                        .unwrap_or_default();
                    c.say(format!("{text} {prompt}").trim().to_string());
                    c.record.outcome = "fallback";
                });
            }
            self.state.pending = None;
        }

        let Some(intent) = reading.intent.clone() else {
            self.record.intent = None;
            let reason = if reading.best == OOS {
                "out_of_scope"
            } else {
                "low_confidence"
            };
            return self.handoff(reason);
        };
        self.record.intent = Some(intent.clone());
        if self.too_close(&reading) {
            return self.handoff("ambiguous");
        }
        self.state
            .intents
            .push((intent.clone(), (reading.confidence * 100.0).round() / 100.0));
        self.fire(RuleEvent::IntentDetected);
        if self.handoff_reason.is_some() || self.stopped() {
            return;
        }
        if self.state.last_answered.as_deref() == Some(intent.as_str()) {
            // Asked again right after the answer: the answer did not settle it.
            let failures = self.bump(&intent);
            if failures >= self.def().thresholds.failures {
                return self.handoff("repeated_failure");
            }
        }
        self.serve_intent(&intent, None)
    }

    /// Whether the two best intents are too close to call.
    fn too_close(&self, r: &Reading) -> bool {
        match &r.runner_up {
            Some((other, c)) if other != OOS && r.best != OOS => {
                r.confidence - c < self.def().thresholds.margin
            }
            _ => false,
        }
    }

    fn stopped(&self) -> bool {
        self.effects.iter().any(|e| {
            matches!(
                e,
                Effect::Assign(Target::Queue(_) | Target::Agent(_)) | Effect::Resolve
            )
        })
    }

    fn bump(&mut self, intent: &str) -> u32 {
        let n = self.state.failures.entry(intent.to_string()).or_default();
        *n += 1;
        *n
    }

    /// One more failure of `intent`: a person takes over at the threshold, else `retry`.
    fn fail(&mut self, intent: &str, what: &str, retry: impl FnOnce(&mut Self)) {
        let n = self.bump(intent);
        if n >= self.def().thresholds.failures {
            self.signals.push(match what {
                "slot_missing" => "slot not given",
                _ => "order not found",
            });
            return self.handoff("repeated_failure");
        }
        retry(self)
    }

    fn slot_in_text(&self, intent: &str, slot: &str) -> Option<String> {
        let kind = self
            .def()
            .intent(intent)?
            .slots
            .iter()
            .find(|s| s.name == slot)?
            .kind;
        let known: Vec<&str> = self
            .turn
            .customer
            .orders
            .iter()
            .map(|o| o.id.as_str())
            .collect();
        crate::slots::extract(kind, self.turn.text, &known)
    }

    fn remember_slot(&mut self, slot: &str, value: &str) {
        self.remember
            .push((format!("slot_{slot}"), value.to_string()));
    }

    /// A slot's value the customer already gave on any channel, or the data core knows.
    fn known_slot(&self, name: &str, kind: SlotKind) -> Option<String> {
        let c = self.turn.customer;
        if let Some(v) = c
            .traits
            .get(&format!("slot_{name}"))
            .and_then(Value::as_str)
        {
            return Some(v.to_string());
        }
        let identifier = match kind {
            SlotKind::Email => Some("email"),
            SlotKind::Cpf => Some("cpf"),
            _ => None,
        };
        if let Some(kind) = identifier {
            if let Some((_, v)) = c.identifiers.iter().find(|(k, _)| k == kind) {
                return Some(v.clone());
            }
            if let Some(v) = c.traits.get(kind).and_then(Value::as_str) {
                return Some(v.to_string());
            }
        }
        None
    }

    fn serve_intent(&mut self, name: &str, given: Option<(String, String)>) {
        let Some(intent) = self.def().intent(name).cloned() else {
            return self.handoff("out_of_scope");
        };
        let mut order_needed = false;
        for slot in &intent.slots {
            let in_text = match &given {
                Some((s, v)) if *s == slot.name => Some(v.clone()),
                _ => self.slot_in_text(name, &slot.name).inspect(|v| {
                    self.remember
                        .push((format!("slot_{}", slot.name), v.clone()));
                }),
            };
            if slot.kind == SlotKind::OrderId {
                order_needed = true;
                match in_text {
                    Some(id) => match self.turn.customer.order(&id) {
                        Some(o) => self.order = Some(o.clone()),
                        None => {
                            let intent_name = name.to_string();
                            let slot_name = slot.name.clone();
                            return self.fail(name, "order_not_found", move |c| {
                                let t = c.message(|m| m.order_not_found.as_ref(), ORDER_NOT_FOUND);
                                c.say(t.replace("{order.id}", &id));
                                c.state.pending = Some(Pending {
                                    intent: intent_name,
                                    slot: slot_name,
                                });
                                c.record.outcome = "fallback";
                            });
                        }
                    },
                    None => {
                        // An order the customer named before on any channel, else their latest,
                        // wherever it was placed.
                        let known = self
                            .known_slot(&slot.name, slot.kind)
                            .and_then(|id| self.turn.customer.order(&id).cloned());
                        match known.or_else(|| self.turn.customer.orders.first().cloned()) {
                            Some(o) => self.order = Some(o),
                            None => return self.ask(name, &slot.name, &slot.prompt),
                        }
                    }
                }
            } else if in_text.is_none() && self.known_slot(&slot.name, slot.kind).is_none() {
                return self.ask(name, &slot.name, &slot.prompt);
            }
        }
        if order_needed {
            if let Some(o) = &self.order {
                let fact = self.describe_order(o);
                if !self.state.facts.contains(&fact) {
                    self.state.facts.push(fact);
                }
            }
        }
        self.answer(&intent);
    }

    fn ask(&mut self, intent: &str, slot: &str, prompt: &Localized) {
        let text = self.render(self.def().pick(prompt, &self.lang));
        self.say(text);
        self.state.pending = Some(Pending {
            intent: intent.into(),
            slot: slot.into(),
        });
        if !self.state.asked.iter().any(|s| s == slot) {
            self.state.asked.push(slot.to_string());
        }
        self.record.outcome = "asked";
    }

    fn answer(&mut self, intent: &Intent) {
        let text = match (&intent.answer, &intent.answers, &self.order) {
            (Some(a), _, _) => Some(self.def().pick(a, &self.lang).to_string()),
            (None, Some(by_state), Some(o)) => by_state
                .get(o.state.as_str())
                .map(|a| self.def().pick(a, &self.lang).to_string()),
            _ => None,
        };
        if let Some(t) = text {
            let rendered = self.render(&t);
            self.say(rendered);
            let what = match &self.order {
                Some(o) if intent.answers.is_some() => {
                    format!("{}: #{} {}", intent.name, o.id, o.state.as_str())
                }
                _ => intent.name.clone(),
            };
            self.state.answered.push(what);
            self.state.last_answered = Some(intent.name.clone());
        }
        self.record.outcome = "answered";
        if let Some(reason) = &intent.handoff {
            return self.handoff(reason);
        }
        if intent.resolve {
            self.effects.push(Effect::Resolve);
        }
    }

    fn say(&mut self, text: String) {
        if !text.trim().is_empty() {
            self.effects.push(Effect::Reply(text));
        }
    }

    fn message(
        &self,
        get: impl Fn(&crate::definition::Messages) -> Option<&Localized>,
        fallback: [&'static str; 3],
    ) -> String {
        match get(&self.def().messages) {
            Some(t) => self.def().pick(t, &self.lang).to_string(),
            None => builtin(fallback, &self.lang).to_string(),
        }
    }

    fn render(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            match after.find('}') {
                Some(end) => {
                    out.push_str(&self.placeholder(&after[..end]));
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn placeholder(&self, name: &str) -> String {
        let lang = self.lang.as_str();
        if let Some(f) = name.strip_prefix("facts.") {
            return self
                .def()
                .facts
                .get(f)
                .map(|t| self.def().pick(t, lang).to_string())
                .unwrap_or_default();
        }
        if name == "customer.first_name" {
            return self.turn.customer.first_name().unwrap_or_default();
        }
        let Some(o) = &self.order else {
            return String::new();
        };
        let unknown = || builtin(["?", "?", "?"], lang).to_string();
        match name {
            "order.id" => o.id.clone(),
            "order.date" => o.placed_at.map(|t| date(t, lang)).unwrap_or_else(unknown),
            "order.total" => o
                .total
                .map(|t| money(t, o.currency.as_deref(), lang))
                .unwrap_or_else(unknown),
            "order.status" => o.state.word(lang).to_string(),
            "order.carrier" => o
                .carrier
                .clone()
                .unwrap_or_else(|| builtin(CARRIER, lang).into()),
            "order.tracking_code" => o.tracking_code.clone().unwrap_or_else(unknown),
            "order.tracking_url" => o.tracking_url.clone().unwrap_or_default(),
            "order.delivery_date" => o
                .delivery_date
                .as_deref()
                .map(|d| date_text(d, lang))
                .unwrap_or_else(|| builtin(NO_DATE, lang).into()),
            "order.delivered_at" => o
                .delivered_at
                .map(|t| date(t, lang))
                .unwrap_or_else(unknown),
            "order.channel" => o
                .channel
                .as_deref()
                .map(|c| channel_word(c, lang))
                .unwrap_or_else(unknown),
            _ => String::new(),
        }
    }

    fn describe_order(&self, o: &Order) -> String {
        let lang = &self.def().default_language;
        let mut s = format!("#{} {}", o.id, o.state.as_str());
        if let Some(c) = &o.channel {
            s.push_str(&format!(", {}", channel_word(c, "en")));
        }
        if let Some(t) = o.placed_at {
            s.push_str(&format!(", {}", date(t, lang)));
        }
        if let Some(t) = o.total {
            s.push_str(&format!(", {}", money(t, o.currency.as_deref(), lang)));
        }
        if let Some(c) = &o.carrier {
            s.push_str(&format!(", {c}"));
        }
        if let Some(t) = &o.tracking_code {
            s.push_str(&format!(" {t}"));
        }
        s
    }

    fn handoff(&mut self, reason: &str) {
        if self.handoff_reason.is_some() {
            return;
        }
        self.handoff_reason = Some(reason.to_string());
        self.state.pending = None;
        self.record.outcome = "handoff";
        self.record.reason = Some(reason.to_string());
        // The request the bot was working on, else what this message seemed to be about.
        let topic = self
            .record
            .intent
            .clone()
            .or_else(|| self.reading.as_ref().map(|r| r.best.clone()))
            .filter(|i| i != OOS);
        let cfg = &self.def().handoff;
        let queue = cfg
            .queues
            .iter()
            .find(|q| {
                (q.languages.is_empty() || q.languages.contains(&self.lang))
                    && (q.intents.is_empty()
                        || topic.as_ref().is_some_and(|t| q.intents.contains(t)))
            })
            .map(|q| q.name.clone())
            .unwrap_or_else(|| cfg.default_queue.clone());
        let wait = cfg.wait_minutes.get(&queue).copied().unwrap_or(10);
        let told = self
            .message(|m| m.handoff.as_ref(), HANDOFF)
            .replace("{wait}", &wait.to_string());
        self.say(told);
        let note = self.note(reason, &queue);
        self.effects.push(Effect::Note(note));
        self.effects.push(Effect::Handoff {
            reason: reason.to_string(),
            queue,
            wait_minutes: wait,
            topic,
            language: self.lang.clone(),
        });
        self.fire(RuleEvent::Handoff);
    }

    /// The handoff note: everything a person needs so the customer repeats nothing.
    fn note(&self, reason: &str, queue: &str) -> String {
        let pt = self.def().default_language.starts_with("pt");
        let l = |pt_text: &'static str, en: &'static str| if pt { pt_text } else { en };
        let c = self.turn.customer;
        let mut lines = Vec::new();
        let mut why = format!(
            "{}: {}",
            l(
                "Transferido pelo bot — motivo",
                "Handed over by the bot — reason"
            ),
            reason
        );
        if !self.signals.is_empty() {
            why.push_str(&format!(" ({})", self.signals.join(", ")));
        }
        lines.push(why);
        let mut who = vec![c
            .name
            .clone()
            .or_else(|| c.first_name())
            .unwrap_or_else(|| l("cliente sem nome", "unnamed customer").into())];
        who.push(format!("{} {}", l("cliente", "customer"), c.id));
        for key in ["segment", "plan", "tier"] {
            if let Some(v) = c.traits.get(key) {
                who.push(format!(
                    "{key}: {}",
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                ));
            }
        }
        who.push(format!("{} {}", c.orders.len(), l("pedido(s)", "order(s)")));
        for (k, v) in c
            .identifiers
            .iter()
            .filter(|(k, _)| k == "email" || k == "phone")
            .take(3)
        {
            who.push(format!("{k} {v}"));
        }
        lines.push(format!("{}: {}", l("Cliente", "Customer"), who.join(" · ")));
        lines.push(format!(
            "{}: {} · {}: {} · {}: {}",
            l("Idioma", "Language"),
            self.lang,
            l("Canal", "Channel"),
            self.turn.channel,
            l("Fila", "Queue"),
            queue
        ));
        let mut intents: Vec<String> = self
            .state
            .intents
            .iter()
            .map(|(i, c)| format!("{i} ({c:.2})"))
            .collect();
        if let Some(r) = &self.reading {
            if r.intent.is_none() || self.handoff_reason.as_deref() == Some("ambiguous") {
                intents.push(format!("{} ({:.2})", r.best, r.confidence));
                if let Some((o, c)) = &r.runner_up {
                    intents.push(format!("{o} ({c:.2})"));
                }
            }
        }
        if !intents.is_empty() {
            lines.push(format!(
                "{}: {}",
                l("Intenções detectadas", "Detected intents"),
                intents.join(", ")
            ));
        }
        if !self.state.answered.is_empty() {
            lines.push(format!(
                "{}: {}",
                l("O bot já respondeu", "The bot already answered"),
                self.state.answered.join("; ")
            ));
        }
        if !self.state.asked.is_empty() {
            lines.push(format!(
                "{}: {}",
                l("O bot perguntou", "The bot asked for"),
                self.state.asked.join(", ")
            ));
        }
        let mut facts = self.state.facts.clone();
        for (k, v) in &self.remember {
            facts.push(format!("{k} = {v}"));
        }
        if !facts.is_empty() {
            lines.push(format!(
                "{}: {}",
                l("Dados consultados", "Facts looked up"),
                facts.join("; ")
            ));
        }
        let said: String = self.turn.text.chars().take(300).collect();
        lines.push(format!(
            "{}: \"{}\"",
            l("Última mensagem do cliente", "Customer's last message"),
            said
        ));
        lines.join("\n")
    }

    fn fire_without_handoff(&mut self, event: RuleEvent) {
        self.handoff_reason = Some(String::new());
        self.fire(event);
        self.handoff_reason = None;
    }

    /// Runs the rules for `event`, turning their actions into effects.
    fn fire(&mut self, event: RuleEvent) {
        let rules: Vec<_> = self
            .def()
            .rules
            .iter()
            .filter(|r| {
                r.on == event
                    && r.conditions
                        .iter()
                        .all(|cond| cond.holds(&|f: &str| self.field(f)))
            })
            .cloned()
            .collect();
        for r in rules {
            self.record.rules.push(r.name.clone());
            for a in &r.then {
                match a {
                    Action::Label(l) => self.effects.push(Effect::Label(l.clone())),
                    Action::Assign(t) => {
                        if let Some(t) = parse_owner(t) {
                            self.effects.push(Effect::Assign(t));
                        }
                    }
                    Action::Send(t) => {
                        let text = self.render(self.def().pick(t, &self.lang));
                        self.say(text);
                    }
                    Action::SendTemplate(t) => self.effects.push(Effect::Template(t.clone())),
                    Action::Resolve(true) => self.effects.push(Effect::Resolve),
                    Action::Resolve(false) => {}
                    Action::Remind(t) => self.effects.push(Effect::Note(t.clone())),
                    Action::Handoff(reason) => {
                        self.signals.push("rule");
                        let reason = reason.clone();
                        self.handoff(&reason);
                    }
                }
            }
        }
    }

    fn field(&self, name: &str) -> Option<Value> {
        let c = self.turn.customer;
        if let Some(t) = name.strip_prefix("customer.traits.") {
            return c.traits.get(t).cloned();
        }
        match name {
            "customer.id" => Some(json!(c.id)),
            "order.total" => self.order.as_ref().and_then(|o| o.total).map(|t| json!(t)),
            "order.status" => self.order.as_ref().map(|o| json!(o.state.as_str())),
            "conversation.channel" => Some(json!(self.turn.channel)),
            "conversation.status" => Some(json!(self.turn.conversation_status)),
            "conversation.owner" => Some(json!(self.owner)),
            "message.text" => Some(json!(self.turn.text)),
            "intent" => self
                .reading
                .as_ref()
                .and_then(|r| r.intent.clone())
                .map(|i| json!(i)),
            "language" => Some(json!(self.lang)),
            "handoff.reason" => self.handoff_reason.clone().map(|r| json!(r)),
            _ => None,
        }
    }

    fn finish(mut self) -> Decision {
        if self.record.outcome != "handoff"
            && self.effects.iter().all(|e| {
                !matches!(
                    e,
                    Effect::Reply(_) | Effect::Handoff { .. } | Effect::Resolve
                )
            })
            && self.reading.is_none()
        {
            self.record.outcome = "noted";
        }
        Decision {
            effects: self.effects,
            record: self.record,
            state: self.state,
            remember: self.remember,
        }
    }
}

/// Built-in texts (pt-BR, en, es) for definitions that leave `messages` out.
const HANDOFF: [&str; 3] = [
    "Vou passar sua conversa para uma pessoa da nossa equipe, que já vai ver tudo o que você me contou. Tempo estimado: cerca de {wait} minutos.",
    "I'm passing you to a person on our team, who will see everything you told me. Expected wait: about {wait} minutes.",
    "Te paso con una persona de nuestro equipo, que verá todo lo que me contaste. Tiempo estimado: unos {wait} minutos.",
];
const ASK_AGAIN: [&str; 3] = [
    "Não encontrei essa informação na sua mensagem.",
    "I couldn't find that in your message.",
    "No encontré esa información en tu mensaje.",
];
const ORDER_NOT_FOUND: [&str; 3] = [
    "Não encontrei o pedido {order.id} no seu cadastro. Pode conferir o número?",
    "I couldn't find order {order.id} on your account. Could you check the number?",
    "No encontré el pedido {order.id} en tu cuenta. ¿Puedes revisar el número?",
];
const CARRIER: [&str; 3] = ["a transportadora", "the carrier", "la transportadora"];
const NO_DATE: [&str; 3] = ["em breve", "soon", "pronto"];

fn builtin(texts: [&'static str; 3], lang: &str) -> &'static str {
    if lang.starts_with("pt") {
        texts[0]
    } else if lang.starts_with("es") {
        texts[2]
    } else {
        texts[1]
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
