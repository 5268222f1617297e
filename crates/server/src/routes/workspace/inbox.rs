//! The inbox: the conversation list with its filters, and the stream that tells open pages
//! something changed.

use super::*;

#[derive(Deserialize, Default)]
pub(super) struct InboxQuery {
    #[serde(default)]
    view: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    team: String,
}

fn option(value: &str, label: &str, current: &str) -> String {
    let selected = if value == current { " selected" } else { "" };
    format!(
        "<option value=\"{}\"{selected}>{}</option>",
        esc(value),
        esc(label)
    )
}

pub(super) async fn inbox(
    State(s): State<SharedState>,
    who: SignedIn,
    Query(q): Query<InboxQuery>,
) -> Result<Response, Failure> {
    let t = texts_for(&who.user.language);
    let mut filter = ConversationFilter {
        limit: 200,
        channel_kind: concierge_types::conversation::ChannelKind::parse(&q.channel),
        status: concierge_types::conversation::ConversationStatus::parse(&q.status),
        language: (!q.language.is_empty()).then(|| q.language.clone()),
        team: (!q.team.is_empty()).then(|| q.team.clone()),
        ..Default::default()
    };
    match q.view.as_str() {
        "mine" => {
            filter.owner_kind = Some("agent".into());
            filter.owner_id = Some(who.user.email.clone());
            filter.unresolved = filter.status.is_none();
        }
        "unassigned" | "bot" | "queue" => {
            filter.owner_kind = Some(q.view.clone());
            filter.unresolved = filter.status.is_none();
        }
        _ => {}
    }
    filter.visible_to = agent_view(&s, &who).await?;
    let list = s.store.conversations(filter).await?;
    let ids: Vec<i64> = list.iter().map(|c| c.id).collect();
    let unread: std::collections::HashMap<i64, u32> = s
        .store
        .unread(who.user.id, ids.clone())
        .await?
        .into_iter()
        .collect();
    let turns = s.store.conversation_turns(ids).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut rows = String::new();
    for (c, turns) in list.iter().zip(&turns) {
        let state = concierge_desk::sla::evaluate(&s.config.sla, &facts(c, turns), now);
        let badge = match unread.get(&c.id) {
            Some(n) => format!(
                " <span class=\"unread\" title=\"{n} {u}\" aria-label=\"{n} {u}\">{n}</span>",
                u = t.unread
            ),
            None => String::new(),
        };
        rows.push_str(&format!(
            "<tr data-href=\"/app/c/{id}\"{cls}><td>{icon}</td><td dir=\"auto\"><a href=\"/app/c/{id}\">{contact}</a>{badge}</td><td>{status}</td>\
             <td>{owner}</td><td>{sla}</td><td dir=\"auto\" class=\"preview\">{preview}</td><td>{updated}</td></tr>",
            id = c.id,
            cls = if unread.contains_key(&c.id) { " class=\"has-unread\"" } else { "" },
            icon = channel_icon(c.channel_kind),
            contact = esc(c.contact_name.as_deref().unwrap_or(&c.thread)),
            status = t.status(c.status),
            owner = esc(&owner_text(&c.owner)),
            sla = sla_badge(t, &state, now),
            preview = esc(c.last_message_preview.as_deref().unwrap_or("")),
            updated = time(c.updated_at),
        ));
    }
    let table = if list.is_empty() {
        format!("<p>{}</p>", t.empty)
    } else {
        let head: String = t.columns[..4]
            .iter()
            .chain(std::iter::once(&"SLA"))
            .chain(&t.columns[4..])
            .map(|c| format!("<th>{c}</th>"))
            .collect();
        format!("<table id=\"inbox\"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    };
    let views: String = ["", "mine", "unassigned", "bot", "queue"]
        .iter()
        .zip(t.filters)
        .map(|(v, label)| {
            let current = if *v == q.view {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<a href=\"/app?view={v}\"{current}>{label}</a>")
        })
        .collect();
    let channels: String = std::iter::once(option("", t.any, &q.channel))
        .chain(
            concierge_types::conversation::ChannelKind::ALL
                .iter()
                .map(|k| option(k.as_str(), channel_name(*k), &q.channel)),
        )
        .collect();
    let statuses: String = std::iter::once(option("", t.any, &q.status))
        .chain(
            ["open", "pending", "snoozed", "resolved"]
                .iter()
                .enumerate()
                .map(|(i, v)| option(v, t.statuses[i], &q.status)),
        )
        .collect();
    let languages: String = [
        ("", t.any),
        ("pt", "Português"),
        ("en", "English"),
        ("es", "Español"),
    ]
    .iter()
    .map(|(v, l)| option(v, l, &q.language))
    .collect();
    let teams: String = std::iter::once(option("", t.any, &q.team))
        .chain(
            s.store
                .teams()
                .await?
                .iter()
                .map(|x| option(&x.name, &x.name, &q.team)),
        )
        .collect();
    let form = format!(
        "<form class=\"filters\" method=\"get\" action=\"/app\"><input type=\"hidden\" name=\"view\" value=\"{view}\">\
         <label>{cl} <select name=\"channel\">{channels}</select></label>\
         <label>{sl} <select name=\"status\">{statuses}</select></label>\
         <label>{ll} <select name=\"language\">{languages}</select></label>\
         <label>{tl} <select name=\"team\">{teams}</select></label>\
         <button type=\"submit\">{filter}</button></form>",
        view = esc(&q.view),
        cl = t.channel_l,
        sl = t.status_l,
        ll = t.language_l,
        tl = t.team_l,
        filter = t.filter,
    );
    let (last, changed) = s.store.desk_mark().await?;
    let body = format!(
        "{top}<main data-live=\"inbox\" data-after=\"{last}\" data-changed=\"{changed}\"><h1>{inbox}</h1>\
         <nav class=\"filters\">{views}</nav>{form}{table}<p class=\"help\">{help}</p></main>\
         <script src=\"/assets/app.js\"></script>",
        top = top(t, &who),
        inbox = t.inbox,
        help = t.shortcuts_help,
    );
    Ok(page(StatusCode::OK, shell(t, t.inbox, &body)))
}

#[derive(Deserialize)]
pub(super) struct Marks {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    changed: i64,
}

/// `message` when a message arrives anywhere, `conversation` when a conversation changes owner
/// or status; the page then fetches what it shows.
pub(super) async fn events(
    State(s): State<SharedState>,
    who: SignedIn,
    Query(q): Query<Marks>,
) -> Response {
    let token = who.token_hash;
    let started = std::time::Instant::now();
    let state = (s, (q.after, q.changed), token, started);
    let stream = futures_util::stream::unfold(
        state,
        |(s, (mut after, mut changed), token, mut checked)| async move {
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
                let event = match s.store.desk_mark().await {
                    Ok((last, _)) if last > after => {
                        after = last;
                        Event::default().event("message").data(last.to_string())
                    }
                    Ok((_, c)) if c > changed => {
                        changed = c;
                        Event::default().event("conversation").data(c.to_string())
                    }
                    Ok(_) => continue,
                    Err(_) => return None,
                };
                return Some((
                    Ok::<_, std::convert::Infallible>(event),
                    (s, (after, changed), token, checked),
                ));
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
