//! The Segment-compatible tracking API, as real clients use it.

use crate::helpers::{b64, workspace, Server};
use serde_json::json;
use std::io::Write;
use std::process::Command;
use std::sync::Mutex;

fn events_stored(s: &Server) -> u64 {
    s.admin("GET", "/api/v1/stats", None).json()["events"]
        .as_u64()
        .unwrap()
}

#[test]
fn every_route_and_auth_form_is_accepted() {
    let s = Server::start();
    let key = s.ingest_key.clone();
    let basic_colon = format!("Basic {}", b64(&format!("{key}:")));
    let basic_bare = format!("Basic {}", b64(&key));
    let msg = |t: &str| json!({"type": t, "userId": "route-user", "event": "E", "groupId": "g", "previousId": "old"});
    for (path, t) in [
        ("/v1/identify", "identify"),
        ("/v1/track", "track"),
        ("/v1/page", "page"),
        ("/v1/screen", "screen"),
        ("/v1/group", "group"),
        ("/v1/alias", "alias"),
    ] {
        let short = &path[..5];
        for p in [path, &format!("/v1/{}", &t[..1])] {
            let r = s.request(
                "POST",
                p,
                &[("Authorization", &basic_colon)],
                msg(t).to_string().as_bytes(),
            );
            assert_eq!(r.status, 200, "{p}: {}", r.text());
        }
        let _ = short;
    }
    // Basic without the colon; writeKey in the body; Bearer plus writeKey; text/plain like analytics.js.
    let r = s.request(
        "POST",
        "/v1/t",
        &[("Authorization", &basic_bare)],
        msg("track").to_string().as_bytes(),
    );
    assert_eq!(r.status, 200);
    let mut with_key = msg("track");
    with_key["writeKey"] = json!(key);
    assert_eq!(
        s.request("POST", "/v1/track", &[], with_key.to_string().as_bytes())
            .status,
        200
    );
    assert_eq!(
        s.request(
            "POST",
            "/v1/track",
            &[("Authorization", "Bearer some-oauth-token")],
            with_key.to_string().as_bytes()
        )
        .status,
        200
    );
    let r = s.request(
        "POST",
        "/v1/t",
        &[
            ("Content-Type", "text/plain"),
            ("Authorization", &basic_colon),
        ],
        msg("track").to_string().as_bytes(),
    );
    assert_eq!(r.status, 200);
    // Batch on /v1/batch and /v1/b, gzip, and the beacon route with the key in the query.
    let batch = json!({"batch": [msg("track"), msg("identify")]}).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(batch.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let r = s.request(
        "POST",
        "/v1/batch",
        &[
            ("Authorization", &basic_colon),
            ("Content-Encoding", "gzip"),
        ],
        &gz,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["accepted"], 2);
    assert_eq!(
        s.request(
            "POST",
            "/v1/b",
            &[("Authorization", &basic_colon)],
            batch.as_bytes()
        )
        .status,
        200
    );
    assert_eq!(
        s.request(
            "POST",
            &format!("/beacon/v1/batch?writeKey={key}"),
            &[],
            batch.as_bytes()
        )
        .status,
        200
    );
    assert_eq!(events_stored(&s), 12 + 4 + 6);
    // The settings analytics.js loads, pointing it back at us.
    let r = s.request("GET", &format!("/v1/projects/{key}/settings"), &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["integrations"]["Segment.io"]["apiHost"],
        format!("{}/v1", s.addr)
    );
    // CORS preflight for browsers.
    let r = s.request(
        "OPTIONS",
        "/v1/t",
        &[("Origin", "https://loja.example")],
        b"",
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // Wrong keys.
    let r = s.request(
        "POST",
        "/v1/track",
        &[("Authorization", &format!("Basic {}", b64("nope:")))],
        msg("track").to_string().as_bytes(),
    );
    assert_eq!(
        (r.status, r.json()["code"].as_str().unwrap()),
        (401, "invalid_api_key")
    );
    let admin_as_ingest = s.request(
        "GET",
        "/api/v1/stats",
        &[("Authorization", &format!("Bearer {key}"))],
        b"",
    );
    assert_eq!(admin_as_ingest.status, 403);
}

#[test]
fn replayed_message_id_is_stored_once() {
    let s = Server::start();
    let m =
        json!({"userId": "dedup-user", "event": "Order Completed", "messageId": "msg-replayed-1"});
    assert_eq!(s.track("/v1/track", &m).json()["accepted"], 1);
    let again = s.track("/v1/track", &m).json();
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    let batch = json!({"batch": [ {"type":"track","userId":"dedup-user","event":"X","messageId":"msg-replayed-1"},
                                  {"type":"track","userId":"dedup-user","event":"X","messageId":"msg-new"},
                                  {"type":"track","userId":"dedup-user","event":"X","messageId":"msg-new"} ]});
    let r = s.track("/v1/batch", &batch).json();
    assert_eq!(
        (r["accepted"].as_u64(), r["duplicates"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(events_stored(&s), 2);
}

#[test]
fn malformed_oversize_and_anonymous_input_is_refused_and_nothing_stored() {
    let s = Server::start();
    let auth = format!("Basic {}", b64(&format!("{}:", s.ingest_key)));
    let post = |path: &str, body: &[u8], extra: &[(&str, &str)]| {
        let mut h = vec![("Authorization", auth.as_str())];
        h.extend_from_slice(extra);
        s.request("POST", path, &h, body)
    };
    let code = |r: crate::helpers::Response| {
        (
            r.status,
            r.json()["code"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(
        code(post("/v1/batch", b"{\"batch\": [", &[])),
        (400, "invalid_json".into())
    );
    assert_eq!(
        code(post("/v1/track", b"\xff\xfe", &[])),
        (400, "invalid_json".into())
    );
    assert_eq!(
        code(post("/v1/track", b"[1,2]", &[])),
        (400, "invalid_json".into())
    );
    assert_eq!(
        code(post("/v1/track", br#"{"event":"No ids"}"#, &[])),
        (400, "missing_user_or_anonymous_id".into())
    );
    assert_eq!(
        code(post("/v1/track", br#"{"userId":"u"}"#, &[])),
        (400, "invalid_event".into())
    );
    assert_eq!(
        code(post("/v1/batch", br#"{"batch":[]}"#, &[])),
        (400, "empty_batch".into())
    );
    assert_eq!(
        code(post(
            "/v1/batch",
            br#"{"batch":[{"type":"track","event":"x"}]}"#,
            &[]
        )),
        (400, "no_valid_events".into())
    );
    let big = json!({"batch": (0..100).map(|i| json!({"type":"track","userId":"u","event":"E","properties":{"pad":"x".repeat(6000),"i":i}})).collect::<Vec<_>>()});
    assert_eq!(
        code(post("/v1/batch", big.to_string().as_bytes(), &[])),
        (413, "payload_too_large".into())
    );
    let many = json!({"batch": (0..2501).map(|_| json!({"type":"track","userId":"u","event":"E"})).collect::<Vec<_>>()});
    assert_eq!(
        code(post("/v1/batch", many.to_string().as_bytes(), &[])),
        (413, "batch_too_large".into())
    );
    let one_big = json!({"userId":"u","event":"E","properties":{"pad":"x".repeat(40_000)}});
    assert_eq!(
        code(post("/v1/track", one_big.to_string().as_bytes(), &[])).0,
        413
    );
    // A gzip bomb: 50 MB of zeros in a few KB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 50 << 20]).unwrap();
    assert_eq!(
        code(post(
            "/v1/batch",
            &gz.finish().unwrap(),
            &[("Content-Encoding", "gzip")]
        )),
        (413, "payload_too_large".into())
    );
    assert_eq!(
        code(post(
            "/v1/batch",
            b"not gzip at all",
            &[("Content-Encoding", "gzip")]
        )),
        (400, "invalid_content_encoding".into())
    );
    // A small body whose shared context would be copied into thousands of items.
    let amplify = json!({"context": {"pad": "x".repeat(20_000)}, "batch": (0..2000).map(|_| json!({})).collect::<Vec<_>>()});
    assert_eq!(
        code(post("/v1/batch", amplify.to_string().as_bytes(), &[])),
        (413, "payload_too_large".into())
    );
    let long_key = format!("Basic {}", b64(&format!("{}:", "k".repeat(5000))));
    assert_eq!(
        code(s.request(
            "POST",
            "/v1/track",
            &[("Authorization", &long_key)],
            br#"{"userId":"u","event":"E"}"#
        )),
        (401, "invalid_api_key".into())
    );
    assert_eq!(
        code(s.request("POST", "/v1/track", &[], br#"{"userId":"u","event":"E"}"#)),
        (401, "missing_authorization".into())
    );
    assert_eq!(
        code(s.request("POST", "/v1/nope", &[("Authorization", &auth)], b"{}")),
        (404, "not_found".into())
    );
    assert_eq!(
        code(s.request("GET", "/v1/track", &[], b"")),
        (405, "method_not_allowed".into())
    );
    // A batch with one bad item keeps the good ones and says which item was dropped.
    let mixed = post("/v1/batch", br#"{"batch":[{"type":"track","userId":"u","event":"ok"},{"type":"track","event":"no id"}]}"#, &[]).json();
    assert_eq!(mixed["accepted"], 1);
    assert_eq!(mixed["rejected"][0]["index"], 1);
    assert_eq!(mixed["rejected"][0]["code"], "missing_user_or_anonymous_id");
    assert_eq!(events_stored(&s), 1, "only the one valid event is stored");
    assert_eq!(s.request("GET", "/healthz", &[], b"").status, 200);
}

#[test]
fn timestamps_are_corrected_for_clock_skew_and_all_four_kept() {
    let s = Server::start();
    // The device clock runs one hour fast: the call and the send both read +1 h.
    let now = chrono::Utc::now();
    let fast = now + chrono::Duration::hours(1);
    let m = json!({"userId": "skew-user", "event": "Clicked", "timestamp": (fast - chrono::Duration::seconds(30)).to_rfc3339(), "sentAt": fast.to_rfc3339()});
    assert_eq!(s.track("/v1/track", &m).status, 200);
    let c = s.customer_by("user_id:skew-user").json();
    let page = s.timeline(&c["id"]);
    let msg = &page["events"][0]["message"];
    for k in ["timestamp", "originalTimestamp", "sentAt", "receivedAt"] {
        assert!(msg[k].is_string(), "{k} missing in {msg}");
    }
    let ts = chrono::DateTime::parse_from_rfc3339(msg["timestamp"].as_str().unwrap()).unwrap();
    let received =
        chrono::DateTime::parse_from_rfc3339(msg["receivedAt"].as_str().unwrap()).unwrap();
    assert_eq!(
        (received - ts).num_seconds(),
        30,
        "timestamp = receivedAt - (sentAt - originalTimestamp)"
    );
}

#[test]
fn consent_in_events_is_recorded_and_stamped_on_the_event() {
    let s = Server::start();
    let m = json!({"anonymousId": "consent-anon", "event": "Page Loaded", "context": {
        "library": {"name": "analytics.js"},
        "consent": {"categoryPreferences": {"Advertising": false, "Analytics": true}},
        "consentManagement": {"provider": "oneTrust", "allowedConsentIds": ["C0002"], "deniedConsentIds": ["C0004"]}}});
    assert_eq!(s.track("/v1/track", &m).status, 200);
    assert_eq!(
        s.track("/v1/track", &m).status,
        200,
        "same state again: no new ledger entry"
    );
    let c = s.customer_by("anonymous_id:consent-anon").json();
    let ledger = s
        .admin(
            "GET",
            &format!("/api/v1/customers/{}/consents", c["id"]),
            None,
        )
        .json();
    assert_eq!(ledger["history"].as_array().unwrap().len(), 4);
    let adv = ledger["current"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purpose"] == "advertising")
        .unwrap();
    assert_eq!(
        (adv["status"].as_str(), adv["channel"].as_str()),
        (Some("denied"), Some("web"))
    );
    let page = s.timeline(&c["id"]);
    assert_eq!(
        page["events"][0]["consent"]["consent"]["categoryPreferences"]["Analytics"],
        true
    );
}

#[test]
fn unknown_fields_are_kept_in_the_event() {
    let s = Server::start();
    let m = json!({"userId": "extra-user", "event": "E", "myCustomTopLevel": {"nested": [1, 2]}, "context": {"somethingNew": true}});
    assert_eq!(s.track("/v1/track", &m).status, 200);
    let c = s.customer_by("user_id:extra-user").json();
    let page = s.timeline(&c["id"]);
    assert_eq!(
        page["events"][0]["message"]["myCustomTopLevel"]["nested"][1],
        2
    );
    assert_eq!(
        page["events"][0]["message"]["context"]["somethingNew"],
        true
    );
}

#[test]
fn back_pressure_answers_429_with_retry_after_never_5xx() {
    let s = Server::start_with_config("[ingest]\nmax_pending_events = 1\n");
    let addr = s.addr.clone();
    let auth = format!("Basic {}", b64(&format!("{}:", s.ingest_key)));
    let statuses = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for t in 0..32 {
            let (addr, auth, statuses) = (&addr, &auth, &statuses);
            scope.spawn(move || {
                for i in 0..15 {
                    let body = json!({"userId": format!("bp-{t}"), "event": "E", "messageId": format!("bp-{t}-{i}")}).to_string();
                    let r = crate::helpers::http(addr, "POST", "/v1/track", &[("Authorization", auth)], body.as_bytes());
                    statuses.lock().unwrap().push((r.status, r.header("retry-after").map(str::to_string)));
                }
            });
        }
    });
    let statuses = statuses.into_inner().unwrap();
    let ok = statuses.iter().filter(|s| s.0 == 200).count() as u64;
    let limited: Vec<_> = statuses.iter().filter(|s| s.0 == 429).collect();
    assert!(
        statuses.iter().all(|s| s.0 == 200 || s.0 == 429),
        "only 200 or 429: {statuses:?}"
    );
    assert!(
        !limited.is_empty(),
        "32 concurrent clients against a queue of 1 must see a 429"
    );
    assert!(
        limited.iter().all(|s| s.1.is_some()),
        "every 429 carries Retry-After"
    );
    assert_eq!(
        events_stored(&s),
        ok,
        "every 200 is stored, every 429 is not"
    );
}

/// The Python virtualenv the client tests use (`.ci/run` prepares it; made here if missing).
fn python() -> std::path::PathBuf {
    static SETUP: Mutex<()> = Mutex::new(());
    let _guard = SETUP.lock().unwrap();
    let venv = workspace().join(".venv");
    let py = venv.join("bin/python");
    let has_client = py.exists()
        && Command::new(&py)
            .args(["-c", "import segment.analytics"])
            .status()
            .is_ok_and(|s| s.success());
    if !has_client {
        assert!(Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap()
            .success());
        let ok = Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "segment-analytics-python==2.4.0",
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "installing segment-analytics-python failed");
    }
    py
}

#[test]
fn official_python_client_delivers_every_call_type() {
    let s = Server::start();
    let out = Command::new(python())
        .arg(workspace().join("tests/clients/segment_python.py"))
        .args([
            format!("http://{}", s.addr),
            s.ingest_key.clone(),
            "r1".into(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python client: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let c = s.customer_by("email:py.r1@example.com");
    assert_eq!(c.status, 200, "{}", c.text());
    let c = c.json();
    let by_type = &c["counts"]["by_type"];
    for t in ["identify", "track", "page", "screen", "group", "alias"] {
        assert_eq!(by_type[t], 1, "{t} in {by_type}");
    }
    assert_eq!(c["traits"]["plan"]["value"], "gold");
    assert_eq!(c["counts"]["by_event"]["Order Completed"], 1);
    let kinds: Vec<&str> = c["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"user_id") && kinds.contains(&"anonymous_id") && kinds.contains(&"email"),
        "{kinds:?}"
    );
}

/// `tests/clients` with its npm packages (the Segment client, playwright-core) installed.
pub(crate) fn node_modules() -> std::path::PathBuf {
    static SETUP: Mutex<()> = Mutex::new(());
    let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace().join("tests/clients");
    if !dir.join("node_modules/@segment/analytics-node").exists()
        || !dir.join("node_modules/playwright-core").exists()
    {
        let ok = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "npm install in tests/clients failed");
    }
    dir
}

#[test]
fn official_node_client_delivers_every_call_type() {
    let s = Server::start();
    let dir = node_modules();
    let out = Command::new("node")
        .arg(dir.join("segment_node.mjs"))
        .args([
            format!("http://{}", s.addr),
            s.ingest_key.clone(),
            "n1".into(),
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node client: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let c = s.customer_by("user_id:node-user-n1").json();
    for t in ["identify", "track", "page", "screen", "group", "alias"] {
        assert_eq!(c["counts"]["by_type"][t], 1, "{t} in {}", c["counts"]);
    }
    let phone = c["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "phone")
        .unwrap();
    assert_eq!(phone["value"], "+5521987654321");
}

/// The ingest benchmark runs end to end on a small load and reports every figure the README
/// quotes, each consistent with the others (its speed is not judged here).
#[test]
fn ingest_benchmark_reports_every_figure() {
    let out = Command::new(crate::helpers::bin())
        .args([
            "bench",
            "ingest",
            "--events",
            "3000",
            "--track-requests",
            "200",
        ])
        .args(["--views", "20", "--direct", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "raw_sqlite_events_per_s",
        "http_batch_events_per_s",
        "http_ceiling_events_per_s",
        "store_direct_events_per_s",
        "single_track_requests_per_s",
        "view_p50_ms",
        "view_p99_ms",
    ] {
        assert!(v[key].as_f64().unwrap() > 0.0, "{key} missing in {v}");
    }
    assert_eq!(v["raw_sqlite_rows"], 3000);
    assert_eq!(v["http_ceiling_events"], 3000);
    assert_eq!(v["single_track_requests"], 200);
    assert_eq!(v["views"], 20);
    // Every event of (b) and (c) is in the store, each once.
    assert_eq!(v["events_stored"], 3200);
    let ratio = v["http_batch_events_per_s"].as_f64().unwrap()
        / v["raw_sqlite_events_per_s"].as_f64().unwrap();
    assert!((v["ratio"].as_f64().unwrap() - ratio).abs() < 0.01, "{v}");
    let ceiling = v["http_ceiling_events_per_s"].as_f64().unwrap()
        / v["raw_sqlite_events_per_s"].as_f64().unwrap();
    assert!(
        (v["ceiling_ratio"].as_f64().unwrap() - ceiling).abs() < 0.01,
        "{v}"
    );
    assert!(v["view_p50_ms"].as_f64() <= v["view_p99_ms"].as_f64());
}
