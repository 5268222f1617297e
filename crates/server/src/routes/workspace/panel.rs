//! The customer panel beside a conversation.

use super::*;

/// Who the customer is, across channels: identifiers, traits, consent, the merges that formed
/// them (supervisors and admins may undo one), their other conversations and their history
/// (orders, store visits, sign-ups…), so nobody has to ask what the customer already told us.
pub(super) async fn customer_panel(
    s: &SharedState,
    who: &SignedIn,
    view: Option<&concierge_store::AgentView>,
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
            if view.is_some_and(|v| !v.sees(&o)) {
                // Another team's: that it exists and where, not what was said.
                out.push_str(&format!(
                    "<li>{} · {} <small>{}</small></li>",
                    esc(o.channel_kind.as_str()),
                    esc(o.status.as_str()),
                    t.other_team
                ));
                continue;
            }
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
pub(super) struct UndoForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: i64,
}

pub(super) async fn undo_merge(
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
