//! One conversation: the thread, the reply box (within the channel's reply window, or a template),
//! notes, and the actions on it.

use super::*;

/// Delivery ticks as a WhatsApp user reads them, with a class for colour and a title in words.
pub(super) fn ticks(status: Option<DeliveryStatus>) -> String {
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

pub(super) fn message_html(t: &Texts, c: &ConversationView, m: &MessageView) -> String {
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

pub(super) async fn conversation_page(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, Failure> {
    render_conversation(&s, &who, id, None).await
}

/// The conversation page, with `error` (a refused reply, say) shown below the thread.
pub(super) async fn render_conversation(
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

/// New messages of a conversation as HTML, for the page's live updates.
pub(super) async fn messages_fragment(
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
pub(super) struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
    note: Option<String>,
}

pub(super) async fn reply(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<ReplyForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&f.csrf)?;
    let note = f.note.is_some();
    let sent = crate::routes::conversations::post_message(
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
pub(super) struct TemplateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    params: String,
}

pub(super) async fn send_template(
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
    let template = crate::routes::conversations::Template {
        name: f.name.trim().to_string(),
        language: f.language.trim().to_string(),
        params,
    };
    let sent = crate::routes::conversations::post_message(
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

pub(super) async fn act(
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
    let _ = crate::routes::conversations::change(&s, id, change).await?;
    Ok(Redirect::to(&format!("/app/c/{id}")).into_response())
}
