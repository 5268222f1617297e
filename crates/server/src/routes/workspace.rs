//! The workspace in the browser, server-rendered: sign in and out, and the inbox. Every value
//! that comes from a customer or a person is escaped; pages run no inline script (see the
//! Content-Security-Policy in [`crate::session::page`]).

use crate::error::Failure;
use crate::session::{
    self, cookie, esc, page, set_cookie, token_hash, verify_password, SignedIn, COOKIE,
    MAX_FAILURES, SESSION_MS, THROTTLE_WINDOW_MS,
};
use crate::SharedState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use concierge_store::ConversationFilter;
use serde::Deserialize;
use serde_json::json;

const LOGIN_CSRF: &str = "concierge_login_csrf";
const CSS: &str = include_str!("../../assets/app.css");

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/app", get(inbox))
        .route("/api/v1/me", get(me))
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
    let key = format!("email:{email}");
    let since = now - THROTTLE_WINDOW_MS;
    if s.store.login_failures(&key, since).await? >= MAX_FAILURES {
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
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let Some((user, _)) = found.filter(|_| ok) else {
        s.store.login_failure(&key, now, since).await?;
        return again(StatusCode::UNAUTHORIZED, t.wrong, &email);
    };
    s.store.clear_login_failures(&key).await?;
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

async fn inbox(State(s): State<SharedState>, who: SignedIn) -> Result<Response, Failure> {
    let t = texts_for(&who.user.language);
    let list = s
        .store
        .conversations(ConversationFilter {
            limit: 100,
            ..Default::default()
        })
        .await?;
    let mut rows = String::new();
    for c in &list {
        let owner = match &c.owner {
            concierge_types::conversation::Owner::Unassigned => "—".to_string(),
            concierge_types::conversation::Owner::Bot => "bot".to_string(),
            concierge_types::conversation::Owner::Queue(q) => format!("{q} ⧗"),
            concierge_types::conversation::Owner::Agent(a) => a.clone(),
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td dir=\"auto\">{}</td><td>{}</td><td>{}</td><td dir=\"auto\">{}</td><td>{}</td></tr>",
            esc(c.channel_kind.as_str()),
            esc(c.contact_name.as_deref().unwrap_or(&c.thread)),
            esc(c.status.as_str()),
            esc(&owner),
            esc(c.last_message_preview.as_deref().unwrap_or("")),
            esc(serde_json::to_value(c.updated_at).ok().as_ref().and_then(|v| v.as_str()).unwrap_or("")),
        ));
    }
    let table = if list.is_empty() {
        format!("<p>{}</p>", t.empty)
    } else {
        let head: String = t.columns.iter().map(|c| format!("<th>{c}</th>")).collect();
        format!("<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    };
    let body = format!(
        "<header><strong>Concierge</strong><span class=\"who\">{name} · {role}</span>\
         <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\">{sign_out}</button></form></header><main><h1>{inbox}</h1>{table}</main>",
        name = esc(&who.user.name),
        role = who.user.role.as_str(),
        csrf = esc(&who.csrf),
        sign_out = t.sign_out,
        inbox = t.inbox,
    );
    Ok(page(StatusCode::OK, shell(t, t.inbox, &body)))
}
