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
