//! The inbox: the conversation list with its filters, and the stream that tells open pages
//! something changed.

use super::*;

#[derive(Deserialize)]
pub(super) struct InboxQuery {
    view: Option<String>,
}

pub(super) async fn inbox(
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

/// `changed` whenever a message arrives anywhere (the page then fetches what it shows).
pub(super) async fn events(
    State(s): State<SharedState>,
    who: SignedIn,
    Query(q): Query<After>,
) -> Response {
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
