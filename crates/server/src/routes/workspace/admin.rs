//! Admin pages: people and teams.

use super::*;

pub(super) async fn users_page(
    State(s): State<SharedState>,
    who: SignedIn,
) -> Result<Response, Failure> {
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
pub(super) struct NewUserForm {
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

pub(super) async fn create_user(
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

pub(super) fn csv_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().chars().take(50).collect::<String>())
        .filter(|x| !x.is_empty())
        .take(50)
        .collect()
}

pub(super) async fn teams_page(
    State(s): State<SharedState>,
    who: SignedIn,
) -> Result<Response, Failure> {
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
pub(super) struct TeamForm {
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

pub(super) async fn save_team(
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
pub(super) struct MemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: i64,
    capacity: Option<u32>,
    remove: Option<String>,
}

pub(super) async fn set_member(
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

/// Canned responses: supervisors and admins keep them; agents insert them with `/`.
pub(super) async fn canned_page(
    State(s): State<SharedState>,
    who: SignedIn,
) -> Result<Response, Failure> {
    who.require(Role::Supervisor)?;
    let t = texts_for(&who.user.language);
    let csrf = esc(&who.csrf);
    let rows: String = s
        .store
        .canned_responses()
        .await?
        .iter()
        .map(|r| {
            format!(
                "<tr><td>/{}</td><td>{}</td><td dir=\"auto\" class=\"preview\">{}</td><td>\
                 <form method=\"post\" action=\"/app/admin/canned/{}/delete\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <button type=\"submit\" class=\"secondary\">{}</button></form></td></tr>",
                esc(&r.shortcut),
                esc(&r.language),
                esc(&r.text),
                r.id,
                t.delete
            )
        })
        .collect();
    let body = format!(
        "{top}<main><h1>{canned}</h1><table><thead><tr><th>{short}</th><th>{lang}</th><th>{text}</th><th></th></tr></thead><tbody>{rows}</tbody></table>\
         <h2>{create}</h2><form class=\"new-user\" method=\"post\" action=\"/app/admin/canned\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>{short} <input name=\"shortcut\" required maxlength=\"40\" pattern=\"[A-Za-z0-9_\\-]+\"></label>\
         <label>{lang} <select name=\"language\"><option>pt-BR</option><option>en</option><option>es</option></select></label>\
         <label>{text} <textarea name=\"text\" required maxlength=\"2000\" dir=\"auto\"></textarea></label>\
         <button type=\"submit\">{create}</button></form></main>",
        top = top(t, &who),
        canned = t.canned,
        short = t.shortcut,
        lang = t.language_l,
        text = t.text_l,
        create = t.create,
    );
    Ok(page(StatusCode::OK, shell(t, t.canned, &body)))
}

#[derive(Deserialize)]
pub(super) struct CannedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    shortcut: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    text: String,
}

pub(super) async fn save_canned(
    State(s): State<SharedState>,
    who: SignedIn,
    Form(f): Form<CannedForm>,
) -> Result<Response, Failure> {
    who.require(Role::Supervisor)?;
    who.check_csrf(&f.csrf)?;
    let shortcut = f.shortcut.trim().trim_start_matches('/').to_lowercase();
    let text = f.text.trim().to_string();
    let valid_shortcut = !shortcut.is_empty()
        && shortcut.len() <= 40
        && shortcut
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_shortcut || text.is_empty() || text.chars().count() > 2000 {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            "a canned response needs a shortcut (letters, digits, - and _) and a text of at most 2,000 characters",
        ));
    }
    let language = match f.language.as_str() {
        "en" | "es" => f.language.clone(),
        _ => "pt-BR".to_string(),
    };
    s.store
        .save_canned_response(shortcut, language, text)
        .await?;
    Ok(Redirect::to("/app/admin/canned").into_response())
}

pub(super) async fn delete_canned(
    State(s): State<SharedState>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Failure> {
    who.require(Role::Supervisor)?;
    who.check_csrf(&f.csrf)?;
    s.store.delete_canned_response(id).await?;
    Ok(Redirect::to("/app/admin/canned").into_response())
}
