//! Signing in to the workspace over plain HTTP, as a browser would: the sign-in form and its
//! CSRF cookie, wrong passwords, throttling, the session cookie, the inbox with hostile customer
//! text, signing out.

use crate::channels::{connect, eventually, meta_post, whatsapp_config, whatsapp_text_at};
use crate::helpers::{bin, http, urlencode, Response, Server};
use std::io::Write;
use std::process::{Command, Stdio};

const PASSWORD: &str = "uma senha bem longa";

fn create_user(s: &Server, email: &str, role: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(bin())
        .args([
            "users",
            "create",
            "--email",
            email,
            "--name",
            "Carla <b>Lima</b>",
            "--role",
            role,
            "--data-dir",
        ])
        .arg(&s.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

fn set_cookies(r: &Response) -> Vec<&str> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn cookie_value<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    set_cookies(r)
        .into_iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
}

/// The sign-in page's token: `(cookie, form field)`.
fn login_tokens(addr: &str) -> (String, String) {
    let r = http(addr, "GET", "/login", &[("Accept-Language", "en")], b"");
    assert_eq!(r.status, 200);
    let cookie = cookie_value(&r, "concierge_login_csrf")
        .unwrap()
        .to_string();
    let html = r.text();
    let field = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    assert_eq!(cookie, field);
    (cookie, field)
}

fn sign_in(s: &Server, email: &str, password: &str) -> Response {
    sign_in_at(&s.addr, email, password)
}

/// Signs in through the form on the server at `addr`.
fn sign_in_at(addr: &str, email: &str, password: &str) -> Response {
    let (cookie, csrf) = login_tokens(addr);
    let body = format!(
        "email={}&password={}&csrf={csrf}",
        urlencode(email),
        urlencode(password)
    );
    http(
        addr,
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &format!("concierge_login_csrf={cookie}")),
            ("Accept-Language", "en"),
        ],
        body.as_bytes(),
    )
}

/// Posts a form with the session cookie `jar` (`body` carries its own `csrf`).
fn post_form(s: &Server, jar: &str, path: &str, body: &[u8]) -> Response {
    s.request(
        "POST",
        path,
        &[
            ("Cookie", jar),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body,
    )
}

/// Signs in; returns the `Cookie` header value of the session.
fn jar_of(s: &Server, email: &str) -> String {
    let r = sign_in(s, email, PASSWORD);
    let token = cookie_value(&r, "concierge_session")
        .unwrap_or_else(|| panic!("{email} could not sign in: {}", r.text()));
    format!("concierge_session={token}")
}

/// The session's CSRF token, as scripts get it.
fn csrf_of(s: &Server, jar: &str) -> String {
    s.request("GET", "/api/v1/me", &[("Cookie", jar)], b"")
        .json()["csrf"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn sign_in_inbox_and_sign_out() {
    let s = Server::start();
    let out = create_user(&s, "Carla@Example.com", "agent", PASSWORD);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Same e-mail again (any case), or a short password: refused.
    assert!(!create_user(&s, "carla@example.com", "agent", PASSWORD)
        .status
        .success());
    assert!(!create_user(&s, "x@example.com", "agent", "short")
        .status
        .success());

    // Not signed in: pages send to the sign-in form, the API answers 401.
    let r = s.request("GET", "/app", &[], b"");
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    assert_eq!(s.request("GET", "/api/v1/me", &[], b"").status, 401);

    // A form without its token (another site posting it) is refused.
    let r = s.request(
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!(
            "email=carla%40example.com&password={}&csrf=x",
            urlencode(PASSWORD)
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 403, "{}", r.text());

    let r = sign_in(&s, "carla@example.com", "wrong password!");
    assert_eq!(r.status, 401);
    assert!(r.text().contains("Wrong e-mail or password"));
    assert!(cookie_value(&r, "concierge_session").is_none());

    let r = sign_in(&s, "CARLA@example.com", PASSWORD);
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/app")),
        "{}",
        r.text()
    );
    let set = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("concierge_session="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let token = cookie_value(&r, "concierge_session").unwrap().to_string();
    let jar = format!("concierge_session={token}");

    let me = s
        .request("GET", "/api/v1/me", &[("Cookie", &jar)], b"")
        .json();
    assert_eq!(me["user"]["email"], "carla@example.com");
    assert_eq!(me["user"]["role"], "agent");
    let csrf = me["csrf"].as_str().unwrap().to_string();

    // A customer writes something hostile; the inbox shows it as text.
    let (wa, _) = connect(&s, "whatsapp", whatsapp_config("http://127.0.0.1:9"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    assert_eq!(
        meta_post(&s, &wa, &whatsapp_text_at(now, "wamid.evil", evil)),
        200
    );
    let page = eventually("the conversation in the inbox", || {
        let r = s.request("GET", "/app", &[("Cookie", &jar)], b"");
        assert_eq!(r.status, 200);
        let html = r.text();
        html.contains("<tr data-href=\"/app/c/").then_some(r)
    });
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = page.text();
    assert!(
        !html.contains("<script>alert") && !html.contains("<img src=x"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    // The person's own name is escaped too.
    assert!(html.contains("Carla &lt;b&gt;Lima&lt;/b&gt;"), "{html}");

    // Signing out needs the session's token; then the cookie signs nobody in.
    let r = post_form(&s, &jar, "/logout", b"csrf=nope");
    assert_eq!(r.status, 403);
    let r = post_form(&s, &jar, "/logout", format!("csrf={csrf}").as_bytes());
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    assert_eq!(
        s.request("GET", "/api/v1/me", &[("Cookie", &jar)], b"")
            .status,
        401
    );
}

#[test]
fn repeated_wrong_passwords_lock_the_account_for_a_while() {
    let s = Server::start();
    assert!(create_user(&s, "ana@example.com", "admin", PASSWORD)
        .status
        .success());
    for _ in 0..5 {
        assert_eq!(
            sign_in(&s, "ana@example.com", "not the password").status,
            401
        );
    }
    // Even the right password waits now.
    let r = sign_in(&s, "ana@example.com", PASSWORD);
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("900"));
    assert!(cookie_value(&r, "concierge_session").is_none());
    // Another account is not affected.
    assert!(create_user(&s, "bia@example.com", "supervisor", PASSWORD)
        .status
        .success());
    assert_eq!(sign_in(&s, "bia@example.com", PASSWORD).status, 303);
    // Unknown e-mails get the same answer as wrong passwords.
    let r = sign_in(&s, "nobody@example.com", PASSWORD);
    assert_eq!(r.status, 401);
    assert!(r.text().contains("Wrong e-mail or password"));
}

const FILE_NAME: &str = "nota fiscal nº 123.pdf";
const FILE_BODY: &str = "%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

#[test]
fn an_agent_works_a_whatsapp_conversation_in_chromium() {
    use crate::channels::FakeProvider;
    let chromium = crate::helpers::chromium();
    let provider = FakeProvider::start(vec![
        (
            200,
            r#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.AGENT1"}]}"#,
        ),
        (
            200,
            r#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.AGENT2"}]}"#,
        ),
    ]);
    let s = Server::start();
    assert!(create_user(&s, "carla@example.com", "agent", PASSWORD)
        .status
        .success());
    let (wa, _) = connect(&s, "whatsapp", whatsapp_config(&provider.url));
    let shots = crate::helpers::workspace().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let reply = "Oi! Já estou vendo seu pedido.";
    let mut command = Command::new("node");
    command
        .arg(crate::tracking::node_modules().join("workspace.mjs"))
        .arg(format!("http://{}", s.addr))
        .env("CHROMIUM", &chromium)
        .env("EMAIL", "carla@example.com")
        .env("PASSWORD", PASSWORD)
        .env("CONTACT", "Test Name")
        .env("EVIL", evil)
        .env("REPLY", reply)
        .env("FILE_NAME", FILE_NAME)
        .env("FILE_BODY", FILE_BODY)
        .env("CAPTION", "Segue a nota fiscal.")
        .env("SHOTS", &shots);
    let mut driver = crate::helpers::Driver::spawn(command);
    let mut expect = |marker: &str| driver.expect(marker);
    expect("SIGNED_IN");
    // Only now does the customer write: the open inbox must show it live.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(
        meta_post(&s, &wa, &whatsapp_text_at(now, "wamid.live1", evil)),
        200
    );
    expect("LIVE_OK");
    expect("ESCAPED_OK");
    let list = s.admin("GET", "/api/v1/conversations", None).json();
    let id = list["conversations"][0]["id"].as_i64().unwrap();
    let r = s.admin(
        "POST",
        &format!("/api/v1/conversations/{id}/assign"),
        Some(&serde_json::json!({"agent": "carla@example.com"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    expect("ASSIGNED_LIVE");
    expect("REPLIED");
    // The reply reached the provider, with the agent's words.
    let sent = eventually("the reply at the provider", || {
        provider
            .requests()
            .into_iter()
            .find(|r| String::from_utf8_lossy(&r.body).contains("Já estou vendo"))
    });
    assert!(sent.path.ends_with("/messages"), "{}", sent.path);
    expect("FILE_REFUSED");
    expect("FILE_SENT");
    // The file went to WhatsApp as a document with its name and a link the provider can fetch,
    // and only the real one did.
    let file_sends: Vec<serde_json::Value> = eventually("the file at the provider", || {
        let sends: Vec<serde_json::Value> = provider
            .requests()
            .iter()
            .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .filter(|b| b["type"] != "text")
            .collect();
        (!sends.is_empty()).then_some(sends)
    });
    assert_eq!(file_sends.len(), 1, "{file_sends:?}");
    let document = &file_sends[0]["document"];
    assert_eq!(document["filename"], FILE_NAME, "{document}");
    assert_eq!(document["caption"], "Segue a nota fiscal.", "{document}");
    let link = document["link"].as_str().unwrap();
    let path = link
        .strip_prefix(&format!("http://{}", s.addr))
        .unwrap_or_else(|| panic!("{link} is not on this server"));
    let fetched = crate::helpers::http(&s.addr, "GET", path, &[], b"");
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, FILE_BODY.as_bytes());
    assert_eq!(fetched.header("content-type"), Some("application/pdf"));
    assert_eq!(fetched.header("x-content-type-options"), Some("nosniff"));
    assert!(fetched
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment;")));
    // An address that is not a kept file's is not found, in the API's error shape.
    let missing = crate::helpers::http(
        &s.addr,
        "GET",
        "/media/0123456789abcdef0123456789abcdef/x.pdf",
        &[],
        b"",
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "attachment_not_found");
    expect("RESOLVED");
    expect("OK");
    driver.finish();
    assert!(shots.join("inbox.png").exists() && shots.join("conversation.png").exists());
}

#[test]
fn an_agent_cannot_open_admin_pages() {
    let s = Server::start();
    assert!(create_user(&s, "agent@example.com", "agent", PASSWORD)
        .status
        .success());
    assert!(create_user(&s, "admin@example.com", "admin", PASSWORD)
        .status
        .success());
    let jar = |email: &str| jar_of(&s, email);
    let agent = jar("agent@example.com");
    let r = s.request("GET", "/app/admin/users", &[("Cookie", &agent)], b"");
    assert_eq!(r.status, 403, "{}", r.text());
    let admin = jar("admin@example.com");
    let r = s.request("GET", "/app/admin/users", &[("Cookie", &admin)], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("agent@example.com"));
    // The admin creates a user in the page; the form needs the session's token.
    let csrf = csrf_of(&s, &admin);
    let form = format!(
        "csrf={csrf}&name=Davi&email=davi%40example.com&password={}&role=supervisor&language=en",
        urlencode(PASSWORD)
    );
    let r = post_form(&s, &admin, "/app/admin/users", form.as_bytes());
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(sign_in(&s, "davi@example.com", PASSWORD).status, 303);
    // The agent can't, even with their own valid token.
    let agent_csrf = csrf_of(&s, &agent);
    let body = format!(
        "csrf={agent_csrf}&name=X&email=x%40example.com&password={}&role=admin",
        urlencode(PASSWORD)
    );
    let r = post_form(&s, &agent, "/app/admin/users", body.as_bytes());
    assert_eq!(r.status, 403);
}

#[test]
fn a_closed_reply_window_is_explained_and_offers_a_template() {
    use crate::channels::{conversations, fixture, messages};
    let s = Server::start();
    assert!(create_user(&s, "carla@example.com", "agent", PASSWORD)
        .status
        .success());
    let jar = jar_of(&s, "carla@example.com");
    let csrf = csrf_of(&s, &jar);
    // The fixture's message is from 2023: WhatsApp's 24 hours are long gone.
    let (wa, _) = connect(&s, "whatsapp", whatsapp_config("http://127.0.0.1:9"));
    assert_eq!(
        meta_post(&s, &wa, &fixture("whatsapp/text_message.json")),
        200
    );
    let id = eventually("the conversation", || {
        conversations(&s, "").first().cloned()
    })["id"]
        .as_i64()
        .unwrap();
    let form = |path: &str, body: String| {
        s.request(
            "POST",
            &format!("/app/c/{id}/{path}"),
            &[
                ("Cookie", &jar),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept-Language", "en"),
            ],
            body.as_bytes(),
        )
    };
    let r = form("reply", format!("csrf={csrf}&text=oi"));
    assert_eq!(r.status, 422, "{}", r.text());
    let html = r.text();
    // The channel's own reason, and the workspace's explanation in the user's language.
    assert!(html.contains("window closed at 2023-10-12"), "{html}");
    assert!(
        html.contains("janela de resposta deste canal está fechada"),
        "{html}"
    );
    assert!(
        html.contains("action=\"/app/c/") && html.contains("/template\""),
        "{html}"
    );
    let r = form(
        "template",
        format!("csrf={csrf}&name=order_update&language=pt_BR&params=AUR-1%7C28%2F11"),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let last = messages(&s, id).last().cloned().unwrap();
    assert_eq!(last["author"], "agent");
    assert!(
        last["content"].to_string().contains("order_update"),
        "{last}"
    );
}

#[test]
fn the_customer_panel_shows_every_channel_and_lets_a_supervisor_undo_a_merge() {
    use crate::channels::{conversations, fixture};
    let s = Server::start();
    assert!(create_user(&s, "agent@example.com", "agent", PASSWORD)
        .status
        .success());
    assert!(create_user(&s, "sup@example.com", "supervisor", PASSWORD)
        .status
        .success());
    // The website knows a signed-up customer who bought something…
    for (path, body) in [
        (
            "/v1/identify",
            serde_json::json!({"userId": "u-9", "traits": {"email": "dana@example.com", "name": "Dana"},
            "context": {"consent": {"categoryPreferences": {"marketing": true}}}}),
        ),
        (
            "/v1/track",
            serde_json::json!({"userId": "u-9", "event": "Order Completed", "properties": {"order_id": "AUR-4242", "total": 99.9}}),
        ),
    ] {
        assert_eq!(s.track(path, &body).status, 200);
    }
    // …who writes on WhatsApp (a new profile), then tells the website their phone: one person.
    let (wa, _) = connect(&s, "whatsapp", whatsapp_config("http://127.0.0.1:9"));
    assert_eq!(
        meta_post(&s, &wa, &fixture("whatsapp/text_message.json")),
        200
    );
    let id = eventually("the conversation", || {
        conversations(&s, "").first().cloned()
    })["id"]
        .as_i64()
        .unwrap();
    let r = s.track(
        "/v1/identify",
        &serde_json::json!({"userId": "u-9", "traits": {"phone": "+972 98-765-4321"}}),
    );
    assert_eq!(r.status, 200);
    let jar = |email: &str| jar_of(&s, email);
    let agent = jar("agent@example.com");
    let page = s
        .request("GET", &format!("/app/c/{id}"), &[("Cookie", &agent)], b"")
        .text();
    for want in [
        "dana@example.com",
        "AUR-4242",
        "Order Completed",
        "whatsapp_id",
        "Dana",
    ] {
        assert!(page.contains(want), "the panel lacks {want}: {page}");
    }
    assert!(!page.contains("/undo\""), "agents may not undo merges");
    let sup = jar("sup@example.com");
    let page = s
        .request("GET", &format!("/app/c/{id}"), &[("Cookie", &sup)], b"")
        .text();
    let undo = page
        .split("action=\"/app/merges/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no undo for the supervisor: {page}"))
        .to_string();
    let csrf = csrf_of(&s, &sup);
    // An agent's token can't undo it either.
    let agent_csrf = csrf_of(&s, &agent);
    let post = |jar: &str, csrf: &str| {
        post_form(
            &s,
            jar,
            &format!("/app/merges/{undo}/undo"),
            format!("csrf={csrf}&back={id}").as_bytes(),
        )
    };
    assert_eq!(post(&agent, &agent_csrf).status, 403);
    let r = post(&sup, &csrf);
    assert_eq!(r.status, 303, "{}", r.text());
    let page = s
        .request("GET", &format!("/app/c/{id}"), &[("Cookie", &sup)], b"")
        .text();
    assert!(
        !page.contains("AUR-4242"),
        "after the undo the website's order is someone else's: {page}"
    );
}

#[test]
fn handed_off_conversations_go_round_robin_to_the_team_within_capacity() {
    use crate::bot::{conversation_of, wa_text, whatsapp_with_bot};
    let (_provider, s, wa) = whatsapp_with_bot();
    for email in ["ana@example.com", "bia@example.com", "boss@example.com"] {
        let role = if email.starts_with("boss") {
            "admin"
        } else {
            "agent"
        };
        assert!(create_user(&s, email, role, PASSWORD).status.success());
    }
    let admin = jar_of(&s, "boss@example.com");
    let csrf = csrf_of(&s, &admin);
    let form = |path: &str, body: String| {
        let r = post_form(&s, &admin, path, body.as_bytes());
        assert_eq!(r.status, 303, "{path}: {}", r.text());
    };
    // The starter bot hands Portuguese conversations to the "atendimento" queue: that team.
    form(
        "/app/admin/teams",
        format!("csrf={csrf}&name=atendimento&languages=pt-BR&channels=whatsapp&topics="),
    );
    let page = s
        .request("GET", "/app/admin/teams", &[("Cookie", &admin)], b"")
        .text();
    let team = page
        .split("/app/admin/teams/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    for user in [1, 2] {
        form(
            &format!("/app/admin/teams/{team}/members"),
            format!("csrf={csrf}&user={user}&capacity=1"),
        );
    }
    let phones = ["5511911110001", "5511911110002", "5511911110003"];
    for p in phones {
        assert_eq!(
            meta_post(
                &s,
                &wa,
                &wa_text(p, &format!("wamid.rr{p}"), "quero falar com um atendente")
            ),
            200
        );
    }
    let owners = |s: &Server| -> Vec<serde_json::Value> {
        phones
            .iter()
            .map(|p| conversation_of(s, p)["owner"].clone())
            .collect()
    };
    let got = eventually("two assignments", || {
        let o = owners(&s);
        (o.iter().filter(|o| o["kind"] == "agent").count() == 2).then_some(o)
    });
    let agents: Vec<&str> = got
        .iter()
        .filter_map(|o| o["id"].as_str())
        .filter(|id| id.contains('@'))
        .collect();
    assert!(
        agents.contains(&"ana@example.com") && agents.contains(&"bia@example.com"),
        "{got:?}"
    );
    let waiting = got
        .iter()
        .position(|o| o["kind"] == "queue")
        .expect("one waits: capacity 1 each");
    // Ana finishes hers: the waiting one goes to her.
    let ana = got
        .iter()
        .position(|o| o["id"] == "ana@example.com")
        .unwrap();
    let ana_conv = conversation_of(&s, phones[ana])["id"].as_i64().unwrap();
    let r = s.admin(
        "POST",
        &format!("/api/v1/conversations/{ana_conv}/resolve"),
        None,
    );
    assert_eq!(r.status, 200);
    eventually("the waiting one to reach Ana", || {
        (conversation_of(&s, phones[waiting])["owner"]["id"] == "ana@example.com").then_some(())
    });
}

#[test]
fn an_agent_sees_their_teams_work_and_cannot_take_a_colleagues_conversation() {
    use crate::channels::{conversations, fixture};
    let s = Server::start();
    for (email, role) in [
        ("ana@example.com", "agent"),
        ("bia@example.com", "agent"),
        ("sup@example.com", "admin"),
        ("caio@example.com", "agent"),
    ] {
        assert!(create_user(&s, email, role, PASSWORD).status.success());
    }
    // Ana and Bia are one team; Caio is another's.
    let admin = jar_of(&s, "sup@example.com");
    let admin_csrf = csrf_of(&s, &admin);
    let form = |path: &str, body: String| {
        let r = post_form(
            &s,
            &admin,
            path,
            format!("csrf={admin_csrf}&{body}").as_bytes(),
        );
        assert_eq!(r.status, 303, "{path}: {}", r.text());
    };
    form(
        "/app/admin/teams",
        "name=vendas&languages=&channels=&topics=".into(),
    );
    form(
        "/app/admin/teams",
        "name=trocas&languages=&channels=&topics=".into(),
    );
    for (team, user) in [(1, 1), (1, 2), (2, 4)] {
        form(
            &format!("/app/admin/teams/{team}/members"),
            format!("user={user}&capacity=5"),
        );
    }
    let (wa, _) = connect(&s, "whatsapp", whatsapp_config("http://127.0.0.1:9"));
    assert_eq!(
        meta_post(&s, &wa, &fixture("whatsapp/text_message.json")),
        200
    );
    let id = eventually("the conversation", || {
        conversations(&s, "").first().cloned()
    })["id"]
        .as_i64()
        .unwrap();
    let act = |email: &str, action: &str, extra: &str| {
        let jar = jar_of(&s, email);
        let csrf = csrf_of(&s, &jar);
        post_form(
            &s,
            &jar,
            &format!("/app/c/{id}/{action}"),
            format!("csrf={csrf}{extra}").as_bytes(),
        )
        .status
    };
    let take = |email: &str| act(email, "assign-me", "");
    assert_eq!(take("ana@example.com"), 303);
    assert_eq!(take("bia@example.com"), 403);
    // Nor may she resolve, snooze or move it.
    assert_eq!(act("bia@example.com", "resolve", ""), 403);
    assert_eq!(act("bia@example.com", "snooze", "&hours=4"), 403);
    assert_eq!(act("bia@example.com", "transfer", "&to=bot"), 403);
    // Bia sees her teammate's conversation; Caio, of another team, doesn't: not in his inbox, and
    // its page, messages and actions are "not found" to him.
    let get = |email: &str, path: &str| {
        let jar = jar_of(&s, email);
        s.request("GET", path, &[("Cookie", &jar)], b"")
    };
    let page = format!("/app/c/{id}");
    let bia_page = get("bia@example.com", &page);
    assert_eq!(bia_page.status, 200);
    // Agents hand over to the people of their own teams; the rest go through a queue.
    assert!(bia_page.text().contains("value=\"agent:ana@example.com\""));
    assert!(!bia_page.text().contains("value=\"agent:caio@example.com\""));
    assert!(get("bia@example.com", "/app").text().contains(&page));
    assert_eq!(get("caio@example.com", &page).status, 404);
    assert_eq!(
        get("caio@example.com", &format!("{page}/messages?after=0")).status,
        404
    );
    assert!(!get("caio@example.com", "/app").text().contains(&page));
    assert_eq!(act("caio@example.com", "reply", "&text=oi"), 404);
    // In his team's queue, it is his to see, and no longer Bia's.
    form(&format!("/app/c/{id}/transfer"), "to=queue:trocas".into());
    let caio_page = get("caio@example.com", &page);
    assert_eq!(caio_page.status, 200);
    assert!(!caio_page.text().contains("value=\"agent:ana@example.com\""));
    assert_eq!(
        act("caio@example.com", "transfer", "&to=agent:bia@example.com"),
        400,
        "not a teammate of Caio's"
    );
    assert!(get("caio@example.com", "/app").text().contains(&page));
    assert_eq!(get("bia@example.com", &page).status, 404);
    assert_eq!(take("sup@example.com"), 303, "a supervisor may move it");
}

/// `concierge demo` on a fresh folder: the logins it prints work, the supervisor's dashboard
/// draws its charts and a bar drills down to as many conversations as it says, an agent sees
/// the inbox with SLA badges but not the dashboard, and opens a conversation by keyboard.
#[test]
fn the_demo_starts_and_its_dashboard_renders_charts() {
    use std::io::{BufRead, BufReader};
    let chromium = crate::helpers::chromium();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let mut child = Command::new(bin())
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "demo",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let child = Kill(child);
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .trim_end_matches("/login")
        .to_string();
    let mut logins = std::collections::HashMap::new();
    for _ in 0..6 {
        let line = lines.next().unwrap().unwrap();
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts.len(), 4, "{line}");
        assert_eq!(parts[0], "login:", "{line}");
        logins
            .entry(parts[1].to_string())
            .or_insert_with(|| format!("{}:{}", parts[2], parts[3]));
    }
    assert!(
        logins.contains_key("admin")
            && logins.contains_key("supervisor")
            && logins.contains_key("agent")
    );

    // The CSV export has one row per conversation of the period, with the header.
    let addr = url.trim_start_matches("http://");
    let (email, password) = logins["supervisor"].split_once(':').unwrap();
    let signed = sign_in_at(addr, email, password);
    let jar = format!(
        "concierge_session={}",
        cookie_value(&signed, "concierge_session").unwrap()
    );
    let r = http(
        addr,
        "GET",
        "/app/dashboard.csv?days=30",
        &[("Cookie", &jar)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let csv = r.text();
    assert!(csv.starts_with("conversation_id,channel,contact"), "{csv}");
    assert!(csv.lines().count() > 100, "{} lines", csv.lines().count());

    // A second demo on the same folder is refused rather than mixed into it.
    let again = Command::new(bin())
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "demo",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("fresh data folder"));

    let shots = crate::helpers::workspace().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(crate::tracking::node_modules().join("demo.mjs"))
        .arg(&url)
        .env("CHROMIUM", &chromium)
        .env("SUPERVISOR", &logins["supervisor"])
        .env("AGENT", &logins["agent"])
        .env("SHOTS", &shots)
        .output()
        .expect("run node tests/clients/demo.mjs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.lines().any(|l| l == "OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in ["DASHBOARD_OK", "DRILL_OK", "INBOX_OK", "CONVERSATION_OK"] {
        assert!(stdout.contains(step), "{stdout}");
    }
    drop(child);
}

/// With no bot, a new conversation goes to the queue of the team whose skills fit it: the
/// language read from the customer's message, the channel. Canned responses are kept by
/// supervisors (not agents) and offered in the reply box; the inbox filters by team.
#[test]
fn without_a_bot_conversations_go_to_the_team_whose_skills_fit() {
    use crate::bot::{conversation_of, wa_text};
    let s = Server::start();
    let (wa, _) = connect(&s, "whatsapp", whatsapp_config("http://127.0.0.1:9"));
    for (email, role) in [("boss@example.com", "admin"), ("ana@example.com", "agent")] {
        assert!(create_user(&s, email, role, PASSWORD).status.success());
    }
    let admin = jar_of(&s, "boss@example.com");
    let csrf = csrf_of(&s, &admin);
    let form = |jar: &str, path: &str, body: String| {
        s.request(
            "POST",
            path,
            &[
                ("Cookie", jar),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "text/html"),
            ],
            body.as_bytes(),
        )
    };
    for (name, languages) in [("brasil", "pt-BR"), ("international", "en, es")] {
        let r = form(
            &admin,
            "/app/admin/teams",
            format!(
                "csrf={csrf}&name={name}&languages={}&channels=whatsapp&topics=",
                urlencode(languages)
            ),
        );
        assert_eq!(r.status, 303, "{}", r.text());
    }
    let messages = [
        (
            "5511922220001",
            "Hello, my package never arrived, can you help me please?",
        ),
        (
            "5511922220002",
            "Olá, meu pacote não chegou ainda, vocês podem me ajudar?",
        ),
    ];
    for (phone, text) in messages {
        assert_eq!(
            meta_post(&s, &wa, &wa_text(phone, &format!("wamid.sk{phone}"), text)),
            200
        );
    }
    for ((phone, _), team) in messages.iter().zip(["international", "brasil"]) {
        let c = eventually("placed by skills", || {
            let c = conversation_of(&s, phone);
            (c["owner"]["kind"] == "queue").then_some(c)
        });
        assert_eq!(c["owner"]["id"], team, "{c}");
        assert_eq!(c["team"], team, "{c}");
        assert!(c["handed_at"].is_string(), "{c}");
    }
    let inbox = s
        .request("GET", "/app?team=international", &[("Cookie", &admin)], b"")
        .text();
    assert!(
        inbox.contains("5511922220001") || inbox.contains("Test Name"),
        "{inbox}"
    );
    assert_eq!(inbox.matches("<tr data-href=").count(), 1, "{inbox}");

    // Ana works in both teams (she is user 2): their conversations are hers to see.
    for team in [1, 2] {
        let r = form(
            &admin,
            &format!("/app/admin/teams/{team}/members"),
            format!("csrf={csrf}&user=2&capacity=1"),
        );
        assert_eq!(r.status, 303, "{}", r.text());
    }

    // Canned responses: an agent may not keep them, and is told so on a page, not in JSON.
    let agent = jar_of(&s, "ana@example.com");
    let agent_csrf = csrf_of(&s, &agent);
    let r = form(
        &agent,
        "/app/admin/canned",
        format!("csrf={agent_csrf}&shortcut=oi&language=pt-BR&text=Ol%C3%A1"),
    );
    assert_eq!(r.status, 403);
    assert!(r.text().contains("error-page"), "{}", r.text());
    let r = form(
        &admin,
        "/app/admin/canned",
        format!(
            "csrf={csrf}&shortcut=prazo&language=pt-BR&text={}",
            urlencode("Entregamos em até <b>3 dias</b> úteis.")
        ),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let bad = form(
        &admin,
        "/app/admin/canned",
        format!("csrf={csrf}&shortcut=no%20spaces&language=pt-BR&text=x"),
    );
    assert_eq!(bad.status, 400);
    let id = conversation_of(&s, "5511922220002")["id"].as_i64().unwrap();
    let page = s
        .request("GET", &format!("/app/c/{id}"), &[("Cookie", &agent)], b"")
        .text();
    assert!(page.contains("/prazo"), "{page}");
    assert!(page.contains("até &lt;b&gt;3 dias&lt;/b&gt;"), "{page}");
    // Opening the conversation marked it read: no unread badge for this agent any more.
    let inbox = s.request("GET", "/app", &[("Cookie", &agent)], b"").text();
    let row = inbox
        .split("<tr ")
        .find(|r| r.contains(&format!("/app/c/{id}\"")))
        .unwrap();
    assert!(!row.contains("class=\"unread\""), "{row}");
    let other = inbox
        .split("<tr ")
        .find(|r| r.contains("/app/c/") && !r.contains(&format!("/app/c/{id}\"")))
        .unwrap();
    assert!(other.contains("class=\"unread\""), "{other}");
}
