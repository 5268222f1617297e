//! There are no captured TikTok payloads; these are hand-made in the shapes Chatwoot's TikTok
//! specs use (see the module docs of `tiktok.rs` for what is unchecked).

use crate::test_support::*;
use crate::verify::hmac_sha256_hex;
use crate::*;
use concierge_types::conversation::{Content, DeliveryStatus, Direction, MediaKind};
use concierge_types::identifier::{Identifier, IdentifierKind};
use serde_json::{json, Value};

const REGION: &str = "BR";

fn tiktok() -> &'static dyn Provider {
    provider(ChannelKind::Tiktok).unwrap()
}

/// A webhook envelope with `content` as a JSON string, as TikTok sends it.
fn envelope(event: &str, content: Value) -> Vec<u8> {
    json!({
        "client_key": "awjzux1u41cywjgt",
        "event": event,
        "create_time": 1_700_000_000_123_i64,
        "user_openid": "biz-123",
        "content": content.to_string(),
    })
    .to_string()
    .into_bytes()
}

fn message_content(kind: &str, extra: Value) -> Value {
    let mut c = json!({
        "type": kind,
        "message_id": "tt-msg-1",
        "timestamp": 1_700_000_000_000_i64,
        "conversation_id": "tt-conv-1",
        "from": "Alice",
        "from_user": {"id": "user-1"},
        "to": "Biz",
        "to_user": {"id": "biz-123"}
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn parse(body: &[u8]) -> Parsed {
    tiktok()
        .parse(body, REGION)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn received_text() {
    let body = envelope(
        "im_receive_msg",
        message_content(
            "text",
            json!({"text": {"body": "Hello from TikTok"},
                   "referenced_message_info": {"referenced_message_id": "tt-msg-0"}}),
        ),
    );
    let p = parse(&body);
    let m = only_message(&p);
    assert_eq!(m.provider_id, "tt-msg-1");
    assert_eq!(m.thread, "tt-conv-1");
    assert_eq!(
        m.contact.identifiers,
        vec![Identifier::from_stored(
            IdentifierKind::TiktokId,
            "user-1".into()
        )]
    );
    assert_eq!(m.contact.name.as_deref(), Some("Alice"));
    assert_eq!(m.direction, Direction::Incoming);
    assert_eq!(m.ts, 1_700_000_000_000);
    assert_eq!(
        m.content,
        Content::Text {
            text: "Hello from TikTok".into()
        }
    );
    assert_eq!(m.reply_to.as_deref(), Some("tt-msg-0"));
}

#[test]
fn image_share_post_and_unknown_types() {
    let p = parse(&envelope(
        "im_receive_msg",
        message_content("image", json!({"image": {"media_id": "media-1"}})),
    ));
    assert!(matches!(
        &only_message(&p).content,
        Content::Media { media: MediaKind::Image, media_id: Some(id), .. } if id == "media-1"
    ));
    let p = parse(&envelope(
        "im_receive_msg",
        message_content(
            "share_post",
            json!({"share_post": {"embed_url": "https://www.tiktok.com/embed/123"}}),
        ),
    ));
    assert_eq!(
        only_message(&p).content,
        Content::Other {
            kind: "share_post".into(),
            text: Some("https://www.tiktok.com/embed/123".into())
        }
    );
    let p = parse(&envelope(
        "im_receive_msg",
        message_content("sticker", json!({})),
    ));
    assert_eq!(
        only_message(&p).content,
        Content::Other {
            kind: "sticker".into(),
            text: None
        }
    );
}

#[test]
fn sent_message_is_an_outgoing_echo_to_the_customer() {
    let mut c = message_content("text", json!({"text": {"body": "Thanks!"}}));
    c["from"] = json!("Biz");
    c["from_user"] = json!({"id": "biz-123"});
    c["to"] = json!("Alice");
    c["to_user"] = json!({"id": "user-1"});
    let p = parse(&envelope("im_send_msg", c));
    let m = only_message(&p);
    assert_eq!(m.direction, Direction::Outgoing);
    assert_eq!(m.contact.identifiers[0].value, "user-1");
    assert_eq!(m.contact.name.as_deref(), Some("Alice"));
    assert_eq!(m.thread, "tt-conv-1");
}

#[test]
fn read_receipts() {
    let read = |reader: &str| {
        envelope(
            "im_mark_read_msg",
            json!({"conversation_id": "tt-conv-1",
                   "read": {"last_read_timestamp": 1_700_000_000_000_i64},
                   "from_user": {"id": reader}}),
        )
    };
    let p = parse(&read("user-1"));
    let s = only_status(&p);
    assert_eq!(s.status, DeliveryStatus::Read);
    assert_eq!(s.thread.as_deref(), Some("tt-conv-1"));
    assert!(s.provider_ids.is_empty());
    assert_eq!(s.up_to, Some(1_700_000_000_000));
    assert_skipped(&parse(&read("biz-123")), "by the business itself");
}

#[test]
fn content_may_be_an_object_but_not_anything_else() {
    let mut v: Value = serde_json::from_slice(&envelope(
        "im_receive_msg",
        message_content("text", json!({"text": {"body": "hi"}})),
    ))
    .unwrap();
    v["content"] = serde_json::from_str(v["content"].as_str().unwrap()).unwrap();
    let p = parse(v.to_string().as_bytes());
    assert_eq!(
        only_message(&p).content,
        Content::Text { text: "hi".into() }
    );
    v["content"] = json!("{not json");
    let err = tiktok()
        .parse(v.to_string().as_bytes(), REGION)
        .unwrap_err();
    assert!(err.starts_with("content: not valid JSON"), "{err}");
    v["content"] = json!(5);
    assert!(tiktok().parse(v.to_string().as_bytes(), REGION).is_err());
}

#[test]
fn ping_and_unknown_events_are_skipped() {
    let p = parse(&envelope(
        "tiktok.ping",
        json!({"reason": "testing Webhook"}),
    ));
    assert_skipped(&p, "tiktok.ping");
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

fn cfg() -> ChannelConfig {
    serde_json::from_value(json!({
        "access_token": "tt-access", "app_secret": "tiktok_client_secret", "business_id": "biz-123"
    }))
    .unwrap()
}

const PING: &[u8] = br#"{"event":"tiktok.ping","user_openid":"biz-123","content":"{}"}"#;
/// HMAC-SHA256("tiktok_client_secret", "1700000000." + PING), computed with Python's `hmac`.
const PING_SIGNATURE: &str = "0cbabb23c65e25f4a3e81091761cfb9412d8253225558f1b50e5f7b3b2fad14f";

fn request_with<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> Request<'a> {
    Request {
        query: &[],
        headers,
        body,
    }
}

#[test]
fn signature_covers_timestamp_and_body() {
    assert_eq!(
        hmac_sha256_hex("tiktok_client_secret", &[b"1700000000.", PING]),
        PING_SIGNATURE
    );
    let good = format!("t=1700000000,s={PING_SIGNATURE}");
    let headers = pairs(&[("tiktok-signature", &good)]);
    assert_eq!(
        tiktok().verify(&cfg(), &request_with(&headers, PING)),
        Ok(())
    );
    assert_eq!(
        tiktok().signed_at(&request_with(&headers, PING)),
        Some(1_700_000_000)
    );
    // Order of the parts does not matter.
    let swapped = format!("s={PING_SIGNATURE},t=1700000000");
    let headers = pairs(&[("tiktok-signature", &swapped)]);
    assert_eq!(
        tiktok().verify(&cfg(), &request_with(&headers, PING)),
        Ok(())
    );

    let replayed_later = format!("t=1700000001,s={PING_SIGNATURE}");
    for header in [
        replayed_later.as_str(),
        PING_SIGNATURE,
        "t=1700000000",
        "t=abc,s=00",
        "",
    ] {
        let headers = pairs(&[("tiktok-signature", header)]);
        assert!(
            matches!(
                tiktok().verify(&cfg(), &request_with(&headers, PING)),
                Err(Rejection::Unauthorized(_))
            ),
            "{header}"
        );
    }
    let headers = pairs(&[("tiktok-signature", &good)]);
    assert!(tiktok()
        .verify(&cfg(), &request_with(&headers, b"{\"event\":\"other\"}"))
        .is_err());
    assert!(tiktok()
        .verify(&ChannelConfig::default(), &request_with(&headers, PING))
        .is_err());
    assert_eq!(tiktok().signed_at(&request_with(&[], PING)), None);
    // Only TikTok signs a timestamp.
    assert_eq!(
        provider(ChannelKind::Whatsapp)
            .unwrap()
            .signed_at(&request_with(&headers, PING)),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

#[test]
fn send_message_inside_48_hours() {
    let hour = 3_600_000;
    let ctx = |h: i64| SendContext {
        now: 1_700_000_000_000,
        last_incoming_at: Some(1_700_000_000_000 - h * hour),
    };
    let out = Outgoing::Text { text: "Oi!".into() };
    let r = tiktok()
        .build_send(&cfg(), "tt-conv-1", &out, &ctx(47))
        .unwrap();
    assert_eq!(
        r.url,
        "https://business-api.tiktok.com/open_api/v1.3/business/message/send/"
    );
    assert_eq!(r.header("access-token"), Some("tt-access"));
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({
            "business_id": "biz-123",
            "recipient_type": "CONVERSATION",
            "recipient": "tt-conv-1",
            "message_type": "TEXT",
            "text": {"body": "Oi!"}
        })
    );
    assert!(tiktok()
        .build_send(&cfg(), "tt-conv-1", &out, &ctx(49))
        .unwrap_err()
        .contains("48-hour"));
}

#[test]
fn send_responses() {
    let t = tiktok();
    assert_eq!(
        t.read_send_response(
            200,
            br#"{"code":0,"message":"OK","request_id":"r1","data":{"message":{"message_id":"tt-msg-9"}}}"#
        ),
        SendOutcome::Sent {
            provider_id: "tt-msg-9".into()
        }
    );
    assert!(matches!(
        t.read_send_response(200, br#"{"code":40002,"message":"Invalid param","data":{}}"#),
        SendOutcome::Failed { error } if error.code.as_deref() == Some("40002")
    ));
    assert!(matches!(
        t.read_send_response(200, br#"{"code":40100,"message":"Too many requests"}"#),
        SendOutcome::Retry { .. }
    ));
    assert!(matches!(
        t.read_send_response(200, br#"{"code":51000,"message":"System error"}"#),
        SendOutcome::Retry { .. }
    ));
    assert!(matches!(
        t.read_send_response(503, b""),
        SendOutcome::Retry { .. }
    ));
    assert!(matches!(
        t.read_send_response(200, b"{}"),
        SendOutcome::Failed { .. }
    ));
}
