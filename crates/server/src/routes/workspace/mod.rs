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

mod admin;
mod conversation;
mod dashboard;
mod desk;
mod inbox;
mod panel;
mod sign_in;
mod texts;

use admin::*;
use conversation::*;
use dashboard::*;
use desk::*;
use inbox::*;
use panel::*;
use sign_in::*;
use texts::*;

const LOGIN_CSRF: &str = "concierge_login_csrf";

const CSS: &str = include_str!("../../../assets/app.css");

const APP_JS: &str = include_str!("../../../assets/app.js");

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/app", get(inbox))
        .route("/app/c/{id}", get(conversation_page))
        .route("/app/c/{id}/messages", get(messages_fragment))
        .route("/app/c/{id}/head", get(head_fragment))
        .route("/app/c/{id}/transfer", post(transfer))
        .route("/app/c/{id}/snooze", post(snooze))
        .route(
            "/app/c/{id}/reply",
            post(reply).layer(axum::extract::DefaultBodyLimit::max(
                concierge_channels::media::MAX_UPLOAD_BYTES + (1 << 20),
            )),
        )
        .route("/app/c/{id}/template", post(send_template))
        .route("/app/files/{id}/{name}", get(file))
        .route("/app/c/{id}/{action}", post(act))
        .route("/app/events", get(events))
        .route("/app/merges/{id}/undo", post(undo_merge))
        .route("/app/admin/users", get(users_page).post(create_user))
        .route("/app/admin/teams", get(teams_page).post(save_team))
        .route("/app/admin/teams/{id}/members", post(set_member))
        .route("/app/admin/canned", get(canned_page).post(save_canned))
        .route("/app/admin/canned/{id}/delete", post(delete_canned))
        .route("/app/dashboard", get(dashboard))
        .route("/app/dashboard/list", get(drill_down))
        .route("/app/dashboard.csv", get(export_csv))
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
        .layer(axum::middleware::from_fn(html_errors))
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

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A time in UTC as text, for attributes.
fn time_text(t: concierge_types::view::Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A time as a `<time>` element: UTC in the page, which the script rewrites in each person's
/// own time zone and language.
fn time(t: concierge_types::view::Timestamp) -> String {
    match chrono::DateTime::from_timestamp_millis(t.0) {
        Some(d) => format!(
            "<time datetime=\"{}\">{}</time>",
            d.format("%Y-%m-%dT%H:%M:%SZ"),
            d.format("%Y-%m-%d %H:%M UTC")
        ),
        None => String::new(),
    }
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
    let mut admin = String::new();
    if who.user.role >= Role::Supervisor {
        admin.push_str(&format!(
            "<a href=\"/app/dashboard\">{}</a><a href=\"/app/admin/canned\">{}</a>",
            t.dashboard, t.canned
        ));
    }
    if who.user.role == Role::Admin {
        admin.push_str(&format!(
            "<a href=\"/app/admin/users\">{}</a><a href=\"/app/admin/teams\">{}</a>",
            t.users, t.teams
        ));
    }
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

/// Errors on pages a browser opens are pages too, in the browser's language; scripts and API
/// clients, which don't ask for HTML, keep the JSON shape.
pub(crate) async fn html_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let t = browser_texts(req.headers());
    let r = next.run(req).await;
    let json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if !wants_html || !json || !(r.status().is_client_error() || r.status().is_server_error()) {
        return r;
    }
    let status = r.status();
    let retry = r.headers().get(header::RETRY_AFTER).cloned();
    let bytes = axum::body::to_bytes(r.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<concierge_types::ApiError>(&bytes)
        .map(|e| e.message)
        .unwrap_or_default();
    let body = format!(
        "<main class=\"error-page\"><h1>{}</h1><p role=\"alert\" dir=\"auto\">{}</p><p><a href=\"/app\">← {}</a></p></main>",
        t.went_wrong,
        esc(&message),
        t.back
    );
    let mut out = page(status, shell(t, t.went_wrong, &body));
    if let Some(v) = retry {
        out.headers_mut().insert(header::RETRY_AFTER, v);
    }
    out
}

#[derive(Deserialize)]
struct After {
    #[serde(default)]
    after: i64,
}
