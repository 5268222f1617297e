//! Identity resolution: one profile per person, no wrong merges, undo.

use crate::helpers::Server;
use serde_json::{json, Value};

fn identify(s: &Server, body: Value) {
    let r = s.track("/v1/identify", &body);
    assert_eq!(r.status, 200, "{}", r.text());
}

fn track(s: &Server, body: Value) {
    let r = s.track("/v1/track", &body);
    assert_eq!(r.status, 200, "{}", r.text());
}

fn kinds_values(c: &Value) -> Vec<String> {
    c["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["kind"].as_str().unwrap(),
                i["value"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn alias_merges_two_devices_and_undo_restores_both_with_their_events() {
    let s = Server::start();
    // Laptop: a known user. Phone: anonymous browsing.
    identify(
        &s,
        json!({"userId": "ana-1", "anonymousId": "laptop", "traits": {"name": "Ana"}}),
    );
    track(&s, json!({"userId": "ana-1", "event": "Order Completed"}));
    track(
        &s,
        json!({"anonymousId": "phone", "event": "Product Viewed"}),
    );
    track(
        &s,
        json!({"anonymousId": "phone", "event": "Product Viewed"}),
    );
    let phone_before = s.customer_by("anonymous_id:phone").json();
    // A second anonymous profile already exists, so linking it to ana-1 is a real merge.
    identify(&s, json!({"userId": "ana-1", "anonymousId": "phone"}));
    let merged = s.customer_by("anonymous_id:phone").json();
    let ana = s.customer_by("user_id:ana-1").json();
    assert_eq!(merged["id"], ana["id"], "both devices are one customer");
    assert_eq!(merged["profiles"].as_array().unwrap().len(), 2);
    assert_eq!(merged["counts"]["total"], 5);
    let timeline = s
        .admin(
            "GET",
            &format!("/api/v1/customers/{}/timeline?limit=10", ana["id"]),
            None,
        )
        .json();
    assert_eq!(
        timeline["events"].as_array().unwrap().len(),
        5,
        "the timeline holds the events of both devices"
    );
    let merge = merged["merges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["action"] == "merge")
        .unwrap()
        .clone();
    assert_eq!(merge["absorbed_id"], phone_before["id"]);

    let undo = s.admin(
        "POST",
        &format!("/api/v1/merges/{}/undo", merge["id"]),
        None,
    );
    assert_eq!(undo.status, 200, "{}", undo.text());
    let ana = s.customer_by("user_id:ana-1").json();
    let phone = s.customer_by("anonymous_id:phone").json();
    assert_ne!(ana["id"], phone["id"], "split again");
    assert_eq!(
        phone["id"], phone_before["id"],
        "the phone profile is restored under its own id"
    );
    assert_eq!(
        phone["counts"]["by_event"]["Product Viewed"], 2,
        "with its own events"
    );
    assert_eq!(ana["counts"]["by_event"]["Order Completed"], 1);
    let again = s.admin(
        "POST",
        &format!("/api/v1/merges/{}/undo", merge["id"]),
        None,
    );
    assert_eq!(
        (
            again.status,
            again.json()["code"].as_str().map(str::to_string)
        ),
        (409, Some("merge_already_undone".into()))
    );
    // An undone merge does not silently come back with the next event linking the two.
    identify(&s, json!({"userId": "ana-1", "anonymousId": "phone"}));
    assert_ne!(
        s.customer_by("user_id:ana-1").json()["id"],
        s.customer_by("anonymous_id:phone").json()["id"]
    );
    assert_eq!(
        s.admin("POST", "/api/v1/merges/99999/undo", None).status,
        404
    );
}

#[test]
fn alias_call_links_the_anonymous_id_to_the_user() {
    let s = Server::start();
    track(
        &s,
        json!({"anonymousId": "tablet-7", "event": "Product Viewed"}),
    );
    identify(
        &s,
        json!({"userId": "bia-2", "traits": {"email": "bia@example.com"}}),
    );
    assert_eq!(
        s.track(
            "/v1/alias",
            &json!({"previousId": "tablet-7", "userId": "bia-2"})
        )
        .status,
        200
    );
    let c = s.customer_by("email:bia@example.com").json();
    assert_eq!(c["id"], s.customer_by("anonymous_id:tablet-7").json()["id"]);
    assert_eq!(c["counts"]["by_event"]["Product Viewed"], 1);
}

#[test]
fn a_shared_email_merges_profiles_across_devices() {
    let s = Server::start();
    // Carla signs in on her phone; later an anonymous visitor leaves her email in a web form;
    // when she logs in on the web with that email, the two profiles are one person.
    identify(&s, json!({"userId": "carla", "anonymousId": "ios-device"}));
    identify(
        &s,
        json!({"anonymousId": "web-cookie", "traits": {"email": "Carla.Souza@Example.com"}}),
    );
    assert_ne!(
        s.customer_by("anonymous_id:web-cookie").json()["id"],
        s.customer_by("user_id:carla").json()["id"]
    );
    identify(
        &s,
        json!({"userId": "carla", "traits": {"email": "carla.souza@example.com "}}),
    );
    let a = s.customer_by("anonymous_id:web-cookie").json();
    let b = s.customer_by("user_id:carla").json();
    assert_eq!(a["id"], b["id"]);
    let ids = kinds_values(&b);
    assert!(
        ids.contains(&"email:carla.souza@example.com".to_string()),
        "{ids:?}"
    );
    assert_eq!(b["merges"][0]["reason"], "shared email");
}

#[test]
fn conflicting_user_ids_are_never_merged() {
    let s = Server::start();
    identify(
        &s,
        json!({"userId": "dad", "traits": {"email": "family@example.com"}}),
    );
    identify(
        &s,
        json!({"userId": "kid", "traits": {"email": "family@example.com"}}),
    );
    let dad = s.customer_by("user_id:dad").json();
    let kid = s.customer_by("user_id:kid").json();
    assert_ne!(
        dad["id"], kid["id"],
        "different user ids stay different customers"
    );
    assert_eq!(
        s.customer_by("email:family@example.com").json()["id"],
        dad["id"],
        "the email stays with its first owner"
    );
    let refused = dad["merges"]
        .as_array()
        .unwrap()
        .iter()
        .chain(kid["merges"].as_array().unwrap())
        .find(|m| m["action"] == "refused");
    assert_eq!(refused.unwrap()["reason"], "conflicting user_id");
    // A shared device (same anonymous id) does not join them either.
    track(
        &s,
        json!({"userId": "dad", "anonymousId": "family-tablet", "event": "E"}),
    );
    track(
        &s,
        json!({"userId": "kid", "anonymousId": "family-tablet", "event": "E"}),
    );
    assert_ne!(
        s.customer_by("user_id:dad").json()["id"],
        s.customer_by("user_id:kid").json()["id"]
    );
}

#[test]
fn brazilian_phone_variants_are_the_same_person() {
    let s = Server::start();
    identify(
        &s,
        json!({"anonymousId": "loja-form", "traits": {"phone": "(11) 99123-4567"}}),
    );
    identify(
        &s,
        json!({"anonymousId": "old-crm", "traits": {"phone": "+55 11 9123-4567"}}),
    );
    identify(
        &s,
        json!({"anonymousId": "whatsapp-export", "context": {"externalIds": [{"id": "551191234567", "type": "whatsapp_id"}]}, "traits": {"phone": "0xx11 9123 4567"}}),
    );
    let a = s.customer_by("anonymous_id:loja-form").json();
    for other in [
        "anonymous_id:old-crm",
        "anonymous_id:whatsapp-export",
        "phone:+55 (11) 9 9123-4567",
        "phone:011 9123-4567",
        "whatsapp_id:5511991234567",
    ] {
        let r = s.customer_by(other);
        assert_eq!(r.status, 200, "{other}: {}", r.text());
        assert_eq!(r.json()["id"], a["id"], "{other}");
    }
    // A landline of the same digits is someone else.
    identify(
        &s,
        json!({"anonymousId": "landline", "traits": {"phone": "(11) 3123-4567"}}),
    );
    assert_ne!(s.customer_by("anonymous_id:landline").json()["id"], a["id"]);
    assert_eq!(s.customer_by("phone:+551131234567").status, 200);
}

#[test]
fn blocked_values_and_limits_do_not_merge_strangers() {
    let s = Server::start_with_config("[identity]\nblocked = [{ kind = 'email', value = '*@mailinator.com' }, { value = '00000000000' }]\n[identity.max_per_kind]\nemail = 2\n");
    identify(
        &s,
        json!({"anonymousId": "p1", "traits": {"email": "x@mailinator.com"}}),
    );
    identify(
        &s,
        json!({"anonymousId": "p2", "traits": {"email": "x@mailinator.com"}}),
    );
    assert_ne!(
        s.customer_by("anonymous_id:p1").json()["id"],
        s.customer_by("anonymous_id:p2").json()["id"]
    );
    assert_eq!(
        s.customer_by("email:x@mailinator.com").status,
        404,
        "a blocked value is never stored as an identifier"
    );
    identify(
        &s,
        json!({"userId": "many", "traits": {"email": "one@example.com"}}),
    );
    identify(
        &s,
        json!({"userId": "many", "traits": {"email": "two@example.com"}}),
    );
    identify(
        &s,
        json!({"userId": "many", "traits": {"email": "three@example.com"}}),
    );
    let c = s.customer_by("user_id:many").json();
    let emails = kinds_values(&c)
        .into_iter()
        .filter(|k| k.starts_with("email:"))
        .count();
    assert_eq!(emails, 2, "the per-kind limit holds");
    assert_eq!(s.customer_by("email:three@example.com").status, 404);
}

#[test]
fn lookups_validate_their_input() {
    let s = Server::start();
    assert_eq!(s.admin("GET", "/api/v1/customers", None).status, 400);
    let r = s.customer_by("email:not-an-email");
    assert_eq!(
        (r.status, r.json()["code"].as_str().map(str::to_string)),
        (400, Some("invalid_identifier".into()))
    );
    assert_eq!(s.customer_by("shoe_size:42").status, 400);
    assert_eq!(s.admin("GET", "/api/v1/customers/abc", None).status, 404);
    assert_eq!(s.admin("GET", "/api/v1/customers/424242", None).status, 404);
    let r = s.request("GET", "/api/v1/customers/1", &[], b"");
    assert_eq!(
        (r.status, r.json()["code"].as_str().map(str::to_string)),
        (401, Some("missing_authorization".into()))
    );
}

#[test]
fn timeline_pages_newest_first_across_merged_profiles() {
    let s = Server::start();
    let base = chrono::DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z").unwrap();
    for i in 0..7 {
        let who = if i % 2 == 0 {
            json!({"userId": "tim"})
        } else {
            json!({"anonymousId": "tim-phone"})
        };
        let mut m = json!({"event": format!("E{i}"), "timestamp": (base + chrono::Duration::minutes(i)).to_rfc3339()});
        m.as_object_mut()
            .unwrap()
            .extend(who.as_object().unwrap().clone());
        track(&s, m);
    }
    identify(&s, json!({"userId": "tim", "anonymousId": "tim-phone"}));
    let id = s.customer_by("user_id:tim").json()["id"].clone();
    let mut names = Vec::new();
    let mut before = String::new();
    loop {
        let page = s
            .admin(
                "GET",
                &format!("/api/v1/customers/{id}/timeline?limit=3&before={before}"),
                None,
            )
            .json();
        for e in page["events"].as_array().unwrap() {
            if e["type"] == "track" {
                names.push(e["name"].as_str().unwrap().to_string());
            }
        }
        match page["next_before"].as_str() {
            Some(c) => before = c.to_string(),
            None => break,
        }
    }
    assert_eq!(names, vec!["E6", "E5", "E4", "E3", "E2", "E1", "E0"]);
    assert_eq!(
        s.admin(
            "GET",
            &format!("/api/v1/customers/{id}/timeline?limit=0"),
            None
        )
        .status,
        400
    );
    assert_eq!(
        s.admin(
            "GET",
            &format!("/api/v1/customers/{id}/timeline?before=yesterday"),
            None
        )
        .status,
        400
    );
}

#[test]
fn chained_merges_undo_in_either_order() {
    let s = Server::start();
    // Created in this order: A (oldest), B, D.
    identify(
        &s,
        json!({"anonymousId": "a-dev", "traits": {"phone": "+55 31 98888-1111"}}),
    );
    identify(&s, json!({"userId": "bee"}));
    identify(
        &s,
        json!({"anonymousId": "d-dev", "traits": {"email": "d@example.com"}}),
    );
    let id_of = |ident: &str| s.customer_by(ident).json()["id"].clone();
    let (a, b, d) = (
        id_of("anonymous_id:a-dev"),
        id_of("user_id:bee"),
        id_of("anonymous_id:d-dev"),
    );
    identify(
        &s,
        json!({"userId": "bee", "traits": {"email": "d@example.com"}}),
    ); // M0: B absorbs D
    identify(
        &s,
        json!({"userId": "bee", "traits": {"phone": "(31) 98888-1111"}}),
    ); // M1: A absorbs B and D
    assert_eq!(id_of("anonymous_id:d-dev"), a);
    let merges: Vec<Value> = s.customer_by("user_id:bee").json()["merges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["action"] == "merge")
        .cloned()
        .collect();
    let m0 = merges.iter().find(|m| m["absorbed_id"] == d).unwrap()["id"].clone();
    let m1 = merges.iter().find(|m| m["absorbed_id"] == b).unwrap()["id"].clone();
    // Undo the older merge first, then the newer one: both must work.
    assert_eq!(
        s.admin("POST", &format!("/api/v1/merges/{m0}/undo"), None)
            .status,
        200
    );
    assert_eq!(id_of("anonymous_id:d-dev"), d);
    let r = s.admin("POST", &format!("/api/v1/merges/{m1}/undo"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (
            id_of("anonymous_id:a-dev"),
            id_of("user_id:bee"),
            id_of("anonymous_id:d-dev")
        ),
        (a, b, d)
    );
}

#[test]
fn the_view_says_where_and_when_identifiers_were_seen_and_keeps_the_latest_traits() {
    let s = Server::start();
    identify(
        &s,
        json!({"userId": "tr-1", "traits": {"plan": "basic", "city": "Recife"}, "timestamp": "2025-01-01T10:00:00Z", "context": {"library": {"name": "analytics.js"}}}),
    );
    identify(
        &s,
        json!({"userId": "tr-1", "traits": {"plan": "gold"}, "timestamp": "2025-03-01T10:00:00Z"}),
    );
    // A late, older message must not overwrite the newer value.
    identify(
        &s,
        json!({"userId": "tr-1", "traits": {"plan": "trial"}, "timestamp": "2024-12-01T10:00:00Z"}),
    );
    let c = s.customer_by("user_id:tr-1").json();
    assert_eq!(c["traits"]["plan"]["value"], "gold");
    assert_eq!(
        c["traits"]["plan"]["source"], "website",
        "the write key's name is the source"
    );
    assert_eq!(c["traits"]["city"]["value"], "Recife");
    let uid = c["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "user_id")
        .unwrap()
        .clone();
    assert_eq!(
        uid["first_seen"], "2024-12-01T10:00:00.000Z",
        "first seen moves back for older events"
    );
    assert_eq!(uid["last_seen"], "2025-03-01T10:00:00.000Z");
    assert_eq!(uid["last_channel"], "server");
    assert_eq!(uid["first_source"], "website");
    assert_eq!(c["first_seen"], "2024-12-01T10:00:00.000Z");
    assert_eq!(c["counts"]["by_channel"]["browser"], 1);
    assert_eq!(c["counts"]["by_channel"]["server"], 2);
}
