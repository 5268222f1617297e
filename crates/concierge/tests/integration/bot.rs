//! `concierge bot eval` on small datasets written here (the CLINC150 figures are in the README;
//! training on it in a debug build would take the test suite's time).

use crate::helpers::bin;
use serde_json::{json, Value};
use std::process::Command;

const INTENTS: [(&str, [&str; 6]); 4] = [
    (
        "order_status",
        [
            "onde está meu pedido",
            "cadê minha encomenda",
            "meu pedido não chegou",
            "where is my order",
            "track my package",
            "qdo chega meu pedido",
        ],
    ),
    (
        "human",
        [
            "quero falar com um atendente",
            "falar com uma pessoa",
            "me passa pra um humano",
            "talk to a human",
            "i want a real person",
            "atendente por favor",
        ],
    ),
    (
        "cancel",
        [
            "quero cancelar meu pedido",
            "cancela a compra",
            "desistir da compra",
            "cancel my order",
            "i want to cancel",
            "cancelar pedido agora",
        ],
    ),
    (
        "store_hours",
        [
            "que horas a loja abre",
            "horário da loja",
            "a loja abre domingo",
            "what time do you open",
            "store hours",
            "vcs abrem sabado",
        ],
    ),
];

fn eval(args: &[&str]) -> Value {
    let out = Command::new(bin())
        .args(["bot", "eval"])
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn csv_and_clinc150_formats() {
    let dir = tempfile::tempdir().unwrap();
    let (mut train, mut test) = (
        String::from("text,category\n"),
        String::from("text,category\n"),
    );
    let mut split =
        json!({"train": [], "val": [], "test": [], "oos_train": [], "oos_val": [], "oos_test": []});
    for (intent, texts) in INTENTS {
        for (i, t) in texts.iter().enumerate() {
            let (csv, key) = if i % 3 == 2 {
                (&mut test, "test")
            } else {
                (&mut train, "train")
            };
            csv.push_str(&format!("\"{t}\",{intent}\n"));
            split[key].as_array_mut().unwrap().push(json!([t, intent]));
            if i % 3 == 0 {
                split["val"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!([t, intent]));
            }
        }
    }
    for (key, t) in [
        ("oos_train", "qual a capital da frança"),
        ("oos_val", "me conta uma piada"),
        ("oos_test", "como está o tempo em lisboa"),
    ] {
        split[key].as_array_mut().unwrap().push(json!([t, "oos"]));
    }
    std::fs::write(dir.path().join("train.csv"), train).unwrap();
    std::fs::write(dir.path().join("test.csv"), test).unwrap();
    std::fs::write(dir.path().join("clinc.json"), split.to_string()).unwrap();
    let d = dir.path().to_str().unwrap();
    let v = eval(&[
        "--dataset",
        "csv",
        "--train",
        &format!("{d}/train.csv"),
        "--test",
        &format!("{d}/test.csv"),
    ]);
    for key in ["accuracy", "train_seconds", "query_p50_ms", "query_p99_ms"] {
        assert!(v[key].is_number(), "{key} in {v}");
    }
    assert!(v["accuracy"].as_f64().unwrap() >= 0.75, "{v}");
    let v = eval(&[
        "--dataset",
        "clinc150",
        "--file",
        &format!("{d}/clinc.json"),
    ]);
    for key in [
        "in_scope_accuracy",
        "oos_recall",
        "oos_precision",
        "train_seconds",
        "query_p50_ms",
        "query_p99_ms",
    ] {
        assert!(v[key].is_number(), "{key} in {v}");
    }
    let bad = Command::new(bin())
        .args([
            "bot",
            "eval",
            "--dataset",
            "clinc150",
            "--file",
            "/nonexistent.json",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

// ---- the bot at work, through the real server ----

use crate::channels::{
    connect, conversations, eventually, messages, meta_post, whatsapp_config, whatsapp_text_at,
    FakeProvider,
};
use crate::helpers::{workspace, Server};

const WA_PHONE: &str = "972987654321";

/// A WhatsApp text from `phone` (the fixture's contact, renumbered).
pub(crate) fn wa_text(phone: &str, id: &str, text: &str) -> Vec<u8> {
    let now = chrono_now_secs();
    String::from_utf8(whatsapp_text_at(now, id, text))
        .unwrap()
        .replace(WA_PHONE, phone)
        .into_bytes()
}

fn chrono_now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Trains the shipped starter set with the CLI against the running server's data folder: the
/// server must pick it up without a restart.
fn train_starter(s: &Server) {
    let out = Command::new(bin())
        .args(["bot", "train"])
        .arg(workspace().join("crates/bot/starter/ecommerce-br.json"))
        .arg("--data-dir")
        .arg(&s.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("is active (version 1)"), "{printed}");
    eventually("the server to load the bot", || {
        (s.admin("GET", "/api/v1/bot", None).status == 200).then_some(())
    });
}

/// A server with a WhatsApp channel (its API stood in for locally) and the starter bot.
pub(crate) fn whatsapp_with_bot() -> (FakeProvider, Server, String) {
    let provider = FakeProvider::start(vec![(
        200,
        r#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.OUT"}]}"#,
    )]);
    let s = Server::start();
    let (wa, _) = connect(&s, "whatsapp", whatsapp_config(&provider.url));
    train_starter(&s);
    (provider, s, wa)
}

/// Waits until the bot has handled every customer message stored so far.
fn settle(s: &Server, conversation: i64) {
    let last_in = messages(s, conversation)
        .iter()
        .filter(|m| m["direction"] == "incoming")
        .map(|m| m["id"].as_i64().unwrap())
        .max()
        .unwrap_or(0);
    eventually("the bot to handle the message", || {
        let v = s.admin("GET", "/api/v1/bot", None).json();
        (v["handled_up_to"].as_i64().unwrap_or(0) >= last_in).then_some(())
    });
}

pub(crate) fn conversation_of(s: &Server, phone: &str) -> Value {
    eventually("the conversation", || {
        conversations(s, "")
            .into_iter()
            .find(|c| c["thread"].as_str() == Some(phone))
    })
}

fn sent_texts(p: &FakeProvider) -> Vec<String> {
    p.requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .collect()
}

#[test]
fn the_bot_answers_from_a_website_order_hands_over_with_context_and_stays_silent() {
    let (provider, s, wa) = whatsapp_with_bot();
    // The order was placed and shipped on the website, known there by phone.
    for (path, body) in [
        (
            "/v1/identify",
            json!({"userId": "u-ana", "traits": {"name": "Ana Souza", "phone": "+972 98-765-4321"}}),
        ),
        (
            "/v1/track",
            json!({"userId": "u-ana", "event": "Order Completed", "properties": {"order_id": "AUR-55501", "total": 349.9, "currency": "BRL"}}),
        ),
        (
            "/v1/track",
            json!({"userId": "u-ana", "event": "Order Shipped", "properties": {"order_id": "AUR-55501", "carrier": "Correios", "tracking_code": "BR123456789BR", "estimated_delivery": "2026-11-28"}}),
        ),
    ] {
        let r = s.track(path, &body);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // On WhatsApp: where is my order?
    assert_eq!(
        meta_post(
            &s,
            &wa,
            &wa_text(WA_PHONE, "wamid.b1", "oi, cadê meu pedido??")
        ),
        200
    );
    let answer = eventually("the bot's answer at the provider", || {
        sent_texts(&provider)
            .into_iter()
            .find(|b| b.contains("AUR-55501"))
    });
    assert!(
        answer.contains("BR123456789BR") && answer.contains("Correios"),
        "{answer}"
    );
    let conv = conversation_of(&s, WA_PHONE);
    let id = conv["id"].as_i64().unwrap();
    assert_eq!(conv["owner"]["kind"], "bot", "{conv}");
    assert_eq!(conv["language"], "pt-BR");

    // Asks for a person: a queue gets it, with a note, and the customer is told.
    assert_eq!(
        meta_post(
            &s,
            &wa,
            &wa_text(WA_PHONE, "wamid.b2", "quero falar com um atendente")
        ),
        200
    );
    let conv = eventually("the handoff", || {
        let c = s
            .admin("GET", &format!("/api/v1/conversations/{id}"), None)
            .json();
        (c["owner"]["kind"] == "queue").then_some(c)
    });
    assert_eq!(conv["owner"]["id"], "atendimento", "{conv}");
    assert_eq!(conv["handoff_reason"], "requested");
    let all = messages(&s, id);
    let note = all
        .iter()
        .find(|m| m["private"] == true)
        .expect("a handoff note");
    let note_text = note["content"]["text"].as_str().unwrap();
    for want in [
        "requested",
        "Ana Souza",
        "order_status",
        "AUR-55501",
        "whatsapp",
        "atendimento",
    ] {
        assert!(note_text.contains(want), "note lacks {want}: {note_text}");
    }
    eventually("the customer told a person is coming", || {
        sent_texts(&provider)
            .into_iter()
            .find(|b| b.contains("minutos"))
    });

    // The bot is silent from now on.
    let sent_before = provider.requests().len();
    assert_eq!(
        meta_post(
            &s,
            &wa,
            &wa_text(WA_PHONE, "wamid.b3", "onde está meu pedido?")
        ),
        200
    );
    settle(&s, id);
    let bot_after_handoff = messages(&s, id)
        .iter()
        .filter(|m| m["author"] == "bot" && m["private"] == false)
        .count();
    assert_eq!(
        bot_after_handoff, 2,
        "only the answer and the handoff message"
    );
    assert_eq!(provider.requests().len(), sent_before);

    // An agent hands it back: the bot answers again, and a thank-you closes it.
    let r = s.admin(
        "POST",
        &format!("/api/v1/conversations/{id}/assign"),
        Some(&json!({"bot": true})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        meta_post(
            &s,
            &wa,
            &wa_text(WA_PHONE, "wamid.b4", "obrigada, era só isso!")
        ),
        200
    );
    eventually("the bot to close the conversation", || {
        let c = s
            .admin("GET", &format!("/api/v1/conversations/{id}"), None)
            .json();
        (c["status"] == "resolved").then_some(())
    });

    // Indicators.
    let v = s.admin("GET", "/api/v1/bot/indicators", None).json();
    assert_eq!(v["handoffs_by_reason"]["requested"], 1, "{v}");
    assert!(v["intents"].to_string().contains("order_status"), "{v}");
    assert!(
        v["by_language"]["pt-BR"]["messages"].as_u64().unwrap() >= 3,
        "{v}"
    );
    assert!(
        v["by_channel"]["whatsapp"]["conversations"]
            .as_u64()
            .unwrap()
            >= 1,
        "{v}"
    );
    assert_eq!(v["contained"], 0, "a person was involved: {v}");
}

#[test]
fn a_person_always_wins_even_at_the_same_moment() {
    let (_provider, s, wa) = whatsapp_with_bot();
    let phones: Vec<String> = (0..12)
        .map(|i| format!("55119{:08}", 10_000_000 + i))
        .collect();
    // Each customer says hello and the bot answers.
    for p in &phones {
        assert_eq!(
            meta_post(&s, &wa, &wa_text(p, &format!("wamid.h{p}"), "oi, bom dia")),
            200
        );
    }
    let ids: Vec<i64> = phones
        .iter()
        .map(|p| {
            let c = conversation_of(&s, p);
            let id = c["id"].as_i64().unwrap();
            eventually("the greeting", || {
                messages(&s, id)
                    .iter()
                    .any(|m| m["author"] == "bot")
                    .then_some(())
            });
            id
        })
        .collect();
    // Now the customer's next message and an agent's reply arrive together.
    std::thread::scope(|scope| {
        for (p, id) in phones.iter().zip(&ids) {
            let s = &s;
            let wa = &wa;
            scope.spawn(move || {
                assert_eq!(
                    meta_post(
                        s,
                        wa,
                        &wa_text(p, &format!("wamid.q{p}"), "cadê meu pedido?")
                    ),
                    200
                );
            });
            scope.spawn(move || {
                let r = s.admin(
                    "POST",
                    &format!("/api/v1/conversations/{id}/messages"),
                    Some(
                        &json!({"text": "Oi! Aqui é a Carla, já estou vendo.", "author": "carla"}),
                    ),
                );
                assert_eq!(r.status, 201, "{}", r.text());
            });
        }
    });
    for id in &ids {
        eventually("the customer's second message", || {
            (messages(&s, *id)
                .iter()
                .filter(|m| m["direction"] == "incoming")
                .count()
                == 2)
                .then_some(())
        });
        settle(&s, *id);
        let all = messages(&s, *id);
        let human = all
            .iter()
            .find(|m| m["author"] == "agent")
            .and_then(|m| m["id"].as_i64())
            .unwrap();
        let bot_after: Vec<&Value> = all
            .iter()
            .filter(|m| m["author"] == "bot" && m["id"].as_i64().unwrap() > human)
            .collect();
        assert!(
            bot_after.is_empty(),
            "the bot spoke after the person: {bot_after:?}"
        );
        let c = s
            .admin("GET", &format!("/api/v1/conversations/{id}"), None)
            .json();
        assert_eq!(c["owner"], json!({"kind": "agent", "id": "carla"}), "{c}");
    }
    // And one more message later: still silent.
    let p = &phones[0];
    assert_eq!(meta_post(&s, &wa, &wa_text(p, "wamid.later", "alô?")), 200);
    eventually("the message", || {
        (messages(&s, ids[0])
            .iter()
            .filter(|m| m["direction"] == "incoming")
            .count()
            == 3)
            .then_some(())
    });
    settle(&s, ids[0]);
    let last = messages(&s, ids[0]);
    assert_ne!(last.last().unwrap()["author"], "bot", "{last:?}");
}

#[test]
fn timer_rules_remind_the_agent_and_close_silent_conversations() {
    let (_provider, s, wa) = whatsapp_with_bot();
    let (asker, waiter) = ("5511900000001", "5511900000002");
    // One asks for a person (and waits); the other gets an answer and goes quiet.
    assert_eq!(
        meta_post(
            &s,
            &wa,
            &wa_text(waiter, "wamid.t1", "quero falar com um atendente")
        ),
        200
    );
    assert_eq!(
        meta_post(
            &s,
            &wa,
            &wa_text(asker, "wamid.t2", "qual o horário da loja?")
        ),
        200
    );
    let w = conversation_of(&s, waiter)["id"].as_i64().unwrap();
    let a = conversation_of(&s, asker)["id"].as_i64().unwrap();
    settle(&s, w);
    settle(&s, a);
    eventually("the answer", || {
        messages(&s, a)
            .iter()
            .any(|m| m["author"] == "bot")
            .then_some(())
    });
    let now = chrono_now_secs() * 1000;
    // 16 minutes later: the agent is reminded, once.
    for _ in 0..2 {
        let r = s.admin(
            "POST",
            "/api/v1/bot/timers",
            Some(&json!({"now": now + 16 * 60_000})),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let c = s
        .admin("GET", &format!("/api/v1/conversations/{w}"), None)
        .json();
    assert!(c["labels"].to_string().contains("aguardando"), "{c}");
    let reminders = messages(&s, w)
        .iter()
        .filter(|m| m["author"] == "system" && m["private"] == true)
        .count();
    assert_eq!(reminders, 1);
    // 25 hours later the quiet one is closed (WhatsApp's window has shut, so the goodbye is a
    // note rather than a message nobody would receive).
    let r = s.admin(
        "POST",
        "/api/v1/bot/timers",
        Some(&json!({"now": now + 25 * 3_600_000})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let c = s
        .admin("GET", &format!("/api/v1/conversations/{a}"), None)
        .json();
    assert_eq!(c["status"], "resolved", "{c}");
    // The answered one was settled without a person; the other went to one.
    let v = s.admin("GET", "/api/v1/bot/indicators", None).json();
    assert_eq!(v["conversations"], 2, "{v}");
    assert_eq!(v["contained"], 1, "{v}");
    assert_eq!(v["resolved_by_bot"], 1, "{v}");
    assert_eq!(v["containment_rate"], 0.5, "{v}");
    assert_eq!(v["handoffs_by_reason"]["requested"], 1, "{v}");
    // The one waiting for a person is not "silent": nobody closes it on them.
    let c = s
        .admin("GET", &format!("/api/v1/conversations/{w}"), None)
        .json();
    assert_eq!(c["status"], "open", "{c}");
}

#[test]
fn two_messages_in_a_row_are_both_answered() {
    let (_provider, s, wa) = whatsapp_with_bot();
    let phone = "5511900000009";
    assert_eq!(meta_post(&s, &wa, &wa_text(phone, "wamid.r1", "oi")), 200);
    assert_eq!(
        meta_post(
            &s,
            &wa,
            &wa_text(
                phone,
                "wamid.r2",
                "qual o horário de funcionamento da loja?"
            )
        ),
        200
    );
    let id = conversation_of(&s, phone)["id"].as_i64().unwrap();
    eventually("both messages", || {
        (messages(&s, id)
            .iter()
            .filter(|m| m["direction"] == "incoming")
            .count()
            == 2)
            .then_some(())
    });
    settle(&s, id);
    let bot = messages(&s, id)
        .iter()
        .filter(|m| m["author"] == "bot" && m["private"] == false)
        .count();
    assert_eq!(bot, 2, "{:?}", messages(&s, id));
}

#[test]
fn a_bad_definition_is_refused_with_every_problem() {
    let s = Server::start();
    let r = s.request(
        "PUT",
        "/api/v1/bot",
        &[("Authorization", &format!("Bearer {}", s.admin_key)), ("Content-Type", "application/json")],
        br#"{"name": "x", "default_language": "pt-BR", "languages": ["pt-BR"], "intents": [{"name": "a", "examples": {"en": ["hi"]}, "answer": {"pt-BR": "{order.nope}"}}]}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["code"], "invalid_bot_definition");
    let m = v["message"].as_str().unwrap();
    assert!(
        m.contains("{order.nope}") && m.contains("\"en\" is not in languages"),
        "{m}"
    );
    assert_eq!(s.admin("GET", "/api/v1/bot", None).status, 404);
    // Garbage never takes the server down.
    let r = s.request(
        "PUT",
        "/api/v1/bot",
        &[("Authorization", &format!("Bearer {}", s.admin_key))],
        b"\xff\xfe{",
    );
    assert_eq!(r.status, 400);
    assert_eq!(s.admin("GET", "/healthz", None).status, 200);
}
