use crate::test_support::*;
use crate::*;
use concierge_types::conversation::{
    ContactEvent, Content, DeliveryStatus, Direction, Inbound, MediaKind, SharedContact,
};
use concierge_types::identifier::{Identifier, IdentifierKind};
use serde_json::{json, Value};

const REGION: &str = "BR";
const CUSTOMER: &str = "972987654321";

fn wa(name: &str) -> Parsed {
    provider(ChannelKind::Whatsapp)
        .unwrap()
        .parse(&fixture("whatsapp", name), REGION)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn fb(name: &str) -> Parsed {
    provider(ChannelKind::Messenger)
        .unwrap()
        .parse(&fixture("messenger", name), REGION)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ig(name: &str) -> Parsed {
    provider(ChannelKind::Instagram)
        .unwrap()
        .parse(&fixture("instagram", name), REGION)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn id(kind: IdentifierKind, value: &str) -> Identifier {
    Identifier::from_stored(kind, value.to_string())
}

/// Asserts the message came from (or, for echoes, went to) the usual sample customer.
fn assert_wa_customer(m: &concierge_types::conversation::InboundMessage, name: Option<&str>) {
    assert_eq!(m.thread, CUSTOMER);
    assert_eq!(
        m.contact.identifiers,
        vec![
            id(IdentifierKind::WhatsappId, CUSTOMER),
            id(IdentifierKind::Phone, "+972987654321")
        ]
    );
    assert_eq!(m.contact.name.as_deref(), name);
}

// ---------------------------------------------------------------------------------------------
// WhatsApp fixtures
// ---------------------------------------------------------------------------------------------

/// Every fixture parses into something, so a fixture added later is never silently ignored;
/// the tests below check each one's fields.
#[test]
fn every_meta_fixture_yields_items_or_a_skip() {
    for (dir, kind) in [
        ("whatsapp", ChannelKind::Whatsapp),
        ("messenger", ChannelKind::Messenger),
        ("instagram", ChannelKind::Instagram),
    ] {
        for (name, body) in fixtures(dir) {
            let p = provider(kind)
                .unwrap()
                .parse(&body, REGION)
                .unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
            assert!(!p.items.is_empty() || !p.skipped.is_empty(), "{dir}/{name}");
        }
    }
}

#[test]
fn whatsapp_text() {
    let p = wa("text_message.json");
    let m = only_message(&p);
    assert_eq!(m.provider_id, "wamid.xyzxyz");
    assert_wa_customer(m, Some("Test Name"));
    assert_eq!(m.direction, Direction::Incoming);
    assert_eq!(m.ts, 1_697_043_223_000);
    assert_eq!(
        m.content,
        Content::Text {
            text: "Body Text".into()
        }
    );
    assert_eq!(m.reply_to, None);
    assert!(!m.edited);
    assert!(p.skipped.is_empty());
}

#[test]
fn whatsapp_media() {
    let cases = [
        (
            "image_message.json",
            MediaKind::Image,
            "65463453",
            Some("image/jpeg"),
            Some("4654+8g="),
            None,
            None,
        ),
        (
            "audio_message.json",
            MediaKind::Audio,
            "1234567890987654321",
            Some("audio/ogg; codecs=opus"),
            Some("E3dxS/PdYZE7ppA3pQ4mpCFaXBJ8pX4SRN/dsfvds/iPGA="),
            None,
            None,
        ),
        (
            "voice_message.json",
            MediaKind::Voice,
            "1234567890987654321",
            Some("audio/ogg; codecs=opus"),
            Some("m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI="),
            None,
            None,
        ),
        (
            "video_message.json",
            MediaKind::Video,
            "765756756",
            Some("video/mp4"),
            Some("Jh+2ij6PzUv/J2y+grrtegr/ZMzRxkEPwc24Oyib4s03w9Jc="),
            Some("caption"),
            None,
        ),
        (
            "document_message.json",
            MediaKind::Document,
            "1234567890987654321",
            Some("application/pdf"),
            Some("grwfwe/ZPx0wAbdfbdeFUNItPZ0RylL8gGUvdt3YFqc18SY="),
            Some("caption"),
            Some("filename.pdf"),
        ),
        (
            "sticker_static.json",
            MediaKind::Sticker,
            "1234567890987654321",
            Some("image/webp"),
            Some("OmT4nhjUhCMIPNmj7eeOZeCYjTXkLxoOv85OMCFwSuc="),
            None,
            None,
        ),
    ];
    for (file, kind, media_id, mime, sha, caption, filename) in cases {
        let p = wa(file);
        let m = only_message(&p);
        assert_wa_customer(m, Some("Test Name"));
        assert_eq!(
            m.content,
            Content::Media {
                media: kind,
                media_id: Some(media_id.into()),
                url: None,
                mime_type: mime.map(Into::into),
                filename: filename.map(Into::into),
                caption: caption.map(Into::into),
                sha256: sha.map(Into::into),
                size: None,
            },
            "{file}"
        );
    }
}

#[test]
fn whatsapp_interactive_replies() {
    for (file, provider_id) in [
        ("interactive_button_reply.json", "wamid.xyzxyz"),
        ("interactive_list_reply.json", "wamid.zyzxyz"),
        ("template_quick_reply_button.json", "wamid.xsidjw"),
    ] {
        let p = wa(file);
        let m = only_message(&p);
        assert_eq!(m.provider_id, provider_id, "{file}");
        assert_eq!(
            m.content,
            Content::Interactive {
                id: "callback_data".into(),
                title: "title".into()
            },
            "{file}"
        );
        assert!(m.reply_to.is_some(), "{file}: the message with the buttons");
    }
    assert_eq!(
        only_message(&wa("template_quick_reply_button.json"))
            .reply_to
            .as_deref(),
        Some("wamid.xyzxyz==")
    );
}

#[test]
fn whatsapp_flow_response_keeps_the_answers() {
    let p = wa("flow_completion_nfm_reply.json");
    let m = only_message(&p);
    assert_eq!(m.provider_id, "wamid.wegrchytvwcggt==");
    assert_eq!(m.reply_to.as_deref(), Some("wamid.gvwegfretge=="));
    match &m.content {
        Content::Other { kind, text } => {
            assert_eq!(kind, "flow_response");
            let answers: Value = serde_json::from_str(text.as_deref().unwrap()).unwrap();
            assert_eq!(answers["delivery_rating"], "4");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn whatsapp_reaction_location_contacts_order() {
    let m = only_message(&wa("reaction.json")).clone();
    assert_eq!(
        m.content,
        Content::Reaction {
            message_id: "wamid.yzxyzx=".into(),
            emoji: Some("😮".into())
        }
    );
    let m = only_message(&wa("location_current.json")).clone();
    assert_eq!(
        m.content,
        Content::Location {
            latitude: 12.25089,
            longitude: 43.90539,
            name: None,
            address: None
        }
    );
    // `context.forwarded` alone is not a reply.
    assert_eq!(m.reply_to, None);
    let m = only_message(&wa("contacts_message.json")).clone();
    assert_eq!(
        m.content,
        Content::Contacts {
            contacts: vec![
                SharedContact {
                    name: Some("Eli Turner".into()),
                    phones: vec!["+1 555-555-5555".into()],
                    emails: vec![]
                },
                SharedContact {
                    name: Some("Mira".into()),
                    phones: vec!["+1 666-666-6666".into()],
                    emails: vec![]
                },
                SharedContact {
                    name: Some("Dana Moss".into()),
                    phones: vec!["+1 777-777-7777".into()],
                    emails: vec![]
                },
            ]
        }
    );
    let m = only_message(&wa("order_message.json")).clone();
    assert_eq!(
        m.content,
        Content::Other {
            kind: "order".into(),
            text: Some("3 item(s): HAMBURGER ×3, FRENCH_FRIES ×2, SODA ×2".into())
        }
    );
}

#[test]
fn whatsapp_reply_context() {
    let m = only_message(&wa("reply_message.json")).clone();
    assert_eq!(m.reply_to.as_deref(), Some("wamid.xyzxyz=="));
    assert_eq!(
        m.content,
        Content::Text {
            text: "replied text".into()
        }
    );
}

#[test]
fn whatsapp_referral_is_kept_as_an_event() {
    let p = wa("referral_ad_click.json");
    assert_eq!(p.items.len(), 2, "{p:#?}");
    let Inbound::Event(ContactEvent {
        kind,
        thread,
        detail,
        ts,
        ..
    }) = &p.items[0]
    else {
        panic!("{p:#?}")
    };
    assert_eq!(kind, "referral");
    assert_eq!(thread, CUSTOMER);
    assert_eq!(*ts, 1_697_045_000_000);
    assert_eq!(detail["ctwa_clid"], "CTWA_CLID");
    assert_eq!(detail["source_id"], "ADID");
    let Inbound::Message(m) = &p.items[1] else {
        panic!("{p:#?}")
    };
    assert_eq!(m.provider_id, "wamid.ID");
    assert_eq!(
        m.content,
        Content::Text {
            text: "BODY".into()
        }
    );
}

#[test]
fn whatsapp_edit_points_at_the_original() {
    let p = wa("edited_message.json");
    let m = only_message(&p);
    assert_eq!(
        m.provider_id,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
    );
    assert!(m.edited);
    assert_eq!(
        m.reply_to.as_deref(),
        Some("wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=")
    );
    // The sender is 16505551234; the listed contact is someone else, so no name is borrowed.
    assert_eq!(m.thread, "16505551234");
    assert_eq!(m.contact.name, None);
    assert_eq!(
        m.contact.identifiers,
        vec![
            id(IdentifierKind::WhatsappId, "16505551234"),
            id(IdentifierKind::Phone, "+16505551234")
        ]
    );
    match &m.content {
        Content::Media {
            media,
            caption,
            url,
            media_id,
            ..
        } => {
            assert_eq!(*media, MediaKind::Image);
            assert_eq!(caption.as_deref(), Some("Updated image caption"));
            assert_eq!(
                url.as_deref(),
                Some("https://media.example.com/updated-image.jpg")
            );
            assert_eq!(media_id.as_deref(), Some("1234567890"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn whatsapp_revoke_marks_the_original_deleted() {
    let p = wa("deleted_message_revoke.json");
    let m = only_message(&p);
    // `from` is a placeholder; the change's only contact is the customer.
    assert_wa_customer(m, Some("Test Name"));
    assert_eq!(m.provider_id, "<WHATSAPP_MESSAGE_ID>");
    assert_eq!(
        m.content,
        Content::Other {
            kind: "deleted".into(),
            text: None
        }
    );
    assert_eq!(
        m.reply_to.as_deref(),
        Some("<ORIGINAL_WHATSAPP_MESSAGE_ID>")
    );
    assert!(!m.edited);
}

#[test]
fn whatsapp_echoes_are_outgoing_to_the_customer() {
    let p = wa("smb_echo_text.json");
    let m = only_message(&p);
    assert_eq!(m.direction, Direction::Outgoing);
    assert_wa_customer(m, Some("Test Name"));
    assert_eq!(
        m.content,
        Content::Text {
            text: "Test message".into()
        }
    );
    // This sample names the business in `to`: the customer is still the other party.
    let p = wa("smb_echo_edit.json");
    let m = only_message(&p);
    assert_eq!(m.direction, Direction::Outgoing);
    assert_wa_customer(m, Some("Test Name"));
    assert_eq!(m.provider_id, "wamid.yyyyyy");
    assert!(m.edited);
    assert_eq!(m.reply_to.as_deref(), Some("wamid.zzzzzz"));
    assert_eq!(
        m.content,
        Content::Text {
            text: "Text was edited".into()
        }
    );
}

#[test]
fn whatsapp_message_from_the_business_number_is_outgoing() {
    let mut v: Value = serde_json::from_slice(&fixture("whatsapp", "text_message.json")).unwrap();
    let msg = &mut v["entry"][0]["changes"][0]["value"]["messages"][0];
    msg["from"] = json!("972123456789");
    msg["to"] = json!(CUSTOMER);
    let p = whatsapp().parse(v.to_string().as_bytes(), REGION).unwrap();
    let m = only_message(&p);
    assert_eq!(m.direction, Direction::Outgoing);
    assert_eq!(m.thread, CUSTOMER);
}

fn whatsapp() -> &'static dyn Provider {
    provider(ChannelKind::Whatsapp).unwrap()
}

#[test]
fn whatsapp_statuses() {
    for (file, status, ts) in [
        ("status_sent.json", DeliveryStatus::Sent, 1_698_266_945_000),
        (
            "status_delivered.json",
            DeliveryStatus::Delivered,
            1_698_266_945_000,
        ),
        ("status_read.json", DeliveryStatus::Read, 1_689_380_458_000),
    ] {
        let p = wa(file);
        let s = only_status(&p);
        assert_eq!(s.status, status, "{file}");
        assert_eq!(s.provider_ids, vec!["wamid.xyzxyz".to_string()]);
        assert_eq!(s.thread.as_deref(), Some(CUSTOMER));
        assert_eq!(s.ts, ts);
        assert_eq!(s.up_to, None);
        assert_eq!(s.error, None);
    }
    let p = wa("status_failed.json");
    let s = only_status(&p);
    assert_eq!(s.status, DeliveryStatus::Failed);
    let e = s.error.as_ref().unwrap();
    assert_eq!(e.code.as_deref(), Some("130472"));
    assert_eq!(
        e.title.as_deref(),
        Some("User's number is part of an experiment")
    );
    assert_eq!(
        e.detail.as_deref(),
        Some("Failed to send message because this user's phone number is part of an experiment")
    );
}

#[test]
fn whatsapp_system_messages() {
    let m = only_message(&wa("system_identity_change.json")).clone();
    assert_eq!(m.contact.name.as_deref(), Some("User A"));
    assert_eq!(
        m.content,
        Content::Other {
            kind: "system".into(),
            text: Some("User identity changed".into())
        }
    );
    // No `contacts` at all: the sender is still known from `from`.
    let m = only_message(&wa("system_phone_number_change.json")).clone();
    assert_eq!(m.thread, CUSTOMER);
    assert_eq!(m.contact.name, None);
    assert_eq!(
        m.content,
        Content::Other {
            kind: "system".into(),
            text: Some("User A changed from 972987654321 to 972912345678".into())
        }
    );
}

#[test]
fn whatsapp_marketing_preferences_become_events() {
    let p = wa("user_preferences_marketing_signup.json");
    let e = only_event(&p);
    assert_eq!(e.kind, "marketing_preferences");
    assert_eq!(e.thread, "16505551234");
    assert_eq!(e.ts, 1_731_705_721_000);
    assert_eq!(e.detail["category"], "marketing_messages");
    assert_eq!(e.detail["value"], "signup");
}

#[test]
fn whatsapp_other_fields_are_skipped_with_the_field_name() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "message_template_status_update", "value": {"event": "APPROVED"}}]}]
    });
    let p = whatsapp()
        .parse(body.to_string().as_bytes(), REGION)
        .unwrap();
    assert_skipped(&p, "message_template_status_update");
}

#[test]
fn whatsapp_batches_keep_every_item_in_order() {
    let text: Value = serde_json::from_slice(&fixture("whatsapp", "text_message.json")).unwrap();
    let status: Value = serde_json::from_slice(&fixture("whatsapp", "status_read.json")).unwrap();
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [text["entry"][0].clone(), status["entry"][0].clone()],
    });
    let p = whatsapp()
        .parse(body.to_string().as_bytes(), REGION)
        .unwrap();
    assert_eq!(p.items.len(), 2);
    assert!(matches!(p.items[0], Inbound::Message(_)));
    assert!(matches!(p.items[1], Inbound::Status(_)));
}

#[test]
fn whatsapp_wrong_shapes_are_errors_naming_where() {
    let p = whatsapp();
    let err = p
        .parse(&fixture("messenger", "text_message.json"), REGION)
        .unwrap_err();
    assert!(err.contains("whatsapp_business_account"), "{err}");
    let mut v: Value = serde_json::from_slice(&fixture("whatsapp", "text_message.json")).unwrap();
    v["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = json!({"x": 1});
    let err = p.parse(v.to_string().as_bytes(), REGION).unwrap_err();
    assert_eq!(
        err,
        "entry[0].changes[0].value.messages[0].timestamp: expected an integer, got an object"
    );
    let err = p
        .parse(br#"{"object":"whatsapp_business_account"}"#, REGION)
        .unwrap_err();
    assert_eq!(err, "entry: missing");
}

#[test]
fn whatsapp_absurd_text_is_truncated_with_a_note() {
    let mut v: Value = serde_json::from_slice(&fixture("whatsapp", "text_message.json")).unwrap();
    v["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] =
        json!("a".repeat(200_000));
    let p = whatsapp().parse(v.to_string().as_bytes(), REGION).unwrap();
    let Content::Text { text } = &only_message(&p).content else {
        panic!()
    };
    assert!(text.len() <= crate::untrusted::MAX_TEXT_BYTES);
    assert!(
        text.ends_with("the original was 200000 bytes]"),
        "{}",
        &text[text.len() - 80..]
    );
}

// ---------------------------------------------------------------------------------------------
// Messenger and Instagram fixtures
// ---------------------------------------------------------------------------------------------

const PSID: &str = "1423587017700273";

fn messenger_id(v: &str) -> Vec<Identifier> {
    vec![id(IdentifierKind::MessengerId, v)]
}

#[test]
fn messenger_text_and_quick_reply() {
    let p = fb("text_message.json");
    let m = only_message(&p);
    assert_eq!(m.provider_id, "mid.$cAAE1UUyiiwthh0NPrVbVf4HFNDGl");
    assert_eq!(m.thread, PSID);
    assert_eq!(m.contact.identifiers, messenger_id(PSID));
    assert_eq!(m.direction, Direction::Incoming);
    assert_eq!(m.ts, 1_491_796_363_181);
    assert_eq!(
        m.content,
        Content::Text {
            text: "Sharp tools make good work.".into()
        }
    );
    let m = only_message(&fb("quick_reply.json")).clone();
    assert_eq!(m.provider_id, "mid.$cAAE1UUyiiwthh2BKL1bVhsBhVxvm");
    assert_eq!(
        m.content,
        Content::Interactive {
            id: "DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED".into(),
            title: "Red".into()
        }
    );
}

#[test]
fn messenger_attachments() {
    let url = |m: &Content| match m {
        Content::Media { url, .. } => url.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    for (file, kind, u) in [
        (
            "audio_message.json",
            MediaKind::Audio,
            "https://example.com/bot/audios/audio.mp3",
        ),
        (
            "video_message.json",
            MediaKind::Video,
            "https://example.com/bot/videos/video.mp4",
        ),
        (
            "file_message.json",
            MediaKind::File,
            "https://example.com/bot/files/file.doc",
        ),
    ] {
        let p = fb(file);
        let m = only_message(&p);
        assert_eq!(m.provider_id, "mid.$cAAE1UUyiiwthh1ZAO1bVhDxGk2N0");
        assert!(
            matches!(m.content, Content::Media { media, .. } if media == kind),
            "{file}"
        );
        assert_eq!(url(&m.content), u);
    }
    let m = only_message(&fb("image_message.json")).clone();
    assert!(matches!(
        m.content,
        Content::Media {
            media: MediaKind::Image,
            media_id: None,
            ..
        }
    ));
    assert!(url(&m.content).starts_with("https://scontent.xx.fbcdn.net/v/t35.0-12/17887258"));
    let m = only_message(&fb("sticker_like.json")).clone();
    assert!(matches!(
        &m.content,
        Content::Media { media: MediaKind::Sticker, media_id: Some(s), .. } if s == "369239263222822"
    ));
    let m = only_message(&fb("location_message.json")).clone();
    assert_eq!(
        m.content,
        Content::Location {
            latitude: 0.0,
            longitude: 0.0,
            name: None,
            address: None
        }
    );
}

#[test]
fn messenger_echo_is_outgoing_to_the_recipient() {
    let p = fb("echo.json");
    let m = only_message(&p);
    assert_eq!(m.direction, Direction::Outgoing);
    assert_eq!(m.thread, PSID);
    assert_eq!(m.contact.identifiers, messenger_id(PSID));
    assert_eq!(m.provider_id, "mid.$cAAE1UUyiiwthh1yrIlbVhdisQW8M");
    assert_eq!(
        m.content,
        Content::Text {
            text: "Difficult the first time, easy the second.".into()
        }
    );
}

#[test]
fn messenger_postbacks() {
    let p = fb("postback.json");
    let m = only_message(&p);
    assert_eq!(m.provider_id, "postback:1423587017700273:1491798782090");
    assert_eq!(
        m.content,
        Content::Interactive {
            id: "USER_DEFINED_PAYLOAD".into(),
            title: "USER_DEFINED_PAYLOAD".into()
        }
    );
    let p = fb("postback_get_started_with_referral.json");
    assert_eq!(p.items.len(), 2);
    let Inbound::Message(m) = &p.items[0] else {
        panic!("{p:#?}")
    };
    assert_eq!(m.thread, "1476077422222289");
    assert_eq!(
        m.content,
        Content::Interactive {
            id: "__GET_STARTED__".into(),
            title: "Get Started".into()
        }
    );
    let Inbound::Event(e) = &p.items[1] else {
        panic!("{p:#?}")
    };
    assert_eq!(e.kind, "referral");
    assert_eq!(
        e.detail,
        json!({"source": "SHORTLINK", "type": "OPEN_THREAD", "ref": "aaaa"})
    );
}

#[test]
fn messenger_reaction() {
    let p = fb("reaction_react.json");
    let m = only_message(&p);
    assert_eq!(m.thread, "1476077422222289");
    assert_eq!(
        m.provider_id,
        "reaction:mid.$cAAE1UUyiiwthh0NPrVbVf4HFNDGl:1476077422222289:1469111400000"
    );
    assert_eq!(
        m.content,
        Content::Reaction {
            message_id: "mid.$cAAE1UUyiiwthh0NPrVbVf4HFNDGl".into(),
            emoji: Some("❤️".into())
        }
    );
    let mut v: Value =
        serde_json::from_slice(&fixture("messenger", "reaction_react.json")).unwrap();
    v["entry"][0]["messaging"][0]["reaction"]["action"] = json!("unreact");
    let p = messenger().parse(v.to_string().as_bytes(), REGION).unwrap();
    assert!(matches!(
        only_message(&p).content,
        Content::Reaction { emoji: None, .. }
    ));
}

fn messenger() -> &'static dyn Provider {
    provider(ChannelKind::Messenger).unwrap()
}

#[test]
fn messenger_receipts() {
    let p = fb("delivery.json");
    let s = only_status(&p);
    assert_eq!(s.status, DeliveryStatus::Delivered);
    assert_eq!(s.thread.as_deref(), Some(PSID));
    assert_eq!(
        s.provider_ids,
        vec!["mid.1458668856218:ed81099e15d3f4f233".to_string()]
    );
    assert_eq!(s.up_to, Some(1_458_668_856_253));
    assert_eq!(s.ts, 1_458_668_856_253);
    let p = fb("read.json");
    let s = only_status(&p);
    assert_eq!(s.status, DeliveryStatus::Read);
    assert_eq!(s.thread.as_deref(), Some(PSID));
    assert!(s.provider_ids.is_empty());
    assert_eq!(s.up_to, Some(1_458_668_856_253));
    assert_eq!(s.ts, 1_458_668_856_463);
}

#[test]
fn messenger_contact_events() {
    let e = only_event(&fb("optin.json")).clone();
    assert_eq!(e.kind, "optin");
    assert_eq!(e.thread, "USER_ID");
    assert_eq!(e.detail, json!({"ref": "PASS_THROUGH_PARAM"}));
    let e = only_event(&fb("referral_shortlink.json")).clone();
    assert_eq!(e.kind, "referral");
    assert_eq!(e.thread, "1476077111119289");
    assert_eq!(e.ts, 1_511_111_143_921);
    let e = only_event(&fb("account_linking_linked.json")).clone();
    assert_eq!(e.kind, "account_linking");
    assert_eq!(e.thread, "1476077422222289");
    assert_eq!(e.detail["status"], "linked");
}

#[test]
fn messenger_non_conversation_events_are_skipped() {
    for (file, why) in [
        ("handover_pass_thread_control.json", "pass_thread_control"),
        ("handover_take_thread_control.json", "take_thread_control"),
        ("app_roles.json", "app_roles"),
        ("policy_enforcement_block.json", "policy-enforcement"),
        ("game_play.json", "game_play"),
    ] {
        assert_skipped(&fb(file), why);
    }
    let body = json!({"object": "page", "entry": [{"id": "1", "time": 1, "messaging": [
        {"sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": 1, "brand_new_event": {}}
    ]}]});
    let p = messenger()
        .parse(body.to_string().as_bytes(), REGION)
        .unwrap();
    assert_skipped(&p, "brand_new_event");
}

#[test]
fn messenger_several_attachments_get_their_own_ids() {
    let body = json!({"object": "page", "entry": [{"id": "1", "time": 5, "messaging": [{
        "sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": 5,
        "message": {"mid": "m1", "reply_to": {"mid": "m0"}, "attachments": [
            {"type": "image", "payload": {"url": "https://x/1.jpg"}},
            {"type": "image", "payload": {"url": "https://x/2.jpg"}},
            {"type": "fallback", "title": "Docs", "payload": {"url": "https://x/doc"}}
        ]}
    }]}]});
    let p = messenger()
        .parse(body.to_string().as_bytes(), REGION)
        .unwrap();
    let ids: Vec<_> = p
        .items
        .iter()
        .map(|i| match i {
            Inbound::Message(m) => (m.provider_id.as_str(), m.reply_to.as_deref()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            ("m1", Some("m0")),
            ("m1:1", Some("m0")),
            ("m1:2", Some("m0"))
        ]
    );
    let Inbound::Message(last) = &p.items[2] else {
        panic!()
    };
    assert_eq!(
        last.content,
        Content::Other {
            kind: "link".into(),
            text: Some("Docs https://x/doc".into())
        }
    );
}

#[test]
fn messenger_edits_and_instagram_unsends() {
    let body = json!({"object": "page", "entry": [{"id": "1", "time": 5, "messaging": [{
        "sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": 9,
        "message_edit": {"mid": "m1", "text": "fixed", "num_edit": 2}
    }]}]});
    let p = messenger()
        .parse(body.to_string().as_bytes(), REGION)
        .unwrap();
    let m = only_message(&p);
    assert_eq!(m.provider_id, "m1:edit:2");
    assert!(m.edited);
    assert_eq!(m.reply_to.as_deref(), Some("m1"));
    let body = json!({"object": "instagram", "entry": [{"id": "1", "time": 5, "messaging": [{
        "sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": 9,
        "message": {"mid": "m1", "is_deleted": true}
    }]}]});
    let p = provider(ChannelKind::Instagram)
        .unwrap()
        .parse(body.to_string().as_bytes(), REGION)
        .unwrap();
    let m = only_message(&p);
    assert_eq!(m.provider_id, "m1:deleted");
    assert_eq!(m.reply_to.as_deref(), Some("m1"));
    assert_eq!(
        m.content,
        Content::Other {
            kind: "deleted".into(),
            text: None
        }
    );
}

#[test]
fn instagram_fixtures() {
    let customer = vec![id(IdentifierKind::InstagramId, "Sender-id-1")];
    let m = only_message(&ig("text_message.json")).clone();
    assert_eq!(m.provider_id, "message-id-1");
    assert_eq!(m.thread, "Sender-id-1");
    assert_eq!(m.contact.identifiers, customer);
    assert_eq!(m.ts, 1_631_082_844_000);
    assert_eq!(
        m.content,
        Content::Text {
            text: "This is the first message from the customer".into()
        }
    );
    let m = only_message(&ig("story_reply.json")).clone();
    assert_eq!(
        m.content,
        Content::Text {
            text: "This is the story reply".into()
        }
    );
    assert_eq!(m.reply_to, None, "a story is not a message of the thread");
    let m = only_message(&ig("story_mention.json")).clone();
    assert_eq!(
        m.content,
        Content::Other {
            kind: "story_mention".into(),
            text: Some("https://www.example.com/test.jpeg".into())
        }
    );
    let m = only_message(&ig("attachment_share.json")).clone();
    assert_eq!(
        m.content,
        Content::Other {
            kind: "share".into(),
            text: Some("https://www.example.com/test.jpeg".into())
        }
    );
    let p = ig("seen.json");
    let s = only_status(&p);
    assert_eq!(s.status, DeliveryStatus::Read);
    assert_eq!(s.thread.as_deref(), Some("Sender-id-1"));
    assert_eq!(s.provider_ids, vec!["message-id-1".to_string()]);
    assert_eq!(s.up_to, None);
}

#[test]
fn instagram_and_messenger_refuse_each_other() {
    let err = messenger()
        .parse(&fixture("instagram", "text_message.json"), REGION)
        .unwrap_err();
    assert!(err.contains("\"page\""), "{err}");
    let err = provider(ChannelKind::Instagram)
        .unwrap()
        .parse(&fixture("messenger", "text_message.json"), REGION)
        .unwrap_err();
    assert!(err.contains("\"instagram\""), "{err}");
}

#[test]
fn instagram_comments_are_skipped() {
    let body = json!({"object": "instagram", "entry": [{"id": "1", "time": 5, "changes": [
        {"field": "comments", "value": {"id": "c1", "text": "nice"}}
    ]}]});
    let p = provider(ChannelKind::Instagram)
        .unwrap()
        .parse(body.to_string().as_bytes(), REGION)
        .unwrap();
    assert_skipped(&p, "comments");
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

fn meta_cfg() -> ChannelConfig {
    serde_json::from_value(json!({
        "app_secret": "test_app_secret",
        "verify_token": "my-verify-token",
        "access_token": "EAAG-token",
        "phone_number_id": "1122334455667",
        "page_access_token": "PAGE-token",
    }))
    .unwrap()
}

fn verify_with(kind: ChannelKind, body: &[u8], headers: &[(&str, &str)]) -> Result<(), Rejection> {
    let headers = pairs(headers);
    provider(kind).unwrap().verify(
        &meta_cfg(),
        &Request {
            query: &[],
            headers: &headers,
            body,
        },
    )
}

const WA_VECTOR: &str = "sha256=539004114ddfe258e472eeb3020fd0ca0e57951a627b90e437862aa3b9963c1d";
const FB_VECTOR: &str = "sha256=b9753ee56e95a5d6f8bf3f7a1390dd2233bb1f1c9caab7175010b18add1676a5";

#[test]
fn signature_test_vectors_from_the_fixtures_readme() {
    let wa_body = fixture("whatsapp", "text_message.json");
    assert_eq!(wa_body.len(), 1034);
    assert_eq!(
        verify_with(
            ChannelKind::Whatsapp,
            &wa_body,
            &[("x-hub-signature-256", WA_VECTOR)]
        ),
        Ok(())
    );
    let fb_body = fixture("messenger", "text_message.json");
    assert_eq!(fb_body.len(), 515);
    for kind in [ChannelKind::Messenger, ChannelKind::Instagram] {
        assert_eq!(
            verify_with(kind, &fb_body, &[("x-hub-signature-256", FB_VECTOR)]),
            Ok(())
        );
    }
    // Upper-case hex is the same signature.
    assert_eq!(
        verify_with(
            ChannelKind::Whatsapp,
            &wa_body,
            &[(
                "x-hub-signature-256",
                &WA_VECTOR.to_uppercase().replace("SHA256=", "sha256=")
            )]
        ),
        Ok(())
    );
}

#[test]
fn bad_signatures_are_unauthorized() {
    let body = fixture("whatsapp", "text_message.json");
    let mut flipped = body.clone();
    flipped[100] ^= 1;
    let sha1_only = [(
        "x-hub-signature",
        "sha1=0123456789abcdef0123456789abcdef01234567",
    )];
    type Case<'a> = (&'a [u8], Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (&body, vec![]),
        (&body, sha1_only.to_vec()),
        (&body, vec![("x-hub-signature-256", "")]),
        (&body, vec![("x-hub-signature-256", "sha256=")]),
        (&body, vec![("x-hub-signature-256", "sha256=zz")]),
        (&body, vec![("x-hub-signature-256", &WA_VECTOR[7..])]),
        (
            &body,
            vec![("x-hub-signature-256", &WA_VECTOR[..WA_VECTOR.len() - 2])],
        ),
        (&body, vec![("x-hub-signature-256", FB_VECTOR)]),
        (&flipped, vec![("x-hub-signature-256", WA_VECTOR)]),
        (
            &body,
            vec![
                ("x-hub-signature-256", WA_VECTOR),
                ("x-hub-signature-256", FB_VECTOR),
            ],
        ),
    ];
    for (i, (body, headers)) in cases.into_iter().enumerate() {
        let r = verify_with(ChannelKind::Whatsapp, body, &headers);
        assert!(
            matches!(r, Err(Rejection::Unauthorized(_))),
            "case {i}: {r:?}"
        );
        assert_eq!(r.unwrap_err().status(), 401);
    }
    // A channel without app_secret verifies nothing.
    let headers = pairs(&[("x-hub-signature-256", WA_VECTOR)]);
    let r = provider(ChannelKind::Whatsapp).unwrap().verify(
        &ChannelConfig::default(),
        &Request {
            query: &[],
            headers: &headers,
            body: &body,
        },
    );
    assert!(matches!(r, Err(Rejection::Unauthorized(m)) if m.contains("app_secret")));
}

#[test]
fn handshake() {
    let q = |mode: &str, token: &str, challenge: &str| {
        pairs(&[
            ("hub.mode", mode),
            ("hub.verify_token", token),
            ("hub.challenge", challenge),
        ])
    };
    for kind in [
        ChannelKind::Whatsapp,
        ChannelKind::Messenger,
        ChannelKind::Instagram,
    ] {
        let p = provider(kind).unwrap();
        let cfg = meta_cfg();
        assert_eq!(
            p.handshake(&cfg, &q("subscribe", "my-verify-token", "1158201444")),
            Some(Ok("1158201444".to_string()))
        );
        let wrong_token = p.handshake(&cfg, &q("subscribe", "guess", "1158201444"));
        assert!(matches!(wrong_token, Some(Err(Rejection::Forbidden(_)))));
        let wrong_mode = p.handshake(&cfg, &q("unsubscribe", "my-verify-token", "1"));
        assert!(matches!(wrong_mode, Some(Err(Rejection::Forbidden(_)))));
        let no_mode = p.handshake(&cfg, &pairs(&[("hub.verify_token", "my-verify-token")]));
        assert!(matches!(no_mode, Some(Err(Rejection::Forbidden(_)))));
        let no_challenge = p.handshake(
            &cfg,
            &pairs(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", "my-verify-token"),
            ]),
        );
        assert!(matches!(no_challenge, Some(Err(Rejection::BadRequest(_)))));
        let script = p.handshake(
            &cfg,
            &q("subscribe", "my-verify-token", "<script>x</script> y"),
        );
        assert!(matches!(script, Some(Err(Rejection::BadRequest(_)))));
        let unconfigured =
            p.handshake(&ChannelConfig::default(), &q("subscribe", "", "1158201444"));
        assert!(matches!(unconfigured, Some(Err(Rejection::Forbidden(_)))));
    }
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

const HOUR: i64 = 3_600_000;
const NOW: i64 = 1_700_000_000_000;

fn ctx(hours_since_customer: i64) -> SendContext {
    SendContext {
        now: NOW,
        last_incoming_at: Some(NOW - hours_since_customer * HOUR),
    }
}

fn body_json(r: &HttpRequest) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn whatsapp_send_text() {
    let r = whatsapp()
        .build_send(
            &meta_cfg(),
            CUSTOMER,
            &Outgoing::Text {
                text: "Olá <b>!".into(),
            },
            &ctx(1),
        )
        .unwrap();
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.url,
        "https://graph.facebook.com/v21.0/1122334455667/messages"
    );
    assert_eq!(r.header("authorization"), Some("Bearer EAAG-token"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        body_json(&r),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": CUSTOMER,
            "type": "text",
            "text": {"preview_url": false, "body": "Olá <b>!"}
        })
    );
}

#[test]
fn whatsapp_send_template_even_outside_the_window() {
    let out = Outgoing::Template {
        name: "order_update".into(),
        language: "pt_BR".into(),
        params: vec!["Ana".into(), "#123".into()],
    };
    let mut cfg = meta_cfg();
    cfg.api_base = Some("http://127.0.0.1:9999/mock/".into());
    let r = whatsapp()
        .build_send(&cfg, CUSTOMER, &out, &ctx(25))
        .unwrap();
    assert_eq!(r.url, "http://127.0.0.1:9999/mock/1122334455667/messages");
    assert_eq!(
        body_json(&r),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": CUSTOMER,
            "type": "template",
            "template": {
                "name": "order_update",
                "language": {"code": "pt_BR"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Ana"}, {"type": "text", "text": "#123"}
                ]}]
            }
        })
    );
    let no_params = Outgoing::Template {
        name: "hello_world".into(),
        language: "en_US".into(),
        params: vec![],
    };
    let r = whatsapp()
        .build_send(&cfg, CUSTOMER, &no_params, &ctx(25))
        .unwrap();
    assert!(body_json(&r)["template"].get("components").is_none());
}

#[test]
fn whatsapp_send_refusals() {
    let p = whatsapp();
    let cfg = meta_cfg();
    let text = Outgoing::Text { text: "hi".into() };
    let err = p.build_send(&cfg, CUSTOMER, &text, &ctx(25)).unwrap_err();
    assert!(
        err.starts_with("the WhatsApp 24-hour customer-service window closed at"),
        "{err}"
    );
    assert!(
        err.ends_with("only approved templates can be sent"),
        "{err}"
    );
    let long = Outgoing::Text {
        text: "x".repeat(4097),
    };
    assert!(p
        .build_send(&cfg, CUSTOMER, &long, &ctx(1))
        .unwrap_err()
        .contains("4096"));
    let empty = Outgoing::Text { text: " ".into() };
    assert!(p.build_send(&cfg, CUSTOMER, &empty, &ctx(1)).is_err());
    assert!(p.build_send(&cfg, "+972 98", &text, &ctx(1)).is_err());
    let bad_name = Outgoing::Template {
        name: "Order Update".into(),
        language: "en".into(),
        params: vec![],
    };
    assert!(p.build_send(&cfg, CUSTOMER, &bad_name, &ctx(1)).is_err());
    let empty_param = Outgoing::Template {
        name: "x".into(),
        language: "en".into(),
        params: vec!["a".into(), "".into()],
    };
    assert!(p
        .build_send(&cfg, CUSTOMER, &empty_param, &ctx(1))
        .unwrap_err()
        .contains("parameter 2"));
    assert!(p
        .build_send(&ChannelConfig::default(), CUSTOMER, &text, &ctx(1))
        .unwrap_err()
        .contains("access_token"));
}

#[test]
fn whatsapp_send_responses() {
    let p = whatsapp();
    let ok = br#"{"messaging_product":"whatsapp","contacts":[{"input":"972987654321","wa_id":"972987654321"}],"messages":[{"id":"wamid.HBgLOTcyOTg3NjU0MzIxFQIAERgSQzY="}]}"#;
    assert_eq!(
        p.read_send_response(200, ok),
        SendOutcome::Sent {
            provider_id: "wamid.HBgLOTcyOTg3NjU0MzIxFQIAERgSQzY=".into()
        }
    );
    assert!(matches!(
        p.read_send_response(500, b"oops"),
        SendOutcome::Retry { .. }
    ));
    assert!(matches!(
        p.read_send_response(503, b""),
        SendOutcome::Retry { .. }
    ));
    assert!(matches!(
        p.read_send_response(0, b""),
        SendOutcome::Retry { .. }
    ));
    let reengagement = br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"AbC"}}"#;
    match p.read_send_response(400, reengagement) {
        SendOutcome::Failed { error } => {
            assert_eq!(error.code.as_deref(), Some("131047"));
            assert_eq!(
                error.title.as_deref(),
                Some("(#131047) Re-engagement message")
            );
            assert!(error.detail.unwrap().contains("more than 24 hours"));
        }
        other => panic!("{other:?}"),
    }
    let throttled = br#"{"error":{"message":"(#130429) Rate limit hit","code":130429}}"#;
    assert!(matches!(
        p.read_send_response(400, throttled),
        SendOutcome::Retry { .. }
    ));
    let rate_limited = br#"{"error":{"message":"too many","code":80007}}"#;
    assert!(matches!(
        p.read_send_response(429, rate_limited),
        SendOutcome::Retry { .. }
    ));
    let bad_token = br#"{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}"#;
    assert!(matches!(
        p.read_send_response(401, bad_token),
        SendOutcome::Failed { error } if error.code.as_deref() == Some("190")
    ));
    assert!(matches!(
        p.read_send_response(200, b"{}"),
        SendOutcome::Failed { .. }
    ));
    assert!(matches!(
        p.read_send_response(404, b"<html>"),
        SendOutcome::Failed { error } if error.code.as_deref() == Some("404")
    ));
}

#[test]
fn messenger_send_inside_24_hours_is_a_response() {
    let r = messenger()
        .build_send(
            &meta_cfg(),
            PSID,
            &Outgoing::Text { text: "Hi".into() },
            &ctx(2),
        )
        .unwrap();
    assert_eq!(r.url, "https://graph.facebook.com/v21.0/me/messages");
    assert_eq!(r.header("authorization"), Some("Bearer PAGE-token"));
    assert!(!r.url.contains("access_token"));
    assert_eq!(
        body_json(&r),
        json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "Hi"}})
    );
}

#[test]
fn messenger_send_at_three_days_is_tagged_human_agent_and_refused_at_eight() {
    for kind in [ChannelKind::Messenger, ChannelKind::Instagram] {
        let p = provider(kind).unwrap();
        let text = Outgoing::Text { text: "Hi".into() };
        let r = p.build_send(&meta_cfg(), PSID, &text, &ctx(72)).unwrap();
        assert_eq!(
            body_json(&r),
            json!({
                "recipient": {"id": PSID},
                "messaging_type": "MESSAGE_TAG",
                "tag": "HUMAN_AGENT",
                "message": {"text": "Hi"}
            })
        );
        let err = p
            .build_send(&meta_cfg(), PSID, &text, &ctx(8 * 24))
            .unwrap_err();
        assert!(err.contains("7-day human-agent window"), "{err}");
        let template = Outgoing::Template {
            name: "x".into(),
            language: "en".into(),
            params: vec![],
        };
        assert!(p
            .build_send(&meta_cfg(), PSID, &template, &ctx(1))
            .unwrap_err()
            .contains("WhatsApp feature"));
    }
    let long = Outgoing::Text {
        text: "x".repeat(1001),
    };
    assert!(provider(ChannelKind::Instagram)
        .unwrap()
        .build_send(&meta_cfg(), PSID, &long, &ctx(1))
        .is_err());
    assert!(messenger()
        .build_send(&meta_cfg(), PSID, &long, &ctx(1))
        .is_ok());
}

#[test]
fn messenger_send_responses() {
    let p = messenger();
    assert_eq!(
        p.read_send_response(
            200,
            br#"{"recipient_id":"1254477777772919","message_id":"m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM"}"#
        ),
        SendOutcome::Sent {
            provider_id: "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM".into()
        }
    );
    let outside = br#"{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"x"}}"#;
    assert!(matches!(
        p.read_send_response(400, outside),
        SendOutcome::Failed { error } if error.code.as_deref() == Some("10")
    ));
    assert!(matches!(
        p.read_send_response(500, b"{}"),
        SendOutcome::Retry { .. }
    ));
    let temporary = br#"{"error":{"message":"Temporary send message failure","code":1200}}"#;
    assert!(matches!(
        p.read_send_response(400, temporary),
        SendOutcome::Retry { .. }
    ));
}
