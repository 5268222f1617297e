//! The workspace in the browser, server-rendered: sign in and out, and the inbox. Every value
//! that comes from a customer or a person is escaped; pages run no inline script (see the
//! Content-Security-Policy in [`crate::session::page`]).

use super::{Path, Query};
use crate::error::Failure;
use crate::session::{
    self, cookie, esc, page, set_cookie, token_hash, verify_password, SignedIn, COOKIE,
    MAX_ADDRESS_FAILURES, MAX_FAILURES, SESSION_MS, THROTTLE_WINDOW_MS,
};
use crate::SharedState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use concierge_store::{ConversationChange, ConversationFilter};
use concierge_types::conversation::{Author, ConversationView, DeliveryStatus, MessageView, Owner};
use concierge_types::{ErrorCode, Role};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

const LOGIN_CSRF: &str = "concierge_login_csrf";
const CSS: &str = include_str!("../../assets/app.css");
const APP_JS: &str = include_str!("../../assets/app.js");

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/app", get(inbox))
        .route("/app/c/{id}", get(conversation_page))
        .route("/app/c/{id}/messages", get(messages_fragment))
        .route("/app/c/{id}/reply", post(reply))
        .route("/app/c/{id}/template", post(send_template))
        .route("/app/c/{id}/{action}", post(act))
        .route("/app/events", get(events))
        .route("/app/merges/{id}/undo", post(undo_merge))
        .route("/app/admin/users", get(users_page).post(create_user))
        .route("/app/admin/teams", get(teams_page).post(save_team))
        .route("/app/admin/teams/{id}/members", post(set_member))
        .route("/api/v1/me", get(me))
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    APP_JS,
                )
            }),
        )
        .route(
            "/assets/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }),
        )
}

/// The workspace's texts, pt-BR and English.
struct Texts {
    lang: &'static str,
    sign_in: &'static str,
    email: &'static str,
    password: &'static str,
    wrong: &'static str,
    throttled: &'static str,
    stale: &'static str,
    sign_out: &'static str,
    inbox: &'static str,
    empty: &'static str,
    columns: [&'static str; 6],
    reply: &'static str,
    note: &'static str,
    send: &'static str,
    assign_me: &'static str,
    resolve: &'static str,
    reopen: &'static str,
    customer: &'static str,
    back: &'static str,
    private_note: &'static str,
    users: &'static str,
    create: &'static str,
    name: &'static str,
    role: &'static str,
    filters: [&'static str; 5],
    window_closed: &'static str,
    template: &'static str,
    template_language: &'static str,
    template_params: &'static str,
    consent: &'static str,
    merges: &'static str,
    undo: &'static str,
    history: &'static str,
    other_conversations: &'static str,
    teams: &'static str,
    skills: &'static str,
    members: &'static str,
    capacity: &'static str,
    add: &'static str,
    remove: &'static str,
}

const PT: Texts = Texts {
    lang: "pt-BR",
    sign_in: "Entrar",
    email: "E-mail",
    password: "Senha",
    wrong: "E-mail ou senha incorretos.",
    throttled: "Muitas tentativas. Tente de novo em 15 minutos.",
    stale: "O formulário expirou. Tente de novo.",
    sign_out: "Sair",
    inbox: "Caixa de entrada",
    empty: "Nenhuma conversa ainda.",
    columns: [
        "Canal",
        "Contato",
        "Status",
        "Responsável",
        "Última mensagem",
        "Atualizada",
    ],
    reply: "Responder",
    note: "Nota interna (o cliente não vê)",
    send: "Enviar",
    assign_me: "Assumir",
    resolve: "Resolver",
    reopen: "Reabrir",
    customer: "Cliente",
    back: "Caixa de entrada",
    private_note: "nota interna",
    users: "Usuários",
    create: "Criar",
    name: "Nome",
    role: "Papel",
    filters: ["Todas", "Minhas", "Sem responsável", "Com o bot", "Em fila"],
    window_closed: "A janela de resposta deste canal está fechada: só modelos aprovados podem ser enviados até o cliente escrever de novo.",
    template: "Modelo",
    template_language: "Idioma do modelo",
    template_params: "Parâmetros (separados por |)",
    consent: "Consentimento",
    merges: "Perfis unidos",
    undo: "Desfazer",
    history: "Histórico",
    other_conversations: "Outras conversas",
    teams: "Equipes",
    skills: "Idiomas · canais · assuntos",
    members: "Pessoas",
    capacity: "Capacidade",
    add: "Adicionar",
    remove: "Remover",
};

const EN: Texts = Texts {
    lang: "en",
    sign_in: "Sign in",
    email: "E-mail",
    password: "Password",
    wrong: "Wrong e-mail or password.",
    throttled: "Too many attempts. Try again in 15 minutes.",
    stale: "The form expired. Please try again.",
    sign_out: "Sign out",
    inbox: "Inbox",
    empty: "No conversations yet.",
    columns: [
        "Channel",
        "Contact",
        "Status",
        "Owner",
        "Last message",
        "Updated",
    ],
    reply: "Reply",
    note: "Private note (the customer doesn't see it)",
    send: "Send",
    assign_me: "Take it",
    resolve: "Resolve",
    reopen: "Reopen",
    customer: "Customer",
    back: "Inbox",
    private_note: "private note",
    users: "Users",
    create: "Create",
    name: "Name",
    role: "Role",
    filters: ["All", "Mine", "Unassigned", "With the bot", "In a queue"],
    window_closed: "This channel's reply window is closed: only approved templates can be sent until the customer writes again.",
    template: "Template",
    template_language: "Template language",
    template_params: "Parameters (separated by |)",
    consent: "Consent",
    merges: "Merged profiles",
    undo: "Undo",
    history: "History",
    other_conversations: "Other conversations",
    teams: "Teams",
    skills: "Languages · channels · topics",
    members: "People",
    capacity: "Capacity",
    add: "Add",
    remove: "Remove",
};

fn texts_for(lang: &str) -> &'static Texts {
    if lang.to_ascii_lowercase().starts_with("pt") {
        &PT
    } else {
        &EN
    }
}

/// Portuguese unless the browser prefers another language first.
fn browser_texts(headers: &HeaderMap) -> &'static Texts {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("pt-BR");
    texts_for(accept.split(',').next().unwrap_or("pt-BR").trim())
}

fn shell(t: &Texts, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Concierge</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body>{}</body></html>",
        t.lang,
        esc(title),
        body
    )
}

fn login_form(t: &Texts, csrf: &str, error: Option<&str>, email: &str) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    shell(
        t,
        t.sign_in,
        &format!(
            "<main class=\"login\"><h1>Concierge</h1>{error}<form method=\"post\" action=\"/login\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>{email_l}<input type=\"email\" name=\"email\" value=\"{email}\" autocomplete=\"username\" required autofocus></label>\
             <label>{password_l}<input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
             <button type=\"submit\">{sign_in}</button></form></main>",
            csrf = esc(csrf),
            email_l = t.email,
            email = esc(email),
            password_l = t.password,
            sign_in = t.sign_in,
        ),
    )
}

/// The sign-in form, with a fresh token in a cookie and in the form (double submit): another
/// site cannot sign someone in to an account of its choosing.
async fn login_page(State(s): State<SharedState>, headers: HeaderMap) -> Result<Response, Failure> {
    let csrf = session::random_token()?;
    let secure = session::is_https(&s, &headers);
    let mut r = page(
        StatusCode::OK,
        login_form(browser_texts(&headers), &csrf, None, ""),
    );
    if let Ok(v) = set_cookie(LOGIN_CSRF, &csrf, "/login", 3600, secure, "Strict").parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// A hash of a random password: unknown e-mails are checked against it so that they take as
/// long as known ones.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| session::hash_password("decoy password, never used").unwrap_or_default())
}

async fn login(
    State(s): State<SharedState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, Failure> {
    let t = browser_texts(&headers);
    let again = |status: StatusCode, error: &str, email: &str| -> Result<Response, Failure> {
        let csrf = session::random_token()?;
        let secure = session::is_https(&s, &headers);
        let mut r = page(status, login_form(t, &csrf, Some(error), email));
        if let Ok(v) = set_cookie(LOGIN_CSRF, &csrf, "/login", 3600, secure, "Strict").parse() {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
        Ok(r)
    };
    let email = f.email.trim().to_lowercase();
    let expected = cookie(&headers, LOGIN_CSRF).unwrap_or("");
    if expected.is_empty() || !session::constant_time_eq(expected, &f.csrf) {
        return again(StatusCode::FORBIDDEN, t.stale, &email);
    }
    if email.is_empty() || email.len() > 254 || f.password.len() > 1024 {
        return again(StatusCode::UNAUTHORIZED, t.wrong, &email);
    }
    let now = chrono::Utc::now().timestamp_millis();
    // Per address and e-mail, so nobody elsewhere can lock an account out; and per address, so
    // guesses spread over many e-mails are slowed too. The attempt is counted before the
    // password is checked, in one write, so parallel guesses can't all slip under the limit.
    let address = peer.ip().to_string();
    let key = format!("email:{email}|ip:{address}");
    let address_key = format!("ip:{address}");
    let since = now - THROTTLE_WINDOW_MS;
    let tries = s.store.login_failure(&key, now, since).await?;
    let address_tries = s.store.login_failures(&address_key, since).await?;
    if tries > MAX_FAILURES || address_tries >= MAX_ADDRESS_FAILURES {
        let mut r = again(StatusCode::TOO_MANY_REQUESTS, t.throttled, &email)?;
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("900"));
        return Ok(r);
    }
    let found = s.store.user_credentials(&email).await?;
    let hash = found
        .as_ref()
        .map(|(_, h)| h.clone())
        .unwrap_or_else(|| decoy_hash().to_string());
    let password = f.password;
    let ok = session::with_hashing(move || verify_password(&password, &hash)).await?;
    let Some((user, _)) = found.filter(|_| ok) else {
        s.store.login_failure(&address_key, now, since).await?;
        return again(StatusCode::UNAUTHORIZED, t.wrong, &email);
    };
    s.store.clear_login_failures(&key).await?;
    // A session the browser already had is replaced, not kept alongside.
    if let Some(old) = cookie(&headers, COOKIE) {
        s.store.delete_session(&token_hash(old)).await?;
    }
    let token = session::random_token()?;
    let csrf = session::random_token()?;
    s.store
        .create_session(user.id, token_hash(&token), csrf, now + SESSION_MS)
        .await?;
    let secure = session::is_https(&s, &headers);
    let mut r = Redirect::to("/app").into_response();
    let h = r.headers_mut();
    if let Ok(v) = set_cookie(COOKIE, &token, "/", SESSION_MS / 1000, secure, "Lax").parse() {
        h.append(header::SET_COOKIE, v);
    }
    if let Ok(v) = set_cookie(LOGIN_CSRF, "", "/login", 0, secure, "Strict").parse() {
        h.append(header::SET_COOKIE, v);
    }
    tracing::info!(user = user.id, "signed in");
    Ok(r)
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(s): State<SharedState>,
    who: SignedIn,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&f.csrf)?;
    s.store.delete_session(&who.token_hash).await?;
    let secure = session::is_https(&s, &headers);
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(COOKIE, "", "/", 0, secure, "Lax").parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// Who is signed in, and the CSRF token scripts send back as `X-CSRF-Token`.
async fn me(who: SignedIn) -> Json<serde_json::Value> {
    Json(json!({"user": who.user, "csrf": who.csrf}))
}

fn time(t: concierge_types::view::Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn owner_text(o: &Owner) -> String {
    match o {
        Owner::Unassigned => "—".into(),
        Owner::Bot => "bot".into(),
        Owner::Queue(q) => format!("⧗ {q}"),
        Owner::Agent(a) => a.clone(),
    }
}

/// The top bar every workspace page shares.
fn top(t: &Texts, who: &SignedIn) -> String {
    let admin = if who.user.role == Role::Admin {
        format!(
            "<a href=\"/app/admin/users\">{}</a><a href=\"/app/admin/teams\">{}</a>",
            t.users, t.teams
        )
    } else {
        String::new()
    };
    format!(
        "<header><a href=\"/app\"><strong>Concierge</strong></a>{admin}<span class=\"who\">{name} · {role}</span>\
         <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\">{sign_out}</button></form></header>",
        name = esc(&who.user.name),
        role = who.user.role.as_str(),
        csrf = esc(&who.csrf),
        sign_out = t.sign_out,
    )
}

#[derive(Deserialize)]
struct InboxQuery {
    view: Option<String>,
}

async fn inbox(
    State(s): State<SharedState>,
    who: SignedIn,
    Query(q): Query<InboxQuery>,
) -> Result<Response, Failure> {
    let t = texts_for(&who.user.language);
    let view = q.view.unwrap_or_default();
    let list: Vec<ConversationView> = s
        .store
        .conversations(ConversationFilter {
            limit: 200,
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|c| match view.as_str() {
            "mine" => c.owner == Owner::Agent(who.user.email.clone()),
            "unassigned" => c.owner == Owner::Unassigned,
            "bot" => c.owner == Owner::Bot,
            "queue" => matches!(c.owner, Owner::Queue(_)),
            _ => true,
        })
        .collect();
    let mut rows = String::new();
    for c in &list {
        rows.push_str(&format!(
            "<tr><td>{}</td><td dir=\"auto\"><a href=\"/app/c/{}\">{}</a></td><td>{}</td><td>{}</td><td dir=\"auto\">{}</td><td>{}</td></tr>",
            esc(c.channel_kind.as_str()),
            c.id,
            esc(c.contact_name.as_deref().unwrap_or(&c.thread)),
            esc(c.status.as_str()),
            esc(&owner_text(&c.owner)),
            esc(c.last_message_preview.as_deref().unwrap_or("")),
            time(c.updated_at),
        ));
    }
    let table = if list.is_empty() {
        format!("<p>{}</p>", t.empty)
    } else {
        let head: String = t.columns.iter().map(|c| format!("<th>{c}</th>")).collect();
        format!("<table id=\"inbox\"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    };
    let filters: String = ["", "mine", "unassigned", "bot", "queue"]
        .iter()
        .zip(t.filters)
        .map(|(v, label)| {
            let current = if *v == view {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<a href=\"/app?view={v}\"{current}>{label}</a>")
        })
        .collect();
    let last = s.store.last_message_id().await?;
    let body = format!(
        "{top}<main data-live=\"inbox\" data-after=\"{last}\"><h1>{inbox}</h1><nav class=\"filters\">{filters}</nav>{table}</main>\
         <script src=\"/assets/app.js\"></script>",
        top = top(t, &who),
        inbox = t.inbox,
    );
    Ok(page(StatusCode::OK, shell(t, t.inbox, &body)))
}

/// Delivery ticks as a WhatsApp user reads them, with a class for colour and a title in words.
fn ticks(status: Option<DeliveryStatus>) -> String {
    let (mark, class) = match status {
        Some(DeliveryStatus::Queued) => ("…", "queued"),
        Some(DeliveryStatus::Sent) => ("✓", "sent"),
        Some(DeliveryStatus::Delivered) => ("✓✓", "delivered"),
        Some(DeliveryStatus::Read) => ("✓✓", "read"),
        Some(DeliveryStatus::Failed) => ("!", "failed"),
        _ => return String::new(),
    };
    format!("<span class=\"ticks {class}\" title=\"{class}\">{mark}</span>")
}

fn message_html(t: &Texts, c: &ConversationView, m: &MessageView) -> String {
    let who = match m.author {
        Author::Customer => c.contact_name.clone().unwrap_or_else(|| c.thread.clone()),
        Author::Agent => m.author_name.clone().unwrap_or_else(|| "agent".into()),
        Author::Bot => "bot".into(),
        Author::Brand => "brand".into(),
        Author::System => "system".into(),
    };
    let class = if m.private {
        "msg note"
    } else if m.author == Author::Customer {
        "msg in"
    } else {
        "msg out"
    };
    let label = if m.private {
        format!(" · {}", t.private_note)
    } else {
        String::new()
    };
    format!(
        "<article class=\"{class}\" data-id=\"{id}\"><div class=\"meta\">{who}{label} · {at} {ticks}</div>\
         <div class=\"text\" dir=\"auto\">{text}</div></article>",
        id = m.id,
        who = esc(&who),
        at = time(m.created_at),
        ticks = ticks(m.status),
        text = esc(&m.content.preview()),
    )
}

async fn conversation_page(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, Failure> {
    render_conversation(&s, &who, id, None).await
}

/// The conversation page, with `error` (a refused reply, say) shown below the thread.
async fn render_conversation(
    s: &SharedState,
    who: &SignedIn,
    id: i64,
    error: Option<&Failure>,
) -> Result<Response, Failure> {
    let t = texts_for(&who.user.language);
    let Some(c) = s.store.conversation(id).await? else {
        return Err(Failure::new(
            ErrorCode::ConversationNotFound,
            "no conversation has this id",
        ));
    };
    let messages = s.store.messages(id, None, 500).await?.unwrap_or_default();
    let thread: String = messages.iter().map(|m| message_html(t, &c, m)).collect();
    let last = messages.last().map(|m| m.id).unwrap_or(0);
    let panel = customer_panel(s, who, t, &c).await?;
    let csrf = esc(&who.csrf);
    let window = concierge_channels::reply_window(c.channel_kind);
    let now = chrono::Utc::now().timestamp_millis();
    let closed = matches!(
        window.state(&concierge_channels::SendContext {
            now,
            last_incoming_at: c.last_incoming_at.map(|t| t.0),
        }),
        concierge_channels::WindowState::Closed { .. }
    );
    let mut notice = String::new();
    if let Some(f) = error {
        notice.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            esc(&f.0.message)
        ));
    }
    if closed {
        notice.push_str(&format!("<p class=\"warning\">{}</p>", t.window_closed));
        if window.templates_outside {
            notice.push_str(&format!(
                "<form class=\"template\" method=\"post\" action=\"/app/c/{id}/template\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <label>{tl} <input name=\"name\" required maxlength=\"200\"></label>\
                 <label>{ll} <input name=\"language\" required maxlength=\"20\" value=\"pt_BR\"></label>\
                 <label>{pl} <input name=\"params\" maxlength=\"2000\"></label>\
                 <button type=\"submit\">{send}</button></form>",
                tl = t.template,
                ll = t.template_language,
                pl = t.template_params,
                send = t.send,
            ));
        }
    }
    let status_action = if c.status == concierge_types::conversation::ConversationStatus::Resolved {
        ("reopen", t.reopen)
    } else {
        ("resolve", t.resolve)
    };
    let body = format!(
        "{top}<main class=\"conversation\" data-live=\"conversation\" data-id=\"{id}\" data-after=\"{last}\">\
         <section class=\"thread\"><p><a href=\"/app\">← {back}</a></p>\
         <h1 dir=\"auto\">{contact} <small>{channel} · {status} · {owner}</small></h1>\
         <div class=\"actions\">\
           <form method=\"post\" action=\"/app/c/{id}/assign-me\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\">{assign_me}</button></form>\
           <form method=\"post\" action=\"/app/c/{id}/{sa}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\" id=\"status-action\">{sl}</button></form>\
         </div>\
         <div id=\"messages\">{thread}</div>{notice}\
         <form class=\"reply\" method=\"post\" action=\"/app/c/{id}/reply\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
           <textarea name=\"text\" dir=\"auto\" required maxlength=\"8000\" aria-label=\"{reply}\" placeholder=\"{reply}\"></textarea>\
           <label><input type=\"checkbox\" name=\"note\" value=\"1\"> {note}</label>\
           <button type=\"submit\">{send}</button></form></section>\
         <aside class=\"customer\"><h2>{customer_l}</h2>{panel}</aside></main><script src=\"/assets/app.js\"></script>",
        top = top(t, who),
        back = t.back,
        contact = esc(c.contact_name.as_deref().unwrap_or(&c.thread)),
        channel = esc(c.channel_kind.as_str()),
        status = esc(c.status.as_str()),
        owner = esc(&owner_text(&c.owner)),
        assign_me = t.assign_me,
        sa = status_action.0,
        sl = status_action.1,
        reply = t.reply,
        note = t.note,
        send = t.send,
        customer_l = t.customer,
    );
    let status = error
        .and_then(|f| StatusCode::from_u16(f.0.status).ok())
        .unwrap_or(StatusCode::OK);
    Ok(page(
        status,
        shell(
            t,
            &c.contact_name.clone().unwrap_or(c.thread.clone()),
            &body,
        ),
    ))
}

#[derive(Deserialize)]
struct After {
    #[serde(default)]
    after: i64,
}

/// New messages of a conversation as HTML, for the page's live updates.
async fn messages_fragment(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
    Query(q): Query<After>,
) -> Result<Response, Failure> {
    let t = texts_for(&who.user.language);
    let Some(c) = s.store.conversation(id).await? else {
        return Err(Failure::new(
            ErrorCode::ConversationNotFound,
            "no conversation has this id",
        ));
    };
    let messages = s
        .store
        .messages(id, Some(q.after), 200)
        .await?
        .unwrap_or_default();
    let html: String = messages.iter().map(|m| message_html(t, &c, m)).collect();
    Ok(page(StatusCode::OK, html))
}

#[derive(Deserialize)]
struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
    note: Option<String>,
}

async fn reply(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<ReplyForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&f.csrf)?;
    let note = f.note.is_some();
    let sent = super::conversations::post_message(
        &s,
        id,
        Some(f.text),
        None,
        note,
        who.user.name.clone(),
        (!note).then(|| who.user.email.clone()),
    )
    .await;
    match sent {
        Ok(_) => Ok(Redirect::to(&format!("/app/c/{id}")).into_response()),
        Err(e) => render_conversation(&s, &who, id, Some(&e)).await,
    }
}

#[derive(Deserialize)]
struct TemplateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    params: String,
}

async fn send_template(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<TemplateForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&f.csrf)?;
    let params: Vec<String> = f
        .params
        .split('|')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let template = super::conversations::Template {
        name: f.name.trim().to_string(),
        language: f.language.trim().to_string(),
        params,
    };
    let sent = super::conversations::post_message(
        &s,
        id,
        None,
        Some(template),
        false,
        who.user.name.clone(),
        Some(who.user.email.clone()),
    )
    .await;
    match sent {
        Ok(_) => Ok(Redirect::to(&format!("/app/c/{id}")).into_response()),
        Err(e) => render_conversation(&s, &who, id, Some(&e)).await,
    }
}

async fn act(
    State(s): State<SharedState>,
    who: SignedIn,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&f.csrf)?;
    let change = match action.as_str() {
        "assign-me" => {
            // Agents take what nobody has; taking from a colleague is a supervisor's call.
            if who.user.role < Role::Supervisor {
                let c = s.store.conversation(id).await?.ok_or_else(|| {
                    Failure::new(
                        ErrorCode::ConversationNotFound,
                        "no conversation has this id",
                    )
                })?;
                if matches!(&c.owner, Owner::Agent(a) if *a != who.user.email) {
                    return Err(Failure::new(
                        ErrorCode::Forbidden,
                        "another agent has this conversation; ask a supervisor to move it",
                    ));
                }
            }
            ConversationChange::Assign(Owner::Agent(who.user.email.clone()))
        }
        "resolve" => ConversationChange::Resolve,
        "reopen" => ConversationChange::Reopen,
        _ => return Err(Failure::new(ErrorCode::NotFound, "no such action")),
    };
    let _ = super::conversations::change(&s, id, change).await?;
    Ok(Redirect::to(&format!("/app/c/{id}")).into_response())
}

/// `changed` whenever a message arrives anywhere (the page then fetches what it shows).
async fn events(State(s): State<SharedState>, who: SignedIn, Query(q): Query<After>) -> Response {
    let token = who.token_hash;
    let started = std::time::Instant::now();
    let state = (s, q.after, token, started);
    let stream =
        futures_util::stream::unfold(state, |(s, mut after, token, mut checked)| async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                // A signed-out, expired or disabled user's stream ends (the page then reconnects
                // and is sent to sign in).
                if checked.elapsed() >= Duration::from_secs(30) {
                    checked = std::time::Instant::now();
                    let now = chrono::Utc::now().timestamp_millis();
                    if !matches!(s.store.session(&token, now).await, Ok(Some(_))) {
                        return None;
                    }
                }
                match s.store.last_message_id().await {
                    Ok(last) if last > after => {
                        after = last;
                        let event = Event::default().event("changed").data(last.to_string());
                        return Some((
                            Ok::<_, std::convert::Infallible>(event),
                            (s, after, token, checked),
                        ));
                    }
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
        });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

async fn users_page(State(s): State<SharedState>, who: SignedIn) -> Result<Response, Failure> {
    who.require(Role::Admin)?;
    let t = texts_for(&who.user.language);
    let rows: String = s
        .store
        .users()
        .await?
        .iter()
        .map(|u| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&u.name),
                esc(&u.email),
                u.role.as_str(),
                esc(&u.language)
            )
        })
        .collect();
    let body = format!(
        "{top}<main><h1>{users}</h1><table><thead><tr><th>{name}</th><th>{email}</th><th>{role}</th><th>lang</th></tr></thead><tbody>{rows}</tbody></table>\
         <h2>{create}</h2><form class=\"new-user\" method=\"post\" action=\"/app/admin/users\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>{name}<input name=\"name\" required maxlength=\"100\"></label><label>{email}<input type=\"email\" name=\"email\" required></label>\
         <label>{password}<input type=\"password\" name=\"password\" required minlength=\"10\" autocomplete=\"new-password\"></label>\
         <label>{role}<select name=\"role\"><option>agent</option><option>supervisor</option><option>admin</option></select></label>\
         <label>lang<select name=\"language\"><option>pt-BR</option><option>en</option></select></label>\
         <button type=\"submit\">{create}</button></form></main>",
        top = top(t, &who),
        users = t.users,
        name = t.name,
        email = t.email,
        role = t.role,
        password = t.password,
        create = t.create,
        csrf = esc(&who.csrf),
    );
    Ok(page(StatusCode::OK, shell(t, t.users, &body)))
}

#[derive(Deserialize)]
struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    language: String,
}

async fn create_user(
    State(s): State<SharedState>,
    who: SignedIn,
    Form(f): Form<NewUserForm>,
) -> Result<Response, Failure> {
    who.require(Role::Admin)?;
    who.check_csrf(&f.csrf)?;
    let invalid = |m: &str| Failure::new(ErrorCode::InvalidRequest, m.to_string());
    let name = f.name.trim().chars().take(100).collect::<String>();
    let email = f.email.trim().to_lowercase();
    if name.is_empty() || !email.contains('@') || email.len() > 254 {
        return Err(invalid("a user needs a name and an e-mail address"));
    }
    let role = Role::parse(&f.role).ok_or_else(|| invalid("role is agent, supervisor or admin"))?;
    let language = if f.language == "en" { "en" } else { "pt-BR" }.to_string();
    session::check_password(&f.password).map_err(invalid)?;
    let password = f.password;
    let hash = session::with_hashing(move || session::hash_password(&password))
        .await?
        .map_err(|e| Failure::new(ErrorCode::Internal, e))?;
    s.store
        .create_user(concierge_store::NewUser {
            email,
            name,
            role,
            language,
            password_hash: hash,
        })
        .await?;
    Ok(Redirect::to("/app/admin/users").into_response())
}

/// Who the customer is, across channels: identifiers, traits, consent, the merges that formed
/// them (supervisors and admins may undo one), their other conversations and their history
/// (orders, store visits, sign-ups…), so nobody has to ask what the customer already told us.
async fn customer_panel(
    s: &SharedState,
    who: &SignedIn,
    t: &Texts,
    c: &ConversationView,
) -> Result<String, Failure> {
    let Some(v) = s.store.customer(c.customer_id).await? else {
        return Ok(String::new());
    };
    let mut out = String::from("<ul class=\"ids\">");
    for i in &v.identifiers {
        out.push_str(&format!(
            "<li><span class=\"kind\">{}</span> <span dir=\"auto\">{}</span> <small>{}</small></li>",
            esc(i.kind.as_str()),
            esc(&i.value),
            esc(&i.last_channel)
        ));
    }
    out.push_str("</ul><dl>");
    for (k, tr) in &v.traits {
        let value = tr
            .value
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| tr.value.to_string());
        out.push_str(&format!(
            "<dt>{}</dt><dd dir=\"auto\">{}</dd>",
            esc(k),
            esc(&value)
        ));
    }
    out.push_str("</dl>");
    if !v.consent.is_empty() {
        out.push_str(&format!("<h3>{}</h3><ul class=\"consent\">", t.consent));
        for cs in &v.consent {
            out.push_str(&format!(
                "<li>{} · {} · <strong>{}</strong></li>",
                esc(cs.purpose.as_str()),
                esc(cs.channel.as_str()),
                esc(cs.status.as_str())
            ));
        }
        out.push_str("</ul>");
    }
    let merges: Vec<_> = v
        .merges
        .iter()
        .filter(|m| m.action == concierge_types::view::MergeAction::Merge)
        .collect();
    if !merges.is_empty() {
        out.push_str(&format!("<h3>{}</h3><ul class=\"merges\">", t.merges));
        for m in merges {
            let undo = if who.user.role >= Role::Supervisor && m.related.is_none() {
                format!(
                    "<form method=\"post\" action=\"/app/merges/{}/undo\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                     <input type=\"hidden\" name=\"back\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                    m.id.0,
                    esc(&who.csrf),
                    c.id,
                    t.undo
                )
            } else {
                String::new()
            };
            out.push_str(&format!(
                "<li>{} · {} {undo}</li>",
                esc(&m.reason),
                time(m.created_at)
            ));
        }
        out.push_str("</ul>");
    }
    let others: Vec<ConversationView> = s
        .store
        .conversations(ConversationFilter {
            customer: Some(c.customer_id),
            limit: 20,
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|o| o.id != c.id)
        .collect();
    if !others.is_empty() {
        out.push_str(&format!(
            "<h3>{}</h3><ul class=\"others\">",
            t.other_conversations
        ));
        for o in others {
            out.push_str(&format!(
                "<li><a href=\"/app/c/{}\">{} · {}</a> <span dir=\"auto\">{}</span></li>",
                o.id,
                esc(o.channel_kind.as_str()),
                esc(o.status.as_str()),
                esc(o.last_message_preview.as_deref().unwrap_or(""))
            ));
        }
        out.push_str("</ul>");
    }
    let timeline = s.store.timeline(c.customer_id, None, 100).await?;
    let events: Vec<String> = timeline
        .map(|p| p.events)
        .unwrap_or_default()
        .into_iter()
        // Messages are in the conversations; the rest is what happened elsewhere.
        .filter(|e| !e.name.as_deref().is_some_and(|n| n.starts_with("Message ")))
        .take(15)
        .map(|e| {
            let what = e.name.clone().unwrap_or_else(|| e.kind.clone());
            let props = e.message.get("properties");
            let detail = props
                .and_then(|p| p.get("order_id").or_else(|| p.get("visit_id")))
                .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                .unwrap_or_default();
            format!(
                "<li><span class=\"kind\">{}</span> {} <span dir=\"auto\">{}</span> <small>{}</small></li>",
                time(e.timestamp),
                esc(&what),
                esc(&detail),
                esc(&e.channel)
            )
        })
        .collect();
    if !events.is_empty() {
        out.push_str(&format!(
            "<h3>{}</h3><ul class=\"history\">{}</ul>",
            t.history,
            events.concat()
        ));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct UndoForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: i64,
}

async fn undo_merge(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<UndoForm>,
) -> Result<Response, Failure> {
    who.require(Role::Supervisor)?;
    who.check_csrf(&f.csrf)?;
    s.store.undo_merge(concierge_types::MergeId(id)).await?;
    Ok(Redirect::to(&format!("/app/c/{}", f.back)).into_response())
}

fn csv_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().chars().take(50).collect::<String>())
        .filter(|x| !x.is_empty())
        .take(50)
        .collect()
}

async fn teams_page(State(s): State<SharedState>, who: SignedIn) -> Result<Response, Failure> {
    who.require(Role::Admin)?;
    let t = texts_for(&who.user.language);
    let csrf = esc(&who.csrf);
    let users = s.store.users().await?;
    let user_options: String = users
        .iter()
        .map(|u| {
            format!(
                "<option value=\"{}\">{} ({})</option>",
                u.id,
                esc(&u.name),
                esc(&u.email)
            )
        })
        .collect();
    let mut sections = String::new();
    for team in s.store.teams().await? {
        let members: String = team
            .members
            .iter()
            .map(|m| {
                format!(
                    "<li>{} · {} {} <form method=\"post\" action=\"/app/admin/teams/{}/members\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <input type=\"hidden\" name=\"user\" value=\"{}\"><input type=\"hidden\" name=\"remove\" value=\"1\"><button type=\"submit\">{}</button></form></li>",
                    esc(&m.name),
                    t.capacity,
                    m.capacity,
                    team.id,
                    m.user_id,
                    t.remove
                )
            })
            .collect();
        sections.push_str(&format!(
            "<section class=\"team\"><h2>{name}</h2><p>{skills}: {langs} · {chans} · {topics}</p><h3>{members_l}</h3><ul>{members}</ul>\
             <form method=\"post\" action=\"/app/admin/teams/{id}/members\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <select name=\"user\">{user_options}</select><label>{cap} <input type=\"number\" name=\"capacity\" value=\"5\" min=\"1\" max=\"100\"></label>\
             <button type=\"submit\">{add}</button></form></section>",
            name = esc(&team.name),
            skills = t.skills,
            langs = esc(&team.languages.join(", ")),
            chans = esc(&team.channels.join(", ")),
            topics = esc(&team.topics.join(", ")),
            members_l = t.members,
            id = team.id,
            cap = t.capacity,
            add = t.add,
        ));
    }
    let body = format!(
        "{top}<main><h1>{teams}</h1>{sections}<h2>{create}</h2>\
         <form class=\"new-team\" method=\"post\" action=\"/app/admin/teams\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>{name} <input name=\"name\" required maxlength=\"100\"></label>\
         <label>pt-BR, en, es <input name=\"languages\" maxlength=\"500\"></label>\
         <label>whatsapp, email, webchat… <input name=\"channels\" maxlength=\"500\"></label>\
         <label>order_status, returns_exchanges… <input name=\"topics\" maxlength=\"1000\"></label>\
         <button type=\"submit\">{create}</button></form></main>",
        top = top(t, &who),
        teams = t.teams,
        create = t.create,
        name = t.name,
    );
    Ok(page(StatusCode::OK, shell(t, t.teams, &body)))
}

#[derive(Deserialize)]
struct TeamForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    languages: String,
    #[serde(default)]
    channels: String,
    #[serde(default)]
    topics: String,
}

async fn save_team(
    State(s): State<SharedState>,
    who: SignedIn,
    Form(f): Form<TeamForm>,
) -> Result<Response, Failure> {
    who.require(Role::Admin)?;
    who.check_csrf(&f.csrf)?;
    let name = f.name.trim().chars().take(100).collect::<String>();
    if name.is_empty() {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            "a team needs a name",
        ));
    }
    s.store
        .save_team(
            name,
            csv_list(&f.languages),
            csv_list(&f.channels),
            csv_list(&f.topics),
        )
        .await?;
    Ok(Redirect::to("/app/admin/teams").into_response())
}

#[derive(Deserialize)]
struct MemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: i64,
    capacity: Option<u32>,
    remove: Option<String>,
}

async fn set_member(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(team): Path<i64>,
    Form(f): Form<MemberForm>,
) -> Result<Response, Failure> {
    who.require(Role::Admin)?;
    who.check_csrf(&f.csrf)?;
    let capacity = match (f.remove, f.capacity) {
        (Some(_), _) => None,
        (None, Some(c)) if (1..=100).contains(&c) => Some(c),
        _ => {
            return Err(Failure::new(
                ErrorCode::InvalidRequest,
                "capacity is 1 to 100",
            ))
        }
    };
    if !s.store.set_team_member(team, f.user, capacity).await? {
        return Err(Failure::new(ErrorCode::NotFound, "no such team or user"));
    }
    s.messaging.route.notify_one();
    Ok(Redirect::to("/app/admin/teams").into_response())
}
