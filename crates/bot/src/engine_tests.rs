//! The dialogue on the shipped starter set: answers from the customer's orders, slots, and every
//! reason to hand over, in Portuguese and English.

use super::*;
use crate::evaluate::{evaluate, parse_test_set};
use crate::facts::{orders, OrderEvent};
use serde_json::json;
use std::sync::OnceLock;

const STARTER: &str = include_str!("../starter/ecommerce-br.json");
const STARTER_TEST: &str = include_str!("../starter/ecommerce-br.test.json");

fn starter() -> &'static Bot {
    static BOT: OnceLock<Bot> = OnceLock::new();
    BOT.get_or_init(|| Bot::train(Definition::parse(STARTER).expect("the starter set is valid")))
}

fn customer_with_orders(events: &[(&str, i64, &str, serde_json::Value)]) -> Customer {
    let evs: Vec<OrderEvent<'_>> = events
        .iter()
        .map(|(name, ts, channel, p)| OrderEvent {
            name,
            ts: *ts,
            channel,
            properties: p,
        })
        .collect();
    Customer {
        id: "42".into(),
        name: Some("Ana Souza".into()),
        orders: orders(&evs),
        identifiers: vec![("phone".into(), "+5511912345678".into())],
        ..Default::default()
    }
}

fn turn<'a>(text: &'a str, customer: &'a Customer) -> Turn<'a> {
    Turn {
        text,
        channel: "whatsapp",
        contact_locale: None,
        conversation_status: "open",
        customer,
    }
}

fn replies(d: &Decision) -> Vec<&str> {
    d.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reply(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn handoff(d: &Decision) -> Option<(&str, &str)> {
    d.effects.iter().find_map(|e| match e {
        Effect::Handoff { reason, queue, .. } => Some((reason.as_str(), queue.as_str())),
        _ => None,
    })
}

fn note(d: &Decision) -> &str {
    d.effects
        .iter()
        .find_map(|e| match e {
            Effect::Note(t) => Some(t.as_str()),
            _ => None,
        })
        .unwrap_or("")
}

#[test]
fn held_aside_starter_messages_are_recognised_in_both_languages() {
    let set = parse_test_set(STARTER_TEST).unwrap();
    let e = evaluate(starter(), &set);
    for lang in ["pt-BR", "en"] {
        let s = &e.by_language[lang];
        assert!(s.cases >= 100, "{lang}: only {} test cases", s.cases);
        assert!(
            s.in_scope_accuracy >= 0.85,
            "{lang}: in-scope accuracy {:.3} on held-aside messages",
            s.in_scope_accuracy
        );
        assert!(
            s.out_of_scope_recall >= 0.4,
            "{lang}: out-of-scope recall {:.3}",
            s.out_of_scope_recall
        );
    }
    assert!(e.by_language["es"].in_scope_accuracy >= 0.75);
}

#[test]
fn order_status_comes_from_an_order_placed_on_the_website_in_the_customers_language() {
    let c = customer_with_orders(&[
        (
            "Order Completed",
            1_763_600_000_000,
            "browser",
            json!({"order_id": "AUR-55501", "total": 349.9, "currency": "BRL"}),
        ),
        (
            "Order Shipped",
            1_763_700_000_000,
            "server",
            json!({"order_id": "AUR-55501", "carrier": "Correios", "tracking_code": "BR123456789BR", "estimated_delivery": "2026-11-28"}),
        ),
    ]);
    let d = starter().respond(&State::default(), &turn("oi, cadê meu pedido??", &c));
    assert_eq!(d.record.intent.as_deref(), Some("order_status"), "{d:?}");
    let r = replies(&d).join(" ");
    assert!(
        r.contains("AUR-55501") && r.contains("BR123456789BR"),
        "{r}"
    );
    assert!(r.contains("Correios") && r.contains("28/11/2026"), "{r}");
    assert_eq!(d.state.language.as_deref(), Some("pt-BR"));
    assert!(handoff(&d).is_none());
    assert!(d.state.pending.is_none(), "nothing was asked");

    let d = starter().respond(&State::default(), &turn("hi, where is my order?", &c));
    let r = replies(&d).join(" ");
    assert_eq!(d.state.language.as_deref(), Some("en"));
    assert!(r.contains("AUR-55501") && r.contains("2026-11-28"), "{r}");
}

#[test]
fn a_missing_slot_is_asked_once_then_used_and_remembered() {
    let c = customer_with_orders(&[]);
    let d1 = starter().respond(&State::default(), &turn("qual o status do meu pedido?", &c));
    assert_eq!(d1.record.outcome, "asked", "{d1:?}");
    assert_eq!(
        d1.state.pending.as_ref().map(|p| p.slot.as_str()),
        Some("order_id")
    );
    // The customer names an order the data core knows under another format.
    let c = customer_with_orders(&[(
        "Order Completed",
        1_763_600_000_000,
        "store",
        json!({"order_id": "AUR-77702", "total": 89.0}),
    )]);
    let d2 = starter().respond(&d1.state, &turn("é o aur77702", &c));
    assert_eq!(d2.record.outcome, "answered", "{d2:?}");
    assert!(replies(&d2).join(" ").contains("AUR-77702"));
    assert_eq!(
        d2.remember,
        vec![("slot_order_id".to_string(), "AUR-77702".to_string())]
    );
}

#[test]
fn a_slot_given_on_any_channel_before_is_not_asked_again() {
    let mut c = customer_with_orders(&[
        (
            "Order Completed",
            1_763_600_000_000,
            "browser",
            json!({"order_id": "AUR-1"}),
        ),
        (
            "Order Completed",
            1_763_800_000_000,
            "browser",
            json!({"order_id": "AUR-2"}),
        ),
    ]);
    // Given to the bot on another channel: that order, not the latest.
    c.traits.insert("slot_order_id".into(), json!("AUR-1"));
    let d = starter().respond(&State::default(), &turn("where is my order", &c));
    assert_eq!(d.record.outcome, "answered", "{d:?}");
    assert!(replies(&d).join(" ").contains("AUR-1"));
    assert!(d.state.asked.is_empty());
}

#[test]
fn explicit_requests_for_a_person_hand_over_in_both_languages() {
    let c = customer_with_orders(&[]);
    for text in [
        "quero falar com um atendente",
        "me passa pra um humano pfv",
        "I want to talk to a real person",
        "agent please",
    ] {
        let d = starter().respond(&State::default(), &turn(text, &c));
        assert_eq!(handoff(&d).map(|h| h.0), Some("requested"), "{text}: {d:?}");
        assert_eq!(d.record.outcome, "handoff");
    }
}

#[test]
fn a_frustrated_customer_goes_to_a_person_in_both_languages() {
    let c = customer_with_orders(&[]);
    for text in [
        "ONDE ESTÁ MEU PEDIDO??? JÁ É A TERCEIRA VEZ QUE PERGUNTO",
        "que porra é essa, ninguém resolve nada",
        "THIS IS RIDICULOUS, THIRD TIME I'M ASKING WHERE MY ORDER IS!!!",
        "what the fuck, my order never arrived",
    ] {
        let d = starter().respond(&State::default(), &turn(text, &c));
        assert_eq!(
            handoff(&d).map(|h| h.0),
            Some("frustration"),
            "{text}: {d:?}"
        );
    }
}

#[test]
fn out_of_scope_and_repeated_failure_hand_over() {
    let c = customer_with_orders(&[]);
    let d = starter().respond(
        &State::default(),
        &turn("qual a capital da Mongólia e quantos habitantes tem?", &c),
    );
    let reason = handoff(&d).map(|h| h.0);
    assert!(
        matches!(reason, Some("out_of_scope" | "low_confidence")),
        "{reason:?} {d:?}"
    );

    // Asked for the order number twice without getting it.
    let d1 = starter().respond(&State::default(), &turn("cadê meu pedido", &c));
    assert_eq!(d1.record.outcome, "asked");
    let d2 = starter().respond(&d1.state, &turn("não sei", &c));
    assert_eq!(d2.record.outcome, "fallback", "{d2:?}");
    assert!(handoff(&d2).is_none());
    let d3 = starter().respond(&d2.state, &turn("não lembro", &c));
    assert_eq!(
        handoff(&d3).map(|h| h.0),
        Some("repeated_failure"),
        "{d3:?}"
    );
}

#[test]
fn the_same_question_right_after_its_answer_counts_as_a_failure() {
    let c = customer_with_orders(&[(
        "Order Completed",
        1_763_600_000_000,
        "browser",
        json!({"order_id": "AUR-9"}),
    )]);
    let mut state = State::default();
    let mut last = None;
    for _ in 0..3 {
        let d = starter().respond(&state, &turn("onde está meu pedido?", &c));
        state = d.state.clone();
        last = Some(d);
    }
    assert_eq!(
        handoff(last.as_ref().unwrap()).map(|h| h.0),
        Some("repeated_failure")
    );
}

#[test]
fn two_intents_too_close_to_call_hand_over() {
    let def = Definition::parse(
        &json!({
            "name": "t", "default_language": "en", "languages": ["en"],
            "intents": [
                {"name": "a", "examples": {"en": ["order problem", "order issue", "problem with order"]}, "answer": {"en": "A"}},
                {"name": "b", "examples": {"en": ["order problem", "order issue", "problem with order"]}, "answer": {"en": "B"}}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let bot = Bot::train(def);
    let c = Customer::default();
    let d = bot.respond(&State::default(), &turn("order problem", &c));
    assert_eq!(handoff(&d).map(|h| h.0), Some("ambiguous"), "{d:?}");
}

#[test]
fn rules_hand_over_vips_and_high_value_orders() {
    let mut vip = customer_with_orders(&[]);
    vip.traits.insert("segment".into(), json!("vip"));
    let d = starter().respond(&State::default(), &turn("oi, tudo bem?", &vip));
    assert_eq!(handoff(&d).map(|h| h.0), Some("vip"), "{d:?}");
    assert!(d.record.rules.contains(&"vip-to-person".to_string()));

    let big = customer_with_orders(&[(
        "Order Completed",
        1_763_600_000_000,
        "browser",
        json!({"order_id": "AUR-3", "total": 4999.0}),
    )]);
    let d = starter().respond(&State::default(), &turn("where is my order", &big));
    assert_eq!(handoff(&d).map(|h| h.0), Some("high_value_order"), "{d:?}");
}

#[test]
fn the_handoff_note_tells_the_agent_everything_the_bot_knows() {
    let c = customer_with_orders(&[(
        "Order Completed",
        1_763_600_000_000,
        "browser",
        json!({"order_id": "AUR-55501", "total": 349.9}),
    )]);
    let d1 = starter().respond(&State::default(), &turn("cadê meu pedido?", &c));
    let d2 = starter().respond(&d1.state, &turn("quero falar com um atendente", &c));
    let (reason, queue) = handoff(&d2).unwrap();
    assert_eq!((reason, queue), ("requested", "atendimento"));
    let n = note(&d2);
    for want in [
        "requested",
        "Ana Souza",
        "cliente 42",
        "+5511912345678",
        "pt-BR",
        "whatsapp",
        "atendimento",
        "order_status",
        "AUR-55501",
        "quero falar com um atendente",
    ] {
        assert!(n.contains(want), "note lacks {want:?}:\n{n}");
    }
    // The customer is told, in their language, that a person is coming and roughly when.
    let told = replies(&d2).join(" ");
    assert!(told.contains('5'), "{told}");
    let en = starter().respond(&State::default(), &turn("I need a human", &c));
    let told = replies(&en).join(" ");
    assert_eq!(handoff(&en).map(|h| h.1), Some("international"));
    assert!(told.contains("15"), "{told}");
}

#[test]
fn thanks_closes_and_unreadable_messages_go_to_a_person() {
    let c = customer_with_orders(&[]);
    let d = starter().respond(
        &State::default(),
        &turn("muito obrigada, ajudou demais!", &c),
    );
    assert!(d.effects.contains(&Effect::Resolve), "{d:?}");
    let d = starter().respond_unreadable(&State::default(), &turn("", &c));
    assert_eq!(handoff(&d).map(|h| h.0), Some("unreadable"));
}

#[test]
fn rules_on_a_conversation_a_person_owns_never_speak_or_take_it_back() {
    let def = Definition::parse(
        &json!({
            "name": "t", "default_language": "en", "languages": ["en"],
            "intents": [{"name": "hi", "examples": {"en": ["hello", "hi there"]}, "answer": {"en": "Hi"}}],
            "rules": [{"name": "r", "on": "message.received",
                       "if": [{"field": "conversation.owner", "op": "eq", "value": "agent"}],
                       "then": [{"label": "seen"}, {"send": {"en": "auto"}}, {"assign": "bot"},
                                {"remind": "customer wrote"}, {"handoff": "x"}]}]
        })
        .to_string(),
    )
    .unwrap();
    let bot = Bot::train(def);
    let c = Customer::default();
    let (effects, rules) = bot.rules_only(
        RuleEvent::MessageReceived,
        &turn("hello", &c),
        None,
        "agent",
    );
    assert_eq!(rules, vec!["r".to_string()]);
    assert_eq!(
        effects,
        vec![
            Effect::Label("seen".into()),
            Effect::Note("customer wrote".into())
        ]
    );
    // The owner the rule sees is the real one.
    let (effects, _) = bot.rules_only(
        RuleEvent::MessageReceived,
        &turn("hello", &c),
        None,
        "queue",
    );
    assert!(effects.is_empty());
}

#[test]
fn asking_again_fills_in_the_prompts_facts() {
    let c = customer_with_orders(&[]);
    let d1 = starter().respond(&State::default(), &turn("quando chega meu pedido?", &c));
    assert_eq!(d1.record.outcome, "asked", "{d1:?}");
    let d2 = starter().respond(&d1.state, &turn("hmm", &c));
    let r = replies(&d2).join(" ");
    assert!(!r.contains('{'), "placeholders left in: {r}");
}
