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
mod inbox;
mod panel;
mod sign_in;
mod texts;

use admin::*;
use conversation::*;
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
struct After {
    #[serde(default)]
    after: i64,
}
