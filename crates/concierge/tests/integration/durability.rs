//! A 200 means it is on disk; import is line-by-line all-or-nothing.

use crate::helpers::Server;
use serde_json::json;

#[test]
fn kill_9_right_after_200_loses_nothing() {
    let mut s = Server::start();
    let mut acked = 0u64;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let s = &s;
                scope.spawn(move || {
                    let mut n = 0u64;
                    for b in 0..10 {
                        let batch: Vec<_> = (0..50).map(|i| json!({"type": "track", "userId": format!("k9-{t}-{i}"), "event": "Durable", "messageId": format!("k9-{t}-{b}-{i}")})).collect();
                        let r = s.track("/v1/batch", &json!({"batch": batch}));
                        assert_eq!(r.status, 200);
                        n += r.json()["accepted"].as_u64().unwrap();
                    }
                    n
                })
            })
            .collect();
        acked = handles.into_iter().map(|h| h.join().unwrap()).sum();
    });
    let last = s.track(
        "/v1/track",
        &json!({"userId": "k9-last", "event": "Last Before Kill"}),
    );
    assert_eq!(last.status, 200);
    // Identity changes reach their tables in sorted runs; until then they are only in the redo
    // log. Killed right after this 200, the new email and the trait must come back from there.
    let who = s.track(
        "/v1/identify",
        &json!({"userId": "k9-last", "traits": {"email": "K9@Example.com", "plan": "gold"}}),
    );
    assert_eq!(who.status, 200);
    s.kill9();
    s.launch();
    let stats = s.admin("GET", "/api/v1/stats", None).json();
    assert_eq!(
        stats["events"].as_u64().unwrap(),
        acked + 2,
        "every acknowledged event survived kill -9"
    );
    // 400 user ids from the batches, then k9-last's user id and email.
    assert_eq!(stats["identifiers"].as_u64().unwrap(), 402);
    let ana = s.customer_by("email:k9@example.com");
    assert_eq!(ana.status, 200);
    let view = ana.json();
    assert_eq!(view["traits"]["plan"]["value"], "gold");
    assert_eq!(s.customer_by("user_id:k9-last").json()["id"], view["id"]);
}

#[test]
fn import_loads_good_lines_and_reports_bad_ones_by_number() {
    let s = Server::start();
    let file = s.dir.join("events.jsonl");
    let lines = [
        json!({"type": "identify", "userId": "imp-1", "traits": {"email": "imp1@example.com"}, "timestamp": "2024-02-01T10:00:00Z", "messageId": "imp-a"}).to_string(),
        "{not json".to_string(),
        json!({"type": "track", "userId": "imp-1", "event": "Order Completed", "timestamp": "2024-02-02T10:00:00Z", "messageId": "imp-b"}).to_string(),
        json!({"type": "track", "event": "no ids"}).to_string(),
        String::new(),
        json!({"type": "track", "userId": "imp-1", "event": "Order Completed", "messageId": "imp-b"}).to_string(),
        json!({"type": "teleport", "userId": "imp-1"}).to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = s.import(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("line 2: invalid_json"), "{stderr}");
    assert!(
        stderr.contains("line 4: missing_user_or_anonymous_id"),
        "{stderr}"
    );
    assert!(stderr.contains("line 7: invalid_event"), "{stderr}");
    assert!(
        stdout.contains("imported 2 events from 7 lines: 1 duplicates skipped"),
        "{stdout}"
    );
    // The import ran beside the live server on the same data folder.
    let c = s.customer_by("email:imp1@example.com").json();
    assert_eq!(c["counts"]["by_event"]["Order Completed"], 1);
    assert_eq!(
        c["first_seen"], "2024-02-01T10:00:00.000Z",
        "historical timestamps are kept"
    );
}

#[test]
fn merges_made_by_an_import_beside_the_server_are_seen_by_the_server() {
    let s = Server::start();
    // The server learns (and caches) three people.
    s.track("/v1/track", &json!({"anonymousId": "x-a1", "event": "E"}));
    s.track("/v1/track", &json!({"userId": "x-u1", "event": "E"}));
    s.track("/v1/track", &json!({"anonymousId": "x-a3", "event": "E"}));
    let first = s.customer_by("anonymous_id:x-a1").json()["id"].clone();
    // Another process merges the first two.
    let file = s.dir.join("merge.jsonl");
    std::fs::write(
        &file,
        json!({"type": "identify", "userId": "x-u1", "anonymousId": "x-a1"}).to_string(),
    )
    .unwrap();
    let out = s.import(&file);
    assert!(out.status.success());
    assert_eq!(s.customer_by("user_id:x-u1").json()["id"], first);
    // The server links the third to them: it must merge into the real root, not a stale one.
    s.track(
        "/v1/identify",
        &json!({"userId": "x-u1", "anonymousId": "x-a3"}),
    );
    for who in ["anonymous_id:x-a1", "user_id:x-u1", "anonymous_id:x-a3"] {
        assert_eq!(s.customer_by(who).json()["id"], first, "{who}");
    }
    assert_eq!(
        s.customer_by("user_id:x-u1").json()["profiles"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn keys_are_listed_without_secrets_and_revoked_keys_stop_working() {
    use crate::helpers::bin;
    use std::process::Command;
    // Revoke before the server has ever cached the key.
    let s = Server::start();
    let run = |args: &[&str]| {
        Command::new(bin())
            .args(args)
            .arg("--data-dir")
            .arg(&s.dir)
            .env("CONCIERGE_LOG", "warn")
            .output()
            .unwrap()
    };
    let list = String::from_utf8(run(&["keys", "list"]).stdout).unwrap();
    assert!(list.contains("website") && list.contains("ops"), "{list}");
    assert!(
        !list.contains(&s.ingest_key) && !list.contains(&s.admin_key),
        "secrets are never shown"
    );
    let out = run(&["keys", "revoke", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = s.track("/v1/track", &json!({"userId": "u", "event": "E"}));
    assert_eq!(r.status, 401);
    assert!(
        !run(&["keys", "revoke", "1"]).status.success(),
        "revoking twice is an error"
    );
    assert!(String::from_utf8(run(&["keys", "list"]).stdout)
        .unwrap()
        .lines()
        .any(|l| l.contains("website") && !l.trim_end().ends_with('-')));
}
