//! Channels end to end: provider webhooks in (signed, deduplicated, logged raw), conversations,
//! replies through the outbox to a local stand-in for the provider's API.

use crate::helpers::{contains, workspace, Server};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(workspace().join("fixtures").join(path)).unwrap()
}

pub(crate) fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A request the stand-in provider received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A local HTTP server standing in for a provider API: answers each request with the next
/// scripted `(status, body)` (the last one repeats) and records what it got.
pub struct FakeProvider {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeProvider {
    pub fn start(script: Vec<(u16, &'static str)>) -> FakeProvider {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let path = parts.next().unwrap_or("").to_string();
                let mut headers = Vec::new();
                let mut length = 0;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    let h = h.trim_end().to_string();
                    if h.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                log.lock().unwrap().push(Seen {
                    method,
                    path,
                    headers,
                    body,
                });
                let (status, answer) = script[n.min(script.len() - 1)];
                n += 1;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        FakeProvider { url, seen }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Polls `f` until it returns `Some`, for up to 15 seconds.
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn connect(s: &Server, kind: &str, config: Value) -> (String, String) {
    let r = s.admin(
        "POST",
        "/api/v1/channels",
        Some(&json!({"kind": kind, "name": format!("{kind} test"), "config": config})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    let id = v["id"].as_str().unwrap().to_string();
    let url = v["webhook_url"].as_str().unwrap().to_string();
    assert!(url.ends_with(&format!("/webhooks/{id}")), "{url}");
    assert!(
        !r.text().contains("s3cret"),
        "secrets must be masked: {}",
        r.text()
    );
    (id, url)
}

pub(crate) fn post_signed(s: &Server, id: &str, header: &str, value: &str, body: &[u8]) -> u16 {
    s.request(
        "POST",
        &format!("/webhooks/{id}"),
        &[("Content-Type", "application/json"), (header, value)],
        body,
    )
    .status
}

pub(crate) fn meta_post(s: &Server, id: &str, body: &[u8]) -> u16 {
    let sig = format!("sha256={}", hmac_hex("s3cret-app", body));
    post_signed(s, id, "X-Hub-Signature-256", &sig, body)
}

pub(crate) fn conversations(s: &Server, query: &str) -> Vec<Value> {
    let r = s.admin("GET", &format!("/api/v1/conversations?{query}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["conversations"].as_array().unwrap().clone()
}

pub(crate) fn messages(s: &Server, conversation: i64) -> Vec<Value> {
    let r = s.admin(
        "GET",
        &format!("/api/v1/conversations/{conversation}/messages"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["messages"].as_array().unwrap().clone()
}

pub(crate) fn whatsapp_config(api_base: &str) -> Value {
    json!({
        "app_secret": "s3cret-app",
        "verify_token": "s3cret-verify",
        "access_token": "s3cret-access",
        "phone_number_id": "1122334455667",
        "api_base": api_base,
    })
}

/// The text fixture with the message time set to `ts` seconds (and the signature recomputed by
/// the caller): a fresh message opens WhatsApp's 24-hour window.
pub(crate) fn whatsapp_text_at(ts: i64, id: &str, text: &str) -> Vec<u8> {
    let raw = String::from_utf8(fixture("whatsapp/text_message.json")).unwrap();
    raw.replace("1697043223", &ts.to_string())
        .replace("wamid.xyzxyz", id)
        .replace("Body Text", text)
        .into_bytes()
}

#[test]
fn whatsapp_in_and_out() {
    let provider = FakeProvider::start(vec![
        (
            500,
            r#"{"error":{"message":"temporarily unavailable","code":2}}"#,
        ),
        (
            200,
            r#"{"messaging_product":"whatsapp","contacts":[{"input":"972987654321","wa_id":"972987654321"}],"messages":[{"id":"wamid.OUT1"}]}"#,
        ),
    ]);
    let s = Server::start();
    let (id, _) = connect(&s, "whatsapp", whatsapp_config(&provider.url));

    // The registration handshake.
    let ok = s.request(
        "GET",
        &format!("/webhooks/{id}?hub.mode=subscribe&hub.verify_token=s3cret-verify&hub.challenge=1158201444"),
        &[],
        b"",
    );
    assert_eq!((ok.status, ok.text().as_str()), (200, "1158201444"));
    // Query components are percent- and plus-decoded; stray `%` is kept as it came. A challenge
    // must be printable ASCII, so one that decodes to spaces or "é" is refused: proof that it
    // was decoded.
    for (raw, answer) in [
        ("a%20b+c", None),
        ("%C3%A9", None),
        ("100%", Some("100%")),
        ("%zz", Some("%zz")),
        ("12%2B3", Some("12+3")),
    ] {
        let r = s.request(
            "GET",
            &format!("/webhooks/{id}?hub.mode=subscribe&&hub.verify_token=s3cret%2Dverify&hub.challenge={raw}"),
            &[],
            b"",
        );
        match answer {
            Some(decoded) => assert_eq!((r.status, r.text().as_str()), (200, decoded), "{raw}"),
            None => assert_eq!(r.status, 403, "{raw}: {}", r.text()),
        }
    }
    let wrong = s.request(
        "GET",
        &format!("/webhooks/{id}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"),
        &[],
        b"",
    );
    assert_eq!(wrong.status, 403, "{}", wrong.text());

    // Wrong and missing signatures: 401, nothing stored, but logged as rejected.
    let body = fixture("whatsapp/text_message.json");
    assert_eq!(
        post_signed(&s, &id, "X-Hub-Signature-256", "sha256=00ff", &body),
        401
    );
    let bad = format!("sha256={}", hmac_hex("other-secret", &body));
    assert_eq!(
        post_signed(&s, &id, "X-Hub-Signature-256", &bad, &body),
        401
    );
    assert_eq!(
        post_signed(&s, &id, "Content-Type", "application/json", &body),
        401
    );
    let log = s
        .admin("GET", "/api/v1/inbound?state=rejected", None)
        .json();
    assert_eq!(log["entries"].as_array().unwrap().len(), 3, "{log}");
    assert!(conversations(&s, "").is_empty());

    // A malformed delivery: 4xx, logged as failed, server fine.
    let truncated = &body[..body.len() / 2];
    assert_eq!(meta_post(&s, &id, truncated), 400);
    let failed = s.admin("GET", "/api/v1/inbound?state=failed", None).json();
    let entry = failed["entries"][0]["id"].as_i64().unwrap();
    let full = s
        .admin("GET", &format!("/api/v1/inbound/{entry}"), None)
        .json();
    assert_eq!(full["body"].as_str().unwrap().len(), truncated.len());
    assert_eq!(s.request("GET", "/healthz", &[], b"").status, 200);

    // The real delivery, twice (a provider retry): one message.
    assert_eq!(meta_post(&s, &id, &body), 200);
    assert_eq!(meta_post(&s, &id, &body), 200);
    let conv = eventually("the conversation", || {
        conversations(&s, &format!("channel_id={id}"))
            .first()
            .cloned()
    });
    let conv_id = conv["id"].as_i64().unwrap();
    assert_eq!(conv["status"], "open");
    assert_eq!(conv["contact_name"], "Test Name");
    assert_eq!(conv["thread"], "972987654321");
    eventually("both deliveries processed", || {
        let log = s
            .admin("GET", "/api/v1/inbound?state=verified", None)
            .json();
        log["entries"].as_array().unwrap().is_empty().then_some(())
    });
    let msgs = messages(&s, conv_id);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(
        msgs[0]["content"],
        json!({"type": "text", "text": "Body Text"})
    );
    assert_eq!(msgs[0]["direction"], "incoming");
    assert_eq!(msgs[0]["provider_id"], "wamid.xyzxyz");

    // The person has a profile with the WhatsApp id and phone, and the message on the timeline.
    let customer = s.customer_by("whatsapp_id:972987654321");
    assert_eq!(customer.status, 200, "{}", customer.text());
    let c = customer.json();
    assert_eq!(c["id"], conv["customer_id"]);
    let kinds: Vec<&str> = c["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"whatsapp_id") && kinds.contains(&"phone"),
        "{kinds:?}"
    );
    let timeline = s.timeline(&c["id"]);
    assert!(
        timeline.to_string().contains("Message Received"),
        "{timeline}"
    );

    // That message is from 2023: the 24-hour window is closed, free text is refused.
    let late = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/messages"),
        Some(&json!({"text": "Olá!"})),
    );
    assert_eq!(late.status, 422, "{}", late.text());
    assert_eq!(late.json()["code"], "reply_window_closed");

    // A fresh message opens the window; the reply goes out through the outbox, survives a 500.
    let now = chrono::Utc::now().timestamp();
    let fresh = whatsapp_text_at(now, "wamid.fresh1", "Cadê meu pedido?");
    assert_eq!(meta_post(&s, &id, &fresh), 200);
    eventually("the fresh message", || {
        (messages(&s, conv_id).len() == 2).then_some(())
    });
    let note = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/messages"),
        Some(&json!({"text": "cliente VIP, cuidado", "private": true})),
    );
    assert_eq!(note.status, 201, "{}", note.text());
    let reply = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/messages"),
        Some(&json!({"text": "Olá! Seu pedido sai hoje.", "author": "Ana"})),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    let reply_id = reply.json()["id"].as_i64().unwrap();
    assert_eq!(reply.json()["status"], "queued");
    let sent = eventually("the reply to be sent", || {
        messages(&s, conv_id)
            .into_iter()
            .find(|m| m["id"] == reply_id && m["status"] == "sent")
    });
    assert_eq!(sent["provider_id"], "wamid.OUT1");
    std::thread::sleep(Duration::from_millis(700));
    let calls = provider.requests();
    assert_eq!(
        calls.len(),
        2,
        "one failure, one success, nothing after: {calls:?}"
    );
    for call in &calls {
        assert_eq!(call.method, "POST");
        assert_eq!(call.path, "/1122334455667/messages");
        assert_eq!(call.header("authorization"), Some("Bearer s3cret-access"));
        let b: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(b["messaging_product"], "whatsapp");
        assert_eq!(b["to"], "972987654321");
        assert_eq!(b["type"], "text");
        assert_eq!(b["text"]["body"], "Olá! Seu pedido sai hoje.");
    }
    let conv = s
        .admin("GET", &format!("/api/v1/conversations/{conv_id}"), None)
        .json();
    assert_eq!(conv["owner"], json!({"kind": "agent", "id": "Ana"}));

    // Delivery receipts move the status forward, never back.
    let receipt = |status: &str| {
        String::from_utf8(fixture("whatsapp/status_delivered.json"))
            .unwrap()
            .replace("wamid.xyzxyz", "wamid.OUT1")
            .replace("\"delivered\"", &format!("\"{status}\""))
            .into_bytes()
    };
    assert_eq!(meta_post(&s, &id, &receipt("read")), 200);
    assert_eq!(meta_post(&s, &id, &receipt("delivered")), 200);
    eventually("the read receipt", || {
        let log = s
            .admin("GET", "/api/v1/inbound?state=verified", None)
            .json();
        log["entries"].as_array().unwrap().is_empty().then_some(())
    });
    let m = messages(&s, conv_id)
        .into_iter()
        .find(|m| m["id"] == reply_id)
        .unwrap();
    assert_eq!(m["status"], "read", "{m}");

    // Replay of a stored delivery stores nothing twice.
    let stored = s
        .admin("GET", "/api/v1/inbound?state=stored&limit=500", None)
        .json();
    let first = stored["entries"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = s.admin("POST", &format!("/api/v1/inbound/{first}/replay"), None);
    assert_eq!(r.status, 202, "{}", r.text());
    eventually("the replay", || {
        let e = s
            .admin("GET", &format!("/api/v1/inbound/{first}"), None)
            .json();
        (e["state"] == "stored" && e["attempts"].as_i64() == Some(2)).then_some(())
    });
    assert_eq!(messages(&s, conv_id).len(), 4);

    // Resolve, then the customer writes again: a new conversation.
    let r = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/resolve"),
        None,
    );
    assert_eq!(r.json()["status"], "resolved");
    let again = whatsapp_text_at(now + 60, "wamid.fresh2", "Obrigado!");
    assert_eq!(meta_post(&s, &id, &again), 200);
    let convs = eventually("a second conversation", || {
        let c = conversations(&s, &format!("customer_id={}", c["id"]));
        (c.len() == 2).then_some(c)
    });
    assert_eq!(convs[0]["status"], "open");
    assert_eq!(convs[1]["status"], "resolved");

    // The export carries the conversations; the erasure takes them and the raw webhooks along.
    let export = s
        .admin(
            "GET",
            &format!("/api/v1/customers/{}/export", c["id"]),
            None,
        )
        .json();
    assert_eq!(export["conversations"].as_array().unwrap().len(), 2);
    assert!(export.to_string().contains("cliente VIP"));
    let r = s.admin("DELETE", &format!("/api/v1/customers/{}", c["id"]), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(conversations(&s, "").is_empty());
    let bytes = s.db_bytes();
    for needle in [
        "Cadê meu pedido",
        "Test Name",
        "Seu pedido sai hoje",
        "cliente VIP",
    ] {
        assert!(
            !contains(&bytes, needle.as_bytes()),
            "{needle:?} is still in the database file"
        );
    }
}

#[test]
fn telegram_and_viber_verify_and_dedup() {
    let s = Server::start();
    let (tg, _) = connect(
        &s,
        "telegram",
        json!({"bot_token": "123:s3cret-bot", "secret_token": "s3cret-hook"}),
    );
    let body = fixture("telegram/private_text.json");
    let post = |secret: &str| {
        s.request(
            "POST",
            &format!("/webhooks/{tg}"),
            &[
                ("Content-Type", "application/json"),
                ("X-Telegram-Bot-Api-Secret-Token", secret),
            ],
            &body,
        )
        .status
    };
    assert_eq!(post("wrong"), 401);
    assert_eq!(post("s3cret-hook"), 200);
    assert_eq!(post("s3cret-hook"), 200);

    let (vb, _) = connect(
        &s,
        "viber",
        json!({"auth_token": "s3cret-viber", "sender_name": "Loja"}),
    );
    let vbody = fixture("viber/text_message.json");
    let sig = hmac_hex("s3cret-viber", &vbody);
    assert_eq!(
        post_signed(&s, &vb, "X-Viber-Content-Signature", &sig, &vbody),
        200
    );
    assert_eq!(
        post_signed(&s, &vb, "X-Viber-Content-Signature", &sig, &vbody),
        200
    );
    assert_eq!(
        post_signed(
            &s,
            &vb,
            "X-Viber-Content-Signature",
            &"0".repeat(64),
            &vbody
        ),
        401
    );

    let tconv = eventually("the Telegram conversation", || {
        conversations(&s, &format!("channel_id={tg}"))
            .first()
            .cloned()
    });
    let vconv = eventually("the Viber conversation", || {
        conversations(&s, &format!("channel_id={vb}"))
            .first()
            .cloned()
    });
    eventually("all deliveries processed", || {
        let log = s
            .admin("GET", "/api/v1/inbound?state=verified", None)
            .json();
        log["entries"].as_array().unwrap().is_empty().then_some(())
    });
    let t = messages(&s, tconv["id"].as_i64().unwrap());
    let v = messages(&s, vconv["id"].as_i64().unwrap());
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(t[0]["content"]["text"], "text");
    assert_eq!(v[0]["content"]["text"], "HI!");
    // The 64-bit message token survives intact (it does not fit a float).
    assert_eq!(v[0]["provider_id"], "4912661846655238145");
    assert!(s.customer_by("telegram_id:427770117").json()["identifiers"]
        .to_string()
        .contains("telegram_id"));
}

#[test]
fn same_person_on_whatsapp_and_the_website_is_one_customer() {
    let s = Server::start();
    let (id, _) = connect(&s, "whatsapp", whatsapp_config("http://127.0.0.1:9"));
    // The website knows the customer by email and phone…
    let r = s.track(
        "/v1/identify",
        &json!({"userId": "u-77", "traits": {"email": "dana@example.com", "phone": "+972 98-765-4321"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // …and they write on WhatsApp from that phone.
    assert_eq!(
        meta_post(&s, &id, &fixture("whatsapp/text_message.json")),
        200
    );
    let conv = eventually("the conversation", || {
        conversations(&s, "").first().cloned()
    });
    let by_email = s.customer_by("email:dana@example.com").json();
    assert_eq!(by_email["id"], conv["customer_id"], "{by_email}");
    let timeline = s.timeline(&by_email["id"]).to_string();
    assert!(
        timeline.contains("Message Received") && timeline.contains("identify"),
        "{timeline}"
    );
}

/// Mails a listener received: `(envelope recipients, data)`.
type Mails = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// A local SMTP listener: accepts every mail and keeps it.
fn smtp_listener() -> (String, Mails) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut out) = stream else { continue };
            let mut input = BufReader::new(out.try_clone().unwrap());
            let _ = out.write_all(b"220 test ESMTP\r\n");
            let mut rcpt = Vec::new();
            loop {
                let mut line = String::new();
                if input.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let upper = line.to_ascii_uppercase();
                if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                    let _ = out.write_all(b"250-test\r\n250 8BITMIME\r\n");
                } else if upper.starts_with("RCPT TO:") {
                    rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                    let _ = out.write_all(b"250 ok\r\n");
                } else if upper.starts_with("DATA") {
                    let _ = out.write_all(b"354 go\r\n");
                    let mut data = String::new();
                    loop {
                        let mut l = String::new();
                        if input.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                            break;
                        }
                        data.push_str(&l);
                    }
                    keep.lock().unwrap().push((std::mem::take(&mut rcpt), data));
                    let _ = out.write_all(b"250 queued\r\n");
                } else if upper.starts_with("QUIT") {
                    let _ = out.write_all(b"221 bye\r\n");
                    break;
                } else {
                    let _ = out.write_all(b"250 ok\r\n");
                }
            }
        }
    });
    (addr, got)
}

#[test]
fn email_in_and_out_and_one_customer_across_channels() {
    let (smtp, mails) = smtp_listener();
    let s = Server::start();
    let (mail_channel, _) = connect(
        &s,
        "email",
        json!({"smtp_url": format!("smtp://{smtp}"), "imap_url": "imap://127.0.0.1:9", "address": "sac@loja.example"}),
    );
    let (wa_channel, _) = connect(&s, "whatsapp", whatsapp_config("http://127.0.0.1:9"));
    // The website knows one person by both the email and the WhatsApp phone.
    let r = s.track(
        "/v1/identify",
        &json!({"userId": "u-5", "traits": {"email": "text@example.com", "phone": "+972987654321"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let post_mail = |file: &str| {
        s.request(
            "POST",
            &format!("/api/v1/channels/{mail_channel}/email"),
            &[
                ("Authorization", &format!("Bearer {}", s.admin_key)),
                ("Content-Type", "message/rfc822"),
            ],
            &fixture(file),
        )
    };
    assert_eq!(post_mail("email/only_text.eml").status, 202);
    assert_eq!(post_mail("email/only_text.eml").status, 202);
    // An auto-reply is logged, not turned into a customer message.
    let auto = post_mail("email/non_utf_encoded_mail.eml");
    assert_eq!(auto.status, 202, "{}", auto.text());
    assert!(auto.text().contains("auto-reply"), "{}", auto.text());
    let garbage = s.request(
        "POST",
        &format!("/api/v1/channels/{mail_channel}/email"),
        &[("Authorization", &format!("Bearer {}", s.admin_key))],
        b"",
    );
    assert_eq!(garbage.status, 400);
    assert_eq!(
        meta_post(&s, &wa_channel, &fixture("whatsapp/text_message.json")),
        200
    );

    let conv = eventually("the email conversation", || {
        conversations(&s, &format!("channel_id={mail_channel}"))
            .first()
            .cloned()
    });
    assert_eq!(conv["subject"], "test text only mail");
    let conv_id = conv["id"].as_i64().unwrap();
    eventually("every delivery processed", || {
        let log = s
            .admin("GET", "/api/v1/inbound?state=verified", None)
            .json();
        log["entries"].as_array().unwrap().is_empty().then_some(())
    });
    let msgs = messages(&s, conv_id);
    assert_eq!(
        msgs.len(),
        1,
        "the same mail twice is one message: {msgs:?}"
    );
    assert!(msgs[0]["content"]["text"]
        .as_str()
        .unwrap()
        .contains("text only mail"));

    // One customer, both conversations, one timeline.
    let customer = s.customer_by("email:text@example.com").json();
    let all = conversations(&s, &format!("customer_id={}", customer["id"]));
    assert_eq!(all.len(), 2, "{all:?}");
    let timeline = s.timeline(&customer["id"]).to_string();
    assert!(
        timeline.contains("\"email\"") && timeline.contains("\"whatsapp\""),
        "{timeline}"
    );

    // The reply goes out over SMTP, threaded under the customer's mail.
    let r = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/messages"),
        Some(&json!({"text": "Olá! Respondemos por aqui."})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let (rcpt, data) = eventually("the mail to be sent", || {
        mails.lock().unwrap().first().cloned()
    });
    assert_eq!(rcpt, vec!["text@example.com".to_string()]);
    assert!(
        data.contains(
            "In-Reply-To: <6215e5ca3e3b2_10bc6197e4224d1@tejaswinis-MacBook-Pro.local.mail>"
        ),
        "{data}"
    );
    assert!(data.contains("Subject: Re: test text only mail"), "{data}");
    assert!(data.contains("From: sac@loja.example"), "{data}");
    let sent = eventually("the reply marked sent", || {
        messages(&s, conv_id)
            .into_iter()
            .find(|m| m["direction"] == "outgoing" && m["status"] == "sent")
    });
    assert!(sent["provider_id"].as_str().unwrap().contains('@'));

    // A file through the API (base64) goes inside the mail, as an attachment with its name.
    let csv = "pedido;valor\n1001;89,90\n";
    let r = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/messages"),
        Some(&json!({"file": {"name": "pedidos.csv", "data": crate::helpers::b64(csv)}})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let content = &r.json()["content"];
    assert_eq!(
        (
            &content["type"],
            &content["filename"],
            &content["mime_type"]
        ),
        (&json!("media"), &json!("pedidos.csv"), &json!("text/csv"))
    );
    let data = eventually("the mail with the file", || {
        mails.lock().unwrap().get(1).map(|(_, d)| d.clone())
    });
    assert!(data.contains("multipart/mixed"), "{data}");
    assert!(
        data.contains("pedidos.csv") && data.contains("text/csv"),
        "{data}"
    );
    let link = content["url"].as_str().unwrap().to_string();
    let path = &link[link.find("/media/").unwrap()..];
    let whole = s.request("GET", path, &[], b"");
    assert_eq!(whole.body, csv.as_bytes());
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    // Players seek with single byte ranges; a range outside the file is refused with its size.
    let etag = whole.header("etag").unwrap().to_string();
    let part = s.request("GET", path, &[("Range", "bytes=7-11")], b"");
    assert_eq!((part.status, part.body.as_slice()), (206, &b"valor"[..]));
    assert_eq!(part.header("content-range"), Some("bytes 7-11/24"));
    let tail = s.request(
        "GET",
        path,
        &[("Range", "bytes=-6"), ("If-Range", &etag)],
        b"",
    );
    assert_eq!((tail.status, tail.body.as_slice()), (206, &b"89,90\n"[..]));
    let stale = s.request(
        "GET",
        path,
        &[("Range", "bytes=-6"), ("If-Range", "\"old\"")],
        b"",
    );
    assert_eq!((stale.status, stale.body.len()), (200, csv.len()));
    let head = s.request("HEAD", path, &[("Range", "bytes=7-11")], b"");
    assert_eq!(
        (head.status, head.body.len()),
        (200, 0),
        "Range is for GET only"
    );
    let outside = s.request("GET", path, &[("Range", "bytes=24-")], b"");
    assert_eq!(
        (outside.status, outside.header("content-range")),
        (416, Some("bytes */24"))
    );
    // Refused: a program named as a PDF, a file that isn't base64, and both text and a file.
    for (body, code) in [
        (
            json!({"file": {"name": "nota.pdf", "data": crate::helpers::b64("MZ\u{90}binary")}}),
            "invalid_attachment",
        ),
        (
            json!({"file": {"name": "nota.pdf", "data": "%%%"}}),
            "invalid_attachment",
        ),
        (
            json!({"template": {"name": "x", "language": "pt_BR"}, "file": {"name": "a.txt", "data": crate::helpers::b64("a")}}),
            "invalid_message",
        ),
    ] {
        let r = s.admin(
            "POST",
            &format!("/api/v1/conversations/{conv_id}/messages"),
            Some(&body),
        );
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    assert_eq!(messages(&s, conv_id).len(), 3, "nothing refused was kept");
    // Text with a file is one mail: the text as its body, the file attached. Base64 wrapped at
    // 76 characters, as `base64` writes it, is fine.
    let wrapped: String = crate::helpers::b64(&"linha;1\n".repeat(20))
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
        .collect();
    let r = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/messages"),
        Some(&json!({"text": "Segue a planilha.", "file": {"name": "planilha.csv", "data": wrapped}})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["content"]["caption"], "Segue a planilha.");
    let data = eventually("the mail with text and file", || {
        mails.lock().unwrap().get(2).map(|(_, d)| d.clone())
    });
    assert!(
        data.contains("Segue a planilha.") && data.contains("planilha.csv"),
        "{data}"
    );
    // A file kept with a private note is for the team: not served at the public address.
    let r = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/messages"),
        Some(&json!({"private": true, "file": {"name": "interno.txt", "data": crate::helpers::b64("só para a equipe")}})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let note_url = r.json()["content"]["url"].as_str().unwrap().to_string();
    let note_path = &note_url[note_url.find("/media/").unwrap()..];
    assert_eq!(s.request("GET", note_path, &[], b"").status, 404);
    // Erasing the customer takes the file with them.
    let r = s.admin(
        "DELETE",
        &format!("/api/v1/customers/{}", customer["id"]),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.request("GET", path, &[], b"").status, 404);
    assert!(!crate::helpers::contains(&s.db_bytes(), b"1001;89,90"));
}

#[test]
fn store_purchases_returns_and_visits() {
    let s = Server::start();
    let r = s.track(
        "/v1/identify",
        &json!({"userId": "u-9", "traits": {"phone": "+55 11 98765-4321"}}),
    );
    assert_eq!(r.status, 200);
    let batch = json!({"events": [
        {"type": "purchase", "id": "R-1", "store_id": "SP-01", "occurred_at": "2026-11-20T15:00:00-03:00",
         "customer": {"loyalty_id": "L-9", "phone": "(11) 98765-4321"},
         "items": [{"sku": "TEN-01", "name": "Tênis", "quantity": 1, "unit_price": 349.9}], "currency": "BRL"},
        {"type": "purchase", "id": "R-2", "store_id": "SP-01", "occurred_at": "2026-11-20T15:00:00Z",
         "customer": {}},
    ]});
    let r = s.admin("POST", "/api/v1/store-events", Some(&batch));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["accepted"], 1);
    assert_eq!(v["rejected"][0]["index"], 1, "{v}");
    let again = s.admin("POST", "/api/v1/store-events", Some(&batch)).json();
    assert_eq!(again["duplicates"], 1, "{again}");
    let none = s.admin(
        "POST",
        "/api/v1/store-events",
        Some(&json!({"type": "purchase", "id": "x", "store_id": "s", "occurred_at": "nope", "customer": {"email": "a@b.co"}})),
    );
    assert_eq!(none.status, 400, "{}", none.text());

    let csv = s.dir.join("stores.csv");
    std::fs::write(
        &csv,
        "type,id,store_id,occurred_at,loyalty_id,phone,email,name,sku,product,quantity,unit_price,currency,notes\n\
         return,D-7,SP-01,2026-11-21 10:00:00,L-9,,,,TEN-01,Tênis,1,349.9,BRL,numeração errada\n\
         service_visit,V-3,RJ-02,2026-11-21 11:30:00,,,maria@example.com,Maria,,,,,,ajuste\n\
         purchase,R-9,RJ-02,2026-11-21 12:00:00,,,maria@example.com,Maria,CAM-2,Camiseta,2,59.9,BRL,\n\
         purchase,R-9,RJ-02,2026-11-21 12:00:00,,,maria@example.com,Maria,MOC-1,Mochila,1,189,BRL,\n\
         purchase,R-10,RJ-02,someday,,,maria@example.com,,CAM-2,Camiseta,1,59.9,BRL,\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::helpers::bin())
        .args(["import", "store"])
        .arg(&csv)
        .arg("--data-dir")
        .arg(&s.dir)
        .env("CONCIERGE_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("imported 3 store events"), "{stdout}");
    assert!(
        stderr.contains("line 6") && stderr.contains("R-10"),
        "{stderr}"
    );

    // The store customer is the web customer (same phone); the loyalty id joins the return.
    let web = s.customer_by("phone:+5511987654321").json();
    let by_loyalty = s.customer_by("loyalty_id:L-9").json();
    assert_eq!(web["id"], by_loyalty["id"]);
    let timeline = s.timeline(&web["id"]).to_string();
    assert!(
        timeline.contains("Order Completed") && timeline.contains("Order Refunded"),
        "{timeline}"
    );
    let maria = s.customer_by("email:maria@example.com").json();
    let t = s.timeline(&maria["id"]).to_string();
    assert!(t.contains("Store Visit") && t.contains("Mochila"), "{t}");
    assert!(
        t.contains("\"total\":308.8"),
        "the receipt total is the sum of its rows: {t}"
    );
}

fn concierge_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut payload = format!("{t}.").into_bytes();
    payload.extend_from_slice(body);
    format!("t={t},v1={}", hmac_hex(secret, &payload))
}

#[test]
fn generic_api_channel_signed_both_ways() {
    // A 500 first, then the same id for every reply (an integrator that reuses ids).
    let integrator = FakeProvider::start(vec![(500, "{}"), (200, r#"{"id":"ext-1"}"#)]);
    let s = Server::start();
    let (id, _) = connect(
        &s,
        "api",
        json!({"secret": "s3cret-api", "api_base": format!("{}/concierge/replies", integrator.url)}),
    );
    let body = br#"{"id":"msg-1","contact":{"id":"cli-77","name":"Rui","email":"rui@example.com"},"text":"Quero trocar o tamanho"}"#;
    let now = chrono::Utc::now().timestamp();
    let post = |sig: &str| post_signed(&s, &id, "X-Concierge-Signature", sig, body);
    assert_eq!(post(&concierge_signature("wrong", now, body)), 401);
    assert_eq!(
        post(&concierge_signature("s3cret-api", now - 3600, body)),
        401,
        "replayed an hour later"
    );
    assert_eq!(post(&concierge_signature("s3cret-api", now, body)), 200);
    assert_eq!(post(&concierge_signature("s3cret-api", now, body)), 200);
    let conv = eventually("the API conversation", || {
        conversations(&s, &format!("channel_id={id}"))
            .first()
            .cloned()
    });
    assert_eq!(conv["thread"], "cli-77");
    let conv_id = conv["id"].as_i64().unwrap();
    for text in ["Claro! Qual tamanho?", "Temos 40 e 41."] {
        let r = s.admin(
            "POST",
            &format!("/api/v1/conversations/{conv_id}/messages"),
            Some(&json!({"text": text})),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    // In order, though the first failed once; each reply sent, the reused id costing nothing.
    let calls = eventually("both replies at the integrator", || {
        let c = integrator.requests();
        (c.len() == 3).then_some(c)
    });
    let texts: Vec<String> = calls
        .iter()
        .map(|c| {
            serde_json::from_slice::<Value>(&c.body).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        texts,
        [
            "Claro! Qual tamanho?",
            "Claro! Qual tamanho?",
            "Temos 40 e 41."
        ]
    );
    eventually("both replies marked sent", || {
        let sent = messages(&s, conv_id)
            .into_iter()
            .filter(|m| m["direction"] == "outgoing" && m["status"] == "sent")
            .count();
        (sent == 2).then_some(())
    });
    let call = calls[1].clone();
    assert_eq!(call.path, "/concierge/replies");
    let sig = call.header("x-concierge-signature").unwrap();
    let t: i64 = sig
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("t=")
        .parse()
        .unwrap();
    assert_eq!(
        sig,
        concierge_signature("s3cret-api", t, &call.body),
        "a receiver can verify it"
    );
    let sent: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(
        sent,
        json!({"type": "message", "thread": "cli-77", "text": "Claro! Qual tamanho?"})
    );
    let msgs = messages(&s, conv_id);
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[1]["provider_id"], "ext-1");
    assert!(msgs[2]["provider_id"].is_null(), "{msgs:?}");
}

#[test]
fn integration_webhooks_are_signed_ordered_and_retried() {
    let receiver = FakeProvider::start(vec![(500, "{}"), (200, "{}")]);
    let s = Server::start();
    let r = s.admin(
        "POST",
        "/api/v1/webhooks",
        Some(&json!({"url": format!("{}/hooks", receiver.url), "events": ["message.created", "conversation.status_changed", "customer.merged"]})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32);
    assert!(!s
        .admin("GET", "/api/v1/webhooks", None)
        .text()
        .contains(&secret));
    let bad = s.admin(
        "POST",
        "/api/v1/webhooks",
        Some(&json!({"url": "ftp://x", "events": []})),
    );
    assert_eq!(bad.status, 400);

    let (id, _) = connect(&s, "whatsapp", whatsapp_config("http://127.0.0.1:9"));
    assert_eq!(
        meta_post(&s, &id, &fixture("whatsapp/text_message.json")),
        200
    );
    let conv = eventually("the conversation", || {
        conversations(&s, "").first().cloned()
    });
    let r = s.admin(
        "POST",
        &format!("/api/v1/conversations/{}/resolve", conv["id"]),
        None,
    );
    assert_eq!(r.status, 200);
    for body in [
        json!({"type": "page", "anonymousId": "dev-a", "name": "Home"}),
        json!({"type": "identify", "anonymousId": "dev-b", "userId": "u-merge"}),
        json!({"type": "identify", "anonymousId": "dev-a", "userId": "u-merge"}),
    ] {
        assert_eq!(s.track("/v1/batch", &json!({"batch": [body]})).status, 200);
    }
    let calls = eventually("every event delivered", || {
        let c = receiver.requests();
        let types: Vec<String> = c
            .iter()
            .skip(1)
            .filter_map(|r| r.header("x-concierge-event").map(String::from))
            .collect();
        (types.iter().any(|t| t == "customer.merged")).then_some(c)
    });
    // The first delivery failed (500) and came again, the same event.
    assert_eq!(
        calls[0].header("x-concierge-delivery"),
        calls[1].header("x-concierge-delivery")
    );
    let mut last = 0;
    for call in calls.iter().skip(1) {
        let sig = call.header("x-concierge-signature").unwrap();
        let t: i64 = sig
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("t=")
            .parse()
            .unwrap();
        assert_eq!(sig, concierge_signature(&secret, t, &call.body));
        let v: Value = serde_json::from_slice(&call.body).unwrap();
        let id = v["id"].as_i64().unwrap();
        assert!(id > last, "in order");
        last = id;
        assert_eq!(v["type"].as_str(), call.header("x-concierge-event"));
    }
    let kinds: Vec<Value> = calls
        .iter()
        .skip(1)
        .map(|c| serde_json::from_slice::<Value>(&c.body).unwrap())
        .collect();
    assert_eq!(kinds[0]["type"], "message.created");
    assert_eq!(kinds[0]["data"]["content"]["text"], "Body Text");
    assert_eq!(kinds[1]["type"], "conversation.status_changed");
    assert_eq!(kinds[1]["data"]["status"], "resolved");
    assert!(kinds.iter().any(|k| k["type"] == "customer.merged"));
}

/// One provider's setup for [`every_provider_end_to_end`].
struct Case {
    kind: &'static str,
    config: Value,
    body: Vec<u8>,
    /// The signature headers for a body.
    sign: fn(&[u8]) -> Vec<(&'static str, String)>,
    /// What the stand-in provider answers to a send, and what it must have received.
    answer: &'static str,
    path: &'static str,
    auth: (&'static str, &'static str),
}

fn meta_sign(body: &[u8]) -> Vec<(&'static str, String)> {
    vec![(
        "X-Hub-Signature-256",
        format!("sha256={}", hmac_hex("s3cret-app", body)),
    )]
}

#[test]
fn every_provider_end_to_end() {
    let now = chrono::Utc::now();
    let tiktok_content = json!({
        "type": "text", "message_id": "tt-m1", "timestamp": now.timestamp_millis(),
        "conversation_id": "tt-c1", "text": {"body": "oi do TikTok"}, "from": "Ana",
        "from_user": {"id": "tt-u1"}, "to": "Loja", "to_user": {"id": "biz-1"}
    });
    let cases = [
        Case {
            kind: "whatsapp",
            config: json!({"app_secret": "s3cret-app", "verify_token": "v", "access_token": "s3cret-wa", "phone_number_id": "1122334455667"}),
            body: whatsapp_text_at(now.timestamp(), "wamid.every1", "oi"),
            sign: meta_sign,
            answer: r#"{"messages":[{"id":"wamid.sent1"}]}"#,
            path: "/1122334455667/messages",
            auth: ("authorization", "Bearer s3cret-wa"),
        },
        Case {
            kind: "messenger",
            config: json!({"app_secret": "s3cret-app", "verify_token": "v", "page_access_token": "s3cret-page"}),
            body: String::from_utf8(fixture("messenger/text_message.json"))
                .unwrap()
                .replace("1491796363181", &now.timestamp_millis().to_string())
                .into_bytes(),
            sign: meta_sign,
            answer: r#"{"recipient_id":"x","message_id":"m_sent1"}"#,
            path: "/me/messages",
            auth: ("authorization", "Bearer s3cret-page"),
        },
        Case {
            kind: "instagram",
            config: json!({"app_secret": "s3cret-app", "verify_token": "v", "page_access_token": "s3cret-page"}),
            body: String::from_utf8(fixture("instagram/text_message.json"))
                .unwrap()
                .replace("1631082844000", &now.timestamp_millis().to_string())
                .into_bytes(),
            sign: meta_sign,
            answer: r#"{"recipient_id":"x","message_id":"ig_sent1"}"#,
            path: "/me/messages",
            auth: ("authorization", "Bearer s3cret-page"),
        },
        Case {
            kind: "telegram",
            config: json!({"bot_token": "123456:s3cret-bot", "secret_token": "s3cret-hook"}),
            body: fixture("telegram/private_photo.json"),
            sign: |_| vec![("X-Telegram-Bot-Api-Secret-Token", "s3cret-hook".into())],
            answer: r#"{"ok":true,"result":{"message_id":777,"chat":{"id":427770117}}}"#,
            path: "/bot123456:s3cret-bot/sendMessage",
            auth: ("content-type", "application/json"),
        },
        Case {
            kind: "viber",
            config: json!({"auth_token": "s3cret-viber", "sender_name": "Loja"}),
            body: fixture("viber/picture_message.json"),
            sign: |b| vec![("X-Viber-Content-Signature", hmac_hex("s3cret-viber", b))],
            answer: r#"{"status":0,"status_message":"ok","message_token":5741311803571721087}"#,
            path: "/pa/send_message",
            auth: ("x-viber-auth-token", "s3cret-viber"),
        },
        Case {
            kind: "tiktok",
            config: json!({"access_token": "s3cret-tt", "app_secret": "s3cret-app", "business_id": "biz-1"}),
            body:
                json!({"client_key": "k", "event": "im_receive_msg", "create_time": now.timestamp(),
                         "user_openid": "biz-1", "content": tiktok_content.to_string()})
                .to_string()
                .into_bytes(),
            sign: |b| {
                let t = chrono::Utc::now().timestamp();
                let mut signed = format!("{t}.").into_bytes();
                signed.extend_from_slice(b);
                vec![(
                    "TikTok-Signature",
                    format!("t={t},s={}", hmac_hex("s3cret-app", &signed)),
                )]
            },
            answer: r#"{"code":0,"message":"OK","data":{"message":{"message_id":"tt-sent1"}}}"#,
            path: "/business/message/send/",
            auth: ("access-token", "s3cret-tt"),
        },
    ];
    let s = Server::start();
    for case in cases {
        let provider = FakeProvider::start(vec![(200, case.answer)]);
        let mut config = case.config.clone();
        config["api_base"] = json!(provider.url);
        let (id, _) = connect(&s, case.kind, config);
        let post = |headers: &[(&str, String)], body: &[u8]| {
            let mut h: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
            h.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
            s.request("POST", &format!("/webhooks/{id}"), &h, body)
                .status
        };
        let signed = (case.sign)(&case.body);
        // Unsigned, or signed for other bytes: refused, nothing stored.
        assert_eq!(post(&[], &case.body), 401, "{}", case.kind);
        // Telegram signs nothing: its secret header is all there is to check.
        let signs_body = case.kind != "telegram";
        if signs_body {
            let mut tampered = case.body.clone();
            tampered.extend_from_slice(b" ");
            assert_eq!(post(&signed, &tampered), 401, "{} tampered", case.kind);
        }
        // Malformed (correctly signed): 4xx, logged, the server fine.
        let garbage = b"{\"entry\": [".to_vec();
        assert_eq!(
            post(&(case.sign)(&garbage), &garbage),
            400,
            "{} garbage",
            case.kind
        );
        assert_eq!(s.request("GET", "/healthz", &[], b"").status, 200);
        // The delivery twice: one message.
        assert_eq!(post(&signed, &case.body), 200, "{}", case.kind);
        assert_eq!(
            post(&(case.sign)(&case.body), &case.body),
            200,
            "{} again",
            case.kind
        );
        let conv = eventually(&format!("the {} conversation", case.kind), || {
            conversations(&s, &format!("channel_id={id}"))
                .first()
                .cloned()
        });
        eventually("processed", || {
            let log = s
                .admin(
                    "GET",
                    &format!("/api/v1/inbound?channel_id={id}&state=verified"),
                    None,
                )
                .json();
            log["entries"].as_array().unwrap().is_empty().then_some(())
        });
        let log = s
            .admin("GET", &format!("/api/v1/inbound?channel_id={id}"), None)
            .json();
        let states: Vec<&str> = log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["state"].as_str().unwrap())
            .collect();
        let mut expected = vec!["stored", "stored", "failed", "rejected"];
        if signs_body {
            expected.push("rejected");
        }
        assert_eq!(states, expected, "{}", case.kind);
        let conv_id = conv["id"].as_i64().unwrap();
        assert_eq!(messages(&s, conv_id).len(), 1, "{}", case.kind);
        // A reply reaches the provider's API, right URL and credentials, once.
        let r = s.admin(
            "POST",
            &format!("/api/v1/conversations/{conv_id}/messages"),
            Some(&json!({"text": "Obrigado pelo contato!"})),
        );
        assert_eq!(r.status, 201, "{}: {}", case.kind, r.text());
        let reply_id = r.json()["id"].as_i64().unwrap();
        eventually(&format!("the {} reply sent", case.kind), || {
            messages(&s, conv_id)
                .into_iter()
                .find(|m| m["id"] == reply_id && m["status"] == "sent")
        });
        let calls = provider.requests();
        assert_eq!(calls.len(), 1, "{}: {calls:?}", case.kind);
        assert_eq!(calls[0].path, case.path, "{}", case.kind);
        assert_eq!(
            calls[0].header(case.auth.0),
            Some(case.auth.1),
            "{}",
            case.kind
        );
        assert!(
            String::from_utf8_lossy(&calls[0].body).contains("Obrigado pelo contato!"),
            "{}",
            case.kind
        );
    }
}

/// A scripted IMAP server holding `mails` (UIDs 1..): enough of LOGIN, SELECT, UID SEARCH and
/// UID FETCH for the poller, one connection after another.
fn imap_server(mails: Vec<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut w) = stream else { continue };
            let mut r = BufReader::new(w.try_clone().unwrap());
            let _ = w.write_all(b"* OK [CAPABILITY IMAP4rev1] ready\r\n");
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
                let upper = rest.to_ascii_uppercase();
                let mut out = Vec::new();
                if upper.starts_with("LOGIN") {
                    let ok = rest == "LOGIN \"sac\" \"s3cret-imap\"";
                    out.extend(
                        format!("{tag} {}\r\n", if ok { "OK" } else { "NO denied" }).bytes(),
                    );
                } else if upper.starts_with("SELECT") {
                    out.extend(format!("* {} EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-WRITE] done\r\n", mails.len()).bytes());
                } else if let Some(range) = upper.strip_prefix("UID SEARCH UID ") {
                    let from: u32 = range.trim_end_matches(":*").parse().unwrap_or(1);
                    let uids: Vec<String> = (1..=mails.len() as u32)
                        .filter(|u| *u >= from)
                        .map(|u| u.to_string())
                        .collect();
                    out.extend(format!("* SEARCH {}\r\n{tag} OK done\r\n", uids.join(" ")).bytes());
                } else if let Some(args) = rest.strip_prefix("UID FETCH ") {
                    let (set, items) = args.split_once(' ').unwrap_or((args, ""));
                    let wanted: Vec<u32> = set
                        .split(',')
                        .flat_map(|p| match p.split_once(':') {
                            Some((a, b)) => {
                                let b = if b == "*" {
                                    mails.len() as u32
                                } else {
                                    b.parse().unwrap()
                                };
                                (a.parse().unwrap()..=b).collect::<Vec<u32>>()
                            }
                            None => vec![p.parse().unwrap()],
                        })
                        .collect();
                    for uid in wanted
                        .into_iter()
                        .filter(|u| *u >= 1 && *u as usize <= mails.len())
                    {
                        let body = &mails[uid as usize - 1];
                        if items.to_ascii_uppercase().contains("RFC822.SIZE") {
                            out.extend(
                                format!("* {uid} FETCH (UID {uid} RFC822.SIZE {})\r\n", body.len())
                                    .bytes(),
                            );
                        } else {
                            out.extend(
                                format!("* {uid} FETCH (UID {uid} BODY[] {{{}}}\r\n", body.len())
                                    .bytes(),
                            );
                            out.extend_from_slice(body);
                            out.extend_from_slice(b")\r\n");
                        }
                    }
                    out.extend(format!("{tag} OK done\r\n").bytes());
                } else if upper.starts_with("LOGOUT") {
                    let _ = w.write_all(format!("* BYE\r\n{tag} OK bye\r\n").as_bytes());
                    break;
                } else {
                    out.extend(format!("{tag} OK\r\n").bytes());
                }
                if w.write_all(&out).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

#[test]
fn imap_poller_brings_mail_in_once() {
    let imap = imap_server(vec![
        fixture("email/only_text.eml"),
        fixture("email/bounced_gmail.eml"),
        fixture("email/mail_with_quote.eml"),
    ]);
    let s = Server::start();
    let (id, _) = connect(
        &s,
        "email",
        json!({"smtp_url": "smtp://127.0.0.1:9", "imap_url": format!("imap://sac:s3cret-imap@{imap}"), "address": "sac@loja.example"}),
    );
    let poll = || s.admin("POST", &format!("/api/v1/channels/{id}/poll"), None);
    let first = poll();
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["logged"], 3, "{}", first.text());
    assert_eq!(poll().json()["logged"], 0, "the cursor moved past them");
    eventually("two customer conversations", || {
        let c = conversations(&s, &format!("channel_id={id}"));
        (c.len() == 2).then_some(())
    });
    eventually("all processed", || {
        let log = s
            .admin("GET", "/api/v1/inbound?state=verified", None)
            .json();
        log["entries"].as_array().unwrap().is_empty().then_some(())
    });
    let log = s
        .admin("GET", &format!("/api/v1/inbound?channel_id={id}"), None)
        .json();
    assert!(
        log.to_string().contains("bounce"),
        "the bounce is noted, not a conversation: {log}"
    );
    let quoted = s.customer_by("email:sony@chatwoot.com").json();
    let conv = conversations(&s, &format!("customer_id={}", quoted["id"]));
    let msgs = messages(&s, conv[0]["id"].as_i64().unwrap());
    let text = msgs[0]["content"]["text"].as_str().unwrap();
    assert!(!text.contains("wrote:"), "quoted history is cut: {text}");
}

#[test]
fn channels_add_and_list_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(crate::helpers::bin())
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("CONCIERGE_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = run(&[
        "channels",
        "add",
        "telegram",
        "--name",
        "Bot da loja",
        "--config",
        r#"{"bot_token": "123456:s3cret-bot", "secret_token": "s3cret-hook"}"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = stdout.lines().last().unwrap().trim();
    assert!(id.starts_with("ch_"), "{stdout}");
    assert!(stdout.contains(&format!("/webhooks/{id}")), "{stdout}");
    let bad = run(&[
        "channels",
        "add",
        "whatsapp",
        "--name",
        "x",
        "--config",
        r#"{"app_secret": "a"}"#,
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("verify_token"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let list = run(&["channels", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains(id) && listed.contains("Bot da loja"),
        "{listed}"
    );
    assert!(
        !listed.contains("s3cret"),
        "secrets stay out of listings: {listed}"
    );
}
