//! One conversation: the thread, the reply box (within the channel's reply window, or a template),
//! notes, and the actions on it.

use super::*;
use crate::routes::conversations::Reply;

/// What an agent may see (`None` for supervisors and admins, who see everything).
pub(super) async fn agent_view(
    s: &SharedState,
    who: &SignedIn,
) -> Result<Option<concierge_store::AgentView>, Failure> {
    if who.user.role >= Role::Supervisor {
        return Ok(None);
    }
    let mut view = concierge_store::AgentView {
        user_id: who.user.id,
        email: who.user.email.clone(),
        teams: Vec::new(),
        teammates: Vec::new(),
    };
    for team in s.store.teams().await? {
        if team.members.iter().any(|m| m.user_id == who.user.id) {
            view.teammates
                .extend(team.members.into_iter().map(|m| m.email));
            view.teams.push(team.name);
        }
    }
    Ok(Some(view))
}

/// The conversation, or the not-found answer: also for one this person may not see, so its
/// existence is not given away.
pub(super) async fn conversation_or_404(
    s: &SharedState,
    who: &SignedIn,
    id: i64,
) -> Result<ConversationView, Failure> {
    Ok(visible_conversation(s, who, id).await?.0)
}

/// [`conversation_or_404`] with what the agent may see (`None` for supervisors), for pages that
/// check more than this one conversation.
async fn visible_conversation(
    s: &SharedState,
    who: &SignedIn,
    id: i64,
) -> Result<(ConversationView, Option<concierge_store::AgentView>), Failure> {
    let c = s
        .store
        .conversation(id)
        .await?
        .ok_or_else(crate::routes::conversations::not_found)?;
    let view = agent_view(s, who).await?;
    match &view {
        Some(v) if !v.sees(&c) => Err(crate::routes::conversations::not_found()),
        _ => Ok((c, view)),
    }
}

/// Makes `change` for this person. Agents act on what they can see and is theirs, a queue's,
/// the bot's or nobody's; a colleague's conversation is a supervisor's call (take, move, resolve,
/// snooze alike), checked in the same write as the change.
async fn change_by(
    s: &SharedState,
    view: Option<concierge_store::AgentView>,
    id: i64,
    change: ConversationChange,
) -> Result<(), Failure> {
    let Some(view) = view else {
        let _ = crate::routes::conversations::change(s, id, change).await?;
        return Ok(());
    };
    match s.store.change_conversation_as(id, view, change).await? {
        concierge_store::AgentChange::Done(view) => {
            if matches!(view.owner, Owner::Queue(_)) {
                s.messaging.route.notify_one();
            }
            Ok(())
        }
        concierge_store::AgentChange::NotFound => Err(crate::routes::conversations::not_found()),
        concierge_store::AgentChange::Colleague(_) => Err(Failure::new(
            ErrorCode::Forbidden,
            "another agent has this conversation; ask a supervisor to move it",
        )),
    }
}

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
    let text = match &m.content {
        concierge_types::conversation::Content::Media { .. } => {
            attachment(t, &m.content, m.author != Author::Customer)
        }
        other => esc(&other.preview()),
    };
    format!(
        "<article class=\"{class}\" data-id=\"{id}\"><div class=\"meta\">{who}{label} · {at} {ticks}</div>\
         <div class=\"text\" dir=\"auto\">{text}</div></article>",
        id = m.id,
        who = esc(&who),
        at = time(m.created_at),
        ticks = ticks(m.status),
    )
}

/// An attachment: its kind, name, type and size, and a link only to a plain https address or,
/// for a file the brand sent (`ours`), to where we keep it. The file itself is never shown
/// inline.
fn attachment(t: &Texts, c: &concierge_types::conversation::Content, ours: bool) -> String {
    let concierge_types::conversation::Content::Media {
        media,
        media_id,
        url,
        mime_type,
        filename,
        caption,
        size,
        ..
    } = c
    else {
        return String::new();
    };
    let kind = format!("{media:?}").to_lowercase();
    let name = filename.as_deref().unwrap_or(&kind);
    let mut facts = Vec::new();
    if let Some(m) = mime_type {
        facts.push(esc(m));
    }
    if let Some(n) = size {
        facts.push(if *n >= 1 << 20 {
            format!("{:.1} MB", *n as f64 / f64::from(1u32 << 20))
        } else {
            format!("{} KB", n.div_ceil(1024))
        });
    }
    let label = format!(
        "<span class=\"file-kind\">{}</span> <span class=\"file-name\" dir=\"auto\">{}</span> <small>{}</small>",
        t.attachment,
        esc(name),
        facts.join(" · ")
    );
    let kept = match (media_id, filename) {
        (Some(id), Some(name)) if ours && crate::routes::media::is_id(id) => {
            Some(crate::routes::media::workspace_path(id, name))
        }
        _ => None,
    };
    let link = kept.or_else(|| url.clone().filter(|u| u.starts_with("https://")));
    let file = match link {
        Some(u) => format!(
            "<a class=\"attachment\" href=\"{}\" rel=\"noopener noreferrer nofollow\" target=\"_blank\" download>{label}</a>",
            esc(&u)
        ),
        None => format!("<span class=\"attachment\">{label}</span>"),
    };
    match caption {
        Some(c) => format!("{file}<br>{}", esc(c)),
        None => file,
    }
}

/// The conversation's header: who, where, status, owner, SLA, and the actions. Replaced live
/// when the conversation changes hands or status.
async fn head_html(
    s: &SharedState,
    who: &SignedIn,
    view: Option<&concierge_store::AgentView>,
    t: &Texts,
    c: &ConversationView,
) -> Result<String, Failure> {
    let id = c.id;
    let csrf = esc(&who.csrf);
    let now = chrono::Utc::now().timestamp_millis();
    let turns = s
        .store
        .conversation_turns(vec![id])
        .await?
        .pop()
        .unwrap_or_default();
    let sla = concierge_desk::sla::evaluate(&s.config.sla, &facts(c, &turns), now);
    let status_action = if c.status == concierge_types::conversation::ConversationStatus::Resolved {
        ("reopen", t.reopen)
    } else {
        ("resolve", t.resolve)
    };
    let mut targets = format!("<option value=\"bot\">{}</option>", t.hand_back);
    for team in s.store.teams().await? {
        targets.push_str(&format!(
            "<option value=\"queue:{v}\">{q}: {v}</option>",
            v = esc(&team.name),
            q = t.to_queue
        ));
    }
    for (email, name) in transfer_people(s, who, view).await? {
        targets.push_str(&format!(
            "<option value=\"agent:{v}\">{a}: {n}</option>",
            v = esc(&email),
            n = esc(&name),
            a = t.to_agent
        ));
    }
    let form = |action: &str, inner: &str| {
        format!(
            "<form method=\"post\" action=\"/app/c/{id}/{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{inner}</form>"
        )
    };
    Ok(format!(
        "<div id=\"head\" data-status=\"{status_raw}\"><h1 dir=\"auto\">{icon} {contact} <small>{status} · {owner}{team}</small> {badge}</h1>\
         <div class=\"actions\">{take}{status_btn}{pending}{transfer}{snooze}</div></div>",
        status_raw = c.status.as_str(),
        icon = channel_icon(c.channel_kind),
        contact = esc(c.contact_name.as_deref().unwrap_or(&c.thread)),
        status = t.status(c.status),
        owner = esc(&owner_text(&c.owner)),
        team = c
            .team
            .as_deref()
            .map(|x| format!(" · {}", esc(x)))
            .unwrap_or_default(),
        badge = sla_badge(t, &sla, now),
        take = form(
            "assign-me",
            &format!("<button type=\"submit\" id=\"assign-me\">{}</button>", t.assign_me)
        ),
        status_btn = form(
            status_action.0,
            &format!("<button type=\"submit\" id=\"status-action\">{}</button>", status_action.1)
        ),
        pending = form(
            "pending",
            &format!("<button type=\"submit\" class=\"secondary\">{}</button>", t.pending_l)
        ),
        transfer = form(
            "transfer",
            &format!(
                "<select name=\"to\" aria-label=\"{tr}\">{targets}</select><button type=\"submit\" class=\"secondary\">{tr}</button>",
                tr = t.transfer
            )
        ),
        snooze = form(
            "snooze",
            &format!(
                "<select name=\"hours\" aria-label=\"{sn}\"><option value=\"1\">1 h</option><option value=\"4\">4 h</option>\
                 <option value=\"24\">24 h</option><option value=\"72\">72 h</option><option value=\"0\">{until}</option></select>\
                 <button type=\"submit\" class=\"secondary\">{sn}</button>",
                sn = t.snooze,
                until = t.until_reply
            )
        ),
    ))
}

/// The header alone, for live updates.
pub(super) async fn head_fragment(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, Failure> {
    let t = texts_for(&who.user.language);
    let (c, view) = visible_conversation(&s, &who, id).await?;
    Ok(page(
        StatusCode::OK,
        head_html(&s, &who, view.as_ref(), t, &c).await?,
    ))
}

/// Canned responses to insert, the conversation's language first.
async fn canned_picker(
    s: &SharedState,
    t: &Texts,
    c: &ConversationView,
) -> Result<String, Failure> {
    let mut all = s.store.canned_responses().await?;
    if all.is_empty() {
        return Ok(String::new());
    }
    let lang = c.language.clone().unwrap_or_else(|| "pt".into());
    all.sort_by_key(|r| !r.language.starts_with(lang.as_str()));
    let items: String = all
        .iter()
        .map(|r| {
            format!(
                "<li><button type=\"button\" class=\"canned-item\" data-text=\"{text}\" title=\"{text}\">/{short} <small>{lang}</small></button></li>",
                text = esc(&r.text),
                short = esc(&r.shortcut),
                lang = esc(&r.language)
            )
        })
        .collect();
    Ok(format!(
        "<details class=\"canned\" id=\"canned\"><summary>{}</summary><ul>{items}</ul></details>",
        t.canned
    ))
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
    let (c, view) = visible_conversation(s, who, id).await?;
    let messages = s.store.messages(id, None, 500).await?.unwrap_or_default();
    let thread: String = messages.iter().map(|m| message_html(t, &c, m)).collect();
    let last = messages.last().map(|m| m.id).unwrap_or(0);
    if last > 0 {
        s.store.mark_read(who.user.id, id, last).await?;
    }
    let panel = customer_panel(s, who, view.as_ref(), t, &c).await?;
    let head = head_html(s, who, view.as_ref(), t, &c).await?;
    let canned = canned_picker(s, t, &c).await?;
    let (_, changed) = s.store.desk_mark().await?;
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
    let body = format!(
        "{top}<main class=\"conversation\" data-live=\"conversation\" data-id=\"{id}\" data-after=\"{last}\" data-changed=\"{changed}\">\
         <section class=\"thread\"><p><a href=\"/app\">← {back}</a></p>{head}\
         <div id=\"messages\">{thread}</div>{notice}\
         <form class=\"reply\" method=\"post\" action=\"/app/c/{id}/reply\" enctype=\"multipart/form-data\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
           {canned}<textarea name=\"text\" dir=\"auto\" maxlength=\"8000\" aria-label=\"{reply}\" placeholder=\"{reply}\"></textarea>\
           <div class=\"row\">{file}\
           <label><input type=\"checkbox\" name=\"note\" value=\"1\"> {note}</label>\
           <button type=\"submit\">{send}</button></div></form><p class=\"help\">{help}</p></section>\
         <aside class=\"customer\"><h2>{customer_l}</h2>{panel}</aside></main><script src=\"/assets/app.js\"></script>",
        top = top(t, who),
        back = t.back,
        help = t.shortcuts_help,
        reply = t.reply,
        file = if crate::routes::conversations::sends_files(c.channel_kind) {
            format!(
                "<label class=\"file\">{} <input type=\"file\" name=\"file\" accept=\"{}\"><small>{}</small></label>",
                t.attach,
                concierge_channels::media::accepted_extensions(),
                t.attach_help
            )
        } else {
            String::new()
        },
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
    let c = conversation_or_404(&s, &who, id).await?;
    let messages = s
        .store
        .messages(id, Some(q.after), 200)
        .await?
        .unwrap_or_default();
    if let Some(m) = messages.last() {
        s.store.mark_read(who.user.id, id, m.id).await?;
    }
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

/// The reply form's fields: a plain form, or `multipart/form-data` when it carries a file.
struct ReplyInput {
    csrf: String,
    text: String,
    note: bool,
    file: Option<(String, Vec<u8>)>,
}

async fn read_reply(request: axum::extract::Request) -> Result<ReplyInput, Failure> {
    use axum::extract::FromRequest;
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let Form(f) = Form::<ReplyForm>::from_request(request, &())
            .await
            .map_err(|e| Failure::new(ErrorCode::InvalidRequest, e.body_text()))?;
        return Ok(ReplyInput {
            csrf: f.csrf,
            text: f.text,
            note: f.note.is_some(),
            file: None,
        });
    }
    let broken = |e: axum::extract::multipart::MultipartError| {
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::PayloadTooLarge
        } else {
            ErrorCode::InvalidRequest
        };
        Failure::new(
            code,
            format!("the form could not be read: {}", e.body_text()),
        )
    };
    let mut form = axum::extract::Multipart::from_request(request, &())
        .await
        .map_err(|e| Failure::new(ErrorCode::InvalidRequest, e.body_text()))?;
    let mut input = ReplyInput {
        csrf: String::new(),
        text: String::new(),
        note: false,
        file: None,
    };
    while let Some(field) = form.next_field().await.map_err(broken)? {
        match field.name().unwrap_or_default() {
            "csrf" => input.csrf = field.text().await.map_err(broken)?,
            "text" => input.text = field.text().await.map_err(broken)?,
            "note" => input.note = true,
            "file" => {
                let name = field.file_name().unwrap_or_default().to_string();
                let bytes = field.bytes().await.map_err(broken)?;
                // A browser sends an empty part when no file was chosen.
                if !(name.is_empty() && bytes.is_empty()) {
                    input.file = Some((name, bytes.to_vec()));
                }
            }
            _ => {}
        }
    }
    Ok(input)
}

/// A reply, a note, a file, or text and a file: one message where the channel shows text with
/// the file, else two (the text first). Everything is checked before anything is kept, so a
/// refused file sends no text either.
pub(super) async fn reply(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, Failure> {
    use crate::routes::conversations::{caption_fits, prepare_message};
    let f = read_reply(request).await?;
    who.check_csrf(&f.csrf)?;
    let c = conversation_or_404(&s, &who, id).await?;
    let t = texts_for(&who.user.language);
    let sent = async {
        let upload = f
            .file
            .map(|(name, data)| crate::routes::media::accept(&name, data))
            .transpose()?;
        let text = Some(f.text.clone()).filter(|t| !t.trim().is_empty());
        let mut replies = Vec::new();
        match (text, upload) {
            (None, None) => return Err(Failure::new(ErrorCode::InvalidMessage, t.empty_reply)),
            (Some(text), None) => replies.push(Reply::Text(text)),
            (text, Some(upload)) => {
                let (proto, host) = crate::routes::public_base(&s, &headers);
                let base = format!("{proto}://{host}");
                let caption = match text {
                    Some(text) if !caption_fits(c.channel_kind, &upload, &text) => {
                        replies.push(Reply::Text(text));
                        None
                    }
                    text => text,
                };
                replies.push(Reply::File {
                    upload,
                    base,
                    caption,
                });
            }
        }
        let mut prepared = Vec::new();
        for r in replies {
            prepared.push(prepare_message(&s, &c, r, f.note).await?);
        }
        for p in prepared {
            p.commit(
                &s,
                who.user.name.clone(),
                (!f.note).then(|| who.user.email.clone()),
            )
            .await?;
        }
        Ok::<_, Failure>(())
    }
    .await;
    match sent {
        Ok(()) => Ok(Redirect::to(&format!("/app/c/{id}")).into_response()),
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
    conversation_or_404(&s, &who, id).await?;
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
        Reply::Template(template),
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
        "assign-me" => ConversationChange::Assign(Owner::Agent(who.user.email.clone())),
        "resolve" => ConversationChange::Resolve,
        "reopen" => ConversationChange::Reopen,
        "pending" => ConversationChange::Pending,
        _ => return Err(Failure::new(ErrorCode::NotFound, "no such action")),
    };
    change_by(&s, agent_view(&s, &who).await?, id, change).await?;
    Ok(Redirect::to(&format!("/app/c/{id}")).into_response())
}

#[derive(Deserialize)]
pub(super) struct TransferForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

/// Whom this person may hand a conversation to, `(e-mail, name)`: supervisors anyone, agents
/// the people of their own teams (the rest go through a team's queue).
async fn transfer_people(
    s: &SharedState,
    who: &SignedIn,
    view: Option<&concierge_store::AgentView>,
) -> Result<Vec<(String, String)>, Failure> {
    let users = s.store.users().await?;
    Ok(users
        .into_iter()
        .filter(|u| {
            view.is_none_or(|v| u.email == who.user.email || v.teammates.contains(&u.email))
        })
        .map(|u| (u.email, u.name))
        .collect())
}

/// To a team's queue, a person, or back to the bot. Agents move what is theirs or nobody's;
/// a colleague's conversation is a supervisor's call.
pub(super) async fn transfer(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<TransferForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&f.csrf)?;
    let view = agent_view(&s, &who).await?;
    let owner = match f.to.split_once(':') {
        _ if f.to == "bot" => Owner::Bot,
        Some(("queue", q)) if s.store.teams().await?.iter().any(|t| t.name == q) => {
            Owner::Queue(q.to_string())
        }
        Some(("agent", a))
            if transfer_people(&s, &who, view.as_ref())
                .await?
                .iter()
                .any(|(e, _)| e == a) =>
        {
            Owner::Agent(a.to_string())
        }
        _ => {
            return Err(Failure::new(
                ErrorCode::InvalidRequest,
                "transfer to a team's queue, a person, or the bot",
            ))
        }
    };
    change_by(&s, view, id, ConversationChange::Assign(owner)).await?;
    Ok(Redirect::to(&format!("/app/c/{id}")).into_response())
}

#[derive(Deserialize)]
pub(super) struct SnoozeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    hours: u32,
}

/// Out of the way for some hours, or until the customer writes again (`hours` = 0).
pub(super) async fn snooze(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<SnoozeForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&f.csrf)?;
    if f.hours > 24 * 30 {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            "snooze for at most 30 days",
        ));
    }
    let until = (f.hours > 0)
        .then(|| chrono::Utc::now().timestamp_millis() + i64::from(f.hours) * 3_600_000);
    change_by(
        &s,
        agent_view(&s, &who).await?,
        id,
        ConversationChange::Snooze(until),
    )
    .await?;
    Ok(Redirect::to(&format!("/app/c/{id}")).into_response())
}

/// A file we keep, for the people who may see its conversation (private notes' files too).
pub(super) async fn file(
    State(s): State<SharedState>,
    who: SignedIn,
    Path((id, _name)): Path<(String, String)>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let file = crate::routes::media::load(&s, id).await?;
    conversation_or_404(&s, &who, file.conversation_id).await?;
    Ok(crate::routes::media::respond(file, &method, &headers))
}
