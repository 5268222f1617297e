use crate::test_support::*;
use crate::verify::hmac_sha256_hex;
use crate::*;
use concierge_types::conversation::{Content, DeliveryStatus, Direction, MediaKind, SharedContact};
use concierge_types::identifier::{Identifier, IdentifierKind};
use serde_json::{json, Value};

const REGION: &str = "BR";
const USER: &str = "01234567890A=";
/// Above 2^53: an `f64` would turn it into 4912661846655238144.
const TOKEN: &str = "4912661846655238145";

fn viber() -> &'static dyn Provider {
    provider(ChannelKind::Viber).unwrap()
}

fn vb(name: &str) -> Parsed {
    viber()
        .parse(&fixture("viber", name), REGION)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse_json(v: Value) -> Result<Parsed, String> {
    viber().parse(v.to_string().as_bytes(), REGION)
}

fn viber_id() -> Vec<Identifier> {
    vec![Identifier::from_stored(
        IdentifierKind::ViberId,
        USER.into(),
    )]
}

#[test]
fn every_fixture_yields_items_or_a_skip() {
    for (name, body) in fixtures("viber") {
        let p = viber()
            .parse(&body, REGION)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!p.items.is_empty() || !p.skipped.is_empty(), "{name}");
    }
}

#[test]
fn text_message_keeps_the_64_bit_token_exact() {
    let p = vb("text_message.json");
    let m = only_message(&p);
    assert_eq!(m.provider_id, TOKEN);
    assert_eq!(m.thread, USER);
    assert_eq!(m.contact.identifiers, viber_id());
    assert_eq!(m.contact.name.as_deref(), Some("viberUser"));
    assert_eq!(m.direction, Direction::Incoming);
    assert_eq!(m.ts, 1_457_764_197_627);
    assert_eq!(m.content, Content::Text { text: "HI!".into() });
    // The largest token there is, too.
    let mut v: Value = serde_json::from_slice(&fixture("viber", "text_message.json")).unwrap();
    v["message_token"] = json!(u64::MAX);
    assert_eq!(
        only_message(&parse_json(v.clone()).unwrap()).provider_id,
        u64::MAX.to_string()
    );
    // Tokens that are not exact integers are refused, not rounded.
    for bad in [json!(4.912661846655238e18), json!(-1), json!("12a")] {
        v["message_token"] = bad.clone();
        assert!(parse_json(v.clone()).is_err(), "{bad}");
    }
    // Past u64 the raw text is refused too.
    let raw = String::from_utf8(fixture("viber", "text_message.json"))
        .unwrap()
        .replace(TOKEN, "18446744073709551616");
    assert!(viber().parse(raw.as_bytes(), REGION).is_err());
}

#[test]
fn media_messages() {
    let m = only_message(&vb("picture_message.json")).clone();
    assert_eq!(
        m.content,
        Content::Media {
            media: MediaKind::Image,
            media_id: None,
            url: Some("http://www.images.com/img.jpg".into()),
            mime_type: None,
            filename: None,
            caption: Some("Photo description".into()),
            sha256: None,
            size: None,
        }
    );
    let m = only_message(&vb("video_message.json")).clone();
    assert_eq!(
        m.content,
        Content::Media {
            media: MediaKind::Video,
            media_id: None,
            url: Some("http://www.images.com/video.mp4".into()),
            mime_type: None,
            filename: None,
            caption: None,
            sha256: None,
            size: Some(10000),
        }
    );
    let m = only_message(&vb("file_message.json")).clone();
    assert_eq!(
        m.content,
        Content::Media {
            media: MediaKind::File,
            media_id: None,
            url: Some("http://www.images.com/file.doc".into()),
            mime_type: None,
            filename: Some("name_of_file.doc".into()),
            caption: None,
            sha256: None,
            size: Some(10000),
        }
    );
    let m = only_message(&vb("sticker_message.json")).clone();
    assert_eq!(
        m.content,
        Content::Media {
            media: MediaKind::Sticker,
            media_id: Some("40100".into()),
            url: None,
            mime_type: None,
            filename: None,
            caption: None,
            sha256: None,
            size: None,
        }
    );
}

#[test]
fn contact_location_and_url_messages() {
    let m = only_message(&vb("contact_message.json")).clone();
    assert_eq!(
        m.content,
        Content::Contacts {
            contacts: vec![SharedContact {
                name: Some("Alex".into()),
                phones: vec!["+972511123123".into()],
                emails: vec![]
            }]
        }
    );
    let m = only_message(&vb("location_message.json")).clone();
    assert_eq!(
        m.content,
        Content::Location {
            latitude: 37.7898,
            longitude: -122.3942,
            name: None,
            address: None
        }
    );
    let mut v: Value = serde_json::from_slice(&fixture("viber", "text_message.json")).unwrap();
    v["message"] = json!({"type": "url", "media": "https://example.com/p/1"});
    assert_eq!(
        only_message(&parse_json(v).unwrap()).content,
        Content::Text {
            text: "https://example.com/p/1".into()
        }
    );
}

#[test]
fn contact_events() {
    let e = only_event(&vb("subscribed.json")).clone();
    assert_eq!(e.kind, "subscribed");
    assert_eq!(e.thread, USER);
    assert_eq!(e.contact.identifiers, viber_id());
    assert_eq!(e.contact.name.as_deref(), Some("viberUser"));
    assert_eq!(e.contact.locale.as_deref(), Some("en"));
    assert_eq!(e.ts, 1_457_764_197_627);
    let e = only_event(&vb("unsubscribed.json")).clone();
    assert_eq!(e.kind, "unsubscribed");
    assert_eq!(e.thread, USER);
    assert_eq!(e.contact.name, None);
    let e = only_event(&vb("conversation_started.json")).clone();
    assert_eq!(e.kind, "conversation_started");
    assert_eq!(
        e.detail,
        json!({"type": "open", "context": "context info", "subscribed": true})
    );
}

#[test]
fn receipts() {
    for (file, status) in [
        ("delivered.json", DeliveryStatus::Delivered),
        ("seen.json", DeliveryStatus::Read),
    ] {
        let p = vb(file);
        let s = only_status(&p);
        assert_eq!(s.status, status);
        assert_eq!(s.thread.as_deref(), Some(USER));
        assert_eq!(s.provider_ids, vec![TOKEN.to_string()]);
        assert_eq!(s.ts, 1_457_764_197_627);
        assert_eq!(s.error, None);
    }
    let failed = json!({"event": "failed", "timestamp": 1457764197627_i64,
        "message_token": 4912661846655238145_u64, "user_id": USER, "desc": "failure description"});
    let p = parse_json(failed).unwrap();
    let s = only_status(&p);
    assert_eq!(s.status, DeliveryStatus::Failed);
    assert_eq!(
        s.error.as_ref().unwrap().title.as_deref(),
        Some("failure description")
    );
}

#[test]
fn webhook_callback_and_unknown_events_are_skipped() {
    let p = parse_json(
        json!({"event": "webhook", "timestamp": 1, "chat_hostname": "SN-1", "message_token": 1}),
    )
    .unwrap();
    assert_skipped(&p, "webhook set-up callback");
    let p = parse_json(json!({"event": "action", "timestamp": 1})).unwrap();
    assert_skipped(&p, "unrecognised Viber event");
    assert!(parse_json(json!({"timestamp": 1}))
        .unwrap_err()
        .contains("event"));
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

fn cfg() -> ChannelConfig {
    serde_json::from_value(json!({"auth_token": "viber-test-token", "sender_name": "Loja Exemplo"}))
        .unwrap()
}

fn verify(body: &[u8], headers: &[(&str, &str)]) -> Result<(), Rejection> {
    let headers = pairs(headers);
    viber().verify(
        &cfg(),
        &Request {
            query: &[],
            headers: &headers,
            body,
        },
    )
}

/// HMAC-SHA256("viber-test-token", fixtures/viber/text_message.json), computed with Python's
/// `hmac` module, independently of this crate.
const TEXT_SIGNATURE: &str = "1758b10dc91db2c3fcec06b7431bf886c9bd58c6d9f08f5dcfd04971491e63d7";

#[test]
fn content_signature() {
    let body = fixture("viber", "text_message.json");
    assert_eq!(
        hmac_sha256_hex("viber-test-token", &[&body]),
        TEXT_SIGNATURE
    );
    assert_eq!(
        verify(&body, &[("x-viber-content-signature", TEXT_SIGNATURE)]),
        Ok(())
    );
    let other = fixture("viber", "seen.json");
    let mut wrong = TEXT_SIGNATURE.to_string();
    wrong.replace_range(0..1, "2");
    for (body, headers) in [
        (&body, vec![]),
        (&body, vec![("x-viber-content-signature", wrong.as_str())]),
        (&other, vec![("x-viber-content-signature", TEXT_SIGNATURE)]),
        (&body, vec![("x-viber-content-signature", "not hex")]),
        (
            &body,
            vec![("x-viber-content-signature", &TEXT_SIGNATURE[..32])],
        ),
    ] {
        assert!(
            matches!(verify(body, &headers), Err(Rejection::Unauthorized(_))),
            "{headers:?}"
        );
    }
    assert_eq!(viber().handshake(&cfg(), &[]), None);
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

#[test]
fn send_message() {
    let ctx = SendContext {
        now: 1_700_000_000_000,
        last_incoming_at: None,
    };
    let r = viber()
        .build_send(
            &cfg(),
            USER,
            &Outgoing::Text {
                text: "Olá!".into(),
            },
            &ctx,
        )
        .unwrap();
    assert_eq!(r.url, "https://chatapi.viber.com/pa/send_message");
    assert_eq!(r.header("x-viber-auth-token"), Some("viber-test-token"));
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({
            "receiver": USER,
            "min_api_version": 1,
            "sender": {"name": "Loja Exemplo"},
            "type": "text",
            "text": "Olá!"
        })
    );
    let mut no_sender = cfg();
    no_sender.sender_name = None;
    assert!(viber()
        .build_send(&no_sender, USER, &Outgoing::Text { text: "x".into() }, &ctx)
        .unwrap_err()
        .contains("sender_name"));
}

#[test]
fn send_responses() {
    let v = viber();
    assert_eq!(
        v.read_send_response(
            200,
            br#"{"status":0,"status_message":"ok","message_token":5741311803571721087,"chat_hostname":"SN-CHAT-05_"}"#
        ),
        SendOutcome::Sent {
            provider_id: "5741311803571721087".into()
        }
    );
    assert_eq!(
        v.read_send_response(200, br#"{"status":6,"status_message":"notSubscribed"}"#),
        SendOutcome::Failed {
            error: ProviderError {
                code: Some("6".into()),
                title: Some("notSubscribed".into()),
                detail: None
            }
        }
    );
    assert!(matches!(
        v.read_send_response(200, br#"{"status":12,"status_message":"tooManyRequests"}"#),
        SendOutcome::Retry { .. }
    ));
    assert!(matches!(
        v.read_send_response(500, b""),
        SendOutcome::Retry { .. }
    ));
    assert!(matches!(
        v.read_send_response(200, b"<html>"),
        SendOutcome::Failed { .. }
    ));
    assert!(matches!(
        v.read_send_response(200, br#"{"status":0,"status_message":"ok"}"#),
        SendOutcome::Failed { .. }
    ));
}
