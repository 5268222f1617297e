//! The web chat: the visitor API directly, then the real widget in headless Chromium.

use crate::channels::eventually;
use crate::helpers::Server;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

fn user_hash(secret: &str, user: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(user.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn chat_channel(s: &Server) -> String {
    let r = s.admin(
        "POST",
        "/api/v1/channels",
        Some(&json!({"kind": "webchat", "name": "Site", "config": {"secret": "s3cret-chat"}})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

fn post_chat(s: &Server, channel: &str, body: &Value) -> u16 {
    s.request(
        "POST",
        &format!("/chat/{channel}/messages"),
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .status
}

fn history(s: &Server, channel: &str, query: &str) -> Vec<Value> {
    let r = s.request(
        "GET",
        &format!("/chat/{channel}/messages?{query}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["messages"].as_array().unwrap().clone()
}

/// Reads a server-sent event stream until `needle` shows up (or 10 s pass).
fn stream_until(addr: &str, path: &str, needle: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(n) = s.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&got).contains(needle) {
                break;
            }
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn visitor_api_history_stream_and_identity() {
    let s = Server::start();
    let ch = chat_channel(&s);
    let js = s.request("GET", "/widget.js", &[], b"");
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").unwrap().contains("javascript"));
    let pre = s.request("OPTIONS", &format!("/chat/{ch}/messages"), &[], b"");
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));

    let visitor = "0123456789abcdef0123456789abcdef";
    let msg = json!({"visitor": visitor, "client_id": "c1", "text": "Oi, tudo bem?", "name": "Bia",
                     "email": "someone-else@example.com"});
    assert_eq!(post_chat(&s, &ch, &msg), 202);
    assert_eq!(post_chat(&s, &ch, &msg), 202, "a retried send is accepted");
    assert_eq!(
        post_chat(
            &s,
            &ch,
            &json!({"visitor": "short", "client_id": "c", "text": "x"})
        ),
        400
    );
    assert_eq!(
        post_chat(
            &s,
            &ch,
            &json!({"visitor": visitor, "client_id": "c2", "text": "  "})
        ),
        400
    );
    assert_eq!(
        post_chat(
            &s,
            &ch,
            &json!({"visitor": visitor, "client_id": "c3", "text": "x", "user_id": "u-1", "user_hash": "00"})
        ),
        401
    );
    let q = format!("visitor={visitor}");
    let msgs = eventually("the visitor's message", || {
        let h = history(&s, &ch, &q);
        (!h.is_empty()).then_some(h)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        history(&s, &ch, &q).len(),
        1,
        "the retry is not a second message"
    );
    assert_eq!(msgs[0]["client_id"], "c1");
    assert_eq!(msgs[0]["direction"], "incoming");
    // A typed-in email is not an identity: nobody was merged on it.
    assert_eq!(s.customer_by("email:someone-else@example.com").status, 404);

    let conv = s
        .admin(
            "GET",
            &format!("/api/v1/conversations?channel_id={ch}"),
            None,
        )
        .json()["conversations"][0]
        .clone();
    let conv_id = conv["id"].as_i64().unwrap();
    assert_eq!(conv["contact_name"], "Bia");
    let note = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/messages"),
        Some(&json!({"text": "nota interna: cliente difícil", "private": true})),
    );
    assert_eq!(note.status, 201);
    let reply = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/messages"),
        Some(&json!({"text": "Olá Bia! Como posso ajudar?", "author": "Carla"})),
    );
    assert_eq!(reply.status, 201);
    let streamed = stream_until(
        &s.addr,
        &format!("/chat/{ch}/events?visitor={visitor}&after=0"),
        "Como posso ajudar",
    );
    assert!(streamed.contains("event: message"), "{streamed}");
    assert!(streamed.contains("Como posso ajudar"), "{streamed}");
    assert!(
        !streamed.contains("nota interna"),
        "notes never reach the visitor"
    );
    let h = history(&s, &ch, &q);
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(!Value::Array(h).to_string().contains("nota interna"));
    let sent = eventually("the reply marked sent", || {
        let m = s
            .admin(
                "GET",
                &format!("/api/v1/conversations/{conv_id}/messages"),
                None,
            )
            .json();
        m["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["author_name"] == "Carla" && m["status"] == "sent")
            .cloned()
    });
    assert_eq!(sent["direction"], "outgoing");

    // A logged-in visitor, verified by the brand's HMAC: the chat follows the user id.
    let hash = user_hash("s3cret-chat", "u-42");
    let other_device = "fedcba9876543210fedcba9876543210";
    for (v, cid) in [(visitor, "d1"), (other_device, "d2")] {
        let m = json!({"visitor": v, "client_id": cid, "text": format!("from {cid}"),
                       "user_id": "u-42", "user_hash": hash});
        assert_eq!(post_chat(&s, &ch, &m), 202);
    }
    let both = eventually("the logged-in thread", || {
        let h = history(
            &s,
            &ch,
            &format!("visitor={other_device}&user_id=u-42&user_hash={hash}"),
        );
        (h.len() == 2).then_some(h)
    });
    assert_eq!(both[0]["text"], "from d1");
    let c = s.customer_by("user_id:u-42");
    assert_eq!(c.status, 200, "{}", c.text());
    // Without the hash, the user's thread stays closed.
    let r = s.request(
        "GET",
        &format!("/chat/{ch}/messages?visitor={other_device}&user_id=u-42"),
        &[],
        b"",
    );
    assert_eq!(r.status, 401);
}

/// Serves one HTML page embedding the widget from the Concierge under test.
fn brand_page(concierge: &str, channel: &str, rtl: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let dir = if rtl { "rtl" } else { "ltr" };
    let page = format!(
        "<!doctype html><html lang=\"pt-BR\" dir=\"{dir}\"><head><meta charset=\"utf-8\"><title>Loja</title></head>\
         <body><h1>Loja Exemplo</h1><script src=\"http://{concierge}/widget.js\" data-channel=\"{channel}\" data-locale=\"pt-BR\" async></script></body></html>"
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok() {
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    url
}

#[test]
fn widget_in_chromium_sends_and_sees_the_agent_reply_live() {
    let chromium = crate::helpers::chromium();
    let clients = crate::tracking::node_modules();
    let s = Server::start();
    let ch = chat_channel(&s);
    let page = brand_page(&s.addr, &ch, false);
    let reply = "Olá! Seu pedido 123 sai hoje.";
    let html_reply = "<img src=x onerror=alert(1)> veja";
    let mut command = Command::new("node");
    command
        .arg(clients.join("webchat.mjs"))
        .arg(&page)
        .env("CHROMIUM", &chromium)
        .env("EXPECT_REPLY", reply)
        .env("EXPECT_HTML_REPLY", html_reply)
        .env("FILE_NAME", "trocas.txt")
        .env("FILE_BODY", "Política de trocas: 30 dias.");
    let mut driver = crate::helpers::Driver::spawn(command);
    driver.expect("SENT");
    // The agent answers from the API; the visitor sees it without reloading.
    let conv = eventually("the widget's conversation", || {
        let v = s
            .admin(
                "GET",
                &format!("/api/v1/conversations?channel_id={ch}"),
                None,
            )
            .json();
        v["conversations"].as_array().unwrap().first().cloned()
    });
    let conv_id = conv["id"].as_i64().unwrap();
    let m = s
        .admin(
            "GET",
            &format!("/api/v1/conversations/{conv_id}/messages"),
            None,
        )
        .json();
    assert!(m.to_string().contains("preciso de ajuda"), "{m}");
    for text in [reply, html_reply] {
        let r = s.admin(
            "POST",
            &format!("/api/v1/conversations/{conv_id}/messages"),
            Some(&json!({"text": text})),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = s.admin(
        "POST",
        &format!("/api/v1/conversations/{conv_id}/messages"),
        Some(&json!({"file": {"name": "trocas.txt", "data": crate::helpers::b64("Política de trocas: 30 dias.")}})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    for marker in [
        "GOT_REPLY",
        "RTL_OK",
        "RELOAD_OK",
        "ESCAPED_OK",
        "FILE_OK",
        "OK",
    ] {
        driver.expect(marker);
    }
    driver.finish();
    let m = s
        .admin(
            "GET",
            &format!("/api/v1/conversations/{conv_id}/messages"),
            None,
        )
        .json();
    assert!(
        m.to_string().contains("مرحبا"),
        "the Arabic message arrived: {m}"
    );
}
