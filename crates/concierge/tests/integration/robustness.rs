//! Malformed input of every kind gets a clear 4xx, never a 5xx or a crash.

use crate::helpers::{b64, urlencode, Server};
use serde_json::json;

/// A small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Valid payloads with every field replaced, in turn, by a value of the wrong type.
fn wrong_types() -> Vec<String> {
    let base = json!({"type": "identify", "userId": "u", "anonymousId": "a", "event": "E", "messageId": "m",
        "timestamp": "2024-01-01T00:00:00Z", "sentAt": "2024-01-01T00:00:01Z", "traits": {"email": "a@b.co", "phone": "+5511912345678"},
        "context": {"consent": {"categoryPreferences": {"ads": true}}, "externalIds": [{"id": "1", "type": "loyalty_id"}], "locale": "pt-BR"},
        "properties": {"x": 1}, "previousId": "p", "groupId": "g"});
    let odd = [
        json!(null),
        json!(12),
        json!(-1.5e308),
        json!(true),
        json!([1, [2]]),
        json!({"k": {}}),
        json!(""),
        json!("\u{0}\u{202e}שלום"),
        json!("9".repeat(400)),
    ];
    let mut out = Vec::new();
    for key in base.as_object().unwrap().keys() {
        for v in &odd {
            let mut m = base.clone();
            m[key] = v.clone();
            out.push(m.to_string());
            let mut nested = base.clone();
            nested["context"][key] = v.clone();
            nested["traits"][key] = v.clone();
            out.push(nested.to_string());
        }
    }
    out
}

fn mutate(rng: &mut Rng, seed: &str) -> Vec<u8> {
    let mut b = seed.as_bytes().to_vec();
    match rng.below(6) {
        0 => b.truncate(rng.below(b.len().max(1))),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(b.len().max(1));
                if let Some(x) = b.get_mut(i) {
                    *x = rng.next() as u8;
                }
            }
        }
        2 => {
            let i = rng.below(b.len().max(1));
            b.splice(i..i, "\u{1F600}\u{0301}\u{FEFF}".bytes());
        }
        3 => b = format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        4 => b = format!(r#"{{"batch":[{seed},{seed},"x",null,[]]}}"#).into_bytes(),
        _ => b.extend_from_slice(b"}}}\"\\"),
    }
    b
}

#[test]
fn malformed_payloads_never_cause_a_5xx() {
    let s = Server::start();
    let auth = format!("Basic {}", b64(&format!("{}:", s.ingest_key)));
    let admin = format!("Bearer {}", s.admin_key);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds = wrong_types();
    let mut sent = 0;
    let mut check = |method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
        let r = s.request(method, path, headers, body);
        assert!(
            r.status < 500,
            "{method} {path} with {:?} answered {}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)]),
            r.status,
            r.text()
        );
        if r.status >= 400 {
            let err = r.json();
            assert!(
                err["code"].is_string() && err["message"].is_string(),
                "error shape: {err}"
            );
        }
        sent += 1;
    };
    for seed in &seeds {
        for path in ["/v1/identify", "/v1/track", "/v1/alias", "/v1/group"] {
            check("POST", path, &[("Authorization", &auth)], seed.as_bytes());
        }
    }
    for i in 0..300 {
        let seed = &seeds[rng.below(seeds.len())];
        let body = mutate(&mut rng, seed);
        let path = ["/v1/track", "/v1/batch", "/v1/p", "/v1/b"][i % 4];
        check("POST", path, &[("Authorization", &auth)], &body);
        check(
            "POST",
            "/api/v1/customers/1/consents",
            &[("Authorization", &admin)],
            &body,
        );
        let garbage = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        check(
            "GET",
            &format!("/api/v1/customers?identifier={}", urlencode(&garbage)),
            &[("Authorization", &admin)],
            b"",
        );
        check(
            "GET",
            &format!(
                "/api/v1/customers/{}/timeline?before={}",
                urlencode(&garbage),
                urlencode(&garbage)
            ),
            &[("Authorization", &admin)],
            b"",
        );
    }
    for header in [
        "Basic",
        "Basic =",
        "Bearer",
        "Basic \u{00e9}\u{00e9}",
        "NTLM abc",
    ] {
        check(
            "POST",
            "/v1/track",
            &[("Authorization", header)],
            br#"{"userId":"u","event":"E"}"#,
        );
    }
    check(
        "POST",
        "/v1/track",
        &[("Authorization", &auth), ("Content-Encoding", "gzip, br")],
        b"\x1f\x8b\x08",
    );
    for query in [
        "limit=abc",
        "limit=-1",
        "limit=99999999999999999999",
        "before=%FF%FE",
        "limit=1&limit=2",
    ] {
        check(
            "GET",
            &format!("/api/v1/customers/1/timeline?{query}"),
            &[("Authorization", &admin)],
            b"",
        );
        check(
            "GET",
            &format!("/api/v1/erasures?{query}"),
            &[("Authorization", &admin)],
            b"",
        );
    }
    check("POST", "/beacon/v1/batch?writeKey=%FF", &[], b"{}");
    check(
        "GET",
        "/api/v1/customers/%FF",
        &[("Authorization", &admin)],
        b"",
    );
    check("POST", "/v1/%FF", &[("Authorization", &auth)], b"{}");
    check("GET", "/v1/projects/%FF%FE/settings", &[], b"");
    assert!(sent > 1500);
    assert_eq!(
        s.request("GET", "/healthz", &[], b"").status,
        200,
        "still healthy"
    );
}
