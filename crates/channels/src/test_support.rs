//! Helpers shared by the tests: fixtures, requests, and unwrapping parsed items.

use concierge_types::conversation::{ContactEvent, Inbound, InboundMessage, Parsed, StatusUpdate};

/// The exact bytes of `fixtures/{provider}/{name}`.
pub(crate) fn fixture(provider: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../fixtures/{provider}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every fixture file of `provider`, by name.
pub(crate) fn fixtures(provider: &str) -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/../../fixtures/{provider}", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

pub(crate) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The only item of `parsed`, which must be a message.
pub(crate) fn only_message(parsed: &Parsed) -> &InboundMessage {
    assert_eq!(parsed.items.len(), 1, "{parsed:#?}");
    match &parsed.items[0] {
        Inbound::Message(m) => m,
        other => panic!("expected a message, got {other:#?}"),
    }
}

pub(crate) fn only_status(parsed: &Parsed) -> &StatusUpdate {
    assert_eq!(parsed.items.len(), 1, "{parsed:#?}");
    match &parsed.items[0] {
        Inbound::Status(s) => s,
        other => panic!("expected a status, got {other:#?}"),
    }
}

pub(crate) fn only_event(parsed: &Parsed) -> &ContactEvent {
    assert_eq!(parsed.items.len(), 1, "{parsed:#?}");
    match &parsed.items[0] {
        Inbound::Event(e) => e,
        other => panic!("expected an event, got {other:#?}"),
    }
}

/// Asserts `parsed` holds nothing and skipped one thing whose reason contains `why`.
pub(crate) fn assert_skipped(parsed: &Parsed, why: &str) {
    assert!(parsed.items.is_empty(), "{parsed:#?}");
    assert_eq!(parsed.skipped.len(), 1, "{parsed:#?}");
    assert!(
        parsed.skipped[0].contains(why),
        "{:?} does not contain {why:?}",
        parsed.skipped[0]
    );
}
