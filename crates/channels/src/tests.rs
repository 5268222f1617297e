//! Tests across all providers: the registry, and robustness — no input may panic a parser, a
//! verifier or a send builder (a malformed webhook must never take the process down).

use crate::test_support::*;
use crate::*;
use serde_json::{json, Value};

const REGION: &str = "BR";

#[test]
fn every_provider_is_listed_once_under_its_own_kind() {
    let mut seen = Vec::new();
    for p in PROVIDERS {
        assert!(!seen.contains(&p.kind()), "{:?} listed twice", p.kind());
        seen.push(p.kind());
        assert!(std::ptr::addr_eq(
            provider(p.kind()).unwrap() as *const dyn Provider,
            p as *const dyn Provider
        ));
        // The API channel has no provider: replies go to the integrator's own api_base.
        if p.kind() != ChannelKind::Api {
            assert!(p.default_api_base().starts_with("https://"));
            assert!(!p.default_api_base().ends_with('/'));
        }
    }
    for kind in [ChannelKind::Email, ChannelKind::Webchat, ChannelKind::Store] {
        assert!(provider(kind).is_none(), "{kind:?}");
        assert_eq!(reply_window(kind), ReplyWindow::NONE);
    }
}

#[test]
fn request_debug_hides_header_values() {
    let headers = pairs(&[("x-telegram-bot-api-secret-token", "hunter2")]);
    let req = Request {
        query: &[],
        headers: &headers,
        body: b"{}",
    };
    let debug = format!("{req:?}");
    assert!(debug.contains("x-telegram-bot-api-secret-token"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[test]
fn reply_windows_as_data() {
    let w = |k| reply_window(k);
    assert_eq!(
        w(ChannelKind::Whatsapp),
        ReplyWindow {
            hours: Some(24),
            tagged_hours: None,
            templates_outside: true
        }
    );
    for k in [ChannelKind::Messenger, ChannelKind::Instagram] {
        assert_eq!(
            w(k),
            ReplyWindow {
                hours: Some(24),
                tagged_hours: Some(168),
                templates_outside: false
            }
        );
    }
    assert_eq!(w(ChannelKind::Tiktok).hours, Some(48));
    assert_eq!(w(ChannelKind::Telegram), ReplyWindow::NONE);
    assert_eq!(w(ChannelKind::Viber), ReplyWindow::NONE);
}

/// Each provider with the fixture folders written for it. TikTok has no captured payloads; two
/// hand-made envelopes stand in (content as an object, so mutations reach its fields, and as
/// the JSON string TikTok sends).
fn corpus() -> Vec<(ChannelKind, String, Vec<u8>)> {
    let mut out = Vec::new();
    for (dir, kind) in [
        ("whatsapp", ChannelKind::Whatsapp),
        ("messenger", ChannelKind::Messenger),
        ("instagram", ChannelKind::Instagram),
        ("telegram", ChannelKind::Telegram),
        ("viber", ChannelKind::Viber),
    ] {
        for (name, body) in fixtures(dir) {
            out.push((kind, format!("{dir}/{name}"), body));
        }
    }
    let content = json!({
        "type": "text", "message_id": "m1", "timestamp": 1_700_000_000_000_i64,
        "conversation_id": "c1", "text": {"body": "hi"}, "from": "Ana",
        "from_user": {"id": "u1"}, "to": "Biz", "to_user": {"id": "b1"},
        "referenced_message_info": {"referenced_message_id": "m0"}
    });
    for content in [content.clone(), Value::String(content.to_string())] {
        let body = json!({"client_key": "k", "event": "im_receive_msg", "create_time": 1,
                          "user_openid": "b1", "content": content});
        out.push((
            ChannelKind::Tiktok,
            "tiktok/handmade".into(),
            body.to_string().into_bytes(),
        ));
    }
    out
}

fn parse(kind: ChannelKind, body: &[u8]) -> Result<Parsed, String> {
    let result = provider(kind).unwrap().parse(body, REGION);
    if let Err(e) = &result {
        assert!(!e.is_empty());
    }
    result
}

#[test]
fn truncated_bodies_are_errors_never_panics() {
    for (kind, name, body) in corpus() {
        for cut in (0..body.len()).step_by(7) {
            let prefix = &body[..cut];
            let result = parse(kind, prefix);
            if serde_json::from_slice::<Value>(prefix).is_err() {
                assert!(result.is_err(), "{name} cut at {cut} parsed");
            }
        }
    }
}

/// JSON pointers to every node of `v` (the root excluded).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{at}/{}", escape(k));
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_node_swapped_for_every_type_never_panics() {
    let replacements = [
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1.5e300),
        json!(""),
        json!("x"),
        json!("\u{0}\u{202e}<script>"),
        json!([]),
        json!([1, "a", null]),
        json!({}),
        json!({"id": {}}),
    ];
    let mut runs = 0usize;
    for (kind, name, body) in corpus() {
        let root: Value = serde_json::from_slice(&body).unwrap();
        let mut paths = Vec::new();
        pointers(&root, String::new(), &mut paths);
        for path in &paths {
            for replacement in &replacements {
                let mut mutated = root.clone();
                *mutated.pointer_mut(path).unwrap() = replacement.clone();
                let _ = parse(kind, mutated.to_string().as_bytes());
                runs += 1;
            }
            // And the node removed altogether.
            let mut mutated = root.clone();
            let (parent, key) = path.rsplit_once('/').unwrap();
            match mutated.pointer_mut(if parent.is_empty() { "" } else { parent }) {
                Some(Value::Object(map)) => {
                    map.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    items.remove(key.parse::<usize>().unwrap());
                }
                _ => {}
            }
            let _ = parse(kind, mutated.to_string().as_bytes());
        }
        assert!(!paths.is_empty(), "{name}");
    }
    assert!(runs > 10_000, "only {runs} mutations");
}

#[test]
fn huge_numbers_never_panic() {
    let huge = "9".repeat(400);
    for (kind, name, body) in corpus() {
        let text = String::from_utf8(body).unwrap();
        // Every run of digits becomes a number no integer type holds (or a string of one).
        let mut out = String::new();
        let mut in_digits = false;
        for c in text.chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    out.push_str(&huge);
                }
                in_digits = true;
            } else {
                in_digits = false;
                out.push(c);
            }
        }
        let _ = parse(kind, out.as_bytes());
        let negative = out.replace(&huge, &format!("-{huge}"));
        let _ = parse(kind, negative.as_bytes());
        let _ = name;
    }
}

#[test]
fn odd_bodies_are_errors_for_every_provider() {
    let deep_array = "[".repeat(100_000);
    let deep_object = "{\"a\":".repeat(100_000);
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    let mut oversized = b"{\"object\":\"page\",\"entry\":[],\"pad\":\"".to_vec();
    oversized.extend(std::iter::repeat_n(b'x', MAX_BODY_BYTES));
    oversized.extend_from_slice(b"\"}");
    let bodies: Vec<&[u8]> = vec![
        b"",
        b"   ",
        b"null",
        b"[]",
        b"\"string\"",
        b"1e999",
        b"{\"object\": 5}",
        b"{\"entry\": {}}",
        b"\xff\xfe\xfd",
        b"{\"object\":\"whatsapp_business_account\",\"entry\":\"\xff\"}",
        deep_array.as_bytes(),
        deep_object.as_bytes(),
        &big,
        &oversized,
    ];
    for p in PROVIDERS {
        for body in &bodies {
            assert!(
                p.parse(body, REGION).is_err(),
                "{:?} accepted {:?}",
                p.kind(),
                String::from_utf8_lossy(&body[..body.len().min(40)])
            );
        }
    }
}

#[test]
fn each_provider_survives_the_others_fixtures() {
    let corpus = corpus();
    for p in PROVIDERS {
        for (_, name, body) in &corpus {
            let result = p.parse(body, REGION);
            // Telegram and Viber share no envelope with anyone else; Meta deliveries of the
            // wrong product are refused by their `object`.
            if let Ok(parsed) = &result {
                assert!(
                    parsed.items.is_empty() || name.starts_with(&format!("{}/", p.kind().as_str())),
                    "{:?} made items of {name}",
                    p.kind()
                );
            }
        }
    }
}

#[test]
fn unknown_region_is_an_error_not_a_panic() {
    let body = fixture("whatsapp", "text_message.json");
    let err = provider(ChannelKind::Whatsapp)
        .unwrap()
        .parse(&body, "ZZ")
        .unwrap_err();
    assert!(err.contains("unknown region"), "{err}");
}

#[test]
fn verifiers_and_handshakes_survive_odd_headers() {
    let cfg: ChannelConfig = serde_json::from_value(json!({
        "app_secret": "s", "verify_token": "v", "secret_token": "t", "auth_token": "a"
    }))
    .unwrap();
    let odd_values = [
        "".to_string(),
        "sha256=".to_string(),
        "sha256=é".to_string(),
        "t=,s=".to_string(),
        "t=99999999999999999999999,s=00".to_string(),
        "ü".repeat(10_000),
        "\u{0}".to_string(),
        "=,=,=".to_string(),
    ];
    let names = [
        "x-hub-signature-256",
        "x-telegram-bot-api-secret-token",
        "x-viber-content-signature",
        "tiktok-signature",
    ];
    for p in PROVIDERS {
        for value in &odd_values {
            for name in names {
                let headers = pairs(&[(name, value)]);
                let req = Request {
                    query: &headers,
                    headers: &headers,
                    body: b"{}",
                };
                assert!(
                    p.verify(&cfg, &req).is_err(),
                    "{:?} {name}={value:?}",
                    p.kind()
                );
                let _ = p.signed_at(&req);
            }
            let q = pairs(&[
                ("hub.mode", value),
                ("hub.verify_token", value),
                ("hub.challenge", value),
            ]);
            if let Some(r) = p.handshake(&cfg, &q) {
                assert!(r.is_err(), "{:?} handshake {value:?}", p.kind());
            }
        }
    }
}

#[test]
fn send_builders_and_readers_survive_odd_input() {
    let cfg: ChannelConfig = serde_json::from_value(json!({
        "access_token": "t", "phone_number_id": "1", "page_access_token": "p",
        "bot_token": "1:a", "auth_token": "a", "sender_name": "S", "business_id": "b"
    }))
    .unwrap();
    let ctx = SendContext {
        now: 10,
        last_incoming_at: Some(5),
    };
    let texts = [
        String::new(),
        "\u{0}".to_string(),
        "🎉".repeat(5000),
        "\u{202e}rtl".to_string(),
        "line\nbreak \"quoted\" \\ back".to_string(),
    ];
    let threads = [
        "",
        "0",
        "-1",
        "99999999999999999999999",
        "é/../x?y#z",
        "\u{0}",
    ];
    for p in PROVIDERS {
        for text in &texts {
            for thread in threads {
                let out = Outgoing::Text { text: text.clone() };
                if let Ok(r) = p.build_send(&cfg, thread, &out, &ctx) {
                    // Whatever was built is JSON carrying the text unchanged.
                    let body: Value = serde_json::from_slice(&r.body).unwrap();
                    assert!(holds_string(&body, text), "{:?}", p.kind());
                }
            }
        }
        for (status, body) in [
            (0u16, &b""[..]),
            (200, b"null"),
            (200, b"[]"),
            (200, b"{\"messages\":[{\"id\":5}]}"),
            (200, b"{\"result\":{\"chat\":{\"id\":\"x\"}}}"),
            (200, b"{\"status\":\"0\"}"),
            (400, b"{\"error\":\"text\"}"),
            (400, b"{\"error\":{\"code\":\"x\",\"message\":5}}"),
            (999, b"\xff"),
            (65535, &[0u8; 3000][..]),
        ] {
            let _ = p.read_send_response(status, body);
        }
    }
}

fn holds_string(v: &Value, s: &str) -> bool {
    match v {
        Value::String(x) => x == s,
        Value::Array(items) => items.iter().any(|i| holds_string(i, s)),
        Value::Object(map) => map.values().any(|i| holds_string(i, s)),
        _ => false,
    }
}

#[test]
fn files_go_out_in_each_providers_own_shape_within_its_limits() {
    use concierge_types::conversation::MediaKind;
    let cfg: ChannelConfig = serde_json::from_value(json!({
        "access_token": "t", "phone_number_id": "1", "page_access_token": "p",
        "bot_token": "1:a", "auth_token": "a", "sender_name": "S", "business_id": "b",
        "api_base": "https://api.example", "secret": "s"
    }))
    .unwrap();
    let ctx = SendContext {
        now: 10_000,
        last_incoming_at: Some(5_000),
    };
    let url = "https://cx.example/media/0123456789abcdef0123456789abcdef/nota.pdf";
    let file = |media, mime: &str, size| Outgoing::Media {
        media,
        url: url.into(),
        filename: "nota.pdf".into(),
        mime_type: mime.into(),
        size,
        caption: None,
    };
    let with_caption = |out: &Outgoing, text: &str| match out.clone() {
        Outgoing::Media {
            media,
            url,
            filename,
            mime_type,
            size,
            ..
        } => Outgoing::Media {
            media,
            url,
            filename,
            mime_type,
            size,
            caption: Some(text.into()),
        },
        other => other,
    };
    let body = |kind: ChannelKind, out: &Outgoing| -> Result<Value, String> {
        let r = crate::provider(kind)
            .unwrap()
            .build_send(&cfg, "5511999990000", out, &ctx)?;
        Ok(serde_json::from_slice(&r.body).unwrap())
    };
    let pdf = file(MediaKind::Document, "application/pdf", 200_000);
    let png = file(MediaKind::Image, "image/png", 200_000);
    let mb = 1u64 << 20;

    let wa = body(ChannelKind::Whatsapp, &pdf).unwrap();
    assert_eq!(wa["type"], "document");
    assert_eq!(
        wa["document"],
        json!({ "link": url, "filename": "nota.pdf" })
    );
    assert_eq!(
        body(ChannelKind::Whatsapp, &png).unwrap()["image"]["link"],
        url
    );
    let big_png = file(MediaKind::Image, "image/png", 6 * mb);
    assert!(body(ChannelKind::Whatsapp, &big_png)
        .unwrap_err()
        .contains("5 MB"));
    // WhatsApp takes neither GIF nor CSV, and says so before anything is sent.
    let gif = file(MediaKind::Image, "image/gif", 1000);
    assert!(body(ChannelKind::Whatsapp, &gif)
        .unwrap_err()
        .contains("image/gif"));
    let csv = file(MediaKind::Document, "text/csv", 1000);
    assert!(body(ChannelKind::Whatsapp, &csv).is_err());
    // A caption goes with a document or picture, within 1,024 characters; not with audio.
    let captioned = body(ChannelKind::Whatsapp, &with_caption(&pdf, "Segue a nota")).unwrap();
    assert_eq!(captioned["document"]["caption"], "Segue a nota");
    let long = "x".repeat(1025);
    assert!(body(ChannelKind::Whatsapp, &with_caption(&pdf, &long)).is_err());
    let mp3 = file(MediaKind::Audio, "audio/mpeg", 1000);
    assert!(body(ChannelKind::Whatsapp, &with_caption(&mp3, "oi")).is_err());
    let whatsapp = crate::provider(ChannelKind::Whatsapp).unwrap();
    assert_eq!(
        whatsapp.max_caption_chars(MediaKind::Audio, "audio/mpeg"),
        0
    );
    assert_eq!(
        whatsapp.max_caption_chars(MediaKind::Document, "application/pdf"),
        1024
    );

    for kind in [ChannelKind::Messenger, ChannelKind::Instagram] {
        let m = body(kind, &pdf).unwrap();
        assert_eq!(m["message"]["attachment"]["type"], "file");
        assert_eq!(m["message"]["attachment"]["payload"]["url"], url);
    }
    // Messenger shows no text with a file; Instagram takes PDF files but no CSV.
    assert!(body(ChannelKind::Messenger, &with_caption(&pdf, "oi")).is_err());
    assert!(body(ChannelKind::Instagram, &csv)
        .unwrap_err()
        .contains("text/csv"));
    let r = crate::provider(ChannelKind::Telegram)
        .unwrap()
        .build_send(&cfg, "42", &png, &ctx)
        .unwrap();
    assert!(r.url.ends_with("/sendPhoto"), "{}", r.url);
    let t: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (t["chat_id"].clone(), t["photo"].clone()),
        (json!(42), json!(url))
    );
    // By link Telegram takes documents only as PDF or GIF.
    let docx = file(
        MediaKind::Document,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        1000,
    );
    let telegram = |out: &Outgoing| {
        crate::provider(ChannelKind::Telegram)
            .unwrap()
            .build_send(&cfg, "42", out, &ctx)
    };
    assert!(telegram(&docx).unwrap_err().contains("PDF"));
    let t = telegram(&with_caption(&pdf, "Sua nota")).unwrap();
    assert!(t.url.ends_with("/sendDocument"), "{}", t.url);
    let t: Value = serde_json::from_slice(&t.body).unwrap();
    assert_eq!(
        (t["document"].as_str(), t["caption"].as_str()),
        (Some(url), Some("Sua nota"))
    );
    let v = body(ChannelKind::Viber, &pdf).unwrap();
    assert_eq!(
        (
            v["type"].as_str(),
            v["file_name"].as_str(),
            v["size"].as_u64()
        ),
        (Some("file"), Some("nota.pdf"), Some(200_000))
    );
    assert_eq!(v["receiver"], "5511999990000");
    // Over Viber's picture limit a picture still goes, as a file.
    let v = body(
        ChannelKind::Viber,
        &file(MediaKind::Image, "image/png", 2 * mb),
    )
    .unwrap();
    assert_eq!(v["type"], "file");
    assert!(body(ChannelKind::Tiktok, &pdf)
        .unwrap_err()
        .contains("TikTok"));
    let a = body(ChannelKind::Api, &pdf).unwrap();
    assert_eq!(a["file"]["url"], url);
    // Without a public address there is nothing for the provider to fetch.
    let relative = Outgoing::Media {
        media: MediaKind::Document,
        url: "/media/x/nota.pdf".into(),
        filename: "nota.pdf".into(),
        mime_type: "application/pdf".into(),
        size: 10,
        caption: None,
    };
    assert!(body(ChannelKind::Whatsapp, &relative)
        .unwrap_err()
        .contains("public_url"));
}
