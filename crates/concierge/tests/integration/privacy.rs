//! Consent ledger, export and erasure.

use crate::helpers::{contains, Server};
use serde_json::json;

fn consent(
    s: &Server,
    id: &serde_json::Value,
    body: serde_json::Value,
) -> crate::helpers::Response {
    s.admin(
        "POST",
        &format!("/api/v1/customers/{id}/consents"),
        Some(&body),
    )
}

#[test]
fn consent_ledger_keeps_history_and_a_merge_never_widens_consent() {
    let s = Server::start();
    s.track(
        "/v1/identify",
        &json!({"userId": "dora", "traits": {"email": "dora@example.com"}}),
    );
    s.track(
        "/v1/identify",
        &json!({"anonymousId": "dora-phone", "traits": {"phone": "+55 21 99999-1234"}}),
    );
    let dora = s.customer_by("user_id:dora").json()["id"].clone();
    let phone = s.customer_by("anonymous_id:dora-phone").json()["id"].clone();
    let evidence = json!({"touchpoint": "https://loja.example/cadastro", "method": "checkbox", "captured_at": "2025-05-01T10:00:00Z"});
    let r = consent(
        &s,
        &dora,
        json!({"purpose": "marketing", "channel": "whatsapp", "status": "granted", "legal_basis": "lgpd_7_i", "notice_version": "2025-04", "evidence": evidence}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json()["legal_basis_articles"],
        "LGPD art. 7 I; GDPR art. 6(1)(a)"
    );
    let r = consent(
        &s,
        &phone,
        json!({"purpose": "marketing", "channel": "whatsapp", "status": "denied", "legal_basis": "consent", "evidence": {"touchpoint": "store:12", "method": "verbal_attested"}}),
    );
    assert_eq!(r.status, 201);
    consent(
        &s,
        &dora,
        json!({"purpose": "personalization", "status": "granted", "legal_basis": "gdpr_6_1_a", "evidence": evidence}),
    );
    consent(
        &s,
        &dora,
        json!({"purpose": "personalization", "status": "withdrawn", "legal_basis": "consent"}),
    );
    let ledger = s
        .admin("GET", &format!("/api/v1/customers/{dora}/consents"), None)
        .json();
    assert_eq!(
        ledger["history"].as_array().unwrap().len(),
        3,
        "append-only: every entry kept"
    );
    let current = |l: &serde_json::Value, p: &str| {
        l["current"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["purpose"] == p)
            .map(|c| c["status"].as_str().unwrap().to_string())
    };
    assert_eq!(
        current(&ledger, "personalization").as_deref(),
        Some("withdrawn")
    );
    assert_eq!(current(&ledger, "marketing").as_deref(), Some("granted"));
    assert!(ledger["history"][2]["supersedes"].is_number());
    // Merge the phone (which denied marketing) into dora (who granted it): the denial wins.
    s.track(
        "/v1/identify",
        &json!({"userId": "dora", "anonymousId": "dora-phone"}),
    );
    let merged = s
        .admin("GET", &format!("/api/v1/customers/{dora}/consents"), None)
        .json();
    assert_eq!(merged["customer_id"], dora);
    assert_eq!(
        current(&merged, "marketing").as_deref(),
        Some("denied"),
        "a merge never widens consent"
    );
    // Until the person grants again after the merge.
    consent(
        &s,
        &dora,
        json!({"purpose": "marketing", "channel": "whatsapp", "status": "granted", "legal_basis": "consent", "evidence": evidence}),
    );
    let regranted = s
        .admin("GET", &format!("/api/v1/customers/{dora}/consents"), None)
        .json();
    assert_eq!(current(&regranted, "marketing").as_deref(), Some("granted"));
    // Bad entries are refused with a clear code.
    for bad in [
        json!({"purpose": "marketing", "status": "maybe", "legal_basis": "consent"}),
        json!({"purpose": "marketing", "status": "granted", "legal_basis": "because"}),
        json!({"purpose": "marketing", "status": "granted", "legal_basis": "consent"}),
        json!({"purpose": "", "status": "denied", "legal_basis": "consent"}),
        json!({"purpose": "marketing", "status": "denied", "legal_basis": "consent", "colour": "blue"}),
    ] {
        let r = consent(&s, &dora, bad.clone());
        assert_eq!(
            (r.status, r.json()["code"].as_str().map(str::to_string)),
            (400, Some("invalid_consent".into())),
            "{bad}"
        );
    }
    assert_eq!(
        consent(
            &s,
            &json!(987654),
            json!({"purpose": "marketing", "status": "denied", "legal_basis": "consent"})
        )
        .status,
        404
    );
}

#[test]
fn export_contains_everything_held_about_the_person() {
    let s = Server::start();
    s.track("/v1/identify", &json!({"userId": "eva", "anonymousId": "eva-laptop", "traits": {"email": "eva@example.com", "name": "Eva"}}));
    s.track(
        "/v1/track",
        &json!({"anonymousId": "eva-phone", "event": "Product Viewed"}),
    );
    s.track(
        "/v1/identify",
        &json!({"userId": "eva", "anonymousId": "eva-phone"}),
    );
    s.track(
        "/v1/track",
        &json!({"userId": "eva", "event": "Order Completed", "properties": {"order_id": "o-1"}}),
    );
    let id = s.customer_by("user_id:eva").json()["id"].clone();
    consent(
        &s,
        &id,
        json!({"purpose": "analytics", "status": "denied", "legal_basis": "consent"}),
    );
    let doc = s.admin("GET", &format!("/api/v1/customers/{id}/export"), None);
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["customer"]["traits"]["name"]["value"], "Eva");
    assert_eq!(doc["events"].as_array().unwrap().len(), 4);
    assert_eq!(doc["consents"].as_array().unwrap().len(), 1);
    assert_eq!(doc["merge_log"].as_array().unwrap().len(), 1);
    let idents: Vec<&str> = doc["customer"]["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    for v in ["eva", "eva@example.com", "eva-laptop", "eva-phone"] {
        assert!(idents.contains(&v), "{v} in {idents:?}");
    }
}

#[test]
fn erasure_leaves_no_trace_in_the_database_file_and_suppresses_the_person() {
    let s = Server::start();
    let email = "fatima.erase-me@example.com";
    s.track("/v1/identify", &json!({"userId": "fatima-77", "anonymousId": "fatima-web", "traits": {"email": email, "phone": "+55 21 98765-432", "name": "Fátima Unique-Surname-Xq"}}));
    for i in 0..50 {
        s.track("/v1/track", &json!({"userId": "fatima-77", "event": "Product Viewed", "properties": {"note": format!("contact {email} #{i}")}}));
    }
    s.track(
        "/v1/identify",
        &json!({"userId": "someone-else", "traits": {"email": "keep@example.com"}}),
    );
    let id = s.customer_by(&format!("email:{email}")).json()["id"].clone();
    consent(
        &s,
        &id,
        json!({"purpose": "marketing", "status": "denied", "legal_basis": "consent"}),
    );
    assert!(
        contains(&s.db_bytes(), email.as_bytes()),
        "sanity: the email is in the file before erasure"
    );

    let r = s.admin("DELETE", &format!("/api/v1/customers/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let receipt = r.json();
    assert_eq!(receipt["events"], 51);
    assert_eq!(receipt["suppressed_identifiers"], 4);
    assert_eq!(receipt["wal_scrubbed"], true);
    assert!(
        !receipt.to_string().contains(email),
        "the erasure record holds no personal data"
    );

    let bytes = s.db_bytes();
    for needle in [email, "Unique-Surname-Xq", "fatima-77", "fatima-web"] {
        assert!(
            !contains(&bytes, needle.as_bytes()),
            "{needle} is still in the database file"
        );
    }
    assert!(
        !contains(&bytes, b"98765"),
        "no trace of the phone number either"
    );
    assert_eq!(s.customer_by(&format!("email:{email}")).status, 404);
    assert_eq!(
        s.admin("GET", &format!("/api/v1/customers/{id}"), None)
            .status,
        404
    );
    assert_eq!(
        s.customer_by("email:keep@example.com").status,
        200,
        "nobody else is touched"
    );
    let log = s.admin("GET", "/api/v1/erasures", None).json();
    assert_eq!(log[0]["customer_id"], id);
    assert_eq!(log[0]["events"], 51);
    assert!(
        !log.to_string().contains("fatima"),
        "the erasure log holds no personal data"
    );

    // Later events for the person are dropped and counted, not re-collected.
    let r = s.track("/v1/track", &json!({"anonymousId": "new-device", "event": "Came Back", "context": {"traits": {"email": "FATIMA.erase-me@example.com"}}})).json();
    assert_eq!(
        (r["accepted"].as_u64(), r["suppressed"].as_u64()),
        (Some(0), Some(1))
    );
    let stats = s.admin("GET", "/api/v1/stats", None).json();
    assert_eq!(stats["suppressed_events_dropped"], 1);
    assert!(!contains(&s.db_bytes(), b"new-device"));
    // Her phone comes back as a WhatsApp id (digits, legacy 8-digit Brazilian form): same line, dropped too.
    let wa = json!({"anonymousId": "wa-device", "event": "Message", "context": {"externalIds": [{"id": "552198765432", "type": "whatsapp_id"}]}});
    assert_eq!(s.track("/v1/track", &wa).json()["suppressed"], 1);
    assert_eq!(
        s.admin("DELETE", &format!("/api/v1/customers/{id}"), None)
            .status,
        404
    );
}

#[test]
fn a_missing_suppression_key_stops_the_server_instead_of_forgetting_the_erased() {
    let mut s = Server::start();
    s.track(
        "/v1/identify",
        &json!({"userId": "gone-1", "traits": {"email": "gone@example.com"}}),
    );
    let id = s.customer_by("user_id:gone-1").json()["id"].clone();
    assert_eq!(
        s.admin("DELETE", &format!("/api/v1/customers/{id}"), None)
            .status,
        200
    );
    s.kill9();
    let key = s.dir.join("suppression.key");
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let out = std::process::Command::new(crate::helpers::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&s.dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("suppression.key is missing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&key, b"0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
    let out = std::process::Command::new(crate::helpers::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&s.dir)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not the key this database was written with")
    );
    std::fs::write(&key, saved).unwrap();
    s.launch();
    let r = s.track("/v1/identify", &json!({"userId": "gone-1"})).json();
    assert_eq!(
        r["suppressed"], 1,
        "with its key back, the erased person stays suppressed"
    );
}

#[test]
fn a_grant_past_its_expiry_shows_as_expired() {
    let s = Server::start();
    s.track("/v1/identify", &json!({"userId": "exp-1"}));
    let id = s.customer_by("user_id:exp-1").json()["id"].clone();
    let evidence = json!({"touchpoint": "https://loja.example/optin", "method": "double_opt_in"});
    let r = consent(
        &s,
        &id,
        json!({"purpose": "marketing", "channel": "email", "status": "granted", "legal_basis": "consent",
        "evidence": evidence, "effective_at": "2024-01-01T00:00:00Z", "expires_at": "2025-01-01T00:00:00Z"}),
    );
    assert_eq!(r.status, 201);
    consent(
        &s,
        &id,
        json!({"purpose": "analytics", "status": "granted", "legal_basis": "legitimate_interest", "expires_at": "2999-01-01T00:00:00Z"}),
    );
    let ledger = s
        .admin("GET", &format!("/api/v1/customers/{id}/consents"), None)
        .json();
    let state = |p: &str| {
        ledger["current"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["purpose"] == p)
            .unwrap()
            .clone()
    };
    assert_eq!(state("marketing")["status"], "expired");
    assert_eq!(state("marketing")["channel"], "email");
    assert_eq!(state("analytics")["status"], "granted");
    assert_eq!(
        state("analytics")["legal_basis"],
        "legitimate_interest",
        "no evidence needed when the basis is not consent"
    );
}
