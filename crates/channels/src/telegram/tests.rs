use crate::test_support::*;
use crate::*;
use concierge_types::conversation::{Content, Direction, MediaKind, SharedContact};
use concierge_types::identifier::{Identifier, IdentifierKind};
use serde_json::{json, Value};

const REGION: &str = "BR";
const CHAT: &str = "427770117";

fn telegram() -> &'static dyn Provider {
    provider(ChannelKind::Telegram).unwrap()
}

fn tg(name: &str) -> Parsed {
    telegram()
        .parse(&fixture("telegram", name), REGION)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse_json(v: Value) -> Parsed {
    telegram()
        .parse(v.to_string().as_bytes(), REGION)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn tg_id(v: &str) -> Identifier {
    Identifier::from_stored(IdentifierKind::TelegramId, v.to_string())
}

fn media(kind: MediaKind, file_id: &str, filename: Option<&str>) -> Content {
    Content::Media {
        media: kind,
        media_id: Some(file_id.into()),
        url: None,
        mime_type: None,
        filename: filename.map(Into::into),
        caption: None,
        sha256: None,
        size: None,
    }
}

#[test]
fn every_fixture_yields_items_or_a_skip() {
    for (name, body) in fixtures("telegram") {
        let p = telegram()
            .parse(&body, REGION)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!p.items.is_empty() || !p.skipped.is_empty(), "{name}");
    }
}

#[test]
fn private_text() {
    let p = tg("private_text.json");
    let m = only_message(&p);
    assert_eq!(m.provider_id, "427770117:666");
    assert_eq!(m.thread, CHAT);
    assert_eq!(m.contact.identifiers, vec![tg_id(CHAT)]);
    assert_eq!(m.contact.name.as_deref(), Some("first last"));
    assert_eq!(m.contact.locale.as_deref(), Some("en"));
    assert_eq!(m.direction, Direction::Incoming);
    assert_eq!(m.ts, 1_499_402_829_000);
    assert_eq!(
        m.content,
        Content::Text {
            text: "text".into()
        }
    );
    assert_eq!(m.reply_to, None);
    assert!(!m.edited);

    let m = only_message(&tg("private_text_link_preview_disabled.json")).clone();
    assert_eq!(m.provider_id, "218485655:6557");
    assert_eq!(m.contact.name.as_deref(), Some("Alex"));
    assert_eq!(
        m.content,
        Content::Text {
            text: "hello there".into()
        }
    );
    let m = only_message(&tg("private_text_short_numeric.json")).clone();
    assert_eq!(m.provider_id, "408258968:154");
    assert_eq!(m.ts, 1_581_448_857_000);
    assert_eq!(m.content, Content::Text { text: "4".into() });
}

#[test]
fn private_media_kinds() {
    let cases = [
        ("private_photo.json", media(MediaKind::Image, "112", None)),
        ("private_audio.json", media(MediaKind::Audio, "321", None)),
        ("private_voice.json", media(MediaKind::Voice, "543", None)),
        ("private_video.json", media(MediaKind::Video, "321", None)),
        (
            "private_document.json",
            media(MediaKind::Document, "234", Some("file")),
        ),
        (
            "private_sticker.json",
            media(MediaKind::Sticker, "123", None),
        ),
    ];
    for (file, content) in cases {
        let p = tg(file);
        let m = only_message(&p);
        assert_eq!(m.content, content, "{file}");
        assert_eq!(m.thread, CHAT, "{file}");
        assert_eq!(m.provider_id, "427770117:666", "{file}");
    }
    // The sender, not the chat, is the identifier (this sample's ids differ).
    let m = only_message(&tg("private_video.json")).clone();
    assert_eq!(m.contact.identifiers, vec![tg_id("313534466")]);
}

#[test]
fn largest_photo_wins_whatever_the_order() {
    let mut v: Value = serde_json::from_slice(&fixture("telegram", "private_photo.json")).unwrap();
    v["message"]["photo"] = json!([
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1000},
        {"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 960, "file_size": 90000},
        {"file_id": "mid", "file_unique_id": "m", "width": 320, "height": 240, "file_size": 9000}
    ]);
    v["message"]["caption"] = json!("look");
    let p = parse_json(v);
    assert_eq!(
        only_message(&p).content,
        Content::Media {
            media: MediaKind::Image,
            media_id: Some("big".into()),
            url: None,
            mime_type: None,
            filename: None,
            caption: Some("look".into()),
            sha256: None,
            size: Some(90000),
        }
    );
}

#[test]
fn location_out_of_range_is_not_a_location() {
    // This sample has latitude 99.99, as in its source.
    let p = tg("private_location.json");
    assert_eq!(
        only_message(&p).content,
        Content::Other {
            kind: "location".into(),
            text: Some("invalid coordinates: latitude 99.99, longitude 111.111".into())
        }
    );
    let mut v: Value =
        serde_json::from_slice(&fixture("telegram", "private_location.json")).unwrap();
    v["message"]["location"]["latitude"] = json!(-23.5505);
    v["message"]["location"]["longitude"] = json!(-46.6333);
    assert_eq!(
        only_message(&parse_json(v)).content,
        Content::Location {
            latitude: -23.5505,
            longitude: -46.6333,
            name: None,
            address: None
        }
    );
}

#[test]
fn contact_card_adds_a_phone_only_when_it_is_the_senders_own() {
    let p = tg("private_contact.json");
    let m = only_message(&p);
    assert_eq!(
        m.content,
        Content::Contacts {
            contacts: vec![SharedContact {
                name: Some("first".into()),
                phones: vec!["123456789".into()],
                emails: vec![]
            }]
        }
    );
    // No `user_id` in the card: someone else's number, not linked to the sender.
    assert_eq!(m.contact.identifiers, vec![tg_id(CHAT)]);

    let mut v: Value =
        serde_json::from_slice(&fixture("telegram", "private_contact.json")).unwrap();
    v["message"]["contact"] = json!({
        "phone_number": "5511987654321", "first_name": "first", "user_id": 427770117
    });
    let m = only_message(&parse_json(v.clone())).clone();
    assert_eq!(
        m.contact.identifiers,
        vec![
            tg_id(CHAT),
            Identifier::from_stored(IdentifierKind::Phone, "+5511987654321".into())
        ]
    );
    v["message"]["contact"]["user_id"] = json!(999);
    let m = only_message(&parse_json(v)).clone();
    assert_eq!(m.contact.identifiers, vec![tg_id(CHAT)]);
}

#[test]
fn reply_and_edit() {
    let m = only_message(&tg("private_reply_to_message.json")).clone();
    assert_eq!(m.reply_to.as_deref(), Some("427770117:777"));
    assert_eq!(
        m.content,
        Content::Text {
            text: "replyText".into()
        }
    );
    let m = only_message(&tg("edited_message.json")).clone();
    assert!(m.edited);
    assert_eq!(m.provider_id, "427770117:229:edit:1515758017");
    assert_eq!(m.reply_to.as_deref(), Some("427770117:229"));
    assert_eq!(m.ts, 1_515_758_017_000);
    assert_eq!(m.contact.name.as_deref(), Some("user_first user_last"));
    assert_eq!(
        m.content,
        Content::Text {
            text: "hiiiii".into()
        }
    );
}

#[test]
fn callback_query_is_interactive() {
    let p = tg("callback_query.json");
    let m = only_message(&p);
    assert_eq!(m.provider_id, "callback:123");
    assert_eq!(m.thread, CHAT);
    assert_eq!(m.contact.identifiers, vec![tg_id(CHAT)]);
    assert_eq!(m.reply_to.as_deref(), Some("427770117:666"));
    assert_eq!(m.ts, 1_499_402_829_000);
    assert_eq!(
        m.content,
        Content::Interactive {
            id: "data".into(),
            title: "data".into()
        }
    );
    // With the keyboard present, the title is the button's label.
    let mut v: Value = serde_json::from_slice(&fixture("telegram", "callback_query.json")).unwrap();
    v["callback_query"]["message"]["reply_markup"] = json!({"inline_keyboard": [
        [{"text": "Yes, cancel it", "callback_data": "cancel"}, {"text": "Keep it", "callback_data": "data"}]
    ]});
    assert_eq!(
        only_message(&parse_json(v)).content,
        Content::Interactive {
            id: "data".into(),
            title: "Keep it".into()
        }
    );
}

#[test]
fn reactions_in_private_chats() {
    // The sample is in a supergroup: skipped.
    assert_skipped(
        &tg("message_reaction_by_user.json"),
        "supergroup chat skipped",
    );
    let mut v: Value =
        serde_json::from_slice(&fixture("telegram", "message_reaction_by_user.json")).unwrap();
    v["message_reaction"]["chat"] =
        json!({"id": 1459074222, "type": "private", "first_name": "Casey"});
    let p = parse_json(v.clone());
    let m = only_message(&p);
    assert_eq!(m.thread, "1459074222");
    assert_eq!(
        m.provider_id,
        "1459074222:35:reaction:1459074222:1721306082"
    );
    assert_eq!(
        m.content,
        Content::Reaction {
            message_id: "1459074222:35".into(),
            emoji: Some("🌭".into())
        }
    );
    v["message_reaction"]["new_reaction"] = json!([]);
    assert!(matches!(
        only_message(&parse_json(v)).content,
        Content::Reaction { emoji: None, .. }
    ));
}

#[test]
fn kicked_bot_is_a_blocked_event() {
    let p = tg("my_chat_member_bot_kicked.json");
    let e = only_event(&p);
    assert_eq!(e.kind, "blocked");
    assert_eq!(e.thread, "0");
    assert_eq!(e.contact.name.as_deref(), Some("Taylor Reed"));
    assert_eq!(e.ts, 1_644_677_726_000);
    assert_eq!(
        e.detail,
        json!({"old_status": "member", "new_status": "kicked"})
    );
    let mut v: Value =
        serde_json::from_slice(&fixture("telegram", "my_chat_member_bot_kicked.json")).unwrap();
    v["my_chat_member"]["old_chat_member"]["status"] = json!("kicked");
    v["my_chat_member"]["new_chat_member"]["status"] = json!("member");
    assert_eq!(only_event(&parse_json(v.clone())).kind, "unblocked");
    v["my_chat_member"]["old_chat_member"]["status"] = json!("left");
    v["my_chat_member"]["new_chat_member"]["status"] = json!("administrator");
    assert_skipped(&parse_json(v), "membership change");
}

#[test]
fn groups_channels_and_inline_queries_are_skipped() {
    for (file, why) in [
        ("group_text.json", "group chat skipped"),
        ("supergroup_dice.json", "supergroup chat skipped"),
        ("supergroup_pinned_message.json", "supergroup chat skipped"),
        (
            "supergroup_command_reply_to_story.json",
            "supergroup chat skipped",
        ),
        ("channel_post.json", "channel_post"),
        ("inline_query.json", "inline_query"),
        (
            "message_reaction_count_channel.json",
            "message_reaction_count",
        ),
    ] {
        assert_skipped(&tg(file), why);
    }
}

#[test]
fn private_service_messages_and_odd_content() {
    let base: Value = serde_json::from_slice(&fixture("telegram", "private_text.json")).unwrap();
    let mut v = base.clone();
    v["message"].as_object_mut().unwrap().remove("text");
    v["message"]["pinned_message"] =
        json!({"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}});
    assert_skipped(&parse_json(v), "service message");
    let mut v = base.clone();
    v["message"].as_object_mut().unwrap().remove("text");
    v["message"]["dice"] = json!({"emoji": "🎯", "value": 6});
    assert_eq!(
        only_message(&parse_json(v)).content,
        Content::Other {
            kind: "dice".into(),
            text: Some("🎯 6".into())
        }
    );
    let mut v = base;
    v["message"].as_object_mut().unwrap().remove("text");
    v["message"]["venue"] = json!({"location": {"latitude": 38.72, "longitude": -9.14}, "title": "Loja", "address": "Rua Augusta 1"});
    assert_eq!(
        only_message(&parse_json(v)).content,
        Content::Location {
            latitude: 38.72,
            longitude: -9.14,
            name: Some("Loja".into()),
            address: Some("Rua Augusta 1".into())
        }
    );
}

#[test]
fn unknown_updates_are_skipped_and_non_updates_refused() {
    assert_skipped(
        &parse_json(json!({"update_id": 5, "something_new": {}})),
        "something_new",
    );
    let err = telegram().parse(b"{}", REGION).unwrap_err();
    assert_eq!(err, "update_id: missing");
    let err = telegram().parse(b"[1]", REGION).unwrap_err();
    assert!(err.contains("must be a JSON object"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

fn cfg() -> ChannelConfig {
    serde_json::from_value(
        json!({"bot_token": "123456:ABC-def_ghi", "secret_token": "Wh-Secret_42"}),
    )
    .unwrap()
}

fn verify(cfg: &ChannelConfig, headers: &[(&str, &str)]) -> Result<(), Rejection> {
    let headers = pairs(headers);
    telegram().verify(
        cfg,
        &Request {
            query: &[],
            headers: &headers,
            body: b"{}",
        },
    )
}

#[test]
fn secret_token_header() {
    let c = cfg();
    assert_eq!(
        verify(&c, &[("x-telegram-bot-api-secret-token", "Wh-Secret_42")]),
        Ok(())
    );
    for headers in [
        vec![],
        vec![("x-telegram-bot-api-secret-token", "Wh-Secret_4")],
        vec![("x-telegram-bot-api-secret-token", "wh-secret_42")],
        vec![("x-telegram-bot-api-secret-token", "")],
        vec![
            ("x-telegram-bot-api-secret-token", "Wh-Secret_42"),
            ("x-telegram-bot-api-secret-token", "other"),
        ],
    ] {
        assert!(
            matches!(verify(&c, &headers), Err(Rejection::Unauthorized(_))),
            "{headers:?}"
        );
    }
    // Without a configured secret nothing is accepted, not even an empty header.
    let mut open = cfg();
    open.secret_token = None;
    assert!(matches!(
        verify(&open, &[("x-telegram-bot-api-secret-token", "")]),
        Err(Rejection::Unauthorized(_))
    ));
    assert_eq!(telegram().handshake(&c, &[]), None);
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

#[test]
fn send_message() {
    let never = SendContext {
        now: 1_700_000_000_000,
        last_incoming_at: None,
    };
    let out = Outgoing::Text {
        text: "Olá *mundo*".into(),
    };
    let r = telegram().build_send(&cfg(), CHAT, &out, &never).unwrap();
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.url,
        "https://api.telegram.org/bot123456:ABC-def_ghi/sendMessage"
    );
    assert_eq!(
        r.url_for_logs(),
        "https://api.telegram.org/bot***/sendMessage"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body, json!({"chat_id": 427770117, "text": "Olá *mundo*"}));
    // No reply window on Telegram, years later included.
    assert_eq!(check_window(ChannelKind::Telegram, &never, &out), Ok(()));
    let group = telegram()
        .build_send(&cfg(), "-1001305240521", &out, &never)
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&group.body).unwrap()["chat_id"],
        json!(-1001305240521_i64)
    );
    assert!(telegram().build_send(&cfg(), "abc", &out, &never).is_err());
    let long = Outgoing::Text {
        text: "x".repeat(4097),
    };
    assert!(telegram().build_send(&cfg(), CHAT, &long, &never).is_err());
    let template = Outgoing::Template {
        name: "x".into(),
        language: "en".into(),
        params: vec![],
    };
    assert!(telegram()
        .build_send(&cfg(), CHAT, &template, &never)
        .is_err());
    let mut sneaky = cfg();
    sneaky.bot_token = Some("1:a/../../evil?".into());
    assert!(telegram().build_send(&sneaky, CHAT, &out, &never).is_err());
}

#[test]
fn send_responses() {
    let t = telegram();
    let ok = br#"{"ok":true,"result":{"message_id":667,"from":{"id":313534466,"is_bot":true,"first_name":"bot"},"chat":{"id":427770117,"type":"private"},"date":1499402830,"text":"hi"}}"#;
    assert_eq!(
        t.read_send_response(200, ok),
        SendOutcome::Sent {
            provider_id: "427770117:667".into()
        }
    );
    let blocked =
        br#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#;
    assert_eq!(
        t.read_send_response(403, blocked),
        SendOutcome::Failed {
            error: ProviderError {
                code: Some("403".into()),
                title: Some("Forbidden: bot was blocked by the user".into()),
                detail: None
            }
        }
    );
    let flood = br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#;
    assert!(matches!(
        t.read_send_response(429, flood),
        SendOutcome::Retry { reason } if reason.contains("retry after 7 s")
    ));
    assert!(matches!(
        t.read_send_response(502, b"Bad Gateway"),
        SendOutcome::Retry { .. }
    ));
    assert!(matches!(
        t.read_send_response(0, b""),
        SendOutcome::Retry { .. }
    ));
    assert!(matches!(
        t.read_send_response(404, b"not json"),
        SendOutcome::Failed { .. }
    ));
    assert!(matches!(
        t.read_send_response(200, br#"{"ok":true,"result":true}"#),
        SendOutcome::Failed { .. }
    ));
}
